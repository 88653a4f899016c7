//! CREMA-D and Berlin EmoDB: their label codes and file names ([`CremaDName`], [`EmoDbName`])
//! and the loaders that label recordings from them.
//!
//! Both loaders return the samples they could label plus a [`LoadReport`] that counts what
//! they had to leave out, so a user sees, for example, that EmoDB's boredom recordings were
//! skipped because facevox has no such emotion (they are never renamed into another class).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{
    file_stem, files_with_extensions, two_digits, unknown_label, unmapped_label, Sample,
    VOICE_EXTENSIONS,
};
use crate::labels::{Emotion, Gender};
use crate::{Error, Result};

const CREMA_D: &str = "CREMA-D";
const EMODB: &str = "EmoDB";

// ---------------------------------------------------------------------------------------------
// CREMA-D file names
// ---------------------------------------------------------------------------------------------

/// CREMA-D emotion codes.
impl Emotion {
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
            _ => Err(unknown_label(CREMA_D, code)),
        }
    }
}

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
        let err = || unknown_label(CREMA_D, stem);

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
// Berlin EmoDB file names
// ---------------------------------------------------------------------------------------------

/// Berlin EmoDB emotion codes.
impl Emotion {
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
            'L' => Err(unmapped_label(EMODB, "L")),
            _ => Err(unknown_label(EMODB, letter)),
        }
    }

    /// Parses a Berlin EmoDB emotion code given as a string of one letter (surrounding
    /// whitespace ignored); otherwise the same as [`Emotion::from_emodb_letter`]. A string
    /// that is not exactly one letter is [`Error::UnknownLabel`].
    pub fn from_emodb_code(code: &str) -> Result<Emotion> {
        let mut chars = code.trim().chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Emotion::from_emodb_letter(c),
            _ => Err(unknown_label(EMODB, code)),
        }
    }
}

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
        let err = || unknown_label(EMODB, stem);

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
// Loaders
// ---------------------------------------------------------------------------------------------

/// What a loader skipped, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Samples loaded.
    pub loaded: usize,
    /// Files whose name does not follow the dataset's scheme.
    pub unparseable: Vec<String>,
    /// Files with a valid label that facevox cannot represent, by label code.
    pub unmapped: BTreeMap<String, usize>,
}

fn classify(report: &mut LoadReport, path: &Path, err: Error) {
    match err {
        Error::UnmappedLabel { code, .. } => *report.unmapped.entry(code).or_default() += 1,
        _ => report.unparseable.push(path.display().to_string()),
    }
}

/// Loads CREMA-D (`1001_DFA_ANG_XX.wav`). Gender comes from `VideoDemographics.csv`
/// (`ActorID,Age,Sex,Race,Ethnicity`), looked for in `dir` and its parent; without it samples
/// carry emotion only. Groups are `crema_NNNN`.
pub fn load_crema_d(dir: impl AsRef<Path>) -> Result<(Vec<Sample>, LoadReport)> {
    let dir = dir.as_ref();
    let demographics = [
        dir.join("VideoDemographics.csv"),
        dir.join("../VideoDemographics.csv"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .map(|p| read_crema_demographics(&p))
    .transpose()?
    .unwrap_or_default();
    let mut report = LoadReport::default();
    let mut samples = Vec::new();
    for path in files_with_extensions(dir, &VOICE_EXTENSIONS)? {
        match CremaDName::parse(&path.to_string_lossy()) {
            Ok(name) => samples.push(Sample {
                face: None,
                voice: Some(path),
                gender: demographics.get(&name.actor).copied(),
                emotion: Some(name.emotion),
                group: Some(format!("crema_{}", name.actor)),
            }),
            Err(e) => classify(&mut report, &path, e),
        }
    }
    report.loaded = samples.len();
    Ok((samples, report))
}

fn read_crema_demographics(path: &Path) -> Result<BTreeMap<u16, Gender>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() < 3 {
            continue;
        }
        let (Ok(id), Ok(gender)) = (cols[0].parse::<u16>(), cols[2].parse::<Gender>()) else {
            continue;
        };
        out.insert(id, gender);
    }
    Ok(out)
}

