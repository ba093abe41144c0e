//! The command line: flags are defined here with their help, and each subcommand calls one
//! function. Diagnostics are rendered here and nowhere else.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod format;
mod metric;
mod program;
mod progress;
mod report;
mod run;
mod stats;

use metric::{run_metric, MetricName, MetricRequest};
use program::{check, show, to_overrides};
use stats::{run_stats, StatName};

use crate::diagnostics::{self, Code, Diagnostic};
use crate::metrics::extractor::Extractor;
use crate::metrics::pixel::PixelOptions;
use crate::run::{single, Backend, Checkpointing};
use crate::stats::Bound;

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
    /// Train one victim, or one attack point's surrogate on the victim's answers (debugging an
    /// experiment's models one at a time).
    ///
    /// With --attack, the victim is trained first unless --victim-weights gives it; the
    /// surrogate is then compared with the victim on held-out images (PSNR, SSIM, a grid).
    #[command(group(clap::ArgGroup::new("what").required(true).args(["victim", "attack"])))]
    Train {
        /// The `.exp` file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The victim to train.
        #[arg(long, value_name = "NAME")]
        victim: Option<String>,
        /// The attack whose surrogate to train.
        #[arg(long, value_name = "NAME")]
        attack: Option<String>,
        /// Which of the attack's points (fraction x augmentation x seed, in `heist show`
        /// order, from 0).
        #[arg(long, value_name = "N", default_value_t = 0, requires = "attack")]
        point: usize,
        /// The victim's weights (saved by `heist train --victim`) instead of training it.
        #[arg(long, value_name = "PATH", requires = "attack")]
        victim_weights: Option<PathBuf>,
        /// Where to write the trained weights (.safetensors).
        #[arg(long, value_name = "PATH", default_value = "weights.safetensors")]
        out: PathBuf,
        /// With --attack: write an image grid (input | victim | surrogate) here (.png).
        #[arg(long, value_name = "PATH", requires = "attack")]
        grid: Option<PathBuf>,
        /// With --attack: the dataset to compare victim and surrogate on (default: the victim
        /// test set of the attack's evaluation).
        #[arg(long, value_name = "DATASET", requires = "attack")]
        compare: Option<String>,
        /// Keep a checkpoint of the training here and continue from it when it exists (the
        /// victim with --victim, the surrogate with --attack); removed when training ends.
        #[arg(long, value_name = "PATH")]
        checkpoint: Option<PathBuf>,
        /// Seconds between checkpoints (0: after every step).
        #[arg(
            long,
            value_name = "SECONDS",
            default_value_t = 60.0,
            requires = "checkpoint"
        )]
        checkpoint_every: f64,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Send a dataset to a victim through its black-box interface and save the answers.
    Query {
        /// The `.exp` file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The victim to query.
        #[arg(long, value_name = "NAME")]
        victim: String,
        /// Weights of a trained victim (saved by `heist train --victim`); without them it is
        /// trained first.
        #[arg(long, value_name = "PATH")]
        weights: Option<PathBuf>,
        /// The dataset to send.
        #[arg(long, value_name = "DATASET")]
        data: String,
        /// The folder for the answers (one PNG per image).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        run: RunFlags,
    },
    /// List the jobs a run of the experiment needs, whether each is cached, and why not.
    Plan {
        /// The `.exp` file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Only the jobs whose id matches (`*` is a wildcard; repeatable), and what they need.
        #[arg(long, value_name = "PATTERN")]
        only: Vec<String>,
        /// The cache folder (default: $HEIST_CACHE, else ~/.cache/heist).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Run the experiment: train, query, evaluate (from the cache where possible) and write a
    /// run directory with manifest.yaml, results.csv, samples/ and logs/.
    Run {
        /// The `.exp` file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The run directory (default: runs/<experiment>-<UTC time>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Jobs at a time.
        #[arg(long, short = 'j', value_name = "N", default_value_t = 1)]
        jobs: usize,
        /// Only the jobs whose id matches (`*` is a wildcard; repeatable), and what they need.
        #[arg(long, value_name = "PATTERN")]
        only: Vec<String>,
        /// The cache folder (default: $HEIST_CACHE, else ~/.cache/heist).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        /// Seconds between checkpoints of a training job, which an interrupted run continues
        /// from (0: after every step).
        #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
        checkpoint_every: f64,
        /// Where the jobs run: `local` (here), or `script` (print the `heist worker` commands
        /// that run them, dependencies first, and run nothing).
        #[arg(long, value_enum, default_value_t = run::Executor::Local)]
        executor: run::Executor,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Run one job of a planned experiment by its key, from the description `heist run
    /// --executor script` left in the cache (what a cluster executor submits); exit 0 when its
    /// entry is stored (or was there), 1 when it failed, 130 when interrupted.
    #[command(hide = true)]
    Worker {
        /// The cache folder the job's description and its inputs are in.
        #[arg(value_name = "CACHE_DIR")]
        cache: PathBuf,
        /// The job's key (`heist plan --json` lists them).
        #[arg(value_name = "JOB_KEY")]
        key: String,
        /// Seconds between checkpoints of a training job (0: after every step).
        #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
        checkpoint_every: f64,
        /// No progress bars.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write a run's tables and figures, paper-style: Markdown, self-contained HTML, LaTeX.
    Report {
        /// The run directory (`heist run` prints it at its end).
        #[arg(value_name = "RUN_DIR")]
        run_dir: PathBuf,
        /// Where to write the report (default: RUN_DIR/report).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Output formats, comma-separated (default: the report's `formats`, else all three).
        #[arg(long, value_enum, value_delimiter = ',', value_name = "FORMATS")]
        format: Option<Vec<FormatName>>,
        /// Which `report NAME { ... }` of the experiment (default: its first; without any, every
        /// evaluation's tables and figures).
        #[arg(long, value_name = "NAME")]
        report: Option<String>,
    },
    /// Compare two runs' results: exit 0 when nothing regressed beyond tolerance, 1 on a
    /// regression or a missing result, 2 when they cannot be compared.
    Diff {
        /// The baseline: a run directory or a results.csv.
        #[arg(value_name = "BASE")]
        base: PathBuf,
        /// The new run: a run directory or a results.csv.
        #[arg(value_name = "NEW")]
        new: PathBuf,
        /// Print one JSON object.
        #[arg(long, conflicts_with = "md")]
        json: bool,
        /// Print Markdown for a pull-request comment.
        #[arg(long)]
        md: bool,
        /// Relative tolerance of a metric, e.g. `fid=5%` (repeatable; overrides the experiment's).
        #[arg(long, value_name = "METRIC=REL")]
        tolerance: Vec<String>,
        /// Significance level of the Welch test over seeds.
        #[arg(long, value_name = "A", default_value_t = 0.05)]
        alpha: f64,
    },
    /// See or prune the artefact cache.
    Cache {
        #[command(subcommand)]
        what: CacheCommand,
    },
    /// Benchmarks (compare with the PyTorch twins in bench/).
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
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

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Entries and sizes by stage.
    Status {
        /// The cache folder (default: $HEIST_CACHE, else ~/.cache/heist).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
    /// Remove entries not used for a while (and leftovers of interrupted runs).
    Gc {
        /// Remove entries unused for more than this many days.
        #[arg(long, value_name = "DAYS", default_value_t = 30.0)]
        older_than: f64,
        /// Remove every entry.
        #[arg(long)]
        all: bool,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// The cache folder (default: $HEIST_CACHE, else ~/.cache/heist).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Time one full training step (D and G updates) and a generator forward pass on random
    /// images; prints one JSON line like `bench/train_twin.py bench`.
    Train {
        #[arg(long, value_enum)]
        model: crate::bench::BenchModel,
        /// Image size (HR size for srresnet).
        #[arg(long, default_value_t = 64)]
        size: u32,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Timed repetitions after one warm-up (medians are reported).
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[arg(long, value_enum, default_value_t = Backend::Flex)]
        backend: Backend,
    },
}

/// Flags of every command that computes with models.
#[derive(Debug, clap::Args)]
struct RunFlags {
    /// Override a variable or field, e.g. `--set steps=20`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// The compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatName {
    Md,
    Html,
    Tex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExtractorName {
    /// pytorch-fid's Inception v3 pool3 features: FID proper (needs --inception-weights).
    InceptionV3,
    /// A fixed, seeded random-convolution network (reported as FD-random_conv, not FID).
    RandomConv,
}

/// The most jobs at a time: each runs on a thread of its own, and also uses burn's threads.
const MAX_JOBS: usize = 256;

/// Exit status for a problem in the input (an invalid experiment, a failed check).
pub(crate) const EXIT_INVALID: u8 = 1;
/// Exit status for a usage problem (bad flags, unreadable command-line files).
pub(crate) const EXIT_USAGE: u8 = 2;

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    crate::engine::backend::keep_freed_memory();
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
                return usage(
                    color,
                    "--y-channel and --crop-border apply to psnr and ssim only",
                );
            }
            if extractor.is_some() && matches!(metric, MetricName::Psnr | MetricName::Ssim) {
                return usage(color, "--extractor applies to fid and kid only");
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
                        return usage(color, "--extractor inception-v3 needs --inception-weights PATH (or HEIST_INCEPTION_WEIGHTS)")
                    }
                },
                json,
            };
            finish(run_metric(&request), color)
        }
        Command::Train {
            file,
            victim,
            attack,
            point,
            victim_weights,
            out,
            grid,
            compare,
            checkpoint,
            checkpoint_every,
            run,
        } => {
            let Some(every) = seconds(checkpoint_every) else {
                return usage(
                    color,
                    "--checkpoint-every takes a number of seconds, 0 or more",
                );
            };
            let checkpoint = checkpoint.map(|path| Checkpointing { path, every });
            with_program(&file, run, color, |common| match (victim, attack) {
                (Some(v), _) => single::train_victim(common, &v, &out, checkpoint.as_ref()),
                (None, Some(a)) => single::train_attack(
                    common,
                    &single::AttackRequest {
                        attack: &a,
                        point,
                        victim_weights: victim_weights.as_deref(),
                        out: &out,
                        grid: grid.as_deref(),
                        compare: compare.as_deref(),
                        checkpoint: checkpoint.as_ref(),
                    },
                ),
                (None, None) => unreachable!("clap requires one"),
            })
        }
        Command::Query {
            file,
            victim,
            weights,
            data,
            out,
            run,
        } => with_program(&file, run, color, |common| {
            single::query(common, &victim, weights.as_deref(), &data, &out)
        }),
        Command::Plan {
            file,
            json,
            only,
            cache,
            run,
        } => match program::load_for_run(&file, &to_overrides(run.overrides), color) {
            Ok(p) => {
                run::plan_command(&file, &p, run.backend, cache.as_deref(), &only, json, color)
            }
            Err(code) => ExitCode::from(code),
        },
        Command::Run {
            file,
            out,
            jobs,
            only,
            cache,
            checkpoint_every,
            executor,
            run,
        } => {
            if jobs == 0 || jobs > MAX_JOBS {
                return usage(
                    color,
                    &format!(
                        "--jobs must be between 1 and {MAX_JOBS} (each job also uses every core)"
                    ),
                );
            }
            let Some(checkpoint_every) = seconds(checkpoint_every) else {
                return usage(
                    color,
                    "--checkpoint-every takes a number of seconds, 0 or more",
                );
            };
            match program::load_for_run(&file, &to_overrides(run.overrides), color) {
                Ok(p) => run::run_command(
                    run::RunCommand {
                        file: &file,
                        program: &p,
                        backend: run.backend,
                        cache,
                        executor,
                        request: crate::run::RunRequest {
                            out,
                            jobs,
                            only,
                            checkpoint_every,
                            interrupt: crate::interrupt::Interrupt::on_signals(),
                        },
                        quiet: run.quiet,
                    },
                    color,
                ),
                Err(code) => ExitCode::from(code),
            }
        }
        Command::Worker {
            cache,
            key,
            checkpoint_every,
            quiet,
        } => {
            let Some(checkpoint_every) = seconds(checkpoint_every) else {
                return usage(
                    color,
                    "--checkpoint-every takes a number of seconds, 0 or more",
                );
            };
            run::worker_command(cache, key, checkpoint_every, quiet, color)
        }
        Command::Report {
            run_dir,
            out,
            format,
            report,
        } => report::report_command(
            &run_dir,
            out,
            &crate::report::Options {
                report,
                formats: format.as_deref().map(report::formats),
            },
            color,
        ),
        Command::Diff {
            base,
            new,
            json,
            md,
            tolerance,
            alpha,
        } => {
            if !(alpha > 0.0 && alpha < 1.0) {
                return usage(color, "--alpha must be between 0 and 1");
            }
            let mut tolerances = vec![];
            for t in &tolerance {
                match report::parse_tolerance(t) {
                    Ok(x) => tolerances.push(x),
                    Err(e) => return usage(color, &e),
                }
            }
            report::diff_command(
                report::DiffRequest {
                    base,
                    new,
                    json,
                    md,
                    tolerances,
                    alpha,
                },
                color,
            )
        }
        Command::Cache { what } => match what {
            CacheCommand::Status { cache } => run::cache_status(cache.as_deref(), color),
            CacheCommand::Gc {
                older_than,
                all,
                dry_run,
                cache,
            } => run::cache_gc(cache.as_deref(), older_than, all, dry_run, color),
        },
        Command::Bench {
            what:
                BenchCommand::Train {
                    model,
                    size,
                    batch,
                    repeats,
                    backend,
                },
        } => {
            if size < 32 || !size.is_power_of_two() || batch == 0 || repeats == 0 {
                return usage(color, "--size must be a power of two of at least 32, --batch and --repeats at least 1");
            }
            match crate::bench::bench_train(model, size, batch, repeats, backend) {
                Ok(line) => print(&line),
                Err(e) => fail(&e, EXIT_INVALID, color),
            }
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
                return usage(color, "--alpha must be between 0 and 1");
            }
            let bound = match (bound_d, bound_raw) {
                (_, Some(r)) => Bound::Raw(r),
                (Some(d), None) => Bound::CohenD(d),
                (None, None) => Bound::CohenD(0.3),
            };
            if matches!(bound, Bound::CohenD(x) | Bound::Raw(x) if !(x > 0.0 && x.is_finite())) {
                return usage(color, "equivalence bounds must be positive");
            }
            let groups = match groups.as_deref() {
                None => None,
                Some([a, b]) if a != b => Some([a.clone(), b.clone()]),
                Some(_) => {
                    return usage(color, "--groups names two different groups: --groups A,B")
                }
            };
            finish(
                run_stats(test, &csv, &value, &group, groups, bound, alpha, json),
                color,
            )
        }
    }
}

