//! Where models come from: a directory, bytes in memory, or the copy compiled into the library.
//!
//! [`FaceAnalyzer::new`](crate::FaceAnalyzer::new) and
//! [`VoiceAnalyzer::new`](crate::VoiceAnalyzer::new) look, in order, in the directory named by
//! the environment variable [`MODELS_ENV`] (`FACEVOX_MODELS`) when it is set, then at the
//! models compiled into the library (the default cargo feature `embedded-models`). A binary
//! built with that feature needs no files at run time: copy it anywhere and it runs.
//! Without the feature, set the variable or load with `from_dir` / `from_bytes`.

use std::path::PathBuf;

use crate::{Error, Result};

/// The environment variable naming a directory of models (`face.json`, `face.safetensors`,
/// `voice.json`, `voice.safetensors`, and optionally `fusion.json`) that overrides the
/// compiled-in ones.
pub const MODELS_ENV: &str = "FACEVOX_MODELS";

/// A model's two files, as bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelBytes {
    pub json: &'static [u8],
    pub weights: &'static [u8],
}

/// Where [`new`](crate::FaceAnalyzer::new) finds a branch's model.
pub(crate) enum DefaultSource {
    Dir(PathBuf),
    Embedded(ModelBytes),
}

/// The shipped face model compiled into the library.
#[cfg(feature = "embedded-models")]
pub(crate) const FACE: ModelBytes = ModelBytes {
    json: include_bytes!("../models/face.json"),
    weights: include_bytes!("../models/face.safetensors"),
};

/// The shipped voice model compiled into the library.
#[cfg(feature = "embedded-models")]
pub(crate) const VOICE: ModelBytes = ModelBytes {
    json: include_bytes!("../models/voice.json"),
    weights: include_bytes!("../models/voice.safetensors"),
};

/// The pretrained speaker encoder (Resemblyzer's, Apache-2.0) compiled into the library: the
/// shipped voice model's perceived gender runs on it.
#[cfg(feature = "embedded-models")]
pub(crate) const SPEAKER_ENCODER: &[u8] = include_bytes!("../models/speaker_ge2e.safetensors");

/// The file name of the speaker encoder's weights in a models directory.
pub const SPEAKER_ENCODER_FILE: &str = "speaker_ge2e.safetensors";

/// The shipped fusion file compiled into the library (no weights: temperatures and
/// thresholds).
#[cfg(feature = "embedded-models")]
pub(crate) const FUSION: ModelBytes = ModelBytes {
    json: include_bytes!("../models/fusion.json"),
    weights: &[],
};

/// Whether this build carries the shipped models.
pub const EMBEDDED: bool = cfg!(feature = "embedded-models");

/// The directory `FACEVOX_MODELS` names, or the compiled-in model `embedded` (face or voice).
pub(crate) fn default_source(embedded: Option<ModelBytes>) -> Result<DefaultSource> {
    if let Some(dir) = std::env::var_os(MODELS_ENV).filter(|d| !d.is_empty()) {
        return Ok(DefaultSource::Dir(PathBuf::from(dir)));
    }
    embedded.map(DefaultSource::Embedded).ok_or_else(|| {
        Error::NoModels(format!(
            "facevox was built without the `embedded-models` feature; set {MODELS_ENV} to a \
             directory of models or load one with from_dir / from_bytes"
        ))
    })
}

#[cfg(feature = "embedded-models")]
pub(crate) fn embedded_face() -> Option<ModelBytes> {
    Some(FACE)
}
#[cfg(not(feature = "embedded-models"))]
pub(crate) fn embedded_face() -> Option<ModelBytes> {
    None
}
#[cfg(feature = "embedded-models")]
pub(crate) fn embedded_voice() -> Option<ModelBytes> {
    Some(VOICE)
}
#[cfg(not(feature = "embedded-models"))]
pub(crate) fn embedded_voice() -> Option<ModelBytes> {
    None
}
#[cfg(feature = "embedded-models")]
pub(crate) fn embedded_speaker_encoder() -> Option<&'static [u8]> {
    Some(SPEAKER_ENCODER)
}
#[cfg(not(feature = "embedded-models"))]
pub(crate) fn embedded_speaker_encoder() -> Option<&'static [u8]> {
    None
}
#[cfg(feature = "embedded-models")]
pub(crate) fn embedded_fusion() -> Option<ModelBytes> {
    Some(FUSION)
}
#[cfg(not(feature = "embedded-models"))]
pub(crate) fn embedded_fusion() -> Option<ModelBytes> {
    None
}
