//! Methods that act on processes: start, stop, signal, stdin.
use super::call::Call;
use crate::daemon::bridge::RpcResult;
use crate::daemon::calls::{arg_str, arg_wait, bad, incorrect, result_struct};
use crate::daemon::core::Supervisor;
use crate::daemon::groups::ProcId;
use crate::daemon::waiters::{self, Outcome, Pending};
use crate::events::Event;
use crate::process::spawn;
use crate::process::spawn::SpawnError;
use crate::process::state::{Input, ProcessState};
use crate::rpc::{Fault, Value, faults};
use std::time::Instant;

/// Start or stop one process: Ok(None) = done, Ok(Some) = wait.
type OnOne = fn(&mut Supervisor, ProcId, &str, bool, Instant) -> Result<Option<Pending>, Fault>;

impl Supervisor {
    pub(in crate::daemon) fn send_stdin(&mut self, p: &[Value]) -> RpcResult {
        let name = arg_str(p, 0)?.to_string();
        let chars = match p.get(1) {
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(Value::Base64(b)) => b.clone(),
            Some(other) => return Err(bad(faults::INCORRECT_PARAMETERS, other.py_str())),
            None => return Err(incorrect()),
        };
        let Ok((_, Some(id))) = self.resolve(&name) else {
            return Err(bad(faults::BAD_NAME, &name));
        };
        let proc_ = self
            .groups
            .proc_mut(id)
            .ok_or_else(|| bad(faults::BAD_NAME, &name))?;
        if proc_.machine.pid == 0 || proc_.machine.state() == ProcessState::Stopping {
            return Err(bad(faults::NOT_RUNNING, &name));
        }
        if proc_.stdin.is_none() {
            return Err(bad(faults::NO_FILE, &name));
        }
        proc_.stdin_buf.extend(chars);
        self.flush_stdin(id)
            .map_err(|_| bad(faults::NO_FILE, &name))?;
        Ok(Value::Bool(true))
    }

    pub(in crate::daemon) fn start_process(
        &mut self,
        spec: &str,
        wait: bool,
        now: Instant,
    ) -> Outcome {
        self.on_spec(spec, wait, now, Self::start_one, Self::start_many)
    }

    /// A namespec's process through `one`, or its whole group (`g:*`)
    /// through `many`.
    fn on_spec(
        &mut self,
        spec: &str,
        wait: bool,
        now: Instant,
        one: OnOne,
        many: fn(&mut Self, Vec<ProcId>, bool, Instant) -> Outcome,
    ) -> Outcome {
        match self.resolve(spec) {
            Ok((_, Some(id))) => Outcome::from_start(one(self, id, spec, wait, now)),
            Ok((gid, None)) => many(self, self.group_processes(gid), wait, now),
            Err(f) => Outcome::Done(Err(f)),
        }
    }

