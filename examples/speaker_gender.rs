//! Perceived gender from the pretrained speaker encoder (`models/speaker_ge2e.safetensors`, a
//! port of Resemblyzer's GE2E network): embeds every clip of some manifests, fits the logistic
//! regression head on the training manifests (penalty chosen by 5-fold cross-validation by
//! speaker, temperature fitted on the out-of-fold outputs), and scores it on test manifests,
//! per gender, with the expected calibration error.
//!
//! ```sh
//! # leave RAVDESS out: train on the archive's training speakers, test on everything else
//! cargo run --release --example speaker_gender -- \
//!     --train runs/accent_train.csv --train runs/accent_train_phone/manifest.csv \
//!     --test heldout=runs/accent_heldout.csv --test telephone=runs/accent_phone/manifest.csv \
//!     --test ravdess=runs/ravdess_all.csv --cache runs/speaker_cache --out runs/spk_loco
//! # the shipped head: archive (clean, telephone, corrupted copies) + RAVDESS, RAVDESS also
//! # scored 5-fold by actor (out of fold, in the emotion CV's folds)
//! cargo run --release --example speaker_gender -- \
//!     --train runs/accent_train.csv --train runs/accent_train_phone/manifest.csv \
//!     --augment runs/accent_train.csv --cv runs/ravdess_all.csv \
//!     --cv-folds-from runs/voice_cv_oof --write-fold-models runs/spk_fold_models_aug \
//!     --test heldout=runs/accent_heldout.csv --test telephone=runs/accent_phone/manifest.csv \
//!     --cache runs/speaker_cache --out runs/spk_cvmatch_aug --write-model models
//! ```
//!
//! Manifests are the evaluate example's (`face,voice,gender,emotion,group`; paths relative to
//! the manifest); rows without a gender label or a voice are skipped. Each clip is decoded,
//! resampled to 16 kHz and trimmed of leading and trailing silence as the voice branch does,
//! then embedded. `--cv` adds a manifest to training and scores it by 5-fold cross-validation
//! by `group` (each fold's head never heard the speakers it scores). `--write-model DIR` puts
//! the head into `DIR/voice.json` under `speaker_gender` with its provenance. `--augment M`
//! adds one corrupted copy of each row of manifest `M` to training (the shipped head's
//! recipe since 2026-12-05); `--corrupt-test KIND:LEVEL` also scores every test set under a
//! corruption; `--cv-folds-from CVDIR --write-fold-models DIR` take the `--cv` folds from a
//! voice cross-validation and write one model folder per fold (for the robustness example).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use facevox::audio::{vad::trim_silence, VadConfig};
use facevox::model::{SpeakerEncoder, SpeakerGenderHead};
use facevox::training::data::load_manifest;
use facevox::training::eval::{group_k_fold, Fold};
use facevox::training::{fit_logistic, fit_speaker_gender};
use facevox::Gender;
use rayon::prelude::*;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Training manifests (repeatable).
    #[arg(long, required = true)]
    train: Vec<PathBuf>,
    /// A manifest added to training and scored by 5-fold cross-validation by group.
    #[arg(long)]
    cv: Option<PathBuf>,
    /// Test manifests, `name=path` (repeatable).
    #[arg(long)]
    test: Vec<String>,
    /// The speaker encoder's weights.
    #[arg(long, default_value = "models/speaker_ge2e.safetensors")]
    encoder: PathBuf,
    /// Folder for cached embeddings (one JSON file per manifest).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Candidate penalties (scikit-learn's C).
    #[arg(long, value_delimiter = ',', default_value = "0.3,1,3,10,30,100")]
    c: Vec<f64>,
    /// Seed of the speaker folds.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output folder (report.json, head.json).
    #[arg(long)]
    out: PathBuf,
    /// Write the head into DIR/voice.json.
    #[arg(long)]
    write_model: Option<PathBuf>,
    /// Take the `--cv` folds from a voice cross-validation folder (`train --cv`: its
    /// `cv_report.json` names each fold's test speakers) instead of drawing them, so that the
    /// heads' folds are that run's.
    #[arg(long, value_name = "CVDIR")]
    cv_folds_from: Option<PathBuf>,
    /// Also train on one corrupted copy of each row of this manifest (repeatable): white
    /// noise or babble (three other clips of the manifest) at 0-20 dB SNR over the speech,
    /// or clipping at 5-30% of the peak, drawn per row from `--seed`. The copies keep their
    /// speaker's group, so cross-validation keeps them with the original.
    #[arg(long)]
    augment: Vec<PathBuf>,
    /// Also score every `--test` manifest under this corruption (repeatable): `white:DB`,
    /// `babble:DB` (SNR over the speech) or `clip:FRACTION` (of the peak).
    #[arg(long, value_parser = parse_corruption)]
    corrupt_test: Vec<Corruption>,
    /// With `--cv-folds-from`: write a cross-validation folder of the same shape (its
    /// `cv_report.json`, and `fold_N/voice.*` from CVDIR's fold models with each fold's
    /// speaker head put in), which the robustness example reads like any other.
    #[arg(long, value_name = "DIR", requires = "cv_folds_from")]
    write_fold_models: Option<PathBuf>,
}

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A waveform corruption applied before embedding.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Corruption {
    /// White noise at this SNR (dB).
    White(f32),
    /// Babble of three other clips at this SNR (dB).
    Babble(f32),
    /// Clipping at this fraction of the peak.
    Clip(f32),
    /// One of the three, with its level, drawn per clip from this seed (augmentation).
    Random(u64),
}

