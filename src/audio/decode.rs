//! Decoding audio files and the audio tracks of video files to mono `f32`.
//!
//! Built on [symphonia](https://docs.rs/symphonia) (pure Rust): WAV (8/16/24/32-bit integer and
//! 32/64-bit float PCM), FLAC, MP3, Ogg Vorbis, and AAC-LC in MP4/M4A. Channels are averaged to
//! mono; the sample rate is kept (see [`crate::audio::Resampler`]).
//!
//! Untrusted input never panics: every failure is a typed [`Error`], and as a last line of
//! defence a panic inside the third-party decoder is caught and reported as [`Error::Corrupt`].

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CodecType, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::AudioClip;
use crate::{Error, Result};

/// Highest sample rate accepted from a header; anything above is treated as a broken header.
pub const MAX_SAMPLE_RATE: u32 = crate::limits::MAX_AUDIO_SAMPLE_RATE;
/// Lowest sample rate accepted from a header.
pub const MIN_SAMPLE_RATE: u32 = crate::limits::MIN_AUDIO_SAMPLE_RATE;
/// Most channels accepted from a header.
pub const MAX_CHANNELS: usize = crate::limits::MAX_AUDIO_CHANNELS;

/// Limits applied while decoding.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DecodeOptions {
    /// Longest recording accepted, in seconds; longer input fails with [`Error::TooLong`]
    /// instead of exhausting memory.
    pub max_seconds: f64,
    /// Packets that fail to decode before the stream is declared corrupt. A few bad packets in
    /// a long lossy stream are skipped, as media players do.
    pub max_bad_packets: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_seconds: crate::limits::DEFAULT_MAX_AUDIO_SECONDS,
            max_bad_packets: 4,
        }
    }
}

/// Decodes the file at `path` to a mono [`AudioClip`] at its native sample rate.
pub fn decode_file(path: impl AsRef<Path>, options: &DecodeOptions) -> Result<AudioClip> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let ext = path.extension().and_then(|e| e.to_str());
    decode_bytes(bytes, ext, options)
}

/// Decodes an in-memory file. `extension` (for example `"mp3"`) is a hint for the format probe;
/// the content decides.
pub fn decode_bytes(
    bytes: Vec<u8>,
    extension: Option<&str>,
    options: &DecodeOptions,
) -> Result<AudioClip> {
    if bytes.is_empty() {
        return Err(Error::Empty("the file has zero bytes".into()));
    }
    check_wav_header(&bytes)?;
    check_flac_metadata(&bytes)?;
    check_id3v2_tags(&bytes)?;
    crate::vision::mp4::check_mp4_tables(&bytes)?;
    let ext = extension.map(str::to_owned);
    match catch_unwind(AssertUnwindSafe(|| {
        decode_inner(bytes, ext.as_deref(), options)
    })) {
        Ok(result) => result,
        Err(_) => Err(Error::Corrupt(
            "the decoder failed on malformed data".into(),
        )),
    }
}

/// A sample rate from a header outside the supported range is [`Error::InvalidHeader`].
fn check_rate(rate: u32) -> Result<()> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        return Ok(());
    }
    Err(Error::InvalidHeader(format!(
        "sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE}"
    )))
}

/// No channels, or more than supported, is [`Error::InvalidHeader`].
fn check_channels(channels: usize) -> Result<()> {
    if (1..=MAX_CHANNELS).contains(&channels) {
        return Ok(());
    }
    Err(Error::InvalidHeader(format!(
        "{channels} channels (1..={MAX_CHANNELS} supported)"
    )))
}

/// A WAV file's `fmt ` chunk, checked before the third-party parser sees it (which panics on a
/// 0 Hz rate): no channels, or a sample rate outside the supported range, is
/// [`Error::InvalidHeader`]. Other files pass unchecked.
fn check_wav_header(bytes: &[u8]) -> Result<()> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Ok(());
    }
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes")) as usize;
        if id == b"fmt " {
            let body = &bytes[pos + 8..bytes.len().min(pos + 8 + len)];
            if body.len() < 8 {
                return Err(Error::InvalidHeader(
                    "the WAV fmt chunk is cut short".into(),
                ));
            }
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
            check_channels(channels as usize)?;
            return check_rate(rate);
        }
        // Chunks are padded to an even length.
        pos = pos
            .saturating_add(8)
            .saturating_add(len)
            .saturating_add(len & 1);
    }
    Ok(())
}

