//! Audio augmentation on log-mel spectrograms, seeded and deterministic.
//!
//! Applied per training example, in this order, to the *un-normalised* log-mel (natural log of
//! mel power, as stored by the feature cache): tempo change → random crop in time → mel-axis
//! warp → pitch warp (optionally with intonation) → formant warp → spectral tilt → reverberation → gain →
//! additive noise at a random SNR → band limit and codec holes → the model's input
//! normalisation → SpecAugment time and frequency masks ([`augment_example`]; each step only
//! when its config asks for it). Mixup ([`mixup`]) then blends pairs inside a batch.
//!
//! Working in the mel domain keeps augmentation nearly free (no re-decoding, no STFT). Additive
//! noise is added in the power domain: `ln(exp(x) + n)`, with `n` a noise floor whose level is
//! set by the SNR against the clip's mean power and which fluctuates per bin like a noise
//! spectrum does. Gain shifts the log power by `g·ln(10)/10`; with utterance normalisation on,
//! gain alone cancels out and matters only against the noise floor (an SNR drawn for the
//! unscaled clip), so the pair models quiet and loud recordings over a fixed background.

use serde::{Deserialize, Serialize};

pub use crate::audio::transform::{
    formant_warp, freq_warp, normalize_bands, pitch_warp, pitch_warp_contour, time_stretch,
};
use crate::audio::{LogMel, MelConfig};
use crate::model::InputNorm;
use crate::rng::SeededRng;

/// Which augmentations run, and how strongly. Every field is optional in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AudioAugmentConfig {
    /// Random crop of this many frames (clips that are shorter are kept whole; the batch is
    /// then cut to its shortest member). `None`: whole clips.
    pub crop_frames: Option<usize>,
    /// Gain range in dB (uniform), `None` for none.
    pub gain_db: Option<(f32, f32)>,
    /// Probability of adding noise to an example.
    pub noise_probability: f32,
    /// SNR range in dB (uniform) for the added noise.
    pub noise_snr_db: (f32, f32),
    /// Spectra the added noise takes, one drawn uniformly per noisy example (no random number
    /// is drawn when there is one). Default: pink-ish room noise only.
    pub noise_colours: Vec<NoiseColour>,
    /// Number of SpecAugment time masks.
    pub time_masks: usize,
    /// Longest time mask, in frames.
    pub time_mask_max: usize,
    /// Number of SpecAugment frequency masks.
    pub freq_masks: usize,
    /// Widest frequency mask, in mel bands.
    pub freq_mask_max: usize,
    /// Mixup `Beta(α, α)` parameter; `None` turns mixup off.
    pub mixup_alpha: Option<f32>,
    /// Share of batches that are mixed.
    pub mixup_probability: f32,
    /// Tempo change: the time axis is resampled by a factor drawn uniformly from this range
    /// (1.2 = 20% faster, fewer frames) before cropping. `None`: off.
    pub time_stretch: Option<(f32, f32)>,
    /// Vocal-tract-length perturbation on the mel axis: band `b` takes the value at `α·b`
    /// (linear interpolation), `α` uniform in this range; it moves formants and pitch
    /// harmonics up or down as a shorter or longer vocal tract would. `None`: off.
    pub freq_warp: Option<(f32, f32)>,
    /// Largest warp `|α − 1|` at which an example still trains the gender head; a more
    /// strongly warped example keeps its emotion label but its gender label is masked out.
    /// Vocal-tract-length perturbation moves the very cues (formant spacing, pitch) that
    /// perceived gender rests on, so a female voice warped down by 10% is no longer a clean
    /// example of a female voice. `None`: every example keeps its gender label.
    pub gender_warp_max: Option<f32>,
    /// Recording-channel augmentation (room, band limit, codec). `None`: off.
    pub channel: Option<ChannelAugmentConfig>,
    /// Pitch moved without the formants ([`pitch_warp`], `pitch_warp_ceps` cepstral
    /// coefficients of envelope): factor drawn uniformly from this range on a `pitch_warp_probability` share
    /// of the examples, which keep both labels. `None`: off (no random number drawn).
    pub pitch_warp: Option<(f32, f32)>,
    /// Share of examples whose pitch is warped (with `pitch_warp`).
    pub pitch_warp_probability: f32,
    /// Cepstral coefficients kept as the envelope by `pitch_warp` (the rest is warped).
    pub pitch_warp_ceps: usize,
    /// Intonation on the pitch-warped examples: the factor moves from frame to frame by
    /// `2^(d·z)`, `z` a smooth random walk of unit variance (correlation about a third of a
    /// second) and `d` this depth in octaves, as acted speech swings its pitch within a
    /// sentence ([`pitch_warp_contour`]). `None`: one factor per clip (no random number drawn).
    pub pitch_contour_octaves: Option<f32>,
    /// Formants moved without the pitch ([`formant_warp`], the same cepstral split as
    /// `pitch_warp`): factor drawn uniformly from this range on a `formant_warp_probability`
    /// share of the examples, which keep both labels. Keep it narrow (a few percent): men's
    /// and women's formants differ by 15–20%. `None`: off (no random number drawn).
    pub formant_warp: Option<(f32, f32)>,
    /// Share of examples whose formants are warped (with `formant_warp`).
    pub formant_warp_probability: f32,
    /// Spectral tilt in dB per octave around 1 kHz ([`spectral_tilt`]), drawn uniformly from
    /// this range on a `tilt_probability` share of the examples, which keep both labels. It
    /// stands in for vocal effort: a tense, loud voice has a flatter source spectrum (more
    /// power in the upper harmonics), a soft or breathy one a steeper fall. `None`: off (no
    /// random number drawn).
    pub tilt_db_per_octave: Option<(f32, f32)>,
    /// Share of examples whose spectrum is tilted (with `tilt_db_per_octave`).
    pub tilt_probability: f32,
}

/// The spectrum of added noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseColour {
    /// Room noise: 6 dB more power in the lowest mel band than in the highest, steady in time.
    Pink,
    /// White noise (hiss, a cheap microphone's preamp): flat over the (area-normalised) mel
    /// bands, steady in time.
    White,
    /// Babble: the clip's own long-term spectrum (speech-shaped), its level swinging from frame
    /// to frame as a few overlapping talkers' does.
    Babble,
}

