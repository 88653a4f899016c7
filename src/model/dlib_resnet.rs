//! A candle port of dlib's ResNet face descriptor network (`dlib_face_recognition_resnet_model_v1`:
//! Davis King's 29-convolution ResNet trained with a metric loss on about 3 million faces;
//! public domain), the pretrained backbone the face issue asks to measure before trusting.
//! Inference, and training of its upper blocks on features of its frozen lower part
//! ([`DlibResNet::lower`], [`DlibUpper`]); not part of the shipped analyser (see the model
//! card, "Its intermediate features, probed" and "Its upper levels, fine-tuned").
//!
//! # The network
//!
//! Input: a 150 px RGB face chip, each value `(pixel - channel mean) / 256` (dlib's
//! `input_rgb_image_sized<150>`). Then:
//!
//! - a 7x7 stride-2 convolution to 32 channels (no padding), an affine (dlib's batch norm,
//!   folded), ReLU, and a 3x3 stride-2 max-pool (no padding): 150 → 72 → 35 px;
//! - 14 residual blocks: 3 at 32 channels; a down block and 3 at 64; a down block and 2 at 128;
//!   a down block and 2 at 256; a last down block at 256. A block is `conv 3x3 → affine → ReLU
//!   → conv 3x3 → affine`, added to its input, then ReLU. A down block's first convolution has
//!   stride 2 and no padding, and its shortcut is a 2x2 stride-2 average pool of the input;
//!   where the two differ in size, the smaller is zero-padded (more channels, or rows and
//!   columns at the bottom and right: 256@3x3 + 128@4x4 → 256@4x4 in the 256 down block), as
//!   dlib's `add_prev` does. 35 → 17 → 8 → 4 → 2 px;
//! - global average pooling (256) and a 128x256 linear map without bias: the descriptor.
//!
//! Channel widths are read from the weights, so the same code runs narrower twins (the tests
//! use one). Weights: `tools/convert_dlib_resnet.py` writes dlib's file as safetensors,
//! `conv{i}.weight` `(out, in, k, k)`, `conv{i}.bias`, `affine{i}.gamma`, `affine{i}.beta`
//! (i = 0..29, input side first), `fc.weight` `(256, 128)` (inputs by outputs, dlib's
//! layout) and `input.mean` (3).
//!
//! `tests/dlib_resnet.rs` checks the port against a numpy reference on a narrow twin with
//! random weights (always) and against dlib's own descriptors of 20 real faces (when the
//! converted weights and the data are at hand: cosine at least 0.999).

use std::path::Path;

use candle_core::{Device, Tensor, Var, D};

use super::conv::{conv2d, ConvGeometry};
use crate::vision::RgbImage;
use crate::{Error, Result};

/// The input side of a chip, in pixels.
pub const CHIP_SIZE: u32 = 150;

/// The smallest input side every stride-2 layer can take (a 3x3 map before each down block).
pub const MIN_INPUT: usize = 103;

/// Whether each of the 14 residual blocks is a down block (stride 2, pooled shortcut).
const DOWN: [bool; 14] = [
    false, false, false, true, false, false, false, true, false, false, true, false, false, true,
];

#[derive(Debug, Clone)]
struct ConvAffine {
    weight: Tensor,
    bias: Tensor,
    gamma: Tensor,
    beta: Tensor,
    stride: usize,
    padding: usize,
}

impl ConvAffine {
    fn forward(&self, x: &Tensor, relu: bool) -> candle_core::Result<Tensor> {
        let (_, _, k, _) = self.weight.dims4()?;
        let geo = ConvGeometry {
            kernel: (k, k),
            padding: (self.padding, self.padding),
            dilation: (1, 1),
            stride: (self.stride, self.stride),
        };
        let c = self.bias.dim(0)?;
        let y = conv2d(x, &self.weight, geo)?
            .broadcast_add(&self.bias.reshape((1, c, 1, 1))?)?
            .broadcast_mul(&self.gamma.reshape((1, c, 1, 1))?)?
            .broadcast_add(&self.beta.reshape((1, c, 1, 1))?)?;
        if relu {
            y.relu()
        } else {
            Ok(y)
        }
    }
}

