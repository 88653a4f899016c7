//! The typed analysis API: load the shipped (or your own) models once, then ask about
//! recordings. Every analyzer is `Send + Sync`: share one between threads.
//!
//! ```no_run
//! use facevox::VoiceAnalyzer;
//!
//! # fn main() -> facevox::Result<()> {
//! let analyzer = VoiceAnalyzer::new()?;
//! let result = analyzer.analyze_file("examples/data/01-01-07-02-02-01-01.mp4")?;
//! println!("{} ({:.0}%)", result.gender.label, 100.0 * result.gender.confidence);
//! println!("{} ({:.0}%)", result.emotion.label, 100.0 * result.emotion.confidence);
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::audio::{decode_file, AudioClip, DecodeOptions, MelExtractor};
use crate::labels::{Emotion, Gender};
use crate::model::{
    FaceModelFile, FacePredictor, Prediction, SpeakerEncoder, VoiceModelFile, VoicePredictor,
};
use crate::models::{
    default_source, embedded_face, embedded_speaker_encoder, embedded_voice, DefaultSource,
    SPEAKER_ENCODER_FILE,
};
use crate::vision::{
    load_image, media_kind, video_face_crops, ClipConfig, FaceBox, FaceCrop, FaceCropper,
    MediaKind, RgbImage, TrackerConfig, VideoConfig,
};
use crate::{Error, Result};

/// A perceived-gender prediction: the more likely label and its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GenderPrediction {
    /// The more likely perceived gender.
    pub label: Gender,
    /// Its probability.
    pub confidence: f32,
    /// `P(female)`; `P(male)` is `1 − p_female`.
    pub p_female: f32,
    /// The confidence is below the analyzer's abstention threshold: report "uncertain" rather
    /// than the label (see [`Abstention`](crate::model::Abstention)).
    #[serde(default)]
    pub uncertain: bool,
}

impl GenderPrediction {
    pub(crate) fn from_probs(p: [f32; 2]) -> Self {
        let female = p[1] > p[0];
        Self {
            label: if female { Gender::Female } else { Gender::Male },
            confidence: p[0].max(p[1]),
            p_female: p[1],
            uncertain: false,
        }
    }

    /// Marks the answer uncertain when its confidence is below `threshold`.
    pub(crate) fn abstain_below(&mut self, threshold: f32) {
        self.uncertain = self.confidence < threshold;
    }
}

