//! Video decoding: every frame of every H.264 profile in display order with its timestamp,
//! sampling, folders of frames, phone rotation, edit lists, variable frame rate, and typed
//! errors for each kind of bad input.

use std::path::{Path, PathBuf};

use facevox::vision::{
    frames_from_folder, read_video_frames, VideoConfig, VideoFrame, VideoReader,
};
use facevox::Error;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vision")
        .join(name)
}

fn example_clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

fn mean(frame: &VideoFrame) -> f64 {
    let raw = frame.image.as_raw();
    raw.iter().map(|&v| v as f64).sum::<f64>() / raw.len() as f64
}

/// The count clips have luma 16 + 8 * n in frame n: RGB grey (8 n) * 255 / 219.
fn check_count_clip(name: &str, width: u32, height: u32) {
    let mut reader = VideoReader::open(fixture(name)).unwrap();
    let info = reader.info().clone();
    assert_eq!(
        (info.width, info.height, info.frame_count),
        (width, height, 24),
        "{name}"
    );
    assert!((info.fps - 24.0).abs() < 1e-6, "{name}: {}", info.fps);
    assert!((info.duration_secs - 1.0).abs() < 1e-6, "{name}");
    let frames = reader.read_frames(&VideoConfig::all_frames()).unwrap();
    assert_eq!(frames.len(), 24, "{name}");
    for (n, f) in frames.iter().enumerate() {
        assert_eq!(f.index, n);
        assert!(
            (f.timestamp_secs - n as f64 / 24.0).abs() < 1e-9,
            "{name} frame {n}"
        );
        assert_eq!(f.image.dimensions(), (width, height));
        let expected = 8.0 * n as f64 * 255.0 / 219.0;
        assert!(
            (mean(f) - expected).abs() < 3.0,
            "{name}: frame {n} has mean {} (expected {expected}): out of order or dropped",
            mean(f)
        );
    }
}

#[test]
fn baseline_profile_decodes_every_frame_in_order() {
    check_count_clip("count_baseline.mp4", 100, 60);
}

#[test]
fn main_profile_with_b_frames_decodes_every_frame_in_order() {
    let reader = VideoReader::open(fixture("count_main_bframes.mp4")).unwrap();
    assert!(
        reader.info().codec.contains("Main"),
        "{}",
        reader.info().codec
    );
    check_count_clip("count_main_bframes.mp4", 96, 64);
}

#[test]
fn high_profile_with_b_pyramid_decodes_every_frame_in_order() {
    let reader = VideoReader::open(fixture("count_high_bpyramid.mp4")).unwrap();
    assert!(
        reader.info().codec.contains("High"),
        "{}",
        reader.info().codec
    );
    check_count_clip("count_high_bpyramid.mp4", 96, 64);
}

#[test]
fn example_clip_decodes_fully() {
    let mut reader = VideoReader::open(example_clip()).unwrap();
    let info = reader.info().clone();
    assert_eq!((info.width, info.height), (640, 480));
    assert_eq!(info.frame_count, 120);
    assert!((info.fps - 29.97).abs() < 0.01, "{}", info.fps);
    assert!((info.duration_secs - 4.004).abs() < 0.01);
    assert!(info.codec.starts_with("H.264 Main"), "{}", info.codec);
    let frames = reader.read_frames(&VideoConfig::all_frames()).unwrap();
    assert_eq!(frames.len(), 120);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.index, i);
        assert!((f.timestamp_secs - i as f64 * 1001.0 / 30000.0).abs() < 1e-6);
    }
    // Consecutive frames of a talking head are similar; a wrong order or a broken reference
    // would show as a jump.
    for w in frames.windows(2) {
        let d: f64 = w[0]
            .image
            .as_raw()
            .iter()
            .zip(w[1].image.as_raw())
            .map(|(&a, &b)| (a as f64 - b as f64).abs())
            .sum::<f64>()
            / w[0].image.as_raw().len() as f64;
        assert!(
            d < 12.0,
            "frames {} and {} differ by {d}",
            w[0].index,
            w[1].index
        );
    }
}

