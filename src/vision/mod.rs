//! The vision front end: images and H.264 video in, face crops out.
//!
//! ```text
//! photo (JPEG/PNG/BMP/TIFF) ──load (EXIF orientation, size limits)──► RGB ─┐
//! clip.mp4 ──demux──► H.264 ──decode (OpenH264), sample 5 fps──► frames ───┼─► detect ─► track ─► crop ─► FaceCrop
//! folder of frames ──────────────────────────────────────────► frames ───┘            (pre-cropped faces skip detection)
//! ```
//!
//! - [`load_image`] reads a picture; [`VideoReader`] and [`frames_from_folder`] read clips as
//!   timestamped [`VideoFrame`]s at the rate a [`VideoConfig`] asks for.
//! - [`FaceDetector`] is the detector interface; [`SeetaDetector`] is the default, with its
//!   model compiled in, so nothing is downloaded. [`MmodDetector`] (a port of dlib's CNN face
//!   detector, model compiled in) is a slower second detector; [`SeetaConfig::mmod_fallback`]
//!   (on by default) runs it on small pictures where SeetaFace finds nothing.
//! - [`FaceTracker`] keeps one face across frames; [`video_face_crops`] runs the whole path from
//!   a video file to one [`FrameFace`] per kept frame.
//! - [`CropConfig`] says how a face becomes a model input (size, margin, grey or RGB,
//!   normalisation); [`FaceCropper`] crops photos, or pre-cropped faces without detection.
//! - [`Augmenter`] makes seeded, repeatable training variants of crops.
//! - [`LandmarkModel`] finds five landmarks (eye corners, bottom of the nose; a port of dlib's
//!   5-point shape predictor, model compiled in) and [`align_face`] warps a face so its eyes
//!   are level at fixed positions; a [`CropConfig`] with `align` crops through them (no shipped
//!   model does yet).
//!
//! Quick start:
//!
//! ```no_run
//! use facevox::vision::{video_face_crops, ClipConfig, CropConfig, FaceCropper};
//!
//! // A photo.
//! let mut cropper = FaceCropper::new(CropConfig::default())?;
//! if let Some(crop) = cropper.crop_file("photo.jpg")? {
//!     assert_eq!(crop.shape(), [3, 64, 64]);
//! }
//! // A clip, 5 frames per second.
//! for frame in video_face_crops("clip.mp4", &ClipConfig::default())? {
//!     println!("{:.2} s: face {}", frame.timestamp_secs, frame.found());
//! }
//! # Ok::<(), facevox::Error>(())
//! ```

pub mod augment;
pub mod crop;
pub mod detect;
pub mod image_io;
pub mod landmarks;
mod media;
pub mod mmod;
pub(crate) mod mp4;
pub mod track;
pub mod video;

pub use augment::{
    add_gaussian_noise, brightness_contrast, downscale_upscale, drop_colour, flip_horizontal,
    gaussian_blur, occlude, rotate_scale_translate, AugmentConfig, AugmentRng, Augmenter,
};
pub use crop::{
    crop_face, crop_face_image, crop_precropped, face_crop_from_file, normalize_face,
    precropped_face_image, square_region, ColorMode, CropConfig, FaceCrop, FaceCropper, FaceSource,
    ResizeFilter, SquareRegion,
};
pub use detect::{
    FaceBox, FaceDetector, FacePick, MmodFallbackConfig, SeetaConfig, SeetaDetector,
    SeetaRetryConfig,
};
pub use image::{GrayImage, RgbImage};
pub use image_io::{decode_image, decode_image_with, load_image, load_image_with, ImageLimits};
pub use landmarks::{
    align_face, canonical_eye_positions, face_box_from_dlib_rect, BoxAdapter, LandmarkModel,
    Landmarks5,
};
pub use media::{media_kind, MediaKind, PICTURE_EXTENSIONS, VIDEO_EXTENSIONS};
pub use mmod::{MmodConfig, MmodDetection, MmodDetector, MAX_MMOD_UPSAMPLE};
pub use track::{
    folder_face_crops, track_faces, video_face_crops, ClipConfig, FaceTracker, FrameFace,
    TrackerConfig,
};
pub use video::{
    frames_from_folder, read_video_frames, Frames, VideoConfig, VideoFrame, VideoInfo, VideoReader,
    MAX_DECODE_THREADS,
};
