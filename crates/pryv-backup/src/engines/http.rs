//! What went wrong with an HTTP call to a storage service (InfluxDB, rqlite), in words.

use std::io::Read;

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
            HttpFailure::Answered(format!("HTTP {code}: {}", text.trim()))
        }
        ureq::Error::Transport(t) => HttpFailure::Unreachable(t.to_string()),
    }
}
