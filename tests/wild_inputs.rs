//! Input from the wild: a generated folder of more than 30 kinds of broken or unusual files,
//! run through the batch analyser and the fused evaluation. Every bad file comes back as a
//! typed error with a reason, every good one is analysed, nothing panics and nothing is lost.

use std::path::{Path, PathBuf};

use facevox::training::data::load_manifest;
use facevox::training::eval::{score_manifest, ManifestBranch};
use facevox::{Analyzer, Mode};

mod common;
use common::png_header;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A canonical 16-bit PCM WAV header with any (even absurd) rate, channel count and declared
/// data size, followed by `data`.
fn wav_raw(rate: u32, channels: u16, declared: u32, data: &[u8]) -> Vec<u8> {
    let mut h = b"RIFF".to_vec();
    h.extend_from_slice(&(36 + declared).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    let block = 2 * channels as u32;
    h.extend_from_slice(&(rate.wrapping_mul(block)).to_le_bytes());
    h.extend_from_slice(&(block as u16).to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&declared.to_le_bytes());
    h.extend_from_slice(data);
    h
}

fn wav_f32(path: &Path, rate: u32, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Pseudo-random bytes (xorshift), the same every run.
fn noise_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[derive(Debug, PartialEq)]
enum Expect {
    /// Must be analysed.
    Good,
    /// Must be a typed error.
    Bad,
    /// Either, but never a panic (a valid file the branches may or may not answer, e.g. a tone).
    Either,
}

#[test]
fn a_folder_of_broken_and_unusual_files_is_analysed_without_losing_any() {
    let dir = std::env::temp_dir().join(format!("facevox-wild-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let clip = repo("examples/data/01-01-07-02-02-01-01.mp4");
    let audio = facevox::decode_file(&clip, &Default::default()).unwrap();
    let speech: Vec<f32> = audio.samples.clone();
    let rate = audio.sample_rate;
    let clip_bytes = std::fs::read(&clip).unwrap();
    let mut cases: Vec<(&str, Expect)> = Vec::new();
    let mut put = |name: &'static str, bytes: Vec<u8>, e: Expect| {
        std::fs::write(dir.join(name), bytes).unwrap();
        cases.push((name, e));
    };
    use Expect::*;
    // Good ones.
    put("clip.mp4", clip_bytes.clone(), Good);
    put(
        "video_without_audio.mp4",
        std::fs::read(repo("tests/fixtures/vision/rot0.mp4")).unwrap(),
        Good,
    );
    put(
        "portrait_phone.mp4",
        std::fs::read(repo("tests/fixtures/vision/rot90.mp4")).unwrap(),
        Good,
    );
    let mut pcm = Vec::new();
    for s in &speech {
        pcm.extend_from_slice(&((s * 32767.0) as i16).to_le_bytes());
    }
    put("speech.wav", wav_raw(rate, 1, pcm.len() as u32, &pcm), Good);
    // Empty, random and truncated files of every kind.
    for (name, ext_bytes) in [
        ("empty.wav", Vec::new()),
        ("empty.mp4", Vec::new()),
        ("empty.png", Vec::new()),
        ("empty.flac", Vec::new()),
        ("random.wav", noise_bytes(20_000, 1)),
        ("random.mp3", noise_bytes(20_000, 2)),
        ("random.flac", noise_bytes(20_000, 3)),
        ("random.m4a", noise_bytes(20_000, 4)),
        ("random.mp4", noise_bytes(20_000, 5)),
        ("random.png", noise_bytes(20_000, 6)),
        ("random.jpg", noise_bytes(20_000, 7)),
        ("truncated.mp4", clip_bytes[..clip_bytes.len() / 3].to_vec()),
        ("header_only.mp4", clip_bytes[..64].to_vec()),
        ("wav_header_only.wav", wav_raw(16_000, 1, 0, &[])),
        ("truncated.png", png_header(64, 64)[..20].to_vec()),
        ("text.txt", b"not media at all".to_vec()),
        (
            "riff_garbage.wav",
            b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk".to_vec(),
        ),
    ] {
        put(name, ext_bytes, Bad);
    }
    // Wrong extensions: a video named as a picture, a picture named as audio.
    put("video_named.png", clip_bytes.clone(), Bad);
    put("picture_named.wav", png_header(32, 32), Bad);
    // Absurd headers: sizes claimed, not present.
    put("huge_dimensions.png", png_header(100_000, 100_000), Bad);
    put("wide_20000px_declared.png", png_header(20_000, 20_000), Bad);
    put("zero_size.png", png_header(0, 0), Bad);
    put("rate_0hz.wav", wav_raw(0, 1, 3200, &vec![0; 3200]), Bad);
    put(
        "rate_huge.wav",
        wav_raw(4_000_000_000, 1, 3200, &vec![0; 3200]),
        Bad,
    );
    put(
        "channels_200.wav",
        wav_raw(16_000, 200, 6400, &vec![0; 6400]),
        Bad,
    );
    put(
        "channels_0.wav",
        wav_raw(16_000, 0, 3200, &vec![0; 3200]),
        Bad,
    );
    let two_hours = (2 * 3600 * 48_000 * 2 * 2) as u32;
    put(
        "two_hour_header.wav",
        wav_raw(48_000, 2, two_hours, &pcm[..4000]),
        Bad,
    );
    // Unsupported codecs and containers.
    put(
        "hevc.mp4",
        std::fs::read(repo("tests/fixtures/vision/hevc.mp4")).unwrap(),
        Bad,
    );
    put(
        "sorenson.flv",
        std::fs::read(repo("tests/fixtures/vision/sorenson.flv")).unwrap(),
        Bad,
    );
    // Audio without speech or too short to say anything.
    put(
        "silence.wav",
        wav_raw(16_000, 1, 96_000, &vec![0; 96_000]),
        Bad,
    );
    let short: Vec<u8> = pcm[..(rate as usize / 20) * 2].to_vec();
    put(
        "speech_50ms.wav",
        wav_raw(rate, 1, short.len() as u32, &short),
        Bad,
    );
    // Pictures: one pixel, a long thin strip, a picture with no face.
    let png = |img: image::RgbImage| {
        let mut b = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut b), image::ImageFormat::Png)
            .unwrap();
        b
    };
    put("one_pixel.png", png(image::RgbImage::new(1, 1)), Bad);
    put(
        "strip_20000x2.png",
        png(image::RgbImage::new(20_000, 2)),
        Bad,
    );
    put(
        "no_face.png",
        png(image::RgbImage::from_fn(160, 120, |x, y| {
            image::Rgb([x as u8, y as u8, 128])
        })),
        Bad,
    );
    // Valid files the voice may or may not answer: tones in every audio container.
    for name in ["tone.flac", "tone.mp3", "tone.m4a", "tone.ogg"] {
        let bytes = std::fs::read(repo("tests/fixtures/audio").join(name)).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
        cases.push((name, Either));
    }
    // NaN and infinite samples.
    let mut nan = speech.clone();
    nan[1000] = f32::NAN;
    wav_f32(&dir.join("nan_samples.wav"), rate, &nan);
    cases.push(("nan_samples.wav", Bad));
    let mut inf = speech.clone();
    inf[2000] = f32::INFINITY;
    wav_f32(&dir.join("inf_samples.wav"), rate, &inf);
    cases.push(("inf_samples.wav", Bad));
    // A folder with a media name.
    std::fs::create_dir_all(dir.join("folder.wav")).unwrap();
    cases.push(("folder.wav", Bad));
    assert!(cases.len() >= 40, "{} cases", cases.len());

    // The batch analyser: one result per input, in order.
    let a = Analyzer::new().unwrap();
    let inputs: Vec<PathBuf> = cases.iter().map(|(n, _)| dir.join(n)).collect();
    let results = a.analyze_files(&inputs, Mode::Auto);
    assert_eq!(results.len(), cases.len());
    let mut reasons = Vec::new();
    for ((name, expect), r) in cases.iter().zip(&results) {
        match (expect, r) {
            (Good, Ok(an)) => assert!(an.fused.is_some(), "{name}: no fused answer"),
            (Good, Err(e)) => panic!("{name} should be analysed: {e}"),
            (Bad, Ok(an)) => panic!("{name} should be refused, got {an:?}"),
            (_, Err(e)) => {
                let why = e.to_string();
                assert!(!why.is_empty(), "{name}");
                reasons.push(format!("{name}: {why}"));
            }
            (Either, Ok(_)) => {}
        }
    }
    // The portrait clip is seen upright.
    let portrait = results[2].as_ref().unwrap();
    assert!(portrait.face.as_ref().is_some_and(|f| f.faces > 0));
    // A few errors are the precise kind.
    let err = |name: &str| {
        let i = cases.iter().position(|(n, _)| *n == name).unwrap();
        results[i].as_ref().unwrap_err().to_string()
    };
    for (name, says) in [
        ("hevc.mp4", "H.265"),
        ("rate_0hz.wav", "0 Hz"),
        ("channels_200.wav", "200 channels"),
        ("huge_dimensions.png", "too large"),
        ("zero_size.png", "too small"),
        ("folder.wav", "directory"),
    ] {
        assert!(err(name).contains(says), "{name}: {}", err(name));
    }
    assert!(
        err("nan_samples.wav").to_lowercase().contains("finite")
            || err("nan_samples.wav").to_lowercase().contains("nan"),
        "{}",
        err("nan_samples.wav")
    );

    // The fused evaluation over a manifest of the same files: every row scored or skipped
    // with its reason, none lost.
    let mut manifest = String::from("face,voice,gender,emotion\n");
    for (name, _) in &cases {
        manifest.push_str(&format!("{name},{name},male,disgust\n"));
    }
    std::fs::write(dir.join("m.csv"), manifest).unwrap();
    let rows = load_manifest(dir.join("m.csv")).unwrap();
    assert_eq!(rows.len(), cases.len());
    let report = score_manifest(
        ManifestBranch::Fused(&a),
        &rows,
        None,
        facevox::model::Abstention::NEVER,
    )
    .unwrap();
    assert_eq!(report.n, cases.len());
    assert_eq!(report.gender.n + report.errors, cases.len());
    assert_eq!(report.failures.len(), report.errors);
    assert!(report.gender.n >= 4, "{report:?}");
    eprintln!(
        "{} inputs, {} refused:\n{}",
        cases.len(),
        reasons.len(),
        reasons.join("\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
