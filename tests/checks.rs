//! Readiness and liveness checks (SPEC Part B): each form (`tcp://`,
//! `http://`, `exec:`) passing, failing and timing out, readiness in
//! `/readyz`, `/metrics` and the `ready` field of getProcessInfo (and the
//! Python supervisorctl still reading it), a liveness restart with its log
//! line, bad values refused by `--check`, and no wake-up when no check is
//! active.  The servers the checks talk to belong to the test, which
//! switches their answers; every wait polls with a deadline.

use crate::loop_robust::switches;
use crate::rpc_robust::{Addr, HttpResponse, http_raw, rpc};
use crate::util::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::Duration;
use supervisor_rs::rpc::Value;

const T: Duration = Duration::from_secs(20);

/// An HTTP server of the test on 127.0.0.1: every request gets the status
/// in `status`, or no answer at all while it is 0 (the connection is held
/// open).  Stopped and joined on drop.
struct Server {
    port: u16,
    status: Arc<AtomicU16>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn bind(port: u16, status: u16) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
        let port = listener.local_addr().expect("local addr").port();
        let status = Arc::new(AtomicU16::new(status));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (Arc::clone(&status), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = stream else { continue };
                let code = st.load(Ordering::SeqCst);
                if code == 0 {
                    held.push(s);
                    continue;
                }
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut req = Vec::new();
                let mut buf = [0u8; 512];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = write!(s, "HTTP/1.0 {code} X\r\nContent-Length: 0\r\n\r\n");
            }
        });
        Server {
            port,
            status,
            stop,
            thread: Some(thread),
        }
    }

    fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Start the daemon with a health port and `sections`.
fn start(name: &str, sections: &str) -> (Harness, u16) {
    let mut h = Harness::new(name);
    let health = free_port();
    h.write_standard_conf(&h.subst(&format!(
        "[health_server]\nport=127.0.0.1:{health}\n\n{sections}"
    )));
    h.start(&[]);
    h.wait_for_socket(T);
    h.eventually(T, "the health port", || {
        TcpStream::connect(("127.0.0.1", health)).is_ok()
    });
    (h, health)
}

/// A program that runs until stopped.
fn program(name: &str, options: &str) -> String {
    format!(
        "[program:{name}]\ncommand=/bin/sh -c 'echo $$ >> {{dir}}/{name}.pids; exec sleep 1000'\nstartsecs=0\n{options}\n\n"
    )
}

fn get(port: u16, target: &str) -> HttpResponse {
    let req = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    http_raw(&Addr::Tcp(port), req.as_bytes()).unwrap_or_else(|| panic!("no answer to {target}"))
}

fn process_info(h: &Harness, name: &str) -> Value {
    rpc(
        &Addr::Unix(h.socket_path()),
        "supervisor.getProcessInfo",
        &[xml::string(name)],
    )
    .rpc()
    .unwrap_or_else(|f| panic!("getProcessInfo({name}): {f}"))
}

fn ready_field(h: &Harness, name: &str) -> Option<bool> {
    process_info(h, name).get("ready").and_then(Value::as_bool)
}

/// Wait until `/readyz?program=NAME` answers `status` and the `ready`
/// field says `ready`.
fn wait_ready(h: &Harness, health: u16, name: &str, ready: bool) {
    let want = if ready { 200 } else { 503 };
    h.eventually(T, &format!("{name} ready={ready}"), || {
        get(health, &format!("/readyz?program={name}")).status == want
            && ready_field(h, name) == Some(ready)
    });
}

