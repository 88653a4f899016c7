//! Linear probes on frozen embeddings: L2-regularised logistic regression fitted by Newton's
//! method, its penalty chosen by cross-validation by speaker, and the perceived-gender head on
//! the pretrained speaker encoder ([`crate::model::SpeakerGenderHead`]) built from it.

use serde::{Deserialize, Serialize};

use crate::eval::{fit_temperature, group_k_fold};
use crate::model::SpeakerGenderHead;
use crate::{Error, Result};

/// A fitted binary logistic regression, `P(1 | x) = sigmoid(w · x + b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// `w`.
    pub weights: Vec<f64>,
    /// `b`.
    pub bias: f64,
}

impl Logistic {
    /// `P(1 | x)`.
    pub fn predict(&self, x: &[f32]) -> f64 {
        let z = self.bias
            + self
                .weights
                .iter()
                .zip(x)
                .map(|(w, v)| w * *v as f64)
                .sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// Fits `min C · Σ sᵢ · logloss(yᵢ, σ(w · xᵢ + b)) + ½‖w‖²` (scikit-learn's `C`; the bias is
/// not penalised) by Newton's method. `y` holds 0 or 1, `s` the sample weights.
pub fn fit_logistic(x: &[Vec<f32>], y: &[u8], s: &[f32], c: f64) -> Result<Logistic> {
    let n = x.len();
    if n == 0 || y.len() != n || s.len() != n {
        return Err(Error::InvalidConfig(format!(
            "logistic regression: {n} rows, {} labels, {} weights",
            y.len(),
            s.len()
        )));
    }
    let d = x[0].len();
    if x.iter()
        .any(|r| r.len() != d || r.iter().any(|v| !v.is_finite()))
        || y.iter().any(|&v| v > 1)
        || s.iter().any(|&v| !(v.is_finite() && v >= 0.0))
        || !(c.is_finite() && c > 0.0)
    {
        return Err(Error::InvalidConfig(
            "logistic regression: rows of one length, finite values, labels 0/1, weights >= 0 and C > 0".into(),
        ));
    }
    let m = d + 1;
    let mut theta = vec![0f64; m];
    let mut prev = f64::INFINITY;
    // The point the last step started from and the step, to halve it if the loss rose.
    let mut last: Option<(Vec<f64>, Vec<f64>)> = None;
    for _ in 0..100 {
        let mut grad = vec![0f64; m];
        let mut hess = vec![0f64; m * m];
        let mut loss = 0.0;
        let mut row = vec![0f64; m];
        for i in 0..n {
            for (r, v) in row.iter_mut().zip(&x[i]) {
                *r = *v as f64;
            }
            row[d] = 1.0;
            let z: f64 = row.iter().zip(&theta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let yi = y[i] as f64;
            let si = s[i] as f64 * c;
            loss += si * (z.max(0.0) - z * yi + (1.0 + (-z.abs()).exp()).ln());
            let g = si * (p - yi);
            let h = si * p * (1.0 - p);
            for a in 0..m {
                grad[a] += g * row[a];
                let ha = h * row[a];
                if ha != 0.0 {
                    for b in a..m {
                        hess[a * m + b] += ha * row[b];
                    }
                }
            }
        }
        for a in 0..d {
            loss += 0.5 * theta[a] * theta[a];
            grad[a] += theta[a];
            hess[a * m + a] += 1.0;
        }
        // A full Newton step can overshoot on nearly separable data: go back and take half.
        if loss > prev * (1.0 + 1e-12) {
            if let Some((from, step)) = &mut last {
                step.iter_mut().for_each(|v| *v *= 0.5);
                for ((t, f), st) in theta.iter_mut().zip(from.iter()).zip(step.iter()) {
                    *t = f - st;
                }
                if step.iter().all(|v| v.abs() < 1e-12) {
                    theta.copy_from_slice(from);
                    break;
                }
                continue;
            }
        }
        hess[d * m + d] += 1e-9;
        for a in 0..m {
            for b in 0..a {
                hess[a * m + b] = hess[b * m + a];
            }
        }
        let step = cholesky_solve(&mut hess, &grad, m)
            .ok_or_else(|| Error::InvalidConfig("logistic regression: singular Hessian".into()))?;
        let from = theta.clone();
        for (t, st) in theta.iter_mut().zip(&step) {
            *t -= st;
        }
        let size = step.iter().map(|v| v.abs()).fold(0.0, f64::max);
        if size < 1e-8 || (prev - loss).abs() < 1e-10 * loss.abs().max(1.0) {
            break;
        }
        prev = loss;
        last = Some((from, step));
    }
    Ok(Logistic {
        bias: theta[d],
        weights: theta[..d].to_vec(),
    })
}

/// Solves `A x = b` for a symmetric positive-definite `A` (`n`x`n`, row-major, overwritten).
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut sum = a[j * n + j];
        for k in 0..j {
            sum -= a[j * n + k] * a[j * n + k];
        }
        if sum <= 0.0 || !sum.is_finite() {
            return None;
        }
        let l = sum.sqrt();
        a[j * n + j] = l;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / l;
        }
    }
    let mut y = vec![0f64; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * y[k];
        }
        y[i] = s / a[i * n + i];
    }
    let mut x = vec![0f64; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= a[k * n + i] * x[k];
        }
        x[i] = s / a[i * n + i];
    }
    Some(x)
}

