//! The state machine as an exhaustive table: every state × every input.
//!
//! Each [`Row`] is a process caught in one state (some states have several
//! rows: STOPPED before and after a first run, BACKOFF with retries left and
//! spent, EXITED with and without a restart due, or held).  Each [`Col`] is
//! one input at one instant.  All the deadlines of the rows fall on the
//! same instant `D` (STARTING's startsecs, BACKOFF's retry, STOPPING's
//! SIGKILL), so the three tick columns probe one nanosecond before `D`,
//! exactly `D` and one nanosecond after.  A cell pins what the step does:
//! the PROCESS_STATE events (to, expected, tries, pid), a spawn, a signal
//! (which, to the group or not), the backoff count, the held flag, the pid
//! and the next deadline.
//!
//! Completeness is the compiler's job: [`Row`] and [`Col`] are listed by the
//! `enumerated!` macro, which also writes an exhaustive `match` over
//! [`ProcessState`] (resp. [`Input`]) from the same list of rows (resp.
//! columns), and each row of the table is an array of exactly
//! `Col::ALL.len()` cells.  A new state or input variant does not compile
//! until it has its rows or columns, and a new column does not compile
//! until every row has its cell.
//!
//! The semantics come from Supervisor 4.3's `supervisor/process.py`.  Notes
//! say where a cell is unreachable from the daemon (the driver feeds
//! `Spawned`/`SpawnFailed` only right after `Spawn`, `KillFailed` only right
//! after a `Kill`, `Exited` only for a live pid, and the RPC refuses what
//! Supervisor's RPC refuses), where Python would raise `AssertionError`
//! (its `_assertInState`), and where this machine differs on purpose.

use super::*;
use ProcessState::*;

