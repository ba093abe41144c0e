//! Why a session, a run or a worker could not do its work: typed, with a code and a `help:`
//! that says what to do, rendered by the command line in one place.

use std::path::PathBuf;

use super::inputs::InputError;
use crate::engine::backend::BackendError;
use crate::plan::PlanError;
use crate::stats::StatsError;

/// A run's error. (A failing *job* is not one: it is an [`super::Outcome`], and the run goes on.)
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    #[error("cannot open the cache at {}: {source}", root.display())]
    #[diagnostic(
        code(heist::io),
        help("choose a writable folder with --cache or HEIST_CACHE")
    )]
    OpenCache {
        root: PathBuf,
        source: std::io::Error,
    },
    #[error("the cache at {} failed: {source}", root.display())]
    #[diagnostic(code(heist::io), help("check its disk space and permissions"))]
    Cache {
        root: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(code(heist::io), help("check the path and its permissions"))]
    Input(#[from] InputError),
    #[error(transparent)]
    #[diagnostic(code(heist::internal))]
    Plan(#[from] PlanError),
    #[error("no job matches --only {patterns}")]
    #[diagnostic(code(heist::usage), help("`heist plan FILE` lists the jobs' ids"))]
    NoMatch { patterns: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Backend(#[from] BackendError),
    #[error("user study `{study}`: {source}")]
    #[diagnostic(code(heist::stats_input), help("{help}"))]
    UserStudy {
        study: String,
        source: Box<StatsError>,
        help: String,
    },
    #[error("cannot write the run directory {}: {source}", path.display())]
    #[diagnostic(
        code(heist::run_directory),
        help("choose a writable --out with free space")
    )]
    RunDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not empty and is not a run directory heist wrote", path.display())]
    #[diagnostic(
        code(heist::run_directory),
        help("heist writes a run directory into a new or empty folder, or replaces one it wrote; choose another --out (the default is runs/<experiment>-<time>)")
    )]
    NotARunDirectory { path: PathBuf },
    #[error("`{key}` is not a job key (64 hexadecimal digits)")]
    #[diagnostic(
        code(heist::usage),
        help("`heist plan FILE --json` lists every job's key")
    )]
    BadKey { key: String },
    #[error("the cache at {} has no description of job {key}", root.display())]
    #[diagnostic(
        code(heist::worker),
        help("`heist run FILE --executor script --cache DIR` writes the descriptions of the jobs a run needs, and prints the worker commands")
    )]
    NoDescription { root: PathBuf, key: String },
    #[error("the description of job {key} cannot be read: {reason}")]
    #[diagnostic(
        code(heist::worker),
        help("it was written by another heist, or damaged: run `heist run FILE --executor script` again to rewrite it")
    )]
    BadDescription { key: String, reason: String },
    #[error("job {id} needs {dependency}, which is not in the cache")]
    #[diagnostic(
        code(heist::worker),
        help("run the jobs in the order `heist run --executor script` prints them: dependencies first")
    )]
    DependencyMissing { id: String, dependency: String },
    #[error("job {id} failed: {error}")]
    #[diagnostic(code(heist::job), help("{help}"))]
    JobFailed {
        id: String,
        error: String,
        help: String,
    },
    #[error("job {id} was stopped{}", step.map_or(String::new(), |s| format!(" after step {s}; its checkpoint is kept")))]
    #[diagnostic(
        code(heist::interrupted),
        help("run the same command again to continue")
    )]
    Interrupted { id: String, step: Option<u64> },
}
