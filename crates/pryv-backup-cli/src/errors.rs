//! How an error reaches the operator: its chain of causes on one line, each said once, and
//! for a refused access, the Unix user the run had, so the operator knows whom to grant it
//! (or, on a read-only file system, where the sandbox must allow writes).

use std::ffi::CStr;
use std::io::ErrorKind;

/// No backup where the command was pointed: exit 10 (restic's "repository does not
/// exist"), so that a script tells a wrong or empty location from a failed run. A folder of
/// backups given where one backup is expected is bad usage of a good location: exit 1.
#[derive(Debug)]
pub struct NoBackup {
    pub text: String,
    pub folder_of_backups: bool,
}

impl std::fmt::Display for NoBackup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for NoBackup {}

pub fn print(error: &anyhow::Error) {
    eprintln!("error: {}", describe(error));
}

fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let shown = cause.to_string();
        // Many errors already end with their source's text ("I/O error on PATH: SOURCE").
        if text.ends_with(&shown) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&shown);
    }
    let kinds: Vec<ErrorKind> = error
        .chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .collect();
    if kinds.contains(&ErrorKind::PermissionDenied) {
        text.push_str(&format!(
            "\n  (pryv-backup ran as Unix user {}: give that user the access named above, or \
             run pryv-backup as a user that has it)",
            unix_user()
        ));
    } else if kinds.contains(&ErrorKind::ReadOnlyFilesystem) {
        text.push_str(
            "\n  (the file system is read-only for this run: under the systemd units, the folder \
             must be in the unit's ReadWritePaths=)",
        );
    }
    text
}

/// The effective user's name and uid.
fn unix_user() -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let mut entry = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to memory owned here, `buffer.len()` is its size, and the
    // entry is read only when getpwuid_r says it filled it.
    let name = unsafe {
        let rc = libc::getpwuid_r(
            uid,
            entry.as_mut_ptr(),
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        );
        (rc == 0 && !found.is_null()).then(|| {
            CStr::from_ptr((*found).pw_name)
                .to_string_lossy()
                .into_owned()
        })
    };
    match name {
        Some(name) => format!("{name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}
