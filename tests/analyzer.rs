//! The one `Analyzer` on the shipped models: every mode on the example clip, a missing
//! modality answered by the other, a paired picture + audio file, and typed errors when the
//! asked-for modality is absent.

use std::path::{Path, PathBuf};

use facevox::{Analyzer, Error, Modality, Mode};

fn example_clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
}

fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("facevox-analyzer-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The clip's audio track as a 16-bit WAV file.
fn clip_audio_wav(dir: &Path) -> PathBuf {
    let clip = facevox::audio::decode_file(example_clip(), &Default::default()).unwrap();
    let path = dir.join("clip.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: clip.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for s in &clip.samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    path
}

#[test]
fn every_mode_on_the_example_clip() {
    let a = Analyzer::new().unwrap();
    let clip = example_clip();
    let auto = a.analyze_file(&clip, Mode::Auto).unwrap();
    let fused = auto.fused.as_ref().expect("both modalities answer");
    assert_eq!(fused.modalities, vec![Modality::Face, Modality::Voice]);
    assert!(fused
        .emotion_modalities
        .iter()
        .all(|m| fused.modalities.contains(m)));
    // The shipped fusion file says how: the learned head when it has one, else the product.
    assert_eq!(
        fused.method,
        a.fusion().method(a.face().emotions(), a.voice().emotions())
    );
    let (face, voice) = (auto.face.as_ref().unwrap(), auto.voice.as_ref().unwrap());
    // Nine emotions: the voice's eight and the face's contempt; a distribution.
    assert_eq!(fused.emotion.probabilities.len(), 9);
    let total: f32 = fused.emotion.probabilities.iter().map(|p| p.1).sum();
    assert!((total - 1.0).abs() < 1e-4);
    // Both branches hear and see actor 01 as male, and so does the fusion; the product of
    // two agreeing experts is at least as sure as either.
    assert_eq!(fused.gender.label, facevox::Gender::Male);
    let product = Analyzer::new()
        .unwrap()
        .with_fusion(facevox::model::FusionModelFile::default())
        .analyze_file(&clip, Mode::Auto)
        .unwrap()
        .fused
        .unwrap();
    assert!(product.gender.confidence >= face.gender.confidence.max(voice.gender.confidence));
    // The per-branch modes answer with their branch alone, exactly as the branch does.
    let f = a.analyze_file(&clip, Mode::Face).unwrap();
    assert!(f.fused.is_none() && f.voice.is_none());
    assert_eq!(f.face.as_ref(), Some(face));
    let v = a.analyze_file(&clip, Mode::Voice).unwrap();
    assert!(v.fused.is_none() && v.face.is_none());
    assert_eq!(v.voice.as_ref(), Some(voice));
    assert_eq!(
        a.analyze_file(&clip, Mode::Fused).unwrap().fused,
        auto.fused
    );
    // Results serialise.
    let json = serde_json::to_value(&auto).unwrap();
    assert_eq!(json["fused"]["modalities"][0], "face");
}

#[test]
fn a_missing_modality_is_answered_by_the_other() {
    let a = Analyzer::new().unwrap();
    let dir = temp("missing");
    let wav = clip_audio_wav(&dir);
    // Audio only: the voice answers, fused from it alone, and the face says why it did not.
    let r = a.analyze_file(&wav, Mode::Fused).unwrap();
    let fused = r.fused.unwrap();
    assert_eq!(fused.modalities, vec![Modality::Voice]);
    assert_eq!(fused.emotion_modalities, vec![Modality::Voice]);
    assert_eq!(fused.gender.label, r.voice.as_ref().unwrap().gender.label);
    assert!(r.face.is_none() && r.face_skipped.is_some());
    assert!(matches!(
        a.analyze_file(&wav, Mode::Face),
        Err(Error::InvalidConfig(_))
    ));
    // A picture with no face, paired with the audio: the voice answers; face mode is NoFace.
    let blank = dir.join("blank.png");
    image::RgbImage::from_fn(120, 90, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 2) as u8, 90])
    })
    .save(&blank)
    .unwrap();
    let r = a.analyze_pair(&blank, &wav, Mode::Auto).unwrap();
    assert_eq!(r.fused.unwrap().modalities, vec![Modality::Voice]);
    assert!(r.face_skipped.unwrap().contains("no face"));
    assert!(matches!(
        a.analyze_pair(&blank, &wav, Mode::Face),
        Err(Error::NoFace(_))
    ));
    // Neither modality: an error, never a guess.
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not media").unwrap();
    assert!(a.analyze_pair(&blank, &text, Mode::Auto).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn evaluate_fused_scores_the_fusion_and_each_branch_on_the_same_rows() {
    use facevox::training::data::load_manifest;
    use facevox::training::eval::{score_manifest, ManifestBranch};
    let a = Analyzer::new().unwrap();
    let dir = temp("manifest");
    let clip = example_clip();
    std::fs::copy(&clip, dir.join("clip.mp4")).unwrap();
    clip_audio_wav(&dir);
    // The video in both columns; the video with its audio as a separate file; a voice-only
    // row; a row with an unreadable voice.
    std::fs::write(dir.join("bad.wav"), b"RIFF....not audio").unwrap();
    std::fs::write(
        dir.join("m.csv"),
        "face,voice,gender,emotion,group\n\
         clip.mp4,clip.mp4,male,disgust,a\n\
         clip.mp4,clip.wav,male,disgust,b\n\
         ,clip.wav,male,disgust,b\n\
         ,bad.wav,male,disgust,b\n",
    )
    .unwrap();
    let rows = load_manifest(dir.join("m.csv")).unwrap();
    let r = score_manifest(ManifestBranch::Fused(&a), &rows, None, Default::default()).unwrap();
    assert_eq!((r.n, r.errors), (4, 1));
    assert_eq!(r.gender.n, 3);
    assert_eq!(r.emotion.labels.len(), 9);
    // The face scored the two rows with a face, the voice all three readable rows.
    assert_eq!(r.branches["face"].gender.n, 2);
    assert_eq!(r.branches["voice"].gender.n, 3);
    assert_eq!(r.branches["voice"].emotion.labels.len(), 8);
    let json = serde_json::to_value(&r).unwrap();
    for key in ["fused", "face", "voice"] {
        let v = if key == "fused" {
            &json
        } else {
            &json["branches"][key]
        };
        assert!(v["gender"]["accuracy"].is_number(), "{key}: {v}");
    }
    assert_eq!(json["mode"], "fused");
    // Per group: group a is the first row alone, group b the other three (one failed).
    assert_eq!((r.groups["a"].n, r.groups["a"].errors), (1, 0));
    assert_eq!((r.groups["b"].n, r.groups["b"].errors), (3, 1));
    assert_eq!(r.groups["b"].scores.gender.n, 2);
    let b = &json["groups"]["b"];
    assert_eq!(b["n"], 3);
    assert_eq!(b["gender"]["n"], 2);
    assert!(b["gender"]["balanced_accuracy"].is_number(), "{b}");
    assert!(b["emotion"]["accuracy"].is_number(), "{b}");
    // The groups partition the scored rows: their gender hits add up to the whole's.
    let hits = |s: &facevox::training::eval::BranchScores| {
        s.gender.confusion[0][0] + s.gender.confusion[1][1]
    };
    assert_eq!(
        hits(&r.groups["a"].scores) + hits(&r.groups["b"].scores),
        r.gender.confusion[0][0] + r.gender.confusion[1][1]
    );
    // Row by row: the three scored rows in manifest order, the failed fourth left out; each
    // answer is the one tallied, and the fused rows carry each branch's own.
    let rows_scored: Vec<usize> = r.predictions.iter().map(|p| p.row).collect();
    assert_eq!(rows_scored, [1, 2, 3]);
    let right = r
        .predictions
        .iter()
        .filter(|p| Some(p.gender.label) == p.label_gender)
        .count();
    assert_eq!(right, r.gender.confusion[0][0] + r.gender.confusion[1][1]);
    assert_eq!(r.predictions[0].group.as_deref(), Some("a"));
    assert!(r.predictions[0].face.is_some() && r.predictions[0].voice.is_some());
    assert!(r.predictions[2].face.is_none() && r.predictions[2].voice.is_some());
    assert!(
        r.predictions[2].input.ends_with("clip.wav"),
        "{}",
        r.predictions[2].input
    );
    assert!(json.get("predictions").is_none(), "not in the JSON report");
    let line = serde_json::to_value(&r.predictions[1]).unwrap();
    assert!(
        line["gender"]["p_female"].is_number() && line["face"].is_array(),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn abstention_marks_answers_below_the_threshold_and_evaluate_counts_them() {
    use facevox::model::Abstention;
    use facevox::training::data::load_manifest;
    use facevox::training::eval::{score_manifest, ManifestBranch};
    let clip = example_clip();
    let never = Analyzer::new()
        .unwrap()
        .with_abstention(Abstention::NEVER)
        .unwrap();
    let a = never.analyze_file(&clip, Mode::Auto).unwrap();
    let fused = a.fused.as_ref().unwrap();
    assert!(!fused.gender.uncertain && !fused.emotion.uncertain);
    // One threshold above the fused answer's confidence (the less sure task's), the other
    // below it.
    let (g, e) = (fused.gender.confidence, fused.emotion.confidence);
    let gender_abstains = g < e;
    let above = |c: f32| (c + 0.01).min((c + 1.0) / 2.0);
    let t = if gender_abstains {
        Abstention {
            gender: above(g),
            emotion: e - 0.01,
        }
    } else {
        Abstention {
            gender: g - 0.01,
            emotion: above(e),
        }
    };
    let strict = Analyzer::new().unwrap().with_abstention(t).unwrap();
    let s = strict.analyze_file(&clip, Mode::Auto).unwrap();
    let sf = s.fused.as_ref().unwrap();
    assert!(
        sf.gender.uncertain == gender_abstains && sf.emotion.uncertain != gender_abstains,
        "thresholds {t:?}, first answer {fused:?}, second {sf:?}"
    );
    // The label and the distribution stay: abstaining only marks the answer.
    assert_eq!(
        (sf.gender.label, sf.emotion.label),
        (fused.gender.label, fused.emotion.label)
    );
    // Each branch's own answer is marked by the same thresholds.
    for (c, u) in [
        (&s.face.as_ref().unwrap().emotion, t.emotion),
        (&s.voice.as_ref().unwrap().emotion, t.emotion),
    ] {
        if (c.confidence - u).abs() > 1e-3 {
            assert_eq!(c.uncertain, c.confidence < u);
        }
    }
    assert!(Analyzer::new()
        .unwrap()
        .with_abstention(Abstention {
            gender: 1.5,
            emotion: 0.0
        })
        .is_err());

    // evaluate: coverage and accuracy on the rows answered.
    let dir = temp("abstain");
    std::fs::copy(&clip, dir.join("clip.mp4")).unwrap();
    clip_audio_wav(&dir);
    std::fs::write(
        dir.join("m.csv"),
        "face,voice,gender,emotion\nclip.mp4,clip.mp4,male,disgust\n,clip.wav,female,happy\n",
    )
    .unwrap();
    let rows = load_manifest(dir.join("m.csv")).unwrap();
    let all = score_manifest(
        ManifestBranch::Fused(&never),
        &rows,
        None,
        Abstention::NEVER,
    )
    .unwrap();
    assert_eq!(all.gender.abstention.abstained, 0);
    assert_eq!(all.gender.abstention.coverage, Some(1.0));
    assert_eq!(all.gender.abstention.answered_accuracy, all.gender.accuracy);
    // Never sure enough about emotion, always about gender (a top class has at least 0.5).
    let t = Abstention {
        gender: 0.5,
        emotion: 0.999,
    };
    let r = score_manifest(ManifestBranch::Fused(&never), &rows, None, t).unwrap();
    assert_eq!(r.gender.abstention.abstained, 0, "{:?}", r.gender);
    assert_eq!(
        r.emotion.abstention.abstained, r.emotion.n,
        "{:?}",
        r.emotion
    );
    assert_eq!(r.emotion.abstention.coverage, Some(0.0));
    assert_eq!(r.emotion.abstention.answered_accuracy, None);
    assert_eq!(r.emotion.abstention.threshold, 0.999);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn batch_analysis_keeps_order_and_isolates_failures() {
    let a = Analyzer::new().unwrap();
    let dir = temp("batch");
    let wav = clip_audio_wav(&dir);
    let bad = dir.join("bad.wav");
    std::fs::write(&bad, b"RIFF....not audio").unwrap();
    let inputs = vec![example_clip(), bad.clone(), wav.clone()];
    let batch = a.analyze_files(&inputs, Mode::Auto);
    assert_eq!(batch.len(), 3);
    assert!(batch[1].is_err());
    for (i, one) in [(0, &inputs[0]), (2, &inputs[2])] {
        assert_eq!(
            batch[i].as_ref().unwrap(),
            &a.analyze_file(one, Mode::Auto).unwrap()
        );
    }
    let seen = std::sync::Mutex::new(Vec::new());
    let _ = a.analyze_files_with_progress(&inputs, Mode::Voice, &|done, total| {
        seen.lock().unwrap().push((done, total))
    });
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen, vec![(1, 3), (2, 3), (3, 3)]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_models_folder_brings_its_own_fusion_file() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let dir = temp("fusion-dir");
    for f in [
        "face.json",
        "face.safetensors",
        "voice.json",
        "voice.safetensors",
    ] {
        std::fs::copy(models.join(f), dir.join(f)).unwrap();
    }
    // Without a fusion file: the product of experts at temperature 1, never abstaining.
    let plain = Analyzer::from_dir(&dir).unwrap();
    assert_eq!(plain.fusion(), &facevox::model::FusionModelFile::default());
    std::fs::write(
        dir.join("fusion.json"),
        r#"{"format": 1, "abstain": {"gender": 0.8, "emotion": 0.5}}"#,
    )
    .unwrap();
    let own = Analyzer::from_dir(&dir).unwrap();
    assert_eq!(own.fusion().abstain.gender, 0.8);
    std::fs::write(dir.join("fusion.json"), r#"{"format": 7}"#).unwrap();
    assert!(matches!(
        Analyzer::from_dir(&dir),
        Err(Error::UnsupportedModelFormat { found: 7, .. })
    ));
    std::fs::write(dir.join("fusion.json"), "{ not json").unwrap();
    assert!(matches!(
        Analyzer::from_dir(&dir),
        Err(Error::InvalidModelFile(_))
    ));
    // The shipped analyzer carries the shipped fusion file.
    let shipped: facevox::model::FusionModelFile =
        facevox::model::FusionModelFile::read(&models.join("fusion.json")).unwrap();
    assert_eq!(Analyzer::new().unwrap().fusion(), &shipped);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_fusion_file_with_a_head_fuses_with_it() {
    use facevox::model::{FusionModelFile, LinearFusionHead};
    let clip = example_clip();
    let plain = Analyzer::new()
        .unwrap()
        .with_fusion(FusionModelFile::default());
    let p = plain.analyze_file(&clip, Mode::Auto).unwrap();
    // A head at its starting point is the product of experts: same answer, other method.
    let head =
        LinearFusionHead::product_of_experts(plain.face().emotions(), plain.voice().emotions());
    let with_head = Analyzer::new().unwrap().with_fusion(FusionModelFile {
        head: Some(head),
        ..FusionModelFile::default()
    });
    let h = with_head.analyze_file(&clip, Mode::Auto).unwrap();
    let (pf, hf) = (p.fused.unwrap(), h.fused.unwrap());
    assert_eq!(
        (pf.method.as_str(), hf.method.as_str()),
        ("product_of_experts", "learned_head")
    );
    assert_eq!(pf.emotion.label, hf.emotion.label);
    assert!((pf.gender.p_female - hf.gender.p_female).abs() < 1e-5);
    for ((e1, a), (e2, b)) in pf
        .emotion
        .probabilities
        .iter()
        .zip(&hf.emotion.probabilities)
    {
        assert_eq!(e1, e2);
        assert!((a - b).abs() < 1e-5, "{e1}: {a} vs {b}");
    }
    assert_eq!(hf.emotion_modalities, vec![Modality::Face, Modality::Voice]);
    // A gate that closes on any face leaves the emotion to the voice (and says so); the
    // face still counts for perceived gender.
    let mut gated_head =
        LinearFusionHead::product_of_experts(plain.face().emotions(), plain.voice().emotions());
    gated_head.expressionless_gate = 0.01;
    let gated = Analyzer::new().unwrap().with_fusion(FusionModelFile {
        head: Some(gated_head),
        ..FusionModelFile::default()
    });
    let g = gated.analyze_file(&clip, Mode::Auto).unwrap();
    let gf = g.fused.unwrap();
    assert_eq!(gf.modalities, vec![Modality::Face, Modality::Voice]);
    assert_eq!(gf.emotion_modalities, vec![Modality::Voice]);
    assert_eq!(gf.emotion.label, g.voice.unwrap().emotion.label);
    assert!((gf.gender.p_female - hf.gender.p_female).abs() < 1e-5);
}

#[test]
fn the_voice_flags_a_recording_unlike_its_training_speech() {
    let a = Analyzer::new().unwrap();
    let v = a.voice();
    assert!(
        v.model().familiarity.is_some(),
        "the shipped voice model has a reference"
    );
    let clip = v.analyze_file(example_clip()).unwrap();
    assert!(!clip.unfamiliar, "{:?}", clip.unfamiliarity);
    // A steady 440 Hz tone is no voice at all.
    let sr = 16_000u32;
    let tone: Vec<f32> = (0..3 * sr)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / sr as f32).sin())
        .collect();
    let t = v.analyze_clip(&facevox::AudioClip::new(tone, sr)).unwrap();
    assert!(t.unfamiliar, "{:?}", t.unfamiliarity);
    assert!(t.unfamiliarity.unwrap() > clip.unfamiliarity.unwrap());
}

#[test]
fn video_sampling_and_the_mirror_trade_frames_for_time() {
    use facevox::{FaceAnalyzer, VideoSampling};
    let clip = example_clip();
    let full = FaceAnalyzer::new().unwrap();
    assert_eq!(full.video_sampling(), &VideoSampling::default());
    assert!(
        full.mirror(),
        "the shipped face model scores the mirror image too"
    );
    let five = full.analyze_file(&clip).unwrap();
    // Half the frame rate looks at half the frames of the 4 s clip, at the same instants
    // as every other frame of the default (both start at the first frame).
    let half = FaceAnalyzer::new()
        .unwrap()
        .with_video_sampling(VideoSampling::new(2.5).unwrap())
        .unwrap();
    let slow = half.analyze_file(&clip).unwrap();
    assert_eq!(five.timeline.len(), 20);
    assert_eq!(slow.timeline.len(), 10);
    for (s, f) in slow.timeline.iter().zip(five.timeline.iter().step_by(2)) {
        assert!((s.timestamp_secs - f.timestamp_secs).abs() < 1e-9);
    }
    // Without the mirror, each frame's answer moves (one view instead of two) but the clip's
    // perceived gender stays (actor 01, male).
    let one_view = FaceAnalyzer::new().unwrap().with_mirror(false);
    assert!(!one_view.mirror());
    let plain = one_view.analyze_file(&clip).unwrap();
    assert_eq!(plain.timeline.len(), 20);
    assert_ne!(plain.gender.p_female, five.gender.p_female);
    assert_eq!(plain.gender.label, facevox::Gender::Male);
    // The Analyzer passes both settings on.
    let a = Analyzer::new()
        .unwrap()
        .with_video_sampling(VideoSampling::new(2.5).unwrap())
        .unwrap()
        .with_mirror(false);
    assert_eq!(a.face().video_sampling().frames_per_second, 2.5);
    assert!(!a.face().mirror());
    let r = a.analyze_file(&clip, Mode::Face).unwrap();
    assert_eq!(r.face.unwrap().timeline.len(), 10);
    // Bad settings are typed errors.
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1000.0] {
        assert!(matches!(
            VideoSampling::new(bad),
            Err(Error::InvalidConfig(_))
        ));
    }
    let tracker = facevox::vision::TrackerConfig {
        redetect_every: 0,
        ..Default::default()
    };
    assert!(matches!(
        VideoSampling::default().with_tracker(tracker),
        Err(Error::InvalidConfig(_))
    ));
}
