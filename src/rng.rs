//! A small seeded random number generator (SplitMix64), so every shuffle and augmentation in
//! facevox is reproducible from a seed, on every platform and Rust version.

/// One SplitMix64 step: advances `state` and returns the next 64 random bits. The one
/// implementation behind [`SeededRng`] and the small generators of the fold splitter and the
/// image augmenter (which keep their own seeding, so their streams are unchanged).
pub(crate) fn splitmix64_next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64 (Steele, Lea & Flood 2014): fast, statistically good for shuffling and
/// augmentation, and fully determined by its seed.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed ^ 0x5851_f42d_4c95_7f2d,
        }
    }

    /// The generator's whole state (for a training checkpoint).
    pub(crate) fn state(&self) -> u64 {
        self.state
    }

    /// A generator in a state [`state`](Self::state) returned.
    pub(crate) fn from_state(state: u64) -> Self {
        Self { state }
    }

    /// An independent generator derived from this one and a label (for example the epoch).
    pub fn fork(&self, label: u64) -> Self {
        let mut child = Self::new(self.state ^ label.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        child.next_u64();
        child
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        splitmix64_next(&mut self.state)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range_f64(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `[0, n)` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// A Beta(α, α) draw (for mixup), via two Gamma draws (Marsaglia–Tsang).
    pub fn beta_symmetric(&mut self, alpha: f64) -> f64 {
        let a = self.gamma(alpha);
        let b = self.gamma(alpha);
        if a + b == 0.0 {
            0.5
        } else {
            a / (a + b)
        }
    }

    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform().max(1e-300);
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_well_spread() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(SeededRng::new(8).next_u64(), xs[0]);
        let mut r = SeededRng::new(1);
        let n = 20_000;
        let mean: f64 = (0..n).map(|_| r.uniform()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01);
        let normals: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let m = normals.iter().sum::<f64>() / n as f64;
        let v = normals.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "{m} {v}");
        let betas: f64 = (0..n).map(|_| r.beta_symmetric(0.4)).sum::<f64>() / n as f64;
        assert!((betas - 0.5).abs() < 0.02);
        let mut counts = [0usize; 4];
        for _ in 0..n {
            counts[r.below(4)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (4500..5500).contains(&c)),
            "{counts:?}"
        );
    }
}
