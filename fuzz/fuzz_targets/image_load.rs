//! Picture decoding on raw bytes (JPEG with EXIF, PNG, BMP, TIFF), with the size limits.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = facevox::vision::decode_image(data) {
        assert!(img.width() > 0 && img.height() > 0);
    }
});
