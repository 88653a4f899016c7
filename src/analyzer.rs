//! One [`Analyzer`] for faces, voices or both: it runs each branch on the modality an input
//! has and fuses their answers.
//!
//! ```no_run
//! use facevox::{Analyzer, Mode};
//!
//! # fn main() -> facevox::Result<()> {
//! let analyzer = Analyzer::new()?;
//! let a = analyzer.analyze_file("examples/data/01-01-07-02-02-01-01.mp4", Mode::Auto)?;
//! if let Some(f) = &a.fused {
//!     println!("{} ({:.0}%), {}", f.gender.label, 100.0 * f.gender.confidence, f.emotion.label);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The fusion is the training-free [`ProductOfExperts`](crate::model::ProductOfExperts) over
//! the two branches' calibrated probabilities, as the fusion file
//! ([`FusionModelFile`], `fusion.json`) sets it: its temperatures, the temperature scaling of
//! the fused output and the abstention thresholds below which an answer is marked
//! `uncertain`. Many inputs at once: [`Analyzer::analyze_files`] runs them on all cores.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analyze::{
    EmotionPrediction, FaceAnalysis, FaceAnalyzer, GenderPrediction, VideoSampling, VoiceAnalysis,
    VoiceAnalyzer,
};
use rayon::prelude::*;

use crate::model::fusion::{Abstention, BranchProbs, FusionModelFile};
use crate::models::{default_source, embedded_fusion, DefaultSource};
use crate::vision::{media_kind, FaceSource};
use crate::{Error, Result};

/// Which answer to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Fused where both modalities answer, else the one that does.
    #[default]
    Auto,
    /// The face branch only (an input without a face is an error).
    Face,
    /// The voice branch only (an input without speech is an error).
    Voice,
    /// Both branches fused; a missing modality is answered by the other (and said so).
    Fused,
}

/// A modality an answer used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// The face branch.
    Face,
    /// The voice branch.
    Voice,
}

/// The fused answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FusedAnalysis {
    /// Perceived gender.
    pub gender: GenderPrediction,
    /// Emotion over the union of the branches' labels.
    pub emotion: EmotionPrediction,
    /// The modalities that answered.
    pub modalities: Vec<Modality>,
    /// The modalities the emotion rests on: the voice alone when the face showed no
    /// expression (the fusion head's expressionless gate) or was absent.
    #[serde(default)]
    pub emotion_modalities: Vec<Modality>,
    /// How they were combined (`product_of_experts` or `learned_head`).
    pub method: String,
}

/// Everything an [`Analyzer`] says about one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Analysis {
    /// The mode asked for.
    pub mode: Mode,
    /// The fused answer (in `Auto` and `Fused` modes, when any branch answered).
    pub fused: Option<FusedAnalysis>,
    /// The face branch's own answer.
    pub face: Option<FaceAnalysis>,
    /// The voice branch's own answer.
    pub voice: Option<VoiceAnalysis>,
    /// Why the face branch did not answer (no face found, not a picture or video, ...).
    pub face_skipped: Option<String>,
    /// Why the voice branch did not answer (no audio track, silence, ...).
    pub voice_skipped: Option<String>,
}

/// Both branches and their fusion, loaded once. `Send + Sync`: share one between threads.
#[derive(Debug)]
pub struct Analyzer {
    face: FaceAnalyzer,
    voice: VoiceAnalyzer,
    fusion: FusionModelFile,
}

impl Analyzer {
    /// The shipped models (see [`models`](crate::models): `FACEVOX_MODELS`, else compiled in).
    pub fn new() -> Result<Self> {
        let fusion = match default_source(embedded_fusion())? {
            DefaultSource::Dir(dir) => FusionModelFile::read_or_default(&dir)?,
            DefaultSource::Embedded(m) => FusionModelFile::from_json(crate::model::utf8(m.json)?)?,
        };
        Ok(Self::from_parts(FaceAnalyzer::new()?, VoiceAnalyzer::new()?).with_fusion(fusion))
    }

