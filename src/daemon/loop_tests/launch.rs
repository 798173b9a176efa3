//! `start_delay`, `fatal_restart_delay` and `forward_signals` through the
//! loop, on the fake clock: the loop sleeps until their deadlines (no
//! polling) and RPCs see the documented states.

use super::*;
use crate::daemon::os::fake::Call;

fn sleep_deadline(h: &mut Harness) -> Option<Instant> {
    let now = h.now();
    match h.sup.decide(now) {
        Next::Sleep(d) => d,
        _ => panic!("the loop should sleep"),
    }
}

#[test]
fn start_delay_sleeps_until_the_spawn_and_the_start_rpc_waits_through_it() {
    let mut h = harness(&program("web", "start_delay=2"));
    h.world.die_on.borrow_mut().push(("web".into(), TERM));
    let t0 = h.now();
    // The loop's next wake-up is the end of the delay, nothing earlier.
    assert_eq!(sleep_deadline(&mut h), Some(t0 + Duration::from_secs(2)));
    assert_eq!(h.state("web"), Some(ProcessState::Starting));
    h.run_for(Duration::from_millis(1900));
    assert_eq!(h.spawns(), 0, "spawned before start_delay");
    assert_eq!(h.state("web"), Some(ProcessState::Starting));
    h.run_for(Duration::from_millis(200));
    assert_eq!(h.spawns(), 1);
    assert_eq!(h.state("web"), Some(ProcessState::Running));
    assert!(
        h.main_log()
            .contains("delaying: web will be spawned in 2 seconds")
    );

    // stop, then start with wait=true: answered only once it runs, after
    // the delay again.
    h.call("supervisor.stopProcess", &[Value::String("web".into())]);
    h.run_for(Duration::from_millis(100));
    assert_eq!(h.state("web"), Some(ProcessState::Stopped));
    let answer = h.waiting_call("supervisor.startProcess", "web");
    h.run_for(Duration::from_millis(1800));
    assert!(answer.try_recv().is_err(), "answered during start_delay");
    assert_eq!(h.spawns(), 1);
    h.run_for(Duration::from_millis(400));
    assert_eq!(h.spawns(), 2);
    assert!(matches!(
        answer.try_recv(),
        Ok(crate::daemon::bridge::Answer::Result(Ok(Value::Bool(true))))
    ));
}

#[test]
fn a_stop_during_start_delay_cancels_the_spawn() {
    let mut h = harness(&program("web", "start_delay=2"));
    h.run_for(Duration::from_millis(500));
    let stopped = h.call(
        "supervisor.stopProcess",
        &[Value::String("web".into()), Value::Bool(true)],
    );
    assert!(matches!(
        stopped,
        super::super::waiters::Outcome::Done(Ok(Value::Bool(true)))
    ));
    assert_eq!(h.state("web"), Some(ProcessState::Stopped));
    assert_eq!(sleep_deadline(&mut h), None, "nothing left to wake up for");
    h.run_for(Duration::from_secs(5));
    assert_eq!(h.spawns(), 0);
    assert!(
        h.main_log()
            .contains("stopped: web (before its start_delay ended")
    );
}

#[test]
fn a_shutdown_during_start_delay_spawns_nothing() {
    let mut h = harness(&program("web", "start_delay=2"));
    h.run_for(Duration::from_millis(500));
    h.sup.begin_stop(Mood::Shutdown);
    assert!(h.run_for(Duration::from_secs(5)), "the daemon ends");
    assert_eq!(h.spawns(), 0);
}

const BAD: &str = "[program:bad]\ncommand=/bin/sleep 1000\nstartretries=1\nstdout_logfile=NONE\nstderr_logfile=NONE\n";

