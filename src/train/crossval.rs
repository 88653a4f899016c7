//! Speaker-independent k-fold cross-validation of the voice branch.
//!
//! Folds are made of whole groups (speakers), stratified by each group's gender, so on the 20
//! RAVDESS actors 5 folds hold 2 male + 2 female actors each and no speaker is ever in both
//! the training and the test side of a fold. Each fold trains a fresh model with the same config
//! and seed on the other folds' speakers; when `inner_validation_groups > 0`, that many of the
//! training speakers (balanced by gender) are set aside as the validation set that picks the
//! best epoch and drives early stopping, so the test speakers never influence training.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::engine::ValidationMetrics;
use super::voice::{
    argmax, train_voice_members, validation_metrics, EpochLog, VoiceExample, VoiceTrainingConfig,
};
use crate::audio::LogMel;
use crate::eval::{
    by_group, stratified_group_k_fold, BinaryReport, ClassificationReport, CrossValidationReport,
};
use crate::model::{TestTimeViews, VoiceModelFile, VoicePredictor};
use crate::rng::SeededRng;
use crate::{Error, Result};

/// One fold's held-out results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoiceFoldResult {
    /// 1-based fold number.
    pub fold: usize,
    /// The test speakers.
    pub test_groups: Vec<String>,
    /// Speakers used for early stopping (taken from the training side).
    pub validation_groups: Vec<String>,
    /// Training clips.
    pub n_train: usize,
    /// Emotion metrics on the test speakers.
    pub emotion: ClassificationReport,
    /// Gender metrics (with ROC) on the test speakers.
    pub gender: BinaryReport,
    /// Emotion metrics per perceived gender of the test clips.
    pub emotion_by_gender: BTreeMap<String, ClassificationReport>,
    /// Emotion metrics per test speaker.
    pub emotion_by_group: BTreeMap<String, ClassificationReport>,
    /// The epoch whose weights were evaluated.
    pub best_epoch: usize,
    /// The final (ensembled) weights scored on the inner-validation speakers with no
    /// test-time augmentation, the config's `tta` and each of its `tta_compare` (empty without
    /// inner-validation speakers).
    #[serde(default)]
    pub inner_validation_tta: Vec<TtaScore>,
    /// The training log.
    pub history: Vec<EpochLog>,
    /// Wall time of training and testing.
    pub seconds: f64,
    /// Every test clip's prediction by this fold's model, which never trained on its speaker:
    /// out-of-fold outputs, what a fusion head may train on.
    #[serde(default)]
    pub test_predictions: Vec<OutOfFold>,
}

/// One clip's prediction by a model that never heard its speaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutOfFold {
    /// The clip's index in the examples given to the cross-validation.
    pub index: usize,
    /// Its speaker.
    pub group: Option<String>,
    /// Its labels.
    pub gender: Option<crate::labels::Gender>,
    /// Its emotion label.
    pub emotion: Option<crate::labels::Emotion>,
    /// The fold model's probabilities and embedding.
    pub prediction: crate::model::Prediction,
}

/// One test-time augmentation scored on a fold's inner-validation speakers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TtaScore {
    /// The views scored.
    pub tta: TestTimeViews,
    /// Their metrics.
    pub metrics: ValidationMetrics,
}

/// Cross-validation of a voice config.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoiceCrossValidation {
    /// Protocol in words.
    pub protocol: String,
    /// The config every fold trained with.
    pub config: VoiceTrainingConfig,
    /// Emotion metrics per fold with mean ± std (`None` when only one fold was run).
    pub emotion: Option<CrossValidationReport<ClassificationReport>>,
    /// Gender metrics per fold with mean ± std (`None` when only one fold was run).
    pub gender: Option<CrossValidationReport<BinaryReport>>,
    /// Emotion accuracy of female and male test clips, per fold.
    pub emotion_accuracy_by_gender: BTreeMap<String, Vec<f64>>,
    /// Details of each fold.
    pub folds: Vec<VoiceFoldResult>,
}

