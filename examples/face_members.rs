//! Combine a face model with gender-only members into one model file.
//!
//! ```sh
//! cargo run --release --example face_members -- --main runs/face_ft \
//!     --gender-member runs/face_gender --out runs/face_combined
//! ```
//!
//! Every folder holds a `face.json` + `face.safetensors` made by `train_face`; the main
//! folder may also hold a file this tool made (the shipped `models/`), whose members are kept
//! and the new ones added after them. A member may
//! have its own architecture and crop (the analyser crops the same detected face once per
//! crop); it must share the main model's test-time augmentation. The combined file's gender
//! probabilities are the mean over the main network and the members (see
//! `FaceModelFile::members`), its emotion and embedding stay the main network's. Score
//! the result with `train_face --evaluate <out>`.

use std::path::PathBuf;

use clap::Parser;
use facevox::model::FaceModelFile;

#[derive(Parser, Debug)]
#[command(about = "Combine a facevox face model with gender-only members")]
struct Args {
    /// Folder of the main model (emotion, embedding and a share of gender).
    #[arg(long)]
    main: PathBuf,
    /// Folder of a gender member (repeat for several).
    #[arg(long, required = true)]
    gender_member: Vec<PathBuf>,
    /// Output folder for the combined face.json + face.safetensors.
    #[arg(long)]
    out: PathBuf,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (mut file, mut weights) = FaceModelFile::read_weights(&args.main.join("face"))?;
    // A main file that has members already keeps them, first, with their provenance.
    let had_members = file.gender_members().count() > 0;
    let (main_provenance, mut member_provenance) = if !had_members {
        (file.provenance.clone(), Vec::new())
    } else {
        let p = &file.provenance;
        let old = p["gender_members"].as_array().cloned().unwrap_or_default();
        if old.len() != file.gender_members().count() {
            return Err(format!(
                "{}: its provenance does not list its {} gender members",
                args.main.display(),
                file.gender_members().count()
            )
            .into());
        }
        (p["main"].clone(), old)
    };
    for dir in &args.gender_member {
        let (m, mut vm) = FaceModelFile::read_weights(&dir.join("face"))?;
        file.push_gender_member(&m)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        weights.append(&mut vm);
        member_provenance.push(m.provenance);
    }
    let mut provenance = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "main": main_provenance,
        "gender_members": member_provenance,
    });
    if had_members {
        // The main file's own combining command, so the history stays readable.
        provenance["previous_command"] = file.provenance["command"].clone();
    }
    file.provenance = provenance;
    std::fs::create_dir_all(&args.out)?;
    let refs: Vec<_> = weights.iter().collect();
    file.save(&refs, &args.out.join("face"))?;
    eprintln!(
        "wrote {} with {} gender member(s)",
        args.out.join("face.safetensors").display(),
        file.gender_members().count()
    );
    Ok(())
}
