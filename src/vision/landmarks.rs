//! Five face landmarks and face alignment: a pure-Rust port of dlib's `shape_predictor` with
//! its 5-point face model, and a similarity warp that levels the eyes.
//!
//! # The model
//!
//! [`LandmarkModel`] runs dlib's cascade of regression trees (Kazemi and Sullivan, "One
//! millisecond face alignment with an ensemble of regression trees", CVPR 2014) exactly as
//! `dlib::shape_predictor` does. [`LandmarkModel::shipped`] loads dlib's
//! `shape_predictor_5_face_landmarks.dat` (Davis King, released into the public domain; see
//! `models/landmarks5.LICENSE`), converted to `models/landmarks5.safetensors` by
//! `tools/convert_dlib_shape_predictor.py` and compiled into the library (6.3 MB; the model has
//! 15 cascade levels of 500 depth-4 trees reading 800 pixels per level).
//!
//! The model finds the two corners of each eye and the bottom of the nose (the point under the
//! nose tip, where the septum meets the upper lip). **It has no mouth corners.** The points,
//! in dlib's order ("left" and "right" are as seen in the image; the subject's right eye is on
//! the image's left):
//!
//! | index | point |
//! |---|---|
//! | 0 | outer corner of the image-right eye |
//! | 1 | inner corner of the image-right eye |
//! | 2 | outer corner of the image-left eye |
//! | 3 | inner corner of the image-left eye |
//! | 4 | bottom of the nose |
//!
//! # Face boxes
//!
//! The model was trained on boxes from dlib's HOG face detector and expects boxes placed the
//! same way. [`LandmarkModel::predict`] takes such a box (a dlib `rectangle(l, t, r, b)` is
//! `FaceBox::new(l, t, r - l + 1, b - t + 1, _)`, see [`face_box_from_dlib_rect`]).
//! The bundled SeetaFace detector ([`SeetaDetector`](super::SeetaDetector)) places its boxes
//! differently; [`LandmarkModel::predict_seeta`] first moves a Seeta box by the fixed
//! [`BoxAdapter::SEETA_TO_DLIB`], which was fitted on real faces so that it lands where dlib's
//! detector would put its box.
//!
//! # Alignment
//!
//! [`align_face`] warps a face so that the eye centres (each the mean of the eye's two corners)
//! are level and at fixed positions ([`canonical_eye_positions`]), with the face as large in
//! the crop as an unaligned crop of a Seeta box with the same margin
//! ([`CropConfig::margin`](super::CropConfig)) would make it.
//!
//! ```no_run
//! use facevox::vision::{align_face, load_image, FaceDetector, LandmarkModel, SeetaDetector};
//!
//! let image = load_image("photo.jpg")?;
//! let mut detector = SeetaDetector::new()?;
//! let model = LandmarkModel::shipped()?;
//! for face in detector.detect(&image)? {
//!     let marks = model.predict_seeta_rgb(&image, &face)?;
//!     println!("roll {:.1} degrees, eyes {:.0} px apart", marks.roll_degrees(), marks.inter_ocular_distance());
//!     let aligned = align_face(&image, &marks, 64, 0.2)?;
//!     assert_eq!(aligned.dimensions(), (64, 64));
//! }
//! # Ok::<(), facevox::Error>(())
//! ```

use std::path::Path;
use std::sync::OnceLock;

use candle_core::{Device, Tensor};
use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use super::detect::FaceBox;
use crate::limits::MAX_CROP_SIZE;
use crate::{Error, Result};

/// dlib's 5-point model, converted (see `models/landmarks5.LICENSE`: public domain).
static SHIPPED_MODEL_BYTES: &[u8] = include_bytes!("../../models/landmarks5.safetensors");

/// Most landmarks a model file may declare.
const MAX_POINTS: usize = 1024;
/// Most cascade levels, trees per level, splits per tree and feature pixels per level a model
/// file may declare (each; dlib's own models use at most 15, 500, 15 and 800).
const MAX_LEVELS: usize = 64;
const MAX_TREES: usize = 10_000;
const MAX_SPLITS: usize = 1 << 12;
const MAX_FEATURES: usize = 1 << 16;

