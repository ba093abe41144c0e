//! `heist plan`, `heist run` and `heist cache`: the program as cached jobs, executed into a run
//! directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use image::RgbImage;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::progress::{shown, Bar};
use super::{EXIT_INVALID, EXIT_USAGE};
use crate::engine::backend::Backend;
use crate::engine::jobs::{self, Context, Scratch};
use crate::engine::samples::{grid, write_png};
use crate::engine::train::Observer;
use crate::interrupt::{Interrupt, EXIT_INTERRUPTED};
use crate::plan::{self, Job, Plan, Status, Subject, Work};
use crate::run::cache::{Cache, Entry};
use crate::run::execute::read_images;
use crate::run::{self, manifest, results, Executed, Outcome, Reporter};
use crate::sema::program::{Augmentation, Program};

/// What `heist run` was asked to do.
pub(super) struct RunRequest<'a> {
    pub file: &'a Path,
    pub program: &'a Program,
    pub backend: Backend,
    pub out: Option<PathBuf>,
    pub cache: Option<PathBuf>,
    pub jobs: usize,
    pub only: Vec<String>,
    pub checkpoint_every: std::time::Duration,
    pub quiet: bool,
}

fn open_cache(dir: Option<&Path>) -> Result<Cache, ExitCode> {
    let root = dir.map_or_else(Cache::default_root, Path::to_path_buf);
    Cache::open(&root).map_err(|e| {
        eprintln!(
            "error: cannot open the cache at {}: {e}\nhelp: choose a writable folder with --cache or HEIST_CACHE",
            root.display()
        );
        ExitCode::from(EXIT_USAGE)
    })
}

fn make_plan(file: &Path, program: &Program, backend: Backend) -> Result<Plan, ExitCode> {
    plan::plan(program, &jobs::base_of(file), backend).map_err(|e| {
        eprintln!("error: {e}\nhelp: check the path and its permissions");
        ExitCode::from(EXIT_INVALID)
    })
}

