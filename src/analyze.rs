//! The typed analysis API: load shipped (or your own) models once, then ask about recordings.
//!
//! ```no_run
//! use facevox::analyze::VoiceAnalyzer;
//!
//! # fn main() -> facevox::Result<()> {
//! let analyzer = VoiceAnalyzer::load_default()?;
//! let result = analyzer.analyze_file("examples/data/01-01-07-02-02-01-01.mp4")?;
//! println!("{} ({:.0}%)", result.gender.label, 100.0 * result.gender.confidence);
//! println!("{} ({:.0}%)", result.emotion.label, 100.0 * result.emotion.confidence);
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audio::{decode_file, AudioClip, DecodeOptions, MelExtractor};
use crate::labels::{Emotion, Gender};
use crate::model::{default_device, VoiceModelFile, VoiceNet};
use crate::train::predict_voice;
use crate::{Error, Result};

/// The folder of models shipped with the crate.
pub fn default_models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// A perceived-gender prediction: the more likely label and its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenderPrediction {
    /// The more likely perceived gender.
    pub label: Gender,
    /// Its probability.
    pub confidence: f32,
    /// `P(female)`; `P(male)` is `1 − p_female`.
    pub p_female: f32,
}

impl GenderPrediction {
    fn from_probs(p: [f32; 2]) -> Self {
        let female = p[1] > p[0];
        Self {
            label: if female { Gender::Female } else { Gender::Male },
            confidence: p[0].max(p[1]),
            p_female: p[1],
        }
    }
}

/// An emotion prediction: the most likely emotion and the whole distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionPrediction {
    /// The most likely emotion (among the allowed ones, when restricted).
    pub label: Emotion,
    /// Its probability.
    pub confidence: f32,
    /// Every emotion the model knows, with its probability, in the model's order.
    pub probabilities: Vec<(Emotion, f32)>,
}

impl EmotionPrediction {
    /// The prediction from `probabilities`, taking the argmax among `allowed` only (all when
    /// `None`); probabilities stay as the model gave them.
    pub fn from_distribution(
        probabilities: Vec<(Emotion, f32)>,
        allowed: Option<&[Emotion]>,
    ) -> Result<Self> {
        let best = probabilities
            .iter()
            .filter(|(e, _)| allowed.is_none_or(|a| a.contains(e)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .copied()
            .ok_or_else(|| {
                Error::InvalidConfig("none of the allowed emotions is known to the model".into())
            })?;
        Ok(Self {
            label: best.0,
            confidence: best.1,
            probabilities,
        })
    }

    /// The probability of `emotion` (0 when the model does not know it).
    pub fn probability(&self, emotion: Emotion) -> f32 {
        self.probabilities
            .iter()
            .find(|(e, _)| *e == emotion)
            .map_or(0.0, |p| p.1)
    }
}

/// What the voice branch says about one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceAnalysis {
    /// Perceived gender.
    pub gender: GenderPrediction,
    /// Emotion.
    pub emotion: EmotionPrediction,
    /// Seconds of speech analysed (after silence trimming).
    pub speech_seconds: f32,
    /// The voice embedding (input to the fusion head).
    pub embedding: Vec<f32>,
}

/// The voice branch, ready to run: model, features and decoder settings.
#[derive(Debug)]
pub struct VoiceAnalyzer {
    file: VoiceModelFile,
    net: VoiceNet,
    extractor: MelExtractor,
    decode: DecodeOptions,
}

impl VoiceAnalyzer {
    /// Loads `<dir>/voice.json` and `<dir>/voice.safetensors`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let (file, net) = VoiceModelFile::load(&dir.as_ref().join("voice"), &default_device())?;
        let extractor = MelExtractor::new(file.mel.clone())?;
        Ok(Self {
            file,
            net,
            extractor,
            decode: DecodeOptions::default(),
        })
    }

    /// Loads the model shipped in the crate's `models/`.
    pub fn load_default() -> Result<Self> {
        Self::load(default_models_dir())
    }

    /// The model's description (architecture, features, emotions, provenance).
    pub fn model(&self) -> &VoiceModelFile {
        &self.file
    }

    /// The emotions the model can output, in head order.
    pub fn emotions(&self) -> &[Emotion] {
        &self.file.emotions
    }

    /// Analyses an audio file, or the audio track of a video file.
    pub fn analyze_file(&self, path: impl AsRef<Path>) -> Result<VoiceAnalysis> {
        let clip = decode_file(path, &self.decode)?;
        self.analyze_clip(&clip)
    }

    /// Analyses decoded audio at any sample rate.
    pub fn analyze_clip(&self, clip: &AudioClip) -> Result<VoiceAnalysis> {
        self.analyze_clip_among(clip, None)
    }

    /// As [`analyze_clip`](Self::analyze_clip), with the emotion argmax restricted to
    /// `allowed` (for data whose label set is smaller than the model's).
    pub fn analyze_clip_among(
        &self,
        clip: &AudioClip,
        allowed: Option<&[Emotion]>,
    ) -> Result<VoiceAnalysis> {
        let clip = clip.resampled(self.file.mel.sample_rate)?;
        let mel = self.extractor.compute(&clip)?;
        let pred = predict_voice(&self.net, &[&mel])?.remove(0);
        let probabilities = self
            .file
            .emotions
            .iter()
            .copied()
            .zip(pred.emotion.iter().copied())
            .collect();
        Ok(VoiceAnalysis {
            gender: GenderPrediction::from_probs(pred.gender),
            emotion: EmotionPrediction::from_distribution(probabilities, allowed)?,
            speech_seconds: mel.n_frames as f32 * self.file.mel.hop_length as f32
                / self.file.mel.sample_rate as f32,
            embedding: pred.embedding,
        })
    }
}