/// One split node of a regression tree (8 bytes, so a depth-4 tree's 15 splits fit in two
/// cache lines: the cascade's speed is bound by memory reads).
#[derive(Debug, Clone, Copy)]
struct Split {
    idx1: u16,
    idx2: u16,
    thresh: f32,
}

/// One level of the cascade: where its feature pixels are, and its forest.
#[derive(Debug, Clone)]
struct Level {
    /// Landmark each feature pixel is anchored to.
    anchor: Vec<u32>,
    /// Offset of each feature pixel from its anchor, in the mean shape's units.
    deltas: Vec<[f32; 2]>,
    /// `trees * splits_per_tree` splits, tree by tree, each tree in breadth-first order.
    splits: Vec<Split>,
    /// `trees * (splits_per_tree + 1) * 2 * points` leaf values.
    leaves: Vec<f32>,
}

/// A face landmark model: dlib's cascade of regression-tree forests.
///
/// Load the shipped 5-point model with [`LandmarkModel::shipped`], or any dlib
/// `shape_predictor` converted by `tools/convert_dlib_shape_predictor.py` with
/// [`LandmarkModel::from_bytes`] / [`LandmarkModel::from_path`].
#[derive(Debug, Clone)]
pub struct LandmarkModel {
    initial_shape: Vec<f32>,
    levels: Vec<Level>,
    splits_per_tree: usize,
}

