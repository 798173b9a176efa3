//! The loop's decisions against a fake operating system: no process is
//! started, time moves only when a test says so, and every spawn and
//! signal the loop decides on is recorded with the fake time.

use super::core::{Mood, Supervisor};
use super::event_loop::Next;
use super::os::fake::{FakeOs, World};
use crate::cli::DaemonArgs;
use crate::config::{LoadOptions, LogLevel};
use crate::logs::MainLog;
use crate::process::state::ProcessState;
use crate::rpc::{Value, faults};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_millis(50);

struct Harness {
    sup: Supervisor,
    world: Rc<World>,
    dir: tempfile::TempDir,
}

/// `[supervisord]` with everything in a temp dir, then `programs`.
fn conf(dir: &std::path::Path, programs: &str) -> String {
    format!(
        "[supervisord]\nlogfile={d}/main.log\npidfile={d}/pid\nchildlogdir={d}\nloglevel=debug\n\n{programs}",
        d = dir.display()
    )
}

fn harness(programs: &str) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("supervisord.conf");
    std::fs::write(&path, conf(dir.path(), programs)).expect("write config");
    let loaded = crate::config::load(&path, &LoadOptions::from_process(Default::default(), true))
        .unwrap_or_else(|d| panic!("config: {d:?}"));
    let (os, world) = FakeOs::new();
    let mut log = MainLog::early();
    let sd = &loaded.config.supervisord;
    log.open(&sd.logfile, 0, 0, LogLevel::Debug, false)
        .expect("main log");
    let mut sup = Supervisor::new(
        path,
        DaemonArgs::default(),
        loaded.config,
        log,
        None,
        Box::new(os),
        1024,
    );
    sup.add_configured_groups();
    Harness { sup, world, dir }
}

impl Harness {
    fn now(&self) -> Instant {
        self.sup.os.now()
    }

    /// Run decided turns (reaping what the fake says exited) for `d` of
    /// fake time, or until shutdown completes; true if it completed.
    fn run_for(&mut self, d: Duration) -> bool {
        let end = self.world.elapsed.get() + d;
        while self.world.elapsed.get() < end {
            let now = self.now();
            match self.sup.decide(now) {
                Next::Exit => return true,
                Next::Again => continue,
                Next::Sleep(_) => {}
            }
            self.sup.reap(self.now());
            self.world.advance(STEP);
        }
        false
    }

    fn state(&self, spec: &str) -> Option<ProcessState> {
        let (_, id) = self.sup.resolve(spec).ok()?;
        self.sup.state_of(id?)
    }

    fn call(&mut self, method: &str, params: &[Value]) -> super::waiters::Outcome {
        let now = self.now();
        self.sup.dispatch(method, params, now)
    }

    /// `method(name, wait=true)`, which must defer: where its answer comes.
    fn waiting_call(
        &mut self,
        method: &str,
        name: &str,
    ) -> std::sync::mpsc::Receiver<super::bridge::Answer> {
        let super::waiters::Outcome::Wait(pending) =
            self.call(method, &[Value::String(name.into()), Value::Bool(true)])
        else {
            panic!("{method}({name}, wait=true) answered at once")
        };
        let (tx, rx) = std::sync::mpsc::channel();
        self.sup.waiters.push((pending, tx));
        rx
    }

    /// How many spawns the loop asked for.
    fn spawns(&self) -> usize {
        self.world
            .calls
            .borrow()
            .iter()
            .filter(|c| matches!(c, super::os::fake::Call::Spawn { .. }))
            .count()
    }

    fn main_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("main.log")).unwrap_or_default()
    }

    fn rewrite_config(&self, programs: &str) {
        let path: PathBuf = self.dir.path().join("supervisord.conf");
        std::fs::write(path, conf(self.dir.path(), programs)).expect("rewrite config");
    }
}

/// Shut down (within 10 s of fake time) and list the signals sent, by
/// program name, with their time since the shutdown began.
fn shutdown_kills(h: &mut Harness) -> Vec<(String, i32, Duration)> {
    let t0 = h.world.elapsed.get();
    h.sup.begin_stop(Mood::Shutdown);
    assert!(h.run_for(Duration::from_secs(10)), "shutdown completes");
    h.world
        .kills()
        .into_iter()
        .map(|(n, s, at)| (n, s, at - t0))
        .collect()
}

