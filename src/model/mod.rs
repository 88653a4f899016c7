//! The networks: building blocks and the voice branch (the face branch and the fusion head
//! follow). Every model takes `(config, VarBuilder)`, names its weights by structure
//! (`vb.pp("block1")`), and runs with `forward_t(x, train)` so batch-norm and dropout know
//! whether they are training.

pub mod blocks;
pub mod voice;

pub use voice::{VoiceConfig, VoiceModelFile, VoiceNet, VoiceOutput};

use candle_core::{DType, Device};

/// The device models run on. facevox targets the CPU; the type is kept so a CUDA/Metal build of
/// candle can be used without API changes.
pub fn default_device() -> Device {
    Device::Cpu
}

/// Parameter precision.
pub const DTYPE: DType = DType::F32;
