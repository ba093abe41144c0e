//! Stage 7: `heist diff`. Two runs' results are matched by their key columns; each quantity
//! (grouped over seeds) is judged against its metric's direction and tolerance, and, with
//! several seeds on both sides, a Welch test says whether a change is more than seed noise.
//! Added rows are news; removed rows and regressions fail the check.

pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::report::seeds::{key_columns, over_seeds, OverSeeds};
use crate::run::results::{Better, Row};
use crate::stats::{welch, GroupSummary};

/// How strict the comparison is.
#[derive(Debug, Clone)]
pub struct Options {
    /// Relative tolerance per metric; metrics not named here must not change at all.
    pub tolerances: BTreeMap<String, f64>,
    /// Significance level of the Welch test over seeds.
    pub alpha: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Bitwise the same mean.
    Unchanged,
    WithinTolerance,
    /// Beyond tolerance, but the Welch test over seeds does not tell it from noise.
    Noise,
    Improved,
    Regressed,
    /// Beyond tolerance, for a number without a better direction: treated as a regression.
    Changed,
}

impl Verdict {
    pub fn fails(self) -> bool {
        matches!(self, Verdict::Regressed | Verdict::Changed)
    }
}

/// One quantity in both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The key columns with a value (fraction as text).
    pub key: BTreeMap<String, String>,
    pub metric: String,
    pub convention: String,
    pub better: Option<Better>,
    pub base_mean: f64,
    pub new_mean: f64,
    pub base_sd: f64,
    pub new_sd: f64,
    pub base_n: usize,
    pub new_n: usize,
    /// (new - base) / |base|; `null` when base is 0.
    pub relative: Option<f64>,
    pub tolerance: f64,
    /// Welch's p on the per-seed values (two or more seeds on both sides).
    pub welch_p: Option<f64>,
    pub verdict: Verdict,
}

/// A row that only one side has.
#[derive(Debug, Clone, Serialize)]
pub struct Only {
    pub key: BTreeMap<String, String>,
    pub seed: Option<u64>,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub base: String,
    pub new: String,
    /// Quantities (over seeds) found in both.
    pub compared: usize,
    pub tolerances: BTreeMap<String, f64>,
    pub alpha: f64,
    /// Every quantity whose mean moved, regressions first.
    pub changes: Vec<Change>,
    pub added: Vec<Only>,
    pub removed: Vec<Only>,
    pub regressions: usize,
    pub improvements: usize,
    /// Passes when nothing regressed beyond tolerance and no row disappeared.
    pub passed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("the two runs are of different experiments: {differences}")]
    OtherExperiment { differences: String },
    #[error("grouping the results over seeds failed: {0}")]
    Grouping(String),
}

/// The rows of `values` (seed, value) of the quantity `key` whose seed `keep` accepts.
fn only<'a>(
    key: &BTreeMap<String, String>,
    values: &'a [(Option<u64>, f64)],
    keep: impl Fn(Option<u64>) -> bool + 'a,
) -> impl Iterator<Item = Only> + 'a {
    let key = key.clone();
    values
        .iter()
        .filter(move |v| keep(v.0))
        .map(move |&(seed, value)| Only {
            key: key.clone(),
            seed,
            value,
        })
}

fn key_of(row: &Row) -> BTreeMap<String, String> {
    key_columns()
        .filter_map(|c| {
            let v = if c == "fraction" {
                row.fraction.map_or(String::new(), |f| format!("{f}"))
            } else {
                row.text(c)
            };
            (!v.is_empty()).then(|| (c.to_string(), v))
        })
        .collect()
}

/// Key columns whose values the two sides do not share, as `experiment: base smoke, new quickstart`.
fn differing_columns(base: &[Row], new: &[Row]) -> Vec<String> {
    let values = |rows: &[Row], c: &str| -> BTreeSet<String> {
        rows.iter()
            .map(|r| key_of(r).get(c).cloned().unwrap_or_default())
            .collect()
    };
    let show = |s: &BTreeSet<String>| {
        let v: Vec<String> = s.iter().take(4).map(|x| format!("`{x}`")).collect();
        let more = if s.len() > 4 { ", ..." } else { "" };
        format!("{}{more}", v.join(", "))
    };
    key_columns()
        .filter_map(|c| {
            let (b, n) = (values(base, c), values(new, c));
            (b.is_disjoint(&n) && !(b.is_empty() && n.is_empty())).then(|| {
                format!(
                    "`{c}` is {} in the base and {} in the new run",
                    show(&b),
                    show(&n)
                )
            })
        })
        .collect()
}

