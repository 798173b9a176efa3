//! Test harness for the integration tests: one temp dir per test, a daemon
//! that is always killed (with its whole process tree) when the test ends,
//! polling helpers instead of sleeps, and small /proc readers.
//!
//! Typical use:
//!
//! ```ignore
//! let mut h = Harness::new("backoff_to_fatal");
//! h.write_standard_conf("[program:x]\ncommand=/bin/sh {fixtures}/grandchild.sh {dir}/x.pids\n");
//! h.start(&[]);
//! let pid = h.wait_pid_file("x.pids", Duration::from_secs(5));
//! h.eventually(Duration::from_secs(5), "x is alive", || pid_alive(pid));
//! // dropping `h` stops the daemon and kills every process it left behind
//! ```
//!
//! Conventions:
//! * `{dir}` in any text written through the harness becomes the test's temp
//!   dir, `{fixtures}` the absolute path of `tests/fixtures`, `{tag}` the
//!   test's unique tag.
//! * The binary is `$SUPERVISORD_BIN` when set (e.g. the static musl build),
//!   else the one cargo built for this test run.
//! * The daemon runs with its CWD in the temp dir, so Supervisor's relative
//!   defaults (`supervisord.log`, `supervisord.pid`) land there too.

// Helpers are shared by many test files; not every one uses every helper.
#![allow(dead_code)]

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Environment variable set on every process the harness starts, so that
/// leftovers (daemonized, reparented, setsid'ed) can still be found.
pub const TAG_VAR: &str = "SUPERVISOR_RS_TEST_TAG";
/// Set this to keep a failed test's temp dir for inspection.
pub const KEEP_VAR: &str = "SUPERVISOR_RS_KEEP_TMP";

/// How long `Drop` waits after SIGTERM before it SIGKILLs everything.
const TERM_GRACE: Duration = Duration::from_secs(5);
/// Poll interval of [`wait_until`].
const POLL: Duration = Duration::from_millis(20);
/// How long cleanup waits for SIGKILLed processes to be gone.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Default timeout for one-shot commands (`-v`, `--check`, supervisorctl).
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

/// The usual head of a test config: everything lives in `{dir}`, the RPC
/// interface is on a unix socket there, supervisorctl points at it.
/// Append `[program:x]` sections and pass the result to `write_conf`.
pub const BASE_CONF: &str = "\
[supervisord]
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
childlogdir={dir}
loglevel=debug
nodaemon=true

[unix_http_server]
file={dir}/supervisor.sock

[supervisorctl]
serverurl=unix://{dir}/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

";

// ---------------------------------------------------------------------------
// Paths and environment

/// The `supervisord` binary under test.
pub fn supervisord_bin() -> PathBuf {
    match std::env::var_os("SUPERVISORD_BIN") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            // Relative paths are relative to the repo, not to a test's CWD.
            if p.is_absolute() {
                p
            } else {
                repo_root().join(p)
            }
        }
        _ => PathBuf::from(env!("CARGO_BIN_EXE_supervisord")),
    }
}

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures`, absolute.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

/// The reference Python Supervisor's virtualenv, when `scripts/test.sh`
/// (or the developer) set `SUPERVISOR_REF_VENV`.
pub fn reference_venv() -> Option<PathBuf> {
    let v = PathBuf::from(std::env::var_os("SUPERVISOR_REF_VENV")?);
    v.join("bin").join("supervisord").exists().then_some(v)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// True when running under CI (`CI` set to anything but empty/`false`/`0`).
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")),
        Err(_) => false,
    }
}

/// Skip (return `false`) or fail according to the project rule: a test that
/// cannot run here is skipped on a developer machine, but under CI a skip is
/// a failure, so CI can never pass by skipping.
///
/// ```ignore
/// if !skip_unless(is_root(), "needs root") { return; }
/// ```
pub fn skip_unless(ok: bool, why: &str) -> bool {
    if ok {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if in_ci() {
        panic!("{test}: {why}, and CI is set: a skip counts as a failure in CI");
    }
    eprintln!("SKIPPED {test}: {why} (this would fail under CI=true)");
    false
}

/// `if !require_root_or_skip() { return; }`
pub fn require_root_or_skip() -> bool {
    skip_unless(is_root(), "needs root")
}

/// Whether `unshare --pid --fork --mount-proc` works here (root, util-linux,
/// and a kernel/container that allows new PID namespaces). Cached.
pub fn pid_namespace_available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        is_root()
            && run_with_timeout(
                Command::new("unshare").args(["--pid", "--fork", "--mount-proc", "true"]),
                Duration::from_secs(10),
            )
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// `if !require_pid_namespace_or_skip() { return; }`
pub fn require_pid_namespace_or_skip() -> bool {
    require_root_or_skip()
        && skip_unless(
            pid_namespace_available(),
            "`unshare --pid --fork --mount-proc` does not work here",
        )
}

// ---------------------------------------------------------------------------
// Waiting

/// Poll `pred` every 20 ms until it is true or `timeout` passes. The error
/// says what was awaited and for how long. Use this, never a bare sleep.
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut pred: impl FnMut() -> bool,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        if pred() {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return Err(format!("timed out after {timeout:?} waiting for: {what}"));
        }
        std::thread::sleep(POLL);
    }
}

