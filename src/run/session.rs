//! A run as a library call: [`Session::open`] gathers the inputs and plans; [`Session::preview`]
//! says what is cached and what would run; [`Session::run`] executes the needed jobs and writes
//! the run directory; [`Session::describe`] leaves the needed jobs' descriptions in the cache
//! for `heist worker` instead.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::cache::Cache;
use super::explain::{explain, Status};
use super::log::{Log, Reporter};
use super::worker::{self, Description};
use super::{directory, inputs, local, manifest, results, studies, would_run, Options, RunError};
use crate::engine::backend::Backend;
use crate::engine::jobs::{Context, Scratch};
use crate::interrupt::Interrupt;
use crate::plan::{self, Job, Plan};
use crate::sema::program::Program;
use crate::source::base_of;

/// A checked program planned against a cache.
pub struct Session<'a> {
    program: &'a Program,
    file: PathBuf,
    /// The experiment's folder: its relative paths are taken from here.
    base: PathBuf,
    cache: Cache,
    plan: Plan,
}

/// What `heist run` asks of a session.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The run directory (default: `runs/<experiment>-<UTC time>`).
    pub out: Option<PathBuf>,
    /// Jobs at a time.
    pub jobs: usize,
    /// `--only` patterns (empty: everything).
    pub only: Vec<String>,
    /// At most this long between checkpoints of a training job.
    pub checkpoint_every: Duration,
    pub interrupt: Interrupt,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The run directory written.
    pub out: PathBuf,
    pub summary: manifest::Summary,
}

impl RunOutcome {
    /// `logs/run.log` of the run directory.
    pub fn log(&self) -> PathBuf {
        self.out.join("logs").join("run.log")
    }
}

/// Before a run: every job's state in the cache, and whether a run would compute it.
#[derive(Debug, Clone)]
pub struct Preview {
    pub statuses: Vec<Status>,
    pub runs: Vec<bool>,
}

impl<'a> Session<'a> {
    /// Opens the cache (`None`: the default folder), gathers what the program reads from the
    /// experiment's folder and plans the program on `backend`.
    pub fn open(
        program: &'a Program,
        file: &Path,
        backend: Backend,
        cache: Option<&Path>,
    ) -> Result<Session<'a>, RunError> {
        let cache = super::open_cache(cache)?;
        let base = base_of(file);
        let inputs = inputs::gather(program, &base)?;
        let plan = plan::plan(program, &inputs, backend)?;
        Ok(Session {
            program,
            file: file.to_path_buf(),
            base,
            cache,
            plan,
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// `--only` patterns must match a job.
    fn check_only(&self, only: &[String]) -> Result<(), RunError> {
        if !only.is_empty() && !self.plan.select(only).contains(&true) {
            return Err(RunError::NoMatch {
                patterns: only.join(" "),
            });
        }
        Ok(())
    }

    /// Each job's state in the cache (entries found, not yet verified) and whether a run with
    /// `only` would compute it.
    pub fn preview(&self, only: &[String]) -> Result<Preview, RunError> {
        self.check_only(only)?;
        let statuses = explain(&self.plan, &self.cache);
        let cached: Vec<bool> = statuses.iter().map(|s| *s == Status::Cached).collect();
        let Ok(runs) = would_run(&self.plan, only, |i| {
            Ok::<_, std::convert::Infallible>(cached[i])
        });
        Ok(Preview { statuses, runs })
    }

    /// Runs what is needed from the cache into a run directory. A failing job is not an error:
    /// the others finish, and the outcome counts it.
    pub fn run(
        &self,
        request: &RunRequest,
        reporter: &dyn Reporter,
    ) -> Result<RunOutcome, RunError> {
        let started = SystemTime::now();
        let clock = Instant::now();
        // The device follows from the plan's backend, here and in `heist worker` alike.
        let device = self.plan.backend.device()?;
        self.check_only(&request.only)?;
        let out = request
            .out
            .clone()
            .unwrap_or_else(|| directory::default_out(&self.plan.experiment, started));
        let staging = directory::Staging::prepare(&out).map_err(|problem| match problem {
            directory::OutProblem::NotOurs => RunError::NotARunDirectory { path: out.clone() },
            directory::OutProblem::Io(source) => RunError::RunDirectory {
                path: out.clone(),
                source,
            },
        })?;
        let studies = studies::user_studies(self.program, &self.base).map_err(|(study, e)| {
            RunError::UserStudy {
                study,
                help: e
                    .help()
                    .unwrap_or_else(|| "fix the ratings file or the study's columns".into()),
                source: Box::new(e),
            }
        })?;
        let _ = self.cache.clean_tmp();
        // While it runs, `heist cache gc` keeps what it uses.
        let _live = self.cache.live().map_err(|source| RunError::Cache {
            root: self.cache.root().to_path_buf(),
            source,
        })?;
        let cx = Context {
            program: self.program,
            base: self.base.clone(),
            device,
            scratch: Scratch(self.cache.scratch()),
        };
        let log = Log::new(reporter);
        log.say(
            format!(
                "running `{}` ({} jobs) on {}; cache {}",
                self.plan.experiment,
                self.plan.jobs.len(),
                self.plan.backend.describe(),
                self.cache.root().display()
            ),
            false,
        );
        let options = Options {
            jobs: request.jobs,
            only: request.only.clone(),
            checkpoint_every: Some(request.checkpoint_every),
            interrupt: request.interrupt.clone(),
        };
        let executed =
            local::execute(&self.plan, &cx, &self.cache, &options, &log).map_err(|source| {
                RunError::Cache {
                    root: self.cache.root().to_path_buf(),
                    source,
                }
            })?;
        let mut rows = results::rows(self.program, &self.plan, &executed);
        rows.extend(studies.iter().flat_map(|s| s.rows.iter().cloned()));
        let summary = directory::summarise(&self.plan, &executed, &rows, clock);
        let run_id = out
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let written = directory::write(
            &directory::Run {
                file: &self.file,
                cx: &cx,
                plan: &self.plan,
                executed: &executed,
                rows: &rows,
                studies: &studies,
                summary: &summary,
                started,
                log: &log.text(),
            },
            staging.path(),
            &run_id,
        );
        written
            .and_then(|()| staging.commit())
            .map_err(|source| RunError::RunDirectory {
                path: out.clone(),
                source,
            })?;
        Ok(RunOutcome { out, summary })
    }

    /// Writes into the cache the description of every job a run with `only` would compute,
    /// and returns those jobs, dependencies first: each can then be run on its own, in that
    /// order, by `heist worker CACHE_DIR KEY` (in this process or on another machine that
    /// shares the cache).
    pub fn describe(&self, only: &[String]) -> Result<Vec<&Job>, RunError> {
        let preview = self.preview(only)?;
        let failed = |source| RunError::Cache {
            root: self.cache.root().to_path_buf(),
            source,
        };
        let base = std::path::absolute(&self.base).map_err(failed)?;
        let program = worker::store_program(&self.cache, self.program).map_err(failed)?;
        let mut jobs = vec![];
        for (job, _) in self.plan.jobs.iter().zip(&preview.runs).filter(|(_, &r)| r) {
            let description = Description {
                format: worker::DESCRIPTION_FORMAT,
                experiment: self.plan.experiment.clone(),
                base: base.clone(),
                backend: self.plan.backend,
                program: program.clone(),
                job: job.clone(),
                deps: job
                    .deps
                    .iter()
                    .map(|&d| self.plan.jobs[d].key.clone())
                    .collect(),
            };
            worker::store_description(&self.cache, &description).map_err(failed)?;
            jobs.push(job);
        }
        Ok(jobs)
    }
}
