//! Scoring a model on a labelled manifest: every row run through an analyzer, failures kept
//! with their reasons (never fatal), metrics over the rows that carry each label.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::report::{ClassMetrics, ClassificationReport};
use crate::analyze::{EmotionPrediction, FaceAnalyzer, GenderPrediction, VoiceAnalyzer};
use crate::analyzer::{Analysis, Analyzer, Mode};
use crate::audio::decode_file;
use crate::data::Sample;
use crate::labels::{Emotion, Gender};
use crate::model::Abstention;
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
    /// Both columns fused (a row with one column is answered by that modality); the report
    /// also scores each branch on its own over the same rows, under `branches`.
    Fused(&'a Analyzer),
}

impl ManifestBranch<'_> {
    fn name(&self) -> &'static str {
        match self {
            ManifestBranch::Voice(_) => "voice",
            ManifestBranch::Face(..) => "face",
            ManifestBranch::Fused(_) => "fused",
        }
    }

    fn emotions(&self) -> Vec<Emotion> {
        match self {
            ManifestBranch::Voice(a) => a.emotions().to_vec(),
            ManifestBranch::Face(a, _) => a.emotions().to_vec(),
            // The fused label set: the voice's, then the face's others.
            ManifestBranch::Fused(a) => {
                let mut e = a.voice().emotions().to_vec();
                for x in a.face().emotions() {
                    if !e.contains(x) {
                        e.push(*x);
                    }
                }
                e
            }
        }
    }

    fn provenance(&self) -> serde_json::Value {
        match self {
            ManifestBranch::Voice(a) => serde_json::json!({"voice": a.model().provenance}),
            ManifestBranch::Face(a, _) => serde_json::json!({"face": a.model().provenance}),
            ManifestBranch::Fused(a) => serde_json::json!({
                "face": a.face().model().provenance,
                "voice": a.voice().model().provenance,
                "fusion": a.fusion(),
            }),
        }
    }

    /// The row's input for this branch, as text for failure reports (`None`: the row has none).
    fn input(&self, row: &Sample) -> Option<String> {
        let show = |p: &PathBuf| p.display().to_string();
        match self {
            ManifestBranch::Voice(_) => row.voice.as_ref().map(show),
            ManifestBranch::Face(..) => row.face.as_ref().map(show),
            ManifestBranch::Fused(_) => match (&row.face, &row.voice) {
                (Some(f), Some(v)) => Some(format!("{} + {}", show(f), show(v))),
                (Some(p), None) | (None, Some(p)) => Some(show(p)),
                (None, None) => None,
            },
        }
    }

    /// The answer to score, and for the fused branch each branch's own (face, voice).
    fn predict(&self, row: &Sample, allowed: &[Emotion]) -> Result<Scored> {
        match self {
            ManifestBranch::Voice(a) => {
                let path = row.voice.as_ref().expect("checked by input()");
                let clip = decode_file(path, &Default::default())?;
                let r = a.analyze_clip_among(&clip, Some(allowed))?;
                Ok(Scored::one(r.gender, r.emotion))
            }
            ManifestBranch::Face(a, source) => {
                let path = row.face.as_ref().expect("checked by input()");
                let r = a.analyze_file_among(path, *source, Some(allowed))?;
                Ok(Scored::one(r.gender, r.emotion))
            }
            ManifestBranch::Fused(a) => {
                let r: Analysis = match (&row.face, &row.voice) {
                    (Some(f), Some(v)) => a.analyze_pair(f, v, Mode::Fused)?,
                    (Some(p), None) | (None, Some(p)) => a.analyze_file(p, Mode::Fused)?,
                    (None, None) => unreachable!("checked by input()"),
                };
                let fused = r.fused.expect("the fused mode answers or errs");
                Ok(Scored {
                    gender: fused.gender,
                    emotion: fused.emotion,
                    face: r.face.map(|f| (f.gender, f.emotion)),
                    voice: r.voice.map(|v| (v.gender, v.emotion)),
                })
            }
        }
    }
}

/// One row's answers.
struct Scored {
    gender: GenderPrediction,
    emotion: EmotionPrediction,
    face: Option<(GenderPrediction, EmotionPrediction)>,
    voice: Option<(GenderPrediction, EmotionPrediction)>,
}

