//! Unit tests for supervisord argument parsing, dispatch and the sample.
//! Expected messages were taken from running Supervisor 4.3 itself.

use super::*;

fn argv(s: &[&str]) -> Vec<String> {
    s.iter().map(|a| a.to_string()).collect()
}

fn run_args(s: &[&str]) -> DaemonArgs {
    match parse_daemon_args(&argv(s)) {
        Ok(DaemonCommand::Run(a)) => a,
        other => panic!("expected Run for {s:?}, got {other:?}"),
    }
}

fn err(s: &[&str]) -> String {
    match parse_daemon_args(&argv(s)) {
        Err(e) => e,
        other => panic!("expected an error for {s:?}, got {other:?}"),
    }
}

#[test]
fn no_arguments_runs_with_defaults() {
    assert_eq!(run_args(&[]), DaemonArgs::default());
}

#[test]
fn configuration_in_every_getopt_spelling() {
    for a in [
        &["-c", "/etc/s.conf"][..],
        &["-c/etc/s.conf"],
        &["--configuration=/etc/s.conf"],
        &["--configuration", "/etc/s.conf"],
        &["--config=/etc/s.conf"],
        &["--co", "/etc/s.conf"],
    ] {
        assert_eq!(
            run_args(a).configuration,
            Some(PathBuf::from("/etc/s.conf")),
            "{a:?}"
        );
    }
}

#[test]
fn docker_style_cluster() {
    // `supervisord -nc /etc/supervisord.conf` is in countless Dockerfiles.
    let a = run_args(&["-nc", "/etc/supervisord.conf"]);
    assert!(a.overrides.nodaemon);
    assert_eq!(
        a.configuration,
        Some(PathBuf::from("/etc/supervisord.conf"))
    );
    let a = run_args(&["-nsktc/x.conf"]);
    assert!(a.overrides.nodaemon && a.overrides.silent);
    assert!(a.overrides.nocleanup && a.overrides.strip_ansi);
    assert_eq!(a.configuration, Some(PathBuf::from("/x.conf")));
}

#[test]
fn every_flag_sets_its_override() {
    let a = run_args(&["-n", "-s", "-k", "-t"]);
    let o = &a.overrides;
    assert!(o.nodaemon && o.silent && o.nocleanup && o.strip_ansi);
    let a = run_args(&["--nodaemon", "--silent", "--nocleanup", "--strip_ansi"]);
    assert_eq!(a.overrides, o.clone());
    assert!(!a.check);
}

#[test]
fn every_value_option_is_kept_raw() {
    let short = run_args(&[
        "-u",
        "nobody",
        "-m",
        "077",
        "-d",
        "/srv",
        "-l",
        "/var/log/s.log",
        "-y",
        "1MB",
        "-z",
        "3",
        "-e",
        "debug",
        "-j",
        "/run/s.pid",
        "-i",
        "box",
        "-q",
        "/var/log/kids",
        "-a",
        "4096",
        "--minprocs",
        "300",
    ]);
    let long = run_args(&[
        "--user=nobody",
        "--umask=077",
        "--directory=/srv",
        "--logfile=/var/log/s.log",
        "--logfile_maxbytes=1MB",
        "--logfile_backups=3",
        "--loglevel=debug",
        "--pidfile=/run/s.pid",
        "--identifier=box",
        "--childlogdir=/var/log/kids",
        "--minfds=4096",
        "--minprocs=300",
    ]);
    let some = |s: &str| Some(s.to_string());
    let want = Overrides {
        user: some("nobody"),
        umask: some("077"),
        directory: some("/srv"),
        logfile: some("/var/log/s.log"),
        logfile_maxbytes: some("1MB"),
        logfile_backups: some("3"),
        loglevel: some("debug"),
        pidfile: some("/run/s.pid"),
        identifier: some("box"),
        childlogdir: some("/var/log/kids"),
        minfds: some("4096"),
        minprocs: some("300"),
        ..Overrides::default()
    };
    assert_eq!(short.overrides, want);
    assert_eq!(long.overrides, want);
    // Not converted here: the loader reports bad values like file values.
    assert_eq!(run_args(&["-m", "999"]).overrides.umask, some("999"));
    assert_eq!(run_args(&["-e", ""]).overrides.loglevel, some(""));
}