/// Recording-channel augmentation: the room, the microphone's or line's band, and a lossy
/// codec, so a voice model learns the speaker rather than the studio. Applied to the log-mel
/// in the power domain: reverberation before the noise (the room is heard through the
/// microphone), the band limit and the codec's holes after it (the line and the codec come
/// last). Clipping is not modelled (it happens in the waveform, before the mel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelAugmentConfig {
    /// Probability of reverberation: an exponential decay per band (a synthetic room impulse
    /// response's envelope), added in the power domain.
    pub reverb_probability: f32,
    /// Reverberation time (60 dB decay) range in seconds, uniform.
    pub rt60_s: (f32, f32),
    /// Direct-to-reverberant energy ratio range in dB, uniform.
    pub drr_db: (f32, f32),
    /// Probability of a band limit, one of `band_limits` drawn uniformly.
    pub band_limit_probability: f32,
    /// Pass bands in Hz: outside, the power falls by 48 dB per octave (at most 60 dB) to the
    /// clip's floor. The defaults: telephone (300–3400 Hz), resampling through 8 kHz
    /// (0–3800 Hz), a low-bit-rate codec (0–5500 Hz).
    pub band_limits: Vec<(f32, f32)>,
    /// Probability of codec-like spectral holes: the top bands dropped in some stretches of
    /// time, and one to three narrow bands attenuated 10–30 dB for part of the clip.
    pub holes_probability: f32,
}

impl Default for ChannelAugmentConfig {
    fn default() -> Self {
        Self {
            reverb_probability: 0.3,
            rt60_s: (0.2, 0.8),
            drr_db: (0.0, 12.0),
            band_limit_probability: 0.4,
            band_limits: vec![(300.0, 3400.0), (0.0, 3800.0), (0.0, 5500.0)],
            holes_probability: 0.3,
        }
    }
}

impl ChannelAugmentConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> crate::Result<()> {
        let p_ok = |p: f32| (0.0..=1.0).contains(&p);
        let ok = p_ok(self.reverb_probability)
            && p_ok(self.band_limit_probability)
            && p_ok(self.holes_probability)
            && self.rt60_s.0 > 0.0
            && self.rt60_s.0 <= self.rt60_s.1
            && self.drr_db.0 <= self.drr_db.1
            && (self.band_limit_probability == 0.0 || !self.band_limits.is_empty())
            && self
                .band_limits
                .iter()
                .all(|&(lo, hi)| lo >= 0.0 && lo < hi && hi.is_finite());
        if ok {
            Ok(())
        } else {
            Err(crate::Error::InvalidConfig(format!(
                "inconsistent channel augmentation: {self:?}"
            )))
        }
    }
}

/// Adds reverberation in place: each band's power plus an exponentially decaying tail
/// (`rt60_s` seconds to fall 60 dB) whose energy is `drr_db` below the direct sound's.
/// `hop_s` is the time between frames.
pub fn reverberate(mel: &mut LogMel, rt60_s: f32, drr_db: f32, hop_s: f32) {
    if mel.n_frames == 0 || rt60_s <= 0.0 {
        return;
    }
    let d = (-(1000f64.ln()) * hop_s as f64 / rt60_s as f64).exp();
    if d <= 0.0 || d >= 1.0 {
        return;
    }
    // The tail's total energy, sum over k >= 1 of wet * d^k, is 10^(-drr/10) of the direct.
    let wet = 10f64.powf(-drr_db as f64 / 10.0) * (1.0 - d) / d;
    let t = mel.n_frames;
    for band in mel.data.chunks_mut(t) {
        let mut tail = 0f64;
        for v in band.iter_mut() {
            let p = (*v as f64).exp();
            *v = (p + wet * tail).ln() as f32;
            tail = d * (tail + p);
        }
    }
}

/// With probability `p`, a value drawn uniformly from `range`; `None` when the range is
/// absent (no random number drawn) or the draw says no.
fn sometimes(range: Option<(f32, f32)>, p: f32, rng: &mut SeededRng) -> Option<f32> {
    let (lo, hi) = range?;
    if rng.chance(p as f64) {
        Some(rng.range_f64(lo as f64, hi.max(lo) as f64 + 1e-9) as f32)
    } else {
        None
    }
}

/// A per-frame pitch factor around `alpha`: `alpha · 2^(depth·z_k)`, `z` an AR(1) walk with
/// coefficient 0.97 and unit stationary variance, started from its stationary law.
pub fn intonation(alpha: f32, depth: f32, frames: usize, rng: &mut SeededRng) -> Vec<f32> {
    const RHO: f64 = 0.97;
    let innovation = (1.0 - RHO * RHO).sqrt();
    let mut z = rng.normal();
    (0..frames)
        .map(|k| {
            if k > 0 {
                z = RHO * z + innovation * rng.normal();
            }
            alpha * 2f64.powf(depth as f64 * z) as f32
        })
        .collect()
}

/// Tilts the spectrum in place: each band's power changes by `db_per_octave` times the
/// number of octaves its centre (`centres_hz`) lies above 1 kHz (below 1 kHz, the other way),
/// as a change of vocal effort tilts the voice source's spectrum.
pub fn spectral_tilt(mel: &mut LogMel, centres_hz: &[f32], db_per_octave: f32) {
    let t = mel.n_frames;
    if t == 0 || centres_hz.len() != mel.n_mels || db_per_octave == 0.0 {
        return;
    }
    let per_octave = db_per_octave * std::f32::consts::LN_10 / 10.0;
    for (band, &f) in mel.data.chunks_mut(t).zip(centres_hz) {
        let shift = per_octave * (f.max(1.0) / 1000.0).log2();
        band.iter_mut().for_each(|v| *v += shift);
    }
}

/// The clip's noise floor in the power domain: its quietest value.
fn power_floor(mel: &LogMel) -> f64 {
    (mel.data.iter().fold(f32::INFINITY, |a, &b| a.min(b)) as f64).exp()
}

