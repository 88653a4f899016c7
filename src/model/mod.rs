//! The networks and their model files.
//!
//! - [`FaceNet`] (a VGG-style CNN over face crops) and [`VoiceNet`] (a 1-D CNN over log-mels)
//!   end in the same embedding → dropout → gender and emotion heads, returning a
//!   [`BranchOutput`].
//! - [`FaceModelFile`] and [`VoiceModelFile`] describe a model on disk in one scheme
//!   ([`spec`]): a versioned format, member networks with their roles and weight prefixes, and
//!   test-time views.
//! - [`FacePredictor`] and [`VoicePredictor`] are the one prediction path of each branch:
//!   batches of crops or log-mels in, [`Prediction`]s out, members and views applied.
//!
//! Every network takes `(config, VarBuilder)`, names its weights by structure
//! (`vb.pp("block1")`), and runs with `forward_t(x, train)` so batch-norm and dropout know
//! whether they are training. The CPU ops under them (convolution, batch-norm, max-pooling,
//! each with its own backward pass) are internal.

pub(crate) mod blocks;
pub(crate) mod conv;
pub mod dlib_resnet;
pub mod face;
pub mod fusion;
mod head;
pub(crate) mod norm;
pub(crate) mod pool;
pub mod predict;
pub mod speaker;
pub mod spec;
pub mod voice;
mod weights;

pub use dlib_resnet::{DlibResNet, DlibResNetOutput};
pub use face::{FaceConfig, FaceMember, FaceModelFile, FaceNet, FIRST_CONV};
pub use fusion::{
    Abstention, FusedProbs, FusionModelFile, LinearFusionHead, ProductOfExperts, FUSION_FORMAT,
};
pub use head::BranchOutput;
pub use predict::{FacePredictor, Prediction, VoicePredictor};
pub use speaker::{SpeakerEncoder, SpeakerGenderHead};
pub use spec::{
    Calibration, FamiliarityReference, Member, MemberRole, PriorCorrection, TestTimeViews,
    MODEL_FORMAT,
};
pub use voice::{InputNorm, VoiceConfig, VoiceMember, VoiceModelFile, VoiceNet};

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::Serialize;

use crate::rng::SeededRng;
use crate::Error;

/// The device models run on. facevox targets the CPU; the type is kept so a CUDA/Metal build of
/// candle can be used without API changes.
pub fn default_device() -> Device {
    Device::Cpu
}

/// Parameter precision.
pub const DTYPE: DType = DType::F32;

/// Re-initialises the weights in `varmap` from `seed`, so a training run is reproducible
/// (candle's CPU initialisers draw from an unseedable thread RNG). Weights of rank ≥ 2 (conv
/// kernels, linear matrices) get He-normal values, `N(0, 2/fan_in)`; biases are zeroed;
/// batch-norm scales, shifts and running statistics keep their constant initial values.
/// Variables are visited in name order, so the same architecture gets the same values.
pub fn init_weights(varmap: &VarMap, seed: u64) -> crate::Result<()> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut rng = SeededRng::new(seed);
    for name in names {
        let var = &data[name];
        let t = var.as_tensor();
        let dims = t.dims().to_vec();
        let is_norm = name.contains("norm.");
        let fresh = if dims.len() >= 2 {
            let fan_in: usize = dims[1..].iter().product();
            let std = (2.0 / fan_in.max(1) as f64).sqrt();
            let values: Vec<f32> = (0..t.elem_count())
                .map(|_| (rng.normal() * std) as f32)
                .collect();
            Some(Tensor::from_vec(values, dims.as_slice(), t.device())?)
        } else if name.ends_with(".bias") && !is_norm {
            Some(t.zeros_like()?)
        } else {
            None
        };
        if let Some(fresh) = fresh {
            var.set(&fresh.to_dtype(t.dtype())?)?;
        }
    }
    Ok(())
}

/// One `VarMap` holding every `(prefix, varmap)` part's variables, each name prefixed with
/// `prefix.` (an empty prefix keeps the names): how several networks share one weights file.
pub(crate) fn merge_prefixed<'a>(parts: impl IntoIterator<Item = (String, &'a VarMap)>) -> VarMap {
    let merged = VarMap::new();
    {
        let mut out = merged.data().lock().expect("varmap lock");
        for (prefix, vm) in parts {
            for (name, var) in vm.data().lock().expect("varmap lock").iter() {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                out.insert(key, var.clone());
            }
        }
    }
    merged
}

