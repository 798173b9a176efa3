//! The process state machine as seen from outside: autorestart policies,
//! startsecs, backoff and FATAL, spawn failures, stop signals and their
//! escalation, process groups, start/stop order, numprocs and what the child
//! inherits. Everything is observed through the main log, files the programs
//! write, and /proc.

use crate::util::*;
use std::collections::BTreeSet;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// Lines of the main log that contain `needle`.
fn lines_with(h: &Harness, needle: &str) -> Vec<String> {
    h.main_log()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

fn count(h: &Harness, needle: &str) -> usize {
    lines_with(h, needle).len()
}

/// Index of the first main-log line containing `needle`.
fn line_index(h: &Harness, needle: &str) -> Option<usize> {
    h.main_log().lines().position(|l| l.contains(needle))
}

/// Seconds since the epoch (UTC calendar, local wall clock: only differences
/// matter) of a main-log line `YYYY-MM-DD HH:MM:SS,mmm LEVEL ...`.
fn log_time(line: &str) -> f64 {
    let parse = |s: &str| -> i64 { s.parse().unwrap_or_else(|_| panic!("bad time in {line:?}")) };
    let (date, rest) = line.split_at(10);
    let d: Vec<i64> = date.split('-').map(parse).collect();
    let time = &rest[1..13];
    let (hms, ms) = time.split_at(8);
    let t: Vec<i64> = hms.split(':').map(parse).collect();
    // days_from_civil (Howard Hinnant)
    let (y, m, dd) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = parse(&ms[1..]);
    (days * 86400 + t[0] * 3600 + t[1] * 60 + t[2]) as f64 + ms as f64 / 1000.0
}

/// A long-running program that counts as a clock: with autorestart=true and
/// startsecs=0 it exits and is respawned every ~0.2 s. Waiting for a few of
/// its restarts proves the loop has run many times since some event, without
/// sleeping in the test.
const TICKER: &str = "\
[program:ticker]
command=/bin/sh -c 'echo x >> {dir}/ticks; sleep 0.2'
startsecs=0
autorestart=true
";

fn ticks(h: &Harness) -> usize {
    h.read("ticks").lines().count()
}

/// Wait until the ticker has been spawned `n` more times.
fn let_time_pass(h: &Harness, n: usize) {
    let start = ticks(h);
    h.eventually(T, &format!("{n} more ticker runs"), || {
        ticks(h) >= start + n
    });
}

fn assert_clean_exit(h: &mut Harness) {
    let st = h.stop(Duration::from_secs(20));
    assert_eq!(
        st.code(),
        Some(0),
        "{}\n{}",
        describe_status(&st),
        h.diagnostics()
    );
}

// ---------------------------------------------------------------------------
// autorestart

#[test]
fn autorestart_true_restarts_after_an_expected_exit() {
    let mut h = Harness::new("autorestart_true");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'echo $$ >> {dir}/runs; sleep 0.2; exit 0'\n\
         startsecs=0\n\
         autorestart=true\n",
    );
    h.start(&[]);
    h.eventually(T, "x to run 3 times", || h.read_pids("runs").len() >= 3);
    h.eventually(T, "an expected exit in the log", || {
        count(&h, "exited: x (exit status 0; expected)") >= 2
    });
    assert_clean_exit(&mut h);
}

#[test]
fn autorestart_false_never_restarts_even_after_an_unexpected_exit() {
    let mut h = Harness::new("autorestart_false");
    h.write_standard_conf(&format!(
        "[program:x]\n\
         command=/bin/sh -c 'echo $$ >> {{dir}}/runs; sleep 0.2; exit 1'\n\
         startsecs=0\n\
         autorestart=false\n\
         \n{TICKER}"
    ));
    h.start(&[]);
    h.wait_log("exited: x (exit status 1; not expected)", T);
    let_time_pass(&h, 4);
    assert_eq!(
        h.read_pids("runs").len(),
        1,
        "x was restarted\n{}",
        h.diagnostics()
    );
    assert_eq!(count(&h, "spawned: 'x'"), 1, "{}", h.diagnostics());
    assert_clean_exit(&mut h);
}