#[test]
fn tcp_readiness_follows_the_port() {
    let port = free_port();
    let (h, health) = start(
        "checks_tcp",
        &program(
            "web",
            &format!("readiness_check=tcp://127.0.0.1:{port}\nreadiness_interval=0.2"),
        ),
    );
    h.wait_log("success: web entered RUNNING", T);
    // Nothing listens yet: RUNNING but not ready.
    wait_ready(&h, health, "web", false);
    let r = get(health, "/readyz");
    assert_eq!(r.status, 503);
    assert!(
        r.text()
            .contains("web RUNNING (readiness check not passing)"),
        "{}",
        r.text()
    );
    h.wait_log(
        "readiness check of web failed (connection refused): not ready",
        T,
    );
    let server = Server::bind(port, 200);
    wait_ready(&h, health, "web", true);
    assert_eq!(get(health, "/readyz").status, 200);
    h.wait_log("readiness check of web passed: ready", T);
    // The port goes away: not ready again, and the log says why.
    drop(server);
    wait_ready(&h, health, "web", false);
    assert!(
        h.main_log()
            .lines()
            .any(|l| l
                .contains("WARN readiness check of web failed (connection refused): not ready")),
        "{}",
        h.diagnostics()
    );
}

#[test]
fn http_readiness_passes_on_2xx_only_and_times_out() {
    let server = Server::bind(0, 500);
    let (h, health) = start(
        "checks_http",
        &program(
            "web",
            &format!(
                "readiness_check=http://127.0.0.1:{}/health\nreadiness_interval=0.2\nreadiness_timeout=0.3",
                server.port
            ),
        ),
    );
    h.wait_log(
        "readiness check of web failed (HTTP status 500): not ready",
        T,
    );
    wait_ready(&h, health, "web", false);
    server.set(204);
    wait_ready(&h, health, "web", true);
    // A server that accepts and never answers: the attempt times out.
    server.set(0);
    wait_ready(&h, health, "web", false);
    h.wait_log(
        "readiness check of web failed (timed out after 0.3 s): not ready",
        T,
    );
}

#[test]
fn exec_readiness_exit_status_and_timeout_kill() {
    let (h, health) = start(
        "checks_exec",
        &program(
            "web",
            "readiness_check=exec:/bin/sh -c 'echo $$ >> {dir}/check.pids; if [ -e {dir}/hang ]; then exec sleep 30; fi; test -e {dir}/ok'\nreadiness_interval=0.2\nreadiness_timeout=0.5",
        ),
    );
    h.wait_log(
        "readiness check of web failed (exit status 1): not ready",
        T,
    );
    wait_ready(&h, health, "web", false);
    h.write_file("ok", "");
    wait_ready(&h, health, "web", true);
    // The check hangs beyond its timeout: killed, reaped, a failure.
    h.write_file("hang", "");
    wait_ready(&h, health, "web", false);
    h.wait_log(
        "readiness check of web failed (timed out after 0.5 s): not ready",
        T,
    );
    let hung = h.read_pids("check.pids");
    let last = *hung.last().expect("check pids");
    h.eventually(T, "the hung check is killed and reaped", || {
        !pid_alive(last) && !is_zombie(last)
    });
    assert!(
        !h.main_log().contains("reaped unknown pid"),
        "{}",
        h.diagnostics()
    );
}

#[test]
fn liveness_failures_restart_the_program_with_its_stop_signal() {
    let closed = free_port();
    let (h, _) = start(
        "checks_liveness",
        &format!(
            "[program:web]\n\
             command=/bin/sh -c 'echo $$ >> {{dir}}/web.pids; trap \"echo TERM >> {{dir}}/web.term; exit 0\" TERM; while :; do sleep 0.05; done'\n\
             startsecs=0\nliveness_check=tcp://127.0.0.1:{closed}\nliveness_interval=0.2\nliveness_failures=3\n\n"
        ),
    );
    h.wait_log(
        "liveness check of web failed 3 times (connection refused): restarting",
        T,
    );
    let log = h.main_log();
    assert!(
        log.contains("liveness check of web failed (connection refused), 1 of 3")
            && log.contains("liveness check of web failed (connection refused), 2 of 3"),
        "{}",
        h.diagnostics()
    );
    h.eventually(T, "a second run of web", || {
        h.read_pids("web.pids").len() >= 2
    });
    let pids = h.read_pids("web.pids");
    assert!(h.read("web.term").contains("TERM"), "{}", h.diagnostics());
    h.eventually(T, "the first run is gone", || !pid_alive(pids[0]));
    h.eventually(T, "web RUNNING again", || {
        process_info(&h, "web")
            .get("statename")
            .and_then(Value::as_str)
            == Some("RUNNING")
    });
    // No readiness check: no `ready` field.
    assert_eq!(process_info(&h, "web").get("ready"), None);
}

