//! Stage 5: running a plan. Jobs run in dependency order, independent ones in parallel; every
//! artefact goes to the content-addressed [`cache`], so a rerun (after a change, a failure, a
//! Ctrl-C or a `kill -9`) computes only what is missing. [`results`] turns the evaluation jobs
//! into the tidy table; [`manifest`] records how the run was made.

pub mod cache;
pub mod execute;
pub mod manifest;
pub mod parquet;
pub mod read;
pub mod results;
pub mod studies;

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use cache::{Cache, Entry, Lookup};

use crate::engine::jobs::{Context, JobError};
use crate::engine::train::checkpoint::Checkpointing;
use crate::engine::train::{Observer, TrainError};
use crate::interrupt::Interrupt;
use crate::plan::{remember, Job, Plan, Work};

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Jobs at a time.
    pub jobs: usize,
    /// `--only` patterns (empty: everything).
    pub only: Vec<String>,
    /// At most this long between checkpoints of a training job (`None`: keep none).
    pub checkpoint_every: Option<Duration>,
    /// Once requested, no job starts and training jobs stop after their current step (with a
    /// checkpoint); jobs already computing something else finish and are stored.
    pub interrupt: Interrupt,
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Found complete in the cache.
    Cached,
    Ran {
        seconds: f64,
    },
    Failed {
        error: String,
        help: String,
    },
    /// Not run because a job it needs failed.
    Skipped {
        because: String,
    },
    /// Nothing needed it: what depends on it is cached, or it was not selected.
    NotNeeded,
    /// Stopped by an interruption: a training job after `step` (its checkpoint is kept), or
    /// (`None`) a job that had not started.
    Interrupted {
        step: Option<u64>,
    },
}

/// How a run shows its progress (the command line draws bars; tests stay silent).
pub trait Reporter: Sync {
    /// Before any job runs: how many will run and how many were found in the cache.
    fn planned(&self, to_run: usize, cached: usize);
    /// A damaged cache entry was found (and removed; its job runs again).
    fn corrupt(&self, job: &Job, why: &str);
    /// The observer of a job's training steps.
    fn started(&self, job: &Job) -> Box<dyn Observer + '_>;
    fn finished(&self, job: &Job, outcome: &Outcome);
    /// The run was asked to stop (said once, when first noticed).
    fn interrupting(&self) {}
}

/// The outcome of every job, and the cache entries of those that have one.
pub struct Executed {
    pub outcomes: Vec<Outcome>,
    pub entries: Vec<Option<Entry>>,
}

impl Executed {
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }

    /// Jobs an interruption stopped or kept from starting.
    pub fn interrupted(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Interrupted { .. }))
    }

    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| f(o)).count()
    }
}

/// Which jobs a run computes: those a target needs whose entries are not `cached` (asked
/// once per needed job, dependents before their dependencies). The targets are every
/// evaluation, query set and output, and every job nothing depends on; or, with `--only`
/// patterns, the matching jobs.
pub fn would_run<E>(
    plan: &Plan,
    only: &[String],
    mut cached: impl FnMut(usize) -> Result<bool, E>,
) -> Result<Vec<bool>, E> {
    let n = plan.jobs.len();
    let mut has_dependents = vec![false; n];
    for job in &plan.jobs {
        for &d in &job.deps {
            has_dependents[d] = true;
        }
    }
    let mut needed: Vec<bool> = if only.is_empty() {
        (0..n)
            .map(|i| {
                !has_dependents[i]
                    || !matches!(
                        plan.jobs[i].work,
                        Work::TrainVictim { .. } | Work::TrainSurrogate { .. }
                    )
            })
            .collect()
    } else {
        plan.select(only)
    };
    let mut runs = vec![false; n];
    // Dependents come after their dependencies, so walking backwards settles what a job's
    // dependents need from it before the job itself is looked at.
    for i in (0..n).rev() {
        if needed[i] && !cached(i)? {
            runs[i] = true;
            for &d in &plan.jobs[i].deps {
                needed[d] = true;
            }
        }
    }
    Ok(runs)
}

struct State {
    ready: VecDeque<usize>,
    running: usize,
    /// Unfinished dependencies of each job that will run.
    waiting: Vec<usize>,
    outcomes: Vec<Outcome>,
    entries: Vec<Option<Entry>>,
}