impl LandmarkModel {
    /// The shipped 5-point model (dlib's `shape_predictor_5_face_landmarks.dat`), compiled into
    /// the library and parsed once per process.
    pub fn shipped() -> Result<&'static LandmarkModel> {
        static MODEL: OnceLock<std::result::Result<LandmarkModel, String>> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                LandmarkModel::from_bytes(SHIPPED_MODEL_BYTES).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Error::Corrupt(format!("the bundled landmark model does not load: {e}")))
    }

    /// Reads a model file written by `tools/convert_dlib_shape_predictor.py`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes)
    }

    /// Parses a model file (safetensors; see `tools/convert_dlib_shape_predictor.py` for its
    /// tensors) held in memory. Every size and index is checked, so a damaged file gives
    /// [`Error::InvalidModelFile`], never a panic at prediction time.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::InvalidModelFile(format!("landmark model: {m}"));
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let get = |name: &str, rank: usize| -> Result<(Vec<usize>, Vec<f32>)> {
            let t: &Tensor = tensors
                .get(name)
                .ok_or_else(|| bad(format!("tensor {name} is missing")))?;
            let dims = t.dims().to_vec();
            if dims.len() != rank {
                return Err(bad(format!(
                    "tensor {name} has shape {dims:?}, rank {rank} expected"
                )));
            }
            let values = t
                .to_dtype(candle_core::DType::F32)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| bad(format!("tensor {name}: {e}")))?;
            Ok((dims, values))
        };
        let (shape_dims, initial_shape) = get("initial_shape", 1)?;
        let (anchor_dims, anchor) = get("anchor_idx", 2)?;
        let (delta_dims, deltas) = get("deltas", 3)?;
        let (idx1_dims, idx1) = get("split_idx1", 3)?;
        let (idx2_dims, idx2) = get("split_idx2", 3)?;
        let (thresh_dims, thresh) = get("split_thresh", 3)?;
        let (leaf_dims, leaves) = get("leaves", 4)?;

        let coords = shape_dims[0];
        if coords == 0 || coords % 2 != 0 || coords / 2 > MAX_POINTS {
            return Err(bad(format!("initial_shape has {coords} values")));
        }
        let points = coords / 2;
        let (levels, features) = (anchor_dims[0], anchor_dims[1]);
        let (trees, splits) = (idx1_dims[1], idx1_dims[2]);
        if !(1..=MAX_LEVELS).contains(&levels)
            || !(1..=MAX_FEATURES).contains(&features)
            || !(1..=MAX_TREES).contains(&trees)
            || !(1..=MAX_SPLITS).contains(&splits)
        {
            return Err(bad(format!(
                "sizes out of range: {levels} levels, {features} features, {trees} trees, \
                 {splits} splits"
            )));
        }
        let expect = [
            ("deltas", delta_dims, vec![levels, features, 2]),
            ("split_idx1", idx1_dims.clone(), vec![levels, trees, splits]),
            ("split_idx2", idx2_dims, vec![levels, trees, splits]),
            ("split_thresh", thresh_dims, vec![levels, trees, splits]),
            ("leaves", leaf_dims, vec![levels, trees, splits + 1, coords]),
        ];
        for (name, got, want) in expect {
            if got != want {
                return Err(bad(format!(
                    "tensor {name} has shape {got:?}, {want:?} expected"
                )));
            }
        }
        let all_finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !all_finite(&initial_shape) || !all_finite(&deltas) || !all_finite(&leaves) {
            return Err(bad("non-finite shape, offset or leaf values".into()));
        }
        let index = |v: f32, limit: usize, what: &str| -> Result<u32> {
            if v >= 0.0 && v.fract() == 0.0 && (v as usize) < limit {
                Ok(v as u32)
            } else {
                Err(bad(format!("{what} index {v} is not in 0..{limit}")))
            }
        };
        let mut out = Vec::with_capacity(levels);
        let per_level_splits = trees * splits;
        let per_level_leaves = trees * (splits + 1) * coords;
        for c in 0..levels {
            let anchor = anchor[c * features..(c + 1) * features]
                .iter()
                .map(|&a| index(a, points, "anchor"))
                .collect::<Result<Vec<u32>>>()?;
            let deltas = deltas[c * features * 2..(c + 1) * features * 2]
                .chunks_exact(2)
                .map(|d| [d[0], d[1]])
                .collect();
            let range = c * per_level_splits..(c + 1) * per_level_splits;
            let splits = idx1[range.clone()]
                .iter()
                .zip(&idx2[range.clone()])
                .zip(&thresh[range])
                .map(|((&i1, &i2), &t)| {
                    Ok(Split {
                        idx1: index(i1, features, "feature")? as u16,
                        idx2: index(i2, features, "feature")? as u16,
                        thresh: t,
                    })
                })
                .collect::<Result<Vec<Split>>>()?;
            if splits.iter().any(|s| s.thresh.is_nan()) {
                return Err(bad("NaN split threshold".into()));
            }
            let leaves = leaves[c * per_level_leaves..(c + 1) * per_level_leaves].to_vec();
            out.push(Level {
                anchor,
                deltas,
                splits,
                leaves,
            });
        }
        Ok(Self {
            initial_shape,
            levels: out,
            splits_per_tree: splits,
        })
    }

    /// Landmarks the model finds (5 for the shipped model).
    pub fn num_points(&self) -> usize {
        self.initial_shape.len() / 2
    }

    /// The landmarks of the face in `face` (a dlib-style box, see the [module
    /// docs](self#face-boxes)), as `(x, y)` pixel positions of `gray` (pixel centres at
    /// whole numbers), in the model's order.
    ///
    /// This is `dlib::shape_predictor::operator()` step for step, except that the points are
    /// returned before dlib rounds them to whole pixels. Feature pixels that fall outside the
    /// image read as 0, as in dlib, so a face cut by the image edge still gets landmarks.
    ///
    /// Errors: [`Error::ImageTooSmall`] for an image under 2 pixels in either direction,
    /// [`Error::InvalidConfig`] for a box that is not finite, narrower or lower than 2 pixels,
    /// or wholly outside the image.
    pub fn predict_points(&self, gray: &GrayImage, face: &FaceBox) -> Result<Vec<[f32; 2]>> {
        let pixels = gray.as_raw();
        self.run(gray.width(), gray.height(), |i| pixels[i], face)
    }

    /// [`predict_points`](Self::predict_points) on an RGB image. Only the pixels the model
    /// reads are converted to grey, the way the detector converts whole images (BT.601 luma in
    /// 8.8 fixed point), so the result equals that of `predict_points` on the detector's grey
    /// image, without converting the whole picture.
    pub fn predict_points_rgb(&self, image: &RgbImage, face: &FaceBox) -> Result<Vec<[f32; 2]>> {
        let raw = image.as_raw();
        let pixel = |i: usize| super::detect::luma(&raw[3 * i..3 * i + 3]);
        self.run(image.width(), image.height(), pixel, face)
    }

    /// The cascade on a `width` x `height` image whose grey value at `y * width + x` is
    /// `pixel(y * width + x)`.
    fn run(
        &self,
        width: u32,
        height: u32,
        pixel: impl Fn(usize) -> u8,
        face: &FaceBox,
    ) -> Result<Vec<[f32; 2]>> {
        check_image(width, height)?;
        check_box(face, width, height)?;
        // dlib's unnormalising transform maps (0, 0), (1, 0), (1, 1) to the box's top-left,
        // top-right and bottom-right corners, with right = left + width - 1.
        let left = face.x as f64;
        let top = face.y as f64;
        let span_x = face.width as f64 - 1.0;
        let span_y = face.height as f64 - 1.0;
        let to_image = |u: f32, v: f32| (left + u as f64 * span_x, top + v as f64 * span_y);

        let (w, h) = (width as i64, height as i64);
        let mut shape = self.initial_shape.clone();
        let mut features: Vec<f32> = Vec::new();
        let mut starts: Vec<usize> = Vec::new();
        let coords = shape.len();
        let leaf_len = coords;
        let tree_leaves = (self.splits_per_tree + 1) * leaf_len;
        for level in &self.levels {
            let m = similarity(&self.initial_shape, &shape);
            features.clear();
            features.extend(level.anchor.iter().zip(&level.deltas).map(|(&a, d)| {
                let a = a as usize;
                let u = (m[0] * d[0] + m[1] * d[1]) + shape[2 * a];
                let v = (m[2] * d[0] + m[3] * d[1]) + shape[2 * a + 1];
                let (x, y) = to_image(u, v);
                // dlib converts to an integer point with floor(x + 0.5).
                let (px, py) = (floor_i64(x + 0.5), floor_i64(y + 0.5));
                if (0..w).contains(&px) && (0..h).contains(&py) {
                    pixel((py * w + px) as usize) as f32
                } else {
                    0.0
                }
            }));
            // Walk every tree first (branch-free, so the walks do not stall on mispredicted
            // branches), then add the leaves in tree order: their reads are then independent
            // and overlap, where they would otherwise each wait on a cache miss. The sum is the
            // same, in the same order, as dlib's.
            let s = self.splits_per_tree;
            starts.clear();
            starts.extend(level.splits.chunks_exact(s).enumerate().map(|(t, splits)| {
                let mut i = 0;
                while i < s {
                    let sp = splits[i];
                    let left = features[sp.idx1 as usize] - features[sp.idx2 as usize] > sp.thresh;
                    i = 2 * i + 2 - left as usize;
                }
                t * tree_leaves + (i - s) * leaf_len
            }));
            for &start in &starts {
                for (x, &d) in shape.iter_mut().zip(&level.leaves[start..start + leaf_len]) {
                    *x += d;
                }
            }
        }
        Ok(shape
            .chunks_exact(2)
            .map(|p| {
                let (x, y) = to_image(p[0], p[1]);
                [x as f32, y as f32]
            })
            .collect())
    }

    /// The five landmarks of the face in `face`, a dlib-style box (see
    /// [`predict_points`](Self::predict_points) for the details and errors).
    ///
    /// [`Error::InvalidModelFile`] when the model does not have exactly 5 points.
    pub fn predict(&self, gray: &GrayImage, face: &FaceBox) -> Result<Landmarks5> {
        Landmarks5::from_points(self.predict_points(gray, face)?)
    }

    /// [`predict`](Self::predict) on an RGB image (see
    /// [`predict_points_rgb`](Self::predict_points_rgb)).
    pub fn predict_rgb(&self, image: &RgbImage, face: &FaceBox) -> Result<Landmarks5> {
        Landmarks5::from_points(self.predict_points_rgb(image, face)?)
    }

    /// [`predict`](Self::predict) for a box from [`SeetaDetector`](super::SeetaDetector):
    /// the box is first moved by [`BoxAdapter::SEETA_TO_DLIB`].
    pub fn predict_seeta(&self, gray: &GrayImage, seeta_box: &FaceBox) -> Result<Landmarks5> {
        self.predict(gray, &BoxAdapter::SEETA_TO_DLIB.adapt(seeta_box))
    }

    /// [`predict_seeta`](Self::predict_seeta) on an RGB image (see
    /// [`predict_points_rgb`](Self::predict_points_rgb)).
    pub fn predict_seeta_rgb(&self, image: &RgbImage, seeta_box: &FaceBox) -> Result<Landmarks5> {
        self.predict_rgb(image, &BoxAdapter::SEETA_TO_DLIB.adapt(seeta_box))
    }
}