/// Checks `file` with the run flags' overrides and runs `command` on the program.
fn with_program(
    file: &std::path::Path,
    run: RunFlags,
    color: bool,
    command: impl FnOnce(&single::Common) -> Result<String, single::SingleError>,
) -> ExitCode {
    let Some(program) = program::load(file, &to_overrides(run.overrides), color) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let quiet = run.quiet;
    let observer = move |interruptible: bool| -> Box<dyn crate::run::Observer> {
        let bar = progress::Bar::new(quiet);
        if interruptible {
            Box::new(bar.interruptible(crate::interrupt::Interrupt::on_signals()))
        } else {
            Box::new(bar)
        }
    };
    let common = single::Common {
        file,
        program: &program,
        backend: run.backend,
        observer: &observer,
    };
    match command(&common) {
        Ok(text) => print(&text),
        Err(e) => {
            let status = if e.interrupted() {
                crate::interrupt::EXIT_INTERRUPTED
            } else {
                EXIT_INVALID
            };
            fail(&e, status, color)
        }
    }
}

/// A `--...-every SECONDS` value.
fn seconds(value: f64) -> Option<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(value).ok()
}

/// A usage problem clap's own checks cannot see (a bound, two flags that exclude each other).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(
    code(heist::usage),
    help("`heist --help` and `heist COMMAND --help` list the flags")
)]
struct UsageError {
    message: String,
}

/// A usage problem found after clap: rendered like every other error, exit 2.
pub(crate) fn usage(color: bool, message: &str) -> ExitCode {
    fail(
        &UsageError {
            message: message.to_string(),
        },
        EXIT_USAGE,
        color,
    )
}

/// Renders a library error (code, message, help) and returns `status`.
pub(crate) fn fail(error: &dyn miette::Diagnostic, status: u8, color: bool) -> ExitCode {
    eprint!("{}", diagnostics::render_error(error, color));
    ExitCode::from(status)
}

/// Writes a command's output to stdout; exit 1 when stdout is gone.
pub(crate) fn print(text: &str) -> ExitCode {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::from(EXIT_INVALID);
    }
    ExitCode::SUCCESS
}

/// Prints a command's output, or renders its error (nothing on stdout) and exits 1.
pub(crate) fn finish(result: Result<String, Box<Diagnostic>>, color: bool) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(diagnostic) => {
            let code = if diagnostic.code == Code::Interrupted {
                crate::interrupt::EXIT_INTERRUPTED
            } else {
                EXIT_INVALID
            };
            eprint!(
                "{}",
                diagnostics::render(&[*diagnostic], &crate::source::SourceMap::new(), color)
            );
            ExitCode::from(code)
        }
    }
}
