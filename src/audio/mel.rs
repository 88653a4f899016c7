//! Log-mel spectrograms, computed the way librosa computes them.
//!
//! [`MelExtractor`] frames the signal (optionally centre-padded), applies a window padded to
//! `n_fft`, takes an FFT ([rustfft](https://docs.rs/rustfft), two real frames per complex
//! transform), raises magnitudes to `power`,
//! projects onto a mel filterbank computed from the config (Slaney or HTK scale, optional Slaney
//! area normalisation) and takes the log. With the same settings the power mel matches
//! `librosa.feature.melspectrogram` to better than 1e-4 relative error (see
//! `tests/mel_librosa.rs` and `tools/make_mel_fixtures.py`); arithmetic is done in `f64` so that
//! quiet bands next to loud ones stay accurate.
//!
//! Optional steps for the voice branch follow the log: an energy-based trim of leading and
//! trailing silence (done on the samples before framing, see [`crate::audio::vad`]) and
//! per-utterance mean/variance normalisation of each mel band.

use std::sync::Arc;

use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};

use super::vad::{trim_silence, VadConfig};
use super::AudioClip;
use crate::{Error, Result};

/// Analysis window applied to each frame (periodic, as `scipy.signal.get_window` builds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// Periodic Hann window.
    Hann,
    /// Periodic Hamming window.
    Hamming,
    /// No taper.
    Rectangular,
}

/// Mapping between hertz and mels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelScale {
    /// Slaney's Auditory Toolbox scale: linear below 1 kHz, logarithmic above (librosa default).
    Slaney,
    /// The HTK formula `2595 · log10(1 + f / 700)`.
    Htk,
}

/// Normalisation of each mel filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelNorm {
    /// Triangles of unit height.
    None,
    /// Divide each triangle by its bandwidth in Hz so it has (roughly) constant energy.
    Slaney,
}

/// How the mel power is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogScale {
    /// Keep the linear mel power.
    None,
    /// `ln(max(S, floor))`.
    Natural,
    /// `10 · log10(max(S, floor))` (librosa's `power_to_db` with `ref=1`, `top_db=None`).
    Decibel,
}

/// Padding added on both sides when frames are centred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    /// Zeros (librosa ≥ 0.10 default).
    Constant,
    /// Mirror the signal without repeating the edge sample (numpy's `reflect`).
    Reflect,
}

/// Everything that defines a log-mel spectrogram. Saved beside each voice model so inference
/// computes exactly the features the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MelConfig {
    /// Sample rate the input must have, in Hz.
    pub sample_rate: u32,
    /// FFT size.
    pub n_fft: usize,
    /// Window length in samples (≤ `n_fft`; the window is zero-padded to `n_fft`, centred).
    pub win_length: usize,
    /// Hop between frames in samples.
    pub hop_length: usize,
    /// Window shape.
    pub window: WindowKind,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lowest filter edge in Hz.
    pub fmin: f64,
    /// Highest filter edge in Hz (at most `sample_rate / 2`).
    pub fmax: f64,
    /// Hz ↔ mel formula.
    pub mel_scale: MelScale,
    /// Filter normalisation.
    pub norm: MelNorm,
    /// Exponent on the magnitude: 2 for power, 1 for magnitude.
    pub power: f64,
    /// Compression applied to the mel power.
    pub log: LogScale,
    /// Values below this power are clamped to it before the log (librosa's `amin`).
    pub log_floor: f64,
    /// Pad `n_fft / 2` on each side so frame `t` is centred on sample `t · hop`.
    pub center: bool,
    /// Padding used when `center` is set.
    pub pad_mode: PadMode,
    /// Trim leading and trailing silence before framing (`None` keeps the whole recording).
    pub vad: Option<VadConfig>,
    /// Subtract each band's mean and divide by its standard deviation over the utterance.
    pub normalize: bool,
}