/// The linear part of the least-squares similarity transform (rotation and scale) taking the
/// points of `from` onto those of `to`, as `[a, -b, b, a]` (row-major 2x2).
///
/// dlib computes it with Umeyama's SVD method in double precision and casts it to f32; in two
/// dimensions that equals this closed form (up to rounding).
fn similarity(from: &[f32], to: &[f32]) -> [f32; 4] {
    let n = (from.len() / 2) as f64;
    if n < 2.0 {
        return [1.0, 0.0, 0.0, 1.0];
    }
    let mean = |s: &[f32]| {
        let (mut x, mut y) = (0f64, 0f64);
        for p in s.chunks_exact(2) {
            x += p[0] as f64;
            y += p[1] as f64;
        }
        (x / n, y / n)
    };
    let (fx, fy) = mean(from);
    let (tx, ty) = mean(to);
    let (mut dot, mut cross, mut norm) = (0f64, 0f64, 0f64);
    for (f, t) in from.chunks_exact(2).zip(to.chunks_exact(2)) {
        let (ax, ay) = (f[0] as f64 - fx, f[1] as f64 - fy);
        let (bx, by) = (t[0] as f64 - tx, t[1] as f64 - ty);
        dot += ax * bx + ay * by;
        cross += ax * by - ay * bx;
        norm += ax * ax + ay * ay;
    }
    if norm == 0.0 {
        return [1.0, 0.0, 0.0, 1.0];
    }
    let (a, b) = ((dot / norm) as f32, (cross / norm) as f32);
    [a, -b, b, a]
}

