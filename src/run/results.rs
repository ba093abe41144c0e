//! The tidy results table: one row per measured number (design.md), from the evaluation jobs'
//! values and the query sets' counts. Rows come in a fixed order and values are written with
//! Rust's shortest round-trip formatting, so equal runs give byte-identical files.

use serde::{Deserialize, Serialize};

use super::execute::Measured;
use super::Executed;
use crate::plan::{data_name, test_sets, Plan, Subject, Work};
use crate::sema::program::{Augmentation, Cell, Defense, Extractor, Metric, Program};

/// One measured number, typed: the CSV's and Parquet's columns are its fields written out,
/// and [`Row::parse`] reads them back once, so that reports and diffs compare values, not text.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub experiment: String,
    pub setting: String,
    /// The evaluation, or the user study of a `user_study` row; empty for cost rows of an
    /// attack no evaluation measures.
    pub evaluation: String,
    pub attack: String,
    pub cell: RowCell,
    pub model: Role,
    pub test_set: String,
    pub compared_to: ComparedTo,
    pub metric: Measure,
    /// How the number was computed: `FD-random_conv`, `SSIM (Y, crop 4)`, `USD at $0.016`.
    pub convention: String,
    pub fraction: Option<f64>,
    pub augmentation: Option<Augmentation>,
    pub defense: Defenses,
    pub seed: Option<u64>,
    pub value: f64,
}

/// Which of the paper's numbers a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowCell {
    /// The victim against the ground truth.
    A,
    /// The surrogate against the victim.
    B,
    /// The surrogate against the ground truth.
    C,
    Watermark,
    Fingerprint,
    UserStudy,
    /// Query accounting.
    Cost,
}

impl RowCell {
    pub const ALL: [RowCell; 7] = [
        RowCell::A,
        RowCell::B,
        RowCell::C,
        RowCell::Watermark,
        RowCell::Fingerprint,
        RowCell::UserStudy,
        RowCell::Cost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RowCell::A => "A",
            RowCell::B => "B",
            RowCell::C => "C",
            RowCell::Watermark => "watermark",
            RowCell::Fingerprint => "fingerprint",
            RowCell::UserStudy => "user_study",
            RowCell::Cost => "cost",
        }
    }

    /// A, B or C: the cells of Tables 3-5.
    pub fn is_table_cell(self) -> bool {
        matches!(self, RowCell::A | RowCell::B | RowCell::C)
    }

    /// The defence cells.
    pub fn is_defense(self) -> bool {
        matches!(self, RowCell::Watermark | RowCell::Fingerprint)
    }
}

impl From<Cell> for RowCell {
    fn from(cell: Cell) -> RowCell {
        match cell {
            Cell::A => RowCell::A,
            Cell::B => RowCell::B,
            Cell::C => RowCell::C,
            Cell::Watermark => RowCell::Watermark,
            Cell::Fingerprint => RowCell::Fingerprint,
        }
    }
}

/// Whose number a row is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Victim,
    Surrogate,
    /// Who pays for the queries (cost rows).
    Attacker,
    /// A user study's group of ratings.
    Group(String),
    /// A statistic of two groups.
    Groups,
}

impl Role {
    pub fn name(&self) -> &str {
        match self {
            Role::Victim => "victim",
            Role::Surrogate => "surrogate",
            Role::Attacker => "attacker",
            Role::Group(g) => g,
            Role::Groups => "",
        }
    }

    /// The role as `cell`'s rows write it (a user study's rows name their groups).
    fn parse(text: &str, cell: RowCell) -> Result<Role, String> {
        Ok(match (cell, text) {
            (RowCell::UserStudy, "") => Role::Groups,
            (RowCell::UserStudy, group) => Role::Group(group.to_string()),
            (_, "victim") => Role::Victim,
            (_, "surrogate") => Role::Surrogate,
            (_, "attacker") => Role::Attacker,
            (_, other) => {
                return Err(format!(
                    "model `{other}` is none of victim, surrogate, attacker"
                ))
            }
        })
    }
}

/// What a row's model is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComparedTo {
    GroundTruth,
    Victim,
    /// Counts and statistics.
    Nothing,
}

