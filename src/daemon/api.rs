//! The HTTP side of the daemon: authentication, routing, XML-RPC decoding
//! and encoding, and log tails.  Runs on HTTP threads; reaches daemon state
//! only through [`LoopHandle`] messages.

use super::bridge::{Answer, LogWhat, LoopHandle, LoopMsg};
use crate::http::{self, ChunkWriter, Reply, Request, Response};
use crate::process::Channel;
use crate::rpc::{DecodeError, Fault, Value, codec, faults};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Credentials of one server section.
#[derive(Clone)]
pub struct Auth {
    pub username: String,
    pub password: String,
}

/// Most calls one `system.multicall` may carry (Supervisor has no limit).
/// The calls run one after the other on the daemon's loop, so a huge batch
/// would hold it and every other client; split bigger batches.
pub const MAX_MULTICALL_CALLS: usize = 1_000;

/// How often a log tail looks for new data while a client is attached.
const TAIL_POLL: Duration = Duration::from_millis(200);

/// The request handler of one listening server; `health` adds `/healthz`,
/// `/readyz` and `/metrics` (on `[inet_http_server]`, behind its auth).
pub fn handler(handle: LoopHandle, auth: Option<Auth>, health: bool) -> http::Handler {
    Arc::new(move |req: Request| {
        if let Some(a) = &auth
            && !http::check_basic_auth(req.header("authorization"), &a.username, &a.password)
        {
            return Reply::Full(
                    Response::new(401, "text/html", b"<html><head><title>Unauthorized</title></head><body><h1>Unauthorized</h1></body></html>".to_vec())
                        .with_header("WWW-Authenticate", "Basic realm=\"default\""),
                );
        }
        let path = req.path().to_string();
        if path.starts_with("/RPC2") {
            // A browser page of another site must not drive the RPC with
            // the credentials the browser keeps (SPEC Part C).
            if let Some(why) = super::web::cross_site(&req) {
                return Reply::Full(Response::new(
                    403,
                    "text/plain;charset=utf-8",
                    why.into_bytes(),
                ));
            }
            return xmlrpc(&handle, req);
        }
        if req.method != "GET" && req.method != "HEAD" {
            return Reply::Full(Response::error(405));
        }
        if let Some(rest) = path.strip_prefix("/logtail/") {
            let (name, ch) = match rest.rsplit_once('/') {
                Some((n, "stderr")) => (n, Channel::Stderr),
                Some((n, "stdout")) => (n, Channel::Stdout),
                _ => (rest, Channel::Stdout),
            };
            let name = http::url::percent_decode(name);
            return tail(&handle, LogWhat::Process(name, ch));
        }
        if path == "/mainlogtail" {
            return tail(&handle, LogWhat::Main);
        }
        if health && let Some(reply) = super::health::route(&handle, &req) {
            return reply;
        }
        if let Some(reply) = super::web::route(&handle, &req) {
            return reply;
        }
        Reply::Full(Response::error(404))
    })
}

fn xml_reply(body: Vec<u8>) -> Reply {
    Reply::Full(Response::new(200, "text/xml", body))
}

fn xmlrpc(handle: &LoopHandle, req: Request) -> Reply {
    if req.method != "POST" {
        return Reply::Full(Response::error(400));
    }
    let refuse = |why: &str| {
        xml_reply(codec::encode_fault(&Fault::with(
            faults::INCORRECT_PARAMETERS,
            why,
        )))
    };
    let decoded = codec::decode_call(&req.body);
    // The body is not needed any more: give its memory back before the call runs.
    drop(req);
    let (method, params) = match decoded {
        Ok(x) => x,
        // SPEC Part C: bad UTF-8 gets a fault, never a dropped connection.
        Err(DecodeError::InvalidUtf8 { .. }) => return refuse("request body is not valid UTF-8"),
        // Over a limit: a fault that names it, so the client can say why.
        Err(e @ (DecodeError::TooDeep | DecodeError::TooManyValues)) => {
            return refuse(&e.to_string());
        }
        Err(_) => return Reply::Full(Response::error(400)),
    };
    if method.is_empty() {
        return Reply::Full(Response::error(400));
    }
    if method == "system.multicall"
        && let Some(n) = params
            .first()
            .and_then(Value::as_array)
            .map(<[Value]>::len)
            .filter(|&n| n > MAX_MULTICALL_CALLS)
    {
        return refuse(&format!(
            "system.multicall of {n} calls; at most {MAX_MULTICALL_CALLS} in one request"
        ));
    }
    match handle.call(method, params, true) {
        Some(Answer::Body(body)) => Reply::Full(Response::shared(200, "text/xml", body)),
        Some(Answer::Result(Ok(v))) => xml_reply(codec::encode_response(&v)),
        Some(Answer::Result(Err(f))) => xml_reply(codec::encode_fault(&f)),
        None => Reply::Full(Response::error(500)),
    }
}

fn tail(handle: &LoopHandle, what: LogWhat) -> Reply {
    let (tx, rx) = std::sync::mpsc::channel();
    if !handle.send(LoopMsg::LogPath { what, reply: tx }) {
        return Reply::Full(Response::error(500));
    }
    let path = match rx.recv() {
        Ok(Some(p)) => p,
        _ => return Reply::Full(Response::error(404)),
    };
    Reply::Stream {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/plain;charset=utf-8".into()),
            ("X-Accel-Buffering".into(), "no".into()),
        ],
        body: Box::new(move |w: &mut ChunkWriter<'_>| follow(&path, w)),
    }
}

/// `tail -f`: the last 1024 bytes, then whatever is appended, following
/// rotation (a new inode) and truncation, until the client goes away.
fn follow(path: &PathBuf, w: &mut ChunkWriter<'_>) {
    let open = |p: &PathBuf| -> Option<(std::fs::File, u64)> {
        let f = std::fs::File::open(p).ok()?;
        let ino = f.metadata().ok()?.ino();
        Some((f, ino))
    };
    let Some((mut f, mut ino)) = open(path) else {
        return;
    };
    let size = f.seek(SeekFrom::End(0)).unwrap_or(0);
    let mut pos = size.saturating_sub(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut idle = 0u32;
    loop {
        if f.seek(SeekFrom::Start(pos)).is_err() {
            return;
        }
        let mut sent = false;
        loop {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if w.send(buf.get(..n).unwrap_or_default()).is_err() {
                        return;
                    }
                    pos += n as u64;
                    sent = true;
                }
            }
        }
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.ino() != ino {
                if let Some((nf, ni)) = open(path) {
                    f = nf;
                    ino = ni;
                    pos = 0;
                    continue;
                }
            } else if meta.len() < pos {
                if w.send(b"\n==> File truncated <==\n").is_err() {
                    return;
                }
                pos = 0;
                continue;
            }
        }
        if sent {
            idle = 0;
        } else {
            idle += 1;
            if idle.is_multiple_of(5) && w.client_gone() {
                return;
            }
        }
        std::thread::sleep(TAIL_POLL);
    }
}
