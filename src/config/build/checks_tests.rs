//! Tests of the check options: each form, each timing, each error.

use super::*;
use crate::config::{Diagnostic, LoadOptions, Loaded, ProcessConfig, Severity, load};

fn load_program(options: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("supervisord.conf");
    let text = format!(
        "[supervisord]\nlogfile={d}/main.log\npidfile={d}/pid\nchildlogdir={d}\n\n[program:web]\ncommand=/bin/sh -c 'sleep 1'\nprocess_name=web%(process_num)s\nnumprocs=2\n{options}\n",
        d = dir.path().display()
    );
    std::fs::write(&path, text).expect("write config");
    let mut opts = LoadOptions::from_process(Default::default(), false);
    opts.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    load(&path, &opts)
}

fn processes(options: &str) -> Vec<ProcessConfig> {
    match load_program(options) {
        Ok(l) => l
            .config
            .groups
            .into_iter()
            .flat_map(|g| g.processes)
            .collect(),
        Err(d) => panic!("unexpected errors: {d:#?}"),
    }
}

/// The errors, each as `file:line [section] option=value: message`.
fn errors(options: &str) -> Vec<String> {
    match load_program(options) {
        Ok(_) => panic!("expected errors for {options}"),
        Err(d) => d
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .collect(),
    }
}

fn assert_error(options: &str, option: &str, needle: &str) {
    let e = errors(options);
    assert!(!e.is_empty());
    assert!(
        e.iter().all(|m| m.contains("supervisord.conf:10")
            && m.contains("[program:web]")
            && m.contains(option)
            && m.contains(needle)),
        "{options}: {e:#?}"
    );
}

#[test]
fn no_check_by_default() {
    for p in processes("") {
        assert_eq!((p.readiness, p.liveness), (None, None));
    }
}

#[test]
fn tcp_readiness_with_defaults_and_per_process_expansion() {
    let ps = processes("readiness_check=tcp://127.0.0.1:80%(process_num)s");
    let ports: Vec<_> = ps
        .iter()
        .map(|p| {
            let c = p.readiness.as_ref().expect("readiness");
            assert_eq!(c.interval, Duration::from_secs(1));
            assert_eq!(c.timeout, Duration::from_secs(1));
            assert_eq!(c.failures, 1);
            match &c.target {
                CheckTarget::Tcp(a) => a.port(),
                t => panic!("{t:?}"),
            }
        })
        .collect();
    assert_eq!(ports, vec![800, 801]);
    assert_eq!(
        ps[1].readiness.as_ref().map(|c| c.spec.as_str()),
        Some("tcp://127.0.0.1:801")
    );
}

#[test]
fn http_liveness_with_every_timing() {
    let ps = processes(
        "liveness_check=http://localhost:8080/healthz?full=1\nliveness_interval=2.5\nliveness_timeout=0.5\nliveness_failures=5",
    );
    let c = ps[0].liveness.as_ref().expect("liveness");
    assert_eq!(
        c.target,
        CheckTarget::Http {
            addr: "127.0.0.1:8080".parse().unwrap(),
            host: "localhost:8080".into(),
            path: "/healthz?full=1".into(),
        }
    );
    assert_eq!(c.interval, Duration::from_millis(2500));
    assert_eq!(c.timeout, Duration::from_millis(500));
    assert_eq!(c.failures, 5);
    assert_eq!(ps[0].readiness, None);
}

#[test]
fn liveness_defaults() {
    let ps = processes("liveness_check=exec:/bin/true");
    let c = ps[0].liveness.as_ref().expect("liveness");
    assert_eq!(c.interval, Duration::from_secs(10));
    assert_eq!(c.timeout, Duration::from_secs(1));
    assert_eq!(c.failures, 3);
}

#[test]
fn exec_is_split_like_command() {
    let ps = processes(
        "readiness_check=exec:pg_isready -h '/run/my db' -p %(process_num)s\nreadiness_interval=0.1",
    );
    let c = ps[1].readiness.as_ref().expect("readiness");
    assert_eq!(
        c.target,
        CheckTarget::Exec(vec![
            "pg_isready".into(),
            "-h".into(),
            "/run/my db".into(),
            "-p".into(),
            "1".into()
        ])
    );
    assert_eq!(c.interval, Duration::from_millis(100));
}

