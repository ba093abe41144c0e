//! Stage 4: the checked program as a graph of content-addressed jobs. Planning is pure: what it
//! knows of the file system (datasets' listings, weights files' sums) it is handed as
//! [`Inputs`], which the runner gathers (`run::inputs`); whether a job is cached is the runner's
//! question too.
//!
//! Every job's key is the SHA-256 of its [`Spec`]: the stage and its code version, the resolved
//! configuration that determines the output, the keys of the jobs it consumes and, for jobs that
//! compute with models, the backend. Names, labels, comments, prices and report settings are not
//! in any spec, so renaming a dataset or reformatting a file reruns nothing, and two attacks on
//! the same victim (in one experiment or two) share its training.

mod key;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use key::{sha256_hex, Key};

use crate::engine::backend::Backend;
use crate::sema::program::{
    Cell, ContentLoss, DataRef, Evaluation, GroundTruth, Program, Training, VictimData, VictimModel,
};

/// Code versions of the stages: bump one when its computation changes, so that its cached
/// results (and everything built on them) are computed again.
pub mod versions {
    // 2: saved weights include the last step's BatchNorm statistics; SRGAN's VGG19 content loss.
    // 3: the fused Adam (PyTorch's operation order). 4: heist's convolution kernels on flex.
    // 5: heist's normalisation kernels; stride-1 input gradients as full convolutions;
    // small images in one product per batch. 6: few-channel layers on small images computed
    // directly; small images' products split in larger blocks. 7: heist's reflection padding.
    pub const VICTIM: u32 = 7;
    // 2: victims answer through heist's convolution kernels on flex. 3: as the victim's 5.
    // 4: as the victim's 6. 5: as the victim's 7.
    pub const QUERIES: u32 = 5;
    // 2: saved weights include the last step's BatchNorm statistics. 3: the fused Adam.
    // 4: heist's convolution kernels on flex. 5: as the victim's 5. 6: as the victim's 6.
    // 7: as the victim's 7.
    pub const SURROGATE: u32 = 7;
    // 2: heist's convolution kernels on flex. 3: as the victim's 5. 4: as the victim's 6.
    // 5: as the victim's 7.
    pub const OUTPUTS: u32 = 5;
    pub const EVALUATE: u32 = 1;
}

/// The job graph of one program, dependencies before dependents.
#[derive(Debug, Clone)]
pub struct Plan {
    pub experiment: String,
    pub backend: Backend,
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// A readable, unique name: `victim/monet`, `surrogate/steal_monet/50%-flip-seed1`.
    pub id: String,
    pub work: Work,
    /// Indices of the jobs whose artefacts this one reads.
    pub deps: Vec<usize>,
    pub key: Key,
    pub spec: Spec,
}

/// What determines a job's output; its hash is the job's key.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Spec {
    pub stage: String,
    pub version: u32,
    pub config: Value,
    /// Keys of the consumed jobs, by role.
    pub inputs: BTreeMap<String, String>,
}

/// What a job computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Work {
    /// Train a victim from its own data: `weights.safetensors`.
    TrainVictim { victim: String },
    /// Send an attack point's query images to the victim: `input-N.png`, `answer-N.png`.
    Query { attack: String, point: usize },
    /// Train the point's surrogate on the answers: `weights.safetensors`.
    TrainSurrogate { attack: String, point: usize },
    /// A model's outputs on a test set: `N.png`.
    Outputs { model: Subject, data: DataRef },
    /// An evaluation's metrics for one model (its cells: A for the victim, B and C for a
    /// surrogate, those with ground truth): values in the entry's meta.
    Evaluate {
        evaluation: String,
        model: Subject,
        cells: Vec<Cell>,
    },
}

/// The model a job is about: the victim of an evaluation, or one attack point's surrogate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Victim(String),
    Surrogate { attack: String, point: usize },
}

