//! The face branch's data protocol: how FER+ and FairFace are split into training, selection
//! and test parts (all seeded), and the per-group tables its reports print. `train_face` (the
//! example) and anyone reproducing the shipped face model's numbers use this one definition.
//!
//! - FER+ `FER2013Train` minus a 5% selection slice trains the emotion head; `FER2013Valid` is
//!   the emotion test set (majority labels).
//! - FairFace is split by gender × race into 85% training, 5% selection and 10% test.
//! - The selection slices pick epochs, members and settings; the test parts are scored once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::face::{fairface_examples, ferplus_examples, FaceExample};
use crate::data::{
    load_fairface, load_ferplus, stratified_fairface_split, write_manifest, CropCache,
    FairFaceRecord, Sample,
};
use crate::model::Prediction;
use crate::rng::SeededRng;
use crate::vision::{CropConfig, FaceSource};
use crate::Result;

/// Where the face data is and how it is split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceSplitConfig {
    /// FER+ root holding `FER2013Train/` and `FER2013Valid/` (each with `label.csv`).
    pub ferplus: Option<PathBuf>,
    /// FairFace label CSV (`fairface_label_train.csv`); image paths relative to it.
    pub fairface: Option<PathBuf>,
    /// More FairFace rows (`fairface_label_train_extra.csv`), all for training: the
    /// selection and test parts are drawn from `fairface` alone, so they stay the same with or
    /// without these. Rows whose image is also in `fairface` are left out.
    #[serde(default)]
    pub fairface_extra: Option<PathBuf>,
    /// Seed of the splits (42 for every shipped number).
    pub split_seed: u64,
    /// At most this many training images per dataset (quick experiments).
    pub max_train: Option<usize>,
    /// Face-crop cache folder (crops and detections are reused across runs).
    pub cache: PathBuf,
    /// Leave the training part empty (not cropped): for scoring and calibrating a model.
    #[serde(default)]
    pub eval_only: bool,
}

impl Default for FaceSplitConfig {
    fn default() -> Self {
        Self {
            ferplus: None,
            fairface: None,
            fairface_extra: None,
            split_seed: 42,
            max_train: None,
            cache: PathBuf::from("target/facevox-cache"),
            eval_only: false,
        }
    }
}

/// The examples of every split, cropped with one crop config.
#[derive(Debug, Clone)]
pub struct FaceSplits {
    /// FER+ training minus its selection slice, and FairFace's 85%.
    pub train: Vec<FaceExample>,
    /// The selection slices: 5% of FER+ training (emotion) and FairFace's 5% (gender).
    pub select: Vec<FaceExample>,
    /// FER+ Valid with a majority label: the emotion test set.
    pub fer_valid: Vec<FaceExample>,
    /// FairFace's held-out 10% with a detected face: the gender test set.
    pub ff_test: Vec<FaceExample>,
    /// Counts per dataset and part, for the run's report.
    pub report: serde_json::Map<String, serde_json::Value>,
    /// Every image left out (no face, unreadable), in order: crops made with other configs
    /// list the same faces exactly when these agree.
    pub skipped: Vec<PathBuf>,
}

/// FairFace's three parts, each stratified by gender x race from `split_seed`: (training 85%,
/// selection 5%, test 10%). The same records and seed always give the same parts.
pub fn fairface_parts(
    records: &[FairFaceRecord],
    split_seed: u64,
) -> (
    Vec<FairFaceRecord>,
    Vec<FairFaceRecord>,
    Vec<FairFaceRecord>,
) {
    let (rest, test) = stratified_fairface_split(records, 0.10, split_seed);
    let (tr, sel) = stratified_fairface_split(&rest, 0.05 / 0.90, split_seed ^ 1);
    (tr, sel, test)
}