impl Corruption {
    /// A name for cache files and reports.
    fn tag(&self) -> String {
        match self {
            Corruption::White(db) => format!("white:{db}"),
            Corruption::Babble(db) => format!("babble:{db}"),
            Corruption::Clip(f) => format!("clip:{f}"),
            Corruption::Random(seed) => format!("augment:{seed}"),
        }
    }
}

fn parse_corruption(s: &str) -> Result<Corruption, String> {
    let (kind, level) = s
        .split_once(':')
        .ok_or_else(|| format!("{s}: want KIND:LEVEL"))?;
    let v: f32 = level.parse().map_err(|_| format!("{s}: bad level"))?;
    match kind {
        "white" if v.is_finite() => Ok(Corruption::White(v)),
        "babble" if v.is_finite() => Ok(Corruption::Babble(v)),
        "clip" if v > 0.0 && v <= 1.0 => Ok(Corruption::Clip(v)),
        _ => Err(format!(
            "{s}: KIND is white, babble or clip (clip level in 0..=1)"
        )),
    }
}

/// A clip's 16 kHz samples and its speech span (`start..end`).
type Speech = (Vec<f32>, (usize, usize));

/// Decodes every clip at 16 kHz with its speech span (silence trimming), in parallel.
fn load_clips(paths: &[PathBuf]) -> Res<Vec<Speech>> {
    paths
        .par_iter()
        .map(|p| load_speech(p))
        .collect::<facevox::Result<Vec<_>>>()
        .map_err(Into::into)
}

/// A clip decoded at 16 kHz with its speech span, as the voice branch trims it.
fn load_speech(path: &Path) -> facevox::Result<Speech> {
    let clip = facevox::load_audio(path, 16_000)?;
    let span = trim_silence(&clip.samples, 16_000, &VadConfig::default())?;
    Ok((clip.samples, span))
}

