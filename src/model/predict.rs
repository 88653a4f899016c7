//! Prediction: one predictor per branch, the only place probabilities are computed and averaged.
//!
//! A [`FacePredictor`] or [`VoicePredictor`] holds a model file's member networks and its
//! [`TestTimeViews`]. Each member scores every view of a batch; its probabilities are averaged
//! over the views, then over the members that give each task (see [`MemberRole`]), each sum
//! taken in order and scaled once. The
//! embedding is the first member's on the plain view. The analyzers, training's validation and
//! the evaluation tools all predict through these two types.

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::head::BranchOutput;
use super::spec::{apply_temperature, Calibration, MemberRole, PriorCorrection, TestTimeViews};
use super::{FaceModelFile, FaceNet, VoiceModelFile, VoiceNet};
use crate::audio::transform::{freq_warp, time_stretch};
use crate::audio::LogMel;
use crate::vision::{normalize_face, CropConfig, FaceCrop, RgbImage};
use crate::{Emotion, Error, Result};

/// Probabilities for one input (a face or a clip).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// `[P(male), P(female)]`.
    pub gender: [f32; 2],
    /// Emotion probabilities in head order.
    pub emotion: Vec<f32>,
    /// The embedding.
    pub embedding: Vec<f32>,
}

/// One network's probabilities on a batch.
#[derive(Debug, Clone)]
struct Probs {
    gender: Vec<[f32; 2]>,
    emotion: Vec<Vec<f32>>,
}

impl Probs {
    fn from_output(o: &BranchOutput) -> Result<Self> {
        let g = candle_nn::ops::softmax_last_dim(&o.gender_logits)?.to_vec2::<f32>()?;
        let e = candle_nn::ops::softmax_last_dim(&o.emotion_logits)?.to_vec2::<f32>()?;
        Ok(Self {
            gender: g.into_iter().map(|g| [g[0], g[1]]).collect(),
            emotion: e,
        })
    }

