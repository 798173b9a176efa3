//! The daemon as a whole: daemonizing the way a `Type=forking` systemd unit
//! runs it, signals (HUP reload, USR2 log reopen, TERM/INT/QUIT shutdown),
//! refusing to run twice on one socket or pidfile, stale sockets, and
//! resource limits it cannot get.

use crate::util::*;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A program that records its pid on every start.
fn recorder(name: &str) -> String {
    format!(
        "[program:{name}]\n\
         command=/bin/sh -c 'echo $$ > {{dir}}/{name}.pid; exec sleep 100000'\n\
         startsecs=0\n\n"
    )
}

fn count(h: &Harness, needle: &str) -> usize {
    h.main_log().lines().filter(|l| l.contains(needle)).count()
}

/// Wait for `{dir}/<name>.pid` to hold a live pid other than `old`.
fn wait_new_pid(h: &Harness, name: &str, old: Option<i32>) -> i32 {
    let file = format!("{name}.pid");
    let mut pid = 0;
    h.eventually(T, &format!("a new live pid in {file}"), || {
        pid = h.read_pid(&file).unwrap_or(0);
        pid > 0 && Some(pid) != old && pid_alive(pid)
    });
    pid
}

#[test]
fn daemonizes_reloads_on_hup_and_cleans_up_on_term() {
    let h = Harness::new("daemonize");
    let base = BASE_CONF.replace("nodaemon=true", "nodaemon=false");
    h.write_conf(&format!("{base}{}", recorder("x")));
    // As `ExecStart=supervisord -c FILE` with Type=forking: the command
    // returns once the daemon is up and its pidfile written.
    let conf = h.conf_path();
    let o = h.run(&["-c", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let daemon = h.read_pid("supervisord.pid").unwrap_or_else(|| {
        panic!(
            "no pid in the pidfile right after the command returned\n{}",
            output_text(&o)
        )
    });
    assert!(pid_alive(daemon), "pidfile names a dead process {daemon}");
    let st = proc_stat(daemon).unwrap();
    let me = proc_stat(std::process::id() as i32).unwrap();
    assert_eq!(
        st.session, daemon,
        "the daemon is not a session leader: {st:?}"
    );
    assert_ne!(st.session, me.session, "still in the test's session");
    assert_ne!(st.ppid, me.pid);
    assert!(cmdline(daemon).unwrap_or_default().contains("supervisord"));
    let stdout = std::fs::read_link(format!("/proc/{daemon}/fd/1")).unwrap();
    assert_eq!(stdout.to_str(), Some("/dev/null"), "stdout not detached");

    let x1 = wait_new_pid(&h, "x", None);
    assert_eq!(ppid_of(x1), Some(daemon));

    // HUP: re-read the config (now with y) and restart everything.
    h.write_conf(&format!("{base}{}{}", recorder("x"), recorder("y")));
    assert!(send_signal(daemon, libc::SIGHUP));
    let y = wait_new_pid(&h, "y", None);
    let x2 = wait_new_pid(&h, "x", Some(x1));
    assert!(!pid_alive(x1), "the old x survived the reload");
    assert_eq!(ppid_of(y), Some(daemon));
    assert_eq!(ppid_of(x2), Some(daemon));
    assert_eq!(
        h.read_pid("supervisord.pid"),
        Some(daemon),
        "pid changed on reload"
    );
    assert!(
        UnixStream::connect(h.socket_path()).is_ok(),
        "socket gone after reload"
    );

    // TERM: stop everything and remove the pidfile and the socket.
    assert!(send_signal(daemon, libc::SIGTERM));
    h.eventually(T, "the daemon to exit", || !pid_alive(daemon));
    assert!(!pid_alive(x2) && !pid_alive(y));
    assert!(!h.path("supervisord.pid").exists(), "pidfile left behind");
    assert!(!h.socket_path().exists(), "socket file left behind");
    assert!(h.main_log().contains("stopped: x (terminated by SIGTERM)"));
}

#[test]
fn hup_with_a_broken_config_keeps_everything_running() {
    let mut h = Harness::new("hup_broken");
    h.write_standard_conf(&recorder("x"));
    h.start(&[]);
    let x1 = wait_new_pid(&h, "x", None);

    h.write_standard_conf(&format!("{}startretries=lots\n", recorder("x")));
    h.signal(libc::SIGHUP);
    // Part C: the new config is checked first and refused with CRIT lines
    // that say what is wrong with it.
    h.eventually(T, "a CRIT line naming the bad option", || {
        h.main_log()
            .lines()
            .any(|l| l.contains(" CRIT ") && l.contains("startretries"))
    });

    // A good config afterwards reloads normally; x restarts exactly once,
    // so the broken one restarted nothing.
    h.write_standard_conf(&format!("{}{}", recorder("x"), recorder("y")));
    assert!(
        pid_alive(x1),
        "x died after the refused reload\n{}",
        h.diagnostics()
    );
    h.signal(libc::SIGHUP);
    wait_new_pid(&h, "y", None);
    wait_new_pid(&h, "x", Some(x1));
    assert_eq!(count(&h, "spawned: 'x'"), 2, "{}", h.diagnostics());
    let st = h.stop(T);
    assert_eq!(st.code(), Some(0), "{}", h.diagnostics());
}

#[test]
fn usr2_reopens_main_and_child_logs() {
    let mut h = Harness::new("usr2");
    h.write_standard_conf(
        "[program:talker]\n\
         command=/bin/sh -c 'i=0; while :; do echo line $i; i=$((i+1)); sleep 0.05; done'\n\
         stdout_logfile={dir}/talker.log\n\
         startsecs=0\n",
    );
    h.start(&[]);
    h.wait_file_contains("talker.log", "line 1\n", T);
    std::fs::rename(h.path("supervisord.log"), h.path("supervisord.log.old")).unwrap();
    std::fs::rename(h.path("talker.log"), h.path("talker.log.old")).unwrap();
    h.signal(libc::SIGUSR2);
    h.wait_file_contains("talker.log", "line", T);
    // The first USR2's own line went to the old file; a second one shows
    // that the main log now writes at the original path.
    h.wait_file_contains(
        "supervisord.log.old",
        "received SIGUSR2 indicating log reopen request",
        T,
    );
    h.wait_file_contains("supervisord.log.old", "INFO supervisord logreopen\n", T);
    h.signal(libc::SIGUSR2);
    h.wait_log("received SIGUSR2 indicating log reopen request", T);
    let st = h.stop(T);
    assert_eq!(st.code(), Some(0), "{}", h.diagnostics());
    assert!(h.main_log().contains("stopped: talker"));
}

/// A second config in the same dir: its own log, and the given socket and
/// pidfile; its program would leave `marker2` if it ever ran.
fn second_conf(h: &Harness, sock: &str, pidfile: &str) -> std::path::PathBuf {
    h.write_file(
        "second.conf",
        &format!(
            "[supervisord]\nlogfile={{dir}}/second.log\npidfile={{dir}}/{pidfile}\n\
             childlogdir={{dir}}\nnodaemon=true\n\n\
             [unix_http_server]\nfile={{dir}}/{sock}\n\n\
             [program:second]\ncommand=/bin/sh -c 'touch {{dir}}/marker2; exec sleep 100000'\nstartsecs=0\n"
        ),
    )
}

fn assert_second_refused(h: &Harness, conf: &std::path::Path, message: &str) {
    let o = h.run(&["-n", "-c", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(message),
        "{}",
        output_text(&o)
    );
    assert!(
        !h.path("marker2").exists(),
        "the second daemon started a program"
    );
}

#[test]
fn second_daemon_on_the_same_socket_or_pidfile_is_refused() {
    let mut h = Harness::new("second_daemon");
    h.write_standard_conf(&recorder("x"));
    let first = h.start(&[]);
    let x = wait_new_pid(&h, "x", None);
    h.wait_for_socket(T);

    let same_socket = second_conf(&h, "supervisor.sock", "second.pid");
    assert_second_refused(&h, &same_socket, "Another program is already listening");
    assert!(
        !h.path("second.pid").exists(),
        "refused daemon left its pidfile"
    );

    let same_pidfile = second_conf(&h, "second.sock", "supervisord.pid");
    assert_second_refused(&h, &same_pidfile, "already running with pidfile");
    assert!(
        !h.path("second.sock").exists(),
        "refused daemon left its socket"
    );

    // The first one did not notice.
    assert!(pid_alive(first) && pid_alive(x), "{}", h.diagnostics());
    assert!(
        UnixStream::connect(h.socket_path()).is_ok(),
        "first daemon's socket broken"
    );
    assert_eq!(h.read_pid("supervisord.pid"), Some(first));
    let st = h.stop(T);
    assert_eq!(st.code(), Some(0), "{}", h.diagnostics());
}

#[test]
fn stale_socket_file_is_replaced() {
    let mut h = Harness::new("stale_socket");
    drop(UnixListener::bind(h.socket_path()).unwrap());
    assert!(h.socket_path().exists(), "the leftover socket file");
    assert!(
        UnixStream::connect(h.socket_path()).is_err(),
        "nobody listens"
    );
    h.write_standard_conf(&recorder("x"));
    h.start(&[]);
    wait_new_pid(&h, "x", None);
    h.wait_for_socket(T);
    let st = h.stop(T);
    assert_eq!(st.code(), Some(0), "{}", h.diagnostics());
}

#[test]
fn minfds_above_the_hard_limit_fails_clearly() {
    // Above fs.nr_open even root cannot raise RLIMIT_NOFILE; under prlimit
    // the hard limit is low as well.
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20);
    let minfds = nr_open + 1;
    let mut h = Harness::new("minfds");
    let base = BASE_CONF.replace(
        "nodaemon=true\n",
        &format!("nodaemon=true\nminfds={minfds}\n"),
    );
    h.write_conf(&format!("{base}{}", recorder("x")));
    let conf = h.conf_path();
    // util-linux's prlimit, when installed, also lowers the hard limit.
    let prlimit = run_with_timeout(
        std::process::Command::new("prlimit").arg("--version"),
        CMD_TIMEOUT,
    )
    .is_ok_and(|o| o.status.success());
    let mut c = if prlimit {
        let mut c = h.command("prlimit");
        c.arg("--nofile=256:256").arg("--").arg(supervisord_bin());
        c
    } else {
        h.command(supervisord_bin())
    };
    c.args(["-n", "-c", conf.to_str().unwrap()]);
    h.start_command(c);
    let st = h.wait_exit(T);
    assert_eq!(st.code(), Some(2), "{}", h.diagnostics());
    let err = h.daemon_stderr();
    assert!(
        err.contains(&format!(
            "The minimum number of file descriptors required to run this process is {minfds}"
        )),
        "{err}"
    );
    if prlimit {
        assert!(
            err.contains("will only allow you to open 256 file descriptors"),
            "{err}"
        );
    }
    assert!(!h.path("x.pid").exists(), "a program ran");
}

#[test]
fn sigint_and_sigquit_shut_down_with_exit_0() {
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGQUIT, "SIGQUIT")] {
        let mut h = Harness::new(&format!("shutdown_{name}"));
        h.write_standard_conf(&recorder("x"));
        h.start(&[]);
        let x = wait_new_pid(&h, "x", None);
        h.signal(sig);
        let st = h.wait_exit(T);
        assert_eq!(
            st.code(),
            Some(0),
            "{name}: {}\n{}",
            describe_status(&st),
            h.diagnostics()
        );
        assert!(!pid_alive(x), "{name}: x survived");
        let log = h.main_log();
        assert!(
            log.contains(&format!("received {name} indicating exit request")),
            "{log}"
        );
        assert!(log.contains("stopped: x (terminated by SIGTERM)"), "{log}");
        assert!(
            !h.path("supervisord.pid").exists(),
            "{name}: pidfile left behind"
        );
    }
}

