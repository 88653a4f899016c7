//! Calibration of both branches and of the fused output: temperature scaling fitted on
//! held-out data, expected calibration error (ECE, 15 bins) before and after, reliability
//! diagrams (SVG), and with `--write` the temperatures written into the model files.
//!
//! ```sh
//! cargo run --release --example calibrate -- --models models \
//!     --voice-cv runs/voice_cv_oof/cv_report.json \
//!     --voice-gender-cv runs/voice_mc_cv/cv_report.json \
//!     --accent-heldout runs/voice_gender3/accent_heldout.csv \
//!     --ferplus ../shared/data/ferplus \
//!     --fairface ../shared/data/fairface96/fairface_label_train.csv \
//!     --stills ../shared/data/ravdess/stills --out models/calibration [--write]
//! ```
//!
//! What each temperature is fitted on, and where its "after" ECE is measured:
//! * voice emotion: the out-of-fold RAVDESS outputs of `--voice-cv` (each clip scored by the
//!   fold model that never heard its actor); ECE cross-fitted over the folds (each fold scaled
//!   by the temperature fitted on the other four);
//! * voice perceived gender: the out-of-fold outputs of `--voice-gender-cv` (default
//!   `--voice-cv`) and the model's own outputs on the held-out accent-archive speakers of
//!   `--accent-heldout` (never trained on), each speaker in one of five folds; cross-fitted.
//!   With `--speaker-gender-oof` (the shipped model's speaker-encoder head), the RAVDESS
//!   outputs are that head's out of fold, and its temperature is measured, not refitted;
//! * face emotion and gender: the selection slices (5% of FER+ training, 5% of FairFace,
//!   never trained on), after-ECE on FER+ Valid and the FairFace held-out part;
//! * fused output: identity pairs (each RAVDESS clip's out-of-fold voice output with the
//!   same actor's still, both calibrated), cross-fitted over the voice folds.
//!
//! With `--face-only`, only the face temperatures are fitted and written (the voice's and the
//! fused ones stay as they are), so a new face model is calibrated without the voice runs.
//!
//! Writes `report.json`, `reliability_*.svg` and `face_outputs.json` (every scored face's
//! uncalibrated output and labels, read by `modality_benchmark`) to `--out`; with `--write`, each branch's
//! temperatures into `face.json` / `voice.json` and the fused ones into `fusion.json` in
//! `--models` (weights untouched).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use facevox::model::fusion::{BranchProbs, FusionModelFile};
use facevox::model::{Calibration, FacePredictor, VoiceModelFile};
use facevox::training::eval::{
    cross_fitted, fit_temperature, plot_reliability, Reliability, ECE_BINS,
};
use facevox::training::face_protocol::{face_splits, FaceSplitConfig, FaceSplits};
use facevox::training::VoiceCrossValidation;
use facevox::vision::RgbImage;
use facevox::{Emotion, FaceAnalyzer, FaceSource, VoiceAnalyzer};
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(about = "Fit and measure the temperature scaling of facevox's branches and fusion")]
struct Args {
    /// Models folder (face.*, voice.*, fusion.json).
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Cross-validation report with out-of-fold outputs of the voice model's recipe (needed
    /// unless --face-only).
    #[arg(long, required_unless_present = "face_only")]
    voice_cv: Option<PathBuf>,
    /// Another report whose out-of-fold outputs stand for perceived gender (the recipe of
    /// the voice model's gender members), when they differ from --voice-cv's. Given more than
    /// once (one per recipe, the same folds), the reports' gender outputs are averaged per clip.
    #[arg(long)]
    voice_gender_cv: Vec<PathBuf>,
    /// The `speaker_gender` example's report (`--cv` on the RAVDESS manifest with
    /// `--cv-folds-from` the `--voice-cv` run): its out-of-fold `P(female)` stand for the
    /// voice's perceived gender on RAVDESS, as the shipped voice model takes gender from its
    /// speaker-encoder head. That head carries its own temperature, so the voice gender
    /// temperature fitted here is reported and neither applied nor written.
    #[arg(long, conflicts_with = "voice_gender_cv")]
    speaker_gender_oof: Option<PathBuf>,
    /// Manifest of held-out accent-archive speakers (written by `train --accent-holdout`).
    #[arg(long)]
    accent_heldout: Option<PathBuf>,
    /// FER+ root (FER2013Train/, FER2013Valid/).
    #[arg(long)]
    ferplus: PathBuf,
    /// FairFace label CSV.
    #[arg(long)]
    fairface: PathBuf,
    /// RAVDESS stills (Actor_NN.png) for the identity pairs (needed unless --face-only).
    #[arg(long, required_unless_present = "face_only")]
    stills: Option<PathBuf>,
    /// Face-crop cache.
    #[arg(long, default_value = "target/facevox-cache")]
    cache: PathBuf,
    /// Report folder.
    #[arg(long)]
    out: PathBuf,
    /// Write the fitted temperatures into the model files in --models.
    #[arg(long)]
    write: bool,
    /// Fit, report and (with --write) write only the face temperatures; the voice's and the
    /// fused ones stay as they are. For a new face model when the voice's out-of-fold runs
    /// are not at hand.
    #[arg(
        long,
        conflicts_with_all = ["voice_cv", "voice_gender_cv", "accent_heldout", "speaker_gender_oof"]
    )]
    face_only: bool,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The abstention thresholds the report tabulates (coverage and accuracy above each).
