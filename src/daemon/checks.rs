//! Running readiness and liveness checks on the loop (SPEC Part B): when
//! attempts start, their sockets in the poll set, their `exec:` children
//! reaped, their timeouts, and what a result does (ready or not; a
//! liveness restart after `liveness_failures` failures in a row).
//!
//! A check runs only while its process is RUNNING: readiness at once,
//! liveness one `liveness_interval` later (a grace period for start-up).
//! Attempts start `interval` apart (start to start) and never overlap.  A
//! process without checks costs nothing: no fd, no deadline, no wake-up.

use crate::config::{CheckTarget, LogLevel};
use crate::daemon::core::{Mood, Supervisor};
use crate::daemon::groups::{Groups, ProcId};
use crate::process::probe::{Io, Kind, Probe, Progress};
use crate::process::state::{ExitInfo, Input, ProcessState};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// Attempts due within this much (at most 1/16 of their interval) of the
/// earliest one start with it: one wake-up serves many checks whose
/// programs started a little apart.
const SLACK_MAX: Duration = Duration::from_millis(50);

const KINDS: [Kind; 2] = [Kind::Readiness, Kind::Liveness];

/// One check of one process, borrowing only the groups (so the log and
/// the in-flight table stay usable beside it).
fn probe_mut(groups: &mut Groups, id: ProcId, kind: Kind) -> Option<&mut Probe> {
    groups.proc_mut(id).and_then(|p| p.probes.get_mut(kind))
}

fn probe(groups: &Groups, id: ProcId, kind: Kind) -> Option<&Probe> {
    groups.proc(id).and_then(|p| p.probes.get(kind))
}

fn slack(interval: Duration) -> Duration {
    (interval / 16).min(SLACK_MAX)
}

impl Supervisor {
    /// A process entered `to`: its checks start when it becomes RUNNING
    /// and stop (in-flight attempts cancelled) when it leaves RUNNING.
    pub(in crate::daemon) fn checks_on_state(&mut self, id: ProcId, to: ProcessState) {
        let now = self.os.now();
        let Some(p) = self.groups.proc_mut(id) else {
            return;
        };
        if to == ProcessState::Starting {
            p.probes.restart = false;
        }
        if to == ProcessState::Running {
            if let Some(r) = p.probes.readiness.as_mut() {
                r.next = Some(now);
            }
            if let Some(l) = p.probes.liveness.as_mut() {
                l.next = Some(now + l.check.interval);
            }
            return;
        }
        for kind in KINDS {
            self.end_attempt(id, kind, true);
            if let Some(probe) = probe_mut(&mut self.groups, id, kind) {
                probe.next = None;
                probe.fails = 0;
                probe.passed = false;
            }
        }
    }

    /// Drop the attempt in flight, if any: close its socket, or kill its
    /// `exec:` child and that child's process group when `kill` (not for
    /// a child already reaped).  Returns when the attempt started.
    fn end_attempt(&mut self, id: ProcId, kind: Kind, kill: bool) -> Option<Instant> {
        let attempt = probe_mut(&mut self.groups, id, kind)?.attempt.take()?;
        match attempt.io {
            Io::Socket { fd, .. } => {
                use std::os::fd::AsRawFd;
                self.in_flight.fds.remove(&fd.as_raw_fd());
            }
            Io::Exec { pid } if kill => {
                let _ = self.os.kill(-pid, libc::SIGKILL);
            }
            Io::Exec { .. } => {}
        }
        Some(attempt.started)
    }

    /// Start the attempts that are due, fail those past their timeout, and
    /// start again a process stopped by a liveness restart.
    pub(in crate::daemon) fn run_checks(&mut self, now: Instant) {
        if self.mood != Mood::Running {
            return;
        }
        let mut timed_out = Vec::new();
        let mut due = Vec::new();
        let mut restart = Vec::new();
        for (id, p) in self.groups.processes() {
            if p.probes.restart && p.machine.state() == ProcessState::Stopped {
                restart.push(id);
            }
            for kind in KINDS {
                let Some(probe) = p.probes.get(kind) else {
                    continue;
                };
                match (&probe.attempt, probe.next) {
                    (Some(a), _) if a.deadline <= now => timed_out.push((id, kind)),
                    (None, Some(next)) if next <= now + slack(probe.check.interval) => {
                        due.push((id, kind))
                    }
                    _ => {}
                }
            }
        }
        for (id, kind) in timed_out {
            let secs = probe(&self.groups, id, kind).map_or(0.0, |p| p.check.timeout.as_secs_f64());
            let why = Progress::Fail(format!("timed out after {secs} s"));
            self.finish_attempt(id, kind, why, true, now);
        }
        for (id, kind) in due {
            self.start_attempt(id, kind, now);
        }
        for id in restart {
            if let Some(p) = self.groups.proc_mut(id) {
                p.probes.restart = false;
            }
            self.drive(id, Input::Start, now);
        }
    }

    fn start_attempt(&mut self, id: ProcId, kind: Kind, now: Instant) {
        let exec = match probe(&self.groups, id, kind) {
            Some(probe) => match &probe.check.target {
                CheckTarget::Exec(argv) => Some(argv.clone()),
                _ => None,
            },
            None => return,
        };
        let progress = match exec {
            Some(argv) => match self.spawn_check(id, &argv) {
                Ok(pid) => {
                    self.in_flight.pids.insert(pid, (id, kind));
                    if let Some(probe) = probe_mut(&mut self.groups, id, kind) {
                        probe.start_exec(pid, now);
                    }
                    return;
                }
                Err(why) => Progress::Fail(why),
            },
            None => {
                let Some(probe) = probe_mut(&mut self.groups, id, kind) else {
                    return;
                };
                let progress = probe.start_socket(now);
                if let (Progress::Pending, Some((fd, _))) = (&progress, probe.poll_fd()) {
                    self.in_flight.fds.insert(fd, (id, kind));
                }
                progress
            }
        };
        if progress != Progress::Pending {
            self.finish_attempt(id, kind, progress, false, now);
        }
    }

