//! Optimisers, gradient clipping and the L1 penalty.
//!
//! candle-nn ships AdamW and a plain SGD without momentum; facevox adds SGD with (optionally
//! Nesterov) momentum and L2 weight decay, and its own AdamW (candle-nn's update, operation for
//! operation, with its moments readable so a checkpoint can save them), and wraps both behind
//! one [`Optimizer`] chosen by a serde [`OptimizerConfig`].

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Result as CResult, Tensor, TensorId, Var};
use candle_nn::ParamsAdamW;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which optimiser, with its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// AdamW (decoupled weight decay, Loshchilov & Hutter 2019).
    AdamW {
        /// Peak learning rate (the schedule scales it).
        lr: f64,
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator epsilon.
        eps: f64,
        /// Decoupled weight decay.
        weight_decay: f64,
    },
    /// Stochastic gradient descent with momentum and L2 weight decay.
    Sgd {
        /// Peak learning rate (the schedule scales it).
        lr: f64,
        /// Momentum coefficient (0 = plain SGD).
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 penalty added to the gradient (`weight_decay · w`).
        weight_decay: f64,
    },
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::AdamW {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
        }
    }
}

impl OptimizerConfig {
    /// The peak learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::AdamW { lr, .. } | OptimizerConfig::Sgd { lr, .. } => *lr,
        }
    }

    /// Checks the hyper-parameters are usable.
    pub fn validate(&self) -> Result<()> {
        let ok = match *self {
            OptimizerConfig::AdamW {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                lr > 0.0
                    && (0.0..1.0).contains(&beta1)
                    && (0.0..1.0).contains(&beta2)
                    && eps > 0.0
                    && weight_decay >= 0.0
            }
            OptimizerConfig::Sgd {
                lr,
                momentum,
                weight_decay,
                ..
            } => lr > 0.0 && (0.0..1.0).contains(&momentum) && weight_decay >= 0.0,
        };
        if ok && self.lr().is_finite() {
            Ok(())
        } else {
            Err(Error::InvalidConfig(format!(
                "bad optimiser settings: {self:?}"
            )))
        }
    }
}

/// SGD with momentum: `v ← μ·v + g + λ·w`, then `w ← w − lr·v` (or, with Nesterov,
/// `w ← w − lr·(g + λ·w + μ·v)`).
#[derive(Debug)]
pub struct SgdMomentum {
    vars: Vec<(Var, Option<Tensor>)>,
    lr: f64,
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
}

impl SgdMomentum {
    /// An optimiser over `vars`.
    pub fn new(vars: Vec<Var>, lr: f64, momentum: f64, nesterov: bool, weight_decay: f64) -> Self {
        Self {
            vars: vars.into_iter().map(|v| (v, None)).collect(),
            lr,
            momentum,
            nesterov,
            weight_decay,
        }
    }

    /// One update from `grads`; variables without a gradient (batch-norm running statistics)
    /// are left alone.
    pub fn step(&mut self, grads: &GradStore) -> CResult<()> {
        for (var, velocity) in self.vars.iter_mut() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let mut g = g.clone();
            if self.weight_decay > 0.0 {
                g = (g + (var.as_tensor() * self.weight_decay)?)?;
            }
            let v = match velocity.take() {
                Some(prev) if self.momentum > 0.0 => ((prev * self.momentum)? + &g)?,
                _ => g.clone(),
            };
            let direction = if self.nesterov {
                (&g + (&v * self.momentum)?)?
            } else {
                v.clone()
            };
            var.set(&(var.as_tensor() - (direction * self.lr)?)?)?;
            *velocity = Some(v);
        }
        Ok(())
    }
}

/// AdamW with decoupled weight decay: candle-nn's update, the same tensor operations in the
/// same order, so a run gives the same weights with either.
#[derive(Debug)]
pub struct AdamW {
    /// Each variable with its first and second moments.
    vars: Vec<(Var, Var, Var)>,
    step_t: usize,
    params: ParamsAdamW,
}

