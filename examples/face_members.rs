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

/// A face file's description, the main network's weights and each gender member's.
type Weights = (FaceModelFile, VarMap, Vec<VarMap>);

/// The description and the weights of `<dir>/face`, as `VarMap`s.
fn read(dir: &std::path::Path) -> Result<Weights, Box<dyn std::error::Error>> {
    let stem = dir.join("face");
    // Checks the pair loads as a model before copying its weights.
    let (file, _) = FaceModelFile::load_model(&stem, &Device::Cpu)?;
    // One read of the tensors serves every network: the main one's have plain names, member
    // i's the prefix `gender_member{i}.`.
    let tensors = candle_core::safetensors::load(stem.with_extension("safetensors"), &Device::Cpu)?;
    let weights = |config, prefix: String| -> Result<VarMap, Box<dyn std::error::Error>> {
        let vm = VarMap::new();
        FaceNet::new(
            config,
            VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
        )?;
        for (name, var) in vm.data().lock().expect("varmap lock").iter() {
            let key = format!("{prefix}{name}");
            let t = tensors
                .get(&key)
                .ok_or_else(|| format!("{}: no tensor {key}", dir.display()))?;
            var.set(t)?;
        }
        Ok(vm)
    };
    let main = weights(&file.model, String::new())?;
    let members = (0..file.gender_members.len())
        .map(|i| weights(file.member_model(i), format!("gender_member{i}.")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((file, main, members))
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (mut file, main, mut members) = read(&args.main)?;
    // A main file that has members already keeps them, first, with their provenance.
    let had_members = !file.gender_members.is_empty();
    let (main_provenance, mut member_provenance) = if !had_members {
        (file.provenance.clone(), Vec::new())
    } else {
        let p = &file.provenance;
        let old = p["gender_members"].as_array().cloned().unwrap_or_default();
        if old.len() != file.gender_members.len() {
            return Err(format!(
                "{}: its provenance does not list its {} gender members",
                args.main.display(),
                file.gender_members.len()
            )
            .into());
        }
        (p["main"].clone(), old)
    };
    for dir in &args.gender_member {
        let (m, vm, nested) = read(dir)?;
        if !nested.is_empty() {
            return Err(format!("{}: already has gender members", dir.display()).into());
        }
        if m.tta_flip != file.tta_flip {
            return Err(format!(
                "{}: test-time augmentation differs from the main model's",
                dir.display()
            )
            .into());
        }
        // Only what differs from the main network is written.
        file.gender_members.push(GenderMember {
            model: (m.model != file.model).then_some(m.model),
            crop: (m.crop != file.crop).then_some(m.crop),
        });
        members.push(vm);
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
    file.save_with_gender_members(&main, &members, &args.out.join("face"))?;
    eprintln!(
        "wrote {} with {} gender member(s)",
        args.out.join("face.safetensors").display(),
        members.len()
    );
    Ok(())
}