    fn add(&mut self, other: &Probs) {
        for (a, b) in self.gender.iter_mut().zip(&other.gender) {
            a[0] += b[0];
            a[1] += b[1];
        }
        for (a, b) in self.emotion.iter_mut().zip(&other.emotion) {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
    }

    fn scale(&mut self, s: f32) {
        for g in &mut self.gender {
            g.iter_mut().for_each(|v| *v *= s);
        }
        for e in &mut self.emotion {
            e.iter_mut().for_each(|v| *v *= s);
        }
    }
}

/// The mean of `parts`: summed in order, scaled once by `1/n`.
fn mean(parts: impl IntoIterator<Item = Probs>) -> Option<Probs> {
    let mut it = parts.into_iter();
    let mut acc = it.next()?;
    let mut n = 1usize;
    for p in it {
        acc.add(&p);
        n += 1;
    }
    acc.scale(1.0 / n as f32);
    Some(acc)
}

/// Every member's view-averaged probabilities (in member order) and the first member's
/// embedding, combined by role, the emotion prior-corrected when `prior` is given, then
/// temperature-scaled by `calibration`.
fn combine(
    members: Vec<(MemberRole, Probs)>,
    embedding: Vec<Vec<f32>>,
    calibration: &Calibration,
    prior: Option<&PriorCorrection>,
) -> Vec<Prediction> {
    let emotion = mean(
        members
            .iter()
            .filter(|(r, _)| r.gives_emotion())
            .map(|(_, p)| p.clone()),
    )
    .expect("the first member gives emotion")
    .emotion;
    let gender = mean(
        members
            .into_iter()
            .filter(|(r, _)| r.gives_gender())
            .map(|(_, p)| p),
    )
    .expect("a member gives gender")
    .gender;
    gender
        .into_iter()
        .zip(emotion)
        .zip(embedding)
        .map(|((mut gender, mut emotion), embedding)| {
            if let Some(c) = prior {
                c.apply(&mut emotion);
            }
            apply_temperature(&mut gender, calibration.gender);
            apply_temperature(&mut emotion, calibration.emotion);
            Prediction {
                gender,
                emotion,
                embedding,
            }
        })
        .collect()
}

/// The face branch ready to predict: a face model file's networks, the crops they read and its
/// test-time views.
#[derive(Debug, Clone)]
pub struct FacePredictor {
    /// Each member's role, network and index into `crops`.
    members: Vec<(MemberRole, FaceNet, usize)>,
    crops: Vec<CropConfig>,
    tta: TestTimeViews,
    calibration: Calibration,
    prior_correction: Option<PriorCorrection>,
    emotions: Vec<Emotion>,
}

impl FacePredictor {
    /// Builds every member of `file` from `vb` (the file's weights).
    pub fn new(file: &FaceModelFile, vb: &VarBuilder) -> Result<Self> {
        file.check()?;
        let views = file.member_views();
        let members = file
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let vb = if m.weights.is_empty() {
                    vb.clone()
                } else {
                    vb.pp(&m.weights)
                };
                Ok((m.role, FaceNet::new(file.member_model(i), vb)?, views[i]))
            })
            .collect::<Result<_>>()
            .map_err(super::missing_tensor)?;
        Ok(Self {
            members,
            crops: file.crop_views(),
            tta: file.tta.clone(),
            calibration: file.calibration,
            prior_correction: file.emotion_prior_correction.clone(),
            emotions: file.emotions.clone(),
        })
    }

    /// One network reading `crop`, scored with `tta` (a plain view or with the mirror).
    pub fn single(net: FaceNet, crop: CropConfig, tta: TestTimeViews) -> Self {
        let n_emotions = net.config().n_emotions;
        Self {
            members: vec![(MemberRole::Full, net, 0)],
            crops: vec![crop],
            tta,
            calibration: Calibration::NONE,
            prior_correction: None,
            emotions: crate::labels::FACE_EMOTIONS
                .iter()
                .copied()
                .take(n_emotions)
                .collect(),
        }
    }

    /// The crops to take of each face, in this order (one per entry; the same detection).
    pub fn crops(&self) -> &[CropConfig] {
        &self.crops
    }

    /// The emotions of the emotion head, in order.
    pub fn emotions(&self) -> &[Emotion] {
        &self.emotions
    }

    /// The temperature scaling applied to the averaged probabilities.
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// The same networks with another temperature scaling ([`Calibration::NONE`]: raw).
    pub fn with_calibration(mut self, calibration: Calibration) -> Result<Self> {
        calibration.validate()?;
        self.calibration = calibration;
        Ok(self)
    }

    /// The emotion head's logit adjustment, if any.
    pub fn prior_correction(&self) -> Option<&PriorCorrection> {
        self.prior_correction.as_ref()
    }

    /// The same networks with another logit adjustment of the emotion head (`None`: off).
    pub fn with_prior_correction(mut self, correction: Option<PriorCorrection>) -> Result<Self> {
        if let Some(c) = &correction {
            c.validate(self.emotions.len())?;
        }
        self.prior_correction = correction;
        Ok(self)
    }

    /// The test-time views.
    pub fn tta(&self) -> &TestTimeViews {
        &self.tta
    }

    /// The same networks with other test-time views.
    pub fn with_tta(mut self, tta: TestTimeViews) -> Result<Self> {
        tta.validate_for_faces()?;
        self.tta = tta;
        Ok(self)
    }

    /// The same networks, scored with or without the mirror image.
    pub fn with_mirror(mut self, mirror: bool) -> Self {
        self.tta.mirror = mirror;
        self
    }

    /// The member networks in file order.
    pub fn nets(&self) -> impl Iterator<Item = &FaceNet> {
        self.members.iter().map(|m| &m.1)
    }

    /// Scores already normalised crops (as the vision front end's [`FaceCrop`]s come):
    /// `views[v][i]` is face `i` cropped with [`crops`](Self::crops)`[v]`, in batches of
    /// `batch` faces.
    pub fn predict_crops(&self, views: &[Vec<&FaceCrop>], batch: usize) -> Result<Vec<Prediction>> {
        self.predict_batched(views, batch, |_, faces| crops_tensor(faces))
    }

    /// Scores face pictures (un-normalised, any size: each view's crop config resizes and
    /// normalises them), `views[v][i]` being face `i` for crop `v`.
    pub fn predict_images(
        &self,
        views: &[Vec<&RgbImage>],
        batch: usize,
    ) -> Result<Vec<Prediction>> {
        self.predict_batched(views, batch, |v, faces| stack_images(faces, &self.crops[v]))
    }

    fn predict_batched<T>(
        &self,
        views: &[Vec<T>],
        batch: usize,
        input: impl Fn(usize, &[T]) -> Result<Tensor>,
    ) -> Result<Vec<Prediction>> {
        if views.len() != self.crops.len() {
            return Err(Error::InvalidConfig(format!(
                "the face model reads {} crops of each face but {} were given",
                self.crops.len(),
                views.len()
            )));
        }
        let n = views[0].len();
        if views.iter().any(|v| v.len() != n) {
            return Err(Error::InvalidConfig(
                "every crop view must list the same faces".into(),
            ));
        }
        let batch = batch.max(1);
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(batch) {
            let end = (start + batch).min(n);
            let xs = (0..views.len())
                .map(|v| input(v, &views[v][start..end]))
                .collect::<Result<Vec<_>>>()?;
            out.extend(self.predict_tensors(&xs)?);
        }
        Ok(out)
    }

    /// Scores one batch; `xs[v]` is the batch cropped for view `v`.
    fn predict_tensors(&self, xs: &[Tensor]) -> Result<Vec<Prediction>> {
        let mirrored = xs
            .iter()
            .map(|x| self.tta.mirror.then(|| mirror_width(x)).transpose())
            .collect::<Result<Vec<_>>>()?;
        let mut embedding = Vec::new();
        let mut members = Vec::with_capacity(self.members.len());
        for (i, (role, net, v)) in self.members.iter().enumerate() {
            let o = net.forward_t(&xs[*v], false)?;
            let mut views = vec![Probs::from_output(&o)?];
            if let Some(m) = &mirrored[*v] {
                views.push(Probs::from_output(&net.forward_t(m, false)?)?);
            }
            if i == 0 {
                embedding = o.embedding.to_vec2::<f32>()?;
            }
            members.push((*role, mean(views).expect("one view")));
        }
        Ok(combine(
            members,
            embedding,
            &self.calibration,
            self.prior_correction.as_ref(),
        ))
    }
}

