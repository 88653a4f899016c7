//! VoiceNet: the voice branch, a 1-D convolutional network over log-mel spectrograms.
//!
//! The mel bands are the input channels and the convolutions run over time (a time-delay network
//! in the x-vector tradition, Snyder et al. 2018): four `conv → batch-norm → ReLU (→ max-pool)`
//! blocks, statistics pooling (mean and standard deviation over time, so any clip length works),
//! a fully connected embedding, and two heads — perceived gender (2) and emotion (the 8 RAVDESS
//! classes). 1-D convolutions keep training fast on a CPU: candle runs them as im2col + GEMM.
//!
//! Weights are saved as safetensors with a JSON [`VoiceModelFile`] beside them holding the model
//! config and the [`MelConfig`], so inference computes exactly the features training used.

use std::path::Path;

use candle_core::{Device, Result as CResult, Tensor};
use candle_nn::{Linear, ModuleT, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::blocks::{stats_pool, ConvBlock1d, SeededDropout};
use crate::audio::MelConfig;
use crate::labels::{Emotion, RAVDESS_EMOTIONS};
use crate::{Error, Result};

/// How a log-mel is normalised before it enters the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputNorm {
    /// Raw log-mel values.
    None,
    /// Zero mean and unit variance over the whole utterance (all bands together): removes the
    /// recording level but keeps the spectral shape, which carries voice quality and pitch
    /// register.
    #[default]
    Utterance,
    /// Zero mean and unit variance per band over time (cepstral-mean-style). This removes the
    /// long-term spectrum, and with it most of what a first linear layer can see in the
    /// per-utterance averages; measured on RAVDESS it trains far worse than `utterance`.
    PerBand,
}

impl InputNorm {
    /// Normalises `mel` in place.
    pub fn apply(self, mel: &mut crate::audio::LogMel) {
        match self {
            InputNorm::None => {}
            InputNorm::PerBand => crate::train::augment::normalize_bands(mel),
            InputNorm::Utterance => {
                let n = mel.data.len().max(1) as f64;
                let mean = mel.data.iter().map(|&v| v as f64).sum::<f64>() / n;
                let var = mel
                    .data
                    .iter()
                    .map(|&v| (v as f64 - mean).powi(2))
                    .sum::<f64>()
                    / n;
                let inv = 1.0 / var.sqrt().max(1e-5);
                mel.data
                    .iter_mut()
                    .for_each(|v| *v = ((*v as f64 - mean) * inv) as f32);
            }
        }
    }
}

/// Architecture hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceConfig {
    /// Input channels: the number of mel bands.
    pub n_mels: usize,
    /// Normalisation of the log-mel before the first layer.
    pub input_norm: InputNorm,
    /// Output channels of each conv block.
    pub channels: Vec<usize>,
    /// Kernel size of each block (odd).
    pub kernels: Vec<usize>,
    /// Dilation of each block.
    pub dilations: Vec<usize>,
    /// Max-pool factor over time after each block (1 = none).
    pub pools: Vec<usize>,
    /// Size of the embedding.
    pub embedding: usize,
    /// Dropout before the heads (training only).
    pub dropout: f32,
    /// Number of emotion classes.
    pub n_emotions: usize,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            n_mels: 64,
            input_norm: InputNorm::Utterance,
            channels: vec![128, 128, 192, 256],
            kernels: vec![5, 3, 3, 3],
            dilations: vec![1, 2, 1, 1],
            pools: vec![1, 2, 2, 1],
            embedding: 128,
            dropout: 0.3,
            n_emotions: RAVDESS_EMOTIONS.len(),
        }
    }
}

impl VoiceConfig {
    /// A very small network for tests.
    pub fn tiny() -> Self {
        Self {
            n_mels: 16,
            input_norm: InputNorm::Utterance,
            channels: vec![8, 8],
            kernels: vec![3, 3],
            dilations: vec![1, 1],
            pools: vec![2, 1],
            embedding: 8,
            dropout: 0.1,
            n_emotions: RAVDESS_EMOTIONS.len(),
        }
    }

