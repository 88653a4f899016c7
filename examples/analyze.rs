//! The main job: perceived gender and emotion of a recording, fused from the face and the voice,
//! with the models compiled into the library.
//!
//! ```sh
//! cargo run --release --example analyze                          # the shipped example clip
//! cargo run --release --example analyze -- clip.mp4 [--json]      # a video, picture or audio
//! cargo run --release --example analyze -- face.png --audio a.flac  # a face and a voice together
//! cargo run --release --example analyze -- clip.mp4 --mode voice    # auto | face | voice | fused
//! cargo run --release --example analyze -- some/folder/ [--json]    # every file, on all cores
//! cargo run --release --example analyze -- clip.mp4 --frames       # and each sampled frame
//! cargo run --release --example analyze -- clip.mp4 --fps 2.5 --no-mirror  # faster, see README
//! ```
//!
//! Each branch runs on the modality the input has: the voice branch on audio (a video's audio
//! track), the face branch on a picture or on a video's frames (5 per second, faces followed,
//! probabilities averaged). The fused answer (a product of the two branches' probabilities)
//! is printed first, then each branch's own; a branch that cannot run (no face found, no audio
//! track) says why, and the other answers alone.

use std::path::{Path, PathBuf};

use facevox::{Analysis, Analyzer, EmotionPrediction, GenderPrediction, Mode};

const USAGE: &str =
    "usage: analyze [INPUT] [--audio FILE] [--mode auto|face|voice|fused] [--json] [--frames]
               [--fps N] [--no-mirror]
  (default INPUT: the shipped example clip; a folder: one line per file, JSON lines with --json;
  --frames: a video's face answer frame by frame too, always in the JSON;
  --fps: video frames analysed per second, default 5; --no-mirror: each face scored once, not
  also mirrored; both trade accuracy for speed, README \"Speed\")";

/// `analyze folder | head` closes standard output early: end quietly, as other command-line
/// tools do, instead of panicking in `println!`.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() {
    quiet_on_closed_stdout();
    let mut json = false;
    let mut frames = false;
    let mut input = None;
    let mut audio = None;
    let mut mode = Mode::Auto;
    let mut fps = None;
    let mut mirror = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--frames" => frames = true,
            "--audio" => audio = args.next().map(PathBuf::from),
            "--no-mirror" => mirror = false,
            "--fps" => match args.next().and_then(|v| v.parse::<f64>().ok()) {
                Some(v) => fps = Some(v),
                None => {
                    eprintln!("error: --fps wants a number\n{USAGE}");
                    std::process::exit(2);
                }
            },
            "--mode" => {
                mode = match args.next().as_deref() {
                    Some("auto") => Mode::Auto,
                    Some("face") => Mode::Face,
                    Some("voice") => Mode::Voice,
                    Some("fused") => Mode::Fused,
                    other => {
                        eprintln!("error: unknown mode {other:?}\n{USAGE}");
                        std::process::exit(2);
                    }
                }
            }
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return;
            }
            _ => input = Some(PathBuf::from(arg)),
        }
    }
    let analyzer = match make_analyzer(fps, mirror) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(if matches!(e, facevox::Error::InvalidConfig(_)) {
                2
            } else {
                1
            });
        }
    };
    let input = input.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/01-01-07-02-02-01-01.mp4")
    });
    if input.is_dir() {
        if audio.is_some() {
            eprintln!("error: --audio pairs one file, not a folder\n{USAGE}");
            std::process::exit(2);
        }
        if frames {
            eprintln!("error: --frames lists one video's frames, not a folder's\n{USAGE}");
            std::process::exit(2);
        }
        match run_folder(&analyzer, &input, mode, json) {
            Ok(failed) if failed > 0 => std::process::exit(1),
            Ok(_) => return,
            Err(e) => {
                eprintln!("error: {}: {e}", input.display());
                std::process::exit(1);
            }
        }
    }
    if let Err(e) = run(&analyzer, &input, audio.as_ref(), mode, json, frames) {
        eprintln!("error: {}: {e}", input.display());
        std::process::exit(1);
    }
}

/// The shipped models, with the face settings asked for.
fn make_analyzer(fps: Option<f64>, mirror: bool) -> facevox::Result<Analyzer> {
    let mut a = Analyzer::new()?.with_mirror(mirror);
    if let Some(fps) = fps {
        a = a.with_video_sampling(facevox::VideoSampling::new(fps)?)?;
    }
    Ok(a)
}