    /// `face.*`, `voice.*` and, when present, `fusion.json` from `dir` (without it, the
    /// default [`FusionModelFile`]: product of experts at temperature 1, never abstaining).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        Ok(
            Self::from_parts(FaceAnalyzer::from_dir(dir)?, VoiceAnalyzer::from_dir(dir)?)
                .with_fusion(FusionModelFile::read_or_default(dir)?),
        )
    }

    /// Two loaded branches, fused by the default [`FusionModelFile`].
    pub fn from_parts(face: FaceAnalyzer, voice: VoiceAnalyzer) -> Self {
        Self {
            face,
            voice,
            fusion: FusionModelFile::default(),
        }
    }

    /// The same branches with another fusion file.
    pub fn with_fusion(mut self, fusion: FusionModelFile) -> Self {
        self.fusion = fusion;
        self
    }

    /// The same analyzer with other abstention thresholds ([`Abstention::NEVER`]: always
    /// give a label).
    pub fn with_abstention(mut self, abstain: Abstention) -> Result<Self> {
        abstain.validate()?;
        self.fusion.abstain = abstain;
        Ok(self)
    }

    /// The same analyzer reading videos' faces with other [`VideoSampling`] settings (fewer
    /// frames per second: faster, less of the clip seen).
    pub fn with_video_sampling(mut self, video: VideoSampling) -> Result<Self> {
        self.face = self.face.with_video_sampling(video)?;
        Ok(self)
    }

    /// The same analyzer, scoring each face with or without its mirror image
    /// ([`FaceAnalyzer::with_mirror`]).
    pub fn with_mirror(mut self, mirror: bool) -> Self {
        self.face = self.face.with_mirror(mirror);
        self
    }

    /// The fusion file in use.
    pub fn fusion(&self) -> &FusionModelFile {
        &self.fusion
    }

    /// Analyses many files on all cores (rayon's pool), each as
    /// [`analyze_file`](Self::analyze_file) would; the results are in input order and one
    /// file's failure does not stop the others.
    pub fn analyze_files<P: AsRef<Path> + Sync>(
        &self,
        paths: &[P],
        mode: Mode,
    ) -> Vec<Result<Analysis>> {
        self.analyze_files_with_progress(paths, mode, &|_, _| {})
    }

    /// [`analyze_files`](Self::analyze_files), calling `progress(done, total)` as each file
    /// finishes (from the worker threads, in no fixed order).
    pub fn analyze_files_with_progress<P: AsRef<Path> + Sync>(
        &self,
        paths: &[P],
        mode: Mode,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Vec<Result<Analysis>> {
        let done = std::sync::atomic::AtomicUsize::new(0);
        paths
            .par_iter()
            .map(|p| {
                let r = self.analyze_file(p, mode);
                let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(k, paths.len());
                r
            })
            .collect()
    }

    /// The face branch.
    pub fn face(&self) -> &FaceAnalyzer {
        &self.face
    }

    /// The voice branch.
    pub fn voice(&self) -> &VoiceAnalyzer {
        &self.voice
    }

    /// Analyses one file: a video (faces from its frames, voice from its audio track), a
    /// picture (face) or an audio file (voice).
    pub fn analyze_file(&self, path: impl AsRef<Path>, mode: Mode) -> Result<Analysis> {
        let path = path.as_ref();
        let kind = media_kind(path);
        self.analyze_inputs(
            kind.has_face().then_some(path),
            kind.has_voice().then_some(path),
            mode,
        )
    }

    /// Analyses a face input (picture or video) and a voice input (audio, or a video's audio
    /// track) of the same person, for example a video and its separately recorded audio.
    pub fn analyze_pair(
        &self,
        face: impl AsRef<Path>,
        voice: impl AsRef<Path>,
        mode: Mode,
    ) -> Result<Analysis> {
        self.analyze_inputs(Some(face.as_ref()), Some(voice.as_ref()), mode)
    }

    fn analyze_inputs(
        &self,
        face_in: Option<&Path>,
        voice_in: Option<&Path>,
        mode: Mode,
    ) -> Result<Analysis> {
        let want_face = mode != Mode::Voice;
        let want_voice = mode != Mode::Face;
        // The branches run side by side (the voice is done long before the face on a clip).
        let (face, voice) = rayon::join(
            || {
                face_in
                    .filter(|_| want_face)
                    .map(|p| self.face.analyze_file_among(p, FaceSource::Detect, None))
            },
            || {
                voice_in
                    .filter(|_| want_voice)
                    .map(|p| self.voice.analyze_file(p))
            },
        );
        let (face, face_err) = split(face);
        let (voice, voice_err) = split(voice);
        // A single-branch mode needs its branch; the others need at least one.
        match mode {
            Mode::Face if face.is_none() => {
                return Err(face_err.unwrap_or_else(|| not_for("a face", face_in)))
            }
            Mode::Voice if voice.is_none() => {
                return Err(voice_err.unwrap_or_else(|| not_for("a voice", voice_in)))
            }
            _ if face.is_none() && voice.is_none() => {
                return Err(face_err
                    .or(voice_err)
                    .unwrap_or_else(|| not_for("a face or a voice", face_in.or(voice_in))))
            }
            _ => {}
        }
        let mut fused = match mode {
            Mode::Auto | Mode::Fused => self.fuse(face.as_ref(), voice.as_ref())?,
            Mode::Face | Mode::Voice => None,
        };
        let mut face = face;
        let mut voice = voice;
        let a = self.fusion.abstain;
        let answers = [
            fused.as_mut().map(|f| (&mut f.gender, &mut f.emotion)),
            face.as_mut().map(|f| (&mut f.gender, &mut f.emotion)),
            voice.as_mut().map(|v| (&mut v.gender, &mut v.emotion)),
        ];
        for (g, e) in answers.into_iter().flatten() {
            g.abstain_below(a.gender);
            e.abstain_below(a.emotion);
        }
        let skipped = |wanted: bool, input: Option<&Path>, err: Option<Error>, what: &str| match (
            wanted, input, err,
        ) {
            (_, _, Some(e)) => Some(e.to_string()),
            (true, None, None) => Some(format!("the input has no {what}")),
            _ => None,
        };
        Ok(Analysis {
            mode,
            fused,
            face_skipped: skipped(
                want_face && face.is_none(),
                face_in,
                face_err,
                "picture or video",
            ),
            voice_skipped: skipped(want_voice && voice.is_none(), voice_in, voice_err, "audio"),
            face,
            voice,
        })
    }

    fn fuse(
        &self,
        face: Option<&FaceAnalysis>,
        voice: Option<&VoiceAnalysis>,
    ) -> Result<Option<FusedAnalysis>> {
        let f_probs: Option<Vec<f32>> =
            face.map(|f| f.emotion.probabilities.iter().map(|p| p.1).collect());
        let v_probs: Option<Vec<f32>> =
            voice.map(|v| v.emotion.probabilities.iter().map(|p| p.1).collect());
        let gender = |g: &GenderPrediction| [1.0 - g.p_female, g.p_female];
        let fused = self.fusion.fuse(
            face.zip(f_probs.as_deref()).map(|(f, e)| BranchProbs {
                gender: gender(&f.gender),
                emotions: self.face.emotions(),
                emotion: e,
            }),
            voice.zip(v_probs.as_deref()).map(|(v, e)| BranchProbs {
                gender: gender(&v.gender),
                emotions: self.voice.emotions(),
                emotion: e,
            }),
        );
        let Some(fused) = fused else {
            return Ok(None);
        };
        let modalities: Vec<Modality> =
            [face.map(|_| Modality::Face), voice.map(|_| Modality::Voice)]
                .into_iter()
                .flatten()
                .collect();
        let emotion_modalities = modalities
            .iter()
            .copied()
            .filter(|m| *m != Modality::Face || fused.emotion_uses_face)
            .collect();
        Ok(Some(FusedAnalysis {
            gender: GenderPrediction::from_probs(fused.gender),
            emotion: EmotionPrediction::from_distribution(
                fused.emotions.into_iter().zip(fused.emotion).collect(),
                None,
            )?,
            modalities,
            emotion_modalities,
            method: self
                .fusion
                .method(self.face.emotions(), self.voice.emotions())
                .into(),
        }))
    }
}

fn split<T>(r: Option<Result<T>>) -> (Option<T>, Option<Error>) {
    match r {
        Some(Ok(v)) => (Some(v), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    }
}

fn not_for(what: &str, input: Option<&Path>) -> Error {
    Error::InvalidConfig(match input {
        Some(p) => format!("{} has no {what} to analyse", p.display()),
        None => format!("no input with {what} was given"),
    })
}

/// The analyzer can be shared between threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Analyzer>();
};