impl VoiceCrossValidation {
    /// Perceived-gender outputs by clip (`(speaker, index)`), averaged over `reports`: the
    /// out-of-fold stand-in for a model whose gender members come from several recipes, each
    /// cross-validated on the same clips and folds (pass each recipe once to weigh the recipes
    /// equally, as a file with the same number of members from each does). Every report must
    /// hold every clip of the first, in the same fold, with the same label.
    pub fn mean_gender_by_clip(reports: &[Self]) -> Result<BTreeMap<(String, usize), [f32; 2]>> {
        let first = reports
            .first()
            .ok_or_else(|| Error::InvalidConfig("no cross-validation report".into()))?;
        let key = |o: &OutOfFold| (o.group.clone().unwrap_or_default(), o.index);
        // Per clip: its fold in the first report, its label, the running sum.
        type Tally = (usize, Option<crate::labels::Gender>, [f32; 2]);
        let mut sums: BTreeMap<(String, usize), Tally> = BTreeMap::new();
        for (k, fold) in first.folds.iter().enumerate() {
            for o in &fold.test_predictions {
                sums.insert(key(o), (k, o.gender, [0.0; 2]));
            }
        }
        for (r, report) in reports.iter().enumerate() {
            let mut seen = 0;
            for (k, fold) in report.folds.iter().enumerate() {
                for o in &fold.test_predictions {
                    let (fold_k, gender, sum) = sums.get_mut(&key(o)).ok_or_else(|| {
                        Error::InvalidConfig(format!(
                            "report {r}: clip {:?} is not in the first report",
                            key(o)
                        ))
                    })?;
                    if *fold_k != k || *gender != o.gender {
                        return Err(Error::InvalidConfig(format!(
                            "report {r}: clip {:?} is in another fold or has another label",
                            key(o)
                        )));
                    }
                    sum[0] += o.prediction.gender[0];
                    sum[1] += o.prediction.gender[1];
                    seen += 1;
                }
            }
            if seen != sums.len() {
                return Err(Error::InvalidConfig(format!(
                    "report {r} has {seen} out-of-fold clips, the first {}",
                    sums.len()
                )));
            }
        }
        let n = reports.len() as f32;
        Ok(sums
            .into_iter()
            .map(|(k, (_, _, s))| (k, [s[0] / n, s[1] / n]))
            .collect())
    }
}

/// Runs `k`-fold cross-validation over `examples` grouped by [`VoiceExample::group`].
/// `fold_seed` fixes the assignment of speakers to folds. Fold logs are written to
/// `log_dir/fold_N.jsonl` when given, and each fold's model (all its members, with the
/// config's test-time views, uncalibrated) to `log_dir/fold_N/voice.json` +
/// `voice.safetensors`: what the robustness example scores its test speakers with.
/// `max_folds` stops after that many folds (for quick experiments; a full run passes `None`).
///
/// # Errors
///
/// [`Error::InvalidConfig`] when an example has no group, there are fewer than `k` groups, or
/// a test fold lacks the labels to score; training errors as [`train_voice`](super::voice::train_voice).
pub fn cross_validate_voice(
    cfg: &VoiceTrainingConfig,
    examples: &[VoiceExample],
    k: usize,
    fold_seed: u64,
    inner_validation_groups: usize,
    log_dir: Option<&Path>,
    max_folds: Option<usize>,
) -> Result<VoiceCrossValidation> {
    cross_validate_voice_with_extra(
        cfg,
        examples,
        &[],
        k,
        fold_seed,
        inner_validation_groups,
        log_dir,
        max_folds,
    )
}

