//! Fit the voice model's familiarity reference (the out-of-distribution flag) and measure how
//! often it flags recordings of other corpora.
//!
//! ```sh
//! cargo run --release --example voice_familiarity -- --models models \
//!     --ravdess ../shared/data/ravdess/speech --quantile 0.99 \
//!     --check runs/voice_gender3/accent_heldout.csv --check runs/accent_phone/manifest.csv \
//!     [--write]
//! ```
//!
//! The embedding is the first emotion member's, trained on RAVDESS alone, so the reference
//! is fitted on the RAVDESS speech clips: the flag says a recording is unlike what the
//! emotion networks learned from. The threshold is the `--quantile` of the reference clips'
//! own scores (those clips were trained on, so speakers the model never heard score somewhat
//! higher). Each `--check` manifest's flag rate is printed; `--write` stores the reference
//! in `<models>/voice.json` (weights untouched).

use std::path::PathBuf;

use clap::Parser;
use facevox::model::{FamiliarityReference, VoiceModelFile};
use facevox::training::data::{load_manifest, load_ravdess, RavdessFilter};
use facevox::VoiceAnalyzer;

#[derive(Parser, Debug)]
#[command(about = "Fit and check the voice model's familiarity reference")]
struct Args {
    /// Models folder (voice.json + voice.safetensors).
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// RAVDESS speech folder (the reference recordings).
    #[arg(long)]
    ravdess: PathBuf,
    /// Quantile of the reference scores used as the threshold.
    #[arg(long, default_value_t = 0.99)]
    quantile: f64,
    /// Manifests whose voice column is scored against the reference (repeat).
    #[arg(long)]
    check: Vec<PathBuf>,
    /// Write the reference into the models folder's voice.json.
    #[arg(long)]
    write: bool,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let analyzer = VoiceAnalyzer::from_dir(&args.models)?;
    let clips = load_ravdess(&args.ravdess, &RavdessFilter::speech())?;
    eprintln!("embedding {} RAVDESS clips", clips.len());
    let mut embeddings = Vec::with_capacity(clips.len());
    for (s, _) in &clips {
        let path = s.voice.as_ref().ok_or("a RAVDESS sample without audio")?;
        embeddings.push(analyzer.analyze_file(path)?.embedding);
    }
    let mut reference = FamiliarityReference::fit(&embeddings, args.quantile)?;
    reference.fitted_on = serde_json::json!({
        "data": format!("{} RAVDESS speech clips ({})", clips.len(), args.ravdess.display()),
        "quantile": args.quantile,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
    });
    println!(
        "reference: {} clips, threshold {:.3} (quantile {})",
        clips.len(),
        reference.threshold,
        args.quantile
    );
    let mut checks = serde_json::Map::new();
    for m in &args.check {
        let rows = load_manifest(m)?;
        let (mut flagged, mut n, mut failed) = (0usize, 0usize, 0usize);
        for r in &rows {
            let Some(path) = &r.voice else { continue };
            match analyzer.analyze_file(path) {
                Ok(a) => {
                    n += 1;
                    let s = reference.score(&a.embedding).ok_or("embedding length")?;
                    flagged += usize::from(s > reference.threshold);
                }
                Err(_) => failed += 1,
            }
        }
        println!(
            "{}: {flagged} of {n} flagged ({:.1}%), {failed} unreadable",
            m.display(),
            100.0 * flagged as f64 / n.max(1) as f64
        );
        checks.insert(
            m.display().to_string(),
            serde_json::json!({"n": n, "flagged": flagged}),
        );
    }
    reference.fitted_on["checks"] = serde_json::Value::Object(checks);
    if args.write {
        let stem = args.models.join("voice");
        let mut file = VoiceModelFile::read(&stem)?;
        file.familiarity = Some(reference);
        file.save_description(&stem)?;
        eprintln!("wrote the reference into {}.json", stem.display());
    }
    Ok(())
}
