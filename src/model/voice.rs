//! VoiceNet: the voice branch, a 1-D convolutional network over log-mel spectrograms.
//!
//! The mel bands are the input channels and the convolutions run over time (a time-delay network
//! in the x-vector tradition, Snyder et al. 2018): four `conv → batch-norm → ReLU (→ max-pool)`
//! blocks, statistics pooling (mean and standard deviation over time, so any clip length works),
//! a fully connected embedding, and two heads — perceived gender (2) and emotion (the 8 RAVDESS
//! classes). 1-D convolutions keep training fast on a CPU: candle runs them as im2col + GEMM.
//!
//! Weights are saved as safetensors with a JSON [`VoiceModelFile`] beside them holding the model
//! config and the [`MelConfig`], so inference computes exactly the features training used.

use std::path::Path;

use candle_core::{Result as CResult, Tensor};
use candle_nn::ModuleT;
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::blocks::{stats_pool, ConvBlock1d};
use super::head::{BranchOutput, TwoHeads};
use super::spec::{
    Calibration, FamiliarityReference, Member, MemberRole, TestTimeViews, MODEL_FORMAT,
};
use crate::audio::MelConfig;
use crate::labels::{Emotion, RAVDESS_EMOTIONS};
use crate::{Error, Result};

/// How a log-mel is normalised before it enters the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputNorm {
    /// Raw log-mel values.
    None,
    /// Zero mean and unit variance over the whole utterance (all bands together): removes the
    /// recording level but keeps the spectral shape, which carries voice quality and pitch
    /// register.
    #[default]
    Utterance,
    /// Zero mean and unit variance per band over time (cepstral-mean-style). This removes the
    /// long-term spectrum, and with it most of what a first linear layer can see in the
    /// per-utterance averages; measured on RAVDESS it trains far worse than `utterance`.
    PerBand,
}

impl InputNorm {
    /// Normalises `mel` in place.
    pub fn apply(self, mel: &mut crate::audio::LogMel) {
        match self {
            InputNorm::None => {}
            InputNorm::PerBand => crate::audio::transform::normalize_bands(mel),
            InputNorm::Utterance => {
                let n = mel.data.len().max(1) as f64;
                let mean = mel.data.iter().map(|&v| v as f64).sum::<f64>() / n;
                let var = mel
                    .data
                    .iter()
                    .map(|&v| (v as f64 - mean).powi(2))
                    .sum::<f64>()
                    / n;
                let inv = 1.0 / var.sqrt().max(1e-5);
                mel.data
                    .iter_mut()
                    .for_each(|v| *v = ((*v as f64 - mean) * inv) as f32);
            }
        }
    }
}

/// Architecture hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceConfig {
    /// Input channels: the number of mel bands.
    pub n_mels: usize,
    /// Normalisation of the log-mel before the first layer.
    pub input_norm: InputNorm,
    /// Output channels of each conv block.
    pub channels: Vec<usize>,
    /// Kernel size of each block (odd).
    pub kernels: Vec<usize>,
    /// Dilation of each block.
    pub dilations: Vec<usize>,
    /// Max-pool factor over time after each block (1 = none).
    pub pools: Vec<usize>,
    /// Size of the embedding.
    pub embedding: usize,
    /// Dropout before the heads (training only).
    pub dropout: f32,
    /// Number of emotion classes.
    pub n_emotions: usize,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            n_mels: 64,
            input_norm: InputNorm::Utterance,
            channels: vec![128, 128, 192, 256],
            kernels: vec![5, 3, 3, 3],
            dilations: vec![1, 2, 1, 1],
            pools: vec![1, 2, 2, 1],
            embedding: 128,
            dropout: 0.3,
            n_emotions: RAVDESS_EMOTIONS.len(),
        }
    }
}

impl VoiceConfig {
    /// A very small network for tests.
    pub fn tiny() -> Self {
        Self {
            n_mels: 16,
            input_norm: InputNorm::Utterance,
            channels: vec![8, 8],
            kernels: vec![3, 3],
            dilations: vec![1, 1],
            pools: vec![2, 1],
            embedding: 8,
            dropout: 0.1,
            n_emotions: RAVDESS_EMOTIONS.len(),
        }
    }

