//! Video in, timestamped RGB frames out: MP4 (ISO BMFF) demuxing and H.264 decoding with the
//! bundled OpenH264 decoder (built from source, no ffmpeg), plus clips given as a folder of
//! frame images.
//!
//! Every coded picture is decoded, because later pictures refer to it, but only the frames the
//! sampling rate keeps are converted from YUV to RGB. The decoder is fed one access unit at a
//! time and never flushed in between, which is what keeps B-frame streams whole; it emits
//! pictures in display order, and each gets the next presentation time from the sample table.
//! Streams without B-frames that restart at IDR pictures can be decoded a run of pictures per
//! thread ([`VideoConfig::decode_threads`]), with the same frames in the same order.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use image::RgbImage;
use openh264::decoder::{DecodeOptions, DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;
use serde::{Deserialize, Serialize};

use super::image_io::{load_image_with, ImageLimits};
use super::mp4::{avcc_to_annexb, codec_name, is_idr, AvcConfig, Mp4Demuxer, VideoCodec};
use crate::{Error, Result};

use crate::limits::MAX_VIDEO_SIDE;

/// How frames are read from a clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VideoConfig {
    /// Frames per second to keep (for example 5.0); `None` keeps every frame. Frames are kept at
    /// the first presentation time at or after each multiple of `1 / sample_fps`.
    pub sample_fps: Option<f64>,
    /// Longest clip accepted, in seconds; longer clips fail with [`Error::TooLong`].
    pub max_duration_secs: f64,
    /// Decoding threads: `1` (the default) decodes on the calling thread; `0` takes one per
    /// core, at most [`MAX_DECODE_THREADS`]. More than one helps streams that restart at IDR
    /// pictures (most camera and phone clips do, every second or two): the example clip
    /// decodes in about 190 ms instead of 300 ms on two cores. While a face tracker and a
    /// network share those two cores, it gains nothing, so the analyzers keep one.
    pub decode_threads: usize,
}

/// Most decoding threads [`VideoConfig::decode_threads`]` = 0` takes.
pub const MAX_DECODE_THREADS: usize = 4;

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            sample_fps: None,
            max_duration_secs: crate::limits::DEFAULT_MAX_VIDEO_SECONDS,
            decode_threads: 1,
        }
    }
}

impl VideoConfig {
    /// Every frame, default limits.
    pub fn all_frames() -> Self {
        Self::default()
    }

    /// `fps` frames per second, default limits.
    pub fn sampled(fps: f64) -> Self {
        Self {
            sample_fps: Some(fps),
            ..Self::default()
        }
    }

    /// The decoding threads to use (see [`decode_threads`](Self::decode_threads)).
    fn threads(&self) -> usize {
        match self.decode_threads {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_DECODE_THREADS),
            n => n,
        }
    }

    fn validate(&self) -> Result<()> {
        if let Some(fps) = self.sample_fps {
            if !(fps.is_finite() && fps > 0.0) {
                return Err(Error::InvalidConfig(format!(
                    "sample_fps must be positive, got {fps}"
                )));
            }
        }
        if self.max_duration_secs.is_nan() || self.max_duration_secs <= 0.0 {
            return Err(Error::InvalidConfig(format!(
                "max_duration_secs must be positive, got {}",
                self.max_duration_secs
            )));
        }
        Ok(())
    }
}

