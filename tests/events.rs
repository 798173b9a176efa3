//! Event listeners as users write them, run unchanged: a recorder built on
//! `supervisor.childutils`, and superlance's stock listeners from PyPI
//! (httpok, memmon, crashmail, fatalmailbatch). They run with the Python of
//! the reference virtualenv (`SUPERVISOR_REF_VENV`), which also lets the main
//! scenario run under the reference supervisord and compare the two event
//! streams. Without the venv these tests skip locally and fail under CI.

use crate::util::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Helpers

/// The reference venv's python (with `supervisor.childutils`), or a skip.
fn venv_or_skip() -> Option<PathBuf> {
    let venv = reference_venv();
    skip_unless(
        venv.is_some(),
        "SUPERVISOR_REF_VENV (a venv with supervisor 4.3.0) is not set; scripts/test.sh sets it",
    );
    venv
}

/// The venv, which must also hold superlance (scripts/test.sh installs it).
fn superlance_or_skip() -> Option<PathBuf> {
    let venv = venv_or_skip()?;
    let ok = venv.join("bin").join("httpok").exists();
    skip_unless(
        ok,
        "superlance is not installed in SUPERVISOR_REF_VENV (scripts/test.sh installs it)",
    )
    .then_some(venv)
}

fn py(venv: &Path) -> String {
    venv.join("bin")
        .join("python")
        .to_string_lossy()
        .into_owned()
}

/// One event as a listener received it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ev {
    headers: BTreeMap<String, String>,
    payload: String,
}

impl Ev {
    fn h(&self, key: &str) -> &str {
        self.headers.get(key).map_or("", String::as_str)
    }
    fn name(&self) -> &str {
        self.h("eventname")
    }
    fn serial(&self) -> u64 {
        self.h("serial").parse().unwrap_or(u64::MAX)
    }
    fn poolserial(&self) -> u64 {
        self.h("poolserial").parse().unwrap_or(u64::MAX)
    }
    /// `name payload` with pids and tick times replaced, for comparisons.
    fn norm(&self) -> String {
        format!("{} {}", self.name(), normalise(&self.payload))
    }
    fn is(&self, name: &str, payload_part: &str) -> bool {
        self.name() == name && self.payload.contains(payload_part)
    }
}

/// Replace the digits after `pid:` and `when:` (they differ between runs).
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let next = ["pid:", "when:"]
            .iter()
            .filter_map(|k| rest.find(k).map(|i| (i, *k)))
            .min();
        let Some((i, key)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..i + key.len()]);
        rest = &rest[i + key.len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        out.push(if digits > 0 { '#' } else { '?' });
        rest = &rest[digits..];
    }
    out
}

/// Parse what the recorder wrote: header line, then `len` characters of
/// payload, repeated. A record still being written is left out.
fn parse_events(text: &str) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(nl) = rest.find('\n') {
        let headers: BTreeMap<String, String> = rest[..nl]
            .split(' ')
            .filter_map(|kv| kv.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let Some(len) = headers.get("len").and_then(|l| l.parse::<usize>().ok()) else {
            panic!("recorded header without len: {:?}", &rest[..nl]);
        };
        let body = &rest[nl + 1..];
        let Some((end, _)) = body
            .char_indices()
            .nth(len)
            .or(if body.chars().count() == len {
                Some((body.len(), ' '))
            } else {
                None
            })
        else {
            break;
        };
        out.push(Ev {
            headers,
            payload: body[..end].to_string(),
        });
        rest = &body[end..];
    }
    out
}

fn events(h: &Harness, file: &str) -> Vec<Ev> {
    parse_events(&h.read(file))
}

/// Wait until the recorder's file holds an event matching `pred`; returns
/// all events so far.
fn wait_event(h: &Harness, file: &str, what: &str, pred: impl Fn(&Ev) -> bool) -> Vec<Ev> {
    let mut evs = Vec::new();
    let r = wait_until(T, what, || {
        evs = events(h, file);
        evs.iter().any(&pred)
    });
    if let Err(e) = r {
        let shown: Vec<String> = evs.iter().map(Ev::norm).collect();
        panic!(
            "{e}\nrecorded so far:\n{}\n{}",
            shown.join("\n"),
            h.diagnostics()
        );
    }
    evs
}

/// An XML-RPC call that must not fault; returns the response body.
fn rpc(h: &Harness, method: &str, params: &[String]) -> String {
    let (status, body) = h
        .rpc_raw(method, params)
        .unwrap_or_else(|e| panic!("{method}: {e}\n{}", h.diagnostics()));
    assert!(
        status == 200 && !body.contains("<fault>"),
        "{method} failed: {status} {body}\n{}",
        h.diagnostics()
    );
    body
}