    /// Checks that the per-block lists agree.
    pub fn validate(&self) -> Result<()> {
        let n = self.channels.len();
        if n == 0
            || self.kernels.len() != n
            || self.dilations.len() != n
            || self.pools.len() != n
            || self.kernels.iter().any(|k| k % 2 == 0)
            || self.pools.contains(&0)
            || self.dilations.contains(&0)
            || self.n_mels == 0
            || self.embedding == 0
            || self.n_emotions == 0
            || !(0.0..1.0).contains(&self.dropout)
        {
            return Err(Error::InvalidConfig(format!(
                "inconsistent VoiceConfig: {self:?}"
            )));
        }
        Ok(())
    }
}

/// The voice branch.
#[derive(Debug, Clone)]
pub struct VoiceNet {
    blocks: Vec<ConvBlock1d>,
    heads: TwoHeads,
    config: VoiceConfig,
}

impl VoiceNet {
    /// Builds the network; weights come from (or are created in) `vb`.
    pub fn new(config: &VoiceConfig, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let build = || -> CResult<Self> {
            let mut blocks = Vec::with_capacity(config.channels.len());
            let mut c_in = config.n_mels;
            for i in 0..config.channels.len() {
                blocks.push(ConvBlock1d::new(
                    c_in,
                    config.channels[i],
                    config.kernels[i],
                    config.dilations[i],
                    config.pools[i],
                    vb.pp(format!("block{}", i + 1)),
                )?);
                c_in = config.channels[i];
            }
            // Statistics pooling doubles the channels (mean and standard deviation).
            let heads = TwoHeads::new(
                2 * c_in,
                config.embedding,
                config.dropout,
                config.n_emotions,
                &vb,
            )?;
            Ok(Self {
                blocks,
                heads,
                config: config.clone(),
            })
        };
        build().map_err(Error::from)
    }

    /// The architecture.
    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// Restarts the dropout masks from `seed` (training calls this once, from its own seed).
    pub fn reseed_dropout(&self, seed: u64) {
        self.heads.reseed_dropout(seed);
    }

    /// The dropout's generator state (training checkpoints).
    pub(crate) fn dropout_state(&self) -> u64 {
        self.heads.dropout_state()
    }

    /// Puts the dropout's generator back in a saved state.
    pub(crate) fn set_dropout_state(&self, state: u64) {
        self.heads.set_dropout_state(state);
    }

    /// Runs a batch `(B, n_mels, T)`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> CResult<BranchOutput> {
        let mut h = x.clone();
        for block in &self.blocks {
            h = block.forward_t(&h, train)?;
        }
        let pooled = stats_pool(&h)?;
        self.heads.forward_t(&pooled, train)
    }
}

/// One network of a voice model file.
pub type VoiceMember = Member<VoiceConfig, MelConfig>;

