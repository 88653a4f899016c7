//! Evaluation reports: serialisable summaries of a model's predictions, printable as aligned
//! plain-text tables and writable as pretty JSON.
//!
//! * [`ClassificationReport`]: accuracy, UAR, macro-F1, balanced accuracy (binary only),
//!   per-class precision / recall / F1 / support and the confusion matrix, with class names;
//! * [`BinaryReport`]: a classification report plus the ROC curve and AUC of a score
//!   (e.g. P(female));
//! * [`SubgroupReport`]: either kind of report broken down by a named grouping of the samples
//!   (emotion accuracy for women vs. men, gender accuracy per race group, ...);
//! * [`FoldSummary`] and [`CrossValidationReport`]: per-fold reports and the mean ± sample
//!   standard deviation of their headline metrics.
//!
//! Metric conventions (zero division, which classes enter macro-F1 and UAR) are those of
//! [`super::metrics`].

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::metrics::{check_lengths, roc_curve, ConfusionMatrix, RocCurve};
use crate::{Error, Result};

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class name.
    pub label: String,
    /// Correct predictions of the class over all predictions of it (0 if never predicted).
    pub precision: f64,
    /// Correct predictions of the class over its support (0 if it has no support).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 if both are 0).
    pub f1: f64,
    /// Number of samples whose true class this is.
    pub support: usize,
    /// Number of samples predicted as this class.
    pub predicted: usize,
}

/// The standard multi-class evaluation of one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Number of samples.
    pub n: usize,
    /// Fraction of samples classified correctly.
    pub accuracy: f64,
    /// Balanced accuracy (mean per-class recall); present only for two classes, where it
    /// equals [`uar`](Self::uar).
    pub balanced_accuracy: Option<f64>,
    /// Unweighted average recall over the classes with support > 0.
    pub uar: f64,
    /// Mean F1 over the classes present in the ground truth or the predictions.
    pub macro_f1: f64,
    /// Class names, indexed by class.
    pub labels: Vec<String>,
    /// Per-class metrics, in class order (every class, also those absent from the data).
    pub per_class: Vec<ClassMetrics>,
    /// Confusion counts, `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
}

impl ClassificationReport {
    /// Evaluates predicted against true class indices; the number of classes is
    /// `labels.len()` and `labels[c]` names class `c`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when the slices differ in length or are empty, `labels` is
    /// empty, or an index is `>= labels.len()`.
    pub fn new<S: AsRef<str>>(y_true: &[usize], y_pred: &[usize], labels: &[S]) -> Result<Self> {
        let confusion = ConfusionMatrix::from_predictions(y_true, y_pred, labels.len())?;
        Self::from_confusion(&confusion, labels)
    }

    /// Like [`new`](Self::new) for classes without names: class `c` is called `"c"`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn unlabeled(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Self> {
        Self::new(y_true, y_pred, &index_labels(n_classes))
    }

    /// Builds the report from a confusion matrix (for example one pooled over folds).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `labels.len()` differs from the number of classes.
    pub fn from_confusion<S: AsRef<str>>(
        confusion: &ConfusionMatrix,
        labels: &[S],
    ) -> Result<Self> {
        if labels.len() != confusion.n_classes() {
            return Err(Error::InvalidConfig(format!(
                "{} labels given for {} classes",
                labels.len(),
                confusion.n_classes()
            )));
        }
        let per_class = labels
            .iter()
            .enumerate()
            .map(|(c, label)| ClassMetrics {
                label: label.as_ref().to_owned(),
                precision: confusion.precision(c),
                recall: confusion.recall(c),
                f1: confusion.f1(c),
                support: confusion.support(c),
                predicted: confusion.predicted_count(c),
            })
            .collect();
        Ok(ClassificationReport {
            n: confusion.total(),
            accuracy: confusion.accuracy(),
            balanced_accuracy: confusion.balanced_accuracy(),
            uar: confusion.uar(),
            macro_f1: confusion.macro_f1(),
            labels: labels.iter().map(|l| l.as_ref().to_owned()).collect(),
            per_class,
            confusion: confusion.counts().to_vec(),
        })
    }

    /// The confusion matrix as a [`ConfusionMatrix`] (for plotting or pooling).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] if the stored counts are not a valid matrix (only possible for
    /// a report edited or deserialised from bad JSON).
    pub fn confusion_matrix(&self) -> Result<ConfusionMatrix> {
        ConfusionMatrix::from_counts(self.confusion.clone())
    }

    /// The report as an aligned plain-text table: one row per class (precision, recall, F1,
    /// support), then accuracy, UAR, macro-F1 and, for two classes, balanced accuracy.
    /// Same as the [`Display`](fmt::Display) output.
    pub fn table(&self) -> String {
        self.to_string()
    }
}

