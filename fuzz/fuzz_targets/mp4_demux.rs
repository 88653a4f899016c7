//! The MP4 demuxer on raw bytes: open, read the track description and its frame times.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = facevox::vision::VideoReader::from_bytes(data.to_vec()) {
        let info = reader.info();
        assert!(info.width > 0 && info.height > 0);
        assert_eq!(reader.frame_times().len(), info.frame_count);
    }
});
