//! Datasets: labelled samples from RAVDESS, CREMA-D, EmoDB, FER+, FairFace or a CSV manifest,
//! the parsers for those datasets' file names and label codes, and a disk cache of the log-mel
//! features computed from them.
//!
//! Every loader returns [`Sample`]s: paths to a face input and/or a voice input, the labels the
//! sample carries (either may be missing — the multi-task loss trains each head only on samples
//! that have its label) and the speaker/subject group used for speaker-independent folds.
//!
//! Each dataset's label codes are parsed, next to its loader, into [`Emotion`] and [`Gender`]:
//!
//! * RAVDESS file names ([`RavdessName`], [`Emotion::from_ravdess_code`]) in [`ravdess`];
//! * FER+ `label.csv` columns ([`FERPLUS_COLUMNS`], [`Emotion::from_ferplus_column`]) in
//!   [`faces`];
//! * CREMA-D codes and file names ([`CremaDName`], [`Emotion::from_crema_d_code`]) and Berlin
//!   EmoDB codes and file names ([`EmoDbName`], [`Emotion::from_emodb_code`]) in
//!   [`speech_corpora`].
//!
//! A code that a dataset does not define is an [`Error::UnknownLabel`]; a code the dataset
//! does define but that has no facevox equivalent (EmoDB's boredom, FER+'s `unknown` and `NF`
//! columns) is an [`Error::UnmappedLabel`], so callers can skip such samples deliberately
//! instead of mislabelling them.

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
    FAIRFACE_RACES, FERPLUS_COLUMNS,
};
pub use manifest::{load_manifest, write_manifest};
pub use ravdess::{
    load_ravdess, Intensity, RavdessFilter, RavdessModality, RavdessName, VocalChannel,
};
pub use speech_corpora::{
    emodb_speaker_gender, load_crema_d, load_emodb, load_speech_accent, AccentSpeaker, CremaDLevel,
    CremaDName, EmoDbName, LoadReport, CREMA_D_SENTENCES, EMODB_SPEAKERS, EMODB_TEXTS,
};

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

/// [`Error::UnknownLabel`]: `code` is not a code `dataset` defines.
pub(crate) fn unknown_label(dataset: &'static str, code: impl Into<String>) -> Error {
    Error::UnknownLabel {
        dataset,
        code: code.into(),
    }
}

/// [`Error::UnmappedLabel`]: `code` is a valid `dataset` code with no facevox label.
pub(crate) fn unmapped_label(dataset: &'static str, code: impl Into<String>) -> Error {
    Error::UnmappedLabel {
        dataset,
        code: code.into(),
    }
}

/// Returns the file name of `path` without its directories and without its extension(s).
///
/// Both `/` and `\` count as directory separators, so Windows-style paths work on every
/// platform. Everything from the first `.` of the file name on is treated as extension; none
/// of the supported datasets uses a `.` inside its file stems.
pub(crate) fn file_stem(path: &str) -> &str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    name.split('.').next().unwrap_or(name)
}

/// Parses exactly two ASCII digits.
pub(crate) fn two_digits(s: &str) -> Option<u8> {
    let b = s.as_bytes();
    if b.len() == 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit() {
        Some((b[0] - b'0') * 10 + (b[1] - b'0'))
    } else {
        None
    }
}

/// Assertions shared by the label-code parsers' unit tests.
#[cfg(test)]
pub(crate) mod label_asserts {
    use std::fmt;

    use crate::{Error, Result};

    /// `r` is an [`Error::UnknownLabel`] of `want_dataset`.
    pub(crate) fn assert_unknown<T: fmt::Debug>(r: Result<T>, want_dataset: &str) {
        match r {
            Err(Error::UnknownLabel { dataset, .. }) => assert_eq!(dataset, want_dataset),
            other => panic!("expected UnknownLabel({want_dataset}), got {other:?}"),
        }
    }

    /// `r` is an [`Error::UnmappedLabel`] of `want_dataset` with code `want_code`.
    pub(crate) fn assert_unmapped<T: fmt::Debug>(
        r: Result<T>,
        want_dataset: &str,
        want_code: &str,
    ) {
        match r {
            Err(Error::UnmappedLabel { dataset, code }) => {
                assert_eq!(dataset, want_dataset);
                assert_eq!(code, want_code);
            }
            other => panic!("expected UnmappedLabel({want_dataset}, {want_code}), got {other:?}"),
        }
    }
}
