//! Pryv.io integrity hashes of events and accesses (`@pryv/stable-object-representation`).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum IntegrityError {
    #[error("{0}")]
    Invalid(String),
}
