//! The run directory a run leaves (design.md): `results.csv` and `results.parquet`,
//! `manifest.yaml`, `samples/`, `ratings/` and `logs/run.log`. It is written as one unit: into
//! a staging folder beside `--out`, made before any job runs (so an unwritable place is found
//! first), then put in place in one step. A folder heist did not write is never written into;
//! a run directory it did write is replaced whole, so two runs' files never mix and a failed
//! rewrite leaves the old one as it was.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use image::RgbImage;

use super::cache::Entry;
use super::execute::read_images;
use super::results::{self, Row};
use super::studies::StudyResult;
use super::{manifest, Executed, Outcome};
use crate::engine::jobs::Context;
use crate::fsutil::write_atomic;
use crate::images::{grid, png_bytes};
use crate::plan::{Plan, Subject, Work};
use crate::sema::program::{AttackPoint, Augmentation};

/// Everything a run directory is written from.
pub(super) struct Run<'a> {
    pub file: &'a Path,
    pub cx: &'a Context<'a>,
    pub plan: &'a Plan,
    pub executed: &'a Executed,
    pub rows: &'a [Row],
    pub studies: &'a [StudyResult],
    pub summary: &'a manifest::Summary,
    pub started: SystemTime,
    /// `logs/run.log`.
    pub log: &'a str,
}

/// Where a run directory is being written, until [`Staging::commit`] puts it at `out`.
pub(super) struct Staging {
    out: PathBuf,
    dir: tempfile::TempDir,
}

/// Why `--out` cannot take a run directory.
#[derive(Debug)]
pub(super) enum OutProblem {
    /// A folder (or file) with other contents.
    NotOurs,
    Io(std::io::Error),
}

/// Whether `dir` is a run directory heist wrote (its manifest says so).
pub fn is_run_directory(dir: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Written {
        #[allow(dead_code)]
        heist: String,
        #[allow(dead_code)]
        experiment: String,
    }
    std::fs::read(dir.join("manifest.yaml"))
        .ok()
        .and_then(|b| serde_norway::from_slice::<Written>(&b).ok())
        .is_some()
}

impl Staging {
    /// Checks that `out` is new, empty or a run directory, and makes the staging folder beside
    /// it.
    pub fn prepare(out: &Path) -> Result<Staging, OutProblem> {
        let out = std::path::absolute(out).map_err(OutProblem::Io)?;
        let Some(parent) = out.parent() else {
            return Err(OutProblem::NotOurs); // the root of the file system
        };
        if out.exists() {
            let empty = out
                .read_dir()
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !out.is_dir() || !(empty || is_run_directory(&out)) {
                return Err(OutProblem::NotOurs);
            }
        }
        std::fs::create_dir_all(parent).map_err(OutProblem::Io)?;
        let name = out
            .file_name()
            .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
        let dir = tempfile::Builder::new()
            .prefix(&format!(".{name}.writing-"))
            .tempdir_in(parent)
            .map_err(OutProblem::Io)?;
        Ok(Staging { out, dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Puts the written run directory at `out`, replacing one that was there.
    pub fn commit(self) -> std::io::Result<()> {
        let staged = self.dir.keep();
        crate::fsutil::replace_dir(&staged, &self.out).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&staged);
        })
    }
}

/// `runs/<experiment>-<UTC time>`.
pub(super) fn default_out(experiment: &str, started: SystemTime) -> PathBuf {
    let stamp = manifest::utc(started)
        .replace([':', '-'], "")
        .replace('T', "-");
    PathBuf::from("runs").join(format!("{experiment}-{}", stamp.trim_end_matches('Z')))
}

/// The manifest's summary: jobs by outcome, queries and their cost, time.
pub(super) fn summarise(
    plan: &Plan,
    executed: &Executed,
    rows: &[Row],
    clock: Instant,
) -> manifest::Summary {
    let total = |measure: results::Measure| -> f64 {
        rows.iter()
            .filter(|r| r.cell == results::RowCell::Cost && r.metric == measure)
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
        queries: total(results::Measure::Queries) as u64,
        cost_usd: (total(results::Measure::CostUsd) * 1e6).round() / 1e6,
        seconds: (clock.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    }
}

/// Writes the run directory into `out` (the staging folder), and names it `run_id`.
pub(super) fn write(run: &Run, out: &Path, run_id: &str) -> std::io::Result<()> {
    write_atomic(&out.join("results.csv"), &results::csv(run.rows))?;
    let parquet = super::parquet::parquet(run.rows).map_err(std::io::Error::other)?;
    write_atomic(&out.join("results.parquet"), &parquet)?;
    let samples = write_samples(run, out)?;
    for study in run.studies {
        write_atomic(
            &out.join("ratings").join(format!("{}.csv", study.name)),
            &study.csv,
        )?;
    }
    let program = run.cx.program;
    let backend = run.plan.backend;
    let m = manifest::Manifest {
        format: manifest::RUN_FORMAT,
        heist: env!("CARGO_PKG_VERSION").into(),
        experiment: run.plan.experiment.clone(),
        file: run.file.display().to_string(),
        run_id: run_id.to_string(),
        started: manifest::utc(run.started),
        finished: manifest::utc(SystemTime::now()),
        command: std::env::args().collect(),
        backend: backend.name().into(),
        device: backend.describe(),
        cpu: crate::engine::backend::cpu_model(),
        threads: rayon::current_num_threads(),
        crates: manifest::crates(),
        git: manifest::git(&run.cx.base),
        seeds: manifest::seeds(program),
        conventions: manifest::conventions(program),
        summary: run.summary.clone(),
        samples,
        jobs: manifest::jobs(run.plan, run.executed),
        program: program.clone(),
    };
    let yaml = serde_norway::to_string(&m).map_err(std::io::Error::other)?;
    write_atomic(&out.join("manifest.yaml"), yaml.as_bytes())?;
    write_atomic(&out.join("logs/run.log"), run.log.as_bytes())
}

/// The attack point a sample grid shows: the largest fraction, unaugmented if there is one,
/// the first such point.
fn sample_point(points: &[AttackPoint]) -> Option<usize> {
    (0..points.len()).max_by(|&x, &y| {
        let key = |p: &AttackPoint| (p.fraction, p.augmentation == Augmentation::None);
        key(&points[x])
            .partial_cmp(&key(&points[y]))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(y.cmp(&x))
    })
}

/// `samples/<evaluation>-<attack>.png`: input | victim | surrogate on the victim's test set,
/// for each attack's largest-fraction, unaugmented, first-seed surrogate.
fn write_samples(run: &Run, out: &Path) -> std::io::Result<Vec<String>> {
    let (cx, plan, executed) = (run.cx, run.plan, run.executed);
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
    for (name, e) in &cx.program.evaluations {
        let Ok(inputs) = cx.samples(&e.victim_test) else {
            continue;
        };
        let inputs: Vec<RgbImage> = inputs.into_iter().map(|s| s.image).collect();
        for attack in &e.attacks {
            let a = &cx.program.attacks[attack];
            let Some(point) = sample_point(&a.points) else {
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
            write_atomic(&out.join(&path), &png_bytes(&grid(&rows)))?;
            written.push(path);
        }
    }
    Ok(written)
}
