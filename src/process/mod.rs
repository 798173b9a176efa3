//! Processes: the pure state machine (`state`), spawning (`spawn`), and the
//! per-process record the daemon keeps (`Process`).

pub mod caps;
pub mod probe;
pub mod spawn;
pub mod state;

use crate::config::{ChildLogTarget, ProcessConfig};
use crate::logs::ChildLog;
use state::{Machine, Policy, ProcessState};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Which output channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Stdout = 0,
    Stderr = 1,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }
}

/// One supervised process: its config, its state machine, and the OS
/// resources that belong to its current run.
pub struct Process {
    pub config: ProcessConfig,
    pub group: String,
    pub policy: Policy,
    pub machine: Machine,
    /// Resolved log file paths (AUTO names are created when the process is made).
    pub stdout_logfile: Option<PathBuf>,
    pub stderr_logfile: Option<PathBuf>,
    pub stdout_log: Option<ChildLog>,
    pub stderr_log: Option<ChildLog>,
    /// Parent ends of the child's pipes while it runs.
    pub stdin: Option<OwnedFd>,
    /// Data for the child's stdin not yet written (sendProcessStdin).
    pub stdin_buf: std::collections::VecDeque<u8>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// Wall-clock times for the RPC (`start`, `stop` fields).
    pub laststart_wall: Option<SystemTime>,
    pub laststop_wall: Option<SystemTime>,
    /// Spawns after the first (BACKOFF retries included).
    pub restarts: u64,
    /// A log write failed; cleared by the next successful write.
    pub log_failing: bool,
    /// For eventlistener processes: the protocol on their stdout.
    pub listener: Option<crate::events::listener::Protocol>,
    /// The event a listener is working on (re-queued if it fails or dies).
    pub listener_event: Option<crate::events::pool::Queued>,
    /// Capture mode per channel (`*_capture_maxbytes > 0`), index by `Channel as usize`.
    pub capture: [Option<crate::logs::capture::Capture>; 2],
    /// The "log target cannot be rotated" warning was given.
    pub warned_unrotatable: bool,
    /// The states it entered lately, for deferred RPC answers.
    pub trail: StateTrail,
    /// How it ended last time (`exit_supervisor_on` reports it).
    pub last_exit: Option<state::ExitInfo>,
    /// Readiness and liveness checks (SPEC Part B).
    pub probes: probe::Probes,
}

/// The last states a process entered, numbered in order.  A deferred
/// `startProcess`/`stopProcess` answer looks at what happened after its
/// call rather than only at the state it finds later: another client may
/// stop and restart the process before the answer is checked again, and a
/// stop that completed must still be answered.
#[derive(Debug, Default)]
pub struct StateTrail {
    seq: u64,
    recent: std::collections::VecDeque<(u64, ProcessState)>,
}

impl StateTrail {
    const KEEP: usize = 16;

    /// The number of the last recorded transition.
    pub fn mark(&self) -> u64 {
        self.seq
    }

    pub fn push(&mut self, state: ProcessState) {
        self.seq += 1;
        if self.recent.len() == Self::KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back((self.seq, state));
    }

    /// The states entered after `mark`, oldest first, and whether that is
    /// all of them (false when older ones were already dropped).
    pub fn since(&self, mark: u64) -> (impl Iterator<Item = ProcessState> + '_, bool) {
        let complete = self
            .recent
            .front()
            .is_none_or(|&(first, _)| first <= mark + 1);
        (
            self.recent
                .iter()
                .filter(move |&&(n, _)| n > mark)
                .map(|&(_, s)| s),
            complete,
        )
    }
}

