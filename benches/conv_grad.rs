//! `cargo bench --bench conv_grad`: a convolution's two gradients, burn's generic backward on
//! flex against heist's im2col/col2im kernels, on the shapes of the networks heist trains.

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use heist::engine::conv::kernels::{forward, input_grad, weight_grad, Geometry};

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
        })
        .collect()
}

/// The fastest of 10 runs (after a warm-up): on a shared machine noise only adds time.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    (0..10)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let shapes = [
        ("SRResNet body 3x3, 64 ch, 16 px", 64, 64, [16, 16], 3, 1, 1),
        (
            "SRResNet upsampler 3x3, 64->256, 32 px",
            64,
            256,
            [32, 32],
            3,
            1,
            1,
        ),
        (
            "Pix2Pix down 4x4/2, 64->128, 32 px",
            64,
            128,
            [32, 32],
            4,
            2,
            1,
        ),
        (
            "CycleGAN block 3x3, 64 ch, 16 px (after reflection pad 18)",
            64,
            64,
            [18, 18],
            3,
            1,
            0,
        ),
        (
            "SRResNet upsampler 3x3, 64->256, 16 px",
            64,
            256,
            [16, 16],
            3,
            1,
            1,
        ),
        (
            "CycleGAN-32 block 3x3, 128 ch, 16 px (padded to 18)",
            128,
            128,
            [18, 18],
            3,
            1,
            0,
        ),
        ("SRResNet tail 9x9, 64->3, 64 px", 64, 3, [64, 64], 9, 1, 4),
        (
            "PatchGAN-32 4x4/1, 128->256, 8 px (7x7 out)",
            128,
            256,
            [8, 8],
            4,
            1,
            1,
        ),
        ("SRResNet head 9x9, 3->64, 16 px", 3, 64, [16, 16], 9, 1, 4),
        (
            "CycleGAN tail 7x7, 64->3, 64 px (padded to 70)",
            64,
            3,
            [70, 70],
            7,
            1,
            0,
        ),
        (
            "CycleGAN head 7x7, 3->64, 64 px (padded to 70)",
            3,
            64,
            [70, 70],
            7,
            1,
            0,
        ),
    ];
    // `cargo bench --bench conv_grad -- PatchGAN` runs the shapes whose name contains "PatchGAN"
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let batch = 8;
    let device = Device::flex().autodiff();
    for (name, ci, co, input, k, s, p) in shapes {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let g = Geometry {
            batch,
            channels_in: ci,
            channels_out: co,
            input,
            kernel: [k, k],
            stride: [s, s],
            padding: [p, p],
        };
        let [ho, wo] = g.output();
        let x = values(batch * ci * input[0] * input[1], 1);
        let w = values(co * ci * k * k, 2);
        let dy = values(batch * co * ho * wo, 3);
        let options = burn::tensor::ops::ConvOptions::new([s, s], [p, p], [1, 1], 1);
        let burn_ms = time(|| {
            let xt = Tensor::<4>::from_data(
                TensorData::new(x.clone(), [batch, ci, input[0], input[1]]),
                &device,
            )
            .require_grad();
            let wt = Tensor::<4>::from_data(TensorData::new(w.clone(), [co, ci, k, k]), &device)
                .require_grad();
            let dyt =
                Tensor::<4>::from_data(TensorData::new(dy.clone(), [batch, co, ho, wo]), &device);
            let y = burn::tensor::module::conv2d(xt.clone(), wt.clone(), None, options.clone());
            let grads = (y * dyt).sum().backward();
            let _ = (
                xt.grad(&grads).unwrap().into_data(),
                wt.grad(&grads).unwrap().into_data(),
            );
        });
        let forward_ms = time(|| {
            let xt = Tensor::<4>::from_data(
                TensorData::new(x.clone(), [batch, ci, input[0], input[1]]),
                &device,
            );
            let wt = Tensor::<4>::from_data(TensorData::new(w.clone(), [co, ci, k, k]), &device);
            let dyt =
                Tensor::<4>::from_data(TensorData::new(dy.clone(), [batch, co, ho, wo]), &device);
            let y = burn::tensor::module::conv2d(xt, wt, None, options.clone());
            let _ = (y * dyt).sum().into_data();
        });
        let input_ms = time(|| {
            let _ = input_grad(&w, &dy, &g);
        });
        let weight_ms = time(|| {
            let _ = weight_grad(&x, &dy, &g);
        });
        let ours_ms = input_ms + weight_ms;
        let ours_forward_ms = time(|| {
            let _ = forward(&x, &w, &g);
        });
        println!(
            "{name}: backward: burn {:.1} ms, heist {ours_ms:.1} ms (input {input_ms:.1}, weight {weight_ms:.1}); forward: burn {forward_ms:.1} ms, heist {ours_forward_ms:.1} ms",
            burn_ms - forward_ms
        );
    }
}
