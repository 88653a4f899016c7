//! Each limit in `facevox::limits`, checked at its boundary: one past it is a typed error
//! raised from the header (nothing that size is allocated), and the defaults of the per-call
//! options are the values listed there.

use std::path::Path;

use facevox::audio::{decode_bytes, DecodeOptions, MelConfig};
use facevox::limits::*;
use facevox::vision::{
    decode_image, CropConfig, ImageLimits, MmodConfig, MmodDetector, MmodFallbackConfig, RgbImage,
    SeetaConfig, SeetaDetector, VideoConfig, VideoReader,
};
use facevox::Error;

mod common;
use common::png_header;

/// A 16-bit PCM WAV of `frames` frames of silence.
fn wav(rate: u32, channels: u16, frames: usize) -> Vec<u8> {
    let data = frames * channels as usize * 2;
    let mut h = b"RIFF".to_vec();
    h.extend_from_slice(&(36 + data as u32).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate.wrapping_mul(2 * channels as u32)).to_le_bytes());
    h.extend_from_slice(&(2 * channels).to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&(data as u32).to_le_bytes());
    h.resize(h.len() + data, 0);
    h
}

fn decode(bytes: Vec<u8>) -> facevox::Result<facevox::AudioClip> {
    decode_bytes(bytes, Some("wav"), &DecodeOptions::default())
}

