//! Spawning a child the way Supervisor does (`Subprocess._spawn_as_child`).
//!
//! Everything the child needs (paths, argv, envp, user ids, error messages)
//! is built in the parent before `fork`, so the child only makes
//! async-signal-safe system calls: it runs after `fork` in a process that
//! may have other threads.  We fork by hand rather than through
//! `std::process::Command` because Supervisor's observable behaviour needs the
//! child to report its own setup failures on the program's stderr log and
//! exit 127 (`supervisor: couldn't chdir to /x: ENOENT`), which `Command`
//! turns into an error of `spawn()` instead.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::caps::CapsPlan;

/// A parent-side spawn failure, classified like Supervisor's
/// `ProcessException` subclasses (the RPC maps them to NO_FILE,
/// NOT_EXECUTABLE or SPAWN_ERROR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnError {
    NotFound(String),
    NotExecutable(String),
    Other(String),
}

impl SpawnError {
    pub fn message(&self) -> &str {
        match self {
            SpawnError::NotFound(m) | SpawnError::NotExecutable(m) | SpawnError::Other(m) => m,
        }
    }
}

pub use crate::config::expand::py_repr;

/// Supervisor's `get_execv_args` + `check_execv_args`: find argv[0] on the
/// program's PATH (its `environment=` PATH, else supervisord's) and check it
/// can be executed.  Returns the file name to exec.
pub fn resolve_command(
    argv: &[String],
    program_path: Option<&str>,
    daemon_path: Option<&OsStr>,
) -> Result<PathBuf, SpawnError> {
    let program = match argv.first() {
        Some(p) => p,
        None => return Err(SpawnError::Other("command is empty".to_string())),
    };
    let (filename, meta) = if program.contains('/') {
        (PathBuf::from(program), std::fs::metadata(program).ok())
    } else {
        let dirs: Vec<PathBuf> = match (program_path, daemon_path) {
            (Some(p), _) => p.split(':').map(PathBuf::from).collect(),
            (None, Some(p)) if !p.is_empty() => std::env::split_paths(p).collect(),
            _ => ["/bin", "/usr/bin", "/usr/local/bin"]
                .iter()
                .map(PathBuf::from)
                .collect(),
        };
        let mut found = None;
        for dir in dirs {
            let candidate = dir.join(program);
            if let Ok(m) = std::fs::metadata(&candidate) {
                found = Some((candidate, m));
                break;
            }
        }
        match found {
            Some((f, m)) => (f, Some(m)),
            None => (PathBuf::from(program), None),
        }
    };
    let shown = py_repr(&filename.to_string_lossy());
    let meta = match meta {
        Some(m) => m,
        None => return Err(SpawnError::NotFound(format!("can't find command {shown}"))),
    };
    if meta.is_dir() {
        return Err(SpawnError::NotExecutable(format!(
            "command at {shown} is a directory"
        )));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(SpawnError::NotExecutable(format!(
            "command at {shown} is not executable"
        )));
    }
    let c = CString::new(filename.as_os_str().as_bytes())
        .map_err(|_| SpawnError::Other(format!("command {shown} contains a NUL byte")))?;
    // SAFETY: access(2) with a valid NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
        return Err(SpawnError::NotExecutable(format!(
            "no permission to run command {shown}"
        )));
    }
    Ok(filename)
}

/// The identity a child switches to (`user=`), resolved in the parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSwitch {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups, primary gid first (as Supervisor does).
    pub groups: Vec<libc::gid_t>,
}

