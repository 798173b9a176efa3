//! Groups: `[program:x]`, `[group:x]`, `[eventlistener:x]` and `[fcgi-program:x]` into `GroupConfig`s.
//!
//! Group membership and priorities, event listener pools (buffer, events,
//! result handler) and FastCGI sockets; the processes themselves come from
//! `process`.

use std::collections::HashSet;
use std::path::PathBuf;

use super::ctx::{ABSURD_BUFFER, At, Ctx, lookup_uid};
use super::process::ProcKind;
use crate::config::datatypes as dt;
use crate::config::expand::{Expansions, Val};
use crate::config::os;
use crate::config::source::Section;
use crate::config::types::*;

const DEFAULT_RESULT_HANDLER: &str = "supervisor.dispatchers:default_handler";

/// Event type names listeners may subscribe to (SPEC A10), abstract ones included.
pub const EVENT_TYPES: &[&str] = &[
    "EVENT",
    "PROCESS_STATE",
    "PROCESS_STATE_STOPPED",
    "PROCESS_STATE_EXITED",
    "PROCESS_STATE_STARTING",
    "PROCESS_STATE_STOPPING",
    "PROCESS_STATE_BACKOFF",
    "PROCESS_STATE_FATAL",
    "PROCESS_STATE_RUNNING",
    "PROCESS_STATE_UNKNOWN",
    "PROCESS_COMMUNICATION",
    "PROCESS_COMMUNICATION_STDOUT",
    "PROCESS_COMMUNICATION_STDERR",
    "PROCESS_LOG",
    "PROCESS_LOG_STDOUT",
    "PROCESS_LOG_STDERR",
    "REMOTE_COMMUNICATION",
    "SUPERVISOR_STATE_CHANGE",
    "SUPERVISOR_STATE_CHANGE_RUNNING",
    "SUPERVISOR_STATE_CHANGE_STOPPING",
    "TICK",
    "TICK_5",
    "TICK_60",
    "TICK_3600",
    "PROCESS_GROUP",
    "PROCESS_GROUP_ADDED",
    "PROCESS_GROUP_REMOVED",
];

const PROGRAM_KEYS: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "startsecs",
    "startretries",
    "autorestart",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
    // SPEC Part B.
    "exit_supervisor_on",
    "depends_on",
    "start_delay",
    "fatal_restart_delay",
    "capabilities",
    "log_prefix",
    "log_format",
    "readiness_check",
    "readiness_interval",
    "readiness_timeout",
    "liveness_check",
    "liveness_interval",
    "liveness_timeout",
    "liveness_failures",
];

const LISTENER_EXTRA: &[&str] = &["buffer_size", "events", "result_handler"];
const FCGI_EXTRA: &[&str] = &["socket", "socket_backlog", "socket_owner", "socket_mode"];
const GROUP_KEYS: &[&str] = &["programs", "priority"];

