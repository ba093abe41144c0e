//! Reading a run back: the run directory's manifest and results, for `heist report` and
//! `heist diff`. Everything a later stage needs is checked here once, with errors that say
//! which file, which line and what to do.

use std::path::{Path, PathBuf};

use super::cache::sha256_hex;
use super::manifest::{Manifest, RUN_FORMAT};
use super::results::{RawRow, Row, COLUMNS};

/// A finished run: its directory, manifest and results.
#[derive(Debug)]
pub struct RunRecord {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// SHA-256 of `manifest.yaml`'s bytes: names the run in provenance lines.
    pub manifest_sha256: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path} is neither a run directory nor a results file")]
    NotARun { path: PathBuf },
    #[error("{dir} has no results.csv")]
    NoResults { dir: PathBuf },
    #[error("{dir} has no manifest.yaml")]
    NoManifest { dir: PathBuf },
    #[error(
        "{path} was written by an older heist (run format {found}, this heist reads {RUN_FORMAT})"
    )]
    OlderFormat { path: PathBuf, found: u32 },
    #[error(
        "{path} was written by a newer heist (run format {found}, this heist reads {RUN_FORMAT})"
    )]
    NewerFormat { path: PathBuf, found: u32 },
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path} lacks the column{} {}", if missing.len() == 1 { "" } else { "s" }, missing.join(", "))]
    MissingColumns { path: PathBuf, missing: Vec<String> },
    #[error("{path}, line {line}: {reason}")]
    BadRow {
        path: PathBuf,
        line: u64,
        reason: String,
    },
}

impl ReadError {
    pub fn help(&self) -> String {
        match self {
            ReadError::NotARun { .. } | ReadError::NoManifest { .. } | ReadError::NoResults { .. } => {
                "give the directory that `heist run` printed at its end (it holds manifest.yaml and results.csv)".into()
            }
            ReadError::OlderFormat { .. } => {
                "rerun the experiment with this heist (cached jobs are reused), then report or diff the new run directory".into()
            }
            ReadError::NewerFormat { .. } => "use the heist that wrote it, or a newer one".into(),
            ReadError::Unreadable { .. } => "check that the file exists and is readable".into(),
            ReadError::MissingColumns { .. } | ReadError::BadRow { .. } => {
                "the file was changed by hand or cut short; rerun the experiment to write it again".into()
            }
        }
    }
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> ReadError {
    ReadError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Reads a run directory (manifest and results).
pub fn read_run(dir: &Path) -> Result<RunRecord, ReadError> {
    if !dir.is_dir() {
        return Err(ReadError::NotARun {
            path: dir.to_path_buf(),
        });
    }
    let manifest_path = dir.join("manifest.yaml");
    let results_path = dir.join("results.csv");
    if !results_path.exists() {
        return Err(ReadError::NoResults {
            dir: dir.to_path_buf(),
        });
    }
    if !manifest_path.exists() {
        return Err(ReadError::NoManifest {
            dir: dir.to_path_buf(),
        });
    }
    let bytes = std::fs::read(&manifest_path).map_err(|e| unreadable(&manifest_path, e))?;
    // The format is read first so that an old manifest is named as old, not as malformed.
    #[derive(serde::Deserialize)]
    struct Version {
        #[serde(default)]
        format: u32,
    }
    let version: Version =
        serde_norway::from_slice(&bytes).map_err(|e| unreadable(&manifest_path, e))?;
    if version.format < RUN_FORMAT {
        return Err(ReadError::OlderFormat {
            path: manifest_path,
            found: version.format,
        });
    }
    if version.format > RUN_FORMAT {
        return Err(ReadError::NewerFormat {
            path: manifest_path,
            found: version.format,
        });
    }
    let manifest: Manifest =
        serde_norway::from_slice(&bytes).map_err(|e| unreadable(&manifest_path, e))?;
    Ok(RunRecord {
        dir: dir.to_path_buf(),
        manifest,
        manifest_sha256: sha256_hex(&bytes),
        rows: read_results(&results_path)?,
    })
}

/// Reads a `results.csv` (of a run directory, or a baseline committed on its own).
pub fn read_results(path: &Path) -> Result<Vec<Row>, ReadError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| unreadable(path, e))?;
    let headers = reader.headers().map_err(|e| unreadable(path, e))?.clone();
    let missing: Vec<String> = COLUMNS
        .iter()
        .filter(|c| !headers.iter().any(|h| h == **c))
        .map(|c| format!("`{c}`"))
        .collect();
    if !missing.is_empty() {
        return Err(ReadError::MissingColumns {
            path: path.to_path_buf(),
            missing,
        });
    }
    let mut rows = vec![];
    for record in reader.deserialize::<RawRow>() {
        let line = record
            .as_ref()
            .err()
            .and_then(|e| e.position())
            .map_or(rows.len() as u64 + 2, |p| p.line());
        let raw = record.map_err(|e| ReadError::BadRow {
            path: path.to_path_buf(),
            line,
            reason: match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
                _ => e.to_string(),
            },
        })?;
        // Typed once, here: a NaN value is kept (and shown as such), an unknown cell or metric
        // is an error naming the line.
        rows.push(Row::parse(raw).map_err(|reason| ReadError::BadRow {
            path: path.to_path_buf(),
            line,
            reason,
        })?);
    }
    Ok(rows)
}

/// Reads what `heist diff` compares: a run directory (its rows and manifest), or a results
/// file on its own.
pub fn read_rows(path: &Path) -> Result<(Vec<Row>, Option<Manifest>), ReadError> {
    if path.is_dir() {
        let run = read_run(path)?;
        Ok((run.rows, Some(run.manifest)))
    } else if path.is_file() {
        Ok((read_results(path)?, None))
    } else {
        Err(ReadError::NotARun {
            path: path.to_path_buf(),
        })
    }
}
