//! Label vocabularies and dataset label-code parsers.
//!
//! This module holds:
//!
//! * the two label types facevox predicts, [`Gender`] and [`Emotion`], with their
//!   lower-case names ([`Display`](std::fmt::Display) / [`FromStr`]) and index helpers;
//! * the emotion label sets each branch is trained on: [`RAVDESS_EMOTIONS`] for the voice
//!   branch and [`FACE_EMOTIONS`] for the face branch, plus [`position`] to look a label up in
//!   a set;
//! * parsers for the label codes of the datasets facevox is trained and evaluated on:
//!   RAVDESS file names ([`RavdessName`]), FER+ `label.csv` columns ([`FERPLUS_COLUMNS`],
//!   [`Emotion::from_ferplus_column`]), CREMA-D codes and file names ([`CremaDName`]) and
//!   Berlin EmoDB codes and file names ([`EmoDbName`]).
//!
//! A code that a dataset does not define is an [`Error::UnknownLabel`]; a code the dataset
//! does define but that has no facevox equivalent (EmoDB's boredom, FER+'s `unknown` and `NF`
//! columns) is an [`Error::UnmappedLabel`], so callers can skip such samples deliberately
//! instead of mislabelling them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const FACEVOX: &str = "facevox";
const RAVDESS: &str = "RAVDESS";
const FERPLUS: &str = "FER+";
const CREMA_D: &str = "CREMA-D";
const EMODB: &str = "EmoDB";

fn unknown(dataset: &'static str, code: impl Into<String>) -> Error {
    Error::UnknownLabel {
        dataset,
        code: code.into(),
    }
}

fn unmapped(dataset: &'static str, code: impl Into<String>) -> Error {
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
fn file_stem(path: &str) -> &str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    name.split('.').next().unwrap_or(name)
}

