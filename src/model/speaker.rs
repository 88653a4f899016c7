//! A port of Resemblyzer's pretrained speaker encoder (GE2E; Corentin Jemine / Resemble AI,
//! Apache License 2.0), the pretrained voice backbone behind the voice branch's perceived
//! gender: a network that has heard thousands of speakers (LibriSpeech, VoxCeleb 1 and 2)
//! knows what makes two voices differ far better than one trained on 24 actors and 716
//! readers (model card, "A pretrained speaker encoder").
//!
//! # The network
//!
//! - Input: 16 kHz samples, raised to -30 dBFS when quieter (never lowered), cut into partial
//!   utterances of 160 frames (1.6 s) that start every 77 frames (1.3 per second); the last one
//!   is zero-padded, and dropped when it covers less than 75% of its span (unless it is the
//!   only one).
//! - Features: a 40-band mel power spectrogram (no logarithm): 400-sample periodic Hann window,
//!   160-sample hop, frames centred with zero padding, Slaney mel scale and normalisation over
//!   0-8 kHz (librosa's `melspectrogram` defaults).
//! - A 3-layer LSTM (40 → 256, 256 → 256, 256 → 256; PyTorch's gate order input, forget,
//!   cell, output); the last layer's final hidden state → linear 256 → 256 → ReLU → L2
//!   normalisation: one embedding per partial.
//! - The utterance embedding: the mean of the partials' embeddings, L2-normalised.
//!
//! Resemblyzer also shortens long pauses with webrtcvad before all this; facevox does not port
//! that detector: callers trim leading and trailing silence with [`crate::audio::vad`], as the
//! rest of the voice branch does.
//!
//! Weights: `tools/convert_resemblyzer.py` converts the wheel's `pretrained.pt` to
//! `models/speaker_ge2e.safetensors`, keeping PyTorch's tensor names. `tests/speaker_encoder.rs`
//! checks the port against a plain reference on random weights (always) and against the
//! original PyTorch code's embeddings of 20 real recordings (with the data: cosine at least
//! 0.999).

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::audio::{LogScale, MelConfig, MelExtractor, MelNorm, MelScale, PadMode, WindowKind};
use crate::{Error, Result};

/// The sample rate the encoder takes.
pub const SAMPLE_RATE: u32 = 16_000;
/// Mel bands in.
pub const N_MELS: usize = 40;
/// Frames in one partial utterance (1.6 s).
pub const PARTIAL_FRAMES: usize = 160;
/// Samples per frame (10 ms).
pub const HOP: usize = 160;
/// Length of the embedding.
pub const EMBEDDING: usize = 256;
/// Partial utterances per second of audio.
pub const PARTIALS_PER_SECOND: f64 = 1.3;
/// The last partial is kept when at least this share of it holds audio.
pub const MIN_COVERAGE: f64 = 0.75;
/// Partial utterances run through the network together (bounds the memory of long input).
const PARTIAL_BATCH: usize = 32;
/// Level quieter recordings are raised to, in dB relative to full scale.
pub const TARGET_DBFS: f64 = -30.0;

#[derive(Debug, Clone)]
struct LstmLayer {
    /// `(in, 4H)`: the input weights, transposed for `x · W`.
    w_ih_t: Tensor,
    /// `(H, 4H)` row-major: the recurrent weights, transposed (`h · W`).
    w_hh_t: Vec<f32>,
    /// `b_ih + b_hh`, `(4H)`.
    bias: Tensor,
    hidden: usize,
}

