//! Vision front end speed on the shipped example clip
//! (`examples/data/01-01-07-02-02-01-01.mp4`: H.264 Main, 640x480, 120 frames, 4.0 s).
//!
//! ```text
//! cargo bench --bench vision
//! ```
//!
//! - `decode/all_frames_rgb`: demux + decode + RGB conversion of all 120 frames (frames/s is the
//!   throughput criterion prints).
//! - `decode/decode_only_5fps`: the same decode, converting only the 20 frames kept at 5 fps.
//! - `detect/frame_640x480`: one full-frame detection by the default detector.
//! - `clip_to_crops/5fps`: the whole path, video file to 64x64 face crops at 5 frames/s
//!   (`video_face_crops` with the default `ClipConfig`). Target: under 400 ms (10x real time).
//! - `landmarks/predict_5pt`: the 5-point landmark model (port of dlib's shape predictor) on
//!   one face of an RGB frame (`predict_seeta_rgb`, Seeta box found outside the loop), cycling
//!   over 30 frames.
//!   dlib's own `shape_predictor` from Python takes about 0.6 ms per face on the same faces
//!   (`tools/dlib_landmark_reference.py` prints its timing).
//! - `landmarks/align_64`: `align_face` of one face to a 64x64 crop.
//! - `mmod/picture_96_upsample1`, `mmod/picture_96_upsample2`: the MMOD face detector (port of
//!   dlib's CNN face detector) on one 96x96 picture, upsampled once or twice as the SeetaFace
//!   fallback does, cycling over the first 20 pictures of the FairFace test part
//!   (`runs/fairface_manifests/fairface_test_by_race.csv`) when FACEVOX_DATA is set, else over
//!   96x96 crops of the clip's face. dlib's own detector from Python on the same FairFace
//!   pictures: `tools/dlib_mmod_reference.py --time-manifest ...` prints its timing.
//!   `cargo bench --bench vision -- mmod` runs only these.
//! - `dlib_resnet/batch1`, `dlib_resnet/batch32`: the candle port of dlib's ResNet face
//!   descriptor network (`facevox::model::DlibResNet`, not shipped) on 150 px chips (the same
//!   pictures as `mmod`, enlarged), one chip or 32 per call; runs only when
//!   `FACEVOX_DLIB_RESNET` points at the converted weights (`tools/convert_dlib_resnet.py
//!   convert`). dlib's own network from Python on the same kind of chips, in the same session:
//!   `tools/dlib_resnet.py --time 32` prints its timing.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use facevox::vision::{
    align_face, load_image, read_video_frames, video_face_crops, ClipConfig, FaceDetector,
    LandmarkModel, MmodConfig, MmodDetector, RgbImage, SeetaDetector, VideoConfig,
};

fn clip() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(120));
    g.bench_function("all_frames_rgb", |b| {
        b.iter(|| black_box(read_video_frames(clip(), &VideoConfig::all_frames()).unwrap()))
    });
    g.bench_function("decode_only_5fps", |b| {
        b.iter(|| black_box(read_video_frames(clip(), &VideoConfig::sampled(5.0)).unwrap()))
    });
    g.finish();
}

fn detect(c: &mut Criterion) {
    let frames = read_video_frames(clip(), &VideoConfig::sampled(1.0)).unwrap();
    let mut detector = SeetaDetector::new().unwrap();
    let mut g = c.benchmark_group("detect");
    g.sample_size(30);
    let mut i = 0;
    g.bench_function("frame_640x480", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            black_box(detector.detect(&frames[i].image).unwrap())
        })
    });
    g.finish();
}

fn clip_to_crops(c: &mut Criterion) {
    let mut g = c.benchmark_group("clip_to_crops");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let config = ClipConfig::default();
    g.bench_function("5fps", |b| {
        b.iter(|| {
            let faces = video_face_crops(clip(), &config).unwrap();
            assert!(faces.iter().all(|f| f.found()));
            black_box(faces)
        })
    });
    g.finish();
}

