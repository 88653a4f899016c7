//! Face crops: a square box around the face with a margin, clamped to the image, resized with a
//! proper low-pass filter, converted to grey or kept RGB, and normalised into a `CHW` `f32`
//! tensor. [`CropConfig`] is serde so it can be saved beside a face model: training and
//! inference then crop alike.
//!
//! By default the crop is not rotated to level the eyes: it is placed by the detector box only
//! (the detector is frontal, so faces are upright within about ±15 degrees). With
//! [`CropConfig::align`] the face is first warped through its five landmarks
//! ([`super::landmarks`]) so the eyes are level at fixed positions; no shipped model was
//! trained on aligned crops yet, so the shipped crop configs leave it off.

use std::path::Path;

use image::imageops::FilterType;
use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use super::detect::{rgb_to_gray, FaceBox, FaceDetector, FacePick, SeetaDetector};
use super::image_io::load_image;
use crate::{Error, Result};

use crate::limits::MAX_CROP_SIZE;

/// Colour of the output tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ColorMode {
    /// One channel, BT.601 luma.
    Gray,
    /// Three channels, R, G, B.
    #[default]
    Rgb,
}

impl ColorMode {
    /// Channels in the tensor.
    pub fn channels(self) -> usize {
        match self {
            ColorMode::Gray => 1,
            ColorMode::Rgb => 3,
        }
    }
}

/// Resampling filter used to resize crops (each is applied with a support widened by the
/// downscaling ratio, so downscaling averages over the source pixels instead of aliasing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ResizeFilter {
    /// Linear (tent) filter: area-like averaging, the fastest.
    Triangle,
    /// Catmull-Rom cubic: sharper than linear.
    CatmullRom,
    /// Lanczos with 3 lobes: the sharpest.
    #[default]
    Lanczos3,
}

impl ResizeFilter {
    fn filter_type(self) -> FilterType {
        match self {
            ResizeFilter::Triangle => FilterType::Triangle,
            ResizeFilter::CatmullRom => FilterType::CatmullRom,
            ResizeFilter::Lanczos3 => FilterType::Lanczos3,
        }
    }
}

/// How a face becomes a model input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CropConfig {
    /// Side of the square output, in pixels.
    pub size: u32,
    /// Margin added on each side of the face box, as a fraction of the box's longer side
    /// (0.2 makes the crop 1.4 times the box).
    pub margin: f32,
    /// Grey or RGB output.
    pub color: ColorMode,
    /// Per-channel mean subtracted from values scaled to [0, 1] (one value, or one per channel).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation divided by after the mean is subtracted.
    pub std: Vec<f32>,
    /// Resampling filter.
    pub filter: ResizeFilter,
    /// Align the face before cropping: find its five landmarks
    /// ([`LandmarkModel::shipped`](super::LandmarkModel::shipped), from the detector's box) and
    /// warp it so the eyes are level at [`canonical_eye_positions`](super::canonical_eye_positions)
    /// (`size`, `margin`), the face as large as an unaligned crop makes a typical one. A
    /// pre-cropped picture is aligned from its centre square. Off by default: a model reads the
    /// crops it was trained on, so only a model trained with `align` should use it. (Absent from
    /// the JSON when off, so older model files and crop caches keep their meaning.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub align: bool,
}

impl Default for CropConfig {
    /// 64x64 RGB, margin 0.2, values mapped to [-1, 1], Lanczos3.
    fn default() -> Self {
        Self {
            size: 64,
            margin: 0.2,
            color: ColorMode::Rgb,
            mean: vec![0.5],
            std: vec![0.5],
            filter: ResizeFilter::Lanczos3,
            align: false,
        }
    }
}

impl CropConfig {
    /// Greyscale crops of `size` pixels, otherwise the defaults (the usual input of an emotion
    /// model trained on FER+).
    pub fn gray(size: u32) -> Self {
        Self {
            size,
            color: ColorMode::Gray,
            ..Self::default()
        }
    }

