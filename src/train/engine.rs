//! The training loop shared by every branch: batches in, masked multi-task loss, AdamW/SGD
//! with a schedule, L1, clipping, optional weight averaging, validation every epoch, early
//! stopping, a progress bar and a JSON line per epoch. The branch-specific parts (how a batch
//! is built and augmented, how validation is scored) come in as closures.

use crate::model::Prediction;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Result as CResult, Tensor, TensorId, Var};
use candle_nn::VarMap;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::augment::{mixup, AudioAugmentConfig};
use super::loss::{balanced_class_weights, masked_soft_cross_entropy};
use super::optim::OptimizerConfig;
use super::optim::{add_l1_penalty, clip_grad_norm, Optimizer, OptimizerState};
use super::schedule::LrSchedule;
use crate::eval::ClassificationReport;
use crate::rng::SeededRng;
use crate::{Error, Result};

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

/// How to train: everything but the model and the data. `A` is the augmentation config of the
/// input kind ([`AudioAugmentConfig`] for the voice branch, [`AugmentConfig`](crate::vision::AugmentConfig) for
/// faces).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    default,
    bound(
        serialize = "A: Serialize",
        deserialize = "A: Deserialize<'de> + Default"
    )
)]
pub struct TrainConfig<A = AudioAugmentConfig> {
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
    /// Exponential moving average of the weights (Polyak averaging) with this decay per step,
    /// `None` = off. Validation, early stopping and the returned model then use the averaged
    /// weights. The effective decay ramps up as `min(decay, (1 + step) / (10 + step))`.
    pub ema_decay: Option<f64>,
    /// Augmentation.
    pub augment: A,
    /// Show a progress bar on a terminal.
    pub progress: bool,
    /// A directory where the run saves its whole state (weights, optimiser moments, weight
    /// average, best epoch so far, log) after every epoch, and from which the same run started
    /// again goes on after the last saved epoch; a finished run's checkpoint returns its
    /// result at once. A checkpoint from another configuration, network or training set size
    /// is refused. `None` (the default): no checkpoints. A path, not part of a configuration
    /// file.
    #[serde(skip)]
    pub checkpoint: Option<PathBuf>,
}

impl<A: Default> Default for TrainConfig<A> {
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
            ema_decay: None,
            augment: A::default(),
            progress: true,
            checkpoint: None,
        }
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

fn snapshot(varmap: &VarMap) -> Result<HashMap<String, Tensor>> {
    let data = varmap.data().lock().expect("varmap lock");
    data.iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
        .collect()
}