/// An emotion prediction: the most likely emotion and the whole distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmotionPrediction {
    /// The most likely emotion (among the allowed ones, when restricted).
    pub label: Emotion,
    /// Its probability.
    pub confidence: f32,
    /// Every emotion the model knows, with its probability, in the model's order.
    pub probabilities: Vec<(Emotion, f32)>,
    /// The confidence is below the analyzer's abstention threshold: report "uncertain" rather
    /// than the label (see [`Abstention`](crate::model::Abstention)).
    #[serde(default)]
    pub uncertain: bool,
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
            uncertain: false,
        })
    }

    /// The prediction from a model's head: `probs[i]` is the probability of `emotions[i]`.
    pub(crate) fn from_head(
        emotions: &[Emotion],
        probs: &[f32],
        allowed: Option<&[Emotion]>,
    ) -> Result<Self> {
        let probabilities = emotions
            .iter()
            .copied()
            .zip(probs.iter().copied())
            .collect();
        Self::from_distribution(probabilities, allowed)
    }

    /// Marks the answer uncertain when its confidence is below `threshold`.
    pub(crate) fn abstain_below(&mut self, threshold: f32) {
        self.uncertain = self.confidence < threshold;
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
#[non_exhaustive]
pub struct VoiceAnalysis {
    /// Perceived gender.
    pub gender: GenderPrediction,
    /// Emotion.
    pub emotion: EmotionPrediction,
    /// Seconds of speech analysed (after silence trimming).
    pub speech_seconds: f32,
    /// The voice embedding (input to the fusion head).
    pub embedding: Vec<f32>,
    /// How far the embedding lies from the recordings the model's embedding network was
    /// trained on (see [`FamiliarityReference`](crate::model::FamiliarityReference); `None`
    /// when the model file has no reference).
    #[serde(default)]
    pub unfamiliarity: Option<f32>,
    /// The recording is unlike those (the score is above the reference's threshold): the
    /// emotion in particular rests on less evidence than its confidence suggests.
    #[serde(default)]
    pub unfamiliar: bool,
}

/// The voice branch, ready to run: model, features and decoder settings.
#[derive(Debug)]
pub struct VoiceAnalyzer {
    file: VoiceModelFile,
    predictor: VoicePredictor,
    extractor: MelExtractor,
    decode: DecodeOptions,
    /// The pretrained speaker encoder, when the file's `speaker_gender` needs it.
    speaker: Option<std::sync::Arc<SpeakerEncoder>>,
}

impl VoiceAnalyzer {
    /// The shipped voice model: from the directory `FACEVOX_MODELS` names when set, else the
    /// copy compiled into the library (see [`models`](crate::models)).
    pub fn new() -> Result<Self> {
        match default_source(embedded_voice())? {
            DefaultSource::Dir(dir) => Self::from_dir(dir),
            DefaultSource::Embedded(m) => Self::from_bytes(m.json, m.weights),
        }
    }

    /// Loads `<dir>/voice.json` and `<dir>/voice.safetensors` (and, when the file's perceived
    /// gender runs on the speaker encoder, `<dir>/speaker_ge2e.safetensors`, or the copy
    /// compiled into the library when the directory has none).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let (file, predictor) = VoicePredictor::load(&dir.join("voice"))?;
        let encoder = dir.join(SPEAKER_ENCODER_FILE);
        let speaker = if file.speaker_gender.is_none() {
            None
        } else if encoder.exists() {
            Some(SpeakerEncoder::load(&encoder)?)
        } else {
            Self::embedded_encoder()?
        };
        Self::with(file, predictor, speaker)
    }

    /// Loads a model from its JSON description and safetensors weights in memory (with the
    /// compiled-in speaker encoder when the file needs one; without the `embedded-models`
    /// feature such a file needs [`from_bytes_with_encoder`](Self::from_bytes_with_encoder)).
    pub fn from_bytes(json: &[u8], weights: &[u8]) -> Result<Self> {
        let (file, predictor) = VoicePredictor::from_bytes(json, weights)?;
        let speaker = match file.speaker_gender {
            Some(_) => Self::embedded_encoder()?,
            None => None,
        };
        Self::with(file, predictor, speaker)
    }

    /// As [`from_bytes`](Self::from_bytes), with the speaker encoder's weights in memory too.
    pub fn from_bytes_with_encoder(json: &[u8], weights: &[u8], encoder: &[u8]) -> Result<Self> {
        let (file, predictor) = VoicePredictor::from_bytes(json, weights)?;
        let speaker = Some(SpeakerEncoder::from_bytes(encoder)?);
        Self::with(file, predictor, speaker)
    }

    fn embedded_encoder() -> Result<Option<SpeakerEncoder>> {
        let bytes = embedded_speaker_encoder().ok_or_else(|| {
            Error::NoModels(format!(
                "the voice model's perceived gender needs the speaker encoder \
                 ({SPEAKER_ENCODER_FILE}): put it beside voice.json or use \
                 VoiceAnalyzer::from_bytes_with_encoder"
            ))
        })?;
        Ok(Some(SpeakerEncoder::from_bytes(bytes)?))
    }

    fn with(
        file: VoiceModelFile,
        predictor: VoicePredictor,
        speaker: Option<SpeakerEncoder>,
    ) -> Result<Self> {
        let extractor = MelExtractor::new(file.mel.clone())?;
        if let (Some(head), Some(enc)) = (&file.speaker_gender, &speaker) {
            head.validate(enc.dim())?;
        }
        Ok(Self {
            file,
            predictor,
            extractor,
            decode: DecodeOptions::default(),
            speaker: speaker.map(std::sync::Arc::new),
        })
    }

    /// `[P(male), P(female)]` from the speaker encoder and the file's `speaker_gender` head
    /// (`None` when the file has none): the recording at 16 kHz, trimmed of leading and
    /// trailing silence as the networks' features are.
    fn speaker_gender(&self, clip: &AudioClip) -> Result<Option<[f32; 2]>> {
        let (Some(head), Some(enc)) = (&self.file.speaker_gender, &self.speaker) else {
            return Ok(None);
        };
        // The analyser's clip is already at the networks' 16 kHz: no copy then.
        let rate = crate::model::speaker::SAMPLE_RATE;
        let clip = if clip.sample_rate == rate {
            std::borrow::Cow::Borrowed(clip)
        } else {
            std::borrow::Cow::Owned(clip.resampled(rate)?)
        };
        let default_vad = crate::audio::VadConfig::default();
        let vad = self.file.mel.vad.as_ref().unwrap_or(&default_vad);
        let (a, b) = crate::audio::vad::trim_silence(&clip.samples, clip.sample_rate, vad)?;
        let embedding = enc.embed(&clip.samples[a..b])?;
        Ok(Some(head.predict(&embedding)))
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
        let mut pred = self.predictor.predict(&[&mel])?.remove(0);
        if let Some(gender) = self.speaker_gender(&clip)? {
            pred.gender = gender;
        }
        let unfamiliarity = self
            .file
            .familiarity
            .as_ref()
            .and_then(|f| f.score(&pred.embedding));
        Ok(VoiceAnalysis {
            gender: GenderPrediction::from_probs(pred.gender),
            emotion: EmotionPrediction::from_head(&self.file.emotions, &pred.emotion, allowed)?,
            speech_seconds: mel.n_frames as f32 * self.file.mel.hop_length as f32
                / self.file.mel.sample_rate as f32,
            unfamiliarity,
            unfamiliar: unfamiliarity
                .zip(self.file.familiarity.as_ref())
                .is_some_and(|(s, f)| s > f.threshold),
            embedding: pred.embedding,
        })
    }
}