impl ClassificationReport {
    /// Writes the per-class table, then the summary rows followed by `extra` rows (name,
    /// value) in the F1 column.
    fn write_table(&self, f: &mut fmt::Formatter<'_>, extra: &[(&str, f64)]) -> fmt::Result {
        let mut summary = vec![
            ("accuracy", self.accuracy),
            ("UAR", self.uar),
            ("macro-F1", self.macro_f1),
        ];
        if let Some(ba) = self.balanced_accuracy {
            summary.push(("balanced accuracy", ba));
        }
        summary.extend_from_slice(extra);
        let width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .chain(summary.iter().map(|(name, _)| name.chars().count()))
            .max()
            .unwrap_or(0);
        writeln!(
            f,
            "{:>width$}  {:>9}  {:>9}  {:>9}  {:>9}",
            "", "precision", "recall", "f1", "support"
        )?;
        for m in &self.per_class {
            writeln!(
                f,
                "{:>width$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}",
                m.label, m.precision, m.recall, m.f1, m.support
            )?;
        }
        writeln!(f)?;
        for (name, value) in summary {
            writeln!(
                f,
                "{:>width$}  {:>9}  {:>9}  {:>9.4}  {:>9}",
                name, "", "", value, self.n
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_table(f, &[])
    }
}

/// Names `"0"`, `"1"`, ... for `n` unnamed classes.
fn index_labels(n: usize) -> Vec<String> {
    (0..n).map(|c| c.to_string()).collect()
}

/// Evaluation of a binary classifier that also outputs a score: the classification report
/// of its hard predictions plus the ROC curve and AUC of the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryReport {
    /// Metrics of the hard predictions (class 0 = negative, class 1 = positive).
    pub classification: ClassificationReport,
    /// ROC curve of the positive-class score.
    pub roc: RocCurve,
    /// Area under the ROC curve (same as `roc.auc`, repeated for convenience).
    pub auc: f64,
}

impl BinaryReport {
    /// Evaluates binary predictions: `y_true` and `y_pred` are class indices 0 (negative) or 1
    /// (positive), `positive_scores[i]` the model's score for class 1 (e.g. P(female), with
    /// `labels = ["male", "female"]`), and `labels` names the two classes. Usually
    /// `y_pred[i] = (positive_scores[i] >= 0.5) as usize`, but any decision rule may be used.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `labels` does not hold exactly two names, the slices
    /// differ in length or are empty, an index is not 0 or 1, a score is not finite, or
    /// `y_true` holds only one class (the AUC is then undefined).
    pub fn new<S: AsRef<str>, T: Copy + Into<f64>>(
        y_true: &[usize],
        y_pred: &[usize],
        positive_scores: &[T],
        labels: &[S],
    ) -> Result<Self> {
        if labels.len() != 2 {
            return Err(Error::InvalidConfig(format!(
                "a binary report needs exactly 2 labels, got {}",
                labels.len()
            )));
        }
        let classification = ClassificationReport::new(y_true, y_pred, labels)?;
        let is_positive: Vec<bool> = y_true.iter().map(|&t| t == 1).collect();
        let roc = roc_curve(&is_positive, positive_scores)?;
        Ok(BinaryReport {
            classification,
            auc: roc.auc,
            roc,
        })
    }