/// `ema ← d·ema + (1 − d)·current` for every variable (batch-norm running statistics too).
fn update_ema(varmap: &VarMap, ema: &mut HashMap<String, Tensor>, d: f64) -> Result<()> {
    let data = varmap.data().lock().expect("varmap lock");
    for (k, v) in data.iter() {
        let cur = v.as_tensor().detach();
        let next = match ema.get(k) {
            Some(avg) => ((avg * d)? + (cur * (1.0 - d))?)?,
            None => cur.copy()?,
        };
        ema.insert(k.clone(), next);
    }
    Ok(())
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
pub(crate) struct BatchTargets {
    pub gender: Vec<f32>,
    pub gender_w: Vec<f32>,
    pub emotion: Vec<f32>,
    pub emotion_w: Vec<f32>,
}

impl BatchTargets {
    /// All-zero targets and weights (no labels) for `bsz` examples.
    pub(crate) fn new(bsz: usize, n_emotions: usize) -> Self {
        Self {
            gender: vec![0.0; bsz * 2],
            gender_w: vec![0.0; bsz],
            emotion: vec![0.0; bsz * n_emotions],
            emotion_w: vec![0.0; bsz],
        }
    }

    /// Mixup of the `(bsz, …)` row-major `input` together with these targets.
    pub(crate) fn mixup(&mut self, input: &mut [f32], bsz: usize, alpha: f32, rng: &mut SeededRng) {
        let mut tasks = [
            (&mut self.gender[..], &mut self.gender_w[..]),
            (&mut self.emotion[..], &mut self.emotion_w[..]),
        ];
        mixup(input, &mut tasks, bsz, alpha, rng);
    }
}

impl<A> TrainConfig<A> {
    /// What every branch checks: the optimiser, positive epochs and batch size, and a model
    /// with as many emotion outputs (`outputs`) as the config lists emotions (`listed`).
    pub(crate) fn validate_common(&self, outputs: usize, listed: usize) -> Result<()> {
        self.optimizer.validate()?;
        if outputs != listed {
            return Err(Error::InvalidConfig(format!(
                "model has {outputs} emotion outputs but {listed} emotions are listed"
            )));
        }
        if self.batch_size == 0 || self.epochs == 0 {
            return Err(Error::InvalidConfig(
                "epochs and batch_size must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Loss weights per class of the gender and emotion heads from the training labels (gender
/// index, emotion index of each example): inverse frequency when `balance`, else 1. An error
/// when no example has a label either head can learn.
pub(crate) fn head_class_weights(
    labels: impl Iterator<Item = (Option<usize>, Option<usize>)>,
    n_emotions: usize,
    balance: bool,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let mut gender_counts = [0usize; 2];
    let mut emotion_counts = vec![0usize; n_emotions];
    for (g, e) in labels {
        if let Some(g) = g {
            gender_counts[g] += 1;
        }
        if let Some(e) = e {
            emotion_counts[e] += 1;
        }
    }
    if gender_counts.iter().sum::<usize>() + emotion_counts.iter().sum::<usize>() == 0 {
        return Err(Error::InvalidConfig(
            "no training example has a label the model can learn".into(),
        ));
    }
    Ok(if balance {
        (
            balanced_class_weights(&gender_counts),
            balanced_class_weights(&emotion_counts),
        )
    } else {
        (vec![1.0; 2], vec![1.0; n_emotions])
    })
}

/// Scores `preds` against the labels (gender index, emotion index) of each example; only the
/// examples carrying a label count for its head.
pub(crate) fn score_predictions(
    labels: impl Iterator<Item = (Option<usize>, Option<usize>)>,
    preds: &[Prediction],
    emotion_names: &[String],
) -> Result<ValidationMetrics> {
    let (mut gt, mut gp, mut et, mut ep) = (vec![], vec![], vec![], vec![]);
    for ((g, e), p) in labels.zip(preds) {
        if let Some(g) = g {
            gt.push(g);
            gp.push(argmax(&p.gender));
        }
        if let Some(e) = e {
            et.push(e);
            ep.push(argmax(&p.emotion));
        }
    }
    score_pairs(preds.len(), (&gt, &gp), (&et, &ep), emotion_names)
}

/// A two-headed network the loop can train: gender and emotion logits for a batch.
pub(crate) trait TwoHeads {
    fn heads(&self, x: &Tensor, train: bool) -> CResult<(Tensor, Tensor)>;
    /// The state of any random generator the network draws from in training (its dropout
    /// masks), for a checkpoint; 0 when it has none.
    fn rng_state(&self) -> u64 {
        0
    }
    /// Puts that generator back in a saved state.
    fn set_rng_state(&self, _state: u64) {}
}

impl TwoHeads for crate::model::VoiceNet {
    fn heads(&self, x: &Tensor, train: bool) -> CResult<(Tensor, Tensor)> {
        let o = self.forward_t(x, train)?;
        Ok((o.gender_logits, o.emotion_logits))
    }
    fn rng_state(&self) -> u64 {
        self.dropout_state()
    }
    fn set_rng_state(&self, state: u64) {
        self.set_dropout_state(state)
    }
}

impl TwoHeads for crate::model::FaceNet {
    fn heads(&self, x: &Tensor, train: bool) -> CResult<(Tensor, Tensor)> {
        let o = self.forward_t(x, train)?;
        Ok((o.gender_logits, o.emotion_logits))
    }
    fn rng_state(&self) -> u64 {
        self.dropout_state()
    }
    fn set_rng_state(&self, state: u64) {
        self.set_dropout_state(state)
    }
}

/// Scores (truth, prediction) pairs: gender pairs over `male`/`female`, emotion pairs over
/// `emotion_names`; either may be empty.
fn score_pairs(
    n: usize,
    gender: (&[usize], &[usize]),
    emotion: (&[usize], &[usize]),
    emotion_names: &[String],
) -> Result<ValidationMetrics> {
    let g = if gender.0.is_empty() {
        None
    } else {
        Some(ClassificationReport::new(
            gender.0,
            gender.1,
            &["male", "female"],
        )?)
    };
    let e = if emotion.0.is_empty() {
        None
    } else {
        Some(ClassificationReport::new(
            emotion.0,
            emotion.1,
            emotion_names,
        )?)
    };
    let gba = g.as_ref().map(|r| r.balanced_accuracy.unwrap_or(r.uar));
    let uar = e.as_ref().map(|r| r.uar);
    let parts: Vec<f64> = [gba, uar].into_iter().flatten().collect();
    Ok(ValidationMetrics {
        n,
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

/// The weights of `varmap` that get the L1 penalty (conv and linear weights, not norms), in
/// name order.
fn penalised_vars(varmap: &VarMap) -> Vec<Var> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut named: Vec<(&String, &Var)> = data
        .iter()
        .filter(|(k, _)| k.ends_with(".weight") && !k.contains("norm."))
        .collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    named.into_iter().map(|(_, v)| v.clone()).collect()
}

/// Identifies a run for its checkpoint: the training configuration (without the checkpoint
/// path), the training set size and every variable's name and shape.
fn run_fingerprint<A: Serialize>(
    t: &TrainConfig<A>,
    n_train: usize,
    varmap: &VarMap,
) -> Result<String> {
    let mut vars: Vec<(String, Vec<usize>)> = varmap
        .data()
        .lock()
        .expect("varmap lock")
        .iter()
        .map(|(k, v)| (k.clone(), v.dims().to_vec()))
        .collect();
    vars.sort();
    let mut t = serde_json::to_value(t).map_err(|e| Error::InvalidConfig(e.to_string()))?;
    // Whether a bar is shown changes nothing in the run.
    if let Some(o) = t.as_object_mut() {
        o.remove("progress");
    }
    let text = serde_json::to_string(&(t, n_train, vars)).expect("serialisable");
    // FNV-1a, 64 bits: a mismatch detector, not a security measure.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    Ok(format!("{hash:016x}"))
}

/// The small part of a checkpoint (`state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    fingerprint: String,
    /// Epochs done.
    epoch: usize,
    /// Optimiser steps done (the schedule's position).
    step: usize,
    stopped_early: bool,
    /// For a finished run, the epoch whose weights were kept.
    finished: Option<usize>,
    /// The best validation score so far and its epoch.
    best_score: Option<(f64, usize)>,
    /// The network's own random generator (dropout masks).
    net_rng: u64,
    history: Vec<EpochLog>,
}

/// A run's saved state, read back.
struct Checkpoint {
    state: CheckpointState,
    weights: HashMap<String, Tensor>,
    optimizer: OptimizerState,
    ema: HashMap<String, Tensor>,
    best: Option<(f64, usize, HashMap<String, Tensor>)>,
}

impl Checkpoint {
    /// Writes `dir/next/` completely (`state.json` last), then makes it `dir/current/`.
    #[allow(clippy::too_many_arguments)]
    fn save(
        dir: &Path,
        state: &CheckpointState,
        varmap: &VarMap,
        opt: &Optimizer,
        names: &HashMap<TensorId, String>,
        ema: &HashMap<String, Tensor>,
        best: Option<&HashMap<String, Tensor>>,
    ) -> Result<()> {
        let next = dir.join("next");
        let current = dir.join("current");
        if next.exists() {
            std::fs::remove_dir_all(&next).map_err(|e| Error::io(&next, e))?;
        }
        std::fs::create_dir_all(&next).map_err(|e| Error::io(&next, e))?;
        let write = |name: &str, tensors: &HashMap<String, Tensor>| -> Result<()> {
            candle_core::safetensors::save(tensors, next.join(name)).map_err(Error::Model)
        };
        write("weights.safetensors", &snapshot(varmap)?)?;
        let o = opt.state(names)?;
        if !o.tensors.is_empty() {
            write("optimizer.safetensors", &o.tensors)?;
        }
        if !ema.is_empty() {
            write("ema.safetensors", ema)?;
        }
        if let Some(best) = best {
            write("best.safetensors", best)?;
        }
        let json = serde_json::json!({"state": state, "optimizer_step": o.step});
        let path = next.join("state.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&json).expect("serialisable"),
        )
        .map_err(|e| Error::io(&path, e))?;
        if current.exists() {
            std::fs::remove_dir_all(&current).map_err(|e| Error::io(&current, e))?;
        }
        std::fs::rename(&next, &current).map_err(|e| Error::io(&current, e))
    }

    /// The checkpoint in `dir` (`current/`, else a complete `next/` left by an interrupted
    /// save), `None` when there is none; an error when it belongs to another run.
    fn load(dir: &Path, fingerprint: &str) -> Result<Option<Self>> {
        let Some(from) = [dir.join("current"), dir.join("next")]
            .into_iter()
            .find(|d| d.join("state.json").is_file())
        else {
            return Ok(None);
        };
        let path = from.join("state.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        #[derive(Deserialize)]
        struct File {
            state: CheckpointState,
            optimizer_step: usize,
        }
        let file: File = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidConfig(format!("{}: {e}", path.display())))?;
        if file.state.fingerprint != fingerprint {
            return Err(Error::InvalidConfig(format!(
                "the checkpoint in {} is from another run (configuration, network or training \
                 set size differ): remove it or give another directory",
                dir.display()
            )));
        }
        let read = |name: &str| -> Result<HashMap<String, Tensor>> {
            let p = from.join(name);
            if !p.is_file() {
                return Ok(HashMap::new());
            }
            candle_core::safetensors::load(&p, &Device::Cpu).map_err(Error::Model)
        };
        let best = match file.state.best_score {
            Some((score, epoch)) => Some((score, epoch, read("best.safetensors")?)),
            None => None,
        };
        Ok(Some(Self {
            weights: read("weights.safetensors")?,
            optimizer: OptimizerState {
                step: file.optimizer_step,
                tensors: read("optimizer.safetensors")?,
            },
            ema: read("ema.safetensors")?,
            best,
            state: file.state,
        }))
    }
}

/// [`restore`], requiring every variable to be in `saved` with its shape.
fn restore_all(varmap: &VarMap, saved: &HashMap<String, Tensor>, what: &str) -> Result<()> {
    let data = varmap.data().lock().expect("varmap lock");
    for (k, v) in data.iter() {
        match saved.get(k) {
            Some(t) if t.dims() == v.dims() => v.set(t)?,
            _ => {
                return Err(Error::InvalidConfig(format!(
                    "checkpoint: {what} lack {k} or give it another shape"
                )))
            }
        }
    }
    Ok(())
}

/// What a training run returns.
pub struct TrainOutcome<N = crate::model::VoiceNet> {
    /// The weights (the best epoch's when there was a validation set).
    pub varmap: VarMap,
    /// The network over those weights.
    pub net: N,
    /// Every epoch's log.
    pub history: Vec<EpochLog>,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

impl<N: std::fmt::Debug> std::fmt::Debug for TrainOutcome<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainOutcome")
            .field("net", &self.net)
            .field("epochs", &self.history.len())
            .field("best_epoch", &self.best_epoch)
            .field("stopped_early", &self.stopped_early)
            .finish_non_exhaustive()
    }
}

/// Trains `net` (whose weights live in `varmap`) for `t.epochs` over `n_train` examples.
/// `make_batch(indices, epoch, batch_index, epoch_rng)` builds the input tensor and targets of
/// one batch; `validate(net)` scores the held-out set (or returns `None` when there is none).
/// With a validation set, the best-scoring epoch's weights are the ones returned.
pub(crate) fn fit<A: Serialize, N: TwoHeads>(
    t: &TrainConfig<A>,
    varmap: VarMap,
    net: N,
    n_train: usize,
    mut make_batch: impl FnMut(&[usize], usize, usize, &mut SeededRng) -> Result<(Tensor, BatchTargets)>,
    mut validate: impl FnMut(&N) -> Result<Option<ValidationMetrics>>,
    log: Option<&Path>,
) -> Result<TrainOutcome<N>> {
    let device = Device::Cpu;
    let all_vars = varmap.all_vars();
    let penalised = penalised_vars(&varmap);
    let mut opt = Optimizer::new(&t.optimizer, all_vars.clone())?;
    let peak = t.optimizer.lr();
    let steps_per_epoch = n_train.div_ceil(t.batch_size);
    let total_steps = steps_per_epoch * t.epochs;
    let root_rng = SeededRng::new(t.seed);

    let mut log_file = match log {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| Error::io(p, e))?),
        None => None,
    };
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, HashMap<String, Tensor>)> = None;
    let mut stopped_early = false;
    let mut step = 0usize;
    let mut ema: HashMap<String, Tensor> = HashMap::new();

    let names: HashMap<TensorId, String> = varmap
        .data()
        .lock()
        .expect("varmap lock")
        .iter()
        .map(|(k, v)| (v.as_tensor().id(), k.clone()))
        .collect();
    let fingerprint = run_fingerprint(t, n_train, &varmap)?;
    let mut first_epoch = 1;
    if let Some(dir) = &t.checkpoint {
        if let Some(ck) = Checkpoint::load(dir, &fingerprint)? {
            restore_all(&varmap, &ck.weights, "weights")?;
            opt.load_state(&ck.optimizer, &names)?;
            net.set_rng_state(ck.state.net_rng);
            ema = ck.ema;
            best = ck.best;
            step = ck.state.step;
            stopped_early = ck.state.stopped_early;
            history = ck.state.history;
            if let Some(f) = log_file.as_mut() {
                for entry in &history {
                    let line = serde_json::to_string(entry).expect("serialisable");
                    writeln!(f, "{line}").map_err(|e| Error::io(log.unwrap(), e))?;
                }
            }
            if t.progress {
                eprintln!(
                    "resuming from {} after epoch {}",
                    dir.display(),
                    ck.state.epoch
                );
            }
            if let Some(best_epoch) = ck.state.finished {
                return Ok(TrainOutcome {
                    varmap,
                    net,
                    history,
                    best_epoch,
                    stopped_early,
                });
            }
            first_epoch = ck.state.epoch + 1;
        }
    }

    for epoch in first_epoch..=t.epochs {
        let started = Instant::now();
        let mut rng = root_rng.fork(epoch as u64);
        let mut order: Vec<usize> = (0..n_train).collect();
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
            let (x, tg) = make_batch(chunk, epoch, b, &mut rng)?;
            let bsz = chunk.len();
            let n_emotions = tg.emotion.len() / bsz.max(1);
            let (gender_logits, emotion_logits) = net.heads(&x, true)?;
            let lg = masked_soft_cross_entropy(
                &gender_logits,
                &Tensor::from_vec(tg.gender, (bsz, 2), &device)?,
                &Tensor::from_vec(tg.gender_w, bsz, &device)?,
            )?;
            let le = masked_soft_cross_entropy(
                &emotion_logits,
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
            if let Some(decay) = t.ema_decay {
                let ramp = (1.0 + step as f64) / (10.0 + step as f64);
                update_ema(&varmap, &mut ema, decay.min(ramp))?;
            }
            step += 1;
            sum_loss += loss_v;
            sum_g += lg.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            sum_e += le.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            sum_norm += norm;
            bar.set_message(format!("loss {:.3}", sum_loss / (b + 1) as f64));
            bar.inc(1);
        }
        let train_secs = started.elapsed().as_secs_f64();
        // With averaging, the averaged weights are the model: validate (and keep) those.
        let live = if ema.is_empty() {
            None
        } else {
            let live = snapshot(&varmap)?;
            restore(&varmap, &ema)?;
            Some(live)
        };
        let validation = validate(&net)?;
        let n_steps = steps_per_epoch as f64;
        let entry = EpochLog {
            epoch,
            lr: opt.learning_rate(),
            loss: sum_loss / n_steps,
            gender_loss: sum_g / n_steps,
            emotion_loss: sum_e / n_steps,
            grad_norm: sum_norm / n_steps,
            clips_per_second: n_train as f64 / train_secs,
            seconds: started.elapsed().as_secs_f64(),
            validation,
        };
        // A head without validation labels (a gender-only run) is left out, not NaN.
        let mut summary = format!("loss {:.3}", entry.loss);
        if let Some(v) = &entry.validation {
            if let Some(g) = v.gender_accuracy {
                summary += &format!("  val gender {g:.3}");
            }
            if let (Some(a), Some(u)) = (v.emotion_accuracy, v.emotion_uar) {
                summary += &format!("  emotion acc {a:.3} UAR {u:.3}");
            }
        }
        bar.finish_and_clear();
        if t.progress {
            eprintln!(
                "epoch {epoch:>3}/{}  {summary}  lr {:.2e}  {:.0} examples/s",
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
        // Back to the live weights to go on training; the last epoch leaves the average loaded.
        if let Some(live) = &live {
            if epoch < t.epochs {
                restore(&varmap, live)?;
            }
        }
        history.push(entry);
        if let (Some(es), Some((_, best_epoch, _))) = (&t.early_stopping, &best) {
            if epoch >= es.min_epochs && epoch - best_epoch >= es.patience {
                stopped_early = true;
                if !ema.is_empty() {
                    restore(&varmap, &ema)?;
                }
                break;
            }
        }
        if let (Some(dir), true) = (&t.checkpoint, epoch < t.epochs) {
            let state = CheckpointState {
                fingerprint: fingerprint.clone(),
                epoch,
                step,
                stopped_early,
                finished: None,
                best_score: best.as_ref().map(|b| (b.0, b.1)),
                net_rng: net.rng_state(),
                history: history.clone(),
            };
            let best_weights = best.as_ref().map(|b| &b.2);
            Checkpoint::save(dir, &state, &varmap, &opt, &names, &ema, best_weights)?;
        }
    }
    let best_epoch = match best {
        Some((_, e, saved)) => {
            restore(&varmap, &saved)?;
            e
        }
        None => history.len(),
    };
    if let Some(dir) = &t.checkpoint {
        // The finished run: the weights it returns, so starting it again returns them at once.
        let state = CheckpointState {
            fingerprint,
            epoch: history.len(),
            step,
            stopped_early,
            finished: Some(best_epoch),
            best_score: None,
            net_rng: net.rng_state(),
            history: history.clone(),
        };
        Checkpoint::save(dir, &state, &varmap, &opt, &names, &HashMap::new(), None)?;
    }
    Ok(TrainOutcome {
        varmap,
        net,
        history,
        best_epoch,
        stopped_early,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::{Linear, Module, VarBuilder};

    /// Dropout on 6 features, then two linear heads.
    struct Tiny(Linear, Linear, crate::model::blocks::SeededDropout);

    impl TwoHeads for Tiny {
        fn heads(&self, x: &Tensor, train: bool) -> CResult<(Tensor, Tensor)> {
            let x = candle_nn::ModuleT::forward_t(&self.2, x, train)?;
            Ok((self.0.forward(&x)?, self.1.forward(&x)?))
        }
        fn rng_state(&self) -> u64 {
            self.2.rng_state()
        }
        fn set_rng_state(&self, state: u64) {
            self.2.set_rng_state(state)
        }
    }

    fn tiny() -> (VarMap, Tiny) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let g = candle_nn::linear(6, 2, vb.pp("gender")).unwrap();
        let e = candle_nn::linear(6, 3, vb.pp("emotion")).unwrap();
        // The same starting weights every time (the varmap's own init is random).
        let mut rng = SeededRng::new(9);
        let data = varmap.data().lock().unwrap();
        let mut keys: Vec<&String> = data.keys().collect();
        keys.sort();
        for v in keys.iter().map(|k| &data[*k]) {
            let n = v.elem_count();
            let vals: Vec<f32> = (0..n).map(|_| 0.3 * rng.normal() as f32).collect();
            v.set(&Tensor::from_vec(vals, v.shape(), &Device::Cpu).unwrap())
                .unwrap();
        }
        drop(data);
        (
            varmap,
            Tiny(g, e, crate::model::blocks::SeededDropout::new(0.2, 5)),
        )
    }

    /// Batches of random features whose labels follow their signs; fails at `fail_at` once.
    fn run(t: &TrainConfig<()>, fail_at: Option<usize>) -> Result<TrainOutcome<Tiny>> {
        let (varmap, net) = tiny();
        let make_batch = |idx: &[usize], epoch: usize, _b: usize, rng: &mut SeededRng| {
            if Some(epoch) == fail_at {
                return Err(Error::InvalidConfig("interrupted".into()));
            }
            let n = idx.len();
            let x: Vec<f32> = (0..n * 6).map(|_| rng.normal() as f32).collect();
            let mut tg = BatchTargets::new(n, 3);
            for i in 0..n {
                let g = (x[i * 6] > 0.0) as usize;
                let e = if x[i * 6 + 1] > 0.5 {
                    2
                } else {
                    (x[i * 6 + 2] > 0.0) as usize
                };
                tg.gender[i * 2 + g] = 1.0;
                tg.gender_w[i] = 1.0;
                tg.emotion[i * 3 + e] = 1.0;
                tg.emotion_w[i] = 1.0;
            }
            Ok((Tensor::from_vec(x, (n, 6), &Device::Cpu)?, tg))
        };
        // A continuous score (minus the gender head's squared error on fixed examples), so
        // the best epoch moves as the weights do.
        let validate = |net: &Tiny| {
            let mut rng = SeededRng::new(123);
            let x: Vec<f32> = (0..32 * 6).map(|_| rng.normal() as f32).collect();
            let target: Vec<f32> = (0..32).map(|i| (x[i * 6] > 0.0) as u8 as f32).collect();
            let (g, _) = net.heads(&Tensor::from_vec(x, (32, 6), &Device::Cpu)?, false)?;
            let p = candle_nn::ops::softmax_last_dim(&g)?.to_vec2::<f32>()?;
            let err: f32 = p.iter().zip(&target).map(|(p, t)| (p[1] - t).powi(2)).sum();
            Ok(Some(ValidationMetrics {
                n: 32,
                gender_accuracy: None,
                gender_balanced_accuracy: None,
                emotion_accuracy: None,
                emotion_uar: None,
                score: -(err as f64) / 32.0,
            }))
        };
        fit(t, varmap, net, 64, make_batch, validate, None)
    }

    fn weights(o: &TrainOutcome<Tiny>) -> Vec<f32> {
        let data = o.varmap.data().lock().unwrap();
        let mut keys: Vec<&String> = data.keys().collect();
        keys.sort();
        keys.iter()
            .flat_map(|k| {
                data[*k]
                    .as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn an_interrupted_run_resumes_from_its_checkpoint() {
        let dir = std::env::temp_dir().join(format!("facevox-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut t = TrainConfig::<()> {
            epochs: 6,
            batch_size: 16,
            progress: false,
            ema_decay: Some(0.9),
            ..Default::default()
        };
        let whole = run(&t, None).unwrap();

        t.checkpoint = Some(dir.clone());
        assert!(run(&t, Some(4)).is_err(), "the first try stops in epoch 4");
        let resumed = run(&t, None).unwrap();
        assert_eq!(resumed.history.len(), 6);
        assert!(whole.best_epoch > 4, "{}", whole.best_epoch);
        assert_eq!(resumed.best_epoch, whole.best_epoch);
        let (a, b) = (weights(&whole), weights(&resumed));
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        // The same run, dropout masks included: only the order of a few float sums (over
        // the variables, kept in a hash map) may differ.
        assert!(diff < 1e-5, "weights differ by {diff}");
        for (x, y) in whole.history.iter().zip(&resumed.history) {
            assert!((x.loss - y.loss).abs() < 1e-5, "{} vs {}", x.loss, y.loss);
        }

        // Started again, the finished run gives its result at once.
        let again = run(&t, Some(1)).unwrap();
        assert_eq!(weights(&again), b);
        assert_eq!(again.history.len(), 6);

        // Another configuration is refused, not mixed in.
        let other = TrainConfig::<()> {
            seed: 7,
            ..t.clone()
        };
        assert!(matches!(run(&other, None), Err(Error::InvalidConfig(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
