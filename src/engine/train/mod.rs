//! Training the four recipes with burn's autodiff: Pix2Pix (GAN + L1), CycleGAN (LSGAN, cycle,
//! identity, image pool), U-GAT-IT (LSGAN with CAM, cycle, identity, CAM losses), SRResNet
//! (MSE) and SRGAN (MSE warm-up, then content + adversarial). Every random choice (weights,
//! batch order, crops, flips, dropout masks, the pool) comes from the job's seed through
//! [`Rng`], so the CPU default is bitwise reproducible.

pub mod adam;
#[cfg(feature = "tch")]
pub mod adam_libtorch;
pub mod batches;
pub mod checkpoint;
mod cyclegan;
pub mod losses;
mod pix2pix;
pub mod pool;
mod srgan;
mod ugatit;

use burn::tensor::{Device, Tensor};
use image::RgbImage;

use std::time::Instant;

use checkpoint::{Checkpointing, State};

use crate::engine::models::Generator;
use crate::rng::Rng;
use crate::sema::program::{Architecture, Length, Schedule, Training};

/// The examples a model learns from.
pub enum TrainingData {
    /// Style transfer without pairs (CycleGAN, U-GAT-IT): photos and the style set.
    Unpaired {
        source: Vec<RgbImage>,
        style: Vec<RgbImage>,
    },
    /// Inputs and the outputs to imitate (Pix2Pix on the victim's answers; SR: LR and HR).
    Paired {
        inputs: Vec<RgbImage>,
        targets: Vec<RgbImage>,
    },
}

impl TrainingData {
    fn examples(&self) -> usize {
        match self {
            TrainingData::Unpaired { source, style } => source.len().max(style.len()),
            TrainingData::Paired { inputs, .. } => inputs.len(),
        }
    }
}

/// A [`Training`] made concrete for one data set: lengths in steps.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub training: Training,
    /// Adversarial (or only) steps.
    pub steps: u64,
    /// SRGAN's generator-only warm-up steps before `steps`.
    pub pretrain_steps: u64,
    pub batch_size: usize,
    /// Where the optimisers work (the training device).
    pub device: Device,
}

impl Recipe {
    pub fn new(training: &Training, examples: usize, device: &Device) -> Recipe {
        let batch = training.batch_size.max(1) as usize;
        let steps = |length: Length| match length {
            Length::Steps(n) => n,
            Length::Epochs(n) => n * examples.div_ceil(batch) as u64,
        };
        Recipe {
            training: training.clone(),
            steps: steps(training.length),
            pretrain_steps: training.pretrain.map(steps).unwrap_or(0),
            batch_size: batch,
            device: device.clone(),
        }
    }

    pub fn total_steps(&self) -> u64 {
        self.pretrain_steps + self.steps
    }

    /// A loss weight (0 for losses the recipe does not name).
    pub fn weight(&self, loss: &str) -> f64 {
        self.training.losses.get(loss).copied().unwrap_or(0.0)
    }

    /// The learning-rate multiplier at adversarial step `step` (0-based).
    pub fn decay(&self, step: u64) -> f64 {
        let total = self.steps.max(1) as f64;
        let step = step as f64;
        match self.training.schedule {
            Schedule::Constant => 1.0,
            // junyanz: constant, then linearly towards zero over the rest (never reaching it).
            Schedule::LinearDecay { start } => {
                let from = (start * total).floor();
                if step < from {
                    1.0
                } else {
                    1.0 - (step - from + 1.0) / (total - from + 1.0)
                }
            }
            Schedule::StepDecay { at, factor } => {
                if step < (at * total).floor() {
                    1.0
                } else {
                    factor
                }
            }
        }
    }

    /// Adam as the references configure it (PyTorch's epsilon 1e-8, L2 weight decay).
    pub fn adam(&self) -> adam::Adam {
        let t = &self.training;
        adam::Adam::new(
            adam::AdamSettings {
                betas: t.betas,
                epsilon: 1e-8,
                weight_decay: t.weight_decay,
            },
            &self.device,
        )
    }
}

