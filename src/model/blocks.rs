//! Small building blocks shared by the networks.

use candle_core::{Result, Tensor, D};
use candle_nn::{BatchNorm, Conv1d, Conv1dConfig, ModuleT, VarBuilder};

/// `conv1d → batch-norm → ReLU → optional max-pool over time`.
#[derive(Debug, Clone)]
pub struct ConvBlock1d {
    conv: Conv1d,
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
        let cfg = Conv1dConfig {
            padding: dilation * (kernel / 2),
            dilation,
            ..Default::default()
        };
        let conv = candle_nn::conv1d_no_bias(c_in, c_out, kernel, cfg, vb.pp("conv"))?;
        let norm = candle_nn::batch_norm(c_out, 1e-5, vb.pp("norm"))?;
        Ok(Self { conv, norm, pool })
    }
}

impl ModuleT for ConvBlock1d {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = x.apply(&self.conv)?.apply_t(&self.norm, train)?.relu()?;
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

/// Statistics pooling: concatenates the mean and standard deviation over time,
/// `(B, C, T) → (B, 2C)`. Works for any `T ≥ 1`.
pub fn stats_pool(x: &Tensor) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let var = x.broadcast_sub(&mean)?.sqr()?.mean(D::Minus1)?;
    let std = (var + 1e-5)?.sqrt()?;
    Tensor::cat(&[mean.squeeze(D::Minus1)?, std], 1)
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
        assert!((s[0][2] - (35.0f32 / 12.0 + 1e-5).sqrt()).abs() < 1e-5);
        let short = max_pool_time(&x.narrow(2, 0, 1).unwrap(), 4).unwrap();
        assert_eq!(short.dims(), &[1, 2, 1]);
    }
}
