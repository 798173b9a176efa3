//! The event loop: one `poll(2)` per turn over signals, the bridge and child
//! pipes, each turn guarded against panics.

use crate::config::LogLevel;
use crate::daemon::bridge::LoopMsg;
use crate::daemon::core::{Mood, Supervisor};
use crate::daemon::groups::ProcId;
use crate::daemon::methods::Reply;
use crate::daemon::shutdown::{LISTENER_DRAIN, WAIT_REPORT};
use crate::daemon::signals::Signals;
use crate::daemon::{panic_guard, waiters};
use crate::process::Channel;
use crate::process::state::Input;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// A panic within this long of the previous one waits this long before the
/// next turn.
pub(in crate::daemon) const PANIC_REPEAT: Duration = Duration::from_millis(100);

/// What [`Supervisor::decide`] concluded.
pub(in crate::daemon) enum Next {
    /// Sleep until this deadline (or forever) unless woken.
    Sleep(Option<Instant>),
    /// A reload was applied: decide again at once.
    Again,
    /// Shutdown is complete.
    Exit,
}

/// What the loop does after a turn.
pub(in crate::daemon) enum Turn {
    Continue,
    Exit,
}

/// How long a turn drives due processes while a request or a signal is
/// waiting: a spawn blocks the loop until the program has exec'd (0.8 ms
/// on average on the bench machine), so 50 programs crash-looping held
/// an RPC call for up to 20-50 ms.  The rest go first in the next turn.
pub(in crate::daemon) const TICK_SLICE: Duration = Duration::from_millis(5);

impl Supervisor {
    /// Run Tick for every process whose deadline has come, from where the
    /// last turn stopped (round robin); once [`TICK_SLICE`] has passed,
    /// stop when a request or a signal is waiting and leave the rest for
    /// the next turn.
    pub(in crate::daemon) fn tick_due(&mut self, now: Instant) {
        let may_start = self.may_start();
        let gate = self.dep_gate();
        let mut due: Vec<(usize, ProcId, bool)> = self
            .groups
            .processes()
            .enumerate()
            .filter_map(|(place, (id, p))| {
                let may_start = may_start && gate.as_ref().is_none_or(|g| g.allows(&p.config));
                p.machine
                    .next_deadline(&p.policy, may_start, now)
                    .is_some_and(|d| d <= now)
                    .then_some((place, id, may_start))
            })
            .collect();
        drop(gate);
        if let Some(resume) = self.tick_resume.take() {
            // Those left last turn first, then those due again since.
            let before = due.partition_point(|&(place, _, _)| place < resume);
            due.rotate_left(before);
        }
        for (i, &(place, id, may_start)) in due.iter().enumerate() {
            if i > 0 && self.os.now() >= now + TICK_SLICE && self.work_waiting() {
                self.tick_resume = Some(place);
                return;
            }
            self.drive(id, Input::Tick { may_start }, now);
        }
    }

    /// The loop's own two fds, first in every poll: the signal pipe and
    /// the bridge (a negative fd, when there is none, is skipped by poll:
    /// no wake-ups from it).
    fn own_fds(&self) -> [libc::pollfd; 2] {
        let fd = |fd: Option<RawFd>| libc::pollfd {
            fd: fd.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        };
        [
            fd(self.signals.as_ref().map(Signals::fd)),
            fd(self.bridge.as_ref().map(|b| b.fd())),
        ]
    }

    /// Whether a signal or a message from an HTTP thread is waiting.
    fn work_waiting(&self) -> bool {
        let mut fds = self.own_fds();
        // SAFETY: poll(2) over a valid two-entry array, no wait.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 0) > 0 }
    }