/// `v.floor() as i64` without a call into libm (baseline x86-64 has no rounding instruction);
/// saturating like `as` for values beyond the `i64` range.
#[inline]
fn floor_i64(v: f64) -> i64 {
    let i = v as i64;
    if (i as f64) > v {
        i.saturating_sub(1)
    } else {
        i
    }
}

fn check_image(width: u32, height: u32) -> Result<()> {
    if width < 2 || height < 2 {
        return Err(Error::ImageTooSmall { width, height });
    }
    Ok(())
}

fn check_box(face: &FaceBox, width: u32, height: u32) -> Result<()> {
    let finite = [face.x, face.y, face.width, face.height]
        .iter()
        .all(|v| v.is_finite());
    if !finite || face.width < 2.0 || face.height < 2.0 {
        return Err(Error::InvalidConfig(format!(
            "face box {face:?} is not a finite box of at least 2x2 pixels"
        )));
    }
    let outside = face.x + face.width <= 0.0
        || face.y + face.height <= 0.0
        || face.x >= width as f32
        || face.y >= height as f32;
    if outside {
        return Err(Error::InvalidConfig(format!(
            "face box {face:?} lies outside the {width}x{height} image"
        )));
    }
    Ok(())
}

/// The `FaceBox` of a dlib `rectangle(left, top, right, bottom)` (dlib's right and bottom are
/// inclusive: `width = right - left + 1`), score 0.
pub fn face_box_from_dlib_rect(left: f32, top: f32, right: f32, bottom: f32) -> FaceBox {
    FaceBox::new(left, top, right - left + 1.0, bottom - top + 1.0, 0.0)
}

/// A fixed change of a detector's face box into the box another detector would give: scaled
/// about its centre and moved by fractions of its size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxAdapter {
    /// Width and height are multiplied by this.
    pub scale: f32,
    /// The centre moves right by this fraction of the input box's width.
    pub dx: f32,
    /// The centre moves down by this fraction of the input box's height.
    pub dy: f32,
}

impl BoxAdapter {
    /// No change.
    pub const IDENTITY: BoxAdapter = BoxAdapter {
        scale: 1.0,
        dx: 0.0,
        dy: 0.0,
    };

