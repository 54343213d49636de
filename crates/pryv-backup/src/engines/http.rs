//! What went wrong with an HTTP call to a storage service (InfluxDB, rqlite), in words.

use std::io::Read;

use crate::url_credentials::redact_url_credentials;

/// How much of an error answer's body is kept for the message.
const MAX_ERROR_BODY: u64 = 4096;

pub(crate) enum HttpFailure {
    /// The service answered with an error status: `HTTP <code>: <start of the body>`.
    Answered(String),
    /// The service could not be reached.
    Unreachable(String),
}

pub(crate) fn failure(error: ureq::Error) -> HttpFailure {
    match error {
        ureq::Error::Status(code, response) => {
            let mut text = String::new();
            // Best effort: the status alone already says something went wrong.
            let _ = response
                .into_reader()
                .take(MAX_ERROR_BODY)
                .read_to_string(&mut text);
            HttpFailure::Answered(redact_url_credentials(&format!(
                "HTTP {code}: {}",
                text.trim()
            )))
        }
        // Said without the request's URL, which may carry credentials (its userinfo).
        ureq::Error::Transport(t) => {
            let mut reason = t.kind().to_string();
            if let Some(message) = t.message() {
                reason.push_str(": ");
                reason.push_str(message);
            }
            if let Some(source) = std::error::Error::source(&ureq::Error::Transport(t)) {
                reason.push_str(": ");
                reason.push_str(&source.to_string());
            }
            HttpFailure::Unreachable(redact_url_credentials(&reason))
        }
    }
}
