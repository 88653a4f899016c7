//! Late fusion of the two branches.
//!
//! [`ProductOfExperts`] is the training-free baseline every learned fusion head has to beat:
//! each branch's probabilities, temperature-scaled (`p^(1/T)`, renormalised: the same as
//! dividing the logits by `T`), are multiplied class by class. Perceived gender is shared by
//! both branches. For emotion the fused label set is the union of the branches' (calm only
//! the voice knows, contempt only the face): a class one branch does not know takes that
//! branch's uniform share `1/K` as its factor, so the branch neither votes for nor against it.
//! A missing branch simply drops out: with one branch the result is that branch's
//! temperature-scaled distribution.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::spec::Calibration;
use crate::labels::Emotion;
use crate::{Error, Result};

/// The fusion-file format this version reads and writes.
pub const FUSION_FORMAT: u32 = 1;

/// One branch's probabilities, as the fusion reads them.
#[derive(Debug, Clone, Copy)]
pub struct BranchProbs<'a> {
    /// `[P(male), P(female)]`.
    pub gender: [f32; 2],
    /// The emotion head's classes, in order.
    pub emotions: &'a [Emotion],
    /// Their probabilities.
    pub emotion: &'a [f32],
}

/// The fused distributions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusedProbs {
    /// `[P(male), P(female)]`.
    pub gender: [f32; 2],
    /// The union of the present branches' emotions: the voice's first, then the face's others.
    pub emotions: Vec<Emotion>,
    /// Their probabilities.
    pub emotion: Vec<f32>,
    /// Whether the face counted in the emotion (false without a face, or when the learned
    /// head's expressionless gate set it aside: see [`LinearFusionHead::expressionless_gate`]).
    #[serde(default)]
    pub emotion_uses_face: bool,
}

/// The product-of-experts fusion with one temperature per branch (1: the branch as it is).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductOfExperts {
    /// Temperature of the face branch's probabilities (above 1 softens them).
    pub face_temperature: f32,
    /// Temperature of the voice branch's probabilities.
    pub voice_temperature: f32,
}

impl Default for ProductOfExperts {
    fn default() -> Self {
        Self {
            face_temperature: 1.0,
            voice_temperature: 1.0,
        }
    }
}

/// `ln p`, with probabilities floored so an expert's 0 vetoes without producing NaN.
fn ln(p: f32) -> f64 {
    (p.max(1e-12) as f64).ln()
}

/// Softmax of log-scores.
fn normalise(scores: &[f64]) -> Vec<f32> {
    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|v| (v / z) as f32).collect()
}

