//! Built-in synthetic image domains, so that every experiment runs with no downloads.
//!
//! - `photo`: scenes with a sky gradient, a sun, layered hills, grass texture and buildings;
//! - `painting`: the victim's secret style, photo scenes repainted with oriented brush strokes,
//!   a pastel palette, soft edges and a canvas weave -- only the victim's style set shows it;
//! - `face`: selfie-like faces (shaded skin, hair, eyes, nose, mouth);
//! - `anime`: the anime counterpart (flat colours, outlines, big bright eyes, vivid hair);
//! - `texture`: high-frequency textures (gratings, checks, noise, discs) for super-resolution.
//!
//! Each domain has three distributions -- `victim`, `attacker`, `benchmark` -- with shifted
//! parameters (colours, lighting, how often buildings appear, texture frequencies), as the
//! paper's attacker and benchmark data come from other datasets than the victim's. Image `i` of
//! a dataset depends only on (domain, distribution, seed, i, size): datasets can be generated in
//! any order, in parallel, and agree bit for bit everywhere.

use image::{Rgb, RgbImage};

use crate::rng::Rng;
use crate::sema::program::{Distribution, Domain};

/// An RGB canvas in f32, 0-255.
struct Canvas {
    size: usize,
    pixels: Vec<[f32; 3]>,
}

impl Canvas {
    fn new(size: usize, colour: [f32; 3]) -> Canvas {
        Canvas {
            size,
            pixels: vec![colour; size * size],
        }
    }

    /// Sets every pixel from its normalised coordinates (x, y in [0, 1)) and current colour.
    fn paint(&mut self, f: impl Fn(f32, f32, [f32; 3]) -> [f32; 3]) {
        let n = self.size as f32;
        for (i, p) in self.pixels.iter_mut().enumerate() {
            let (x, y) = ((i % self.size) as f32 + 0.5, (i / self.size) as f32 + 0.5);
            *p = f(x / n, y / n, *p);
        }
    }