/// Limits the clip to `lo..hi` Hz in place: a band whose centre (`centres_hz`) lies outside
/// loses 48 dB per octave (at most 60 dB), down to the clip's own floor.
pub fn band_limit(mel: &mut LogMel, centres_hz: &[f32], lo: f32, hi: f32) {
    let t = mel.n_frames;
    if t == 0 || centres_hz.len() != mel.n_mels {
        return;
    }
    let floor = power_floor(mel);
    for (band, &f) in mel.data.chunks_mut(t).zip(centres_hz) {
        let octaves = if f < lo {
            (lo / f.max(1.0)).log2()
        } else if f > hi {
            (f / hi).log2()
        } else {
            0.0
        };
        if octaves <= 0.0 {
            continue;
        }
        let g = 10f64.powf(-(48.0 * octaves as f64).min(60.0) / 10.0);
        for v in band.iter_mut() {
            *v = ((*v as f64).exp() * g + floor).ln() as f32;
        }
    }
}

/// Codec-like spectral holes in place: above a cutoff band drawn in the top 40% of the bands,
/// stretches of 5–20 frames fall to the floor (half of them), and one to three narrow bands
/// (1–3 wide) lose 10–30 dB over part of the clip.
pub fn spectral_holes(mel: &mut LogMel, rng: &mut SeededRng) {
    let (m, t) = (mel.n_mels, mel.n_frames);
    if m < 4 || t == 0 {
        return;
    }
    let floor = power_floor(mel);
    let atten = |v: &mut f32, g: f64| *v = ((*v as f64).exp() * g + floor).ln() as f32;
    let cutoff = m - 1 - rng.below((0.4 * m as f64) as usize + 1).min(m - 1);
    let mut start = 0;
    while start < t {
        let len = 5 + rng.below(16);
        if rng.chance(0.5) {
            for b in cutoff..m {
                for k in start..(start + len).min(t) {
                    atten(&mut mel.data[b * t + k], 1e-6);
                }
            }
        }
        start += len;
    }
    for _ in 0..1 + rng.below(3) {
        let width = 1 + rng.below(3);
        let b0 = rng.below(m - width + 1);
        let span = ((t as f64) * rng.range_f64(0.1, 1.0)).ceil() as usize;
        let k0 = rng.below(t - span.min(t) + 1);
        let g = 10f64.powf(-rng.range_f64(10.0, 30.0) / 10.0);
        for b in b0..b0 + width {
            for k in k0..(k0 + span).min(t) {
                atten(&mut mel.data[b * t + k], g);
            }
        }
    }
}

impl Default for AudioAugmentConfig {
    fn default() -> Self {
        Self {
            crop_frames: Some(200),
            gain_db: Some((-6.0, 6.0)),
            noise_probability: 0.5,
            noise_snr_db: (10.0, 40.0),
            noise_colours: vec![NoiseColour::Pink],
            time_masks: 2,
            time_mask_max: 20,
            freq_masks: 2,
            freq_mask_max: 8,
            mixup_alpha: Some(0.2),
            mixup_probability: 0.5,
            time_stretch: None,
            freq_warp: None,
            gender_warp_max: None,
            channel: None,
            pitch_warp: None,
            pitch_warp_probability: 0.5,
            pitch_warp_ceps: 13,
            pitch_contour_octaves: None,
            formant_warp: None,
            formant_warp_probability: 0.5,
            tilt_db_per_octave: None,
            tilt_probability: 0.5,
        }
    }
}

impl AudioAugmentConfig {
    /// Checks the source-filter and tilt settings: probabilities in `0..=1`, warp factors
    /// positive and ordered, tilt slopes finite and ordered, and intonation only on top of a
    /// pitch warp.
    pub fn validate(&self) -> crate::Result<()> {
        let p_ok = |p: f32| (0.0..=1.0).contains(&p);
        let factors_ok =
            |r: Option<(f32, f32)>| r.is_none_or(|(lo, hi)| lo > 0.0 && lo <= hi && hi.is_finite());
        let mut wrong = Vec::new();
        for (name, p) in [
            ("pitch_warp_probability", self.pitch_warp_probability),
            ("formant_warp_probability", self.formant_warp_probability),
            ("tilt_probability", self.tilt_probability),
        ] {
            if !p_ok(p) {
                wrong.push(format!("{name} {p} is not a probability"));
            }
        }
        if !factors_ok(self.pitch_warp) {
            wrong.push(format!(
                "pitch_warp {:?}: need 0 < low <= high",
                self.pitch_warp
            ));
        }
        if !factors_ok(self.formant_warp) {
            wrong.push(format!(
                "formant_warp {:?}: need 0 < low <= high",
                self.formant_warp
            ));
        }
        if let Some((lo, hi)) = self.tilt_db_per_octave {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                wrong.push(format!(
                    "tilt_db_per_octave ({lo}, {hi}): need low <= high, finite"
                ));
            }
        }
        if let Some(d) = self.pitch_contour_octaves {
            if !(d.is_finite() && d >= 0.0) {
                wrong.push(format!("pitch_contour_octaves {d}: need a depth >= 0"));
            } else if self.pitch_warp.is_none() {
                wrong.push("pitch_contour_octaves needs pitch_warp (it moves the warp)".into());
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::InvalidConfig(format!(
                "augmentation: {}",
                wrong.join("; ")
            )))
        }
    }

    /// Whether an example warped by `alpha` keeps its gender label
    /// (see [`gender_warp_max`](Self::gender_warp_max)).
    pub fn keeps_gender(&self, alpha: f32) -> bool {
        self.gender_warp_max
            .is_none_or(|max| (alpha - 1.0).abs() <= max + 1e-6)
    }

    /// Everything off (what evaluation uses).
    pub fn none() -> Self {
        Self {
            crop_frames: None,
            gain_db: None,
            noise_probability: 0.0,
            noise_snr_db: (20.0, 20.0),
            noise_colours: vec![NoiseColour::Pink],
            time_masks: 0,
            time_mask_max: 0,
            freq_masks: 0,
            freq_mask_max: 0,
            mixup_alpha: None,
            mixup_probability: 0.0,
            time_stretch: None,
            freq_warp: None,
            gender_warp_max: None,
            channel: None,
            pitch_warp: None,
            pitch_warp_probability: 0.5,
            pitch_warp_ceps: 13,
            pitch_contour_octaves: None,
            formant_warp: None,
            formant_warp_probability: 0.5,
            tilt_db_per_octave: None,
            tilt_probability: 0.5,
        }
    }
}