/// Main-log lines containing `needle`.
fn log_lines(h: &Harness, needle: &str) -> Vec<String> {
    h.main_log()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Pids from `spawned: 'name' with pid N` lines, in order.
fn spawned_pids(h: &Harness, name: &str) -> Vec<i32> {
    let needle = format!("spawned: '{name}' with pid ");
    log_lines(h, &needle)
        .iter()
        .filter_map(|l| l.split(&needle).nth(1)?.trim().parse().ok())
        .collect()
}

/// The daemon's context switches so far (all its threads).
fn context_switches(pid: i32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let mut total = 0;
    for t in tasks.flatten() {
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        for line in status.lines() {
            if line.starts_with("voluntary_ctxt_switches:")
                || line.starts_with("nonvoluntary_ctxt_switches:")
            {
                total += line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total
}

// ---------------------------------------------------------------------------
// 1. Every event type, byte for byte, compared with the reference

/// The scenario's config: a childutils recorder subscribed to EVENT, and
/// one program per kind of event. Every program starts only when asked.
fn scenario_conf(py: &str) -> String {
    format!(
        "\
[eventlistener:rec]
command={py} {{fixtures}}/event_recorder.py {{dir}}/events.txt
events=EVENT
buffer_size=500
stderr_logfile={{dir}}/rec.stderr

[program:early]
; created before the listener's pool: the pool never hears of it
command=/bin/sleep 1000
priority=-10
autostart=false

[program:sleeper]
command=/bin/sleep 1000
autostart=false
startsecs=1

[program:exiter]
command=/bin/sh -c 'sleep 0.5; exit 3'
autostart=false
autorestart=false
startsecs=0

[program:flaky]
; exits well within startsecs (and is reaped long before it would count as
; RUNNING, even with the reference's 1 s loop)
command=/bin/sh -c 'sleep 0.3; exit 1'
autostart=false
startsecs=2
startretries=1

[program:talker]
command=/bin/sh {{fixtures}}/talker.sh
autostart=false
startsecs=0
stdout_events_enabled=true
stderr_events_enabled=true

[program:capturer]
command=/bin/sh {{fixtures}}/capturer.sh
autostart=false
startsecs=0
stdout_capture_maxbytes=1MB
stdout_events_enabled=true

[program:late]
command=/bin/sleep 1000
autostart=false
"
    )
}

/// Drive the scenario against whatever daemon `h` runs (ours, or the
/// reference started by the caller); returns everything the recorder got.
fn drive_scenario(h: &mut Harness) -> Vec<Ev> {
    let f = "events.txt";
    h.wait_for_socket(T);
    wait_event(h, f, "the recorder's own RUNNING", |e| {
        e.is("PROCESS_STATE_RUNNING", "processname:rec ")
    });
    let start = |name: &str, wait: bool| {
        rpc(
            h,
            "supervisor.startProcess",
            &[xml::string(name), xml::boolean(wait)],
        )
    };
    start("sleeper", true);
    wait_event(h, f, "sleeper RUNNING", |e| {
        e.is("PROCESS_STATE_RUNNING", "processname:sleeper ")
    });
    start("exiter", true);
    wait_event(h, f, "exiter EXITED", |e| {
        e.is("PROCESS_STATE_EXITED", "processname:exiter ")
    });
    start("flaky", false);
    wait_event(h, f, "flaky FATAL", |e| {
        e.is("PROCESS_STATE_FATAL", "processname:flaky ")
    });
    start("talker", true);
    wait_event(h, f, "talker's stderr", |e| {
        e.name() == "PROCESS_LOG_STDERR"
    });
    start("capturer", true);
    wait_event(h, f, "capturer's comm event", |e| {
        e.name() == "PROCESS_COMMUNICATION_STDOUT"
    });
    rpc(
        h,
        "supervisor.sendRemoteCommEvent",
        &[xml::string("mytype"), xml::string("héllo\ndata")],
    );
    wait_event(h, f, "the remote comm event", |e| {
        e.name() == "REMOTE_COMMUNICATION"
    });
    rpc(h, "supervisor.stopProcess", &[xml::string("sleeper")]);
    wait_event(h, f, "sleeper STOPPED", |e| {
        e.is("PROCESS_STATE_STOPPED", "processname:sleeper ")
    });
    rpc(h, "supervisor.removeProcessGroup", &[xml::string("late")]);
    wait_event(h, f, "late removed", |e| {
        e.is("PROCESS_GROUP_REMOVED", "groupname:late")
    });
    rpc(h, "supervisor.addProcessGroup", &[xml::string("late")]);
    let before_tick = wait_event(h, f, "late added again", |e| {
        e.is("PROCESS_GROUP_ADDED", "groupname:late")
    })
    .len();
    let mut evs = Vec::new();
    let r = wait_until(Duration::from_secs(15), "a TICK_5 after the steps", || {
        evs = events(h, f);
        evs[before_tick..].iter().any(|e| e.name() == "TICK_5")
    });
    r.unwrap_or_else(|e| panic!("{e}\n{}", h.diagnostics()));
    let st = h.stop(T);
    assert!(
        st.success(),
        "{}\n{}",
        describe_status(&st),
        h.diagnostics()
    );
    events(h, f)
}

/// Start the daemon under test, or with `reference` the reference
/// supervisord, on `{dir}/supervisord.conf`.
fn start_daemon(h: &mut Harness, reference: Option<&Path>) {
    match reference {
        None => {
            h.start(&[]);
        }
        Some(venv) => {
            let mut c = h.command(venv.join("bin").join("supervisord"));
            c.arg("-n").arg("-c").arg(h.conf_path());
            h.start_command(c);
        }
    }
}

/// Run the scenario under our daemon, or the reference's.
fn scenario(venv: &Path, reference: bool) -> (Harness, Vec<Ev>) {
    let mut h = Harness::new(if reference {
        "events_every_type_ref"
    } else {
        "events_every_type"
    });
    h.write_standard_conf(&scenario_conf(&py(venv)));
    start_daemon(&mut h, reference.then_some(venv));
    let evs = drive_scenario(&mut h);
    (h, evs)
}

/// A readable side-by-side of two event lists that should be equal.
fn diff(ours: &[String], theirs: &[String]) -> String {
    let mut out = String::new();
    for i in 0..ours.len().max(theirs.len()) {
        let x = ours.get(i).map_or("-", String::as_str);
        let y = theirs.get(i).map_or("-", String::as_str);
        let mark = if x == y { "  " } else { "!!" };
        out.push_str(&format!("{mark} {x:?}\n   {y:?}\n"));
    }
    out
}

/// Assert the envelope invariants on a recorded stream from one pool.
fn assert_envelopes(evs: &[Ev], pool: &str) {
    for (i, e) in evs.iter().enumerate() {
        assert_eq!(e.h("ver"), "3.0", "{e:?}");
        assert_eq!(e.h("server"), "supervisor", "{e:?}");
        assert_eq!(e.h("pool"), pool, "{e:?}");
        assert_eq!(
            e.h("len").parse::<usize>().ok(),
            Some(e.payload.chars().count()),
            "len counts characters: {e:?}"
        );
        if i > 0 {
            let p = &evs[i - 1];
            assert_eq!(
                e.serial(),
                p.serial() + 1,
                "serials consecutive: {p:?} then {e:?}"
            );
            assert_eq!(
                e.poolserial(),
                p.poolserial() + 1,
                "poolserials consecutive: {p:?} then {e:?}"
            );
        }
    }
}

#[test]
fn childutils_listener_sees_every_event_type_exactly_as_the_reference_sends_it() {
    let Some(venv) = venv_or_skip() else { return };
    // The same scenario under the reference supervisord, at the same time.
    let reference = std::thread::spawn({
        let venv = venv.clone();
        move || scenario(&venv, true).1
    });
    let (h, ours) = scenario(&venv, false);
    let all: Vec<String> = ours.iter().map(Ev::norm).collect();
    let shown = all.join("\n");
    let find = |name: &str, part: &str| -> &Ev {
        ours.iter()
            .find(|e| e.is(name, part))
            .unwrap_or_else(|| panic!("no {name} with {part:?} in:\n{shown}"))
    };
    assert_envelopes(&ours, "rec");
    assert_eq!(ours[0].serial(), 0, "serials start at 0:\n{shown}");

    // Payloads byte for byte (pids from the main log).
    let pid = |name: &str| spawned_pids(&h, name).last().copied().unwrap_or(-1);
    let exact = |name: &str, part: &str, payload: String| {
        let e = find(name, part);
        assert_eq!(e.payload, payload, "{name}");
    };
    exact(
        "PROCESS_STATE_STARTING",
        "processname:sleeper ",
        "processname:sleeper groupname:sleeper from_state:STOPPED tries:0".into(),
    );
    exact(
        "PROCESS_STATE_RUNNING",
        "processname:sleeper ",
        format!(
            "processname:sleeper groupname:sleeper from_state:STARTING pid:{}",
            pid("sleeper")
        ),
    );
    exact(
        "PROCESS_STATE_STOPPING",
        "processname:sleeper ",
        format!(
            "processname:sleeper groupname:sleeper from_state:RUNNING pid:{}",
            pid("sleeper")
        ),
    );
    exact(
        "PROCESS_STATE_STOPPED",
        "processname:sleeper ",
        format!(
            "processname:sleeper groupname:sleeper from_state:STOPPING pid:{}",
            pid("sleeper")
        ),
    );
    exact(
        "PROCESS_STATE_EXITED",
        "processname:exiter ",
        format!(
            "processname:exiter groupname:exiter from_state:RUNNING expected:0 pid:{}",
            pid("exiter")
        ),
    );
    let flaky: Vec<&str> = ours
        .iter()
        .filter(|e| e.payload.starts_with("processname:flaky "))
        .map(|e| e.payload.as_str())
        .collect();
    assert_eq!(
        flaky,
        [
            "processname:flaky groupname:flaky from_state:STOPPED tries:0",
            "processname:flaky groupname:flaky from_state:STARTING tries:1",
            "processname:flaky groupname:flaky from_state:BACKOFF tries:1",
            "processname:flaky groupname:flaky from_state:STARTING tries:2",
            "processname:flaky groupname:flaky from_state:BACKOFF",
        ],
        "{shown}"
    );
    let talker = pid("talker");
    let stdout: Vec<&Ev> = ours
        .iter()
        .filter(|e| e.name() == "PROCESS_LOG_STDOUT")
        .collect();
    assert_eq!(stdout.len(), 2 + 2, "talker's two, capturer's two: {shown}");
    assert_eq!(
        stdout[0].payload,
        format!("processname:talker groupname:talker pid:{talker} channel:stdout\nhéllo wörld €\n")
    );
    assert_eq!(
        stdout[1].payload,
        format!(
            "processname:talker groupname:talker pid:{talker} channel:stdout\nUndecodable: b'bad \\xff\\xfe bytes\\n'"
        )
    );
    // Capture mode with stdout_events_enabled: the text around and inside
    // the block is logged (and announced) piecewise; " after\n" is shorter
    // than a token, so Supervisor holds it back until more output comes.
    let capturer = pid("capturer");
    let logged: Vec<&str> = stdout[2..].iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(
        logged,
        [
            format!(
                "processname:capturer groupname:capturer pid:{capturer} channel:stdout\nbefore "
            ),
            format!(
                "processname:capturer groupname:capturer pid:{capturer} channel:stdout\ncaptured data"
            ),
        ],
        "{shown}"
    );
    exact(
        "PROCESS_LOG_STDERR",
        "",
        format!("processname:talker groupname:talker pid:{talker} channel:stderr\nto stderr\n"),
    );
    exact(
        "PROCESS_COMMUNICATION_STDOUT",
        "",
        format!(
            "processname:capturer groupname:capturer pid:{}\ncaptured data",
            pid("capturer")
        ),
    );
    // sendRemoteCommEvent: the strings as sent (len in characters).
    exact(
        "REMOTE_COMMUNICATION",
        "",
        "type:mytype\nhéllo\ndata".into(),
    );
    exact("PROCESS_GROUP_REMOVED", "", "groupname:late\n".into());
    exact("SUPERVISOR_STATE_CHANGE_RUNNING", "", String::new());
    exact("SUPERVISOR_STATE_CHANGE_STOPPING", "", String::new());
    let tick = find("TICK_5", "");
    let when: u64 = tick
        .payload
        .trim_start_matches("when:")
        .parse()
        .unwrap_or(1);
    assert_eq!(when % 5, 0, "{tick:?}");
    assert!(
        !ours.iter().any(|e| e.payload.contains("groupname:early\n")),
        "the pool did not exist yet when 'early' was added:\n{shown}"
    );

    // The reference's stream: the same events in the same order. TICKs
    // aside (how many fall in the run depends on timing), and only until
    // the shutdown: whether SUPERVISOR_STATE_CHANGE_STOPPING and the stop
    // events reach a listener before it is stopped itself depends on the
    // reference's loop timing.
    let theirs = reference
        .join()
        .unwrap_or_else(|_| panic!("the reference run failed (see its output above)"));
    assert_envelopes(&theirs, "rec");
    let strip = |evs: &[Ev]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in evs.iter().filter(|e| !e.name().starts_with("TICK_")) {
            if e.name() == "SUPERVISOR_STATE_CHANGE_STOPPING" {
                break;
            }
            out.push(e.norm());
        }
        out
    };
    let (a, b) = (strip(&ours), strip(&theirs));
    assert!(
        a == b,
        "event streams differ (ours first, reference second):\n{}",
        diff(&a, &b)
    );
}

/// A reload (SIGHUP) as a listener sees it: the old daemon's stop, then the
/// new config's groups and start, with the global serial carrying on and
/// the new pool's serials starting again; compared with the reference.
fn reload_scenario(venv: &Path, reference: bool) -> Vec<Ev> {
    let mut h = Harness::new(if reference {
        "events_reload_ref"
    } else {
        "events_reload"
    });
    h.write_standard_conf(&format!(
        "\
[eventlistener:rec]
command={} {{fixtures}}/event_recorder.py {{dir}}/events.txt
events=PROCESS_STATE,SUPERVISOR_STATE_CHANGE,PROCESS_GROUP

[program:p]
command=/bin/sleep 1000
startsecs=0
",
        py(venv)
    ));
    start_daemon(&mut h, reference.then_some(venv));
    wait_event(&h, "events.txt", "p RUNNING", |e| {
        e.is("PROCESS_STATE_RUNNING", "processname:p ")
    });
    // The listener's own RUNNING too: an event still buffered for the old
    // pool when the reload stops it is never delivered, so under load the
    // count below would otherwise stay at one.
    wait_event(&h, "events.txt", "rec RUNNING", |e| {
        e.is("PROCESS_STATE_RUNNING", "processname:rec ")
    });
    h.signal(libc::SIGHUP);
    let mut evs = Vec::new();
    // Both p and the listener itself reach RUNNING again (in either order,
    // whenever each daemon's loop gets there).
    h.eventually(T, "p and rec RUNNING again after the reload", || {
        evs = events(&h, "events.txt");
        let running = |name: &str| {
            evs.iter()
                .filter(|e| e.is("PROCESS_STATE_RUNNING", &format!("processname:{name} ")))
                .count()
        };
        running("p") == 2 && running("rec") == 2
    });
    evs
}

#[test]
fn a_reload_looks_the_same_to_a_listener_as_under_the_reference() {
    let Some(venv) = venv_or_skip() else { return };
    let reference = std::thread::spawn({
        let venv = venv.clone();
        move || reload_scenario(&venv, true)
    });
    let ours = reload_scenario(&venv, false);
    let theirs = reference
        .join()
        .unwrap_or_else(|_| panic!("the reference run failed (see its output above)"));
    // Before the reload: everything before SUPERVISOR_STATE_CHANGE_STOPPING.
    // (Whether that and the stop events that follow reach the old listener
    // before it is stopped depends on Supervisor's loop timing; it gives
    // them serials whether delivered or not.) After it: the new pool's events, its serials starting again at
    // 0, the global serial carrying on. Which of two programs' transitions
    // comes first also depends on the loop's timing, so events are compared
    // per process, in order, and serials as a sequence.
    let split = |evs: &[Ev]| {
        let restart = evs
            .iter()
            .rposition(|e| e.is("PROCESS_GROUP_ADDED", "groupname:rec"))
            .unwrap_or(0);
        let stop = evs
            .iter()
            .position(|e| e.name() == "SUPERVISOR_STATE_CHANGE_STOPPING")
            .unwrap_or(restart);
        let (before, after) = (&evs[..stop], &evs[restart..]);
        let by_process = |evs: &[Ev]| {
            let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for e in evs {
                let key = e
                    .payload
                    .strip_prefix("processname:")
                    .and_then(|p| p.split(' ').next())
                    .unwrap_or("-");
                m.entry(key.to_string()).or_default().push(e.norm());
            }
            m
        };
        let serials = |evs: &[Ev], global: bool| -> Vec<u64> {
            evs.iter()
                .map(|e| if global { e.serial() } else { e.poolserial() })
                .collect()
        };
        (
            (
                by_process(before),
                serials(before, true),
                serials(before, false),
            ),
            (by_process(after), serials(after, false)),
            (evs[restart - 1].serial(), evs[restart].serial()),
        )
    };
    let (a1, a2, (last, next)) = split(&ours);
    let (b1, b2, _) = split(&theirs);
    assert_eq!(a1, b1, "before the reload: ours, then the reference's");
    assert_eq!(a2, b2, "after the reload: ours, then the reference's");
    assert!(
        next > last,
        "the global serial carries on: {last} then {next}"
    );
}

// ---------------------------------------------------------------------------
// 2. Subscribing to an abstract type

#[test]
fn subscribing_to_process_state_delivers_every_subtype_and_nothing_else() {
    let Some(venv) = venv_or_skip() else { return };
    let mut h = Harness::new("events_parent_type");
    let py = py(&venv);
    h.write_standard_conf(&format!(
        "\
[eventlistener:all]
command={py} {{fixtures}}/event_recorder.py {{dir}}/all.txt
events=EVENT
buffer_size=200

[eventlistener:ps]
command={py} {{fixtures}}/event_recorder.py {{dir}}/ps.txt
events=PROCESS_STATE
buffer_size=200

[program:ok]
command=/bin/sleep 1000
autostart=false
startsecs=0

[program:exiter]
; not at once: startProcess reaps right after the spawn and an
; unexpected exit seen then is a SPAWN_ERROR, in Supervisor too
command=/bin/sh -c 'sleep 0.3; exit 3'
autostart=false
autorestart=false
startsecs=0

[program:flaky]
command=/bin/sh -c 'sleep 0.3; exit 1'
autostart=false
startsecs=2
startretries=0

[program:talker]
command=/bin/sh {{fixtures}}/talker.sh
autostart=false
startsecs=0
stdout_events_enabled=true
stderr_events_enabled=true
"
    ));
    h.start(&[]);
    h.wait_for_socket(T);
    for name in ["all", "ps"] {
        wait_event(&h, "ps.txt", "both listeners RUNNING", |e| {
            e.is("PROCESS_STATE_RUNNING", &format!("processname:{name} "))
        });
    }
    let start = |name: &str| {
        rpc(
            &h,
            "supervisor.startProcess",
            &[xml::string(name), xml::boolean(false)],
        )
    };
    start("ok");
    start("exiter");
    start("flaky");
    start("talker");
    rpc(
        &h,
        "supervisor.sendRemoteCommEvent",
        &[xml::string("t"), xml::string("d")],
    );
    wait_event(&h, "all.txt", "talker's stderr", |e| {
        e.name() == "PROCESS_LOG_STDERR"
    });
    wait_event(&h, "all.txt", "flaky FATAL", |e| {
        e.is("PROCESS_STATE_FATAL", "processname:flaky ")
    });
    rpc(&h, "supervisor.stopProcess", &[xml::string("ok")]);
    let all = wait_event(&h, "all.txt", "ok STOPPED", |e| {
        e.is("PROCESS_STATE_STOPPED", "processname:ok ")
    });
    let ps = wait_event(&h, "ps.txt", "ok STOPPED", |e| {
        e.is("PROCESS_STATE_STOPPED", "processname:ok ")
    });
    // Everything after this point is neither's business.
    let expected: Vec<String> = all
        .iter()
        .filter(|e| e.name().starts_with("PROCESS_STATE_"))
        .map(Ev::norm)
        .collect();
    let got: Vec<String> = ps.iter().map(Ev::norm).collect();
    assert_eq!(
        got, expected,
        "PROCESS_STATE gets exactly the PROCESS_STATE_* events EVENT gets"
    );
    let names: BTreeSet<&str> = ps.iter().map(Ev::name).collect();
    for n in [
        "PROCESS_STATE_STARTING",
        "PROCESS_STATE_RUNNING",
        "PROCESS_STATE_BACKOFF",
        "PROCESS_STATE_FATAL",
        "PROCESS_STATE_EXITED",
        "PROCESS_STATE_STOPPING",
        "PROCESS_STATE_STOPPED",
    ] {
        assert!(names.contains(n), "{n} missing from {names:?}");
    }
    let others: BTreeSet<&str> = all.iter().map(Ev::name).collect();
    for n in [
        "PROCESS_GROUP_ADDED",
        "SUPERVISOR_STATE_CHANGE_RUNNING",
        "REMOTE_COMMUNICATION",
        "PROCESS_LOG_STDOUT",
        "PROCESS_LOG_STDERR",
    ] {
        assert!(
            others.contains(n),
            "the EVENT listener should have seen {n}: {others:?}"
        );
    }
    for (i, e) in ps.iter().enumerate() {
        assert_eq!(e.poolserial(), i as u64, "{e:?}");
        assert_eq!(e.h("pool"), "ps");
    }
}

// ---------------------------------------------------------------------------
// 3. Rejection, death while BUSY, protocol violations

#[test]
fn a_failed_event_is_redelivered_with_the_same_serial() {
    let Some(venv) = venv_or_skip() else { return };
    let mut h = Harness::new("events_fail_redeliver");
    h.write_standard_conf(&format!(
        "\
[eventlistener:rec]
command={} {{fixtures}}/event_recorder.py {{dir}}/events.txt --fail-first
events=PROCESS_STATE
; a Python plug-in we cannot load (SPEC Part C): warned about, and the
; standard handler (OK accepts, anything else rejects) is used
result_handler=mypkg.handlers:accept_everything

[program:ok]
command=/bin/sleep 1000
startsecs=0
",
        py(&venv)
    ));
    h.start(&[]);
    let mut evs = Vec::new();
    h.eventually(T, "ok's RUNNING delivered twice", || {
        evs = events(&h, "events.txt");
        evs.iter()
            .filter(|e| e.is("PROCESS_STATE_RUNNING", "processname:ok "))
            .count()
            == 2
    });
    // FAIL, then the same event again (same serials, same payload), OK,
    // then the next one: the deliveries come in identical pairs.
    let shown: Vec<String> = evs
        .iter()
        .map(|e| format!("{} {}", e.serial(), e.norm()))
        .collect();
    let complete = evs.len() - evs.len() % 2;
    assert!(complete >= 4, "{shown:#?}");
    for pair in evs[..complete].chunks(2) {
        assert_eq!(
            pair[0], pair[1],
            "FAIL must be followed by the same event: {shown:#?}"
        );
    }
    for w in evs[..complete].chunks(2).collect::<Vec<_>>().windows(2) {
        assert!(w[1][0].serial() > w[0][0].serial(), "{shown:#?}");
    }
    assert!(
        !log_lines(&h, "WARN rec: event was rejected").is_empty(),
        "{}",
        h.main_log()
    );
    // At loglevel debug the protocol channel is logged as Python's repr of
    // the bytes read, like Supervisor's PEventListenerDispatcher does.
    let log = h.main_log();
    assert!(
        log.contains("'rec' stdout output:\nb'READY\\n'")
            && log.contains("'rec' stdout output:\nb'RESULT 4\\nFAIL"),
        "{log}"
    );
    let warned = log_lines(&h, "mypkg.handlers:accept_everything");
    assert!(
        warned.iter().any(|l| l.contains(" WARN ")),
        "the unloadable result_handler is named in a warning:\n{}",
        h.main_log()
    );
}

#[test]
fn a_listener_dying_while_busy_gets_the_event_again_after_its_restart() {
    let Some(venv) = venv_or_skip() else { return };
    let mut h = Harness::new("events_die_busy");
    h.write_standard_conf(&format!(
        "\
[eventlistener:rec]
command={} {{fixtures}}/event_recorder.py {{dir}}/events.txt --die-once-on PROCESS_STATE_EXITED {{dir}}/died
events=PROCESS_STATE_EXITED
autorestart=true

[program:quick]
command=/bin/sh -c 'sleep 0.5; exit 0'
startsecs=0
autorestart=false
",
        py(&venv)
    ));
    h.start(&[]);
    let mut evs = Vec::new();
    h.eventually(T, "three deliveries", || {
        evs = events(&h, "events.txt");
        evs.len() >= 3
    });
    let shown: Vec<String> = evs
        .iter()
        .map(|e| format!("{} {}", e.serial(), e.norm()))
        .collect();
    assert!(
        h.path("died").exists(),
        "the listener died once: {shown:#?}"
    );
    assert!(
        evs[0].is("PROCESS_STATE_EXITED", "processname:quick "),
        "{shown:#?}"
    );
    assert_eq!(
        evs[0], evs[1],
        "redelivered unchanged after the restart: {shown:#?}"
    );
    assert!(
        evs[2].is("PROCESS_STATE_EXITED", "processname:rec "),
        "then the listener's own exit: {shown:#?}"
    );
    assert_eq!(evs[2].serial(), evs[0].serial() + 1, "{shown:#?}");
    assert_eq!(spawned_pids(&h, "rec").len(), 2, "{}", h.main_log());
}

#[test]
fn a_listener_writing_garbage_goes_unknown_and_gets_nothing_more() {
    let Some(venv) = venv_or_skip() else { return };
    let mut h = Harness::new("events_garbage");
    h.write_standard_conf(&format!(
        "\
[eventlistener:rec]
command={} {{fixtures}}/event_recorder.py {{dir}}/events.txt --garbage-after 1
events=PROCESS_STATE

[program:ok]
command=/bin/sleep 1000
autostart=false
startsecs=0
",
        py(&venv)
    ));
    h.start(&[]);
    h.wait_for_socket(T);
    wait_event(&h, "events.txt", "the first event", |_| true);
    h.wait_log(
        "rec: has entered the UNKNOWN state and will no longer receive events",
        T,
    );
    assert!(
        !log_lines(&h, "WARN rec: bad result line: 'this is not a RESULT line'").is_empty(),
        "{}",
        h.main_log()
    );
    rpc(&h, "supervisor.startProcess", &[xml::string("ok")]);
    rpc(&h, "supervisor.stopProcess", &[xml::string("ok")]);
    h.wait_log("stopped: ok", T);
    // The listener is alive and keeps asking (it says READY after the
    // garbage), but an UNKNOWN listener is never sent anything again.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        assert_eq!(events(&h, "events.txt").len(), 1, "{}", h.main_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        spawned_pids(&h, "rec").len(),
        1,
        "not restarted: {}",
        h.main_log()
    );
}

#[test]
fn listeners_stopped_last_hear_the_other_programs_stop() {
    let Some(venv) = venv_or_skip() else { return };
    let mut h = Harness::new("events_shutdown");
    let mut conf = format!(
        "\
[eventlistener:rec]
command={} {{fixtures}}/event_recorder.py {{dir}}/events.txt --sleep 0.05
events=PROCESS_STATE,SUPERVISOR_STATE_CHANGE
",
        py(&venv)
    );
    for (name, priority) in [("a", 999), ("b", 999), ("c", 999), ("d", 500)] {
        conf.push_str(&format!(
            "\n[program:{name}]\ncommand=/bin/sleep 1000\nstartsecs=0\npriority={priority}\n"
        ));
    }
    h.write_standard_conf(&conf);
    h.start(&[]);
    for name in ["a", "b", "c", "d"] {
        wait_event(&h, "events.txt", "every program RUNNING", |e| {
            e.is("PROCESS_STATE_RUNNING", &format!("processname:{name} "))
        });
    }
    let st = h.stop(T);
    assert!(
        st.success(),
        "{}\n{}",
        describe_status(&st),
        h.diagnostics()
    );
    // The listener (priority -1) is stopped last; until then it gets what
    // the shutdown announces. (Supervisor delivers these in the passes of
    // its loop between stopping one group and the next, and loses the last
    // group's STOPPED to timing.)
    let evs = events(&h, "events.txt");
    let shown: Vec<String> = evs.iter().map(Ev::norm).collect();
    let at = |name: &str, part: &str| {
        evs.iter()
            .position(|e| e.is(name, part))
            .unwrap_or_else(|| panic!("no {name} {part:?} in {shown:#?}\n{}", h.main_log()))
    };
    let stopping = at("SUPERVISOR_STATE_CHANGE_STOPPING", "");
    for name in ["a", "b", "c", "d"] {
        let part = format!("processname:{name} ");
        assert!(at("PROCESS_STATE_STOPPING", &part) > stopping, "{shown:#?}");
        assert!(
            at("PROCESS_STATE_STOPPED", &part) > at("PROCESS_STATE_STOPPING", &part),
            "{shown:#?}"
        );
    }
    for name in ["a", "b", "c"] {
        assert!(
            at("PROCESS_STATE_STOPPED", &format!("processname:{name} "))
                < at("PROCESS_STATE_STOPPING", "processname:d "),
            "priority 999 stops before 500: {shown:#?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 4. A burst of state changes: nothing lost with room, the oldest dropped
//    without

/// 20 programs that each run 17 times (exit 0, autorestart, startsecs=0),
/// the 17th run staying up: 20 * (16 * 3 + 2) = 1000 state changes, plus
/// the listener's own STARTING and RUNNING.
const BURST_EVENTS: u64 = 1002;

fn burst_conf(py: &str, buffer_size: usize, sleep: &str) -> String {
    let mut conf = format!(
        "\
[eventlistener:rec]
command={py} {{fixtures}}/event_recorder.py {{dir}}/events.txt --sleep {sleep}
events=PROCESS_STATE
buffer_size={buffer_size}
"
    );
    for i in 0..20 {
        conf.push_str(&format!(
            "
[program:p{i:02}]
command=/bin/sh -c 'echo x >> {{dir}}/runs.%(program_name)s; [ $(wc -l < {{dir}}/runs.%(program_name)s) -ge 17 ] && exec sleep 1000; exit 0'
startsecs=0
autorestart=true
"
        ));
    }
    conf
}

/// Each program's events form a valid chain of transitions, in order.
fn assert_chains(evs: &[Ev]) {
    let mut last: BTreeMap<String, &str> = BTreeMap::new();
    for e in evs {
        let name = e
            .payload
            .split(' ')
            .next()
            .and_then(|p| p.strip_prefix("processname:"))
            .unwrap_or("?")
            .to_string();
        let from = e
            .payload
            .split(' ')
            .find_map(|p| p.strip_prefix("from_state:"))
            .unwrap_or("?");
        let to = e.name().trim_start_matches("PROCESS_STATE_");
        let prev = last.get(&name).copied().unwrap_or("STOPPED");
        assert_eq!(from, prev, "{name}: event out of order: {e:?}");
        last.insert(name, to);
    }
}

#[test]
fn a_burst_of_1000_state_changes_reaches_a_slow_listener_complete_and_in_order() {
    let Some(venv) = venv_or_skip() else { return };
    let mut h = Harness::new("events_burst_all");
    h.write_standard_conf(&burst_conf(&py(&venv), 2000, "0.002"));
    h.start(&[]);
    let mut evs = Vec::new();
    let r = wait_until(Duration::from_secs(60), "1002 events", || {
        evs = events(&h, "events.txt");
        evs.len() as u64 >= BURST_EVENTS
    });
    r.unwrap_or_else(|e| panic!("{e}: got {}\n{}", evs.len(), h.diagnostics()));
    for (i, e) in evs.iter().enumerate() {
        assert_eq!((e.serial(), e.poolserial()), (i as u64, i as u64), "{e:?}");
    }
    assert_chains(&evs);
    let running = evs
        .iter()
        .filter(|e| e.name() == "PROCESS_STATE_RUNNING")
        .count();
    assert_eq!(running, 20 * 17 + 1);
    assert!(log_lines(&h, "overflowed").is_empty(), "{}", h.main_log());
    // And nothing more comes.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(events(&h, "events.txt").len() as u64, BURST_EVENTS);
}

#[test]
fn a_small_buffer_drops_exactly_the_oldest_events_and_logs_each() {
    let Some(venv) = venv_or_skip() else { return };
    let mut h = Harness::new("events_burst_drop");
    h.write_standard_conf(&burst_conf(&py(&venv), 10, "0.05"));
    h.start(&[]);
    let dropped = |h: &Harness| -> Vec<u64> {
        log_lines(h, "pool rec event buffer overflowed, discarding event ")
            .iter()
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect()
    };
    let mut evs = Vec::new();
    let mut gone = Vec::new();
    let r = wait_until(
        Duration::from_secs(60),
        "every serial delivered or dropped",
        || {
            evs = events(&h, "events.txt");
            gone = dropped(&h);
            evs.last().is_some_and(|e| e.serial() == BURST_EVENTS - 1)
                && (evs.len() + gone.len()) as u64 >= BURST_EVENTS
        },
    );
    r.unwrap_or_else(|e| {
        panic!(
            "{e}: {} delivered, {} dropped\n{}",
            evs.len(),
            gone.len(),
            h.diagnostics()
        )
    });
    let got: Vec<u64> = evs.iter().map(Ev::serial).collect();
    assert!(!gone.is_empty(), "a 10-event buffer must overflow");
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "delivered in order: {got:?}"
    );
    assert!(
        gone.windows(2).all(|w| w[0] < w[1]),
        "dropped oldest first: {gone:?}"
    );
    let got_set: BTreeSet<u64> = got.iter().copied().collect();
    let gone_set: BTreeSet<u64> = gone.iter().copied().collect();
    assert!(got_set.is_disjoint(&gone_set), "{got:?}\n{gone:?}");
    let all: BTreeSet<u64> = got_set.union(&gone_set).copied().collect();
    assert_eq!(
        all,
        (0..BURST_EVENTS).collect(),
        "every serial accounted for"
    );
    // The newest events are never the ones dropped.
    for s in BURST_EVENTS - 10..BURST_EVENTS {
        assert!(got_set.contains(&s), "newest event {s} dropped: {gone:?}");
    }
    for e in &evs {
        assert_eq!(e.serial(), e.poolserial(), "one pool: both serials agree");
    }
}

// ---------------------------------------------------------------------------
// 6. No TICKs without a TICK subscriber

#[test]
fn without_a_tick_subscriber_the_daemon_does_not_wake_up() {
    let Some(venv) = venv_or_skip() else { return };
    let mut h = Harness::new("events_no_ticks");
    h.write_standard_conf(&format!(
        "\
[eventlistener:rec]
command={} {{fixtures}}/event_recorder.py {{dir}}/events.txt
events=PROCESS_STATE

[program:sleeper]
command=/bin/sleep 1000
startsecs=0
",
        py(&venv)
    ));
    let pid = h.start(&[]);
    h.wait_for_socket(T);
    for name in ["rec", "sleeper"] {
        wait_event(&h, "events.txt", "rec and sleeper RUNNING", |e| {
            e.is("PROCESS_STATE_RUNNING", &format!("processname:{name} "))
        });
    }
    // Start the 3 s window so that it spans a 5 s boundary, where a TICK_5
    // would be due.
    h.eventually(
        Duration::from_secs(6),
        "2.0-2.9 s past a 5 s boundary",
        || {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            (2000..2900).contains(&(ms % 5000))
        },
    );
    // Sample every 10 ms: the total must stay flat, and in particular
    // nothing may happen at the 5 s boundary.
    let wall_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    };
    let start = Instant::now();
    let before = context_switches(pid);
    let mut last = before;
    let mut at_boundary = Vec::new();
    while start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(10));
        let now = context_switches(pid);
        let phase = wall_ms() % 5000;
        if now != last && !(300..4950).contains(&phase) {
            at_boundary.push((phase, now - last));
        }
        last = now;
    }
    let woke = last - before;
    assert!(
        woke <= 2,
        "the daemon woke up {woke} times in 3 s with no TICK subscriber\n{}",
        h.diagnostics()
    );
    assert!(
        at_boundary.is_empty(),
        "the daemon woke up at the 5 s boundary (ms past it, switches): {at_boundary:?}"
    );
    assert_eq!(
        events(&h, "events.txt").len(),
        4,
        "no events but the two programs' start"
    );
}

// ---------------------------------------------------------------------------
// 5. superlance's listeners from PyPI, unchanged

/// Restarts `name` got: its pids from the main log, waiting for `n` of them.
fn wait_spawns(h: &Harness, name: &str, n: usize, timeout: Duration) -> Vec<i32> {
    let mut pids = Vec::new();
    h.eventually(timeout, &format!("{name} spawned {n} times"), || {
        pids = spawned_pids(h, name);
        pids.len() >= n
    });
    pids
}

#[test]
fn superlance_httpok_restarts_a_program_whose_url_answers_500() {
    let Some(venv) = superlance_or_skip() else {
        return;
    };
    let mut h = Harness::new("superlance_httpok");
    let port = free_port();
    h.write_standard_conf(&format!(
        "\
[program:web]
command={py} {{fixtures}}/http_health.py {port} {{dir}}/sick
startsecs=1
stderr_logfile={{dir}}/web.stderr

[eventlistener:httpok]
command={httpok} -p web -t 5 http://127.0.0.1:{port}/
events=TICK_5
stderr_logfile={{dir}}/httpok.stderr
",
        py = py(&venv),
        httpok = venv.join("bin").join("httpok").display(),
    ));
    h.start(&[]);
    let first = wait_spawns(&h, "web", 1, T)[0];
    // httpok checks on every TICK_5 and leaves a healthy server alone.
    h.wait_file_contains("web.stderr", "\"GET / HTTP/1.1\" 200", T);
    assert_eq!(spawned_pids(&h, "web"), [first]);
    h.write_file("sick", "");
    let pids = wait_spawns(&h, "web", 2, T);
    assert_ne!(pids[1], first);
    h.wait_log("success: web entered RUNNING state", T);
    h.wait_file_contains("httpok.stderr", "web restarted", T);
    let said = h.read("httpok.stderr");
    assert!(
        said.contains("Restarting selected processes ['web']"),
        "{said}"
    );
    assert!(
        said.contains("web is in RUNNING state, restarting"),
        "{said}"
    );
    h.wait_file_contains("web.stderr", "\"GET / HTTP/1.1\" 500", T);
    assert!(!h.path("sick").exists(), "the new server is healthy");
}

#[test]
fn superlance_memmon_restarts_a_program_that_grows_past_its_limit() {
    let Some(venv) = superlance_or_skip() else {
        return;
    };
    let mut h = Harness::new("superlance_memmon");
    h.write_standard_conf(&format!(
        "\
[program:hog]
command={py} {{fixtures}}/memory_hog.py {{dir}}/grown 120
startsecs=0
stdout_logfile={{dir}}/hog.stdout

[eventlistener:memmon]
command={memmon} -p hog=60MB
events=TICK_5
stderr_logfile={{dir}}/memmon.stderr
",
        py = py(&venv),
        memmon = venv.join("bin").join("memmon").display(),
    ));
    h.start(&[]);
    let first = wait_spawns(&h, "hog", 1, T)[0];
    h.wait_file_contains("hog.stdout", "holds 120 MB", T);
    let pids = wait_spawns(&h, "hog", 2, Duration::from_secs(30));
    assert_ne!(pids[1], first);
    h.wait_file_contains("hog.stdout", "holds 0 MB", T);
    let said = h.read("memmon.stderr");
    assert!(said.contains("Restarting hog:hog"), "{said}");
    let rss: u64 = said
        .lines()
        .find_map(|l| l.strip_prefix("RSS of hog:hog is "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(rss > 60 * 1024 * 1024, "memmon saw {rss} bytes: {said}");
}

#[test]
fn superlance_crashmail_mails_an_unexpected_exit_only() {
    let Some(venv) = superlance_or_skip() else {
        return;
    };
    let mut h = Harness::new("superlance_crashmail");
    h.write_standard_conf(&format!(
        "\
[program:calm]
command=/bin/sh -c 'sleep 0.5; exit 0'
startsecs=0
autorestart=false

[program:crasher]
command=/bin/sh -c 'sleep 1.5; exit 3'
startsecs=0
autorestart=false

[eventlistener:crashmail]
command={crashmail} -a -m ops@example.com -s \"/bin/sh {{fixtures}}/fake_sendmail.sh {{dir}}/mail.txt\"
events=PROCESS_STATE_EXITED
stderr_logfile={{dir}}/crashmail.stderr
",
        crashmail = venv.join("bin").join("crashmail").display(),
    ));
    h.start(&[]);
    h.wait_file_contains("mail.txt", "--- end of mail ---", T);
    let crasher = spawned_pids(&h, "crasher")[0];
    let mail = h.read("mail.txt");
    assert_eq!(mail.matches("--- end of mail ---").count(), 1, "{mail}");
    assert!(
        mail.starts_with("To: ops@example.com\nSubject:  crasher crashed at "),
        "{mail}"
    );
    assert!(
        mail.contains(&format!(
            "\n\nProcess crasher in group crasher exited unexpectedly (pid {crasher}) from state RUNNING"
        )),
        "{mail}"
    );
    // calm's expected exit came first and was acknowledged without a mail.
    assert!(
        h.main_log()
            .contains("exited: calm (exit status 0; expected)")
    );
    assert!(!mail.contains("calm"), "{mail}");
}

/// A minimal SMTP server on an ephemeral 127.0.0.1 port that accepts every
/// message and keeps what came after DATA.
fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let mails = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&mails);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let _ = serve_smtp(conn, &kept);
        }
    });
    (port, mails)
}