/// Runs what the plan's targets need: with no `--only`, every evaluation, query set and
/// output (and every job nothing depends on); with patterns, the matching jobs. A job runs when
/// it is needed and not cached; a cached job's entry is verified against its checksums first.
pub fn execute(
    plan: &Plan,
    cx: &Context,
    cache: &Cache,
    options: &Options,
    reporter: &dyn Reporter,
) -> std::io::Result<Executed> {
    let n = plan.jobs.len();
    let mut dependents = vec![vec![]; n];
    for (i, job) in plan.jobs.iter().enumerate() {
        for &d in &job.deps {
            dependents[d].push(i);
        }
    }
    let mut entries: Vec<Option<Entry>> = vec![None; n];
    let runs = would_run(plan, &options.only, |i| {
        let job = &plan.jobs[i];
        Ok::<_, std::io::Error>(match cache.get(&job.key)? {
            Lookup::Hit(e) => {
                remember(cache, &plan.experiment, &job.id, &job.spec)?;
                entries[i] = Some(e);
                true
            }
            Lookup::Miss => false,
            Lookup::Corrupt { why } => {
                reporter.corrupt(job, &why);
                false
            }
        })
    })?;
    let outcomes: Vec<Outcome> = (0..n)
        .map(|i| {
            if entries[i].is_some() {
                Outcome::Cached
            } else {
                Outcome::NotNeeded
            }
        })
        .collect();
    let waiting: Vec<usize> = (0..n)
        .map(|i| plan.jobs[i].deps.iter().filter(|&&d| runs[d]).count())
        .collect();
    let ready: VecDeque<usize> = (0..n).filter(|&i| runs[i] && waiting[i] == 0).collect();
    reporter.planned(
        runs.iter().filter(|&&r| r).count(),
        entries.iter().filter(|e| e.is_some()).count(),
    );
    let state = Mutex::new(State {
        ready,
        running: 0,
        waiting,
        outcomes,
        entries,
    });
    let wake = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                worker(
                    plan,
                    cx,
                    cache,
                    options,
                    reporter,
                    &dependents,
                    &runs,
                    &state,
                    &wake,
                )
            });
        }
    });
    let mut state = state.into_inner().expect("no worker panicked");
    // Jobs an interruption kept from starting.
    for (outcome, _) in state.outcomes.iter_mut().zip(&runs).filter(|(_, &r)| r) {
        if *outcome == Outcome::NotNeeded {
            *outcome = Outcome::Interrupted { step: None };
        }
    }
    Ok(Executed {
        outcomes: state.outcomes,
        entries: state.entries,
    })
}

#[allow(clippy::too_many_arguments)]
fn worker(
    plan: &Plan,
    cx: &Context,
    cache: &Cache,
    options: &Options,
    reporter: &dyn Reporter,
    dependents: &[Vec<usize>],
    runs: &[bool],
    state: &Mutex<State>,
    wake: &Condvar,
) {
    loop {
        let (i, deps) = {
            let mut s = state.lock().expect("state lock");
            loop {
                if options.interrupt.requested() {
                    if options.interrupt.first_notice() {
                        reporter.interrupting();
                    }
                    s.ready.clear();
                }
                if let Some(i) = s.ready.pop_front() {
                    s.running += 1;
                    let deps: Vec<Entry> = plan.jobs[i]
                        .deps
                        .iter()
                        .map(|&d| s.entries[d].clone().expect("dependencies finish first"))
                        .collect();
                    break (i, deps);
                }
                if s.running == 0 {
                    return;
                }
                s = wake.wait(s).expect("state lock");
            }
        };
        let job = &plan.jobs[i];
        let (outcome, entry) = run_one(plan, cx, cache, options, reporter, job, &deps);
        reporter.finished(job, &outcome);
        let mut s = state.lock().expect("state lock");
        s.running -= 1;
        if let Some(e) = entry {
            s.entries[i] = Some(e);
            for &j in &dependents[i] {
                if runs[j] {
                    s.waiting[j] -= 1;
                    let skipped = matches!(s.outcomes[j], Outcome::Skipped { .. });
                    if s.waiting[j] == 0 && !skipped {
                        s.ready.push_back(j);
                    }
                }
            }
        } else if !matches!(outcome, Outcome::Interrupted { .. }) {
            // Everything that needs this job is skipped, transitively.
            let mut stack = dependents[i].clone();
            while let Some(j) = stack.pop() {
                if runs[j] && !matches!(s.outcomes[j], Outcome::Skipped { .. }) {
                    s.outcomes[j] = Outcome::Skipped {
                        because: job.id.clone(),
                    };
                    reporter.finished(&plan.jobs[j], &s.outcomes[j]);
                    stack.extend(&dependents[j]);
                }
            }
        }
        s.outcomes[i] = outcome;
        wake.notify_all();
    }
}

