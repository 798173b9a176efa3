//! The per-process state machine, as a pure function.
//!
//! This is Supervisor's `process.py` (`spawn`, `finish`, `kill`, `stop`,
//! `give_up`, `transition`) without any system call: the caller passes `now`
//! and the [`Input`], and gets back the [`Effect`]s to carry out (spawn a
//! child, send a signal, log a line, emit a state-change event).  Unit tests
//! drive it with a fake clock.
//!
//! Differences in representation, not in behaviour: Python's `killing` flag is
//! "the state is STOPPING", and its `delay` lives in the variant that uses it
//! (`Backoff { retry_at }`, `Stopping { kill_at }`).
//!
//! Two Part B keys add deadlines of their own, both off by default:
//! `start_delay` (a start waits in STARTING, with no child yet, before its
//! first spawn: `StartDelay { spawn_at }`) and `fatal_restart_delay` (a
//! process that gave up is started again later: `Fatal { retry_at }`).

use crate::config::{AutoRestart, LogLevel, ProcessConfig};
use std::time::{Duration, Instant};

/// Supervisor's process states with their numeric codes (SPEC A6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProcessState {
    Stopped = 0,
    Starting = 10,
    Running = 20,
    Backoff = 30,
    Stopping = 40,
    Exited = 100,
    Fatal = 200,
    Unknown = 1000,
}

impl ProcessState {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn name(self) -> &'static str {
        match self {
            ProcessState::Stopped => "STOPPED",
            ProcessState::Starting => "STARTING",
            ProcessState::Running => "RUNNING",
            ProcessState::Backoff => "BACKOFF",
            ProcessState::Stopping => "STOPPING",
            ProcessState::Exited => "EXITED",
            ProcessState::Fatal => "FATAL",
            ProcessState::Unknown => "UNKNOWN",
        }
    }

    /// STOPPED_STATES: STOPPED, EXITED, FATAL, UNKNOWN.
    pub fn is_stopped(self) -> bool {
        matches!(
            self,
            ProcessState::Stopped
                | ProcessState::Exited
                | ProcessState::Fatal
                | ProcessState::Unknown
        )
    }

    /// RUNNING_STATES: RUNNING, BACKOFF, STARTING.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            ProcessState::Running | ProcessState::Backoff | ProcessState::Starting
        )
    }

    /// SIGNALLABLE_STATES: RUNNING, STARTING, STOPPING.
    pub fn is_signallable(self) -> bool {
        matches!(
            self,
            ProcessState::Running | ProcessState::Starting | ProcessState::Stopping
        )
    }
}

/// Where a process is, with the deadline that belongs to that state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Stopped,
    Starting,
    /// STARTING before the first spawn of a start, for `start_delay`
    /// seconds: no child yet; a stop cancels it (-> STOPPED).
    StartDelay {
        spawn_at: Instant,
    },
    Running,
    /// Waiting to retry the spawn; `retry_at` = failure time + backoff seconds.
    Backoff {
        retry_at: Instant,
    },
    /// The stop signal was sent; SIGKILL goes out at `kill_at`.
    Stopping {
        kill_at: Instant,
    },
    Exited,
    /// Gave up.  With `fatal_restart_delay`, `retry_at` is when it is
    /// started again (a stop cancels that); None = stays FATAL.
    Fatal {
        retry_at: Option<Instant>,
    },
    Unknown,
}

impl Phase {
    pub fn state(self) -> ProcessState {
        match self {
            Phase::Stopped => ProcessState::Stopped,
            Phase::Starting | Phase::StartDelay { .. } => ProcessState::Starting,
            Phase::Running => ProcessState::Running,
            Phase::Backoff { .. } => ProcessState::Backoff,
            Phase::Stopping { .. } => ProcessState::Stopping,
            Phase::Exited => ProcessState::Exited,
            Phase::Fatal { .. } => ProcessState::Fatal,
            Phase::Unknown => ProcessState::Unknown,
        }
    }
}

/// The subset of the program config the state machine reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub autostart: bool,
    pub startsecs: u64,
    pub startretries: u32,
    pub autorestart: AutoRestart,
    pub exitcodes: Vec<i32>,
    pub stopsignal: i32,
    pub stopwaitsecs: u64,
    pub stopasgroup: bool,
    pub killasgroup: bool,
    /// `start_delay`: seconds from a start to its first spawn.
    pub start_delay: u64,
    /// `fatal_restart_delay`: seconds from FATAL to a new start; 0 = never.
    pub fatal_restart_delay: u64,
}

impl Policy {
    pub fn from_config(c: &ProcessConfig) -> Policy {
        Policy {
            name: c.name.clone(),
            autostart: c.autostart,
            startsecs: c.startsecs,
            startretries: c.startretries,
            autorestart: c.autorestart,
            exitcodes: c.exitcodes.clone(),
            stopsignal: c.stopsignal,
            stopwaitsecs: c.stopwaitsecs,
            stopasgroup: c.stopasgroup,
            killasgroup: c.killasgroup,
            start_delay: c.launch.start_delay,
            fatal_restart_delay: c.launch.fatal_restart_delay,
        }
    }
}

/// How a child ended, decoded from its wait status like Supervisor's
/// `decode_wait_status`: `code` is the exit status, or -1 when killed by a
/// signal; `msg` is `exit status N` or `terminated by SIGX[ (core dumped)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: i32,
    pub signal: Option<i32>,
    pub msg: String,
}

impl ExitInfo {
    pub fn exited(code: i32) -> ExitInfo {
        ExitInfo {
            code,
            signal: None,
            msg: format!("exit status {code}"),
        }
    }

