//! A second face detector: a pure-Rust port of dlib's CNN face detector (MMOD,
//! `mmod_human_face_detector.dat`), the default detector's fallback for small pictures where
//! SeetaFace finds nothing.
//!
//! # The model
//!
//! [`MmodDetector`] runs Davis King's max-margin object detection CNN (King, "Max-Margin Object
//! Detection", arXiv:1502.00046, 2015) exactly as `dlib.cnn_face_detection_model_v1` does:
//!
//! 1. with `upsample` > 0 the picture is first enlarged by dlib's `pyramid_up` (bilinear, a
//!    little over twice the size per step);
//! 2. the picture and its `pyramid_down<6>` levels (each 5/6 of the one before, down to 5
//!    pixels high) are packed into one tiled image with 10 pixels between tiles and an 11-pixel
//!    border, each level interpolated from the one before (dlib's `input_rgb_image_pyramid`);
//! 3. the net: three 5x5 stride-2 convolutions (16, 32, 32 filters), three 5x5 convolutions of
//!    45 filters, each followed by a per-channel affine (dlib's batch norm, folded) and a ReLU,
//!    then one 9x9 convolution to a single score map;
//! 4. every position scoring above the threshold (0 by default) is an 80x80 window in the tiled
//!    image, mapped back to the picture through the pyramid level it falls in; the windows are
//!    sorted by score and kept unless one kept before overlaps them by dlib's test (the
//!    intersection over the *bounding* box of the pair above 0.338, or one box covering the
//!    other);
//! 5. the boxes are mapped back through the upsampling.
//!
//! Every step follows dlib 20's own code (including its float rounding in the interpolations),
//! so boxes are the same whole-pixel rectangles as dlib's and confidences agree to float
//! precision (`tests/mmod.rs` checks against dlib's Python wheel).
//!
//! The model (`models/mmod_face.safetensors`, 181,141 parameters, 0.7 MB; public domain, see
//! `models/mmod_face.LICENSE`) is converted from dlib's file by `tools/convert_dlib_mmod.py` and
//! compiled into the library.
//!
//! # Use
//!
//! The detector finds faces from about 80 pixels across at `upsample` 0 (the window is 80x80),
//! about 40 at 1 and 20 at 2; each step quadruples the work. It is much slower than SeetaFace:
//! a 96x96 picture takes about 50 ms at `upsample` 1 and 200 ms at 2 (release build, one
//! thread, `cargo bench --bench vision -- mmod`; dlib's own Python wheel takes about 210 ms and
//! 1,080 ms on the same FairFace pictures). So it is not the first detector:
//! [`SeetaConfig::mmod_fallback`] (on by default) runs it only when both Seeta passes find
//! nothing (on the picture shrunk to at most 256 pixels; never on a whole video frame), and
//! moves its boxes into Seeta's box geometry ([`BoxAdapter::MMOD_TO_SEETA`]).
//!
//! What that recovers (`measure_fallback` in `tests/mmod.rs`): of the 82 pictures of the
//! FairFace test part (3,000) where SeetaFace finds no face, MMOD finds one in 66 at
//! `upsample` 1 (52 at 2); on 428 pictures without a face (background patches of the example
//! clip, the sides of the RAVDESS stills, those stills and clip frames with the face painted
//! over, block-scrambled FairFace pictures, synthetic textures) it reports no box at all.
//!
//! ```no_run
//! use facevox::vision::{load_image, FaceDetector, MmodConfig, MmodDetector};
//!
//! let image = load_image("photo.jpg")?;
//! let config = MmodConfig { upsample: 1, ..Default::default() };
//! let mut detector = MmodDetector::shipped()?.with_config(config)?;
//! for face in detector.detect(&image)? {
//!     println!("face at ({}, {}), confidence {:.2}", face.x, face.y, face.score);
//! }
//! # Ok::<(), facevox::Error>(())
//! ```
//!
//! [`SeetaConfig::mmod_fallback`]: super::SeetaConfig::mmod_fallback

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use candle_core::{Device, Tensor};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::detect::{FaceBox, FaceDetector};
use super::landmarks::BoxAdapter;
use crate::limits::MAX_MMOD_PIXELS;
use crate::model::conv::{conv2d, ConvGeometry};
use crate::{Error, Result};

/// dlib's `mmod_human_face_detector.dat`, converted (see `models/mmod_face.LICENSE`: public
/// domain).
static SHIPPED_MODEL_BYTES: &[u8] = include_bytes!("../../models/mmod_face.safetensors");

/// Most times a picture may be upsampled before detection.
pub const MAX_MMOD_UPSAMPLE: u32 = 4;

/// Most values one convolution's column buffer holds at a time: larger inputs are convolved in
/// bands of output rows, so a big picture does not need gigabytes of scratch memory.
const BAND_VALUES: usize = 1 << 22;

/// Settings of [`MmodDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MmodConfig {
    /// Times the picture is enlarged (dlib's `pyramid_up`, about 2x each) before detection:
    /// the `upsample_num_times` of `dlib.cnn_face_detection_model_v1(...)(img,
    /// upsample_num_times)`. 0 finds faces from about 80 pixels across, 1 from about 40, 2 from
    /// about 20. At most [`MAX_MMOD_UPSAMPLE`].
    pub upsample: u32,
    /// Windows scoring above this are detections (dlib's `adjust_threshold`, 0 in its Python
    /// API). Lower finds more faces and more false ones.
    pub threshold: f32,
}