fn landmarks(c: &mut Criterion) {
    let frames = read_video_frames(clip(), &VideoConfig::sampled(7.5)).unwrap();
    let mut detector = SeetaDetector::new().unwrap();
    let faces: Vec<_> = frames
        .iter()
        .map(|f| (&f.image, detector.detect(&f.image).unwrap()[0]))
        .collect();
    let model = LandmarkModel::shipped().unwrap();
    let mut g = c.benchmark_group("landmarks");
    g.sample_size(50);
    let mut i = 0;
    g.bench_function("predict_5pt", |b| {
        b.iter(|| {
            i = (i + 1) % faces.len();
            let (image, face) = faces[i];
            black_box(model.predict_seeta_rgb(image, &face).unwrap())
        })
    });
    let marks: Vec<_> = faces
        .iter()
        .map(|(image, face)| model.predict_seeta_rgb(image, face).unwrap())
        .collect();
    g.bench_function("align_64", |b| {
        b.iter(|| {
            i = (i + 1) % faces.len();
            black_box(align_face(faces[i].0, &marks[i], 64, 0.2).unwrap())
        })
    });
    g.finish();
}

/// 96x96 pictures for the MMOD bench: FairFace test pictures, or crops of the clip's face.
fn pictures_96() -> (Vec<RgbImage>, &'static str) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runs/fairface_manifests/fairface_test_by_race.csv");
    if let (Some(data), Ok(text)) = (
        std::env::var_os("FACEVOX_DATA"),
        std::fs::read_to_string(&manifest),
    ) {
        let prefix = format!("{}/", Path::new(&data).display());
        let pics: Vec<RgbImage> = text
            .lines()
            .skip(1)
            .take(20)
            .filter_map(|l| {
                let face = l.split(',').next()?;
                let rel = face.strip_prefix(&prefix).unwrap_or(face);
                load_image(Path::new(&data).join(rel)).ok()
            })
            .collect();
        if !pics.is_empty() {
            return (pics, "FairFace test pictures");
        }
    }
    let frames = read_video_frames(clip(), &VideoConfig::sampled(5.0)).unwrap();
    let mut detector = SeetaDetector::new().unwrap();
    let pics = frames
        .iter()
        .map(|f| {
            let face = detector.detect(&f.image).unwrap()[0];
            let (cx, cy) = face.center();
            let s = 1.5 * face.width;
            let crop = image::imageops::crop_imm(
                &f.image,
                (cx - s / 2.0).max(0.0) as u32,
                (cy - s / 2.0).max(0.0) as u32,
                s as u32,
                s as u32,
            )
            .to_image();
            image::imageops::resize(&crop, 96, 96, image::imageops::FilterType::Triangle)
        })
        .collect();
    (pics, "crops of the clip's face")
}

fn mmod(c: &mut Criterion) {
    let (pics, what) = pictures_96();
    println!("mmod: {} {what}", pics.len());
    let mut g = c.benchmark_group("mmod");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for upsample in [1, 2] {
        let detector = MmodDetector::shipped()
            .unwrap()
            .with_config(MmodConfig {
                upsample,
                ..Default::default()
            })
            .unwrap();
        let mut i = 0;
        g.bench_function(format!("picture_96_upsample{upsample}"), |b| {
            b.iter(|| {
                i = (i + 1) % pics.len();
                black_box(detector.detect_rects(&pics[i]).unwrap())
            })
        });
    }
    g.finish();
}

fn dlib_resnet(c: &mut Criterion) {
    let Some(weights) = std::env::var_os("FACEVOX_DLIB_RESNET") else {
        println!("dlib_resnet: skipped (FACEVOX_DLIB_RESNET is not set)");
        return;
    };
    let net = facevox::model::DlibResNet::from_path(weights).unwrap();
    let (pics, what) = pictures_96();
    println!("dlib_resnet: {} {what}, enlarged to 150 px", pics.len());
    let chips: Vec<RgbImage> = pics
        .iter()
        .map(|p| image::imageops::resize(p, 150, 150, image::imageops::FilterType::CatmullRom))
        .collect();
    let one = net.input(&chips[..1]).unwrap();
    let batch: Vec<RgbImage> = chips.iter().cycle().take(32).cloned().collect();
    let many = net.input(&batch).unwrap();
    let mut g = c.benchmark_group("dlib_resnet");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("batch1", |b| {
        b.iter(|| black_box(net.forward(&one).unwrap()))
    });
    g.throughput(Throughput::Elements(32));
    g.bench_function("batch32", |b| {
        b.iter(|| black_box(net.forward(&many).unwrap()))
    });
    g.finish();
}

criterion_group!(
    benches,
    decode,
    detect,
    clip_to_crops,
    landmarks,
    mmod,
    dlib_resnet
);
criterion_main!(benches);