impl Default for MelConfig {
    /// The voice branch's features: 16 kHz, 25 ms Hann window, 10 ms hop, 512-point FFT,
    /// 64 Slaney mels over 20–8000 Hz, natural log with a 1e-10 floor, silence trimmed, bands
    /// normalised per utterance.
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 512,
            win_length: 400,
            hop_length: 160,
            window: WindowKind::Hann,
            n_mels: 64,
            fmin: 20.0,
            fmax: 8_000.0,
            mel_scale: MelScale::Slaney,
            norm: MelNorm::Slaney,
            power: 2.0,
            log: LogScale::Natural,
            log_floor: 1e-10,
            center: true,
            pad_mode: PadMode::Constant,
            vad: Some(VadConfig::default()),
            normalize: true,
        }
    }
}

impl MelConfig {
    /// The centre frequency of each mel band in Hz (the peaks of the triangular filters).
    pub fn band_centres_hz(&self) -> Vec<f32> {
        let (lo, hi) = (
            hz_to_mel(self.fmin, self.mel_scale),
            hz_to_mel(self.fmax, self.mel_scale),
        );
        let step = (hi - lo) / (self.n_mels + 1) as f64;
        (1..=self.n_mels)
            .map(|k| mel_to_hz(lo + step * k as f64, self.mel_scale) as f32)
            .collect()
    }

    /// Seconds between frames.
    pub fn hop_seconds(&self) -> f32 {
        self.hop_length as f32 / self.sample_rate as f32
    }

    /// The same analysis without silence trimming or normalisation: the plain log-mel, as
    /// `librosa.feature.melspectrogram` followed by a log computes it.
    pub fn plain(&self) -> Self {
        Self {
            vad: None,
            normalize: false,
            ..self.clone()
        }
    }

    /// Checks that the values are usable together.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.sample_rate == 0 {
            return bad("sample_rate must be positive".into());
        }
        if self.n_fft < 2 || self.n_fft > crate::limits::MAX_FFT_SIZE {
            return bad(format!(
                "n_fft {} is outside 2..={}",
                self.n_fft,
                crate::limits::MAX_FFT_SIZE
            ));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return bad(format!(
                "win_length {} must be in 1..=n_fft ({})",
                self.win_length, self.n_fft
            ));
        }
        if self.hop_length == 0 {
            return bad("hop_length must be positive".into());
        }
        if self.n_mels == 0 || self.n_mels > crate::limits::MAX_MEL_BANDS {
            return bad(format!(
                "n_mels {} is outside 1..={}",
                self.n_mels,
                crate::limits::MAX_MEL_BANDS
            ));
        }
        let nyquist = self.sample_rate as f64 / 2.0;
        if !(self.fmin >= 0.0 && self.fmin < self.fmax && self.fmax <= nyquist + 1e-9) {
            return bad(format!(
                "need 0 <= fmin < fmax <= sample_rate/2, got fmin {} fmax {} (Nyquist {nyquist})",
                self.fmin, self.fmax
            ));
        }
        if !(self.power.is_finite() && self.power > 0.0) {
            return bad(format!("power {} must be positive", self.power));
        }
        if !(self.log_floor.is_finite() && self.log_floor > 0.0) {
            return bad(format!("log_floor {} must be positive", self.log_floor));
        }
        if let Some(vad) = &self.vad {
            vad.validate()?;
        }
        Ok(())
    }

    /// Number of frames produced for a signal of `n` samples (after any trimming).
    pub fn n_frames(&self, n: usize) -> usize {
        if self.center {
            1 + n / self.hop_length
        } else if n < self.n_fft {
            0
        } else {
            1 + (n - self.n_fft) / self.hop_length
        }
    }
}

/// A spectrogram: `n_mels` rows (bands, low to high) by `n_frames` columns (time), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMel {
    /// Values, `data[band * n_frames + frame]`.
    pub data: Vec<f32>,
    /// Number of mel bands (rows).
    pub n_mels: usize,
    /// Number of frames (columns).
    pub n_frames: usize,
}