impl LstmLayer {
    /// Runs the layer over `x` `(B, T, in)`; returns every step's hidden state `(B, T, H)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, n_in) = x.dims3()?;
        let h4 = 4 * self.hidden;
        let hid = self.hidden;
        // All the input projections at once: (B·T, in) · (in, 4H) + bias.
        let xw = x
            .reshape((b * t, n_in))?
            .matmul(&self.w_ih_t)?
            .broadcast_add(&self.bias)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let mut out = vec![0f32; b * t * hid];
        let mut h = vec![0f32; b * hid];
        let mut c = vec![0f32; b * hid];
        let mut gates = vec![0f32; b * h4];
        for ti in 0..t {
            // Every partial's step at once: gates (B, 4H) = x·W + bias + h·U.
            for bi in 0..b {
                let row = (bi * t + ti) * h4;
                gates[bi * h4..(bi + 1) * h4].copy_from_slice(&xw[row..row + h4]);
            }
            if ti > 0 {
                super::conv::gemm_rm(
                    &mut gates,
                    &h,
                    false,
                    &self.w_hh_t,
                    false,
                    (b, h4, hid),
                    true,
                    1,
                );
            }
            for bi in 0..b {
                let g = &gates[bi * h4..(bi + 1) * h4];
                let (hb, cb) = (
                    &mut h[bi * hid..(bi + 1) * hid],
                    &mut c[bi * hid..(bi + 1) * hid],
                );
                for j in 0..hid {
                    let i_g = sigmoid(g[j]);
                    let f_g = sigmoid(g[hid + j]);
                    let g_g = g[2 * hid + j].tanh();
                    let o_g = sigmoid(g[3 * hid + j]);
                    cb[j] = f_g * cb[j] + i_g * g_g;
                    hb[j] = o_g * cb[j].tanh();
                }
                out[(bi * t + ti) * hid..(bi * t + ti + 1) * hid].copy_from_slice(hb);
            }
        }
        Ok(Tensor::from_vec(out, (b, t, hid), &Device::Cpu)?)
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Resemblyzer's speaker encoder: audio in, a 256-d unit-length embedding out. Cheap to share
/// between threads (`Send + Sync`).
#[derive(Debug, Clone)]
pub struct SpeakerEncoder {
    layers: Vec<LstmLayer>,
    /// `(H, E)`: the linear layer, transposed.
    linear_t: Tensor,
    linear_b: Tensor,
    mel: std::sync::Arc<MelExtractor>,
}

impl SpeakerEncoder {
    /// Loads converted weights (`tools/convert_resemblyzer.py`) from safetensors bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let tensors = super::weights::NamedTensors::parse(bytes, "speaker encoder weights")?;
        let bad = |m: String| tensors.bad(m);
        let get = |name: &str| tensors.f32(name);
        let mut layers = Vec::new();
        let mut n_in = N_MELS;
        for k in 0.. {
            if !tensors.contains(&format!("lstm.weight_ih_l{k}")) {
                break;
            }
            let w_ih = get(&format!("lstm.weight_ih_l{k}"))?;
            let w_hh = get(&format!("lstm.weight_hh_l{k}"))?;
            let (h4, got_in) = w_ih
                .dims2()
                .map_err(|_| bad(format!("layer {k}: not 2-D")))?;
            let hidden = h4 / 4;
            if h4 % 4 != 0 || got_in != n_in || w_hh.dims() != [h4, hidden] {
                return Err(bad(format!(
                    "layer {k}: weight_ih {:?}, weight_hh {:?} (expected ({h4}, {n_in}) and ({h4}, {hidden}))",
                    w_ih.dims(),
                    w_hh.dims()
                )));
            }
            let bias = (get(&format!("lstm.bias_ih_l{k}"))? + get(&format!("lstm.bias_hh_l{k}"))?)
                .map_err(|e| bad(format!("layer {k} biases: {e}")))?;
            if bias.dims() != [h4] {
                return Err(bad(format!("layer {k}: biases are {:?}", bias.dims())));
            }
            layers.push(LstmLayer {
                w_ih_t: w_ih.t()?.contiguous()?,
                w_hh_t: w_hh.t()?.contiguous()?.flatten_all()?.to_vec1()?,
                bias,
                hidden,
            });
            n_in = hidden;
        }
        if layers.is_empty() {
            return Err(bad("no LSTM layers (lstm.weight_ih_l0)".into()));
        }
        let linear = get("linear.weight")?;
        let linear_b = get("linear.bias")?;
        let (e, h) = linear
            .dims2()
            .map_err(|_| bad("linear.weight is not 2-D".into()))?;
        if h != n_in || linear_b.dims() != [e] {
            return Err(bad(format!(
                "linear layer {:?} + {:?} after an LSTM of {n_in}",
                linear.dims(),
                linear_b.dims()
            )));
        }
        Ok(Self {
            layers,
            linear_t: linear.t()?.contiguous()?,
            linear_b,
            mel: std::sync::Arc::new(MelExtractor::new(Self::mel_config())?),
        })
    }

