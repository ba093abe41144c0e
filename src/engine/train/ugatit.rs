//! U-GAT-IT training (the official `UGATIT.py`): four discriminators (global and local for
//! each domain) judge images and CAM logits with least squares; the generators minimise
//! `adversarial` x those, `cycle` x L1 reconstruction, `identity` x L1 identity and `cam` x
//! BCE on their own CAM logits (source vs target domain); rho is clipped to [0, 1] after each
//! step.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use image::RgbImage;

use super::adam::Adam;
use super::batches::UnpairedBatches;
use super::checkpoint::{stable_ids, Networks, State};
use super::losses::{bce_with_logits, l1, least_squares};
use super::{check_sizes, Recipe, TrainError, Trainer};
use crate::engine::models::ugatit::{UgatitDiscriminator, UgatitGenerator, CONSTANTS};
use crate::engine::models::Generator;
use crate::nn::{initialise, Init};
use crate::rng::Rng;
use crate::sema::program::Ugatit;

#[derive(Module, Debug)]
pub struct Generators {
    a_to_b: UgatitGenerator,
    b_to_a: UgatitGenerator,
}

/// Global and local discriminators of domain A and of domain B.
#[derive(Module, Debug)]
pub struct Discriminators {
    global_a: UgatitDiscriminator,
    local_a: UgatitDiscriminator,
    global_b: UgatitDiscriminator,
    local_b: UgatitDiscriminator,
}

impl Discriminators {
    /// Sum over the domain's two discriminators of the LSGAN losses of the patch logits and of
    /// the CAM logits against `real`.
    fn judge(&self, domain_a: bool, images: Tensor<4>, real: bool) -> Tensor<1> {
        let (global, local) = if domain_a {
            (&self.global_a, &self.local_a)
        } else {
            (&self.global_b, &self.local_b)
        };
        let (g, g_cam, _) = global.forward(images.clone());
        let (l, l_cam, _) = local.forward(images);
        least_squares(g, real)
            + least_squares(g_cam, real)
            + least_squares(l, real)
            + least_squares(l_cam, real)
    }
}

pub struct UgatitTrainer {
    g: Generators,
    d: Discriminators,
    opt_g: Adam,
    opt_d: Adam,
    recipe: Recipe,
    batches: UnpairedBatches,
}

impl UgatitTrainer {
    pub fn new(
        config: &Ugatit,
        recipe: &Recipe,
        source: Vec<RgbImage>,
        style: Vec<RgbImage>,
        rng: Rng,
        device: &Device,
    ) -> Result<UgatitTrainer, TrainError> {
        check_sizes("source", &source, config.image_size)?;
        check_sizes("style", &style, config.image_size)?;
        let seed = rng.clone().next_u64();
        let generator = || UgatitGenerator::new(config, device);
        let global =
            || UgatitDiscriminator::new(config.discriminator_filters, config.global_layers, device);
        let local =
            || UgatitDiscriminator::new(config.discriminator_filters, config.local_layers, device);
        Ok(UgatitTrainer {
            g: stable_ids(
                initialise(
                    Generators {
                        a_to_b: generator(),
                        b_to_a: generator(),
                    },
                    Init::TorchDefault,
                    seed,
                    CONSTANTS,
                ),
                "g",
            ),
            d: stable_ids(
                initialise(
                    Discriminators {
                        global_a: global(),
                        local_a: local(),
                        global_b: global(),
                        local_b: local(),
                    },
                    Init::TorchDefault,
                    seed ^ 0xD,
                    &[],
                ),
                "d",
            ),
            opt_g: recipe.adam(),
            opt_d: recipe.adam(),
            recipe: recipe.clone(),
            batches: UnpairedBatches::new(source, style, config.image_size, seed, device),
        })
    }
}

impl Trainer for UgatitTrainer {
    fn step(&mut self, step: u64) -> Vec<(&'static str, Tensor<1>)> {
        let (real_a, real_b) = self.batches.next(self.recipe.batch_size);
        let decay = self.recipe.decay(step);
        let w = |name: &str| self.recipe.weight(name);

        // Discriminators.
        let (fake_b, _, _) = self.g.a_to_b.forward(real_a.clone());
        let (fake_a, _, _) = self.g.b_to_a.forward(real_b.clone());
        let loss_d = (self.d.judge(true, real_a.clone(), true)
            + self.d.judge(true, fake_a.detach(), false)
            + self.d.judge(false, real_b.clone(), true)
            + self.d.judge(false, fake_b.detach(), false))
            * w("adversarial");
        let grads = GradientsParams::from_grads(loss_d.backward(), &self.d);
        self.d = self.opt_d.step(
            self.recipe.training.discriminator_learning_rate * decay,
            self.d.clone(),
            grads,
        );

        // Generators against the frozen discriminators.
        let (fake_b, cam_a2b, _) = self.g.a_to_b.forward(real_a.clone());
        let (fake_a, cam_b2a, _) = self.g.b_to_a.forward(real_b.clone());
        let (rec_a, _, _) = self.g.b_to_a.forward(fake_b.clone());
        let (rec_b, _, _) = self.g.a_to_b.forward(fake_a.clone());
        let (idt_a, cam_a2a, _) = self.g.b_to_a.forward(real_a.clone());
        let (idt_b, cam_b2b, _) = self.g.a_to_b.forward(real_b.clone());
        let frozen = self.d.clone().no_grad();
        let gan = frozen.judge(true, fake_a, true) + frozen.judge(false, fake_b, true);
        let cycle = l1(rec_a, real_a.clone()) + l1(rec_b, real_b.clone());
        let identity = l1(idt_a, real_a) + l1(idt_b, real_b);
        let cam = bce_with_logits(cam_b2a, true)
            + bce_with_logits(cam_a2a, false)
            + bce_with_logits(cam_a2b, true)
            + bce_with_logits(cam_b2b, false);
        let loss_g = gan.clone() * w("adversarial")
            + cycle.clone() * w("cycle")
            + identity.clone() * w("identity")
            + cam.clone() * w("cam");
        let grads = GradientsParams::from_grads(loss_g.backward(), &self.g);
        let g = self.opt_g.step(
            self.recipe.training.learning_rate * decay,
            self.g.clone(),
            grads,
        );
        self.g = Generators {
            a_to_b: g.a_to_b.clip_rho(),
            b_to_a: g.b_to_a.clip_rho(),
        };
        vec![
            ("D", loss_d),
            ("G_GAN", gan),
            ("cycle", cycle),
            ("identity", identity),
            ("CAM", cam),
        ]
    }

    fn generator(&self) -> Generator {
        Generator::Ugatit(self.g.a_to_b.clone())
    }

    fn save(&self, state: &mut State) {
        Networks::save(state, &self.g, &self.d, &self.opt_g, &self.opt_d);
        self.batches.save(state);
    }

    fn restore(&mut self, state: &State) -> Result<(), String> {
        let n = Networks::restore(state, &self.g, &self.d, || self.recipe.adam())?;
        let mut batches = self.batches.clone();
        batches.restore(state)?;
        (self.g, self.d, self.opt_g, self.opt_d) = (n.g, n.d, n.opt_g, n.opt_d);
        self.batches = batches;
        Ok(())
    }
}
