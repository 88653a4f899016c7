//! Face detection on arbitrary pictures: the default detector (SeetaFace's two passes, then
//! the CNN fallback on small pictures) and the CNN detector alone, at upsample 0 or 1 and a
//! threshold from the input. The first four bytes give the width and height (1 to 256 each),
//! the upsampling and the threshold; the rest fills the RGB pixels, repeated to cover the
//! picture. Every box must be finite with a positive size; nothing may panic.
#![no_main]
use facevox::vision::{FaceBox, FaceDetector, MmodConfig, MmodDetector, RgbImage, SeetaDetector};
use libfuzzer_sys::fuzz_target;

fn check(faces: &[FaceBox]) {
    for f in faces {
        assert!(f.x.is_finite() && f.y.is_finite() && f.score.is_finite(), "{f:?}");
        assert!(f.width > 0.0 && f.height > 0.0, "{f:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let [w, h, up, t, rest @ ..] = data else {
        return;
    };
    if rest.is_empty() {
        return;
    }
    let (w, h) = (*w as u32 + 1, *h as u32 + 1);
    let pixels: Vec<u8> = rest
        .iter()
        .copied()
        .cycle()
        .take((w * h * 3) as usize)
        .collect();
    let image = RgbImage::from_raw(w, h, pixels).expect("the buffer fits the picture");
    let mut seeta = SeetaDetector::new().expect("the default detector loads");
    check(&seeta.detect(&image).expect("detection on a valid picture"));
    let config = MmodConfig {
        upsample: (*up % 2) as u32,
        threshold: (*t as f32 - 128.0) / 64.0,
    };
    let mut mmod = MmodDetector::shipped()
        .and_then(|d| d.with_config(config))
        .expect("the CNN detector loads");
    check(&mmod.detect(&image).expect("detection on a valid picture"));
});