#[test]
fn autorestart_unexpected_restarts_only_on_codes_outside_exitcodes() {
    let mut h = Harness::new("autorestart_unexpected");
    // Run 1 exits 4 (not in exitcodes: restarted), run 2 exits 3 (listed:
    // stays EXITED), a third run would exit 0.
    h.write_standard_conf(&format!(
        "[program:x]\n\
         command=/bin/sh -c 'echo $$ >> {{dir}}/runs; n=$(wc -l < {{dir}}/runs); sleep 0.2; \
         if [ $n -eq 1 ]; then exit 4; elif [ $n -eq 2 ]; then exit 3; else exit 0; fi'\n\
         startsecs=0\n\
         autorestart=unexpected\n\
         exitcodes=0,3\n\
         \n{TICKER}"
    ));
    h.start(&[]);
    h.wait_log("exited: x (exit status 3; expected)", T);
    let_time_pass(&h, 4);
    let log = h.main_log();
    let unexpected = log
        .find("exited: x (exit status 4; not expected)")
        .unwrap_or_else(|| panic!("no unexpected exit\n{}", h.diagnostics()));
    let expected = log
        .find("exited: x (exit status 3; expected)")
        .unwrap_or_default();
    assert!(unexpected < expected, "{}", h.diagnostics());
    assert_eq!(h.read_pids("runs").len(), 2, "{}", h.diagnostics());
    assert_eq!(count(&h, "spawned: 'x'"), 2, "{}", h.diagnostics());
    assert_clean_exit(&mut h);
}

// ---------------------------------------------------------------------------
// startsecs, backoff, FATAL

#[test]
fn startsecs_is_strict_and_zero_means_running_at_once() {
    let mut h = Harness::new("startsecs");
    // Both live 0.5 s and exit 0. `slow` needed 1 s: a too-quick exit is
    // never expected, whatever the code. `quick` was RUNNING at once.
    h.write_standard_conf(
        "[program:slow]\n\
         command=/bin/sh -c 'sleep 0.5; exit 0'\n\
         startsecs=1\n\
         startretries=0\n\
         \n\
         [program:quick]\n\
         command=/bin/sh -c 'sleep 0.5; exit 0'\n\
         startsecs=0\n\
         autorestart=false\n",
    );
    h.start(&[]);
    h.wait_log("gave up: slow entered FATAL state", T);
    h.wait_log("exited: quick (exit status 0; expected)", T);
    assert!(
        lines_with(&h, "exited: slow (exit status 0; not expected)").len() == 1,
        "{}",
        h.diagnostics()
    );
    assert_eq!(count(&h, "success: slow"), 0, "{}", h.diagnostics());
    let success = line_index(
        &h,
        "success: quick entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)",
    )
    .unwrap_or_else(|| panic!("no success line for quick\n{}", h.diagnostics()));
    let exited = line_index(&h, "exited: quick").unwrap_or_default();
    assert!(success < exited, "{}", h.diagnostics());
    assert_clean_exit(&mut h);
}

#[test]
fn backoff_retries_after_1_2_3_seconds_then_fatal() {
    let mut h = Harness::new("backoff_fatal");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'echo $$ >> {dir}/runs; exit 1'\n\
         startretries=3\n",
    );
    h.start(&[]);
    h.wait_log(
        "gave up: x entered FATAL state, too many start retries too quickly",
        Duration::from_secs(20),
    );
    let spawned = lines_with(&h, "spawned: 'x'");
    let exited = lines_with(&h, "exited: x (exit status 1; not expected)");
    assert_eq!(spawned.len(), 4, "{}", h.diagnostics());
    assert_eq!(exited.len(), 4, "{}", h.diagnostics());
    assert_eq!(h.read_pids("runs").len(), 4, "{}", h.diagnostics());
    // N-th failure -> wait N seconds before the next spawn.
    for i in 0..3 {
        let gap = log_time(&spawned[i + 1]) - log_time(&exited[i]);
        let want = (i + 1) as f64;
        assert!(
            (gap - want).abs() <= 0.4,
            "retry {} came {gap:.3} s after the failure, want {want} s\n{}",
            i + 1,
            h.diagnostics()
        );
    }
    // FATAL is for good.
    let gave_up = line_index(&h, "gave up: x").unwrap_or_default();
    let log = h.main_log();
    let lines: Vec<&str> = log.lines().collect();
    let last_spawn = lines
        .iter()
        .rposition(|l| l.contains("spawned: 'x'"))
        .unwrap_or_default();
    assert!(last_spawn < gave_up, "{}", h.diagnostics());
    assert_clean_exit(&mut h);
    assert_eq!(count(&h, "spawned: 'x'"), 4, "{}", h.diagnostics());
}

