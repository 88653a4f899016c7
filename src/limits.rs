//! Every limit facevox puts on untrusted input, in one place.
//!
//! A header, box or config that claims more than these is refused with a typed error before
//! anything of that size is allocated. The defaults of the per-call options
//! ([`DecodeOptions`](crate::audio::DecodeOptions), [`VideoConfig`](crate::vision::VideoConfig),
//! [`ImageLimits`](crate::vision::ImageLimits)) start from the values here and can be changed
//! per call; the others are fixed. `tests/limits.rs` checks each one at its boundary.

/// Lowest audio sample rate accepted from a header, in Hz.
pub const MIN_AUDIO_SAMPLE_RATE: u32 = 1_000;
/// Highest audio sample rate accepted from a header, in Hz (above: a broken header).
pub const MAX_AUDIO_SAMPLE_RATE: u32 = 768_000;
/// Most audio channels accepted from a header.
pub const MAX_AUDIO_CHANNELS: usize = 32;
/// Default longest audio decoded, in seconds (`DecodeOptions::max_seconds`).
pub const DEFAULT_MAX_AUDIO_SECONDS: f64 = 3600.0;

/// Largest MP4 `moov` box read into memory, in bytes.
pub const MAX_MP4_MOOV_BYTES: u64 = 64 << 20;
/// Largest single coded video picture, in bytes.
pub const MAX_VIDEO_SAMPLE_BYTES: u32 = 32 << 20;
/// Most coded pictures a video track may declare.
pub const MAX_VIDEO_SAMPLES: u64 = 2_000_000;
/// Largest video frame side accepted from a header, in pixels.
pub const MAX_VIDEO_SIDE: u32 = 8192;
/// Default longest video decoded, in seconds (`VideoConfig::max_duration_secs`).
pub const DEFAULT_MAX_VIDEO_SECONDS: f64 = 600.0;

/// Default largest picture side, in pixels (`ImageLimits::max_side`).
pub const DEFAULT_MAX_IMAGE_SIDE: u32 = 16_384;
/// Default largest picture area, in pixels (`ImageLimits::max_pixels`).
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 100_000_000;
/// Largest face-crop side a `CropConfig` may ask for, in pixels.
pub const MAX_CROP_SIZE: u32 = 1024;
/// Largest picture the MMOD face detector (`vision::MmodDetector`) works on, in pixels, counted
/// after its upsampling (4,194,304: 2048 x 2048; each upsampling step a little more than doubles
/// both sides). Larger pictures are refused before any work.
pub const MAX_MMOD_PIXELS: u64 = 1 << 22;

/// Most mel bands a `MelConfig` may ask for.
pub const MAX_MEL_BANDS: usize = 512;
/// Largest FFT a `MelConfig` may ask for.
pub const MAX_FFT_SIZE: usize = 1 << 16;
