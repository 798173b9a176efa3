//! `pidproxy` (the multi-call binary under that name) keeps a program that
//! puts itself in the background supervised by our daemon.

use crate::rpc_robust::{Addr, rpc};
use crate::util::*;
use std::time::Duration;
use supervisor_rs::rpc::Value;

const T: Duration = Duration::from_secs(15);

/// A launcher that starts a worker in the background, writes the worker's
/// pid to `{dir}/worker.pid` and exits at once, as `mysqld_safe`-style
/// scripts do.  The worker reports each signal on stdout; TERM ends it
/// with status 7.
const LAUNCHER: &str = r#"
( trap 'echo "worker got HUP"' HUP
  trap 'echo "worker got USR1"' USR1
  trap 'echo "worker got TERM"; exit 7' TERM
  echo "worker started"
  while :; do sleep 0.05; done ) &
echo $! > {dir}/worker.pid
exit 0
"#;

fn start(name: &str) -> (Harness, Addr) {
    let mut h = Harness::new(name);
    h.write_script("launcher.sh", LAUNCHER);
    let proxy = h.bin_link("pidproxy");
    h.write_standard_conf(&format!(
        "[program:bg]
command={} {{dir}}/worker.pid {{dir}}/launcher.sh
startsecs=1
autorestart=false
stdout_logfile={{dir}}/bg.out
",
        proxy.display()
    ));
    h.start(&[]);
    h.wait_for_socket(T);
    let a = Addr::Unix(h.socket_path());
    (h, a)
}

fn state(a: &Addr) -> (String, i32) {
    let v = rpc(a, "supervisor.getProcessInfo", &[xml::string("bg")])
        .rpc()
        .unwrap_or_else(|f| panic!("getProcessInfo: {f}"));
    (
        v.get("statename")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        v.get("exitstatus").and_then(Value::as_int).unwrap_or(-1),
    )
}

#[test]
fn pidproxy_keeps_a_backgrounding_program_running_and_relays_signals() {
    let (h, a) = start("pidproxy_relay");
    h.wait_file_contains("bg.out", "worker started", T);
    // The launcher exited long ago; the program is RUNNING past startsecs.
    h.eventually(T, "bg RUNNING", || state(&a).0 == "RUNNING");
    let worker = h.wait_pid_file("worker.pid", T);
    assert!(pid_alive(worker));
    for (sig, word) in [("HUP", "worker got HUP"), ("USR1", "worker got USR1")] {
        let r = rpc(
            &a,
            "supervisor.signalProcess",
            &[xml::string("bg"), xml::string(sig)],
        );
        r.rpc()
            .unwrap_or_else(|f| panic!("signalProcess {sig}: {f}"));
        h.wait_file_contains("bg.out", word, T);
    }
    assert_eq!(state(&a).0, "RUNNING");
    // stop: TERM goes on to the worker, which exits; pidproxy exits with it.
    rpc(&a, "supervisor.stopProcess", &[xml::string("bg")])
        .rpc()
        .unwrap_or_else(|f| panic!("stopProcess: {f}"));
    h.wait_file_contains("bg.out", "worker got TERM", T);
    assert_eq!(state(&a), ("STOPPED".to_string(), 7));
    h.eventually(T, "the worker gone", || !pid_alive(worker));
}

#[test]
fn pidproxy_exits_with_the_status_of_the_backgrounded_process() {
    let (h, a) = start("pidproxy_status");
    h.eventually(T, "bg RUNNING", || state(&a).0 == "RUNNING");
    let worker = h.wait_pid_file("worker.pid", T);
    assert!(send_signal(worker, libc::SIGKILL));
    // Killed by SIGKILL: 128 + 9.
    h.eventually(T, "bg EXITED", || state(&a) == ("EXITED".to_string(), 137));
    assert!(
        h.main_log()
            .contains("exited: bg (exit status 137; not expected)")
    );
}

#[test]
fn pidproxy_without_arguments_prints_usage_and_exits_1() {
    let h = Harness::new("pidproxy_usage");
    let out = h.run_as("pidproxy", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("<pidfile name> <command>"),
        "{}",
        output_text(&out)
    );
    // A program that does not background anything: its own status.
    let out = h.run_as("pidproxy", &["/nonexistent.pid", "/bin/sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", output_text(&out));
}