/// Sees every step of a training run (progress bars, logs, tests).
pub trait Observer {
    fn start(&mut self, _label: &str, _total_steps: u64) {}
    /// Training continues from a checkpoint after `step` steps.
    fn resumed(&mut self, _step: u64) {}
    fn step(&mut self, _step: u64, _losses: &[(&'static str, f64)]) {}
    /// Something the user should know that does not stop training.
    fn warn(&mut self, _message: &str) {}
    /// Asked after every step: stop here (a checkpoint is written first when one is kept).
    fn interrupted(&self) -> bool {
        false
    }
    fn finish(&mut self) {}
}

/// Observes nothing.
pub struct Silent;
impl Observer for Silent {}

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("training diverged: the {loss} loss is {value} at step {step}")]
    NonFinite {
        step: u64,
        loss: &'static str,
        value: f64,
    },
    #[error("{0}")]
    Data(String),
    /// The VGG19 weights of a perceptual content loss cannot be used.
    #[error("the VGG19 content loss: {0}")]
    ContentWeights(crate::engine::models::WeightsError),
    #[error("training was interrupted after step {step}; its checkpoint is {path}")]
    Interrupted { step: u64, path: String },
}

impl TrainError {
    pub fn help(&self) -> &'static str {
        match self {
            TrainError::NonFinite { .. } => {
                "lower the learning rate, check the training images, or change the seed; nothing was saved from this run"
            }
            TrainError::Data(_) => "check the dataset the model trains on",
            TrainError::ContentWeights(_) => {
                "give torchvision's VGG19 weights (vgg19-dcbb9e9d.pth, or a .safetensors with its keys) in `vgg19(weights = ...)`, or write `content_loss = pixel`"
            }
            TrainError::Interrupted { .. } => "run the same command again to continue from it",
        }
    }
}

