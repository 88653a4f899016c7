//! RAVDESS: its file names (`MM-VV-EE-II-SS-RR-AA.ext`, parsed by [`RavdessName`]) and the
//! loader that labels recordings from them, in any container, so the shared FLAC copy and the
//! original WAV/MP4 distribution load alike.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{
    file_stem, files_with_extensions, two_digits, unknown_label, Sample, VOICE_EXTENSIONS,
};
use crate::labels::{position, Emotion, Gender, RAVDESS_EMOTIONS};
use crate::Result;

const RAVDESS: &str = "RAVDESS";

// ---------------------------------------------------------------------------------------------
// File names
// ---------------------------------------------------------------------------------------------

/// RAVDESS emotion codes.
impl Emotion {
    /// Parses a RAVDESS emotion code, the third field of a RAVDESS file name: exactly two
    /// digits `01` (neutral) to `08` (surprised), in the order of [`RAVDESS_EMOTIONS`].
    ///
    /// Surrounding whitespace is ignored. Any other code is
    /// [`Error::UnknownLabel`](crate::Error::UnknownLabel) with dataset `"RAVDESS"`.
    pub fn from_ravdess_code(code: &str) -> Result<Emotion> {
        match two_digits(code.trim()) {
            Some(n @ 1..=8) => Ok(RAVDESS_EMOTIONS[usize::from(n) - 1]),
            _ => Err(unknown_label(RAVDESS, code)),
        }
    }

    /// The two-digit RAVDESS code of this emotion (`"01"`..`"08"`), or `None` for contempt,
    /// which RAVDESS does not use.
    pub fn ravdess_code(self) -> Option<&'static str> {
        const CODES: [&str; 8] = ["01", "02", "03", "04", "05", "06", "07", "08"];
        position(&RAVDESS_EMOTIONS, self).map(|i| CODES[i])
    }
}

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
    /// happy, sad, angry and fearful). Every failure is
    /// [`Error::UnknownLabel`](crate::Error::UnknownLabel) with dataset `"RAVDESS"` and the file
    /// name without directories and extension as the code.
    pub fn parse(file_name_or_path: &str) -> Result<RavdessName> {
        let stem = file_stem(file_name_or_path);
        let err = || unknown_label(RAVDESS, stem);

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
// Loader
// ---------------------------------------------------------------------------------------------

/// Which RAVDESS recordings to load. `None` fields accept everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RavdessFilter {
    /// Keep only this modality (audio-only, video-only, full AV).
    pub modality: Option<RavdessModality>,
    /// Keep only speech or only song.
    pub vocal_channel: Option<VocalChannel>,
    /// Keep only these actors (1–24).
    pub actors: Option<Vec<u8>>,
}

impl RavdessFilter {
    /// Audio-only speech, the voice branch's training data.
    pub fn speech() -> Self {
        Self {
            modality: Some(RavdessModality::AudioOnly),
            vocal_channel: Some(VocalChannel::Speech),
            actors: None,
        }
    }

    /// Whether a parsed name passes the filter.
    pub fn accepts(&self, name: &RavdessName) -> bool {
        self.modality.is_none_or(|m| m == name.modality)
            && self.vocal_channel.is_none_or(|v| v == name.vocal_channel)
            && self.actors.as_ref().is_none_or(|a| a.contains(&name.actor))
    }
}

/// Loads every RAVDESS file under `dir` whose name parses and passes `filter`. Files with other
/// names are ignored. Each sample's `group` is `actor_NN`; audio-only and full-AV files are voice
/// inputs, and full-AV and video-only files are face inputs too.
pub fn load_ravdess(
    dir: impl AsRef<Path>,
    filter: &RavdessFilter,
) -> Result<Vec<(Sample, RavdessName)>> {
    let mut out = Vec::new();
    for path in files_with_extensions(dir.as_ref(), &VOICE_EXTENSIONS)? {
        let Ok(name) = RavdessName::parse(&path.to_string_lossy()) else {
            continue;
        };
        if !filter.accepts(&name) {
            continue;
        }
        let has_audio = name.modality != RavdessModality::VideoOnly;
        let has_video = name.modality != RavdessModality::AudioOnly;
        out.push((
            Sample {
                face: has_video.then(|| path.clone()),
                voice: has_audio.then(|| path.clone()),
                gender: Some(name.gender()),
                emotion: Some(name.emotion),
                group: Some(format!("actor_{:02}", name.actor)),
            },
            name,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_asserts::assert_unknown;
    use crate::Error;

    #[test]
    fn loads_and_filters_by_name() {
        let dir = std::env::temp_dir().join(format!("facevox-ravdess-{}", std::process::id()));
        let a1 = dir.join("Actor_01");
        let a2 = dir.join("Actor_02");
        std::fs::create_dir_all(&a1).unwrap();
        std::fs::create_dir_all(&a2).unwrap();
        for f in [
            a1.join("03-01-07-02-02-01-01.flac"),
            a1.join("03-02-03-01-01-01-01.wav"), // song
            a1.join("01-01-05-01-01-01-01.mp4"), // full AV
            a2.join("03-01-01-01-01-01-02.flac"),
            a2.join("notes.txt"),
            a2.join("not-a-ravdess-name.wav"),
        ] {
            std::fs::write(f, b"").unwrap();
        }
        let all = load_ravdess(&dir, &RavdessFilter::default()).unwrap();
        assert_eq!(all.len(), 4);
        let speech = load_ravdess(&dir, &RavdessFilter::speech()).unwrap();
        assert_eq!(speech.len(), 2);
        let (s, name) = &speech[0];
        assert_eq!(name.actor, 1);
        assert_eq!(s.emotion, Some(Emotion::Disgust));
        assert_eq!(s.gender, Some(Gender::Male));
        assert_eq!(s.group.as_deref(), Some("actor_01"));
        assert!(s.face.is_none() && s.voice.is_some());
        assert_eq!(speech[1].0.gender, Some(Gender::Female));
        let av = all
            .iter()
            .find(|(_, n)| n.modality == RavdessModality::FullAudioVideo)
            .unwrap();
        assert!(av.0.face.is_some() && av.0.voice.is_some());
        let only2 = RavdessFilter {
            actors: Some(vec![2]),
            ..RavdessFilter::default()
        };
        assert_eq!(load_ravdess(&dir, &only2).unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // --- File names ---------------------------------------------------------------------------

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

    #[test]
    fn ravdess_name_serde_round_trip() {
        let r = RavdessName::parse("03-02-06-02-01-02-18.wav").unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"audio_only\""), "{json}");
        assert!(json.contains("\"song\""), "{json}");
        assert!(json.contains("\"fearful\""), "{json}");
        assert_eq!(serde_json::from_str::<RavdessName>(&json).unwrap(), r);
    }
}
