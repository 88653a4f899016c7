//! Fused against single-modality accuracy, on every kind of pair that can be built from
//! `../shared/data`, in the voice cross-validation's folds by actor.
//!
//! ```sh
//! cargo run --release --example modality_benchmark -- --models models \
//!     --cv-report runs/voice_cv_oof/cv_report.json \
//!     --gender-cv-report runs/voice_mc_cv/cv_report.json \
//!     --stills ../shared/data/ravdess/stills \
//!     --face-outputs models/calibration/face_outputs.json --json runs/modality_benchmark.json
//! ```
//!
//! The voice is always scored out of fold: each RAVDESS clip by the cross-validation model
//! that never heard its actor (`--cv-report` for emotion, `--gender-cv-report` for perceived
//! gender when the model's gender members follow another recipe), with the voice model's
//! calibration applied. When the model's perceived gender comes from the speaker encoder's
//! head (`speaker_gender` in `voice.json`, since 2026-12-05), `--speaker-gender-oof` takes the
//! `speaker_gender` example's report instead: its RAVDESS out-of-fold outputs (each clip
//! scored by a head that never heard its actor, already calibrated), joined to `--cv-report`'s
//! clips by actor and index, with every label checked. The face is the model in `--models` on faces it never trained on.
//! Fusion is the models folder's fusion file. The pairs:
//! - identity pairs: each clip with the still of the same actor (a real person pairing; the
//!   still is neutral, so for emotion the face is uninformative by design);
//! - label-matched emotion pairs: each clip whose emotion the face knows with a FER+ Valid
//!   face of the same emotion, drawn at random (seeded by the clip); label-matched gender
//!   pairs: each clip with a FairFace held-out face of the same perceived gender. Different
//!   people, so these pairs overstate what fusion gains on real recordings of one person;
//! - one modality removed: the fusion given one branch only (it must equal that branch).
//!
//! Per fold: accuracy of the voice alone, the face alone and the fused answer; printed as
//! mean ± standard deviation over the folds, with n.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use facevox::model::fusion::{BranchProbs, FusionModelFile};
use facevox::model::spec::apply_temperature;
use facevox::model::{Calibration, Prediction};
use facevox::training::eval::{cross_fitted, fit_temperature, Reliability, ECE_BINS};
use facevox::training::{
    train_fusion_head, BranchOutputs, FusionExample, FusionTrainingConfig, VoiceCrossValidation,
};
use facevox::{Emotion, FaceAnalyzer, FaceSource, Gender, VoiceAnalyzer};
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(about = "Fused against single-modality accuracy on paired sets")]
struct Args {
    /// Models folder (face.*, voice.*, fusion.json).
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Cross-validation report with the voice recipe's out-of-fold outputs.
    #[arg(long)]
    cv_report: PathBuf,
    /// Out-of-fold outputs for perceived gender, when the gender members' recipe differs.
    /// Given more than once (one per recipe, the same folds), averaged per clip.
    #[arg(long)]
    gender_cv_report: Vec<PathBuf>,
    /// Out-of-fold perceived gender from the speaker encoder's head: the `speaker_gender`
    /// example's report (`cv.out_of_fold`, each clip scored by a head that never heard its
    /// actor, already calibrated), joined to `--cv-report`'s clips by actor and index.
    #[arg(long, conflicts_with = "gender_cv_report")]
    speaker_gender_oof: Option<PathBuf>,
    /// RAVDESS stills (Actor_NN.png).
    #[arg(long)]
    stills: PathBuf,
    /// Face outputs written by `calibrate` (enables the label-matched pairs).
    #[arg(long)]
    face_outputs: Option<PathBuf>,
    /// Where to write the JSON table.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the models folder's fusion file with the learned head (trained on every pair)
    /// to this path, when the head beat the product of experts in the folds: no pair set
    /// more than 1 point worse, and the mean over the sets better.
    #[arg(long)]
    write_fusion: Option<PathBuf>,
    /// The head's training config (JSON, `FusionTrainingConfig`); the defaults when absent.
    #[arg(long)]
    head_config: Option<PathBuf>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

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

/// One branch's calibrated output on one input.
#[derive(Clone)]
struct Out {
    gender: [f32; 2],
    emotion: Vec<f32>,
}

fn calibrated(p: &Prediction, c: Calibration) -> Out {
    let mut gender = p.gender;
    let mut emotion = p.emotion.clone();
    apply_temperature(&mut gender, c.gender);
    apply_temperature(&mut emotion, c.emotion);
    Out { gender, emotion }
}

/// Hits of (voice, face, product of experts, learned head) per fold, for one task of one pair set.
#[derive(Default)]
struct Tally {
    per_fold: BTreeMap<usize, ([usize; 4], usize)>,
}

impl Tally {
    fn add(&mut self, fold: usize, hits: [bool; 4]) {
        let e = self.per_fold.entry(fold).or_default();
        for (count, hit) in e.0.iter_mut().zip(hits) {
            *count += hit as usize;
        }
        e.1 += 1;
    }