impl Scored {
    fn one(gender: GenderPrediction, emotion: EmotionPrediction) -> Self {
        Self {
            gender,
            emotion,
            face: None,
            voice: None,
        }
    }
}

/// Truth and prediction pairs of one stream of answers, over `allowed` emotions.
struct Tally {
    allowed: Vec<Emotion>,
    abstain: Abstention,
    /// Each row's stated confidence.
    g_conf: Vec<f32>,
    e_conf: Vec<f32>,
    gt: Vec<usize>,
    gp: Vec<usize>,
    et: Vec<usize>,
    ep: Vec<usize>,
    skipped: BTreeMap<String, usize>,
}

impl Tally {
    fn new(allowed: Vec<Emotion>, abstain: Abstention) -> Self {
        Self {
            allowed,
            abstain,
            g_conf: Vec::new(),
            e_conf: Vec::new(),
            gt: Vec::new(),
            gp: Vec::new(),
            et: Vec::new(),
            ep: Vec::new(),
            skipped: BTreeMap::new(),
        }
    }

    /// Adds one row; the emotion argmax is taken again among this tally's allowed emotions.
    fn add(&mut self, row: &Sample, gender: &GenderPrediction, emotion: &EmotionPrediction) {
        if let Some(g) = row.gender {
            self.gt.push(g as usize);
            self.gp.push(gender.label as usize);
            self.g_conf.push(gender.confidence);
        }
        let Some(e) = row.emotion else { return };
        let Some(k) = self.allowed.iter().position(|&a| a == e) else {
            *self.skipped.entry(e.to_string()).or_default() += 1;
            return;
        };
        let best = self
            .allowed
            .iter()
            .enumerate()
            .max_by(|a, b| {
                emotion
                    .probability(*a.1)
                    .total_cmp(&emotion.probability(*b.1))
            })
            .map(|(i, _)| i)
            .expect("allowed is not empty");
        self.et.push(k);
        self.ep.push(best);
        // The confidence of the answer among the allowed emotions, renormalised over them.
        let total: f32 = self.allowed.iter().map(|&a| emotion.probability(a)).sum();
        let p = emotion.probability(self.allowed[best]) / total.max(f32::MIN_POSITIVE);
        self.e_conf.push(p);
    }

    fn finish(self) -> Result<BranchScores> {
        let right = |t: &[usize], p: &[usize]| -> Vec<bool> {
            t.iter().zip(p).map(|(a, b)| a == b).collect()
        };
        let g_abstain = AbstentionScores::new(
            self.abstain.gender,
            &right(&self.gt, &self.gp),
            &self.g_conf,
        );
        let e_abstain = AbstentionScores::new(
            self.abstain.emotion,
            &right(&self.et, &self.ep),
            &self.e_conf,
        );
        let names: Vec<String> = self.allowed.iter().map(|e| e.to_string()).collect();
        let gender_report = (!self.gt.is_empty())
            .then(|| {
                ClassificationReport::new(
                    &self.gt,
                    &self.gp,
                    &[Gender::Male.to_string(), Gender::Female.to_string()],
                )
            })
            .transpose()?;
        let emotion_report = (!self.et.is_empty())
            .then(|| ClassificationReport::new(&self.et, &self.ep, &names))
            .transpose()?;
        Ok(BranchScores {
            gender: GenderSection {
                n: self.gt.len(),
                accuracy: gender_report.as_ref().map(|r| r.accuracy),
                balanced_accuracy: gender_report
                    .as_ref()
                    .map(|r| r.balanced_accuracy.unwrap_or(r.uar)),
                confusion: gender_report
                    .as_ref()
                    .map_or_else(|| vec![vec![0; 2]; 2], |r| r.confusion.clone()),
                abstention: g_abstain,
            },
            emotion: EmotionSection {
                n: self.et.len(),
                accuracy: emotion_report.as_ref().map(|r| r.accuracy),
                uar: emotion_report.as_ref().map(|r| r.uar),
                macro_f1: emotion_report.as_ref().map(|r| r.macro_f1),
                confusion: emotion_report.as_ref().map_or_else(
                    || vec![vec![0; names.len()]; names.len()],
                    |r| r.confusion.clone(),
                ),
                per_class: emotion_report.as_ref().map(|r| r.per_class.clone()),
                labels: names,
                skipped: self.skipped,
                abstention: e_abstain,
            },
        })
    }
}

