//! Fine-tunes the upper residual blocks of dlib's ResNet face network (`model::DlibResNet`,
//! weights from `tools/convert_dlib_resnet.py convert`) for perceived gender on FairFace, with
//! the lower blocks frozen and their output computed once: the cheap half of "fine-tuning the
//! backbone's intermediate features" that a 2-core machine can run (model card, "Its upper
//! levels, fine-tuned"). Scores the selection slice after every epoch (mirrored view, alone
//! and averaged with the shipped model's probabilities); never reads the test part.
//!
//! ```text
//! cargo run --release --example dlib_finetune -- --weights runs/dlib_resnet.safetensors \
//!     --fairface ../shared/data/fairface96/fairface_label_train.csv \
//!     --manifests runs/ff_manifests --shipped runs/probe/shipped_sel.jsonl \
//!     --from-block 10 --epochs 4 --out runs/dlib_ft
//! ```
//!
//! `--manifests` is `train_face --write-manifests`' folder (its selection and test manifests
//! say which pictures are held out; every other row of the CSV trains), `--shipped` the
//! shipped model's `evaluate --predictions` on the selection manifest. Each picture is given
//! whole as the network's chip (FairFace's pictures are dlib chips), resized to 150 px, and
//! also mirrored (one of the two, drawn at random, per training step). Writes `log.jsonl`
//! (one line per epoch) and `selection_probs.json` (the last epoch's per-picture
//! probabilities).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use facevox::model::DlibResNet;
use facevox::training::{accuracy_by_group, group_gap};
use facevox::vision::{load_image, RgbImage};

struct Row {
    file: String,
    female: bool,
    race: String,
    age: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: dlib_finetune --weights W --fairface CSV --manifests DIR --shipped JSONL \
         [--from-block 10] [--epochs 4] [--lr 1e-4] [--head-lr 1e-3] [--batch 64] [--seed 1] \
         [--max-train N] --out DIR"
    );
    std::process::exit(2)
}

