//! Voice-branch speed against PyTorch on this CPU: training throughput (one AdamW step on a
//! batch of 32 two-second log-mels, gradient clipping included) and inference latency (one
//! 3 s clip; a batch of 32), the same architecture in both, timed the same way (median after a
//! warm-up). The PyTorch side is `tools/torch_voice_bench.py` (install: `tools/install_torch.sh`);
//! without torch only the facevox numbers are printed.
//!
//! ```sh
//! cargo bench --bench voice_train
//! ```

mod common;

use common::{adamw, one_hot, python_peer, randn, threads, time_inference, time_training_step};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use facevox::model::{init_weights, VoiceConfig, VoiceNet};
use facevox::training::rng::SeededRng;

// The allocator the example binaries use (see examples/train.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 32;
const TRAIN_FRAMES: usize = 200;
const INFER_FRAMES: usize = 300;
const REPS: usize = 10;

fn main() {
    let dev = Device::Cpu;
    // The shipped model's architecture (models/voice.json).
    let shipped: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/voice.json"))
            .expect("models/voice.json"),
    )
    .expect("valid JSON");
    let cfg: VoiceConfig = serde_json::from_value(shipped["model"].clone())
        .expect("a VoiceConfig in models/voice.json");
    let varmap = VarMap::new();
    let net = VoiceNet::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev)).unwrap();
    init_weights(&varmap, 0).unwrap();
    let vars = varmap.all_vars();
    let mut opt = adamw(vars.clone(), 1e-3);
    let mut rng = SeededRng::new(0);
    let x = randn(&[BATCH, cfg.n_mels, TRAIN_FRAMES], &mut rng);
    let g = one_hot(&(0..BATCH).map(|i| i % 2).collect::<Vec<_>>(), 2);
    let e = one_hot(&(0..BATCH).map(|i| i % 8).collect::<Vec<_>>(), 8);
    let t = time_training_step(
        || {
            let out = net.forward_t(&x, true).unwrap();
            (out.gender_logits, out.emotion_logits)
        },
        (&g, &e),
        0.5,
        &vars,
        &mut opt,
        REPS,
    );
    let (train_ms, f, b, o) = (t.step_ms, t.forward_ms, t.backward_ms, t.optimiser_ms);
    let one = randn(&[1, cfg.n_mels, INFER_FRAMES], &mut rng);
    let many = randn(&[BATCH, cfg.n_mels, INFER_FRAMES], &mut rng);
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
        "machine: {threads} cores; VoiceNet as shipped ({} mel bands), batch {BATCH}",
        cfg.n_mels
    );
    println!(
        "facevox (candle) training step: {train_ms:.1} ms = {:.0} clips/s ({TRAIN_FRAMES} frames)",
        BATCH as f64 * 1e3 / train_ms
    );
    println!("  of which forward + loss {f:.1} ms, backward {b:.1} ms, clipping + AdamW {o:.1} ms");
    println!("facevox inference, one 3 s clip: {infer_1:.2} ms; batch of {BATCH}: {infer_b:.1} ms");

    let Some(v) = python_peer(
        "torch_voice_bench.py",
        &[
            "--threads".into(),
            threads.to_string(),
            "--n-mels".into(),
            cfg.n_mels.to_string(),
        ],
    ) else {
        return;
    };
    let t_train = v["train_step_ms"].as_f64().unwrap();
    let t_1 = v["infer_1_ms"].as_f64().unwrap();
    let t_b = v["infer_batch_ms"].as_f64().unwrap();
    println!(
        "PyTorch {} ({} threads) training step: {t_train:.1} ms = {:.0} clips/s",
        v["torch"],
        v["threads"],
        BATCH as f64 * 1e3 / t_train
    );
    println!("PyTorch inference, one 3 s clip: {t_1:.2} ms; batch of {BATCH}: {t_b:.1} ms");
    println!(
        "ratio facevox/PyTorch speed: training {:.2}x, inference one clip {:.2}x, batch {:.2}x",
        t_train / train_ms,
        t_1 / infer_1,
        t_b / infer_b
    );
}