/// One stream's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchScores {
    /// Perceived gender.
    pub gender: GenderSection,
    /// Emotion.
    pub emotion: EmotionSection,
}

/// One group's metrics (see [`ManifestReport::groups`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScores {
    /// Rows in the group.
    pub n: usize,
    /// Rows of the group that failed.
    pub errors: usize,
    /// Perceived gender and emotion over the group's scored rows.
    #[serde(flatten)]
    pub scores: BranchScores,
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
    /// Abstention: rows below the threshold, and the accuracy on the others.
    pub abstention: AbstentionScores,
}

/// What abstaining below a confidence threshold costs and gives (coverage against accuracy),
/// and how well the stated confidences match the accuracy (ECE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbstentionScores {
    /// The confidence threshold (0: never abstain).
    pub threshold: f32,
    /// Rows answered "uncertain".
    pub abstained: usize,
    /// Share of the scored rows that got a label.
    pub coverage: Option<f64>,
    /// Accuracy over the rows that got a label.
    pub answered_accuracy: Option<f64>,
    /// Expected calibration error of the stated confidences over all scored rows (15 bins).
    pub ece: Option<f64>,
}

impl AbstentionScores {
    fn new(threshold: f32, right: &[bool], confidence: &[f32]) -> Self {
        let confident: Vec<bool> = confidence.iter().map(|&c| c >= threshold).collect();
        let answered = confident.iter().filter(|&&c| c).count();
        let hits = right
            .iter()
            .zip(&confident)
            .filter(|(&r, &c)| r && c)
            .count();
        Self {
            threshold,
            abstained: confident.len() - answered,
            coverage: (!confident.is_empty()).then(|| answered as f64 / confident.len() as f64),
            answered_accuracy: (answered > 0).then(|| hits as f64 / answered as f64),
            ece: super::calibration::ece_of(confidence, right, super::calibration::ECE_BINS),
        }
    }
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
    /// Abstention: rows below the threshold, and the accuracy on the others.
    pub abstention: AbstentionScores,
}

/// One scored row's answers, as [`score_manifest`] gives them in
/// [`ManifestReport::predictions`] (`evaluate --predictions` writes one per line), so models can
/// be compared or combined row by row offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RowPrediction {
    /// The row's number in the manifest, from 1 (as in `failures`).
    pub row: usize,
    /// The row's input, as in `failures`.
    pub input: String,
    /// The row's group cell (trimmed), if any: the group whose figures it counts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The row's perceived-gender label, if any.
    pub label_gender: Option<Gender>,
    /// The row's emotion label, if any.
    pub label_emotion: Option<Emotion>,
    /// The answer scored (for the fused branch, the fused answer).
    pub gender: GenderPrediction,
    /// The emotion answer scored, among the allowed emotions.
    pub emotion: EmotionPrediction,
    /// With the fused branch: the face branch's own answer, where it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<(GenderPrediction, EmotionPrediction)>,
    /// With the fused branch: the voice branch's own answer, where it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<(GenderPrediction, EmotionPrediction)>,
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
    /// With the fused branch: each branch on its own over the rows it answered (`face`,
    /// `voice`), the emotion argmax among the allowed emotions that branch knows.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub branches: BTreeMap<String, BranchScores>,
    /// With a `group` column: the same metrics over each group's rows (race, age band, speaker,
    /// ...), keyed by the group's name, so a model can be audited on any population. Rows with
    /// an empty group cell are in no group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, GroupScores>,
    /// The model's provenance.
    pub model: serde_json::Value,
    /// Every scored row's answers, in manifest order (failed rows are in `failures` instead).
    /// Not part of the JSON report: `evaluate --predictions` writes them as JSON lines.
    #[serde(skip)]
    pub predictions: Vec<RowPrediction>,
}

