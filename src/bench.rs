//! `heist bench train`: the time of one full training step (discriminator and generator
//! updates, Adam) and of a generator forward pass, on random images, for comparison with the
//! PyTorch twin in `bench/train_twin.py` (same networks, same parameter counts).

use std::collections::BTreeMap;
use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use image::RgbImage;

use crate::engine::backend::Backend;
use crate::engine::train::{self, Observer, TrainingData};
use crate::rng::Rng;
use crate::sema::program::{Architecture, CycleGan, Length, Pix2Pix, Schedule, SrResNet, Training};

/// The networks `heist bench train` times.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BenchModel {
    Pix2pix,
    Cyclegan,
    Srresnet,
}

/// Records when each step ends.
struct Clock(Vec<Instant>);

impl Observer for Clock {
    fn step(&mut self, _step: u64, _losses: &[(&'static str, f64)]) {
        self.0.push(Instant::now());
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn random_images(n: usize, size: u32, seed: u64) -> Vec<RgbImage> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            RgbImage::from_fn(size, size, |_, _| {
                image::Rgb(std::array::from_fn(|_| rng.below(256) as u8))
            })
        })
        .collect()
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BenchError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Backend(#[from] crate::engine::backend::BackendError),
    #[error("the benchmark's training failed: {0}")]
    #[diagnostic(code(heist::training))]
    Train(String),
}

/// One JSON line: the median training step and forward pass of `model` at `size` px, batch
/// `batch`, over `repeats` timed repetitions after a warm-up.
pub fn bench_train(
    model: BenchModel,
    size: u32,
    batch: usize,
    repeats: usize,
    backend: Backend,
) -> Result<String, BenchError> {
    let device: Device = backend.device()?;
    let (architecture, betas, losses, data) = match model {
        BenchModel::Pix2pix => (
            Architecture::Pix2pix(Pix2Pix {
                image_size: size,
                generator_filters: 32,
                unet_depth: size.trailing_zeros(),
                discriminator_filters: 32,
                discriminator_layers: 3,
                dropout: true,
            }),
            [0.5, 0.999],
            vec![("adversarial", 1.0), ("l1", 100.0)],
            TrainingData::Paired {
                inputs: random_images(batch, size, 1),
                targets: random_images(batch, size, 2),
            },
        ),
        BenchModel::Cyclegan => (
            Architecture::Cyclegan(CycleGan {
                image_size: size,
                generator_filters: 32,
                residual_blocks: 6,
                discriminator_filters: 32,
                discriminator_layers: 3,
            }),
            [0.5, 0.999],
            vec![("adversarial", 1.0), ("cycle", 10.0), ("identity", 0.5)],
            TrainingData::Unpaired {
                source: random_images(batch, size, 1),
                style: random_images(batch, size, 2),
            },
        ),
        BenchModel::Srresnet => (
            Architecture::Srresnet(SrResNet {
                scale: 4,
                filters: 64,
                residual_blocks: 16,
                hr_crop: size,
            }),
            [0.9, 0.999],
            vec![("mse", 1.0)],
            TrainingData::Paired {
                inputs: random_images(batch, size / 4, 1),
                targets: random_images(batch, size, 2),
            },
        ),
    };
    let training = Training {
        length: Length::Steps(1 + repeats as u64),
        batch_size: batch as u32,
        learning_rate: 2e-4,
        discriminator_learning_rate: 2e-4,
        betas,
        weight_decay: 0.0,
        schedule: Schedule::Constant,
        losses: losses
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
        pool_size: None,
        content_loss: None,
        pretrain: None,
    };
    let mut clock = Clock(Vec::new());
    let start = Instant::now();
    let generator = train::train(&architecture, &training, data, 0, &device, None, &mut clock)
        .map_err(|e| BenchError::Train(e.to_string()))?;
    let mut ends = vec![start];
    ends.extend(clock.0);
    // The first step warms up (allocations, kernel selection); the rest are timed.
    let steps: Vec<f64> = ends
        .windows(2)
        .skip(1)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1e3)
        .collect();

    let g = generator.valid();
    let input_size = if matches!(model, BenchModel::Srresnet) {
        size / 4
    } else {
        size
    };
    let x = Tensor::<4>::random(
        [batch, 3, input_size as usize, input_size as usize],
        Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let sync = |t: Tensor<4>| t.into_data();
    sync(g.forward(x.clone()));
    let forward: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            sync(g.forward(x.clone()));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let (g_params, d_params) = (
        generator.parameters(),
        discriminator_parameters(&architecture, &device),
    );
    Ok(serde_json::json!({
        "side": format!("heist {} burn 0.22.1 {}", env!("CARGO_PKG_VERSION"), backend.name()),
        "model": format!("{model:?}").to_lowercase(),
        "size": size,
        "batch": batch,
        "threads": rayon::current_num_threads(),
        "generator_parameters": g_params,
        "discriminator_parameters": d_params,
        "train_step_ms": median(steps),
        "forward_ms": median(forward),
    })
    .to_string()
        + "\n")
}

/// The discriminator the recipe trains (one of CycleGAN's two).
fn discriminator_parameters(architecture: &Architecture, device: &Device) -> usize {
    use crate::engine::models::patchgan::{Norm, PatchGan};
    use crate::engine::models::trainable_parameters;
    match architecture {
        Architecture::Pix2pix(a) => trainable_parameters(&PatchGan::new(
            6,
            a.discriminator_filters as usize,
            a.discriminator_layers as usize,
            Norm::Batch,
            device,
        )),
        Architecture::Cyclegan(a) => trainable_parameters(&PatchGan::new(
            3,
            a.discriminator_filters as usize,
            a.discriminator_layers as usize,
            Norm::Instance,
            device,
        )),
        _ => 0,
    }
}
