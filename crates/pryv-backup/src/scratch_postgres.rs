//! A private throwaway PostgreSQL server, for the drill of a PostgreSQL install's backup:
//! a cluster made by the host's own `initdb` in a folder of the drill's scratch, its
//! `postgres` server listening on a Unix socket in that folder only (no TCP), trusting the
//! local connections only the folder's owner can make.
//!
//! The server is started as this process's child (not through `pg_ctl`, which detaches it):
//! it gets SIGQUIT (PostgreSQL's immediate shutdown) when this process ends however it ends,
//! a SIGKILL included, so a drill never leaves a server running. It runs in a process group
//! of its own, so a Ctrl-C meant for the drill reaches the drill alone, which then stops the
//! server and removes its folder on the way out.
//!
//! `initdb` and `postgres` refuse to run as root: a drill run as root runs them as the
//! `postgres` account (the one PostgreSQL's packages create), the scratch folder then
//! belonging to that account, so its parent folders must let that account through (`/tmp`
//! does). A drill run as any other account runs them as itself.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster's superuser, made by `initdb -U`.
const SUPERUSER: &str = "drill";
/// The account the server runs as when the drill runs as root.
const ROOT_RUNS_AS: &str = "postgres";
/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where PostgreSQL's server binaries were found.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    /// In `given` only, when given; else `initdb` on PATH (its real folder, where Debian's
    /// symlinks point, must hold `postgres` too), else the highest version under
    /// `/usr/lib/postgresql/*/bin`.
    pub fn find(given: Option<&Path>) -> Option<Binaries> {
        let holds_both =
            |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
        if let Some(dir) = given {
            return holds_both(dir).then(|| Binaries {
                dir: dir.to_path_buf(),
            });
        }
        let on_path = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("initdb"))
                .filter(|initdb| initdb.is_file())
                .filter_map(|initdb| std::fs::canonicalize(initdb).ok())
                .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
                .find(|dir| holds_both(dir))
        });
        let packaged = || {
            let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let version = name
                        .split('.')
                        .map(|n| n.parse::<u32>().ok())
                        .collect::<Option<Vec<u32>>>()?;
                    Some((version, entry.path().join("bin")))
                })
                .filter(|(_, dir)| holds_both(dir))
                .collect();
            versions.sort();
            versions.pop().map(|(_, dir)| dir)
        };
        on_path.or_else(packaged).map(|dir| Binaries { dir })
    }
}

/// The account `initdb` and `postgres` run as.
#[derive(Clone, Copy, Debug)]
struct Account {
    uid: libc::uid_t,
    gid: libc::gid_t,
}

/// Ourselves, or the `postgres` account when we are root; `None` when root and no such
/// account exists.
fn account_to_run_as() -> Option<Option<Account>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some(None);
    }
    account_named(ROOT_RUNS_AS).map(Some)
}

fn account_named(name: &str) -> Option<Account> {
    let name = CString::new(name).ok()?;
    // SAFETY: getpwnam reads the account database; the returned record is copied out at
    // once, before any other call could reuse its static storage.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: a non-null getpwnam result points to a valid passwd record.
    let entry = unsafe { &*entry };
    Some(Account {
        uid: entry.pw_uid,
        gid: entry.pw_gid,
    })
}

/// The uid a root drill's scratch folders belong to (the `postgres` account's), so the next
/// drill run as root may remove those a killed drill left.
pub fn root_scratch_owner() -> Option<libc::uid_t> {
    account_named(ROOT_RUNS_AS).map(|a| a.uid)
}

/// A running scratch server; stopped (and waited for) when dropped. Its folder is the
/// caller's to remove, after.
pub struct ScratchPostgres {
    server: Child,
    socket_dir: PathBuf,
    pub binaries: Binaries,
}

