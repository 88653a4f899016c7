//! The voice-branch training loop and prediction.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::augment::{augment_example_warped, crop};
pub(crate) use super::engine::argmax;
use super::engine::{fit, head_class_weights, score_predictions, BatchTargets};
pub use super::engine::{EarlyStopping, EpochLog, TrainConfig, TrainOutcome, ValidationMetrics};
use super::loss::smoothed_one_hot;
use crate::audio::{LogMel, MelConfig};
use crate::labels::{Emotion, Gender};
use crate::model::{
    init_weights, Prediction, TestTimeViews, VoiceConfig, VoiceNet, VoicePredictor, DTYPE,
};
use crate::rng::SeededRng;
use crate::{Error, Result};

/// One training or evaluation clip: its un-normalised log-mel (as the feature cache stores it)
/// and whichever labels it has.
#[derive(Debug, Clone)]
pub struct VoiceExample {
    /// Log-mel before band normalisation.
    pub mel: LogMel,
    /// Perceived-gender label, if known.
    pub gender: Option<Gender>,
    /// Emotion label, if known.
    pub emotion: Option<Emotion>,
    /// Speaker or other group (for reporting).
    pub group: Option<String>,
}

/// Everything that defines a voice-model training run: the JSON file `examples/train.rs` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceTrainingConfig {
    /// Architecture.
    pub model: VoiceConfig,
    /// Features.
    pub mel: MelConfig,
    /// Optimisation, regularisation, augmentation.
    pub train: TrainConfig,
    /// Emotion classes, in head order.
    pub emotions: Vec<Emotion>,
    /// Networks trained (seeds `seed`, `seed + 1`, ...) and averaged: an ensemble when above 1.
    pub members: usize,
    /// Test-time augmentation: used to score the cross-validation test folds and saved in the
    /// model file for the analyser.
    pub tta: TestTimeViews,
    /// Further test-time augmentations scored, with `tta` and no augmentation, on the
    /// inner-validation speakers at the end of each cross-validation fold: the evidence for
    /// choosing `tta` without looking at the test speakers.
    pub tta_compare: Vec<TestTimeViews>,
    /// Relative loss weight of each corpus, so that a large corpus does not drown a small
    /// one. A corpus is the part of an example's group before the first `_` (`actor` for
    /// RAVDESS, `accent` for the Speech Accent Archive, `crema`, `emodb`); one not listed
    /// weighs 1. Weights are rescaled so the mean over the training examples is 1. Empty: every
    /// example weighs the same.
    pub corpus_weights: std::collections::BTreeMap<String, f32>,
}

/// The corpus of a group id: the part before the first `_` (`accent_1535` → `accent`).
pub fn corpus_of(group: Option<&str>) -> &str {
    group.and_then(|g| g.split('_').next()).unwrap_or("")
}

impl Default for VoiceTrainingConfig {
    fn default() -> Self {
        Self {
            model: VoiceConfig::default(),
            mel: MelConfig {
                normalize: false,
                ..MelConfig::default()
            },
            train: TrainConfig::default(),
            emotions: crate::labels::RAVDESS_EMOTIONS.to_vec(),
            members: 1,
            tta: TestTimeViews::none(),
            tta_compare: Vec::new(),
            corpus_weights: Default::default(),
        }
    }
}

impl VoiceTrainingConfig {
    /// Checks the parts agree with each other.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.mel.validate()?;
        if self.mel.normalize {
            return Err(Error::InvalidConfig(
                "set mel.normalize to false: the model normalises its input itself \
                 (model.input_norm), so training and inference see the same features"
                    .into(),
            ));
        }
        if self.model.n_mels != self.mel.n_mels {
            return Err(Error::InvalidConfig(format!(
                "model expects {} mel bands but the features have {}",
                self.model.n_mels, self.mel.n_mels
            )));
        }
        if self.members == 0 {
            return Err(Error::InvalidConfig("members must be at least 1".into()));
        }
        self.train.augment.validate()?;
        if let Some(c) = &self.train.augment.channel {
            c.validate()?;
        }
        if self
            .corpus_weights
            .values()
            .any(|w| !(w.is_finite() && *w > 0.0))
        {
            return Err(Error::InvalidConfig(
                "corpus weights must be positive".into(),
            ));
        }
        self.tta.validate_for_voices()?;
        for t in &self.tta_compare {
            t.validate_for_voices()?;
        }
        self.train
            .validate_common(self.model.n_emotions, self.emotions.len())
    }
}

/// Scores predictions against labels (only the rows carrying each label count).
pub fn validation_metrics(
    examples: &[VoiceExample],
    preds: &[Prediction],
    emotions: &[Emotion],
) -> Result<ValidationMetrics> {
    let labels = examples.iter().map(|ex| {
        (
            ex.gender.map(|g| g as usize),
            ex.emotion
                .and_then(|e| emotions.iter().position(|&x| x == e)),
        )
    });
    let names: Vec<String> = emotions.iter().map(|e| e.to_string()).collect();
    score_predictions(labels, preds, &names)
}

