//! The tidy results table: one row per measured number (design.md), from the evaluation jobs'
//! values and the query sets' counts. Rows come in a fixed order and values are written with
//! Rust's shortest round-trip formatting, so equal runs give byte-identical files.

use serde::{Deserialize, Serialize};

use super::execute::Measured;
use super::Executed;
use crate::plan::{data_name, test_sets, Plan, Subject, Work};
use crate::sema::program::{Cell, Defense, Extractor, Metric, Program};

/// One measured number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub experiment: String,
    pub setting: String,
    pub evaluation: String,
    pub attack: String,
    /// `A`, `B`, `C`, or `cost` for query accounting.
    pub cell: String,
    /// `victim`, `surrogate` or `attacker` (cost rows).
    pub model: String,
    pub test_set: String,
    /// `ground_truth` or `victim`.
    pub compared_to: String,
    pub metric: String,
    /// How the number was computed: `FD-random_conv`, `SSIM (Y, crop 4)`, `USD at $0.016`.
    pub convention: String,
    pub fraction: Option<f64>,
    pub augmentation: String,
    pub defense: String,
    pub seed: Option<u64>,
    pub value: f64,
}

/// The header of `results.csv`, in column order.
pub const COLUMNS: [&str; 15] = [
    "experiment",
    "setting",
    "evaluation",
    "attack",
    "cell",
    "model",
    "test_set",
    "compared_to",
    "metric",
    "convention",
    "fraction",
    "augmentation",
    "defense",
    "seed",
    "value",
];

/// How a metric's number was computed, as tables should name it.
pub fn convention(metric: &Metric) -> String {
    let pixel = |name: &str, y: bool, crop: u32| {
        let mut parts = vec![if y { "Y channel" } else { "RGB" }.to_string()];
        if crop > 0 {
            parts.push(format!("crop {crop}"));
        }
        format!("{name} ({})", parts.join(", "))
    };
    match metric {
        Metric::Fid { extractor } => match extractor {
            Extractor::InceptionV3 { .. } => "FID".into(),
            Extractor::RandomConv { .. } => "FD-random_conv".into(),
        },
        Metric::Kid { extractor } => match extractor {
            Extractor::InceptionV3 { .. } => "KID".into(),
            Extractor::RandomConv { .. } => "KID-random_conv".into(),
        },
        Metric::Ssim {
            y_channel,
            crop_border,
        } => pixel("SSIM", *y_channel, *crop_border),
        Metric::Psnr {
            y_channel,
            crop_border,
        } => pixel("PSNR", *y_channel, *crop_border),
    }
}

/// How the defence cells' numbers are computed.
fn defense_convention(program: &Program, victim: &str, measure: &str) -> String {
    let defenses = &program.victims[victim].defenses;
    match measure {
        "bit_accuracy" => defenses
            .iter()
            .find_map(|d| match d {
                Defense::Fingerprint { bits, .. } => Some(format!(
                    "share of the {bits} fingerprint bits read back (0.5 = chance)"
                )),
                _ => None,
            })
            .unwrap_or_else(|| "share of fingerprint bits read back".into()),
        "watermark_accuracy" => {
            "share of watermarked queries answered closer to the trigger than to the clean answer"
                .into()
        }
        "watermark_control" => {
            "the same share on as many queries that were not watermarked (transfer shows as accuracy above control)"
                .into()
        }
        other => other.into(),
    }
}

fn defenses(program: &Program, victim: &str) -> String {
    let d: Vec<&str> = program.victims[victim]
        .defenses
        .iter()
        .map(|d| d.name())
        .collect();
    if d.is_empty() {
        "none".into()
    } else {
        d.join("+")
    }
}

