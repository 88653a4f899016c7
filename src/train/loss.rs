//! Losses: masked multi-task cross-entropy with soft targets and class weights.

use candle_core::{Result as CResult, Tensor, D};

/// Cross-entropy of `logits` `(B, C)` against soft `targets` `(B, C)` (rows sum to 1: one-hot,
/// label-smoothed, mixup-blended or vote distributions), weighted per sample by `weights` `(B)`.
///
/// A weight of 0 masks a sample out entirely (it lacks this task's label); other weights carry
/// class balancing. The loss is `Σ wᵢ·CEᵢ / Σ wᵢ`, and exactly 0 (with no gradient) when every
/// weight is 0, so a batch without any label for a head does not train that head.
pub fn masked_soft_cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    weights: &Tensor,
) -> CResult<Tensor> {
    let total: f32 = weights.sum_all()?.to_scalar()?;
    if total <= 0.0 {
        return Tensor::zeros((), logits.dtype(), logits.device());
    }
    let log_p = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let per_sample = (targets * log_p)?.sum(D::Minus1)?.neg()?;
    (per_sample * weights)?.sum_all()? / total as f64
}

/// Soft targets for one sample: one-hot on `class` over `n` classes, smoothed by `smoothing`
/// (mass `smoothing` spread evenly over all classes).
pub fn smoothed_one_hot(class: usize, n: usize, smoothing: f32) -> Vec<f32> {
    let base = smoothing / n as f32;
    let mut v = vec![base; n];
    v[class] += 1.0 - smoothing;
    v
}

/// Inverse-frequency class weights `N / (K · nₖ)` (1 on average over samples); classes with no
/// samples get 0.
pub fn balanced_class_weights(counts: &[usize]) -> Vec<f32> {
    let n: usize = counts.iter().sum();
    let k = counts.iter().filter(|&&c| c > 0).count().max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n as f32 / (k as f32 * c as f32)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn masked_loss_matches_hand_computation_and_masks_gradients() {
        let dev = Device::Cpu;
        // Two samples, 2 classes. Sample 0 logits (0, ln 3): p = (1/4, 3/4), target class 1
        // → CE = -ln(3/4). Sample 1 is masked out.
        let logits = Var::new(&[[0f32, 3f32.ln()], [5.0, -5.0]], &dev).unwrap();
        let targets = Tensor::new(&[[0f32, 1.0], [0.0, 1.0]], &dev).unwrap();
        let weights = Tensor::new(&[1f32, 0.0], &dev).unwrap();
        let loss = masked_soft_cross_entropy(logits.as_tensor(), &targets, &weights).unwrap();
        let v: f32 = loss.to_scalar().unwrap();
        assert!((v - (-(0.75f32).ln())).abs() < 1e-6, "{v}");
        let grads = loss.backward().unwrap();
        let g = grads
            .get(logits.as_tensor())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        // d CE / d logits = p - target for the live sample, 0 for the masked one.
        assert!((g[0][0] - 0.25).abs() < 1e-6 && (g[0][1] + 0.25).abs() < 1e-6);
        assert_eq!(g[1], vec![0.0, 0.0]);
        // All masked: zero loss.
        let none = Tensor::new(&[0f32, 0.0], &dev).unwrap();
        let z: f32 = masked_soft_cross_entropy(logits.as_tensor(), &targets, &none)
            .unwrap()
            .to_scalar()
            .unwrap();
        assert_eq!(z, 0.0);
        // Weights scale: a weight of 2 on a sample counts it twice.
        let w2 = Tensor::new(&[2f32, 1.0], &dev).unwrap();
        let t2 = Tensor::new(&[[0f32, 1.0], [1.0, 0.0]], &dev).unwrap();
        let l2: f32 = masked_soft_cross_entropy(logits.as_tensor(), &t2, &w2)
            .unwrap()
            .to_scalar()
            .unwrap();
        let ce1 = (1.0f32 + (-10f32).exp()).ln(); // sample 1, class 0 with logits (5, -5)
        assert!((l2 - (2.0 * -(0.75f32).ln() + ce1) / 3.0).abs() < 1e-5);
    }

    #[test]
    fn class_weights_and_smoothing() {
        assert_eq!(
            balanced_class_weights(&[30, 10, 0]),
            vec![40.0 / 60.0, 2.0, 0.0]
        );
        let t = smoothed_one_hot(1, 4, 0.2);
        assert!((t.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((t[1] - 0.85).abs() < 1e-6 && (t[0] - 0.05).abs() < 1e-6);
    }
}
