//! What a file holds, from its extension: the one list of picture and video extensions the
//! analyzers, the frame-folder reader and the examples share.

use std::path::Path;

/// Picture extensions (lower case) facevox decodes: the formats its `image` build reads.
pub const PICTURE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// Container extensions (lower case) read as video: faces from the frames, voice from the
/// audio track.
pub const VIDEO_EXTENSIONS: [&str; 4] = ["mp4", "m4v", "mov", "3gp"];

/// The kind of input a file is, judged from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// A still picture (see [`PICTURE_EXTENSIONS`]).
    Picture,
    /// A video container (see [`VIDEO_EXTENSIONS`]): frames and, usually, an audio track.
    Video,
    /// Anything else is tried as audio (WAV, FLAC, MP3, Ogg, M4A, ...); the decoder says if
    /// it is not.
    Audio,
}

impl MediaKind {
    /// Whether the face branch can read it.
    pub fn has_face(self) -> bool {
        matches!(self, MediaKind::Picture | MediaKind::Video)
    }

    /// Whether the voice branch can read it.
    pub fn has_voice(self) -> bool {
        matches!(self, MediaKind::Video | MediaKind::Audio)
    }
}

/// The kind of `path`, from its extension (case-insensitive).
pub fn media_kind(path: impl AsRef<Path>) -> MediaKind {
    let ext = path
        .as_ref()
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if PICTURE_EXTENSIONS.contains(&ext.as_str()) {
        MediaKind::Picture
    } else if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        MediaKind::Video
    } else {
        MediaKind::Audio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_extensions() {
        assert_eq!(media_kind("a/b.JPG"), MediaKind::Picture);
        assert_eq!(media_kind("clip.mov"), MediaKind::Video);
        assert_eq!(media_kind("voice.flac"), MediaKind::Audio);
        assert_eq!(media_kind("noext"), MediaKind::Audio);
        // Formats the build cannot decode are not pictures.
        assert_eq!(media_kind("x.webp"), MediaKind::Audio);
        assert!(MediaKind::Video.has_face() && MediaKind::Video.has_voice());
        assert!(!MediaKind::Picture.has_voice() && !MediaKind::Audio.has_face());
    }
}
