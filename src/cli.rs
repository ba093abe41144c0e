//! The command line: flags are defined here with their help, and each subcommand calls one
//! function. Diagnostics are rendered here and nowhere else.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostics::{self, Code, Diagnostic};
use crate::metrics::extractor::Extractor;
use crate::metrics::pixel::{self, PixelMetric, PixelOptions};
use crate::metrics::{features, frechet, MetricError};
use crate::sema::{self, Checked, Override, Program};
use crate::stats::{self, Bound, StatsError};

/// heist: declare, check, run and report model-extraction experiments on image-translation models.
#[derive(Debug, Parser)]
#[command(name = "heist", version, about, long_about = None)]
struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check experiment files without running anything: exit 0 when valid, 1 when not.
    Check {
        /// The `.exp` files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Override a variable or field, e.g. `--set root=/data` or `--set steal.fractions=[50%]`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Print the fully resolved program (what a run executes) as YAML or JSON.
    Show {
        /// The `.exp` file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Override a variable or field, e.g. `--set root=/data` or `--set steal.fractions=[50%]`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Print JSON instead of YAML.
        #[arg(long)]
        json: bool,
    },
    /// Measure images: PSNR or SSIM of paired images, FID or KID of two sets.
    ///
    /// REF and TEST are two image files or two folders paired by file name (psnr, ssim), or two
    /// image folders or two .npy feature matrices of N x D (fid, kid).
    Metric {
        #[arg(value_enum)]
        metric: MetricName,
        /// Reference image, folder or .npy file.
        #[arg(value_name = "REF")]
        reference: PathBuf,
        /// Test image, folder or .npy file.
        #[arg(value_name = "TEST")]
        test: PathBuf,
        /// PSNR/SSIM on the BT.601 Y channel (the super-resolution convention).
        #[arg(long)]
        y_channel: bool,
        /// PSNR/SSIM: pixels cropped from every border first.
        #[arg(long, value_name = "N")]
        crop_border: Option<usize>,
        /// FID/KID on folders: the feature extractor (default: inception-v3 when weights are
        /// given, else random-conv).
        #[arg(long, value_enum)]
        extractor: Option<ExtractorName>,
        /// pytorch-fid's Inception v3 weights (`pt_inception-2015-12-05-6726825d.pth`, or a
        /// .safetensors with the same keys).
        #[arg(long, value_name = "PATH", env = "HEIST_INCEPTION_WEIGHTS")]
        inception_weights: Option<PathBuf>,
        /// FID/KID with `--extractor random-conv`: the seed of its weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Statistics of ratings: Welch's t-test or TOST equivalence (differences are A - B).
    Stats {
        #[arg(value_enum)]
        test: StatName,
        /// CSV file with a header row.
        #[arg(value_name = "CSV")]
        csv: PathBuf,
        /// The column of ratings.
        #[arg(long, value_name = "COL")]
        value: String,
        /// The column naming each rating's group.
        #[arg(long, value_name = "COL")]
        group: String,
        /// The two groups A,B (default: the two groups in order of first appearance).
        #[arg(long, value_name = "A,B", value_delimiter = ',')]
        groups: Option<Vec<String>>,
        /// TOST bounds of +-D in Cohen's d (default 0.3, the paper's).
        #[arg(long, value_name = "D", conflicts_with = "bound_raw")]
        bound_d: Option<f64>,
        /// TOST bounds of +-R in the ratings' units.
        #[arg(long, value_name = "R")]
        bound_raw: Option<f64>,
        /// Significance level.
        #[arg(long, value_name = "A", default_value_t = 0.05)]
        alpha: f64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MetricName {
    Psnr,
    Ssim,
    Fid,
    Kid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExtractorName {
    /// pytorch-fid's Inception v3 pool3 features: FID proper (needs --inception-weights).
    InceptionV3,
    /// A fixed, seeded random-convolution network (reported as FD-random_conv, not FID).
    RandomConv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StatName {
    Welch,
    Tost,
}

/// Exit status for a problem in the input (an invalid experiment, a failed check).
const EXIT_INVALID: u8 = 1;
/// Exit status for a usage problem (bad flags, unreadable command-line files).
const EXIT_USAGE: u8 = 2;

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    match cli.command {
        Command::Check { files, overrides } => check(&files, &to_overrides(overrides), color),
        Command::Show {
            file,
            overrides,
            json,
        } => show(&file, &to_overrides(overrides), json, color),
        Command::Metric {
            metric,
            reference,
            test,
            y_channel,
            crop_border,
            extractor,
            inception_weights,
            seed,
            json,
        } => {
            let pixel = y_channel || crop_border.is_some();
            if pixel && matches!(metric, MetricName::Fid | MetricName::Kid) {
                return usage("--y-channel and --crop-border apply to psnr and ssim only");
            }
            if extractor.is_some() && matches!(metric, MetricName::Psnr | MetricName::Ssim) {
                return usage("--extractor applies to fid and kid only");
            }
            let request = MetricRequest {
                metric,
                reference,
                test,
                options: PixelOptions {
                    y_channel,
                    crop_border: crop_border.unwrap_or(0),
                },
                extractor: match (extractor, inception_weights) {
                    (Some(ExtractorName::RandomConv), _) | (None, None) => Extractor::RandomConv { seed },
                    (_, Some(weights)) => Extractor::InceptionV3 { weights },
                    (Some(ExtractorName::InceptionV3), None) => {
                        return usage("--extractor inception-v3 needs --inception-weights PATH (or HEIST_INCEPTION_WEIGHTS)")
                    }
                },
                json,
            };
            finish(run_metric(&request), color)
        }
        Command::Stats {
            test,
            csv,
            value,
            group,
            groups,
            bound_d,
            bound_raw,
            alpha,
            json,
        } => {
            if !(alpha > 0.0 && alpha < 1.0) {
                return usage("--alpha must be between 0 and 1");
            }
            let bound = match (bound_d, bound_raw) {
                (_, Some(r)) => Bound::Raw(r),
                (Some(d), None) => Bound::CohenD(d),
                (None, None) => Bound::CohenD(0.3),
            };
            if matches!(bound, Bound::CohenD(x) | Bound::Raw(x) if !(x > 0.0 && x.is_finite())) {
                return usage("equivalence bounds must be positive");
            }
            let groups = match groups.as_deref() {
                None => None,
                Some([a, b]) if a != b => Some([a.clone(), b.clone()]),
                Some(_) => return usage("--groups names two different groups: --groups A,B"),
            };
            finish(
                run_stats(test, &csv, &value, &group, groups, bound, alpha, json),
                color,
            )
        }
    }
}

fn to_overrides(raw: Vec<String>) -> Vec<Override> {
    raw.into_iter().map(|text| Override { text }).collect()
}

/// `heist check FILE...`
fn check(files: &[PathBuf], overrides: &[Override], color: bool) -> ExitCode {
    let mut status = 0u8;
    for file in files {
        match checked(file, overrides, color) {
            Ok(Some(program)) => {
                println!("ok: {} ({})", file.display(), summary(&program));
            }
            Ok(None) => status = status.max(EXIT_INVALID),
            Err(code) => status = status.max(code),
        }
    }
    ExitCode::from(status)
}

/// `heist show FILE`
fn show(file: &Path, overrides: &[Override], json: bool, color: bool) -> ExitCode {
    let program = match checked(file, overrides, color) {
        Ok(Some(program)) => program,
        Ok(None) => return ExitCode::from(EXIT_INVALID),
        Err(code) => return ExitCode::from(code),
    };
    let text = if json {
        serde_json::to_string_pretty(&program)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string())
    } else {
        serde_yaml::to_string(&program).map_err(|e| e.to_string())
    };
    match text {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            if out
                .write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                return ExitCode::from(EXIT_INVALID);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot print the program: {e}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// Checks one file and renders its diagnostics; `Ok(None)` when it has errors.
fn checked(file: &Path, overrides: &[Override], color: bool) -> Result<Option<Program>, u8> {
    let Checked {
        sources,
        diagnostics,
        program,
    } = sema::check_file(file, overrides).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
    let all = diagnostics.iter().cloned().collect::<Vec<_>>();
    if !all.is_empty() {
        eprint!("{}", diagnostics::render(&all, &sources, color));
    }
    if program.is_none() {
        let n = diagnostics.error_count();
        eprintln!(
            "error: `{}` is not a valid experiment: {n} error{}",
            file.display(),
            if n == 1 { "" } else { "s" }
        );
    }
    Ok(program)
}

/// "3 datasets, 1 victim, 2 attacks (20 surrogates), ..."
fn summary(p: &Program) -> String {
    let surrogates: usize = p.attacks.values().map(|a| a.points.len()).sum();
    let parts = [
        (p.datasets.len(), "dataset"),
        (p.victims.len(), "victim"),
        (p.attacks.len(), "attack"),
        (p.evaluations.len(), "evaluation"),
        (p.user_studies.len(), "user study"),
        (p.comparisons.len(), "comparison"),
        (p.reports.len(), "report"),
    ];
    let mut out: Vec<String> = Vec::new();
    for (n, what) in parts {
        if n == 0 {
            continue;
        }
        let plural = match (n, what) {
            (1, _) => what.to_string(),
            (_, "user study") => "user studies".to_string(),
            _ => format!("{what}s"),
        };
        let mut text = format!("{n} {plural}");
        if what == "attack" {
            text.push_str(&format!(
                " ({surrogates} surrogate{})",
                if surrogates == 1 { "" } else { "s" }
            ));
        }
        out.push(text);
    }
    if out.is_empty() {
        "nothing declared".into()
    } else {
        out.join(", ")
    }
}

/// A usage problem found after clap: message and exit 2.
fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Prints a command's output, or renders its error (nothing on stdout) and exits 1.
fn finish(result: Result<String, Box<Diagnostic>>, color: bool) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(diagnostic) => {
            eprint!(
                "{}",
                diagnostics::render(&[*diagnostic], &crate::source::SourceMap::new(), color)
            );
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn metric_error(e: MetricError) -> Box<Diagnostic> {
    let help = e.help();
    let d = Diagnostic::error(Code::MetricInput, e.to_string());
    Box::new(match help {
        Some(h) => d.help(h),
        None => d,
    })
}

fn stats_error(e: StatsError) -> Box<Diagnostic> {
    let help = e.help();
    let d = Diagnostic::error(Code::StatsInput, e.to_string());
    Box::new(match help {
        Some(h) => d.help(h),
        None => d,
    })
}

struct MetricRequest {
    metric: MetricName,
    reference: PathBuf,
    test: PathBuf,
    options: PixelOptions,
    extractor: Extractor,
    json: bool,
}

/// `heist metric ...`: the text to print.
fn run_metric(r: &MetricRequest) -> Result<String, Box<Diagnostic>> {
    for path in [&r.reference, &r.test] {
        if !path.exists() {
            return Err(metric_error(MetricError::Unreadable {
                path: path.clone(),
                reason: "no such file or folder".into(),
            }));
        }
    }
    match r.metric {
        MetricName::Psnr | MetricName::Ssim => {
            let which = if r.metric == MetricName::Psnr {
                PixelMetric::Psnr
            } else {
                PixelMetric::Ssim
            };
            let report =
                pixel::measure(&r.reference, &r.test, which, r.options).map_err(metric_error)?;
            for note in &report.notes {
                eprintln!("note: {note}");
            }
            if r.json {
                return Ok(json_line(&report));
            }
            let name = if which == PixelMetric::Psnr {
                "PSNR"
            } else {
                "SSIM"
            };
            let unit = if which == PixelMetric::Psnr {
                " dB"
            } else {
                ""
            };
            let mut convention = Vec::new();
            if r.options.y_channel {
                convention.push("Y channel".to_string());
            }
            if r.options.crop_border > 0 {
                convention.push(format!("{} px border cropped", r.options.crop_border));
            }
            let convention = if convention.is_empty() {
                String::new()
            } else {
                format!(" ({})", convention.join(", "))
            };
            let mut out = String::new();
            if report.n > 1 {
                for (file, value) in &report.per_image {
                    out.push_str(&format!("{file}\t{}\n", fixed(*value)));
                }
            }
            out.push_str(&format!(
                "{name}{convention}: {}{unit} (mean of {} image{}, sd {})\n",
                fixed(report.mean),
                report.n,
                if report.n == 1 { "" } else { "s" },
                fixed(report.std)
            ));
            Ok(out)
        }
        MetricName::Fid | MetricName::Kid => {
            let npy = |p: &Path| p.extension().is_some_and(|e| e == "npy");
            let (a, b, space) = match (npy(&r.reference), npy(&r.test)) {
                (true, true) => (
                    features::read_npy(&r.reference).map_err(metric_error)?,
                    features::read_npy(&r.test).map_err(metric_error)?,
                    None,
                ),
                (false, false) if r.reference.is_dir() && r.test.is_dir() => {
                    if let Extractor::RandomConv { .. } = r.extractor {
                        eprintln!(
                            "note: no Inception v3 weights given (--inception-weights): distances are in the random_conv feature space ({}), not FID",
                            r.extractor.distance_name()
                        );
                    }
                    let (a, b) = rayon::join(
                        || r.extractor.extract_folder(&r.reference),
                        || r.extractor.extract_folder(&r.test),
                    );
                    (
                        a.map_err(metric_error)?,
                        b.map_err(metric_error)?,
                        Some(r.extractor.clone()),
                    )
                }
                _ => return Err(metric_error(MetricError::MixedInputs)),
            };
            let is_fid = r.metric == MetricName::Fid;
            let value = if is_fid {
                frechet::fid(&a, &b)
            } else {
                frechet::kid(&a, &b)
            }
            .map_err(metric_error)?;
            let metric = if is_fid { "fid" } else { "kid" };
            let name = match (&space, is_fid) {
                (None, true) => "FID".to_string(),
                (None, false) => "KID".to_string(),
                (Some(e), true) => e.distance_name().to_string(),
                (Some(e), false) => e.distance_name().replace("FID", "KID").replace("FD", "KID"),
            };
            if r.json {
                let feature_space = match space {
                    None => serde_json::json!({"kind": "precomputed"}),
                    Some(e) => serde_json::to_value(e).unwrap_or_default(),
                };
                let object = serde_json::json!({
                    "metric": metric,
                    "name": name,
                    "value": value,
                    "n_a": a.rows,
                    "n_b": b.rows,
                    "dim": a.cols,
                    "feature_space": feature_space,
                });
                return Ok(json_line(&object));
            }
            Ok(format!(
                "{name}: {} ({} vs {} samples, {}-d features)\n",
                fixed(value),
                a.rows,
                b.rows,
                a.cols
            ))
        }
    }
}

/// `heist stats welch|tost ...`: the text to print.
#[allow(clippy::too_many_arguments)]
fn run_stats(
    test: StatName,
    csv: &Path,
    value: &str,
    group: &str,
    groups: Option<[String; 2]>,
    bound: Bound,
    alpha: f64,
    json: bool,
) -> Result<String, Box<Diagnostic>> {
    let g = stats::read_groups(csv, value, group, groups).map_err(stats_error)?;
    let a = stats::GroupSummary::of(&g.names[0], &g.values[0]);
    let b = stats::GroupSummary::of(&g.names[1], &g.values[1]);
    let groups_text = format!(
        "{}: M = {}, SD = {}, n = {}; {}: M = {}, SD = {}, n = {}",
        a.name,
        short(a.mean),
        short(a.sd),
        a.n,
        b.name,
        short(b.mean),
        short(b.sd),
        b.n
    );
    match test {
        StatName::Welch => {
            let w = stats::welch(&a, &b);
            if json {
                return Ok(json_line(&w));
            }
            Ok(format!(
                "Welch's t-test ({} - {}): t({}) = {}, p = {}, d = {}\n{groups_text}\n",
                a.name,
                b.name,
                short(w.df),
                short(w.t),
                p_value(w.p),
                short(w.cohen_d)
            ))
        }
        StatName::Tost => {
            let t = stats::tost(&a, &b, bound, alpha);
            if json {
                return Ok(json_line(&t));
            }
            Ok(format!(
                "TOST ({} - {}): {} within ±{} (d = {}): p = {} (lower {}, upper {}), alpha = {}\n{groups_text}\n",
                a.name,
                b.name,
                if t.equivalent { "equivalent" } else { "not equivalent" },
                short(t.high_raw),
                short(t.bound_d),
                p_value(t.p),
                p_value(t.p_lower),
                p_value(t.p_upper),
                alpha
            ))
        }
    }
}

fn json_line<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .map(|s| s + "\n")
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"))
}

/// Metric values: four decimals, `inf` for identical images.
fn fixed(v: f64) -> String {
    if v.is_infinite() {
        "inf".into()
    } else {
        format!("{v:.4}")
    }
}

/// Statistics as a paper writes them: two decimals.
fn short(v: f64) -> String {
    format!("{v:.2}")
}

/// p-values: three significant decimals, scientific below 0.001.
fn p_value(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}
