//! Drop-in compatibility of the RPC interface, side by side: the reference
//! Python `supervisord` and ours run the same programs (each in its own temp
//! dir, socket and port), the reference `supervisorctl` and `xmlrpc.client`
//! scripts talk to both, and the outputs and exit codes must be equal once
//! pids, times, uptimes and paths are normalised (SPEC A8, A9, A11).
//!
//! Needs `SUPERVISOR_REF_VENV` (skipped without it, a failure under CI).

use crate::rpc_robust::{
    Addr, HttpResponse, Stream, basic, call_body, post_request, read_response,
};
use crate::util::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;
use supervisor_rs::rpc::Value;

const T: Duration = Duration::from_secs(20);

fn venv_or_skip() -> Option<PathBuf> {
    let v = reference_venv();
    skip_unless(
        v.is_some(),
        "SUPERVISOR_REF_VENV is not set to a venv with the reference Supervisor",
    );
    v
}

/// How the daemons listen and how supervisorctl reaches them.
#[derive(Clone)]
enum Server {
    Unix,
    /// `[inet_http_server]` with credentials; `password` as written in the
    /// server section (plain or `{SHA}` hex), `plain` what clients send.
    Inet {
        password: String,
        plain: String,
    },
}

const USER: &str = "user";

/// One daemon (ours or the reference) with its own temp dir.
struct Side {
    h: Harness,
    venv: PathBuf,
    reference: bool,
    addr: Addr,
    auth: Option<String>,
}