/// A FLAC file's metadata blocks, checked before the third-party parser reads them: every
/// block must fit in the file, and the lengths inside a Vorbis comment or picture block must
/// fit in the block (symphonia reserves memory from them first: a 5 kB file whose comment
/// claimed 3.7 GB was found by fuzzing). The probe takes the first format marker in the first
/// MiB, so a `fLaC` marker after leading junk is checked too (a 153-byte file with the marker at
/// byte 33 asked for 2.9 GB); files that open with another container's signature, which the
/// probe matches first, pass unchecked, as do files without the marker.
fn check_flac_metadata(bytes: &[u8]) -> Result<()> {
    let Some(start) = flac_marker(bytes) else {
        return Ok(());
    };
    let bytes = &bytes[start..];
    let bad = |what: &str| Err(Error::Corrupt(format!("FLAC metadata: {what}")));
    let mut pos = 4usize;
    while pos + 4 <= bytes.len() {
        let last = bytes[pos] & 0x80 != 0;
        let kind = bytes[pos] & 0x7f;
        let len = u32::from_be_bytes([0, bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]) as usize;
        let Some(body) = bytes.get(pos + 4..pos + 4 + len) else {
            return bad("a block runs past the end of the file");
        };
        // Reads a length field and skips that many bytes; false when they are not there.
        let skip = |at: &mut usize, le: bool| -> bool {
            let Some(f) = body.get(*at..*at + 4) else {
                return false;
            };
            let f: [u8; 4] = f.try_into().expect("4 bytes");
            let n = if le {
                u32::from_le_bytes(f)
            } else {
                u32::from_be_bytes(f)
            } as usize;
            *at += 4;
            match at.checked_add(n) {
                Some(end) if end <= body.len() => {
                    *at = end;
                    true
                }
                _ => false,
            }
        };
        match kind {
            // VORBIS_COMMENT: vendor string, then a count of strings (little-endian lengths).
            4 => {
                let mut at = 0usize;
                if !skip(&mut at, true) {
                    return bad("the comment block's vendor string does not fit");
                }
                let Some(count) = body.get(at..at + 4) else {
                    return bad("the comment block is cut short");
                };
                let count = u32::from_le_bytes(count.try_into().expect("4 bytes"));
                at += 4;
                for _ in 0..count {
                    if !skip(&mut at, true) {
                        return bad("a comment does not fit in its block");
                    }
                }
            }
            // PICTURE: type, MIME type, description, four numbers, data (big-endian lengths).
            6 => {
                let mut at = 4usize;
                let ok = skip(&mut at, false) && skip(&mut at, false) && {
                    at += 16;
                    skip(&mut at, false)
                };
                if !ok {
                    return bad("the picture block declares more than it holds");
                }
            }
            _ => {}
        }
        pos += 4 + len;
        if last {
            break;
        }
    }
    Ok(())
}

/// How far symphonia's probe searches for a format marker.
const PROBE_SEARCH_LIMIT: usize = 1 << 20;

/// A container signature symphonia's probe recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signature {
    Riff,
    Ogg,
    Flac,
    Mp4,
    MpegAudio,
}

/// The container signature `at` opens with, if any (an MP4's `ftyp` is 4 bytes in).
fn signature_at(at: &[u8]) -> Option<Signature> {
    if at.starts_with(b"RIFF") {
        Some(Signature::Riff)
    } else if at.starts_with(b"OggS") {
        Some(Signature::Ogg)
    } else if at.starts_with(b"fLaC") {
        Some(Signature::Flac)
    } else if at.get(4..8) == Some(b"ftyp".as_slice()) {
        Some(Signature::Mp4)
    } else if at.len() >= 2 && at[0] == 0xff && at[1] & 0xe0 == 0xe0 {
        Some(Signature::MpegAudio)
    } else {
        None
    }
}

/// Where symphonia's probe would find `marker`, the signature of `own`: its first occurrence
/// in the first MiB (the probe's search limit), unless the file opens with another
/// container's signature, which the probe takes first.
pub(crate) fn probe_marker(bytes: &[u8], marker: &[u8; 4], own: Signature) -> Option<usize> {
    if signature_at(bytes).is_some_and(|s| s != own) {
        return None;
    }
    let limit = bytes.len().min(PROBE_SEARCH_LIMIT);
    bytes[..limit].windows(4).position(|w| w == marker)
}

