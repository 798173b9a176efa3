//! `pidproxy PIDFILE COMMAND [ARG ...]`: keep a program that puts itself in
//! the background supervisable (SPEC A13, Part C).
//!
//! It runs COMMAND, becomes a child subreaper so that the backgrounded
//! process is re-parented to it, relays TERM, HUP, INT, USR1, USR2 and QUIT
//! at once to the pid named in PIDFILE, and exits when that process exits,
//! with its status (128+signal when killed).  When COMMAND exits and the
//! pidfile names no live process, COMMAND did not background anything, and
//! pidproxy exits with COMMAND's own status.
//!
//! Signals are blocked and taken with `sigtimedwait`, so there is no handler
//! and no race between a signal and the wait; it sleeps until a signal or a
//! child's exit, and polls (every 200 ms) only while it follows a process
//! that is not its child (a pidfile naming a process it did not start).

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The signals relayed to the program, as in the reference.
pub const RELAYED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGQUIT,
];

const USAGE: &str = "pidproxy.py <pidfile name> <command> [<cmdarg1> ...]\n";
/// How often a followed process that is not our child is checked.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// Exit status for a wait status: the code, or 128+signal.
fn status_code(st: WaitStatus) -> Option<i32> {
    match st {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// The pid in `path`: a positive integer, surrounding white space allowed.
pub fn read_pidfile(path: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(path).ok()?;
    text.trim().parse::<i32>().ok().filter(|&p| p > 0)
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

fn say(msg: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(msg.as_bytes());
    let _ = out.flush();
}

struct Proxy {
    pidfile: PathBuf,
    /// COMMAND, while it runs.
    child: Option<i32>,
    /// COMMAND's exit status, once it exited.
    child_status: Option<i32>,
    /// Statuses of other reaped processes (re-parented to us), by pid.
    reaped: Vec<(i32, i32)>,
}

impl Proxy {
    /// The process the signals go to: the pidfile's, else COMMAND while it
    /// runs (it may not have written the pidfile yet).
    fn relay(&self, sig: Signal) {
        let target = match read_pidfile(&self.pidfile) {
            Some(pid) => Some(pid),
            None => {
                say(&format!(
                    "Can't read child pidfile {}!\n",
                    self.pidfile.display()
                ));
                self.child
            }
        };
        if let Some(pid) = target {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    /// Collect every exited child without blocking.
    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(st) => {
                    let (Some(pid), Some(code)) = (st.pid(), status_code(st)) else {
                        continue;
                    };
                    let pid = pid.as_raw();
                    if Some(pid) == self.child {
                        self.child = None;
                        self.child_status = Some(code);
                    } else {
                        self.reaped.push((pid, code));
                        // Keep only the recent ones: a program that forks a
                        // lot must not grow this list without bound.
                        if self.reaped.len() > 64 {
                            self.reaped.remove(0);
                        }
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
        }
    }

    /// Done? Returns the exit status once the followed process is gone.
    /// Also says whether the followed process is one we cannot wait for.
    fn done(&self) -> (Option<i32>, bool) {
        if self.child.is_some() {
            return (None, false);
        }
        let Some(pid) = read_pidfile(&self.pidfile) else {
            return (self.child_status.or(Some(0)), false);
        };
        if let Some(&(_, code)) = self.reaped.iter().rev().find(|(p, _)| *p == pid) {
            return (Some(code), false);
        }
        if alive(pid) {
            // Our child (its exit brings a SIGCHLD) or a stranger (poll).
            let stranger = matches!(
                waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)),
                Err(Errno::ECHILD)
            );
            return (None, stranger);
        }
        // The pidfile names no live process: COMMAND did not background
        // one (or it died unseen); COMMAND's status is the answer.
        (self.child_status.or(Some(0)), false)
    }
}

/// Entry point: `args` exclude the program name.  Returns the exit status.
pub fn run(args: &[String]) -> i32 {
    let [pidfile, command, rest @ ..] = args else {
        say(USAGE);
        return 1;
    };
    // Become the reaper of whatever COMMAND leaves behind.
    if let Err(e) = crate::daemon::pid1::become_subreaper() {
        eprintln!("pidproxy: cannot become a child subreaper: {e}");
    }
    let mut set = SigSet::empty();
    for s in RELAYED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    if let Err(e) = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None) {
        eprintln!("pidproxy: cannot block signals: {e}");
        return 1;
    }
    // std's spawn resets the child's signal mask to empty.
    let child = match std::process::Command::new(command).args(rest).spawn() {
        Ok(c) => c.id() as i32,
        Err(e) => {
            eprintln!("pidproxy: cannot run {command}: {e}");
            return 127;
        }
    };
    let mut proxy = Proxy {
        pidfile: PathBuf::from(pidfile),
        child: Some(child),
        child_status: None,
        reaped: Vec::new(),
    };
    loop {
        proxy.reap();
        let (status, poll) = proxy.done();
        if let Some(code) = status {
            return code;
        }
        let timeout = poll.then_some(FOLLOW_POLL);
        match wait_signal(&set, timeout) {
            Some(Signal::SIGCHLD) | None => {}
            Some(sig) => proxy.relay(sig),
        }
    }
}

/// Wait for one of `set` (blocked), at most `timeout` when given.
fn wait_signal(set: &SigSet, timeout: Option<Duration>) -> Option<Signal> {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as _,
        tv_nsec: t.subsec_nanos() as _,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: a valid sigset_t and a null or valid timespec; no siginfo.
    let n = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), ts_ptr) };
    Signal::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfile_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pid");
        assert_eq!(read_pidfile(&p), None);
        for (text, want) in [
            ("123\n", Some(123)),
            ("  77 ", Some(77)),
            ("0", None),
            ("-5", None),
            ("abc", None),
            ("99999999999", None),
            ("", None),
        ] {
            std::fs::write(&p, text).unwrap();
            assert_eq!(read_pidfile(&p), want, "{text:?}");
        }
    }

    #[test]
    fn missing_arguments_print_usage_and_exit_1() {
        assert_eq!(run(&[]), 1);
        assert_eq!(run(&["only.pid".to_string()]), 1);
    }
}
