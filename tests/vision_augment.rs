//! Augmentations: each transform does what it says, and every random choice is seeded.

use facevox::vision::{
    add_gaussian_noise, brightness_contrast, downscale_upscale, flip_horizontal, gaussian_blur,
    occlude, rotate_scale_translate, AugmentConfig, AugmentRng, Augmenter, RgbImage,
};
use facevox::Error;
use image::Rgb;

/// A 64x64 test card: a bright square off-centre on a gradient, with some texture.
fn card() -> RgbImage {
    RgbImage::from_fn(64, 64, |x, y| {
        if (10..26).contains(&x) && (20..36).contains(&y) {
            Rgb([250, 240, 230])
        } else {
            let t = ((x * 7 + y * 13) % 17) as u8;
            Rgb([(x * 3) as u8 + t, (y * 3) as u8, 100 + t])
        }
    })
}

fn mean(img: &RgbImage) -> f64 {
    img.as_raw().iter().map(|&v| v as f64).sum::<f64>() / img.as_raw().len() as f64
}

fn std(img: &RgbImage) -> f64 {
    let m = mean(img);
    (img.as_raw()
        .iter()
        .map(|&v| (v as f64 - m).powi(2))
        .sum::<f64>()
        / img.as_raw().len() as f64)
        .sqrt()
}

/// Mean absolute difference between neighbouring pixels: a measure of fine detail.
fn detail(img: &RgbImage) -> f64 {
    let (w, h) = img.dimensions();
    let mut s = 0.0;
    for y in 0..h {
        for x in 1..w {
            s += (img.get_pixel(x, y)[0] as f64 - img.get_pixel(x - 1, y)[0] as f64).abs();
        }
    }
    s / ((w - 1) * h) as f64
}

fn diff(a: &RgbImage, b: &RgbImage) -> f64 {
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .sum::<f64>()
        / a.as_raw().len() as f64
}

#[test]
fn flip_mirrors_columns_and_undoes_itself() {
    let img = card();
    let f = flip_horizontal(&img);
    assert_eq!(f.get_pixel(63 - 12, 25), img.get_pixel(12, 25));
    assert_ne!(f, img);
    assert_eq!(flip_horizontal(&f), img);
}

#[test]
fn rotation_scale_and_translation_move_the_square() {
    let img = card();
    assert_eq!(rotate_scale_translate(&img, 0.0, 1.0, 0.0, 0.0), img);
    // A shift of 10 px right moves the square's left edge from 10 to 20.
    let shifted = rotate_scale_translate(&img, 0.0, 1.0, 10.0, 0.0);
    assert_eq!(shifted.get_pixel(25, 25)[0], 250);
    assert_ne!(shifted.get_pixel(15, 25)[0], 250);
    // 90 degrees counter-clockwise about the centre (31.5, 31.5): the square's centre
    // (17.5, 27.5) goes to (27.5, 45.5).
    let turned = rotate_scale_translate(&img, 90.0, 1.0, 0.0, 0.0);
    assert_eq!(turned.get_pixel(27, 45)[0], 250);
    assert_ne!(turned.get_pixel(17, 27)[0], 250);
    // Scaling by 2 about the centre doubles the square's distance from it: (17.5, 27.5)
    // goes to (3.5, 23.5).
    let zoomed = rotate_scale_translate(&img, 0.0, 2.0, 0.0, 0.0);
    assert_eq!(zoomed.get_pixel(4, 24)[0], 250);
    // Small angles change the picture a little, not wholesale.
    let small = rotate_scale_translate(&img, 5.0, 1.0, 0.0, 0.0);
    let d = diff(&small, &img);
    assert!(d > 1.0 && d < 30.0, "{d}");
}

#[test]
fn brightness_shifts_and_contrast_scales() {
    let img = card();
    assert_eq!(brightness_contrast(&img, 0.0, 1.0), img);
    let brighter = brightness_contrast(&img, 0.1, 1.0);
    assert!((mean(&brighter) - mean(&img) - 25.5).abs() < 2.0);
    let flat = brightness_contrast(&img, 0.0, 0.5);
    assert!((std(&flat) / std(&img) - 0.5).abs() < 0.05);
    assert!(
        (mean(&flat) - mean(&img)).abs() < 1.0,
        "contrast keeps the mean"
    );
}

#[test]
fn blur_removes_detail_and_keeps_the_mean() {
    let img = card();
    assert_eq!(gaussian_blur(&img, 0.0), img);
    let b = gaussian_blur(&img, 1.5);
    assert!(
        detail(&b) < 0.6 * detail(&img),
        "{} vs {}",
        detail(&b),
        detail(&img)
    );
    assert!((mean(&b) - mean(&img)).abs() < 3.0);
}

#[test]
fn noise_has_the_asked_spread_and_is_seeded() {
    let flat = RgbImage::from_pixel(64, 64, Rgb([128, 128, 128]));
    let n = add_gaussian_noise(&flat, 10.0, 7);
    assert!((std(&n) - 10.0).abs() < 1.0, "{}", std(&n));
    assert!((mean(&n) - 128.0).abs() < 1.0);
    assert_eq!(n, add_gaussian_noise(&flat, 10.0, 7));
    assert_ne!(n, add_gaussian_noise(&flat, 10.0, 8));
}

