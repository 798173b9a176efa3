//! `start_delay` and `fatal_restart_delay` on a fake clock: which starts
//! wait, what a stop does meanwhile, and the new budget of a retried FATAL
//! process.

use super::tests::{changes, secs};
use super::*;
use ProcessState::*;

fn policy(start_delay: u64, fatal_restart_delay: u64) -> Policy {
    Policy {
        start_delay,
        fatal_restart_delay,
        ..super::tests::policy()
    }
}

fn tick(m: &mut Machine, p: &Policy, at: Instant) -> Vec<Effect> {
    m.step(Input::Tick { may_start: true }, p, at)
}

fn logged(fx: &[Effect], text: &str) -> bool {
    fx.iter()
        .any(|e| matches!(e, Effect::Log(_, m) if m.contains(text)))
}

/// Run a spawned child that exits at once, until the machine leaves
/// STARTING/BACKOFF for good; returns the number of spawns and the time.
fn crash_until_fatal(m: &mut Machine, p: &Policy, mut now: Instant) -> (u32, Instant) {
    let mut spawns = 0;
    for _ in 0..100 {
        let fx = tick(m, p, now);
        if fx.contains(&Effect::Spawn) {
            spawns += 1;
            m.step(
                Input::Spawned {
                    pid: 100 + spawns as i32,
                },
                p,
                now,
            );
            m.step(Input::Exited(ExitInfo::exited(1)), p, now + secs(0.1));
        }
        if m.state() == Fatal {
            return (spawns, now);
        }
        now = m
            .next_deadline(p, true, now)
            .expect("a deadline while crashing");
    }
    panic!("never FATAL");
}

#[test]
fn autostart_waits_start_delay_in_starting_with_no_child() {
    let p = policy(5, 0);
    let t0 = Instant::now();
    let mut m = Machine::new();
    let fx = tick(&mut m, &p, t0);
    assert_eq!(changes(&fx), vec![(Stopped, Starting)]);
    assert!(!fx.contains(&Effect::Spawn), "no spawn before the delay");
    assert!(logged(
        &fx,
        "delaying: web will be spawned in 5 seconds (start_delay)"
    ));
    assert_eq!(m.pid, 0);
    assert_eq!(m.next_deadline(&p, true, t0), Some(t0 + secs(5.0)));
    // No wake-up while the daemon may not start programs.
    assert_eq!(m.next_deadline(&p, false, t0), None);
    assert!(tick(&mut m, &p, t0 + secs(4.999)).is_empty());
    let fx = tick(&mut m, &p, t0 + secs(5.0));
    assert!(fx.contains(&Effect::Spawn));
    assert!(changes(&fx).is_empty(), "already STARTING");
    assert_eq!(m.laststart, Some(t0 + secs(5.0)));
    m.step(Input::Spawned { pid: 100 }, &p, t0 + secs(5.0));
    // startsecs counts from the spawn, not from the start.
    assert!(changes(&tick(&mut m, &p, t0 + secs(5.9))).is_empty());
    assert_eq!(
        changes(&tick(&mut m, &p, t0 + secs(6.1))),
        vec![(Starting, Running)]
    );
}

#[test]
fn a_start_request_is_delayed_too_but_not_autorestart_nor_backoff_retries() {
    let p = policy(3, 0);
    let t0 = Instant::now();
    let mut m = Machine::new();
    m.phase = Phase::Exited;
    m.laststart = Some(t0 - secs(100.0));
    m.exitstatus = Some(0);
    let fx = m.step(Input::Start, &p, t0);
    assert_eq!(changes(&fx), vec![(Exited, Starting)]);
    assert!(!fx.contains(&Effect::Spawn));
    assert_eq!(m.next_deadline(&p, true, t0), Some(t0 + secs(3.0)));

    // An unexpected exit restarts at once (autorestart=unexpected).
    let mut m = Machine::new();
    m.phase = Phase::Running;
    m.pid = 100;
    m.laststart = Some(t0 - secs(100.0));
    m.step(Input::Exited(ExitInfo::exited(1)), &p, t0);
    assert_eq!(m.state(), Exited);
    assert!(tick(&mut m, &p, t0).contains(&Effect::Spawn));

    // A too-quick exit goes to BACKOFF, retried after 1 s, not 3.
    m.step(Input::Spawned { pid: 101 }, &p, t0);
    m.step(Input::Exited(ExitInfo::exited(1)), &p, t0 + secs(0.1));
    assert_eq!(m.state(), Backoff);
    let retry = m.next_deadline(&p, true, t0).expect("retry");
    assert!(retry < t0 + secs(1.2), "{:?}", retry - t0);
    assert!(tick(&mut m, &p, retry).contains(&Effect::Spawn));
}

