//! The face branch on tiny synthetic sets: a few epochs must reduce the loss and learn the
//! classes, a head without labels must not move, and FER+-style files must come through the
//! pre-cropped path with their majority labels and vote shares.

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use facevox::labels::{Emotion, Gender, FACE_EMOTIONS};
use facevox::model::{init_weights, FaceConfig, FaceNet, FacePredictor, Prediction, TestTimeViews};
use facevox::training::data::{load_ferplus, FerPlusRecord};
use facevox::training::rng::SeededRng;
use facevox::training::{
    ferplus_examples, load_face_init_weights, train_face, FaceExample, FaceTrainingConfig,
    OptimizerConfig, TrainConfig, LUMA_WEIGHTS,
};
use facevox::vision::{AugmentConfig, CropConfig, RgbImage};

const SIZE: u32 = 16;

/// One network on face pictures, through the one face prediction path.
fn predict_faces_tta(
    net: &FaceNet,
    crop: &CropConfig,
    images: &[&RgbImage],
    batch: usize,
    mirror: bool,
) -> facevox::Result<Vec<Prediction>> {
    FacePredictor::single(net.clone(), crop.clone(), TestTimeViews::none())
        .with_mirror(mirror)
        .predict_images(&[images.to_vec()], batch)
}

fn predict_faces(
    net: &FaceNet,
    crop: &CropConfig,
    images: &[&RgbImage],
    batch: usize,
) -> facevox::Result<Vec<Prediction>> {
    predict_faces_tta(net, crop, images, batch, false)
}

/// Emotion `k` lights a 4x4 square in one of eight places; gender sets a left/right gradient.
fn synthetic(n: usize, seed: u64, emotion: bool, gender: bool) -> Vec<FaceExample> {
    let mut rng = SeededRng::new(seed);
    (0..n)
        .map(|i| {
            let k = i % 8;
            let female = (i / 8) % 2 == 1;
            let (bx, by) = ((k % 4) as u32 * 4, (k / 4) as u32 * 8 + 2);
            let img = RgbImage::from_fn(SIZE, SIZE, |x, y| {
                let mut v = if female { x * 6 } else { (SIZE - 1 - x) * 6 } as f64 + 40.0;
                if (bx..bx + 4).contains(&x) && (by..by + 4).contains(&y) {
                    v += 120.0;
                }
                v += rng.normal() * 12.0;
                let v = v.clamp(0.0, 255.0) as u8;
                image::Rgb([v, v, v])
            });
            FaceExample {
                image: img,
                gender: gender.then_some(if female { Gender::Female } else { Gender::Male }),
                emotion: emotion.then_some(FACE_EMOTIONS[k]),
                emotion_votes: None,
                group: None,
                age: None,
            }
        })
        .collect()
}

