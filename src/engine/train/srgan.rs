//! SRResNet (MSE to the HR target) and SRGAN (Ledig et al. 2017): an MSE warm-up of the
//! generator, then alternating updates of the VGG-style discriminator and of the generator on
//! `content` x content loss + `adversarial` x GAN loss (1 and 1e-3). The content loss is the
//! pixel MSE (`content_loss = pixel`) or the MSE of VGG19 features rescaled by 1/12.75
//! (`vgg19(weights = ..., layer = "relu5_4")`, the paper's VGG54), with the user's weights.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use image::RgbImage;

use super::adam::Adam;
use super::batches::PairedBatches;
use super::checkpoint::{stable_ids, State};
use super::losses::{bce_with_logits, mse};
use super::{Recipe, TrainError, Trainer};
use crate::engine::models::srresnet::{SrResNet, VggDiscriminator};
use crate::engine::models::vgg19::Vgg19;
use crate::engine::models::Generator;
use crate::nn::{initialise, Init};
use crate::rng::Rng;
use crate::sema::program::{Architecture, ContentLoss, SrResNet as SrResNetConfig, Srgan};

/// What the SR trainer needs of either architecture.
pub struct SrConfig {
    architecture: Architecture,
    scale: u32,
    hr_crop: u32,
    /// SRGAN's discriminator filters; `None` trains SRResNet alone.
    discriminator_filters: Option<u32>,
}

impl SrConfig {
    pub fn srresnet(a: &SrResNetConfig) -> SrConfig {
        SrConfig {
            architecture: Architecture::Srresnet(a.clone()),
            scale: a.scale,
            hr_crop: a.hr_crop,
            discriminator_filters: None,
        }
    }

    pub fn srgan(a: &Srgan) -> SrConfig {
        SrConfig {
            architecture: Architecture::Srgan(a.clone()),
            scale: a.scale,
            hr_crop: a.hr_crop,
            discriminator_filters: Some(a.discriminator_filters),
        }
    }
}

pub struct SrTrainer {
    g: SrResNet,
    d: Option<VggDiscriminator>,
    opt_g: Adam,
    opt_d: Adam,
    recipe: Recipe,
    batches: PairedBatches,
    /// The perceptual content loss's network; `None`: the pixel MSE.
    vgg: Option<Vgg19>,
}

impl SrTrainer {
    pub fn new(
        config: SrConfig,
        recipe: &Recipe,
        inputs: Vec<RgbImage>,
        targets: Vec<RgbImage>,
        rng: Rng,
        device: &Device,
    ) -> Result<SrTrainer, TrainError> {
        let lr_crop = config.hr_crop / config.scale;
        for (i, (lr, hr)) in inputs.iter().zip(&targets).enumerate() {
            let (w, h) = lr.dimensions();
            if hr.dimensions() != (w * config.scale, h * config.scale) {
                return Err(TrainError::Data(format!(
                    "training pair {i} (in the order of the dataset's files): the LR image is {w}x{h} and the HR image {}x{}, not {}x larger",
                    hr.dimensions().0,
                    hr.dimensions().1,
                    config.scale
                )));
            }
            if w < lr_crop || h < lr_crop {
                return Err(TrainError::Data(format!(
                    "training pair {i} (in the order of the dataset's files): the HR image is {}x{}, smaller than the {}px HR crop",
                    hr.dimensions().0,
                    hr.dimensions().1,
                    config.hr_crop
                )));
            }
        }
        let vgg = match &recipe.training.content_loss {
            Some(ContentLoss::Vgg19 { weights, layer }) => Some(
                Vgg19::load(std::path::Path::new(weights), layer, device)
                    .map_err(TrainError::ContentWeights)?,
            ),
            _ => None,
        };
        let seed = rng.clone().next_u64();
        let g = match Generator::new(&config.architecture, seed, device) {
            Generator::SrResNet(g) => g,
            _ => unreachable!(),
        };
        let d = config.discriminator_filters.map(|f| {
            initialise(
                VggDiscriminator::new(f, device),
                Init::TorchDefault,
                seed ^ 0xD,
                &[],
            )
        });
        Ok(SrTrainer {
            g: stable_ids(g, "g"),
            d: d.map(|d| stable_ids(d, "d")),
            opt_g: recipe.adam(),
            opt_d: recipe.adam(),
            recipe: recipe.clone(),
            batches: PairedBatches::new(inputs, targets, lr_crop, config.scale, seed, device),
            vgg,
        })
    }
}

impl Trainer for SrTrainer {
    fn step(&mut self, step: u64) -> Vec<(&'static str, Tensor<1>)> {
        let (lr, hr) = self.batches.next(self.recipe.batch_size);
        let sr = self.g.forward(lr);
        let pretraining = step < self.recipe.pretrain_steps;
        let d = match (&self.d, pretraining) {
            (Some(d), false) => d.clone(),
            _ => {
                // SRResNet, or SRGAN's warm-up: the generator on MSE alone.
                let loss = mse(sr, hr);
                let grads = GradientsParams::from_grads(loss.backward(), &self.g);
                self.g = self
                    .opt_g
                    .step(self.recipe.training.learning_rate, self.g.clone(), grads);
                return vec![("MSE", loss)];
            }
        };
        let decay = self.recipe.decay(step - self.recipe.pretrain_steps);

        let loss_d = bce_with_logits(d.forward(hr.clone()), true)
            + bce_with_logits(d.forward(sr.clone().detach()), false);
        let grads = GradientsParams::from_grads(loss_d.backward(), &d);
        let d = self.opt_d.step(
            self.recipe.training.discriminator_learning_rate * decay,
            d,
            grads,
        );

        let content = match &self.vgg {
            Some(vgg) => vgg.content_loss(sr.clone(), hr),
            None => mse(sr.clone(), hr),
        };
        let adversarial = bce_with_logits(d.clone().no_grad().forward(sr), true);
        let loss_g = content.clone() * self.recipe.weight("content")
            + adversarial.clone() * self.recipe.weight("adversarial");
        let grads = GradientsParams::from_grads(loss_g.backward(), &self.g);
        self.g = self.opt_g.step(
            self.recipe.training.learning_rate * decay,
            self.g.clone(),
            grads,
        );
        self.d = Some(d);
        vec![("D", loss_d), ("content", content), ("G_GAN", adversarial)]
    }

    fn generator(&self) -> Generator {
        Generator::SrResNet(self.g.clone())
    }

    fn save(&self, state: &mut State) {
        state.put_module("g", &self.g);
        state.put_optimizer("opt_g", &self.opt_g);
        if let Some(d) = &self.d {
            state.put_module("d", d);
            state.put_optimizer("opt_d", &self.opt_d);
        }
        self.batches.save(state);
    }

    fn restore(&mut self, state: &State) -> Result<(), String> {
        let (mut g, mut d, mut batches) = (self.g.clone(), self.d.clone(), self.batches.clone());
        state.load_module("g", &mut g)?;
        let opt_g = state.optimizer("opt_g", self.recipe.adam())?;
        let opt_d = match &mut d {
            Some(d) => {
                state.load_module("d", d)?;
                state.optimizer("opt_d", self.recipe.adam())?
            }
            None => self.recipe.adam(),
        };
        batches.restore(state)?;
        (self.g, self.d) = (stable_ids(g, "g"), d.map(|d| stable_ids(d, "d")));
        (self.opt_g, self.opt_d, self.batches) = (opt_g, opt_d, batches);
        Ok(())
    }
}
