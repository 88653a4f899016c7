//! The landmark model (a port of dlib's 5-point shape predictor) against dlib itself, face
//! alignment, and bad input.
//!
//! The reference points in `tests/fixtures/vision/landmarks5_reference.json` come from the dlib
//! Python wheel (`tools/dlib_landmark_reference.py`); this file never runs Python. Faces from
//! the shipped example clip (frames decoded by facevox) always run; faces from the development
//! data (RAVDESS stills, FairFace) run only when FACEVOX_DATA points at it.
//!
//! To regenerate the fixture: `FACEVOX_LANDMARK_DUMP=/tmp/lm cargo test --test landmarks --
//! --ignored dump_reference_inputs` (with FACEVOX_DATA set) writes the pictures as facevox
//! decodes them and the SeetaFace boxes, then `tools/dlib_landmark_reference.py /tmp/lm` runs
//! dlib on them. Run with `--nocapture` to see the error statistics.

use std::path::{Path, PathBuf};

use facevox::vision::{
    align_face, canonical_eye_positions, face_box_from_dlib_rect, load_image, read_video_frames,
    BoxAdapter, FaceBox, FaceDetector, FacePick, GrayImage, LandmarkModel, Landmarks5, RgbImage,
    SeetaDetector, VideoConfig,
};
use facevox::Error;
use serde::Deserialize;

fn example_clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

fn fixture() -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vision/landmarks5_reference.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every 4th frame of the example clip, the frames the fixture's `clip` faces come from.
const CLIP_FRAME_STEP: usize = 4;

#[derive(Deserialize)]
struct Reference {
    faces: Vec<RefFace>,
}

#[derive(Deserialize)]
struct RefFace {
    /// `clip`, `ravdess_still` or `fairface`.
    source: String,
    /// Frame index in the clip, or the file relative to FACEVOX_DATA.
    item: serde_json::Value,
    /// dlib's HOG detector box: left, top, right, bottom (inclusive).
    dlib_box: [f32; 4],
    /// dlib's points for that box (dlib rounds them to whole pixels).
    points: [[f32; 2]; 5],
}

fn data_dir() -> Option<PathBuf> {
    std::env::var_os("FACEVOX_DATA").map(PathBuf::from)
}

/// The picture of each reference face, as facevox decodes it; `None` for shared-data faces
/// when FACEVOX_DATA is not set.
fn pictures(faces: &[RefFace]) -> Vec<Option<RgbImage>> {
    let frames = read_video_frames(example_clip(), &VideoConfig::all_frames()).unwrap();
    let data = data_dir();
    faces
        .iter()
        .map(|f| match f.source.as_str() {
            "clip" => {
                let i = f.item.as_u64().unwrap() as usize;
                Some(frames[i].image.clone())
            }
            _ => data
                .as_ref()
                .map(|d| load_image(d.join(f.item.as_str().unwrap())).unwrap()),
        })
        .collect()
}

/// Mean and largest distance between matching points, in pixels and in inter-ocular distances.
#[derive(Default)]
struct Errors {
    px: Vec<f32>,
    iod: Vec<f32>,
    exact: usize,
    points: usize,
}

impl Errors {
    fn add(&mut self, got: &Landmarks5, want: &[[f32; 2]; 5]) {
        let reference = Landmarks5 { points: *want };
        let iod = reference.inter_ocular_distance();
        for (g, w) in got.points.iter().zip(want) {
            let d = (g[0] - w[0]).hypot(g[1] - w[1]);
            self.px.push(d);
            self.iod.push(d / iod);
            self.points += 1;
            if g[0].round() == w[0] && g[1].round() == w[1] {
                self.exact += 1;
            }
        }
    }

    fn mean(v: &[f32]) -> f32 {
        v.iter().sum::<f32>() / v.len().max(1) as f32
    }

