//! `cargo bench --bench inception`: images per second through heist's Inception v3 (pool3) on
//! the CPU default backend, batch 8 at 299x299, median of 5 passes after a warm-up.
//! `bench/inception_parity.py --bench` times PyTorch's network on the same machine.

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use heist::metrics::inception::{formula, FidInception};

fn main() {
    let device = Device::flex();
    let weights = std::env::temp_dir().join(format!(
        "heist-bench-inception-{}.safetensors",
        std::process::id()
    ));
    formula::write_safetensors(&weights, &device).expect("write weights");
    let model = FidInception::new(&device)
        .load(&weights)
        .expect("load weights");
    let _ = std::fs::remove_file(&weights);
    let batch = 8;
    let input = || {
        Tensor::<4>::random(
            [batch, 3, 299, 299],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        )
    };
    let _ = model.forward(input()).into_data();
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let x = input();
            let start = Instant::now();
            let _ = model.forward(x).into_data();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[2];
    println!(
        "heist (burn-flex) inception pool3, batch {batch}, {} threads: {:.2} images/s ({:.0} ms per batch)",
        rayon::current_num_threads(),
        batch as f64 / median,
        median * 1e3
    );
}
