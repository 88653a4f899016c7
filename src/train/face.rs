//! Face-branch training and prediction.
//!
//! Examples hold the face crop as the crop path produces it before normalisation (an
//! `S × S` RGB picture from [`crop_face_image`](crate::vision::crop_face_image) or a resized
//! pre-cropped image), so training sees exactly the crops inference will, and image
//! augmentation ([`Augmenter`]) runs on them per batch before
//! [`normalize_face`](crate::vision::normalize_face). One model learns both heads: an example
//! with only an emotion (FER+) trains the emotion head, one with only a gender (FairFace) the
//! gender head, through the masked multi-task loss.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::engine::{
    argmax, fit, head_class_weights, score_predictions, BatchTargets, TrainConfig, TrainOutcome,
};
use super::loss::smoothed_one_hot;
use super::ValidationMetrics;
use crate::data::{CropCache, FairFaceRecord, FerPlusRecord};
use crate::labels::{position, Emotion, Gender, FACE_EMOTIONS};
use crate::model::predict::stack_images;
use crate::model::{
    init_weights, FaceConfig, FaceNet, FacePredictor, Prediction, TestTimeViews, DTYPE, FIRST_CONV,
};
use crate::rng::SeededRng;
use crate::vision::{
    load_image, AugmentConfig, Augmenter, CropConfig, FaceCropper, FaceSource, RgbImage,
};
use crate::{Error, Result};

/// One face: the un-normalised crop and whichever labels it has.
#[derive(Debug, Clone)]
pub struct FaceExample {
    /// The crop, `crop.size` pixels square, before normalisation.
    pub image: RgbImage,
    /// Perceived-gender label, if known.
    pub gender: Option<Gender>,
    /// Hard emotion label (FER+ majority), if any: what accuracy is scored against.
    pub emotion: Option<Emotion>,
    /// Soft emotion target over the config's emotions (FER+ vote shares), if any.
    pub emotion_votes: Option<Vec<f32>>,
    /// Subject or other group for audits (for FairFace, the race group).
    pub group: Option<String>,
    /// Age group for audits, as the dataset writes it (FairFace: `0-2`, `3-9`, …).
    pub age: Option<String>,
}

/// Everything that defines a face-model training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaceTrainingConfig {
    /// Architecture.
    pub model: FaceConfig,
    /// How faces become inputs (size, colour, normalisation).
    pub crop: CropConfig,
    /// Optimisation, regularisation and image augmentation.
    pub train: TrainConfig<AugmentConfig>,
    /// Emotion classes, in head order.
    pub emotions: Vec<Emotion>,
    /// Train the emotion head on vote shares where an example has them (the FER+ paper's
    /// "probability" scheme) instead of the one-hot majority label.
    pub soft_emotion_targets: bool,
    /// Test-time augmentation: average each face's prediction with its mirror image's (used
    /// for the final scores and saved in the model file for the analyser).
    pub tta_flip: bool,
    /// Weights each gender example by (share of its age group)^-`age_balance`, scaled so that
    /// the gender examples' weights average 1: 0 (the default) is off, 0.5 the square root of
    /// inverse frequency, 1 full balancing. Examples without an age group weigh 1. Rare age
    /// groups (FairFace's children and over-60s) are where gender accuracy is lowest.
    pub age_balance: f32,
    /// Start from these weights (a face safetensors file of the same architecture, or of its
    /// grey twin for an RGB model: see [`load_face_init_weights`]) instead of a random
    /// initialisation: fine-tuning. `None` (the default) trains from scratch.
    pub init_weights: Option<std::path::PathBuf>,
}

impl Default for FaceTrainingConfig {
    fn default() -> Self {
        Self {
            model: FaceConfig::default(),
            crop: CropConfig::gray(48),
            train: TrainConfig {
                epochs: 30,
                batch_size: 64,
                class_balance: false,
                gender_weight: 1.0,
                ..TrainConfig::default()
            },
            emotions: FACE_EMOTIONS.to_vec(),
            soft_emotion_targets: false,
            tta_flip: false,
            age_balance: 0.0,
            init_weights: None,
        }
    }
}

