//! Named tensors read from safetensors bytes, every failure an [`Error::InvalidModelFile`]
//! that names the model: the loading step the converted pretrained networks share.

use std::collections::HashMap;
use std::fmt::Display;

use candle_core::{DType, Device, Tensor};

use crate::{Error, Result};

/// The tensors of one weights file, by name.
pub(crate) struct NamedTensors {
    what: &'static str,
    tensors: HashMap<String, Tensor>,
}

impl NamedTensors {
    /// Parses safetensors `bytes`; `what` names the model in errors.
    pub(crate) fn parse(bytes: &[u8], what: &'static str) -> Result<Self> {
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| Error::InvalidModelFile(format!("{what}: not a safetensors file: {e}")))?;
        Ok(Self { what, tensors })
    }

    /// An error about this file.
    pub(crate) fn bad(&self, message: impl Display) -> Error {
        Error::InvalidModelFile(format!("{}: {message}", self.what))
    }

    /// Whether a tensor of that name is present.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The tensor `name` as f32.
    pub(crate) fn f32(&self, name: &str) -> Result<Tensor> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| self.bad(format!("no tensor {name:?}")))?;
        t.to_dtype(DType::F32).map_err(Error::from)
    }
}