impl Default for MmodConfig {
    /// dlib's Python defaults: no upsampling, threshold 0.
    fn default() -> Self {
        Self {
            upsample: 0,
            threshold: 0.0,
        }
    }
}

impl MmodConfig {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<()> {
        if self.upsample > MAX_MMOD_UPSAMPLE {
            return Err(Error::InvalidConfig(format!(
                "upsample must be at most {MAX_MMOD_UPSAMPLE}, got {}",
                self.upsample
            )));
        }
        if !self.threshold.is_finite() {
            return Err(Error::InvalidConfig(format!(
                "threshold must be finite, got {}",
                self.threshold
            )));
        }
        Ok(())
    }
}

/// One detection in dlib's own terms: an inclusive whole-pixel rectangle (`right` and `bottom`
/// are the last pixel inside, as in `dlib.rectangle`) and the window's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MmodDetection {
    /// Left edge (first column inside).
    pub left: i64,
    /// Top edge (first row inside).
    pub top: i64,
    /// Last column inside.
    pub right: i64,
    /// Last row inside.
    pub bottom: i64,
    /// The detection confidence (dlib's `mmod_rectangle.confidence`).
    pub confidence: f32,
}

impl MmodDetection {
    /// As a [`FaceBox`]: `x = left`, `width = right - left + 1`, likewise vertically; the
    /// score is the confidence. (The box may extend past the picture's edges.)
    pub fn face_box(&self) -> FaceBox {
        FaceBox::new(
            self.left as f32,
            self.top as f32,
            (self.right - self.left + 1) as f32,
            (self.bottom - self.top + 1) as f32,
            self.confidence,
        )
    }
}

impl BoxAdapter {
    /// [`MmodDetector`] boxes to the boxes [`SeetaDetector`](super::SeetaDetector) gives the
    /// same face: 4.2% larger, its centre 5.4% of the width to the right and 4.0% of the
    /// height lower.
    ///
    /// These are the medians of the per-face ratios over 477 FairFace pictures where both
    /// detectors found one face, the same one (rows 1, 21, 41, ... of
    /// `fairface_label_train_extra.csv`: disjoint from the FairFace test part and from
    /// `tests/mmod.rs`; MMOD at `upsample` 1, Seeta with its defaults). The two detectors differ
    /// more from face to face (interquartile ranges: scale 0.97 to 1.12, shift right 1% to 9%,
    /// down 1% to 7%) than this correction; it raises the median IoU of the pair from 0.77 to
    /// 0.81. Fit with `FACEVOX_DATA=... cargo test --release --test mmod -- --ignored
    /// --nocapture fit_seeta_adapter`.
    pub const MMOD_TO_SEETA: BoxAdapter = BoxAdapter {
        scale: 1.042,
        dx: 0.054,
        dy: 0.040,
    };
}

/// A whole-pixel rectangle with inclusive right and bottom (dlib's `rectangle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    l: i64,
    t: i64,
    r: i64,
    b: i64,
}

impl Rect {
    fn sized(width: i64, height: i64) -> Self {
        Self {
            l: 0,
            t: 0,
            r: width - 1,
            b: height - 1,
        }
    }

    fn is_empty(&self) -> bool {
        self.t > self.b || self.l > self.r
    }

    /// dlib returns these as `unsigned long`; the layout code relies on that.
    fn width(&self) -> u64 {
        if self.is_empty() {
            0
        } else {
            (self.r - self.l + 1) as u64
        }
    }

    fn height(&self) -> u64 {
        if self.is_empty() {
            0
        } else {
            (self.b - self.t + 1) as u64
        }
    }

    fn area(&self) -> u64 {
        self.width() * self.height()
    }

    fn intersect(&self, o: &Rect) -> Rect {
        Rect {
            l: self.l.max(o.l),
            t: self.t.max(o.t),
            r: self.r.min(o.r),
            b: self.b.min(o.b),
        }
    }

    /// The smallest rectangle holding both (dlib's `operator+`).
    fn union(&self, o: &Rect) -> Rect {
        if o.is_empty() {
            return *self;
        }
        if self.is_empty() {
            return *o;
        }
        Rect {
            l: self.l.min(o.l),
            t: self.t.min(o.t),
            r: self.r.max(o.r),
            b: self.b.max(o.b),
        }
    }

    fn contains(&self, x: i64, y: i64) -> bool {
        self.l <= x && x <= self.r && self.t <= y && y <= self.b
    }
}

/// A rectangle with real corners (dlib's `drectangle`).
#[derive(Debug, Clone, Copy)]
struct DRect {
    l: f64,
    t: f64,
    r: f64,
    b: f64,
}

impl DRect {
    /// dlib's conversion to `rectangle`: each corner rounded with `floor(v + 0.5)`.
    fn round(&self) -> Rect {
        let f = |v: f64| (v + 0.5).floor() as i64;
        Rect {
            l: f(self.l),
            t: f(self.t),
            r: f(self.r),
            b: f(self.b),
        }
    }

    fn from_rect(r: Rect) -> Self {
        Self {
            l: r.l as f64,
            t: r.t as f64,
            r: r.r as f64,
            b: r.b as f64,
        }
    }

    /// Both corners mapped by `f` (corners stay ordered: `f` is increasing).
    fn map(&self, f: impl Fn(f64, f64) -> (f64, f64)) -> Self {
        let (l, t) = f(self.l, self.t);
        let (r, b) = f(self.r, self.b);
        Self {
            l: l.min(r),
            t: t.min(b),
            r: l.max(r),
            b: t.max(b),
        }
    }
}

