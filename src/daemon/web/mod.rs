//! The web UI (SPEC A11): Supervisor's status page, tail page and action
//! URLs, served by the RPC servers behind the same auth, plus what the
//! reference lacks: live updates, a live log view, a filter and groups,
//! phone layout, and refusal of cross-site requests (SPEC Part C).
//!
//! Runs on HTTP threads; reaches the daemon only through RPC calls on the
//! loop, so the page sees exactly what `supervisorctl` sees.  The page
//! itself is rendered here (it works with JavaScript disabled); `app.js`
//! then keeps it current through `/RPC2`.

mod page;

use page::quote;

use super::bridge::{Answer, LoopHandle};
use crate::http::{Reply, Request, Response};
use crate::rpc::{Fault, Value, codec, faults};

/// Longest query string the pages read; a longer one gets a message.
const MAX_QUERY: usize = 4096;
/// The header `app.js` sends with an action: answer the message as text
/// instead of redirecting to the page.
const SCRIPT_HEADER: &str = "x-supervisor-ui";

/// `app.js` and `app.css`, gzip-compressed by the build script.
const APP_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/app.js.gz"));
const APP_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/app.css.gz"));

/// The web UI's answer for this request, or `None` if the path is not one
/// of its pages.
pub(super) fn route(handle: &LoopHandle, req: &Request) -> Option<Reply> {
    let path = req.path();
    let page = path.trim_start_matches('/');
    Some(match page {
        "" | "index.html" => status(handle, req),
        "tail.html" => tail(handle, req),
        "ok.html" => Reply::Full(Response::new(200, "text/plain", b"OK".to_vec())),
        "ui/app.js" => asset(req, "text/javascript;charset=utf-8", APP_JS),
        "ui/app.css" => asset(req, "text/css;charset=utf-8", APP_CSS),
        _ => return None,
    })
}

