//! `heist report` and `heist diff` on runs of `tests/fixtures/smoke.exp`: the paper's tables
//! with values that agree with results.csv, figures, provenance, the three formats; a rerun
//! that passes the diff, injected regressions that fail it; the committed CI baseline; bad
//! run directories.

use std::path::Path;

use crate::scratch::Scratch;
use crate::support::{self, project_root, Heist, Outcome};

const SMOKE: &str = "tests/fixtures/smoke.exp";
/// The committed results of the smoke experiment that CI's rerun is compared with.
const BASELINE: &str = "reports/baseline/smoke-results.csv";

fn smoke_run(scratch: &Scratch, name: &str) -> std::path::PathBuf {
    let out = scratch.path(name);
    support::smoke_run(&scratch.path("cache"), &out);
    out
}

fn report(run: &Path, extra: &[&str]) -> Outcome {
    Heist::new()
        .args(["report", run.to_str().unwrap()])
        .args(extra.iter().copied())
        .run()
}

fn diff(base: &Path, new: &Path, extra: &[&str]) -> Outcome {
    Heist::new()
        .args(["diff", base.to_str().unwrap(), new.to_str().unwrap()])
        .args(extra.iter().copied())
        .run()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Per-seed values of one quantity, read straight from results.csv.
fn seed_values(results: &str, prefix: &str) -> Vec<f64> {
    results
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect()
}

/// The value of the first row of results.csv that contains `needle`.
fn row_value(results: &str, needle: &str) -> f64 {
    let line = results
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle}:\n{results}"));
    line.rsplit(',').next().unwrap().parse().unwrap()
}

/// `(B) $12.34 \pm 0.56$` in a LaTeX table: the mean and sd printed for a cell.
fn latex_cell(table: &str, cell: &str) -> (f64, f64) {
    let start = table.find(&format!("({cell}) $")).expect("cell in table") + 5;
    let text: String = table[start..].chars().take_while(|c| *c != '$').collect();
    let (mean, sd) = text.split_once(" \\pm ").expect("mean \\pm sd");
    (mean.trim().parse().unwrap(), sd.trim().parse().unwrap())
}