/// dlib's `test_box_overlap`: true when the intersection over the bounding box of the pair is
/// above `iou`, or the intersection covers more than `covered` of either box.
#[derive(Debug, Clone, Copy)]
struct OverlapTest {
    iou: f64,
    covered: f64,
}

impl OverlapTest {
    fn overlaps(&self, a: &Rect, b: &Rect) -> bool {
        let inner = a.intersect(b).area() as f64;
        if inner == 0.0 {
            return false;
        }
        let outer = a.union(b).area() as f64;
        inner / outer > self.iou
            || inner / a.area() as f64 > self.covered
            || inner / b.area() as f64 > self.covered
    }
}

/// One convolution, with the affine + ReLU that follow it (all but the last).
#[derive(Debug)]
struct Layer {
    /// `(c_out, c_in, k, k)`.
    weight: Tensor,
    bias: Vec<f32>,
    /// Per-channel `(gamma, beta)`; `None` for the output layer (no affine, no ReLU).
    affine: Option<(Vec<f32>, Vec<f32>)>,
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

/// The converter's description of the network (the safetensors metadata `config`).
#[derive(Debug, Deserialize)]
struct FileConfig {
    convolutions: Vec<ConvSpec>,
    avg_rgb: [f32; 3],
    pyramid_down: u32,
    pyramid_padding: u32,
    pyramid_outer_padding: u32,
    detector_window: [u32; 2],
    nms_iou_thresh: f64,
    nms_percent_covered_thresh: f64,
}

#[derive(Debug, Deserialize)]
struct ConvSpec {
    out: usize,
    #[serde(rename = "in")]
    c_in: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

/// A loaded MMOD network: weights, input pyramid and detection settings.
struct MmodModel {
    layers: Vec<Layer>,
    avg_rgb: [f32; 3],
    /// `N` of dlib's `pyramid_down<N>`: each level is `(N-1)/N` of the one before.
    pyramid_n: u32,
    pyramid_padding: i64,
    pyramid_outer_padding: i64,
    window: (f64, f64),
    nms: OverlapTest,
}

impl std::fmt::Debug for MmodModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let convs: Vec<String> = self
            .layers
            .iter()
            .map(|l| {
                format!(
                    "{}->{} {}x{}/{}",
                    l.c_in, l.c_out, l.kernel, l.kernel, l.stride
                )
            })
            .collect();
        f.debug_struct("MmodModel")
            .field("convolutions", &convs)
            .field("pyramid_down", &self.pyramid_n)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// The `__metadata__` of a safetensors file.
fn safetensors_metadata(bytes: &[u8]) -> std::result::Result<HashMap<String, String>, String> {
    let head = bytes.get(..8).ok_or("shorter than a safetensors header")?;
    let n = u64::from_le_bytes(head.try_into().expect("8 bytes"));
    let json = usize::try_from(n)
        .ok()
        .and_then(|n| bytes.get(8..8usize.checked_add(n)?))
        .ok_or("header length past the end of the file")?;
    let header: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("header is not JSON: {e}"))?;
    let meta = header
        .get("__metadata__")
        .and_then(|m| m.as_object())
        .ok_or("no __metadata__ in the header")?;
    Ok(meta
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect())
}

impl MmodModel {
    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::InvalidModelFile(format!("MMOD model: {m}"));
        let meta = safetensors_metadata(bytes).map_err(bad)?;
        let config: FileConfig = serde_json::from_str(
            meta.get("config")
                .ok_or_else(|| bad("no config in the metadata".into()))?,
        )
        .map_err(|e| bad(format!("config: {e}")))?;
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let get = |name: &str, dims: &[usize]| -> Result<(Tensor, Vec<f32>)> {
            let t = tensors
                .get(name)
                .ok_or_else(|| bad(format!("tensor {name} is missing")))?;
            if t.dims() != dims {
                return Err(bad(format!(
                    "tensor {name} has shape {:?}, {dims:?} expected",
                    t.dims()
                )));
            }
            let t = t
                .to_dtype(candle_core::DType::F32)
                .map_err(|e| bad(format!("tensor {name}: {e}")))?;
            let values = t
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| bad(format!("tensor {name}: {e}")))?;
            if !values.iter().all(|v| v.is_finite()) {
                return Err(bad(format!("tensor {name} has non-finite values")));
            }
            Ok((t, values))
        };
        let n = config.convolutions.len();
        if !(1..=32).contains(&n) {
            return Err(bad(format!("{n} convolutions")));
        }
        let mut layers = Vec::with_capacity(n);
        let mut c_prev = 3;
        for (i, s) in config.convolutions.iter().enumerate() {
            if s.c_in != c_prev
                || !(1..=1024).contains(&s.out)
                || !(1..=31).contains(&s.kernel)
                || !(1..=8).contains(&s.stride)
                || s.padding >= s.kernel
            {
                return Err(bad(format!(
                    "convolution {i} has an unusable geometry {s:?}"
                )));
            }
            let (weight, _) = get(
                &format!("conv{i}.weight"),
                &[s.out, s.c_in, s.kernel, s.kernel],
            )?;
            let (_, bias) = get(&format!("conv{i}.bias"), &[s.out])?;
            let affine = if i + 1 < n {
                let (_, g) = get(&format!("affine{i}.gamma"), &[s.out])?;
                let (_, b) = get(&format!("affine{i}.beta"), &[s.out])?;
                Some((g, b))
            } else {
                None
            };
            layers.push(Layer {
                weight: weight.contiguous()?,
                bias,
                affine,
                c_in: s.c_in,
                c_out: s.out,
                kernel: s.kernel,
                stride: s.stride,
                padding: s.padding,
            });
            c_prev = s.out;
        }
        if c_prev != 1 {
            return Err(bad(format!(
                "the network ends in {c_prev} score maps; one detector window is supported"
            )));
        }
        // pyramid_down<2> and <3> have their own size and point formulas in dlib.
        if !(4..=32).contains(&config.pyramid_down) {
            return Err(bad(format!(
                "pyramid_down<{}> is not supported",
                config.pyramid_down
            )));
        }
        let [ww, wh] = config.detector_window;
        let thresholds = [config.nms_iou_thresh, config.nms_percent_covered_thresh];
        if !(1..=1024).contains(&ww)
            || !(1..=1024).contains(&wh)
            || config.pyramid_padding > 1000
            || config.pyramid_outer_padding > 1000
            || !config.avg_rgb.iter().all(|v| v.is_finite())
            || !thresholds.iter().all(|t| (0.0..=1.0).contains(t))
        {
            return Err(bad(format!("unusable settings {config:?}")));
        }
        Ok(Self {
            layers,
            avg_rgb: config.avg_rgb,
            pyramid_n: config.pyramid_down,
            pyramid_padding: config.pyramid_padding as i64,
            pyramid_outer_padding: config.pyramid_outer_padding as i64,
            window: (ww as f64, wh as f64),
            nms: OverlapTest {
                iou: config.nms_iou_thresh,
                covered: config.nms_percent_covered_thresh,
            },
        })
    }

    /// dlib's `compute_tiled_image_pyramid_details` for `pyramid_down<N>`: where each level of
    /// the pyramid of an `nr` x `nc` picture goes in the tiled image, and the tiled image's
    /// size. `None` when the picture is too small for dlib's layout to make sense (dlib would
    /// place tiles outside the image).
    fn tiled_layout(&self, nr: i64, nc: i64) -> Option<(Vec<Rect>, i64, i64)> {
        if nr <= 0 || nc <= 0 {
            return None;
        }
        let padding = self.pyramid_padding;
        let outer = self.pyramid_outer_padding;
        let n = self.pyramid_n as f64;
        let rate = (n - 1.0) / n;
        let mut rects = vec![Rect::sized(nc, nr)];
        let (mut r, mut c) = (nr, nc);
        loop {
            r = (rate * r as f64).floor() as i64;
            c = (rate * c as f64).floor() as i64;
            if r * c == 0 || r < 5 {
                break;
            }
            rects.push(Rect::sized(c, r));
        }
        // dlib mixes long and unsigned long here; the wrapping arithmetic below keeps its
        // results, including the comparisons that become unsigned.
        let pad_u = padding as u64;
        let mut total_height: i64 = 0;
        for i in &rects {
            total_height = total_height.wrapping_add((i.height() + pad_u) as i64);
        }
        total_height = total_height.wrapping_sub(2 * padding);
        let (w0, h0) = (rects[0].width(), rects[0].height());
        let mut height: i64 = 0;
        let mut prev_width: i64 = 0;
        for i in &rects {
            let fits_beside = i.width() <= w0.wrapping_sub(prev_width as u64).wrapping_sub(pad_u);
            let past_half = (height as u64).wrapping_sub(h0).wrapping_mul(2)
                >= (total_height as u64).wrapping_sub(h0);
            if fits_beside && past_half {
                break;
            }
            height += (i.height() + pad_u) as i64;
            prev_width = i.width() as i64;
        }
        height -= padding;
        let width = w0 as i64;
        let out_nr = height + 2 * outer;
        let out_nc = width + 2 * outer;
        let mut y = outer;
        let mut i = 0;
        while y < height + outer && i < rects.len() {
            let (w, h) = (rects[i].width() as i64, rects[i].height() as i64);
            rects[i] = Rect {
                l: outer,
                t: y,
                r: outer + w - 1,
                b: y + h - 1,
            };
            y += h + padding;
            i += 1;
        }
        if i == 0 {
            return None;
        }
        y -= padding;
        while i < rects.len() {
            let (px, py) = (outer + width - 1, y - 1);
            let (bx, by) = (rects[i].r, rects[i].b);
            let rect = Rect {
                l: px.min(px - bx),
                t: py.min(py - by),
                r: px.max(px - bx),
                b: py.max(py - by),
            };
            if !rects[0].intersect(&rect).is_empty() {
                break;
            }
            rects[i] = rect;
            y -= rect.height() as i64 + padding;
            i += 1;
        }
        rects.truncate(i);
        let inside =
            |r: &Rect| !r.is_empty() && r.l >= 0 && r.t >= 0 && r.r < out_nc && r.b < out_nr;
        rects.iter().all(inside).then_some((rects, out_nr, out_nc))
    }

    /// The tiled pyramid of `image` as dlib's `input_rgb_image_pyramid::to_tensor` builds it:
    /// `(3, nr, nc)`, zero where no tile is, the picture as `(value - channel mean) / 256` at
    /// `rects[0]` and each further level interpolated from the one before.
    fn tiled_input(&self, image: &RgbImage, rects: &[Rect], nr: i64, nc: i64) -> Vec<f32> {
        let (nr, nc) = (nr as usize, nc as usize);
        let plane = nr * nc;
        let mut data = vec![0f32; 3 * plane];
        let r0 = rects[0];
        let (w, h) = (image.width() as usize, image.height() as usize);
        let raw = image.as_raw();
        for ch in 0..3 {
            let avg = self.avg_rgb[ch];
            let out = &mut data[ch * plane..(ch + 1) * plane];
            for y in 0..h {
                let row = (r0.t as usize + y) * nc + r0.l as usize;
                for x in 0..w {
                    out[row + x] = (raw[(y * w + x) * 3 + ch] as f32 - avg) / 256.0;
                }
            }
        }
        let mut src = Vec::new();
        for pair in rects.windows(2) {
            let (s, d) = (pair[0], pair[1]);
            let (sw, sh) = (s.width() as usize, s.height() as usize);
            for ch in 0..3 {
                let p = &mut data[ch * plane..(ch + 1) * plane];
                src.clear();
                for y in 0..sh {
                    let at = (s.t as usize + y) * nc + s.l as usize;
                    src.extend_from_slice(&p[at..at + sw]);
                }
                resize_plane(&src, sw, sh, p, nc, d);
            }
        }
        data
    }

    /// The network on a `(3, h, w)` input: the score map and its size.
    fn forward(
        &self,
        input: Vec<f32>,
        h: usize,
        w: usize,
    ) -> Result<Option<(Vec<f32>, usize, usize)>> {
        let (mut x, mut c, mut h, mut w) = (input, 3usize, h, w);
        for layer in &self.layers {
            debug_assert_eq!(c, layer.c_in);
            let Some((mut y, ho, wo)) = conv_banded(layer, &x, c, h, w)? else {
                return Ok(None);
            };
            let plane = ho * wo;
            for (co, chunk) in y.chunks_exact_mut(plane).enumerate() {
                let bias = layer.bias[co];
                match &layer.affine {
                    Some((g, b)) => {
                        let (g, b) = (g[co], b[co]);
                        for v in chunk {
                            // dlib: conv + bias, then the affine, then max(x, 0).
                            *v = ((*v + bias) * g + b).max(0.0);
                        }
                    }
                    None => chunk.iter_mut().for_each(|v| *v += bias),
                }
            }
            (x, c, h, w) = (y, layer.c_out, ho, wo);
        }
        Ok(Some((x, h, w)))
    }

    /// Output position `(col, row)` to tiled-input coordinates (dlib's
    /// `output_tensor_to_input_tensor`: each layer's `map_output_to_input`, from the top).
    fn output_to_input(&self, col: f64, row: f64) -> (f64, f64) {
        self.layers.iter().rev().fold((col, row), |(x, y), l| {
            let shift = (l.kernel / 2) as f64 - l.padding as f64;
            (x * l.stride as f64 + shift, y * l.stride as f64 + shift)
        })
    }

    /// dlib's `tiled_pyramid_to_image`: a window in the tiled image back to the picture.
    fn tiled_to_image(&self, rects: &[Rect], r: DRect) -> DRect {
        let cx = (r.l + r.r) / 2.0;
        let cy = (r.t + r.b) / 2.0;
        // dlib converts the centre to a whole-pixel point for nearest_rect.
        let (px, py) = ((cx + 0.5).floor() as i64, (cy + 0.5).floor() as i64);
        let mut idx = 0;
        let mut best = f64::INFINITY;
        for (i, rect) in rects.iter().enumerate() {
            if rect.contains(px, py) {
                idx = i;
                break;
            }
            let nx = px.clamp(rect.l, rect.r);
            let ny = py.clamp(rect.t, rect.b);
            let d = (((nx - px) * (nx - px) + (ny - py) * (ny - py)) as f64).sqrt();
            if d < best {
                best = d;
                idx = i;
            }
        }
        let (ox, oy) = (rects[idx].l as f64, rects[idx].t as f64);
        let n = self.pyramid_n as f64;
        let ratio = n / (n - 1.0);
        DRect {
            l: r.l - ox,
            t: r.t - oy,
            r: r.r - ox,
            b: r.b - oy,
        }
        .map(|mut x, mut y| {
            for _ in 0..idx {
                x = x * ratio + 0.3;
                y = y * ratio + 0.3;
            }
            (x, y)
        })
    }

    /// Detections in `image` (already upsampled), before mapping back through the upsampling.
    fn detect(&self, image: &RgbImage, threshold: f32) -> Result<Vec<MmodDetection>> {
        let (w, h) = (image.width() as i64, image.height() as i64);
        let Some((rects, nr, nc)) = self.tiled_layout(h, w) else {
            return Ok(Vec::new());
        };
        let input = self.tiled_input(image, &rects, nr, nc);
        let Some((scores, ho, wo)) = self.forward(input, nr as usize, nc as usize)? else {
            return Ok(Vec::new());
        };
        let threshold = threshold as f64;
        let (ww, wh) = self.window;
        let mut dets: Vec<(Rect, f32)> = Vec::new();
        for r in 0..ho {
            for c in 0..wo {
                let score = scores[r * wo + c];
                if (score as f64) > threshold {
                    let (px, py) = self.output_to_input(c as f64, r as f64);
                    // dlib's centered_drect(p, width, height).
                    let (hw, hh) = ((ww - 1.0) / 2.0, (wh - 1.0) / 2.0);
                    let window = DRect {
                        l: px - hw,
                        t: py - hh,
                        r: px + hw,
                        b: py + hh,
                    };
                    dets.push((self.tiled_to_image(&rects, window).round(), score));
                }
            }
        }
        dets.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut kept: Vec<(Rect, f32)> = Vec::new();
        for (rect, score) in dets {
            if kept.iter().any(|(k, _)| self.nms.overlaps(k, &rect)) {
                continue;
            }
            kept.push((rect, score));
        }
        Ok(kept
            .into_iter()
            .map(|(r, confidence)| MmodDetection {
                left: r.l,
                top: r.t,
                right: r.r,
                bottom: r.b,
                confidence,
            })
            .collect())
    }
}