/// What the container says about a clip's video track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// Frame width in pixels (from the sample description).
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Coded pictures in the track (with any that an edit list does not show).
    pub frame_count: usize,
    /// From the first shown frame's presentation time to the end of the last frame, in seconds.
    pub duration_secs: f64,
    /// Mean frame rate.
    pub fps: f64,
    /// Codec and profile, for example "H.264 Main profile, level 4.1".
    pub codec: String,
    /// Clockwise quarter turn (0, 90, 180 or 270 degrees) from the track header's display
    /// matrix, as phones store portrait videos. Frames come out turned upright, so for 90 and
    /// 270 a frame is `height` wide and `width` high (`width` and `height` are the coded size).
    pub rotation: u32,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFrame {
    /// Position of the frame in display order among all frames of the clip (not only the kept ones).
    pub index: usize,
    /// Presentation time in seconds from the start of the clip.
    pub timestamp_secs: f64,
    /// The picture.
    pub image: RgbImage,
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Reads H.264 video from an MP4 file.
///
/// ```no_run
/// use facevox::vision::{VideoConfig, VideoReader};
/// let mut reader = VideoReader::open("clip.mp4")?;
/// println!("{} frames", reader.info().frame_count);
/// for frame in reader.frames(&VideoConfig::sampled(5.0))? {
///     let frame = frame?;
///     println!("{:.3} s: {}x{}", frame.timestamp_secs, frame.image.width(), frame.image.height());
/// }
/// # Ok::<(), facevox::Error>(())
/// ```
pub struct VideoReader {
    demux: Mp4Demuxer<Box<dyn ReadSeek>>,
    avc: AvcConfig,
    info: VideoInfo,
    /// Presentation times in seconds, sorted: the display order.
    display_times: Vec<f64>,
}

impl std::fmt::Debug for VideoReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoReader")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl VideoReader {
    /// Opens an MP4 file and reads its first video track's tables (no frame is decoded yet).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Self::from_reader(Box::new(BufReader::new(file)))
    }

    /// Reads an MP4 file held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_reader(Box::new(Cursor::new(bytes)))
    }

    fn from_reader(reader: Box<dyn ReadSeek>) -> Result<Self> {
        let demux = Mp4Demuxer::new(reader)?;
        let track = &demux.track;
        let avc = match &track.codec {
            VideoCodec::Avc(avc) => avc.clone(),
            VideoCodec::Other(kind) => return Err(Error::UnsupportedCodec(codec_name(kind))),
        };
        let profile = match avc.profile_idc {
            66 => "Baseline",
            77 => "Main",
            88 => "Extended",
            100 => "High",
            110 => "High 10",
            122 => "High 4:2:2",
            244 => "High 4:4:4",
            44 => "CAVLC 4:4:4",
            _ => "unknown",
        };
        if matches!(avc.profile_idc, 110 | 122 | 244 | 44) {
            return Err(Error::UnsupportedCodec(format!(
                "H.264 {profile} profile (only 8-bit 4:2:0: Baseline, Main and High)"
            )));
        }
        if avc.sps.is_empty() || avc.pps.is_empty() {
            return Err(Error::Corrupt("the avcC box holds no SPS or no PPS".into()));
        }
        if track.width == 0
            || track.height == 0
            || track.width > MAX_VIDEO_SIDE
            || track.height > MAX_VIDEO_SIDE
        {
            return Err(Error::InvalidHeader(format!(
                "video frame size {}x{}",
                track.width, track.height
            )));
        }
        let scale = track.timescale as f64;
        let mut display_times: Vec<f64> =
            track.samples.iter().map(|s| s.pts as f64 / scale).collect();
        display_times.sort_by(f64::total_cmp);
        let n = display_times.len();
        // Duration and rate of what is shown: an edit list may start after the first frames.
        let shown: Vec<f64> = display_times
            .iter()
            .copied()
            .filter(|&t| t >= -1e-6)
            .collect();
        let (first, last) = match (shown.first(), shown.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (display_times[0], display_times[n - 1]),
        };
        let n_shown = shown.len().max(1);
        let span = last - first;
        let mean_step = if n_shown > 1 {
            span / (n_shown - 1) as f64
        } else {
            0.0
        };
        let duration_secs = span + mean_step;
        let info = VideoInfo {
            width: track.width,
            height: track.height,
            frame_count: n,
            duration_secs,
            fps: if duration_secs > 0.0 {
                n_shown as f64 / duration_secs
            } else {
                0.0
            },
            codec: format!(
                "H.264 {profile} profile, level {}.{}",
                avc.level_idc / 10,
                avc.level_idc % 10
            ),
            rotation: track.rotation,
        };
        Ok(Self {
            demux,
            avc,
            info,
            display_times,
        })
    }

    /// What the container says about the track.
    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// Presentation time (seconds) of every frame, in display order.
    pub fn frame_times(&self) -> &[f64] {
        &self.display_times
    }

    /// Decodes the clip from the start, yielding the frames `config` keeps in display order.
    ///
    /// An item is `Err` when the stream turns out to be damaged; iteration stops after it.
    ///
    /// With more than one decoding thread (see [`VideoConfig::decode_threads`]) and a stream
    /// in display order (no B-frames) that restarts at IDR pictures, runs of pictures that
    /// begin at an IDR picture go to separate decoders on worker threads; the frames come out
    /// in the same order and are the same pictures as with one decoder.
    pub fn frames(&mut self, config: &VideoConfig) -> Result<Frames<'_>> {
        config.validate()?;
        if self.info.duration_secs > config.max_duration_secs {
            return Err(Error::TooLong {
                seconds: self.info.duration_secs,
                limit: config.max_duration_secs,
            });
        }
        let wanted = select_frames(&self.display_times, config.sample_fps);
        let samples = &self.demux.track.samples;
        let skip = skippable(samples, &wanted);
        let in_order = samples.windows(2).all(|w| w[0].pts < w[1].pts);
        // Places where a new decoder could start: sync samples that are decoded at all.
        let starts = samples
            .iter()
            .zip(&skip)
            .filter(|(s, &skip)| s.sync && !skip)
            .count();
        let threads = config.threads().min(starts);
        let plan = std::sync::Arc::new(Plan {
            avc: self.avc.clone(),
            wanted,
            skip,
            times: self.display_times.clone(),
            rotation: self.info.rotation,
        });
        let mode = if in_order && threads > 1 {
            Mode::Parallel(Workers::start(&plan, threads))
        } else {
            Mode::Sequential(Run::new(0)?)
        };
        Ok(Frames {
            reader: self,
            plan,
            mode,
            next_sample: 0,
            queue: VecDeque::new(),
            sample: Vec::new(),
            error: None,
            finished: false,
        })
    }

    /// Decodes the clip and collects the frames `config` keeps.
    pub fn read_frames(&mut self, config: &VideoConfig) -> Result<Vec<VideoFrame>> {
        self.frames(config)?.collect()
    }
}

