//! The local executor: a plan's needed jobs in dependency order on this machine, `--jobs N`
//! independent ones at a time, each under its key's lock and through [`run_one`] -- the same
//! call `heist worker` makes for one job.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use super::cache::{Cache, Entry, Lookup};
use super::explain::remember;
use super::log::Log;
use super::{execute, would_run, Executed, Options, Outcome};
use crate::engine::jobs::{Context, JobError};
use crate::engine::train::checkpoint::Checkpointing;
use crate::engine::train::{Observer, TrainError};
use crate::interrupt::Interrupt;
use crate::plan::{Job, Plan, Work};

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
pub(super) fn execute(
    plan: &Plan,
    cx: &Context,
    cache: &Cache,
    options: &Options,
    log: &Log,
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
                log.corrupt(job, &why);
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
    log.planned(
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
                    log,
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
    log: &Log,
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
                        log.interrupting();
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
        let (outcome, entry) = run_one(&plan.experiment, cx, cache, options, log, job, &deps);
        log.finished(job, &outcome);
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
                    log.finished(&plan.jobs[j], &s.outcomes[j]);
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
    log: &'a Log<'a>,
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
            self.log.interrupting();
        }
        self.interrupt.requested() || self.inner.interrupted()
    }
    fn finish(&mut self) {
        self.inner.finish();
    }
}

/// Runs one job of `experiment` under its key's lock (another run may have computed it
/// meanwhile). A training job keeps a checkpoint in the cache while it runs, continues from it
/// after an interruption, and removes it once its entry is stored.
pub(super) fn run_one(
    experiment: &str,
    cx: &Context,
    cache: &Cache,
    options: &Options,
    log: &Log,
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
            inner: log.started(job),
            interrupt: &options.interrupt,
            log,
        };
        // A panic anywhere below (burn, a kernel, a bug) fails this job, not the run: the
        // others finish and the run directory is written.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            execute::run(cx, job, &deps, checkpoint.as_ref(), &mut observer)
        }));
        observer.finish();
        result
    };
    let result = match result {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            return failed(
                format!("it stopped on an internal error: {message}"),
                "this is a bug in heist (the sizes or data that reached a model were not checked first); please report it with the experiment file".into(),
            );
        }
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
                remember(cache, experiment, &job.id, &job.spec)?;
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