/// Parses exactly two ASCII digits.
fn two_digits(s: &str) -> Option<u8> {
    let b = s.as_bytes();
    if b.len() == 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit() {
        Some((b[0] - b'0') * 10 + (b[1] - b'0'))
    } else {
        None
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

    /// Parses a RAVDESS emotion code, the third field of a RAVDESS file name: exactly two
    /// digits `01` (neutral) to `08` (surprised), in the order of [`RAVDESS_EMOTIONS`].
    ///
    /// Surrounding whitespace is ignored. Any other code is [`Error::UnknownLabel`] with
    /// dataset `"RAVDESS"`.
    pub fn from_ravdess_code(code: &str) -> Result<Emotion> {
        match two_digits(code.trim()) {
            Some(n @ 1..=8) => Ok(RAVDESS_EMOTIONS[usize::from(n) - 1]),
            _ => Err(unknown(RAVDESS, code)),
        }
    }

    /// The two-digit RAVDESS code of this emotion (`"01"`..`"08"`), or `None` for contempt,
    /// which RAVDESS does not use.
    pub fn ravdess_code(self) -> Option<&'static str> {
        const CODES: [&str; 8] = ["01", "02", "03", "04", "05", "06", "07", "08"];
        position(&RAVDESS_EMOTIONS, self).map(|i| CODES[i])
    }

    /// Maps a FER+ `label.csv` vote column name (see [`FERPLUS_COLUMNS`]) to an emotion.
    ///
    /// Matching ignores case and surrounding whitespace. The columns `unknown` and `NF` (not a
    /// face) are valid FER+ columns without an emotion and give [`Error::UnmappedLabel`] with
    /// dataset `"FER+"`; any other name is [`Error::UnknownLabel`].
    pub fn from_ferplus_column(column: &str) -> Result<Emotion> {
        match column.trim().to_ascii_lowercase().as_str() {
            "neutral" => Ok(Emotion::Neutral),
            "happiness" => Ok(Emotion::Happy),
            "surprise" => Ok(Emotion::Surprised),
            "sadness" => Ok(Emotion::Sad),
            "anger" => Ok(Emotion::Angry),
            "disgust" => Ok(Emotion::Disgust),
            "fear" => Ok(Emotion::Fearful),
            "contempt" => Ok(Emotion::Contempt),
            "unknown" => Err(unmapped(FERPLUS, "unknown")),
            "nf" => Err(unmapped(FERPLUS, "NF")),
            _ => Err(unknown(FERPLUS, column)),
        }
    }

    /// Parses a CREMA-D emotion code: `ANG`, `DIS`, `FEA`, `HAP`, `NEU` or `SAD`.
    ///
    /// Matching ignores case and surrounding whitespace. Any other code is
    /// [`Error::UnknownLabel`] with dataset `"CREMA-D"`.
    pub fn from_crema_d_code(code: &str) -> Result<Emotion> {
        match code.trim().to_ascii_uppercase().as_str() {
            "ANG" => Ok(Emotion::Angry),
            "DIS" => Ok(Emotion::Disgust),
            "FEA" => Ok(Emotion::Fearful),
            "HAP" => Ok(Emotion::Happy),
            "NEU" => Ok(Emotion::Neutral),
            "SAD" => Ok(Emotion::Sad),
            _ => Err(unknown(CREMA_D, code)),
        }
    }

    /// Parses a Berlin EmoDB emotion letter (the German initial), case-insensitively:
    /// `W` (Wut, angry), `E` (Ekel, disgust), `A` (Angst, fearful), `F` (Freude, happy),
    /// `T` (Trauer, sad), `N` (neutral).
    ///
    /// `L` (Langeweile, boredom) is a valid EmoDB code without a facevox emotion and gives
    /// [`Error::UnmappedLabel`] `{ dataset: "EmoDB", code: "L" }`. Any other letter is
    /// [`Error::UnknownLabel`]. See [`Emotion::from_emodb_code`] for string input.
    pub fn from_emodb_letter(letter: char) -> Result<Emotion> {
        match letter.to_ascii_uppercase() {
            'W' => Ok(Emotion::Angry),
            'E' => Ok(Emotion::Disgust),
            'A' => Ok(Emotion::Fearful),
            'F' => Ok(Emotion::Happy),
            'T' => Ok(Emotion::Sad),
            'N' => Ok(Emotion::Neutral),
            'L' => Err(unmapped(EMODB, "L")),
            _ => Err(unknown(EMODB, letter)),
        }
    }

    /// Parses a Berlin EmoDB emotion code given as a string of one letter (surrounding
    /// whitespace ignored); otherwise the same as [`Emotion::from_emodb_letter`]. A string
    /// that is not exactly one letter is [`Error::UnknownLabel`].
    pub fn from_emodb_code(code: &str) -> Result<Emotion> {
        let mut chars = code.trim().chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Emotion::from_emodb_letter(c),
            _ => Err(unknown(EMODB, code)),
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

/// The vote columns of FER+ `label.csv`, in file order (after the image name column).
///
/// The first eight map to [`FACE_EMOTIONS`] in the same order; `unknown` and `NF` (not a
/// face) have no emotion.
pub const FERPLUS_COLUMNS: [&str; 10] = [
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
];

/// Position of `emotion` in the label set `set` (for example [`FACE_EMOTIONS`]), or `None`
/// when the set does not contain it.
pub fn position(set: &[Emotion], emotion: Emotion) -> Option<usize> {
    set.iter().position(|&e| e == emotion)
}

// ---------------------------------------------------------------------------------------------
// RAVDESS
// ---------------------------------------------------------------------------------------------

/// RAVDESS modality, the first file-name field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RavdessModality {
    /// `01`: full audio-video.
    FullAudioVideo,
    /// `02`: video only.
    VideoOnly,
    /// `03`: audio only.
    AudioOnly,
}

/// RAVDESS vocal channel, the second file-name field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VocalChannel {
    /// `01`: speech.
    Speech,
    /// `02`: song.
    Song,
}

/// RAVDESS emotional intensity, the fourth file-name field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intensity {
    /// `01`: normal intensity.
    Normal,
    /// `02`: strong intensity (never used with neutral).
    Strong,
}

/// The fields of a RAVDESS file name `MM-VV-EE-II-SS-RR-AA.ext`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RavdessName {
    /// Modality (`MM`).
    pub modality: RavdessModality,
    /// Vocal channel (`VV`).
    pub vocal_channel: VocalChannel,
    /// Emotion (`EE`, see [`Emotion::from_ravdess_code`]).
    pub emotion: Emotion,
    /// Emotional intensity (`II`).
    pub intensity: Intensity,
    /// Statement (`SS`): 1 ("Kids are talking by the door") or 2 ("Dogs are sitting by the
    /// door").
    pub statement: u8,
    /// Repetition (`RR`): 1 or 2.
    pub repetition: u8,
    /// Actor (`AA`): 1 to 24; odd actors are male, even actors female.
    pub actor: u8,
}