/// Decodes the MP4 file at `path` and returns the frames `config` keeps.
pub fn read_video_frames(path: impl AsRef<Path>, config: &VideoConfig) -> Result<Vec<VideoFrame>> {
    VideoReader::open(path)?.read_frames(config)
}

/// What every decoder of one `frames` call needs to know about the clip.
struct Plan {
    avc: AvcConfig,
    /// Per display index: whether the frame is kept.
    wanted: Vec<bool>,
    /// Per sample: whether it need not be decoded (see [`skippable`]).
    skip: Vec<bool>,
    /// Presentation times in seconds, in display order.
    times: Vec<f64>,
    rotation: u32,
}

/// One decoder fed a run of consecutive samples from `start` on.
struct Run {
    decoder: Decoder,
    start: usize,
    /// Whether the SPS and PPS have gone to the decoder.
    params_sent: bool,
    /// Pictures filed so far (the display index of the next one).
    emitted: usize,
    annexb: Vec<u8>,
    /// Kept frames, in display order.
    frames: VecDeque<VideoFrame>,
}

impl Run {
    fn new(start: usize) -> Result<Self> {
        let api = OpenH264API::from_source();
        let decoder =
            Decoder::with_api_config(api, DecoderConfig::new().flush_after_decode(Flush::NoFlush))
                .map_err(|e| Error::Corrupt(format!("cannot start the H.264 decoder: {e}")))?;
        Ok(Self {
            decoder,
            start,
            params_sent: false,
            emitted: start,
            annexb: Vec::new(),
            frames: VecDeque::new(),
        })
    }

