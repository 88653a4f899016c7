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