/// One convolution of a `(c, h, w)` input (zero padding as the layer says), in bands of output
/// rows so the column buffer stays under [`BAND_VALUES`]. `None` when the input is smaller
/// than the kernel.
fn conv_banded(
    layer: &Layer,
    x: &[f32],
    c: usize,
    h: usize,
    w: usize,
) -> Result<Option<(Vec<f32>, usize, usize)>> {
    let (k, s, p) = (layer.kernel, layer.stride, layer.padding);
    let (hp, wp) = (h + 2 * p, w + 2 * p);
    if hp < k || wp < k {
        return Ok(None);
    }
    let (ho, wo) = ((hp - k) / s + 1, (wp - k) / s + 1);
    let padded: Cow<[f32]> = if p == 0 {
        Cow::Borrowed(x)
    } else {
        let mut v = vec![0f32; c * hp * wp];
        for ch in 0..c {
            for y in 0..h {
                let from = (ch * h + y) * w;
                let to = (ch * hp + y + p) * wp + p;
                v[to..to + w].copy_from_slice(&x[from..from + w]);
            }
        }
        Cow::Owned(v)
    };
    let rows = (BAND_VALUES / (c * k * k * wo).max(1)).clamp(1, ho);
    let geo = ConvGeometry {
        kernel: (k, k),
        padding: (0, 0),
        dilation: (1, 1),
        stride: (s, s),
    };
    let mut out = vec![0f32; layer.c_out * ho * wo];
    let mut band = Vec::new();
    for r0 in (0..ho).step_by(rows) {
        let r1 = (r0 + rows).min(ho);
        let (in0, in1) = (r0 * s, (r1 - 1) * s + k);
        let t = if in0 == 0 && in1 == hp {
            Tensor::from_slice(&padded[..], (1, c, hp, wp), &Device::Cpu)?
        } else {
            band.clear();
            for ch in 0..c {
                band.extend_from_slice(&padded[(ch * hp + in0) * wp..(ch * hp + in1) * wp]);
            }
            Tensor::from_slice(&band[..], (1, c, in1 - in0, wp), &Device::Cpu)?
        };
        let y = conv2d(&t, &layer.weight, geo)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let n = (r1 - r0) * wo;
        for co in 0..layer.c_out {
            out[(co * ho + r0) * wo..(co * ho + r0) * wo + n]
                .copy_from_slice(&y[co * n..(co + 1) * n]);
        }
    }
    Ok(Some((out, ho, wo)))
}