impl ProductOfExperts {
    /// Fuses whichever branches are present (`None` when neither is).
    pub fn fuse(
        &self,
        face: Option<BranchProbs>,
        voice: Option<BranchProbs>,
    ) -> Option<FusedProbs> {
        let experts: Vec<(BranchProbs, f32)> = [
            voice.map(|v| (v, self.voice_temperature)),
            face.map(|f| (f, self.face_temperature)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if experts.is_empty() {
            return None;
        }
        let mut emotions: Vec<Emotion> = Vec::new();
        for (b, _) in &experts {
            for &e in b.emotions {
                if !emotions.contains(&e) {
                    emotions.push(e);
                }
            }
        }
        let mut gender = [0f64; 2];
        let mut emotion = vec![0f64; emotions.len()];
        for (b, t) in &experts {
            let inv_t = 1.0 / t.max(1e-3) as f64;
            gender[0] += ln(b.gender[0]) * inv_t;
            gender[1] += ln(b.gender[1]) * inv_t;
            // The branch's tempered log-distribution over its own classes.
            let own: Vec<f64> = b.emotion.iter().map(|&p| ln(p) * inv_t).collect();
            let own = normalise(&own);
            let uniform = (1.0 / b.emotions.len().max(1) as f64).ln();
            for (k, e) in emotions.iter().enumerate() {
                emotion[k] += match b.emotions.iter().position(|x| x == e) {
                    Some(i) => ln(own[i]),
                    None => uniform,
                };
            }
        }
        let g = normalise(&gender);
        Some(FusedProbs {
            gender: [g[0], g[1]],
            emotion: normalise(&emotion),
            emotions,
            emotion_uses_face: face.is_some(),
        })
    }
}

/// A learned late-fusion head: multinomial logistic regression from both branches'
/// log-probabilities and a presence mask to perceived gender and emotion over the union of
/// the branches' labels. Its features, per branch (face first, then voice): `ln p` of each
/// of the branch's emotions (floored at 1e-6), `ln p` of (male, female), and 1 when the
/// branch is present; an absent branch contributes zeros. They fill one of three blocks, by
/// which branches are present (both, face only, voice only), so each pattern has weights of
/// its own: what the head learns about pairs never changes a lone branch's answer (whose
/// block stays the product of one expert, the branch itself, unless trained with modality
/// dropout). Trained on out-of-fold branch
/// outputs with modality dropout (`training::fusion`), initialised at the product of experts
/// (weight 1 on each class's own log-probabilities), so it starts from the baseline it has to
/// beat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearFusionHead {
    /// The face branch's emotions, in its head order.
    pub face_emotions: Vec<Emotion>,
    /// The voice branch's emotions.
    pub voice_emotions: Vec<Emotion>,
    /// The fused emotions (the voice's, then the face's others).
    pub emotions: Vec<Emotion>,
    /// Emotion weights, `[fused emotion][feature]`.
    pub emotion_weights: Vec<Vec<f32>>,
    /// Emotion biases.
    pub emotion_bias: Vec<f32>,
    /// Gender weights, `[male, female][feature]`.
    pub gender_weights: Vec<Vec<f32>>,
    /// Gender biases.
    pub gender_bias: Vec<f32>,
    /// When both branches are present and the face's probability of `neutral` is at least
    /// this, the emotion is answered as if the face were absent (by the voice-only block);
    /// perceived gender still uses both. A face that shows no expression says nothing about
    /// the emotion a voice carries: on RAVDESS clips paired with the actor's neutral still,
    /// a head without the gate lost 11 points to the voice alone (`modality_benchmark`).
    /// 0 (the default, and what older files read as): off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expressionless_gate: f32,
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

impl LinearFusionHead {
    /// The number of features for these label sets.
    pub fn n_features(face_emotions: usize, voice_emotions: usize) -> usize {
        3 * Self::block(face_emotions, voice_emotions)
    }

    /// The features of one presence pattern.
    fn block(face_emotions: usize, voice_emotions: usize) -> usize {
        face_emotions + 3 + voice_emotions + 3
    }

    /// The union of the two label sets, the voice's first.
    pub fn union(face_emotions: &[Emotion], voice_emotions: &[Emotion]) -> Vec<Emotion> {
        let mut u = voice_emotions.to_vec();
        for e in face_emotions {
            if !u.contains(e) {
                u.push(*e);
            }
        }
        u
    }

    /// The head that computes the product of experts at temperature 1 (its initialisation).
    pub fn product_of_experts(face_emotions: &[Emotion], voice_emotions: &[Emotion]) -> Self {
        let nf = face_emotions.len();
        let n = Self::block(nf, voice_emotions.len());
        let emotions = Self::union(face_emotions, voice_emotions);
        let n_out = emotions.len();
        let mut emotion_weights = vec![vec![0f32; n]; n_out];
        for (k, e) in emotions.iter().enumerate() {
            // A class a present branch does not know takes its uniform share (the presence
            // feature carries it, so an absent branch adds nothing).
            match face_emotions.iter().position(|x| x == e) {
                Some(i) => emotion_weights[k][i] = 1.0,
                None => emotion_weights[k][nf + 2] = (1.0 / nf as f32).ln(),
            }
            match voice_emotions.iter().position(|x| x == e) {
                Some(i) => emotion_weights[k][nf + 3 + i] = 1.0,
                None => emotion_weights[k][n - 1] = (1.0 / voice_emotions.len() as f32).ln(),
            }
        }
        let mut gender_weights = vec![vec![0f32; n]; 2];
        for (g, row) in gender_weights.iter_mut().enumerate() {
            row[nf + g] = 1.0;
            row[n - 3 + g] = 1.0;
        }
        // The same product in each presence pattern's block.
        let tile = |w: Vec<Vec<f32>>| -> Vec<Vec<f32>> {
            w.into_iter().map(|row| row.repeat(3)).collect()
        };
        let (emotion_weights, gender_weights) = (tile(emotion_weights), tile(gender_weights));
        Self {
            face_emotions: face_emotions.to_vec(),
            voice_emotions: voice_emotions.to_vec(),
            emotions,
            emotion_weights,
            emotion_bias: vec![0.0; n_out],
            gender_weights,
            gender_bias: vec![0.0; 2],
            expressionless_gate: 0.0,
        }
    }

    /// The face as the emotion sees it: `None` when the expressionless gate closes on it
    /// (see [`LinearFusionHead::expressionless_gate`]), else the face itself.
    pub fn emotion_face<'a>(&self, face: Option<BranchProbs<'a>>) -> Option<BranchProbs<'a>> {
        let face = face?;
        if self.expressionless_gate <= 0.0 {
            return Some(face);
        }
        let neutral = face
            .emotions
            .iter()
            .position(|e| *e == Emotion::Neutral)
            .and_then(|i| face.emotion.get(i));
        match neutral {
            Some(&p) if p >= self.expressionless_gate => None,
            _ => Some(face),
        }
    }

