//! Detector hit rates on the real development data in $FACEVOX_DATA (see shared/data/README.md):
//! the 20 RAVDESS stills and the sampled frames of the RAVDESS clip must each give exactly one
//! face; FairFace crops must give a face in at least 95% of a fixed sample, and FairFace
//! examples keep gender, race and age group for the audit tables. Skipped when
//! FACEVOX_DATA is not set.
//!
//! The FairFace sample is every 15th row of `fairface_label_train.csv` from the 8th (2,000
//! images, disjoint from the rows the detector's retry pass was tuned on: every 15th from the
//! 1st); set FACEVOX_FAIRFACE_SAMPLE=all for all 30,000. Run with `--nocapture` to see the numbers.

use std::path::PathBuf;

use facevox::vision::{
    load_image, read_video_frames, CropConfig, FaceCropper, FaceDetector, FacePick, SeetaDetector,
    VideoConfig,
};

fn data_dir() -> Option<PathBuf> {
    match std::env::var_os("FACEVOX_DATA") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            println!("skipped: FACEVOX_DATA is not set");
            None
        }
    }
}

#[test]
fn ravdess_stills_give_exactly_one_face_each() {
    let Some(data) = data_dir() else { return };
    let mut det = SeetaDetector::new().unwrap();
    let mut exact = 0;
    for actor in 1..=20 {
        let path = data.join(format!("ravdess/stills/Actor_{actor:02}.png"));
        let img = load_image(&path).unwrap();
        let faces = det.detect(&img).unwrap();
        let (cx, _) = faces.first().map(|f| f.center()).unwrap_or_default();
        println!(
            "Actor_{actor:02}: {} face(s), {:?}",
            faces.len(),
            faces.first()
        );
        if faces.len() == 1 && (120.0..280.0).contains(&cx) {
            exact += 1;
        }
    }
    println!("RAVDESS stills: exactly one face in {exact}/20");
    assert_eq!(exact, 20);
}

#[test]
fn ravdess_clip_gives_exactly_one_face_per_sampled_frame() {
    let Some(data) = data_dir() else { return };
    let clip = data.join("ravdess/av/01-01-07-02-02-01-01.mp4");
    let mut det = SeetaDetector::new().unwrap();
    for fps in [5.0, 30.0] {
        let frames = read_video_frames(&clip, &VideoConfig::sampled(fps)).unwrap();
        let exact = frames
            .iter()
            .filter(|f| det.detect(&f.image).unwrap().len() == 1)
            .count();
        println!(
            "RAVDESS clip at {fps} fps: exactly one face in {exact}/{}",
            frames.len()
        );
        assert_eq!(exact, frames.len());
    }
}