#[test]
fn fatal_restart_delay_tries_again_with_a_new_budget_until_stopped() {
    let mut h = harness(&format!("{BAD}fatal_restart_delay=5\n"));
    h.world.unspawnable.borrow_mut().push("bad".into());
    // Two attempts (startretries=1), the second after 1 s: FATAL.
    h.run_for(Duration::from_millis(1500));
    assert_eq!(h.state("bad"), Some(ProcessState::Fatal));
    let log = h.main_log();
    assert_eq!(
        log.matches("spawnerr: fake: cannot spawn bad").count(),
        2,
        "{log}"
    );
    assert!(log.contains("bad will be started again in 5 seconds (fatal_restart_delay)"));
    // The loop sleeps until the retry.
    let d = sleep_deadline(&mut h).expect("a deadline for the retry");
    assert!(d > h.now() + Duration::from_secs(4), "woke up early");
    h.run_for(Duration::from_millis(6500));
    let log = h.main_log();
    assert!(
        log.contains("retrying: bad was FATAL for 5 seconds (fatal_restart_delay), starting it again with 1 start retries"),
        "{log}"
    );
    assert_eq!(
        log.matches("spawnerr: fake: cannot spawn bad").count(),
        4,
        "{log}"
    );
    assert_eq!(h.state("bad"), Some(ProcessState::Fatal));

    // stop on FATAL: NOT_RUNNING as in Supervisor, but the retry is off.
    let r = h.call("supervisor.stopProcess", &[Value::String("bad".into())]);
    assert!(matches!(
        r,
        super::super::waiters::Outcome::Done(Err(ref f)) if f.code == faults::NOT_RUNNING
    ));
    assert!(h.main_log().contains("stop request: bad stays FATAL"));
    assert_eq!(sleep_deadline(&mut h), None);
    h.run_for(Duration::from_secs(20));
    assert_eq!(
        h.main_log()
            .matches("spawnerr: fake: cannot spawn bad")
            .count(),
        4
    );
}

#[test]
fn exit_supervisor_on_fatal_ends_the_daemon_before_any_retry() {
    let mut h = harness(&format!(
        "{BAD}fatal_restart_delay=1\nexit_supervisor_on=fatal\n"
    ));
    h.world.unspawnable.borrow_mut().push("bad".into());
    assert!(h.run_for(Duration::from_secs(10)), "the daemon ends");
    assert_eq!(h.sup.exit_code, 1);
    assert!(!h.main_log().contains("retrying: bad"));
}

#[test]
fn forwarded_signals_go_to_each_running_process_group_or_pid() {
    let mut h = harness(&format!(
        "[supervisord]\nforward_signals=USR1\n\n{}{}{}",
        program("grouped", "stopasgroup=true"),
        program("plain", ""),
        program("later", "start_delay=100"),
    ));
    // The test config's own [supervisord] section comes first; this one
    // is merged into it (last value wins), as Supervisor merges duplicates.
    assert_eq!(h.sup.config.supervisord.forward_signals, [libc::SIGUSR1]);
    h.run_for(Duration::from_millis(200));
    let pid_of = |h: &Harness, name: &str| {
        h.world
            .calls
            .borrow()
            .iter()
            .find_map(|c| match c {
                Call::Spawn { name: n, pid } if n == name => Some(*pid),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name} never spawned"))
    };
    let grouped = pid_of(&h, "grouped");
    let plain = pid_of(&h, "plain");
    assert!(h.sup.forwards(libc::SIGUSR1));
    assert!(!h.sup.forwards(libc::SIGUSR2));
    h.sup.forward_signal(libc::SIGUSR1);
    let mut sent: Vec<(i32, i32)> = h
        .world
        .calls
        .borrow()
        .iter()
        .filter_map(|c| match c {
            Call::Kill { pid, sig, .. } => Some((*pid, *sig)),
            _ => None,
        })
        .collect();
    sent.sort();
    let mut want = vec![(-grouped, libc::SIGUSR1), (plain, libc::SIGUSR1)];
    want.sort();
    // `later` waits for its start_delay: no child, nothing sent.
    assert_eq!(sent, want);
    assert!(
        h.main_log()
            .contains("received SIGUSR1: forwarded to 2 running process(es) (forward_signals)")
    );
}