    /// The report as an aligned plain-text table: the classification table followed by the
    /// AUC. Same as the [`Display`](fmt::Display) output.
    pub fn table(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for BinaryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.classification.write_table(f, &[("ROC AUC", self.auc)])
    }
}

/// Reports that have a fixed list of headline metrics, summarised across folds and shown in
/// the subgroup and cross-validation tables.
pub trait HeadlineMetrics {
    /// Names of the headline metrics, in table order.
    fn metric_names() -> &'static [&'static str];
    /// Values of the headline metrics, in the order of [`metric_names`](Self::metric_names).
    fn metric_values(&self) -> Vec<f64>;
    /// The underlying classification report (sample count, confusion matrix, labels).
    fn classification(&self) -> &ClassificationReport;
}

impl HeadlineMetrics for ClassificationReport {
    /// Accuracy, UAR and macro-F1 (the emotion metrics).
    fn metric_names() -> &'static [&'static str] {
        &["accuracy", "uar", "macro_f1"]
    }

    fn metric_values(&self) -> Vec<f64> {
        vec![self.accuracy, self.uar, self.macro_f1]
    }

    fn classification(&self) -> &ClassificationReport {
        self
    }
}

impl HeadlineMetrics for BinaryReport {
    /// Accuracy, balanced accuracy and AUC (the gender metrics).
    fn metric_names() -> &'static [&'static str] {
        &["accuracy", "balanced_accuracy", "auc"]
    }

    fn metric_values(&self) -> Vec<f64> {
        // For two classes balanced accuracy is the UAR, which is always present.
        vec![
            self.classification.accuracy,
            self.classification.uar,
            self.auc,
        ]
    }

    fn classification(&self) -> &ClassificationReport {
        &self.classification
    }
}

/// Writes the header and rows of a "name, n, metric..." table.
fn write_metric_table(
    f: &mut fmt::Formatter<'_>,
    first_column: &str,
    metric_names: &[&str],
    rows: &[(String, String, Vec<String>)],
) -> fmt::Result {
    let name_width = rows
        .iter()
        .map(|(name, _, _)| name.chars().count())
        .chain([first_column.chars().count()])
        .max()
        .unwrap_or(0);
    let n_width = rows
        .iter()
        .map(|(_, n, _)| n.chars().count())
        .chain([1])
        .max()
        .unwrap_or(1);
    let widths: Vec<usize> = metric_names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            rows.iter()
                .map(|(_, _, values)| values[i].chars().count())
                .chain([name.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    write!(f, "{first_column:<name_width$}  {:>n_width$}", "n")?;
    for (name, w) in metric_names.iter().zip(&widths) {
        write!(f, "  {name:>w$}")?;
    }
    writeln!(f)?;
    for (name, n, values) in rows {
        write!(f, "{name:<name_width$}  {n:>n_width$}")?;
        for (value, w) in values.iter().zip(&widths) {
            write!(f, "  {value:>w$}")?;
        }
        writeln!(f)?;
    }
    Ok(())
}

/// Groups samples by `group_of_sample` (its `Display` string) and returns the sample indices
/// of each group, in ascending group-name order.
fn indices_by_group<G: fmt::Display>(group_of_sample: &[G]) -> BTreeMap<String, Vec<usize>> {
    let mut by_group: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, g) in group_of_sample.iter().enumerate() {
        by_group.entry(g.to_string()).or_default().push(i);
    }
    by_group
}

fn pick<T: Copy>(values: &[T], indices: &[usize]) -> Vec<T> {
    indices.iter().map(|&i| values[i]).collect()
}

/// A [`ClassificationReport`] for each group of samples: `group_of_sample[i]` (shown with
/// `Display`, e.g. a [`crate::Gender`] or a race name) is the group of sample `i`. Every group
/// is evaluated over the full label set, so confusion matrices stay comparable.
///
/// # Errors
///
/// [`Error::InvalidConfig`] when the slices differ in length or are empty, or as
/// [`ClassificationReport::new`].
pub fn by_group<G: fmt::Display, S: AsRef<str>>(
    group_of_sample: &[G],
    y_true: &[usize],
    y_pred: &[usize],
    labels: &[S],
) -> Result<BTreeMap<String, ClassificationReport>> {
    check_lengths(
        "group_of_sample",
        group_of_sample.len(),
        "y_true",
        y_true.len(),
    )?;
    check_lengths("y_true", y_true.len(), "y_pred", y_pred.len())?;
    indices_by_group(group_of_sample)
        .into_iter()
        .map(|(group, idx)| {
            let report =
                ClassificationReport::new(&pick(y_true, &idx), &pick(y_pred, &idx), labels)?;
            Ok((group, report))
        })
        .collect()
}

/// A [`BinaryReport`] for each group of samples (e.g. gender AUC per race group), as
/// [`by_group`].
///
/// # Errors
///
/// As [`by_group`] and [`BinaryReport::new`]; in particular a group whose samples hold only
/// one true class has no AUC and fails.
pub fn binary_by_group<G: fmt::Display, S: AsRef<str>, T: Copy + Into<f64>>(
    group_of_sample: &[G],
    y_true: &[usize],
    y_pred: &[usize],
    positive_scores: &[T],
    labels: &[S],
) -> Result<BTreeMap<String, BinaryReport>> {
    check_lengths(
        "group_of_sample",
        group_of_sample.len(),
        "y_true",
        y_true.len(),
    )?;
    check_lengths("y_true", y_true.len(), "y_pred", y_pred.len())?;
    check_lengths(
        "y_true",
        y_true.len(),
        "positive_scores",
        positive_scores.len(),
    )?;
    indices_by_group(group_of_sample)
        .into_iter()
        .map(|(group, idx)| {
            let report = BinaryReport::new(
                &pick(y_true, &idx),
                &pick(y_pred, &idx),
                &pick(positive_scores, &idx),
                labels,
            )
            .map_err(|e| Error::InvalidConfig(format!("group {group:?}: {e}")))?;
            Ok((group, report))
        })
        .collect()
}

/// Metrics broken down by a named grouping of the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupReport<R = ClassificationReport> {
    /// What the grouping is (e.g. `"gender"`, `"race"`).
    pub grouping: String,
    /// One report per group, keyed by group name.
    pub groups: BTreeMap<String, R>,
}