    /// [`SeetaDetector`](super::SeetaDetector) boxes to the boxes of dlib's HOG detector
    /// (`dlib.get_frontal_face_detector()`), which the landmark model was trained on: 1.4%
    /// larger, its centre 0.5% of the width to the right and 4.6% of the height lower.
    ///
    /// These are the medians of the per-face ratios over 509 real faces where both detectors
    /// found the same face (30 frames of the example clip, the 20 RAVDESS stills, 459 FairFace
    /// crops; `tools/dlib_landmark_reference.py`). The two detectors differ more from face to
    /// face (interquartile ranges: scale 0.94 to 1.09, vertical shift -5% to +9%) than this
    /// correction, and more between large pictures (dlib's box 1.5% smaller and 10.5% lower)
    /// and small face crops found by Seeta's second pass (2.3% larger, 4% lower); the landmarks
    /// hardly depend on it: over scales 0.96 to 1.04 and shifts 0 to 8% the mean landmark error
    /// against dlib on its own boxes changes by less than 0.0006 (large pictures) and 0.007
    /// (crops) of the inter-ocular distance.
    pub const SEETA_TO_DLIB: BoxAdapter = BoxAdapter {
        scale: 1.014,
        dx: 0.005,
        dy: 0.046,
    };

    /// The adapted box (its score is kept).
    pub fn adapt(&self, face: &FaceBox) -> FaceBox {
        let (cx, cy) = face.center();
        let (cx, cy) = (cx + self.dx * face.width, cy + self.dy * face.height);
        let (w, h) = (face.width * self.scale, face.height * self.scale);
        FaceBox::new(cx - w / 2.0, cy - h / 2.0, w, h, face.score)
    }
}

/// The five landmarks of one face, in image pixel coordinates (pixel centres at whole numbers),
/// in the order of the [module docs](self): image-right eye outer and inner corners, image-left
/// eye outer and inner corners, bottom of the nose. There are no mouth corners.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Landmarks5 {
    /// `[x, y]` of each point.
    pub points: [[f32; 2]; 5],
}

impl Landmarks5 {
    fn from_points(points: Vec<[f32; 2]>) -> Result<Self> {
        let points: [[f32; 2]; 5] = points.try_into().map_err(|p: Vec<[f32; 2]>| {
            Error::InvalidModelFile(format!("landmark model has {} points, not 5", p.len()))
        })?;
        Ok(Self { points })
    }

    /// Centre of the eye on the image's left (the subject's right eye): the mean of its corners.
    pub fn left_eye_center(&self) -> [f32; 2] {
        mid(self.points[2], self.points[3])
    }

    /// Centre of the eye on the image's right (the subject's left eye): the mean of its corners.
    pub fn right_eye_center(&self) -> [f32; 2] {
        mid(self.points[0], self.points[1])
    }

    /// Bottom of the nose.
    pub fn nose(&self) -> [f32; 2] {
        self.points[4]
    }

    /// Distance between the two eye centres, in pixels.
    pub fn inter_ocular_distance(&self) -> f32 {
        let (l, r) = (self.left_eye_center(), self.right_eye_center());
        (r[0] - l[0]).hypot(r[1] - l[1])
    }

    /// Roll of the face: the angle of the line from the image-left eye centre to the image-right
    /// one, in degrees, positive when the image-right eye is lower (the head tilts clockwise as
    /// seen in the image), 0 when the eyes are level.
    pub fn roll_degrees(&self) -> f32 {
        let (l, r) = (self.left_eye_center(), self.right_eye_center());
        (r[1] - l[1]).atan2(r[0] - l[0]).to_degrees()
    }

    /// The landmarks moved by `(dx, dy)` and then scaled about the origin by `scale`, like
    /// [`FaceBox::transformed`].
    pub fn transformed(&self, dx: f32, dy: f32, scale: f32) -> Self {
        Self {
            points: self
                .points
                .map(|[x, y]| [(x + dx) * scale, (y + dy) * scale]),
        }
    }

    /// Whether every coordinate is finite.
    pub fn is_finite(&self) -> bool {
        self.points.iter().flatten().all(|v| v.is_finite())
    }
}

fn mid(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]
}

