//! `heist check` and `heist show`: the language's commands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_INVALID, EXIT_USAGE};
use crate::diagnostics;
use crate::sema::{self, Checked, Override, Program};

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
        serde_yaml::to_string(&program).map_err(|e| e.to_string())
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
        Err(e) => {
            eprintln!("error: cannot print the program: {e}");
            ExitCode::from(EXIT_INVALID)
        }
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
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
    let paths = checked.paths.clone();
    let sources = checked.sources.clone();
    let Some(program) = render_checked(file, checked, color) else {
        return Err(EXIT_INVALID);
    };
    let base = crate::engine::jobs::base_of(file);
    let missing: Vec<diagnostics::Diagnostic> = crate::plan::check_paths(&paths, &base)
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
        eprintln!(
            "error: `{}` names {} missing file{} or folder{}; nothing was run",
            file.display(),
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            if missing.len() == 1 { "" } else { "s" },
        );
        return Err(EXIT_INVALID);
    }
    if let Some(problem) = inception_weights_problem(&program) {
        eprintln!("error: {problem}\nhelp: give `weights = \"pt_inception-2015-12-05-6726825d.pth\"` in the metric, or set HEIST_INCEPTION_WEIGHTS (heist downloads nothing), or use `extractor = random_conv`; nothing was run");
        return Err(EXIT_INVALID);
    }
    Ok(program)
}

/// FID/KID on Inception v3 without weights in the experiment need `HEIST_INCEPTION_WEIGHTS`
/// to name an existing file: checked before a run rather than when the first evaluation runs.
fn inception_weights_problem(program: &Program) -> Option<String> {
    use crate::sema::program::{Extractor, Metric};
    let (name, metric) = program.evaluations.iter().find_map(|(name, e)| {
        e.metrics.iter().find_map(|m| match m {
            Metric::Fid {
                extractor: Extractor::InceptionV3 { weights: None },
            }
            | Metric::Kid {
                extractor: Extractor::InceptionV3 { weights: None },
            } => Some((name, m.name())),
            _ => None,
        })
    })?;
    match std::env::var_os("HEIST_INCEPTION_WEIGHTS") {
        None => Some(format!(
            "evaluation `{name}` measures {metric} on Inception v3, but no weights file is given"
        )),
        Some(path) if !Path::new(&path).is_file() => Some(format!(
            "evaluation `{name}` measures {metric} on Inception v3 with HEIST_INCEPTION_WEIGHTS={}, which does not exist",
            Path::new(&path).display()
        )),
        Some(_) => None,
    }
}

/// Checks one file and renders its diagnostics; `Ok(None)` when it has errors.
fn checked(file: &Path, overrides: &[Override], color: bool) -> Result<Option<Program>, u8> {
    let checked = sema::check_file(file, overrides).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
    Ok(render_checked(file, checked, color))
}

/// Renders a checked file's diagnostics; its program when it has no errors.
fn render_checked(file: &Path, checked: Checked, color: bool) -> Option<Program> {
    let Checked {
        sources,
        diagnostics,
        program,
        ..
    } = checked;
    let all = diagnostics.iter().cloned().collect::<Vec<_>>();
    if !all.is_empty() {
        eprint!("{}", diagnostics::render(&all, &sources, color));
    }
    if program.is_none() {
        let n = diagnostics.error_count();
        eprintln!(
            "error: `{}` is not a valid experiment: {n} error{}",
            file.display(),
            if n == 1 { "" } else { "s" }
        );
    }
    program
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