impl RavdessName {
    /// Parses a RAVDESS file name, or a path ending in one, with any extension (or none):
    /// `"x/Actor_01/03-01-07-02-02-01-01.flac"`, `"01-01-07-02-02-01-01.mp4"`.
    ///
    /// The name must have exactly seven `-`-separated fields of two digits each, every one in
    /// range. Combinations RAVDESS never recorded are rejected too: neutral with strong
    /// intensity, and song with disgust or surprised (RAVDESS song covers only neutral, calm,
    /// happy, sad, angry and fearful). Every failure is [`Error::UnknownLabel`] with dataset
    /// `"RAVDESS"` and the file name without directories and extension as the code.
    pub fn parse(file_name_or_path: &str) -> Result<RavdessName> {
        let stem = file_stem(file_name_or_path);
        let err = || unknown(RAVDESS, stem);

        let mut fields = [0u8; 7];
        let mut parts = stem.split('-');
        for field in fields.iter_mut() {
            *field = parts.next().and_then(two_digits).ok_or_else(err)?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        let [mm, vv, ee, ii, ss, rr, aa] = fields;

        let modality = match mm {
            1 => RavdessModality::FullAudioVideo,
            2 => RavdessModality::VideoOnly,
            3 => RavdessModality::AudioOnly,
            _ => return Err(err()),
        };
        let vocal_channel = match vv {
            1 => VocalChannel::Speech,
            2 => VocalChannel::Song,
            _ => return Err(err()),
        };
        let emotion = match ee {
            1..=8 => RAVDESS_EMOTIONS[usize::from(ee) - 1],
            _ => return Err(err()),
        };
        let intensity = match ii {
            1 => Intensity::Normal,
            2 => Intensity::Strong,
            _ => return Err(err()),
        };
        if !matches!(ss, 1 | 2) || !matches!(rr, 1 | 2) || !(1..=24).contains(&aa) {
            return Err(err());
        }
        if emotion == Emotion::Neutral && intensity == Intensity::Strong {
            return Err(err());
        }
        if vocal_channel == VocalChannel::Song
            && matches!(emotion, Emotion::Disgust | Emotion::Surprised)
        {
            return Err(err());
        }

        Ok(RavdessName {
            modality,
            vocal_channel,
            emotion,
            intensity,
            statement: ss,
            repetition: rr,
            actor: aa,
        })
    }

    /// The actor's perceived gender as labelled by RAVDESS: odd actor numbers are male, even
    /// ones female.
    pub fn gender(&self) -> Gender {
        if self.actor % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }
}

impl fmt::Display for RavdessName {
    /// Writes the file stem, for example `03-01-07-02-02-01-01`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mm = match self.modality {
            RavdessModality::FullAudioVideo => 1,
            RavdessModality::VideoOnly => 2,
            RavdessModality::AudioOnly => 3,
        };
        let vv = match self.vocal_channel {
            VocalChannel::Speech => 1,
            VocalChannel::Song => 2,
        };
        let ee = self.emotion.ravdess_code().unwrap_or("??");
        let ii = match self.intensity {
            Intensity::Normal => 1,
            Intensity::Strong => 2,
        };
        write!(
            f,
            "{mm:02}-{vv:02}-{ee}-{ii:02}-{:02}-{:02}-{:02}",
            self.statement, self.repetition, self.actor
        )
    }
}

// ---------------------------------------------------------------------------------------------
// CREMA-D
// ---------------------------------------------------------------------------------------------

/// The twelve CREMA-D sentence codes.
pub const CREMA_D_SENTENCES: [&str; 12] = [
    "IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI",
];

/// CREMA-D emotion level, the last file-name field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CremaDLevel {
    /// `LO`: low.
    Low,
    /// `MD`: medium.
    Medium,
    /// `HI`: high.
    High,
    /// `XX`: unspecified.
    Unspecified,
}