impl Process {
    /// Make the record; AUTO log files are created now, as Supervisor does
    /// when a group is added.
    pub fn new(
        config: ProcessConfig,
        group: &str,
        childlogdir: &Path,
        identifier: &str,
    ) -> std::io::Result<Process> {
        let resolve = |t: &ChildLogTarget, ch: Channel| -> std::io::Result<Option<PathBuf>> {
            Ok(match t {
                ChildLogTarget::None => None,
                ChildLogTarget::File(p) => Some(p.clone()),
                ChildLogTarget::Auto => Some(crate::logs::auto_log_path(
                    childlogdir,
                    &config.name,
                    ch.name(),
                    identifier,
                )?),
            })
        };
        let stdout_logfile = resolve(&config.stdout.logfile, Channel::Stdout)?;
        let stderr_logfile = if config.redirect_stderr {
            None
        } else {
            resolve(&config.stderr.logfile, Channel::Stderr)?
        };
        let capture_for = |c: &crate::config::ChannelLog| {
            (c.capture_maxbytes > 0).then(|| crate::logs::capture::Capture::new(c.capture_maxbytes))
        };
        let capture = [capture_for(&config.stdout), capture_for(&config.stderr)];
        Ok(Process {
            probes: probe::Probes::new(&config),
            policy: Policy::from_config(&config),
            config,
            group: group.to_string(),
            machine: Machine::new(),
            stdout_logfile,
            stderr_logfile,
            stdout_log: None,
            stderr_log: None,
            stdin: None,
            stdin_buf: std::collections::VecDeque::new(),
            stdout: None,
            stderr: None,
            laststart_wall: None,
            laststop_wall: None,
            restarts: 0,
            log_failing: false,
            warned_unrotatable: false,
            trail: StateTrail::default(),
            last_exit: None,
            listener: None,
            listener_event: None,
            capture,
        })
    }

    /// Whether the process is ready by its `readiness_check`: None when it
    /// has none; else true only while RUNNING with the last check passed.
    /// (`depends_on` and `/readyz` gate on this.)
    pub fn ready(&self) -> Option<bool> {
        let probe = self.probes.readiness.as_ref()?;
        Some(probe.passed && self.machine.state() == ProcessState::Running)
    }

    /// Open the channel logs if they are not open yet (first spawn).
    pub fn ensure_logs(&mut self, strip_ansi: bool) -> std::io::Result<()> {
        if self.stdout_log.is_none() {
            self.stdout_log = self.open_log(Channel::Stdout, strip_ansi)?;
        }
        if self.stderr_log.is_none() && !self.config.redirect_stderr {
            self.stderr_log = self.open_log(Channel::Stderr, strip_ansi)?;
        }
        Ok(())
    }

    /// The log of one channel: its file and/or syslog, in line mode when
    /// `log_prefix` or JSON asks for it; `None` when it has neither.
    fn open_log(&self, ch: Channel, strip_ansi: bool) -> std::io::Result<Option<ChildLog>> {
        let (c, path) = match ch {
            Channel::Stdout => (&self.config.stdout, self.stdout_logfile.as_deref()),
            Channel::Stderr => (&self.config.stderr, self.stderr_logfile.as_deref()),
        };
        let tag = c.syslog.then(|| self.config.name.clone());
        if path.is_none() && tag.is_none() {
            return Ok(None);
        }
        let log = ChildLog::open(path, c.maxbytes, c.backups, tag, strip_ansi)?;
        Ok(Some(log.with_lines(crate::logs::Lines::for_process(
            &self.config,
            ch as usize,
        ))))
    }

    pub fn log_for(&mut self, ch: Channel) -> Option<&mut ChildLog> {
        match ch {
            Channel::Stdout => self.stdout_log.as_mut(),
            Channel::Stderr => self.stderr_log.as_mut(),
        }
    }
}

#[cfg(test)]
mod trail_tests {
    use super::{ProcessState as S, StateTrail};

    #[test]
    fn states_after_a_mark_in_order_and_whether_any_were_dropped() {
        let mut t = StateTrail::default();
        t.push(S::Starting);
        let mark = t.mark();
        let (none, complete) = t.since(mark);
        assert_eq!(none.count(), 0);
        assert!(complete);
        for s in [S::Running, S::Stopping, S::Stopped, S::Starting] {
            t.push(s);
        }
        let (after, complete) = t.since(mark);
        assert!(complete);
        assert_eq!(
            after.collect::<Vec<_>>(),
            [S::Running, S::Stopping, S::Stopped, S::Starting]
        );
        for _ in 0..StateTrail::KEEP {
            t.push(S::Backoff);
        }
        let (after, complete) = t.since(mark);
        assert!(!complete, "older states were dropped");
        assert_eq!(after.count(), StateTrail::KEEP);
        let (after, complete) = t.since(t.mark() - 2);
        assert!(complete);
        assert_eq!(after.count(), 2);
    }
}
