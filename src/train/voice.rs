//! The voice-branch training loop and prediction.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::augment::{augment_example, crop, mixup, AudioAugmentConfig};
use super::loss::{balanced_class_weights, masked_soft_cross_entropy, smoothed_one_hot};
use super::optim::{add_l1_penalty, clip_grad_norm, Optimizer, OptimizerConfig};
use super::schedule::LrSchedule;
use crate::audio::{LogMel, MelConfig};
use crate::eval::ClassificationReport;
use crate::labels::{Emotion, Gender};
use crate::model::{init_weights, VoiceConfig, VoiceNet, DTYPE};
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

/// Early stopping on the validation score (mean of gender balanced accuracy and emotion UAR,
/// over the tasks the validation set has labels for).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EarlyStopping {
    /// Stop after this many epochs without a new best score.
    pub patience: usize,
    /// Never stop before this epoch.
    pub min_epochs: usize,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self {
            patience: 15,
            min_epochs: 10,
        }
    }
}

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Seed for weights, shuffling, augmentation and dropout.
    pub seed: u64,
    /// Number of passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Optimiser and its peak learning rate.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule over all steps.
    pub schedule: LrSchedule,
    /// L1 penalty on conv and linear weights (0 = off).
    pub l1: f64,
    /// Clip the global gradient norm to this (0 = off).
    pub grad_clip: f64,
    /// Label smoothing for both heads.
    pub label_smoothing: f32,
    /// Weight each class inversely to its frequency in the training set.
    pub class_balance: bool,
    /// Weight of the gender loss.
    pub gender_weight: f32,
    /// Weight of the emotion loss.
    pub emotion_weight: f32,
    /// Stop when the validation score stops improving (needs a validation set); the best
    /// epoch's weights are kept either way when there is one.
    pub early_stopping: Option<EarlyStopping>,
    /// Augmentation.
    pub augment: AudioAugmentConfig,
    /// Show a progress bar on a terminal.
    pub progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            epochs: 60,
            batch_size: 32,
            optimizer: OptimizerConfig::default(),
            schedule: LrSchedule::default(),
            l1: 0.0,
            grad_clip: 5.0,
            label_smoothing: 0.05,
            class_balance: true,
            gender_weight: 0.5,
            emotion_weight: 1.0,
            early_stopping: None,
            augment: AudioAugmentConfig::default(),
            progress: true,
        }
    }
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
        }
    }
}

impl VoiceTrainingConfig {
    /// Checks the parts agree with each other.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.mel.validate()?;
        self.train.optimizer.validate()?;
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
        if self.model.n_emotions != self.emotions.len() {
            return Err(Error::InvalidConfig(format!(
                "model has {} emotion outputs but {} emotions are listed",
                self.model.n_emotions,
                self.emotions.len()
            )));
        }
        if self.train.batch_size == 0 || self.train.epochs == 0 {
            return Err(Error::InvalidConfig(
                "epochs and batch_size must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Validation metrics after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationMetrics {
    /// Clips evaluated.
    pub n: usize,
    /// Gender accuracy over clips with a gender label.
    pub gender_accuracy: Option<f64>,
    /// Gender balanced accuracy.
    pub gender_balanced_accuracy: Option<f64>,
    /// Emotion accuracy over clips with an emotion label the model knows.
    pub emotion_accuracy: Option<f64>,
    /// Emotion unweighted average recall.
    pub emotion_uar: Option<f64>,
    /// The early-stopping score: mean of the balanced accuracy and the UAR that exist.
    pub score: f64,
}

/// One line of the training log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Mean total loss over the epoch's steps.
    pub loss: f64,
    /// Mean gender loss.
    pub gender_loss: f64,
    /// Mean emotion loss.
    pub emotion_loss: f64,
    /// Mean gradient norm before clipping.
    pub grad_norm: f64,
    /// Training throughput.
    pub clips_per_second: f64,
    /// Wall time of the epoch (training and validation).
    pub seconds: f64,
    /// Validation metrics, when there is a validation set.
    pub validation: Option<ValidationMetrics>,
}

/// What a training run returns.
pub struct TrainOutcome {
    /// The weights (the best epoch's when there was a validation set).
    pub varmap: VarMap,
    /// The network over those weights.
    pub net: VoiceNet,
    /// Every epoch's log.
    pub history: Vec<EpochLog>,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

impl std::fmt::Debug for TrainOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainOutcome")
            .field("net", &self.net)
            .field("epochs", &self.history.len())
            .field("best_epoch", &self.best_epoch)
            .field("stopped_early", &self.stopped_early)
            .finish_non_exhaustive()
    }
}

/// Probabilities for one clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoicePrediction {
    /// `[P(male), P(female)]`.
    pub gender: [f32; 2],
    /// Emotion probabilities in head order.
    pub emotion: Vec<f32>,
    /// The embedding.
    pub embedding: Vec<f32>,
}