impl LogMel {
    /// Value at (`band`, `frame`).
    pub fn get(&self, band: usize, frame: usize) -> f32 {
        self.data[band * self.n_frames + frame]
    }

    /// One band over time.
    pub fn band(&self, band: usize) -> &[f32] {
        &self.data[band * self.n_frames..(band + 1) * self.n_frames]
    }
}

/// Computes mel spectrograms for one [`MelConfig`]; build once, reuse for many clips.
///
/// It is `Send + Sync`: share one extractor between threads (see [`MelExtractor::compute_batch`]).
pub struct MelExtractor {
    config: MelConfig,
    fft: Arc<dyn Fft<f64>>,
    /// Window zero-padded to `n_fft`.
    window: Vec<f64>,
    /// `[first, last)` indices of the window's non-zero taps.
    window_span: (usize, usize),
    filters: Filterbank,
}

impl std::fmt::Debug for MelExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelExtractor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Sparse mel filterbank: each filter's non-zero weights and the FFT bin of the first one.
#[derive(Debug, Clone)]
struct Filterbank {
    start: Vec<usize>,
    weights: Vec<Vec<f64>>,
}

/// Working buffers for one thread.
struct Scratch {
    frame_a: Vec<f64>,
    frame_b: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    fft_scratch: Vec<Complex<f64>>,
    power_a: Vec<f64>,
    power_b: Vec<f64>,
}

