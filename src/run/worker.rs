//! One job of a plan, run on its own by key: `heist worker CACHE_DIR KEY`. What the job is --
//! its work, spec, the keys of the jobs it reads, the program, the experiment's folder and the
//! backend -- is read from the cache (`jobs/KEY.json`, `programs/SHA.json`), where
//! [`super::Session::describe`] left it; the job then runs through the same call as in a local
//! run and stores its entry atomically, so a run made of worker calls in dependency order gives
//! the local run's results byte for byte.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cache::{Cache, Entry, Key, Lookup};
use super::log::{Log, Reporter};
use super::{local, Options, Outcome, RunError};
use crate::engine::backend::Backend;
use crate::engine::jobs::{Context, Scratch};
use crate::fsutil::write_atomic;
use crate::interrupt::Interrupt;
use crate::plan::{sha256_hex, Job};
use crate::sema::program::Program;

/// The format of job descriptions; a worker refuses others.
pub const DESCRIPTION_FORMAT: u32 = 1;

/// What a worker needs to run one job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Description {
    pub format: u32,
    pub experiment: String,
    /// The experiment's folder, absolute: its relative paths are taken from here.
    pub base: PathBuf,
    pub backend: Backend,
    /// The SHA-256 of the program's JSON, stored beside the descriptions.
    pub program: String,
    pub job: Job,
    /// The keys of the jobs it reads, in `job.deps` order.
    pub deps: Vec<Key>,
}

/// Stores a program once, by the SHA-256 of its JSON; returns that.
pub(super) fn store_program(cache: &Cache, program: &Program) -> std::io::Result<String> {
    let json = serde_json::to_vec(program).map_err(std::io::Error::other)?;
    let sha = sha256_hex(&json);
    let path = cache.program(&sha);
    if !path.is_file() {
        write_atomic(&path, &json)?;
    }
    Ok(sha)
}

pub(super) fn store_description(cache: &Cache, d: &Description) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(d).map_err(std::io::Error::other)?;
    write_atomic(&cache.description(&d.job.key), &json)
}

/// What `heist worker` is asked.
#[derive(Debug, Clone)]
pub struct WorkRequest {
    pub cache: PathBuf,
    pub key: String,
    pub checkpoint_every: Duration,
    pub interrupt: Interrupt,
}

/// What a worker did.
#[derive(Debug, Clone, PartialEq)]
pub enum Worked {
    Ran {
        id: String,
        seconds: f64,
    },
    /// The entry was already complete (another worker or run made it).
    Cached {
        id: String,
    },
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, key: &str) -> Result<T, RunError> {
    let bytes = std::fs::read(path).map_err(|e| RunError::BadDescription {
        key: key.to_string(),
        reason: format!("{}: {e}", path.display()),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| RunError::BadDescription {
        key: key.to_string(),
        reason: format!("{}: {e}", path.display()),
    })
}

/// Runs the job of `request.key` from its description in the cache.
pub fn work(request: &WorkRequest, reporter: &dyn Reporter) -> Result<Worked, RunError> {
    let key = Key::parse(&request.key).ok_or_else(|| RunError::BadKey {
        key: request.key.clone(),
    })?;
    let cache = Cache::open(&request.cache).map_err(|source| RunError::OpenCache {
        root: request.cache.clone(),
        source,
    })?;
    let cache_failed = |source| RunError::Cache {
        root: cache.root().to_path_buf(),
        source,
    };
    let path = cache.description(&key);
    if !path.is_file() {
        return Err(RunError::NoDescription {
            root: cache.root().to_path_buf(),
            key: key.0,
        });
    }
    let d: Description = read_json(&path, &key.0)?;
    // The key is the hash of the spec: a description whose spec was changed is another job.
    if d.format != DESCRIPTION_FORMAT || d.job.key != key || Key::of(&d.job.spec) != key {
        return Err(RunError::BadDescription {
            key: key.0,
            reason: format!(
                "format {} for job {}, whose spec hashes to {} (this heist reads format {DESCRIPTION_FORMAT} of the job it names)",
                d.format,
                d.job.key,
                Key::of(&d.job.spec)
            ),
        });
    }
    let program_path = cache.program(&d.program);
    let program_bytes = std::fs::read(&program_path).map_err(|e| RunError::BadDescription {
        key: key.0.clone(),
        reason: format!("{}: {e}", program_path.display()),
    })?;
    if sha256_hex(&program_bytes) != d.program {
        return Err(RunError::BadDescription {
            key: key.0.clone(),
            reason: format!("{} does not match its checksum", program_path.display()),
        });
    }
    let program: Program =
        serde_json::from_slice(&program_bytes).map_err(|e| RunError::BadDescription {
            key: key.0.clone(),
            reason: format!("{}: {e}", program_path.display()),
        })?;
    let job = &d.job;
    let _live = cache.live().map_err(cache_failed)?;
    if let Lookup::Hit(_) = cache.get(&key).map_err(cache_failed)? {
        return Ok(Worked::Cached { id: job.id.clone() });
    }
    let mut deps: Vec<Entry> = vec![];
    for dep in &d.deps {
        match cache.get(dep).map_err(cache_failed)? {
            Lookup::Hit(e) => deps.push(e),
            Lookup::Miss | Lookup::Corrupt { .. } => {
                return Err(RunError::DependencyMissing {
                    id: job.id.clone(),
                    dependency: dep.0.clone(),
                })
            }
        }
    }
    let device = d.backend.device()?;
    let cx = Context {
        program: &program,
        base: d.base.clone(),
        device,
        scratch: Scratch(cache.scratch()),
    };
    let options = Options {
        jobs: 1,
        only: vec![],
        checkpoint_every: Some(request.checkpoint_every),
        interrupt: request.interrupt.clone(),
    };
    let log = Log::new(reporter);
    let (outcome, _) = local::run_one(&d.experiment, &cx, &cache, &options, &log, job, &deps);
    log.finished(job, &outcome);
    match outcome {
        Outcome::Ran { seconds } => Ok(Worked::Ran {
            id: job.id.clone(),
            seconds,
        }),
        Outcome::Cached => Ok(Worked::Cached { id: job.id.clone() }),
        Outcome::Failed { error, help } => Err(RunError::JobFailed {
            id: job.id.clone(),
            error,
            help,
        }),
        Outcome::Interrupted { step } => Err(RunError::Interrupted {
            id: job.id.clone(),
            step,
        }),
        Outcome::Skipped { .. } | Outcome::NotNeeded => unreachable!("a worker runs its job"),
    }
}
