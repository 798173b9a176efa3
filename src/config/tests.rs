//! Whole-file tests of `load`: every section and option, their defaults,
//! every error message, includes, host checks and the seed configs.

use super::*;
use std::fs;
use std::time::Instant;

fn opts(check_host: bool) -> LoadOptions {
    LoadOptions {
        env: vec![
            ("HOME".into(), "/root".into()),
            ("FOO".into(), "bar".into()),
            ("PATH".into(), "/usr/bin:/bin".into()),
        ],
        host_node_name: "node1".into(),
        check_host,
        overrides: Overrides::default(),
    }
}

struct T {
    dir: tempfile::TempDir,
}

impl T {
    fn new() -> T {
        T {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn d(&self) -> String {
        self.dir.path().to_str().unwrap().to_string()
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, text).unwrap();
        p
    }
    fn load(&self, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
        let p = self.write("supervisord.conf", text);
        load(&p, &opts(true))
    }
}

fn ok(text: &str) -> Loaded {
    let t = T::new();
    match t.load(text) {
        Ok(l) => l,
        Err(d) => panic!(
            "unexpected errors: {:#?}",
            d.iter().map(|d| d.to_string()).collect::<Vec<_>>()
        ),
    }
}

fn errs(text: &str) -> Vec<String> {
    let t = T::new();
    match t.load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .collect(),
    }
}

fn has(list: &[String], needle: &str) -> bool {
    list.iter().any(|m| m.contains(needle))
}

fn warnings(l: &Loaded) -> Vec<String> {
    l.warnings.iter().map(|d| d.to_string()).collect()
}

fn group<'a>(c: &'a Config, name: &str) -> &'a GroupConfig {
    c.groups
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

fn proc0<'a>(c: &'a Config, name: &str) -> &'a ProcessConfig {
    &group(c, name).processes[0]
}

const SD: &str = "[supervisord]\n";

// ------------------------------------------------------------ [supervisord]

#[test]
fn supervisord_defaults() {
    let l = ok(SD);
    let s = &l.config.supervisord;
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(s.logfile, MainLogTarget::File(cwd.join("supervisord.log")));
    assert_eq!(s.pidfile, cwd.join("supervisord.pid"));
    assert_eq!(s.logfile_maxbytes, 50 * 1024 * 1024);
    assert_eq!(s.logfile_backups, 10);
    assert_eq!(s.loglevel, LogLevel::Info);
    assert_eq!(s.umask, 0o22);
    assert!(!s.nodaemon && !s.silent && !s.nocleanup && !s.strip_ansi);
    assert_eq!(s.minfds, 1024);
    assert_eq!(s.minprocs, 200);
    assert_eq!(s.childlogdir, PathBuf::from("/tmp"));
    assert_eq!(s.user, None);
    assert_eq!(s.directory, None);
    assert!(s.environment.is_empty());
    assert_eq!(s.identifier, "supervisor");
    assert!(l.config.groups.is_empty());
    assert!(l.config.supervisorctl.is_none());
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    assert!(l.config.file.is_absolute());
    assert_eq!(l.config.files_read, vec![l.config.file.clone()]);
}

#[test]
fn supervisord_every_option() {
    let t = T::new();
    let d = t.d();
    let text = format!(
        "[supervisord]\nlogfile=%(here)s/main.log\nlogfile_maxbytes=1KB\nlogfile_backups=3\n\
         loglevel=BLATHER\npidfile={d}/x.pid\numask=077\nnodaemon=true\nsilent=yes\nminfds=2048\n\
         minprocs=300\nnocleanup=on\nchildlogdir={d}\nuser=root\ndirectory={d}\nstrip_ansi=1\n\
         environment=A=\"1\",B='x,y',C=%(ENV_FOO)s\nidentifier=box\n"
    );
    let l = t.load(&text).unwrap();
    let s = &l.config.supervisord;
    assert_eq!(s.logfile, MainLogTarget::File(t.path("main.log")));
    assert_eq!(s.logfile_maxbytes, 1024);
    assert_eq!(s.logfile_backups, 3);
    assert_eq!(s.loglevel, LogLevel::Blather);
    assert_eq!(s.pidfile, t.path("x.pid"));
    assert_eq!(s.umask, 0o77);
    assert!(s.nodaemon && s.silent && s.nocleanup && s.strip_ansi);
    assert_eq!(s.minfds, 2048);
    assert_eq!(s.minprocs, 300);
    assert_eq!(s.childlogdir, PathBuf::from(&d));
    assert_eq!(s.user.as_deref(), Some("root"));
    assert_eq!(s.directory, Some(PathBuf::from(&d)));
    assert_eq!(
        s.environment,
        vec![
            ("A".into(), "1".into()),
            ("B".into(), "x,y".into()),
            ("C".into(), "bar".into())
        ]
    );
    assert_eq!(s.identifier, "box");
}

#[test]
fn main_logfile_special_values() {
    let l = ok("[supervisord]\nlogfile=syslog\n");
    assert_eq!(l.config.supervisord.logfile, MainLogTarget::Syslog);
    let l = ok("[supervisord]\nlogfile=NONE\n");
    assert_eq!(l.config.supervisord.logfile, MainLogTarget::None);
    let l = ok("[supervisord]\nlogfile=/dev/stdout\nlogfile_maxbytes=0\n");
    assert_eq!(
        l.config.supervisord.logfile,
        MainLogTarget::File("/dev/stdout".into())
    );
}

#[test]
fn missing_supervisord_section() {
    let e = errs("[program:x]\ncommand=true\n");
    assert!(
        has(&e, ".ini file does not include supervisord section"),
        "{e:?}"
    );
}

#[test]
fn supervisord_value_errors_all_reported() {
    let e = errs(
        "[supervisord]\nminfds=abc\nlogfile_maxbytes=10XB\nloglevel=loud\numask=9\nnodaemon=maybe\n\
         logfile_backups=-1\n",
    );
    assert!(
        has(&e, ":2: [supervisord] minfds: invalid integer value 'abc'"),
        "{e:?}"
    );
    assert!(has(
        &e,
        ":3: [supervisord] logfile_maxbytes: invalid byte size value '10XB'"
    ));
    assert!(has(
        &e,
        ":4: [supervisord] loglevel: bad logging level name 'loud'"
    ));
    assert!(has(
        &e,
        ":5: [supervisord] umask: 9 can not be converted to an octal type"
    ));
    assert!(has(
        &e,
        ":6: [supervisord] nodaemon: not a valid boolean value: 'maybe'"
    ));
    // Supervisor takes any integer there; -1 backups is 0 (a warning).
    assert_eq!(e.len(), 5, "{e:?}");
}

#[test]
fn supervisord_environment_expansion_and_env_keys() {
    // Keys of [supervisord] environment become ENV_* for later sections.
    let l = ok(
        "[supervisord]\nenvironment=ROOTDIR=/srv,X=\"%(ENV_FOO)s\"\n\
                [program:p]\ncommand=run %(ENV_ROOTDIR)s %(ENV_X)s\n",
    );
    assert_eq!(proc0(&l.config, "p").command, "run /srv bar");
    // Supervisor expands this value twice: host_node_name is not available
    // to the first pass, and a doubled %% must be doubled again.
    let e = errs("[supervisord]\nenvironment=A=\"%(host_node_name)s\"\n");
    assert!(
        has(
            &e,
            "contains names ('host_node_name') which cannot be expanded"
        ),
        "{e:?}"
    );
    let l = ok("[supervisord]\nenvironment=A=\"100%%%%\"\n");
    assert_eq!(
        l.config.supervisord.environment,
        vec![("A".into(), "100%".into())]
    );
    let e = errs("[supervisord]\nenvironment=A=\"100%%\"\n");
    assert!(has(&e, "is badly formatted"), "{e:?}");
    let e = errs("[supervisord]\nenvironment=A=1 B=2\n");
    assert!(
        has(&e, "Unexpected end of key/value pairs in value 'A=1 B=2'"),
        "{e:?}"
    );
}