#[test]
fn sampling_converts_only_the_kept_frames() {
    let all = read_video_frames(example_clip(), &VideoConfig::all_frames()).unwrap();
    let sampled = read_video_frames(example_clip(), &VideoConfig::sampled(5.0)).unwrap();
    assert_eq!(sampled.len(), 20);
    let idx: Vec<usize> = sampled.iter().map(|f| f.index).collect();
    assert_eq!(idx, (0..20).map(|k| 6 * k).collect::<Vec<_>>());
    // The sampled frames are the very same pictures as in the full decode.
    for f in &sampled {
        assert_eq!(f.image, all[f.index].image);
        assert_eq!(f.timestamp_secs, all[f.index].timestamp_secs);
    }
    // One frame a second.
    let one = read_video_frames(example_clip(), &VideoConfig::sampled(1.0)).unwrap();
    assert_eq!(
        one.iter().map(|f| f.index).collect::<Vec<_>>(),
        [0, 30, 60, 90]
    );
}

/// `config` with `threads` decoding threads.
fn threads(config: &VideoConfig, threads: usize) -> VideoConfig {
    VideoConfig {
        decode_threads: threads,
        ..config.clone()
    }
}

#[test]
fn decoding_threads_give_the_same_frames() {
    // The example clip restarts at an IDR picture every 30 frames: four runs.
    for config in [
        VideoConfig::all_frames(),
        VideoConfig::sampled(5.0),
        VideoConfig::sampled(1.0),
    ] {
        let one = read_video_frames(example_clip(), &threads(&config, 1)).unwrap();
        for n in [2, 3, 8] {
            let mut reader = VideoReader::open(example_clip()).unwrap();
            let frames = reader.frames(&threads(&config, n)).unwrap();
            assert!(format!("{frames:?}").contains("parallel: true"));
            let many: Vec<VideoFrame> = frames.collect::<Result<_, _>>().unwrap();
            assert_eq!(many, one, "{n} threads, {config:?}");
        }
    }
    // Short runs (this clip restarts every 12 frames; a worker gets at least 8), and a clip
    // in display order with one IDR picture.
    for name in ["count_baseline.mp4", "rot0.mp4"] {
        let one =
            read_video_frames(fixture(name), &threads(&VideoConfig::all_frames(), 1)).unwrap();
        let mut reader = VideoReader::open(fixture(name)).unwrap();
        let frames = reader
            .frames(&threads(&VideoConfig::all_frames(), 4))
            .unwrap();
        let parallel = format!("{frames:?}").contains("parallel: true");
        assert_eq!(parallel, name == "count_baseline.mp4", "{name}");
        let many: Vec<VideoFrame> = frames.collect::<Result<_, _>>().unwrap();
        assert_eq!(many, one, "{name}");
    }
    // B-frames: one decoder whatever is asked.
    for name in ["count_main_bframes.mp4", "count_high_bpyramid.mp4"] {
        let mut reader = VideoReader::open(fixture(name)).unwrap();
        let frames = reader
            .frames(&threads(&VideoConfig::all_frames(), 4))
            .unwrap();
        assert!(format!("{frames:?}").contains("parallel: false"), "{name}");
        assert_eq!(frames.count(), 24, "{name}");
    }
}

#[test]
fn decoding_threads_stop_early_and_report_cuts_in_order() {
    let mut reader = VideoReader::open(example_clip()).unwrap();
    let first: Vec<_> = reader
        .frames(&threads(&VideoConfig::all_frames(), 2))
        .unwrap()
        .take(3)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(first.iter().map(|f| f.index).collect::<Vec<_>>(), [0, 1, 2]);
    // A cut file: the frames before the cut, then the error, with either decoder set-up.
    let bytes = std::fs::read(example_clip()).unwrap();
    let mut counts = Vec::new();
    for n in [1, 2, 3] {
        let mut reader = VideoReader::from_bytes(bytes[..bytes.len() / 2].to_vec()).unwrap();
        let items: Vec<_> = reader
            .frames(&threads(&VideoConfig::all_frames(), n))
            .unwrap()
            .collect();
        let good = items.iter().take_while(|r| r.is_ok()).count();
        assert!(matches!(items[good], Err(Error::Corrupt(_))), "{n} threads");
        assert_eq!(
            items.len(),
            good + 1,
            "{n} threads: iteration stops after the error"
        );
        counts.push(good);
    }
    assert!(counts.iter().all(|&c| c == counts[0]), "{counts:?}");
}

