//! `[health_server]` (SPEC Part B, B1): `/healthz`, `/readyz`, `/metrics`
//! on their own unauthenticated port, the same paths behind auth on
//! `[inet_http_server]`, and nothing else on the health port.

use crate::rpc_robust::{Addr, HttpResponse, basic, call_body, http_raw, post_request};
use crate::util::*;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

fn get(port: u16, target: &str, auth: Option<&str>) -> HttpResponse {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    http_raw(&Addr::Tcp(port), req.as_bytes()).unwrap_or_else(|| panic!("no answer to {target}"))
}

/// Programs: `web` runs; `job` is a one-shot that exits 0; `crasher`
/// exits 1 at once and goes FATAL; `manual` does not autostart.
fn start(name: &str, extra: &str) -> (Harness, u16) {
    let mut h = Harness::new(name);
    let port = free_port();
    h.write_standard_conf(&format!(
        "[health_server]
port=127.0.0.1:{port}

[program:web]
command=/bin/sh -c 'exec sleep 1000'
startsecs=0

[program:job]
command=/bin/sh -c 'exit 0'
startsecs=0
autorestart=false

[program:crasher]
command=/bin/sh -c 'exit 1'
startsecs=1
startretries=0

[program:manual]
command=/bin/sh -c 'exec sleep 1000'
autostart=false

{extra}"
    ));
    h.start(&[]);
    h.wait_for_socket(T);
    h.eventually(T, "the health port", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (h, port)
}

fn settled(h: &Harness) {
    h.wait_log("gave up: crasher entered FATAL state", T);
    h.wait_log("exited: job (exit status 0; expected)", T);
}

#[test]
fn health_port_answers_healthz_and_readyz() {
    let (h, port) = start("health_readyz", "");
    let r = get(port, "/healthz", None);
    assert_eq!((r.status, r.text()), (200, "ok\n".to_string()));
    settled(&h);
    // crasher (autostart) is FATAL: not ready, and the body says who.
    let r = get(port, "/readyz", None);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("crasher FATAL"), "{}", r.text());
    assert!(!r.text().contains("manual"), "{}", r.text());
    // The one-shot that exited as expected counts as ready.
    for (target, want) in [
        ("/readyz?program=web,job", 200),
        ("/readyz?program=web:web", 200),
        ("/readyz?program=job:*", 200),
        ("/readyz?program=crasher", 503),
        ("/readyz?program=manual", 503),
        ("/readyz?program=web,nope", 404),
        ("/readyz?program=nope:*", 404),
    ] {
        let r = get(port, target, None);
        assert_eq!(r.status, want, "{target}: {}", r.text());
    }
    // A HEAD gets the status, any other method 405.
    let r = http_raw(
        &Addr::Tcp(port),
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .expect("an answer");
    assert_eq!(r.status, 405);
}

#[test]
fn health_port_serves_nothing_else() {
    let (h, port) = start("health_nothing_else", "");
    for target in [
        "/",
        "/index.html",
        "/logtail/web",
        "/mainlogtail",
        "/RPC2",
        "/healthz/x",
    ] {
        assert_eq!(get(port, target, None).status, 404, "{target}");
    }
    let body = call_body("supervisor.getState", &[]);
    let r = http_raw(&Addr::Tcp(port), &post_request(body.as_bytes(), None, true)).expect("answer");
    assert_eq!(r.status, 404, "RPC on the health port: {}", r.text());
    drop(h);
}

/// Parse `/metrics` with prometheus_client's own parser and print what it
/// found as `name{labels} value` lines (labels sorted).
fn parse_metrics(text: &str) -> Option<Vec<String>> {
    let venv = reference_venv()?;
    let py = venv.join("bin").join("python");
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    print("FAMILY", fam.name, fam.type, fam.documentation != "")
    for s in fam.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {float(s.value)}")
"#;
    let has = Command::new(&py)
        .args(["-c", "import prometheus_client"])
        .status()
        .is_ok_and(|s| s.success());
    if !skip_unless(
        has,
        "prometheus_client is not installed in SUPERVISOR_REF_VENV",
    ) {
        return None;
    }
    let mut child = Command::new(&py)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "the parser refused:\n{}\n{text}",
        output_text(&out)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn metrics_parse_as_prometheus_text_with_every_family() {
    if !skip_unless(reference_venv().is_some(), "SUPERVISOR_REF_VENV is not set") {
        return;
    }
    // A group whose name needs escaping in a label value.
    let (h, port) = start(
        "health_metrics",
        "[program:odd]
command=/bin/sh -c 'exec sleep 1000'
process_name=o\"d\\d
startsecs=0
",
    );
    settled(&h);
    h.eventually(T, "odd RUNNING", || {
        h.main_log().contains("success: o\"d\\d entered RUNNING")
    });
    let r = get(port, "/metrics", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let Some(lines) = parse_metrics(&r.text()) else {
        return;
    };
    let has = |l: &str| lines.iter().any(|x| x == l);
    for fam in [
        "FAMILY supervisord_up gauge True",
        "FAMILY supervisord_uptime_seconds gauge True",
        "FAMILY supervisord_processes gauge True",
        "FAMILY supervisord_process_state gauge True",
        "FAMILY supervisord_process_start_time_seconds gauge True",
        "FAMILY supervisord_process_restarts gauge True",
        "FAMILY supervisord_process_exit_status gauge True",
        "FAMILY supervisord_process_ready gauge True",
    ] {
        // prometheus_client names a counter family without `_total`.
        let fam = if fam.contains("restarts") {
            "FAMILY supervisord_process_restarts counter True"
        } else {
            fam
        };
        assert!(has(fam), "{fam} missing in {lines:#?}");
    }
    for l in [
        "supervisord_up{} 1.0",
        "supervisord_processes{} 5.0",
        "supervisord_process_state{group=web,name=web,statename=RUNNING} 20.0",
        "supervisord_process_state{group=crasher,name=crasher,statename=FATAL} 200.0",
        "supervisord_process_state{group=job,name=job,statename=EXITED} 100.0",
        "supervisord_process_state{group=manual,name=manual,statename=STOPPED} 0.0",
        "supervisord_process_state{group=odd,name=o\"d\\d,statename=RUNNING} 20.0",
        "supervisord_process_ready{group=web,name=web} 1.0",
        "supervisord_process_ready{group=job,name=job} 1.0",
        "supervisord_process_ready{group=crasher,name=crasher} 0.0",
        "supervisord_process_exit_status{group=job,name=job} 0.0",
        "supervisord_process_restarts_total{group=web,name=web} 0.0",
        "supervisord_process_start_time_seconds{group=manual,name=manual} 0.0",
    ] {
        assert!(has(l), "{l} missing in {lines:#?}");
    }
    // crasher: startretries=0 means one spawn, no restart.
    assert!(has(
        "supervisord_process_restarts_total{group=crasher,name=crasher} 0.0"
    ));
    let start = lines
        .iter()
        .find_map(|l| l.strip_prefix("supervisord_process_start_time_seconds{group=web,name=web} "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("web's start time");
    assert!((start - unix_now() as f64).abs() < 60.0, "{start}");
    let uptime = lines
        .iter()
        .find_map(|l| l.strip_prefix("supervisord_uptime_seconds{} "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("uptime");
    assert!((0.0..60.0).contains(&uptime), "{uptime}");
}

#[test]
fn healthz_fails_while_the_event_loop_is_stalled() {
    let mut h = Harness::new("health_stall");
    let port = free_port();
    h.write_standard_conf(&format!("[health_server]\nport=127.0.0.1:{port}\n"));
    let conf = h.conf_path();
    let mut c = h.command(supervisord_bin());
    c.args(["-n", "-c"])
        .arg(&conf)
        .env("SUPERVISOR_RS_TEST_STALL_ON", "SIGUSR1");
    h.start_command(c);
    h.wait_for_socket(T);
    h.eventually(T, "/healthz 200", || {
        get(port, "/healthz", None).status == 200
    });
    h.signal(libc::SIGUSR1);
    // The loop sleeps 3 s: /healthz answers 503 after its 900 ms deadline.
    let t0 = Instant::now();
    let mut seen = None;
    while t0.elapsed() < Duration::from_secs(3) {
        let r = get(port, "/healthz", None);
        if r.status == 503 {
            seen = Some(r.text());
            break;
        }
    }
    let text = seen.expect("/healthz never failed while the loop was stalled");
    assert!(text.contains("did not answer within 900 ms"), "{text}");
    // And it recovers.
    h.eventually(T, "/healthz 200 again", || {
        get(port, "/healthz", None).status == 200
    });
}

#[test]
fn inet_server_has_the_health_paths_behind_its_auth() {
    let mut h = Harness::new("health_inet");
    let port = free_port();
    h.write_standard_conf(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\nusername=u\npassword=p\n\n\
         [program:web]\ncommand=/bin/sh -c 'exec sleep 1000'\nstartsecs=0\n"
    ));
    h.start(&[]);
    h.wait_for_socket(T);
    h.wait_log("success: web entered RUNNING", T);
    assert_eq!(get(port, "/healthz", None).status, 401);
    let auth = basic("u", "p");
    assert_eq!(get(port, "/healthz", Some(&auth)).status, 200);
    assert_eq!(get(port, "/readyz", Some(&auth)).status, 200);
    let m = get(port, "/metrics", Some(&auth));
    assert!(m.text().contains(
        "supervisord_process_state{group=\"web\",name=\"web\",statename=\"RUNNING\"} 20"
    ));
    // The unix socket is for RPC and logs only, as in Supervisor.
    let sock = Addr::Unix(h.socket_path());
    let r = http_raw(&sock, b"GET /healthz HTTP/1.0\r\n\r\n").expect("answer");
    assert_eq!(r.status, 404);
}

#[test]
fn health_server_config_errors_name_the_line() {
    let h = Harness::new("health_config");
    for (text, want) in [
        (
            "[health_server]\n",
            "section [health_server] has no port value",
        ),
        ("[health_server]\nport=notaport\n", "port"),
        (
            "[health_server]\nport=127.0.0.1:8080\ncolour=red\n",
            "unknown option 'colour'",
        ),
    ] {
        let conf = h.write_standard_conf(text);
        let o = h.run(&["--check", "-c", conf.to_str().unwrap_or_default()]);
        let all = output_text(&o);
        assert!(all.contains(want), "{text:?}: {all}");
        assert!(all.contains("supervisord.conf:"), "no file:line in {all}");
    }
}