/// A random window of `frames` frames (the whole clip if it is not longer).
pub fn random_crop(mel: &LogMel, frames: usize, rng: &mut SeededRng) -> LogMel {
    if mel.n_frames <= frames || frames == 0 {
        return mel.clone();
    }
    let start = rng.below(mel.n_frames - frames + 1);
    crop(mel, start, frames)
}

/// Frames `start .. start + frames` of every band.
pub fn crop(mel: &LogMel, start: usize, frames: usize) -> LogMel {
    let mut data = Vec::with_capacity(mel.n_mels * frames);
    for b in 0..mel.n_mels {
        data.extend_from_slice(&mel.band(b)[start..start + frames]);
    }
    LogMel {
        data,
        n_mels: mel.n_mels,
        n_frames: frames,
    }
}

/// Scales the power by `db` decibels.
pub fn apply_gain(mel: &mut LogMel, db: f32) {
    let shift = db * std::f32::consts::LN_10 / 10.0;
    mel.data.iter_mut().for_each(|v| *v += shift);
}

/// Adds noise at `snr_db` below the clip's mean mel power (in the power domain), with the
/// per-bin fluctuation of a noise spectrum averaged over a few FFT bins.
pub fn add_noise(mel: &mut LogMel, snr_db: f32, rng: &mut SeededRng) {
    add_coloured_noise(mel, snr_db, NoiseColour::Pink, rng);
}

/// [`add_noise`] with the noise spectrum `colour`, its level set by `snr_db` against the
/// clip's mean power (white and babble exactly; pink's tilt puts it about 1 dB above).
pub fn add_coloured_noise(mel: &mut LogMel, snr_db: f32, colour: NoiseColour, rng: &mut SeededRng) {
    let (m, t) = (mel.n_mels, mel.n_frames);
    if m == 0 || t == 0 {
        return;
    }
    let n = mel.data.len() as f64;
    let mean_power = mel.data.iter().map(|&v| (v as f64).exp()).sum::<f64>() / n;
    let level = mean_power / 10f64.powf(snr_db as f64 / 10.0);
    let bands = m as f64;
    // Per-band shape (mean 1 over the bands for white and babble, 1.25 for pink).
    let shape: Vec<f64> = match colour {
        // A slightly tilted (pink-ish) noise: more energy in low bands, as room noise has.
        NoiseColour::Pink => (0..m).map(|b| 2.0 - 1.5 * b as f64 / bands).collect(),
        NoiseColour::White => vec![1.0; m],
        NoiseColour::Babble => {
            let band_power: Vec<f64> = mel
                .data
                .chunks(t)
                .map(|band| band.iter().map(|&v| (v as f64).exp()).sum::<f64>() / t as f64)
                .collect();
            let mean = band_power.iter().sum::<f64>() / bands;
            if mean > 0.0 && mean.is_finite() {
                band_power.iter().map(|p| p / mean).collect()
            } else {
                vec![1.0; m]
            }
        }
    };
    // Babble's level moves slowly from frame to frame (a smoothed log-normal envelope, mean 1).
    let envelope: Vec<f64> = if colour == NoiseColour::Babble {
        let mut state = 0.0f64;
        let raw: Vec<f64> = (0..t)
            .map(|_| {
                state = 0.8 * state + 0.6 * rng.normal();
                state.exp()
            })
            .collect();
        let mean = raw.iter().sum::<f64>() / t as f64;
        raw.iter().map(|e| e / mean).collect()
    } else {
        vec![1.0; t]
    };
    for (b, band) in mel.data.chunks_mut(t).enumerate() {
        for (v, env) in band.iter_mut().zip(&envelope) {
            let fluct = (1.0 + 0.35 * rng.normal()).max(0.05);
            *v = ((*v as f64).exp() + level * shape[b] * env * fluct).ln() as f32;
        }
    }
}

/// SpecAugment (Park et al. 2019): `time_masks` spans of up to `time_max` frames and
/// `freq_masks` spans of up to `freq_max` bands set to 0 (the band mean after normalisation).
pub fn spec_augment(
    mel: &mut LogMel,
    time_masks: usize,
    time_max: usize,
    freq_masks: usize,
    freq_max: usize,
    rng: &mut SeededRng,
) {
    let (m, t) = (mel.n_mels, mel.n_frames);
    for _ in 0..time_masks {
        let width = rng.below(time_max.min(t / 4) + 1);
        if width == 0 {
            continue;
        }
        let start = rng.below(t - width + 1);
        for b in 0..m {
            mel.data[b * t + start..b * t + start + width].fill(0.0);
        }
    }
    for _ in 0..freq_masks {
        let width = rng.below(freq_max.min(m / 4) + 1);
        if width == 0 {
            continue;
        }
        let start = rng.below(m - width + 1);
        mel.data[start * t..(start + width) * t].fill(0.0);
    }
}

/// The whole per-example chain for training: tempo, crop, mel warp, gain, noise, the
/// model's input normalisation, masks.
pub fn augment_example(
    mel: &LogMel,
    cfg: &AudioAugmentConfig,
    norm: InputNorm,
    features: &MelConfig,
    rng: &mut SeededRng,
) -> LogMel {
    augment_example_warped(mel, cfg, norm, features, rng).0
}