/// Where the face analyser's input comes from.
pub use crate::vision::FaceSource;

/// What the face branch says about one picture or clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaceAnalysis {
    /// Perceived gender (for a clip: from the mean of the per-frame probabilities).
    pub gender: GenderPrediction,
    /// Emotion (for a clip: from the mean of the per-frame distributions).
    pub emotion: EmotionPrediction,
    /// Frames (1 for a picture) in which a face was found and analysed.
    pub faces: usize,
    /// Frames looked at.
    pub frames: usize,
    /// The mean face embedding (input to the fusion head).
    pub embedding: Vec<f32>,
    /// For a video: every sampled frame in display order, with its time, the followed face's
    /// box and that face's own answer (`None` where no face was found). Empty for a picture.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<FaceFrame>,
}

/// One sampled frame of a video, in [`FaceAnalysis::timeline`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaceFrame {
    /// Position of the frame among all frames of the clip, in display order.
    pub index: usize,
    /// Presentation time in seconds.
    pub timestamp_secs: f64,
    /// The followed face's (smoothed) box in the frame, in pixels.
    pub face: Option<FaceBox>,
    /// The face branch's answer for this frame alone (no abstention threshold applied).
    pub prediction: Option<FramePrediction>,
}

/// The face branch's answer for one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FramePrediction {
    /// Perceived gender.
    pub gender: GenderPrediction,
    /// Emotion.
    pub emotion: EmotionPrediction,
}

/// How the face analyser reads a video: how many frames per second it looks at, and how it
/// follows the face between full-frame detections. Every published figure used the default
/// (5 frames per second, [`TrackerConfig::default`]); fewer frames cost less time and see
/// less of the clip (README, "Speed").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoSampling {
    /// Frames analysed per second of video (at most one per decoded frame).
    pub frames_per_second: f64,
    /// How the face is followed from one analysed frame to the next.
    pub tracker: TrackerConfig,
}

impl Default for VideoSampling {
    fn default() -> Self {
        Self {
            frames_per_second: 5.0,
            tracker: TrackerConfig::default(),
        }
    }
}

impl VideoSampling {
    /// `frames_per_second` with the default tracker; [`Error::InvalidConfig`] unless it is
    /// finite and in 0.1..=120.
    pub fn new(frames_per_second: f64) -> Result<Self> {
        let s = Self {
            frames_per_second,
            ..Self::default()
        };
        s.validate()?;
        Ok(s)
    }

    /// The same with another tracker.
    pub fn with_tracker(mut self, tracker: TrackerConfig) -> Result<Self> {
        tracker.validate()?;
        self.tracker = tracker;
        Ok(self)
    }

