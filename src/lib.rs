//! facevox
pub mod audio;
pub mod error;
pub mod labels;
pub mod vision;
pub use error::{Error, Result};
