//! The CSV manifest parser on raw bytes (written to a file: the parser reads paths).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("facevox-fuzz-manifest-{}.csv", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let _ = facevox::training::data::load_manifest(&path);
    }
});