    pub fn signalled(sig: i32, core_dumped: bool) -> ExitInfo {
        let mut msg = format!("terminated by {}", signal_name(sig));
        if core_dumped {
            msg.push_str(" (core dumped)");
        }
        ExitInfo {
            code: -1,
            signal: Some(sig),
            msg,
        }
    }
}

/// `SIGTERM`-style name of a signal number (Supervisor's `signame`).
pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("signal {sig}"),
    }
}

/// What happened to the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Time passed: run Supervisor's `transition()`.  `may_start` is false
    /// while the daemon is shutting down or restarting (mood <= RESTARTING).
    Tick { may_start: bool },
    /// An operator or RPC start (the caller has checked the state allows it).
    Start,
    /// An operator or RPC stop (`stop()`).
    Stop,
    /// A group stop met this process in BACKOFF (`give_up()`).
    GiveUp,
    /// The fork succeeded.
    Spawned { pid: i32 },
    /// The spawn failed in the parent; `msg` becomes spawnerr.
    SpawnFailed { msg: String },
    /// The child was reaped.
    Exited(ExitInfo),
    /// Sending a signal failed with something other than ESRCH.
    KillFailed { msg: String },
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The state changed: the caller emits the PROCESS_STATE event (the one
    /// emitter).  `tries` is the backoff count, `pid` the pid at that moment.
    Changed {
        from: ProcessState,
        to: ProcessState,
        expected: bool,
        tries: u32,
        pid: i32,
    },
    /// Fork and exec the program now, then feed `Spawned` or `SpawnFailed`.
    Spawn,
    /// Send `sig` to the pid, or to its process group when `group`.
    Kill { sig: i32, group: bool },
    /// Write a line to the main log.
    Log(LogLevel, String),
}

/// The state of one process.  Everything the state machine needs and
/// nothing that needs the OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub phase: Phase,
    /// Python's `backoff`: failed starts in a row.
    pub backoff: u32,
    /// Python's `laststart`: when the last spawn began (None = never).
    pub laststart: Option<Instant>,
    /// The running child's pid, 0 if none.
    pub pid: i32,
    /// Last exit status (None after a too-quick exit or before any exit).
    pub exitstatus: Option<i32>,
    /// Why the last start failed.
    pub spawnerr: Option<String>,
    /// A stop request found the process EXITED, between two runs of a
    /// crash loop: no autorestart until the next start (SPEC Part C).
    pub held: bool,
}

impl Default for Machine {
    fn default() -> Self {
        Machine::new()
    }
}

/// A small margin so a deadline that must be passed strictly (`now - since >
/// startsecs`, `now > delay`) is passed when the loop wakes.
const STRICT: Duration = Duration::from_millis(1);

/// `t + d`, held at the latest instant this clock can represent near it when
/// the sum overflows: `startsecs` and `stopwaitsecs` may be any `i64`
/// (Supervisor accepts them), so such a deadline simply never comes.
pub fn saturating_after(t: Instant, d: Duration) -> Instant {
    let mut d = d;
    loop {
        if let Some(x) = t.checked_add(d) {
            return x;
        }
        // Halving ends: `t + 0` always fits.
        d /= 2;
    }
}

impl Machine {
    pub fn new() -> Machine {
        Machine {
            phase: Phase::Stopped,
            backoff: 0,
            laststart: None,
            pid: 0,
            exitstatus: None,
            spawnerr: None,
            held: false,
        }
    }

    pub fn state(&self) -> ProcessState {
        self.phase.state()
    }

    fn change(&mut self, to: Phase, expected: bool, now: Instant, fx: &mut Vec<Effect>) {
        let from = self.state();
        let mut to = to;
        if let Phase::Backoff { .. } = to {
            // Entering BACKOFF: one more failure, wait that many seconds.
            if from != ProcessState::Backoff {
                self.backoff = self.backoff.saturating_add(1);
                to = Phase::Backoff {
                    retry_at: saturating_after(now, Duration::from_secs(u64::from(self.backoff))),
                };
            }
        }
        self.phase = to;
        if from != to.state() {
            fx.push(Effect::Changed {
                from,
                to: to.state(),
                expected,
                tries: self.backoff,
                pid: self.pid,
            });
        }
    }

    /// Supervisor's `spawn()`: EXITED/FATAL/BACKOFF/STOPPED -> STARTING, then fork.
    fn spawn(&mut self, p: &Policy, now: Instant, fx: &mut Vec<Effect>) {
        if self.pid != 0 {
            fx.push(Effect::Log(
                LogLevel::Warn,
                format!("process '{}' already running", p.name),
            ));
            return;
        }
        self.spawnerr = None;
        self.exitstatus = None;
        self.held = false;
        self.laststart = Some(now);
        self.change(Phase::Starting, true, now, fx);
        fx.push(Effect::Spawn);
    }

    /// A start (operator, RPC or autostart): spawn at once, or with
    /// `start_delay`, enter STARTING now and spawn when the delay is over.
    fn start(&mut self, p: &Policy, now: Instant, fx: &mut Vec<Effect>) {
        if p.start_delay == 0 || self.pid != 0 {
            return self.spawn(p, now, fx);
        }
        self.spawnerr = None;
        self.exitstatus = None;
        self.held = false;
        // Set now so a cancelled delayed autostart is not autostarted again.
        self.laststart = Some(now);
        let spawn_at = saturating_after(now, Duration::from_secs(p.start_delay));
        self.change(Phase::StartDelay { spawn_at }, true, now, fx);
        fx.push(Effect::Log(
            LogLevel::Info,
            format!(
                "delaying: {} will be spawned in {} seconds (start_delay)",
                p.name, p.start_delay
            ),
        ));
    }

