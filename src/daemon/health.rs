//! Health endpoints for orchestrators (SPEC Part B, B1): `/healthz`,
//! `/readyz` and `/metrics`, served read-only and unauthenticated on the
//! `[health_server]` port, and behind auth on `[inet_http_server]`.
//!
//! Every answer is computed by the event loop (a `LoopMsg::Health`), and the
//! HTTP thread waits for it at most [`LOOP_DEADLINE`]: a wedged loop fails
//! `/healthz` with 503 instead of the process merely being alive.

use super::bridge::{HealthAnswer as Answer, HealthQuery as Query, LoopHandle, LoopMsg};
use super::core::Supervisor;
use crate::daemon::groups::ProcId;
use crate::http::{self, Reply, Request, Response};
use crate::process::Process;
use crate::process::state::ProcessState;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, SystemTime};

/// How long an HTTP thread waits for the loop's answer (Kubernetes probes
/// time out after 1 s by default).
pub const LOOP_DEADLINE: Duration = Duration::from_millis(900);

const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// The handler of the `[health_server]` port: these three paths, nothing
/// else (no RPC, no logs, no web UI).
pub fn handler(handle: LoopHandle) -> http::Handler {
    Arc::new(move |req: Request| match route(&handle, &req) {
        Some(reply) => reply,
        None => Reply::Full(Response::error(404)),
    })
}

/// Answer `req` if it is one of the three paths; None for any other path.
pub fn route(handle: &LoopHandle, req: &Request) -> Option<Reply> {
    let query = match req.path() {
        "/healthz" => Query::Healthz,
        "/readyz" => Query::Readyz(program_param(&req.target)),
        "/metrics" => Query::Metrics,
        _ => return None,
    };
    if req.method != "GET" && req.method != "HEAD" {
        return Some(Reply::Full(
            Response::error(405).with_header("Allow", "GET, HEAD"),
        ));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    if !handle.send(LoopMsg::Health { query, reply: tx }) {
        return Some(text(503, "the event loop is gone\n".into()));
    }
    let reply = match rx.recv_timeout(LOOP_DEADLINE) {
        Ok((status, body)) if req.path() == "/metrics" && status == 200 => {
            Reply::Full(Response::new(200, PROMETHEUS, body.into_bytes()))
        }
        Ok((status, body)) => text(status, body),
        Err(RecvTimeoutError::Timeout) => text(
            503,
            format!(
                "the event loop did not answer within {} ms\n",
                LOOP_DEADLINE.as_millis()
            ),
        ),
        Err(RecvTimeoutError::Disconnected) => text(503, "the event loop is gone\n".into()),
    };
    Some(reply)
}

fn text(status: u16, body: String) -> Reply {
    Reply::Full(Response::new(status, TEXT, body.into_bytes()))
}

/// The value of `program=` in the query string, decoded (`+` is a space).
fn program_param(target: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == "program").then(|| crate::http::url::percent_decode(&v.replace('+', " ")))
    })
}

