//! `heist plan`, `heist run`, `heist worker` and `heist cache`: flags turned into session
//! requests, and their outcomes shown (text, JSON, progress bars).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::progress::{shown, Bar};
use super::{fail, EXIT_INVALID, EXIT_USAGE};
use crate::interrupt::{Interrupt, EXIT_INTERRUPTED};
use crate::plan::Job;
use crate::run::worker::{self, WorkRequest, Worked};
use crate::run::{self, Backend, Observer, Reporter, RunError, RunRequest, Session, Status};
use crate::sema::program::Program;

/// How `heist run` executes the jobs it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Executor {
    /// Here, `--jobs N` at a time.
    Local,
    /// Nowhere: leave each needed job's description in the cache and print the `heist worker`
    /// commands that run them, dependencies first (a shell script); run again to collect.
    Script,
}

/// The exit status of a run's error.
fn exit(error: &RunError) -> u8 {
    match error {
        RunError::OpenCache { .. }
        | RunError::NoMatch { .. }
        | RunError::Backend(_)
        | RunError::RunDirectory { .. }
        | RunError::NotARunDirectory { .. }
        | RunError::BadKey { .. } => EXIT_USAGE,
        RunError::Interrupted { .. } => EXIT_INTERRUPTED,
        _ => EXIT_INVALID,
    }
}

/// Renders a run's error and returns its exit status.
fn failed(error: RunError, color: bool) -> ExitCode {
    fail(&error, exit(&error), color)
}

/// `heist plan FILE [--json]`
pub(super) fn plan_command(
    file: &Path,
    program: &Program,
    backend: Backend,
    cache: Option<&Path>,
    only: &[String],
    json: bool,
    color: bool,
) -> ExitCode {
    let session = match Session::open(program, file, backend, cache) {
        Ok(s) => s,
        Err(e) => return failed(e, color),
    };
    let preview = match session.preview(only) {
        Ok(p) => p,
        Err(e) => return failed(e, color),
    };
    let plan = session.plan();
    let to_run = preview.runs.iter().filter(|&&r| r).count();
    let n_cached = preview
        .statuses
        .iter()
        .filter(|s| **s == Status::Cached)
        .count();
    let jobs = plan.jobs.iter().zip(&preview.statuses).zip(&preview.runs);
    let mut out = String::new();
    if json {
        let jobs: Vec<_> = jobs
            .map(|((job, status), runs)| {
                json!({
                    "id": job.id, "stage": job.work.stage(), "key": job.key.0,
                    "deps": job.deps.iter().map(|&d| &plan.jobs[d].id).collect::<Vec<_>>(),
                    "status": status, "runs": runs,
                })
            })
            .collect();
        out = serde_json::to_string(&json!({
            "experiment": plan.experiment, "backend": backend.name(),
            "cache": session.cache().root(), "jobs": jobs,
            "summary": {"jobs": plan.jobs.len(), "cached": n_cached, "to_run": to_run},
        }))
        .expect("JSON")
            + "\n";
    } else {
        use std::fmt::Write as _;
        let _ = writeln!(
            out,
            "plan of `{}` on {} (cache {}): {} jobs, {n_cached} cached, {to_run} to run",
            plan.experiment,
            backend.name(),
            session.cache().root().display(),
            plan.jobs.len()
        );
        for ((job, status), runs) in jobs {
            let state = match (status, runs) {
                (Status::Cached, _) => "cached",
                (_, true) => "run",
                (_, false) => "skip",
            };
            let _ = write!(out, "  {state:<6} {}", job.id);
            if *status != Status::Cached {
                let why = if *runs {
                    status.describe()
                } else {
                    "not needed: what uses it is cached or not selected".into()
                };
                let _ = write!(out, "  ({why})");
            }
            out.push('\n');
            if !job.deps.is_empty() && *runs {
                let deps: Vec<&str> = job.deps.iter().map(|&d| plan.jobs[d].id.as_str()).collect();
                let _ = writeln!(out, "           needs {}", deps.join(", "));
            }
        }
    }
    super::print(&out)
}

/// Progress on the terminal: one overall bar, a bar per training job; the log's lines above
/// them, or one line each when stderr is not a terminal (CI logs).
struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
    quiet: bool,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        let multi = MultiProgress::with_draw_target(if shown(quiet) {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:>10} [{bar:30}] {pos}/{len} jobs, {elapsed} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        overall.set_prefix("run");
        Progress {
            multi,
            overall,
            quiet,
        }
    }
}

impl Reporter for Progress {
    fn line(&self, text: &str, important: bool) {
        if important || !self.quiet {
            if shown(self.quiet) {
                let _ = self.multi.println(text);
            } else {
                eprintln!("{text}");
            }
        }
    }

    fn planned(&self, to_run: usize) {
        self.overall.set_length(to_run as u64);
    }

    fn advanced(&self) {
        self.overall.inc(1);
    }

    fn started(&self, job: &Job) -> Box<dyn Observer + '_> {
        self.overall.set_message(job.id.clone());
        Box::new(Bar::in_group(&self.multi, &job.id, self.quiet))
    }
}

/// What `heist run` was asked to do, besides the session's request.
pub(super) struct RunCommand<'a> {
    pub file: &'a Path,
    pub program: &'a Program,
    pub backend: Backend,
    pub cache: Option<PathBuf>,
    pub executor: Executor,
    pub request: RunRequest,
    pub quiet: bool,
}

/// `heist cache gc` could not remove everything it should have.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{n} cache entr{} could not be removed (the first: {first})", if *n == 1 { "y" } else { "ies" })]
#[diagnostic(
    code(heist::io),
    help("check that the cache folder is writable by you (HEIST_CACHE, --cache)")
)]
struct GcFailed {
    n: usize,
    first: String,
}

