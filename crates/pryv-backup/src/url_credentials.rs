//! Credentials in URLs (`scheme://user:password@host`): found, and redacted wherever a URL
//! is shown (messages, reports, errors of the HTTP and S3 clients).

/// What stands for a URL's userinfo wherever one is shown.
pub const REDACTED_USERINFO: &str = "***";

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