    /// Fork and exec an `exec:` check: no shell, the program's environment
    /// and directory, stdio on /dev/null, in a process group of its own
    /// (so a timeout kills whatever it started).
    fn spawn_check(&self, id: ProcId, argv: &[String]) -> Result<i32, String> {
        let p = self.groups.proc(id).ok_or("the process was removed")?;
        let (program, args) = argv
            .split_first()
            .ok_or("the exec: check names no command")?;
        let mut cmd = std::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(self.child_env(p))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0);
        if let Some(dir) = &p.config.directory {
            cmd.current_dir(dir);
        }
        // The child is reaped by the loop's waitpid(-1), never through
        // this handle (dropping a `Child` neither waits nor kills).
        cmd.spawn()
            .map(|child| child.id() as i32)
            .map_err(|e| format!("cannot run {program}: {e}"))
    }

    /// The loop's poll set gets the socket of every attempt in flight.
    pub(in crate::daemon) fn checks_poll_set(&self, fds: &mut Vec<libc::pollfd>) {
        for (&fd, &(id, kind)) in &self.in_flight.fds {
            let polled = probe(&self.groups, id, kind).and_then(|probe| probe.poll_fd());
            if let Some((own, events)) = polled
                && own == fd
            {
                fds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                });
            }
        }
    }

    /// Move on the attempts whose sockets poll found ready.
    pub(in crate::daemon) fn checks_io(&mut self, ready: &[libc::pollfd], now: Instant) {
        for pfd in ready.iter().filter(|f| f.revents != 0) {
            let Some(&(id, kind)) = self.in_flight.fds.get(&pfd.fd) else {
                continue;
            };
            let progress = match probe_mut(&mut self.groups, id, kind) {
                Some(probe) if probe.poll_fd().is_some_and(|(fd, _)| fd == pfd.fd) => {
                    probe.socket_step()
                }
                _ => {
                    self.in_flight.fds.remove(&pfd.fd);
                    continue;
                }
            };
            if progress != Progress::Pending {
                self.finish_attempt(id, kind, progress, false, now);
            }
        }
    }

    /// A reaped child that was an `exec:` check: its result.  False when
    /// `pid` is no check.
    pub(in crate::daemon) fn check_reaped(
        &mut self,
        pid: i32,
        info: &ExitInfo,
        now: Instant,
    ) -> bool {
        let Some((id, kind)) = self.in_flight.pids.remove(&pid) else {
            return false;
        };
        let ours = probe(&self.groups, id, kind)
            .and_then(|probe| probe.attempt.as_ref())
            .is_some_and(|a| matches!(a.io, Io::Exec { pid: p } if p == pid));
        if ours {
            let progress = if info.signal.is_none() && info.code == 0 {
                Progress::Pass
            } else {
                Progress::Fail(info.msg.clone())
            };
            self.finish_attempt(id, kind, progress, false, now);
        }
        true
    }

    /// An attempt ended (a result, or its timeout: then an `exec:` child
    /// still running is killed): forget it, schedule the next one an
    /// interval after it started, and act on the result.
    fn finish_attempt(
        &mut self,
        id: ProcId,
        kind: Kind,
        progress: Progress,
        timed_out: bool,
        now: Instant,
    ) {
        let started = self.end_attempt(id, kind, timed_out).unwrap_or(now);
        if let Some(probe) = probe_mut(&mut self.groups, id, kind)
            && probe.next.is_some()
        {
            probe.next = Some((started + probe.check.interval).max(now));
        }
        self.check_result(id, kind, progress, now);
    }

    /// What a result does: readiness gained or lost (logged when it
    /// changes), or a liveness failure counted and, at the threshold, the
    /// process restarted.
    fn check_result(&mut self, id: ProcId, kind: Kind, progress: Progress, now: Instant) {
        let name = self.namespec(id);
        let Some(probe) = probe_mut(&mut self.groups, id, kind) else {
            return;
        };
        let was = probe.passed;
        let why = match progress {
            Progress::Pending => return,
            Progress::Pass => {
                probe.fails = 0;
                probe.passed = true;
                if !was && kind == Kind::Readiness {
                    self.state_generation += 1;
                    self.log.log(
                        LogLevel::Info,
                        &format!("readiness check of {name} passed: ready"),
                    );
                }
                return;
            }
            Progress::Fail(why) => why,
        };
        probe.fails = probe.fails.saturating_add(1);
        probe.passed = false;
        let (fails, limit) = (probe.fails, probe.check.failures);
        match kind {
            Kind::Readiness => {
                if was {
                    self.state_generation += 1;
                }
                // Losing readiness is a warning; the first failure of a
                // run says why it is not ready yet; repeats are debug.
                let level = match (was, fails) {
                    (true, _) => LogLevel::Warn,
                    (false, 1) => LogLevel::Info,
                    _ => LogLevel::Debug,
                };
                self.log.log(
                    level,
                    &format!("readiness check of {name} failed ({why}): not ready"),
                );
            }
            Kind::Liveness if fails >= limit => {
                self.log.log(
                    LogLevel::Warn,
                    &format!("liveness check of {name} failed {fails} times ({why}): restarting"),
                );
                if let Some(p) = self.groups.proc_mut(id) {
                    p.probes.restart = true;
                }
                self.drive(id, Input::Stop, now);
            }
            Kind::Liveness => self.log.log(
                LogLevel::Info,
                &format!("liveness check of {name} failed ({why}), {fails} of {limit}"),
            ),
        }
    }
}