    fn summary(&self) -> Value {
        let n: usize = self.per_fold.values().map(|f| f.1).sum();
        let mut out = serde_json::Map::new();
        out.insert("n".into(), json!(n));
        for (k, name) in ["voice", "face", "product", "learned"].iter().enumerate() {
            let accs: Vec<f64> = self
                .per_fold
                .values()
                .map(|f| f.0[k] as f64 / f.1 as f64)
                .collect();
            let (m, s) = mean_std(&accs);
            out.insert(
                (*name).into(),
                json!({"mean": m, "std": s, "per_fold": accs}),
            );
        }
        Value::Object(out)
    }
}

fn cell(v: &Value, branch: &str) -> String {
    match (v[branch]["mean"].as_f64(), v[branch]["std"].as_f64()) {
        (Some(m), Some(s)) => format!("{:6.2}% ± {:4.2}", 100.0 * m, 100.0 * s),
        _ => "-".into(),
    }
}

/// A deterministic pick in `0..n` for clip `i` (splitmix64).
fn pick(i: usize, salt: u64, n: usize) -> usize {
    let mut z = (i as u64)
        .wrapping_add(salt)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) % n as u64) as usize
}

fn run(args: Args) -> Res<()> {
    let cv: VoiceCrossValidation =
        serde_json::from_str(&std::fs::read_to_string(&args.cv_report)?)?;
    let mut gcvs: Vec<VoiceCrossValidation> = Vec::new();
    for p in &args.gender_cv_report {
        gcvs.push(serde_json::from_str(&std::fs::read_to_string(p)?)?);
    }
    let voice_model = VoiceAnalyzer::from_dir(&args.models)?;
    let v_cal = voice_model.model().calibration;
    let face = FaceAnalyzer::from_dir(&args.models)?;
    let f_cal = face.model().calibration;
    let fusion = FusionModelFile::read_or_default(&args.models)?;
    let voice_emotions = cv.config.emotions.clone();
    let face_emotions = face.emotions().to_vec();

    // The voice out of fold: (fold, actor group, gender label, emotion label, output).
    let gender_of: BTreeMap<(String, usize), [f32; 2]> = if gcvs.is_empty() {
        BTreeMap::new()
    } else {
        VoiceCrossValidation::mean_gender_by_clip(&gcvs)?
    };
    // The speaker encoder head's out-of-fold P(female) by (actor, index), with its label.
    let speaker_of = match &args.speaker_gender_oof {
        Some(path) => facevox::training::read_speaker_gender_oof(path)?,
        None => BTreeMap::new(),
    };
    let mut clips = Vec::new();
    for (k, fold) in cv.folds.iter().enumerate() {
        if fold.test_predictions.is_empty() {
            return Err("the report has no out-of-fold outputs (re-run the CV)".into());
        }
        for o in &fold.test_predictions {
            let group = o.group.clone().unwrap_or_default();
            let mut p = o.prediction.clone();
            if !gcvs.is_empty() {
                p.gender = *gender_of
                    .get(&(group.clone(), o.index))
                    .ok_or("a clip lacks an out-of-fold gender output")?;
            }
            let mut p = calibrated(&p, v_cal);
            if args.speaker_gender_oof.is_some() {
                // The join must agree on the label, or the indices do not match.
                p.gender = facevox::training::speaker_gender_probs(
                    &speaker_of,
                    &group,
                    o.index,
                    o.gender,
                )?;
            }
            clips.push((k, group, o.gender, o.emotion, p));
        }
    }

    // Identity pairs: each actor's still, once (the face model's calibration applies).
    let mut still: BTreeMap<String, Out> = BTreeMap::new();
    for (_, group, ..) in &clips {
        if still.contains_key(group) {
            continue;
        }
        let actor: u32 = group.trim_start_matches("actor_").parse()?;
        let r = face.analyze_file_among(
            args.stills.join(format!("Actor_{actor:02}.png")),
            FaceSource::Detect,
            None,
        )?;
        still.insert(
            group.clone(),
            Out {
                gender: [1.0 - r.gender.p_female, r.gender.p_female],
                emotion: r.emotion.probabilities.iter().map(|p| p.1).collect(),
            },
        );
    }

    // Every pair: (set, fold, face, voice, gender label, emotion label).
    struct Pair<'a> {
        set: &'static str,
        fold: usize,
        face: &'a Out,
        voice: &'a Out,
        gender: Option<Gender>,
        emotion: Option<Emotion>,
    }
    let mut pairs: Vec<Pair> = Vec::new();
    for (k, group, g, e, v) in &clips {
        pairs.push(Pair {
            set: "identity pairs",
            fold: *k,
            face: &still[group],
            voice: v,
            gender: *g,
            emotion: *e,
        });
    }
    #[derive(serde::Deserialize)]
    struct FaceRow {
        split: String,
        gender: Option<Gender>,
        emotion: Option<Emotion>,
        prediction: Prediction,
    }
    let n_folds = cv.folds.len();
    // Face pools by label and fold (row index mod the fold count), so that a head trained on
    // the other folds never saw the test fold's faces either.
    let mut by_emotion: BTreeMap<(Emotion, usize), Vec<Out>> = BTreeMap::new();
    let mut by_gender: BTreeMap<(usize, usize), Vec<Out>> = BTreeMap::new();
    if let Some(path) = &args.face_outputs {
        let rows: Vec<FaceRow> = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        for (i, r) in rows.iter().enumerate() {
            let out = calibrated(&r.prediction, f_cal);
            match (r.split.as_str(), r.emotion, r.gender) {
                ("ferplus_valid", Some(e), _) => {
                    by_emotion.entry((e, i % n_folds)).or_default().push(out)
                }
                ("fairface_test", _, Some(g)) => by_gender
                    .entry((g as usize, i % n_folds))
                    .or_default()
                    .push(out),
                _ => {}
            }
        }
    }
    for (i, (k, _, g, e, v)) in clips.iter().enumerate() {
        if let Some(faces) = e
            .and_then(|e| by_emotion.get(&(e, *k)))
            .filter(|f| !f.is_empty())
        {
            pairs.push(Pair {
                set: "label-matched pairs (FER+ face)",
                fold: *k,
                face: &faces[pick(i, 1, faces.len())],
                voice: v,
                gender: None,
                emotion: *e,
            });
        }
        // A face that shows no expression beside a voice that may: the clip's own label.
        if let Some(faces) = by_emotion
            .get(&(Emotion::Neutral, *k))
            .filter(|f| !f.is_empty() && e.is_some())
        {
            pairs.push(Pair {
                set: "expressionless-face pairs (FER+ neutral face)",
                fold: *k,
                face: &faces[pick(i, 3, faces.len())],
                voice: v,
                gender: None,
                emotion: *e,
            });
        }
        if let Some(faces) = g
            .and_then(|g| by_gender.get(&(g as usize, *k)))
            .filter(|f| !f.is_empty())
        {
            pairs.push(Pair {
                set: "label-matched pairs (FairFace face)",
                fold: *k,
                face: &faces[pick(i, 2, faces.len())],
                voice: v,
                gender: *g,
                emotion: None,
            });
        }
    }
    let example = |p: &Pair| FusionExample {
        face: Some(BranchOutputs {
            gender: p.face.gender,
            emotion: p.face.emotion.clone(),
        }),
        voice: Some(BranchOutputs {
            gender: p.voice.gender,
            emotion: p.voice.emotion.clone(),
        }),
        gender: p.gender,
        emotion: p.emotion,
    };
    let head_cfg: FusionTrainingConfig = match &args.head_config {
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p)?)?,
        None => FusionTrainingConfig::default(),
    };
    let train_head = |keep: &dyn Fn(&Pair) -> bool| -> facevox::Result<FusionModelFile> {
        let ex: Vec<FusionExample> = pairs.iter().filter(|p| keep(p)).map(example).collect();
        let head = train_fusion_head(&ex, &face_emotions, &voice_emotions, &head_cfg)?;
        // The head's own output, unscaled: its temperature is fitted below.
        Ok(FusionModelFile {
            head: Some(head),
            calibration: Calibration::NONE,
            ..fusion.clone()
        })
    };
    let fuse = |file: &FusionModelFile, f: Option<&Out>, v: Option<&Out>| {
        file.fuse(
            f.map(|f| BranchProbs {
                gender: f.gender,
                emotions: &face_emotions,
                emotion: &f.emotion,
            }),
            v.map(|v| BranchProbs {
                gender: v.gender,
                emotions: &voice_emotions,
                emotion: &v.emotion,
            }),
        )
        .expect("at least one branch")
    };
    let baseline = FusionModelFile {
        head: None,
        ..fusion.clone()
    };
    // Columns: voice, face, product of experts, learned head (trained on the other folds).
    let mut tallies: BTreeMap<(String, &str), Tally> = BTreeMap::new();
    // Out-of-fold fused distributions with their labels and folds, per task:
    // (product, learned head) probabilities, true class, fold.
    let mut oof_g: Vec<(Vec<f32>, Vec<f32>, usize, usize)> = Vec::new();
    let mut oof_e: Vec<(Vec<f32>, Vec<f32>, usize, usize)> = Vec::new();
    for k in 0..n_folds {
        let learned = train_head(&|p: &Pair| p.fold != k)?;
        for p in pairs.iter().filter(|p| p.fold == k) {
            let (f, v) = (Some(p.face), Some(p.voice));
            let (poe, head) = (fuse(&baseline, f, v), fuse(&learned, f, v));
            if let Some(g) = p.gender {
                let t = g as usize;
                oof_g.push((poe.gender.to_vec(), head.gender.to_vec(), t, k));
                tallies
                    .entry((p.set.to_string(), "gender"))
                    .or_default()
                    .add(
                        k,
                        [
                            argmax(&p.voice.gender) == t,
                            argmax(&p.face.gender) == t,
                            argmax(&poe.gender) == t,
                            argmax(&head.gender) == t,
                        ],
                    );
            }
            if let Some(e) = p.emotion {
                // Only answers that drew on both branches take the fused temperature.
                if let Some(l) = head
                    .emotions
                    .iter()
                    .position(|x| *x == e)
                    .filter(|_| head.emotion_uses_face)
                {
                    // The product answers over the same union when both branches are present.
                    oof_e.push((poe.emotion.clone(), head.emotion.clone(), l, k));
                }
                let hit = |fp: &facevox::model::FusedProbs| fp.emotions[argmax(&fp.emotion)] == e;
                let (v_ok, f_ok) = (
                    voice_emotions[argmax(&p.voice.emotion)] == e,
                    face_emotions[argmax(&p.face.emotion)] == e,
                );
                tallies
                    .entry((p.set.to_string(), "emotion"))
                    .or_default()
                    .add(k, [v_ok, f_ok, hit(&poe), hit(&head)]);
                if p.set == "identity pairs" {
                    // One modality removed: the fusion must answer as the branch left.
                    let (pv, hv) = (fuse(&baseline, None, v), fuse(&learned, None, v));
                    tallies
                        .entry(("identity, face removed".into(), "emotion"))
                        .or_default()
                        .add(k, [v_ok, f_ok, hit(&pv), hit(&hv)]);
                    let (pf, hf) = (fuse(&baseline, f, None), fuse(&learned, f, None));
                    tallies
                        .entry(("identity, voice removed".into(), "emotion"))
                        .or_default()
                        .add(k, [v_ok, f_ok, hit(&pf), hit(&hf)]);
                }
            }
        }
    }
    println!(
        "voice: out of fold ({}{}), calibrated {v_cal:?}; face: {} (calibrated {f_cal:?}); fusion: {}",
        args.cv_report.display(),
        if let Some(p) = &args.speaker_gender_oof {
            format!("; gender from the speaker encoder's head, out of fold ({})", p.display())
        } else if args.gender_cv_report.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = args
                .gender_cv_report
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            format!("; gender from the mean of {}", names.join(", "))
        },
        args.models.display(),
        serde_json::to_string(&fusion.product_of_experts)?
    );
    println!(
        "{:<36} {:<8} {:>6} {:>16} {:>16} {:>16} {:>16}",
        "pairs", "task", "n", "voice", "face", "fused (product)", "fused (learned)"
    );
    let mut table = Vec::new();
    for ((set, task), tally) in &tallies {
        let s = tally.summary();
        println!(
            "{set:<36} {task:<8} {:>6} {:>16} {:>16} {:>16} {:>16}",
            s["n"],
            cell(&s, "voice"),
            cell(&s, "face"),
            cell(&s, "product"),
            cell(&s, "learned")
        );
        table.push(json!({"pairs": set, "task": task, "scores": s}));
    }
    println!(
        "(folds: the voice cross-validation's {n_folds} folds by actor; mean ± std over folds; \
         the learned head of each fold trained on the other folds' pairs)"
    );
    let mean_of = |s: &Value, col: &str| s[col]["mean"].as_f64().unwrap_or(0.0);
    let summaries: Vec<Value> = tallies
        .iter()
        .filter(|((set, _), _)| !set.contains("removed"))
        .map(|(_, t)| t.summary())
        .collect();
    let worst_drop = summaries
        .iter()
        .map(|s| mean_of(s, "product") - mean_of(s, "learned"))
        .fold(f64::NEG_INFINITY, f64::max);
    let gain = summaries
        .iter()
        .map(|s| mean_of(s, "learned") - mean_of(s, "product"))
        .sum::<f64>()
        / summaries.len().max(1) as f64;
    let head_wins = worst_drop <= 0.01 && gain > 0.0;
    println!(
        "learned head against the product: mean gain {:+.2} points, worst set {:+.2} points -> {}",
        100.0 * gain,
        -100.0 * worst_drop,
        if head_wins {
            "the head is better"
        } else {
            "the product stays"
        }
    );
    // Calibration of the fused output on the out-of-fold pairs (all sets; for emotion, the
    // answers that drew on the face, the others being the voice's own): ECE of the product
    // and of the head, and the head's temperature (fitted on all, "after" cross-fitted by fold).
    let mut fused_cal = serde_json::Map::new();
    let mut head_t = [1f32; 2];
    for (ti, (task, rows)) in [("gender", &oof_g), ("emotion", &oof_e)].iter().enumerate() {
        let labels: Vec<usize> = rows.iter().map(|r| r.2).collect();
        let folds: Vec<usize> = rows.iter().map(|r| r.3).collect();
        let prod: Vec<Vec<f32>> = rows.iter().map(|r| r.0.clone()).collect();
        let head: Vec<Vec<f32>> = rows.iter().map(|r| r.1.clone()).collect();
        let rp = Reliability::new(&prod, &labels, ECE_BINS)?;
        let rh = Reliability::new(&head, &labels, ECE_BINS)?;
        let t = fit_temperature(&head, &labels)?;
        let ra = Reliability::new(&cross_fitted(&head, &labels, &folds)?, &labels, ECE_BINS)?;
        println!(
            "fused {task} calibration (n {}): product ECE {:.4}; head ECE {:.4}, NLL {:.4}; head \
             after T {t:.3} (cross-fitted) ECE {:.4}, NLL {:.4}",
            rh.n, rp.ece, rh.ece, rh.nll, ra.ece, ra.nll
        );
        // Kept only where cross-fitting lowers the likelihood.
        if ra.nll < rh.nll {
            head_t[ti] = t;
        }
        fused_cal.insert(
            (*task).into(),
            json!({"n": rh.n, "product_ece": rp.ece, "product_nll": rp.nll, "head_ece": rh.ece,
                   "head_nll": rh.nll, "temperature": t, "head_after_ece": ra.ece,
                   "head_after_nll": ra.nll, "applied": head_t[ti] != 1.0}),
        );
    }
    if let Some(path) = &args.write_fusion {
        if head_wins {
            let mut file = train_head(&|_: &Pair| true)?;
            file.calibration = Calibration {
                gender: head_t[0],
                emotion: head_t[1],
            };
            file.provenance["head"] = json!({
                "command": std::env::args().collect::<Vec<_>>().join(" "),
                "pairs": pairs.len(), "config": head_cfg,
                "cross_validated_gain_points": 100.0 * gain,
            });
            file.save(path)?;
            eprintln!("wrote {} with the learned head", path.display());
        } else {
            eprintln!(
                "not writing {}: the head did not beat the product",
                path.display()
            );
        }
    }
    if let Some(out) = &args.json {
        let report = json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "voice_calibration": v_cal, "face_calibration": f_cal, "fusion": fusion,
            "table": table, "head_config": head_cfg,
            "learned_head": {"mean_gain": gain, "worst_drop": worst_drop, "better": head_wins},
            "fused_calibration": fused_cal,
        });
        std::fs::write(out, serde_json::to_string_pretty(&report)?)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}