impl FaceTrainingConfig {
    /// Checks the parts agree with each other.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.crop.validate()?;
        self.train.augment.validate()?;
        if self.crop.color.channels() != self.model.in_channels {
            return Err(Error::InvalidConfig(format!(
                "crop colour {:?} gives {} channels but the model takes {}",
                self.crop.color,
                self.crop.color.channels(),
                self.model.in_channels
            )));
        }
        if (self.crop.size as usize) < self.model.min_input() {
            return Err(Error::InvalidConfig(format!(
                "crops of {} px are too small for {} pooling stages",
                self.crop.size,
                self.model.stages.len()
            )));
        }
        if !(0.0..=1.0).contains(&self.age_balance) {
            return Err(Error::InvalidConfig(format!(
                "age_balance is {}, it must be in [0, 1]",
                self.age_balance
            )));
        }
        self.train
            .validate_common(self.model.n_emotions, self.emotions.len())
    }
}

/// BT.601 luma weights of R, G and B: what [`load_face_init_weights`] spreads a grey
/// network's first convolution by.
pub const LUMA_WEIGHTS: [f64; 3] = [0.299, 0.587, 0.114];

/// Loads a face network's weights from `path` into `varmap` (a [`FaceNet`] built on it) for
/// [`FaceTrainingConfig::init_weights`]. Every variable must be in the file with its shape,
/// with one exception: a grey network's first convolution `(C, 1, k, k)` may start an RGB
/// network's `(C, 3, k, k)`; channel `c` gets `LUMA_WEIGHTS[c]` times the grey kernel, so on an
/// RGB crop the new network computes what the grey one computes on the crop's luma (the
/// per-channel normalisation being the same). Extra tensors in the file (a combined model's
/// gender members) are ignored, so a shipped `face.safetensors` can start a run.
pub fn load_face_init_weights(varmap: &VarMap, path: &Path) -> Result<()> {
    let cannot = |why: String| {
        Error::InvalidConfig(format!(
            "cannot start from {}: {why} (is it a face model of this architecture?)",
            path.display()
        ))
    };
    let tensors =
        candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| cannot(e.to_string()))?;
    let vars = varmap.data().lock().expect("varmap lock");
    for (name, var) in vars.iter() {
        let t = tensors
            .get(name)
            .ok_or_else(|| cannot(format!("no tensor {name}")))?;
        let t = if t.dims() == var.dims() {
            t.clone()
        } else {
            match (t.dims(), var.dims()) {
                (&[o, 1, kh, kw], &[o2, 3, kh2, kw2])
                    if name == FIRST_CONV && (o, kh, kw) == (o2, kh2, kw2) =>
                {
                    let grey: Vec<f32> = t.flatten_all()?.to_vec1()?;
                    let mut rgb = Vec::with_capacity(grey.len() * 3);
                    for kernel in grey.chunks_exact(kh * kw) {
                        for c in LUMA_WEIGHTS {
                            rgb.extend(kernel.iter().map(|&w| (w as f64 * c) as f32));
                        }
                    }
                    Tensor::from_vec(rgb, (o, 3, kh, kw), &Device::Cpu)?
                }
                _ => {
                    return Err(cannot(format!(
                        "{name} is {:?} in the file, {:?} in the network",
                        t.dims(),
                        var.dims()
                    )))
                }
            }
        };
        var.set(&t.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

/// Per-example gender-loss multipliers for [`FaceTrainingConfig::age_balance`]: each gender
/// example with an age group weighs (group share)^-`power`, normalised so the gender examples'
/// weights average 1; other examples weigh 1.
pub fn age_balance_weights(examples: &[FaceExample], power: f32) -> Vec<f32> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for ex in examples.iter().filter(|e| e.gender.is_some()) {
        if let Some(a) = &ex.age {
            *counts.entry(a.as_str()).or_default() += 1;
        }
    }
    let aged: usize = counts.values().sum();
    if power == 0.0 || aged == 0 {
        return vec![1.0; examples.len()];
    }
    // Unnormalised weights of the gender examples (`None` for the others).
    let raw: Vec<Option<f32>> = examples
        .iter()
        .map(|ex| {
            ex.gender.map(|_| match &ex.age {
                Some(a) => (counts[a.as_str()] as f32 / aged as f32).powf(-power),
                None => 1.0,
            })
        })
        .collect();
    let gender_w: Vec<f32> = raw.iter().flatten().copied().collect();
    let mean = gender_w.iter().sum::<f32>() / gender_w.len() as f32;
    raw.iter().map(|w| w.map_or(1.0, |w| w / mean)).collect()
}

/// Scores predictions against the labels each example carries.
pub fn face_validation_metrics(
    examples: &[FaceExample],
    preds: &[Prediction],
    emotions: &[Emotion],
) -> Result<ValidationMetrics> {
    let labels = examples.iter().map(|ex| {
        (
            ex.gender.map(|g| g as usize),
            ex.emotion.and_then(|e| position(emotions, e)),
        )
    });
    let names: Vec<String> = emotions.iter().map(|e| e.to_string()).collect();
    score_predictions(labels, preds, &names)
}

/// Trains a face model on `train`, scoring `val` (may be empty) after every epoch, with a
/// JSON line per epoch in `log` when given.
///
/// # Errors
///
/// [`Error::InvalidConfig`] for an inconsistent config, an empty training set, or crops of the
/// wrong size; [`Error::Model`] when candle fails.
pub fn train_face(
    cfg: &FaceTrainingConfig,
    train: &[FaceExample],
    val: &[FaceExample],
    log: Option<&Path>,
) -> Result<TrainOutcome<FaceNet>> {
    cfg.validate()?;
    let t = &cfg.train;
    if train.is_empty() {
        return Err(Error::InvalidConfig("no training examples".into()));
    }
    let size = cfg.crop.size;
    if let Some(bad) = train
        .iter()
        .chain(val)
        .find(|e| e.image.width() != size || e.image.height() != size)
    {
        return Err(Error::InvalidConfig(format!(
            "a face crop is {}x{}, the config crops to {size}x{size}",
            bad.image.width(),
            bad.image.height()
        )));
    }
    let emotions = &cfg.emotions;
    let n_emotions = emotions.len();
    if let Some(bad) = train
        .iter()
        .filter_map(|e| e.emotion_votes.as_ref())
        .find(|v| v.len() != n_emotions)
    {
        return Err(Error::InvalidConfig(format!(
            "emotion votes have {} entries, the config lists {n_emotions} emotions",
            bad.len()
        )));
    }
    let emotion_index = |e: Option<Emotion>| e.and_then(|e| position(emotions, e));
    let (gender_cw, emotion_cw) = head_class_weights(
        train
            .iter()
            .map(|ex| (ex.gender.map(|g| g as usize), emotion_index(ex.emotion))),
        n_emotions,
        t.class_balance,
    )?;
    let augmenter = Augmenter::new(t.augment.clone())?;

    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DTYPE, &Device::Cpu);
    let net = FaceNet::new(&cfg.model, vb)?;
    init_weights(&varmap, t.seed)?;
    if let Some(path) = &cfg.init_weights {
        load_face_init_weights(&varmap, path)?;
    }
    net.reseed_dropout(t.seed ^ 0xd20f);
    let age_w = age_balance_weights(train, cfg.age_balance);
    let root_rng = SeededRng::new(t.seed);
    let smoothing = t.label_smoothing;
    let make_batch = |chunk: &[usize], epoch: usize, b: usize, _rng: &mut SeededRng| {
        let batch_seed = (epoch as u64) << 32 | b as u64;
        let images: Vec<RgbImage> = chunk
            .par_iter()
            .enumerate()
            .map(|(i, &idx)| {
                let seed = root_rng
                    .fork(batch_seed.wrapping_mul(1_000_003) ^ i as u64)
                    .next_u64();
                augmenter.augment(&train[idx].image, seed)
            })
            .collect();
        let refs: Vec<&RgbImage> = images.iter().collect();
        let x = stack_images(&refs, &cfg.crop)?;
        let bsz = chunk.len();
        let mut tg = BatchTargets::new(bsz, n_emotions);
        for (i, &idx) in chunk.iter().enumerate() {
            let ex = &train[idx];
            if let Some(g) = ex.gender {
                let k = g as usize;
                tg.gender[i * 2..i * 2 + 2].copy_from_slice(&smoothed_one_hot(k, 2, smoothing));
                tg.gender_w[i] = gender_cw[k] * age_w[idx];
            }
            let row = &mut tg.emotion[i * n_emotions..(i + 1) * n_emotions];
            match (&ex.emotion_votes, emotion_index(ex.emotion)) {
                (Some(votes), hard) if cfg.soft_emotion_targets => {
                    let k = hard.unwrap_or_else(|| argmax(votes));
                    for (r, &v) in row.iter_mut().zip(votes) {
                        *r = (1.0 - smoothing) * v + smoothing / n_emotions as f32;
                    }
                    tg.emotion_w[i] = emotion_cw[k];
                }
                (_, Some(k)) => {
                    row.copy_from_slice(&smoothed_one_hot(k, n_emotions, smoothing));
                    tg.emotion_w[i] = emotion_cw[k];
                }
                _ => {}
            }
        }
        Ok((x, tg))
    };
    let val_images: Vec<&RgbImage> = val.iter().map(|e| &e.image).collect();
    let validate = |net: &FaceNet| {
        if val.is_empty() {
            return Ok(None);
        }
        let predictor = FacePredictor::single(net.clone(), cfg.crop.clone(), TestTimeViews::none());
        let preds = predictor.predict_images(std::slice::from_ref(&val_images), 256)?;
        face_validation_metrics(val, &preds, emotions).map(Some)
    };
    fit(t, varmap, net, train.len(), make_batch, validate, log)
}

