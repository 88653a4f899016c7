//! The main job: perceived gender and emotion of a recording, fused from the face and the voice,
//! with the models compiled into the library.
//!
//! ```sh
//! cargo run --release --example analyze                          # the shipped example clip
//! cargo run --release --example analyze -- clip.mp4 [--json]      # a video, picture or audio
//! cargo run --release --example analyze -- face.png --audio a.flac  # a face and a voice together
//! cargo run --release --example analyze -- clip.mp4 --mode voice    # auto | face | voice | fused
//! ```
//!
//! Each branch runs on the modality the input has: the voice branch on audio (a video's audio
//! track), the face branch on a picture or on a video's frames (5 per second, faces followed,
//! probabilities averaged). The fused answer (a product of the two branches' probabilities)
//! is printed first, then each branch's own; a branch that cannot run (no face found, no audio
//! track) says why, and the other answers alone.

use std::path::PathBuf;

use facevox::{Analysis, Analyzer, EmotionPrediction, GenderPrediction, Mode};

const USAGE: &str = "usage: analyze [INPUT] [--audio FILE] [--mode auto|face|voice|fused] [--json]
  (default INPUT: the shipped example clip)";

fn main() {
    let mut json = false;
    let mut input = None;
    let mut audio = None;
    let mut mode = Mode::Auto;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--audio" => audio = args.next().map(PathBuf::from),
            "--mode" => {
                mode = match args.next().as_deref() {
                    Some("auto") => Mode::Auto,
                    Some("face") => Mode::Face,
                    Some("voice") => Mode::Voice,
                    Some("fused") => Mode::Fused,
                    other => {
                        eprintln!("error: unknown mode {other:?}\n{USAGE}");
                        std::process::exit(2);
                    }
                }
            }
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return;
            }
            _ => input = Some(PathBuf::from(arg)),
        }
    }
    let input = input.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
    });
    if let Err(e) = run(&input, audio.as_ref(), mode, json) {
        eprintln!("error: {}: {e}", input.display());
        std::process::exit(1);
    }
}

fn run(
    input: &PathBuf,
    audio: Option<&PathBuf>,
    mode: Mode,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let analyzer = Analyzer::new()?;
    let a: Analysis = match audio {
        Some(audio) => analyzer.analyze_pair(input, audio, mode)?,
        None => analyzer.analyze_file(input, mode)?,
    };
    if json {
        let mut v = serde_json::to_value(&a)?;
        // The embeddings are for the fusion head, not for reading.
        for branch in ["face", "voice"] {
            if let Some(o) = v[branch].as_object_mut() {
                o.remove("embedding");
            }
        }
        v["input"] = serde_json::json!(input.display().to_string());
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{}", input.display());
    if let Some(audio) = audio {
        println!("  with audio {}", audio.display());
    }
    if let Some(f) = &a.fused {
        let used: Vec<String> = f
            .modalities
            .iter()
            .map(|m| format!("{m:?}").to_lowercase())
            .collect();
        println!("  fused ({}, from {}):", f.method, used.join(" + "));
        print_predictions(&f.gender, &f.emotion);
    }
    if let Some(r) = &a.voice {
        println!("  voice branch ({:.2} s of speech):", r.speech_seconds);
        print_predictions(&r.gender, &r.emotion);
    }
    if let Some(why) = &a.voice_skipped {
        println!("  voice branch: not run: {why}");
    }
    if let Some(r) = &a.face {
        println!(
            "  face branch (a face in {} of {} frames looked at):",
            r.faces, r.frames
        );
        print_predictions(&r.gender, &r.emotion);
    }
    if let Some(why) = &a.face_skipped {
        println!("  face branch: not run: {why}");
    }
    println!("  (perceived gender is a binary dataset label, not a fact about the person)");
    Ok(())
}

fn print_predictions(gender: &GenderPrediction, emotion: &EmotionPrediction) {
    println!(
        "    perceived gender: {} ({:.1}% confidence; P(female) = {:.3})",
        gender.label,
        100.0 * gender.confidence,
        gender.p_female
    );
    println!(
        "    emotion: {} ({:.1}%)",
        emotion.label,
        100.0 * emotion.confidence
    );
    let mut probs = emotion.probabilities.clone();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (e, p) in probs {
        let bar = "#".repeat((p * 40.0).round() as usize);
        println!("      {:<10} {:>5.1}% {bar}", e.to_string(), 100.0 * p);
    }
}
