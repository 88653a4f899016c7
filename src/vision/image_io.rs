//! Image files in, RGB pictures out: JPEG, PNG (8/16-bit, grey, RGB, RGBA), BMP and TIFF, with
//! the EXIF orientation of photos applied and the declared size checked against limits before
//! any pixel is decoded.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Size limits for decoded images, checked against the header before the pixels are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageLimits {
    /// Largest accepted width or height, in pixels.
    pub max_side: u32,
    /// Largest accepted width × height.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    /// 16384 pixels per side and 100 megapixels.
    fn default() -> Self {
        Self {
            max_side: crate::limits::DEFAULT_MAX_IMAGE_SIDE,
            max_pixels: crate::limits::DEFAULT_MAX_IMAGE_PIXELS,
        }
    }
}

impl ImageLimits {
    /// Checks a declared size: [`Error::ImageTooSmall`] for a zero side, [`Error::ImageTooLarge`]
    /// beyond the limits.
    pub fn check(&self, width: u32, height: u32) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(Error::ImageTooSmall { width, height });
        }
        if width > self.max_side
            || height > self.max_side
            || width as u64 * height as u64 > self.max_pixels
        {
            return Err(Error::ImageTooLarge {
                width,
                height,
                limit: format!(
                    "{} pixels per side and {} pixels in all",
                    self.max_side, self.max_pixels
                ),
            });
        }
        Ok(())
    }
}

/// Loads an image file as 8-bit RGB with its EXIF orientation applied, under default limits.
pub fn load_image(path: impl AsRef<Path>) -> Result<RgbImage> {
    load_image_with(path, &ImageLimits::default())
}

/// Loads an image file as 8-bit RGB with its EXIF orientation applied.
pub fn load_image_with(path: impl AsRef<Path>, limits: &ImageLimits) -> Result<RgbImage> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(Error::Empty(format!("{} has zero bytes", path.display())));
    }
    decode_reader(BufReader::new(file), limits)
}

/// Decodes an image held in memory as 8-bit RGB with its EXIF orientation applied, under default
/// limits.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage> {
    decode_image_with(bytes, &ImageLimits::default())
}

/// Decodes an image held in memory as 8-bit RGB with its EXIF orientation applied.
pub fn decode_image_with(bytes: &[u8], limits: &ImageLimits) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::Empty("the image has zero bytes".into()));
    }
    decode_reader(Cursor::new(bytes), limits)
}

fn decode_reader<R: BufRead + Seek>(mut reader: R, limits: &ImageLimits) -> Result<RgbImage> {
    // Check the declared size from the first bytes ourselves where the format makes it easy, so
    // even a header-only file (or one the decoder would misreport) gets the right typed error.
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut reader)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .and_then(|_| reader.seek(SeekFrom::Start(0)))
        .map_err(|e| Error::Corrupt(format!("cannot read the image: {e}")))?;
    if let Some((width, height)) = peek_size(&head) {
        limits.check(width, height)?;
    }
    let reader = ImageReader::new(reader)
        .with_guessed_format()
        .map_err(|e| Error::Corrupt(format!("cannot read the image: {e}")))?;
    let format = reader
        .format()
        .ok_or_else(|| Error::UnrecognizedFormat("not a JPEG, PNG, BMP or TIFF image".into()))?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Bmp | ImageFormat::Tiff
    ) {
        return Err(Error::UnsupportedCodec(format!(
            "{format:?} images (JPEG, PNG, BMP and TIFF are decoded)"
        )));
    }
    // Read the header with no limits so the declared size can be reported exactly, then decode
    // the pixels under the real ones.
    let mut reader = reader;
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(map_image_error)?;
    let (width, height) = decoder.dimensions();
    limits.check(width, height)?;
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    // 16-bit RGBA output plus the decoder's working buffers.
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(64 << 20));
    decoder.set_limits(decode_limits).map_err(map_image_error)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// Bytes read from the start of a file to find its declared size.
const HEAD_BYTES: usize = 64 << 10;

/// The width and height declared by a PNG, BMP or JPEG header, if `head` holds one.
fn peek_size(head: &[u8]) -> Option<(u32, u32)> {
    let be32 = |i: usize| {
        head.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let le32 = |i: usize| {
        head.get(i..i + 4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let le16 = |i: usize| {
        head.get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as u32)
    };
    if head.starts_with(b"\x89PNG\r\n\x1a\n") && head.get(12..16) == Some(b"IHDR") {
        return Some((be32(16)?, be32(20)?));
    }
    if head.starts_with(b"BM") {
        return match le32(14)? {
            12 => Some((le16(18)?, le16(20)?)),
            n if n >= 40 => Some((le32(18)?.unsigned_abs(), le32(22)?.unsigned_abs())),
            _ => None,
        };
    }
    if head.starts_with(&[0xFF, 0xD8]) {
        // Walk the marker segments to the first start-of-frame.
        let mut pos = 2;
        while pos + 4 <= head.len() {
            if head[pos] != 0xFF {
                return None;
            }
            let marker = head[pos + 1];
            if marker == 0xFF {
                pos += 1;
                continue;
            }
            let len = u16::from_be_bytes([head[pos + 2], head[pos + 3]]) as usize;
            let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
            if is_sof {
                let b = head.get(pos + 5..pos + 9)?;
                let height = u16::from_be_bytes([b[0], b[1]]) as u32;
                let width = u16::from_be_bytes([b[2], b[3]]) as u32;
                return Some((width, height));
            }
            if marker == 0xDA || len < 2 {
                return None;
            }
            pos += 2 + len;
        }
    }
    None
}

fn map_image_error(e: ImageError) -> Error {
    match e {
        ImageError::Unsupported(u) => Error::UnsupportedCodec(u.to_string()),
        ImageError::Limits(l) => Error::ImageTooLarge {
            width: 0,
            height: 0,
            limit: l.to_string(),
        },
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Corrupt(format!("the image is truncated: {io}"))
        }
        other => Error::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_sizes_are_read_without_decoding() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 200]);
        assert_eq!(peek_size(&png), Some((256, 200)));
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC2, 0, 17, 8];
        jpeg.extend_from_slice(&[0x01, 0x00, 0x02, 0x00]);
        assert_eq!(peek_size(&jpeg), Some((512, 256)));
        assert_eq!(peek_size(b"nothing"), None);
    }

    #[test]
    fn limits_reject_zero_and_huge_sizes() {
        let l = ImageLimits::default();
        assert!(l.check(1, 1).is_ok());
        assert!(l.check(16_384, 6_000).is_ok());
        assert!(matches!(l.check(0, 0), Err(Error::ImageTooSmall { .. })));
        assert!(matches!(l.check(0, 10), Err(Error::ImageTooSmall { .. })));
        assert!(matches!(
            l.check(16_385, 10),
            Err(Error::ImageTooLarge { width: 16_385, .. })
        ));
        assert!(matches!(
            l.check(12_000, 12_000),
            Err(Error::ImageTooLarge { .. })
        ));
    }
}