#[test]
fn ready_field_only_with_a_readiness_check_and_python_supervisorctl_reads_it() {
    let server = Server::bind(0, 200);
    let (h, health) = start(
        "checks_field",
        &format!(
            "{}{}",
            program(
                "web",
                &format!(
                    "readiness_check=tcp://127.0.0.1:{}\nreadiness_interval=0.2",
                    server.port
                )
            ),
            program("plain", "")
        ),
    );
    wait_ready(&h, health, "web", true);
    h.wait_log("success: plain entered RUNNING", T);
    assert_eq!(process_info(&h, "plain").get("ready"), None);
    // getAllProcessInfo (its own encoder) agrees.
    let all = rpc(
        &Addr::Unix(h.socket_path()),
        "supervisor.getAllProcessInfo",
        &[],
    )
    .rpc()
    .expect("getAllProcessInfo");
    let Value::Array(items) = all else {
        panic!("getAllProcessInfo: {all:?}")
    };
    let field = |name: &str| {
        items
            .iter()
            .find(|x| x.get("name").and_then(Value::as_str) == Some(name))
            .map(|x| x.get("ready").and_then(Value::as_bool))
    };
    assert_eq!(field("web"), Some(Some(true)));
    assert_eq!(field("plain"), Some(None));
    // /metrics: the ready gauge of web is 1.
    let m = get(health, "/metrics").text();
    assert!(
        m.contains("supervisord_process_ready{group=\"web\",name=\"web\"} 1"),
        "{m}"
    );
    // Our client and the reference one both still read the answers.
    let ours = h.ctl(&["status"]);
    let ours_text = output_text(&ours);
    assert_eq!(ours.status.code(), Some(0), "{ours_text}");
    for name in ["web", "plain"] {
        assert!(
            ours_text
                .lines()
                .any(|l| l.starts_with(name) && l.contains("RUNNING")),
            "{ours_text}"
        );
    }
    let Some(venv) = reference_venv() else {
        skip_unless(false, "SUPERVISOR_REF_VENV is not set");
        return;
    };
    let conf = h.conf_path();
    let o = run_with_timeout(
        std::process::Command::new(venv.join("bin").join("supervisorctl"))
            .arg("-c")
            .arg(&conf)
            .arg("status"),
        T,
    )
    .expect("python supervisorctl");
    let out = output_text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for name in ["web", "plain"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(name) && l.contains("RUNNING")),
            "{out}"
        );
    }
}

#[test]
fn metrics_ready_gauge_is_zero_until_the_check_passes() {
    let port = free_port();
    let (h, health) = start(
        "checks_metrics",
        &program(
            "web",
            &format!("readiness_check=http://127.0.0.1:{port}/\nreadiness_interval=0.2"),
        ),
    );
    wait_ready(&h, health, "web", false);
    let gauge = |h: &Harness| {
        let m = get(health, "/metrics").text();
        m.lines()
            .find_map(|l| {
                l.strip_prefix("supervisord_process_ready{group=\"web\",name=\"web\"} ")
                    .map(str::to_string)
            })
            .unwrap_or_else(|| panic!("no ready gauge in {m}\n{}", h.diagnostics()))
    };
    assert_eq!(gauge(&h), "0");
    let _server = Server::bind(port, 200);
    wait_ready(&h, health, "web", true);
    assert_eq!(gauge(&h), "1");
}