#[test]
fn missing_command_is_a_spawn_error_then_fatal() {
    let mut h = Harness::new("missing_command");
    h.write_standard_conf("[program:x]\ncommand=/nonexistent\nstartretries=1\n");
    h.start(&[]);
    h.wait_log("gave up: x entered FATAL state", T);
    assert_eq!(
        count(&h, "spawnerr: can't find command '/nonexistent'"),
        2,
        "one failure per attempt\n{}",
        h.diagnostics()
    );
    assert_eq!(count(&h, "spawned: 'x'"), 0, "{}", h.diagnostics());
    assert_clean_exit(&mut h);
}

#[test]
fn bad_directory_is_reported_on_the_programs_stderr_then_fatal() {
    let mut h = Harness::new("bad_directory");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'echo ran > {dir}/ran'\n\
         directory=/nope\n\
         stderr_logfile={dir}/x.err\n\
         startretries=1\n",
    );
    h.start(&[]);
    h.wait_log("gave up: x entered FATAL state", T);
    let err = h.read("x.err");
    assert!(
        err.contains("supervisor: couldn't chdir to /nope: ENOENT\nsupervisor: child process was not spawned\n"),
        "stderr log: {err:?}\n{}",
        h.diagnostics()
    );
    assert_eq!(
        count(&h, "exited: x (exit status 127; not expected)"),
        2,
        "{}",
        h.diagnostics()
    );
    assert!(!h.path("ran").exists(), "the command ran anyway");
    assert_clean_exit(&mut h);
}

// ---------------------------------------------------------------------------
// Stopping

#[test]
fn stopwaitsecs_escalates_to_sigkill_and_the_daemon_exits_0() {
    let mut h = Harness::new("stopwaitsecs");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh {fixtures}/ignore_term.sh {dir}/x.pid\n\
         startsecs=0\n\
         stopwaitsecs=1\n",
    );
    h.start(&[]);
    let pid = h.wait_pid_file("x.pid", T);
    h.wait_log("success: x", T);
    h.signal(libc::SIGTERM);
    let st = h.wait_exit(Duration::from_secs(15));
    assert_eq!(st.code(), Some(0), "{}", h.diagnostics());
    assert!(!pid_alive(pid));
    let kill = format!("killing 'x' ({pid}) with SIGKILL");
    let received = lines_with(&h, "received SIGTERM indicating exit request");
    let killing = lines_with(&h, &kill);
    assert_eq!(killing.len(), 1, "{}", h.diagnostics());
    assert_eq!(received.len(), 1, "{}", h.diagnostics());
    let gap = log_time(&killing[0]) - log_time(&received[0]);
    assert!(
        (gap - 1.0).abs() <= 0.4,
        "SIGKILL {gap:.3} s after the stop\n{}",
        h.diagnostics()
    );
    h.wait_log("stopped: x (terminated by SIGKILL)", T);
    assert!(h.read("x.pid").contains(&pid.to_string()));
}

#[test]
fn stopsignal_int_hup_usr1_are_delivered() {
    let mut h = Harness::new("stopsignal");
    let mut conf = String::new();
    for (name, sig, num) in [("i", "INT", 2), ("h", "HUP", 1), ("u", "USR1", 10)] {
        conf.push_str(&format!(
            "[program:{name}]\n\
             command=/bin/sh {{fixtures}}/print_signals.sh {{dir}}/{name}.sig {num}\n\
             startsecs=0\n\
             stopsignal={sig}\n\
             stopwaitsecs=5\n\n"
        ));
    }
    h.write_standard_conf(&conf);
    h.start(&[]);
    for name in ["i", "h", "u"] {
        h.wait_file_contains(format!("{name}.sig"), "ready\n", T);
    }
    assert_clean_exit(&mut h);
    for (name, num) in [("i", 2), ("h", 1), ("u", 10)] {
        assert_eq!(
            h.read(format!("{name}.sig")),
            format!("ready\n{num}\n"),
            "{name} got the wrong signals\n{}",
            h.diagnostics()
        );
        assert_eq!(
            count(&h, &format!("stopped: {name} (exit status 0)")),
            1,
            "{}",
            h.diagnostics()
        );
    }
    assert_eq!(count(&h, "SIGKILL"), 0, "{}", h.diagnostics());
}

