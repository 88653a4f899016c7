//! Datasets: labelled samples from RAVDESS, CREMA-D, EmoDB or a CSV manifest, and a disk cache
//! of the log-mel features computed from them.
//!
//! Every loader returns [`Sample`]s: paths to a face input and/or a voice input, the labels the
//! sample carries (either may be missing — the multi-task loss trains each head only on samples
//! that have its label) and the speaker/subject group used for speaker-independent folds.

pub mod cache;
pub mod faces;
pub mod manifest;
pub mod ravdess;
pub mod speech_corpora;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use cache::{CropCache, FeatureCache};
pub use faces::{
    load_fairface, load_ferplus, stratified_fairface_split, FairFaceRecord, FerPlusRecord,
    FAIRFACE_RACES,
};
pub use manifest::{load_manifest, write_manifest};
pub use ravdess::{load_ravdess, RavdessFilter};
pub use speech_corpora::{load_crema_d, load_emodb, LoadReport};

use crate::labels::{Emotion, Gender};
use crate::{Error, Result};

/// One labelled example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Image or video file for the face branch.
    pub face: Option<PathBuf>,
    /// Audio file (or video file whose audio track is used) for the voice branch.
    pub voice: Option<PathBuf>,
    /// Perceived-gender label, if the dataset has one for this sample.
    pub gender: Option<Gender>,
    /// Emotion label, if any.
    pub emotion: Option<Emotion>,
    /// Speaker or subject identifier: folds never split a group.
    pub group: Option<String>,
}

/// Files under `dir` (recursively) whose extension is one of `extensions` (lower-case, no dot),
/// sorted so every loader is deterministic.
pub(crate) fn files_with_extensions(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if file_type.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e.to_ascii_lowercase().as_str()))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Audio and video extensions the voice branch can read.
pub const VOICE_EXTENSIONS: [&str; 9] = [
    "wav", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "aac", "mov",
];

/// A CSV error as a facevox error naming the file.
pub(crate) fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => Error::InvalidConfig(format!("{}: malformed CSV: {other:?}", path.display())),
    }
}
