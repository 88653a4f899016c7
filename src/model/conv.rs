//! Convolution as im2col + GEMM with a hand-written backward pass, for the CPU.
//!
//! Why not candle's own convolutions: in candle 0.11.1 the kernel gradient of `conv1d` is wrong
//! whenever the batch holds more than one example, and the backward pass of `conv2d` goes through
//! `conv_transpose2d`, which is slow on a CPU. A composition of candle tensor ops (pad, narrow,
//! stack, matmul; this crate's first work-around) is correct but allocates a padded copy of the
//! activations per kernel tap and runs 32 small matrix products per batch, and measured ten times
//! slower than PyTorch on the voice network.
//!
//! Here one custom op does the whole forward pass: for each example the input is unfolded into
//! a `(c_in·kh·kw, h_out·w_out)` column buffer (reused, thread-local) and multiplied by the
//! weight matrix in one GEMM (the `gemm` crate, which candle's own matmul uses). The backward
//! pass is two more ops: the input gradient (`Wᵀ · ∂y`, then the column buffer folded back,
//! col2im) and the weight gradient (`Σ_b ∂y_b · cols_bᵀ`, per-thread partial sums). Examples of a
//! batch run in parallel on rayon's pool; a single example runs its GEMMs multi-threaded instead.
//!
//! Tensors are `f32`, on the CPU, in the `(B, C, H, W)` / `(c_out, c_in, kh, kw)` layouts of
//! PyTorch and candle; [`conv1d`] views `(B, C, T)` as height 1.

