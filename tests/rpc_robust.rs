//! The RPC server against hostile or broken clients (SPEC A8, A11, Part C),
//! with raw HTTP over the unix socket: no Python needed. Malformed XML,
//! wrong arguments, CVE-2017-11610-style dotted names, huge and short
//! bodies, malformed `Authorization` headers, bad UTF-8, stalled clients,
//! many concurrent clients while 50 programs crash-loop, and log reads that
//! try to leave the configured log files.

use crate::util::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use supervisor_rs::rpc::{Fault, Value, decode_response};

const T: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// Raw HTTP helpers (also used by rpc_compat.rs)

/// Where a server listens.
#[derive(Clone, Debug)]
pub enum Addr {
    Unix(PathBuf),
    Tcp(u16),
}

/// A connected stream of either kind.
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Stream {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(b),
            Stream::Tcp(s) => s.read(b),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(b),
            Stream::Tcp(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

impl Stream {
    pub fn connect(addr: &Addr) -> Stream {
        let s = match addr {
            Addr::Unix(p) => UnixStream::connect(p)
                .map(Stream::Unix)
                .unwrap_or_else(|e| panic!("connect {}: {e}", p.display())),
            Addr::Tcp(port) => TcpStream::connect(("127.0.0.1", *port))
                .map(Stream::Tcp)
                .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}")),
        };
        s.set_timeout(Some(Duration::from_secs(30)));
        s
    }

    pub fn set_timeout(&self, t: Option<Duration>) {
        let r = match self {
            Stream::Unix(s) => s.set_read_timeout(t).and(s.set_write_timeout(t)),
            Stream::Tcp(s) => s.set_read_timeout(t).and(s.set_write_timeout(t)),
        };
        r.expect("set timeouts");
    }
}

/// One HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// The head (status line and headers), as text.
    pub head: String,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The XML-RPC answer: Ok(value) or Err(fault).
    pub fn rpc(&self) -> Result<Value, Fault> {
        assert_eq!(self.status, 200, "HTTP status of an RPC answer: {self:?}");
        decode_response(&self.body)
            .unwrap_or_else(|e| panic!("undecodable RPC answer {:?}: {e:?}", self.text()))
    }

    /// The fault code of an XML-RPC fault answer (panics on success).
    pub fn fault_code(&self) -> i32 {
        match self.rpc() {
            Err(f) => f.code,
            Ok(v) => panic!("expected a fault, got {v:?}"),
        }
    }
}

/// Read one response (head, then a Content-Length body, or to EOF).
/// None if the server closed the connection without answering.
pub fn read_response(s: &mut impl Read) -> Option<HttpResponse> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut r = HttpResponse {
        status,
        head,
        body: Vec::new(),
    };
    match r
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(n) => {
            r.body = vec![0; n];
            s.read_exact(&mut r.body).ok()?;
        }
        None => {
            let _ = s.read_to_end(&mut r.body);
        }
    }
    Some(r)
}

/// Send raw bytes on a new connection, read one response.
pub fn http_raw(addr: &Addr, request: &[u8]) -> Option<HttpResponse> {
    let mut s = Stream::connect(addr);
    s.write_all(request).ok()?;
    read_response(&mut s)
}

/// A `methodCall` body; `params` are `<value>` contents (see `util::xml`).
pub fn call_body(method: &str, params: &[String]) -> String {
    let mut body = format!(
        "<?xml version=\"1.0\"?>\n<methodCall><methodName>{}</methodName><params>",
        xml::escape(method)
    );
    for p in params {
        body.push_str(&format!("<param><value>{p}</value></param>"));
    }
    body.push_str("</params></methodCall>\n");
    body
}

/// A complete HTTP/1.1 POST to /RPC2 (keep-alive unless `close`).
pub fn post_request(body: &[u8], auth: Option<&str>, close: bool) -> Vec<u8> {
    let mut req = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    if close {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    out.extend_from_slice(body);
    out
}

/// One XML-RPC call on a new connection.
pub fn rpc(addr: &Addr, method: &str, params: &[String]) -> HttpResponse {
    let body = call_body(method, params);
    http_raw(addr, &post_request(body.as_bytes(), None, true))
        .unwrap_or_else(|| panic!("no answer to {method}"))
}

/// `Basic base64(user:pass)`.
pub fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        supervisor_rs::base64::encode(format!("{user}:{pass}").as_bytes())
    )
}

/// VmRSS of a process in KiB.
fn vm_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS for {pid}"))
}