fn config(epochs: usize) -> FaceTrainingConfig {
    FaceTrainingConfig {
        model: FaceConfig {
            stages: vec![8, 16],
            convs_per_stage: 1,
            embedding: 16,
            ..FaceConfig::tiny()
        },
        crop: CropConfig::gray(SIZE),
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
            augment: AugmentConfig::none(),
            progress: false,
            ..TrainConfig::default()
        },
        ..FaceTrainingConfig::default()
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

#[test]
fn a_few_epochs_reduce_the_loss_and_learn_both_heads() {
    let train = synthetic(128, 1, true, true);
    let test = synthetic(64, 2, true, true);
    let out = train_face(&config(40), &train, &[], None).unwrap();
    let first = out.history.first().unwrap().loss;
    let last = out.history.last().unwrap().loss;
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    let imgs: Vec<&RgbImage> = test.iter().map(|e| &e.image).collect();
    let preds = predict_faces(&out.net, &config(1).crop, &imgs, 32).unwrap();
    let emotion_hits = test
        .iter()
        .zip(&preds)
        .filter(|(e, p)| FACE_EMOTIONS[argmax(&p.emotion)] == e.emotion.unwrap())
        .count();
    let gender_hits = test
        .iter()
        .zip(&preds)
        .filter(|(e, p)| argmax(&p.gender) == e.gender.unwrap() as usize)
        .count();
    // Chance: 8/64 and 32/64.
    assert!(emotion_hits >= 40, "emotion {emotion_hits}/64");
    assert!(gender_hits >= 52, "gender {gender_hits}/64");
}

#[test]
fn emotion_only_and_gender_only_sets_train_only_their_head() {
    // FER+-like (emotion only) plus FairFace-like (gender only), as the real mix is.
    let mut train = synthetic(64, 3, true, false);
    train.extend(synthetic(64, 4, false, true));
    let out = train_face(&config(3), &train, &[], None).unwrap();
    assert!(out
        .history
        .iter()
        .all(|h| h.gender_loss > 0.0 && h.emotion_loss > 0.0));
    // With no gender labels at all, the gender head keeps its initial weights.
    let only_emotion = synthetic(48, 5, true, false);
    let a = train_face(&config(2), &only_emotion, &[], None).unwrap();
    let b = train_face(&config(1), &only_emotion, &[], None).unwrap();
    let w = |o: &facevox::training::TrainOutcome<facevox::model::FaceNet>, n: &str| {
        o.varmap.data().lock().unwrap()[n]
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(w(&a, "gender_head.weight"), w(&b, "gender_head.weight"));
    assert_ne!(w(&a, "emotion_head.weight"), w(&b, "emotion_head.weight"));
}

#[test]
fn wrong_crop_size_and_empty_sets_are_refused() {
    let mut train = synthetic(8, 6, true, true);
    assert!(train_face(&config(1), &[], &[], None).is_err());
    train[3].image = RgbImage::new(20, 20);
    assert!(train_face(&config(1), &train, &[], None).is_err());
}

#[test]
fn ferplus_files_come_through_the_precropped_path() {
    let dir = std::env::temp_dir().join(format!("facevox-ferplus-{}", std::process::id()));
    let split = dir.join("FER2013Train");
    std::fs::create_dir_all(&split).unwrap();
    for name in ["a.png", "b.png", "c.png"] {
        image::GrayImage::from_fn(48, 48, |x, y| image::Luma([((x + y) * 2) as u8]))
            .save(split.join(name))
            .unwrap();
    }
    std::fs::write(
        split.join("label.csv"),
        "a.png,\"(0, 0, 48, 48)\",0,9,1,0,0,0,0,0,0,0\n\
         b.png,\"(0, 0, 48, 48)\",4,0,0,0,1,0,0,4,1,0\n\
         c.png,\"(0, 0, 48, 48)\",0,0,0,0,0,0,0,0,2,8\n",
    )
    .unwrap();
    let (recs, missing): (Vec<FerPlusRecord>, usize) = load_ferplus(&split).unwrap();
    assert_eq!((recs.len(), missing), (3, 0));
    let crop = CropConfig::gray(32);
    // Majority only: a (happy) is kept; b has no majority; c has no emotion votes.
    let (ex, skipped) = ferplus_examples(&recs, &crop, false, None).unwrap();
    assert!(skipped.is_empty());
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].emotion, Some(Emotion::Happy));
    assert_eq!(ex[0].image.dimensions(), (32, 32));
    let votes = ex[0].emotion_votes.as_ref().unwrap();
    assert!((votes[1] - 0.9).abs() < 1e-6 && (votes[2] - 0.1).abs() < 1e-6);
    // With vote shares kept, b comes too (no hard label); c still has nothing to learn from.
    let (ex, _) = ferplus_examples(&recs, &crop, true, None).unwrap();
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[1].emotion, None);
    assert!(ex[1].emotion_votes.is_some());
    // Through a crop cache: the first run fills it, the second reads it; same examples.
    let cache = facevox::training::data::CropCache::new(
        dir.join("cache"),
        &crop,
        facevox::vision::FaceSource::Precropped,
    )
    .unwrap();
    for _ in 0..2 {
        let (cached, _) = ferplus_examples(&recs, &crop, true, Some(&cache)).unwrap();
        assert_eq!(cached.len(), ex.len());
        for (a, b) in cached.iter().zip(&ex) {
            assert_eq!(a.image, b.image);
            assert_eq!(a.emotion_votes, b.emotion_votes);
        }
    }
    assert!(cache.read(&split.join("a.png")).is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mirrored_view_is_averaged_in_when_asked() {
    let train = synthetic(64, 3, true, true);
    let net = train_face(&config(3), &train, &[], None).unwrap().net;
    let crop = config(1).crop;
    let test = synthetic(8, 4, true, true);
    let imgs: Vec<&RgbImage> = test.iter().map(|e| &e.image).collect();
    let mirrored: Vec<RgbImage> = test
        .iter()
        .map(|e| image::imageops::flip_horizontal(&e.image))
        .collect();
    let mirrored_refs: Vec<&RgbImage> = mirrored.iter().collect();
    let plain = predict_faces(&net, &crop, &imgs, 3).unwrap();
    assert_eq!(
        predict_faces_tta(&net, &crop, &imgs, 3, false).unwrap(),
        plain
    );
    let flipped = predict_faces(&net, &crop, &mirrored_refs, 3).unwrap();
    let both = predict_faces_tta(&net, &crop, &imgs, 3, true).unwrap();
    for ((b, p), f) in both.iter().zip(&plain).zip(&flipped) {
        for k in 0..8 {
            assert!((b.emotion[k] - (p.emotion[k] + f.emotion[k]) / 2.0).abs() < 1e-5);
        }
        assert!((b.gender[1] - (p.gender[1] + f.gender[1]) / 2.0).abs() < 1e-5);
        assert_eq!(b.embedding, p.embedding);
    }
    // The synthetic gender cue is a left/right gradient, so mirroring must move the answer.
    assert!(both != plain);
}

#[test]
fn age_balance_weighs_gender_examples_by_inverse_age_share() {
    use facevox::training::age_balance_weights;
    // Gender examples: three aged 20-29, one aged 0-2; one emotion-only example and one
    // gender example without an age group.
    let mut ex = synthetic(6, 7, false, true);
    for (e, age) in ex.iter_mut().zip(["20-29", "20-29", "20-29", "0-2"]) {
        e.age = Some(age.to_string());
    }
    ex[4].gender = None;
    ex[4].emotion = Some(Emotion::Happy);
    assert_eq!(age_balance_weights(&ex, 0.0), vec![1.0; 6]);
    // Full balancing: shares 3/4 and 1/4 give raw weights 4/3 and 4, the unaged example 1;
    // the five gender examples' mean (4 + 4 + 4 + 12 + 3) / 15 = 27/15 = 1.8 scales them.
    let w = age_balance_weights(&ex, 1.0);
    let want = [4.0 / 3.0, 4.0 / 3.0, 4.0 / 3.0, 4.0, 1.0, 1.0].map(|v| v / 1.8);
    for (i, (a, b)) in w.iter().zip(want).enumerate() {
        let b = if i == 4 { 1.0 } else { b };
        assert!((a - b).abs() < 1e-5, "example {i}: {a} vs {b}");
    }
    // Square root: 0-2 weighs sqrt(3) times a 20-29 example.
    let w = age_balance_weights(&ex, 0.5);
    assert!((w[3] / w[0] - 3f32.sqrt()).abs() < 1e-5);
    let mut bad = config(1);
    bad.age_balance = 1.5;
    assert!(train_face(&bad, &ex, &[], None).is_err());
}

#[test]
fn training_can_start_from_saved_weights() {
    let train = synthetic(128, 8, true, true);
    let scratch = train_face(&config(30), &train, &[], None).unwrap();
    let dir = std::env::temp_dir().join(format!("facevox-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("face.safetensors");
    scratch.varmap.save(&path).unwrap();
    // One more epoch from the saved weights starts where the first run ended, far below
    // the loss of a first epoch from random weights.
    let mut cfg = config(1);
    cfg.init_weights = Some(path.clone());
    let tuned = train_face(&cfg, &train, &[], None).unwrap();
    let fresh = scratch.history.first().unwrap().loss;
    let ended = scratch.history.last().unwrap().loss;
    let resumed = tuned.history.first().unwrap().loss;
    assert!(
        resumed < 0.5 * fresh,
        "resumed {resumed}, fresh {fresh}, ended {ended}"
    );
    // Weights of another architecture are refused with a clear error.
    let mut other = config(1);
    other.model.embedding = 24;
    other.init_weights = Some(path);
    let err = train_face(&other, &train, &[], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot start from"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A network on a fresh `VarMap`, randomly initialised with `seed`.
fn net(config: &FaceConfig, seed: u64) -> (VarMap, FaceNet) {
    let vm = VarMap::new();
    let net = FaceNet::new(
        config,
        VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
    )
    .unwrap();
    init_weights(&vm, seed).unwrap();
    (vm, net)
}

/// The largest absolute value in `t`.
fn max_abs(t: &Tensor) -> f32 {
    t.abs().unwrap().max_all().unwrap().to_scalar().unwrap()
}

#[test]
fn grey_weights_start_an_rgb_network_that_sees_the_luma() {
    let grey_cfg = config(1).model;
    let rgb_cfg = FaceConfig {
        in_channels: 3,
        ..grey_cfg.clone()
    };
    let dir = std::env::temp_dir().join(format!("facevox-grey2rgb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("grey.safetensors");
    let (grey_vm, grey) = net(&grey_cfg, 3);
    grey_vm.save(&path).unwrap();
    let (rgb_vm, rgb) = net(&rgb_cfg, 4);
    load_face_init_weights(&rgb_vm, &path).unwrap();

    // An RGB batch and its luma: the two networks must agree on them.
    let mut rng = SeededRng::new(9);
    let n = 2 * 3 * (SIZE * SIZE) as usize;
    let data: Vec<f32> = (0..n).map(|_| rng.uniform() as f32 * 2.0 - 1.0).collect();
    let x = Tensor::from_vec(data, (2, 3, SIZE as usize, SIZE as usize), &Device::Cpu).unwrap();
    let mut luma = Tensor::zeros(
        (2, 1, SIZE as usize, SIZE as usize),
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    for (c, &w) in LUMA_WEIGHTS.iter().enumerate() {
        let part = x.narrow(1, c, 1).unwrap().affine(w, 0.0).unwrap();
        luma = (luma + part).unwrap();
    }
    let a = grey.forward_t(&luma, false).unwrap();
    let b = rgb.forward_t(&x, false).unwrap();
    for (p, q) in [
        (&a.embedding, &b.embedding),
        (&a.gender_logits, &b.gender_logits),
        (&a.emotion_logits, &b.emotion_logits),
    ] {
        let d = max_abs(&(p - q).unwrap());
        let scale = max_abs(p);
        assert!(d <= 1e-4 * scale.max(1.0), "differ by {d} (scale {scale})");
    }
    // A fresh RGB network does not agree: the check above is not vacuous.
    let (_, fresh) = net(&rgb_cfg, 4);
    let c = fresh.forward_t(&x, false).unwrap();
    let d = max_abs(&(&a.gender_logits - &c.gender_logits).unwrap());
    assert!(d > 1e-3, "a random network matched the grey one ({d})");

    // RGB weights cannot start a grey network, nor a grey file a wider one.
    let rgb_path = dir.join("rgb.safetensors");
    rgb_vm.save(&rgb_path).unwrap();
    let (grey_vm2, _) = net(&grey_cfg, 5);
    let err = load_face_init_weights(&grey_vm2, &rgb_path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot start from") && err.contains("stage1.1.conv.weight"),
        "{err}"
    );
    let wide = FaceConfig {
        embedding: 24,
        ..rgb_cfg
    };
    let (wide_vm, _) = net(&wide, 6);
    assert!(load_face_init_weights(&wide_vm, &path).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shipped_face_configs_parse_and_validate() {
    for name in [
        "face.json",
        "face_finetune.json",
        "face_fixpool.json",
        "face_gender_member.json",
        "face_gender_rgb56.json",
        "face_gender_rgb56_from_grey.json",
    ] {
        let path = format!("{}/examples/configs/{name}", env!("CARGO_MANIFEST_DIR"));
        let cfg: FaceTrainingConfig =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        cfg.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