#[test]
fn reload_clears_the_previous_auto_child_logs() {
    // Each start of the daemon, reloads included, deletes the AUTO child
    // logs of this identifier (unless nocleanup); the new config's
    // processes get fresh ones. Otherwise every HUP leaks two files.
    let mut h = Harness::new("reload_auto_logs");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'echo $$ > {dir}/x.pid; echo started; exec sleep 100000'\n\
         startsecs=0\n",
    );
    h.start(&[]);
    let auto_logs = |h: &Harness| -> Vec<String> {
        std::fs::read_dir(h.dir())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("x-std") && n.contains("---supervisor-"))
            .collect()
    };
    let x1 = wait_new_pid(&h, "x", None);
    assert_eq!(auto_logs(&h).len(), 2, "{:?}", auto_logs(&h));
    h.signal(libc::SIGHUP);
    wait_new_pid(&h, "x", Some(x1));
    h.eventually(T, "the new stdout AUTO log to get output", || {
        auto_logs(&h)
            .iter()
            .any(|n| n.contains("stdout") && read_lossy(&h.path(n)).contains("started"))
    });
    let logs = auto_logs(&h);
    assert_eq!(logs.len(), 2, "old AUTO logs survived the reload: {logs:?}");
    let st = h.stop(T);
    assert_eq!(st.code(), Some(0), "{}", h.diagnostics());
}

