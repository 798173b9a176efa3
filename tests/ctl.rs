//! Our supervisorctl against the reference Python supervisord, compared
//! with the reference supervisorctl: for each command, the same stdout,
//! stderr and exit status (after masking what changes from one second to
//! the next, and the Python source location in uncaught-error lines).
//!
//! Needs `SUPERVISOR_REF_VENV`; skipped without it, a failure under CI.

use crate::util::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

/// Programs shared by the tests: one running (it traps USR1 so signalling
/// does not kill it), one not started, one whose command does not exist,
/// one that exits at once (spawn error), and a group of two.
const PROGRAMS: &str = "\
[program:sleeper]
command=/bin/sh -c 'trap \"echo usr1\" USR1; echo hello; echo oops >&2; while :; do sleep 0.2; done'
startsecs=0
stopwaitsecs=2

[program:idle]
command=/bin/sleep 1000
autostart=false

[program:bad]
command=/nonexistent/command
autostart=false

[program:quick]
command=/bin/true
autostart=false
startsecs=1
startretries=0

[group:grp]
programs=a,b

[program:a]
command=/bin/sleep 1000
stopwaitsecs=2

[program:b]
command=/bin/sleep 1000
process_name=%(program_name)s_%(process_num)02d
numprocs=2
stopwaitsecs=2
";

/// Which daemon the two clients talk to: the scenarios run against the
/// Python reference daemon and against ours, and in both cases our
/// supervisorctl must print and exit exactly as the Python one.
#[derive(Clone, Copy)]
enum Daemon {
    Reference,
    Ours,
}

impl Daemon {
    fn tag(self) -> &'static str {
        match self {
            Daemon::Reference => "ref",
            Daemon::Ours => "ours",
        }
    }
}

struct Reference {
    h: Harness,
    venv: PathBuf,
    /// `[inet_http_server]` port, if configured.
    port: Option<u16>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn conf_text(port: Option<u16>, programs: &str) -> String {
    let inet = match port {
        Some(p) => {
            format!("[inet_http_server]\nport=127.0.0.1:{p}\nusername=user\npassword=s3cret\n\n")
        }
        None => String::new(),
    };
    format!(
        "[supervisord]\nlogfile={{dir}}/supervisord.log\npidfile={{dir}}/supervisord.pid\n\
         childlogdir={{dir}}\nloglevel=info\nnodaemon=true\n\n\
         [unix_http_server]\nfile={{dir}}/supervisor.sock\n\n{inet}\
         [supervisorctl]\nserverurl=unix://{{dir}}/supervisor.sock\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         {programs}"
    )
}

impl Reference {
    /// Start the reference daemon on a fresh config, or `None` (skip).
    fn start(name: &str, daemon: Daemon, inet: bool, programs: &str) -> Option<Reference> {
        let venv = reference_venv();
        if !skip_unless(venv.is_some(), "SUPERVISOR_REF_VENV is not set") {
            return None;
        }
        let venv = venv?;
        let mut h = Harness::new(name);
        let port = inet.then(free_port);
        h.write_conf(&conf_text(port, programs));
        let mut c = match daemon {
            Daemon::Reference => h.command(venv.join("bin").join("supervisord")),
            Daemon::Ours => h.command(supervisord_bin()),
        };
        c.arg("-n").arg("-c").arg(h.conf_path());
        h.start_command(c);
        h.wait_for_socket(Duration::from_secs(20));
        let r = Reference { h, venv, port };
        r.wait_running("sleeper");
        Some(r)
    }

    fn ref_ctl(&self) -> PathBuf {
        self.venv.join("bin").join("supervisorctl")
    }

    /// Poll until `name` is RUNNING (asked with the reference client).
    fn wait_running(&self, name: &str) {
        self.h.eventually(
            Duration::from_secs(20),
            &format!("{name} to be RUNNING"),
            || {
                let o = self.run_ref(&["status", name]);
                String::from_utf8_lossy(&o.stdout).contains("RUNNING")
            },
        );
    }