/// Saves `varmap` to `<stem>.safetensors` and `description` to `<stem>.json` (pretty JSON).
pub(crate) fn save_model<T: Serialize>(
    description: &T,
    varmap: &VarMap,
    stem: &Path,
) -> crate::Result<()> {
    let weights = stem.with_extension("safetensors");
    varmap.save(&weights).map_err(Error::from)?;
    write_description(description, stem)
}

/// Writes `description` to `<stem>.json` (pretty JSON).
pub(crate) fn write_description<T: Serialize>(description: &T, stem: &Path) -> crate::Result<()> {
    let json = stem.with_extension("json");
    std::fs::write(
        &json,
        serde_json::to_string_pretty(description).expect("serialisable"),
    )
    .map_err(|e| Error::io(&json, e))
}

/// Reads `<stem>.json` and parses it with `parse` (a model file's `from_json`).
pub(crate) fn read_description<T>(
    stem: &Path,
    parse: impl FnOnce(&str) -> crate::Result<T>,
) -> crate::Result<T> {
    let json = stem.with_extension("json");
    let text = std::fs::read_to_string(&json).map_err(|e| Error::io(&json, e))?;
    parse(&text).map_err(|e| in_file(e, &json))
}

/// Saves `description` and one weight set per member, each under its member's prefix, after
/// checking there is one set per member.
pub(crate) fn save_members<T: Serialize, A, I>(
    description: &T,
    members: &[Member<A, I>],
    varmaps: &[&VarMap],
    stem: &Path,
) -> crate::Result<()> {
    if members.len() != varmaps.len() {
        return Err(Error::InvalidConfig(format!(
            "the file says {} members but {} weight sets were given",
            members.len(),
            varmaps.len()
        )));
    }
    let merged = merge_prefixed(
        members
            .iter()
            .zip(varmaps)
            .map(|(m, vm)| (m.weights.clone(), *vm)),
    );
    save_model(description, &merged, stem)
}

/// Whether `got` has exactly `want`'s tensor names and shapes.
pub(crate) fn same_shapes(want: &VarMap, got: &VarMap) -> bool {
    let want = want.data().lock().expect("varmap lock");
    let got = got.data().lock().expect("varmap lock");
    got.len() == want.len()
        && want
            .iter()
            .all(|(k, v)| got.get(k).is_some_and(|w| w.shape() == v.shape()))
}

/// `e` with `path` named in its message (for the errors that carry one).
pub(crate) fn in_file(e: Error, path: &Path) -> Error {
    match e {
        Error::InvalidConfig(m) => Error::InvalidConfig(format!("{}: {m}", path.display())),
        Error::InvalidModelFile(m) => Error::InvalidModelFile(format!("{}: {m}", path.display())),
        other => other,
    }
}

/// A weights file that lacks a tensor the description needs, or has one of the wrong shape,
/// as [`Error::InvalidModelFile`].
pub(crate) fn missing_tensor(e: Error) -> Error {
    match e {
        Error::Model(c) => {
            let m = c.to_string();
            let missing = m.contains("cannot find tensor")
                || (m.starts_with("tensor ") && m.ends_with("not found"))
                || m.contains("shape mismatch");
            if missing {
                Error::InvalidModelFile(format!("the weights do not fit the description: {m}"))
            } else {
                Error::Model(c)
            }
        }
        other => other,
    }
}

pub(crate) fn utf8(json: &[u8]) -> crate::Result<&str> {
    std::str::from_utf8(json)
        .map_err(|e| Error::InvalidModelFile(format!("model JSON is not UTF-8: {e}")))
}

/// Memory-maps a safetensors file.
pub(crate) fn weights_from_path(path: &Path) -> crate::Result<VarBuilder<'static>> {
    if !path.exists() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "weights file missing"),
        ));
    }
    // SAFETY: the weights file is memory-mapped read-only and not modified while mapped.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], DTYPE, &default_device()) }
        .map_err(|e| Error::InvalidModelFile(format!("{}: {e}", path.display())))?;
    Ok(vb)
}

/// Reads safetensors weights from memory.
pub(crate) fn weights_from_bytes(weights: &[u8]) -> crate::Result<VarBuilder<'_>> {
    VarBuilder::from_slice_safetensors(weights, DTYPE, &default_device())
        .map_err(|e| Error::InvalidModelFile(format!("safetensors weights: {e}")))
}