    /// RGB crops of `size` pixels, otherwise the defaults.
    pub fn rgb(size: u32) -> Self {
        Self {
            size,
            ..Self::default()
        }
    }

    /// Checks sizes, margin and normalisation constants.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.size == 0 || self.size > MAX_CROP_SIZE {
            return bad(format!(
                "crop size must be in 1..={MAX_CROP_SIZE}, got {}",
                self.size
            ));
        }
        if !(0.0..=2.0).contains(&self.margin) {
            return bad(format!("margin must be in [0, 2], got {}", self.margin));
        }
        let c = self.color.channels();
        for (name, v) in [("mean", &self.mean), ("std", &self.std)] {
            if v.len() != 1 && v.len() != c {
                return bad(format!(
                    "{name} needs 1 or {c} values for {:?} crops, got {}",
                    self.color,
                    v.len()
                ));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return bad(format!("{name} values must be finite"));
            }
        }
        if self.std.iter().any(|&s| s <= 0.0) {
            return bad("std values must be positive".into());
        }
        Ok(())
    }

    fn per_channel(v: &[f32], c: usize) -> [f32; 3] {
        let mut out = [v[0]; 3];
        for (i, o) in out.iter_mut().enumerate().take(c) {
            *o = *v.get(i).unwrap_or(&v[0]);
        }
        out
    }
}

/// A normalised face crop: the model's input tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceCrop {
    /// Values in `CHW` order: all of channel 0 row by row, then channel 1, ...
    pub data: Vec<f32>,
    /// Channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Side of the square crop, in pixels.
    pub size: u32,
    mean: [f32; 3],
    std: [f32; 3],
}

impl FaceCrop {
    /// Tensor shape `[channels, size, size]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.size as usize, self.size as usize]
    }

    /// The crop as an 8-bit RGB picture (normalisation undone; grey is repeated in R, G and B).
    pub fn to_rgb_image(&self) -> RgbImage {
        let n = (self.size * self.size) as usize;
        let value = |c: usize, i: usize| {
            let v = self.data[c * n + i] * self.std[c] + self.mean[c];
            (v * 255.0).round().clamp(0.0, 255.0) as u8
        };
        let mut out = Vec::with_capacity(n * 3);
        for i in 0..n {
            for c in 0..3 {
                out.push(value(c.min(self.channels - 1), i));
            }
        }
        RgbImage::from_raw(self.size, self.size, out).expect("sized for the crop")
    }

    /// Writes the crop as a PNG file, for looking at.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.to_rgb_image().save(path).map_err(|e| match e {
            image::ImageError::IoError(io) => Error::io(path, io),
            other => Error::Corrupt(other.to_string()),
        })
    }
}

/// A square region of an image, in whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SquareRegion {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Side.
    pub side: u32,
}

/// The square crop region for `face` in a `width` x `height` image: centred on the box, its side
/// the box's longer side times `1 + 2 * margin`, then moved inside the image, and shrunk to the
/// image's shorter side when it is larger, so the crop is never stretched or padded.
pub fn square_region(face: &FaceBox, margin: f32, width: u32, height: u32) -> SquareRegion {
    let limit = width.min(height).max(1) as f32;
    let side = (face.width.max(face.height) * (1.0 + 2.0 * margin))
        .round()
        .clamp(1.0, limit);
    let (cx, cy) = face.center();
    let x = (cx - side / 2.0).round().clamp(0.0, width as f32 - side);
    let y = (cy - side / 2.0).round().clamp(0.0, height as f32 - side);
    SquareRegion {
        x: x as u32,
        y: y as u32,
        side: side as u32,
    }
}

