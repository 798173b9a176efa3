//! The XML-RPC methods, run on the loop thread against `Supervisor`.
//!
//! HTTP threads decode a call and send it here through [`LoopHandle`]; the
//! loop answers at once or parks a [`Pending`] (Supervisor's deferred
//! `NOT_DONE_YET` callbacks, as data) that is re-checked after every turn, so
//! `wait=true` never blocks the loop or other clients.

use super::supervisor::{Mood, Supervisor};
use crate::config::ChildLogTarget;
use crate::events::Event;
use crate::process::Channel;
use crate::process::spawn::{self, SpawnError};
use crate::process::state::{Input, ProcessState};
use crate::rpc::faults::{self, Fault};
use crate::rpc::{Value, methods};
use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant, SystemTime};

pub type RpcResult = Result<Value, Fault>;

/// Which log a log-tail request wants.
#[derive(Debug, Clone)]
pub enum LogWhat {
    Main,
    Process(String, Channel),
}

/// A message from an HTTP thread to the loop.
pub enum LoopMsg {
    Call {
        method: String,
        params: Vec<Value>,
        reply: Sender<Answer>,
    },
    /// Resolve a log file path for `/logtail` and `/mainlogtail`:
    /// Err(404) for an unknown name or a missing file.
    LogPath {
        what: LogWhat,
        reply: Sender<Option<PathBuf>>,
    },
    /// `/healthz`, `/readyz`, `/metrics`.
    Health {
        query: super::health::Query,
        reply: Sender<super::health::Answer>,
    },
}

/// The HTTP side's way into the loop: a channel plus a wake-up pipe.
#[derive(Clone)]
pub struct LoopHandle {
    tx: Sender<LoopMsg>,
    wake: Arc<OwnedFd>,
    /// Calls sent but not yet answered on the wire (shutdown waits for them).
    pub in_flight: Arc<AtomicUsize>,
}

impl LoopHandle {
    /// Send a message and wake the loop; false if the loop is gone.
    pub fn send(&self, msg: LoopMsg) -> bool {
        if self.tx.send(msg).is_err() {
            return false;
        }
        // A full pipe already means "wake up"; nothing else can go wrong here.
        let _ = nix::unistd::write(&*self.wake, b"x");
        true
    }
}

/// The loop's end of the bridge.
pub struct Bridge {
    rx: Receiver<LoopMsg>,
    wake_r: OwnedFd,
    pub handle: LoopHandle,
}

impl Bridge {
    pub fn new() -> std::io::Result<Bridge> {
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(std::io::Error::from)?;
        let (tx, rx) = std::sync::mpsc::channel();
        Ok(Bridge {
            rx,
            wake_r: r,
            handle: LoopHandle {
                tx,
                wake: Arc::new(w),
                in_flight: Arc::new(AtomicUsize::new(0)),
            },
        })
    }

    pub fn fd(&self) -> i32 {
        self.wake_r.as_raw_fd()
    }

    /// Empty the wake pipe and take every queued message.
    pub fn drain(&self) -> Vec<LoopMsg> {
        let mut buf = [0u8; 512];
        while let Ok(n) = nix::unistd::read(&self.wake_r, &mut buf) {
            if n < buf.len() {
                break;
            }
        }
        self.rx.try_iter().collect()
    }
}

/// getProcessInfo's fields for one process.
struct InfoFields<'a> {
    name: &'a str,
    group: &'a str,
    start: i32,
    stop: i32,
    now: i32,
    state: ProcessState,
    spawnerr: &'a str,
    exitstatus: i32,
    stdout_logfile: std::borrow::Cow<'a, str>,
    stderr_logfile: std::borrow::Cow<'a, str>,
    pid: i32,
    description: String,
}

/// What goes back to an HTTP thread: a result to encode there, or a
/// response body the loop already encoded (the hot path).
pub enum Answer {
    Result(RpcResult),
    Body(std::sync::Arc<Vec<u8>>),
}

/// A deferred answer (Supervisor's `onwait` / `allfunc` / `multi` callbacks).
#[derive(Debug)]
pub enum Pending {
    /// startProcess(wait=true): until RUNNING, or a fault.  `since` marks
    /// the process's state trail when the call was made.
    Start {
        group: String,
        name: String,
        namespec: String,
        since: u64,
    },
    /// stopProcess(wait=true): until a stopped state.
    Stop {
        group: String,
        name: String,
        since: u64,
    },
    /// start/stop of several processes: results in completion order.
    All {
        waiting: Vec<(String, String, Pending)>,
        results: Vec<Value>,
    },
    /// system.multicall: sequential, one deferred call at a time.
    Multi {
        remaining: VecDeque<Value>,
        current: Option<Box<Pending>>,
        results: Vec<Value>,
    },
}

/// What a method returns.
pub enum Outcome {
    Done(RpcResult),
    Wait(Pending),
}

impl From<RpcResult> for Outcome {
    fn from(r: RpcResult) -> Outcome {
        Outcome::Done(r)
    }
}

fn bad(code: i32, extra: impl std::fmt::Display) -> Fault {
    Fault::with(code, extra)
}

fn incorrect() -> Fault {
    Fault::new(faults::INCORRECT_PARAMETERS)
}

fn arg_str(params: &[Value], i: usize) -> Result<&str, Fault> {
    params.get(i).and_then(Value::as_str).ok_or_else(incorrect)
}

fn arg_int(params: &[Value], i: usize) -> Result<i64, Fault> {
    match params.get(i) {
        Some(Value::Int(n)) => Ok(i64::from(*n)),
        Some(Value::Bool(b)) => Ok(i64::from(*b)),
        Some(Value::String(s)) => s.trim().parse::<i64>().map_err(|_| incorrect()),
        _ => Err(incorrect()),
    }
}

/// `wait` arguments: Python truthiness, default true.
fn arg_wait(params: &[Value], i: usize) -> bool {
    params.get(i).is_none_or(Value::is_truthy)
}

/// Supervisor's `split_namespec`: `g:n`, `g:*` / `g:` (whole group), or `n`.
pub fn split_namespec(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(':') {
        Some((g, p)) if p.is_empty() || p == "*" => (g, None),
        Some((g, p)) => (g, Some(p)),
        None => (spec, Some(spec)),
    }
}