/// The signals sent so far, by program name, in order.
fn kill_signals(h: &Harness) -> Vec<(String, i32)> {
    h.world
        .kills()
        .into_iter()
        .map(|(n, s, _)| (n, s))
        .collect()
}

fn program(name: &str, extra: &str) -> String {
    format!(
        "[program:{name}]\ncommand=/bin/sleep 1000\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n{extra}\n\n"
    )
}

const TERM: i32 = libc::SIGTERM;
const KILL: i32 = libc::SIGKILL;

#[test]
fn shutdown_goes_by_priority_and_kills_each_level_after_its_own_stopwaitsecs() {
    let mut h = harness(&format!(
        "{}{}{}{}",
        program("late", "priority=20\nstopwaitsecs=1"),
        program("slow", "priority=10\nstopwaitsecs=2"),
        program("quick", "priority=10\nstopwaitsecs=5"),
        program("first", "priority=5\nstopwaitsecs=1"),
    ));
    // `late` and `slow` ignore SIGTERM; the others die of it.
    h.world
        .die_on
        .borrow_mut()
        .extend([("quick".to_string(), TERM), ("first".to_string(), TERM)]);
    h.run_for(Duration::from_millis(200));
    for p in ["late", "slow", "quick", "first"] {
        assert_eq!(h.state(p), Some(ProcessState::Running), "{p}");
    }
    let kills = shutdown_kills(&mut h);
    let order: Vec<(&str, i32)> = kills.iter().map(|(n, s, _)| (n.as_str(), *s)).collect();
    assert_eq!(order.len(), 6, "{kills:?}");
    assert_eq!(&order[..2], [("late", TERM), ("late", KILL)], "{kills:?}");
    // The level below starts only when `late` is gone: both its groups
    // at once (SPEC Part C), in either order.
    let mut level: Vec<(&str, i32)> = order[2..4].to_vec();
    level.sort();
    assert_eq!(level, [("quick", TERM), ("slow", TERM)], "{kills:?}");
    assert_eq!(kills[2].2, kills[3].2, "one level is stopped at once");
    assert_eq!(&order[4..], [("slow", KILL), ("first", TERM)], "{kills:?}");
    let at = |i: usize| kills[i].2;
    // `late` is killed after its 1 s; the level below starts only then.
    assert!(at(1) >= Duration::from_secs(1) && at(1) < Duration::from_millis(1200));
    assert!(at(2) >= at(1));
    // `slow` gets its own 2 s, not `quick`'s 5 s.
    let slow = at(4) - at(2);
    assert!(
        slow >= Duration::from_secs(2) && slow < Duration::from_millis(2200),
        "{slow:?}"
    );
    assert!(h.world.live.borrow().is_empty());
}

#[test]
fn an_exit_signal_stops_programs_at_once_and_logs_in_order() {
    let mut h = harness(&format!(
        "{}{}",
        program("first", "priority=5"),
        program("last", "priority=10")
    ));
    h.run_for(Duration::from_millis(200));
    assert_eq!(h.state("first"), Some(ProcessState::Running));
    let now = h.now();
    // No turn of the loop in between: the highest priority gets its
    // SIGTERM while the signal is handled.
    h.sup.exit_requested("SIGTERM", now);
    let kills = kill_signals(&h);
    assert_eq!(kills, [("last".to_string(), TERM)]);
    assert_eq!(h.sup.mood, Mood::Shutdown);
    let log = h.main_log();
    let at = |s: &str| log.find(s).unwrap_or_else(|| panic!("{s:?} in {log}"));
    let received = at("received SIGTERM indicating exit request");
    assert!(received < at("killing last (pid"));
    assert!(received < at("waiting for first, last to die"));
    // The log is not left holding lines.
    h.sup.log.log(LogLevel::Info, "a later line");
    assert!(h.main_log().contains("a later line"));
}

