//! The event loop under abuse: crash loops of many programs with and
//! without RPC clients racing them, then a stop of everything (no child
//! lost, no fd kept, no wake-up left), and a panic injected into one loop
//! turn (logged, survived).

use crate::rpc_robust::{Addr, call_body, http_raw, post_request, rpc};
use crate::util::*;
use std::time::{Duration, Instant};
use supervisor_rs::rpc::Value;

const T: Duration = Duration::from_secs(20);

/// `n` programs that exit at once, forever (the crash loop), with
/// their logs in files; nothing autostarts, so the fd count of the idle
/// daemon can be read first.
fn crash_loop_conf(n: usize) -> String {
    let mut s = String::from(
        "[supervisord]
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
loglevel=info
nodaemon=true

[unix_http_server]
file={dir}/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

",
    );
    for i in 0..n {
        s.push_str(&format!(
            "[program:p{i:02}]
command=/bin/sh -c \"echo out-$$; echo err-$$ >&2; exit 0\"
autostart=false
startsecs=0
autorestart=true
startretries=1000000
stdout_logfile={{dir}}/p{i:02}.out
stderr_logfile={{dir}}/p{i:02}.err
stdout_logfile_maxbytes=1MB
stderr_logfile_maxbytes=1MB

"
        ));
    }
    s
}

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Context switches of every thread of the daemon (the event loop and the
/// HTTP threads): each one is a wake-up.
pub fn switches(pid: i32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap_or_else(|e| panic!("threads of {pid}: {e}"));
    tasks
        .flatten()
        .map(|t| std::fs::read_to_string(t.path().join("status")).unwrap_or_default())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("voluntary_ctxt_switches"))
                .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

fn call(a: &Addr, method: &str, params: &[String]) -> Value {
    rpc(a, method, params)
        .rpc()
        .unwrap_or_else(|f| panic!("{method}: {f}"))
}

fn statenames(a: &Addr) -> Vec<(String, String)> {
    match call(a, "supervisor.getAllProcessInfo", &[]) {
        Value::Array(items) => items
            .iter()
            .map(|x| {
                let get = |k| x.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                (get("name"), get("statename"))
            })
            .collect(),
        other => panic!("getAllProcessInfo: {other:?}"),
    }
}

/// Start the crash loop, let `load` run against it for `secs`, then
/// stopAllProcesses(true) and check, 1 s later: no zombie, no child, every
/// program STOPPED or EXITED (and staying so), fds back to the idle count
/// plus the two log files each program keeps open, and no wake-up of the
/// daemon over the next 5 s.
fn crash_loop_then_stop_all(name: &str, n: usize, secs: u64, load: impl Fn(&Addr, Instant)) {
    let mut h = Harness::new(name);
    h.write_conf(&crash_loop_conf(n));
    let pid = h.start(&[]);
    h.wait_for_socket(T);
    let a = Addr::Unix(h.socket_path());
    let idle_fds = fd_count(pid);
    call(&a, "supervisor.startAllProcesses", &[xml::boolean(false)]);
    h.eventually(T, "every program to crash-loop", || {
        h.main_log().matches("exited: p").count() >= 4 * n
    });
    let until = Instant::now() + Duration::from_secs(secs);
    load(&a, until);
    let spawns = h.main_log().matches("spawned: 'p").count();
    call(&a, "supervisor.stopAllProcesses", &[xml::boolean(true)]);
    let stopped_at = Instant::now();
    std::thread::sleep(Duration::from_secs(1).saturating_sub(stopped_at.elapsed()));

    let zombies = zombie_descendants(pid);
    let children = children_of(pid);
    let fds = fd_count(pid);
    let not_stopped: Vec<_> = statenames(&a)
        .into_iter()
        .filter(|(_, s)| s != "STOPPED" && s != "EXITED")
        .collect();
    // The HTTP thread that answered goes back to sleep just after its
    // answer is read: let it, then count.
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    let before = switches(pid);
    std::thread::sleep(Duration::from_secs(5));
    let wakeups = switches(pid) - before;
    let quiet = t0.elapsed();
    println!(
        "{name}: {spawns} spawns; 1 s after stopAll: {} zombies, {} children, fds {fds} (idle {idle_fds}), {} not stopped; {wakeups} wake-ups in {quiet:?}",
        zombies.len(),
        children.len(),
        not_stopped.len()
    );
    let diag = || h.diagnostics();
    assert!(spawns >= 4 * n, "the crash loop did not run: {}", diag());
    assert!(zombies.is_empty(), "zombies {zombies:?}\n{}", diag());
    assert!(children.is_empty(), "children {children:?}\n{}", diag());
    assert!(not_stopped.is_empty(), "not stopped: {not_stopped:?}");
    assert!(
        fds <= idle_fds + 2 * n + 2,
        "fds {fds}, idle {idle_fds}, {n} programs\n{}",
        diag()
    );
    assert_eq!(wakeups, 0, "the idle loop woke up");
    // And it still works: a program starts again and its restart is back.
    call(
        &a,
        "supervisor.startProcess",
        &[xml::string("p00"), xml::boolean(false)],
    );
    h.eventually(T, "p00 to crash-loop again", || {
        statenames(&a)
            .iter()
            .any(|(n, s)| n == "p00" && s != "EXITED" && s != "STOPPED")
            || h.main_log().matches("spawned: 'p00'").count() > spawns
    });
}

#[test]
fn crash_loops_leave_no_zombie_no_fd_and_no_wakeup_after_stop_all() {
    crash_loop_then_stop_all("loop_crash_stopall", 50, 3, |_, until| {
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
    });
}

#[test]
fn crash_loops_raced_by_sixteen_clients_leave_nothing_behind() {
    crash_loop_then_stop_all("loop_crash_clients", 50, 3, |a, until| {
        let clients: Vec<_> = (0..16)
            .map(|c| {
                let a = a.clone();
                std::thread::spawn(move || {
                    let mut i = 0usize;
                    while Instant::now() < until {
                        let name = xml::string(&format!("p{:02}", (c * 7 + i) % 50));
                        let params = match i % 4 {
                            0 => vec![],
                            1 => vec![name, xml::int(-200), xml::int(0)],
                            _ => vec![name, xml::boolean(false)],
                        };
                        let method = [
                            "supervisor.getAllProcessInfo",
                            "supervisor.readProcessStdoutLog",
                            "supervisor.startProcess",
                            "supervisor.stopProcess",
                        ][i % 4];
                        let body = call_body(method, &params);
                        let r = http_raw(&a, &post_request(body.as_bytes(), None, true))
                            .unwrap_or_else(|| panic!("client {c}: no answer to {method}"));
                        assert_eq!(r.status, 200, "client {c}: {method}: {r:?}");
                        i += 1;
                    }
                    i
                })
            })
            .collect();
        let calls: usize = clients
            .into_iter()
            .map(|c| c.join().expect("a client thread panicked"))
            .sum();
        println!("{calls} calls from 16 clients during the crash loop");
    });
}

#[test]
fn a_panic_in_one_loop_turn_is_logged_and_the_loop_goes_on() {
    let mut h = Harness::new("loop_panic");
    h.write_standard_conf(
        "[program:sleeper]
command=/bin/sh -c 'exec sleep 1000'
startsecs=0
",
    );
    let conf = h.conf_path();
    let mut c = h.command(supervisord_bin());
    c.args(["-n", "-c"])
        .arg(&conf)
        .env("SUPERVISOR_RS_TEST_PANIC_ON", "SIGUSR1");
    let daemon = h.start_command(c);
    h.wait_for_socket(T);
    let a = Addr::Unix(h.socket_path());
    h.eventually(T, "sleeper RUNNING", || {
        statenames(&a) == [("sleeper".to_string(), "RUNNING".to_string())]
    });
    let child = call(&a, "supervisor.getProcessInfo", &[xml::string("sleeper")])
        .get("pid")
        .and_then(Value::as_int)
        .expect("a pid");
    for i in 1..=3 {
        h.signal(libc::SIGUSR1);
        h.eventually(T, "the CRIT line", || {
            h.main_log()
                .matches(
                    "CRIT internal error, recovered, the loop goes on: injected panic on SIGUSR1",
                )
                .count()
                >= i
        });
    }
    let log = h.main_log();
    assert!(
        log.contains("src/daemon/event_loop.rs:"),
        "no location in {log}"
    );
    // Still PID-1 material: answering, its child untouched, SIGCHLD handled.
    assert!(pid_alive(daemon), "{}", h.diagnostics());
    assert!(pid_alive(child));
    call(&a, "supervisor.stopProcess", &[xml::string("sleeper")]);
    assert_eq!(
        statenames(&a),
        [("sleeper".to_string(), "STOPPED".to_string())]
    );
    assert!(proc_stat(child).is_none(), "the child is gone and reaped");
    let st = h.stop(T);
    assert_eq!(st.code(), Some(0), "{}", h.diagnostics());
}
