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
    /// Perceived gender only (a network trained for it alone, or on more corpora).
    Gender,
    /// Emotion only: its perceived gender is not used (the file's gender members give it).
    Emotion,
}

impl MemberRole {
    /// Whether the member's emotion probabilities count.
    pub fn gives_emotion(self) -> bool {
        matches!(self, Self::Full | Self::Emotion)
    }

    /// Whether the member's perceived-gender probabilities count.
    pub fn gives_gender(self) -> bool {
        matches!(self, Self::Full | Self::Gender)
    }
}

/// One network of a model file. Each task's probabilities are averaged over the members that
/// give it (each member counts once; see [`MemberRole`]); the embedding is the first member's
/// (independently trained networks do not share an embedding space), which must give emotion.
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

/// Temperature scaling of a model's output probabilities, fitted on held-out data so that a
/// stated confidence matches how often the answer is right (Guo et al. 2017). Each task's
/// averaged probabilities `p` become `p^(1/T)`, renormalised (the same as dividing the logits
/// by `T`); `T` above 1 softens them. It never changes which class is most likely.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Calibration {
    /// Temperature of perceived gender.
    pub gender: f32,
    /// Temperature of emotion.
    pub emotion: f32,
}

/// Post-hoc logit adjustment (Menon et al., "Long-tail learning via logit adjustment", 2021)
/// of a head trained on unbalanced classes: each class's probability is divided by its
/// training frequency raised to `tau`, then renormalised, which trades a little accuracy on the
/// common classes for recall on the rare ones (`tau` 1: the balanced-error optimum for a
/// calibrated head; 0: no change). Applied before temperature scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorCorrection {
    /// Strength, 0..=2.
    pub tau: f32,
    /// Each class's share of the training labels, in head order (positive, summing to about 1).
    pub prior: Vec<f32>,
}

impl PriorCorrection {
    /// Checks `tau`, and that `prior` has `n_classes` positive finite shares summing to 1
    /// (within 1%).
    pub fn validate(&self, n_classes: usize) -> Result<()> {
        let sum: f32 = self.prior.iter().sum();
        if !(0.0..=2.0).contains(&self.tau)
            || self.prior.len() != n_classes
            || !self.prior.iter().all(|p| p.is_finite() && *p > 0.0)
            || (sum - 1.0).abs() > 0.01
        {
            return Err(Error::InvalidConfig(format!(
                "prior correction needs tau in 0..=2 and {n_classes} positive shares summing \
                 to 1, got tau {} and {:?}",
                self.tau, self.prior
            )));
        }
        Ok(())
    }

    /// Applies the correction to one probability vector in place.
    pub fn apply(&self, probs: &mut [f32]) {
        self.scale(probs, -self.tau);
    }

    /// Undoes [`apply`](Self::apply) in place: the probabilities before the correction.
    pub fn undo(&self, probs: &mut [f32]) {
        self.scale(probs, self.tau);
    }

    /// Multiplies each probability by its prior to the power `power`, renormalised.
    fn scale(&self, probs: &mut [f32], power: f32) {
        if power == 0.0 || probs.len() != self.prior.len() {
            return;
        }
        for (p, prior) in probs.iter_mut().zip(&self.prior) {
            *p *= prior.powf(power);
        }
        let sum: f32 = probs.iter().sum();
        if sum > 0.0 && sum.is_finite() {
            probs.iter_mut().for_each(|p| *p /= sum);
        }
    }
}

impl Default for Calibration {
    fn default() -> Self {
        Self::NONE
    }
}

impl Calibration {
    /// No scaling (both temperatures 1).
    pub const NONE: Self = Self {
        gender: 1.0,
        emotion: 1.0,
    };

    /// Whether this is [`Calibration::NONE`].
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// Checks both temperatures are finite and within 0.05..=20.
    pub fn validate(&self) -> Result<()> {
        for (what, t) in [("gender", self.gender), ("emotion", self.emotion)] {
            if !(0.05..=20.0).contains(&t) {
                return Err(Error::InvalidConfig(format!(
                    "calibration.{what} temperature {t} is outside 0.05..=20"
                )));
            }
        }
        Ok(())
    }
}

/// `p^(1/t)`, renormalised, in place (`t == 1` leaves `p` untouched, bit for bit).
pub fn apply_temperature(p: &mut [f32], t: f32) {
    if t == 1.0 || p.is_empty() {
        return;
    }
    let inv = 1.0 / t as f64;
    let logs: Vec<f64> = p
        .iter()
        .map(|&v| (v.max(1e-12) as f64).ln() * inv)
        .collect();
    let max = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
    let z: f64 = e.iter().sum();
    for (v, e) in p.iter_mut().zip(e) {
        *v = (e / z) as f32;
    }
}

/// How familiar an input is: the distance of its embedding from the embeddings of the
/// recordings a model was fitted on, as the root-mean-square z-score over the embedding's
/// dimensions (`sqrt(mean_i ((e_i − mean_i) / scale_i)²)`). Above `threshold` (a high
/// quantile of the reference recordings' own scores) the input is flagged as unlike them:
/// the model's answers there rest on less evidence than its confidence suggests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamiliarityReference {
    /// Per-dimension mean of the reference embeddings.
    pub mean: Vec<f32>,
    /// Per-dimension standard deviation (floored at 1e-3).
    pub scale: Vec<f32>,
    /// Scores above this are flagged.
    pub threshold: f32,
    /// What the reference is (data, quantile, command), free-form.
    #[serde(default)]
    pub fitted_on: serde_json::Value,
}

