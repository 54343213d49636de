//! The processes that hold files open under given folders, read from Linux's `/proc`: a
//! core that runs keeps its users index and the SQLite files of its recent users open
//! (SQLite's own locks tell nothing: an idle core holds none). Only the processes this
//! run may look at are seen (all of them as root); elsewhere than Linux, none.

use std::fs;
use std::path::{Path, PathBuf};

/// One process and the files under the folders it holds open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// Its command name (`/proc/<pid>/comm`), empty when unreadable.
    pub name: String,
    pub files: Vec<PathBuf>,
}

/// Every other process holding a file open under one of `dirs` (and not under one of
/// `except`), in pid order. Folders that do not exist hold nothing.
pub fn holders_under(dirs: &[PathBuf], except: &[PathBuf]) -> Vec<Holder> {
    let resolve = |dirs: &[PathBuf]| -> Vec<PathBuf> {
        dirs.iter()
            .filter_map(|d| fs::canonicalize(d).ok())
            .collect()
    };
    let (dirs, except) = (resolve(dirs), resolve(except));
    if dirs.is_empty() {
        return Vec::new();
    }
    let Ok(processes) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let own = std::process::id();
    let mut holders: Vec<Holder> = processes
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter_map(|pid| {
            let files = files_under(pid, &dirs, &except);
            (!files.is_empty()).then(|| Holder {
                pid,
                name: fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|n| n.trim_end().to_string())
                    .unwrap_or_default(),
                files,
            })
        })
        .collect();
    holders.sort_by_key(|h| h.pid);
    holders
}

/// The files of one process under `dirs`; none when its descriptors cannot be read (it
/// ended, or belongs to another user).
fn files_under(pid: u32, dirs: &[PathBuf], except: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let within = |path: &Path, list: &[PathBuf]| list.iter().any(|d| path.starts_with(d));
    let mut files: Vec<PathBuf> = fds
        .filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| within(target, dirs) && !within(target, except))
        .collect();
    files.sort();
    files.dedup();
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn a_process_holding_a_file_under_the_folder_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("held");
        fs::write(&file, b"x").unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec 3<\"$0\"; echo ready; exec sleep 30")
            .arg(&file)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut ready,
        )
        .unwrap();
        let found = holders_under(&[dir.path().to_path_buf()], &[]);
        let excepted = holders_under(&[dir.path().to_path_buf()], &[dir.path().to_path_buf()]);
        child.kill().unwrap();
        child.wait().unwrap();
        let found: Vec<_> = found.into_iter().filter(|h| h.pid == child.id()).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].files, vec![fs::canonicalize(&file).unwrap()]);
        assert!(excepted.iter().all(|h| h.pid != child.id()));
    }
}