/// Resolve `user=` (a name or a number) like Supervisor's `drop_privileges`.
pub fn resolve_user(user: &str) -> Result<UserSwitch, String> {
    use nix::unistd::{Uid, User};
    let rec = match user.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n))
            .ok()
            .flatten()
            .ok_or_else(|| format!("Can't find uid {n}"))?,
        Err(_) => User::from_name(user)
            .ok()
            .flatten()
            .ok_or_else(|| format!("Can't find username {}", py_repr(user)))?,
    };
    let mut groups = vec![rec.gid.as_raw()];
    if let Ok(name) = CString::new(rec.name.as_bytes())
        && let Ok(list) = nix::unistd::getgrouplist(&name, rec.gid)
    {
        for g in list {
            if !groups.contains(&g.as_raw()) {
                groups.push(g.as_raw());
            }
        }
    }
    Ok(UserSwitch {
        uid: rec.uid.as_raw(),
        gid: rec.gid.as_raw(),
        groups,
    })
}

/// Everything needed to start one child, prepared before `fork`.
pub struct SpawnPlan {
    pub filename: CString,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    pub directory: Option<CString>,
    pub umask: Option<libc::mode_t>,
    pub user: Option<UserSwitch>,
    pub redirect_stderr: bool,
    /// For `[fcgi-program:x]`: this socket becomes fd 0 (no stdin pipe).
    pub fd0: Option<RawFd>,
    /// `capabilities=`: what the child keeps (None: untouched).
    pub caps: Option<CapsPlan>,
    // Messages the child may write to fd 2, pre-formatted.
    msg_setuid_nonroot: Vec<u8>,
    msg_setgroups: Vec<u8>,
    msg_setgid: Vec<u8>,
    msg_setuid: Vec<u8>,
    msg_chdir_prefix: Vec<u8>,
    msg_exec_prefix: Vec<u8>,
}

impl SpawnPlan {
    /// Build a plan.  `env` is the complete child environment in order.
    pub fn new(
        filename: &Path,
        argv: &[String],
        env: &[(OsString, OsString)],
        directory: Option<&Path>,
        umask: Option<u32>,
        user: Option<(UserSwitch, String)>,
        redirect_stderr: bool,
    ) -> Result<SpawnPlan, SpawnError> {
        let nul = |what: &str| SpawnError::Other(format!("{what} contains a NUL byte"));
        let filename_c =
            CString::new(filename.as_os_str().as_bytes()).map_err(|_| nul("command"))?;
        let argv_c = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| nul("command"))?;
        let mut env_c = Vec::with_capacity(env.len());
        for (k, v) in env {
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            env_c.push(CString::new(kv).map_err(|_| nul("environment"))?);
        }
        let dir_c = match directory {
            Some(d) => Some(CString::new(d.as_os_str().as_bytes()).map_err(|_| nul("directory"))?),
            None => None,
        };
        let uid_shown = user
            .as_ref()
            .map(|(u, _)| u.uid.to_string())
            .unwrap_or_default();
        let setuid_msg =
            |why: &str| format!("supervisor: couldn't setuid to {uid_shown}: {why}\n").into_bytes();
        Ok(SpawnPlan {
            filename: filename_c,
            argv: argv_c,
            env: env_c,
            directory: dir_c,
            umask,
            user: user.map(|(u, _)| u),
            redirect_stderr,
            fd0: None,
            caps: None,
            msg_setuid_nonroot: setuid_msg("Can't drop privilege as nonroot user"),
            msg_setgroups: setuid_msg("Could not set groups of effective user"),
            msg_setgid: setuid_msg("Could not set group id of effective user"),
            msg_setuid: setuid_msg("Could not set user id of effective user"),
            msg_chdir_prefix: format!(
                "supervisor: couldn't chdir to {}: ",
                directory
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            )
            .into_bytes(),
            msg_exec_prefix: format!(
                "supervisor: couldn't exec {}: ",
                argv.first().map(String::as_str).unwrap_or("")
            )
            .into_bytes(),
        })
    }
}

/// The parent's ends of a new child's pipes.
#[derive(Debug)]
pub struct Spawned {
    pub pid: i32,
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: Option<OwnedFd>,
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
    Ok((r, w))
}

fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// Map an errno from pipe/fork to Supervisor's spawn error text.
fn parent_error(name: &str, what: &str, e: &std::io::Error) -> SpawnError {
    let code = e.raw_os_error().unwrap_or(0);
    let msg = if code == libc::EMFILE || code == libc::ENFILE {
        format!("too many open files to spawn {}", py_repr(name))
    } else if code == libc::EAGAIN {
        format!(
            "Too many processes in process table to spawn {}",
            py_repr(name)
        )
    } else {
        format!(
            "unknown error {what} for {}: {}",
            py_repr(name),
            errno_name(code)
        )
    };
    SpawnError::Other(msg)
}

/// Descriptors kept open for the whole life of the daemon (all on
/// /dev/null while no spawn is in progress): `slots` receive the child's
/// stdin, stdout and stderr just before `clone`, `null` is what the slots
/// point back to afterwards.  Because they are low (opened before anything
/// else) and always occupied, no other thread is ever handed one of them.
struct Reserved {
    slots: [RawFd; 3],
    null: RawFd,
}

static RESERVED: std::sync::OnceLock<Option<Reserved>> = std::sync::OnceLock::new();

fn open_null() -> RawFd {
    // SAFETY: open(2) on a static NUL-terminated path.
    unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) }
}

/// Reserve the spawn slots.  Call it early, before other files are opened,
/// so that they are the lowest free descriptors (normally 3, 4 and 5); a
/// later call is harmless.  `None` (no /dev/null) falls back to copying the
/// whole descriptor table in the child.
pub fn reserve_fds() {
    RESERVED.get_or_init(|| {
        let fds = [open_null(), open_null(), open_null(), open_null()];
        if fds.iter().any(|&fd| fd < 0) {
            for fd in fds.into_iter().filter(|&fd| fd >= 0) {
                // SAFETY: closing what we just opened.
                unsafe { libc::close(fd) };
            }
            return None;
        }
        Some(Reserved {
            slots: [fds[0], fds[1], fds[2]],
            null: fds[3],
        })
    });
}

fn reserved() -> Option<&'static Reserved> {
    reserve_fds();
    RESERVED.get().and_then(|r| r.as_ref())
}

/// Fork and exec.  `name` is the process name for messages.  `max_fd` bounds
/// the fallback fd-closing loop when `close_range` is unavailable.
pub fn spawn(plan: &SpawnPlan, name: &str, max_fd: i32) -> Result<Spawned, SpawnError> {
    let stdin = if plan.fd0.is_none() {
        Some(pipe().map_err(|e| parent_error(name, "making dispatchers", &e))?)
    } else {
        None
    };
    let stdout = pipe().map_err(|e| parent_error(name, "making dispatchers", &e))?;
    let stderr = if plan.redirect_stderr {
        None
    } else {
        Some(pipe().map_err(|e| parent_error(name, "making dispatchers", &e))?)
    };
    let mut argv_ptrs: Vec<*const libc::c_char> = plan.argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = plan.env.iter().map(|a| a.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    let fds = ChildFds {
        stdin: plan
            .fd0
            .unwrap_or_else(|| stdin.as_ref().map(|(r, _)| r.as_raw_fd()).unwrap_or(-1)),
        stdout: stdout.1.as_raw_fd(),
        stderr: stderr
            .as_ref()
            .map(|(_, w)| w.as_raw_fd())
            .unwrap_or(stdout.1.as_raw_fd()),
    };
    // Put the child's three descriptors on the reserved slots: the child
    // then shares our table (CLONE_FILES) and unshares only the descriptors
    // below the slots' end, instead of copying thousands of pipe and log
    // descriptors that exec would close again.  Only this thread ever
    // repoints the slots.
    let slots = reserved().map(|r| {
        let mut at = [-1; 3];
        for (i, src) in [fds.stdin, fds.stdout, fds.stderr].into_iter().enumerate() {
            // SAFETY: dup3 onto a slot we own; the source is open.
            if src >= 0 && unsafe { libc::dup3(src, r.slots[i], libc::O_CLOEXEC) } >= 0 {
                at[i] = r.slots[i];
            }
        }
        (r, at)
    });
    let ctx = ChildCtx {
        plan,
        fds: &fds,
        slots: match &slots {
            Some((r, at)) if at[1] >= 0 && at[2] >= 0 => Some(Slots {
                stdin: at[0],
                stdout: at[1],
                stderr: at[2],
                keep_below: r.slots.iter().copied().max().unwrap_or(2) + 1,
            }),
            _ => None,
        },
        argv: argv_ptrs.as_ptr(),
        envp: env_ptrs.as_ptr(),
        max_fd,
    };
    let pid = clone_vfork(&ctx);
    if let Some((r, _)) = &slots {
        // The child has its own table by now (or is gone): drop our
        // references to its pipe ends so EOF arrives when it exits.
        for slot in r.slots {
            // SAFETY: repointing a slot we own at /dev/null.
            unsafe { libc::dup3(r.null, slot, libc::O_CLOEXEC) };
        }
    }
    if pid < 0 {
        return Err(parent_error(
            name,
            "during fork",
            &std::io::Error::last_os_error(),
        ));
    }
    // Parent: keep our ends (non-blocking), drop the child's ends.
    let stdin_w = stdin.map(|(r, w)| {
        drop(r);
        set_nonblocking(&w);
        w
    });
    let (out_r, out_w) = stdout;
    drop(out_w);
    set_nonblocking(&out_r);
    let err_r = stderr.map(|(r, w)| {
        drop(w);
        set_nonblocking(&r);
        r
    });
    Ok(Spawned {
        pid,
        stdin: stdin_w,
        stdout: out_r,
        stderr: err_r,
    })
}

/// What the child needs, passed by pointer through `clone`.
struct ChildCtx<'a> {
    plan: &'a SpawnPlan,
    fds: &'a ChildFds,
    /// Set when the child's descriptors sit on the reserved slots and the
    /// child shares the parent's table until it unshares.
    slots: Option<Slots>,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    max_fd: i32,
}

