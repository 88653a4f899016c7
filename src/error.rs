//! One error type for the whole crate.
//!
//! Every fallible function returns [`Result<T>`]. The variants are chosen so a caller can tell
//! apart the situations that need different handling: a file that cannot be read at all, a file
//! that is not media, media in a codec facevox does not decode, a damaged stream, a recording
//! that holds no usable signal, and a bad configuration.

use std::path::PathBuf;

/// Convenience alias used throughout facevox.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in facevox.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system failed to open or read a file.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The input has zero bytes, or decodes to zero samples.
    #[error("empty input: {0}")]
    Empty(String),

    /// The bytes are not in any container or format facevox recognises (for example a text file).
    #[error("unrecognised media format: {0}")]
    UnrecognizedFormat(String),

    /// The container was recognised but its codec is not supported.
    #[error("unsupported codec: {0}")]
    UnsupportedCodec(String),

    /// The container holds no stream of the kind asked for (for example a video with no audio).
    #[error("no {0} track in the input")]
    NoTrack(&'static str),

    /// The stream is damaged: truncated, inconsistent, or failing to decode.
    #[error("corrupt media: {0}")]
    Corrupt(String),

    /// The header declares values no real recording has (zero channels, a sample rate of 0 or
    /// several MHz, and the like).
    #[error("invalid header: {0}")]
    InvalidHeader(String),

    /// The recording is shorter than the analysis needs.
    #[error("recording too short: {got} samples, at least {needed} needed")]
    TooShort {
        /// Samples available.
        got: usize,
        /// Samples required.
        needed: usize,
    },

    /// The recording is longer than the configured limit.
    #[error("recording too long: {seconds:.1} s exceeds the limit of {limit:.1} s")]
    TooLong {
        /// Duration decoded so far, in seconds.
        seconds: f64,
        /// The configured limit, in seconds.
        limit: f64,
    },

    /// The recording holds no signal above the silence threshold.
    #[error("the recording is silent (no frame above the voice-activity threshold)")]
    Silent,

    /// Samples arrive at a rate other than the one the processing step was configured for.
    #[error("sample rate mismatch: expected {expected} Hz, got {got} Hz (resample first)")]
    SampleRateMismatch {
        /// The configured rate.
        expected: u32,
        /// The rate of the input.
        got: u32,
    },

    /// The samples contain NaN or infinite values.
    #[error("non-finite sample values (NaN or infinity) in the input")]
    NonFinite,

    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// A dataset label code is not one the dataset defines.
    #[error("unknown {dataset} label code {code:?}")]
    UnknownLabel {
        /// The dataset whose coding was used.
        dataset: &'static str,
        /// The offending code.
        code: String,
    },

    /// A valid dataset label has no facevox equivalent (for example EmoDB's boredom).
    #[error("{dataset} label {code:?} has no facevox equivalent")]
    UnmappedLabel {
        /// The dataset whose coding was used.
        dataset: &'static str,
        /// The label that has no equivalent.
        code: String,
    },

    /// The tensor library reported an error (shape mismatch, missing weight, bad weights file).
    #[error("model error: {0}")]
    Model(#[from] candle_core::Error),

    /// The image declares a width or height of zero (or, for the landmark model, under two
    /// pixels), so it holds no picture to analyse.
    #[error("image too small: {width}x{height} pixels")]
    ImageTooSmall {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },

    /// The image's declared size exceeds the configured limits; it was refused before its
    /// pixels were decoded.
    #[error("image too large: {width}x{height} pixels exceeds the limit of {limit}")]
    ImageTooLarge {
        /// Declared width (0 when the decoder refused the size before reporting it).
        width: u32,
        /// Declared height (0 when the decoder refused the size before reporting it).
        height: u32,
        /// The limit that was exceeded, in words.
        limit: String,
    },

    /// A model file's `format` is one this version of facevox does not read.
    #[error(
        "model file format {found} is not supported (this version reads formats 1 and {supported})"
    )]
    UnsupportedModelFormat {
        /// The version the file declares.
        found: u64,
        /// The newest version this build reads.
        supported: u32,
    },

    /// A model file is malformed: JSON that does not parse or describe a model, weights that
    /// are not safetensors, or a tensor the description needs that is missing or misshapen.
    #[error("invalid model file: {0}")]
    InvalidModelFile(String),

    /// No model to load: the library was built without its embedded models and no directory
    /// was given.
    #[error("no models: {0}")]
    NoModels(String),

    /// No face was found in an input that needs one.
    #[error("no face found in {0}")]
    NoFace(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