    /// Checks the frame rate and the tracker.
    pub fn validate(&self) -> Result<()> {
        let f = self.frames_per_second;
        if !(f.is_finite() && (0.1..=120.0).contains(&f)) {
            return Err(Error::InvalidConfig(format!(
                "frames_per_second must be in 0.1..=120, got {f}"
            )));
        }
        self.tracker.validate()
    }
}

/// The face branch, ready to run: model and crop settings.
#[derive(Debug)]
pub struct FaceAnalyzer {
    file: FaceModelFile,
    predictor: FacePredictor,
    video: VideoSampling,
}

impl FaceAnalyzer {
    /// The shipped face model: from the directory `FACEVOX_MODELS` names when set, else the
    /// copy compiled into the library (see [`models`](crate::models)).
    pub fn new() -> Result<Self> {
        match default_source(embedded_face())? {
            DefaultSource::Dir(dir) => Self::from_dir(dir),
            DefaultSource::Embedded(m) => Self::from_bytes(m.json, m.weights),
        }
    }

    /// Loads `<dir>/face.json` and `<dir>/face.safetensors` (with every member network).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let (file, predictor) = FacePredictor::load(&dir.as_ref().join("face"))?;
        Ok(Self {
            file,
            predictor,
            video: VideoSampling::default(),
        })
    }

    /// Loads a model from its JSON description and safetensors weights in memory.
    pub fn from_bytes(json: &[u8], weights: &[u8]) -> Result<Self> {
        let (file, predictor) = FacePredictor::from_bytes(json, weights)?;
        Ok(Self {
            file,
            predictor,
            video: VideoSampling::default(),
        })
    }

    /// The same model reading videos with other [`VideoSampling`] settings.
    pub fn with_video_sampling(mut self, video: VideoSampling) -> Result<Self> {
        video.validate()?;
        self.video = video;
        Ok(self)
    }

    /// How videos are read.
    pub fn video_sampling(&self) -> &VideoSampling {
        &self.video
    }

    /// The same model, scoring each face with or without its mirror image (the model file's
    /// `tta.mirror`; the mirror doubles the networks' work and is worth about a point on
    /// each task, model card "Face branch").
    pub fn with_mirror(mut self, mirror: bool) -> Self {
        self.predictor = self.predictor.with_mirror(mirror);
        self
    }

    /// Whether each face is also scored mirrored.
    pub fn mirror(&self) -> bool {
        self.predictor.tta().mirror
    }

    /// The model's description (architecture, crop settings, emotions, provenance).
    pub fn model(&self) -> &FaceModelFile {
        &self.file
    }

    /// The emotions the model can output, in head order.
    pub fn emotions(&self) -> &[Emotion] {
        &self.file.emotions
    }

    /// Analyses a picture or a video file, finding the face with the detector.
    pub fn analyze_file(&self, path: impl AsRef<Path>) -> Result<FaceAnalysis> {
        self.analyze_file_among(path, FaceSource::Detect, None)
    }

    /// Analyses a picture (`source` says whether it is already a face crop) or a video (faces
    /// always detected and followed, at [`video_sampling`](Self::video_sampling)), with the
    /// emotion argmax restricted to `allowed` when given. [`Error::NoFace`] when no face is
    /// found.
    pub fn analyze_file_among(
        &self,
        path: impl AsRef<Path>,
        source: FaceSource,
        allowed: Option<&[Emotion]>,
    ) -> Result<FaceAnalysis> {
        let path = path.as_ref();
        if media_kind(path) == MediaKind::Video {
            let mut views = self.predictor.crops().to_vec();
            let config = ClipConfig {
                video: VideoConfig::sampled(self.video.frames_per_second),
                tracker: self.video.tracker,
                crop: views.remove(0),
                extra_crops: views,
            };
            let frames = video_face_crops(path, &config)?;
            let crops: Vec<&FaceCrop> = frames.iter().filter_map(|f| f.crop.as_ref()).collect();
            // Per view, the frames' crops in the same order (a frame with a face has them all).
            let mut views: Vec<Vec<&FaceCrop>> = vec![crops];
            for v in 0..config.extra_crops.len() {
                views.push(
                    frames
                        .iter()
                        .filter(|f| f.crop.is_some())
                        .map(|f| &f.extra_crops[v])
                        .collect(),
                );
            }
            if views[0].is_empty() {
                return Err(Error::NoFace(format!(
                    "{}: no face in {} sampled frames",
                    path.display(),
                    frames.len()
                )));
            }
            let preds = self.predictor.predict_crops(&views, 64)?;
            let mut analysis = self.summarise(&preds, frames.len(), allowed)?;
            let found: Vec<bool> = frames.iter().map(|f| f.crop.is_some()).collect();
            analysis.timeline = frames
                .iter()
                .zip(pair_with_found(&found, &preds))
                .map(|(f, pred)| {
                    Ok(FaceFrame {
                        index: f.index,
                        timestamp_secs: f.timestamp_secs,
                        face: f.face,
                        prediction: pred
                            .map(|p| self.frame_prediction(p, allowed))
                            .transpose()?,
                    })
                })
                .collect::<Result<_>>()?;
            Ok(analysis)
        } else {
            let image = load_image(path)?;
            self.analyze_image_among(&image, source, allowed)
                .map_err(|e| match e {
                    Error::NoFace(_) => Error::NoFace(path.display().to_string()),
                    other => other,
                })
        }
    }

    /// Analyses one picture.
    pub fn analyze_image_among(
        &self,
        image: &RgbImage,
        source: FaceSource,
        allowed: Option<&[Emotion]>,
    ) -> Result<FaceAnalysis> {
        let views = self.predictor.crops();
        let mut cropper = FaceCropper::for_source(source, views[0].clone())?;
        let crops = cropper
            .crop_views(image, &views[1..])?
            .ok_or_else(|| Error::NoFace("no face found in the picture".into()))?;
        let views: Vec<Vec<&FaceCrop>> = crops.iter().map(|c| vec![c]).collect();
        let preds = self.predictor.predict_crops(&views, 1)?;
        self.summarise(&preds, 1, allowed)
    }

    /// One face's own answer.
    fn frame_prediction(
        &self,
        pred: &Prediction,
        allowed: Option<&[Emotion]>,
    ) -> Result<FramePrediction> {
        Ok(FramePrediction {
            gender: GenderPrediction::from_probs(pred.gender),
            emotion: EmotionPrediction::from_head(&self.file.emotions, &pred.emotion, allowed)?,
        })
    }

    /// Mean probabilities and embedding over `preds`.
    fn summarise(
        &self,
        preds: &[Prediction],
        frames: usize,
        allowed: Option<&[Emotion]>,
    ) -> Result<FaceAnalysis> {
        let n = preds.len() as f32;
        let mean = |get: &dyn Fn(&Prediction) -> &[f32]| -> Vec<f32> {
            let mut m = vec![0f32; get(&preds[0]).len()];
            for p in preds {
                m.iter_mut().zip(get(p)).for_each(|(a, b)| *a += b / n);
            }
            m
        };
        let gender = mean(&|p| &p.gender[..]);
        let emotion = mean(&|p| &p.emotion[..]);
        Ok(FaceAnalysis {
            gender: GenderPrediction::from_probs([gender[0], gender[1]]),
            emotion: EmotionPrediction::from_head(&self.file.emotions, &emotion, allowed)?,
            faces: preds.len(),
            frames,
            embedding: mean(&|p| &p.embedding[..]),
            timeline: Vec::new(),
        })
    }
}

/// Each frame's prediction: `preds` holds one per frame with a face (`found`), in order.
fn pair_with_found<'a, T>(found: &[bool], preds: &'a [T]) -> Vec<Option<&'a T>> {
    let mut next = preds.iter();
    found
        .iter()
        .map(|&f| if f { next.next() } else { None })
        .collect()
}

/// Both analyzers can be shared between threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<VoiceAnalyzer>();
    send_sync::<FaceAnalyzer>();
};

#[cfg(test)]
mod tests {
    #[test]
    fn frames_without_a_face_get_no_prediction() {
        let found = [true, false, true, false, false, true];
        assert_eq!(
            super::pair_with_found(&found, &[1, 2, 3]),
            [Some(&1), None, Some(&2), None, None, Some(&3)]
        );
    }
}
