//! Deferred answers (`wait=true`, multicall): pending calls re-checked after
//! every loop turn.
//!
//! The waiters see the daemon only through [`Daemon`]: the state of a
//! process by name, and a way to run the next call of a multicall.  So
//! they are tested here against a fake whose processes move on between
//! polls, as they do when other clients act on them.

use crate::daemon::bridge::{Answer, RpcResult};
use crate::daemon::calls::{bad, fault_struct, incorrect, result_struct};
use crate::process::StateTrail;
use crate::process::state::ProcessState;
use crate::rpc::{Fault, Value, faults};
use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::time::Instant;

/// A deferred answer (Supervisor's `onwait` / `allfunc` / `multi` callbacks).
#[derive(Debug)]
pub enum Pending {
    /// startProcess(wait=true): until RUNNING, or a fault.  `since` marks
    /// the process's state trail when the call was made.
    Start {
        group: String,
        name: String,
        namespec: String,
        since: u64,
    },
    /// stopProcess(wait=true): until a stopped state.
    Stop {
        group: String,
        name: String,
        since: u64,
    },
    /// start/stop of several processes: results in completion order.
    All {
        waiting: Vec<(String, String, Pending)>,
        results: Vec<Value>,
    },
    /// system.multicall: sequential, one deferred call at a time.
    Multi {
        remaining: VecDeque<Value>,
        current: Option<Box<Pending>>,
        results: Vec<Value>,
    },
}

/// What a method returns.
pub enum Outcome {
    Done(RpcResult),
    Wait(Pending),
}

impl From<RpcResult> for Outcome {
    fn from(r: RpcResult) -> Outcome {
        Outcome::Done(r)
    }
}

impl Outcome {
    pub(in crate::daemon) fn from_start(r: Result<Option<Pending>, Fault>) -> Outcome {
        match r {
            Ok(None) => Outcome::Done(Ok(Value::Bool(true))),
            Ok(Some(p)) => Outcome::Wait(p),
            Err(f) => Outcome::Done(Err(f)),
        }
    }
}

/// What the waiters need from the daemon.
pub trait Daemon {
    /// The process `group:name` as a waiter sees it; None once it is gone.
    fn process(&self, group: &str, name: &str) -> Option<ProcessView<'_>>;
    /// Run one call of a multicall.
    fn call(&mut self, method: &str, params: &[Value], now: Instant) -> Outcome;
}

/// A process as a waiter sees it.
pub struct ProcessView<'a> {
    pub state: ProcessState,
    /// The last spawn failed (Supervisor's `spawnerr` is set).
    pub spawn_failed: bool,
    pub trail: &'a StateTrail,
}

/// Calls waiting for their answer, with where the answer goes.
pub type Waiting = Vec<(Pending, Sender<Answer>)>;

/// Re-check every waiting call; answer and drop those that are done.
pub fn poll_all(waiting: &mut Waiting, d: &mut dyn Daemon, now: Instant) {
    waiting.retain_mut(|(p, reply)| match poll(d, p, now) {
        Some(r) => {
            let _ = reply.send(Answer::Result(r));
            false
        }
        None => true,
    });
}