    fn into_image(self) -> RgbImage {
        let size = self.size as u32;
        let mut image = RgbImage::new(size, size);
        for (p, out) in self.pixels.iter().zip(image.pixels_mut()) {
            *out = Rgb(p.map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
        image
    }
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|c| a[c] + (b[c] - a[c]) * t)
}

fn jitter(rng: &mut Rng, c: [f32; 3], amount: f64) -> [f32; 3] {
    c.map(|v| v + rng.range(-amount, amount) as f32)
}

/// Smooth lattice noise in about [-1, 1], a function of the seed and the position.
fn value_noise(seed: u64, x: f32, y: f32) -> f32 {
    let corner = |ix: i64, iy: i64| {
        let mut r = Rng::derive(seed, &[ix as u64, iy as u64]);
        r.range(-1.0, 1.0) as f32
    };
    let (fx, fy) = (x.floor(), y.floor());
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let (ix, iy) = (fx as i64, fy as i64);
    let top = corner(ix, iy) + (corner(ix + 1, iy) - corner(ix, iy)) * sx;
    let bottom = corner(ix, iy + 1) + (corner(ix + 1, iy + 1) - corner(ix, iy + 1)) * sx;
    top + (bottom - top) * sy
}

/// Image `index` of a synthetic dataset.
pub fn render(
    domain: Domain,
    distribution: Distribution,
    seed: u64,
    index: u64,
    size: u32,
) -> RgbImage {
    let d = match distribution {
        Distribution::Victim => 0,
        Distribution::Attacker => 1,
        Distribution::Benchmark => 2,
    };
    let domain_id = Domain::ALL
        .iter()
        .position(|(_, x)| *x == domain)
        .unwrap_or(0) as u64;
    let mut rng = Rng::derive(seed, &[domain_id, d as u64, index]);
    let size = size as usize;
    match domain {
        Domain::Photo => photo(&mut rng, d, size).into_image(),
        Domain::Painting => painting(&mut rng, size).into_image(),
        Domain::Face => face(&mut rng, d, size, false).into_image(),
        Domain::Anime => face(&mut rng, d, size, true).into_image(),
        Domain::Texture => texture(&mut rng, d, size).into_image(),
    }
}

/// A landscape: sky, sun, hills, grass, sometimes buildings. `d` shifts the look.
fn photo(rng: &mut Rng, d: usize, size: usize) -> Canvas {
    // Day (victim), hazy warm (attacker), dusk (benchmark).
    let skies = [
        ([70.0, 130.0, 205.0], [185.0, 215.0, 240.0]),
        ([110.0, 140.0, 175.0], [230.0, 210.0, 180.0]),
        ([55.0, 75.0, 140.0], [250.0, 165.0, 115.0]),
    ];
    let grounds = [
        [[60.0, 120.0, 50.0], [90.0, 150.0, 70.0], [40.0, 90.0, 45.0]],
        [
            [120.0, 110.0, 70.0],
            [150.0, 130.0, 80.0],
            [95.0, 100.0, 60.0],
        ],
        [[70.0, 80.0, 90.0], [55.0, 70.0, 60.0], [35.0, 50.0, 45.0]],
    ];
    let building_odds = [0.2, 0.6, 0.35];
    let (top, horizon) = skies[d];
    let (top, horizon) = (jitter(rng, top, 20.0), jitter(rng, horizon, 20.0));
    let horizon_y = rng.range(0.35, 0.6) as f32;
    let mut canvas = Canvas::new(size, top);
    canvas.paint(|_, y, _| mix(top, horizon, y / horizon_y));

    if rng.chance(0.6) {
        let (sx, sy, r) = (
            rng.range(0.1, 0.9) as f32,
            rng.range(0.08, 0.3) as f32 * horizon_y / 0.5,
            rng.range(0.04, 0.09) as f32,
        );
        let sun = jitter(rng, [255.0, 235.0, 190.0], 10.0);
        canvas.paint(|x, y, c| {
            let dist = ((x - sx).powi(2) + (y - sy).powi(2)).sqrt();
            if dist < r {
                sun
            } else {
                mix(c, sun, 0.5 * (-(dist - r) * 12.0).exp())
            }
        });
    }

    let noise_seed = rng.next_u64();
    let layers = 3;
    let mut lowest_ridge: Vec<f32> = vec![horizon_y; size];
    for layer in 0..layers {
        let base = horizon_y + layer as f32 * rng.range(0.05, 0.12) as f32;
        let waves: Vec<(f32, f32, f32)> = (0..3)
            .map(|_| {
                (
                    rng.range(0.01, 0.06) as f32,
                    rng.range(1.0, 5.0) as f32,
                    rng.range(0.0, std::f64::consts::TAU) as f32,
                )
            })
            .collect();
        let colour = jitter(rng, grounds[d][layer % 3], 15.0);
        let ridge = move |x: f32| {
            base + waves
                .iter()
                .map(|(a, f, p)| a * (x * f * std::f32::consts::TAU + p).sin())
                .sum::<f32>()
        };
        canvas.paint(|x, y, c| {
            let top = ridge(x);
            if y < top {
                return c;
            }
            let shade = 1.0 - 0.35 * ((y - top) / (1.0 - top).max(0.05)).min(1.0);
            let grain = 12.0 * value_noise(noise_seed + layer as u64, x * 40.0, y * 40.0);
            colour.map(|v| v * shade + grain)
        });
        for (i, r) in lowest_ridge.iter_mut().enumerate() {
            *r = ridge((i as f32 + 0.5) / size as f32);
        }
    }

    if rng.chance(building_odds[d]) {
        for _ in 0..rng.range(2.0, 6.0) as usize {
            let (x0, w) = (rng.range(0.0, 0.85) as f32, rng.range(0.06, 0.16) as f32);
            let foot =
                lowest_ridge[((x0 + w / 2.0) * size as f32).min(size as f32 - 1.0) as usize] + 0.04;
            let h = rng.range(0.1, 0.3) as f32;
            let wall = jitter(rng, [170.0, 160.0, 150.0], 40.0);
            let window = jitter(rng, [230.0, 220.0, 150.0], 25.0);
            let cells = rng.range(3.0, 6.0) as f32;
            canvas.paint(|x, y, c| {
                if x < x0 || x > x0 + w || y < foot - h || y > foot {
                    return c;
                }
                let (u, v) = ((x - x0) / w * cells, (y - foot + h) / h * cells * 2.0);
                if u.fract() > 0.3 && u.fract() < 0.7 && v.fract() > 0.3 && v.fract() < 0.7 {
                    window
                } else {
                    wall
                }
            });
        }
    }
    canvas
}

/// The secret style: a photo scene repainted with oriented brush strokes, a pastel palette,
/// soft edges and a canvas weave.
fn painting(rng: &mut Rng, size: usize) -> Canvas {
    let scene = photo(rng, 0, size);
    let palette: [[f32; 3]; 8] = [
        [238.0, 214.0, 180.0],
        [170.0, 200.0, 215.0],
        [120.0, 150.0, 190.0],
        [200.0, 175.0, 210.0],
        [150.0, 185.0, 130.0],
        [95.0, 130.0, 100.0],
        [235.0, 190.0, 150.0],
        [245.0, 235.0, 205.0],
    ];
    let field_seed = rng.next_u64();
    let stroke = (size / 16).max(2) as f32;
    let n = size as i64;
    let at = |x: i64, y: i64| scene.pixels[(y.clamp(0, n - 1) * n + x.clamp(0, n - 1)) as usize];
    let mut out = Canvas::new(size, [0.0; 3]);
    for y in 0..n {
        for x in 0..n {
            let angle =
                std::f32::consts::PI * value_noise(field_seed, x as f32 / 12.0, y as f32 / 12.0);
            let (dx, dy) = (angle.cos(), angle.sin());
            let mut sum = [0.0f32; 3];
            for t in -3..=3 {
                let s = t as f32 * stroke / 6.0;
                let p = at(x + (dx * s).round() as i64, y + (dy * s).round() as i64);
                (0..3).for_each(|c| sum[c] += p[c] / 7.0);
            }
            let nearest = palette
                .iter()
                .min_by(|a, b| distance(a, &sum).total_cmp(&distance(b, &sum)))
                .copied()
                .unwrap_or(sum);
            let weave = 4.0 * ((x as f32 * 1.7).sin() * (y as f32 * 1.7).sin());
            let painted = mix(sum, nearest, 0.55).map(|v| v * 0.9 + 25.0 + weave);
            out.pixels[(y * n + x) as usize] = painted;
        }
    }
    out
}

fn distance(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    (0..3).map(|c| (a[c] - b[c]).powi(2)).sum()
}

/// A face; `anime` draws the anime counterpart: flat colours, outlines, big eyes, vivid hair.
fn face(rng: &mut Rng, d: usize, size: usize, anime: bool) -> Canvas {
    let skins: [(f64, f64); 3] = [(0.0, 1.0), (0.2, 1.0), (0.0, 0.7)];
    let tone = rng.range(skins[d].0, skins[d].1) as f32;
    let skin = if anime {
        jitter(rng, [255.0, 226.0, 212.0], 6.0)
    } else {
        mix([95.0, 60.0, 45.0], [240.0, 205.0, 180.0], tone)
    };
    let hair = if anime {
        let vivid = [
            [240.0, 120.0, 170.0],
            [90.0, 140.0, 240.0],
            [150.0, 90.0, 210.0],
            [250.0, 160.0, 60.0],
            [40.0, 40.0, 60.0],
        ];
        vivid[rng.below(vivid.len())]
    } else {
        let natural = [
            [30.0, 25.0, 20.0],
            [90.0, 60.0, 35.0],
            [200.0, 170.0, 110.0],
            [130.0, 70.0, 40.0],
        ];
        let pick = natural[rng.below(natural.len())];
        jitter(rng, pick, 10.0)
    };
    let iris = if anime {
        let bright = [
            [60.0, 130.0, 230.0],
            [60.0, 190.0, 120.0],
            [180.0, 70.0, 200.0],
            [220.0, 60.0, 60.0],
        ];
        bright[rng.below(bright.len())]
    } else {
        [50.0, 35.0, 25.0]
    };
    let backgrounds = [
        [200.0, 200.0, 205.0],
        [170.0, 185.0, 200.0],
        [120.0, 110.0, 100.0],
    ];
    let background = if anime {
        jitter(rng, [235.0, 225.0, 245.0], 15.0)
    } else {
        jitter(rng, backgrounds[d], 25.0)
    };
    let (cx, cy) = (
        0.5 + rng.range(-0.05, 0.05) as f32,
        0.56 + rng.range(-0.03, 0.03) as f32,
    );
    let (rx, ry) = (rng.range(0.26, 0.32) as f32, rng.range(0.34, 0.4) as f32);
    let light = rng.range(-1.0, 1.0) as f32;
    let fringe_seed = rng.next_u64();
    let eye_r = if anime { 0.07 } else { 0.035 };
    let eye_y = cy - 0.02;
    let mut canvas = Canvas::new(size, background);
    canvas.paint(|x, y, _| {
        let (u, v) = ((x - cx) / rx, (y - cy) / ry);
        let r = (u * u + v * v).sqrt();
        let hair_line = -0.35
            + if anime {
                0.12 * (x * 40.0).sin().abs()
            } else {
                0.05 * value_noise(fringe_seed, x * 10.0, 0.0)
            };
        if r > 1.0 {
            // Hair around the top of the head, background elsewhere.
            let hr = (u * u / 1.3 + (v + 0.1) * (v + 0.1) / 1.2).sqrt();
            return if hr < 1.12 && v < 0.2 {
                hair
            } else {
                background
            };
        }
        if anime && r > 0.95 {
            return [40.0, 30.0, 40.0]; // outline
        }
        if v < hair_line {
            return hair;
        }
        let mut c = if anime {
            skin
        } else {
            skin.map(|s| s * (0.85 + 0.15 * (light * u) - 0.1 * r * r))
        };
        for ex in [cx - 0.1, cx + 0.1] {
            let e =
                ((x - ex).powi(2) + ((y - eye_y) * if anime { 0.8 } else { 1.6 }).powi(2)).sqrt();
            if e < eye_r {
                c = if e < eye_r * 0.55 {
                    iris
                } else {
                    [245.0, 245.0, 245.0]
                };
                if anime
                    && ((x - ex + eye_r * 0.25).powi(2) + (y - eye_y + eye_r * 0.3).powi(2)).sqrt()
                        < eye_r * 0.2
                {
                    c = [255.0, 255.0, 255.0];
                }
            }
        }
        let nose = (x - cx).abs() < 0.008 && y > eye_y + 0.04 && y < cy + 0.1;
        if nose && !anime {
            c = c.map(|v| v * 0.8);
        }
        let mouth_y = cy + if anime { 0.17 } else { 0.2 };
        let mouth_w = if anime { 0.04 } else { 0.09 };
        // Image y grows downwards: corners above the middle make a smile.
        if (x - cx).abs() < mouth_w && (y - mouth_y + 4.0 * (x - cx).powi(2)).abs() < 0.012 {
            c = if anime {
                [150.0, 60.0, 70.0]
            } else {
                [170.0, 80.0, 80.0]
            };
        }
        c
    });
    canvas
}

/// High-frequency texture: gratings, a check pattern, noise and sharp discs.
fn texture(rng: &mut Rng, d: usize, size: usize) -> Canvas {
    let frequencies = [(6.0, 20.0), (4.0, 28.0), (10.0, 32.0)];
    let (low, high) = frequencies[d];
    let gratings: Vec<(f32, f32, f32, f32)> = (0..3)
        .map(|_| {
            let angle = rng.range(0.0, std::f64::consts::PI) as f32;
            (
                angle.cos(),
                angle.sin(),
                rng.range(low, high) as f32,
                rng.range(15.0, 45.0) as f32,
            )
        })
        .collect();
    let base = jitter(rng, [128.0, 120.0, 110.0], 40.0);
    let tint = jitter(rng, [0.0, 0.0, 0.0], 60.0);
    let check = rng.range(low, high) as f32 / 2.0;
    let noise_seed = rng.next_u64();
    let discs: Vec<(f32, f32, f32, [f32; 3])> = (0..rng.range(3.0, 9.0) as usize)
        .map(|_| {
            let colour = jitter(rng, [128.0, 128.0, 128.0], 120.0);
            (
                rng.unit() as f32,
                rng.unit() as f32,
                rng.range(0.03, 0.12) as f32,
                colour,
            )
        })
        .collect();
    let mut canvas = Canvas::new(size, base);
    canvas.paint(|x, y, c| {
        let mut v = c;
        for (gx, gy, f, amp) in &gratings {
            let s = amp * ((x * gx + y * gy) * f * std::f32::consts::TAU).sin();
            v = [v[0] + s, v[1] + s * 0.8, v[2] + s * 0.6];
        }
        let checked = ((x * check).floor() + (y * check).floor()) as i64 % 2 == 0;
        let n = 20.0 * value_noise(noise_seed, x * 24.0, y * 24.0);
        v = [0, 1, 2].map(|k| {
            v[k] + n
                + if checked {
                    tint[k] * 0.3
                } else {
                    -tint[k] * 0.3
                }
        });
        for (dx, dy, r, colour) in &discs {
            if (x - dx).powi(2) + (y - dy).powi(2) < r * r {
                v = *colour;
            }
        }
        v
    });
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean(image: &RgbImage) -> [f64; 3] {
        let n = (image.width() * image.height()) as f64;
        let mut sum = [0.0; 3];
        for p in image.pixels() {
            (0..3).for_each(|c| sum[c] += p.0[c] as f64 / n);
        }
        sum
    }

    #[test]
    fn an_image_depends_only_on_its_coordinates() {
        for (_, domain) in Domain::ALL {
            let a = render(domain, Distribution::Victim, 7, 3, 32);
            let b = render(domain, Distribution::Victim, 7, 3, 32);
            let c = render(domain, Distribution::Victim, 7, 4, 32);
            let e = render(domain, Distribution::Victim, 8, 3, 32);
            assert_eq!(a, b, "{domain:?}: same coordinates, same image");
            assert_ne!(a, c, "{domain:?}: another index");
            assert_ne!(a, e, "{domain:?}: another seed");
            assert_eq!(a.dimensions(), (32, 32));
        }
    }

    #[test]
    fn the_distributions_differ_on_average() {
        for (_, domain) in [
            ("photo", Domain::Photo),
            ("face", Domain::Face),
            ("texture", Domain::Texture),
        ] {
            let average = |d: Distribution| {
                let images: Vec<RgbImage> = (0..24).map(|i| render(domain, d, 1, i, 32)).collect();
                let sums = images
                    .iter()
                    .map(mean)
                    .fold([0.0; 3], |a, m| [a[0] + m[0], a[1] + m[1], a[2] + m[2]]);
                sums.map(|s| s / images.len() as f64)
            };
            let (v, a, b) = (
                average(Distribution::Victim),
                average(Distribution::Attacker),
                average(Distribution::Benchmark),
            );
            let gap =
                |p: [f64; 3], q: [f64; 3]| (0..3).map(|c| (p[c] - q[c]).abs()).fold(0.0, f64::max);
            assert!(
                gap(v, a) > 3.0 && gap(v, b) > 3.0,
                "{domain:?}: victim {v:?}, attacker {a:?}, benchmark {b:?}"
            );
        }
    }

    #[test]
    fn the_painting_style_is_smoother_than_photos() {
        // Brush strokes average neighbours: less pixel-to-pixel variation than the scenes.
        let roughness = |image: &RgbImage| {
            let mut total = 0.0;
            for y in 0..image.height() {
                for x in 1..image.width() {
                    let (p, q) = (image.get_pixel(x, y).0, image.get_pixel(x - 1, y).0);
                    total += (0..3)
                        .map(|c| (p[c] as f64 - q[c] as f64).abs())
                        .sum::<f64>();
                }
            }
            total
        };
        let photos: f64 = (0..8)
            .map(|i| roughness(&render(Domain::Photo, Distribution::Victim, 2, i, 64)))
            .sum();
        let paintings: f64 = (0..8)
            .map(|i| roughness(&render(Domain::Painting, Distribution::Victim, 2, i, 64)))
            .sum();
        assert!(
            paintings < photos * 0.9,
            "paintings {paintings} vs photos {photos}"
        );
    }
}
