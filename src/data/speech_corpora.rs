//! Loaders for the CREMA-D and Berlin EmoDB naming schemes.
//!
//! Both return the samples they could label plus a [`LoadReport`] that counts what they had to
//! leave out, so a user sees, for example, that EmoDB's boredom recordings were skipped because
//! facevox has no such emotion (they are never renamed into another class).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{files_with_extensions, Sample, VOICE_EXTENSIONS};
use crate::labels::{CremaDName, EmoDbName, Gender};
use crate::{Error, Result};

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
    use crate::labels::Emotion;

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
}
