//! Training the learned fusion head ([`LinearFusionHead`]) on paired branch outputs.
//!
//! The examples are pairs of branch outputs that neither branch trained on (out-of-fold voice
//! outputs, face outputs on held-out faces), each with the labels it has. The branch
//! networks are frozen: only the head's weights move. The head has separate weights for each
//! presence pattern (both branches, face only, voice only; see [`LinearFusionHead`]), each
//! starting at the product of experts, so a lone branch is answered by that branch itself
//! unless modality dropout trains its block: with `face_dropout` / `voice_dropout` above 0,
//! every pair with both branches is also seen without the face / without the voice, at that
//! weight. Measured on the RAVDESS pairs (`modality_benchmark`), dropout at 0.25 each made
//! the lone voice 3.6 points worse than the voice itself (the paired sets' label mix is not
//! the lone branch's), so the default is 0: the learned weights serve pairs only.
//! Full-batch Adam on the weighted cross-entropy, starting at the product of experts, with an
//! L2 pull back towards it: the head moves away from the baseline only as far as the data ask.
//!
//! A face that shows no expression is set aside for emotion by the expressionless gate
//! (`expressionless_gate`, default 0.5: the face's P(neutral) at least one half), and such
//! pairs do not train the emotion weights. Why a gate and not more weights: on RAVDESS clips
//! paired with the actor's neutral still, every linear head tried (log-probabilities,
//! probabilities, diagonal or full, with products of the two branches' outputs, with the
//! voice's weights frozen) stayed 1.3 to 11 points below the voice alone out of fold, because
//! whatever it learned about the voice from the pairs (class re-weighting) did not carry to
//! new actors; with the gate the pair is answered exactly as the voice answers it, and the
//! head learns only from faces that show something.

use serde::{Deserialize, Serialize};

use crate::labels::{Emotion, Gender};
use crate::model::fusion::{BranchProbs, LinearFusionHead};
use crate::{Error, Result};

/// One branch's (calibrated) output on one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchOutputs {
    /// `[P(male), P(female)]`.
    pub gender: [f32; 2],
    /// Probabilities over the branch's emotions, in its head order.
    pub emotion: Vec<f32>,
}

/// One training pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusionExample {
    /// The face branch's output, if any.
    pub face: Option<BranchOutputs>,
    /// The voice branch's output, if any.
    pub voice: Option<BranchOutputs>,
    /// Perceived-gender label, if known.
    pub gender: Option<Gender>,
    /// Emotion label, if known (and among the fused emotions).
    pub emotion: Option<Emotion>,
}

/// How the head is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FusionTrainingConfig {
    /// Full-batch steps.
    pub steps: usize,
    /// Adam learning rate.
    pub lr: f32,
    /// L2 penalty on the distance from the product-of-experts weights.
    pub l2_to_baseline: f32,
    /// Weight of each pair's copy without the face.
    pub face_dropout: f32,
    /// Weight of each pair's copy without the voice.
    pub voice_dropout: f32,
    /// The head's expressionless gate ([`LinearFusionHead::expressionless_gate`]; 0: off).
    /// Pairs whose face it closes on do not train the emotion weights: the voice alone
    /// answers them, and the voice-only block learns from lone voices (and dropout) only.
    pub expressionless_gate: f32,
}

impl Default for FusionTrainingConfig {
    fn default() -> Self {
        Self {
            steps: 300,
            lr: 0.02,
            l2_to_baseline: 1e-3,
            face_dropout: 0.0,
            voice_dropout: 0.0,
            expressionless_gate: 0.5,
        }
    }
}

/// One task's rows: features, target class, weight.
struct Task {
    x: Vec<Vec<f32>>,
    y: Vec<usize>,
    w: Vec<f32>,
}