impl MelExtractor {
    /// Plans the FFT and computes the window and filterbank for `config`.
    pub fn new(config: MelConfig) -> Result<Self> {
        config.validate()?;
        let fft = FftPlanner::<f64>::new().plan_fft_forward(config.n_fft);
        let short = window(config.window, config.win_length);
        let mut window = vec![0.0; config.n_fft];
        let offset = (config.n_fft - config.win_length) / 2;
        window[offset..offset + config.win_length].copy_from_slice(&short);
        let window_span = (
            window.iter().position(|&w| w != 0.0).unwrap_or(0),
            window.iter().rposition(|&w| w != 0.0).map_or(0, |i| i + 1),
        );
        let dense = mel_filterbank(&config);
        let n_freq = config.n_fft / 2 + 1;
        let mut start = Vec::with_capacity(config.n_mels);
        let mut weights = Vec::with_capacity(config.n_mels);
        for row in dense.chunks(n_freq) {
            let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
            let last = row.iter().rposition(|&w| w != 0.0).map_or(0, |l| l + 1);
            start.push(first);
            weights.push(row[first..last.max(first)].to_vec());
        }
        Ok(Self {
            config,
            fft,
            window,
            window_span,
            filters: Filterbank { start, weights },
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// The dense mel filterbank, `n_mels` rows of `n_fft / 2 + 1` weights (for inspection).
    pub fn filterbank(&self) -> Vec<f64> {
        mel_filterbank(&self.config)
    }

    fn scratch(&self) -> Scratch {
        let n_fft = self.config.n_fft;
        Scratch {
            frame_a: vec![0.0; n_fft],
            frame_b: vec![0.0; n_fft],
            spectrum: vec![Complex::new(0.0, 0.0); n_fft],
            fft_scratch: vec![Complex::new(0.0, 0.0); self.fft.get_inplace_scratch_len()],
            power_a: vec![0.0; n_fft / 2 + 1],
            power_b: vec![0.0; n_fft / 2 + 1],
        }
    }

    /// Computes the spectrogram of a clip, which must be at the configured sample rate.
    pub fn compute(&self, clip: &AudioClip) -> Result<LogMel> {
        if clip.sample_rate != self.config.sample_rate {
            return Err(Error::SampleRateMismatch {
                expected: self.config.sample_rate,
                got: clip.sample_rate,
            });
        }
        self.compute_samples(&clip.samples)
    }

    /// Computes the spectrogram of samples at the configured sample rate.
    ///
    /// Errors: [`Error::Empty`] for no samples, [`Error::NonFinite`] for NaN or infinity,
    /// [`Error::TooShort`] when fewer than `win_length` samples remain, and [`Error::Silent`]
    /// when silence trimming is on and nothing rises above its threshold. With trimming off, a
    /// silent recording is valid and yields every value at the log floor.
    pub fn compute_samples(&self, samples: &[f32]) -> Result<LogMel> {
        let mut scratch = self.scratch();
        self.compute_with(samples, &mut scratch)
    }

    /// Computes spectrograms for many clips in parallel on all cores (rayon's global pool).
    /// Each clip succeeds or fails on its own.
    pub fn compute_batch<S: AsRef<[f32]> + Sync>(&self, clips: &[S]) -> Vec<Result<LogMel>> {
        clips
            .par_iter()
            .map_init(
                || self.scratch(),
                |scratch, clip| self.compute_with(clip.as_ref(), scratch),
            )
            .collect()
    }

    fn compute_with(&self, samples: &[f32], scratch: &mut Scratch) -> Result<LogMel> {
        let cfg = &self.config;
        if samples.is_empty() {
            return Err(Error::Empty("no samples".into()));
        }
        // A fold without early exit vectorises; NaN and ±inf are rare enough not to care.
        if !samples.iter().fold(true, |ok, s| ok & s.is_finite()) {
            return Err(Error::NonFinite);
        }
        let samples = match &cfg.vad {
            Some(vad) => {
                let (a, b) = trim_silence(samples, cfg.sample_rate, vad)?;
                &samples[a..b]
            }
            None => samples,
        };
        if samples.len() < cfg.win_length {
            return Err(Error::TooShort {
                got: samples.len(),
                needed: cfg.win_length,
            });
        }
        let data = self.features(samples, scratch);
        Ok(LogMel {
            data,
            n_mels: cfg.n_mels,
            n_frames: cfg.n_frames(samples.len()),
        })
    }

    /// Final features, `[n_mels][n_frames]`: mel power, log, optional band normalisation.
    fn features(&self, samples: &[f32], s: &mut Scratch) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { self.features_avx2(samples, s) };
        }
        self.features_body(samples, s)
    }

    /// [`Self::features_body`] compiled for AVX2 + FMA, so its element-wise loops use 256-bit
    /// vectors (the rest of the crate is built for the baseline x86-64 target).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn features_avx2(&self, samples: &[f32], s: &mut Scratch) -> Vec<f32> {
        self.features_body(samples, s)
    }

    #[inline(always)]
    fn features_body(&self, samples: &[f32], s: &mut Scratch) -> Vec<f32> {
        let cfg = &self.config;
        let mut mel = self.mel_power_body(samples, s);
        let floor = cfg.log_floor;
        let log_scale = match cfg.log {
            LogScale::None => None,
            LogScale::Natural => Some(1.0),
            LogScale::Decibel => Some(10.0 / std::f64::consts::LN_10),
        };
        // Plain loops rather than iterator adapters with `collect`: `collect` is a separate
        // generic function that would not inherit this function's AVX2 code generation.
        if let Some(scale) = log_scale {
            for v in mel.iter_mut() {
                *v = scale * fast_ln(v.max(floor));
            }
        }
        if cfg.normalize {
            normalize_bands(&mut mel, cfg.n_frames(samples.len()));
        }
        let mut out = vec![0f32; mel.len()];
        for (o, &v) in out.iter_mut().zip(&mel) {
            *o = v as f32;
        }
        out
    }

