//! Combine a face model with gender-only members into one model file.
//!
//! ```sh
//! cargo run --release --example face_members -- --main runs/face_ft \
//!     --gender-member runs/face_gender --out runs/face_combined
//! ```
//!
//! Every folder holds a `face.json` + `face.safetensors` made by `train_face`. A member may
//! have its own architecture and crop (the analyser crops the same detected face once per
//! crop); it must share the main model's test-time augmentation. The combined file's gender
//! probabilities are the mean over the main network and the members (see
//! `FaceModelFile::gender_members`), its emotion and embedding stay the main network's. Score
//! the result with `train_face --evaluate <out>`.

use std::path::PathBuf;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use clap::Parser;
use facevox::model::{FaceModelFile, FaceNet, GenderMember};

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

/// The description and the weights of `<dir>/face`, as a `VarMap`.
fn read(dir: &std::path::Path) -> Result<(FaceModelFile, VarMap), Box<dyn std::error::Error>> {
    let stem = dir.join("face");
    // Checks the pair loads as a network before copying its weights.
    let (file, _) = FaceModelFile::load(&stem, &Device::Cpu)?;
    if !file.gender_members.is_empty() {
        return Err(format!("{}: already has gender members", dir.display()).into());
    }
    let mut vm = VarMap::new();
    FaceNet::new(
        &file.model,
        VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
    )?;
    vm.load(stem.with_extension("safetensors"))?;
    Ok((file, vm))
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (mut file, main) = read(&args.main)?;
    let mut members = Vec::new();
    let mut member_provenance = Vec::new();
    let mut gender_members = Vec::new();
    for dir in &args.gender_member {
        let (m, vm) = read(dir)?;
        if m.tta_flip != file.tta_flip {
            return Err(format!(
                "{}: test-time augmentation differs from the main model's",
                dir.display()
            )
            .into());
        }
        // Only what differs from the main network is written.
        gender_members.push(GenderMember {
            model: (m.model != file.model).then_some(m.model),
            crop: (m.crop != file.crop).then_some(m.crop),
        });
        members.push(vm);
        member_provenance.push(m.provenance);
    }
    file.gender_members = gender_members;
    file.provenance = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "main": file.provenance,
        "gender_members": member_provenance,
    });
    std::fs::create_dir_all(&args.out)?;
    file.save_with_gender_members(&main, &members, &args.out.join("face"))?;
    eprintln!(
        "wrote {} with {} gender member(s)",
        args.out.join("face.safetensors").display(),
        members.len()
    );
    Ok(())
}