    fn median(v: &[f32]) -> f32 {
        let mut v = v.to_vec();
        v.sort_by(f32::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }

    fn max(v: &[f32]) -> f32 {
        v.iter().copied().fold(0.0, f32::max)
    }

    fn report(&self, what: &str) {
        println!(
            "{what}: {} faces, error mean {:.3} px / median {:.3} px / max {:.3} px, mean {:.4} / \
             median {:.4} / max {:.4} of the inter-ocular distance; {}/{} points equal to dlib's \
             after rounding",
            self.points / 5,
            Self::mean(&self.px),
            Self::median(&self.px),
            Self::max(&self.px),
            Self::mean(&self.iod),
            Self::median(&self.iod),
            Self::max(&self.iod),
            self.exact,
            self.points
        );
    }
}

#[test]
fn port_matches_dlib_given_dlib_boxes() {
    let reference = fixture();
    let model = LandmarkModel::shipped().unwrap();
    assert_eq!(model.num_points(), 5);
    let pics = pictures(&reference.faces);
    let mut by_source: std::collections::BTreeMap<&str, Errors> = Default::default();
    let mut all = Errors::default();
    for (face, pic) in reference.faces.iter().zip(&pics) {
        let Some(pic) = pic else { continue };
        let [l, t, r, b] = face.dlib_box;
        let got = model
            .predict_rgb(pic, &face_box_from_dlib_rect(l, t, r, b))
            .unwrap();
        by_source
            .entry(face.source.as_str())
            .or_default()
            .add(&got, &face.points);
        all.add(&got, &face.points);
    }
    for (source, e) in &by_source {
        e.report(&format!("port vs dlib, dlib boxes, {source}"));
    }
    all.report("port vs dlib, dlib boxes, all");
    if data_dir().is_none() {
        println!("shared-data faces skipped: FACEVOX_DATA is not set");
    }
    assert!(
        all.points >= 20 * 5,
        "too few reference faces: {}",
        all.points / 5
    );
    // dlib rounds its points to whole pixels, the port does not: up to 0.71 px apart even when
    // the two agree exactly.
    assert!(
        Errors::mean(&all.px) < 0.5,
        "mean {}",
        Errors::mean(&all.px)
    );
    assert!(Errors::max(&all.px) < 1.5, "max {}", Errors::max(&all.px));
    assert!(all.exact as f32 >= 0.98 * all.points as f32);
}

#[test]
fn port_fed_seeta_boxes_matches_dlib_fed_its_own() {
    let reference = fixture();
    let model = LandmarkModel::shipped().unwrap();
    let pics = pictures(&reference.faces);
    let mut detector = SeetaDetector::new().unwrap();
    let mut all = Errors::default();
    let mut by_source: std::collections::BTreeMap<&str, Errors> = Default::default();
    let mut missed = 0;
    for (face, pic) in reference.faces.iter().zip(&pics) {
        let Some(pic) = pic else { continue };
        let [l, t, r, b] = face.dlib_box;
        let dlib_box = face_box_from_dlib_rect(l, t, r, b);
        // The Seeta box of the same face.
        let seeta = detector
            .detect(pic)
            .unwrap()
            .into_iter()
            .filter(|s| s.iou(&dlib_box) > 0.3)
            .collect::<Vec<_>>();
        let Some(seeta) = FacePick::Largest.pick(&seeta) else {
            missed += 1;
            continue;
        };
        let got = model.predict_seeta_rgb(pic, &seeta).unwrap();
        let before = all.iod.len();
        all.add(&got, &face.points);
        let worst = Errors::max(&all.iod[before..]);
        if worst > 0.1 {
            println!(
                "  {} {}: a point {worst:.3} inter-ocular distances from dlib's",
                face.source, face.item
            );
        }
        by_source
            .entry(face.source.as_str())
            .or_default()
            .add(&got, &face.points);
    }
    for (source, e) in &by_source {
        e.report(&format!("port on adapted Seeta boxes vs dlib, {source}"));
    }
    all.report("port on adapted Seeta boxes vs dlib, all");
    println!("faces Seeta missed: {missed}");
    assert!(all.points >= 20 * 5);
    assert!(Errors::mean(&all.iod) < 0.05, "{}", Errors::mean(&all.iod));
}

/// The first clip face of the fixture, its picture and the port's landmarks.
fn clip_face() -> (RgbImage, Landmarks5) {
    let reference = fixture();
    let face = reference.faces.iter().find(|f| f.source == "clip").unwrap();
    let frames = read_video_frames(example_clip(), &VideoConfig::all_frames()).unwrap();
    let pic = frames[face.item.as_u64().unwrap() as usize].image.clone();
    let [l, t, r, b] = face.dlib_box;
    let marks = LandmarkModel::shipped()
        .unwrap()
        .predict_rgb(&pic, &face_box_from_dlib_rect(l, t, r, b))
        .unwrap();
    (pic, marks)
}

#[test]
fn alignment_levels_the_eyes_at_the_canonical_positions() {
    let (pic, marks) = clip_face();
    let model = LandmarkModel::shipped().unwrap();
    // Rotate the frame by 20 degrees about the face so there is roll to undo.
    let (cx, cy) = marks.nose().into();
    let angle = 20f32.to_radians();
    let rotated = RgbImage::from_fn(pic.width(), pic.height(), |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let sx = (cx + angle.cos() * dx + angle.sin() * dy).round();
        let sy = (cy - angle.sin() * dx + angle.cos() * dy).round();
        if sx >= 0.0 && sy >= 0.0 && sx < pic.width() as f32 && sy < pic.height() as f32 {
            *pic.get_pixel(sx as u32, sy as u32)
        } else {
            image::Rgb([0, 0, 0])
        }
    });
    let mut detector = SeetaDetector::new().unwrap();
    for (image, roll) in [(&pic, None), (&rotated, Some(20.0))] {
        let seeta = FacePick::Largest
            .pick(&detector.detect(image).unwrap())
            .unwrap();
        let found = model.predict_seeta_rgb(image, &seeta).unwrap();
        println!("roll before alignment: {:.2} degrees", found.roll_degrees());
        if let Some(r) = roll {
            assert!((found.roll_degrees() - marks.roll_degrees() - r).abs() < 3.0);
        }
        let (size, margin) = (128, 0.2);
        let aligned = align_face(image, &found, size, margin).unwrap();
        assert_eq!(aligned.dimensions(), (size, size));
        // The landmarks of the aligned face, found again on it.
        let again = model
            .predict_seeta_rgb(
                &aligned,
                &FacePick::Largest
                    .pick(&detector.detect(&aligned).unwrap())
                    .unwrap(),
            )
            .unwrap();
        let (want_l, want_r) = canonical_eye_positions(size, margin);
        let (got_l, got_r) = (again.left_eye_center(), again.right_eye_center());
        println!(
            "aligned: roll {:.2} degrees, eyes {got_l:?} {got_r:?}, canonical {want_l:?} {want_r:?}",
            again.roll_degrees()
        );
        assert!(again.roll_degrees().abs() < 2.5);
        let tol = 0.06 * (want_r[0] - want_l[0]);
        for (g, w) in [(got_l, want_l), (got_r, want_r)] {
            assert!((g[0] - w[0]).abs() < tol && (g[1] - w[1]).abs() < tol);
        }
    }
}

