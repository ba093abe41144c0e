//! `cargo bench --bench check`: how long `heist check` takes on each shipped experiment
//! (load, parse, resolve, check; no rendering). Prints the median and slowest of many runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("experiments/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "exp"))
        .collect();
    files.sort();
    let runs = 200;
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "experiment", "bytes", "median", "slowest"
    );
    for file in files {
        let bytes: u64 = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                let checked = heist::sema::check_file(&file, &[]).expect("readable");
                assert!(
                    checked.program.is_some(),
                    "{} does not check",
                    file.display()
                );
                start.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "{:<40} {:>10} {:>8.3}ms {:>8.3}ms",
            file.file_name().unwrap().to_string_lossy(),
            bytes,
            times[runs / 2].as_secs_f64() * 1e3,
            times[runs - 1].as_secs_f64() * 1e3
        );
    }
}
