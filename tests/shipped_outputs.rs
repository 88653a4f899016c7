//! The shipped models give the outputs recorded in `tests/fixtures/shipped_outputs.json`:
//! probabilities and embeddings of both branches on the shipped example clip, on a frame of it
//! as a picture, and on deterministic synthetic inputs (a pre-cropped picture, a 22.05 kHz
//! tone sweep). The fixture was recorded before the inference layer was split from training
//! (with model files in format 1); a refactor that changes a shipped prediction fails here.
//!
//! Re-record (only when the shipped models change on purpose):
//! `FACEVOX_RECORD_OUTPUTS=1 cargo test --test shipped_outputs`.

use std::path::PathBuf;

use facevox::audio::AudioClip;
use facevox::vision::{read_video_frames, RgbImage, VideoConfig};
use facevox::{FaceAnalysis, FaceAnalyzer, FaceSource, VoiceAnalysis, VoiceAnalyzer};
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    root().join("tests/fixtures/shipped_outputs.json")
}

fn example_clip() -> PathBuf {
    root().join("examples/data/01-01-07-02-02-01-01.mp4")
}

/// A 1.5 s sweep from 120 Hz to 400 Hz with harmonics and a little deterministic noise, at
/// 22.05 kHz (so the resampler runs too).
fn sweep() -> AudioClip {
    let sr = 22_050u32;
    let n = (1.5 * sr as f64) as usize;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let samples = (0..n)
        .map(|i| {
            let t = i as f64 / sr as f64;
            let f = 120.0 + 280.0 * t / 1.5;
            let phase = 2.0 * std::f64::consts::PI * f * t;
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
            (0.4 * phase.sin()
                + 0.15 * (2.0 * phase).sin()
                + 0.05 * (3.0 * phase).sin()
                + 0.01 * noise) as f32
        })
        .collect();
    AudioClip::new(samples, sr)
}

/// A deterministic 80x80 RGB pattern, analysed as a pre-cropped face.
fn pattern() -> RgbImage {
    RgbImage::from_fn(80, 80, |x, y| {
        let r = ((x * 3 + y * 5) % 256) as u8;
        let g = ((x * y) % 251) as u8;
        let b = (((x as i32 - 40).pow(2) + (y as i32 - 40).pow(2)) % 256) as u8;
        image::Rgb([r, g, b])
    })
}

fn voice_json(r: &VoiceAnalysis) -> Value {
    json!({
        "p_female": r.gender.p_female,
        "emotion": r.emotion.probabilities.iter().map(|p| p.1).collect::<Vec<_>>(),
        "embedding": r.embedding,
        "speech_seconds": r.speech_seconds,
    })
}

fn face_json(r: &FaceAnalysis) -> Value {
    json!({
        "p_female": r.gender.p_female,
        "emotion": r.emotion.probabilities.iter().map(|p| p.1).collect::<Vec<_>>(),
        "embedding": r.embedding,
        "faces": r.faces,
        "frames": r.frames,
    })
}

fn outputs(voice: &VoiceAnalyzer, face: &FaceAnalyzer) -> Value {
    let clip = example_clip();
    let frame = read_video_frames(&clip, &VideoConfig::default())
        .unwrap()
        .remove(3)
        .image;
    json!({
        "voice_clip": voice_json(&voice.analyze_file(&clip).unwrap()),
        "voice_sweep": voice_json(&voice.analyze_clip(&sweep()).unwrap()),
        "face_clip": face_json(&face.analyze_file(&clip).unwrap()),
        "face_frame": face_json(
            &face.analyze_image_among(&frame, FaceSource::Detect, None).unwrap()
        ),
        "face_pattern": face_json(
            &face.analyze_image_among(&pattern(), FaceSource::Precropped, None).unwrap()
        ),
    })
}

/// Every number in `got` against `want`: the largest absolute difference, and how many
/// differ in any bit.
fn compare(path: &str, want: &Value, got: &Value, max_diff: &mut f64, differing: &mut usize) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            assert_eq!(
                w.keys().collect::<Vec<_>>(),
                g.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (k, v) in w {
                compare(&format!("{path}.{k}"), v, &g[k], max_diff, differing);
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{path}: length");
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                compare(&format!("{path}[{i}]"), a, b, max_diff, differing);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap() as f32, b.as_f64().unwrap() as f32);
            if a.to_bits() != b.to_bits() {
                *differing += 1;
                *max_diff = max_diff.max((a - b).abs() as f64);
            }
        }
        _ => assert_eq!(want, got, "{path}"),
    }
}

#[test]
fn shipped_models_give_the_recorded_outputs() {
    // The copy compiled into the library (or FACEVOX_MODELS, when set)...
    let got = outputs(
        &VoiceAnalyzer::new().unwrap(),
        &FaceAnalyzer::new().unwrap(),
    );
    // ...and the files in models/, read from disk, agree exactly.
    let models = root().join("models");
    let from_dir = outputs(
        &VoiceAnalyzer::from_dir(&models).unwrap(),
        &FaceAnalyzer::from_dir(&models).unwrap(),
    );
    assert_eq!(got, from_dir, "embedded and on-disk models disagree");
    if std::env::var_os("FACEVOX_RECORD_OUTPUTS").is_some() {
        std::fs::write(fixture(), serde_json::to_string_pretty(&got).unwrap()).unwrap();
        println!("recorded {}", fixture().display());
        return;
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let (mut max_diff, mut differing) = (0f64, 0usize);
    compare("outputs", &want, &got, &mut max_diff, &mut differing);
    println!(
        "{differing} numbers differ from the recording in any bit; largest difference {max_diff:e}"
    );
    // Bit for bit on the machine that recorded them; a CPU with other SIMD kernels (AVX-512
    // against AVX2) may round a GEMM differently in the last place, never by more than this.
    assert!(
        max_diff <= 1e-5,
        "{differing} outputs differ, by up to {max_diff:e}"
    );
}