impl ScratchPostgres {
    /// Makes a cluster in `dir` with the binaries found in `binaries` (else as [`Binaries::find`]
    /// looks) (an empty 0700 folder of the drill's scratch, handed to the
    /// `postgres` account when we are root) and starts its server. The error says why the
    /// server could not be had, for the drill's report.
    pub fn start(dir: &Path, binaries: Option<&Path>) -> Result<ScratchPostgres, String> {
        let binaries = Binaries::find(binaries).ok_or_else(|| match binaries {
            Some(given) => format!(
                "PostgreSQL binaries not found (initdb and postgres in {})",
                given.display()
            ),
            None => "PostgreSQL binaries not found (initdb and postgres, on PATH or under \
                     /usr/lib/postgresql/*/bin)"
                .to_string(),
        })?;
        let account = account_to_run_as().ok_or_else(|| {
            format!(
                "running as root, and there is no `{ROOT_RUNS_AS}` account to run a scratch \
                 PostgreSQL server as (initdb and postgres refuse root)"
            )
        })?;
        if let Some(a) = account {
            let path = CString::new(dir.as_os_str().as_encoded_bytes())
                .map_err(|_| format!("{} holds a NUL byte", dir.display()))?;
            // SAFETY: chown on a NUL-terminated path of a folder we just created.
            if unsafe { libc::chown(path.as_ptr(), a.uid, a.gid) } != 0 {
                return Err(format!(
                    "cannot hand {} to the {ROOT_RUNS_AS} account: {}",
                    dir.display(),
                    std::io::Error::last_os_error()
                ));
            }
        }
        let data = dir.join("data");
        let initdb = command(&binaries.dir.join("initdb"), account)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", binaries.dir.join("initdb").display()))?;
        if !initdb.status.success() {
            let hint = match account {
                Some(_) => format!(
                    " (run as root, the drill runs PostgreSQL as the `{ROOT_RUNS_AS}` account, \
                     which must reach {}: set TMPDIR to a folder it can reach, such as /tmp)",
                    dir.display()
                ),
                None => String::new(),
            };
            return Err(format!(
                "{} failed ({}): {}{hint}",
                binaries.dir.join("initdb").display(),
                initdb.status,
                last_lines(&String::from_utf8_lossy(&initdb.stderr))
            ));
        }
        let log_path = dir.join("server.log");
        let log = crate::private_fs::create_new(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        if let Some(a) = account {
            std::os::unix::fs::chown(&log_path, Some(a.uid), Some(a.gid))
                .map_err(|e| format!("cannot hand {} over: {e}", log_path.display()))?;
        }
        let log_err = log
            .try_clone()
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut server = command(&binaries.dir.join("postgres"), account);
        server
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir)
            // No TCP; and speed over durability: the cluster is thrown away.
            .args(["-c", "listen_addresses="])
            .args(["-c", "unix_socket_permissions=0600"])
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "synchronous_commit=off", "-c", "jit=off"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        // SAFETY: prctl and getppid are async-signal-safe and touch only the child.
        let parent = std::process::id();
        unsafe {
            server.pre_exec(move || {
                // Runs after the child took its account: a change of account clears it.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The drill ended before the line above: nothing would stop the server.
                if u32::try_from(libc::getppid()).ok() != Some(parent) {
                    return Err(std::io::Error::other("the drill ended"));
                }
                Ok(())
            });
        }
        let server = server.spawn().map_err(|e| {
            format!(
                "cannot run {}: {e}",
                binaries.dir.join("postgres").display()
            )
        })?;
        let mut scratch = ScratchPostgres {
            server,
            socket_dir: dir.to_path_buf(),
            binaries,
        };
        scratch.wait_until_ready(&log_path)?;
        Ok(scratch)
    }

    /// How to connect: its socket folder, as its superuser.
    pub fn conn_str(&self) -> String {
        let quoted = self
            .socket_dir
            .display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('\'', "\\'");
        format!("host='{quoted}' user={SUPERUSER} dbname=postgres")
    }

    fn wait_until_ready(&mut self, log: &Path) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.server.try_wait() {
                let said = std::fs::read_to_string(log).unwrap_or_default();
                return Err(format!(
                    "the scratch PostgreSQL server stopped at once ({status}): {}",
                    last_lines(&said)
                ));
            }
            if postgres::Client::connect(&self.conn_str(), postgres::NoTls).is_ok() {
                return Ok(());
            }
            if start.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "the scratch PostgreSQL server did not accept connections within {}s",
                    START_TIMEOUT.as_secs()
                ));
            }
            if crate::interrupt::requested().is_some() {
                return Err("stopped by a signal while the scratch server started".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        // Immediate shutdown: nothing of the cluster is kept.
        if let Ok(pid) = libc::pid_t::try_from(self.server.id()) {
            // SAFETY: kill signals our own child, not waited for yet (its pid is still ours).
            unsafe { libc::kill(pid, libc::SIGQUIT) };
        }
        if let Err(e) = self.server.wait() {
            tracing::warn!("could not wait for the scratch PostgreSQL server: {e}");
        }
    }
}

/// A command run as `account` when given (its supplementary groups dropped by std).
fn command(program: &Path, account: Option<Account>) -> Command {
    let mut cmd = Command::new(program);
    // The server's own settings come from its arguments, never from the caller's PG* setup.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&name);
        }
    }
    cmd.env("LC_ALL", "C");
    if let Some(a) = account {
        cmd.uid(a.uid).gid(a.gid).current_dir("/");
    }
    cmd
}

/// The end of a tool's output, enough to say why it failed.
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}
