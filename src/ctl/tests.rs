//! Controller tests against a scripted fake server on a unix socket: output
//! lines and exit codes for replies the reference daemon gives, and no
//! panic for replies it never gives (malformed XML, wrong types, a closed
//! connection, HTTP errors).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::commands::Controller;
use super::input::{Input, Line};
use super::options::Settings;
use crate::rpc::{Fault, Value, encode_fault, encode_response};

/// What the fake server answers to one XML-RPC method.
type Responder = dyn Fn(&str, &str) -> Vec<u8> + Send + Sync;

fn http_ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn ok(v: Value) -> Vec<u8> {
    http_ok(&encode_response(&v))
}

fn fault(code: i32, s: &str) -> Vec<u8> {
    http_ok(&encode_fault(&Fault::raw(code, s)))
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in body.chunks(7) {
        r.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        r.extend_from_slice(part);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

struct FakeServer {
    dir: tempfile::TempDir,
}

impl FakeServer {
    /// Serve every connection with `respond(method, request_text)`.
    fn start(respond: Box<Responder>) -> FakeServer {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("s.sock")).unwrap();
        let respond: Arc<Responder> = Arc::from(respond);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let respond = Arc::clone(&respond);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut head = String::new();
                    let mut len = 0usize;
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        head.push_str(&l);
                        if l == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0u8; len];
                    let _ = reader.read_exact(&mut body);
                    let body = String::from_utf8_lossy(&body).into_owned();
                    let method = body
                        .split("<methodName>")
                        .nth(1)
                        .and_then(|r| r.split("</methodName>").next())
                        .unwrap_or(head.lines().next().unwrap_or(""))
                        .to_string();
                    let reply = respond(&method, &format!("{head}{body}"));
                    let _ = conn.write_all(&reply);
                });
            }
        });
        FakeServer { dir }
    }

    fn url(&self) -> String {
        format!("unix://{}", self.dir.path().join("s.sock").display())
    }
}

#[derive(Clone, Default)]
struct SharedOut(Arc<Mutex<Vec<u8>>>);

impl Write for SharedOut {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Scripted(Vec<Line>, Arc<Mutex<Vec<String>>>);

impl Input for Scripted {
    fn read_line(&mut self, prompt: &str) -> Line {
        self.1.lock().unwrap().push(prompt.to_string());
        if self.0.is_empty() {
            Line::Eof
        } else {
            self.0.remove(0)
        }
    }
    fn read_password(&mut self, prompt: &str) -> Line {
        self.read_line(prompt)
    }
}

struct Run {
    ctl: Controller,
    out: SharedOut,
    prompts: Arc<Mutex<Vec<String>>>,
}

impl Run {
    fn new(url: &str, interactive: bool, answers: Vec<Line>) -> Run {
        let out = SharedOut::default();
        let prompts = Arc::new(Mutex::new(Vec::new()));
        let settings = Settings {
            serverurl: url.to_string(),
            interactive,
            ..Settings::default()
        };
        let ctl = Controller::new(
            settings,
            Box::new(out.clone()),
            Box::new(Scripted(answers, Arc::clone(&prompts))),
            Arc::new(AtomicBool::new(false)),
        );
        Run { ctl, out, prompts }
    }