/// Writes FairFace records as an `evaluate` manifest ([`write_manifest`]; image paths absolute,
/// or relative where they lie under the manifest's folder) whose `group` is the race group (`by = "race"`) or the age band
/// (`by = "age"`), so `evaluate --mode face` gives the per-group audit of any model.
pub fn write_fairface_manifest(
    records: &[FairFaceRecord],
    by: &str,
    path: impl AsRef<Path>,
) -> Result<()> {
    let group_of: fn(&FairFaceRecord) -> &str = match by {
        "race" => |r| r.race.as_str(),
        "age" => |r| r.age.as_str(),
        other => {
            return Err(crate::Error::InvalidConfig(format!(
                "FairFace groups are race or age, not {other:?}"
            )))
        }
    };
    let samples: Vec<Sample> = records
        .iter()
        .map(|r| Sample {
            face: Some(std::fs::canonicalize(&r.image).unwrap_or_else(|_| r.image.clone())),
            voice: None,
            gender: Some(r.gender),
            emotion: None,
            group: Some(group_of(r).to_string()),
        })
        .collect();
    write_manifest(path, &samples)
}

/// Loads and crops every split with `crop` (which images go where depends only on the
/// seeds); `soft` keeps FER+'s vote distributions as training targets.
pub fn face_splits(cfg: &FaceSplitConfig, crop: &CropConfig, soft: bool) -> Result<FaceSplits> {
    let mut split_rng = SeededRng::new(cfg.split_seed);
    let cap = |mut v: Vec<FaceExample>, rng: &mut SeededRng| {
        if let Some(n) = cfg.max_train {
            rng.shuffle(&mut v);
            v.truncate(n);
        }
        v
    };
    let (mut train, mut select) = (Vec::new(), Vec::new());
    let mut fer_valid = Vec::new();
    let mut ff_test = Vec::new();
    let mut report = serde_json::Map::new();
    let mut skipped_images: Vec<PathBuf> = Vec::new();
    let fer_cache = CropCache::new(&cfg.cache, crop, FaceSource::Precropped)?;
    let ff_cache = CropCache::new(&cfg.cache, crop, FaceSource::Detect)?;
    if let Some(root) = &cfg.ferplus {
        let (recs, missing) = load_ferplus(root.join("FER2013Train"))?;
        let (mut ex, skipped) = ferplus_examples(&recs, crop, soft, Some(&fer_cache))?;
        split_rng.shuffle(&mut ex);
        let n_sel = ex.len() / 20;
        select.extend(ex.drain(..n_sel).filter(|e| e.emotion.is_some()));
        let mut ex = cap(ex, &mut split_rng);
        if cfg.eval_only {
            ex.clear();
        }
        eprintln!(
            "FER+ train: {} rows, {missing} missing files, {} skipped; {} training, {} selection",
            recs.len(),
            skipped.len(),
            ex.len(),
            select.len()
        );
        report.insert(
            "ferplus_train".into(),
            serde_json::json!({"rows": recs.len(), "missing": missing, "skipped": skipped.len(),
                "training": ex.len(), "selection": n_sel}),
        );
        train.extend(ex);
        skipped_images.extend(skipped.into_iter().map(|k| k.image));
        let (recs, missing) = load_ferplus(root.join("FER2013Valid"))?;
        let (ex, skipped) = ferplus_examples(&recs, crop, false, Some(&fer_cache))?;
        eprintln!(
            "FER+ valid: {} rows, {missing} missing, {} with a majority label (the test set)",
            recs.len(),
            ex.len()
        );
        report.insert(
            "ferplus_valid".into(),
            serde_json::json!({"rows": recs.len(), "missing": missing, "skipped": skipped.len(),
                "majority_labelled": ex.len()}),
        );
        fer_valid = ex;
        skipped_images.extend(skipped.into_iter().map(|k| k.image));
    }
    if let Some(csv) = &cfg.fairface {
        let (recs, missing) = load_fairface(csv)?;
        let (tr, sel, test) = fairface_parts(&recs, cfg.split_seed);
        let t0 = Instant::now();
        let tr = if cfg.eval_only { Vec::new() } else { tr };
        let (tr_ex, tr_skip) = fairface_examples(&tr, crop, FaceSource::Detect, Some(&ff_cache))?;
        let (sel_ex, sel_skip) =
            fairface_examples(&sel, crop, FaceSource::Detect, Some(&ff_cache))?;
        let (test_ex, test_skip) =
            fairface_examples(&test, crop, FaceSource::Detect, Some(&ff_cache))?;
        eprintln!(
            "FairFace: {} rows ({missing} missing); detected faces in {}/{} training, {}/{} \
             test images ({:.0} s)",
            recs.len(),
            tr_ex.len(),
            tr.len(),
            test_ex.len(),
            test.len(),
            t0.elapsed().as_secs_f64()
        );
        report.insert(
            "fairface".into(),
            serde_json::json!({"rows": recs.len(), "missing": missing,
                "training": tr.len(), "training_no_face": tr_skip.len(),
                "selection": sel.len(), "test": test.len(), "test_no_face": test_skip.len()}),
        );
        train.extend(cap(tr_ex, &mut split_rng));
        select.extend(sel_ex);
        ff_test = test_ex;
        for k in tr_skip.iter().chain(&sel_skip).chain(&test_skip) {
            skipped_images.push(k.image.clone());
        }
        if let Some(extra) = cfg.fairface_extra.as_ref().filter(|_| !cfg.eval_only) {
            let (more, missing) = load_fairface(extra)?;
            let known: std::collections::HashSet<&Path> =
                recs.iter().map(|r| r.image.as_path()).collect();
            let rows = more.len();
            let more: Vec<_> = more
                .into_iter()
                .filter(|r| !known.contains(r.image.as_path()))
                .collect();
            let overlap = rows - more.len();
            let (ex, skip) = fairface_examples(&more, crop, FaceSource::Detect, Some(&ff_cache))?;
            eprintln!(
                "FairFace extra: {rows} rows ({missing} missing, {overlap} already in {}); \
                 detected faces in {}/{}, all training",
                csv.display(),
                ex.len(),
                more.len()
            );
            report.insert(
                "fairface_extra".into(),
                serde_json::json!({"rows": rows, "missing": missing, "overlap": overlap,
                    "training": more.len(), "training_no_face": skip.len()}),
            );
            train.extend(cap(ex, &mut split_rng));
            skipped_images.extend(skip.into_iter().map(|k| k.image));
        }
        // Test images without a detected face count as errors for the gender metric.
        report.insert(
            "fairface_test_no_face".into(),
            serde_json::json!(test_skip.len()),
        );
    }
    Ok(FaceSplits {
        train,
        select,
        fer_valid,
        ff_test,
        report,
        skipped: skipped_images,
    })
}

