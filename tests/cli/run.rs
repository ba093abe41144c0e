//! `heist plan`, `heist run` and `heist cache` on `tests/fixtures/smoke.exp` (the quickstart
//! at toy scale) and `tests/fixtures/tiny.exp`: results for all three settings, reruns from
//! the cache, resuming after `kill -9`, plans that say what a change reruns, and bad input.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::scratch::Scratch;
use crate::support::{project_root, Heist, Outcome};

const SMOKE: &str = "tests/fixtures/smoke.exp";
const TINY: &str = "tests/fixtures/tiny.exp";

fn run(file: &str, cache: &Path, out: &Path, extra: &[&str]) -> Outcome {
    Heist::new()
        .args(["run", file, "--quiet", "--cache"])
        .args([cache.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(extra.iter().copied())
        .run()
}

/// Starts `heist run` and kills it (SIGKILL) as soon as `done()` holds (or after 2 minutes).
fn kill_when(file: &str, cache: &Path, out: &Path, extra: &[&str], done: impl Fn() -> bool) {
    signal_when(file, cache, out, extra, None, done);
}

/// Starts `heist run`, sends it `signal` (`None`: SIGKILL) as soon as `done()` holds (or after
/// 2 minutes), and waits for it to end.
fn signal_when(
    file: &str,
    cache: &Path,
    out: &Path,
    extra: &[&str],
    signal: Option<&str>,
    done: impl Fn() -> bool,
) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_heist"))
        .args(["run", file, "--quiet", "--cache", cache.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .args(extra.iter().copied())
        .current_dir(project_root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !done() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    match signal {
        None => child.kill().unwrap(),
        Some(signal) => {
            let sent = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success(), "kill {signal}");
        }
    }
    child.wait_with_output().unwrap()
}

fn plan(file: &str, cache: &Path, extra: &[&str]) -> Outcome {
    Heist::new()
        .args(["plan", file, "--cache", cache.to_str().unwrap()])
        .args(extra.iter().copied())
        .run()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn entries(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("objects"))
        .map(|shards| {
            shards
                .flatten()
                .map(|s| std::fs::read_dir(s.path()).map_or(0, |d| d.count()))
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn a_run_measures_all_three_settings_reruns_from_the_cache_and_resumes_after_kill() {
    let scratch = Scratch::new(&[]);
    let (cache, first) = (scratch.path("cache"), scratch.path("first"));
    let out = run(SMOKE, &cache, &first, &[]).status(0);
    assert!(out.stdout.contains("run directory:"), "{}", out.stdout);
    assert!(out.stderr.contains("0 failed"), "{}", out.stderr);

    // The tidy table: every setting, the cells, per-seed rows and query accounting.
    let results = read(&first.join("results.csv"));
    assert!(results.starts_with(
        "experiment,setting,evaluation,attack,cell,model,test_set,compared_to,metric,convention,fraction,augmentation,defense,seed,value\n"
    ));
    for needle in [
        "smoke,Monet-to-Photo,monet_to_photo,,A,victim,photos_test,ground_truth,fid,FD-random_conv,,,none,,",
        "smoke,Monet-to-Photo,monet_to_photo,steal_monet,B,surrogate,landscapes,victim,kid,KID-random_conv,0.5,flip,none,2,",
        "smoke,Selfie-to-Anime,selfie_to_anime,steal_anime,C,surrogate,faces_test,ground_truth,fid,FD-random_conv,1,none,none,1,",
        "smoke,Super-Resolution,super_resolution,steal_upscaler,B,surrogate,sr_test,victim,psnr,\"PSNR (Y channel, crop 4)\",0.5,none,none,1,",
        "smoke,Super-Resolution,super_resolution,,A,victim,sr_test,ground_truth,ssim,\"SSIM (Y channel, crop 4)\",,,none,,",
        // 50 % of 8 images plus a flipped copy of each: 8 queries at $0.01.
        "smoke,Monet-to-Photo,monet_to_photo,steal_monet,cost,attacker,,,queries,victim queries,0.5,flip,none,1,8\n",
        "smoke,Monet-to-Photo,monet_to_photo,steal_monet,cost,attacker,,,cost_usd,USD at $0.01 per query,0.5,flip,none,1,0.08\n",
    ] {
        assert!(results.contains(needle), "results.csv lacks {needle}:\n{results}");
    }
    // 8 monet points x 2 test sets x 2 cells x 2 metrics, 2 anime points x 2 cells, 2 SR
    // points x 2 cells x 2 metrics, victims' (A) rows 4 + 1 + 2, and 2 cost rows per point.
    assert_eq!(results.lines().count() - 1, 64 + 4 + 8 + 7 + 2 * 12);
    // The same table as Parquet, for dataframe tools.
    {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let file = std::fs::File::open(first.join("results.parquet")).unwrap();
        let reader = SerializedFileReader::new(file).unwrap();
        let meta = reader.metadata().file_metadata();
        assert_eq!(meta.num_rows() as usize, results.lines().count() - 1);
        let columns: Vec<&str> = meta
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name())
            .collect();
        assert_eq!(columns.join(","), results.lines().next().unwrap());
    }
    let manifest = read(&first.join("manifest.yaml"));
    for key in [
        "backend: flex",
        "cpu:",
        "crates:",
        "burn:",
        "seeds:",
        "conventions:",
        "started:",
        "key:",
        "program:",
    ] {
        assert!(manifest.contains(key), "manifest.yaml lacks {key}");
    }
    for grid in [
        "monet_to_photo-steal_monet",
        "selfie_to_anime-steal_anime",
        "super_resolution-steal_upscaler",
    ] {
        assert!(
            first.join(format!("samples/{grid}.png")).is_file(),
            "{grid}"
        );
    }
    assert!(first.join("logs/run.log").is_file());

    // A rerun is all cache hits and gives the same table.
    let again = scratch.path("again");
    run(SMOKE, &cache, &again, &[])
        .status(0)
        .stderr_has(" 0 ran,");
    assert_eq!(read(&again.join("results.csv")), results);

    // A damaged artefact is found by its checksum, removed and made again.
    let victim_outputs = std::fs::read_dir(cache.join("objects"))
        .unwrap()
        .flatten()
        .flat_map(|s| std::fs::read_dir(s.path()).unwrap().flatten())
        .map(|e| e.path())
        .find(|p| {
            read(&p.join("entry.json")).contains("\"id\": \"outputs/victim/monet/photos_test\"")
        })
        .expect("the victim's outputs are cached");
    std::fs::write(victim_outputs.join("output-00000.png"), b"not a png").unwrap();
    let repaired = scratch.path("repaired");
    run(SMOKE, &cache, &repaired, &[])
        .status(0)
        .stderr_has("outputs/victim/monet/photos_test was damaged");
    assert_eq!(read(&repaired.join("results.csv")), results);

    // kill -9 in the middle of a run on a fresh cache, then the same command again.
    let (cache2, resumed) = (scratch.path("cache2"), scratch.path("resumed"));
    kill_when(SMOKE, &cache2, &resumed, &[], || entries(&cache2) >= 12);
    assert!(
        !resumed.join("results.csv").exists(),
        "killed before the end"
    );
    run(SMOKE, &cache2, &resumed, &[])
        .status(0)
        .stderr_has("0 failed");
    assert_eq!(
        read(&resumed.join("results.csv")),
        results,
        "resumed run = uninterrupted run"
    );
}

/// The weights file of the one training entry in `cache`.
fn trained_weights(cache: &Path) -> Vec<u8> {
    let mut found = vec![];
    for shard in std::fs::read_dir(cache.join("objects")).unwrap().flatten() {
        for entry in std::fs::read_dir(shard.path()).unwrap().flatten() {
            if let Ok(bytes) = std::fs::read(entry.path().join("weights.safetensors")) {
                found.push(bytes);
            }
        }
    }
    assert_eq!(found.len(), 1, "one trained model in the cache");
    found.remove(0)
}

fn checkpoints(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("checkpoints")).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "ckpt"))
            .count()
    })
}