    /// Files a decoded picture: converts it to RGB when it is wanted.
    fn take(
        yuv: &DecodedYUV<'_>,
        emitted: &mut usize,
        plan: &Plan,
        out: &mut VecDeque<VideoFrame>,
    ) {
        let index = *emitted;
        *emitted += 1;
        if index < plan.wanted.len() && plan.wanted[index] {
            let image = yuv420_to_rgb(yuv);
            let image = match plan.rotation {
                90 => image::imageops::rotate90(&image),
                180 => image::imageops::rotate180(&image),
                270 => image::imageops::rotate270(&image),
                _ => image,
            };
            out.push_back(VideoFrame {
                index,
                timestamp_secs: plan.times[index],
                image,
            });
        }
    }

    /// Takes every picture the decoder still holds.
    fn drain(&mut self, plan: &Plan) -> Result<()> {
        let rest = self
            .decoder
            .flush_remaining()
            .map_err(|e| Error::Corrupt(format!("H.264 decoding failed: {e}")))?;
        for yuv in &rest {
            Self::take(yuv, &mut self.emitted, plan, &mut self.frames);
        }
        Ok(())
    }

    /// Decodes sample `i` (`data` as stored in the file).
    fn decode(&mut self, plan: &Plan, i: usize, data: &[u8]) -> Result<()> {
        self.annexb.clear();
        if !self.params_sent {
            self.params_sent = true;
            for ps in plan.avc.sps.iter().chain(&plan.avc.pps) {
                self.annexb.extend_from_slice(&[0, 0, 0, 1]);
                self.annexb.extend_from_slice(ps);
            }
        }
        avcc_to_annexb(data, plan.avc.nal_length_size, &mut self.annexb)?;
        let decoded = self
            .decoder
            .decode_with_options(
                &self.annexb,
                DecodeOptions::new().flush_after_decode(Flush::NoFlush),
            )
            .map_err(|e| Error::Corrupt(format!("H.264 decoding failed at sample {i}: {e}")))?;
        if let Some(yuv) = decoded {
            Self::take(&yuv, &mut self.emitted, plan, &mut self.frames);
        }
        Ok(())
    }

    /// Passes over sample `i`, which nothing needs (see [`skippable`]).
    fn skip(&mut self, plan: &Plan, i: usize) -> Result<()> {
        // Pictures still held belong to earlier samples; this one is never made.
        if i == self.start || !plan.skip[i - 1] {
            self.drain(plan)?;
        }
        self.emitted += 1;
        Ok(())
    }

    /// Ends the run before sample `end`: every picture must be out.
    fn finish(&mut self, plan: &Plan, end: usize) -> Result<()> {
        if end == self.start || !plan.skip[end - 1] {
            self.drain(plan)?;
        }
        if self.emitted != end {
            return Err(Error::Corrupt(format!(
                "the decoder produced {} pictures for {} coded frames",
                self.emitted - self.start,
                end - self.start
            )));
        }
        Ok(())
    }
}

/// A run of samples for a worker: `data[k]` is sample `start + k` (`None`: skipped).
struct Job {
    index: usize,
    start: usize,
    data: Vec<Option<Vec<u8>>>,
}

/// Decoding threads, each with its own decoder per job; results come back tagged with the
/// job's index. They stop when the job channel closes (the [`Frames`] is dropped).
struct Workers {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    results: std::sync::mpsc::Receiver<(usize, Decoded)>,
    threads: usize,
    /// Jobs sent so far, and the next one whose frames go out.
    sent: usize,
    next: usize,
    done: std::collections::BTreeMap<usize, Decoded>,
    /// The run being gathered by the reading thread.
    pending: Option<Job>,
}