/// Like [`wait_until`] but the predicate yields a value when ready.
pub fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut get: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let mut out = None;
    wait_until(timeout, what, || {
        out = get();
        out.is_some()
    })?;
    out.ok_or_else(|| unreachable_msg(what))
}

fn unreachable_msg(what: &str) -> String {
    format!("internal: value vanished while waiting for {what}")
}

/// Run a one-shot command with a deadline; stdout/stderr are captured
/// through temp files (no pipe can fill up and block the child). On timeout
/// the child is SIGKILLed and an error is returned.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    let mut out = tempfile::tempfile().map_err(|e| format!("tempfile: {e}"))?;
    let mut err = tempfile::tempfile().map_err(|e| format!("tempfile: {e}"))?;
    let o2 = out.try_clone().map_err(|e| e.to_string())?;
    let e2 = err.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(o2)
        .stderr(e2)
        .spawn()
        .map_err(|e| format!("cannot spawn {cmd:?}: {e}"))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("wait for {cmd:?}: {e}")),
        }
    };
    let read = |f: &mut File| -> Vec<u8> {
        use std::io::Seek;
        let mut v = Vec::new();
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = f.read_to_end(&mut v);
        v
    };
    Ok(Output {
        status,
        stdout: read(&mut out),
        stderr: read(&mut err),
    })
}

/// stdout + stderr of an [`Output`] as one lossy string, for messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        describe_status(&o.status),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn describe_status(st: &ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => format!("{st:?}"),
    }
}

// ---------------------------------------------------------------------------
// /proc readers

/// Fields of /proc/<pid>/stat we care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub comm: String,
    /// R, S, D, Z, T, ...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// Start time in clock ticks since boot: (pid, starttime) identifies a
    /// process even when pids are reused.
    pub starttime: u64,
}

pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parens: it ends at the LAST ')'.
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let rest: Vec<&str> = s[close + 1..].split_whitespace().collect();
    // rest[0] = state (field 3), rest[1] = ppid (4), rest[2] = pgrp (5),
    // rest[3] = session (6), rest[19] = starttime (22).
    Some(ProcStat {
        pid,
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        pgrp: rest.get(2)?.parse().ok()?,
        session: rest.get(3)?.parse().ok()?,
        starttime: rest.get(19)?.parse().ok()?,
    })
}

/// Every process visible in /proc.
pub fn all_procs() -> Vec<ProcStat> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_stat)
        .collect()
}

/// The process exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    matches!(proc_stat(pid), Some(st) if st.state != 'Z' && st.state != 'X')
}

/// The process exists and is a zombie (exited, not reaped).
pub fn is_zombie(pid: i32) -> bool {
    matches!(proc_stat(pid), Some(st) if st.state == 'Z')
}

