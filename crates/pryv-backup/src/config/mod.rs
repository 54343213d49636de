//! open-pryv.io's layered YAML configuration: where an install keeps its data.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}