/// Stack for the child until it execs (it only makes system calls).
const CHILD_STACK: usize = 64 * 1024;

extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildCtx` the parent passed; the parent is
    // suspended (CLONE_VFORK) until we exec or exit, so it stays valid.
    unsafe {
        let ctx = &*(arg as *const ChildCtx<'_>);
        child_exec(
            ctx.plan,
            ctx.fds,
            ctx.slots.as_ref(),
            ctx.argv,
            ctx.envp,
            ctx.max_fd,
        )
    }
}

/// Start the child the way `posix_spawn` does: `clone(CLONE_VM |
/// CLONE_VFORK)` on a small separate stack, so no page tables are copied
/// and no copy-on-write faults follow (with many programs, `fork` cost most
/// of a spawn).  The parent is suspended until the child has exec'd or
/// exited.  All signals are blocked around it so no handler of ours runs in
/// the child, which resets every disposition before unblocking.
fn clone_vfork(ctx: &ChildCtx<'_>) -> libc::pid_t {
    let mut stack = vec![0u8; CHILD_STACK];
    // SAFETY: the stack grows down: pass its 16-byte-aligned top.
    let top = unsafe { stack.as_mut_ptr().add(CHILD_STACK) };
    let top = ((top as usize) & !15) as *mut libc::c_void;
    // SAFETY: signal masks and clone(2) with a valid entry point, stack and
    // argument that outlive the child's use of them (CLONE_VFORK).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let files = if ctx.slots.is_some() {
            libc::CLONE_FILES
        } else {
            0
        };
        let pid = libc::clone(
            child_entry,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | files | libc::SIGCHLD,
            ctx as *const ChildCtx<'_> as *mut libc::c_void,
        );
        let err = std::io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        drop(stack);
        if pid < 0 {
            // Keep the clone error for the caller's last_os_error().
            *libc::__errno_location() = err.raw_os_error().unwrap_or(libc::EAGAIN);
        }
        pid
    }
}

struct ChildFds {
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
}

