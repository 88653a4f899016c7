//! The RAVDESS loader: labels come from the file names (`MM-VV-EE-II-SS-RR-AA.ext`), in any
//! container, so the shared FLAC copy and the original WAV/MP4 distribution load alike.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{files_with_extensions, Sample, VOICE_EXTENSIONS};
use crate::labels::{RavdessModality, RavdessName, VocalChannel};
use crate::Result;

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
    use crate::labels::{Emotion, Gender};

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
}