fn start_daemon(name: &str, sections: &str) -> Harness {
    let mut h = Harness::new(name);
    h.write_standard_conf(sections);
    h.start(&[]);
    h.wait_for_socket(T);
    h
}

fn addr(h: &Harness) -> Addr {
    Addr::Unix(h.socket_path())
}

/// The daemon still answers getState with RUNNING.
fn assert_serving(h: &Harness) {
    let r = rpc(&addr(h), "supervisor.getState", &[]);
    let v = r.rpc().unwrap_or_else(|f| panic!("getState: {f}"));
    assert_eq!(
        v.get("statename").and_then(Value::as_str),
        Some("RUNNING"),
        "{v:?}"
    );
}

const ONE_SLEEPER: &str = "\
[program:sleeper]
command=/bin/sh -c 'echo out; exec sleep 1000'
startsecs=0
";

// ---------------------------------------------------------------------------
// Tests

#[test]
fn malformed_xml_is_400_and_the_daemon_keeps_serving() {
    let h = start_daemon("rpc_malformed_xml", ONE_SLEEPER);
    let a = addr(&h);
    let bodies: &[&[u8]] = &[
        b"",
        b"not xml at all",
        b"<?xml version=\"1.0\"?><methodCall><methodName>supervisor.getState",
        b"<methodCall><params></params></methodCall>",
        b"<methodCall><methodName></methodName></methodCall>",
        b"<methodCall><methodName>supervisor.getState</methodName><params><param><value><int>x</int></value></param></params></methodCall>",
        b"<methodCall><methodName>supervisor.getState</methodName><params><param><value><struct><member></member></struct></value></param></params></methodCall>",
        b"<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><methodCall><methodName>&b;</methodName></methodCall>",
    ];
    for body in bodies {
        let r = http_raw(&a, &post_request(body, None, true))
            .unwrap_or_else(|| panic!("no answer to {:?}", String::from_utf8_lossy(body)));
        assert_eq!(
            r.status,
            400,
            "body {:?} → {r:?}",
            String::from_utf8_lossy(body)
        );
    }
    // Deeply nested arrays: refused, not a stack overflow.
    let deep = format!(
        "<methodCall><methodName>supervisor.getState</methodName><params><param><value>{}{}</value></param></params></methodCall>",
        "<array><data><value>".repeat(100_000),
        "</value></data></array>".repeat(100_000)
    );
    let r = http_raw(&a, &post_request(deep.as_bytes(), None, true)).expect("an answer");
    assert!(
        r.status == 400 || (r.status == 200 && r.rpc().is_err()),
        "deep nesting: {}",
        r.status
    );
    // GET on /RPC2 is not a call either.
    let r = http_raw(&a, b"GET /RPC2 HTTP/1.0\r\n\r\n").expect("an answer");
    assert!(r.status >= 400 && r.status < 500, "{r:?}");
    assert_serving(&h);
}

#[test]
fn wrong_argument_counts_and_types_are_incorrect_parameters() {
    let h = start_daemon("rpc_wrong_args", ONE_SLEEPER);
    let a = addr(&h);
    let s = xml::string;
    let i = xml::int;
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("supervisor.getState", vec![i(1)]),
        ("supervisor.getProcessInfo", vec![]),
        ("supervisor.getProcessInfo", vec![s("sleeper"), s("x")]),
        (
            "supervisor.startProcess",
            vec![s("a"), xml::boolean(true), i(3)],
        ),
        ("supervisor.readLog", vec![i(0)]),
        ("supervisor.readProcessStdoutLog", vec![s("sleeper"), i(0)]),
        ("supervisor.signalProcess", vec![s("sleeper")]),
        ("system.multicall", vec![]),
        ("system.methodHelp", vec![]),
        // Types the method cannot use.
        ("supervisor.getProcessInfo", vec![i(5)]),
        (
            "supervisor.startProcess",
            vec!["<array><data></data></array>".into()],
        ),
        ("supervisor.readLog", vec![s("zero"), i(0)]),
        ("system.multicall", vec![s("not an array")]),
        ("supervisor.sendProcessStdin", vec![s("sleeper"), i(5)]),
    ];
    for (m, params) in cases {
        let r = rpc(&a, m, &params);
        assert_eq!(r.fault_code(), 2, "{m}({params:?}) → {}", r.text());
    }
    assert_serving(&h);
}

