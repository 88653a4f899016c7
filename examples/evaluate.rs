//! Evaluates a shipped (or your own) model on any CSV manifest and writes a JSON report.
//!
//! ```sh
//! cargo run --release --example evaluate -- --manifest M.csv --mode voice --json OUT.json \
//!     [--models DIR] [--emotions neutral,happy,sad,angry]
//! cargo run --release --example evaluate -- --manifest M.csv --mode face --face-input crop \
//!     --json OUT.json
//! ```
//!
//! M.csv has the header `face,voice,gender,emotion` (optionally `group`); paths are relative
//! to the manifest's folder; `voice` is an audio file or a video whose audio track is used;
//! an empty cell means missing; gender is `male`/`female`; emotion is a lower-case emotion
//! name. Every metric is computed over the rows that carry its label. A row whose input fails
//! (unreadable, unsupported, no speech) is counted in `errors`, listed with its reason in
//! `failures`, and never stops the run. `--emotions` restricts the emotion argmax to those
//! labels (for corpora with fewer classes); rows labelled outside that set are counted in
//! `emotion.skipped` and not scored.
//!
//! `--mode face` reads the `face` column: a picture or a video (faces detected and followed at
//! 5 frames per second, probabilities averaged). `--face-input crop` says the pictures are
//! already face crops (FER+ style); the default `detect` runs the face detector, and a row
//! where it finds no face is an error, never a guess.
//!
//! Exit status: 0 when the report was written (whatever the errors), 2 for bad arguments or an
//! unreadable manifest or model.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use facevox::analyze::{
    default_models_dir, EmotionPrediction, FaceAnalyzer, FaceSource, GenderPrediction,
    VoiceAnalyzer,
};
use facevox::audio::decode_file;
use facevox::data::load_manifest;
use facevox::eval::ClassificationReport;
use facevox::labels::{Emotion, Gender};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// The voice branch on the `voice` column.
    Voice,
    /// The face branch on the `face` column.
    Face,
    /// Face and voice fused (not trained yet).
    Fused,
}

// Training allocates and frees activation-sized buffers every step; mimalloc keeps them in
// process instead of handing pages back to the kernel and faulting them in again (measured on
// `cargo bench --bench voice_train`, with the im2col convolution op: training step 249 ms with
// glibc's allocator, 69 ms with mimalloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "Evaluate facevox models on a CSV manifest")]
struct Args {
    /// CSV manifest with header face,voice,gender,emotion.
    #[arg(long)]
    manifest: PathBuf,
    /// Which branch to evaluate.
    #[arg(long, value_enum, default_value = "voice")]
    mode: Mode,
    /// Where to write the JSON report.
    #[arg(long)]
    json: PathBuf,
    /// Model folder (default: the crate's models/).
    #[arg(long)]
    models: Option<PathBuf>,
    /// Comma-separated emotions the argmax may choose from.
    #[arg(long, value_delimiter = ',')]
    emotions: Option<Vec<String>>,
    /// Face mode: `detect` finds the face in each picture; `crop` takes pictures as face crops.
    #[arg(long, value_enum, default_value = "detect")]
    face_input: FaceInput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FaceInput {
    /// Run the face detector (no face found: the row is an error).
    Detect,
    /// The pictures are already face crops.
    Crop,
}

/// The loaded branch a run evaluates.
enum Branch {
    Voice(Box<VoiceAnalyzer>),
    Face(Box<FaceAnalyzer>, FaceSource),
}

impl Branch {
    fn emotions(&self) -> Vec<Emotion> {
        match self {
            Branch::Voice(a) => a.emotions().to_vec(),
            Branch::Face(a, _) => a.emotions().to_vec(),
        }
    }

    fn provenance(&self) -> serde_json::Value {
        match self {
            Branch::Voice(a) => serde_json::json!({"voice": a.model().provenance}),
            Branch::Face(a, _) => serde_json::json!({"face": a.model().provenance}),
        }
    }

    /// The input column this branch reads.
    fn input<'a>(&self, row: &'a facevox::data::Sample) -> Option<&'a PathBuf> {
        match self {
            Branch::Voice(_) => row.voice.as_ref(),
            Branch::Face(..) => row.face.as_ref(),
        }
    }

    fn predict(
        &self,
        path: &PathBuf,
        allowed: &[Emotion],
    ) -> facevox::Result<(GenderPrediction, EmotionPrediction)> {
        match self {
            Branch::Voice(a) => {
                let clip = decode_file(path, &Default::default())?;
                let r = a.analyze_clip_among(&clip, Some(allowed))?;
                Ok((r.gender, r.emotion))
            }
            Branch::Face(a, source) => {
                let r = a.analyze_file_among(path, *source, Some(allowed))?;
                Ok((r.gender, r.emotion))
            }
        }
    }
}

#[derive(Serialize)]
struct Failure {
    row: usize,
    input: Option<String>,
    reason: String,
}

#[derive(Serialize)]
struct GenderSection {
    n: usize,
    accuracy: Option<f64>,
    balanced_accuracy: Option<f64>,
    confusion: Vec<Vec<usize>>,
}