#[test]
fn abbreviations_match_the_reference() {
    assert_eq!(
        run_args(&["--ch=/d"]).overrides.childlogdir,
        Some("/d".into())
    );
    assert_eq!(
        run_args(&["--minp", "5"]).overrides.minprocs,
        Some("5".into())
    );
    assert!(run_args(&["--nod"]).overrides.nodaemon);
    assert!(run_args(&["--st"]).overrides.strip_ansi);
    assert_eq!(err(&["--c=x"]), "option --c not a unique prefix");
    assert_eq!(
        err(&["--logfile_"]),
        "option --logfile_ not a unique prefix"
    );
    // `--logfile` is an exact match although it prefixes two other options.
    assert_eq!(
        run_args(&["--logfile", "x"]).overrides.logfile,
        Some("x".into())
    );
    assert_eq!(err(&["--min=1"]), "option --min not a unique prefix");
}

#[test]
fn check_flag_is_exact_only() {
    assert!(run_args(&["--check"]).check);
    let a = run_args(&["-c", "s.conf", "--check"]);
    assert!(a.check);
    assert_eq!(a.configuration, Some(PathBuf::from("s.conf")));
    assert_eq!(err(&["--chec"]), "option --chec not recognized");
    assert_eq!(
        err(&["--check=yes"]),
        "option --check must not have an argument"
    );
}

#[test]
fn help_and_version() {
    let help = |s: &[&str]| matches!(parse_daemon_args(&argv(s)), Ok(DaemonCommand::Help(_)));
    assert!(help(&["-h"]));
    assert!(help(&["--help"]));
    assert!(help(&["--he"]));
    assert!(help(&["-?"]));
    assert_eq!(
        parse_daemon_args(&argv(&["-v"])),
        Ok(DaemonCommand::Version)
    );
    assert_eq!(
        parse_daemon_args(&argv(&["--version"])),
        Ok(DaemonCommand::Version)
    );
    // Options act left to right: whichever of -h/-v comes first wins, and
    // what follows it is not looked at.
    assert!(help(&["-h", "-v"]));
    assert_eq!(
        parse_daemon_args(&argv(&["-v", "-h"])),
        Ok(DaemonCommand::Version)
    );
    assert!(help(&["-c", "a", "-h", "-c", "b"]));
    assert!(help(&["-nh"]));
    // But a conflict before it is reported.
    assert_eq!(
        err(&["-c", "a", "-c", "b", "-h"]),
        "conflicting command line option '-c'"
    );
}

