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

use serde::{Deserialize, Serialize};

use crate::labels::Emotion;

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
        })
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
}