#[test]
fn alignment_maps_the_given_eyes_exactly() {
    // A synthetic picture with two dots for eyes: the warp must put them where it says.
    let (size, margin) = (96, 0.3);
    let mut img = RgbImage::from_pixel(300, 200, image::Rgb([0, 0, 0]));
    let eyes = [(100.0f32, 120.0f32), (180.0, 80.0)];
    for &(ex, ey) in &eyes {
        for dy in -2..=2 {
            for dx in -2..=2 {
                img.put_pixel(
                    (ex as i32 + dx) as u32,
                    (ey as i32 + dy) as u32,
                    image::Rgb([255; 3]),
                );
            }
        }
    }
    let mut points = [[0.0; 2]; 5];
    points[2] = [eyes[0].0 - 1.0, eyes[0].1];
    points[3] = [eyes[0].0 + 1.0, eyes[0].1];
    points[0] = [eyes[1].0 + 1.0, eyes[1].1];
    points[1] = [eyes[1].0 - 1.0, eyes[1].1];
    points[4] = [140.0, 140.0];
    let marks = Landmarks5 { points };
    let aligned = align_face(&img, &marks, size, margin).unwrap();
    let (l, r) = canonical_eye_positions(size, margin);
    for c in [l, r] {
        // The brightest pixel near the canonical position is within a pixel of it.
        let mut best = (0u8, 0i32, 0i32);
        for y in (c[1] as i32 - 6)..=(c[1] as i32 + 6) {
            for x in (c[0] as i32 - 6)..=(c[0] as i32 + 6) {
                let v = aligned.get_pixel(x as u32, y as u32).0[0];
                if v > best.0 {
                    best = (v, x, y);
                }
            }
        }
        assert!(best.0 > 100);
        assert!((best.1 as f32 - c[0]).abs() <= 1.0 && (best.2 as f32 - c[1]).abs() <= 1.0);
    }
    assert!(l[1] == r[1] && l[0] < r[0]);
}