/// Run grandchild.sh under `stopasgroup`, stop the daemon, and return the
/// program's and its child's pids.
fn stop_family(name: &str, stopasgroup: bool) -> (Harness, i32, i32) {
    let mut h = Harness::new(name);
    h.write_standard_conf(&format!(
        "[program:family]\n\
         command=/bin/sh {{fixtures}}/grandchild.sh {{dir}}/family.pids\n\
         startsecs=0\n\
         stopwaitsecs=5\n\
         stopasgroup={stopasgroup}\n"
    ));
    h.start(&[]);
    h.eventually(T, "two pids in family.pids", || {
        h.read_pids("family.pids").len() == 2
    });
    let pids = h.read_pids("family.pids");
    let (prog, kid) = (pids[0], pids[1]);
    assert!(pid_alive(prog) && pid_alive(kid), "{}", h.diagnostics());
    assert_clean_exit(&mut h);
    h.wait_log("stopped: family (terminated by SIGTERM)", T);
    (h, prog, kid)
}

#[test]
fn stopasgroup_true_stops_the_whole_process_group() {
    let (h, prog, kid) = stop_family("stopasgroup_true", true);
    assert!(!pid_alive(prog));
    // The child is reaped by someone (the daemon as subreaper, or init):
    // it must be dead or at most a zombie.
    h.eventually(T, "the grandchild to die with the group", || {
        !pid_alive(kid)
    });
}

#[test]
fn stopasgroup_false_leaves_the_grandchild_running() {
    let (h, prog, kid) = stop_family("stopasgroup_false", false);
    assert!(!pid_alive(prog));
    assert!(
        pid_alive(kid),
        "without stopasgroup only the program's own pid gets TERM\n{}",
        h.diagnostics()
    );
    drop(h);
    // SIGKILL is delivered asynchronously: poll for the end.
    wait_until(T, "the harness to clean up the grandchild", || {
        !pid_alive(kid)
    })
    .unwrap_or_else(|e| panic!("{e} (pid {kid})"));
}

// ---------------------------------------------------------------------------
// Order

#[test]
fn start_order_follows_priority() {
    let mut h = Harness::new("start_order");
    h.write_standard_conf(
        "[program:c]\ncommand=sleep 100000\nstartsecs=0\npriority=300\n\n\
         [program:a]\ncommand=sleep 100000\nstartsecs=0\npriority=100\n\n\
         [program:b]\ncommand=sleep 100000\nstartsecs=0\npriority=200\n",
    );
    h.start(&[]);
    h.eventually(T, "three spawns", || count(&h, "spawned: ") == 3);
    let order: Vec<usize> = ["'a'", "'b'", "'c'"]
        .iter()
        .map(|n| line_index(&h, &format!("spawned: {n}")).unwrap_or(usize::MAX))
        .collect();
    assert!(
        order[0] < order[1] && order[1] < order[2],
        "{}",
        h.diagnostics()
    );
    assert_clean_exit(&mut h);
}