/// A job's observer that also stops training once the run is interrupted.
struct Interruptible<'a> {
    inner: Box<dyn Observer + 'a>,
    interrupt: &'a Interrupt,
    reporter: &'a dyn Reporter,
}

impl Observer for Interruptible<'_> {
    fn start(&mut self, label: &str, total_steps: u64) {
        self.inner.start(label, total_steps);
    }
    fn resumed(&mut self, step: u64) {
        self.inner.resumed(step);
    }
    fn step(&mut self, step: u64, losses: &[(&'static str, f64)]) {
        self.inner.step(step, losses);
    }
    fn warn(&mut self, message: &str) {
        self.inner.warn(message);
    }
    fn interrupted(&self) -> bool {
        if self.interrupt.first_notice() {
            self.reporter.interrupting();
        }
        self.interrupt.requested() || self.inner.interrupted()
    }
    fn finish(&mut self) {
        self.inner.finish();
    }
}

/// Runs one job under its key's lock (another run may have computed it meanwhile). A training
/// job keeps a checkpoint in the cache while it runs, continues from it after an interruption,
/// and removes it once its entry is stored.
fn run_one(
    plan: &Plan,
    cx: &Context,
    cache: &Cache,
    options: &Options,
    reporter: &dyn Reporter,
    job: &Job,
    deps: &[Entry],
) -> (Outcome, Option<Entry>) {
    let failed = |error: String, help: String| (Outcome::Failed { error, help }, None);
    let io_help =
        || "check the cache folder's disk space and permissions (HEIST_CACHE)".to_string();
    let _lock = match cache.lock(&job.key) {
        Ok(l) => l,
        Err(e) => return failed(format!("cannot lock the cache entry: {e}"), io_help()),
    };
    if let Ok(Lookup::Hit(e)) = cache.get(&job.key) {
        return (Outcome::Cached, Some(e));
    }
    let start = Instant::now();
    let deps: Vec<&Entry> = deps.iter().collect();
    let trains = matches!(
        job.work,
        Work::TrainVictim { .. } | Work::TrainSurrogate { .. }
    );
    let checkpoint = options
        .checkpoint_every
        .filter(|_| trains)
        .map(|every| Checkpointing {
            path: cache.checkpoint(&job.key),
            every,
        });
    let result = {
        let mut observer = Interruptible {
            inner: reporter.started(job),
            interrupt: &options.interrupt,
            reporter,
        };
        let result = execute::run(cx, job, &deps, checkpoint.as_ref(), &mut observer);
        observer.finish();
        result
    };
    match result {
        Err(execute::Failure::Job(JobError::Train(TrainError::Interrupted { step, .. }))) => {
            (Outcome::Interrupted { step: Some(step) }, None)
        }
        Err(e) => failed(e.to_string(), e.help()),
        Ok(mut artefacts) => {
            if let serde_json::Value::Object(m) = &mut artefacts.meta {
                m.insert("stage".into(), job.work.stage().into());
                m.insert("id".into(), job.id.clone().into());
            }
            let files: Vec<(&str, &[u8])> = artefacts
                .files
                .iter()
                .map(|(n, b)| (n.as_str(), b.as_slice()))
                .collect();
            let stored = cache.put(&job.key, &files, artefacts.meta).and_then(|e| {
                remember(cache, &plan.experiment, &job.id, &job.spec)?;
                Ok(e)
            });
            if let (Ok(_), Some(c)) = (&stored, &checkpoint) {
                let _ = std::fs::remove_file(&c.path);
            }
            match stored {
                Ok(e) => (
                    Outcome::Ran {
                        seconds: start.elapsed().as_secs_f64(),
                    },
                    Some(e),
                ),
                Err(e) => failed(
                    format!("cannot store the result in the cache: {e}"),
                    io_help(),
                ),
            }
        }
    }
}