#[test]
fn help_text_lists_every_option() {
    let Ok(DaemonCommand::Help(text)) = parse_daemon_args(&argv(&["-h"])) else {
        panic!("no help");
    };
    // Which build this is, beside the Supervisor version it stands in for.
    assert!(
        text.contains(&format!(
            "(supervisor-rs {}, a drop-in for Supervisor 4.3.0)",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    for o in DAEMON_OPTIONS {
        assert!(
            text.contains(&format!("--{}", o.long)),
            "--{} missing",
            o.long
        );
        if let Some(c) = o.short {
            assert!(text.contains(&format!("-{c}/--{}", o.long)), "-{c} missing");
        }
    }
    assert!(text.contains("--check"));
    assert!(text.contains("Usage: supervisord"));
    for line in text.lines() {
        assert!(line.len() <= 80, "help line too long: {line:?}");
    }
}

#[test]
fn positional_arguments_are_rejected_like_the_reference() {
    assert_eq!(
        err(&["foo"]),
        "positional arguments are not supported: ['foo']"
    );
    // Checked before options are acted on, so even -h does not win.
    assert_eq!(
        err(&["-h", "foo"]),
        "positional arguments are not supported: ['foo']"
    );
    assert_eq!(
        err(&["-n", "-", "-h"]),
        "positional arguments are not supported: ['-', '-h']"
    );
    assert_eq!(
        err(&["--", "-h"]),
        "positional arguments are not supported: ['-h']"
    );
    assert_eq!(
        err(&["it's"]),
        "positional arguments are not supported: [\"it's\"]"
    );
    // `--` alone just ends the options.
    assert!(run_args(&["-n", "--"]).overrides.nodaemon);
}

#[test]
fn getopt_errors_pass_through() {
    assert_eq!(err(&["-x"]), "option -x not recognized");
    assert_eq!(err(&["-c"]), "option -c requires argument");
    assert_eq!(err(&["-nc"]), "option -c requires argument");
    assert_eq!(
        err(&["--config"]),
        "option --configuration requires argument"
    );
    assert_eq!(
        err(&["--nodaemon=1"]),
        "option --nodaemon must not have an argument"
    );
    assert_eq!(err(&["--bogus"]), "option --bogus not recognized");
    // supervisorctl's options are not supervisord's.
    assert_eq!(err(&["-p", "x"]), "option -p not recognized");
}

#[test]
fn repeated_options_conflict() {
    assert_eq!(err(&["-n", "-n"]), "conflicting command line option '-n'");
    assert_eq!(err(&["-nn"]), "conflicting command line option '-n'");
    assert_eq!(
        err(&["-c", "a", "--configuration", "b"]),
        "conflicting command line option '--configuration'"
    );
    assert_eq!(
        err(&["--config=a", "-cb"]),
        "conflicting command line option '-c'"
    );
    assert_eq!(
        err(&["-l", "a", "--logfile=a"]),
        "conflicting command line option '--logfile'"
    );
    assert_eq!(
        err(&["--check", "--check"]),
        "conflicting command line option '--check'"
    );
    // -h and -v never conflict (they act at once).
    assert!(matches!(
        parse_daemon_args(&argv(&["-n", "-?"])),
        Ok(DaemonCommand::Help(_))
    ));
}

#[test]
fn profile_options_is_rejected_clearly() {
    for a in [
        &["--profile_options=cumulative"][..],
        &["--profile_options", "calls,callers"],
        &["--prof=x"],
    ] {
        let e = err(a);
        assert!(e.starts_with("--profile_options is not supported"), "{e}");
        assert!(e.contains("Python"), "{e}");
    }
    // It still needs its argument, as in the reference.
    assert_eq!(
        err(&["--profile_options"]),
        "option --profile_options requires argument"
    );
    // Left to right: a -h before it wins.
    assert!(matches!(
        parse_daemon_args(&argv(&["-h", "--profile_options=x"])),
        Ok(DaemonCommand::Help(_))
    ));
}

#[test]
fn spec_and_table_agree() {
    // Every option in the table is reachable by both of its spellings and
    // maps back to its own entry.
    for o in DAEMON_OPTIONS {
        let long = format!("--{}", o.long);
        assert_eq!(find_option(&long).map(|d| d.long), Some(o.long));
        if let Some(c) = o.short {
            assert_eq!(find_option(&format!("-{c}")).map(|d| d.long), Some(o.long));
        }
        match o.action {
            Action::Flag => assert!(flag_slot(&mut Overrides::default(), o.long).is_some()),
            Action::Value => assert!(value_slot(&mut Overrides::default(), o.long).is_some()),
            _ => {}
        }
    }
    let mut shorts: Vec<char> = DAEMON_OPTIONS.iter().filter_map(|o| o.short).collect();
    shorts.sort_unstable();
    shorts.dedup();
    assert_eq!(shorts.len(), 18);
}

#[test]
fn py_repr_matches_python() {
    assert_eq!(py_repr("-c"), "'-c'");
    assert_eq!(py_repr("it's"), "\"it's\"");
    assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
    assert_eq!(py_repr("a\\b\n\t\u{1}"), "'a\\\\b\\n\\t\\x01'");
    assert_eq!(py_repr("é"), "'é'");
    assert_eq!(py_list_repr(&argv(&[])), "[]");
    assert_eq!(py_list_repr(&argv(&["a", "b"])), "['a', 'b']");
}

#[test]
fn dispatch_by_program_name() {
    let a = argv(&["-n"]);
    assert_eq!(
        dispatch("/usr/bin/supervisord", &a),
        Invocation::Daemon {
            prog: "/usr/bin/supervisord".into(),
            args: a.clone()
        }
    );
    assert_eq!(
        dispatch("supervisorctl", &argv(&["status"])),
        Invocation::Ctl {
            args: argv(&["status"])
        }
    );
    assert_eq!(
        dispatch("/usr/local/bin/supervisorctl", &argv(&["-c", "x", "ctl"])),
        Invocation::Ctl {
            args: argv(&["-c", "x", "ctl"])
        }
    );
    assert_eq!(
        dispatch("./echo_supervisord_conf", &argv(&["ignored"])),
        Invocation::EchoConf
    );
    // Any other name runs the daemon, so renamed binaries still work.
    assert_eq!(
        dispatch("supervisor-rs", &[]),
        Invocation::Daemon {
            prog: "supervisor-rs".into(),
            args: vec![]
        }
    );
    assert_eq!(
        dispatch("", &[]),
        Invocation::Daemon {
            prog: "".into(),
            args: vec![]
        }
    );
}

#[test]
fn dispatch_subcommand_forms() {
    assert_eq!(
        dispatch("supervisord", &argv(&["ctl", "-c", "x", "status"])),
        Invocation::Ctl {
            args: argv(&["-c", "x", "status"])
        }
    );
    assert_eq!(
        dispatch("supervisord", &argv(&["ctl"])),
        Invocation::Ctl { args: vec![] }
    );
    assert_eq!(
        dispatch("/bin/supervisord", &argv(&["echo_supervisord_conf"])),
        Invocation::EchoConf
    );
    // Only as the very first argument, spelled exactly.
    for a in [&["-n", "ctl"][..], &["CTL"], &["ctl2"], &["--", "ctl"]] {
        assert!(
            matches!(dispatch("supervisord", &argv(a)), Invocation::Daemon { .. }),
            "{a:?}"
        );
    }
    // The supervisorctl name does not take the subcommand forms.
    assert_eq!(
        dispatch("supervisorctl", &argv(&["echo_supervisord_conf"])),
        Invocation::Ctl {
            args: argv(&["echo_supervisord_conf"])
        }
    );
}

#[test]
fn usage_error_format() {
    assert_eq!(
        usage_error("/usr/bin/supervisord", "option -x not recognized"),
        "Error: option -x not recognized\nFor help, use /usr/bin/supervisord -h\n"
    );
}

#[test]
fn utf8_args_rejects_invalid_bytes() {
    use std::os::unix::ffi::OsStringExt;
    assert_eq!(
        utf8_args(vec![OsString::from("-c"), OsString::from("é.conf")]),
        Ok(argv(&["-c", "é.conf"]))
    );
    let bad = OsString::from_vec(vec![b'a', 0xff]);
    let e = utf8_args(vec![OsString::from("-c"), bad]).unwrap_err();
    assert!(e.starts_with("argument is not valid UTF-8: 'a"), "{e}");
}

#[test]
fn sample_has_the_active_sections() {
    let s = sample_config();
    assert!(s.starts_with("; Sample supervisor config file"));
    let active: Vec<&str> = s
        .lines()
        .filter(|l| !l.starts_with(';') && !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(
        active,
        [
            "[unix_http_server]",
            "file=/tmp/supervisor.sock   ; socket supervisorctl talks to (required here)",
            "[supervisord]",
            "logfile=/tmp/supervisord.log ; main log; relative paths start at the cwd",
            "logfile_maxbytes=50MB        ; rotate the main log at this size; 0 = never",
            "logfile_backups=10           ; rotated copies to keep; 0 = keep none",
            "loglevel=info                ; critical error warn info debug trace blather",
            "pidfile=/tmp/supervisord.pid ; where supervisord writes its own pid",
            "nodaemon=false               ; true = stay in the foreground (containers: true)",
            "silent=false                 ; true = no log copy on stdout in the foreground",
            "minfds=1024                  ; refuse to start below this many free fds",
            "minprocs=200                 ; refuse to start below this many free processes",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = \
             supervisor.rpcinterface:make_main_rpcinterface",
            "[supervisorctl]",
            "serverurl=unix:///tmp/supervisor.sock ; unix:// path of the socket above",
        ]
    );
    // Active lines never start with whitespace: that would make them
    // continuation lines of the previous value.
    assert!(s.lines().all(|l| !l.starts_with([' ', '\t'])));
}

/// Every option of Supervisor 4.x (SPEC A4) and every Part B key appears,
/// commented out, in the right kind of section.
#[test]
fn sample_mentions_every_section_and_option() {
    let s = sample_config();
    let sections = [
        "[unix_http_server]",
        ";[inet_http_server]",
        "[supervisord]",
        "[rpcinterface:supervisor]",
        "[supervisorctl]",
        ";[program:",
        ";[eventlistener:",
        ";[fcgi-program:",
        ";[group:",
        ";[include]",
        ";[health_server]",
    ];
    for sec in sections {
        assert!(s.lines().any(|l| l.starts_with(sec)), "{sec} missing");
    }
    let section_of = |key: &str, header: &str| -> bool {
        // The key appears, commented or not, after the header line.
        let Some(start) = s.find(header) else {
            return false;
        };
        let rest = &s[start..];
        let end = rest[1..]
            .find("\n;[")
            .or_else(|| rest[1..].find("\n["))
            .map_or(rest.len(), |i| i + 1);
        rest[..end].lines().any(|l| {
            l.trim_start_matches(';').starts_with(&format!("{key}="))
                || l.trim_start_matches(';').starts_with(&format!("{key} ="))
        })
    };
    for k in ["file", "chmod", "chown", "username", "password"] {
        assert!(section_of(k, "[unix_http_server]"), "unix_http_server {k}");
    }
    for k in ["port", "username", "password"] {
        assert!(section_of(k, ";[inet_http_server]"), "inet_http_server {k}");
    }
    for k in [
        "logfile",
        "logfile_maxbytes",
        "logfile_backups",
        "loglevel",
        "pidfile",
        "umask",
        "nodaemon",
        "silent",
        "minfds",
        "minprocs",
        "nocleanup",
        "childlogdir",
        "user",
        "directory",
        "strip_ansi",
        "environment",
        "identifier",
    ] {
        assert!(section_of(k, "\n[supervisord]"), "supervisord {k}");
    }
    for k in [
        "serverurl",
        "username",
        "password",
        "prompt",
        "history_file",
    ] {
        assert!(section_of(k, "[supervisorctl]"), "supervisorctl {k}");
    }
    let program_keys = [
        "command",
        "process_name",
        "numprocs",
        "numprocs_start",
        "priority",
        "autostart",
        "startsecs",
        "startretries",
        "autorestart",
        "exitcodes",
        "stopsignal",
        "stopwaitsecs",
        "stopasgroup",
        "killasgroup",
        "user",
        "redirect_stderr",
        "stdout_logfile",
        "stdout_logfile_maxbytes",
        "stdout_logfile_backups",
        "stdout_capture_maxbytes",
        "stdout_events_enabled",
        "stdout_syslog",
        "stderr_logfile",
        "stderr_logfile_maxbytes",
        "stderr_logfile_backups",
        "stderr_capture_maxbytes",
        "stderr_events_enabled",
        "stderr_syslog",
        "environment",
        "directory",
        "umask",
        "serverurl",
    ];
    for k in program_keys {
        assert!(section_of(k, ";[program:"), "program {k}");
    }
    for k in [
        "events",
        "buffer_size",
        "result_handler",
        "priority",
        "redirect_stderr",
    ] {
        assert!(section_of(k, ";[eventlistener:"), "eventlistener {k}");
    }
    for k in ["socket", "socket_backlog", "socket_owner", "socket_mode"] {
        assert!(section_of(k, ";[fcgi-program:"), "fcgi-program {k}");
    }
    for k in ["programs", "priority"] {
        assert!(section_of(k, ";[group:"), "group {k}");
    }
    assert!(section_of("files", ";[include]"));
    // Part B, in the block that says the reference ignores it.
    let block = s
        .find("container extensions")
        .map(|i| &s[i..])
        .unwrap_or_default();
    assert!(block.contains("Python reference ignores"));
    for k in [
        "exit_when_all_exited",
        "forward_signals",
        "log_format",
        "exit_supervisor_on",
        "depends_on",
        "readiness_check",
        "readiness_interval",
        "readiness_timeout",
        "liveness_check",
        "liveness_interval",
        "liveness_timeout",
        "liveness_failures",
        "start_delay",
        "fatal_restart_delay",
        "log_prefix",
        "capabilities",
        "port",
    ] {
        assert!(
            block.lines().any(|l| l.starts_with(&format!(";{k}="))),
            "Part B {k}"
        );
    }
}

/// Our own loader must accept what we print.  It is written concurrently
/// with this module; un-ignore once `config::load` exists.
#[test]
fn sample_config_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("supervisord.conf");
    std::fs::write(&path, sample_config()).expect("write sample");
    let opts = crate::config::LoadOptions::from_process(Default::default(), false);
    let loaded = crate::config::load(&path, &opts);
    assert!(loaded.is_ok(), "{:?}", loaded.err());
    // Its commented [health_server] works once uncommented.
    let text = sample_config()
        .replace(";[health_server]", "[health_server]")
        .replace(";port=127.0.0.1:9002", "port=127.0.0.1:9002");
    std::fs::write(&path, text).expect("write sample");
    let loaded = crate::config::load(&path, &opts).expect("the sample with [health_server]");
    assert_eq!(
        loaded.config.health_server,
        Some(crate::config::HealthServer {
            host: "127.0.0.1".into(),
            port: 9002
        })
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}
