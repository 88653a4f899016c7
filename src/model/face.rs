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
use candle_nn::{Linear, ModuleT, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::blocks::SeededDropout;
use super::conv::{conv2d, ConvGeometry};
use super::norm::BatchNorm;
use super::pool::max_pool2d;
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

/// What the network produces for a batch.
#[derive(Debug, Clone)]
pub struct FaceOutput {
    /// `(B, embedding)` after ReLU.
    pub embedding: Tensor,
    /// `(B, 2)` gender logits (male, female).
    pub gender_logits: Tensor,
    /// `(B, n_emotions)` emotion logits.
    pub emotion_logits: Tensor,
}

/// The face branch.
#[derive(Debug, Clone)]
pub struct FaceNet {
    stages: Vec<Vec<ConvBnRelu>>,
    embed: Linear,
    dropout: SeededDropout,
    gender_head: Linear,
    emotion_head: Linear,
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
                embed: candle_nn::linear(c_in, config.embedding, vb.pp("embed"))?,
                dropout: SeededDropout::new(config.dropout, 0),
                gender_head: candle_nn::linear(config.embedding, 2, vb.pp("gender_head"))?,
                emotion_head: candle_nn::linear(
                    config.embedding,
                    config.n_emotions,
                    vb.pp("emotion_head"),
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
        self.dropout.reseed(seed);
    }

    /// Runs a batch `(B, in_channels, S, S)` with `S ≥ config.min_input()`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> CResult<FaceOutput> {
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
        let embedding = pooled.apply(&self.embed)?.relu()?;
        let dropped = self.dropout.forward_t(&embedding, train)?;
        Ok(FaceOutput {
            gender_logits: dropped.apply(&self.gender_head)?,
            emotion_logits: dropped.apply(&self.emotion_head)?,
            embedding,
        })
    }
}

/// The JSON saved beside a face model's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceModelFile {
    /// Format version of this file.
    pub format: u32,
    /// Architecture.
    pub model: FaceConfig,
    /// How faces are cropped and normalised into the input.
    pub crop: CropConfig,
    /// Emotion classes in head order.
    pub emotions: Vec<Emotion>,
    /// Average each face's prediction with its mirror image's (test-time augmentation; off in
    /// files that predate it).
    #[serde(default)]
    pub tta_flip: bool,
    /// Extra networks trained for perceived gender only, whose gender probabilities are
    /// averaged with the main network's (each network counts once); emotion and the embedding
    /// stay the main network's. Each may have its own architecture and crop of the same
    /// detected face. Their weights are in the same file under `gender_member{i}.` prefixes.
    /// Empty in files that predate them; a bare count `n` (the earlier form) reads as `n`
    /// members with the main network's architecture and crop.
    #[serde(default, deserialize_with = "gender_members_from_count_or_list")]
    pub gender_members: Vec<GenderMember>,
    /// How the weights were made (command, seed, data), free-form.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

/// One gender-only network of a [`FaceModelFile`]: its architecture and crop where they
/// differ from the main network's (`None`: the same).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenderMember {
    /// Architecture, when not the main network's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<FaceConfig>,
    /// Crop of the detected face, when not the main network's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<CropConfig>,
}

fn gender_members_from_count_or_list<'de, D>(
    d: D,
) -> std::result::Result<Vec<GenderMember>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Members {
        Count(usize),
        List(Vec<GenderMember>),
    }
    Ok(match Members::deserialize(d)? {
        Members::Count(n) => vec![GenderMember::default(); n],
        Members::List(v) => v,
    })
}

/// A face model ready to run: the main network and its gender-only members (see
/// [`FaceModelFile::gender_members`]).
#[derive(Debug, Clone)]
pub struct FaceModel {
    /// Emotion, embedding and (with the members) perceived gender.
    pub net: FaceNet,
    /// Networks whose gender probabilities are averaged with the main one's.
    pub gender_members: Vec<FaceNet>,
    /// Which crop of the face each member reads, as an index into
    /// [`FaceModelFile::crop_views`] (0: the main network's crop). Empty means all 0.
    pub member_views: Vec<usize>,
}

impl From<FaceNet> for FaceModel {
    fn from(net: FaceNet) -> Self {
        Self {
            net,
            gender_members: Vec::new(),
            member_views: Vec::new(),
        }
    }
}