/// Compares `new` with `base`.
pub fn diff(
    base_name: &str,
    base: &[Row],
    new_name: &str,
    new: &[Row],
    options: &Options,
) -> Result<Diff, DiffError> {
    let experiments =
        |rows: &[Row]| -> BTreeSet<String> { rows.iter().map(|r| r.experiment.clone()).collect() };
    if !base.is_empty() && !new.is_empty() && experiments(base).is_disjoint(&experiments(new)) {
        return Err(DiffError::OtherExperiment {
            differences: differing_columns(base, new).join("; "),
        });
    }
    let grouping = |e: polars::prelude::PolarsError| DiffError::Grouping(e.to_string());
    let base_groups = over_seeds(base).map_err(grouping)?;
    let new_groups = over_seeds(new).map_err(grouping)?;
    let index = |groups: &[OverSeeds]| -> BTreeMap<BTreeMap<String, String>, usize> {
        groups
            .iter()
            .enumerate()
            .map(|(i, g)| (key_of(&g.row), i))
            .collect()
    };
    let (base_index, new_index) = (index(&base_groups), index(&new_groups));
    let mut changes = vec![];
    let mut compared = 0;
    let mut added = vec![];
    let mut removed = vec![];
    for (key, &bi) in &base_index {
        let b = &base_groups[bi];
        let Some(&ni) = new_index.get(key) else {
            removed.extend(only(key, &b.values, |_| true));
            continue;
        };
        let n = &new_groups[ni];
        compared += 1;
        // Seeds present on one side only are rows added or removed.
        let seeds =
            |g: &OverSeeds| -> BTreeSet<Option<u64>> { g.values.iter().map(|v| v.0).collect() };
        let (bs, ns) = (seeds(b), seeds(n));
        removed.extend(only(key, &b.values, |seed| !ns.contains(&seed)));
        added.extend(only(key, &n.values, |seed| !bs.contains(&seed)));
        if let Some(c) = judge(key, b, n, options) {
            changes.push(c);
        }
    }
    for (key, &ni) in &new_index {
        if !base_index.contains_key(key) {
            added.extend(only(key, &new_groups[ni].values, |_| true));
        }
    }
    if compared == 0 && !base.is_empty() && !new.is_empty() {
        return Err(DiffError::OtherExperiment {
            differences: format!(
                "no quantity is in both; {}",
                differing_columns(base, new).join("; ")
            ),
        });
    }
    let rank = |v: Verdict| match v {
        Verdict::Regressed | Verdict::Changed => 0,
        Verdict::Noise => 1,
        Verdict::Improved => 2,
        Verdict::WithinTolerance => 3,
        Verdict::Unchanged => 4,
    };
    changes.sort_by_key(|c| rank(c.verdict));
    let regressions = changes.iter().filter(|c| c.verdict.fails()).count();
    let improvements = changes
        .iter()
        .filter(|c| c.verdict == Verdict::Improved)
        .count();
    Ok(Diff {
        base: base_name.to_string(),
        new: new_name.to_string(),
        compared,
        tolerances: options.tolerances.clone(),
        alpha: options.alpha,
        passed: regressions == 0 && removed.is_empty(),
        changes,
        added,
        removed,
        regressions,
        improvements,
    })
}