/// The child's descriptors on the reserved slots; every slot is below
/// `keep_below`.
struct Slots {
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    keep_below: RawFd,
}

/// `close_range(2)`'s flag asking for a private copy of the table first
/// (Linux 5.9); the copy then holds only the descriptors below `first`.
const CLOSE_RANGE_UNSHARE: u32 = 1 << 1;

/// Write all of `buf` with raw `write(2)` calls, giving up on an error.
///
/// # Safety
/// For the forked child before `exec`: only async-signal-safe calls are
/// made, and `fd` must be a descriptor the child may write to.
unsafe fn write_all(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: writing from a valid slice.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n <= 0 {
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Write the pre-built message plus "child process was not spawned", exit 127.
///
/// # Safety
/// Only in the forked child before `exec`: it ends the process with
/// `_exit`, running no destructor and touching no lock.
unsafe fn child_fail(parts: &[&[u8]]) -> ! {
    for p in parts {
        // SAFETY: async-signal-safe write.
        unsafe { write_all(2, p) };
    }
    // SAFETY: as above.
    unsafe {
        write_all(2, b"supervisor: child process was not spawned\n");
        libc::_exit(127)
    }
}

/// The child side of `spawn`.  Async-signal-safe calls only: no allocation,
/// no locks, no Rust I/O.
///
/// # Safety
/// Only in the child of `fork`, which has one thread: `argv` and `envp`
/// must be NULL-terminated arrays of C strings that outlive the call (the
/// parent built them before forking), and the descriptors in `fds` and
/// `slots` must be open.
unsafe fn child_exec(
    plan: &SpawnPlan,
    fds: &ChildFds,
    slots: Option<&Slots>,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    max_fd: i32,
) -> ! {
    // SAFETY: every call below is an async-signal-safe system call on
    // memory prepared by the parent before fork.
    unsafe {
        // Its own process group, so stopasgroup/killasgroup reach the whole
        // tree and a Ctrl-C or HUP aimed at supervisord does not.
        libc::setpgid(0, 0);
        // Default signal dispositions (the Rust runtime ignores SIGPIPE and
        // ignored signals survive exec) and an empty mask.
        for sig in 1..65 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());

        let on_slots;
        let fds = match slots {
            Some(s) => {
                // Still sharing the parent's table: take a private copy of
                // just the descriptors below the slots' end before touching
                // anything.  Kernels before 5.9 copy the whole table.
                if libc::syscall(
                    libc::SYS_close_range,
                    s.keep_below as u32,
                    u32::MAX,
                    CLOSE_RANGE_UNSHARE,
                ) != 0
                    && libc::unshare(libc::CLONE_FILES) != 0
                {
                    // Fd 2 is still the daemon's: report on the program's.
                    write_all(
                        s.stderr,
                        b"supervisor: couldn't unshare the descriptor table\n\
                          supervisor: child process was not spawned\n",
                    );
                    libc::_exit(127);
                }
                on_slots = ChildFds {
                    stdin: s.stdin,
                    stdout: s.stdout,
                    stderr: s.stderr,
                };
                &on_slots
            }
            None => fds,
        };
        if fds.stdin >= 0 {
            libc::dup2(fds.stdin, 0);
        }
        libc::dup2(fds.stdout, 1);
        libc::dup2(fds.stderr, 2);
        // No daemon fd leaks into the program.
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..max_fd {
                libc::close(fd);
            }
        }

        if let Some(c) = &plan.caps
            && let Err((msg, e)) = c.before_user_switch()
        {
            child_fail(&[msg, errno_name(e).as_bytes(), b"\n"]);
        }
        if let Some(u) = &plan.user {
            let current = libc::getuid();
            if current != u.uid {
                if current != 0 {
                    child_fail(&[&plan.msg_setuid_nonroot]);
                }
                if libc::setgroups(u.groups.len(), u.groups.as_ptr()) != 0 {
                    child_fail(&[&plan.msg_setgroups]);
                }
                if libc::setgid(u.gid) != 0 {
                    child_fail(&[&plan.msg_setgid]);
                }
                if libc::setuid(u.uid) != 0 {
                    child_fail(&[&plan.msg_setuid]);
                }
            }
        }
        if let Some(c) = &plan.caps
            && let Err((msg, e)) = c.after_user_switch()
        {
            child_fail(&[msg, errno_name(e).as_bytes(), b"\n"]);
        }
        if let Some(dir) = &plan.directory
            && libc::chdir(dir.as_ptr()) != 0
        {
            let e = errno_name(*libc::__errno_location());
            child_fail(&[&plan.msg_chdir_prefix, e.as_bytes(), b"\n"]);
        }
        if let Some(m) = plan.umask {
            libc::umask(m);
        }
        libc::execve(plan.filename.as_ptr(), argv, envp);
        let e = errno_name(*libc::__errno_location());
        child_fail(&[&plan.msg_exec_prefix, e.as_bytes(), b"\n"])
    }
}