/// Un-normalised face pictures as one normalised `(B, C, S, S)` tensor.
pub(crate) fn stack_images(images: &[&RgbImage], crop: &CropConfig) -> Result<Tensor> {
    let s = crop.size as usize;
    let c = crop.color.channels();
    let crops: Vec<Vec<f32>> = images
        .par_iter()
        .map(|img| normalize_face(img, crop).map(|f| f.data))
        .collect::<Result<_>>()?;
    Ok(Tensor::from_vec(
        crops.concat(),
        (images.len(), c, s, s),
        &Device::Cpu,
    )?)
}

/// Normalised crops of one shape as a `(B, C, H, W)` tensor.
fn crops_tensor(chunk: &[&FaceCrop]) -> Result<Tensor> {
    let shape = chunk[0].shape();
    if chunk.iter().any(|c| c.shape() != shape) {
        return Err(Error::InvalidConfig(
            "face crops of one batch must share a shape".into(),
        ));
    }
    let mut data = Vec::with_capacity(chunk.len() * shape.iter().product::<usize>());
    for c in chunk {
        if c.data.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite);
        }
        data.extend_from_slice(&c.data);
    }
    Ok(Tensor::from_vec(
        data,
        (chunk.len(), shape[0], shape[1], shape[2]),
        &Device::Cpu,
    )?)
}