/// Runs `branch` on every row of a manifest (see [`load_manifest`](crate::data::load_manifest))
/// and scores it against the row's labels. `allowed` restricts the emotion argmax (for corpora
/// with fewer classes; all the model's emotions when `None`); rows labelled outside it are
/// counted in `emotion.skipped`. A row whose input fails is listed in `failures` and never
/// stops the run. Each section also reports what abstaining below `abstain`'s thresholds
/// would do (coverage and the accuracy on the rows answered); the labels are scored in full.
pub fn score_manifest(
    branch: ManifestBranch,
    rows: &[Sample],
    allowed: Option<&[Emotion]>,
    abstain: Abstention,
) -> Result<ManifestReport> {
    abstain.validate()?;
    let model_emotions = branch.emotions();
    let allowed: Vec<Emotion> = allowed.map_or_else(|| model_emotions.clone(), <[_]>::to_vec);
    if let Some(e) = allowed.iter().find(|e| !model_emotions.contains(e)) {
        return Err(Error::InvalidConfig(format!(
            "the model has no output for {e}"
        )));
    }
    if allowed.is_empty() {
        return Err(Error::InvalidConfig("no emotion to choose from".into()));
    }
    let mut failures = Vec::new();
    let mut predictions = Vec::new();
    let mut tally = Tally::new(allowed.clone(), abstain);
    // Per group: its tally, its rows and its failures.
    let mut group_tallies: BTreeMap<String, (Tally, usize, usize)> = BTreeMap::new();
    // The fused branch also scores each branch alone, among the allowed emotions it knows.
    let mut own: Option<(Tally, Tally)> = match branch {
        ManifestBranch::Fused(a) => {
            let among = |known: &[Emotion]| -> Vec<Emotion> {
                allowed
                    .iter()
                    .copied()
                    .filter(|e| known.contains(e))
                    .collect()
            };
            Some((
                Tally::new(among(a.face().emotions()), abstain),
                Tally::new(among(a.voice().emotions()), abstain),
            ))
        }
        _ => None,
    };
    for (i, row) in rows.iter().enumerate() {
        // The row's group as the per-group figures and its prediction read it: trimmed, an
        // empty cell no group.
        let group_name = row
            .group
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty());
        let mut group = group_name.map(|g| {
            let entry = group_tallies
                .entry(g.to_string())
                .or_insert_with(|| (Tally::new(allowed.clone(), abstain), 0, 0));
            entry.1 += 1;
            entry
        });
        let Some(input) = branch.input(row) else {
            if let Some(g) = group.as_mut() {
                g.2 += 1;
            }
            failures.push(RowFailure {
                row: i + 1,
                input: None,
                reason: format!("no {} input in this row", branch.name()),
            });
            continue;
        };
        let scored = match branch.predict(row, &allowed) {
            Ok(a) => a,
            Err(e) => {
                if let Some(g) = group.as_mut() {
                    g.2 += 1;
                }
                failures.push(RowFailure {
                    row: i + 1,
                    input: Some(input),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        tally.add(row, &scored.gender, &scored.emotion);
        if let Some(g) = group {
            g.0.add(row, &scored.gender, &scored.emotion);
        }
        if let Some((face, voice)) = &mut own {
            if let Some((g, e)) = &scored.face {
                if !face.allowed.is_empty() {
                    face.add(row, g, e);
                }
            }
            if let Some((g, e)) = &scored.voice {
                if !voice.allowed.is_empty() {
                    voice.add(row, g, e);
                }
            }
        }
        predictions.push(RowPrediction {
            row: i + 1,
            input,
            group: group_name.map(String::from),
            label_gender: row.gender,
            label_emotion: row.emotion,
            gender: scored.gender,
            emotion: scored.emotion,
            face: scored.face,
            voice: scored.voice,
        });
    }
    let BranchScores { gender, emotion } = tally.finish()?;
    let mut branches = BTreeMap::new();
    if let Some((face, voice)) = own {
        branches.insert("face".to_string(), face.finish()?);
        branches.insert("voice".to_string(), voice.finish()?);
    }
    let groups = group_tallies
        .into_iter()
        .map(|(name, (t, n, errors))| {
            Ok((
                name,
                GroupScores {
                    n,
                    errors,
                    scores: t.finish()?,
                },
            ))
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    Ok(ManifestReport {
        mode: branch.name().into(),
        n: rows.len(),
        errors: failures.len(),
        failures,
        gender,
        emotion,
        branches,
        groups,
        model: branch.provenance(),
        predictions,
    })
}
