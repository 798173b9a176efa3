//! `Supervisor`: all daemon state, owned by the loop thread, and the loop.

use super::EXIT_USAGE;
use super::panic_guard;
use super::pid1;
use super::reaper;
use super::signals::{self, Signals};
use super::sockets::{self, Listener, PidFile};
use crate::cli::DaemonArgs;
use crate::config::{Config, GroupConfig, Loaded, LogLevel};
use crate::events::pool::{PoolBuffer, Queued, Serials};
use crate::events::{Bus, Event, EventType};
use crate::logs::MainLog;
use crate::process::spawn::{self, SpawnError, SpawnPlan};
use crate::process::state::{Effect, Input, ProcessState};
use crate::process::{Channel, Process};
use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

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

/// A process group (`[program:x]`, `[group:x]`, ...) and its processes.
pub struct Group {
    pub config: GroupConfig,
    pub processes: Vec<Process>,
    /// For `[eventlistener:x]`: the pool's event buffer.
    pub pool: Option<PoolBuffer>,
}

/// How often the shutdown reports `waiting for x to die`.
const WAIT_REPORT: Duration = Duration::from_secs(3);
/// At shutdown, how long eventlistener pools may hand out what they hold
/// before their own priority level is stopped.
const LISTENER_DRAIN: Duration = Duration::from_secs(1);
/// At most this much of one pipe is read per loop turn, so one chatty child
/// cannot starve the others.
const READ_BUDGET: usize = 1 << 20;
/// Pipe size for channels spliced into plain log files.
const SPLICE_PIPE_SIZE: libc::c_int = 1 << 20;
/// Grace for leftover (unmanaged) processes at exit when we are PID 1.
const PID1_SWEEP_GRACE: Duration = Duration::from_secs(2);
/// A panic within this long of the previous one waits this long before the
/// next turn.
const PANIC_REPEAT: Duration = Duration::from_millis(100);

/// The listener section name of `[health_server]`.
const HEALTH_SECTION: &str = "health_server";

/// What the loop does after a turn.
enum Turn {
    Continue,
    Exit,
}

pub struct Supervisor {
    pub config_path: PathBuf,
    pub args: DaemonArgs,
    pub config: Config,
    pub log: MainLog,
    pub groups: Vec<Group>,
    pub bus: Bus,
    pub mood: Mood,
    /// A validated config waiting for the restart to finish stopping.
    pending_reload: Option<Loaded>,
    pids: HashMap<i32, (usize, usize)>,
    /// Listening sockets of fcgi-program groups, by group name.
    fcgi_sockets: HashMap<String, OwnedFd>,
    /// supervisord's environment plus `[supervisord] environment`.
    base_env: Vec<(OsString, OsString)>,
    serverurl: Option<String>,
    listeners: Vec<Listener>,
    pidfile: Option<PidFile>,
    signals: Signals,
    max_fd: i32,
    last_wait_report: Option<Instant>,
    buf: Vec<u8>,
    exit_code: i32,
    /// HTTP threads reach the loop through this.
    pub(super) bridge: Option<super::rpc::Bridge>,
    /// Deferred `wait=true` answers.
    pub(super) waiters: Vec<(
        super::rpc::Pending,
        std::sync::mpsc::Sender<super::rpc::Answer>,
    )>,
    /// Global event serials.
    serials: Serials,
    /// Some group is an eventlistener pool.
    any_pool: bool,
    /// Bumped on every process state change and group add/remove: cached
    /// RPC answers built at an older generation are stale.
    pub(super) state_generation: u64,
    /// The last getAllProcessInfo body: (generation, epoch second, body).
    pub(super) info_cache: Option<(u64, i64, std::sync::Arc<Vec<u8>>)>,
    /// Last TICK timeslice per period (5, 60, 3600), once ticking.
    ticks: [Option<u64>; 3],
    /// Stop flags of the running HTTP accept threads.
    server_stops: Vec<(std::sync::Arc<std::sync::atomic::AtomicBool>, RawFd)>,
    /// While stopping: the priority level whose pools are being drained,
    /// and since when.
    drain: Option<(i64, Instant)>,
    /// When the daemon started (`supervisord_uptime_seconds`).
    pub(super) started_at: Instant,
}

/// Ensure fds 0-2 are open, so pipes we create never land on them.
fn ensure_std_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD probe and open(2) of /dev/null.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) < 0 {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
}

/// Drop to `user=` for supervisord itself (Supervisor's `set_uid_or_exit`).
fn drop_privileges(user: &str) -> Result<(), String> {
    let target = spawn::resolve_user(user)?;
    // SAFETY: plain id syscalls.
    unsafe {
        let current = libc::getuid();
        if current == target.uid {
            return Ok(());
        }
        if current != 0 {
            return Err("Can't drop privilege as nonroot user".into());
        }
        if libc::setgroups(target.groups.len(), target.groups.as_ptr()) != 0 {
            return Err("Could not set groups of effective user".into());
        }
        if libc::setgid(target.gid) != 0 {
            return Err("Could not set group id of effective user".into());
        }
        if libc::setuid(target.uid) != 0 {
            return Err("Could not set user id of effective user".into());
        }
    }
    Ok(())
}

/// Raise RLIMIT_NOFILE / RLIMIT_NPROC to minfds / minprocs, or fail like
/// Supervisor.  Returns informational lines.
fn set_rlimits(minfds: u64, minprocs: u64) -> Result<Vec<String>, String> {
    let mut infos = Vec::new();
    let limits = [
        (
            libc::RLIMIT_NOFILE,
            "RLIMIT_NOFILE",
            minfds,
            "The minimum number of file descriptors required to run this process is {min} as per the \"minfds\" command-line argument or config file setting. The current environment will only allow you to open {hard} file descriptors.  Either raise the number of usable file descriptors in your environment or lower the minfds setting in the config file to allow the process to start.",
        ),
        (
            libc::RLIMIT_NPROC,
            "RLIMIT_NPROC",
            minprocs,
            "The minimum number of available processes required to run this program is {min} as per the \"minprocs\" command-line argument or config file setting. The current environment will only allow you to open {hard} processes.  Either raise the number of usable processes in your environment or lower the minprocs setting in the config file to allow the program to start.",
        ),
    ];
    for (res, name, min, msg) in limits {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit with a valid pointer.
        if unsafe { libc::getrlimit(res, &mut rl) } != 0 {
            continue;
        }
        let min = min as libc::rlim_t;
        if rl.rlim_cur != libc::RLIM_INFINITY && rl.rlim_cur < min {
            let hard = rl.rlim_max;
            let new_hard = if hard != libc::RLIM_INFINITY && hard < min {
                min
            } else {
                hard
            };
            let new = libc::rlimit {
                rlim_cur: min,
                rlim_max: new_hard,
            };
            // SAFETY: setrlimit with a valid pointer.
            if unsafe { libc::setrlimit(res, &new) } != 0 {
                return Err(msg
                    .replace("{min}", &min.to_string())
                    .replace("{hard}", &hard.to_string()));
            }
            infos.push(format!("Increased {name} limit to {min}"));
        }
    }
    Ok(infos)
}

fn open_files_limit() -> i32 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0
        || rl.rlim_cur == libc::RLIM_INFINITY
    {
        return 65536;
    }
    rl.rlim_cur.min(1 << 20) as i32
}