#[test]
fn audio_header_limits() {
    assert!(matches!(
        decode(wav(MAX_AUDIO_SAMPLE_RATE + 1, 1, 100)),
        Err(Error::InvalidHeader(_))
    ));
    assert!(matches!(
        decode(wav(MIN_AUDIO_SAMPLE_RATE - 1, 1, 100)),
        Err(Error::InvalidHeader(_))
    ));
    assert_eq!(
        decode(wav(MIN_AUDIO_SAMPLE_RATE, 1, 1000))
            .unwrap()
            .sample_rate,
        1000
    );
    assert_eq!(
        decode(wav(MAX_AUDIO_SAMPLE_RATE, 1, 1000))
            .unwrap()
            .sample_rate,
        MAX_AUDIO_SAMPLE_RATE
    );
    // One channel too many is refused by facevox's own header check (which names it);
    // symphonia's WAV reader has a lower ceiling of its own (16 channels pass, 32 do not).
    let n = MAX_AUDIO_CHANNELS as u16;
    match decode(wav(16_000, n + 1, 10)) {
        Err(Error::InvalidHeader(m)) => assert!(m.contains(&format!("{} channels", n + 1)), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(decode(wav(16_000, 16, 1600)).is_ok());
    // The longest decode: the default, and a shorter one per call.
    assert_eq!(
        DecodeOptions::default().max_seconds,
        DEFAULT_MAX_AUDIO_SECONDS
    );
    let short = DecodeOptions {
        max_seconds: 0.5,
        ..Default::default()
    };
    assert!(matches!(
        decode_bytes(wav(16_000, 1, 16_000), Some("wav"), &short),
        Err(Error::TooLong { .. })
    ));
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vision")
            .join(name),
    )
    .unwrap()
}

/// Offset of the first box of type `kind` (its four-character code) in `bytes`.
fn box_at(bytes: &[u8], kind: &[u8; 4]) -> usize {
    bytes.windows(4).position(|w| w == kind).unwrap()
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn video_header_limits() {
    let clip = fixture("count_baseline.mp4");
    assert!(VideoReader::from_bytes(clip.clone()).is_ok());
    // A frame side past the limit, from the sample description (avc1 width and height).
    let stsd = box_at(&clip, b"stsd");
    let mut wide = clip.clone();
    wide[stsd + 44..stsd + 46].copy_from_slice(&((MAX_VIDEO_SIDE + 1) as u16).to_be_bytes());
    assert!(matches!(
        VideoReader::from_bytes(wide),
        Err(Error::InvalidHeader(_))
    ));
    // More samples declared than allowed (stsz sample count).
    let stsz = box_at(&clip, b"stsz");
    let mut many = clip.clone();
    put_u32(&mut many, stsz + 12, MAX_VIDEO_SAMPLES as u32 + 1);
    let e = VideoReader::from_bytes(many).unwrap_err();
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    // One sample larger than allowed (the first stsz entry).
    let mut big = clip.clone();
    assert_eq!(&big[stsz + 8..stsz + 12], &[0, 0, 0, 0], "per-sample sizes");
    put_u32(&mut big, stsz + 16, MAX_VIDEO_SAMPLE_BYTES + 1);
    let e = VideoReader::from_bytes(big).unwrap_err();
    assert!(e.to_string().contains("bytes"), "{e}");
    // A moov box claiming more than the limit: refused before it is read.
    let moov = box_at(&clip, b"moov") - 4;
    let mut huge = clip.clone();
    put_u32(&mut huge, moov, (MAX_MP4_MOOV_BYTES + 9) as u32);
    let e = VideoReader::from_bytes(huge).unwrap_err();
    assert!(e.to_string().contains("moov box of"), "{e}");
    // The longest decode: the default, and a shorter one per call.
    assert_eq!(
        VideoConfig::default().max_duration_secs,
        DEFAULT_MAX_VIDEO_SECONDS
    );
    let mut reader = VideoReader::from_bytes(clip).unwrap();
    let short = VideoConfig {
        max_duration_secs: 0.5,
        ..VideoConfig::all_frames()
    };
    assert!(matches!(reader.frames(&short), Err(Error::TooLong { .. })));
}

#[test]
fn picture_and_crop_limits() {
    let d = ImageLimits::default();
    assert_eq!(
        (d.max_side, d.max_pixels),
        (DEFAULT_MAX_IMAGE_SIDE, DEFAULT_MAX_IMAGE_PIXELS)
    );
    let too_wide = decode_image(&png_header(DEFAULT_MAX_IMAGE_SIDE + 1, 1));
    assert!(matches!(too_wide, Err(Error::ImageTooLarge { .. })));
    // At the side limit the header passes (and the missing pixels are the error).
    let at_side = decode_image(&png_header(DEFAULT_MAX_IMAGE_SIDE, 1));
    assert!(
        !matches!(at_side, Err(Error::ImageTooLarge { .. })),
        "{at_side:?}"
    );
    let side = (DEFAULT_MAX_IMAGE_PIXELS as f64).sqrt() as u32 + 1;
    assert!(matches!(
        decode_image(&png_header(side, side)),
        Err(Error::ImageTooLarge { .. })
    ));
    let crop = |size| CropConfig {
        size,
        ..CropConfig::default()
    };
    assert!(crop(MAX_CROP_SIZE).validate().is_ok());
    assert!(matches!(
        crop(MAX_CROP_SIZE + 1).validate(),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn mmod_detector_limits() {
    // 2048 x 2048 is the limit: one column more is refused before any work, and so is a
    // picture that only passes it before upsampling.
    assert_eq!(2048 * 2048, MAX_MMOD_PIXELS);
    let d = MmodDetector::shipped().unwrap();
    assert!(matches!(
        d.detect_rects(&RgbImage::new(2049, 2048)),
        Err(Error::ImageTooLarge { .. })
    ));
    let up1 = d
        .clone()
        .with_config(MmodConfig {
            upsample: 1,
            ..Default::default()
        })
        .unwrap();
    // One upsampling makes w x h into (2w + 2) x (2h + 1).
    assert!(matches!(
        up1.detect_rects(&RgbImage::new(1024, 1024)),
        Err(Error::ImageTooLarge { .. })
    ));
    // The fallback's max_side is held to it: 1023 upsampled once is 2048 wide, 1024 is not.
    let fallback = |max_side| SeetaConfig {
        mmod_fallback: Some(MmodFallbackConfig {
            max_side,
            ..MmodFallbackConfig::default()
        }),
        ..SeetaConfig::default()
    };
    assert!(SeetaDetector::with_config(fallback(1023)).is_ok());
    assert!(matches!(
        SeetaDetector::with_config(fallback(1024)),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn spectrogram_limits() {
    let ok = MelConfig::default();
    assert!(ok.validate().is_ok());
    let bands = |n_mels| MelConfig {
        n_mels,
        ..MelConfig::default()
    };
    assert!(bands(MAX_MEL_BANDS + 1).validate().is_err());
    let fft = MelConfig {
        n_fft: MAX_FFT_SIZE * 2,
        ..MelConfig::default()
    };
    assert!(fft.validate().is_err());
}