/// The four weights and left columns of one step of dlib's 4-lane SIMD bilinear loop, in f32
/// as its `simd4f` computes them.
struct Lanes {
    x: [f32; 4],
    step: f32,
    inv_tb: f32,
    tb: f32,
}

impl Lanes {
    fn new(x_scale: f64, tb_frac: f64) -> Self {
        let x = -4.0 * x_scale;
        Self {
            x: [
                x as f32,
                (x + x_scale) as f32,
                (x + 2.0 * x_scale) as f32,
                (x + 3.0 * x_scale) as f32,
            ],
            step: (4.0 * x_scale) as f32,
            inv_tb: (1.0 - tb_frac) as f32,
            tb: tb_frac as f32,
        }
    }

    /// Advances by 4 columns; returns the left source columns (truncated, like
    /// `_mm_cvttps_epi32`) and the weights `(tl, tr, bl, br)` of each lane.
    fn advance(&mut self) -> ([i64; 4], [[f32; 4]; 4]) {
        let mut left = [0i64; 4];
        let mut wts = [[0f32; 4]; 4];
        for k in 0..4 {
            self.x[k] += self.step;
            let l = self.x[k] as i32;
            let lr = self.x[k] - l as f32;
            let inv_lr = 1.0 - lr;
            left[k] = l as i64;
            wts[k] = [
                self.inv_tb * inv_lr,
                self.inv_tb * lr,
                self.tb * inv_lr,
                self.tb * lr,
            ];
        }
        (left, wts)
    }
}

