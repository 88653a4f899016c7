//! Learning-rate schedules, evaluated per optimiser step.

use serde::{Deserialize, Serialize};

/// How the learning rate moves over training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// The peak rate throughout.
    Constant,
    /// Linear warm-up from `peak · warmup_start` over the first `warmup_fraction` of the steps,
    /// then a cosine decay to `peak · final_fraction`.
    WarmupCosine {
        /// Share of all steps spent warming up (0–1).
        warmup_fraction: f64,
        /// Rate at step 0, as a fraction of the peak.
        warmup_start: f64,
        /// Rate at the last step, as a fraction of the peak.
        final_fraction: f64,
    },
    /// One-cycle (Smith 2018): cosine rise to the peak over `rise_fraction` of the steps from
    /// `peak / div_start`, then cosine fall to `peak / div_final`.
    OneCycle {
        /// Share of steps spent rising.
        rise_fraction: f64,
        /// Start rate is `peak / div_start`.
        div_start: f64,
        /// Final rate is `peak / div_final`.
        div_final: f64,
    },
}

impl Default for LrSchedule {
    fn default() -> Self {
        LrSchedule::WarmupCosine {
            warmup_fraction: 0.05,
            warmup_start: 0.05,
            final_fraction: 0.01,
        }
    }
}

impl LrSchedule {
    /// The rate at `step` (0-based) of `total` steps for peak rate `peak`.
    pub fn rate(&self, peak: f64, step: usize, total: usize) -> f64 {
        let total = total.max(1);
        let t = (step.min(total - 1)) as f64 / (total.max(2) - 1) as f64;
        let cos = |from: f64, to: f64, x: f64| {
            to + (from - to) * 0.5 * (1.0 + (std::f64::consts::PI * x.clamp(0.0, 1.0)).cos())
        };
        match *self {
            LrSchedule::Constant => peak,
            LrSchedule::WarmupCosine {
                warmup_fraction,
                warmup_start,
                final_fraction,
            } => {
                let w = warmup_fraction.clamp(0.0, 1.0);
                if w > 0.0 && t < w {
                    peak * (warmup_start + (1.0 - warmup_start) * t / w)
                } else {
                    let x = if w >= 1.0 { 1.0 } else { (t - w) / (1.0 - w) };
                    cos(peak, peak * final_fraction, x)
                }
            }
            LrSchedule::OneCycle {
                rise_fraction,
                div_start,
                div_final,
            } => {
                let r = rise_fraction.clamp(1e-9, 1.0);
                if t < r {
                    cos(peak / div_start, peak, t / r)
                } else {
                    let x = if r >= 1.0 { 1.0 } else { (t - r) / (1.0 - r) };
                    cos(peak, peak / div_final, x)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine() {
        let s = LrSchedule::WarmupCosine {
            warmup_fraction: 0.1,
            warmup_start: 0.0,
            final_fraction: 0.0,
        };
        let total = 101; // t = step / 100
        assert!(s.rate(1.0, 0, total).abs() < 1e-12);
        assert!((s.rate(1.0, 5, total) - 0.5).abs() < 1e-12);
        assert!((s.rate(1.0, 10, total) - 1.0).abs() < 1e-12);
        assert!((s.rate(1.0, 55, total) - 0.5).abs() < 1e-12); // half-way through the cosine
        assert!(s.rate(1.0, 100, total).abs() < 1e-12);
        assert!(s.rate(1.0, 1000, total).abs() < 1e-12);
        let oc = LrSchedule::OneCycle {
            rise_fraction: 0.3,
            div_start: 25.0,
            div_final: 1e4,
        };
        assert!((oc.rate(1.0, 0, total) - 0.04).abs() < 1e-12);
        assert!((oc.rate(1.0, 30, total) - 1.0).abs() < 1e-12);
        assert!((oc.rate(1.0, 100, total) - 1e-4).abs() < 1e-12);
        assert_eq!(LrSchedule::Constant.rate(0.3, 7, 10), 0.3);
    }
}
