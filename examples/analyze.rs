//! The main job: perceived gender and emotion of a recording, with the models shipped in
//! `models/`.
//!
//! ```sh
//! cargo run --release --example analyze                      # the shipped example clip
//! cargo run --release --example analyze -- clip.wav [--json]  # any audio file or video with audio
//! ```
//!
//! Today this runs the voice branch (the face branch and the fused analyzer follow); a video's
//! audio track is used.

use std::path::PathBuf;

use facevox::analyze::VoiceAnalyzer;

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

fn run(input: &std::path::Path, json: bool) -> facevox::Result<()> {
    let analyzer = VoiceAnalyzer::load_default()?;
    let result = analyzer.analyze_file(input)?;
    if json {
        let mut value = serde_json::to_value(&result).expect("serialisable");
        value["input"] = input.display().to_string().into();
        value.as_object_mut().map(|o| o.remove("embedding"));
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("serialisable")
        );
        return Ok(());
    }
    println!("{}", input.display());
    println!(
        "  speech analysed: {:.2} s (voice branch)",
        result.speech_seconds
    );
    println!(
        "  perceived gender: {} ({:.1}% confidence; P(female) = {:.3})",
        result.gender.label,
        100.0 * result.gender.confidence,
        result.gender.p_female
    );
    println!(
        "  emotion: {} ({:.1}%)",
        result.emotion.label,
        100.0 * result.emotion.confidence
    );
    let mut probs = result.emotion.probabilities.clone();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (emotion, p) in probs {
        let bar = "#".repeat((p * 40.0).round() as usize);
        println!("    {:<10} {:>5.1}% {bar}", emotion.to_string(), 100.0 * p);
    }
    println!("  (perceived gender is a binary dataset label, not a fact about the speaker)");
    Ok(())
}
