//! FaceNet: the face branch, a VGG-style convolutional network over face crops.
//!
//! Stages of `conv 3x3 → batch-norm+ReLU` (twice by default) followed by 2x2 max-pooling halve
//! the crop until global average pooling; a fully connected embedding (after ReLU: what the
//! fusion head consumes) feeds two heads, perceived gender (2) and emotion over
//! [`FACE_EMOTIONS`] (FER+'s eight classes: no calm). The convolutions and batch-norms are the
//! crate's own CPU ops (`conv.rs`, `norm.rs`, `pool.rs`): im2col + GEMM, a fused batch-norm and
//! max-pooling, each with a hand-written backward pass. (Networks trained before 2026-12-02
//! used candle's `max_pool2d`, whose gradient is the true one divided by 4 per 2x2 pool; the
//! forward pass, and so every saved model's predictions, is the same with either.)
//!
//! Weights are saved as safetensors with a JSON [`FaceModelFile`] beside them holding the model
//! config and the [`CropConfig`], so inference crops faces exactly as training did.

use std::path::Path;

use candle_core::{Device, Result as CResult, Tensor, D};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::conv::{conv2d, ConvGeometry};
use super::head::{BranchOutput, TwoHeads};
use super::norm::BatchNorm;
use super::pool::max_pool2d;
use super::spec::{Calibration, Member, MemberRole, PriorCorrection, TestTimeViews, MODEL_FORMAT};
use crate::labels::{Emotion, FACE_EMOTIONS};
use crate::vision::CropConfig;
use crate::{Error, Result};

/// Architecture hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaceConfig {
    /// Input channels: 1 (grey) or 3 (RGB); must match the crop config.
    pub in_channels: usize,
    /// Output channels of each stage (each stage ends with a 2x2 max-pool).
    pub stages: Vec<usize>,
    /// 3x3 convolutions per stage.
    pub convs_per_stage: usize,
    /// Size of the embedding.
    pub embedding: usize,
    /// Dropout before the heads (training only).
    pub dropout: f32,
    /// Number of emotion classes.
    pub n_emotions: usize,
}

impl Default for FaceConfig {
    fn default() -> Self {
        Self {
            in_channels: 1,
            stages: vec![32, 64, 128, 256],
            convs_per_stage: 2,
            embedding: 128,
            dropout: 0.4,
            n_emotions: FACE_EMOTIONS.len(),
        }
    }
}

impl FaceConfig {
    /// A very small network for tests.
    pub fn tiny() -> Self {
        Self {
            in_channels: 1,
            stages: vec![4, 8],
            convs_per_stage: 1,
            embedding: 8,
            dropout: 0.1,
            n_emotions: FACE_EMOTIONS.len(),
        }
    }

    /// Checks the config, and that crops of `size` pixels survive every pooling step.
    pub fn validate(&self) -> Result<()> {
        if self.stages.is_empty()
            || self.stages.contains(&0)
            || !(self.in_channels == 1 || self.in_channels == 3)
            || self.convs_per_stage == 0
            || self.embedding == 0
            || self.n_emotions == 0
            || !(0.0..1.0).contains(&self.dropout)
        {
            return Err(Error::InvalidConfig(format!(
                "inconsistent FaceConfig: {self:?}"
            )));
        }
        Ok(())
    }

    /// Smallest crop side the network accepts (one pixel left after the last pooling).
    pub fn min_input(&self) -> usize {
        1 << self.stages.len()
    }
}

/// `conv 3x3 (padding 1, no bias) → batch-norm → ReLU`.
#[derive(Debug, Clone)]
struct ConvBnRelu {
    weight: Tensor,
    norm: BatchNorm,
}

