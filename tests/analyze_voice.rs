//! The voice analyzer API end to end on a tiny model trained here: save, load, analyse real
//! files (the shipped example clip's AAC track), restricted emotion argmax, and typed errors.

use std::path::{Path, PathBuf};

use facevox::audio::{AudioClip, LogMel, MelConfig};
use facevox::labels::{Emotion, Gender, RAVDESS_EMOTIONS};
use facevox::model::{VoiceConfig, VoiceModelFile};
use facevox::training::rng::SeededRng;
use facevox::training::{
    train_voice, AudioAugmentConfig, TrainConfig, VoiceExample, VoiceTrainingConfig,
};
use facevox::Error;
use facevox::{EmotionPrediction, VoiceAnalyzer};

fn example_clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

fn tiny_model(dir: &Path) -> VoiceTrainingConfig {
    let cfg = VoiceTrainingConfig {
        model: VoiceConfig::tiny(),
        mel: MelConfig {
            n_mels: 16,
            normalize: false,
            ..MelConfig::default()
        },
        train: TrainConfig {
            epochs: 2,
            batch_size: 8,
            augment: AudioAugmentConfig::none(),
            progress: false,
            ..TrainConfig::default()
        },
        emotions: RAVDESS_EMOTIONS.to_vec(),
        members: 1,
        ..VoiceTrainingConfig::default()
    };
    let mut rng = SeededRng::new(5);
    let examples: Vec<VoiceExample> = (0..16)
        .map(|i| VoiceExample {
            mel: LogMel {
                data: (0..16 * 30).map(|_| rng.normal() as f32 - 10.0).collect(),
                n_mels: 16,
                n_frames: 30,
            },
            gender: Some(if i % 2 == 0 {
                Gender::Male
            } else {
                Gender::Female
            }),
            emotion: Some(RAVDESS_EMOTIONS[i % 8]),
            group: None,
        })
        .collect();
    let out = train_voice(&cfg, &examples, &[], None).unwrap();
    let mut file = VoiceModelFile::new(cfg.model.clone(), cfg.mel.clone(), cfg.emotions.clone(), 1);
    file.provenance = serde_json::json!({"test": true});
    file.save(&[&out.varmap], &dir.join("voice")).unwrap();
    cfg
}

#[test]
fn analyzes_files_and_restricts_the_emotion_choice() {
    let dir = std::env::temp_dir().join(format!("facevox-analyze-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    tiny_model(&dir);
    let analyzer = VoiceAnalyzer::from_dir(&dir).unwrap();
    assert_eq!(analyzer.emotions(), RAVDESS_EMOTIONS);

    let a = analyzer.analyze_file(example_clip()).unwrap();
    let total: f32 = a.emotion.probabilities.iter().map(|p| p.1).sum();
    assert!((total - 1.0).abs() < 1e-4);
    assert!(a.gender.confidence >= 0.5 && a.gender.confidence <= 1.0);
    assert!((0.0..=1.0).contains(&a.gender.p_female));
    assert!(
        a.speech_seconds > 1.0 && a.speech_seconds < 4.0,
        "{}",
        a.speech_seconds
    );
    assert_eq!(a.embedding.len(), VoiceConfig::tiny().embedding);
    // Same input, same answer.
    assert_eq!(analyzer.analyze_file(example_clip()).unwrap(), a);

    // Restricting the argmax picks the best of the allowed labels.
    let clip = facevox::audio::decode_file(example_clip(), &Default::default()).unwrap();
    let allowed = [Emotion::Happy, Emotion::Sad];
    let r = analyzer.analyze_clip_among(&clip, Some(&allowed)).unwrap();
    assert!(allowed.contains(&r.emotion.label));
    let best = allowed
        .iter()
        .map(|&e| r.emotion.probability(e))
        .fold(f32::MIN, f32::max);
    assert_eq!(r.emotion.confidence, best);
    assert!(EmotionPrediction::from_distribution(
        r.emotion.probabilities.clone(),
        Some(&[Emotion::Contempt])
    )
    .is_err());

    // Bad input is a typed error.
    let empty = dir.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        analyzer.analyze_file(&empty),
        Err(Error::Empty(_))
    ));
    let silent = AudioClip::new(vec![0.0; 48_000], 48_000);
    assert!(matches!(analyzer.analyze_clip(&silent), Err(Error::Silent)));
    let not_audio = dir.join("notes.wav");
    std::fs::write(&not_audio, b"this is not audio at all, just words").unwrap();
    assert!(analyzer.analyze_file(&not_audio).is_err());
    assert!(VoiceAnalyzer::from_dir(dir.join("missing")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
