//! The training engine on a tiny synthetic set: the loss must fall, runs must repeat exactly
//! from a seed, and a head without labels must not move.

use facevox::audio::{LogMel, MelConfig};
use facevox::labels::{Emotion, Gender, RAVDESS_EMOTIONS};
use facevox::model::{Prediction, VoiceConfig, VoiceNet, VoicePredictor};
use facevox::training::rng::SeededRng;
use facevox::training::{
    train_voice, AudioAugmentConfig, EarlyStopping, OptimizerConfig, TrainConfig, VoiceExample,
    VoiceTrainingConfig,
};

const BANDS: usize = 16;

/// One network's plain prediction, through the one voice prediction path.
fn predict_voice(net: &VoiceNet, mels: &[&LogMel]) -> facevox::Result<Vec<Prediction>> {
    VoicePredictor::single(net.clone()).predict(mels)
}

/// Log-mels whose emotion lights up band `2k` and whose gender tilts the spectrum.
fn synthetic(n: usize, seed: u64, with_emotion: bool, with_gender: bool) -> Vec<VoiceExample> {
    let mut rng = SeededRng::new(seed);
    (0..n)
        .map(|i| {
            let k = i % 8;
            let female = (i / 8) % 2 == 1;
            let frames = 40 + rng.below(30);
            let mut data = Vec::with_capacity(BANDS * frames);
            for b in 0..BANDS {
                for t in 0..frames {
                    let tilt = if female {
                        b as f32 * 0.15
                    } else {
                        -(b as f32) * 0.15
                    };
                    let peak = if b == 2 * k {
                        3.0 * (1.0 + (t as f32 * 0.3).sin())
                    } else {
                        0.0
                    };
                    data.push(-8.0 + tilt + peak + rng.normal() as f32 * 0.7);
                }
            }
            VoiceExample {
                mel: LogMel {
                    data,
                    n_mels: BANDS,
                    n_frames: frames,
                },
                gender: with_gender.then_some(if female { Gender::Female } else { Gender::Male }),
                emotion: with_emotion.then_some(RAVDESS_EMOTIONS[k]),
                group: Some(format!("spk{}", i % 6)),
            }
        })
        .collect()
}