/// The JSON saved beside a voice model's weights (format [`MODEL_FORMAT`]; see
/// [`spec`](super::spec)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceModelFile {
    /// Format version of this file.
    pub format: u32,
    /// Architecture (every member's).
    pub model: VoiceConfig,
    /// Features the model was trained on (every member's).
    pub mel: MelConfig,
    /// Emotion classes in head order.
    pub emotions: Vec<Emotion>,
    /// The networks: independently seeded full members whose probabilities are averaged.
    pub members: Vec<VoiceMember>,
    /// Test-time views (tempo rates and mel-axis warps).
    #[serde(default)]
    pub tta: TestTimeViews,
    /// Temperature scaling of the averaged probabilities (none when absent).
    #[serde(default, skip_serializing_if = "Calibration::is_none")]
    pub calibration: Calibration,
    /// How unlike the recordings the embedding network was trained on an input is (none
    /// when absent: the analyser then reports no familiarity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub familiarity: Option<FamiliarityReference>,
    /// Perceived gender from the pretrained speaker encoder
    /// ([`SpeakerEncoder`](super::SpeakerEncoder), `speaker_ge2e.safetensors`) instead of the
    /// networks' gender head (none when absent: the networks answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_gender: Option<super::SpeakerGenderHead>,
    /// How the weights were made (command, seed, data), free-form.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl VoiceModelFile {
    /// A file of `members` networks (prefixed `member{i}.` when more than one) with no
    /// test-time views.
    pub fn new(model: VoiceConfig, mel: MelConfig, emotions: Vec<Emotion>, members: usize) -> Self {
        Self {
            format: MODEL_FORMAT,
            model,
            mel,
            emotions,
            members: Member::ensemble(members),
            tta: TestTimeViews::none(),
            calibration: Calibration::NONE,
            familiarity: None,
            speaker_gender: None,
            provenance: serde_json::Value::Null,
        }
    }

    /// Parses a model file's JSON, format 2 or the earlier format 1 (converted).
    pub fn from_json(text: &str) -> Result<Self> {
        // Format 1: `members` was a count (1 when absent); `tta` had the same fields.
        let file: Self = super::spec::parse_model_json(text, "voice model", |v| {
            let o = v.as_object_mut().expect("format_of read an object");
            let n = o.remove("members").and_then(|n| n.as_u64()).unwrap_or(1);
            let members: Vec<VoiceMember> = Member::ensemble(n as usize);
            o.insert(
                "members".into(),
                serde_json::to_value(members).expect("serialisable"),
            );
        })?;
        file.check()?;
        Ok(file)
    }

    /// Checks the members (each of any role, with the file's architecture and features), the
    /// test-time views and the architecture.
    pub fn check(&self) -> Result<()> {
        super::spec::check_members(self.format, &self.members)?;
        if self
            .members
            .iter()
            .any(|m| m.model.is_some() || m.input.is_some())
        {
            return Err(Error::InvalidConfig(
                "voice members share the file's architecture and features".into(),
            ));
        }
        self.tta.validate_for_voices()?;
        self.calibration.validate()?;
        if let Some(f) = &self.familiarity {
            f.check(self.model.embedding)?;
        }
        self.model.validate()
    }

    /// Checks this description and writes it to `<stem>.json`, leaving the weights file as it
    /// is (for edits that change no weight: calibration, a familiarity reference).
    pub fn save_description(&self, stem: &Path) -> Result<()> {
        self.check()?;
        super::write_description(self, stem)
    }

    /// Reads `<stem>.json`.
    pub fn read(stem: &Path) -> Result<Self> {
        super::read_description(stem, Self::from_json)
    }

    /// Combines two model files into one at `out` (`<out>.json` + `<out>.safetensors`): the
    /// members of `emotion` give emotion and the embedding only ([`MemberRole::Emotion`]),
    /// the members of `gender` perceived gender only ([`MemberRole::Gender`], prefixed
    /// `gender_member{i}`). Both must share the architecture, features, emotion classes and
    /// test-time views; the weights are copied unchanged. Returns the combined description,
    /// whose provenance holds both files'.
    pub fn combine_roles(emotion: &Path, gender: &Path, out: &Path) -> Result<Self> {
        Self::combine(emotion, gender, out, false)
    }

    /// Like [`combine_roles`](Self::combine_roles), but the members of `base` keep their roles
    /// (and `base` its calibration and familiarity reference): the members of `gender` join
    /// the ones that already give perceived gender, as gender-only members under the next free
    /// `gender_member{i}` prefixes. For an ensemble of two gender recipes.
    pub fn add_gender_members(base: &Path, gender: &Path, out: &Path) -> Result<Self> {
        Self::combine(base, gender, out, true)
    }

    fn combine(emotion: &Path, gender: &Path, out: &Path, keep_roles: bool) -> Result<Self> {
        let (mut file, mut tensors) = Self::read_tensors(emotion)?;
        let (other, other_tensors) = Self::read_tensors(gender)?;
        if !keep_roles {
            file.calibration = Calibration {
                gender: other.calibration.gender,
                ..file.calibration
            };
        }
        if other.model != file.model
            || other.mel != file.mel
            || other.emotions != file.emotions
            || other.tta != file.tta
        {
            return Err(Error::InvalidConfig(format!(
                "{} and {} differ in architecture, features, emotions or test-time views",
                emotion.display(),
                gender.display()
            )));
        }
        if !keep_roles {
            for m in &mut file.members {
                m.role = MemberRole::Emotion;
            }
        }
        // The first free prefix index (0 unless `keep_roles` kept some gender members).
        let offset = file
            .members
            .iter()
            .filter_map(|m| {
                m.weights
                    .strip_prefix("gender_member")?
                    .parse::<usize>()
                    .ok()
            })
            .map(|i| i + 1)
            .max()
            .unwrap_or(0);
        for (i, m) in other.members.iter().enumerate() {
            let prefix = format!("gender_member{}", i + offset);
            for (name, t) in &other_tensors {
                let owned_by = |p: &str| name.strip_prefix(p).and_then(|r| r.strip_prefix('.'));
                let rest = match m.weights.as_str() {
                    // No prefix: every tensor no other member's prefix claims.
                    "" => (!other
                        .members
                        .iter()
                        .any(|o| !o.weights.is_empty() && owned_by(&o.weights).is_some()))
                    .then_some(name.as_str()),
                    p => owned_by(p),
                };
                if let Some(rest) = rest {
                    tensors.insert(format!("{prefix}.{rest}"), t.clone());
                }
            }
            file.members.push(Member {
                weights: prefix,
                role: MemberRole::Gender,
                model: None,
                input: None,
            });
        }
        file.provenance = if keep_roles {
            serde_json::json!({
                "command": std::env::args().collect::<Vec<_>>().join(" "),
                "base": file.provenance,
                "added_gender_members": other.provenance,
            })
        } else {
            serde_json::json!({
                "command": std::env::args().collect::<Vec<_>>().join(" "),
                "emotion_members": file.provenance,
                "gender_members": other.provenance,
            })
        };
        file.check()?;
        let weights = out.with_extension("safetensors");
        candle_core::safetensors::save(&tensors, &weights)
            .map_err(|e| Error::InvalidModelFile(format!("{}: {e}", weights.display())))?;
        super::write_description(&file, out)?;
        // Reload to prove every member finds its tensors.
        super::VoicePredictor::load(out)?;
        Ok(file)
    }

    /// Writes `out` as `stem` without its gender-only members, for a file whose perceived
    /// gender comes from the speaker encoder (`speaker_gender`, required): the emotion-only
    /// members become full members (their own gender heads then stand behind the speaker
    /// encoder's, unused while `speaker_gender` is there), and the dropped members' tensors
    /// leave the weights file.
    pub fn drop_gender_members(stem: &Path, out: &Path) -> Result<Self> {
        let (mut file, tensors) = Self::read_tensors(stem)?;
        if file.speaker_gender.is_none() {
            return Err(Error::InvalidConfig(format!(
                "{}: without speaker_gender the gender members are what answers perceived gender",
                stem.display()
            )));
        }
        let dropped: Vec<String> = file
            .members
            .iter()
            .filter(|m| m.role == MemberRole::Gender)
            .map(|m| m.weights.clone())
            .collect();
        if dropped.iter().any(|w| w.is_empty()) {
            return Err(Error::InvalidConfig(
                "a gender member without a weight prefix cannot be separated".into(),
            ));
        }
        file.members.retain(|m| m.role != MemberRole::Gender);
        for m in &mut file.members {
            m.role = MemberRole::Full;
        }
        let kept: std::collections::HashMap<String, Tensor> = tensors
            .into_iter()
            .filter(|(name, _)| {
                !dropped.iter().any(|p| {
                    name.strip_prefix(p.as_str())
                        .is_some_and(|r| r.starts_with('.'))
                })
            })
            .collect();
        file.provenance = serde_json::json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "dropped_gender_members": dropped,
            "base": file.provenance,
        });
        file.check()?;
        let weights = out.with_extension("safetensors");
        candle_core::safetensors::save(&kept, &weights)
            .map_err(|e| Error::InvalidModelFile(format!("{}: {e}", weights.display())))?;
        super::write_description(&file, out)?;
        super::VoicePredictor::load(out)?;
        Ok(file)
    }

    /// Reads `<stem>.json` and every tensor of `<stem>.safetensors` by name.
    fn read_tensors(stem: &Path) -> Result<(Self, std::collections::HashMap<String, Tensor>)> {
        let file = Self::read(stem)?;
        let path = stem.with_extension("safetensors");
        let tensors = candle_core::safetensors::load(&path, &candle_core::Device::Cpu)
            .map_err(|e| Error::InvalidModelFile(format!("{}: {e}", path.display())))?;
        Ok((file, tensors))
    }

    /// Saves this description to `<stem>.json` and one weight set per member (each under
    /// its member's prefix) to `<stem>.safetensors`.
    pub fn save(&self, varmaps: &[&VarMap], stem: &Path) -> Result<()> {
        self.check()?;
        super::save_members(self, &self.members, varmaps, stem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VoicePredictor;
    use candle_core::{DType, Device};

    fn mel16() -> MelConfig {
        MelConfig {
            n_mels: 16,
            ..MelConfig::default()
        }
    }

    fn logits(n: &VoiceNet, x: &Tensor) -> Vec<Vec<f32>> {
        n.forward_t(x, false)
            .unwrap()
            .emotion_logits
            .to_vec2::<f32>()
            .unwrap()
    }

    #[test]
    fn shapes_for_any_length_and_save_load_round_trip() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let cfg = VoiceConfig::tiny();
        let net = VoiceNet::new(&cfg, vb).unwrap();
        for t in [1usize, 7, 50] {
            let x = Tensor::randn(0f32, 1., (3, cfg.n_mels, t), &dev).unwrap();
            let out = net.forward_t(&x, false).unwrap();
            assert_eq!(out.embedding.dims(), &[3, cfg.embedding]);
            assert_eq!(out.gender_logits.dims(), &[3, 2]);
            assert_eq!(out.emotion_logits.dims(), &[3, 8]);
        }
        let names: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
        for n in ["block1.conv.weight", "embed.weight", "emotion_head.weight"] {
            assert!(names.contains(&n.to_string()), "{n} in {names:?}");
        }

        let dir = std::env::temp_dir().join(format!("facevox-voice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("voice");
        let mut file = VoiceModelFile::new(cfg.clone(), mel16(), RAVDESS_EMOTIONS.to_vec(), 1);
        file.provenance = serde_json::json!({"test": true});
        file.save(&[&varmap], &stem).unwrap();
        let (loaded, p) = VoicePredictor::load(&stem).unwrap();
        assert_eq!(loaded, file);
        let x = Tensor::randn(0f32, 1., (2, cfg.n_mels, 20), &dev).unwrap();
        assert_eq!(logits(&p.nets()[0], &x), logits(&net, &x));
        assert!(VoicePredictor::load(&dir.join("missing")).is_err());
        // A mirror is not a voice view; an unknown format is a typed error.
        let mut bad = file.clone();
        bad.tta.mirror = true;
        assert!(bad.check().is_err());
        let mut future = serde_json::to_value(&file).unwrap();
        future["format"] = serde_json::json!(3);
        assert!(matches!(
            VoiceModelFile::from_json(&future.to_string()),
            Err(Error::UnsupportedModelFormat { found: 3, .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ensemble_members_round_trip() {
        let dev = Device::Cpu;
        let cfg = VoiceConfig::tiny();
        let maps: Vec<VarMap> = (0..2)
            .map(|i| {
                let vm = VarMap::new();
                VoiceNet::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
                crate::model::init_weights(&vm, 10 + i).unwrap();
                vm
            })
            .collect();
        let dir = std::env::temp_dir().join(format!("facevox-voice-ens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("voice");
        let file = VoiceModelFile::new(cfg.clone(), mel16(), RAVDESS_EMOTIONS.to_vec(), 2);
        assert_eq!(file.members[1].weights, "member1");
        // One weight set for a two-member file is refused.
        assert!(file.save(&[&maps[0]], &stem).is_err());
        file.save(&[&maps[0], &maps[1]], &stem).unwrap();
        let (loaded, p) = VoicePredictor::load(&stem).unwrap();
        assert_eq!((loaded.members.len(), p.nets().len()), (2, 2));
        let x = Tensor::randn(0f32, 1., (2, cfg.n_mels, 20), &dev).unwrap();
        for (vm, net) in maps.iter().zip(p.nets()) {
            let orig = VoiceNet::new(&cfg, VarBuilder::from_varmap(vm, DType::F32, &dev)).unwrap();
            assert_eq!(logits(&orig, &x), logits(net, &x));
        }
        // The same file in format 1 (a member count) reads the same.
        let mut v1 = serde_json::to_value(&file).unwrap();
        v1["format"] = serde_json::json!(1);
        v1["members"] = serde_json::json!(2);
        assert_eq!(VoiceModelFile::from_json(&v1.to_string()).unwrap(), file);
        v1.as_object_mut().unwrap().remove("members");
        let one = VoiceModelFile::from_json(&v1.to_string()).unwrap();
        assert_eq!(one.members, vec![Member::full("")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn combined_roles_take_emotion_from_one_file_and_gender_from_the_other() {
        let dev = Device::Cpu;
        let cfg = VoiceConfig::tiny();
        let net_map = |seed| {
            let vm = VarMap::new();
            VoiceNet::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
            crate::model::init_weights(&vm, seed).unwrap();
            vm
        };
        let dir = std::env::temp_dir().join(format!("facevox-voice-roles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (emo, gen, out) = (dir.join("emo"), dir.join("gen"), dir.join("both"));
        let (e0, e1, g0) = (net_map(1), net_map(2), net_map(3));
        VoiceModelFile::new(cfg.clone(), mel16(), RAVDESS_EMOTIONS.to_vec(), 2)
            .save(&[&e0, &e1], &emo)
            .unwrap();
        VoiceModelFile::new(cfg.clone(), mel16(), RAVDESS_EMOTIONS.to_vec(), 1)
            .save(&[&g0], &gen)
            .unwrap();
        let file = VoiceModelFile::combine_roles(&emo, &gen, &out).unwrap();
        let roles: Vec<_> = file.members.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [MemberRole::Emotion, MemberRole::Emotion, MemberRole::Gender]
        );
        let mel = crate::audio::LogMel {
            n_mels: cfg.n_mels,
            n_frames: 30,
            data: (0..cfg.n_mels * 30)
                .map(|i| (i as f32 * 0.37).sin())
                .collect(),
        };
        let predict = |stem: &Path| {
            VoicePredictor::load(stem)
                .unwrap()
                .1
                .predict(&[&mel])
                .unwrap()[0]
                .clone()
        };
        let (pe, pg, pb) = (predict(&emo), predict(&gen), predict(&out));
        assert_eq!(pb.emotion, pe.emotion);
        assert_eq!(pb.embedding, pe.embedding);
        assert_eq!(pb.gender, pg.gender);
        assert_ne!(pe.gender, pg.gender);
        // A second gender recipe joins the first: its members take the next prefixes, the
        // emotion stays the emotion members', and perceived gender is the two gender
        // networks' mean.
        let (gen2, out2) = (dir.join("gen2"), dir.join("both2"));
        VoiceModelFile::new(cfg.clone(), mel16(), RAVDESS_EMOTIONS.to_vec(), 1)
            .save(&[&net_map(4)], &gen2)
            .unwrap();
        let file2 = VoiceModelFile::add_gender_members(&out, &gen2, &out2).unwrap();
        let members: Vec<_> = file2
            .members
            .iter()
            .map(|m| (m.role, m.weights.as_str()))
            .collect();
        assert_eq!(
            members[2..],
            [
                (MemberRole::Gender, "gender_member0"),
                (MemberRole::Gender, "gender_member1")
            ]
        );
        let (pg2, pb2) = (predict(&gen2), predict(&out2));
        assert_eq!(pb2.emotion, pe.emotion);
        for k in 0..2 {
            assert!((pb2.gender[k] - (pg.gender[k] + pg2.gender[k]) / 2.0).abs() < 1e-5);
        }
        // Files that disagree on the features are refused.
        let mut other_mel = VoiceModelFile::new(cfg.clone(), mel16(), RAVDESS_EMOTIONS.to_vec(), 1);
        other_mel.mel.fmax = 4000.0;
        other_mel.save(&[&g0], &gen).unwrap();
        assert!(VoiceModelFile::combine_roles(&emo, &gen, &out).is_err());
        // A file of emotion members alone gives no gender: refused.
        let mut no_gender = file.clone();
        no_gender.members.truncate(2);
        assert!(no_gender.check().is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn inconsistent_config_is_rejected() {
        let bad = VoiceConfig {
            kernels: vec![4, 3],
            ..VoiceConfig::tiny()
        };
        assert!(bad.validate().is_err());
    }
}
