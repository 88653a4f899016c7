//! Combine two voice models into one file: emotion from one, perceived gender from the other.
//!
//! ```sh
//! cargo run --release --example voice_members -- --emotion models/voice \
//!     --gender runs/voice_gender3/voice --out runs/voice_combined/voice
//! ```
//!
//! Each path is a model stem (`<stem>.json` + `<stem>.safetensors`, as `train` writes them).
//! The first file's members become emotion-only members (they give the emotion and the
//! embedding), the second's gender-only members; both must share the architecture, the
//! features and the test-time views. The weights are copied unchanged, so each task's outputs
//! are exactly those of the file it comes from. Score the result with `evaluate --mode voice`.
//!
//! With `--add-gender`, the first file's members keep their roles and the second file's
//! members join its gender members (an ensemble of two gender recipes):
//!
//! ```sh
//! cargo run --release --example voice_members -- --add-gender --emotion models/voice \
//!     --gender runs/voice_gender3_pw/voice --out runs/voice_gender6/voice
//! ```
//!
//! With `--drop-gender`, the file named by `--emotion` loses its gender-only members (its
//! perceived gender must come from the speaker encoder, `speaker_gender` in its JSON; the
//! `speaker_gender` example writes it), and `--gender` is not used:
//!
//! ```sh
//! cargo run --release --example voice_members -- --drop-gender --emotion models/voice \
//!     --out models/voice
//! ```

use std::path::PathBuf;

use clap::Parser;
use facevox::model::VoiceModelFile;

#[derive(Parser, Debug)]
#[command(about = "Combine an emotion voice model and a gender voice model into one file")]
struct Args {
    /// Stem of the model whose members give emotion (and the embedding).
    #[arg(long)]
    emotion: PathBuf,
    /// Stem of the model whose members give perceived gender.
    #[arg(long, required_unless_present = "drop_gender")]
    gender: Option<PathBuf>,
    /// Stem of the combined file.
    #[arg(long)]
    out: PathBuf,
    /// Keep the first file's roles and add the second file's members to its gender members.
    #[arg(long)]
    add_gender: bool,
    /// Drop the `--emotion` file's gender-only members (its gender comes from the speaker encoder).
    #[arg(long, conflicts_with_all = ["add_gender", "gender"])]
    drop_gender: bool,
}

fn main() {
    let args = Args::parse();
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: {}: {e}", dir.display());
            std::process::exit(1);
        }
    }
    let combined = match &args.gender {
        _ if args.drop_gender => VoiceModelFile::drop_gender_members(&args.emotion, &args.out),
        Some(g) if args.add_gender => {
            VoiceModelFile::add_gender_members(&args.emotion, g, &args.out)
        }
        Some(g) => VoiceModelFile::combine_roles(&args.emotion, g, &args.out),
        None => unreachable!("clap requires --gender without --drop-gender"),
    };
    match combined {
        Ok(file) => eprintln!(
            "wrote {} ({} members)",
            args.out.with_extension("safetensors").display(),
            file.members.len()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