    /// startProcess on one process: Ok(None) = done, Ok(Some) = wait.
    pub(in crate::daemon) fn start_one(
        &mut self,
        id: ProcId,
        spec: &str,
        wait: bool,
        now: Instant,
    ) -> Result<Option<Pending>, Fault> {
        let daemon_path = self.daemon_path();
        let p = self
            .groups
            .proc(id)
            .ok_or_else(|| bad(faults::BAD_NAME, spec))?;
        let program_path = p
            .config
            .environment
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str());
        match spawn::resolve_command(&p.config.argv, program_path, daemon_path.as_deref()) {
            Err(SpawnError::NotFound(m)) => return Err(bad(faults::NO_FILE, m)),
            Err(SpawnError::NotExecutable(m)) | Err(SpawnError::Other(m)) => {
                return Err(bad(faults::NOT_EXECUTABLE, m));
            }
            Ok(_) => {}
        }
        match p.machine.state() {
            s if s.is_running() => return Err(bad(faults::ALREADY_STARTED, spec)),
            ProcessState::Unknown => {
                return Err(bad(
                    faults::FAILED,
                    format!("{spec} is in an unknown process state"),
                ));
            }
            _ => {}
        }
        let down = self.deps_down(&p.config);
        if !down.is_empty() {
            let msg = format!(
                "starting {spec} on request although its dependencies are not up: {} (depends_on)",
                down.join(", ")
            );
            self.log.log(crate::config::LogLevel::Warn, &msg);
        }
        self.drive(id, Input::Start, now);
        self.reap(now);
        if self
            .groups
            .proc(id)
            .is_some_and(|p| p.machine.spawnerr.is_some())
        {
            return Err(bad(faults::SPAWN_ERROR, spec));
        }
        let later = self.os.now();
        self.drive(id, Input::Tick { may_start: true }, later);
        if wait && self.state_of(id) != Some(ProcessState::Running) {
            let (group, name, since) = self.waiter_key(id);
            return Ok(Some(Pending::Start {
                group,
                name,
                namespec: spec.to_string(),
                since,
            }));
        }
        Ok(None)
    }

    pub(in crate::daemon) fn start_group(
        &mut self,
        name: &str,
        wait: bool,
        now: Instant,
    ) -> Outcome {
        let Some(gid) = self.find_group(name) else {
            return Outcome::Done(Err(bad(faults::BAD_NAME, name)));
        };
        self.start_many(self.group_processes(gid), wait, now)
    }

    pub(in crate::daemon) fn start_many(
        &mut self,
        list: Vec<ProcId>,
        wait: bool,
        now: Instant,
    ) -> Outcome {
        self.for_many(
            list,
            |s, id| s.state_of(id).is_some_and(|st| !st.is_running()),
            |s, id, spec| s.start_one(id, spec, wait, now),
            now,
        )
    }

    /// Supervisor's `make_allfunc`: apply `op` to every process that
    /// `wanted` selects; immediate results first, deferred ones as they
    /// complete.
    pub(in crate::daemon) fn for_many(
        &mut self,
        list: Vec<ProcId>,
        wanted: impl Fn(&Self, ProcId) -> bool,
        mut op: impl FnMut(&mut Self, ProcId, &str) -> Result<Option<Pending>, Fault>,
        now: Instant,
    ) -> Outcome {
        let mut results = Vec::new();
        let mut waiting = Vec::new();
        for id in list {
            if !wanted(self, id) {
                continue;
            }
            let spec = self.namespec(id);
            let (g, n) = self.names(id);
            match op(self, id, &spec) {
                Ok(None) => results.push(result_struct(&n, &g, faults::SUCCESS, "OK")),
                Ok(Some(p)) => waiting.push((g, n, p)),
                Err(f) => results.push(result_struct(&n, &g, f.code, &f.string)),
            }
        }
        let mut pending = Pending::All { waiting, results };
        match waiters::poll(self, &mut pending, now) {
            Some(r) => Outcome::Done(r),
            None => Outcome::Wait(pending),
        }
    }

    pub(in crate::daemon) fn stop_process(
        &mut self,
        spec: &str,
        wait: bool,
        now: Instant,
    ) -> Outcome {
        self.on_spec(spec, wait, now, Self::stop_one, Self::stop_many)
    }

    pub(in crate::daemon) fn stop_one(
        &mut self,
        id: ProcId,
        spec: &str,
        wait: bool,
        now: Instant,
    ) -> Result<Option<Pending>, Fault> {
        if !self.state_of(id).is_some_and(ProcessState::is_running) {
            self.hold_if_exited(id, now);
            return Err(bad(faults::NOT_RUNNING, spec));
        }
        self.drive(id, Input::Stop, now);
        if self.state_of(id) == Some(ProcessState::Unknown) {
            return Err(bad(
                faults::FAILED,
                format!("unknown problem killing {spec}"),
            ));
        }
        self.reap(now);
        if wait && !self.state_of(id).is_none_or(ProcessState::is_stopped) {
            let (group, name, since) = self.waiter_key(id);
            return Ok(Some(Pending::Stop { group, name, since }));
        }
        Ok(None)
    }

    /// What a deferred answer keeps to find its process again (its names)
    /// and the mark in its state trail at the time of the call.
    pub(in crate::daemon) fn waiter_key(&self, id: ProcId) -> (String, String, u64) {
        let (g, n) = self.names(id);
        let mark = self.groups.proc(id).map_or(0, |p| p.trail.mark());
        (g, n, mark)
    }

    pub(in crate::daemon) fn stop_group_rpc(
        &mut self,
        name: &str,
        wait: bool,
        now: Instant,
    ) -> Outcome {
        let Some(gid) = self.find_group(name) else {
            return Outcome::Done(Err(bad(faults::BAD_NAME, name)));
        };
        self.stop_many(self.group_processes(gid), wait, now)
    }

    /// A program caught between two runs of a crash loop (EXITED, its
    /// autorestart due) is not in Supervisor's RUNNING_STATES, so a stop
    /// skips it, and the restart would undo the stop: cancel that restart.
    /// Likewise a FATAL one's `fatal_restart_delay` retry.
    pub(in crate::daemon) fn hold_if_exited(&mut self, id: ProcId, now: Instant) {
        if let Some(ProcessState::Exited | ProcessState::Fatal) = self.state_of(id) {
            self.drive(id, Input::Stop, now);
        }
    }

    pub(in crate::daemon) fn stop_many(
        &mut self,
        list: Vec<ProcId>,
        wait: bool,
        now: Instant,
    ) -> Outcome {
        let outcome = self.for_many(
            list.clone(),
            |s, id| s.state_of(id).is_some_and(ProcessState::is_running),
            |s, id, spec| s.stop_one(id, spec, wait, now),
            now,
        );
        // After the stops, not before: each stop reaps, and a program that
        // exited on its own meanwhile is EXITED only now.
        for id in list {
            self.hold_if_exited(id, now);
        }
        outcome
    }

    pub(in crate::daemon) fn signal_one(
        &mut self,
        id: ProcId,
        spec: &str,
        sig: &Value,
    ) -> Result<(), Fault> {
        let signum = match sig {
            Value::String(s) => crate::config::datatypes::signal_number(s)
                .map_err(|_| bad(faults::BAD_SIGNAL, s))?,
            Value::Int(n) => crate::config::datatypes::signal_number(&n.to_string())
                .map_err(|_| bad(faults::BAD_SIGNAL, n))?,
            _ => return Err(incorrect()),
        };
        let p = self
            .groups
            .proc(id)
            .ok_or_else(|| bad(faults::BAD_NAME, spec))?;
        if !p.machine.state().is_signallable() {
            return Err(bad(faults::NOT_RUNNING, spec));
        }
        let pid = p.machine.pid;
        self.log.log(
            crate::config::LogLevel::Debug,
            &format!(
                "sending {} (pid {pid}) sig {}",
                p.config.name,
                crate::process::state::signal_name(signum)
            ),
        );
        if let Err(e) = self.os.kill(pid, signum)
            && e.raw_os_error() != Some(libc::ESRCH)
        {
            return Err(bad(
                faults::FAILED,
                format!("unknown problem sending sig {spec} ({pid}): {e}"),
            ));
        }
        Ok(())
    }

    pub(in crate::daemon) fn signal_process_rpc(&mut self, p: &[Value]) -> RpcResult {
        let spec = arg_str(p, 0)?.to_string();
        let sig = p.get(1).cloned().ok_or_else(incorrect)?;
        match self.resolve(&spec)? {
            (_, Some(id)) => self.signal_one(id, &spec, &sig).map(|()| Value::Bool(true)),
            (gid, None) => Ok(self.signal_many(&self.group_processes(gid), &sig)),
        }
    }

    pub(in crate::daemon) fn signal_group_rpc(&mut self, name: &str, sig: &Value) -> RpcResult {
        let gid = self
            .find_group(name)
            .ok_or_else(|| bad(faults::BAD_NAME, name))?;
        Ok(self.signal_many(&self.group_processes(gid), sig))
    }

    pub(in crate::daemon) fn signal_many(&mut self, list: &[ProcId], sig: &Value) -> Value {
        let mut results = Vec::new();
        for &id in list {
            if !self.state_of(id).is_some_and(ProcessState::is_signallable) {
                continue;
            }
            let spec = self.namespec(id);
            let (g, n) = self.names(id);
            results.push(match self.signal_one(id, &spec, sig) {
                Ok(()) => result_struct(&n, &g, faults::SUCCESS, "OK"),
                Err(f) => result_struct(&n, &g, f.code, &f.string),
            });
        }
        Value::Array(results)
    }
}

