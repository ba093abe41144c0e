//! `heist check` and `heist show`: the language's commands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_INVALID, EXIT_USAGE};
use crate::diagnostics::{self, render_error};
use crate::sema::{self, Checked, Override, Program};

/// Why a program cannot be shown or run, besides its own diagnostics.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum ProgramError {
    #[error("`{file}` is not a valid experiment: {n} error{}", if *n == 1 { "" } else { "s" })]
    #[diagnostic(code(heist::invalid))]
    Invalid { file: String, n: usize },
    #[error("`{file}` names {n} missing file{s} or folder{s}; nothing was run", s = if *n == 1 { "" } else { "s" })]
    #[diagnostic(
        code(heist::missing_path),
        help("relative paths are taken from the experiment's folder")
    )]
    MissingPaths { file: String, n: usize },
    #[error("{problem}; nothing was run")]
    #[diagnostic(code(heist::missing_path), help("{help}"))]
    InceptionWeights { problem: String, help: String },
    #[error("cannot print the program: {reason}")]
    #[diagnostic(code(heist::io))]
    Print { reason: String },
}

pub(super) fn to_overrides(raw: Vec<String>) -> Vec<Override> {
    raw.into_iter().map(|text| Override { text }).collect()
}

/// `heist check FILE...`
pub(super) fn check(files: &[PathBuf], overrides: &[Override], color: bool) -> ExitCode {
    let mut status = 0u8;
    for file in files {
        match checked(file, overrides, color) {
            Ok(Some(program)) => {
                println!("ok: {} ({})", file.display(), summary(&program));
            }
            Ok(None) => status = status.max(EXIT_INVALID),
            Err(code) => status = status.max(code),
        }
    }
    ExitCode::from(status)
}

/// `heist show FILE`
pub(super) fn show(file: &Path, overrides: &[Override], json: bool, color: bool) -> ExitCode {
    let program = match checked(file, overrides, color) {
        Ok(Some(program)) => program,
        Ok(None) => return ExitCode::from(EXIT_INVALID),
        Err(code) => return ExitCode::from(code),
    };
    let text = if json {
        serde_json::to_string_pretty(&program)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string())
    } else {
        serde_norway::to_string(&program).map_err(|e| e.to_string())
    };
    match text {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            if out
                .write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                return ExitCode::from(EXIT_INVALID);
            }
            ExitCode::SUCCESS
        }
        Err(reason) => super::fail(&ProgramError::Print { reason }, EXIT_INVALID, color),
    }
}

/// A checked program for the commands that run it; diagnostics rendered, `None` when invalid.
pub(super) fn load(file: &Path, overrides: &[Override], color: bool) -> Option<Program> {
    checked(file, overrides, color).ok().flatten()
}

/// A checked program whose named files and folders all exist (relative ones are taken from
/// the experiment's folder): what `heist plan` and `heist run` start from. Problems are
/// rendered; the error is the exit status.
pub(super) fn load_for_run(
    file: &Path,
    overrides: &[Override],
    color: bool,
) -> Result<Program, u8> {
    let checked = sema::check_file(file, overrides).map_err(|e| {
        eprint!("{}", render_error(&e, color));
        EXIT_USAGE
    })?;
    if !render_checked(file, &checked, color) {
        return Err(EXIT_INVALID);
    }
    let Checked {
        sources,
        program,
        paths,
        ..
    } = checked;
    let program = program.expect("a program without errors");
    let base = crate::source::base_of(file);
    let missing: Vec<diagnostics::Diagnostic> = crate::run::inputs::check_paths(&paths, &base)
        .into_iter()
        .map(|m| {
            let kind = if m.named.folder { "folder" } else { "file" };
            let what = if m.wrong_kind {
                format!("is not a {kind}")
            } else {
                "does not exist".to_string()
            };
            diagnostics::Diagnostic::error(
                diagnostics::Code::MissingPath,
                format!("{} `{}` {what} (looked for {})", m.named.role, m.named.path, m.looked_at.display()),
            )
            .at(m.named.span, format!("no such {kind}"))
            .help("relative paths are taken from the experiment's folder; fix the path here or override it with --set")
        })
        .collect();
    if !missing.is_empty() {
        eprint!("{}", diagnostics::render(&missing, &sources, color));
        let e = ProgramError::MissingPaths {
            file: file.display().to_string(),
            n: missing.len(),
        };
        eprint!("{}", render_error(&e, color));
        return Err(EXIT_INVALID);
    }
    if let Some(problem) = inception_weights_problem(&program, &base) {
        eprint!("{}", render_error(&problem, color));
        return Err(EXIT_INVALID);
    }
    Ok(program)
}

