//! Writing a report folder in one step: every file goes into a hidden sibling folder, which
//! then replaces the old report, so a reader never sees half a report.

use std::path::{Path, PathBuf};

use super::document::{Content, Document};
use super::render::{html, latex, markdown};
use super::ReportError;
use crate::sema::program::Format;

/// The report's main file in a format.
fn main_file(format: Format) -> &'static str {
    match format {
        Format::Md => "report.md",
        Format::Html => "report.html",
        Format::Tex => "report.tex",
    }
}

/// The files of the report, as (path relative to the report folder, bytes).
pub fn files(doc: &Document, formats: &[Format]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = vec![];
    for s in &doc.sections {
        match &s.content {
            Content::Figure(f) => {
                files.push((
                    PathBuf::from(format!("figures/{}.svg", s.id)),
                    f.svg.clone().into_bytes(),
                ));
                files.push((
                    PathBuf::from(format!("figures/{}.png", s.id)),
                    f.png.clone(),
                ));
            }
            Content::Image { png, .. } => {
                files.push((PathBuf::from(format!("images/{}.png", s.id)), png.clone()));
            }
            Content::Table(_) => {}
        }
    }
    for format in formats {
        match format {
            Format::Md => files.push((
                main_file(*format).into(),
                markdown::render(doc).into_bytes(),
            )),
            Format::Html => files.push((main_file(*format).into(), html::render(doc).into_bytes())),
            Format::Tex => {
                files.push((main_file(*format).into(), latex::render(doc).into_bytes()));
                let provenance = doc.provenance.line();
                for s in &doc.sections {
                    if let Content::Table(t) = &s.content {
                        files.push((
                            PathBuf::from(format!("tables/{}.tex", s.id)),
                            latex::table(s, t, &provenance).into_bytes(),
                        ));
                    }
                }
            }
        }
    }
    files
}

/// Writes the report into `out` (replacing an earlier report there); returns the main files.
pub fn write(doc: &Document, formats: &[Format], out: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let failed = |path: &Path, e: std::io::Error| ReportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let name = out
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| failed(parent, e))?;
    // Unique names: two reports of one run written at once never share a staging folder.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(parent)
        .map_err(|e| failed(parent, e))?;
    for (relative, bytes) in files(doc, formats) {
        let path = staging.path().join(&relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
        }
        crate::fsutil::write_atomic(&path, &bytes).map_err(|e| failed(&path, e))?;
    }
    let staged = staging.keep();
    if let Err(e) = crate::fsutil::replace_dir(&staged, out) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(failed(out, e));
    }
    Ok(formats.iter().map(|f| out.join(main_file(*f))).collect())
}
