//! The one random-number generator of heist: SplitMix64, seeded explicitly everywhere, so that
//! every draw is a function of a seed derived from what is being made.

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast, well mixed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator for one named part of something seeded: `Rng::derive(seed, &[index, 3])`.
    pub fn derive(seed: u64, path: &[u64]) -> Rng {
        let mut rng = Rng(seed);
        for p in path {
            rng = Rng(rng.next_u64() ^ p.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        }
        rng
    }

    /// A generator for a named thing under a seed (e.g. one tensor of a network).
    pub fn keyed(seed: u64, name: &str) -> Rng {
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        Rng::derive(seed, &[hash])
    }

    /// Standard normal (Box-Muller, one value per call).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit(); // in (0, 1]
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// The generator's whole state: `Rng::new(rng.state())` continues where `rng` is.
    pub fn state(&self) -> u64 {
        self.0
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [low, high).
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}