#[test]
fn overrides_win_and_are_checked() {
    let t = T::new();
    let p = t.write(
        "supervisord.conf",
        "[supervisord]\nlogfile_maxbytes=1KB\nloglevel=debug\nidentifier=f\n",
    );
    let mut o = opts(true);
    o.overrides = Overrides {
        logfile_maxbytes: Some("2MB".into()),
        loglevel: Some("warn".into()),
        identifier: Some("cli".into()),
        logfile: Some(format!("{}/cli.log", t.d())),
        pidfile: Some(format!("{}/cli.pid", t.d())),
        childlogdir: Some(t.d()),
        directory: Some(t.d()),
        umask: Some("002".into()),
        minfds: Some("10".into()),
        minprocs: Some("11".into()),
        logfile_backups: Some("1".into()),
        user: Some("root".into()),
        nodaemon: true,
        silent: true,
        nocleanup: true,
        strip_ansi: true,
    };
    let s = load(&p, &o).unwrap().config.supervisord;
    assert_eq!(s.logfile_maxbytes, 2 << 20);
    assert_eq!(s.loglevel, LogLevel::Warn);
    assert_eq!(s.identifier, "cli");
    assert_eq!(s.logfile, MainLogTarget::File(t.path("cli.log")));
    assert_eq!(s.pidfile, t.path("cli.pid"));
    assert_eq!(s.umask, 0o2);
    assert_eq!((s.minfds, s.minprocs, s.logfile_backups), (10, 11, 1));
    assert!(s.nodaemon && s.silent && s.nocleanup && s.strip_ansi);
    assert_eq!(s.user.as_deref(), Some("root"));

    let mut o = opts(true);
    o.overrides.logfile_maxbytes = Some("lots".into());
    o.overrides.childlogdir = Some("/nonexistent/dir".into());
    let e: Vec<String> = load(&p, &o)
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert!(
        has(
            &e,
            "command line: -y: invalid value 'lots': invalid byte size value 'lots'"
        ),
        "{e:?}"
    );
    assert!(
        has(
            &e,
            "command line: -q: /nonexistent/dir is not an existing directory"
        ),
        "{e:?}"
    );
}

// ------------------------------------------------------------ [program:x]

#[test]
fn program_defaults() {
    let l = ok("[supervisord]\n[program:web]\ncommand=/bin/web --port 80\n");
    let g = group(&l.config, "web");
    assert_eq!(g.priority, 999);
    assert_eq!(g.kind, GroupKind::Program);
    assert_eq!(g.processes.len(), 1);
    let p = &g.processes[0];
    assert_eq!(p.name, "web");
    assert_eq!(p.program_name, "web");
    assert_eq!(p.command, "/bin/web --port 80");
    assert_eq!(p.argv, vec!["/bin/web", "--port", "80"]);
    assert_eq!(p.directory, None);
    assert_eq!(p.umask, None);
    assert_eq!(p.priority, 999);
    assert!(p.autostart);
    assert_eq!(p.autorestart, AutoRestart::Unexpected);
    assert_eq!(p.startsecs, 1);
    assert_eq!(p.startretries, 3);
    assert_eq!(p.user, None);
    let ch = ChannelLog {
        logfile: ChildLogTarget::Auto,
        maxbytes: 50 << 20,
        backups: 10,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
    };
    assert_eq!(p.stdout, ch);
    assert_eq!(p.stderr, ch);
    assert_eq!(p.stopsignal, libc::SIGTERM);
    assert_eq!(p.stopwaitsecs, 10);
    assert!(!p.stopasgroup && !p.killasgroup);
    assert_eq!(p.exitcodes, vec![0]);
    assert!(!p.redirect_stderr);
    assert!(p.environment.is_empty());
    assert_eq!(p.serverurl, None);
}

#[test]
fn program_every_option() {
    let t = T::new();
    let d = t.d();
    let text = format!(
        "[supervisord]\n[program:app]\ncommand=/bin/sh 'a b' \"c\\\"d\"\ndirectory={d}\numask=002\n\
         priority=5\nautostart=false\nautorestart=true\nstartsecs=0\nstartretries=7\nuser=root\n\
         stdout_logfile={d}/out.log\nstdout_logfile_maxbytes=1MB\nstdout_logfile_backups=2\n\
         stdout_capture_maxbytes=1K\nstdout_events_enabled=true\nstdout_syslog=true\n\
         stderr_logfile=NONE\nstderr_logfile_maxbytes=0\nstderr_logfile_backups=0\n\
         stderr_capture_maxbytes=2KB\nstderr_events_enabled=true\nstderr_syslog=false\n\
         stopsignal=SIGINT\nstopwaitsecs=30\nstopasgroup=true\nexitcodes=0,2\n\
         environment=A=1,B=\"two words\"\nserverurl=unix:///tmp/x.sock\n"
    );
    let l = t.load(&text).unwrap();
    let p = proc0(&l.config, "app");
    assert_eq!(p.argv, vec!["/bin/sh", "a b", "c\"d"]);
    assert_eq!(p.directory, Some(PathBuf::from(&d)));
    assert_eq!(p.umask, Some(0o2));
    assert_eq!(p.priority, 5);
    assert_eq!(group(&l.config, "app").priority, 5);
    assert!(!p.autostart);
    assert_eq!(p.autorestart, AutoRestart::Always);
    assert_eq!((p.startsecs, p.startretries), (0, 7));
    assert_eq!(p.user.as_deref(), Some("root"));
    assert_eq!(p.stdout.logfile, ChildLogTarget::File(t.path("out.log")));
    assert_eq!(
        (
            p.stdout.maxbytes,
            p.stdout.backups,
            p.stdout.capture_maxbytes
        ),
        (1 << 20, 2, 1024)
    );
    assert!(p.stdout.events_enabled && p.stdout.syslog);
    assert_eq!(p.stderr.logfile, ChildLogTarget::None);
    assert_eq!(
        (
            p.stderr.maxbytes,
            p.stderr.backups,
            p.stderr.capture_maxbytes
        ),
        (0, 0, 2048)
    );
    assert!(p.stderr.events_enabled && !p.stderr.syslog);
    assert_eq!(p.stopsignal, libc::SIGINT);
    assert_eq!(p.stopwaitsecs, 30);
    assert!(
        p.stopasgroup && p.killasgroup,
        "killasgroup defaults to stopasgroup"
    );
    assert_eq!(p.exitcodes, vec![0, 2]);
    assert_eq!(
        p.environment,
        vec![("A".into(), "1".into()), ("B".into(), "two words".into())]
    );
    assert_eq!(p.serverurl.as_deref(), Some("unix:///tmp/x.sock"));
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
}

#[test]
fn program_value_errors_are_located() {
    let text = "[supervisord]\n\n[program:web]\ncommand=true\nautostart=perhaps\nautorestart=sometimes\n\
                startsecs=abc\nstopsignal=BOGUS\nexitcodes=0,256\nstartretries=99999999999999999999999\n\
                umask=99\n";
    let e = errs(text);
    assert!(
        has(
            &e,
            "supervisord.conf:5: [program:web] autostart: not a valid boolean value: 'perhaps'"
        ),
        "{e:?}"
    );
    assert!(has(
        &e,
        ":6: [program:web] autorestart: invalid 'autorestart' value 'sometimes'"
    ));
    assert!(has(
        &e,
        ":7: [program:web] startsecs: invalid integer value 'abc'"
    ));
    assert!(has(
        &e,
        ":8: [program:web] stopsignal: value 'BOGUS' is not a valid signal name"
    ));
    assert!(has(
        &e,
        ":9: [program:web] exitcodes: not a valid list of exit codes: '0,256'"
    ));
    // Supervisor takes any integer: a huge one is held (a warning).
    assert!(has(
        &e,
        ":11: [program:web] umask: 99 can not be converted to an octal type"
    ));
    assert_eq!(e.len(), 6, "{e:?}");
}

