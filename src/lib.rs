//! # facevox
//!
//! Perceived gender and emotion from a face, a voice, or both, in pure Rust.
//!
//! facevox decodes the recording (WAV, FLAC, MP3, Ogg, AAC in MP4; H.264 video; JPEG, PNG, BMP,
//! TIFF pictures), finds and follows the face, computes the log-mel spectrogram, runs a face
//! network and a voice network (candle, on the CPU) and averages over the clip. The trained
//! models are compiled into the library, so nothing is read or downloaded at run time.
//!
//! ## Quick start
//!
//! ```no_run
//! use facevox::{Analyzer, Mode};
//!
//! # fn main() -> facevox::Result<()> {
//! // Both branches and their fusion, loaded once (the models are compiled in).
//! let analyzer = Analyzer::new()?;
//! // A video: faces from its frames (5 per second, followed, averaged), voice from its audio.
//! let a = analyzer.analyze_file("examples/data/01-01-07-02-02-01-01.mp4", Mode::Auto)?;
//! if let Some(f) = &a.fused {
//!     println!("fused: {} ({:.0}%), {}", f.gender.label, 100.0 * f.gender.confidence, f.emotion.label);
//! }
//! if let Some(v) = &a.voice {
//!     println!("voice: {} ({:.0}%), {}", v.gender.label, 100.0 * v.gender.confidence, v.emotion.label);
//! }
//! if let Some(f) = &a.face {
//!     println!("face: {} ({:.0}%), {}", f.gender.label, 100.0 * f.gender.confidence, f.emotion.label);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Load an analyzer once and share it: all are `Send + Sync`. A clip with no face found is
//! answered by the voice (and says so), a silent one by the face. The fusion file
//! ([`model::FusionModelFile`]) says how the branches' calibrated probabilities are combined
//! (a learned [`model::LinearFusionHead`] or the training-free [`model::ProductOfExperts`]),
//! and below which confidence an answer is marked `uncertain`. Each branch also runs on its
//! own ([`FaceAnalyzer`], [`VoiceAnalyzer`]); [`Analyzer::analyze_files`] runs many inputs on
//! all cores.
//!
//! ## What is where
//!
//! - At the root: [`Analyzer`] ([`Mode`], [`Analysis`], [`FusedAnalysis`], [`Modality`]),
//!   [`VoiceAnalyzer`] and [`FaceAnalyzer`] with their results ([`VoiceAnalysis`],
//!   [`FaceAnalysis`], [`GenderPrediction`], [`EmotionPrediction`]), [`Gender`], [`Emotion`],
//!   [`FaceSource`], [`Error`] / [`Result`], and the front ends' entry points
//!   ([`decode_file`], [`load_audio`], [`load_image`], [`video_face_crops`]).
//! - [`models`]: where models come from: `new()` reads the directory `FACEVOX_MODELS` names,
//!   else the copy compiled in (default feature `embedded-models`); `from_dir` and
//!   `from_bytes` load your own.
//! - [`audio`]: the audio front end: [`audio::decode_file`], [`audio::load_audio`] and
//!   [`audio::MelExtractor`] (the log-mel the voice branch reads).
//! - [`vision`]: the vision front end: [`vision::load_image`], [`vision::VideoReader`],
//!   [`vision::FaceCropper`] and [`vision::video_face_crops`].
//! - [`model`]: the networks, their model files (format version [`model::MODEL_FORMAT`]) and
//!   the one predictor per branch, [`model::FacePredictor`] and [`model::VoicePredictor`].
//! - [`labels`]: the label sets each branch predicts.
//! - [`training`]: training, datasets and evaluation, for researchers; an application that
//!   only analyses needs none of it.
//!
//! ## Errors
//!
//! Every fallible call returns [`Result`], whose [`Error`] says what kind of problem the input
//! has: unreadable ([`Error::Io`]), empty ([`Error::Empty`]), not media
//! ([`Error::UnrecognizedFormat`]), an unsupported codec ([`Error::UnsupportedCodec`]), damaged
//! ([`Error::Corrupt`]), too short, silent, non-finite, no face ([`Error::NoFace`]), a picture
//! too small or too large, or a model file that is malformed ([`Error::InvalidModelFile`]) or
//! of an unknown version ([`Error::UnsupportedModelFormat`]). Untrusted input never panics.
//!
//! ## Labels
//!
//! Gender is a *perceived*, binary dataset label reported with a confidence, not a statement
//! about a person. The voice branch knows RAVDESS's eight emotions (with calm); the face branch
//! FER+'s eight (with contempt).

mod analyze;
mod analyzer;
pub mod audio;
mod data;
mod error;
mod eval;
pub mod labels;
pub mod limits;
pub mod model;
pub mod models;
mod rng;
mod train;
pub mod training;
pub mod vision;

pub use analyze::{
    EmotionPrediction, FaceAnalysis, FaceAnalyzer, FaceFrame, FramePrediction, GenderPrediction,
    VideoSampling, VoiceAnalysis, VoiceAnalyzer,
};
pub use analyzer::{Analysis, Analyzer, FusedAnalysis, Modality, Mode};
/// Front-end entry points: decode a recording, read a picture, follow the face through a clip.
pub use audio::{decode_file, load_audio, AudioClip};
pub use error::{Error, Result};
pub use labels::{Emotion, Gender};
pub use vision::{load_image, video_face_crops, FaceSource};
