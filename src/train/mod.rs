//! Training: optimisers, schedules, losses, augmentation and the training loop.
//!
//! * [`optim`]: AdamW and SGD with momentum behind one [`Optimizer`], gradient clipping and an
//!   L1 penalty.
//! * [`schedule`]: warm-up + cosine and one-cycle learning-rate schedules.
//! * [`loss`]: the masked multi-task cross-entropy with soft targets and class weights, so a
//!   sample without a label for a head (gender only, emotion only) still trains the head it has.
//! * [`augment`]: SpecAugment, random crop, gain, noise at a random SNR and mixup on log-mels.
//! * [`engine`]: the training loop every branch shares (progress bar, JSON epoch log, weight
//!   averaging, early stopping, seeded everything).
//! * [`face`]: face-branch batches (image augmentation) and training.
//! * [`voice`]: voice-branch batches and training.
//!
//! Prediction is not here: training validates through the same
//! [`FacePredictor`](crate::model::FacePredictor) and
//! [`VoicePredictor`](crate::model::VoicePredictor) the analyzers use.
//! * [`crossval`]: speaker-independent k-fold cross-validation of the voice branch.
//! * [`face_protocol`]: the face branch's seeded FER+ / FairFace splits (training, selection,
//!   test) and per-group accuracy tables.
//!
//! Everything random is drawn from [`SeededRng`](crate::rng::SeededRng): shuffles,
//! augmentation, dropout masks and the initial weights, so a run repeats exactly on the same
//! machine with the same thread count.

pub mod augment;
pub mod crossval;
pub mod engine;
pub mod face;
pub mod face_protocol;
pub mod fusion;
pub mod loss;
pub mod optim;
pub mod probe;
pub mod schedule;
pub mod voice;

pub use crate::model::Prediction;
pub use augment::{AudioAugmentConfig, ChannelAugmentConfig};
pub use crossval::{
    cross_validate_voice, cross_validate_voice_with_extra, OutOfFold, TtaScore,
    VoiceCrossValidation, VoiceFoldResult,
};
pub use face::{
    age_balance_weights, face_validation_metrics, fairface_examples, ferplus_examples,
    load_face_init_weights, train_face, FaceExample, FaceTrainingConfig, SkippedImage,
    LUMA_WEIGHTS,
};
pub use face_protocol::{
    accuracy_by_group, class_prior, face_splits, fairface_parts, group_gap, prediction_rows,
    prior_sweep, write_fairface_manifest, FaceSplitConfig, FaceSplits, PriorSweepPoint,
};
pub use fusion::{train_fusion_head, BranchOutputs, FusionExample, FusionTrainingConfig};
pub use loss::{balanced_class_weights, masked_soft_cross_entropy, smoothed_one_hot};
pub use optim::{clip_grad_norm, AdamW, Optimizer, OptimizerConfig, SgdMomentum};
pub use probe::{
    fit_logistic, fit_speaker_gender, read_speaker_gender_oof, speaker_gender_probs, Logistic,
    SpeakerGenderFit, SpeakerGenderOof,
};
pub use schedule::LrSchedule;
pub use voice::{
    corpus_of, train_voice, train_voice_members, EarlyStopping, EpochLog, TrainConfig,
    TrainOutcome, ValidationMetrics, VoiceExample, VoiceTrainingConfig,
};