    /// Frames are transformed two at a time: frame `a` goes in the real part and frame `b` in
    /// the imaginary part of one complex FFT, and the two spectra are separated with
    /// `A[k] = (Z[k] + Z*[N-k]) / 2`, `B[k] = (Z[k] - Z*[N-k]) / 2i`. One complex FFT of size N
    /// costs less than two real ones.
    #[inline(always)]
    fn mel_power_body(&self, samples: &[f32], s: &mut Scratch) -> Vec<f64> {
        let cfg = &self.config;
        let n_fft = cfg.n_fft;
        let n_freq = n_fft / 2 + 1;
        let n_frames = cfg.n_frames(samples.len());
        let pad = if cfg.center { n_fft / 2 } else { 0 };
        let mut out = vec![0.0; cfg.n_mels * n_frames];
        let half_power = cfg.power / 2.0;
        for t in (0..n_frames).step_by(2) {
            let start_a = (t * cfg.hop_length) as isize - pad as isize;
            let start_b = start_a + cfg.hop_length as isize;
            let has_b = t + 1 < n_frames;
            let (w0, w1) = self.window_span;
            let n = samples.len() as isize;
            let inside = |start: isize| start + w0 as isize >= 0 && start + w1 as isize <= n;
            if has_b && inside(start_a) && inside(start_b) {
                // Fast path: both windowed spans lie inside the signal.
                let xa =
                    &samples[(start_a + w0 as isize) as usize..(start_a + w1 as isize) as usize];
                let xb =
                    &samples[(start_b + w0 as isize) as usize..(start_b + w1 as isize) as usize];
                for (((z, &w), &a), &b) in s.spectrum[w0..w1]
                    .iter_mut()
                    .zip(&self.window[w0..w1])
                    .zip(xa)
                    .zip(xb)
                {
                    *z = Complex::new(w * a as f64, w * b as f64);
                }
                s.spectrum[..w0].fill(Complex::new(0.0, 0.0));
                s.spectrum[w1..].fill(Complex::new(0.0, 0.0));
            } else {
                self.windowed_frame(samples, start_a, &mut s.frame_a);
                if has_b {
                    self.windowed_frame(samples, start_b, &mut s.frame_b);
                } else {
                    s.frame_b.fill(0.0);
                }
                for (z, (&a, &b)) in s.spectrum.iter_mut().zip(s.frame_a.iter().zip(&s.frame_b)) {
                    *z = Complex::new(a, b);
                }
            }
            self.fft
                .process_with_scratch(&mut s.spectrum, &mut s.fft_scratch);
            // Separate the two spectra into |A|^2 and |B|^2 (each times 4, fixed below).
            let z = &s.spectrum;
            s.power_a[0] = z[0].re * z[0].re;
            s.power_b[0] = z[0].im * z[0].im;
            // k = 1..n_freq pairs Z[k] with Z[N - k], i.e. z[1..] read backwards.
            for (((zk, zn), pa), pb) in z[1..n_freq]
                .iter()
                .zip(z[1..].iter().rev())
                .zip(&mut s.power_a[1..])
                .zip(&mut s.power_b[1..])
            {
                let (sr, si) = (zk.re + zn.re, zk.im - zn.im); // 2A
                let (dr, di) = (zk.re - zn.re, zk.im + zn.im); // 2iB
                *pa = 0.25 * (sr * sr + si * si);
                *pb = 0.25 * (dr * dr + di * di);
            }
            if half_power != 1.0 {
                for p in s.power_a.iter_mut().chain(s.power_b.iter_mut()) {
                    *p = if half_power == 0.5 {
                        p.sqrt()
                    } else {
                        p.powf(half_power)
                    };
                }
            }
            self.apply_filters(&s.power_a, &mut out, n_frames, t);
            if has_b {
                self.apply_filters(&s.power_b, &mut out, n_frames, t + 1);
            }
        }
        out
    }