/// Where the eye centres of a typical face lie in a SeetaFace box, as fractions of the box's
/// width and height from its top-left corner: the midpoint between the eyes at
/// `(EYE_MID_X, EYE_MID_Y)`, the eyes `EYE_DISTANCE` of the width apart.
///
/// Measured (`tools/dlib_landmark_reference.py`, medians of dlib's landmarks in the paired Seeta
/// box): in large pictures (the example clip, RAVDESS stills; 50 faces) the midpoint is at
/// (0.504, 0.398) and the eyes 0.389 apart; in small face crops found by Seeta's second pass
/// (FairFace, 459 faces) at (0.488, 0.342), 0.403 apart. The constants are the mean of the two
/// kinds, with x set to the centre so that the layout is mirror-symmetric.
const EYE_MID_X: f32 = 0.5;
const EYE_MID_Y: f32 = 0.370;
const EYE_DISTANCE: f32 = 0.396;

/// The canonical eye centres of an aligned crop of `size` pixels with `margin` (the
/// [`CropConfig::margin`](super::CropConfig) convention), as `(image-left eye, image-right eye)`
/// `[x, y]` pixel positions (pixel centres at whole numbers).
///
/// An unaligned crop is a square `1 + 2 * margin` times the detector box, centred on it; a
/// typical face's eyes lie in a SeetaFace box at the fixed fractions measured on real faces, so
/// in that crop, with `s = size / (1 + 2 * margin)` the box's side in the crop, the eye midpoint
/// lies at `(size / 2 + (EYE_MID_X - 0.5) * s, size / 2 + (EYE_MID_Y - 0.5) * s)` and the eyes
/// are `EYE_DISTANCE * s` apart, level, where (see the constants' source) `EYE_MID_X = 0.5`,
/// `EYE_MID_Y = 0.370` and `EYE_DISTANCE = 0.396`. In fractions of the crop's side `size`
/// (edges at 0 and 1), the eyes are at `x = 0.5 ∓ 0.198 / (1 + 2 * margin)`,
/// `y = 0.5 - 0.130 / (1 + 2 * margin)`: with margin 0.2, at x = 0.359 and 0.641, y = 0.407
/// (pixels (22.4, 25.6) and (40.6, 25.6) of a 64-pixel crop).
pub fn canonical_eye_positions(size: u32, margin: f32) -> ([f32; 2], [f32; 2]) {
    let size = size as f32;
    let s = size / (1.0 + 2.0 * margin);
    // In edge coordinates (the crop spans 0..size), then to pixel centres.
    let mx = size / 2.0 + (EYE_MID_X - 0.5) * s - 0.5;
    let my = size / 2.0 + (EYE_MID_Y - 0.5) * s - 0.5;
    let half = EYE_DISTANCE * s / 2.0;
    ([mx - half, my], [mx + half, my])
}