/// Accuracy and count of `(truth, prediction)` pairs, as `{"n", "accuracy"}` (NaN when empty).
pub fn accuracy_entry(pairs: &[(usize, usize)]) -> serde_json::Value {
    let hits = pairs.iter().filter(|(t, p)| t == p).count();
    serde_json::json!({
        "n": pairs.len(),
        "accuracy": if pairs.is_empty() { f64::NAN } else { hits as f64 / pairs.len() as f64 },
    })
}

/// The group table: accuracy of `pairs` per group, `keys` naming each pair's group (race,
/// gender or age band), in key order.
pub fn accuracy_by_group(
    pairs: &[(usize, usize)],
    keys: impl Iterator<Item = String>,
) -> BTreeMap<String, serde_json::Value> {
    let mut groups: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (key, &pair) in keys.zip(pairs) {
        groups.entry(key).or_default().push(pair);
    }
    groups
        .into_iter()
        .map(|(k, v)| (k, accuracy_entry(&v)))
        .collect()
}

/// Best minus worst accuracy over the groups of a table (the race gap).
pub fn group_gap(table: &BTreeMap<String, serde_json::Value>) -> f64 {
    let accs: Vec<f64> = table
        .values()
        .filter_map(|v| v["accuracy"].as_f64())
        .collect();
    accs.iter().cloned().fold(f64::MIN, f64::max) - accs.iter().cloned().fold(f64::MAX, f64::min)
}

/// One JSON line per face: its split, probabilities and labels (`predictions.jsonl`), so runs
/// can be compared or combined offline.
pub fn prediction_rows(split: &str, examples: &[FaceExample], preds: &[Prediction]) -> String {
    let mut out = String::new();
    for (e, p) in examples.iter().zip(preds) {
        let row = serde_json::json!({"split": split, "gender": p.gender, "emotion": p.emotion,
            "label_gender": e.gender, "label_emotion": e.emotion, "group": e.group, "age": e.age});
        out += &row.to_string();
        out.push('\n');
    }
    out
}

