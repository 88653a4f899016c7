//! Decoding every supported format, and refusing bad input with typed errors.

use std::path::{Path, PathBuf};

use facevox::audio::{
    decode_bytes, decode_file, load_audio, DecodeOptions, MelConfig, MelExtractor,
};
use facevox::Error;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

fn example_clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

fn opts() -> DecodeOptions {
    DecodeOptions::default()
}

/// Power of frequency `f` in `x` (Goertzel), normalised by length.
fn tone_power(x: &[f32], rate: u32, f: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f / rate as f64;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = v as f64 + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (x.len() as f64).powi(2)
}

fn sine(f: f64, rate: u32, n: usize, amp: f64) -> Vec<f64> {
    (0..n)
        .map(|i| amp * (2.0 * std::f64::consts::PI * f * i as f64 / rate as f64).sin())
        .collect()
}

/// A WAV file as bytes, from raw fields, so headers can be made as broken as needed.
fn wav_bytes(
    format_tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data: &[u8],
    data_len: u32,
) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits / 8);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&format_tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate.wrapping_mul(block_align as u32)).to_le_bytes());
    v.extend_from_slice(&block_align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn pcm16(samples: &[f64]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|&s| ((s * 32767.0).round() as i16).to_le_bytes())
        .collect()
}

fn write_hound(path: &Path, spec: hound::WavSpec, x: &[f64]) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in x {
        for _ in 0..spec.channels {
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => w.write_sample(s as f32).unwrap(),
                (_, 8) => w.write_sample((s * 127.0).round() as i8).unwrap(),
                (_, 16) => w.write_sample((s * 32767.0).round() as i16).unwrap(),
                (_, 24) => w.write_sample((s * 8_388_607.0).round() as i32).unwrap(),
                (_, 32) => w
                    .write_sample((s * 2_147_483_647.0).round() as i32)
                    .unwrap(),
                _ => unreachable!(),
            }
        }
    }
    w.finalize().unwrap();
}

#[test]
fn wav_every_pcm_depth_decodes_to_the_same_signal() {
    let dir = tempdir();
    let x = sine(440.0, 22_050, 11_025, 0.5);
    for (bits, format, tol) in [
        (8, hound::SampleFormat::Int, 1.0 / 64.0),
        (16, hound::SampleFormat::Int, 1e-4),
        (24, hound::SampleFormat::Int, 1e-6),
        (32, hound::SampleFormat::Int, 1e-6),
        (32, hound::SampleFormat::Float, 1e-7),
    ] {
        for channels in [1u16, 2] {
            let path = dir.join(format!("t{bits}{format:?}{channels}.wav"));
            let spec = hound::WavSpec {
                channels,
                sample_rate: 22_050,
                bits_per_sample: bits,
                sample_format: format,
            };
            write_hound(&path, spec, &x);
            let clip = decode_file(&path, &opts()).unwrap();
            assert_eq!(clip.sample_rate, 22_050);
            assert_eq!(clip.samples.len(), x.len(), "{bits}-bit {format:?}");
            let err = clip
                .samples
                .iter()
                .zip(&x)
                .map(|(&a, &b)| (a as f64 - b).abs())
                .fold(0.0, f64::max);
            assert!(
                err < tol,
                "{bits}-bit {format:?} x{channels}: max error {err}"
            );
        }
    }
}

#[test]
fn stereo_is_averaged_to_mono() {
    let left = sine(440.0, 16_000, 1600, 0.5);
    let data: Vec<u8> = left
        .iter()
        .flat_map(|&l| {
            let mut b = pcm16(&[l]);
            b.extend(pcm16(&[0.0]));
            b
        })
        .collect();
    let bytes = wav_bytes(1, 2, 16_000, 16, &data, data.len() as u32);
    let clip = decode_bytes(bytes, Some("wav"), &opts()).unwrap();
    assert_eq!(clip.samples.len(), 1600);
    for (got, want) in clip.samples.iter().zip(&left) {
        assert!((*got as f64 - want / 2.0).abs() < 1e-4);
    }
}