fn run(
    analyzer: &Analyzer,
    input: &PathBuf,
    audio: Option<&PathBuf>,
    mode: Mode,
    json: bool,
    frames: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let a: Analysis = match audio {
        Some(audio) => analyzer.analyze_pair(input, audio, mode)?,
        None => analyzer.analyze_file(input, mode)?,
    };
    if json {
        let mut v = serde_json::to_value(&a)?;
        strip_embeddings(&mut v);
        v["input"] = serde_json::json!(input.display().to_string());
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{}", input.display());
    if let Some(audio) = audio {
        println!("  with audio {}", audio.display());
    }
    if let Some(f) = &a.fused {
        let used: Vec<String> = f
            .modalities
            .iter()
            .map(|m| format!("{m:?}").to_lowercase())
            .collect();
        println!("  fused ({}, from {}):", f.method, used.join(" + "));
        if f.modalities.len() > f.emotion_modalities.len() {
            println!("    note: the face shows no expression, so the emotion is the voice's");
        }
        print_predictions(&f.gender, &f.emotion);
    }
    if let Some(r) = &a.voice {
        println!("  voice branch ({:.2} s of speech):", r.speech_seconds);
        if r.unfamiliar {
            println!(
                "    note: this recording is unlike those the voice model learned emotion from \
                 (unfamiliarity {:.2}); its emotion in particular is less reliable than stated",
                r.unfamiliarity.unwrap_or_default()
            );
        }
        print_predictions(&r.gender, &r.emotion);
    }
    if let Some(why) = &a.voice_skipped {
        println!("  voice branch: not run: {why}");
    }
    if let Some(r) = &a.face {
        println!(
            "  face branch (a face in {} of {} frames looked at):",
            r.faces, r.frames
        );
        print_predictions(&r.gender, &r.emotion);
        if frames {
            for f in &r.timeline {
                match (&f.face, &f.prediction) {
                    (Some(b), Some(p)) => println!(
                        "    {:6.2} s  face {:.0}x{:.0} at ({:.0}, {:.0})  {} {:.2}  {} {:.2}",
                        f.timestamp_secs,
                        b.width,
                        b.height,
                        b.x,
                        b.y,
                        p.gender.label,
                        p.gender.confidence,
                        p.emotion.label,
                        p.emotion.confidence
                    ),
                    _ => println!("    {:6.2} s  no face", f.timestamp_secs),
                }
            }
        }
    }
    if let Some(why) = &a.face_skipped {
        println!("  face branch: not run: {why}");
    }
    println!("  (perceived gender is a binary dataset label, not a fact about the person)");
    Ok(())
}

/// Every file of `dir` (sorted, not recursing), analysed on all cores with a progress line on
/// stderr; one line per file on stdout (a JSON object per line with `json`). Returns how many
/// failed; each failure is printed with its reason and never stops the others.
fn run_folder(
    analyzer: &Analyzer,
    dir: &Path,
    mode: Mode,
    json: bool,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let progress = |done: usize, total: usize| {
        eprint!("\ranalysed {done}/{total}");
        if done == total {
            eprintln!();
        }
    };
    let results = analyzer.analyze_files_with_progress(&files, mode, &progress);
    let mut failed = 0;
    for (path, r) in files.iter().zip(results) {
        let name = path.display().to_string();
        match r {
            Ok(a) if json => {
                let mut v = serde_json::to_value(&a)?;
                strip_embeddings(&mut v);
                v["input"] = serde_json::json!(name);
                println!("{}", serde_json::to_string(&v)?);
            }
            Ok(a) => {
                let (g, e, from) = if let Some(f) = &a.fused {
                    let from: Vec<String> = f
                        .modalities
                        .iter()
                        .map(|m| format!("{m:?}").to_lowercase())
                        .collect();
                    (&f.gender, &f.emotion, from.join("+"))
                } else if let Some(f) = &a.face {
                    (&f.gender, &f.emotion, "face".into())
                } else if let Some(v) = &a.voice {
                    (&v.gender, &v.emotion, "voice".into())
                } else {
                    unreachable!("an analysis answers with at least one branch")
                };
                let mark = |u: bool| if u { "?" } else { "" };
                println!(
                    "{name}\t{}{} {:.0}%\t{}{} {:.0}%\t{from}",
                    g.label,
                    mark(g.uncertain),
                    100.0 * g.confidence,
                    e.label,
                    mark(e.uncertain),
                    100.0 * e.confidence
                );
            }
            Err(e) => {
                failed += 1;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"input": name, "error": e.to_string()})
                    );
                } else {
                    println!("{name}\terror: {e}");
                }
            }
        }
    }
    eprintln!(
        "{} files, {} analysed, {failed} failed (a ? marks an answer below the abstention threshold)",
        files.len(),
        files.len() - failed
    );
    Ok(failed)
}

/// Drops the embeddings (for the fusion head, not for reading) from a JSON analysis.
fn strip_embeddings(v: &mut serde_json::Value) {
    for branch in ["face", "voice"] {
        if let Some(o) = v[branch].as_object_mut() {
            o.remove("embedding");
        }
    }
}

fn print_predictions(gender: &GenderPrediction, emotion: &EmotionPrediction) {
    // Below the abstention threshold the answer is "uncertain", with the leaning shown.
    let label = |uncertain: bool, label: String| {
        if uncertain {
            format!("uncertain (leaning {label})")
        } else {
            label
        }
    };
    println!(
        "    perceived gender: {} ({:.1}% confidence; P(female) = {:.3})",
        label(gender.uncertain, gender.label.to_string()),
        100.0 * gender.confidence,
        gender.p_female
    );
    println!(
        "    emotion: {} ({:.1}%)",
        label(emotion.uncertain, emotion.label.to_string()),
        100.0 * emotion.confidence
    );
    let mut probs = emotion.probabilities.clone();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (e, p) in probs {
        let bar = "#".repeat((p * 40.0).round() as usize);
        println!("      {:<10} {:>5.1}% {bar}", e.to_string(), 100.0 * p);
    }
}
