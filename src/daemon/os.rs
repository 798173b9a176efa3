//! The daemon's one seam to the operating system for processes: spawn,
//! signal, reap, and the clock.  [`RealOs`] holds the daemon's only
//! `kill(2)` and `waitpid(2)` calls; [`FakeOs`] (tests) records what the
//! loop decided and lets a test say when children exit and time passes.
//!
//! `kill` and `waitpid` are libc calls, not nix's: nix's `kill` takes its
//! `Signal` enum, which has no real-time signals (a `stopsignal` or an
//! RPC `signalProcess` may name `SIGRTMIN+3`), and nix's `waitpid`
//! decodes the status into that enum and returns an error for a child
//! killed by a real-time signal, after the child was reaped, so its exit
//! would be lost (nix 0.31, `sys/wait.rs`: `term_signal(status)?`).

use crate::process::spawn::{self, SpawnError, SpawnPlan, Spawned};
use crate::process::state::ExitInfo;
use std::time::Instant;

/// What the loop asks of the operating system.
pub trait Os {
    /// Start a child as `plan` says.
    fn spawn(&mut self, plan: &SpawnPlan, name: &str, max_fd: i32) -> Result<Spawned, SpawnError>;
    /// `kill(pid, sig)`; a negative pid is a process group.
    fn kill(&mut self, pid: i32, sig: i32) -> std::io::Result<()>;
    /// Every child that has exited since the last call.
    fn reap(&mut self) -> Vec<(i32, ExitInfo)>;
    /// The monotonic clock.
    fn now(&self) -> Instant;
}

/// The real thing.
pub struct RealOs;

impl Os for RealOs {
    fn spawn(&mut self, plan: &SpawnPlan, name: &str, max_fd: i32) -> Result<Spawned, SpawnError> {
        spawn::spawn(plan, name, max_fd)
    }

    fn kill(&mut self, pid: i32, sig: i32) -> std::io::Result<()> {
        kill(pid, sig)
    }