#[test]
fn compressed_formats_decode() {
    for name in ["tone.flac", "tone.mp3", "tone.ogg", "tone.m4a"] {
        let clip = decode_file(fixture(name), &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(clip.sample_rate, 44_100, "{name}");
        let secs = clip.duration_secs();
        assert!((0.45..0.6).contains(&secs), "{name}: {secs} s");
        // Both tones present (mono mix of a 440 Hz left and a 1 kHz right channel), little else.
        let p440 = tone_power(&clip.samples, 44_100, 440.0);
        let p1k = tone_power(&clip.samples, 44_100, 1000.0);
        let p3k = tone_power(&clip.samples, 44_100, 3000.0);
        assert!(
            p440 > 1e3 * p3k && p1k > 1e3 * p3k,
            "{name}: {p440} {p1k} {p3k}"
        );
    }
}

#[test]
fn the_example_video_clip_audio_decodes() {
    let clip = decode_file(example_clip(), &opts()).unwrap();
    assert_eq!(clip.sample_rate, 44_100);
    assert!(
        (clip.duration_secs() - 4.04).abs() < 0.05,
        "{}",
        clip.duration_secs()
    );
    let voiced = load_audio(example_clip(), 16_000).unwrap();
    assert_eq!(voiced.sample_rate, 16_000);
    let mel = MelExtractor::new(MelConfig::default())
        .unwrap()
        .compute(&voiced)
        .unwrap();
    // Silence trimmed: RAVDESS clips open with about a second of room tone.
    assert!(
        mel.n_frames < 380 && mel.n_frames > 100,
        "{} frames",
        mel.n_frames
    );
}

#[test]
fn the_example_clip_matches_its_ravdess_flac_when_data_is_present() {
    let Some(data) = std::env::var_os("FACEVOX_DATA") else {
        println!("skipped: FACEVOX_DATA is not set");
        return;
    };
    let flac = Path::new(&data).join("ravdess/speech/Actor_01/03-01-07-02-02-01-01.flac");
    let reference = decode_file(&flac, &opts()).unwrap();
    assert_eq!(reference.sample_rate, 16_000);
    let from_video = load_audio(example_clip(), 16_000).unwrap();
    // Same recording, different codecs (AAC 44.1 kHz vs FLAC 16 kHz) and maybe a small offset:
    // the best normalised cross-correlation over ±50 ms must be high.
    let n = reference.samples.len().min(from_video.samples.len()) - 1600;
    let a = &reference.samples[800..800 + n - 800];
    let best = (0..1600)
        .map(|lag| {
            let b = &from_video.samples[lag..lag + a.len()];
            let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let na: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
            let nb: f64 = b.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
            dot / (na * nb)
        })
        .fold(f64::MIN, f64::max);
    assert!(best > 0.9, "correlation {best}");
}

// ---------------------------------------------------------------- bad input

fn decode_err(bytes: Vec<u8>, ext: &str) -> Error {
    decode_bytes(bytes, Some(ext), &opts()).expect_err("decoding should fail")
}

#[test]
fn empty_file_is_empty() {
    assert!(matches!(decode_err(vec![], "wav"), Error::Empty(_)));
    let dir = tempdir();
    let p = dir.join("empty.flac");
    std::fs::write(&p, b"").unwrap();
    assert!(matches!(decode_file(&p, &opts()), Err(Error::Empty(_))));
}

#[test]
fn missing_file_is_io() {
    assert!(matches!(
        decode_file("/nonexistent/x.wav", &opts()),
        Err(Error::Io { .. })
    ));
}

#[test]
fn not_audio_is_unrecognised() {
    let text = b"This is a README, not a recording.\n".repeat(50);
    assert!(matches!(
        decode_err(text.clone(), "wav"),
        Error::UnrecognizedFormat(_)
    ));
    assert!(matches!(
        decode_err(text, "txt"),
        Error::UnrecognizedFormat(_)
    ));
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(matches!(
        decode_err(noise, "mp3"),
        Error::UnrecognizedFormat(_) | Error::Corrupt(_)
    ));
}

#[test]
fn truncated_files_are_corrupt() {
    for name in ["tone.flac", "tone.m4a"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let half = bytes[..bytes.len() / 2].to_vec();
        let ext = name.rsplit('.').next().unwrap();
        let err = decode_err(half, ext);
        assert!(matches!(err, Error::Corrupt(_)), "{name}: {err:?}");
    }
    let video = std::fs::read(example_clip()).unwrap();
    let err = decode_err(video[..video.len() / 3].to_vec(), "mp4");
    assert!(matches!(err, Error::Corrupt(_)), "mp4: {err:?}");
    // WAV whose data chunk promises more than the file holds.
    let data = pcm16(&sine(440.0, 16_000, 8000, 0.5));
    let mut bytes = wav_bytes(1, 1, 16_000, 16, &data, data.len() as u32);
    bytes.truncate(4000);
    let err = decode_err(bytes, "wav");
    assert!(matches!(err, Error::Corrupt(_)), "wav: {err:?}");
    // A file cut inside its header.
    let flac = std::fs::read(fixture("tone.flac")).unwrap();
    let err = decode_err(flac[..20].to_vec(), "flac");
    assert!(
        matches!(err, Error::Corrupt(_) | Error::InvalidHeader(_)),
        "{err:?}"
    );
}

#[test]
fn zero_length_recording_is_empty() {
    let bytes = wav_bytes(1, 1, 16_000, 16, &[], 0);
    assert!(matches!(decode_err(bytes, "wav"), Error::Empty(_)));
}

#[test]
fn absurd_headers_are_invalid() {
    let data = pcm16(&sine(440.0, 16_000, 1600, 0.5));
    let cases = [
        (
            "sample rate 0",
            wav_bytes(1, 1, 0, 16, &data, data.len() as u32),
        ),
        (
            "sample rate 4 GHz",
            wav_bytes(1, 1, 4_000_000_000, 16, &data, data.len() as u32),
        ),
        (
            "zero channels",
            wav_bytes(1, 0, 16_000, 16, &data, data.len() as u32),
        ),
        (
            "200 channels",
            wav_bytes(1, 200, 16_000, 16, &data, data.len() as u32),
        ),
        (
            "13-bit samples",
            wav_bytes(1, 1, 16_000, 13, &data, data.len() as u32),
        ),
        (
            "0-bit samples",
            wav_bytes(1, 1, 16_000, 0, &data, data.len() as u32),
        ),
    ];
    for (what, bytes) in cases {
        let err = decode_err(bytes, "wav");
        assert!(
            matches!(
                err,
                Error::InvalidHeader(_) | Error::UnsupportedCodec(_) | Error::Corrupt(_)
            ),
            "{what}: {err:?}"
        );
    }
}

#[test]
fn unsupported_codecs_are_named() {
    let err = decode_file(fixture("tone.opus"), &opts()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedCodec(_)), "{err:?}");
    // WAV format tag 0x0055 (MP3 in RIFF) and 0x0002 (MS ADPCM) are not decoded.
    let data = vec![0u8; 512];
    let err = decode_err(wav_bytes(0x0055, 1, 16_000, 16, &data, 512), "wav");
    assert!(
        matches!(err, Error::UnsupportedCodec(_) | Error::InvalidHeader(_)),
        "{err:?}"
    );
}