impl Workers {
    fn start(plan: &std::sync::Arc<Plan>, threads: usize) -> Self {
        let (jobs, job_rx) = std::sync::mpsc::channel::<Job>();
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (result_tx, results) = std::sync::mpsc::channel();
        for _ in 0..threads {
            let job_rx = job_rx.clone();
            let result_tx = result_tx.clone();
            let plan = plan.clone();
            std::thread::spawn(move || loop {
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                // A panic must come back as an error: the reader waits for every job.
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    decode_job(&plan, &job)
                }))
                .unwrap_or_else(|_| {
                    let e = Error::Corrupt("the H.264 decoding thread panicked".into());
                    (Vec::new(), Some(e))
                });
                if result_tx.send((job.index, out)).is_err() {
                    return;
                }
            });
        }
        Self {
            jobs: Some(jobs),
            results,
            threads,
            sent: 0,
            next: 0,
            done: Default::default(),
            pending: None,
        }
    }

    fn send(&mut self, mut job: Job) {
        job.index = self.sent;
        self.sent += 1;
        if let Some(jobs) = &self.jobs {
            // A worker only stops when this sender is dropped, so the send cannot fail.
            let _ = jobs.send(job);
        }
    }
}

/// A run's kept frames, and the error that stopped it early, if any.
type Decoded = (Vec<VideoFrame>, Option<Error>);

/// Decodes one run with a fresh decoder.
fn decode_job(plan: &Plan, job: &Job) -> Decoded {
    let mut run = match Run::new(job.start) {
        Ok(run) => run,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let result = job
        .data
        .iter()
        .enumerate()
        .try_for_each(|(k, data)| match data {
            Some(data) => run.decode(plan, job.start + k, data),
            None => run.skip(plan, job.start + k),
        })
        .and_then(|()| run.finish(plan, job.start + job.data.len()));
    (run.frames.into(), result.err())
}

/// Fewest samples in a run handed to a worker (fewer: the run goes on past the IDR picture).
const MIN_RUN: usize = 8;

enum Mode {
    /// One decoder on the calling thread.
    Sequential(Run),
    /// Runs from IDR picture to IDR picture on worker threads.
    Parallel(Workers),
}

/// Iterator over decoded frames; see [`VideoReader::frames`].
pub struct Frames<'a> {
    reader: &'a mut VideoReader,
    plan: std::sync::Arc<Plan>,
    mode: Mode,
    next_sample: usize,
    queue: VecDeque<VideoFrame>,
    sample: Vec<u8>,
    /// An error to give once the frames decoded before it are out.
    error: Option<Error>,
    finished: bool,
}

impl std::fmt::Debug for Frames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frames")
            .field("next_sample", &self.next_sample)
            .field("parallel", &matches!(self.mode, Mode::Parallel(_)))
            .finish_non_exhaustive()
    }
}

