//! Evaluation: metrics, speaker-independent folds, reports and plots.
//!
//! * [`metrics`]: the confusion matrix and the metrics derived from it (accuracy, per-class
//!   precision / recall / F1, macro-F1, UAR, balanced accuracy), ROC curve and AUC, and an
//!   argmax restricted to a subset of the model's classes. Classes are indices, so the same
//!   code serves the emotion and the gender label sets.
//! * [`folds`]: group (speaker/subject-independent) k-fold, its stratified variant (RAVDESS:
//!   2 male + 2 female actors per fold) and a stratified holdout split.
//! * [`report`]: serialisable reports with plain-text tables ([`ClassificationReport`],
//!   [`BinaryReport`], [`SubgroupReport`], [`CrossValidationReport`]) and
//!   [`to_json_pretty`].
//! * [`plot`]: SVG confusion-matrix heat maps, ROC curves and accuracy curves.
//! * [`calibration`]: reliability tables, expected calibration error, temperature fitting and
//!   reliability diagrams.
//!
//! ```
//! use facevox::training::eval::{stratified_group_k_fold, ClassificationReport};
//!
//! # fn main() -> facevox::Result<()> {
//! // RAVDESS actors 1..=20 (odd = male), three clips each here.
//! let actor_of_clip: Vec<u8> = (1..=20).flat_map(|a| [a, a, a]).collect();
//! let folds = stratified_group_k_fold(&actor_of_clip, |a| a % 2, 5, 42)?;
//! assert!(folds.iter().all(|f| f.test_groups.len() == 4));
//!
//! let report = ClassificationReport::new(&[0, 1, 1, 0], &[0, 1, 0, 0], &["neutral", "happy"])?;
//! assert_eq!(report.accuracy, 0.75);
//! assert_eq!(report.uar, 0.75);
//! println!("{report}");
//! # Ok(())
//! # }
//! ```

pub mod calibration;
pub mod folds;
pub mod manifest;
pub mod metrics;
pub mod plot;
pub mod report;

pub use calibration::{cross_fitted, fit_temperature, plot_reliability, Reliability, ECE_BINS};
pub use folds::{group_k_fold, stratified_group_k_fold, stratified_split, Fold};
pub use manifest::{
    score_manifest, AbstentionScores, BranchScores, GroupScores, ManifestBranch, ManifestReport,
    RowFailure, RowPrediction,
};
pub use metrics::{
    argmax_among, argmax_among_batch, roc_curve, ConfusionMatrix, RocCurve, RocPoint,
};
pub use plot::{plot_confusion_matrix, plot_curves, plot_roc_curve, Curve};
pub use report::{
    binary_by_group, by_group, to_json_pretty, BinaryReport, ClassMetrics, ClassificationReport,
    CrossValidationReport, FoldSummary, HeadlineMetrics, MetricSummary, SubgroupReport,
};
