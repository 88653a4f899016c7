//! Waveform corruptions, for measuring robustness and for augmenting training data: noise
//! mixed in at a signal-to-noise ratio measured over the speech, and clipping.
//!
//! ```
//! use facevox::audio::corrupt::{add_at_snr, clip_peaks, mean_power};
//! let speech: Vec<f32> = (0..1600).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
//! let hiss: Vec<f32> = (0..1600).map(|i| if i % 2 == 0 { 0.01 } else { -0.01 }).collect();
//! let noisy = add_at_snr(&speech, (0, speech.len()), &hiss, 10.0);
//! let added: Vec<f32> = noisy.iter().zip(&speech).map(|(a, b)| a - b).collect();
//! let snr = 10.0 * (mean_power(&speech) / mean_power(&added)).log10();
//! assert!((snr - 10.0).abs() < 1e-3);
//! assert!(clip_peaks(&speech, 0.5).iter().all(|v| v.abs() <= 0.25 + 1e-6));
//! ```

/// Mean of the squared samples (0 for none).
pub fn mean_power(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len() as f64
}

/// `samples` with `noise` (looped to their length) added, scaled so that the speech span
/// `speech` (`start..end` in samples) lies `snr_db` above the noise in power. A silent span or
/// silent noise adds nothing.
pub fn add_at_snr(samples: &[f32], speech: (usize, usize), noise: &[f32], snr_db: f32) -> Vec<f32> {
    let (a, b) = (speech.0.min(samples.len()), speech.1.min(samples.len()));
    let p_speech = mean_power(&samples[a..b.max(a)]);
    let p_noise = mean_power(noise);
    if noise.is_empty() || p_noise <= 1e-12 || p_speech <= 0.0 || !snr_db.is_finite() {
        return samples.to_vec();
    }
    let gain = (p_speech / p_noise / 10f64.powf(snr_db as f64 / 10.0)).sqrt() as f32;
    samples
        .iter()
        .enumerate()
        .map(|(i, &s)| s + gain * noise[i % noise.len()])
        .collect()
}

/// `samples` clipped at `fraction` (0..=1) of their peak magnitude, as an overdriven input
/// stage does.
pub fn clip_peaks(samples: &[f32], fraction: f32) -> Vec<f32> {
    let peak = samples.iter().fold(0f32, |m, v| m.max(v.abs()));
    let t = peak * fraction.clamp(0.0, 1.0);
    samples.iter().map(|v| v.clamp(-t, t)).collect()
}

/// Babble: each of `voices` scaled to unit power, looped to `len` samples, and summed (an
/// empty voice adds nothing).
pub fn babble(voices: &[&[f32]], len: usize) -> Vec<f32> {
    let mut b = vec![0f32; len];
    for s in voices.iter().filter(|s| !s.is_empty()) {
        let g = (1.0 / mean_power(s).max(1e-12).sqrt()) as f32;
        for (k, v) in b.iter_mut().enumerate() {
            *v += g * s[k % s.len()];
        }
    }
    b
}

/// `n` samples of white Gaussian noise (unit variance), reproducible from `seed`.
pub fn white_noise(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = crate::rng::SeededRng::new(seed);
    (0..n).map(|_| rng.normal() as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_lands_at_the_asked_snr_over_the_speech_span() {
        // Speech only in the middle third: the SNR counts that span, not the silence.
        let mut x = vec![0f32; 3000];
        for (i, v) in x.iter_mut().enumerate().take(2000).skip(1000) {
            *v = (i as f32 * 0.1).sin();
        }
        let n = white_noise(3000, 7);
        for snr in [0.0f32, 10.0, 20.0] {
            let y = add_at_snr(&x, (1000, 2000), &n, snr);
            let added: Vec<f32> = y.iter().zip(&x).map(|(a, b)| a - b).collect();
            let got = 10.0 * (mean_power(&x[1000..2000]) / mean_power(&added)).log10();
            assert!((got - snr as f64).abs() < 1e-3, "{snr}: {got}");
        }
        // Nothing to scale against: unchanged.
        assert_eq!(add_at_snr(&x, (0, 500), &n, 10.0), x);
        assert_eq!(add_at_snr(&x, (1000, 2000), &[], 10.0), x);
        assert_eq!(add_at_snr(&x, (1000, 2000), &n, f32::NAN), x);
    }

    #[test]
    fn white_noise_is_reproducible_and_unit_variance() {
        let a = white_noise(20_000, 3);
        assert_eq!(a, white_noise(20_000, 3));
        assert_ne!(a, white_noise(20_000, 4));
        assert!((mean_power(&a) - 1.0).abs() < 0.05);
    }

    #[test]
    fn babble_sums_unit_power_voices_looped_to_length() {
        let a = [2.0f32, -2.0];
        let b = [0.5f32, 0.5, -0.5];
        let mix = babble(&[&a, &b, &[]], 4);
        assert_eq!(mix, vec![2.0, 0.0, 0.0, 0.0]);
        assert_eq!(babble(&[], 3), vec![0.0; 3]);
    }

    #[test]
    fn clipping_caps_at_a_fraction_of_the_peak() {
        let x = [0.1f32, -0.8, 0.4, 0.2];
        assert_eq!(clip_peaks(&x, 0.25), vec![0.1, -0.2, 0.2, 0.2]);
        assert_eq!(clip_peaks(&x, 1.0), x.to_vec());
        assert!(clip_peaks(&[], 0.5).is_empty());
    }
}