#[test]
fn a_stop_during_start_delay_cancels_the_spawn_for_good() {
    let p = policy(5, 0);
    let t0 = Instant::now();
    let mut m = Machine::new();
    tick(&mut m, &p, t0);
    let fx = m.step(Input::Stop, &p, t0 + secs(1.0));
    assert_eq!(changes(&fx), vec![(Starting, Stopped)]);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Kill { .. })),
        "nothing to signal"
    );
    assert!(logged(&fx, "before its start_delay ended"));
    // Not autostarted again, and nothing is due.
    assert_eq!(m.next_deadline(&p, true, t0 + secs(10.0)), None);
    assert!(tick(&mut m, &p, t0 + secs(10.0)).is_empty());
    // A new start waits the delay again.
    let fx = m.step(Input::Start, &p, t0 + secs(20.0));
    assert_eq!(changes(&fx), vec![(Stopped, Starting)]);
    assert_eq!(m.next_deadline(&p, true, t0), Some(t0 + secs(25.0)));
}

#[test]
fn without_fatal_restart_delay_fatal_stays_fatal() {
    let p = policy(0, 0);
    let mut m = Machine::new();
    let (spawns, at) = crash_until_fatal(&mut m, &p, Instant::now());
    assert_eq!(spawns, 4, "startretries=3: 4 attempts");
    assert_eq!(m.phase, Phase::Fatal { retry_at: None });
    assert_eq!(m.next_deadline(&p, true, at), None);
}

#[test]
fn fatal_is_retried_after_the_delay_with_a_new_budget() {
    let p = policy(0, 30);
    let t0 = Instant::now();
    let mut m = Machine::new();
    let (spawns, fatal_at) = crash_until_fatal(&mut m, &p, t0);
    assert_eq!(spawns, 4);
    let due = fatal_at + secs(30.0);
    assert_eq!(
        m.phase,
        Phase::Fatal {
            retry_at: Some(due)
        }
    );
    assert_eq!(m.next_deadline(&p, true, fatal_at), Some(due));
    assert_eq!(
        m.next_deadline(&p, false, fatal_at),
        None,
        "not while stopping"
    );
    assert!(tick(&mut m, &p, due - secs(0.001)).is_empty());
    let fx = tick(&mut m, &p, due);
    assert_eq!(changes(&fx), vec![(Fatal, Starting)]);
    assert!(fx.contains(&Effect::Spawn));
    assert!(logged(
        &fx,
        "retrying: web was FATAL for 30 seconds (fatal_restart_delay), starting it again with 3 start retries"
    ));
    assert_eq!(m.backoff, 0);
    // The whole budget again: 4 attempts in all (this one included), then
    // FATAL with the next retry scheduled.
    m.step(Input::Spawned { pid: 500 }, &p, due);
    m.step(Input::Exited(ExitInfo::exited(1)), &p, due + secs(0.1));
    let next = m.next_deadline(&p, true, due).expect("backoff");
    let (more, again) = crash_until_fatal(&mut m, &p, next);
    assert_eq!(more + 1, 4);
    assert_eq!(
        m.phase,
        Phase::Fatal {
            retry_at: Some(again + secs(30.0))
        }
    );
}

#[test]
fn a_stop_cancels_the_retry_and_a_start_does_not_wait_for_it() {
    let p = policy(0, 30);
    let mut m = Machine::new();
    let (_, fatal_at) = crash_until_fatal(&mut m, &p, Instant::now());
    let fx = m.step(Input::Stop, &p, fatal_at);
    assert!(changes(&fx).is_empty(), "stays FATAL");
    assert!(logged(
        &fx,
        "stop request: web stays FATAL (fatal_restart_delay retry cancelled)"
    ));
    assert_eq!(m.next_deadline(&p, true, fatal_at), None);
    // A second stop has nothing to cancel.
    assert!(m.step(Input::Stop, &p, fatal_at).is_empty());

    let mut m = Machine::new();
    let (_, fatal_at) = crash_until_fatal(&mut m, &p, Instant::now());
    let fx = m.step(Input::Start, &p, fatal_at + secs(1.0));
    assert_eq!(changes(&fx), vec![(Fatal, Starting)]);
    assert!(fx.contains(&Effect::Spawn));
}

#[test]
fn a_group_stop_giving_up_a_backoff_schedules_no_retry() {
    let p = policy(0, 30);
    let t0 = Instant::now();
    let mut m = Machine::new();
    tick(&mut m, &p, t0);
    m.step(Input::Spawned { pid: 100 }, &p, t0);
    m.step(Input::Exited(ExitInfo::exited(1)), &p, t0 + secs(0.1));
    assert_eq!(m.state(), Backoff);
    let fx = m.step(Input::GiveUp, &p, t0 + secs(0.2));
    assert_eq!(changes(&fx), vec![(Backoff, Fatal)]);
    assert_eq!(m.phase, Phase::Fatal { retry_at: None });
}
