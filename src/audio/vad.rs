//! Energy-based voice-activity trimming.
//!
//! Recordings such as RAVDESS start and end with a second or so of room tone. [`trim_silence`]
//! measures the RMS level of short frames, finds the first and last frame within `top_db` of the
//! loudest one, and keeps that span plus a margin. A recording whose loudest frame is below
//! `silence_dbfs` is reported as [`Error::Silent`].

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Settings for [`trim_silence`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VadConfig {
    /// Frames more than this many dB below the loudest frame count as silence.
    pub top_db: f64,
    /// If the loudest frame is below this level (dB relative to full scale), the recording is
    /// silent.
    pub silence_dbfs: f64,
    /// Frame length for the energy measurement, in milliseconds.
    pub frame_ms: f64,
    /// Silence kept on each side of the detected activity, in milliseconds.
    pub margin_ms: f64,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            top_db: 40.0,
            silence_dbfs: -70.0,
            frame_ms: 25.0,
            margin_ms: 100.0,
        }
    }
}

impl VadConfig {
    /// Checks that the values are usable.
    pub fn validate(&self) -> Result<()> {
        if !(self.top_db.is_finite() && self.top_db > 0.0) {
            return Err(Error::InvalidConfig("vad.top_db must be positive".into()));
        }
        if !(self.frame_ms.is_finite() && self.frame_ms > 0.0) {
            return Err(Error::InvalidConfig("vad.frame_ms must be positive".into()));
        }
        if !(self.margin_ms.is_finite() && self.margin_ms >= 0.0) {
            return Err(Error::InvalidConfig("vad.margin_ms must be >= 0".into()));
        }
        if !self.silence_dbfs.is_finite() {
            return Err(Error::InvalidConfig(
                "vad.silence_dbfs must be finite".into(),
            ));
        }
        Ok(())
    }
}

/// Returns the sample range `[start, end)` that holds the voice activity of `samples`.
///
/// Errors with [`Error::Silent`] when no frame reaches `silence_dbfs`, and [`Error::Empty`] for
/// no samples.
pub fn trim_silence(samples: &[f32], sample_rate: u32, cfg: &VadConfig) -> Result<(usize, usize)> {
    if samples.is_empty() {
        return Err(Error::Empty("no samples".into()));
    }
    let frame = ((cfg.frame_ms / 1000.0 * sample_rate as f64).round() as usize).max(1);
    let hop = (frame / 2).max(1);
    let levels: Vec<f64> = (0..samples.len().div_ceil(hop))
        .map(|i| {
            let a = i * hop;
            let b = (a + frame).min(samples.len());
            let energy: f64 = samples[a..b].iter().map(|&s| (s as f64) * (s as f64)).sum();
            10.0 * (energy / (b - a) as f64).max(1e-20).log10()
        })
        .collect();
    let loudest = levels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if loudest < cfg.silence_dbfs {
        return Err(Error::Silent);
    }
    let threshold = loudest - cfg.top_db;
    let first = levels.iter().position(|&l| l >= threshold).unwrap_or(0);
    let last = levels.iter().rposition(|&l| l >= threshold).unwrap_or(0);
    let margin = (cfg.margin_ms / 1000.0 * sample_rate as f64).round() as usize;
    let start = (first * hop).saturating_sub(margin);
    let end = (last * hop + frame + margin).min(samples.len());
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_leading_and_trailing_silence() {
        let rate = 16_000;
        let mut x = vec![0.0005f32; rate]; // ~ -66 dBFS room tone, 1 s
        x.extend((0..rate).map(|i| 0.5 * (i as f32 * 0.1).sin())); // 1 s of "voice"
        x.extend(vec![0.0005f32; rate / 2]);
        let (a, b) = trim_silence(&x, rate as u32, &VadConfig::default()).unwrap();
        // Kept span: the voiced second plus at most margin and one frame on each side.
        assert!((rate - 2_000..=rate).contains(&a), "start {a}");
        assert!((2 * rate..=2 * rate + 2_400).contains(&b), "end {b}");
    }

    #[test]
    fn all_silent_is_an_error() {
        let x = vec![0.0f32; 16_000];
        assert!(matches!(
            trim_silence(&x, 16_000, &VadConfig::default()),
            Err(Error::Silent)
        ));
        let hum = vec![1e-5f32; 16_000]; // -100 dBFS
        assert!(matches!(
            trim_silence(&hum, 16_000, &VadConfig::default()),
            Err(Error::Silent)
        ));
    }

    #[test]
    fn loud_throughout_keeps_everything() {
        let x: Vec<f32> = (0..8_000).map(|i| (i as f32 * 0.05).sin()).collect();
        assert_eq!(
            trim_silence(&x, 16_000, &VadConfig::default()).unwrap(),
            (0, 8_000)
        );
    }
}
