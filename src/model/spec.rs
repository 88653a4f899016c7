//! What a model file says about its networks, written once for both branches: the format
//! version, the ensemble (which networks, under which weight prefixes, contributing which
//! outputs, reading which input) and the test-time views.
//!
//! A model is two files: `<name>.json` (a [`FaceModelFile`](super::FaceModelFile) or
//! [`VoiceModelFile`](super::VoiceModelFile)) and `<name>.safetensors` with every member's
//! weights under its prefix. The JSON's `format` is checked on load: this version reads
//! [`MODEL_FORMAT`] and the earlier format 1 (converted on load), and refuses anything else
//! with [`Error::UnsupportedModelFormat`].

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The model-file format this version writes.
pub const MODEL_FORMAT: u32 = 2;

/// What a member network contributes to the prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Perceived gender and emotion (the first member also gives the embedding).
    Full,
    /// Perceived gender only (a network trained for it alone).
    Gender,
}

/// One network of a model file. Every member's probabilities are averaged with the others' of
/// the same role (each member counts once); the embedding is the first member's (independently
/// trained networks do not share an embedding space), which must be [`MemberRole::Full`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member<A, I> {
    /// Prefix of the member's tensors in the weights file (`""`: none).
    pub weights: String,
    /// What it contributes.
    pub role: MemberRole,
    /// Its architecture, when not the file's `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<A>,
    /// Its input (crop or features), when not the file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<I>,
}

impl<A, I> Member<A, I> {
    /// A full member with the file's architecture and input, its weights under `weights`.
    pub fn full(weights: impl Into<String>) -> Self {
        Self {
            weights: weights.into(),
            role: MemberRole::Full,
            model: None,
            input: None,
        }
    }

    /// `n` full members: one without a prefix, or `member0` .. `member{n-1}`.
    pub fn ensemble(n: usize) -> Vec<Self> {
        match n {
            1 => vec![Self::full("")],
            n => (0..n).map(|i| Self::full(format!("member{i}"))).collect(),
        }
    }
}

/// Test-time augmentation: each input is scored in several views and the probabilities of all
/// views averaged (the embedding stays the plain view's). Faces may add their mirror image;
/// voices a grid of tempo rates and mel-axis warps (the transforms training augments with).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TestTimeViews {
    /// Also score the face mirrored left to right.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mirror: bool,
    /// Tempo rates (above 1 shortens the clip; 1.0 = as recorded); empty stands for `[1.0]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_stretch: Vec<f32>,
    /// Mel-axis warp factors (band `b` takes the value at `alpha·b`); empty stands for `[1.0]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub freq_warp: Vec<f32>,
}

impl TestTimeViews {
    /// One plain view.
    pub fn none() -> Self {
        Self::default()
    }

    /// The plain view and the mirror image.
    pub fn mirrored() -> Self {
        Self {
            mirror: true,
            ..Self::default()
        }
    }

    /// The voice views as `(tempo rate, warp factor)` pairs, tempo-major.
    pub fn tempo_warp_views(&self) -> Vec<(f32, f32)> {
        let or_one = |v: &[f32]| if v.is_empty() { vec![1.0] } else { v.to_vec() };
        let warps = or_one(&self.freq_warp);
        or_one(&self.time_stretch)
            .into_iter()
            .flat_map(|r| warps.iter().map(move |&a| (r, a)))
            .collect()
    }

    /// Whether this is the single plain view.
    pub fn is_plain(&self) -> bool {
        !self.mirror && self.tempo_warp_views() == [(1.0, 1.0)]
    }

    /// Checks the views suit a face model: a mirror, no tempo or warp.
    pub fn validate_for_faces(&self) -> Result<()> {
        if !self.time_stretch.is_empty() || !self.freq_warp.is_empty() {
            return Err(Error::InvalidConfig(
                "a face model's test-time views cannot stretch time or warp mel bands".into(),
            ));
        }
        Ok(())
    }

    /// Checks the views suit a voice model: no mirror, every factor finite and within 0.5..=2.
    pub fn validate_for_voices(&self) -> Result<()> {
        if self.mirror {
            return Err(Error::InvalidConfig(
                "a voice model's test-time views cannot mirror".into(),
            ));
        }
        for (what, v) in [
            ("time_stretch", &self.time_stretch),
            ("freq_warp", &self.freq_warp),
        ] {
            if let Some(bad) = v.iter().find(|x| !(0.5..=2.0).contains(*x)) {
                return Err(Error::InvalidConfig(format!(
                    "tta.{what} factor {bad} is outside 0.5..=2"
                )));
            }
        }
        Ok(())
    }
}

/// Checks what every model file shares: the format version this build writes, at least one
/// member, the first full, no weight prefix used twice.
pub(crate) fn check_members<A, I>(format: u32, members: &[Member<A, I>]) -> Result<()> {
    if format != MODEL_FORMAT {
        return Err(Error::UnsupportedModelFormat {
            found: format as u64,
            supported: MODEL_FORMAT,
        });
    }
    let Some(first) = members.first() else {
        return Err(Error::InvalidConfig("a model file with no members".into()));
    };
    if first.role != MemberRole::Full {
        return Err(Error::InvalidConfig(
            "the first member must be a full one (it gives the embedding)".into(),
        ));
    }
    for (i, m) in members.iter().enumerate() {
        if members[..i].iter().any(|o| o.weights == m.weights) {
            return Err(Error::InvalidConfig(format!(
                "two members read the weights prefix {:?}",
                m.weights
            )));
        }
    }
    Ok(())
}

/// Parses a model file's JSON (`what` names it in errors): checks its format, applies
/// `upgrade_v1` to a format 1 file, then deserialises format 2.
pub(crate) fn parse_model_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
    upgrade_v1: impl FnOnce(&mut serde_json::Value),
) -> Result<T> {
    let bad = |e: serde_json::Error| Error::InvalidModelFile(format!("{what} JSON: {e}"));
    let mut v: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
    if format_of(&v, what)? == 1 {
        upgrade_v1(&mut v);
        v["format"] = MODEL_FORMAT.into();
    }
    serde_json::from_value(v).map_err(bad)
}

/// The `format` of a model file's JSON, checked against what this version reads.
pub(crate) fn format_of(json: &serde_json::Value, what: &str) -> Result<u32> {
    let found = json
        .get("format")
        .and_then(|f| f.as_u64())
        .ok_or_else(|| Error::InvalidModelFile(format!("{what}: no \"format\" version")))?;
    match found {
        1 | 2 => Ok(found as u32),
        other => Err(Error::UnsupportedModelFormat {
            found: other,
            supported: MODEL_FORMAT,
        }),
    }
}
