//! Seeded, deterministic augmentations of face crops for training: horizontal flip, small
//! rotation / scale / translation, brightness and contrast, Gaussian blur, noise, an occlusion
//! patch, and downscale-then-upscale (a low-quality camera).
//!
//! Each transform is a plain function of its parameters; [`Augmenter`] draws the parameters from
//! a seed, so the same `(config, seed)` always gives the same picture, on any machine. Each
//! transform draws from its own stream derived from the seed, so switching one off does not
//! change what the others do. Apply them to the resized crop (the output of
//! [`crop_face_image`](super::crop_face_image)) before [`normalize_face`](super::normalize_face).

use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A small, fast, portable generator (SplitMix64); good enough to draw augmentation parameters,
/// and its sequence never changes between versions.
#[derive(Debug, Clone)]
pub struct AugmentRng(u64);

impl AugmentRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        crate::rng::splitmix64_next(&mut self.0)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = (self.unit() as f64).max(1e-12);
        let u2 = self.unit() as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

/// Mirror image left to right.
pub fn flip_horizontal(image: &RgbImage) -> RgbImage {
    image::imageops::flip_horizontal(image)
}

/// Rotates by `degrees` (counter-clockwise) and scales by `scale` about the centre, then shifts
/// by `(dx, dy)` pixels; bilinear sampling, edges repeated outside the picture.
pub fn rotate_scale_translate(
    image: &RgbImage,
    degrees: f32,
    scale: f32,
    dx: f32,
    dy: f32,
) -> RgbImage {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return image.clone();
    }
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let (s, c) = degrees.to_radians().sin_cos();
    let inv = 1.0 / scale.max(1e-3);
    RgbImage::from_fn(w, h, |x, y| {
        // Inverse map: output pixel -> source position. With y pointing down, a
        // counter-clockwise turn on screen uses the transposed rotation.
        let (qx, qy) = (x as f32 - cx - dx, y as f32 - cy - dy);
        let sx = cx + inv * (c * qx - s * qy);
        let sy = cy + inv * (s * qx + c * qy);
        bilinear(image, sx, sy)
    })
}

