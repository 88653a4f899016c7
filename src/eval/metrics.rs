//! Classification metrics computed from class indices: the confusion matrix and everything
//! derived from it (accuracy, per-class precision / recall / F1, macro-F1, unweighted average
//! recall, balanced accuracy), the ROC curve and its AUC for a binary score, and an argmax
//! restricted to a subset of the model's classes.
//!
//! Classes are plain indices `0..n_classes`, so the same code serves every label set (the 8
//! RAVDESS emotions, the 8 face emotions, the 2 genders). Names are attached later, by the
//! reports in [`super::report`].
//!
//! # Conventions for classes with no support or no predictions
//!
//! These follow scikit-learn with `zero_division=0`, so numbers can be checked against it:
//!
//! * **precision** of a class that is never predicted is `0/0`, reported as **0**;
//! * **recall** of a class that never occurs in the ground truth is `0/0`, reported as **0**;
//! * **F1** is 0 whenever precision + recall is 0;
//! * **macro-F1** averages F1 over the classes that occur in the ground truth *or* in the
//!   predictions (scikit-learn's default `labels`, the union of both); a class that occurs in
//!   neither has no defined F1 and is left out, while a class that is predicted but never true
//!   counts with F1 = 0;
//! * **UAR** (unweighted average recall) averages recall over the classes with support > 0
//!   only, exactly like scikit-learn's `balanced_accuracy_score`; for two classes it is the
//!   balanced accuracy.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A confusion matrix over `n` classes: `counts[t][p]` is the number of samples whose true
/// class is `t` and whose predicted class is `p` (rows = true, columns = predicted).
///
/// It always holds at least one sample, so accuracy and the other rates are defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// Counts (true, predicted) pairs of class indices in `0..n_classes`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `n_classes` is 0, the slices differ in length or are
    /// empty, or an index is `>= n_classes`.
    pub fn from_predictions(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Self> {
        check_lengths("y_true", y_true.len(), "y_pred", y_pred.len())?;
        if n_classes == 0 {
            return Err(Error::InvalidConfig("n_classes must be at least 1".into()));
        }
        let mut counts = vec![vec![0usize; n_classes]; n_classes];
        for (i, (&t, &p)) in y_true.iter().zip(y_pred).enumerate() {
            if t >= n_classes || p >= n_classes {
                return Err(Error::InvalidConfig(format!(
                    "sample {i}: class index (true {t}, predicted {p}) out of range for \
                     {n_classes} classes"
                )));
            }
            counts[t][p] += 1;
        }
        Ok(ConfusionMatrix { counts })
    }

    /// Wraps existing counts (rows = true, columns = predicted), for example a matrix read back
    /// from a report or the sum of several folds.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when the matrix is empty or not square, or holds no sample.
    pub fn from_counts(counts: Vec<Vec<usize>>) -> Result<Self> {
        let n = counts.len();
        if n == 0 {
            return Err(Error::InvalidConfig(
                "confusion matrix has no classes".into(),
            ));
        }
        if let Some((row, r)) = counts.iter().enumerate().find(|(_, r)| r.len() != n) {
            return Err(Error::InvalidConfig(format!(
                "confusion matrix is not square: row {row} has {} columns, expected {n}",
                r.len()
            )));
        }
        let matrix = ConfusionMatrix { counts };
        if matrix.total() == 0 {
            return Err(Error::InvalidConfig(
                "confusion matrix holds no sample".into(),
            ));
        }
        Ok(matrix)
    }

    /// Adds another matrix over the same classes cell by cell (pooling folds).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when the two matrices have different numbers of classes.
    pub fn add(&mut self, other: &ConfusionMatrix) -> Result<()> {
        if other.n_classes() != self.n_classes() {
            return Err(Error::InvalidConfig(format!(
                "cannot add a {}-class confusion matrix to a {}-class one",
                other.n_classes(),
                self.n_classes()
            )));
        }
        for (row, other_row) in self.counts.iter_mut().zip(&other.counts) {
            for (cell, &o) in row.iter_mut().zip(other_row) {
                *cell += o;
            }
        }
        Ok(())
    }

    /// Number of classes (rows and columns).
    pub fn n_classes(&self) -> usize {
        self.counts.len()
    }

    /// The raw counts, `counts()[true][predicted]`.
    pub fn counts(&self) -> &[Vec<usize>] {
        &self.counts
    }

    /// Number of samples of true class `true_class` predicted as `predicted_class`.
    ///
    /// # Panics
    ///
    /// When either index is `>= n_classes()`.
    pub fn get(&self, true_class: usize, predicted_class: usize) -> usize {
        self.counts[true_class][predicted_class]
    }

    /// Total number of samples.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Number of correctly classified samples (the diagonal).
    pub fn correct(&self) -> usize {
        (0..self.n_classes()).map(|c| self.counts[c][c]).sum()
    }

    /// Support of `class`: how many samples truly belong to it (its row sum).
    pub fn support(&self, class: usize) -> usize {
        self.counts[class].iter().sum()
    }

    /// How many samples were predicted as `class` (its column sum).
    pub fn predicted_count(&self, class: usize) -> usize {
        self.counts.iter().map(|row| row[class]).sum()
    }

    /// Fraction of samples classified correctly.
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Precision of `class`: correct predictions of it over all predictions of it; 0 when the
    /// class is never predicted (`zero_division=0`).
    pub fn precision(&self, class: usize) -> f64 {
        ratio(self.counts[class][class], self.predicted_count(class))
    }

    /// Recall of `class`: correct predictions of it over its support; 0 when the class has no
    /// support (`zero_division=0`).
    pub fn recall(&self, class: usize) -> f64 {
        ratio(self.counts[class][class], self.support(class))
    }

    /// F1 of `class`, the harmonic mean of precision and recall; 0 when both are 0.
    pub fn f1(&self, class: usize) -> f64 {
        let (p, r) = (self.precision(class), self.recall(class));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Mean F1 over the classes that occur in the ground truth or in the predictions (see the
    /// module docs for why classes absent from both are left out).
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<usize> = (0..self.n_classes())
            .filter(|&c| self.support(c) > 0 || self.predicted_count(c) > 0)
            .collect();
        // `present` is never empty: the matrix holds at least one sample.
        present.iter().map(|&c| self.f1(c)).sum::<f64>() / present.len() as f64
    }

    /// Unweighted average recall: mean recall over the classes with support > 0.
    pub fn uar(&self) -> f64 {
        let supported: Vec<usize> = (0..self.n_classes())
            .filter(|&c| self.support(c) > 0)
            .collect();
        supported.iter().map(|&c| self.recall(c)).sum::<f64>() / supported.len() as f64
    }

    /// Balanced accuracy, defined here for binary problems only (where it equals
    /// [`uar`](Self::uar)); `None` for any other number of classes.
    pub fn balanced_accuracy(&self) -> Option<f64> {
        (self.n_classes() == 2).then(|| self.uar())
    }

    /// Each row divided by its sum, so cell `[t][p]` is the fraction of class `t` predicted as
    /// `p` (the diagonal is the per-class recall). Rows with no support are all zeros.
    pub fn row_normalized(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|row| {
                let sum: usize = row.iter().sum();
                row.iter().map(|&c| ratio(c, sum)).collect()
            })
            .collect()
    }
}