impl Frames<'_> {
    /// One decoder: decodes the next sample (or finishes) and files its pictures.
    fn step_sequential(&mut self) -> Result<()> {
        let Mode::Sequential(run) = &mut self.mode else {
            unreachable!("called in sequential mode only")
        };
        let plan = &*self.plan;
        let n = plan.times.len();
        if self.next_sample < n {
            let i = self.next_sample;
            self.next_sample += 1;
            if plan.skip[i] {
                run.skip(plan, i)?;
            } else if let Err(e) = self.reader.demux.read_sample(i, &mut self.sample) {
                // The pictures decoded before an unreadable sample go out before its error.
                self.finished = true;
                self.error = Some(e);
                run.drain(plan)?;
            } else {
                run.decode(plan, i, &self.sample)?;
            }
        } else {
            self.finished = true;
            run.finish(plan, n)?;
        }
        self.queue.append(&mut run.frames);
        Ok(())
    }

    /// Worker threads: keeps up to twice as many runs in flight as there are workers, and
    /// puts the oldest run's frames in the queue once it is back. `Ok(false)`: no more.
    fn step_parallel(&mut self) -> Result<bool> {
        let Mode::Parallel(w) = &mut self.mode else {
            unreachable!("called in parallel mode only")
        };
        let plan = &*self.plan;
        let n = plan.times.len();
        loop {
            if let Some((frames, error)) = w.done.remove(&w.next) {
                w.next += 1;
                self.queue.extend(frames);
                // The run's frames go out before its error.
                self.error = error;
                return Ok(self.error.is_none());
            }
            let reading = self.next_sample < n || w.pending.is_some();
            if !reading && w.next == w.sent {
                return Ok(false);
            }
            if reading && w.sent - w.next < 2 * w.threads {
                // Gather the next run: from its first decoded sample up to the next IDR
                // picture at least MIN_RUN samples on.
                while self.next_sample < n {
                    let i = self.next_sample;
                    if plan.skip[i] {
                        self.next_sample += 1;
                        if let Some(job) = &mut w.pending {
                            job.data.push(None);
                        }
                        continue;
                    }
                    let mut data = Vec::new();
                    if let Err(e) = self.reader.demux.read_sample(i, &mut data) {
                        // Reported after the frames before it, as one decoder would.
                        self.next_sample = n;
                        if let Some(job) = w.pending.take() {
                            w.send(job);
                        }
                        w.done.insert(w.sent, (Vec::new(), Some(e)));
                        w.sent += 1;
                        break;
                    }
                    let sample = &self.reader.demux.track.samples[i];
                    let split = sample.sync && is_idr(&data, plan.avc.nal_length_size);
                    match &mut w.pending {
                        Some(job) if !(split && job.data.len() >= MIN_RUN) => {
                            job.data.push(Some(data));
                            self.next_sample += 1;
                        }
                        Some(_) => {
                            // Leaves sample i for the next run.
                            let job = w.pending.take().expect("matched Some");
                            w.send(job);
                            break;
                        }
                        None => {
                            w.pending = Some(Job {
                                index: 0,
                                start: i,
                                data: vec![Some(data)],
                            });
                            self.next_sample += 1;
                        }
                    }
                }
                if self.next_sample >= n {
                    if let Some(job) = w.pending.take() {
                        w.send(job);
                    }
                }
                continue;
            }
            match w.results.recv() {
                Ok((index, result)) => {
                    w.done.insert(index, result);
                }
                Err(_) => {
                    return Err(Error::Corrupt(
                        "a video decoding thread stopped unexpectedly".into(),
                    ))
                }
            }
        }
    }
}

impl Iterator for Frames<'_> {
    type Item = Result<VideoFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(frame) = self.queue.pop_front() {
                return Some(Ok(frame));
            }
            if let Some(e) = self.error.take() {
                self.finished = true;
                return Some(Err(e));
            }
            if self.finished {
                return None;
            }
            let step = match self.mode {
                Mode::Sequential(_) => self.step_sequential(),
                Mode::Parallel(_) => self.step_parallel().map(|more| {
                    if !more {
                        self.finished = true;
                    }
                }),
            };
            if let Err(e) = step {
                self.finished = true;
                self.queue.clear();
                return Some(Err(e));
            }
        }
    }
}

/// The samples a decode for `wanted` can leave out: when decode order is display order (no
/// B-frames), a sample after which no wanted frame comes before the next sync sample (or
/// the end) is needed by nothing. Sampling at a few frames per second then skips the end of
/// each group of pictures, and at one per group decodes only the key frames.
fn skippable(samples: &[super::mp4::Sample], wanted: &[bool]) -> Vec<bool> {
    let n = samples.len();
    let in_order = samples.windows(2).all(|w| w[0].pts < w[1].pts);
    if !in_order || wanted.len() != n {
        return vec![false; n];
    }
    let mut skip = vec![false; n];
    let mut needed = false;
    for i in (0..n).rev() {
        needed |= wanted[i];
        skip[i] = !needed;
        if samples[i].sync {
            needed = false;
        }
    }
    skip
}