    /// Writes the windowed frame starting at signal position `start` (may be negative or run
    /// past the end; padding per config) into `frame`. Used for the frames at the edges.
    #[inline(always)]
    fn windowed_frame(&self, samples: &[f32], start: isize, frame: &mut [f64]) {
        let (w0, w1) = self.window_span;
        for (k, (dst, &w)) in frame.iter_mut().zip(&self.window).enumerate() {
            *dst = if (w0..w1).contains(&k) {
                w * padded_sample(samples, start + k as isize, self.config.pad_mode) as f64
            } else {
                0.0
            };
        }
    }

    /// Projects one power spectrum onto the filterbank, into column `t` of `out`.
    #[inline(always)]
    fn apply_filters(&self, power: &[f64], out: &mut [f64], n_frames: usize, t: usize) {
        for (m, (w, &first)) in self
            .filters
            .weights
            .iter()
            .zip(&self.filters.start)
            .enumerate()
        {
            let p = &power[first..first + w.len()];
            // Four partial sums so the loop vectorises.
            let mut acc = [0.0f64; 4];
            let chunks = w.len() / 4;
            for i in 0..chunks {
                for j in 0..4 {
                    acc[j] += w[4 * i + j] * p[4 * i + j];
                }
            }
            let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
            for i in 4 * chunks..w.len() {
                sum += w[i] * p[i];
            }
            out[m * n_frames + t] = sum;
        }
    }
}

/// Sample `i` of the signal extended by `mode` beyond its ends.
#[inline]
fn padded_sample(x: &[f32], i: isize, mode: PadMode) -> f32 {
    let n = x.len() as isize;
    if (0..n).contains(&i) {
        return x[i as usize];
    }
    match mode {
        PadMode::Constant => 0.0,
        PadMode::Reflect => {
            if n == 1 {
                return x[0];
            }
            // Reflect about the end samples without repeating them: period 2(n-1).
            let period = 2 * (n - 1);
            let mut j = i.rem_euclid(period);
            if j >= n {
                j = period - j;
            }
            x[j as usize]
        }
    }
}

/// Natural log of a positive, finite, normal `f64`, branch-free so loops over it vectorise.
///
/// Splits `x = m · 2^e` with `m ∈ [√½, √2)` and sums the series
/// `ln m = 2·atanh(s) = 2(s + s³/3 + … + s¹⁵/15)`, `s = (m − 1)/(m + 1)`, `|s| < 0.172`: the
/// truncation error is below 1e-13, far inside the 1e-4 budget of the front end.
#[inline]
fn fast_ln(x: f64) -> f64 {
    // Bits of √½: subtracting them makes the exponent field floor(log2(x / √½)).
    const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
    // 2^52 as f64: adding an integer below 2^52 to its bit pattern gives 2^52 + that integer.
    const TWO_52_BITS: u64 = 0x4330_0000_0000_0000;
    let bits = x.to_bits();
    // Biased exponent of x / √½, taken with a logical shift (AVX2 has no 64-bit arithmetic
    // shift and no i64 → f64 conversion; this form keeps the function vectorisable).
    let biased = (bits.wrapping_sub(SQRT_HALF_BITS).wrapping_add(1023 << 52)) >> 52;
    let m = f64::from_bits(bits.wrapping_sub(biased.wrapping_sub(1023) << 52));
    let e = f64::from_bits(TWO_52_BITS | biased) - (4_503_599_627_370_496.0 + 1023.0);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let poly = 1.0
        + s2 * (1.0 / 3.0
            + s2 * (1.0 / 5.0
                + s2 * (1.0 / 7.0
                    + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 / 15.0))))));
    e * std::f64::consts::LN_2 + 2.0 * s * poly
}

/// Zero mean, unit variance per band over time.
fn normalize_bands(mel: &mut [f64], n_frames: usize) {
    for band in mel.chunks_mut(n_frames) {
        let mean = band.iter().sum::<f64>() / n_frames as f64;
        let var = band.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n_frames as f64;
        let inv = 1.0 / var.sqrt().max(1e-5);
        band.iter_mut().for_each(|v| *v = (*v - mean) * inv);
    }
}

