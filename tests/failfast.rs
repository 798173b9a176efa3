//! The daemon ending on its own (SPEC Part B): `exit_supervisor_on` on a
//! program and `exit_when_all_exited` on the daemon, with the status it
//! exits with; the other programs are stopped first, in the usual order.
//! Programs signal readiness through files, so no test sleeps to
//! synchronise.

use crate::util::*;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

/// A program that runs until stopped, records its pid and the TERM it gets.
fn server(name: &str) -> String {
    format!(
        "[program:{name}]\n\
         command=/bin/sh -c 'echo $$ > {{dir}}/{name}.pid; trap \"echo TERM > {{dir}}/{name}.term; exit 0\" TERM; while :; do sleep 0.05; done'\n\
         startsecs=0\nstopwaitsecs=5\n\n"
    )
}

/// A program that waits for `{dir}/go-NAME`, then runs `then` (shell).
fn job(name: &str, then: &str, extra: &str) -> String {
    format!(
        "[program:{name}]\n\
         command=/bin/sh -c 'while [ ! -e {{dir}}/go-{name} ]; do sleep 0.02; done; {then}'\n\
         startsecs=0\nautorestart=false\n{extra}\n\n"
    )
}

fn code(st: &std::process::ExitStatus) -> Option<i32> {
    st.code()
}

/// Start with `sections`, wait until `server` runs.
fn started(name: &str, sections: &str) -> Harness {
    let mut h = Harness::new(name);
    h.write_standard_conf(&h.subst(sections));
    h.start(&[]);
    h.wait_for_socket(T);
    h
}

#[test]
fn exit_supervisor_on_any_stops_the_others_and_exits_with_the_programs_code() {
    let mut h = started(
        "failfast_any",
        &format!(
            "{}{}",
            server("web"),
            job("main", "exit 3", "exit_supervisor_on=any")
        ),
    );
    let web = h.wait_pid_file("web.pid", T);
    h.write_file("go-main", "");
    let st = h.wait_exit(T);
    assert_eq!(code(&st), Some(3), "{}", h.diagnostics());
    // The other program got its stop signal and is gone.
    assert!(h.read("web.term").contains("TERM"), "{}", h.diagnostics());
    assert!(!pid_alive(web));
    let log = h.main_log();
    assert!(
        log.contains("main exit status 3 and has exit_supervisor_on=any"),
        "{log}"
    );
}

#[test]
fn exit_supervisor_on_any_reports_128_plus_the_signal() {
    let mut h = started(
        "failfast_signal",
        &job("main", "kill -9 $$", "exit_supervisor_on=any"),
    );
    h.write_file("go-main", "");
    let st = h.wait_exit(T);
    assert_eq!(code(&st), Some(128 + 9), "{}", h.diagnostics());
}

#[test]
fn exit_supervisor_on_unexpected_ignores_an_expected_exit() {
    let mut h = started(
        "failfast_unexpected",
        &format!(
            "{}{}{}",
            server("web"),
            job("ok", "exit 0", "exit_supervisor_on=unexpected"),
            job(
                "bad",
                "exit 5",
                "exit_supervisor_on=unexpected\nexitcodes=0,2"
            )
        ),
    );
    h.wait_pid_file("web.pid", T);
    h.write_file("go-ok", "");
    h.wait_log("exited: ok (exit status 0; expected)", T);
    // An answer after the exit proves the loop went on past it.
    assert!(output_text(&h.ctl(&["status", "ok"])).contains("EXITED"));
    assert!(
        h.try_status().is_none(),
        "an expected exit ended the daemon"
    );
    h.write_file("go-bad", "");
    let st = h.wait_exit(T);
    assert_eq!(code(&st), Some(5), "{}", h.diagnostics());
}

#[test]
fn exit_supervisor_on_fatal_waits_for_fatal_and_reports_its_last_code() {
    let mut h = started(
        "failfast_fatal",
        &format!(
            "{}[program:flaky]\ncommand=/bin/sh -c 'exit 4'\nstartsecs=1\nstartretries=1\nexit_supervisor_on=fatal\n\n",
            server("web"),
        ),
    );
    let st = h.wait_exit(T);
    assert_eq!(code(&st), Some(4), "{}", h.diagnostics());
    let log = h.main_log();
    assert!(log.contains("gave up: flaky entered FATAL state"), "{log}");
    assert!(
        log.contains("flaky entered FATAL and has exit_supervisor_on=fatal"),
        "{log}"
    );
    assert!(h.read("web.term").contains("TERM"));
}

#[test]
fn exit_supervisor_on_fatal_is_1_for_a_program_that_never_ran() {
    let mut h = started(
        "failfast_never_ran",
        "[program:missing]\ncommand=/nonexistent/program\nexit_supervisor_on=fatal\n\n",
    );
    let st = h.wait_exit(T);
    assert_eq!(code(&st), Some(1), "{}", h.diagnostics());
}

