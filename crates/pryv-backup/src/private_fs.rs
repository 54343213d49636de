//! Folders and files that hold user data outside an install (backups, decrypted copies, a
//! drill's scratch platform): created 0700 and 0600 whatever the umask, so another account on
//! the host never reads them. The modes are given at creation (never a chmod after, which
//! would leave a window), and a umask can only take bits away from them.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use tempfile::TempDir;

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents, 0700 each.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `dir` (its parent must exist), 0700; fails if it exists.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().mode(DIR_MODE).create(dir)
}

/// Creates a new file, 0600, for writing; fails if it exists.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// A temporary folder in `dir`, 0700 (tempfile's own default is 0777 less the umask), removed
/// when dropped.
pub fn temp_dir_in(dir: &Path, prefix: &str) -> io::Result<TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(Permissions::from_mode(DIR_MODE))
        .tempdir_in(dir)
}

/// Creates the file when missing, with `mode` less its execute bits (and less the umask);
/// an existing file is left as it is.
pub fn create_file_with(path: &Path, mode: u32) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode & 0o666)
        .open(path)
        .map(drop)
}

/// Whether this run is root's.
pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() == 0 }
}

/// Removes the scratch folders in `dir` named `<prefix><pid>-…` whose process no longer runs:
/// a run killed outright (SIGKILL, power loss) could not remove its own. Only this account's
/// folders are looked at (and `also_owner`'s, a uid this account hands scratch to); `run`
/// names what made them, for the log.
pub fn remove_dead_scratch(dir: &Path, prefix: &str, also_owner: Option<u32>, run: &str) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir()
            || (meta.uid() != me && Some(meta.uid()) != also_owner)
            || process_runs(pid)
        {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => tracing::info!(
                "removed {}, left by {run} that was killed",
                entry.path().display()
            ),
            Err(e) => tracing::warn!("could not remove {}: {e}", entry.path().display()),
        }
    }
}

/// Whether a process with this id exists (a signal 0 probes without sending anything).
fn process_runs(pid: libc::pid_t) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
