//! `start_delay`, `fatal_restart_delay`, `capabilities` and
//! `forward_signals`: their converters, and whole files through `load`
//! with every error and warning located.

use super::*;
use crate::config::{Diagnostic, LoadOptions, Loaded, Overrides, Severity, load};

fn load_text(text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("supervisord.conf");
    std::fs::write(&path, text).expect("write");
    let opts = LoadOptions {
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        host_node_name: "node1".into(),
        check_host: false,
        overrides: Overrides::default(),
    };
    load(&path, &opts)
}

/// The errors of a config that must not load, as displayed.
fn errors(text: &str) -> Vec<String> {
    match load_text(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .collect(),
    }
}

fn loaded(text: &str) -> Loaded {
    load_text(text).unwrap_or_else(|d| {
        panic!(
            "unexpected errors: {:?}",
            d.iter().map(|d| d.to_string()).collect::<Vec<_>>()
        )
    })
}

fn warnings(l: &Loaded) -> Vec<String> {
    l.warnings.iter().map(|d| d.to_string()).collect()
}

fn program(keys: &str) -> String {
    format!("[supervisord]\n[program:web]\ncommand=/bin/true\n{keys}\n")
}

/// The one error, which must name line 4 of the file, the section, the
/// option and contain `what`.
fn one_error_at_line_4(keys: &str, option: &str, what: &str) {
    let e = errors(&program(keys));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains(&format!("supervisord.conf:4: [program:web] {option}: ")),
        "{e:?}"
    );
    assert!(e[0].contains(what), "{e:?}");
}

#[test]
fn delays_are_whole_non_negative_seconds() {
    assert_eq!(delay_secs("0"), Ok(0));
    assert_eq!(delay_secs(" 15 "), Ok(15));
    assert!(delay_secs("-1").is_err_and(|e| e.contains("'-1' is negative")));
    assert!(delay_secs("1.5").is_err());
    assert!(delay_secs("soon").is_err());
    assert!(delay_secs("99999999999999999999999").is_err());
}

#[test]
fn capability_names_any_case_with_or_without_cap_() {
    let bind = 1u64 << 10;
    let raw = 1u64 << 13;
    assert_eq!(capability_mask("CAP_NET_BIND_SERVICE"), Ok(bind));
    assert_eq!(
        capability_mask("net_bind_service, CAP_NET_RAW,"),
        Ok(bind | raw)
    );
    assert_eq!(capability_mask("cap_net_raw,CAP_NET_RAW"), Ok(raw));
    let e = capability_mask("CAP_NET_BIND_SERVICE,CAP_FLY").unwrap_err();
    assert!(e.starts_with("'CAP_FLY' is not a capability name"), "{e}");
    assert!(e.contains("CAP_SYS_ADMIN"), "lists the known names: {e}");
    assert!(capability_mask(" , ").is_err_and(|e| e.contains("no capability is listed")));
}

#[test]
fn forwarded_signals_by_name_or_number_once_each() {
    assert_eq!(
        forward_list("USR1, sigwinch,10,SIGUSR1"),
        Ok(Forward {
            signals: vec![libc::SIGUSR1, libc::SIGWINCH],
            own: vec![],
        })
    );
    assert_eq!(
        forward_list("TERM,HUP,ALRM,chld"),
        Ok(Forward {
            signals: vec![libc::SIGALRM],
            own: vec![libc::SIGTERM, libc::SIGHUP, libc::SIGCHLD],
        })
    );
    assert_eq!(
        forward_list(""),
        Ok(Forward {
            signals: vec![],
            own: vec![]
        })
    );
    for (bad, why) in [
        ("KILL", "SIGKILL cannot be forwarded: it cannot be caught"),
        (
            "sigstop",
            "SIGSTOP cannot be forwarded: it cannot be caught",
        ),
        ("SEGV", "SIGSEGV cannot be forwarded: it reports a fault"),
        ("USR1,BUS", "SIGBUS cannot be forwarded"),
        (
            "PIPE",
            "SIGPIPE cannot be forwarded: supervisord's own writes",
        ),
        ("USR3", "value 'USR3' is not a valid signal name"),
        ("99", "value '99' is not a valid signal number"),
    ] {
        let e = forward_list(bad).unwrap_err();
        assert!(e.starts_with(why), "{bad}: {e}");
    }
}