#[test]
fn a_training_job_killed_midway_continues_from_its_checkpoint() {
    let scratch = Scratch::new(&[]);
    let args = ["--only", "victim/monet", "--set", "steps=300"];
    let whole = scratch.path("whole");
    run(TINY, &whole, &scratch.path("out-whole"), &args).status(0);
    let expected = trained_weights(&whole);
    assert_eq!(
        checkpoints(&whole),
        0,
        "a finished job leaves no checkpoint"
    );

    let cache = scratch.path("cache");
    let out = scratch.path("out");
    let mut extra = args.to_vec();
    extra.extend(["--checkpoint-every", "0"]);
    kill_when(TINY, &cache, &out, &extra, || checkpoints(&cache) > 0);
    assert_eq!(entries(&cache), 0, "killed while training");
    assert_eq!(checkpoints(&cache), 1);

    rerun_resumes_victim(&cache, &scratch.path("out"), &args, &expected);
    assert_eq!(
        checkpoints(&cache),
        0,
        "the checkpoint is removed once the entry is stored"
    );
}

/// The same run again continues victim/monet from its checkpoint, silently, to `expected`:
/// the weights of a run that never stopped, bit for bit.
fn rerun_resumes_victim(cache: &Path, out: &Path, args: &[&str], expected: &[u8]) {
    let again = Heist::new()
        .args(["run", TINY, "--cache", cache.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .args(args.iter().copied())
        .run()
        .status(0)
        .stderr_has("resumed victim/monet from its checkpoint at step ");
    assert!(!again.stderr.contains("warning"), "{}", again.stderr);
    assert!(
        trained_weights(cache) == expected,
        "resumed = uninterrupted, bit for bit"
    );
}

/// Lock files appear when the first job starts, after the signal handlers are in place.
fn started(cache: &Path) -> bool {
    std::fs::read_dir(cache.join("locks")).is_ok_and(|mut d| d.next().is_some())
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_training_after_a_step_with_a_checkpoint_and_a_rerun_continues() {
    let scratch = Scratch::new(&[]);
    let args = ["--only", "victim/monet", "--set", "steps=300"];
    let whole = scratch.path("whole");
    run(TINY, &whole, &scratch.path("out-whole"), &args).status(0);
    let expected = trained_weights(&whole);

    // No periodic checkpoint: the one that is kept is written when Ctrl-C is noticed.
    let cache = scratch.path("cache");
    let mut extra = args.to_vec();
    extra.extend(["--checkpoint-every", "3600"]);
    let out = scratch.path("out");
    let stopped = signal_when(TINY, &cache, &out, &extra, Some("-INT"), || started(&cache));
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: training jobs stop after their current step"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stopped victim/monet after step "),
        "{stderr}"
    );
    assert!(
        stderr.contains("run the same command again to continue"),
        "{stderr}"
    );
    assert_eq!(entries(&cache), 0, "stopped while training");
    assert_eq!(checkpoints(&cache), 1, "{stderr}");
    let manifest = read(&out.join("manifest.yaml"));
    assert!(manifest.contains("outcome: interrupted"), "{manifest}");

    rerun_resumes_victim(&cache, &scratch.path("again"), &args, &expected);
}

#[test]
fn plan_says_what_is_cached_and_what_a_change_reruns() {
    let scratch = Scratch::new(&[]);
    let cache = scratch.path("cache");
    plan(TINY, &cache, &[])
        .status(0)
        .stdout_has("13 jobs, 0 cached, 13 to run")
        .stdout_has("run    victim/monet  (new)")
        .stdout_has("needs victim/monet");
    run(TINY, &cache, &scratch.path("run"), &[]).status(0);
    plan(TINY, &cache, &[])
        .status(0)
        .stdout_has("13 cached, 0 to run");

    // A surrogate's training changes: its surrogates rerun, named with the field; the victim
    // and the query sets stay cached.
    let changed = plan(TINY, &cache, &["--set", "steal_monet.surrogate.training={ steps = 4; batch_size = 2; learning_rate = 2e-4; schedule = constant }"]).status(0);
    assert!(
        changed.stdout.contains(
            "run    surrogate/steal_monet/50%-none-seed1  (configuration changed: training.length.count 3 -> 4)"
        ),
        "{}",
        changed.stdout
    );
    assert!(
        changed.stdout.contains("cached victim/monet"),
        "{}",
        changed.stdout
    );
    assert!(changed.stdout.contains("4 to run"), "{}", changed.stdout);

    // The victim's seed changes: the victim is retrained and everything after it reruns
    // because its input changed.
    let json = plan(TINY, &cache, &["--set", "monet.seed=9", "--json"])
        .status(0)
        .stdout;
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let job = |id: &str| {
        listed["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .unwrap_or_else(|| panic!("no job {id} in {json}"))
            .clone()
    };
    assert_eq!(job("victim/monet")["status"]["fields"][0], "seed 1 -> 9");
    assert_eq!(
        job("queries/steal_monet/100%-flip-seed1")["status"],
        serde_json::json!({"state": "input_changed", "jobs": ["victim/monet"]})
    );
    assert_eq!(job("victim/upscaler")["status"]["state"], "cached");
    assert_eq!(
        job("surrogate/steal_monet/50%-none-seed1")["deps"][0],
        "queries/steal_monet/50%-none-seed1"
    );

    // Cosmetic changes rerun nothing: a label, the price.
    plan(TINY, &cache, &["--set", "steal_monet.price_per_query=$5"])
        .status(0)
        .stdout_has("13 cached, 0 to run");
}

#[test]
fn cache_status_lists_the_stages_and_gc_prunes_them() {
    let scratch = Scratch::new(&[]);
    let cache = scratch.path("cache");
    run(
        TINY,
        &cache,
        &scratch.path("run"),
        &["--only", "victim/upscaler"],
    )
    .status(0);
    let status = Heist::new()
        .args(["cache", "status", "--cache", cache.to_str().unwrap()])
        .run()
        .status(0)
        .stdout;
    assert!(status.contains(": 1 entries"), "{status}");
    assert!(status.contains("victim"), "{status}");
    Heist::new()
        .args(["cache", "gc", "--all", "--cache", cache.to_str().unwrap()])
        .run()
        .status(0)
        .stdout_has("removed 1 entries");
    assert_eq!(entries(&cache), 0);
}

#[test]
fn a_missing_dataset_folder_is_found_before_anything_runs() {
    let scratch = Scratch::new(&[(
        "missing.exp",
        "experiment missing { seed = 0 }\n\
         dataset photos = folder { path = \"no/such/folder\" }\n\
         dataset paintings = synthetic { domain = painting; distribution = victim; count = 4; size = 32px; seed = 1 }\n\
         victim v = cyclegan { source = photos; style = paintings; image_size = 32px; training = { steps = 1 } }\n",
    )]);
    let out = Heist::new()
        .args(["run", scratch.path("missing.exp").to_str().unwrap()])
        .args(["--cache", scratch.path("cache").to_str().unwrap()])
        .args(["--out", scratch.path("run").to_str().unwrap()])
        .run()
        .status(1)
        .stderr_has("heist::missing_path")
        .stderr_has("the folder of dataset `photos` `no/such/folder` does not exist")
        .stderr_has("missing.exp:2:")
        .stderr_has("nothing was run");
    assert!(!scratch.path("run").exists(), "{}", out.stderr);
}

#[test]
fn fid_without_inception_weights_is_refused_before_anything_runs() {
    let smoke = read(&project_root().join(SMOKE));
    let scratch = Scratch::new(&[(
        "inception.exp",
        &smoke.replace(
            "metrics = [fid { extractor = random_conv }]",
            "metrics = [fid { extractor = inception_v3 }]",
        ),
    )]);
    let file = scratch.path("inception.exp");
    Heist::new()
        .args(["run", file.to_str().unwrap(), "--cache", scratch.path("cache").to_str().unwrap()])
        .args(["--out", scratch.path("run").to_str().unwrap()])
        .env("HEIST_INCEPTION_WEIGHTS", scratch.path("absent.pth").to_str().unwrap())
        .run()
        .status(1)
        .stderr_has("evaluation `selfie_to_anime` measures fid on Inception v3 with HEIST_INCEPTION_WEIGHTS=")
        .stderr_has("nothing was run");
    assert!(!scratch.path("run").exists());
}

#[test]
fn a_failing_job_names_itself_and_the_others_finish() {
    let tiny = read(&project_root().join(TINY));
    let scratch = Scratch::new(&[(
        "failing.exp",
        &format!(
            "{tiny}\n\
             victim service = external {{ command = \"echo the service is down >&2; exit 3\"; task = style_transfer; image_size = 32px }}\n\
             attack steal_service extends steal_monet {{ victim = service; fractions = [100%]; augmentations = [none] }}\n"
        ),
    )]);
    let out = scratch.path("run");
    let outcome = run(
        scratch.path("failing.exp").to_str().unwrap(),
        &scratch.path("cache"),
        &out,
        &[],
    )
    .status(1)
    .stderr_has("job queries/steal_service/100%-none-seed1 failed")
    .stderr_has("the service is down")
    .stderr_has("1 failed, 1 skipped")
    .stderr_has("1 job failed");
    let results = read(&out.join("results.csv"));
    assert!(
        results.contains("steal_monet,cost"),
        "{}\n{results}",
        outcome.stderr
    );
    assert!(!results.contains("steal_service"), "{results}");
    assert!(read(&out.join("manifest.yaml")).contains("outcome: failed"));
}

#[test]
fn bad_run_flags_are_usage_errors() {
    for jobs in ["0", "100000"] {
        Heist::new()
            .args(["run", TINY, "--jobs", jobs])
            .run()
            .status(2)
            .stderr_has("--jobs must be between 1 and 256");
    }
    for every in ["1e20", "-1", "NaN"] {
        Heist::new()
            .args(["run", TINY, &format!("--checkpoint-every={every}")])
            .run()
            .status(2)
            .stderr_has("--checkpoint-every takes a number of seconds");
    }
    let scratch = Scratch::new(&[("notes/paper.txt", "mine")]);
    // A folder heist did not write is never written into; nothing runs.
    Heist::new()
        .args([
            "run",
            TINY,
            "--cache",
            scratch.path("cache").to_str().unwrap(),
        ])
        .args(["--out", scratch.path("notes").to_str().unwrap()])
        .run()
        .status(2)
        .stderr_has("is not empty and is not a run directory heist wrote");
    assert_eq!(read(&scratch.path("notes/paper.txt")), "mine");
    assert_eq!(
        entries(&scratch.path("cache")),
        0,
        "refused before any job ran"
    );
    Heist::new()
        .args(["run", TINY, "--out", "/"])
        .run()
        .status(2)
        .stderr_has("is not a run directory heist wrote");
    Heist::new()
        .args(["run", TINY, "--only", "nothing/like/this"])
        .args(["--cache", scratch.path("cache").to_str().unwrap()])
        .run()
        .status(2)
        .stderr_has("no job matches --only nothing/like/this");
}

/// `heist run --executor script`: the worker commands of the jobs a run needs, dependencies
/// first, as (key, id).
fn worker_script(file: &str, cache: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let script = Heist::new()
        .args([
            "run",
            file,
            "--executor",
            "script",
            "--cache",
            cache.to_str().unwrap(),
        ])
        .args(extra.iter().copied())
        .run()
        .status(0);
    assert!(
        script.stdout.starts_with("#!/bin/sh\n"),
        "{}",
        script.stdout
    );
    script
        .stdout
        .lines()
        .filter(|l| l.starts_with("heist worker "))
        .map(|l| {
            let (command, id) = l.split_once("  # ").expect("a job id after the command");
            let key = command.rsplit(' ').next().unwrap();
            (key.to_string(), id.to_string())
        })
        .collect()
}

#[test]
fn a_run_made_of_worker_calls_gives_the_local_run_byte_for_byte() {
    let scratch = Scratch::new(&[]);
    let local = scratch.path("local");
    run(SMOKE, &scratch.path("cache-local"), &local, &[]).status(0);

    let cache = scratch.path("cache-workers");
    let jobs = worker_script(SMOKE, &cache, &[]);
    assert!(jobs.len() > 20, "every job of the smoke run: {jobs:?}");
    assert!(
        jobs[0].1.starts_with("victim/"),
        "dependencies first: {jobs:?}"
    );
    assert_eq!(entries(&cache), 0, "the script runs nothing");
    for (key, id) in &jobs {
        Heist::new()
            .args(["worker", cache.to_str().unwrap(), key])
            .run()
            .status(0)
            .stderr_has(&format!("ran     {id}"));
    }
    // Once more: every job is there, and says so.
    let (key, id) = &jobs[0];
    Heist::new()
        .args(["worker", cache.to_str().unwrap(), key])
        .run()
        .status(0)
        .stderr_has(&format!("cached  {id}"));
    assert!(
        worker_script(SMOKE, &cache, &[]).is_empty(),
        "nothing left to run"
    );

    let collected = scratch.path("collected");
    run(SMOKE, &cache, &collected, &[])
        .status(0)
        .stderr_has(" 0 ran,");
    assert_eq!(
        read(&local.join("results.csv")),
        read(&collected.join("results.csv")),
        "workers in dependency order = one local run, byte for byte"
    );
    assert_eq!(
        std::fs::read(local.join("results.parquet")).unwrap(),
        std::fs::read(collected.join("results.parquet")).unwrap()
    );
}

#[test]
fn a_worker_says_what_is_missing_and_a_killed_one_leaves_no_entry() {
    let scratch = Scratch::new(&[]);
    let cache = scratch.path("cache");
    let c = cache.to_str().unwrap();
    Heist::new()
        .args(["worker", c, "not-a-key"])
        .run()
        .status(2)
        .stderr_has("`not-a-key` is not a job key");
    Heist::new()
        .args(["worker", c, &"0".repeat(64)])
        .run()
        .status(1)
        .stderr_has("has no description of job")
        .stderr_has("--executor script");
    let args = ["--only", "victim/monet", "--set", "steps=300"];
    let jobs = worker_script(TINY, &cache, &args);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    // Dependents first would find their inputs missing.
    let all = worker_script(TINY, &cache, &[]);
    let (last_key, last_id) = all
        .iter()
        .rev()
        .find(|(_, id)| id.starts_with("surrogate/"))
        .unwrap();
    Heist::new()
        .args(["worker", c, last_key])
        .run()
        .status(1)
        .stderr_has(&format!("job {last_id} needs"))
        .stderr_has("which is not in the cache");

    let mut child = Command::new(env!("CARGO_BIN_EXE_heist"))
        .args([
            "worker",
            c,
            &jobs[0].0,
            "--quiet",
            "--checkpoint-every",
            "0",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while checkpoints(&cache) == 0 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        entries(&cache),
        0,
        "killed while training: nothing looks complete"
    );
    // The same worker again continues from the checkpoint and stores the entry.
    Heist::new()
        .args(["worker", c, &jobs[0].0])
        .run()
        .status(0)
        .stderr_has("resumed victim/monet from its checkpoint at step ");
    assert_eq!(entries(&cache), 1);
    assert_eq!(checkpoints(&cache), 0);
}