    /// Loads converted weights from a file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes)
    }

    /// The encoder's features: 40 mel bands of power, as Resemblyzer computes them.
    pub fn mel_config() -> MelConfig {
        MelConfig {
            sample_rate: SAMPLE_RATE,
            n_fft: 400,
            win_length: 400,
            hop_length: HOP,
            window: WindowKind::Hann,
            n_mels: N_MELS,
            fmin: 0.0,
            fmax: 8_000.0,
            mel_scale: MelScale::Slaney,
            norm: MelNorm::Slaney,
            power: 2.0,
            log: LogScale::None,
            log_floor: 1e-10,
            center: true,
            pad_mode: PadMode::Constant,
            vad: None,
            normalize: false,
        }
    }

    /// Length of the embedding.
    pub fn dim(&self) -> usize {
        self.linear_b.dims()[0]
    }

    /// Embeddings of partial utterances, mel power `(B, T, 40)` → `(B, E)`, each of unit length.
    pub fn embed_partials(&self, mels: &Tensor) -> Result<Tensor> {
        let mut x = mels.clone();
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        let t = x.dim(1)?;
        let last = x.narrow(1, t - 1, 1)?.squeeze(1)?;
        let e = last
            .matmul(&self.linear_t)?
            .broadcast_add(&self.linear_b)?
            .relu()?;
        let norm = e.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
        Ok(e.broadcast_div(&norm)?)
    }

    /// The embedding of one recording at 16 kHz (see the module notes for the steps). The
    /// caller trims leading and trailing silence if it wants to.
    ///
    /// Errors: [`Error::Empty`] for no samples, [`Error::NonFinite`] for NaN or infinity,
    /// [`Error::Silent`] when every sample is zero, and [`Error::TooShort`] below one window
    /// (25 ms).
    pub fn embed(&self, samples: &[f32]) -> Result<Vec<f32>> {
        Ok(self.embed_with_partials(samples)?.0)
    }

    /// As [`embed`](Self::embed), with the embedding of each partial utterance (`(n, E)`, row
    /// by row), whose spread says how steady the voice is across the recording.
    pub fn embed_with_partials(&self, samples: &[f32]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        if samples.is_empty() {
            return Err(Error::Empty(
                "no audio samples for the speaker encoder".into(),
            ));
        }
        if samples.iter().any(|s| !s.is_finite()) {
            return Err(Error::NonFinite);
        }
        if samples.len() < 400 {
            return Err(Error::TooShort {
                got: samples.len(),
                needed: 400,
            });
        }
        let wav = normalize_volume(samples).ok_or(Error::Silent)?;
        let slices = partial_slices(wav.len());
        let stop = slices.last().map(|&(_, e)| e * HOP).unwrap_or(0);
        let mut padded = wav;
        if stop >= padded.len() {
            padded.resize(stop, 0.0);
        }
        let mel = self.mel.compute_samples(&padded)?;
        let n = slices.len();
        // Partials go through the network in batches, so an hour of audio (4,680 partials)
        // never holds more than one batch's activations.
        let mut partials: Vec<Vec<f32>> = Vec::with_capacity(n);
        for batch in slices.chunks(PARTIAL_BATCH) {
            let mut data = Vec::with_capacity(batch.len() * PARTIAL_FRAMES * N_MELS);
            for &(s, e) in batch {
                for f in s..e {
                    for band in 0..N_MELS {
                        data.push(if f < mel.n_frames {
                            mel.get(band, f)
                        } else {
                            0.0
                        });
                    }
                }
            }
            let mels = Tensor::from_vec(data, (batch.len(), PARTIAL_FRAMES, N_MELS), &Device::Cpu)?;
            partials.extend(self.embed_partials(&mels)?.to_vec2::<f32>()?);
        }
        let d = self.dim();
        let mut mean = vec![0f32; d];
        for p in &partials {
            for (m, v) in mean.iter_mut().zip(p) {
                *m += v / n as f32;
            }
        }
        let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        mean.iter_mut().for_each(|v| *v /= norm);
        Ok((mean, partials))
    }
}

/// Raises quiet audio to [`TARGET_DBFS`] (Resemblyzer's `normalize_volume(increase_only=True)`);
/// `None` when every sample is zero.
fn normalize_volume(samples: &[f32]) -> Option<Vec<f32>> {
    let full = i16::MAX as f64;
    let ms = samples
        .iter()
        .map(|&s| (s as f64 * full).powi(2))
        .sum::<f64>()
        / samples.len() as f64;
    if ms <= 0.0 {
        return None;
    }
    let dbfs = 20.0 * (ms.sqrt() / full).log10();
    let change = TARGET_DBFS - dbfs;
    if change < 0.0 {
        return Some(samples.to_vec());
    }
    let gain = 10f64.powf(change / 20.0) as f32;
    Some(samples.iter().map(|s| s * gain).collect())
}