    /// The features of one input (see the type's documentation).
    pub fn features(&self, face: Option<BranchProbs>, voice: Option<BranchProbs>) -> Vec<f32> {
        let block = Self::block(self.face_emotions.len(), self.voice_emotions.len());
        let pattern = match (face.is_some(), voice.is_some()) {
            (true, true) => 0,
            (true, false) => 1,
            _ => 2,
        };
        let mut x = vec![0f32; block * pattern];
        for (b, own) in [(face, &self.face_emotions), (voice, &self.voice_emotions)] {
            match b {
                Some(b) => {
                    for e in own.iter() {
                        let p = b
                            .emotions
                            .iter()
                            .position(|x| x == e)
                            .map_or(1.0 / own.len() as f32, |i| b.emotion[i]);
                        x.push(p.max(1e-6).ln());
                    }
                    x.push(b.gender[0].max(1e-6).ln());
                    x.push(b.gender[1].max(1e-6).ln());
                    x.push(1.0);
                }
                None => x.extend(std::iter::repeat_n(0.0, own.len() + 3)),
            }
        }
        x.resize(3 * block, 0.0);
        x
    }

    /// The fused distributions from the features of each task (`gender_x` from both
    /// branches, `emotion_x` from the branches the emotion sees: see
    /// [`LinearFusionHead::emotion_face`]).
    pub fn apply(&self, gender_x: &[f32], emotion_x: &[f32]) -> FusedProbs {
        let logits = |w: &[Vec<f32>], b: &[f32], x: &[f32]| -> Vec<f64> {
            w.iter()
                .zip(b)
                .map(|(row, &b)| {
                    b as f64 + row.iter().zip(x).map(|(a, b)| (a * b) as f64).sum::<f64>()
                })
                .collect()
        };
        let g = normalise(&logits(&self.gender_weights, &self.gender_bias, gender_x));
        // The face's presence feature, in the both-branches block or the face-only block.
        let (nf, block) = (
            self.face_emotions.len(),
            Self::block(self.face_emotions.len(), self.voice_emotions.len()),
        );
        let emotion_uses_face = [nf + 2, block + nf + 2]
            .iter()
            .any(|&i| emotion_x.get(i).is_some_and(|&v| v != 0.0));
        FusedProbs {
            emotion_uses_face,
            gender: [g[0], g[1]],
            emotions: self.emotions.clone(),
            emotion: normalise(&logits(
                &self.emotion_weights,
                &self.emotion_bias,
                emotion_x,
            )),
        }
    }

