//! End-to-end use of `facevox::eval` as the trainer will use it: speaker-independent folds
//! over RAVDESS-like actors, per-fold emotion and gender reports, the cross-validation
//! summary, a subgroup breakdown, JSON and SVG output.
//!
//! Set `FACEVOX_EVAL_OUT=/some/dir` to keep the written files for inspection.

use std::collections::BTreeSet;
use std::path::PathBuf;

use facevox::labels::RAVDESS_EMOTIONS;
use facevox::training::eval::{
    plot_confusion_matrix, plot_roc_curve, stratified_group_k_fold, to_json_pretty, BinaryReport,
    ClassificationReport, CrossValidationReport, SubgroupReport,
};
use facevox::Gender;

/// One synthetic clip: actor, true emotion index, and a "model" output.
struct Clip {
    actor: u8,
    emotion: usize,
    predicted_emotion: usize,
    p_female: f64,
}

/// 20 actors x 8 emotions x 2 clips. The fake model is right about emotion except for every
/// third clip (which it shifts to the next class), and its P(female) is informative but
/// imperfect.
fn synthetic_clips() -> Vec<Clip> {
    let mut clips = Vec::new();
    let mut k = 0usize;
    for actor in 1..=20u8 {
        for emotion in 0..RAVDESS_EMOTIONS.len() {
            for _ in 0..2 {
                let predicted_emotion = if k % 3 == 0 {
                    (emotion + 1) % RAVDESS_EMOTIONS.len()
                } else {
                    emotion
                };
                let female = actor % 2 == 0;
                let noise = ((k * 37) % 100) as f64 / 100.0;
                let p_female = if female {
                    0.3 + 0.7 * noise
                } else {
                    0.7 * noise
                };
                clips.push(Clip {
                    actor,
                    emotion,
                    predicted_emotion,
                    p_female,
                });
                k += 1;
            }
        }
    }
    clips
}

fn gender_of(actor: u8) -> Gender {
    if actor % 2 == 1 {
        Gender::Male
    } else {
        Gender::Female
    }
}

fn out_dir() -> (PathBuf, bool) {
    match std::env::var_os("FACEVOX_EVAL_OUT") {
        Some(dir) => (PathBuf::from(dir), true),
        None => (
            std::env::temp_dir().join(format!("facevox-eval-e2e-{}", std::process::id())),
            false,
        ),
    }
}

#[test]
fn ravdess_like_cross_validation_end_to_end() {
    let clips = synthetic_clips();
    let actors: Vec<u8> = clips.iter().map(|c| c.actor).collect();
    let emotion_names: Vec<&str> = RAVDESS_EMOTIONS.iter().map(|e| e.name()).collect();
    let gender_names = [Gender::Male.name(), Gender::Female.name()];

    let folds = stratified_group_k_fold(&actors, |&a| gender_of(a), 5, 2024).unwrap();
    let mut emotion_reports = Vec::new();
    let mut gender_reports = Vec::new();
    let mut tested = BTreeSet::new();
    for fold in &folds {
        let train_actors: BTreeSet<u8> = fold.train.iter().map(|&i| actors[i]).collect();
        assert!(fold.test_groups.iter().all(|a| !train_actors.contains(a)));
        let males = fold
            .test_groups
            .iter()
            .filter(|&&a| gender_of(a) == Gender::Male);
        assert_eq!(males.count(), 2);
        tested.extend(fold.test.iter().copied());

        let test: Vec<&Clip> = fold.test.iter().map(|&i| &clips[i]).collect();
        let y_true: Vec<usize> = test.iter().map(|c| c.emotion).collect();
        let y_pred: Vec<usize> = test.iter().map(|c| c.predicted_emotion).collect();
        emotion_reports.push(ClassificationReport::new(&y_true, &y_pred, &emotion_names).unwrap());

        let g_true: Vec<usize> = test.iter().map(|c| gender_of(c.actor).index()).collect();
        let scores: Vec<f64> = test.iter().map(|c| c.p_female).collect();
        let g_pred: Vec<usize> = scores.iter().map(|&s| usize::from(s >= 0.5)).collect();
        gender_reports.push(BinaryReport::new(&g_true, &g_pred, &scores, &gender_names).unwrap());
    }
    assert_eq!(tested.len(), clips.len());

    let emotion_cv = CrossValidationReport::new(emotion_reports).unwrap();
    let gender_cv = CrossValidationReport::new(gender_reports).unwrap();

    // Every third clip is wrong, in every fold as overall: pooled accuracy = 1 - 107/320
    // (clips k = 0, 3, ..., 318 -> 107 wrong).
    let pooled = emotion_cv.pooled_confusion().unwrap();
    assert_eq!(pooled.total(), clips.len());
    assert_eq!(pooled.correct(), clips.len() - 107);
    let acc = emotion_cv.summary("accuracy").unwrap();
    let mean_of_folds = acc.per_fold.iter().sum::<f64>() / 5.0;
    assert!((acc.mean - mean_of_folds).abs() < 1e-12);
    assert!(acc.mean > 0.6 && acc.mean < 0.7);
    let auc = gender_cv.summary("auc").unwrap();
    assert!(auc.mean > 0.5 && auc.mean < 1.0, "{auc:?}");

    let table = emotion_cv.table();
    assert_eq!(table.lines().count(), 7, "{table}");
    assert!(table.lines().last().unwrap().starts_with("mean ± std"));

    // Emotion metrics for women vs. men over all clips.
    let genders: Vec<Gender> = clips.iter().map(|c| gender_of(c.actor)).collect();
    let y_true: Vec<usize> = clips.iter().map(|c| c.emotion).collect();
    let y_pred: Vec<usize> = clips.iter().map(|c| c.predicted_emotion).collect();
    let by_gender =
        SubgroupReport::by_group("gender", &genders, &y_true, &y_pred, &emotion_names).unwrap();
    assert_eq!(
        by_gender.groups["female"].n + by_gender.groups["male"].n,
        clips.len()
    );

    let (dir, keep) = out_dir();
    to_json_pretty(&emotion_cv, dir.join("emotion_cv.json")).unwrap();
    to_json_pretty(&gender_cv, dir.join("gender_cv.json")).unwrap();
    let back: CrossValidationReport<ClassificationReport> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("emotion_cv.json")).unwrap())
            .unwrap();
    assert_eq!(back.folds.len(), 5);
    assert_eq!(back.pooled_confusion().unwrap(), pooled);

    let cm_path = dir.join("emotion_confusion.svg");
    plot_confusion_matrix(
        &pooled,
        &emotion_names,
        "Voice emotion, 5-fold CV",
        &cm_path,
    )
    .unwrap();
    let svg = std::fs::read_to_string(&cm_path).unwrap();
    for name in &emotion_names {
        assert!(svg.contains(name), "{name} missing from the confusion plot");
    }
    let roc_path = dir.join("gender_roc_fold1.svg");
    plot_roc_curve(&gender_cv.folds[0].roc, "Voice gender, fold 1", &roc_path).unwrap();
    assert!(std::fs::metadata(&roc_path).unwrap().len() > 2000);

    if keep {
        println!("{table}\n{}\n{by_gender}", gender_cv.table());
    } else {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