#[test]
fn targets_parse() {
    let t = |s| check_target(s);
    assert_eq!(
        t("tcp://[::1]:5432"),
        Ok(CheckTarget::Tcp("[::1]:5432".parse().unwrap()))
    );
    assert_eq!(
        t(" TCP://LOCALHOST:1 "),
        Ok(CheckTarget::Tcp("127.0.0.1:1".parse().unwrap()))
    );
    assert_eq!(
        t("http://10.0.0.1:81"),
        Ok(CheckTarget::Http {
            addr: "10.0.0.1:81".parse().unwrap(),
            host: "10.0.0.1:81".into(),
            path: "/".into()
        })
    );
    for bad in [
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:",
        "tcp://:80",
        "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65536",
        "tcp://[::1:80",
        "tcp://db.example:80",
        "http://localhost/health",
        "http://localhost:80/a b",
        "https://localhost:443/",
        "udp://127.0.0.1:53",
        "127.0.0.1:80",
        "exec:",
        "exec:'unbalanced",
        "",
    ] {
        assert!(t(bad).is_err(), "{bad} accepted as {:?}", t(bad));
    }
}

#[test]
fn seconds_and_failures() {
    let min = Duration::ZERO;
    assert_eq!(seconds("0.5", min), Ok(Duration::from_millis(500)));
    assert_eq!(seconds(" 3 ", min), Ok(Duration::from_secs(3)));
    for bad in ["-1", "0", "-0.5", "nan", "inf", "1e300", "ten", ""] {
        assert!(seconds(bad, min).is_err(), "{bad}");
    }
    assert!(seconds("0.05", MIN_INTERVAL).is_err());
    assert_eq!(failures("3"), Ok(3));
    assert!(failures("0").is_err());
    assert!(failures("-2").is_err());
    assert!(failures("x").is_err());
}

#[test]
fn check_without_port_is_located_error() {
    assert_error(
        "readiness_check=tcp://127.0.0.1",
        "readiness_check",
        "needs host:port",
    );
    assert_error(
        "liveness_check=http://127.0.0.1/health",
        "liveness_check",
        "needs host:port",
    );
}

#[test]
fn unknown_scheme_is_located_error() {
    assert_error(
        "readiness_check=ftp://127.0.0.1:21",
        "readiness_check",
        "is not a check",
    );
}

#[test]
fn exec_with_unbalanced_quote_is_located_error() {
    assert_error(
        "liveness_check=exec:curl 'http://x",
        "liveness_check",
        "unbalanced quote",
    );
}

#[test]
fn negative_or_zero_timings_are_located_errors() {
    for (opt, value, needle) in [
        ("readiness_interval", "-1", "more than 0"),
        ("readiness_timeout", "-0.5", "more than 0"),
        ("liveness_interval", "0", "more than 0"),
        ("liveness_timeout", "soon", "not a number of seconds"),
        ("liveness_interval", "0.01", "below the minimum"),
        ("liveness_failures", "0", "at least 1"),
    ] {
        let e = errors(&format!(
            "readiness_check=tcp://127.0.0.1:1\nliveness_check=tcp://127.0.0.1:1\n{opt}={value}"
        ));
        assert!(
            e.iter().any(|m| m.contains(&format!("{opt}: '{value}'"))
                && m.contains("supervisord.conf:12:")
                && m.contains("[program:web]")
                && m.contains(needle)),
            "{opt}={value}: {e:#?}"
        );
    }
}

#[test]
fn timings_without_a_check_are_a_warning() {
    let l = load_program("readiness_interval=5\nliveness_failures=2").expect("loads");
    let w: Vec<String> = l.warnings.iter().map(|d| d.to_string()).collect();
    assert!(
        w.iter()
            .any(|m| m
                .contains("readiness_interval is ignored: this program has no readiness_check")),
        "{w:#?}"
    );
    assert!(
        w.iter()
            .any(|m| m.contains("liveness_failures is ignored: this program has no liveness_check")),
        "{w:#?}"
    );
    assert!(!w.iter().any(|m| m.contains("not implemented")), "{w:#?}");
}
