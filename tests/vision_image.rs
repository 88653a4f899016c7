//! Image loading: every supported format and pixel layout, EXIF orientation, size limits checked
//! before decoding, and typed errors for bad input.

mod common;
use common::png_header;
use std::io::Cursor;

use facevox::vision::{decode_image, decode_image_with, load_image, ImageLimits};
use facevox::Error;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

/// A 6x4 picture whose every pixel differs, so any flip or rotation shows.
fn pattern() -> RgbImage {
    RgbImage::from_fn(6, 4, |x, y| Rgb([(x * 40) as u8, (y * 60) as u8, 200]))
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[test]
fn every_format_and_layout_decodes_to_the_same_rgb() {
    let rgb = pattern();
    let base = DynamicImage::ImageRgb8(rgb.clone());
    let layouts = [
        base.clone(),
        DynamicImage::ImageRgba8(base.to_rgba8()),
        DynamicImage::ImageRgb16(base.to_rgb16()),
        DynamicImage::ImageRgba16(base.to_rgba16()),
    ];
    for img in &layouts {
        for format in [ImageFormat::Png, ImageFormat::Tiff] {
            if format == ImageFormat::Tiff && matches!(img, DynamicImage::ImageRgba16(_)) {
                continue;
            }
            let got = decode_image(&encode(img, format)).unwrap();
            assert_eq!(got, rgb, "{format:?} {:?}", img.color());
        }
    }
    assert_eq!(decode_image(&encode(&base, ImageFormat::Bmp)).unwrap(), rgb);
    // Grey PNGs (8 and 16 bit) come out with R = G = B.
    for grey in [
        DynamicImage::ImageLuma8(base.to_luma8()),
        DynamicImage::ImageLuma16(base.to_luma16()),
    ] {
        let got = decode_image(&encode(&grey, ImageFormat::Png)).unwrap();
        assert_eq!(got.dimensions(), (6, 4));
        assert!(got.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
    }
    // JPEG is lossy: close, not equal.
    let big = RgbImage::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let got = decode_image(&encode(
        &DynamicImage::ImageRgb8(big.clone()),
        ImageFormat::Jpeg,
    ))
    .unwrap();
    let err: f64 = got
        .as_raw()
        .iter()
        .zip(big.as_raw())
        .map(|(&a, &b)| (a as f64 - b as f64).abs())
        .sum::<f64>()
        / big.as_raw().len() as f64;
    assert!(err < 4.0, "{err}");
}

/// Inserts an APP1 Exif segment holding only an orientation tag right after the JPEG's SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one IFD entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut payload = b"Exif\x00\x00".to_vec();
    payload.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_of_photos_is_applied() {
    // Left half dark, right half bright: easy to follow through rotations despite JPEG loss.
    let img = RgbImage::from_fn(
        64,
        32,
        |x, _| if x < 32 { Rgb([20; 3]) } else { Rgb([230; 3]) },
    );
    let jpeg = encode(&DynamicImage::ImageRgb8(img), ImageFormat::Jpeg);
    let plain = decode_image(&with_exif_orientation(&jpeg, 1)).unwrap();
    assert_eq!(plain.dimensions(), (64, 32));
    assert!(plain.get_pixel(5, 16)[0] < 60);
    // 6: the camera was turned clockwise; the picture must be rotated 90 degrees clockwise
    // to display, so the dark left half ends up on top.
    let rotated = decode_image(&with_exif_orientation(&jpeg, 6)).unwrap();
    assert_eq!(rotated.dimensions(), (32, 64));
    assert!(rotated.get_pixel(16, 5)[0] < 60 && rotated.get_pixel(16, 58)[0] > 180);
    // 3: upside down; the dark half moves to the right.
    let flipped = decode_image(&with_exif_orientation(&jpeg, 3)).unwrap();
    assert_eq!(flipped.dimensions(), (64, 32));
    assert!(flipped.get_pixel(58, 16)[0] < 60 && flipped.get_pixel(5, 16)[0] > 180);
    // 8: rotated 90 degrees counter-clockwise: the dark half ends up at the bottom.
    let ccw = decode_image(&with_exif_orientation(&jpeg, 8)).unwrap();
    assert_eq!(ccw.dimensions(), (32, 64));
    assert!(ccw.get_pixel(16, 58)[0] < 60);
}

/// A BMP file header and BITMAPINFOHEADER declaring `width` x `height` at 24 bits, no pixels.
fn bmp_header(width: i32, height: i32) -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&[0; 24]);
    out
}

