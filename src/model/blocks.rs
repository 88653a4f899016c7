//! Small building blocks shared by the networks.

use std::sync::{Arc, Mutex};

use candle_core::{Result, Tensor, D};
use candle_nn::{ModuleT, VarBuilder};

use super::norm::BatchNorm;

use crate::rng::SeededRng;

/// A 1-D convolution layer (stride 1, "same"-style zero padding, dilation, no bias) over
/// [`super::conv::conv1d`]: im2col + GEMM with a hand-written backward pass.
///
/// Why not `candle_nn::Conv1d`: in candle 0.11.1 the gradient of its kernel is wrong whenever
/// the batch holds more than one example (the forward pass is right; a finite-difference check
/// of `conv1d` with batch 2 is off by orders of magnitude, with batch 1 it is exact), which left
/// every convolution in the voice network training on noise. The tests here and in `conv.rs`
/// check this layer against the definition and finite differences.
#[derive(Debug, Clone)]
pub struct Conv1dIm2col {
    weight: Tensor,
    padding: usize,
    dilation: usize,
}

impl Conv1dIm2col {
    /// Weight `weight` of shape `(c_out, c_in, kernel)` (the layout of PyTorch and candle).
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        padding: usize,
        dilation: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let bound = 1.0 / ((c_in * kernel) as f64).sqrt();
        let weight = vb.get_with_hints(
            (c_out, c_in, kernel),
            "weight",
            candle_nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )?;
        Ok(Self {
            weight,
            padding,
            dilation,
        })
    }
}

impl candle_core::Module for Conv1dIm2col {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        super::conv::conv1d(x, &self.weight, self.padding, self.dilation)
    }
}

/// `conv1d → batch-norm → ReLU → optional max-pool over time`.
#[derive(Debug, Clone)]
pub struct ConvBlock1d {
    conv: Conv1dIm2col,
    norm: BatchNorm,
    pool: usize,
}

impl ConvBlock1d {
    /// A block from `c_in` to `c_out` channels with an odd `kernel` ("same" padding), `dilation`,
    /// and max-pooling by `pool` (1 = none). Weights: `conv.weight`, `norm.{weight,bias,running_*}`.
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        dilation: usize,
        pool: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let conv = Conv1dIm2col::new(
            c_in,
            c_out,
            kernel,
            dilation * (kernel / 2),
            dilation,
            vb.pp("conv"),
        )?;
        let norm = BatchNorm::new(c_out, 1e-5, true, vb.pp("norm"))?;
        Ok(Self { conv, norm, pool })
    }
}

impl ModuleT for ConvBlock1d {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        // Batch-norm with the ReLU fused in (one op forward, one backward).
        let y = candle_core::Module::forward(&self.conv, x)?.apply_t(&self.norm, train)?;
        if self.pool > 1 {
            max_pool_time(&y, self.pool)
        } else {
            Ok(y)
        }
    }
}

/// Max-pools `(B, C, T)` over time by `k` (stride `k`, trailing remainder dropped; at least one
/// output frame is kept).
pub fn max_pool_time(x: &Tensor, k: usize) -> Result<Tensor> {
    let (b, c, t) = x.dims3()?;
    if t < k {
        return x.max_keepdim(D::Minus1);
    }
    let t_out = t / k;
    x.narrow(2, 0, t_out * k)?
        .reshape((b, c, t_out, k))?
        .max(D::Minus1)
}

/// Variance floor in [`stats_pool`]: keeps the gradient of the standard deviation bounded for
/// channels that are (nearly) constant over a clip, which ReLU makes common.
pub const STATS_EPS: f64 = 1e-2;

/// Statistics pooling: concatenates the mean and standard deviation over time,
/// `(B, C, T) → (B, 2C)`. Works for any `T ≥ 1`.
pub fn stats_pool(x: &Tensor) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let var = x.broadcast_sub(&mean)?.sqr()?.mean(D::Minus1)?;
    let std = (var + STATS_EPS)?.sqrt()?;
    Tensor::cat(&[mean.squeeze(D::Minus1)?, std], 1)
}

/// Dropout whose masks come from a [`SeededRng`], so training runs repeat exactly (candle's own
/// dropout draws from an unseedable thread RNG on the CPU). Clones share the generator.
#[derive(Debug, Clone)]
pub struct SeededDropout {
    p: f32,
    rng: Arc<Mutex<SeededRng>>,
}

impl SeededDropout {
    /// Drops each value with probability `p` in training (scaling the rest by `1/(1-p)`).
    pub fn new(p: f32, seed: u64) -> Self {
        Self {
            p,
            rng: Arc::new(Mutex::new(SeededRng::new(seed))),
        }
    }