impl SubgroupReport<ClassificationReport> {
    /// Classification reports per group; see [`by_group`].
    ///
    /// # Errors
    ///
    /// As [`by_group`].
    pub fn by_group<G: fmt::Display, S: AsRef<str>>(
        grouping: impl Into<String>,
        group_of_sample: &[G],
        y_true: &[usize],
        y_pred: &[usize],
        labels: &[S],
    ) -> Result<Self> {
        Ok(SubgroupReport {
            grouping: grouping.into(),
            groups: by_group(group_of_sample, y_true, y_pred, labels)?,
        })
    }
}

impl SubgroupReport<BinaryReport> {
    /// Binary reports per group; see [`binary_by_group`].
    ///
    /// # Errors
    ///
    /// As [`binary_by_group`].
    pub fn binary_by_group<G: fmt::Display, S: AsRef<str>, T: Copy + Into<f64>>(
        grouping: impl Into<String>,
        group_of_sample: &[G],
        y_true: &[usize],
        y_pred: &[usize],
        positive_scores: &[T],
        labels: &[S],
    ) -> Result<Self> {
        Ok(SubgroupReport {
            grouping: grouping.into(),
            groups: binary_by_group(group_of_sample, y_true, y_pred, positive_scores, labels)?,
        })
    }
}

impl<R: HeadlineMetrics> SubgroupReport<R> {
    /// One row per group with its sample count and headline metrics. Same as the
    /// [`Display`](fmt::Display) output.
    pub fn table(&self) -> String {
        self.to_string()
    }
}

impl<R: HeadlineMetrics> fmt::Display for SubgroupReport<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<(String, String, Vec<String>)> = self
            .groups
            .iter()
            .map(|(group, report)| {
                (
                    group.clone(),
                    report.classification().n.to_string(),
                    report
                        .metric_values()
                        .iter()
                        .map(|v| format!("{v:.4}"))
                        .collect(),
                )
            })
            .collect();
        write_metric_table(f, &self.grouping, R::metric_names(), &rows)
    }
}

/// One metric across cross-validation folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldSummary {
    /// The metric's value in each fold, in fold order.
    pub per_fold: Vec<f64>,
    /// Mean over folds.
    pub mean: f64,
    /// Sample standard deviation over folds (divisor n − 1, as `numpy.std(ddof=1)`).
    pub std: f64,
}