/// Cuts the square region of `face` out of `image` and resizes it to `config.size`, before
/// colour conversion and normalisation (the stage where augmentation applies).
pub fn crop_face_image(image: &RgbImage, face: &FaceBox, config: &CropConfig) -> Result<RgbImage> {
    config.validate()?;
    if image.width() == 0 || image.height() == 0 {
        return Err(Error::ImageTooSmall {
            width: image.width(),
            height: image.height(),
        });
    }
    if !(face.x.is_finite() && face.y.is_finite() && face.width > 0.0 && face.height > 0.0) {
        return Err(Error::InvalidConfig(format!("face box {face:?} is empty")));
    }
    if config.align {
        let landmarks = super::LandmarkModel::shipped()?.predict_seeta_rgb(image, face)?;
        return super::align_face(image, &landmarks, config.size, config.margin);
    }
    let r = square_region(face, config.margin, image.width(), image.height());
    let view = image::imageops::crop_imm(image, r.x, r.y, r.side, r.side);
    if r.side == config.size {
        return Ok(view.to_image());
    }
    Ok(image::imageops::resize(
        &*view,
        config.size,
        config.size,
        config.filter.filter_type(),
    ))
}

/// The centre square of a picture that is already a face crop, resized to `config.size`, before
/// colour conversion and normalisation (the pre-cropped counterpart of [`crop_face_image`]).
pub fn precropped_face_image(image: &RgbImage, config: &CropConfig) -> Result<RgbImage> {
    config.validate()?;
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::ImageTooSmall {
            width: w,
            height: h,
        });
    }
    let side = w.min(h);
    if config.align {
        // The centre square stands in for the detector's box.
        let square = super::FaceBox::new(
            ((w - side) / 2) as f32,
            ((h - side) / 2) as f32,
            side as f32,
            side as f32,
            1.0,
        );
        let landmarks = super::LandmarkModel::shipped()?.predict_rgb(image, &square)?;
        return super::align_face(image, &landmarks, config.size, config.margin);
    }
    let square = image::imageops::crop_imm(image, (w - side) / 2, (h - side) / 2, side, side);
    if side == config.size {
        return Ok(square.to_image());
    }
    Ok(image::imageops::resize(
        &*square,
        config.size,
        config.size,
        config.filter.filter_type(),
    ))
}

/// Turns a picture into a normalised tensor: centre square, resized to `config.size` if needed,
/// grey or RGB, `(value / 255 - mean) / std`.
pub fn normalize_face(image: &RgbImage, config: &CropConfig) -> Result<FaceCrop> {
    let square;
    let img = if image.width() == config.size && image.height() == config.size {
        config.validate()?;
        image
    } else {
        square = precropped_face_image(image, config)?;
        &square
    };
    let c = config.color.channels();
    let mean = CropConfig::per_channel(&config.mean, c);
    let std = CropConfig::per_channel(&config.std, c);
    let n = (config.size * config.size) as usize;
    let mut data = vec![0f32; c * n];
    match config.color {
        ColorMode::Gray => {
            let g: GrayImage = rgb_to_gray(img);
            for (d, &v) in data.iter_mut().zip(g.as_raw()) {
                *d = (v as f32 / 255.0 - mean[0]) / std[0];
            }
        }
        ColorMode::Rgb => {
            for (i, p) in img.as_raw().chunks_exact(3).enumerate() {
                for ch in 0..3 {
                    data[ch * n + i] = (p[ch] as f32 / 255.0 - mean[ch]) / std[ch];
                }
            }
        }
    }
    Ok(FaceCrop {
        data,
        channels: c,
        size: config.size,
        mean,
        std,
    })
}

/// Crops, resizes and normalises the face in `face` of `image`.
pub fn crop_face(image: &RgbImage, face: &FaceBox, config: &CropConfig) -> Result<FaceCrop> {
    normalize_face(&crop_face_image(image, face, config)?, config)
}

/// A picture that is already a tight face crop (for example FER+ 48x48) as a tensor: no
/// detection, the centre square is resized to `config.size` (the margin does not apply).
pub fn crop_precropped(image: &RgbImage, config: &CropConfig) -> Result<FaceCrop> {
    if config.align {
        // Aligned even when the picture already has the crop's size.
        return normalize_face(&precropped_face_image(image, config)?, config);
    }
    normalize_face(image, config)
}

/// Where a [`FaceCropper`] finds the face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FaceSource {
    /// Run the detector and crop the face it picks.
    #[default]
    Detect,
    /// The image is already a face crop: use all of it.
    Precropped,
}