/// `x` `(B, C, H, W)` mirrored along W.
pub(crate) fn mirror_width(x: &Tensor) -> Result<Tensor> {
    let w = x.dim(3)?;
    let idx = Tensor::from_vec((0..w as u32).rev().collect::<Vec<_>>(), w, x.device())?;
    Ok(x.index_select(&idx, 3)?)
}

/// The voice branch ready to predict: a voice model file's networks and its test-time views.
#[derive(Debug, Clone)]
pub struct VoicePredictor {
    nets: Vec<VoiceNet>,
    /// Each net's role, in the same order.
    roles: Vec<MemberRole>,
    tta: TestTimeViews,
    calibration: Calibration,
}

impl VoicePredictor {
    /// Builds every member of `file` from `vb` (the file's weights).
    pub fn new(file: &VoiceModelFile, vb: &VarBuilder) -> Result<Self> {
        file.check()?;
        let nets = file
            .members
            .iter()
            .map(|m| {
                let vb = if m.weights.is_empty() {
                    vb.clone()
                } else {
                    vb.pp(&m.weights)
                };
                VoiceNet::new(&file.model, vb)
            })
            .collect::<Result<_>>()
            .map_err(super::missing_tensor)?;
        Ok(Self {
            nets,
            roles: file.members.iter().map(|m| m.role).collect(),
            tta: file.tta.clone(),
            calibration: file.calibration,
        })
    }

    /// Networks whose probabilities are averaged (each a full member), scored with `tta`.
    pub fn from_nets(nets: Vec<VoiceNet>, tta: TestTimeViews) -> Result<Self> {
        if nets.is_empty() {
            return Err(Error::InvalidConfig("no networks to predict with".into()));
        }
        tta.validate_for_voices()?;
        Ok(Self {
            roles: vec![MemberRole::Full; nets.len()],
            nets,
            tta,
            calibration: Calibration::NONE,
        })
    }

    /// One network, one plain view.
    pub fn single(net: VoiceNet) -> Self {
        Self {
            nets: vec![net],
            roles: vec![MemberRole::Full],
            tta: TestTimeViews::none(),
            calibration: Calibration::NONE,
        }
    }

    /// The same networks with other test-time views.
    pub fn with_tta(mut self, tta: TestTimeViews) -> Result<Self> {
        tta.validate_for_voices()?;
        self.tta = tta;
        Ok(self)
    }

    /// The member networks.
    pub fn nets(&self) -> &[VoiceNet] {
        &self.nets
    }

    /// Each member network's role, in the order of [`nets`](Self::nets).
    pub fn roles(&self) -> &[MemberRole] {
        &self.roles
    }

    /// The temperature scaling applied to the averaged probabilities.
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// The same networks with another temperature scaling ([`Calibration::NONE`]: raw).
    pub fn with_calibration(mut self, calibration: Calibration) -> Result<Self> {
        calibration.validate()?;
        self.calibration = calibration;
        Ok(self)
    }

    /// The test-time views.
    pub fn tta(&self) -> &TestTimeViews {
        &self.tta
    }

