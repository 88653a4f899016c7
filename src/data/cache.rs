//! A disk cache of log-mel features, so every epoch and every fold reuses one decode + resample +
//! log-mel per file.
//!
//! Features are stored *before* per-utterance normalisation (augmentation happens between the
//! two; normalising is cheap). The cache folder is keyed by a hash of the [`MelConfig`], so a
//! changed config never reads stale features; each entry is keyed by the file's absolute path,
//! size and modification time, so an edited file is recomputed.
//!
//! Entry format: `FVXMEL01`, `n_mels: u32`, `n_frames: u32` (little-endian), then
//! `n_mels · n_frames` little-endian `f32`, row-major by band.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::audio::{decode_file, DecodeOptions, LogMel, MelConfig, MelExtractor};
use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"FVXMEL01";

/// Computes and caches un-normalised log-mels for one [`MelConfig`].
#[derive(Debug)]
pub struct FeatureCache {
    dir: PathBuf,
    extractor: MelExtractor,
    decode: DecodeOptions,
}

impl FeatureCache {
    /// Opens (creating if needed) the cache for `mel` under `root`.
    pub fn new(root: impl AsRef<Path>, mel: &MelConfig) -> Result<Self> {
        let stored = MelConfig {
            normalize: false,
            ..mel.clone()
        };
        let json = serde_json::to_string(&stored).expect("MelConfig serialises");
        let dir = root
            .as_ref()
            .join(format!("mel-{:016x}", fnv1a(json.as_bytes())));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let config_path = dir.join("config.json");
        if !config_path.exists() {
            std::fs::write(&config_path, serde_json::to_string_pretty(&stored).unwrap())
                .map_err(|e| Error::io(&config_path, e))?;
        }
        Ok(Self {
            dir,
            extractor: MelExtractor::new(stored)?,
            decode: DecodeOptions::default(),
        })
    }

    /// The folder holding this config's entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config features are computed with (`normalize` is always off here).
    pub fn config(&self) -> &MelConfig {
        self.extractor.config()
    }

    /// The un-normalised log-mel of `path`, from the cache or computed and stored.
    pub fn get(&self, path: &Path) -> Result<LogMel> {
        let entry = self.entry_path(path)?;
        if let Some(mel) = read_entry(&entry) {
            return Ok(mel);
        }
        let clip = decode_file(path, &self.decode)?.resampled(self.config().sample_rate)?;
        let mel = self.extractor.compute(&clip)?;
        write_entry(&entry, &mel)?;
        Ok(mel)
    }

    /// [`FeatureCache::get`] for many files on all cores; each succeeds or fails on its own.
    pub fn get_all(&self, paths: &[PathBuf]) -> Vec<Result<LogMel>> {
        paths.par_iter().map(|p| self.get(p)).collect()
    }

    fn entry_path(&self, path: &Path) -> Result<PathBuf> {
        entry_path(&self.dir, path)
    }
}

/// The entry file for `path` in `dir`: keyed by its absolute path, size and modification time.
fn entry_path(dir: &Path, path: &Path) -> Result<PathBuf> {
    let abs = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
    let meta = std::fs::metadata(&abs).map_err(|e| Error::io(path, e))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let key = format!("{}|{}|{}", abs.display(), meta.len(), mtime);
    Ok(dir.join(format!("{:016x}.bin", fnv1a(key.as_bytes()))))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a concurrent reader never
/// sees half an entry.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

const CROP_MAGIC: &[u8; 8] = b"FVXCRP01";

/// A disk cache of face crops (before normalisation) for one crop config, face source and
/// (for detected faces) detector configuration, so
/// the detector runs once per image across training runs. Entries are keyed like the log-mel
/// cache's; "no face found" is cached too.
///
/// Entry format: `FVXCRP01`, `width: u32`, `height: u32` (0 × 0 = no face), then the RGB bytes.
#[derive(Debug, Clone)]
pub struct CropCache {
    dir: PathBuf,
}

impl CropCache {
    /// Opens (creating if needed) the cache for `crop` and `source` under `root`.
    pub fn new(
        root: impl AsRef<Path>,
        crop: &crate::vision::CropConfig,
        source: crate::vision::FaceSource,
    ) -> Result<Self> {
        // Detected crops depend on the detector too (its default settings, which the croppers
        // use); pre-cropped ones do not, and keep the key they always had.
        let key = match source {
            crate::vision::FaceSource::Detect => {
                serde_json::to_string(&(crop, source, crate::vision::SeetaConfig::default()))
            }
            _ => serde_json::to_string(&(crop, source)),
        }
        .expect("crop config serialises");
        let dir = root
            .as_ref()
            .join(format!("faces-{:016x}", fnv1a(key.as_bytes())));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let config_path = dir.join("config.json");
        if !config_path.exists() {
            std::fs::write(&config_path, &key).map_err(|e| Error::io(&config_path, e))?;
        }
        Ok(Self { dir })
    }

    /// The folder holding this config's entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cached crop of `path`: `Some(Some(crop))`, `Some(None)` when no face was found, or
    /// `None` when there is no (valid) entry.
    pub fn read(&self, path: &Path) -> Option<Option<crate::vision::RgbImage>> {
        let bytes = std::fs::read(entry_path(&self.dir, path).ok()?).ok()?;
        if bytes.len() < 16 || &bytes[..8] != CROP_MAGIC {
            return None;
        }
        let w = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
        let h = u32::from_le_bytes(bytes[12..16].try_into().ok()?);
        if w == 0 && h == 0 {
            return Some(None);
        }
        crate::vision::RgbImage::from_raw(w, h, bytes[16..].to_vec()).map(Some)
    }

    /// Stores the crop of `path` (`None`: no face found).
    pub fn write(&self, path: &Path, crop: Option<&crate::vision::RgbImage>) -> Result<()> {
        let entry = entry_path(&self.dir, path)?;
        let (w, h) = crop.map_or((0, 0), |c| c.dimensions());
        let mut bytes = Vec::with_capacity(16 + (w * h * 3) as usize);
        bytes.extend_from_slice(CROP_MAGIC);
        bytes.extend_from_slice(&w.to_le_bytes());
        bytes.extend_from_slice(&h.to_le_bytes());
        if let Some(c) = crop {
            bytes.extend_from_slice(c.as_raw());
        }
        write_atomically(&entry, &bytes)
    }
}

fn read_entry(path: &Path) -> Option<LogMel> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return None;
    }
    let n_mels = u32::from_le_bytes(bytes[8..12].try_into().ok()?) as usize;
    let n_frames = u32::from_le_bytes(bytes[12..16].try_into().ok()?) as usize;
    let body = &bytes[16..];
    if body.len() != 4 * n_mels * n_frames {
        return None;
    }
    let data = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some(LogMel {
        data,
        n_mels,
        n_frames,
    })
}