impl Side {
    fn label(&self) -> &'static str {
        if self.reference { "reference" } else { "ours" }
    }

    fn start(
        name: &str,
        reference: bool,
        venv: &std::path::Path,
        server: &Server,
        programs: &str,
    ) -> Side {
        let tag = if reference { "ref" } else { "ours" };
        let mut h = Harness::new(&format!("{name}_{tag}"));
        let (server_conf, ctl_conf, addr, auth) = match server {
            Server::Unix => (
                "[unix_http_server]\nfile={dir}/supervisor.sock\n".to_string(),
                "serverurl=unix://{dir}/supervisor.sock\n".to_string(),
                Addr::Unix(h.socket_path()),
                None,
            ),
            Server::Inet { password, plain } => {
                let port = free_port();
                (
                    format!(
                        "[inet_http_server]\nport=127.0.0.1:{port}\nusername={USER}\npassword={password}\n"
                    ),
                    format!(
                        "serverurl=http://127.0.0.1:{port}\nusername={USER}\npassword={plain}\n"
                    ),
                    Addr::Tcp(port),
                    Some(basic(USER, plain)),
                )
            }
        };
        h.write_conf(&format!(
            "[supervisord]\nlogfile={{dir}}/supervisord.log\npidfile={{dir}}/supervisord.pid\n\
             childlogdir={{dir}}\nloglevel=info\nnodaemon=true\n\n{server_conf}\n\
             [supervisorctl]\n{ctl_conf}\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
             {programs}"
        ));
        h.write_script("notexec.sh", "echo hi\n");
        std::fs::set_permissions(
            h.path("notexec.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .expect("chmod");
        if reference {
            let mut c = h.command(venv.join("bin/supervisord"));
            c.arg("-n").arg("-c").arg(h.conf_path());
            h.start_command(c);
        } else {
            h.start(&[]);
        }
        let side = Side {
            h,
            venv: venv.to_path_buf(),
            reference,
            addr,
            auth,
        };
        side.h.eventually(
            T,
            &format!("{} daemon to answer getState", side.label()),
            || {
                side.try_rpc("supervisor.getState", &[])
                    .is_some_and(|r| r.status == 200)
            },
        );
        side
    }

    fn try_rpc(&self, method: &str, params: &[String]) -> Option<HttpResponse> {
        let connected = match &self.addr {
            Addr::Unix(p) => std::os::unix::net::UnixStream::connect(p).is_ok(),
            Addr::Tcp(port) => std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok(),
        };
        if !connected {
            return None;
        }
        let mut s = Stream::connect(&self.addr);
        let body = call_body(method, params);
        s.write_all(&post_request(body.as_bytes(), self.auth.as_deref(), true))
            .ok()?;
        read_response(&mut s)
    }

    fn statename(&self, name: &str) -> Option<String> {
        let r = self.try_rpc("supervisor.getProcessInfo", &[xml::string(name)])?;
        if r.status != 200 {
            return None;
        }
        r.rpc().ok()?.get("statename")?.as_str().map(str::to_string)
    }

    fn wait_state(&self, name: &str, states: &[&str]) {
        self.h.eventually(
            T,
            &format!("{}: {name} in {states:?}", self.label()),
            || {
                self.statename(name)
                    .is_some_and(|s| states.contains(&s.as_str()))
            },
        );
    }

    /// Wait until nothing is STARTING or BACKOFF (status is deterministic).
    fn wait_settled(&self) {
        self.h.eventually(
            T,
            &format!("{}: all processes settled", self.label()),
            || {
                let Some(r) = self.try_rpc("supervisor.getAllProcessInfo", &[]) else {
                    return false;
                };
                match r.rpc() {
                    Ok(Value::Array(items)) => items.iter().all(|x| {
                        !matches!(
                            x.get("statename").and_then(Value::as_str),
                            Some("STARTING" | "BACKOFF")
                        )
                    }),
                    _ => false,
                }
            },
        );
    }

    /// The reference supervisorctl against this daemon.
    fn ctl_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.h.command(self.venv.join("bin/supervisorctl"));
        c.arg("-c").arg(self.h.conf_path()).args(args);
        c
    }

    fn ctl_raw(&self, args: &[&str]) -> Output {
        run_with_timeout(&mut self.ctl_cmd(args), CMD_TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: {e}", self.label()))
    }

    /// Normalised output and exit code of a supervisorctl run.
    fn ctl_result(&self, o: &Output) -> (String, i32) {
        let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = String::from_utf8_lossy(&o.stderr);
        if !err.is_empty() {
            text.push_str("[stderr]\n");
            text.push_str(&err);
        }
        (
            normalise(&text, &self.h.dir().display().to_string()),
            o.status.code().unwrap_or(-1),
        )
    }

    /// `supervisorctl pid NAME` as a number.
    fn pid_of(&self, name: &str) -> i32 {
        let o = self.ctl_raw(&["pid", name]);
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }
}

/// Replace `pat` + a run of chars accepted by `keep` with `pat` + `with`.
fn replace_runs(line: &str, pat: &str, keep: impl Fn(char) -> bool, with: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(pat) {
        out.push_str(&rest[..i + pat.len()]);
        rest = &rest[i + pat.len()..];
        let n = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
        if n > 0 {
            out.push_str(with);
            rest = &rest[n..];
        }
    }
    out.push_str(rest);
    out
}

/// `Jan 02 03:04 PM` (Supervisor's stopped-time format) → `DATE`.
fn replace_dates(line: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let shape = |s: &str| {
        let b = s.as_bytes();
        b.len() >= 15
            && b[3] == b' '
            && b[4].is_ascii_digit()
            && b[5].is_ascii_digit()
            && b[6] == b' '
            && b[9] == b':'
            && (&s[13..15] == "AM" || &s[13..15] == "PM")
    };
    let mut out = line.to_string();
    for m in MONTHS {
        while let Some(i) = out.find(m).filter(|&i| shape(&out[i..])) {
            out.replace_range(i..i + 15, "DATE");
        }
    }
    out
}

/// Normalise pids, uptimes, dates, log timestamps, generated log names and
/// the temp dir, so two daemons' outputs can be compared.
fn normalise(text: &str, dir: &str) -> String {
    let digit = |c: char| c.is_ascii_digit();
    let mut out = String::new();
    for line in text.replace(dir, "{dir}").lines() {
        let mut l = replace_runs(line, "pid ", digit, "N");
        l = replace_runs(&l, "uptime ", |c| c.is_ascii_digit() || c == ':', "U");
        l = replace_runs(
            &l,
            "---supervisor-",
            |c| c.is_ascii_alphanumeric() || c == '_',
            "X",
        );
        l = replace_dates(&l);
        // `2026-01-02 03:04:05,678 INFO ...` (main log lines).
        let b = l.as_bytes();
        if b.len() > 24 && b[4] == b'-' && b[10] == b' ' && b[19] == b',' {
            l = format!("TS{}", &l[23..]);
        }
        if !l.trim().is_empty() && l.trim().chars().all(digit) {
            l = "N".into();
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// One step of a scripted session run against both daemons.
enum Step<'a> {
    /// A supervisorctl command; output compared verbatim.
    Ctl(&'a [&'a str]),
    /// Same, lines compared as a set: results of several processes come
    /// in completion order, which varies run to run in both daemons.
    Sorted(&'a [&'a str]),
    /// Only the last `n` lines (a log tail whose start is cut mid-line).
    Last(usize, &'a [&'a str]),
    /// Wait on both sides until the process is in one of these states.
    Wait(&'a str, &'a [&'a str]),
}

/// Run two commands at once (one per daemon) with a deadline.
fn run_both(mut a: Command, mut b: Command, timeout: Duration) -> (Output, Output) {
    std::thread::scope(|s| {
        let t = s.spawn(move || run_with_timeout(&mut a, timeout));
        let rb = run_with_timeout(&mut b, timeout);
        let ra = t.join().expect("command thread");
        (
            ra.unwrap_or_else(|e| panic!("{e}")),
            rb.unwrap_or_else(|e| panic!("{e}")),
        )
    })
}

fn run_steps(ours: &Side, theirs: &Side, steps: &[Step<'_>]) {
    let mut diffs = Vec::new();
    for step in steps {
        let args: &[&str] = match step {
            Step::Ctl(a) | Step::Sorted(a) | Step::Last(_, a) => a,
            Step::Wait(name, states) => {
                ours.wait_state(name, states);
                theirs.wait_state(name, states);
                continue;
            }
        };
        let (mine, reference) = run_both(ours.ctl_cmd(args), theirs.ctl_cmd(args), CMD_TIMEOUT);
        let (mine, reference) = (ours.ctl_result(&mine), theirs.ctl_result(&reference));
        let shape = |(text, code): (String, i32)| -> (String, i32) {
            let text = match step {
                Step::Sorted(_) => {
                    let mut l: Vec<&str> = text.lines().collect();
                    l.sort();
                    l.join("\n")
                }
                Step::Last(n, _) => {
                    let l: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                    l[l.len().saturating_sub(*n)..].join("\n")
                }
                _ => text,
            };
            (text, code)
        };
        let (mine, reference) = (shape(mine), shape(reference));
        if mine != reference {
            diffs.push(format!(
                "supervisorctl {}:\n--- reference (exit {}):\n{}\n--- ours (exit {}):\n{}",
                args.join(" "),
                reference.1,
                reference.0,
                mine.1,
                mine.0
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} difference(s) from the reference:\n\n{}",
        diffs.len(),
        diffs.join("\n\n")
    );
}

fn start_pair(name: &str, server: &Server, programs: &str) -> Option<(Side, Side)> {
    let venv = venv_or_skip()?;
    // On this thread: the harness's daemons die with the thread that
    // started them (PR_SET_PDEATHSIG).
    let ours = Side::start(name, false, &venv, server, programs);
    let theirs = Side::start(name, true, &venv, server, programs);
    ours.wait_settled();
    theirs.wait_settled();
    Some((ours, theirs))
}

const CTL_PROGRAMS: &str = "\
[program:sleeper]
command=/bin/sh -c 'echo out; echo err >&2; exec sleep 1000'
startsecs=0

[program:idle]
command=/bin/sleep 1000
autostart=false
startsecs=0

[program:quick]
command=/bin/sh -c 'exit 3'
autostart=false
startsecs=1
startretries=0

[program:nocmd]
command=/nonexistent/x
autostart=false

[program:sig]
command=/bin/sh {fixtures}/print_signals.sh {dir}/sig.out
startsecs=0

[group:g]
programs=ga,gb

[program:ga]
command=/bin/sleep 1000
startsecs=0

[program:gb]
command=/bin/sleep 1000
startsecs=0
";

/// The full supervisorctl session of the brief.
fn ctl_session() -> Vec<Step<'static>> {
    use Step::*;
    vec![
        Ctl(&["status"]),
        Ctl(&["status", "sleeper"]),
        Ctl(&["status", "g:*"]),
        Ctl(&["status", "nope"]),
        Ctl(&["status", "idle"]),
        Ctl(&["status", "sleeper", "idle"]),
        Ctl(&["start", "idle"]),
        Ctl(&["start", "idle"]),
        Ctl(&["start", "nope"]),
        Ctl(&["start", "quick"]),
        Wait("quick", &["FATAL"]),
        Ctl(&["status", "quick"]),
        Ctl(&["start", "nocmd"]),
        Ctl(&["start"]),
        Ctl(&["start", "g:*"]),
        Ctl(&["stop", "idle"]),
        Last(1, &["maintail"]),
        Ctl(&["stop", "idle"]),
        Ctl(&["stop", "nope"]),
        Ctl(&["restart", "sleeper"]),
        Ctl(&["restart", "idle"]),
        Ctl(&["restart", "nope"]),
        Sorted(&["stop", "g:*"]),
        Ctl(&["status", "g:*"]),
        Sorted(&["start", "g:*"]),
        Sorted(&["restart", "g:*"]),
        Ctl(&["signal", "HUP", "sig"]),
        Ctl(&["signal", "HUP", "nope"]),
        Ctl(&["signal", "FOO", "sig"]),
        Ctl(&["signal", "HUP", "idle"]),
        Ctl(&["signal", "HUP", "nocmd"]),
        Sorted(&["signal", "CONT", "g:*"]),
        Ctl(&["pid"]),
        Ctl(&["pid", "sleeper"]),
        Ctl(&["pid", "nocmd"]),
        Ctl(&["pid", "nope"]),
        Ctl(&["pid", "all"]),
        Ctl(&["avail"]),
        Ctl(&["tail", "sleeper"]),
        Ctl(&["tail", "sleeper", "stderr"]),
        Ctl(&["tail", "-5", "sleeper"]),
        Ctl(&["tail", "-2", "sleeper", "stderr"]),
        Ctl(&["tail", "nope"]),
        Ctl(&["tail", "nocmd"]),
        Ctl(&["clear", "sleeper"]),
        Ctl(&["tail", "sleeper"]),
        Ctl(&["clear", "nope"]),
        Sorted(&["clear", "all"]),
        Ctl(&["version"]),
        Sorted(&["stop", "all"]),
        Ctl(&["status"]),
        Sorted(&["start", "all"]),
        Wait("quick", &["FATAL"]),
        Ctl(&["status"]),
        Sorted(&["restart", "all"]),
        Wait("quick", &["FATAL"]),
        Last(1, &["maintail", "-200"]),
    ]
}

#[test]
fn ctl_over_unix_socket_matches_reference() {
    let Some((ours, theirs)) = start_pair("ctl_unix", &Server::Unix, CTL_PROGRAMS) else {
        return;
    };
    run_steps(&ours, &theirs, &ctl_session());
    // `signal HUP sig` reached the program in both.
    for side in [&ours, &theirs] {
        side.h.wait_file_contains("sig.out", "\n1\n", T);
    }
}

/// A shorter session over TCP with credentials, plus bad credentials.
fn inet_session() -> Vec<Step<'static>> {
    use Step::*;
    vec![
        Ctl(&["status"]),
        Ctl(&["status", "nope"]),
        Ctl(&["start", "idle"]),
        Ctl(&["start", "quick"]),
        Ctl(&["stop", "idle"]),
        Ctl(&["stop", "idle"]),
        Sorted(&["restart", "g:*"]),
        Ctl(&["signal", "HUP", "sig"]),
        Ctl(&["pid", "sleeper"]),
        Ctl(&["avail"]),
        Ctl(&["tail", "sleeper"]),
        Ctl(&["tail", "-3", "sleeper", "stderr"]),
        Ctl(&["version"]),
        Ctl(&["-u", "user", "-p", "wrong", "status"]),
        Ctl(&["-u", "nobody", "-p", "x", "pid"]),
    ]
}

#[test]
fn ctl_over_inet_with_plain_password_matches_reference() {
    let server = Server::Inet {
        password: "s3cret".into(),
        plain: "s3cret".into(),
    };
    let Some((ours, theirs)) = start_pair("ctl_inet_plain", &server, CTL_PROGRAMS) else {
        return;
    };
    run_steps(&ours, &theirs, &inet_session());
}

#[test]
fn ctl_over_inet_with_sha_password_matches_reference() {
    let sha = supervisor_rs::sha1_hex(b"s3cret");
    let server = Server::Inet {
        password: format!("{{SHA}}{sha}"),
        plain: "s3cret".into(),
    };
    let Some((ours, theirs)) = start_pair("ctl_inet_sha", &server, CTL_PROGRAMS) else {
        return;
    };
    run_steps(&ours, &theirs, &inet_session());
}

const UPDATE_BEFORE: &str = "\
[program:keep]
command=/bin/sleep 1000
startsecs=0

[program:change]
command=/bin/sleep 1000
startsecs=0

[program:gone]
command=/bin/sleep 1000
startsecs=0
";

const UPDATE_AFTER: &str = "\
[program:keep]
command=/bin/sleep 1000
startsecs=0

[program:change]
command=/bin/sleep 1001
startsecs=0

[program:added]
command=/bin/sleep 1000
startsecs=0
";

#[test]
fn reread_update_add_remove_match_reference() {
    let Some((ours, theirs)) = start_pair("ctl_update", &Server::Unix, UPDATE_BEFORE) else {
        return;
    };
    use Step::*;
    run_steps(
        &ours,
        &theirs,
        &[Ctl(&["reread"]), Ctl(&["update"]), Ctl(&["avail"])],
    );
    let pids = |s: &Side| (s.pid_of("keep"), s.pid_of("change"), s.pid_of("gone"));
    let before = [pids(&ours), pids(&theirs)];
    for side in [&ours, &theirs] {
        let conf = std::fs::read_to_string(side.h.conf_path()).expect("conf");
        std::fs::write(
            side.h.conf_path(),
            conf.replace(UPDATE_BEFORE, &side.h.subst(UPDATE_AFTER)),
        )
        .expect("write conf");
    }
    run_steps(
        &ours,
        &theirs,
        &[
            Sorted(&["reread"]),
            Ctl(&["avail"]),
            Sorted(&["update"]),
            Wait("change", &["RUNNING"]),
            Wait("added", &["RUNNING"]),
            Ctl(&["status"]),
            Ctl(&["reread"]),
            Ctl(&["update"]),
            Ctl(&["remove", "added"]),
            Ctl(&["stop", "added"]),
            Ctl(&["remove", "added"]),
            Ctl(&["remove", "added"]),
            Ctl(&["status"]),
            Ctl(&["add", "added"]),
            Ctl(&["add", "added"]),
            Ctl(&["add", "nope"]),
            Ctl(&["remove", "nope"]),
            Wait("added", &["RUNNING"]),
            Ctl(&["status"]),
        ],
    );
    for (side, (keep, change, gone)) in [&ours, &theirs].into_iter().zip(before) {
        let who = side.label();
        assert_ne!(keep, 0, "{who}");
        assert_eq!(
            side.pid_of("keep"),
            keep,
            "{who}: an untouched group was restarted"
        );
        let new_change = side.pid_of("change");
        assert!(
            new_change != 0 && new_change != change,
            "{who}: the changed group was not restarted"
        );
        assert!(
            !pid_alive(gone),
            "{who}: the removed group's process {gone} is still alive"
        );
    }
}

#[test]
fn shutdown_matches_reference() {
    let Some((mut ours, mut theirs)) = start_pair("ctl_shutdown", &Server::Unix, CTL_PROGRAMS)
    else {
        return;
    };
    run_steps(&ours, &theirs, &[Step::Ctl(&["shutdown"])]);
    for side in [&mut ours, &mut theirs] {
        let st = side.h.wait_exit(T);
        assert_eq!(
            st.code(),
            Some(0),
            "{}: {}",
            side.label(),
            describe_status(&st)
        );
    }
    // Talking to a daemon that is gone.
    run_steps(
        &ours,
        &theirs,
        &[Step::Ctl(&["status"]), Step::Ctl(&["pid"])],
    );
}

const METHOD_PROGRAMS: &str = "\
[program:sleeper]
command=/bin/sh -c 'echo out; echo err >&2; exec sleep 1000'
startsecs=0

[program:idle]
command=/bin/sleep 1000
autostart=false
startsecs=0

[program:slow]
command=/bin/sleep 1000
autostart=false
startsecs=2

[program:quick]
command=/bin/sh -c 'sleep 0.3; exit 3'
autostart=false
startsecs=1
startretries=0

[program:cat]
command=/bin/cat
startsecs=0

[program:nocmd]
command=/nonexistent/x
autostart=false

[program:notexec]
command={dir}/notexec.sh
autostart=false

[program:term]
command=/bin/sh {fixtures}/ignore_term.sh
startsecs=0
stopwaitsecs=2

[group:g]
programs=ga,gb

[program:ga]
command=/bin/sleep 1000
startsecs=0

[program:gb]
command=/bin/sleep 1000
startsecs=0
";

fn methods_script(side: &Side, server: &Server) -> Command {
    let url = match &side.addr {
        Addr::Unix(p) => format!("unix://{}", p.display()),
        Addr::Tcp(port) => format!("http://127.0.0.1:{port}"),
    };
    let mut c = side.h.command(side.venv.join("bin/python"));
    c.arg(fixtures_dir().join("rpc_methods.py"))
        .arg(url)
        .arg(side.h.dir());
    if let Server::Inet { plain, .. } = server {
        c.arg(USER).arg(plain);
    }
    c
}

fn script_lines(side: &Side, o: &Output) -> Vec<String> {
    assert!(
        o.status.success(),
        "{}: the script failed\n{}",
        side.label(),
        output_text(o)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn compare_methods(server: Server, name: &str) {
    let Some((mut ours, mut theirs)) = start_pair(name, &server, METHOD_PROGRAMS) else {
        return;
    };
    let (mine, reference) = run_both(
        methods_script(&ours, &server),
        methods_script(&theirs, &server),
        Duration::from_secs(120),
    );
    let (mine, reference) = (
        script_lines(&ours, &mine),
        script_lines(&theirs, &reference),
    );
    let mut diffs = Vec::new();
    for i in 0..mine.len().max(reference.len()) {
        let (a, b) = (reference.get(i), mine.get(i));
        if a != b {
            diffs.push(format!(
                "reference: {}\nours:      {}",
                a.map_or("<none>", |s| s),
                b.map_or("<none>", |s| s)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} difference(s) from the reference:\n{}",
        diffs.len(),
        diffs.join("\n\n")
    );
    // Sanity: the script did run everything (41 methods listed).
    let list = mine
        .iter()
        .find(|l| l.contains("\"call\": \"listMethods\""))
        .expect("listMethods line");
    assert_eq!(
        list.matches("supervisor.").count() + list.matches("system.").count(),
        41,
        "{list}"
    );
    // Equal is not enough for these: both must have behaved.
    for (call, want) in [
        ("startProcess nowait answered at once", "true"),
        ("startProcess wait took >= startsecs", "true"),
        ("startProcess wait took < 10 s", "true"),
        ("getState answered while waiting", "true"),
        ("slow was STARTING meanwhile", "\"STARTING\""),
        ("back to RUNNING after restart", "true"),
        ("faults seen during shutdown", "[\"FAULT 6 SHUTDOWN_STATE\""),
    ] {
        let line = mine
            .iter()
            .find(|l| l.contains(&format!("\"call\": \"{call}\"")))
            .unwrap_or_else(|| panic!("no {call:?} line"));
        assert!(line.contains(&format!("\"result\": {want}")), "{line}");
    }
    for side in [&mut ours, &mut theirs] {
        let st = side.h.wait_exit(T);
        assert_eq!(st.code(), Some(0), "{}: exit after shutdown", side.label());
    }
}

#[test]
fn xmlrpc_every_method_matches_reference() {
    compare_methods(Server::Unix, "rpc_methods_unix");
}

#[test]
fn xmlrpc_every_method_over_inet_matches_reference() {
    compare_methods(
        Server::Inet {
            password: format!("{{SHA}}{}", supervisor_rs::sha1_hex(b"pw")),
            plain: "pw".into(),
        },
        "rpc_methods_inet",
    );
}

#[test]
fn every_path_wants_credentials_like_reference() {
    let server = Server::Inet {
        password: "pw".into(),
        plain: "pw".into(),
    };
    let Some((ours, theirs)) = start_pair("http_401", &server, CTL_PROGRAMS) else {
        return;
    };
    let requests: Vec<(String, Vec<u8>)> = vec![
        (
            "POST /RPC2".into(),
            post_request(call_body("supervisor.getState", &[]).as_bytes(), None, true),
        ),
        (
            "POST /RPC2 wrong password".into(),
            post_request(
                call_body("supervisor.getState", &[]).as_bytes(),
                Some(&basic(USER, "nope")),
                true,
            ),
        ),
        (
            "POST /RPC2 wrong user".into(),
            post_request(
                call_body("supervisor.getState", &[]).as_bytes(),
                Some(&basic("root", "pw")),
                true,
            ),
        ),
        ("GET /RPC2".into(), b"GET /RPC2 HTTP/1.0\r\n\r\n".to_vec()),
        (
            "GET /logtail/sleeper".into(),
            b"GET /logtail/sleeper HTTP/1.0\r\n\r\n".to_vec(),
        ),
        (
            "GET /logtail/sleeper/stderr".into(),
            b"GET /logtail/sleeper/stderr HTTP/1.0\r\n\r\n".to_vec(),
        ),
        (
            "GET /logtail/nope".into(),
            b"GET /logtail/nope HTTP/1.0\r\n\r\n".to_vec(),
        ),
        (
            "GET /mainlogtail".into(),
            b"GET /mainlogtail HTTP/1.0\r\n\r\n".to_vec(),
        ),
        ("GET /".into(), b"GET / HTTP/1.0\r\n\r\n".to_vec()),
        (
            "GET /index.html".into(),
            b"GET /index.html HTTP/1.0\r\n\r\n".to_vec(),
        ),
        ("GET /nope".into(), b"GET /nope HTTP/1.0\r\n\r\n".to_vec()),
    ];
    let mut diffs = Vec::new();
    for (what, req) in &requests {
        let answer = |s: &Side| {
            let mut st = Stream::connect(&s.addr);
            st.write_all(req).expect("send");
            read_response(&mut st)
                .map(|r| (r.status, r.header("www-authenticate").map(str::to_string)))
        };
        let (mine, reference) = (answer(&ours), answer(&theirs));
        assert_eq!(
            mine,
            Some((401, Some("Basic realm=\"default\"".to_string()))),
            "{what}: ours answered {mine:?}"
        );
        if mine != reference {
            diffs.push(format!("{what}: reference {reference:?}, ours {mine:?}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // The right credentials open every one of them.
    let auth = basic(USER, "pw");
    let r = ours.try_rpc("supervisor.getState", &[]).expect("answer");
    assert_eq!(r.status, 200);
    let mut st = Stream::connect(&ours.addr);
    st.write_all(format!("GET /mainlogtail HTTP/1.0\r\nAuthorization: {auth}\r\n\r\n").as_bytes())
        .expect("send");
    let head = read_head(&mut st);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

fn read_head(s: &mut Stream) -> String {
    use std::io::Read;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).map(|n| n == 1).unwrap_or(false) {
        head.push(b[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}