impl FoldSummary {
    /// Summarises one metric's per-fold values.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for fewer than two values (the sample standard deviation
    /// needs n − 1 > 0; cross-validation always has k ≥ 2 folds).
    pub fn new(per_fold: Vec<f64>) -> Result<Self> {
        let n = per_fold.len();
        if n < 2 {
            return Err(Error::InvalidConfig(format!(
                "a fold summary needs at least 2 folds, got {n}"
            )));
        }
        let mean = per_fold.iter().sum::<f64>() / n as f64;
        let variance = per_fold.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        Ok(FoldSummary {
            per_fold,
            mean,
            std: variance.sqrt(),
        })
    }
}

/// A named [`FoldSummary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    /// The metric's name (one of [`HeadlineMetrics::metric_names`]).
    pub metric: String,
    /// Its values across folds, mean and standard deviation.
    pub summary: FoldSummary,
}

/// Cross-validation results: the report of every fold and the mean ± std of the headline
/// metrics ([`ClassificationReport`] folds: accuracy, UAR, macro-F1; [`BinaryReport`] folds:
/// accuracy, balanced accuracy, AUC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossValidationReport<R> {
    /// The report of each fold's test set, in fold order.
    pub folds: Vec<R>,
    /// Summary of each headline metric across folds, in [`HeadlineMetrics::metric_names`]
    /// order.
    pub summaries: Vec<MetricSummary>,
}

impl<R: HeadlineMetrics> CrossValidationReport<R> {
    /// Collects per-fold reports and summarises their headline metrics.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for fewer than two folds.
    pub fn new(folds: Vec<R>) -> Result<Self> {
        let values: Vec<Vec<f64>> = folds.iter().map(|r| r.metric_values()).collect();
        let summaries = R::metric_names()
            .iter()
            .enumerate()
            .map(|(m, name)| {
                Ok(MetricSummary {
                    metric: (*name).to_owned(),
                    summary: FoldSummary::new(values.iter().map(|v| v[m]).collect())?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CrossValidationReport { folds, summaries })
    }

    /// The summary of the metric called `metric` (e.g. `"uar"`), if it is a headline metric.
    pub fn summary(&self, metric: &str) -> Option<&FoldSummary> {
        self.summaries
            .iter()
            .find(|s| s.metric == metric)
            .map(|s| &s.summary)
    }

    /// The confusion matrices of all folds added together: every sample counted once, as a
    /// test sample of its fold.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when the folds' label sets differ in size (or a fold's counts
    /// are invalid).
    pub fn pooled_confusion(&self) -> Result<ConfusionMatrix> {
        let mut folds = self.folds.iter();
        let first = folds
            .next()
            .ok_or_else(|| Error::InvalidConfig("no folds to pool".into()))?;
        let mut pooled = first.classification().confusion_matrix()?;
        for fold in folds {
            pooled.add(&fold.classification().confusion_matrix()?)?;
        }
        Ok(pooled)
    }

    /// One row per fold (sample count and headline metrics), then a `mean ± std` row. Same as
    /// the [`Display`](fmt::Display) output.
    pub fn table(&self) -> String {
        self.to_string()
    }
}

impl<R: HeadlineMetrics> fmt::Display for CrossValidationReport<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows: Vec<(String, String, Vec<String>)> = self
            .folds
            .iter()
            .enumerate()
            .map(|(i, report)| {
                (
                    (i + 1).to_string(),
                    report.classification().n.to_string(),
                    report
                        .metric_values()
                        .iter()
                        .map(|v| format!("{v:.4}"))
                        .collect(),
                )
            })
            .collect();
        let total: usize = self.folds.iter().map(|r| r.classification().n).sum();
        rows.push((
            "mean ± std".to_owned(),
            total.to_string(),
            self.summaries
                .iter()
                .map(|s| format!("{:.4} ± {:.4}", s.summary.mean, s.summary.std))
                .collect(),
        ));
        let names: Vec<&str> = self.summaries.iter().map(|s| s.metric.as_str()).collect();
        write_metric_table(f, "fold", &names, &rows)
    }
}

/// Writes `value` as pretty-printed JSON to `path`, creating missing parent directories.
///
/// # Errors
///
/// [`Error::Io`] when the directory or file cannot be created or written.
pub fn to_json_pretty<T: Serialize + ?Sized>(value: &T, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, value)
        .map_err(|e| Error::io(path, std::io::Error::from(e)))?;
    writer
        .write_all(b"\n")
        .and_then(|()| writer.flush())
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// The three-class example of the metrics tests, with names: accuracy 0.6,
    /// precision 2/3, 1/2, 2/3; recall 1/2, 2/3, 2/3; F1 4/7, 4/7, 2/3;
    /// macro-F1 38/63; UAR 11/18.
    fn three_class_report() -> ClassificationReport {
        ClassificationReport::new(
            &[0, 0, 0, 0, 1, 1, 1, 2, 2, 2],
            &[0, 0, 1, 2, 1, 1, 0, 2, 2, 1],
            &["neutral", "happy", "sad"],
        )
        .unwrap()
    }

