//! Batch and instance normalisation, forward and backward, on contiguous `[n, c, s]` `f32`
//! values (`s` pixels per plane), in one or two parallel passes each.
//!
//! burn computes them out of tensor operations (a mean, a subtraction, a square, another
//! mean, a division...), each a serial pass over the whole activation on flex; on two cores
//! that left one idle for a third of a training step (docs/engine.md, "Speed").
//!
//! Determinism: every plane is summed on one thread in index order (in `f64`), and the planes
//! of a group are combined in image order, so the results do not depend on the thread count.

use crate::engine::flex_kernels::{fill_planes, map_planes};

/// Which values share a mean and a variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Groups {
    /// One group per channel, over every image and pixel (batch normalisation).
    Channel,
    /// One group per image and channel, over its pixels (instance normalisation).
    Plane,
}

/// `[n, c, s]`: images, channels, pixels per plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub batch: usize,
    pub channels: usize,
    pub pixels: usize,
}

impl Layout {
    pub fn groups(&self, groups: Groups) -> usize {
        match groups {
            Groups::Channel => self.channels,
            Groups::Plane => self.batch * self.channels,
        }
    }

    fn len(&self) -> usize {
        self.batch * self.channels * self.pixels
    }

    /// Values per group.
    fn count(&self, groups: Groups) -> f64 {
        (self.len() / self.groups(groups).max(1)) as f64
    }

    /// The group of plane `p` (`p = image * c + channel`).
    fn group(&self, groups: Groups, p: usize) -> usize {
        match groups {
            Groups::Channel => p % self.channels,
            Groups::Plane => p,
        }
    }
}

/// Per-plane values added up per group, planes in image order.
fn per_group<const K: usize>(planes: &[[f64; K]], l: &Layout, groups: Groups) -> Vec<[f64; K]> {
    let mut sums = vec![[0.0; K]; l.groups(groups)];
    for (p, part) in planes.iter().enumerate() {
        let sum = &mut sums[l.group(groups, p)];
        for k in 0..K {
            sum[k] += part[k];
        }
    }
    sums
}

/// The mean and the biased variance of each group (two passes: the mean, then the squared
/// distances from it, which keeps the variance exact where the mean is large).
pub fn statistics(x: &[f32], l: &Layout, groups: Groups) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(x.len(), l.len(), "input size");
    let count = l.count(groups);
    let sums = map_planes(l.pixels, [x], |_, [plane]| {
        [plane.iter().map(|&v| v as f64).sum::<f64>()]
    });
    let mean: Vec<f64> = per_group(&sums, l, groups)
        .iter()
        .map(|[s]| s / count)
        .collect();
    let squares = map_planes(l.pixels, [x], |p, [plane]| {
        let m = mean[l.group(groups, p)];
        [plane.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>()]
    });
    let var = per_group(&squares, l, groups)
        .iter()
        .map(|[s]| (s / count) as f32)
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), var)
}

fn inverse_std(var: &[f32], epsilon: f64) -> Vec<f64> {
    var.iter()
        .map(|&v| 1.0 / (v as f64 + epsilon).sqrt())
        .collect()
}

/// `(x - mean) / sqrt(var + epsilon) * gamma + beta`, `mean` and `var` per group, `gamma` and
/// `beta` per channel.
#[allow(clippy::too_many_arguments)]
pub fn normalize(
    x: &[f32],
    l: &Layout,
    groups: Groups,
    mean: &[f32],
    var: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
) -> Vec<f32> {
    assert_eq!(x.len(), l.len(), "input size");
    let inv_std = inverse_std(var, epsilon);
    fill_planes(l.pixels, [x], |p, y, [x]| {
        let (g, c) = (l.group(groups, p), p % l.channels);
        let scale = inv_std[g] * gamma[c] as f64;
        let shift = beta[c] as f64 - mean[g] as f64 * scale;
        let (scale, shift) = (scale as f32, shift as f32);
        y.iter_mut()
            .zip(x)
            .for_each(|(y, &x)| *y = x * scale + shift);
    })
}