    /// Run `line`; returns (stdout, exit status).
    fn cmd(&mut self, line: &str) -> (String, i32) {
        self.out.0.lock().unwrap().clear();
        let _ = self.ctl.onecmd(line);
        let text = String::from_utf8_lossy(&self.out.0.lock().unwrap()).into_owned();
        (text, self.ctl.exitstatus)
    }
}

fn info(group: &str, name: &str, state: i32, statename: &str, desc: &str) -> Value {
    Value::structure([
        ("name", Value::from(name)),
        ("group", Value::from(group)),
        ("state", Value::Int(state)),
        ("statename", Value::from(statename)),
        ("description", Value::from(desc)),
        ("pid", Value::Int(if state == 20 { 42 } else { 0 })),
    ])
}

fn result(group: &str, name: &str, status: i32) -> Value {
    Value::structure([
        ("name", Value::from(name)),
        ("group", Value::from(group)),
        ("status", Value::Int(status)),
        ("description", Value::from("x")),
    ])
}

/// A well-behaved server with a few processes.
fn normal(method: &str, req: &str) -> Vec<u8> {
    match method {
        "supervisor.getVersion" => ok(Value::from("3.0")),
        "supervisor.getAllProcessInfo" => ok(Value::array([
            info("g", "a", 20, "RUNNING", "pid 42, uptime 0:00:05"),
            info("g", "b", 0, "STOPPED", "Not started"),
            info("web", "web", 30, "BACKOFF", "Exited too quickly"),
        ])),
        "supervisor.getProcessInfo" if req.contains("<string>g:a</string>") => {
            ok(info("g", "a", 20, "RUNNING", ""))
        }
        "supervisor.getProcessInfo" if req.contains("<string>g:b</string>") => {
            ok(info("g", "b", 0, "STOPPED", ""))
        }
        "supervisor.getProcessInfo" => fault(10, "BAD_NAME: x"),
        "supervisor.startProcess" if req.contains("<string>web</string>") => {
            fault(50, "SPAWN_ERROR: web")
        }
        "supervisor.startProcess" if req.contains("<string>g:a</string>") => {
            fault(60, "ALREADY_STARTED: g:a")
        }
        "supervisor.startProcess" if req.contains("<string>odd</string>") => {
            fault(30, "FAILED: odd")
        }
        "supervisor.startProcess" => ok(Value::Bool(true)),
        "supervisor.startProcessGroup" if req.contains("<string>nope</string>") => {
            fault(10, "BAD_NAME: nope")
        }
        "supervisor.startProcessGroup" => {
            ok(Value::array([result("g", "a", 60), result("g", "b", 80)]))
        }
        "supervisor.stopProcess" => fault(70, "NOT_RUNNING: x"),
        "supervisor.getPID" => ok(Value::Int(4242)),
        "supervisor.reloadConfig" => ok(Value::array([Value::array([
            Value::array(["new"]),
            Value::array(["g"]),
            Value::array(["old"]),
        ])])),
        "supervisor.readProcessStdoutLog" => ok(Value::from("line1\nline2\n")),
        "supervisor.readLog" => chunked(&encode_response(&Value::from("main log\n"))),
        "supervisor.shutdown" => fault(6, "SHUTDOWN_STATE"),
        _ => fault(1, "UNKNOWN_METHOD"),
    }
}

#[test]
fn status_lines_and_lsb_codes() {
    let srv = FakeServer::start(Box::new(normal));
    let mut r = Run::new(&srv.url(), false, vec![]);
    let (out, rc) = r.cmd("status");
    assert_eq!(
        out,
        "g:a                              RUNNING   pid 42, uptime 0:00:05\n\
         g:b                              STOPPED   Not started\n\
         web                              BACKOFF   Exited too quickly\n"
    );
    assert_eq!(rc, 3, "a STOPPED process makes status exit 3");

    let mut r = Run::new(&srv.url(), false, vec![]);
    let (out, rc) = r.cmd("status g:a web");
    assert_eq!(out.lines().count(), 2);
    assert_eq!(rc, 0, "BACKOFF counts as running");

    let mut r = Run::new(&srv.url(), false, vec![]);
    let (out, rc) = r.cmd("status nope:* g:zz g:a");
    assert!(out.starts_with("nope: ERROR (no such group)\ng:zz: ERROR (no such process)\n"));
    assert_eq!(rc, 4);
}

#[test]
fn start_results_and_exit_codes() {
    let srv = FakeServer::start(Box::new(normal));
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(
        r.cmd("start g:a"),
        ("g:a: ERROR (already started)\n".into(), 0)
    );
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(r.cmd("start web"), ("web: ERROR (spawn error)\n".into(), 7));
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(
        r.cmd("start g:*"),
        ("g:a: ERROR (already started)\ng:b: started\n".into(), 0)
    );
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(
        r.cmd("start nope:*"),
        ("nope: ERROR (no such group)\n".into(), 2)
    );
    let mut r = Run::new(&srv.url(), false, vec![]);
    let (out, rc) = r.cmd("start");
    assert!(out.starts_with("Error: start requires a process name\nstart <name>"));
    assert_eq!(rc, 2);
    // A result code start does not know is the reference's ValueError.
    let mut r = Run::new(&srv.url(), false, vec![]);
    let (out, rc) = r.cmd("start odd x");
    assert_eq!(
        out,
        "error: <class 'ValueError'>, Unknown result code 30 for odd: file: supervisorctl line: 0\n"
    );
    assert_eq!(rc, 1);
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(r.cmd("stop g:b"), ("g:b: ERROR (not running)\n".into(), 0));
}

#[test]
fn misc_commands() {
    let srv = FakeServer::start(Box::new(normal));
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(r.cmd("pid"), ("4242\n".into(), 0));
    assert_eq!(r.cmd("pid g:b"), ("0\n".into(), 7));
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(r.cmd("pid zz"), ("No such process zz\n".into(), 1));
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(
        r.cmd("reread"),
        ("g: changed\nnew: available\nold: disappeared\n".into(), 0)
    );
    assert_eq!(r.cmd("tail -5 g:a"), ("line1\nline2\n\n".into(), 0));
    assert_eq!(r.cmd("maintail"), ("main log\n\n".into(), 0));
    assert_eq!(
        r.cmd("tail g:a bogus"),
        ("Error: bad channel 'bogus'\n".into(), 1)
    );
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(
        r.cmd("shutdown"),
        ("ERROR: already shutting down\n".into(), 0)
    );
    assert_eq!(r.cmd("quit"), ("\n".into(), 0));
    assert_eq!(r.cmd("bogus"), ("*** Unknown syntax: bogus\n".into(), 1));
    let mut r = Run::new(&srv.url(), false, vec![]);
    assert_eq!(r.cmd(""), (String::new(), 0));
    assert_eq!(r.cmd("help nope"), ("*** No help on nope\n".into(), 0));
    let (out, _) = r.cmd("?");
    assert!(out.contains("default commands (type help <topic>):\n====="));
    assert_eq!(
        r.cmd("open ftp://x"),
        ("ERROR: url must be http:// or unix://\n".into(), 1)
    );
}

#[test]
fn interactive_confirmation_and_credentials() {
    let srv = FakeServer::start(Box::new(|method: &str, req: &str| {
        if !req.contains("Authorization: Basic dXNlcjpwYXNz") {
            return b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_vec();
        }
        normal(method, req)
    }));
    // Non-interactive: the reference's two lines, exit 1.
    let mut r = Run::new(&srv.url(), false, vec![]);
    let (out, rc) = r.cmd("version");
    assert_eq!(
        out,
        "Server requires authentication\n\
         error: <class 'xmlrpc.client.ProtocolError'>, <ProtocolError for 127.0.0.1/RPC2: \
         401 Unauthorized>: file: supervisorctl line: 0\n"
    );
    assert_eq!(rc, 1);
    // Interactive: ask, then retry with the answers.
    let mut r = Run::new(
        &srv.url(),
        true,
        vec![
            Line::Text("user".into()),
            Line::Text("pass".into()),
            Line::Text("no".into()),
        ],
    );
    let (out, _) = r.cmd("pid");
    assert_eq!(out, "Server requires authentication\n\n4242\n");
    let (out, _) = r.cmd("shutdown");
    assert_eq!(out, "");
    assert_eq!(
        *r.prompts.lock().unwrap(),
        vec![
            "Username:",
            "Password:",
            "Really shut the remote supervisord process down y/N? "
        ]
    );
}

#[test]
fn hostile_replies_never_panic() {
    let replies: Vec<(&str, Vec<u8>)> = vec![
        ("garbage xml", http_ok(b"<methodResponse><params><param>")),
        ("not xml", http_ok(b"\x00\xff hello")),
        ("closed", Vec::new()),
        ("bad status line", b"HELLO\r\n\r\n".to_vec()),
        (
            "500",
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        (
            "short body",
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<x".to_vec(),
        ),
        (
            "bad chunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        ),
        (
            "bad length",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n".to_vec(),
        ),
    ];
    let commands = [
        "status",
        "status a",
        "start a",
        "start g:*",
        "start all",
        "stop a",
        "stop all",
        "restart a",
        "signal HUP a",
        "signal HUP all",
        "pid",
        "pid a",
        "pid all",
        "avail",
        "reread",
        "update",
        "update g",
        "add g",
        "remove g",
        "tail a",
        "maintail",
        "clear a",
        "clear all",
        "version",
        "shutdown",
        "reload",
        "fg a",
    ];
    for (what, reply) in replies {
        let srv = FakeServer::start(Box::new(move |_: &str, _: &str| reply.clone()));
        for c in commands {
            let mut r = Run::new(&srv.url(), false, vec![]);
            let (out, rc) = r.cmd(c);
            assert_ne!(rc, 0, "{what}: {c} should fail: {out}");
            assert!(!out.is_empty(), "{what}: {c} printed nothing");
        }
    }
    // Replies of the right method but the wrong shape.
    let shapes: Vec<Value> = vec![
        Value::Nil,
        Value::Double(1.5),
        Value::Int(1),
        Value::from("x"),
        Value::array([Value::Int(1)]),
        Value::array([Value::structure([("name", Value::Int(1))])]),
        Value::array([Value::array([Value::Int(1), Value::Int(2)])]),
        Value::Struct(vec![]),
    ];
    for shape in shapes {
        let s2 = shape.clone();
        let srv = FakeServer::start(Box::new(move |m: &str, _: &str| {
            if m == "supervisor.getVersion" && !matches!(s2, Value::Nil) {
                ok(Value::from("3.0"))
            } else {
                ok(s2.clone())
            }
        }));
        for c in commands {
            let mut r = Run::new(&srv.url(), false, vec![]);
            let _ = r.cmd(c);
        }
    }
}

#[test]
fn connection_errors_like_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("unix://{}/none.sock", dir.path().display());
    let mut r = Run::new(&missing, false, vec![]);
    assert_eq!(r.cmd("version"), (format!("{missing} no such file\n"), 7));
    let mut r = Run::new(&missing, false, vec![]);
    assert_eq!(r.cmd("status"), (format!("{missing} no such file\n"), 4));
    let mut r = Run::new(&missing, false, vec![]);
    assert_eq!(
        r.cmd("shutdown"),
        (
            format!("ERROR: {missing} no such file (already shut down?)\n"),
            1
        )
    );
    let mut r = Run::new(&missing, false, vec![]);
    assert_eq!(
        r.cmd("avail"),
        (
            "error: <class 'FileNotFoundError'>, [Errno 2] No such file or directory: \
             file: supervisorctl line: 0\n"
                .into(),
            1
        )
    );
    // A socket file nobody listens on refuses the connection.
    let path = dir.path().join("dead.sock");
    drop(UnixListener::bind(&path).unwrap());
    let dead = format!("unix://{}", path.display());
    let mut r = Run::new(&dead, false, vec![]);
    assert_eq!(
        r.cmd("start x"),
        (format!("{dead} refused connection\n"), 4)
    );
    let mut r = Run::new("foo://x", false, vec![]);
    assert_eq!(
        r.cmd("add"),
        (
            "error: <class 'ValueError'>, Unknown protocol for serverurl foo://x: \
             file: supervisorctl line: 0\n"
                .into(),
            1
        )
    );
    // The namespace check.
    let srv = FakeServer::start(Box::new(|_: &str, _: &str| fault(1, "UNKNOWN_METHOD")));
    let mut r = Run::new(&srv.url(), false, vec![]);
    let (out, rc) = r.cmd("version");
    assert!(out.starts_with("Sorry, supervisord responded but did not recognize"));
    assert_eq!(rc, 3);
    let srv = FakeServer::start(Box::new(|_: &str, _: &str| ok(Value::from("2.0"))));
    let mut r = Run::new(&srv.url(), false, vec![]);
    let (out, rc) = r.cmd("version");
    assert!(out.ends_with("but the remote version is 2.0.\n"), "{out}");
    assert_eq!(rc, 5);
}
