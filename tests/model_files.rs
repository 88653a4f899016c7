//! A damaged or mismatched model file is a typed error at load time, never a panic or a model
//! that silently answers wrong: truncated or random weights, a tensor of the wrong shape, the
//! other branch's description, an architecture that does not match the weights.

use std::path::Path;

use facevox::{Error, FaceAnalyzer, VoiceAnalyzer};

fn model(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(name),
    )
    .unwrap()
}

fn is_model_error(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidModelFile(_) | Error::UnsupportedModelFormat { .. }
    )
}

#[test]
fn damaged_voice_and_face_files_are_typed_errors() {
    let (vj, vw) = (model("voice.json"), model("voice.safetensors"));
    let (fj, fw) = (model("face.json"), model("face.safetensors"));
    assert!(VoiceAnalyzer::from_bytes(&vj, &vw).is_ok());
    assert!(FaceAnalyzer::from_bytes(&fj, &fw).is_ok());

    let voice_cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("truncated weights", vj.clone(), vw[..vw.len() / 2].to_vec()),
        ("header only", vj.clone(), vw[..64].to_vec()),
        ("empty weights", vj.clone(), Vec::new()),
        (
            "random weights",
            vj.clone(),
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect(),
        ),
        ("the face's weights", vj.clone(), fw.clone()),
        ("the face's description", fj.clone(), vw.clone()),
        ("empty description", Vec::new(), vw.clone()),
        ("not JSON", b"{ this is not json".to_vec(), vw.clone()),
    ];
    for (what, json, weights) in &voice_cases {
        match VoiceAnalyzer::from_bytes(json, weights) {
            Err(e) => assert!(is_model_error(&e), "voice, {what}: {e:?}"),
            Ok(_) => panic!("voice, {what}: loaded"),
        }
    }
    let face_cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("truncated weights", fj.clone(), fw[..fw.len() / 3].to_vec()),
        ("the voice's weights", fj.clone(), vw.clone()),
        ("the voice's description", vj.clone(), fw.clone()),
    ];
    for (what, json, weights) in &face_cases {
        match FaceAnalyzer::from_bytes(json, weights) {
            Err(e) => assert!(is_model_error(&e), "face, {what}: {e:?}"),
            Ok(_) => panic!("face, {what}: loaded"),
        }
    }
}

#[test]
fn an_architecture_that_does_not_match_the_weights_is_refused() {
    let vw = model("voice.safetensors");
    let mut v: serde_json::Value = serde_json::from_slice(&model("voice.json")).unwrap();
    // Wider last stage: every tensor of that stage has the wrong shape.
    let last = v["model"]["channels"].as_array().unwrap().len() - 1;
    v["model"]["channels"][last] = 512.into();
    let json = serde_json::to_vec(&v).unwrap();
    let e = VoiceAnalyzer::from_bytes(&json, &vw).unwrap_err();
    assert!(is_model_error(&e), "{e:?}");
    // An absurd size is refused before anything that size is built.
    let mut huge = v.clone();
    huge["model"]["channels"][0] = 1_000_000_000u64.into();
    let json = serde_json::to_vec(&huge).unwrap();
    assert!(VoiceAnalyzer::from_bytes(&json, &vw).is_err());
    // A newer format version is named as such.
    let mut newer: serde_json::Value = serde_json::from_slice(&model("voice.json")).unwrap();
    newer["format"] = 99.into();
    let e = VoiceAnalyzer::from_bytes(&serde_json::to_vec(&newer).unwrap(), &vw).unwrap_err();
    assert!(
        matches!(e, Error::UnsupportedModelFormat { found: 99, .. }),
        "{e:?}"
    );
}
