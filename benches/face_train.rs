//! Face-branch speed against PyTorch on this CPU: training throughput (one AdamW step on a
//! batch of 64 crops, gradient clipping included) and inference latency per crop (batch 1 and
//! 32), the same architecture in both (the shipped `examples/configs/face.json`), timed
//! the same way (median after a warm-up); then one face through the shipped `models/face`
//! with its gender members and mirrored view, as the analyser runs it. The PyTorch side is `tools/torch_face_bench.py`
//! (install: `tools/install_torch.sh`); without torch only the facevox numbers are printed.
//!
//! ```sh
//! cargo bench --bench face_train
//! ```

mod common;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use common::{
    adamw, median_ms, one_hot, python_peer, randn, threads, time_inference, time_training_step,
};
use facevox::model::{init_weights, FaceConfig, FaceNet, FacePredictor};
use facevox::training::rng::SeededRng;
use facevox::training::FaceTrainingConfig;
use facevox::vision::{FaceCrop, FaceCropper, RgbImage};
use std::path::Path;

// The allocator the example binaries use (see examples/train.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 64;
const INFER_BATCH: usize = 32;
const REPS: usize = 10;

fn main() {
    let cfg: FaceTrainingConfig = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/configs/face.json"
        ))
        .expect("examples/configs/face.json"),
    )
    .expect("a FaceTrainingConfig");
    let (m, s) = (&cfg.model, cfg.crop.size as usize);
    let varmap = VarMap::new();
    let net = FaceNet::new(
        m,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .unwrap();
    init_weights(&varmap, 0).unwrap();
    let vars = varmap.all_vars();
    let mut opt = adamw(vars.clone(), 2e-3);
    let mut rng = SeededRng::new(0);
    let x = randn(&[BATCH, m.in_channels, s, s], &mut rng);
    let g = one_hot(&(0..BATCH).map(|i| i % 2).collect::<Vec<_>>(), 2);
    let e = one_hot(&(0..BATCH).map(|i| i % 8).collect::<Vec<_>>(), 8);
    let t = time_training_step(
        || {
            let out = net.forward_t(&x, true).unwrap();
            (out.gender_logits, out.emotion_logits)
        },
        (&g, &e),
        1.0,
        &vars,
        &mut opt,
        REPS,
    );
    let one = randn(&[1, m.in_channels, s, s], &mut rng);
    let many = randn(&[INFER_BATCH, m.in_channels, s, s], &mut rng);
    let (infer_1, infer_b) = time_inference(
        |x| {
            net.forward_t(x, false).unwrap();
        },
        &one,
        &many,
        REPS,
    );
    let threads = threads();
    println!(
        "machine: {threads} cores; FaceNet {:?} x{} convs, {}-d embedding, {s}x{s}x{}, \
         training batch {BATCH}",
        m.stages, m.convs_per_stage, m.embedding, m.in_channels
    );
    println!(
        "facevox (candle) training step: {:.1} ms = {:.0} crops/s",
        t.step_ms,
        BATCH as f64 * 1e3 / t.step_ms
    );
    println!(
        "  of which forward + loss {:.1} ms, backward {:.1} ms, clipping + AdamW {:.1} ms",
        t.forward_ms, t.backward_ms, t.optimiser_ms
    );
    println!(
        "facevox inference: batch 1 {infer_1:.2} ms; batch {INFER_BATCH} {infer_b:.1} ms \
         ({:.2} ms per crop)",
        infer_b / INFER_BATCH as f64
    );
    let Some(v) = python_peer("torch_face_bench.py", &peer_args(m, s, threads)) else {
        shipped_model(None);
        return;
    };
    let t_train = v["train_step_ms"].as_f64().unwrap();
    let t_1 = v["infer_1_ms"].as_f64().unwrap();
    let t_b = v["infer_batch_ms"].as_f64().unwrap();
    println!(
        "PyTorch {} ({} threads) training step: {t_train:.1} ms = {:.0} crops/s",
        v["torch"],
        v["threads"],
        BATCH as f64 * 1e3 / t_train
    );
    println!("PyTorch inference: batch 1 {t_1:.2} ms; batch {INFER_BATCH} {t_b:.1} ms");
    println!(
        "ratio facevox/PyTorch speed: training {:.2}x, inference batch 1 {:.2}x, batch {INFER_BATCH} {:.2}x",
        t_train / t.step_ms,
        t_1 / infer_1,
        t_b / infer_b
    );
    shipped_model(Some(threads));
}

/// The arguments of `tools/torch_face_bench.py` for the architecture `m` at `size` pixels.
fn peer_args(m: &FaceConfig, size: usize, threads: usize) -> Vec<String> {
    let stages: Vec<String> = m.stages.iter().map(|c| c.to_string()).collect();
    [
        ("--threads", threads.to_string()),
        ("--batch", BATCH.to_string()),
        ("--infer-batch", INFER_BATCH.to_string()),
        ("--size", size.to_string()),
        ("--in-channels", m.in_channels.to_string()),
        ("--stages", stages.join(",")),
        ("--convs", m.convs_per_stage.to_string()),
        ("--embedding", m.embedding.to_string()),
        ("--dropout", m.dropout.to_string()),
    ]
    .into_iter()
    .flat_map(|(k, v)| [k.to_string(), v])
    .collect()
}

/// One face through the shipped model as the analyser runs it (after cropping): the main
/// network and each gender member on its own crop of the face, each scored as it is and, when
/// the file says so, mirrored. The PyTorch side (when `threads` is given and torch is
/// installed) is the same networks' batch-1 inference, once per view scored.
fn shipped_model(threads: Option<usize>) {
    let stem = concat!(env!("CARGO_MANIFEST_DIR"), "/models/face");
    let (file, model) = FacePredictor::load(Path::new(stem)).unwrap();
    let picture = RgbImage::from_fn(160, 160, |x, y| {
        image::Rgb([
            (x * 3 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let views = file.crop_views();
    let crops = FaceCropper::precropped(views[0].clone())
        .crop_views(&picture, &views[1..])
        .unwrap()
        .unwrap();
    let refs: Vec<Vec<&FaceCrop>> = crops.iter().map(|c| vec![c]).collect();
    let ms = median_ms(
        || {
            model.predict_crops(&refs, 1).unwrap();
        },
        5,
        REPS * 5,
    );
    let passes = if file.tta.mirror { 2.0 } else { 1.0 };
    println!(
        "shipped face model (main + {} gender member(s), mirrored view {}): {ms:.2} ms per face",
        file.gender_members().count(),
        if file.tta.mirror { "on" } else { "off" }
    );
    let Some(threads) = threads else {
        return;
    };
    let mut peer = 0.0;
    for i in 0..file.members.len() {
        let (m, c) = (file.member_model(i), file.member_crop(i));
        let Some(v) = python_peer(
            "torch_face_bench.py",
            &peer_args(m, c.size as usize, threads),
        ) else {
            return;
        };
        peer += passes * v["infer_1_ms"].as_f64().unwrap();
    }
    println!(
        "PyTorch, the same networks at batch 1 ({passes} pass(es) each): {peer:.2} ms per face; \
         ratio facevox/PyTorch speed {:.2}x",
        peer / ms
    );
}