    /// Fuses whichever branches are present (`None` when neither is).
    pub fn fuse(
        &self,
        face: Option<BranchProbs>,
        voice: Option<BranchProbs>,
    ) -> Option<FusedProbs> {
        if face.is_none() && voice.is_none() {
            return None;
        }
        let gender_x = self.features(face, voice);
        let emotion_face = self.emotion_face(face);
        let emotion_x = if emotion_face.is_some() == face.is_some() {
            gender_x.clone()
        } else {
            self.features(emotion_face, voice)
        };
        Some(self.apply(&gender_x, &emotion_x))
    }

    /// Checks the shapes agree with the label sets and every number is finite.
    pub fn check(&self) -> Result<()> {
        let n = Self::n_features(self.face_emotions.len(), self.voice_emotions.len());
        let rows_ok = |w: &[Vec<f32>], b: &[f32], k: usize| {
            w.len() == k && b.len() == k && w.iter().all(|r| r.len() == n)
        };
        if self.emotions != Self::union(&self.face_emotions, &self.voice_emotions)
            || !rows_ok(
                &self.emotion_weights,
                &self.emotion_bias,
                self.emotions.len(),
            )
            || !rows_ok(&self.gender_weights, &self.gender_bias, 2)
        {
            return Err(Error::InvalidModelFile(
                "the fusion head's weights do not fit its label sets".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.expressionless_gate) {
            return Err(Error::InvalidModelFile(format!(
                "the fusion head's expressionless_gate {} is outside 0..1",
                self.expressionless_gate
            )));
        }
        let finite = |w: &[Vec<f32>], b: &[f32]| w.iter().flatten().chain(b).all(|v| v.is_finite());
        if !finite(&self.emotion_weights, &self.emotion_bias)
            || !finite(&self.gender_weights, &self.gender_bias)
        {
            return Err(Error::NonFinite);
        }
        Ok(())
    }
}

/// Confidence thresholds below which an answer is reported as uncertain rather than as a
/// label (0: always answer). Applied to the fused answer and to each branch's own.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Abstention {
    /// Minimum probability of the perceived-gender answer (of 0.5..1).
    pub gender: f32,
    /// Minimum probability of the emotion answer.
    pub emotion: f32,
}

impl Abstention {
    /// Never abstain.
    pub const NEVER: Self = Self {
        gender: 0.0,
        emotion: 0.0,
    };

    /// Checks both thresholds are within 0..1.
    pub fn validate(&self) -> Result<()> {
        for (what, t) in [("gender", self.gender), ("emotion", self.emotion)] {
            if !(0.0..1.0).contains(&t) {
                return Err(Error::InvalidConfig(format!(
                    "abstain.{what} threshold {t} is outside 0..1"
                )));
            }
        }
        Ok(())
    }
}

/// The fusion file (`fusion.json` beside `face.*` and `voice.*`): how the two branches are
/// combined, the temperature scaling of the fused output, and when to abstain. A models
/// directory without one fuses with [`FusionModelFile::default`] (the product of experts at
/// temperature 1, never abstaining).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusionModelFile {
    /// Format version of this file ([`FUSION_FORMAT`]).
    pub format: u32,
    /// The training-free fusion and its per-branch temperatures (applied on top of each
    /// branch's own calibration).
    #[serde(default)]
    pub product_of_experts: ProductOfExperts,
    /// The learned head, when it measured better than the product of experts (used instead
    /// of it when the branches' label sets match the head's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<LinearFusionHead>,
    /// Temperature scaling of the fused distributions, applied to a task's answer only when
    /// it drew on both branches (a lone branch is already calibrated by its own file; an
    /// emotion the expressionless gate left to the voice is the voice's).
    #[serde(default, skip_serializing_if = "Calibration::is_none")]
    pub calibration: Calibration,
    /// When the answers are reported as uncertain.
    #[serde(default)]
    pub abstain: Abstention,
    /// How the file was made (command, data, measurements), free-form.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl Default for FusionModelFile {
    fn default() -> Self {
        Self {
            format: FUSION_FORMAT,
            product_of_experts: ProductOfExperts::default(),
            head: None,
            calibration: Calibration::NONE,
            abstain: Abstention::NEVER,
            provenance: serde_json::Value::Null,
        }
    }
}