#[test]
fn spawns_yield_to_a_waiting_request_after_a_slice_and_the_rest_go_first_next() {
    let programs: String = (0..20)
        .map(|i| program(&format!("p{i:02}"), "autostart=true"))
        .collect();
    let mut h = harness(&programs);
    h.world.spawn_cost.set(Duration::from_millis(1));
    let bridge = super::bridge::Bridge::new().expect("bridge");
    let (tx, rx) = std::sync::mpsc::channel();
    bridge.handle.send(super::bridge::LoopMsg::LogPath {
        what: super::bridge::LogWhat::Main,
        reply: tx,
    });
    h.sup.bridge = Some(bridge);
    let now = h.now();
    h.sup.tick_due(now);
    // 1 ms per spawn: the slice is used up after five; a request waits.
    let first = spawn_order(&h);
    assert_eq!(first.len(), 5, "{first:?}");
    assert_eq!(h.sup.tick_resume, Some(5), "p05 goes first next turn");
    // Serve it; meanwhile a program started before exits and wants a
    // restart: the ones left go first.
    h.sup.handle_rpc(h.now());
    assert!(rx.try_recv().is_ok(), "the request was answered");
    h.world.exit("p00", 1);
    h.sup.reap(h.now());
    let now = h.now();
    h.sup.tick_due(now);
    let all = spawn_order(&h);
    let mut expected: Vec<String> = (0..20).map(|i| format!("p{i:02}")).collect();
    expected.push("p00".into());
    assert_eq!(all, expected, "the ones left, then the restart");
    assert_eq!(h.sup.tick_resume, None);
}

#[test]
fn spawns_do_not_yield_when_nothing_waits() {
    let programs: String = (0..20)
        .map(|i| program(&format!("p{i:02}"), "autostart=true"))
        .collect();
    let mut h = harness(&programs);
    h.world.spawn_cost.set(Duration::from_millis(1));
    h.sup.bridge = Some(super::bridge::Bridge::new().expect("bridge"));
    let now = h.now();
    h.sup.tick_due(now);
    assert_eq!(spawn_order(&h).len(), 20);
    assert_eq!(h.sup.tick_resume, None);
}

#[test]
fn reload_removes_adds_and_changes_groups_and_old_ids_find_nothing() {
    let mut h = harness(&format!("{}{}", program("keep", ""), program("gone", "")));
    h.run_for(Duration::from_millis(200));
    let (_, gone_id) = h.sup.resolve("gone").expect("gone");
    let gone_id = gone_id.expect("a process");
    h.world
        .die_on
        .borrow_mut()
        .extend([("keep".to_string(), TERM), ("gone".to_string(), TERM)]);
    h.rewrite_config(&format!(
        "{}{}",
        program("keep", "environment=CHANGED=1"),
        program("new", "")
    ));
    // What `update` would say.
    let super::waiters::Outcome::Done(Ok(v)) = h.call("supervisor.reloadConfig", &[]) else {
        panic!("reloadConfig answers at once")
    };
    assert_eq!(
        v,
        Value::Array(vec![Value::Array(vec![
            Value::Array(vec![Value::String("new".into())]),
            Value::Array(vec![Value::String("keep".into())]),
            Value::Array(vec![Value::String("gone".into())]),
        ])])
    );
    // A full restart (SIGHUP) swaps the config once everything is down.
    h.sup.request_reload().expect("the new config loads");
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.sup.mood, Mood::Running);
    assert_eq!(h.state("keep"), Some(ProcessState::Running));
    assert_eq!(h.state("new"), Some(ProcessState::Running));
    assert!(h.sup.resolve("gone").is_err());
    assert!(
        h.sup.groups.proc(gone_id).is_none(),
        "a stale id finds nothing"
    );
    let keep = h.sup.resolve("keep").expect("keep").1.expect("a process");
    let env = &h.sup.groups.proc(keep).expect("keep").config.environment;
    assert!(env.iter().any(|(k, v)| k == "CHANGED" && v == "1"));
    let spawns = h.spawns();
    assert_eq!(spawns, 4, "keep and gone, then keep and new");
}

#[test]
fn removing_a_group_while_others_run_leaves_their_ids_valid() {
    let mut h = harness(&format!(
        "{}{}{}",
        program("a", "autostart=false"),
        program("b", ""),
        program("c", "")
    ));
    h.run_for(Duration::from_millis(200));
    let c = h.sup.resolve("c").expect("c").1.expect("c");
    let super::waiters::Outcome::Done(r) = h.call(
        "supervisor.removeProcessGroup",
        &[Value::String("a".into())],
    ) else {
        panic!("answers at once")
    };
    assert_eq!(r, Ok(Value::Bool(true)));
    assert_eq!(h.sup.state_of(c), Some(ProcessState::Running));
    h.world.exit("c", 3);
    h.run_for(Duration::from_millis(100));
    // The exit was matched to `c` through its id, as before the removal.
    assert_ne!(h.state("c"), Some(ProcessState::Running));
    assert!(
        h.main_log().contains("exited: c (exit status 3"),
        "{}",
        h.main_log()
    );
}

