//! Reads the main file and, recursively, the files it includes.

use std::path::{Path, PathBuf};

use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::{self, ast};

/// The main file could not be read at all (a usage problem, not a problem in the experiment).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot read `{path}`: {source}")]
#[diagnostic(
    code(heist::io),
    help("give the path of an experiment file (`.exp`) that exists and is readable")
)]
pub struct Unreadable {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// Loads `path` and its includes; returns every statement in include order.
pub fn load(
    path: &Path,
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> Result<Vec<ast::Statement>, Unreadable> {
    let bytes = std::fs::read(path).map_err(|source| Unreadable {
        path: path.display().to_string(),
        source,
    })?;
    let mut loader = Loader {
        sources,
        diagnostics,
        stack: Vec::new(),
        statements: Vec::new(),
    };
    loader.file(path, path.display().to_string(), bytes);
    Ok(loader.statements)
}

struct Loader<'a> {
    sources: &'a mut SourceMap,
    diagnostics: &'a mut Diagnostics,
    /// Canonical paths of the files being read, outermost first, for cycle detection.
    stack: Vec<PathBuf>,
    statements: Vec<ast::Statement>,
}

impl Loader<'_> {
    fn file(&mut self, path: &Path, name: String, bytes: Vec<u8>) {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let id = self.sources.add(name, Some(canonical), lossy);
                self.diagnostics.push(
                    Diagnostic::error(Code::Encoding, "the file is not valid UTF-8 text")
                        .at(Span::new(id, offset, offset + 1), "invalid byte here")
                        .help("an experiment is a UTF-8 text file; check that this is the right file and save it as UTF-8"),
                );
                return;
            }
        };
        if let Some(offset) = text.find(is_control) {
            // Binary input: show it without its control bytes, which would garble a terminal.
            let shown: String = text
                .chars()
                .map(|c| if is_control(c) { '?' } else { c })
                .collect();
            let c = text[offset..].chars().next().unwrap_or('?');
            let id = self.sources.add(name, Some(canonical), shown);
            self.diagnostics.push(
                Diagnostic::error(
                    Code::Encoding,
                    format!(
                        "the file contains the control character U+{:04X}: it is not an experiment",
                        c as u32
                    ),
                )
                .at(Span::new(id, offset, offset + 1), "control character")
                .help("an experiment is a text file; check that this is the right file"),
            );
            return;
        }
        let id = self.sources.add(name, Some(canonical.clone()), text);
        let parsed = syntax::parse(id, &self.sources.get(id).text);
        let file = match parsed {
            Ok(file) => file,
            Err(errors) => {
                self.diagnostics.extend(errors);
                return;
            }
        };
        self.stack.push(canonical);
        for statement in file.statements {
            match statement {
                ast::Statement::Include(include) => self.include(id, &include),
                other => self.statements.push(other),
            }
        }
        self.stack.pop();
    }

    fn include(&mut self, from: FileId, include: &ast::Include) {
        let from_file = self.sources.get(from);
        let base = from_file
            .path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let display_base = Path::new(&from_file.name)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let target = base.join(&include.path);
        let display = display_base.join(&include.path).display().to_string();
        let canonical = match std::fs::canonicalize(&target) {
            Ok(c) => c,
            Err(e) => {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::IncludeMissing,
                        format!("cannot include `{}`: {}", include.path, io_reason(&e)),
                    )
                    .at(include.span, "included here")
                    .help(format!(
                        "include paths are relative to the including file; looked for `{display}`"
                    )),
                );
                return;
            }
        };
        if let Some(position) = self.stack.iter().position(|p| *p == canonical) {
            let chain: Vec<String> = self.stack[position..]
                .iter()
                .map(|p| file_name(p))
                .chain(std::iter::once(file_name(&canonical)))
                .collect();
            self.diagnostics.push(
                Diagnostic::error(
                    Code::IncludeCycle,
                    format!("`{}` includes itself", include.path),
                )
                .at(include.span, "this include closes a cycle")
                .help(format!(
                    "the chain is {}; remove one of these includes",
                    chain.join(" -> ")
                )),
            );
            return;
        }
        if self.sources.find_path(&canonical).is_some() {
            return; // Already read through another include: each file counts once.
        }
        match std::fs::read(&canonical) {
            Ok(bytes) => self.file(&canonical, display, bytes),
            Err(e) => self.diagnostics.push(
                Diagnostic::error(
                    Code::IncludeMissing,
                    format!("cannot include `{}`: {}", include.path, io_reason(&e)),
                )
                .at(include.span, "included here"),
            ),
        }
    }
}

/// Single-byte control characters that never belong in a text file.
fn is_control(c: char) -> bool {
    (c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}'
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