/// `num / den`, or 0 when `den` is 0.
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Fails unless the two lengths are equal and non-zero.
pub(crate) fn check_lengths(a_name: &str, a: usize, b_name: &str, b: usize) -> Result<()> {
    if a != b {
        return Err(Error::InvalidConfig(format!(
            "{a_name} has {a} entries but {b_name} has {b}"
        )));
    }
    if a == 0 {
        return Err(Error::InvalidConfig("no samples to evaluate".into()));
    }
    Ok(())
}

/// One point of a ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    /// Score threshold: samples with `score >= threshold` are predicted positive. `None` for
    /// the first point (0, 0), whose threshold lies above every score.
    pub threshold: Option<f64>,
    /// False-positive rate at this threshold: false positives / negatives.
    pub fpr: f64,
    /// True-positive rate (recall of the positive class) at this threshold.
    pub tpr: f64,
}

/// A ROC curve for a binary score, with its area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    /// Points in order of decreasing threshold, from (0, 0) to (1, 1); one per distinct score
    /// plus the starting point, so tied scores form a single (possibly diagonal) step.
    pub points: Vec<RocPoint>,
    /// Area under the curve by the trapezoid rule. Because tied scores share one point, it
    /// equals the Mann–Whitney U statistic / (positives × negatives) with ties counting 1/2:
    /// the probability that a random positive scores above a random negative.
    pub auc: f64,
    /// Number of positive samples.
    pub n_positive: usize,
    /// Number of negative samples.
    pub n_negative: usize,
}