impl ConvBnRelu {
    fn new(c_in: usize, c_out: usize, vb: VarBuilder) -> CResult<Self> {
        let bound = 1.0 / ((c_in * 9) as f64).sqrt();
        let weight = vb.pp("conv").get_with_hints(
            (c_out, c_in, 3, 3),
            "weight",
            candle_nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )?;
        let norm = BatchNorm::new(c_out, 1e-5, true, vb.pp("norm"))?;
        Ok(Self { weight, norm })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> CResult<Tensor> {
        let geo = ConvGeometry {
            kernel: (3, 3),
            padding: (1, 1),
            dilation: (1, 1),
            stride: (1, 1),
        };
        conv2d(x, &self.weight, geo)?.apply_t(&self.norm, train)
    }
}

/// The face branch.
#[derive(Debug, Clone)]
pub struct FaceNet {
    stages: Vec<Vec<ConvBnRelu>>,
    heads: TwoHeads,
    config: FaceConfig,
}

/// The name of [`FaceNet`]'s first convolution kernel in its weights, `(C, in_channels, 3, 3)`.
pub const FIRST_CONV: &str = "stage1.1.conv.weight";

impl FaceNet {
    /// Builds the network; weights come from (or are created in) `vb`.
    pub fn new(config: &FaceConfig, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let build = || -> CResult<Self> {
            let mut stages = Vec::with_capacity(config.stages.len());
            let mut c_in = config.in_channels;
            for (s, &c) in config.stages.iter().enumerate() {
                let mut convs = Vec::with_capacity(config.convs_per_stage);
                for k in 0..config.convs_per_stage {
                    convs.push(ConvBnRelu::new(
                        c_in,
                        c,
                        vb.pp(format!("stage{}", s + 1)).pp(format!("{}", k + 1)),
                    )?);
                    c_in = c;
                }
                stages.push(convs);
            }
            Ok(Self {
                stages,
                heads: TwoHeads::new(
                    c_in,
                    config.embedding,
                    config.dropout,
                    config.n_emotions,
                    &vb,
                )?,
                config: config.clone(),
            })
        };
        build().map_err(Error::from)
    }

    /// The architecture.
    pub fn config(&self) -> &FaceConfig {
        &self.config
    }

    /// Restarts the dropout masks from `seed`.
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

    /// Runs a batch `(B, in_channels, S, S)` with `S ≥ config.min_input()`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> CResult<BranchOutput> {
        let (_, c, h, w) = x.dims4()?;
        let min = self.config.min_input();
        if c != self.config.in_channels || h < min || w < min {
            candle_core::bail!(
                "FaceNet expects (B, {}, ≥{min}, ≥{min}) input, got {:?}",
                self.config.in_channels,
                x.shape()
            );
        }
        let mut h = x.clone();
        for stage in &self.stages {
            for layer in stage {
                h = layer.forward_t(&h, train)?;
            }
            h = max_pool2d(&h, 2)?;
        }
        let pooled = h.mean(D::Minus1)?.mean(D::Minus1)?;
        self.heads.forward_t(&pooled, train)
    }
}

/// One network of a face model file.
pub type FaceMember = Member<FaceConfig, CropConfig>;

