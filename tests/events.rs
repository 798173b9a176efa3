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

/// A TCP port on 127.0.0.1 that was free a moment ago (for a program that
/// must bind it itself).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"))
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
command=/bin/sh -c 'exit 1'
autostart=false
startsecs=1
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

/// Run the scenario under our daemon.
fn scenario_ours(venv: &Path) -> (Harness, Vec<Ev>) {
    let mut h = Harness::new("events_every_type");
    h.write_standard_conf(&scenario_conf(&py(venv)));
    h.start(&[]);
    let evs = drive_scenario(&mut h);
    (h, evs)
}

/// Run the scenario under the reference supervisord.
fn scenario_reference(venv: &Path) -> (Harness, Vec<Ev>) {
    let mut h = Harness::new("events_every_type_ref");
    let conf = h.write_standard_conf(&scenario_conf(&py(venv)));
    let mut c = h.command(venv.join("bin").join("supervisord"));
    c.arg("-n").arg("-c").arg(conf);
    h.start_command(c);
    let evs = drive_scenario(&mut h);
    (h, evs)
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
        move || scenario_reference(&venv).1
    });
    let (h, ours) = scenario_ours(&venv);
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
    assert_eq!(stdout.len(), 2, "{shown}");
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
    // aside (how many fall in the run depends on timing), and only up to
    // SUPERVISOR_STATE_CHANGE_STOPPING: how many of the stop events that
    // follow reach a listener before it is stopped itself depends on the
    // loop's timing, in the reference too.
    let theirs = reference
        .join()
        .unwrap_or_else(|_| panic!("the reference run failed (see its output above)"));
    assert_envelopes(&theirs, "rec");
    let strip = |evs: &[Ev]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in evs.iter().filter(|e| !e.name().starts_with("TICK_")) {
            out.push(e.norm());
            if e.name() == "SUPERVISOR_STATE_CHANGE_STOPPING" {
                break;
            }
        }
        out
    };
    let (a, b) = (strip(&ours), strip(&theirs));
    if a != b {
        let mut diff = String::new();
        for i in 0..a.len().max(b.len()) {
            let x = a.get(i).map_or("-", String::as_str);
            let y = b.get(i).map_or("-", String::as_str);
            let mark = if x == y { "  " } else { "!!" };
            diff.push_str(&format!("{mark} {x:?}\n   {y:?}\n"));
        }
        panic!("event streams differ (ours first, reference second):\n{diff}");
    }
}