/// Declares an enum and `ALL`, its variants in order; the rows (resp.
/// columns) also get an exhaustive match over the states (resp. inputs)
/// they cover, so a new state (input) without a row (column) does not
/// compile.
macro_rules! enumerated {
    (rows { $($v:ident => $s:ident),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Row { $($v),* }
        impl Row {
            const ALL: &'static [Row] = &[$(Row::$v),*];
            fn state(self) -> ProcessState {
                match self { $(Row::$v => ProcessState::$s),* }
            }
        }
        /// Every state has a row: exhaustive over [`ProcessState`].
        #[allow(unreachable_patterns)]
        fn rows_of(s: ProcessState) -> Vec<Row> {
            match s {
                $(ProcessState::$s => Row::ALL.iter().copied().filter(|r| r.state() == s).collect(),)*
            }
        }
    };
    (cols { $($v:ident => $i:ident),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Col { $($v),* }
        impl Col {
            const ALL: &'static [Col] = &[$(Col::$v),*];
        }
        /// Every input variant has a column: exhaustive over [`Input`].
        #[allow(unreachable_patterns)]
        fn cols_of(i: &Input) -> Vec<Col> {
            match i {
                $(Input::$i { .. } => Col::ALL
                    .iter()
                    .copied()
                    .filter(|c| std::mem::discriminant(&c.input()) == std::mem::discriminant(i))
                    .collect(),)*
            }
        }
    };
}

enumerated!(rows {
    StoppedFresh => Stopped,
    StoppedAfterStop => Stopped,
    Starting => Starting,
    StartDelayed => Starting,
    Running => Running,
    Backoff => Backoff,
    BackoffSpent => Backoff,
    Stopping => Stopping,
    ExitedOk => Exited,
    ExitedCrashed => Exited,
    ExitedHeld => Exited,
    Fatal => Fatal,
    FatalRetrying => Fatal,
    Unknown => Unknown,
});

enumerated!(cols {
    TickBefore => Tick,
    TickAt => Tick,
    TickAfter => Tick,
    TickDown => Tick,
    Start => Start,
    Stop => Stop,
    GiveUp => GiveUp,
    Spawned => Spawned,
    SpawnFailed => SpawnFailed,
    ExitQuick => Exited,
    ExitOk => Exited,
    ExitBad => Exited,
    KillFailed => KillFailed,
});

const NCOLS: usize = Col::ALL.len();
const CHILD: i32 = 100;
const NEW_CHILD: i32 = 200;
const NS: Duration = Duration::from_nanos(1);

impl Col {
    fn input(self) -> Input {
        match self {
            Col::TickBefore | Col::TickAt | Col::TickAfter => Input::Tick { may_start: true },
            Col::TickDown => Input::Tick { may_start: false },
            Col::Start => Input::Start,
            Col::Stop => Input::Stop,
            Col::GiveUp => Input::GiveUp,
            Col::Spawned => Input::Spawned { pid: NEW_CHILD },
            Col::SpawnFailed => Input::SpawnFailed {
                msg: "can't find command '/nope'".into(),
            },
            Col::ExitQuick | Col::ExitOk => Input::Exited(ExitInfo::exited(0)),
            Col::ExitBad => Input::Exited(ExitInfo::exited(1)),
            Col::KillFailed => Input::KillFailed {
                msg: "EPERM".into(),
            },
        }
    }

    /// When the input arrives, relative to the rows' common deadline `d`.
    fn at(self, d: Instant) -> Instant {
        match self {
            Col::TickBefore | Col::ExitQuick => d - NS,
            Col::TickAfter | Col::TickDown => d + NS,
            _ => d,
        }
    }
}

/// startsecs 1, startretries 3, autorestart unexpected, exitcodes 0,
/// stopwaitsecs 10, TERM to the pid, KILL to the group.
fn policy() -> Policy {
    Policy {
        killasgroup: true,
        ..super::tests::policy()
    }
}

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The process of a row, its deadline (if any) at `d`.
fn fixture(r: Row, d: Instant) -> Machine {
    let mut m = Machine::new();
    let long_ago = Some(d - s(100));
    match r {
        Row::StoppedFresh => {}
        Row::StoppedAfterStop => {
            m.laststart = long_ago;
            m.exitstatus = Some(-1);
        }
        Row::Starting => {
            m.phase = Phase::Starting;
            m.laststart = Some(d - s(1)); // startsecs ends at d
            m.pid = CHILD;
            m.backoff = 2;
        }
        Row::StartDelayed => {
            // start_delay: STARTING since d - 5 s, the spawn due at d.
            m.phase = Phase::StartDelay { spawn_at: d };
            m.laststart = Some(d - s(5));
        }
        Row::Running => {
            m.phase = Phase::Running;
            m.laststart = long_ago;
            m.pid = CHILD;
        }
        Row::Backoff | Row::BackoffSpent => {
            m.phase = Phase::Backoff { retry_at: d };
            m.backoff = if r == Row::Backoff { 2 } else { 4 };
            m.laststart = Some(d - s(3));
            m.spawnerr = Some("Exited too quickly (process log may have details)".into());
        }
        Row::Stopping => {
            m.phase = Phase::Stopping { kill_at: d };
            m.laststart = long_ago;
            m.pid = CHILD;
        }
        Row::ExitedOk => {
            m.phase = Phase::Exited;
            m.laststart = long_ago;
            m.exitstatus = Some(0);
        }
        Row::ExitedCrashed | Row::ExitedHeld => {
            m.phase = Phase::Exited;
            m.laststart = long_ago;
            m.exitstatus = Some(1);
            m.spawnerr = Some("Bad exit code 1".into());
            m.held = r == Row::ExitedHeld;
        }
        Row::Fatal => {
            m.phase = Phase::Fatal { retry_at: None };
            m.laststart = Some(d - s(5));
        }
        Row::FatalRetrying => {
            // fatal_restart_delay: the new start is due at d.
            m.phase = Phase::Fatal { retry_at: Some(d) };
            m.laststart = Some(d - s(5));
        }
        Row::Unknown => {
            // A kill failed: the child may still be there.
            m.phase = Phase::Unknown;
            m.laststart = long_ago;
            m.pid = CHILD;
        }
    }
    m
}

/// A deadline, as `next_deadline(.., may_start = true, now)` answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dl {
    /// As before the step.
    Keep,
    Never,
    /// Tick at once.
    Now,
    /// This long after the step.
    In(Duration),
}

/// A PROCESS_STATE event: to, expected, tries, pid (`from` is the state
/// before it, checked as a chain).
type Ev = (ProcessState, bool, u32, i32);

#[derive(Debug, Clone)]
struct Cell {
    events: Vec<Ev>,
    spawn: bool,
    kill: Option<(i32, bool)>,
    /// None: unchanged.
    backoff: Option<u32>,
    held: Option<bool>,
    pid: Option<i32>,
    deadline: Dl,
    log: Option<(LogLevel, &'static str)>,
    note: &'static str,
}

/// Nothing changes.
fn nop() -> Cell {
    Cell {
        events: Vec::new(),
        spawn: false,
        kill: None,
        backoff: None,
        held: None,
        pid: None,
        deadline: Dl::Keep,
        log: None,
        note: "",
    }
}

/// These events, in order.
fn go(events: &[Ev]) -> Cell {
    Cell {
        events: events.to_vec(),
        ..nop()
    }
}

impl Cell {
    fn spawn(mut self) -> Cell {
        self.spawn = true;
        self
    }
    fn kill(mut self, sig: i32, group: bool) -> Cell {
        self.kill = Some((sig, group));
        self
    }
    fn backoff(mut self, n: u32) -> Cell {
        self.backoff = Some(n);
        self
    }
    fn held(mut self, h: bool) -> Cell {
        self.held = Some(h);
        self
    }
    fn pid(mut self, pid: i32) -> Cell {
        self.pid = Some(pid);
        self
    }
    fn dl(mut self, d: Dl) -> Cell {
        self.deadline = d;
        self
    }
    fn log(mut self, level: LogLevel, text: &'static str) -> Cell {
        self.log = Some((level, text));
        self
    }
    fn note(mut self, n: &'static str) -> Cell {
        self.note = n;
        self
    }
}

/// The STARTING deadline after a spawn: startsecs, passed strictly.
const START: Dl = Dl::In(Duration::from_secs(1).saturating_add(STRICT));
/// The SIGKILL deadline after a signal: stopwaitsecs.
const KILL: Dl = Dl::In(Duration::from_secs(10));

/// BACKOFF's deadline after failure number `n`: n seconds, strictly.
const fn retry(n: u64) -> Dl {
    Dl::In(Duration::from_secs(n).saturating_add(STRICT))
}

/// A spawn from a stopped state: STARTING with `tries`, no child yet.
fn spawn(tries: u32) -> Cell {
    go(&[(Starting, true, tries, 0)]).spawn().dl(START)
}

/// A stray spawn failure: BACKOFF, one more failure counted.
fn failed(tries: u32, pid: i32) -> Cell {
    go(&[(Backoff, true, tries, pid)])
        .backoff(tries)
        .dl(retry(u64::from(tries)))
}

/// A kill that failed: UNKNOWN.
fn unknown(tries: u32, pid: i32) -> Cell {
    go(&[(Unknown, true, tries, pid)]).dl(Dl::Never)
}

/// An exit that finish() takes as RUNNING -> EXITED, with no child left.
fn exited(expected: bool, pid: i32) -> Cell {
    go(&[(Exited, expected, 0, pid)])
        .backoff(0)
        .pid(0)
        .dl(if expected { Dl::Never } else { Dl::Now })
}

const STRAY_EXIT: &str = "unreachable (no child); Python's finish() asserts RUNNING; \
                          here: logged as an exit in an unexpected state, then EXITED";
const STRAY_SPAWNED: &str = "unreachable: Spawned only follows Spawn (in STARTING)";
const STRAY_SPAWNFAILED: &str =
    "unreachable: SpawnFailed only follows Spawn; Python asserts STARTING";
const STRAY_KILLFAILED: &str = "unreachable: KillFailed only follows Kill (in STOPPING)";
const NO_GIVE_UP: &str = "Python's give_up() asserts BACKOFF; the driver sends it only there";
const NOT_RUNNING: &str = "RPC refuses NOT_RUNNING; Python's stop() only logs 'wasn't running'";
const ALREADY_STARTED: &str = "RPC refuses ALREADY_STARTED before spawn()";

macro_rules! row {
    ($($col:ident => $cell:expr),* $(,)?) => {
        [$((Col::$col, $cell)),*]
    };
}

/// The table.  One array per row, one cell per column, in `Col::ALL` order.
fn table(r: Row) -> [(Col, Cell); NCOLS] {
    match r {
        Row::StoppedFresh => row![
            TickBefore => spawn(0).note("autostart: never started, so any tick starts it"),
            TickAt => spawn(0),
            TickAfter => spawn(0),
            TickDown => nop().note("no autostart while shutting down"),
            Start => spawn(0),
            Stop => nop().note(NOT_RUNNING),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, 0).note(STRAY_SPAWNFAILED),
            ExitQuick => exited(true, 0).note(STRAY_EXIT),
            ExitOk => exited(true, 0).note(STRAY_EXIT),
            ExitBad => exited(false, 0).note(STRAY_EXIT),
            KillFailed => unknown(0, 0).note(STRAY_KILLFAILED),
        ],
        Row::StoppedAfterStop => row![
            TickBefore => nop().note("autostart happens once: laststart is set"),
            TickAt => nop(),
            TickAfter => nop(),
            TickDown => nop(),
            Start => spawn(0),
            Stop => nop().note(NOT_RUNNING),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, 0).note(STRAY_SPAWNFAILED),
            ExitQuick => exited(true, 0).note(STRAY_EXIT),
            ExitOk => exited(true, 0).note(STRAY_EXIT),
            ExitBad => exited(false, 0).note(STRAY_EXIT),
            KillFailed => unknown(0, 0).note(STRAY_KILLFAILED),
        ],
        Row::Starting => row![
            TickBefore => nop(),
            TickAt => nop().note("exactly startsecs is not > startsecs"),
            TickAfter => go(&[(Running, true, 0, CHILD)]).backoff(0).dl(Dl::Never)
                .log(LogLevel::Info, "success: web entered RUNNING state"),
            TickDown => go(&[(Running, true, 0, CHILD)]).backoff(0).dl(Dl::Never)
                .note("STARTING -> RUNNING does not wait for the mood"),
            Start => nop().log(LogLevel::Warn, "process 'web' already running")
                .note(ALREADY_STARTED),
            Stop => go(&[(Stopping, true, 2, CHILD)]).kill(libc::SIGTERM, false).dl(KILL)
                .note("stopasgroup=false: TERM to the pid; backoff is kept"),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note("the usual path (the fixture's pid is replaced)"),
            SpawnFailed => failed(3, CHILD),
            ExitQuick => go(&[(Backoff, true, 3, CHILD)]).backoff(3).pid(0).dl(retry(3))
                .log(LogLevel::Warn, "exited: web (exit status 0; not expected)")
                .note("1 ns short of startsecs: too quick even with an expected code"),
            ExitOk => go(&[(Running, true, 0, CHILD), (Exited, true, 0, CHILD)])
                .backoff(0).pid(0).dl(Dl::Never)
                .note("exactly startsecs is not too quick: passes through RUNNING"),
            ExitBad => go(&[(Running, true, 0, CHILD), (Exited, false, 0, CHILD)])
                .backoff(0).pid(0).dl(Dl::Now)
                .note("autorestart=unexpected: restart due at once"),
            KillFailed => unknown(2, CHILD).note(STRAY_KILLFAILED),
        ],
        Row::StartDelayed => row![
            TickBefore => nop().note("start_delay not over yet"),
            TickAt => nop().spawn().dl(START)
                .note("start_delay over: the spawn, already STARTING so no event"),
            TickAfter => nop().spawn().dl(START),
            TickDown => nop().note("no spawn while shutting down; the stop cancels it"),
            Start => nop().note(ALREADY_STARTED),
            Stop => go(&[(Stopped, true, 0, 0)]).dl(Dl::Never)
                .log(LogLevel::Info, "stopped: web (before its start_delay ended")
                .note("nothing to signal: STARTING -> STOPPED, no autostart after it"),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, 0).note(STRAY_SPAWNFAILED),
            ExitQuick => go(&[(Running, true, 0, 0), (Exited, true, 0, 0)])
                .backoff(0).pid(0).dl(Dl::Never).note(STRAY_EXIT),
            ExitOk => go(&[(Running, true, 0, 0), (Exited, true, 0, 0)])
                .backoff(0).pid(0).dl(Dl::Never).note(STRAY_EXIT),
            ExitBad => go(&[(Running, true, 0, 0), (Exited, false, 0, 0)])
                .backoff(0).pid(0).dl(Dl::Now).note(STRAY_EXIT),
            KillFailed => unknown(0, 0).note(STRAY_KILLFAILED),
        ],
        Row::Running => row![
            TickBefore => nop(),
            TickAt => nop(),
            TickAfter => nop(),
            TickDown => nop(),
            Start => nop().log(LogLevel::Warn, "process 'web' already running")
                .note(ALREADY_STARTED),
            Stop => go(&[(Stopping, true, 0, CHILD)]).kill(libc::SIGTERM, false).dl(KILL),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, CHILD).note(STRAY_SPAWNFAILED),
            ExitQuick => exited(true, CHILD).note("long after startsecs: never too quick"),
            ExitOk => exited(true, CHILD)
                .log(LogLevel::Info, "exited: web (exit status 0; expected)"),
            ExitBad => exited(false, CHILD)
                .log(LogLevel::Warn, "exited: web (exit status 1; not expected)"),
            KillFailed => unknown(0, CHILD).note(STRAY_KILLFAILED),
        ],
        Row::Backoff => row![
            TickBefore => nop(),
            TickAt => nop().note("the retry waits strictly past the delay"),
            TickAfter => spawn(2).note("tries carries the failures so far"),
            TickDown => nop().note("no retry while shutting down; retries left, so no FATAL"),
            Start => spawn(2).note("RPC refuses (BACKOFF is a running state); spawn() accepts it"),
            Stop => go(&[(Stopped, true, 2, 0)]).dl(Dl::Never)
                .log(LogLevel::Debug, "Attempted to kill web, which is in BACKOFF state.")
                .note("kill() in BACKOFF: STOPPED, no signal; backoff kept, as Python's"),
            GiveUp => go(&[(Fatal, true, 0, 0)]).backoff(0).dl(Dl::Never),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => nop().note("already BACKOFF: no event, no failure counted \
                (Python's change_state to the same state does nothing); unreachable"),
            ExitQuick => exited(true, 0).note(STRAY_EXIT),
            ExitOk => exited(true, 0).note(STRAY_EXIT),
            ExitBad => exited(false, 0).note(STRAY_EXIT),
            KillFailed => unknown(2, 0).note(STRAY_KILLFAILED),
        ],
        Row::BackoffSpent => row![
            TickBefore => go(&[(Fatal, true, 0, 0)]).backoff(0).dl(Dl::Never)
                .log(LogLevel::Info, "gave up: web entered FATAL state")
                .note("backoff 4 > startretries 3: FATAL at any time"),
            TickAt => go(&[(Fatal, true, 0, 0)]).backoff(0).dl(Dl::Never),
            TickAfter => go(&[(Fatal, true, 0, 0)]).backoff(0).dl(Dl::Never),
            TickDown => go(&[(Fatal, true, 0, 0)]).backoff(0).dl(Dl::Never)
                .note("giving up does not wait for the mood"),
            Start => spawn(4).note("RPC refuses; spawn() accepts BACKOFF"),
            Stop => go(&[(Stopped, true, 4, 0)]).dl(Dl::Never),
            GiveUp => go(&[(Fatal, true, 0, 0)]).backoff(0).dl(Dl::Never),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => nop().note(STRAY_SPAWNFAILED),
            ExitQuick => exited(true, 0).note(STRAY_EXIT),
            ExitOk => exited(true, 0).note(STRAY_EXIT),
            ExitBad => exited(false, 0).note(STRAY_EXIT),
            KillFailed => unknown(4, 0).note(STRAY_KILLFAILED),
        ],
        Row::Stopping => row![
            TickBefore => nop(),
            TickAt => nop().kill(libc::SIGKILL, true).dl(KILL)
                .log(LogLevel::Warn, "killing 'web' (100) with SIGKILL")
                .note("stopwaitsecs reached (time_left <= 0): KILL to the group \
                       (killasgroup); STOPPING -> STOPPING emits nothing"),
            TickAfter => nop().kill(libc::SIGKILL, true).dl(KILL),
            TickDown => nop().kill(libc::SIGKILL, true).dl(KILL)
                .note("SIGKILL does not wait for the mood"),
            Start => nop().log(LogLevel::Warn, "process 'web' already running")
                .note("RPC lets it through; spawn() warns about the live pid"),
            Stop => nop().kill(libc::SIGTERM, true).dl(KILL)
                .note("kill() again: stopsignal, to the group (killasgroup applies in \
                       STOPPING), SIGKILL deadline restarted; the RPC refuses it"),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, CHILD).note(STRAY_SPAWNFAILED),
            ExitQuick => go(&[(Stopped, true, 0, CHILD)]).pid(0).dl(Dl::Never),
            ExitOk => go(&[(Stopped, true, 0, CHILD)]).pid(0).dl(Dl::Never)
                .log(LogLevel::Info, "stopped: web (exit status 0)"),
            ExitBad => go(&[(Stopped, true, 0, CHILD)]).pid(0).dl(Dl::Never)
                .log(LogLevel::Warn, "stopped: web (exit status 1)")
                .note("STOPPED is always 'expected'; only the log level tells"),
            KillFailed => unknown(0, CHILD).log(LogLevel::Critical, "unknown problem killing web"),
        ],
        Row::ExitedOk => row![
            TickBefore => nop().note("autorestart=unexpected, exit 0 was expected"),
            TickAt => nop(),
            TickAfter => nop(),
            TickDown => nop(),
            Start => spawn(0),
            Stop => nop().note("no restart due, nothing to hold; RPC refuses NOT_RUNNING"),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, 0).note(STRAY_SPAWNFAILED),
            ExitQuick => nop().note(STRAY_EXIT),
            ExitOk => nop().note(STRAY_EXIT),
            ExitBad => nop().dl(Dl::Now).note("EXITED -> EXITED emits nothing; exitstatus 1 now \
                                               wants a restart. Unreachable"),
            KillFailed => unknown(0, 0).note(STRAY_KILLFAILED),
        ],
        Row::ExitedCrashed => row![
            TickBefore => spawn(0).note("autorestart: exit 1 was unexpected"),
            TickAt => spawn(0),
            TickAfter => spawn(0),
            TickDown => nop().note("no restart while shutting down"),
            Start => spawn(0),
            Stop => nop().held(true).dl(Dl::Never)
                .log(LogLevel::Info, "stop request: web stays EXITED (autorestart cancelled)")
                .note("DIFFERS: Supervisor's RPC refuses NOT_RUNNING and the restart \
                       undoes the stop; here the stop holds the restart until a start"),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, 0).note(STRAY_SPAWNFAILED),
            ExitQuick => nop().dl(Dl::Never).note(STRAY_EXIT),
            ExitOk => nop().dl(Dl::Never).note(STRAY_EXIT),
            ExitBad => nop().note(STRAY_EXIT),
            KillFailed => unknown(0, 0).note(STRAY_KILLFAILED),
        ],
        Row::ExitedHeld => row![
            TickBefore => nop().note("held: the restart waits for a start"),
            TickAt => nop(),
            TickAfter => nop(),
            TickDown => nop(),
            Start => spawn(0).held(false),
            Stop => nop().note("already held"),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, 0).note(STRAY_SPAWNFAILED),
            ExitQuick => nop().note(STRAY_EXIT),
            ExitOk => nop().note(STRAY_EXIT),
            ExitBad => nop().note(STRAY_EXIT),
            KillFailed => unknown(0, 0).note(STRAY_KILLFAILED),
        ],
        Row::Fatal => row![
            TickBefore => nop().note("FATAL stays until a start"),
            TickAt => nop(),
            TickAfter => nop(),
            TickDown => nop(),
            Start => spawn(0),
            Stop => nop().note(NOT_RUNNING),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, 0).note(STRAY_SPAWNFAILED),
            ExitQuick => exited(true, 0).note(STRAY_EXIT),
            ExitOk => exited(true, 0).note(STRAY_EXIT),
            ExitBad => exited(false, 0).note(STRAY_EXIT),
            KillFailed => unknown(0, 0).note(STRAY_KILLFAILED),
        ],
        Row::FatalRetrying => row![
            TickBefore => nop().note("fatal_restart_delay not over yet"),
            TickAt => spawn(0).log(LogLevel::Info, "retrying: web was FATAL")
                .note("a new start: backoff was reset by give_up(), a fresh budget"),
            TickAfter => spawn(0),
            TickDown => nop().note("no retry while shutting down"),
            Start => spawn(0),
            Stop => nop().dl(Dl::Never)
                .log(LogLevel::Info, "stop request: web stays FATAL")
                .note("the RPC answers NOT_RUNNING after cancelling the retry"),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, 0).note(STRAY_SPAWNFAILED),
            ExitQuick => exited(true, 0).note(STRAY_EXIT),
            ExitOk => exited(true, 0).note(STRAY_EXIT),
            ExitBad => exited(false, 0).note(STRAY_EXIT),
            KillFailed => unknown(0, 0).note(STRAY_KILLFAILED),
        ],
        Row::Unknown => row![
            TickBefore => nop(),
            TickAt => nop(),
            TickAfter => nop(),
            TickDown => nop(),
            Start => nop().log(LogLevel::Warn, "process 'web' already running")
                .note("RPC refuses FAILED ('unknown process state')"),
            Stop => nop().note("RPC refuses NOT_RUNNING; Python's kill() would assert"),
            GiveUp => nop().note(NO_GIVE_UP),
            Spawned => nop().pid(NEW_CHILD).note(STRAY_SPAWNED),
            SpawnFailed => failed(1, CHILD).note(STRAY_SPAWNFAILED),
            ExitQuick => exited(true, CHILD)
                .log(LogLevel::Error, "web exited in unexpected state UNKNOWN")
                .note("DIFFERS: the child of a failed kill is reaped; Python's finish() \
                       raises AssertionError (not RUNNING); here it is EXITED"),
            ExitOk => exited(true, CHILD),
            ExitBad => exited(false, CHILD).note("and autorestart applies"),
            KillFailed => nop().log(LogLevel::Critical, "unknown problem killing web")
                .note("UNKNOWN -> UNKNOWN emits nothing"),
        ],
    }
}

