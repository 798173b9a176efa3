//! Methods that report: process info (and the pre-encoded getAllProcessInfo),
//! config info.
use super::call::Call;
use crate::config::ChildLogTarget;
use crate::daemon::calls::{arg_str, bad, capped, epoch};
use crate::daemon::core::Supervisor;
use crate::daemon::groups::ProcId;
use crate::daemon::waiters::Outcome;
use crate::process::state::ProcessState;
use crate::process::{Channel, spawn};
use crate::rpc::{Value, faults};
use std::path::PathBuf;
use std::time::SystemTime;

/// getProcessInfo's fields for one process.
pub(in crate::daemon) struct InfoFields<'a> {
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
    /// Only for a program with a `readiness_check` (SPEC B1).
    ready: Option<bool>,
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

impl Supervisor {
    /// `getProcessInfo`'s struct.
    pub fn process_info(&self, id: ProcId) -> Value {
        let Some(f) = self.info_fields(id, epoch(Some(SystemTime::now()))) else {
            return Value::Struct(Vec::new());
        };
        let mut fields = vec![
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
        ];
        if let Some(ready) = f.ready {
            fields.push(("ready".into(), Value::Bool(ready)));
        }
        Value::Struct(fields)
    }

    /// The same struct as [`Supervisor::process_info`], written straight
    /// into a response body (no value tree: this is the hot RPC).
    pub(in crate::daemon) fn write_process_info(&self, id: ProcId, now: i64, out: &mut Vec<u8>) {
        use crate::rpc::codec::direct::*;
        let Some(f) = self.info_fields(id, now) else {
            return;
        };
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
        if let Some(ready) = f.ready {
            member_bool(out, "ready", ready);
        }
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

    pub(in crate::daemon) fn encode_all_process_info(&self, now: i64) -> Vec<u8> {
        use crate::rpc::codec::direct::*;
        let all = self.all_processes(true);
        let mut out = Vec::with_capacity(200 + all.len() * 900);
        response_start(&mut out);
        array_start(&mut out);
        for id in all {
            self.write_process_info(id, now, &mut out);
        }
        array_end(&mut out);
        response_end(&mut out);
        out
    }

    /// Everything getProcessInfo reports, borrowed where possible.
    pub(in crate::daemon) fn info_fields(&self, id: ProcId, now: i64) -> Option<InfoFields<'_>> {
        let (g, p) = self.groups.with_group(id)?;
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
        Some(InfoFields {
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
            ready: p.ready(),
        })
    }

    pub(in crate::daemon) fn all_config_info(&self) -> Value {
        let mut out: Vec<(String, Value)> = Vec::new();
        for g in &self.config.groups {
            let active = self.find_group(&g.name);
            for pc in &g.processes {
                let resolved = active
                    .and_then(|gid| self.groups.find_in(gid, &pc.name))
                    .and_then(|id| self.groups.proc(id));
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
}

pub(super) fn api_version(_: &mut Supervisor, _: &Call<'_>) -> Outcome {
    Ok(Value::from(crate::API_VERSION)).into()
}

pub(super) fn supervisor_version(_: &mut Supervisor, _: &Call<'_>) -> Outcome {
    Ok(Value::from(crate::SUPERVISOR_VERSION)).into()
}

pub(super) fn identification(s: &mut Supervisor, _: &Call<'_>) -> Outcome {
    Ok(Value::String(s.config.supervisord.identifier.clone())).into()
}

pub(super) fn state(s: &mut Supervisor, _: &Call<'_>) -> Outcome {
    Ok(Value::Struct(vec![
        ("statecode".into(), Value::Int(s.mood.code())),
        ("statename".into(), Value::String(s.mood.name().into())),
    ]))
    .into()
}

pub(super) fn pid(_: &mut Supervisor, _: &Call<'_>) -> Outcome {
    Ok(Value::Int(std::process::id() as i32)).into()
}

pub(super) fn process_info(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    arg_str(c.params, 0)
        .and_then(|n| match s.resolve(n)? {
            (_, Some(id)) => Ok(s.process_info(id)),
            _ => Err(bad(faults::BAD_NAME, n)),
        })
        .into()
}

pub(super) fn all_process_info(s: &mut Supervisor, _: &Call<'_>) -> Outcome {
    let all = s.all_processes(true);
    Ok(Value::Array(
        all.into_iter().map(|id| s.process_info(id)).collect(),
    ))
    .into()
}

pub(super) fn all_process_info_encoded(s: &mut Supervisor) -> std::sync::Arc<Vec<u8>> {
    s.all_process_info_body()
}

pub(super) fn all_config_info(s: &mut Supervisor, _: &Call<'_>) -> Outcome {
    Ok(s.all_config_info()).into()
}
