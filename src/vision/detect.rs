//! Face detection: a small [`FaceDetector`] trait, and [`SeetaDetector`], the default detector
//! that works offline out of the box.
//!
//! `SeetaDetector` runs the SeetaFace frontal face detector (Wu S, Kan M, He Z, Shan S, Chen X,
//! "Funnel-structured cascade for multi-view face detection with alignment-awareness",
//! Neurocomputing 2017) through the pure-Rust `rustface` port. Its model
//! (`models/seeta_fd_frontal_v1.0.bin`, BSD-2-Clause, from the `rustface` 0.1.7 package) is
//! compiled into the library, so nothing is loaded at run time.
//!
//! The cascade scans 40x40 windows over an image pyramid that starts at the image's own scale,
//! so its cost is set by how many pixels it scans. The detector first rescales the image so
//! that the smallest face of interest (a fraction of the image's shorter side) is about 40 pixels
//! across; a 640x480 frame is scanned at about 530x400. When that pass finds nothing in a small
//! picture, a second, finer pass pads the image by replicating its edges (so faces cut by the
//! border still fit a window), uses a denser pyramid and a 1-pixel window step, and accepts
//! lower scores: this is what finds the faces in tight face crops such as FairFace's (the first
//! pass alone finds about 77% of them, both passes about 96%).
//!
//! A third pass, [`SeetaConfig::mmod_fallback`] (on by default), runs dlib's CNN face
//! detector ([`MmodDetector`]) where both Seeta passes found nothing, on the picture shrunk to
//! at most 256 pixels on the longer side (whole video frames excepted:
//! [`SeetaConfig::for_video`]), and moves its boxes into Seeta's box geometry: on the
//! FairFace test part it finds a face in 66 of the 82 pictures where SeetaFace finds none, and
//! no box on 428 pictures without a face (`tests/mmod.rs`).

use std::io::Cursor;
use std::sync::OnceLock;

use image::{GrayImage, RgbImage};
use rustface::{Detector, ImageData, Model};
use serde::{Deserialize, Serialize};

use super::landmarks::BoxAdapter;
use super::mmod::{MmodConfig, MmodDetector};
use crate::limits::MAX_MMOD_PIXELS;
use crate::{Error, Result};

/// The SeetaFace frontal detection model, BSD-2-Clause (see `models/seeta_fd_frontal_v1.0.LICENSE`).
static SEETA_MODEL_BYTES: &[u8] = include_bytes!("../../models/seeta_fd_frontal_v1.0.bin");

/// Side of the cascade's detection window, in pixels of the scanned image.
const SEETA_WINDOW: f32 = 40.0;

fn seeta_model() -> Result<Model> {
    static MODEL: OnceLock<std::result::Result<Model, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            rustface::read_model(Cursor::new(SEETA_MODEL_BYTES)).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::Corrupt(format!("the bundled face model does not load: {e}")))
}

/// A face found in an image, in that image's pixel coordinates.
///
/// The box may extend past the image edge when the face does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
    /// Detector confidence; its scale depends on the detector (higher is more confident).
    pub score: f32,
}

impl FaceBox {
    /// A box from its left, top, width, height and score.
    pub fn new(x: f32, y: f32, width: f32, height: f32, score: f32) -> Self {
        Self {
            x,
            y,
            width,
            height,
            score,
        }
    }

    /// The whole of a `width` x `height` image, for pictures that are already face crops.
    pub fn whole_image(width: u32, height: u32) -> Self {
        Self::new(0.0, 0.0, width as f32, height as f32, f32::INFINITY)
    }

    /// Centre point `(x, y)`.
    pub fn center(&self) -> (f32, f32) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }

    /// Width × height.
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union with `other`, in [0, 1].
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let ix = (self.x + self.width).min(other.x + other.width) - self.x.max(other.x);
        let iy = (self.y + self.height).min(other.y + other.height) - self.y.max(other.y);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        inter / (self.area() + other.area() - inter)
    }

    /// The box moved by `(dx, dy)` and scaled about the origin by `scale`.
    pub fn transformed(&self, dx: f32, dy: f32, scale: f32) -> Self {
        Self::new(
            (self.x + dx) * scale,
            (self.y + dy) * scale,
            self.width * scale,
            self.height * scale,
            self.score,
        )
    }
}

/// Which face to analyse when an image holds several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FacePick {
    /// The largest box (usually the person nearest the camera).
    #[default]
    Largest,
    /// The box with the highest detector score.
    MostConfident,
}