/// Periodic window of length `n` (`scipy.signal.get_window(kind, n, fftbins=True)`).
pub fn window(kind: WindowKind, n: usize) -> Vec<f64> {
    let tau = 2.0 * std::f64::consts::PI;
    (0..n)
        .map(|i| {
            let x = tau * i as f64 / n as f64;
            match kind {
                WindowKind::Hann => 0.5 - 0.5 * x.cos(),
                WindowKind::Hamming => 0.54 - 0.46 * x.cos(),
                WindowKind::Rectangular => 1.0,
            }
        })
        .collect()
}

/// Hertz to mels.
pub fn hz_to_mel(f: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + f / 700.0).log10(),
        MelScale::Slaney => {
            const F_SP: f64 = 200.0 / 3.0;
            const MIN_LOG_HZ: f64 = 1000.0;
            let min_log_mel = MIN_LOG_HZ / F_SP;
            let logstep = 6.4f64.ln() / 27.0;
            if f >= MIN_LOG_HZ {
                min_log_mel + (f / MIN_LOG_HZ).ln() / logstep
            } else {
                f / F_SP
            }
        }
    }
}

/// Mels to hertz.
pub fn mel_to_hz(m: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(m / 2595.0) - 1.0),
        MelScale::Slaney => {
            const F_SP: f64 = 200.0 / 3.0;
            const MIN_LOG_HZ: f64 = 1000.0;
            let min_log_mel = MIN_LOG_HZ / F_SP;
            let logstep = 6.4f64.ln() / 27.0;
            if m >= min_log_mel {
                MIN_LOG_HZ * (logstep * (m - min_log_mel)).exp()
            } else {
                F_SP * m
            }
        }
    }
}

