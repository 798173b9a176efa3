//! The daemon's state, owned by the loop thread: `Supervisor`, its groups and
//! mood, and the look-ups every job uses (names, namespecs, pids).

use crate::cli::DaemonArgs;
use crate::config::{Config, Loaded};
use crate::daemon::calls::{bad, split_namespec};
use crate::daemon::env::{base_env, server_url};
use crate::daemon::groups::{GroupId, Groups, ProcId};
use crate::daemon::os::Os;
use crate::daemon::signals::Signals;
use crate::daemon::sockets::{Listener, PidFile};
use crate::events::Bus;
use crate::events::pool::Serials;
use crate::logs::MainLog;
use crate::process::Channel;
use crate::process::state::ProcessState;
use crate::rpc::{Fault, faults};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::{OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Instant;

/// Supervisor's "mood" (SupervisorStates): RUNNING 1, RESTARTING 0, SHUTDOWN -1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    Running,
    Restarting,
    Shutdown,
}

impl Mood {
    pub fn code(self) -> i32 {
        match self {
            Mood::Running => 1,
            Mood::Restarting => 0,
            Mood::Shutdown => -1,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Mood::Running => "RUNNING",
            Mood::Restarting => "RESTARTING",
            Mood::Shutdown => "SHUTDOWN",
        }
    }
}

pub struct Supervisor {
    pub config_path: PathBuf,
    pub args: DaemonArgs,
    pub config: Config,
    pub log: MainLog,
    pub groups: Groups,
    pub bus: Bus,
    pub mood: Mood,
    /// A validated config waiting for the restart to finish stopping.
    pub(in crate::daemon) pending_reload: Option<Loaded>,
    pub(in crate::daemon) pids: HashMap<i32, ProcId>,
    /// Listening sockets of fcgi-program groups, by group name.
    pub(in crate::daemon) fcgi_sockets: HashMap<String, OwnedFd>,
    /// supervisord's environment plus `[supervisord] environment`.
    pub(in crate::daemon) base_env: Vec<(OsString, OsString)>,
    pub(in crate::daemon) serverurl: Option<String>,
    pub(in crate::daemon) listeners: Vec<Listener>,
    pub(in crate::daemon) pidfile: Option<PidFile>,
    /// None in unit tests, which deliver no signals.
    pub(in crate::daemon) signals: Option<Signals>,
    /// Spawning, signalling, reaping and the clock.
    pub(in crate::daemon) os: Box<dyn Os>,
    pub(in crate::daemon) max_fd: i32,
    pub(in crate::daemon) last_wait_report: Option<Instant>,
    pub(in crate::daemon) buf: Vec<u8>,
    pub(in crate::daemon) exit_code: i32,
    /// The first unexpected exit's status (`exit_when_all_exited`).
    pub(in crate::daemon) first_unexpected: Option<i32>,
    /// HTTP threads reach the loop through this.
    pub(in crate::daemon) bridge: Option<crate::daemon::bridge::Bridge>,
    /// Deferred `wait=true` answers.
    pub(in crate::daemon) waiters: crate::daemon::waiters::Waiting,
    /// Global event serials.
    pub(in crate::daemon) serials: Serials,
    /// Some group is an eventlistener pool.
    pub(in crate::daemon) any_pool: bool,
    /// Bumped on every process state change and group add/remove: cached
    /// RPC answers built at an older generation are stale.
    pub(in crate::daemon) state_generation: u64,
    /// The last getAllProcessInfo body: (generation, epoch second, body).
    pub(in crate::daemon) info_cache: Option<(u64, i64, std::sync::Arc<Vec<u8>>)>,
    /// Last TICK timeslice per period (5, 60, 3600), once ticking.
    pub(in crate::daemon) ticks: [Option<u64>; 3],
    /// Stop flags of the running HTTP accept threads.
    pub(in crate::daemon) server_stops: Vec<(std::sync::Arc<std::sync::atomic::AtomicBool>, RawFd)>,
    /// While stopping: the priority level whose pools are being drained,
    /// and since when.
    pub(in crate::daemon) drain: Option<(i64, Instant)>,
    /// When the daemon started (`supervisord_uptime_seconds`).
    pub(in crate::daemon) started_at: Instant,
    /// Check attempts in flight (sockets and `exec:` children).
    pub(in crate::daemon) in_flight: crate::process::probe::InFlight<ProcId>,
    /// Where the next turn's due processes start, when a turn left some
    /// (a place in `groups.processes()`, see `tick_due`).
    pub(in crate::daemon) tick_resume: Option<usize>,
}