/// `heist plan FILE [--json]`
pub(super) fn plan_command(
    file: &Path,
    program: &Program,
    backend: Backend,
    cache: Option<&Path>,
    only: &[String],
    json: bool,
) -> ExitCode {
    let (cache, plan) = match (open_cache(cache), make_plan(file, program, backend)) {
        (Ok(c), Ok(p)) => (c, p),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let statuses = plan::explain(&plan, &cache);
    let cached: Vec<bool> = statuses.iter().map(|s| *s == Status::Cached).collect();
    let Ok(runs) = run::would_run(&plan, only, |i| {
        Ok::<_, std::convert::Infallible>(cached[i])
    });
    let to_run = runs.iter().filter(|&&r| r).count();
    let n_cached = cached.iter().filter(|&&c| c).count();
    let mut out = String::new();
    if json {
        let jobs: Vec<_> = plan
            .jobs
            .iter()
            .zip(&statuses)
            .zip(&runs)
            .map(|((job, status), runs)| {
                json!({
                    "id": job.id, "stage": job.work.stage(), "key": job.key.0,
                    "deps": job.deps.iter().map(|&d| &plan.jobs[d].id).collect::<Vec<_>>(),
                    "status": status, "runs": runs,
                })
            })
            .collect();
        out = serde_json::to_string(&json!({
            "experiment": plan.experiment, "backend": backend.name(), "cache": cache.root(),
            "jobs": jobs,
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
            cache.root().display(),
            plan.jobs.len()
        );
        for ((job, status), runs) in plan.jobs.iter().zip(&statuses).zip(&runs) {
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
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(out.as_bytes()).is_err() {
        return ExitCode::from(EXIT_USAGE);
    }
    ExitCode::SUCCESS
}

/// Progress on the terminal: one overall bar, a bar per training job; a line per finished
/// job when stderr is not a terminal (CI logs). Everything also goes to `logs/run.log`.
struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
    quiet: bool,
    log: Mutex<Vec<String>>,
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
            log: Mutex::new(vec![]),
        }
    }

    /// A line for the log, and for stderr unless quiet (errors always).
    fn say(&self, line: String, always: bool) {
        if always || !self.quiet {
            if shown(self.quiet) {
                let _ = self.multi.println(&line);
            } else {
                eprintln!("{line}");
            }
        }
        self.log.lock().expect("log").push(line);
    }
}

impl Reporter for Progress {
    fn planned(&self, to_run: usize, cached: usize) {
        self.overall.set_length(to_run as u64);
        self.say(format!("{cached} jobs cached, {to_run} to run"), false);
    }

    fn corrupt(&self, job: &Job, why: &str) {
        self.say(
            format!(
                "warning: the cache entry of {} was damaged ({why}); it was removed and runs again",
                job.id
            ),
            true,
        );
    }

    fn started(&self, job: &Job) -> Box<dyn Observer + '_> {
        self.overall.set_message(job.id.clone());
        Box::new(JobObserver {
            bar: Bar::in_group(&self.multi, &job.id, self.quiet),
            progress: self,
            job: job.id.clone(),
        })
    }

    fn finished(&self, job: &Job, outcome: &Outcome) {
        match outcome {
            Outcome::Ran { seconds } => {
                self.overall.inc(1);
                self.say(format!("ran     {} ({seconds:.1} s)", job.id), false);
            }
            Outcome::Cached => {
                self.overall.inc(1);
                self.say(format!("cached  {} (another run made it)", job.id), false);
            }
            Outcome::Failed { error, help } => {
                self.overall.inc(1);
                self.say(
                    format!("error: job {} failed: {error}\n  help: {help}", job.id),
                    true,
                );
            }
            Outcome::Skipped { because } => {
                self.overall.inc(1);
                self.say(
                    format!("skipped {} (needs {because}, which failed)", job.id),
                    false,
                );
            }
            Outcome::Interrupted { step: Some(step) } => {
                self.overall.inc(1);
                self.say(
                    format!(
                        "stopped {} after step {step}; its checkpoint is kept",
                        job.id
                    ),
                    true,
                );
            }
            Outcome::Interrupted { step: None } | Outcome::NotNeeded => {}
        }
    }

    fn interrupting(&self) {
        self.say(
            "interrupted: training jobs stop after their current step and keep a checkpoint, no new job starts (press Ctrl-C again to stop at once)".into(),
            true,
        );
    }
}

/// A job's bar, with its resumptions and warnings in the run's log.
struct JobObserver<'a> {
    bar: Bar,
    progress: &'a Progress,
    job: String,
}

