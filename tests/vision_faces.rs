//! Detection, tracking and cropping on the example clip (shipped in examples/data), and the
//! explicit "no face" results.

use std::path::{Path, PathBuf};

use facevox::vision::{
    face_crop_from_file, folder_face_crops, read_video_frames, track_faces, video_face_crops,
    ClipConfig, ColorMode, CropConfig, FaceBox, FaceCropper, FaceDetector, FaceSource, FaceTracker,
    RgbImage, SeetaConfig, SeetaDetector, TrackerConfig, VideoConfig, VideoFrame,
};
use facevox::Error;
use image::Rgb;

fn example_clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

fn sampled_frames() -> Vec<VideoFrame> {
    read_video_frames(example_clip(), &VideoConfig::sampled(5.0)).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("facevox_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The actor's face sits in the middle of the letterboxed 640x480 frame, about 170 px across.
fn assert_plausible(face: &FaceBox) {
    let (cx, cy) = face.center();
    assert!(
        (200.0..440.0).contains(&cx) && (160.0..340.0).contains(&cy),
        "{face:?}"
    );
    assert!((120.0..240.0).contains(&face.width), "{face:?}");
}

#[test]
fn detector_finds_the_one_face_in_every_sampled_frame() {
    let mut det = SeetaDetector::new().unwrap();
    for f in sampled_frames() {
        let faces = det.detect(&f.image).unwrap();
        assert_eq!(faces.len(), 1, "frame {}: {faces:?}", f.index);
        assert_plausible(&faces[0]);
    }
}

/// Smooth, face-free pictures of several kinds.
fn no_face_images() -> Vec<RgbImage> {
    let mut x = 99u32;
    let mut noise = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    };
    vec![
        RgbImage::from_pixel(320, 240, Rgb([128, 128, 128])),
        RgbImage::from_fn(320, 240, |x, y| Rgb([x as u8, y as u8, 90])),
        RgbImage::from_fn(320, 240, |_, _| Rgb([noise(), noise(), noise()])),
        RgbImage::from_fn(320, 240, |x, y| {
            if (x / 20 + y / 20) % 2 == 0 {
                Rgb([0; 3])
            } else {
                Rgb([255; 3])
            }
        }),
    ]
}

#[test]
fn images_without_faces_give_an_explicit_no_face() {
    let mut cropper = FaceCropper::new(CropConfig::default()).unwrap();
    let mut images = no_face_images();
    // The background of a real frame, with the person cut out.
    let frame = &sampled_frames()[0].image;
    images.push(image::imageops::crop_imm(frame, 0, 60, 200, 360).to_image());
    for (i, img) in images.iter().enumerate() {
        assert_eq!(cropper.locate(img).unwrap(), None, "image {i}");
        assert_eq!(cropper.crop(img).unwrap(), None, "image {i}");
    }
    // The file-level helper turns "no face" into a typed error.
    let dir = temp_dir("noface");
    let path = dir.join("gradient.png");
    images[1].save(&path).unwrap();
    assert!(matches!(
        face_crop_from_file(&path, &CropConfig::default()),
        Err(Error::NoFace(_))
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn crops_are_centred_on_the_face() {
    let frames = sampled_frames();
    // Large crops so the detector can run on them again.
    let cfg = CropConfig {
        size: 200,
        margin: 0.3,
        ..CropConfig::default()
    };
    let mut cropper = FaceCropper::new(cfg).unwrap();
    let mut det = SeetaDetector::new().unwrap();
    for f in frames.iter().step_by(4) {
        let crop = cropper.crop(&f.image).unwrap().expect("a face");
        assert_eq!(crop.shape(), [3, 200, 200]);
        let again = det.detect(&crop.to_rgb_image()).unwrap();
        assert_eq!(again.len(), 1, "frame {}", f.index);
        let (cx, cy) = again[0].center();
        assert!(
            (cx - 100.0).abs() < 20.0 && (cy - 100.0).abs() < 20.0,
            "{:?}",
            again[0]
        );
        // With margin 0.3 the face box spans 1 / 1.6 of the crop.
        let rel = again[0].width / 200.0;
        assert!((0.45..0.8).contains(&rel), "{rel}");
    }
}

#[test]
fn crop_config_sets_size_colour_and_normalisation() {
    let frame = &sampled_frames()[0].image;
    let mut grey = FaceCropper::new(CropConfig::gray(48)).unwrap();
    let g = grey.crop(frame).unwrap().unwrap();
    assert_eq!(g.shape(), [1, 48, 48]);
    assert!(g.data.iter().all(|v| (-1.0..=1.0).contains(v)));
    let imagenet = CropConfig {
        mean: vec![0.485, 0.456, 0.406],
        std: vec![0.229, 0.224, 0.225],
        ..CropConfig::rgb(64)
    };
    let mut rgb = FaceCropper::new(imagenet).unwrap();
    let c = rgb.crop(frame).unwrap().unwrap();
    assert_eq!(c.shape(), [3, 64, 64]);
    // Roughly zero-mean per channel on a face.
    for ch in 0..3 {
        let m: f32 = c.data[ch * 4096..(ch + 1) * 4096].iter().sum::<f32>() / 4096.0;
        assert!(m.abs() < 1.5, "channel {ch}: {m}");
    }
    let json = serde_json::to_string(&rgb.config().clone()).unwrap();
    assert_eq!(
        serde_json::from_str::<CropConfig>(&json).unwrap(),
        *rgb.config()
    );
}

#[test]
fn precropped_faces_bypass_detection() {
    // A FER+-like 48x48 grey crop (a smooth blob: the detector would find no face in it).
    let fer = RgbImage::from_fn(48, 48, |x, y| {
        let d = ((x as f32 - 24.0).powi(2) + (y as f32 - 24.0).powi(2)).sqrt();
        let v = (200.0 - 3.0 * d).max(0.0) as u8;
        Rgb([v, v, v])
    });
    let mut cropper =
        FaceCropper::for_source(FaceSource::Precropped, CropConfig::gray(64)).unwrap();
    assert_eq!(
        cropper.locate(&fer).unwrap(),
        Some(FaceBox::whole_image(48, 48))
    );
    let crop = cropper.crop(&fer).unwrap().unwrap();
    assert_eq!(crop.shape(), [1, 64, 64]);
    // The centre stays the brightest point.
    let centre = crop.data[32 * 64 + 32];
    assert!(crop.data.iter().all(|&v| v <= centre + 1e-3));
    // Non-square pictures use their centre square.
    let wide = RgbImage::from_fn(96, 48, |x, _| {
        if (24..72).contains(&x) {
            Rgb([255; 3])
        } else {
            Rgb([0; 3])
        }
    });
    let c = cropper.crop(&wide).unwrap().unwrap();
    assert!(
        c.data.iter().all(|&v| v > 0.9),
        "only the white centre square is used"
    );
}

#[test]
fn whole_clip_gives_a_stable_face_in_every_sampled_frame() {
    let faces = video_face_crops(example_clip(), &ClipConfig::default()).unwrap();
    assert_eq!(faces.len(), 20);
    for (k, f) in faces.iter().enumerate() {
        assert_eq!(f.index, 6 * k);
        assert!(f.found(), "frame {}", f.index);
        assert_plausible(&f.face.unwrap());
        assert_eq!(f.crop.as_ref().unwrap().shape(), [3, 64, 64]);
    }
    for w in faces.windows(2) {
        let (a, b) = (w[0].face.unwrap(), w[1].face.unwrap());
        let (ax, ay) = a.center();
        let (bx, by) = b.center();
        assert!(
            ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt() < 25.0,
            "{a:?} -> {b:?}"
        );
        assert!((a.width - b.width).abs() < 15.0);
    }
}

#[test]
fn tracker_reports_frames_without_a_face_and_recovers() {
    let mut frames = sampled_frames();
    let grey = RgbImage::from_pixel(640, 480, Rgb([90, 90, 90]));
    for f in &mut frames[8..10] {
        f.image = grey.clone();
    }
    let out = track_faces(
        frames.into_iter().map(Ok),
        SeetaDetector::new().unwrap(),
        &ClipConfig::default(),
    )
    .unwrap();
    let found: Vec<bool> = out.iter().map(|f| f.found()).collect();
    assert_eq!(found.iter().filter(|&&x| !x).count(), 2, "{found:?}");
    assert!(!found[8] && !found[9]);
    assert!(out[8].crop.is_none());
    assert!(found[10..].iter().all(|&x| x));
}

#[test]
fn tracker_config_controls_redetection() {
    /// Counts calls, forwarding to the real detector.
    struct Counting(SeetaDetector, Vec<(u32, u32)>);
    impl FaceDetector for Counting {
        fn detect(&mut self, image: &RgbImage) -> facevox::Result<Vec<FaceBox>> {
            self.1.push(image.dimensions());
            self.0.detect(image)
        }
    }
    let frames = sampled_frames();
    let cfg = TrackerConfig {
        redetect_every: 4,
        ..TrackerConfig::default()
    };
    let mut tracker =
        FaceTracker::new(Counting(SeetaDetector::new().unwrap(), vec![]), cfg).unwrap();
    for f in &frames[..8] {
        assert!(tracker.update(&f.image).unwrap().is_some());
    }
    let calls = &tracker.detector_mut().1;
    assert_eq!(calls.len(), 8);
    let full: Vec<usize> = calls
        .iter()
        .enumerate()
        .filter(|(_, &d)| d == (640, 480))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(full, [0, 4], "full-frame detection on every 4th frame only");
    // The others search a small region around the face.
    assert!(calls
        .iter()
        .all(|&(w, h)| (w, h) == (640, 480) || w.max(h) < 200));
}

#[test]
fn folder_clips_go_through_the_same_path() {
    let dir = temp_dir("folder_clip");
    for f in sampled_frames().iter().take(6) {
        f.image
            .save(dir.join(format!("{:04}.png", f.index)))
            .unwrap();
    }
    let faces = folder_face_crops(
        &dir,
        5.0,
        &ClipConfig {
            video: VideoConfig::all_frames(),
            ..ClipConfig::default()
        },
    )
    .unwrap();
    assert_eq!(faces.len(), 6);
    assert!(faces.iter().all(|f| f.found()));
    assert!((faces[5].timestamp_secs - 1.0).abs() < 1e-9);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn configs_round_trip_through_json() {
    let clip = ClipConfig {
        crop: CropConfig {
            color: ColorMode::Gray,
            ..CropConfig::gray(48)
        },
        ..ClipConfig::default()
    };
    let json = serde_json::to_string_pretty(&clip).unwrap();
    assert_eq!(serde_json::from_str::<ClipConfig>(&json).unwrap(), clip);
    let seeta = SeetaConfig::default();
    let back: SeetaConfig = serde_json::from_str(&serde_json::to_string(&seeta).unwrap()).unwrap();
    assert_eq!(back, seeta);
    // Fields left out take defaults.
    let partial: ClipConfig = serde_json::from_str(r#"{"crop": {"size": 32}}"#).unwrap();
    assert_eq!(partial.crop.size, 32);
    assert_eq!(partial.video.sample_fps, Some(5.0));
}
