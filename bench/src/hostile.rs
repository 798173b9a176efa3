//! Hostile requests (issue 8): a 100,000-deep array, a 16 MiB body, a
//! 10,000-call multicall, two million empty values, a DOCTYPE with a
//! parameter entity. Each goes on its own connection, kept open to the end
//! (a client that wants the daemon to hold on to memory would do that);
//! the figures are the daemon's idle RSS, its RSS above idle once each
//! answer is in, and how each was answered.

use crate::daemon::{self, Daemon, Env, Kind};
use crate::http::{self, Conn};
use crate::report::{Figure, Target};
use crate::sys;
use std::io::Write;
use std::time::{Duration, Instant};
use supervisor_rs::rpc;

/// Most a hostile request may leave behind, in MB.
const LEFT_MAX_MB: f64 = 10.0;

fn call(method: &str, param: &str) -> Vec<u8> {
    format!(
        "<?xml version='1.0'?>\n<methodCall><methodName>{method}</methodName><params><param><value>{param}</value></param></params></methodCall>\n"
    )
    .into_bytes()
}

fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let n = 100_000;
    let deep = "<array><data><value>".repeat(n) + &"</value></data></array>".repeat(n);
    let empty = call("supervisor.getState", "");
    let huge = "y".repeat((16 << 20) - empty.len());
    let get_state = rpc::Value::Struct(vec![
        ("methodName".into(), "supervisor.getState".into()),
        ("params".into(), rpc::Value::Array(Vec::new())),
    ]);
    let multicall = rpc::encode_call(
        "system.multicall",
        &[rpc::Value::Array(vec![get_state; 10_000])],
    );
    let empties = format!(
        "<array><data>{}</data></array>",
        "<value/>".repeat(2_000_000)
    );
    vec![
        ("100,000-deep array", call("supervisor.getState", &deep)),
        ("16 MiB body", call("supervisor.getState", &huge)),
        ("10,000-call multicall", multicall),
        ("2,000,000 empty values", call("supervisor.getState", &empties)),
        (
            "DOCTYPE with an entity",
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY % p 'y'>]><methodCall><methodName>supervisor.getState</methodName></methodCall>".to_vec(),
        ),
    ]
}

/// Send one request on a new connection and read the answer: the open
/// connection and how it was answered.
fn send(d: &Daemon, body: &[u8]) -> (Option<Conn>, String) {
    let Ok(mut conn) = Conn::open(&d.unix) else {
        return (None, "no connection".into());
    };
    if conn.write_all(&http::request_bytes(body, true)).is_err() {
        return (None, "closed while sending".into());
    }
    let mut buf = Vec::new();
    let answer = match http::read_response(&mut conn, &mut buf) {
        Err(e) => format!("no answer ({e})"),
        Ok((200, range, _)) => match rpc::decode_response(&buf[range]) {
            Ok(Ok(_)) => "accepted".into(),
            Ok(Err(f)) => format!("fault {}", f.code),
            Err(_) => "undecodable".into(),
        },
        Ok((status, _, _)) => format!("HTTP {status}"),
    };
    (Some(conn), answer)
}

/// Idle RSS (MB) and, per request, RSS above idle (MB) and the answer.
fn measure(env: &Env, kind: Kind, reqs: &[(&str, Vec<u8>)]) -> (f64, Vec<(f64, String)>) {
    let dir = sys::make_dir(&env.tmp, &format!("hostile-{}", kind.name()));
    let mut d = Daemon::start(env, kind, dir, &daemon::sleepers(1));
    d.wait_running(1, Duration::from_secs(60));
    d.wait_rpc(Duration::from_secs(30));
    sys::sleep(Duration::from_secs(1));
    let rss = || sys::rss_kb(d.pid()).unwrap_or(0) as f64 / 1024.0;
    let idle = rss();
    let mut kept = Vec::new();
    let mut out = Vec::new();
    for (what, body) in reqs {
        let (conn, answer) = send(&d, body);
        kept.extend(conn);
        // Freed memory may take a moment to go back: poll, with a deadline.
        let end = Instant::now() + Duration::from_secs(3);
        let mut left = rss() - idle;
        while left > LEFT_MAX_MB && Instant::now() < end {
            sys::sleep(Duration::from_millis(50));
            left = rss() - idle;
        }
        progress(&format!(
            "{}: {what}: {answer}, RSS {left:.1} MB above idle",
            kind.name()
        ));
        out.push((left, answer));
    }
    drop(kept);
    (idle, out)
}

fn progress(msg: &str) {
    eprintln!("  .. {msg}");
}

pub fn run(env: &Env) -> Vec<Figure> {
    let reqs = requests();
    let (ref_idle, theirs) = measure(env, Kind::Ref, &reqs);
    let mut kinds = vec![Kind::Ours];
    if env.ours_static.is_some() {
        kinds.push(Kind::OursStatic);
    }
    let mut figs = Vec::new();
    for kind in kinds {
        let (idle, ours) = measure(env, kind, &reqs);
        let build = if kind == Kind::OursStatic {
            ", static build"
        } else {
            ""
        };
        figs.push(
            Figure::new(format!("hostile: idle RSS{build}"), "MB", "python")
                .ours(&[idle])
                .other(&[ref_idle]),
        );
        for (((what, _), (left, answer)), (their_left, their_answer)) in
            reqs.iter().zip(&ours).zip(&theirs)
        {
            figs.push(
                Figure::new(
                    format!("hostile: RSS above idle after {what}{build}"),
                    "MB",
                    "python",
                )
                .ours(&[*left])
                .other(&[*their_left])
                .target(Target::OursMax(LEFT_MAX_MB))
                .note(format!("answer: ours {answer}, python {their_answer}")),
            );
        }
    }
    figs
}