/// dlib's `resize_image` (bilinear) of a float plane, as `tt::resize_bilinear` runs it on each
/// channel of the tiled pyramid: the `sw` x `sh` plane `src` into the rectangle `d` of `dst`
/// (row stride `stride`). A 4-lane f32 loop, then a scalar tail in double, as dlib's SSE code.
fn resize_plane(src: &[f32], sw: usize, sh: usize, dst: &mut [f32], stride: usize, d: Rect) {
    let (dw, dh) = (d.width() as usize, d.height() as usize);
    if dw == 0 || dh == 0 || sw == 0 || sh == 0 {
        return;
    }
    let x_scale = (sw - 1) as f64 / (dw as f64 - 1.0).max(1.0);
    let y_scale = (sh - 1) as f64 / (dh as f64 - 1.0).max(1.0);
    let at = |r: usize, c: i64| src[r * sw + c as usize];
    let mut y = -y_scale;
    for r in 0..dh {
        y += y_scale;
        let top = (y.floor() as i64).clamp(0, sh as i64 - 1) as usize;
        let bottom = (top + 1).min(sh - 1);
        let tb_frac = y - top as f64;
        let row = &mut dst[(d.t as usize + r) * stride + d.l as usize..][..dw];
        let mut lanes = Lanes::new(x_scale, tb_frac);
        let mut c = 0;
        while c + 4 <= dw {
            let (left, wts) = lanes.advance();
            if left[3] + 1 >= sw as i64 || left.iter().any(|&l| l < 0) {
                break;
            }
            for k in 0..4 {
                let [a, b, e, f] = wts[k];
                row[c + k] = a * at(top, left[k])
                    + b * at(top, left[k] + 1)
                    + e * at(bottom, left[k])
                    + f * at(bottom, left[k] + 1);
            }
            c += 4;
        }
        let mut x = -x_scale + c as f64 * x_scale;
        for out in &mut row[c..] {
            x += x_scale;
            let left = (x.floor() as i64).clamp(0, sw as i64 - 1);
            let right = (left + 1).min(sw as i64 - 1);
            let lr = (x - left as f64) as f32;
            let (tl, tr) = (at(top, left), at(top, right));
            let (bl, br) = (at(bottom, left), at(bottom, right));
            let upper = ((1.0 - lr) * tl + lr * tr) as f64;
            let lower = ((1.0 - lr) * bl + lr * br) as f64;
            *out = ((1.0 - tb_frac) * upper + tb_frac * lower) as f32;
        }
    }
}