/// Clip `i` of `clips` under `c`, trimmed again and embedded.
fn embed_corrupted(
    enc: &SpeakerEncoder,
    clips: &[Speech],
    i: usize,
    c: Corruption,
) -> facevox::Result<Vec<f32>> {
    use facevox::audio::corrupt::{add_at_snr, babble, clip_peaks, white_noise};
    use facevox::training::rng::SeededRng;
    let mut rng = SeededRng::new(0x5eed).fork(i as u64);
    let c = match c {
        Corruption::Random(seed) => {
            let mut r = SeededRng::new(seed).fork(i as u64);
            let db = r.range_f64(0.0, 20.0) as f32;
            match r.below(3) {
                0 => Corruption::White(db),
                1 => Corruption::Babble(db),
                _ => Corruption::Clip(r.range_f64(0.05, 0.3) as f32),
            }
        }
        other => other,
    };
    let (x, span) = &clips[i];
    let y = match c {
        Corruption::White(db) => add_at_snr(x, *span, &white_noise(x.len(), rng.next_u64()), db),
        Corruption::Babble(db) => {
            let mut voices: Vec<&[f32]> = Vec::new();
            while voices.len() < 3 && clips.len() > 1 {
                let j = rng.below(clips.len());
                if j != i {
                    let (o, (s, e)) = &clips[j];
                    voices.push(&o[*s..*e]);
                }
            }
            add_at_snr(x, *span, &babble(&voices, x.len()), db)
        }
        Corruption::Clip(f) => clip_peaks(x, f),
        Corruption::Random(_) => unreachable!("drawn above"),
    };
    let (a, b) = trim_silence(&y, 16_000, &VadConfig::default())?;
    enc.embed(&y[a..b])
}

struct Row {
    path: PathBuf,
    female: u8,
    group: String,
    embedding: Vec<f32>,
}

fn embed_file(enc: &SpeakerEncoder, path: &Path) -> facevox::Result<Vec<f32>> {
    let (samples, (a, b)) = load_speech(path)?;
    enc.embed(&samples[a..b])
}

/// The labelled rows of a manifest with their embeddings (cached by path), each clip under
/// `corruption` when given.
fn rows(
    enc: &SpeakerEncoder,
    manifest: &Path,
    cache: Option<&Path>,
    corruption: Option<Corruption>,
) -> Res<Vec<Row>> {
    let cache_file = cache.map(|d| {
        let name = manifest.to_string_lossy().replace(['/', '\\'], "_");
        match corruption {
            None => d.join(format!("{name}.json")),
            Some(c) => d.join(format!("{name}@{}.json", c.tag().replace(':', "_"))),
        }
    });
    let mut cached: BTreeMap<String, Vec<f32>> = match &cache_file {
        Some(f) if f.exists() => serde_json::from_str(&std::fs::read_to_string(f)?)?,
        _ => BTreeMap::new(),
    };
    let samples = load_manifest(manifest)?;
    let todo: Vec<PathBuf> = samples
        .iter()
        .filter(|s| s.gender.is_some())
        .filter_map(|s| s.voice.clone())
        .filter(|p| !cached.contains_key(&p.to_string_lossy().to_string()))
        .collect();
    if !todo.is_empty() {
        eprintln!("{}: embedding {} clips", manifest.display(), todo.len());
        let done: Vec<(PathBuf, facevox::Result<Vec<f32>>)> = match corruption {
            None => todo
                .par_iter()
                .map(|p| (p.clone(), embed_file(enc, p)))
                .collect(),
            Some(c) => {
                // Every labelled clip (babble draws on the others), then the ones to do.
                let all: Vec<PathBuf> = samples
                    .iter()
                    .filter(|s| s.gender.is_some())
                    .filter_map(|s| s.voice.clone())
                    .collect();
                let clips = load_clips(&all)?;
                let index: BTreeMap<&PathBuf, usize> =
                    all.iter().enumerate().map(|(i, p)| (p, i)).collect();
                todo.par_iter()
                    .map(|p| (p.clone(), embed_corrupted(enc, &clips, index[p], c)))
                    .collect()
            }
        };
        for (p, r) in done {
            match r {
                Ok(e) => {
                    cached.insert(p.to_string_lossy().to_string(), e);
                }
                Err(e) => eprintln!("  skipped {}: {e}", p.display()),
            }
        }
        if let Some(f) = &cache_file {
            std::fs::create_dir_all(f.parent().unwrap())?;
            std::fs::write(f, serde_json::to_string(&cached)?)?;
        }
    }
    Ok(samples
        .into_iter()
        .filter_map(|s| {
            let (voice, gender) = (s.voice?, s.gender?);
            let embedding = cached.get(&voice.to_string_lossy().to_string())?.clone();
            Some(Row {
                female: (gender == Gender::Female) as u8,
                group: s
                    .group
                    .unwrap_or_else(|| voice.to_string_lossy().to_string()),
                path: voice,
                embedding,
            })
        })
        .collect())
}

