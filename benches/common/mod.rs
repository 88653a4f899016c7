//! Helpers shared by the model benchmarks (voice_train, face_train).

#![allow(dead_code)] // each bench uses a subset

use std::process::Command;
use std::time::Instant;

use candle_core::{Device, Tensor};
use facevox::training::rng::SeededRng;

/// Median wall time in milliseconds of `reps` calls after `warmup` untimed ones.
pub fn median_ms(mut f: impl FnMut(), warmup: usize, reps: usize) -> f64 {
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
    median(&mut t)
}

/// Median of `v` (sorted in place).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A standard-normal tensor of `dims` from `rng`.
pub fn randn(dims: &[usize], rng: &mut SeededRng) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
}

/// One-hot rows for `classes` over `n` classes.
pub fn one_hot(classes: &[usize], n: usize) -> Tensor {
    let mut v = vec![0f32; classes.len() * n];
    for (i, &c) in classes.iter().enumerate() {
        v[i * n + c] = 1.0;
    }
    Tensor::from_vec(v, (classes.len(), n), &Device::Cpu).unwrap()
}

/// Runs the PyTorch peer `tools/<script>` with `args` and parses the JSON it prints; `None`
/// (with the reason printed) when Python or torch is missing.
pub fn python_peer(script: &str, args: &[String]) -> Option<serde_json::Value> {
    let root = env!("CARGO_MANIFEST_DIR");
    let path = format!("{root}/tools/{script}");
    match Command::new(peer_python(root))
        .arg(&path)
        .args(args)
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            Some(serde_json::from_str(text.trim()).expect("the peer prints JSON"))
        }
        Ok(o) => {
            println!(
                "PyTorch peer not run ({}); install it with tools/install_torch.sh",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("error")
            );
            None
        }
        Err(e) => {
            println!("PyTorch peer not run: {e}");
            None
        }
    }
}

/// The Python that runs the peers: `FACEVOX_PYTHON`, else the virtual environment that
/// `tools/install_torch.sh` makes (`target/torch-venv`), else `python3` on the path.
fn peer_python(root: &str) -> String {
    if let Ok(p) = std::env::var("FACEVOX_PYTHON") {
        return p;
    }
    let venv = format!("{root}/target/torch-venv/bin/python");
    if std::path::Path::new(&venv).exists() {
        venv
    } else {
        "python3".to_string()
    }
}

/// Thread count of this machine (candle and the peer both use all of them).
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Median times of a training step: the whole step, and its forward (with the loss),
/// backward, and clipping + optimiser parts.
pub struct StepTimes {
    pub step_ms: f64,
    pub forward_ms: f64,
    pub backward_ms: f64,
    pub optimiser_ms: f64,
}

/// Times one training step of a two-headed network: `heads(x)` gives (gender, emotion)
/// logits; the loss is `gender_weight`·CE(gender) + CE(emotion) on one-hot targets; then
/// backward, clipping at 5 and `opt.step`. The whole step is timed `reps` times after 3
/// warm-up steps, then the three parts separately.
pub fn time_training_step(
    heads: impl Fn() -> (Tensor, Tensor),
    targets: (&Tensor, &Tensor),
    gender_weight: f64,
    vars: &[candle_core::Var],
    opt: &mut facevox::training::Optimizer,
    reps: usize,
) -> StepTimes {
    use facevox::training::{clip_grad_norm, masked_soft_cross_entropy};
    let batch = targets.0.dim(0).unwrap();
    let w = Tensor::ones(batch, candle_core::DType::F32, &Device::Cpu).unwrap();
    let loss = || {
        let (g, e) = heads();
        ((masked_soft_cross_entropy(&g, targets.0, &w).unwrap() * gender_weight).unwrap()
            + masked_soft_cross_entropy(&e, targets.1, &w).unwrap())
        .unwrap()
    };
    let step = |opt: &mut facevox::training::Optimizer| -> (f64, f64, f64) {
        let s = Instant::now();
        let l = loss();
        let s2 = Instant::now();
        let mut grads = l.backward().unwrap();
        let s3 = Instant::now();
        clip_grad_norm(&mut grads, vars, 5.0).unwrap();
        opt.step(&grads).unwrap();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        (ms(s2 - s), ms(s3 - s2), ms(s3.elapsed()))
    };
    for _ in 0..3 {
        step(opt);
    }
    let (mut all, mut f, mut b, mut o) = (vec![], vec![], vec![], vec![]);
    for _ in 0..reps {
        let (x, y, z) = step(opt);
        all.push(x + y + z);
        f.push(x);
        b.push(y);
        o.push(z);
    }
    StepTimes {
        step_ms: median(&mut all),
        forward_ms: median(&mut f),
        backward_ms: median(&mut b),
        optimiser_ms: median(&mut o),
    }
}

/// AdamW as the benches (and the PyTorch peers) use it.
pub fn adamw(vars: Vec<candle_core::Var>, lr: f64) -> facevox::training::Optimizer {
    facevox::training::Optimizer::new(
        &facevox::training::OptimizerConfig::AdamW {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.05,
        },
        vars,
    )
    .unwrap()
}

/// Median inference latency in ms of `forward` on a single example and on a batch.
pub fn time_inference(
    forward: impl Fn(&Tensor),
    one: &Tensor,
    many: &Tensor,
    reps: usize,
) -> (f64, f64) {
    (
        median_ms(|| forward(one), 5, reps * 5),
        median_ms(|| forward(many), 2, reps),
    )
}