/// A gzip-compressed asset.  Every browser accepts gzip; a client that
/// sends no `Accept-Encoding` accepts any coding (RFC 9110, 12.5.3); one
/// that lists codings without gzip gets 406.
fn asset(req: &Request, content_type: &str, gz: &'static [u8]) -> Reply {
    if let Some(accept) = req.header("accept-encoding")
        && !accept.split(',').any(|c| {
            let mut parts = c.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    {
        return Reply::Full(Response::new(
            406,
            "text/plain;charset=utf-8",
            b"the web UI's script and style sheet are served gzip-compressed only".to_vec(),
        ));
    }
    Reply::Full(
        Response::new(200, content_type, gz.to_vec())
            .with_header("Content-Encoding", "gzip")
            .with_header("Vary", "Accept-Encoding")
            .with_header("Cache-Control", "no-cache")
            .with_header("X-Content-Type-Options", "nosniff"),
    )
}

fn html(status: u16, body: String) -> Reply {
    Reply::Full(
        Response::new(status, "text/html;charset=utf-8", body.into_bytes())
            .with_header("Cache-Control", "no-cache")
            .with_header("Pragma", "no-cache")
            .with_header("X-Content-Type-Options", "nosniff")
            .with_header("X-Frame-Options", "DENY")
            .with_header("Content-Security-Policy", page::CSP),
    )
}

/// Why a browser request that would change something is refused, if it
/// is: it came from another site (SPEC Part C).  Requests without these
/// headers (curl, scripts, the Python client) are not from a browser page
/// and act as before.
pub(super) fn cross_site(req: &Request) -> Option<String> {
    if let Some(site) = req.header("sec-fetch-site")
        && (site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site"))
    {
        return Some(format!(
            "refused: this request came from another site (Sec-Fetch-Site: {site}); \
             open the page of this server to act on its processes"
        ));
    }
    let origin = req.header("origin")?;
    let host = req.header("host").unwrap_or("");
    let authority = origin
        .split_once("://")
        .map_or("", |(_, rest)| rest)
        .trim_end_matches('/');
    if origin == "null" || !authority.eq_ignore_ascii_case(host) {
        return Some(format!(
            "refused: this request came from another origin (Origin: {origin}, this server: {host})"
        ));
    }
    None
}

/// A query string as `(key, value)` pairs, `+` and `%XX` decoded; the first
/// of duplicate keys wins, as in Supervisor.
fn query(req: &Request) -> Result<Vec<(String, String)>, String> {
    let q = req.target.split_once('?').map_or("", |(_, q)| q);
    if q.len() > MAX_QUERY {
        return Err(format!(
            "ERROR: the query string is too long ({} bytes; at most {MAX_QUERY})",
            q.len()
        ));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let dec = |s: &str| crate::http::url::percent_decode(&s.replace('+', " "));
        let k = dec(k);
        if !out.iter().any(|(o, _)| *o == k) {
            out.push((k, dec(v)));
        }
    }
    Ok(out)
}

fn get<'q>(form: &'q [(String, String)], key: &str) -> Option<&'q str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// One RPC call on the loop, answered as a value or a fault.
fn call(handle: &LoopHandle, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
    match handle.call(method.to_string(), params, false) {
        Some(Answer::Result(r)) => r,
        Some(Answer::Body(body)) => {
            codec::decode_response(&body).unwrap_or_else(|e| Err(Fault::with(faults::FAILED, e)))
        }
        None => Err(Fault::with(
            faults::SHUTDOWN_STATE,
            "the daemon is stopping",
        )),
    }
}

fn ctime() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    crate::logs::strftime_local("%a %b %e %H:%M:%S %Y", now)
}

/// `index.html`: the status page, or an action then a redirect to the page
/// with its message (as Supervisor), or the message as text for `app.js`.
fn status(handle: &LoopHandle, req: &Request) -> Reply {
    let form = match query(req) {
        Ok(f) => f,
        Err(msg) => return page_with(handle, Some(&msg), "", 400),
    };
    let Some(action) = get(&form, "action").filter(|a| !a.is_empty()) else {
        let message = get(&form, "message");
        let filter = get(&form, "filter").unwrap_or("");
        return page_with(handle, message, filter, 200);
    };
    if action != "refresh"
        && let Some(why) = cross_site(req)
    {
        return page_with(handle, Some(&why), "", 403);
    }
    let name = get(&form, "processname").filter(|n| !n.is_empty());
    let message = act(handle, action, name);
    if req.header(SCRIPT_HEADER).is_some() {
        return Reply::Full(
            Response::new(200, "text/plain;charset=utf-8", message.into_bytes())
                .with_header("Cache-Control", "no-cache"),
        );
    }
    let base = req
        .header("host")
        .map(|h| format!("http://{h}"))
        .unwrap_or_default();
    let location = format!("{base}/?message={}", quote(&message));
    Reply::Full(
        Response::new(301, "text/plain", Vec::new())
            .with_header("Location", &location)
            .with_header("Cache-Control", "no-cache"),
    )
}

/// Carry out one action; the message Supervisor's page shows for it.
fn act(handle: &LoopHandle, action: &str, name: Option<&str>) -> String {
    let unexpected = |f: &Fault| format!("unexpected rpc fault [{}] {}", f.code, f.string);
    let named = |m: &str| Value::structure([("methodName", Value::from(m))]);
    match action {
        "refresh" => return format!("Page refreshed at {}", ctime()),
        "stopall" => {
            return match call(handle, "supervisor.stopAllProcesses", vec![]) {
                Ok(_) => format!("All stopped at {}", ctime()),
                Err(f) => format!("ERROR: {}", unexpected(&f)),
            };
        }
        "restartall" => {
            let calls = vec![
                named("supervisor.stopAllProcesses"),
                named("supervisor.startAllProcesses"),
            ];
            return match call(handle, "system.multicall", vec![Value::Array(calls)]) {
                Ok(_) => format!("All restarted at {}", ctime()),
                Err(f) => format!("ERROR: {}", unexpected(&f)),
            };
        }
        "start" | "stop" | "restart" | "clearlog" => {}
        other => return format!("ERROR: unknown action {other:?}"),
    }
    let Some(name) = name else {
        return format!("ERROR: the action {action} needs a processname");
    };
    let arg = || vec![Value::from(name)];
    // Supervisor answers an unknown name before trying anything.
    if let Err(f) = call(handle, "supervisor.getProcessInfo", arg())
        && f.code == faults::BAD_NAME
    {
        return format!("No such process named {name}");
    }
    match action {
        "start" => match call(handle, "supervisor.startProcess", arg()) {
            Ok(_) => format!("Process {name} started"),
            Err(f) => {
                let why = match f.code {
                    faults::NO_FILE => "no such file".to_string(),
                    faults::NOT_EXECUTABLE => "file not executable".to_string(),
                    faults::ALREADY_STARTED => "already started".to_string(),
                    faults::SPAWN_ERROR => "spawn error".to_string(),
                    faults::ABNORMAL_TERMINATION => "abnormal termination".to_string(),
                    _ => unexpected(&f),
                };
                format!("ERROR: Process {name}: {why}")
            }
        },
        "stop" => match call(handle, "supervisor.stopProcess", arg()) {
            Ok(_) => format!("Process {name} stopped"),
            Err(f) => unexpected(&f),
        },
        "restart" => {
            let one = |m: &str| {
                Value::structure([
                    ("methodName", Value::from(m)),
                    ("params", Value::Array(arg())),
                ])
            };
            let calls = vec![
                one("supervisor.stopProcess"),
                one("supervisor.startProcess"),
            ];
            match call(handle, "system.multicall", vec![Value::Array(calls)]) {
                Ok(_) => format!("Process {name} restarted"),
                Err(f) => format!("ERROR: {}", unexpected(&f)),
            }
        }
        _ => match call(handle, "supervisor.clearProcessLogs", arg()) {
            Ok(_) => format!("Log for {name} cleared"),
            Err(f) => unexpected(&f),
        },
    }
}

/// The status page with an optional message.
fn page_with(handle: &LoopHandle, message: Option<&str>, filter: &str, status: u16) -> Reply {
    let procs = call(handle, "supervisor.getAllProcessInfo", vec![]);
    let ident = call(handle, "supervisor.getIdentification", vec![])
        .ok()
        .and_then(Value::into_string)
        .unwrap_or_default();
    let body = match procs {
        Ok(list) => page::status(&ident, list.as_array().unwrap_or_default(), message, filter),
        Err(f) => page::status(
            &ident,
            &[],
            Some(&format!(
                "ERROR: unexpected rpc fault [{}] {}",
                f.code, f.string
            )),
            filter,
        ),
    };
    html(status, body)
}

/// `tail.html?processname=x&limit=N`: the last max(1024, N) bytes of its
/// stdout (`&channel=stderr` for stderr); `app.js` then follows the log.
fn tail(handle: &LoopHandle, req: &Request) -> Reply {
    let form = match query(req) {
        Ok(f) => f,
        Err(msg) => return html(400, page::tail(None, 1024, "stdout", &msg)),
    };
    let limit = get(&form, "limit")
        .and_then(|l| l.parse::<u64>().ok())
        .unwrap_or(1024)
        .clamp(1024, 1 << 20);
    let channel = if get(&form, "channel") == Some("stderr") {
        "stderr"
    } else {
        "stdout"
    };
    let Some(name) = get(&form, "processname").filter(|n| !n.is_empty()) else {
        return html(
            200,
            page::tail(None, limit, channel, "No process name found"),
        );
    };
    let method = if channel == "stderr" {
        "supervisor.readProcessStderrLog"
    } else {
        "supervisor.readProcessStdoutLog"
    };
    let text = match call(
        handle,
        method,
        vec![
            Value::from(name),
            Value::Int(-(limit as i32)),
            Value::Int(0),
        ],
    ) {
        Ok(v) => v.into_string().unwrap_or_default(),
        Err(f) if f.code == faults::NO_FILE => format!("No file for {name}"),
        Err(f) => format!("ERROR: unexpected rpc fault [{}] {}", f.code, f.string),
    };
    html(200, page::tail(Some(name), limit, channel, &text))
}
