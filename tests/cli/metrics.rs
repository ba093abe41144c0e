//! `heist metric` and `heist stats` agree with scikit-image, scipy, statsmodels and the
//! pytorch-fid formula on the reference cases in `tests/fixtures/reference/`, and refuse bad
//! input with exit 1 and nothing on stdout.

use serde_json::Value;

use crate::scratch::Scratch;
use crate::support::{project_root, Heist};

const REFERENCE: &str = "tests/fixtures/reference";

fn expected(path: &str) -> Value {
    let text =
        std::fs::read_to_string(project_root().join(REFERENCE).join(path)).expect("expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn json_of(args: &[&str]) -> Value {
    let out = Heist::new().args(args.iter().copied()).run().status(0);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn assert_relative(actual: f64, expected: f64, tolerance: f64, what: &str) {
    let error = (actual - expected).abs() / expected.abs().max(1e-12);
    assert!(
        error <= tolerance,
        "{what}: {actual} vs {expected} (relative error {error:.2e})"
    );
}

#[test]
fn psnr_and_ssim_match_scikit_image_on_every_reference_pair() {
    let expected = expected("metrics/expected.json");
    for (distortion, cases) in expected.as_object().expect("object") {
        let reference = format!("{REFERENCE}/metrics/{distortion}/ref");
        let test = format!("{REFERENCE}/metrics/{distortion}/test");
        for (key, metric, sr) in [
            ("psnr", "psnr", false),
            ("ssim", "ssim", false),
            ("psnr_y_crop4", "psnr", true),
            ("ssim_y_crop4", "ssim", true),
        ] {
            for (file, values) in cases["per_image"].as_object().expect("per_image") {
                let Some(want) = values.get(key).and_then(Value::as_f64) else {
                    continue; // the SR convention is given for RGB images only
                };
                let (r, t) = (format!("{reference}/{file}"), format!("{test}/{file}"));
                let mut args = vec!["metric", metric, r.as_str(), t.as_str(), "--json"];
                if sr {
                    args.extend(["--y-channel", "--crop-border", "4"]);
                }
                let got = json_of(&args);
                assert_relative(
                    got["mean"].as_f64().unwrap(),
                    want,
                    1e-4,
                    &format!("{distortion}/{file} {key}"),
                );
            }
            if !sr {
                let got = json_of(&["metric", metric, &reference, &test, "--json"]);
                let want = cases["summary"][key]["mean"].as_f64().unwrap();
                assert_relative(
                    got["mean"].as_f64().unwrap(),
                    want,
                    1e-4,
                    &format!("{distortion} mean {key}"),
                );
                assert_eq!(got["n"], cases["summary"][key]["n"]);
            }
        }
    }
}

#[test]
fn fid_and_kid_match_the_reference_formula() {
    let expected = expected("fid/expected.json");
    for (case, values) in expected.as_object().expect("object") {
        let a = format!("{REFERENCE}/fid/{case}_a.npy");
        let b = format!("{REFERENCE}/fid/{case}_b.npy");
        for metric in ["fid", "kid"] {
            let got = json_of(&["metric", metric, &a, &b, "--json"]);
            let want = values[metric].as_f64().unwrap();
            assert_relative(
                got["value"].as_f64().unwrap(),
                want,
                1e-4,
                &format!("{case} {metric}"),
            );
            assert_eq!(got["metric"], metric);
            assert_eq!(got["dim"], values["dim"]);
        }
    }
}

/// `heist stats TEST CSV --value score --group model EXTRA... --json`, parsed.
fn stats_json(test: &str, csv: &str, extra: &[&str]) -> Value {
    let mut args = vec!["stats", test, csv, "--value", "score", "--group", "model"];
    args.extend_from_slice(extra);
    args.push("--json");
    json_of(&args)
}

#[test]
fn welch_and_tost_match_scipy_and_statsmodels() {
    let expected = expected("stats/expected.json");
    for (case, values) in expected.as_object().expect("object") {
        let csv = format!("{REFERENCE}/stats/{case}.csv");
        let welch = stats_json("welch", &csv, &[]);
        for key in [
            "t", "df", "p", "mean_a", "mean_b", "sd_a", "sd_b", "cohen_d",
        ] {
            let (got, want) = (
                welch[key].as_f64().unwrap(),
                values["welch"][key].as_f64().unwrap(),
            );
            let tolerance = if key == "p" {
                1e-6
            } else {
                1e-9 * want.abs().max(1.0)
            };
            assert!(
                (got - want).abs() <= tolerance,
                "{case} welch {key}: {got} vs {want}"
            );
        }
        assert_eq!(welch["n_a"], values["welch"]["n_a"]);
        let d = values["tost"]["bound_d"].as_f64().unwrap().to_string();
        let tost = stats_json("tost", &csv, &["--bound-d", &d]);
        for key in ["p", "p_lower", "p_upper", "low_raw", "high_raw"] {
            let (got, want) = (
                tost[key].as_f64().unwrap(),
                values["tost"][key].as_f64().unwrap(),
            );
            assert!(
                (got - want).abs() <= 1e-6,
                "{case} tost {key}: {got} vs {want}"
            );
        }
        assert_eq!(tost["equivalent"], values["tost"]["equivalent"]);
    }
}

#[test]
fn raw_bounds_and_chosen_groups_are_honoured() {
    let csv = format!("{REFERENCE}/stats/likert_similar.csv");
    let by_d = stats_json("tost", &csv, &["--bound-d", "0.3"]);
    let raw = by_d["high_raw"].as_f64().unwrap().to_string();
    let by_raw = stats_json("tost", &csv, &["--bound-raw", &raw]);
    assert!((by_raw["p"].as_f64().unwrap() - by_d["p"].as_f64().unwrap()).abs() < 1e-9);
    assert!((by_raw["bound_d"].as_f64().unwrap() - 0.3).abs() < 1e-9);
    // Swapping A and B flips the sign of the difference.
    let swapped = stats_json("welch", &csv, &["--groups", "B_model,A_model"]);
    let original = stats_json("welch", &csv, &[]);
    assert!((swapped["t"].as_f64().unwrap() + original["t"].as_f64().unwrap()).abs() < 1e-12);
}

#[test]
fn human_output_reads_like_a_results_sentence() {
    let csv = format!("{REFERENCE}/stats/likert_similar.csv");
    Heist::new()
        .args([
            "stats", "welch", &csv, "--value", "score", "--group", "model",
        ])
        .run()
        .status(0)
        .stdout_has("t(397.11) = -1.10, p = 0.2723, d = -0.11");
    Heist::new()
        .args([
            "stats",
            "tost",
            &csv,
            "--value",
            "score",
            "--group",
            "model",
            "--bound-d",
            "0.3",
        ])
        .run()
        .status(0)
        .stdout_has("equivalent within ±0.35 (d = 0.30): p = 0.0290");
}

/// Runs a metric or stats command that must fail with exit 1, a message, and empty stdout.
fn refused(args: &[&str], message: &str) {
    let out = Heist::new()
        .args(args.iter().copied())
        .run()
        .status(1)
        .stderr_has(message);
    assert!(
        out.stdout.is_empty(),
        "stdout must stay empty on errors: {}",
        out.stdout
    );
}

fn gray_png(path: &std::path::Path, width: u32, height: u32) {
    let pixels: Vec<u8> = (0..width * height).map(|i| (i * 7 % 251) as u8).collect();
    image::GrayImage::from_raw(width, height, pixels)
        .unwrap()
        .save(path)
        .unwrap();
}

#[test]
fn bad_image_inputs_are_named() {
    let s = Scratch::new(&[]);
    for dir in ["a", "b", "empty", "small_a", "small_b"] {
        std::fs::create_dir_all(s.path(dir)).unwrap();
    }
    gray_png(&s.path("a/one.png"), 32, 32);
    gray_png(&s.path("a/two.png"), 32, 32);
    gray_png(&s.path("b/one.png"), 32, 32);
    gray_png(&s.path("b/three.png"), 32, 32);
    let (a, b) = (s.path("a"), s.path("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let out = Heist::new()
        .args(["metric", "psnr", a, b, "--json"])
        .run()
        .status(1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("only in the reference: two.png") && out.stderr.contains("three.png")
    );

    gray_png(&s.path("big.png"), 40, 32);
    let one = s.path("a/one.png");
    let big = s.path("big.png");
    refused(
        &[
            "metric",
            "ssim",
            one.to_str().unwrap(),
            big.to_str().unwrap(),
        ],
        "is 32x32 in the reference but 40x32",
    );

    let truncated = s.write("truncated.png", &std::fs::read(&one).unwrap()[..60]);
    refused(
        &[
            "metric",
            "psnr",
            one.to_str().unwrap(),
            truncated.to_str().unwrap(),
        ],
        "truncated.png",
    );

    let empty = s.path("empty");
    refused(
        &[
            "metric",
            "psnr",
            empty.to_str().unwrap(),
            empty.to_str().unwrap(),
        ],
        "holds no images",
    );

    gray_png(&s.path("small_a/x.png"), 16, 16);
    gray_png(&s.path("small_b/x.png"), 16, 16);
    let (sa, sb) = (s.path("small_a"), s.path("small_b"));
    refused(
        &[
            "metric",
            "ssim",
            sa.to_str().unwrap(),
            sb.to_str().unwrap(),
            "--crop-border",
            "4",
        ],
        "smaller than the 11x11 SSIM window",
    );
}

fn npy(
    s: &Scratch,
    name: &str,
    rows: usize,
    cols: usize,
    value: impl Fn(usize, usize) -> f64,
) -> String {
    let data = (0..rows * cols)
        .map(|i| value(i / cols, i % cols))
        .collect();
    let m = heist::metrics::features::FeatureMatrix {
        rows,
        cols,
        data,
        source: s.path(name),
    };
    heist::metrics::features::write_npy(&s.path(name), &m).unwrap();
    s.path(name).to_str().unwrap().to_string()
}

#[test]
fn bad_feature_matrices_are_refused() {
    let s = Scratch::new(&[]);
    let good = npy(&s, "good.npy", 10, 4, |i, j| {
        ((i * 31 + j * 17) % 13) as f64
    });
    let wide = npy(&s, "wide.npy", 10, 5, |i, j| (i + j) as f64);
    let single = npy(&s, "single.npy", 1, 4, |_, j| j as f64);
    let nan = npy(&s, "nan.npy", 10, 4, |i, j| {
        if i == 3 && j == 2 {
            f64::NAN
        } else {
            1.0
        }
    });
    refused(
        &["metric", "fid", &good, &wide, "--json"],
        "different dimensions: 4 in",
    );
    refused(&["metric", "kid", &good, &single], "has 1 sample(s)");
    refused(
        &["metric", "fid", &good, &nan],
        "non-finite value (NaN) at row 3, column 2",
    );
    let junk = s.write("junk.npy", b"not numpy at all");
    refused(
        &["metric", "fid", &good, junk.to_str().unwrap()],
        "not a .npy file",
    );
}

#[test]
fn near_singular_covariances_give_a_number() {
    // N < D: both covariances are singular; the distance must still be finite and >= 0.
    let s = Scratch::new(&[]);
    let a = npy(&s, "a.npy", 5, 32, |i, j| ((i * 7 + j * 3) % 11) as f64);
    let b = npy(&s, "b.npy", 6, 32, |i, j| ((i * 5 + j * 2) % 9) as f64);
    let got = json_of(&["metric", "fid", &a, &b, "--json"]);
    let value = got["value"].as_f64().expect("a finite number");
    assert!(value.is_finite() && value >= -1e-9, "{value}");
    let same = json_of(&["metric", "fid", &a, &a, "--json"]);
    assert!(same["value"].as_f64().unwrap().abs() < 1e-8);
}

#[test]
fn bad_ratings_are_refused() {
    let s = Scratch::new(&[
        ("three.csv", "model,score\nA,1\nB,2\nC,3\nA,2\nB,3\nC,4\n"),
        ("flat.csv", "model,score\nA,3\nB,3\nA,3\nB,3\n"),
        ("text.csv", "model,score\nA,1\nB,two\n"),
    ]);
    let path = |n: &str| s.path(n).to_str().unwrap().to_string();
    refused(
        &[
            "stats",
            "welch",
            &path("three.csv"),
            "--value",
            "score",
            "--group",
            "model",
        ],
        "has 3 group(s) in column `model`, not two: `A`, `B`, `C`",
    );
    refused(
        &[
            "stats",
            "welch",
            &path("three.csv"),
            "--value",
            "rating",
            "--group",
            "model",
        ],
        "has no column `rating`; its columns are `model`, `score`",
    );
    refused(
        &[
            "stats",
            "tost",
            &path("flat.csv"),
            "--value",
            "score",
            "--group",
            "model",
        ],
        "zero variance",
    );
    refused(
        &[
            "stats",
            "welch",
            &path("text.csv"),
            "--value",
            "score",
            "--group",
            "model",
        ],
        "row 3: `two`",
    );
    refused(
        &[
            "stats",
            "welch",
            &path("three.csv"),
            "--value",
            "score",
            "--group",
            "model",
            "--groups",
            "A,D",
        ],
        "no group `D`",
    );
}

#[test]
fn metric_usage_errors_exit_2() {
    Heist::new()
        .args(["metric", "lpips", "a", "b"])
        .run()
        .status(2);
    let npy_a = format!("{REFERENCE}/fid/far_a.npy");
    Heist::new()
        .args(["metric", "fid", &npy_a, &npy_a, "--y-channel"])
        .run()
        .status(2);
    Heist::new()
        .args(["stats", "tost", "x.csv", "--value", "v"])
        .run()
        .status(2);
}

#[test]
fn fid_on_folders_names_its_feature_space() {
    let reference = format!("{REFERENCE}/metrics/noise/ref");
    let test = format!("{REFERENCE}/metrics/blur/test");
    let out = Heist::new()
        .args(["metric", "fid", &reference, &test, "--json"])
        .run()
        .status(0);
    let got: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got["name"], "FD-random_conv");
    assert_eq!(got["feature_space"]["kind"], "random_conv");
    assert!(out.stderr.contains("not FID"));
    let same = json_of(&["metric", "fid", &reference, &reference, "--json"]);
    assert!(same["value"].as_f64().unwrap().abs() < 1e-6);
}

#[test]
fn sixteen_bit_and_alpha_images_are_read_with_a_note() {
    let s = Scratch::new(&[]);
    let (w, h) = (24u32, 16u32);
    let eight = ::image::RgbImage::from_fn(w, h, |x, y| {
        ::image::Rgb([(x * 10) as u8, (y * 15) as u8, ((x + y) * 5) as u8])
    });
    // The same picture in 16 bits (v * 257 maps 255 to 65535) and with an opaque alpha channel.
    let sixteen = ::image::ImageBuffer::<::image::Rgb<u16>, Vec<u16>>::from_fn(w, h, |x, y| {
        ::image::Rgb(eight.get_pixel(x, y).0.map(|v| v as u16 * 257))
    });
    let alpha = ::image::RgbaImage::from_fn(w, h, |x, y| {
        let [r, g, b] = eight.get_pixel(x, y).0;
        ::image::Rgba([r, g, b, 255])
    });
    eight.save(s.path("eight.png")).unwrap();
    sixteen.save(s.path("sixteen.png")).unwrap();
    alpha.save(s.path("alpha.png")).unwrap();
    let path = |n: &str| s.path(n).to_str().unwrap().to_string();
    for (other, note) in [
        ("sixteen.png", "16-bit image scaled to 0-255"),
        ("alpha.png", "alpha channel ignored"),
    ] {
        let out = Heist::new()
            .args(["metric", "psnr", &path("eight.png"), &path(other), "--json"])
            .run()
            .status(0)
            .stderr_has(note);
        let got: Value = serde_json::from_str(&out.stdout).unwrap();
        assert!(
            got["mean"].is_null(),
            "identical pictures: infinite PSNR, null in JSON"
        );
        assert!(got["notes"][0].as_str().unwrap().contains(note));
    }
}