    /// Supervisor's `kill(sig)`: RUNNING/STARTING/STOPPING -> STOPPING, or
    /// BACKOFF -> STOPPED (and a STARTING that waits for `start_delay`).
    fn kill(&mut self, p: &Policy, sig: i32, now: Instant, fx: &mut Vec<Effect>) {
        if let Phase::StartDelay { .. } = self.phase {
            fx.push(Effect::Log(
                LogLevel::Info,
                format!(
                    "stopped: {} (before its start_delay ended: not spawned)",
                    p.name
                ),
            ));
            self.change(Phase::Stopped, true, now, fx);
            return;
        }
        if let Phase::Backoff { .. } = self.phase {
            fx.push(Effect::Log(
                LogLevel::Debug,
                format!("Attempted to kill {}, which is in BACKOFF state.", p.name),
            ));
            self.change(Phase::Stopped, true, now, fx);
            return;
        }
        if self.pid == 0 {
            fx.push(Effect::Log(
                LogLevel::Debug,
                format!(
                    "attempted to kill {} with sig {} but it wasn't running",
                    p.name,
                    signal_name(sig)
                ),
            ));
            return;
        }
        let group = if self.state() == ProcessState::Stopping {
            p.killasgroup
        } else {
            p.stopasgroup
        };
        fx.push(Effect::Log(
            LogLevel::Debug,
            format!(
                "killing {} (pid {}) {}with signal {}",
                p.name,
                self.pid,
                if group { "process group " } else { "" },
                signal_name(sig)
            ),
        ));
        let kill_at = saturating_after(now, Duration::from_secs(p.stopwaitsecs));
        self.change(Phase::Stopping { kill_at }, true, now, fx);
        fx.push(Effect::Kill { sig, group });
    }

    /// Supervisor's `give_up()`: -> FATAL; `retry_at` is set when the
    /// start retries ran out and `fatal_restart_delay` asks for another go.
    fn give_up(&mut self, retry_at: Option<Instant>, now: Instant, fx: &mut Vec<Effect>) {
        self.backoff = 0;
        self.change(Phase::Fatal { retry_at }, true, now, fx);
    }

    /// Feed one input; returns the effects in the order they must happen.
    pub fn step(&mut self, input: Input, p: &Policy, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        match input {
            Input::Tick { may_start } => self.transition(p, may_start, now, &mut fx),
            Input::Start => match self.state() {
                ProcessState::Stopped
                | ProcessState::Exited
                | ProcessState::Fatal
                | ProcessState::Backoff => self.start(p, now, &mut fx),
                // Python's startProcess calls spawn() in STOPPING too, and
                // spawn() refuses a live child with a warning before it
                // looks at the state: keep that warning.
                _ if self.pid != 0 => self.spawn(p, now, &mut fx),
                other => fx.push(Effect::Log(
                    LogLevel::Debug,
                    format!("start of {} ignored in state {}", p.name, other.name()),
                )),
            },
            Input::Stop => match self.state() {
                ProcessState::Running
                | ProcessState::Starting
                | ProcessState::Stopping
                | ProcessState::Backoff => self.kill(p, p.stopsignal, now, &mut fx),
                // Between two runs of an autorestarting program: a stop
                // must not be undone by the restart that was due.
                ProcessState::Exited if self.wants_restart(p) => {
                    self.held = true;
                    fx.push(Effect::Log(
                        LogLevel::Info,
                        format!(
                            "stop request: {} stays EXITED (autorestart cancelled)",
                            p.name
                        ),
                    ));
                }
                // A FATAL process due to be tried again: the stop cancels it.
                ProcessState::Fatal if self.phase != (Phase::Fatal { retry_at: None }) => {
                    self.phase = Phase::Fatal { retry_at: None };
                    fx.push(Effect::Log(
                        LogLevel::Info,
                        format!(
                            "stop request: {} stays FATAL (fatal_restart_delay retry cancelled)",
                            p.name
                        ),
                    ));
                }
                _ => {}
            },
            Input::GiveUp => {
                if self.state() == ProcessState::Backoff {
                    self.give_up(None, now, &mut fx);
                }
            }
            Input::Spawned { pid } => {
                self.pid = pid;
                self.spawnerr = None;
                fx.push(Effect::Log(
                    LogLevel::Info,
                    format!("spawned: '{}' with pid {}", p.name, pid),
                ));
            }
            Input::SpawnFailed { msg } => {
                fx.push(Effect::Log(LogLevel::Info, format!("spawnerr: {msg}")));
                self.spawnerr = Some(msg);
                self.change(Phase::Backoff { retry_at: now }, true, now, &mut fx);
            }
            Input::Exited(info) => self.finish(p, info, now, &mut fx),
            Input::KillFailed { msg } => {
                fx.push(Effect::Log(
                    LogLevel::Critical,
                    format!("unknown problem killing {} ({}):{}", p.name, self.pid, msg),
                ));
                self.change(Phase::Unknown, true, now, &mut fx);
            }
        }
        fx
    }

