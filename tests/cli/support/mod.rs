//! A small builder for running the `heist` binary: `Heist::new().args([..]).run()`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One invocation of heist.
pub struct Heist {
    args: Vec<String>,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

/// What an invocation printed and returned.
pub struct Outcome {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Heist {
    pub fn new() -> Heist {
        Heist {
            args: Vec::new(),
            dir: project_root(),
            env: Vec::new(),
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Heist
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs in `dir` (relative to the project root) so that paths in messages stay short.
    pub fn in_dir(mut self, dir: impl AsRef<Path>) -> Heist {
        self.dir = project_root().join(dir);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Heist {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn run(self) -> Outcome {
        let output = Command::new(env!("CARGO_BIN_EXE_heist"))
            .args(&self.args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("heist runs");
        Outcome {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Outcome {
    /// Asserts the exit status, showing what heist printed when it differs.
    pub fn status(self, expected: i32) -> Outcome {
        assert_eq!(
            self.status, expected,
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn stderr_has(self, needle: &str) -> Outcome {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    /// Like [`Outcome::stderr_has`], but reads a rendered diagnostic as one line: miette's
    /// wrapping, indentation and gutters are ignored.
    pub fn stderr_says(self, needle: &str) -> Outcome {
        let flat = self
            .stderr
            .lines()
            .map(|l| l.trim().trim_start_matches(['│', '×']).trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            flat.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn stdout_has(self, needle: &str) -> Outcome {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
        self
    }
}

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped experiments (`experiments/**/*.exp`), sorted.
pub fn shipped_experiments() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![project_root().join("experiments")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("experiments/ exists") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "exp") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Runs the experiment `file` with the cache `cache` into the run directory `out`; it must
/// succeed.
pub fn run_experiment(file: &str, cache: &Path, out: &Path) {
    Heist::new()
        .args(["run", file, "--quiet", "--cache"])
        .args([cache.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .run()
        .status(0);
}

/// Runs `tests/fixtures/smoke.exp` (the quickstart at toy scale, seconds).
pub fn smoke_run(cache: &Path, out: &Path) {
    run_experiment("tests/fixtures/smoke.exp", cache, out);
}
