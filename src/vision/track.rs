//! Following one face through a clip: pick it, keep it (a search near the last position on most
//! frames, a full-frame detection every few frames), smooth its box, and report per frame whether
//! it was found. [`video_face_crops`] runs the whole path from a video file to face crops.

use std::path::Path;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::crop::{crop_face, CropConfig, FaceCrop};
use super::detect::{FaceBox, FaceDetector, FacePick, SeetaConfig, SeetaDetector};
use super::video::{frames_from_folder, VideoConfig, VideoFrame, VideoReader};
use crate::{Error, Result};

/// How a face is followed from frame to frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerConfig {
    /// Which face to follow when a full-frame detection finds several.
    pub pick: FacePick,
    /// A full-frame detection runs on every `redetect_every`-th frame (1 = every frame); the
    /// frames between only search around the face's last position.
    pub redetect_every: usize,
    /// Side of the search region around the last box, relative to the box's longer side.
    pub search_scale: f32,
    /// The search region is rescaled so the face is about this many pixels across.
    pub search_face_px: f32,
    /// Weight of a new detection in the smoothed box (1 = no smoothing, smaller = steadier).
    pub smoothing: f32,
    /// Frames without a detection after which the track is dropped.
    pub max_missed: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            pick: FacePick::Largest,
            redetect_every: 5,
            search_scale: 2.0,
            search_face_px: 80.0,
            smoothing: 0.6,
            max_missed: 5,
        }
    }
}

impl TrackerConfig {
    /// Checks every value is in range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.redetect_every == 0 {
            return bad("redetect_every must be at least 1".into());
        }
        if !(self.search_scale >= 1.0 && self.search_scale <= 8.0) {
            return bad(format!(
                "search_scale must be in [1, 8], got {}",
                self.search_scale
            ));
        }
        if !(self.search_face_px >= 40.0 && self.search_face_px <= 1000.0) {
            return bad(format!(
                "search_face_px must be in [40, 1000], got {}",
                self.search_face_px
            ));
        }
        if !(self.smoothing > 0.0 && self.smoothing <= 1.0) {
            return bad(format!(
                "smoothing must be in (0, 1], got {}",
                self.smoothing
            ));
        }
        Ok(())
    }
}

/// Follows the face of interest through consecutive frames.
#[derive(Debug)]
pub struct FaceTracker<D> {
    detector: D,
    config: TrackerConfig,
    track: Option<Track>,
    frames: usize,
}

#[derive(Debug, Clone, Copy)]
struct Track {
    smoothed: FaceBox,
    missed: usize,
}

impl FaceTracker<SeetaDetector> {
    /// A tracker using the default detector with its video settings
    /// ([`SeetaConfig::for_video`]).
    pub fn with_default_detector(config: TrackerConfig) -> Result<Self> {
        Self::new(
            SeetaDetector::with_config(SeetaConfig::for_video())?,
            config,
        )
    }
}

impl<D: FaceDetector> FaceTracker<D> {
    /// A tracker using `detector`.
    pub fn new(detector: D, config: TrackerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            detector,
            config,
            track: None,
            frames: 0,
        })
    }

    /// Forgets the face followed so far (for example at a scene cut or a new clip).
    pub fn reset(&mut self) {
        self.track = None;
        self.frames = 0;
    }

    /// The detector.
    pub fn detector_mut(&mut self) -> &mut D {
        &mut self.detector
    }

    /// Processes the next frame: the smoothed box of the followed face, or `None` when no face
    /// was found in this frame.
    pub fn update(&mut self, image: &RgbImage) -> Result<Option<FaceBox>> {
        let periodic = self.frames % self.config.redetect_every == 0;
        self.frames += 1;
        let mut found = None;
        if let (false, Some(track)) = (periodic, self.track) {
            found = self.search_near(image, &track.smoothed)?;
        }
        if found.is_none() {
            let faces = self.detector.detect(image)?;
            found = match self.track {
                // Stay with the followed face while it is still there.
                Some(t) => faces
                    .iter()
                    .copied()
                    .filter(|f| f.iou(&t.smoothed) > 0.2)
                    .max_by(|a, b| a.iou(&t.smoothed).total_cmp(&b.iou(&t.smoothed)))
                    .or_else(|| self.config.pick.pick(&faces)),
                None => self.config.pick.pick(&faces),
            };
        }
        match found {
            Some(face) => {
                let smoothed = match self.track {
                    Some(t) => blend(&t.smoothed, &face, self.config.smoothing),
                    None => face,
                };
                self.track = Some(Track {
                    smoothed,
                    missed: 0,
                });
                Ok(Some(smoothed))
            }
            None => {
                if let Some(t) = &mut self.track {
                    t.missed += 1;
                    if t.missed > self.config.max_missed {
                        self.track = None;
                    }
                }
                Ok(None)
            }
        }
    }

    /// Searches a region around `last`, rescaled so the face is `search_face_px` across.
    fn search_near(&mut self, image: &RgbImage, last: &FaceBox) -> Result<Option<FaceBox>> {
        let (w, h) = image.dimensions();
        let side = last.width.max(last.height) * self.config.search_scale;
        let (cx, cy) = last.center();
        let x0 = (cx - side / 2.0).max(0.0).floor();
        let y0 = (cy - side / 2.0).max(0.0).floor();
        let x1 = (cx + side / 2.0).min(w as f32).ceil();
        let y1 = (cy + side / 2.0).min(h as f32).ceil();
        if x1 - x0 < 8.0 || y1 - y0 < 8.0 {
            return Ok(None);
        }
        let (rw, rh) = ((x1 - x0) as u32, (y1 - y0) as u32);
        let region = image::imageops::crop_imm(image, x0 as u32, y0 as u32, rw, rh);
        let scale = (self.config.search_face_px / last.width.max(last.height)).min(1.0);
        let sub = if scale < 1.0 {
            let sw = ((rw as f32 * scale).round() as u32).max(1);
            let sh = ((rh as f32 * scale).round() as u32).max(1);
            image::imageops::thumbnail(&*region, sw, sh)
        } else {
            region.to_image()
        };
        let sx = rw as f32 / sub.width() as f32;
        let sy = rh as f32 / sub.height() as f32;
        let faces: Vec<FaceBox> = self
            .detector
            .detect(&sub)?
            .into_iter()
            .map(|f| {
                FaceBox::new(
                    x0 + f.x * sx,
                    y0 + f.y * sy,
                    f.width * sx,
                    f.height * sy,
                    f.score,
                )
            })
            .filter(|f| f.iou(last) > 0.1)
            .collect();
        Ok(faces
            .into_iter()
            .max_by(|a, b| a.iou(last).total_cmp(&b.iou(last))))
    }
}