/// The face of `landmarks` in `image`, warped by a similarity transform (rotation, uniform
/// scale, translation) so that its eye centres land on [`canonical_eye_positions`]`(size,
/// margin)`: eyes level, face as large in the `size` x `size` crop as an unaligned crop with
/// the same `margin` makes a typical face.
///
/// Sampling is bilinear; when the face is shrunk, each output pixel averages a grid of
/// `ceil(shrink)` x `ceil(shrink)` bilinear samples so downscaling does not alias. Points
/// outside the image take the nearest edge pixel.
///
/// Errors: [`Error::ImageTooSmall`] for an image under 2 pixels in either direction,
/// [`Error::InvalidConfig`] for a size outside `1..=1024`, a margin outside `[0, 2]`, or
/// landmarks that are not finite or put the eyes less than a pixel apart.
pub fn align_face(
    image: &RgbImage,
    landmarks: &Landmarks5,
    size: u32,
    margin: f32,
) -> Result<RgbImage> {
    check_image(image.width(), image.height())?;
    if size == 0 || size > MAX_CROP_SIZE {
        return Err(Error::InvalidConfig(format!(
            "aligned crop size must be in 1..={MAX_CROP_SIZE}, got {size}"
        )));
    }
    if !(0.0..=2.0).contains(&margin) {
        return Err(Error::InvalidConfig(format!(
            "margin must be in [0, 2], got {margin}"
        )));
    }
    let iod = landmarks.inter_ocular_distance();
    if !landmarks.is_finite() || !iod.is_finite() || iod < 1.0 {
        return Err(Error::InvalidConfig(format!(
            "landmarks {landmarks:?} are not finite or put the eyes less than a pixel apart"
        )));
    }
    let (src_l, src_r) = (landmarks.left_eye_center(), landmarks.right_eye_center());
    let (dst_l, dst_r) = canonical_eye_positions(size, margin);
    // Output -> input similarity: p_in = A p_out + t, with A = [[a, -b], [b, a]] taking the
    // canonical eye vector onto the image's.
    let (vx, vy) = ((src_r[0] - src_l[0]) as f64, (src_r[1] - src_l[1]) as f64);
    let (cx, cy) = ((dst_r[0] - dst_l[0]) as f64, (dst_r[1] - dst_l[1]) as f64);
    let n = cx * cx + cy * cy;
    let a = (vx * cx + vy * cy) / n;
    let b = (vy * cx - vx * cy) / n;
    let tx = src_l[0] as f64 - (a * dst_l[0] as f64 - b * dst_l[1] as f64);
    let ty = src_l[1] as f64 - (b * dst_l[0] as f64 + a * dst_l[1] as f64);
    let shrink = a.hypot(b);
    let k = (shrink.ceil() as usize).clamp(1, 16);
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    let sample = |x: f64, y: f64, out: &mut [f64; 3]| {
        let x = x.clamp(0.0, (w - 1) as f64);
        let y = y.clamp(0.0, (h - 1) as f64);
        // Both are clamped to be non-negative, so truncation is the floor.
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f64, y - y0 as f64);
        for (c, o) in out.iter_mut().enumerate() {
            let p = |xx: usize, yy: usize| raw[(yy * w + xx) * 3 + c] as f64;
            let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
            let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
            *o += top * (1.0 - fy) + bottom * fy;
        }
    };
    let mut out = RgbImage::new(size, size);
    for (ox, oy, px) in out.enumerate_pixels_mut() {
        let mut acc = [0f64; 3];
        for sy in 0..k {
            for sx in 0..k {
                let u = ox as f64 + (sx as f64 + 0.5) / k as f64 - 0.5;
                let v = oy as f64 + (sy as f64 + 0.5) / k as f64 - 0.5;
                sample(a * u - b * v + tx, b * u + a * v + ty, &mut acc);
            }
        }
        let kk = (k * k) as f64;
        // Non-negative, so adding 0.5 and truncating rounds to nearest.
        px.0 = acc.map(|v| (v / kk + 0.5).min(255.0) as u8);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_rotation_and_scale() {
        let from = [0.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let (c, s) = (
            30f32.to_radians().cos() * 2.0,
            30f32.to_radians().sin() * 2.0,
        );
        let to: Vec<f32> = from
            .chunks_exact(2)
            .flat_map(|p| [c * p[0] - s * p[1] + 5.0, s * p[0] + c * p[1] - 3.0])
            .collect();
        let m = similarity(&from, &to);
        for (got, want) in m.iter().zip([c, -s, s, c]) {
            assert!((got - want).abs() < 1e-5, "{m:?}");
        }
    }

    #[test]
    fn floor_matches_the_standard_library() {
        for v in [
            -2.5, -2.0, -1.5, -0.5, -0.0, 0.0, 0.49999, 0.5, 1.0, 1.5, 1e300, -1e300,
        ] {
            assert_eq!(floor_i64(v), v.floor() as i64, "{v}");
        }
    }

    #[test]
    fn box_adapter_scales_about_the_centre() {
        let b = FaceBox::new(10.0, 20.0, 100.0, 50.0, 3.0);
        assert_eq!(BoxAdapter::IDENTITY.adapt(&b), b);
        let a = BoxAdapter {
            scale: 2.0,
            dx: 0.1,
            dy: -0.2,
        }
        .adapt(&b);
        assert_eq!(a, FaceBox::new(-30.0, -15.0, 200.0, 100.0, 3.0));
    }

    #[test]
    fn eye_geometry() {
        let mut points = [[0.0; 2]; 5];
        points[2] = [10.0, 10.0];
        points[3] = [20.0, 10.0];
        points[1] = [40.0, 20.0];
        points[0] = [50.0, 20.0];
        let l = Landmarks5 { points };
        assert_eq!(l.left_eye_center(), [15.0, 10.0]);
        assert_eq!(l.right_eye_center(), [45.0, 20.0]);
        assert!((l.inter_ocular_distance() - 1000f32.sqrt()).abs() < 1e-4);
        assert!((l.roll_degrees() - (10f32 / 30.0).atan().to_degrees()).abs() < 1e-4);
    }
}