impl<'a> Ctx<'a> {
    pub fn groups(&mut self) -> Vec<GroupConfig> {
        let raw = self.raw;
        let mut groups: Vec<GroupConfig> = Vec::new();
        let mut exclude: HashSet<String> = HashSet::new();
        let mut exp = self.env_exp.clone();
        exp.insert("here".into(), Val::Str(self.here.clone()));
        let has = |name: &str| raw.section(name).is_some();

        for sec in raw.sections.iter().filter(|s| s.name.starts_with("group:")) {
            self.unknown_options(sec, &[GROUP_KEYS]);
            let suffix = sec.name.split_once(':').map_or("", |x| x.1);
            let name = match dt::process_or_group_name(suffix) {
                Ok(n) => n,
                Err(m) => {
                    self.error(Self::sec_at(sec), None, m);
                    continue;
                }
            };
            let programs = match self.get(sec, "programs", None, &exp) {
                Ok(Some(v)) => dt::list_of_strings(&v),
                Ok(None) => {
                    self.warn(
                        Self::sec_at(sec),
                        Some("programs"),
                        "the group has no programs= line: it is empty".into(),
                    );
                    Vec::new()
                }
                Err(()) => Vec::new(),
            };
            let priority = self
                .conv_noted(sec, "priority", "999", &exp, dt::integer_noted)
                .unwrap_or(999);
            let mut procs = Vec::new();
            for p in programs {
                let psec = format!("program:{p}");
                let fsec = format!("fcgi-program:{p}");
                let at = self.at(sec, "programs");
                let target = match (has(&psec), has(&fsec)) {
                    (false, false) => {
                        self.error(
                            at,
                            Some("programs"),
                            format!("[{}] names unknown program or fcgi-program {}", sec.name, p),
                        );
                        continue;
                    }
                    (true, true) => {
                        self.error(
                            at,
                            Some("programs"),
                            format!(
                                "[{}] name {} is ambiguous (exists as program and fcgi-program)",
                                sec.name, p
                            ),
                        );
                        continue;
                    }
                    (true, false) => psec,
                    (false, true) => fsec,
                };
                exclude.insert(target.clone());
                if let Some(tsec) = raw.section(&target) {
                    procs.extend(self.processes(tsec, &name, ProcKind::Program));
                }
            }
            procs.sort_by(|a, b| {
                a.priority
                    .cmp(&b.priority)
                    .then_with(|| a.name.cmp(&b.name))
            });
            groups.push(GroupConfig {
                name,
                priority,
                kind: GroupKind::Program,
                processes: procs,
            });
        }

        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("program:"))
        {
            self.unknown_options(sec, &[PROGRAM_KEYS]);
            if exclude.contains(&sec.name) {
                continue;
            }
            let suffix = sec.name.split_once(':').map_or("", |x| x.1);
            let Ok(name) = dt::process_or_group_name(suffix) else {
                // Reported by `processes`.
                let _ = self.processes(sec, suffix, ProcKind::Program);
                continue;
            };
            let priority = self
                .conv_noted(sec, "priority", "999", &exp, dt::integer_noted)
                .unwrap_or(999);
            let processes = self.processes(sec, &name, ProcKind::Program);
            groups.push(GroupConfig {
                name,
                priority,
                kind: GroupKind::Program,
                processes,
            });
        }

        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("eventlistener:"))
        {
            self.unknown_options(sec, &[PROGRAM_KEYS, LISTENER_EXTRA]);
            let name = sec.name.split_once(':').map_or("", |x| x.1).to_string();
            let priority = self
                .conv_noted(sec, "priority", "-1", &exp, dt::integer_noted)
                .unwrap_or(-1);
            let buffer_size = self
                .conv_noted(sec, "buffer_size", "10", &exp, |s| {
                    let (v, note) = dt::integer_noted(s)?;
                    if v < 1 {
                        return Err(format!(
                            "[{}] section sets invalid buffer_size ({v})",
                            sec.name
                        ));
                    }
                    Ok((usize::try_from(v).unwrap_or(usize::MAX), note))
                })
                .unwrap_or(10);
            let at = self.at(sec, "buffer_size");
            self.absurd(
                at,
                "buffer_size",
                "buffer_size",
                buffer_size as u64,
                ABSURD_BUFFER,
            );
            let result_handler =
                match self.get(sec, "result_handler", Some(DEFAULT_RESULT_HANDLER), &exp) {
                    Ok(Some(v)) => v,
                    _ => DEFAULT_RESULT_HANDLER.to_string(),
                };
            if result_handler != DEFAULT_RESULT_HANDLER {
                let at = self.at(sec, "result_handler");
                self.warn(
                    at,
                    Some("result_handler"),
                    format!("result_handler {result_handler} is a Python plug-in and cannot be loaded; the default handler is used"),
                );
            }
            let mut events: Vec<String> = Vec::new();
            let mut ok_events = true;
            if let Ok(Some(v)) = self.get(sec, "events", Some(""), &exp) {
                for e in dt::list_of_strings(&v) {
                    let up = e.to_uppercase();
                    if !events.contains(&up) {
                        events.push(up);
                    }
                }
            } else {
                ok_events = false;
            }
            if events.is_empty() && ok_events {
                self.error(
                    Self::sec_at(sec),
                    Some("events"),
                    format!("[{}] section requires an \"events\" line", sec.name),
                );
            }
            for e in &events {
                if !EVENT_TYPES.contains(&e.as_str()) {
                    let at = self.at(sec, "events");
                    self.error(
                        at,
                        Some("events"),
                        format!("Unknown event type {} in [{}] events", e, sec.name),
                    );
                }
            }
            if self.conv(sec, "redirect_stderr", "false", &exp, dt::boolean) == Some(true) {
                let at = self.at(sec, "redirect_stderr");
                self.error(
                    at,
                    Some("redirect_stderr"),
                    format!("[{}] section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol", sec.name),
                );
            }
            if sec.get("stdout_capture_maxbytes").is_some() {
                let at = self.at(sec, "stdout_capture_maxbytes");
                self.warn(at, Some("stdout_capture_maxbytes"), "stdout_capture_maxbytes is not used for eventlisteners (stdout is the protocol channel); ignored".into());
            }
            let processes = self.processes(sec, &name, ProcKind::Listener);
            groups.push(GroupConfig {
                name,
                priority,
                kind: GroupKind::EventListener {
                    events,
                    buffer_size,
                    result_handler,
                },
                processes,
            });
        }

        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("fcgi-program:"))
        {
            self.unknown_options(sec, &[PROGRAM_KEYS, FCGI_EXTRA]);
            if exclude.contains(&sec.name) {
                continue;
            }
            let suffix = sec.name.split_once(':').map_or("", |x| x.1);
            let Ok(name) = dt::process_or_group_name(suffix) else {
                let _ = self.processes(sec, suffix, ProcKind::Fcgi);
                continue;
            };
            let priority = self
                .conv_noted(sec, "priority", "999", &exp, dt::integer_noted)
                .unwrap_or(999);
            let socket = self.fcgi_socket(sec, &name, &exp);
            let backlog = self
                .conv(
                    sec,
                    "socket_backlog",
                    &libc::SOMAXCONN.to_string(),
                    &exp,
                    |s| match dt::integer(s) {
                        Ok(v) if (1..=65535).contains(&v) => {
                            u32::try_from(v).map_err(|e| e.to_string())
                        }
                        _ => Err(format!("Invalid socket_backlog value {s} (1 to 65535)")),
                    },
                )
                .unwrap_or(libc::SOMAXCONN as u32);
            let processes = self.processes(sec, &name, ProcKind::Fcgi);
            if let Some(socket) = socket {
                groups.push(GroupConfig {
                    name,
                    priority,
                    kind: GroupKind::Fcgi { socket, backlog },
                    processes,
                });
            }
        }

        for g in &mut groups {
            let mut seen: HashSet<String> = HashSet::new();
            let dups: Vec<String> = g
                .processes
                .iter()
                .filter(|p| !seen.insert(p.name.clone()))
                .map(|p| p.name.clone())
                .collect();
            for d in dups {
                self.warn(
                    At {
                        sec: None,
                        entry: None,
                    },
                    None,
                    format!(
                        "group '{}' has two processes named '{}'; only the last one is used",
                        g.name, d
                    ),
                );
                if let Some(pos) = g.processes.iter().position(|p| p.name == d) {
                    g.processes.remove(pos);
                }
            }
        }
        // Supervisor sorts groups (and processes) by priority, then name.
        groups.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        for g in groups {
            if seen.insert(g.name.clone()) {
                out.push(g);
            } else {
                self.warn(
                    At { sec: None, entry: None },
                    None,
                    format!("two sections define a process group named '{}'; only the first (by priority) is used", g.name),
                );
            }
        }
        out
    }

    fn fcgi_socket(
        &mut self,
        sec: &'a Section,
        name: &str,
        exp: &Expansions,
    ) -> Option<FcgiSocket> {
        let user = self.get(sec, "user", None, exp).ok().flatten();
        let owner = match self.get(sec, "socket_owner", None, exp) {
            Ok(Some(v)) => match dt::owner(&v) {
                Ok(o) => {
                    let at = self.at(sec, "socket_owner");
                    self.check_owner(at, "socket_owner", &o, "socket_owner");
                    Some(o)
                }
                Err(_) => {
                    let at = self.at(sec, "socket_owner");
                    self.error(
                        at,
                        Some("socket_owner"),
                        format!("Invalid socket_owner value {v}"),
                    );
                    None
                }
            },
            _ => None,
        };
        let mode = self.mode(sec, "socket_mode", exp);
        let mut sexp = exp.clone();
        sexp.insert("program_name".into(), Val::Str(name.to_string()));
        let sock = match self.get(sec, "socket", None, &sexp) {
            Ok(Some(s)) if !s.is_empty() => s,
            Ok(_) => {
                self.error(
                    Self::sec_at(sec),
                    Some("socket"),
                    format!("[{}] section requires a \"socket\" line", sec.name),
                );
                return None;
            }
            Err(()) => return None,
        };
        let at = self.at(sec, "socket");
        let fail = |me: &mut Self, why: String| {
            me.error(
                at,
                Some("socket"),
                format!("{why} in [{}] socket", sec.name),
            );
            None
        };
        if let Some(path) = sock.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return fail(
                    self,
                    format!("Unix socket path {path} is not an absolute path"),
                );
            }
            let path = dt::normalize_path(path, &self.cwd, self.home.as_deref());
            let owner = owner.or_else(|| {
                // Supervisor gives the socket to the program's user when it
                // differs from ours.
                let u = user.as_ref()?;
                let uid = lookup_uid(u).ok()?;
                if uid == os::uid() {
                    return None;
                }
                let pw = os::user_by_uid(uid)?;
                Some(Owner {
                    user: uid.to_string(),
                    group: Some(pw.gid.to_string()),
                })
            });
            return Some(FcgiSocket::Unix {
                path: PathBuf::from(path),
                owner,
                mode: mode.unwrap_or(0o700),
            });
        }
        if sec.get("socket_owner").is_some() || sec.get("socket_mode").is_some() {
            return fail(
                self,
                "socket_owner and socket_mode params should only be used with a Unix domain socket"
                    .into(),
            );
        }
        if let Some(rest) = sock.strip_prefix("tcp://")
            && let Some((host, port)) = rest.rsplit_once(':')
        {
            let host_ok =
                !host.is_empty() && !host.contains(':') && !host.chars().any(dt::py_isspace);
            let port_ok = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
            if host_ok && port_ok {
                return match port.parse::<u16>() {
                    Ok(p) => Some(FcgiSocket::Tcp {
                        host: host.to_string(),
                        port: p,
                    }),
                    Err(_) => fail(self, format!("port {port} is out of range (0 to 65535)")),
                };
            }
        }
        fail(self, format!("Bad socket format {sock}"))
    }
}
