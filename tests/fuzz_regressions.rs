//! Every input the fuzzers (`fuzz/`, cargo-fuzz) ever broke facevox with, replayed through the
//! same code as its fuzz target, without the fuzzer: each must now end in a result or a typed
//! error, quickly and without a large allocation.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// `fuzz/fuzz_targets/audio_decode.rs`: the first byte picks the probe's hint.
#[test]
fn audio_decode_findings() {
    const HINTS: [&str; 7] = ["wav", "flac", "mp3", "m4a", "ogg", "mp4", "aac"];
    let files = inputs("audio_decode");
    assert!(!files.is_empty());
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let (&pick, rest) = data.split_first().unwrap();
        let options = facevox::audio::DecodeOptions {
            max_seconds: 60.0,
            ..Default::default()
        };
        let hint = HINTS[pick as usize % HINTS.len()];
        let r = facevox::audio::decode_bytes(rest.to_vec(), Some(hint), &options);
        eprintln!("{}: {:?}", f.display(), r.as_ref().map(|c| c.samples.len()));
        if let Ok(clip) = r {
            assert!(clip.samples.iter().all(|s| s.is_finite()));
        }
    }
}

/// The FLAC comment blocks that asked symphonia for gigabytes are refused before it reads them,
/// with the marker at the start of the file and after leading junk alike.
#[test]
fn flac_comment_lengths_are_refused_before_allocation() {
    for name in [
        "oom-flac-comment-length.bin",
        "oom-flac-comment-after-junk.bin",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fuzz/audio_decode")
            .join(name);
        let data = std::fs::read(&path).unwrap();
        let r = facevox::audio::decode_bytes(data[1..].to_vec(), Some("flac"), &Default::default());
        match r {
            Err(facevox::Error::Corrupt(msg)) => assert!(msg.contains("FLAC"), "{name}: {msg}"),
            other => panic!("{name}: expected a FLAC metadata error, got {other:?}"),
        }
    }
}

/// An ID3v2 frame that claims more than its tag holds (2.3 GB in a 35-byte tag) is refused
/// before symphonia's probe reserves it; a well-formed tag (ffmpeg's, on the MP3 fixtures) still
/// decodes.
#[test]
fn id3v2_frame_sizes_are_refused_before_allocation() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz/audio_decode/oom-id3v2-frame-size.bin");
    let data = std::fs::read(path).unwrap();
    match facevox::audio::decode_bytes(data[1..].to_vec(), Some("mp3"), &Default::default()) {
        Err(facevox::Error::Corrupt(msg)) => assert!(msg.contains("ID3v2"), "{msg}"),
        other => panic!("expected an ID3v2 error, got {other:?}"),
    }
    // ffmpeg's tag on a real MP3 passes the check.
    let tone =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/tone.mp3"))
            .unwrap();
    assert!(tone.starts_with(b"ID3"));
    let audio = tone[45..].to_vec();
    let clip = facevox::audio::decode_bytes(tone, Some("mp3"), &Default::default()).unwrap();
    assert!(!clip.samples.is_empty());
    // A well-formed ID3v2.3 tag (plain 32-bit frame sizes, padding) before the same frames.
    let mut v23 = b"ID3\x03\x00\x00\x00\x00\x00\x28TSSE\x00\x00\x00\x0f\x00\x00".to_vec();
    // 14 bytes of text and one zero fill the 15-byte frame; 15 zeros of padding end the 40-byte
    // tag exactly where the MPEG frames begin (one byte short, the tag would swallow the first
    // frame's sync byte, and with it the LAME header that gapless decoding reads).
    v23.extend_from_slice(b"\x03Lavf59.27.100");
    v23.extend_from_slice(&[0; 16]);
    v23.extend_from_slice(&audio);
    let again = facevox::audio::decode_bytes(v23, Some("mp3"), &Default::default()).unwrap();
    assert_eq!(again.samples.len(), clip.samples.len());
}

/// An MP4 metadata tag whose `data` box claims 4.2 GB in a 5 kB file, and a sample-to-chunk
/// table declaring 18 GB of entries in a file with two bytes of junk before its `ftyp` box
/// (where symphonia's probe still finds it), are refused before symphonia reserves them.
#[test]
fn mp4_box_sizes_are_refused_before_allocation() {
    for (name, what) in [
        ("oom-mp4-ilst-data-size.bin", "'data'"),
        ("oom-mp4-stsc-after-junk.bin", ""),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fuzz/audio_decode")
            .join(name);
        let data = std::fs::read(path).unwrap();
        match facevox::audio::decode_bytes(data[1..].to_vec(), Some("m4a"), &Default::default()) {
            Err(facevox::Error::Corrupt(msg)) => assert!(msg.contains(what), "{name}: {msg}"),
            other => panic!("{name}: expected a box-size error, got {other:?}"),
        }
    }
}
