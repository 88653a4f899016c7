//! Deterministic transforms of a log-mel: the voice model's input normalisation and the views
//! its test-time augmentation scores (tempo and mel-axis warp). Training augments with the same
//! transforms (random factors drawn there), so they live here, beside the features, where both
//! inference and training reach them.

use super::LogMel;

/// Resamples the time axis by `rate` (> 1 shortens the clip), linear interpolation; at least
/// one frame is kept.
pub fn time_stretch(mel: &LogMel, rate: f32) -> LogMel {
    let t = mel.n_frames;
    if t < 2 || rate <= 0.0 || (rate - 1.0).abs() < 1e-6 {
        return mel.clone();
    }
    let out_t = ((t as f32 / rate).round() as usize).max(1);
    let mut data = Vec::with_capacity(mel.n_mels * out_t);
    for b in 0..mel.n_mels {
        let band = mel.band(b);
        for j in 0..out_t {
            let pos = (j as f32 * rate).min((t - 1) as f32);
            let i = pos.floor() as usize;
            let f = pos - i as f32;
            let next = band[(i + 1).min(t - 1)];
            data.push(band[i] * (1.0 - f) + next * f);
        }
    }
    LogMel {
        data,
        n_mels: mel.n_mels,
        n_frames: out_t,
    }
}

/// Warps the mel axis in place: band `b` takes the (interpolated) value at `alpha·b`, clamped
/// to the top band.
pub fn freq_warp(mel: &mut LogMel, alpha: f32) {
    let (m, t) = (mel.n_mels, mel.n_frames);
    if m < 2 || (alpha - 1.0).abs() < 1e-6 {
        return;
    }
    let src = mel.data.clone();
    for b in 0..m {
        let pos = (b as f32 * alpha).clamp(0.0, (m - 1) as f32);
        let i = pos.floor() as usize;
        let f = pos - i as f32;
        let i2 = (i + 1).min(m - 1);
        for k in 0..t {
            mel.data[b * t + k] = src[i * t + k] * (1.0 - f) + src[i2 * t + k] * f;
        }
    }
}

/// Zero mean and unit variance per band over time (the same normalisation the
/// [`MelExtractor`](super::MelExtractor) applies when `MelConfig::normalize` is set).
pub fn normalize_bands(mel: &mut LogMel) {
    let t = mel.n_frames;
    if t == 0 {
        return;
    }
    for band in mel.data.chunks_mut(t) {
        let mean = band.iter().map(|&v| v as f64).sum::<f64>() / t as f64;
        let var = band.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / t as f64;
        let inv = 1.0 / var.sqrt().max(1e-5);
        band.iter_mut()
            .for_each(|v| *v = ((*v as f64 - mean) * inv) as f32);
    }
}
