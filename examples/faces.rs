//! Face crops from a video, a photo or a folder of frames, written as PNG files to look at.
//!
//! ```text
//! cargo run --release --example faces -- examples/data/01-01-07-02-02-01-01.mp4 /tmp/faces
//! cargo run --release --example faces -- photo.jpg /tmp/faces [--size 128] [--margin 0.3] [--gray]
//! cargo run --release --example faces -- frames_dir/ /tmp/faces --fps 25
//! ```
//!
//! Writes one `NNNN_T.TTs.png` crop per kept frame (videos are sampled at 5 frames per second),
//! `sheet.png` with all crops side by side, and `boxes.png`: the first frame with the face box
//! drawn, so both the detection and the crop can be checked by eye.

use std::path::{Path, PathBuf};

use facevox::vision::{
    folder_face_crops, load_image, video_face_crops, ClipConfig, ColorMode, FaceBox, FaceCrop,
    FaceCropper, FrameFace, RgbImage, VideoConfig,
};
use image::Rgb;

fn usage() -> ! {
    eprintln!(
        "usage: faces INPUT(.mp4 | image | folder) OUT_DIR [--size N] [--margin F] [--gray] [--fps F]"
    );
    std::process::exit(2)
}

fn main() -> facevox::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        usage();
    }
    let input = PathBuf::from(&args[0]);
    let out = PathBuf::from(&args[1]);
    let mut config = ClipConfig::default();
    config.crop.size = 128;
    let mut folder_fps = 25.0;
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .unwrap_or_else(|| usage())
                .parse::<f64>()
                .unwrap_or_else(|_| usage())
        };
        match flag.as_str() {
            "--size" => config.crop.size = value() as u32,
            "--margin" => config.crop.margin = value() as f32,
            "--fps" => folder_fps = value(),
            "--gray" => config.crop.color = ColorMode::Gray,
            _ => usage(),
        }
    }
    std::fs::create_dir_all(&out).map_err(|e| facevox::Error::Io {
        path: out.clone(),
        source: e,
    })?;

    let is_video = input
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "mp4" | "m4v" | "mov"));
    let start = std::time::Instant::now();
    let (faces, first_frame): (Vec<FrameFace>, RgbImage) = if input.is_dir() {
        let faces = folder_face_crops(&input, folder_fps, &config)?;
        let first =
            facevox::vision::frames_from_folder(&input, folder_fps, &VideoConfig::sampled(0.001))?;
        (faces, first.into_iter().next().expect("one frame").image)
    } else if is_video {
        let faces = video_face_crops(&input, &config)?;
        let first = facevox::vision::read_video_frames(&input, &VideoConfig::sampled(0.001))?;
        (faces, first.into_iter().next().expect("one frame").image)
    } else {
        let image = load_image(&input)?;
        let mut cropper = FaceCropper::new(config.crop.clone())?;
        let face = cropper.locate(&image)?;
        let crop = match &face {
            Some(f) => Some(facevox::vision::crop_face(&image, f, &config.crop)?),
            None => None,
        };
        let frame = FrameFace {
            index: 0,
            timestamp_secs: 0.0,
            face,
            crop,
            extra_crops: Vec::new(),
        };
        (vec![frame], image)
    };
    let elapsed = start.elapsed();

    let mut crops: Vec<&FaceCrop> = Vec::new();
    for f in &faces {
        match &f.crop {
            Some(c) => {
                let name = out.join(format!("{:04}_{:.2}s.png", f.index, f.timestamp_secs));
                c.save_png(&name)?;
                crops.push(c);
                println!(
                    "frame {:4} at {:6.2} s: face {:?}",
                    f.index,
                    f.timestamp_secs,
                    f.face.unwrap()
                );
            }
            None => println!("frame {:4} at {:6.2} s: no face", f.index, f.timestamp_secs),
        }
    }
    let found = faces.iter().filter(|f| f.found()).count();
    println!(
        "{}: face in {found} of {} frames, {:.1} ms; crops written to {}",
        input.display(),
        faces.len(),
        elapsed.as_secs_f64() * 1e3,
        out.display()
    );
    if !crops.is_empty() {
        save(&contact_sheet(&crops), &out.join("sheet.png"))?;
    }
    if let Some(face) = faces.first().and_then(|f| f.face) {
        let mut boxed = first_frame;
        draw_box(&mut boxed, &face);
        save(&boxed, &out.join("boxes.png"))?;
    }
    Ok(())
}

fn save(image: &RgbImage, path: &Path) -> facevox::Result<()> {
    image
        .save(path)
        .map_err(|e| facevox::Error::Corrupt(format!("cannot write {}: {e}", path.display())))
}

/// All crops in rows of ten.
fn contact_sheet(crops: &[&FaceCrop]) -> RgbImage {
    let s = crops[0].size;
    let cols = crops.len().min(10) as u32;
    let rows = crops.len().div_ceil(10) as u32;
    let mut sheet = RgbImage::from_pixel(cols * (s + 2), rows * (s + 2), Rgb([255; 3]));
    for (i, c) in crops.iter().enumerate() {
        let (x, y) = ((i as u32 % 10) * (s + 2), (i as u32 / 10) * (s + 2));
        image::imageops::replace(&mut sheet, &c.to_rgb_image(), x as i64, y as i64);
    }
    sheet
}

fn draw_box(image: &mut RgbImage, face: &FaceBox) {
    let (w, h) = image.dimensions();
    let x0 = face.x.max(0.0) as u32;
    let y0 = face.y.max(0.0) as u32;
    let x1 = ((face.x + face.width) as u32).min(w - 1);
    let y1 = ((face.y + face.height) as u32).min(h - 1);
    for t in 0..2 {
        for x in x0..=x1 {
            image.put_pixel(x, (y0 + t).min(h - 1), Rgb([0, 255, 0]));
            image.put_pixel(x, y1.saturating_sub(t), Rgb([0, 255, 0]));
        }
        for y in y0..=y1 {
            image.put_pixel((x0 + t).min(w - 1), y, Rgb([0, 255, 0]));
            image.put_pixel(x1.saturating_sub(t), y, Rgb([0, 255, 0]));
        }
    }
}