impl FamiliarityReference {
    /// The reference of `embeddings` (at least two, all of one length), flagging scores above
    /// their own `quantile` (in 0.5..=1).
    pub fn fit(embeddings: &[Vec<f32>], quantile: f64) -> Result<Self> {
        let d = embeddings.first().map_or(0, Vec::len);
        if embeddings.len() < 2 || d == 0 || embeddings.iter().any(|e| e.len() != d) {
            return Err(Error::InvalidConfig(
                "a familiarity reference needs two or more embeddings of one length".into(),
            ));
        }
        if !(0.5..=1.0).contains(&quantile) {
            return Err(Error::InvalidConfig(format!(
                "quantile {quantile} is outside 0.5..=1"
            )));
        }
        if embeddings.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite);
        }
        let n = embeddings.len() as f64;
        let mean: Vec<f64> = (0..d)
            .map(|i| embeddings.iter().map(|e| e[i] as f64).sum::<f64>() / n)
            .collect();
        let scale: Vec<f32> = (0..d)
            .map(|i| {
                let var = embeddings
                    .iter()
                    .map(|e| (e[i] as f64 - mean[i]).powi(2))
                    .sum::<f64>()
                    / (n - 1.0);
                (var.sqrt() as f32).max(1e-3)
            })
            .collect();
        let mut r = Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            scale,
            threshold: f32::INFINITY,
            fitted_on: serde_json::Value::Null,
        };
        let mut scores: Vec<f32> = embeddings
            .iter()
            .map(|e| r.score(e).expect("same length"))
            .collect();
        scores.sort_by(f32::total_cmp);
        let k = ((quantile * (scores.len() - 1) as f64).round() as usize).min(scores.len() - 1);
        r.threshold = scores[k];
        Ok(r)
    }

    /// The score of `embedding` (`None` when its length differs from the reference's).
    pub fn score(&self, embedding: &[f32]) -> Option<f32> {
        if embedding.len() != self.mean.len() {
            return None;
        }
        let ss: f64 = embedding
            .iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((e, m), s)| (((e - m) / s) as f64).powi(2))
            .sum();
        Some((ss / embedding.len() as f64).sqrt() as f32)
    }

    /// Checks the reference fits embeddings of length `dim` and every number is finite.
    pub fn check(&self, dim: usize) -> Result<()> {
        if self.mean.len() != dim || self.scale.len() != dim {
            return Err(Error::InvalidModelFile(format!(
                "the familiarity reference has {} dimensions, the embedding {dim}",
                self.mean.len()
            )));
        }
        let all = self.mean.iter().chain(&self.scale).chain([&self.threshold]);
        if all.clone().any(|v| !v.is_finite()) || self.scale.iter().any(|&s| s <= 0.0) {
            return Err(Error::InvalidModelFile(
                "the familiarity reference has a non-finite or non-positive value".into(),
            ));
        }
        Ok(())
    }
}

/// Checks what every model file shares: the format version this build writes, at least one
/// member, the first giving emotion (and the embedding), at least one giving perceived gender,
/// no weight prefix used twice.
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
    if !first.role.gives_emotion() {
        return Err(Error::InvalidConfig(
            "the first member must give emotion (it gives the embedding too)".into(),
        ));
    }
    if !members.iter().any(|m| m.role.gives_gender()) {
        return Err(Error::InvalidConfig(
            "no member gives perceived gender".into(),
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

#[cfg(test)]
mod familiarity_tests {
    use super::*;

    #[test]
    fn the_reference_flags_what_is_far_from_its_embeddings() {
        // 200 embeddings around (1, -1, 0) with unit-ish spread.
        let emb: Vec<Vec<f32>> = (0..200)
            .map(|i| {
                let t = i as f32 * 0.37;
                vec![1.0 + t.sin(), -1.0 + (1.3 * t).cos(), (0.7 * t).sin() * 0.5]
            })
            .collect();
        let r = FamiliarityReference::fit(&emb, 0.99).unwrap();
        r.check(3).unwrap();
        let flagged = emb
            .iter()
            .filter(|e| r.score(e).unwrap() > r.threshold)
            .count();
        assert!(
            flagged <= 2,
            "{flagged} of 200 reference embeddings flagged"
        );
        assert!(r.score(&[1.0, -1.0, 0.0]).unwrap() < r.threshold);
        assert!(r.score(&[10.0, 5.0, -4.0]).unwrap() > r.threshold);
        assert!(r.score(&[1.0, 2.0]).is_none());
        assert!(r.check(4).is_err());
        assert!(FamiliarityReference::fit(&emb[..1], 0.99).is_err());
        assert!(FamiliarityReference::fit(&emb, 0.2).is_err());
        let mut nan = emb.clone();
        nan[3][1] = f32::NAN;
        assert!(FamiliarityReference::fit(&nan, 0.99).is_err());
    }
}
