//! `heist report RUN_DIR` and `heist diff BASE NEW`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_INVALID, EXIT_USAGE};
use crate::diagnostics::{self, Code, Diagnostic};
use crate::diff;
use crate::report::{self, ReportError};
use crate::run::read::{read_rows, read_run, ReadError};
use crate::sema::program::Format;
use crate::sema::DEFAULT_TOLERANCES;

fn render(d: Diagnostic, color: bool) {
    eprint!(
        "{}",
        diagnostics::render(&[d], &crate::source::SourceMap::new(), color)
    );
}

fn read_error(e: &ReadError) -> Diagnostic {
    Diagnostic::error(Code::RunDirectory, e.to_string()).help(e.help())
}

/// `heist report RUN_DIR [--out DIR] [--format md,html,tex] [--report NAME]`
pub(super) fn report_command(
    run_dir: &Path,
    out: Option<PathBuf>,
    options: &report::Options,
    color: bool,
) -> ExitCode {
    let failed = |e: ReportError| {
        let code = match &e {
            ReportError::Read(_) => Code::RunDirectory,
            ReportError::Write { .. } => Code::Io,
            _ => Code::Report,
        };
        render(Diagnostic::error(code, e.to_string()).help(e.help()), color);
        ExitCode::from(EXIT_INVALID)
    };
    let run = match read_run(run_dir) {
        Ok(r) => r,
        Err(e) => return failed(e.into()),
    };
    let (doc, formats) = match report::build(&run, options) {
        Ok(d) => d,
        Err(e) => return failed(e),
    };
    let out = out.unwrap_or_else(|| run_dir.join("report"));
    match report::write(&doc, &formats, &out) {
        Ok(files) => {
            eprintln!(
                "report of `{}` ({} sections) written to {}",
                run.manifest.experiment,
                doc.sections.len(),
                out.display()
            );
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}

/// `fid=5%` or `fid=0.05`.
pub(super) fn parse_tolerance(text: &str) -> Result<(String, f64), String> {
    let (metric, value) = text.split_once('=').ok_or_else(|| {
        format!("--tolerance takes METRIC=REL, like fid=5% or fid=0.05 (got `{text}`)")
    })?;
    let value = value.trim();
    let parsed = match value.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => value.parse::<f64>(),
    };
    let metric = metric.trim();
    if crate::run::results::Measure::parse(metric).is_none() {
        return Err(format!(
            "--tolerance {text}: `{metric}` is not a metric of the results (fid, kid, ssim, psnr, queries, cost_usd, bit_accuracy, ...)"
        ));
    }
    match parsed {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok((metric.to_string(), v)),
        _ => Err(format!(
            "--tolerance {text}: the tolerance must be a non-negative number or percentage"
        )),
    }
}

pub(super) struct DiffRequest {
    pub base: PathBuf,
    pub new: PathBuf,
    pub json: bool,
    pub md: bool,
    pub tolerances: Vec<(String, f64)>,
    pub alpha: f64,
}

/// `heist diff BASE NEW`: exit 0 when nothing regressed, 1 on a regression, 2 when the two
/// cannot be compared (unreadable, older format, another experiment).
pub(super) fn diff_command(r: DiffRequest, color: bool) -> ExitCode {
    let cannot = |d: Diagnostic| {
        render(d, color);
        ExitCode::from(EXIT_USAGE)
    };
    let (base_rows, base_run) = match read_rows(&r.base) {
        Ok(x) => x,
        Err(e) => return cannot(read_error(&e)),
    };
    let (new_rows, new_run) = match read_rows(&r.new) {
        Ok(x) => x,
        Err(e) => return cannot(read_error(&e)),
    };
    // Tolerances: heist's defaults, then the experiment's (new run first), then the flags.
    let mut tolerances: BTreeMap<String, f64> = DEFAULT_TOLERANCES
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    if let Some(manifest) = new_run.as_ref().or(base_run.as_ref()) {
        tolerances.extend(manifest.program.experiment.tolerances.clone());
    }
    tolerances.extend(r.tolerances.iter().cloned());
    let options = diff::Options {
        tolerances,
        alpha: r.alpha,
    };
    let name = |p: &Path| p.display().to_string();
    let d =
        match diff::diff(
            &name(&r.base),
            &base_rows,
            &name(&r.new),
            &new_rows,
            &options,
        ) {
            Ok(d) => d,
            Err(e) => return cannot(Diagnostic::error(Code::Diff, e.to_string()).help(
                "compare two runs of the same experiment, or a run with its own committed baseline",
            )),
        };
    if r.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&d).expect("a diff serializes")
        );
    } else if r.md {
        print!("{}", diff::render::markdown(&d));
    } else {
        print!("{}", diff::render::text(&d));
    }
    if d.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    }
}

pub(super) fn formats(names: &[super::FormatName]) -> Vec<Format> {
    names
        .iter()
        .map(|f| match f {
            super::FormatName::Md => Format::Md,
            super::FormatName::Html => Format::Html,
            super::FormatName::Tex => Format::Tex,
        })
        .collect()
}