fn deadline_at(dl: Dl, before: Option<Instant>, now: Instant) -> Option<Instant> {
    match dl {
        Dl::Keep => before,
        Dl::Never => None,
        Dl::Now => Some(now),
        Dl::In(x) => Some(now + x),
    }
}

fn check_cell(r: Row, c: Col, cell: &Cell, d: Instant) -> Result<(), String> {
    let p = policy();
    let mut m = fixture(r, d);
    let before = m.clone();
    let now = c.at(d);
    let deadline_before = m.next_deadline(&p, true, now);
    let fx = m.step(c.input(), &p, now);

    let events: Vec<Ev> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Changed {
                to,
                expected,
                tries,
                pid,
                ..
            } => Some((*to, *expected, *tries, *pid)),
            _ => None,
        })
        .collect();
    if events != cell.events {
        return Err(format!("events {events:?}, table {:?}", cell.events));
    }
    let mut from = r.state();
    for e in &fx {
        if let Effect::Changed { from: f, to, .. } = e {
            if *f != from || f == to {
                return Err(format!("broken event chain {fx:?}"));
            }
            from = *to;
        }
    }
    if m.state() != from {
        return Err(format!(
            "state {:?} after events ending in {from:?}",
            m.state()
        ));
    }
    let spawn = fx.contains(&Effect::Spawn);
    if spawn != cell.spawn {
        return Err(format!("spawn {spawn}, table {}", cell.spawn));
    }
    if spawn && (m.state() != Starting || m.laststart != Some(now)) {
        return Err("a spawn must go with STARTING at laststart = now".into());
    }
    let kills: Vec<(i32, bool)> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Kill { sig, group } => Some((*sig, *group)),
            _ => None,
        })
        .collect();
    if kills != cell.kill.into_iter().collect::<Vec<_>>() {
        return Err(format!("kills {kills:?}, table {:?}", cell.kill));
    }
    if !kills.is_empty() && before.pid == 0 {
        return Err("a signal with no child".into());
    }
    let want_backoff = cell.backoff.unwrap_or(before.backoff);
    if m.backoff != want_backoff {
        return Err(format!("backoff {}, table {want_backoff}", m.backoff));
    }
    let want_held = cell.held.unwrap_or(before.held);
    if m.held != want_held {
        return Err(format!("held {}, table {want_held}", m.held));
    }
    let want_pid = cell.pid.unwrap_or(before.pid);
    if m.pid != want_pid {
        return Err(format!("pid {}, table {want_pid}", m.pid));
    }
    let deadline = m.next_deadline(&p, true, now);
    let want = deadline_at(cell.deadline, deadline_before, now);
    if deadline != want {
        let rel = |x: Option<Instant>| x.map(|t| t.checked_duration_since(now));
        return Err(format!(
            "deadline {:?} after now, table {:?} ({:?})",
            rel(deadline),
            rel(want),
            cell.deadline
        ));
    }
    if let Some((level, text)) = cell.log {
        let found = fx
            .iter()
            .any(|e| matches!(e, Effect::Log(l, msg) if *l == level && msg.starts_with(text)));
        if !found {
            return Err(format!("no {level:?} log starting {text:?} in {fx:?}"));
        }
    }
    Ok(())
}