/// Re-check a deferred call; Some(answer) once it is done.
pub fn poll(d: &mut dyn Daemon, p: &mut Pending, now: Instant) -> Option<RpcResult> {
    match p {
        Pending::Start {
            group,
            name,
            namespec,
            since,
        } => {
            let Some(p) = d.process(group, name) else {
                return Some(Err(bad(faults::BAD_NAME, namespec.as_str())));
            };
            let abnormal = || Some(Err(bad(faults::ABNORMAL_TERMINATION, namespec.as_str())));
            // Supervisor looks at spawnerr first ("Exited too quickly"
            // sets it): SPAWN_ERROR.
            if p.spawn_failed {
                return Some(Err(bad(faults::SPAWN_ERROR, namespec.as_str())));
            }
            // Then the first state after STARTING decides, even if the
            // process has moved on since (stopped, restarted...).
            let (mut entered, complete) = p.trail.since(*since);
            if complete {
                match entered.find(|&s| s != ProcessState::Starting) {
                    Some(ProcessState::Running) => return Some(Ok(Value::Bool(true))),
                    Some(_) => return abnormal(),
                    None => {}
                }
            }
            match p.state {
                ProcessState::Running => Some(Ok(Value::Bool(true))),
                ProcessState::Starting => None,
                _ => abnormal(),
            }
        }
        Pending::Stop { group, name, since } => match d.process(group, name) {
            Some(p) => {
                let (mut entered, complete) = p.trail.since(*since);
                // Done once it has been in a stopped state since the
                // call, even if another client started it again.
                if !complete || entered.any(ProcessState::is_stopped) || p.state.is_stopped() {
                    Some(Ok(Value::Bool(true)))
                } else {
                    None
                }
            }
            None => Some(Ok(Value::Bool(true))),
        },
        Pending::All { waiting, results } => {
            waiting.retain_mut(|(g, n, p)| match poll(d, p, now) {
                None => true,
                Some(r) => {
                    results.push(match r {
                        Ok(_) => result_struct(n, g, faults::SUCCESS, "OK"),
                        Err(f) => result_struct(n, g, f.code, &f.string),
                    });
                    false
                }
            });
            if waiting.is_empty() {
                Some(Ok(Value::Array(std::mem::take(results))))
            } else {
                None
            }
        }
        Pending::Multi {
            remaining,
            current,
            results,
        } => {
            if let Some(cur) = current.as_mut() {
                match poll(d, cur, now) {
                    None => return None,
                    Some(r) => {
                        results.push(r.unwrap_or_else(|f| fault_struct(&f)));
                        *current = None;
                    }
                }
            }
            while let Some(call) = remaining.pop_front() {
                let name = call
                    .get("methodName")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let params: Vec<Value> = match call.get("params") {
                    None => Vec::new(),
                    Some(v) => match v.as_array() {
                        Some(a) => a.to_vec(),
                        None => {
                            results.push(fault_struct(&incorrect()));
                            continue;
                        }
                    },
                };
                let outcome = match name.as_deref() {
                    None => Outcome::Done(Err(bad(faults::INCORRECT_PARAMETERS, "No methodName"))),
                    Some("system.multicall") => Outcome::Done(Err(bad(
                        faults::INCORRECT_PARAMETERS,
                        "Recursive system.multicall forbidden",
                    ))),
                    Some(m) => d.call(m, &params, now),
                };
                match outcome {
                    Outcome::Done(r) => results.push(r.unwrap_or_else(|f| fault_struct(&f))),
                    Outcome::Wait(p) => {
                        *current = Some(Box::new(p));
                        return None;
                    }
                }
            }
            Some(Ok(Value::Array(std::mem::take(results))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Processes by (group, name) that tests move between polls, as other
    /// clients and the loop would; `calls` runs multicall steps.
    #[derive(Default)]
    struct Fake {
        procs: HashMap<(String, String), (ProcessState, bool, StateTrail)>,
        /// The calls a multicall ran, in order; a method "wait:<g>:<n>"
        /// defers until that process stops.
        called: Vec<String>,
    }

    impl Fake {
        fn add(&mut self, g: &str, n: &str, state: ProcessState) -> u64 {
            let mut trail = StateTrail::default();
            trail.push(state);
            let mark = trail.mark();
            self.procs
                .insert((g.into(), n.into()), (state, false, trail));
            mark
        }
        fn enter(&mut self, g: &str, n: &str, state: ProcessState) {
            let p = self
                .procs
                .get_mut(&(g.to_string(), n.to_string()))
                .expect("known process");
            p.0 = state;
            p.2.push(state);
        }
        fn mark(&self, g: &str, n: &str) -> u64 {
            self.procs[&(g.to_string(), n.to_string())].2.mark()
        }
    }

    impl Daemon for Fake {
        fn process(&self, group: &str, name: &str) -> Option<ProcessView<'_>> {
            self.procs
                .get(&(group.to_string(), name.to_string()))
                .map(|(state, failed, trail)| ProcessView {
                    state: *state,
                    spawn_failed: *failed,
                    trail,
                })
        }
        fn call(&mut self, method: &str, _params: &[Value], _now: Instant) -> Outcome {
            self.called.push(method.to_string());
            match method.strip_prefix("wait:") {
                Some(spec) => {
                    let (g, n) = spec.split_once(':').expect("g:n");
                    Outcome::Wait(Pending::Stop {
                        group: g.into(),
                        name: n.into(),
                        since: self.mark(g, n),
                    })
                }
                None => Outcome::Done(Ok(Value::String(method.into()))),
            }
        }
    }

    fn start(g: &str, n: &str, since: u64) -> Pending {
        Pending::Start {
            group: g.into(),
            name: n.into(),
            namespec: format!("{g}:{n}"),
            since,
        }
    }

    fn fault_code(r: Option<RpcResult>) -> i32 {
        match r {
            Some(Err(f)) => f.code,
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    use ProcessState::*;

    #[test]
    fn start_waits_for_running_even_if_another_client_stops_it_first() {
        let now = Instant::now();
        let mut d = Fake::default();
        let since = d.add("g", "a", Starting);
        let mut p = start("g", "a", since);
        assert!(
            poll(&mut d, &mut p, now).is_none(),
            "STARTING: still waiting"
        );
        // Between two polls it became RUNNING and another client stopped it.
        d.enter("g", "a", Running);
        d.enter("g", "a", Stopping);
        d.enter("g", "a", Stopped);
        assert_eq!(poll(&mut d, &mut p, now), Some(Ok(Value::Bool(true))));
    }

    #[test]
    fn start_fails_as_supervisor_does() {
        let now = Instant::now();
        let mut d = Fake::default();
        let since = d.add("g", "a", Starting);
        d.enter("g", "a", Backoff);
        d.enter("g", "a", Starting);
        let mut p = start("g", "a", since);
        assert_eq!(
            fault_code(poll(&mut d, &mut p, now)),
            faults::ABNORMAL_TERMINATION,
            "the first state after STARTING decides, though it is STARTING again"
        );
        let mut p = start("g", "a", d.mark("g", "a"));
        d.procs.get_mut(&("g".into(), "a".into())).expect("a").1 = true;
        assert_eq!(fault_code(poll(&mut d, &mut p, now)), faults::SPAWN_ERROR);
        let mut gone = start("g", "missing", 0);
        assert_eq!(fault_code(poll(&mut d, &mut gone, now)), faults::BAD_NAME);
    }

    #[test]
    fn start_falls_back_to_the_state_when_the_trail_was_cut() {
        let now = Instant::now();
        let mut d = Fake::default();
        let since = d.add("g", "a", Starting);
        // More transitions than the trail keeps, the first being BACKOFF.
        d.enter("g", "a", Backoff);
        for _ in 0..20 {
            d.enter("g", "a", Starting);
            d.enter("g", "a", Running);
        }
        let mut p = start("g", "a", since);
        assert_eq!(poll(&mut d, &mut p, now), Some(Ok(Value::Bool(true))));
    }

    #[test]
    fn stop_is_done_once_stopped_even_if_restarted_by_another_client() {
        let now = Instant::now();
        let mut d = Fake::default();
        d.add("g", "a", Stopping);
        let mut p = Pending::Stop {
            group: "g".into(),
            name: "a".into(),
            since: d.mark("g", "a"),
        };
        assert!(poll(&mut d, &mut p, now).is_none());
        d.enter("g", "a", Stopped);
        d.enter("g", "a", Starting);
        assert_eq!(poll(&mut d, &mut p, now), Some(Ok(Value::Bool(true))));
        // Its group removed meanwhile: stopped too.
        let mut gone = Pending::Stop {
            group: "g".into(),
            name: "x".into(),
            since: 0,
        };
        assert_eq!(poll(&mut d, &mut gone, now), Some(Ok(Value::Bool(true))));
    }

    #[test]
    fn many_answer_in_completion_order() {
        let now = Instant::now();
        let mut d = Fake::default();
        let sa = d.add("g", "a", Starting);
        let sb = d.add("g", "b", Starting);
        let mut p = Pending::All {
            waiting: vec![
                ("g".into(), "a".into(), start("g", "a", sa)),
                ("g".into(), "b".into(), start("g", "b", sb)),
            ],
            results: Vec::new(),
        };
        assert!(poll(&mut d, &mut p, now).is_none());
        d.enter("g", "b", Running);
        assert!(poll(&mut d, &mut p, now).is_none(), "a still starting");
        d.enter("g", "a", Fatal);
        let Some(Ok(Value::Array(results))) = poll(&mut d, &mut p, now) else {
            panic!("all done")
        };
        let names: Vec<_> = results
            .iter()
            .map(|r| {
                let n = r.get("name").and_then(Value::as_str).unwrap_or("");
                let s = r.get("status");
                (n.to_string(), s.cloned())
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("b".to_string(), Some(Value::Int(faults::SUCCESS))),
                (
                    "a".to_string(),
                    Some(Value::Int(faults::ABNORMAL_TERMINATION))
                ),
            ]
        );
    }

    #[test]
    fn multicall_runs_one_deferred_call_at_a_time() {
        let now = Instant::now();
        let mut d = Fake::default();
        d.add("g", "a", Stopping);
        let call = |m: &str| {
            Value::Struct(vec![
                ("methodName".into(), Value::String(m.into())),
                ("params".into(), Value::Array(vec![])),
            ])
        };
        let mut p = Pending::Multi {
            remaining: VecDeque::from(vec![
                call("first"),
                call("wait:g:a"),
                call("third"),
                call("system.multicall"),
                Value::Struct(vec![]),
            ]),
            current: None,
            results: Vec::new(),
        };
        assert!(poll(&mut d, &mut p, now).is_none());
        assert_eq!(
            d.called,
            ["first", "wait:g:a"],
            "third waits for the second"
        );
        assert!(poll(&mut d, &mut p, now).is_none());
        d.enter("g", "a", Stopped);
        let Some(Ok(Value::Array(r))) = poll(&mut d, &mut p, now) else {
            panic!("done")
        };
        assert_eq!(d.called, ["first", "wait:g:a", "third"]);
        assert_eq!(r.len(), 5);
        assert_eq!(r[0], Value::String("first".into()));
        assert_eq!(r[1], Value::Bool(true));
        assert_eq!(r[2], Value::String("third".into()));
        for (i, why) in [(3, "Recursive"), (4, "No methodName")] {
            let s = r[i]
                .get("faultString")
                .and_then(Value::as_str)
                .unwrap_or("");
            assert!(s.contains(why), "{i}: {s}");
        }
    }

    #[test]
    fn poll_all_answers_the_done_and_keeps_the_rest() {
        let now = Instant::now();
        let mut d = Fake::default();
        let sa = d.add("g", "a", Starting);
        let sb = d.add("g", "b", Starting);
        let (ta, ra) = std::sync::mpsc::channel();
        let (tb, rb) = std::sync::mpsc::channel();
        let mut waiting: Waiting = vec![(start("g", "a", sa), ta), (start("g", "b", sb), tb)];
        d.enter("g", "a", Running);
        poll_all(&mut waiting, &mut d, now);
        assert_eq!(waiting.len(), 1);
        assert!(matches!(
            ra.try_recv(),
            Ok(Answer::Result(Ok(Value::Bool(true))))
        ));
        assert!(rb.try_recv().is_err());
    }
}