    /// Scores un-normalised log-mels, each whole clip as a batch of one (so no clip is cut or
    /// padded), after the model's [`InputNorm`](super::InputNorm).
    pub fn predict(&self, mels: &[&LogMel]) -> Result<Vec<Prediction>> {
        if mels.is_empty() {
            return Ok(Vec::new());
        }
        let views = self.tta.tempo_warp_views();
        let embed_view = views
            .iter()
            .position(|&v| v == (1.0, 1.0))
            .unwrap_or_default();
        let viewed: Vec<Vec<LogMel>> = if self.tta.is_plain() {
            Vec::new()
        } else {
            views
                .iter()
                .map(|&(rate, alpha)| {
                    mels.iter()
                        .map(|m| {
                            let mut v = time_stretch(m, rate);
                            freq_warp(&mut v, alpha);
                            v
                        })
                        .collect()
                })
                .collect()
        };
        let mut embedding = Vec::new();
        let mut members = Vec::with_capacity(self.nets.len());
        for (i, net) in self.nets.iter().enumerate() {
            let mut per_view = Vec::with_capacity(views.len());
            for vi in 0..views.len() {
                let refs: Vec<&LogMel> = if viewed.is_empty() {
                    mels.to_vec()
                } else {
                    viewed[vi].iter().collect()
                };
                let (probs, emb) = score_clips(net, &refs)?;
                if i == 0 && vi == embed_view {
                    embedding = emb;
                }
                per_view.push(probs);
            }
            members.push((self.roles[i], mean(per_view).expect("one view")));
        }
        Ok(combine(members, embedding, &self.calibration, None))
    }
}

/// One network's probabilities and embeddings on whole clips, one at a time.
fn score_clips(net: &VoiceNet, mels: &[&LogMel]) -> Result<(Probs, Vec<Vec<f32>>)> {
    let mut probs = Probs {
        gender: Vec::with_capacity(mels.len()),
        emotion: Vec::with_capacity(mels.len()),
    };
    let mut embeddings = Vec::with_capacity(mels.len());
    for mel in mels {
        let mut m = (*mel).clone();
        net.config().input_norm.apply(&mut m);
        if m.n_frames == 0 || m.n_mels != net.config().n_mels {
            return Err(Error::InvalidConfig(format!(
                "log-mel of {}x{} does not fit a model with {} bands",
                m.n_mels,
                m.n_frames,
                net.config().n_mels
            )));
        }
        if m.data.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite);
        }
        let x = Tensor::from_vec(m.data, (1, m.n_mels, m.n_frames), &Device::Cpu)?;
        let out = net.forward_t(&x, false)?;
        let p = Probs::from_output(&out)?;
        probs.gender.extend(p.gender);
        probs.emotion.extend(p.emotion);
        embeddings.push(out.embedding.to_vec2::<f32>()?.remove(0));
    }
    Ok((probs, embeddings))
}

impl FacePredictor {
    /// Loads `<stem>.json` and `<stem>.safetensors` (memory-mapped).
    pub fn load(stem: &std::path::Path) -> Result<(FaceModelFile, Self)> {
        let file = FaceModelFile::read(stem)?;
        let vb = super::weights_from_path(&stem.with_extension("safetensors"))?;
        let predictor = Self::new(&file, &vb).map_err(|e| super::in_file(e, stem))?;
        Ok((file, predictor))
    }

    /// Loads a model from its JSON description and safetensors weights in memory.
    pub fn from_bytes(json: &[u8], weights: &[u8]) -> Result<(FaceModelFile, Self)> {
        let file = FaceModelFile::from_json(super::utf8(json)?)?;
        let predictor = Self::new(&file, &super::weights_from_bytes(weights)?)?;
        Ok((file, predictor))
    }
}

impl VoicePredictor {
    /// Loads `<stem>.json` and `<stem>.safetensors` (memory-mapped).
    pub fn load(stem: &std::path::Path) -> Result<(VoiceModelFile, Self)> {
        let file = VoiceModelFile::read(stem)?;
        let vb = super::weights_from_path(&stem.with_extension("safetensors"))?;
        let predictor = Self::new(&file, &vb).map_err(|e| super::in_file(e, stem))?;
        Ok((file, predictor))
    }

    /// Loads a model from its JSON description and safetensors weights in memory.
    pub fn from_bytes(json: &[u8], weights: &[u8]) -> Result<(VoiceModelFile, Self)> {
        let file = VoiceModelFile::from_json(super::utf8(json)?)?;
        let predictor = Self::new(&file, &super::weights_from_bytes(weights)?)?;
        Ok((file, predictor))
    }
}