#[test]
fn unknown_and_dotted_method_names_are_unknown_method() {
    let h = start_daemon("rpc_unknown_methods", ONE_SLEEPER);
    let a = addr(&h);
    for m in [
        "supervisor.supervisord.options.execve",
        "supervisor.supervisord.options.mood",
        "supervisor.rpcinterface.supervisor.getState",
        "supervisor._update",
        "supervisor._getAllProcesses",
        "supervisor.__init__",
        "supervisor.__class__",
        "system.multicall.x",
        "system._dispatch",
        "__class__",
        "supervisor",
        "supervisor.",
        ".getState",
        "supervisor.getstate",
        "supervisor.getState.__call__",
        "supervisor.getState ",
        "os.system",
        "nope",
    ] {
        let r = rpc(&a, m, &[xml::string("id")]);
        assert_eq!(r.fault_code(), 1, "{m:?} → {}", r.text());
    }
    assert_serving(&h);
}

#[test]
fn bad_names_and_bad_signals() {
    let h = start_daemon(
        "rpc_bad_names",
        "[program:sleeper]\ncommand=/bin/sleep 1000\nstartsecs=0\n",
    );
    let a = addr(&h);
    let s = xml::string;
    let i = xml::int;
    for name in [
        "nope",
        "nope:*",
        "sleeper:nope",
        "",
        ":",
        "../../etc/passwd",
        "sleeper/../sleeper",
    ] {
        for (m, extra) in [
            ("supervisor.getProcessInfo", vec![]),
            ("supervisor.startProcess", vec![]),
            ("supervisor.stopProcess", vec![]),
            ("supervisor.signalProcess", vec![s("HUP")]),
            ("supervisor.readProcessStdoutLog", vec![i(0), i(0)]),
            ("supervisor.tailProcessStderrLog", vec![i(0), i(10)]),
            ("supervisor.clearProcessLogs", vec![]),
            ("supervisor.sendProcessStdin", vec![s("x")]),
            ("supervisor.removeProcessGroup", vec![]),
            ("supervisor.addProcessGroup", vec![]),
        ] {
            let mut params = vec![s(name)];
            params.extend(extra);
            let r = rpc(&a, m, &params);
            assert_eq!(r.fault_code(), 10, "{m}({name:?}) → {}", r.text());
        }
    }
    h.eventually(T, "sleeper RUNNING", || {
        rpc(&a, "supervisor.getProcessInfo", &[s("sleeper")])
            .rpc()
            .ok()
            .and_then(|v| v.get("statename")?.as_str().map(|x| x == "RUNNING"))
            == Some(true)
    });
    for sig in [
        s("FOO"),
        s("SIGFOO"),
        s(""),
        s("999"),
        s("-1"),
        i(999),
        i(-9),
        s("HUP HUP"),
    ] {
        let r = rpc(&a, "supervisor.signalProcess", &[s("sleeper"), sig.clone()]);
        assert_eq!(r.fault_code(), 11, "signal {sig} → {}", r.text());
        let r = rpc(
            &a,
            "supervisor.signalProcessGroup",
            &[s("sleeper"), sig.clone()],
        );
        let v = r.rpc();
        let bad_signal = match &v {
            Err(f) => f.code == 11,
            Ok(Value::Array(items)) => items
                .iter()
                .all(|x| x.get("status").and_then(Value::as_int) == Some(11)),
            _ => false,
        };
        assert!(bad_signal, "group signal {sig} → {v:?}");
    }
    // The process was never touched by any of this.
    let v = rpc(&a, "supervisor.getProcessInfo", &[s("sleeper")])
        .rpc()
        .expect("info");
    assert_eq!(v.get("statename").and_then(Value::as_str), Some("RUNNING"));
}