/// Marks the frames kept at `fps`: the first frame at or after each multiple of `1 / fps`,
/// counted from the first frame. `times` must be sorted.
pub(crate) fn select_frames(times: &[f64], fps: Option<f64>) -> Vec<bool> {
    // Frames an edit list moves before time 0 are decoded (later frames may refer to them)
    // but never shown.
    let shown = |t: f64| t >= -1e-6;
    let Some(fps) = fps else {
        return times.iter().map(|&t| shown(t)).collect();
    };
    let step = 1.0 / fps;
    let t0 = times.iter().copied().find(|&t| shown(t)).unwrap_or(0.0);
    let mut next = 0.0;
    let mut k = 0u64;
    times
        .iter()
        .map(|&t| {
            let rel = t - t0;
            if shown(t) && rel + 1e-6 >= next {
                while next <= rel + 1e-6 {
                    k += 1;
                    next = k as f64 * step;
                }
                true
            } else {
                false
            }
        })
        .collect()
}

/// BT.601 limited-range YUV 4:2:0 to RGB: OpenH264's SIMD converter where it applies (width a
/// multiple of 8, even height), else [`yuv420_to_rgb_scalar`].
fn yuv420_to_rgb(yuv: &DecodedYUV<'_>) -> RgbImage {
    let (w, h) = yuv.dimensions();
    if w % 8 == 0 && h % 2 == 0 && h >= 2 {
        let mut out = vec![0u8; w * h * 3];
        yuv.write_rgb8(&mut out);
        return RgbImage::from_raw(w as u32, h as u32, out).expect("buffer sized for the frame");
    }
    yuv420_to_rgb_scalar(yuv)
}

/// BT.601 limited-range YUV 4:2:0 to RGB, in 16.8 fixed point; any frame size.
fn yuv420_to_rgb_scalar(yuv: &impl YUVSource) -> RgbImage {
    let (w, h) = yuv.dimensions();
    let (sy, su, sv) = yuv.strides();
    let (ys, us, vs) = (yuv.y(), yuv.u(), yuv.v());
    let mut out = vec![0u8; w * h * 3];
    for (row, line) in out.chunks_exact_mut(w * 3).enumerate() {
        let yrow = &ys[row * sy..row * sy + w];
        let crow = row / 2;
        let urow = &us[crow * su..];
        let vrow = &vs[crow * sv..];
        for (x, px) in line.chunks_exact_mut(3).enumerate() {
            let c = 298 * (yrow[x] as i32 - 16) + 128;
            let d = urow[x / 2] as i32 - 128;
            let e = vrow[x / 2] as i32 - 128;
            px[0] = ((c + 409 * e) >> 8).clamp(0, 255) as u8;
            px[1] = ((c - 100 * d - 208 * e) >> 8).clamp(0, 255) as u8;
            px[2] = ((c + 516 * d) >> 8).clamp(0, 255) as u8;
        }
    }
    RgbImage::from_raw(w as u32, h as u32, out).expect("buffer sized for the frame")
}

