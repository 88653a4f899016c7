//! Scoring a model on a labelled manifest: every row run through an analyzer, failures kept
//! with their reasons (never fatal), metrics over the rows that carry each label.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::report::{ClassMetrics, ClassificationReport};
use crate::analyze::{EmotionPrediction, FaceAnalyzer, GenderPrediction, VoiceAnalyzer};
use crate::audio::decode_file;
use crate::data::Sample;
use crate::labels::{Emotion, Gender};
use crate::vision::FaceSource;
use crate::{Error, Result};

/// Which branch scores a manifest, and which column it reads.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ManifestBranch<'a> {
    /// The voice branch on the `voice` column (audio, or a video's audio track).
    Voice(&'a VoiceAnalyzer),
    /// The face branch on the `face` column (pictures, found or taken as crops per the
    /// [`FaceSource`], or videos).
    Face(&'a FaceAnalyzer, FaceSource),
}

impl ManifestBranch<'_> {
    fn name(&self) -> &'static str {
        match self {
            ManifestBranch::Voice(_) => "voice",
            ManifestBranch::Face(..) => "face",
        }
    }

    fn emotions(&self) -> &[Emotion] {
        match self {
            ManifestBranch::Voice(a) => a.emotions(),
            ManifestBranch::Face(a, _) => a.emotions(),
        }
    }

    fn provenance(&self) -> serde_json::Value {
        match self {
            ManifestBranch::Voice(a) => serde_json::json!({"voice": a.model().provenance}),
            ManifestBranch::Face(a, _) => serde_json::json!({"face": a.model().provenance}),
        }
    }

    fn input<'r>(&self, row: &'r Sample) -> Option<&'r PathBuf> {
        match self {
            ManifestBranch::Voice(_) => row.voice.as_ref(),
            ManifestBranch::Face(..) => row.face.as_ref(),
        }
    }

    fn predict(
        &self,
        path: &PathBuf,
        allowed: &[Emotion],
    ) -> Result<(GenderPrediction, EmotionPrediction)> {
        match self {
            ManifestBranch::Voice(a) => {
                let clip = decode_file(path, &Default::default())?;
                let r = a.analyze_clip_among(&clip, Some(allowed))?;
                Ok((r.gender, r.emotion))
            }
            ManifestBranch::Face(a, source) => {
                let r = a.analyze_file_among(path, *source, Some(allowed))?;
                Ok((r.gender, r.emotion))
            }
        }
    }
}

/// A row that could not be scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowFailure {
    /// 1-based row number in the manifest (header excluded).
    pub row: usize,
    /// The input that failed (none when the row has no input for the branch).
    pub input: Option<String>,
    /// Why, as the typed error says it.
    pub reason: String,
}

/// Perceived-gender metrics over the rows with a gender label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenderSection {
    /// Rows scored.
    pub n: usize,
    /// Accuracy.
    pub accuracy: Option<f64>,
    /// Mean of the per-class recalls.
    pub balanced_accuracy: Option<f64>,
    /// Rows truth (male, female), columns prediction.
    pub confusion: Vec<Vec<usize>>,
}

/// Emotion metrics over the rows whose label is among the allowed emotions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionSection {
    /// Rows scored.
    pub n: usize,
    /// Accuracy.
    pub accuracy: Option<f64>,
    /// Unweighted average recall.
    pub uar: Option<f64>,
    /// Macro-averaged F1.
    pub macro_f1: Option<f64>,
    /// The emotions scored, in confusion-matrix order.
    pub labels: Vec<String>,
    /// Rows truth, columns prediction.
    pub confusion: Vec<Vec<usize>>,
    /// Precision, recall and F1 of each label.
    pub per_class: Option<Vec<ClassMetrics>>,
    /// Rows labelled with an emotion outside the allowed set, by label (not scored).
    pub skipped: BTreeMap<String, usize>,
}

