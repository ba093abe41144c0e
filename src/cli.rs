//! The command line: flags are defined here with their help, and each subcommand calls one
//! function. Diagnostics are rendered here and nowhere else.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostics;
use crate::sema::{self, Checked, Override, Program};

/// heist: declare, check, run and report model-extraction experiments on image-translation models.
#[derive(Debug, Parser)]
#[command(name = "heist", version, about, long_about = None)]
struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check experiment files without running anything: exit 0 when valid, 1 when not.
    Check {
        /// The `.exp` files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Override a variable or field, e.g. `--set root=/data` or `--set steal.fractions=[50%]`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Print the fully resolved program (what a run executes) as YAML or JSON.
    Show {
        /// The `.exp` file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Override a variable or field, e.g. `--set root=/data` or `--set steal.fractions=[50%]`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Print JSON instead of YAML.
        #[arg(long)]
        json: bool,
    },
}

/// Exit status for a problem in the input (an invalid experiment, a failed check).
const EXIT_INVALID: u8 = 1;
/// Exit status for a usage problem (bad flags, unreadable command-line files).
const EXIT_USAGE: u8 = 2;

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    match cli.command {
        Command::Check { files, overrides } => check(&files, &to_overrides(overrides), color),
        Command::Show {
            file,
            overrides,
            json,
        } => show(&file, &to_overrides(overrides), json, color),
    }
}

fn to_overrides(raw: Vec<String>) -> Vec<Override> {
    raw.into_iter().map(|text| Override { text }).collect()
}

/// `heist check FILE...`
fn check(files: &[PathBuf], overrides: &[Override], color: bool) -> ExitCode {
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
fn show(file: &Path, overrides: &[Override], json: bool, color: bool) -> ExitCode {
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

/// Checks one file and renders its diagnostics; `Ok(None)` when it has errors.
fn checked(file: &Path, overrides: &[Override], color: bool) -> Result<Option<Program>, u8> {
    let Checked {
        sources,
        diagnostics,
        program,
    } = sema::check_file(file, overrides).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
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
    Ok(program)
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
