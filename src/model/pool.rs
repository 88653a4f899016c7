//! 2-D max-pooling (kernel = stride) with a hand-written backward pass, for the CPU.
//!
//! Why not candle's `max_pool2d`: its backward pass builds the gradient from whole-tensor
//! operations (the pooled output upsampled back, compared with the input into a mask, the mask
//! average-pooled to count ties, the gradient upsampled and multiplied twice): about eight
//! passes over the full-resolution activations and as many fresh buffers, which at a face
//! network's first stage (64 crops x 32 channels x 48 x 48) cost more than the pooling itself
//! many times over. Here the backward pass is one op that sends each output's gradient to the
//! input position that held the window's maximum (the first one on ties, as PyTorch does).
//!
//! Tensors are `f32`, on the CPU, `(B, C, H, W)`; a trailing row or column that does not fill a
//! window is dropped, as in candle and PyTorch.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::conv::f32_slice;

/// Planes (one channel of one example) of at most this many values are grouped into one rayon
/// task, so small planes do not pay one task each.
const PLANES_PER_TASK_VALUES: usize = 16 * 1024;

/// Sizes of one pooling call.
#[derive(Debug, Clone, Copy)]
struct Dims {
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    k: usize,
}

impl Dims {
    fn new(shape: &Shape, k: usize) -> Result<Self> {
        let (b, c, h, w) = shape.dims4()?;
        if k == 0 {
            bail!("facevox max-pool: the window must be at least 1x1");
        }
        if h < k || w < k {
            bail!("facevox max-pool: input {h}x{w} is smaller than the {k}x{k} window");
        }
        Ok(Self {
            b,
            c,
            h,
            w,
            ho: h / k,
            wo: w / k,
            k,
        })
    }

    /// One channel of one example is a plane.
    fn planes(&self) -> usize {
        self.b * self.c
    }

    fn out_shape(&self) -> Shape {
        Shape::from((self.b, self.c, self.ho, self.wo))
    }

    fn plane_in(&self) -> usize {
        self.h * self.w
    }

    fn plane_out(&self) -> usize {
        self.ho * self.wo
    }

    /// Planes per rayon task.
    fn planes_per_task(&self) -> usize {
        (PLANES_PER_TASK_VALUES / self.plane_in().max(1)).max(1)
    }

    /// Index in the plane `x` of the first maximum of output `(oh, ow)`'s window.
    #[inline]
    fn argmax(&self, x: &[f32], oh: usize, ow: usize) -> usize {
        let mut best = (oh * self.k) * self.w + ow * self.k;
        let mut top = x[best];
        for i in 0..self.k {
            let row = (oh * self.k + i) * self.w + ow * self.k;
            for (j, &v) in x[row..row + self.k].iter().enumerate() {
                // `>` keeps the first maximum; a NaN never wins, as in a plain comparison.
                if v > top {
                    top = v;
                    best = row + j;
                }
            }
        }
        best
    }
}