#[test]
fn shutdown_stops_priority_levels_in_descending_order_same_level_together() {
    let mut h = Harness::new("stop_order");
    // Each program records the TERM, then lingers 0.3 s and reports whether
    // its peer of the same priority had been told to stop by then.
    let trap = |me: &str, peer: &str| {
        format!(
            "[program:{me}]\n\
             command=/bin/sh -c 'trap \"echo term > {{dir}}/term_{me}; sleep 0.3; \
             [ -e {{dir}}/term_{peer} ] && echo yes > {{dir}}/both_{me}; kill $s; exit 0\" TERM; \
             echo $$ > {{dir}}/{me}.pid; sleep 100000 & s=$!; wait $s'\n\
             startsecs=0\n\
             priority=1\n\n"
        )
    };
    let mut conf = trap("one_a", "one_b");
    conf.push_str(&trap("one_b", "one_a"));
    conf.push_str(
        "[program:five]\ncommand=sleep 100000\nstartsecs=0\npriority=5\n\n\
         [program:last]\ncommand=sleep 100000\nstartsecs=0\npriority=999\n",
    );
    h.write_standard_conf(&conf);
    h.start(&[]);
    h.wait_pid_file("one_a.pid", T);
    h.wait_pid_file("one_b.pid", T);
    h.eventually(T, "four RUNNING", || count(&h, "success: ") == 4);
    assert_clean_exit(&mut h);
    let at = |needle: &str| {
        line_index(&h, needle).unwrap_or_else(|| panic!("no {needle:?}\n{}", h.diagnostics()))
    };
    let last = at("stopped: last ");
    let five = at("stopped: five ");
    let a = at("stopped: one_a ");
    let b = at("stopped: one_b ");
    assert!(last < five && five < a && five < b, "{}", h.diagnostics());
    for me in ["one_a", "one_b"] {
        assert_eq!(
            h.read(format!("both_{me}")),
            "yes\n",
            "{me} exited before its same-priority peer was told to stop\n{}",
            h.diagnostics()
        );
    }
}

// ---------------------------------------------------------------------------
// Process naming, environment, inheritance

#[test]
fn numprocs_starts_numbered_processes_with_their_names() {
    let mut h = Harness::new("numprocs");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'echo $SUPERVISOR_PROCESS_NAME $SUPERVISOR_GROUP_NAME > {dir}/name_%(process_num)02d; exec sleep 100000'\n\
         process_name=%(program_name)s_%(process_num)02d\n\
         numprocs=3\n\
         startsecs=0\n",
    );
    h.start(&[]);
    for n in 0..3 {
        let file = format!("name_{n:02}");
        h.wait_file_contains(&file, "\n", T);
        assert_eq!(
            h.read(&file),
            format!("x_{n:02} x\n"),
            "{}",
            h.diagnostics()
        );
        assert_eq!(
            count(&h, &format!("spawned: 'x_{n:02}'")),
            1,
            "{}",
            h.diagnostics()
        );
    }
    assert_eq!(count(&h, "spawned: "), 3, "{}", h.diagnostics());
    assert_clean_exit(&mut h);
}

fn env_map(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn child_sees_environment_directory_and_umask() {
    let mut h = Harness::new("child_env");
    std::fs::create_dir(h.path("wd")).unwrap();
    let base = BASE_CONF.replace(
        "nodaemon=true\n",
        "nodaemon=true\nenvironment=FROM_SD=\"sd\",SHARED=\"sd\"\n",
    );
    h.write_conf(&format!(
        "{base}[program:x]\n\
         command=/bin/sh -c 'env > {{dir}}/env.tmp; pwd > {{dir}}/pwd.out; umask > {{dir}}/umask.out; mv {{dir}}/env.tmp {{dir}}/env.out; exec sleep 100000'\n\
         directory={{dir}}/wd\n\
         umask=027\n\
         environment=SHARED=\"prog\",OWN=\"own\"\n\
         startsecs=0\n"
    ));
    h.start(&[]);
    h.eventually(T, "env.out", || h.path("env.out").exists());
    let env = env_map(&h.read("env.out"));
    let dir = h.dir().display().to_string();
    let want = [
        ("SUPERVISOR_ENABLED", "1".to_string()),
        ("SUPERVISOR_PROCESS_NAME", "x".to_string()),
        ("SUPERVISOR_GROUP_NAME", "x".to_string()),
        (
            "SUPERVISOR_SERVER_URL",
            format!("unix://{dir}/supervisor.sock"),
        ),
        ("FROM_SD", "sd".to_string()),
        ("SHARED", "prog".to_string()),
        ("OWN", "own".to_string()),
        (TAG_VAR, h.tag().to_string()),
    ];
    for (k, v) in want {
        assert_eq!(env.get(k), Some(&v), "{k} in the child's env: {env:#?}");
    }
    assert_eq!(h.read("pwd.out").trim(), format!("{dir}/wd"));
    assert_eq!(h.read("umask.out").trim(), "0027");
    assert_clean_exit(&mut h);
}

#[test]
fn child_has_only_fds_0_1_2() {
    let mut h = Harness::new("fd_leak");
    // No shell in between: ls's own directory fd is the only extra one, and
    // it is the lowest free fd (3) unless something leaked.
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/ls -1 /proc/self/fd\n\
         stdout_logfile={dir}/fds.out\n\
         startsecs=0\n\
         autorestart=false\n",
    );
    h.start(&[]);
    h.wait_log("exited: x (exit status 0; expected)", T);
    let fds: BTreeSet<String> = h.read("fds.out").lines().map(str::to_string).collect();
    let want: BTreeSet<String> = ["0", "1", "2", "3"].iter().map(|s| s.to_string()).collect();
    assert_eq!(fds, want, "{}", h.diagnostics());
    assert_clean_exit(&mut h);
}