/// What [`fit_speaker_gender`] measured on its way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpeakerGenderFit {
    /// Each candidate `C` with its cross-validated mean log loss (sample-weighted).
    pub c_log_loss: Vec<(f64, f64)>,
    /// The `C` chosen (lowest log loss).
    pub c: f64,
    /// Number of speaker folds.
    pub folds: usize,
    /// The temperature fitted on the out-of-fold outputs at the chosen `C`.
    pub temperature: f32,
    /// Every training row's out-of-fold `P(female)` at the chosen `C` (before the temperature).
    pub out_of_fold: Vec<f64>,
}

/// The perceived-gender head on speaker embeddings: the penalty `C` chosen among `cs` by
/// `folds`-fold cross-validation by speaker (`groups`; log loss weighted by `weights`), the
/// regression refitted on every row, and its temperature fitted on the out-of-fold outputs,
/// so it is set on speakers the regression had not heard. `female[i]` is 1 for a female label.
pub fn fit_speaker_gender(
    embeddings: &[Vec<f32>],
    female: &[u8],
    groups: &[String],
    weights: &[f32],
    cs: &[f64],
    folds: usize,
    seed: u64,
) -> Result<(SpeakerGenderHead, SpeakerGenderFit)> {
    if groups.len() != embeddings.len() || cs.is_empty() {
        return Err(Error::InvalidConfig(
            "speaker gender: one group per row and at least one C".into(),
        ));
    }
    let split = group_k_fold(groups, folds, seed)?;
    let mut fold_of = vec![0usize; embeddings.len()];
    for (k, f) in split.iter().enumerate() {
        for &i in &f.test {
            fold_of[i] = k;
        }
    }
    let mut best: Option<(f64, f64, Vec<f64>)> = None;
    let mut c_log_loss = Vec::new();
    for &c in cs {
        let mut oof = vec![0f64; embeddings.len()];
        for k in 0..split.len() {
            let train: Vec<usize> = (0..embeddings.len()).filter(|&i| fold_of[i] != k).collect();
            let pick = |v: &[f32]| train.iter().map(|&i| v[i]).collect::<Vec<f32>>();
            let xs: Vec<Vec<f32>> = train.iter().map(|&i| embeddings[i].clone()).collect();
            let ys: Vec<u8> = train.iter().map(|&i| female[i]).collect();
            let model = fit_logistic(&xs, &ys, &pick(weights), c)?;
            for i in (0..embeddings.len()).filter(|&i| fold_of[i] == k) {
                oof[i] = model.predict(&embeddings[i]);
            }
        }
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..oof.len() {
            let p = if female[i] == 1 { oof[i] } else { 1.0 - oof[i] };
            num -= weights[i] as f64 * p.max(1e-12).ln();
            den += weights[i] as f64;
        }
        let ll = num / den.max(1e-12);
        c_log_loss.push((c, ll));
        if best.as_ref().is_none_or(|b| ll < b.1) {
            best = Some((c, ll, oof));
        }
    }
    let (c, _, out_of_fold) = best.expect("at least one C");
    let rows: Vec<[f32; 2]> = out_of_fold
        .iter()
        .map(|&p| [(1.0 - p) as f32, p as f32])
        .collect();
    let labels: Vec<usize> = female.iter().map(|&v| v as usize).collect();
    let temperature = fit_temperature(&rows, &labels)?;
    let model = fit_logistic(embeddings, female, weights, c)?;
    let head = SpeakerGenderHead {
        weights: model.weights.iter().map(|&v| v as f32).collect(),
        bias: model.bias as f32,
        temperature,
        c,
        provenance: serde_json::Value::Null,
    };
    Ok((
        head,
        SpeakerGenderFit {
            c_log_loss,
            c,
            folds: split.len(),
            temperature,
            out_of_fold,
        },
    ))
}