#[test]
fn rows_and_columns_cover_every_state_and_input() {
    for &r in Row::ALL {
        assert!(rows_of(r.state()).contains(&r));
    }
    for &c in Col::ALL {
        assert!(cols_of(&c.input()).contains(&c));
    }
    for &r in Row::ALL {
        let cells = table(r);
        for (i, (c, _)) in cells.iter().enumerate() {
            assert_eq!(
                *c,
                Col::ALL[i],
                "row {r:?}: cell {i} is out of column order"
            );
        }
    }
}

#[test]
fn every_state_times_every_input() {
    let d = Instant::now() + s(1000);
    let mut failures = Vec::new();
    let mut cells = 0;
    for &r in Row::ALL {
        for (c, cell) in table(r) {
            cells += 1;
            if let Err(e) = check_cell(r, c, &cell, d) {
                failures.push(format!("{r:?} × {c:?}: {e} [{}]", cell.note));
            }
        }
    }
    assert_eq!(cells, Row::ALL.len() * Col::ALL.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `next_deadline` is the only thing that wakes the loop: at the deadline a
/// tick must make progress, and with no deadline even a tick at the end of
/// time must do nothing.
#[test]
fn deadlines_are_sufficient_and_necessary() {
    let p = policy();
    let d = Instant::now() + s(1000);
    let end_of_time = saturating_after(d, Duration::MAX);
    for &r in Row::ALL {
        for may_start in [true, false] {
            let now = d - s(50);
            let m = fixture(r, d);
            match m.next_deadline(&p, may_start, now) {
                Some(at) => {
                    let at = at.max(now);
                    let mut m = m.clone();
                    let fx = m.step(Input::Tick { may_start }, &p, at);
                    assert!(
                        fx.iter().any(|e| matches!(
                            e,
                            Effect::Changed { .. } | Effect::Kill { .. } | Effect::Spawn
                        )),
                        "{r:?} may_start={may_start}: nothing happens at its deadline"
                    );
                }
                None => {
                    let mut m = m.clone();
                    let fx = m.step(Input::Tick { may_start }, &p, end_of_time);
                    assert!(
                        fx.is_empty(),
                        "{r:?} may_start={may_start}: no deadline, yet {fx:?}"
                    );
                }
            }
        }
    }
}

/// Autorestart on an EXITED process: policy × exit code × held.
#[test]
fn autorestart_table() {
    use AutoRestart::*;
    let d = Instant::now() + s(1000);
    // (policy, exit status, held) -> restart due
    let table = [
        (Always, 0, false, true),
        (Always, 1, false, true),
        (Always, 1, true, false),
        (Unexpected, 0, false, false),
        (Unexpected, 1, false, true),
        (Unexpected, 1, true, false),
        (Unexpected, -1, false, true), // killed by a signal: code -1
        (Never, 0, false, false),
        (Never, 1, false, false),
        (Never, 1, true, false),
    ];
    for (kind, code, held, restarts) in table {
        let mut p = policy();
        p.autorestart = kind;
        let mut m = fixture(Row::ExitedOk, d);
        m.exitstatus = Some(code);
        m.held = held;
        let want = restarts.then_some(d);
        assert_eq!(m.next_deadline(&p, true, d), want, "{kind:?} {code} {held}");
        let fx = m.step(Input::Tick { may_start: true }, &p, d);
        assert_eq!(
            fx.contains(&Effect::Spawn),
            restarts,
            "{kind:?} {code} {held}"
        );
    }
    // An exit code listed in exitcodes is expected whatever it is.
    let mut p = policy();
    p.exitcodes = vec![2, 3];
    let mut m = fixture(Row::Running, d);
    let fx = m.step(Input::Exited(ExitInfo::exited(3)), &p, d);
    assert!(matches!(
        fx[0],
        Effect::Changed {
            to: Exited,
            expected: true,
            ..
        }
    ));
    assert_eq!(m.next_deadline(&p, true, d), None);
}

/// startsecs = 0: RUNNING on the first tick strictly after the spawn; an
/// exit is never too quick.
#[test]
fn startsecs_zero_edges() {
    let mut p = policy();
    p.startsecs = 0;
    let t = Instant::now();
    let starting = || {
        let mut m = fixture(Row::Starting, t);
        m.laststart = Some(t);
        m
    };
    assert_eq!(starting().next_deadline(&p, true, t), Some(t + STRICT));
    let mut m = starting();
    assert!(m.step(Input::Tick { may_start: true }, &p, t).is_empty());
    let mut m2 = starting();
    let fx = m2.step(Input::Tick { may_start: true }, &p, t + NS);
    assert_eq!(m2.state(), Running, "{fx:?}");
    // Exit at the very instant of the spawn: not too quick (Python's
    // `now > laststart` is false, so too_quickly is false).
    let fx = m.step(Input::Exited(ExitInfo::exited(1)), &p, t);
    assert_eq!(m.state(), Exited, "{fx:?}");
    let mut m = starting();
    m.step(Input::Exited(ExitInfo::exited(1)), &p, t + NS);
    assert_eq!(m.state(), Exited);
}

/// startretries = 0: the first failed start is final.
#[test]
fn startretries_zero_gives_up_after_one_failure() {
    let mut p = policy();
    p.startretries = 0;
    let d = Instant::now() + s(1000);
    let mut m = fixture(Row::Starting, d);
    m.backoff = 0;
    let fx = m.step(Input::Exited(ExitInfo::exited(0)), &p, d - NS);
    assert!(matches!(
        fx[0],
        Effect::Changed {
            to: Backoff,
            tries: 1,
            ..
        }
    ));
    assert_eq!(m.next_deadline(&p, false, d), Some(d));
    let fx = m.step(Input::Tick { may_start: true }, &p, d);
    assert!(matches!(
        fx[0],
        Effect::Changed {
            from: Backoff,
            to: Fatal,
            tries: 0,
            ..
        }
    ));
}

/// Deadlines near the end of the clock: saturated, never reached, no panic.
#[test]
fn far_future_deadlines_saturate() {
    let mut p = policy();
    p.stopwaitsecs = u64::MAX;
    p.startsecs = u64::MAX;
    let d = Instant::now() + s(1000);
    let mut m = fixture(Row::Running, d);
    m.step(Input::Stop, &p, d);
    let kill_at = m.next_deadline(&p, true, d).expect("a SIGKILL deadline");
    assert!(kill_at > d + s(1 << 40));
    assert!(
        m.step(Input::Tick { may_start: true }, &p, kill_at - NS)
            .is_empty()
    );
    let fx = m.step(Input::Tick { may_start: true }, &p, kill_at);
    assert!(fx.contains(&Effect::Kill {
        sig: libc::SIGKILL,
        group: true
    }));
    let mut m = fixture(Row::ExitedCrashed, d);
    m.step(Input::Tick { may_start: true }, &p, d);
    let running_at = m.next_deadline(&p, true, d).expect("a STARTING deadline");
    assert!(running_at > d + s(1 << 40));
    assert!(
        m.step(Input::Tick { may_start: true }, &p, running_at)
            .is_empty()
    );
    assert_eq!(m.state(), Starting);
}