impl ComparedTo {
    pub fn name(self) -> &'static str {
        match self {
            ComparedTo::GroundTruth => "ground_truth",
            ComparedTo::Victim => "victim",
            ComparedTo::Nothing => "",
        }
    }
}

/// What a row measures: an evaluation's metric, a defence's measure, a query count or cost, or
/// a user study's statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    Fid,
    Kid,
    Ssim,
    Psnr,
    BitAccuracy,
    WatermarkAccuracy,
    WatermarkControl,
    Queries,
    CostUsd,
    Ratings,
    RatingMean,
    RatingSd,
    WelchT,
    WelchDf,
    WelchP,
    CohenD,
    TostP,
    TostBoundRaw,
}

impl Measure {
    pub const ALL: [Measure; 18] = [
        Measure::Fid,
        Measure::Kid,
        Measure::Ssim,
        Measure::Psnr,
        Measure::BitAccuracy,
        Measure::WatermarkAccuracy,
        Measure::WatermarkControl,
        Measure::Queries,
        Measure::CostUsd,
        Measure::Ratings,
        Measure::RatingMean,
        Measure::RatingSd,
        Measure::WelchT,
        Measure::WelchDf,
        Measure::WelchP,
        Measure::CohenD,
        Measure::TostP,
        Measure::TostBoundRaw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Measure::Fid => "fid",
            Measure::Kid => "kid",
            Measure::Ssim => "ssim",
            Measure::Psnr => "psnr",
            Measure::BitAccuracy => "bit_accuracy",
            Measure::WatermarkAccuracy => "watermark_accuracy",
            Measure::WatermarkControl => "watermark_control",
            Measure::Queries => "queries",
            Measure::CostUsd => "cost_usd",
            Measure::Ratings => "ratings",
            Measure::RatingMean => "rating_mean",
            Measure::RatingSd => "rating_sd",
            Measure::WelchT => "welch_t",
            Measure::WelchDf => "welch_df",
            Measure::WelchP => "welch_p",
            Measure::CohenD => "cohen_d",
            Measure::TostP => "tost_p",
            Measure::TostBoundRaw => "tost_bound_raw",
        }
    }

    pub fn parse(text: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.name() == text)
    }

    /// An evaluation's metric.
    pub fn of(metric: &Metric) -> Measure {
        match metric {
            Metric::Fid { .. } => Measure::Fid,
            Metric::Kid { .. } => Measure::Kid,
            Metric::Ssim { .. } => Measure::Ssim,
            Metric::Psnr { .. } => Measure::Psnr,
        }
    }

    /// Which way it improves; `None` for numbers without one (test statistics, p-values).
    pub fn better(self) -> Option<Better> {
        match self {
            Measure::Fid | Measure::Kid | Measure::Queries | Measure::CostUsd => {
                Some(Better::Lower)
            }
            Measure::Ssim | Measure::Psnr => Some(Better::Higher),
            _ => None,
        }
    }

    /// The unit its axis is labelled with, if it has one.
    pub fn unit(self) -> Option<&'static str> {
        match self {
            Measure::Psnr => Some("dB"),
            Measure::CostUsd => Some("USD"),
            _ => None,
        }
    }
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The victim's defences a row was measured under (`none`: undefended).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Defenses(pub Vec<String>);

impl Defenses {
    pub fn of(program: &Program, victim: &str) -> Defenses {
        Defenses(
            program.victims[victim]
                .defenses
                .iter()
                .map(|d| d.name().to_string())
                .collect(),
        )
    }

    pub fn is_none(&self) -> bool {
        self.0.is_empty()
    }

    fn parse(text: &str) -> Defenses {
        match text {
            "none" | "" => Defenses(vec![]),
            names => Defenses(names.split('+').map(str::to_string).collect()),
        }
    }
}

impl std::fmt::Display for Defenses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&self.0.join("+"))
        }
    }
}

/// A row as `results.csv` writes it: every column as text.
#[derive(Debug, Clone, Deserialize)]
pub struct RawRow {
    pub experiment: String,
    pub setting: String,
    pub evaluation: String,
    pub attack: String,
    pub cell: String,
    pub model: String,
    pub test_set: String,
    pub compared_to: String,
    pub metric: String,
    pub convention: String,
    pub fraction: Option<f64>,
    pub augmentation: String,
    pub defense: String,
    pub seed: Option<u64>,
    pub value: f64,
}