/// The forward op: `x → y`.
struct MaxPool {
    k: usize,
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "facevox-max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "input")?;
        let d = Dims::new(l.shape(), self.k)?;
        let mut y = vec![0f32; d.planes() * d.plane_out()];
        let per = d.planes_per_task();
        y.par_chunks_mut(per * d.plane_out())
            .zip(x.par_chunks(per * d.plane_in()))
            .for_each(|(yt, xt)| {
                for (yp, xp) in yt.chunks_mut(d.plane_out()).zip(xt.chunks(d.plane_in())) {
                    for oh in 0..d.ho {
                        for ow in 0..d.wo {
                            yp[oh * d.wo + ow] = xp[d.argmax(xp, oh, ow)];
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(y), d.out_shape()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        Ok(Some(x.apply_op2_no_bwd(&grad, &MaxPoolGrad { k: self.k })?))
    }
}

/// `(x, ∂y) → ∂x`: each output's gradient goes to its window's first maximum.
struct MaxPoolGrad {
    k: usize,
}

impl CustomOp2 for MaxPoolGrad {
    fn name(&self) -> &'static str {
        "facevox-max-pool2d-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "input")?;
        let g = f32_slice(s2, l2, "output gradient")?;
        let d = Dims::new(l1.shape(), self.k)?;
        if l2.shape() != &d.out_shape() {
            bail!(
                "facevox max-pool: gradient {:?} does not fit input {:?}",
                l2.shape(),
                l1.shape()
            );
        }
        let mut gx = vec![0f32; x.len()];
        let per = d.planes_per_task();
        gx.par_chunks_mut(per * d.plane_in())
            .zip(x.par_chunks(per * d.plane_in()))
            .zip(g.par_chunks(per * d.plane_out()))
            .for_each(|((gxt, xt), gt)| {
                for ((gxp, xp), gp) in gxt
                    .chunks_mut(d.plane_in())
                    .zip(xt.chunks(d.plane_in()))
                    .zip(gt.chunks(d.plane_out()))
                {
                    for oh in 0..d.ho {
                        for ow in 0..d.wo {
                            gxp[d.argmax(xp, oh, ow)] += gp[oh * d.wo + ow];
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(gx), l1.shape().clone()))
    }
}

/// Max-pools `x (B, C, H, W)` over `k x k` windows with stride `k` → `(B, C, H/k, W/k)`, with
/// a gradient. Errors (never panics) on other dtypes or devices, or inputs smaller than one
/// window.
pub fn max_pool2d(x: &Tensor, k: usize) -> Result<Tensor> {
    if !x.device().is_cpu() {
        bail!("facevox max-pool runs on the CPU only");
    }
    x.contiguous()?.apply_op1(MaxPool { k })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::conv::tests::randn;
    use crate::rng::SeededRng;
    use candle_core::{Device, Var};

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    /// Forward against candle's `max_pool2d` (whose forward is right) and the gradient against
    /// its definition (each output's gradient at its window's maximum, zero elsewhere) and
    /// finite differences, on inputs without ties (random normals), for even and odd sizes
    /// (trailing row and column dropped), windows of 2 and 3, and one or many planes.
    /// (candle 0.11.1's own gradient is this one divided by k², so it is no reference.)
    #[test]
    fn matches_candle_forward_and_the_gradient_of_max() {
        let mut rng = SeededRng::new(3);
        for (dims, k) in [
            ([2, 3, 6, 8], 2),
            ([1, 1, 7, 5], 2),
            ([3, 2, 9, 9], 3),
            ([64, 4, 12, 12], 2),
        ] {
            let x = Var::from_tensor(&randn(&dims, &mut rng)).unwrap();
            let y = max_pool2d(x.as_tensor(), k).unwrap();
            assert_eq!(
                values(&y),
                values(&x.as_tensor().max_pool2d(k).unwrap()),
                "{dims:?} k={k}"
            );
            let r = randn(y.dims(), &mut rng);
            let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let got = values(grads.get(x.as_tensor()).unwrap());
            // The definition, window by window.
            let (xv, rv) = (values(x.as_tensor()), values(&r));
            let [b, c, h, w] = dims;
            let (ho, wo) = (h / k, w / k);
            let mut want = vec![0f32; xv.len()];
            for p in 0..b * c {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let idx = (0..k)
                            .flat_map(|i| (0..k).map(move |j| (oh * k + i) * w + ow * k + j))
                            .map(|i| p * h * w + i)
                            .max_by(|&a, &b| xv[a].total_cmp(&xv[b]))
                            .unwrap();
                        want[idx] = rv[(p * ho + oh) * wo + ow];
                    }
                }
            }
            assert_eq!(got, want, "{dims:?} k={k}");
            // Finite differences at a few inputs: raising a window's maximum raises the loss
            // by its output's weight; raising any other input changes nothing.
            let base: f32 = (&y * &r).unwrap().sum_all().unwrap().to_scalar().unwrap();
            for i in (0..xv.len()).step_by(xv.len() / 7 + 1) {
                let mut p = xv.clone();
                p[i] += 1e-2;
                let pt = Tensor::from_vec(p, &dims, &Device::Cpu).unwrap();
                let lp: f32 = (max_pool2d(&pt, k).unwrap() * &r)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar()
                    .unwrap();
                assert!(
                    ((lp - base) / 1e-2 - want[i]).abs() < 1e-2,
                    "{dims:?} k={k} input {i}: {} vs {}",
                    (lp - base) / 1e-2,
                    want[i]
                );
            }
        }
    }

    /// On ties the whole gradient goes to the first maximum of the window (PyTorch's rule),
    /// and none is lost or duplicated.
    #[test]
    fn ties_send_the_gradient_to_the_first_maximum() {
        let x = Var::from_tensor(
            &Tensor::from_vec(
                vec![
                    0f32, 0., 1., 5., //
                    0., 0., 5., 2., //
                ],
                (1, 1, 2, 4),
                &Device::Cpu,
            )
            .unwrap(),
        )
        .unwrap();
        let y = max_pool2d(x.as_tensor(), 2).unwrap();
        assert_eq!(values(&y), vec![0., 5.]);
        let r = Tensor::from_vec(vec![2f32, 3.], (1, 1, 1, 2), &Device::Cpu).unwrap();
        let grads = (y * r).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(
            values(grads.get(x.as_tensor()).unwrap()),
            vec![2., 0., 0., 3., 0., 0., 0., 0.]
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = SeededRng::new(1);
        let x = randn(&[1, 2, 3, 3], &mut rng);
        assert!(max_pool2d(&x, 4).is_err(), "window larger than the input");
        assert!(max_pool2d(&x, 0).is_err(), "empty window");
        assert!(max_pool2d(&x.flatten_all().unwrap(), 2).is_err(), "not 4-D");
        let xd = x.to_dtype(candle_core::DType::F64).unwrap();
        assert!(max_pool2d(&xd, 2).is_err(), "f64");
    }
}