    /// Restarts the mask sequence from `seed`.
    pub fn reseed(&self, seed: u64) {
        *self.rng.lock().expect("dropout rng") = SeededRng::new(seed);
    }

    /// Where the mask sequence stands (for a training checkpoint).
    pub(crate) fn rng_state(&self) -> u64 {
        self.rng.lock().expect("dropout rng").state()
    }

    /// Puts the mask sequence back where [`rng_state`](Self::rng_state) found it.
    pub(crate) fn set_rng_state(&self, state: u64) {
        *self.rng.lock().expect("dropout rng") = SeededRng::from_state(state);
    }
}

impl ModuleT for SeededDropout {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train || self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> = {
            let mut rng = self.rng.lock().expect("dropout rng");
            (0..x.elem_count())
                .map(|_| {
                    if rng.uniform() as f32 >= self.p {
                        keep
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x * mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn pooling_shapes_and_values() {
        let x = Tensor::arange(0f32, 12., &Device::Cpu)
            .unwrap()
            .reshape((1, 2, 6))
            .unwrap();
        let p = max_pool_time(&x, 2).unwrap();
        assert_eq!(
            p.to_vec3::<f32>().unwrap(),
            vec![vec![vec![1., 3., 5.], vec![7., 9., 11.]]]
        );
        let s = stats_pool(&x).unwrap().to_vec2::<f32>().unwrap();
        // Channel 0 is 0..=5: mean 2.5, population variance 35/12.
        assert!((s[0][0] - 2.5).abs() < 1e-6);
        assert!((s[0][2] - (35.0f32 / 12.0 + 1e-2).sqrt()).abs() < 1e-5);
        let short = max_pool_time(&x.narrow(2, 0, 1).unwrap(), 4).unwrap();
        assert_eq!(short.dims(), &[1, 2, 1]);
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // index-style mirrors the convolution formula
    fn conv_layer_matches_the_definition() {
        use candle_core::Module;
        let dev = Device::Cpu;
        let mut rng = SeededRng::new(11);
        let mut randn = |shape: (usize, usize, usize)| {
            let n = shape.0 * shape.1 * shape.2;
            Tensor::from_vec(
                (0..n).map(|_| rng.normal() as f32).collect::<Vec<_>>(),
                shape,
                &dev,
            )
            .unwrap()
        };
        let (b, c_in, c_out, t, k, dil) = (3, 4, 5, 11, 3, 2);
        let pad = dil * (k / 2);
        let x = randn((b, c_in, t));
        let w = randn((c_out, c_in, k));
        let conv = Conv1dIm2col {
            weight: w.clone(),
            padding: pad,
            dilation: dil,
        };
        let y = conv.forward(&x).unwrap();
        assert_eq!(y.dims(), &[b, c_out, t]);
        // Against the definition y[b,o,τ] = Σ_c Σ_j w[o,c,j] · x[b,c,τ + j·dil − pad].
        let xv = x.to_vec3::<f32>().unwrap();
        let wv = w.to_vec3::<f32>().unwrap();
        let yv = y.to_vec3::<f32>().unwrap();
        for bi in 0..b {
            for o in 0..c_out {
                for tau in 0..t {
                    let mut acc = 0f32;
                    for c in 0..c_in {
                        for j in 0..k {
                            let src = tau as isize + (j * dil) as isize - pad as isize;
                            if (0..t as isize).contains(&src) {
                                acc += wv[o][c][j] * xv[bi][c][src as usize];
                            }
                        }
                    }
                    assert!((acc - yv[bi][o][tau]).abs() < 1e-4);
                }
            }
        }
        // Gradients: finite-difference checks in conv.rs (1-D geometries included).
    }

    #[test]
    fn seeded_dropout_repeats_and_is_identity_in_eval() {
        let x = Tensor::ones((4, 50), candle_core::DType::F32, &Device::Cpu).unwrap();
        let d = SeededDropout::new(0.5, 7);
        let a = d.forward_t(&x, true).unwrap().to_vec2::<f32>().unwrap();
        d.reseed(7);
        let b = d.forward_t(&x, true).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(a, b);
        let zeros = a.iter().flatten().filter(|&&v| v == 0.0).count();
        assert!((60..140).contains(&zeros), "{zeros}");
        assert!(a.iter().flatten().all(|&v| v == 0.0 || v == 2.0));
        assert_eq!(
            d.forward_t(&x, false).unwrap().to_vec2::<f32>().unwrap(),
            vec![vec![1.0; 50]; 4]
        );
    }
}