/// A run that finished with failed jobs.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{n} job{} failed (see above and {}); the results of the others are in the run directory", plural(*n), log.display())]
#[diagnostic(
    code(heist::job),
    help("fix what each failed job's error says and run the same command again: finished jobs come from the cache")
)]
struct JobsFailed {
    n: usize,
    log: PathBuf,
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `heist run FILE`
pub(super) fn run_command(c: RunCommand, color: bool) -> ExitCode {
    let session = match Session::open(c.program, c.file, c.backend, c.cache.as_deref()) {
        Ok(s) => s,
        Err(e) => return failed(e, color),
    };
    if c.executor == Executor::Script {
        return script(&session, &c.request.only, color);
    }
    let progress = Progress::new(c.quiet);
    let outcome = match session.run(&c.request, &progress) {
        Ok(o) => o,
        Err(e) => {
            progress.overall.finish_and_clear();
            return failed(e, color);
        }
    };
    progress.overall.finish_and_clear();
    let s = &outcome.summary;
    let interrupted = if s.interrupted > 0 {
        format!(", {} interrupted", s.interrupted)
    } else {
        String::new()
    };
    eprintln!(
        "{} jobs: {} ran, {} cached, {} failed, {} skipped{interrupted} in {:.1} s; {} victim queries (${:.2})",
        s.jobs, s.ran, s.cached, s.failed, s.skipped, s.seconds, s.queries, s.cost_usd
    );
    println!("run directory: {}", outcome.out.display());
    if s.interrupted > 0 {
        eprintln!(
            "interrupted: {} job{} did not finish; run the same command again to continue (finished jobs are cached, training resumes from its checkpoint)",
            s.interrupted,
            plural(s.interrupted),
        );
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    if s.failed > 0 {
        let failed = JobsFailed {
            n: s.failed,
            log: outcome.log(),
        };
        return fail(&failed, EXIT_INVALID, color);
    }
    eprintln!("next: heist report {}", outcome.out.display());
    ExitCode::SUCCESS
}

/// `heist run FILE --executor script`: the needed jobs' worker commands, dependencies first.
fn script(session: &Session, only: &[String], color: bool) -> ExitCode {
    let jobs = match session.describe(only) {
        Ok(j) => j,
        Err(e) => return failed(e, color),
    };
    let cache = session.cache().root().display().to_string();
    let mut out = format!(
        "#!/bin/sh\n# {} job{} of `{}`, dependencies first; then run `heist run` again to write the run directory\nset -e\n",
        jobs.len(),
        plural(jobs.len()),
        session.plan().experiment
    );
    for job in jobs {
        out.push_str(&format!(
            "heist worker '{}' {}  # {}\n",
            cache.replace('\'', r"'\''"),
            job.key.0,
            job.id
        ));
    }
    super::print(&out)
}

/// `heist worker CACHE_DIR KEY`
pub(super) fn worker_command(
    cache: PathBuf,
    key: String,
    checkpoint_every: std::time::Duration,
    quiet: bool,
    color: bool,
) -> ExitCode {
    let request = WorkRequest {
        cache,
        key,
        checkpoint_every,
        interrupt: Interrupt::on_signals(),
    };
    let progress = Progress::new(quiet);
    match worker::work(&request, &progress) {
        Ok(Worked::Ran { .. }) => ExitCode::SUCCESS,
        Ok(Worked::Cached { id }) => {
            if !quiet {
                eprintln!("cached  {id}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => failed(e, color),
    }
}

/// `heist cache status`
pub(super) fn cache_status(dir: Option<&Path>, color: bool) -> ExitCode {
    let (root, usage) = match run::cache_usage(dir) {
        Ok(u) => u,
        Err(e) => return failed(e, color),
    };
    let mut out = format!(
        "cache {}: {} entries, {}\n",
        root.display(),
        usage.entries,
        bytes(usage.bytes)
    );
    for (stage, (n, size)) in &usage.by_stage {
        out.push_str(&format!(
            "  {stage:<10} {n:>6} entries  {:>10}\n",
            bytes(*size)
        ));
    }
    if usage.checkpoints > 0 {
        out.push_str(&format!(
            "  {} checkpoints of unfinished training jobs, {} (the next run continues from them)\n",
            usage.checkpoints,
            bytes(usage.checkpoint_bytes)
        ));
    }
    super::print(&out)
}

/// `heist cache gc`
pub(super) fn cache_gc(
    dir: Option<&Path>,
    older_than_days: f64,
    all: bool,
    dry_run: bool,
    color: bool,
) -> ExitCode {
    let pruned = match run::cache_gc(dir, older_than_days, all, dry_run) {
        Ok(p) => p,
        Err(e) => return failed(e, color),
    };
    let temporary = if pruned.temporary > 0 {
        format!(" and {} leftovers of interrupted runs", pruned.temporary)
    } else {
        String::new()
    };
    let in_use = if pruned.in_use > 0 {
        format!("; kept {} entries a running run uses", pruned.in_use)
    } else {
        String::new()
    };
    let printed = super::print(&format!(
        "{} {} entries ({}){temporary}{in_use}\n",
        if dry_run { "would remove" } else { "removed" },
        pruned.removed,
        bytes(pruned.bytes),
    ));
    match pruned.failures.first() {
        None => printed,
        Some((key, why)) => fail(
            &GcFailed {
                n: pruned.failures.len(),
                first: format!("{}: {why}", key.0),
            },
            EXIT_INVALID,
            color,
        ),
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