    /// Supervisor's `finish()`: the child was reaped.
    fn finish(&mut self, p: &Policy, info: ExitInfo, now: Instant, fx: &mut Vec<Effect>) {
        let too_quickly = match self.laststart {
            Some(start) if now > start => {
                now.duration_since(start) < Duration::from_secs(p.startsecs)
            }
            _ => false,
        };
        let expected = p.exitcodes.contains(&info.code);
        match self.state() {
            ProcessState::Stopping => {
                // STOPPING -> STOPPED: the result of a stop request.
                self.exitstatus = Some(info.code);
                self.change(Phase::Stopped, true, now, fx);
                let level = if expected {
                    LogLevel::Info
                } else {
                    LogLevel::Warn
                };
                fx.push(Effect::Log(
                    level,
                    format!("stopped: {} ({})", p.name, info.msg),
                ));
            }
            ProcessState::Starting if too_quickly => {
                // STARTING -> BACKOFF: it did not stay up for startsecs.
                self.exitstatus = None;
                self.spawnerr =
                    Some("Exited too quickly (process log may have details)".to_string());
                self.change(Phase::Backoff { retry_at: now }, true, now, fx);
                fx.push(Effect::Log(
                    LogLevel::Warn,
                    format!("exited: {} ({}; not expected)", p.name, info.msg),
                ));
            }
            state => {
                // RUNNING -> EXITED (STARTING passes through RUNNING when the
                // exit came after startsecs but before the loop noticed).
                self.backoff = 0;
                self.exitstatus = Some(info.code);
                if state == ProcessState::Starting {
                    self.change(Phase::Running, true, now, fx);
                } else if state != ProcessState::Running {
                    fx.push(Effect::Log(
                        LogLevel::Error,
                        format!("{} exited in unexpected state {}", p.name, state.name()),
                    ));
                }
                if expected {
                    self.change(Phase::Exited, true, now, fx);
                    fx.push(Effect::Log(
                        LogLevel::Info,
                        format!("exited: {} ({}; expected)", p.name, info.msg),
                    ));
                } else {
                    self.spawnerr = Some(format!("Bad exit code {}", info.code));
                    self.change(Phase::Exited, false, now, fx);
                    fx.push(Effect::Log(
                        LogLevel::Warn,
                        format!("exited: {} ({}; not expected)", p.name, info.msg),
                    ));
                }
            }
        }
        self.pid = 0;
    }

    fn wants_restart(&self, p: &Policy) -> bool {
        if self.held {
            return false;
        }
        match p.autorestart {
            AutoRestart::Always => true,
            AutoRestart::Never => false,
            AutoRestart::Unexpected => match self.exitstatus {
                Some(code) => !p.exitcodes.contains(&code),
                None => true,
            },
        }
    }

    /// Supervisor's `transition()`.
    fn transition(&mut self, p: &Policy, may_start: bool, now: Instant, fx: &mut Vec<Effect>) {
        let state = self.phase;
        if may_start {
            match state {
                Phase::Exited if self.wants_restart(p) => self.spawn(p, now, fx),
                Phase::Stopped if self.laststart.is_none() && p.autostart => self.start(p, now, fx),
                Phase::Backoff { retry_at } if self.backoff <= p.startretries && now > retry_at => {
                    self.spawn(p, now, fx)
                }
                Phase::StartDelay { spawn_at } if now >= spawn_at => self.spawn(p, now, fx),
                Phase::Fatal { retry_at: Some(at) } if now >= at => {
                    fx.push(Effect::Log(
                        LogLevel::Info,
                        format!(
                            "retrying: {} was FATAL for {} seconds (fatal_restart_delay), starting it again with {} start retries",
                            p.name, p.fatal_restart_delay, p.startretries
                        ),
                    ));
                    self.spawn(p, now, fx)
                }
                _ => {}
            }
        }
        match state {
            Phase::Starting => {
                if let Some(start) = self.laststart
                    && now > start
                    && now.duration_since(start) > Duration::from_secs(p.startsecs)
                {
                    self.backoff = 0;
                    self.change(Phase::Running, true, now, fx);
                    fx.push(Effect::Log(
                            LogLevel::Info,
                            format!(
                                "success: {} entered RUNNING state, process has stayed up for > than {} seconds (startsecs)",
                                p.name, p.startsecs
                            ),
                        ));
                }
            }
            Phase::Backoff { .. } if self.backoff > p.startretries => {
                let retry_at = (p.fatal_restart_delay > 0)
                    .then(|| saturating_after(now, Duration::from_secs(p.fatal_restart_delay)));
                self.give_up(retry_at, now, fx);
                fx.push(Effect::Log(
                    LogLevel::Info,
                    format!(
                        "gave up: {} entered FATAL state, too many start retries too quickly",
                        p.name
                    ),
                ));
                if retry_at.is_some() {
                    fx.push(Effect::Log(
                        LogLevel::Info,
                        format!(
                            "{} will be started again in {} seconds (fatal_restart_delay)",
                            p.name, p.fatal_restart_delay
                        ),
                    ));
                }
            }
            Phase::Stopping { kill_at } if now >= kill_at => {
                fx.push(Effect::Log(
                    LogLevel::Warn,
                    format!("killing '{}' ({}) with SIGKILL", p.name, self.pid),
                ));
                self.kill(p, libc::SIGKILL, now, fx);
            }
            _ => {}
        }
    }

    /// When this process next needs a `Tick`, if ever.  A deadline at or
    /// before `now` means "tick now".
    pub fn next_deadline(&self, p: &Policy, may_start: bool, now: Instant) -> Option<Instant> {
        match self.phase {
            Phase::Starting => self.laststart.map(|s| {
                saturating_after(s, Duration::from_secs(p.startsecs).saturating_add(STRICT))
            }),
            Phase::Backoff { retry_at } => {
                if self.backoff > p.startretries {
                    Some(now)
                } else if may_start {
                    Some(saturating_after(retry_at, STRICT))
                } else {
                    None
                }
            }
            Phase::Stopping { kill_at } => Some(kill_at),
            Phase::StartDelay { spawn_at } if may_start => Some(spawn_at),
            Phase::Fatal { retry_at: Some(at) } if may_start => Some(at),
            Phase::Exited if may_start && self.wants_restart(p) => Some(now),
            Phase::Stopped if may_start && self.laststart.is_none() && p.autostart => Some(now),
            _ => None,
        }
    }
}