/// One clip's out-of-fold perceived gender from the `speaker_gender` example's report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakerGenderOof {
    /// `P(female)`, the head's temperature applied.
    pub p_female: f32,
    /// The label: `true` for female.
    pub female: bool,
}

/// Reads the `cv.out_of_fold` rows of a `speaker_gender` report (`report.json`, written with
/// `--cv`), keyed by `(group, index)`: the speaker (e.g. `actor_01`) and the clip's rank
/// among the manifest's sorted paths, which is its index in a `train --ravdess`
/// cross-validation. Callers join on that key and check the labels agree.
pub fn read_speaker_gender_oof(
    path: &std::path::Path,
) -> Result<std::collections::BTreeMap<(String, usize), SpeakerGenderOof>> {
    let bad = |what: &str| {
        Error::InvalidConfig(format!(
            "{}: {what} (re-run the speaker_gender example with --cv)",
            path.display()
        ))
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let report: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let rows = report["cv"]["out_of_fold"]
        .as_array()
        .ok_or_else(|| bad("no cv.out_of_fold"))?;
    let mut out = std::collections::BTreeMap::new();
    for r in rows {
        let group = r["group"]
            .as_str()
            .ok_or_else(|| bad("a row without group"))?;
        let index = r["index"]
            .as_u64()
            .ok_or_else(|| bad("a row without index"))?;
        let p = r["p_female"]
            .as_f64()
            .ok_or_else(|| bad("a row without p_female"))?;
        let female = match r["female"].as_u64() {
            Some(0) => false,
            Some(1) => true,
            _ => return Err(bad("a row without a 0/1 female label")),
        };
        if !(0.0..=1.0).contains(&p) {
            return Err(bad("p_female outside 0..=1"));
        }
        out.insert(
            (group.to_string(), index as usize),
            SpeakerGenderOof {
                p_female: p as f32,
                female,
            },
        );
    }
    Ok(out)
}

/// Clip `(group, index)`'s `[P(male), P(female)]` from [`read_speaker_gender_oof`]'s
/// rows, checked against the label the caller has for it (`gender`): a missing row or a
/// disagreeing label means the two runs' clips do not line up, an
/// [`Error::InvalidConfig`].
pub fn speaker_gender_probs(
    rows: &std::collections::BTreeMap<(String, usize), SpeakerGenderOof>,
    group: &str,
    index: usize,
    gender: Option<crate::Gender>,
) -> Result<[f32; 2]> {
    let r = rows.get(&(group.to_string(), index)).ok_or_else(|| {
        Error::InvalidConfig(format!("clip {group}/{index}: no speaker-head output"))
    })?;
    if gender.map(|g| g == crate::Gender::Female) != Some(r.female) {
        return Err(Error::InvalidConfig(format!(
            "clip {group}/{index}: labels disagree"
        )));
    }
    Ok([1.0 - r.p_female, r.p_female])
}

#[cfg(test)]
mod tests {
    #[test]
    fn speaker_gender_oof_rows_are_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("facevox-oof-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        let good = serde_json::json!({"cv": {"out_of_fold": [
            {"voice": "a.wav", "index": 3, "group": "actor_01", "female": 0, "p_female": 0.1},
            {"voice": "b.wav", "index": 7, "group": "actor_02", "female": 1, "p_female": 0.8}
        ]}});
        std::fs::write(&path, good.to_string()).unwrap();
        let m = super::read_speaker_gender_oof(&path).unwrap();
        assert_eq!(m.len(), 2);
        let r = m[&("actor_02".to_string(), 7)];
        assert!(r.female && (r.p_female - 0.8).abs() < 1e-6);
        let p = super::speaker_gender_probs(&m, "actor_02", 7, Some(crate::Gender::Female));
        assert!((p.unwrap()[1] - 0.8).abs() < 1e-6);
        for (g, i, label) in [
            ("actor_02", 7, crate::Gender::Male),
            ("actor_02", 8, crate::Gender::Female),
        ] {
            assert!(matches!(
                super::speaker_gender_probs(&m, g, i, Some(label)),
                Err(crate::Error::InvalidConfig(_))
            ));
        }
        for bad in [
            serde_json::json!({"heldout": {}}),
            serde_json::json!({"cv": {"out_of_fold": [{"group": "a", "index": 1, "female": 2, "p_female": 0.5}]}}),
            serde_json::json!({"cv": {"out_of_fold": [{"group": "a", "index": 1, "female": 1, "p_female": 1.5}]}}),
            serde_json::json!({"cv": {"out_of_fold": [{"group": "a", "female": 1, "p_female": 0.5}]}}),
        ] {
            std::fs::write(&path, bad.to_string()).unwrap();
            assert!(matches!(
                super::read_speaker_gender_oof(&path),
                Err(crate::Error::InvalidConfig(_))
            ));
        }
        std::fs::write(&path, "not json").unwrap();
        assert!(super::read_speaker_gender_oof(&path).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    use super::*;

    #[test]
    fn newton_matches_a_closed_case_and_separates() {
        // One feature, labels split at 0: the fitted boundary sits near 0 and the penalty
        // keeps the weight finite.
        let x: Vec<Vec<f32>> = (-20..20).map(|i| vec![i as f32 / 10.0]).collect();
        let y: Vec<u8> = (-20..20).map(|i| (i >= 0) as u8).collect();
        let s = vec![1.0; x.len()];
        let m = fit_logistic(&x, &y, &s, 10.0).unwrap();
        assert!(m.weights[0] > 2.0 && m.weights[0].is_finite());
        assert!(m.predict(&[-0.5]) < 0.2 && m.predict(&[0.5]) > 0.8);
        // A stronger penalty gives a smaller weight.
        let weak = fit_logistic(&x, &y, &s, 0.01).unwrap();
        assert!(weak.weights[0].abs() < m.weights[0].abs());
        // Gradient of the objective is zero at the optimum.
        let c = 10.0;
        let g: f64 = x
            .iter()
            .zip(&y)
            .map(|(r, &l)| c * (m.predict(r) - l as f64) * r[0] as f64)
            .sum::<f64>()
            + m.weights[0];
        assert!(g.abs() < 1e-6, "{g}");
        assert!(fit_logistic(&x, &y[..3], &s, 1.0).is_err());
        assert!(fit_logistic(&x, &y, &s, 0.0).is_err());
    }

    #[test]
    fn separable_data_with_a_weak_penalty_still_converges() {
        // Two points per class far apart and C huge: plain Newton steps overshoot from zero;
        // the halving keeps the loss going down and the weights finite.
        let x: Vec<Vec<f32>> = vec![vec![-3.0], vec![-2.0], vec![2.0], vec![3.0]];
        let y = [0u8, 0, 1, 1];
        let s = vec![1.0; 4];
        let m = fit_logistic(&x, &y, &s, 1e6).unwrap();
        assert!(m.weights[0].is_finite() && m.weights[0] > 1.0, "{m:?}");
        assert!(m.predict(&[-2.0]) < 0.01 && m.predict(&[2.0]) > 0.99);
    }

    #[test]
    fn speaker_gender_head_chooses_c_by_speaker() {
        // Two noisy clusters, four rows per speaker.
        let mut state = 7u64;
        let mut noise = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) as f32
        };
        let (mut x, mut y, mut g) = (Vec::new(), Vec::new(), Vec::new());
        for spk in 0..40 {
            let f = (spk % 2) as u8;
            for _ in 0..4 {
                let c = if f == 1 { 0.3 } else { -0.3 };
                x.push(vec![c + noise(), noise(), noise()]);
                y.push(f);
                g.push(format!("s{spk}"));
            }
        }
        let w = vec![1.0; x.len()];
        let (head, fit) = fit_speaker_gender(&x, &y, &g, &w, &[0.1, 1.0, 10.0], 5, 1).unwrap();
        assert_eq!(fit.c_log_loss.len(), 3);
        assert_eq!(fit.out_of_fold.len(), x.len());
        assert!(head.temperature > 0.0);
        head.validate(3).unwrap();
        assert!(head.validate(4).is_err());
        let acc = x
            .iter()
            .zip(&y)
            .filter(|(r, &l)| (head.predict(r)[1] > 0.5) as u8 == l)
            .count() as f64
            / x.len() as f64;
        assert!(acc > 0.8, "{acc}");
    }
}