#[test]
fn fairface_hit_rate_is_at_least_95_percent() {
    let Some(data) = data_dir() else { return };
    let root = data.join("fairface96");
    let csv = std::fs::read_to_string(root.join("fairface_label_train.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let (skip, step) = match std::env::var("FACEVOX_FAIRFACE_SAMPLE").as_deref() {
        Ok("all") => (0, 1),
        _ => (7, 15),
    };
    let mut det = SeetaDetector::new().unwrap();
    let (mut total, mut found, mut central) = (0usize, 0usize, 0usize);
    let start = std::time::Instant::now();
    for row in rows.iter().skip(skip).step_by(step) {
        let file = row.split(',').next().unwrap();
        let img = load_image(root.join(file)).unwrap();
        total += 1;
        if let Some(face) = FacePick::Largest.pick(&det.detect(&img).unwrap()) {
            found += 1;
            // The face of a FairFace crop is centred: count detections whose centre lies in the
            // middle half of the picture, so a false hit elsewhere does not count.
            let (cx, cy) = face.center();
            let (w, h) = (img.width() as f32, img.height() as f32);
            if (cx - w / 2.0).abs() < w / 4.0 && (cy - h / 2.0).abs() < h / 4.0 {
                central += 1;
            }
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / total as f64;
    println!(
        "FairFace: face found in {found}/{total} ({:.2}%), centred {central}/{total} ({:.2}%), {:.2} ms/image",
        pct(found),
        pct(central),
        start.elapsed().as_secs_f64() * 1e3 / total as f64
    );
    assert!(pct(central) >= 95.0);
}

#[test]
fn ferplus_crops_go_through_the_precropped_path() {
    let Some(data) = data_dir() else { return };
    let dir = data.join("ferplus/FER2013Train");
    let mut cropper = FaceCropper::precropped(CropConfig::gray(64));
    let mut n = 0;
    for line in std::fs::read_to_string(dir.join("label.csv"))
        .unwrap()
        .lines()
        .take(50)
    {
        let file = line.split(',').next().unwrap();
        let crop = cropper
            .crop_file(dir.join(file))
            .unwrap()
            .expect("pre-cropped");
        assert_eq!(crop.shape(), [1, 64, 64]);
        n += 1;
    }
    assert_eq!(n, 50);
}

/// FairFace rows become gender examples through the detector path, each keeping its race and
/// age group for the audit tables (the first 40 rows; a row without a face is skipped, never
/// guessed).
#[test]
fn fairface_examples_keep_gender_race_and_age_for_the_audit() {
    let Some(data) = data_dir() else { return };
    let (recs, missing) =
        facevox::training::data::load_fairface(data.join("fairface96/fairface_label_train.csv"))
            .unwrap();
    assert_eq!(missing, 0);
    let recs = &recs[..40];
    let crop = CropConfig::gray(48);
    let (examples, skipped) = facevox::training::fairface_examples(
        recs,
        &crop,
        facevox::vision::FaceSource::Detect,
        None,
    )
    .unwrap();
    assert_eq!(examples.len() + skipped.len(), recs.len());
    assert!(examples.len() >= 36, "{} of 40 found", examples.len());
    let mut kept = recs
        .iter()
        .filter(|r| !skipped.iter().any(|s| s.image == r.image));
    for e in &examples {
        let r = kept.next().unwrap();
        assert_eq!((e.gender, e.emotion), (Some(r.gender), None));
        assert_eq!(e.group.as_deref(), Some(r.race.as_str()));
        assert_eq!(e.age.as_deref(), Some(r.age.as_str()));
        assert!(facevox::training::data::FAIRFACE_RACES.contains(&r.race.as_str()));
        assert_eq!((e.image.width(), e.image.height()), (48, 48));
    }
}

#[test]
fn fairface_extra_rows_only_add_training_faces() {
    use facevox::training::{face_splits, FaceSplitConfig};
    let Some(data) = data_dir() else { return };
    let root = data.join("fairface96");
    let dir = std::env::temp_dir().join(format!("facevox-extra-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Small CSVs with absolute image paths: 200 rows of the original list, and 30 rows of the
    // extra list plus 5 of the original's (which must be left out as already there).
    let rows = |csv: &str, skip: usize, take: usize| -> Vec<String> {
        std::fs::read_to_string(root.join(csv))
            .unwrap()
            .lines()
            .skip(1 + skip)
            .take(take)
            .map(|l| format!("{}/{l}", root.display()))
            .collect()
    };
    let header = "file,age,gender,race,service_test\n";
    let main = rows("fairface_label_train.csv", 0, 200);
    let mut extra = rows("fairface_label_train_extra.csv", 0, 30);
    extra.extend_from_slice(&main[..5]);
    std::fs::write(dir.join("main.csv"), header.to_string() + &main.join("\n")).unwrap();
    std::fs::write(
        dir.join("extra.csv"),
        header.to_string() + &extra.join("\n"),
    )
    .unwrap();
    let crop = CropConfig::gray(48);
    let base = FaceSplitConfig {
        fairface: Some(dir.join("main.csv")),
        cache: dir.join("cache"),
        ..FaceSplitConfig::default()
    };
    let without = face_splits(&base, &crop, false).unwrap();
    let with = face_splits(
        &FaceSplitConfig {
            fairface_extra: Some(dir.join("extra.csv")),
            ..base.clone()
        },
        &crop,
        false,
    )
    .unwrap();
    let images = |v: &[facevox::training::FaceExample]| -> Vec<Vec<u8>> {
        v.iter().map(|e| e.image.as_raw().clone()).collect()
    };
    // The selection and test parts are the same faces; training gains the extra rows' faces.
    assert_eq!(images(&with.select), images(&without.select));
    assert_eq!(images(&with.ff_test), images(&without.ff_test));
    let report = &with.report["fairface_extra"];
    println!("fairface_extra report: {report}");
    assert_eq!(report["rows"], 35);
    assert_eq!(report["overlap"], 5);
    let found = 30 - report["training_no_face"].as_u64().unwrap() as usize;
    assert!(found >= 27, "{found} of 30 extra faces found");
    assert_eq!(with.train.len(), without.train.len() + found);
    let _ = std::fs::remove_dir_all(&dir);
}