#[test]
fn oversized_bodies_get_413_and_memory_stays_flat() {
    let h = start_daemon("rpc_oversized", ONE_SLEEPER);
    let a = addr(&h);
    let pid = h.daemon_pid().expect("daemon pid");
    assert_serving(&h);
    let before = vm_rss_kib(pid);

    // 1. A head announcing a huge body: refused from the head alone.
    for len in [16 * 1024 * 1024 + 1, 1usize << 40] {
        let req = format!("POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n");
        let r = http_raw(&a, req.as_bytes()).expect("an answer to a huge Content-Length");
        assert_eq!(r.status, 413, "Content-Length {len}: {r:?}");
    }
    let r = http_raw(
        &a,
        b"POST /RPC2 HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    )
    .expect("answer");
    assert!(r.status == 400 || r.status == 413, "{r:?}");

    // 2. Actually streaming 17 MiB, three times: 413 (or a close once the
    //    server stops reading), never an OOM.
    let chunk = vec![b'a'; 1024 * 1024];
    for _ in 0..3 {
        let mut s = Stream::connect(&a);
        let total = 17 * 1024 * 1024;
        let head = format!("POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n");
        s.write_all(head.as_bytes()).expect("head");
        let mut sent = 0;
        while sent < total {
            if s.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        if let Some(r) = read_response(&mut s) {
            assert_eq!(r.status, 413, "{r:?}");
        }
    }
    // 3. Just under the limit is accepted (a fault: wrong arguments) and
    //    its memory is given back.
    let pad = "x".repeat(15 * 1024 * 1024);
    let body = call_body("supervisor.getState", &[xml::string(&pad)]);
    let r = http_raw(&a, &post_request(body.as_bytes(), None, true)).expect("answer");
    assert_eq!(r.fault_code(), 2);
    drop((pad, body));

    assert_serving(&h);
    let mut after = vm_rss_kib(pid);
    // Freed memory may take a moment to be returned.
    let _ = wait_until(Duration::from_secs(3), "RSS to settle", || {
        after = vm_rss_kib(pid);
        after <= before + 20 * 1024
    });
    println!("daemon VmRSS: {before} KiB before, {after} KiB after");
    assert!(
        after <= before + 20 * 1024,
        "daemon RSS grew from {before} KiB to {after} KiB"
    );
}

#[test]
fn short_bodies_time_out_with_408() {
    let h = start_daemon("rpc_short_body", ONE_SLEEPER);
    let a = addr(&h);
    // A body shorter than its Content-Length, and a head that never ends:
    // both wait for the request deadline (10 s), then 408 or a close.
    let partial: [&[u8]; 2] = [
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<?xml",
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n",
    ];
    let t0 = Instant::now();
    let waiters: Vec<_> = partial
        .iter()
        .map(|req| {
            let mut s = Stream::connect(&a);
            s.set_timeout(Some(Duration::from_secs(60)));
            s.write_all(req).expect("send");
            std::thread::spawn(move || {
                let r = read_response(&mut s);
                (r.map(|r| r.status), t0.elapsed())
            })
        })
        .collect();
    // Meanwhile the daemon serves others.
    assert_serving(&h);
    for w in waiters {
        let (status, took) = w.join().expect("reader thread");
        println!("partial request answered after {took:?}: {status:?}");
        assert!(status.is_none() || status == Some(408), "{status:?}");
        assert!(
            took >= Duration::from_secs(2),
            "answered before the request could arrive: {took:?}"
        );
        assert!(
            took <= Duration::from_secs(20),
            "the request deadline did not fire: {took:?}"
        );
    }
    assert_serving(&h);
}

#[test]
fn malformed_authorization_headers_are_401_never_500() {
    let mut h = Harness::new("rpc_bad_auth");
    let conf = BASE_CONF.replace(
        "file={dir}/supervisor.sock\n",
        "file={dir}/supervisor.sock\nusername=user\npassword=pass\n",
    );
    h.write_conf(&(conf + ONE_SLEEPER));
    h.start(&[]);
    h.wait_for_socket(T);
    let a = addr(&h);
    let body = call_body("supervisor.getState", &[]);
    let b64 = |b: &[u8]| supervisor_rs::base64::encode(b);
    let mut headers: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        b"Basic".to_vec(),
        b"Basic ".to_vec(),
        b"Basic !!!".to_vec(),
        b"Basic ====".to_vec(),
        b"Basic dXNlcjpwYXNz===garbage".to_vec(),
        format!("Basic {}", b64(b"nocolon")).into_bytes(),
        format!("Basic {}", b64(b"user:wrong")).into_bytes(),
        format!("Basic {}", b64(b"other:pass")).into_bytes(),
        format!("Basic {}", b64(b":")).into_bytes(),
        format!("Basic {}", b64(b"user:pass\xff\xfe")).into_bytes(),
        format!("Basic {}", b64(b"\xff\xfe:pass")).into_bytes(),
        format!("Bearer {}", b64(b"user:pass")).into_bytes(),
        format!("Digest {}", b64(b"user:pass")).into_bytes(),
        b"Basic \xff\xfe\xfd".to_vec(),
        b"\xff\xfe \xfd".to_vec(),
        format!("Basic {}", "A".repeat(30_000)).into_bytes(),
    ];
    headers.push(Vec::new());
    for (n, hv) in headers.iter().enumerate() {
        let mut req = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        )
        .into_bytes();
        if n + 1 < headers.len() {
            req.extend_from_slice(b"Authorization: ");
            req.extend_from_slice(hv);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(body.as_bytes());
        let r = http_raw(&a, &req).unwrap_or_else(|| {
            panic!(
                "no answer for Authorization {:?}",
                String::from_utf8_lossy(hv)
            )
        });
        assert_eq!(
            r.status,
            401,
            "Authorization {:?} → {r:?}",
            String::from_utf8_lossy(hv)
        );
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"default\""),
            "{r:?}"
        );
    }
    // Logs are behind auth too.
    for path in [
        "/logtail/sleeper",
        "/logtail/sleeper/stderr",
        "/mainlogtail",
        "/",
    ] {
        let r = http_raw(&a, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).expect("answer");
        assert_eq!(r.status, 401, "{path}: {r:?}");
    }
    // And the right credentials work.
    let r = http_raw(
        &a,
        &post_request(body.as_bytes(), Some(&basic("user", "pass")), true),
    )
    .expect("answer");
    assert!(r.rpc().is_ok(), "{r:?}");
}

