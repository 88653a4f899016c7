//! Face datasets: FER+ (emotion votes over FER2013 images) and FairFace (gender, race group and
//! age group), read from their official layouts.
//!
//! * FER+: a folder such as `FER2013Train/` holding the 48x48 PNGs and `label.csv`, whose rows
//!   are `file,"(x, y, w, h)",neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,
//!   unknown,NF` with vote counts out of 10 (no header). [`FERPLUS_COLUMNS`] names the vote
//!   columns and [`Emotion::from_ferplus_column`] maps one to an emotion;
//!   [`FerPlusRecord::majority`] applies the FER+ paper's majority rule;
//!   [`FerPlusRecord::vote_distribution`] gives the soft target.
//! * FairFace: `fairface_label_{train,val}.csv` with the header `file,age,gender,race,
//!   service_test`; image paths are relative to the CSV's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{csv_error, unknown_label, unmapped_label};
use crate::labels::{Emotion, Gender, FACE_EMOTIONS};
use crate::{Error, Result};

const FERPLUS: &str = "FER+";

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

/// FER+ `label.csv` columns.
impl Emotion {
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
            "unknown" => Err(unmapped_label(FERPLUS, "unknown")),
            "nf" => Err(unmapped_label(FERPLUS, "NF")),
            _ => Err(unknown_label(FERPLUS, column)),
        }
    }
}

/// One FER+ image with its ten vote counts (columns in [`FERPLUS_COLUMNS`] order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FerPlusRecord {
    /// The image file.
    pub image: PathBuf,
    /// Votes per column: the eight emotions of [`FACE_EMOTIONS`], then `unknown`, then `NF`.
    pub votes: [u8; 10],
}

impl FerPlusRecord {
    /// The FER+ majority label: votes of 1 are dropped as noise, and the top column is kept
    /// when it holds more than half of the remaining votes. `None` when no column does, or
    /// when the winner is `unknown` or `NF` (not a face).
    pub fn majority(&self) -> Option<Emotion> {
        let kept: Vec<u32> = self
            .votes
            .iter()
            .map(|&v| if v <= 1 { 0 } else { v as u32 })
            .collect();
        let total: u32 = kept.iter().sum();
        if total == 0 {
            return None;
        }
        // The first maximum; a tie cannot pass the "more than half" test anyway.
        let (best, &count) = kept
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
        (2 * count > total && best < FACE_EMOTIONS.len()).then(|| FACE_EMOTIONS[best])
    }

    /// The emotion votes as a probability distribution over [`FACE_EMOTIONS`] (the soft
    /// target of the FER+ paper's "probability" scheme, `unknown`/`NF` left out). `None` when
    /// no annotator chose an emotion.
    pub fn vote_distribution(&self) -> Option<[f32; 8]> {
        let total: u32 = self.votes[..8].iter().map(|&v| v as u32).sum();
        if total == 0 {
            return None;
        }
        let mut p = [0f32; 8];
        for (p, &v) in p.iter_mut().zip(&self.votes[..8]) {
            *p = v as f32 / total as f32;
        }
        Some(p)
    }
}

/// Reads `dir/label.csv` of a FER+ split. Rows whose image file is missing are counted in the
/// second return value and skipped; a malformed row is an error naming its line.
pub fn load_ferplus(dir: impl AsRef<Path>) -> Result<(Vec<FerPlusRecord>, usize)> {
    let dir = dir.as_ref();
    let csv_path = dir.join("label.csv");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(&csv_path)
        .map_err(|e| csv_error(&csv_path, e))?;
    let mut out = Vec::new();
    let mut missing = 0;
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| csv_error(&csv_path, e))?;
        let line = i + 1;
        if row.len() != 2 + FERPLUS_COLUMNS.len() {
            return Err(Error::InvalidConfig(format!(
                "{}:{line}: expected {} columns (file, box, {} vote counts), got {}",
                csv_path.display(),
                2 + FERPLUS_COLUMNS.len(),
                FERPLUS_COLUMNS.len(),
                row.len()
            )));
        }
        let mut votes = [0u8; 10];
        for (slot, cell) in votes.iter_mut().zip(row.iter().skip(2)) {
            *slot = cell.parse().map_err(|_| {
                Error::InvalidConfig(format!(
                    "{}:{line}: vote count {cell:?} is not a number 0-255",
                    csv_path.display()
                ))
            })?;
        }
        let image = dir.join(&row[0]);
        if !image.is_file() {
            missing += 1;
            continue;
        }
        out.push(FerPlusRecord { image, votes });
    }
    Ok((out, missing))
}

/// The seven FairFace race groups, as written in its CSVs.
pub const FAIRFACE_RACES: [&str; 7] = [
    "East Asian",
    "Indian",
    "Black",
    "White",
    "Middle Eastern",
    "Latino_Hispanic",
    "Southeast Asian",
];

