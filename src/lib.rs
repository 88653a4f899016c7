//! # facevox
//!
//! Perceived gender and emotion from a face, a voice, or both, in pure Rust.
//!
//! facevox is being built in stages. What exists today is the **audio front end**: any real
//! recording in, the log-mel spectrogram the voice branch consumes out. The vision front end,
//! the face and voice models and the fused analyzer follow (see the README's roadmap).
//!
//! ## Pipeline
//!
//! ```text
//! audio (WAV/FLAC/MP3/Ogg, or an MP4's AAC track)
//!     ──decode──► mono f32 ──resample──► 16 kHz ──trim silence──► log-mel (64 x frames)
//! ```
//!
//! ## Quick start
//!
//! ```no_run
//! use facevox::audio::{load_audio, MelConfig, MelExtractor};
//!
//! # fn main() -> facevox::Result<()> {
//! // Decode any supported file (here a video's audio track) and resample to 16 kHz.
//! let clip = load_audio("examples/data/01-01-07-02-02-01-01.mp4", 16_000)?;
//! // The voice branch's features: 25 ms windows, 10 ms hop, 64 mel bands, silence trimmed.
//! let extractor = MelExtractor::new(MelConfig::default())?;
//! let mel = extractor.compute(&clip)?;
//! println!("{} bands x {} frames", mel.n_mels, mel.n_frames);
//! # Ok(())
//! # }
//! ```
//!
//! Many clips at once use every core: [`audio::MelExtractor::compute_batch`].
//!
//! ## Errors
//!
//! Every fallible call returns [`Result`], whose [`Error`] says what kind of problem the input
//! has: unreadable ([`Error::Io`]), empty ([`Error::Empty`]), not media
//! ([`Error::UnrecognizedFormat`]), an unsupported codec ([`Error::UnsupportedCodec`]), damaged
//! ([`Error::Corrupt`]), an impossible header ([`Error::InvalidHeader`]), too short, silent, or
//! at the wrong sample rate. Untrusted input never panics.
//!
//! ## Labels
//!
//! [`labels::Gender`] and [`labels::Emotion`] are the label vocabularies, with parsers for the
//! codes of RAVDESS, FER+, CREMA-D and EmoDB. Gender is a *perceived*, binary dataset label, not
//! a statement about a person.
//!
//! ## Performance
//!
//! The STFT and the resampler's inner product use AVX2 + FMA when the CPU has them (detected at
//! run time); arithmetic in the STFT is `f64` so results match librosa to 1e-4 relative error.

mod analyze;
pub mod audio;
mod data;
mod error;
mod eval;
pub mod labels;
pub mod model;
pub mod models;
mod rng;
mod train;
pub mod training;
pub mod vision;

pub use analyze::{
    EmotionPrediction, FaceAnalysis, FaceAnalyzer, GenderPrediction, VoiceAnalysis, VoiceAnalyzer,
};
pub use error::{Error, Result};
pub use labels::{Emotion, Gender};
pub use vision::FaceSource;
