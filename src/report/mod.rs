//! Stage 6: `heist report`. A run directory's results, grouped over seeds, become the paper's
//! tables and figures: built as a format-free [`document::Document`] first (so that a table
//! whose data the run lacks fails before anything is written), then rendered as Markdown,
//! self-contained HTML and LaTeX and written to the output folder in one rename.

pub mod document;
pub mod figures;
mod items;
pub mod render;
pub mod seeds;
mod write;

use std::path::PathBuf;

pub use write::write;

use crate::run::read::{ReadError, RunRecord};
use crate::sema::program::{Format, ReportItem};
use document::{Document, Provenance};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("the experiment `{experiment}` declares no report named `{name}`")]
    NoSuchReport {
        experiment: String,
        name: String,
        declared: Vec<String>,
    },
    #[error("{item}: {missing}")]
    Missing {
        item: String,
        missing: String,
        help: String,
    },
    #[error("grouping the results over seeds failed: {0}")]
    Grouping(String),
    #[error("{item}: cannot draw the figure: {reason}")]
    Figure { item: String, reason: String },
    #[error("cannot write the report to {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

impl ReportError {
    pub fn help(&self) -> String {
        match self {
            ReportError::Read(e) => e.help(),
            ReportError::NoSuchReport { declared, .. } if declared.is_empty() => {
                "leave out --report: without one, heist reports every evaluation".into()
            }
            ReportError::NoSuchReport { declared, .. } => {
                format!("the experiment declares: {}", declared.join(", "))
            }
            ReportError::Missing { help, .. } => help.clone(),
            ReportError::Grouping(_) | ReportError::Figure { .. } => {
                "this is a bug in heist; please report it with the run directory".into()
            }
            ReportError::Write { .. } => {
                "choose a writable --out, and check the disk's free space".into()
            }
        }
    }
}

/// Which report of the experiment, in which formats.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A `report NAME { ... }` of the experiment; by default its first, or every evaluation.
    pub report: Option<String>,
    /// Overrides the report's `formats`.
    pub formats: Option<Vec<Format>>,
}

/// Builds the report of `run` (nothing is written).
pub fn build(run: &RunRecord, options: &Options) -> Result<(Document, Vec<Format>), ReportError> {
    let program = &run.manifest.program;
    let declared = match &options.report {
        Some(name) => Some((
            name.clone(),
            program
                .reports
                .get(name)
                .ok_or_else(|| ReportError::NoSuchReport {
                    experiment: program.experiment.name.clone(),
                    name: name.clone(),
                    declared: program.reports.keys().cloned().collect(),
                })?,
        )),
        None => program.reports.iter().next().map(|(n, r)| (n.clone(), r)),
    };
    let (title, item_list, formats) = match declared {
        Some((name, r)) => (
            format!("{} — report `{name}`", program.experiment.title),
            r.items.clone(),
            r.formats.clone(),
        ),
        None => (
            program.experiment.title.clone(),
            items::default_items(program, &run.rows),
            vec![Format::Md, Format::Html, Format::Tex],
        ),
    };
    let groups = seeds::over_seeds(&run.rows).map_err(|e| ReportError::Grouping(e.to_string()))?;
    let cx = items::Cx {
        run,
        program,
        groups: &groups,
    };
    let mut sections = vec![];
    for item in &item_list {
        sections.extend(items::build(&cx, item)?);
    }
    // Ids are file names; two items about the same thing must not share one.
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for s in &mut sections {
        let n = seen.entry(s.id.clone()).or_default();
        *n += 1;
        if *n > 1 {
            s.id = format!("{}-{n}", s.id);
        }
    }
    let doc = Document {
        title,
        provenance: provenance(run),
        sections,
    };
    Ok((doc, options.formats.clone().unwrap_or(formats)))
}

fn provenance(run: &RunRecord) -> Provenance {
    let m = &run.manifest;
    let mut seeds: Vec<u64> = m.seeds.attacks.values().flatten().copied().collect();
    seeds.sort_unstable();
    seeds.dedup();
    Provenance {
        experiment: m.experiment.clone(),
        run_id: m.run_id.clone(),
        seeds,
        backend: m.device.clone(),
        date: m.finished.get(..10).unwrap_or(&m.finished).to_string(),
        manifest: run
            .manifest_sha256
            .get(..12)
            .unwrap_or_default()
            .to_string(),
        heist: m.heist.clone(),
        git: m.git.as_ref().map(|g| {
            let short = g.commit.get(..10).unwrap_or(&g.commit);
            if g.dirty {
                format!("{short} (uncommitted changes)")
            } else {
                short.to_string()
            }
        }),
    }
}

/// How an item is written in an `.exp` (for error messages): `cells_table(monet_to_photo, metric = fid)`.
pub fn describe(item: &ReportItem) -> String {
    match item {
        ReportItem::CellsTable {
            evaluation,
            metric,
            fraction,
        } => match fraction {
            Some(f) => format!(
                "cells_table({evaluation}, metric = {metric}, fraction = {}%)",
                f * 100.0
            ),
            None => format!("cells_table({evaluation}, metric = {metric})"),
        },
        ReportItem::AugmentationTable {
            evaluation,
            metric,
            fraction,
            ..
        } => format!(
            "augmentation_table({evaluation}, fraction = {}%, metric = {metric})",
            fraction * 100.0
        ),
        ReportItem::FractionPlot {
            evaluation, metric, ..
        } => format!("fraction_plot({evaluation}, metric = {metric})"),
        ReportItem::LikertHistogram { user_study } => format!("likert_histogram({user_study})"),
        ReportItem::DefenseTable { evaluation } => format!("defense_table({evaluation})"),
        ReportItem::CostTable { attacks } => format!("cost_table([{}])", attacks.join(", ")),
        ReportItem::Samples { evaluation } => format!("samples({evaluation})"),
        ReportItem::ComparisonTable { comparison } => format!("comparison_table({comparison})"),
    }
}