/// Python's `errno.errorcode[n]`: the symbolic name of an errno value.
pub fn errno_name(code: i32) -> &'static str {
    match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ELOOP => "ELOOP",
        libc::ELIBBAD => "ELIBBAD",
        libc::ENOSYS => "ENOSYS",
        _ => "EUNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon spawns from its one loop thread; the child briefly
    /// shares our descriptor table and uses the three reserved slots, so
    /// two tests spawning at once in this process would clobber each
    /// other's slots.  Tests spawn one at a time.
    fn spawn_alone(plan: &SpawnPlan, max_fd: i32) -> Spawned {
        static SPAWNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = SPAWNING.lock().unwrap_or_else(|e| e.into_inner());
        spawn(plan, "t", max_fd).expect("spawn")
    }

    #[test]
    fn resolve_finds_on_path_and_reports_like_supervisor() {
        let argv = vec!["sh".to_string()];
        let f =
            resolve_command(&argv, Some("/nonexistent:/bin:/usr/bin"), None).expect("sh on PATH");
        assert!(f.ends_with("sh"));
        let e = resolve_command(&["nope-xyz".to_string()], Some("/bin"), None).unwrap_err();
        assert_eq!(
            e,
            SpawnError::NotFound("can't find command 'nope-xyz'".into())
        );
        let e = resolve_command(&["/tmp".to_string()], None, None).unwrap_err();
        assert_eq!(
            e,
            SpawnError::NotExecutable("command at '/tmp' is a directory".into())
        );
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("x");
        std::fs::write(&f, "#!/bin/sh\n").expect("write");
        let e = resolve_command(&[f.display().to_string()], None, None).unwrap_err();
        assert!(matches!(e, SpawnError::NotExecutable(m) if m.ends_with("is not executable")));
        assert_eq!(
            resolve_command(&[], None, None).unwrap_err(),
            SpawnError::Other("command is empty".into())
        );
    }

    fn run(
        argv: &[&str],
        dir: Option<&Path>,
        user: Option<(UserSwitch, String)>,
    ) -> (i32, String, String) {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let file =
            resolve_command(&argv, None, std::env::var_os("PATH").as_deref()).expect("resolve");
        let env = vec![
            (OsString::from("PATH"), OsString::from("/usr/bin:/bin")),
            (OsString::from("X"), OsString::from("y z")),
        ];
        let plan = SpawnPlan::new(&file, &argv, &env, dir, Some(0o027), user, false).expect("plan");
        let child = spawn_alone(&plan, 1024);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child.pid, &mut status, 0) };
        let read = |fd: OwnedFd| {
            let mut out = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = nix::unistd::read(&fd, &mut buf) {
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&out).into_owned()
        };
        let out = read(child.stdout);
        let err = child.stderr.map(read).unwrap_or_default();
        (libc::WEXITSTATUS(status), out, err)
    }

    #[test]
    fn child_gets_env_umask_dir_own_pgrp_and_no_extra_fds() {
        let dir = tempfile::tempdir().expect("tmp");
        let (code, out, _) = run(
            &[
                "sh",
                "-c",
                "echo $X; umask; pwd; ls /proc/self/fd; ps -o pid=,pgid= -p $$ 2>/dev/null || cat /proc/self/stat",
            ],
            Some(dir.path()),
            None,
        );
        assert_eq!(code, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "y z");
        assert_eq!(lines[1], "0027");
        assert_eq!(
            std::fs::canonicalize(lines[2]).ok(),
            std::fs::canonicalize(dir.path()).ok()
        );
        // Only 0, 1, 2 and ls's own directory fd.
        let fds: Vec<&str> = lines[3..]
            .iter()
            .take_while(|l| l.trim().parse::<u32>().is_ok() && l.trim().len() < 4)
            .copied()
            .collect();
        assert!(fds.len() <= 4, "leaked fds: {fds:?}");
    }

    #[test]
    fn parent_keeps_no_reference_to_the_childs_pipe_ends() {
        // Hundreds of open descriptors in the parent, as with many programs.
        let many: Vec<OwnedFd> = (0..300)
            .filter_map(|_| std::fs::File::open("/dev/null").ok().map(OwnedFd::from))
            .collect();
        let argv = vec!["true".to_string()];
        let file =
            resolve_command(&argv, None, std::env::var_os("PATH").as_deref()).expect("resolve");
        let plan = SpawnPlan::new(&file, &argv, &[], None, None, None, false).expect("plan");
        let child = spawn_alone(&plan, 4096);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child.pid, &mut status, 0) };
        assert_eq!(libc::WEXITSTATUS(status), 0);
        // The child is gone: both output pipes must report hang-up, which
        // they only do if no slot of ours still holds a write end.
        for fd in [
            child.stdout.as_raw_fd(),
            child.stderr.as_ref().map_or(-1, |f| f.as_raw_fd()),
        ] {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polling one valid pollfd.
            let n = unsafe { libc::poll(&mut p, 1, 5000) };
            assert_eq!(n, 1, "no hang-up on fd {fd}");
            assert!(p.revents & libc::POLLHUP != 0, "revents {:#x}", p.revents);
        }
        if let Some(r) = reserved() {
            for slot in r.slots {
                let target = std::fs::read_link(format!("/proc/self/fd/{slot}")).expect("slot");
                assert_eq!(target, Path::new("/dev/null"));
            }
        }
        drop(many);
    }

    #[test]
    fn chdir_and_exec_failures_are_written_by_the_child_and_exit_127() {
        let (code, _, err) = run(
            &["sh", "-c", "true"],
            Some(Path::new("/nonexistent-dir")),
            None,
        );
        assert_eq!(code, 127);
        assert_eq!(
            err,
            "supervisor: couldn't chdir to /nonexistent-dir: ENOENT\nsupervisor: child process was not spawned\n"
        );
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("bad");
        std::fs::write(&f, [0x7f, b'E', b'L', b'F', 0, 0]).expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let (code, _, err) = run(&[f.to_str().unwrap_or_default()], None, None);
        assert_eq!(code, 127);
        assert!(
            err.starts_with(&format!(
                "supervisor: couldn't exec {}: ENOEXEC",
                f.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn setuid_as_nonroot_fails_like_supervisor() {
        // SAFETY: getuid never fails.
        if unsafe { libc::getuid() } == 0 {
            return; // covered by the integration tests that drop to another user
        }
        let other = UserSwitch {
            uid: 0,
            gid: 0,
            groups: vec![0],
        };
        let (code, _, err) = run(&["true"], None, Some((other, "root".into())));
        assert_eq!(code, 127);
        assert!(
            err.starts_with(
                "supervisor: couldn't setuid to 0: Can't drop privilege as nonroot user"
            )
        );
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::ENOENT), "ENOENT");
        assert_eq!(errno_name(libc::EACCES), "EACCES");
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("a'b"), "\"a'b\"");
    }
}
