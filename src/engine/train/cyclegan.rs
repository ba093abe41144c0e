//! CycleGAN (junyanz's `cycle_gan_model.py`): two generators (A->B is the victim's model,
//! B->A its inverse), two discriminators fed from image pools, least-squares GAN losses,
//! cycle consistency (weight `cycle`, 10) and identity (weight `identity` x `cycle`, 0.5 x 10).

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use image::RgbImage;

use super::adam::Adam;
use super::batches::UnpairedBatches;
use super::checkpoint::{stable_ids, Networks, State};
use super::losses::{l1, least_squares};
use super::pool::ImagePool;
use super::{check_sizes, Recipe, TrainError, Trainer};
use crate::engine::models::cyclegan::ResnetGenerator;
use crate::engine::models::patchgan::{Norm, PatchGan};
use crate::engine::models::Generator;
use crate::nn::{initialise, Init};
use crate::rng::Rng;
use crate::sema::program::CycleGan;

/// Both generators, optimised together (junyanz chains their parameters into one Adam).
#[derive(Module, Debug)]
pub struct Generators {
    a_to_b: ResnetGenerator,
    b_to_a: ResnetGenerator,
}

/// `a` judges domain A images, `b` domain B images (junyanz's D_B and D_A).
#[derive(Module, Debug)]
pub struct Discriminators {
    a: PatchGan,
    b: PatchGan,
}

pub struct CycleGanTrainer {
    g: Generators,
    d: Discriminators,
    opt_g: Adam,
    opt_d: Adam,
    pool_a: ImagePool,
    pool_b: ImagePool,
    recipe: Recipe,
    batches: UnpairedBatches,
    /// The image pools' draws.
    rng: Rng,
}

impl CycleGanTrainer {
    pub fn new(
        config: &CycleGan,
        recipe: &Recipe,
        source: Vec<RgbImage>,
        style: Vec<RgbImage>,
        rng: Rng,
        device: &Device,
    ) -> Result<CycleGanTrainer, TrainError> {
        check_sizes("source", &source, config.image_size)?;
        check_sizes("style", &style, config.image_size)?;
        let seed = rng.clone().next_u64();
        let generator = || ResnetGenerator::new(config, 3, device);
        let discriminator = || {
            PatchGan::new(
                3,
                config.discriminator_filters as usize,
                config.discriminator_layers as usize,
                Norm::Instance,
                device,
            )
        };
        Ok(CycleGanTrainer {
            g: stable_ids(
                initialise(
                    Generators {
                        a_to_b: generator(),
                        b_to_a: generator(),
                    },
                    Init::Normal002,
                    seed,
                    &[],
                ),
                "g",
            ),
            d: stable_ids(
                initialise(
                    Discriminators {
                        a: discriminator(),
                        b: discriminator(),
                    },
                    Init::Normal002,
                    seed ^ 0xD,
                    &[],
                ),
                "d",
            ),
            opt_g: recipe.adam(),
            opt_d: recipe.adam(),
            pool_a: ImagePool::new(recipe.training.pool_size.unwrap_or(0) as usize),
            pool_b: ImagePool::new(recipe.training.pool_size.unwrap_or(0) as usize),
            recipe: recipe.clone(),
            batches: UnpairedBatches::new(source, style, config.image_size, seed, device),
            rng: Rng::derive(seed, &[4]),
        })
    }
}

impl Trainer for CycleGanTrainer {
    fn step(&mut self, step: u64) -> Vec<(&'static str, Tensor<1>)> {
        let (real_a, real_b) = self.batches.next(self.recipe.batch_size);
        let decay = self.recipe.decay(step);
        let (cycle, identity) = (
            self.recipe.weight("cycle"),
            self.recipe.weight("identity") * self.recipe.weight("cycle"),
        );
        let adversarial = self.recipe.weight("adversarial");

        // Generators, against frozen discriminators.
        let fake_b = self.g.a_to_b.forward(real_a.clone());
        let fake_a = self.g.b_to_a.forward(real_b.clone());
        let rec_a = self.g.b_to_a.forward(fake_b.clone());
        let rec_b = self.g.a_to_b.forward(fake_a.clone());
        let frozen = self.d.clone().no_grad();
        let gan = least_squares(frozen.b.forward(fake_b.clone()), true)
            + least_squares(frozen.a.forward(fake_a.clone()), true);
        let cyc = l1(rec_a, real_a.clone()) + l1(rec_b, real_b.clone());
        let mut loss_g = gan.clone() * adversarial + cyc.clone() * cycle;
        let mut idt = None;
        if identity > 0.0 {
            let i = l1(self.g.a_to_b.forward(real_b.clone()), real_b.clone())
                + l1(self.g.b_to_a.forward(real_a.clone()), real_a.clone());
            loss_g = loss_g + i.clone() * identity;
            idt = Some(i);
        }
        let grads = GradientsParams::from_grads(loss_g.backward(), &self.g);
        self.g = self.opt_g.step(
            self.recipe.training.learning_rate * decay,
            self.g.clone(),
            grads,
        );

        // Discriminators on real images and on pooled earlier fakes.
        let pooled_b = self.pool_b.query(fake_b.detach(), &mut self.rng);
        let pooled_a = self.pool_a.query(fake_a.detach(), &mut self.rng);
        let loss_d = (least_squares(self.d.b.forward(real_b), true)
            + least_squares(self.d.b.forward(pooled_b), false))
            * 0.5
            + (least_squares(self.d.a.forward(real_a), true)
                + least_squares(self.d.a.forward(pooled_a), false))
                * 0.5;
        let grads = GradientsParams::from_grads(loss_d.backward(), &self.d);
        self.d = self.opt_d.step(
            self.recipe.training.discriminator_learning_rate * decay,
            self.d.clone(),
            grads,
        );
        let mut losses = vec![("D", loss_d), ("G_GAN", gan), ("cycle", cyc)];
        if let Some(i) = idt {
            losses.push(("identity", i));
        }
        losses
    }

    fn generator(&self) -> Generator {
        Generator::Resnet(self.g.a_to_b.clone())
    }

    fn save(&self, state: &mut State) {
        Networks::save(state, &self.g, &self.d, &self.opt_g, &self.opt_d);
        state.put_tensors("pool_a", self.pool_a.images());
        state.put_tensors("pool_b", self.pool_b.images());
        self.batches.save(state);
        state.put_rng("pool", &self.rng);
    }

    fn restore(&mut self, state: &State) -> Result<(), String> {
        let n = Networks::restore(state, &self.g, &self.d, || self.recipe.adam())?;
        let mut batches = self.batches.clone();
        let device = self.batches.device().clone();
        let capacity = self.recipe.training.pool_size.unwrap_or(0) as usize;
        let pool_a = ImagePool::restore(capacity, state.tensors("pool_a", &device)?);
        let pool_b = ImagePool::restore(capacity, state.tensors("pool_b", &device)?);
        batches.restore(state)?;
        let rng = state.rng("pool")?;
        (self.g, self.d, self.opt_g, self.opt_d) = (n.g, n.d, n.opt_g, n.opt_d);
        (self.pool_a, self.pool_b, self.batches, self.rng) = (pool_a, pool_b, batches, rng);
        Ok(())
    }
}