/// A dataset image that did not become an example, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedImage {
    /// The image file.
    pub image: std::path::PathBuf,
    /// Why (unreadable, no face found, ...).
    pub reason: String,
}

/// Crops every image in parallel with one [`FaceCropper`] per worker thread (reading and
/// filling `cache` when given); `None` from the cropper (no face) and errors become
/// [`SkippedImage`]s.
fn crop_all<T: Sync>(
    items: &[T],
    path: impl Fn(&T) -> &Path + Sync,
    crop: &CropConfig,
    source: FaceSource,
    cache: Option<&CropCache>,
) -> Result<Vec<std::result::Result<RgbImage, SkippedImage>>> {
    // Fail early on a bad config or a missing detector model rather than once per image.
    FaceCropper::for_source(source, crop.clone())?;
    Ok(items
        .par_iter()
        .map_init(
            || FaceCropper::for_source(source, crop.clone()).expect("checked above"),
            |cropper, item| {
                let p = path(item);
                let skip = |reason: String| SkippedImage {
                    image: p.to_path_buf(),
                    reason,
                };
                let result = match cache.and_then(|c| c.read(p)) {
                    Some(hit) => Ok(hit),
                    None => {
                        let fresh = load_image(p).and_then(|img| cropper.crop_image(&img));
                        if let (Some(c), Ok(r)) = (cache, &fresh) {
                            // A cache that cannot be written only costs time on the next run.
                            let _ = c.write(p, r.as_ref());
                        }
                        fresh
                    }
                };
                match result {
                    Ok(Some(c)) => Ok(c),
                    Ok(None) => Err(skip("no face found".into())),
                    Err(e) => Err(skip(e.to_string())),
                }
            },
        )
        .collect())
}

