//! The whole `Analyzer` on the shipped example clip (`examples/data/01-01-07-02-02-01-01.mp4`,
//! 4.0 s, 640x480, H.264 + AAC), models already loaded, in each mode; and model loading on
//! its own.
//!
//! ```text
//! cargo bench --bench analyzer
//! ```
//!
//! - `analyze/{auto,fused,face,voice}`: `Analyzer::analyze_file` in that mode (decode, face
//!   detection and tracking at 5 fps, crops, both networks, fusion). Target on a 2-core
//!   machine: fused under 250 ms.
//! - `analyze/voice_clip_in_memory`: the voice branch on the decoded audio (no decoding).
//! - `fused_sampling/*`: the fused analysis with cheaper face settings
//!   ([`facevox::VideoSampling`] frames per second, and the mirror image on or off), to show
//!   what each costs; the README's "Speed" gives their accuracy price.
//! - `load/analyzer_embedded`: `Analyzer::new()` from the compiled-in models (target: under
//!   150 ms); `load/face` and `load/voice` each branch alone.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use facevox::{Analyzer, FaceAnalyzer, Mode, VideoSampling, VoiceAnalyzer};

fn clip() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

fn analyze(c: &mut Criterion) {
    let a = Analyzer::new().unwrap();
    let mut g = c.benchmark_group("analyze");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, mode) in [
        ("auto", Mode::Auto),
        ("fused", Mode::Fused),
        ("face", Mode::Face),
        ("voice", Mode::Voice),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(a.analyze_file(clip(), mode).unwrap()))
        });
    }
    let audio = facevox::decode_file(clip(), &Default::default()).unwrap();
    g.bench_function("voice_clip_in_memory", |b| {
        b.iter(|| black_box(a.voice().analyze_clip(&audio).unwrap()))
    });
    g.finish();
}

fn fused_sampling(c: &mut Criterion) {
    let mut g = c.benchmark_group("fused_sampling");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, fps, mirror) in [
        ("fps5_no_mirror", 5.0, false),
        ("fps2.5_no_mirror", 2.5, false),
        ("fps2_mirror", 2.0, true),
        ("fps2_no_mirror", 2.0, false),
        ("fps1_no_mirror", 1.0, false),
    ] {
        let a = Analyzer::new()
            .unwrap()
            .with_video_sampling(VideoSampling::new(fps).unwrap())
            .unwrap()
            .with_mirror(mirror);
        g.bench_function(name, |b| {
            b.iter(|| black_box(a.analyze_file(clip(), Mode::Fused).unwrap()))
        });
    }
    g.finish();
}

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("analyzer_embedded", |b| {
        b.iter(|| black_box(Analyzer::new().unwrap()))
    });
    g.bench_function("face", |b| {
        b.iter(|| black_box(FaceAnalyzer::new().unwrap()))
    });
    g.bench_function("voice", |b| {
        b.iter(|| black_box(VoiceAnalyzer::new().unwrap()))
    });
    g.finish();
}

criterion_group!(benches, analyze, fused_sampling, load);
criterion_main!(benches);