    fn reap(&mut self) -> Vec<(i32, ExitInfo)> {
        reap_all()
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// `kill(2)` with any signal number.
pub fn kill(pid: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: kill(2) takes plain integers.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// One `waitpid(pid, WNOHANG or blocking)`: Ok(Some) for a reaped child,
/// Ok(None) when none has exited (non-blocking), Err(ECHILD) when there
/// are no children; EINTR is retried.
pub fn wait(pid: i32, block: bool) -> std::io::Result<Option<(i32, ExitInfo)>> {
    loop {
        let mut status: libc::c_int = 0;
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: waitpid with a valid status pointer.
        let got = unsafe { libc::waitpid(pid, &mut status, flags) };
        if got > 0 {
            return Ok(Some((got, decode(status))));
        }
        if got == 0 {
            return Ok(None);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Reap every child that has exited: `waitpid(-1, WNOHANG)` until none is
/// left, with no cap per pass (orphans reparented to us included).
pub fn reap_all() -> Vec<(i32, ExitInfo)> {
    let mut out = Vec::new();
    while let Ok(Some(x)) = wait(-1, false) {
        out.push(x);
    }
    out
}

/// Supervisor's `decode_wait_status`.
pub fn decode(status: libc::c_int) -> ExitInfo {
    if libc::WIFEXITED(status) {
        ExitInfo::exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        ExitInfo::signalled(libc::WTERMSIG(status), libc::WCOREDUMP(status))
    } else {
        ExitInfo {
            code: -1,
            signal: None,
            msg: format!("unknown termination cause 0x{status:04x}"),
        }
    }
}

/// A fake operating system for the loop's unit tests: spawns hand out
/// pids and real (empty) pipes, kills are recorded with the fake time,
/// and a test makes children exit and the clock move.
#[cfg(test)]
pub mod fake {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::time::Duration;

    /// What happened, in order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Call {
        Spawn { name: String, pid: i32 },
        Kill { pid: i32, sig: i32, at: Duration },
    }

    /// Shared with the test, which keeps a handle while the daemon owns
    /// its `FakeOs`.
    #[derive(Default)]
    pub struct World {
        pub calls: RefCell<Vec<Call>>,
        pub exited: RefCell<Vec<(i32, ExitInfo)>>,
        /// Programs that die at once when signalled with this signal.
        pub die_on: RefCell<Vec<(String, i32)>>,
        pub live: RefCell<Vec<(i32, String)>>,
        pub elapsed: Cell<Duration>,
        next_pid: Cell<i32>,
        /// Spawns of these names fail.
        pub unspawnable: RefCell<Vec<String>>,
        /// How far each spawn moves the clock (a real one blocks the loop
        /// until the program has exec'd).
        pub spawn_cost: Cell<Duration>,
    }

    impl World {
        pub fn advance(&self, d: Duration) {
            self.elapsed.set(self.elapsed.get() + d);
        }
        /// Make a live child exit with `code`.
        pub fn exit(&self, name: &str, code: i32) {
            let mut live = self.live.borrow_mut();
            if let Some(i) = live.iter().position(|(_, n)| n == name) {
                let (pid, _) = live.remove(i);
                self.exited.borrow_mut().push((pid, ExitInfo::exited(code)));
            }
        }
        pub fn kills(&self) -> Vec<(String, i32, Duration)> {
            let names: Vec<(i32, String)> = self
                .calls
                .borrow()
                .iter()
                .filter_map(|c| match c {
                    Call::Spawn { name, pid } => Some((*pid, name.clone())),
                    _ => None,
                })
                .collect();
            self.calls
                .borrow()
                .iter()
                .filter_map(|c| match c {
                    Call::Kill { pid, sig, at } => {
                        let name = names
                            .iter()
                            .find(|(p, _)| *p == pid.abs())
                            .map(|(_, n)| n.clone())
                            .unwrap_or_default();
                        Some((name, *sig, *at))
                    }
                    _ => None,
                })
                .collect()
        }
    }

    pub struct FakeOs {
        pub world: Rc<World>,
        start: Instant,
    }

    impl FakeOs {
        pub fn new() -> (FakeOs, Rc<World>) {
            let world = Rc::new(World::default());
            world.next_pid.set(1000);
            (
                FakeOs {
                    world: Rc::clone(&world),
                    start: Instant::now(),
                },
                world,
            )
        }
    }

    impl Os for FakeOs {
        fn spawn(&mut self, _plan: &SpawnPlan, name: &str, _: i32) -> Result<Spawned, SpawnError> {
            let w = &self.world;
            if w.unspawnable.borrow().iter().any(|n| n == name) {
                return Err(SpawnError::Other(format!("fake: cannot spawn {name}")));
            }
            w.advance(w.spawn_cost.get());
            let pid = w.next_pid.get() + 1;
            w.next_pid.set(pid);
            w.calls.borrow_mut().push(Call::Spawn {
                name: name.to_string(),
                pid,
            });
            w.live.borrow_mut().push((pid, name.to_string()));
            let (r, _w) =
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                    .map_err(|e| SpawnError::Other(e.to_string()))?;
            Ok(Spawned {
                pid,
                stdin: None,
                stdout: r,
                stderr: None,
            })
        }

        fn kill(&mut self, pid: i32, sig: i32) -> std::io::Result<()> {
            let w = &self.world;
            w.calls.borrow_mut().push(Call::Kill {
                pid,
                sig,
                at: w.elapsed.get(),
            });
            let name = w
                .live
                .borrow()
                .iter()
                .find(|(p, _)| *p == pid.abs())
                .map(|(_, n)| n.clone());
            let Some(name) = name else {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            };
            let dies = sig == libc::SIGKILL
                || w.die_on
                    .borrow()
                    .iter()
                    .any(|(n, s)| *n == name && *s == sig);
            if dies {
                let mut live = w.live.borrow_mut();
                live.retain(|(p, _)| *p != pid.abs());
                w.exited
                    .borrow_mut()
                    .push((pid.abs(), ExitInfo::signalled(sig, false)));
            }
            Ok(())
        }

        fn reap(&mut self) -> Vec<(i32, ExitInfo)> {
            std::mem::take(&mut *self.world.exited.borrow_mut())
        }

        fn now(&self) -> Instant {
            self.start + self.world.elapsed.get()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_exit_and_signal() {
        assert_eq!(decode(3 << 8).msg, "exit status 3");
        assert_eq!(decode(libc::SIGKILL).msg, "terminated by SIGKILL");
        assert_eq!(decode(libc::SIGKILL).code, -1);
        assert_eq!(
            decode(libc::SIGSEGV | 0x80).msg,
            "terminated by SIGSEGV (core dumped)"
        );
    }

    #[test]
    fn a_child_killed_by_a_real_time_signal_is_reaped_with_its_status() {
        // The reason kill/waitpid are libc calls here (see the header).
        let rt = libc::SIGRTMIN() + 3;
        // Reaped below by pid, not through `Child::wait`.
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        kill(pid, rt).expect("kill with a real-time signal");
        let (got, info) = wait(pid, true).expect("wait").expect("reaped");
        assert_eq!(got, pid);
        assert_eq!(info.signal, Some(rt));
    }
}