#[test]
fn invalid_utf8_body_is_a_fault_on_a_live_connection() {
    let h = start_daemon("rpc_bad_utf8", ONE_SLEEPER);
    let a = addr(&h);
    let mut s = Stream::connect(&a);
    let bodies: &[&[u8]] = &[
        b"<?xml version=\"1.0\"?><methodCall><methodName>supervisor.getProcessInfo</methodName><params><param><value><string>\xff\xfe</string></value></param></params></methodCall>",
        b"<?xml version=\"1.0\"?><methodCall><methodName>supervisor.\xc3\x28</methodName></methodCall>",
        b"<?xml version=\"1.0\"?><methodCall><methodName>supervisor.getState</methodName></methodCall>\xed\xa0\x80",
    ];
    for body in bodies {
        s.write_all(&post_request(body, None, false)).expect("send");
        let r = read_response(&mut s).unwrap_or_else(|| {
            panic!(
                "connection dropped after {:?}",
                String::from_utf8_lossy(body)
            )
        });
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.rpc().is_err(), "{r:?}");
    }
    // The same connection still serves a good call.
    let good = call_body("supervisor.getState", &[]);
    s.write_all(&post_request(good.as_bytes(), None, false))
        .expect("send");
    let r = read_response(&mut s).expect("an answer on the same connection");
    assert!(r.rpc().is_ok(), "{r:?}");
}