#[test]
fn bad_input_gives_typed_errors() {
    let model = LandmarkModel::shipped().unwrap();
    let good = FaceBox::new(10.0, 10.0, 50.0, 50.0, 1.0);
    let small = |r: Result<Landmarks5, Error>| matches!(r, Err(Error::ImageTooSmall { .. }));
    assert!(small(model.predict(&GrayImage::new(0, 0), &good)));
    assert!(small(model.predict(&GrayImage::new(1, 1), &good)));
    assert!(small(model.predict_rgb(&RgbImage::new(0, 5), &good)));
    assert!(small(model.predict_seeta_rgb(&RgbImage::new(1, 1), &good)));
    let gray = GrayImage::new(100, 80);
    for b in [
        FaceBox::new(200.0, 10.0, 50.0, 50.0, 1.0),
        FaceBox::new(-60.0, -60.0, 50.0, 50.0, 1.0),
        FaceBox::new(10.0, 500.0, 50.0, 50.0, 1.0),
        FaceBox::new(f32::NAN, 10.0, 50.0, 50.0, 1.0),
        FaceBox::new(10.0, 10.0, f32::NAN, 50.0, 1.0),
        FaceBox::new(10.0, 10.0, f32::INFINITY, 50.0, 1.0),
        FaceBox::new(10.0, 10.0, 0.0, 50.0, 1.0),
        FaceBox::new(10.0, 10.0, -5.0, 50.0, 1.0),
    ] {
        let r = model.predict(&gray, &b);
        assert!(matches!(r, Err(Error::InvalidConfig(_))), "{b:?}: {r:?}");
    }
    // Huge but finite boxes and boxes hanging over the edge work.
    assert!(model
        .predict(&gray, &FaceBox::new(-1e30, -1e30, 3e30, 3e30, 1.0))
        .is_ok());
    assert!(model
        .predict(&gray, &FaceBox::new(-20.0, -20.0, 50.0, 50.0, 1.0))
        .is_ok());
    // Damaged model files.
    for bytes in [&b""[..], b"not a model", &[0u8; 64]] {
        assert!(matches!(
            LandmarkModel::from_bytes(bytes),
            Err(Error::InvalidModelFile(_))
        ));
    }
    assert!(matches!(
        LandmarkModel::from_path("/nonexistent/landmarks.safetensors"),
        Err(Error::Io { .. })
    ));
    // Alignment.
    let img = RgbImage::new(100, 80);
    let mut points = [[40.0f32, 40.0]; 5];
    points[0] = [70.0, 40.0];
    points[1] = [60.0, 40.0];
    let ok = Landmarks5 { points };
    assert!(align_face(&img, &ok, 64, 0.2).is_ok());
    assert!(small(
        align_face(&RgbImage::new(0, 0), &ok, 64, 0.2).map(|_| ok)
    ));
    assert!(small(
        align_face(&RgbImage::new(1, 1), &ok, 64, 0.2).map(|_| ok)
    ));
    let invalid = |r: Result<RgbImage, Error>| matches!(r, Err(Error::InvalidConfig(_)));
    assert!(invalid(align_face(&img, &ok, 0, 0.2)));
    assert!(invalid(align_face(&img, &ok, 5000, 0.2)));
    assert!(invalid(align_face(&img, &ok, 64, f32::NAN)));
    assert!(invalid(align_face(&img, &ok, 64, -1.0)));
    let mut nan = ok;
    nan.points[3][0] = f32::NAN;
    assert!(invalid(align_face(&img, &nan, 64, 0.2)));
    let same = Landmarks5 {
        points: [[40.0, 40.0]; 5],
    };
    assert!(invalid(align_face(&img, &same, 64, 0.2)));
    assert_eq!(BoxAdapter::IDENTITY.adapt(&good), good);
}

/// Writes the inputs of `tools/dlib_landmark_reference.py` to $FACEVOX_LANDMARK_DUMP: every
/// picture as facevox decodes it (RGB PNG) and SeetaFace's boxes in `inputs.json`. Uses
/// FACEVOX_DATA when set (RAVDESS stills; FairFace rows 0, 50, 100, ... for fitting the box
/// adapter and rows 25, 75, ... for the fixture).
#[test]
#[ignore]
fn dump_reference_inputs() {
    let Some(out) = std::env::var_os("FACEVOX_LANDMARK_DUMP").map(PathBuf::from) else {
        println!("skipped: FACEVOX_LANDMARK_DUMP is not set");
        return;
    };
    std::fs::create_dir_all(&out).unwrap();
    let mut detector = SeetaDetector::new().unwrap();
    let mut inputs = Vec::new();
    let mut add = |name: String, source: &str, item: serde_json::Value, image: &RgbImage| {
        image.save(out.join(format!("{name}.png"))).unwrap();
        let boxes: Vec<[f32; 5]> = detector
            .detect(image)
            .unwrap()
            .iter()
            .map(|b| [b.x, b.y, b.width, b.height, b.score])
            .collect();
        inputs.push(serde_json::json!({
            "name": name, "source": source, "item": item, "seeta": boxes,
        }));
    };
    let frames = read_video_frames(example_clip(), &VideoConfig::all_frames()).unwrap();
    for f in frames.iter().step_by(CLIP_FRAME_STEP) {
        add(
            format!("clip_{:03}", f.index),
            "clip",
            f.index.into(),
            &f.image,
        );
    }
    if let Some(data) = data_dir() {
        for actor in 1..=20 {
            let item = format!("ravdess/stills/Actor_{actor:02}.png");
            let image = load_image(data.join(&item)).unwrap();
            add(
                format!("still_{actor:02}"),
                "ravdess_still",
                item.into(),
                &image,
            );
        }
        let csv =
            std::fs::read_to_string(data.join("fairface96/fairface_label_train.csv")).unwrap();
        for (row, line) in csv.lines().skip(1).enumerate() {
            let role = match row % 50 {
                0 => "fairface_fit",
                25 if row < 25 + 50 * 60 => "fairface",
                _ => continue,
            };
            let file = line.split(',').next().unwrap();
            let item = format!("fairface96/{file}");
            let image = load_image(data.join(&item)).unwrap();
            add(format!("ff_{row:05}"), role, item.into(), &image);
        }
    }
    std::fs::write(
        out.join("inputs.json"),
        serde_json::to_string_pretty(&inputs).unwrap(),
    )
    .unwrap();
    println!("wrote {} pictures to {}", inputs.len(), out.display());
}