/// Each class's share of `labels` (class indices below `n`), floored at half an example so
/// that a class absent from the labels keeps a finite correction: the prior of
/// [`PriorCorrection`](crate::model::PriorCorrection).
pub fn class_prior(labels: impl IntoIterator<Item = usize>, n: usize) -> Vec<f32> {
    let mut counts = vec![0f64; n];
    for l in labels {
        if l < n {
            counts[l] += 1.0;
        }
    }
    counts.iter_mut().for_each(|c| *c = c.max(0.5));
    let total: f64 = counts.iter().sum();
    counts.iter().map(|c| (c / total) as f32).collect()
}

/// One strength of a prior-correction sweep: accuracy and unweighted average recall.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriorSweepPoint {
    /// The correction's strength.
    pub tau: f32,
    /// Accuracy with it.
    pub accuracy: f64,
    /// Unweighted average recall over the classes present in the labels.
    pub uar: f64,
}

/// Accuracy and UAR of emotion probabilities `probs` against `labels` with the logit
/// adjustment of each strength in `taus` (see [`PriorCorrection`](crate::model::PriorCorrection)).
pub fn prior_sweep(
    probs: &[Vec<f32>],
    labels: &[usize],
    prior: &[f32],
    taus: &[f32],
) -> Vec<PriorSweepPoint> {
    let n = prior.len();
    taus.iter()
        .map(|&tau| {
            let correction = crate::model::PriorCorrection {
                tau,
                prior: prior.to_vec(),
            };
            let (mut hits, mut seen) = (vec![0usize; n], vec![0usize; n]);
            for (p, &y) in probs.iter().zip(labels) {
                let mut q = p.clone();
                correction.apply(&mut q);
                let k = super::engine::argmax(&q);
                if y < n {
                    seen[y] += 1;
                    hits[y] += usize::from(k == y);
                }
            }
            let total: usize = seen.iter().sum();
            let recalls: Vec<f64> = hits
                .iter()
                .zip(&seen)
                .filter(|(_, &s)| s > 0)
                .map(|(&h, &s)| h as f64 / s as f64)
                .collect();
            PriorSweepPoint {
                tau,
                accuracy: hits.iter().sum::<usize>() as f64 / total.max(1) as f64,
                uar: recalls.iter().sum::<f64>() / recalls.len().max(1) as f64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fairface_parts_are_disjoint_and_their_manifests_carry_the_groups() {
        use crate::data::FAIRFACE_RACES;
        let dir = std::env::temp_dir().join(format!("facevox-ffparts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut csv = String::from("file,age,gender,race,service_test\n");
        for i in 0..280 {
            std::fs::write(dir.join(format!("{i}.jpg")), b"").unwrap();
            let gender = if i % 2 == 0 { "Male" } else { "Female" };
            let race = FAIRFACE_RACES[(i / 2) % 7];
            let age = ["3-9", "20-29", "more than 70"][i % 3];
            csv.push_str(&format!("{i}.jpg,{age},{gender},{race},TRUE\n"));
        }
        std::fs::write(dir.join("labels.csv"), csv).unwrap();
        let (recs, missing) = crate::data::load_fairface(dir.join("labels.csv")).unwrap();
        assert_eq!((recs.len(), missing), (280, 0));
        let (tr, sel, test) = fairface_parts(&recs, 42);
        assert_eq!(tr.len() + sel.len() + test.len(), 280);
        // 20 per gender x race stratum: 2 of each in test.
        assert_eq!(test.len(), 28);
        let names = |v: &[FairFaceRecord]| -> std::collections::BTreeSet<PathBuf> {
            v.iter().map(|r| r.image.clone()).collect()
        };
        assert!(names(&tr).is_disjoint(&names(&test)));
        assert!(names(&sel).is_disjoint(&names(&test)));
        assert!(names(&tr).is_disjoint(&names(&sel)));
        assert_eq!(fairface_parts(&recs, 42).2, test, "the split is seeded");

        write_fairface_manifest(&test, "race", dir.join("race.csv")).unwrap();
        write_fairface_manifest(&test, "age", dir.join("age.csv")).unwrap();
        let by_race = crate::data::load_manifest(dir.join("race.csv")).unwrap();
        let by_age = crate::data::load_manifest(dir.join("age.csv")).unwrap();
        assert_eq!(by_race.len(), test.len());
        for ((r, m), a) in test.iter().zip(&by_race).zip(&by_age) {
            assert_eq!(m.group.as_deref(), Some(r.race.as_str()));
            assert_eq!(a.group.as_deref(), Some(r.age.as_str()));
            assert_eq!(m.gender, Some(r.gender));
            assert_eq!((m.voice.as_ref(), m.emotion), (None, None));
            assert!(m
                .face
                .as_ref()
                .unwrap()
                .ends_with(r.image.file_name().unwrap()));
        }
        let err = write_fairface_manifest(&test, "hair", dir.join("x.csv")).unwrap_err();
        assert!(matches!(err, crate::Error::InvalidConfig(_)), "{err}");
        assert!(!dir.join("x.csv").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn prior_sweep_trades_accuracy_for_rare_recall() {
        // Class 1 is rare (10%); the head leans to class 0 on the ambiguous examples.
        let prior = class_prior([0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 2);
        assert!((prior[1] - 0.1).abs() < 1e-6);
        assert_eq!(class_prior([0, 0], 2), vec![0.8, 0.2]);
        let probs = vec![
            vec![0.9, 0.1],
            vec![0.9, 0.1],
            vec![0.7, 0.3], // true 1
            vec![0.6, 0.4], // true 0
        ];
        let labels = [0, 0, 1, 0];
        let sweep = prior_sweep(&probs, &labels, &prior, &[0.0, 1.0]);
        // tau 0: all called 0: accuracy 3/4, UAR (1 + 0) / 2.
        assert_eq!(sweep[0].accuracy, 0.75);
        assert_eq!(sweep[0].uar, 0.5);
        // tau 1: odds multiplied by 9: 0.7/0.3 and 0.6/0.4 flip to 1, 0.9/0.1 stays (0.9 vs 0.9
        // ties go to the first class).
        assert_eq!(sweep[1].uar, (2.0 / 3.0 + 1.0) / 2.0);
        assert_eq!(sweep[1].accuracy, 0.75);
        // The correction itself: checked, and a no-op at tau 0.
        let c = crate::model::PriorCorrection { tau: 1.0, prior };
        assert!(c.validate(2).is_ok());
        assert!(c.validate(3).is_err());
        let bad = crate::model::PriorCorrection {
            tau: 1.0,
            prior: vec![0.5, 0.0],
        };
        assert!(bad.validate(2).is_err());
        let mut p = vec![0.7, 0.3];
        crate::model::PriorCorrection {
            tau: 0.0,
            ..c.clone()
        }
        .apply(&mut p);
        assert_eq!(p, vec![0.7, 0.3]);
        c.apply(&mut p);
        assert!(
            (p[1] - 0.3 / 0.1 / (0.7 / 0.9 + 0.3 / 0.1)).abs() < 1e-5,
            "{p:?}"
        );
        // Undone, the probabilities before the correction come back.
        c.undo(&mut p);
        assert!(
            (p[0] - 0.7).abs() < 1e-6 && (p[1] - 0.3).abs() < 1e-6,
            "{p:?}"
        );
    }

    #[test]
    fn group_tables_and_gap() {
        let pairs = [(0, 0), (1, 0), (1, 1), (0, 0)];
        let keys = ["a", "b", "b", "a"].iter().map(|s| s.to_string());
        let t = accuracy_by_group(&pairs, keys);
        assert_eq!(t["a"]["n"], 2);
        assert_eq!(t["a"]["accuracy"], 1.0);
        assert_eq!(t["b"]["accuracy"], 0.5);
        assert!((group_gap(&t) - 0.5).abs() < 1e-12);
        assert!(accuracy_entry(&[])["accuracy"].is_null());
    }
}
