//! Which configuration settings hold secrets: those never come from the command line,
//! where every user of the machine sees them (`ps`, `/proc/<pid>/cmdline`).

use crate::url_credentials::has_url_credentials;

/// The endings of setting names that hold secrets, lower-cased: `password`,
/// `filesReadTokenSecret`, `ssoCookieSignSecret`, `piiHmacKey`, `adminAccessKey`,
/// `secretAccessKey`, ...; `accessKeyId` goes with its secret key.
const SECRET_NAME_ENDINGS: [&str; 7] = [
    "password",
    "passphrase",
    "secret",
    "token",
    "key",
    "credentials",
    "accesskeyid",
];

/// Why the setting `key` = `value` holds a secret, or `None`: its name says it is one
/// (its last part ends as a password, secret, key or token does; `keyPrefix` or
/// `passwordResetRequestMaxAge` do not), or its value is a URL with credentials.
pub fn secret_setting(key: &str, value: &str) -> Option<&'static str> {
    let name = key.rsplit(':').next().unwrap_or(key).to_ascii_lowercase();
    if SECRET_NAME_ENDINGS.iter().any(|end| name.ends_with(end)) {
        Some("it names a secret")
    } else if has_url_credentials(value) {
        Some("its value is a URL with credentials")
    } else {
        None
    }
}

/// The environment variable the core (and pryv-backup) read for `key`: `a:b:c` is `a__b__c`.
pub fn env_name_of(key: &str) -> String {
    key.replace(':', "__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_settings_are_told_by_name_or_by_credentials_in_a_url() {
        for key in [
            "storages:engines:postgresql:password",
            "storages:engines:s3:secretAccessKey",
            "storages:engines:s3:accessKeyId",
            "platform:piiHmacKey",
            "auth:adminAccessKey",
            "auth:filesReadTokenSecret",
            "auth:ssoCookieSignSecret",
            "services:email:key",
            "integrations:someApiToken",
        ] {
            assert!(secret_setting(key, "x").is_some(), "{key}");
        }
        for key in [
            "storages:engines:s3:keyPrefix",
            "storages:engines:postgresql:host",
            "storages:base:engine",
            "auth:passwordResetRequestMaxAge",
            "storages:engines:rqlite:url",
        ] {
            assert_eq!(secret_setting(key, "http://host:4001"), None, "{key}");
        }
        assert!(
            secret_setting("storages:engines:rqlite:url", "http://admin:pw@host:4001").is_some()
        );
        assert_eq!(
            env_name_of("storages:engines:postgresql:password"),
            "storages__engines__postgresql__password"
        );
    }
}