#[test]
fn crop_config_align_crops_through_the_landmarks_for_detected_and_precropped_faces() {
    use facevox::vision::{crop_face, crop_precropped, normalize_face, CropConfig, FaceCropper};
    let frames = read_video_frames(example_clip(), &VideoConfig::sampled(1.0)).unwrap();
    let pic = &frames[1].image;
    let seeta = FacePick::Largest
        .pick(&SeetaDetector::new().unwrap().detect(pic).unwrap())
        .expect("a face in the example clip");
    let plain = CropConfig::rgb(96);
    let aligned = CropConfig {
        align: true,
        ..plain.clone()
    };
    // Off by default and absent from the JSON when off (old files and caches keep their keys).
    assert!(!plain.align);
    assert!(!serde_json::to_string(&plain).unwrap().contains("align"));
    let json = serde_json::to_string(&aligned).unwrap();
    assert!(json.contains("\"align\":true"), "{json}");
    assert_eq!(serde_json::from_str::<CropConfig>(&json).unwrap(), aligned);

    // A detected face: the crop is the landmark warp of the detector's box.
    let marks = LandmarkModel::shipped()
        .unwrap()
        .predict_seeta_rgb(pic, &seeta)
        .unwrap();
    let want = align_face(pic, &marks, 96, aligned.margin).unwrap();
    let got = crop_face(pic, &seeta, &aligned).unwrap();
    assert_eq!(got, normalize_face(&want, &aligned).unwrap());
    assert_ne!(got, crop_face(pic, &seeta, &plain).unwrap());
    // The same through a cropper that detects.
    let mut cropper =
        FaceCropper::for_source(facevox::vision::FaceSource::Detect, aligned.clone()).unwrap();
    assert_eq!(cropper.crop(pic).unwrap().unwrap(), got);
    // In the aligned crop the eyes are level where the canonical positions say.
    let (l, r) = canonical_eye_positions(96, aligned.margin);
    let again = LandmarkModel::shipped()
        .unwrap()
        .predict_seeta_rgb(
            &want,
            &FaceBox::new(
                96.0 / 1.4 * 0.2,
                96.0 / 1.4 * 0.2,
                96.0 / 1.4,
                96.0 / 1.4,
                1.0,
            ),
        )
        .unwrap();
    assert!(
        again.roll_degrees().abs() < 3.0,
        "roll {}",
        again.roll_degrees()
    );
    let (gl, gr) = (again.left_eye_center(), again.right_eye_center());
    let d = r[0] - l[0];
    for (g, c) in [(gl, l), (gr, r)] {
        let err = ((g[0] - c[0]).powi(2) + (g[1] - c[1]).powi(2)).sqrt();
        assert!(err < 0.15 * d, "eye at {g:?}, canonical {c:?}");
    }

    // A picture that is already a face crop of the crop's own size is still aligned.
    let face_pic = facevox::vision::crop_face_image(pic, &seeta, &plain).unwrap();
    let as_is = crop_precropped(&face_pic, &plain).unwrap();
    assert_eq!(as_is, normalize_face(&face_pic, &plain).unwrap());
    let warped = crop_precropped(&face_pic, &aligned).unwrap();
    assert_ne!(warped, as_is);
    assert_eq!(warped.shape(), [3, 96, 96]);
}