/// Reads a clip stored as a folder of frame images, `fps` frames per second, in natural file
/// name order (`frame2.png` before `frame10.png`). Only the frames `config` keeps are decoded.
pub fn frames_from_folder(
    dir: impl AsRef<Path>,
    fps: f64,
    config: &VideoConfig,
) -> Result<Vec<VideoFrame>> {
    config.validate()?;
    if !(fps.is_finite() && fps > 0.0) {
        return Err(Error::InvalidConfig(format!(
            "folder frame rate must be positive, got {fps}"
        )));
    }
    let dir = dir.as_ref();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    super::PICTURE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                })
        })
        .collect();
    if files.is_empty() {
        return Err(Error::Empty(format!(
            "no frame images (png, jpg, bmp, tif) in {}",
            dir.display()
        )));
    }
    files.sort_by_cached_key(|p| natural_key(&p.file_name().unwrap_or_default().to_string_lossy()));
    let times: Vec<f64> = (0..files.len()).map(|i| i as f64 / fps).collect();
    let duration = files.len() as f64 / fps;
    if duration > config.max_duration_secs {
        return Err(Error::TooLong {
            seconds: duration,
            limit: config.max_duration_secs,
        });
    }
    let wanted = select_frames(&times, config.sample_fps);
    let limits = ImageLimits::default();
    files
        .iter()
        .enumerate()
        .filter(|(i, _)| wanted[*i])
        .map(|(index, path)| {
            Ok(VideoFrame {
                index,
                timestamp_secs: times[index],
                image: load_image_with(path, &limits)?,
            })
        })
        .collect()
}

/// Sort key that orders digit runs by value: `f2` < `f10`.
fn natural_key(name: &str) -> Vec<(u8, u128, String)> {
    let mut key = Vec::new();
    let mut chars = name.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            let value = digits.parse::<u128>().unwrap_or(u128::MAX);
            key.push((0, value, digits));
        } else {
            let mut text = String::new();
            while let Some(&d) = chars.peek().filter(|d| !d.is_ascii_digit()) {
                text.push(d);
                chars.next();
            }
            key.push((1, 0, text));
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_samples_a_wanted_frame_depends_on_are_decoded() {
        // Two groups of 5 pictures (key frames at 0 and 5), in display order.
        let sample = |i: usize| super::super::mp4::Sample {
            offset: 0,
            size: 1,
            dts: i as i64,
            pts: i as i64,
            sync: i % 5 == 0,
        };
        let samples: Vec<_> = (0..10).map(sample).collect();
        let w = |idx: &[usize]| -> Vec<bool> { (0..10).map(|i| idx.contains(&i)).collect() };
        let skip = |idx: &[usize]| -> Vec<usize> {
            let s = skippable(&samples, &w(idx));
            (0..10).filter(|&i| s[i]).collect()
        };
        // Frame 2 needs 0..=2; 3 and 4 are needed by nothing; frame 6 needs 5..=6.
        assert_eq!(skip(&[2, 6]), vec![3, 4, 7, 8, 9]);
        // Key frames only: nothing else is decoded.
        assert_eq!(skip(&[0, 5]), vec![1, 2, 3, 4, 6, 7, 8, 9]);
        // Every frame: nothing skipped.
        assert!(skip(&(0..10).collect::<Vec<_>>()).is_empty());
        // Out of display order (B-frames): nothing is skipped.
        let mut reordered = samples.clone();
        reordered.swap(1, 2);
        assert!(skippable(&reordered, &w(&[0])).iter().all(|s| !s));
    }

    #[test]
    fn sampling_keeps_one_frame_per_period() {
        let times: Vec<f64> = (0..120).map(|i| i as f64 * 1001.0 / 30000.0).collect();
        let kept: Vec<usize> = select_frames(&times, Some(5.0))
            .iter()
            .enumerate()
            .filter(|(_, &k)| k)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(kept.len(), 20);
        assert_eq!(&kept[..4], &[0, 6, 12, 18]);
        for w in kept.windows(2) {
            let dt = times[w[1]] - times[w[0]];
            assert!((0.15..0.25).contains(&dt), "{dt}");
        }
        assert!(select_frames(&times, None).iter().all(|&k| k));
        // Asking for more than the native rate keeps every frame once.
        assert!(select_frames(&times, Some(100.0)).iter().all(|&k| k));
    }

    #[test]
    fn natural_order_sorts_numbers_by_value() {
        let mut names = vec!["f10.png", "f2.png", "f1.png", "a.png"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["a.png", "f1.png", "f2.png", "f10.png"]);
    }
}
