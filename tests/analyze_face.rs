//! The face analyser's contract on a small untrained model: probabilities that sum to one,
//! pictures taken as crops or searched for a face, videos averaged over the frames with a
//! face, and a typed error (never a guess) when there is no face.

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use facevox::labels::{Emotion, FACE_EMOTIONS};
use facevox::model::{init_weights, FaceConfig, FaceModelFile, FaceNet};
use facevox::vision::{CropConfig, RgbImage};
use facevox::Error;
use facevox::{FaceAnalyzer, FaceSource};

fn model_dir(tag: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("facevox-analyze-face-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let varmap = VarMap::new();
    let cfg = FaceConfig::tiny();
    FaceNet::new(
        &cfg,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .unwrap();
    init_weights(&varmap, 3).unwrap();
    let mut file = FaceModelFile::new(cfg, CropConfig::gray(24), FACE_EMOTIONS.to_vec());
    file.provenance = serde_json::json!({"test": "untrained"});
    file.save(&[&varmap], &dir.join("face")).unwrap();
    dir
}

#[test]
fn pictures_videos_and_missing_faces() {
    let dir = model_dir("a");
    let analyzer = FaceAnalyzer::from_dir(&dir).unwrap();
    assert_eq!(analyzer.emotions(), &FACE_EMOTIONS);

    // A picture taken as a face crop: one face, distributions that sum to one.
    let picture = RgbImage::from_fn(60, 50, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
    });
    let r = analyzer
        .analyze_image_among(&picture, FaceSource::Precropped, None)
        .unwrap();
    assert_eq!((r.faces, r.frames), (1, 1));
    let total: f32 = r.emotion.probabilities.iter().map(|p| p.1).sum();
    assert!((total - 1.0).abs() < 1e-4);
    assert!((0.0..=1.0).contains(&r.gender.p_female));
    assert_eq!(r.embedding.len(), FaceConfig::tiny().embedding);
    // Restricting the argmax keeps the distribution but picks among the allowed labels.
    let only = [Emotion::Sad, Emotion::Angry];
    let r2 = analyzer
        .analyze_image_among(&picture, FaceSource::Precropped, Some(&only))
        .unwrap();
    assert!(only.contains(&r2.emotion.label));
    assert_eq!(r2.emotion.probabilities, r.emotion.probabilities);

    // Detection on a blank picture finds nothing: a typed error.
    let blank = RgbImage::from_pixel(200, 200, image::Rgb([128, 128, 128]));
    assert!(matches!(
        analyzer.analyze_image_among(&blank, FaceSource::Detect, None),
        Err(Error::NoFace(_))
    ));
    let path = dir.join("blank.png");
    blank.save(&path).unwrap();
    assert!(matches!(
        analyzer.analyze_file(&path),
        Err(Error::NoFace(_))
    ));

    // The shipped clip: faces followed through the sampled frames and averaged.
    let clip = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/01-01-07-02-02-01-01.mp4"
    );
    let v = analyzer.analyze_file(clip).unwrap();
    assert!(
        v.frames >= 15 && v.faces >= v.frames * 3 / 4,
        "{} of {}",
        v.faces,
        v.frames
    );
    let total: f32 = v.emotion.probabilities.iter().map(|p| p.1).sum();
    assert!((total - 1.0).abs() < 1e-4);
    // Its timeline: every sampled frame at 5 per second, each face's own answer, and the clip's
    // answer the mean of theirs.
    assert_eq!(v.timeline.len(), v.frames);
    for (k, f) in v.timeline.iter().enumerate() {
        assert!(
            (f.timestamp_secs - 0.2 * k as f64).abs() < 0.02,
            "{k}: {}",
            f.timestamp_secs
        );
        assert_eq!(f.face.is_some(), f.prediction.is_some());
    }
    let answered: Vec<_> = v
        .timeline
        .iter()
        .filter_map(|f| f.prediction.as_ref())
        .collect();
    assert_eq!(answered.len(), v.faces);
    let mean_female = answered.iter().map(|p| p.gender.p_female).sum::<f32>() / v.faces as f32;
    assert!((mean_female - v.gender.p_female).abs() < 1e-5);
    for (e, p) in &v.emotion.probabilities {
        let mean = answered
            .iter()
            .map(|a| a.emotion.probability(*e))
            .sum::<f32>()
            / v.faces as f32;
        assert!((mean - p).abs() < 1e-5, "{e:?}");
    }
    // A picture has none.
    assert!(r.timeline.is_empty());

    // Unreadable input and a missing model are errors too.
    assert!(analyzer.analyze_file(dir.join("missing.png")).is_err());
    assert!(FaceAnalyzer::from_dir(dir.join("nowhere")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gender_members_average_only_gender() {
    use facevox::model::{FacePredictor, Member, MemberRole, TestTimeViews};
    // Each network alone, scored with the mirror, through the one face prediction path.
    let predict_face_crops_tta = |net: &FaceNet, crops: &[&facevox::vision::FaceCrop], batch| {
        let crop = CropConfig::gray(24);
        FacePredictor::single(net.clone(), crop, TestTimeViews::mirrored())
            .predict_crops(&[crops.to_vec()], batch)
    };
    use facevox::vision::{video_face_crops, ClipConfig, FaceCropper};
    let dev = Device::Cpu;
    let cfg = FaceConfig::tiny();
    // The second member reads its own crop of the face: RGB, larger, with more margin.
    let rgb_cfg = FaceConfig {
        in_channels: 3,
        stages: vec![4, 8],
        ..cfg.clone()
    };
    let rgb_crop = CropConfig {
        margin: 0.35,
        ..CropConfig::rgb(28)
    };
    let build = |c: &FaceConfig, seed: u64| {
        let vm = VarMap::new();
        let net = FaceNet::new(c, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
        init_weights(&vm, seed).unwrap();
        (vm, net)
    };
    let (main_vm, main) = build(&cfg, 3);
    let (member_vm, member) = build(&cfg, 11);
    let (rgb_vm, rgb_member) = build(&rgb_cfg, 5);
    let dir = std::env::temp_dir().join(format!("facevox-analyze-face-gm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let crop = CropConfig::gray(24);
    FaceModelFile {
        members: vec![
            Member::full(""),
            Member {
                weights: "gender_member0".into(),
                role: MemberRole::Gender,
                model: None,
                input: None,
            },
            Member {
                weights: "gender_member1".into(),
                role: MemberRole::Gender,
                model: Some(rgb_cfg.clone()),
                input: Some(rgb_crop.clone()),
            },
        ],
        tta: TestTimeViews::mirrored(),
        ..FaceModelFile::new(cfg.clone(), crop.clone(), FACE_EMOTIONS.to_vec())
    }
    .save(&[&main_vm, &member_vm, &rgb_vm], &dir.join("face"))
    .unwrap();
    let analyzer = FaceAnalyzer::from_dir(&dir).unwrap();
    let picture = RgbImage::from_fn(40, 44, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 5) as u8, (x * y % 255) as u8])
    });
    let r = analyzer
        .analyze_image_among(&picture, FaceSource::Precropped, None)
        .unwrap();
    let faces = FaceCropper::for_source(FaceSource::Precropped, crop.clone())
        .unwrap()
        .crop_views(&picture, std::slice::from_ref(&rgb_crop))
        .unwrap()
        .unwrap();
    assert_eq!(faces[1].shape(), [3, 28, 28]);
    let a = &predict_face_crops_tta(&main, &[&faces[0]], 1).unwrap()[0];
    let b = &predict_face_crops_tta(&member, &[&faces[0]], 1).unwrap()[0];
    let c = &predict_face_crops_tta(&rgb_member, &[&faces[1]], 1).unwrap()[0];
    let want = (a.gender[1] + b.gender[1] + c.gender[1]) / 3.0;
    assert!(
        (r.gender.p_female - want).abs() < 1e-5,
        "{} vs {} from {}, {} and {}",
        r.gender.p_female,
        want,
        a.gender[1],
        b.gender[1],
        c.gender[1]
    );
    assert!((a.gender[1] - b.gender[1]).abs() > 1e-4, "members differ");
    assert!((a.gender[1] - c.gender[1]).abs() > 1e-4, "members differ");
    for ((_, got), want) in r.emotion.probabilities.iter().zip(&a.emotion) {
        assert!((got - want).abs() < 1e-6);
    }
    assert_eq!(r.embedding, a.embedding);

    // A video: every frame's face is cropped once per view, the same detection each time.
    let clip = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/01-01-07-02-02-01-01.mp4"
    );
    let v = analyzer.analyze_file(clip).unwrap();
    let frames = video_face_crops(
        clip,
        &ClipConfig {
            crop,
            extra_crops: vec![rgb_crop],
            ..ClipConfig::default()
        },
    )
    .unwrap();
    let found: Vec<_> = frames.iter().filter(|f| f.found()).collect();
    assert_eq!(v.faces, found.len());
    assert!(found.iter().all(|f| f.extra_crops.len() == 1));
    let mean = |net: &FaceNet, view: usize| -> f32 {
        let crops: Vec<_> = found
            .iter()
            .map(|f| match view {
                0 => f.crop.as_ref().unwrap(),
                _ => &f.extra_crops[0],
            })
            .collect();
        let p = predict_face_crops_tta(net, &crops, 64).unwrap();
        p.iter().map(|p| p.gender[1]).sum::<f32>() / p.len() as f32
    };
    let want = (mean(&main, 0) + mean(&member, 0) + mean(&rgb_member, 1)) / 3.0;
    assert!(
        (v.gender.p_female - want).abs() < 1e-4,
        "{} vs {want}",
        v.gender.p_female
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
