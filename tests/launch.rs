//! Part B keys about launching programs and relaying signals, on the real
//! binary: `start_delay`, `fatal_restart_delay`, `forward_signals` (to the
//! process group with `stopasgroup`, else to the pid only) and
//! `capabilities` (as root: a `user=nobody` program binds a port below
//! 1024 and holds no other capability).  Programs report through files,
//! so no test sleeps to synchronise.

use crate::util::*;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

fn started(name: &str, sections: &str) -> Harness {
    let mut h = Harness::new(name);
    h.write_standard_conf(&h.subst(sections));
    h.start(&[]);
    h.wait_for_socket(T);
    h
}

fn status(h: &Harness, name: &str) -> String {
    output_text(&h.ctl(&["status", name]))
}

#[test]
fn start_delay_holds_the_first_spawn_in_starting() {
    let begun = Instant::now();
    let mut h = started(
        "launch_start_delay",
        "[program:web]\ncommand=/bin/sh -c 'echo $$ > {dir}/web.pid; exec sleep 1000'\nstartsecs=0\nstart_delay=3\n",
    );
    // Before the delay is over: STARTING, and no child yet.
    if !h.path("web.pid").exists() && begun.elapsed() < Duration::from_secs(3) {
        let st = status(&h, "web");
        assert!(st.contains("STARTING"), "{st}");
    }
    h.wait_log(
        "delaying: web will be spawned in 3 seconds (start_delay)",
        T,
    );
    h.wait_pid_file("web.pid", T);
    assert!(
        begun.elapsed() >= Duration::from_secs(3),
        "spawned after {:?}",
        begun.elapsed()
    );
    h.eventually(T, "web RUNNING", || status(&h, "web").contains("RUNNING"));
    // Its uptime counts from the spawn, not from the start request.
    let st = status(&h, "web");
    let uptime = st
        .split("uptime ")
        .nth(1)
        .and_then(|u| u.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    let secs: u64 = uptime
        .split(':')
        .filter_map(|x| x.parse::<u64>().ok())
        .fold(0, |acc, x| acc * 60 + x);
    assert!(
        secs < 3 && !uptime.is_empty(),
        "uptime {uptime:?} includes the delay: {st}"
    );
    h.stop(T);
}

#[test]
fn fatal_restart_delay_starts_a_fatal_program_again_until_stopped() {
    let mut h = started(
        "launch_fatal_retry",
        "[program:bad]\ncommand=/bin/sh -c 'echo try >> {dir}/tries; exit 1'\nstartsecs=1\nstartretries=0\nfatal_restart_delay=1\n",
    );
    let tries = |h: &Harness| h.read("tries").lines().count();
    // One try, FATAL, then a new try a second later, and again.
    h.eventually(T, "three tries", || tries(&h) >= 3);
    let log = h.main_log();
    assert!(
        log.contains("bad will be started again in 1 seconds (fatal_restart_delay)"),
        "{log}"
    );
    assert!(
        log.contains("retrying: bad was FATAL for 1 seconds (fatal_restart_delay), starting it again with 0 start retries"),
        "{log}"
    );
    // A stop ends the cycle, whichever state it finds.
    h.ctl(&["stop", "bad"]);
    h.eventually(T, "bad stopped or FATAL", || {
        let st = status(&h, "bad");
        st.contains("STOPPED") || st.contains("FATAL")
    });
    let after_stop = tries(&h);
    // Three retry periods without a new try.
    let more = wait_until(Duration::from_millis(3500), "another try", || {
        tries(&h) > after_stop
    });
    assert!(
        more.is_err(),
        "tried again after the stop: {}",
        h.main_log()
    );
    h.stop(T);
}

/// A program whose own pid and one background child both record the
/// signals they get (tests/fixtures/print_signals.sh).
fn probe(name: &str, extra: &str) -> String {
    format!(
        "[program:{name}]\n\
         command=/bin/sh -c '{{fixtures}}/print_signals.sh {{dir}}/{name}-child.out & echo $! > {{dir}}/{name}-child.pid; exec {{fixtures}}/print_signals.sh {{dir}}/{name}.out'\n\
         startsecs=0\nstopwaitsecs=5\n{extra}\n\n"
    )
}

#[test]
fn forward_signals_reach_the_group_with_stopasgroup_else_the_pid() {
    let sections = format!(
        "[supervisord]\nforward_signals=USR1,SIGWINCH\n\n{}{}",
        probe("grouped", "stopasgroup=true"),
        probe("plain", ""),
    );
    let mut h = started("launch_forward", &sections);
    for f in [
        "grouped.out",
        "grouped-child.out",
        "plain.out",
        "plain-child.out",
    ] {
        h.wait_file_contains(f, "ready", T);
    }
    let plain_child = h.wait_pid_file("plain-child.pid", T);
    h.signal(libc::SIGUSR1);
    let usr1 = libc::SIGUSR1.to_string();
    for f in ["grouped.out", "grouped-child.out", "plain.out"] {
        h.wait_file_contains(f, &usr1, T);
    }
    h.signal(libc::SIGWINCH);
    let winch = libc::SIGWINCH.to_string();
    for f in ["grouped.out", "grouped-child.out", "plain.out"] {
        h.wait_file_contains(f, &winch, T);
    }
    // Without stopasgroup only the program's own pid got them.
    assert_eq!(h.read("plain-child.out"), "ready\n");
    h.wait_log(
        "received SIGUSR1: forwarded to 2 running process(es) (forward_signals)",
        T,
    );
    // USR2 keeps its meaning (reopen the logs) and is not forwarded.
    h.signal(libc::SIGUSR2);
    h.wait_log("indicating log reopen request", T);
    assert!(!h.read("plain.out").contains(&libc::SIGUSR2.to_string()));
    h.stop(T);
    // Its stop reached the program only: end the child it left.
    send_signal(plain_child, libc::SIGTERM);
    wait_until(T, "plain's child to exit", || !pid_alive(plain_child))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn forward_signals_added_by_a_reload_are_caught_from_then_on() {
    let program = "[program:p]\ncommand={fixtures}/print_signals.sh {dir}/p.out\nstartsecs=0\n";
    let mut h = started("launch_forward_reload", program);
    h.wait_file_contains("p.out", "ready", T);
    // WINCH is not one of the daemon's own signals: only the reloaded
    // config makes it catch and forward it.
    h.write_standard_conf(&h.subst(&format!(
        "[supervisord]\nforward_signals=WINCH\n\n{program}"
    )));
    let o = h.ctl(&["reload"]);
    assert!(o.status.success(), "{}", output_text(&o));
    h.eventually(T, "p restarted by the reload", || {
        h.read("p.out").matches("ready").count() == 2
    });
    h.signal(libc::SIGWINCH);
    h.wait_file_contains("p.out", &libc::SIGWINCH.to_string(), T);
    h.stop(T);
}

#[test]
fn check_reports_bad_values_of_these_keys_with_their_lines() {
    let h = Harness::new("launch_check");
    h.write_conf(
        "[supervisord]\n\
         forward_signals=USR1,KILL\n\
         [program:a]\n\
         command=/bin/true\n\
         start_delay=-2\n\
         fatal_restart_delay=soon\n\
         capabilities=CAP_NET_BIND_SERVICE,CAP_TELEPATHY\n",
    );
    let out = h.run(&["-c", h.conf_path().to_str().unwrap_or_default(), "--check"]);
    assert!(!out.status.success());
    let text = output_text(&out);
    for want in [
        "supervisord.conf:2: [supervisord] forward_signals: SIGKILL cannot be forwarded: it cannot be caught",
        "supervisord.conf:5: [program:a] start_delay: '-2' is negative",
        "supervisord.conf:6: [program:a] fatal_restart_delay: invalid integer value 'soon'",
        "supervisord.conf:7: [program:a] capabilities: 'CAP_TELEPATHY' is not a capability name",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

/// The capability lines of /proc/PID/status, as (name, mask).
fn cap_sets(pid: i32) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("Cap"))
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.to_string(), u64::from_str_radix(v.trim(), 16).ok()?))
        })
        .collect()
}

