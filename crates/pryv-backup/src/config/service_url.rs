//! URLs of the services an install uses (rqlite, an S3 endpoint), which may carry
//! credentials in their userinfo (`http://admin:secret@host:4001`): shown, they are always
//! redacted.

use std::fmt;

use zeroize::Zeroizing;

/// What stands for a URL's userinfo wherever one is shown.
pub const REDACTED_USERINFO: &str = "***";

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

/// `text` with the userinfo of every URL in it (`scheme://userinfo@host...`) replaced by
/// [`REDACTED_USERINFO`]: for messages that quote a URL, or an error that may hold one.
pub fn redact_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        rest = &rest[authority_start..];
        if let Some(len) = userinfo_len(rest) {
            out.push_str(REDACTED_USERINFO);
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    out
}

/// Whether `text` holds a URL with userinfo (credentials).
pub fn has_url_credentials(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        rest = &rest[at + 3..];
        if userinfo_len(rest).is_some() {
            return true;
        }
    }
    false
}

/// The length of the userinfo at the start of a URL's authority (up to its last `@`
/// before the path, query or fragment; whitespace and quotes end a URL in a message).
fn userinfo_len(authority: &str) -> Option<usize> {
    let end = authority
        .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"')
        .unwrap_or(authority.len());
    authority[..end].rfind('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_wherever_a_url_is_shown() {
        let url = ServiceUrl::new("http://admin:s3cret@rqlite.local:4001/base");
        assert_eq!(url.to_string(), "http://***@rqlite.local:4001/base");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            url.with_credentials(),
            "http://admin:s3cret@rqlite.local:4001/base"
        );
        // A password holding '@' is redacted whole.
        assert_eq!(
            redact_url_credentials("https://u:p@ss@host/x?a=b@c"),
            "https://***@host/x?a=b@c"
        );
        // Every URL of an error message, and only their userinfo.
        assert_eq!(
            redact_url_credentials(
                "http://a:b@h1:1/db/query: Connection Failed (see http://c@h2 or mail x@y)"
            ),
            "http://***@h1:1/db/query: Connection Failed (see http://***@h2 or mail x@y)"
        );
        assert_eq!(
            redact_url_credentials("http://localhost:4001"),
            "http://localhost:4001"
        );
        assert!(has_url_credentials("x http://token@host"));
        assert!(!has_url_credentials("http://host/a@b"));
        assert!(!has_url_credentials("no url at all @ here"));
    }
}