/// The mel-frame ranges `[start, end)` of the partial utterances of `n_samples` samples
/// (Resemblyzer's `compute_partial_slices` at 1.3 partials per second, 75% minimum coverage).
pub fn partial_slices(n_samples: usize) -> Vec<(usize, usize)> {
    let n_frames = (n_samples + 1).div_ceil(HOP);
    let step = ((SAMPLE_RATE as f64 / PARTIALS_PER_SECOND) / HOP as f64).round() as usize;
    let steps = (n_frames + step + 1).saturating_sub(PARTIAL_FRAMES).max(1);
    let mut out: Vec<(usize, usize)> = (0..steps)
        .step_by(step)
        .map(|i| (i, i + PARTIAL_FRAMES))
        .collect();
    let (last, _) = out[out.len() - 1];
    let span = (PARTIAL_FRAMES * HOP) as f64;
    let coverage = (n_samples as f64 - (last * HOP) as f64) / span;
    if coverage < MIN_COVERAGE && out.len() > 1 {
        out.pop();
    }
    out
}

/// Perceived gender from a speaker embedding: a logistic regression on the encoder's output,
/// `P(female) = sigmoid((w · e + b) / temperature)`. Trained by
/// `training::fit_speaker_gender` (the `speaker_gender` example); saved in
/// `voice.json` under `speaker_gender`, where it replaces the networks' gender output.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpeakerGenderHead {
    /// Weights of the embedding's components, `w`.
    pub weights: Vec<f32>,
    /// Bias `b`.
    pub bias: f32,
    /// Temperature fitted on speakers the regression did not train on.
    pub temperature: f32,
    /// The L2 penalty's strength as scikit-learn's `C` (larger: weaker), chosen by
    /// cross-validation by speaker.
    #[serde(default)]
    pub c: f64,
    /// How it was made: command, data, metrics.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl SpeakerGenderHead {
    /// `[P(male), P(female)]` for an embedding.
    pub fn predict(&self, embedding: &[f32]) -> [f32; 2] {
        let z = self.logit(embedding) / self.temperature.max(1e-3);
        let f = sigmoid(z);
        [1.0 - f, f]
    }

    /// `w · e + b`, before the temperature.
    pub fn logit(&self, embedding: &[f32]) -> f32 {
        self.bias
            + self
                .weights
                .iter()
                .zip(embedding)
                .map(|(w, e)| w * e)
                .sum::<f32>()
    }

    /// Checks the sizes and values against an encoder's embedding length.
    pub fn validate(&self, dim: usize) -> Result<()> {
        if self.weights.len() != dim {
            return Err(Error::InvalidModelFile(format!(
                "speaker_gender has {} weights for a {dim}-d speaker embedding",
                self.weights.len()
            )));
        }
        if !(self.weights.iter().all(|w| w.is_finite())
            && self.bias.is_finite()
            && self.temperature.is_finite()
            && self.temperature > 0.0)
        {
            return Err(Error::InvalidModelFile(
                "speaker_gender: weights, bias and a positive temperature must be finite".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_follow_resemblyzer() {
        // Values from Resemblyzer's compute_partial_slices (rate 1.3, min_coverage 0.75).
        assert_eq!(partial_slices(16_000), vec![(0, 160)]);
        assert_eq!(partial_slices(32_000), vec![(0, 160), (77, 237)]);
        assert_eq!(
            partial_slices(56_000),
            vec![(0, 160), (77, 237), (154, 314)]
        );
        // 2.5 s: a third partial would start at frame 154 and cover 60% of its span: dropped.
        assert_eq!(partial_slices(40_000), vec![(0, 160), (77, 237)]);
        // 10 s: twelve partials every 77 frames, the last one (847..1007) 96% covered.
        let s = partial_slices(160_000);
        assert_eq!(s.len(), 12);
        assert!(s
            .iter()
            .enumerate()
            .all(|(i, &(a, b))| a == 77 * i && b == a + 160));
    }

    #[test]
    fn volume_only_goes_up() {
        let quiet = vec![0.001f32; 100];
        let loud = vec![0.5f32; 100];
        let q = normalize_volume(&quiet).unwrap();
        let rms = (q.iter().map(|v| v * v).sum::<f32>() / 100.0).sqrt() * i16::MAX as f32;
        assert!((20.0 * (rms / i16::MAX as f32).log10() - TARGET_DBFS as f32).abs() < 0.01);
        assert_eq!(normalize_volume(&loud).unwrap(), loud);
        assert!(normalize_volume(&[0.0; 10]).is_none());
    }
}
