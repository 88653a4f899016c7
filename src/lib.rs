//! facevox
pub mod audio;
pub mod error;
pub mod labels;
pub use error::{Error, Result};