/// A baseline JPEG's SOI, one quantisation table and an SOF0 declaring the size, then EOI.
fn jpeg_header(width: u16, height: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    out.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    out.extend_from_slice(&[1u8; 64]);
    out.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

#[test]
fn huge_images_are_refused_from_the_header_alone() {
    // 40000 x 40000 RGB would need 4.8 GB; the header is all that gets read.
    for bytes in [png_header(40_000, 40_000), bmp_header(40_000, 40_000)] {
        match decode_image(&bytes) {
            Err(Error::ImageTooLarge { width, height, .. }) => {
                assert_eq!((width, height), (40_000, 40_000))
            }
            other => panic!("{other:?}"),
        }
    }
    match decode_image(&jpeg_header(40_000, 40_000)) {
        Err(Error::ImageTooLarge { .. }) => {}
        other => panic!("{other:?}"),
    }
    // Within the side limit but over the pixel budget.
    assert!(matches!(
        decode_image(&png_header(16_000, 16_000)),
        Err(Error::ImageTooLarge { .. })
    ));
    // Custom, tighter limits.
    let tight = ImageLimits {
        max_side: 4,
        max_pixels: 100,
    };
    let small = encode(&DynamicImage::ImageRgb8(pattern()), ImageFormat::Png);
    assert!(matches!(
        decode_image_with(&small, &tight),
        Err(Error::ImageTooLarge {
            width: 6,
            height: 4,
            ..
        })
    ));
}

#[test]
fn zero_sized_images_are_refused() {
    for bytes in [png_header(0, 0), bmp_header(0, 0), jpeg_header(0, 0)] {
        match decode_image(&bytes) {
            Err(Error::ImageTooSmall {
                width: 0,
                height: 0,
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn corrupt_and_truncated_images_are_typed_errors() {
    let img = DynamicImage::ImageRgb8(RgbImage::from_fn(40, 30, |x, y| {
        Rgb([(x * 6) as u8, (y * 8) as u8, ((x + y) * 3) as u8])
    }));
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
    ] {
        let bytes = encode(&img, format);
        for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() * 9 / 10] {
            match decode_image(&bytes[..cut]) {
                Err(Error::Corrupt(_)) => {}
                // JPEG decoders fill a cut-off scan with grey rather than fail.
                Ok(_) if format == ImageFormat::Jpeg => {}
                other => panic!(
                    "{format:?} cut at {cut}: {:?}",
                    other.map(|i| i.dimensions())
                ),
            }
        }
        // Garbage after a valid signature.
        let mut garbled = bytes.clone();
        for (i, v) in garbled.iter_mut().enumerate().skip(16) {
            *v = (i * 7919 % 251) as u8;
        }
        assert!(decode_image(&garbled).is_err() || format == ImageFormat::Bmp);
    }
    assert!(matches!(decode_image(&[]), Err(Error::Empty(_))));
    assert!(matches!(
        decode_image(b"plain text is not an image"),
        Err(Error::UnrecognizedFormat(_))
    ));
    // A format that is recognised but not decoded.
    assert!(matches!(
        decode_image(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        Err(Error::UnsupportedCodec(_))
    ));
}

#[test]
fn missing_and_empty_files_are_typed_errors() {
    assert!(matches!(
        load_image("/nonexistent/face.png"),
        Err(Error::Io { .. })
    ));
    let empty = std::env::temp_dir().join(format!("facevox_empty_{}.png", std::process::id()));
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(load_image(&empty), Err(Error::Empty(_))));
    std::fs::remove_file(&empty).unwrap();
}

#[test]
fn limits_round_trip_through_json() {
    let l = ImageLimits::default();
    let back: ImageLimits = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
    assert_eq!(back, l);
    assert_eq!((l.max_side, l.max_pixels), (16_384, 100_000_000));
}