fn epoch(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn capped(i: i64) -> i32 {
    i.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Python's `str(datetime.timedelta(seconds=n))`.
pub fn timedelta(secs: i64) -> String {
    let secs = secs.max(0);
    let days = secs / 86400;
    let rest = secs % 86400;
    let hms = format!("{}:{:02}:{:02}", rest / 3600, (rest % 3600) / 60, rest % 60);
    match days {
        0 => hms,
        1 => format!("1 day, {hms}"),
        d => format!("{d} days, {hms}"),
    }
}

/// Supervisor's `readFile` offset/length rules.
pub fn read_file(path: &Path, offset: i64, length: i64) -> Result<Vec<u8>, Fault> {
    let failed = || Fault::new(faults::FAILED);
    let mut f = std::fs::File::open(path).map_err(|_| failed())?;
    let size = f.seek(SeekFrom::End(0)).map_err(|_| failed())? as i64;
    let (start, want) = if offset < 0 {
        if length != 0 {
            return Err(Fault::new(faults::BAD_ARGUMENTS));
        }
        // Saturating: `offset` may be any i64 a client sends (i64::MIN too).
        (size.saturating_add(offset).max(0), offset.saturating_neg())
    } else {
        if length < 0 {
            return Err(Fault::new(faults::BAD_ARGUMENTS));
        }
        (offset, if length == 0 { i64::MAX } else { length })
    };
    let want = want
        .min((size - start).max(0))
        .min(crate::http::MAX_BODY as i64);
    f.seek(SeekFrom::Start(start as u64))
        .map_err(|_| failed())?;
    let mut out = Vec::with_capacity(want as usize);
    f.take(want as u64)
        .read_to_end(&mut out)
        .map_err(|_| failed())?;
    Ok(out)
}

/// Supervisor's `tailFile`: `[bytes, offset, overflow]`.
pub fn tail_file(path: &Path, offset: i64, length: i64) -> Value {
    let attempt = || -> std::io::Result<Value> {
        let mut f = std::fs::File::open(path)?;
        let sz = f.seek(SeekFrom::End(0))? as i64;
        let (mut offset, mut length) = (offset, length);
        let mut overflow = false;
        if sz > offset.saturating_add(length) {
            overflow = true;
            offset = sz - 1;
        }
        if offset.saturating_add(length) > sz {
            if offset > sz - 1 {
                length = 0;
            }
            offset = sz - length;
        }
        offset = offset.max(0);
        length = length.clamp(0, crate::http::MAX_BODY as i64);
        let mut data = Vec::new();
        if length > 0 {
            f.seek(SeekFrom::Start(offset as u64))?;
            f.take(length as u64).read_to_end(&mut data)?;
        }
        Ok(Value::Array(vec![
            Value::String(String::from_utf8_lossy(&data).into_owned()),
            Value::int_capped(sz),
            Value::Bool(overflow),
        ]))
    };
    attempt().unwrap_or_else(|_| {
        Value::Array(vec![
            Value::String(String::new()),
            Value::int_capped(offset),
            Value::Bool(false),
        ])
    })
}

fn result_struct(name: &str, group: &str, status: i32, description: &str) -> Value {
    Value::Struct(vec![
        ("name".into(), Value::String(name.into())),
        ("group".into(), Value::String(group.into())),
        ("status".into(), Value::Int(status)),
        ("description".into(), Value::String(description.into())),
    ])
}

fn fault_struct(f: &Fault) -> Value {
    f.to_value()
}

impl Supervisor {
    pub(super) fn find_group(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.config.name == name)
    }

    pub(super) fn find_process(&self, group: &str, name: &str) -> Option<(usize, usize)> {
        let gi = self.find_group(group)?;
        let pi = self.groups[gi]
            .processes
            .iter()
            .position(|p| p.config.name == name)?;
        Some((gi, pi))
    }

    /// `_getGroupAndProcess`: the group, and the process unless the spec
    /// names the whole group.
    pub(super) fn resolve(&self, spec: &str) -> Result<(usize, Option<usize>), Fault> {
        let (g, p) = split_namespec(spec);
        let gi = self
            .find_group(g)
            .ok_or_else(|| bad(faults::BAD_NAME, spec))?;
        match p {
            None => Ok((gi, None)),
            Some(p) => match self.groups[gi]
                .processes
                .iter()
                .position(|x| x.config.name == p)
            {
                Some(pi) => Ok((gi, Some(pi))),
                None => Err(bad(faults::BAD_NAME, spec)),
            },
        }
    }

    pub(super) fn namespec(&self, gi: usize, pi: usize) -> String {
        let g = &self.groups[gi].config.name;
        let p = &self.groups[gi].processes[pi].config.name;
        if g == p {
            p.clone()
        } else {
            format!("{g}:{p}")
        }
    }

    /// Processes sorted like Supervisor's `_getAllProcesses`.
    fn all_processes(&self, lexical: bool) -> Vec<(usize, usize)> {
        let mut gis: Vec<usize> = (0..self.groups.len()).collect();
        if lexical {
            gis.sort_by(|&a, &b| self.groups[a].config.name.cmp(&self.groups[b].config.name));
        }
        let mut out = Vec::new();
        for gi in gis {
            let mut pis: Vec<usize> = (0..self.groups[gi].processes.len()).collect();
            if lexical {
                pis.sort_by(|&a, &b| {
                    self.groups[gi].processes[a]
                        .config
                        .name
                        .cmp(&self.groups[gi].processes[b].config.name)
                });
            }
            out.extend(pis.into_iter().map(|pi| (gi, pi)));
        }
        out
    }

    fn log_path(&self, gi: usize, pi: usize, ch: Channel) -> Option<PathBuf> {
        let p = &self.groups[gi].processes[pi];
        match ch {
            Channel::Stdout => p.stdout_logfile.clone(),
            Channel::Stderr => p.stderr_logfile.clone(),
        }
    }

    /// `getProcessInfo`'s struct.
    pub fn process_info(&self, gi: usize, pi: usize) -> Value {
        let f = self.info_fields(gi, pi, epoch(Some(SystemTime::now())));
        Value::Struct(vec![
            ("name".into(), Value::String(f.name.into())),
            ("group".into(), Value::String(f.group.into())),
            ("start".into(), Value::Int(f.start)),
            ("stop".into(), Value::Int(f.stop)),
            ("now".into(), Value::Int(f.now)),
            ("state".into(), Value::Int(f.state.code())),
            ("statename".into(), Value::String(f.state.name().into())),
            ("spawnerr".into(), Value::String(f.spawnerr.into())),
            ("exitstatus".into(), Value::Int(f.exitstatus)),
            (
                "logfile".into(),
                Value::String(f.stdout_logfile.to_string()),
            ),
            (
                "stdout_logfile".into(),
                Value::String(f.stdout_logfile.into_owned()),
            ),
            (
                "stderr_logfile".into(),
                Value::String(f.stderr_logfile.into_owned()),
            ),
            ("pid".into(), Value::Int(f.pid)),
            ("description".into(), Value::String(f.description)),
        ])
    }

    /// The same struct as [`Supervisor::process_info`], written straight
    /// into a response body (no value tree: this is the hot RPC).
    fn write_process_info(&self, gi: usize, pi: usize, now: i64, out: &mut Vec<u8>) {
        use crate::rpc::codec::direct::*;
        let f = self.info_fields(gi, pi, now);
        struct_start(out);
        member_str(out, "name", f.name);
        member_str(out, "group", f.group);
        member_int(out, "start", f.start);
        member_int(out, "stop", f.stop);
        member_int(out, "now", f.now);
        member_int(out, "state", f.state.code());
        member_str(out, "statename", f.state.name());
        member_str(out, "spawnerr", f.spawnerr);
        member_int(out, "exitstatus", f.exitstatus);
        member_str(out, "logfile", &f.stdout_logfile);
        member_str(out, "stdout_logfile", &f.stdout_logfile);
        member_str(out, "stderr_logfile", &f.stderr_logfile);
        member_int(out, "pid", f.pid);
        member_str(out, "description", &f.description);
        struct_end(out);
    }

    /// `getAllProcessInfo`, encoded directly, and reused while nothing
    /// changed: same state generation and the same second (uptimes and
    /// `now` have one-second resolution).
    pub fn all_process_info_body(&mut self) -> std::sync::Arc<Vec<u8>> {
        let now = epoch(Some(SystemTime::now()));
        if let Some((generation, at, body)) = &self.info_cache
            && *generation == self.state_generation
            && *at == now
        {
            return std::sync::Arc::clone(body);
        }
        let body = std::sync::Arc::new(self.encode_all_process_info(now));
        self.info_cache = Some((self.state_generation, now, std::sync::Arc::clone(&body)));
        body
    }

    fn encode_all_process_info(&self, now: i64) -> Vec<u8> {
        use crate::rpc::codec::direct::*;
        let all = self.all_processes(true);
        let mut out = Vec::with_capacity(200 + all.len() * 900);
        response_start(&mut out);
        array_start(&mut out);
        for (gi, pi) in all {
            self.write_process_info(gi, pi, now, &mut out);
        }
        array_end(&mut out);
        response_end(&mut out);
        out
    }

    /// Everything getProcessInfo reports, borrowed where possible.
    fn info_fields(&self, gi: usize, pi: usize, now: i64) -> InfoFields<'_> {
        let g = &self.groups[gi];
        let p = &g.processes[pi];
        let start = epoch(p.laststart_wall);
        let stop = epoch(p.laststop_wall);
        let state = p.machine.state();
        let spawnerr = p.machine.spawnerr.as_deref().unwrap_or("");
        fn path(x: &Option<PathBuf>) -> std::borrow::Cow<'_, str> {
            x.as_ref()
                .map(|x| x.to_string_lossy())
                .unwrap_or(std::borrow::Cow::Borrowed(""))
        }
        let description = match state {
            ProcessState::Running => {
                format!("pid {}, uptime {}", p.machine.pid, timedelta(now - start))
            }
            ProcessState::Fatal | ProcessState::Backoff => {
                if spawnerr.is_empty() {
                    format!("unknown error (try \"tail {}\")", p.config.name)
                } else {
                    spawnerr.to_string()
                }
            }
            ProcessState::Stopped | ProcessState::Exited => {
                if start != 0 {
                    crate::logs::strftime_local("%b %d %I:%M %p", stop)
                } else {
                    "Not started".to_string()
                }
            }
            _ => String::new(),
        };
        InfoFields {
            name: &p.config.name,
            group: &g.config.name,
            start: capped(start),
            stop: capped(stop),
            now: capped(now),
            state,
            spawnerr,
            exitstatus: p.machine.exitstatus.unwrap_or(0),
            stdout_logfile: path(&p.stdout_logfile),
            stderr_logfile: path(&p.stderr_logfile),
            pid: p.machine.pid,
            description,
        }
    }

    /// Run one call (top level or inside multicall).
    pub fn dispatch(&mut self, method: &str, params: &[Value], now: Instant) -> Outcome {
        let Some(info) = methods::lookup(method) else {
            return Outcome::Done(Err(Fault::new(faults::UNKNOWN_METHOD)));
        };
        if params.len() < info.min_args || params.len() > info.max_args {
            return Outcome::Done(Err(incorrect()));
        }
        if self.log.enabled(crate::config::LogLevel::Trace) {
            self.log.log(
                crate::config::LogLevel::Trace,
                &format!("XML-RPC method called: {method}()"),
            );
        }
        if method.starts_with("supervisor.")
            && method != "supervisor.sendRemoteCommEvent"
            && self.mood != Mood::Running
        {
            return Outcome::Done(Err(Fault::new(faults::SHUTDOWN_STATE)));
        }
        let p = params;
        match method {
            "system.listMethods" => {
                Ok(Value::array(methods::METHODS.iter().map(|m| m.name))).into()
            }
            "system.methodHelp" => arg_str(p, 0)
                .and_then(|n| {
                    methods::lookup(n)
                        .map(|m| Value::from(m.help))
                        .ok_or_else(|| Fault::new(faults::SIGNATURE_UNSUPPORTED))
                })
                .into(),
            "system.methodSignature" => arg_str(p, 0)
                .and_then(|n| {
                    methods::lookup(n)
                        .and_then(methods::signature)
                        .map(Value::array)
                        .ok_or_else(|| Fault::new(faults::SIGNATURE_UNSUPPORTED))
                })
                .into(),
            "system.multicall" => match p.first().and_then(Value::as_array) {
                Some(calls) => {
                    let mut pending = Pending::Multi {
                        remaining: calls.iter().cloned().collect(),
                        current: None,
                        results: Vec::new(),
                    };
                    match self.poll_pending(&mut pending, now) {
                        Some(r) => Outcome::Done(r),
                        None => Outcome::Wait(pending),
                    }
                }
                None => Outcome::Done(Err(incorrect())),
            },
            "supervisor.getAPIVersion" | "supervisor.getVersion" => {
                Ok(Value::from(crate::API_VERSION)).into()
            }
            "supervisor.getSupervisorVersion" => Ok(Value::from(crate::SUPERVISOR_VERSION)).into(),
            "supervisor.getIdentification" => {
                Ok(Value::String(self.config.supervisord.identifier.clone())).into()
            }
            "supervisor.getState" => Ok(Value::Struct(vec![
                ("statecode".into(), Value::Int(self.mood.code())),
                ("statename".into(), Value::String(self.mood.name().into())),
            ]))
            .into(),
            "supervisor.getPID" => Ok(Value::Int(std::process::id() as i32)).into(),
            "supervisor.readLog" | "supervisor.readMainLog" => self.read_main_log(p).into(),
            "supervisor.clearLog" => self.clear_main_log().into(),
            "supervisor.shutdown" => {
                self.log.log(
                    crate::config::LogLevel::Info,
                    "shutdown requested over XML-RPC",
                );
                self.request_shutdown();
                Ok(Value::Bool(true)).into()
            }
            "supervisor.restart" => match self.request_reload() {
                Ok(()) => Ok(Value::Bool(true)).into(),
                Err(diags) => Err(bad(
                    faults::CANT_REREAD,
                    diags.first().map(|d| d.to_string()).unwrap_or_default(),
                ))
                .into(),
            },
            "supervisor.reloadConfig" => self.reload_config().into(),
            "supervisor.addProcessGroup" => arg_str(p, 0)
                .map(str::to_string)
                .and_then(|n| self.add_process_group(&n))
                .into(),
            "supervisor.removeProcessGroup" => arg_str(p, 0)
                .map(str::to_string)
                .and_then(|n| self.remove_process_group(&n))
                .into(),
            "supervisor.startProcess" => match arg_str(p, 0) {
                Ok(n) => {
                    let n = n.to_string();
                    self.start_process(&n, arg_wait(p, 1), now)
                }
                Err(f) => Outcome::Done(Err(f)),
            },
            "supervisor.startProcessGroup" => match arg_str(p, 0) {
                Ok(n) => {
                    let n = n.to_string();
                    self.start_group(&n, arg_wait(p, 1), now)
                }
                Err(f) => Outcome::Done(Err(f)),
            },
            "supervisor.startAllProcesses" => {
                let all = self.all_processes(false);
                self.start_many(all, arg_wait(p, 0), now)
            }
            "supervisor.stopProcess" => match arg_str(p, 0) {
                Ok(n) => {
                    let n = n.to_string();
                    self.stop_process(&n, arg_wait(p, 1), now)
                }
                Err(f) => Outcome::Done(Err(f)),
            },
            "supervisor.stopProcessGroup" => match arg_str(p, 0) {
                Ok(n) => {
                    let n = n.to_string();
                    self.stop_group_rpc(&n, arg_wait(p, 1), now)
                }
                Err(f) => Outcome::Done(Err(f)),
            },
            "supervisor.stopAllProcesses" => {
                let all = self.all_processes(false);
                self.stop_many(all, arg_wait(p, 0), now)
            }
            "supervisor.signalProcess" => self.signal_process_rpc(p).into(),
            "supervisor.signalProcessGroup" => match (arg_str(p, 0), p.get(1)) {
                (Ok(n), Some(sig)) => {
                    let n = n.to_string();
                    let sig = sig.clone();
                    self.signal_group_rpc(&n, &sig).into()
                }
                _ => Outcome::Done(Err(incorrect())),
            },
            "supervisor.signalAllProcesses" => match p.first() {
                Some(sig) => {
                    let sig = sig.clone();
                    let all = self.all_processes(false);
                    Ok(self.signal_many(&all, &sig)).into()
                }
                None => Outcome::Done(Err(incorrect())),
            },
            "supervisor.getAllConfigInfo" => Ok(self.all_config_info()).into(),
            "supervisor.getProcessInfo" => arg_str(p, 0)
                .and_then(|n| match self.resolve(n)? {
                    (gi, Some(pi)) => Ok(self.process_info(gi, pi)),
                    _ => Err(bad(faults::BAD_NAME, n)),
                })
                .into(),
            "supervisor.getAllProcessInfo" => {
                let all = self.all_processes(true);
                Ok(Value::Array(
                    all.into_iter()
                        .map(|(gi, pi)| self.process_info(gi, pi))
                        .collect(),
                ))
                .into()
            }
            "supervisor.readProcessStdoutLog" | "supervisor.readProcessLog" => {
                self.read_process_log(p, Channel::Stdout).into()
            }
            "supervisor.readProcessStderrLog" => self.read_process_log(p, Channel::Stderr).into(),
            "supervisor.tailProcessStdoutLog" | "supervisor.tailProcessLog" => {
                self.tail_process_log(p, Channel::Stdout).into()
            }
            "supervisor.tailProcessStderrLog" => self.tail_process_log(p, Channel::Stderr).into(),
            "supervisor.clearProcessLogs" | "supervisor.clearProcessLog" => arg_str(p, 0)
                .and_then(|n| match self.resolve(n)? {
                    (gi, Some(pi)) => self.clear_process_logs(gi, pi).map(|()| Value::Bool(true)),
                    _ => Err(bad(faults::BAD_NAME, n)),
                })
                .into(),
            "supervisor.clearAllProcessLogs" => {
                let mut results = Vec::new();
                for (gi, pi) in self.all_processes(false) {
                    let (name, group) = (
                        self.groups[gi].processes[pi].config.name.clone(),
                        self.groups[gi].config.name.clone(),
                    );
                    let r = self.clear_process_logs(gi, pi);
                    results.push(match r {
                        Ok(()) => result_struct(&name, &group, faults::SUCCESS, "OK"),
                        Err(f) => result_struct(&name, &group, f.code, &f.string),
                    });
                }
                Ok(Value::Array(results)).into()
            }
            "supervisor.sendProcessStdin" => self.send_stdin(p).into(),
            "supervisor.sendRemoteCommEvent" => match (
                p.first().and_then(Value::as_str),
                p.get(1).and_then(Value::as_str),
            ) {
                (Some(t), Some(d)) => {
                    self.bus.publish(Event::remote_communication(t, d));
                    Ok(Value::Bool(true)).into()
                }
                _ => Outcome::Done(Err(incorrect())),
            },
            _ => Outcome::Done(Err(Fault::new(faults::UNKNOWN_METHOD))),
        }
    }

    fn read_main_log(&self, p: &[Value]) -> RpcResult {
        let (offset, length) = (arg_int(p, 0)?, arg_int(p, 1)?);
        let path = match self.log.path() {
            Some(x) if x.exists() => x.to_path_buf(),
            other => {
                return Err(bad(
                    faults::NO_FILE,
                    other
                        .map(|x| x.display().to_string())
                        .unwrap_or_else(|| "None".into()),
                ));
            }
        };
        read_file(&path, offset, length)
            .map(|b| Value::String(String::from_utf8_lossy(&b).into_owned()))
    }

    fn clear_main_log(&mut self) -> RpcResult {
        match self.log.path() {
            Some(x) if x.exists() => {}
            _ => return Err(Fault::new(faults::NO_FILE)),
        }
        self.log.clear().map_err(|_| Fault::new(faults::FAILED))?;
        self.log
            .log(crate::config::LogLevel::Info, "reopening log file");
        Ok(Value::Bool(true))
    }

    fn read_process_log(&self, p: &[Value], ch: Channel) -> RpcResult {
        let name = arg_str(p, 0)?;
        let (offset, length) = (arg_int(p, 1)?, arg_int(p, 2)?);
        let (gi, pi) = match self.resolve(name)? {
            (gi, Some(pi)) => (gi, pi),
            _ => return Err(bad(faults::BAD_NAME, name)),
        };
        let path = match self.log_path(gi, pi, ch) {
            Some(x) if x.exists() => x,
            other => {
                return Err(bad(
                    faults::NO_FILE,
                    other
                        .map(|x| x.display().to_string())
                        .unwrap_or_else(|| "None".into()),
                ));
            }
        };
        read_file(&path, offset, length)
            .map(|b| Value::String(String::from_utf8_lossy(&b).into_owned()))
    }

    fn tail_process_log(&self, p: &[Value], ch: Channel) -> RpcResult {
        let name = arg_str(p, 0)?;
        let (offset, length) = (arg_int(p, 1)?, arg_int(p, 2)?);
        let (gi, pi) = match self.resolve(name)? {
            (gi, Some(pi)) => (gi, pi),
            _ => return Err(bad(faults::BAD_NAME, name)),
        };
        match self.log_path(gi, pi, ch) {
            Some(x) if x.exists() => Ok(tail_file(&x, offset, length)),
            _ => Ok(Value::Array(vec![
                Value::String(String::new()),
                Value::Int(0),
                Value::Bool(false),
            ])),
        }
    }

    fn clear_process_logs(&mut self, gi: usize, pi: usize) -> Result<(), Fault> {
        let name = self.groups[gi].processes[pi].config.name.clone();
        let strip = self.config.supervisord.strip_ansi;
        let p = &mut self.groups[gi].processes[pi];
        // Logs open at first spawn; a never-started process may have none yet.
        if p.ensure_logs(strip).is_err() {
            return Err(bad(faults::FAILED, &name));
        }
        for ch in [Channel::Stdout, Channel::Stderr] {
            if let Some(l) = p.log_for(ch) {
                l.clear().map_err(|_| bad(faults::FAILED, &name))?;
            }
        }
        Ok(())
    }

    fn send_stdin(&mut self, p: &[Value]) -> RpcResult {
        let name = arg_str(p, 0)?.to_string();
        let chars = match p.get(1) {
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(Value::Base64(b)) => b.clone(),
            Some(other) => return Err(bad(faults::INCORRECT_PARAMETERS, other.py_str())),
            None => return Err(incorrect()),
        };
        let (gi, pi) = match self.resolve(&name)? {
            (gi, Some(pi)) => (gi, pi),
            _ => return Err(bad(faults::BAD_NAME, &name)),
        };
        let proc_ = &mut self.groups[gi].processes[pi];
        if proc_.machine.pid == 0 || proc_.machine.state() == ProcessState::Stopping {
            return Err(bad(faults::NOT_RUNNING, &name));
        }
        if proc_.stdin.is_none() {
            return Err(bad(faults::NO_FILE, &name));
        }
        proc_.stdin_buf.extend(chars);
        self.flush_stdin(gi, pi)
            .map_err(|_| bad(faults::NO_FILE, &name))?;
        Ok(Value::Bool(true))
    }

    /// Write buffered stdin data without blocking; the rest waits for POLLOUT.
    pub(super) fn flush_stdin(&mut self, gi: usize, pi: usize) -> std::io::Result<()> {
        let p = &mut self.groups[gi].processes[pi];
        let Some(fd) = p.stdin.as_ref() else {
            p.stdin_buf.clear();
            return Ok(());
        };
        while !p.stdin_buf.is_empty() {
            let (a, _) = p.stdin_buf.as_slices();
            match nix::unistd::write(fd, a) {
                Ok(n) => {
                    p.stdin_buf.drain(..n);
                }
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    p.stdin_buf.clear();
                    p.stdin = None;
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    fn all_config_info(&self) -> Value {
        let mut out: Vec<(String, Value)> = Vec::new();
        for g in &self.config.groups {
            let active = self.find_group(&g.name);
            for pc in &g.processes {
                let resolved = active.and_then(|gi| {
                    self.groups[gi]
                        .processes
                        .iter()
                        .find(|p| p.config.name == pc.name)
                });
                let logname = |t: &ChildLogTarget, ch: Channel| -> Value {
                    if let Some(p) = resolved {
                        let x = match ch {
                            Channel::Stdout => &p.stdout_logfile,
                            Channel::Stderr => &p.stderr_logfile,
                        };
                        return Value::String(
                            x.as_ref()
                                .map(|x| x.display().to_string())
                                .unwrap_or_else(|| "none".into()),
                        );
                    }
                    Value::String(match t {
                        ChildLogTarget::None => "none".into(),
                        ChildLogTarget::Auto => "auto".into(),
                        ChildLogTarget::File(x) => x.display().to_string(),
                    })
                };
                let stderr_target = if pc.redirect_stderr {
                    ChildLogTarget::None
                } else {
                    pc.stderr.logfile.clone()
                };
                let uid = match &pc.user {
                    None => Value::String("none".into()),
                    Some(u) => match spawn::resolve_user(u) {
                        Ok(s) => Value::Int(s.uid as i32),
                        Err(_) => Value::String(u.clone()),
                    },
                };
                let s =
                    |v: &Option<String>| Value::String(v.clone().unwrap_or_else(|| "none".into()));
                let d = Value::Struct(vec![
                    ("autostart".into(), Value::Bool(pc.autostart)),
                    (
                        "directory".into(),
                        s(&pc.directory.as_ref().map(|d| d.display().to_string())),
                    ),
                    ("uid".into(), uid),
                    ("command".into(), Value::String(pc.command.clone())),
                    (
                        "exitcodes".into(),
                        Value::array(pc.exitcodes.iter().copied()),
                    ),
                    ("group".into(), Value::String(g.name.clone())),
                    ("group_prio".into(), Value::int_capped(g.priority)),
                    ("inuse".into(), Value::Bool(active.is_some())),
                    ("killasgroup".into(), Value::Bool(pc.killasgroup)),
                    ("name".into(), Value::String(pc.name.clone())),
                    ("process_prio".into(), Value::int_capped(pc.priority)),
                    ("redirect_stderr".into(), Value::Bool(pc.redirect_stderr)),
                    (
                        "startretries".into(),
                        Value::int_capped(i64::from(pc.startretries)),
                    ),
                    ("startsecs".into(), Value::int_capped(pc.startsecs as i64)),
                    (
                        "stdout_capture_maxbytes".into(),
                        Value::int_capped(pc.stdout.capture_maxbytes as i64),
                    ),
                    (
                        "stdout_events_enabled".into(),
                        Value::Bool(pc.stdout.events_enabled),
                    ),
                    (
                        "stdout_logfile".into(),
                        logname(&pc.stdout.logfile, Channel::Stdout),
                    ),
                    (
                        "stdout_logfile_backups".into(),
                        Value::int_capped(i64::from(pc.stdout.backups)),
                    ),
                    (
                        "stdout_logfile_maxbytes".into(),
                        Value::int_capped(pc.stdout.maxbytes as i64),
                    ),
                    ("stdout_syslog".into(), Value::Bool(pc.stdout.syslog)),
                    ("stopsignal".into(), Value::Int(pc.stopsignal)),
                    (
                        "stopwaitsecs".into(),
                        Value::int_capped(pc.stopwaitsecs as i64),
                    ),
                    (
                        "stderr_capture_maxbytes".into(),
                        Value::int_capped(pc.stderr.capture_maxbytes as i64),
                    ),
                    (
                        "stderr_events_enabled".into(),
                        Value::Bool(pc.stderr.events_enabled),
                    ),
                    (
                        "stderr_logfile".into(),
                        logname(&stderr_target, Channel::Stderr),
                    ),
                    (
                        "stderr_logfile_backups".into(),
                        Value::int_capped(i64::from(pc.stderr.backups)),
                    ),
                    (
                        "stderr_logfile_maxbytes".into(),
                        Value::int_capped(pc.stderr.maxbytes as i64),
                    ),
                    ("stderr_syslog".into(), Value::Bool(pc.stderr.syslog)),
                    (
                        "serverurl".into(),
                        Value::String(pc.serverurl.clone().unwrap_or_else(|| "none".into())),
                    ),
                ]);
                out.push((pc.name.clone(), d));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Array(out.into_iter().map(|(_, v)| v).collect())
    }

    /// reloadConfig: re-read the file; the new group configs become the
    /// known ones (used by addProcessGroup); nothing running changes.
    fn reload_config(&mut self) -> RpcResult {
        let opts = crate::config::LoadOptions::from_process(self.args.overrides.clone(), true);
        let loaded = crate::config::load(&self.config_path, &opts).map_err(|diags| {
            let msg: Vec<String> = diags
                .iter()
                .filter(|d| d.severity == crate::config::Severity::Error)
                .map(|d| d.to_string())
                .collect();
            bad(faults::CANT_REREAD, msg.join("; "))
        })?;
        let new = loaded.config.groups;
        let mut added = Vec::new();
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        for g in &new {
            match self.groups.iter().find(|a| a.config.name == g.name) {
                None => added.push(Value::String(g.name.clone())),
                Some(a) if a.config != *g => changed.push(Value::String(g.name.clone())),
                _ => {}
            }
        }
        for a in &self.groups {
            if !new.iter().any(|g| g.name == a.config.name) {
                removed.push(Value::String(a.config.name.clone()));
            }
        }
        self.config.groups = new;
        Ok(Value::Array(vec![Value::Array(vec![
            Value::Array(added),
            Value::Array(changed),
            Value::Array(removed),
        ])]))
    }

    fn add_process_group(&mut self, name: &str) -> RpcResult {
        let Some(cfg) = self.config.groups.iter().find(|g| g.name == name).cloned() else {
            return Err(bad(faults::BAD_NAME, name));
        };
        if self.add_group(cfg) {
            Ok(Value::Bool(true))
        } else {
            Err(bad(faults::ALREADY_ADDED, name))
        }
    }

    fn remove_process_group(&mut self, name: &str) -> RpcResult {
        let gi = self
            .find_group(name)
            .ok_or_else(|| bad(faults::BAD_NAME, name))?;
        if self.groups[gi]
            .processes
            .iter()
            .any(|p| !p.machine.state().is_stopped())
        {
            return Err(bad(faults::STILL_RUNNING, name));
        }
        self.remove_group(gi);
        Ok(Value::Bool(true))
    }

    fn start_process(&mut self, spec: &str, wait: bool, now: Instant) -> Outcome {
        let (gi, pi) = match self.resolve(spec) {
            Ok((gi, Some(pi))) => (gi, pi),
            Ok((gi, None)) => {
                let name = self.groups[gi].config.name.clone();
                return self.start_group(&name, wait, now);
            }
            Err(f) => return Outcome::Done(Err(f)),
        };
        Outcome::from_start(self.start_one(gi, pi, spec, wait, now))
    }

    /// startProcess on one process: Ok(None) = done, Ok(Some) = wait.
    fn start_one(
        &mut self,
        gi: usize,
        pi: usize,
        spec: &str,
        wait: bool,
        now: Instant,
    ) -> Result<Option<Pending>, Fault> {
        let daemon_path = self.daemon_path();
        let p = &self.groups[gi].processes[pi];
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
        self.drive(gi, pi, Input::Start, now);
        self.reap(now);
        if self.groups[gi].processes[pi].machine.spawnerr.is_some() {
            return Err(bad(faults::SPAWN_ERROR, spec));
        }
        self.drive(gi, pi, Input::Tick { may_start: true }, Instant::now());
        let state = self.groups[gi].processes[pi].machine.state();
        if wait && state != ProcessState::Running {
            let (group, name, since) = self.waiter_key(gi, pi);
            return Ok(Some(Pending::Start {
                group,
                name,
                namespec: spec.to_string(),
                since,
            }));
        }
        Ok(None)
    }

    fn start_group(&mut self, name: &str, wait: bool, now: Instant) -> Outcome {
        let Some(gi) = self.find_group(name) else {
            return Outcome::Done(Err(bad(faults::BAD_NAME, name)));
        };
        let list = (0..self.groups[gi].processes.len())
            .map(|pi| (gi, pi))
            .collect();
        self.start_many(list, wait, now)
    }

    fn start_many(&mut self, list: Vec<(usize, usize)>, wait: bool, now: Instant) -> Outcome {
        self.for_many(
            list,
            |s, gi, pi| !s.groups[gi].processes[pi].machine.state().is_running(),
            |s, gi, pi, spec| s.start_one(gi, pi, spec, wait, now),
            now,
        )
    }

    /// Supervisor's `make_allfunc`: apply `op` to every process that
    /// `wanted` selects; immediate results first, deferred ones as they
    /// complete.
    fn for_many(
        &mut self,
        list: Vec<(usize, usize)>,
        wanted: impl Fn(&Self, usize, usize) -> bool,
        mut op: impl FnMut(&mut Self, usize, usize, &str) -> Result<Option<Pending>, Fault>,
        now: Instant,
    ) -> Outcome {
        let mut results = Vec::new();
        let mut waiting = Vec::new();
        for (gi, pi) in list {
            if !wanted(self, gi, pi) {
                continue;
            }
            let spec = self.namespec(gi, pi);
            let (g, n) = (
                self.groups[gi].config.name.clone(),
                self.groups[gi].processes[pi].config.name.clone(),
            );
            match op(self, gi, pi, &spec) {
                Ok(None) => results.push(result_struct(&n, &g, faults::SUCCESS, "OK")),
                Ok(Some(p)) => waiting.push((g, n, p)),
                Err(f) => results.push(result_struct(&n, &g, f.code, &f.string)),
            }
        }
        let mut pending = Pending::All { waiting, results };
        match self.poll_pending(&mut pending, now) {
            Some(r) => Outcome::Done(r),
            None => Outcome::Wait(pending),
        }
    }

    fn stop_process(&mut self, spec: &str, wait: bool, now: Instant) -> Outcome {
        let (gi, pi) = match self.resolve(spec) {
            Ok((gi, Some(pi))) => (gi, pi),
            Ok((gi, None)) => {
                let name = self.groups[gi].config.name.clone();
                return self.stop_group_rpc(&name, wait, now);
            }
            Err(f) => return Outcome::Done(Err(f)),
        };
        Outcome::from_start(self.stop_one(gi, pi, spec, wait, now))
    }

    fn stop_one(
        &mut self,
        gi: usize,
        pi: usize,
        spec: &str,
        wait: bool,
        now: Instant,
    ) -> Result<Option<Pending>, Fault> {
        if !self.groups[gi].processes[pi].machine.state().is_running() {
            self.hold_if_exited(gi, pi, now);
            return Err(bad(faults::NOT_RUNNING, spec));
        }
        self.drive(gi, pi, Input::Stop, now);
        if self.groups[gi].processes[pi].machine.state() == ProcessState::Unknown {
            return Err(bad(
                faults::FAILED,
                format!("unknown problem killing {spec}"),
            ));
        }
        self.reap(now);
        if wait && !self.groups[gi].processes[pi].machine.state().is_stopped() {
            let (group, name, since) = self.waiter_key(gi, pi);
            return Ok(Some(Pending::Stop { group, name, since }));
        }
        Ok(None)
    }

    /// What a deferred answer keeps to find its process again (by name:
    /// indices move when groups are added or removed) and the mark in its
    /// state trail at the time of the call.
    fn waiter_key(&self, gi: usize, pi: usize) -> (String, String, u64) {
        let g = &self.groups[gi];
        let p = &g.processes[pi];
        (g.config.name.clone(), p.config.name.clone(), p.trail.mark())
    }

    fn stop_group_rpc(&mut self, name: &str, wait: bool, now: Instant) -> Outcome {
        let Some(gi) = self.find_group(name) else {
            return Outcome::Done(Err(bad(faults::BAD_NAME, name)));
        };
        let list = (0..self.groups[gi].processes.len())
            .map(|pi| (gi, pi))
            .collect();
        self.stop_many(list, wait, now)
    }

    /// A program caught between two runs of a crash loop (EXITED, its
    /// autorestart due) is not in Supervisor's RUNNING_STATES, so a stop
    /// skips it, and the restart would undo the stop: cancel that restart.
    fn hold_if_exited(&mut self, gi: usize, pi: usize, now: Instant) {
        if self.groups[gi].processes[pi].machine.state() == ProcessState::Exited {
            self.drive(gi, pi, Input::Stop, now);
        }
    }

    fn stop_many(&mut self, list: Vec<(usize, usize)>, wait: bool, now: Instant) -> Outcome {
        let outcome = self.for_many(
            list.clone(),
            |s, gi, pi| s.groups[gi].processes[pi].machine.state().is_running(),
            |s, gi, pi, spec| s.stop_one(gi, pi, spec, wait, now),
            now,
        );
        // After the stops, not before: each stop reaps, and a program that
        // exited on its own meanwhile is EXITED only now.
        for (gi, pi) in list {
            self.hold_if_exited(gi, pi, now);
        }
        outcome
    }

    fn signal_one(&mut self, gi: usize, pi: usize, spec: &str, sig: &Value) -> Result<(), Fault> {
        let signum = match sig {
            Value::String(s) => crate::config::datatypes::signal_number(s)
                .map_err(|_| bad(faults::BAD_SIGNAL, s))?,
            Value::Int(n) => crate::config::datatypes::signal_number(&n.to_string())
                .map_err(|_| bad(faults::BAD_SIGNAL, n))?,
            _ => return Err(incorrect()),
        };
        let p = &self.groups[gi].processes[pi];
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
        // SAFETY: kill(2).
        if unsafe { libc::kill(pid, signum) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(bad(
                    faults::FAILED,
                    format!("unknown problem sending sig {spec} ({pid}): {e}"),
                ));
            }
        }
        Ok(())
    }

    fn signal_process_rpc(&mut self, p: &[Value]) -> RpcResult {
        let spec = arg_str(p, 0)?.to_string();
        let sig = p.get(1).cloned().ok_or_else(incorrect)?;
        match self.resolve(&spec)? {
            (gi, Some(pi)) => self
                .signal_one(gi, pi, &spec, &sig)
                .map(|()| Value::Bool(true)),
            (gi, None) => {
                let name = self.groups[gi].config.name.clone();
                self.signal_group_rpc(&name, &sig)
            }
        }
    }

    fn signal_group_rpc(&mut self, name: &str, sig: &Value) -> RpcResult {
        let gi = self
            .find_group(name)
            .ok_or_else(|| bad(faults::BAD_NAME, name))?;
        let list: Vec<(usize, usize)> = (0..self.groups[gi].processes.len())
            .map(|pi| (gi, pi))
            .collect();
        Ok(self.signal_many(&list, sig))
    }

    fn signal_many(&mut self, list: &[(usize, usize)], sig: &Value) -> Value {
        let mut results = Vec::new();
        for &(gi, pi) in list {
            if !self.groups[gi].processes[pi]
                .machine
                .state()
                .is_signallable()
            {
                continue;
            }
            let spec = self.namespec(gi, pi);
            let (g, n) = (
                self.groups[gi].config.name.clone(),
                self.groups[gi].processes[pi].config.name.clone(),
            );
            results.push(match self.signal_one(gi, pi, &spec, sig) {
                Ok(()) => result_struct(&n, &g, faults::SUCCESS, "OK"),
                Err(f) => result_struct(&n, &g, f.code, &f.string),
            });
        }
        Value::Array(results)
    }

    /// Re-check a deferred call; Some(answer) once it is done.
    pub fn poll_pending(&mut self, p: &mut Pending, now: Instant) -> Option<RpcResult> {
        match p {
            Pending::Start {
                group,
                name,
                namespec,
                since,
            } => {
                let Some((gi, pi)) = self.find_process(group, name) else {
                    return Some(Err(bad(faults::BAD_NAME, namespec.as_str())));
                };
                let p = &self.groups[gi].processes[pi];
                let abnormal = || Some(Err(bad(faults::ABNORMAL_TERMINATION, namespec.as_str())));
                // Supervisor looks at spawnerr first ("Exited too quickly"
                // sets it): SPAWN_ERROR.
                if p.machine.spawnerr.is_some() {
                    return Some(Err(bad(faults::SPAWN_ERROR, namespec.as_str())));
                }
                // Then the first state after STARTING decides, even if the
                // process has moved on since (stopped, restarted...).
                let (mut entered, complete) = p.trail.since(*since);
                if complete {
                    match entered.find(|&s| s != ProcessState::Starting) {
                        Some(ProcessState::Running) => return Some(Ok(Value::Bool(true))),
                        Some(_) => return abnormal(),
                        None => {}
                    }
                }
                match p.machine.state() {
                    ProcessState::Running => Some(Ok(Value::Bool(true))),
                    ProcessState::Starting => None,
                    _ => abnormal(),
                }
            }
            Pending::Stop { group, name, since } => match self.find_process(group, name) {
                Some((gi, pi)) => {
                    let p = &self.groups[gi].processes[pi];
                    let (mut entered, complete) = p.trail.since(*since);
                    // Done once it has been in a stopped state since the
                    // call, even if another client started it again.
                    if !complete
                        || entered.any(ProcessState::is_stopped)
                        || p.machine.state().is_stopped()
                    {
                        Some(Ok(Value::Bool(true)))
                    } else {
                        None
                    }
                }
                None => Some(Ok(Value::Bool(true))),
            },
            Pending::All { waiting, results } => {
                let mut i = 0;
                while i < waiting.len() {
                    let r = self.poll_pending(&mut waiting[i].2, now);
                    match r {
                        None => i += 1,
                        Some(r) => {
                            let (g, n, _) = waiting.remove(i);
                            results.push(match r {
                                Ok(_) => result_struct(&n, &g, faults::SUCCESS, "OK"),
                                Err(f) => result_struct(&n, &g, f.code, &f.string),
                            });
                        }
                    }
                }
                if waiting.is_empty() {
                    Some(Ok(Value::Array(std::mem::take(results))))
                } else {
                    None
                }
            }
            Pending::Multi {
                remaining,
                current,
                results,
            } => {
                if let Some(cur) = current.as_mut() {
                    match self.poll_pending(cur, now) {
                        None => return None,
                        Some(r) => {
                            results.push(r.unwrap_or_else(|f| fault_struct(&f)));
                            *current = None;
                        }
                    }
                }
                while let Some(call) = remaining.pop_front() {
                    let name = call
                        .get("methodName")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    let params: Vec<Value> = match call.get("params") {
                        None => Vec::new(),
                        Some(v) => match v.as_array() {
                            Some(a) => a.to_vec(),
                            None => {
                                results.push(fault_struct(&incorrect()));
                                continue;
                            }
                        },
                    };
                    let outcome = match name.as_deref() {
                        None => {
                            Outcome::Done(Err(bad(faults::INCORRECT_PARAMETERS, "No methodName")))
                        }
                        Some("system.multicall") => Outcome::Done(Err(bad(
                            faults::INCORRECT_PARAMETERS,
                            "Recursive system.multicall forbidden",
                        ))),
                        Some(m) => self.dispatch(m, &params, now),
                    };
                    match outcome {
                        Outcome::Done(r) => results.push(r.unwrap_or_else(|f| fault_struct(&f))),
                        Outcome::Wait(p) => {
                            *current = Some(Box::new(p));
                            return None;
                        }
                    }
                }
                Some(Ok(Value::Array(std::mem::take(results))))
            }
        }
    }

    /// A log path for `/logtail`; None for an unknown name or missing file.
    pub fn logtail_path(&self, what: &LogWhat) -> Option<PathBuf> {
        let path = match what {
            LogWhat::Main => self.log.path().map(Path::to_path_buf),
            LogWhat::Process(spec, ch) => match self.resolve(spec).ok()? {
                (gi, Some(pi)) => self.log_path(gi, pi, *ch),
                _ => None,
            },
        }?;
        path.exists().then_some(path)
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
                    reply,
                } if method == "supervisor.getAllProcessInfo"
                    && params.is_empty()
                    && self.mood == Mood::Running =>
                {
                    let _ = reply.send(Answer::Body(self.all_process_info_body()));
                }
                LoopMsg::Call {
                    method,
                    params,
                    reply,
                } => match self.dispatch(&method, &params, now) {
                    Outcome::Done(r) => {
                        let _ = reply.send(Answer::Result(r));
                    }
                    Outcome::Wait(p) => self.waiters.push((p, reply)),
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
    pub fn poll_waiters(&mut self, now: Instant) {
        if self.waiters.is_empty() {
            return;
        }
        let mut waiters = std::mem::take(&mut self.waiters);
        waiters.retain_mut(|(p, reply)| match self.poll_pending(p, now) {
            Some(r) => {
                let _ = reply.send(Answer::Result(r));
                false
            }
            None => true,
        });
        waiters.append(&mut self.waiters);
        self.waiters = waiters;
    }

    /// At exit, give HTTP threads a moment to put their answers on the wire
    /// (a `shutdown` call must get its `true`).
    pub fn drain_in_flight(&self, limit: Duration) {
        let Some(b) = &self.bridge else { return };
        let deadline = Instant::now() + limit;
        while b.handle.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Outcome {
    fn from_start(r: Result<Option<Pending>, Fault>) -> Outcome {
        match r {
            Ok(None) => Outcome::Done(Ok(Value::Bool(true))),
            Ok(Some(p)) => Outcome::Wait(p),
            Err(f) => Outcome::Done(Err(f)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_encoding_matches_the_value_encoding() {
        use crate::rpc::codec::direct::*;
        let mut out = Vec::new();
        response_start(&mut out);
        array_start(&mut out);
        struct_start(&mut out);
        member_str(&mut out, "name", "a<&>b");
        member_int(&mut out, "pid", -42);
        struct_end(&mut out);
        array_end(&mut out);
        response_end(&mut out);
        let v = Value::Array(vec![Value::Struct(vec![
            ("name".into(), Value::String("a<&>b".into())),
            ("pid".into(), Value::Int(-42)),
        ])]);
        assert_eq!(out, crate::rpc::codec::encode_response(&v));
    }

    #[test]
    fn namespecs() {
        assert_eq!(split_namespec("web"), ("web", Some("web")));
        assert_eq!(split_namespec("g:web"), ("g", Some("web")));
        assert_eq!(split_namespec("g:*"), ("g", None));
        assert_eq!(split_namespec("g:"), ("g", None));
    }

    #[test]
    fn timedelta_like_python() {
        assert_eq!(timedelta(62), "0:01:02");
        assert_eq!(timedelta(86400 + 3723), "1 day, 1:02:03");
        assert_eq!(timedelta(2 * 86400), "2 days, 0:00:00");
        assert_eq!(timedelta(-5), "0:00:00");
    }

    #[test]
    fn read_file_offsets_like_supervisor() {
        let d = tempfile::tempdir().expect("tmp");
        let f = d.path().join("l");
        std::fs::write(&f, b"0123456789").expect("write");
        assert_eq!(read_file(&f, 0, 0).ok(), Some(b"0123456789".to_vec()));
        assert_eq!(read_file(&f, 2, 3).ok(), Some(b"234".to_vec()));
        assert_eq!(read_file(&f, -4, 0).ok(), Some(b"6789".to_vec()));
        assert_eq!(read_file(&f, -40, 0).ok(), Some(b"0123456789".to_vec()));
        assert_eq!(read_file(&f, 20, 5).ok(), Some(Vec::new()));
        assert_eq!(
            read_file(&f, -4, 2).err().map(|e| e.code),
            Some(faults::BAD_ARGUMENTS)
        );
        assert_eq!(
            read_file(&f, 0, -2).err().map(|e| e.code),
            Some(faults::BAD_ARGUMENTS)
        );
        assert_eq!(
            read_file(&d.path().join("nope"), 0, 0)
                .err()
                .map(|e| e.code),
            Some(faults::FAILED)
        );
    }

    /// Regression: readLog(-2**63, 0) (an offset sent as a string) negated
    /// i64::MIN and panicked in the RPC handler.
    #[test]
    fn read_file_extreme_offsets() {
        let d = tempfile::tempdir().expect("tmp");
        let f = d.path().join("l");
        std::fs::write(&f, b"0123456789").expect("write");
        assert_eq!(
            read_file(&f, i64::MIN, 0).ok(),
            Some(b"0123456789".to_vec())
        );
        // Past the end: nothing, or FAILED when the seek itself is refused.
        assert!(!matches!(read_file(&f, i64::MAX, 0), Ok(v) if !v.is_empty()));
        assert_eq!(
            read_file(&f, 0, i64::MAX).ok(),
            Some(b"0123456789".to_vec())
        );
        assert!(read_file(&f, i64::MIN, i64::MIN).is_err());
        assert!(read_file(&f, 0, i64::MIN).is_err());
        for (o, l) in [
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
            (i64::MAX, i64::MAX),
        ] {
            assert!(matches!(tail_file(&f, o, l), Value::Array(_)));
        }
    }

    #[test]
    fn tail_file_like_supervisor() {
        let d = tempfile::tempdir().expect("tmp");
        let f = d.path().join("l");
        std::fs::write(&f, b"0123456789").expect("write");
        let t = |o, l| match tail_file(&f, o, l) {
            Value::Array(v) => (
                v[0].as_str().unwrap_or("").to_string(),
                v[1].as_int(),
                v[2].as_bool(),
            ),
            _ => (String::new(), None, None),
        };
        assert_eq!(t(0, 100), ("0123456789".into(), Some(10), Some(false)));
        assert_eq!(t(0, 4), ("6789".into(), Some(10), Some(true)));
        assert_eq!(t(10, 4), ("".into(), Some(10), Some(false)));
        assert_eq!(t(8, 4), ("6789".into(), Some(10), Some(false)));
        let missing = tail_file(&d.path().join("nope"), 5, 3);
        assert_eq!(missing.as_array().map(|a| a.len()), Some(3));
    }
}