/// Runs `net` on each un-normalised log-mel (whole clip, batch of one so no clip is cut or
/// padded), after the model's [`InputNorm`](crate::model::InputNorm).
pub fn predict_voice(net: &VoiceNet, mels: &[&LogMel]) -> Result<Vec<VoicePrediction>> {
    let device = Device::Cpu;
    mels.iter()
        .map(|mel| {
            let mut m = (*mel).clone();
            net.config().input_norm.apply(&mut m);
            if m.n_frames == 0 || m.n_mels != net.config().n_mels {
                return Err(Error::InvalidConfig(format!(
                    "log-mel of {}x{} does not fit a model with {} bands",
                    m.n_mels,
                    m.n_frames,
                    net.config().n_mels
                )));
            }
            if m.data.iter().any(|v| !v.is_finite()) {
                return Err(Error::NonFinite);
            }
            let x = Tensor::from_vec(m.data, (1, m.n_mels, m.n_frames), &device)?;
            let out = net.forward_t(&x, false)?;
            let g = candle_nn::ops::softmax_last_dim(&out.gender_logits)?.to_vec2::<f32>()?;
            let e = candle_nn::ops::softmax_last_dim(&out.emotion_logits)?.to_vec2::<f32>()?;
            Ok(VoicePrediction {
                gender: [g[0][0], g[0][1]],
                emotion: e[0].clone(),
                embedding: out.embedding.to_vec2::<f32>()?.remove(0),
            })
        })
        .collect()
}

/// Index of the first largest value.
pub(crate) fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &x)| {
            if x > best.1 {
                (i, x)
            } else {
                best
            }
        })
        .0
}

/// Scores predictions against labels (only the rows carrying each label count).
pub fn validation_metrics(
    examples: &[VoiceExample],
    preds: &[VoicePrediction],
    emotions: &[Emotion],
) -> Result<ValidationMetrics> {
    let (mut gt, mut gp, mut et, mut ep) = (vec![], vec![], vec![], vec![]);
    for (ex, p) in examples.iter().zip(preds) {
        if let Some(g) = ex.gender {
            gt.push(g as usize);
            gp.push(argmax(&p.gender));
        }
        if let Some(i) = ex
            .emotion
            .and_then(|e| emotions.iter().position(|&x| x == e))
        {
            et.push(i);
            ep.push(argmax(&p.emotion));
        }
    }
    let names: Vec<String> = emotions.iter().map(|e| e.to_string()).collect();
    let g = if gt.is_empty() {
        None
    } else {
        Some(ClassificationReport::new(&gt, &gp, &["male", "female"])?)
    };
    let e = if et.is_empty() {
        None
    } else {
        Some(ClassificationReport::new(&et, &ep, &names)?)
    };
    let gba = g.as_ref().map(|r| r.balanced_accuracy.unwrap_or(r.uar));
    let uar = e.as_ref().map(|r| r.uar);
    let parts: Vec<f64> = [gba, uar].into_iter().flatten().collect();
    Ok(ValidationMetrics {
        n: examples.len(),
        gender_accuracy: g.as_ref().map(|r| r.accuracy),
        gender_balanced_accuracy: gba,
        emotion_accuracy: e.as_ref().map(|r| r.accuracy),
        emotion_uar: uar,
        score: if parts.is_empty() {
            0.0
        } else {
            parts.iter().sum::<f64>() / parts.len() as f64
        },
    })
}

fn snapshot(varmap: &VarMap) -> Result<HashMap<String, Tensor>> {
    let data = varmap.data().lock().expect("varmap lock");
    data.iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
        .collect()
}

fn restore(varmap: &VarMap, saved: &HashMap<String, Tensor>) -> Result<()> {
    let data = varmap.data().lock().expect("varmap lock");
    for (k, v) in data.iter() {
        if let Some(t) = saved.get(k) {
            v.set(t)?;
        }
    }
    Ok(())
}