#[test]
fn command_rules() {
    let e = errs("[supervisord]\n[program:a]\nautostart=true\n");
    assert!(
        has(
            &e,
            ":2: [program:a] command: program section program:a does not specify a command"
        ),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[program:a]\ncommand=echo 'oops\n");
    assert!(
        has(
            &e,
            ":3: [program:a] command: command cannot be split into arguments: No closing quotation"
        ),
        "{e:?}"
    );
    let l = ok("[supervisord]\n[program:a]\ncommand=\n");
    assert!(has(&warnings(&l), "command is empty"));
    // `%%` for a literal percent sign (issue 986).
    let l = ok("[supervisord]\n[program:a]\ncommand=printf 100%%\n");
    assert_eq!(proc0(&l.config, "a").argv, vec!["printf", "100%"]);
    let e = errs("[supervisord]\n[program:a]\ncommand=printf 100%\n");
    assert!(
        has(
            &e,
            "Format string 'printf 100%' for 'program:a.command' is badly formatted: incomplete format"
        ),
        "{e:?}"
    );
}

#[test]
fn missing_commands_and_directories_are_warnings() {
    let l = ok(
        "[supervisord]\n[program:a]\ncommand=no_such_cmd_xyz -v\ndirectory=/nonexistent/d\n\
                [program:b]\ncommand=/nonexistent/bin/b\n[program:c]\ncommand=sh\nenvironment=PATH=/nonexistent\n\
                [program:d]\ncommand=/etc/passwd\n[program:e]\ncommand=sh -c true\n",
    );
    let w = warnings(&l);
    assert!(
        has(
            &w,
            ":3: [program:a] command: command no_such_cmd_xyz was not found in PATH (/usr/bin:/bin): the program will fail to start"
        ),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            ":4: [program:a] directory: directory /nonexistent/d does not exist on this host"
        ),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            "[program:b] command: command /nonexistent/bin/b does not exist on this host"
        ),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            "[program:c] command: command sh was not found in PATH (/nonexistent)"
        ),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            "[program:d] command: command /etc/passwd is not an executable file"
        ),
        "{w:?}"
    );
    assert_eq!(w.len(), 5, "{w:?}");
}

#[test]
fn names_are_checked() {
    let e = errs("[supervisord]\n[program:a:b]\ncommand=true\n");
    assert!(
        has(
            &e,
            "[program:a:b] Invalid name: 'a:b' because of character: ':'"
        ),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[program:a b]\ncommand=true\n");
    assert!(has(&e, "Invalid name: 'a b' because of character: ' '"));
    let e = errs("[supervisord]\n[program:a/b]\ncommand=true\n");
    assert!(has(&e, "Invalid name: 'a/b' because of character: '/'"));
    for sec in ["program:", "group:", "eventlistener:", "fcgi-program:"] {
        let e = errs(&format!(
            "[supervisord]\n[{sec}]\ncommand=true\nevents=TICK_5\nsocket=tcp://h:1\n"
        ));
        assert!(has(&e, "Invalid name: ''"), "{sec}: {e:?}");
    }
    let e = errs("[supervisord]\n[program:a]\ncommand=true\nprocess_name=x:y\n");
    assert!(
        has(
            &e,
            "[program:a] process_name: Invalid name: 'x:y' because of character: ':'"
        ),
        "{e:?}"
    );
}

#[test]
fn numprocs_and_process_names() {
    let l = ok(
        "[supervisord]\n[program:w]\ncommand=w %(process_num)d of %(numprocs)d\nnumprocs=3\n\
                numprocs_start=8\nprocess_name=%(program_name)s_%(process_num)02d\n",
    );
    let g = group(&l.config, "w");
    let names: Vec<&str> = g.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["w_08", "w_09", "w_10"]);
    assert_eq!(g.processes[2].command, "w 10 of 3");
    let e = errs("[supervisord]\n[program:w]\ncommand=w\nnumprocs=2\n");
    assert!(
        has(
            &e,
            "[program:w] process_name: %(process_num) must be present within process_name when numprocs > 1"
        ),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[program:w]\ncommand=w\nnumprocs=0\n");
    assert!(has(&e, "numprocs must be at least 1"), "{e:?}");
    let start = Instant::now();
    let e = errs(
        "[supervisord]\n[program:w]\ncommand=w\nnumprocs=100000\nprocess_name=%(process_num)s\n",
    );
    assert!(
        has(&e, "numprocs 100000 is above the bound of 10000"),
        "{e:?}"
    );
    assert!(start.elapsed().as_secs_f64() < 1.0);
    // The bound itself loads, quickly.
    let start = Instant::now();
    let l = ok(
        "[supervisord]\n[program:w]\ncommand=w\nnumprocs=10000\nprocess_name=w%(process_num)s\n",
    );
    assert_eq!(group(&l.config, "w").processes.len(), 10000);
    assert!(start.elapsed().as_secs_f64() < 5.0);
}

#[test]
fn processes_sorted_by_priority_then_name() {
    let l = ok(
        "[supervisord]\n[program:b]\ncommand=true\npriority=1\n[program:a]\ncommand=true\npriority=1\n\
                [program:c]\ncommand=true\npriority=-5\n[program:d]\ncommand=true\n",
    );
    let names: Vec<&str> = l.config.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, vec!["c", "a", "b", "d"]);
}

#[test]
fn stopasgroup_without_killasgroup() {
    let e = errs("[supervisord]\n[program:a]\ncommand=true\nstopasgroup=true\nkillasgroup=false\n");
    assert!(
        has(
            &e,
            "[program:a] killasgroup: Cannot set stopasgroup=true and killasgroup=false"
        ),
        "{e:?}"
    );
}

#[test]
fn signals_by_name_and_number() {
    for (v, n) in [
        ("TERM", 15),
        ("sigkill", 9),
        ("hup", 1),
        ("10", 10),
        ("USR2", 12),
    ] {
        let l = ok(&format!(
            "[supervisord]\n[program:a]\ncommand=true\nstopsignal={v}\n"
        ));
        assert_eq!(proc0(&l.config, "a").stopsignal, n, "{v}");
    }
    let e = errs("[supervisord]\n[program:a]\ncommand=true\nstopsignal=0\n");
    assert!(
        has(&e, "stopsignal: value '0' is not a valid signal number"),
        "{e:?}"
    );
}

#[test]
fn logfile_rules() {
    let l = ok(
        "[supervisord]\n[program:a]\ncommand=true\nstdout_logfile=syslog\nstderr_logfile=AUTO\nstderr_logfile_maxbytes=0\n",
    );
    let p = proc0(&l.config, "a");
    assert_eq!(p.stdout.logfile, ChildLogTarget::None);
    assert!(p.stdout.syslog);
    let w = warnings(&l);
    assert!(
        has(
            &w,
            "For [program:a], stdout_logfile=syslog but this is deprecated and will be removed.  Use stdout_syslog=true to enable syslog instead."
        ),
        "{w:?}"
    );
    assert!(has(
        &w,
        "For [program:a], AUTO logging used for stderr_logfile without rollover, set maxbytes > 0 to avoid filling up filesystem unintentionally"
    ));

    let l = ok(
        "[supervisord]\n[program:a]\ncommand=true\nredirect_stderr=true\nstderr_logfile=/tmp/e.log\n",
    );
    let p = proc0(&l.config, "a");
    assert_eq!(p.stderr.logfile, ChildLogTarget::None);
    assert!(p.redirect_stderr);
    assert!(has(
        &warnings(&l),
        "For [program:a], redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored"
    ));

    // Relative child log paths stay relative, as in Supervisor.
    let l = ok("[supervisord]\n[program:a]\ncommand=true\nstdout_logfile=a.log\n");
    assert_eq!(
        proc0(&l.config, "a").stdout.logfile,
        ChildLogTarget::File("a.log".into())
    );
}