#[test]
fn user_nobody_gets_nobodys_uid_gid_and_groups() {
    if !require_root_or_skip() {
        return;
    }
    let id = |args: &[&str]| -> String {
        let o = run_with_timeout(std::process::Command::new("id").args(args), CMD_TIMEOUT).unwrap();
        assert!(o.status.success(), "{}", output_text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let (uid, gid, groups) = (
        id(&["-u", "nobody"]),
        id(&["-g", "nobody"]),
        id(&["-G", "nobody"]),
    );
    let mut h = Harness::new("user_nobody");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/cat /proc/self/status\n\
         user=nobody\n\
         stdout_logfile={dir}/status.out\n\
         startsecs=0\n\
         autorestart=false\n",
    );
    h.start(&[]);
    h.wait_log("exited: x (exit status 0; expected)", T);
    let status = h.read("status.out");
    let field = |name: &str| -> Vec<String> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert!(field("Uid").iter().all(|u| *u == uid), "{status}");
    assert!(field("Gid").iter().all(|g| *g == gid), "{status}");
    let got: BTreeSet<String> = field("Groups").into_iter().collect();
    let want: BTreeSet<String> = groups.split_whitespace().map(str::to_string).collect();
    assert_eq!(got, want, "{status}");
    assert_clean_exit(&mut h);
}

#[test]
fn heterogeneous_group_runs_its_programs_under_the_group_name() {
    let mut h = Harness::new("hetero_group");
    let prog = |n: &str| {
        format!(
            "[program:{n}]\n\
             command=/bin/sh -c 'echo $SUPERVISOR_GROUP_NAME:$SUPERVISOR_PROCESS_NAME > {{dir}}/{n}.out; exec sleep 100000'\n\
             startsecs=0\n\n"
        )
    };
    h.write_standard_conf(&format!(
        "{}{}[group:g]\nprograms=a,b\n",
        prog("a"),
        prog("b")
    ));
    h.start(&[]);
    h.wait_file_contains("a.out", "\n", T);
    h.wait_file_contains("b.out", "\n", T);
    assert_eq!(h.read("a.out"), "g:a\n");
    assert_eq!(h.read("b.out"), "g:b\n");
    assert_eq!(count(&h, "spawned: 'a'"), 1, "{}", h.diagnostics());
    assert_eq!(count(&h, "spawned: 'b'"), 1, "{}", h.diagnostics());
    assert_clean_exit(&mut h);
}

#[test]
fn supervisord_environment_is_applied_over_the_supervisor_variables() {
    // Supervisor merges `[supervisord] environment` into every program's
    // environment, which is applied after SUPERVISOR_*: so it can override
    // them (e.g. point SUPERVISOR_SERVER_URL elsewhere), and the program's
    // own environment overrides both.
    let mut h = Harness::new("sd_env_over_vars");
    let base = BASE_CONF.replace(
        "nodaemon=true\n",
        "nodaemon=true\nenvironment=SUPERVISOR_SERVER_URL=\"http://elsewhere:9001\",SUPERVISOR_GROUP_NAME=\"sd\"\n",
    );
    h.write_conf(&format!(
        "{base}[program:x]\n\
         command=/bin/sh -c 'env > {{dir}}/env.tmp; mv {{dir}}/env.tmp {{dir}}/env.out; exec sleep 100000'\n\
         environment=SUPERVISOR_GROUP_NAME=\"prog\"\n\
         startsecs=0\n"
    ));
    h.start(&[]);
    h.eventually(T, "env.out", || h.path("env.out").exists());
    let env = env_map(&h.read("env.out"));
    assert_eq!(
        env.get("SUPERVISOR_SERVER_URL").map(String::as_str),
        Some("http://elsewhere:9001")
    );
    assert_eq!(
        env.get("SUPERVISOR_GROUP_NAME").map(String::as_str),
        Some("prog")
    );
    assert_eq!(
        env.get("SUPERVISOR_PROCESS_NAME").map(String::as_str),
        Some("x")
    );
    assert_clean_exit(&mut h);
}

#[test]
fn debug_loglevel_copies_child_output_to_the_main_log() {
    // At loglevel debug (or lower) Supervisor logs every chunk a child
    // writes as `'x' stdout output:` + the data, at DEBG; above debug not.
    for (level, copied) in [("debug", true), ("info", false)] {
        let mut h = Harness::new(&format!("child_output_{level}"));
        let base = BASE_CONF.replace("loglevel=debug", &format!("loglevel={level}"));
        h.write_conf(&format!(
            "{base}[program:x]\n\
             command=/bin/sh -c 'echo hello; echo oops >&2; exec sleep 100000'\n\
             stdout_logfile={{dir}}/x.out\n\
             stdout_logfile_maxbytes=0\n\
             stderr_logfile=NONE\n\
             startsecs=0\n\
             \n\
             [program:y]\n\
             command=/bin/sh -c 'printf \"bin\\377\\n\" > {{dir}}/y.tmp; cat {{dir}}/y.tmp; exec sleep 100000'\n\
             startsecs=0\n"
        ));
        h.start(&[]);
        h.wait_file_contains("x.out", "hello\n", T);
        if copied {
            h.wait_log(" DEBG 'x' stdout output:\nhello\n", T);
            h.wait_log(" DEBG 'x' stderr output:\noops\n", T);
            h.wait_log(" DEBG 'y' stdout output:\nUndecodable: b'bin\\xff\\n'\n", T);
        }
        assert_clean_exit(&mut h);
        if !copied {
            assert!(!h.main_log().contains("output:"), "{}", h.diagnostics());
        }
    }
}

/// `[fcgi-program:x]`: supervisord binds the socket and every process gets
/// it as fd 0 (unix and tcp forms).
#[test]
fn fcgi_program_processes_share_the_socket_on_fd0() {
    let h = Harness::new("fcgi");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    h.write_standard_conf(&format!(
        "[fcgi-program:u]\n\
         socket=unix://{{dir}}/fcgi.sock\n\
         socket_mode=0660\n\
         numprocs=2\n\
         process_name=%(program_name)s_%(process_num)d\n\
         command=/bin/sh -c 'readlink /proc/self/fd/0 > {{dir}}/%(process_num)d.fd0; exec sleep 100000'\n\
         startsecs=0\n\n\
         [fcgi-program:t]\n\
         socket=tcp://127.0.0.1:{port}\n\
         command=/bin/sh -c 'readlink /proc/self/fd/0 > {{dir}}/t.fd0; exec sleep 100000'\n\
         startsecs=0\n"
    ));
    let mut h = h;
    h.start(&[]);
    for f in ["0.fd0", "1.fd0", "t.fd0"] {
        h.eventually(Duration::from_secs(10), f, || {
            h.read(f).starts_with("socket:[")
        });
    }
    assert_eq!(
        h.read("0.fd0"),
        h.read("1.fd0"),
        "both processes of u get the same socket"
    );
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(h.path("fcgi.sock")).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o660,
        "socket_mode applied"
    );
    assert!(
        std::os::unix::net::UnixStream::connect(h.path("fcgi.sock")).is_ok(),
        "the unix socket listens"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the tcp socket listens"
    );
}
