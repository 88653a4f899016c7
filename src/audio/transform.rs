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

/// Moves the pitch harmonics and leaves the spectral envelope (the formants) where it is: a
/// source-filter split of each frame of the log-mel by its cepstrum. The first `n_ceps`
/// coefficients of a DCT-II across the bands are the smooth envelope; the rest, the fine
/// structure that the voice's harmonics draw, is warped like [`freq_warp`] (band `b` takes
/// the fine structure at `α·b`) and added back. Below 1 kHz, where the mel scale is linear
/// and harmonics are resolved, `α > 1` lowers the pitch by that factor (bands whose source
/// lies beyond the top take the top band's fine structure, as in [`freq_warp`]). Used to show a network
/// voices whose pitch moves without their vocal tract, as acted emotion does.
pub fn pitch_warp(mel: &mut LogMel, alpha: f32, n_ceps: usize) {
    if (alpha - 1.0).abs() < 1e-6 {
        return;
    }
    source_filter_warp(mel, |_| alpha, n_ceps, false);
}

/// [`pitch_warp`] with a factor per frame (`alphas[k]` for frame `k`; frames past the end of
/// `alphas` take its last value): the pitch then moves within the clip, as intonation does.
pub fn pitch_warp_contour(mel: &mut LogMel, alphas: &[f32], n_ceps: usize) {
    let Some(&last) = alphas.last() else {
        return;
    };
    source_filter_warp(
        mel,
        |k| alphas.get(k).copied().unwrap_or(last),
        n_ceps,
        false,
    );
}

/// Moves the formants and leaves the pitch harmonics where they are: the counterpart of
/// [`pitch_warp`] (the same cepstral split; here the smooth envelope, the first `n_ceps`
/// coefficients, is warped so band `b` takes the envelope at `β·b`, and the fine structure
/// stays). `β < 1` raises the formants, as a shorter vocal tract, a raised larynx or a wider
/// mouth opening in loud speech do.
pub fn formant_warp(mel: &mut LogMel, beta: f32, n_ceps: usize) {
    if (beta - 1.0).abs() < 1e-6 {
        return;
    }
    source_filter_warp(mel, |_| beta, n_ceps, true);
}