/// The size dlib's `pyramid_up(img, pyramid_down<2>)` makes of a `w` x `h` picture:
/// `rect_up` of the picture's rectangle, rounded: `(2w + 2) x (2h + 1)`.
fn pyramid_up_size(w: u64, h: u64) -> (u64, u64) {
    (2 * w + 2, 2 * h + 1)
}

/// dlib's `pyramid_up` with `pyramid_down<2>`: the picture resized (bilinear, dlib's RGB
/// `resize_image`: a 4-lane f32 loop truncating to whole values, then a scalar tail in double)
/// to [`pyramid_up_size`].
fn pyramid_up(image: &RgbImage) -> RgbImage {
    let (sw, sh) = (image.width() as usize, image.height() as usize);
    let (ow, oh) = pyramid_up_size(sw as u64, sh as u64);
    let (dw, dh) = (ow as usize, oh as usize);
    let mut out = RgbImage::new(dw as u32, dh as u32);
    if sw == 0 || sh == 0 {
        return out;
    }
    let raw = image.as_raw();
    let px = |r: usize, c: i64, ch: usize| raw[(r * sw + c as usize) * 3 + ch];
    let x_scale = (sw - 1) as f64 / (dw as f64 - 1.0).max(1.0);
    let y_scale = (sh - 1) as f64 / (dh as f64 - 1.0).max(1.0);
    let dst = &mut *out;
    let mut y = -y_scale;
    for r in 0..dh {
        y += y_scale;
        let top = (y.floor() as i64).clamp(0, sh as i64 - 1) as usize;
        let bottom = (top + 1).min(sh - 1);
        let tb_frac = y - top as f64;
        let row = &mut dst[r * dw * 3..(r + 1) * dw * 3];
        let mut lanes = Lanes::new(x_scale, tb_frac);
        let mut c = 0;
        while c + 4 <= dw {
            let (left, wts) = lanes.advance();
            if left[3] + 1 >= sw as i64 || left.iter().any(|&l| l < 0) {
                break;
            }
            for k in 0..4 {
                let [a, b, e, f] = wts[k];
                for ch in 0..3 {
                    let v = a * px(top, left[k], ch) as f32
                        + b * px(top, left[k] + 1, ch) as f32
                        + e * px(bottom, left[k], ch) as f32
                        + f * px(bottom, left[k] + 1, ch) as f32;
                    // cvttps to int32, then static_cast<unsigned char>.
                    row[(c + k) * 3 + ch] = v as i32 as u8;
                }
            }
            c += 4;
        }
        let mut x = -x_scale + c as f64 * x_scale;
        for cc in c..dw {
            x += x_scale;
            let left = (x.floor() as i64).clamp(0, sw as i64 - 1);
            let right = (left + 1).min(sw as i64 - 1);
            let lr = x - left as f64;
            for ch in 0..3 {
                let (tl, tr) = (px(top, left, ch) as f64, px(top, right, ch) as f64);
                let (bl, br) = (px(bottom, left, ch) as f64, px(bottom, right, ch) as f64);
                let v = (1.0 - tb_frac) * ((1.0 - lr) * tl + lr * tr)
                    + tb_frac * ((1.0 - lr) * bl + lr * br);
                row[cc * 3 + ch] = v as u8;
            }
        }
    }
    out
}

/// dlib's CNN face detector (MMOD), ported: see the [module docs](self).
///
/// Cheap to clone (the model is shared); `Send` and `Sync`.
#[derive(Debug, Clone)]
pub struct MmodDetector {
    model: Arc<MmodModel>,
    config: MmodConfig,
}

impl MmodDetector {
    /// The shipped model (dlib's `mmod_human_face_detector.dat`), compiled into the library and
    /// parsed once per process, with the default settings (no upsampling, threshold 0).
    pub fn shipped() -> Result<Self> {
        static MODEL: OnceLock<std::result::Result<Arc<MmodModel>, String>> = OnceLock::new();
        let model = MODEL
            .get_or_init(|| {
                MmodModel::from_bytes(SHIPPED_MODEL_BYTES)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Error::Corrupt(format!("the bundled MMOD model does not load: {e}")))?;
        Ok(Self {
            model: Arc::clone(model),
            config: MmodConfig::default(),
        })
    }

    /// Reads a model file written by `tools/convert_dlib_mmod.py`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes)
    }