/// Accuracy, per-gender recall, errors each way and ECE (15 bins) of `P(female)` outputs.
fn score(p: &[f64], female: &[u8]) -> serde_json::Value {
    let n = p.len();
    let pred: Vec<u8> = p.iter().map(|&v| (v > 0.5) as u8).collect();
    let count = |g: u8, ok: bool| {
        (0..n)
            .filter(|&i| female[i] == g && (pred[i] == g) == ok)
            .count()
    };
    let (mok, mbad, fok, fbad) = (
        count(0, true),
        count(0, false),
        count(1, true),
        count(1, false),
    );
    let rec = |ok: usize, bad: usize| 100.0 * ok as f64 / (ok + bad).max(1) as f64;
    let rows: Vec<[f32; 2]> = p.iter().map(|&v| [(1.0 - v) as f32, v as f32]).collect();
    let labels: Vec<usize> = female.iter().map(|&v| v as usize).collect();
    let ece = facevox::training::eval::Reliability::new(&rows, &labels, 15)
        .map(|r| r.ece)
        .unwrap_or(f64::NAN);
    json!({
        "n": n,
        "accuracy": 100.0 * (mok + fok) as f64 / n.max(1) as f64,
        "male_recall": rec(mok, mbad),
        "female_recall": rec(fok, fbad),
        "men_heard_as_women": mbad,
        "women_heard_as_men": fbad,
        "ece": ece,
    })
}

fn line(name: &str, s: &serde_json::Value) -> String {
    format!(
        "{name:<28} n {:>5}  accuracy {:6.2}%  recall male {:6.2} female {:6.2}  (m->f {}, f->m {})  ECE {:.4}",
        s["n"],
        s["accuracy"].as_f64().unwrap_or(0.0),
        s["male_recall"].as_f64().unwrap_or(0.0),
        s["female_recall"].as_f64().unwrap_or(0.0),
        s["men_heard_as_women"],
        s["women_heard_as_men"],
        s["ece"].as_f64().unwrap_or(f64::NAN)
    )
}