/// Loads Berlin EmoDB (`03a01Fa.wav`): emotion from the letter code, gender from the speaker
/// table. Boredom (`L`) has no facevox emotion: those files are counted in
/// [`LoadReport::unmapped`] and left out. Groups are `emodb_NN`.
pub fn load_emodb(dir: impl AsRef<Path>) -> Result<(Vec<Sample>, LoadReport)> {
    let mut report = LoadReport::default();
    let mut samples = Vec::new();
    for path in files_with_extensions(dir.as_ref(), &VOICE_EXTENSIONS)? {
        match EmoDbName::parse(&path.to_string_lossy()) {
            Ok(name) => samples.push(Sample {
                face: None,
                voice: Some(path),
                gender: name.gender(),
                emotion: Some(name.emotion),
                group: Some(format!("emodb_{:02}", name.speaker)),
            }),
            Err(e) => classify(&mut report, &path, e),
        }
    }
    report.loaded = samples.len();
    Ok((samples, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_asserts::{assert_unknown, assert_unmapped};

    fn touch(dir: &Path, names: &[&str]) {
        std::fs::create_dir_all(dir).unwrap();
        for n in names {
            std::fs::write(dir.join(n), b"").unwrap();
        }
    }

    #[test]
    fn crema_d_with_demographics() {
        let dir = std::env::temp_dir().join(format!("facevox-crema-{}", std::process::id()));
        touch(
            &dir,
            &["1001_DFA_ANG_XX.wav", "1002_IEO_HAP_HI.wav", "readme.wav"],
        );
        std::fs::write(
            dir.join("VideoDemographics.csv"),
            "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n",
        )
        .unwrap();
        let (samples, report) = load_crema_d(&dir).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(report.loaded, 2);
        assert_eq!(report.unparseable.len(), 1);
        assert_eq!(samples[0].emotion, Some(Emotion::Angry));
        assert_eq!(samples[0].gender, Some(Gender::Male));
        assert_eq!(samples[1].gender, Some(Gender::Female));
        assert_eq!(samples[1].group.as_deref(), Some("crema_1002"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn speech_accent_speakers_with_gender_and_no_emotion() {
        let dir = std::env::temp_dir().join(format!("facevox-accent-{}", std::process::id()));
        touch(&dir.join("clips"), &["french43.mp3", "urdu1.mp3"]);
        std::fs::write(
            dir.join("speakers.csv"),
            "file,gender,age,native_language,country,speaker_id\n\
             clips/french43.mp3,male,22,french,france,1535\n\
             clips/urdu1.mp3,female,,urdu,pakistan,77\n\
             clips/missing.mp3,female,30,german,germany,9\n\
             clips/urdu1.mp3,unknown,30,urdu,pakistan,78\n",
        )
        .unwrap();
        let (samples, speakers, report) = load_speech_accent(&dir).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(report.loaded, 2);
        assert_eq!(report.unparseable.len(), 1);
        assert_eq!(report.unmapped.get("gender unknown"), Some(&1));
        assert_eq!(samples[0].gender, Some(Gender::Male));
        assert_eq!(samples[0].emotion, None);
        assert_eq!(samples[1].group.as_deref(), Some("accent_77"));
        assert_eq!(speakers[0].age, Some(22));
        assert_eq!(speakers[1].age, None);
        assert_eq!(speakers[1].native_language, "urdu");
        assert!(load_speech_accent(dir.join("nowhere")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn emodb_skips_boredom_and_counts_it() {
        let dir = std::env::temp_dir().join(format!("facevox-emodb-{}", std::process::id()));
        touch(
            &dir,
            &["03a01Fa.wav", "08a01La.wav", "16b10Tb.wav", "xx.wav"],
        );
        let (samples, report) = load_emodb(&dir).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(report.unmapped.get("L"), Some(&1));
        assert_eq!(report.unparseable.len(), 1);
        assert_eq!(samples[0].emotion, Some(Emotion::Happy));
        assert_eq!(samples[0].gender, Some(Gender::Male));
        assert_eq!(samples[1].emotion, Some(Emotion::Sad));
        assert_eq!(samples[1].gender, Some(Gender::Female));
        std::fs::remove_dir_all(&dir).unwrap();
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

    #[test]
    fn crema_d_and_emodb_names_serde_round_trip() {
        let c = CremaDName::parse("1001_DFA_ANG_XX.wav").unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<CremaDName>(&json).unwrap(), c);

        let m = EmoDbName::parse("03a01Fa.wav").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<EmoDbName>(&json).unwrap(), m);
    }
}

/// One speaker of the Speech Accent Archive (`speakers.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccentSpeaker {
    /// The clip, relative to the archive folder (`clips/french43.mp3`).
    pub file: String,
    /// Perceived gender as the archive records it.
    pub gender: Gender,
    /// Age in years, when given.
    pub age: Option<u32>,
    /// Native language.
    pub native_language: String,
    /// Country.
    pub country: String,
    /// The archive's speaker id.
    pub speaker_id: String,
}

/// Loads the Speech Accent Archive as laid out in `speech_accent/`: `speakers.csv`
/// (`file,gender,age,native_language,country,speaker_id`) and one clip per speaker (every
/// speaker reads the same English paragraph). Samples carry perceived gender and no emotion;
/// groups are `accent_<speaker id>`. Rows whose clip is missing or whose gender is not
/// `male`/`female` are listed in the report, not loaded.
pub fn load_speech_accent(
    dir: impl AsRef<Path>,
) -> Result<(Vec<Sample>, Vec<AccentSpeaker>, LoadReport)> {
    let dir = dir.as_ref();
    let csv_path = dir.join("speakers.csv");
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&csv_path)
        .map_err(|e| Error::InvalidConfig(format!("{}: {e}", csv_path.display())))?;
    let mut report = LoadReport::default();
    let (mut samples, mut speakers) = (Vec::new(), Vec::new());
    for row in reader.records() {
        let row = row.map_err(|e| Error::InvalidConfig(format!("{}: {e}", csv_path.display())))?;
        let col = |i: usize| row.get(i).unwrap_or("").to_string();
        let (file, speaker_id) = (col(0), col(5));
        let path = dir.join(&file);
        let Ok(gender) = col(1).parse::<Gender>() else {
            *report
                .unmapped
                .entry(format!("gender {}", col(1)))
                .or_default() += 1;
            continue;
        };
        if file.is_empty() || speaker_id.is_empty() || !path.is_file() {
            report.unparseable.push(path.display().to_string());
            continue;
        }
        samples.push(Sample {
            face: None,
            voice: Some(path),
            gender: Some(gender),
            emotion: None,
            group: Some(format!("accent_{speaker_id}")),
        });
        speakers.push(AccentSpeaker {
            file,
            gender,
            age: col(2).parse().ok(),
            native_language: col(3),
            country: col(4),
            speaker_id,
        });
    }
    report.loaded = samples.len();
    Ok((samples, speakers, report))
}