    #[test]
    fn classification_report_fields() {
        let r = three_class_report();
        assert_eq!(r.n, 10);
        assert!(close(r.accuracy, 0.6));
        assert!(close(r.uar, 11.0 / 18.0));
        assert!(close(r.macro_f1, 38.0 / 63.0));
        assert_eq!(r.balanced_accuracy, None);
        assert_eq!(r.labels, ["neutral", "happy", "sad"]);
        assert_eq!(
            r.confusion,
            vec![vec![2, 1, 1], vec![1, 2, 0], vec![0, 1, 2]]
        );
        let happy = &r.per_class[1];
        assert_eq!(happy.label, "happy");
        assert!(close(happy.precision, 0.5));
        assert!(close(happy.recall, 2.0 / 3.0));
        assert!(close(happy.f1, 4.0 / 7.0));
        assert_eq!((happy.support, happy.predicted), (3, 4));
    }

    #[test]
    fn classification_report_table_is_aligned() {
        let table = three_class_report().table();
        let expected = [
            "          precision     recall         f1    support",
            " neutral     0.6667     0.5000     0.5714          4",
            "   happy     0.5000     0.6667     0.5714          3",
            "     sad     0.6667     0.6667     0.6667          3",
            "",
            "accuracy                           0.6000         10",
            "     UAR                           0.6111         10",
            "macro-F1                           0.6032         10",
        ]
        .map(|line| format!("{line}\n"))
        .concat();
        assert_eq!(table, expected);
    }

    #[test]
    fn unlabeled_report_names_classes_by_index() {
        let r = ClassificationReport::unlabeled(&[0, 1], &[0, 1], 2).unwrap();
        assert_eq!(r.labels, ["0", "1"]);
        assert_eq!(r.balanced_accuracy, Some(1.0));
    }

    #[test]
    fn report_rejects_label_count_mismatch() {
        assert!(ClassificationReport::new(&[0, 2], &[0, 1], &["a", "b"]).is_err());
        let cm = ConfusionMatrix::from_counts(vec![vec![1, 0], vec![0, 1]]).unwrap();
        assert!(ClassificationReport::from_confusion(&cm, &["a", "b", "c"]).is_err());
    }

    /// Gender: class 0 = male, 1 = female; scores are P(female).
    ///
    /// ```text
    /// y_true: 0    0    0    0    1    1    1    1
    /// score:  0.1  0.4  0.6  0.35 0.8  0.35 0.7  0.9
    /// y_pred: 0    0    1    0    1    0    1    1     (score >= 0.5)
    /// ```
    ///
    /// accuracy 6/8; recall male 3/4, female 3/4 -> balanced accuracy 0.75.
    /// AUC: pairs (female > male) per female against males 0.1, 0.4, 0.6, 0.35:
    /// 0.8 -> 4; 0.35 -> 1 (0.1) + 0.5 (tie with 0.35) = 1.5; 0.7 -> 4; 0.9 -> 4.
    /// U = 13.5, AUC = 13.5 / 16 = 0.84375.
    fn gender_report() -> BinaryReport {
        let y_true = [0, 0, 0, 0, 1, 1, 1, 1];
        let scores = [0.1, 0.4, 0.6, 0.35, 0.8, 0.35, 0.7, 0.9];
        let y_pred: Vec<usize> = scores.iter().map(|&s| usize::from(s >= 0.5)).collect();
        BinaryReport::new(&y_true, &y_pred, &scores, &["male", "female"]).unwrap()
    }

