//! URLs of the services an install uses (rqlite, an S3 endpoint), which may carry
//! credentials in their userinfo (`http://admin:secret@host:4001`): shown, they are always
//! redacted (see [`crate::url_credentials`]).

use std::fmt;

use zeroize::Zeroizing;

use crate::url_credentials::redact_url_credentials;

/// A service URL from the configuration. `Display` and `Debug` show it with its userinfo
/// redacted; only [`ServiceUrl::with_credentials`] gives the URL to connect with.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceUrl(Zeroizing<String>);

impl ServiceUrl {
    pub fn new(url: impl Into<String>) -> Self {
        ServiceUrl(Zeroizing::new(url.into()))
    }

    /// The URL as configured, credentials included: for connecting, never for messages.
    pub fn with_credentials(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url_credentials(&self.0))
    }
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceUrl({:?})", redact_url_credentials(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_url_shows_its_userinfo_redacted() {
        let url = ServiceUrl::new("http://admin:s3cret@rqlite.local:4001/base");
        assert_eq!(url.to_string(), "http://***@rqlite.local:4001/base");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            url.with_credentials(),
            "http://admin:s3cret@rqlite.local:4001/base"
        );
    }
}