    fn with_conf(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["-c".to_string(), self.h.conf_path().display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        all
    }

    fn run_ref(&self, args: &[&str]) -> Output {
        let mut c = self.h.command(self.ref_ctl());
        c.args(self.with_conf(args));
        run_with_timeout(&mut c, CMD_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
    }

    fn run_ours(&self, args: &[&str]) -> Output {
        let link = self.h.bin_link("supervisorctl");
        let mut c = self.h.command(link);
        c.args(self.with_conf(args));
        run_with_timeout(&mut c, CMD_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Run `args` with both clients, the reference first.
    fn both(&self, args: &[&str]) -> (Output, Output) {
        (self.run_ref(args), self.run_ours(args))
    }

    /// Both clients must print and exit the same.
    fn same(&self, args: &[&str]) {
        let (r, o) = self.both(args);
        assert_same(&r, &o, &args.join(" "));
    }

    /// Like [`same`], for a command that changes state: `undo` restores it
    /// (with the reference client) between the two runs and after.
    fn same_with_undo(&self, args: &[&str], undo: &[&str]) {
        let r = self.run_ref(args);
        self.run_ref(undo);
        let o = self.run_ours(args);
        self.run_ref(undo);
        assert_same(&r, &o, &args.join(" "));
    }

    /// Like [`same_with_undo`] for commands on several processes, whose
    /// results the daemon lists in the order the processes happened to
    /// stop: the lines are compared as a set.
    fn same_lines_with_undo(&self, args: &[&str], undo: &[&str]) {
        let r = self.run_ref(args);
        self.run_ref(undo);
        let o = self.run_ours(args);
        self.run_ref(undo);
        let sorted = |o: &Output| {
            let mut o = o.clone();
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort_unstable();
            o.stdout = lines.join("\n").into_bytes();
            o
        };
        assert_same(&sorted(&r), &sorted(&o), &args.join(" "));
    }

    /// Feed `input` to the shell of both clients (stdin is a pipe).
    fn same_shell(&self, extra: &[&str], input: &str) {
        let run = |prog: PathBuf| {
            let mut c = self.h.command(prog);
            c.args(self.with_conf(extra))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn: {e}"));
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(input.as_bytes()).ok();
            }
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(child.wait_with_output());
            });
            rx.recv_timeout(CMD_TIMEOUT)
                .unwrap_or_else(|_| panic!("shell did not finish"))
                .unwrap_or_else(|e| panic!("wait: {e}"))
        };
        let r = run(self.ref_ctl());
        let o = run(self.h.bin_link("supervisorctl"));
        assert_same(&r, &o, &format!("shell with input {input:?}"));
    }
}

/// Mask what legitimately differs between two runs a moment apart, and
/// the reference's Python source location in uncaught-error lines.
fn normalize(text: &[u8]) -> String {
    let s = String::from_utf8_lossy(text);
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        let mut l = line.to_string();
        if let Some(i) = l.find("uptime ") {
            let end = l[i..].find('\n').map_or(l.len(), |e| i + e);
            l.replace_range(i..end, "uptime X");
        }
        if l.starts_with("error: <class ")
            && let Some(i) = l.rfind(": file: ")
        {
            let end = l.find('\n').unwrap_or(l.len());
            l.replace_range(i..end, ": file: X");
        }
        out.push_str(&l);
    }
    out
}

fn assert_same(r: &Output, o: &Output, what: &str) {
    let (rs, os) = (normalize(&r.stdout), normalize(&o.stdout));
    let (re, oe) = (normalize(&r.stderr), normalize(&o.stderr));
    assert!(
        rs == os && re == oe && r.status.code() == o.status.code(),
        "`{what}` differs from the reference\n--- reference (exit {:?}):\n{rs}{re}\n--- ours (exit {:?}):\n{os}{oe}",
        r.status.code(),
        o.status.code()
    );
}

fn ctl_read_only_commands_match_reference_on(daemon: Daemon) {
    let Some(r) = Reference::start(
        &format!("ctl_readonly_{}", daemon.tag()),
        daemon,
        false,
        PROGRAMS,
    ) else {
        return;
    };
    r.wait_running("grp:a");
    for cmd in [
        &["status"][..],
        &["status", "sleeper"],
        &["status", "all"],
        &["status", "grp:*", "idle"],
        &["status", "nope", "grp:zz", "zz:*", "sleeper"],
        &["pid"],
        &["pid", "sleeper"],
        &["pid", "idle"],
        &["pid", "nope"],
        &["pid", "all"],
        &["avail"],
        &["reread"],
        &["version"],
        &["tail", "sleeper"],
        &["tail", "-3", "sleeper"],
        &["tail", "sleeper", "stderr"],
        &["tail", "nope"],
        &["tail", "sleeper", "bogus"],
        &["tail", "-x", "sleeper"],
        &["tail", "idle"],
        &["maintail", "x"],
        &["maintail", "-x"],
        &["fg", "nope"],
        &["fg", "idle"],
        &["fg", "a", "b"],
        &["open", "ftp://x"],
        &["bogus"],
        &["!x"],
        &["help"],
        &["help", "nope"],
        &["quit"],
        &["exit"],
        &["EOF"],
        &["add"],
        &["add", "sleeper"],
        &["add", "nope"],
        &["remove", "nope"],
        &["remove", "sleeper"],
        &["update", "nope"],
        &["clear", "nope"],
        &["start", "nope"],
        &["start", "nope:*"],
        &["start", "sleeper"],
        &["start", "bad"],
        &["stop", "idle"],
        &["stop", "nope"],
        &["stop", "nope:*"],
        &["signal", "USR1", "sleeper"],
        &["signal", "BOGUS", "sleeper"],
        &["signal", "USR1", "idle"],
        &["signal", "USR1", "nope:*"],
        &["clear", "sleeper"],
        &["clear", "sleeper", "grp:a"],
        &["clear", "all"],
    ] {
        r.same(cmd);
    }
    // `quick` exits at once: a spawn error or an abnormal termination,
    // depending on the daemon's timing; either way a dead program (7).
    let o = r.run_ours(&["start", "quick"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text == "quick: ERROR (spawn error)\n" || text == "quick: ERROR (abnormal termination)\n",
        "{}",
        output_text(&o)
    );
    assert_eq!(o.status.code(), Some(7));
    r.same(&["-s", "unix:///nonexistent/x.sock", "status"]);
    r.same(&["-s", "unix:///nonexistent/x.sock", "version"]);
    r.same(&["-s", "unix:///nonexistent/x.sock", "avail"]);
    r.same(&["-s", "unix:///nonexistent/x.sock", "shutdown"]);
    r.same(&["-s", "foo://x", "status"]);
    r.same(&["-s", "http://127.0.0.1:1", "status"]);
    r.same(&["-s", "http://127.0.0.1:1", "shutdown"]);
    // The shell, fed from a pipe: prompts on stdout, EOF leaves with 0.
    r.same_shell(&[], "status sleeper\n\nfoo\nversion\n");
    r.same_shell(&[], "pid nope\nquit\nversion\n");
    r.same_shell(&["-i"], "");
}

fn ctl_state_changes_match_reference_on(daemon: Daemon) {
    // Whether `quick` fails as a spawn error or an abnormal termination
    // depends on the daemon's timing: leave it out of `start all`.
    let quick =
        "[program:quick]\ncommand=/bin/true\nautostart=false\nstartsecs=1\nstartretries=0\n\n";
    assert!(PROGRAMS.contains(quick));
    let programs = PROGRAMS.replace(quick, "");
    let Some(r) = Reference::start(
        &format!("ctl_changes_{}", daemon.tag()),
        daemon,
        false,
        &programs,
    ) else {
        return;
    };
    r.wait_running("grp:b_01");
    r.same_with_undo(&["stop", "sleeper"], &["start", "sleeper"]);
    r.same_with_undo(&["start", "idle"], &["stop", "idle"]);
    r.same_lines_with_undo(&["stop", "grp:*"], &["start", "grp:*"]);
    r.same_lines_with_undo(
        &["stop", "grp:a", "sleeper", "nope"],
        &["start", "grp:a", "sleeper"],
    );
    r.same_lines_with_undo(&["start", "grp:*", "idle"], &["stop", "idle"]);
    r.same_lines_with_undo(&["restart", "sleeper", "grp:b_00"], &["status"]);
    r.same_lines_with_undo(&["restart", "grp:*"], &["status"]);
    // CONT is harmless to `sleep`, USR1 is trapped by sleeper.
    r.same(&["signal", "CONT", "grp:*", "sleeper"]);
    r.same(&["signal", "USR1", "sleeper", "idle"]);
    r.same(&["signal", "CONT", "all"]);
    r.same_with_undo(&["remove", "grp"], &["status"]);
    r.same_lines_with_undo(&["stop", "all"], &["start", "sleeper", "grp:*"]);
    r.same_lines_with_undo(&["start", "all"], &["stop", "idle", "bad"]);
}

fn ctl_reread_and_update_match_reference_on(daemon: Daemon) {
    let Some(r) = Reference::start(
        &format!("ctl_update_{}", daemon.tag()),
        daemon,
        false,
        PROGRAMS,
    ) else {
        return;
    };
    let before = conf_text(None, PROGRAMS);
    let after = conf_text(
        None,
        &(PROGRAMS
            .replace("[program:idle]\ncommand=/bin/sleep 1000\n", "")
            .replace("autostart=false\n\n[program:bad]", "[program:bad]")
            .replace("command=/nonexistent/command", "command=/nonexistent/other")
            + "\n[program:newprog]\ncommand=/bin/sleep 1000\nautostart=false\n"),
    );
    r.h.write_conf(&after);
    r.same(&["reread"]);
    r.same_with_undo(&["update", "nope", "newprog"], &["remove", "newprog"]);
    // `update` changes the daemon: run it with each client from the same
    // starting point (the reference's update to the old config restores it).
    let ref_out = r.run_ref(&["update"]);
    r.h.write_conf(&before);
    r.run_ref(&["update"]);
    r.h.write_conf(&after);
    let ours = r.run_ours(&["update"]);
    assert_same(&ref_out, &ours, "update");
    r.same(&["avail"]);
    r.same(&["reread"]);
    r.h.write_conf(&before);
    let ref_out = r.run_ref(&["update", "all"]);
    r.h.write_conf(&after);
    r.run_ref(&["update"]);
    r.h.write_conf(&before);
    let ours = r.run_ours(&["update", "all"]);
    assert_same(&ref_out, &ours, "update all");
    r.same_with_undo(&["add", "newprog"], &["remove", "newprog"]);
}

fn ctl_over_inet_with_auth_matches_reference_on(daemon: Daemon) {
    let Some(r) = Reference::start(
        &format!("ctl_inet_{}", daemon.tag()),
        daemon,
        true,
        PROGRAMS,
    ) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}", r.port.unwrap_or(0));
    let local = format!("http://localhost:{}", r.port.unwrap_or(0));
    r.same(&[
        "-s", &url, "-u", "user", "-p", "s3cret", "status", "sleeper",
    ]);
    r.same(&["-s", &local, "-u", "user", "-p", "s3cret", "version"]);
    r.same(&[
        "-s",
        &url,
        "--username=user",
        "--password=s3cret",
        "pid",
        "all",
    ]);
    r.same(&["-s", &url, "-u", "user", "-p", "wrong", "status"]);
    r.same(&["-s", &url, "status"]);
    r.same(&["-s", &url, "-u", "user", "avail"]);
    r.same(&[
        "-s", &url, "-u", "user", "-p", "s3cret", "tail", "sleeper", "stderr",
    ]);
    r.same(&[
        "-s", &url, "-u", "user", "-p", "wrong", "tail", "-f", "sleeper",
    ]);
    r.same(&[
        "-s", &url, "-u", "user", "-p", "s3cret", "tail", "-f", "nope",
    ]);
    r.same(&["-s", &url, "-u", "user", "-p", "s3cret", "maintail", "-5"]);
}

/// Start `tail -f`-like commands, interrupt them once output arrived.
fn interrupted(r: &Reference, prog: PathBuf, args: &[&str], want: &str) -> Output {
    let mut c = r.h.command(prog);
    c.args(r.with_conf(args))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap_or_else(|e| panic!("spawn: {e}"));
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    // The streamed output is only visible at the end; give the stream time
    // to deliver, then interrupt as Ctrl-C would.
    std::thread::sleep(Duration::from_millis(1500));
    send_signal(pid, libc::SIGINT);
    let o = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{args:?} did not end after SIGINT"))
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(want),
        "{args:?}: {want:?} not in output\n{}",
        output_text(&o)
    );
    o
}

