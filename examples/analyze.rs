//! The main job: perceived gender and emotion of a recording, with the models shipped in
//! `models/`.
//!
//! ```sh
//! cargo run --release --example analyze                      # the shipped example clip
//! cargo run --release --example analyze -- clip.mp4 [--json]  # audio, video or a picture
//! ```
//!
//! Each branch runs on the modality the input has: the voice branch on audio (a video's audio
//! track), the face branch on a picture or on a video's frames (5 per second, faces followed,
//! probabilities averaged). Both results are printed side by side; a branch that cannot run
//! (no face found, no audio track) says why. Late fusion of the two is not built yet.

use std::path::{Path, PathBuf};

use facevox::vision::media_kind;
use facevox::{EmotionPrediction, GenderPrediction};
use facevox::{FaceAnalysis, FaceAnalyzer, VoiceAnalysis, VoiceAnalyzer};

fn main() {
    let mut json = false;
    let mut input = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json = true,
            "-h" | "--help" => {
                eprintln!("usage: analyze [INPUT] [--json]   (default: the shipped example clip)");
                return;
            }
            _ => input = Some(PathBuf::from(arg)),
        }
    }
    let input = input.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
    });
    if let Err(e) = run(&input, json) {
        eprintln!("error: {}: {e}", input.display());
        std::process::exit(1);
    }
}

fn run(input: &Path, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let kind = media_kind(input);
    let (has_voice, has_face) = (kind.has_voice(), kind.has_face());
    let voice: Option<facevox::Result<VoiceAnalysis>> =
        has_voice.then(|| VoiceAnalyzer::new().and_then(|a| a.analyze_file(input)));
    let face: Option<facevox::Result<FaceAnalysis>> =
        has_face.then(|| FaceAnalyzer::new().and_then(|a| a.analyze_file(input)));
    // When no branch could run, the run fails (exit status 1) with the first branch's error.
    let none_ok = !matches!(voice, Some(Ok(_))) && !matches!(face, Some(Ok(_)));
    if json {
        let value = serde_json::json!({
            "input": input.display().to_string(),
            "voice": branch_json(&voice),
            "face": branch_json(&face),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{}", input.display());
        match &voice {
            Some(Ok(r)) => {
                println!("  voice branch ({:.2} s of speech):", r.speech_seconds);
                print_predictions(&r.gender, &r.emotion);
            }
            Some(Err(e)) => println!("  voice branch: not run: {e}"),
            None => {}
        }
        match &face {
            Some(Ok(r)) => {
                println!(
                    "  face branch (a face in {} of {} frames looked at):",
                    r.faces, r.frames
                );
                print_predictions(&r.gender, &r.emotion);
            }
            Some(Err(e)) => println!("  face branch: not run: {e}"),
            None => {}
        }
        println!("  (perceived gender is a binary dataset label, not a fact about the person)");
    }
    if none_ok {
        let err = match (&voice, &face) {
            (Some(Err(e)), _) | (_, Some(Err(e))) => e.to_string(),
            _ => unreachable!("every input goes to at least one branch"),
        };
        return Err(err.into());
    }
    Ok(())
}

/// A branch's result as JSON (without the embedding), `{"error": ...}`, or null when not run.
fn branch_json<T: serde::Serialize>(r: &Option<facevox::Result<T>>) -> serde_json::Value {
    match r {
        None => serde_json::Value::Null,
        Some(Ok(a)) => {
            let mut v = serde_json::to_value(a).expect("analysis results serialise");
            v.as_object_mut().map(|o| o.remove("embedding"));
            v
        }
        Some(Err(e)) => serde_json::json!({ "error": e.to_string() }),
    }
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
