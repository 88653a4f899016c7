//! A program linked against facevox runs anywhere: the `analyze` example, copied with the
//! example clip into an empty directory (no `models/`, no source tree, `FACEVOX_MODELS` unset),
//! analyses the clip on the models compiled into the library.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/examples/analyze`, built by `cargo test` with the examples (or built here
/// when this test runs on its own).
fn analyze_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = profile_dir
        .join("examples")
        .join(format!("analyze{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "analyze"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "cargo build --example analyze failed");
    }
    bin
}

#[test]
fn the_analyze_binary_runs_from_an_empty_directory_on_embedded_models() {
    if !facevox::models::EMBEDDED {
        println!("skipped: built without the embedded-models feature");
        return;
    }
    let dir = std::env::temp_dir().join(format!("facevox-standalone-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join(format!("analyze{}", std::env::consts::EXE_SUFFIX));
    std::fs::copy(analyze_binary(), &bin).unwrap();
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4");
    std::fs::copy(&clip, dir.join("clip.mp4")).unwrap();

    let out = Command::new(&bin)
        .args(["clip.mp4", "--json"])
        .current_dir(&dir)
        .env_remove(facevox::models::MODELS_ENV)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Both branches ran: the voice on the AAC track, the face on the H.264 frames; and fused.
    for branch in ["voice", "face", "fused"] {
        assert!(v[branch]["gender"]["label"].is_string(), "{branch}: {v}");
        assert!(v[branch]["emotion"]["label"].is_string(), "{branch}: {v}");
    }
    // The same answers as the library gives in this process, on the same clip.
    let voice = facevox::VoiceAnalyzer::new()
        .unwrap()
        .analyze_file(&clip)
        .unwrap();
    assert_eq!(
        v["voice"]["gender"]["p_female"].as_f64().unwrap() as f32,
        voice.gender.p_female
    );
    // A models directory that does not hold models is a typed error, not a silent fallback.
    let out = Command::new(&bin)
        .args(["clip.mp4"])
        .current_dir(&dir)
        .env(facevox::models::MODELS_ENV, dir.join("no-models-here"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-models-here"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
