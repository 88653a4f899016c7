//! Batch normalisation (optionally followed by ReLU) as one fused CPU op with a hand-written
//! backward pass.
//!
//! candle-nn's `BatchNorm` is built from about ten tensor ops forward (a transpose and copy,
//! means, squares, broadcasts, another transpose) and twice that backward, each a full pass over
//! the activations with a fresh allocation; on the voice network that was most of a training
//! step once the convolutions were fast. Here the forward pass is two sweeps (per-channel
//! statistics in f64, then `y = a·x + s` with the ReLU folded in) and the backward pass two more
//! (per-channel sums, then the input gradient), with the standard batch-norm gradient
//!
//! `∂x = γ/σ · (g − mean(g) − x̂·mean(g·x̂))`, `∂γ = Σ g·x̂`, `∂β = Σ g`,
//!
//! where `g` is the incoming gradient masked by the ReLU. Weight names, the running-statistics
//! update (momentum 0.1, unbiased variance) and evaluation (`(x − μ_run)/√(σ²_run + ε)·γ + β`)
//! are those of candle-nn and PyTorch, so models saved with either load unchanged.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, Var};
use candle_nn::{Init, ModuleT, VarBuilder};
use rayon::prelude::*;

use super::conv::f32_slice;

/// Momentum of the running statistics (PyTorch's default).
const MOMENTUM: f64 = 0.1;

/// Per-channel batch normalisation over every axis but the second (`(B, C, …)`), with an
/// optional ReLU after it.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Var,
    running_var: Var,
    eps: f64,
    relu: bool,
}

impl BatchNorm {
    /// `c` channels; weights `weight`, `bias`, `running_mean`, `running_var` in `vb`.
    pub fn new(c: usize, eps: f64, relu: bool, vb: VarBuilder) -> Result<Self> {
        let running_mean = vb.get_with_hints(c, "running_mean", Init::Const(0.))?;
        let running_var = vb.get_with_hints(c, "running_var", Init::Const(1.))?;
        let weight = vb.get_with_hints(c, "weight", Init::Const(1.))?;
        let bias = vb.get_with_hints(c, "bias", Init::Const(0.))?;
        Ok(Self {
            weight,
            bias,
            running_mean: Var::from_tensor(&running_mean)?,
            running_var: Var::from_tensor(&running_var)?,
            eps,
            relu,
        })
    }
}

fn cpu_f32(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// `(Σ a, Σ a·b)` over two equal-length slices, in eight f32 lanes (so the compiler can
/// vectorise it) summed in f64 at the end.
fn dot_sums(a: &[f32], b: &[f32]) -> (f64, f64) {
    let (mut s, mut p) = ([0f32; 8], [0f32; 8]);
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            s[i] += x[i];
            p[i] += x[i] * y[i];
        }
    }
    let mut st: f64 = s.iter().map(|&v| v as f64).sum();
    let mut pt: f64 = p.iter().map(|&v| v as f64).sum();
    for (&x, &y) in ra.iter().zip(rb) {
        st += x as f64;
        pt += (x * y) as f64;
    }
    (st, pt)
}

/// Per-channel mean and biased variance of a contiguous `(B, C, L)` slice, in f64.
fn channel_stats(x: &[f32], (b, c, l): (usize, usize, usize)) -> Vec<(f64, f64)> {
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mut s, mut s2) = (0f64, 0f64);
            for bi in 0..b {
                let strip = &x[(bi * c + ch) * l..(bi * c + ch + 1) * l];
                let (a, a2) = dot_sums(strip, strip);
                s += a;
                s2 += a2;
            }
            let n = (b * l) as f64;
            let mean = s / n;
            (mean, (s2 / n - mean * mean).max(0.0))
        })
        .collect()
}

impl ModuleT for BatchNorm {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        if dims.len() < 2 || !x.device().is_cpu() {
            bail!(
                "batch-norm expects a CPU tensor (B, C, ...), got {:?}",
                x.shape()
            );
        }
        let (b, c) = (dims[0], dims[1]);
        if c != self.weight.dim(0)? {
            bail!(
                "batch-norm expects {} channels, got {c}",
                self.weight.dim(0)?
            );
        }
        let l: usize = dims[2..].iter().product();
        let x3 = x.reshape((b, c, l))?.contiguous()?;
        let (mean, inv_std) = if train {
            let stats = {
                let (storage, layout) = x3.storage_and_layout();
                let candle_core::Storage::Cpu(CpuStorage::F32(v)) = &*storage else {
                    bail!("batch-norm expects f32");
                };
                let (lo, hi) = layout.contiguous_offsets().expect("made contiguous");
                channel_stats(&v[lo..hi], (b, c, l))
            };
            let n = (b * l) as f64;
            let unbias = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
            let rm = cpu_f32(self.running_mean.as_tensor())?;
            let rv = cpu_f32(self.running_var.as_tensor())?;
            let new_rm: Vec<f32> = rm
                .iter()
                .zip(&stats)
                .map(|(&r, s)| (r as f64 * (1.0 - MOMENTUM) + s.0 * MOMENTUM) as f32)
                .collect();
            let new_rv: Vec<f32> = rv
                .iter()
                .zip(&stats)
                .map(|(&r, s)| (r as f64 * (1.0 - MOMENTUM) + s.1 * unbias * MOMENTUM) as f32)
                .collect();
            self.running_mean
                .set(&Tensor::from_vec(new_rm, c, x.device())?)?;
            self.running_var
                .set(&Tensor::from_vec(new_rv, c, x.device())?)?;
            stats
                .iter()
                .map(|&(m, v)| (m as f32, (1.0 / (v + self.eps).sqrt()) as f32))
                .unzip()
        } else {
            let rm = cpu_f32(self.running_mean.as_tensor())?;
            let rv = cpu_f32(self.running_var.as_tensor())?;
            let inv: Vec<f32> = rv
                .iter()
                .map(|&v| (1.0 / (v as f64 + self.eps).sqrt()) as f32)
                .collect();
            (rm, inv)
        };
        let mut stats = mean;
        stats.extend(inv_std);
        let stats = Tensor::from_vec(stats, (2, c), x.device())?;
        let affine = Tensor::stack(&[&self.weight, &self.bias], 0)?;
        let y = x3.apply_op3(
            &affine,
            &stats,
            BnOp {
                relu: self.relu,
                train,
            },
        )?;
        y.reshape(dims)
    }
}

