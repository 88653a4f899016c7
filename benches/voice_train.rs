//! Voice-branch speed against PyTorch on this CPU: training throughput (one AdamW step on a
//! batch of 32 two-second log-mels, gradient clipping included) and inference latency (one
//! 3 s clip; a batch of 32), the same architecture in both, timed the same way (median after a
//! warm-up). The PyTorch side is `tools/torch_voice_bench.py` (install: `tools/install_torch.sh`);
//! without torch only the facevox numbers are printed.
//!
//! ```sh
//! cargo bench --bench voice_train
//! ```

use std::process::Command;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use facevox::model::{init_weights, VoiceConfig, VoiceNet};
use facevox::rng::SeededRng;
use facevox::train::{clip_grad_norm, masked_soft_cross_entropy, Optimizer, OptimizerConfig};

// The allocator the example binaries use (see examples/train.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 32;
const TRAIN_FRAMES: usize = 200;
const INFER_FRAMES: usize = 300;
const REPS: usize = 10;

fn median_ms(mut f: impl FnMut(), warmup: usize, reps: usize) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn randn(shape: (usize, usize, usize), rng: &mut SeededRng) -> Tensor {
    let n = shape.0 * shape.1 * shape.2;
    let v: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn one_hot(classes: &[usize], n: usize) -> Tensor {
    let mut v = vec![0f32; classes.len() * n];
    for (i, &c) in classes.iter().enumerate() {
        v[i * n + c] = 1.0;
    }
    Tensor::from_vec(v, (classes.len(), n), &Device::Cpu).unwrap()
}

fn main() {
    let dev = Device::Cpu;
    let cfg = VoiceConfig::default();
    let varmap = VarMap::new();
    let net = VoiceNet::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev)).unwrap();
    init_weights(&varmap, 0).unwrap();
    let vars = varmap.all_vars();
    let mut opt = Optimizer::new(
        &OptimizerConfig::AdamW {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.05,
        },
        vars.clone(),
    )
    .unwrap();
    let mut rng = SeededRng::new(0);
    let x = randn((BATCH, cfg.n_mels, TRAIN_FRAMES), &mut rng);
    let g = one_hot(&(0..BATCH).map(|i| i % 2).collect::<Vec<_>>(), 2);
    let e = one_hot(&(0..BATCH).map(|i| i % 8).collect::<Vec<_>>(), 8);
    let w = Tensor::ones(BATCH, DType::F32, &dev).unwrap();
    let train_ms = median_ms(
        || {
            let out = net.forward_t(&x, true).unwrap();
            let loss = ((masked_soft_cross_entropy(&out.gender_logits, &g, &w).unwrap() * 0.5)
                .unwrap()
                + masked_soft_cross_entropy(&out.emotion_logits, &e, &w).unwrap())
            .unwrap();
            let mut grads = loss.backward().unwrap();
            clip_grad_norm(&mut grads, &vars, 5.0).unwrap();
            opt.step(&grads).unwrap();
        },
        3,
        REPS,
    );
    // Where a training step's time goes: forward (with the loss), backward, clipping + AdamW.
    let (mut t_fwd, mut t_bwd, mut t_opt) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPS {
        let s = Instant::now();
        let out = net.forward_t(&x, true).unwrap();
        let loss = ((masked_soft_cross_entropy(&out.gender_logits, &g, &w).unwrap() * 0.5)
            .unwrap()
            + masked_soft_cross_entropy(&out.emotion_logits, &e, &w).unwrap())
        .unwrap();
        let s2 = Instant::now();
        let mut grads = loss.backward().unwrap();
        let s3 = Instant::now();
        clip_grad_norm(&mut grads, &vars, 5.0).unwrap();
        opt.step(&grads).unwrap();
        t_opt.push(s3.elapsed().as_secs_f64() * 1e3);
        t_bwd.push((s3 - s2).as_secs_f64() * 1e3);
        t_fwd.push((s2 - s).as_secs_f64() * 1e3);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (f, b, o) = (med(&mut t_fwd), med(&mut t_bwd), med(&mut t_opt));
    let one = randn((1, cfg.n_mels, INFER_FRAMES), &mut rng);
    let many = randn((BATCH, cfg.n_mels, INFER_FRAMES), &mut rng);
    let infer_1 = median_ms(
        || {
            net.forward_t(&one, false).unwrap();
        },
        5,
        REPS * 5,
    );
    let infer_b = median_ms(
        || {
            net.forward_t(&many, false).unwrap();
        },
        2,
        REPS,
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {threads} cores; VoiceNet default config, batch {BATCH}");
    println!(
        "facevox (candle) training step: {train_ms:.1} ms = {:.0} clips/s ({TRAIN_FRAMES} frames)",
        BATCH as f64 * 1e3 / train_ms
    );
    println!("  of which forward + loss {f:.1} ms, backward {b:.1} ms, clipping + AdamW {o:.1} ms");
    println!("facevox inference, one 3 s clip: {infer_1:.2} ms; batch of {BATCH}: {infer_b:.1} ms");

    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tools/torch_voice_bench.py"
        ))
        .arg("--threads")
        .arg(threads.to_string())
        .output();
    let json = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).to_string(),
        Ok(o) => {
            println!(
                "PyTorch peer not run ({}); install it with tools/install_torch.sh",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("error")
            );
            return;
        }
        Err(e) => {
            println!("PyTorch peer not run: {e}");
            return;
        }
    };
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("torch bench prints JSON");
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
