//! The shipped voice model's perceived gender comes from the speaker encoder and its head
//! (`speaker_gender` in `voice.json`): the analyser's answer is the head's on the encoder's
//! embedding of the trimmed recording, the encoder loads from a models directory, from the
//! compiled-in copy or from bytes, and a head that does not fit the encoder is refused.

use std::path::{Path, PathBuf};

use facevox::audio::vad::trim_silence;
use facevox::model::{SpeakerEncoder, VoiceModelFile};
use facevox::{Error, VoiceAnalyzer};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("facevox-spkg-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_analysers_gender_is_the_heads_on_the_encoders_embedding() {
    let analyzer = VoiceAnalyzer::from_dir(models()).unwrap();
    let head = analyzer
        .model()
        .speaker_gender
        .clone()
        .expect("the shipped voice model carries speaker_gender");
    let got = analyzer.analyze_file(clip()).unwrap();

    let enc = SpeakerEncoder::load(models().join("speaker_ge2e.safetensors")).unwrap();
    let audio = facevox::load_audio(clip(), 16_000).unwrap();
    let vad = analyzer.model().mel.vad.clone().unwrap_or_default();
    let (a, b) = trim_silence(&audio.samples, 16_000, &vad).unwrap();
    let want = head.predict(&enc.embed(&audio.samples[a..b]).unwrap());
    assert!(
        (got.gender.p_female - want[1]).abs() < 1e-6,
        "{got:?} vs {want:?}"
    );
    // RAVDESS actor 01 is labelled male; the encoder hears him so.
    assert_eq!(got.gender.label, facevox::Gender::Male);

    // The same from bytes, with the encoder given or compiled in.
    let json = std::fs::read(models().join("voice.json")).unwrap();
    let weights = std::fs::read(models().join("voice.safetensors")).unwrap();
    let encoder = std::fs::read(models().join("speaker_ge2e.safetensors")).unwrap();
    let with = VoiceAnalyzer::from_bytes_with_encoder(&json, &weights, &encoder).unwrap();
    assert_eq!(with.analyze_file(clip()).unwrap().gender, got.gender);
    if facevox::models::EMBEDDED {
        let embedded = VoiceAnalyzer::from_bytes(&json, &weights).unwrap();
        assert_eq!(embedded.analyze_file(clip()).unwrap().gender, got.gender);
        // A directory without the encoder's file falls back to the compiled-in copy.
        let dir = temp_dir("noenc");
        for f in ["voice.json", "voice.safetensors"] {
            std::fs::copy(models().join(f), dir.join(f)).unwrap();
        }
        let from_dir = VoiceAnalyzer::from_dir(&dir).unwrap();
        assert_eq!(from_dir.analyze_file(clip()).unwrap().gender, got.gender);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn a_head_that_does_not_fit_the_encoder_is_refused() {
    let weights = std::fs::read(models().join("voice.safetensors")).unwrap();
    let encoder = std::fs::read(models().join("speaker_ge2e.safetensors")).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models().join("voice.json")).unwrap()).unwrap();
    let mut short = v.clone();
    short["speaker_gender"]["weights"] = serde_json::json!([0.1, 0.2, 0.3]);
    let json = serde_json::to_vec(&short).unwrap();
    assert!(matches!(
        VoiceAnalyzer::from_bytes_with_encoder(&json, &weights, &encoder),
        Err(Error::InvalidModelFile(_))
    ));
    v["speaker_gender"]["temperature"] = serde_json::json!(0.0);
    let json = serde_json::to_vec(&v).unwrap();
    assert!(matches!(
        VoiceAnalyzer::from_bytes_with_encoder(&json, &weights, &encoder),
        Err(Error::InvalidModelFile(_))
    ));
    // Bad encoder bytes are a typed error too.
    let good = std::fs::read(models().join("voice.json")).unwrap();
    assert!(matches!(
        VoiceAnalyzer::from_bytes_with_encoder(&good, &weights, b"not weights"),
        Err(Error::InvalidModelFile(_))
    ));
}

#[test]
fn gender_members_are_dropped_only_behind_a_speaker_head() {
    let dir = temp_dir("drop");
    for f in ["voice.json", "voice.safetensors"] {
        std::fs::copy(models().join(f), dir.join(f)).unwrap();
    }
    // With the head: the file has no gender members left, and dropping none is a no-op that
    // still loads and answers the same.
    let out = dir.join("dropped");
    let file = VoiceModelFile::drop_gender_members(&dir.join("voice"), &out).unwrap();
    assert!(file.speaker_gender.is_some());
    assert!(file.members.iter().all(|m| m.role.gives_emotion()));
    // Without it, the gender members are what answers: refused.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("voice.json")).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("speaker_gender");
    std::fs::write(dir.join("voice.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(matches!(
        VoiceModelFile::drop_gender_members(&dir.join("voice"), &dir.join("again")),
        Err(Error::InvalidConfig(_))
    ));
    std::fs::remove_dir_all(&dir).ok();
}