fn run(args: Args) -> Res<()> {
    let enc = SpeakerEncoder::load(&args.encoder)?;
    let cache = args.cache.as_deref();
    let mut train: Vec<Row> = Vec::new();
    for m in &args.train {
        train.extend(rows(&enc, m, cache, None)?);
    }
    for m in &args.augment {
        train.extend(rows(&enc, m, cache, Some(Corruption::Random(args.seed)))?);
    }
    let cv_rows = match &args.cv {
        Some(m) => rows(&enc, m, cache, None)?,
        None => Vec::new(),
    };
    let mut report = serde_json::Map::new();
    let mut lines = Vec::new();

    // Cross-validation of the --cv manifest: each fold's head trained on --train and the
    // other folds, with the C the full fit chooses below (re-chosen per fold would be purer;
    // the choice moves little, see c_log_loss in the report).
    let all: Vec<&Row> = train.iter().chain(cv_rows.iter()).collect();
    let x: Vec<Vec<f32>> = all.iter().map(|r| r.embedding.clone()).collect();
    let y: Vec<u8> = all.iter().map(|r| r.female).collect();
    let g: Vec<String> = all.iter().map(|r| r.group.clone()).collect();
    let w = vec![1f32; x.len()];
    let (mut head, fit) = fit_speaker_gender(&x, &y, &g, &w, &args.c, 5, args.seed)?;
    eprintln!(
        "trained on {} clips of {} speakers: C {} (log loss by C {:?}), temperature {:.3}",
        x.len(),
        g.iter().collect::<std::collections::BTreeSet<_>>().len(),
        fit.c,
        fit.c_log_loss,
        fit.temperature
    );
    if !cv_rows.is_empty() {
        let groups: Vec<String> = cv_rows.iter().map(|r| r.group.clone()).collect();
        let folds = match &args.cv_folds_from {
            Some(dir) => folds_from_report(dir, &groups)?,
            None => group_k_fold(&groups, 5, args.seed)?,
        };
        let mut p = vec![0f64; cv_rows.len()];
        let mut per_fold = Vec::new();
        for (k, f) in folds.iter().enumerate() {
            let mut fx: Vec<Vec<f32>> = train.iter().map(|r| r.embedding.clone()).collect();
            let mut fy: Vec<u8> = train.iter().map(|r| r.female).collect();
            for &i in &f.train {
                fx.push(cv_rows[i].embedding.clone());
                fy.push(cv_rows[i].female);
            }
            let m = fit_logistic(&fx, &fy, &vec![1.0; fx.len()], fit.c)?;
            if let (Some(from), Some(to)) = (&args.cv_folds_from, &args.write_fold_models) {
                let fold_head = SpeakerGenderHead {
                    weights: m.weights.iter().map(|&v| v as f32).collect(),
                    bias: m.bias as f32,
                    temperature: fit.temperature,
                    c: fit.c,
                    provenance: json!({
                        "command": std::env::args().collect::<Vec<_>>().join(" "),
                        "fold": k + 1,
                        "test_groups": f.test_groups,
                        "note": "trained on --train and the other folds' --cv rows; the full fit's C and temperature",
                    }),
                };
                write_fold_model(from, to, k + 1, &fold_head)?;
            }
            for &i in &f.test {
                let z = m.predict(&cv_rows[i].embedding);
                // The same temperature as the shipped head.
                let logit = (z / (1.0 - z)).ln() / fit.temperature as f64;
                p[i] = 1.0 / (1.0 + (-logit).exp());
            }
            let fp: Vec<f64> = f.test.iter().map(|&i| p[i]).collect();
            let fyy: Vec<u8> = f.test.iter().map(|&i| cv_rows[i].female).collect();
            per_fold.push(score(&fp, &fyy)["accuracy"].as_f64().unwrap_or(0.0));
        }
        let female: Vec<u8> = cv_rows.iter().map(|r| r.female).collect();
        let mut s = score(&p, &female);
        let mean = per_fold.iter().sum::<f64>() / per_fold.len() as f64;
        let sd = (per_fold.iter().map(|a| (a - mean).powi(2)).sum::<f64>()
            / (per_fold.len() - 1).max(1) as f64)
            .sqrt();
        s["per_fold_accuracy"] = json!(per_fold);
        s["fold_mean"] = json!(mean);
        s["fold_sd"] = json!(sd);
        s["folds"] = json!(folds.iter().map(|f| &f.test_groups).collect::<Vec<_>>());
        lines.push(format!(
            "{}  folds {mean:.2} ± {sd:.2}",
            line("cv (5 folds by group)", &s)
        ));
        // `index`: the clip's rank among the manifest's paths sorted, which is its index in
        // the examples of a `train --ravdess` cross-validation (the loader lists files
        // sorted), so modality_benchmark can join these outputs to that run's.
        let mut order: Vec<usize> = (0..cv_rows.len()).collect();
        order.sort_by(|&a, &b| cv_rows[a].path.cmp(&cv_rows[b].path));
        let mut rank = vec![0usize; cv_rows.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        let oof: Vec<serde_json::Value> = cv_rows
            .iter()
            .zip(&p)
            .zip(&rank)
            .map(|((r, v), k)| {
                json!({"voice": r.path, "index": k, "group": r.group, "female": r.female, "p_female": v})
            })
            .collect();
        s["out_of_fold"] = json!(oof);
        report.insert("cv".into(), s);
    }
    for t in &args.test {
        let (name, path) = t.split_once('=').ok_or("--test takes name=manifest.csv")?;
        let conditions = std::iter::once(None).chain(args.corrupt_test.iter().copied().map(Some));
        for c in conditions {
            let test = rows(&enc, Path::new(path), cache, c)?;
            let p: Vec<f64> = test
                .iter()
                .map(|r| head.predict(&r.embedding)[1] as f64)
                .collect();
            let female: Vec<u8> = test.iter().map(|r| r.female).collect();
            let mut s = score(&p, &female);
            s["manifest"] = json!(path);
            let name = match c {
                None => name.to_string(),
                Some(c) => {
                    s["corruption"] = json!(c.tag());
                    format!("{name}@{}", c.tag())
                }
            };
            lines.push(line(&name, &s));
            report.insert(name, s);
        }
    }
    for l in &lines {
        println!("{l}");
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    head.provenance = json!({
        "command": command,
        "encoder": "models/speaker_ge2e.safetensors (Resemblyzer 0.1.4, Apache-2.0)",
        "train": args.train.iter().chain(args.cv.iter()).collect::<Vec<_>>(),
        "augment": args.augment,
        "clips": x.len(),
        "c": fit.c,
        "c_log_loss": fit.c_log_loss,
        "temperature": fit.temperature,
        "seed": args.seed,
        "metrics": report.iter().map(|(k, v)| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() { o.remove("out_of_fold"); }
            (k.clone(), v)
        }).collect::<serde_json::Map<_, _>>(),
    });
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(&serde_json::Value::Object(report))?,
    )?;
    std::fs::write(
        args.out.join("head.json"),
        serde_json::to_string_pretty(&head)?,
    )?;
    if let Some(dir) = &args.write_model {
        write_into_voice_json(dir, &head)?;
    }
    Ok(())
}