/// Where symphonia's probe would find a FLAC stream.
fn flac_marker(bytes: &[u8]) -> Option<usize> {
    probe_marker(bytes, b"fLaC", Signature::Flac)
}

/// ID3v2 tags, checked before symphonia's probe reads them: every frame must fit in its tag
/// (the probe reserves a frame's declared size before reading it: fuzzing found a 272-byte file
/// whose 35-byte tag held a frame claiming 2.3 GB). The probe reads each tag it meets before
/// the first container or MPEG-audio signature in the first MiB and goes on after it; those
/// are the tags checked, and a file without one passes unchecked.
fn check_id3v2_tags(bytes: &[u8]) -> Result<()> {
    let limit = bytes.len().min(PROBE_SEARCH_LIMIT);
    let mut pos = 0usize;
    while pos + 10 <= limit {
        let at = &bytes[pos..];
        if signature_at(at).is_some() {
            return Ok(());
        }
        let syncsafe = |b: &[u8]| {
            b.iter()
                .all(|&x| x < 0x80)
                .then(|| b.iter().fold(0usize, |a, &x| (a << 7) | x as usize))
        };
        let version = at[3];
        let tag_len = syncsafe(&at[6..10]);
        let (true, 2..=4, Some(tag_len)) = (at.starts_with(b"ID3"), version, tag_len) else {
            pos += 1;
            continue;
        };
        let end = (pos + 10 + tag_len).min(bytes.len());
        let bad = |what: &str| Err(Error::Corrupt(format!("ID3v2 tag at byte {pos}: {what}")));
        let mut frame = pos + 10;
        // An extended header (flag 0x40, v2.3 and v2.4) comes first.
        if version >= 3 && at[5] & 0x40 != 0 {
            let Some(size) = bytes.get(frame..frame + 4) else {
                return bad("the extended header is cut short");
            };
            let skip = if version == 3 {
                4 + u32::from_be_bytes(size.try_into().expect("4 bytes")) as usize
            } else {
                match syncsafe(size) {
                    Some(n) => n,
                    None => return bad("the extended header's size is not synchsafe"),
                }
            };
            frame = frame.saturating_add(skip);
        }
        let header = if version == 2 { 6 } else { 10 };
        while frame + header <= end {
            let h = &bytes[frame..frame + header];
            if h[0] == 0 {
                break; // padding
            }
            let size = match version {
                2 => u32::from_be_bytes([0, h[3], h[4], h[5]]) as usize,
                3 => u32::from_be_bytes(h[4..8].try_into().expect("4 bytes")) as usize,
                // v2.4 sizes are synchsafe (seven bits a byte, as the probe reads them).
                _ => h[4..8]
                    .iter()
                    .fold(0usize, |a, &x| (a << 7) | (x & 0x7f) as usize),
            };
            if size > end - (frame + header) {
                return bad(&format!(
                    "a frame claims {size} bytes, more than its tag holds ({} left)",
                    end - (frame + header)
                ));
            }
            frame += header + size;
        }
        pos = end.max(pos + 1);
    }
    Ok(())
}