/// As [`cross_validate_voice`], with `extra_train` examples (other corpora) added to every
/// fold's training set and never tested on: the folds, and every reported figure, are over
/// `examples` alone. This is the within-corpus protocol for a model trained on several corpora.
#[allow(clippy::too_many_arguments)]
pub fn cross_validate_voice_with_extra(
    cfg: &VoiceTrainingConfig,
    examples: &[VoiceExample],
    extra_train: &[VoiceExample],
    k: usize,
    fold_seed: u64,
    inner_validation_groups: usize,
    log_dir: Option<&Path>,
    max_folds: Option<usize>,
) -> Result<VoiceCrossValidation> {
    let groups: Vec<String> = examples
        .iter()
        .map(|e| {
            e.group.clone().ok_or_else(|| {
                Error::InvalidConfig(
                    "cross-validation needs a group (speaker) for every clip".into(),
                )
            })
        })
        .collect::<Result<_>>()?;
    // Each speaker's stratum: the gender most of its clips carry.
    let mut stratum: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (g, e) in groups.iter().zip(examples) {
        let s = stratum.entry(g.clone()).or_default();
        match e.gender.map(|g| g as usize) {
            Some(0) => s.0 += 1,
            Some(_) => s.1 += 1,
            None => {}
        }
    }
    let stratum_of = |g: &String| {
        let (m, f) = stratum[g];
        (f > m) as u8
    };
    let folds = stratified_group_k_fold(&groups, stratum_of, k, fold_seed)?;
    let names: Vec<String> = cfg.emotions.iter().map(|e| e.to_string()).collect();
    let mut results = Vec::with_capacity(k);
    for (fi, fold) in folds.iter().enumerate().take(max_folds.unwrap_or(k)) {
        let started = Instant::now();
        // Inner validation speakers, alternating strata, from the training side.
        let mut train_groups: Vec<String> = fold
            .train
            .iter()
            .map(|&i| groups[i].clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        SeededRng::new(fold_seed ^ (fi as u64 + 1)).shuffle(&mut train_groups);
        let mut validation_groups = Vec::new();
        for want in [0u8, 1].iter().cycle().take(inner_validation_groups * 2) {
            if validation_groups.len() == inner_validation_groups {
                break;
            }
            if let Some(pos) = train_groups
                .iter()
                .position(|g| stratum_of(g) == *want && !validation_groups.contains(g))
            {
                validation_groups.push(train_groups[pos].clone());
            }
        }
        let (mut tr, mut va) = (Vec::new(), Vec::new());
        for &i in &fold.train {
            if validation_groups.contains(&groups[i]) {
                va.push(examples[i].clone());
            } else {
                tr.push(examples[i].clone());
            }
        }
        tr.extend(extra_train.iter().cloned());
        let test: Vec<&VoiceExample> = fold.test.iter().map(|&i| &examples[i]).collect();
        let log = log_dir.map(|d| d.join(format!("fold_{}.jsonl", fi + 1)));
        if cfg.train.progress {
            eprintln!(
                "fold {}/{k}: test {:?}, validation {:?}, {} training clips",
                fi + 1,
                fold.test_groups,
                validation_groups,
                tr.len()
            );
        }
        // Each fold checkpoints on its own.
        let mut fold_cfg = cfg.clone();
        fold_cfg.train.checkpoint = cfg
            .train
            .checkpoint
            .as_ref()
            .map(|d| d.join(format!("fold{}", fi + 1)));
        let mut members = train_voice_members(&fold_cfg, &tr, &va, log.as_deref())?;
        let mels: Vec<&LogMel> = test.iter().map(|e| &e.mel).collect();
        let nets: Vec<_> = members.iter().map(|m| m.net.clone()).collect();
        let predictor = VoicePredictor::from_nets(nets, cfg.tta.clone())?;
        let preds = predictor.predict(&mels)?;
        let mut inner_validation_tta = Vec::new();
        if !va.is_empty() {
            let va_mels: Vec<&LogMel> = va.iter().map(|e| &e.mel).collect();
            let mut candidates = vec![TestTimeViews::none(), cfg.tta.clone()];
            candidates.extend(cfg.tta_compare.iter().cloned());
            for tta in candidates {
                if inner_validation_tta
                    .iter()
                    .any(|s: &TtaScore| s.tta.tempo_warp_views() == tta.tempo_warp_views())
                {
                    continue;
                }
                let p = predictor.clone().with_tta(tta.clone())?.predict(&va_mels)?;
                let metrics = validation_metrics(&va, &p, &cfg.emotions)?;
                if cfg.train.progress {
                    eprintln!(
                        "fold {}: inner validation, tta {:?} x {:?}: emotion {:.4}, gender {:.4}",
                        fi + 1,
                        tta.time_stretch,
                        tta.freq_warp,
                        metrics.emotion_accuracy.unwrap_or(f64::NAN),
                        metrics.gender_accuracy.unwrap_or(f64::NAN)
                    );
                }
                inner_validation_tta.push(TtaScore { tta, metrics });
            }
        }
        if let Some(dir) = log_dir {
            let file = VoiceModelFile {
                tta: cfg.tta.clone(),
                provenance: serde_json::json!({
                    "cross_validation_fold": fi + 1,
                    "test_speakers": fold.test_groups,
                    "validation_speakers": validation_groups,
                    "training_clips": tr.len(),
                    "fold_seed": fold_seed,
                    "train": cfg.train,
                }),
                ..VoiceModelFile::new(
                    cfg.model.clone(),
                    cfg.mel.clone(),
                    cfg.emotions.clone(),
                    cfg.members,
                )
            };
            let out = dir.join(format!("fold_{}", fi + 1));
            std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
            let varmaps: Vec<_> = members.iter().map(|m| &m.varmap).collect();
            file.save(&varmaps, &out.join("voice"))?;
        }
        let outcome = members.swap_remove(0);

        let (mut gt, mut gp, mut gs) = (vec![], vec![], vec![]);
        let (mut et, mut ep, mut eg, mut egrp) = (vec![], vec![], vec![], vec![]);
        for (ex, p) in test.iter().zip(&preds) {
            if let Some(g) = ex.gender {
                gt.push(g as usize);
                gp.push(argmax(&p.gender));
                gs.push(p.gender[1] as f64);
            }
            if let Some(i) = ex
                .emotion
                .and_then(|e| cfg.emotions.iter().position(|&x| x == e))
            {
                et.push(i);
                ep.push(argmax(&p.emotion));
                eg.push(
                    ex.gender
                        .map(|g| g.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                );
                egrp.push(ex.group.clone().unwrap_or_default());
            }
        }
        let gender = BinaryReport::new(&gt, &gp, &gs, &["male", "female"])?;
        let emotion = ClassificationReport::new(&et, &ep, &names)?;
        let result = VoiceFoldResult {
            fold: fi + 1,
            test_groups: fold.test_groups.clone(),
            validation_groups,
            n_train: tr.len(),
            emotion_by_gender: by_group(&eg, &et, &ep, &names)?,
            emotion_by_group: by_group(&egrp, &et, &ep, &names)?,
            emotion,
            gender,
            best_epoch: outcome.best_epoch,
            inner_validation_tta,
            history: outcome.history,
            seconds: started.elapsed().as_secs_f64(),
            test_predictions: fold
                .test
                .iter()
                .zip(&test)
                .zip(&preds)
                .map(|((&index, ex), p)| OutOfFold {
                    index,
                    group: ex.group.clone(),
                    gender: ex.gender,
                    emotion: ex.emotion,
                    prediction: p.clone(),
                })
                .collect(),
        };
        if cfg.train.progress {
            eprintln!(
                "fold {}: emotion accuracy {:.4}, UAR {:.4}; gender accuracy {:.4} ({:.0} s)",
                fi + 1,
                result.emotion.accuracy,
                result.emotion.uar,
                result.gender.classification.accuracy,
                result.seconds
            );
        }
        results.push(result);
    }
    let mut by_gender: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &results {
        for (g, rep) in &r.emotion_by_gender {
            by_gender.entry(g.clone()).or_default().push(rep.accuracy);
        }
    }
    Ok(VoiceCrossValidation {
        protocol: format!(
            "{}{k}-fold cross-validation by speaker (folds stratified by speaker gender, fold seed \
             {fold_seed}); {inner_validation_groups} training speakers per fold held out for \
             early stopping; every test speaker unseen in training",
            match max_folds {
                Some(n) if n < k => format!("first {n} folds of "),
                _ => String::new(),
            }
        ),
        config: cfg.clone(),
        emotion: (results.len() > 1)
            .then(|| {
                CrossValidationReport::new(results.iter().map(|r| r.emotion.clone()).collect())
            })
            .transpose()?,
        gender: (results.len() > 1)
            .then(|| CrossValidationReport::new(results.iter().map(|r| r.gender.clone()).collect()))
            .transpose()?,
        emotion_accuracy_by_gender: by_gender,
        folds: results,
    })
}
