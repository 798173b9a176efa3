//! Process control: groups added and removed, the state machine driven,
//! children spawned, signalled and reaped, their environment.

use crate::config::{GroupConfig, LogLevel};
use crate::daemon::core::Supervisor;
use crate::daemon::env::set_env;
use crate::daemon::groups::{Group, GroupId, ProcId};
use crate::daemon::output::SPLICE_PIPE_SIZE;
use crate::daemon::sockets;
use crate::events::Event;
use crate::events::pool::PoolBuffer;
use crate::process::caps::CapsPlan;
use crate::process::spawn::{SpawnError, SpawnPlan};
use crate::process::state::{Effect, Input, ProcessState};
use crate::process::{Channel, Process, spawn};
use std::collections::HashSet;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Instant, SystemTime};

impl Supervisor {
    /// Remove a (stopped) group and announce it.
    pub(in crate::daemon) fn remove_group(&mut self, gid: GroupId) {
        let Some(g) = self.groups.remove(gid) else {
            return;
        };
        self.fcgi_sockets.remove(&g.config.name);
        self.rebuild_pid_index();
        self.bus
            .publish(Event::process_group(&g.config.name, false));
    }

    pub(in crate::daemon) fn add_configured_groups(&mut self) {
        let configs = self.config.groups.clone();
        for g in configs {
            self.add_group(g);
        }
    }

    /// Add a group (creating AUTO logs) and announce it.
    pub fn add_group(&mut self, config: GroupConfig) -> bool {
        if self.groups.find(&config.name).is_some() {
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
        self.groups.insert(Group {
            config,
            processes,
            pool,
        });
        self.rebuild_pid_index();
        self.bus.publish(Event::process_group(&name, true));
        true
    }

    /// The one emitter: every process state change becomes an event here.
    // The arguments are exactly the fields of `Effect::Changed`.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::daemon) fn emit_process_state(
        &mut self,
        id: ProcId,
        from: ProcessState,
        to: ProcessState,
        expected: bool,
        tries: u32,
        pid: i32,
    ) {
        self.state_generation += 1;
        let Some(g) = self.groups.get_mut(id.group) else {
            return;
        };
        let Some(p) = g.processes.get_mut(id.index()) else {
            return;
        };
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
        self.checks_on_state(id, to);
        self.exit_on(id, to, expected);
        if to == ProcessState::Fatal {
            self.report_held_dependents(id);
        }
    }