/// A perl program that binds the first free port of 600..1023 on
/// 127.0.0.1 and says so on stdout, or says `denied` (EACCES), then
/// stays up.
fn binder(name: &str, extra: &str) -> String {
    format!(
        "[program:{name}]\n\
         command=/usr/bin/perl -e 'use Socket; $|=1; for my $p (600..1023) {{ socket(my $s, PF_INET, SOCK_STREAM, 0) or die; if (bind($s, sockaddr_in($p, inet_aton(\"127.0.0.1\")))) {{ print \"bound\\n\"; sleep 1000 while 1 }} if ($!{{EACCES}}) {{ print \"denied\\n\"; sleep 1000 while 1 }} }} print \"no free port\\n\"; sleep 1000 while 1'\n\
         startsecs=0\nstdout_logfile={{dir}}/{name}.out\n{extra}\n\n"
    )
}

fn pid_of(h: &Harness, name: &str) -> i32 {
    let out = String::from_utf8_lossy(&h.ctl(&["pid", name]).stdout).into_owned();
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("no pid for {name}: {out}"))
}

const NET_BIND_SERVICE: u64 = 1 << 10;

#[test]
fn capabilities_let_a_non_root_program_bind_port_below_1024_and_nothing_else() {
    if !require_root_or_skip() {
        return;
    }
    let mut h = started(
        "launch_caps",
        &format!(
            "{}{}{}",
            binder("with", "user=nobody\ncapabilities=CAP_NET_BIND_SERVICE"),
            binder("without", "user=nobody"),
            binder("rootcaps", "capabilities=net_bind_service"),
        ),
    );
    for name in ["with", "without", "rootcaps"] {
        h.wait_file_contains(format!("{name}.out"), "\n", T);
    }
    assert_eq!(h.read("with.out"), "bound\n", "{}", h.diagnostics());
    assert_eq!(h.read("without.out"), "denied\n");
    assert_eq!(h.read("rootcaps.out"), "bound\n");
    // Exactly the listed capability in every set, bounding set included,
    // as nobody and as root.
    for name in ["with", "rootcaps"] {
        let sets = cap_sets(pid_of(&h, name));
        assert_eq!(sets.len(), 5, "{sets:?}");
        for (set, mask) in &sets {
            assert_eq!(
                *mask, NET_BIND_SERVICE,
                "{name}: {set} is {mask:#x}: {sets:?}"
            );
        }
    }
    // Without the key, nobody has none at all.
    let sets = cap_sets(pid_of(&h, "without"));
    assert!(
        sets.iter()
            .filter(|(k, _)| k != "CapBnd")
            .all(|(_, m)| *m == 0),
        "{sets:?}"
    );
    h.stop(T);
}
