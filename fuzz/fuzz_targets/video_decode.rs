//! The video path: demux and H.264-decode the first frames of raw bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = facevox::vision::VideoReader::from_bytes(data.to_vec()) else {
        return;
    };
    let Ok(frames) = reader.frames(&facevox::vision::VideoConfig::all_frames()) else {
        return;
    };
    for frame in frames.take(4) {
        if frame.is_err() {
            break;
        }
    }
});