impl FaceModel {
    /// How many crops of each face the model reads (1 unless a member has its own crop).
    pub fn views(&self) -> usize {
        1 + self.member_views.iter().copied().max().unwrap_or(0)
    }

    /// The crop view gender member `i` reads.
    pub fn member_view(&self, i: usize) -> usize {
        self.member_views.get(i).copied().unwrap_or(0)
    }
}

impl FaceModelFile {
    /// Saves `varmap` to `<stem>.safetensors` and this description to `<stem>.json`.
    pub fn save(&self, varmap: &VarMap, stem: &Path) -> Result<()> {
        super::save_model(self, varmap, stem)
    }

    /// The architecture of gender member `i`.
    pub fn member_model(&self, i: usize) -> &FaceConfig {
        self.gender_members
            .get(i)
            .and_then(|m| m.model.as_ref())
            .unwrap_or(&self.model)
    }

    /// The crop gender member `i` reads.
    pub fn member_crop(&self, i: usize) -> &CropConfig {
        self.gender_members
            .get(i)
            .and_then(|m| m.crop.as_ref())
            .unwrap_or(&self.crop)
    }

    /// The distinct crops the model reads of each face: the main network's first, then each
    /// member's own in order of first use. Crop a face once per entry (the same detection).
    pub fn crop_views(&self) -> Vec<CropConfig> {
        let mut views = vec![self.crop.clone()];
        for i in 0..self.gender_members.len() {
            let c = self.member_crop(i);
            if !views.contains(c) {
                views.push(c.clone());
            }
        }
        views
    }

    /// For each gender member, its index into [`crop_views`](Self::crop_views).
    pub fn member_views(&self) -> Vec<usize> {
        let views = self.crop_views();
        (0..self.gender_members.len())
            .map(|i| {
                let c = self.member_crop(i);
                views.iter().position(|v| v == c).expect("listed above")
            })
            .collect()
    }

    /// Saves the main network's weights with `members`' under `gender_member{i}.` prefixes
    /// into one file; `gender_members` must have one entry per weight set, and every member's
    /// weights must fit its architecture ([`member_model`](Self::member_model)).
    pub fn save_with_gender_members(
        &self,
        main: &VarMap,
        members: &[VarMap],
        stem: &Path,
    ) -> Result<()> {
        if self.gender_members.len() != members.len() {
            return Err(Error::InvalidConfig(format!(
                "the file says {} gender members but {} weight sets were given",
                self.gender_members.len(),
                members.len()
            )));
        }
        self.check_members()?;
        for (i, vm) in members.iter().enumerate() {
            // The shapes this member's architecture has, from a scratch network.
            let want = VarMap::new();
            FaceNet::new(
                self.member_model(i),
                VarBuilder::from_varmap(&want, candle_core::DType::F32, &Device::Cpu),
            )?;
            let want = want.data().lock().expect("varmap lock");
            let vm = vm.data().lock().expect("varmap lock");
            let same = vm.len() == want.len()
                && want
                    .iter()
                    .all(|(k, v)| vm.get(k).is_some_and(|w| w.shape() == v.shape()));
            if !same {
                return Err(Error::InvalidConfig(format!(
                    "gender member {i}'s weights do not fit its architecture"
                )));
            }
        }
        let merged = super::merge_prefixed(
            std::iter::once((String::new(), main)).chain(
                members
                    .iter()
                    .enumerate()
                    .map(|(i, vm)| (format!("gender_member{i}"), vm)),
            ),
        );
        super::save_model(self, &merged, stem)
    }

    /// Loads `<stem>.json` and `<stem>.safetensors` into the main network (without any gender
    /// members: [`load_model`](Self::load_model) loads those too).
    pub fn load(stem: &Path, device: &Device) -> Result<(Self, FaceNet)> {
        let (file, vb) = Self::read(stem, device)?;
        let net = FaceNet::new(&file.model, vb)?;
        Ok((file, net))
    }

    /// Loads `<stem>.json` and `<stem>.safetensors` into the main network and its gender
    /// members: what the analyser runs.
    pub fn load_model(stem: &Path, device: &Device) -> Result<(Self, FaceModel)> {
        let (file, vb) = Self::read(stem, device)?;
        let net = FaceNet::new(&file.model, vb.clone())?;
        let gender_members = (0..file.gender_members.len())
            .map(|i| FaceNet::new(file.member_model(i), vb.pp(format!("gender_member{i}"))))
            .collect::<Result<_>>()?;
        let member_views = file.member_views();
        Ok((
            file,
            FaceModel {
                net,
                gender_members,
                member_views,
            },
        ))
    }

