//! Extreme numbers in configs and RPC calls (issue 8): no value can panic
//! the daemon.  Every integer, duration and size option of every section
//! is tried with 0, -1, i64::MAX and 2**64: `--check` either rejects it
//! with file:line, section and option, or accepts it (with a warning for an
//! absurd value); what is accepted is then run by a real daemon, which must
//! keep answering RPC and keep its child.  Every RPC method taking an
//! integer is called with extreme values and the daemon must still answer.

use crate::util::*;
use std::time::{Duration, Instant};
use supervisor_rs::rpc::{Value, decode_response};

const T: Duration = Duration::from_secs(15);

/// Where an option lives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sec {
    Supervisord,
    Program,
    Listener,
    Fcgi,
    Group,
    Unix,
    Inet,
}

impl Sec {
    fn name(self) -> &'static str {
        match self {
            Sec::Supervisord => "supervisord",
            Sec::Program => "program:x",
            Sec::Listener => "eventlistener:l",
            Sec::Fcgi => "fcgi-program:f",
            Sec::Group => "group:g",
            Sec::Unix => "unix_http_server",
            Sec::Inet => "inet_http_server",
        }
    }
}

/// Every integer, duration, size, count, mode or signal option (SPEC A2/A4).
const OPTIONS: &[(Sec, &str)] = &[
    (Sec::Supervisord, "logfile_maxbytes"),
    (Sec::Supervisord, "logfile_backups"),
    (Sec::Supervisord, "umask"),
    (Sec::Supervisord, "minfds"),
    (Sec::Supervisord, "minprocs"),
    (Sec::Unix, "chmod"),
    (Sec::Inet, "port"),
    (Sec::Program, "numprocs"),
    (Sec::Program, "numprocs_start"),
    (Sec::Program, "priority"),
    (Sec::Program, "startsecs"),
    (Sec::Program, "startretries"),
    (Sec::Program, "stopwaitsecs"),
    (Sec::Program, "stopsignal"),
    (Sec::Program, "exitcodes"),
    (Sec::Program, "umask"),
    (Sec::Program, "stdout_logfile_maxbytes"),
    (Sec::Program, "stdout_logfile_backups"),
    (Sec::Program, "stdout_capture_maxbytes"),
    (Sec::Program, "stderr_logfile_maxbytes"),
    (Sec::Program, "stderr_logfile_backups"),
    (Sec::Program, "stderr_capture_maxbytes"),
    (Sec::Listener, "buffer_size"),
    (Sec::Listener, "priority"),
    (Sec::Listener, "startsecs"),
    (Sec::Listener, "stopwaitsecs"),
    (Sec::Listener, "stderr_logfile_backups"),
    (Sec::Fcgi, "socket_backlog"),
    (Sec::Fcgi, "socket_mode"),
    (Sec::Fcgi, "startsecs"),
    (Sec::Group, "priority"),
];

/// Options whose accepted extreme values are absurd: `--check` must warn.
const WARN_WHEN_HUGE: &[&str] = &[
    "startsecs",
    "stopwaitsecs",
    "minfds",
    "minprocs",
    "logfile_maxbytes",
    "stdout_logfile_maxbytes",
    "stderr_logfile_maxbytes",
    "stdout_capture_maxbytes",
    "stderr_capture_maxbytes",
    "buffer_size",
];

const I64_MAX: &str = "9223372036854775807";
const TWO_POW_64: &str = "18446744073709551616";

/// A config with one `option=value` in `sec` (or none), the rest fixed.
/// The marked line is the one `--check` must point at.
fn config(h: &Harness, set: &[(Sec, &str, &str)]) -> String {
    let opts = |s: Sec| -> String {
        set.iter()
            .filter(|(sec, _, _)| *sec == s)
            .map(|(_, k, v)| format!("{k}={v}\n"))
            .collect()
    };
    let has = |s: Sec| set.iter().any(|(sec, _, _)| *sec == s);
    let mut c = format!(
        "[supervisord]\nlogfile={{dir}}/supervisord.log\npidfile={{dir}}/supervisord.pid\n\
         childlogdir={{dir}}\nloglevel=debug\nnodaemon=true\n{}\n\
         [unix_http_server]\nfile={{dir}}/supervisor.sock\n{}\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [program:x]\ncommand=/bin/sh -c 'echo $$ >> {{dir}}/x.pids; exec sleep 100000'\n\
         stdout_logfile={{dir}}/x.out\nstderr_logfile={{dir}}/x.err\n{}\n",
        opts(Sec::Supervisord),
        opts(Sec::Unix),
        opts(Sec::Program),
    );
    if has(Sec::Listener) {
        c.push_str(&format!(
            "[eventlistener:l]\ncommand=/bin/sh -c 'printf \"READY\\n\"; exec sleep 100000'\n\
             events=PROCESS_STATE_FATAL\nstdout_logfile={{dir}}/l.out\nstderr_logfile={{dir}}/l.err\n{}\n",
            opts(Sec::Listener)
        ));
    }
    if has(Sec::Fcgi) {
        c.push_str(&format!(
            "[fcgi-program:f]\ncommand=/bin/sh -c 'exec sleep 100000'\n\
             socket=unix://{{dir}}/f.sock\nstdout_logfile={{dir}}/f.out\nstderr_logfile={{dir}}/f.err\n{}\n",
            opts(Sec::Fcgi)
        ));
    }
    if has(Sec::Inet) {
        c.push_str(&format!("[inet_http_server]\n{}\n", opts(Sec::Inet)));
    }
    if has(Sec::Group) {
        c.push_str(&format!("[group:g]\nprograms=x\n{}\n", opts(Sec::Group)));
    }
    h.subst(&c)
}