/// The fields of a CREMA-D file name `AAAA_SSS_EEE_LL.ext`, for example `1001_DFA_ANG_XX.wav`.
///
/// CREMA-D records speaker gender in a separate demographics file, so no gender is derived
/// from the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CremaDName {
    /// Actor id, 1001 to 1091.
    pub actor: u16,
    /// Sentence code, one of [`CREMA_D_SENTENCES`] (upper case).
    pub sentence: String,
    /// Emotion (see [`Emotion::from_crema_d_code`]).
    pub emotion: Emotion,
    /// Emotion level.
    pub level: CremaDLevel,
}

impl CremaDName {
    /// Parses a CREMA-D file name, or a path ending in one, with any extension (or none).
    ///
    /// The name must have exactly four `_`-separated fields: a four-digit actor id from 1001
    /// to 1091, one of the [`CREMA_D_SENTENCES`], an emotion code and a level (`LO`, `MD`,
    /// `HI` or `XX`). Letter fields are matched case-insensitively. Every failure is
    /// [`Error::UnknownLabel`] with dataset `"CREMA-D"` and the file name without directories
    /// and extension as the code.
    pub fn parse(file_name_or_path: &str) -> Result<CremaDName> {
        let stem = file_stem(file_name_or_path);
        let err = || unknown(CREMA_D, stem);

        let parts: Vec<&str> = stem.split('_').collect();
        let [actor, sentence, emotion, level] = parts.as_slice() else {
            return Err(err());
        };

        if actor.len() != 4 || !actor.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let actor: u16 = actor.parse().map_err(|_| err())?;
        if !(1001..=1091).contains(&actor) {
            return Err(err());
        }

        let sentence = sentence.to_ascii_uppercase();
        if !CREMA_D_SENTENCES.contains(&sentence.as_str()) {
            return Err(err());
        }

        if emotion.trim() != *emotion {
            return Err(err());
        }
        let emotion = Emotion::from_crema_d_code(emotion).map_err(|_| err())?;

        let level = match level.to_ascii_uppercase().as_str() {
            "LO" => CremaDLevel::Low,
            "MD" => CremaDLevel::Medium,
            "HI" => CremaDLevel::High,
            "XX" => CremaDLevel::Unspecified,
            _ => return Err(err()),
        };

        Ok(CremaDName {
            actor,
            sentence,
            emotion,
            level,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Berlin EmoDB
// ---------------------------------------------------------------------------------------------

/// The ten Berlin EmoDB speakers and their perceived gender as labelled by the dataset.
pub const EMODB_SPEAKERS: [(u8, Gender); 10] = [
    (3, Gender::Male),
    (8, Gender::Female),
    (9, Gender::Female),
    (10, Gender::Male),
    (11, Gender::Male),
    (12, Gender::Male),
    (13, Gender::Female),
    (14, Gender::Female),
    (15, Gender::Male),
    (16, Gender::Female),
];

/// The ten Berlin EmoDB text codes.
pub const EMODB_TEXTS: [&str; 10] = [
    "a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10",
];

/// The fields of a Berlin EmoDB file name `SSTTTEV.ext`, for example `03a01Fa.wav`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmoDbName {
    /// Speaker number, one of those in [`EMODB_SPEAKERS`].
    pub speaker: u8,
    /// Text code, one of [`EMODB_TEXTS`] (lower case).
    pub text: String,
    /// Emotion (see [`Emotion::from_emodb_letter`]).
    pub emotion: Emotion,
    /// Version letter (`a`, `b`, ...), lower case.
    pub version: char,
}

impl EmoDbName {
    /// Parses a Berlin EmoDB file name, or a path ending in one, with any extension (or none).
    ///
    /// The stem must be seven characters: a two-digit speaker from [`EMODB_SPEAKERS`], a text
    /// code from [`EMODB_TEXTS`], the emotion letter at index 5 and an ASCII version letter.
    /// Letters are matched case-insensitively. A malformed name is [`Error::UnknownLabel`]
    /// with dataset `"EmoDB"` and the file name without directories and extension as the code;
    /// a well-formed boredom recording (`L`) is [`Error::UnmappedLabel`]
    /// `{ dataset: "EmoDB", code: "L" }`, so callers can skip those files deliberately.
    pub fn parse(file_name_or_path: &str) -> Result<EmoDbName> {
        let stem = file_stem(file_name_or_path);
        let err = || unknown(EMODB, stem);

        if stem.len() != 7 || !stem.is_ascii() {
            return Err(err());
        }
        let speaker = two_digits(&stem[0..2]).ok_or_else(err)?;
        if emodb_speaker_gender(speaker).is_none() {
            return Err(err());
        }
        let text = stem[2..5].to_ascii_lowercase();
        if !EMODB_TEXTS.contains(&text.as_str()) {
            return Err(err());
        }
        let bytes = stem.as_bytes();
        let version = char::from(bytes[6]);
        if !version.is_ascii_alphabetic() {
            return Err(err());
        }
        let emotion = Emotion::from_emodb_letter(char::from(bytes[5])).map_err(|e| match e {
            Error::UnmappedLabel { .. } => e,
            _ => err(),
        })?;

        Ok(EmoDbName {
            speaker,
            text,
            emotion,
            version: version.to_ascii_lowercase(),
        })
    }

    /// The speaker's perceived gender as labelled by EmoDB (see [`EMODB_SPEAKERS`]).
    ///
    /// Always `Some` for a name returned by [`EmoDbName::parse`]; `None` only for a value
    /// built by hand with a speaker number EmoDB does not have.
    pub fn gender(&self) -> Option<Gender> {
        emodb_speaker_gender(self.speaker)
    }
}

/// The perceived gender EmoDB labels `speaker` with (see [`EMODB_SPEAKERS`]), or `None` for a
/// number that is not an EmoDB speaker.
pub fn emodb_speaker_gender(speaker: u8) -> Option<Gender> {
    EMODB_SPEAKERS
        .iter()
        .find(|&&(s, _)| s == speaker)
        .map(|&(_, g)| g)
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

    fn assert_unmapped<T: fmt::Debug>(r: Result<T>, want_dataset: &str, want_code: &str) {
        match r {
            Err(Error::UnmappedLabel { dataset, code }) => {
                assert_eq!(dataset, want_dataset);
                assert_eq!(code, want_code);
            }
            other => panic!("expected UnmappedLabel({want_dataset}, {want_code}), got {other:?}"),
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

        let r = RavdessName::parse("03-02-06-02-01-02-18.wav").unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"audio_only\""), "{json}");
        assert!(json.contains("\"song\""), "{json}");
        assert!(json.contains("\"fearful\""), "{json}");
        assert_eq!(serde_json::from_str::<RavdessName>(&json).unwrap(), r);

        let c = CremaDName::parse("1001_DFA_ANG_XX.wav").unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<CremaDName>(&json).unwrap(), c);

        let m = EmoDbName::parse("03a01Fa.wav").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<EmoDbName>(&json).unwrap(), m);
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
        // FER+ columns line up with the face label set.
        for (i, col) in FERPLUS_COLUMNS.iter().take(8).enumerate() {
            assert_eq!(Emotion::from_ferplus_column(col).unwrap(), FACE_EMOTIONS[i]);
        }
        // Every emotion is in at least one branch's set.
        for e in Emotion::ALL {
            assert!(
                position(&RAVDESS_EMOTIONS, e).is_some() || position(&FACE_EMOTIONS, e).is_some()
            );
        }
    }

