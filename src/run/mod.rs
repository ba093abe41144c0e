//! Stage 5: running a plan, as a library call. A [`Session`] is opened from a checked program,
//! a backend and a cache: it gathers the plan's [`inputs`], plans (pure, `crate::plan`), says
//! what is cached and why not ([`explain`]), executes what is needed ([`local`]: dependency
//! order, independent jobs in parallel, each job through [`execute`] and so through
//! `engine::jobs` alone) and writes the run directory ([`directory`]). Every artefact goes to
//! the content-addressed [`cache`], so a rerun (after a change, a failure, a Ctrl-C or a
//! `kill -9`) computes only what is missing; [`worker`] runs one job of a plan by its key,
//! from another process. [`results`] turns the evaluation jobs into the typed, tidy table;
//! [`manifest`] records how the run was made.

pub mod cache;
pub mod directory;
mod error;
pub mod execute;
pub mod explain;
pub mod inputs;
mod local;
mod log;
pub mod manifest;
pub mod parquet;
pub mod read;
pub mod results;
mod session;
pub mod single;
pub mod studies;
pub mod worker;

use std::time::Duration;

use cache::Entry;

pub use crate::engine::backend::Backend;
pub use crate::engine::train::checkpoint::Checkpointing;
pub use crate::engine::train::Observer;
pub use error::RunError;
pub use explain::Status;
pub use log::Reporter;
pub use session::{Preview, RunOutcome, RunRequest, Session};

use crate::interrupt::Interrupt;
use crate::plan::{Plan, Work};

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

/// Opens the cache at `dir`, or at the default folder.
pub fn open_cache(dir: Option<&std::path::Path>) -> Result<cache::Cache, RunError> {
    let root = dir.map_or_else(cache::Cache::default_root, std::path::Path::to_path_buf);
    cache::Cache::open(&root).map_err(|source| RunError::OpenCache { root, source })
}

/// `heist cache status`: the cache's folder and what it holds.
pub fn cache_usage(
    dir: Option<&std::path::Path>,
) -> Result<(std::path::PathBuf, cache::Usage), RunError> {
    let cache = open_cache(dir)?;
    let usage = cache.usage().map_err(|source| RunError::Cache {
        root: cache.root().to_path_buf(),
        source,
    })?;
    Ok((cache.root().to_path_buf(), usage))
}

/// `heist cache gc`: entries and checkpoints unused for more than `older_than_days` removed
/// (every one with `all`; none with `dry_run`, which only counts them).
pub fn cache_gc(
    dir: Option<&std::path::Path>,
    older_than_days: f64,
    all: bool,
    dry_run: bool,
) -> Result<cache::Pruned, RunError> {
    let cache = open_cache(dir)?;
    cache
        .gc(older_than_days, all, dry_run)
        .map_err(|source| RunError::Cache {
            root: cache.root().to_path_buf(),
            source,
        })
}
