//! The audio front end: any recording in, a log-mel spectrogram out.
//!
//! ```text
//! file (WAV/FLAC/MP3/Ogg/MP4) ──decode──► mono f32 ──resample──► 16 kHz ──trim──► log-mel
//! ```
//!
//! [`decode`] reads a file into an [`AudioClip`] (mono, native rate), [`resample`] converts it to
//! the model's rate with a band-limited polyphase filter, and [`mel`] turns it into the log-mel
//! spectrogram the voice branch consumes. [`load_audio`] does the first two in one call.

pub mod corrupt;
pub mod decode;
pub mod mel;
pub mod resample;
pub mod transform;
pub mod vad;

use std::path::Path;

pub use decode::{decode_bytes, decode_file, DecodeOptions};
pub use mel::{LogMel, LogScale, MelConfig, MelExtractor, MelNorm, MelScale, PadMode, WindowKind};
pub use resample::Resampler;
pub use vad::VadConfig;

use crate::Result;

/// A mono recording at a known sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioClip {
    /// Samples in [-1, 1] (floating-point sources may exceed this slightly).
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl AudioClip {
    /// Wraps samples at a given rate.
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Self {
        Self {
            samples,
            sample_rate,
        }
    }

    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.samples.len() as f64 / self.sample_rate as f64
        }
    }

    /// Returns the clip converted to `rate` Hz (a copy when the rate already matches).
    pub fn resampled(&self, rate: u32) -> Result<AudioClip> {
        if rate == self.sample_rate {
            return Ok(self.clone());
        }
        let resampler = Resampler::new(self.sample_rate, rate)?;
        Ok(AudioClip::new(resampler.process(&self.samples), rate))
    }
}

/// Decodes any supported file and resamples it to `sample_rate` Hz, mono.
///
/// Video files (MP4) contribute their first audio track.
pub fn load_audio(path: impl AsRef<Path>, sample_rate: u32) -> Result<AudioClip> {
    decode_file(path, &DecodeOptions::default())?.resampled(sample_rate)
}
