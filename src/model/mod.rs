//! The networks: building blocks and the voice branch (the face branch and the fusion head
//! follow). Every model takes `(config, VarBuilder)`, names its weights by structure
//! (`vb.pp("block1")`), and runs with `forward_t(x, train)` so batch-norm and dropout know
//! whether they are training.

pub mod blocks;
pub mod conv;
pub mod norm;
pub mod voice;

pub use voice::{InputNorm, VoiceConfig, VoiceModelFile, VoiceNet, VoiceOutput};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;

use crate::rng::SeededRng;

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
