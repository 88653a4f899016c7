//! Training, evaluation and datasets: what a researcher needs to train and benchmark facevox's
//! branches on their own data. An application that only analyses recordings needs none of it.
//!
//! - The training loop, optimisers, schedules, losses and augmentation (the items at this
//!   module's root, from [`train`](crate::training::engine)'s parts).
//! - [`data`]: dataset loaders (RAVDESS, CREMA-D, EmoDB, FER+, FairFace, CSV manifests) and
//!   the feature and crop caches.
//! - [`eval`]: metrics, speaker-independent folds, reports and plots, and scoring a manifest.
//! - [`rng`]: the seeded generator every random draw in training comes from.

pub use crate::train::*;

/// Datasets: loaders, manifests and caches.
pub mod data {
    pub use crate::data::*;
}

/// Evaluation: metrics, folds, reports, plots.
pub mod eval {
    pub use crate::eval::*;
}

/// The seeded random number generator.
pub mod rng {
    pub use crate::rng::*;
}