/// The server URL children get as SUPERVISOR_SERVER_URL: the first unix
/// socket, else the first inet server (`''` host -> localhost).
fn server_url(config: &Config) -> Option<String> {
    if let Some(u) = config.unix_http_servers.first() {
        return Some(format!("unix://{}", u.file.display()));
    }
    config.inet_http_servers.first().map(|i| {
        let host = if i.host.is_empty() || i.host == "*" {
            "localhost"
        } else {
            i.host.as_str()
        };
        format!("http://{host}:{}", i.port)
    })
}

fn set_env(env: &mut Vec<(OsString, OsString)>, k: impl Into<OsString>, v: impl Into<OsString>) {
    let (k, v) = (k.into(), v.into());
    match env.iter_mut().find(|(ek, _)| *ek == k) {
        Some(e) => e.1 = v,
        None => env.push((k, v)),
    }
}

fn base_env(config: &Config) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (k, v) in &config.supervisord.environment {
        set_env(&mut env, k, v);
    }
    env
}

/// Fork into the background (Supervisor's `daemonize`): the parent waits
/// until the child has written its pidfile, so `Type=forking` units see it.
fn daemonize(
    directory: Option<&std::path::Path>,
    umask: u32,
    log: &mut MainLog,
) -> Result<OwnedFd, String> {
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: fork(2) while single-threaded (no helper threads exist yet).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid > 0 {
        drop(w);
        let mut b = [0u8; 1];
        let ok = matches!(nix::unistd::read(&r, &mut b), Ok(1));
        // SAFETY: leave without running destructors (they belong to the child now).
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    drop(r);
    log.log(LogLevel::Info, "daemonizing the supervisord process");
    // SAFETY: setsid/umask/open/dup2 in the daemon child.
    unsafe {
        libc::setsid();
    }
    if let Some(dir) = directory {
        match std::env::set_current_dir(dir) {
            Ok(()) => log.log(
                LogLevel::Info,
                &format!(
                    "set current directory: {}",
                    spawn::py_repr(&dir.display().to_string())
                ),
            ),
            Err(e) => log.log(
                LogLevel::Critical,
                &format!(
                    "can't chdir into {}: {e}",
                    spawn::py_repr(&dir.display().to_string())
                ),
            ),
        }
    }
    // SAFETY: as above.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
        libc::umask(umask as libc::mode_t);
    }
    Ok(w)
}

/// SPEC Part B: a main log that cannot rotate (`/dev/stdout`, a pipe...)
/// is written without rotation; say so at start when maxbytes asks for it.
fn warn_if_main_log_unrotatable(log: &mut MainLog) {
    if log.rotation_skipped() {
        let path = log
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        log.log(
            LogLevel::Warn,
            &format!("logfile is not a regular file ({path}): logfile_maxbytes is ignored, it will not be rotated"),
        );
    }
}