/// Computes the ROC curve and AUC of `scores` (higher = more likely positive) against
/// `is_positive`.
///
/// Thresholds are the distinct scores in decreasing order. At threshold `s` every sample with
/// `score >= s` is predicted positive, which gives one (fpr, tpr) point per distinct score;
/// the curve starts at (0, 0) and, since the lowest threshold predicts everything positive,
/// ends at (1, 1). The area is computed exactly in integer arithmetic before the final
/// division.
///
/// # Errors
///
/// [`Error::InvalidConfig`] when the slices differ in length or are empty, a score is NaN or
/// infinite, or only one class is present (the AUC is then undefined; this function reports
/// it as an error rather than returning NaN).
pub fn roc_curve<T: Copy + Into<f64>>(is_positive: &[bool], scores: &[T]) -> Result<RocCurve> {
    check_lengths("is_positive", is_positive.len(), "scores", scores.len())?;
    let mut pairs: Vec<(f64, bool)> = Vec::with_capacity(scores.len());
    for (i, (&s, &pos)) in scores.iter().zip(is_positive).enumerate() {
        let s: f64 = s.into();
        if !s.is_finite() {
            return Err(Error::InvalidConfig(format!(
                "score {i} is not finite ({s})"
            )));
        }
        pairs.push((s, pos));
    }
    let n_positive = is_positive.iter().filter(|&&p| p).count();
    let n_negative = is_positive.len() - n_positive;
    if n_positive == 0 || n_negative == 0 {
        return Err(Error::InvalidConfig(format!(
            "ROC/AUC needs both classes: {n_positive} positive and {n_negative} negative samples"
        )));
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));

    let mut points = vec![RocPoint {
        threshold: None,
        fpr: 0.0,
        tpr: 0.0,
    }];
    // Twice the area in units of (1 negative) x (1 positive), kept exact.
    let mut twice_area: u128 = 0;
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < pairs.len() {
        let threshold = pairs[i].0;
        let (prev_tp, prev_fp) = (tp, fp);
        while i < pairs.len() && pairs[i].0 == threshold {
            if pairs[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        twice_area += (fp - prev_fp) as u128 * (tp + prev_tp) as u128;
        points.push(RocPoint {
            threshold: Some(threshold),
            fpr: fp as f64 / n_negative as f64,
            tpr: tp as f64 / n_positive as f64,
        });
    }
    let auc = twice_area as f64 / (2.0 * n_positive as f64 * n_negative as f64);
    Ok(RocCurve {
        points,
        auc,
        n_positive,
        n_negative,
    })
}

/// Argmax of `probabilities` restricted to the class indices in `allowed`.
///
/// `probabilities` is one sample's scores over the model's whole label set; the result is an
/// index into that label set (not a position in `allowed`). Use it to evaluate a model on a
/// subset of its classes (`--emotions neutral,happy,...`). Ties go to the lowest class index,
/// as with an unrestricted argmax; NaN scores never win unless every allowed score is NaN, in
/// which case the lowest allowed index is returned.
///
/// # Errors
///
/// [`Error::InvalidConfig`] when `allowed` is empty or names an index
/// `>= probabilities.len()`.
pub fn argmax_among<T: Copy + PartialOrd>(probabilities: &[T], allowed: &[usize]) -> Result<usize> {
    if allowed.is_empty() {
        return Err(Error::InvalidConfig(
            "the allowed class list is empty".into(),
        ));
    }
    if let Some(&bad) = allowed.iter().find(|&&c| c >= probabilities.len()) {
        return Err(Error::InvalidConfig(format!(
            "allowed class {bad} is out of range for {} scores",
            probabilities.len()
        )));
    }
    let mut sorted = allowed.to_vec();
    sorted.sort_unstable();
    let mut best = sorted[0];
    for &c in &sorted[1..] {
        // Strictly greater keeps the lowest index on ties; NaN compares false either way,
        // and a NaN incumbent is replaced by any real score.
        let incumbent = probabilities[best];
        let incumbent_is_nan = incumbent.partial_cmp(&incumbent).is_none();
        if probabilities[c] > incumbent
            || (incumbent_is_nan && probabilities[c].partial_cmp(&probabilities[c]).is_some())
        {
            best = c;
        }
    }
    Ok(best)
}

/// [`argmax_among`] for every row of a batch of per-sample score vectors.
///
/// # Errors
///
/// As [`argmax_among`], for the first row that fails.
pub fn argmax_among_batch<T: Copy + PartialOrd, R: AsRef<[T]>>(
    probabilities: &[R],
    allowed: &[usize],
) -> Result<Vec<usize>> {
    probabilities
        .iter()
        .map(|row| argmax_among(row.as_ref(), allowed))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// Three classes, ten samples:
    ///
    /// ```text
    /// y_true: 0 0 0 0 1 1 1 2 2 2
    /// y_pred: 0 0 1 2 1 1 0 2 2 1
    ///
    ///            pred 0  pred 1  pred 2 | support
    /// true 0        2       1       1   |   4
    /// true 1        1       2       0   |   3
    /// true 2        0       1       2   |   3
    /// predicted     3       4       3
    /// ```
    ///
    /// accuracy = 6/10; precision = 2/3, 2/4, 2/3; recall = 2/4, 2/3, 2/3;
    /// F1 = 4/7, 4/7, 2/3 (2pr/(p+r), e.g. class 0: (2/3)/(7/6) = 4/7);
    /// macro-F1 = (4/7 + 4/7 + 2/3)/3 = 38/63; UAR = (1/2 + 2/3 + 2/3)/3 = 11/18.
    fn three_class() -> ConfusionMatrix {
        let y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
        let y_pred = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];
        ConfusionMatrix::from_predictions(&y_true, &y_pred, 3).unwrap()
    }

    #[test]
    fn three_class_confusion_counts() {
        let cm = three_class();
        assert_eq!(cm.counts(), &[vec![2, 1, 1], vec![1, 2, 0], vec![0, 1, 2]]);
        assert_eq!(cm.total(), 10);
        assert_eq!(cm.correct(), 6);
        assert_eq!((0..3).map(|c| cm.support(c)).collect::<Vec<_>>(), [4, 3, 3]);
        assert_eq!(
            (0..3).map(|c| cm.predicted_count(c)).collect::<Vec<_>>(),
            [3, 4, 3]
        );
    }

    #[test]
    fn three_class_metrics_match_hand_computation() {
        let cm = three_class();
        assert!(close(cm.accuracy(), 0.6));
        let expected_precision = [2.0 / 3.0, 0.5, 2.0 / 3.0];
        let expected_recall = [0.5, 2.0 / 3.0, 2.0 / 3.0];
        let expected_f1 = [4.0 / 7.0, 4.0 / 7.0, 2.0 / 3.0];
        for c in 0..3 {
            assert!(
                close(cm.precision(c), expected_precision[c]),
                "precision {c}"
            );
            assert!(close(cm.recall(c), expected_recall[c]), "recall {c}");
            assert!(close(cm.f1(c), expected_f1[c]), "f1 {c}");
        }
        assert!(close(cm.macro_f1(), 38.0 / 63.0));
        assert!(close(cm.uar(), 11.0 / 18.0));
        assert_eq!(cm.balanced_accuracy(), None);
    }

    /// Five classes, four samples:
    ///
    /// ```text
    /// y_true: 0 0 1 2
    /// y_pred: 0 3 1 1
    /// ```
    ///
    /// class 0: support 2, predicted 1 -> precision 1/1, recall 1/2, F1 2/3
    /// class 1: support 1, predicted 2 -> precision 1/2, recall 1/1, F1 2/3
    /// class 2: support 1, never predicted -> precision 0/0 = 0, recall 0/1 = 0, F1 0
    /// class 3: no support, predicted once -> precision 0/1 = 0, recall 0/0 = 0, F1 0
    /// class 4: absent from both -> all 0, and left out of macro-F1 and UAR
    ///
    /// macro-F1 over classes {0,1,2,3} = (2/3 + 2/3 + 0 + 0)/4 = 1/3 (scikit-learn's
    /// `f1_score(average="macro", zero_division=0)` gives the same);
    /// UAR over supported classes {0,1,2} = (1/2 + 1 + 0)/3 = 1/2
    /// (= scikit-learn's `balanced_accuracy_score`); accuracy 2/4.
    #[test]
    fn zero_division_conventions() {
        let cm = ConfusionMatrix::from_predictions(&[0, 0, 1, 2], &[0, 3, 1, 1], 5).unwrap();
        assert!(close(cm.accuracy(), 0.5));
        let expected = [
            (1.0, 0.5, 2.0 / 3.0),
            (0.5, 1.0, 2.0 / 3.0),
            (0.0, 0.0, 0.0),
            (0.0, 0.0, 0.0),
            (0.0, 0.0, 0.0),
        ];
        for (c, &(p, r, f)) in expected.iter().enumerate() {
            assert!(close(cm.precision(c), p), "precision {c}");
            assert!(close(cm.recall(c), r), "recall {c}");
            assert!(close(cm.f1(c), f), "f1 {c}");
        }
        assert!(close(cm.macro_f1(), 1.0 / 3.0));
        assert!(close(cm.uar(), 0.5));
    }

    /// y_true 0 0 0 1, y_pred 0 0 1 1: recall 2/3 and 1, balanced accuracy 5/6.
    #[test]
    fn binary_balanced_accuracy() {
        let cm = ConfusionMatrix::from_predictions(&[0, 0, 0, 1], &[0, 0, 1, 1], 2).unwrap();
        assert!(close(cm.balanced_accuracy().unwrap(), 5.0 / 6.0));
        assert!(close(cm.uar(), 5.0 / 6.0));
        assert!(close(cm.accuracy(), 0.75));
    }

    #[test]
    fn row_normalized_rows_sum_to_one_or_zero() {
        let cm = ConfusionMatrix::from_predictions(&[0, 0, 0, 0, 1], &[0, 1, 1, 1, 1], 3).unwrap();
        let norm = cm.row_normalized();
        assert_eq!(norm[0], vec![0.25, 0.75, 0.0]);
        assert_eq!(norm[1], vec![0.0, 1.0, 0.0]);
        assert_eq!(norm[2], vec![0.0, 0.0, 0.0]);
    }

    #[test]
    fn bad_inputs_are_rejected() {
        assert!(ConfusionMatrix::from_predictions(&[0, 1], &[0], 2).is_err());
        assert!(ConfusionMatrix::from_predictions(&[], &[], 2).is_err());
        assert!(ConfusionMatrix::from_predictions(&[0, 2], &[0, 1], 2).is_err());
        assert!(ConfusionMatrix::from_predictions(&[0], &[0], 0).is_err());
        assert!(ConfusionMatrix::from_counts(vec![]).is_err());
        assert!(ConfusionMatrix::from_counts(vec![vec![1, 0], vec![0]]).is_err());
        assert!(ConfusionMatrix::from_counts(vec![vec![0, 0], vec![0, 0]]).is_err());
    }

    #[test]
    fn adding_matrices_pools_counts() {
        let mut a = ConfusionMatrix::from_counts(vec![vec![1, 2], vec![3, 4]]).unwrap();
        let b = ConfusionMatrix::from_counts(vec![vec![10, 0], vec![0, 1]]).unwrap();
        a.add(&b).unwrap();
        assert_eq!(a.counts(), &[vec![11, 2], vec![3, 5]]);
        let c = ConfusionMatrix::from_counts(vec![vec![1]]).unwrap();
        assert!(a.add(&c).is_err());
    }

    /// Pairwise Mann–Whitney count, the definition the trapezoid AUC must equal.
    fn mann_whitney_auc(is_positive: &[bool], scores: &[f64]) -> f64 {
        let mut u = 0.0;
        let mut pairs = 0.0;
        for (i, &pi) in is_positive.iter().enumerate() {
            for (j, &pj) in is_positive.iter().enumerate() {
                if pi && !pj {
                    pairs += 1.0;
                    if scores[i] > scores[j] {
                        u += 1.0;
                    } else if scores[i] == scores[j] {
                        u += 0.5;
                    }
                }
            }
        }
        u / pairs
    }

    /// Positives score 0.9, 0.8, 0.6, 0.3; negatives 0.8, 0.6, 0.6, 0.3.
    ///
    /// Mann–Whitney, per positive against the four negatives (tie = 1/2):
    /// 0.9 -> 4; 0.8 -> 0.5 + 3 = 3.5; 0.6 -> 0.5 + 0.5 + 1 = 2; 0.3 -> 0.5. U = 10, AUC = 10/16.
    ///
    /// ROC points (threshold: tp, fp): start (0,0); 0.9: 1,0 -> (0, .25); 0.8: 2,1 -> (.25, .5);
    /// 0.6: 3,3 -> (.75, .75); 0.3: 4,4 -> (1, 1).
    /// Trapezoids: .25*(.25+.5)/2 + .5*(.5+.75)/2 + .25*(.75+1)/2 = .09375 + .3125 + .21875
    /// = .625.
    #[test]
    fn roc_with_ties_matches_hand_computation() {
        let is_positive = [true, false, true, false, true, false, false, true];
        let scores = [0.9, 0.8, 0.8, 0.6, 0.6, 0.6, 0.3, 0.3];
        let roc = roc_curve(&is_positive, &scores).unwrap();
        let got: Vec<(Option<f64>, f64, f64)> = roc
            .points
            .iter()
            .map(|p| (p.threshold, p.fpr, p.tpr))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, 0.0, 0.0),
                (Some(0.9), 0.0, 0.25),
                (Some(0.8), 0.25, 0.5),
                (Some(0.6), 0.75, 0.75),
                (Some(0.3), 1.0, 1.0),
            ]
        );
        assert_eq!(roc.auc, 0.625);
        assert_eq!(roc.auc, mann_whitney_auc(&is_positive, &scores));
        assert_eq!((roc.n_positive, roc.n_negative), (4, 4));
    }

    #[test]
    fn roc_order_of_samples_does_not_matter_and_f32_works() {
        let is_positive = [false, true, true, false, true, false, false, true];
        let scores: [f32; 8] = [0.3, 0.3, 0.6, 0.6, 0.8, 0.6, 0.8, 0.9];
        let roc = roc_curve(&is_positive, &scores).unwrap();
        assert_eq!(roc.auc, 0.625);
    }

    #[test]
    fn roc_perfect_inverted_and_all_tied() {
        let labels = [false, false, true, true];
        assert_eq!(roc_curve(&labels, &[0.1, 0.2, 0.3, 0.4]).unwrap().auc, 1.0);
        assert_eq!(roc_curve(&labels, &[0.4, 0.3, 0.2, 0.1]).unwrap().auc, 0.0);
        let tied = roc_curve(&labels, &[0.5, 0.5, 0.5, 0.5]).unwrap();
        assert_eq!(tied.auc, 0.5);
        assert_eq!(tied.points.len(), 2);
        assert_eq!((tied.points[1].fpr, tied.points[1].tpr), (1.0, 1.0));
    }

    #[test]
    fn roc_agrees_with_mann_whitney_on_pseudo_random_scores() {
        // Coarse scores (multiples of 0.1) so that many ties occur.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let n = 200;
        let is_positive: Vec<bool> = (0..n).map(|_| next() % 3 == 0).collect();
        let scores: Vec<f64> = is_positive
            .iter()
            .map(|&p| ((next() % 10) as f64 + if p { 2.0 } else { 0.0 }) / 10.0)
            .collect();
        let roc = roc_curve(&is_positive, &scores).unwrap();
        assert!((roc.auc - mann_whitney_auc(&is_positive, &scores)).abs() < 1e-12);
        assert!(roc.auc > 0.5 && roc.auc < 1.0);
        let first = roc.points.first().unwrap();
        let last = roc.points.last().unwrap();
        assert_eq!((first.fpr, first.tpr), (0.0, 0.0));
        assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
        for w in roc.points.windows(2) {
            assert!(w[1].fpr >= w[0].fpr && w[1].tpr >= w[0].tpr);
        }
    }

    #[test]
    fn roc_rejects_one_class_mismatch_and_non_finite() {
        assert!(roc_curve(&[true, true], &[0.1, 0.2]).is_err());
        assert!(roc_curve(&[false, false], &[0.1, 0.2]).is_err());
        assert!(roc_curve(&[true, false], &[0.1]).is_err());
        assert!(roc_curve::<f64>(&[], &[]).is_err());
        assert!(roc_curve(&[true, false], &[f64::NAN, 0.2]).is_err());
        assert!(roc_curve(&[true, false], &[f64::INFINITY, 0.2]).is_err());
    }

    #[test]
    fn argmax_among_restricts_to_allowed_classes() {
        let p = [0.05f32, 0.50, 0.20, 0.25];
        assert_eq!(argmax_among(&p, &[0, 1, 2, 3]).unwrap(), 1);
        // Class 1 excluded: the best remaining is class 3, returned as a model index.
        assert_eq!(argmax_among(&p, &[3, 0, 2]).unwrap(), 3);
        assert_eq!(argmax_among(&p, &[2]).unwrap(), 2);
        // Ties go to the lowest class index whatever the order of `allowed`.
        assert_eq!(argmax_among(&[0.4, 0.2, 0.4], &[2, 0]).unwrap(), 0);
        // NaN never wins over a real score.
        assert_eq!(argmax_among(&[f64::NAN, 0.1, 0.3], &[0, 1]).unwrap(), 1);
        assert!(argmax_among(&p, &[]).is_err());
        assert!(argmax_among(&p, &[4]).is_err());
    }

    #[test]
    fn argmax_among_batch_maps_each_row() {
        let rows = vec![
            vec![0.1, 0.7, 0.2],
            vec![0.6, 0.3, 0.1],
            vec![0.2, 0.3, 0.5],
        ];
        assert_eq!(argmax_among_batch(&rows, &[0, 2]).unwrap(), vec![2, 0, 2]);
        assert!(argmax_among_batch(&rows, &[3]).is_err());
    }
}