#[test]
fn program_keys_default_off_and_load_when_set() {
    let l = loaded(&program(""));
    let p = &l.config.groups[0].processes[0];
    assert_eq!(p.launch, Launch::default());
    assert!(l.config.supervisord.forward_signals.is_empty());
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));

    let l = loaded(&program(
        "start_delay=5\nfatal_restart_delay = 60\ncapabilities=CAP_NET_BIND_SERVICE",
    ));
    let p = &l.config.groups[0].processes[0];
    assert_eq!(
        p.launch,
        Launch {
            start_delay: 5,
            fatal_restart_delay: 60,
            capabilities: Some(1 << 10),
        }
    );
    // None of them is reported as unknown or not implemented any more.
    assert!(
        !warnings(&l)
            .iter()
            .any(|w| w.contains("not implemented") || w.contains("unknown option")),
        "{:?}",
        warnings(&l)
    );
}

#[test]
fn a_negative_or_malformed_delay_is_an_error_at_its_line() {
    one_error_at_line_4("start_delay=-3", "start_delay", "'-3' is negative");
    one_error_at_line_4(
        "fatal_restart_delay=-1",
        "fatal_restart_delay",
        "'-1' is negative",
    );
    one_error_at_line_4(
        "start_delay=2s",
        "start_delay",
        "invalid integer value '2s'",
    );
}

#[test]
fn an_absurd_delay_is_a_warning() {
    let l = loaded(&program("fatal_restart_delay=999999999999"));
    let w = warnings(&l);
    assert!(
        w.iter()
            .any(|w| w.contains(":4: [program:web] fatal_restart_delay: ") && w.contains("absurd")),
        "{w:?}"
    );
}

#[test]
fn an_unknown_or_empty_capability_is_an_error_at_its_line() {
    one_error_at_line_4(
        "capabilities=CAP_NET_BIND_SERVICE, CAP_TELEPATHY",
        "capabilities",
        "'CAP_TELEPATHY' is not a capability name",
    );
    one_error_at_line_4("capabilities=", "capabilities", "no capability is listed");
}

#[test]
fn capabilities_under_a_non_root_daemon_are_a_warning() {
    // supervisord drops to nobody (when started as root), or is not root.
    let l = loaded(
        "[supervisord]\nuser=nobody\n[program:web]\ncommand=/bin/true\ncapabilities=NET_BIND_SERVICE\n",
    );
    let w = warnings(&l);
    assert!(
        w.iter()
            .any(|w| w.contains(":5: [program:web] capabilities: supervisord does not run as root")),
        "{w:?}"
    );
}

#[test]
fn forward_signals_in_supervisord() {
    let l = loaded("[supervisord]\nforward_signals=USR1,WINCH,TERM\n");
    assert_eq!(
        l.config.supervisord.forward_signals,
        vec![libc::SIGUSR1, libc::SIGWINCH]
    );
    let w = warnings(&l);
    assert!(
        w.iter().any(|w| w.contains(
            ":2: [supervisord] forward_signals: SIGTERM keep their meaning to supervisord"
        )),
        "{w:?}"
    );
    let e = errors("[supervisord]\nforward_signals=USR1,KILL\n");
    assert_eq!(
        e,
        vec![format!(
            "{}:2: [supervisord] forward_signals: SIGKILL cannot be forwarded: it cannot be caught",
            e[0].split(":2:").next().unwrap_or_default()
        )]
    );
    let e = errors("[supervisord]\nforward_signals=USR1,NOPE\n");
    assert!(
        e.len() == 1 && e[0].contains(":2: [supervisord] forward_signals: value 'NOPE'"),
        "{e:?}"
    );
}
