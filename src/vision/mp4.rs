//! A small ISO BMFF (MP4) demuxer: just enough of `moov` to find the first video track, its
//! codec configuration and the byte range, decode time and presentation time of every sample.
//!
//! Every count and offset read from the file is checked against the box that holds it before
//! anything is allocated, so a damaged or hostile file gives a typed error, never a panic or a
//! huge allocation. Fragmented MP4 (`moof`) is not supported.

use std::io::{Read, Seek, SeekFrom};

use crate::{Error, Result};

use crate::limits::{
    MAX_MP4_MOOV_BYTES as MAX_MOOV_BYTES, MAX_VIDEO_SAMPLES as MAX_SAMPLES,
    MAX_VIDEO_SAMPLE_BYTES as MAX_SAMPLE_BYTES,
};

/// Video codecs the demuxer can name, decodable or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VideoCodec {
    /// H.264 / AVC with its `avcC` configuration.
    Avc(AvcConfig),
    /// Anything else, by its sample-entry four-character code.
    Other([u8; 4]),
}

/// The `avcC` decoder configuration record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AvcConfig {
    pub profile_idc: u8,
    pub level_idc: u8,
    /// Bytes in each NAL unit length prefix (1, 2 or 4).
    pub nal_length_size: u8,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
}

/// One coded picture in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    pub offset: u64,
    pub size: u32,
    /// Decode time in track timescale units.
    pub dts: i64,
    /// Presentation time in track timescale units (edit list applied).
    pub pts: i64,
    pub sync: bool,
}

/// The first video track of a file.
#[derive(Debug, Clone)]
pub(crate) struct VideoTrack {
    pub width: u32,
    pub height: u32,
    pub timescale: u32,
    pub codec: VideoCodec,
    /// Samples in decode order.
    pub samples: Vec<Sample>,
    /// Clockwise turn (0, 90, 180 or 270 degrees) the track header's display matrix asks for:
    /// how a phone marks a portrait recording stored in landscape.
    pub rotation: u32,
}

/// A parsed file: its video track and the reader to fetch samples from.
pub(crate) struct Mp4Demuxer<R> {
    reader: R,
    file_len: u64,
    pub track: VideoTrack,
}

impl<R: Read + Seek> Mp4Demuxer<R> {
    /// Reads the box structure and the first video track's sample table.
    pub fn new(mut reader: R) -> Result<Self> {
        let file_len = reader
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::Corrupt(format!("cannot seek: {e}")))?;
        if file_len == 0 {
            return Err(Error::Empty("the video file has zero bytes".into()));
        }
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|e| Error::Corrupt(format!("cannot seek: {e}")))?;
        let mut head = [0u8; 4096];
        let n = read_up_to(&mut reader, &mut head)?;
        sniff_container(&head[..n])?;

        let moov = find_moov(&mut reader, file_len)?;
        let track = parse_moov(&moov)?;
        Ok(Self {
            reader,
            file_len,
            track,
        })
    }

    /// Reads the bytes of sample `i` (in decode order) into `buf`.
    pub fn read_sample(&mut self, i: usize, buf: &mut Vec<u8>) -> Result<()> {
        let s = self.track.samples[i];
        if s.offset.saturating_add(s.size as u64) > self.file_len {
            return Err(Error::Corrupt(format!(
                "video sample {i} lies beyond the end of the file (truncated?)"
            )));
        }
        buf.clear();
        buf.resize(s.size as usize, 0);
        self.reader
            .seek(SeekFrom::Start(s.offset))
            .and_then(|_| self.reader.read_exact(buf))
            .map_err(|e| Error::Corrupt(format!("cannot read video sample {i}: {e}")))
    }
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Corrupt(format!("cannot read: {e}"))),
        }
    }
    Ok(n)
}