#[test]
fn exit_supervisor_on_none_and_fatal_keep_running_after_exits() {
    let mut h = started(
        "failfast_none",
        &format!(
            "{}{}{}",
            server("web"),
            job("plain", "exit 7", ""),
            job("watched", "exit 7", "exit_supervisor_on=fatal")
        ),
    );
    h.wait_pid_file("web.pid", T);
    h.write_file("go-plain", "");
    h.write_file("go-watched", "");
    h.wait_log("exited: plain (exit status 7; not expected)", T);
    h.wait_log("exited: watched (exit status 7; not expected)", T);
    assert!(output_text(&h.ctl(&["status", "watched"])).contains("EXITED"));
    assert!(h.try_status().is_none(), "{}", h.diagnostics());
    let st = h.stop(T);
    assert_eq!(code(&st), Some(0));
}

#[test]
fn with_numprocs_the_first_process_to_exit_ends_the_daemon() {
    let mut h = started(
        "failfast_numprocs",
        "[program:w]\n\
         process_name=%(program_name)s_%(process_num)d\n\
         numprocs=3\n\
         command=/bin/sh -c 'echo $$ > {dir}/w%(process_num)d.pid; while [ ! -e {dir}/go-%(process_num)d ]; do sleep 0.02; done; exit 6'\n\
         startsecs=0\nautorestart=false\nexit_supervisor_on=any\n\n",
    );
    let others = [h.wait_pid_file("w0.pid", T), h.wait_pid_file("w2.pid", T)];
    h.wait_pid_file("w1.pid", T);
    h.write_file("go-1", "");
    let st = h.wait_exit(T);
    assert_eq!(code(&st), Some(6), "{}", h.diagnostics());
    assert!(
        h.main_log()
            .contains("w:w_1 exit status 6 and has exit_supervisor_on=any")
    );
    for pid in others {
        assert!(!pid_alive(pid));
    }
}

#[test]
fn a_requested_shutdown_exits_0_whatever_exit_supervisor_on_says() {
    let mut h = started(
        "failfast_requested",
        &format!("{}{}", server("web"), server("main")).replace(
            "[program:main]\n",
            "[program:main]\nexit_supervisor_on=any\n",
        ),
    );
    h.wait_pid_file("main.pid", T);
    let st = h.stop(T);
    assert_eq!(code(&st), Some(0), "{}", h.diagnostics());
    assert!(st.signal().is_none());
}

/// Start with `exit_when_all_exited=true` and `sections`.
fn all_exited(name: &str, sections: &str) -> Harness {
    let mut h = Harness::new(name);
    let text = format!("{BASE_CONF}{sections}").replacen(
        "[supervisord]\n",
        "[supervisord]\nexit_when_all_exited=true\n",
        1,
    );
    h.write_conf(&h.subst(&text));
    h.start(&[]);
    h.wait_for_socket(T);
    h
}

#[test]
fn exit_when_all_exited_runs_one_shot_jobs_then_exits_0() {
    let mut h = all_exited(
        "failfast_all_ok",
        &format!(
            "{}{}{}",
            job("a", "exit 0", ""),
            job("b", "exit 0", ""),
            // Never started: it does not keep the daemon alive.
            "[program:manual]\ncommand=/bin/sleep 1000\nautostart=false\n\n"
        ),
    );
    h.write_file("go-a", "");
    h.wait_log("exited: a (exit status 0; expected)", T);
    assert!(h.try_status().is_none(), "`b` is still running");
    h.write_file("go-b", "");
    let st = h.wait_exit(T);
    assert_eq!(code(&st), Some(0), "{}", h.diagnostics());
    assert!(
        h.main_log()
            .contains("every program has exited (exit_when_all_exited)")
    );
}

#[test]
fn exit_when_all_exited_reports_the_first_unexpected_status() {
    let mut h = all_exited(
        "failfast_all_bad",
        &format!(
            "{}{}",
            job("first", "exit 9", ""),
            job("second", "exit 0", "")
        ),
    );
    h.write_file("go-first", "");
    h.wait_log("exited: first (exit status 9; not expected)", T);
    assert!(h.try_status().is_none(), "`second` is still running");
    h.write_file("go-second", "");
    let st = h.wait_exit(T);
    assert_eq!(code(&st), Some(9), "{}", h.diagnostics());
}

#[test]
fn without_exit_when_all_exited_the_daemon_outlives_its_programs() {
    let mut h = started("failfast_all_off", &job("only", "exit 0", ""));
    h.write_file("go-only", "");
    h.wait_log("exited: only (exit status 0; expected)", T);
    // Answering after the exit proves the loop went on past it.
    let out = h.ctl(&["status"]);
    assert!(
        output_text(&out).contains("EXITED"),
        "{}",
        output_text(&out)
    );
    assert!(h.try_status().is_none());
    assert_eq!(code(&h.stop(T)), Some(0));
}

#[test]
fn a_bad_exit_supervisor_on_value_is_a_config_error_with_its_place() {
    let h = Harness::new("failfast_bad_value");
    h.write_standard_conf("[program:x]\ncommand=/bin/true\nexit_supervisor_on=sometimes\n");
    let out = h.run(&["-c", h.conf_path().to_str().unwrap_or_default(), "--check"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("[program:x] exit_supervisor_on:"), "{text}");
    assert!(
        text.contains("'sometimes' is not one of none, fatal, unexpected, any"),
        "{text}"
    );
    assert!(text.contains("supervisord.conf:"), "{text}");
}