/// Moves `old` towards `new` by `weight`, centre and size separately.
fn blend(old: &FaceBox, new: &FaceBox, weight: f32) -> FaceBox {
    let (ox, oy) = old.center();
    let (nx, ny) = new.center();
    let lerp = |a: f32, b: f32| a + weight * (b - a);
    let (cx, cy) = (lerp(ox, nx), lerp(oy, ny));
    let (bw, bh) = (lerp(old.width, new.width), lerp(old.height, new.height));
    FaceBox::new(cx - bw / 2.0, cy - bh / 2.0, bw, bh, new.score)
}

/// Everything that turns a clip into face crops; serde, so it can be saved with a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClipConfig {
    /// Which frames to read (default: 5 frames per second).
    pub video: VideoConfig,
    /// How the face is followed.
    pub tracker: TrackerConfig,
    /// How each crop is made.
    pub crop: CropConfig,
    /// Further crops of the same face per frame (for models whose networks read different
    /// crops); empty by default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_crops: Vec<CropConfig>,
}

impl ClipConfig {
    /// Checks the tracker and every crop config.
    pub fn validate(&self) -> Result<()> {
        self.tracker.validate()?;
        self.crop.validate()?;
        self.extra_crops.iter().try_for_each(CropConfig::validate)
    }
}

impl Default for ClipConfig {
    fn default() -> Self {
        Self {
            video: VideoConfig::sampled(5.0),
            tracker: TrackerConfig::default(),
            crop: CropConfig::default(),
            extra_crops: Vec::new(),
        }
    }
}

/// The face of one frame of a clip.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameFace {
    /// Display index of the frame in the clip.
    pub index: usize,
    /// Presentation time in seconds.
    pub timestamp_secs: f64,
    /// Smoothed box of the followed face; `None` when no face was found in this frame.
    pub face: Option<FaceBox>,
    /// The crop of that face; `None` exactly when `face` is.
    pub crop: Option<FaceCrop>,
    /// The face cropped with each of [`ClipConfig::extra_crops`] in order; empty when no face
    /// was found.
    pub extra_crops: Vec<FaceCrop>,
}

impl FrameFace {
    /// Whether a face was found in this frame.
    pub fn found(&self) -> bool {
        self.face.is_some()
    }
}

/// Follows the face through `frames` with `detector` and crops it in every frame.
pub fn track_faces<D: FaceDetector>(
    frames: impl IntoIterator<Item = Result<VideoFrame>>,
    detector: D,
    config: &ClipConfig,
) -> Result<Vec<FrameFace>> {
    config.validate()?;
    let mut tracker = FaceTracker::new(detector, config.tracker)?;
    let mut out = Vec::new();
    for frame in frames {
        let frame = frame?;
        let face = tracker.update(&frame.image)?;
        let (crop, extra_crops) = match &face {
            Some(f) => (
                Some(crop_face(&frame.image, f, &config.crop)?),
                config
                    .extra_crops
                    .iter()
                    .map(|c| crop_face(&frame.image, f, c))
                    .collect::<Result<_>>()?,
            ),
            None => (None, Vec::new()),
        };
        out.push(FrameFace {
            index: frame.index,
            timestamp_secs: frame.timestamp_secs,
            face,
            crop,
            extra_crops,
        });
    }
    Ok(out)
}