#[derive(Serialize)]
struct EmotionSection {
    n: usize,
    accuracy: Option<f64>,
    uar: Option<f64>,
    macro_f1: Option<f64>,
    labels: Vec<String>,
    confusion: Vec<Vec<usize>>,
    per_class: Option<Vec<facevox::eval::ClassMetrics>>,
    skipped: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct Report {
    mode: Mode,
    n: usize,
    errors: usize,
    failures: Vec<Failure>,
    gender: GenderSection,
    emotion: EmotionSection,
    model: serde_json::Value,
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            eprintln!(
                "{} rows, {} errors; gender n={} accuracy {}; emotion n={} accuracy {} UAR {}",
                report.n,
                report.errors,
                report.gender.n,
                fmt(report.gender.accuracy),
                report.emotion.n,
                fmt(report.emotion.accuracy),
                fmt(report.emotion.uar)
            );
            eprintln!("wrote {}", args.json.display());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.4}"))
}

fn run(args: &Args) -> Result<Report, Box<dyn std::error::Error>> {
    let dir = args.models.clone().unwrap_or_else(default_models_dir);
    let branch = match args.mode {
        Mode::Voice => Branch::Voice(Box::new(VoiceAnalyzer::load(&dir)?)),
        Mode::Face => Branch::Face(
            Box::new(FaceAnalyzer::load(&dir).map_err(|e| {
                format!(
                    "--mode face needs face.json + face.safetensors in {}: {e}",
                    dir.display()
                )
            })?),
            match args.face_input {
                FaceInput::Detect => FaceSource::Detect,
                FaceInput::Crop => FaceSource::Precropped,
            },
        ),
        Mode::Fused => {
            return Err(
                "--mode fused needs the fusion head, which is not shipped yet; \
                        --mode voice and --mode face work"
                    .into(),
            )
        }
    };
    let rows = load_manifest(&args.manifest)?;
    let model_emotions = branch.emotions();
    let allowed: Vec<Emotion> = match &args.emotions {
        Some(names) => names
            .iter()
            .map(|n| {
                n.trim()
                    .parse::<Emotion>()
                    .map_err(|e| format!("--emotions: {e}"))
            })
            .collect::<Result<_, _>>()?,
        None => model_emotions.clone(),
    };
    if let Some(e) = allowed.iter().find(|e| !model_emotions.contains(e)) {
        return Err(format!("--emotions: the model has no output for {e}").into());
    }
    let label_names: Vec<String> = allowed.iter().map(|e| e.to_string()).collect();

    let mut failures = Vec::new();
    let (mut gt, mut gp) = (Vec::new(), Vec::new());
    let (mut et, mut ep) = (Vec::new(), Vec::new());
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let row_no = i + 1;
        let Some(input) = branch.input(row) else {
            failures.push(Failure {
                row: row_no,
                input: None,
                reason: format!(
                    "no {} input in this row",
                    format!("{:?}", args.mode).to_lowercase()
                ),
            });
            continue;
        };
        let (gender, emotion) = match branch.predict(input, &allowed) {
            Ok(a) => a,
            Err(e) => {
                failures.push(Failure {
                    row: row_no,
                    input: Some(input.display().to_string()),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if let Some(g) = row.gender {
            gt.push(g as usize);
            gp.push(gender.label as usize);
        }
        if let Some(e) = row.emotion {
            match allowed.iter().position(|&a| a == e) {
                Some(k) => {
                    et.push(k);
                    ep.push(
                        allowed
                            .iter()
                            .position(|&a| a == emotion.label)
                            .expect("argmax is restricted to the allowed labels"),
                    );
                }
                None => *skipped.entry(e.to_string()).or_default() += 1,
            }
        }
    }
    let gender_report = (!gt.is_empty())
        .then(|| {
            ClassificationReport::new(
                &gt,
                &gp,
                &[Gender::Male.to_string(), Gender::Female.to_string()],
            )
        })
        .transpose()?;
    let emotion_report = (!et.is_empty())
        .then(|| ClassificationReport::new(&et, &ep, &label_names))
        .transpose()?;
    write(
        args,
        Report {
            mode: args.mode,
            n: rows.len(),
            errors: failures.len(),
            failures,
            gender: GenderSection {
                n: gt.len(),
                accuracy: gender_report.as_ref().map(|r| r.accuracy),
                balanced_accuracy: gender_report
                    .as_ref()
                    .map(|r| r.balanced_accuracy.unwrap_or(r.uar)),
                confusion: gender_report
                    .as_ref()
                    .map_or_else(|| vec![vec![0; 2]; 2], |r| r.confusion.clone()),
            },
            emotion: EmotionSection {
                n: et.len(),
                accuracy: emotion_report.as_ref().map(|r| r.accuracy),
                uar: emotion_report.as_ref().map(|r| r.uar),
                macro_f1: emotion_report.as_ref().map(|r| r.macro_f1),
                confusion: emotion_report.as_ref().map_or_else(
                    || vec![vec![0; label_names.len()]; label_names.len()],
                    |r| r.confusion.clone(),
                ),
                per_class: emotion_report.as_ref().map(|r| r.per_class.clone()),
                labels: label_names,
                skipped,
            },
            model: {
                let mut m = branch.provenance();
                m["dir"] = serde_json::json!(dir.display().to_string());
                m
            },
        },
    )
}

fn write(args: &Args, report: Report) -> Result<Report, Box<dyn std::error::Error>> {
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(parent) = args.json.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.json, json)?;
    Ok(report)
}