pub fn ppid_of(pid: i32) -> Option<i32> {
    proc_stat(pid).map(|s| s.ppid)
}

/// Direct children of `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    all_procs()
        .into_iter()
        .filter(|p| p.ppid == pid)
        .map(|p| p.pid)
        .collect()
}

/// All descendants of `pid` (not `pid` itself), found by following ppid
/// links in one snapshot of /proc.
pub fn descendants_of(pid: i32) -> Vec<ProcStat> {
    let procs = all_procs();
    let mut by_parent: BTreeMap<i32, Vec<&ProcStat>> = BTreeMap::new();
    for p in &procs {
        by_parent.entry(p.ppid).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut stack = vec![pid];
    let mut seen = BTreeSet::new();
    while let Some(p) = stack.pop() {
        for c in by_parent.get(&p).into_iter().flatten() {
            if seen.insert(c.pid) {
                out.push((*c).clone());
                stack.push(c.pid);
            }
        }
    }
    out
}

/// Zombie descendants of `pid`.
pub fn zombie_descendants(pid: i32) -> Vec<i32> {
    descendants_of(pid)
        .into_iter()
        .filter(|p| p.state == 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Value of `var` in /proc/<pid>/environ (the environment at exec time).
pub fn environ_var(pid: i32, var: &str) -> Option<String> {
    let data = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{var}=");
    data.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Live processes whose environment carries `TAG_VAR=<tag>`.
pub fn pids_with_tag(tag: &str) -> Vec<ProcStat> {
    let me = std::process::id() as i32;
    all_procs()
        .into_iter()
        .filter(|p| p.pid != me && p.state != 'Z')
        .filter(|p| environ_var(p.pid, TAG_VAR).as_deref() == Some(tag))
        .collect()
}

/// Command line of a process, arguments joined by spaces.
pub fn cmdline(pid: i32) -> Option<String> {
    let data = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let parts: Vec<String> = data
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    Some(parts.join(" "))
}

/// Send `sig` to `pid`; false if it failed (e.g. no such process).
pub fn send_signal(pid: i32, sig: i32) -> bool {
    if pid <= 0 {
        return false; // never kill(0) or kill(-1) by accident
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// `p` is still running (same pid and start time, not a zombie).
fn still_alive(p: &ProcStat) -> bool {
    proc_stat(p.pid)
        .is_some_and(|now| now.starttime == p.starttime && now.state != 'Z' && now.state != 'X')
}

/// SIGKILL `p` only if it is still the same process (pid not reused).
fn kill_if_same(p: &ProcStat, sig: i32) {
    if let Some(now) = proc_stat(p.pid)
        && now.starttime == p.starttime
    {
        send_signal(p.pid, sig);
    }
}

/// Kill processes tagged by an earlier test process that has died without
/// cleaning up (e.g. killed by a test-runner timeout). Runs once per test
/// binary; tags embed the owning test process's pid and start time.
fn sweep_stale_tags() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for p in all_procs() {
            let Some(tag) = environ_var(p.pid, TAG_VAR) else {
                continue;
            };
            // tag = "srs-<owner pid>-<owner starttime>-<n>-<name>"
            let mut it = tag.split('-').skip(1);
            let (Some(owner), Some(start)) = (it.next(), it.next()) else {
                continue;
            };
            let (Ok(owner), Ok(start)) = (owner.parse::<i32>(), start.parse::<u64>()) else {
                continue;
            };
            let owner_alive = proc_stat(owner).is_some_and(|o| o.starttime == start);
            if !owner_alive {
                kill_if_same(&p, libc::SIGKILL);
            }
        }
    });
}

fn unique_tag(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let me = std::process::id() as i32;
    let start = proc_stat(me).map(|s| s.starttime).unwrap_or(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("srs-{me}-{start}-{n}-{clean}")
}

// ---------------------------------------------------------------------------
// The harness

/// A process started by the harness: the daemon (or a wrapper around it).
struct Managed {
    child: Child,
    /// Set once the child has been reaped.
    status: Option<ExitStatus>,
}

/// One test's sandbox: a temp dir, at most one running daemon, and cleanup.
pub struct Harness {
    pub name: String,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    tag: String,
    daemon: Option<Managed>,
    /// Started under `unshare --pid`: the managed child is `unshare`, the
    /// daemon is its child.
    in_pid_ns: bool,
    /// A panic message already carried `diagnostics()`: Drop need not
    /// print them again.
    diagnostics_shown: Cell<bool>,
}

impl Harness {
    /// A fresh temp dir for the test `name` (used in the dir name and tag).
    pub fn new(name: &str) -> Harness {
        sweep_stale_tags();
        // Unix socket paths are limited to 108 bytes: keep the dir short and
        // avoid a long $TMPDIR.
        let base = std::env::temp_dir();
        let base = if base.as_os_str().len() > 40 {
            PathBuf::from("/tmp")
        } else {
            base
        };
        let short: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(24)
            .collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("srs-{short}-"))
            .tempdir_in(&base)
            .unwrap_or_else(|e| panic!("cannot create a temp dir in {}: {e}", base.display()));
        let path = dir.path().to_path_buf();
        Harness {
            name: name.to_string(),
            dir: Some(dir),
            path,
            tag: unique_tag(name),
            daemon: None,
            in_pid_ns: false,
            diagnostics_shown: Cell::new(false),
        }
    }

    /// The temp dir.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// A path inside the temp dir.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// This test's unique tag (also in every started process's environment).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Replace `{dir}`, `{fixtures}` and `{tag}`.
    pub fn subst(&self, text: &str) -> String {
        text.replace("{dir}", &self.path.to_string_lossy())
            .replace("{fixtures}", &fixtures_dir().to_string_lossy())
            .replace("{tag}", &self.tag)
    }

    /// Write `{dir}/<rel>` (parents created) with placeholders substituted.
    pub fn write_file(&self, rel: impl AsRef<Path>, text: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        fs::write(&p, self.subst(text)).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Write an executable `/bin/sh` script; `body` gets a `#!/bin/sh`
    /// line unless it starts with `#!`.
    pub fn write_script(&self, rel: impl AsRef<Path>, body: &str) -> PathBuf {
        let text = if body.starts_with("#!") {
            body.to_string()
        } else {
            format!("#!/bin/sh\n{body}")
        };
        let p = self.write_file(rel, &text);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
        p
    }

    /// Copy `tests/fixtures/<name>` into the temp dir as an executable.
    pub fn fixture(&self, name: &str) -> PathBuf {
        let src = fixtures_dir().join(name);
        let dst = self.path(name);
        fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", dst.display()));
        dst
    }

    /// `{dir}/supervisord.conf`.
    pub fn conf_path(&self) -> PathBuf {
        self.path("supervisord.conf")
    }

    /// Write `{dir}/supervisord.conf` from `text` (placeholders substituted).
    pub fn write_conf(&self, text: &str) -> PathBuf {
        self.write_file("supervisord.conf", text)
    }

    /// Write [`BASE_CONF`] followed by `sections` as `supervisord.conf`.
    pub fn write_standard_conf(&self, sections: &str) -> PathBuf {
        self.write_conf(&format!("{BASE_CONF}{sections}"))
    }

    /// `{dir}/supervisor.sock`, the socket of [`BASE_CONF`].
    pub fn socket_path(&self) -> PathBuf {
        self.path("supervisor.sock")
    }

    /// Make `{dir}/bin/<name>` a symlink to the binary under test (the
    /// multi-call binary picks its personality from argv[0]).
    pub fn bin_link(&self, name: &str) -> PathBuf {
        let bin_dir = self.path("bin");
        fs::create_dir_all(&bin_dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", bin_dir.display()));
        let link = bin_dir.join(name);
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(supervisord_bin(), &link)
                .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
        }
        link
    }

    /// A `Command` for `program` with the harness environment: CWD = temp
    /// dir, the tag set, stdin closed.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.path)
            .env(TAG_VAR, &self.tag)
            .stdin(Stdio::null());
        c
    }

    /// Run the binary under test once (`-v`, `--check`, ...) with a timeout.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_program(supervisord_bin(), args)
    }

    /// Run the binary under the name `personality` (via a symlink), e.g.
    /// `echo_supervisord_conf` or `supervisorctl`.
    pub fn run_as(&self, personality: &str, args: &[&str]) -> Output {
        let link = self.bin_link(personality);
        self.run_program(link, args)
    }

    /// `supervisorctl -c {dir}/supervisord.conf <args>`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let conf = self.conf_path();
        let mut all: Vec<&str> = vec!["-c", conf.to_str().unwrap_or_default()];
        all.extend_from_slice(args);
        self.run_as("supervisorctl", &all)
    }

    fn run_program(&self, program: impl AsRef<OsStr>, args: &[&str]) -> Output {
        let mut c = self.command(program);
        c.args(args);
        run_with_timeout(&mut c, CMD_TIMEOUT).unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// Start the daemon: `supervisord -n -c {dir}/supervisord.conf <extra>`,
    /// stdout/stderr to `{dir}/daemon.stdout` / `daemon.stderr`.
    pub fn start(&mut self, extra: &[&str]) -> i32 {
        let conf = self.conf_path();
        let mut args: Vec<&str> = vec!["-n", "-c", conf.to_str().unwrap_or_default()];
        args.extend_from_slice(extra);
        let mut c = self.command(supervisord_bin());
        c.args(&args);
        self.spawn_managed(c, false)
    }

    /// Start the daemon with its stdout going into a pipe (read by `cat`,
    /// which appends to `daemon.stdout`): a target that cannot seek, like a
    /// container runtime's log pipe.  `extra`: more arguments, split on
    /// spaces.  Returns the daemon's pid (from its pidfile).
    pub fn start_with_stdout_pipe(&mut self, extra: &str) -> i32 {
        let mut c = self.command("/bin/sh");
        c.arg("-c")
            .arg("\"$0\" -n -c \"$1\" $2 | cat")
            .arg(supervisord_bin())
            .arg(self.conf_path())
            .arg(extra);
        self.start_command(c);
        self.wait_pid_file("supervisord.pid", Duration::from_secs(20))
    }

    /// Start the daemon as PID 1 of a new PID namespace:
    /// `unshare --pid --fork --mount-proc supervisord -n -c ... <extra>`.
    /// Returns the daemon's pid as seen from here (not 1). Call
    /// [`require_pid_namespace_or_skip`] first.
    pub fn start_as_pid1(&mut self, extra: &[&str]) -> i32 {
        let conf = self.conf_path();
        let mut args: Vec<&OsStr> = vec![OsStr::new("-n"), OsStr::new("-c"), conf.as_os_str()];
        args.extend(extra.iter().map(OsStr::new));
        self.start_command_as_pid1(supervisord_bin(), &args)
    }

    /// Run `program args` as PID 1 of a new PID namespace (with /proc
    /// remounted), managed like the daemon. Returns its pid as seen from
    /// here. Call [`require_pid_namespace_or_skip`] first.
    pub fn start_command_as_pid1(&mut self, program: impl AsRef<OsStr>, args: &[&OsStr]) -> i32 {
        let mut c = self.command("unshare");
        // --kill-child: if unshare dies, the kernel SIGKILLs the namespace.
        c.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
            .arg(program)
            .args(args);
        let unshare_pid = self.spawn_managed(c, true);
        let init = wait_for(
            Duration::from_secs(10),
            "PID 1 of the new namespace to start",
            || children_of(unshare_pid).into_iter().next(),
        );
        init.unwrap_or_else(|e| {
            self.diagnostics_shown.set(true);
            panic!("{e}\n{}", self.diagnostics())
        })
    }

    /// The pid of `pid` inside its own (innermost) PID namespace, from
    /// `NSpid:` in /proc/<pid>/status; 1 for a namespace's init.
    pub fn ns_pid(pid: i32) -> Option<i32> {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
        line.split_whitespace().last()?.parse().ok()
    }

    /// Start any command as the managed process (it gets the same capture,
    /// tag and kill-on-drop as the daemon). Used by the harness's own tests
    /// and for wrappers.
    pub fn start_command(&mut self, c: Command) -> i32 {
        self.spawn_managed(c, false)
    }

    fn spawn_managed(&mut self, mut c: Command, in_pid_ns: bool) -> i32 {
        assert!(
            self.daemon.is_none() || self.daemon_exited(),
            "{}: a daemon is already running",
            self.name
        );
        let out = self.append_file("daemon.stdout");
        let err = self.append_file("daemon.stderr");
        c.stdout(out).stderr(err);
        // Backstop if the test process itself dies (runner timeout, abort):
        // the kernel SIGKILLs the daemon. (Children of the daemon are then
        // found by the stale-tag sweep of the next test run.)
        // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
        unsafe {
            c.pre_exec(|| {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                Ok(())
            });
        }
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("{}: cannot start {c:?}: {e}", self.name));
        let pid = child.id() as i32;
        self.daemon = Some(Managed {
            child,
            status: None,
        });
        self.in_pid_ns = in_pid_ns;
        pid
    }

    fn append_file(&self, rel: &str) -> File {
        let p = self.path(rel);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .unwrap_or_else(|e| panic!("open {}: {e}", p.display()))
    }

    /// Pid of the managed process (for `start_as_pid1`, the `unshare`
    /// wrapper; see its return value for the daemon itself).
    pub fn daemon_pid(&self) -> Option<i32> {
        self.daemon.as_ref().map(|d| d.child.id() as i32)
    }

    fn daemon_exited(&mut self) -> bool {
        self.try_status().is_some()
    }

    /// Exit status of the daemon if it has exited (reaps it).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        let d = self.daemon.as_mut()?;
        if d.status.is_none()
            && let Ok(Some(st)) = d.child.try_wait()
        {
            d.status = Some(st);
        }
        d.status
    }

    /// Wait for the daemon to exit by itself; panics with diagnostics on
    /// timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut st = None;
        let r = wait_until(timeout, "the daemon to exit", || {
            st = self.try_status();
            st.is_some()
        });
        match (r, st) {
            (Ok(_), Some(st)) => st,
            (r, _) => {
                self.diagnostics_shown.set(true);
                panic!("{}: {:?}\n{}", self.name, r.err(), self.diagnostics())
            }
        }
    }

    /// Send `sig` to the daemon (for `start_as_pid1`, to the namespace's
    /// PID 1: the daemon itself).
    pub fn signal(&self, sig: i32) {
        let Some(pid) = self.daemon_pid() else {
            panic!("{}: no daemon started", self.name)
        };
        let target = if self.in_pid_ns {
            children_of(pid).into_iter().next().unwrap_or(pid)
        } else {
            pid
        };
        assert!(
            send_signal(target, sig),
            "{}: kill({target}, {sig}) failed",
            self.name
        );
    }

    /// SIGTERM the daemon and wait for it to exit (a normal shutdown).
    pub fn stop(&mut self, timeout: Duration) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(timeout)
    }

    /// Wait until `{dir}/supervisor.sock` (or another socket) accepts.
    pub fn wait_for_socket(&self, timeout: Duration) {
        let sock = self.socket_path();
        self.eventually(
            timeout,
            &format!("{} to accept connections", sock.display()),
            || UnixStream::connect(&sock).is_ok(),
        );
    }

    /// [`wait_until`] that panics with the daemon's output, main log and
    /// process tree attached (and whether the daemon is still alive).
    pub fn eventually(
        &self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut() -> bool,
    ) -> Duration {
        let r = wait_until(timeout, what, &mut pred);
        match r {
            Ok(d) => d,
            Err(e) => {
                self.diagnostics_shown.set(true);
                panic!("{}: {e}\n{}", self.name, self.diagnostics())
            }
        }
    }

    /// Read `{dir}/<rel>`; empty string if missing.
    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        read_lossy(&self.path(rel))
    }

    pub fn daemon_stdout(&self) -> String {
        self.read("daemon.stdout")
    }

    pub fn daemon_stderr(&self) -> String {
        self.read("daemon.stderr")
    }

    /// `{dir}/supervisord.log` (the main log of [`BASE_CONF`]).
    pub fn main_log(&self) -> String {
        self.read("supervisord.log")
    }

    /// Pid written by a fixture (`echo $$ > {dir}/x.pid`): the first number
    /// in the file, or None if it is missing/empty/half-written.
    pub fn read_pid(&self, rel: impl AsRef<Path>) -> Option<i32> {
        self.read_pids(rel).first().copied()
    }

    /// All whitespace-separated numbers in a pid file.
    pub fn read_pids(&self, rel: impl AsRef<Path>) -> Vec<i32> {
        let text = self.read(rel);
        // A write may be in progress: only trust complete lines.
        let complete = match text.rfind('\n') {
            Some(i) => &text[..i],
            None => "",
        };
        complete
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect()
    }

    /// Wait for a pid file to appear and return its (first) pid.
    pub fn wait_pid_file(&self, rel: impl AsRef<Path>, timeout: Duration) -> i32 {
        let rel = rel.as_ref().to_path_buf();
        let mut pid = None;
        self.eventually(timeout, &format!("a pid in {}", rel.display()), || {
            pid = self.read_pid(&rel);
            pid.is_some()
        });
        pid.unwrap_or_default()
    }

    /// Wait until `{dir}/<rel>` contains `needle`.
    pub fn wait_file_contains(&self, rel: impl AsRef<Path>, needle: &str, timeout: Duration) {
        let p = self.path(rel);
        self.eventually(
            timeout,
            &format!("{} to contain {needle:?}", p.display()),
            || read_lossy(&p).contains(needle),
        );
    }

    /// Wait until the main log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) {
        self.wait_file_contains("supervisord.log", needle, timeout);
    }

    /// Send one XML-RPC call over `{dir}/supervisor.sock` and return the
    /// HTTP status and the raw response body. Parameters are already-encoded
    /// `<value>` contents; see [`xml`] for helpers.
    pub fn rpc_raw(&self, method: &str, params: &[String]) -> Result<(u16, String), String> {
        xmlrpc_unix(&self.socket_path(), method, params)
    }

    /// Everything useful for a failure message: daemon output, main log,
    /// processes still in the tree.
    pub fn diagnostics(&self) -> String {
        let mut s = format!("--- temp dir: {} (tag {})\n", self.path.display(), self.tag);
        if let Some(pid) = self.daemon_pid() {
            let state = match proc_stat(pid) {
                Some(st) if st.state != 'Z' => "running",
                _ => "exited",
            };
            s.push_str(&format!("--- daemon pid {pid}: {state}\n"));
        }
        for f in ["daemon.stdout", "daemon.stderr", "supervisord.log"] {
            let t = self.read(f);
            if !t.is_empty() {
                s.push_str(&format!("--- {f} (last 4 KiB):\n{}\n", tail(&t, 4096)));
            }
        }
        if let Some(pid) = self.daemon_pid() {
            s.push_str("--- process tree:\n");
            for p in descendants_of(pid) {
                s.push_str(&format!(
                    "  {} ppid {} {} {}\n",
                    p.pid,
                    p.ppid,
                    p.state,
                    cmdline(p.pid).unwrap_or(p.comm)
                ));
            }
        }
        s
    }

    /// Stop and kill everything this harness started. Idempotent; `Drop`
    /// calls it. Order: snapshot the tree, SIGTERM the daemon, give it
    /// [`TERM_GRACE`], snapshot again, SIGKILL the union (pid reuse
    /// checked by start time), then anything still carrying our tag.
    pub fn kill_all(&mut self) {
        fn collect(h: &Harness, v: &mut BTreeMap<i32, ProcStat>) {
            if let Some(pid) = h.daemon_pid() {
                for p in descendants_of(pid) {
                    v.entry(p.pid).or_insert(p);
                }
            }
            for p in pids_with_tag(&h.tag) {
                v.entry(p.pid).or_insert(p);
            }
        }
        let mut victims: BTreeMap<i32, ProcStat> = BTreeMap::new();
        collect(self, &mut victims);
        if let Some(d) = self.daemon.as_mut()
            && d.status.is_none()
        {
            let pid = d.child.id() as i32;
            // Under unshare, TERM the namespace's init (the daemon) so it
            // can shut down cleanly; unshare exits when it does.
            let target = if self.in_pid_ns {
                children_of(pid).into_iter().next().unwrap_or(pid)
            } else {
                pid
            };
            send_signal(target, libc::SIGTERM);
            let deadline = Instant::now() + TERM_GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(st)) = d.child.try_wait() {
                    d.status = Some(st);
                    break;
                }
                std::thread::sleep(POLL);
            }
        }
        collect(self, &mut victims);
        if let Some(d) = self.daemon.as_mut()
            && d.status.is_none()
        {
            let _ = d.child.kill();
            d.status = d.child.wait().ok();
        }
        for p in victims.values() {
            kill_if_same(p, libc::SIGKILL);
        }
        // SIGKILL takes effect when its target next runs, which on a busy
        // machine can be a while: wait until every victim is gone, killing
        // stragglers forked between the snapshots (they carry the tag).
        let deadline = Instant::now() + KILL_WAIT;
        loop {
            let left = pids_with_tag(&self.tag);
            let victims_left = victims.values().any(still_alive);
            if (left.is_empty() && !victims_left) || Instant::now() >= deadline {
                break;
            }
            for p in &left {
                kill_if_same(p, libc::SIGKILL);
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if panicking && !self.diagnostics_shown.get() {
            eprintln!(
                "{}: test failed; state before cleanup:\n{}",
                self.name,
                self.diagnostics()
            );
        }
        self.kill_all();
        if panicking
            && std::env::var_os(KEEP_VAR).is_some()
            && let Some(d) = self.dir.take()
        {
            let kept = d.keep();
            eprintln!("{}: kept {}", self.name, kept.display());
        }
    }
}

