//! What a run says as it goes: the lines of `logs/run.log`, worded here and handed to a
//! [`Reporter`] as they happen (the command line draws them above its bars; tests stay
//! silent). The run directory's log is the same lines, whatever shows them.

use std::sync::Mutex;

use super::Outcome;
use crate::engine::train::{Observer, Silent};
use crate::plan::Job;

/// How a run shows its progress.
pub trait Reporter: Sync {
    /// A line of the run's log, as it is written; `important` ones (warnings, errors) are shown
    /// even when the user asked for quiet.
    fn line(&self, text: &str, important: bool);
    /// Before any job runs: how many will.
    fn planned(&self, _to_run: usize) {}
    /// One more of them is done (ran, failed, was skipped or stopped).
    fn advanced(&self) {}
    /// What shows a job's training steps (a progress bar).
    fn started(&self, _job: &Job) -> Box<dyn Observer + '_> {
        Box::new(Silent)
    }
}

/// The run's log: every line kept for `logs/run.log` and passed to the reporter.
pub(super) struct Log<'a> {
    reporter: &'a dyn Reporter,
    lines: Mutex<Vec<String>>,
}

impl<'a> Log<'a> {
    pub fn new(reporter: &'a dyn Reporter) -> Log<'a> {
        Log {
            reporter,
            lines: Mutex::new(vec![]),
        }
    }

    pub fn say(&self, line: String, important: bool) {
        self.reporter.line(&line, important);
        self.lines.lock().expect("log").push(line);
    }

    /// The log's text, one line each.
    pub fn text(&self) -> String {
        self.lines.lock().expect("log").join("\n") + "\n"
    }

    pub fn planned(&self, to_run: usize, cached: usize) {
        self.reporter.planned(to_run);
        self.say(format!("{cached} jobs cached, {to_run} to run"), false);
    }

    /// A damaged cache entry was found (and removed; its job runs again).
    pub fn corrupt(&self, job: &Job, why: &str) {
        self.say(
            format!(
                "warning: the cache entry of {} was damaged ({why}); it was removed and runs again",
                job.id
            ),
            true,
        );
    }

    /// The observer of a job's training: the reporter's, with resumptions and warnings logged.
    pub fn started(&self, job: &Job) -> Box<dyn Observer + '_> {
        Box::new(JobObserver {
            inner: self.reporter.started(job),
            log: self,
            job: job.id.clone(),
        })
    }

    pub fn finished(&self, job: &Job, outcome: &Outcome) {
        let line = match outcome {
            Outcome::Ran { seconds } => (format!("ran     {} ({seconds:.1} s)", job.id), false),
            Outcome::Cached => (format!("cached  {} (another run made it)", job.id), false),
            Outcome::Failed { error, help } => (
                format!("error: job {} failed: {error}\n  help: {help}", job.id),
                true,
            ),
            Outcome::Skipped { because } => (
                format!("skipped {} (needs {because}, which failed)", job.id),
                false,
            ),
            Outcome::Interrupted { step: Some(step) } => (
                format!(
                    "stopped {} after step {step}; its checkpoint is kept",
                    job.id
                ),
                true,
            ),
            Outcome::Interrupted { step: None } | Outcome::NotNeeded => return,
        };
        self.reporter.advanced();
        self.say(line.0, line.1);
    }

    /// The run was asked to stop (said once, when first noticed).
    pub fn interrupting(&self) {
        self.say(
            "interrupted: training jobs stop after their current step and keep a checkpoint, no new job starts (press Ctrl-C again to stop at once)".into(),
            true,
        );
    }
}

/// A job's observer: the reporter's display, with the job's resumption and warnings in the log.
struct JobObserver<'a> {
    inner: Box<dyn Observer + 'a>,
    log: &'a Log<'a>,
    job: String,
}

impl Observer for JobObserver<'_> {
    fn start(&mut self, label: &str, total_steps: u64) {
        self.inner.start(label, total_steps);
    }
    fn resumed(&mut self, step: u64) {
        // The log says it (a bar catches up at the next step).
        self.log.say(
            format!("resumed {} from its checkpoint at step {step}", self.job),
            false,
        );
    }
    fn step(&mut self, step: u64, losses: &[(&'static str, f64)]) {
        self.inner.step(step, losses);
    }
    fn warn(&mut self, message: &str) {
        self.log
            .say(format!("warning: {}: {message}", self.job), true);
    }
    fn interrupted(&self) -> bool {
        self.inner.interrupted()
    }
    fn finish(&mut self) {
        self.inner.finish();
    }
}