#[cfg(test)]
mod table_tests;

#[cfg(test)]
mod delay_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use ProcessState::*;

    /// startsecs 1, startretries 3, autorestart unexpected, exitcodes 0,
    /// stopwaitsecs 10, TERM to the pid.
    pub(super) fn policy() -> Policy {
        Policy {
            name: "web".into(),
            autostart: true,
            startsecs: 1,
            startretries: 3,
            autorestart: AutoRestart::Unexpected,
            exitcodes: vec![0],
            stopsignal: libc::SIGTERM,
            stopwaitsecs: 10,
            stopasgroup: false,
            killasgroup: false,
            start_delay: 0,
            fatal_restart_delay: 0,
        }
    }

    pub(super) fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    pub(super) fn changes(fx: &[Effect]) -> Vec<(ProcessState, ProcessState)> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Changed { from, to, .. } => Some((*from, *to)),
                _ => None,
            })
            .collect()
    }

    fn logs(fx: &[Effect]) -> Vec<String> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Log(_, m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    /// Start the machine at t0 and fork successfully with pid 100.
    fn started(p: &Policy, t0: Instant) -> Machine {
        let mut m = Machine::new();
        let fx = m.step(Input::Tick { may_start: true }, p, t0);
        assert_eq!(changes(&fx), vec![(Stopped, Starting)]);
        assert!(fx.contains(&Effect::Spawn));
        let fx = m.step(Input::Spawned { pid: 100 }, p, t0);
        assert_eq!(logs(&fx), vec!["spawned: 'web' with pid 100"]);
        m
    }

    #[test]
    fn state_codes_and_classes() {
        assert_eq!(Stopped.code(), 0);
        assert_eq!(Starting.code(), 10);
        assert_eq!(Running.code(), 20);
        assert_eq!(Backoff.code(), 30);
        assert_eq!(Stopping.code(), 40);
        assert_eq!(Exited.code(), 100);
        assert_eq!(Fatal.code(), 200);
        assert_eq!(Unknown.code(), 1000);
        for s in [Stopped, Exited, Fatal, Unknown] {
            assert!(s.is_stopped() && !s.is_running());
        }
        for s in [Running, Backoff, Starting] {
            assert!(s.is_running() && !s.is_stopped());
        }
        assert!(Stopping.is_signallable() && !Backoff.is_signallable());
    }

    #[test]
    fn autostart_only_once_and_only_when_allowed() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = Machine::new();
        assert!(m.step(Input::Tick { may_start: false }, &p, t0).is_empty());
        assert_eq!(m.next_deadline(&p, false, t0), None);
        assert_eq!(m.next_deadline(&p, true, t0), Some(t0));
        let mut q = p.clone();
        q.autostart = false;
        assert!(m.step(Input::Tick { may_start: true }, &q, t0).is_empty());
        assert_eq!(m.next_deadline(&q, true, t0), None);
    }

    #[test]
    fn starting_to_running_strictly_after_startsecs() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = started(&p, t0);
        assert!(changes(&m.step(Input::Tick { may_start: true }, &p, t0 + secs(1.0))).is_empty());
        let d = m.next_deadline(&p, true, t0).expect("deadline");
        assert!(d > t0 + secs(1.0));
        let fx = m.step(Input::Tick { may_start: true }, &p, d);
        assert_eq!(changes(&fx), vec![(Starting, Running)]);
        assert_eq!(
            logs(&fx),
            vec![
                "success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"
            ]
        );
        assert_eq!(m.backoff, 0);
    }

    #[test]
    fn startsecs_zero_is_running_on_next_tick() {
        let mut p = policy();
        p.startsecs = 0;
        let t0 = Instant::now();
        let mut m = started(&p, t0);
        let d = m.next_deadline(&p, true, t0).expect("deadline");
        assert!(d <= t0 + secs(0.01));
        assert_eq!(
            changes(&m.step(Input::Tick { may_start: true }, &p, d)),
            vec![(Starting, Running)]
        );
    }

    #[test]
    fn backoff_delays_grow_then_fatal() {
        let p = policy(); // startretries = 3
        let t0 = Instant::now();
        let mut m = started(&p, t0);
        let mut now = t0;
        let mut attempts = 1;
        for n in 1..=4u32 {
            now += secs(0.1);
            let fx = m.step(Input::Exited(ExitInfo::exited(1)), &p, now);
            assert_eq!(changes(&fx), vec![(Starting, Backoff)]);
            assert_eq!(m.backoff, n);
            assert_eq!(
                m.spawnerr.as_deref(),
                Some("Exited too quickly (process log may have details)")
            );
            assert_eq!(logs(&fx), vec!["exited: web (exit status 1; not expected)"]);
            if n == 4 {
                break;
            }
            // Not yet: the wait is n seconds, strictly.
            assert!(
                changes(&m.step(Input::Tick { may_start: true }, &p, now + secs(n as f64)))
                    .is_empty()
            );
            let d = m.next_deadline(&p, true, now).expect("deadline");
            assert!(d > now + secs(n as f64) && d < now + secs(n as f64 + 0.01));
            now = d;
            let fx = m.step(Input::Tick { may_start: true }, &p, now);
            assert_eq!(changes(&fx), vec![(Backoff, Starting)]);
            assert!(matches!(fx[0], Effect::Changed { tries, .. } if tries == n));
            m.step(
                Input::Spawned {
                    pid: 100 + n as i32,
                },
                &p,
                now,
            );
            attempts += 1;
        }
        assert_eq!(attempts, 4, "startretries=3 means 4 attempts in all");
        // backoff (4) > startretries (3): FATAL at once, even while shutting down.
        assert_eq!(m.next_deadline(&p, false, now), Some(now));
        let fx = m.step(Input::Tick { may_start: false }, &p, now);
        assert_eq!(changes(&fx), vec![(Backoff, Fatal)]);
        assert_eq!(
            logs(&fx),
            vec!["gave up: web entered FATAL state, too many start retries too quickly"]
        );
        assert_eq!(m.backoff, 0);
        assert_eq!(m.next_deadline(&p, true, now), None);
    }

    #[test]
    fn backoff_event_carries_incremented_tries() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = started(&p, t0);
        let fx = m.step(Input::Exited(ExitInfo::exited(0)), &p, t0 + secs(0.5));
        assert!(matches!(
            fx[0],
            Effect::Changed {
                to: Backoff,
                tries: 1,
                pid: 100,
                ..
            }
        ));
    }

    #[test]
    fn spawn_failure_goes_to_backoff() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = Machine::new();
        m.step(Input::Tick { may_start: true }, &p, t0);
        let fx = m.step(
            Input::SpawnFailed {
                msg: "can't find command '/nope'".into(),
            },
            &p,
            t0,
        );
        assert_eq!(changes(&fx), vec![(Starting, Backoff)]);
        assert_eq!(logs(&fx), vec!["spawnerr: can't find command '/nope'"]);
        assert_eq!(m.spawnerr.as_deref(), Some("can't find command '/nope'"));
    }

    fn running(p: &Policy, t0: Instant) -> Machine {
        let mut m = started(p, t0);
        m.step(Input::Tick { may_start: true }, p, t0 + secs(1.5));
        assert_eq!(m.state(), Running);
        m
    }

    #[test]
    fn stop_between_two_runs_of_a_crash_loop_cancels_the_restart() {
        let mut p = policy();
        p.autorestart = AutoRestart::Always;
        let t0 = Instant::now();
        let mut m = running(&p, t0);
        let t1 = t0 + secs(2.0);
        m.step(Input::Exited(ExitInfo::exited(0)), &p, t1);
        assert_eq!(m.state(), Exited);
        assert_eq!(m.next_deadline(&p, true, t1), Some(t1));
        // The stop arrives before the restart's tick.
        let fx = m.step(Input::Stop, &p, t1);
        assert!(changes(&fx).is_empty(), "{fx:?}");
        assert_eq!(
            logs(&fx),
            vec!["stop request: web stays EXITED (autorestart cancelled)"]
        );
        assert_eq!(m.next_deadline(&p, true, t1), None);
        assert!(
            m.step(Input::Tick { may_start: true }, &p, t1 + secs(5.0))
                .is_empty()
        );
        assert_eq!(m.state(), Exited);
        // A second stop changes nothing; a start runs it again, and its next
        // exit restarts as usual.
        assert!(m.step(Input::Stop, &p, t1).is_empty());
        let fx = m.step(Input::Start, &p, t1 + secs(6.0));
        assert!(fx.contains(&Effect::Spawn));
        m.step(Input::Spawned { pid: 101 }, &p, t1 + secs(6.0));
        m.step(Input::Tick { may_start: true }, &p, t1 + secs(7.5));
        m.step(Input::Exited(ExitInfo::exited(0)), &p, t1 + secs(8.0));
        let fx = m.step(Input::Tick { may_start: true }, &p, t1 + secs(8.0));
        assert!(fx.contains(&Effect::Spawn), "{fx:?}");
        // Without autorestart a stop in EXITED has nothing to cancel.
        let mut q = policy();
        q.autorestart = AutoRestart::Never;
        let mut m = running(&q, t0);
        m.step(Input::Exited(ExitInfo::exited(0)), &q, t1);
        assert!(m.step(Input::Stop, &q, t1).is_empty());
    }

    #[test]
    fn autorestart_policies() {
        let t0 = Instant::now();
        let cases = [
            (AutoRestart::Unexpected, 0, false),
            (AutoRestart::Unexpected, 3, true),
            (AutoRestart::Always, 0, true),
            (AutoRestart::Always, 3, true),
            (AutoRestart::Never, 3, false),
            (AutoRestart::Never, 0, false),
        ];
        for (policy_kind, code, restarts) in cases {
            let mut p = policy();
            p.autorestart = policy_kind;
            let mut m = running(&p, t0);
            let now = t0 + secs(5.0);
            let fx = m.step(Input::Exited(ExitInfo::exited(code)), &p, now);
            assert_eq!(changes(&fx), vec![(Running, Exited)]);
            let expected = code == 0;
            assert!(
                matches!(fx[0], Effect::Changed { expected: e, pid: 100, .. } if e == expected)
            );
            let fx = m.step(Input::Tick { may_start: true }, &p, now);
            assert_eq!(
                !changes(&fx).is_empty(),
                restarts,
                "{policy_kind:?} code {code}"
            );
            if !restarts {
                assert_eq!(m.next_deadline(&p, true, now), None);
            }
        }
    }

    #[test]
    fn exited_logs_and_spawnerr() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = running(&p, t0);
        let fx = m.step(Input::Exited(ExitInfo::exited(0)), &p, t0 + secs(3.0));
        assert_eq!(logs(&fx), vec!["exited: web (exit status 0; expected)"]);
        assert_eq!(m.exitstatus, Some(0));
        assert_eq!(m.pid, 0);
        let mut m = running(&p, t0);
        let fx = m.step(Input::Exited(ExitInfo::exited(2)), &p, t0 + secs(3.0));
        assert_eq!(logs(&fx), vec!["exited: web (exit status 2; not expected)"]);
        assert_eq!(m.spawnerr.as_deref(), Some("Bad exit code 2"));
    }

    #[test]
    fn no_restart_while_shutting_down() {
        let mut p = policy();
        p.autorestart = AutoRestart::Always;
        let t0 = Instant::now();
        let mut m = running(&p, t0);
        m.step(Input::Exited(ExitInfo::exited(1)), &p, t0 + secs(3.0));
        assert!(
            m.step(Input::Tick { may_start: false }, &p, t0 + secs(4.0))
                .is_empty()
        );
        assert_eq!(m.next_deadline(&p, false, t0), None);
    }

    #[test]
    fn exit_after_startsecs_before_tick_passes_through_running() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = started(&p, t0);
        let fx = m.step(Input::Exited(ExitInfo::exited(0)), &p, t0 + secs(1.5));
        assert_eq!(changes(&fx), vec![(Starting, Running), (Running, Exited)]);
    }

    /// Regression: `startsecs`/`stopwaitsecs` of `i64::MAX` (accepted by
    /// the config, as by Supervisor) panicked with "overflow when adding
    /// duration to instant" at the first spawn, killing the daemon.
    #[test]
    fn huge_startsecs_and_stopwaitsecs_never_panic() {
        let mut p = policy();
        p.startsecs = i64::MAX as u64;
        p.stopwaitsecs = u64::MAX;
        p.startretries = u32::MAX;
        let t0 = Instant::now();
        let mut m = started(&p, t0);
        let d = m.next_deadline(&p, true, t0).expect("a STARTING deadline");
        assert!(d > t0 + secs(1e9), "held far in the future");
        let later = t0 + secs(3600.0);
        assert!(
            m.step(Input::Tick { may_start: true }, &p, later)
                .is_empty()
        );
        assert_eq!(m.state(), Starting);
        let fx = m.step(Input::Stop, &p, later);
        assert_eq!(changes(&fx), vec![(Starting, Stopping)]);
        let kill_at = m.next_deadline(&p, true, later).expect("a kill deadline");
        assert!(
            kill_at > later + secs(1e9),
            "SIGKILL held far in the future"
        );
        assert!(
            m.step(Input::Tick { may_start: true }, &p, later)
                .is_empty()
        );
        // The failure count saturates instead of overflowing.
        m.backoff = u32::MAX;
        m.step(Input::Exited(ExitInfo::exited(1)), &p, later); // STOPPING -> STOPPED
        m.phase = Phase::Starting;
        m.laststart = Some(later);
        let fx = m.step(Input::Exited(ExitInfo::exited(1)), &p, later + secs(1.0));
        assert_eq!(changes(&fx), vec![(Starting, Backoff)]);
        assert_eq!(m.backoff, u32::MAX);
        assert!(m.next_deadline(&p, true, later).is_some());
    }

    #[test]
    fn saturating_after_holds_at_the_clock_limit() {
        let t0 = Instant::now();
        assert_eq!(saturating_after(t0, secs(2.0)), t0 + secs(2.0));
        let far = saturating_after(t0, Duration::MAX);
        assert!(far > t0 + secs(1e12));
        assert!(saturating_after(far, Duration::MAX) >= far);
    }

    #[test]
    fn stop_then_sigkill_after_stopwaitsecs() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = running(&p, t0);
        let now = t0 + secs(2.0);
        let fx = m.step(Input::Stop, &p, now);
        assert_eq!(changes(&fx), vec![(Running, Stopping)]);
        assert!(fx.contains(&Effect::Kill {
            sig: libc::SIGTERM,
            group: false
        }));
        assert_eq!(m.next_deadline(&p, true, now), Some(now + secs(10.0)));
        assert!(
            m.step(Input::Tick { may_start: true }, &p, now + secs(9.9))
                .is_empty()
        );
        let fx = m.step(Input::Tick { may_start: true }, &p, now + secs(10.0));
        assert!(fx.contains(&Effect::Kill {
            sig: libc::SIGKILL,
            group: false
        }));
        assert!(logs(&fx).contains(&"killing 'web' (100) with SIGKILL".to_string()));
        assert!(
            changes(&fx).is_empty(),
            "STOPPING -> STOPPING emits nothing"
        );
        let fx = m.step(
            Input::Exited(ExitInfo::signalled(libc::SIGKILL, false)),
            &p,
            now + secs(10.1),
        );
        assert_eq!(changes(&fx), vec![(Stopping, Stopped)]);
        assert_eq!(logs(&fx), vec!["stopped: web (terminated by SIGKILL)"]);
        assert!(matches!(
            fx.iter().find(|e| matches!(e, Effect::Log(..))),
            Some(Effect::Log(LogLevel::Warn, _))
        ));
        // A stopped process is not autostarted again.
        assert!(
            m.step(Input::Tick { may_start: true }, &p, now + secs(20.0))
                .is_empty()
        );
    }

    #[test]
    fn stop_and_kill_as_group() {
        let mut p = policy();
        p.stopasgroup = true;
        p.killasgroup = true;
        let t0 = Instant::now();
        let mut m = running(&p, t0);
        let fx = m.step(Input::Stop, &p, t0 + secs(2.0));
        assert!(fx.contains(&Effect::Kill {
            sig: libc::SIGTERM,
            group: true
        }));
        let fx = m.step(Input::Tick { may_start: true }, &p, t0 + secs(12.0));
        assert!(fx.contains(&Effect::Kill {
            sig: libc::SIGKILL,
            group: true
        }));
        // killasgroup alone: TERM to the pid, KILL to the group.
        p.stopasgroup = false;
        let mut m = running(&p, t0);
        let fx = m.step(Input::Stop, &p, t0 + secs(2.0));
        assert!(fx.contains(&Effect::Kill {
            sig: libc::SIGTERM,
            group: false
        }));
        let fx = m.step(Input::Tick { may_start: true }, &p, t0 + secs(12.0));
        assert!(fx.contains(&Effect::Kill {
            sig: libc::SIGKILL,
            group: true
        }));
    }

    #[test]
    fn stop_exit_with_expected_code_logs_info() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = running(&p, t0);
        m.step(Input::Stop, &p, t0 + secs(2.0));
        let fx = m.step(Input::Exited(ExitInfo::exited(0)), &p, t0 + secs(2.1));
        assert!(fx.contains(&Effect::Log(
            LogLevel::Info,
            "stopped: web (exit status 0)".into()
        )));
        assert_eq!(m.exitstatus, Some(0));
    }

    #[test]
    fn stop_in_starting_and_backoff() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = started(&p, t0);
        assert_eq!(
            changes(&m.step(Input::Stop, &p, t0)),
            vec![(Starting, Stopping)]
        );
        let mut m = started(&p, t0);
        m.step(Input::Exited(ExitInfo::exited(1)), &p, t0 + secs(0.1));
        let fx = m.step(Input::Stop, &p, t0 + secs(0.2));
        assert_eq!(changes(&fx), vec![(Backoff, Stopped)]);
        assert!(!fx.iter().any(|e| matches!(e, Effect::Kill { .. })));
    }

    #[test]
    fn give_up_from_backoff() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = started(&p, t0);
        m.step(Input::Exited(ExitInfo::exited(1)), &p, t0 + secs(0.1));
        assert_eq!(
            changes(&m.step(Input::GiveUp, &p, t0 + secs(0.2))),
            vec![(Backoff, Fatal)]
        );
        // GiveUp elsewhere does nothing.
        let mut m = running(&p, t0);
        assert!(m.step(Input::GiveUp, &p, t0 + secs(2.0)).is_empty());
    }

    #[test]
    fn start_from_stopped_states() {
        let p = policy();
        let t0 = Instant::now();
        for mut m in [
            Machine::new(),
            {
                let mut m = Machine::new();
                m.phase = Phase::Fatal { retry_at: None };
                m
            },
            {
                let mut m = Machine::new();
                m.phase = Phase::Exited;
                m
            },
        ] {
            let from = m.state();
            let fx = m.step(Input::Start, &p, t0);
            assert_eq!(changes(&fx), vec![(from, Starting)]);
            assert!(fx.contains(&Effect::Spawn));
        }
        let mut m = running(&p, t0);
        assert!(changes(&m.step(Input::Start, &p, t0)).is_empty());
    }

    /// Regression: `start` on a STOPPING process (the RPC lets it through,
    /// as Supervisor's does) logged a debug "ignored" line where
    /// Supervisor's `spawn()` warns that the process is already running.
    #[test]
    fn start_while_stopping_warns_already_running() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = running(&p, t0);
        m.step(Input::Stop, &p, t0 + secs(2.0));
        let fx = m.step(Input::Start, &p, t0 + secs(2.5));
        assert_eq!(
            fx,
            vec![Effect::Log(
                LogLevel::Warn,
                "process 'web' already running".into()
            )]
        );
        assert_eq!(m.state(), Stopping);
        assert_eq!(m.pid, 100);
    }

    #[test]
    fn kill_failure_goes_unknown_and_exit_from_unknown_is_handled() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = running(&p, t0);
        m.step(Input::Stop, &p, t0 + secs(2.0));
        let fx = m.step(
            Input::KillFailed {
                msg: "EPERM".into(),
            },
            &p,
            t0 + secs(2.0),
        );
        assert_eq!(changes(&fx), vec![(Stopping, Unknown)]);
        let mut m = running(&p, t0);
        m.phase = Phase::Unknown;
        let fx = m.step(Input::Exited(ExitInfo::exited(0)), &p, t0 + secs(3.0));
        assert_eq!(changes(&fx), vec![(Unknown, Exited)]);
    }

    #[test]
    fn stopped_payload_pid_is_the_child() {
        let p = policy();
        let t0 = Instant::now();
        let mut m = running(&p, t0);
        m.step(Input::Stop, &p, t0 + secs(2.0));
        let fx = m.step(
            Input::Exited(ExitInfo::signalled(15, false)),
            &p,
            t0 + secs(2.1),
        );
        assert!(matches!(
            fx[0],
            Effect::Changed {
                to: Stopped,
                pid: 100,
                ..
            }
        ));
        assert_eq!(m.pid, 0);
    }

    #[test]
    fn exit_info_messages() {
        assert_eq!(ExitInfo::exited(3).msg, "exit status 3");
        assert_eq!(
            ExitInfo::signalled(libc::SIGTERM, false).msg,
            "terminated by SIGTERM"
        );
        assert_eq!(
            ExitInfo::signalled(libc::SIGSEGV, true).msg,
            "terminated by SIGSEGV (core dumped)"
        );
        assert_eq!(ExitInfo::signalled(9, false).code, -1);
    }
}