/// The verdict on one quantity; `None` when its mean did not move at all.
fn judge(
    key: &BTreeMap<String, String>,
    b: &OverSeeds,
    n: &OverSeeds,
    options: &Options,
) -> Option<Change> {
    let metric = b.row.metric;
    if b.mean.to_bits() == n.mean.to_bits() {
        return None;
    }
    let tolerance = options
        .tolerances
        .get(metric.name())
        .copied()
        .unwrap_or(0.0);
    let delta = n.mean - b.mean;
    let relative = (b.mean != 0.0).then(|| delta / b.mean.abs());
    // Relative to |base|, with a floor so that numbers at zero (KID) are not all beyond it.
    let allowed = tolerance * b.mean.abs().max(1e-9);
    let welch_p = (b.n() >= 2 && n.n() >= 2).then(|| {
        if b.sd == 0.0 && n.sd == 0.0 {
            0.0
        } else {
            welch(
                &GroupSummary::of("base", &b.plain_values()),
                &GroupSummary::of("new", &n.plain_values()),
            )
            .p
        }
    });
    let direction = metric.better();
    let verdict = if delta.is_finite() && delta.abs() <= allowed {
        Verdict::WithinTolerance
    } else if welch_p.is_some_and(|p| p >= options.alpha) {
        Verdict::Noise
    } else {
        match direction {
            Some(Better::Lower) if delta < 0.0 => Verdict::Improved,
            Some(Better::Higher) if delta > 0.0 => Verdict::Improved,
            Some(_) => Verdict::Regressed,
            None => Verdict::Changed,
        }
    };
    Some(Change {
        key: key.clone(),
        convention: b.row.convention.clone(),
        metric: metric.name().to_string(),
        better: direction,
        base_mean: b.mean,
        new_mean: n.mean,
        base_sd: b.sd,
        new_sd: n.sd,
        base_n: b.n(),
        new_n: n.n(),
        relative,
        tolerance,
        welch_p,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::run::results::{ComparedTo, Defenses, Measure, Role, RowCell};
    use crate::sema::program::Augmentation;

    fn rows(metric: &str, values: &[f64]) -> Vec<Row> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| Row {
                experiment: "e".into(),
                setting: "Monet-to-Photo".into(),
                evaluation: "ev".into(),
                attack: "steal".into(),
                cell: RowCell::C,
                model: Role::Surrogate,
                test_set: "test".into(),
                compared_to: ComparedTo::GroundTruth,
                metric: Measure::parse(metric).expect("a metric"),
                convention: metric.to_uppercase(),
                fraction: Some(0.5),
                augmentation: Some(Augmentation::None),
                defense: Defenses::default(),
                seed: Some(i as u64 + 1),
                value,
            })
            .collect()
    }

    fn verdict(metric: &str, base: &[f64], new: &[f64]) -> Verdict {
        let options = Options {
            tolerances: BTreeMap::from([("fid".into(), 0.05), ("ssim".into(), 0.01)]),
            alpha: 0.05,
        };
        let d = diff(
            "base",
            &rows(metric, base),
            "new",
            &rows(metric, new),
            &options,
        )
        .unwrap();
        d.changes.first().map_or(Verdict::Unchanged, |c| c.verdict)
    }

    #[test]
    fn a_shift_beyond_tolerance_is_a_regression_only_when_welch_tells_it_from_seed_noise() {
        // FID +7.5%, seeds far apart: not more than noise.
        assert_eq!(
            verdict("fid", &[10.0, 12.0, 11.0], &[11.0, 13.0, 11.5]),
            Verdict::Noise
        );
        // FID +20%, seeds close together: a regression.
        assert_eq!(
            verdict("fid", &[10.0, 10.1, 9.9], &[12.0, 12.1, 11.9]),
            Verdict::Regressed
        );
        // The same move for SSIM (higher is better) is an improvement.
        assert_eq!(
            verdict("ssim", &[10.0, 10.1, 9.9], &[12.0, 12.1, 11.9]),
            Verdict::Improved
        );
        // Within the 5% tolerance.
        assert_eq!(
            verdict("fid", &[10.0, 10.1, 9.9], &[10.2, 10.3, 10.1]),
            Verdict::WithinTolerance
        );
        // A number without a direction must not move beyond its tolerance (0 when unnamed).
        assert_eq!(verdict("welch_p", &[0.3], &[0.31]), Verdict::Changed);
        assert_eq!(
            verdict("fid", &[10.0, 10.1], &[10.0, 10.1]),
            Verdict::Unchanged
        );
    }

    #[test]
    fn a_seed_missing_from_the_new_run_fails_and_a_new_seed_is_news() {
        let options = Options {
            tolerances: BTreeMap::new(),
            alpha: 0.05,
        };
        let d = diff(
            "b",
            &rows("fid", &[1.0, 2.0]),
            "n",
            &rows("fid", &[1.0]),
            &options,
        )
        .unwrap();
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].seed, Some(2));
        assert!(!d.passed);
        let d = diff(
            "b",
            &rows("fid", &[1.0]),
            "n",
            &rows("fid", &[1.0, 1.0]),
            &options,
        )
        .unwrap();
        assert_eq!((d.added.len(), d.passed), (1, true));
    }
}