/// FID/KID on Inception v3 without weights in the experiment take them from
/// `HEIST_INCEPTION_WEIGHTS`, which must name an existing file: checked before a run rather
/// than when the first evaluation runs.
fn inception_weights_problem(program: &Program, base: &Path) -> Option<ProgramError> {
    use crate::metrics::extractor::Extractor as FeatureSpace;
    use crate::sema::program::{Extractor, Metric};
    program.evaluations.iter().find_map(|(name, e)| {
        e.metrics.iter().find_map(|m| {
            let (Metric::Fid { extractor } | Metric::Kid { extractor }) = m else {
                return None;
            };
            if !matches!(extractor, Extractor::InceptionV3 { weights: None }) {
                return None;
            }
            let metric = m.name();
            match crate::run::execute::feature_space(base, extractor) {
                Err(missing) => Some(ProgramError::InceptionWeights {
                    problem: format!(
                        "evaluation `{name}` measures {metric} on Inception v3, but no weights file is given"
                    ),
                    help: missing.to_string(),
                }),
                Ok(FeatureSpace::InceptionV3 { weights }) if !weights.is_file() => {
                    Some(ProgramError::InceptionWeights {
                        problem: format!(
                            "evaluation `{name}` measures {metric} on Inception v3 with HEIST_INCEPTION_WEIGHTS={}, which does not exist",
                            weights.display()
                        ),
                        help: "point it at pytorch-fid's weights (heist downloads nothing), or use `extractor = random_conv`".into(),
                    })
                }
                Ok(_) => None,
            }
        })
    })
}

/// Checks one file and renders its diagnostics; `Ok(None)` when it has errors.
fn checked(file: &Path, overrides: &[Override], color: bool) -> Result<Option<Program>, u8> {
    let checked = sema::check_file(file, overrides).map_err(|e| {
        eprint!("{}", render_error(&e, color));
        EXIT_USAGE
    })?;
    render_checked(file, &checked, color);
    Ok(checked.program)
}

/// Renders a checked file's diagnostics; whether it has a program (no errors).
fn render_checked(file: &Path, checked: &Checked, color: bool) -> bool {
    let Checked {
        sources,
        diagnostics,
        program,
        ..
    } = checked;
    let all = diagnostics.iter().cloned().collect::<Vec<_>>();
    if !all.is_empty() {
        eprint!("{}", diagnostics::render(&all, sources, color));
    }
    if program.is_none() {
        let e = ProgramError::Invalid {
            file: file.display().to_string(),
            n: diagnostics.error_count(),
        };
        eprint!("{}", render_error(&e, color));
    }
    program.is_some()
}

/// "3 datasets, 1 victim, 2 attacks (20 surrogates), ..."
fn summary(p: &Program) -> String {
    let surrogates: usize = p.attacks.values().map(|a| a.points.len()).sum();
    let parts = [
        (p.datasets.len(), "dataset"),
        (p.victims.len(), "victim"),
        (p.attacks.len(), "attack"),
        (p.evaluations.len(), "evaluation"),
        (p.user_studies.len(), "user study"),
        (p.comparisons.len(), "comparison"),
        (p.reports.len(), "report"),
    ];
    let mut out: Vec<String> = Vec::new();
    for (n, what) in parts {
        if n == 0 {
            continue;
        }
        let plural = match (n, what) {
            (1, _) => what.to_string(),
            (_, "user study") => "user studies".to_string(),
            _ => format!("{what}s"),
        };
        let mut text = format!("{n} {plural}");
        if what == "attack" {
            text.push_str(&format!(
                " ({surrogates} surrogate{})",
                if surrogates == 1 { "" } else { "s" }
            ));
        }
        out.push(text);
    }
    if out.is_empty() {
        "nothing declared".into()
    } else {
        out.join(", ")
    }
}