    pub(in crate::daemon) fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let may_start = self.may_start();
        let gate = self.dep_gate();
        let mut best: Option<Instant> = None;
        // One pass: the state machine's deadline and the checks' of each
        // process.
        for (_, p) in self.groups.processes() {
            let may_start = may_start && gate.as_ref().is_none_or(|g| g.allows(&p.config));
            let own = p.machine.next_deadline(&p.policy, may_start, now);
            for d in [own, p.probes.deadline()].into_iter().flatten() {
                best = Some(best.map_or(d, |b| b.min(d)));
            }
        }
        if self.mood != Mood::Running {
            if let Some(last) = self.last_wait_report {
                let d = last + WAIT_REPORT;
                best = Some(best.map_or(d, |b| b.min(d)));
            }
            if let Some((_, since)) = self.drain {
                let d = since + LISTENER_DRAIN;
                best = Some(best.map_or(d, |b| b.min(d)));
            }
        }
        best
    }

    pub(in crate::daemon) fn handle_signals(&mut self, now: Instant) {
        let drained = self
            .signals
            .as_ref()
            .map(Signals::drain)
            .unwrap_or_default();
        for sig in drained {
            let name = crate::process::state::signal_name(sig);
            if panic_guard::injected_signal() == Some(sig) {
                panic!("injected panic on {name} ({})", panic_guard::INJECT_ENV);
            }
            if panic_guard::stall_signal() == Some(sig) {
                std::thread::sleep(panic_guard::STALL);
            }
            match sig {
                libc::SIGTERM | libc::SIGINT | libc::SIGQUIT => self.exit_requested(&name, now),
                libc::SIGHUP => {
                    if self.mood == Mood::Shutdown {
                        self.log.log(
                            LogLevel::Warn,
                            &format!(
                                "ignored {name} indicating restart request (shutdown in progress)"
                            ),
                        );
                    } else {
                        self.log.log(
                            LogLevel::Warn,
                            &format!("received {name} indicating restart request"),
                        );
                        let _ = self.request_reload();
                    }
                }
                libc::SIGCHLD => {
                    self.log.log(
                        LogLevel::Debug,
                        &format!("received {name} indicating a child quit"),
                    );
                    self.reap(now);
                }
                libc::SIGUSR2 => {
                    self.log.log(
                        LogLevel::Info,
                        &format!("received {name} indicating log reopen request"),
                    );
                    self.reopen_logs();
                }
                _ if self.forwards(sig) => self.forward_signal(sig),
                _ => self.log.log(
                    LogLevel::Blather,
                    &format!("received {name} indicating nothing"),
                ),
            }
        }
    }

    /// SIGTERM, SIGINT or SIGQUIT: shut down.  The first stop signals go
    /// out at once, before the lines saying so are written (they keep their
    /// order and times): what the next turn would do first, minus a turn
    /// and a log write on the way of PID 1's SIGTERM to its programs.
    pub(in crate::daemon) fn exit_requested(&mut self, name: &str, now: Instant) {
        self.log.hold();
        self.log.log(
            LogLevel::Warn,
            &format!("received {name} indicating exit request"),
        );
        self.begin_stop(Mood::Shutdown);
        self.stop_phase(now);
        self.log.release();
    }

    /// Collect the pollable fds: the signal pipe, the bridge, every child
    /// pipe (one owner each), then the sockets of checks in flight.
    pub(in crate::daemon) fn poll_set(
        &self,
        fds: &mut Vec<libc::pollfd>,
        owners: &mut Vec<(ProcId, Option<Channel>)>,
    ) {
        fds.clear();
        owners.clear();
        fds.extend(self.own_fds());
        {
            for (id, p) in self.groups.processes() {
                let chans: [(Option<RawFd>, Channel); 2] = [
                    (p.stdout.as_ref().map(|f| f.as_raw_fd()), Channel::Stdout),
                    (p.stderr.as_ref().map(|f| f.as_raw_fd()), Channel::Stderr),
                ];
                for (fd, ch) in chans {
                    if let Some(fd) = fd {
                        fds.push(libc::pollfd {
                            fd,
                            events: libc::POLLIN,
                            revents: 0,
                        });
                        owners.push((id, Some(ch)));
                    }
                }
                if let (Some(fd), false) = (p.stdin.as_ref(), p.stdin_buf.is_empty()) {
                    fds.push(libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    });
                    owners.push((id, None));
                }
            }
        }
        self.checks_poll_set(fds);
    }

    /// The event loop: sleep until a signal, child output or the next
    /// deadline; act; repeat until shutdown completes.
    ///
    /// Each turn runs under `catch_unwind`: a bug that panics while one
    /// event is handled is logged at CRIT with its location and the loop
    /// goes on with the next event, because PID 1 exiting takes the whole
    /// container down.  A panic that repeats at once is slowed down so it
    /// cannot spin a core.
    pub fn run_loop(&mut self) {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut owners: Vec<(ProcId, Option<Channel>)> = Vec::new();
        panic_guard::install();
        let mut last_panic: Option<Instant> = None;
        loop {
            let turn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.turn(&mut fds, &mut owners)
            }));
            match turn {
                Ok(Turn::Continue) => {}
                Ok(Turn::Exit) => return,
                Err(payload) => {
                    self.log.release();
                    let what = panic_guard::describe(payload.as_ref());
                    self.log.log(
                        LogLevel::Critical,
                        &format!("internal error, recovered, the loop goes on: {what}"),
                    );
                    let now = Instant::now();
                    if last_panic.is_some_and(|t| now.duration_since(t) < PANIC_REPEAT) {
                        std::thread::sleep(PANIC_REPEAT);
                    }
                    last_panic = Some(now);
                }
            }
        }
    }

    /// What a turn decides before it sleeps: due timers, the stop phases
    /// (and the reload once everything is down), deferred answers, events
    /// handed to listeners, then when to wake.  Unit tests drive the loop
    /// through this with a fake clock.
    pub(in crate::daemon) fn decide(&mut self, now: Instant) -> Next {
        // Calls waiting for what the last turn did (a stop, an exit) are
        // answered before this turn's spawns, which may take milliseconds.
        self.poll_waiters(now);
        self.tick_due(now);
        self.run_checks(now);
        self.exit_when_all_exited(now);
        if self.mood != Mood::Running && self.stop_phase(now) {
            if self.mood == Mood::Shutdown {
                return Next::Exit;
            }
            self.apply_reload();
            return Next::Again;
        }
        self.poll_waiters(now);
        let next_tick = self.tick_events();
        self.dispatch_events();
        let now = self.os.now();
        Next::Sleep(match (self.next_deadline(now), next_tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// One turn of the loop.
    pub(in crate::daemon) fn turn(
        &mut self,
        fds: &mut Vec<libc::pollfd>,
        owners: &mut Vec<(ProcId, Option<Channel>)>,
    ) -> Turn {
        let deadline = match self.decide(self.os.now()) {
            Next::Sleep(deadline) => deadline,
            Next::Again => return Turn::Continue,
            Next::Exit => return Turn::Exit,
        };
        let now = self.os.now();
        let timeout = match deadline {
            None => -1,
            Some(d) if d <= now => 0,
            Some(d) => {
                let ms = d.duration_since(now).as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as i32
            }
        };
        self.poll_set(fds, owners);
        // libc's poll, not nix's: nix's PollFd borrows each fd for the call,
        // which would rebuild the array from scratch every turn; these
        // buffers are kept across turns (one allocation for the daemon's
        // life) and every fd in them is owned by `self` until the turn ends.
        // SAFETY: poll(2) over a valid array of `fds.len()` pollfd structs.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        let now = self.os.now();
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            // A signal's handler interrupted the sleep: its byte is in the
            // pipe (reading it is non-blocking), no second poll needed.
            self.handle_signals(now);
        }
        if n > 0 {
            let ready = |i: usize| fds.get(i).is_some_and(|f| f.revents != 0);
            if ready(0) {
                self.handle_signals(now);
            }
            for (i, &(id, ch)) in owners.iter().enumerate() {
                // Owners follow the two fixed fds; an id gone meanwhile
                // (its group removed by a signal above) finds nothing.
                if ready(i + 2) {
                    match ch {
                        Some(ch) => self.read_output(id, ch, false),
                        None => {
                            if let Err(e) = self.flush_stdin(id) {
                                let name = self
                                    .groups
                                    .proc(id)
                                    .map(|p| p.config.name.clone())
                                    .unwrap_or_default();
                                self.log.log(
                                    LogLevel::Warn,
                                    &format!("could not write to the stdin of '{name}': {e}"),
                                );
                            }
                        }
                    }
                }
            }
            if let Some(checks) = fds.get(owners.len() + 2..) {
                self.checks_io(checks, now);
            }
            if ready(1) {
                self.handle_rpc(now);
            }
        }
        // Reap at the end of every turn, not only on SIGCHLD: a child that
        // exited is collected even if its signal's wake-up was consumed
        // elsewhere (or a panic cut the turn that had it).  When nothing
        // exited this is one waitpid call that returns 0.
        self.reap(self.os.now());
        Turn::Continue
    }

    /// Serve every queued message from HTTP threads.
    pub fn handle_rpc(&mut self, now: Instant) {
        let msgs = match &self.bridge {
            Some(b) => b.drain(),
            None => return,
        };
        for msg in msgs {
            match msg {
                LoopMsg::Call {
                    method,
                    params,
                    encoded,
                    reply,
                } => match self.call_from_client(&method, &params, encoded, now) {
                    Reply::Now(answer) => {
                        let _ = reply.send(answer);
                    }
                    Reply::Later(p) => self.waiters.push((p, reply)),
                },
                LoopMsg::LogPath { what, reply } => {
                    let _ = reply.send(self.logtail_path(&what));
                }
                LoopMsg::Health { query, reply } => {
                    let _ = reply.send(self.health_answer(&query));
                }
            }
        }
    }

    /// Re-check every deferred call; answer those that are done.
    fn poll_waiters(&mut self, now: Instant) {
        if self.waiters.is_empty() {
            return;
        }
        let mut waiting = std::mem::take(&mut self.waiters);
        waiters::poll_all(&mut waiting, self, now);
        // Calls deferred while those were polled (a multicall's next step).
        waiting.append(&mut self.waiters);
        self.waiters = waiting;
    }
}