fn decode_inner(bytes: Vec<u8>, ext: Option<&str>, options: &DecodeOptions) -> Result<AudioClip> {
    let mut hint = Hint::new();
    if let Some(ext) = ext {
        hint.with_extension(ext);
    }
    let mss = MediaSourceStream::new(
        Box::new(Cursor::new(bytes)),
        MediaSourceStreamOptions::default(),
    );
    // Gapless: the encoder's delay and padding (MP3's LAME/Xing header, 1,105 samples at the
    // start of a typical LAME file) are cut, so the samples line up with the source recording
    // as ffmpeg and libsndfile deliver them (the speaker encoder's reference test needs this).
    let format_options = FormatOptions {
        enable_gapless: true,
        ..FormatOptions::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_options, &MetadataOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(m) if m.contains("no suitable format reader") => {
                Error::UnrecognizedFormat("not a supported audio or video container".into())
            }
            SymError::Unsupported(m) => Error::UnsupportedCodec(m.to_string()),
            SymError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                Error::Corrupt(format!("the file ends inside its header ({e})"))
            }
            other => Error::InvalidHeader(other.to_string()),
        })?;
    let mut format = probed.format;

    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL && t.codec_params.sample_rate.is_some())
        .or_else(|| {
            format
                .tracks()
                .iter()
                .find(|t| t.codec_params.sample_rate.is_some())
        })
        .ok_or(Error::NoTrack("audio"))?
        .clone();
    let params = &track.codec_params;
    if params.codec == CODEC_TYPE_NULL {
        return Err(Error::UnsupportedCodec(
            "the audio track's codec is not recognised".into(),
        ));
    }
    let header_rate = params.sample_rate.unwrap_or(0);
    check_rate(header_rate)?;
    if let Some(ch) = params.channels {
        check_channels(ch.count())?;
    }

    let mut decoder = symphonia::default::get_codecs()
        .make(params, &DecoderOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(_) => Error::UnsupportedCodec(codec_name(params.codec)),
            other => Error::InvalidHeader(other.to_string()),
        })?;

    let max_samples = (options.max_seconds * header_rate as f64).ceil() as usize;
    let declared_frames = params
        .n_frames
        .map(|n| n as usize)
        .filter(|&n| n <= max_samples);
    let lossless = is_lossless(params.codec);

    let mut mono: Vec<f32> = Vec::with_capacity(declared_frames.unwrap_or(0));
    let mut sample_buf: Option<SampleBuffer<f32>> = None;
    let mut bad_packets = 0usize;
    let mut truncated = false;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(SymError::IoError(_)) => {
                truncated = true;
                break;
            }
            Err(e) => return Err(Error::Corrupt(e.to_string())),
        };
        if packet.track_id() != track.id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            Err(SymError::DecodeError(msg)) => {
                bad_packets += 1;
                if bad_packets > options.max_bad_packets {
                    return Err(Error::Corrupt(format!(
                        "{bad_packets} packets failed to decode (last: {msg})"
                    )));
                }
                continue;
            }
            Err(SymError::IoError(_)) => {
                truncated = true;
                break;
            }
            Err(SymError::Unsupported(what)) => {
                return Err(Error::UnsupportedCodec(format!(
                    "{}: {what}",
                    codec_name(params.codec)
                )))
            }
            Err(e) => return Err(Error::Corrupt(e.to_string())),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count();
        check_channels(channels)?;
        if decoded.frames() == 0 {
            continue;
        }
        let buf = match &mut sample_buf {
            Some(b) if b.capacity() >= decoded.capacity() * channels => b,
            slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        let interleaved = buf.samples();
        if channels == 1 {
            mono.extend_from_slice(interleaved);
        } else {
            let scale = 1.0 / channels as f32;
            mono.extend(
                interleaved
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().sum::<f32>() * scale),
            );
        }
        if mono.len() > max_samples {
            return Err(Error::TooLong {
                seconds: mono.len() as f64 / header_rate as f64,
                limit: options.max_seconds,
            });
        }
    }

    if let Some(declared) = declared_frames {
        // Lossless streams must deliver every frame their header promises; lossy ones may
        // differ by encoder delay and padding, so allow one packet's slack.
        let slack = if lossless {
            0
        } else {
            params.max_frames_per_packet.unwrap_or(4096) as usize + 2048
        };
        if mono.len() + slack < declared {
            truncated = true;
        }
    }
    if truncated {
        return Err(Error::Corrupt(format!(
            "truncated stream: {} of {} declared frames decoded",
            mono.len(),
            declared_frames.map_or("?".to_string(), |d| d.to_string())
        )));
    }
    if mono.is_empty() {
        return Err(Error::Empty("the stream decodes to zero samples".into()));
    }
    if mono.iter().any(|s| !s.is_finite()) {
        return Err(Error::NonFinite);
    }
    Ok(AudioClip::new(mono, header_rate))
}

fn is_lossless(codec: CodecType) -> bool {
    let name = codec_name(codec);
    name.starts_with("pcm") || name == "flac" || name == "alac"
}

fn codec_name(codec: CodecType) -> String {
    symphonia::default::get_codecs()
        .get_codec(codec)
        .map(|d| d.short_name.to_string())
        .unwrap_or_else(|| format!("codec {codec}"))
}