    /// Checks that the per-block lists agree.
    pub fn validate(&self) -> Result<()> {
        let n = self.channels.len();
        if n == 0
            || self.kernels.len() != n
            || self.dilations.len() != n
            || self.pools.len() != n
            || self.kernels.iter().any(|k| k % 2 == 0)
            || self.pools.contains(&0)
            || self.dilations.contains(&0)
            || self.n_mels == 0
            || self.embedding == 0
            || self.n_emotions == 0
            || !(0.0..1.0).contains(&self.dropout)
        {
            return Err(Error::InvalidConfig(format!(
                "inconsistent VoiceConfig: {self:?}"
            )));
        }
        Ok(())
    }
}

/// What the network produces for a batch.
#[derive(Debug, Clone)]
pub struct VoiceOutput {
    /// `(B, embedding)` after ReLU: the voice embedding the fusion head consumes.
    pub embedding: Tensor,
    /// `(B, 2)` gender logits (male, female).
    pub gender_logits: Tensor,
    /// `(B, n_emotions)` emotion logits.
    pub emotion_logits: Tensor,
}

/// The voice branch.
#[derive(Debug, Clone)]
pub struct VoiceNet {
    blocks: Vec<ConvBlock1d>,
    embed: Linear,
    dropout: SeededDropout,
    gender_head: Linear,
    emotion_head: Linear,
    config: VoiceConfig,
}

impl VoiceNet {
    /// Builds the network; weights come from (or are created in) `vb`.
    pub fn new(config: &VoiceConfig, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let build = || -> CResult<Self> {
            let mut blocks = Vec::with_capacity(config.channels.len());
            let mut c_in = config.n_mels;
            for i in 0..config.channels.len() {
                blocks.push(ConvBlock1d::new(
                    c_in,
                    config.channels[i],
                    config.kernels[i],
                    config.dilations[i],
                    config.pools[i],
                    vb.pp(format!("block{}", i + 1)),
                )?);
                c_in = config.channels[i];
            }
            let embed = candle_nn::linear(2 * c_in, config.embedding, vb.pp("embed"))?;
            let gender_head = candle_nn::linear(config.embedding, 2, vb.pp("gender_head"))?;
            let emotion_head =
                candle_nn::linear(config.embedding, config.n_emotions, vb.pp("emotion_head"))?;
            Ok(Self {
                blocks,
                embed,
                dropout: SeededDropout::new(config.dropout, 0),
                gender_head,
                emotion_head,
                config: config.clone(),
            })
        };
        build().map_err(Error::from)
    }

    /// The architecture.
    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// Restarts the dropout masks from `seed` (training calls this once, from its own seed).
    pub fn reseed_dropout(&self, seed: u64) {
        self.dropout.reseed(seed);
    }

    /// Runs a batch `(B, n_mels, T)`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> CResult<VoiceOutput> {
        let mut h = x.clone();
        for block in &self.blocks {
            h = block.forward_t(&h, train)?;
        }
        let pooled = stats_pool(&h)?;
        let embedding = pooled.apply(&self.embed)?.relu()?;
        let dropped = self.dropout.forward_t(&embedding, train)?;
        Ok(VoiceOutput {
            gender_logits: dropped.apply(&self.gender_head)?,
            emotion_logits: dropped.apply(&self.emotion_head)?,
            embedding,
        })
    }
}

/// The JSON saved beside a voice model's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceModelFile {
    /// Format version of this file.
    pub format: u32,
    /// Architecture.
    pub model: VoiceConfig,
    /// Features the model was trained on.
    pub mel: MelConfig,
    /// Emotion classes in head order.
    pub emotions: Vec<Emotion>,
    /// Networks in the file (an ensemble of independently seeded members whose probabilities
    /// are averaged when above 1; their weights are prefixed `member{i}.`).
    #[serde(default = "one")]
    pub members: usize,
    /// Test-time augmentation the analyser applies (none in files that predate it).
    #[serde(default)]
    pub tta: VoiceTta,
    /// How the weights were made (command, seed, data), free-form.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