#[test]
fn no_wake_up_without_an_active_check() {
    // `plain` runs with no check; `idle` has checks but is not running.
    let (h, _) = start(
        "checks_idle",
        &format!(
            "{}{}",
            program("plain", ""),
            program(
                "idle",
                "autostart=false\nreadiness_check=tcp://127.0.0.1:1\nliveness_check=exec:/bin/false\nreadiness_interval=0.1\nliveness_interval=0.1"
            )
        ),
    );
    h.wait_log("success: plain entered RUNNING", T);
    let pid = h.daemon_pid().expect("daemon pid");
    // Settle: the start-up turns and the health port's first connection.
    let mut before = switches(pid);
    h.eventually(T, "a quiet daemon", || {
        std::thread::sleep(Duration::from_millis(300));
        let now = switches(pid);
        let quiet = now == before;
        before = now;
        quiet
    });
    let start = switches(pid);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(switches(pid) - start, 0, "{}", h.diagnostics());
    assert!(
        !h.main_log().contains("check of idle"),
        "{}",
        h.diagnostics()
    );
}

#[test]
fn check_refuses_bad_check_values_with_their_place() {
    let h = Harness::new("checks_check");
    let conf = h.write_standard_conf(
        "[program:a]\ncommand=/bin/true\nreadiness_check=tcp://127.0.0.1\n\n\
         [program:b]\ncommand=/bin/true\nliveness_check=gopher://127.0.0.1:70\n\n\
         [program:c]\ncommand=/bin/true\nreadiness_check=exec:sh -c 'oops\n\n\
         [program:d]\ncommand=/bin/true\nliveness_check=tcp://127.0.0.1:1\nliveness_interval=-1\nliveness_timeout=-0.5\n",
    );
    let o = h.run(&["--check", "-c", conf.to_str().expect("utf-8 path")]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    let text = h.read("supervisord.conf");
    let line = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| format!("{}:{}:", conf.display(), i + 1))
            .expect("needle in config")
    };
    for (at, words) in [
        (
            "tcp://127.0.0.1\n",
            &["[program:a]", "readiness_check", "needs host:port"][..],
        ),
        (
            "gopher://",
            &[
                "[program:b]",
                "liveness_check",
                "'gopher://127.0.0.1:70' is not a check",
            ],
        ),
        (
            "'oops",
            &["[program:c]", "readiness_check", "unbalanced quote"],
        ),
        (
            "liveness_interval=-1",
            &["[program:d]", "liveness_interval", "'-1' seconds"],
        ),
        (
            "liveness_timeout=-0.5",
            &["[program:d]", "liveness_timeout", "'-0.5' seconds"],
        ),
    ] {
        let loc = line(at.trim_end());
        assert!(
            err.lines().any(|l| l.starts_with("Error: ")
                && l.contains(&loc)
                && words.iter().all(|w| l.contains(w))),
            "no error at {loc} with {words:?}:\n{err}"
        );
    }
    assert!(err.contains(": 5 errors"), "{err}");
    assert!(
        !h.path("supervisord.log").exists(),
        "--check started the daemon"
    );
}

#[test]
fn startup_refuses_a_bad_check_before_anything_runs() {
    let mut h = Harness::new("checks_refused");
    h.write_standard_conf(&h.subst(
        "[program:first]\ncommand=/bin/sh -c 'touch {dir}/ran; exec sleep 1000'\nstartsecs=0\npriority=1\n\n\
         [program:web]\ncommand=/bin/sleep 1000\nreadiness_check=http://127.0.0.1/ready\n",
    ));
    h.start(&[]);
    let st = h.wait_exit(T);
    assert_eq!(st.code(), Some(2), "{}", h.diagnostics());
    let err = h.daemon_stderr();
    assert!(
        err.lines().any(|l| l.starts_with("Error: ")
            && l.contains("[program:web] readiness_check:")
            && l.contains("needs host:port")),
        "{err}"
    );
    assert!(
        !h.path("ran").exists(),
        "a program ran\n{}",
        h.diagnostics()
    );
}
