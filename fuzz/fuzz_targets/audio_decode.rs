//! The audio decoder on raw bytes, with each container's extension as the probe's hint (the
//! first byte picks it, so the fuzzer explores every container).
//!
//! `decode_bytes` catches a panic inside the third-party decoder and reports it as
//! `Error::Corrupt` (symphonia 0.5.5's AAC decoder panics on some damaged streams). The
//! fuzzer's panic hook would abort on that caught panic, so `init` installs a silent hook: a
//! panic that escapes `decode_bytes` still aborts the run (the harness catches it and aborts).
#![no_main]
use libfuzzer_sys::fuzz_target;

const HINTS: [&str; 7] = ["wav", "flac", "mp3", "m4a", "ogg", "mp4", "aac"];

fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
        let Some((&pick, rest)) = data.split_first() else {
            return;
        };
        let hint = HINTS[pick as usize % HINTS.len()];
        let options = facevox::audio::DecodeOptions {
            max_seconds: 60.0,
            ..Default::default()
        };
        if let Ok(clip) = facevox::audio::decode_bytes(rest.to_vec(), Some(hint), &options) {
            assert!(clip.samples.iter().all(|s| s.is_finite()));
        }
    }
);