    /// Parses a model file (safetensors with the network description in its metadata; see
    /// `tools/convert_dlib_mmod.py`) held in memory. Every size is checked, so a damaged file
    /// gives [`Error::InvalidModelFile`], never a panic at detection time.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            model: Arc::new(MmodModel::from_bytes(bytes)?),
            config: MmodConfig::default(),
        })
    }

    /// The same detector with other settings ([`Error::InvalidConfig`] when they are not
    /// usable).
    pub fn with_config(mut self, config: MmodConfig) -> Result<Self> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }

    /// The settings in use.
    pub fn config(&self) -> &MmodConfig {
        &self.config
    }

    /// Every face in `image`, as dlib reports them: whole-pixel rectangles in the picture's
    /// coordinates, most confident first (the order of dlib's non-max suppression).
    ///
    /// An empty picture, or one too small to hold a pyramid, has no faces. Errors:
    /// [`Error::ImageTooLarge`] when the picture, after upsampling, would have more than
    /// [`MAX_MMOD_PIXELS`] pixels (refused before any work).
    pub fn detect_rects(&self, image: &RgbImage) -> Result<Vec<MmodDetection>> {
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        let (mut uw, mut uh) = (w as u64, h as u64);
        for _ in 0..self.config.upsample {
            (uw, uh) = pyramid_up_size(uw, uh);
        }
        if uw * uh > MAX_MMOD_PIXELS {
            return Err(Error::ImageTooLarge {
                width: w,
                height: h,
                limit: format!(
                    "{MAX_MMOD_PIXELS} pixels for the MMOD detector ({uw}x{uh} after upsampling \
                     {} times)",
                    self.config.upsample
                ),
            });
        }
        let mut up: Cow<RgbImage> = Cow::Borrowed(image);
        for _ in 0..self.config.upsample {
            up = Cow::Owned(pyramid_up(&up));
        }
        let dets = self.model.detect(&up, self.config.threshold)?;
        // Back through the upsampling: dlib's pyramid_down<2>::rect_down, rounded.
        let levels = self.config.upsample;
        Ok(dets
            .into_iter()
            .map(|d| {
                if levels == 0 {
                    return d;
                }
                let r = DRect::from_rect(Rect {
                    l: d.left,
                    t: d.top,
                    r: d.right,
                    b: d.bottom,
                })
                .map(|mut x, mut y| {
                    for _ in 0..levels {
                        x = x / 2.0 - 1.25;
                        y = y / 2.0 - 0.75;
                    }
                    (x, y)
                })
                .round();
                MmodDetection {
                    left: r.l,
                    top: r.t,
                    right: r.r,
                    bottom: r.b,
                    confidence: d.confidence,
                }
            })
            .collect())
    }
}

impl FaceDetector for MmodDetector {
    /// [`detect_rects`](MmodDetector::detect_rects) as [`FaceBox`]es (score = confidence).
    fn detect(&mut self, image: &RgbImage) -> Result<Vec<FaceBox>> {
        Ok(self
            .detect_rects(image)?
            .iter()
            .map(MmodDetection::face_box)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_test_uses_the_bounding_box() {
        let t = OverlapTest {
            iou: 0.3,
            covered: 1.0,
        };
        let a = Rect {
            l: 0,
            t: 0,
            r: 9,
            b: 9,
        };
        // Overlap 5x10 = 50; bounding box 15x10 = 150: 1/3 > 0.3.
        let b = Rect {
            l: 5,
            t: 0,
            r: 14,
            b: 9,
        };
        assert!(t.overlaps(&a, &b));
        // Overlap 5x5 = 25; bounding box 15x15 = 225.
        let c = Rect {
            l: 5,
            t: 5,
            r: 19,
            b: 19,
        };
        assert!(!t.overlaps(&a, &c));
        assert!(!t.overlaps(
            &a,
            &Rect {
                l: 10,
                t: 0,
                r: 20,
                b: 9
            }
        ));
    }

    #[test]
    fn rounding_matches_dlib() {
        let r = DRect {
            l: -0.5,
            t: 0.49,
            r: 2.5,
            b: -1.5,
        }
        .round();
        assert_eq!((r.l, r.t, r.r, r.b), (0, 0, 3, -1));
    }

    #[test]
    fn detector_is_send_and_sync_and_debug_is_short() {
        fn check<T: Send + Sync>() {}
        check::<MmodDetector>();
        let d = MmodDetector::shipped().unwrap();
        let text = format!("{d:?}");
        assert!(text.len() < 400 && text.contains("32->45 5x5/1"), "{text}");
    }

    #[test]
    fn pyramid_up_size_is_dlibs() {
        assert_eq!(pyramid_up_size(96, 96), (194, 193));
        assert_eq!(pyramid_up_size(1, 1), (4, 3));
    }

    #[test]
    fn resize_of_a_constant_plane_is_constant() {
        let src = vec![0.25f32; 7 * 5];
        let mut dst = vec![0f32; 20 * 20];
        let d = Rect {
            l: 2,
            t: 3,
            r: 14,
            b: 11,
        };
        resize_plane(&src, 7, 5, &mut dst, 20, d);
        for y in 0..20 {
            for x in 0..20 {
                let inside = d.contains(x as i64, y as i64);
                assert_eq!(dst[y * 20 + x], if inside { 0.25 } else { 0.0 }, "{x} {y}");
            }
        }
    }
}
