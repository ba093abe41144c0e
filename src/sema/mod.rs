//! Stage 2: from parsed files to a checked [`Program`]. Includes are read, names collected,
//! `--set` overrides and `extends` applied, then each declaration is read against its kind's
//! fields, units and ranges, and cross-checked against the declarations it names.

mod loader;
mod lower;
pub use lower::DEFAULT_TOLERANCES;
pub mod program;
mod scope;
mod values;

use std::path::Path;

pub use loader::Unreadable;
pub use program::Program;
pub use scope::Override;
pub use values::PathUse;

use crate::diagnostics::Diagnostics;
use crate::source::SourceMap;

/// The outcome of checking one experiment file.
#[derive(Debug)]
pub struct Checked {
    pub sources: SourceMap,
    pub diagnostics: Diagnostics,
    /// Present when there were no errors (warnings allowed).
    pub program: Option<Program>,
    /// The files and folders the program names, with where (checked before a run, not here:
    /// an experiment stays valid on a machine without its data).
    pub paths: Vec<PathUse>,
}

/// Checks `path` with `overrides` applied.
pub fn check_file(path: &Path, overrides: &[Override]) -> Result<Checked, Unreadable> {
    let mut sources = SourceMap::new();
    let mut diagnostics = Diagnostics::new();
    let statements = loader::load(path, &mut sources, &mut diagnostics)?;
    if diagnostics.has_errors() {
        // A file that did not parse leaves names undefined; checking on would only echo that.
        return Ok(Checked {
            sources,
            diagnostics,
            program: None,
            paths: Vec::new(),
        });
    }
    let mut scope = scope::collect(statements, &mut diagnostics);
    scope::apply_overrides(&mut scope, overrides, &mut sources, &mut diagnostics);
    scope::resolve_extends(&mut scope, &mut diagnostics);
    let default_name = path
        .file_stem()
        .map(|s| {
            s.to_string_lossy()
                .replace(|c: char| !c.is_alphanumeric() && c != '_', "_")
        })
        .unwrap_or_else(|| "experiment".into());
    let (program, paths) = {
        let mut cx = values::Cx::new(&scope, &mut diagnostics);
        let program = lower::lower(&mut cx, &default_name);
        (program, cx.paths)
    };
    let program = (!diagnostics.has_errors()).then_some(program);
    Ok(Checked {
        sources,
        diagnostics,
        program,
        paths,
    })
}