/// Video file to face crops: decodes the MP4 at `config.video`'s rate, follows the face with the
/// default detector and crops it in every kept frame.
///
/// ```no_run
/// use facevox::vision::{video_face_crops, ClipConfig};
/// let faces = video_face_crops("clip.mp4", &ClipConfig::default())?;
/// let found = faces.iter().filter(|f| f.found()).count();
/// println!("face in {found} of {} frames", faces.len());
/// # Ok::<(), facevox::Error>(())
/// ```
///
/// Decoding runs on a second thread while this one detects and crops, so on two or more cores
/// the path takes about as long as the slower of the two.
pub fn video_face_crops(path: impl AsRef<Path>, config: &ClipConfig) -> Result<Vec<FrameFace>> {
    let detector = SeetaDetector::with_config(SeetaConfig::for_video())?;
    config.validate()?;
    let mut reader = VideoReader::open(path)?;
    let frames = reader.frames(&config.video)?;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<VideoFrame>>(8);
        scope.spawn(move || {
            for frame in frames {
                // The receiver is gone when tracking failed: stop decoding.
                if tx.send(frame).is_err() {
                    break;
                }
            }
        });
        track_faces(rx, detector, config)
    })
}

/// Folder of frame images (`fps` frames per second) to face crops, as [`video_face_crops`].
pub fn folder_face_crops(
    dir: impl AsRef<Path>,
    fps: f64,
    config: &ClipConfig,
) -> Result<Vec<FrameFace>> {
    let frames = frames_from_folder(dir, fps, &config.video)?;
    track_faces(
        frames.into_iter().map(Ok),
        SeetaDetector::with_config(SeetaConfig::for_video())?,
        config,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A detector that reports a fixed list of boxes per call, for testing the tracker logic.
    struct Scripted(Vec<Vec<FaceBox>>, usize);

    impl FaceDetector for Scripted {
        fn detect(&mut self, image: &RgbImage) -> Result<Vec<FaceBox>> {
            let r = self.0.get(self.1).cloned().unwrap_or_default();
            self.1 += 1;
            // Boxes are given in full-frame coordinates; only full frames are passed here
            // because redetect_every is 1 in these tests.
            assert_eq!(image.width(), 100);
            Ok(r)
        }
    }

    fn b(x: f32, w: f32) -> FaceBox {
        FaceBox::new(x, 10.0, w, w, 5.0)
    }

    #[test]
    fn tracker_smooths_and_reports_misses() {
        let cfg = TrackerConfig {
            redetect_every: 1,
            smoothing: 0.5,
            max_missed: 1,
            ..Default::default()
        };
        let script = vec![
            vec![b(10.0, 20.0), b(60.0, 30.0)],
            vec![b(64.0, 30.0)],
            vec![],
            vec![],
            vec![b(0.0, 20.0)],
        ];
        let mut t = FaceTracker::new(Scripted(script, 0), cfg).unwrap();
        let img = RgbImage::new(100, 100);
        // The largest face is picked.
        assert_eq!(t.update(&img).unwrap(), Some(b(60.0, 30.0)));
        // Halfway to the new detection.
        assert_eq!(t.update(&img).unwrap().unwrap().x, 62.0);
        // Misses are reported per frame.
        assert_eq!(t.update(&img).unwrap(), None);
        assert_eq!(t.update(&img).unwrap(), None);
        // The track was dropped after two misses, so a new face starts unsmoothed.
        assert_eq!(t.update(&img).unwrap(), Some(b(0.0, 20.0)));
    }

    #[test]
    fn tracker_stays_with_the_followed_face() {
        let cfg = TrackerConfig {
            redetect_every: 1,
            smoothing: 1.0,
            ..Default::default()
        };
        // A larger face appears, but the followed one is still there.
        let script = vec![vec![b(10.0, 20.0)], vec![b(11.0, 20.0), b(50.0, 40.0)]];
        let mut t = FaceTracker::new(Scripted(script, 0), cfg).unwrap();
        let img = RgbImage::new(100, 100);
        t.update(&img).unwrap();
        assert_eq!(t.update(&img).unwrap(), Some(b(11.0, 20.0)));
    }

    #[test]
    fn bad_tracker_config_is_refused() {
        let cfg = TrackerConfig {
            redetect_every: 0,
            ..Default::default()
        };
        assert!(matches!(
            FaceTracker::new(Scripted(vec![], 0), cfg),
            Err(Error::InvalidConfig(_))
        ));
    }
}