/// `--check` on `option=value` alone: Ok(warnings text) or Err(message).
/// A rejection must name file:line, the section and the option.
fn check_one(h: &Harness, sec: Sec, option: &str, value: &str) -> Result<String, String> {
    let text = config(h, &[(sec, option, value)]);
    std::fs::write(h.conf_path(), &text).unwrap();
    let line = text
        .lines()
        .position(|l| l == format!("{option}={value}"))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{option}={value} not written"));
    let conf = h.conf_path();
    let start = Instant::now();
    let o = h.run(&["-c", conf.to_str().unwrap_or_default(), "--check"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "[{}] {option}={value}: --check took {:?}",
        sec.name(),
        start.elapsed()
    );
    assert!(
        !all.contains("panicked") && o.status.code().is_some(),
        "[{}] {option}={value}: {}",
        sec.name(),
        output_text(&o)
    );
    let at = format!("supervisord.conf:{line}: [{}] {option}:", sec.name());
    match o.status.code() {
        Some(0) => Ok(all
            .lines()
            .filter(|l| l.contains(&at) && l.starts_with("Warning"))
            .collect::<Vec<_>>()
            .join("\n")),
        _ => {
            let why = all
                .lines()
                .find(|l| l.contains(&at) && l.starts_with("Error"));
            assert!(
                why.is_some(),
                "[{}] {option}={value} is refused without an error naming {at:?}:\n{}",
                sec.name(),
                output_text(&o)
            );
            Err(why.unwrap_or_default().to_string())
        }
    }
}

fn get_state_ok(h: &Harness) -> bool {
    matches!(
        h.rpc_raw("supervisor.getState", &[]),
        Ok((200, body)) if body.contains("statename")
    )
}

/// Values the reference accepts that we reject on purpose (SPEC Part C,
/// "hostile configs"): a program with no process, signal 0.
fn rejected_on_purpose(option: &str, value: &str) -> bool {
    match option {
        "numprocs" => value
            .parse::<i64>()
            .map_or(true, |v| !(1..=10_000).contains(&v)),
        "stopsignal" => value == "0",
        _ => false,
    }
}

/// The reference's verdict on each option set to `value` alone (`ok` or
/// `error: ...`), in the order of OPTIONS; None without the reference.
fn reference_verdicts(h: &Harness, value: &str) -> Option<Vec<String>> {
    let venv = reference_venv()?;
    let paths: Vec<String> = OPTIONS
        .iter()
        .enumerate()
        .map(|(i, &(sec, option))| {
            let p = h.path(format!("ref-{i}.conf"));
            std::fs::write(&p, config(h, &[(sec, option, value)])).unwrap();
            format!("\"{}\"", p.display())
        })
        .collect();
    let input = h.write_file("ref-list.json", &format!("[{}]", paths.join(",")));
    let o = std::process::Command::new(venv.join("bin/python"))
        .arg(fixtures_dir().join("ref_accepts.py"))
        .stdin(std::fs::File::open(input).unwrap())
        .output()
        .expect("the reference");
    assert!(o.status.success(), "{}", output_text(&o));
    let v: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(v.len(), OPTIONS.len(), "{}", output_text(&o));
    Some(v)
}

/// Run `--check` for every option with `value` (a config the reference
/// accepts must be accepted, SPEC Part C aside), then one daemon with all
/// the accepted ones: it must answer RPC and keep its child
/// (also across a stop, where `stopwaitsecs` is used).
fn extremes(value: &str) {
    let mut h = Harness::new(&format!("extreme{}", value.len()));
    let mut accepted: Vec<(Sec, &str, &str)> = Vec::new();
    let mut rejected = Vec::new();
    let verdicts = reference_verdicts(&h, value);
    let mut not_drop_in = Vec::new();
    for (i, &(sec, option)) in OPTIONS.iter().enumerate() {
        let check = check_one(&h, sec, option, value);
        if let (Some(v), Err(e)) = (&verdicts, &check)
            && v[i] == "ok"
            && !rejected_on_purpose(option, value)
        {
            not_drop_in.push(format!("[{}] {option}={value}: {e}", sec.name()));
        }
        match check {
            Ok(warnings) => {
                let huge = value == I64_MAX || value == TWO_POW_64;
                if huge && WARN_WHEN_HUGE.contains(&option) {
                    assert!(
                        warnings.contains("absurd"),
                        "[{}] {option}={value} passes --check without a warning about an absurd value: {warnings:?}",
                        sec.name()
                    );
                }
                accepted.push((sec, option, value));
            }
            Err(e) => rejected.push(e),
        }
    }
    eprintln!(
        "{value}: accepted {accepted:?}\nrejected:\n{}",
        rejected.join("\n")
    );
    assert!(
        not_drop_in.is_empty(),
        "the reference accepts these, we reject them:\n{}",
        not_drop_in.join("\n")
    );

    // minfds/minprocs beyond what the host allows make the daemon refuse to
    // start, as Supervisor does: checked on their own below.
    let (limits, runnable): (Vec<_>, Vec<_>) = accepted.iter().partition(|(s, o, v)| {
        *s == Sec::Supervisord && (*o == "minfds" || *o == "minprocs") && v.len() > 4
    });
    std::fs::write(h.conf_path(), config(&h, &runnable)).unwrap();
    let daemon = h.start(&[]);
    h.wait_for_socket(T);
    let child = h.wait_pid_file("x.pids", T);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        assert!(
            get_state_ok(&h),
            "daemon stopped answering\n{}",
            h.diagnostics()
        );
        assert_eq!(
            ppid_of(child),
            Some(daemon),
            "child orphaned\n{}",
            h.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A stop arms the stopwaitsecs deadline.
    let namespec = if runnable.iter().any(|(s, _, _)| *s == Sec::Group) {
        "g:x"
    } else {
        "x"
    };
    let r = h.rpc_raw(
        "supervisor.stopProcess",
        &[xml::string(namespec), xml::boolean(false)],
    );
    assert!(matches!(r, Ok((200, _))), "{r:?}\n{}", h.diagnostics());
    h.eventually(T, "x to be reaped", || {
        !pid_alive(child) || is_zombie(child)
    });
    h.eventually(T, "the daemon to answer after the stop", || {
        get_state_ok(&h)
    });
    assert!(pid_alive(daemon), "{}", h.diagnostics());
    assert!(
        !h.daemon_stderr().contains("panicked"),
        "{}",
        h.diagnostics()
    );
    h.stop(T);

    for (sec, option, value) in limits {
        let mut h = Harness::new("extremelimit");
        std::fs::write(h.conf_path(), config(&h, &[(sec, option, value)])).unwrap();
        h.start(&[]);
        // Either it runs, or it refuses cleanly, naming the option.
        let deadline = Instant::now() + T;
        let refused = loop {
            if let Some(st) = h.try_status() {
                break Some(st);
            }
            if get_state_ok(&h) {
                break None;
            }
            assert!(Instant::now() < deadline, "{}", h.diagnostics());
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = h.daemon_stderr();
        assert!(!err.contains("panicked"), "{}", h.diagnostics());
        if let Some(st) = refused {
            assert_ne!(st.code(), Some(0), "{}", h.diagnostics());
            assert!(
                err.contains(&format!("\"{option}\"")),
                "{}",
                h.diagnostics()
            );
        }
    }
}

#[test]
fn extreme_config_value_zero() {
    extremes("0");
}

#[test]
fn extreme_config_value_minus_one() {
    extremes("-1");
}

#[test]
fn extreme_config_value_i64_max() {
    extremes(I64_MAX);
}

#[test]
fn extreme_config_value_two_pow_64() {
    extremes(TWO_POW_64);
}

/// Integer arguments in every encoding a client may send.
fn extreme_ints() -> Vec<String> {
    let mut v: Vec<String> = [0i64, -1, i64::from(i32::MIN), i64::from(i32::MAX)]
        .iter()
        .map(|&i| xml::int(i))
        .collect();
    for s in [
        "<i8>9223372036854775807</i8>",
        "<i8>-9223372036854775808</i8>",
        "<i4>2147483648</i4>",
        "<int>18446744073709551616</int>",
        "<double>1e300</double>",
        "<double>-0.5</double>",
        "<boolean>1</boolean>",
    ] {
        v.push(s.to_string());
    }
    for s in [
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551616",
        "-1",
    ] {
        v.push(xml::string(s));
    }
    v
}

/// One call: an HTTP 200 with a well-formed response (value or fault), or
/// a 400 for an integer the codec cannot represent.
fn call_ok(h: &Harness, method: &str, params: &[String]) {
    let r = h.rpc_raw(method, params);
    match &r {
        Ok((200, body)) => assert!(
            decode_response(body.as_bytes()).is_ok(),
            "{method}({params:?}): bad response {body}"
        ),
        Ok((400, _)) => {}
        _ => panic!("{method}({params:?}): {r:?}\n{}", h.diagnostics()),
    }
    assert!(
        get_state_ok(h),
        "no answer after {method}({params:?})\n{}",
        h.diagnostics()
    );
}

#[test]
fn extreme_rpc_integer_arguments() {
    let mut h = Harness::new("extreme_rpc");
    h.write_standard_conf(
        "[program:x]\ncommand=/bin/sh -c 'echo $$ >> {dir}/x.pids; echo hello; exec sleep 100000'\n\
         stdout_logfile={dir}/x.out\nstderr_logfile={dir}/x.err\nstartsecs=0\n",
    );
    let daemon = h.start(&[]);
    h.wait_for_socket(T);
    let child = h.wait_pid_file("x.pids", T);
    h.wait_file_contains("x.out", "hello", T);
    let ints = extreme_ints();
    let name = xml::string("x");
    for a in &ints {
        for b in &ints {
            call_ok(&h, "supervisor.readLog", &[a.clone(), b.clone()]);
            call_ok(&h, "supervisor.readMainLog", &[a.clone(), b.clone()]);
            for m in [
                "supervisor.readProcessLog",
                "supervisor.readProcessStdoutLog",
                "supervisor.readProcessStderrLog",
                "supervisor.tailProcessLog",
                "supervisor.tailProcessStdoutLog",
                "supervisor.tailProcessStderrLog",
            ] {
                call_ok(&h, m, &[name.clone(), a.clone(), b.clone()]);
            }
        }
        // Signals: none of these is a real signal number, so none reaches x.
        call_ok(&h, "supervisor.signalProcess", &[name.clone(), a.clone()]);
        call_ok(
            &h,
            "supervisor.signalProcessGroup",
            &[name.clone(), a.clone()],
        );
        call_ok(&h, "supervisor.signalAllProcesses", std::slice::from_ref(a));
        // Integers where names, strings or booleans are expected.
        call_ok(&h, "supervisor.getProcessInfo", std::slice::from_ref(a));
        call_ok(
            &h,
            "supervisor.sendProcessStdin",
            &[name.clone(), a.clone()],
        );
        call_ok(&h, "supervisor.sendProcessStdin", &[a.clone(), a.clone()]);
        call_ok(&h, "supervisor.startProcess", &[name.clone(), a.clone()]);
        call_ok(
            &h,
            "supervisor.sendRemoteCommEvent",
            &[a.clone(), a.clone()],
        );
        call_ok(&h, "system.methodHelp", std::slice::from_ref(a));
        call_ok(&h, "system.methodSignature", std::slice::from_ref(a));
        call_ok(&h, "system.multicall", std::slice::from_ref(a));
        call_ok(
            &h,
            "system.multicall",
            &[format!(
                "<array><data><value><struct><member><name>methodName</name>\
                 <value><string>supervisor.readLog</string></value></member>\
                 <member><name>params</name><value><array><data><value>{a}</value>\
                 <value>{a}</value></data></array></value></member></struct></value></data></array>"
            )],
        );
    }
    // The program was never signalled and is still the daemon's child.
    assert_eq!(ppid_of(child), Some(daemon), "{}", h.diagnostics());
    let r = h.rpc_raw("supervisor.getProcessInfo", &[name]);
    let body = r.map(|(_, b)| b).unwrap_or_default();
    match decode_response(body.as_bytes()) {
        Ok(Ok(Value::Struct(m))) => {
            let state = m.iter().find(|(k, _)| k == "statename").map(|(_, v)| v);
            assert_eq!(
                state.and_then(Value::as_str),
                Some("RUNNING"),
                "{}",
                h.diagnostics()
            );
        }
        other => panic!("{other:?}\n{}", h.diagnostics()),
    }
    assert!(
        !h.daemon_stderr().contains("panicked"),
        "{}",
        h.diagnostics()
    );
}