/// Images in, face crops out: detection (or none, for pre-cropped faces), choice of face, crop
/// and normalisation behind one call.
///
/// ```no_run
/// use facevox::vision::{CropConfig, FaceCropper};
/// let mut cropper = FaceCropper::new(CropConfig::default())?;
/// match cropper.crop_file("photo.jpg")? {
///     Some(crop) => println!("tensor {:?}", crop.shape()),
///     None => println!("no face"),
/// }
/// // FER+ style 48x48 face crops skip detection through the same API:
/// let mut fer = FaceCropper::precropped(CropConfig::gray(64));
/// # Ok::<(), facevox::Error>(())
/// ```
pub struct FaceCropper {
    detector: Option<Box<dyn FaceDetector>>,
    pick: FacePick,
    config: CropConfig,
}

impl std::fmt::Debug for FaceCropper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceCropper")
            .field("detects", &self.detector.is_some())
            .field("pick", &self.pick)
            .field("config", &self.config)
            .finish()
    }
}

impl FaceCropper {
    /// Detects with the default [`SeetaDetector`] and crops the largest face.
    pub fn new(config: CropConfig) -> Result<Self> {
        Self::for_source(FaceSource::Detect, config)
    }

    /// For pictures that are already face crops: no detection.
    pub fn precropped(config: CropConfig) -> Self {
        Self {
            detector: None,
            pick: FacePick::Largest,
            config,
        }
    }

    /// A cropper for the given source of faces, with the default detector when it detects.
    pub fn for_source(source: FaceSource, config: CropConfig) -> Result<Self> {
        config.validate()?;
        Ok(match source {
            FaceSource::Detect => Self::with_detector(Box::new(SeetaDetector::new()?), config),
            FaceSource::Precropped => Self::precropped(config),
        })
    }

    /// Detects with `detector`.
    pub fn with_detector(detector: Box<dyn FaceDetector>, config: CropConfig) -> Self {
        Self {
            detector: Some(detector),
            pick: FacePick::Largest,
            config,
        }
    }

    /// Chooses faces by `pick` when an image holds several.
    pub fn with_pick(mut self, pick: FacePick) -> Self {
        self.pick = pick;
        self
    }

    /// The crop settings.
    pub fn config(&self) -> &CropConfig {
        &self.config
    }

    /// The face box that would be cropped: the picked detection, or the whole image when
    /// pre-cropped. `None` when no face is found.
    pub fn locate(&mut self, image: &RgbImage) -> Result<Option<FaceBox>> {
        match &mut self.detector {
            None => Ok(Some(FaceBox::whole_image(image.width(), image.height()))),
            Some(d) => Ok(self.pick.pick(&d.detect(image)?)),
        }
    }

    /// The face crop of `image`, or `None` when no face is found.
    pub fn crop(&mut self, image: &RgbImage) -> Result<Option<FaceCrop>> {
        if self.detector.is_none() {
            return crop_precropped(image, &self.config).map(Some);
        }
        match self.locate(image)? {
            Some(face) => crop_face(image, &face, &self.config).map(Some),
            None => Ok(None),
        }
    }

    /// The face crop of `image` resized to `config.size` but not yet normalised (what training
    /// augments), or `None` when no face is found.
    pub fn crop_image(&mut self, image: &RgbImage) -> Result<Option<RgbImage>> {
        if self.detector.is_none() {
            return precropped_face_image(image, &self.config).map(Some);
        }
        match self.locate(image)? {
            Some(face) => crop_face_image(image, &face, &self.config).map(Some),
            None => Ok(None),
        }
    }

    /// The face of `image` cropped with this cropper's config and then with each of `extra`
    /// (one detection, several crops: for models whose networks read different crops), or
    /// `None` when no face is found.
    pub fn crop_views(
        &mut self,
        image: &RgbImage,
        extra: &[CropConfig],
    ) -> Result<Option<Vec<FaceCrop>>> {
        self.views_with(image, extra, crop_precropped, crop_face)
    }