fn bilinear(image: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (w, h) = image.dimensions();
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let (a, b) = (image.get_pixel(x0, y0).0, image.get_pixel(x1, y0).0);
    let (c, d) = (image.get_pixel(x0, y1).0, image.get_pixel(x1, y1).0);
    let mut out = [0u8; 3];
    for i in 0..3 {
        let top = a[i] as f32 + fx * (b[i] as f32 - a[i] as f32);
        let bottom = c[i] as f32 + fx * (d[i] as f32 - c[i] as f32);
        out[i] = (top + fy * (bottom - top)).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(out)
}

/// `v' = (v - m) * contrast + m + brightness * 255`, where `m` is the picture's mean grey level:
/// contrast scales differences around the mean, brightness shifts everything.
pub fn brightness_contrast(image: &RgbImage, brightness: f32, contrast: f32) -> RgbImage {
    let raw = image.as_raw();
    let mean = if raw.is_empty() {
        0.0
    } else {
        raw.iter().map(|&v| v as f64).sum::<f64>() / raw.len() as f64
    } as f32;
    let shift = brightness * 255.0;
    let data = raw
        .iter()
        .map(|&v| {
            ((v as f32 - mean) * contrast + mean + shift)
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect();
    RgbImage::from_raw(image.width(), image.height(), data).expect("same size")
}

/// Gaussian blur with standard deviation `sigma` pixels (no change for `sigma <= 0`).
pub fn gaussian_blur(image: &RgbImage, sigma: f32) -> RgbImage {
    if sigma <= 0.0 {
        return image.clone();
    }
    image::imageops::blur(image, sigma)
}

/// Adds independent Gaussian noise of standard deviation `std` (in 0–255 units) to every value.
pub fn add_gaussian_noise(image: &RgbImage, std: f32, seed: u64) -> RgbImage {
    let mut rng = AugmentRng::new(seed);
    let data = image
        .as_raw()
        .iter()
        .map(|&v| (v as f32 + std * rng.normal()).round().clamp(0.0, 255.0) as u8)
        .collect();
    RgbImage::from_raw(image.width(), image.height(), data).expect("same size")
}

/// Paints the rectangle `(x, y, width, height)` (clipped to the picture) with `color`, as a hand,
/// microphone or hair would hide part of the face.
pub fn occlude(
    image: &RgbImage,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    color: [u8; 3],
) -> RgbImage {
    let mut out = image.clone();
    let (w, h) = image.dimensions();
    for yy in y.min(h)..y.saturating_add(height).min(h) {
        for xx in x.min(w)..x.saturating_add(width).min(w) {
            out.put_pixel(xx, yy, Rgb(color));
        }
    }
    out
}

/// Shrinks the picture by `factor` (in (0, 1]) and enlarges it back to its size, losing detail
/// as a low-resolution camera or heavy compression does.
pub fn downscale_upscale(image: &RgbImage, factor: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 || factor >= 1.0 {
        return image.clone();
    }
    let sw = ((w as f32 * factor).round() as u32).max(1);
    let sh = ((h as f32 * factor).round() as u32).max(1);
    let small = image::imageops::resize(image, sw, sh, FilterType::Triangle);
    image::imageops::resize(&small, w, h, FilterType::Triangle)
}

/// The picture's BT.601 luma (the grey crop path's conversion) in all three channels.
pub fn drop_colour(image: &RgbImage) -> RgbImage {
    let luma = super::detect::rgb_to_gray(image);
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let v = luma.get_pixel(x, y).0[0];
        image::Rgb([v, v, v])
    })
}

/// Which augmentations run, how often, and how strongly. Ranges are `[low, high]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentConfig {
    /// Probability of a horizontal flip.
    pub flip_prob: f32,
    /// Probability of a rotation / scale / translation.
    pub affine_prob: f32,
    /// Largest rotation either way, in degrees.
    pub max_rotation_deg: f32,
    /// Range of the scale factor.
    pub scale_range: [f32; 2],
    /// Largest shift either way, as a fraction of the picture's side.
    pub max_translate: f32,
    /// Probability of a brightness / contrast change.
    pub color_prob: f32,
    /// Largest brightness shift either way, as a fraction of full scale.
    pub max_brightness: f32,
    /// Largest relative contrast change either way (0.2 gives factors in [0.8, 1.2]).
    pub max_contrast: f32,
    /// Probability of a Gaussian blur.
    pub blur_prob: f32,
    /// Range of the blur's sigma, in pixels.
    pub blur_sigma: [f32; 2],
    /// Probability of added noise.
    pub noise_prob: f32,
    /// Range of the noise standard deviation, in 0–255 units.
    pub noise_std: [f32; 2],
    /// Probability of an occlusion patch.
    pub occlusion_prob: f32,
    /// Range of the patch side, as a fraction of the picture's side.
    pub occlusion_size: [f32; 2],
    /// Probability of downscale-then-upscale.
    pub downscale_prob: f32,
    /// Range of the downscale factor.
    pub downscale_range: [f32; 2],
    /// Probability of dropping colour (the picture becomes its luma in all three channels),
    /// so an RGB model also learns from, and copes with, grey pictures.
    pub grayscale_prob: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            flip_prob: 0.5,
            affine_prob: 0.8,
            max_rotation_deg: 10.0,
            scale_range: [0.9, 1.1],
            max_translate: 0.05,
            color_prob: 0.8,
            max_brightness: 0.15,
            max_contrast: 0.25,
            blur_prob: 0.15,
            blur_sigma: [0.3, 1.2],
            noise_prob: 0.15,
            noise_std: [2.0, 8.0],
            occlusion_prob: 0.15,
            occlusion_size: [0.15, 0.35],
            downscale_prob: 0.15,
            downscale_range: [0.3, 0.6],
            grayscale_prob: 0.0,
        }
    }
}

impl AugmentConfig {
    /// Every augmentation off (probabilities 0).
    pub fn none() -> Self {
        Self {
            flip_prob: 0.0,
            affine_prob: 0.0,
            color_prob: 0.0,
            blur_prob: 0.0,
            noise_prob: 0.0,
            occlusion_prob: 0.0,
            downscale_prob: 0.0,
            grayscale_prob: 0.0,
            ..Self::default()
        }
    }