impl Work {
    /// The stage name used in `--only` patterns and listings.
    pub fn stage(&self) -> &'static str {
        match self {
            Work::TrainVictim { .. } => "victim",
            Work::Query { .. } => "queries",
            Work::TrainSurrogate { .. } => "surrogate",
            Work::Outputs { .. } => "outputs",
            Work::Evaluate { .. } => "evaluate",
        }
    }
}

/// Why a plan cannot be made: the program needs an input that was not gathered for it.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "internal error: the plan needs {what} `{name}`, which was not gathered before planning"
    )]
    NotGathered { what: &'static str, name: String },
}

/// What the planner knows of the file system, gathered before planning (`run::inputs`): each
/// dataset as its content determines a job's output, each named file's SHA-256.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub datasets: BTreeMap<DataRef, Value>,
    /// By the path as the experiment writes it.
    pub files: BTreeMap<String, String>,
}

/// A file whose bytes enter a key, and what it is (for messages).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NamedFile {
    pub path: String,
    pub what: &'static str,
}

/// The inputs a plan of `program` reads: every dataset (part) and every file it names, for the
/// runner to gather into [`Inputs`].
pub fn needs(program: &Program) -> (BTreeSet<DataRef>, BTreeSet<NamedFile>) {
    let mut data = BTreeSet::new();
    let mut files = BTreeSet::new();
    let training = |t: &Training, files: &mut BTreeSet<NamedFile>| {
        if let Some(ContentLoss::Vgg19 { weights, .. }) = &t.content_loss {
            files.insert(NamedFile {
                path: weights.clone(),
                what: "VGG19 weights",
            });
        }
    };
    for victim in program.victims.values() {
        match &victim.model {
            VictimModel::Trained {
                data: d,
                training: t,
                ..
            } => {
                match d {
                    VictimData::Unpaired { source, style } => {
                        data.insert(source.clone());
                        data.insert(style.clone());
                    }
                    VictimData::Paired { pairs } => {
                        data.insert(pairs.clone());
                    }
                }
                training(t, &mut files);
            }
            VictimModel::Weights { path, .. } => {
                files.insert(NamedFile {
                    path: path.clone(),
                    what: "victim weights",
                });
            }
            VictimModel::Command { .. } | VictimModel::Http { .. } => {}
        }
    }
    for attack in program.attacks.values() {
        data.insert(attack.queries.clone());
        training(&attack.surrogate.training, &mut files);
    }
    for e in program.evaluations.values() {
        data.extend(test_sets(e));
        if let GroundTruth::StyleSet { data: style } = &e.ground_truth {
            data.insert(style.clone());
        }
    }
    (data, files)
}

/// A short, path-safe name of an attack point: `50%-flip-seed1`.
pub fn point_label(program: &Program, attack: &str, point: usize) -> String {
    let p = &program.attacks[attack].points[point];
    let fraction = (p.fraction * 100.0 * 1e6).round() / 1e6;
    format!("{fraction}%-{}-seed{}", p.augmentation, p.seed)
}

struct Builder<'a> {
    program: &'a Program,
    inputs: &'a Inputs,
    backend: Backend,
    jobs: Vec<Job>,
    by_key: BTreeMap<Key, usize>,
    victims: BTreeMap<String, (Value, Vec<usize>)>,
}