/// Ready: RUNNING (and its readiness check passed, if it has one), or a
/// one-shot that EXITED with an expected code.
fn is_ready(p: &Process) -> bool {
    match p.machine.state() {
        ProcessState::Running => p.ready().unwrap_or(true),
        ProcessState::Exited => p
            .machine
            .exitstatus
            .is_some_and(|c| p.config.exitcodes.contains(&c)),
        _ => false,
    }
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn unix_secs(t: Option<SystemTime>) -> f64 {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Supervisor {
    /// Answer a health query (runs on the loop).
    pub(super) fn health_answer(&self, q: &Query) -> Answer {
        match q {
            Query::Healthz => (200, "ok\n".into()),
            Query::Readyz(programs) => self.readyz(programs.as_deref()),
            Query::Metrics => (200, self.metrics()),
        }
    }

    fn readyz(&self, programs: Option<&str>) -> Answer {
        let mut selected: Vec<ProcId> = Vec::new();
        match programs {
            None => {
                for (id, p) in self.groups.processes() {
                    let pool = self.groups.get(id.group).is_some_and(|g| g.pool.is_some());
                    if !pool && p.config.autostart {
                        selected.push(id);
                    }
                }
            }
            Some(list) => {
                // supervisorctl's namespecs, resolved as the RPC does.
                for spec in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match self.resolve(spec) {
                        Ok((_, Some(id))) => selected.push(id),
                        Ok((gid, None)) => selected.extend(self.group_processes(gid)),
                        Err(_) => return (404, format!("no such program: {spec}\n")),
                    }
                }
            }
        }
        let not_ready: Vec<String> = selected
            .iter()
            .filter_map(|&id| {
                let p = self.groups.proc(id)?;
                let check =
                    if p.machine.state() == ProcessState::Running && p.ready() == Some(false) {
                        " (readiness check not passing)"
                    } else {
                        ""
                    };
                (!is_ready(p))
                    .then(|| format!("{} {}{check}", self.namespec(id), p.machine.state().name()))
            })
            .collect();
        if not_ready.is_empty() {
            (200, format!("ready ({} programs)\n", selected.len()))
        } else {
            (503, format!("not ready: {}\n", not_ready.join(", ")))
        }
    }

    fn metrics(&self) -> String {
        let mut out = String::with_capacity(256 + 600 * self.process_count());
        let uptime = self.started_at.elapsed().as_secs_f64();
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut out,
            "supervisord_up",
            "gauge",
            "1 while the daemon's event loop answers.",
        );
        out.push_str("supervisord_up 1\n");
        head(
            &mut out,
            "supervisord_uptime_seconds",
            "gauge",
            "Seconds since the daemon started.",
        );
        let _ = writeln!(out, "supervisord_uptime_seconds {uptime:.3}");
        head(
            &mut out,
            "supervisord_processes",
            "gauge",
            "Number of processes configured.",
        );
        let _ = writeln!(out, "supervisord_processes {}", self.process_count());
        type Row = fn(&Process) -> String;
        let families: [(&str, &str, &str, Row); 5] = [
            (
                "supervisord_process_state",
                "gauge",
                "Process state code (STOPPED 0, STARTING 10, RUNNING 20, BACKOFF 30, STOPPING 40, EXITED 100, FATAL 200, UNKNOWN 1000).",
                |p| p.machine.state().code().to_string(),
            ),
            (
                "supervisord_process_start_time_seconds",
                "gauge",
                "Unix time of the process's last start, 0 if never started.",
                |p| format!("{:.3}", unix_secs(p.laststart_wall)),
            ),
            (
                "supervisord_process_restarts_total",
                "counter",
                "Spawns after the first, BACKOFF retries included.",
                |p| p.restarts.to_string(),
            ),
            (
                "supervisord_process_exit_status",
                "gauge",
                "Exit status of the process's last exit, 0 if none yet.",
                |p| p.machine.exitstatus.unwrap_or(0).to_string(),
            ),
            (
                "supervisord_process_ready",
                "gauge",
                "1 when the process is ready: RUNNING (with its readiness_check passing, if it has one), or a one-shot that exited as expected.",
                |p| u8::from(is_ready(p)).to_string(),
            ),
        ];
        for (name, kind, help, value) in families {
            head(&mut out, name, kind, help);
            for (_, g) in self.groups.iter() {
                for p in &g.processes {
                    let _ = write!(
                        out,
                        "{name}{{group=\"{}\",name=\"{}\"",
                        label(&g.config.name),
                        label(&p.config.name)
                    );
                    if name == "supervisord_process_state" {
                        let _ = write!(out, ",statename=\"{}\"", p.machine.state().name());
                    }
                    let _ = writeln!(out, "}} {}", value(p));
                }
            }
        }
        out
    }

    fn process_count(&self) -> usize {
        self.groups.iter().map(|(_, g)| g.processes.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameter_and_label_escaping() {
        assert_eq!(program_param("/readyz"), None);
        assert_eq!(program_param("/readyz?program=a,b"), Some("a,b".into()));
        assert_eq!(
            program_param("/readyz?x=1&program=g%3A%2A"),
            Some("g:*".into())
        );
        assert_eq!(program_param("/readyz?program"), Some(String::new()));
        assert_eq!(
            program_param("/readyz?program=a+b%2Cc%zz"),
            Some("a b,c%zz".into())
        );
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