/// Start the daemon with a loaded config; returns the exit status.
pub fn start(config_path: PathBuf, args: DaemonArgs, loaded: Loaded) -> i32 {
    ensure_std_fds();
    let Loaded {
        config,
        warnings,
        infos,
    } = loaded;
    let sd = config.supervisord.clone();
    // The spawn slots first, so they are the lowest free descriptors.
    crate::process::spawn::reserve_fds();
    let mut log = MainLog::early();

    // Privileges first, then limits, then the log (Supervisor's order).
    match &sd.user {
        Some(user) => {
            if let Err(e) = drop_privileges(user) {
                eprintln!("Error: {e}");
                return EXIT_USAGE;
            }
        }
        None => {
            // SAFETY: getuid never fails.
            if unsafe { libc::getuid() } == 0 {
                log.log(LogLevel::Critical, "Supervisor is running as root.  Privileges were not dropped because no user is specified in the config file.  If you intend to run as root, you can set user=root in the config file to avoid this message.");
            }
        }
    }
    match set_rlimits(sd.minfds, sd.minprocs) {
        Ok(lines) => lines.iter().for_each(|l| log.log(LogLevel::Info, l)),
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
    }
    for w in &warnings {
        log.log(LogLevel::Warn, &w.to_string());
    }
    for i in &infos {
        log.log(LogLevel::Info, i);
    }
    if let Err(e) = log.open(
        &sd.logfile,
        sd.logfile_maxbytes,
        sd.logfile_backups,
        sd.loglevel,
        sd.nodaemon && !sd.silent,
    ) {
        eprintln!("Error: could not open the main log: {e}");
        return EXIT_USAGE;
    }
    warn_if_main_log_unrotatable(&mut log);
    if !sd.nocleanup
        && let Err(e) = crate::logs::cleanup_auto_logs(&sd.childlogdir, &sd.identifier)
    {
        log.log(
            LogLevel::Warn,
            &format!(
                "could not clean up AUTO child logs in {}: {e}",
                sd.childlogdir.display()
            ),
        );
    }
    let signals = match Signals::install(&signals::HANDLED) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: could not install signal handlers: {e}");
            return EXIT_USAGE;
        }
    };
    let mut sup = Supervisor {
        config_path,
        args,
        base_env: base_env(&config),
        serverurl: server_url(&config),
        config,
        log,
        groups: Vec::new(),
        bus: Bus::new(),
        mood: Mood::Running,
        pending_reload: None,
        pids: HashMap::new(),
        fcgi_sockets: HashMap::new(),
        listeners: Vec::new(),
        pidfile: None,
        signals,
        max_fd: open_files_limit(),
        last_wait_report: None,
        buf: vec![0u8; 64 * 1024],
        exit_code: 0,
        bridge: None,
        waiters: Vec::new(),
        serials: Serials::default(),
        any_pool: false,
        state_generation: 0,
        info_cache: None,
        ticks: [None; 3],
        server_stops: Vec::new(),
        drain: None,
        started_at: Instant::now(),
    };
    if let Err(e) = sup.open_servers() {
        sup.log.log(LogLevel::Critical, &e);
        eprintln!("Error: {e}");
        return EXIT_USAGE;
    }
    match PidFile::lock(&sup.config.supervisord.pidfile) {
        Ok(p) => sup.pidfile = Some(p),
        Err(e) => {
            sup.log.log(LogLevel::Critical, &e);
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
    }
    let ready = if !sup.config.supervisord.nodaemon {
        match daemonize(
            sup.config.supervisord.directory.as_deref(),
            sup.config.supervisord.umask,
            &mut sup.log,
        ) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("Error: could not daemonize: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        None
    };
    if let Some(p) = sup.pidfile.as_mut()
        && let Err(e) = p.write_pid()
    {
        sup.log.log(
            LogLevel::Critical,
            &format!(
                "could not write pidfile {}: {e}",
                sup.config.supervisord.pidfile.display()
            ),
        );
    }
    if let Some(w) = ready {
        let _ = nix::unistd::write(&w, b"1");
    }
    if !pid1::is_pid1()
        && let Err(e) = pid1::become_subreaper()
    {
        sup.log.log(LogLevel::Warn, &format!("could not become a child subreaper ({e}): orphans of programs will not be reaped by supervisord"));
    }
    match super::rpc::Bridge::new() {
        Ok(b) => sup.bridge = Some(b),
        Err(e) => {
            sup.log.log(
                LogLevel::Critical,
                &format!("could not create the RPC channel: {e}"),
            );
            return EXIT_USAGE;
        }
    }
    sup.serve_listeners();
    sup.add_configured_groups();
    sup.log.log(
        LogLevel::Info,
        &format!(
            "supervisor-rs {} (a drop-in for Supervisor {})",
            crate::BUILD_VERSION,
            crate::SUPERVISOR_VERSION
        ),
    );
    sup.log.log(
        LogLevel::Info,
        &format!("supervisord started with pid {}", std::process::id()),
    );
    sup.bus.publish(Event::supervisor_state(true));
    sup.run_loop();
    sup.finish()
}

impl Supervisor {
    /// Bind the configured HTTP sockets (served by the RPC layer).
    fn open_servers(&mut self) -> Result<(), String> {
        let mut listeners = Vec::new();
        let mut unauthenticated = Vec::new();
        for s in &self.config.unix_http_servers {
            listeners.push(sockets::bind_unix(s)?);
            if s.username.is_none() {
                unauthenticated.push(s.section.clone());
            }
        }
        for s in &self.config.inet_http_servers {
            listeners.push(sockets::bind_inet(s)?);
            if s.username.is_none() {
                unauthenticated.push(s.section.clone());
            }
        }
        if let Some(h) = &self.config.health_server {
            listeners.push(sockets::bind_inet(&crate::config::InetHttpServer {
                section: HEALTH_SECTION.into(),
                host: h.host.clone(),
                port: h.port,
                username: None,
                password: None,
            })?);
        }
        for section in unauthenticated {
            let msg =
                format!("Server '{section}' running without any HTTP authentication checking");
            self.log.log(LogLevel::Critical, &msg);
        }
        self.listeners = listeners;
        Ok(())
    }

    /// Start the HTTP accept threads on the bound listeners.
    fn serve_listeners(&mut self) {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let Some(handle) = self.bridge.as_ref().map(|b| b.handle.clone()) else {
            return;
        };
        let mut started = Vec::new();
        let mut errors = Vec::new();
        for l in &self.listeners {
            let stop = Arc::new(AtomicBool::new(false));
            let (section, result, fd) = match l {
                Listener::Unix {
                    section, listener, ..
                } => {
                    let auth = self.auth_for(section);
                    let r = listener.try_clone().and_then(|c| {
                        crate::http::serve_unix(
                            c,
                            super::api::handler(handle.clone(), auth, false),
                            Arc::clone(&stop),
                        )
                    });
                    (section, r, listener.as_raw_fd())
                }
                Listener::Inet { section, listener } => {
                    // The health port serves the health paths and nothing
                    // else; an inet server also has them, behind its auth.
                    let handler = if section == HEALTH_SECTION {
                        super::health::handler(handle.clone())
                    } else {
                        super::api::handler(handle.clone(), self.auth_for(section), true)
                    };
                    let r = listener
                        .try_clone()
                        .and_then(|c| crate::http::serve_tcp(c, handler, Arc::clone(&stop)));
                    (section, r, listener.as_raw_fd())
                }
            };
            match result {
                Ok(()) => started.push((stop, fd)),
                Err(e) => errors.push(format!("could not serve [{section}]: {e}")),
            }
        }
        for e in errors {
            self.log.log(LogLevel::Critical, &e);
        }
        self.server_stops = started;
    }

    /// Stop the accept threads (reload with changed servers, exit).
    fn stop_serving(&mut self) {
        for (stop, fd) in self.server_stops.drain(..) {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            // SAFETY: shutdown(2) wakes a thread blocked in accept on this socket.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }

    fn auth_for(&self, section: &str) -> Option<super::api::Auth> {
        let creds = self
            .config
            .unix_http_servers
            .iter()
            .find(|s| s.section == section)
            .map(|s| (s.username.clone(), s.password.clone()))
            .or_else(|| {
                self.config
                    .inet_http_servers
                    .iter()
                    .find(|s| s.section == section)
                    .map(|s| (s.username.clone(), s.password.clone()))
            });
        match creds {
            Some((Some(username), Some(password))) => Some(super::api::Auth { username, password }),
            _ => None,
        }
    }

    /// supervisord's PATH (for finding programs).
    pub(super) fn daemon_path(&self) -> Option<OsString> {
        self.base_env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
    }

    /// `supervisor.shutdown`.
    pub(super) fn request_shutdown(&mut self) {
        self.begin_stop(Mood::Shutdown);
    }

    /// Remove a (stopped) group and announce it.
    pub(super) fn remove_group(&mut self, gi: usize) {
        let g = self.groups.remove(gi);
        self.fcgi_sockets.remove(&g.config.name);
        self.rebuild_pid_index();
        self.bus
            .publish(Event::process_group(&g.config.name, false));
    }

    fn add_configured_groups(&mut self) {
        let configs = self.config.groups.clone();
        for g in configs {
            self.add_group(g);
        }
    }

    /// Add a group (creating AUTO logs) and announce it.
    pub fn add_group(&mut self, config: GroupConfig) -> bool {
        if self.groups.iter().any(|g| g.config.name == config.name) {
            return false;
        }
        let sd = &self.config.supervisord;
        let mut processes = Vec::with_capacity(config.processes.len());
        for pc in &config.processes {
            match Process::new(pc.clone(), &config.name, &sd.childlogdir, &sd.identifier) {
                Ok(p) => processes.push(p),
                Err(e) => {
                    self.log.log(
                        LogLevel::Error,
                        &format!("could not create AUTO log for '{}': {e}", pc.name),
                    );
                    let mut pc = pc.clone();
                    pc.stdout.logfile = crate::config::ChildLogTarget::None;
                    pc.stderr.logfile = crate::config::ChildLogTarget::None;
                    if let Ok(p) = Process::new(pc, &config.name, &sd.childlogdir, &sd.identifier) {
                        processes.push(p);
                    }
                }
            }
        }
        let name = config.name.clone();
        let pos = self
            .groups
            .iter()
            .position(|g| g.config.priority > config.priority)
            .unwrap_or(self.groups.len());
        let pool = match &config.kind {
            crate::config::GroupKind::EventListener {
                events,
                buffer_size,
                ..
            } => {
                for p in &mut processes {
                    p.listener = Some(crate::events::listener::Protocol::new());
                }
                Some(PoolBuffer::new(&config.name, events, *buffer_size))
            }
            _ => None,
        };
        if pool.is_some() {
            // A pool hears only of events published after it exists (in
            // Supervisor it subscribes when it is built): hand what is on
            // the bus to the pools already there first.
            self.dispatch_events();
        }
        self.groups.insert(
            pos,
            Group {
                config,
                processes,
                pool,
            },
        );
        self.rebuild_pid_index();
        self.bus.publish(Event::process_group(&name, true));
        true
    }

    fn rebuild_pid_index(&mut self) {
        self.state_generation += 1;
        self.any_pool = self.groups.iter().any(|g| g.pool.is_some());
        self.pids.clear();
        for (gi, g) in self.groups.iter().enumerate() {
            for (pi, p) in g.processes.iter().enumerate() {
                if p.machine.pid != 0 {
                    self.pids.insert(p.machine.pid, (gi, pi));
                }
            }
        }
    }

    fn may_start(&self) -> bool {
        self.mood == Mood::Running
    }

    /// The one emitter: every process state change becomes an event here.
    // The arguments are exactly the fields of `Effect::Changed`.
    #[allow(clippy::too_many_arguments)]
    fn emit_process_state(
        &mut self,
        gi: usize,
        pi: usize,
        from: ProcessState,
        to: ProcessState,
        expected: bool,
        tries: u32,
        pid: i32,
    ) {
        self.state_generation += 1;
        let g = &mut self.groups[gi];
        let p = &mut g.processes[pi];
        if to == ProcessState::Starting {
            if p.laststart_wall.is_some() {
                p.restarts += 1;
            }
            p.laststart_wall = Some(SystemTime::now());
        }
        let ev = Event::process_state(
            &p.config.name,
            &g.config.name,
            from,
            to,
            expected,
            tries,
            pid,
        );
        self.bus.publish(ev);
    }

    /// Feed an input to one process and carry out the effects (and the
    /// inputs they produce) until it settles.
    pub fn drive(&mut self, gi: usize, pi: usize, input: Input, now: Instant) {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let p = &mut self.groups[gi].processes[pi];
            let effects = p.machine.step(input, &p.policy, now);
            for effect in effects {
                match effect {
                    Effect::Changed {
                        from,
                        to,
                        expected,
                        tries,
                        pid,
                    } => {
                        self.groups[gi].processes[pi].trail.push(to);
                        self.emit_process_state(gi, pi, from, to, expected, tries, pid)
                    }
                    Effect::Log(level, msg) => self.log.log(level, &msg),
                    Effect::Spawn => inputs.push_back(self.spawn_process(gi, pi)),
                    Effect::Kill { sig, group } => {
                        if let Some(i) = self.kill_process(gi, pi, sig, group) {
                            inputs.push_back(i);
                        }
                    }
                }
            }
        }
    }

    /// The child's environment: supervisord's, SUPERVISOR_*, then
    /// `[supervisord] environment`, then the program's.
    fn child_env(&self, p: &Process) -> Vec<(OsString, OsString)> {
        let mut env = self.base_env.clone();
        set_env(&mut env, "SUPERVISOR_ENABLED", "1");
        if let Some(url) = p.config.serverurl.as_ref().or(self.serverurl.as_ref()) {
            set_env(&mut env, "SUPERVISOR_SERVER_URL", url.as_str());
        }
        set_env(&mut env, "SUPERVISOR_PROCESS_NAME", p.config.name.as_str());
        set_env(&mut env, "SUPERVISOR_GROUP_NAME", p.group.as_str());
        // Supervisor merges `[supervisord] environment` into each program's
        // environment, so it too is applied over the SUPERVISOR_* variables.
        for (k, v) in &self.config.supervisord.environment {
            set_env(&mut env, k.as_str(), v.as_str());
        }
        for (k, v) in &p.config.environment {
            set_env(&mut env, k.as_str(), v.as_str());
        }
        env
    }

    fn spawn_process(&mut self, gi: usize, pi: usize) -> Input {
        match self.try_spawn(gi, pi) {
            Ok(pid) => Input::Spawned { pid },
            Err(e) => Input::SpawnFailed {
                msg: e.message().to_string(),
            },
        }
    }

    fn try_spawn(&mut self, gi: usize, pi: usize) -> Result<i32, SpawnError> {
        let strip_ansi = self.config.supervisord.strip_ansi;
        let env = self.child_env(&self.groups[gi].processes[pi]);
        let daemon_path = self
            .base_env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone());
        let max_fd = self.max_fd;
        let p = &mut self.groups[gi].processes[pi];
        let name = p.config.name.clone();
        p.ensure_logs(strip_ansi).map_err(|e| {
            let code = e.raw_os_error().unwrap_or(0);
            if code == libc::EMFILE || code == libc::ENFILE {
                SpawnError::Other(format!(
                    "too many open files to spawn {}",
                    spawn::py_repr(&name)
                ))
            } else {
                SpawnError::Other(format!(
                    "unknown error making dispatchers for {}: {}",
                    spawn::py_repr(&name),
                    spawn::errno_name(code)
                ))
            }
        })?;
        let mut warnings = Vec::new();
        if !p.warned_unrotatable {
            p.warned_unrotatable = true;
            for (log, c, ch) in [
                (p.stdout_log.as_ref(), &p.config.stdout, Channel::Stdout),
                (p.stderr_log.as_ref(), &p.config.stderr, Channel::Stderr),
            ] {
                if let Some(l) = log
                    && c.maxbytes != 0
                    && !l.is_rotatable()
                {
                    warnings.push(format!(
                            "{}_logfile of '{}' is not a regular file ({}): {}_logfile_maxbytes is ignored, it will not be rotated",
                            ch.name(), name, l.path().map(|x| x.display().to_string()).unwrap_or_default(), ch.name()
                        ));
                }
            }
        }
        let program_path = p
            .config
            .environment
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str());
        let filename =
            spawn::resolve_command(&p.config.argv, program_path, daemon_path.as_deref())?;
        let user = match &p.config.user {
            Some(u) => Some((
                spawn::resolve_user(u).map_err(SpawnError::Other)?,
                u.clone(),
            )),
            None => None,
        };
        let mut plan = SpawnPlan::new(
            &filename,
            &p.config.argv,
            &env,
            p.config.directory.as_deref(),
            p.config.umask,
            user,
            p.config.redirect_stderr,
        )?;
        for w in warnings {
            self.log.log(LogLevel::Warn, &w);
        }
        if let crate::config::GroupKind::Fcgi { socket, backlog } = &self.groups[gi].config.kind {
            let (socket, backlog) = (socket.clone(), *backlog);
            let gname = self.groups[gi].config.name.clone();
            plan.fd0 = Some(
                self.fcgi_socket(&gname, &socket, backlog)
                    .map_err(SpawnError::Other)?,
            );
        }
        let p = &mut self.groups[gi].processes[pi];
        let child = spawn::spawn(&plan, &name, max_fd)?;
        p.stdin = child.stdin;
        p.stdout = Some(child.stdout);
        p.stderr = child.stderr;
        // A channel spliced into a plain file gets a larger pipe: fewer
        // wake-ups and larger splices for chatty programs.  Best effort (the
        // kernel caps it at fs.pipe-max-size).
        for ch in [Channel::Stdout, Channel::Stderr] {
            let fd = match ch {
                Channel::Stdout => p.stdout.as_ref().map(AsRawFd::as_raw_fd),
                Channel::Stderr => p.stderr.as_ref().map(AsRawFd::as_raw_fd),
            };
            if let (Some(fd), Some(log)) = (fd, p.log_for(ch))
                && log.can_splice()
                && p.capture[ch as usize].is_none()
            {
                // SAFETY: fcntl on a pipe we own.
                unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, SPLICE_PIPE_SIZE) };
            }
        }
        if let Some(proto) = p.listener.as_mut() {
            proto.reset();
        }
        self.pids.insert(child.pid, (gi, pi));
        Ok(child.pid)
    }

    /// The listening socket of an `[fcgi-program:x]` group, created on the
    /// first spawn and shared by all its processes (it becomes their fd 0).
    fn fcgi_socket(
        &mut self,
        group: &str,
        socket: &crate::config::FcgiSocket,
        backlog: u32,
    ) -> Result<RawFd, String> {
        if let Some(fd) = self.fcgi_sockets.get(group) {
            return Ok(fd.as_raw_fd());
        }
        let fd = sockets::bind_fcgi(socket, backlog)?;
        let raw = fd.as_raw_fd();
        self.fcgi_sockets.insert(group.to_string(), fd);
        Ok(raw)
    }

    /// Send a signal for the state machine; an unexpected failure becomes
    /// `KillFailed` (-> UNKNOWN).
    fn kill_process(&mut self, gi: usize, pi: usize, sig: i32, group: bool) -> Option<Input> {
        let p = &self.groups[gi].processes[pi];
        let pid = p.machine.pid;
        if pid <= 0 {
            return None;
        }
        let target = if group { -pid } else { pid };
        // SAFETY: kill(2).
        if unsafe { libc::kill(target, sig) } == 0 {
            return None;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ESRCH) {
            let msg = format!(
                "unable to signal {} (pid {pid}), it probably just exited on its own: {err}",
                p.config.name
            );
            self.log.log(LogLevel::Debug, &msg);
            None
        } else {
            Some(Input::KillFailed {
                msg: err.to_string(),
            })
        }
    }

    /// Read what a child wrote on one channel into its log.  With `all`,
    /// read until the pipe is empty (the child is gone); otherwise up to the
    /// per-turn budget.  Closes the pipe at EOF.
    fn read_output(&mut self, gi: usize, pi: usize, ch: Channel, all: bool) {
        if self.splice_output(gi, pi, ch, all) {
            return;
        }
        let mut total = 0usize;
        loop {
            let p = &mut self.groups[gi].processes[pi];
            let fd = match ch {
                Channel::Stdout => p.stdout.as_ref(),
                Channel::Stderr => p.stderr.as_ref(),
            };
            let Some(fd) = fd else { return };
            let n = match nix::unistd::read(fd, &mut self.buf) {
                Ok(0) => {
                    match ch {
                        Channel::Stdout => p.stdout = None,
                        Channel::Stderr => p.stderr = None,
                    }
                    return;
                }
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return, // EAGAIN: nothing more now
            };
            total += n;
            if self.log.enabled(LogLevel::Debug) {
                let name = p.config.name.clone();
                if ch == Channel::Stdout && p.listener.is_some() {
                    // A listener's protocol channel: Supervisor logs the
                    // bytes' repr, b'RESULT 2\nOK', unstripped.
                    let data = crate::events::listener::bytes_repr(&self.buf[..n]);
                    let msg = format!("{} stdout output:\n{data}", spawn::py_repr(&name));
                    self.log.log(LogLevel::Debug, &msg);
                } else {
                    self.log_child_output(&name, ch, n);
                }
            }
            // One read is one chunk: even split by capture mode, it lands
            // in one file, rotated after it if it reached maxbytes.
            let p = &mut self.groups[gi].processes[pi];
            let was_failing = p.log_failing;
            if let Some(log) = p.log_for(ch) {
                log.begin_chunk();
            }
            self.route_output(gi, pi, ch, n);
            let p = &mut self.groups[gi].processes[pi];
            if let Some(Err(e)) = p.log_for(ch).map(|log| log.end_chunk()) {
                // The writes' success in route_output cleared the flag.
                self.log_failed(gi, pi, ch, "rotate", &e, was_failing);
            }
            if !all && total >= READ_BUDGET {
                return;
            }
        }
    }

    /// The fast path for plain file logs: `splice(2)` the pipe into the file
    /// (no copy through the daemon).  Only when nothing needs to see the
    /// bytes: no capture, no log events, not a listener's protocol channel,
    /// no debug copy to the main log, no syslog or ANSI stripping.  Returns
    /// false when the ordinary read path must be used.
    fn splice_output(&mut self, gi: usize, pi: usize, ch: Channel, all: bool) -> bool {
        if self.log.enabled(LogLevel::Debug) {
            return false;
        }
        let listening = self.has_pools();
        let p = &mut self.groups[gi].processes[pi];
        let cfg = match ch {
            Channel::Stdout => &p.config.stdout,
            Channel::Stderr => &p.config.stderr,
        };
        if (cfg.events_enabled && listening)
            || p.capture[ch as usize].is_some()
            || (ch == Channel::Stdout && p.listener.is_some())
        {
            return false;
        }
        let fd = match ch {
            Channel::Stdout => p.stdout.as_ref().map(AsRawFd::as_raw_fd),
            Channel::Stderr => p.stderr.as_ref().map(AsRawFd::as_raw_fd),
        };
        let (Some(fd), Some(log)) = (fd, p.log_for(ch)) else {
            return false;
        };
        if !log.can_splice() {
            return false;
        }
        let max = if all { usize::MAX } else { READ_BUDGET };
        match log.splice_from(fd, max) {
            Ok(s) => {
                p.log_failing = false;
                if s.eof {
                    match ch {
                        Channel::Stdout => p.stdout = None,
                        Channel::Stderr => p.stderr = None,
                    }
                }
                true
            }
            // The file failed: reported once; the ordinary path reads the
            // data and keeps the program running.
            Err(e) => {
                let already = p.log_failing;
                self.log_failed(gi, pi, ch, "write", &e, already);
                false
            }
        }
    }

    /// A channel log failed: say so once (unless `already` failing) and
    /// mark it failing until a write succeeds.
    fn log_failed(
        &mut self,
        gi: usize,
        pi: usize,
        ch: Channel,
        what: &str,
        e: &std::io::Error,
        already: bool,
    ) {
        let p = &mut self.groups[gi].processes[pi];
        p.log_failing = true;
        if !already {
            let msg = format!(
                "could not {what} {} log of '{}': {e}; the program keeps running",
                ch.name(),
                p.config.name
            );
            self.log.log(LogLevel::Error, &msg);
        }
    }

    /// Send `self.buf[..n]`, just read from a child, where it belongs: the
    /// channel log (zero-copy in the common case), capture mode, PROCESS_LOG
    /// events, and for a listener's stdout, the protocol.
    fn route_output(&mut self, gi: usize, pi: usize, ch: Channel, n: usize) {
        let listening = self.has_pools();
        let g = &mut self.groups[gi];
        let group_name = &g.config.name;
        let p = &mut g.processes[pi];
        let data = &self.buf[..n];
        let cfg = match ch {
            Channel::Stdout => &p.config.stdout,
            Channel::Stderr => &p.config.stderr,
        };
        let events_enabled = cfg.events_enabled && listening;
        let protocol = ch == Channel::Stdout && p.listener.is_some();
        let mut failure = None;
        let mut events = Vec::new();
        let pieces = match (&mut p.capture[ch as usize], protocol) {
            (Some(c), false) => c.feed(data),
            _ => Vec::new(),
        };
        if p.capture[ch as usize].is_none() || protocol {
            if let Some(log) = p.log_for(ch)
                && let Err(e) = log.write(data)
            {
                failure = Some(e);
            }
            if events_enabled && !protocol {
                events.push(Event::process_log(
                    &p.config.name,
                    group_name,
                    p.machine.pid,
                    ch == Channel::Stderr,
                    data,
                ));
            }
        }
        for piece in pieces {
            match piece {
                crate::logs::capture::Piece::Data { bytes, captured } => {
                    if !captured
                        && let Some(log) = p.log_for(ch)
                        && let Err(e) = log.write(&bytes)
                    {
                        failure = Some(e);
                    }
                    if events_enabled {
                        events.push(Event::process_log(
                            &p.config.name,
                            group_name,
                            p.machine.pid,
                            ch == Channel::Stderr,
                            &bytes,
                        ));
                    }
                }
                crate::logs::capture::Piece::Comm(bytes) => {
                    events.push(Event::process_communication(
                        &p.config.name,
                        group_name,
                        p.machine.pid,
                        ch == Channel::Stderr,
                        &bytes,
                    ));
                }
            }
        }
        let signals = match (protocol, p.listener.as_mut()) {
            (true, Some(proto)) => proto.feed(data),
            _ => Vec::new(),
        };
        match failure {
            None => p.log_failing = false,
            Some(e) => {
                let already = p.log_failing;
                self.log_failed(gi, pi, ch, "write", &e, already);
            }
        }
        for ev in events {
            if ev.kind == EventType::ProcessCommunicationStdout
                || ev.kind == EventType::ProcessCommunicationStderr
            {
                let name = self.groups[gi].processes[pi].config.name.clone();
                self.log.log(
                    LogLevel::Debug,
                    &format!(
                        "{} {} emitted a comm event",
                        spawn::py_repr(&name),
                        ch.name()
                    ),
                );
            }
            self.bus.publish(ev);
        }
        if !signals.is_empty() {
            self.listener_signals(gi, pi, signals);
        }
    }

    /// The child is gone: what capture mode held back is ordinary output.
    fn flush_capture(&mut self, gi: usize, pi: usize) {
        for ch in [Channel::Stdout, Channel::Stderr] {
            let p = &mut self.groups[gi].processes[pi];
            let Some(c) = p.capture[ch as usize].as_mut() else {
                continue;
            };
            for piece in c.flush() {
                if let crate::logs::capture::Piece::Data { bytes, .. } = piece
                    && let Some(log) = p.log_for(ch)
                {
                    let _ = log.write(&bytes);
                }
            }
        }
    }

    /// Whether any eventlistener pool exists (asked on every read of child
    /// output, so kept up to date when groups change instead of scanned).
    fn has_pools(&self) -> bool {
        self.any_pool
    }

    /// React to what a listener said on its stdout.
    fn listener_signals(
        &mut self,
        gi: usize,
        pi: usize,
        signals: Vec<crate::events::listener::Signal>,
    ) {
        use crate::events::listener::{ListenerState, Signal};
        let name = self.groups[gi].processes[pi].config.name.clone();
        for s in signals {
            match s {
                Signal::Changed { from, to } => {
                    self.log.log(
                        LogLevel::Debug,
                        &format!("{name}: {} -> {}", from.name(), to.name()),
                    );
                    if to == ListenerState::Unknown {
                        self.log.log(LogLevel::Warn, &format!("{name}: has entered the UNKNOWN state and will no longer receive events, this usually indicates the process violated the eventlistener protocol"));
                    }
                }
                Signal::Accepted => {
                    self.log
                        .log(LogLevel::Debug, &format!("{name}: event was processed"));
                    self.groups[gi].processes[pi].listener_event = None;
                }
                Signal::Rejected { .. } => {
                    self.log
                        .log(LogLevel::Warn, &format!("{name}: event was rejected"));
                    if let Some(q) = self.groups[gi].processes[pi].listener_event.take() {
                        self.requeue_event(gi, q);
                    }
                }
                Signal::BadResultLine { line } => {
                    self.log.log(
                        LogLevel::Warn,
                        &format!("{name}: bad result line: '{line}'"),
                    );
                    if let Some(q) = self.groups[gi].processes[pi].listener_event.take() {
                        self.requeue_event(gi, q);
                    }
                }
            }
        }
    }

    /// Put an event a listener did not take back at the head of its pool.
    fn requeue_event(&mut self, gi: usize, q: Queued) {
        let serial = q.serial;
        let g = &mut self.groups[gi];
        let Some(pool) = g.pool.as_mut() else { return };
        let pool_name = pool.name.clone();
        let dropped = pool.requeue(q);
        let len = pool.queue.len();
        let cap = pool.capacity;
        self.log.log(
            LogLevel::Debug,
            &format!("rebuffering event {serial} for pool {pool_name} (buf size={len}, max={cap})"),
        );
        if let Some(d) = dropped {
            self.log.log(
                LogLevel::Error,
                &format!("pool {pool_name} event buffer overflowed, discarding event {d}"),
            );
        }
    }

    /// Hand every published event to the pools that subscribe to it, then
    /// give buffered events to READY listeners.
    fn dispatch_events(&mut self) {
        if !self.has_pools() {
            self.bus.drain().for_each(drop);
            return;
        }
        let events: Vec<Event> = self.bus.drain().collect();
        for ev in events {
            let ev = std::sync::Arc::new(ev);
            let mut serial = None;
            for gi in 0..self.groups.len() {
                let Some(pool) = self.groups[gi].pool.as_mut() else {
                    continue;
                };
                if !pool.wants(ev.kind) {
                    continue;
                }
                let s = *serial.get_or_insert_with(|| self.serials.assign());
                if let Some(d) = pool.accept(std::sync::Arc::clone(&ev), s) {
                    let msg = format!(
                        "pool {} event buffer overflowed, discarding event {d}",
                        pool.name
                    );
                    self.log.log(LogLevel::Error, &msg);
                }
            }
        }
        let identifier = self.config.supervisord.identifier.clone();
        for gi in 0..self.groups.len() {
            loop {
                let g = &mut self.groups[gi];
                let Some(pool) = g.pool.as_mut() else { break };
                if pool.queue.is_empty() {
                    break;
                }
                let ready = g.processes.iter().position(|p| {
                    p.machine.state() == ProcessState::Running
                        && p.stdin.is_some()
                        && p.listener.as_ref().is_some_and(|l| {
                            l.state == crate::events::listener::ListenerState::Ready
                        })
                });
                let Some(pi) = ready else { break };
                let Some(q) = pool.pop() else { break };
                let envelope = crate::events::pool::envelope(&identifier, &pool.name, &q);
                let serial = q.serial;
                let p = &mut g.processes[pi];
                p.stdin_buf.extend(envelope);
                if let Some(proto) = p.listener.as_mut() {
                    proto.sent_event();
                }
                p.listener_event = Some(q);
                let name = p.config.name.clone();
                if let Err(e) = self.flush_stdin(gi, pi) {
                    self.log.log(
                        LogLevel::Debug,
                        &format!(
                            "epipe occurred while sending event {serial} to listener {name}: {e}"
                        ),
                    );
                    if let Some(q) = self.groups[gi].processes[pi].listener_event.take() {
                        self.requeue_event(gi, q);
                    }
                    continue;
                }
                self.log.log(
                    LogLevel::Debug,
                    &format!("event {serial} sent to listener {name}"),
                );
            }
        }
    }

    /// TICK_5/60/3600 when a timeslice rolls over, only for periods some
    /// pool subscribes to (so an idle daemon without tick listeners never
    /// wakes up).  Returns the next tick deadline.
    fn tick_events(&mut self) -> Option<Instant> {
        const PERIODS: [(u64, EventType); 3] = [
            (5, EventType::Tick5),
            (60, EventType::Tick60),
            (3600, EventType::Tick3600),
        ];
        let now_wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let now_secs = now_wall.as_secs();
        let mut next: Option<Instant> = None;
        for (i, (period, kind)) in PERIODS.into_iter().enumerate() {
            let wanted = self
                .groups
                .iter()
                .filter_map(|g| g.pool.as_ref())
                .any(|p| p.wants(kind));
            if !wanted {
                self.ticks[i] = None;
                continue;
            }
            let this = now_secs - now_secs % period;
            match self.ticks[i] {
                None => self.ticks[i] = Some(this),
                Some(last) if last != this => {
                    self.ticks[i] = Some(this);
                    self.bus.publish(Event::tick(kind, this));
                }
                _ => {}
            }
            let until = Duration::from_secs(this + period).saturating_sub(now_wall);
            let at = Instant::now() + until;
            next = Some(next.map_or(at, |n: Instant| n.min(at)));
        }
        next
    }

    /// Supervisor's `log_to_mainlog` (loglevel debug or lower): each chunk
    /// a child writes is also logged at DEBG as `'name' stdout output:`
    /// followed by the data (ANSI-stripped under `strip_ansi`).
    fn log_child_output(&mut self, name: &str, ch: Channel, n: usize) {
        let stripped;
        let data = if self.config.supervisord.strip_ansi {
            stripped = crate::logs::strip_ansi(&self.buf[..n]);
            &stripped[..]
        } else {
            &self.buf[..n]
        };
        if data.is_empty() {
            return;
        }
        let text = match std::str::from_utf8(data) {
            Ok(t) => t.to_string(),
            Err(_) => format!("Undecodable: {}", crate::events::listener::bytes_repr(data)),
        };
        let msg = format!("{} {} output:\n{text}", spawn::py_repr(name), ch.name());
        self.log.log(LogLevel::Debug, &msg);
    }

    /// Reap children: managed ones go through the state machine, orphans are logged.
    pub(super) fn reap(&mut self, now: Instant) {
        for (pid, info) in reaper::reap_all() {
            match self.pids.remove(&pid) {
                Some((gi, pi)) => {
                    self.read_output(gi, pi, Channel::Stdout, true);
                    self.read_output(gi, pi, Channel::Stderr, true);
                    self.flush_capture(gi, pi);
                    if let Some(q) = self.groups[gi].processes[pi].listener_event.take() {
                        self.requeue_event(gi, q);
                    }
                    let p = &mut self.groups[gi].processes[pi];
                    p.stdin_buf.clear();
                    p.stdin = None;
                    p.stdout = None;
                    p.stderr = None;
                    p.laststop_wall = Some(SystemTime::now());
                    self.drive(gi, pi, Input::Exited(info), now);
                }
                None => {
                    self.log.log(
                        LogLevel::Info,
                        &format!("reaped unknown pid {pid} ({})", info.msg),
                    );
                }
            }
        }
    }

    /// Run Tick for every process whose deadline has come.
    fn tick_due(&mut self, now: Instant) {
        let may_start = self.may_start();
        for gi in 0..self.groups.len() {
            for pi in 0..self.groups[gi].processes.len() {
                let p = &self.groups[gi].processes[pi];
                if let Some(d) = p.machine.next_deadline(&p.policy, may_start, now)
                    && d <= now
                {
                    self.drive(gi, pi, Input::Tick { may_start }, now);
                }
            }
        }
    }

    fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let may_start = self.may_start();
        let mut best: Option<Instant> = None;
        for g in &self.groups {
            for p in &g.processes {
                if let Some(d) = p.machine.next_deadline(&p.policy, may_start, now) {
                    best = Some(best.map_or(d, |b| b.min(d)));
                }
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

    /// Stop everything, one priority level at a time: every group of the
    /// highest remaining priority at once (SPEC Part C), lower priorities
    /// only after those are down.  Returns true when nothing is left running.
    fn stop_phase(&mut self, now: Instant) -> bool {
        let unstopped: Vec<usize> = (0..self.groups.len())
            .filter(|&gi| {
                self.groups[gi]
                    .processes
                    .iter()
                    .any(|p| !p.machine.state().is_stopped())
            })
            .collect();
        let Some(top) = unstopped
            .iter()
            .map(|&gi| self.groups[gi].config.priority)
            .max()
        else {
            return true;
        };
        let top_groups: Vec<usize> = unstopped
            .into_iter()
            .filter(|&gi| self.groups[gi].config.priority == top)
            .collect();
        if self.draining(top, &top_groups, now) {
            return false;
        }
        for gi in top_groups {
            self.stop_group(gi, now);
        }
        if self.last_wait_report.is_none_or(|t| now >= t + WAIT_REPORT) {
            let names: Vec<&str> = self
                .groups
                .iter()
                .flat_map(|g| g.processes.iter())
                .filter(|p| !p.machine.state().is_stopped())
                .map(|p| p.config.name.as_str())
                .collect();
            if !names.is_empty() {
                let msg = format!("waiting for {} to die", names.join(", "));
                self.log.log(LogLevel::Info, &msg);
                self.last_wait_report = Some(now);
            }
        }
        false
    }

    /// Whether to hold off stopping the level `top` because its eventlistener
    /// pools still have events for live listeners: listeners (priority -1 by
    /// default) are stopped last so that they hear the others stop, as in
    /// Supervisor, where each group is stopped in a later pass of its loop
    /// and pools dispatch in between.  Bounded by [`LISTENER_DRAIN`].
    fn draining(&mut self, top: i64, groups: &[usize], now: Instant) -> bool {
        if !groups.iter().any(|&gi| self.groups[gi].pool.is_some()) {
            return false;
        }
        self.dispatch_events();
        let pending = groups.iter().any(|&gi| {
            let g = &self.groups[gi];
            let live = g.processes.iter().any(|p| {
                p.machine.state() == ProcessState::Running
                    && p.listener
                        .as_ref()
                        .is_some_and(|l| l.state != crate::events::listener::ListenerState::Unknown)
            });
            let held = g.pool.as_ref().is_some_and(|pool| !pool.queue.is_empty())
                || g.processes.iter().any(|p| p.listener_event.is_some());
            live && held
        });
        let since = match self.drain {
            Some((level, since)) if pending && level == top => since,
            _ if pending => {
                self.drain = Some((top, now));
                now
            }
            _ => {
                self.drain = None;
                return false;
            }
        };
        if now < since + LISTENER_DRAIN {
            return true;
        }
        self.drain = None; // waited long enough: stop them anyway
        false
    }

    /// Supervisor's `stop_all` for one group: descending priority; RUNNING
    /// and STARTING are stopped, BACKOFF gives up.
    pub fn stop_group(&mut self, gi: usize, now: Instant) {
        let mut order: Vec<usize> = (0..self.groups[gi].processes.len()).collect();
        order.sort_by_key(|&pi| std::cmp::Reverse(self.groups[gi].processes[pi].config.priority));
        for pi in order {
            match self.groups[gi].processes[pi].machine.state() {
                ProcessState::Running | ProcessState::Starting => {
                    self.drive(gi, pi, Input::Stop, now)
                }
                ProcessState::Backoff => self.drive(gi, pi, Input::GiveUp, now),
                _ => {}
            }
        }
    }

    fn handle_signals(&mut self, now: Instant) {
        for sig in self.signals.drain() {
            let name = crate::process::state::signal_name(sig);
            if panic_guard::injected_signal() == Some(sig) {
                panic!("injected panic on {name} ({})", panic_guard::INJECT_ENV);
            }
            if panic_guard::stall_signal() == Some(sig) {
                std::thread::sleep(panic_guard::STALL);
            }
            match sig {
                libc::SIGTERM | libc::SIGINT | libc::SIGQUIT => {
                    self.log.log(
                        LogLevel::Warn,
                        &format!("received {name} indicating exit request"),
                    );
                    self.begin_stop(Mood::Shutdown);
                }
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
                _ => self.log.log(
                    LogLevel::Blather,
                    &format!("received {name} indicating nothing"),
                ),
            }
        }
    }

    fn reopen_logs(&mut self) {
        // Supervisor's `reopenlogs`: this line still goes to the old file.
        self.log.log(LogLevel::Info, "supervisord logreopen");
        self.log.reopen();
        let mut failures = Vec::new();
        for g in &mut self.groups {
            for p in &mut g.processes {
                for ch in [Channel::Stdout, Channel::Stderr] {
                    if let Some(l) = p.log_for(ch)
                        && let Err(e) = l.reopen()
                    {
                        failures.push(format!(
                            "could not reopen {} log of '{}': {e}",
                            ch.name(),
                            p.config.name
                        ));
                    }
                }
            }
        }
        for f in failures {
            self.log.log(LogLevel::Error, &f);
        }
    }

    /// Move to SHUTDOWN or RESTARTING and announce it.
    pub(super) fn begin_stop(&mut self, mood: Mood) {
        let was_running = self.mood == Mood::Running;
        if self.mood == Mood::Shutdown {
            return;
        }
        self.mood = mood;
        self.drain = None;
        if mood == Mood::Shutdown {
            self.pending_reload = None;
        }
        if was_running {
            self.bus.publish(Event::supervisor_state(false));
        }
    }

    /// SIGHUP: validate the new config first; a broken one is refused and
    /// the running config stays (SPEC Part C).
    pub fn request_reload(&mut self) -> Result<(), Vec<crate::config::Diagnostic>> {
        let opts = crate::config::LoadOptions::from_process(self.args.overrides.clone(), true);
        match crate::config::load(&self.config_path, &opts) {
            Ok(loaded) => {
                self.pending_reload = Some(loaded);
                self.begin_stop(Mood::Restarting);
                Ok(())
            }
            Err(diags) => {
                self.log.log(
                    LogLevel::Critical,
                    &format!(
                        "not reloading: {} has errors; the running configuration is kept",
                        self.config_path.display()
                    ),
                );
                for d in &diags {
                    self.log.log(LogLevel::Critical, &d.to_string());
                }
                Err(diags)
            }
        }
    }

    /// Everything is stopped: swap in the new config and start again.
    fn apply_reload(&mut self) {
        let Some(Loaded {
            config,
            warnings,
            infos,
        }) = self.pending_reload.take()
        else {
            self.mood = Mood::Running;
            return;
        };
        self.groups.clear();
        self.any_pool = false;
        self.pids.clear();
        self.fcgi_sockets.clear();
        let sd = config.supervisord.clone();
        let servers_changed = config.unix_http_servers != self.config.unix_http_servers
            || config.inet_http_servers != self.config.inet_http_servers
            || config.health_server != self.config.health_server;
        let old_pidfile = self.config.supervisord.pidfile.clone();
        self.base_env = base_env(&config);
        self.serverurl = server_url(&config);
        self.config = config;
        if let Err(e) = self.log.open(
            &sd.logfile,
            sd.logfile_maxbytes,
            sd.logfile_backups,
            sd.loglevel,
            sd.nodaemon && !sd.silent,
        ) {
            eprintln!("could not reopen the main log: {e}");
        }
        warn_if_main_log_unrotatable(&mut self.log);
        for w in &warnings {
            self.log.log(LogLevel::Warn, &w.to_string());
        }
        for i in &infos {
            self.log.log(LogLevel::Info, i);
        }
        if servers_changed {
            self.stop_serving();
            self.listeners.clear();
            if let Err(e) = self.open_servers() {
                self.log.log(LogLevel::Critical, &e);
            }
            self.serve_listeners();
        }
        if old_pidfile != sd.pidfile {
            self.pidfile = None;
            match PidFile::lock(&sd.pidfile) {
                Ok(mut p) => {
                    if let Err(e) = p.write_pid() {
                        self.log.log(
                            LogLevel::Critical,
                            &format!("could not write pidfile {}: {e}", sd.pidfile.display()),
                        );
                    }
                    self.pidfile = Some(p);
                }
                Err(e) => self.log.log(LogLevel::Critical, &e),
            }
        }
        // Like every start of Supervisor's main(): the old processes' AUTO
        // logs go before the new ones are created.
        if !sd.nocleanup
            && let Err(e) = crate::logs::cleanup_auto_logs(&sd.childlogdir, &sd.identifier)
        {
            self.log.log(
                LogLevel::Warn,
                &format!(
                    "could not clean up AUTO child logs in {}: {e}",
                    sd.childlogdir.display()
                ),
            );
        }
        self.mood = Mood::Running;
        self.last_wait_report = None;
        self.add_configured_groups();
        self.log.log(
            LogLevel::Info,
            &format!("supervisord started with pid {}", std::process::id()),
        );
        self.bus.publish(Event::supervisor_state(true));
    }

    /// Collect the pollable fds: the signal pipe, then every child pipe.
    fn poll_set(
        &self,
        fds: &mut Vec<libc::pollfd>,
        owners: &mut Vec<(usize, usize, Option<Channel>)>,
    ) {
        fds.clear();
        owners.clear();
        fds.push(libc::pollfd {
            fd: self.signals.fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        // poll ignores a negative fd: no bridge, no wake-ups from it.
        fds.push(libc::pollfd {
            fd: self.bridge.as_ref().map_or(-1, |b| b.fd()),
            events: libc::POLLIN,
            revents: 0,
        });
        for (gi, g) in self.groups.iter().enumerate() {
            for (pi, p) in g.processes.iter().enumerate() {
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
                        owners.push((gi, pi, Some(ch)));
                    }
                }
                if let (Some(fd), false) = (p.stdin.as_ref(), p.stdin_buf.is_empty()) {
                    fds.push(libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    });
                    owners.push((gi, pi, None));
                }
            }
        }
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
        let mut owners: Vec<(usize, usize, Option<Channel>)> = Vec::new();
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

    /// One turn of the loop.
    fn turn(
        &mut self,
        fds: &mut Vec<libc::pollfd>,
        owners: &mut Vec<(usize, usize, Option<Channel>)>,
    ) -> Turn {
        let now = Instant::now();
        self.tick_due(now);
        if self.mood != Mood::Running && self.stop_phase(now) {
            match self.mood {
                Mood::Shutdown => return Turn::Exit,
                _ => {
                    self.apply_reload();
                    return Turn::Continue;
                }
            }
        }
        self.poll_waiters(now);
        let next_tick = self.tick_events();
        self.dispatch_events();

        let now = Instant::now();
        let deadline = match (self.next_deadline(now), next_tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = match deadline {
            None => -1,
            Some(d) if d <= now => 0,
            Some(d) => {
                let ms = d.duration_since(now).as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as i32
            }
        };
        self.poll_set(fds, owners);
        // SAFETY: poll(2) over a valid array.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        let now = Instant::now();
        if n > 0 {
            if fds[0].revents != 0 {
                self.handle_signals(now);
            }
            for (i, &(gi, pi, ch)) in owners.iter().enumerate() {
                if fds[i + 2].revents != 0
                    && gi < self.groups.len()
                    && pi < self.groups[gi].processes.len()
                {
                    match ch {
                        Some(ch) => self.read_output(gi, pi, ch, false),
                        None => {
                            if let Err(e) = self.flush_stdin(gi, pi) {
                                let name = self.groups[gi].processes[pi].config.name.clone();
                                self.log.log(
                                    LogLevel::Warn,
                                    &format!("could not write to the stdin of '{name}': {e}"),
                                );
                            }
                        }
                    }
                }
            }
            if fds[1].revents != 0 {
                self.handle_rpc(now);
            }
        }
        // Reap at the end of every turn, not only on SIGCHLD: a child that
        // exited is collected even if its signal's wake-up was consumed
        // elsewhere (or a panic cut the turn that had it).  When nothing
        // exited this is one waitpid call that returns 0.
        self.reap(Instant::now());
        Turn::Continue
    }

    /// After the loop: release sockets and pidfile, sweep as PID 1.
    fn finish(mut self) -> i32 {
        self.drain_in_flight(Duration::from_secs(1));
        self.stop_serving();
        self.log.log(LogLevel::Info, "supervisord exiting");
        self.listeners.clear();
        self.pidfile = None;
        let swept = pid1::final_sweep(PID1_SWEEP_GRACE);
        if swept > 0 {
            self.log.log(
                LogLevel::Info,
                &format!("reaped {swept} leftover processes at exit"),
            );
        }
        self.exit_code
    }
}