/// The JSON saved beside a face model's weights (format [`MODEL_FORMAT`]; see
/// [`spec`](super::spec)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceModelFile {
    /// Format version of this file.
    pub format: u32,
    /// Architecture of the members that do not name their own.
    pub model: FaceConfig,
    /// How faces are cropped and normalised for the members that do not name their own crop.
    pub crop: CropConfig,
    /// Emotion classes in head order.
    pub emotions: Vec<Emotion>,
    /// The networks: the first a [`MemberRole::Full`] one (emotion, embedding, gender), then
    /// any gender-only networks, each possibly with its own architecture and crop of the same
    /// detected face.
    pub members: Vec<FaceMember>,
    /// Test-time views (the mirror image, when `mirror`).
    #[serde(default)]
    pub tta: TestTimeViews,
    /// Temperature scaling of the averaged probabilities (none when absent).
    #[serde(default, skip_serializing_if = "Calibration::is_none")]
    pub calibration: Calibration,
    /// Logit adjustment of the emotion head for its unbalanced training classes, applied
    /// before the temperature (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion_prior_correction: Option<PriorCorrection>,
    /// How the weights were made (command, seed, data), free-form.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl FaceModelFile {
    /// A file of one network with no test-time views.
    pub fn new(model: FaceConfig, crop: CropConfig, emotions: Vec<Emotion>) -> Self {
        Self {
            format: MODEL_FORMAT,
            model,
            crop,
            emotions,
            members: vec![Member::full("")],
            tta: TestTimeViews::none(),
            calibration: Calibration::NONE,
            emotion_prior_correction: None,
            provenance: serde_json::Value::Null,
        }
    }

    /// Parses a model file's JSON, format 2 or the earlier format 1 (converted).
    pub fn from_json(text: &str) -> Result<Self> {
        let file: Self = super::spec::parse_model_json(text, "face model", upgrade_v1)?;
        file.check()?;
        Ok(file)
    }

    /// The architecture of member `i`.
    pub fn member_model(&self, i: usize) -> &FaceConfig {
        self.members
            .get(i)
            .and_then(|m| m.model.as_ref())
            .unwrap_or(&self.model)
    }

    /// The crop member `i` reads.
    pub fn member_crop(&self, i: usize) -> &CropConfig {
        self.members
            .get(i)
            .and_then(|m| m.input.as_ref())
            .unwrap_or(&self.crop)
    }

    /// The gender-only members' indices.
    pub fn gender_members(&self) -> impl Iterator<Item = usize> + '_ {
        self.members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.role == MemberRole::Gender)
            .map(|(i, _)| i)
    }

    /// The distinct crops the model reads of each face: the file's crop first, then each
    /// member's own in order of first use. Crop a face once per entry (the same detection).
    pub fn crop_views(&self) -> Vec<CropConfig> {
        let mut views = vec![self.crop.clone()];
        for i in 0..self.members.len() {
            let c = self.member_crop(i);
            if !views.contains(c) {
                views.push(c.clone());
            }
        }
        views
    }

    /// For each member, its index into [`crop_views`](Self::crop_views).
    pub fn member_views(&self) -> Vec<usize> {
        let views = self.crop_views();
        (0..self.members.len())
            .map(|i| {
                let c = self.member_crop(i);
                views.iter().position(|v| v == c).expect("listed above")
            })
            .collect()
    }

    /// Checks the members (see [`spec`](super::spec)), the test-time views, and that every
    /// network's crop colour matches its input channels.
    pub fn check(&self) -> Result<()> {
        super::spec::check_members(self.format, &self.members)?;
        self.tta.validate_for_faces()?;
        self.calibration.validate()?;
        if let Some(c) = &self.emotion_prior_correction {
            c.validate(self.emotions.len())?;
        }
        for i in 0..self.members.len() {
            let (model, crop) = (self.member_model(i), self.member_crop(i));
            model.validate()?;
            crop.validate()?;
            if crop.color.channels() != model.in_channels {
                return Err(Error::InvalidConfig(format!(
                    "face member {i}: crop colour {:?} does not match {} input channels",
                    crop.color, model.in_channels
                )));
            }
        }
        Ok(())
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

    /// Saves this description to `<stem>.json` and one weight set per member (in member
    /// order, each under its member's prefix) to `<stem>.safetensors`. Every weight set must
    /// fit its member's architecture.
    pub fn save(&self, varmaps: &[&VarMap], stem: &Path) -> Result<()> {
        self.check()?;
        for (i, vm) in varmaps.iter().enumerate().take(self.members.len()) {
            // The shapes this member's architecture has, from a scratch network.
            let want = VarMap::new();
            FaceNet::new(
                self.member_model(i),
                VarBuilder::from_varmap(&want, candle_core::DType::F32, &Device::Cpu),
            )?;
            if !super::same_shapes(&want, vm) {
                return Err(Error::InvalidConfig(format!(
                    "face member {i}'s weights do not fit its architecture"
                )));
            }
        }
        super::save_members(self, &self.members, varmaps, stem)
    }
}