/// `(x (B,C,L), affine (2,C) = [γ; β], stats (2,C) = [μ; 1/σ]) → y`.
struct BnOp {
    relu: bool,
    train: bool,
}

impl CustomOp3 for BnOp {
    fn name(&self) -> &'static str {
        "facevox-batch-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "input")?;
        let aff = f32_slice(s2, l2, "affine")?;
        let st = f32_slice(s3, l3, "stats")?;
        let (_, c, l) = l1.shape().dims3()?;
        // y = a·x + s per channel.
        let a: Vec<f32> = (0..c).map(|ch| aff[ch] * st[c + ch]).collect();
        let s: Vec<f32> = (0..c).map(|ch| aff[c + ch] - st[ch] * a[ch]).collect();
        let mut y = vec![0f32; x.len()];
        let relu = self.relu;
        y.par_chunks_mut(l)
            .zip(x.par_chunks(l))
            .enumerate()
            .for_each(|(row, (yr, xr))| {
                let (a, s) = (a[row % c], s[row % c]);
                if relu {
                    yr.iter_mut()
                        .zip(xr)
                        .for_each(|(y, &x)| *y = (a * x + s).max(0.0));
                } else {
                    yr.iter_mut().zip(xr).for_each(|(y, &x)| *y = a * x + s);
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        affine: &Tensor,
        stats: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (b, c, l) = x.dims3()?;
        let grad = grad.contiguous()?;
        let op = BnGrad {
            gamma: cpu_f32(&affine.get(0)?)?,
            mean: cpu_f32(&stats.get(0)?)?,
            inv_std: cpu_f32(&stats.get(1)?)?,
            relu: self.relu,
            train: self.train,
        };
        let both = x.apply_op3_no_bwd(&grad, res, &op)?;
        let n = b * c * l;
        let gx = both.narrow(0, 0, n)?.reshape((b, c, l))?;
        let gaff = both.narrow(0, n, 2 * c)?.reshape((2, c))?;
        Ok((Some(gx), Some(gaff), None))
    }
}

/// `(x, ∂y, y) → [∂x (flattened); ∂γ; ∂β]`.
struct BnGrad {
    gamma: Vec<f32>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    relu: bool,
    train: bool,
}

impl CustomOp3 for BnGrad {
    fn name(&self) -> &'static str {
        "facevox-batch-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "input")?;
        let g = f32_slice(s2, l2, "gradient")?;
        let y = f32_slice(s3, l3, "output")?;
        let (b, c, l) = l1.shape().dims3()?;
        // The incoming gradient with the ReLU mask applied.
        let mut gm = vec![0f32; g.len()];
        gm.par_chunks_mut(l)
            .zip(g.par_chunks(l).zip(y.par_chunks(l)))
            .for_each(|(d, (gr, yr))| {
                if self.relu {
                    for ((d, &gi), &yi) in d.iter_mut().zip(gr).zip(yr) {
                        *d = if yi > 0.0 { gi } else { 0.0 };
                    }
                } else {
                    d.copy_from_slice(gr);
                }
            });
        // Per-channel Σg and Σg·x̂ = (Σg·x − μ·Σg)/σ.
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut sg, mut sgx) = (0f64, 0f64);
                for bi in 0..b {
                    let r = (bi * c + ch) * l..(bi * c + ch + 1) * l;
                    let (a, p) = dot_sums(&gm[r.clone()], &x[r]);
                    sg += a;
                    sgx += p;
                }
                let xhat = (sgx - self.mean[ch] as f64 * sg) * self.inv_std[ch] as f64;
                (sg, xhat)
            })
            .collect();
        let n = (b * l) as f32;
        let mut out = vec![0f32; b * c * l + 2 * c];
        let (gx, gaff) = out.split_at_mut(b * c * l);
        gx.par_chunks_mut(l)
            .zip(gm.par_chunks(l).zip(x.par_chunks(l)))
            .enumerate()
            .for_each(|(row, (dst, (gr, xr)))| {
                let ch = row % c;
                let (m, is) = (self.mean[ch], self.inv_std[ch]);
                let k = self.gamma[ch] * is;
                if self.train {
                    let mg = sums[ch].0 as f32 / n;
                    let mgx = sums[ch].1 as f32 / n;
                    for ((d, &gi), &xi) in dst.iter_mut().zip(gr).zip(xr) {
                        *d = k * (gi - mg - (xi - m) * is * mgx);
                    }
                } else {
                    for (d, &gi) in dst.iter_mut().zip(gr) {
                        *d = k * gi;
                    }
                }
            });
        for ch in 0..c {
            gaff[ch] = sums[ch].1 as f32;
            gaff[c + ch] = sums[ch].0 as f32;
        }
        Ok((CpuStorage::F32(out), Shape::from(b * c * l + 2 * c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn randn(dims: &[usize], rng: &mut SeededRng, scale: f64, shift: f64) -> Tensor {
        let n: usize = dims.iter().product();
        Tensor::from_vec(
            (0..n)
                .map(|_| (rng.normal() * scale + shift) as f32)
                .collect::<Vec<_>>(),
            dims,
            &Device::Cpu,
        )
        .unwrap()
    }

    fn close(a: &Tensor, b: &Tensor, tol: f32) {
        let d: f32 = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(d < tol, "max difference {d}");
    }

    /// Outputs, running statistics and all three gradients against candle-nn's BatchNorm
    /// (followed by candle's ReLU), in training and evaluation, on 3-D and 4-D inputs.
    #[test]
    fn matches_candle_nn_batch_norm_and_its_gradients() {
        let dev = Device::Cpu;
        let mut rng = SeededRng::new(3);
        for (dims, relu) in [(vec![4usize, 3, 7], true), (vec![2, 5, 3, 4], false)] {
            let c = dims[1];
            let ours_map = VarMap::new();
            let ref_map = VarMap::new();
            let ours = BatchNorm::new(
                c,
                1e-5,
                relu,
                VarBuilder::from_varmap(&ours_map, DType::F32, &dev),
            )
            .unwrap();
            let reference =
                candle_nn::batch_norm(c, 1e-5, VarBuilder::from_varmap(&ref_map, DType::F32, &dev))
                    .unwrap();
            // Same non-trivial affine parameters in both.
            let gamma = randn(&[c], &mut rng, 0.5, 1.0);
            let beta = randn(&[c], &mut rng, 0.5, 0.0);
            for map in [&ours_map, &ref_map] {
                let data = map.data().lock().unwrap();
                data["weight"].set(&gamma).unwrap();
                data["bias"].set(&beta).unwrap();
            }
            let run = |x: &Tensor, train: bool| {
                let a = ours.forward_t(x, train).unwrap();
                let r = reference.forward_t(x, train).unwrap();
                let r = if relu { r.relu().unwrap() } else { r };
                (a, r)
            };
            for step in 0..3 {
                let x = candle_core::Var::from_tensor(&randn(&dims, &mut rng, 2.0, 1.5)).unwrap();
                let (a, r) = run(x.as_tensor(), true);
                close(&a, &r, 1e-4);
                let w = randn(a.dims(), &mut rng, 1.0, 0.0);
                let ga = (&a * &w).unwrap().sum_all().unwrap().backward().unwrap();
                let gr = (&r * &w).unwrap().sum_all().unwrap().backward().unwrap();
                let ow = ours_map.data().lock().unwrap()["weight"]
                    .as_tensor()
                    .clone();
                let rw = ref_map.data().lock().unwrap()["weight"].as_tensor().clone();
                let ob = ours_map.data().lock().unwrap()["bias"].as_tensor().clone();
                let rb = ref_map.data().lock().unwrap()["bias"].as_tensor().clone();
                close(
                    ga.get(x.as_tensor()).unwrap(),
                    gr.get(x.as_tensor()).unwrap(),
                    1e-4,
                );
                close(ga.get(&ow).unwrap(), gr.get(&rw).unwrap(), 1e-3);
                close(ga.get(&ob).unwrap(), gr.get(&rb).unwrap(), 1e-3);
                for name in ["running_mean", "running_var"] {
                    let o = ours_map.data().lock().unwrap()[name].as_tensor().clone();
                    let r = ref_map.data().lock().unwrap()[name].as_tensor().clone();
                    close(&o, &r, 1e-4);
                }
                let _ = step;
            }
            let x = randn(&dims, &mut rng, 2.0, 1.5);
            let (a, r) = run(&x, false);
            close(&a, &r, 1e-4);
        }
    }

    #[test]
    fn wrong_channel_count_is_an_error() {
        let map = VarMap::new();
        let bn = BatchNorm::new(
            4,
            1e-5,
            true,
            VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let x = Tensor::zeros((2, 3, 5), DType::F32, &Device::Cpu).unwrap();
        assert!(bn.forward_t(&x, true).is_err());
        let x1 = Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap();
        assert!(bn.forward_t(&x1, false).is_err());
    }
}