/// [`augment_example`], also returning the mel-warp factor `α` it drew (1 when the warp is
/// off), so the caller can apply [`AudioAugmentConfig::gender_warp_max`]. Draws exactly the
/// same random numbers as [`augment_example`].
pub fn augment_example_warped(
    mel: &LogMel,
    cfg: &AudioAugmentConfig,
    norm: InputNorm,
    features: &MelConfig,
    rng: &mut SeededRng,
) -> (LogMel, f32) {
    let stretched;
    let mel = match cfg.time_stretch {
        Some((lo, hi)) => {
            let rate = rng.range_f64(lo as f64, hi.max(lo) as f64 + 1e-9) as f32;
            stretched = time_stretch(mel, rate);
            &stretched
        }
        None => mel,
    };
    let mut out = match cfg.crop_frames {
        Some(f) => random_crop(mel, f, rng),
        None => mel.clone(),
    };
    let mut warp = 1.0;
    if let Some((lo, hi)) = cfg.freq_warp {
        let alpha = rng.range_f64(lo as f64, hi.max(lo) as f64 + 1e-9) as f32;
        freq_warp(&mut out, alpha);
        warp = alpha;
    }
    if let Some(alpha) = sometimes(cfg.pitch_warp, cfg.pitch_warp_probability, rng) {
        match cfg.pitch_contour_octaves {
            Some(depth) => {
                let contour = intonation(alpha, depth, out.n_frames, rng);
                pitch_warp_contour(&mut out, &contour, cfg.pitch_warp_ceps);
            }
            None => pitch_warp(&mut out, alpha, cfg.pitch_warp_ceps),
        }
    }
    if let Some(beta) = sometimes(cfg.formant_warp, cfg.formant_warp_probability, rng) {
        formant_warp(&mut out, beta, cfg.pitch_warp_ceps);
    }
    if let Some(slope) = sometimes(cfg.tilt_db_per_octave, cfg.tilt_probability, rng) {
        spectral_tilt(&mut out, &features.band_centres_hz(), slope);
    }
    let channel = cfg.channel.as_ref();
    // A probability of 0 draws no random number, so such a config repeats a run without it.
    let happens = |p: f32, rng: &mut SeededRng| p > 0.0 && rng.chance(p as f64);
    if let Some(c) = channel.filter(|c| happens(c.reverb_probability, rng)) {
        let rt60 = rng.range_f64(c.rt60_s.0 as f64, c.rt60_s.1 as f64 + 1e-9) as f32;
        let drr = rng.range_f64(c.drr_db.0 as f64, c.drr_db.1 as f64 + 1e-9) as f32;
        reverberate(&mut out, rt60, drr, features.hop_seconds());
    }
    let gain = cfg
        .gain_db
        .map(|(lo, hi)| rng.range_f64(lo as f64, hi as f64) as f32)
        .unwrap_or(0.0);
    if cfg.noise_probability > 0.0 && rng.chance(cfg.noise_probability as f64) {
        let (lo, hi) = cfg.noise_snr_db;
        // The SNR is drawn for the unscaled clip, so gain moves the voice against the noise.
        let snr = rng.range_f64(lo as f64, hi.max(lo) as f64 + 1e-9) as f32;
        let colour = match cfg.noise_colours.len() {
            0 => NoiseColour::Pink,
            1 => cfg.noise_colours[0],
            k => cfg.noise_colours[rng.below(k)],
        };
        apply_gain(&mut out, gain);
        add_coloured_noise(&mut out, snr + gain, colour, rng);
    } else {
        apply_gain(&mut out, gain);
    }
    if let Some(c) = channel {
        if happens(c.band_limit_probability, rng) {
            let (lo, hi) = c.band_limits[rng.below(c.band_limits.len())];
            band_limit(&mut out, &features.band_centres_hz(), lo, hi);
        }
        if happens(c.holes_probability, rng) {
            spectral_holes(&mut out, rng);
        }
    }
    norm.apply(&mut out);
    spec_augment(
        &mut out,
        cfg.time_masks,
        cfg.time_mask_max,
        cfg.freq_masks,
        cfg.freq_mask_max,
        rng,
    );
    (out, warp)
}