impl Row {
    /// A row read from a results file; the error says which column is wrong.
    pub fn parse(raw: RawRow) -> Result<Row, String> {
        let cell = RowCell::ALL
            .into_iter()
            .find(|c| c.name() == raw.cell)
            .ok_or_else(|| {
                format!(
                    "cell `{}` is none of A, B, C, watermark, fingerprint, user_study, cost",
                    raw.cell
                )
            })?;
        let metric = Measure::parse(&raw.metric)
            .ok_or_else(|| format!("metric `{}` is not one heist measures", raw.metric))?;
        let compared_to = match raw.compared_to.as_str() {
            "ground_truth" => ComparedTo::GroundTruth,
            "victim" => ComparedTo::Victim,
            "" => ComparedTo::Nothing,
            other => {
                return Err(format!(
                    "compared_to `{other}` is neither ground_truth nor victim"
                ))
            }
        };
        let augmentation = match raw.augmentation.as_str() {
            "" => None,
            text => Some(
                text.parse::<Augmentation>()
                    .map_err(|e| format!("augmentation `{text}`: {e}"))?,
            ),
        };
        Ok(Row {
            model: Role::parse(&raw.model, cell)?,
            experiment: raw.experiment,
            setting: raw.setting,
            evaluation: raw.evaluation,
            attack: raw.attack,
            cell,
            test_set: raw.test_set,
            compared_to,
            metric,
            convention: raw.convention,
            fraction: raw.fraction,
            augmentation,
            defense: Defenses::parse(&raw.defense),
            seed: raw.seed,
            value: raw.value,
        })
    }
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
            let (metric, convention) = match &m.measure {
                Some(measure) => (
                    Measure::parse(measure).unwrap_or(Measure::BitAccuracy),
                    defense_convention(program, &victim, measure),
                ),
                None => (
                    Measure::of(&e.metrics[m.metric]),
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
                    cell: m.cell.into(),
                    model: if point.is_some() {
                        Role::Surrogate
                    } else {
                        Role::Victim
                    },
                    test_set: data_name(&tests[m.test]),
                    compared_to: if matches!(m.cell, Cell::B | Cell::Watermark | Cell::Fingerprint)
                    {
                        ComparedTo::Victim
                    } else {
                        ComparedTo::GroundTruth
                    },
                    metric,
                    convention,
                    fraction: point.map(|p| p.fraction),
                    augmentation: point.map(|p| p.augmentation.clone()),
                    defense: Defenses::of(program, &victim),
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
            (Measure::Queries, "victim queries".to_string(), queries),
            (
                Measure::CostUsd,
                format!("USD at ${} per query", a.price_usd_per_query),
                queries * a.price_usd_per_query,
            ),
        ] {
            rows.push(Row {
                experiment: experiment.clone(),
                setting: evaluation.map_or(String::new(), |(_, e)| e.setting.clone()),
                evaluation: evaluation.map_or(String::new(), |(n, _)| n.clone()),
                attack: attack.clone(),
                cell: RowCell::Cost,
                model: Role::Attacker,
                test_set: String::new(),
                compared_to: ComparedTo::Nothing,
                metric,
                convention,
                fraction: Some(p.fraction),
                augmentation: Some(p.augmentation.clone()),
                defense: Defenses::of(program, &a.victim),
                seed: Some(p.seed),
                value,
            });
        }
    }
    rows
}

impl Row {
    /// A text column as the CSV writes it (every column but `fraction`, `seed` and `value`).
    pub fn text(&self, column: &str) -> String {
        match column {
            "experiment" => self.experiment.clone(),
            "setting" => self.setting.clone(),
            "evaluation" => self.evaluation.clone(),
            "attack" => self.attack.clone(),
            "cell" => self.cell.name().into(),
            "model" => self.model.name().into(),
            "test_set" => self.test_set.clone(),
            "compared_to" => self.compared_to.name().into(),
            "metric" => self.metric.name().into(),
            "convention" => self.convention.clone(),
            "augmentation" => self
                .augmentation
                .as_ref()
                .map_or(String::new(), |a| a.to_string()),
            "defense" => self.defense.to_string(),
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
            text => r.text(text),
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