/// Names containers that are recognisable but not MP4, so the caller gets `UnsupportedCodec`
/// rather than a vague parse error.
fn sniff_container(head: &[u8]) -> Result<()> {
    if head.len() >= 9 && head.starts_with(b"FLV") {
        return Err(Error::UnsupportedCodec(format!(
            "{} in an FLV container (only MP4 with H.264 is decoded)",
            flv_video_codec(head)
        )));
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Err(Error::UnsupportedCodec(
            "Matroska/WebM container (only MP4 with H.264 is decoded)".into(),
        ));
    }
    if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"AVI " {
        return Err(Error::UnsupportedCodec(
            "AVI container (only MP4 with H.264 is decoded)".into(),
        ));
    }
    if head.len() < 8 {
        return Err(Error::UnrecognizedFormat(
            "too short to be an MP4 file".into(),
        ));
    }
    const TOP_LEVEL: [&[u8; 4]; 9] = [
        b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pdin", b"styp",
    ];
    if !TOP_LEVEL.iter().any(|t| &head[4..8] == *t) {
        return Err(Error::UnrecognizedFormat(
            "not an MP4 (ISO BMFF) file".into(),
        ));
    }
    Ok(())
}

/// Names the codec of the first video tag of an FLV file, from the bytes available.
fn flv_video_codec(head: &[u8]) -> &'static str {
    // The 9-byte header ends with the offset of the tag stream; each tag is preceded by a
    // 4-byte previous-tag size and starts with an 11-byte header (type, 24-bit data size, ...).
    // The low nibble of a video tag's first data byte is its codec id.
    let mut pos = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) as usize + 4;
    while pos + 12 <= head.len() {
        let kind = head[pos] & 0x1F;
        let size = u32::from_be_bytes([0, head[pos + 1], head[pos + 2], head[pos + 3]]) as usize;
        if kind == 9 {
            return match head[pos + 11] & 0x0F {
                2 => "Sorenson H.263 video",
                3 => "Screen Video",
                4 => "VP6 video",
                5 => "VP6 video with alpha",
                6 => "Screen Video 2",
                7 => "H.264 video",
                12 => "H.265 video",
                _ => "unknown video",
            };
        }
        pos += 11 + size + 4;
    }
    "video"
}

/// Walks the top-level boxes and returns the payload of `moov`.
fn find_moov<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<Vec<u8>> {
    let mut pos = 0u64;
    let mut saw_moof = false;
    while pos + 8 <= file_len {
        r.seek(SeekFrom::Start(pos))
            .map_err(|e| Error::Corrupt(format!("cannot seek: {e}")))?;
        let mut hdr = [0u8; 16];
        let n = read_up_to(r, &mut hdr)?;
        if n < 8 {
            break;
        }
        let size32 = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as u64;
        let kind = [hdr[4], hdr[5], hdr[6], hdr[7]];
        let (size, header_len) = match size32 {
            0 => (file_len - pos, 8),
            1 => {
                if n < 16 {
                    return Err(Error::Corrupt("truncated 64-bit box header".into()));
                }
                let s = u64::from_be_bytes(hdr[8..16].try_into().expect("8 bytes"));
                (s, 16)
            }
            s => (s, 8),
        };
        if size < header_len {
            return Err(Error::Corrupt(format!(
                "box '{}' declares a size of {size} bytes",
                fourcc(&kind)
            )));
        }
        if &kind == b"moof" {
            saw_moof = true;
        }
        if &kind == b"moov" {
            let body = size - header_len;
            if body > MAX_MOOV_BYTES {
                return Err(Error::Corrupt(format!("moov box of {body} bytes")));
            }
            if pos + size > file_len {
                return Err(Error::Corrupt(
                    "the moov box runs past the end of the file (truncated?)".into(),
                ));
            }
            r.seek(SeekFrom::Start(pos + header_len))
                .map_err(|e| Error::Corrupt(format!("cannot seek: {e}")))?;
            let mut buf = vec![0u8; body as usize];
            r.read_exact(&mut buf)
                .map_err(|e| Error::Corrupt(format!("cannot read moov: {e}")))?;
            return Ok(buf);
        }
        pos = pos.saturating_add(size);
    }
    if saw_moof {
        return Err(Error::UnsupportedCodec(
            "fragmented MP4 (moof) is not supported".into(),
        ));
    }
    Err(Error::Corrupt(
        "no moov box: the file is truncated or not a complete MP4".into(),
    ))
}