/// The gradients of [`normalize`] with the group statistics being those of `x` itself.
pub struct Gradients {
    pub x: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// `dx = gamma / std * (dy - mean(dy) - xhat * mean(dy * xhat))` per group, with
/// `dgamma = sum(dy * xhat)` and `dbeta = sum(dy)` per channel.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    dy: &[f32],
    l: &Layout,
    groups: Groups,
    mean: &[f32],
    var: &[f32],
    gamma: &[f32],
    epsilon: f64,
) -> Gradients {
    assert_eq!(x.len(), l.len(), "input size");
    assert_eq!(dy.len(), l.len(), "output gradient size");
    let inv_std = inverse_std(var, epsilon);
    // per plane: sum(dy), sum(dy * xhat)
    let planes: Vec<[f64; 2]> = map_planes(l.pixels, [dy, x], |p, [dy, x]| {
        let g = l.group(groups, p);
        let (m, r) = (mean[g] as f64, inv_std[g]);
        dy.iter().zip(x).fold([0.0, 0.0], |[a, b], (&d, &v)| {
            [a + d as f64, b + d as f64 * (v as f64 - m) * r]
        })
    });
    let sums = per_group(&planes, l, groups);
    let count = l.count(groups);
    let dx = fill_planes(l.pixels, [dy, x], |p, dx, [dy, x]| {
        let (g, c) = (l.group(groups, p), p % l.channels);
        let (m, r) = (mean[g] as f64, inv_std[g]);
        let [a, b] = sums[g];
        let (mean_dy, mean_dy_xhat) = ((a / count) as f32, (b / count) as f32);
        let scale = (gamma[c] as f64 * r) as f32;
        let (m, r) = (m as f32, r as f32);
        for ((dx, &d), &v) in dx.iter_mut().zip(dy).zip(x) {
            let xhat = (v - m) * r;
            *dx = scale * (d - mean_dy - xhat * mean_dy_xhat);
        }
    });
    // the parameters are per channel whatever the groups: the same sums, per channel
    let per_channel = per_group(&planes, l, Groups::Channel);
    Gradients {
        x: dx,
        gamma: per_channel.iter().map(|[_, b]| *b as f32).collect(),
        beta: per_channel.iter().map(|[a, _]| *a as f32).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        crate::engine::conv::kernels::tests::values(n, seed)
    }

    /// The loss `sum(normalize(x) * w)` by its definition, in `f64`.
    fn loss(x: &[f64], l: &Layout, groups: Groups, gamma: &[f64], beta: &[f64], w: &[f32]) -> f64 {
        let s = l.pixels;
        let members = |g: usize| -> Vec<usize> {
            (0..l.batch * l.channels)
                .filter(|&p| l.group(groups, p) == g)
                .flat_map(|p| p * s..(p + 1) * s)
                .collect()
        };
        let mut total = 0.0;
        for g in 0..l.groups(groups) {
            let idx = members(g);
            let n = idx.len() as f64;
            let mean = idx.iter().map(|&i| x[i]).sum::<f64>() / n;
            let var = idx.iter().map(|&i| (x[i] - mean).powi(2)).sum::<f64>() / n;
            for &i in &idx {
                let c = (i / s) % l.channels;
                let y = (x[i] - mean) / (var + 1e-5).sqrt() * gamma[c] + beta[c];
                total += y * w[i] as f64;
            }
        }
        total
    }

    #[test]
    fn normalisation_and_its_gradients_match_the_definition() {
        for groups in [Groups::Channel, Groups::Plane] {
            for l in [
                Layout {
                    batch: 3,
                    channels: 4,
                    pixels: 5,
                },
                Layout {
                    batch: 2,
                    channels: 3,
                    pixels: 1,
                },
            ] {
                if groups == Groups::Plane && l.pixels == 1 {
                    continue;
                }
                let x: Vec<f32> = values(l.len(), 1).iter().map(|v| v * 3.0 + 2.0).collect();
                let gamma: Vec<f32> = values(l.channels, 2).iter().map(|v| v + 1.5).collect();
                let beta = values(l.channels, 3);
                let w = values(l.len(), 4);
                let (mean, var) = statistics(&x, &l, groups);
                let y = normalize(&x, &l, groups, &mean, &var, &gamma, &beta, 1e-5);
                let f64s = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<_>>();
                let (xd, gd, bd) = (f64s(&x), f64s(&gamma), f64s(&beta));
                let expected = loss(&xd, &l, groups, &gd, &bd, &w);
                let got: f64 = y.iter().zip(&w).map(|(y, w)| (y * w) as f64).sum();
                assert!((got - expected).abs() < 1e-4, "{groups:?} {l:?}: output");

                let grads = backward(&x, &w, &l, groups, &mean, &var, &gamma, 1e-5);
                // central differences of the f64 definition
                let h = 1e-5;
                let numeric = |v: &[f64], i: usize, f: &dyn Fn(&[f64]) -> f64| {
                    let (mut up, mut down) = (v.to_vec(), v.to_vec());
                    up[i] += h;
                    down[i] -= h;
                    (f(&up) - f(&down)) / (2.0 * h)
                };
                for i in 0..l.len() {
                    let d = numeric(&xd, i, &|x| loss(x, &l, groups, &gd, &bd, &w));
                    assert!(
                        (grads.x[i] as f64 - d).abs() < 1e-3,
                        "{groups:?} {l:?}: dx[{i}]"
                    );
                }
                for c in 0..l.channels {
                    let dg = numeric(&gd, c, &|g| loss(&xd, &l, groups, g, &bd, &w));
                    let db = numeric(&bd, c, &|b| loss(&xd, &l, groups, &gd, b, &w));
                    assert!(
                        (grads.gamma[c] as f64 - dg).abs() < 1e-3,
                        "{groups:?}: dgamma"
                    );
                    assert!(
                        (grads.beta[c] as f64 - db).abs() < 1e-3,
                        "{groups:?}: dbeta"
                    );
                }
            }
        }
    }
}