fn ctl_tail_follow_matches_reference_on(daemon: Daemon) {
    let Some(r) = Reference::start(
        &format!("ctl_tailf_{}", daemon.tag()),
        daemon,
        false,
        PROGRAMS,
    ) else {
        return;
    };
    for (args, want) in [
        (&["tail", "-f", "sleeper"][..], "hello\n"),
        (&["tail", "-f", "sleeper", "stderr"], "oops\n"),
        (&["maintail", "-f"], "success: sleeper"),
    ] {
        let ref_out = interrupted(&r, r.ref_ctl(), args, want);
        let ours = interrupted(&r, r.h.bin_link("supervisorctl"), args, want);
        assert_same(&ref_out, &ours, &args.join(" "));
    }
    r.same(&["tail", "-f", "nope"]);
}

fn ctl_shutdown_matches_reference_on(daemon: Daemon) {
    let Some(mut r) = Reference::start(
        &format!("ctl_shutdown_{}", daemon.tag()),
        daemon,
        false,
        PROGRAMS,
    ) else {
        return;
    };
    let o = r.run_ours(&["shutdown"]);
    assert_eq!(
        (String::from_utf8_lossy(&o.stdout).as_ref(), o.status.code()),
        ("Shut down\n", Some(0)),
        "{}",
        output_text(&o)
    );
    let st = r.h.wait_exit(Duration::from_secs(20));
    assert_eq!(st.code(), Some(0), "{}", describe_status(&st));
    r.same(&["status"]);
    r.same(&["shutdown"]);
    r.same(&["reload"]);
    r.same(&["pid"]);
}