/// Dense filterbank `[n_mels][n_fft/2 + 1]`, as `librosa.filters.mel` builds it.
fn mel_filterbank(cfg: &MelConfig) -> Vec<f64> {
    let n_freq = cfg.n_fft / 2 + 1;
    let sr = cfg.sample_rate as f64;
    let fft_freqs: Vec<f64> = (0..n_freq)
        .map(|k| k as f64 * sr / cfg.n_fft as f64)
        .collect();
    let mel_min = hz_to_mel(cfg.fmin, cfg.mel_scale);
    let mel_max = hz_to_mel(cfg.fmax, cfg.mel_scale);
    let edges: Vec<f64> = (0..cfg.n_mels + 2)
        .map(|i| {
            let m = mel_min + (mel_max - mel_min) * i as f64 / (cfg.n_mels + 1) as f64;
            mel_to_hz(m, cfg.mel_scale)
        })
        .collect();
    let mut weights = vec![0.0; cfg.n_mels * n_freq];
    for m in 0..cfg.n_mels {
        let (lo, centre, hi) = (edges[m], edges[m + 1], edges[m + 2]);
        let row = &mut weights[m * n_freq..(m + 1) * n_freq];
        for (w, &f) in row.iter_mut().zip(&fft_freqs) {
            let lower = (f - lo) / (centre - lo);
            let upper = (hi - f) / (hi - centre);
            *w = lower.min(upper).max(0.0);
        }
        if cfg.norm == MelNorm::Slaney {
            let enorm = 2.0 / (hi - lo);
            row.iter_mut().for_each(|w| *w *= enorm);
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ln_matches_std() {
        let mut x = 1e-12f64;
        while x < 1e6 {
            let (got, want) = (fast_ln(x), x.ln());
            assert!(
                (got - want).abs() < 1e-12 * want.abs().max(1.0),
                "{x}: {got} vs {want}"
            );
            x *= 1.0173;
        }
        for x in [
            1.0,
            2.0,
            0.5,
            std::f64::consts::SQRT_2,
            1e-10,
            f64::MIN_POSITIVE,
        ] {
            assert!(
                (fast_ln(x) - x.ln()).abs() < 1e-12 * x.ln().abs().max(1.0),
                "{x}"
            );
        }
    }

    #[test]
    fn slaney_and_htk_round_trip() {
        for scale in [MelScale::Slaney, MelScale::Htk] {
            for f in [0.0, 20.0, 440.0, 999.0, 1000.0, 4321.0, 8000.0] {
                let back = mel_to_hz(hz_to_mel(f, scale), scale);
                assert!((back - f).abs() < 1e-9, "{scale:?} {f} -> {back}");
            }
        }
        // librosa.hz_to_mel(1000) == 15.0 (Slaney); librosa.hz_to_mel(1000, htk=True) = 999.98553713962
        assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(1000.0, MelScale::Htk) - 999.985_537_139_624_4).abs() < 1e-9);
    }

    #[test]
    fn frame_count_matches_librosa() {
        let cfg = MelConfig::default();
        // librosa: 1 + len // hop with center=True.
        assert_eq!(cfg.n_frames(16_000), 101);
        let no_center = MelConfig {
            center: false,
            ..cfg
        };
        assert_eq!(no_center.n_frames(16_000), 1 + (16_000 - 512) / 160);
    }

    #[test]
    fn sine_peaks_in_the_right_band() {
        let cfg = MelConfig::default().plain();
        let ex = MelExtractor::new(cfg.clone()).unwrap();
        let x: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mel = ex.compute_samples(&x).unwrap();
        let fb = ex.filterbank();
        let n_freq = cfg.n_fft / 2 + 1;
        let bin = 1000 * cfg.n_fft / 16_000;
        let expected = (0..cfg.n_mels)
            .max_by(|&a, &b| fb[a * n_freq + bin].total_cmp(&fb[b * n_freq + bin]))
            .unwrap();
        let t = mel.n_frames / 2;
        let loudest = (0..mel.n_mels)
            .max_by(|&a, &b| mel.get(a, t).total_cmp(&mel.get(b, t)))
            .unwrap();
        assert_eq!(loudest, expected);
    }

    #[test]
    fn reflect_padding_mirrors() {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        let got: Vec<f32> = (-3..7)
            .map(|i| padded_sample(&x, i, PadMode::Reflect))
            .collect();
        // numpy.pad([1,2,3,4], 3, mode="reflect") = [4,3,2,1,2,3,4,3,2,1]
        assert_eq!(got, vec![4.0, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0]);
    }

    #[test]
    fn normalisation_gives_zero_mean_unit_variance() {
        let cfg = MelConfig {
            vad: None,
            ..MelConfig::default()
        };
        let ex = MelExtractor::new(cfg).unwrap();
        let x: Vec<f32> = (0..32_000)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let mel = ex.compute_samples(&x).unwrap();
        for b in 0..mel.n_mels {
            let band = mel.band(b);
            let mean: f32 = band.iter().sum::<f32>() / band.len() as f32;
            let var: f32 = band.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / band.len() as f32;
            assert!(mean.abs() < 1e-4);
            assert!((var - 1.0).abs() < 1e-3 || var < 1e-6);
        }
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let base = MelConfig::default();
        for bad in [
            MelConfig {
                n_fft: 0,
                ..base.clone()
            },
            MelConfig {
                win_length: 1024,
                ..base.clone()
            },
            MelConfig {
                hop_length: 0,
                ..base.clone()
            },
            MelConfig {
                fmax: 9_000.0,
                ..base.clone()
            },
            MelConfig {
                fmin: 9_000.0,
                ..base.clone()
            },
            MelConfig {
                n_mels: 0,
                ..base.clone()
            },
            MelConfig {
                log_floor: 0.0,
                ..base.clone()
            },
            MelConfig {
                power: f64::NAN,
                ..base.clone()
            },
        ] {
            assert!(matches!(
                MelExtractor::new(bad),
                Err(Error::InvalidConfig(_))
            ));
        }
    }
}