impl AdamW {
    /// An optimiser over the floating-point variables of `vars`.
    pub fn new(vars: Vec<Var>, params: ParamsAdamW) -> CResult<Self> {
        let vars = vars
            .into_iter()
            .filter(|v| v.dtype().is_float())
            .map(|var| {
                let m = Var::zeros(var.shape(), var.dtype(), var.device())?;
                let v = Var::zeros(var.shape(), var.dtype(), var.device())?;
                Ok((var, m, v))
            })
            .collect::<CResult<_>>()?;
        Ok(Self {
            vars,
            step_t: 0,
            params,
        })
    }

    /// One update from `grads`; variables without a gradient are left alone.
    pub fn step(&mut self, grads: &GradStore) -> CResult<()> {
        self.step_t += 1;
        let lr = self.params.lr;
        let lr_lambda = lr * self.params.weight_decay;
        let (beta1, beta2) = (self.params.beta1, self.params.beta2);
        let scale_m = 1f64 / (1f64 - beta1.powi(self.step_t as i32));
        let scale_v = 1f64 / (1f64 - beta2.powi(self.step_t as i32));
        for (theta, m, v) in &self.vars {
            if let Some(g) = grads.get(theta) {
                let next_m = ((m.as_tensor() * beta1)? + (g * (1.0 - beta1))?)?;
                let next_v = ((v.as_tensor() * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
                let m_hat = (&next_m * scale_m)?;
                let v_hat = (&next_v * scale_v)?;
                let next_theta = (theta.as_tensor() * (1f64 - lr_lambda))?;
                let adjusted_grad = (m_hat / (v_hat.sqrt()? + self.params.eps)?)?;
                let next_theta = (next_theta - (adjusted_grad * lr)?)?;
                m.set(&next_m)?;
                v.set(&next_v)?;
                theta.set(&next_theta)?;
            }
        }
        Ok(())
    }
}

/// What an optimiser carries from step to step, for a checkpoint: its step count and its
/// tensors, named `<slot>.<variable name>`.
#[derive(Debug, Default)]
pub(crate) struct OptimizerState {
    pub step: usize,
    pub tensors: HashMap<String, Tensor>,
}

/// The optimiser a training run uses.
#[derive(Debug)]
pub enum Optimizer {
    /// AdamW (the same update as candle-nn's).
    AdamW(AdamW),
    /// facevox's SGD with momentum.
    Sgd(SgdMomentum),
}

impl Optimizer {
    /// Builds the optimiser `config` describes over `vars`.
    pub fn new(config: &OptimizerConfig, vars: Vec<Var>) -> Result<Self> {
        config.validate()?;
        Ok(match *config {
            OptimizerConfig::AdamW {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => Optimizer::AdamW(AdamW::new(
                vars,
                ParamsAdamW {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                },
            )?),
            OptimizerConfig::Sgd {
                lr,
                momentum,
                nesterov,
                weight_decay,
            } => Optimizer::Sgd(SgdMomentum::new(vars, lr, momentum, nesterov, weight_decay)),
        })
    }

    /// Sets the learning rate for the next steps (the schedule calls this every step).
    pub fn set_learning_rate(&mut self, lr: f64) {
        match self {
            Optimizer::AdamW(o) => o.params.lr = lr,
            Optimizer::Sgd(o) => o.lr = lr,
        }
    }

    /// The current learning rate.
    pub fn learning_rate(&self) -> f64 {
        match self {
            Optimizer::AdamW(o) => o.params.lr,
            Optimizer::Sgd(o) => o.lr,
        }
    }

    /// The state to save, each tensor named after its variable (`names`: variable id to name).
    pub(crate) fn state(&self, names: &HashMap<TensorId, String>) -> Result<OptimizerState> {
        let name = |var: &Var| {
            names.get(&var.as_tensor().id()).cloned().ok_or_else(|| {
                Error::InvalidConfig("an optimised variable has no name in the model".into())
            })
        };
        let mut tensors = HashMap::new();
        let step = match self {
            Optimizer::AdamW(o) => {
                for (var, m, v) in &o.vars {
                    let n = name(var)?;
                    tensors.insert(format!("m.{n}"), m.as_tensor().copy()?);
                    tensors.insert(format!("v.{n}"), v.as_tensor().copy()?);
                }
                o.step_t
            }
            Optimizer::Sgd(o) => {
                for (var, velocity) in &o.vars {
                    if let Some(velocity) = velocity {
                        tensors.insert(format!("velocity.{}", name(var)?), velocity.copy()?);
                    }
                }
                0
            }
        };
        Ok(OptimizerState { step, tensors })
    }

    /// Puts back a [`state`](Self::state) saved from an optimiser over the same variables.
    pub(crate) fn load_state(
        &mut self,
        state: &OptimizerState,
        names: &HashMap<TensorId, String>,
    ) -> Result<()> {
        let find = |slot: &str, var: &Var| -> Result<Option<Tensor>> {
            let Some(n) = names.get(&var.as_tensor().id()) else {
                return Err(Error::InvalidConfig(
                    "an optimised variable has no name in the model".into(),
                ));
            };
            let Some(t) = state.tensors.get(&format!("{slot}.{n}")) else {
                return Ok(None);
            };
            if t.dims() != var.dims() {
                return Err(Error::InvalidConfig(format!(
                    "checkpoint: optimiser state {slot}.{n} is {:?}, the variable {:?}",
                    t.dims(),
                    var.dims()
                )));
            }
            Ok(Some(t.clone()))
        };
        match self {
            Optimizer::AdamW(o) => {
                for (var, m, v) in &o.vars {
                    match (find("m", var)?, find("v", var)?) {
                        (Some(tm), Some(tv)) => {
                            m.set(&tm)?;
                            v.set(&tv)?;
                        }
                        _ => {
                            return Err(Error::InvalidConfig(
                                "checkpoint: the optimiser state lacks a variable's moments".into(),
                            ))
                        }
                    }
                }
                o.step_t = state.step;
            }
            Optimizer::Sgd(o) => {
                for (var, velocity) in o.vars.iter_mut() {
                    *velocity = find("velocity", var)?;
                }
            }
        }
        Ok(())
    }

    /// One update.
    pub fn step(&mut self, grads: &GradStore) -> CResult<()> {
        match self {
            Optimizer::AdamW(o) => o.step(grads),
            Optimizer::Sgd(o) => o.step(grads),
        }
    }
}

/// Adds the sub-gradient of `l1 · Σ|w|` to the gradient of every variable in `vars` that has
/// one (weights only: pass the trainable weights, not batch-norm statistics).
pub fn add_l1_penalty(grads: &mut GradStore, vars: &[Var], l1: f64) -> CResult<()> {
    if l1 <= 0.0 {
        return Ok(());
    }
    for var in vars {
        let t = var.as_tensor();
        if let Some(g) = grads.get(t) {
            let updated = (g + (t.sign()? * l1)?)?;
            grads.insert(t, updated);
        }
    }
    Ok(())
}

/// The L1 norm `Σ|w|` over `vars` (for logging the penalty).
pub fn l1_norm(vars: &[Var]) -> CResult<f64> {
    let mut total = 0.0;
    for v in vars {
        total += v.as_tensor().abs()?.sum_all()?.to_scalar::<f32>()? as f64;
    }
    Ok(total)
}

/// Scales all gradients so their global L2 norm is at most `max_norm`; returns the norm before
/// clipping. A non-finite norm is an error (the step would destroy the weights).
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> CResult<f64> {
    let mut sq = 0.0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = sq.sqrt();
    if !norm.is_finite() {
        candle_core::bail!("gradient norm is not finite ({norm})");
    }
    if max_norm > 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for v in vars {
            let t = v.as_tensor();
            if let Some(g) = grads.get(t) {
                let scaled = (g * scale)?;
                grads.insert(t, scaled);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::Optimizer as _;

    fn quadratic_descent(config: OptimizerConfig, steps: usize) -> f32 {
        // Minimise |w - 3|² from w = 0.
        let w = Var::zeros(4, DType::F32, &Device::Cpu).unwrap();
        let mut opt = Optimizer::new(&config, vec![w.clone()]).unwrap();
        for _ in 0..steps {
            let loss = (w.as_tensor() - 3.0)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = loss.backward().unwrap();
            opt.step(&grads).unwrap();
        }
        w.as_tensor().to_vec1::<f32>().unwrap()[0]
    }

    #[test]
    fn sgd_momentum_matches_hand_computed_steps() {
        // g = 2(w - 3). Step 1: w=0, g=-6, v=-6, w=0.6. Step 2: g=-4.8, v=0.9·-6-4.8=-10.2,
        // w = 0.6 + 1.02 = 1.62.
        let cfg = OptimizerConfig::Sgd {
            lr: 0.1,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        };
        assert!((quadratic_descent(cfg.clone(), 2) - 1.62).abs() < 1e-5);
        assert!((quadratic_descent(cfg, 200) - 3.0).abs() < 1e-3);
        let nesterov = OptimizerConfig::Sgd {
            lr: 0.05,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.0,
        };
        assert!((quadratic_descent(nesterov, 200) - 3.0).abs() < 1e-3);
    }

    #[test]
    fn adamw_converges_and_weight_decay_pulls_towards_zero() {
        let cfg = OptimizerConfig::AdamW {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        assert!((quadratic_descent(cfg, 500) - 3.0).abs() < 1e-2);
        let decayed = OptimizerConfig::Sgd {
            lr: 0.1,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 1.0,
        };
        // The L2 term adds λ·w to the gradient 2(w − 3): the minimum of (w − 3)² + ½·w² is w = 2.
        assert!((quadratic_descent(decayed, 300) - 2.0).abs() < 1e-3);
    }

    #[test]
    fn clipping_rescales_to_the_limit_and_l1_adds_sign() {
        let w = Var::new(&[1f32, -2.0], &Device::Cpu).unwrap();
        let loss = (w.as_tensor() * 10.0).unwrap().sum_all().unwrap();
        let mut grads = loss.backward().unwrap();
        let norm = clip_grad_norm(&mut grads, std::slice::from_ref(&w), 1.0).unwrap();
        assert!((norm - 200f64.sqrt()).abs() < 1e-4);
        let g = grads.get(w.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert!(((g[0] * g[0] + g[1] * g[1]).sqrt() - 1.0).abs() < 1e-4);
        add_l1_penalty(&mut grads, std::slice::from_ref(&w), 0.5).unwrap();
        let g2 = grads.get(w.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert!((g2[0] - (g[0] + 0.5)).abs() < 1e-6 && (g2[1] - (g[1] - 0.5)).abs() < 1e-6);
        assert!((l1_norm(&[w]).unwrap() - 3.0).abs() < 1e-6);
        assert!(OptimizerConfig::Sgd {
            lr: -1.0,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0
        }
        .validate()
        .is_err());
    }

    #[test]
    fn adamw_is_candle_nns_update_bit_for_bit() {
        let params = ParamsAdamW {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.05,
        };
        let start = Tensor::new(&[[0.5f32, -1.25, 2.0], [0.1, 0.0, -0.7]], &Device::Cpu).unwrap();
        let ours_var = Var::from_tensor(&start).unwrap();
        let theirs_var = Var::from_tensor(&start).unwrap();
        let mut ours = AdamW::new(vec![ours_var.clone()], params.clone()).unwrap();
        let mut theirs = candle_nn::AdamW::new(vec![theirs_var.clone()], params).unwrap();
        for step in 0..20 {
            // A loss whose gradient changes with the weights and the step.
            let loss = |v: &Var| {
                ((v.as_tensor().sqr().unwrap() * (1.0 + step as f64 * 0.1)).unwrap()
                    - v.as_tensor().sin().unwrap())
                .unwrap()
                .sum_all()
                .unwrap()
            };
            ours.step(&loss(&ours_var).backward().unwrap()).unwrap();
            theirs.step(&loss(&theirs_var).backward().unwrap()).unwrap();
            assert_eq!(
                ours_var.as_tensor().to_vec2::<f32>().unwrap(),
                theirs_var.as_tensor().to_vec2::<f32>().unwrap(),
                "step {step}"
            );
        }
    }
}