#[test]
fn video_without_audio_has_no_track() {
    let err = decode_file(fixture("video_only.mp4"), &opts()).unwrap_err();
    assert!(matches!(err, Error::NoTrack("audio")), "{err:?}");
}

#[test]
fn nan_samples_are_rejected() {
    let data: Vec<u8> = [0.1f32, f32::NAN, 0.2, 0.3]
        .iter()
        .cycle()
        .take(400)
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let bytes = wav_bytes(3, 1, 16_000, 32, &data, data.len() as u32);
    assert!(matches!(decode_err(bytes, "wav"), Error::NonFinite));
    let ex = MelExtractor::new(MelConfig::default()).unwrap();
    assert!(matches!(
        ex.compute_samples(&[0.1, f32::INFINITY, 0.0]),
        Err(Error::NonFinite)
    ));
}

#[test]
fn overlong_recordings_are_refused() {
    let data = pcm16(&sine(440.0, 16_000, 32_000, 0.5));
    let bytes = wav_bytes(1, 1, 16_000, 16, &data, data.len() as u32);
    let short_limit = DecodeOptions {
        max_seconds: 1.0,
        ..opts()
    };
    assert!(matches!(
        decode_bytes(bytes, Some("wav"), &short_limit),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn silence_and_short_recordings() {
    // All-silent: decodes fine; the voice front end (trimming on) reports Silent; with trimming
    // off the log-mel is defined and sits at the log floor everywhere.
    let data = vec![0u8; 2 * 16_000];
    let clip = decode_bytes(
        wav_bytes(1, 1, 16_000, 16, &data, data.len() as u32),
        Some("wav"),
        &opts(),
    )
    .unwrap();
    assert!(clip.samples.iter().all(|&s| s == 0.0));
    let ex = MelExtractor::new(MelConfig::default()).unwrap();
    assert!(matches!(ex.compute(&clip), Err(Error::Silent)));
    let plain = MelExtractor::new(MelConfig::default().plain()).unwrap();
    let mel = plain.compute(&clip).unwrap();
    let floor = (1e-10f64).ln() as f32;
    assert!(mel.data.iter().all(|&v| (v - floor).abs() < 1e-4));

    // Shorter than one 25 ms analysis window.
    let data = pcm16(&sine(440.0, 16_000, 100, 0.5));
    let clip = decode_bytes(
        wav_bytes(1, 1, 16_000, 16, &data, data.len() as u32),
        Some("wav"),
        &opts(),
    )
    .unwrap();
    assert!(matches!(
        plain.compute(&clip),
        Err(Error::TooShort {
            got: 100,
            needed: 400
        })
    ));
    assert!(matches!(plain.compute_samples(&[]), Err(Error::Empty(_))));
}

#[test]
fn wrong_sample_rate_is_refused_by_the_mel_front_end() {
    let clip = facevox::audio::AudioClip::new(vec![0.1; 48_000], 48_000);
    let ex = MelExtractor::new(MelConfig::default()).unwrap();
    assert!(matches!(
        ex.compute(&clip),
        Err(Error::SampleRateMismatch {
            expected: 16_000,
            got: 48_000
        })
    ));
}

#[test]
fn batch_matches_one_by_one() {
    let ex = MelExtractor::new(MelConfig::default()).unwrap();
    let clips: Vec<Vec<f32>> = (0..6)
        .map(|k| {
            sine(200.0 + 150.0 * k as f64, 16_000, 8_000 + 1000 * k, 0.3)
                .iter()
                .map(|&v| v as f32)
                .collect()
        })
        .chain(std::iter::once(vec![0.0; 10]))
        .collect();
    let batch = ex.compute_batch(&clips);
    assert_eq!(batch.len(), clips.len());
    for (clip, got) in clips.iter().zip(&batch) {
        match (ex.compute_samples(clip), got) {
            (Ok(a), Ok(b)) => assert_eq!(&a, b),
            (Err(_), Err(_)) => {}
            other => panic!("batch and single disagree: {other:?}"),
        }
    }
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "facevox-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