/// What [`score_manifest`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestReport {
    /// `voice` or `face`.
    pub mode: String,
    /// Rows in the manifest.
    pub n: usize,
    /// Rows that failed.
    pub errors: usize,
    /// Each failed row and why.
    pub failures: Vec<RowFailure>,
    /// Perceived gender.
    pub gender: GenderSection,
    /// Emotion.
    pub emotion: EmotionSection,
    /// The model's provenance.
    pub model: serde_json::Value,
}

/// Runs `branch` on every row of a manifest (see [`load_manifest`](crate::data::load_manifest))
/// and scores it against the row's labels. `allowed` restricts the emotion argmax (for corpora
/// with fewer classes; all the model's emotions when `None`); rows labelled outside it are
/// counted in `emotion.skipped`. A row whose input fails is listed in `failures` and never
/// stops the run.
pub fn score_manifest(
    branch: ManifestBranch,
    rows: &[Sample],
    allowed: Option<&[Emotion]>,
) -> Result<ManifestReport> {
    let model_emotions = branch.emotions();
    let allowed: Vec<Emotion> = allowed.map_or_else(|| model_emotions.to_vec(), <[_]>::to_vec);
    if let Some(e) = allowed.iter().find(|e| !model_emotions.contains(e)) {
        return Err(Error::InvalidConfig(format!(
            "the model has no output for {e}"
        )));
    }
    let label_names: Vec<String> = allowed.iter().map(|e| e.to_string()).collect();
    let mut failures = Vec::new();
    let (mut gt, mut gp) = (Vec::new(), Vec::new());
    let (mut et, mut ep) = (Vec::new(), Vec::new());
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let Some(input) = branch.input(row) else {
            failures.push(RowFailure {
                row: i + 1,
                input: None,
                reason: format!("no {} input in this row", branch.name()),
            });
            continue;
        };
        let (gender, emotion) = match branch.predict(input, &allowed) {
            Ok(a) => a,
            Err(e) => {
                failures.push(RowFailure {
                    row: i + 1,
                    input: Some(input.display().to_string()),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if let Some(g) = row.gender {
            gt.push(g as usize);
            gp.push(gender.label as usize);
        }
        if let Some(e) = row.emotion {
            match allowed.iter().position(|&a| a == e) {
                Some(k) => {
                    et.push(k);
                    ep.push(
                        allowed
                            .iter()
                            .position(|&a| a == emotion.label)
                            .expect("argmax is restricted to the allowed labels"),
                    );
                }
                None => *skipped.entry(e.to_string()).or_default() += 1,
            }
        }
    }
    let gender_report = (!gt.is_empty())
        .then(|| {
            ClassificationReport::new(
                &gt,
                &gp,
                &[Gender::Male.to_string(), Gender::Female.to_string()],
            )
        })
        .transpose()?;
    let emotion_report = (!et.is_empty())
        .then(|| ClassificationReport::new(&et, &ep, &label_names))
        .transpose()?;
    Ok(ManifestReport {
        mode: branch.name().into(),
        n: rows.len(),
        errors: failures.len(),
        failures,
        gender: GenderSection {
            n: gt.len(),
            accuracy: gender_report.as_ref().map(|r| r.accuracy),
            balanced_accuracy: gender_report
                .as_ref()
                .map(|r| r.balanced_accuracy.unwrap_or(r.uar)),
            confusion: gender_report
                .as_ref()
                .map_or_else(|| vec![vec![0; 2]; 2], |r| r.confusion.clone()),
        },
        emotion: EmotionSection {
            n: et.len(),
            accuracy: emotion_report.as_ref().map(|r| r.accuracy),
            uar: emotion_report.as_ref().map(|r| r.uar),
            macro_f1: emotion_report.as_ref().map(|r| r.macro_f1),
            confusion: emotion_report.as_ref().map_or_else(
                || vec![vec![0; label_names.len()]; label_names.len()],
                |r| r.confusion.clone(),
            ),
            per_class: emotion_report.as_ref().map(|r| r.per_class.clone()),
            labels: label_names,
            skipped,
        },
        model: branch.provenance(),
    })
}