/// Per-task targets and weights for a batch, row-major.
struct BatchTargets {
    gender: Vec<f32>,
    gender_w: Vec<f32>,
    emotion: Vec<f32>,
    emotion_w: Vec<f32>,
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
) -> Result<TrainOutcome> {
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
    let mut gender_counts = [0usize; 2];
    let mut emotion_counts = vec![0usize; emotions.len()];
    for ex in train {
        if let Some(g) = ex.gender {
            gender_counts[g as usize] += 1;
        }
        if let Some(i) = emotion_index(ex.emotion) {
            emotion_counts[i] += 1;
        }
    }
    if gender_counts.iter().sum::<usize>() + emotion_counts.iter().sum::<usize>() == 0 {
        return Err(Error::InvalidConfig(
            "no training example has a label the model can learn".into(),
        ));
    }
    let (gender_cw, emotion_cw) = if t.class_balance {
        (
            balanced_class_weights(&gender_counts),
            balanced_class_weights(&emotion_counts),
        )
    } else {
        (vec![1.0; 2], vec![1.0; emotions.len()])
    };

    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DTYPE, &device);
    let net = VoiceNet::new(&cfg.model, vb)?;
    init_weights(&varmap, t.seed)?;
    net.reseed_dropout(t.seed ^ 0xd20f);
    let all_vars = varmap.all_vars();
    let penalised: Vec<Var> = {
        let data = varmap.data().lock().expect("varmap lock");
        let mut named: Vec<(&String, &Var)> = data
            .iter()
            .filter(|(k, _)| k.ends_with(".weight") && !k.contains("norm."))
            .collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        named.into_iter().map(|(_, v)| v.clone()).collect()
    };
    let mut opt = Optimizer::new(&t.optimizer, all_vars.clone())?;
    let peak = t.optimizer.lr();
    let steps_per_epoch = train.len().div_ceil(t.batch_size);
    let total_steps = steps_per_epoch * t.epochs;
    let root_rng = SeededRng::new(t.seed);
    let smoothing = t.label_smoothing;
    let n_emotions = emotions.len();

    let mut log_file = match log {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| Error::io(p, e))?),
        None => None,
    };
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, HashMap<String, Tensor>)> = None;
    let mut stopped_early = false;
    let mut step = 0usize;

    for epoch in 1..=t.epochs {
        let started = Instant::now();
        let mut rng = root_rng.fork(epoch as u64);
        let mut order: Vec<usize> = (0..train.len()).collect();
        rng.shuffle(&mut order);
        let bar = if t.progress {
            ProgressBar::new(steps_per_epoch as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>9} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {epoch}"));
        let (mut sum_loss, mut sum_g, mut sum_e, mut sum_norm) = (0.0, 0.0, 0.0, 0.0);
        for (b, chunk) in order.chunks(t.batch_size).enumerate() {
            let batch_seed = (epoch as u64) << 32 | b as u64;
            let augmented: Vec<LogMel> = chunk
                .par_iter()
                .enumerate()
                .map(|(i, &idx)| {
                    let mut r = root_rng.fork(batch_seed.wrapping_mul(1_000_003) ^ i as u64);
                    augment_example(&train[idx].mel, &t.augment, cfg.model.input_norm, &mut r)
                })
                .collect();
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
            let mut tg = BatchTargets {
                gender: vec![0.0; bsz * 2],
                gender_w: vec![0.0; bsz],
                emotion: vec![0.0; bsz * n_emotions],
                emotion_w: vec![0.0; bsz],
            };
            for (i, &idx) in chunk.iter().enumerate() {
                let ex = &train[idx];
                if let Some(g) = ex.gender {
                    let k = g as usize;
                    tg.gender[i * 2..i * 2 + 2].copy_from_slice(&smoothed_one_hot(k, 2, smoothing));
                    tg.gender_w[i] = gender_cw[k];
                }
                if let Some(k) = emotion_index(ex.emotion) {
                    tg.emotion[i * n_emotions..(i + 1) * n_emotions]
                        .copy_from_slice(&smoothed_one_hot(k, n_emotions, smoothing));
                    tg.emotion_w[i] = emotion_cw[k];
                }
            }
            if let Some(alpha) = t.augment.mixup_alpha {
                if rng.chance(t.augment.mixup_probability as f64) {
                    let mut tasks = [
                        (&mut tg.gender[..], &mut tg.gender_w[..]),
                        (&mut tg.emotion[..], &mut tg.emotion_w[..]),
                    ];
                    mixup(&mut input, &mut tasks, bsz, alpha, &mut rng);
                }
            }
            let x = Tensor::from_vec(input, (bsz, cfg.model.n_mels, frames), &device)?;
            let out = net.forward_t(&x, true)?;
            let lg = masked_soft_cross_entropy(
                &out.gender_logits,
                &Tensor::from_vec(tg.gender, (bsz, 2), &device)?,
                &Tensor::from_vec(tg.gender_w, bsz, &device)?,
            )?;
            let le = masked_soft_cross_entropy(
                &out.emotion_logits,
                &Tensor::from_vec(tg.emotion, (bsz, n_emotions), &device)?,
                &Tensor::from_vec(tg.emotion_w, bsz, &device)?,
            )?;
            let loss = ((&lg * t.gender_weight as f64)? + (&le * t.emotion_weight as f64)?)?;
            let loss_v = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if !loss_v.is_finite() {
                return Err(Error::Model(candle_core::Error::Msg(format!(
                    "training loss became {loss_v} at epoch {epoch}, step {b}"
                ))));
            }
            let mut grads = loss.backward()?;
            add_l1_penalty(&mut grads, &penalised, t.l1)?;
            let norm = clip_grad_norm(&mut grads, &all_vars, t.grad_clip)?;
            opt.set_learning_rate(t.schedule.rate(peak, step, total_steps));
            opt.step(&grads)?;
            step += 1;
            sum_loss += loss_v;
            sum_g += lg.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            sum_e += le.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            sum_norm += norm;
            bar.set_message(format!("loss {:.3}", sum_loss / (b + 1) as f64));
            bar.inc(1);
        }
        let train_secs = started.elapsed().as_secs_f64();
        let validation = if val.is_empty() {
            None
        } else {
            let mels: Vec<&LogMel> = val.iter().map(|e| &e.mel).collect();
            let preds = predict_voice(&net, &mels)?;
            Some(validation_metrics(val, &preds, emotions)?)
        };
        let n_steps = steps_per_epoch as f64;
        let entry = EpochLog {
            epoch,
            lr: opt.learning_rate(),
            loss: sum_loss / n_steps,
            gender_loss: sum_g / n_steps,
            emotion_loss: sum_e / n_steps,
            grad_norm: sum_norm / n_steps,
            clips_per_second: train.len() as f64 / train_secs,
            seconds: started.elapsed().as_secs_f64(),
            validation,
        };
        let summary = match &entry.validation {
            Some(v) => format!(
                "loss {:.3}  val gender {:.3}  emotion acc {:.3} UAR {:.3}",
                entry.loss,
                v.gender_accuracy.unwrap_or(f64::NAN),
                v.emotion_accuracy.unwrap_or(f64::NAN),
                v.emotion_uar.unwrap_or(f64::NAN)
            ),
            None => format!("loss {:.3}", entry.loss),
        };
        bar.finish_and_clear();
        if t.progress {
            eprintln!(
                "epoch {epoch:>3}/{}  {summary}  lr {:.2e}  {:.0} clips/s",
                t.epochs, entry.lr, entry.clips_per_second
            );
        }
        if let Some(f) = log_file.as_mut() {
            let line = serde_json::to_string(&entry).expect("serialisable");
            writeln!(f, "{line}").map_err(|e| Error::io(log.unwrap(), e))?;
        }
        if let Some(v) = &entry.validation {
            let improved = best.as_ref().is_none_or(|(s, _, _)| v.score > *s);
            if improved {
                best = Some((v.score, epoch, snapshot(&varmap)?));
            }
        }
        history.push(entry);
        if let (Some(es), Some((_, best_epoch, _))) = (&t.early_stopping, &best) {
            if epoch >= es.min_epochs && epoch - best_epoch >= es.patience {
                stopped_early = true;
                break;
            }
        }
    }
    let best_epoch = match best {
        Some((_, e, saved)) => {
            restore(&varmap, &saved)?;
            e
        }
        None => history.len(),
    };
    Ok(TrainOutcome {
        varmap,
        net,
        history,
        best_epoch,
        stopped_early,
    })
}