impl Builder<'_> {
    /// Adds a job unless one with the same key is there already (shared work).
    fn add(&mut self, id: String, work: Work, deps: Vec<usize>, spec: Spec) -> usize {
        let key = Key::of(&spec);
        if let Some(&i) = self.by_key.get(&key) {
            return i;
        }
        self.jobs.push(Job {
            id,
            work,
            deps,
            key: key.clone(),
            spec,
        });
        self.by_key.insert(key, self.jobs.len() - 1);
        self.jobs.len() - 1
    }

    fn key(&self, job: usize) -> String {
        self.jobs[job].key.0.clone()
    }

    fn data(&mut self, data: &DataRef) -> Result<Value, PlanError> {
        self.inputs
            .datasets
            .get(data)
            .cloned()
            .ok_or_else(|| PlanError::NotGathered {
                what: "dataset",
                name: data_name(data),
            })
    }

    fn file(&self, path: &str) -> Result<String, PlanError> {
        self.inputs
            .files
            .get(path)
            .cloned()
            .ok_or_else(|| PlanError::NotGathered {
                what: "file",
                name: path.to_string(),
            })
    }

    /// The contents of the files a training recipe reads (a perceptual loss's weights) join
    /// its job's configuration: other weights under the same name train another model.
    fn training_files(&mut self, training: &Training, config: &mut Value) -> Result<(), PlanError> {
        if let Some(ContentLoss::Vgg19 { weights, .. }) = &training.content_loss {
            config["content_weights"] = self.file(weights)?.into();
        }
        Ok(())
    }

    /// The victim as its answers depend on it: trained (its job, a dependency), the weights
    /// file's contents, or the external program's address, and the defences on its answers.
    fn victim(&mut self, name: &str) -> Result<(Value, Vec<usize>), PlanError> {
        if let Some(v) = self.victims.get(name) {
            return Ok(v.clone());
        }
        let v = self.describe_victim(name)?;
        self.victims.insert(name.to_string(), v.clone());
        Ok(v)
    }

    /// [`Builder::victim`], computed.
    fn describe_victim(&mut self, name: &str) -> Result<(Value, Vec<usize>), PlanError> {
        let victim = &self.program.victims[name];
        let backend = self.backend.name();
        let (model, deps) = match &victim.model {
            VictimModel::Trained {
                architecture,
                data,
                training,
                seed,
            } => {
                let data = match data {
                    VictimData::Unpaired { source, style } => {
                        json!({"source": self.data(source)?, "style": self.data(style)?})
                    }
                    VictimData::Paired { pairs } => json!({"pairs": self.data(pairs)?}),
                };
                let mut config = json!({
                    "architecture": architecture, "training": training, "seed": seed,
                    "data": data, "backend": backend,
                });
                self.training_files(training, &mut config)?;
                let spec = Spec {
                    stage: "victim".into(),
                    version: versions::VICTIM,
                    config,
                    inputs: BTreeMap::new(),
                };
                let job = self.add(
                    format!("victim/{name}"),
                    Work::TrainVictim {
                        victim: name.to_string(),
                    },
                    vec![],
                    spec,
                );
                // Its key goes in the consumer's inputs.
                (json!({"trained": true, "backend": backend}), vec![job])
            }
            VictimModel::Weights { architecture, path } => {
                let sha = self.file(path)?;
                (
                    json!({"weights": sha, "architecture": architecture, "backend": backend}),
                    vec![],
                )
            }
            VictimModel::Command {
                command,
                image_size,
                ..
            } => (
                json!({"command": command, "image_size": image_size}),
                vec![],
            ),
            VictimModel::Http {
                url, image_size, ..
            } => (json!({"url": url, "image_size": image_size}), vec![]),
        };
        Ok((json!({"model": model, "defenses": victim.defenses}), deps))
    }

    fn query(&mut self, attack: &str, point: usize) -> Result<usize, PlanError> {
        let a = &self.program.attacks[attack];
        let (victim, deps) = self.victim(&a.victim)?;
        let spec = Spec {
            stage: "queries".into(),
            version: versions::QUERIES,
            config: json!({
                "victim": victim,
                "queries": self.data(&a.queries)?,
                "point": a.points[point],
                "max_queries": a.max_queries,
            }),
            inputs: inputs(&[("victim", &deps)], self),
        };
        Ok(self.add(
            format!(
                "queries/{attack}/{}",
                point_label(self.program, attack, point)
            ),
            Work::Query {
                attack: attack.to_string(),
                point,
            },
            deps,
            spec,
        ))
    }

    fn surrogate(&mut self, attack: &str, point: usize) -> Result<usize, PlanError> {
        let query = self.query(attack, point)?;
        let a = &self.program.attacks[attack];
        let mut config = json!({
            "architecture": a.surrogate.architecture,
            "training": a.surrogate.training,
            "seed": a.points[point].seed,
            "backend": self.backend.name(),
        });
        self.training_files(&a.surrogate.training, &mut config)?;
        let spec = Spec {
            stage: "surrogate".into(),
            version: versions::SURROGATE,
            config,
            inputs: BTreeMap::from([("queries".to_string(), self.key(query))]),
        };
        Ok(self.add(
            format!(
                "surrogate/{attack}/{}",
                point_label(self.program, attack, point)
            ),
            Work::TrainSurrogate {
                attack: attack.to_string(),
                point,
            },
            vec![query],
            spec,
        ))
    }

    /// A model's outputs on a test set.
    fn outputs(&mut self, model: &Subject, data: &DataRef) -> Result<usize, PlanError> {
        let (config, deps, id) = match model {
            Subject::Victim(name) => {
                let (victim, deps) = self.victim(name)?;
                (json!({"victim": victim}), deps, format!("victim/{name}"))
            }
            Subject::Surrogate { attack, point } => {
                let job = self.surrogate(attack, *point)?;
                (
                    json!({"surrogate": true, "backend": self.backend.name()}),
                    vec![job],
                    format!("{attack}/{}", point_label(self.program, attack, *point)),
                )
            }
        };
        let mut config = config;
        config["data"] = self.data(data)?;
        let spec = Spec {
            stage: "outputs".into(),
            version: versions::OUTPUTS,
            config,
            inputs: inputs(&[("model", &deps)], self),
        };
        Ok(self.add(
            format!("outputs/{id}/{}", data_name(data)),
            Work::Outputs {
                model: model.clone(),
                data: data.clone(),
            },
            deps,
            spec,
        ))
    }

    /// One evaluation's metric values for a model: the victim's cell (A), or a surrogate's
    /// cells (B, C) against the victim's outputs.
    fn evaluate(&mut self, name: &str, model: Subject) -> Result<usize, PlanError> {
        let e: &Evaluation = &self.program.evaluations[name];
        let victim = match &model {
            Subject::Victim(v) => v.clone(),
            Subject::Surrogate { attack, .. } => self.program.attacks[attack].victim.clone(),
        };
        let cells: Vec<Cell> = e
            .cells
            .iter()
            .copied()
            .filter(|c| match model {
                // The victim's own answers carry its fingerprint: the check that it reads back.
                Subject::Victim(_) => matches!(c, Cell::A | Cell::Fingerprint),
                Subject::Surrogate { .. } => {
                    matches!(c, Cell::B | Cell::C | Cell::Watermark | Cell::Fingerprint)
                }
            })
            .filter(|c| !(c.needs_ground_truth() && e.ground_truth == GroundTruth::None))
            .collect();
        let mut deps = vec![];
        let mut tests = vec![];
        let mut roles = BTreeMap::new();
        for (i, t) in test_sets(e).into_iter().enumerate() {
            let own = self.outputs(&model, &t)?;
            deps.push(own);
            roles.insert(format!("outputs.{i}"), self.key(own));
            if matches!(model, Subject::Surrogate { .. }) {
                let v = self.outputs(&Subject::Victim(victim.clone()), &t)?;
                deps.push(v);
                roles.insert(format!("victim_outputs.{i}"), self.key(v));
            }
            tests.push(self.data(&t)?);
        }
        // The watermark check asks the surrogate the queries the victim watermarked.
        if let (true, Subject::Surrogate { attack, point }) =
            (cells.contains(&Cell::Watermark), &model)
        {
            let queries = self.query(attack, *point)?;
            let surrogate = self.surrogate(attack, *point)?;
            deps.extend([queries, surrogate]);
            roles.insert("queries".into(), self.key(queries));
            roles.insert("surrogate".into(), self.key(surrogate));
        }
        let ground_truth = match &e.ground_truth {
            GroundTruth::StyleSet { data } => json!({"style_set": self.data(data)?}),
            GroundTruth::HighResolution => json!("high_resolution"),
            GroundTruth::None => Value::Null,
        };
        let spec = Spec {
            stage: "evaluate".into(),
            version: versions::EVALUATE,
            config: json!({
                "cells": cells, "metrics": e.metrics, "test_sets": tests,
                "ground_truth": ground_truth,
            }),
            inputs: roles,
        };
        let id = match &model {
            Subject::Victim(v) => format!("evaluate/{name}/victim/{v}"),
            Subject::Surrogate { attack, point } => format!(
                "evaluate/{name}/{attack}/{}",
                point_label(self.program, attack, *point)
            ),
        };
        Ok(self.add(
            id,
            Work::Evaluate {
                evaluation: name.to_string(),
                model,
                cells,
            },
            deps,
            spec,
        ))
    }
}

