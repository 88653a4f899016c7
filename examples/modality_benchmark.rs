//! Fused against single-modality accuracy on identity pairs: each RAVDESS speech clip with the
//! still of the same actor, the voice scored out of fold (by the cross-validation model that
//! never heard that actor), the face by the shipped face model (which never trained on the
//! stills), fused by the product of experts.
//!
//! ```sh
//! cargo run --release --example train -- --ravdess ../shared/data/ravdess/speech \
//!     --speech-accent ../shared/data/speech_accent --accent-holdout 0.2 \
//!     --config examples/configs/voice_multicorpus.json --cv 5 --cv-corpus actor --cv-only \
//!     --out runs/voice_mc_cv
//! cargo run --release --example modality_benchmark -- --cv-report runs/voice_mc_cv/cv_report.json \
//!     --stills ../shared/data/ravdess/stills
//! ```
//!
//! The stills are neutral portraits, so for emotion the face is uninformative by design: the
//! table shows whether fusion keeps the voice's emotion while it adds the face's gender cue.

use std::collections::BTreeMap;
use std::path::PathBuf;

use facevox::model::fusion::{BranchProbs, ProductOfExperts};
use facevox::training::VoiceCrossValidation;
use facevox::{Emotion, FaceAnalyzer, FaceSource};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

/// Mean and standard deviation (n - 1) of per-fold accuracies.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, var.sqrt())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut report = None;
    let mut stills = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cv-report" => report = args.next().map(PathBuf::from),
            "--stills" => stills = args.next().map(PathBuf::from),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let (Some(report), Some(stills)) = (report, stills) else {
        return Err("usage: modality_benchmark --cv-report FILE --stills DIR".into());
    };
    let cv: VoiceCrossValidation = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
    let voice_emotions = cv.config.emotions.clone();
    let face = FaceAnalyzer::new()?;
    let fusion = ProductOfExperts::default();
    // The face of each actor's still, once.
    let mut still_of: BTreeMap<String, (Vec<f32>, [f32; 2])> = BTreeMap::new();
    // Per fold: correct counts for (voice, face, fused) × (gender, emotion), and n.
    let mut per_fold: Vec<([usize; 3], [usize; 3], usize, usize)> = Vec::new();
    for fold in &cv.folds {
        if fold.test_predictions.is_empty() {
            return Err("the report has no out-of-fold predictions (re-run the CV)".into());
        }
        let (mut g_ok, mut e_ok, mut g_n, mut e_n) = ([0usize; 3], [0usize; 3], 0, 0);
        for o in &fold.test_predictions {
            let group = o.group.clone().unwrap_or_default();
            let actor: u32 = group.trim_start_matches("actor_").parse()?;
            if !still_of.contains_key(&group) {
                let path = stills.join(format!("Actor_{actor:02}.png"));
                let r = face.analyze_file_among(&path, FaceSource::Detect, None)?;
                let probs = r.emotion.probabilities.iter().map(|p| p.1).collect();
                still_of.insert(
                    group.clone(),
                    (probs, [1.0 - r.gender.p_female, r.gender.p_female]),
                );
            }
            let (f_emotion, f_gender) = &still_of[&group];
            let v = &o.prediction;
            let fused = fusion
                .fuse(
                    Some(BranchProbs {
                        gender: *f_gender,
                        emotions: face.emotions(),
                        emotion: f_emotion,
                    }),
                    Some(BranchProbs {
                        gender: v.gender,
                        emotions: &voice_emotions,
                        emotion: &v.emotion,
                    }),
                )
                .expect("two experts");
            if let Some(g) = o.gender {
                g_n += 1;
                let truth = g as usize;
                for (k, p) in [v.gender, *f_gender, fused.gender].iter().enumerate() {
                    g_ok[k] += (argmax(p) == truth) as usize;
                }
            }
            if let Some(e) = o.emotion {
                e_n += 1;
                let pick = |set: &[Emotion], p: &[f32]| set[argmax(p)];
                let guesses = [
                    pick(&voice_emotions, &v.emotion),
                    pick(face.emotions(), f_emotion),
                    pick(&fused.emotions, &fused.emotion),
                ];
                for (k, guess) in guesses.iter().enumerate() {
                    e_ok[k] += (*guess == e) as usize;
                }
            }
        }
        per_fold.push((g_ok, e_ok, g_n, e_n));
    }
    let n_g: usize = per_fold.iter().map(|f| f.2).sum();
    let n_e: usize = per_fold.iter().map(|f| f.3).sum();
    println!(
        "identity pairs: RAVDESS clip + the same actor's still; {} folds; gender n = {n_g}, \
         emotion n = {n_e}",
        per_fold.len()
    );
    println!("voice: out of fold ({}); face: the shipped model on the stills; fusion: product of experts, temperatures 1", report.display());
    println!(
        "{:<8} {:>22} {:>22}",
        "", "gender (mean ± std)", "emotion (mean ± std)"
    );
    for (k, name) in ["voice", "face", "fused"].iter().enumerate() {
        let g: Vec<f64> = per_fold
            .iter()
            .map(|f| f.0[k] as f64 / f.2 as f64)
            .collect();
        let e: Vec<f64> = per_fold
            .iter()
            .map(|f| f.1[k] as f64 / f.3 as f64)
            .collect();
        let (gm, gs) = mean_std(&g);
        let (em, es) = mean_std(&e);
        println!(
            "{name:<8} {:>13.2}% ± {:>4.2} {:>13.2}% ± {:>4.2}",
            100.0 * gm,
            100.0 * gs,
            100.0 * em,
            100.0 * es
        );
    }
    Ok(())
}