/// Mixup (Zhang et al. 2018) in place over a batch: each example `i` becomes
/// `λ·xᵢ + (1−λ)·x_π(i)` for one `λ ~ Beta(α, α)` (folded to ≥ ½ so the original dominates)
/// and a random pairing `π`. `inputs` is `(B, D)` row-major; each task is `(targets (B, C),
/// weights (B))`, where a weight of 0 means "no label". Targets blend by weighted share and the
/// weights blend linearly, so a pair where only one example is labelled still trains towards
/// that label, at reduced weight. Returns `λ`.
pub fn mixup(
    inputs: &mut [f32],
    tasks: &mut [(&mut [f32], &mut [f32])],
    batch: usize,
    alpha: f32,
    rng: &mut SeededRng,
) -> f32 {
    if batch < 2 {
        return 1.0;
    }
    let lambda = rng.beta_symmetric(alpha as f64) as f32;
    let lambda = lambda.max(1.0 - lambda);
    let mut perm: Vec<usize> = (0..batch).collect();
    rng.shuffle(&mut perm);
    let d = inputs.len() / batch;
    let orig = inputs.to_vec();
    for i in 0..batch {
        let j = perm[i];
        for k in 0..d {
            inputs[i * d + k] = lambda * orig[i * d + k] + (1.0 - lambda) * orig[j * d + k];
        }
    }
    for (targets, weights) in tasks.iter_mut() {
        let c = targets.len() / batch;
        let t0 = targets.to_vec();
        let w0 = weights.to_vec();
        for i in 0..batch {
            let j = perm[i];
            let (a, b) = (lambda * w0[i], (1.0 - lambda) * w0[j]);
            let w = a + b;
            weights[i] = w;
            if w > 0.0 {
                for k in 0..c {
                    targets[i * c + k] = (a * t0[i * c + k] + b * t0[j * c + k]) / w;
                }
            }
        }
    }
    lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole training chain on `mel` with utterance normalisation and the default mel
    /// settings, seeded.
    fn augmented(mel: &LogMel, cfg: &AudioAugmentConfig, seed: u64) -> LogMel {
        let features = MelConfig::default();
        augment_example(
            mel,
            cfg,
            InputNorm::Utterance,
            &features,
            &mut SeededRng::new(seed),
        )
    }

    fn ramp(m: usize, t: usize) -> LogMel {
        LogMel {
            data: (0..m * t).map(|i| (i % t) as f32 * 0.1 - 5.0).collect(),
            n_mels: m,
            n_frames: t,
        }
    }

    #[test]
    fn spectral_tilt_turns_the_spectrum_about_one_kilohertz() {
        let mut m = ramp(4, 3);
        let before = m.clone();
        let centres = [250.0, 1000.0, 2000.0, 8000.0];
        spectral_tilt(&mut m, &centres, 6.0);
        let db = |b: usize, k: usize| {
            (m.band(b)[k] - before.band(b)[k]) * 10.0 / std::f32::consts::LN_10
        };
        // Two octaves below 1 kHz: -12 dB; at 1 kHz nothing; one octave up +6, three up +18.
        for k in 0..3 {
            assert!((db(0, k) + 12.0).abs() < 1e-3);
            assert!(db(1, k).abs() < 1e-6);
            assert!((db(2, k) - 6.0).abs() < 1e-3);
            assert!((db(3, k) - 18.0).abs() < 1e-3);
        }
        // Mismatched band centres or no slope leave the clip alone.
        let mut same = before.clone();
        spectral_tilt(&mut same, &centres[..3], 6.0);
        spectral_tilt(&mut same, &centres, 0.0);
        assert_eq!(same, before);
    }

    #[test]
    fn intonation_swings_about_the_clip_factor() {
        let c = intonation(1.2, 0.25, 4000, &mut SeededRng::new(3));
        assert_eq!(c.len(), 4000);
        let logs: Vec<f64> = c.iter().map(|&a| ((a / 1.2) as f64).log2()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
        assert!(
            mean.abs() < 0.1 && (0.15..0.35).contains(&sd),
            "mean {mean}, sd {sd}"
        );
        // Smooth: neighbouring frames differ far less than the swing.
        let step = logs.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / 3999.0;
        assert!(step < 0.1 * sd * 4.0, "step {step}");
        assert!(intonation(1.0, 0.3, 0, &mut SeededRng::new(3)).is_empty());
    }

    #[test]
    fn augmentation_settings_are_checked() {
        assert!(AudioAugmentConfig::default().validate().is_ok());
        let good = AudioAugmentConfig {
            pitch_warp: Some((0.5, 2.0)),
            pitch_contour_octaves: Some(0.2),
            formant_warp: Some((0.92, 1.08)),
            tilt_db_per_octave: Some((-6.0, 6.0)),
            tilt_probability: 0.7,
            ..AudioAugmentConfig::default()
        };
        assert!(good.validate().is_ok());
        let bad = [
            AudioAugmentConfig {
                tilt_probability: 1.5,
                ..good.clone()
            },
            AudioAugmentConfig {
                formant_warp: Some((0.0, 1.1)),
                ..good.clone()
            },
            AudioAugmentConfig {
                pitch_warp: Some((2.0, 0.5)),
                ..good.clone()
            },
            AudioAugmentConfig {
                tilt_db_per_octave: Some((f32::NAN, 6.0)),
                ..good.clone()
            },
            AudioAugmentConfig {
                pitch_contour_octaves: Some(-0.1),
                ..good.clone()
            },
            AudioAugmentConfig {
                pitch_warp: None,
                ..good.clone()
            },
        ];
        for cfg in bad {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains("augmentation"), "{err}");
        }
    }

    #[test]
    fn tilt_in_the_chain_changes_the_example() {
        let mel = ramp(64, 300);
        let run = |cfg: &AudioAugmentConfig| augmented(&mel, cfg, 7);
        let cfg = AudioAugmentConfig::default();
        let tilted = AudioAugmentConfig {
            tilt_db_per_octave: Some((-6.0, 6.0)),
            tilt_probability: 1.0,
            ..cfg.clone()
        };
        let (plain, b) = (run(&cfg), run(&tilted));
        assert_ne!(plain, b);
        assert!(b.data.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn time_stretch_and_freq_warp_interpolate_linearly() {
        // Frame k of every band holds 0.1·k − 5: a stretch by 2 keeps every other frame.
        let m = ramp(3, 10);
        let fast = time_stretch(&m, 2.0);
        assert_eq!(fast.n_frames, 5);
        for (j, v) in fast.band(1).iter().enumerate() {
            assert!((v - (0.2 * j as f32 - 5.0)).abs() < 1e-6);
        }
        // Slower by 1/0.5: 20 frames, halfway values between the originals.
        let slow = time_stretch(&m, 0.5);
        assert_eq!(slow.n_frames, 20);
        assert!((slow.band(0)[3] - (0.15 - 5.0)).abs() < 1e-6);
        assert_eq!(time_stretch(&m, 1.0), m);
        // Bands valued 0, 1, 2, 3 (constant over time): α = 0.5 reads bands 0, .5, 1, 1.5.
        let mut bands = LogMel {
            data: (0..4)
                .flat_map(|b| std::iter::repeat_n(b as f32, 3))
                .collect(),
            n_mels: 4,
            n_frames: 3,
        };
        freq_warp(&mut bands, 0.5);
        assert_eq!(bands.band(2), &[1.0, 1.0, 1.0]);
        assert_eq!(bands.band(3), &[1.5, 1.5, 1.5]);
        // α > 1 clamps at the top band.
        let mut up = LogMel {
            data: (0..4)
                .flat_map(|b| std::iter::repeat_n(b as f32, 2))
                .collect(),
            n_mels: 4,
            n_frames: 2,
        };
        freq_warp(&mut up, 1.5);
        assert_eq!(up.band(1), &[1.5, 1.5]);
        assert_eq!(up.band(3), &[3.0, 3.0]);
    }

    #[test]
    fn crop_is_a_seeded_window() {
        let mel = ramp(4, 50);
        let a = random_crop(&mel, 20, &mut SeededRng::new(3));
        let b = random_crop(&mel, 20, &mut SeededRng::new(3));
        assert_eq!(a, b);
        assert_eq!((a.n_mels, a.n_frames), (4, 20));
        let start = ((a.get(0, 0) + 5.0) / 0.1).round() as usize;
        for band in 0..4 {
            for f in 0..20 {
                assert_eq!(a.get(band, f), mel.get(band, start + f));
            }
        }
        assert_eq!(random_crop(&mel, 80, &mut SeededRng::new(1)), mel);
    }

    #[test]
    fn gain_shifts_log_power_and_noise_raises_quiet_bins_only() {
        let mut mel = ramp(2, 10);
        let before = mel.clone();
        apply_gain(&mut mel, 10.0);
        assert!((mel.get(1, 3) - before.get(1, 3) - std::f32::consts::LN_10).abs() < 1e-5);
        // A loud bin and a very quiet bin: 20 dB SNR noise barely touches the loud one.
        let mut two = LogMel {
            data: vec![10.0, -20.0],
            n_mels: 1,
            n_frames: 2,
        };
        add_noise(&mut two, 20.0, &mut SeededRng::new(9));
        assert!((two.data[0] - 10.0).abs() < 0.1, "{:?}", two.data);
        assert!(two.data[1] > 0.0, "{:?}", two.data);
        assert!(two.data[1] >= -20.0);
    }

    #[test]
    fn noise_colours_have_their_spectra() {
        // A silent-ish clip (every bin at -30): the added noise is all there is.
        let quiet = || LogMel {
            data: vec![-30.0; 8 * 400],
            n_mels: 8,
            n_frames: 400,
        };
        let band_means = |m: &LogMel| -> Vec<f64> {
            (0..m.n_mels)
                .map(|b| m.band(b).iter().map(|&v| (v as f64).exp()).sum::<f64>() / 400.0)
                .collect()
        };
        // The power the noise added to each band.
        let added_to =
            |m: &LogMel| -> Vec<f64> { band_means(m).iter().map(|p| p - (-30f64).exp()).collect() };
        // Pink through add_noise and through add_coloured_noise: the same numbers.
        let (mut a, mut b) = (quiet(), quiet());
        add_noise(&mut a, 0.0, &mut SeededRng::new(5));
        add_coloured_noise(&mut b, 0.0, NoiseColour::Pink, &mut SeededRng::new(5));
        assert_eq!(a, b);
        let pink = added_to(&a);
        assert!(pink[0] > 2.5 * pink[7], "{pink:?}");
        let mut w = quiet();
        add_coloured_noise(&mut w, 0.0, NoiseColour::White, &mut SeededRng::new(5));
        let white = added_to(&w);
        assert!((white[0] / white[7] - 1.0).abs() < 0.1, "{white:?}");
        // Babble follows the clip's own spectrum: a clip loud in band 2 gets noise loud in band 2.
        let mut voiced = quiet();
        voiced.data[2 * 400..3 * 400].fill(0.0);
        let clean = voiced.clone();
        add_coloured_noise(
            &mut voiced,
            10.0,
            NoiseColour::Babble,
            &mut SeededRng::new(5),
        );
        let added: Vec<f64> = band_means(&voiced)
            .iter()
            .zip(band_means(&clean))
            .map(|(n, c)| n - c)
            .collect();
        assert!(added[2] > 100.0 * added[5], "{added:?}");
        // ... and its level swings from frame to frame, unlike white noise's (a flat clip, the
        // noise 10 dB above it, so both noises have the same spectrum and the noise dominates).
        let frame_spread = |colour| {
            let mut m = LogMel {
                data: vec![0.0; 8 * 400],
                n_mels: 8,
                n_frames: 400,
            };
            add_coloured_noise(&mut m, -10.0, colour, &mut SeededRng::new(5));
            // Variance over frames of the band-averaged log power.
            let frames: Vec<f32> = (0..400)
                .map(|k| (0..8).map(|b| m.get(b, k)).sum::<f32>() / 8.0)
                .collect();
            let mean = frames.iter().sum::<f32>() / 400.0;
            frames.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 400.0
        };
        assert!(frame_spread(NoiseColour::Babble) > 4.0 * frame_spread(NoiseColour::White));
        // Several colours: the draw is seeded, and a single colour draws no extra number.
        let cfg = AudioAugmentConfig {
            noise_probability: 1.0,
            noise_colours: vec![NoiseColour::Pink],
            ..AudioAugmentConfig::default()
        };
        let run = |c: &AudioAugmentConfig, seed| {
            augment_example(
                &ramp(8, 300),
                c,
                InputNorm::Utterance,
                &MelConfig::default(),
                &mut SeededRng::new(seed),
            )
        };
        let mixed = AudioAugmentConfig {
            noise_colours: vec![NoiseColour::Pink, NoiseColour::White, NoiseColour::Babble],
            ..cfg.clone()
        };
        assert_eq!(run(&mixed, 3), run(&mixed, 3));
        assert_eq!(
            run(&cfg, 3),
            run(
                &AudioAugmentConfig {
                    noise_colours: vec![],
                    ..cfg.clone()
                },
                3
            )
        );
    }

    #[test]
    fn normalisation_and_masks() {
        let mut mel = ramp(8, 40);
        normalize_bands(&mut mel);
        for b in 0..8 {
            let band = mel.band(b);
            let mean: f32 = band.iter().sum::<f32>() / 40.0;
            let var: f32 = band.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 40.0;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4);
        }
        let mut masked = mel.clone();
        spec_augment(&mut masked, 2, 10, 1, 2, &mut SeededRng::new(4));
        let zeros = masked.data.iter().filter(|&&v| v == 0.0).count();
        assert!(zeros > 0 && zeros < masked.data.len() / 2, "{zeros}");
        // Same seed, same masks.
        let mut again = mel.clone();
        spec_augment(&mut again, 2, 10, 1, 2, &mut SeededRng::new(4));
        assert_eq!(masked, again);
        let full = augment_example(
            &ramp(8, 300),
            &AudioAugmentConfig::default(),
            InputNorm::Utterance,
            &MelConfig::default(),
            &mut SeededRng::new(1),
        );
        assert_eq!(full.n_frames, 200);
        assert!(full.data.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn warped_chain_reports_its_warp_and_masks_gender_beyond_the_limit() {
        let cfg = AudioAugmentConfig {
            freq_warp: Some((0.9, 1.1)),
            gender_warp_max: Some(0.04),
            ..AudioAugmentConfig::default()
        };
        let mel = ramp(16, 300);
        let (mut kept, mut masked) = (0, 0);
        for seed in 0..200 {
            let plain = augment_example(
                &mel,
                &cfg,
                InputNorm::Utterance,
                &MelConfig::default(),
                &mut SeededRng::new(seed),
            );
            let (warped, alpha) = augment_example_warped(
                &mel,
                &cfg,
                InputNorm::Utterance,
                &MelConfig::default(),
                &mut SeededRng::new(seed),
            );
            // Same random stream, same example: the warp factor is only reported.
            assert_eq!(plain, warped);
            assert!((0.9..=1.1).contains(&alpha), "{alpha}");
            if cfg.keeps_gender(alpha) {
                assert!((alpha - 1.0).abs() <= 0.04 + 1e-6);
                kept += 1;
            } else {
                assert!((alpha - 1.0).abs() > 0.04);
                masked += 1;
            }
        }
        // Uniform on ±0.1 with a ±0.04 limit: about 40% keep their gender label.
        assert!((50..=110).contains(&kept), "{kept} kept, {masked} masked");
        // No warp configured: α is 1 and every example keeps its label; no limit: all keep.
        let off = AudioAugmentConfig {
            freq_warp: None,
            ..cfg.clone()
        };
        let (_, alpha) = augment_example_warped(
            &mel,
            &off,
            InputNorm::Utterance,
            &MelConfig::default(),
            &mut SeededRng::new(3),
        );
        assert_eq!(alpha, 1.0);
        assert!(off.keeps_gender(alpha));
        assert!(AudioAugmentConfig::default().keeps_gender(0.5));
    }

    #[test]
    fn mixup_blends_inputs_targets_and_masks() {
        let mut x = vec![1.0f32, 1.0, 0.0, 0.0];
        let mut t = [1.0f32, 0.0, 0.0, 1.0];
        let mut w = [1.0f32, 0.0]; // the second example has no label
        let lambda = {
            let mut tasks = [(&mut t[..], &mut w[..])];
            mixup(&mut x, &mut tasks, 2, 0.4, &mut SeededRng::new(2))
        };
        assert!((0.5..=1.0).contains(&lambda));
        // Either pairing is the identity or a swap; check the conservation laws.
        assert!((x[0] + x[2] - 1.0).abs() < 1e-6);
        for i in 0..2 {
            if w[i] > 0.0 {
                // Only example 0 is labelled, so any labelled mix points at its class 0.
                assert!((t[i * 2] - 1.0).abs() < 1e-6);
            }
        }
        assert!(w.iter().sum::<f32>() <= 1.0 + 1e-6);
    }

    /// A 64-band clip at a steady level of power 1 with one loud frame.
    fn steady(frames: usize) -> LogMel {
        let mut data = vec![0f32; 64 * frames];
        for b in 0..64 {
            data[b * frames + frames / 2] = 4.0;
        }
        LogMel {
            data,
            n_mels: 64,
            n_frames: frames,
        }
    }

    #[test]
    fn reverberation_adds_a_decaying_tail_after_loud_frames() {
        let mut m = steady(40);
        let before = m.clone();
        reverberate(&mut m, 0.5, 0.0, 0.01);
        let b0 = &m.data[..40];
        // The first frame has no tail yet; a steady background gains at most ln 2 (a tail as
        // strong as the direct sound, DRR 0 dB); after the loud frame, a decaying tail.
        assert_eq!(b0[0], before.data[0]);
        assert!(b0[..20]
            .iter()
            .all(|v| (0.0..=std::f32::consts::LN_2 + 1e-4).contains(v)));
        assert!(b0[21] > 1.0, "{}", b0[21]);
        assert!(b0[21] > b0[25] && b0[25] > b0[30]);
        assert!(b0.iter().zip(&before.data[..40]).all(|(a, b)| a >= b));
        // No reverberation time, no change.
        let mut same = before.clone();
        reverberate(&mut same, 0.0, 0.0, 0.01);
        assert_eq!(same, before);
    }

    #[test]
    fn band_limit_keeps_the_pass_band_and_drops_the_rest() {
        let cfg = MelConfig::default();
        let centres = cfg.band_centres_hz();
        assert_eq!(centres.len(), cfg.n_mels);
        assert!(centres.windows(2).all(|w| w[0] < w[1]));
        assert!(centres[0] > cfg.fmin as f32 && centres[63] < cfg.fmax as f32);
        let mut m = steady(10);
        for b in 0..64 {
            for k in 0..10 {
                m.data[b * 10 + k] = 2.0;
            }
        }
        // One quiet bin sets the clip's floor.
        m.data[32 * 10] = -10.0;
        let before = m.clone();
        band_limit(&mut m, &centres, 300.0, 3400.0);
        for (b, &f) in centres.iter().enumerate() {
            let (was, now) = (before.data[b * 10 + 1], m.data[b * 10 + 1]);
            if (300.0..=3400.0).contains(&f) {
                assert_eq!(now, was, "band {b} at {f} Hz");
            } else if !(150.0..=6800.0).contains(&f) {
                // An octave or more outside: at least 45 dB down (to the floor).
                assert!(now < was - 4.5, "band {b} at {f} Hz: {was} -> {now}");
            } else {
                assert!(now < was, "band {b} at {f} Hz");
            }
        }
    }

    #[test]
    fn codec_holes_only_ever_remove_energy_and_are_seeded() {
        let mut rng = SeededRng::new(9);
        let m0 = {
            let mut m = steady(60);
            let mut r = SeededRng::new(1);
            m.data.iter_mut().for_each(|v| *v += r.normal() as f32);
            m
        };
        let mut a = m0.clone();
        spectral_holes(&mut a, &mut rng);
        assert!(a.data.iter().zip(&m0.data).all(|(x, y)| x <= &(y + 1e-5)));
        assert!(a.data.iter().zip(&m0.data).any(|(x, y)| x < &(y - 1.0)));
        let mut b = m0.clone();
        spectral_holes(&mut b, &mut SeededRng::new(9));
        assert_eq!(a, b);
    }

    #[test]
    fn channel_augmentation_is_off_by_default_and_draws_nothing_then() {
        let mel = steady(300);
        let base = AudioAugmentConfig::default();
        assert!(base.channel.is_none());
        let run = |cfg: &AudioAugmentConfig| augmented(&mel, cfg, 4);
        // Probability-0 channel effects change nothing, but turning them on changes the clip.
        let zero = AudioAugmentConfig {
            channel: Some(ChannelAugmentConfig {
                reverb_probability: 0.0,
                band_limit_probability: 0.0,
                holes_probability: 0.0,
                ..ChannelAugmentConfig::default()
            }),
            ..base.clone()
        };
        assert!(
            run(&base) == run(&zero),
            "a probability of 0 changed the clip"
        );
        let always = AudioAugmentConfig {
            channel: Some(ChannelAugmentConfig {
                reverb_probability: 1.0,
                band_limit_probability: 1.0,
                holes_probability: 1.0,
                ..ChannelAugmentConfig::default()
            }),
            ..base.clone()
        };
        assert!(
            run(&base) != run(&always),
            "channel effects changed nothing"
        );
        assert!(ChannelAugmentConfig::default().validate().is_ok());
        let bad = ChannelAugmentConfig {
            band_limits: vec![(3400.0, 300.0)],
            ..ChannelAugmentConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
