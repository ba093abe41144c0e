//! Pix2Pix (junyanz's `pix2pix_model.py`): the discriminator sees (input, output) pairs; the
//! generator minimises the vanilla GAN loss plus `l1` x L1 to the target (100 by default).

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use image::RgbImage;

use super::adam::Adam;
use super::batches::PairedBatches;
use super::checkpoint::{stable_ids, Networks, State};
use super::losses::{bce_with_logits, l1};
use super::{check_sizes, Recipe, TrainError, Trainer};
use crate::engine::models::patchgan::{Norm, PatchGan};
use crate::engine::models::pix2pix::UnetGenerator;
use crate::engine::models::Generator;
use crate::nn::{initialise, Init};
use crate::rng::Rng;
use crate::sema::program::{Architecture, Pix2Pix};

pub struct Pix2PixTrainer {
    g: UnetGenerator,
    d: PatchGan,
    opt_g: Adam,
    opt_d: Adam,
    recipe: Recipe,
    batches: PairedBatches,
    /// Dropout masks.
    rng: Rng,
}

impl Pix2PixTrainer {
    pub fn new(
        config: &Pix2Pix,
        recipe: &Recipe,
        inputs: Vec<RgbImage>,
        targets: Vec<RgbImage>,
        rng: Rng,
        device: &Device,
    ) -> Result<Pix2PixTrainer, TrainError> {
        check_sizes("input", &inputs, config.image_size)?;
        check_sizes("target", &targets, config.image_size)?;
        let seed = rng.clone().next_u64();
        let g = match Generator::new(&Architecture::Pix2pix(config.clone()), seed, device) {
            Generator::Unet(g) => g,
            _ => unreachable!(),
        };
        let d = initialise(
            PatchGan::new(
                6,
                config.discriminator_filters as usize,
                config.discriminator_layers as usize,
                Norm::Batch,
                device,
            ),
            Init::Normal002,
            seed ^ 0xD,
            &[],
        );
        Ok(Pix2PixTrainer {
            g: stable_ids(g, "g"),
            d: stable_ids(d, "d"),
            opt_g: recipe.adam(),
            opt_d: recipe.adam(),
            recipe: recipe.clone(),
            batches: PairedBatches::new(inputs, targets, config.image_size, 1, seed, device),
            rng: Rng::derive(seed, &[4]),
        })
    }
}

impl Trainer for Pix2PixTrainer {
    fn step(&mut self, step: u64) -> Vec<(&'static str, Tensor<1>)> {
        let (a, b) = self.batches.next(self.recipe.batch_size);
        let decay = self.recipe.decay(step);
        let fake = self.g.forward_train(a.clone(), &mut self.rng);

        // Discriminator: real pairs towards 1, generated (detached) towards 0, halved.
        let pred_fake = self
            .d
            .forward(Tensor::cat(vec![a.clone(), fake.clone().detach()], 1));
        let pred_real = self.d.forward(Tensor::cat(vec![a.clone(), b.clone()], 1));
        let loss_d = (bce_with_logits(pred_fake, false) + bce_with_logits(pred_real, true)) * 0.5;
        let grads = GradientsParams::from_grads(loss_d.backward(), &self.d);
        self.d = self.opt_d.step(
            self.recipe.training.discriminator_learning_rate * decay,
            self.d.clone(),
            grads,
        );

        // Generator against the updated, frozen discriminator.
        let frozen = self.d.clone().no_grad();
        let adversarial =
            bce_with_logits(frozen.forward(Tensor::cat(vec![a, fake.clone()], 1)), true);
        let reconstruction = l1(fake, b);
        let loss_g = adversarial.clone() * self.recipe.weight("adversarial")
            + reconstruction.clone() * self.recipe.weight("l1");
        let grads = GradientsParams::from_grads(loss_g.backward(), &self.g);
        self.g = self.opt_g.step(
            self.recipe.training.learning_rate * decay,
            self.g.clone(),
            grads,
        );
        vec![
            ("D", loss_d),
            ("G_GAN", adversarial),
            ("G_L1", reconstruction),
        ]
    }

    fn generator(&self) -> Generator {
        Generator::Unet(self.g.clone())
    }

    fn save(&self, state: &mut State) {
        Networks::save(state, &self.g, &self.d, &self.opt_g, &self.opt_d);
        self.batches.save(state);
        state.put_rng("dropout", &self.rng);
    }

    fn restore(&mut self, state: &State) -> Result<(), String> {
        let n = Networks::restore(state, &self.g, &self.d, || self.recipe.adam())?;
        let mut batches = self.batches.clone();
        batches.restore(state)?;
        let rng = state.rng("dropout")?;
        (self.g, self.d, self.opt_g, self.opt_d) = (n.g, n.d, n.opt_g, n.opt_d);
        (self.batches, self.rng) = (batches, rng);
        Ok(())
    }
}
