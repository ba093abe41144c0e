//! Whether each job of a plan is cached, and if not, why: new, its configuration changed (which
//! fields, old and new), an input changed (which job), or its stage's code version changed.
//! The cache remembers the last spec stored under each experiment's job id for this (the
//! planner computes specs; only the runner, which owns the cache, compares them).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::cache::{Cache, Key};
use crate::plan::{Plan, Spec};

/// A job's state before a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    Cached,
    /// Never computed under this id.
    New,
    CodeChanged {
        from: u32,
        to: u32,
    },
    /// Fields of the configuration that differ: `training.length.count: 150 -> 300`.
    ConfigChanged {
        fields: Vec<String>,
    },
    /// The consumed jobs that changed, by id.
    InputChanged {
        jobs: Vec<String>,
    },
    /// Same spec as before, but its entry is gone (pruned, or the run was interrupted).
    Missing,
}

impl Status {
    pub fn describe(&self) -> String {
        match self {
            Status::Cached => "cached".into(),
            Status::New => "new".into(),
            Status::CodeChanged { from, to } => {
                format!("code version of the stage changed ({from} -> {to})")
            }
            Status::ConfigChanged { fields } => {
                format!("configuration changed: {}", fields.join(", "))
            }
            Status::InputChanged { jobs } => format!("input changed: {}", jobs.join(", ")),
            Status::Missing => "not in the cache (pruned, or an earlier run stopped first)".into(),
        }
    }
}

fn index_path(cache: &Cache, experiment: &str, id: &str) -> PathBuf {
    let name = Key::of(&(experiment, id)).0;
    cache.root().join("index").join(format!("{name}.json"))
}

/// Remembers the spec a job id was last computed (or found) with.
pub fn remember(cache: &Cache, experiment: &str, id: &str, spec: &Spec) -> std::io::Result<()> {
    let path = index_path(cache, experiment, id);
    let bytes = serde_json::to_vec(spec).expect("specs serialise");
    if std::fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
        return Ok(());
    }
    crate::fsutil::write_atomic(&path, &bytes)
}

/// Every job's status.
pub fn explain(plan: &Plan, cache: &Cache) -> Vec<Status> {
    let by_key: BTreeMap<&str, &str> = plan
        .jobs
        .iter()
        .map(|j| (j.key.0.as_str(), j.id.as_str()))
        .collect();
    plan.jobs
        .iter()
        .map(|job| {
            if cache.contains(&job.key) {
                return Status::Cached;
            }
            let Some(old) = std::fs::read(index_path(cache, &plan.experiment, &job.id))
                .ok()
                .and_then(|b| serde_json::from_slice::<Spec>(&b).ok())
            else {
                return Status::New;
            };
            if old.version != job.spec.version {
                return Status::CodeChanged {
                    from: old.version,
                    to: job.spec.version,
                };
            }
            let mut fields = vec![];
            differences("", &old.config, &job.spec.config, &mut fields);
            if !fields.is_empty() {
                return Status::ConfigChanged { fields };
            }
            let jobs: Vec<String> = job
                .spec
                .inputs
                .iter()
                .filter(|(role, key)| old.inputs.get(*role) != Some(key))
                .map(|(role, key)| {
                    by_key
                        .get(key.as_str())
                        .map_or_else(|| role.clone(), |id| id.to_string())
                })
                .collect();
            if !jobs.is_empty() {
                return Status::InputChanged { jobs };
            }
            Status::Missing
        })
        .collect()
}

/// Dotted paths where two JSON values differ, with both values when they are short.
fn differences(at: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let none = Value::Null;
                differences(
                    &join(k),
                    a.get(k).unwrap_or(&none),
                    b.get(k).unwrap_or(&none),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&join(&i.to_string()), x, y, out);
            }
        }
        _ if old != new => {
            let short = |v: &Value| {
                let s = v.to_string();
                if s.len() > 40 {
                    format!(
                        "{}...",
                        &s[..s.char_indices().nth(37).map_or(s.len(), |c| c.0)]
                    )
                } else {
                    s
                }
            };
            out.push(format!("{at} {} -> {}", short(old), short(new)));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::differences;
    use serde_json::json;

    #[test]
    fn differences_name_the_changed_fields() {
        let mut out = vec![];
        differences(
            "",
            &json!({"training": {"length": {"count": 150}}, "seed": 1, "data": [1, 2]}),
            &json!({"training": {"length": {"count": 300}}, "seed": 1, "data": [1, 3]}),
            &mut out,
        );
        assert_eq!(out, ["data.1 2 -> 3", "training.length.count 150 -> 300"]);
    }
}
