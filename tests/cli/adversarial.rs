//! Adversarial input through `heist run`, as a hostile or careless user would give it:
//! tampered cache entries, images of sizes the models cannot take, a victim that answers
//! nonsense, odd dataset folders. Each case must end without a panic, with its cause named and
//! exit 1 (or, for a damaged cache, a warning and a rebuild), and a rerun on a clean cache
//! must give what a clean run gives.

use std::path::Path;

use crate::scratch::Scratch;
use crate::support::{project_root, Heist, Outcome};

const TINY: &str = "tests/fixtures/tiny.exp";
const SMOKE: &str = "tests/fixtures/smoke.exp";

fn run(file: &str, cache: &Path, out: &Path) -> Outcome {
    Heist::new()
        .args(["run", file, "--quiet", "--cache"])
        .args([cache.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .run()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `entry.json` files of the cache entries of `stage`.
fn entries_of(cache: &Path, stage: &str) -> Vec<std::path::PathBuf> {
    let mut found = vec![];
    for shard in std::fs::read_dir(cache.join("objects")).unwrap().flatten() {
        for entry in std::fs::read_dir(shard.path()).unwrap().flatten() {
            let path = entry.path().join("entry.json");
            if read(&path).contains(&format!("\"stage\": \"{stage}\"")) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A failed run: no panic, exit 1, the cause named.
fn fails_with(outcome: Outcome, cause: &str) {
    assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
    outcome.status(1).stderr_has(cause);
}

/// An experiment in `scratch`: tiny.exp with `edit` applied and `extra` appended.
fn variant(scratch: &Scratch, name: &str, edit: impl Fn(String) -> String, extra: &str) -> String {
    let text = edit(read(&project_root().join(TINY))) + extra;
    scratch
        .write(name, text.as_bytes())
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_tampered_cache_is_rebuilt_to_the_clean_results() {
    let scratch = Scratch::new(&[]);
    let clean = scratch.path("clean");
    run(SMOKE, &scratch.path("clean-cache"), &clean).status(0);
    let cache = scratch.path("cache");
    run(SMOKE, &cache, &scratch.path("first")).status(0);
    // One digit of a metric value, a query count, and a file dropped from a list.
    let evaluation = &entries_of(&cache, "evaluate")[0];
    let text = read(evaluation);
    let at = text.find("\"value\": ").unwrap() + 9;
    let mut tampered = text.clone();
    tampered.replace_range(at..at + 1, if &text[at..at + 1] == "1" { "2" } else { "1" });
    std::fs::write(evaluation, tampered).unwrap();
    let queries = &entries_of(&cache, "queries")[0];
    let text = read(queries);
    std::fs::write(queries, text.replacen("\"queries\": ", "\"queries\": 1", 1)).unwrap();
    let outputs = &entries_of(&cache, "outputs")[0];
    let text = read(outputs);
    std::fs::write(outputs, text.replacen("\"output-00000.png\"", "\"x\"", 1)).unwrap();
    let again = scratch.path("again");
    let outcome = run(SMOKE, &cache, &again)
        .status(0)
        .stderr_has("does not match its checksum");
    assert_eq!(
        outcome.stderr.matches("was damaged").count(),
        3,
        "{}",
        outcome.stderr
    );
    assert_eq!(
        read(&clean.join("results.csv")),
        read(&again.join("results.csv")),
        "rebuilt, not reported"
    );
}

#[test]
fn images_a_model_cannot_take_fail_their_jobs_with_the_sizes() {
    let scratch = Scratch::new(&[]);
    // A U-GAT-IT victim built for exactly 32 px is asked 40 px queries: found by the check
    // that `heist run` starts with, nothing runs.
    let exp = variant(
        &scratch,
        "sizes.exp",
        |t| t.replace("light = true", "light = false"),
        "dataset big_faces = synthetic { domain = face; distribution = attacker; count = 4; size = 40px; seed = 9 }\n\
         attack steal_anime { victim = anime_filter; queries = big_faces; surrogate = pix2pix { image_size = 32px; generator { filters = 4; depth = 5 }; discriminator { filters = 4; layers = 1 }; training = quick }; fractions = [100%]; seeds = [1] }\n",
    );
    fails_with(
        run(&exp, &scratch.path("cache"), &scratch.path("out")),
        "`big_faces` has 40px images, which the victim cannot take: it needs exactly 32px",
    );
    // Training images smaller than the training crop.
    let small = variant(
        &scratch,
        "small.exp",
        |t| {
            t.replace("dataset photos    = synthetic { domain = photo;    distribution = victim;   count = images; size = size; seed = 1 }",
                      "dataset photos    = synthetic { domain = photo;    distribution = victim;   count = images; size = 16px; seed = 1 }")
        },
        "",
    );
    fails_with(
        run(&small, &scratch.path("cache"), &scratch.path("out-small")),
        "training victim `monet` (CycleGAN) takes images of at least 32x32 (its training crop), but `photos` has a 16x16 image",
    );
}

#[test]
fn a_victim_that_answers_the_wrong_size_is_named_with_the_query() {
    let scratch = Scratch::new(&[]);
    let odd = scratch.path("odd.png");
    image::RgbImage::new(48, 40).save(&odd).unwrap();
    let exp = variant(
        &scratch,
        "odd.exp",
        |t| t,
        &format!(
            "victim service = external {{ command = \"for f in {{input}}/*; do cp {} {{output}}/$(basename $f); done\"; task = style_transfer; image_size = 32px; retries = 0 }}\n\
             attack steal_service extends steal_monet {{ victim = service; fractions = [100%]; augmentations = [none] }}\n",
            odd.display()
        ),
    );
    fails_with(
        run(&exp, &scratch.path("cache"), &scratch.path("out")),
        "victim `service` answered query 0 (32x32) with a 48x40 image; 32x32 was expected",
    );
}

#[cfg(unix)]
#[test]
fn odd_dataset_folders_are_named_not_multiplied_or_waited_on() {
    let scratch = Scratch::new(&[]);
    let photos = scratch.path("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for i in 0..4 {
        image::RgbImage::from_pixel(32, 32, image::Rgb([i * 40, 90, 200]))
            .save(photos.join(format!("{i}.png")))
            .unwrap();
    }
    std::os::unix::fs::symlink(&photos, photos.join("again")).unwrap();
    let exp = variant(
        &scratch,
        "folders.exp",
        |t| {
            t.replace(
            "dataset attacker  = synthetic { domain = photo;    distribution = attacker; count = images; size = size; seed = 3 }",
            "dataset attacker  = folder { path = \"photos\" }",
        )
        },
        "",
    );
    fails_with(
        run(&exp, &scratch.path("cache"), &scratch.path("out")),
        "a folder already read: its images would count twice",
    );
    std::fs::remove_file(photos.join("again")).unwrap();
    std::fs::write(photos.join("broken.png"), b"not a png").unwrap();
    fails_with(
        run(&exp, &scratch.path("cache"), &scratch.path("out")),
        "broken.png",
    );
}

#[test]
fn a_rerun_into_a_run_directory_replaces_it_whole() {
    let scratch = Scratch::new(&[]);
    let out = scratch.path("run");
    run(SMOKE, &scratch.path("cache"), &out).status(0);
    assert!(out.join("samples").is_dir());
    // Another experiment into the same folder: nothing of the first is left.
    run(TINY, &scratch.path("cache"), &out).status(0);
    assert!(
        !out.join("samples").exists(),
        "the smoke run's samples were left behind"
    );
    assert!(read(&out.join("manifest.yaml")).contains("experiment: tiny"));
    let siblings: Vec<_> = std::fs::read_dir(scratch.dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        siblings
            .iter()
            .all(|n| !n.to_string_lossy().contains(".writing-")),
        "no staging folder left: {siblings:?}"
    );
}

#[test]
fn a_missing_part_of_a_dataset_folder_is_found_before_anything_runs() {
    let scratch = Scratch::new(&[]);
    let train_a = scratch.path("monet/trainA");
    std::fs::create_dir_all(&train_a).unwrap();
    image::RgbImage::new(32, 32)
        .save(train_a.join("0.png"))
        .unwrap();
    let exp = variant(
        &scratch,
        "parts.exp",
        |t| {
            t.replace(
                "style = paintings; image_size = size",
                "style = monet_folder.trainB; image_size = size",
            )
        },
        "dataset monet_folder = folder { path = \"monet\"; layout = cyclegan }\n",
    );
    for command in ["plan", "run"] {
        let outcome = Heist::new()
            .args([
                command,
                &exp,
                "--cache",
                scratch.path("cache").to_str().unwrap(),
            ])
            .run();
        assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
        outcome
            .status(1)
            .stderr_has("dataset `monet_folder.trainB`")
            .stderr_has("trainB` does not exist");
    }
    assert!(
        !scratch
            .path("cache/objects")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "nothing ran"
    );
}