/// Trains a voice model on `train`, scoring `val` (may be empty) after every epoch, and
/// appending every epoch's [`EpochLog`] as a JSON line to `log` when given.
///
/// # Errors
///
/// [`Error::InvalidConfig`] for an inconsistent config or an empty training set (or one with
/// no labels at all), [`Error::Model`] when candle fails (for example a non-finite gradient).
pub fn train_voice(
    cfg: &VoiceTrainingConfig,
    train: &[VoiceExample],
    val: &[VoiceExample],
    log: Option<&Path>,
) -> Result<TrainOutcome<VoiceNet>> {
    cfg.validate()?;
    let t = &cfg.train;
    if train.is_empty() {
        return Err(Error::InvalidConfig("no training examples".into()));
    }
    if let Some(bad) = train
        .iter()
        .find(|e| e.mel.n_mels != cfg.model.n_mels || e.mel.n_frames == 0)
    {
        return Err(Error::InvalidConfig(format!(
            "a training log-mel is {}x{}, the model needs {} bands",
            bad.mel.n_mels, bad.mel.n_frames, cfg.model.n_mels
        )));
    }
    let emotions = &cfg.emotions;
    let emotion_index = |e: Option<Emotion>| e.and_then(|e| emotions.iter().position(|&x| x == e));
    let (gender_cw, emotion_cw) = head_class_weights(
        train
            .iter()
            .map(|ex| (ex.gender.map(|g| g as usize), emotion_index(ex.emotion))),
        emotions.len(),
        t.class_balance,
    )?;

    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DTYPE, &device);
    let net = VoiceNet::new(&cfg.model, vb)?;
    init_weights(&varmap, t.seed)?;
    net.reseed_dropout(t.seed ^ 0xd20f);
    // Per-example loss weight from its corpus, mean 1 over the training set (all 1 when no
    // corpus weights are given).
    let example_w: Vec<f32> = if cfg.corpus_weights.is_empty() {
        vec![1.0; train.len()]
    } else {
        let raw: Vec<f32> = train
            .iter()
            .map(|e| {
                let c = corpus_of(e.group.as_deref());
                cfg.corpus_weights.get(c).copied().unwrap_or(1.0)
            })
            .collect();
        let mean = raw.iter().sum::<f32>() / raw.len() as f32;
        raw.iter().map(|w| w / mean).collect()
    };
    let root_rng = SeededRng::new(t.seed);
    let smoothing = t.label_smoothing;
    let n_emotions = emotions.len();
    let make_batch = |chunk: &[usize], epoch: usize, b: usize, rng: &mut SeededRng| {
        let batch_seed = (epoch as u64) << 32 | b as u64;
        let (augmented, warps): (Vec<LogMel>, Vec<f32>) = chunk
            .par_iter()
            .enumerate()
            .map(|(i, &idx)| {
                let mut r = root_rng.fork(batch_seed.wrapping_mul(1_000_003) ^ i as u64);
                augment_example_warped(
                    &train[idx].mel,
                    &t.augment,
                    cfg.model.input_norm,
                    &cfg.mel,
                    &mut r,
                )
            })
            .unzip();
        let frames = augmented.iter().map(|m| m.n_frames).min().unwrap_or(1);
        let bsz = chunk.len();
        let mut input = Vec::with_capacity(bsz * cfg.model.n_mels * frames);
        for m in &augmented {
            let start = if m.n_frames > frames {
                rng.below(m.n_frames - frames + 1)
            } else {
                0
            };
            input.extend_from_slice(&crop(m, start, frames).data);
        }
        let mut tg = BatchTargets::new(bsz, n_emotions);
        for (i, &idx) in chunk.iter().enumerate() {
            let ex = &train[idx];
            if let Some(g) = ex.gender.filter(|_| t.augment.keeps_gender(warps[i])) {
                let k = g as usize;
                tg.gender[i * 2..i * 2 + 2].copy_from_slice(&smoothed_one_hot(k, 2, smoothing));
                tg.gender_w[i] = gender_cw[k] * example_w[idx];
            }
            if let Some(k) = emotion_index(ex.emotion) {
                tg.emotion[i * n_emotions..(i + 1) * n_emotions]
                    .copy_from_slice(&smoothed_one_hot(k, n_emotions, smoothing));
                tg.emotion_w[i] = emotion_cw[k] * example_w[idx];
            }
        }
        if let Some(alpha) = t.augment.mixup_alpha {
            if rng.chance(t.augment.mixup_probability as f64) {
                tg.mixup(&mut input, bsz, alpha, rng);
            }
        }
        let x = Tensor::from_vec(input, (bsz, cfg.model.n_mels, frames), &device)?;
        Ok((x, tg))
    };
    let validate = |net: &VoiceNet| {
        if val.is_empty() {
            return Ok(None);
        }
        let mels: Vec<&LogMel> = val.iter().map(|e| &e.mel).collect();
        let preds = VoicePredictor::single(net.clone()).predict(&mels)?;
        validation_metrics(val, &preds, emotions).map(Some)
    };
    fit(t, varmap, net, train.len(), make_batch, validate, log)
}

/// Trains `cfg.members` networks, member `i` with seed `cfg.train.seed + i` (member 0 is what
/// [`train_voice`] trains); member `i > 0` logs to `<log>` with `.member{i}` before the
/// extension.
pub fn train_voice_members(
    cfg: &VoiceTrainingConfig,
    train: &[VoiceExample],
    val: &[VoiceExample],
    log: Option<&Path>,
) -> Result<Vec<TrainOutcome<VoiceNet>>> {
    cfg.validate()?;
    (0..cfg.members)
        .map(|i| {
            let mut c = cfg.clone();
            c.train.seed = cfg.train.seed.wrapping_add(i as u64);
            // Each member checkpoints on its own.
            c.train.checkpoint = cfg
                .train
                .checkpoint
                .as_ref()
                .map(|d| d.join(format!("member{i}")));
            let member_log = log.map(|p| {
                if i == 0 {
                    p.to_path_buf()
                } else {
                    p.with_extension(format!(
                        "member{i}.{}",
                        p.extension().and_then(|e| e.to_str()).unwrap_or("log")
                    ))
                }
            });
            train_voice(&c, train, val, member_log.as_deref())
        })
        .collect()
}