    // --- RAVDESS ------------------------------------------------------------------------------

    #[test]
    fn ravdess_emotion_codes() {
        let want = [
            ("01", Emotion::Neutral),
            ("02", Emotion::Calm),
            ("03", Emotion::Happy),
            ("04", Emotion::Sad),
            ("05", Emotion::Angry),
            ("06", Emotion::Fearful),
            ("07", Emotion::Disgust),
            ("08", Emotion::Surprised),
        ];
        for (code, e) in want {
            assert_eq!(Emotion::from_ravdess_code(code).unwrap(), e);
            assert_eq!(e.ravdess_code(), Some(code));
        }
        assert_eq!(Emotion::Contempt.ravdess_code(), None);
        for bad in ["00", "09", "1", "001", "x1", "", "+1", "10"] {
            assert_unknown(Emotion::from_ravdess_code(bad), "RAVDESS");
        }
    }

    #[test]
    fn ravdess_name_parses_paths_and_extensions() {
        let r = RavdessName::parse("x/Actor_01/03-01-07-02-02-01-01.flac").unwrap();
        assert_eq!(
            r,
            RavdessName {
                modality: RavdessModality::AudioOnly,
                vocal_channel: VocalChannel::Speech,
                emotion: Emotion::Disgust,
                intensity: Intensity::Strong,
                statement: 2,
                repetition: 1,
                actor: 1,
            }
        );
        assert_eq!(r.gender(), Gender::Male);
        assert_eq!(r.to_string(), "03-01-07-02-02-01-01");

        let v = RavdessName::parse("01-01-07-02-02-01-01.mp4").unwrap();
        assert_eq!(v.modality, RavdessModality::FullAudioVideo);

        let w = RavdessName::parse(r"C:\data\Actor_24\02-02-01-01-01-02-24.mp4").unwrap();
        assert_eq!(w.modality, RavdessModality::VideoOnly);
        assert_eq!(w.vocal_channel, VocalChannel::Song);
        assert_eq!(w.emotion, Emotion::Neutral);
        assert_eq!(w.intensity, Intensity::Normal);
        assert_eq!(w.repetition, 2);
        assert_eq!(w.actor, 24);
        assert_eq!(w.gender(), Gender::Female);

        // No extension is fine too.
        assert!(RavdessName::parse("03-01-05-01-01-01-12").is_ok());
    }

