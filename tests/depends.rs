//! `depends_on` (SPEC Part B) on the real binary: start order against
//! priority, stop order the other way round, a FATAL dependency holding its
//! dependents back, and the config errors `--check` reports.  Programs
//! record what they saw in files, so no test sleeps to synchronise.

use crate::util::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

/// A program that runs until stopped; at start it notes whether each of
/// `saw` had a pid file, and on TERM whether each had a `.term` file.
fn server(name: &str, saw: &[&str], extra: &str) -> String {
    let look = |suffix: &str| {
        saw.iter()
            .map(|s| format!("[ -e {{dir}}/{s}.{suffix} ] && echo {s}; "))
            .collect::<String>()
    };
    format!(
        "[program:{name}]\n\
         command=/bin/sh -c '{{ {pids} }} > {{dir}}/{name}.saw-at-start; echo $$ > {{dir}}/{name}.pid; \
         trap \"{{ {terms} }} > {{dir}}/{name}.saw-at-stop; echo TERM > {{dir}}/{name}.term; exit 0\" TERM; \
         while :; do sleep 0.05; done'\n\
         stopwaitsecs=5\n{extra}\n\n",
        pids = look("pid"),
        terms = look("term"),
    )
}

#[test]
fn dependency_order_wins_over_priority_at_start_and_at_shutdown() {
    let mut h = Harness::new("depends_order");
    // By priority alone, web (1) starts first and db (999) stops first.
    h.write_standard_conf(&h.subst(&format!(
        "{}{}",
        server("db", &["web"], "priority=999\nstartsecs=1"),
        server("web", &["db"], "priority=1\nstartsecs=0\ndepends_on=db"),
    )));
    h.start(&[]);
    h.wait_for_socket(T);
    h.wait_pid_file("web.pid", T);
    assert_eq!(
        h.read("web.saw-at-start").trim(),
        "db",
        "{}",
        h.diagnostics()
    );
    assert_eq!(h.read("db.saw-at-start").trim(), "", "{}", h.diagnostics());
    let log = h.main_log();
    let running = log.find("success: db entered RUNNING").expect("db RUNNING");
    let spawned = log.find("spawned: 'web'").expect("web spawned");
    assert!(running < spawned, "{log}");

    let st = h.stop(T);
    assert!(st.success(), "{}", h.diagnostics());
    // db got its TERM only after web had stopped.
    assert_eq!(
        h.read("db.saw-at-stop").trim(),
        "web",
        "{}",
        h.diagnostics()
    );
    assert_eq!(h.read("web.saw-at-stop").trim(), "", "{}", h.diagnostics());
}

#[test]
fn a_fatal_dependency_keeps_dependents_unstarted_with_a_log_line() {
    let mut h = Harness::new("depends_fatal");
    h.write_standard_conf(&h.subst(&format!(
        "[program:db]\ncommand=/bin/sh -c 'exit 1'\nstartsecs=1\nstartretries=1\n\n{}",
        server("web", &[], "startsecs=0\ndepends_on=db"),
    )));
    h.start(&[]);
    h.wait_for_socket(T);
    h.eventually(T, "db FATAL and the reason logged", || {
        h.main_log()
            .contains("not starting web: its dependency db is FATAL (depends_on)")
    });
    let o = h.ctl(&["status"]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        text.lines()
            .any(|l| l.starts_with("db ") && l.contains("FATAL")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("web ") && l.contains("STOPPED")),
        "{text}"
    );
    assert!(!h.path("web.pid").exists());
    h.stop(T);
}

#[test]
fn check_reports_depends_on_cycles_and_unknown_names_with_the_line() {
    let h = Harness::new("depends_check");
    let conf = h.write_standard_conf(
        "[program:a]\ncommand=/bin/true\ndepends_on=b\n\n\
         [program:b]\ncommand=/bin/true\ndepends_on=a, nosuch\n",
    );
    let o = h.run(&["--check", "-c", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let file = conf.display().to_string();
    let line_of = |needle: &str| {
        std::fs::read_to_string(&conf)
            .unwrap()
            .lines()
            .position(|l| l == needle)
            .map(|i| i + 1)
            .unwrap()
    };
    let a = line_of("depends_on=b");
    let b = line_of("depends_on=a, nosuch");
    assert!(
        err.contains(&format!(
            "{file}:{a}: [program:a] depends_on: depends_on forms a cycle: a -> b -> a"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:{b}: [program:b] depends_on: program b depends on nosuch, which is not a program of this configuration"
        )),
        "{err}"
    );
    // And the daemon refuses to start on it, before running anything.
    let o = h.run(&["-n", "-c", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
}

#[test]
fn a_dependency_with_a_readiness_check_gates_its_dependents_until_ready() {
    let mut h = Harness::new("depends_ready");
    let port = free_port();
    // db is RUNNING at once but listens only when `go-db` appears.
    let db = h.write_script(
        "db.py",
        &h.subst(&format!(
            "#!/usr/bin/env python3\n\
             import os, socket, time\n\
             while not os.path.exists('{{dir}}/go-db'): time.sleep(0.02)\n\
             s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('127.0.0.1', {port})); s.listen()\n\
             open('{{dir}}/db.listening', 'w').close(); time.sleep(100000)\n"
        )),
    );
    h.write_standard_conf(&h.subst(&format!(
        "[program:db]\ncommand={}\nstartsecs=0\nreadiness_check=tcp://127.0.0.1:{port}\nreadiness_interval=0.1\n\n{}",
        db.display(),
        server("web", &["db"], "startsecs=0\ndepends_on=db"),
    )));
    h.start(&[]);
    h.wait_for_socket(T);
    h.eventually(T, "db RUNNING", || {
        String::from_utf8_lossy(&h.ctl(&["status", "db"]).stdout).contains("RUNNING")
    });
    // RUNNING but not ready: web waits (a few check periods).
    for _ in 0..5 {
        let o = h.ctl(&["status", "web"]);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("STOPPED"),
            "{}",
            h.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    h.write_file("go-db", "");
    h.wait_pid_file("web.pid", T);
    // db.pid is not written by this db; what web saw is the listening mark.
    assert!(h.path("db.listening").exists());
    h.stop(T);
}