/// The folds of a `train --cv` run (its `cv_report.json`'s `folds[].test_groups`), over
/// `groups`; every group must be tested in exactly one fold.
fn folds_from_report(dir: &Path, groups: &[String]) -> Res<Vec<Fold<String>>> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cv_report.json"))?)?;
    let tests: Vec<Vec<String>> = report["folds"]
        .as_array()
        .ok_or("cv_report.json has no folds")?
        .iter()
        .map(|f| serde_json::from_value(f["test_groups"].clone()))
        .collect::<Result<_, _>>()?;
    let mut folds = Vec::new();
    for t in tests {
        let (test, train): (Vec<usize>, Vec<usize>) =
            (0..groups.len()).partition(|&i| t.contains(&groups[i]));
        folds.push(Fold {
            test_groups: t,
            train,
            test,
        });
    }
    for (i, g) in groups.iter().enumerate() {
        let n = folds.iter().filter(|f| f.test.contains(&i)).count();
        if n != 1 {
            return Err(format!("speaker {g} is tested in {n} folds of {}", dir.display()).into());
        }
    }
    Ok(folds)
}

/// `to/fold_k/voice.*`: `from/fold_k`'s model with `head` as its `speaker_gender` (the
/// first fold also copies `from/cv_report.json`).
fn write_fold_model(from: &Path, to: &Path, k: usize, head: &SpeakerGenderHead) -> Res<()> {
    let (src, dst) = (from.join(format!("fold_{k}")), to.join(format!("fold_{k}")));
    std::fs::create_dir_all(&dst)?;
    if k == 1 {
        std::fs::copy(from.join("cv_report.json"), to.join("cv_report.json"))?;
    }
    std::fs::copy(src.join("voice.safetensors"), dst.join("voice.safetensors"))?;
    std::fs::copy(src.join("voice.json"), dst.join("voice.json"))?;
    write_into_voice_json(&dst, head)
}

fn write_into_voice_json(dir: &Path, head: &SpeakerGenderHead) -> Res<()> {
    let path = dir.join("voice.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    v["speaker_gender"] = serde_json::to_value(head)?;
    std::fs::write(&path, serde_json::to_string_pretty(&v)? + "\n")?;
    eprintln!("wrote speaker_gender into {}", path.display());
    Ok(())
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