/// The rows of every finished evaluation and query job, in plan order.
pub fn rows(program: &Program, plan: &Plan, executed: &Executed) -> Vec<Row> {
    let experiment = &program.experiment.name;
    let mut rows = vec![];
    let mut evaluation_rows = vec![];
    for (i, job) in plan.jobs.iter().enumerate() {
        let (
            Work::Evaluate {
                evaluation, model, ..
            },
            Some(entry),
        ) = (&job.work, &executed.entries[i])
        else {
            continue;
        };
        let e = &program.evaluations[evaluation];
        let tests = test_sets(e);
        let values: Vec<Measured> =
            serde_json::from_value(entry.meta["values"].clone()).unwrap_or_default();
        let (attack, victim, point) = match model {
            Subject::Victim(v) => (String::new(), v.clone(), None),
            Subject::Surrogate { attack, point } => (
                attack.clone(),
                program.attacks[attack].victim.clone(),
                Some(&program.attacks[attack].points[*point]),
            ),
        };
        for m in values {
            let (metric_name, convention) = match &m.measure {
                Some(measure) => (
                    measure.clone(),
                    defense_convention(program, &victim, measure),
                ),
                None => (
                    e.metrics[m.metric].name().to_string(),
                    convention(&e.metrics[m.metric]),
                ),
            };
            evaluation_rows.push((
                (evaluation.clone(), model.clone(), m.test, m.cell, m.metric),
                Row {
                    experiment: experiment.clone(),
                    setting: e.setting.clone(),
                    evaluation: evaluation.clone(),
                    attack: attack.clone(),
                    cell: cell_name(m.cell).into(),
                    model: if point.is_some() {
                        "surrogate"
                    } else {
                        "victim"
                    }
                    .into(),
                    test_set: data_name(&tests[m.test]),
                    compared_to: if matches!(m.cell, Cell::B | Cell::Watermark | Cell::Fingerprint)
                    {
                        "victim"
                    } else {
                        "ground_truth"
                    }
                    .into(),
                    metric: metric_name,
                    convention,
                    fraction: point.map(|p| p.fraction),
                    augmentation: point.map_or(String::new(), |p| p.augmentation.to_string()),
                    defense: defenses(program, &victim),
                    seed: point.map(|p| p.seed),
                    value: m.value,
                },
            ));
        }
    }
    // Plan order interleaves evaluations; the table reads better grouped by them.
    evaluation_rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.extend(evaluation_rows.into_iter().map(|(_, r)| r));
    for (i, job) in plan.jobs.iter().enumerate() {
        let (Work::Query { attack, point }, Some(entry)) = (&job.work, &executed.entries[i]) else {
            continue;
        };
        let a = &program.attacks[attack];
        let p = &a.points[*point];
        let queries = entry.meta["queries"].as_u64().unwrap_or(0) as f64;
        let evaluation = program
            .evaluations
            .iter()
            .find(|(_, e)| e.attacks.contains(attack));
        for (metric, convention, value) in [
            ("queries", "victim queries".to_string(), queries),
            (
                "cost_usd",
                format!("USD at ${} per query", a.price_usd_per_query),
                queries * a.price_usd_per_query,
            ),
        ] {
            rows.push(Row {
                experiment: experiment.clone(),
                setting: evaluation.map_or(String::new(), |(_, e)| e.setting.clone()),
                evaluation: evaluation.map_or(String::new(), |(n, _)| n.clone()),
                attack: attack.clone(),
                cell: "cost".into(),
                model: "attacker".into(),
                test_set: String::new(),
                compared_to: String::new(),
                metric: metric.into(),
                convention,
                fraction: Some(p.fraction),
                augmentation: p.augmentation.to_string(),
                defense: defenses(program, &a.victim),
                seed: Some(p.seed),
                value,
            });
        }
    }
    rows
}

pub fn cell_name(cell: Cell) -> &'static str {
    match cell {
        Cell::A => "A",
        Cell::B => "B",
        Cell::C => "C",
        Cell::Watermark => "watermark",
        Cell::Fingerprint => "fingerprint",
    }
}

impl Row {
    /// A text column's value (every column but `fraction`, `seed` and `value`).
    pub fn text(&self, column: &str) -> &str {
        match column {
            "experiment" => &self.experiment,
            "setting" => &self.setting,
            "evaluation" => &self.evaluation,
            "attack" => &self.attack,
            "cell" => &self.cell,
            "model" => &self.model,
            "test_set" => &self.test_set,
            "compared_to" => &self.compared_to,
            "metric" => &self.metric,
            "convention" => &self.convention,
            "augmentation" => &self.augmentation,
            "defense" => &self.defense,
            other => panic!("`{other}` is not a text column"),
        }
    }
}

/// `results.csv` as bytes.
pub fn csv(rows: &[Row]) -> Vec<u8> {
    let number = |v: f64| {
        if v.is_finite() {
            format!("{v}")
        } else if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    };
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(COLUMNS).expect("writing to memory");
    for r in rows {
        let record = COLUMNS.map(|column| match column {
            "fraction" => r.fraction.map_or(String::new(), number),
            "seed" => r.seed.map_or(String::new(), |s| s.to_string()),
            "value" => number(r.value),
            text => r.text(text).to_string(),
        });
        w.write_record(&record).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Lower,
    Higher,
}

impl Better {
    /// `lower is better`
    pub fn phrase(self) -> &'static str {
        match self {
            Better::Lower => "lower is better",
            Better::Higher => "higher is better",
        }
    }
}

/// The direction of a metric of the results table; `None` for numbers without one (test
/// statistics, p-values).
pub fn better(metric: &str) -> Option<Better> {
    match metric {
        "fid" | "kid" | "queries" | "cost_usd" => Some(Better::Lower),
        "ssim" | "psnr" => Some(Better::Higher),
        _ => None,
    }
}

/// The unit a metric's axis is labelled with, if it has one.
pub fn unit(metric: &str) -> Option<&'static str> {
    match metric {
        "psnr" => Some("dB"),
        "cost_usd" => Some("USD"),
        _ => None,
    }
}