fn serve_smtp(conn: TcpStream, mails: &Mutex<Vec<String>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    w.write_all(b"220 localhost test sink\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd == "DATA" {
            w.write_all(b"354 end with .\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line.trim_end() == "." {
                    break;
                }
                data.push_str(&line);
            }
            mails.lock().unwrap_or_else(|p| p.into_inner()).push(data);
            w.write_all(b"250 queued\r\n")?;
        } else if cmd == "QUIT" {
            w.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            // EHLO/HELO, MAIL FROM, RCPT TO, RSET, NOOP
            w.write_all(b"250 OK\r\n")?;
        }
    }
}

#[test]
fn superlance_fatalmailbatch_mails_a_fatal_start() {
    let Some(venv) = superlance_or_skip() else {
        return;
    };
    let mut h = Harness::new("superlance_fatalmail");
    // fatalmailbatch 2.0 talks SMTP itself (it has no sendmail option).
    let (port, mails) = smtp_sink();
    h.write_standard_conf(&format!(
        "\
[program:doomed]
command=/bin/sh -c 'sleep 0.2; exit 1'
startsecs=2
startretries=1

[eventlistener:fatalmail]
command={fatal} -t ops@example.com -f supervisord@example.com -H 127.0.0.1:{port} -e TICK_5 -i 0.05
events=PROCESS_STATE,TICK_5
stderr_logfile={{dir}}/fatalmail.stderr
",
        fatal = venv.join("bin").join("fatalmailbatch").display(),
    ));
    h.start(&[]);
    h.wait_log("gave up: doomed entered FATAL state", T);
    let mut mail = String::new();
    h.eventually(Duration::from_secs(30), "a mail to the SMTP sink", || {
        let m = mails.lock().unwrap_or_else(|p| p.into_inner());
        mail = m.first().cloned().unwrap_or_default();
        !m.is_empty()
    });
    for part in [
        "Subject: Fatal start alert from supervisord",
        "From: supervisord@example.com",
        "To: ops@example.com",
        "-- Process doomed:doomed failed to start too many times",
    ] {
        assert!(mail.contains(part), "{part:?} missing from:\n{mail}");
    }
    // fatalmailbatch prints its notice around the SMTP exchange; the daemon
    // copies it to the log only once it reads the listener's stderr pipe.
    h.eventually(T, "the notice in the listener's stderr log", || {
        h.read("fatalmail.stderr")
            .contains("Sending notification email:")
    });
}
