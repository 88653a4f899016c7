//! The log-mel front end against librosa 0.11 on a real recording.
//!
//! References come from `tools/make_mel_fixtures.py` (librosa.feature.melspectrogram in float64)
//! and live in `tests/fixtures/mel/`. Every case must match to 1e-4 relative error wherever the
//! reference power is above the log floor.

use std::path::{Path, PathBuf};

use facevox::audio::{LogScale, MelConfig, MelExtractor, MelNorm, MelScale, PadMode, WindowKind};
use serde_json::Value;

const FLOOR: f64 = 1e-10;
const REL_TOL: f64 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mel")
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn read_input(name: &str) -> Vec<f32> {
    let path = fixtures().join(name);
    if name.ends_with(".i16") {
        std::fs::read(&path)
            .unwrap()
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
            .collect()
    } else {
        read_f32(&path)
    }
}

fn config(case: &Value) -> MelConfig {
    let s = |k: &str| case[k].as_str().unwrap().to_string();
    let u = |k: &str| case[k].as_u64().unwrap() as usize;
    let f = |k: &str| case[k].as_f64().unwrap();
    MelConfig {
        sample_rate: u("sample_rate") as u32,
        n_fft: u("n_fft"),
        win_length: u("win_length"),
        hop_length: u("hop_length"),
        window: match s("window").as_str() {
            "hann" => WindowKind::Hann,
            "hamming" => WindowKind::Hamming,
            w => panic!("window {w}"),
        },
        n_mels: u("n_mels"),
        fmin: f("fmin"),
        fmax: f("fmax"),
        mel_scale: if s("mel_scale") == "htk" {
            MelScale::Htk
        } else {
            MelScale::Slaney
        },
        norm: if s("norm") == "slaney" {
            MelNorm::Slaney
        } else {
            MelNorm::None
        },
        power: f("power"),
        log: LogScale::None,
        log_floor: FLOOR,
        center: case["center"].as_bool().unwrap(),
        pad_mode: if s("pad_mode") == "reflect" {
            PadMode::Reflect
        } else {
            PadMode::Constant
        },
        vad: None,
        normalize: false,
    }
}

#[test]
fn mel_power_matches_librosa_on_a_real_clip() {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap())
            .unwrap();
    let cases = meta["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 4);
    for (name, case) in cases {
        let cfg = config(case);
        let samples = read_input(case["input"].as_str().unwrap());
        let mel = MelExtractor::new(cfg)
            .unwrap()
            .compute_samples(&samples)
            .unwrap();
        let shape: Vec<usize> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(vec![mel.n_mels, mel.n_frames], shape, "{name}: shape");
        let reference = read_f32(&fixtures().join(format!("{name}.f32")));
        let mut worst = 0f64;
        let mut compared = 0usize;
        for (&got, &want) in mel.data.iter().zip(&reference) {
            let (got, want) = (got as f64, want as f64);
            if want > FLOOR {
                worst = worst.max((got - want).abs() / want);
                compared += 1;
            }
        }
        println!("{name}: {compared} values above the floor, worst relative error {worst:.2e}");
        assert!(
            compared > reference.len() / 2,
            "{name}: too few values compared"
        );
        assert!(worst < REL_TOL, "{name}: relative error {worst:.3e}");
    }
}

#[test]
fn decibel_log_matches_librosa_power_to_db() {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap())
            .unwrap();
    let case = &meta["cases"]["voice_default"];
    let cfg = MelConfig {
        log: LogScale::Decibel,
        ..config(case)
    };
    let samples = read_input("clip16k.i16");
    let db = MelExtractor::new(cfg)
        .unwrap()
        .compute_samples(&samples)
        .unwrap();
    let reference = read_f32(&fixtures().join("voice_default.db.f32"));
    assert_eq!(db.data.len(), reference.len());
    // 1e-4 relative error in power is 4.3e-4 dB.
    let worst = db
        .data
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 5e-4, "worst dB difference {worst}");
}