    #[test]
    fn binary_report_matches_hand_computation() {
        let r = gender_report();
        assert!(close(r.classification.accuracy, 0.75));
        assert_eq!(r.classification.balanced_accuracy, Some(0.75));
        assert_eq!(r.auc, 0.84375);
        assert_eq!(r.roc.auc, r.auc);
        assert_eq!(r.metric_values(), vec![0.75, 0.75, 0.84375]);
        assert!(r.table().contains("ROC AUC"));
        assert!(r.table().contains("0.8438"));
    }

    #[test]
    fn binary_report_rejects_bad_input() {
        assert!(BinaryReport::new(&[0, 1], &[0, 1], &[0.1, 0.9], &["a", "b", "c"]).is_err());
        assert!(BinaryReport::new(&[1, 1], &[0, 1], &[0.1, 0.9], &["a", "b"]).is_err());
        assert!(BinaryReport::new(&[0, 1], &[0, 1], &[0.1], &["a", "b"]).is_err());
    }

    /// Emotion predictions for 4 women (F) and 4 men (M), classes neutral/happy:
    ///
    /// ```text
    /// group:  F F F F M M M M
    /// y_true: 0 1 1 0 0 1 0 1
    /// y_pred: 0 1 1 1 1 0 0 1
    /// ```
    ///
    /// F: 3/4 correct, recall neutral 1/2, happy 2/2 -> UAR 3/4; precision neutral 1/1,
    /// happy 2/3; F1 neutral 2/3, happy 4/5 -> macro-F1 (2/3 + 4/5)/2 = 11/15.
    /// M: 2/4 correct, recall 1/2 and 1/2 -> UAR 1/2; precision 1/2, 1/2 -> macro-F1 1/2.
    #[test]
    fn subgroup_report_by_gender() {
        let groups = [
            crate::Gender::Female,
            crate::Gender::Female,
            crate::Gender::Female,
            crate::Gender::Female,
            crate::Gender::Male,
            crate::Gender::Male,
            crate::Gender::Male,
            crate::Gender::Male,
        ];
        let y_true = [0, 1, 1, 0, 0, 1, 0, 1];
        let y_pred = [0, 1, 1, 1, 1, 0, 0, 1];
        let report =
            SubgroupReport::by_group("gender", &groups, &y_true, &y_pred, &["neutral", "happy"])
                .unwrap();
        assert_eq!(report.groups.keys().collect::<Vec<_>>(), ["female", "male"]);
        let female = &report.groups["female"];
        assert_eq!(female.n, 4);
        assert!(close(female.accuracy, 0.75));
        assert!(close(female.uar, 0.75));
        assert!(close(female.macro_f1, 11.0 / 15.0));
        let male = &report.groups["male"];
        assert!(close(male.accuracy, 0.5));
        assert!(close(male.uar, 0.5));
        assert!(close(male.macro_f1, 0.5));
        let expected = "\
gender  n  accuracy     uar  macro_f1
female  4    0.7500  0.7500    0.7333
male    4    0.5000  0.5000    0.5000
";
        assert_eq!(report.table(), expected);
        assert!(by_group(&groups[..3], &y_true, &y_pred, &["neutral", "happy"]).is_err());
    }

    #[test]
    fn binary_subgroups_and_one_class_groups() {
        let race = ["a", "a", "b", "b", "a", "b"];
        let y_true = [0, 1, 0, 1, 1, 0];
        let scores = [0.2, 0.9, 0.6, 0.4, 0.3, 0.1];
        let y_pred: Vec<usize> = scores.iter().map(|&s| usize::from(s >= 0.5)).collect();
        let report = SubgroupReport::binary_by_group(
            "race",
            &race,
            &y_true,
            &y_pred,
            &scores,
            &["male", "female"],
        )
        .unwrap();
        // Group a: negatives 0.2; positives 0.9, 0.3 -> both above 0.2 -> AUC 1.
        // Group b: negatives 0.6, 0.1; positive 0.4 -> above 0.1 only -> AUC 1/2.
        assert_eq!(report.groups["a"].auc, 1.0);
        assert_eq!(report.groups["b"].auc, 0.5);
        assert!(report
            .table()
            .starts_with("race  n  accuracy  balanced_accuracy     auc\n"));
        // A group with a single true class has no AUC.
        let one_class = ["a", "b", "a", "b", "b", "a"];
        let err = binary_by_group(&one_class, &y_true, &y_pred, &scores, &["m", "f"]);
        assert!(err.is_err());
    }