    /// As [`crop_views`](Self::crop_views) before normalisation (see
    /// [`crop_image`](Self::crop_image)).
    pub fn crop_image_views(
        &mut self,
        image: &RgbImage,
        extra: &[CropConfig],
    ) -> Result<Option<Vec<RgbImage>>> {
        self.views_with(image, extra, precropped_face_image, crop_face_image)
    }

    fn views_with<T>(
        &mut self,
        image: &RgbImage,
        extra: &[CropConfig],
        precropped: fn(&RgbImage, &CropConfig) -> Result<T>,
        detected: fn(&RgbImage, &FaceBox, &CropConfig) -> Result<T>,
    ) -> Result<Option<Vec<T>>> {
        extra.iter().try_for_each(CropConfig::validate)?;
        let face = match self.detector {
            None => None,
            Some(_) => match self.locate(image)? {
                Some(f) => Some(f),
                None => return Ok(None),
            },
        };
        std::iter::once(&self.config)
            .chain(extra)
            .map(|c| match &face {
                None => precropped(image, c),
                Some(f) => detected(image, f, c),
            })
            .collect::<Result<_>>()
            .map(Some)
    }

    /// Loads an image file (EXIF orientation applied) and crops its face; `None` when no face is
    /// found.
    pub fn crop_file(&mut self, path: impl AsRef<Path>) -> Result<Option<FaceCrop>> {
        self.crop(&load_image(path)?)
    }
}

/// Loads an image and crops its largest face with the default detector; [`Error::NoFace`] when
/// there is none.
pub fn face_crop_from_file(path: impl AsRef<Path>, config: &CropConfig) -> Result<FaceCrop> {
    let path = path.as_ref();
    FaceCropper::new(config.clone())?
        .crop_file(path)?
        .ok_or_else(|| Error::NoFace(path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_is_square_with_margin_and_inside_the_image() {
        let face = FaceBox::new(100.0, 100.0, 50.0, 60.0, 1.0);
        let r = square_region(&face, 0.2, 640, 480);
        assert_eq!(r.side, 84);
        assert_eq!((r.x, r.y), (83, 88));
        // Near the corner the square moves inside rather than shrinking.
        let corner = square_region(&FaceBox::new(-10.0, -5.0, 40.0, 40.0, 1.0), 0.5, 640, 480);
        assert_eq!((corner.x, corner.y, corner.side), (0, 0, 80));
        // Larger than the image: shrunk to the shorter side.
        let big = square_region(&FaceBox::new(0.0, 0.0, 500.0, 500.0, 1.0), 0.2, 640, 480);
        assert_eq!(big.side, 480);
        assert!(big.x + big.side <= 640 && big.y + big.side <= 480);
    }

    #[test]
    fn normalisation_round_trips_to_pixels() {
        let img = RgbImage::from_fn(8, 8, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 30) as u8, 77])
        });
        let cfg = CropConfig::rgb(8);
        let crop = normalize_face(&img, &cfg).unwrap();
        assert_eq!(crop.shape(), [3, 8, 8]);
        assert!(crop.data.iter().all(|v| (-1.0..=1.0).contains(v)));
        // CHW: channel 1 (green) of pixel (0, 2) is 60.
        assert!((crop.data[64 + 2 * 8] - (60.0 / 255.0 - 0.5) / 0.5).abs() < 1e-6);
        assert_eq!(crop.to_rgb_image(), img);
    }

    #[test]
    fn bad_configs_are_refused() {
        let img = RgbImage::new(10, 10);
        for cfg in [
            CropConfig {
                size: 0,
                ..Default::default()
            },
            CropConfig {
                margin: -1.0,
                ..Default::default()
            },
            CropConfig {
                std: vec![0.0],
                ..Default::default()
            },
            CropConfig {
                mean: vec![0.1, 0.2],
                ..Default::default()
            },
        ] {
            assert!(matches!(
                normalize_face(&img, &cfg),
                Err(Error::InvalidConfig(_))
            ));
        }
    }
}