#[test]
fn frames_iterator_can_stop_early_and_restart() {
    let mut reader = VideoReader::open(example_clip()).unwrap();
    let first: Vec<_> = reader
        .frames(&VideoConfig::all_frames())
        .unwrap()
        .take(3)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(first.len(), 3);
    let again = reader
        .frames(&VideoConfig::all_frames())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(again.image, first[0].image);
}

#[test]
fn folder_of_frames_is_a_clip() {
    let dir = std::env::temp_dir().join(format!("facevox_frames_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let frames =
        read_video_frames(fixture("count_baseline.mp4"), &VideoConfig::all_frames()).unwrap();
    for f in &frames {
        // Unpadded numbers: natural order must still put frame 2 before frame 10.
        f.image
            .save(dir.join(format!("frame{}.png", f.index)))
            .unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not a frame").unwrap();
    let read = frames_from_folder(&dir, 24.0, &VideoConfig::all_frames()).unwrap();
    assert_eq!(read.len(), 24);
    for (a, b) in read.iter().zip(&frames) {
        assert_eq!(a.index, b.index);
        assert!((a.timestamp_secs - b.timestamp_secs).abs() < 1e-9);
        assert_eq!(a.image, b.image);
    }
    let sampled = frames_from_folder(&dir, 24.0, &VideoConfig::sampled(4.0)).unwrap();
    assert_eq!(
        sampled.iter().map(|f| f.index).collect::<Vec<_>>(),
        [0, 6, 12, 18]
    );
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        frames_from_folder(&empty, 24.0, &VideoConfig::all_frames()),
        Err(Error::Empty(_))
    ));
    assert!(matches!(
        frames_from_folder(&dir, 0.0, &VideoConfig::all_frames()),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        frames_from_folder(dir.join("missing"), 24.0, &VideoConfig::all_frames()),
        Err(Error::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unsupported_codecs_are_named() {
    match VideoReader::open(fixture("hevc.mp4")) {
        Err(Error::UnsupportedCodec(m)) => assert!(m.contains("H.265"), "{m}"),
        other => panic!("{other:?}"),
    }
    match VideoReader::open(fixture("sorenson.flv")) {
        Err(Error::UnsupportedCodec(m)) => assert!(m.contains("Sorenson"), "{m}"),
        other => panic!("{other:?}"),
    }
    // VP6 in FLV: a header and one video tag whose codec id is 4.
    let mut flv = b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
    flv.extend_from_slice(&[9, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x14, 0x00]);
    match VideoReader::from_bytes(flv) {
        Err(Error::UnsupportedCodec(m)) => assert!(m.contains("VP6"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Matroska / WebM.
    let mkv = [
        0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0, 0, 0,
    ]
    .to_vec();
    assert!(matches!(
        VideoReader::from_bytes(mkv),
        Err(Error::UnsupportedCodec(_))
    ));
}

#[test]
fn audio_only_file_has_no_video_track() {
    let m4a = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/tone.m4a");
    assert!(matches!(
        VideoReader::open(m4a),
        Err(Error::NoTrack("video"))
    ));
}

#[test]
fn empty_missing_and_non_video_files_are_refused() {
    assert!(matches!(
        VideoReader::from_bytes(vec![]),
        Err(Error::Empty(_))
    ));
    assert!(matches!(
        VideoReader::open(fixture("no_such_clip.mp4")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        VideoReader::from_bytes(b"just some text, certainly not a video".to_vec()),
        Err(Error::UnrecognizedFormat(_))
    ));
}

#[test]
fn truncated_video_gives_typed_errors_at_every_cut() {
    let bytes = std::fs::read(example_clip()).unwrap();
    // Cuts inside the header boxes, the sample tables, and the media data.
    for cut in [4, 16, 30, 200, 1000, 2800, 3000, 30_000, 400_000, 1_600_000] {
        let result = VideoReader::from_bytes(bytes[..cut].to_vec())
            .and_then(|mut r| r.read_frames(&VideoConfig::all_frames()));
        match result {
            Err(Error::Corrupt(_) | Error::UnrecognizedFormat(_)) => {}
            other => panic!("cut at {cut}: {:?}", other.map(|f| f.len())),
        }
    }
}

#[test]
fn truncated_clip_still_yields_the_frames_before_the_cut() {
    let bytes = std::fs::read(example_clip()).unwrap();
    let mut reader = VideoReader::from_bytes(bytes[..bytes.len() / 2].to_vec()).unwrap();
    let items: Vec<_> = reader.frames(&VideoConfig::all_frames()).unwrap().collect();
    let good = items.iter().take_while(|r| r.is_ok()).count();
    assert!(good > 10 && good < 120, "{good}");
    assert!(matches!(items[good], Err(Error::Corrupt(_))));
    assert_eq!(items.len(), good + 1, "iteration stops after the error");
}

#[test]
fn damaged_bitstream_never_panics() {
    let bytes = std::fs::read(fixture("count_high_bpyramid.mp4")).unwrap();
    // Overwrite stretches of the media data with noise; the decoder may conceal or refuse,
    // but every outcome is a value.
    // This file keeps its moov box after the media data; damage only the media data.
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap() + 4;
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap() - 4;
    assert!(moov > mdat);
    let mut decoded_some = false;
    for (k, start) in (mdat + 20..moov - 48).step_by(37).enumerate() {
        let mut b = bytes.clone();
        let mut x = 0x1234_5678u32 ^ k as u32;
        for v in &mut b[start..start + 48] {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *v = x as u8;
        }
        let mut r = VideoReader::from_bytes(b).unwrap();
        for item in r.frames(&VideoConfig::all_frames()).unwrap() {
            match item {
                Ok(_) => decoded_some = true,
                Err(e) => assert!(matches!(e, Error::Corrupt(_)), "{e:?}"),
            }
        }
    }
    assert!(decoded_some);
}

#[test]
fn damaged_tables_never_panic() {
    let bytes = std::fs::read(fixture("count_main_bframes.mp4")).unwrap();
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    // Flip bytes one at a time across the moov box: counts, sizes and offsets go wild.
    let end = (moov + 1200).min(bytes.len());
    for i in moov..end {
        for v in [0x00, 0xFF, 0x7F] {
            let mut b = bytes.clone();
            b[i] = v;
            if let Ok(mut r) = VideoReader::from_bytes(b) {
                if let Ok(frames) = r.frames(&VideoConfig::all_frames()) {
                    for _ in frames.take(30) {}
                }
            }
        }
    }
}

#[test]
fn bad_configs_and_limits_are_refused() {
    let mut reader = VideoReader::open(fixture("count_baseline.mp4")).unwrap();
    for fps in [0.0, -1.0, f64::NAN] {
        assert!(matches!(
            reader.frames(&VideoConfig::sampled(fps)),
            Err(Error::InvalidConfig(_))
        ));
    }
    let short_limit = VideoConfig {
        max_duration_secs: 0.5,
        ..VideoConfig::default()
    };
    assert!(matches!(
        reader.frames(&short_limit),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn video_config_round_trips_through_json() {
    let cfg = VideoConfig::sampled(5.0);
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<VideoConfig>(&json).unwrap(), cfg);
    // Missing fields take their defaults.
    let partial: VideoConfig = serde_json::from_str(r#"{"sample_fps": 2.0}"#).unwrap();
    assert_eq!(
        partial.max_duration_secs,
        VideoConfig::default().max_duration_secs
    );
}

/// Mean absolute difference of two frames of the same size, over all channels.
fn frame_distance(a: &VideoFrame, b: &VideoFrame) -> f64 {
    assert_eq!(a.image.dimensions(), b.image.dimensions());
    let total: u64 = a
        .image
        .as_raw()
        .iter()
        .zip(b.image.as_raw())
        .map(|(x, y)| (*x as i64 - *y as i64).unsigned_abs())
        .sum();
    total as f64 / a.image.as_raw().len() as f64
}

#[test]
fn phone_rotation_in_the_display_matrix_turns_frames_upright() {
    use facevox::vision::{FaceDetector, SeetaDetector};
    // rot0.mp4: 0.5 s of the example clip at 240x180. rotN.mp4: the same frames stored turned
    // the other way, with a track-header matrix asking for N degrees clockwise on display
    // (tools/make_vision_fixtures.sh).
    let upright = read_video_frames(fixture("rot0.mp4"), &VideoConfig::all_frames()).unwrap();
    assert!(upright.len() >= 12);
    let mut detector = SeetaDetector::new().unwrap();
    for angle in [0u32, 90, 180, 270] {
        let name = format!("rot{angle}.mp4");
        let mut reader = VideoReader::open(fixture(&name)).unwrap();
        assert_eq!(reader.info().rotation, angle, "{name}");
        let (w, h) = (reader.info().width, reader.info().height);
        assert_eq!(
            (w, h),
            if angle % 180 == 90 {
                (180, 240)
            } else {
                (240, 180)
            },
            "{name}: coded size"
        );
        let frames = reader.read_frames(&VideoConfig::all_frames()).unwrap();
        assert_eq!(frames.len(), upright.len(), "{name}");
        for (f, u) in frames.iter().zip(&upright) {
            // Upright again: the same picture as rot0's frame (two lossy encodings apart),
            // and far from the picture turned any other way.
            assert_eq!(f.image.dimensions(), (240, 180), "{name}");
            let d = frame_distance(f, u);
            assert!(d < 12.0, "{name} frame {}: distance {d}", f.index);
            let turned = VideoFrame {
                image: image::imageops::rotate180(&f.image),
                ..f.clone()
            };
            assert!(frame_distance(&turned, u) > 2.0 * d, "{name}");
        }
        // And the face is found upright in every frame, by the detector and by the whole
        // clip path the analysers use.
        for f in &frames {
            assert!(
                !detector.detect(&f.image).unwrap().is_empty(),
                "{name} frame {}",
                f.index
            );
        }
        let crops = facevox::vision::video_face_crops(
            fixture(&name),
            &facevox::vision::ClipConfig::default(),
        )
        .unwrap();
        assert!(
            !crops.is_empty() && crops.iter().all(|f| f.found()),
            "{name}"
        );
    }
}

#[test]
fn an_edit_list_that_skips_the_first_frames_is_honoured() {
    // editlist.mp4: 30 coded frames (160x120, 30 fps), cut at 0.3 s by a stream copy, so its
    // edit list starts at the 10th frame: the first 9 are decoded (the rest refer to them)
    // and never shown (tools/make_vision_fixtures.sh).
    let mut reader = VideoReader::open(fixture("editlist.mp4")).unwrap();
    assert_eq!(reader.info().frame_count, 30);
    assert!(
        (reader.info().duration_secs - 0.7).abs() < 0.01,
        "{:?}",
        reader.info()
    );
    let frames = reader.read_frames(&VideoConfig::all_frames()).unwrap();
    assert_eq!(frames.len(), 21);
    assert!(frames[0].timestamp_secs.abs() < 1e-3);
    for w in frames.windows(2) {
        let step = w[1].timestamp_secs - w[0].timestamp_secs;
        assert!((step - 1.0 / 29.97).abs() < 1e-3, "{step}");
    }
    // Sampling counts from the first shown frame: 0, 0.2, 0.4, 0.6 s.
    let sampled = reader.read_frames(&VideoConfig::sampled(5.0)).unwrap();
    let times: Vec<f64> = sampled.iter().map(|f| f.timestamp_secs).collect();
    assert_eq!(times.len(), 4, "{times:?}");
    assert!(times[0].abs() < 1e-3);
}

#[test]
fn variable_frame_rate_is_sampled_by_time() {
    // vfr.mp4: 8 frames at 30 fps, a gap of 0.5 s, then 22 frames at 30 fps
    // (tools/make_vision_fixtures.sh).
    let mut reader = VideoReader::open(fixture("vfr.mp4")).unwrap();
    let all = reader.read_frames(&VideoConfig::all_frames()).unwrap();
    assert_eq!(all.len(), 30);
    let gap = all[8].timestamp_secs - all[7].timestamp_secs;
    assert!((gap - 16.0 / 29.97).abs() < 2e-3, "{gap}");
    // At 5 fps: the first frame at or after each multiple of 0.2 s.
    let sampled = reader.read_frames(&VideoConfig::sampled(5.0)).unwrap();
    let times: Vec<f64> = sampled.iter().map(|f| f.timestamp_secs).collect();
    let expected = [0.0, 0.2002, 0.7674, 0.8008, 1.001, 1.2012, 1.4014];
    assert_eq!(times.len(), expected.len(), "{times:?}");
    for (t, e) in times.iter().zip(expected) {
        assert!((t - e).abs() < 2e-3, "{times:?}");
    }
}