/// dlib's ResNet face network (see the module documentation).
#[derive(Debug, Clone)]
pub struct DlibResNet {
    stem: ConvAffine,
    blocks: Vec<(ConvAffine, ConvAffine)>,
    fc: Tensor,
    mean: [f32; 3],
}

/// What the network gives for a batch of chips.
#[derive(Debug, Clone)]
pub struct DlibResNetOutput {
    /// `(B, 128)`: the face descriptor.
    pub descriptor: Tensor,
    /// `(B, C)`: the last block's output averaged over space (what the descriptor maps).
    pub pooled: Tensor,
    /// Each residual block's output after its ReLU, input side first (14 tensors).
    pub blocks: Vec<Tensor>,
}

/// Residual blocks of a [`DlibResNet`] as trainable variables
/// ([`DlibResNet::upper_trainable`]); their forward pass has gradients (the shortcut's
/// average pooling is written as a reshape and mean, whose gradient candle knows).
#[derive(Debug)]
pub struct DlibUpper {
    blocks: Vec<(ConvAffine, ConvAffine, bool)>,
    vars: Vec<Var>,
}

impl DlibUpper {
    /// The trainable variables.
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// `h` (the lower part's output) through the blocks, averaged over space: `(B, C)`.
    pub fn forward(&self, h: &Tensor) -> Result<Tensor> {
        let run = || -> candle_core::Result<Tensor> {
            let mut h = h.clone();
            for (first, second, down) in &self.blocks {
                let y = second.forward(&first.forward(&h, true)?, false)?;
                let shortcut = if *down {
                    // 2x2 stride-2 average pooling without padding: an odd last row or
                    // column is left out, as dlib's pooling leaves it.
                    let (b, c, hh, ww) = h.dims4()?;
                    let (ho, wo) = (hh / 2, ww / 2);
                    h.narrow(2, 0, 2 * ho)?
                        .narrow(3, 0, 2 * wo)?
                        .reshape((b, c, ho, 2, wo, 2))?
                        .mean(5)?
                        .mean(3)?
                } else {
                    h.clone()
                };
                h = add_padded(&y, &shortcut)?.relu()?;
            }
            h.mean(D::Minus1)?.mean(D::Minus1)
        };
        run().map_err(Error::from)
    }
}

/// `a + b` over the larger of their shapes, each zero-padded at the end of every axis.
fn add_padded(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (da, db) = (a.dims4()?, b.dims4()?);
    let target = [da.1.max(db.1), da.2.max(db.2), da.3.max(db.3)];
    let pad = |t: &Tensor, d: (usize, usize, usize, usize)| -> candle_core::Result<Tensor> {
        let mut t = t.clone();
        for (axis, (have, want)) in [
            (1, (d.1, target[0])),
            (2, (d.2, target[1])),
            (3, (d.3, target[2])),
        ] {
            if want > have {
                t = t.pad_with_zeros(axis, 0, want - have)?;
            }
        }
        Ok(t)
    };
    pad(a, da)? + pad(b, db)?
}

