//! The port of Resemblyzer's speaker encoder (`facevox::model::SpeakerEncoder`) against the
//! original PyTorch code (`tools/convert_resemblyzer.py --reference` wrote the fixture):
//!
//! - always: the shipped weights on a synthetic 3 s signal both sides build from a formula,
//!   every partial's embedding and the utterance's (cosine at least 0.9999), and typed errors;
//! - always: the recurrence against a plain per-gate LSTM written here, on small random weights;
//! - with `FACEVOX_DATA`: 20 real accent-archive recordings (16 kHz MP3), decoded by facevox,
//!   against the original code's embeddings of librosa's decoding: cosine at least 0.999.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use facevox::model::SpeakerEncoder;
use facevox::Error;
use serde::Deserialize;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[derive(Deserialize)]
struct Synthetic {
    embedding: Vec<f32>,
    partials: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct Clip {
    file: String,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct Reference {
    synthetic: Synthetic,
    clips: Vec<Clip>,
}

fn reference() -> Reference {
    let path = root().join("tests/fixtures/speaker_ge2e/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn encoder() -> SpeakerEncoder {
    SpeakerEncoder::load(root().join("models/speaker_ge2e.safetensors")).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn synthetic() -> Vec<f32> {
    use std::f64::consts::PI;
    (0..3 * 16_000)
        .map(|i| {
            let t = i as f64 / 16_000.0;
            (0.1 * (2.0 * PI * 150.0 * t).sin()
                + 0.05 * (2.0 * PI * 450.0 * t).sin() * (1.0 + 0.5 * (2.0 * PI * 3.0 * t).sin())
                + 0.02 * (2.0 * PI * 2500.0 * t).sin()) as f32
        })
        .collect()
}

#[test]
fn shipped_weights_match_pytorch_on_a_synthetic_signal() {
    let reference = reference();
    let enc = encoder();
    assert_eq!(enc.dim(), 256);
    let (embedding, partials) = enc.embed_with_partials(&synthetic()).unwrap();
    assert_eq!(partials.len(), reference.synthetic.partials.len());
    for (i, (ours, theirs)) in partials
        .iter()
        .zip(&reference.synthetic.partials)
        .enumerate()
    {
        let c = cosine(ours, theirs);
        assert!(c >= 0.9999, "partial {i}: cosine {c}");
    }
    let c = cosine(&embedding, &reference.synthetic.embedding);
    assert!(c >= 0.9999, "utterance: cosine {c}");
    let norm: f32 = embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn bad_input_and_bad_weights_give_typed_errors() {
    let enc = encoder();
    assert!(matches!(enc.embed(&[]), Err(Error::Empty(_))));
    assert!(matches!(
        enc.embed(&[0.1; 100]),
        Err(Error::TooShort { .. })
    ));
    assert!(matches!(enc.embed(&[0.0; 16_000]), Err(Error::Silent)));
    let mut nan = synthetic();
    nan[1000] = f32::NAN;
    assert!(matches!(enc.embed(&nan), Err(Error::NonFinite)));
    assert!(matches!(
        SpeakerEncoder::from_bytes(b"not safetensors"),
        Err(Error::InvalidModelFile(_))
    ));
    // Weights of the wrong shape are refused when loading, not at the first call.
    let w = Tensor::zeros((8, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    let bytes = safetensors_bytes(&[("lstm.weight_ih_l0", w)]);
    assert!(matches!(
        SpeakerEncoder::from_bytes(&bytes),
        Err(Error::InvalidModelFile(_))
    ));
}

fn safetensors_bytes(tensors: &[(&str, Tensor)]) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!(
        "facevox-speaker-{}-{}.safetensors",
        std::process::id(),
        tensors.len()
    ));
    let map: std::collections::HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    candle_core::safetensors::save(&map, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    bytes
}

/// A small LSTM with seeded weights: the port against a plain per-gate implementation.
#[test]
fn recurrence_matches_a_plain_lstm() {
    let (hidden, layers, n_in) = (5usize, 2usize, 40usize);
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) as f32
    };
    let mut named = Vec::new();
    let mut raw = Vec::new();
    for k in 0..layers {
        let inp = if k == 0 { n_in } else { hidden };
        let w_ih: Vec<f32> = (0..4 * hidden * inp).map(|_| next()).collect();
        let w_hh: Vec<f32> = (0..4 * hidden * hidden).map(|_| next()).collect();
        let b_ih: Vec<f32> = (0..4 * hidden).map(|_| next()).collect();
        let b_hh: Vec<f32> = (0..4 * hidden).map(|_| next()).collect();
        let t = |v: &Vec<f32>, shape: &[usize]| {
            Tensor::from_vec(v.clone(), shape, &Device::Cpu).unwrap()
        };
        named.push((format!("lstm.weight_ih_l{k}"), t(&w_ih, &[4 * hidden, inp])));
        named.push((
            format!("lstm.weight_hh_l{k}"),
            t(&w_hh, &[4 * hidden, hidden]),
        ));
        named.push((format!("lstm.bias_ih_l{k}"), t(&b_ih, &[4 * hidden])));
        named.push((format!("lstm.bias_hh_l{k}"), t(&b_hh, &[4 * hidden])));
        raw.push((w_ih, w_hh, b_ih, b_hh, inp));
    }
    let lin_w: Vec<f32> = (0..3 * hidden).map(|_| next()).collect();
    let lin_b: Vec<f32> = (0..3).map(|_| next()).collect();
    named.push((
        "linear.weight".into(),
        Tensor::from_vec(lin_w.clone(), (3, hidden), &Device::Cpu).unwrap(),
    ));
    named.push((
        "linear.bias".into(),
        Tensor::from_vec(lin_b.clone(), 3, &Device::Cpu).unwrap(),
    ));
    let refs: Vec<(&str, Tensor)> = named.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let enc = SpeakerEncoder::from_bytes(&safetensors_bytes(&refs)).unwrap();
    assert_eq!(enc.dim(), 3);

    let (b, steps) = (2usize, 7usize);
    let x: Vec<f32> = (0..b * steps * n_in).map(|_| next().abs()).collect();
    let ours: Vec<Vec<f32>> = enc
        .embed_partials(&Tensor::from_vec(x.clone(), (b, steps, n_in), &Device::Cpu).unwrap())
        .unwrap()
        .to_vec2()
        .unwrap();

    let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
    for bi in 0..b {
        let mut seq: Vec<Vec<f32>> = (0..steps)
            .map(|t| x[(bi * steps + t) * n_in..(bi * steps + t + 1) * n_in].to_vec())
            .collect();
        for (w_ih, w_hh, b_ih, b_hh, inp) in &raw {
            let (mut h, mut c) = (vec![0f32; hidden], vec![0f32; hidden]);
            let mut out = Vec::new();
            for xt in &seq {
                let gate = |g: usize, j: usize, h: &[f32]| -> f32 {
                    let r = g * hidden + j;
                    let mut s = b_ih[r] + b_hh[r];
                    for q in 0..*inp {
                        s += w_ih[r * inp + q] * xt[q];
                    }
                    for q in 0..hidden {
                        s += w_hh[r * hidden + q] * h[q];
                    }
                    s
                };
                let mut nh = vec![0f32; hidden];
                for j in 0..hidden {
                    let (i, f, g, o) = (
                        gate(0, j, &h),
                        gate(1, j, &h),
                        gate(2, j, &h),
                        gate(3, j, &h),
                    );
                    c[j] = sig(f) * c[j] + sig(i) * g.tanh();
                    nh[j] = sig(o) * c[j].tanh();
                }
                h = nh;
                out.push(h.clone());
            }
            seq = out;
        }
        let last = seq.last().unwrap();
        let mut e: Vec<f32> = (0..3)
            .map(|o| {
                (lin_b[o]
                    + (0..hidden)
                        .map(|q| lin_w[o * hidden + q] * last[q])
                        .sum::<f32>())
                .max(0.0)
            })
            .collect();
        let n = e.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        e.iter_mut().for_each(|v| *v /= n);
        for (a, r) in ours[bi].iter().zip(&e) {
            assert!((a - r).abs() < 1e-5, "row {bi}: {:?} vs {:?}", ours[bi], e);
        }
    }
}

#[test]
fn matches_pytorch_on_20_real_recordings() {
    let Some(data) = std::env::var_os("FACEVOX_DATA") else {
        eprintln!(
            "skipped: set FACEVOX_DATA to compare the speaker encoder with PyTorch on 20 real recordings"
        );
        return;
    };
    let dir = PathBuf::from(data).join("speech_accent");
    let enc = encoder();
    let reference = reference();
    assert_eq!(reference.clips.len(), 20);
    let mut worst = 1.0f64;
    for clip in &reference.clips {
        let audio = facevox::decode_file(dir.join(&clip.file), &Default::default()).unwrap();
        assert_eq!(audio.sample_rate, 16_000, "{}", clip.file);
        let ours = enc.embed(&audio.samples).unwrap();
        let c = cosine(&ours, &clip.embedding);
        worst = worst.min(c);
        assert!(c >= 0.999, "{}: cosine {c}", clip.file);
    }
    eprintln!("20 recordings: lowest cosine with PyTorch {worst:.6}");
}

/// A minute of audio (78 partials) runs in batches: every partial is embedded, each of unit
/// length, and the utterance is their normalised mean.
#[test]
fn long_recordings_run_in_batches() {
    let enc = encoder();
    let one: Vec<f32> = synthetic();
    let minute: Vec<f32> = one.iter().cycle().take(60 * 16_000).copied().collect();
    let (embedding, partials) = enc.embed_with_partials(&minute).unwrap();
    assert_eq!(
        partials.len(),
        facevox::model::speaker::partial_slices(minute.len()).len()
    );
    assert!(partials.len() > 64);
    let mut mean = vec![0f64; embedding.len()];
    for p in &partials {
        let norm: f32 = p.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        for (m, v) in mean.iter_mut().zip(p) {
            *m += *v as f64;
        }
    }
    let mean: Vec<f32> = mean.iter().map(|v| *v as f32).collect();
    assert!(cosine(&mean, &embedding) > 0.99999);
}
