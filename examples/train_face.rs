//! Train the face branch: emotion from FER+, perceived gender from FairFace, one model.
//!
//! ```sh
//! cargo run --release --example train_face -- \
//!     --ferplus ../shared/data/ferplus --fairface ../shared/data/fairface96/fairface_label_train.csv \
//!     --stills ../shared/data/ravdess/stills --config examples/configs/face.json --out runs/face
//! ```
//!
//! Splits (all seeded): FER+ `FER2013Train` minus a 5% selection slice trains the emotion head;
//! FairFace is split by gender × race into 85% training, 5% selection and 10% test. The
//! selection slices pick the best epoch; FER+ `FER2013Valid`, the FairFace test part and the
//! RAVDESS stills are only scored once, at the end, by the model that was kept. A config with
//! `init_weights` fine-tunes saved weights instead of starting from random ones (the shipped
//! model is `examples/configs/face.json`, then `examples/configs/face_finetune.json` from
//! its `runs/face/face.safetensors`; see models/README.md); a grey model's weights may start
//! an RGB one (`facevox::training::load_face_init_weights`). The report
//! (`report.json`) has emotion accuracy with per-class recall and the confusion matrix, gender
//! accuracy per race group, per gender and per age group, and the stills.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use facevox::labels::{Emotion, Gender};
use facevox::model::spec::apply_temperature;
use facevox::model::{FaceModelFile, FacePredictor, Prediction, TestTimeViews};
use facevox::training::eval::{plot_confusion_matrix, to_json_pretty, ClassificationReport};
use facevox::training::{
    accuracy_by_group, class_prior, face_splits, face_validation_metrics, group_gap,
    prediction_rows, prior_sweep, train_face, FaceExample, FaceSplitConfig, FaceSplits,
    FaceTrainingConfig,
};
use facevox::vision::{load_image, FaceCropper, FaceSource, RgbImage};

// See examples/train.rs: mimalloc keeps activation buffers in process between steps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "Train the facevox face branch on FER+ (emotion) and FairFace (gender)")]
struct Args {
    /// FER+ root holding FER2013Train/ and FER2013Valid/ (each with label.csv).
    #[arg(long)]
    ferplus: Option<PathBuf>,
    /// FairFace label CSV (fairface_label_train.csv); image paths relative to it.
    #[arg(long)]
    fairface: Option<PathBuf>,
    /// More FairFace rows, all for training (fairface_label_train_extra.csv); the selection
    /// and test parts still come from --fairface alone. Needs --fairface.
    #[arg(long, requires = "fairface")]
    fairface_extra: Option<PathBuf>,
    /// Folder of RAVDESS stills (Actor_NN.png) to check gender on.
    #[arg(long)]
    stills: Option<PathBuf>,
    /// Training config (JSON `FaceTrainingConfig`); defaults when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Override the config's epoch count.
    #[arg(long)]
    epochs: Option<usize>,
    /// Override the config's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Save the run's whole state in this folder after every epoch; the same command run
    /// again goes on from the last saved epoch (a finished run's checkpoint gives its result
    /// at once). A checkpoint of another run there is refused.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Use at most this many training images per dataset (quick experiments).
    #[arg(long)]
    max_train: Option<usize>,
    /// Seed of the data splits.
    #[arg(long, default_value_t = 42)]
    split_seed: u64,
    /// Face-crop cache folder (crops and detections are reused across runs).
    #[arg(long, default_value = "target/facevox-cache")]
    cache: PathBuf,
    /// Score the saved model in this folder (face.json + face.safetensors) on the same splits
    /// instead of training one; its crop config, test-time augmentation and gender members
    /// are used.
    #[arg(long)]
    evaluate: Option<PathBuf>,
    /// With --evaluate: override the model file's mirror-image test-time augmentation for the
    /// final scores (true/false).
    #[arg(long)]
    tta_flip: Option<bool>,
    /// Also write every scored face's probabilities with its labels to `predictions.jsonl` in
    /// the output folder (selection slices mirrored, the test parts as configured), so that
    /// models can be compared or combined offline.
    #[arg(long)]
    save_predictions: bool,
    /// Score only the selection slices, not FER+ Valid, the FairFace test part or the stills:
    /// for choosing between models without looking at the held-out parts.
    #[arg(long)]
    selection_only: bool,
    /// With --evaluate: apply a logit adjustment of this strength to the emotion head, its
    /// prior the class shares of the FER+ training part (`PriorCorrection`), before scoring.
    #[arg(long)]
    prior_tau: Option<f32>,
    /// Also sweep the logit adjustment's strength (0 to 1.5 by 0.05) on the selection slice
    /// and, unless --selection-only, FER+ Valid: emotion accuracy and UAR for each
    /// (`prior_sweep` in report.json).
    #[arg(long)]
    prior_sweep: bool,
    /// Write the FairFace selection and test parts (same seeded split) as `evaluate` manifests
    /// with a `group` column, by race and by age band (`fairface_{selection,test}_by_{race,age}.csv`
    /// in the output folder), then stop: `evaluate --mode face --manifest …` then audits any model
    /// on them. Needs --fairface.
    #[arg(long, requires = "fairface")]
    write_manifests: bool,
}