impl Supervisor {
    /// The daemon's state before anything runs: no groups, no servers.
    pub(in crate::daemon) fn new(
        config_path: PathBuf,
        args: DaemonArgs,
        config: Config,
        log: MainLog,
        signals: Option<Signals>,
        os: Box<dyn Os>,
        max_fd: i32,
    ) -> Supervisor {
        let now = os.now();
        Supervisor {
            config_path,
            args,
            base_env: base_env(&config),
            serverurl: server_url(&config),
            config,
            log,
            groups: Default::default(),
            bus: Bus::new(),
            mood: Mood::Running,
            pending_reload: None,
            pids: HashMap::new(),
            fcgi_sockets: HashMap::new(),
            listeners: Vec::new(),
            pidfile: None,
            signals,
            os,
            max_fd,
            last_wait_report: None,
            buf: vec![0u8; 256 * 1024],
            exit_code: 0,
            first_unexpected: None,
            bridge: None,
            waiters: Vec::new(),
            serials: Serials::default(),
            any_pool: false,
            state_generation: 0,
            info_cache: None,
            ticks: [None; 3],
            server_stops: Vec::new(),
            drain: None,
            started_at: now,
            in_flight: Default::default(),
            tick_resume: None,
        }
    }

    /// supervisord's PATH (for finding programs).
    pub(in crate::daemon) fn daemon_path(&self) -> Option<OsString> {
        self.base_env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
    }

    pub(in crate::daemon) fn rebuild_pid_index(&mut self) {
        self.state_generation += 1;
        self.any_pool = self.groups.iter().any(|(_, g)| g.pool.is_some());
        self.pids.clear();
        for (id, p) in self.groups.processes() {
            if p.machine.pid != 0 {
                self.pids.insert(p.machine.pid, id);
            }
        }
    }

    pub(in crate::daemon) fn may_start(&self) -> bool {
        self.mood == Mood::Running
    }

    /// Whether any eventlistener pool exists (asked on every read of child
    /// output, so kept up to date when groups change instead of scanned).
    pub(in crate::daemon) fn has_pools(&self) -> bool {
        self.any_pool
    }

    pub(in crate::daemon) fn find_group(&self, name: &str) -> Option<GroupId> {
        self.groups.find(name)
    }

    pub(in crate::daemon) fn find_process(&self, group: &str, name: &str) -> Option<ProcId> {
        self.groups.find_in(self.find_group(group)?, name)
    }

    /// `_getGroupAndProcess`: the group, and the process unless the spec
    /// names the whole group.
    pub(in crate::daemon) fn resolve(
        &self,
        spec: &str,
    ) -> Result<(GroupId, Option<ProcId>), Fault> {
        let (g, p) = split_namespec(spec);
        let gid = self
            .find_group(g)
            .ok_or_else(|| bad(faults::BAD_NAME, spec))?;
        match p {
            None => Ok((gid, None)),
            Some(p) => match self.groups.find_in(gid, p) {
                Some(id) => Ok((gid, Some(id))),
                None => Err(bad(faults::BAD_NAME, spec)),
            },
        }
    }

    /// `group:name`, or `name` when they are the same.
    pub(in crate::daemon) fn namespec(&self, id: ProcId) -> String {
        let Some((g, p)) = self.groups.with_group(id) else {
            return String::new();
        };
        if g.config.name == p.config.name {
            p.config.name.clone()
        } else {
            format!("{}:{}", g.config.name, p.config.name)
        }
    }

    /// `(group, name)` of a process, owned.
    pub(in crate::daemon) fn names(&self, id: ProcId) -> (String, String) {
        self.groups
            .with_group(id)
            .map(|(g, p)| (g.config.name.clone(), p.config.name.clone()))
            .unwrap_or_default()
    }

    /// Processes sorted like Supervisor's `_getAllProcesses`: by group and
    /// name with `lexical`, else in priority order.
    pub(in crate::daemon) fn all_processes(&self, lexical: bool) -> Vec<ProcId> {
        let mut all: Vec<ProcId> = self.groups.processes().map(|(id, _)| id).collect();
        if lexical {
            all.sort_by(|&a, &b| {
                let key = |id| {
                    self.groups
                        .with_group(id)
                        .map(|(g, p)| (&g.config.name, &p.config.name))
                };
                key(a).cmp(&key(b))
            });
        }
        all
    }

    /// A process's state; None once it is gone.
    pub(in crate::daemon) fn state_of(&self, id: ProcId) -> Option<ProcessState> {
        self.groups.proc(id).map(|p| p.machine.state())
    }

    /// The processes of one group.
    pub(in crate::daemon) fn group_processes(&self, gid: GroupId) -> Vec<ProcId> {
        self.groups.proc_ids(gid)
    }

    pub(in crate::daemon) fn log_path(&self, id: ProcId, ch: Channel) -> Option<PathBuf> {
        let p = self.groups.proc(id)?;
        match ch {
            Channel::Stdout => p.stdout_logfile.clone(),
            Channel::Stderr => p.stderr_logfile.clone(),
        }
    }
}