const THRESHOLDS: &[f32] = &[0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Rows of one task: distributions, true class, fold (for cross-fitting) and corpus.
#[derive(Default)]
struct Rows {
    probs: Vec<Vec<f32>>,
    labels: Vec<usize>,
    folds: Vec<usize>,
    corpus: Vec<String>,
}

impl Rows {
    fn push(&mut self, p: Vec<f32>, label: usize, fold: usize, corpus: &str) {
        self.probs.push(p);
        self.labels.push(label);
        self.folds.push(fold);
        self.corpus.push(corpus.to_string());
    }

    /// The rows of one corpus.
    fn of(&self, corpus: &str, probs: &[Vec<f32>]) -> (Vec<Vec<f32>>, Vec<usize>) {
        self.corpus
            .iter()
            .zip(probs.iter().zip(&self.labels))
            .filter(|(c, _)| c.as_str() == corpus)
            .map(|(_, (p, &l))| (p.clone(), l))
            .unzip()
    }

    fn corpora(&self) -> Vec<String> {
        let mut c = self.corpus.clone();
        c.sort();
        c.dedup();
        c
    }
}

fn table(r: &Reliability) -> Value {
    json!({"n": r.n, "accuracy": r.accuracy, "ece": r.ece, "nll": r.nll})
}

/// Coverage and accuracy of the answers whose confidence reaches each threshold.
fn coverage(probs: &[Vec<f32>], labels: &[usize], thresholds: &[f32]) -> Value {
    let rows: Vec<(f32, bool)> = probs
        .iter()
        .zip(labels)
        .map(|(p, &l)| {
            let k = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
            (p[k], k == l)
        })
        .collect();
    Value::Array(
        thresholds
            .iter()
            .map(|&t| {
                let kept: Vec<bool> = rows.iter().filter(|r| r.0 >= t).map(|r| r.1).collect();
                json!({
                    "threshold": t,
                    "coverage": kept.len() as f64 / rows.len().max(1) as f64,
                    "accuracy": (!kept.is_empty())
                        .then(|| kept.iter().filter(|&&h| h).count() as f64 / kept.len() as f64),
                })
            })
            .collect(),
    )
}

/// Cross-fitted rows: the temperature fitted on all rows, and per corpus the ECE before and
/// after (each fold scaled by the temperature of the others), with a reliability diagram.
fn cross_fitted_section(name: &str, rows: &Rows, args: &Args) -> Res<(f32, Value)> {
    let t = fit_temperature(&rows.probs, &rows.labels)?;
    let after = cross_fitted(&rows.probs, &rows.labels, &rows.folds)?;
    let mut per = serde_json::Map::new();
    let mut panels = Vec::new();
    let mut tables = Vec::new();
    for c in rows.corpora() {
        let (pb, lb) = rows.of(&c, &rows.probs);
        let (pa, la) = rows.of(&c, &after);
        let before = Reliability::new(&pb, &lb, ECE_BINS)?;
        let aft = Reliability::new(&pa, &la, ECE_BINS)?;
        eprintln!(
            "{name} [{c}]: n {} accuracy {:.4}; ECE {:.4} -> {:.4} (cross-fitted); NLL {:.4} -> {:.4}",
            before.n, before.accuracy, before.ece, aft.ece, before.nll, aft.nll
        );
        per.insert(
            c.clone(),
            json!({"before": table(&before), "after_cross_fitted": table(&aft),
                   "abstention_before": coverage(&pb, &lb, THRESHOLDS),
                   "abstention_after": coverage(&pa, &la, THRESHOLDS)}),
        );
        tables.push((format!("{c} before"), before));
        tables.push((format!("{c} after"), aft));
    }
    for (title, r) in &tables {
        panels.push((title.clone(), r));
    }
    plot_reliability(&panels, args.out.join(format!("reliability_{name}.svg")))?;
    Ok((
        t,
        json!({"temperature": t, "fitted_on": "all rows", "by_corpus": per}),
    ))
}

/// Fitted on `fit`, measured before and after on `test`.
fn held_out_section(
    name: &str,
    fit: (&[Vec<f32>], &[usize]),
    test: (&[Vec<f32>], &[usize]),
    args: &Args,
) -> Res<(f32, Value)> {
    let t = fit_temperature(fit.0, fit.1)?;
    let before = Reliability::new(test.0, test.1, ECE_BINS)?;
    let scaled = facevox::training::eval::calibration::scaled(test.0, t);
    let after = Reliability::new(&scaled, test.1, ECE_BINS)?;
    eprintln!(
        "{name}: T {t:.3} (fitted on {} rows); test n {} accuracy {:.4}; ECE {:.4} -> {:.4}; NLL {:.4} -> {:.4}",
        fit.0.len(),
        before.n,
        before.accuracy,
        before.ece,
        after.ece,
        before.nll,
        after.nll
    );
    plot_reliability(
        &[
            (format!("{name} before"), &before),
            (format!("{name} after (T {t:.2})"), &after),
        ],
        args.out.join(format!("reliability_{name}.svg")),
    )?;
    Ok((
        t,
        json!({"temperature": t, "fitted_on_rows": fit.0.len(), "test_before": table(&before),
               "test_after": table(&after),
               "abstention_after": coverage(&scaled, test.1, THRESHOLDS)}),
    ))
}

fn gender_probs(p_female: f32) -> Vec<f32> {
    vec![1.0 - p_female, p_female]
}

fn run(args: Args) -> Res<()> {
    std::fs::create_dir_all(&args.out)?;
    let mut report = serde_json::Map::new();

    // ---- face ----
    let face_stem = args.models.join("face");
    let (face_file, predictor) = FacePredictor::load(&face_stem)?;
    let predictor = predictor.with_calibration(Calibration::NONE)?;
    let split_cfg = FaceSplitConfig {
        ferplus: Some(args.ferplus.clone()),
        fairface: Some(args.fairface.clone()),
        cache: args.cache.clone(),
        eval_only: true,
        ..FaceSplitConfig::default()
    };
    let mut views: Vec<FaceSplits> = Vec::new();
    for crop in face_file.crop_views() {
        let s = face_splits(&split_cfg, &crop, false)?;
        if views.first().is_some_and(|v| v.skipped != s.skipped) {
            return Err("the crop views find faces in different images".into());
        }
        views.push(s);
    }
    let predict = |pick: fn(&FaceSplits) -> &[facevox::training::FaceExample]| {
        let lists: Vec<Vec<&RgbImage>> = views
            .iter()
            .map(|s| pick(s).iter().map(|e| &e.image).collect())
            .collect();
        predictor.predict_images(&lists, 256)
    };
    let face_emotions = face_file.emotions.clone();
    let sel = predict(|s| &s.select)?;
    let fer = predict(|s| &s.fer_valid)?;
    let fft = predict(|s| &s.ff_test)?;
    let split = |preds: &[facevox::model::Prediction], ex: &[facevox::training::FaceExample]| {
        let (mut ep, mut el, mut gp, mut gl) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (p, e) in preds.iter().zip(ex) {
            if let Some(l) = e
                .emotion
                .and_then(|x| face_emotions.iter().position(|&f| f == x))
            {
                ep.push(p.emotion.clone());
                el.push(l);
            }
            if let Some(g) = e.gender {
                gp.push(p.gender.to_vec());
                gl.push(g as usize);
            }
        }
        (ep, el, gp, gl)
    };
    // Every face output (uncalibrated) with its labels, for the fusion benchmark's
    // label-matched pairs: none of these faces was trained on.
    let dump: Vec<Value> = [
        ("select", &sel, &views[0].select),
        ("ferplus_valid", &fer, &views[0].fer_valid),
        ("fairface_test", &fft, &views[0].ff_test),
    ]
    .iter()
    .flat_map(|(name, preds, ex)| {
        preds.iter().zip(ex.iter()).map(move |(p, e)| {
            json!({"split": name, "gender": e.gender, "emotion": e.emotion,
                   "group": e.group, "prediction": p})
        })
    })
    .collect();
    std::fs::write(
        args.out.join("face_outputs.json"),
        serde_json::to_string(&dump)?,
    )?;
    let (sel_ep, sel_el, sel_gp, sel_gl) = split(&sel, &views[0].select);
    let (fer_ep, fer_el, _, _) = split(&fer, &views[0].fer_valid);
    let (_, _, ff_gp, ff_gl) = split(&fft, &views[0].ff_test);
    let (t_fe, s) = held_out_section(
        "face_emotion",
        (&sel_ep, &sel_el),
        (&fer_ep, &fer_el),
        &args,
    )?;
    report.insert("face_emotion".into(), s);
    let (t_fg, s) = held_out_section("face_gender", (&sel_gp, &sel_gl), (&ff_gp, &ff_gl), &args)?;
    report.insert("face_gender".into(), s);
    let face_cal = Calibration {
        gender: t_fg,
        emotion: t_fe,
    };

    if args.face_only {
        // The voice and fused temperatures stay as shipped.
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        report.insert("command".into(), json!(command));
        report.insert("temperatures".into(), json!({"face": face_cal}));
        std::fs::write(
            args.out.join("report.json"),
            serde_json::to_string_pretty(&Value::Object(report))?,
        )?;
        eprintln!(
            "temperatures: face {face_cal:?}; report in {}",
            args.out.display()
        );
        if args.write {
            let mut ff = face_file.clone();
            ff.calibration = face_cal;
            ff.save_description(&args.models.join("face"))?;
            eprintln!("wrote the face temperatures into {}", args.models.display());
        }
        return Ok(());
    }

    // ---- voice ----
    let voice_cv = args
        .voice_cv
        .as_ref()
        .ok_or("--voice-cv is needed unless --face-only")?;
    let cv: VoiceCrossValidation = serde_json::from_str(&std::fs::read_to_string(voice_cv)?)?;
    let mut gender_reports: Vec<VoiceCrossValidation> = Vec::new();
    for p in &args.voice_gender_cv {
        gender_reports.push(serde_json::from_str(&std::fs::read_to_string(p)?)?);
    }
    // Without --voice-gender-cv, --voice-cv's own outputs stand for perceived gender.
    let gcvs = if gender_reports.is_empty() {
        std::slice::from_ref(&cv)
    } else {
        gender_reports.as_slice()
    };
    let mean_gender = VoiceCrossValidation::mean_gender_by_clip(gcvs)?;
    let gcv = &gcvs[0];
    let voice_emotions = cv.config.emotions.clone();
    let mut v_emotion = Rows::default();
    let mut v_gender = Rows::default();
    // The voice OOF outputs by clip index, for the identity pairs.
    let mut oof: BTreeMap<usize, (usize, String, Vec<f32>, Option<Emotion>)> = BTreeMap::new();
    for (k, fold) in cv.folds.iter().enumerate() {
        if fold.test_predictions.is_empty() {
            return Err(format!("{}: no out-of-fold outputs", voice_cv.display()).into());
        }
        for o in &fold.test_predictions {
            if let Some(e) = o.emotion {
                let l = voice_emotions
                    .iter()
                    .position(|&x| x == e)
                    .ok_or("unknown emotion")?;
                v_emotion.push(o.prediction.emotion.clone(), l, k, "ravdess");
            }
            oof.insert(
                o.index,
                (
                    k,
                    o.group.clone().unwrap_or_default(),
                    o.prediction.emotion.clone(),
                    o.emotion,
                ),
            );
        }
    }
    let mut oof_gender: BTreeMap<(String, usize), [f32; 2]> = BTreeMap::new();
    // The speaker head's out-of-fold outputs, joined to --voice-cv's clips, or else the
    // gender reports' outputs averaged per clip.
    let speaker = match &args.speaker_gender_oof {
        Some(path) => Some(facevox::training::read_speaker_gender_oof(path)?),
        None => None,
    };
    let gender_folds = if speaker.is_some() {
        &cv.folds
    } else {
        &gcv.folds
    };
    for (k, fold) in gender_folds.iter().enumerate() {
        for o in &fold.test_predictions {
            let group = o.group.clone().unwrap_or_default();
            if !group.starts_with("actor") {
                continue;
            }
            let p = match &speaker {
                // The join must agree on the label, or the indices do not match.
                Some(rows) => {
                    facevox::training::speaker_gender_probs(rows, &group, o.index, o.gender)?
                }
                None => mean_gender[&(group.clone(), o.index)],
            };
            if let Some(g) = o.gender {
                v_gender.push(p.to_vec(), g as usize, k, "ravdess");
            }
            oof_gender.insert((group, o.index), p);
        }
    }
    let mut voice_file = VoiceModelFile::read(&args.models.join("voice"))?;
    if let Some(csv) = &args.accent_heldout {
        // The model itself, uncalibrated, on speakers it never heard.
        let mut raw = voice_file.clone();
        raw.calibration = Calibration::NONE;
        let weights = std::fs::read(args.models.join("voice.safetensors"))?;
        let analyzer =
            VoiceAnalyzer::from_bytes(serde_json::to_string(&raw)?.as_bytes(), &weights)?;
        let rows = facevox::training::data::load_manifest(csv)?;
        for (i, r) in rows.iter().enumerate() {
            let (Some(path), Some(g)) = (&r.voice, r.gender) else {
                continue;
            };
            let a = analyzer.analyze_file(path)?;
            v_gender.push(
                gender_probs(a.gender.p_female),
                g as usize,
                i % 5,
                "accent_archive",
            );
        }
    }
    let (t_ve, s) = cross_fitted_section("voice_emotion", &v_emotion, &args)?;
    report.insert("voice_emotion".into(), s);
    let (t_vg, s) = cross_fitted_section("voice_gender", &v_gender, &args)?;
    report.insert("voice_gender".into(), s);
    // With the speaker head, its own temperature is the shipped one: the one fitted here is
    // reported only, and the file's networks' gender temperature is left as it is.
    let speaker_head = args.speaker_gender_oof.is_some();
    let voice_cal = Calibration {
        gender: if speaker_head {
            voice_file.calibration.gender
        } else {
            t_vg
        },
        emotion: t_ve,
    };
    if speaker_head {
        report["voice_gender"]["applied"] = json!(false);
        report["voice_gender"]["why"] = json!(
            "perceived gender comes from the speaker-encoder head, whose own temperature \
             (speaker_gender.temperature in voice.json) is already in these outputs; the \
             temperature fitted here is reported, not applied"
        );
    }
    let voice_gender_t = if speaker_head { 1.0 } else { voice_cal.gender };

    // ---- fused, on identity pairs ----
    let face = FaceAnalyzer::from_dir(&args.models)?;
    let mut still: BTreeMap<String, (Vec<f32>, [f32; 2])> = BTreeMap::new();
    let fusion = FusionModelFile::read_or_default(&args.models)?;
    let plain = FusionModelFile {
        calibration: Calibration::NONE,
        ..fusion.clone()
    };
    let stills = args
        .stills
        .as_ref()
        .ok_or("--stills is needed unless --face-only")?;
    let mut f_gender = Rows::default();
    let mut f_emotion = Rows::default();
    let mut fused_emotions: Vec<Emotion> = Vec::new();
    let face_raw_cal = face.model().calibration;
    for (index, (fold, group, v_emo, emotion)) in &oof {
        let Some(vg) = oof_gender.get(&(group.clone(), *index)) else {
            continue;
        };
        if !still.contains_key(group) {
            let actor: u32 = group.trim_start_matches("actor_").parse()?;
            let r = face.analyze_file_among(
                stills.join(format!("Actor_{actor:02}.png")),
                FaceSource::Detect,
                None,
            )?;
            // Undo the shipped calibration (if any), then apply the one fitted above.
            let mut e: Vec<f32> = r.emotion.probabilities.iter().map(|p| p.1).collect();
            let mut g = gender_probs(r.gender.p_female);
            facevox::model::spec::apply_temperature(&mut e, 1.0 / face_raw_cal.emotion);
            facevox::model::spec::apply_temperature(&mut g, 1.0 / face_raw_cal.gender);
            facevox::model::spec::apply_temperature(&mut e, face_cal.emotion);
            facevox::model::spec::apply_temperature(&mut g, face_cal.gender);
            still.insert(group.clone(), (e, [g[0], g[1]]));
        }
        let (fe, fg) = &still[group];
        let mut ve = v_emo.clone();
        let mut vg = vg.to_vec();
        facevox::model::spec::apply_temperature(&mut ve, voice_cal.emotion);
        facevox::model::spec::apply_temperature(&mut vg, voice_gender_t);
        let fused = plain
            .fuse(
                Some(BranchProbs {
                    gender: *fg,
                    emotions: &face_emotions,
                    emotion: fe,
                }),
                Some(BranchProbs {
                    gender: [vg[0], vg[1]],
                    emotions: &voice_emotions,
                    emotion: &ve,
                }),
            )
            .expect("two experts");
        let truth_gender = if group.is_empty() {
            None
        } else {
            let actor: u32 = group.trim_start_matches("actor_").parse()?;
            // RAVDESS: odd actors are male.
            Some(if actor % 2 == 1 { 0 } else { 1 })
        };
        if let Some(g) = truth_gender {
            f_gender.push(fused.gender.to_vec(), g, *fold, "identity_pairs");
        }
        if let Some(e) = emotion {
            let l = fused
                .emotions
                .iter()
                .position(|x| x == e)
                .ok_or("unknown emotion")?;
            f_emotion.push(fused.emotion.clone(), l, *fold, "identity_pairs");
        }
        fused_emotions = fused.emotions;
    }
    let (t_xg, s) = cross_fitted_section("fused_gender", &f_gender, &args)?;
    report.insert("fused_gender".into(), s);
    let (_, s) = cross_fitted_section("fused_emotion", &f_emotion, &args)?;
    report.insert("fused_emotion".into(), s);
    report.insert("fused_emotions".into(), json!(fused_emotions));
    // The fused gender temperature is kept only where the cross-fitted likelihood improves on
    // no scaling. The fused emotion temperature is reported, never applied: on identity pairs
    // the face is a neutral still by construction, so a temperature fitted there would flatten
    // every fused emotion, including on real clips whose face shows the emotion.
    let improves = |name: &str| {
        let c = &report[name]["by_corpus"]["identity_pairs"];
        c["after_cross_fitted"]["nll"].as_f64() < c["before"]["nll"].as_f64()
    };
    let fused_cal = Calibration {
        gender: if improves("fused_gender") { t_xg } else { 1.0 },
        emotion: 1.0,
    };
    report.insert(
        "fused_decision".into(),
        json!({"gender_temperature_applied": fused_cal.gender != 1.0,
               "emotion_temperature_applied": false,
               "why": "a fused temperature is kept only where cross-fitting lowers the NLL; the \
                       emotion one is fitted on neutral stills, so it is never applied"}),
    );
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    report.insert("command".into(), json!(command));
    report.insert(
        "temperatures".into(),
        json!({"voice": voice_cal, "face": face_cal, "fused": fused_cal}),
    );
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(&Value::Object(report))?,
    )?;
    eprintln!(
        "temperatures: voice {voice_cal:?}, face {face_cal:?}, fused {fused_cal:?}; report in {}",
        args.out.display()
    );
    if args.write {
        voice_file.calibration = voice_cal;
        voice_file.save_description(&args.models.join("voice"))?;
        let mut ff = face_file.clone();
        ff.calibration = face_cal;
        ff.save_description(&args.models.join("face"))?;
        let mut fusion = fusion;
        fusion.calibration = fused_cal;
        fusion.provenance["calibration"] = json!({"command": command});
        fusion.save(&args.models.join("fusion.json"))?;
        eprintln!("wrote the temperatures into {}", args.models.display());
    }
    Ok(())
}