impl Observer for JobObserver<'_> {
    fn start(&mut self, label: &str, total_steps: u64) {
        self.bar.start(label, total_steps);
    }
    fn resumed(&mut self, step: u64) {
        // The run's log says it (the bar catches up at the next step).
        self.progress.say(
            format!("resumed {} from its checkpoint at step {step}", self.job),
            false,
        );
    }
    fn step(&mut self, step: u64, losses: &[(&'static str, f64)]) {
        self.bar.step(step, losses);
    }
    fn warn(&mut self, message: &str) {
        self.progress
            .say(format!("warning: {}: {message}", self.job), true);
    }
    fn finish(&mut self) {
        self.bar.finish();
    }
}

fn default_out(experiment: &str, started: SystemTime) -> PathBuf {
    let stamp = manifest::utc(started)
        .replace([':', '-'], "")
        .replace('T', "-");
    PathBuf::from("runs").join(format!("{experiment}-{}", stamp.trim_end_matches('Z')))
}

/// `heist run FILE`
pub(super) fn run_command(r: RunRequest) -> ExitCode {
    let started = SystemTime::now();
    let clock = Instant::now();
    let device = match r.backend.device() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let (cache, plan) = match (
        open_cache(r.cache.as_deref()),
        make_plan(r.file, r.program, r.backend),
    ) {
        (Ok(c), Ok(p)) => (c, p),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    if !r.only.is_empty() && !plan.select(&r.only).contains(&true) {
        eprintln!(
            "error: no job matches --only {}\nhelp: `heist plan {}` lists the jobs' ids",
            r.only.join(" "),
            r.file.display()
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let out = r
        .out
        .clone()
        .unwrap_or_else(|| default_out(&plan.experiment, started));
    if let Err(e) = std::fs::create_dir_all(out.join("logs")) {
        eprintln!(
            "error: cannot create the run directory {}: {e}\nhelp: choose a writable --out",
            out.display()
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let studies = match run::studies::user_studies(r.program, &jobs::base_of(r.file)) {
        Ok(s) => s,
        Err((study, e)) => {
            eprintln!("error: user study `{study}`: {e}");
            if let Some(help) = e.help() {
                eprintln!("help: {help}");
            }
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let _ = cache.clean_tmp();
    let cx = Context {
        program: r.program,
        base: jobs::base_of(r.file),
        device,
        scratch: Scratch(out.join("logs").join("scratch")),
    };
    let progress = Progress::new(r.quiet);
    progress.say(
        format!(
            "running `{}` ({} jobs) on {}; cache {}",
            plan.experiment,
            plan.jobs.len(),
            r.backend.describe(),
            cache.root().display()
        ),
        false,
    );
    let options = run::Options {
        jobs: r.jobs,
        only: r.only.clone(),
        checkpoint_every: Some(r.checkpoint_every),
        interrupt: Interrupt::on_signals(),
    };
    let executed = match run::execute(&plan, &cx, &cache, &options, &progress) {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "error: the cache at {} failed: {e}\nhelp: check its disk space and permissions",
                cache.root().display()
            );
            return ExitCode::from(EXIT_INVALID);
        }
    };
    progress.overall.finish_and_clear();
    let _ = std::fs::remove_dir_all(&cx.scratch.0);
    let mut rows = results::rows(r.program, &plan, &executed);
    rows.extend(studies.iter().flat_map(|s| s.rows.iter().cloned()));
    let summary = summarise(&plan, &executed, &rows, clock);
    let written = write_run_directory(
        &r, &cx, &plan, &executed, &rows, &studies, &summary, &out, started, &progress,
    );
    if let Err(e) = written {
        eprintln!("error: cannot write the run directory {}: {e}\nhelp: check its disk space and permissions", out.display());
        return ExitCode::from(EXIT_INVALID);
    }
    let interrupted = if summary.interrupted > 0 {
        format!(", {} interrupted", summary.interrupted)
    } else {
        String::new()
    };
    let line = format!(
        "{} jobs: {} ran, {} cached, {} failed, {} skipped{interrupted} in {:.1} s; {} victim queries (${:.2})",
        summary.jobs, summary.ran, summary.cached, summary.failed, summary.skipped,
        summary.seconds, summary.queries, summary.cost_usd
    );
    eprintln!("{line}");
    println!("run directory: {}", out.display());
    if summary.interrupted > 0 {
        eprintln!(
            "interrupted: {} job{} did not finish; run the same command again to continue (finished jobs are cached, training resumes from its checkpoint)",
            summary.interrupted,
            if summary.interrupted == 1 { "" } else { "s" },
        );
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    if executed.failed() == 0 {
        eprintln!("next: heist report {}", out.display());
    }
    if executed.failed() > 0 {
        eprintln!(
            "error: {} job{} failed (see above and {}); the results of the others are in the run directory",
            executed.failed(),
            if executed.failed() == 1 { "" } else { "s" },
            out.join("logs/run.log").display()
        );
        return ExitCode::from(EXIT_INVALID);
    }
    ExitCode::SUCCESS
}

fn summarise(
    plan: &Plan,
    executed: &Executed,
    rows: &[results::Row],
    clock: Instant,
) -> manifest::Summary {
    let metric = |m: &str| -> f64 {
        rows.iter()
            .filter(|r| r.cell == "cost" && r.metric == m)
            .map(|r| r.value)
            .sum::<f64>()
            + 0.0 // an empty sum is -0.0, shown as "$-0.00"
    };
    manifest::Summary {
        jobs: plan.jobs.len(),
        ran: executed.count(|o| matches!(o, Outcome::Ran { .. })),
        cached: executed.count(|o| *o == Outcome::Cached),
        failed: executed.failed(),
        skipped: executed.count(|o| matches!(o, Outcome::Skipped { .. })),
        interrupted: executed.interrupted(),
        queries: metric("queries") as u64,
        cost_usd: (metric("cost_usd") * 1e6).round() / 1e6,
        seconds: (clock.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    }
}

#[allow(clippy::too_many_arguments)]
fn write_run_directory(
    r: &RunRequest,
    cx: &Context,
    plan: &Plan,
    executed: &Executed,
    rows: &[results::Row],
    studies: &[run::studies::StudyResult],
    summary: &manifest::Summary,
    out: &Path,
    started: SystemTime,
    progress: &Progress,
) -> std::io::Result<()> {
    use crate::fsutil::write_atomic;
    write_atomic(&out.join("results.csv"), &results::csv(rows))?;
    let parquet = run::parquet::parquet(rows).map_err(std::io::Error::other)?;
    write_atomic(&out.join("results.parquet"), &parquet)?;
    let samples = write_samples(cx, plan, executed, out)?;
    for study in studies {
        write_atomic(
            &out.join("ratings").join(format!("{}.csv", study.name)),
            &study.csv,
        )?;
    }
    let m = manifest::Manifest {
        format: manifest::RUN_FORMAT,
        heist: env!("CARGO_PKG_VERSION").into(),
        experiment: plan.experiment.clone(),
        file: r.file.display().to_string(),
        run_id: out
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        started: manifest::utc(started),
        finished: manifest::utc(SystemTime::now()),
        command: std::env::args().collect(),
        backend: r.backend.name().into(),
        device: r.backend.describe(),
        cpu: crate::engine::backend::cpu_model(),
        threads: rayon::current_num_threads(),
        crates: manifest::crates(),
        git: manifest::git(&cx.base),
        seeds: manifest::seeds(r.program),
        conventions: manifest::conventions(r.program),
        summary: summary.clone(),
        samples,
        jobs: manifest::jobs(plan, executed),
        program: r.program.clone(),
    };
    let yaml = serde_yaml::to_string(&m).map_err(std::io::Error::other)?;
    write_atomic(&out.join("manifest.yaml"), yaml.as_bytes())?;
    let log = progress.log.lock().expect("log").join("\n") + "\n";
    write_atomic(&out.join("logs/run.log"), log.as_bytes())
}

/// `samples/<evaluation>-<attack>.png`: input | victim | surrogate on the victim's test set,
/// for each attack's largest-fraction, unaugmented, first-seed surrogate.
fn write_samples(
    cx: &Context,
    plan: &Plan,
    executed: &Executed,
    out: &Path,
) -> std::io::Result<Vec<String>> {
    let program = cx.program;
    let outputs = |model: &Subject, data| -> Option<&Entry> {
        plan.jobs
            .iter()
            .zip(&executed.entries)
            .find_map(|(j, e)| match &j.work {
                Work::Outputs { model: m, data: d } if m == model && d == data => e.as_ref(),
                _ => None,
            })
    };
    let mut written = vec![];
    for (name, e) in &program.evaluations {
        let Ok(inputs) = cx.samples(&e.victim_test) else {
            continue;
        };
        let inputs: Vec<RgbImage> = inputs.into_iter().map(|s| s.image).collect();
        for attack in &e.attacks {
            let a = &program.attacks[attack];
            let Some(point) = (0..a.points.len()).max_by(|&x, &y| {
                let (px, py) = (&a.points[x], &a.points[y]);
                let key = |p: &crate::sema::program::AttackPoint| {
                    (p.fraction, p.augmentation == Augmentation::None)
                };
                key(px)
                    .partial_cmp(&key(py))
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(y.cmp(&x))
            }) else {
                continue;
            };
            let surrogate = Subject::Surrogate {
                attack: attack.clone(),
                point,
            };
            let victim = Subject::Victim(a.victim.clone());
            let (Some(s), Some(v)) = (
                outputs(&surrogate, &e.victim_test),
                outputs(&victim, &e.victim_test),
            ) else {
                continue;
            };
            let (Ok(s), Ok(v)) = (read_images(s, "output"), read_images(v, "output")) else {
                continue;
            };
            let rows: Vec<Vec<&RgbImage>> = (0..(e.samples as usize)
                .min(inputs.len())
                .min(s.len())
                .min(v.len()))
                .map(|i| vec![&inputs[i], &v[i], &s[i]])
                .collect();
            if rows.is_empty() {
                continue;
            }
            let path = format!("samples/{name}-{attack}.png");
            write_png(&out.join(&path), &grid(&rows))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The cache's entries, or the error reported.
fn stored(cache: &Cache) -> Result<Vec<crate::run::cache::Stored>, ExitCode> {
    cache.entries().map_err(|e| {
        eprintln!(
            "error: cannot read the cache at {}: {e}",
            cache.root().display()
        );
        ExitCode::from(EXIT_INVALID)
    })
}

/// `heist cache status`
pub(super) fn cache_status(dir: Option<&Path>) -> ExitCode {
    let cache = match open_cache(dir) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let entries = match stored(&cache) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let mut by_stage: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
    for e in &entries {
        let stage = e.meta["stage"].as_str().unwrap_or("other").to_string();
        let s = by_stage.entry(stage).or_default();
        s.0 += 1;
        s.1 += e.size;
    }
    let total: u64 = entries.iter().map(|e| e.size).sum();
    println!(
        "cache {}: {} entries, {}",
        cache.root().display(),
        entries.len(),
        bytes(total)
    );
    for (stage, (n, size)) in by_stage {
        println!("  {stage:<10} {n:>6} entries  {:>10}", bytes(size));
    }
    let checkpoints = cache.checkpoints().unwrap_or_default();
    if !checkpoints.is_empty() {
        let size: u64 = checkpoints.iter().map(|c| c.1).sum();
        println!(
            "  {} checkpoints of unfinished training jobs, {} (the next run continues from them)",
            checkpoints.len(),
            bytes(size)
        );
    }
    ExitCode::SUCCESS
}

/// `heist cache gc`
pub(super) fn cache_gc(
    dir: Option<&Path>,
    older_than_days: f64,
    all: bool,
    dry_run: bool,
) -> ExitCode {
    let cache = match open_cache(dir) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let temporary = if dry_run {
        0
    } else {
        cache.clean_tmp().unwrap_or(0)
    };
    let entries = match stored(&cache) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let (mut n, mut freed) = (0, 0);
    for e in entries {
        let age = e.used.elapsed().map_or(0.0, |d| d.as_secs_f64() / 86_400.0);
        if all || age > older_than_days {
            if !dry_run {
                if let Err(err) = cache.remove(&e.key) {
                    eprintln!("warning: cannot remove {}: {err}", e.key.0);
                    continue;
                }
            }
            n += 1;
            freed += e.size;
        }
    }
    // Checkpoints of training jobs that were stopped and not rerun are pruned by the same age.
    for (path, size, written) in cache.checkpoints().unwrap_or_default() {
        let age = written
            .elapsed()
            .map_or(0.0, |d| d.as_secs_f64() / 86_400.0);
        if (all || age > older_than_days) && (dry_run || std::fs::remove_file(&path).is_ok()) {
            n += 1;
            freed += size;
        }
    }
    println!(
        "{} {n} entries ({}){}",
        if dry_run { "would remove" } else { "removed" },
        bytes(freed),
        if temporary > 0 {
            format!(" and {temporary} leftovers of interrupted runs")
        } else {
            String::new()
        }
    );
    ExitCode::SUCCESS
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