use std::cell::RefCell;

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Kernel size, zero padding, dilation and stride of a 2-D convolution, as `(height, width)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Zeros added on both sides of each axis.
    pub padding: (usize, usize),
    /// Spacing between kernel taps.
    pub dilation: (usize, usize),
    /// Step between output positions.
    pub stride: (usize, usize),
}

impl ConvGeometry {
    /// A stride-1 1-D geometry over the width axis (height 1).
    pub fn one_d(kernel: usize, padding: usize, dilation: usize) -> Self {
        Self {
            kernel: (1, kernel),
            padding: (0, padding),
            dilation: (1, dilation),
            stride: (1, 1),
        }
    }

    fn axis_out(len: usize, k: usize, pad: usize, dil: usize, stride: usize) -> Option<usize> {
        let span = dil * (k - 1) + 1;
        let padded = len + 2 * pad;
        (padded >= span && stride > 0).then(|| (padded - span) / stride + 1)
    }

    /// Output `(height, width)` for an input of `(h, w)`, or `None` if the input is smaller
    /// than the kernel span.
    pub fn output_size(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        if self.kernel.0 == 0 || self.kernel.1 == 0 {
            return None;
        }
        Some((
            Self::axis_out(
                h,
                self.kernel.0,
                self.padding.0,
                self.dilation.0,
                self.stride.0,
            )?,
            Self::axis_out(
                w,
                self.kernel.1,
                self.padding.1,
                self.dilation.1,
                self.stride.1,
            )?,
        ))
    }
}

/// Sizes of one convolution call.
#[derive(Debug, Clone, Copy)]
struct Dims {
    batch: usize,
    c_in: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
}

impl Dims {
    fn new(geo: &ConvGeometry, x: (usize, usize, usize, usize)) -> Result<Self> {
        let (batch, c_in, h, w) = x;
        let Some((ho, wo)) = geo.output_size(h, w) else {
            bail!("convolution input {h}x{w} is smaller than the kernel span ({geo:?})");
        };
        Ok(Self {
            batch,
            c_in,
            h,
            w,
            ho,
            wo,
        })
    }
    /// Rows of the column buffer: `c_in·kh·kw`.
    fn k(&self, geo: &ConvGeometry) -> usize {
        self.c_in * geo.kernel.0 * geo.kernel.1
    }
    /// Output positions per channel.
    fn l(&self) -> usize {
        self.ho * self.wo
    }
    fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }
}

thread_local! {
    static COLS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's column buffer resized to `len` (contents unspecified).
///
/// The buffer can already be in use on this thread: a GEMM run on rayon's pool waits by
/// running other queued jobs, which may be another convolution (from another analysis
/// sharing the pool) reaching here again. That nested call gets a buffer of its own.
fn with_cols<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COLS.with(|c| match c.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// With stride 1, output column `ow` reads input column `ow + off`: the range `lo..hi` of
/// output columns whose input lies inside `0..w` (the rest read padding).
fn valid_range(off: isize, w: usize, wo: usize) -> (usize, usize) {
    let lo = (-off).clamp(0, wo as isize) as usize;
    let hi = (w as isize - off).clamp(lo as isize, wo as isize) as usize;
    (lo, hi)
}

/// Unfolds one example `x` (`c_in·h·w`) into `cols` (`K × L`, row-major).
fn im2col(geo: &ConvGeometry, d: &Dims, x: &[f32], cols: &mut [f32]) {
    let (kh, kw) = geo.kernel;
    let (ph, pw) = (geo.padding.0 as isize, geo.padding.1 as isize);
    let (dh, dw) = geo.dilation;
    let (sh, sw) = geo.stride;
    let l = d.l();
    for c in 0..d.c_in {
        let plane = &x[c * d.h * d.w..(c + 1) * d.h * d.w];
        for i in 0..kh {
            for j in 0..kw {
                let row = (c * kh + i) * kw + j;
                let dst = &mut cols[row * l..(row + 1) * l];
                let off = (j * dw) as isize - pw;
                for oh in 0..d.ho {
                    let drow = &mut dst[oh * d.wo..(oh + 1) * d.wo];
                    let ih = (oh * sh + i * dh) as isize - ph;
                    if ih < 0 || ih >= d.h as isize {
                        drow.fill(0.0);
                        continue;
                    }
                    let src = &plane[ih as usize * d.w..(ih as usize + 1) * d.w];
                    if sw == 1 {
                        let (lo, hi) = valid_range(off, d.w, d.wo);
                        drow[..lo].fill(0.0);
                        drow[hi..].fill(0.0);
                        drow[lo..hi].copy_from_slice(
                            &src[(lo as isize + off) as usize..(hi as isize + off) as usize],
                        );
                    } else {
                        for (ow, v) in drow.iter_mut().enumerate() {
                            let iw = (ow * sw) as isize + off;
                            *v = if (0..d.w as isize).contains(&iw) {
                                src[iw as usize]
                            } else {
                                0.0
                            };
                        }
                    }
                }
            }
        }
    }
}

/// Folds `cols` (`K × L`) back into one example's input gradient `gx` (`c_in·h·w`), adding
/// every tap's contribution (the adjoint of [`im2col`]). `gx` must start zeroed.
fn col2im(geo: &ConvGeometry, d: &Dims, cols: &[f32], gx: &mut [f32]) {
    let (kh, kw) = geo.kernel;
    let (ph, pw) = (geo.padding.0 as isize, geo.padding.1 as isize);
    let (dh, dw) = geo.dilation;
    let (sh, sw) = geo.stride;
    let l = d.l();
    for c in 0..d.c_in {
        let plane = &mut gx[c * d.h * d.w..(c + 1) * d.h * d.w];
        for i in 0..kh {
            for j in 0..kw {
                let row = (c * kh + i) * kw + j;
                let src = &cols[row * l..(row + 1) * l];
                let off = (j * dw) as isize - pw;
                for oh in 0..d.ho {
                    let ih = (oh * sh + i * dh) as isize - ph;
                    if ih < 0 || ih >= d.h as isize {
                        continue;
                    }
                    let srow = &src[oh * d.wo..(oh + 1) * d.wo];
                    let dst = &mut plane[ih as usize * d.w..(ih as usize + 1) * d.w];
                    if sw == 1 {
                        let (lo, hi) = valid_range(off, d.w, d.wo);
                        let base = (lo as isize + off) as usize;
                        for (o, &v) in dst[base..base + (hi - lo)].iter_mut().zip(&srow[lo..hi]) {
                            *o += v;
                        }
                    } else {
                        for (ow, &v) in srow.iter().enumerate() {
                            let iw = (ow * sw) as isize + off;
                            if (0..d.w as isize).contains(&iw) {
                                dst[iw as usize] += v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Row-major GEMM `dst (m×n) = [dst +] a·b` where `a` is `m×k` (or its transpose stored `k×m`)
/// and `b` is `k×n` (or its transpose stored `n×k`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_rm(
    dst: &mut [f32],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    (m, n, k): (usize, usize, usize),
    accumulate: bool,
    threads: usize,
) {
    debug_assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    // Strides (column, row) of each operand as seen in its logical orientation.
    let (a_cs, a_rs) = if a_t {
        (m as isize, 1)
    } else {
        (1, k as isize)
    };
    let (b_cs, b_rs) = if b_t {
        (k as isize, 1)
    } else {
        (1, n as isize)
    };
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the slices are at least as long as the strided m×n, m×k and k×n views require
    // (checked above in debug builds and guaranteed by every caller's sizes), and `dst` does
    // not alias `a` or `b` (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// The f32 values of a contiguous CPU tensor argument of a custom op (`what` names it in the
/// error otherwise).
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("facevox op: {what} must be f32, got {:?}", s.dtype());
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        bail!("facevox op: {what} must be contiguous");
    };
    Ok(&v[a..b])
}

/// Threads for per-example parallelism (`outer`) and inside each GEMM (`inner`).
fn split_threads(batch: usize) -> (bool, usize) {
    let n = rayon::current_num_threads().max(1);
    if batch >= n {
        (true, 1)
    } else {
        (false, n)
    }
}

/// The forward op: `(x, w) → y`.
struct ConvOp {
    geo: ConvGeometry,
}

impl CustomOp2 for ConvOp {
    fn name(&self) -> &'static str {
        "facevox-conv"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "input")?;
        let w = f32_slice(s2, l2, "weight")?;
        let (c_out, wc, kh, kw) = l2.shape().dims4()?;
        let d = Dims::new(&self.geo, l1.shape().dims4()?)?;
        if wc != d.c_in || (kh, kw) != self.geo.kernel {
            bail!(
                "facevox conv: weight {:?} does not fit input {:?} / kernel {:?}",
                l2.shape(),
                l1.shape(),
                self.geo.kernel
            );
        }
        let (k, l) = (d.k(&self.geo), d.l());
        let mut y = vec![0f32; d.batch * c_out * l];
        let one = |yb: &mut [f32], xb: &[f32], threads: usize| {
            with_cols(k * l, |cols| {
                im2col(&self.geo, &d, xb, cols);
                gemm_rm(yb, w, false, cols, false, (c_out, l, k), false, threads);
            })
        };
        let (outer, inner) = split_threads(d.batch);
        if outer {
            y.par_chunks_mut(c_out * l)
                .zip(x.par_chunks(d.in_len()))
                .for_each(|(yb, xb)| one(yb, xb, 1));
        } else {
            y.chunks_mut(c_out * l)
                .zip(x.chunks(d.in_len()))
                .for_each(|(yb, xb)| one(yb, xb, inner));
        }
        Ok((
            CpuStorage::F32(y),
            Shape::from((d.batch, c_out, d.ho, d.wo)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let (_, _, h, wd) = x.dims4()?;
        let gx = grad.apply_op2_no_bwd(
            w,
            &ConvGradInput {
                geo: self.geo,
                h,
                w: wd,
            },
        )?;
        let gw = grad.apply_op2_no_bwd(x, &ConvGradWeight { geo: self.geo })?;
        Ok((Some(gx), Some(gw)))
    }
}

/// `(∂y, w) → ∂x`.
struct ConvGradInput {
    geo: ConvGeometry,
    h: usize,
    w: usize,
}

impl CustomOp2 for ConvGradInput {
    fn name(&self) -> &'static str {
        "facevox-conv-grad-input"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = f32_slice(s1, l1, "output gradient")?;
        let w = f32_slice(s2, l2, "weight")?;
        let (batch, c_out, ho, wo) = l1.shape().dims4()?;
        let (_, c_in, _, _) = l2.shape().dims4()?;
        let d = Dims::new(&self.geo, (batch, c_in, self.h, self.w))?;
        if (d.ho, d.wo) != (ho, wo) {
            bail!(
                "facevox conv: gradient {:?} does not fit the input",
                l1.shape()
            );
        }
        let (k, l) = (d.k(&self.geo), d.l());
        let mut gx = vec![0f32; batch * d.in_len()];
        let one = |gxb: &mut [f32], gb: &[f32], threads: usize| {
            with_cols(k * l, |cols| {
                gemm_rm(cols, w, true, gb, false, (k, l, c_out), false, threads);
                col2im(&self.geo, &d, cols, gxb);
            })
        };
        let (outer, inner) = split_threads(batch);
        if outer {
            gx.par_chunks_mut(d.in_len())
                .zip(g.par_chunks(c_out * l))
                .for_each(|(gxb, gb)| one(gxb, gb, 1));
        } else {
            gx.chunks_mut(d.in_len())
                .zip(g.chunks(c_out * l))
                .for_each(|(gxb, gb)| one(gxb, gb, inner));
        }
        Ok((CpuStorage::F32(gx), Shape::from((batch, c_in, d.h, d.w))))
    }
}

/// `(∂y, x) → ∂w`.
struct ConvGradWeight {
    geo: ConvGeometry,
}

impl CustomOp2 for ConvGradWeight {
    fn name(&self) -> &'static str {
        "facevox-conv-grad-weight"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = f32_slice(s1, l1, "output gradient")?;
        let x = f32_slice(s2, l2, "input")?;
        let (_, c_out, ho, wo) = l1.shape().dims4()?;
        let d = Dims::new(&self.geo, l2.shape().dims4()?)?;
        if (d.ho, d.wo) != (ho, wo) {
            bail!(
                "facevox conv: gradient {:?} does not fit the input",
                l1.shape()
            );
        }
        let (k, l) = (d.k(&self.geo), d.l());
        // Per-chunk partial sums of ∂y_b · cols_bᵀ, then their total.
        let (outer, inner) = split_threads(d.batch);
        let chunks = if outer {
            rayon::current_num_threads().min(d.batch)
        } else {
            1
        };
        let per = d.batch.div_ceil(chunks);
        let partial = |range: std::ops::Range<usize>, threads: usize| -> Vec<f32> {
            let mut acc = vec![0f32; c_out * k];
            with_cols(k * l, |cols| {
                for (n, b) in range.enumerate() {
                    im2col(
                        &self.geo,
                        &d,
                        &x[b * d.in_len()..(b + 1) * d.in_len()],
                        cols,
                    );
                    gemm_rm(
                        &mut acc,
                        &g[b * c_out * l..(b + 1) * c_out * l],
                        false,
                        cols,
                        true,
                        (c_out, k, l),
                        n > 0,
                        threads,
                    );
                }
            });
            acc
        };
        let parts: Vec<Vec<f32>> = if outer {
            (0..chunks)
                .into_par_iter()
                .map(|c| partial(c * per..((c + 1) * per).min(d.batch), 1))
                .collect()
        } else {
            vec![partial(0..d.batch, inner)]
        };
        let gw = parts
            .into_iter()
            .reduce(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            })
            .unwrap_or_else(|| vec![0f32; c_out * k]);
        Ok((
            CpuStorage::F32(gw),
            Shape::from((c_out, d.c_in, self.geo.kernel.0, self.geo.kernel.1)),
        ))
    }
}

/// 2-D convolution without bias: `x (B, c_in, H, W)`, `w (c_out, c_in, kh, kw)` →
/// `(B, c_out, H_out, W_out)`, with gradients for both. Errors (never panics) on other dtypes
/// or devices, mismatched shapes, or inputs smaller than the kernel span.
pub fn conv2d(x: &Tensor, w: &Tensor, geo: ConvGeometry) -> Result<Tensor> {
    if !x.device().is_cpu() {
        bail!("facevox conv runs on the CPU only");
    }
    x.contiguous()?.apply_op2(&w.contiguous()?, ConvOp { geo })
}

/// 1-D convolution (stride 1) without bias: `x (B, c_in, T)`, `w (c_out, c_in, k)` →
/// `(B, c_out, T_out)`.
pub fn conv1d(x: &Tensor, w: &Tensor, padding: usize, dilation: usize) -> Result<Tensor> {
    let (b, c, t) = x.dims3()?;
    let (o, wc, k) = w.dims3()?;
    let y = conv2d(
        &x.reshape((b, c, 1, t))?,
        &w.reshape((o, wc, 1, k))?,
        ConvGeometry::one_d(k, padding, dilation),
    )?;
    let (_, _, _, t_out) = y.dims4()?;
    y.reshape((b, o, t_out))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use candle_core::{Device, Var};

    #[test]
    fn a_nested_column_buffer_request_gets_its_own_buffer() {
        // What rayon's work stealing can do inside a GEMM: reach with_cols again.
        let out = with_cols(4, |outer| {
            outer.copy_from_slice(&[1.0, 2.0, 3.0, 4.0]);
            let inner = with_cols(3, |inner| {
                inner.copy_from_slice(&[9.0, 9.0, 9.0]);
                inner.iter().sum::<f32>()
            });
            (outer.iter().sum::<f32>(), inner)
        });
        assert_eq!(out, (10.0, 27.0));
    }

    /// A CPU `f32` tensor of seeded standard normals (shared with the pooling tests).
    pub(crate) fn randn(dims: &[usize], rng: &mut SeededRng) -> Tensor {
        let n: usize = dims.iter().product();
        Tensor::from_vec(
            (0..n).map(|_| rng.normal() as f32).collect::<Vec<_>>(),
            dims,
            &Device::Cpu,
        )
        .unwrap()
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// Forward against candle's conv2d (whose forward is right), and both gradients against
    /// finite differences of the scalar loss Σ y·r, for padded, dilated and strided geometries
    /// and batches both larger and smaller than the thread count.
    #[test]
    fn conv2d_matches_candle_and_finite_differences() {
        let mut rng = SeededRng::new(5);
        let cases = [
            // (batch, c_in, c_out, h, w, geometry)
            (
                3,
                2,
                3,
                6,
                7,
                ConvGeometry {
                    kernel: (3, 3),
                    padding: (1, 1),
                    dilation: (1, 1),
                    stride: (1, 1),
                },
            ),
            (
                1,
                3,
                2,
                7,
                9,
                ConvGeometry {
                    kernel: (3, 2),
                    padding: (2, 0),
                    dilation: (2, 1),
                    stride: (2, 3),
                },
            ),
            (5, 2, 4, 1, 11, ConvGeometry::one_d(5, 2, 1)),
            (4, 3, 2, 1, 10, ConvGeometry::one_d(3, 2, 2)),
        ];
        for (b, ci, co, h, w, geo) in cases {
            let x = Var::from_tensor(&randn(&[b, ci, h, w], &mut rng)).unwrap();
            let k =
                Var::from_tensor(&randn(&[co, ci, geo.kernel.0, geo.kernel.1], &mut rng)).unwrap();
            let y = conv2d(x.as_tensor(), k.as_tensor(), geo).unwrap();
            let reference = if geo.dilation.0 == geo.dilation.1
                && geo.stride.0 == geo.stride.1
                && geo.padding.0 == geo.padding.1
            {
                Some(
                    x.as_tensor()
                        .conv2d(
                            k.as_tensor(),
                            geo.padding.0,
                            geo.stride.0,
                            geo.dilation.0,
                            1,
                        )
                        .unwrap(),
                )
            } else {
                None
            };
            if let Some(r) = reference {
                assert_eq!(y.dims(), r.dims());
                assert!(max_abs_diff(&y, &r) < 1e-4, "{geo:?}");
            }
            let r = randn(y.dims(), &mut rng);
            let loss = |xt: &Tensor, kt: &Tensor| -> Tensor {
                conv2d(xt, kt, geo)
                    .unwrap()
                    .mul(&r)
                    .unwrap()
                    .sum_all()
                    .unwrap()
            };
            let grads = loss(x.as_tensor(), k.as_tensor()).backward().unwrap();
            let base: f32 = loss(x.as_tensor(), k.as_tensor()).to_scalar().unwrap();
            // The loss is linear in each argument, so a step of 1 gives the exact derivative
            // up to rounding.
            for (var, is_x) in [(&x, true), (&k, false)] {
                let g = grads
                    .get(var.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                let flat = var
                    .as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                for idx in 0..flat.len() {
                    let mut p = flat.clone();
                    p[idx] += 1.0;
                    let pt = Tensor::from_vec(p, var.dims(), &Device::Cpu).unwrap();
                    let lp: f32 = if is_x {
                        loss(&pt, k.as_tensor())
                    } else {
                        loss(x.as_tensor(), &pt)
                    }
                    .to_scalar()
                    .unwrap();
                    assert!(
                        (lp - base - g[idx]).abs() < 1e-2,
                        "{geo:?} {} {idx}: {} vs {}",
                        if is_x { "x" } else { "w" },
                        lp - base,
                        g[idx]
                    );
                }
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = SeededRng::new(1);
        let x = randn(&[1, 2, 3, 3], &mut rng);
        let w = randn(&[4, 2, 5, 5], &mut rng);
        assert!(conv2d(&x, &w, ConvGeometry::one_d(5, 0, 1)).is_err());
        let g = ConvGeometry {
            kernel: (5, 5),
            padding: (0, 0),
            dilation: (1, 1),
            stride: (1, 1),
        };
        assert!(conv2d(&x, &w, g).is_err(), "input smaller than the kernel");
        let w3 = randn(&[4, 3, 5, 5], &mut rng);
        assert!(conv2d(&x, &w3, g).is_err(), "channel mismatch");
        let xd = x.to_dtype(candle_core::DType::F64).unwrap();
        assert!(conv2d(&xd, &w, g).is_err(), "f64");
    }
}