/// A process or group name argument, then what to do with it.
fn with_name(c: &Call<'_>, then: impl FnOnce(String) -> Outcome) -> Outcome {
    match arg_str(c.params, 0) {
        Ok(n) => then(n.to_string()),
        Err(f) => Outcome::Done(Err(f)),
    }
}

pub(super) fn start_process(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    with_name(c, |n| s.start_process(&n, arg_wait(c.params, 1), c.now))
}

pub(super) fn start_group(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    with_name(c, |n| s.start_group(&n, arg_wait(c.params, 1), c.now))
}

pub(super) fn start_all(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    let all = s.all_processes(false);
    s.start_many(all, arg_wait(c.params, 0), c.now)
}

pub(super) fn stop_process(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    with_name(c, |n| s.stop_process(&n, arg_wait(c.params, 1), c.now))
}

pub(super) fn stop_group(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    with_name(c, |n| s.stop_group_rpc(&n, arg_wait(c.params, 1), c.now))
}

pub(super) fn stop_all(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    let all = s.all_processes(false);
    s.stop_many(all, arg_wait(c.params, 0), c.now)
}

pub(super) fn signal_process(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    s.signal_process_rpc(c.params).into()
}

pub(super) fn signal_group(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    match (arg_str(c.params, 0), c.params.get(1)) {
        (Ok(n), Some(sig)) => {
            let n = n.to_string();
            s.signal_group_rpc(&n, sig).into()
        }
        _ => Outcome::Done(Err(incorrect())),
    }
}

pub(super) fn signal_all(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    match c.params.first() {
        Some(sig) => {
            let all = s.all_processes(false);
            Ok(s.signal_many(&all, sig)).into()
        }
        None => Outcome::Done(Err(incorrect())),
    }
}

pub(super) fn send_stdin(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    s.send_stdin(c.params).into()
}

pub(super) fn send_remote_comm_event(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    match (
        c.params.first().and_then(Value::as_str),
        c.params.get(1).and_then(Value::as_str),
    ) {
        (Some(t), Some(d)) => {
            s.bus.publish(Event::remote_communication(t, d));
            Ok(Value::Bool(true)).into()
        }
        _ => Outcome::Done(Err(incorrect())),
    }
}