impl FaceModelFile {
    /// Reads `<stem>.json` and every member's weights, each into its own `VarMap` (in member
    /// order, names without the member's prefix): what combining or re-saving files needs.
    pub fn read_weights(stem: &Path) -> Result<(Self, Vec<VarMap>)> {
        let file = Self::read(stem)?;
        let path = stem.with_extension("safetensors");
        let tensors = candle_core::safetensors::load(&path, &Device::Cpu)
            .map_err(|e| Error::InvalidModelFile(format!("{}: {e}", path.display())))?;
        let maps = file
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let vm = VarMap::new();
                FaceNet::new(
                    file.member_model(i),
                    VarBuilder::from_varmap(&vm, candle_core::DType::F32, &Device::Cpu),
                )?;
                for (name, var) in vm.data().lock().expect("varmap lock").iter() {
                    let key = match m.weights.as_str() {
                        "" => name.clone(),
                        p => format!("{p}.{name}"),
                    };
                    let t = tensors.get(&key).ok_or_else(|| {
                        Error::InvalidModelFile(format!("{}: no tensor {key}", path.display()))
                    })?;
                    var.set(t)?;
                }
                Ok(vm)
            })
            .collect::<Result<_>>()?;
        Ok((file, maps))
    }

    /// Adds `other`'s single network as a gender-only member (prefix `gender_member{i}`),
    /// writing its architecture and crop only where they differ from this file's. `other`
    /// must be one network with the same test-time views.
    pub fn push_gender_member(&mut self, other: &FaceModelFile) -> Result<()> {
        if other.members.len() != 1 {
            return Err(Error::InvalidConfig(
                "a gender member must be a file of one network".into(),
            ));
        }
        if other.tta != self.tta {
            return Err(Error::InvalidConfig(
                "the member's test-time views differ from the main model's".into(),
            ));
        }
        let i = self.gender_members().count();
        self.members.push(Member {
            weights: format!("gender_member{i}"),
            role: MemberRole::Gender,
            model: (other.model != self.model).then(|| other.model.clone()),
            input: (other.crop != self.crop).then(|| other.crop.clone()),
        });
        self.check()
    }
}