    /// Every network's crop colour must match its input channels.
    fn check_members(&self) -> Result<()> {
        let nets = std::iter::once((None, &self.model, &self.crop)).chain(
            (0..self.gender_members.len())
                .map(|i| (Some(i), self.member_model(i), self.member_crop(i))),
        );
        for (i, model, crop) in nets {
            crop.validate()?;
            if crop.color.channels() != model.in_channels {
                let which = i.map_or("the main network".to_string(), |i| {
                    format!("gender member {i}")
                });
                return Err(Error::InvalidConfig(format!(
                    "{which}: crop colour {:?} does not match {} input channels",
                    crop.color, model.in_channels
                )));
            }
        }
        Ok(())
    }

    fn read(stem: &Path, device: &Device) -> Result<(Self, VarBuilder<'static>)> {
        let (file, vb): (Self, _) = super::load_model(stem, device)?;
        file.check_members().map_err(|e| match e {
            Error::InvalidConfig(m) => Error::InvalidConfig(format!("{}: {m}", stem.display())),
            other => other,
        })?;
        Ok((file, vb))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn shapes_names_round_trip_and_bad_input() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let cfg = FaceConfig::tiny();
        let net = FaceNet::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev)).unwrap();
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
            "emotion_head.weight",
        ] {
            assert!(names.contains(&n.to_string()), "{n} in {names:?}");
        }

        let dir = std::env::temp_dir().join(format!("facevox-face-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("face");
        let file = FaceModelFile {
            format: 1,
            tta_flip: false,
            model: cfg.clone(),
            crop: CropConfig::gray(16),
            emotions: FACE_EMOTIONS.to_vec(),
            gender_members: Vec::new(),
            provenance: serde_json::json!({"test": true}),
        };
        file.save(&varmap, &stem).unwrap();
        let (loaded, net2) = FaceModelFile::load(&stem, &dev).unwrap();
        assert_eq!(loaded, file);
        let x = Tensor::randn(0f32, 1., (2, 1, 16, 16), &dev).unwrap();
        let a = net.forward_t(&x, false).unwrap().emotion_logits;
        let b = net2.forward_t(&x, false).unwrap().emotion_logits;
        assert_eq!(a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
        // A crop config that disagrees with the network is refused.
        let mismatched = FaceModelFile {
            crop: CropConfig::rgb(16),
            ..file
        };
        mismatched.save(&varmap, &stem).unwrap();
        assert!(FaceModelFile::load(&stem, &dev).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gender_members_round_trip() {
        let dev = Device::Cpu;
        let cfg = FaceConfig::tiny();
        let build = |seed: u64| {
            let vm = VarMap::new();
            let net = FaceNet::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
            crate::model::init_weights(&vm, seed).unwrap();
            (vm, net)
        };
        let (main_vm, main) = build(1);
        let members: Vec<_> = [2u64, 3].into_iter().map(build).collect();
        let dir = std::env::temp_dir().join(format!("facevox-face-gm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("face");
        let mut file = FaceModelFile {
            format: 1,
            tta_flip: false,
            model: cfg.clone(),
            crop: CropConfig::gray(16),
            emotions: FACE_EMOTIONS.to_vec(),
            gender_members: vec![GenderMember::default(); 2],
            provenance: serde_json::Value::Null,
        };
        let vms: Vec<VarMap> = members.iter().map(|(vm, _)| vm.clone()).collect();
        // The count must match, and a member must have the main network's shapes.
        assert!(file
            .save_with_gender_members(&main_vm, &vms[..1], &stem)
            .is_err());
        let other = VarMap::new();
        let wide = FaceConfig {
            stages: vec![4, 16],
            ..cfg.clone()
        };
        FaceNet::new(&wide, VarBuilder::from_varmap(&other, DType::F32, &dev)).unwrap();
        assert!(file
            .save_with_gender_members(&main_vm, &[vms[0].clone(), other], &stem)
            .is_err());
        file.save_with_gender_members(&main_vm, &vms, &stem)
            .unwrap();
        let (loaded, model) = FaceModelFile::load_model(&stem, &dev).unwrap();
        assert_eq!(loaded, file);
        assert_eq!(model.gender_members.len(), 2);
        let x = Tensor::randn(0f32, 1., (2, 1, 16, 16), &dev).unwrap();
        let logits = |n: &FaceNet| {
            n.forward_t(&x, false)
                .unwrap()
                .gender_logits
                .to_vec2::<f32>()
                .unwrap()
        };
        assert_eq!(logits(&model.net), logits(&main));
        for (got, (_, want)) in model.gender_members.iter().zip(&members) {
            assert_eq!(logits(got), logits(want));
        }
        assert_ne!(logits(&model.gender_members[0]), logits(&main));
        // Plain `load` still gives the main network.
        assert_eq!(
            logits(&FaceModelFile::load(&stem, &dev).unwrap().1),
            logits(&main)
        );
        file.gender_members.clear();
        file.save(&main_vm, &stem).unwrap();
        assert!(FaceModelFile::load_model(&stem, &dev)
            .unwrap()
            .1
            .gender_members
            .is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gender_members_with_their_own_architecture_and_crop() {
        let dev = Device::Cpu;
        let cfg = FaceConfig::tiny();
        let rgb = FaceConfig {
            in_channels: 3,
            stages: vec![4, 8],
            ..cfg.clone()
        };
        let build = |c: &FaceConfig, seed: u64| {
            let vm = VarMap::new();
            FaceNet::new(c, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
            crate::model::init_weights(&vm, seed).unwrap();
            vm
        };
        let (main_vm, same_vm, rgb_vm) = (build(&cfg, 1), build(&cfg, 2), build(&rgb, 3));
        let dir = std::env::temp_dir().join(format!("facevox-face-gmv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("face");
        let own = GenderMember {
            model: Some(rgb.clone()),
            crop: Some(CropConfig::rgb(20)),
        };
        let file = FaceModelFile {
            format: 1,
            tta_flip: true,
            model: cfg.clone(),
            crop: CropConfig::gray(16),
            emotions: FACE_EMOTIONS.to_vec(),
            gender_members: vec![own.clone(), GenderMember::default(), own.clone()],
            provenance: serde_json::Value::Null,
        };
        assert_eq!(
            file.crop_views(),
            vec![CropConfig::gray(16), CropConfig::rgb(20)]
        );
        assert_eq!(file.member_views(), vec![1, 0, 1]);
        let vms = [rgb_vm.clone(), same_vm.clone(), rgb_vm.clone()];
        // Weights that do not fit a member's own architecture are refused.
        let swapped = [same_vm.clone(), same_vm.clone(), rgb_vm.clone()];
        assert!(file
            .save_with_gender_members(&main_vm, &swapped, &stem)
            .is_err());
        file.save_with_gender_members(&main_vm, &vms, &stem)
            .unwrap();
        let (loaded, model) = FaceModelFile::load_model(&stem, &dev).unwrap();
        assert_eq!(loaded, file);
        assert_eq!(model.member_views, vec![1, 0, 1]);
        assert_eq!(model.views(), 2);
        let x = Tensor::randn(0f32, 1., (2, 3, 20, 20), &dev).unwrap();
        assert_eq!(
            model.gender_members[0]
                .forward_t(&x, false)
                .unwrap()
                .gender_logits
                .dims(),
            &[2, 2]
        );
        // A member whose crop colour disagrees with its input channels is refused on save
        // and on load.
        let mut bad = file.clone();
        bad.gender_members[0].crop = Some(CropConfig::gray(20));
        assert!(bad.save_with_gender_members(&main_vm, &vms, &stem).is_err());
        let json = serde_json::to_string(&bad).unwrap();
        std::fs::write(stem.with_extension("json"), json).unwrap();
        assert!(FaceModelFile::load_model(&stem, &dev).is_err());
        // The earlier form, a bare count, reads as members like the main network.
        let mut v = serde_json::to_value(&file).unwrap();
        v["gender_members"] = serde_json::json!(2);
        let old: FaceModelFile = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(old.gender_members, vec![GenderMember::default(); 2]);
        assert_eq!(old.member_views(), vec![0, 0]);
        v.as_object_mut().unwrap().remove("gender_members");
        let older: FaceModelFile = serde_json::from_value(v).unwrap();
        assert!(older.gender_members.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