/// Splits each frame into envelope (first `n_ceps` cepstral coefficients) and fine structure
/// and warps one of them by the frame's factor (`warp_envelope`: the envelope, else the fine
/// structure).
fn source_filter_warp(
    mel: &mut LogMel,
    alpha_at: impl Fn(usize) -> f32,
    n_ceps: usize,
    warp_envelope: bool,
) {
    let (m, t) = (mel.n_mels, mel.n_frames);
    if m < 4 || t == 0 || n_ceps == 0 || n_ceps >= m {
        return;
    }
    // Orthonormal DCT-II basis, row k = coefficient k.
    let basis: Vec<f32> = (0..n_ceps)
        .flat_map(|k| {
            let scale = if k == 0 {
                (1.0 / m as f64).sqrt()
            } else {
                (2.0 / m as f64).sqrt()
            };
            (0..m).map(move |b| {
                (scale * (std::f64::consts::PI * k as f64 * (b as f64 + 0.5) / m as f64).cos())
                    as f32
            })
        })
        .collect();
    let mut frame = vec![0f32; m];
    let mut env = vec![0f32; m];
    let mut fine = vec![0f32; m];
    for k in 0..t {
        for (b, x) in frame.iter_mut().enumerate() {
            *x = mel.data[b * t + k];
        }
        env.iter_mut().for_each(|v| *v = 0.0);
        for row in basis.chunks(m) {
            let c: f32 = row.iter().zip(&frame).map(|(a, x)| a * x).sum();
            for (e, a) in env.iter_mut().zip(row) {
                *e += c * a;
            }
        }
        for ((f, x), e) in fine.iter_mut().zip(&frame).zip(&env) {
            *f = x - e;
        }
        let alpha = alpha_at(k);
        let (warped, kept) = if warp_envelope {
            (&env, &fine)
        } else {
            (&fine, &env)
        };
        for (b, keep) in kept.iter().enumerate() {
            let pos = (b as f32 * alpha).clamp(0.0, (m - 1) as f32);
            let i = pos.floor() as usize;
            let f = pos - i as f32;
            let i2 = (i + 1).min(m - 1);
            mel.data[b * t + k] = keep + warped[i] * (1.0 - f) + warped[i2] * f;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One frame of 64 bands: a smooth envelope (a broad bump) plus a comb of harmonics every
    /// `period` bands.
    fn voiced(period: f32) -> LogMel {
        let m = 64;
        let data = (0..m)
            .map(|b| {
                let env = -((b as f32 - 20.0) / 15.0).powi(2);
                let comb = (2.0 * std::f32::consts::PI * b as f32 / period).cos();
                env + comb
            })
            .collect();
        LogMel {
            data,
            n_mels: m,
            n_frames: 1,
        }
    }

    /// The smooth part of a frame: its first 13 cepstral coefficients, back in bands.
    fn envelope(mel: &LogMel) -> Vec<f32> {
        let m = mel.n_mels;
        let mut env = vec![0f32; m];
        for k in 0..13 {
            let scale = if k == 0 {
                (1.0 / m as f32).sqrt()
            } else {
                (2.0 / m as f32).sqrt()
            };
            let row: Vec<f32> = (0..m)
                .map(|b| {
                    scale * (std::f32::consts::PI * k as f32 * (b as f32 + 0.5) / m as f32).cos()
                })
                .collect();
            let c: f32 = row.iter().zip(&mel.data).map(|(a, x)| a * x).sum();
            env.iter_mut().zip(&row).for_each(|(e, a)| *e += c * a);
        }
        env
    }

    #[test]
    fn pitch_warp_moves_the_harmonics_and_keeps_the_envelope() {
        let original = voiced(6.0);
        let mut warped = original.clone();
        pitch_warp(&mut warped, 1.5, 13);
        // The envelope stays within a small error of the original's, below the bands whose
        // fine structure comes from beyond the top (b · 1.5 > 63, which repeat the top band's).
        let (e0, e1) = (envelope(&original), envelope(&warped));
        let worst = e0[..36]
            .iter()
            .zip(&e1[..36])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 0.25, "envelope moved by {worst}");
        // The harmonics now repeat every 6 / 1.5 = 4 bands: the fine structure correlates with
        // a period-4 comb far better than with the old period-6 one.
        let fine: Vec<f32> = warped.data.iter().zip(&e1).map(|(x, e)| x - e).collect();
        let corr = |period: f32| -> f32 {
            fine.iter()
                .enumerate()
                .skip(4)
                .take(40)
                .map(|(b, v)| v * (2.0 * std::f32::consts::PI * b as f32 / period).cos())
                .sum()
        };
        assert!(
            corr(4.0) > 3.0 * corr(6.0).abs(),
            "{} vs {}",
            corr(4.0),
            corr(6.0)
        );
        // alpha 1 and degenerate settings change nothing.
        let mut same = original.clone();
        pitch_warp(&mut same, 1.0, 13);
        assert_eq!(same, original);
        pitch_warp(&mut same, 1.5, 64);
        assert_eq!(same, original);
    }

    #[test]
    fn a_pitch_contour_warps_each_frame_by_its_own_factor() {
        // Two frames of the same voiced spectrum, band-major.
        let one = voiced(6.0);
        let m = one.n_mels;
        let two = LogMel {
            data: one.data.iter().flat_map(|&v| [v, v]).collect(),
            n_mels: m,
            n_frames: 2,
        };
        let mut warped = two.clone();
        pitch_warp_contour(&mut warped, &[1.0, 1.5], 13);
        let mut whole = one.clone();
        pitch_warp(&mut whole, 1.5, 13);
        for b in 0..m {
            assert!(
                (warped.data[b * 2] - one.data[b]).abs() < 1e-4,
                "frame 0, band {b}"
            );
            assert!(
                (warped.data[b * 2 + 1] - whole.data[b]).abs() < 1e-5,
                "frame 1, band {b}"
            );
        }
        // A contour shorter than the clip holds its last factor; an empty one does nothing.
        let mut held = two.clone();
        pitch_warp_contour(&mut held, &[1.5], 13);
        for b in 0..m {
            assert!((held.data[b * 2] - whole.data[b]).abs() < 1e-5);
            assert!((held.data[b * 2 + 1] - whole.data[b]).abs() < 1e-5);
        }
        let mut same = two.clone();
        pitch_warp_contour(&mut same, &[], 13);
        assert_eq!(same, two);
    }

    #[test]
    fn formant_warp_moves_the_envelope_and_keeps_the_harmonics() {
        let original = voiced(6.0);
        let mut warped = original.clone();
        formant_warp(&mut warped, 0.8, 13);
        let (e0, e1) = (envelope(&original), envelope(&warped));
        // The fine structure (the harmonics) is unchanged; the envelope is the old one read at
        // 0.8·b (checked where that stays inside the bands and away from the edges).
        for b in 0..original.n_mels {
            let fine0 = original.data[b] - e0[b];
            let fine1 = warped.data[b] - e1[b];
            assert!((fine0 - fine1).abs() < 0.3, "band {b}: {fine0} vs {fine1}");
        }
        for (b, got) in e1.iter().enumerate().take(50).skip(10) {
            let pos = b as f32 * 0.8;
            let (i, f) = (pos.floor() as usize, pos.fract());
            let expected = e0[i] * (1.0 - f) + e0[i + 1] * f;
            assert!(
                (got - expected).abs() < 0.3,
                "band {b}: {got} vs {expected}"
            );
        }
        let mut same = original.clone();
        formant_warp(&mut same, 1.0, 13);
        assert_eq!(same, original);
    }
}