impl FacePick {
    /// The chosen face among `faces`, or `None` when there are none.
    pub fn pick(self, faces: &[FaceBox]) -> Option<FaceBox> {
        let key = |f: &FaceBox| match self {
            FacePick::Largest => f.area(),
            FacePick::MostConfident => f.score,
        };
        faces
            .iter()
            .copied()
            .max_by(|a, b| key(a).total_cmp(&key(b)))
    }
}

/// Anything that finds faces in an RGB image.
///
/// Implement this to plug another detector into [`FaceTracker`](super::FaceTracker),
/// [`FaceCropper`](super::FaceCropper) and the clip functions.
pub trait FaceDetector {
    /// Every face found in `image`, in any order; empty when there is none.
    fn detect(&mut self, image: &RgbImage) -> Result<Vec<FaceBox>>;
}

impl<D: FaceDetector + ?Sized> FaceDetector for Box<D> {
    fn detect(&mut self, image: &RgbImage) -> Result<Vec<FaceBox>> {
        (**self).detect(image)
    }
}

impl<D: FaceDetector + ?Sized> FaceDetector for &mut D {
    fn detect(&mut self, image: &RgbImage) -> Result<Vec<FaceBox>> {
        (**self).detect(image)
    }
}

/// Settings of the second, finer pass that runs when the first finds no face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeetaRetryConfig {
    /// Border added on each side by replicating edge pixels, as a fraction of the longer side.
    pub edge_padding: f32,
    /// Ratio between pyramid levels (closer to 1 is denser and slower).
    pub pyramid_scale: f32,
    /// Step of the sliding window, in pixels.
    pub window_step: u32,
    /// Lowest cascade score accepted.
    pub score_threshold: f32,
    /// The retry runs only when the scanned picture's longer side is at most this many pixels:
    /// face crops and small photos get it, while a full video frame without a face stays cheap.
    pub max_side: u32,
}

impl Default for SeetaRetryConfig {
    /// 10% padding, pyramid ratio 0.93, a 1-pixel window step, score 0.5, pictures up to 400
    /// pixels: tuned on FairFace crops (every 15th row of its CSV from the first; the hit-rate
    /// test measures a disjoint sample).
    fn default() -> Self {
        Self {
            edge_padding: 0.1,
            pyramid_scale: 0.93,
            window_step: 1,
            score_threshold: 0.5,
            max_side: 400,
        }
    }
}

/// Settings of the MMOD fallback: dlib's CNN face detector ([`MmodDetector`]), run when both
/// SeetaFace passes find nothing.
///
/// Its boxes are moved into SeetaFace's box geometry by `adapter` (the crops and landmark
/// adapter expect Seeta boxes), and their scores are MMOD confidences (another scale than
/// Seeta's; the fallback only runs when Seeta found nothing, so the two never mix).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MmodFallbackConfig {
    /// The fallback runs on pictures whose longer side is at most this many pixels (of the
    /// picture given to the detector) as they are: face crops and small photos, and the region
    /// [`FaceTracker`](super::FaceTracker) searches around a face it follows (rescaled to about
    /// 160 px).
    pub max_side: u32,
    /// A larger picture is shrunk so its longer side is `max_side` for the fallback (its boxes
    /// scaled back), so a photo in which SeetaFace finds nothing gets the CNN detector too,
    /// for faces from about a sixth of its longer side; `false` leaves larger pictures to
    /// SeetaFace alone. The video paths turn it off ([`SeetaConfig::for_video`]): a whole frame
    /// without a face stays cheap.
    pub shrink_larger: bool,
    /// Upsampling and threshold of the MMOD detector ([`MmodConfig`]).
    pub mmod: MmodConfig,
    /// Moves an MMOD box to where SeetaFace would put its box.
    pub adapter: BoxAdapter,
}

impl Default for MmodFallbackConfig {
    /// Pictures up to 256 pixels as they are, larger ones shrunk to 256, upsampled once (faces
    /// from about 40 pixels across), threshold 0, boxes moved by
    /// [`BoxAdapter::MMOD_TO_SEETA`]. On the FairFace test part this finds a face in 66 of the
    /// 82 pictures where SeetaFace finds none, at about 50 ms each (see [`MmodDetector`]'s
    /// measurements).
    fn default() -> Self {
        Self {
            max_side: 256,
            shrink_larger: true,
            mmod: MmodConfig {
                upsample: 1,
                threshold: 0.0,
            },
            adapter: BoxAdapter::MMOD_TO_SEETA,
        }
    }
}