fn inputs(roles: &[(&str, &[usize])], b: &Builder) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (role, jobs) in roles {
        for (i, &j) in jobs.iter().enumerate() {
            let name = if jobs.len() == 1 {
                role.to_string()
            } else {
                format!("{role}.{i}")
            };
            out.insert(name, b.key(j));
        }
    }
    out
}

/// `dataset` or `dataset.part`.
pub fn data_name(data: &DataRef) -> String {
    match &data.part {
        Some(p) => format!("{}.{p}", data.dataset),
        None => data.dataset.clone(),
    }
}

/// An evaluation's test sets: the victim's own, then the benchmarks.
pub fn test_sets(e: &Evaluation) -> Vec<DataRef> {
    let mut all = vec![e.victim_test.clone()];
    for b in &e.benchmarks {
        if !all.contains(b) {
            all.push(b.clone());
        }
    }
    all
}

/// Compiles a checked program, with the [`Inputs`] gathered for it, into its job graph.
/// Attacks that no evaluation measures still have their surrogates trained (and their
/// queries accounted), victims that no attack uses are still trained; evaluations add the
/// outputs and metrics.
pub fn plan(program: &Program, inputs: &Inputs, backend: Backend) -> Result<Plan, PlanError> {
    let mut b = Builder {
        program,
        inputs,
        backend,
        jobs: vec![],
        by_key: BTreeMap::new(),
        victims: BTreeMap::new(),
    };
    for (name, e) in &program.evaluations {
        let victims: std::collections::BTreeSet<&String> = e
            .attacks
            .iter()
            .map(|a| &program.attacks[a].victim)
            .collect();
        let victim_cells = e.cells.contains(&Cell::A) && e.ground_truth != GroundTruth::None;
        for v in victims.into_iter().filter(|_| victim_cells) {
            b.evaluate(name, Subject::Victim(v.clone()))?;
        }
        for attack in &e.attacks {
            for point in 0..program.attacks[attack].points.len() {
                b.evaluate(
                    name,
                    Subject::Surrogate {
                        attack: attack.clone(),
                        point,
                    },
                )?;
            }
        }
    }
    for (attack, a) in &program.attacks {
        for point in 0..a.points.len() {
            b.surrogate(attack, point)?;
        }
    }
    // Victims no attack uses are still trained: declaring one asks for it.
    for name in program.victims.keys() {
        b.victim(name)?;
    }
    Ok(Plan {
        experiment: program.experiment.name.clone(),
        backend,
        jobs: b.jobs,
    })
}

impl Plan {
    /// The jobs whose id matches a `--only` pattern (`*` matches any run of characters; a
    /// pattern without `*` matches the ids it begins).
    pub fn select(&self, patterns: &[String]) -> Vec<bool> {
        self.jobs
            .iter()
            .map(|job| patterns.iter().any(|p| glob(p, &job.id)))
            .collect()
    }
}

/// `*` matches any run of characters; a pattern without `*` matches ids that start with it.
fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return text.starts_with(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn patterns_match_ids_by_prefix_or_wildcard() {
        assert!(glob("victim", "victim/monet"));
        assert!(glob("*monet*", "surrogate/steal_monet/50%-none-seed1"));
        assert!(glob("surrogate/*/100%*", "surrogate/steal/100%-flip-seed2"));
        assert!(!glob("surrogate/*/100%*", "surrogate/steal/50%-flip-seed2"));
        assert!(!glob("outputs", "victim/monet"));
    }
}