    /// Values 0.5, 0.7, 0.6: mean 0.6; deviations -0.1, 0.1, 0 -> sum of squares 0.02;
    /// sample variance 0.02 / 2 = 0.01 -> std 0.1.
    #[test]
    fn fold_summary_uses_sample_std() {
        let s = FoldSummary::new(vec![0.5, 0.7, 0.6]).unwrap();
        assert!(close(s.mean, 0.6));
        assert!(close(s.std, 0.1));
        assert!(FoldSummary::new(vec![0.5]).is_err());
        assert!(FoldSummary::new(vec![]).is_err());
    }

    #[test]
    fn cross_validation_summary_and_table() {
        // Fold 1: 2/2 correct; fold 2: 1/2 correct (recall 1 and 0, UAR 0.5,
        // F1: class 0 p=1/2 r=1 -> 2/3, class 1 -> 0, macro 1/3).
        let fold1 = ClassificationReport::new(&[0, 1], &[0, 1], &["a", "b"]).unwrap();
        let fold2 = ClassificationReport::new(&[0, 1], &[0, 0], &["a", "b"]).unwrap();
        let cv = CrossValidationReport::new(vec![fold1, fold2]).unwrap();
        let acc = cv.summary("accuracy").unwrap();
        assert_eq!(acc.per_fold, vec![1.0, 0.5]);
        assert!(close(acc.mean, 0.75));
        // Two values 1 and 0.5: sample std = |1 - 0.5| / sqrt(2).
        assert!(close(acc.std, 0.5 / 2f64.sqrt()));
        let f1 = cv.summary("macro_f1").unwrap();
        assert!(close(f1.per_fold[1], 1.0 / 3.0));
        assert!(cv.summary("auc").is_none());
        assert_eq!(
            cv.pooled_confusion().unwrap().counts(),
            &[vec![2, 0], vec![1, 1]]
        );
        let expected = "\
fold        n         accuracy              uar         macro_f1
1           2           1.0000           1.0000           1.0000
2           2           0.5000           0.5000           0.3333
mean ± std  4  0.7500 ± 0.3536  0.7500 ± 0.3536  0.6667 ± 0.4714
";
        assert_eq!(cv.table(), expected);
        let one = ClassificationReport::new(&[0], &[0], &["a"]).unwrap();
        assert!(CrossValidationReport::new(vec![one]).is_err());
    }

    #[test]
    fn cross_validation_of_binary_reports_summarises_auc() {
        let cv = CrossValidationReport::new(vec![gender_report(), gender_report()]).unwrap();
        let names: Vec<&str> = cv.summaries.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names, ["accuracy", "balanced_accuracy", "auc"]);
        let auc = cv.summary("auc").unwrap();
        assert_eq!((auc.mean, auc.std), (0.84375, 0.0));
    }

    #[test]
    fn json_round_trip_through_a_file() {
        let dir = std::env::temp_dir().join(format!("facevox-eval-json-{}", std::process::id()));
        let path = dir.join("nested").join("cv.json");
        let cv = CrossValidationReport::new(vec![gender_report(), gender_report()]).unwrap();
        to_json_pretty(&cv, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"balanced_accuracy\""));
        assert!(text.contains("\"threshold\": null"));
        let back: CrossValidationReport<BinaryReport> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, cv);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn json_write_failure_is_an_io_error() {
        let dir = std::env::temp_dir().join(format!("facevox-eval-jsonerr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The target path is an existing directory, so the file cannot be created.
        let err = to_json_pretty(&three_class_report(), &dir).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