    /// Checks probabilities are in [0, 1] and ranges are ordered and sensible.
    pub fn validate(&self) -> Result<()> {
        let probs = [
            ("flip_prob", self.flip_prob),
            ("affine_prob", self.affine_prob),
            ("color_prob", self.color_prob),
            ("blur_prob", self.blur_prob),
            ("noise_prob", self.noise_prob),
            ("occlusion_prob", self.occlusion_prob),
            ("downscale_prob", self.downscale_prob),
            ("grayscale_prob", self.grayscale_prob),
        ];
        for (name, p) in probs {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::InvalidConfig(format!(
                    "{name} must be in [0, 1], got {p}"
                )));
            }
        }
        let ranges = [
            ("scale_range", self.scale_range, 0.1, 10.0),
            ("blur_sigma", self.blur_sigma, 0.0, 20.0),
            ("noise_std", self.noise_std, 0.0, 255.0),
            ("occlusion_size", self.occlusion_size, 0.0, 1.0),
            ("downscale_range", self.downscale_range, 0.01, 1.0),
        ];
        for (name, [lo, hi], min, max) in ranges {
            if !(lo <= hi && lo >= min && hi <= max) {
                return Err(Error::InvalidConfig(format!(
                    "{name} must be an ordered pair within [{min}, {max}], got [{lo}, {hi}]"
                )));
            }
        }
        for (name, v) in [
            ("max_rotation_deg", self.max_rotation_deg),
            ("max_translate", self.max_translate),
            ("max_brightness", self.max_brightness),
            ("max_contrast", self.max_contrast),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(Error::InvalidConfig(format!(
                    "{name} must be >= 0, got {v}"
                )));
            }
        }
        Ok(())
    }
}

/// Applies a random selection of augmentations, drawn from a seed.
///
/// ```
/// use facevox::vision::{AugmentConfig, Augmenter};
/// let aug = Augmenter::new(AugmentConfig::default())?;
/// let crop = image::RgbImage::from_pixel(64, 64, image::Rgb([120, 90, 80]));
/// // Seed per sample and epoch, so a training run can be repeated exactly.
/// let a = aug.augment(&crop, 42);
/// assert_eq!(a, aug.augment(&crop, 42));
/// # Ok::<(), facevox::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Augmenter {
    config: AugmentConfig,
}

/// Stream identifiers mixed into the seed so each transform draws independently.
const STREAMS: [u64; 8] = [
    0x666c_6970, // flip
    0x6166_6669, // affine
    0x636f_6c6f, // colour
    0x626c_7572, // blur
    0x6e6f_6973, // noise
    0x6f63_636c, // occlusion
    0x646f_776e, // downscale
    0x6772_6579, // grey
];

impl Augmenter {
    /// An augmenter with the given settings.
    pub fn new(config: AugmentConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The settings.
    pub fn config(&self) -> &AugmentConfig {
        &self.config
    }

    /// The augmented picture for `seed` (same seed, same result).
    pub fn augment(&self, image: &RgbImage, seed: u64) -> RgbImage {
        let c = &self.config;
        let stream =
            |k: usize| AugmentRng::new(seed ^ STREAMS[k].wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let side = image.width().min(image.height()) as f32;
        let mut img = image.clone();

        let mut r = stream(0);
        if r.chance(c.flip_prob) {
            img = flip_horizontal(&img);
        }
        let mut r = stream(1);
        if r.chance(c.affine_prob) {
            let deg = r.range(-c.max_rotation_deg, c.max_rotation_deg);
            let scale = r.range(c.scale_range[0], c.scale_range[1]);
            let dx = r.range(-c.max_translate, c.max_translate) * side;
            let dy = r.range(-c.max_translate, c.max_translate) * side;
            img = rotate_scale_translate(&img, deg, scale, dx, dy);
        }
        let mut r = stream(2);
        if r.chance(c.color_prob) {
            let b = r.range(-c.max_brightness, c.max_brightness);
            let k = 1.0 + r.range(-c.max_contrast, c.max_contrast);
            img = brightness_contrast(&img, b, k);
        }
        let mut r = stream(3);
        if r.chance(c.blur_prob) {
            img = gaussian_blur(&img, r.range(c.blur_sigma[0], c.blur_sigma[1]));
        }
        let mut r = stream(4);
        if r.chance(c.noise_prob) {
            let std = r.range(c.noise_std[0], c.noise_std[1]);
            img = add_gaussian_noise(&img, std, r.next_u64());
        }
        let mut r = stream(5);
        if r.chance(c.occlusion_prob) {
            let (w, h) = img.dimensions();
            let pw = (r.range(c.occlusion_size[0], c.occlusion_size[1]) * w as f32).round() as u32;
            let ph = (r.range(c.occlusion_size[0], c.occlusion_size[1]) * h as f32).round() as u32;
            let x = (r.unit() * (w.saturating_sub(pw) + 1) as f32) as u32;
            let y = (r.unit() * (h.saturating_sub(ph) + 1) as f32) as u32;
            let grey = (r.unit() * 255.0) as u8;
            img = occlude(&img, x, y, pw, ph, [grey; 3]);
        }
        let mut r = stream(6);
        if r.chance(c.downscale_prob) {
            img = downscale_upscale(&img, r.range(c.downscale_range[0], c.downscale_range[1]));
        }
        let mut r = stream(7);
        if r.chance(c.grayscale_prob) {
            img = drop_colour(&img);
        }
        img
    }
}