impl MmodFallbackConfig {
    /// Checks the values are usable: valid MMOD settings, a finite adapter with a positive
    /// scale, and a `max_side` whose square picture stays within [`MAX_MMOD_PIXELS`] after the
    /// upsampling.
    pub fn validate(&self) -> Result<()> {
        self.mmod.validate()?;
        let a = self.adapter;
        if !(a.scale > 0.0 && a.scale.is_finite() && a.dx.is_finite() && a.dy.is_finite()) {
            return Err(Error::InvalidConfig(format!(
                "the MMOD box adapter must be finite with a positive scale, got {a:?}"
            )));
        }
        let mut side = self.max_side as u64;
        for _ in 0..self.mmod.upsample {
            side = 2 * side + 2;
        }
        if self.max_side == 0 || side * side > MAX_MMOD_PIXELS {
            return Err(Error::InvalidConfig(format!(
                "mmod_fallback.max_side must be at least 1 and keep a square picture within \
                 {MAX_MMOD_PIXELS} pixels after upsampling {} times, got {}",
                self.mmod.upsample, self.max_side
            )));
        }
        Ok(())
    }
}

/// Settings of [`SeetaDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeetaConfig {
    /// Smallest face searched for, as a fraction of the image's shorter side.
    pub min_face_fraction: f32,
    /// Smallest face searched for, in pixels (at least 20; below 40 the image is upscaled).
    pub min_face_size: u32,
    /// Ratio between pyramid levels of the first pass.
    pub pyramid_scale: f32,
    /// Step of the first pass's sliding window, in pixels.
    pub window_step: u32,
    /// Lowest cascade score accepted by the first pass (SeetaFace's default is 2.0).
    pub score_threshold: f32,
    /// The finer second pass run when the first finds nothing; `None` turns it off.
    pub retry: Option<SeetaRetryConfig>,
    /// dlib's CNN face detector, run when both passes find nothing in a small picture (from
    /// [`FaceDetector::detect`] only: it needs colour). On by default; `None` (`null` in
    /// JSON) turns it off, and a configuration without the field gets the default.
    pub mmod_fallback: Option<MmodFallbackConfig>,
}

impl Default for SeetaConfig {
    fn default() -> Self {
        Self {
            min_face_fraction: 0.1,
            min_face_size: 40,
            pyramid_scale: 0.8,
            window_step: 4,
            score_threshold: 2.0,
            retry: Some(SeetaRetryConfig::default()),
            mmod_fallback: Some(MmodFallbackConfig::default()),
        }
    }
}

impl SeetaConfig {
    /// The default settings for whole video frames: the CNN fallback runs only on pictures of
    /// at most its `max_side` (the tracker's search regions), never on a shrunk whole frame, so
    /// a clip without a face stays cheap.
    pub fn for_video() -> Self {
        let mut c = Self::default();
        if let Some(f) = c.mmod_fallback.as_mut() {
            f.shrink_larger = false;
        }
        c
    }

    /// Checks every value is one the cascade accepts.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if !(0.0..=1.0).contains(&self.min_face_fraction) {
            return bad(format!(
                "min_face_fraction must be in [0, 1], got {}",
                self.min_face_fraction
            ));
        }
        if self.min_face_size < 20 {
            return bad(format!(
                "min_face_size must be at least 20 pixels, got {}",
                self.min_face_size
            ));
        }
        let passes = [(
            self.pyramid_scale,
            self.window_step,
            self.score_threshold,
            0.0f32,
        )]
        .into_iter()
        .chain(self.retry.map(|r| {
            (
                r.pyramid_scale,
                r.window_step,
                r.score_threshold,
                r.edge_padding,
            )
        }));
        for (scale, step, threshold, pad) in passes {
            if !(0.5..=0.99).contains(&scale) {
                return bad(format!("pyramid_scale must be in [0.5, 0.99], got {scale}"));
            }
            if !(1..=16).contains(&step) {
                return bad(format!("window_step must be in 1..=16, got {step}"));
            }
            if !(threshold > 0.0 && threshold.is_finite()) {
                return bad(format!("score_threshold must be positive, got {threshold}"));
            }
            if !(0.0..=1.0).contains(&pad) {
                return bad(format!("edge_padding must be in [0, 1], got {pad}"));
            }
        }
        if let Some(f) = &self.mmod_fallback {
            f.validate()?;
        }
        Ok(())
    }
}