fn write_entry(path: &Path, mel: &LogMel) -> Result<()> {
    let mut bytes = Vec::with_capacity(16 + 4 * mel.data.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(mel.n_mels as u32).to_le_bytes());
    bytes.extend_from_slice(&(mel.n_frames as u32).to_le_bytes());
    for v in &mel.data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomically(path, &bytes)
}

/// FNV-1a, 64-bit: a hash that stays the same across Rust versions and platforms.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(path: &Path, freq: f32) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..16_000 {
            let v = (2.0 * std::f32::consts::PI * freq * i as f32 / 16_000.0).sin();
            w.write_sample((v * 12_000.0) as i16).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn crop_cache_round_trips_crops_and_no_face_and_keys_by_config() {
        use crate::vision::{CropConfig, FaceSource, RgbImage};
        let root = std::env::temp_dir().join(format!("facevox-cropcache-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let a = root.join("a.png");
        let b = root.join("b.png");
        std::fs::write(&a, b"a").unwrap();
        std::fs::write(&b, b"b").unwrap();
        let cache = CropCache::new(&root, &CropConfig::gray(8), FaceSource::Detect).unwrap();
        assert_eq!(cache.read(&a), None);
        let img = RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8, y as u8, 7]));
        cache.write(&a, Some(&img)).unwrap();
        cache.write(&b, None).unwrap();
        assert_eq!(cache.read(&a), Some(Some(img)));
        assert_eq!(cache.read(&b), Some(None));
        // Another config or source is another folder.
        let other = CropCache::new(&root, &CropConfig::gray(8), FaceSource::Precropped).unwrap();
        assert_ne!(other.dir(), cache.dir());
        assert_eq!(other.read(&a), None);
        // A changed file is a miss.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&a, b"changed").unwrap();
        assert_eq!(cache.read(&a), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn caches_reuses_and_invalidates_on_config_change() {
        let root = std::env::temp_dir().join(format!("facevox-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let audio = root.join("a.wav");
        wav(&audio, 440.0);
        let cfg = MelConfig::default();
        let cache = FeatureCache::new(root.join("cache"), &cfg).unwrap();
        let first = cache.get(&audio).unwrap();
        let entries = std::fs::read_dir(cache.dir()).unwrap().count();
        assert_eq!(entries, 2, "config.json + one entry");
        // Second read comes from disk and is identical.
        assert_eq!(cache.get(&audio).unwrap(), first);
        // Same config (normalize differs only) shares the folder; another config does not.
        let same = FeatureCache::new(
            root.join("cache"),
            &MelConfig {
                normalize: false,
                ..cfg.clone()
            },
        )
        .unwrap();
        assert_eq!(same.dir(), cache.dir());
        let other =
            FeatureCache::new(root.join("cache"), &MelConfig { n_mels: 40, ..cfg }).unwrap();
        assert_ne!(other.dir(), cache.dir());
        assert_eq!(other.get(&audio).unwrap().n_mels, 40);
        // A corrupt entry is recomputed, not trusted.
        for e in std::fs::read_dir(cache.dir()).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "bin") {
                std::fs::write(e.path(), b"FVXMEL01garbage").unwrap();
            }
        }
        assert_eq!(cache.get(&audio).unwrap(), first);
        // Errors are not cached.
        let bad = root.join("bad.wav");
        std::fs::write(&bad, b"not audio").unwrap();
        let results = cache.get_all(&[audio.clone(), bad]);
        assert!(results[0].is_ok() && results[1].is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