#[test]
fn a_waiting_start_stopped_by_another_client_gets_abnormal_termination() {
    let mut h = harness(&program("web", "autostart=false\nstartsecs=5"));
    let rx = h.waiting_call("supervisor.startProcess", "web");
    h.run_for(Duration::from_secs(1));
    assert!(rx.try_recv().is_err(), "still STARTING");
    // Another client stops it before startsecs.
    h.world.die_on.borrow_mut().push(("web".into(), TERM));
    let super::waiters::Outcome::Done(r) =
        h.call("supervisor.stopProcess", &[Value::String("web".into())])
    else {
        panic!("stop answers")
    };
    assert_eq!(r, Ok(Value::Bool(true)));
    h.run_for(Duration::from_millis(200));
    match rx.try_recv() {
        Ok(super::bridge::Answer::Result(Err(f))) => {
            assert_eq!(f.code, faults::ABNORMAL_TERMINATION)
        }
        other => panic!("expected ABNORMAL_TERMINATION, got {:?}", other.is_ok()),
    }
}

#[test]
fn a_waiting_stop_is_answered_though_another_client_restarts_the_program() {
    let mut h = harness(&program("web", "stopwaitsecs=3"));
    h.run_for(Duration::from_millis(200));
    // `web` ignores TERM: the stop waits.
    let rx = h.waiting_call("supervisor.stopProcess", "web");
    h.run_for(Duration::from_millis(500));
    assert!(rx.try_recv().is_err());
    // It dies; before the next turn another client starts it again.
    h.world.exit("web", 0);
    let now = h.now();
    h.sup.reap(now);
    let _ = h.call(
        "supervisor.startProcess",
        &[Value::String("web".into()), Value::Bool(false)],
    );
    // RUNNING once more than startsecs=0 has passed (Supervisor's `>`).
    h.run_for(STEP * 3);
    assert_eq!(h.state("web"), Some(ProcessState::Running));
    assert!(matches!(
        rx.try_recv(),
        Ok(super::bridge::Answer::Result(Ok(Value::Bool(true))))
    ));
}

#[test]
fn a_full_listener_buffer_drops_the_oldest_events_and_says_so() {
    let mut h = harness(
        "[eventlistener:pool]\ncommand=/bin/sleep 1000\nevents=REMOTE_COMMUNICATION\nbuffer_size=2\nstdout_logfile=NONE\nstderr_logfile=NONE\n\n",
    );
    h.run_for(Duration::from_millis(200));
    // The fake listener has no stdin, so it never becomes READY.
    for i in 0..5 {
        let d = Value::String(format!("body {i}"));
        let _ = h.call(
            "supervisor.sendRemoteCommEvent",
            &[Value::String("t".into()), d],
        );
    }
    h.run_for(STEP);
    let gid = h.sup.groups.find("pool").expect("pool");
    let pool = h
        .sup
        .groups
        .get(gid)
        .and_then(|g| g.pool.as_ref())
        .expect("buffer");
    assert_eq!(pool.queue.len(), 2, "capacity");
    let bodies: Vec<String> = pool.queue.iter().map(|q| q.event.payload.clone()).collect();
    assert!(
        bodies[0].ends_with("body 3") && bodies[1].ends_with("body 4"),
        "{bodies:?}"
    );
    let overflowed = h
        .main_log()
        .matches("pool pool event buffer overflowed, discarding event")
        .count();
    assert_eq!(overflowed, 3, "{}", h.main_log());
}

#[test]
fn exit_supervisor_on_any_stops_the_others_and_keeps_the_programs_status() {
    let mut h = harness(&format!(
        "{}{}",
        program("web", "priority=1"),
        program("main", "exit_supervisor_on=any\nautorestart=true")
    ));
    h.world.die_on.borrow_mut().push(("web".into(), TERM));
    h.run_for(Duration::from_millis(200));
    h.world.exit("main", 3);
    assert!(h.run_for(Duration::from_secs(2)), "the daemon ends");
    assert_eq!(h.sup.exit_code, 3);
    assert_eq!(h.sup.mood, Mood::Shutdown);
    // `main` was not restarted, though autorestart=true, and `web` got
    // its stop signal.
    let spawns = h.spawns();
    assert_eq!(spawns, 2);
    let kills = kill_signals(&h);
    assert_eq!(kills, [("web".to_string(), TERM)]);
}

