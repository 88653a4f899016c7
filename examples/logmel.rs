//! Prints the log-mel spectrogram of an audio or video file (the audio front end on its own).
//!
//! ```text
//! cargo run --release --example logmel -- examples/data/01-01-07-02-02-01-01.mp4
//! ```
fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/data/01-01-07-02-02-01-01.mp4".into());
    let t = std::time::Instant::now();
    let raw = facevox::audio::decode_file(&path, &Default::default()).unwrap();
    println!(
        "{} {} Hz {:.3}s {:?}",
        path,
        raw.sample_rate,
        raw.duration_secs(),
        t.elapsed()
    );
    let clip = raw.resampled(16000).unwrap();
    let ex = facevox::audio::MelExtractor::new(Default::default()).unwrap();
    let mel = ex.compute(&clip).unwrap();
    println!("{} x {} {:?}", mel.n_mels, mel.n_frames, t.elapsed());
}
