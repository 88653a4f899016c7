//! A generic CSV manifest so users train and evaluate on their own data.
//!
//! Header: `face,voice,gender,emotion`, optionally followed by `group` (speaker or subject id)
//! and any other columns, which are ignored. Paths are relative to the manifest's folder
//! (absolute paths are kept). An empty cell means missing. `gender` is `male`/`female`; `emotion`
//! is a lower-case [`Emotion`] name (synonyms such as `happiness` are accepted).

use std::path::{Path, PathBuf};

use super::csv_error;
use super::Sample;
use crate::labels::{Emotion, Gender};
use crate::{Error, Result};

const REQUIRED: [&str; 4] = ["face", "voice", "gender", "emotion"];

/// Reads a manifest. A malformed file or an unknown label is an error naming the line.
pub fn load_manifest(path: impl AsRef<Path>) -> Result<Vec<Sample>> {
    let path = path.as_ref();
    let base = path.parent().unwrap_or(Path::new("."));
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_path(path)
        .map_err(|e| csv_error(path, e))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let mut idx = [0usize; 4];
    for (slot, name) in idx.iter_mut().zip(REQUIRED) {
        *slot = column(name).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "{}: header must contain face,voice,gender,emotion (missing {name})",
                path.display()
            ))
        })?;
    }
    let group_col = column("group");
    let resolve = |cell: &str| -> Option<PathBuf> {
        (!cell.is_empty()).then(|| {
            let p = Path::new(cell);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        })
    };
    let mut samples = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = row + 2;
        let cell = |i: usize| record.get(i).unwrap_or("");
        let label_err =
            |e: Error| Error::InvalidConfig(format!("{} line {line}: {e}", path.display()));
        let gender = match cell(idx[2]) {
            "" => None,
            g => Some(g.parse::<Gender>().map_err(label_err)?),
        };
        let emotion = match cell(idx[3]) {
            "" => None,
            e => Some(e.parse::<Emotion>().map_err(label_err)?),
        };
        samples.push(Sample {
            face: resolve(cell(idx[0])),
            voice: resolve(cell(idx[1])),
            gender,
            emotion,
            group: group_col
                .map(cell)
                .filter(|g| !g.is_empty())
                .map(str::to_owned),
        });
    }
    Ok(samples)
}

/// Writes samples as a manifest (paths made relative to the manifest's folder where possible).
pub fn write_manifest(path: impl AsRef<Path>, samples: &[Sample]) -> Result<()> {
    let path = path.as_ref();
    let base = path.parent().unwrap_or(Path::new("."));
    let mut w = csv::Writer::from_path(path).map_err(|e| csv_error(path, e))?;
    let rel = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| p.strip_prefix(base).unwrap_or(p).display().to_string())
            .unwrap_or_default()
    };
    w.write_record(["face", "voice", "gender", "emotion", "group"])
        .map_err(|e| csv_error(path, e))?;
    for s in samples {
        w.write_record([
            rel(&s.face),
            rel(&s.voice),
            s.gender.map(|g| g.to_string()).unwrap_or_default(),
            s.emotion.map(|e| e.to_string()).unwrap_or_default(),
            s.group.clone().unwrap_or_default(),
        ])
        .map_err(|e| csv_error(path, e))?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("facevox-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_relative_paths_and_missing_cells() {
        let p = write(
            "m.csv",
            "face,voice,gender,emotion,group\nimg/a.png,audio/a.wav,female,happy,s1\n,/abs/b.flac,,sad,\n\"c, d.jpg\",,Male,,s2\n",
        );
        let s = load_manifest(&p).unwrap();
        let base = p.parent().unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].face, Some(base.join("img/a.png")));
        assert_eq!(s[0].voice, Some(base.join("audio/a.wav")));
        assert_eq!(s[0].gender, Some(Gender::Female));
        assert_eq!(s[0].emotion, Some(Emotion::Happy));
        assert_eq!(s[0].group.as_deref(), Some("s1"));
        assert_eq!(s[1].face, None);
        assert_eq!(s[1].voice, Some(PathBuf::from("/abs/b.flac")));
        assert_eq!(s[1].gender, None);
        assert_eq!(s[1].group, None);
        assert_eq!(s[2].face, Some(base.join("c, d.jpg")));
        assert_eq!(s[2].gender, Some(Gender::Male));
        assert_eq!(s[2].emotion, None);

        let out = p.with_file_name("round.csv");
        write_manifest(&out, &s).unwrap();
        assert_eq!(load_manifest(&out).unwrap(), s);
    }

    #[test]
    fn bad_manifests_are_errors() {
        let p = write("bad_header.csv", "path,label\nx.wav,happy\n");
        assert!(matches!(load_manifest(&p), Err(Error::InvalidConfig(_))));
        let p = write(
            "bad_label.csv",
            "face,voice,gender,emotion\n,x.wav,female,boredom\n",
        );
        let err = load_manifest(&p).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        let p = write("ragged.csv", "face,voice,gender,emotion\n,x.wav\n");
        assert!(load_manifest(&p).is_err());
        assert!(matches!(
            load_manifest("/nonexistent/m.csv"),
            Err(Error::Io { .. })
        ));
    }
}