#[test]
fn a_requested_shutdown_keeps_status_0_though_programs_then_exit() {
    let mut h = harness(&program("main", "exit_supervisor_on=any"));
    h.world.die_on.borrow_mut().push(("main".into(), TERM));
    h.run_for(Duration::from_millis(200));
    h.sup.begin_stop(Mood::Shutdown);
    assert!(h.run_for(Duration::from_secs(2)));
    assert_eq!(h.sup.exit_code, 0);
}

/// Spawned program names, in order.
fn spawn_order(h: &Harness) -> Vec<String> {
    h.world
        .calls
        .borrow()
        .iter()
        .filter_map(|c| match c {
            super::os::fake::Call::Spawn { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn depends_on_starts_after_the_dependency_runs_whatever_the_priorities() {
    let mut h = harness(&format!(
        "{}{}",
        program("web", "priority=1\ndepends_on=db"),
        program("db", "priority=999\nstartsecs=1"),
    ));
    h.run_for(Duration::from_millis(500));
    assert_eq!(h.state("db"), Some(ProcessState::Starting));
    assert_eq!(h.state("web"), Some(ProcessState::Stopped), "waits for db");
    h.run_for(Duration::from_millis(700));
    assert_eq!(h.state("db"), Some(ProcessState::Running));
    assert_eq!(h.state("web"), Some(ProcessState::Running));
    assert_eq!(spawn_order(&h), ["db", "web"]);
}

#[test]
fn depends_on_a_one_shot_job_that_exited_as_expected_counts_as_up() {
    let mut h = harness(&format!(
        "{}{}",
        program("app", "depends_on=migrate"),
        program("migrate", "autorestart=false\nstartsecs=0\nexitcodes=0,3"),
    ));
    h.run_for(Duration::from_millis(100));
    h.world.exit("migrate", 3);
    h.run_for(Duration::from_millis(200));
    assert_eq!(h.state("migrate"), Some(ProcessState::Exited));
    assert_eq!(h.state("app"), Some(ProcessState::Running));
}

#[test]
fn shutdown_stops_dependents_first_whatever_the_priorities() {
    let mut h = harness(&format!(
        "{}{}{}",
        // By priority alone db (999) would stop first.
        program("db", "priority=999\nstopwaitsecs=2"),
        program("web", "priority=1\ndepends_on=db\nstopwaitsecs=1"),
        program("other", "priority=500"),
    ));
    h.world
        .die_on
        .borrow_mut()
        .extend([("db".to_string(), TERM), ("other".to_string(), TERM)]);
    h.run_for(Duration::from_millis(300));
    assert_eq!(h.state("web"), Some(ProcessState::Running));
    let kills = shutdown_kills(&mut h);
    let order: Vec<(&str, i32)> = kills.iter().map(|(n, s, _)| (n.as_str(), *s)).collect();
    // `other` (500) goes with the first level; web ignores TERM and is
    // killed after its 1 s; only then db.
    assert_eq!(
        order,
        [("other", TERM), ("web", TERM), ("web", KILL), ("db", TERM)],
        "{kills:?}"
    );
    assert!(kills[3].2 >= Duration::from_secs(1), "{kills:?}");
}

#[test]
fn a_fatal_dependency_keeps_its_dependents_unstarted_and_says_why() {
    let mut h = harness(&format!(
        "{}{}{}",
        program("db", "startretries=1\nautorestart=false"),
        program("web", "depends_on=db"),
        program("worker", "depends_on=web"),
    ));
    h.world.unspawnable.borrow_mut().push("db".into());
    h.run_for(Duration::from_secs(5));
    assert_eq!(h.state("db"), Some(ProcessState::Fatal));
    assert_eq!(h.state("web"), Some(ProcessState::Stopped));
    assert_eq!(h.state("worker"), Some(ProcessState::Stopped));
    assert!(spawn_order(&h).iter().all(|n| n == "db"));
    let log = h.main_log();
    assert!(
        log.contains("not starting web: its dependency db is FATAL (depends_on)"),
        "{log}"
    );
    // An operator may still start it, and is told.
    let _ = h.call(
        "supervisor.startProcess",
        &[Value::String("web".into()), Value::Bool(false)],
    );
    h.run_for(Duration::from_millis(200));
    assert_eq!(h.state("web"), Some(ProcessState::Running));
    assert!(
        h.main_log().contains(
            "starting web on request although its dependencies are not up: db (depends_on)"
        ),
        "{}",
        h.main_log()
    );
    // Its own dependent follows automatically.
    assert_eq!(h.state("worker"), Some(ProcessState::Running));
}

#[test]
fn exit_when_all_exited_is_not_held_up_by_a_program_waiting_on_a_fatal_dependency() {
    let dir_conf = format!(
        "{}{}",
        program("db", "startretries=0\nautorestart=false"),
        program("web", "depends_on=db"),
    );
    let mut h = harness(&dir_conf);
    h.sup.config.supervisord.exit_when_all_exited = true;
    h.world.unspawnable.borrow_mut().push("db".into());
    assert!(h.run_for(Duration::from_secs(5)), "the daemon ends");
    assert_eq!(h.state("web"), Some(ProcessState::Stopped));
}

/// A port nothing listens on: bound, its number kept, then closed.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn liveness_failures_stop_the_program_with_its_stopsignal_then_start_it_again() {
    let port = closed_port();
    let mut h = harness(&program(
        "web",
        &format!(
            "stopsignal=INT\nliveness_check=tcp://127.0.0.1:{port}\nliveness_interval=0.2\nliveness_timeout=0.1\nliveness_failures=3"
        ),
    ));
    h.world
        .die_on
        .borrow_mut()
        .push(("web".to_string(), libc::SIGINT));
    h.run_for(Duration::from_millis(100));
    assert_eq!(h.state("web"), Some(ProcessState::Running));
    assert_eq!(h.spawns(), 1);
    // Two failures are not enough.
    h.run_for(Duration::from_millis(450));
    assert_eq!(h.spawns(), 1, "{}", h.main_log());
    assert!(h.world.kills().is_empty());
    h.run_for(Duration::from_secs(1));
    assert!(
        h.main_log()
            .contains("liveness check of web failed 3 times ("),
        "{}",
        h.main_log()
    );
    assert!(h.main_log().contains("): restarting"), "{}", h.main_log());
    let first_kill = h.world.kills().into_iter().next();
    assert_eq!(
        first_kill.map(|(name, sig, _)| (name, sig)),
        Some(("web".to_string(), libc::SIGINT))
    );
    assert!(h.spawns() >= 2, "started again: {}", h.main_log());
    assert_eq!(h.state("web"), Some(ProcessState::Running));
}

#[test]
fn checks_add_no_deadline_unless_their_program_runs() {
    let mut h = harness(&format!(
        "{}{}",
        program("plain", ""),
        program(
            "idle",
            "autostart=false\nreadiness_check=tcp://127.0.0.1:1\nliveness_check=exec:/bin/true"
        )
    ));
    h.run_for(Duration::from_millis(200));
    assert_eq!(h.state("plain"), Some(ProcessState::Running));
    assert_eq!(h.state("idle"), Some(ProcessState::Stopped));
    assert_eq!(h.sup.next_deadline(h.now()), None);
    // Running, its readiness check keeps a deadline.
    let (_, id) = h.sup.resolve("idle").expect("idle");
    h.sup.drive(
        id.expect("a process"),
        crate::process::state::Input::Start,
        h.now(),
    );
    h.run_for(Duration::from_millis(200));
    assert_eq!(h.state("idle"), Some(ProcessState::Running));
    assert!(h.sup.next_deadline(h.now()).is_some());
}

#[test]
fn a_timed_out_attempt_waits_its_interval_before_the_next() {
    // Accepts (in the kernel) and never answers: every http attempt times out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let mut h = harness(&program(
        "web",
        &format!(
            "liveness_check=http://127.0.0.1:{port}/\nliveness_interval=1\nliveness_timeout=0.1\nliveness_failures=3"
        ),
    ));
    h.world.die_on.borrow_mut().push(("web".to_string(), TERM));
    // Attempts start 1 s apart (at about 1, 2 and 3 s): no restart by
    // 2.5 s, one soon after 3 s.
    h.run_for(Duration::from_millis(2500));
    let log = h.main_log();
    assert!(
        log.contains("liveness check of web failed (timed out after 0.1 s), 2 of 3"),
        "{log}"
    );
    assert!(h.world.kills().is_empty(), "{log}");
    h.run_for(Duration::from_secs(1));
    assert!(
        h.main_log()
            .contains("liveness check of web failed 3 times (timed out after 0.1 s): restarting"),
        "{}",
        h.main_log()
    );
    drop(silent);
}

mod launch;