fn one() -> usize {
    1
}

/// Test-time augmentation for the voice branch: every clip is scored once for each
/// combination of a tempo rate and a mel-axis warp (the same transforms training augments
/// with), and the probabilities of all views are averaged. An empty list stands for `[1.0]`,
/// so the default is one plain view.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceTta {
    /// Tempo rates (above 1 shortens the clip; 1.0 = as recorded).
    pub time_stretch: Vec<f32>,
    /// Mel-axis warp factors (band `b` takes the value at `alpha·b`; 1.0 = unwarped).
    pub freq_warp: Vec<f32>,
}

impl VoiceTta {
    /// One plain view.
    pub fn none() -> Self {
        Self::default()
    }

    /// The views as `(tempo rate, warp factor)` pairs, tempo-major.
    pub fn views(&self) -> Vec<(f32, f32)> {
        let or_one = |v: &[f32]| if v.is_empty() { vec![1.0] } else { v.to_vec() };
        let warps = or_one(&self.freq_warp);
        or_one(&self.time_stretch)
            .into_iter()
            .flat_map(|r| warps.iter().map(move |&a| (r, a)))
            .collect()
    }

    /// Whether this is the single plain view.
    pub fn is_plain(&self) -> bool {
        self.views() == [(1.0, 1.0)]
    }

    /// Every factor must be finite and within 0.5..=2.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("time_stretch", &self.time_stretch),
            ("freq_warp", &self.freq_warp),
        ] {
            if let Some(bad) = v.iter().find(|x| !(0.5..=2.0).contains(*x)) {
                return Err(Error::InvalidConfig(format!(
                    "tta.{what} factor {bad} is outside 0.5..=2"
                )));
            }
        }
        Ok(())
    }
}

impl VoiceModelFile {
    /// Saves `varmap` to `<stem>.safetensors` and this description to `<stem>.json`.
    pub fn save(&self, varmap: &VarMap, stem: &Path) -> Result<()> {
        if self.members != 1 {
            return Err(Error::InvalidConfig(
                "an ensemble file is saved with save_members".into(),
            ));
        }
        super::save_model(self, varmap, stem)
    }

    /// Saves the members' weights (`member{i}.` prefixes) into one file; `members` must equal
    /// `varmaps.len()`. One member is saved without a prefix, as [`save`](Self::save) does.
    pub fn save_members(&self, varmaps: &[VarMap], stem: &Path) -> Result<()> {
        if self.members != varmaps.len() || varmaps.is_empty() {
            return Err(Error::InvalidConfig(format!(
                "the file says {} members but {} weight sets were given",
                self.members,
                varmaps.len()
            )));
        }
        if varmaps.len() == 1 {
            return self.save(&varmaps[0], stem);
        }
        let merged = super::merge_prefixed(
            varmaps
                .iter()
                .enumerate()
                .map(|(i, vm)| (format!("member{i}"), vm)),
        );
        super::save_model(self, &merged, stem)
    }

    /// Loads `<stem>.json` and `<stem>.safetensors` into a ready network (the first member of
    /// an ensemble).
    pub fn load(stem: &Path, device: &Device) -> Result<(Self, VoiceNet)> {
        let (file, mut nets) = Self::load_members(stem, device)?;
        Ok((file, nets.swap_remove(0)))
    }

