//! The networks: building blocks and the voice branch (the face branch and the fusion head
//! follow). Every model takes `(config, VarBuilder)`, names its weights by structure
//! (`vb.pp("block1")`), and runs with `forward_t(x, train)` so batch-norm and dropout know
//! whether they are training.

pub mod blocks;
pub mod conv;
pub mod face;
pub mod norm;
pub mod pool;
pub mod voice;

pub use face::{
    FaceConfig, FaceModel, FaceModelFile, FaceNet, FaceOutput, GenderMember, FIRST_CONV,
};
pub use voice::{InputNorm, VoiceConfig, VoiceModelFile, VoiceNet, VoiceOutput, VoiceTta};

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::de::DeserializeOwned;
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
    let json = stem.with_extension("json");
    std::fs::write(
        &json,
        serde_json::to_string_pretty(description).expect("serialisable"),
    )
    .map_err(|e| Error::io(&json, e))
}

/// Reads `<stem>.json` into `T` and maps `<stem>.safetensors` into a [`VarBuilder`].
pub(crate) fn load_model<T: DeserializeOwned>(
    stem: &Path,
    device: &Device,
) -> crate::Result<(T, VarBuilder<'static>)> {
    let json = stem.with_extension("json");
    let text = std::fs::read_to_string(&json).map_err(|e| Error::io(&json, e))?;
    let file: T = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidConfig(format!("{}: {e}", json.display())))?;
    let weights = stem.with_extension("safetensors");
    if !weights.exists() {
        return Err(Error::io(
            &weights,
            std::io::Error::new(std::io::ErrorKind::NotFound, "weights file missing"),
        ));
    }
    // SAFETY: the weights file is memory-mapped read-only and not modified while mapped.
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(&[&weights], DTYPE, device).map_err(Error::from)?
    };
    Ok((file, vb))
}
