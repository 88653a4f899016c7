//! Label vocabularies: what facevox predicts.
//!
//! This module holds:
//!
//! * the two label types facevox predicts, [`Gender`] and [`Emotion`], with their
//!   lower-case names ([`Display`](std::fmt::Display) / [`FromStr`]) and index helpers;
//! * the emotion label sets each branch is trained on: [`RAVDESS_EMOTIONS`] for the voice
//!   branch and [`FACE_EMOTIONS`] for the face branch, plus [`position`] to look a label up in
//!   a set.
//!
//! A name that is not a facevox label is an [`Error::UnknownLabel`] with dataset `"facevox"`.
//!
//! The parsers for the label codes and file names of the datasets facevox is trained and
//! evaluated on (RAVDESS, FER+, CREMA-D, Berlin EmoDB) live with those datasets' loaders in
//! `training::data`. That includes the constructors of [`Emotion`] from dataset codes, such as
//! [`Emotion::from_ravdess_code`] and [`Emotion::from_ferplus_column`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const FACEVOX: &str = "facevox";

fn unknown(dataset: &'static str, code: impl Into<String>) -> Error {
    Error::UnknownLabel {
        dataset,
        code: code.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Gender
// ---------------------------------------------------------------------------------------------

/// Perceived gender, as a binary label.
///
/// This is the label the training datasets attach to a speaker or face (for example RAVDESS
/// actor parity or the EmoDB speaker list): a perceived, binary dataset annotation, not a
/// statement about anyone's gender identity. Predictions of it should be read the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    /// Perceived as male.
    Male,
    /// Perceived as female.
    Female,
}

impl Gender {
    /// Every gender label, in index order.
    pub const ALL: [Gender; 2] = [Gender::Male, Gender::Female];

    /// The lower-case name (`"male"` or `"female"`), as used by `Display` and serde.
    pub const fn name(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }

    /// Position of this label in [`Gender::ALL`] (male 0, female 1).
    pub const fn index(self) -> usize {
        match self {
            Gender::Male => 0,
            Gender::Female => 1,
        }
    }

    /// The label at position `index` of [`Gender::ALL`], or `None` when out of range.
    pub const fn from_index(index: usize) -> Option<Gender> {
        match index {
            0 => Some(Gender::Male),
            1 => Some(Gender::Female),
            _ => None,
        }
    }
}

impl fmt::Display for Gender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Gender {
    type Err = Error;

    /// Parses `male`/`man`/`m` or `female`/`woman`/`f`, case-insensitively and ignoring
    /// surrounding whitespace. Anything else is [`Error::UnknownLabel`] with dataset
    /// `"facevox"`.
    fn from_str(s: &str) -> Result<Gender> {
        match s.trim().to_ascii_lowercase().as_str() {
            "male" | "man" | "m" => Ok(Gender::Male),
            "female" | "woman" | "f" => Ok(Gender::Female),
            _ => Err(unknown(FACEVOX, s)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Emotion
// ---------------------------------------------------------------------------------------------

/// An emotion label: the union of the categories used by the voice and face datasets.
///
/// Not every branch predicts every label: see [`RAVDESS_EMOTIONS`] (voice, has calm but no
/// contempt) and [`FACE_EMOTIONS`] (face, has contempt but no calm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    /// No particular emotion.
    Neutral,
    /// Calm (RAVDESS only).
    Calm,
    /// Happy / happiness / joy.
    Happy,
    /// Sad / sadness.
    Sad,
    /// Angry / anger.
    Angry,
    /// Fearful / fear.
    Fearful,
    /// Disgust.
    Disgust,
    /// Surprised / surprise.
    Surprised,
    /// Contempt (FER+ only).
    Contempt,
}

impl Emotion {
    /// Every emotion label, in index order (the declaration order).
    pub const ALL: [Emotion; 9] = [
        Emotion::Neutral,
        Emotion::Calm,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Angry,
        Emotion::Fearful,
        Emotion::Disgust,
        Emotion::Surprised,
        Emotion::Contempt,
    ];

    /// The lower-case name (`"neutral"`, `"fearful"`, ...), as used by `Display` and serde.
    pub const fn name(self) -> &'static str {
        match self {
            Emotion::Neutral => "neutral",
            Emotion::Calm => "calm",
            Emotion::Happy => "happy",
            Emotion::Sad => "sad",
            Emotion::Angry => "angry",
            Emotion::Fearful => "fearful",
            Emotion::Disgust => "disgust",
            Emotion::Surprised => "surprised",
            Emotion::Contempt => "contempt",
        }
    }

    /// Position of this label in [`Emotion::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The label at position `index` of [`Emotion::ALL`], or `None` when out of range.
    pub const fn from_index(index: usize) -> Option<Emotion> {
        if index < Emotion::ALL.len() {
            Some(Emotion::ALL[index])
        } else {
            None
        }
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Emotion {
    type Err = Error;

    /// Parses a lower-case emotion name (as printed by `Display`) or a common synonym
    /// (`happiness`, `sadness`, `anger`, `fear`, `surprise`, `disgusted`), case-insensitively
    /// and ignoring surrounding whitespace. Anything else is [`Error::UnknownLabel`] with
    /// dataset `"facevox"`.
    fn from_str(s: &str) -> Result<Emotion> {
        match s.trim().to_ascii_lowercase().as_str() {
            "neutral" => Ok(Emotion::Neutral),
            "calm" => Ok(Emotion::Calm),
            "happy" | "happiness" => Ok(Emotion::Happy),
            "sad" | "sadness" => Ok(Emotion::Sad),
            "angry" | "anger" => Ok(Emotion::Angry),
            "fearful" | "fear" => Ok(Emotion::Fearful),
            "disgust" | "disgusted" => Ok(Emotion::Disgust),
            "surprised" | "surprise" => Ok(Emotion::Surprised),
            "contempt" => Ok(Emotion::Contempt),
            _ => Err(unknown(FACEVOX, s)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Label sets
// ---------------------------------------------------------------------------------------------

/// The voice branch's emotion labels, in RAVDESS code order: index `i` is RAVDESS emotion
/// code `i + 1` (`01` neutral ... `08` surprised).
pub const RAVDESS_EMOTIONS: [Emotion; 8] = [
    Emotion::Neutral,
    Emotion::Calm,
    Emotion::Happy,
    Emotion::Sad,
    Emotion::Angry,
    Emotion::Fearful,
    Emotion::Disgust,
    Emotion::Surprised,
];

/// The face branch's emotion labels, in FER+ `label.csv` column order (no calm; contempt
/// last).
pub const FACE_EMOTIONS: [Emotion; 8] = [
    Emotion::Neutral,
    Emotion::Happy,
    Emotion::Surprised,
    Emotion::Sad,
    Emotion::Angry,
    Emotion::Disgust,
    Emotion::Fearful,
    Emotion::Contempt,
];

/// Position of `emotion` in the label set `set` (for example [`FACE_EMOTIONS`]), or `None`
/// when the set does not contain it.
pub fn position(set: &[Emotion], emotion: Emotion) -> Option<usize> {
    set.iter().position(|&e| e == emotion)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_unknown<T: fmt::Debug>(r: Result<T>, want_dataset: &str) {
        match r {
            Err(Error::UnknownLabel { dataset, .. }) => assert_eq!(dataset, want_dataset),
            other => panic!("expected UnknownLabel({want_dataset}), got {other:?}"),
        }
    }

    // --- Gender / Emotion basics -------------------------------------------------------------

    #[test]
    fn display_names_are_lowercase() {
        assert_eq!(Gender::Male.to_string(), "male");
        assert_eq!(Gender::Female.to_string(), "female");
        assert_eq!(Emotion::Neutral.to_string(), "neutral");
        assert_eq!(Emotion::Fearful.to_string(), "fearful");
        assert_eq!(Emotion::Surprised.to_string(), "surprised");
        assert_eq!(format!("{:>8}", Emotion::Sad), "     sad");
        for e in Emotion::ALL {
            assert_eq!(e.to_string(), e.name());
        }
    }

    #[test]
    fn from_str_display_round_trip() {
        for g in Gender::ALL {
            assert_eq!(g.to_string().parse::<Gender>().unwrap(), g);
        }
        for e in Emotion::ALL {
            assert_eq!(e.to_string().parse::<Emotion>().unwrap(), e);
        }
    }

    #[test]
    fn from_str_synonyms_case_and_whitespace() {
        for (s, g) in [
            ("man", Gender::Male),
            ("M", Gender::Male),
            ("  MALE ", Gender::Male),
            ("woman", Gender::Female),
            ("f", Gender::Female),
            ("Female\n", Gender::Female),
        ] {
            assert_eq!(s.parse::<Gender>().unwrap(), g, "{s:?}");
        }
        for (s, e) in [
            ("happiness", Emotion::Happy),
            ("Sadness", Emotion::Sad),
            ("ANGER", Emotion::Angry),
            (" fear ", Emotion::Fearful),
            ("surprise", Emotion::Surprised),
            ("disgusted", Emotion::Disgust),
            ("Calm", Emotion::Calm),
            ("contempt", Emotion::Contempt),
        ] {
            assert_eq!(s.parse::<Emotion>().unwrap(), e, "{s:?}");
        }
    }

    #[test]
    fn from_str_rejects_unknown() {
        for s in ["", "x", "boredom", "males", "joy", "n"] {
            match s.parse::<Emotion>() {
                Err(Error::UnknownLabel { dataset, code }) => {
                    assert_eq!(dataset, "facevox");
                    assert_eq!(code, s);
                }
                other => panic!("{s:?}: {other:?}"),
            }
        }
        for s in ["", "other", "fm", "boy"] {
            assert_unknown(s.parse::<Gender>(), "facevox");
        }
    }

    #[test]
    fn index_round_trip() {
        for (i, g) in Gender::ALL.into_iter().enumerate() {
            assert_eq!(g.index(), i);
            assert_eq!(Gender::from_index(i), Some(g));
        }
        assert_eq!(Gender::from_index(2), None);
        for (i, e) in Emotion::ALL.into_iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(Emotion::from_index(i), Some(e));
        }
        assert_eq!(Emotion::from_index(9), None);
        assert_eq!(Emotion::from_index(usize::MAX), None);
    }

    #[test]
    fn ordering_follows_declaration() {
        let mut v = Emotion::ALL.to_vec();
        v.reverse();
        v.sort();
        assert_eq!(v, Emotion::ALL.to_vec());
        assert!(Gender::Male < Gender::Female);
    }

    #[test]
    fn serde_round_trip() {
        assert_eq!(
            serde_json::to_string(&Gender::Female).unwrap(),
            "\"female\""
        );
        assert_eq!(
            serde_json::to_string(&Emotion::Surprised).unwrap(),
            "\"surprised\""
        );
        for g in Gender::ALL {
            let json = serde_json::to_string(&g).unwrap();
            assert_eq!(json, format!("\"{g}\""));
            assert_eq!(serde_json::from_str::<Gender>(&json).unwrap(), g);
        }
        for e in Emotion::ALL {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{e}\""));
            assert_eq!(serde_json::from_str::<Emotion>(&json).unwrap(), e);
        }
        assert!(serde_json::from_str::<Emotion>("\"Happy\"").is_err());
    }

    // --- Label sets ---------------------------------------------------------------------------

    #[test]
    fn label_sets() {
        assert_eq!(position(&RAVDESS_EMOTIONS, Emotion::Neutral), Some(0));
        assert_eq!(position(&RAVDESS_EMOTIONS, Emotion::Surprised), Some(7));
        assert_eq!(position(&RAVDESS_EMOTIONS, Emotion::Contempt), None);
        assert_eq!(position(&FACE_EMOTIONS, Emotion::Contempt), Some(7));
        assert_eq!(position(&FACE_EMOTIONS, Emotion::Calm), None);
        assert_eq!(position(&FACE_EMOTIONS, Emotion::Surprised), Some(2));
        // Every emotion is in at least one branch's set.
        for e in Emotion::ALL {
            assert!(
                position(&RAVDESS_EMOTIONS, e).is_some() || position(&FACE_EMOTIONS, e).is_some()
            );
        }
    }
}