fn ctl_usage_errors_match_reference_on(daemon: Daemon) {
    let Some(r) = Reference::start(
        &format!("ctl_usage_{}", daemon.tag()),
        daemon,
        false,
        PROGRAMS,
    ) else {
        return;
    };
    // Usage errors name the program: compare only the first line.
    for args in [
        &["-s", "x", "status"][..],
        &["-u", "a", "-u", "b", "status"],
        &["-z"],
        &["-c", "/nonexistent/supervisord.conf", "status"],
    ] {
        let mut c = r.h.command(r.ref_ctl());
        c.args(args);
        let ro = run_with_timeout(&mut c, CMD_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        let o = r.h.run_as("supervisorctl", args);
        let first = |o: &Output| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(first(&ro), first(&o), "{args:?}");
        assert_eq!(ro.status.code(), o.status.code(), "{args:?}");
        assert!(o.stdout.is_empty());
    }
    let no_section = r.h.write_file("nosection.conf", "[supervisord]\n");
    let args = ["-c", no_section.to_str().unwrap_or_default(), "status"];
    let o = r.h.run_as("supervisorctl", &args);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .starts_with("Error: .ini file does not include supervisorctl section\n"),
        "{}",
        output_text(&o)
    );
    let o = r.h.run_as("supervisorctl", &["-h"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("-s/--serverurl URL"));
}

#[test]
fn ctl_read_only_commands_match_reference() {
    ctl_read_only_commands_match_reference_on(Daemon::Reference);
}

#[test]
fn ctl_read_only_commands_match_reference_against_our_daemon() {
    ctl_read_only_commands_match_reference_on(Daemon::Ours);
}

#[test]
fn ctl_state_changes_match_reference() {
    ctl_state_changes_match_reference_on(Daemon::Reference);
}

#[test]
fn ctl_state_changes_match_reference_against_our_daemon() {
    ctl_state_changes_match_reference_on(Daemon::Ours);
}

#[test]
fn ctl_reread_and_update_match_reference() {
    ctl_reread_and_update_match_reference_on(Daemon::Reference);
}

#[test]
fn ctl_reread_and_update_match_reference_against_our_daemon() {
    ctl_reread_and_update_match_reference_on(Daemon::Ours);
}

#[test]
fn ctl_over_inet_with_auth_matches_reference() {
    ctl_over_inet_with_auth_matches_reference_on(Daemon::Reference);
}

#[test]
fn ctl_over_inet_with_auth_matches_reference_against_our_daemon() {
    ctl_over_inet_with_auth_matches_reference_on(Daemon::Ours);
}

#[test]
fn ctl_tail_follow_matches_reference() {
    ctl_tail_follow_matches_reference_on(Daemon::Reference);
}

#[test]
fn ctl_tail_follow_matches_reference_against_our_daemon() {
    ctl_tail_follow_matches_reference_on(Daemon::Ours);
}

#[test]
fn ctl_shutdown_matches_reference() {
    ctl_shutdown_matches_reference_on(Daemon::Reference);
}

#[test]
fn ctl_shutdown_matches_reference_against_our_daemon() {
    ctl_shutdown_matches_reference_on(Daemon::Ours);
}

#[test]
fn ctl_usage_errors_match_reference() {
    ctl_usage_errors_match_reference_on(Daemon::Reference);
}

#[test]
fn ctl_usage_errors_match_reference_against_our_daemon() {
    ctl_usage_errors_match_reference_on(Daemon::Ours);
}
