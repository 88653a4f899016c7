//! Accuracy under degraded input: each branch's accuracy against the severity of real
//! corruptions, on data its model never trained on, and the fused answer with one modality
//! degraded and the other clean.
//!
//! ```sh
//! cargo run --release --example robustness -- --models models \
//!     --voice-cv runs/robust_voice_cv --voice-gender-cv runs/robust_voice_gender_cv \
//!     --compare-fixed-vad --ravdess ../shared/data/ravdess/speech \
//!     --ferplus ../shared/data/ferplus \
//!     --fairface ../shared/data/fairface96/fairface_label_train.csv --out models/robustness
//! ```
//!
//! * Voice: every RAVDESS speech clip, scored by the cross-validation fold model that never
//!   heard its actor (`--voice-cv`: a folder written by `train --cv`, holding
//!   `cv_report.json` and `fold_N/voice.*`; emotion from it, perceived gender from
//!   `--voice-gender-cv` when given, as the shipped file takes each task from its own
//!   members). Corruptions are applied to the waveform at the model's sample rate; the analyser
//!   then runs as on any recording (silence trimming, log-mel, network). Spread: standard
//!   deviation over the folds. Every fold model (and, with `--compare-fixed-vad`, each with the
//!   old fixed-threshold silence trimming, and each `--voice-variant LABEL=DIR`, e.g. a recipe
//!   retrained with the corruptions as augmentation) is also reported on its own, both tasks,
//!   in `variants.md` and `voice_<name>_variants.svg`.
//! * Face: `--faces-per-set` faces drawn (seeded) from FER+ Valid (emotion) and from the
//!   FairFace held-out part (perceived gender), never trained on. Corruptions are applied to
//!   the face crop after detection, in coordinates relative to the face box (so each crop view
//!   of the model sees the same damage): the question is how the classifier degrades, not the
//!   detector. Spread: standard deviation over five disjoint parts of each set.
//! * Fused: label-matched pairs (each clip of a fold's test actors with a FER+ face of its
//!   emotion and a FairFace face of its perceived gender, the faces split into the same five
//!   folds); each fold's fusion head is trained on the other folds' clean pairs (the shipped
//!   head config), then scored with the face degraded and the voice clean, and the other way.
//!
//! Writes `report.json`, one SVG per corruption (`face_<name>.svg`, `voice_<name>.svg`),
//! `table.md` and `variants.md` to `--out`. MP3 re-encoding needs `ffmpeg` (with libmp3lame)
//! on the PATH; without it that corruption is skipped and the report says so.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::Parser;
use facevox::audio::corrupt;
use facevox::audio::vad::trim_silence;
use facevox::audio::{decode_bytes, decode_file, AudioClip, DecodeOptions, Resampler};
use facevox::model::fusion::{BranchProbs, FusionModelFile};
use facevox::model::{Calibration, FacePredictor};
use facevox::training::data::{load_ravdess, RavdessFilter};
use facevox::training::eval::{plot_curves, Curve, FoldSummary};
use facevox::training::face_protocol::{face_splits, FaceSplitConfig, FaceSplits};
use facevox::training::{
    train_fusion_head, BranchOutputs, FusionExample, FusionTrainingConfig, VoiceCrossValidation,
};
use facevox::vision::{
    add_gaussian_noise, brightness_contrast, downscale_upscale, gaussian_blur, occlude,
    rotate_scale_translate, CropConfig, RgbImage,
};
use facevox::{Emotion, Gender, VoiceAnalyzer};
use rayon::prelude::*;
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(about = "Accuracy of each branch, and of the fusion, under degraded input")]
struct Args {
    /// Models folder (face.*, fusion.json).
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Voice cross-validation folder of the emotion recipe (cv_report.json + fold_N/voice.*):
    /// the voice branch's emotion, and its gender when `--voice-gender-cv` is not given.
    #[arg(long)]
    voice_cv: PathBuf,
    /// Voice cross-validation folder of the perceived-gender recipe (same folds): the voice
    /// branch's gender, as the shipped file takes gender from its gender members.
    #[arg(long)]
    voice_gender_cv: Option<PathBuf>,
    /// Also score every voice model with the fixed-threshold silence trimming (the noise-floor
    /// threshold switched off), for a before/after comparison.
    #[arg(long)]
    compare_fixed_vad: bool,
    /// A further voice model to report on its own, both tasks (`LABEL=DIR`, a cross-validation
    /// folder with the same folds; repeatable): e.g. a recipe retrained with the corruptions
    /// as augmentation, beside the one it replaces.
    #[arg(long = "voice-variant", value_name = "LABEL=DIR")]
    voice_variants: Vec<String>,
    /// RAVDESS speech folder.
    #[arg(long)]
    ravdess: PathBuf,
    /// FER+ root (FER2013Valid/ is used).
    #[arg(long)]
    ferplus: PathBuf,
    /// FairFace label CSV (its held-out part is used).
    #[arg(long)]
    fairface: PathBuf,
    /// Faces drawn from each face test set.
    #[arg(long, default_value_t = 1000)]
    faces_per_set: usize,
    /// At most this many clips per fold (quick runs; default: all).
    #[arg(long)]
    max_clips_per_fold: Option<usize>,
    /// Seed of the face draw and of every random corruption.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Face-crop cache.
    #[arg(long, default_value = "target/facevox-cache")]
    cache: PathBuf,
    /// Report folder.
    #[arg(long)]
    out: PathBuf,
    /// The fusion head's training config (`FusionTrainingConfig` as JSON; the shipped head's is
    /// `examples/configs/fusion_head.json`); default: `FusionTrainingConfig::default()`.
    #[arg(long)]
    head_config: Option<PathBuf>,
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
/// A decoded clip's samples and its speech span.
type Decoded = (Vec<f32>, (usize, usize));
/// One condition's face outputs: (FER+ draw, FairFace draw).
type FaceOuts = (Vec<Out>, Vec<Out>);

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Five severities per corruption, mild to severe.
const SEVERITIES: usize = 5;
/// The severity called moderate when deciding whether a corruption collapses a branch.
const MODERATE: usize = 3;
/// Folds (voice: the cross-validation's; faces: index mod this).
const PARTS: usize = 5;

/// A deterministic 64-bit hash of a few numbers (splitmix64 steps).
fn mix(parts: &[u64]) -> u64 {
    let mut z: u64 = 0x9e37_79b9_7f4a_7c15;
    for &p in parts {
        z = z.wrapping_add(p).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
    }
    z
}

fn unit(seed: u64) -> f32 {
    (mix(&[seed]) >> 40) as f32 / (1u64 << 24) as f32
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

/// Hits per part: accuracy per part, then mean ± std over the parts.
#[derive(Default, Clone)]
struct Tally(BTreeMap<usize, (usize, usize)>);

impl Tally {
    fn add(&mut self, part: usize, hit: bool) {
        let e = self.0.entry(part).or_default();
        e.0 += hit as usize;
        e.1 += 1;
    }
    fn n(&self) -> usize {
        self.0.values().map(|e| e.1).sum()
    }
    fn mean_std(&self) -> (f64, f64) {
        let accs: Vec<f64> = self
            .0
            .values()
            .filter(|e| e.1 > 0)
            .map(|e| e.0 as f64 / e.1 as f64)
            .collect();
        match accs.len() {
            0 => (f64::NAN, f64::NAN),
            1 => (accs[0], 0.0),
            _ => FoldSummary::new(accs).map_or((f64::NAN, f64::NAN), |s| (s.mean, s.std)),
        }
    }
}

/// A corruption: its name, what its severities are, and their values.
struct Corruption {
    name: &'static str,
    what: &'static str,
    levels: [f32; SEVERITIES],
    unit: &'static str,
}

impl Corruption {
    fn labels(&self) -> Vec<String> {
        std::iter::once("clean".to_string())
            .chain(self.levels.iter().map(|l| format!("{l}{}", self.unit)))
            .collect()
    }
}

// ---------------------------------------------------------------- faces

const FACE_CORRUPTIONS: [Corruption; 11] = [
    Corruption {
        name: "blur",
        what: "Gaussian blur, sigma as a share of the face width",
        levels: [0.03, 0.06, 0.09, 0.12, 0.16],
        unit: "",
    },
    Corruption {
        name: "noise",
        what: "Gaussian noise, standard deviation in grey levels (0-255)",
        levels: [8.0, 16.0, 24.0, 36.0, 52.0],
        unit: "",
    },
    Corruption {
        name: "jpeg",
        what: "JPEG re-encoding of the crop, quality",
        levels: [40.0, 25.0, 15.0, 8.0, 4.0],
        unit: "",
    },
    Corruption {
        name: "downscale",
        what: "face downscaled to this many pixels wide, then enlarged back",
        levels: [32.0, 24.0, 16.0, 12.0, 8.0],
        unit: " px",
    },
    Corruption {
        name: "occlusion_block",
        what: "a grey block at a random place on the face, side as a share of the face width",
        levels: [0.2, 0.3, 0.4, 0.5, 0.6],
        unit: "",
    },
    Corruption {
        name: "occlusion_eyes",
        what: "a dark band over the eyes (sunglasses), height as a share of the face height",
        levels: [0.08, 0.12, 0.16, 0.2, 0.25],
        unit: "",
    },
    Corruption {
        name: "occlusion_mouth",
        what: "a light band from this height of the face down (a mask over mouth and nose)",
        levels: [0.85, 0.78, 0.7, 0.62, 0.55],
        unit: "",
    },
    Corruption {
        name: "darken",
        what: "low light: every value multiplied by this factor",
        levels: [0.6, 0.4, 0.25, 0.15, 0.08],
        unit: "",
    },
    Corruption {
        name: "brighten",
        what: "over-exposure: this share of full scale added (values saturate)",
        levels: [0.15, 0.3, 0.45, 0.6, 0.75],
        unit: "",
    },
    Corruption {
        name: "contrast",
        what: "contrast scaled by this factor about the mean",
        levels: [0.6, 0.4, 0.25, 0.15, 0.08],
        unit: "",
    },
    Corruption {
        name: "rotation",
        what: "in-plane rotation, degrees",
        levels: [10.0, 20.0, 30.0, 45.0, 60.0],
        unit: "°",
    },
];

/// Applies corruption `c` at `level` to a crop made with `crop` (the face box is the crop
/// less its margin), seeded per face so every crop view of a face gets the same damage.
fn corrupt_face(image: &RgbImage, crop: &CropConfig, c: &str, level: f32, seed: u64) -> RgbImage {
    let size = image.width() as f32;
    let face = size / (1.0 + 2.0 * crop.margin);
    let origin = size * crop.margin / (1.0 + 2.0 * crop.margin);
    let px = |v: f32| v.round().max(0.0) as u32;
    match c {
        "blur" => gaussian_blur(image, level * face),
        "noise" => add_gaussian_noise(image, level, seed),
        "jpeg" => jpeg(image, level as u8),
        "downscale" => downscale_upscale(image, (level / face).min(1.0)),
        "occlusion_block" => {
            let side = level * face;
            let x = origin + unit(seed) * (face - side);
            let y = origin + unit(seed ^ 1) * (face - side);
            occlude(image, px(x), px(y), px(side), px(side), [128, 128, 128])
        }
        "occlusion_eyes" => {
            let h = level * face;
            let y = origin + 0.37 * face - h / 2.0;
            occlude(image, px(origin), px(y), px(face), px(h), [20, 20, 20])
        }
        "occlusion_mouth" => {
            let y = origin + level * face;
            let x = origin + 0.05 * face;
            occlude(
                image,
                px(x),
                px(y),
                px(0.9 * face),
                px(size),
                [200, 215, 230],
            )
        }
        "darken" => {
            let data = image
                .as_raw()
                .iter()
                .map(|&v| (v as f32 * level).round() as u8)
                .collect();
            RgbImage::from_raw(image.width(), image.height(), data).expect("same size")
        }
        "brighten" => brightness_contrast(image, level, 1.0),
        "contrast" => brightness_contrast(image, 0.0, level),
        "rotation" => rotate_scale_translate(image, level, 1.0, 0.0, 0.0),
        other => unreachable!("unknown face corruption {other}"),
    }
}

/// Encodes and decodes the picture as JPEG at `quality`.
fn jpeg(image: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .expect("JPEG encoding of an RGB picture in memory");
    image::load_from_memory(&bytes)
        .expect("decoding a JPEG just written")
        .to_rgb8()
}

/// A face's output: gender probabilities and emotion distribution (the model's order).
#[derive(Clone)]
struct Out {
    gender: [f32; 2],
    emotion: Vec<f32>,
}

/// One face test set, each face's crop in every view of the model.
struct FaceSet {
    /// `views[v][i]`: face `i` cropped for view `v`.
    views: Vec<Vec<RgbImage>>,
    labels: Vec<(Option<Gender>, Option<Emotion>)>,
}

fn draw_faces(
    splits: &[FaceSplits],
    pick: fn(&FaceSplits) -> &[facevox::training::FaceExample],
    n: usize,
    seed: u64,
) -> FaceSet {
    let all = pick(&splits[0]).len();
    let mut order: Vec<usize> = (0..all).collect();
    order.sort_by_key(|&i| mix(&[seed, i as u64]));
    order.truncate(n.min(all));
    FaceSet {
        views: splits
            .iter()
            .map(|s| order.iter().map(|&i| pick(s)[i].image.clone()).collect())
            .collect(),
        labels: order
            .iter()
            .map(|&i| (pick(&splits[0])[i].gender, pick(&splits[0])[i].emotion))
            .collect(),
    }
}

fn score_faces(
    predictor: &FacePredictor,
    crops: &[CropConfig],
    set: &FaceSet,
    corruption: Option<(&str, f32)>,
    seed: u64,
) -> Res<Vec<Out>> {
    let views: Vec<Vec<RgbImage>> = set
        .views
        .iter()
        .zip(crops)
        .map(|(faces, crop)| {
            faces
                .par_iter()
                .enumerate()
                .map(|(i, img)| match corruption {
                    Some((c, level)) => corrupt_face(img, crop, c, level, mix(&[seed, i as u64])),
                    None => img.clone(),
                })
                .collect()
        })
        .collect();
    let refs: Vec<Vec<&RgbImage>> = views.iter().map(|v| v.iter().collect()).collect();
    Ok(predictor
        .predict_images(&refs, 256)?
        .into_iter()
        .map(|p| Out {
            gender: p.gender,
            emotion: p.emotion,
        })
        .collect())
}

// ---------------------------------------------------------------- voices

const VOICE_CORRUPTIONS: [Corruption; 6] = [
    Corruption {
        name: "white_noise",
        what: "white noise, SNR in dB over the speech",
        levels: [30.0, 20.0, 10.0, 5.0, 0.0],
        unit: " dB",
    },
    Corruption {
        name: "babble",
        what: "babble (five other actors' clips summed), SNR in dB over the speech",
        levels: [30.0, 20.0, 10.0, 5.0, 0.0],
        unit: " dB",
    },
    Corruption {
        name: "telephone",
        what: "telephone channel: 1 8 kHz; 2 + 300-3400 Hz band; 3 + G.711 mu-law; \
               4 400-3000 Hz + mu-law; 5 500-2500 Hz + 6-bit mu-law",
        levels: [1.0, 2.0, 3.0, 4.0, 5.0],
        unit: "",
    },
    Corruption {
        name: "mp3",
        what: "MP3 re-encoding (LAME via ffmpeg, mono), kbit/s",
        levels: [64.0, 48.0, 32.0, 24.0, 16.0],
        unit: " k",
    },
    Corruption {
        name: "clipping",
        what: "hard clipping at this share of the clip's peak",
        levels: [0.5, 0.3, 0.2, 0.1, 0.05],
        unit: "",
    },
    Corruption {
        name: "short",
        what: "only this many seconds from the middle of the speech",
        levels: [2.0, 1.5, 1.0, 0.5, 0.25],
        unit: " s",
    },
];

/// One test clip at the model rate, with what the corruptions need.
struct Clip {
    fold: usize,
    samples: Vec<f32>,
    speech: (usize, usize),
    gender: Option<Gender>,
    emotion: Option<Emotion>,
    /// Indices of the clips summed into this clip's babble.
    babble: Vec<usize>,
}

/// Gaussian samples (Box-Muller over the seeded hash).
fn gaussian(n: usize, seed: u64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let u1 = unit(mix(&[seed, 2 * i as u64])).max(1e-7);
            let u2 = unit(mix(&[seed, 2 * i as u64 + 1]));
            (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect()
}

/// Adds `noise` (looped to length) scaled to `snr_db` below the speech's power.
fn add_at_snr(clip: &Clip, noise: &[f32], snr_db: f32) -> Vec<f32> {
    corrupt::add_at_snr(&clip.samples, clip.speech, noise, snr_db)
}

/// Zeroes every frequency outside `[lo, hi]` Hz (a brick-wall band-pass over the whole clip).
fn band_pass(x: &[f32], rate: u32, lo: f32, hi: f32) -> Vec<f32> {
    use rustfft::num_complex::Complex;
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let mut planner = rustfft::FftPlanner::<f32>::new();
    let mut buf: Vec<Complex<f32>> = x.iter().map(|&v| Complex::new(v, 0.0)).collect();
    planner.plan_fft_forward(n).process(&mut buf);
    for (k, b) in buf.iter_mut().enumerate() {
        let f = k.min(n - k) as f32 * rate as f32 / n as f32;
        if f < lo || f > hi {
            *b = Complex::new(0.0, 0.0);
        }
    }
    planner.plan_fft_inverse(n).process(&mut buf);
    buf.iter().map(|c| c.re / n as f32).collect()
}

/// Mu-law companding quantised to `bits` bits (G.711 is 8).
fn mu_law(x: &[f32], bits: u32) -> Vec<f32> {
    let mu = 255.0f32;
    let levels = (1u32 << (bits - 1)) as f32;
    x.iter()
        .map(|&v| {
            let v = v.clamp(-1.0, 1.0);
            let y = v.signum() * (1.0 + mu * v.abs()).ln() / (1.0 + mu).ln();
            let q = (y * levels).round() / levels;
            q.signum() * ((1.0 + mu).powf(q.abs()) - 1.0) / mu
        })
        .collect()
}

fn telephone(x: &[f32], rate: u32, level: usize) -> Res<AudioClip> {
    let narrow = Resampler::new(rate, 8000)?.process(x);
    let out = match level {
        1 => narrow,
        2 => band_pass(&narrow, 8000, 300.0, 3400.0),
        3 => mu_law(&band_pass(&narrow, 8000, 300.0, 3400.0), 8),
        4 => mu_law(&band_pass(&narrow, 8000, 400.0, 3000.0), 8),
        _ => mu_law(&band_pass(&narrow, 8000, 500.0, 2500.0), 6),
    };
    Ok(AudioClip::new(out, 8000))
}

/// Re-encodes through ffmpeg's LAME at `kbps` and decodes the MP3 with facevox's decoder.
fn mp3(x: &[f32], rate: u32, kbps: u32) -> Res<AudioClip> {
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar"])
        .arg(rate.to_string())
        .args(["-ac", "1", "-i", "pipe:0", "-c:a", "libmp3lame", "-b:a"])
        .arg(format!("{kbps}k"))
        .args(["-f", "mp3", "pipe:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pcm: Vec<u8> = x
        .iter()
        .flat_map(|&v| ((v.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes())
        .collect();
    let mut stdin = child.stdin.take().ok_or("ffmpeg stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(&pcm));
    let output = child.wait_with_output()?;
    writer.join().map_err(|_| "ffmpeg writer thread")??;
    if !output.status.success() {
        return Err(format!("ffmpeg: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(decode_bytes(
        output.stdout,
        Some("mp3"),
        &DecodeOptions::default(),
    )?)
}

fn ffmpeg_has_lame() -> bool {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("libmp3lame"))
        .unwrap_or(false)
}

fn corrupt_voice(
    clips: &[Clip],
    i: usize,
    rate: u32,
    c: &str,
    level: f32,
    seed: u64,
) -> Res<AudioClip> {
    let clip = &clips[i];
    let x = &clip.samples;
    let samples = match c {
        "white_noise" => add_at_snr(clip, &gaussian(x.len(), mix(&[seed, i as u64])), level),
        "babble" => {
            let voices: Vec<&[f32]> = clip
                .babble
                .iter()
                .map(|&j| &clips[j].samples[clips[j].speech.0..clips[j].speech.1])
                .collect();
            add_at_snr(clip, &corrupt::babble(&voices, x.len()), level)
        }
        "telephone" => return telephone(x, rate, level as usize),
        "mp3" => return mp3(x, rate, level as u32),
        "clipping" => corrupt::clip_peaks(x, level),
        "short" => {
            let want = (level * rate as f32) as usize;
            let (s, e) = clip.speech;
            let mid = (s + e) / 2;
            let start = mid.saturating_sub(want / 2);
            x[start..(start + want).min(x.len())].to_vec()
        }
        other => unreachable!("unknown voice corruption {other}"),
    };
    Ok(AudioClip::new(samples, rate))
}

/// The voice's output on a clip, or `None` when the analyser refused it (too short, silent).
fn score_voice(analyzer: &VoiceAnalyzer, clip: &AudioClip) -> Option<Out> {
    let a = analyzer.analyze_clip(clip).ok()?;
    Some(Out {
        gender: [1.0 - a.gender.p_female, a.gender.p_female],
        emotion: a.emotion.probabilities.iter().map(|p| p.1).collect(),
    })
}

// ---------------------------------------------------------------- the run

/// Accuracy of `outs` against labels, per part: (gender tally, emotion tally, refused).
fn tally_outputs(
    outs: &[Option<Out>],
    labels: &[(Option<Gender>, Option<Emotion>)],
    parts: &[usize],
    emotions: &[Emotion],
) -> (Tally, Tally, usize) {
    let (mut g, mut e, mut refused) = (Tally::default(), Tally::default(), 0);
    for ((o, (gl, el)), &k) in outs.iter().zip(labels).zip(parts) {
        if o.is_none() {
            refused += 1;
        }
        if let Some(gl) = gl {
            g.add(
                k,
                o.as_ref()
                    .is_some_and(|o| argmax(&o.gender) == *gl as usize),
            );
        }
        if let Some(el) = el.filter(|el| emotions.contains(el)) {
            e.add(
                k,
                o.as_ref()
                    .is_some_and(|o| emotions[argmax(&o.emotion)] == el),
            );
        }
    }
    (g, e, refused)
}

/// A Markdown table row: the name, the corruption, then each condition's mean accuracy in %
/// (`-` where there was nothing to score) from a `curve_json` series.
fn table_row(name: &str, corruption: &str, series: &Value) -> String {
    let cells: Vec<String> = series
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|x| {
            x["mean"]
                .as_f64()
                .filter(|m| m.is_finite())
                .map_or("-".into(), |m| format!("{:.1}", 100.0 * m))
        })
        .collect();
    format!("| {name} | {corruption} | {} |\n", cells.join(" | "))
}

fn curve_json(per_level: &[(Tally, Tally, usize)]) -> Value {
    let stat = |t: &Tally| {
        let (m, s) = t.mean_std();
        json!({"mean": m, "std": s, "n": t.n()})
    };
    json!({
        "gender": per_level.iter().map(|l| stat(&l.0)).collect::<Vec<_>>(),
        "emotion": per_level.iter().map(|l| stat(&l.1)).collect::<Vec<_>>(),
        "refused": per_level.iter().map(|l| l.2).collect::<Vec<_>>(),
    })
}

/// A cross-validation folder's report and its fold models (`fold_1` ..), in fold order. With
/// `fixed_vad`, each model's silence trimming has its noise-floor threshold switched off.
fn load_folds(
    dir: &std::path::Path,
    fixed_vad: bool,
) -> Res<(VoiceCrossValidation, Vec<VoiceAnalyzer>)> {
    let cv: VoiceCrossValidation =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cv_report.json"))?)?;
    let models = (1..=cv.folds.len())
        .map(|k| -> Res<VoiceAnalyzer> {
            let fold = dir.join(format!("fold_{k}"));
            if !fixed_vad {
                return Ok(VoiceAnalyzer::from_dir(&fold)?);
            }
            let mut json: Value =
                serde_json::from_str(&std::fs::read_to_string(fold.join("voice.json"))?)?;
            let vad = json
                .pointer_mut("/mel/vad")
                .and_then(Value::as_object_mut)
                .ok_or("a fold model without silence trimming")?;
            vad.insert("noise_floor_margin_db".into(), Value::Null);
            let weights = std::fs::read(fold.join("voice.safetensors"))?;
            Ok(VoiceAnalyzer::from_bytes(
                &serde_json::to_vec(&json)?,
                &weights,
            )?)
        })
        .collect::<Res<Vec<_>>>()?;
    Ok((cv, models))
}

/// Whether two cross-validations test the same speakers in the same folds.
fn same_folds(a: &VoiceCrossValidation, b: &VoiceCrossValidation) -> bool {
    let groups = |c: &VoiceCrossValidation| -> Vec<Vec<String>> {
        c.folds.iter().map(|f| f.test_groups.clone()).collect()
    };
    groups(a) == groups(b)
}

fn run(args: Args) -> Res<()> {
    std::fs::create_dir_all(&args.out)?;
    let (cv, emotion_models) = load_folds(&args.voice_cv, false)?;
    let n_folds = cv.folds.len();
    // Voice model variants, each one model per fold: [emotion recipe, gender recipe?, then the
    // same with the fixed-threshold trimming when comparing].
    let mut variants: Vec<(String, Vec<VoiceAnalyzer>)> =
        vec![("emotion recipe".into(), emotion_models)];
    if let Some(dir) = &args.voice_gender_cv {
        let (gcv, models) = load_folds(dir, false)?;
        if !same_folds(&gcv, &cv) {
            return Err("the two voice cross-validations have different folds".into());
        }
        variants.push(("gender recipe".into(), models));
    }
    for spec in &args.voice_variants {
        let (label, dir) = spec
            .split_once('=')
            .ok_or_else(|| format!("--voice-variant wants LABEL=DIR, got {spec:?}"))?;
        let (vcv, models) = load_folds(std::path::Path::new(dir), false)?;
        if !same_folds(&vcv, &cv) {
            return Err(format!("{dir}: its folds differ from --voice-cv's").into());
        }
        variants.push((label.to_string(), models));
    }
    if args.compare_fixed_vad {
        variants.push((
            "emotion recipe, fixed VAD".into(),
            load_folds(&args.voice_cv, true)?.1,
        ));
        if let Some(dir) = &args.voice_gender_cv {
            variants.push(("gender recipe, fixed VAD".into(), load_folds(dir, true)?.1));
        }
    }
    // The voice branch: emotion from variant 0, gender from the gender recipe when there is one.
    let gender_variant = if args.voice_gender_cv.is_some() { 1 } else { 0 };
    let fold_models = &variants[0].1;
    let voice_emotions = fold_models[0].emotions().to_vec();
    let rate = fold_models[0].model().mel.sample_rate;
    let vad = fold_models[0].model().mel.vad.clone().unwrap_or_default();

    // ---- voices: decode every clip once, at the model rate.
    let fold_of: BTreeMap<String, usize> = cv
        .folds
        .iter()
        .enumerate()
        .flat_map(|(k, f)| f.test_groups.iter().map(move |g| (g.clone(), k)))
        .collect();
    let mut samples = load_ravdess(&args.ravdess, &RavdessFilter::speech())?;
    samples.sort_by(|a, b| a.0.voice.cmp(&b.0.voice));
    let mut per_fold = vec![0usize; n_folds];
    let mut chosen = Vec::new();
    for (s, _) in samples {
        let Some(&k) = s.group.as_ref().and_then(|g| fold_of.get(g)) else {
            continue;
        };
        if args.max_clips_per_fold.is_some_and(|m| per_fold[k] >= m) {
            continue;
        }
        per_fold[k] += 1;
        chosen.push((k, s));
    }
    eprintln!("decoding {} clips ({per_fold:?} per fold)", chosen.len());
    let decoded: Vec<Res<Decoded>> = chosen
        .par_iter()
        .map(|(_, s)| {
            let path = s.voice.as_ref().ok_or("a RAVDESS sample without audio")?;
            let clip = decode_file(path, &DecodeOptions::default())?.resampled(rate)?;
            let speech = trim_silence(&clip.samples, rate, &vad)?;
            Ok((clip.samples, speech))
        })
        .collect();
    let mut clips: Vec<Clip> = Vec::new();
    for ((k, s), d) in chosen.iter().zip(decoded) {
        let (samples, speech) = d?;
        clips.push(Clip {
            fold: *k,
            samples,
            speech,
            gender: s.gender,
            emotion: s.emotion,
            babble: Vec::new(),
        });
    }
    let groups: Vec<String> = chosen
        .iter()
        .map(|(_, s)| s.group.clone().unwrap_or_default())
        .collect();
    for i in 0..clips.len() {
        // Five clips of five other actors.
        let mut picked: Vec<usize> = Vec::new();
        let mut tries = 0u64;
        while picked.len() < 5 && tries < 1000 {
            let j = (mix(&[args.seed, i as u64, tries]) % clips.len() as u64) as usize;
            tries += 1;
            if groups[j] != groups[i] && !picked.iter().any(|&p| groups[p] == groups[j]) {
                picked.push(j);
            }
        }
        clips[i].babble = picked;
    }
    let voice_labels: Vec<(Option<Gender>, Option<Emotion>)> =
        clips.iter().map(|c| (c.gender, c.emotion)).collect();
    let voice_parts: Vec<usize> = clips.iter().map(|c| c.fold).collect();
    let has_lame = ffmpeg_has_lame();

    // voice_outs[corruption][level][variant][clip]; "clean" has one level.
    type Outs = Vec<Vec<Option<Out>>>;
    let mut voice_outs: BTreeMap<String, Vec<Outs>> = BTreeMap::new();
    let score_all = |c: Option<(&str, f32)>| -> Outs {
        let per_clip: Vec<Vec<Option<Out>>> = (0..clips.len())
            .into_par_iter()
            .map(|i| {
                let audio = match c {
                    None => AudioClip::new(clips[i].samples.clone(), rate),
                    Some((c, level)) => match corrupt_voice(&clips, i, rate, c, level, args.seed) {
                        Ok(a) => a,
                        Err(e) => {
                            eprintln!("  clip {i}: {c} {level}: {e}");
                            return vec![None; variants.len()];
                        }
                    },
                };
                variants
                    .iter()
                    .map(|(_, models)| score_voice(&models[clips[i].fold], &audio))
                    .collect()
            })
            .collect();
        (0..variants.len())
            .map(|v| per_clip.iter().map(|o| o[v].clone()).collect())
            .collect()
    };
    // The voice branch's output: emotion from variant 0, gender from `gender_variant`.
    let branch = |outs: &Outs| -> Vec<Option<Out>> {
        outs[0]
            .iter()
            .zip(&outs[gender_variant])
            .map(|(e, g)| {
                Some(Out {
                    gender: g.as_ref()?.gender,
                    emotion: e.as_ref()?.emotion.clone(),
                })
            })
            .collect()
    };
    let started = std::time::Instant::now();
    voice_outs.insert("clean".into(), vec![score_all(None)]);
    let mut voice_report = serde_json::Map::new();
    let mut variant_report = serde_json::Map::new();
    let mut skipped = Vec::new();
    for c in &VOICE_CORRUPTIONS {
        if c.name == "mp3" && !has_lame {
            skipped.push(json!({"corruption": "mp3", "why": "ffmpeg with libmp3lame not found"}));
            continue;
        }
        let levels: Vec<Outs> = c
            .levels
            .iter()
            .map(|&l| score_all(Some((c.name, l))))
            .collect();
        eprintln!(
            "voice {}: done ({:.0} s)",
            c.name,
            started.elapsed().as_secs_f64()
        );
        voice_outs.insert(c.name.into(), levels);
    }
    let clean_voice = branch(&voice_outs["clean"][0]);
    for c in &VOICE_CORRUPTIONS {
        let Some(levels) = voice_outs.get(c.name) else {
            continue;
        };
        let all = || std::iter::once(&voice_outs["clean"][0]).chain(levels);
        let per_level: Vec<_> = all()
            .map(|o| tally_outputs(&branch(o), &voice_labels, &voice_parts, &voice_emotions))
            .collect();
        voice_report.insert(
            c.name.into(),
            json!({"what": c.what, "conditions": c.labels(), "curves": curve_json(&per_level)}),
        );
        let mut per_variant = serde_json::Map::new();
        for (v, (label, _)) in variants.iter().enumerate() {
            let per_level: Vec<_> = all()
                .map(|o| tally_outputs(&o[v], &voice_labels, &voice_parts, &voice_emotions))
                .collect();
            per_variant.insert(label.clone(), curve_json(&per_level));
        }
        variant_report.insert(c.name.into(), Value::Object(per_variant));
    }

    // ---- faces.
    let face_stem = args.models.join("face");
    let (face_file, predictor) = FacePredictor::load(&face_stem)?;
    let face_emotions = face_file.emotions.clone();
    let crops = face_file.crop_views();
    let split_cfg = FaceSplitConfig {
        ferplus: Some(args.ferplus.clone()),
        fairface: Some(args.fairface.clone()),
        cache: args.cache.clone(),
        eval_only: true,
        ..FaceSplitConfig::default()
    };
    let splits: Vec<FaceSplits> = crops
        .iter()
        .map(|c| face_splits(&split_cfg, c, false))
        .collect::<facevox::Result<_>>()?;
    if splits.windows(2).any(|w| w[0].skipped != w[1].skipped) {
        return Err("the crop views find faces in different images".into());
    }
    let fer = draw_faces(&splits, |s| &s.fer_valid, args.faces_per_set, args.seed);
    let ff = draw_faces(
        &splits,
        |s| &s.ff_test,
        args.faces_per_set,
        args.seed ^ 0xff,
    );
    let fer_parts: Vec<usize> = (0..fer.labels.len()).map(|i| i % PARTS).collect();
    let ff_parts: Vec<usize> = (0..ff.labels.len()).map(|i| i % PARTS).collect();
    // face_outs[corruption] = per level, (FER+ outputs, FairFace outputs).
    let mut face_outs: BTreeMap<String, Vec<FaceOuts>> = BTreeMap::new();
    let score_both = |c: Option<(&str, f32)>| -> Res<(Vec<Out>, Vec<Out>)> {
        Ok((
            score_faces(&predictor, &crops, &fer, c, args.seed)?,
            score_faces(&predictor, &crops, &ff, c, args.seed ^ 0xff)?,
        ))
    };
    face_outs.insert("clean".into(), vec![score_both(None)?]);
    for c in &FACE_CORRUPTIONS {
        let levels = c
            .levels
            .iter()
            .map(|&l| score_both(Some((c.name, l))))
            .collect::<Res<Vec<_>>>()?;
        eprintln!(
            "face {}: done ({:.0} s)",
            c.name,
            started.elapsed().as_secs_f64()
        );
        face_outs.insert(c.name.into(), levels);
    }
    let face_tally = |o: &(Vec<Out>, Vec<Out>)| {
        let wrap = |v: &[Out]| v.iter().cloned().map(Some).collect::<Vec<_>>();
        let (_, e, _) = tally_outputs(&wrap(&o.0), &fer.labels, &fer_parts, &face_emotions);
        let (g, _, _) = tally_outputs(&wrap(&o.1), &ff.labels, &ff_parts, &face_emotions);
        (g, e, 0)
    };
    let mut face_report = serde_json::Map::new();
    let clean_face = face_outs["clean"][0].clone();
    for c in &FACE_CORRUPTIONS {
        let per_level: Vec<_> = std::iter::once(&clean_face)
            .chain(&face_outs[c.name])
            .map(face_tally)
            .collect();
        face_report.insert(
            c.name.into(),
            json!({"what": c.what, "conditions": c.labels(), "curves": curve_json(&per_level)}),
        );
    }

    // ---- fused: label-matched pairs, a head per fold trained on the other folds' clean pairs.
    struct Pair {
        fold: usize,
        clip: usize,
        /// Index into the FER+ draw (emotion pairs) or the FairFace draw (gender pairs).
        face: usize,
        gender: Option<Gender>,
        emotion: Option<Emotion>,
    }
    let mut pairs = Vec::new();
    for (i, c) in clips.iter().enumerate() {
        let pool_e: Vec<usize> = (0..fer.labels.len())
            .filter(|&j| fer_parts[j] == c.fold && fer.labels[j].1 == c.emotion)
            .collect();
        if !pool_e.is_empty() && c.emotion.is_some() {
            pairs.push(Pair {
                fold: c.fold,
                clip: i,
                face: pool_e[(mix(&[args.seed, 1, i as u64]) % pool_e.len() as u64) as usize],
                gender: None,
                emotion: c.emotion,
            });
        }
        let pool_g: Vec<usize> = (0..ff.labels.len())
            .filter(|&j| ff_parts[j] == c.fold && ff.labels[j].0 == c.gender)
            .collect();
        if !pool_g.is_empty() && c.gender.is_some() {
            pairs.push(Pair {
                fold: c.fold,
                clip: i,
                face: pool_g[(mix(&[args.seed, 2, i as u64]) % pool_g.len() as u64) as usize],
                gender: c.gender,
                emotion: None,
            });
        }
    }
    let fusion = FusionModelFile::read_or_default(&args.models)?;
    let head_cfg: FusionTrainingConfig = match &args.head_config {
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p)?)?,
        None => FusionTrainingConfig::default(),
    };
    let face_of = |p: &Pair, outs: &(Vec<Out>, Vec<Out>)| -> Out {
        if p.emotion.is_some() {
            outs.0[p.face].clone()
        } else {
            outs.1[p.face].clone()
        }
    };
    let mut heads = Vec::new();
    for k in 0..n_folds {
        let ex: Vec<FusionExample> = pairs
            .iter()
            .filter(|p| p.fold != k)
            .filter_map(|p| {
                let v = clean_voice[p.clip].as_ref()?;
                let f = face_of(p, &clean_face);
                Some(FusionExample {
                    face: Some(BranchOutputs {
                        gender: f.gender,
                        emotion: f.emotion,
                    }),
                    voice: Some(BranchOutputs {
                        gender: v.gender,
                        emotion: v.emotion.clone(),
                    }),
                    gender: p.gender,
                    emotion: p.emotion,
                })
            })
            .collect();
        let head = train_fusion_head(&ex, &face_emotions, &voice_emotions, &head_cfg)?;
        heads.push(FusionModelFile {
            head: Some(head),
            calibration: Calibration::NONE,
            ..fusion.clone()
        });
    }
    // Per level: (fused, face, voice) tallies for gender and emotion.
    let fused_tally = |faces: &(Vec<Out>, Vec<Out>), voices: &[Option<Out>]| {
        let mut t: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
        for p in &pairs {
            let f = face_of(p, faces);
            let v = voices[p.clip].as_ref();
            let fused = heads[p.fold]
                .fuse(
                    Some(BranchProbs {
                        gender: f.gender,
                        emotions: &face_emotions,
                        emotion: &f.emotion,
                    }),
                    v.map(|v| BranchProbs {
                        gender: v.gender,
                        emotions: &voice_emotions,
                        emotion: &v.emotion,
                    }),
                )
                .expect("the face is always there");
            if let Some(g) = p.gender {
                let g = g as usize;
                t.entry(("gender", "fused"))
                    .or_default()
                    .add(p.fold, argmax(&fused.gender) == g);
                t.entry(("gender", "face"))
                    .or_default()
                    .add(p.fold, argmax(&f.gender) == g);
                t.entry(("gender", "voice"))
                    .or_default()
                    .add(p.fold, v.is_some_and(|v| argmax(&v.gender) == g));
            }
            if let Some(e) = p.emotion {
                t.entry(("emotion", "fused"))
                    .or_default()
                    .add(p.fold, fused.emotions[argmax(&fused.emotion)] == e);
                t.entry(("emotion", "face"))
                    .or_default()
                    .add(p.fold, face_emotions[argmax(&f.emotion)] == e);
                t.entry(("emotion", "voice")).or_default().add(
                    p.fold,
                    v.is_some_and(|v| voice_emotions[argmax(&v.emotion)] == e),
                );
            }
        }
        t
    };
    let fused_json = |levels: Vec<BTreeMap<(&str, &str), Tally>>| {
        let mut out = serde_json::Map::new();
        for task in ["gender", "emotion"] {
            for who in ["fused", "face", "voice"] {
                let v: Vec<Value> = levels
                    .iter()
                    .map(|l| {
                        let t = l.get(&(task, who)).cloned().unwrap_or_default();
                        let (m, s) = t.mean_std();
                        json!({"mean": m, "std": s, "n": t.n()})
                    })
                    .collect();
                out.insert(format!("{task}_{who}"), Value::Array(v));
            }
        }
        Value::Object(out)
    };
    let mut fused_face = serde_json::Map::new();
    for c in &FACE_CORRUPTIONS {
        let levels = std::iter::once(&clean_face)
            .chain(&face_outs[c.name])
            .map(|f| fused_tally(f, &clean_voice))
            .collect();
        fused_face.insert(c.name.into(), fused_json(levels));
    }
    let mut fused_voice = serde_json::Map::new();
    for c in &VOICE_CORRUPTIONS {
        let Some(levels) = voice_outs.get(c.name) else {
            continue;
        };
        let levels = std::iter::once(clean_voice.clone())
            .chain(levels.iter().map(branch))
            .map(|v| fused_tally(&clean_face, &v))
            .collect();
        fused_voice.insert(c.name.into(), fused_json(levels));
    }

    // ---- collapses, plots, table.
    let mean_at = |curves: &Value, task: &str, level: usize| curves[task][level]["mean"].as_f64();
    let mut collapsed = Vec::new();
    for (branch, report) in [("face", &face_report), ("voice", &voice_report)] {
        for (name, entry) in report {
            for task in ["emotion", "gender"] {
                let (Some(clean), Some(moderate)) = (
                    mean_at(&entry["curves"], task, 0),
                    mean_at(&entry["curves"], task, MODERATE),
                ) else {
                    continue;
                };
                if moderate < 0.5 * clean {
                    collapsed.push(json!({"branch": branch, "task": task, "corruption": name,
                        "clean": clean, "moderate": moderate, "severity": MODERATE}));
                }
            }
        }
    }
    let series = |v: &Value| -> (Vec<Option<f64>>, Vec<f64>) {
        let arr = v.as_array().cloned().unwrap_or_default();
        (
            arr.iter()
                .map(|x| x["mean"].as_f64().filter(|m| m.is_finite()))
                .collect(),
            arr.iter()
                .map(|x| x["std"].as_f64().filter(|s| s.is_finite()).unwrap_or(0.0))
                .collect(),
        )
    };
    let curve = |label: &str, v: &Value, dashed: bool| {
        let (values, spread) = series(v);
        Curve {
            label: label.into(),
            values,
            spread: Some(spread),
            dashed,
        }
    };
    let mut table = String::new();
    let mut row = |branch: &str, c: &Corruption, task: &str, v: &Value| {
        table.push_str(&table_row(&format!("{branch} {task}"), c.name, v));
    };
    for (branch, list, report, fused, other) in [
        (
            "face",
            &FACE_CORRUPTIONS[..],
            &face_report,
            &fused_face,
            "voice",
        ),
        (
            "voice",
            &VOICE_CORRUPTIONS[..],
            &voice_report,
            &fused_voice,
            "face",
        ),
    ] {
        for c in list {
            let Some(entry) = report.get(c.name) else {
                continue;
            };
            let f = &fused[c.name];
            let curves = vec![
                curve(
                    &format!("{branch} emotion"),
                    &entry["curves"]["emotion"],
                    false,
                ),
                curve(
                    &format!("{branch} gender"),
                    &entry["curves"]["gender"],
                    false,
                ),
                curve(
                    &format!("fused emotion ({other} clean)"),
                    &f["emotion_fused"],
                    false,
                ),
                curve(
                    &format!("fused gender ({other} clean)"),
                    &f["gender_fused"],
                    false,
                ),
                curve(
                    &format!("{other} alone, emotion pairs"),
                    &f[format!("emotion_{other}")],
                    true,
                ),
                curve(
                    &format!("{other} alone, gender pairs"),
                    &f[format!("gender_{other}")],
                    true,
                ),
            ];
            plot_curves(
                &curves,
                &c.labels(),
                &format!("{branch}: {}", c.name.replace('_', " ")),
                c.what,
                args.out.join(format!("{branch}_{}.svg", c.name)),
            )?;
            row(branch, c, "emotion", &entry["curves"]["emotion"]);
            row(branch, c, "gender", &entry["curves"]["gender"]);
            row("fused", c, "emotion", &f["emotion_fused"]);
            row("fused", c, "gender", &f["gender_fused"]);
        }
    }
    let header = "| branch, task | corruption | clean | 1 | 2 | 3 | 4 | 5 |\n|---|---|---|---|---|---|---|---|\n";
    std::fs::write(args.out.join("table.md"), format!("{header}{table}"))?;
    // Each voice model variant on its own, both tasks: the before/after comparisons.
    let mut variant_table = String::new();
    if variants.len() > 1 {
        for c in &VOICE_CORRUPTIONS {
            let Some(per_variant) = variant_report.get(c.name) else {
                continue;
            };
            let mut curves = Vec::new();
            for (v, (label, _)) in variants.iter().enumerate() {
                for task in ["emotion", "gender"] {
                    let values = &per_variant[label][task];
                    curves.push(curve(&format!("{task}: {label}"), values, v >= 2));
                    variant_table.push_str(&table_row(&format!("{task}: {label}"), c.name, values));
                }
            }
            plot_curves(
                &curves,
                &c.labels(),
                &format!("voice models: {}", c.name.replace('_', " ")),
                c.what,
                args.out.join(format!("voice_{}_variants.svg", c.name)),
            )?;
        }
        let header = "| task: voice model | corruption | clean | 1 | 2 | 3 | 4 | 5 |\n|---|---|---|---|---|---|---|---|\n";
        std::fs::write(
            args.out.join("variants.md"),
            format!("{header}{variant_table}"),
        )?;
    }
    let report = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "protocol": {
            "voice": format!("{} RAVDESS speech clips, each scored by the fold model that \
                never heard its actor (emotion: {}; perceived gender: {}); mean ± std over the \
                {n_folds} folds", clips.len(), args.voice_cv.display(),
                args.voice_gender_cv.as_ref().unwrap_or(&args.voice_cv).display()),
            "voice_variants": variants.iter().map(|v| v.0.clone()).collect::<Vec<_>>(),
            "face": format!("{} FER+ Valid faces (emotion) and {} FairFace held-out faces \
                (perceived gender), drawn with seed {}; corruptions on the crop, relative to \
                the face box; mean ± std over {PARTS} disjoint parts", fer.labels.len(),
                ff.labels.len(), args.seed),
            "fused": format!("{} label-matched pairs (emotion: FER+ face of the clip's emotion; \
                gender: FairFace face of its perceived gender; faces in the clip's fold); each \
                fold's head trained on the other folds' clean pairs; one modality degraded, the \
                other clean", pairs.len()),
            "collapse": format!("a corruption collapses a branch when its accuracy at severity \
                {MODERATE} is below half its clean accuracy"),
            "face_emotions": face_emotions,
            "voice_emotions": voice_emotions,
        },
        "skipped": skipped,
        "voice": voice_report,
        "voice_variants": variant_report,
        "face": face_report,
        "fused": {"face_degraded": fused_face, "voice_degraded": fused_voice},
        "collapsed": collapsed,
        "seconds": started.elapsed().as_secs_f64(),
    });
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    print!("{header}{table}{variant_table}");
    println!(
        "collapsed at severity {MODERATE}: {}",
        serde_json::to_string(&collapsed)?
    );
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
