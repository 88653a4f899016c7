//! The models shipped in `models/` load, describe themselves, and run on the shipped example
//! clip. (The voice model's accuracy is measured by cross-validation, see models/README.md, not
//! here: the example clip is one of its training recordings.)

use facevox::labels::{FACE_EMOTIONS, RAVDESS_EMOTIONS};
use facevox::Gender;
use facevox::{FaceAnalyzer, VoiceAnalyzer};

/// Stills the shipped face model must get right: its measured 20/20 (the target; see
/// models/README.md), so a worse model fails here.
const STILLS_MIN_CORRECT: usize = 20;

/// The example clip shipped beside `models/` (RAVDESS actor 01, "disgust").
fn example_clip() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

#[test]
fn the_shipped_voice_model_loads_and_runs_on_the_example_clip() {
    let analyzer =
        VoiceAnalyzer::new().expect("models/voice.{json,safetensors} ship with the crate");
    let file = analyzer.model();
    assert_eq!(file.emotions, RAVDESS_EMOTIONS);
    assert!(!file.mel.normalize, "the model normalises its own input");
    // Since 2026-12-05: perceived gender from the speaker encoder's head, trained by the
    // speaker_gender example; the gender networks were dropped by voice_members --drop-gender,
    // whose provenance keeps the file it started from under "base". Before that the file was
    // combined by voice_members: each group of members names the training run that made it
    // (with --add-gender, the file it started from is under "base" and the added gender
    // members under "added_gender_members").
    let head = file
        .speaker_gender
        .as_ref()
        .expect("perceived gender from the speaker encoder");
    assert_eq!(head.weights.len(), 256);
    assert!(
        head.provenance["command"]
            .as_str()
            .unwrap()
            .contains("speaker_gender"),
        "{}",
        head.provenance
    );
    let p = &file.provenance;
    assert!(
        p["command"].as_str().unwrap().contains("--drop-gender"),
        "{p}"
    );
    assert_eq!(p["dropped_gender_members"].as_array().unwrap().len(), 6);
    let p = &p["base"];
    assert!(
        p["command"].as_str().unwrap().contains("voice_members"),
        "{p}"
    );
    let (combined, added) = match p.get("base") {
        Some(base) => (base, Some(&p["added_gender_members"])),
        None => (p, None),
    };
    assert!(
        combined["command"]
            .as_str()
            .unwrap()
            .contains("voice_members"),
        "{p}"
    );
    let runs = [&combined["emotion_members"], &combined["gender_members"]];
    for run in runs.into_iter().chain(added) {
        assert!(
            run["command"].as_str().unwrap().contains("train"),
            "{run}: {p}"
        );
    }
    assert_eq!(file.members.len(), 5, "the five emotion networks");
    assert!(file
        .members
        .iter()
        .all(|m| m.role == facevox::model::MemberRole::Full));
    let clip = example_clip();
    let r = analyzer.analyze_file(&clip).unwrap();
    let total: f32 = r.emotion.probabilities.iter().map(|p| p.1).sum();
    assert!((total - 1.0).abs() < 1e-4);
    assert!(r.gender.confidence >= 0.5);
    assert!(r.speech_seconds > 1.0 && r.speech_seconds < 4.1);
    assert_eq!(r.embedding.len(), file.model.embedding);
}

/// The shipped face model loads, describes itself, and follows the face in the example clip.
#[test]
fn the_shipped_face_model_loads_and_runs_on_the_example_clip() {
    let analyzer = FaceAnalyzer::new().expect("models/face.{json,safetensors} ship with the crate");
    let file = analyzer.model();
    assert_eq!(file.emotions, FACE_EMOTIONS);
    // Every network in the file was made by train_face and says how; with gender members
    // the file was combined by face_members, which keeps each network's provenance.
    let command = |p: &serde_json::Value| p["command"].as_str().unwrap_or_default().to_string();
    let gender_members: Vec<usize> = file.gender_members().collect();
    let main = match gender_members.len() {
        0 => &file.provenance,
        _ => &file.provenance["main"],
    };
    assert!(command(main).contains("train_face"), "{main}");
    for i in 0..gender_members.len() {
        let member = &file.provenance["gender_members"][i];
        assert!(command(member).contains("train_face"), "{member}");
    }
    let clip = example_clip();
    let r = analyzer.analyze_file(&clip).unwrap();
    assert!(r.frames >= 15 && r.faces >= r.frames / 2, "{r:?}");
    let total: f32 = r.emotion.probabilities.iter().map(|p| p.1).sum();
    assert!((total - 1.0).abs() < 1e-4);
    assert_eq!(r.embedding.len(), file.model.embedding);
    // Actor 01 is labelled male in RAVDESS; the clip is one the face model never saw.
    assert_eq!(r.gender.label, Gender::Male, "{r:?}");
}

/// Perceived gender of the 20 RAVDESS stills (studio portraits the face model never trained
/// on; odd actors are labelled male, even ones female), through the detector.
#[test]
fn the_shipped_face_model_on_the_ravdess_stills() {
    let Some(data) = std::env::var_os("FACEVOX_DATA") else {
        println!("skipped: FACEVOX_DATA is not set");
        return;
    };
    let dir = std::path::Path::new(&data).join("ravdess/stills");
    let analyzer = FaceAnalyzer::new().unwrap();
    let mut correct = 0;
    for actor in 1..=20u32 {
        let path = dir.join(format!("Actor_{actor:02}.png"));
        let r = analyzer.analyze_file(&path).unwrap();
        let truth = if actor % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        };
        correct += (r.gender.label == truth) as usize;
    }
    println!("RAVDESS stills: perceived gender {correct}/20 correct");
    assert!(correct >= STILLS_MIN_CORRECT, "{correct}/20");
}
