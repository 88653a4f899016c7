//! The voice model shipped in `models/` loads, describes itself, and runs on the shipped example
//! clip. (Its accuracy is measured by cross-validation, see models/README.md, not here: the
//! example clip is one of its training recordings.)

use facevox::analyze::{default_models_dir, VoiceAnalyzer};
use facevox::labels::RAVDESS_EMOTIONS;

#[test]
fn the_shipped_voice_model_loads_and_runs_on_the_example_clip() {
    let analyzer =
        VoiceAnalyzer::load_default().expect("models/voice.{json,safetensors} ship with the crate");
    let file = analyzer.model();
    assert_eq!(file.emotions, RAVDESS_EMOTIONS);
    assert!(!file.mel.normalize, "the model normalises its own input");
    assert!(file.provenance["command"]
        .as_str()
        .unwrap()
        .contains("train"));
    let clip = default_models_dir()
        .parent()
        .unwrap()
        .join("examples/data/01-01-07-02-02-01-01.mp4");
    let r = analyzer.analyze_file(&clip).unwrap();
    let total: f32 = r.emotion.probabilities.iter().map(|p| p.1).sum();
    assert!((total - 1.0).abs() < 1e-4);
    assert!(r.gender.confidence >= 0.5);
    assert!(r.speech_seconds > 1.0 && r.speech_seconds < 4.1);
    assert_eq!(r.embedding.len(), file.model.embedding);
}