#[test]
fn program_expansions() {
    let t = T::new();
    let text = "[supervisord]\n[program:p]\n\
                command=%(here)s/run %(program_name)s %(group_name)s %(host_node_name)s %(ENV_FOO)s %(ENV_OWN)s\n\
                environment=OWN=\"%(program_name)s-%(process_num)d\",HOME2=%(ENV_HOME)s\n\
                stdout_logfile=%(here)s/%(ENV_OWN)s.log\ndirectory=%(here)s\n";
    let l = t.load(text).unwrap();
    let p = proc0(&l.config, "p");
    assert_eq!(p.command, format!("{}/run p p node1 bar p-0", t.d()));
    assert_eq!(
        p.environment,
        vec![
            ("OWN".into(), "p-0".into()),
            ("HOME2".into(), "/root".into())
        ]
    );
    assert_eq!(p.stdout.logfile, ChildLogTarget::File(t.path("p-0.log")));
    // The program's own environment is not available to options read before it.
    let e = errs("[supervisord]\n[program:p]\ncommand=true\nenvironment=A=1\npriority=%(ENV_A)s\n");
    assert!(
        has(
            &e,
            "Format string '%(ENV_A)s' for 'program:p.priority' contains names ('ENV_A') which cannot be expanded. Available names: ENV_FOO, ENV_HOME, ENV_PATH, here"
        ),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[program:p]\ncommand=true\nautostart=%(process_num)s\n");
    assert!(has(&e, "contains names ('process_num')"), "{e:?}");
}

#[test]
fn defaults_section_applies_everywhere() {
    let l = ok("[DEFAULT]\nautostart=false\n[supervisord]\n[program:a]\ncommand=true\n");
    assert!(!proc0(&l.config, "a").autostart);
}

// ------------------------------------------------------------ groups

#[test]
fn heterogeneous_groups() {
    let l = ok(
        "[supervisord]\n[group:g]\nprograms=a,b\npriority=5\n[group:h]\nprograms=b\n\
                [program:a]\ncommand=true\npriority=2\n[program:b]\ncommand=%(group_name)s\npriority=1\n[program:c]\ncommand=true\n",
    );
    let names: Vec<&str> = l.config.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, vec!["g", "c", "h"]);
    let g = group(&l.config, "g");
    assert_eq!(g.priority, 5);
    let pn: Vec<&str> = g.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(pn, vec!["b", "a"]);
    assert_eq!(g.processes[0].command, "g");
    // A program listed in two groups is created in both.
    assert_eq!(group(&l.config, "h").processes[0].command, "h");
    assert!(
        !l.config
            .groups
            .iter()
            .any(|g| g.name == "a" || g.name == "b")
    );

    let e = errs("[supervisord]\n[group:g]\nprograms=a,zz\n[program:a]\ncommand=true\n");
    assert!(
        has(
            &e,
            ":3: [group:g] programs: [group:g] names unknown program or fcgi-program zz"
        ),
        "{e:?}"
    );
    let e = errs(
        "[supervisord]\n[group:g]\nprograms=a\n[program:a]\ncommand=true\n[fcgi-program:a]\ncommand=true\nsocket=tcp://h:1\n",
    );
    assert!(
        has(
            &e,
            "[group:g] name a is ambiguous (exists as program and fcgi-program)"
        ),
        "{e:?}"
    );
}

// ------------------------------------------------------------ eventlisteners