/// One FairFace image with its labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FairFaceRecord {
    /// The image file.
    pub image: PathBuf,
    /// Perceived gender as annotated.
    pub gender: Gender,
    /// Race group (one of [`FAIRFACE_RACES`]), kept for the per-group audit.
    pub race: String,
    /// Age group as written (`0-2`, `3-9`, …, `more than 70`).
    pub age: String,
}

/// Reads a FairFace label CSV (`file,age,gender,race,...`; paths relative to its folder).
/// Rows whose image is missing are counted in the second return value and skipped; an
/// unknown gender or race is an error naming the line.
pub fn load_fairface(csv_path: impl AsRef<Path>) -> Result<(Vec<FairFaceRecord>, usize)> {
    let csv_path = csv_path.as_ref();
    let base = csv_path.parent().unwrap_or(Path::new("."));
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(csv_path)
        .map_err(|e| csv_error(csv_path, e))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(csv_path, e))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "{}: header must contain file,age,gender,race (missing {name})",
                csv_path.display()
            ))
        })
    };
    let (fi, ai, gi, ri) = (col("file")?, col("age")?, col("gender")?, col("race")?);
    let mut out = Vec::new();
    let mut missing = 0;
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| csv_error(csv_path, e))?;
        let line = i + 2;
        let bad =
            |what: &str| Error::InvalidConfig(format!("{}:{line}: {what}", csv_path.display()));
        let gender: Gender = row
            .get(gi)
            .ok_or_else(|| bad("missing gender"))?
            .parse()
            .map_err(|_| bad("gender must be Male or Female"))?;
        let race = row.get(ri).ok_or_else(|| bad("missing race"))?;
        if !FAIRFACE_RACES.contains(&race) {
            return Err(bad(&format!("unknown race group {race:?}")));
        }
        let image = base.join(row.get(fi).ok_or_else(|| bad("missing file"))?);
        if !image.is_file() {
            missing += 1;
            continue;
        }
        out.push(FairFaceRecord {
            image,
            gender,
            race: race.to_string(),
            age: row.get(ai).unwrap_or("").to_string(),
        });
    }
    Ok((out, missing))
}