/// A small seeded generator (SplitMix64; the crate's own is private), so the draws repeat.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Lower-part features of each row's picture and its mirror image: `(rows, 2, C*H*W)`.
fn features(
    net: &DlibResNet,
    root: &std::path::Path,
    rows: &[Row],
    from: usize,
) -> facevox::Result<(Vec<f32>, [usize; 3])> {
    let mut out = Vec::new();
    let mut shape = [0usize; 3];
    let t0 = Instant::now();
    for (i, chunk) in rows.chunks(32).enumerate() {
        let mut chips: Vec<RgbImage> = Vec::with_capacity(2 * chunk.len());
        for r in chunk {
            let img = load_image(root.join(&r.file))?;
            chips.push(image::imageops::flip_horizontal(&img));
            chips.push(img);
        }
        // Pairs (mirror, original) → store original first.
        let h = net.lower(&net.input(&chips)?, from)?;
        let (_, c, hh, ww) = h.dims4()?;
        shape = [c, hh, ww];
        let v: Vec<f32> = h.flatten_all()?.to_vec1()?;
        let per = c * hh * ww;
        for pair in v.chunks(2 * per) {
            out.extend_from_slice(&pair[per..]);
            out.extend_from_slice(&pair[..per]);
        }
        if i % 50 == 0 {
            eprintln!(
                "features: {}/{} ({:.0} s)",
                (i + 1) * 32,
                rows.len(),
                t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok((out, shape))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut a: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(k) = args.next() {
        let Some(name) = k.strip_prefix("--") else {
            usage()
        };
        a.insert(name.to_string(), args.next().unwrap_or_else(|| usage()));
    }
    let get = |k: &str| a.get(k).cloned().unwrap_or_else(|| usage());
    let num = |k: &str, d: f64| {
        a.get(k)
            .map(|v| v.parse::<f64>().unwrap_or_else(|_| usage()))
            .unwrap_or(d)
    };
    let (from, epochs, lr, head_lr) = (
        num("from-block", 10.0) as usize,
        num("epochs", 4.0) as usize,
        num("lr", 1e-4),
        num("head-lr", 1e-3),
    );
    let (batch, seed) = (num("batch", 64.0) as usize, num("seed", 1.0) as u64);
    let out = PathBuf::from(get("out"));
    std::fs::create_dir_all(&out)?;
    let csv_path = PathBuf::from(get("fairface"));
    let root = csv_path.parent().unwrap().to_path_buf();
    let manifests = PathBuf::from(get("manifests"));

    // Which pictures are held out, and the selection rows.
    let rel = |face: &str| face.split("fairface96/").nth(1).unwrap_or(face).to_string();
    let mut held = HashSet::new();
    let mut selection_files = Vec::new();
    for m in [
        "fairface_selection_by_race.csv",
        "fairface_test_by_race.csv",
    ] {
        for line in std::fs::read_to_string(manifests.join(m))?.lines().skip(1) {
            let f = rel(line.split(',').next().unwrap_or(""));
            if m.contains("selection") {
                selection_files.push(f.clone());
            }
            held.insert(f);
        }
    }
    let mut by_file = HashMap::new();
    let mut train = Vec::new();
    for line in std::fs::read_to_string(&csv_path)?.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let row = Row {
            file: c[0].to_string(),
            age: c[1].to_string(),
            female: c[2].eq_ignore_ascii_case("female"),
            race: c[3].to_string(),
        };
        if held.contains(&row.file) {
            by_file.insert(row.file.clone(), row);
        } else {
            train.push(row);
        }
    }
    let mut rng = Rng(seed);
    if let Some(n) = a.get("max-train") {
        train.truncate(n.parse()?);
    }
    let selection: Vec<Row> = selection_files
        .iter()
        .map(|f| by_file.remove(f).expect("selection row in the CSV"))
        .collect();
    let mut shipped = HashMap::new();
    for line in std::fs::read_to_string(get("shipped"))?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if let (Some(i), Some(p)) = (v["input"].as_str(), v["gender"]["p_female"].as_f64()) {
            shipped.insert(rel(i), p);
        }
    }
    eprintln!(
        "{} training pictures, {} selection ({} found by the shipped analyser)",
        train.len(),
        selection.len(),
        selection
            .iter()
            .filter(|r| shipped.contains_key(&r.file))
            .count()
    );

    let net = DlibResNet::from_path(get("weights"))?;
    let (sel_x, shape) = features(&net, &root, &selection, from)?;
    let (tr_x, _) = features(&net, &root, &train, from)?;
    let per: usize = shape.iter().product();
    let upper = net.upper_trainable(from)?;
    let width = upper
        .forward(&Tensor::zeros(
            (1, shape[0], shape[1], shape[2]),
            DType::F32,
            &Device::Cpu,
        )?)?
        .dim(1)?;
    let head_w = Var::zeros((2, width), DType::F32, &Device::Cpu)?;
    let head_b = Var::zeros(2, DType::F32, &Device::Cpu)?;
    let mut opt_body = AdamW::new(
        upper.vars().to_vec(),
        ParamsAdamW {
            lr,
            weight_decay: 0.01,
            ..Default::default()
        },
    )?;
    let mut opt_head = AdamW::new(
        vec![head_w.clone(), head_b.clone()],
        ParamsAdamW {
            lr: head_lr,
            weight_decay: 0.01,
            ..Default::default()
        },
    )?;
    let logits = |x: &Tensor| -> facevox::Result<Tensor> {
        Ok(upper
            .forward(x)?
            .broadcast_matmul(&head_w.as_tensor().t()?)?
            .broadcast_add(head_b.as_tensor())?)
    };
    let steps = train.len() / batch;
    let total = steps * epochs;
    let mut log = String::new();
    let mut step = 0usize;
    for epoch in 1..=epochs {
        let t0 = Instant::now();
        let mut loss_sum = 0f64;
        for _ in 0..steps {
            // cosine decay from the base rates to 1% of them
            let f = 0.01
                + 0.99 * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total as f64).cos());
            opt_body.set_learning_rate(lr * f);
            opt_head.set_learning_rate(head_lr * f);
            let mut xs = Vec::with_capacity(batch * per);
            let mut ys = Vec::with_capacity(batch);
            for _ in 0..batch {
                let i = rng.below(train.len());
                let view = rng.below(2);
                let o = (2 * i + view) * per;
                xs.extend_from_slice(&tr_x[o..o + per]);
                ys.push(train[i].female as u32);
            }
            let x = Tensor::from_vec(xs, (batch, shape[0], shape[1], shape[2]), &Device::Cpu)?;
            let y = Tensor::from_vec(ys, batch, &Device::Cpu)?;
            let loss = candle_nn::loss::cross_entropy(&logits(&x)?, &y)?;
            let grads = loss.backward()?;
            opt_body.step(&grads)?;
            opt_head.step(&grads)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            step += 1;
        }
        // Selection, mirrored view: the mean of the two softmaxes.
        let mut p_female = Vec::with_capacity(selection.len());
        for chunk in (0..selection.len()).collect::<Vec<_>>().chunks(128) {
            let mut xs = Vec::with_capacity(2 * chunk.len() * per);
            for &i in chunk {
                xs.extend_from_slice(&sel_x[2 * i * per..(2 * i + 2) * per]);
            }
            let x = Tensor::from_vec(
                xs,
                (2 * chunk.len(), shape[0], shape[1], shape[2]),
                &Device::Cpu,
            )?;
            let p = candle_nn::ops::softmax(&logits(&x)?, D::Minus1)?;
            let p: Vec<Vec<f32>> = p.to_vec2()?;
            for k in 0..chunk.len() {
                p_female.push((p[2 * k][1] + p[2 * k + 1][1]) as f64 / 2.0);
            }
        }
        // The faces the shipped analyser finds, scored by the crate's group tables.
        let score = |p: &dyn Fn(usize) -> f64| {
            let found: Vec<&Row> = selection
                .iter()
                .filter(|r| shipped.contains_key(&r.file))
                .collect();
            let pairs: Vec<(usize, usize)> = selection
                .iter()
                .enumerate()
                .filter(|(_, r)| shipped.contains_key(&r.file))
                .map(|(i, r)| (r.female as usize, (p(i) > 0.5) as usize))
                .collect();
            let table = |key: &dyn Fn(&Row) -> String| {
                accuracy_by_group(&pairs, found.iter().map(|r| key(r)))
            };
            let all = table(&|_| "all".into());
            let genders = table(&|r| if r.female { "female" } else { "male" }.into());
            let ages = table(&|r| {
                if r.age == "0-2" || r.age == "3-9" {
                    "under_10"
                } else {
                    "10_and_over"
                }
                .into()
            });
            let races = table(&|r| r.race.clone());
            serde_json::json!({"n": pairs.len(), "accuracy": all["all"]["accuracy"],
                "recall_male": genders["male"]["accuracy"],
                "recall_female": genders["female"]["accuracy"],
                "race_gap": group_gap(&races), "under_10": ages["under_10"]["accuracy"]})
        };
        let alone = score(&|i| p_female[i]);
        let with = score(&|i| {
            (p_female[i] + shipped.get(&selection[i].file).copied().unwrap_or(0.5)) / 2.0
        });
        let rec = serde_json::json!({"epoch": epoch, "loss": loss_sum / steps as f64,
            "secs": t0.elapsed().as_secs_f64(), "selection_alone": alone,
            "selection_mean_with_shipped": with});
        println!("{rec}");
        log.push_str(&format!("{rec}\n"));
        std::fs::write(out.join("log.jsonl"), &log)?;
        let probs: HashMap<&str, f64> = selection
            .iter()
            .zip(&p_female)
            .map(|(r, p)| (r.file.as_str(), *p))
            .collect();
        std::fs::write(
            out.join("selection_probs.json"),
            serde_json::to_string(&probs)?,
        )?;
    }
    Ok(())
}
