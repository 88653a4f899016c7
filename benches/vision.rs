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

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use facevox::vision::{
    read_video_frames, video_face_crops, ClipConfig, FaceDetector, SeetaDetector, VideoConfig,
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

criterion_group!(benches, decode, detect, clip_to_crops);
criterion_main!(benches);