fn config(epochs: usize) -> VoiceTrainingConfig {
    VoiceTrainingConfig {
        model: VoiceConfig {
            channels: vec![16, 16],
            embedding: 16,
            ..VoiceConfig::tiny()
        },
        mel: MelConfig {
            n_mels: BANDS,
            normalize: false,
            ..MelConfig::default()
        },
        train: TrainConfig {
            epochs,
            batch_size: 16,
            optimizer: OptimizerConfig::AdamW {
                lr: 1e-2,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 1e-4,
            },
            augment: AudioAugmentConfig {
                crop_frames: Some(32),
                time_masks: 1,
                time_mask_max: 4,
                ..AudioAugmentConfig::none()
            },
            progress: false,
            ..TrainConfig::default()
        },
        emotions: RAVDESS_EMOTIONS.to_vec(),
        members: 1,
        ..VoiceTrainingConfig::default()
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

#[test]
fn a_few_epochs_reduce_the_loss_and_learn_the_synthetic_classes() {
    let train = synthetic(96, 1, true, true);
    let test = synthetic(48, 2, true, true);
    let out = train_voice(&config(20), &train, &[], None).unwrap();
    let first = out.history.first().unwrap().loss;
    let last = out.history.last().unwrap().loss;
    assert!(last < 0.6 * first, "loss {first} -> {last}");
    let mels: Vec<&LogMel> = test.iter().map(|e| &e.mel).collect();
    let preds = predict_voice(&out.net, &mels).unwrap();
    let emotion_hits = test
        .iter()
        .zip(&preds)
        .filter(|(e, p)| RAVDESS_EMOTIONS[argmax(&p.emotion)] == e.emotion.unwrap())
        .count();
    let gender_hits = test
        .iter()
        .zip(&preds)
        .filter(|(e, p)| argmax(&p.gender) == e.gender.unwrap() as usize)
        .count();
    // Chance is 6/48 for emotion and 24/48 for gender.
    assert!(emotion_hits >= 24, "emotion {emotion_hits}/48");
    assert!(gender_hits >= 40, "gender {gender_hits}/48");
    for p in &preds {
        assert!((p.gender.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!((p.emotion.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn the_same_seed_repeats_the_run_exactly() {
    let train = synthetic(32, 3, true, true);
    let a = train_voice(&config(2), &train, &[], None).unwrap();
    let b = train_voice(&config(2), &train, &[], None).unwrap();
    let la: Vec<f64> = a.history.iter().map(|h| h.loss).collect();
    let lb: Vec<f64> = b.history.iter().map(|h| h.loss).collect();
    assert_eq!(la, lb);
    let mut other = config(2);
    other.train.seed = 7;
    let c = train_voice(&other, &train, &[], None).unwrap();
    assert_ne!(la, c.history.iter().map(|h| h.loss).collect::<Vec<_>>());
}

fn head_weights(out: &facevox::training::TrainOutcome, name: &str) -> Vec<f32> {
    let data = out.varmap.data().lock().unwrap();
    data[name]
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

#[test]
fn a_head_without_labels_is_not_trained_and_the_other_still_learns() {
    // Gender-only data: the emotion head must keep its initial weights.
    let gender_only = synthetic(32, 4, false, true);
    let trained = train_voice(&config(3), &gender_only, &[], None).unwrap();
    // The initial weights come from the seed alone.
    let cfg = config(3);
    let varmap = candle_nn::VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(
        &varmap,
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    );
    let _net = facevox::model::VoiceNet::new(&cfg.model, vb).unwrap();
    facevox::model::init_weights(&varmap, cfg.train.seed).unwrap();
    let initial = |name: &str| -> Vec<f32> {
        let data = varmap.data().lock().unwrap();
        data[name]
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(
        head_weights(&trained, "emotion_head.weight"),
        initial("emotion_head.weight")
    );
    assert_eq!(
        head_weights(&trained, "emotion_head.bias"),
        initial("emotion_head.bias")
    );
    assert_ne!(
        head_weights(&trained, "gender_head.weight"),
        initial("gender_head.weight")
    );
    assert!(trained.history.iter().all(|h| h.emotion_loss == 0.0));
    assert!(trained.history[0].gender_loss > 0.0);
}

#[test]
fn early_stopping_keeps_the_best_epoch_and_bad_input_is_refused() {
    let train = synthetic(48, 5, true, true);
    let val = synthetic(16, 6, true, true);
    let mut cfg = config(40);
    cfg.train.early_stopping = Some(EarlyStopping {
        patience: 2,
        min_epochs: 3,
    });
    let out = train_voice(&cfg, &train, &val, None).unwrap();
    let scores: Vec<f64> = out
        .history
        .iter()
        .map(|h| h.validation.as_ref().unwrap().score)
        .collect();
    let best = scores.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(scores[out.best_epoch - 1], best);
    if out.stopped_early {
        assert!(out.history.len() < 40);
        assert_eq!(out.history.len() - out.best_epoch, 2);
    }

    assert!(train_voice(&config(1), &[], &[], None).is_err());
    let unlabeled = synthetic(8, 7, false, false);
    assert!(train_voice(&config(1), &unlabeled, &[], None).is_err());
    let mut wrong_bands = synthetic(4, 8, true, true);
    wrong_bands[0].mel.n_mels = 8;
    assert!(train_voice(&config(1), &wrong_bands, &[], None).is_err());
    let mut nan = synthetic(2, 9, true, true);
    nan[0].mel.data[3] = f32::NAN;
    let net = train_voice(&config(1), &synthetic(16, 10, true, true), &[], None)
        .unwrap()
        .net;
    assert!(matches!(
        predict_voice(&net, &[&nan[0].mel]),
        Err(facevox::Error::NonFinite)
    ));
    let _ = Emotion::Neutral;
}

#[test]
fn weight_averaging_is_the_returned_model_and_still_learns() {
    let train = synthetic(96, 1, true, true);
    let test = synthetic(48, 2, true, true);
    let plain = train_voice(&config(12), &train, &[], None).unwrap();
    // Decay 0 averages nothing: the "average" is the last step's weights, exactly.
    let mut zero = config(12);
    zero.train.ema_decay = Some(0.0);
    let same = train_voice(&zero, &train, &[], None).unwrap();
    assert_eq!(
        head_weights(&plain, "emotion_head.weight"),
        head_weights(&same, "emotion_head.weight")
    );
    // A real average differs from the last weights and is what comes back, and it has learned.
    let mut avg = config(12);
    avg.train.ema_decay = Some(0.9);
    let averaged = train_voice(&avg, &train, &[], None).unwrap();
    assert_ne!(
        head_weights(&plain, "emotion_head.weight"),
        head_weights(&averaged, "emotion_head.weight")
    );
    let mels: Vec<&LogMel> = test.iter().map(|e| &e.mel).collect();
    let preds = predict_voice(&averaged.net, &mels).unwrap();
    let hits = test
        .iter()
        .zip(&preds)
        .filter(|(e, p)| RAVDESS_EMOTIONS[argmax(&p.emotion)] == e.emotion.unwrap())
        .count();
    assert!(hits >= 24, "emotion {hits}/48 with averaged weights");
}

#[test]
fn members_are_seeded_apart_and_their_probabilities_averaged() {
    let train = synthetic(48, 8, true, true);
    let mut cfg = config(2);
    cfg.members = 2;
    let members = facevox::training::train_voice_members(&cfg, &train, &[], None).unwrap();
    assert_eq!(members.len(), 2);
    // Member 0 is the single-model run; member 1 is seeded differently.
    let single = train_voice(&config(2), &train, &[], None).unwrap();
    assert_eq!(
        head_weights(&members[0], "emotion_head.weight"),
        head_weights(&single, "emotion_head.weight")
    );
    assert_ne!(
        head_weights(&members[0], "emotion_head.weight"),
        head_weights(&members[1], "emotion_head.weight")
    );
    let test = synthetic(8, 9, true, true);
    let mels: Vec<&LogMel> = test.iter().map(|e| &e.mel).collect();
    let a = predict_voice(&members[0].net, &mels).unwrap();
    let b = predict_voice(&members[1].net, &mels).unwrap();
    let nets = [members[0].net.clone(), members[1].net.clone()];
    let avg = VoicePredictor::from_nets(nets.to_vec(), Default::default())
        .unwrap()
        .predict(&mels)
        .unwrap();
    for ((a, b), m) in a.iter().zip(&b).zip(&avg) {
        for k in 0..8 {
            assert!((m.emotion[k] - (a.emotion[k] + b.emotion[k]) / 2.0).abs() < 1e-6);
        }
        assert!((m.gender[1] - (a.gender[1] + b.gender[1]) / 2.0).abs() < 1e-6);
        assert_eq!(m.embedding, a.embedding);
    }
}

#[test]
fn test_time_augmentation_averages_the_transformed_views() {
    use facevox::audio::transform::{freq_warp, time_stretch};
    use facevox::model::TestTimeViews;

    let train = synthetic(32, 10, true, true);
    let net = train_voice(&config(1), &train, &[], None).unwrap().net;
    let test = synthetic(4, 11, true, true);
    let mels: Vec<&LogMel> = test.iter().map(|e| &e.mel).collect();
    let plain = predict_voice(&net, &mels).unwrap();
    // No views given: exactly the plain prediction.
    assert_eq!(
        VoicePredictor::single(net.clone())
            .with_tta(TestTimeViews::none())
            .unwrap()
            .predict(&mels)
            .unwrap(),
        plain
    );

    let tta = TestTimeViews {
        time_stretch: vec![0.9, 1.0],
        freq_warp: vec![1.0, 1.1],
        ..TestTimeViews::none()
    };
    assert_eq!(
        tta.tempo_warp_views(),
        [(0.9, 1.0), (0.9, 1.1), (1.0, 1.0), (1.0, 1.1)]
    );
    let got = VoicePredictor::single(net.clone())
        .with_tta(tta.clone())
        .unwrap()
        .predict(&mels)
        .unwrap();
    // By hand: each view transformed, predicted and averaged.
    let mut want = vec![[0f32; 8]; mels.len()];
    for (rate, alpha) in tta.tempo_warp_views() {
        let viewed: Vec<LogMel> = mels
            .iter()
            .map(|m| {
                let mut v = time_stretch(m, rate);
                freq_warp(&mut v, alpha);
                v
            })
            .collect();
        let refs: Vec<&LogMel> = viewed.iter().collect();
        for (w, p) in want.iter_mut().zip(predict_voice(&net, &refs).unwrap()) {
            for (wk, pk) in w.iter_mut().zip(&p.emotion) {
                *wk += pk / 4.0;
            }
        }
    }
    for ((g, w), p) in got.iter().zip(&want).zip(&plain) {
        for k in 0..8 {
            assert!(
                (g.emotion[k] - w[k]).abs() < 1e-5,
                "{:?} vs {w:?}",
                g.emotion
            );
        }
        assert!((g.gender.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // The embedding is the plain view's.
        assert_eq!(g.embedding, p.embedding);
    }
    assert!(got != plain, "the views must change the prediction");

    let bad = TestTimeViews {
        time_stretch: vec![f32::NAN],
        ..TestTimeViews::none()
    };
    assert!(bad.validate_for_voices().is_err());
    assert!(TestTimeViews {
        freq_warp: vec![3.0],
        ..TestTimeViews::none()
    }
    .validate_for_voices()
    .is_err());
    assert!(TestTimeViews::mirrored().validate_for_voices().is_err());
}

#[test]
fn cross_validation_with_another_corpus_tests_only_the_folded_one() {
    use facevox::training::cross_validate_voice_with_extra;
    // 48 clips of 6 speakers are folded; 12 gender-only clips of another corpus only train.
    let folded = synthetic(48, 21, true, true);
    let mut extra = synthetic(12, 22, false, true);
    for (i, e) in extra.iter_mut().enumerate() {
        e.group = Some(format!("accent_{i}"));
    }
    let cv =
        cross_validate_voice_with_extra(&config(1), &folded, &extra, 3, 7, 0, None, None).unwrap();
    assert_eq!(cv.folds.len(), 3);
    let tested: usize = cv.folds.iter().map(|f| f.gender.classification.n).sum();
    assert_eq!(tested, 48, "every folded clip tested once, no other");
    // Out-of-fold predictions: every folded clip once, by the model that did not train on it.
    let mut seen: Vec<usize> = cv
        .folds
        .iter()
        .flat_map(|f| f.test_predictions.iter().map(|o| o.index))
        .collect();
    seen.sort();
    assert_eq!(seen, (0..48).collect::<Vec<_>>());
    for f in &cv.folds {
        for o in &f.test_predictions {
            assert!(f.test_groups.contains(o.group.as_ref().unwrap()));
            assert_eq!(o.gender, folded[o.index].gender);
            assert!((o.prediction.gender.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
    for f in &cv.folds {
        assert!(f.test_groups.iter().all(|g| g.starts_with("spk")));
        // Each fold trains on the other folds' clips plus every extra clip.
        let test_n = f.gender.classification.n;
        assert_eq!(f.n_train, 48 - test_n + 12);
    }
}

/// With a log folder, each fold's model is saved, and loading it back gives that fold's
/// out-of-fold predictions: what `examples/robustness` scores the held-out speakers with.
#[test]
fn cross_validation_saves_each_fold_model() {
    use facevox::training::cross_validate_voice;
    let examples = synthetic(48, 31, true, true);
    let dir = std::env::temp_dir().join(format!("facevox_cv_folds_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cv = cross_validate_voice(&config(1), &examples, 3, 7, 0, Some(&dir), None).unwrap();
    for (k, fold) in cv.folds.iter().enumerate() {
        let (file, predictor) =
            VoicePredictor::load(&dir.join(format!("fold_{}", k + 1)).join("voice")).unwrap();
        assert_eq!(
            file.provenance["test_speakers"],
            serde_json::json!(fold.test_groups)
        );
        for o in &fold.test_predictions {
            let p = predictor
                .predict(&[&examples[o.index].mel])
                .unwrap()
                .remove(0);
            for (a, b) in p.gender.iter().zip(&o.prediction.gender) {
                assert!((a - b).abs() < 1e-5, "fold {}: {a} vs {b}", k + 1);
            }
            for (a, b) in p.emotion.iter().zip(&o.prediction.emotion) {
                assert!((a - b).abs() < 1e-5, "fold {}: {a} vs {b}", k + 1);
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Several recipes' out-of-fold gender outputs, averaged per clip: the stand-in for a file
/// whose gender members come from more than one recipe. Reports that disagree on the clips,
/// folds or labels are refused.
#[test]
fn out_of_fold_gender_outputs_average_over_reports() {
    use facevox::training::{cross_validate_voice, VoiceCrossValidation};
    let examples = synthetic(24, 41, true, true);
    let a = cross_validate_voice(&config(1), &examples, 3, 7, 0, None, None).unwrap();
    let mut b = a.clone();
    for f in &mut b.folds {
        for o in &mut f.test_predictions {
            o.prediction.gender = [0.2, 0.8];
        }
    }
    let mean = VoiceCrossValidation::mean_gender_by_clip(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(mean.len(), 24);
    for o in a.folds.iter().flat_map(|f| &f.test_predictions) {
        let m = mean[&(o.group.clone().unwrap(), o.index)];
        assert!((m[1] - (o.prediction.gender[1] + 0.8) / 2.0).abs() < 1e-6);
        assert!((m[0] + m[1] - 1.0).abs() < 1e-5);
    }
    // One report alone: its own outputs.
    let alone = VoiceCrossValidation::mean_gender_by_clip(std::slice::from_ref(&a)).unwrap();
    let o = &a.folds[0].test_predictions[0];
    assert_eq!(
        alone[&(o.group.clone().unwrap(), o.index)],
        o.prediction.gender
    );
    // A clip missing, or moved to another fold: refused.
    let mut missing = b.clone();
    missing.folds[0].test_predictions.pop();
    assert!(VoiceCrossValidation::mean_gender_by_clip(&[a.clone(), missing]).is_err());
    let mut moved = b.clone();
    let clip = moved.folds[0].test_predictions.pop().unwrap();
    moved.folds[1].test_predictions.push(clip);
    assert!(VoiceCrossValidation::mean_gender_by_clip(&[a.clone(), moved]).is_err());
    assert!(VoiceCrossValidation::mean_gender_by_clip(&[]).is_err());
}
