//! File-driven diagnostics tests: every `tests/diagnostics/<case>.exp` is checked and its
//! stderr compared with `<case>.stderr`. A first line `# args: ...` adds arguments (`--set`).
//! Regenerate the expectations with `UPDATE_EXPECT=1 cargo test` and review the diff.

use std::path::Path;

use crate::support::{project_root, Heist};

#[test]
fn every_wrong_experiment_is_explained() {
    let dir = project_root().join("tests/diagnostics");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/diagnostics exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "exp"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 30,
        "expected at least 30 cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(message) = run_case(case, update) {
            failures.push(message);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn run_case(case: &Path, update: bool) -> Result<(), String> {
    let name = case
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let bytes = std::fs::read(case).expect("case readable");
    let first_line = String::from_utf8_lossy(&bytes)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let extra: Vec<String> = first_line
        .strip_prefix("# args: ")
        .map(|a| a.split(' ').map(str::to_string).collect())
        .unwrap_or_default();
    let outcome = Heist::new()
        .in_dir("tests/diagnostics")
        .args(["check".to_string()])
        .args(extra)
        .args([name.clone()])
        .run();
    if outcome.status != 1 {
        return Err(format!(
            "{name}: exit status {} (expected 1)\n{}",
            outcome.status, outcome.stderr
        ));
    }
    if outcome.stderr.contains("panicked") {
        return Err(format!("{name}: heist panicked\n{}", outcome.stderr));
    }
    let expected_path = case.with_extension("stderr");
    if update {
        std::fs::write(&expected_path, &outcome.stderr).expect("write expectation");
        return Ok(());
    }
    let expected = std::fs::read_to_string(&expected_path).map_err(|_| {
        format!(
            "{name}: no {} (run with UPDATE_EXPECT=1)",
            expected_path.display()
        )
    })?;
    if expected != outcome.stderr {
        return Err(format!(
            "{name}: stderr differs\n--- expected\n{expected}\n--- actual\n{}",
            outcome.stderr
        ));
    }
    Ok(())
}
