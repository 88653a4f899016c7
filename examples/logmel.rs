//! The audio front end on its own: decode a recording (or a video's audio track), resample it to
//! 16 kHz, and print its log-mel spectrogram as the voice branch will see it.
//!
//! ```text
//! cargo run --release --example logmel                      # the shipped example clip
//! cargo run --release --example logmel -- path/to/file.flac [--plain] [--json out.json]
//! ```
//! `--plain` skips silence trimming and band normalisation (the librosa-equivalent log-mel);
//! `--json` writes the config and the full matrix.

use std::process::ExitCode;
use std::time::Instant;

use facevox::audio::{decode_file, DecodeOptions, MelConfig, MelExtractor};

const DEFAULT_CLIP: &str = "examples/data/01-01-07-02-02-01-01.mp4";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut path = DEFAULT_CLIP.to_string();
    let mut plain = false;
    let mut json = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--plain" => plain = true,
            "--json" => json = it.next().cloned(),
            "-h" | "--help" => {
                println!("usage: logmel [FILE] [--plain] [--json OUT.json]");
                return ExitCode::SUCCESS;
            }
            other => path = other.to_string(),
        }
    }
    match run(&path, plain, json.as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &str, plain: bool, json: Option<&str>) -> facevox::Result<()> {
    let t0 = Instant::now();
    let raw = decode_file(path, &DecodeOptions::default())?;
    let t_decode = t0.elapsed();
    let config = if plain {
        MelConfig::default().plain()
    } else {
        MelConfig::default()
    };
    let clip = raw.resampled(config.sample_rate)?;
    let t_resample = t0.elapsed() - t_decode;
    let extractor = MelExtractor::new(config.clone())?;
    let mel = extractor.compute(&clip)?;
    let t_mel = t0.elapsed() - t_decode - t_resample;

    println!("input      {path}");
    println!(
        "decoded    {:.3} s at {} Hz, mono ({:.2} ms)",
        raw.duration_secs(),
        raw.sample_rate,
        t_decode.as_secs_f64() * 1e3
    );
    println!(
        "resampled  {} samples at {} Hz ({:.2} ms)",
        clip.samples.len(),
        clip.sample_rate,
        t_resample.as_secs_f64() * 1e3
    );
    println!(
        "log-mel    {} bands x {} frames ({} ms hop{}; {:.2} ms)",
        mel.n_mels,
        mel.n_frames,
        1000 * config.hop_length as u32 / config.sample_rate,
        if plain {
            ""
        } else {
            ", silence trimmed, bands normalised"
        },
        t_mel.as_secs_f64() * 1e3
    );
    let (lo, hi) = mel
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    println!("range      {lo:.3} .. {hi:.3}");
    println!();
    print_heatmap(&mel, lo, hi);

    if let Some(out) = json {
        let value = serde_json::json!({
            "input": path,
            "config": config,
            "n_mels": mel.n_mels,
            "n_frames": mel.n_frames,
            "data": mel.data,
        });
        std::fs::write(out, serde_json::to_string(&value).expect("serialisable")).map_err(|e| {
            facevox::Error::Io {
                path: out.into(),
                source: e,
            }
        })?;
        println!("\nwrote {out}");
    }
    Ok(())
}

/// Low bands at the bottom, time left to right, darker characters for more energy.
fn print_heatmap(mel: &facevox::audio::LogMel, lo: f32, hi: f32) {
    const SHADES: &[u8] = b" .:-=+*#%@";
    const ROWS: usize = 16;
    let cols = mel.n_frames.min(96);
    for r in (0..ROWS).rev() {
        let (b0, b1) = (
            r * mel.n_mels / ROWS,
            ((r + 1) * mel.n_mels / ROWS).max(r * mel.n_mels / ROWS + 1),
        );
        let line: String = (0..cols)
            .map(|c| {
                let (f0, f1) = (
                    c * mel.n_frames / cols,
                    ((c + 1) * mel.n_frames / cols).max(c * mel.n_frames / cols + 1),
                );
                let mut sum = 0.0;
                for b in b0..b1 {
                    for f in f0..f1 {
                        sum += mel.get(b, f);
                    }
                }
                let v = sum / ((b1 - b0) * (f1 - f0)) as f32;
                let x = ((v - lo) / (hi - lo).max(1e-6)).clamp(0.0, 0.999);
                SHADES[(x * SHADES.len() as f32) as usize] as char
            })
            .collect();
        println!("{:>3} |{line}", b0);
    }
    println!("    +{}", "-".repeat(cols));
    println!("     mel band (rows) over time (columns)");
}