fn fourcc(k: &[u8; 4]) -> String {
    k.iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// A bounds-checked big-endian cursor over a box payload.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(Error::Corrupt("a box is shorter than its fields".into()));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    /// Reads a table header's entry count and checks `count * entry_size` bytes remain.
    fn count(&mut self, entry_size: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.checked_mul(entry_size)
            .is_none_or(|b| b > self.remaining())
        {
            return Err(Error::Corrupt(format!(
                "a sample table declares {n} entries but holds fewer"
            )));
        }
        Ok(n)
    }
}

/// Iterates over the child boxes of a payload as `(type, body)`.
fn children(data: &[u8]) -> impl Iterator<Item = Result<([u8; 4], &[u8])>> {
    let mut pos = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos + 8 > data.len() {
            return None;
        }
        let size32 = u32::from_be_bytes(data[pos..pos + 4].try_into().expect("4 bytes")) as u64;
        let kind: [u8; 4] = data[pos + 4..pos + 8].try_into().expect("4 bytes");
        let (size, hl) = match size32 {
            0 => ((data.len() - pos) as u64, 8usize),
            1 if pos + 16 <= data.len() => (
                u64::from_be_bytes(data[pos + 8..pos + 16].try_into().expect("8 bytes")),
                16,
            ),
            1 => {
                failed = true;
                return Some(Err(Error::Corrupt("truncated box header".into())));
            }
            s => (s, 8),
        };
        if size < hl as u64 || size > (data.len() - pos) as u64 {
            failed = true;
            return Some(Err(Error::Corrupt(format!(
                "box '{}' of {size} bytes does not fit in its parent",
                fourcc(&kind)
            ))));
        }
        let body = &data[pos + hl..pos + size as usize];
        pos += size as usize;
        Some(Ok((kind, body)))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>> {
    for c in children(data) {
        let (k, body) = c?;
        if &k == kind {
            return Ok(Some(body));
        }
    }
    Ok(None)
}

fn require<'a>(data: &'a [u8], kind: &[u8; 4], parent: &str) -> Result<&'a [u8]> {
    child(data, kind)?
        .ok_or_else(|| Error::Corrupt(format!("the {parent} box has no '{}' box", fourcc(kind))))
}

/// Checks, in an MP4 file held in memory, that every sample table of every track holds the
/// entries its count declares, and that no table declares more than a track may have. For
/// the audio path: symphonia's MP4 reader reserves memory from these counts before reading
/// them (a 10 kB file declaring a billion chunk offsets asked for 7.6 GB), so they are checked
/// here first. Not an MP4, or no `moov`: nothing to check (the decoder decides).
pub(crate) fn check_mp4_tables(file: &[u8]) -> Result<()> {
    let first: &[u8] = file.get(4..8).unwrap_or(b"");
    if [b"ftyp", b"moov", b"free", b"skip", b"wide", b"mdat"]
        .iter()
        .any(|k| k.as_slice() == first)
    {
        check_mp4_tables_at(file)?;
    }
    // symphonia's probe finds an MP4 by the first `ftyp` in the first MiB, after any leading
    // junk, and reads the boxes from there (fuzzing found a file with two bytes before its
    // `ftyp` box that slipped past a check of the file's start); a file that opens with another
    // container's signature is read as that container.
    match crate::audio::decode::probe_marker(file, b"ftyp", crate::audio::decode::Signature::Mp4) {
        Some(at) if at > 4 => check_mp4_tables_at(&file[at - 4..]),
        _ => Ok(()),
    }
}