    /// Loads every member network of the file.
    pub fn load_members(stem: &Path, device: &Device) -> Result<(Self, Vec<VoiceNet>)> {
        let (file, vb): (Self, _) = super::load_model(stem, device)?;
        let nets = match file.members {
            0 => return Err(Error::InvalidConfig("a model file with 0 members".into())),
            1 => vec![VoiceNet::new(&file.model, vb)?],
            n => (0..n)
                .map(|i| VoiceNet::new(&file.model, vb.pp(format!("member{i}"))))
                .collect::<Result<_>>()?,
        };
        Ok((file, nets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn shapes_for_any_length_and_save_load_round_trip() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let cfg = VoiceConfig::tiny();
        let net = VoiceNet::new(&cfg, vb).unwrap();
        for t in [1usize, 7, 50] {
            let x = Tensor::randn(0f32, 1., (3, cfg.n_mels, t), &dev).unwrap();
            let out = net.forward_t(&x, false).unwrap();
            assert_eq!(out.embedding.dims(), &[3, cfg.embedding]);
            assert_eq!(out.gender_logits.dims(), &[3, 2]);
            assert_eq!(out.emotion_logits.dims(), &[3, 8]);
        }
        let names: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
        assert!(
            names.contains(&"block1.conv.weight".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&"emotion_head.weight".to_string()));

        let dir = std::env::temp_dir().join(format!("facevox-voice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("voice");
        let file = VoiceModelFile {
            format: 1,
            tta: Default::default(),
            members: 1,
            model: cfg.clone(),
            mel: MelConfig {
                n_mels: 16,
                ..MelConfig::default()
            },
            emotions: RAVDESS_EMOTIONS.to_vec(),
            provenance: serde_json::json!({"test": true}),
        };
        file.save(&varmap, &stem).unwrap();
        let (loaded, net2) = VoiceModelFile::load(&stem, &dev).unwrap();
        assert_eq!(loaded, file);
        let x = Tensor::randn(0f32, 1., (2, cfg.n_mels, 20), &dev).unwrap();
        let a = net
            .forward_t(&x, false)
            .unwrap()
            .emotion_logits
            .to_vec2::<f32>()
            .unwrap();
        let b = net2
            .forward_t(&x, false)
            .unwrap()
            .emotion_logits
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(a, b);
        assert!(VoiceModelFile::load(&dir.join("missing"), &dev).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ensemble_members_round_trip() {
        let dev = Device::Cpu;
        let cfg = VoiceConfig::tiny();
        let maps: Vec<VarMap> = (0..2)
            .map(|i| {
                let vm = VarMap::new();
                VoiceNet::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
                crate::model::init_weights(&vm, 10 + i).unwrap();
                vm
            })
            .collect();
        let dir = std::env::temp_dir().join(format!("facevox-voice-ens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("voice");
        let file = VoiceModelFile {
            format: 1,
            tta: Default::default(),
            members: 2,
            model: cfg.clone(),
            mel: MelConfig {
                n_mels: 16,
                ..MelConfig::default()
            },
            emotions: RAVDESS_EMOTIONS.to_vec(),
            provenance: serde_json::Value::Null,
        };
        // One weight set for a two-member file, or `save` on an ensemble, is refused.
        assert!(file.save_members(&maps[..1], &stem).is_err());
        assert!(file.save(&maps[0], &stem).is_err());
        file.save_members(&maps, &stem).unwrap();
        let (loaded, nets) = VoiceModelFile::load_members(&stem, &dev).unwrap();
        assert_eq!((loaded.members, nets.len()), (2, 2));
        let x = Tensor::randn(0f32, 1., (2, cfg.n_mels, 20), &dev).unwrap();
        for (vm, net) in maps.iter().zip(&nets) {
            let orig = VoiceNet::new(&cfg, VarBuilder::from_varmap(vm, DType::F32, &dev)).unwrap();
            let a = orig.forward_t(&x, false).unwrap().emotion_logits;
            let b = net.forward_t(&x, false).unwrap().emotion_logits;
            assert_eq!(a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn inconsistent_config_is_rejected() {
        let bad = VoiceConfig {
            kernels: vec![4, 3],
            ..VoiceConfig::tiny()
        };
        assert!(bad.validate().is_err());
    }
}