/// The default face detector: SeetaFace's frontal cascade with its model built in.
///
/// Not `Send` (the cascade keeps per-detector buffers behind a trait object); make one per
/// thread, which is cheap because the model is parsed once per process.
pub struct SeetaDetector {
    config: SeetaConfig,
    first: Box<dyn Detector>,
    retry: Option<Box<dyn Detector>>,
    mmod: Option<MmodDetector>,
}

impl std::fmt::Debug for SeetaDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeetaDetector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SeetaDetector {
    /// A detector with the default settings.
    pub fn new() -> Result<Self> {
        Self::with_config(SeetaConfig::default())
    }

    /// A detector with the given settings.
    pub fn with_config(config: SeetaConfig) -> Result<Self> {
        config.validate()?;
        let make = |scale: f32, step: u32, threshold: f32| -> Result<Box<dyn Detector>> {
            let mut d = rustface::create_detector_with_model(seeta_model()?);
            d.set_pyramid_scale_factor(scale);
            d.set_slide_window_step(step, step);
            d.set_score_thresh(threshold as f64);
            Ok(d)
        };
        let first = make(
            config.pyramid_scale,
            config.window_step,
            config.score_threshold,
        )?;
        let retry = match config.retry {
            Some(r) => Some(make(r.pyramid_scale, r.window_step, r.score_threshold)?),
            None => None,
        };
        let mmod = match &config.mmod_fallback {
            Some(f) => Some(MmodDetector::shipped()?.with_config(f.mmod)?),
            None => None,
        };
        Ok(Self {
            config,
            first,
            retry,
            mmod,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &SeetaConfig {
        &self.config
    }

    /// Detects faces in a greyscale image with the SeetaFace passes (the MMOD fallback, which
    /// needs colour, runs only from [`FaceDetector::detect`]).
    pub fn detect_gray(&mut self, gray: &GrayImage) -> Vec<FaceBox> {
        let (w, h) = gray.dimensions();
        if w == 0 || h == 0 {
            return Vec::new();
        }
        let short = w.min(h) as f32;
        let min_face =
            (self.config.min_face_fraction * short).max(self.config.min_face_size as f32);
        let scale = SEETA_WINDOW / min_face;
        let sw = ((w as f32 * scale).round() as u32).max(1);
        let sh = ((h as f32 * scale).round() as u32).max(1);
        let scaled_storage;
        let scaled = if (sw, sh) == (w, h) {
            gray
        } else {
            scaled_storage = if scale < 1.0 {
                image::imageops::thumbnail(gray, sw, sh)
            } else {
                image::imageops::resize(gray, sw, sh, image::imageops::FilterType::Triangle)
            };
            &scaled_storage
        };
        let (sx, sy) = (w as f32 / sw as f32, h as f32 / sh as f32);
        let to_input =
            |f: FaceBox| FaceBox::new(f.x * sx, f.y * sy, f.width * sx, f.height * sy, f.score);
        let faces = run_cascade(self.first.as_mut(), scaled, 0);
        if !faces.is_empty() {
            return faces.into_iter().map(to_input).collect();
        }
        let (Some(retry), Some(rc)) = (self.retry.as_mut(), self.config.retry) else {
            return Vec::new();
        };
        if sw.max(sh) > rc.max_side {
            return Vec::new();
        }
        let pad = (rc.edge_padding * sw.max(sh) as f32).round() as u32;
        let padded = pad_edges(scaled, pad);
        run_cascade(retry.as_mut(), &padded, pad)
            .into_iter()
            .map(to_input)
            .collect()
    }
}

impl FaceDetector for SeetaDetector {
    /// The SeetaFace passes on the picture's grey version; then, only when they found nothing
    /// and [`SeetaConfig::mmod_fallback`] is on, dlib's CNN detector on the colour picture
    /// (shrunk to the fallback's `max_side` if it is larger and `shrink_larger` is on), its
    /// boxes moved into Seeta's geometry.
    fn detect(&mut self, image: &RgbImage) -> Result<Vec<FaceBox>> {
        let faces = self.detect_gray(&rgb_to_gray(image));
        let (Some(mmod), Some(f)) = (&self.mmod, &self.config.mmod_fallback) else {
            return Ok(faces);
        };
        let (w, h) = image.dimensions();
        let side = w.max(h);
        if !faces.is_empty() || side == 0 || (side > f.max_side && !f.shrink_larger) {
            return Ok(faces);
        }
        let shrunk;
        let (picture, sx, sy) = if side > f.max_side {
            let k = f.max_side as f32 / side as f32;
            let (nw, nh) = (
                ((w as f32 * k).round() as u32).max(1),
                ((h as f32 * k).round() as u32).max(1),
            );
            shrunk = image::imageops::resize(image, nw, nh, image::imageops::FilterType::Triangle);
            (&shrunk, w as f32 / nw as f32, h as f32 / nh as f32)
        } else {
            (image, 1.0, 1.0)
        };
        Ok(mmod
            .detect_rects(picture)?
            .iter()
            .map(|d| {
                let b = d.face_box();
                let b = FaceBox::new(b.x * sx, b.y * sy, b.width * sx, b.height * sy, b.score);
                f.adapter.adapt(&b)
            })
            .collect())
    }
}

/// Runs one cascade on `image`, returning boxes with the `pad` border removed.
fn run_cascade(detector: &mut dyn Detector, image: &GrayImage, pad: u32) -> Vec<FaceBox> {
    if (image.width().min(image.height()) as f32) < SEETA_WINDOW {
        return Vec::new();
    }
    let data = ImageData::new(image.as_raw(), image.width(), image.height());
    detector
        .detect(&data)
        .into_iter()
        .map(|f| {
            let b = f.bbox();
            FaceBox::new(
                b.x() as f32 - pad as f32,
                b.y() as f32 - pad as f32,
                b.width() as f32,
                b.height() as f32,
                f.score() as f32,
            )
        })
        .collect()
}

/// A copy of `image` with a border of `pad` pixels that repeats its edge pixels.
fn pad_edges(image: &GrayImage, pad: u32) -> GrayImage {
    let (w, h) = image.dimensions();
    GrayImage::from_fn(w + 2 * pad, h + 2 * pad, |x, y| {
        let sx = x.saturating_sub(pad).min(w - 1);
        let sy = y.saturating_sub(pad).min(h - 1);
        *image.get_pixel(sx, sy)
    })
}

/// BT.601 luma of one RGB pixel (`[r, g, b]`), in 8.8 fixed point.
#[inline]
pub(crate) fn luma(p: &[u8]) -> u8 {
    ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32 + 128) >> 8) as u8
}

/// BT.601 luma of an RGB image, in 8.8 fixed point ([`luma`] of each pixel).
pub(crate) fn rgb_to_gray(image: &RgbImage) -> GrayImage {
    let data: Vec<u8> = image.as_raw().chunks_exact(3).map(luma).collect();
    GrayImage::from_raw(image.width(), image.height(), data).expect("one byte per pixel")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        let a = FaceBox::new(0.0, 0.0, 10.0, 10.0, 1.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&FaceBox::new(20.0, 0.0, 10.0, 10.0, 1.0)), 0.0);
        let half = a.iou(&FaceBox::new(5.0, 0.0, 10.0, 10.0, 1.0));
        assert!((half - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn pick_chooses_by_area_or_score() {
        let small_sure = FaceBox::new(0.0, 0.0, 10.0, 10.0, 9.0);
        let big_unsure = FaceBox::new(0.0, 0.0, 50.0, 50.0, 1.0);
        let faces = [small_sure, big_unsure];
        assert_eq!(FacePick::Largest.pick(&faces), Some(big_unsure));
        assert_eq!(FacePick::MostConfident.pick(&faces), Some(small_sure));
        assert_eq!(FacePick::Largest.pick(&[]), None);
    }

    #[test]
    fn invalid_settings_are_refused_not_panicked_on() {
        for c in [
            SeetaConfig {
                min_face_size: 10,
                ..Default::default()
            },
            SeetaConfig {
                window_step: 0,
                ..Default::default()
            },
            SeetaConfig {
                pyramid_scale: 1.5,
                ..Default::default()
            },
            SeetaConfig {
                score_threshold: 0.0,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                SeetaDetector::with_config(c),
                Err(Error::InvalidConfig(_))
            ));
        }
    }

    #[test]
    fn blank_and_tiny_images_have_no_faces() {
        let mut d = SeetaDetector::new().unwrap();
        assert!(d.detect(&RgbImage::new(1, 1)).unwrap().is_empty());
        assert!(d.detect(&RgbImage::new(30, 200)).unwrap().is_empty());
        assert!(d
            .detect(&RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128])))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn edge_padding_repeats_border_pixels() {
        let img = GrayImage::from_fn(3, 2, |x, y| image::Luma([(10 * y + x) as u8]));
        let p = pad_edges(&img, 2);
        assert_eq!(p.dimensions(), (7, 6));
        assert_eq!(p.get_pixel(0, 0).0[0], 0);
        assert_eq!(p.get_pixel(6, 5).0[0], 12);
        assert_eq!(p.get_pixel(3, 2).0[0], 1);
    }
}