/// FER+ images as examples through the pre-cropped path: the majority label (FER+ rule) and
/// the vote shares over [`FACE_EMOTIONS`]. Images without a majority label are kept (with
/// only their vote shares) when `keep_without_majority`, else left out.
pub fn ferplus_examples(
    records: &[FerPlusRecord],
    crop: &CropConfig,
    keep_without_majority: bool,
    cache: Option<&CropCache>,
) -> Result<(Vec<FaceExample>, Vec<SkippedImage>)> {
    let kept: Vec<&FerPlusRecord> = records
        .iter()
        .filter(|r| {
            r.vote_distribution().is_some() && (keep_without_majority || r.majority().is_some())
        })
        .collect();
    let crops = crop_all(
        &kept,
        |r| r.image.as_path(),
        crop,
        FaceSource::Precropped,
        cache,
    )?;
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    for (r, c) in kept.into_iter().zip(crops) {
        match c {
            Ok(image) => out.push(FaceExample {
                image,
                gender: None,
                emotion: r.majority(),
                emotion_votes: r.vote_distribution().map(|v| v.to_vec()),
                group: None,
                age: None,
            }),
            Err(s) => skipped.push(s),
        }
    }
    Ok((out, skipped))
}

/// FairFace images as gender examples (group = race group, age = age group), cropped
/// through `source` (FairFace crops have a margin, so [`FaceSource::Detect`] runs the detector
/// as inference does; images without a detected face are skipped and listed), through `cache`
/// when given.
pub fn fairface_examples(
    records: &[FairFaceRecord],
    crop: &CropConfig,
    source: FaceSource,
    cache: Option<&CropCache>,
) -> Result<(Vec<FaceExample>, Vec<SkippedImage>)> {
    let crops = crop_all(records, |r| r.image.as_path(), crop, source, cache)?;
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    for (r, c) in records.iter().zip(crops) {
        match c {
            Ok(image) => out.push(FaceExample {
                image,
                gender: Some(r.gender),
                emotion: None,
                emotion_votes: None,
                group: Some(r.race.clone()),
                age: Some(r.age.clone()),
            }),
            Err(s) => skipped.push(s),
        }
    }
    Ok((out, skipped))
}