#[test]
fn a_stalled_client_does_not_block_others() {
    let h = start_daemon("rpc_stalled", ONE_SLEEPER);
    let a = addr(&h);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stalled = {
        let a = a.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut s = Stream::connect(&a);
            let body = call_body("supervisor.getState", &[]);
            let req = post_request(body.as_bytes(), None, true);
            for b in req {
                if stop.load(std::sync::atomic::Ordering::SeqCst) || s.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    // Several stalled clients at once, a byte each and then silence.
    let silent: Vec<Stream> = (0..8)
        .map(|_| {
            let mut s = Stream::connect(&a);
            let _ = s.write_all(b"P");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut worst = Duration::ZERO;
    for _ in 0..15 {
        let t0 = Instant::now();
        assert_serving(&h);
        worst = worst.max(t0.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("slowest getState next to stalled clients: {worst:?}");
    assert!(
        worst < Duration::from_secs(2),
        "getState took {worst:?} next to a stalled client"
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    drop(silent);
    let _ = stalled.join();
}

fn crash_loop_conf(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "[program:crash{i:02}]\ncommand=sh -c 'sleep 0.1; exit 1'\nautorestart=true\nstartsecs=0\nstopwaitsecs=5\n\n"
        ));
    }
    s
}

fn states(a: &Addr) -> Vec<(String, String)> {
    match rpc(a, "supervisor.getAllProcessInfo", &[]).rpc() {
        Ok(Value::Array(items)) => items
            .iter()
            .map(|x| {
                (
                    x.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    x.get("statename")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect(),
        other => panic!("getAllProcessInfo: {other:?}"),
    }
}

#[test]
fn concurrent_clients_while_fifty_programs_crash_loop() {
    let h = start_daemon("rpc_concurrent", &crash_loop_conf(50));
    let a = addr(&h);
    h.eventually(T, "the crash loop to run", || {
        rpc(
            &a,
            "supervisor.readProcessStdoutLog",
            &[xml::string("crash00"), xml::int(0), xml::int(0)],
        )
        .status
            == 200
            && h.main_log().matches("exited: crash").count() >= 50
    });
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let a = a.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                for i in 0..12 {
                    let name = xml::string(&format!("crash{:02}", (c * 3 + i) % 50));
                    let calls: [(&str, Vec<String>); 4] = [
                        ("supervisor.getAllProcessInfo", vec![]),
                        (
                            "supervisor.readProcessStdoutLog",
                            vec![name.clone(), xml::int(-100), xml::int(0)],
                        ),
                        ("supervisor.startProcess", vec![name.clone()]),
                        ("supervisor.stopProcess", vec![name.clone()]),
                    ];
                    for (m, p) in calls {
                        let t0 = Instant::now();
                        let body = call_body(m, &p);
                        let r = http_raw(&a, &post_request(body.as_bytes(), None, true))
                            .unwrap_or_else(|| panic!("client {c}: no answer to {m}"));
                        assert_eq!(r.status, 200, "client {c}: {m} → {r:?}");
                        let _ = decode_response(&r.body)
                            .unwrap_or_else(|e| panic!("client {c}: {m}: bad answer {e:?}"));
                        lat.push(t0.elapsed());
                    }
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("a client thread panicked"))
        .collect();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    println!(
        "{} calls from 16 clients during a 50-program crash loop: p50 {:?}, p99 {:?}, max {:?}",
        lat.len(),
        p(0.5),
        p(0.99),
        lat[lat.len() - 1]
    );

    // stopAllProcesses(wait=true) leaves every crash-looping program stopped.
    let r = http_raw(
        &a,
        &post_request(
            call_body("supervisor.stopAllProcesses", &[xml::boolean(true)]).as_bytes(),
            None,
            true,
        ),
    )
    .expect("an answer to stopAllProcesses");
    let v = r.rpc().unwrap_or_else(|f| panic!("stopAllProcesses: {f}"));
    assert!(v.as_array().is_some(), "{v:?}");
    let stopped = ["STOPPED", "EXITED", "FATAL"];
    let check = |when: &str| {
        let st = states(&a);
        assert_eq!(st.len(), 50);
        let running: Vec<_> = st
            .iter()
            .filter(|(_, s)| !stopped.contains(&s.as_str()))
            .collect();
        assert!(running.is_empty(), "{when}: not stopped: {running:?}");
    };
    check("right after stopAllProcesses");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1200) {
        check("a moment after stopAllProcesses");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_serving(&h);
}

#[test]
fn no_method_reads_a_file_that_is_not_a_configured_log() {
    let h = start_daemon("rpc_traversal", ONE_SLEEPER);
    let a = addr(&h);
    h.write_file("secret.txt", "TOP SECRET\n");
    let secret = h.path("secret.txt").display().to_string();
    let s = xml::string;
    let i = xml::int;
    let names = [
        "../../etc/passwd".to_string(),
        "/etc/passwd".to_string(),
        secret.clone(),
        "sleeper:../../etc/passwd".to_string(),
        "../sleeper".to_string(),
        "sleeper\0/etc/passwd".to_string(),
        "sleeper/../../secret.txt".to_string(),
    ];
    for name in &names {
        for m in [
            "supervisor.readProcessStdoutLog",
            "supervisor.readProcessStderrLog",
            "supervisor.readProcessLog",
            "supervisor.tailProcessStdoutLog",
            "supervisor.tailProcessStderrLog",
        ] {
            let r = rpc(&a, m, &[s(name), i(0), i(0)]);
            assert!(
                !r.text().contains("TOP SECRET") && !r.text().contains("root:"),
                "{m}({name:?}) leaked: {}",
                r.text()
            );
            assert_eq!(r.fault_code(), 10, "{m}({name:?}) → {}", r.text());
        }
    }
    // The main log is the main log, whatever the arguments.
    for (off, len) in [(0, 0), (-1_000_000, 0), (1_000_000_000, 100)] {
        let r = rpc(&a, "supervisor.readLog", &[i(off), i(len)]);
        assert!(!r.text().contains("TOP SECRET"), "{}", r.text());
    }
    for path in [
        "/logtail/../../etc/passwd",
        "/logtail/..%2f..%2fetc%2fpasswd",
        "/logtail/%2e%2e/%2e%2e/etc/passwd",
        "/logtail/sleeper/../../../etc/passwd",
        "/logtail/sleeper/../../secret.txt",
        "/logtail//etc/passwd",
        "/logtail/nope",
        "/logtail/nope/stderr",
        "/mainlogtail/../../etc/passwd",
        "/../../etc/passwd",
        "/etc/passwd",
    ] {
        let r = http_raw(&a, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
            .unwrap_or_else(|| panic!("no answer for {path}"));
        assert_eq!(r.status, 404, "{path}: {r:?}");
        assert!(
            !r.text().contains("root:") && !r.text().contains("TOP SECRET"),
            "{path}"
        );
    }
    // A real log is served (so the 404s above are not just a broken route).
    h.eventually(T, "sleeper's output in its log", || {
        rpc(
            &a,
            "supervisor.readProcessStdoutLog",
            &[s("sleeper"), i(0), i(0)],
        )
        .rpc()
        .ok()
        .and_then(|v| v.as_str().map(|x| x.contains("out")))
            == Some(true)
    });
    let mut st = Stream::connect(&a);
    st.write_all(b"GET /logtail/sleeper HTTP/1.0\r\n\r\n")
        .expect("send");
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && st.read(&mut b).map(|n| n == 1).unwrap_or(false) {
        head.push(b[0]);
    }
    assert!(
        String::from_utf8_lossy(&head).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
}

#[test]
fn waiting_stop_and_start_calls_are_answered_when_other_clients_race_them() {
    // Pairs of clients stop and start the same program over and over.  A
    // stopProcess(wait) whose process is stopped and then started again by
    // the other client before its answer is checked must still be answered
    // (it stopped), and so must a startProcess(wait) whose process another
    // client stopped before it ran.
    let mut conf = String::new();
    for i in 0..4 {
        conf.push_str(&format!(
            "[program:w{i}]\ncommand=sleep 100000\nstartsecs=0\n\n"
        ));
    }
    let h = start_daemon("rpc_wait_race", &conf);
    let a = addr(&h);
    h.eventually(T, "all four RUNNING", || {
        states(&a).iter().all(|(_, s)| s == "RUNNING")
    });
    let until = Instant::now() + Duration::from_secs(3);
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let a = a.clone();
            std::thread::spawn(move || {
                let name = xml::string(&format!("w{}", (c / 2) % 4));
                let method = if c % 2 == 0 {
                    "supervisor.stopProcess"
                } else {
                    "supervisor.startProcess"
                };
                let body = call_body(method, std::slice::from_ref(&name));
                let mut calls = 0;
                while Instant::now() < until {
                    let t0 = Instant::now();
                    let mut s = Stream::connect(&a);
                    s.set_timeout(Some(Duration::from_secs(10)));
                    s.write_all(&post_request(body.as_bytes(), None, true))
                        .expect("send");
                    let r = read_response(&mut s).unwrap_or_else(|| {
                        panic!("client {c}: {method} unanswered after {:?}", t0.elapsed())
                    });
                    assert_eq!(r.status, 200, "client {c}: {method} → {r:?}");
                    match r.rpc() {
                        Ok(v) => assert_eq!(v, Value::Bool(true)),
                        // The other client got there first.
                        Err(f) => assert!(
                            ["NOT_RUNNING", "ALREADY_STARTED", "ABNORMAL_TERMINATION"]
                                .iter()
                                .any(|n| f.string.starts_with(n)),
                            "client {c}: {method}: {f:?}"
                        ),
                    }
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    let calls: usize = clients
        .into_iter()
        .map(|c| c.join().expect("a client thread panicked"))
        .sum();
    assert!(calls > 100, "only {calls} calls in 3 s");
    assert_serving(&h);
}

/// The hostile requests of issue 8, each with how it must be refused: a
/// fault whose string holds this text, or (empty text) an HTTP 400.
fn hostile_requests() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let deep = call_body(
        "supervisor.getState",
        &[format!(
            "{}{}",
            "<array><data><value>".repeat(100_000),
            "</value></data></array>".repeat(100_000)
        )],
    );
    // A body of exactly the 16 MiB limit: one huge string argument.
    let shell = call_body("supervisor.getState", &[xml::string("")]);
    let pad = "x".repeat(16 * 1024 * 1024 - shell.len());
    let full = call_body("supervisor.getState", &[xml::string(&pad)]);
    assert_eq!(full.len(), 16 * 1024 * 1024);
    let one_call = "<value><struct><member><name>methodName</name><value><string>supervisor.getState</string></value></member><member><name>params</name><value><array><data></data></array></value></member></struct></value>";
    let array_of = |item: &str, n: usize| format!("<array><data>{}</data></array>", item.repeat(n));
    let multicall = call_body("system.multicall", &[array_of(one_call, 10_000)]);
    // Two million empty values in 16 MB.
    let empties = call_body("supervisor.getState", &[array_of("<value/>", 2_000_000)]);
    let doctype = "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY % p 'y'>]><methodCall><methodName>supervisor.getState</methodName></methodCall>";
    vec![
        (
            "100,000-deep arrays",
            deep.into_bytes(),
            "nested deeper than 64",
        ),
        ("16 MiB body", full.into_bytes(), "INCORRECT_PARAMETERS"),
        (
            "multicall of 10,000 calls",
            multicall.into_bytes(),
            "at most 1000",
        ),
        (
            "2,000,000 empty values",
            empties.into_bytes(),
            "more than 100000 values",
        ),
        (
            "DOCTYPE with a parameter entity",
            doctype.as_bytes().to_vec(),
            "",
        ),
    ]
}

#[test]
fn hostile_requests_are_refused_and_leave_no_lasting_memory() {
    let h = start_daemon("rpc_hostile_memory", ONE_SLEEPER);
    let a = addr(&h);
    let pid = h.daemon_pid().expect("daemon pid");
    assert_serving(&h);
    let idle = vm_rss_kib(pid);
    let limit = idle + 10 * 1024;
    // Every connection stays open, as a client that wants to pin the
    // memory of its requests would keep it.
    let mut kept = Vec::new();
    for (what, body, why) in hostile_requests() {
        let mut s = Stream::connect(&a);
        s.write_all(&post_request(&body, None, false))
            .unwrap_or_else(|e| panic!("{what}: send: {e}"));
        drop(body);
        let r = read_response(&mut s).unwrap_or_else(|| panic!("{what}: no answer"));
        if why.is_empty() {
            assert_eq!(r.status, 400, "{what}: {}", tail(&r.text(), 300));
        } else {
            match r.rpc() {
                Err(f) => {
                    assert_eq!(f.code, 2, "{what}: {f:?}");
                    assert!(f.string.contains(why), "{what}: {f:?}");
                }
                Ok(v) => panic!("{what}: answered {:?}", tail(&format!("{v:?}"), 300)),
            }
        }
        // The same connection goes on serving.
        let good = call_body("supervisor.getState", &[]);
        s.write_all(&post_request(good.as_bytes(), None, false))
            .expect("send");
        let again = read_response(&mut s).expect("an answer on the same connection");
        assert!(again.rpc().is_ok(), "{what}: then {again:?}");
        kept.push(s);
        assert_serving(&h);
        let mut now = vm_rss_kib(pid);
        let settled = wait_until(Duration::from_secs(5), "RSS back near idle", || {
            now = vm_rss_kib(pid);
            now <= limit
        });
        println!(
            "{what}: HTTP {}, VmRSS {now} KiB (idle {idle} KiB)",
            r.status
        );
        assert!(
            settled.is_ok(),
            "{what}: daemon RSS {now} KiB, idle was {idle} KiB"
        );
    }
    drop(kept);
    assert_serving(&h);
}

#[test]
fn multicall_takes_at_most_a_thousand_calls() {
    let h = start_daemon("rpc_multicall_limit", ONE_SLEEPER);
    let a = addr(&h);
    let one = "<value><struct><member><name>methodName</name><value>supervisor.getPID</value></member></struct></value>";
    let multicall = |n: usize| {
        let r = rpc(
            &a,
            "system.multicall",
            &[format!("<array><data>{}</data></array>", one.repeat(n))],
        );
        r.rpc()
    };
    let pid = h.daemon_pid().expect("daemon pid");
    match multicall(1000) {
        Ok(Value::Array(results)) => {
            assert_eq!(results.len(), 1000);
            assert!(
                results.iter().all(|r| r.as_int() == Some(pid)),
                "{results:?}"
            );
        }
        other => panic!("1000 calls: {other:?}"),
    }
    match multicall(1001) {
        Err(f) => {
            assert_eq!(f.code, 2, "{f:?}");
            assert!(f.string.contains("1001 calls; at most 1000"), "{f:?}");
        }
        Ok(v) => panic!(
            "1001 calls answered: {:?}",
            v.as_array().map(<[Value]>::len)
        ),
    }
    assert_serving(&h);
}