/// Adam on one weight matrix, full batch, softmax cross-entropy with an L2 pull to its
/// starting point. The biases `b` are read, never trained: each presence pattern's block has
/// its own presence features, which act as that pattern's biases.
fn fit(task: &Task, w: &mut [Vec<f32>], b: &[f32], cfg: &FusionTrainingConfig) {
    if task.x.is_empty() {
        return;
    }
    let (k, d) = (w.len(), w[0].len());
    let w0: Vec<Vec<f32>> = w.to_vec();
    let total_w: f64 = task.w.iter().map(|&v| v as f64).sum();
    let (mut m, mut v) = (vec![0f64; k * d], vec![0f64; k * d]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    for step in 1..=cfg.steps {
        // The L2 pull towards the product of experts, then the data's gradient.
        let mut grad: Vec<f64> = w
            .iter()
            .zip(&w0)
            .flat_map(|(r, r0)| r.iter().zip(r0).map(|(a, b)| (a - b) as f64))
            .map(|diff| cfg.l2_to_baseline as f64 * diff)
            .collect();
        for ((x, &y), &wt) in task.x.iter().zip(&task.y).zip(&task.w) {
            let logits: Vec<f64> = w
                .iter()
                .zip(b)
                .map(|(row, &bias)| {
                    bias as f64
                        + row
                            .iter()
                            .zip(x)
                            .map(|(a, b)| (*a as f64) * (*b as f64))
                            .sum::<f64>()
                })
                .collect();
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
            let z: f64 = e.iter().sum();
            let scale = wt as f64 / total_w;
            for (c, (gc, ec)) in grad.chunks_mut(d).zip(&e).enumerate() {
                let g = (ec / z - f64::from(u8::from(c == y))) * scale;
                for (gj, xj) in gc.iter_mut().zip(x) {
                    *gj += g * *xj as f64;
                }
            }
        }
        let lr = cfg.lr as f64 * (1.0 - b2.powi(step as i32)).sqrt() / (1.0 - b1.powi(step as i32));
        for (i, wi) in w.iter_mut().flat_map(|r| r.iter_mut()).enumerate() {
            m[i] = b1 * m[i] + (1.0 - b1) * grad[i];
            v[i] = b2 * v[i] + (1.0 - b2) * grad[i] * grad[i];
            *wi -= (lr * m[i] / (v[i].sqrt() + eps)) as f32;
        }
    }
}

/// Trains a head for branches with these label sets on `examples`.
pub fn train_fusion_head(
    examples: &[FusionExample],
    face_emotions: &[Emotion],
    voice_emotions: &[Emotion],
    cfg: &FusionTrainingConfig,
) -> Result<LinearFusionHead> {
    let drop_sum = cfg.face_dropout + cfg.voice_dropout;
    if !(0.0..1.0).contains(&drop_sum) || cfg.face_dropout < 0.0 || cfg.voice_dropout < 0.0 {
        return Err(Error::InvalidConfig(
            "face_dropout and voice_dropout must be non-negative and sum below 1".into(),
        ));
    }
    if !(0.0..=1.0).contains(&cfg.expressionless_gate) {
        return Err(Error::InvalidConfig(
            "expressionless_gate must be within 0..1".into(),
        ));
    }
    if !(cfg.lr > 0.0 && cfg.lr.is_finite()) || cfg.l2_to_baseline < 0.0 {
        return Err(Error::InvalidConfig(
            "lr must be positive and l2_to_baseline non-negative".into(),
        ));
    }
    let mut head = LinearFusionHead::product_of_experts(face_emotions, voice_emotions);
    head.expressionless_gate = cfg.expressionless_gate;
    let mut gender = Task {
        x: Vec::new(),
        y: Vec::new(),
        w: Vec::new(),
    };
    let mut emotion = Task {
        x: Vec::new(),
        y: Vec::new(),
        w: Vec::new(),
    };
    for ex in examples {
        let probs = |o: &Option<BranchOutputs>, set: &'static str| -> Result<()> {
            if let Some(o) = o {
                let n = if set == "face" {
                    face_emotions.len()
                } else {
                    voice_emotions.len()
                };
                if o.emotion.len() != n {
                    return Err(Error::InvalidConfig(format!(
                        "a {set} output has {} emotions, the branch {n}",
                        o.emotion.len()
                    )));
                }
                if o.emotion.iter().chain(&o.gender).any(|v| !v.is_finite()) {
                    return Err(Error::NonFinite);
                }
            }
            Ok(())
        };
        probs(&ex.face, "face")?;
        probs(&ex.voice, "voice")?;
        // The pair as it is, and with one modality dropped.
        let mut views: Vec<(bool, bool, f32)> = Vec::new();
        match (&ex.face, &ex.voice) {
            (Some(_), Some(_)) => {
                views.push((true, true, 1.0 - drop_sum));
                if cfg.voice_dropout > 0.0 {
                    views.push((true, false, cfg.voice_dropout));
                }
                if cfg.face_dropout > 0.0 {
                    views.push((false, true, cfg.face_dropout));
                }
            }
            (None, None) => continue,
            _ => views.push((ex.face.is_some(), ex.voice.is_some(), 1.0)),
        }
        for (use_f, use_v, w) in views {
            let f = ex.face.as_ref().filter(|_| use_f).map(|o| BranchProbs {
                gender: o.gender,
                emotions: face_emotions,
                emotion: &o.emotion,
            });
            let v = ex.voice.as_ref().filter(|_| use_v).map(|o| BranchProbs {
                gender: o.gender,
                emotions: voice_emotions,
                emotion: &o.emotion,
            });
            let x = head.features(f, v);
            if let Some(g) = ex.gender {
                gender.x.push(x.clone());
                gender.y.push(g as usize);
                gender.w.push(w);
            }
            // A pair whose face the gate closes on is the voice's to answer.
            let gated = f.is_some() && head.emotion_face(f).is_none();
            if let (Some(e), false) = (ex.emotion, gated) {
                let Some(k) = head.emotions.iter().position(|x| *x == e) else {
                    return Err(Error::InvalidConfig(format!(
                        "emotion {e} is not among the fused emotions"
                    )));
                };
                emotion.x.push(x);
                emotion.y.push(k);
                emotion.w.push(w);
            }
        }
    }
    fit(&gender, &mut head.gender_weights, &head.gender_bias, cfg);
    fit(&emotion, &mut head.emotion_weights, &head.emotion_bias, cfg);
    head.check()?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{FACE_EMOTIONS, RAVDESS_EMOTIONS};

    fn hot(set: &[Emotion], e: Emotion, p: f32) -> Vec<f32> {
        let rest = (1.0 - p) / (set.len() - 1) as f32;
        set.iter().map(|&x| if x == e { p } else { rest }).collect()
    }

    #[test]
    fn the_head_learns_to_ignore_an_uninformative_face() {
        // The face always says neutral with confidence; the voice is right 70 % of the time.
        let mut ex = Vec::new();
        let pool = [
            Emotion::Happy,
            Emotion::Sad,
            Emotion::Angry,
            Emotion::Neutral,
        ];
        for i in 0..400 {
            let truth = pool[i % 4];
            let heard = if i % 10 < 7 { truth } else { pool[(i + 1) % 4] };
            ex.push(FusionExample {
                face: Some(BranchOutputs {
                    gender: [0.5, 0.5],
                    emotion: hot(&FACE_EMOTIONS, Emotion::Neutral, 0.9),
                }),
                voice: Some(BranchOutputs {
                    gender: [0.5, 0.5],
                    emotion: hot(&RAVDESS_EMOTIONS, heard, 0.5),
                }),
                gender: None,
                emotion: Some(truth),
            });
        }
        let baseline = LinearFusionHead::product_of_experts(&FACE_EMOTIONS, &RAVDESS_EMOTIONS);
        // Without the expressionless gate the weights themselves must learn it.
        let ungated = FusionTrainingConfig {
            expressionless_gate: 0.0,
            ..Default::default()
        };
        let head = train_fusion_head(&ex, &FACE_EMOTIONS, &RAVDESS_EMOTIONS, &ungated).unwrap();
        let acc = |h: &LinearFusionHead| {
            ex.iter()
                .filter(|e| {
                    let f = e.face.as_ref().unwrap();
                    let v = e.voice.as_ref().unwrap();
                    let out = h
                        .fuse(
                            Some(BranchProbs {
                                gender: f.gender,
                                emotions: &FACE_EMOTIONS,
                                emotion: &f.emotion,
                            }),
                            Some(BranchProbs {
                                gender: v.gender,
                                emotions: &RAVDESS_EMOTIONS,
                                emotion: &v.emotion,
                            }),
                        )
                        .unwrap();
                    let k = (0..out.emotion.len()).fold(0, |b, i| {
                        if out.emotion[i] > out.emotion[b] {
                            i
                        } else {
                            b
                        }
                    });
                    out.emotions[k] == e.emotion.unwrap()
                })
                .count() as f64
                / ex.len() as f64
        };
        // The product is pulled to neutral by the face; the head follows the voice.
        assert!(acc(&baseline) < 0.5, "{}", acc(&baseline));
        assert!(acc(&head) >= 0.69, "{}", acc(&head));
        // With the gate (the default) these pairs are the voice's: the emotion weights stay
        // the product's, the answer is the voice's own, and the gender still learns.
        let gated =
            train_fusion_head(&ex, &FACE_EMOTIONS, &RAVDESS_EMOTIONS, &Default::default()).unwrap();
        assert_eq!(gated.expressionless_gate, 0.5);
        assert_eq!(gated.emotion_weights, baseline.emotion_weights);
        assert!((acc(&gated) - 0.7).abs() < 1e-9, "{}", acc(&gated));
        let bad_gate = FusionTrainingConfig {
            expressionless_gate: 1.5,
            ..Default::default()
        };
        assert!(train_fusion_head(&ex, &FACE_EMOTIONS, &RAVDESS_EMOTIONS, &bad_gate).is_err());
        // Bad settings are refused.
        let bad = FusionTrainingConfig {
            face_dropout: 0.7,
            voice_dropout: 0.5,
            ..Default::default()
        };
        assert!(train_fusion_head(&ex, &FACE_EMOTIONS, &RAVDESS_EMOTIONS, &bad).is_err());
    }
}
