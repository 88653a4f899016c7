//! Log-mel throughput on the 1,200 RAVDESS speech clips, single-threaded and on all cores, and
//! the whole decode + resample + log-mel path for a 4 s 48 kHz WAV; librosa does the same work in
//! the same run (`tools/librosa_bench.py`) and the ratios are printed.
//!
//! ```text
//! FACEVOX_DATA=../shared/data cargo bench --bench mel_vs_librosa
//! ```
//! Needs `python3` with librosa and soundfile for the comparison (`pip install librosa soundfile`);
//! without them only facevox's numbers are printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use facevox::audio::{decode_file, load_audio, DecodeOptions, MelConfig, MelExtractor};

const REPEATS: usize = 3;

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn median_of<T>(n: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    v.sort();
    v[n / 2]
}

fn ravdess_clips(data: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for actor in 1..=24 {
        let dir = data.join(format!("ravdess/speech/Actor_{actor:02}"));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            paths.extend(entries.flatten().map(|e| e.path()));
        }
    }
    paths.sort();
    paths
}

/// A 4 s, 48 kHz, 16-bit WAV made from the shipped example clip's audio.
fn make_48k_wav(dir: &Path) -> PathBuf {
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4");
    let audio = load_audio(clip, 48_000).expect("example clip decodes");
    let path = dir.join("facevox-bench-48k.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for &s in audio.samples.iter().take(4 * 48_000) {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    path
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: run quickly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {} cores ({})", cores, std::env::consts::ARCH);

    let tmp = std::env::temp_dir();
    let wav48 = make_48k_wav(&tmp);
    let voice = MelExtractor::new(MelConfig::default()).unwrap();
    let plain = MelExtractor::new(MelConfig::default().plain()).unwrap();
    let pipeline = || {
        let clip = load_audio(&wav48, 16_000).unwrap();
        plain.compute(&clip).unwrap()
    };
    let n = if quick { 3 } else { 51 };
    let ours_pipeline = median_of(n, pipeline);
    println!(
        "decode+resample+log-mel, 4 s 48 kHz WAV: {:.2} ms (median of {n})",
        ours_pipeline.as_secs_f64() * 1e3
    );
    let with_trim = median_of(n, || {
        voice.compute(&load_audio(&wav48, 16_000).unwrap()).unwrap()
    });
    println!(
        "  same with silence trim + band normalisation (voice-branch default): {:.2} ms",
        with_trim.as_secs_f64() * 1e3
    );

    let Some(data) = std::env::var_os("FACEVOX_DATA") else {
        println!("skipped the RAVDESS throughput run: FACEVOX_DATA is not set");
        return;
    };
    let mut paths = ravdess_clips(Path::new(&data));
    if quick {
        paths.truncate(20);
    }
    let clips: Vec<Vec<f32>> = paths
        .iter()
        .map(|p| decode_file(p, &DecodeOptions::default()).unwrap().samples)
        .collect();
    let audio_s: f64 = clips.iter().map(|c| c.len() as f64 / 16_000.0).sum();
    println!(
        "RAVDESS speech: {} clips, {:.1} s of audio",
        clips.len(),
        audio_s
    );
    let repeats = if quick { 1 } else { REPEATS };
    let single = best_of(repeats, || {
        clips
            .iter()
            .map(|c| plain.compute_samples(c).unwrap().n_frames)
            .sum::<usize>()
    });
    let multi = best_of(repeats, || plain.compute_batch(&clips).len());
    let single_x = audio_s / single.as_secs_f64();
    let multi_x = audio_s / multi.as_secs_f64();
    println!(
        "facevox log-mel, 1 thread:   {single_x:>9.0} s of audio per s ({:.3} s)",
        single.as_secs_f64()
    );
    println!(
        "facevox log-mel, {cores} threads:  {multi_x:>9.0} s of audio per s ({:.3} s)",
        multi.as_secs_f64()
    );

    // librosa, same clips, same settings, same run.
    let list = tmp.join("facevox-bench-clips.txt");
    std::fs::write(
        &list,
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/librosa_bench.py");
    let out = Command::new("python3")
        .arg(script)
        .args([
            "--clips",
            list.to_str().unwrap(),
            "--pipeline",
            wav48.to_str().unwrap(),
        ])
        .args(["--repeats", &repeats.to_string()])
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .env("NUMBA_NUM_THREADS", "1")
        .output();
    let json = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).to_string(),
        Ok(o) => {
            println!(
                "librosa comparison skipped: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            return;
        }
        Err(e) => {
            println!("librosa comparison skipped: cannot run python3 ({e})");
            return;
        }
    };
    let v: serde_json::Value =
        serde_json::from_str(json.trim()).expect("librosa_bench.py prints JSON");
    let lib_x = v["audio_seconds"].as_f64().unwrap() / v["mel_seconds"].as_f64().unwrap();
    let lib_pipe = v["pipeline_seconds_median"].as_f64().unwrap();
    println!(
        "librosa {} log-mel, 1 thread: {lib_x:>9.0} s of audio per s",
        v["librosa"].as_str().unwrap_or("?")
    );
    println!(
        "ratio facevox/librosa, 1 thread:   {:.1}x",
        single_x / lib_x
    );
    println!(
        "ratio facevox ({cores} threads)/librosa: {:.1}x",
        multi_x / lib_x
    );
    println!(
        "librosa load(sr=16000)+log-mel, 4 s 48 kHz WAV: {:.2} ms; ratio {:.1}x",
        lib_pipe * 1e3,
        lib_pipe / ours_pipeline.as_secs_f64()
    );
}