/// Splits `records` into (train, validation) with about `fraction` of every gender × race
/// stratum in validation, reproducibly from `seed`.
pub fn stratified_fairface_split(
    records: &[FairFaceRecord],
    fraction: f64,
    seed: u64,
) -> (Vec<FairFaceRecord>, Vec<FairFaceRecord>) {
    let mut strata: BTreeMap<(Gender, &str), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        strata
            .entry((r.gender, r.race.as_str()))
            .or_default()
            .push(i);
    }
    let mut rng = crate::rng::SeededRng::new(seed);
    let mut in_val = vec![false; records.len()];
    for idx in strata.values_mut() {
        rng.shuffle(idx);
        let n = (idx.len() as f64 * fraction).round() as usize;
        for &i in idx.iter().take(n) {
            in_val[i] = true;
        }
    }
    let (mut tr, mut va) = (Vec::new(), Vec::new());
    for (r, v) in records.iter().zip(in_val) {
        if v {
            va.push(r.clone());
        } else {
            tr.push(r.clone());
        }
    }
    (tr, va)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_asserts::{assert_unknown, assert_unmapped};

    fn rec(votes: [u8; 10]) -> FerPlusRecord {
        FerPlusRecord {
            image: PathBuf::from("x.png"),
            votes,
        }
    }

    /// Rows worked out by hand from the rule (drop 1-votes, then > half of what remains).
    #[test]
    fn ferplus_majority_rule_on_hand_computed_rows() {
        // Real FER+ Valid rows (fer0028638..40). 4 neutral, 1 anger, 4 contempt, 1 unknown:
        // drop the 1s -> 4 + 4 = 8, top 4 is not > 4: no majority.
        assert_eq!(rec([4, 0, 0, 0, 1, 0, 0, 4, 1, 0]).majority(), None);
        // 1 neutral, 1 sad, 2 disgust, 6 contempt: drop 1s -> 8, contempt 6 > 4.
        assert_eq!(
            rec([1, 0, 0, 1, 0, 2, 0, 6, 0, 0]).majority(),
            Some(Emotion::Contempt)
        );
        // 7 neutral, 2 anger, 1 contempt -> 9, neutral 7 > 4.5.
        assert_eq!(
            rec([7, 0, 0, 0, 2, 0, 0, 1, 0, 0]).majority(),
            Some(Emotion::Neutral)
        );
        // 5 happy, 5 surprise: a tie is never a majority.
        assert_eq!(rec([0, 5, 5, 0, 0, 0, 0, 0, 0, 0]).majority(), None);
        // Dropping the 1s is what makes 3 of (3 + 2 + 1 + 1 + 1 + 1 + 1) a majority: 3 > 5/2.
        assert_eq!(
            rec([3, 2, 1, 1, 1, 1, 1, 0, 0, 0]).majority(),
            Some(Emotion::Neutral)
        );
        // A not-a-face or unknown winner gives no emotion.
        assert_eq!(rec([0, 2, 0, 0, 0, 0, 0, 0, 0, 8]).majority(), None);
        assert_eq!(rec([2, 0, 0, 0, 0, 0, 0, 0, 8, 0]).majority(), None);
        // Only single votes: nothing left.
        assert_eq!(rec([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]).majority(), None);
        // Soft target: emotion votes only, normalised.
        let p = rec([4, 0, 0, 0, 1, 0, 0, 4, 1, 0])
            .vote_distribution()
            .unwrap();
        assert_eq!(p, [4. / 9., 0., 0., 0., 1. / 9., 0., 0., 4. / 9.]);
        assert_eq!(
            rec([0, 0, 0, 0, 0, 0, 0, 0, 3, 7]).vote_distribution(),
            None
        );
    }

    #[test]
    fn loaders_read_the_official_layouts_and_refuse_bad_rows() {
        let dir = std::env::temp_dir().join(format!("facevox-faces-{}", std::process::id()));
        let fer = dir.join("FER2013Valid");
        std::fs::create_dir_all(&fer).unwrap();
        std::fs::write(fer.join("a.png"), b"png").unwrap();
        std::fs::write(fer.join("b.png"), b"png").unwrap();
        std::fs::write(
            fer.join("label.csv"),
            "a.png,\"(0, 0, 48, 48)\",7,0,0,0,2,0,0,1,0,0\n\
             b.png,\"(0, 0, 48, 48)\",0,10,0,0,0,0,0,0,0,0\n\
             gone.png,\"(0, 0, 48, 48)\",0,10,0,0,0,0,0,0,0,0\n",
        )
        .unwrap();
        let (recs, missing) = load_ferplus(&fer).unwrap();
        assert_eq!(missing, 1);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].votes, [7, 0, 0, 0, 2, 0, 0, 1, 0, 0]);
        assert_eq!(recs[1].majority(), Some(Emotion::Happy));
        assert!(recs[0].image.ends_with("FER2013Valid/a.png"));
        std::fs::write(
            fer.join("label.csv"),
            "a.png,\"(0, 0, 48, 48)\",7,0,x,0,2,0,0,1,0,0\n",
        )
        .unwrap();
        assert!(load_ferplus(&fer).is_err());
        assert!(load_ferplus(dir.join("nowhere")).is_err());

        let ff = dir.join("ff");
        std::fs::create_dir_all(ff.join("train")).unwrap();
        for f in ["1.jpg", "2.jpg", "3.jpg"] {
            std::fs::write(ff.join("train").join(f), b"jpg").unwrap();
        }
        let csv = ff.join("fairface_label_train.csv");
        std::fs::write(
            &csv,
            "file,age,gender,race,service_test\n\
             train/1.jpg,50-59,Male,East Asian,TRUE\n\
             train/2.jpg,30-39,Female,Latino_Hispanic,FALSE\n\
             train/3.jpg,more than 70,Female,Black,FALSE\n\
             train/9.jpg,3-9,Male,White,FALSE\n",
        )
        .unwrap();
        let (recs, missing) = load_fairface(&csv).unwrap();
        assert_eq!((recs.len(), missing), (3, 1));
        assert_eq!(recs[0].gender, Gender::Male);
        assert_eq!(recs[1].race, "Latino_Hispanic");
        assert_eq!(recs[2].age, "more than 70");
        std::fs::write(
            &csv,
            "file,age,gender,race\ntrain/1.jpg,50-59,Male,Martian\n",
        )
        .unwrap();
        assert!(load_fairface(&csv).is_err());
        std::fs::write(&csv, "file,age,gender,race\ntrain/1.jpg,50-59,X,White\n").unwrap();
        assert!(load_fairface(&csv).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fairface_split_is_stratified_and_reproducible() {
        let mut recs = Vec::new();
        for (i, race) in FAIRFACE_RACES.iter().enumerate() {
            for g in [Gender::Male, Gender::Female] {
                for k in 0..(20 + 10 * i) {
                    recs.push(FairFaceRecord {
                        image: PathBuf::from(format!("{race}-{g}-{k}.jpg")),
                        gender: g,
                        race: race.to_string(),
                        age: "20-29".into(),
                    });
                }
            }
        }
        let (tr, va) = stratified_fairface_split(&recs, 0.1, 3);
        assert_eq!(tr.len() + va.len(), recs.len());
        for (i, race) in FAIRFACE_RACES.iter().enumerate() {
            for g in [Gender::Male, Gender::Female] {
                let n = va
                    .iter()
                    .filter(|r| r.race == *race && r.gender == g)
                    .count();
                assert_eq!(n, ((20 + 10 * i) as f64 * 0.1).round() as usize);
            }
        }
        assert_eq!(stratified_fairface_split(&recs, 0.1, 3).1, va);
        assert_ne!(stratified_fairface_split(&recs, 0.1, 4).1, va);
    }

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

    #[test]
    fn ferplus_columns_line_up_with_face_emotions() {
        for (i, col) in FERPLUS_COLUMNS.iter().take(8).enumerate() {
            assert_eq!(Emotion::from_ferplus_column(col).unwrap(), FACE_EMOTIONS[i]);
        }
    }
}