#[test]
fn occlusion_paints_exactly_the_patch() {
    let img = card();
    let o = occlude(&img, 40, 50, 30, 30, [7, 8, 9]);
    for (x, y, p) in o.enumerate_pixels() {
        if x >= 40 && y >= 50 {
            assert_eq!(p.0, [7, 8, 9]);
        } else {
            assert_eq!(p, img.get_pixel(x, y));
        }
    }
}

#[test]
fn downscale_upscale_keeps_size_and_loses_detail() {
    let img = card();
    let low = downscale_upscale(&img, 0.25);
    assert_eq!(low.dimensions(), img.dimensions());
    assert!(detail(&low) < 0.6 * detail(&img));
    assert!((mean(&low) - mean(&img)).abs() < 3.0);
    assert_eq!(downscale_upscale(&img, 1.0), img);
}

#[test]
fn augmenter_is_deterministic_per_seed() {
    let img = card();
    let aug = Augmenter::new(AugmentConfig::default()).unwrap();
    let outs: Vec<RgbImage> = (0..16).map(|s| aug.augment(&img, s)).collect();
    for (s, o) in outs.iter().enumerate() {
        assert_eq!(*o, aug.augment(&img, s as u64), "seed {s}");
        assert_eq!(o.dimensions(), (64, 64));
    }
    let distinct = (1..outs.len()).filter(|&i| outs[i] != outs[0]).count();
    assert!(distinct >= 14, "seeds give different results");
    // Nothing enabled: identity.
    let none = Augmenter::new(AugmentConfig::none()).unwrap();
    assert_eq!(none.augment(&img, 3), img);
}

#[test]
fn each_transform_draws_from_its_own_stream() {
    // Turning noise off must not change what the flip did for the same seed.
    let img = card();
    let flip_only = AugmentConfig {
        flip_prob: 0.5,
        ..AugmentConfig::none()
    };
    let flip_noise = AugmentConfig {
        noise_prob: 1.0,
        ..flip_only.clone()
    };
    let a = Augmenter::new(flip_only).unwrap();
    let b = Augmenter::new(flip_noise).unwrap();
    let mut flips = 0;
    for s in 0..40 {
        let flipped = a.augment(&img, s) != img;
        flips += flipped as usize;
        let with_noise = b.augment(&img, s);
        let reference = if flipped {
            flip_horizontal(&img)
        } else {
            img.clone()
        };
        assert!(diff(&with_noise, &reference) < 12.0, "seed {s}");
    }
    assert!(
        (10..30).contains(&flips),
        "flip probability 0.5: {flips} of 40"
    );
}

#[test]
fn rng_is_stable_and_uniform() {
    let mut r = AugmentRng::new(1);
    // SplitMix64's published first output for seed 1.
    assert_eq!(r.next_u64(), 0x910a_2dec_8902_5cc1);
    let mut r = AugmentRng::new(5);
    let xs: Vec<f32> = (0..10_000).map(|_| r.unit()).collect();
    let m = xs.iter().sum::<f32>() / xs.len() as f32;
    assert!((m - 0.5).abs() < 0.02 && xs.iter().all(|&x| (0.0..1.0).contains(&x)));
    let ns: Vec<f32> = (0..10_000).map(|_| r.normal()).collect();
    let nm = ns.iter().sum::<f32>() / ns.len() as f32;
    let nv = ns.iter().map(|x| (x - nm).powi(2)).sum::<f32>() / ns.len() as f32;
    assert!(nm.abs() < 0.05 && (nv - 1.0).abs() < 0.05);
}

#[test]
fn bad_augment_configs_are_refused() {
    for cfg in [
        AugmentConfig {
            flip_prob: 1.5,
            ..Default::default()
        },
        AugmentConfig {
            scale_range: [1.2, 0.8],
            ..Default::default()
        },
        AugmentConfig {
            downscale_range: [0.0, 0.5],
            ..Default::default()
        },
        AugmentConfig {
            max_rotation_deg: f32::NAN,
            ..Default::default()
        },
    ] {
        assert!(matches!(Augmenter::new(cfg), Err(Error::InvalidConfig(_))));
    }
    let cfg = AugmentConfig::default();
    let back: AugmentConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
}

#[test]
fn dropping_colour_keeps_luma_and_is_seeded() {
    use facevox::vision::drop_colour;
    let img = card();
    let grey = drop_colour(&img);
    for (p, g) in img.pixels().zip(grey.pixels()) {
        let [r, gg, b] = g.0;
        assert!(r == gg && gg == b, "{:?}", g.0);
        // BT.601 luma of the original pixel, within rounding.
        let y = 0.299 * p.0[0] as f64 + 0.587 * p.0[1] as f64 + 0.114 * p.0[2] as f64;
        assert!((r as f64 - y).abs() <= 1.5, "{} vs {y}", r);
    }
    let always = Augmenter::new(AugmentConfig {
        grayscale_prob: 1.0,
        ..AugmentConfig::none()
    })
    .unwrap();
    assert_eq!(always.augment(&img, 7), grey);
    let half = Augmenter::new(AugmentConfig {
        grayscale_prob: 0.5,
        ..AugmentConfig::none()
    })
    .unwrap();
    let greyed = (0..200u64)
        .filter(|&s| half.augment(&img, s) == grey)
        .count();
    assert!(
        (60..=140).contains(&greyed),
        "{greyed}/200 greyed at p = 0.5"
    );
    assert_eq!(half.augment(&img, 11), half.augment(&img, 11));
    assert!(Augmenter::new(AugmentConfig {
        grayscale_prob: 1.5,
        ..AugmentConfig::none()
    })
    .is_err());
}