/// One recipe's state between steps.
trait Trainer {
    /// One optimisation step (`step` counts from 0 over warm-up and adversarial steps); the
    /// named losses it minimised.
    fn step(&mut self, step: u64) -> Vec<(&'static str, Tensor<1>)>;
    /// The trained generator, for inference.
    fn generator(&self) -> Generator;
    /// Everything the next step depends on besides the recipe and the data.
    fn save(&self, state: &mut State);
    /// Continues from a checkpoint [`Trainer::save`] wrote for the same recipe and data; all
    /// or nothing: on an error the trainer is as it was.
    fn restore(&mut self, state: &State) -> Result<(), String>;
}

/// Trains `architecture` on `data` with `training`, from `seed` alone. With `checkpoint`,
/// training continues from the checkpoint found there and writes one at most every
/// `checkpoint.every` (the weights are the same either way, bit for bit, on the CPU default).
pub fn train(
    architecture: &Architecture,
    training: &Training,
    data: TrainingData,
    seed: u64,
    device: &Device,
    checkpoint: Option<&Checkpointing>,
    observer: &mut dyn Observer,
) -> Result<Generator, TrainError> {
    if data.examples() == 0 {
        return Err(TrainError::Data("the training set is empty".into()));
    }
    let device = device.clone().autodiff();
    let recipe = Recipe::new(training, data.examples(), &device);
    let rng = Rng::derive(seed, &[0x0074_7261_696e]);
    let mut trainer: Box<dyn Trainer> = match (architecture, data) {
        (Architecture::Pix2pix(a), TrainingData::Paired { inputs, targets }) => Box::new(
            pix2pix::Pix2PixTrainer::new(a, &recipe, inputs, targets, rng, &device)?,
        ),
        (Architecture::Cyclegan(a), TrainingData::Unpaired { source, style }) => Box::new(
            cyclegan::CycleGanTrainer::new(a, &recipe, source, style, rng, &device)?,
        ),
        (Architecture::Ugatit(a), TrainingData::Unpaired { source, style }) => Box::new(
            ugatit::UgatitTrainer::new(a, &recipe, source, style, rng, &device)?,
        ),
        (Architecture::Srresnet(a), TrainingData::Paired { inputs, targets }) => {
            let g = srgan::SrConfig::srresnet(a);
            Box::new(srgan::SrTrainer::new(
                g, &recipe, inputs, targets, rng, &device,
            )?)
        }
        (Architecture::Srgan(a), TrainingData::Paired { inputs, targets }) => {
            let g = srgan::SrConfig::srgan(a);
            Box::new(srgan::SrTrainer::new(
                g, &recipe, inputs, targets, rng, &device,
            )?)
        }
        (a, _) => {
            return Err(TrainError::Data(format!(
                "{} needs {} training data",
                architecture_name(a),
                if matches!(a, Architecture::Cyclegan(_) | Architecture::Ugatit(_)) {
                    "unpaired (source, style)"
                } else {
                    "paired (input, target)"
                }
            )))
        }
    };
    let label = architecture_name(architecture);
    observer.start(label, recipe.total_steps());
    let first = match checkpoint {
        Some(c) => resume(trainer.as_mut(), c, label, recipe.total_steps(), observer)?,
        None => 0,
    };
    let mut saved = Instant::now();
    // A checkpoint only saves time: one that cannot be written (a full disk) is warned of once
    // and training goes on; the next one is tried as usual.
    let mut unwritable = false;
    for step in first..recipe.total_steps() {
        let losses = trainer.step(step);
        let values: Vec<(&'static str, f64)> = losses
            .iter()
            .map(|(name, loss)| (*name, losses::value(loss)))
            .collect();
        if let Err(e) = all_finite(step + 1, &values) {
            observer.finish();
            return Err(e);
        }
        observer.step(step + 1, &values);
        let last = step + 1 == recipe.total_steps();
        let stop = !last && observer.interrupted();
        if let Some(c) = checkpoint.filter(|c| !last && (stop || saved.elapsed() >= c.every)) {
            let mut state = State::new(step + 1, label);
            trainer.save(&mut state);
            match state.save(&c.path) {
                Err(e) if !unwritable => {
                    observer.warn(&format!("{e}; training goes on without it"));
                    unwritable = true;
                }
                _ => {}
            }
            saved = Instant::now();
        }
        if stop {
            observer.finish();
            return Err(TrainError::Interrupted {
                step: step + 1,
                // The one written now, or an earlier one if this one could not be.
                path: match checkpoint {
                    Some(c) if c.path.is_file() => c.path.display().to_string(),
                    _ => "not kept".into(),
                },
            });
        }
    }
    observer.finish();
    Ok(trainer.generator())
}

/// Restores `trainer` from the checkpoint at `c.path` if there is a usable one; the step to
/// continue from. A damaged or foreign checkpoint is reported, removed, and training starts
/// over: it only ever saves time.
fn resume(
    trainer: &mut dyn Trainer,
    c: &Checkpointing,
    label: &str,
    total_steps: u64,
    observer: &mut dyn Observer,
) -> Result<u64, TrainError> {
    let state = match State::load(&c.path) {
        Ok(None) => return Ok(0),
        Ok(Some(state)) => state,
        Err(e) => {
            observer.warn(&format!("{e}; training starts again from step 0"));
            let _ = std::fs::remove_file(&c.path);
            return Ok(0);
        }
    };
    let unusable = if state.label != label {
        Some(format!("it is of a {} run, not {label}", state.label))
    } else if state.step >= total_steps {
        Some(format!("it is at step {} of {total_steps}", state.step))
    } else {
        trainer.restore(&state).err()
    };
    match unusable {
        None => {
            observer.resumed(state.step);
            Ok(state.step)
        }
        Some(why) => {
            observer.warn(&format!(
                "checkpoint {} cannot be used ({why}); training starts again from step 0",
                c.path.display()
            ));
            let _ = std::fs::remove_file(&c.path);
            Ok(0)
        }
    }
}

/// The first loss that is NaN or infinite stops training, named with its step.
fn all_finite(step: u64, values: &[(&'static str, f64)]) -> Result<(), TrainError> {
    match values.iter().find(|(_, v)| !v.is_finite()) {
        Some((loss, value)) => Err(TrainError::NonFinite {
            step,
            loss,
            value: *value,
        }),
        None => Ok(()),
    }
}

pub fn architecture_name(a: &Architecture) -> &'static str {
    match a {
        Architecture::Cyclegan(_) => "CycleGAN",
        Architecture::Ugatit(_) => "U-GAT-IT",
        Architecture::Srgan(_) => "SRGAN",
        Architecture::Pix2pix(_) => "Pix2Pix",
        Architecture::Srresnet(_) => "SRResNet",
    }
}

/// Checks that every image has one size of at least `size`, naming the first that does not.
fn check_sizes(what: &str, images: &[RgbImage], size: u32) -> Result<(), TrainError> {
    let first = images[0].dimensions();
    for (i, image) in images.iter().enumerate() {
        let d = image.dimensions();
        if d != first {
            return Err(TrainError::Data(format!(
                "{what} image {i} is {}x{}, image 0 is {}x{}: one size per training set",
                d.0, d.1, first.0, first.1
            )));
        }
    }
    if first.0 < size || first.1 < size {
        return Err(TrainError::Data(format!(
            "{what} images are {}x{}, smaller than the {size}px crop the model trains on",
            first.0, first.1
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_diverged_loss_is_named_with_its_step() {
        assert!(all_finite(3, &[("D", 0.7), ("G_L1", 0.2)]).is_ok());
        let e = all_finite(41, &[("D", 0.7), ("G_GAN", f64::NAN)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "training diverged: the G_GAN loss is NaN at step 41"
        );
    }

    #[test]
    fn linear_decay_holds_then_falls_towards_zero() {
        let training = Training {
            length: Length::Epochs(2),
            batch_size: 4,
            learning_rate: 2e-4,
            discriminator_learning_rate: 2e-4,
            betas: [0.5, 0.999],
            weight_decay: 0.0,
            schedule: Schedule::LinearDecay { start: 0.5 },
            losses: BTreeMap::new(),
            pool_size: None,
            content_loss: None,
            pretrain: None,
        };
        // 2 epochs of 10 examples in batches of 4: 3 steps each.
        let recipe = Recipe::new(&training, 10, &Device::flex());
        assert_eq!(recipe.steps, 6);
        let decay: Vec<f64> = (0..6).map(|s| recipe.decay(s)).collect();
        assert_eq!(&decay[..3], &[1.0, 1.0, 1.0]);
        assert!(decay[3] < 1.0 && decay[4] < decay[3] && decay[5] < decay[4] && decay[5] > 0.0);
    }
}