/// Format 1 → 2: `tta_flip` becomes `tta.mirror`; the main network and the
/// `gender_members` (a count, or a list of optional architectures and crops) become members.
fn upgrade_v1(v: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let o = v.as_object_mut().expect("format_of read an object");
    let mirror = o
        .remove("tta_flip")
        .and_then(|f| f.as_bool())
        .unwrap_or(false);
    let mut members = vec![json!({"weights": "", "role": "full"})];
    let extra = match o.remove("gender_members") {
        Some(Value::Number(n)) => vec![json!({}); n.as_u64().unwrap_or(0) as usize],
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    for (i, m) in extra.into_iter().enumerate() {
        let mut member = json!({"weights": format!("gender_member{i}"), "role": "gender"});
        if let Some(model) = m.get("model") {
            member["model"] = model.clone();
        }
        if let Some(crop) = m.get("crop") {
            member["input"] = crop.clone();
        }
        members.push(member);
    }
    o.insert("members".into(), Value::Array(members));
    o.insert("tta".into(), json!({"mirror": mirror}));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FacePredictor;
    use candle_core::DType;

    fn build(cfg: &FaceConfig, seed: u64) -> (VarMap, FaceNet) {
        let vm = VarMap::new();
        let net =
            FaceNet::new(cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu)).unwrap();
        crate::model::init_weights(&vm, seed).unwrap();
        (vm, net)
    }

    fn logits(n: &FaceNet, x: &Tensor) -> Vec<Vec<f32>> {
        n.forward_t(x, false)
            .unwrap()
            .gender_logits
            .to_vec2::<f32>()
            .unwrap()
    }

    fn temp_stem(tag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("facevox-face-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("face");
        (dir, stem)
    }

    #[test]
    fn shapes_names_and_bad_input() {
        let dev = Device::Cpu;
        let cfg = FaceConfig::tiny();
        let (varmap, net) = build(&cfg, 1);
        for s in [4usize, 17, 48] {
            let x = Tensor::randn(0f32, 1., (3, 1, s, s), &dev).unwrap();
            let out = net.forward_t(&x, true).unwrap();
            assert_eq!(out.embedding.dims(), &[3, cfg.embedding]);
            assert_eq!(out.gender_logits.dims(), &[3, 2]);
            assert_eq!(out.emotion_logits.dims(), &[3, 8]);
        }
        // Too small for two poolings, wrong channel count.
        let tiny = Tensor::zeros((1, 1, 3, 3), DType::F32, &dev).unwrap();
        assert!(net.forward_t(&tiny, false).is_err());
        let rgb = Tensor::zeros((1, 3, 16, 16), DType::F32, &dev).unwrap();
        assert!(net.forward_t(&rgb, false).is_err());
        let names: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
        for n in [
            FIRST_CONV,
            "stage2.1.norm.running_var",
            "embed.weight",
            "emotion_head.weight",
        ] {
            assert!(names.contains(&n.to_string()), "{n} in {names:?}");
        }
    }

    #[test]
    fn save_load_round_trip_from_disk_and_bytes() {
        let cfg = FaceConfig::tiny();
        let (varmap, net) = build(&cfg, 1);
        let (dir, stem) = temp_stem("rt");
        let mut file =
            FaceModelFile::new(cfg.clone(), CropConfig::gray(16), FACE_EMOTIONS.to_vec());
        file.provenance = serde_json::json!({"test": true});
        file.save(&[&varmap], &stem).unwrap();
        let x = Tensor::randn(0f32, 1., (2, 1, 16, 16), &Device::Cpu).unwrap();
        let (loaded, p) = FacePredictor::load(&stem).unwrap();
        assert_eq!(loaded, file);
        assert_eq!(logits(p.nets().next().unwrap(), &x), logits(&net, &x));
        let json = std::fs::read(stem.with_extension("json")).unwrap();
        let weights = std::fs::read(stem.with_extension("safetensors")).unwrap();
        let (from_bytes, p) = FacePredictor::from_bytes(&json, &weights).unwrap();
        assert_eq!(from_bytes, file);
        assert_eq!(logits(p.nets().next().unwrap(), &x), logits(&net, &x));
        // A crop config that disagrees with the network is refused, on save and on load.
        let mismatched = FaceModelFile {
            crop: CropConfig::rgb(16),
            ..file.clone()
        };
        assert!(mismatched.save(&[&varmap], &stem).is_err());
        std::fs::write(
            stem.with_extension("json"),
            serde_json::to_string(&mismatched).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            FacePredictor::load(&stem),
            Err(Error::InvalidConfig(_))
        ));
        // An unknown format version, and weights that lack a tensor, are typed errors.
        let mut future = serde_json::to_value(&file).unwrap();
        future["format"] = serde_json::json!(99);
        assert!(matches!(
            FacePredictor::from_bytes(future.to_string().as_bytes(), &weights),
            Err(Error::UnsupportedModelFormat { found: 99, .. })
        ));
        let wide = FaceModelFile::new(
            FaceConfig {
                stages: vec![4, 16],
                ..cfg.clone()
            },
            CropConfig::gray(16),
            FACE_EMOTIONS.to_vec(),
        );
        let wide_json = serde_json::to_string(&wide).unwrap();
        assert!(matches!(
            FacePredictor::from_bytes(wide_json.as_bytes(), &weights),
            Err(Error::InvalidModelFile(_))
        ));
        let mut two = file.clone();
        two.members.push(Member {
            weights: "gender_member0".into(),
            role: MemberRole::Gender,
            model: None,
            input: None,
        });
        let two_json = serde_json::to_string(&two).unwrap();
        assert!(matches!(
            FacePredictor::from_bytes(two_json.as_bytes(), &weights),
            Err(Error::InvalidModelFile(_))
        ));
        assert!(matches!(
            FacePredictor::from_bytes(b"{not json", &weights),
            Err(Error::InvalidModelFile(_))
        ));
        assert!(matches!(
            FacePredictor::from_bytes(json.as_slice(), b"not safetensors"),
            Err(Error::InvalidModelFile(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gender_members_with_their_own_architecture_and_crop() {
        let cfg = FaceConfig::tiny();
        let rgb = FaceConfig {
            in_channels: 3,
            stages: vec![4, 8],
            ..cfg.clone()
        };
        let (main_vm, main) = build(&cfg, 1);
        let (same_vm, same) = build(&cfg, 2);
        let (rgb_vm, rgb_net) = build(&rgb, 3);
        let (dir, stem) = temp_stem("gm");
        let own = |w: &str| Member {
            weights: w.into(),
            role: MemberRole::Gender,
            model: Some(rgb.clone()),
            input: Some(CropConfig::rgb(20)),
        };
        let file = FaceModelFile {
            members: vec![
                Member::full(""),
                own("gender_member0"),
                Member {
                    weights: "gender_member1".into(),
                    role: MemberRole::Gender,
                    model: None,
                    input: None,
                },
                own("gender_member2"),
            ],
            tta: TestTimeViews::mirrored(),
            ..FaceModelFile::new(cfg.clone(), CropConfig::gray(16), FACE_EMOTIONS.to_vec())
        };
        assert_eq!(
            file.crop_views(),
            vec![CropConfig::gray(16), CropConfig::rgb(20)]
        );
        assert_eq!(file.member_views(), vec![0, 1, 0, 1]);
        assert_eq!(file.gender_members().collect::<Vec<_>>(), vec![1, 2, 3]);
        // One weight set per member, each fitting its member's architecture.
        assert!(file.save(&[&main_vm, &rgb_vm], &stem).is_err());
        assert!(file
            .save(&[&main_vm, &same_vm, &same_vm, &rgb_vm], &stem)
            .is_err());
        file.save(&[&main_vm, &rgb_vm, &same_vm, &rgb_vm], &stem)
            .unwrap();
        let (loaded, p) = FacePredictor::load(&stem).unwrap();
        assert_eq!(loaded, file);
        assert_eq!(p.crops().len(), 2);
        let nets: Vec<&FaceNet> = p.nets().collect();
        let x = Tensor::randn(0f32, 1., (2, 1, 16, 16), &Device::Cpu).unwrap();
        let xr = Tensor::randn(0f32, 1., (2, 3, 20, 20), &Device::Cpu).unwrap();
        assert_eq!(logits(nets[0], &x), logits(&main, &x));
        assert_eq!(logits(nets[1], &xr), logits(&rgb_net, &xr));
        assert_eq!(logits(nets[2], &x), logits(&same, &x));
        assert_ne!(logits(nets[2], &x), logits(&main, &x));
        // A member whose crop colour disagrees with its input channels is refused.
        let mut bad = file.clone();
        bad.members[1].input = Some(CropConfig::gray(20));
        assert!(bad.check().is_err());
        // The first member must be a full one, and prefixes are not shared.
        let mut bad = file.clone();
        bad.members.swap(0, 1);
        assert!(bad.check().is_err());
        let mut bad = file.clone();
        bad.members[2].weights = "gender_member0".into();
        assert!(bad.check().is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn format_1_files_are_read_and_converted() {
        let v1 = |members: serde_json::Value| {
            let mut v = serde_json::json!({
                "format": 1,
                "model": FaceConfig::tiny(),
                "crop": CropConfig::gray(16),
                "emotions": FACE_EMOTIONS,
                "tta_flip": true,
                "provenance": {"command": "train_face"},
            });
            if !members.is_null() {
                v["gender_members"] = members;
            }
            v.to_string()
        };
        let plain = FaceModelFile::from_json(&v1(serde_json::Value::Null)).unwrap();
        assert_eq!(plain.format, MODEL_FORMAT);
        assert_eq!(plain.members, vec![Member::full("")]);
        assert!(plain.tta.mirror);
        let counted = FaceModelFile::from_json(&v1(serde_json::json!(2))).unwrap();
        assert_eq!(counted.members.len(), 3);
        assert_eq!(counted.members[2].weights, "gender_member1");
        assert_eq!(counted.members[2].role, MemberRole::Gender);
        assert_eq!(counted.member_views(), vec![0, 0, 0]);
        let rgb = FaceConfig {
            in_channels: 3,
            ..FaceConfig::tiny()
        };
        let listed = FaceModelFile::from_json(&v1(serde_json::json!([
            {"model": rgb, "crop": CropConfig::rgb(20)},
            {}
        ])))
        .unwrap();
        assert_eq!(listed.members[1].model.as_ref(), Some(&rgb));
        assert_eq!(listed.member_crop(1), &CropConfig::rgb(20));
        assert_eq!(listed.member_views(), vec![0, 1, 0]);
        assert_eq!(listed.provenance["command"], "train_face");
        assert!(matches!(
            FaceModelFile::from_json(r#"{"model": {}}"#),
            Err(Error::InvalidModelFile(_))
        ));
    }
}