#[test]
fn a_report_has_the_papers_tables_and_figures_with_the_runs_numbers_and_provenance() {
    let scratch = Scratch::new(&[]);
    let run = smoke_run(&scratch, "run");
    let out = scratch.path("report");
    report(&run, &["--out", out.to_str().unwrap()])
        .status(0)
        .stdout_has("report.md")
        .stdout_has("report.html")
        .stdout_has("report.tex");

    // Table 3's layout, values mean ± sd over the two seeds of results.csv.
    let md = read(&out.join("report.md"));
    for needle in [
        "## Monet-to-Photo: FD-random_conv",
        "| Output distribution | Test set | Compared distribution: V output | Compared distribution: style_test |",
        "| V output | photos_test | N/A | (A) ",
        "| A output | photos_test | (B) ",
        "lower is better",
        "## Super-Resolution: SSIM (Y channel, crop 4)",
        "higher is better",
        "Surrogates trained on 100% of the attack data, no augmentation; mean ± sd over 2 seeds (1, 2)",
        "## Query cost",
        "![Monet-to-Photo: input, victim and surrogate outputs](images/samples-monet_to_photo-steal_monet.png)",
        "![Monet-to-Photo: FD-random_conv (lower is better) against the fraction of attack data",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
    let results = read(&run.join("results.csv"));
    let table = read(&out.join("tables/cells-monet_to_photo-fid.tex"));
    for (cell, prefix) in [
        ("B", "smoke,Monet-to-Photo,monet_to_photo,steal_monet,B,surrogate,photos_test,victim,fid,FD-random_conv,1,none,none,"),
        ("C", "smoke,Monet-to-Photo,monet_to_photo,steal_monet,C,surrogate,photos_test,ground_truth,fid,FD-random_conv,1,none,none,"),
    ] {
        let values = seed_values(&results, prefix);
        assert_eq!(values.len(), 2, "{prefix}");
        let mean = (values[0] + values[1]) / 2.0;
        let sd = (values[0] - values[1]).abs() / 2f64.sqrt();
        let (shown_mean, shown_sd) = latex_cell(&table, cell);
        assert!((shown_mean - mean).abs() <= 0.5e-2 * mean.abs().max(1e-3), "({cell}) {shown_mean} vs {mean}");
        assert!((shown_sd - sd).abs() <= 0.5e-2 * mean.abs().max(1e-3), "({cell}) sd {shown_sd} vs {sd}");
    }
    for needle in [
        "\\toprule",
        "\\midrule",
        "\\bottomrule",
        "\\multicolumn{2}{c}{Compared distribution}",
        "\\cmidrule(lr){3-4}",
        "N/A",
    ] {
        assert!(
            table.contains(needle),
            "LaTeX table lacks {needle}:\n{table}"
        );
    }
    let tex = read(&out.join("report.tex"));
    assert!(tex.contains("\\usepackage{booktabs}") && tex.contains("\\includegraphics"));

    // Figure 7: SVG and PNG of each swept metric.
    let svg = read(&out.join("figures/fractions-monet_to_photo-fid.svg"));
    assert!(svg.contains("<svg") && svg.contains("attack data used (% of the query set)"));
    let png = image::open(out.join("figures/fractions-monet_to_photo-fid.png")).unwrap();
    assert_eq!((png.width(), png.height()), (720, 440));

    // Every table and figure says where it comes from: the manifest's hash among others.
    let manifest = std::fs::read(run.join("manifest.yaml")).unwrap();
    let hash = &heist::run::cache::sha256_hex(&manifest)[..12];
    let provenance = "experiment smoke · run run · seeds 1, 2 · backend flex";
    let lines = md
        .lines()
        .filter(|l| l.contains(provenance) && l.contains(hash))
        .count();
    let sections = md.matches("\n## ").count();
    assert_eq!(
        lines,
        sections + 1,
        "a provenance line per section and one at the top"
    );

    // One self-contained HTML file: everything inline, nothing fetched.
    let html = read(&out.join("report.html"));
    assert!(html.contains("data:image/svg+xml;base64,") && html.contains("data:image/png;base64,"));
    assert!(!html.contains("src=\"http") && !html.contains("<script"));
    assert_eq!(html.matches("<img").count(), md.matches("![").count());
}

#[test]
fn a_report_names_the_table_whose_data_the_run_lacks_and_writes_nothing() {
    let scratch = Scratch::new(&[]);
    let out = scratch.path("run");
    // Only the Monet-to-Photo evaluation runs: the super-resolution tables have no data.
    Heist::new()
        .args([
            "run",
            SMOKE,
            "--quiet",
            "--only",
            "evaluate/monet_to_photo/*",
            "--cache",
        ])
        .args([
            scratch.path("cache").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .run()
        .status(0);
    let target = scratch.path("report");
    report(&out, &["--out", target.to_str().unwrap()])
        .status(1)
        .stderr_has("heist::report")
        .stderr_says("cells_table(selfie_to_anime, metric = fid): the run has no `fid` results for the evaluation `selfie_to_anime`")
        .stderr_has("help:");
    assert!(!target.exists(), "no half-written report");
    // Just the tables it has, in one format.
    let only_md = scratch.path("md");
    report(
        &out,
        &["--out", only_md.to_str().unwrap(), "--format", "md"],
    )
    .status(1);
    Heist::new()
        .args(["report", out.to_str().unwrap(), "--report", "nope"])
        .run()
        .status(1)
        .stderr_says("declares no report named `nope`");
}

#[test]
fn bad_run_directories_get_a_clear_error() {
    let scratch = Scratch::new(&[("empty/.keep", "")]);
    report(&scratch.path("nowhere"), &[])
        .status(1)
        .stderr_says("neither a run directory nor a results file");
    report(&scratch.path("empty"), &[])
        .status(1)
        .stderr_says("has no results.csv")
        .stderr_says("the directory that `heist run` printed");
    // A run from before the format was recorded.
    let run = smoke_run(&scratch, "run");
    let manifest = read(&run.join("manifest.yaml"));
    std::fs::write(
        run.join("manifest.yaml"),
        manifest.replace("format: 1\n", ""),
    )
    .unwrap();
    report(&run, &[])
        .status(1)
        .stderr_says("written by an older heist (run format 0, this heist reads 1)")
        .stderr_says("rerun the experiment");
    diff(&run, &run, &[]).status(2).stderr_has("older heist");
    // A results file cut short.
    std::fs::write(run.join("manifest.yaml"), manifest).unwrap();
    let results = read(&run.join("results.csv"));
    std::fs::write(run.join("results.csv"), &results[..results.len() / 2]).unwrap();
    report(&run, &[]).status(1).stderr_says("results.csv, line");
    // Rows are typed when read: a cell heist does not write is named with its line.
    let mut lines: Vec<String> = results.lines().map(str::to_string).collect();
    lines[3] = lines[3].replacen(",A,", ",Z,", 1);
    std::fs::write(run.join("results.csv"), lines.join("\n") + "\n").unwrap();
    report(&run, &[])
        .status(1)
        .stderr_says("results.csv, line 4: cell `Z` is none of A, B, C");
    // NaN values and fractions (a diverged model, a hand edit) are reported, not a panic.
    let nan = edited(&results, |l| l.contains(",fid,"), |_| f64::NAN).replace(",0.5,", ",NaN,");
    std::fs::write(run.join("results.csv"), nan).unwrap();
    let out = report(&run, &[]);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out.status(1)
        .stderr_says("every `fid` value of `monet_to_photo` to plot is NaN or infinite")
        .stderr_says("a model diverged");
}

/// results.csv with `f` applied to the value of every row that `pick` selects.
fn edited(results: &str, pick: impl Fn(&str) -> bool, f: impl Fn(f64) -> f64) -> String {
    results
        .lines()
        .map(|l| {
            if pick(l) {
                let (head, v) = l.rsplit_once(',').unwrap();
                format!("{head},{}", f(v.parse().unwrap()))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn diff_passes_a_rerun_and_fails_an_injected_regression_with_an_explanation() {
    let scratch = Scratch::new(&[]);
    let first = smoke_run(&scratch, "first");
    let second = smoke_run(&scratch, "second");
    diff(&first, &second, &[])
        .status(0)
        .stdout_has("ok: no regression (")
        .stdout_has("0 moved");

    // FID of (C) 50% worse on one test set: a regression, in every output format.
    let results = read(&first.join("results.csv"));
    let worse = edited(
        &results,
        |l| l.contains(",C,surrogate,photos_test,ground_truth,fid,"),
        |v| v * 1.5,
    );
    let bad = scratch.write("bad.csv", worse.as_bytes());
    let out = diff(&first, &bad, &[]).status(1);
    assert!(
        out.stdout.contains("FAILED: 4 regressions"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("REGRESSED        Monet-to-Photo steal_monet (C) surrogate photos_test 50% FD-random_conv"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("+50.00%, tolerance ±5%, lower is better, Welch p = "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("help: if the change is intended"));
    diff(&first, &bad, &["--md"])
        .status(1)
        .stdout_has("### heist diff: ❌ 4 regressions")
        .stdout_has("| REGRESSED | Monet-to-Photo steal_monet (C) surrogate photos_test");
    let json = diff(&first, &bad, &["--json"]).status(1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["regressions"], 4);
    assert_eq!(v["changes"][0]["verdict"], "regressed");
    assert_eq!(v["changes"][0]["better"], "lower");
    // A generous tolerance lets it through; the same change to SSIM is an improvement.
    diff(&first, &bad, &["--tolerance", "fid=60%"])
        .status(0)
        .stdout_has("within tolerance");
    let better = edited(&results, |l| l.contains(",ssim,"), |v| v * 1.5);
    let better = scratch.write("better.csv", better.as_bytes());
    diff(&first, &better, &[]).status(0).stdout_has("improved");
    // A result that disappears fails too.
    let fewer: String = results
        .lines()
        .filter(|l| !l.contains(",A,victim,sr_test,ground_truth,psnr,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let fewer = scratch.write("fewer.csv", fewer.as_bytes());
    diff(&first, &fewer, &[])
        .status(1)
        .stdout_has("1 result row missing")
        .stdout_has("missing          Super-Resolution (A) victim sr_test psnr = ");
}

#[test]
fn diff_refuses_another_experiment_and_bad_flags() {
    let scratch = Scratch::new(&[]);
    let base = project_root().join(BASELINE);
    let other = read(&base).replace("smoke,", "quickstart,");
    let other = scratch.write("other.csv", other.as_bytes());
    diff(&base, &other, &[])
        .status(2)
        .stderr_says("different experiments")
        .stderr_says("`experiment` is `smoke` in the base and `quickstart` in the new run");
    diff(&base, &base, &["--tolerance", "fid"])
        .status(2)
        .stderr_has("METRIC=REL");
    diff(&base, &base, &["--tolerance", "fid=-1%"]).status(2);
    diff(&base, &base, &["--tolerance", "fdi=5%"])
        .status(2)
        .stderr_has("`fdi` is not a metric of the results");
    diff(&base, &scratch.path("missing.csv"), &[])
        .status(2)
        .stderr_says("neither a run directory");
}

/// What CI checks: a fresh run of the smoke experiment has the committed baseline's numbers.
#[test]
fn the_smoke_run_matches_the_committed_baseline() {
    let scratch = Scratch::new(&[]);
    let run = smoke_run(&scratch, "run");
    let out = diff(&project_root().join(BASELINE), &run, &["--md"]);
    assert_eq!(
        out.status,
        0,
        "the smoke experiment's results moved:\n{}\nIf intended, copy {} over {BASELINE}.",
        out.stdout,
        run.join("results.csv").display()
    );
}

#[test]
fn a_user_study_is_run_reported_and_diffed_with_the_reference_statistics() {
    let ratings = project_root().join("tests/fixtures/reference/stats/likert_similar.csv");
    let exp = format!(
        r#"experiment study {{ seed = 0 }}
user_study raters {{
    setting = "Monet-to-Photo"
    ratings = "{}"
    value   = "score"
    group   = "model"
    groups  = ["A_model", "B_model"]
    scale   = 1..5
    tests   = [welch, tost]
    bound   = cohen_d(0.3)
    alpha   = 0.05
}}
"#,
        ratings.display()
    );
    let scratch = Scratch::new(&[("study.exp", &exp)]);
    let run = scratch.path("run");
    support::run_experiment(
        scratch.path("study.exp").to_str().unwrap(),
        &scratch.path("cache"),
        &run,
    );
    let expected: serde_json::Value = serde_json::from_str(&read(
        &project_root().join("tests/fixtures/reference/stats/expected.json"),
    ))
    .unwrap();
    let welch = &expected["likert_similar"]["welch"];
    let tost = &expected["likert_similar"]["tost"];
    let results = read(&run.join("results.csv"));
    let value = |metric: &str| row_value(&results, &format!(",{metric},"));
    let close = |a: f64, b: &serde_json::Value| (a - b.as_f64().unwrap()).abs() < 1e-9;
    assert!(close(value("welch_t"), &welch["t"]));
    assert!(close(value("welch_p"), &welch["p"]));
    assert!(close(value("cohen_d"), &welch["cohen_d"]));
    assert!(close(value("tost_p"), &tost["p"]));
    assert!(run.join("ratings/raters.csv").exists());

    let out = scratch.path("report");
    report(&run, &["--out", out.to_str().unwrap()]).status(0);
    let md = read(&out.join("report.md"));
    for needle in [
        "## Monet-to-Photo: user study",
        "A_model: n = 200, mean = 3.12, sd = 1.15. B_model: n = 200, mean = 3.25, sd = 1.21.",
        "Welch's t-test: t = -1.099, df = 397.1, p = 0.2723; Cohen's d = -0.110; no significant difference at alpha = 0.05.",
        "TOST: bounds ±0.300 in Cohen's d = [-0.355, 0.355] in rating points; p = 0.0290",
        "equivalent within the bounds",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
    assert!(read(&out.join("figures/likert-raters.svg")).contains("share of ratings"));
    diff(&run, &run, &[]).status(0);
}

/// `reports/quickstart/` is what this heist writes from the committed run
/// (`reports/quickstart-run/`): a change to tables, figures or their layout shows up here.
#[test]
fn the_committed_quickstart_report_is_what_heist_writes_from_its_run() {
    let scratch = Scratch::new(&[]);
    let out = scratch.path("report");
    report(
        &project_root().join("reports/quickstart-run"),
        &["--out", out.to_str().unwrap(), "--format", "md,html,tex"],
    )
    .status(0);
    let committed = project_root().join("reports/quickstart");
    for file in [
        "report.md",
        "report.html",
        "report.tex",
        "tables/cells-monet_to_photo-fid.tex",
        "figures/fractions-monet_to_photo-fid.svg",
    ] {
        assert!(
            read(&out.join(file)) == read(&committed.join(file)),
            "reports/quickstart/{file} differs from what heist writes now; regenerate it (reports/README.md)"
        );
    }
}

/// Section 7 at toy scale: answers carry the defences, the watermark and fingerprint cells are
/// measured, and the report's defence tables show them.
#[test]
fn defended_victims_mark_their_answers_and_the_report_shows_whether_marks_transfer() {
    let scratch = Scratch::new(&[]);
    let run = scratch.path("run");
    support::run_experiment("tests/fixtures/defenses.exp", &scratch.path("cache"), &run);
    let results = read(&run.join("results.csv"));
    let value = |needle: &str| row_value(&results, needle);
    // The victim's own answers read back its fingerprint; the surrogate's are measured too.
    assert!(value(",fingerprint,victim,photos_test,victim,bit_accuracy,") > 0.9);
    let surrogate = value(",fingerprint,surrogate,photos_test,victim,bit_accuracy,");
    assert!((0.0..=1.0).contains(&surrogate));
    let watermark = value(",watermark,surrogate,photos_test,victim,watermark_accuracy,");
    assert!((0.0..=1.0).contains(&watermark));
    let control = value(",watermark,surrogate,photos_test,victim,watermark_control,");
    assert!((0.0..=1.0).contains(&control));
    // The perturbed victim's answers differ from the marked one's (same trained model).
    let perturbed = value("perturbation,,A,victim,photos_test,ground_truth,fid,");
    let marked = value("marks,,A,victim,photos_test,ground_truth,fid,");
    assert_ne!(perturbed, marked);
    let out = scratch.path("report");
    report(&run, &["--out", out.to_str().unwrap()]).status(0);
    let md = read(&out.join("report.md"));
    for needle in [
        "## Monet-to-Photo, watermark and fingerprint: defences",
        "| watermark-monochrome+fingerprint-32bit | A | victim | photos_test | FD-random_conv |",
        "| fingerprint | victim | photos_test | share of the 32 fingerprint bits read back (0.5 = chance) |",
        "## Monet-to-Photo, output perturbation: defences",
        "| pgd-0.05 | A | victim |",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
}