impl FusionModelFile {
    /// Parses and checks a fusion file's JSON.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidModelFile(format!("fusion JSON: {e}")))?;
        let found = v
            .get("format")
            .and_then(|f| f.as_u64())
            .ok_or_else(|| Error::InvalidModelFile("fusion: no \"format\" version".into()))?;
        if found != FUSION_FORMAT as u64 {
            return Err(Error::UnsupportedModelFormat {
                found,
                supported: FUSION_FORMAT,
            });
        }
        let file: Self = serde_json::from_value(v)
            .map_err(|e| Error::InvalidModelFile(format!("fusion JSON: {e}")))?;
        file.check()?;
        Ok(file)
    }

    /// Reads `path` (a `fusion.json`).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text).map_err(|e| super::in_file(e, path))
    }

    /// `dir/fusion.json` when it exists, else the default.
    pub fn read_or_default(dir: &Path) -> Result<Self> {
        let path = dir.join("fusion.json");
        if path.exists() {
            Self::read(&path)
        } else {
            Ok(Self::default())
        }
    }

    /// Checks the temperatures and thresholds.
    pub fn check(&self) -> Result<()> {
        let p = &self.product_of_experts;
        for (what, t) in [("face", p.face_temperature), ("voice", p.voice_temperature)] {
            if !(0.05..=20.0).contains(&t) {
                return Err(Error::InvalidConfig(format!(
                    "product_of_experts.{what}_temperature {t} is outside 0.05..=20"
                )));
            }
        }
        self.calibration.validate()?;
        if let Some(h) = &self.head {
            h.check()?;
        }
        self.abstain.validate()
    }

    /// How [`fuse`](Self::fuse) combines branches with these label sets: `learned_head` when
    /// the file has a head trained on them, else `product_of_experts`.
    pub fn method(&self, face_emotions: &[Emotion], voice_emotions: &[Emotion]) -> &'static str {
        match &self.head {
            Some(h) if h.face_emotions == face_emotions && h.voice_emotions == voice_emotions => {
                "learned_head"
            }
            _ => "product_of_experts",
        }
    }

    /// Writes the file as pretty JSON to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.check()?;
        std::fs::write(
            path,
            serde_json::to_string_pretty(self).expect("serialisable"),
        )
        .map_err(|e| Error::io(path, e))
    }

    /// Fuses the present branches and scales the result by [`calibration`](Self::calibration).
    pub fn fuse(
        &self,
        face: Option<BranchProbs>,
        voice: Option<BranchProbs>,
    ) -> Option<FusedProbs> {
        let head = self.head.as_ref().filter(|h| {
            face.is_none_or(|f| f.emotions == h.face_emotions.as_slice())
                && voice.is_none_or(|v| v.emotions == h.voice_emotions.as_slice())
        });
        let mut f = match head {
            Some(h) => h.fuse(face, voice)?,
            None => self.product_of_experts.fuse(face, voice)?,
        };
        if face.is_some() && voice.is_some() {
            super::spec::apply_temperature(&mut f.gender, self.calibration.gender);
            if f.emotion_uses_face {
                super::spec::apply_temperature(&mut f.emotion, self.calibration.emotion);
            }
        }
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{FACE_EMOTIONS, RAVDESS_EMOTIONS};

    fn probs(set: &[Emotion], hot: Emotion, p: f32) -> Vec<f32> {
        let rest = (1.0 - p) / (set.len() - 1) as f32;
        set.iter()
            .map(|&e| if e == hot { p } else { rest })
            .collect()
    }

    #[test]
    fn the_expressionless_gate_leaves_the_emotion_to_the_voice() {
        let mut head = LinearFusionHead::product_of_experts(&FACE_EMOTIONS, &RAVDESS_EMOTIONS);
        let ve = probs(&RAVDESS_EMOTIONS, Emotion::Angry, 0.4);
        let voice = BranchProbs {
            gender: [0.4, 0.6],
            emotions: &RAVDESS_EMOTIONS,
            emotion: &ve,
        };
        let blank_e = probs(&FACE_EMOTIONS, Emotion::Neutral, 0.9);
        let blank = BranchProbs {
            gender: [0.2, 0.8],
            emotions: &FACE_EMOTIONS,
            emotion: &blank_e,
        };
        let sad_e = probs(&FACE_EMOTIONS, Emotion::Sad, 0.9);
        let sad = BranchProbs {
            emotion: &sad_e,
            ..blank
        };
        let alone = head.fuse(None, Some(voice)).unwrap();
        assert!(!alone.emotion_uses_face);
        // Off: the neutral face pulls the answer to neutral.
        let off = head.fuse(Some(blank), Some(voice)).unwrap();
        assert!(off.emotion_uses_face);
        assert_ne!(off.emotion, alone.emotion);
        head.expressionless_gate = 0.5;
        head.check().unwrap();
        // On: the emotion is the voice's own; the face still counts for perceived gender.
        let on = head.fuse(Some(blank), Some(voice)).unwrap();
        assert!(!on.emotion_uses_face);
        assert_eq!(on.emotion, alone.emotion);
        assert!(on.gender[1] > alone.gender[1] + 0.1);
        // An expressive face passes the gate.
        let expressive = head.fuse(Some(sad), Some(voice)).unwrap();
        assert!(expressive.emotion_uses_face);
        assert_ne!(expressive.emotion, alone.emotion);
        head.expressionless_gate = 1.5;
        assert!(head.check().is_err());
    }

    #[test]
    fn one_branch_alone_is_that_branch() {
        let e = probs(&RAVDESS_EMOTIONS, Emotion::Calm, 0.6);
        let voice = BranchProbs {
            gender: [0.2, 0.8],
            emotions: &RAVDESS_EMOTIONS,
            emotion: &e,
        };
        let f = ProductOfExperts::default().fuse(None, Some(voice)).unwrap();
        assert_eq!(f.emotions, RAVDESS_EMOTIONS.to_vec());
        assert!((f.gender[1] - 0.8).abs() < 1e-6);
        for (a, b) in f.emotion.iter().zip(&e) {
            assert!((a - b).abs() < 1e-6);
        }
        assert!(ProductOfExperts::default().fuse(None, None).is_none());
    }

    #[test]
    fn agreeing_experts_sharpen_and_the_label_sets_are_united() {
        let ve = probs(&RAVDESS_EMOTIONS, Emotion::Happy, 0.5);
        let fe = probs(&FACE_EMOTIONS, Emotion::Happy, 0.5);
        let voice = BranchProbs {
            gender: [0.3, 0.7],
            emotions: &RAVDESS_EMOTIONS,
            emotion: &ve,
        };
        let face = BranchProbs {
            gender: [0.3, 0.7],
            emotions: &FACE_EMOTIONS,
            emotion: &fe,
        };
        let f = ProductOfExperts::default()
            .fuse(Some(face), Some(voice))
            .unwrap();
        // Nine emotions: the voice's eight, then contempt.
        assert_eq!(f.emotions.len(), 9);
        assert_eq!(f.emotions[8], Emotion::Contempt);
        assert!((f.emotion.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // 0.7 x 0.7 against 0.3 x 0.3: 0.845.
        assert!((f.gender[1] - 0.49 / 0.58).abs() < 1e-5);
        let happy = f
            .emotions
            .iter()
            .position(|&e| e == Emotion::Happy)
            .unwrap();
        assert!(f.emotion[happy] > 0.5);
        // A higher temperature softens a branch: gender moves back towards the other.
        let soft = ProductOfExperts {
            face_temperature: 4.0,
            voice_temperature: 1.0,
        }
        .fuse(Some(face), Some(voice))
        .unwrap();
        assert!(soft.gender[1] < f.gender[1] && soft.gender[1] > 0.7);
        // Disagreement: a confident voice outweighs an unsure face.
        let unsure = BranchProbs {
            gender: [0.55, 0.45],
            ..face
        };
        let confident = BranchProbs {
            gender: [0.05, 0.95],
            ..voice
        };
        let d = ProductOfExperts::default()
            .fuse(Some(unsure), Some(confident))
            .unwrap();
        assert!(d.gender[1] > 0.9);
    }

    #[test]
    fn the_initial_head_is_the_product_of_experts() {
        let ve = probs(&RAVDESS_EMOTIONS, Emotion::Calm, 0.4);
        let fe = probs(&FACE_EMOTIONS, Emotion::Contempt, 0.3);
        let voice = BranchProbs {
            gender: [0.3, 0.7],
            emotions: &RAVDESS_EMOTIONS,
            emotion: &ve,
        };
        let face = BranchProbs {
            gender: [0.6, 0.4],
            emotions: &FACE_EMOTIONS,
            emotion: &fe,
        };
        let head = LinearFusionHead::product_of_experts(&FACE_EMOTIONS, &RAVDESS_EMOTIONS);
        head.check().unwrap();
        let poe = ProductOfExperts::default();
        for (f, v) in [
            (Some(face), Some(voice)),
            (None, Some(voice)),
            (Some(face), None),
        ] {
            let a = head.fuse(f, v).unwrap();
            let b = poe.fuse(f, v).unwrap();
            // The head always answers over the union, the product over the present branches'
            // classes: compare within those.
            let idx: Vec<usize> = b
                .emotions
                .iter()
                .map(|e| a.emotions.iter().position(|x| x == e).unwrap())
                .collect();
            let z: f32 = idx.iter().map(|&k| a.emotion[k]).sum();
            for (&k, p) in idx.iter().zip(&b.emotion) {
                assert!(
                    (a.emotion[k] / z - p).abs() < 1e-5,
                    "{}: {} vs {p}",
                    a.emotions[k],
                    a.emotion[k] / z
                );
            }
            assert!((a.gender[1] - b.gender[1]).abs() < 1e-5);
        }
        assert!(head.fuse(None, None).is_none());
        let mut bad = head.clone();
        bad.gender_bias.push(0.0);
        assert!(bad.check().is_err());
    }

    #[test]
    fn fusion_files_round_trip_and_bad_ones_are_typed_errors() {
        let file = FusionModelFile {
            calibration: Calibration {
                gender: 1.5,
                emotion: 2.0,
            },
            abstain: Abstention {
                gender: 0.7,
                emotion: 0.4,
            },
            ..FusionModelFile::default()
        };
        let json = serde_json::to_string(&file).unwrap();
        assert_eq!(FusionModelFile::from_json(&json).unwrap(), file);
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["format"] = 9.into();
        assert!(matches!(
            FusionModelFile::from_json(&v.to_string()),
            Err(Error::UnsupportedModelFormat { found: 9, .. })
        ));
        v["format"] = 1.into();
        v["abstain"]["gender"] = 1.5.into();
        assert!(FusionModelFile::from_json(&v.to_string()).is_err());
        assert!(matches!(
            FusionModelFile::from_json("{"),
            Err(Error::InvalidModelFile(_))
        ));
        // The fused output is scaled: a temperature above 1 softens it.
        let e = probs(&RAVDESS_EMOTIONS, Emotion::Sad, 0.9);
        let voice = BranchProbs {
            gender: [0.1, 0.9],
            emotions: &RAVDESS_EMOTIONS,
            emotion: &e,
        };
        let fe = probs(&FACE_EMOTIONS, Emotion::Sad, 0.6);
        let face = BranchProbs {
            gender: [0.4, 0.6],
            emotions: &FACE_EMOTIONS,
            emotion: &fe,
        };
        let plain = FusionModelFile::default()
            .fuse(Some(face), Some(voice))
            .unwrap();
        let soft = file.fuse(Some(face), Some(voice)).unwrap();
        assert!(soft.gender[1] < plain.gender[1] && soft.gender[1] > 0.5);
        let top = |f: &FusedProbs| f.emotion.iter().cloned().fold(0f32, f32::max);
        assert!(top(&soft) < top(&plain) && top(&soft) > 0.5);
        // ... but only where both branches answered: a lone branch is already calibrated.
        assert_eq!(
            file.fuse(None, Some(voice)),
            FusionModelFile::default().fuse(None, Some(voice))
        );
    }
}