/// [`check_mp4_tables`] on a file that starts with its first box.
fn check_mp4_tables_at(file: &[u8]) -> Result<()> {
    let mut moov = None;
    for c in children(file) {
        match c {
            Ok((kind, body)) if &kind == b"moov" => {
                moov = Some(body);
                break;
            }
            Ok(_) => {}
            // A top-level box that runs past the end: the moov, if any, is cut short.
            Err(e) => return Err(e),
        }
    }
    let Some(moov) = moov else {
        return Ok(());
    };
    if moov.len() as u64 > MAX_MOOV_BYTES {
        return Err(Error::Corrupt(format!("moov box of {} bytes", moov.len())));
    }
    check_metadata_boxes(moov, false, 0)?;
    for c in children(moov) {
        let (kind, trak) = c?;
        if &kind != b"trak" {
            continue;
        }
        let Some(mdia) = child(trak, b"mdia")? else {
            continue;
        };
        let Some(minf) = child(mdia, b"minf")? else {
            continue;
        };
        let Some(stbl) = child(minf, b"stbl")? else {
            continue;
        };
        for t in children(stbl) {
            let (kind, body) = t?;
            let mut c = Cursor::new(body);
            let entry = match &kind {
                b"stco" | b"stss" => 4,
                b"co64" | b"stts" | b"ctts" => 8,
                b"stsc" => 12,
                b"stsz" => {
                    c.skip(4)?;
                    let fixed = c.u32()?;
                    if fixed > MAX_SAMPLE_BYTES {
                        return Err(Error::Corrupt(format!("samples of {fixed} bytes")));
                    }
                    if fixed != 0 {
                        continue;
                    }
                    4
                }
                _ => continue,
            };
            if &kind != b"stsz" {
                c.skip(4)?;
            }
            let n = c.count(entry)?;
            if n as u64 > MAX_SAMPLES {
                return Err(Error::Corrupt(format!(
                    "a '{}' table declares {n} entries",
                    fourcc(&kind)
                )));
            }
            // Each sample is read whole into memory: no sample may claim more than the limit.
            if &kind == b"stsz" {
                for _ in 0..n {
                    let size = c.u32()?;
                    if size > MAX_SAMPLE_BYTES {
                        return Err(Error::Corrupt(format!("a sample of {size} bytes")));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Checks that every box of the metadata trees (`udta`, `meta`, `ilst` and its tags, in the
/// `moov` and in each `trak`) fits in its parent: symphonia reserves a tag's declared size
/// before reading it (fuzzing found a 5 kB file whose `data` atom claimed 4.2 GB).
fn check_metadata_boxes(container: &[u8], in_ilst: bool, depth: usize) -> Result<()> {
    if depth > 8 {
        return Ok(());
    }
    for c in children(container) {
        let (kind, body) = c?;
        if in_ilst {
            // A tag: its `data` (and `mean`, `name`) boxes must fit in it.
            for d in children(body) {
                d?;
            }
            continue;
        }
        match &kind {
            b"trak" | b"udta" => check_metadata_boxes(body, false, depth + 1)?,
            b"ilst" => check_metadata_boxes(body, true, depth + 1)?,
            // A full box (version and flags, then children); QuickTime's has no version and
            // its first child, `hdlr`, starts at once.
            b"meta" => {
                let quicktime = body.get(4..8) == Some(b"hdlr".as_slice());
                let rest = if quicktime {
                    body
                } else {
                    body.get(4..).unwrap_or(&[])
                };
                check_metadata_boxes(rest, false, depth + 1)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_moov(moov: &[u8]) -> Result<VideoTrack> {
    for c in children(moov) {
        let (kind, trak) = c?;
        if &kind != b"trak" {
            continue;
        }
        let mdia = require(trak, b"mdia", "trak")?;
        let hdlr = require(mdia, b"hdlr", "mdia")?;
        let mut h = Cursor::new(hdlr);
        h.skip(8)?;
        let handler: [u8; 4] = h.bytes(4)?.try_into().expect("4 bytes");
        if &handler == b"vide" {
            return parse_video_trak(trak, mdia);
        }
    }
    Err(Error::NoTrack("video"))
}

/// The clockwise display rotation in a `tkhd` box's matrix, to the nearest quarter turn.
///
/// The matrix's first two rows are `(a b u) (c d v)` in 16.16 fixed point; a rotation by
/// `θ` clockwise on display is `a = cos θ, b = sin θ, c = -sin θ, d = cos θ` (what
/// phones and ffmpeg write for portrait clips). A matrix that is not close to a quarter turn
/// (a shear, a mirror, or an odd angle) is shown as stored: rotation 0.
pub(crate) fn tkhd_rotation(tkhd: &[u8]) -> Result<u32> {
    let mut c = Cursor::new(tkhd);
    let version = c.u8()?;
    c.skip(3)?;
    // creation/modification times, track id, reserved, duration.
    c.skip(if version == 1 { 32 } else { 20 })?;
    // reserved (8), layer, alternate group, volume, reserved (2 each).
    c.skip(16)?;
    let fixed = |v: u32| v as i32 as f64 / 65536.0;
    let (a, b) = (fixed(c.u32()?), fixed(c.u32()?));
    c.skip(4)?;
    let (cc, d) = (fixed(c.u32()?), fixed(c.u32()?));
    let scale = (a * a + b * b).sqrt();
    // A rotation: orthonormal rows, determinant +1.
    let rotation_like = scale > 1e-6
        && (a - d).abs() < 1e-3 * scale.max(1.0)
        && (b + cc).abs() < 1e-3 * scale.max(1.0);
    if !rotation_like {
        return Ok(0);
    }
    let degrees = b.atan2(a).to_degrees().rem_euclid(360.0);
    let quarter = (degrees / 90.0).round();
    if (degrees - quarter * 90.0).abs() > 1.0 {
        return Ok(0);
    }
    Ok((quarter as u32 % 4) * 90)
}

fn parse_video_trak(trak: &[u8], mdia: &[u8]) -> Result<VideoTrack> {
    let rotation = match child(trak, b"tkhd")? {
        Some(tkhd) => tkhd_rotation(tkhd)?,
        None => 0,
    };
    let mdhd = require(mdia, b"mdhd", "mdia")?;
    let mut c = Cursor::new(mdhd);
    let version = c.u8()?;
    c.skip(3)?;
    let timescale = if version == 1 {
        c.skip(16)?;
        c.u32()?
    } else {
        c.skip(8)?;
        c.u32()?
    };
    if timescale == 0 {
        return Err(Error::InvalidHeader("video track timescale is 0".into()));
    }

    // The first edit's media time says which media timestamp is presented at time 0.
    let mut media_start = 0i64;
    if let Some(edts) = child(trak, b"edts")? {
        if let Some(elst) = child(edts, b"elst")? {
            let mut c = Cursor::new(elst);
            let version = c.u8()?;
            c.skip(3)?;
            let n = c.count(if version == 1 { 20 } else { 12 })?;
            for _ in 0..n {
                let (_dur, media_time) = if version == 1 {
                    (c.u64()?, c.u64()? as i64)
                } else {
                    (c.u32()? as u64, c.u32()? as i32 as i64)
                };
                c.skip(4)?;
                if media_time >= 0 {
                    media_start = media_time;
                    break;
                }
            }
        }
    }

    let minf = require(mdia, b"minf", "mdia")?;
    let stbl = require(minf, b"stbl", "minf")?;
    let (codec, width, height) = parse_stsd(require(stbl, b"stsd", "stbl")?)?;

    // Sample sizes.
    let sizes: Vec<u32> = if let Some(stsz) = child(stbl, b"stsz")? {
        let mut c = Cursor::new(stsz);
        c.skip(4)?;
        let fixed = c.u32()?;
        let n = c.u32()? as u64;
        if n > MAX_SAMPLES {
            return Err(Error::Corrupt(format!("{n} video samples declared")));
        }
        if fixed != 0 {
            vec![fixed; n as usize]
        } else {
            if (n as usize).saturating_mul(4) > c.remaining() {
                return Err(Error::Corrupt("the stsz table is truncated".into()));
            }
            (0..n).map(|_| c.u32()).collect::<Result<_>>()?
        }
    } else if let Some(stz2) = child(stbl, b"stz2")? {
        let mut c = Cursor::new(stz2);
        c.skip(7)?;
        let field = c.u8()?;
        let n = c.u32()? as usize;
        let bytes_needed = match field {
            4 => n.div_ceil(2),
            8 => n,
            16 => n.saturating_mul(2),
            _ => return Err(Error::Corrupt(format!("stz2 field size {field}"))),
        };
        if n as u64 > MAX_SAMPLES || bytes_needed > c.remaining() {
            return Err(Error::Corrupt("the stz2 table is truncated".into()));
        }
        let raw = c.bytes(bytes_needed)?;
        (0..n)
            .map(|i| match field {
                4 => (raw[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) as u32 & 15,
                8 => raw[i] as u32,
                _ => u16::from_be_bytes([raw[2 * i], raw[2 * i + 1]]) as u32,
            })
            .collect()
    } else {
        return Err(Error::Corrupt("the video track has no sample sizes".into()));
    };
    let n = sizes.len();
    if n == 0 {
        return Err(Error::Empty("the video track holds no frames".into()));
    }
    if let Some(&big) = sizes.iter().find(|&&s| s > MAX_SAMPLE_BYTES) {
        return Err(Error::Corrupt(format!("a video sample of {big} bytes")));
    }

    // Chunk offsets.
    let offsets: Vec<u64> = if let Some(stco) = child(stbl, b"stco")? {
        let mut c = Cursor::new(stco);
        c.skip(4)?;
        let k = c.count(4)?;
        (0..k)
            .map(|_| c.u32().map(u64::from))
            .collect::<Result<_>>()?
    } else if let Some(co64) = child(stbl, b"co64")? {
        let mut c = Cursor::new(co64);
        c.skip(4)?;
        let k = c.count(8)?;
        (0..k).map(|_| c.u64()).collect::<Result<_>>()?
    } else {
        return Err(Error::Corrupt(
            "the video track has no chunk offsets".into(),
        ));
    };

    // Sample-to-chunk runs: (first_chunk, samples_per_chunk).
    let stsc = require(stbl, b"stsc", "stbl")?;
    let mut c = Cursor::new(stsc);
    c.skip(4)?;
    let k = c.count(12)?;
    let mut runs = Vec::with_capacity(k);
    for _ in 0..k {
        let first = c.u32()?;
        let per = c.u32()?;
        c.skip(4)?;
        if first == 0 {
            return Err(Error::Corrupt("stsc refers to chunk 0".into()));
        }
        runs.push((first as usize, per as usize));
    }

    let mut sample_offsets = Vec::with_capacity(n);
    'chunks: for (ri, &(first, per)) in runs.iter().enumerate() {
        let end_chunk = runs.get(ri + 1).map_or(offsets.len() + 1, |r| r.0);
        if end_chunk < first {
            return Err(Error::Corrupt("stsc runs are out of order".into()));
        }
        for chunk in first..end_chunk {
            let Some(&base) = offsets.get(chunk - 1) else {
                return Err(Error::Corrupt("stsc refers to a missing chunk".into()));
            };
            let mut off = base;
            for _ in 0..per {
                let i = sample_offsets.len();
                if i == n {
                    break 'chunks;
                }
                sample_offsets.push(off);
                off = off.saturating_add(sizes[i] as u64);
            }
        }
    }
    if sample_offsets.len() != n {
        return Err(Error::Corrupt(format!(
            "the chunk tables place {} of {n} video samples",
            sample_offsets.len()
        )));
    }

    // Decode times.
    let stts = require(stbl, b"stts", "stbl")?;
    let mut c = Cursor::new(stts);
    c.skip(4)?;
    let k = c.count(8)?;
    let mut dts = Vec::with_capacity(n);
    let mut t = 0i64;
    for _ in 0..k {
        let count = c.u32()?;
        let delta = c.u32()? as i64;
        for _ in 0..count {
            if dts.len() == n {
                break;
            }
            dts.push(t);
            t = t.saturating_add(delta);
        }
    }
    while dts.len() < n {
        // A short stts: repeat the last delta rather than refuse the file.
        dts.push(t);
    }

    // Composition offsets (B-frames).
    let mut cts_offset = vec![0i64; n];
    if let Some(ctts) = child(stbl, b"ctts")? {
        let mut c = Cursor::new(ctts);
        let version = c.u8()?;
        c.skip(3)?;
        let k = c.count(8)?;
        let mut i = 0usize;
        for _ in 0..k {
            let count = c.u32()?;
            let raw = c.u32()?;
            // Version 0 is unsigned by the letter of the spec, but encoders write negative
            // offsets into it too; read both versions as signed, like players do.
            let _ = version;
            let off = raw as i32 as i64;
            for _ in 0..count {
                if i == n {
                    break;
                }
                cts_offset[i] = off;
                i += 1;
            }
        }
    }

    // Sync samples; without stss every sample is a sync sample.
    let mut sync = vec![child(stbl, b"stss")?.is_none(); n];
    if let Some(stss) = child(stbl, b"stss")? {
        let mut c = Cursor::new(stss);
        c.skip(4)?;
        let k = c.count(4)?;
        for _ in 0..k {
            let s = c.u32()? as usize;
            if (1..=n).contains(&s) {
                sync[s - 1] = true;
            }
        }
    }

    let samples = (0..n)
        .map(|i| Sample {
            offset: sample_offsets[i],
            size: sizes[i],
            dts: dts[i],
            pts: dts[i] + cts_offset[i] - media_start,
            sync: sync[i],
        })
        .collect();
    Ok(VideoTrack {
        width,
        height,
        timescale,
        codec,
        samples,
        rotation,
    })
}

fn parse_stsd(stsd: &[u8]) -> Result<(VideoCodec, u32, u32)> {
    let mut c = Cursor::new(stsd);
    c.skip(4)?;
    let count = c.u32()?;
    if count == 0 {
        return Err(Error::Corrupt(
            "the video track has no sample description".into(),
        ));
    }
    let entry = children(&stsd[8..])
        .next()
        .ok_or_else(|| Error::Corrupt("empty stsd box".into()))??;
    let (kind, body) = entry;
    // VisualSampleEntry: 6 reserved + 2 data ref index + 16 pre-defined/reserved, then
    // width, height (u16 each), then 50 more bytes before the child boxes.
    let mut c = Cursor::new(body);
    c.skip(24)?;
    let width = c.u16()? as u32;
    let height = c.u16()? as u32;
    c.skip(50)?;
    let rest = &body[c.pos..];
    match &kind {
        b"avc1" | b"avc3" => {
            let avcc = child(rest, b"avcC")?
                .ok_or_else(|| Error::Corrupt("the H.264 sample entry has no avcC box".into()))?;
            Ok((VideoCodec::Avc(parse_avcc(avcc)?), width, height))
        }
        _ => Ok((VideoCodec::Other(kind), width, height)),
    }
}

fn parse_avcc(avcc: &[u8]) -> Result<AvcConfig> {
    let mut c = Cursor::new(avcc);
    let _version = c.u8()?;
    let profile_idc = c.u8()?;
    let _compat = c.u8()?;
    let level_idc = c.u8()?;
    let nal_length_size = (c.u8()? & 3) + 1;
    if nal_length_size == 3 {
        return Err(Error::Corrupt("avcC declares 3-byte NAL lengths".into()));
    }
    let n_sps = c.u8()? & 31;
    let mut sps = Vec::new();
    for _ in 0..n_sps {
        let len = c.u16()? as usize;
        sps.push(c.bytes(len)?.to_vec());
    }
    let n_pps = c.u8()?;
    let mut pps = Vec::new();
    for _ in 0..n_pps {
        let len = c.u16()? as usize;
        pps.push(c.bytes(len)?.to_vec());
    }
    Ok(AvcConfig {
        profile_idc,
        level_idc,
        nal_length_size,
        sps,
        pps,
    })
}

/// Converts one AVCC sample (length-prefixed NAL units) to Annex B (start-code prefixed),
/// appending to `out`.
pub(crate) fn avcc_to_annexb(sample: &[u8], nal_length_size: u8, out: &mut Vec<u8>) -> Result<()> {
    let ls = nal_length_size as usize;
    let mut pos = 0usize;
    while pos < sample.len() {
        if pos + ls > sample.len() {
            return Err(Error::Corrupt("a NAL length prefix is cut off".into()));
        }
        let mut len = 0usize;
        for &b in &sample[pos..pos + ls] {
            len = (len << 8) | b as usize;
        }
        pos += ls;
        if len > sample.len() - pos {
            return Err(Error::Corrupt(
                "a NAL unit is longer than its sample".into(),
            ));
        }
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(&sample[pos..pos + len]);
        pos += len;
    }
    Ok(())
}

/// Whether a length-prefixed sample holds an IDR slice (NAL unit type 5): decoding can start
/// there with nothing before it. A damaged sample is not.
pub(crate) fn is_idr(sample: &[u8], nal_length_size: u8) -> bool {
    let ls = nal_length_size as usize;
    let mut pos = 0usize;
    while ls > 0 && pos + ls <= sample.len() {
        let len = sample[pos..pos + ls]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | b as usize);
        pos += ls;
        if len == 0 || len > sample.len() - pos {
            return false;
        }
        if sample[pos] & 0x1f == 5 {
            return true;
        }
        pos += len;
    }
    false
}

/// A readable name for a sample-entry code.
pub(crate) fn codec_name(kind: &[u8; 4]) -> String {
    let name = match kind {
        b"hvc1" | b"hev1" => "H.265/HEVC",
        b"vp09" => "VP9",
        b"vp08" => "VP8",
        b"av01" => "AV1",
        b"mp4v" => "MPEG-4 Part 2",
        b"s263" | b"h263" => "H.263",
        b"mjp2" | b"jpeg" => "Motion JPEG",
        b"encv" => "encrypted video",
        _ => "",
    };
    if name.is_empty() {
        format!("video codec '{}'", fourcc(kind))
    } else {
        format!("{name} video ('{}')", fourcc(kind))
    }
}

#[cfg(test)]
mod tests {

    /// A version-0 `tkhd` body with the given matrix entries a, b, c, d (as reals).
    fn tkhd(a: f64, b: f64, c: f64, d: f64) -> Vec<u8> {
        let fx = |v: f64| ((v * 65536.0).round() as i32).to_be_bytes();
        let mut t = vec![0u8; 4 + 20 + 16];
        for v in [a, b, 0.0, c, d, 0.0, 0.0, 0.0] {
            t.extend_from_slice(&fx(v));
        }
        t.extend_from_slice(&0x4000_0000u32.to_be_bytes());
        t.extend_from_slice(&[0; 8]);
        t
    }

    #[test]
    fn display_matrix_rotation_is_read_to_the_quarter_turn() {
        assert_eq!(tkhd_rotation(&tkhd(1.0, 0.0, 0.0, 1.0)).unwrap(), 0);
        // What phones write for portrait: 90 degrees clockwise.
        assert_eq!(tkhd_rotation(&tkhd(0.0, 1.0, -1.0, 0.0)).unwrap(), 90);
        assert_eq!(tkhd_rotation(&tkhd(-1.0, 0.0, 0.0, -1.0)).unwrap(), 180);
        assert_eq!(tkhd_rotation(&tkhd(0.0, -1.0, 1.0, 0.0)).unwrap(), 270);
        // A scaled rotation is still a rotation.
        assert_eq!(tkhd_rotation(&tkhd(0.0, 2.0, -2.0, 0.0)).unwrap(), 90);
        // A mirror, a shear, an odd angle and an all-zero matrix are shown as stored.
        assert_eq!(tkhd_rotation(&tkhd(-1.0, 0.0, 0.0, 1.0)).unwrap(), 0);
        assert_eq!(tkhd_rotation(&tkhd(1.0, 0.5, 0.0, 1.0)).unwrap(), 0);
        let (s, c) = 30f64.to_radians().sin_cos();
        assert_eq!(tkhd_rotation(&tkhd(c, s, -s, c)).unwrap(), 0);
        assert_eq!(tkhd_rotation(&tkhd(0.0, 0.0, 0.0, 0.0)).unwrap(), 0);
        // A truncated box is an error, not a panic.
        assert!(tkhd_rotation(&tkhd(1.0, 0.0, 0.0, 1.0)[..30]).is_err());
    }

    use super::*;

    #[test]
    fn annexb_conversion_splits_nal_units() {
        let sample = [0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 1, 0x41];
        let mut out = Vec::new();
        avcc_to_annexb(&sample, 4, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 0xAA, 0, 0, 0, 1, 0x41]);
        assert!(avcc_to_annexb(&[0, 0, 0, 9, 1], 4, &mut out).is_err());
        assert!(avcc_to_annexb(&[0, 0], 4, &mut out).is_err());
    }

    #[test]
    fn box_iteration_rejects_oversized_children() {
        let data = [0, 0, 0, 64, b'm', b'o', b'o', b'v', 0, 0];
        let r: Vec<_> = children(&data).collect();
        assert!(r[0].is_err());
    }

    #[test]
    fn sniffing_names_other_containers() {
        assert!(matches!(
            sniff_container(b"FLV\x01\x01\0\0\0\x09\0\0\0\0"),
            Err(Error::UnsupportedCodec(_))
        ));
        assert!(matches!(
            sniff_container(b"hello world, not a video"),
            Err(Error::UnrecognizedFormat(_))
        ));
    }
}