    /// Feed an input to one process and carry out the effects (and the
    /// inputs they produce) until it settles.
    pub fn drive(&mut self, id: ProcId, input: Input, now: Instant) {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let Some(p) = self.groups.proc_mut(id) else {
                return;
            };
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
                        if let Some(p) = self.groups.proc_mut(id) {
                            p.trail.push(to);
                        }
                        self.emit_process_state(id, from, to, expected, tries, pid)
                    }
                    Effect::Log(level, msg) => self.log.log(level, &msg),
                    Effect::Spawn => inputs.push_back(self.spawn_process(id)),
                    Effect::Kill { sig, group } => {
                        if let Some(i) = self.kill_process(id, sig, group) {
                            inputs.push_back(i);
                        }
                    }
                }
            }
        }
    }

    /// The child's environment: supervisord's, SUPERVISOR_*, then
    /// `[supervisord] environment`, then the program's.
    pub(in crate::daemon) fn child_env(&self, p: &Process) -> Vec<(OsString, OsString)> {
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

    pub(in crate::daemon) fn spawn_process(&mut self, id: ProcId) -> Input {
        match self.try_spawn(id) {
            Ok(pid) => Input::Spawned { pid },
            Err(e) => Input::SpawnFailed {
                msg: e.message().to_string(),
            },
        }
    }

    pub(in crate::daemon) fn try_spawn(&mut self, id: ProcId) -> Result<i32, SpawnError> {
        let gone = || SpawnError::Other("the process was removed".into());
        let strip_ansi = self.config.supervisord.strip_ansi;
        let env = self.child_env(self.groups.proc(id).ok_or_else(gone)?);
        let daemon_path = self
            .base_env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone());
        let max_fd = self.max_fd;
        let p = self.groups.proc_mut(id).ok_or_else(gone)?;
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
        plan.caps = CapsPlan::for_spawn(p.config.launch.capabilities);
        for w in warnings {
            self.log.log(LogLevel::Warn, &w);
        }
        let group = &self.groups.get(id.group).ok_or_else(gone)?.config;
        if let crate::config::GroupKind::Fcgi { socket, backlog } = &group.kind {
            let (socket, backlog) = (socket.clone(), *backlog);
            let gname = group.name.clone();
            plan.fd0 = Some(
                self.fcgi_socket(&gname, &socket, backlog)
                    .map_err(SpawnError::Other)?,
            );
        }
        let child = self.os.spawn(&plan, &name, max_fd)?;
        let p = self.groups.proc_mut(id).ok_or_else(gone)?;
        // Supervisor's laststart is the spawn's time; with start_delay the
        // STARTING event came earlier.
        p.laststart_wall = Some(SystemTime::now());
        p.stdin = child.stdin;
        p.stdout = Some(child.stdout);
        p.stderr = child.stderr;
        // A channel spliced into a plain file, or cut into lines, gets a
        // larger pipe: fewer wake-ups and larger splices or reads for chatty
        // programs.  Best effort (the kernel caps it at fs.pipe-max-size).
        for ch in [Channel::Stdout, Channel::Stderr] {
            let captured = p.capture.get(ch as usize).is_some_and(Option::is_some);
            let splices = p
                .log_for(ch)
                .is_some_and(|log| log.can_splice() || log.by_line());
            let pipe = match ch {
                Channel::Stdout => p.stdout.as_ref(),
                Channel::Stderr => p.stderr.as_ref(),
            };
            if let Some(pipe) = pipe
                && splices
                && !captured
            {
                let _ =
                    nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(SPLICE_PIPE_SIZE));
            }
        }
        if let Some(proto) = p.listener.as_mut() {
            proto.reset();
        }
        self.pids.insert(child.pid, id);
        Ok(child.pid)
    }

    /// The listening socket of an `[fcgi-program:x]` group, created on the
    /// first spawn and shared by all its processes (it becomes their fd 0).
    pub(in crate::daemon) fn fcgi_socket(
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
    pub(in crate::daemon) fn kill_process(
        &mut self,
        id: ProcId,
        sig: i32,
        group: bool,
    ) -> Option<Input> {
        let p = self.groups.proc(id)?;
        let pid = p.machine.pid;
        if pid <= 0 {
            return None;
        }
        let name = p.config.name.clone();
        let target = if group { -pid } else { pid };
        let err = self.os.kill(target, sig).err()?;
        if err.raw_os_error() == Some(libc::ESRCH) {
            let msg = format!(
                "unable to signal {name} (pid {pid}), it probably just exited on its own: {err}"
            );
            self.log.log(LogLevel::Debug, &msg);
            None
        } else {
            Some(Input::KillFailed {
                msg: err.to_string(),
            })
        }
    }

    /// Reap children: managed ones go through the state machine, orphans are logged.
    pub(in crate::daemon) fn reap(&mut self, now: Instant) {
        for (pid, info) in self.os.reap() {
            match self.pids.remove(&pid) {
                Some(id) => {
                    self.read_output(id, Channel::Stdout, true);
                    self.read_output(id, Channel::Stderr, true);
                    self.flush_capture(id);
                    if let Some(q) = self
                        .groups
                        .proc_mut(id)
                        .and_then(|p| p.listener_event.take())
                    {
                        self.requeue_event(id.group, q);
                    }
                    if let Some(p) = self.groups.proc_mut(id) {
                        p.stdin_buf.clear();
                        p.stdin = None;
                        p.stdout = None;
                        p.stderr = None;
                        p.laststop_wall = Some(SystemTime::now());
                        p.last_exit = Some(info.clone());
                    }
                    self.drive(id, Input::Exited(info), now);
                }
                None if self.check_reaped(pid, &info, now) => {}
                None => {
                    self.log.log(
                        LogLevel::Info,
                        &format!("reaped unknown pid {pid} ({})", info.msg),
                    );
                }
            }
        }
    }

    /// Supervisor's `stop_all` for one group: descending priority; RUNNING
    /// and STARTING are stopped, BACKOFF gives up.
    /// The processes in `held` are left out (`depends_on`).
    pub fn stop_group(&mut self, gid: GroupId, held: &HashSet<ProcId>, now: Instant) {
        let mut order = self.group_processes(gid);
        order.retain(|id| !held.contains(id));
        order.sort_by_key(|&id| {
            std::cmp::Reverse(self.groups.proc(id).map_or(0, |p| p.config.priority))
        });
        for id in order {
            match self.groups.proc(id).map(|p| p.machine.state()) {
                Some(ProcessState::Running | ProcessState::Starting) => {
                    self.drive(id, Input::Stop, now)
                }
                Some(ProcessState::Backoff) => self.drive(id, Input::GiveUp, now),
                _ => {}
            }
        }
    }
}
