//! What the planner is handed of the file system ([`plan::Inputs`]), gathered here: a
//! synthetic dataset is its declaration; a folder is the list of its files with their sizes and
//! modification times (reading every image of a large dataset at each plan would take minutes;
//! a file that is replaced or touched counts as changed); a weights file is the SHA-256 of its
//! bytes.

use std::path::Path;

use serde_json::{json, Value};

use crate::plan::{self, sha256_hex};
use crate::sema::program::{DataRef, DatasetSource, Program};
use crate::sema::PathUse;

/// A file or folder the plan reads could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {what} `{path}`: {reason}")]
pub struct InputError {
    pub what: String,
    pub path: String,
    pub reason: String,
}

/// Every input a plan of `program` reads (relative paths taken from `base`).
pub fn gather(program: &Program, base: &Path) -> Result<plan::Inputs, InputError> {
    let (datasets, files) = plan::needs(program);
    let mut inputs = plan::Inputs::default();
    for data in datasets {
        // A missing or empty part (a CycleGAN folder without `trainB/`) is found now, before
        // any job runs, not when the first job reads it.
        crate::engine::jobs::check_dataset(program, &data, base).map_err(|e| InputError {
            what: format!("dataset `{}`", crate::plan::data_name(&data)),
            path: base.join(folder_of(program, &data)).display().to_string(),
            reason: e.to_string(),
        })?;
        let value = dataset(program, &data, base)?;
        inputs.datasets.insert(data, value);
    }
    for f in files {
        let sha = file(&base.join(&f.path), f.what)?;
        inputs.files.insert(f.path, sha);
    }
    Ok(inputs)
}

/// The folder a dataset is read from (empty for synthetic ones).
fn folder_of(program: &Program, data: &DataRef) -> String {
    match &program.datasets[&data.dataset].source {
        DatasetSource::Folder { path, .. } => path.clone(),
        DatasetSource::Synthetic { .. } => String::new(),
    }
}

/// A dataset (part) as it determines a job's output; its name and label are left out.
fn dataset(program: &Program, data: &DataRef, base: &Path) -> Result<Value, InputError> {
    let d = &program.datasets[&data.dataset];
    let source = match &d.source {
        DatasetSource::Synthetic { .. } => serde_json::to_value(&d.source).expect("serialises"),
        DatasetSource::Folder {
            path,
            layout,
            scale,
        } => json!({
            "type": "folder", "layout": layout, "scale": scale,
            "files": listing(&base.join(path), &format!("the folder of dataset `{}`", data.dataset))?,
        }),
    };
    let mut value = json!({
        "source": source, "part": data.part, "load_size": d.load_size,
        "crop_size": d.crop_size, "limit": d.limit,
    });
    // Folder images are cut to `crop_size` as models' inputs since this was added (before,
    // it was recorded but not applied): entries made without it are not reused.
    if d.crop_size.is_some() && matches!(d.source, DatasetSource::Folder { .. }) {
        value["crop"] = "centre of the loaded image for inputs, random in training".into();
    }
    Ok(value)
}

/// SHA-256 over the relative paths, sizes and modification times of every file under `root`.
fn listing(root: &Path, what: &str) -> Result<String, InputError> {
    let unreadable = |path: &Path, e: std::io::Error| InputError {
        what: what.to_string(),
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut files = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| unreadable(&dir, e))? {
            let entry = entry.map_err(|e| unreadable(&dir, e))?;
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| unreadable(&path, e))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy();
            files.push(format!("{relative}\t{}\t{modified}", meta.len()));
        }
    }
    files.sort();
    Ok(sha256_hex(files.join("\n").as_bytes()))
}

/// SHA-256 of a file's bytes.
fn file(path: &Path, what: &str) -> Result<String, InputError> {
    let bytes = std::fs::read(path).map_err(|e| InputError {
        what: what.to_string(),
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(sha256_hex(&bytes))
}

/// A file or folder the experiment names that is not there.
#[derive(Debug, Clone)]
pub struct MissingPath {
    pub named: PathUse,
    /// Where it was looked for.
    pub looked_at: std::path::PathBuf,
    /// A file where a folder was expected, or the other way round.
    pub wrong_kind: bool,
}

/// The named paths that do not exist (relative ones are taken from `base`).
pub fn check_paths(paths: &[PathUse], base: &Path) -> Vec<MissingPath> {
    paths
        .iter()
        .filter_map(|p| {
            let at = base.join(&p.path);
            let ok = if p.folder { at.is_dir() } else { at.is_file() };
            (!ok).then(|| MissingPath {
                named: p.clone(),
                wrong_kind: at.exists(),
                looked_at: at,
            })
        })
        .collect()
}