#[test]
fn eventlisteners() {
    let l = ok("[supervisord]\n[eventlistener:ev]\ncommand=cat\nevents=process_state,TICK_60\n");
    let g = group(&l.config, "ev");
    assert_eq!(g.priority, -1);
    assert_eq!(
        g.kind,
        GroupKind::EventListener {
            events: vec!["PROCESS_STATE".into(), "TICK_60".into()],
            buffer_size: 10,
            result_handler: "supervisor.dispatchers:default_handler".into(),
        }
    );
    // Supervisor gives the pool priority -1 but its processes 999.
    assert_eq!(g.processes[0].priority, 999);
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));

    let e = errs("[supervisord]\n[eventlistener:ev]\ncommand=true\n");
    assert!(
        has(&e, "[eventlistener:ev] section requires an \"events\" line"),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[eventlistener:ev]\ncommand=true\nevents=TICK_7\n");
    assert!(
        has(&e, "Unknown event type TICK_7 in [eventlistener:ev] events"),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[eventlistener:ev]\ncommand=true\nevents=EVENT\nbuffer_size=0\n");
    assert!(
        has(
            &e,
            "[eventlistener:ev] section sets invalid buffer_size (0)"
        ),
        "{e:?}"
    );
    let e = errs(
        "[supervisord]\n[eventlistener:ev]\ncommand=true\nevents=EVENT\nredirect_stderr=true\n",
    );
    assert!(
        has(
            &e,
            "[eventlistener:ev] section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol"
        ),
        "{e:?}"
    );

    let l = ok(
        "[supervisord]\n[eventlistener:ev]\ncommand=true\nevents=EVENT\nbuffer_size=50\n\
                result_handler=mypkg:handler\nstdout_capture_maxbytes=1MB\npriority=3\n",
    );
    let g = group(&l.config, "ev");
    assert_eq!(g.priority, 3);
    match &g.kind {
        GroupKind::EventListener {
            buffer_size,
            result_handler,
            ..
        } => {
            assert_eq!(*buffer_size, 50);
            assert_eq!(result_handler, "mypkg:handler");
        }
        k => panic!("{k:?}"),
    }
    assert_eq!(g.processes[0].stdout.capture_maxbytes, 0);
    let w = warnings(&l);
    assert!(has(&w, "result_handler mypkg:handler"), "{w:?}");
    assert!(
        has(&w, "stdout_capture_maxbytes is not used for eventlisteners"),
        "{w:?}"
    );
    for name in EVENT_TYPES {
        ok(&format!(
            "[supervisord]\n[eventlistener:ev]\ncommand=true\nevents={name}\n"
        ));
    }
}

// ------------------------------------------------------------ fcgi

#[test]
fn fcgi_programs() {
    let l = ok(
        "[supervisord]\n[fcgi-program:f]\ncommand=true\nsocket=unix:///tmp/%(program_name)s.sock\n\
                socket_mode=0660\nsocket_backlog=64\nprocess_name=%(program_name)s_%(process_num)s\nnumprocs=2\n",
    );
    let g = group(&l.config, "f");
    assert_eq!(
        g.kind,
        GroupKind::Fcgi {
            socket: FcgiSocket::Unix {
                path: "/tmp/f.sock".into(),
                owner: None,
                mode: 0o660
            },
            backlog: 64
        }
    );
    assert_eq!(g.processes.len(), 2);
    let l = ok("[supervisord]\n[fcgi-program:f]\ncommand=true\nsocket=tcp://localhost:9002\n");
    match &group(&l.config, "f").kind {
        GroupKind::Fcgi { socket, backlog } => {
            assert_eq!(
                *socket,
                FcgiSocket::Tcp {
                    host: "localhost".into(),
                    port: 9002
                }
            );
            assert_eq!(*backlog, libc::SOMAXCONN as u32);
        }
        k => panic!("{k:?}"),
    }
    let e = errs("[supervisord]\n[fcgi-program:f]\ncommand=true\n");
    assert!(
        has(&e, "[fcgi-program:f] section requires a \"socket\" line"),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[fcgi-program:f]\ncommand=true\nsocket=unix://rel.sock\n");
    assert!(
        has(
            &e,
            "Unix socket path rel.sock is not an absolute path in [fcgi-program:f] socket"
        ),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[fcgi-program:f]\ncommand=true\nsocket=udp://x:1\n");
    assert!(
        has(&e, "Bad socket format udp://x:1 in [fcgi-program:f] socket"),
        "{e:?}"
    );
    let e =
        errs("[supervisord]\n[fcgi-program:f]\ncommand=true\nsocket=tcp://x:1\nsocket_mode=0600\n");
    assert!(
        has(
            &e,
            "socket_owner and socket_mode params should only be used with a Unix domain socket"
        ),
        "{e:?}"
    );
    let e =
        errs("[supervisord]\n[fcgi-program:f]\ncommand=true\nsocket=tcp://x:1\nsocket_backlog=0\n");
    assert!(has(&e, "Invalid socket_backlog value 0"), "{e:?}");
    let e = errs(
        "[supervisord]\n[fcgi-program:f]\ncommand=true\nsocket=unix:///tmp/s\nsocket_owner=root:\n",
    );
    assert!(has(&e, "Invalid socket_owner value root:"), "{e:?}");
    let e = errs(
        "[supervisord]\n[fcgi-program:f]\ncommand=true\nsocket=unix:///tmp/s\nsocket_mode=abc\n",
    );
    assert!(has(&e, "Invalid socket_mode value abc"), "{e:?}");
    // Listed in a group: a plain program there, and no group of its own.
    let l = ok(
        "[supervisord]\n[group:g]\nprograms=f\n[fcgi-program:f]\ncommand=true\nsocket=tcp://h:1\n",
    );
    assert_eq!(l.config.groups.len(), 1);
    assert_eq!(group(&l.config, "g").kind, GroupKind::Program);
}

// ------------------------------------------------------------ servers, rpc, ctl

#[test]
fn http_servers() {
    let l = ok("[supervisord]\n[unix_http_server]\nfile=%(here)s/s.sock\n\
                [inet_http_server]\nport=127.0.0.1:9001\nusername=u\npassword={SHA}abc\n\
                [inet_http_server:two]\nport=*:9002\n[inet_http_server:three]\nport=9003\n");
    let u = &l.config.unix_http_servers[0];
    assert_eq!(u.section, "unix_http_server");
    assert_eq!(u.file, l.config.file.parent().unwrap().join("s.sock"));
    assert_eq!(u.chmod, 0o700);
    assert_eq!(u.chown, None);
    assert_eq!((u.username.as_deref(), u.password.as_deref()), (None, None));
    let i = &l.config.inet_http_servers;
    assert_eq!(i.len(), 3);
    assert_eq!((i[0].host.as_str(), i[0].port), ("127.0.0.1", 9001));
    assert_eq!(i[0].username.as_deref(), Some("u"));
    assert_eq!(i[0].password.as_deref(), Some("{SHA}abc"));
    assert_eq!(
        (i[1].section.as_str(), i[1].host.as_str(), i[1].port),
        ("inet_http_server:two", "", 9002)
    );
    assert_eq!((i[2].host.as_str(), i[2].port), ("", 9003));

    let l = ok(
        "[supervisord]\n[unix_http_server]\nfile=/tmp/x.sock\nchmod=0777\nchown=root:root\nusername=a\npassword=b\n",
    );
    let u = &l.config.unix_http_servers[0];
    assert_eq!(u.chmod, 0o777);
    assert_eq!(
        u.chown,
        Some(Owner {
            user: "root".into(),
            group: Some("root".into())
        })
    );

    let e = errs("[supervisord]\n[inet_http_server]\nport=9001\nusername=u\n");
    assert!(
        has(
            &e,
            "Section [inet_http_server] contains incomplete authentication: If a username or a password is specified, both the username and password must be specified"
        ),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[unix_http_server]\nfile=/tmp/x\npassword=p\n");
    assert!(
        has(
            &e,
            "Section [unix_http_server] contains incomplete authentication"
        ),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[inet_http_server]\nusername=u\npassword=p\n");
    assert!(
        has(&e, "section [inet_http_server] has no port value"),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[inet_http_server]\nport=host:\n");
    assert!(has(&e, "no port number specified"), "{e:?}");
    let e = errs("[supervisord]\n[unix_http_server]\nchmod=0700\n");
    assert!(
        has(&e, "section [unix_http_server] has no file value"),
        "{e:?}"
    );
    let e = errs("[supervisord]\n[unix_http_server]\nfile=/tmp/x\nchmod=rwx\n");
    assert!(has(&e, "Invalid chmod value rwx"), "{e:?}");
    let e = errs("[supervisord]\n[unix_http_server]\nfile=/tmp/x\nchown=no_such_user_xyz\n");
    assert!(has(&e, "Invalid sockchown value no_such_user_xyz"), "{e:?}");
}

#[test]
fn rpcinterfaces_and_plugins() {
    let l = ok(
        "[supervisord]\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
    );
    assert_eq!(
        l.config.rpcinterfaces,
        vec![RpcInterface {
            name: "supervisor".into(),
            factory: "supervisor.rpcinterface:make_main_rpcinterface".into()
        }]
    );
    assert!(l.warnings.is_empty());
    let l = ok(
        "[supervisord]\n[rpcinterface:x]\nsupervisor.rpcinterface_factory=my.mod:make\nretries=3\n\
                [ctlplugin:y]\nsupervisor.ctl_factory=my.ctl:make\n",
    );
    let w = warnings(&l);
    assert!(
        has(
            &w,
            "[rpcinterface:x] supervisor.rpcinterface_factory: [rpcinterface:x] names the Python plug-in my.mod:make"
        ),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            "[ctlplugin:y] is a supervisorctl Python plug-in (my.ctl:make)"
        ),
        "{w:?}"
    );
    let e = errs("[supervisord]\n[rpcinterface:x]\nfoo=1\n");
    assert!(
        has(
            &e,
            "section [rpcinterface:x] does not specify a supervisor.rpcinterface_factory"
        ),
        "{e:?}"
    );
}

#[test]
fn supervisorctl_section() {
    let l = ok("[supervisord]\n[supervisorctl]\n");
    assert_eq!(
        l.config.supervisorctl,
        Some(Ctl {
            serverurl: "http://localhost:9001".into(),
            username: None,
            password: None,
            prompt: "supervisor".into(),
            history_file: None,
        })
    );
    let t = T::new();
    let p = t.write(
        "ctl.conf",
        "[supervisorctl]\nserverurl=unix://%(here)s/../x.sock\nusername=u\npassword=p\nprompt=box\nhistory_file=~/.h\n",
    );
    let (ctl, warns) = load_ctl(&p, &opts(true)).unwrap();
    let ctl = ctl.unwrap();
    assert_eq!(
        ctl.serverurl,
        format!("unix://{}/x.sock", t.dir.path().parent().unwrap().display())
    );
    assert_eq!(
        (
            ctl.username.as_deref(),
            ctl.password.as_deref(),
            ctl.prompt.as_str()
        ),
        (Some("u"), Some("p"), "box")
    );
    assert_eq!(ctl.history_file, Some(PathBuf::from("/root/.h")));
    assert!(warns.is_empty());
    // No [supervisorctl]: Supervisor's error.
    let p = t.write("none.conf", "[supervisord]\n");
    let e = load_ctl(&p, &opts(true)).unwrap_err();
    assert!(
        e[0].to_string()
            .ends_with(".ini file does not include supervisorctl section")
    );
    // In supervisord's load, problems in [supervisorctl] are only warnings.
    let l = ok("[supervisord]\n[supervisorctl]\nprompt=%(nope)s\n");
    assert!(has(&warnings(&l), "contains names ('nope')"));
}

// ------------------------------------------------------------ include

#[test]
fn includes() {
    let t = T::new();
    t.write("conf.d/b.conf", "[program:b]\ncommand=%(here)s/b\n");
    t.write(
        "conf.d/a.conf",
        "[program:a]\ncommand=%(here)s/a\n[include]\nfiles=nested/*.conf\n",
    );
    t.write("conf.d/nested/n.conf", "[program:n]\ncommand=n\n");
    t.write("conf.d/skip.ini", "[program:s]\ncommand=s\n");
    let l = t
        .load("[supervisord]\nlogfile=%(here)s/m.log\n[include]\nfiles = conf.d/*.conf\n    missing/*.ini\n")
        .unwrap();
    let names: Vec<&str> = l.config.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b"]);
    assert_eq!(proc0(&l.config, "a").command, format!("{}/conf.d/a", t.d()));
    assert_eq!(
        l.config.supervisord.logfile,
        MainLogTarget::File(t.path("m.log"))
    );
    assert_eq!(
        l.infos,
        vec![
            format!(
                "Included extra file \"{}/conf.d/a.conf\" during parsing",
                t.d()
            ),
            format!(
                "Included extra file \"{}/conf.d/b.conf\" during parsing",
                t.d()
            ),
        ]
    );
    assert!(has(
        &warnings(&l),
        &format!("No file matches via include \"{}/missing/*.ini\"", t.d())
    ));
    assert_eq!(l.config.files_read.len(), 3);

    let e = errs("[supervisord]\n[include]\n");
    assert!(
        has(&e, ".ini file has [include] section, but no files setting"),
        "{e:?}"
    );
    // host_node_name and ENV_* are available in [include].
    let t = T::new();
    t.write("node1/x.conf", "[program:x]\ncommand=true\n");
    let l = t
        .load("[supervisord]\n[include]\nfiles=%(host_node_name)s/*.conf\n")
        .unwrap();
    assert_eq!(l.config.groups.len(), 1);
}

#[test]
fn includes_skip_fifos_devices_and_unreadable() {
    let t = T::new();
    nix::unistd::mkfifo(&t.path("fifo.conf"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let start = Instant::now();
    let l = t
        .load("[supervisord]\n[include]\nfiles=/dev/zero fifo.conf /dev/null\n")
        .unwrap();
    assert!(start.elapsed().as_secs_f64() < 1.0);
    let w = warnings(&l);
    assert!(
        has(
            &w,
            "included file \"/dev/zero\" is skipped: it is a character device, not a regular file"
        ),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            "fifo.conf\" is skipped: it is a FIFO, not a regular file"
        ),
        "{w:?}"
    );
    // An include in a bad encoding is an error in that file.
    let t = T::new();
    t.write("bad.conf", "[program:x]\ncommand=\u{0}\n");
    let e = errs_in(&t, "[supervisord]\n[include]\nfiles=bad.conf\n");
    assert!(has(&e, "bad.conf:2: the file contains a NUL byte"), "{e:?}");
}

fn errs_in(t: &T, text: &str) -> Vec<String> {
    t.load(text)
        .unwrap_err()
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect()
}

// ------------------------------------------------------------ host checks

#[test]
fn host_checks_are_errors_when_starting_and_warnings_for_check() {
    let text = "[supervisord]\nlogfile=/nonexistent/dir/s.log\nchildlogdir=/nonexistent/c\nuser=no_such_user_xyz\n\
                [program:a]\ncommand=true\nuser=no_such_user_xyz\nstdout_logfile=/nonexistent/o.log\n";
    let e = errs(text);
    assert!(
        has(
            &e,
            ":2: [supervisord] logfile: The directory named as part of the path /nonexistent/dir/s.log does not exist"
        ),
        "{e:?}"
    );
    assert!(has(
        &e,
        ":3: [supervisord] childlogdir: /nonexistent/c is not an existing directory"
    ));
    assert!(has(
        &e,
        ":4: [supervisord] user: Invalid user name no_such_user_xyz"
    ));
    assert!(has(
        &e,
        ":7: [program:a] user: Invalid user name no_such_user_xyz"
    ));
    assert!(has(
        &e,
        ":8: [program:a] stdout_logfile: The directory named as part of the path /nonexistent/o.log does not exist"
    ));
    let t = T::new();
    let p = t.write("supervisord.conf", text);
    let l = load(&p, &opts(false)).unwrap();
    assert_eq!(l.warnings.len(), 5, "{:?}", warnings(&l));
    assert!(l.warnings.iter().all(|d| d.severity == Severity::Warning));
    let e = errs("[supervisord]\n[program:a]\ncommand=true\nuser=999999\n");
    assert!(has(&e, "Invalid user id 999999"), "{e:?}");
}

#[test]
fn non_root_user_warning() {
    if nix::unistd::geteuid().is_root() {
        // As root, user= is how privileges are dropped: no warning.
        let l = ok("[supervisord]\n[program:a]\ncommand=true\nuser=root\n");
        assert!(l.warnings.is_empty());
        // ... unless supervisord itself drops to another user first.
        if let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") {
            let _ = nobody;
            let l = ok("[supervisord]\nuser=nobody\n[program:a]\ncommand=true\nuser=root\n");
            assert!(
                has(&warnings(&l), "supervisord is not root"),
                "{:?}",
                warnings(&l)
            );
        }
    } else {
        let l = ok("[supervisord]\n[program:a]\ncommand=true\nuser=root\n");
        assert!(has(&warnings(&l), "supervisord is not root"));
    }
}

#[test]
fn unknown_options_and_sections_are_warnings() {
    let l = ok(
        "[supervisord]\nbogus=1\n[program:a]\ncommand=true\nautostrat=true\n[nonsense]\nx=1\n[program]\nx=1\n",
    );
    let w = warnings(&l);
    assert!(
        has(
            &w,
            ":2: [supervisord] bogus: unknown option 'bogus' is ignored"
        ),
        "{w:?}"
    );
    assert!(has(
        &w,
        ":5: [program:a] autostrat: unknown option 'autostrat' is ignored"
    ));
    assert!(has(&w, "[nonsense] unknown section [nonsense] is ignored"));
    assert!(has(&w, "[program] unknown section [program] is ignored"));
    assert_eq!(w.len(), 4, "{w:?}");
    let l = ok("[supervisord]\n[program:x\ncommand=true\n");
    assert!(
        has(&warnings(&l), "a [section] header missing its ']'"),
        "{:?}",
        warnings(&l)
    );
}

// ------------------------------------------------------------ hostile input

#[test]
fn hostile_inputs_rejected_fast() {
    let t = T::new();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"[supervisord]\nidentifier=a\0b\n".to_vec(), ":2: the file contains a NUL byte"),
        (b"[supervisord]\n\n[program:x]\ncommand=caf\xe9\n".to_vec(), ":4: the file is not valid UTF-8"),
        (b"[supervisord]\n[program:]\ncommand=true\n".to_vec(), "Invalid name: ''"),
        (b"[supervisord]\n[program:x]\ncommand=true\nnumprocs=0\n".to_vec(), "numprocs must be at least 1"),
        (b"[supervisord]\n[program:x]\ncommand=true\nnumprocs=100000\nprocess_name=%(process_num)s\n".to_vec(), "above the bound of 10000"),
        (b"[supervisord]\n[program:x]\ncommand=true\nstopsignal=0\n".to_vec(), "not a valid signal number"),
        (b"[supervisord]\n[program:x]\ncommand=echo \"x\n".to_vec(), "No closing quotation"),
        (b"command=true\n[supervisord]\n".to_vec(), ":1: File contains no section headers"),
        (b"[supervisord]\njust words\n".to_vec(), ":2: invalid line 'just words'"),
    ];
    for (bytes, want) in cases {
        let p = t.path("h.conf");
        fs::write(&p, &bytes).unwrap();
        let start = Instant::now();
        let e: Vec<String> = load(&p, &opts(true))
            .unwrap_err()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert!(start.elapsed().as_secs_f64() < 1.0, "{want}");
        assert!(has(&e, want), "want {want:?} in {e:?}");
    }
    // A 10 MB value.
    let mut big = b"[supervisord]\n[program:x]\ncommand=".to_vec();
    big.extend(std::iter::repeat_n(b'a', 10 << 20));
    big.push(b'\n');
    let p = t.path("big.conf");
    fs::write(&p, &big).unwrap();
    let start = Instant::now();
    let e: Vec<String> = load(&p, &opts(true))
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert!(start.elapsed().as_secs_f64() < 1.0);
    assert!(
        has(
            &e,
            "big.conf:3: the value of 'command' is longer than 1048576 bytes (1 MiB)"
        ),
        "{e:?}"
    );
    // 10000 processes of a 100 KB command would be 1 GB.
    let text = format!(
        "[supervisord]\n[program:x]\ncommand=true {}\nnumprocs=10000\nprocess_name=%(process_num)s\n",
        "a".repeat(100_000)
    );
    let p = t.path("wide.conf");
    fs::write(&p, text).unwrap();
    let start = Instant::now();
    let e = load(&p, &opts(true)).unwrap_err();
    assert!(start.elapsed().as_secs_f64() < 2.0);
    assert!(
        e.iter()
            .any(|d| d.message.contains("more than 67108864 bytes")),
        "{e:?}"
    );
    // A file over 16 MiB is refused before it is read.
    let f = fs::File::create(t.path("huge.conf")).unwrap();
    f.set_len(17 << 20).unwrap();
    let e = load(&t.path("huge.conf"), &opts(true)).unwrap_err();
    assert!(
        e[0].message.contains("larger than 16777216 bytes"),
        "{:?}",
        e[0]
    );
    // The root config may not be a directory or missing.
    let e = load(&t.path("missing.conf"), &opts(true)).unwrap_err();
    assert!(e[0].message.starts_with("could not find config file"));
}

// ------------------------------------------------------------ display, discovery

#[test]
fn diagnostic_display() {
    let d = Diagnostic {
        severity: Severity::Error,
        file: Some("/etc/supervisord.conf".into()),
        line: Some(12),
        section: Some("program:web".into()),
        option: Some("startsecs".into()),
        value: Some("abc".into()),
        message: "invalid integer value 'abc'".into(),
    };
    assert_eq!(
        d.to_string(),
        "/etc/supervisord.conf:12: [program:web] startsecs: invalid integer value 'abc'"
    );
    let d = Diagnostic { line: None, ..d };
    assert_eq!(
        d.to_string(),
        "/etc/supervisord.conf: [program:web] startsecs: invalid integer value 'abc'"
    );
    let d = Diagnostic {
        file: None,
        section: None,
        option: Some("-y".into()),
        message: "bad".into(),
        ..d
    };
    assert_eq!(d.to_string(), "command line: -y: bad");
}

#[test]
fn config_file_search_order() {
    let t = T::new();
    let bin = t.path("prefix/bin/supervisord");
    let cwd = t.path("cwd");
    fs::create_dir_all(&cwd).unwrap();
    let found = |cwd: &Path| find_config_file(&bin, cwd);
    let sys = ["/etc/supervisord.conf", "/etc/supervisor/supervisord.conf"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    assert_eq!(found(&cwd), sys);
    t.write("cwd/etc/supervisord.conf", "");
    assert_eq!(found(&cwd), Some(cwd.join("etc/supervisord.conf")));
    t.write("cwd/supervisord.conf", "");
    assert_eq!(found(&cwd), Some(cwd.join("supervisord.conf")));
    t.write("prefix/supervisord.conf", "");
    assert_eq!(found(&cwd), Some(t.path("prefix").join("supervisord.conf")));
    t.write("prefix/etc/supervisord.conf", "");
    assert_eq!(
        found(&cwd),
        Some(t.path("prefix").join("etc/supervisord.conf"))
    );
}

// ------------------------------------------------------------ seeds

fn seed(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/config/testdata")
        .join(name);
    fs::read_to_string(p).unwrap()
}

fn check_load(path: &Path) -> Loaded {
    match load(path, &opts(false)) {
        Ok(l) => l,
        Err(d) => panic!("{:#?}", d.iter().map(|d| d.to_string()).collect::<Vec<_>>()),
    }
}

#[test]
fn seed000_loads() {
    let t = T::new();
    let root = t.write("supervisord.conf", &seed("seed000_supervisord.conf"));
    let l = check_load(&root);
    assert!(has(&warnings(&l), "No file matches via include"));
    t.write("relative/directory/blog.ini", &seed("seed000_blog.ini"));
    let l = check_load(&root);
    let p = proc0(&l.config, "blog");
    assert_eq!(p.stdout.maxbytes, 20 << 20, "20M is accepted");
    assert_eq!(p.stdout.backups, 20);
    assert_eq!(
        p.stdout.logfile,
        ChildLogTarget::File("/tmp/blog_stdout.log".into())
    );
    assert_eq!(p.stderr.logfile, ChildLogTarget::None);
    assert_eq!(p.autorestart, AutoRestart::Never);
    assert_eq!(p.argv, vec!["/usr/bin/python", "/opt/bin/test.py"]);
    assert!(has(
        &warnings(&l),
        "redirect_stderr=true but stderr_logfile has also been set"
    ));
    assert_eq!(
        l.config.unix_http_servers[0].file,
        PathBuf::from("/tmp/supervisor.sock")
    );
    assert_eq!(
        l.config.supervisorctl.as_ref().unwrap().serverurl,
        "unix:///tmp/supervisor.sock"
    );
    assert_eq!(
        l.config.supervisord.logfile,
        MainLogTarget::File("/tmp/supervisord.log".into())
    );
}

#[test]
fn seed001_loads() {
    let t = T::new();
    t.write("conf.d/usercenter.conf", &seed("seed001_usercenter.conf"));
    let root = t.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\n{}\n[include]\nfiles=conf.d/*.conf\n",
            seed("seed001_include.conf").replace("[include]", "[include_shown]")
        ),
    );
    let l = check_load(&root);
    let p = proc0(&l.config, "usercenter");
    assert_eq!(
        p.argv,
        vec!["gunicorn", "-w", "8", "-b", "0.0.0.0:17510", "wsgi:app"]
    );
    assert_eq!(
        (p.startsecs, p.startretries, p.autorestart),
        (5, 3, AutoRestart::Always)
    );
    assert_eq!(p.stdout.maxbytes, 20 << 20);
    assert_eq!(p.user.as_deref(), Some("leon"));
    // The seed's own include of /etc/supervisor/conf.d loads too.
    let root2 = t.write(
        "s2.conf",
        &format!("[supervisord]\n{}", seed("seed001_include.conf")),
    );
    check_load(&root2);
}

#[test]
fn seed002_loads() {
    let t = T::new();
    // As shown, its [include] has no files= line: Supervisor rejects that.
    let root = t.write("supervisord.conf", &seed("seed002_supervisord.conf"));
    let e = load(&root, &opts(false)).unwrap_err();
    assert!(
        e.iter()
            .any(|d| d.message == ".ini file has [include] section, but no files setting")
    );
    // Step 2 of the seed: point [include] at the program files.
    let fixed = seed("seed002_supervisord.conf").replace(
        ";files = relative/directory/*.ini  ;可以是 *.conf 或 *.ini",
        "files = supervisor/*.conf",
    );
    let root = t.write("supervisord.conf", &fixed);
    t.write("supervisor/web.conf", &seed("seed002_web.conf"));
    let l = check_load(&root);
    let p = proc0(&l.config, "flask_app");
    assert_eq!(p.directory, Some(PathBuf::from("/home/www/app")));
    assert_eq!(
        p.stdout.logfile,
        ChildLogTarget::File("/data/logs/flask_app_stdout.log".into())
    );
    assert_eq!(l.config.rpcinterfaces.len(), 1);
    assert!(
        l.warnings
            .iter()
            .all(|d| !d.message.contains("Python plug-in"))
    );
}

#[test]
fn seed003_loads_and_starts_with_local_paths() {
    let t = T::new();
    let root = t.write("supervisord.conf", &seed("seed003_supervisord.conf"));
    t.write("supervisord.d/ping.ini", &seed("seed003_ping.ini"));
    let l = check_load(&root);
    let p = proc0(&l.config, "ping");
    assert_eq!(
        p.stdout.logfile,
        ChildLogTarget::File("/var/log/supervisor/ping_stdout.log".into())
    );
    assert_eq!(p.stdout.maxbytes, 100 << 20);
    assert_eq!(p.stdout.backups, 0);
    assert_eq!(
        p.stderr.logfile,
        ChildLogTarget::File("/var/log/supervisor/ping_stderr.log".into())
    );
    // With its directories pointed at this machine, the daemon checks pass.
    let d = t.d();
    fs::create_dir_all(t.path("log")).unwrap();
    let main = seed("seed003_supervisord.conf")
        .replace("/var/run/supervisor/", &format!("{d}/"))
        .replace("/var/log/supervisor/", &format!("{d}/log/"))
        .replace("/var/run/", &format!("{d}/"));
    let prog = seed("seed003_ping.ini").replace("/var/log/supervisor/", &format!("{d}/log/"));
    let root = t.write("supervisord.conf", &main);
    t.write("supervisord.d/ping.ini", &prog);
    let l = load(&root, &opts(true)).unwrap();
    // Only this machine's lack of /bin/ping, or of root, may be mentioned.
    let w = warnings(&l);
    assert!(
        w.iter()
            .all(|m| m.contains("command /bin/ping does not exist")
                || m.contains("supervisord is not root")),
        "{w:?}"
    );
}

#[test]
fn seed004_loads() {
    let t = T::new();
    t.write("supervisord.d/handover.ini", &seed("seed004_handover.ini"));
    t.write("supervisord.d/app.ini", &seed("seed004_app.conf"));
    let root = t.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\n{}\n[include]\nfiles = supervisord.d/*.ini\n",
            seed("seed004_inet.conf")
        ),
    );
    let l = check_load(&root);
    let c = &l.config;
    assert_eq!(
        (
            c.inet_http_servers[0].host.as_str(),
            c.inet_http_servers[0].port
        ),
        ("192.168.10.10", 9001)
    );
    let g = group(c, "tornado_handover_system_services");
    assert_eq!(g.processes.len(), 4);
    assert_eq!(
        g.processes[3].argv.last().map(String::as_str),
        Some("--port=8084")
    );
    let app = proc0(c, "app");
    assert_eq!(
        app.environment,
        vec![("PATH".into(), "/home/app_env/bin".into())]
    );
    assert_eq!(app.autorestart, AutoRestart::Always);
    assert_eq!(c.groups.len(), 2);
}

// ------------------------------------------------------------ absurd values

/// Values Supervisor accepts but nobody means: accepted, with a warning
/// naming file:line (or the flag), the threshold and what the daemon does.
#[test]
fn absurd_values_are_accepted_with_a_warning() {
    let t = T::new();
    let l = t
        .load(&format!(
            "[supervisord]\nlogfile={0}/l\nminprocs=5000000\n\
         [program:x]\ncommand=/bin/true\nstartsecs=9223372036854775807\nstopwaitsecs=3153600001\n\
         stdout_capture_maxbytes=2048GB\nstderr_logfile_maxbytes=1099511627777\n\
         [eventlistener:l]\ncommand=/bin/true\nevents=TICK_5\nbuffer_size=1048577\n\
         [program:sane]\ncommand=/bin/true\nstartsecs=3153600000\nstdout_logfile_maxbytes=1024GB\n",
            t.d()
        ))
        .unwrap_or_else(|d| panic!("{:?}", d.iter().map(|d| d.to_string()).collect::<Vec<_>>()));
    let w = warnings(&l);
    for want in [
        ":3: [supervisord] minprocs: minprocs=5000000 is an absurd value (more than 2**22 processes",
        ":6: [program:x] startsecs: startsecs=9223372036854775807 is an absurd value (more than 100 years)",
        ":7: [program:x] stopwaitsecs: stopwaitsecs=3153600001 is an absurd value",
        ":8: [program:x] stdout_capture_maxbytes: stdout_capture_maxbytes=2199023255552 is an absurd value (more than 1 TiB)",
        ":9: [program:x] stderr_logfile_maxbytes: stderr_logfile_maxbytes=1099511627777 is an absurd value",
        ":13: [eventlistener:l] buffer_size: buffer_size=1048577 is an absurd value (more than 2**20 events)",
    ] {
        assert!(has(&w, want), "want {want:?} in {w:?}");
    }
    // At the thresholds: no warning.
    assert!(!w.iter().any(|x| x.contains("program:sane")), "{w:?}");
    let x = &l
        .config
        .groups
        .iter()
        .find(|g| g.name == "x")
        .unwrap()
        .processes[0];
    assert_eq!(x.startsecs, i64::MAX as u64);

    // From the command line: the flag is named.
    let p = t.write("c.conf", "[supervisord]\n[program:x]\ncommand=/bin/true\n");
    let mut o = opts(true);
    o.overrides.minfds = Some("9223372036854775807".into());
    let l = load(&p, &o).unwrap();
    let w = warnings(&l);
    assert!(
        has(
            &w,
            "command line: -a: minfds=9223372036854775807 is an absurd value"
        ),
        "{w:?}"
    );
    // And what a command-line value became, with the flag.
    let mut o = opts(true);
    o.overrides.logfile_backups = Some("-1".into());
    let l = load(&p, &o).unwrap();
    assert_eq!(l.config.supervisord.logfile_backups, 0);
    let w = warnings(&l);
    assert!(has(&w, "command line: -z: -1 acts as 0"), "{w:?}");
}

/// Values Supervisor accepts (its `integer` and `byte_size` have no bounds
/// and take negatives; its modes keep the low 12 bits) load here too, each
/// with a warning saying what it became.
#[test]
fn values_supervisor_accepts_load_with_a_warning_saying_what_they_became() {
    let l = ok(
        "[supervisord]\nlogfile_maxbytes=99999999999999999999GB\nlogfile_backups=-1\n\
                minfds=-5\numask=-1\n\n\
                [program:x]\ncommand=true\nstartsecs=999999999999999999999999999999\n\
                priority=-999999999999999999999999999999\nstartretries=99999999999999999999999\n\
                stopwaitsecs=-1\nstdout_logfile_maxbytes=-1\nstdout_capture_maxbytes=-3KB\n\
                numprocs_start=18446744073709551616\n",
    );
    let sd = &l.config.supervisord;
    assert_eq!(sd.logfile_maxbytes, i64::MAX as u64);
    assert_eq!(sd.logfile_backups, 0);
    assert_eq!(sd.minfds, 0);
    assert_eq!(sd.umask, 0o7777);
    let p = proc0(&l.config, "x");
    assert_eq!(p.startsecs, i64::MAX as u64);
    assert_eq!(p.startretries, u32::MAX);
    assert_eq!(p.stopwaitsecs, 0);
    assert_eq!(p.stdout.maxbytes, 0);
    assert_eq!(p.stdout.capture_maxbytes, 0);
    assert_eq!(group(&l.config, "x").priority, i64::MIN);
    let w = warnings(&l);
    for want in [
        ":2: [supervisord] logfile_maxbytes: '99999999999999999999GB' is held as 9223372036854775807 bytes",
        ":3: [supervisord] logfile_backups: -1 acts as 0 (as in Supervisor)",
        ":4: [supervisord] minfds: -5 acts as 0 (as in Supervisor)",
        ":5: [supervisord] umask: -1 acts as 7777 (its low 12 bits, as in Supervisor)",
        ":9: [program:x] startsecs: 999999999999999999999999999999 is held as 9223372036854775807",
        ":10: [program:x] priority: '-999999999999999999999999999999' is beyond 64 bits: taken as -9223372036854775808",
        ":11: [program:x] startretries: 99999999999999999999999 is held as 4294967295",
        ":12: [program:x] stopwaitsecs: -1 acts as 0 (as in Supervisor)",
        ":13: [program:x] stdout_logfile_maxbytes: '-1' acts as 0 (as in Supervisor)",
        ":14: [program:x] stdout_capture_maxbytes: '-3KB' acts as 0 (as in Supervisor)",
        ":15: [program:x] numprocs_start: numprocs_start 18446744073709551616 is held as 9223372036854765807",
    ] {
        assert!(has(&w, want), "{want} missing in {w:#?}");
    }
}

// ------------------------------------------------------------ depends_on

#[test]
fn depends_on_lists_programs_of_any_kind_and_in_groups() {
    let l = ok(&format!(
        "{SD}[program:db]\ncommand=true\n[program:cache]\ncommand=true\n\
         [program:web]\ncommand=true\ndepends_on = db , cache,db,\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)s\n\
         [group:g]\nprograms=db,cache\n[fcgi-program:f]\ncommand=true\nsocket=tcp://127.0.0.1:9999\ndepends_on=web\n"
    ));
    let web = &group(&l.config, "web").processes;
    assert_eq!(web.len(), 2);
    for p in web {
        assert_eq!(
            p.depends_on,
            ["db", "cache"],
            "duplicates and empty items dropped"
        );
    }
    assert_eq!(proc0(&l.config, "f").depends_on, ["web"]);
    assert!(
        group(&l.config, "g")
            .processes
            .iter()
            .all(|p| p.depends_on.is_empty())
    );
}

#[test]
fn depends_on_unknown_names_are_errors_with_the_line() {
    let e = errs(&format!(
        "{SD}[program:web]\ncommand=true\ndepends_on=db,cache\n[program:db]\ncommand=true\n"
    ));
    assert!(
        has(
            &e,
            ":4: [program:web] depends_on: program web depends on cache, which is not a program of this configuration"
        ),
        "{e:?}"
    );
    assert_eq!(e.len(), 1, "{e:?}");
    // A group name is not a program name.
    let e = errs(&format!(
        "{SD}[program:a]\ncommand=true\ndepends_on=g\n[program:b]\ncommand=true\n[group:g]\nprograms=b\n"
    ));
    assert!(has(&e, "program a depends on g, which is not"), "{e:?}");
    let e = errs(&format!("{SD}[program:a]\ncommand=true\ndepends_on=b c\n"));
    assert!(has(&e, ":4: [program:a] depends_on:"), "{e:?}");
}

#[test]
fn depends_on_cycles_are_errors_naming_the_programs() {
    let e = errs(&format!(
        "{SD}[program:c]\ncommand=true\ndepends_on=a\n[program:a]\ncommand=true\ndepends_on=b\n\
         [program:b]\ncommand=true\ndepends_on=c\n[program:d]\ncommand=true\ndepends_on=a\n"
    ));
    assert!(
        has(
            &e,
            ":7: [program:a] depends_on: depends_on forms a cycle: a -> b -> c -> a"
        ),
        "{e:?}"
    );
    assert_eq!(e.len(), 1, "one cycle, reported once: {e:?}");
    let e = errs(&format!("{SD}[program:a]\ncommand=true\ndepends_on=a\n"));
    assert!(
        has(
            &e,
            ":4: [program:a] depends_on: depends_on forms a cycle: a -> a"
        ),
        "{e:?}"
    );
}

#[test]
fn depends_on_a_chain_of_thousands_is_checked_without_recursion() {
    let n = 20_000;
    let mut text = String::from(SD);
    for i in 0..n {
        text.push_str(&format!("[program:p{i}]\ncommand=true\nautostart=false\n"));
        if i + 1 < n {
            text.push_str(&format!("depends_on=p{}\n", i + 1));
        } else {
            text.push_str("depends_on=p0\n");
        }
    }
    let e = errs(&text);
    assert_eq!(e.len(), 1, "{:?}", e.first());
    assert!(
        has(&e, "depends_on forms a cycle: p0 -> p1 -> p2"),
        "{:?}",
        e.first().map(|m| &m[..200])
    );
}
