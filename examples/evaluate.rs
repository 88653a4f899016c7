//! Evaluates a shipped (or your own) model on any CSV manifest and writes a JSON report.
//!
//! ```sh
//! cargo run --release --example evaluate -- --manifest M.csv --mode voice --json OUT.json \
//!     [--models DIR] [--emotions neutral,happy,sad,angry]
//! cargo run --release --example evaluate -- --manifest M.csv --mode face --face-input crop \
//!     --json OUT.json
//! ```
//!
//! M.csv has the header `face,voice,gender,emotion` (optionally `group`: race, age band,
//! speaker, ...; the report then adds `groups`, the same gender and emotion figures for each
//! group's rows, `{"<group>": {"n", "errors", "gender": {...}, "emotion": {...}}}`, so a
//! model can be audited on any population with one command); paths are relative
//! to the manifest's folder; `voice` is an audio file or a video whose audio track is used;
//! an empty cell means missing; gender is `male`/`female`; emotion is a lower-case emotion
//! name. Every metric is computed over the rows that carry its label. A row whose input fails
//! (unreadable, unsupported, no speech) is counted in `errors`, listed with its reason in
//! `failures`, and never stops the run. `--emotions` restricts the emotion argmax to those
//! labels (for corpora with fewer classes); rows labelled outside that set are counted in
//! `emotion.skipped` and not scored. `--predictions P.jsonl` also writes each scored row's
//! answers (its probabilities too), one JSON object per line.
//!
//! `--mode face` reads the `face` column: a picture or a video (faces detected and followed at
//! 5 frames per second, probabilities averaged). `--face-input crop` says the pictures are
//! already face crops (FER+ style); the default `detect` runs the face detector, and a row
//! where it finds no face is an error, never a guess.
//!
//! `--mode fused` reads both columns (one video in both, or a picture and an audio file of the
//! same person; a row with one column is answered by that modality) and fuses the branches;
//! the report adds each branch's own figures over the same rows under `branches.face` and
//! `branches.voice`, so one run shows all three. (The fusion is the product of experts; the
//! face detector always runs in this mode.)
//!
//! Exit status: 0 when the report was written (whatever the errors), 2 for bad arguments or an
//! unreadable manifest or model.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use facevox::model::{Abstention, FusionModelFile};
use facevox::training::data::load_manifest;
use facevox::training::eval::{score_manifest, ManifestBranch, ManifestReport};
use facevox::{Analyzer, Emotion, FaceAnalyzer, FaceSource, VoiceAnalyzer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// The voice branch on the `voice` column.
    Voice,
    /// The face branch on the `face` column.
    Face,
    /// Both columns fused (product of experts); each branch's own figures under `branches`.
    Fused,
}

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
    /// Also write every scored row's answers here, one JSON object per line (`row`, `input`,
    /// `group`, the labels, `gender` and `emotion`, and with `--mode fused` each branch's own),
    /// so models can be compared or combined row by row.
    #[arg(long)]
    predictions: Option<PathBuf>,
    /// Model folder (default: the shipped models, or FACEVOX_MODELS).
    #[arg(long)]
    models: Option<PathBuf>,
    /// Comma-separated emotions the argmax may choose from.
    #[arg(long, value_delimiter = ',')]
    emotions: Option<Vec<String>>,
    /// Face mode: `detect` finds the face in each picture; `crop` takes pictures as face crops.
    #[arg(long, value_enum, default_value = "detect")]
    face_input: FaceInput,
    /// Abstain (answer "uncertain") on perceived gender below this confidence; default: the
    /// fusion file's threshold.
    #[arg(long)]
    abstain_gender: Option<f32>,
    /// Abstain on emotion below this confidence; default: the fusion file's threshold.
    #[arg(long)]
    abstain_emotion: Option<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FaceInput {
    /// Run the face detector (no face found: the row is an error).
    Detect,
    /// The pictures are already face crops.
    Crop,
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
            let (g, e) = (&report.gender.abstention, &report.emotion.abstention);
            eprintln!(
                "abstaining below {:.2} / {:.2}: gender coverage {} accuracy {}; emotion coverage {} accuracy {}",
                g.threshold,
                e.threshold,
                fmt(g.coverage),
                fmt(g.answered_accuracy),
                fmt(e.coverage),
                fmt(e.answered_accuracy)
            );
            for (name, g) in &report.groups {
                eprintln!(
                    "  group {name}: {} rows, {} errors; gender n={} accuracy {} balanced {}; emotion n={} accuracy {} UAR {}",
                    g.n,
                    g.errors,
                    g.scores.gender.n,
                    fmt(g.scores.gender.accuracy),
                    fmt(g.scores.gender.balanced_accuracy),
                    g.scores.emotion.n,
                    fmt(g.scores.emotion.accuracy),
                    fmt(g.scores.emotion.uar)
                );
            }
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

fn run(args: &Args) -> Result<ManifestReport, Box<dyn std::error::Error>> {
    let allowed: Option<Vec<Emotion>> = args
        .emotions
        .as_ref()
        .map(|names| {
            names
                .iter()
                .map(|n| n.trim().parse::<Emotion>())
                .collect::<Result<_, _>>()
        })
        .transpose()
        .map_err(|e| format!("--emotions: {e}"))?;
    let rows = load_manifest(&args.manifest)?;
    // The thresholds: the fusion file's, unless given.
    let fusion = match &args.models {
        Some(dir) => FusionModelFile::read_or_default(dir)?,
        None => Analyzer::new()?.fusion().clone(),
    };
    let abstain = Abstention {
        gender: args.abstain_gender.unwrap_or(fusion.abstain.gender),
        emotion: args.abstain_emotion.unwrap_or(fusion.abstain.emotion),
    };
    let mut report = match args.mode {
        Mode::Voice => {
            let a = match &args.models {
                Some(dir) => VoiceAnalyzer::from_dir(dir)?,
                None => VoiceAnalyzer::new()?,
            };
            score_manifest(
                ManifestBranch::Voice(&a),
                &rows,
                allowed.as_deref(),
                abstain,
            )?
        }
        Mode::Face => {
            let a = match &args.models {
                Some(dir) => FaceAnalyzer::from_dir(dir)?,
                None => FaceAnalyzer::new()?,
            };
            let source = match args.face_input {
                FaceInput::Detect => FaceSource::Detect,
                FaceInput::Crop => FaceSource::Precropped,
            };
            score_manifest(
                ManifestBranch::Face(&a, source),
                &rows,
                allowed.as_deref(),
                abstain,
            )?
        }
        Mode::Fused => {
            let a = match &args.models {
                Some(dir) => Analyzer::from_dir(dir)?,
                None => Analyzer::new()?,
            };
            score_manifest(
                ManifestBranch::Fused(&a),
                &rows,
                allowed.as_deref(),
                abstain,
            )?
        }
    };
    if let Some(dir) = &args.models {
        report.model["dir"] = serde_json::json!(dir.display().to_string());
    }
    if let Some(parent) = args.json.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&report)?)?;
    if let Some(path) = &args.predictions {
        let mut lines = String::new();
        for p in &report.predictions {
            lines += &serde_json::to_string(p)?;
            lines.push('\n');
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, lines)?;
    }
    Ok(report)
}