impl DlibResNet {
    /// Loads converted weights (`tools/convert_dlib_resnet.py`) from safetensors bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let tensors = super::weights::NamedTensors::parse(bytes, "dlib ResNet weights")?;
        let bad = |m: String| tensors.bad(m);
        let get = |name: &str| tensors.f32(name);
        let layer = |i: usize, stride: usize, padding: usize| -> Result<ConvAffine> {
            let weight = get(&format!("conv{i}.weight"))?;
            let (o, _, kh, kw) = weight
                .dims4()
                .map_err(|_| bad(format!("conv{i}.weight is not 4-D")))?;
            let l = ConvAffine {
                bias: get(&format!("conv{i}.bias"))?,
                gamma: get(&format!("affine{i}.gamma"))?,
                beta: get(&format!("affine{i}.beta"))?,
                weight,
                stride,
                padding,
            };
            if kh != kw || [&l.bias, &l.gamma, &l.beta].iter().any(|t| t.dims() != [o]) {
                return Err(bad(format!("layer {i}: inconsistent shapes")));
            }
            Ok(l)
        };
        let stem = layer(0, 2, 0)?;
        if stem.weight.dims()[1..] != [3, 7, 7] {
            return Err(bad(format!(
                "the first convolution is {:?}, not (C, 3, 7, 7)",
                stem.weight.dims()
            )));
        }
        let mut blocks = Vec::with_capacity(DOWN.len());
        let mut c_in = stem.weight.dims()[0];
        for (b, &down) in DOWN.iter().enumerate() {
            let first = layer(
                1 + 2 * b,
                if down { 2 } else { 1 },
                if down { 0 } else { 1 },
            )?;
            let second = layer(2 + 2 * b, 1, 1)?;
            let c = first.weight.dims()[0];
            if first.weight.dims()[1..] != [c_in, 3, 3] || second.weight.dims()[1..] != [c, 3, 3] {
                return Err(bad(format!("block {b}: unexpected convolution shapes")));
            }
            blocks.push((first, second));
            c_in = c;
        }
        if tensors.contains(&format!("conv{}.weight", 1 + 2 * DOWN.len())) {
            return Err(bad("more convolutions than the network has".into()));
        }
        let fc = get("fc.weight")?;
        if fc.dims().len() != 2 || fc.dims()[0] != c_in {
            return Err(bad(format!(
                "fc.weight is {:?}, expected ({c_in}, outputs)",
                fc.dims()
            )));
        }
        let mean: Vec<f32> = get("input.mean")?
            .to_vec1()
            .map_err(|_| bad("input.mean is not 1-D".into()))?;
        let mean: [f32; 3] = mean
            .try_into()
            .map_err(|_| bad("input.mean does not hold 3 values".into()))?;
        Ok(Self {
            stem,
            blocks,
            fc,
            mean,
        })
    }

    /// Loads converted weights from a file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes)
    }

    /// Size of the descriptor.
    pub fn descriptor_size(&self) -> usize {
        self.fc.dims()[1]
    }

    /// Chips (each resized to 150 px when it is not that size already, with the crate's
    /// Lanczos3 filter) as the network's input `(B, 3, 150, 150)`.
    pub fn input(&self, chips: &[RgbImage]) -> Result<Tensor> {
        let n = (CHIP_SIZE * CHIP_SIZE) as usize;
        let mut data = vec![0f32; chips.len() * 3 * n];
        for (b, chip) in chips.iter().enumerate() {
            if chip.width() == 0 || chip.height() == 0 {
                return Err(Error::ImageTooSmall {
                    width: chip.width(),
                    height: chip.height(),
                });
            }
            let resized;
            let chip = if chip.dimensions() == (CHIP_SIZE, CHIP_SIZE) {
                chip
            } else {
                resized = image::imageops::resize(
                    chip,
                    CHIP_SIZE,
                    CHIP_SIZE,
                    image::imageops::FilterType::Lanczos3,
                );
                &resized
            };
            let plane = &mut data[b * 3 * n..(b + 1) * 3 * n];
            for (i, p) in chip.pixels().enumerate() {
                for c in 0..3 {
                    plane[c * n + i] = (p.0[c] as f32 - self.mean[c]) / 256.0;
                }
            }
        }
        let size = CHIP_SIZE as usize;
        Ok(Tensor::from_vec(
            data,
            (chips.len(), 3, size, size),
            &Device::Cpu,
        )?)
    }

    /// Runs a batch `(B, 3, H, W)` of normalised chips (see [`input`](Self::input); the
    /// network is built for 150 px, and any size from [`MIN_INPUT`] up runs).
    pub fn forward(&self, x: &Tensor) -> Result<DlibResNetOutput> {
        let (_, c, h, w) = x.dims4()?;
        if c != 3 || h < MIN_INPUT || w < MIN_INPUT {
            return Err(Error::InvalidConfig(format!(
                "dlib ResNet input must be (B, 3, >={MIN_INPUT}, >={MIN_INPUT}), got {:?}",
                x.dims()
            )));
        }
        let run = || -> candle_core::Result<DlibResNetOutput> {
            let mut blocks = Vec::with_capacity(self.blocks.len());
            let h = self.run_blocks(x, self.blocks.len(), Some(&mut blocks))?;
            let pooled = h.mean(D::Minus1)?.mean(D::Minus1)?;
            let descriptor = pooled.matmul(&self.fc)?;
            Ok(DlibResNetOutput {
                descriptor,
                pooled,
                blocks,
            })
        };
        run().map_err(Error::from)
    }

    /// The stem and the first `blocks` residual blocks (inference): the frozen lower part of
    /// a network whose upper blocks are trained ([`upper_trainable`](Self::upper_trainable)).
    pub fn lower(&self, x: &Tensor, blocks: usize) -> Result<Tensor> {
        self.run_blocks(x, blocks, None).map_err(Error::from)
    }

    /// The stem, then the first `n` residual blocks, each block's output pushed to `keep`.
    fn run_blocks(
        &self,
        x: &Tensor,
        n: usize,
        mut keep: Option<&mut Vec<Tensor>>,
    ) -> candle_core::Result<Tensor> {
        let mut h = self
            .stem
            .forward(x, true)?
            .max_pool2d_with_stride((3, 3), (2, 2))?;
        for ((first, second), &down) in self.blocks.iter().zip(DOWN.iter()).take(n) {
            let y = second.forward(&first.forward(&h, true)?, false)?;
            let shortcut = if down {
                h.avg_pool2d_with_stride((2, 2), (2, 2))?
            } else {
                h.clone()
            };
            h = add_padded(&y, &shortcut)?.relu()?;
            if let Some(k) = keep.as_deref_mut() {
                k.push(h.clone());
            }
        }
        Ok(h)
    }

    /// Residual blocks `from..` as trainable variables (copies of this network's weights), for
    /// fine-tuning the upper part on features [`lower`](Self::lower) computed once.
    pub fn upper_trainable(&self, from: usize) -> Result<DlibUpper> {
        let var = |t: &Tensor| -> Result<Var> { Ok(Var::from_tensor(&t.copy()?)?) };
        let mut vars = Vec::new();
        let mut blocks = Vec::new();
        for ((first, second), &down) in self.blocks.iter().zip(DOWN.iter()).skip(from) {
            let mut pair = Vec::with_capacity(2);
            for l in [first, second] {
                let (w, b, g, be) = (
                    var(&l.weight)?,
                    var(&l.bias)?,
                    var(&l.gamma)?,
                    var(&l.beta)?,
                );
                pair.push(ConvAffine {
                    weight: w.as_tensor().clone(),
                    bias: b.as_tensor().clone(),
                    gamma: g.as_tensor().clone(),
                    beta: be.as_tensor().clone(),
                    stride: l.stride,
                    padding: l.padding,
                });
                vars.extend([w, b, g, be]);
            }
            let second = pair.pop().expect("two layers");
            let first = pair.pop().expect("two layers");
            blocks.push((first, second, down));
        }
        Ok(DlibUpper { blocks, vars })
    }

    /// The 128-d descriptors of face chips (aligned as dlib aligns them: FairFace's pictures
    /// are such chips), one row per chip.
    pub fn descriptors(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        if chips.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.forward(&self.input(chips)?)?;
        Ok(out.descriptor.to_vec2()?)
    }
}