/// A split's name, its faces' emotion probabilities and their label indices.
type SweepSet = (&'static str, Vec<Vec<f32>>, Vec<usize>);

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg: FaceTrainingConfig = match &args.config {
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p)?)?,
        None => FaceTrainingConfig::default(),
    };
    if let Some(e) = args.epochs {
        cfg.train.epochs = e;
    }
    if let Some(s) = args.seed {
        cfg.train.seed = s;
    }
    cfg.train.checkpoint = args.checkpoint.clone();
    if args.write_manifests {
        let csv = args
            .fairface
            .as_ref()
            .ok_or("--write-manifests needs --fairface")?;
        let (recs, missing) = facevox::training::data::load_fairface(csv)?;
        let (_, sel, test) = facevox::training::fairface_parts(&recs, args.split_seed);
        std::fs::create_dir_all(&args.out)?;
        for (part, rows) in [("selection", &sel), ("test", &test)] {
            for by in ["race", "age"] {
                let path = args.out.join(format!("fairface_{part}_by_{by}.csv"));
                facevox::training::write_fairface_manifest(rows, by, &path)?;
                eprintln!("wrote {} ({} rows)", path.display(), rows.len());
            }
        }
        if missing > 0 {
            eprintln!("{missing} listed images are missing and were left out");
        }
        return Ok(());
    }
    let loaded = match &args.evaluate {
        Some(dir) => {
            let (file, net) = FacePredictor::load(&dir.join("face"))?;
            cfg.model = file.model.clone();
            cfg.crop = file.crop.clone();
            cfg.emotions = file.emotions.clone();
            cfg.tta_flip = args.tta_flip.unwrap_or(file.tta.mirror);
            Some((file, net))
        }
        None => None,
    };
    cfg.validate()?;
    std::fs::create_dir_all(&args.out)?;
    let started = Instant::now();
    // One set of splits per crop the model reads (more than one only for a saved model whose
    // gender members have their own crops); the first is the main network's.
    let crops = match &loaded {
        Some((file, _)) => file.crop_views(),
        None => vec![cfg.crop.clone()],
    };
    let split_cfg = FaceSplitConfig {
        ferplus: args.ferplus.clone(),
        fairface: args.fairface.clone(),
        fairface_extra: args.fairface_extra.clone(),
        split_seed: args.split_seed,
        max_train: args.max_train,
        cache: args.cache.clone(),
        eval_only: false,
    };
    let mut views: Vec<FaceSplits> = Vec::with_capacity(crops.len());
    for (v, crop) in crops.iter().enumerate() {
        if v > 0 {
            eprintln!("cropping the same faces for gender member view {v}: {crop:?}");
        }
        let splits = face_splits(&split_cfg, crop, cfg.soft_emotion_targets)?;
        if v > 0 && splits.skipped != views[0].skipped {
            return Err(format!(
                "crop view {v} finds faces in different images than the main crop"
            )
            .into());
        }
        views.push(splits);
    }
    let FaceSplits {
        train,
        select,
        fer_valid,
        ff_test,
        report: data_report,
        ..
    } = &views[0];
    if train.is_empty() {
        return Err("no training data: give --ferplus and/or --fairface".into());
    }
    eprintln!(
        "{} training, {} selection examples; data ready in {:.0} s",
        train.len(),
        select.len(),
        started.elapsed().as_secs_f64()
    );
    // Predictions for one split (picked from every view) by the model below.
    let predict = |model: &FacePredictor,
                   pick: fn(&FaceSplits) -> &[FaceExample],
                   flip: bool|
     -> facevox::Result<Vec<Prediction>> {
        let lists: Vec<Vec<&RgbImage>> = views
            .iter()
            .map(|s| pick(s).iter().map(|e| &e.image).collect())
            .collect();
        model.clone().with_mirror(flip).predict_images(&lists, 256)
    };

    let (outcome, loaded_net) = match loaded {
        Some((file, net)) => {
            eprintln!(
                "scoring the saved model (no training): {}",
                file.provenance["command"]
            );
            (None, Some(net))
        }
        None => {
            if let Some(init) = &cfg.init_weights {
                eprintln!(
                    "fine-tuning from {} (age balance {})",
                    init.display(),
                    cfg.age_balance
                );
            }
            (
                Some(train_face(
                    &cfg,
                    train,
                    select,
                    Some(&args.out.join("train_log.jsonl")),
                )?),
                None,
            )
        }
    };
    let model: FacePredictor = match (&outcome, loaded_net) {
        (Some(o), _) => {
            FacePredictor::single(o.net.clone(), cfg.crop.clone(), TestTimeViews::none())
        }
        (None, Some(m)) => m,
        (None, None) => unreachable!("either trained or loaded"),
    };
    // An example's emotion label as an index into the head's classes.
    let label_index = |e: &FaceExample| {
        e.emotion
            .and_then(|x| cfg.emotions.iter().position(|&y| y == x))
    };
    // The emotion classes' shares of the training labels: the prior of a logit adjustment.
    let train_prior = class_prior(train.iter().filter_map(label_index), cfg.emotions.len());
    let model = match args.prior_tau {
        Some(tau) => {
            eprintln!("emotion prior correction: tau {tau}, prior {train_prior:?}");
            model.with_prior_correction(Some(facevox::model::PriorCorrection {
                tau,
                prior: train_prior.clone(),
            }))?
        }
        None => model,
    };
    // (split, emotion probabilities, label index) of the scored faces, for the sweep.
    let mut sweep_sets: Vec<SweepSet> = Vec::new();
    let emotion_labelled = |examples: &[FaceExample], preds: &[Prediction]| {
        let (mut probs, mut labels) = (Vec::new(), Vec::new());
        for (e, p) in examples.iter().zip(preds) {
            if let Some(i) = label_index(e) {
                probs.push(p.emotion.clone());
                labels.push(i);
            }
        }
        (probs, labels)
    };
    // The sweep scores a tau as the model file applies it: to the members' averaged
    // probabilities, before the temperature. So it undoes the model's own temperature and
    // correction first; otherwise a swept tau would mean tau * T in the file.
    let temperature = model.calibration().emotion;
    let own_correction = model.prior_correction().cloned();
    let sweep_space = |mut probs: Vec<Vec<f32>>| -> Vec<Vec<f32>> {
        for p in &mut probs {
            apply_temperature(p, 1.0 / temperature);
            if let Some(c) = &own_correction {
                c.undo(p);
            }
        }
        probs
    };
    let names: Vec<String> = cfg.emotions.iter().map(|e| e.to_string()).collect();
    let mut report = serde_json::Map::new();
    report.insert(
        "data".into(),
        serde_json::Value::Object(data_report.clone()),
    );
    let mut dump = String::new();
    if let Some(o) = &outcome {
        report.insert("best_epoch".into(), serde_json::json!(o.best_epoch));
    }
    // The selection slices, with and without the mirrored view: the evidence for `tta_flip`
    // (the test parts below are scored only with the config's choice).
    if !select.is_empty() {
        let mut rows = serde_json::Map::new();
        for flip in [false, true] {
            let preds = predict(&model, |s| &s.select, flip)?;
            let m = face_validation_metrics(select, &preds, &cfg.emotions)?;
            // A head with no selection labels (a gender- or emotion-only run) is left out.
            let mut line = String::new();
            if let (Some(a), Some(b)) = (m.gender_accuracy, m.gender_balanced_accuracy) {
                line += &format!("gender {a:.4} (balanced {b:.4}), ");
            }
            if let (Some(a), Some(u)) = (m.emotion_accuracy, m.emotion_uar) {
                line += &format!("emotion {a:.4} (UAR {u:.4}), ");
            }
            eprintln!(
                "selection slices, mirrored view {}: {line}score {:.4}",
                if flip { "averaged in" } else { "off" },
                m.score
            );
            rows.insert(format!("tta_flip_{flip}"), serde_json::to_value(&m)?);
            if flip {
                dump += &prediction_rows("selection", select, &preds);
                let (p, l) = emotion_labelled(select, &preds);
                sweep_sets.push(("selection", sweep_space(p), l));
            }
        }
        report.insert("selection".into(), serde_json::Value::Object(rows));
    }
    report.insert("tta_flip".into(), serde_json::json!(cfg.tta_flip));

    if !fer_valid.is_empty() && !args.selection_only {
        let preds = predict(&model, |s| &s.fer_valid, cfg.tta_flip)?;
        dump += &prediction_rows("ferplus_valid", fer_valid, &preds);
        let (probs, t) = emotion_labelled(fer_valid, &preds);
        let p: Vec<usize> = probs.iter().map(|pr| argmax(pr)).collect();
        let rep = ClassificationReport::new(&t, &p, &names)?;
        println!("FER+ Valid (majority labels), n = {}:\n{rep}", t.len());
        plot_confusion_matrix(
            &rep.confusion_matrix()?,
            &names,
            "Face emotion, FER+ Valid",
            args.out.join("ferplus_valid_confusion.svg"),
        )?;
        report.insert("ferplus_valid".into(), serde_json::to_value(&rep)?);
        sweep_sets.push(("ferplus_valid", sweep_space(probs), t));
    }
    if !ff_test.is_empty() && !args.selection_only {
        let preds = predict(&model, |s| &s.ff_test, cfg.tta_flip)?;
        dump += &prediction_rows("fairface_test", ff_test, &preds);
        let all: Vec<(usize, usize)> = ff_test
            .iter()
            .zip(&preds)
            .map(|(e, pr)| {
                let g = e.gender.expect("FairFace has gender") as usize;
                (g, argmax(&pr.gender))
            })
            .collect();
        let (t, p): (Vec<usize>, Vec<usize>) = all.iter().copied().unzip();
        let rep = ClassificationReport::new(&t, &p, &["male", "female"])?;
        println!("FairFace held-out test, gender, n = {}:\n{rep}", all.len());
        let by = |key: fn(&FaceExample) -> String| accuracy_by_group(&all, ff_test.iter().map(key));
        let races = by(|e| e.group.clone().unwrap_or_default());
        let genders = by(|e| e.gender.map(|g| g.to_string()).unwrap_or_default());
        let ages = by(|e| e.age.clone().unwrap_or_default());
        let gap = group_gap(&races);
        for (k, v) in &races {
            println!("  {k:<16} {v}");
        }
        for (k, v) in &genders {
            println!("  {k:<16} {v}");
        }
        for (k, v) in &ages {
            println!("  age {k:<12} {v}");
        }
        println!("  best - worst race group: {:.2} points", gap * 100.0);
        report.insert(
            "fairface_test".into(),
            serde_json::json!({"gender": rep, "by_race": races, "by_gender": genders,
                "by_age": ages, "race_gap": gap}),
        );
    }
    if let Some(dir) = args.stills.as_ref().filter(|_| !args.selection_only) {
        let mut cropper = FaceCropper::for_source(FaceSource::Detect, crops[0].clone())?;
        let mut rows = Vec::new();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "png"))
            .collect();
        paths.sort();
        let mut correct = 0;
        for p in &paths {
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            let actor: u32 = name.trim_start_matches("Actor_").parse().unwrap_or(0);
            let truth = if actor % 2 == 1 {
                Gender::Male
            } else {
                Gender::Female
            };
            let row = match cropper.crop_image_views(&load_image(p)?, &crops[1..])? {
                None => serde_json::json!({"still": name, "error": "no face found"}),
                Some(c) => {
                    let one: Vec<Vec<&RgbImage>> = c.iter().map(|i| vec![i]).collect();
                    let pr = &model
                        .clone()
                        .with_mirror(cfg.tta_flip)
                        .predict_images(&one, 1)?[0];
                    let guess = if pr.gender[1] > pr.gender[0] {
                        Gender::Female
                    } else {
                        Gender::Male
                    };
                    correct += (guess == truth) as usize;
                    let emo = cfg.emotions[argmax(&pr.emotion)];
                    serde_json::json!({"still": name, "truth": truth, "predicted": guess,
                        "p_female": pr.gender[1], "emotion": emo})
                }
            };
            rows.push(row);
        }
        println!("RAVDESS stills: gender {correct}/{} correct", paths.len());
        report.insert(
            "ravdess_stills".into(),
            serde_json::json!({"n": paths.len(), "correct": correct, "rows": rows}),
        );
    }
    if args.save_predictions {
        std::fs::write(args.out.join("predictions.jsonl"), &dump)?;
    }
    if args.prior_sweep {
        let taus: Vec<f32> = (0..=30).map(|k| k as f32 * 0.05).collect();
        let mut sweeps = serde_json::Map::new();
        println!("emotion prior correction (training prior {train_prior:?}):");
        for (split, probs, labels) in &sweep_sets {
            let points = prior_sweep(probs, labels, &train_prior, &taus);
            println!("  {split}, n = {}:", labels.len());
            for p in &points {
                println!(
                    "    tau {:.2}: accuracy {:.2}%, UAR {:.2}%",
                    p.tau,
                    100.0 * p.accuracy,
                    100.0 * p.uar
                );
            }
            sweeps.insert(split.to_string(), serde_json::to_value(points)?);
        }
        report.insert(
            "prior_sweep".into(),
            serde_json::json!({"prior": train_prior, "splits": sweeps}),
        );
    }
    let emotions_used: Vec<Emotion> = cfg.emotions.clone();
    report.insert("emotions".into(), serde_json::to_value(emotions_used)?);
    let Some(outcome) = outcome else {
        to_json_pretty(&report, args.out.join("report.json"))?;
        eprintln!(
            "wrote report.json ({:.0} s in all)",
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    };
    let file = FaceModelFile {
        tta: TestTimeViews {
            mirror: cfg.tta_flip,
            ..TestTimeViews::none()
        },
        provenance: serde_json::json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "train": cfg.train,
            "soft_emotion_targets": cfg.soft_emotion_targets,
            "age_balance": cfg.age_balance,
            "init_weights": cfg.init_weights,
            "split_seed": args.split_seed,
            "training_examples": train.len(),
            "best_epoch": outcome.best_epoch,
        }),
        ..FaceModelFile::new(cfg.model.clone(), cfg.crop.clone(), cfg.emotions.clone())
    };
    file.save(&[&outcome.varmap], &args.out.join("face"))?;
    to_json_pretty(&report, args.out.join("report.json"))?;
    eprintln!(
        "saved {} and report.json ({:.0} s in all)",
        args.out.join("face.safetensors").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