pub fn read_lossy(p: &Path) -> String {
    fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The last `n` bytes of `s` (on a char boundary).
pub fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = s.len() - n;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

// ---------------------------------------------------------------------------
// A tiny XML-RPC client (raw: encodes the call, returns the response text)

/// Encoders for XML-RPC `<value>` contents.
pub mod docker;

pub mod xml {
    pub fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }
    pub fn string(s: &str) -> String {
        format!("<string>{}</string>", escape(s))
    }
    pub fn int(i: i64) -> String {
        format!("<int>{i}</int>")
    }
    pub fn boolean(b: bool) -> String {
        format!("<boolean>{}</boolean>", u8::from(b))
    }
}

/// POST one XML-RPC call to `/RPC2` over a unix socket (HTTP/1.0, so the
/// server closes the connection and we read to EOF).
pub fn xmlrpc_unix(sock: &Path, method: &str, params: &[String]) -> Result<(u16, String), String> {
    let mut body = format!(
        "<?xml version=\"1.0\"?>\n<methodCall><methodName>{}</methodName><params>",
        xml::escape(method)
    );
    for p in params {
        body.push_str(&format!("<param><value>{p}</value></param>"));
    }
    body.push_str("</params></methodCall>\n");
    let req = format!(
        "POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s =
        UnixStream::connect(sock).map_err(|e| format!("connect {}: {e}", sock.display()))?;
    s.set_read_timeout(Some(CMD_TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| format!("read: {e}"))?;
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP header end in {resp:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a server that
/// must bind it itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"))
}

/// Seconds since the epoch (for log/time assertions).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