    #[test]
    fn ravdess_name_display_round_trip() {
        for name in [
            "03-01-07-02-02-01-01",
            "01-02-06-02-01-02-18",
            "02-01-08-01-02-02-24",
        ] {
            assert_eq!(RavdessName::parse(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn ravdess_neutral_strong_is_rejected() {
        match RavdessName::parse("03-01-01-02-01-01-01.wav") {
            Err(Error::UnknownLabel { dataset, code }) => {
                assert_eq!(dataset, "RAVDESS");
                assert_eq!(code, "03-01-01-02-01-01-01");
            }
            other => panic!("{other:?}"),
        }
        // Neutral at normal intensity and calm at strong intensity are fine.
        assert!(RavdessName::parse("03-01-01-01-01-01-01.wav").is_ok());
        assert!(RavdessName::parse("03-01-02-02-01-01-01.wav").is_ok());
    }

    #[test]
    fn ravdess_song_without_disgust_or_surprise() {
        assert!(RavdessName::parse("03-02-06-02-01-01-01.wav").is_ok());
        assert_unknown(RavdessName::parse("03-02-07-01-01-01-01.wav"), "RAVDESS");
        assert_unknown(RavdessName::parse("03-02-08-01-01-01-01.wav"), "RAVDESS");
    }

    #[test]
    fn ravdess_name_rejects_malformed() {
        for bad in [
            "",
            "dir/",
            "03-01-07-02-02-01.wav",       // six fields
            "03-01-07-02-02-01-01-01.wav", // eight fields
            "03-01-07-02-02-01-1.wav",     // one digit
            "03-01-07-02-02-01-001.wav",   // three digits
            "03-01-0x-02-02-01-01.wav",    // non-numeric
            "03-01-07-02-02-01-+1.wav",
            "03_01_07_02_02_01_01.wav", // wrong separator
            "00-01-07-02-02-01-01.wav", // modality
            "04-01-07-02-02-01-01.wav",
            "03-00-07-02-02-01-01.wav", // vocal channel
            "03-03-07-02-02-01-01.wav",
            "03-01-00-02-02-01-01.wav", // emotion
            "03-01-09-02-02-01-01.wav",
            "03-01-07-00-02-01-01.wav", // intensity
            "03-01-07-03-02-01-01.wav",
            "03-01-07-02-00-01-01.wav", // statement
            "03-01-07-02-03-01-01.wav",
            "03-01-07-02-02-00-01.wav", // repetition
            "03-01-07-02-02-03-01.wav",
            "03-01-07-02-02-01-00.wav", // actor
            "03-01-07-02-02-01-25.wav",
            "03-01-07-02-02-01-01-.wav",
            " 03-01-07-02-02-01-01.wav",
        ] {
            assert_unknown(RavdessName::parse(bad), "RAVDESS");
        }
    }

    #[test]
    fn ravdess_gender_from_actor_parity() {
        for actor in 1..=24u8 {
            let r = RavdessName::parse(&format!("03-01-03-01-01-01-{actor:02}.wav")).unwrap();
            let want = if actor % 2 == 1 {
                Gender::Male
            } else {
                Gender::Female
            };
            assert_eq!(r.gender(), want, "actor {actor}");
        }
    }

    // --- FER+ ---------------------------------------------------------------------------------

    #[test]
    fn ferplus_columns() {
        for (col, e) in [
            ("neutral", Emotion::Neutral),
            ("happiness", Emotion::Happy),
            ("surprise", Emotion::Surprised),
            ("sadness", Emotion::Sad),
            ("anger", Emotion::Angry),
            ("disgust", Emotion::Disgust),
            ("fear", Emotion::Fearful),
            ("contempt", Emotion::Contempt),
            (" Contempt ", Emotion::Contempt),
        ] {
            assert_eq!(Emotion::from_ferplus_column(col).unwrap(), e, "{col:?}");
        }
        assert_unmapped(Emotion::from_ferplus_column("unknown"), "FER+", "unknown");
        assert_unmapped(Emotion::from_ferplus_column("NF"), "FER+", "NF");
        assert_unmapped(Emotion::from_ferplus_column("nf"), "FER+", "NF");
        for bad in ["", "calm", "happy", "Image name", "usage"] {
            assert_unknown(Emotion::from_ferplus_column(bad), "FER+");
        }
        // Every listed column is either an emotion or explicitly unmapped.
        for col in FERPLUS_COLUMNS {
            match Emotion::from_ferplus_column(col) {
                Ok(_) | Err(Error::UnmappedLabel { .. }) => {}
                other => panic!("{col}: {other:?}"),
            }
        }
    }

    // --- CREMA-D ------------------------------------------------------------------------------

    #[test]
    fn crema_d_codes() {
        for (code, e) in [
            ("ANG", Emotion::Angry),
            ("DIS", Emotion::Disgust),
            ("FEA", Emotion::Fearful),
            ("HAP", Emotion::Happy),
            ("NEU", Emotion::Neutral),
            ("SAD", Emotion::Sad),
            ("sad", Emotion::Sad),
        ] {
            assert_eq!(Emotion::from_crema_d_code(code).unwrap(), e);
        }
        for bad in ["", "SUR", "AN", "ANGR", "CAL"] {
            assert_unknown(Emotion::from_crema_d_code(bad), "CREMA-D");
        }
    }

    #[test]
    fn crema_d_name_parses() {
        let c = CremaDName::parse("AudioWAV/1001_DFA_ANG_XX.wav").unwrap();
        assert_eq!(
            c,
            CremaDName {
                actor: 1001,
                sentence: "DFA".to_string(),
                emotion: Emotion::Angry,
                level: CremaDLevel::Unspecified,
            }
        );
        let c = CremaDName::parse("1091_IEO_HAP_HI.mp3").unwrap();
        assert_eq!(c.actor, 1091);
        assert_eq!(c.sentence, "IEO");
        assert_eq!(c.emotion, Emotion::Happy);
        assert_eq!(c.level, CremaDLevel::High);
        assert_eq!(
            CremaDName::parse("1050_IEO_SAD_LO").unwrap().level,
            CremaDLevel::Low
        );
        assert_eq!(
            CremaDName::parse("1050_IEO_FEA_MD.flv").unwrap().level,
            CremaDLevel::Medium
        );
    }

    #[test]
    fn crema_d_name_rejects_malformed() {
        for bad in [
            "",
            "1001_DFA_ANG.wav",
            "1001_DFA_ANG_XX_YY.wav",
            "1000_DFA_ANG_XX.wav",
            "1092_DFA_ANG_XX.wav",
            "101_DFA_ANG_XX.wav",
            "+101_DFA_ANG_XX.wav",
            "1001_ABC_ANG_XX.wav",
            "1001_DF_ANG_XX.wav",
            "1001_DFA_SUR_XX.wav",
            "1001_DFA_ANG_ZZ.wav",
            "1001-DFA-ANG-XX.wav",
            "1001_DFA_ ANG_XX.wav",
        ] {
            match CremaDName::parse(bad) {
                Err(Error::UnknownLabel { dataset, code }) => {
                    assert_eq!(dataset, "CREMA-D");
                    assert!(!code.ends_with(".wav"), "{code}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    // --- EmoDB --------------------------------------------------------------------------------

    #[test]
    fn emodb_codes() {
        for (code, e) in [
            ("W", Emotion::Angry),
            ("E", Emotion::Disgust),
            ("A", Emotion::Fearful),
            ("F", Emotion::Happy),
            ("T", Emotion::Sad),
            ("N", Emotion::Neutral),
            ("n", Emotion::Neutral),
        ] {
            assert_eq!(Emotion::from_emodb_code(code).unwrap(), e);
            let c = code.chars().next().unwrap();
            assert_eq!(Emotion::from_emodb_letter(c).unwrap(), e);
        }
        for bad in ["", "X", "WW", "B", "1"] {
            assert_unknown(Emotion::from_emodb_code(bad), "EmoDB");
        }
        assert_unknown(Emotion::from_emodb_letter('Z'), "EmoDB");
    }

    #[test]
    fn emodb_boredom_is_unmapped() {
        assert_unmapped(Emotion::from_emodb_code("L"), "EmoDB", "L");
        assert_unmapped(Emotion::from_emodb_letter('L'), "EmoDB", "L");
        assert_unmapped(Emotion::from_emodb_letter('l'), "EmoDB", "L");
        assert_unmapped(EmoDbName::parse("wav/03a01La.wav"), "EmoDB", "L");
        // A malformed name is UnknownLabel even when it carries an L.
        assert_unknown(EmoDbName::parse("99a01La.wav"), "EmoDB");
    }

    #[test]
    fn emodb_name_parses() {
        let m = EmoDbName::parse("wav/03a01Fa.wav").unwrap();
        assert_eq!(
            m,
            EmoDbName {
                speaker: 3,
                text: "a01".to_string(),
                emotion: Emotion::Happy,
                version: 'a',
            }
        );
        assert_eq!(m.gender(), Some(Gender::Male));

        let m = EmoDbName::parse("16b10Tb.wav").unwrap();
        assert_eq!(m.speaker, 16);
        assert_eq!(m.text, "b10");
        assert_eq!(m.emotion, Emotion::Sad);
        assert_eq!(m.version, 'b');
        assert_eq!(m.gender(), Some(Gender::Female));

        assert_eq!(EmoDbName::parse("11b03Wc").unwrap().emotion, Emotion::Angry);
    }

    #[test]
    fn emodb_speaker_genders() {
        let want = [
            (3, Gender::Male),
            (8, Gender::Female),
            (9, Gender::Female),
            (10, Gender::Male),
            (11, Gender::Male),
            (12, Gender::Male),
            (13, Gender::Female),
            (14, Gender::Female),
            (15, Gender::Male),
            (16, Gender::Female),
        ];
        for (speaker, g) in want {
            let m = EmoDbName::parse(&format!("{speaker:02}a02Na.wav")).unwrap();
            assert_eq!(m.gender(), Some(g), "speaker {speaker}");
            assert_eq!(emodb_speaker_gender(speaker), Some(g));
        }
        assert_eq!(emodb_speaker_gender(1), None);
        let hand_built = EmoDbName {
            speaker: 4,
            text: "a01".to_string(),
            emotion: Emotion::Sad,
            version: 'a',
        };
        assert_eq!(hand_built.gender(), None);
    }

    #[test]
    fn emodb_name_rejects_malformed() {
        for bad in [
            "",
            "03a01F.wav",   // too short
            "03a01Faa.wav", // too long
            "01a01Fa.wav",  // not a speaker
            "3xa01Fa.wav",  // non-numeric speaker
            "03a03Fa.wav",  // not a text code
            "03c01Fa.wav",
            "03a01Xa.wav", // not an emotion
            "03a01F1.wav", // version not a letter
            "03a01Fä.wav", // non-ASCII
            "03-a01-F-a.wav",
        ] {
            assert_unknown(EmoDbName::parse(bad), "EmoDB");
        }
    }
}