/// The shipped systemd unit: `ExecStart=supervisord -c FILE` (Type=forking,
/// PIDFile), `ExecReload=supervisorctl reload`, `ExecStop=supervisorctl
/// shutdown`, with our own supervisorctl.
#[test]
fn systemd_unit_commands_start_reload_and_stop_the_daemon() {
    let unit = std::fs::read_to_string(repo_root().join("examples/supervisord.service"))
        .expect("examples/supervisord.service is shipped");
    for line in [
        "Type=forking",
        "PIDFile=",
        "ExecReload=/usr/local/bin/supervisorctl reload",
        "ExecStop=/usr/local/bin/supervisorctl shutdown",
    ] {
        assert!(unit.contains(line), "the unit lost {line:?}");
    }
    let h = Harness::new("systemd_unit");
    let base = BASE_CONF.replace("nodaemon=true", "nodaemon=false");
    h.write_conf(&format!("{base}{}", recorder("x")));
    let conf = h.conf_path();
    let o = h.run(&["-c", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let daemon = h
        .read_pid("supervisord.pid")
        .expect("PIDFile written before the start command returned");
    let x1 = wait_new_pid(&h, "x", None);

    // ExecReload: supervisorctl reload (non-interactive: no y/N question).
    h.write_conf(&format!("{base}{}{}", recorder("x"), recorder("y")));
    let o = h.ctl(&["reload"]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "Restarted supervisord\n"
    );
    wait_new_pid(&h, "y", None);
    wait_new_pid(&h, "x", Some(x1));
    assert_eq!(
        h.read_pid("supervisord.pid"),
        Some(daemon),
        "the daemon was replaced, not reloaded"
    );
    h.eventually(T, "status after the reload", || {
        let o = h.ctl(&["status"]);
        o.status.code() == Some(0) && String::from_utf8_lossy(&o.stdout).lines().count() == 2
    });

    // ExecStop: supervisorctl shutdown.
    let o = h.ctl(&["shutdown"]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Shut down\n");
    h.eventually(T, "the daemon to exit", || !pid_alive(daemon));
    assert!(!h.path("supervisord.pid").exists(), "pidfile left behind");
}
