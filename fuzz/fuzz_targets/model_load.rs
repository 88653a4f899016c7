//! Loading a model: a JSON description and a safetensors file, both from the fuzzer. The
//! first two bytes split the input between them; the JSON half is often a mutation of the
//! shipped voice.json, the weights half of a small safetensors file (see the seed corpus).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cut = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (json, weights) = data[2..].split_at(cut);
    let _ = facevox::VoiceAnalyzer::from_bytes(json, weights);
    let _ = facevox::FaceAnalyzer::from_bytes(json, weights);
    // The CNN face detector's loader reads safetensors files as well.
    let _ = facevox::vision::MmodDetector::from_bytes(weights);
    if let Ok(text) = std::str::from_utf8(json) {
        let _ = facevox::model::FusionModelFile::from_json(text);
    }
});
