//! Deferred answers (`wait=true`, multicall): pending calls re-checked after
//! every loop turn.

use crate::daemon::bridge::{Answer, RpcResult};
use crate::daemon::calls::{bad, fault_struct, incorrect, result_struct};
use crate::daemon::core::Supervisor;
use crate::process::state::ProcessState;
use crate::rpc::{Fault, Value, faults};
use std::collections::VecDeque;
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

impl Supervisor {
    /// Re-check a deferred call; Some(answer) once it is done.
    pub fn poll_pending(&mut self, p: &mut Pending, now: Instant) -> Option<RpcResult> {
        match p {
            Pending::Start {
                group,
                name,
                namespec,
                since,
            } => {
                let Some((gi, pi)) = self.find_process(group, name) else {
                    return Some(Err(bad(faults::BAD_NAME, namespec.as_str())));
                };
                let p = &self.groups[gi].processes[pi];
                let abnormal = || Some(Err(bad(faults::ABNORMAL_TERMINATION, namespec.as_str())));
                // Supervisor looks at spawnerr first ("Exited too quickly"
                // sets it): SPAWN_ERROR.
                if p.machine.spawnerr.is_some() {
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
                match p.machine.state() {
                    ProcessState::Running => Some(Ok(Value::Bool(true))),
                    ProcessState::Starting => None,
                    _ => abnormal(),
                }
            }
            Pending::Stop { group, name, since } => match self.find_process(group, name) {
                Some((gi, pi)) => {
                    let p = &self.groups[gi].processes[pi];
                    let (mut entered, complete) = p.trail.since(*since);
                    // Done once it has been in a stopped state since the
                    // call, even if another client started it again.
                    if !complete
                        || entered.any(ProcessState::is_stopped)
                        || p.machine.state().is_stopped()
                    {
                        Some(Ok(Value::Bool(true)))
                    } else {
                        None
                    }
                }
                None => Some(Ok(Value::Bool(true))),
            },
            Pending::All { waiting, results } => {
                let mut i = 0;
                while i < waiting.len() {
                    let r = self.poll_pending(&mut waiting[i].2, now);
                    match r {
                        None => i += 1,
                        Some(r) => {
                            let (g, n, _) = waiting.remove(i);
                            results.push(match r {
                                Ok(_) => result_struct(&n, &g, faults::SUCCESS, "OK"),
                                Err(f) => result_struct(&n, &g, f.code, &f.string),
                            });
                        }
                    }
                }
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
                    match self.poll_pending(cur, now) {
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
                        None => {
                            Outcome::Done(Err(bad(faults::INCORRECT_PARAMETERS, "No methodName")))
                        }
                        Some("system.multicall") => Outcome::Done(Err(bad(
                            faults::INCORRECT_PARAMETERS,
                            "Recursive system.multicall forbidden",
                        ))),
                        Some(m) => self.dispatch(m, &params, now),
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

    /// Re-check every deferred call; answer those that are done.
    pub fn poll_waiters(&mut self, now: Instant) {
        if self.waiters.is_empty() {
            return;
        }
        let mut waiters = std::mem::take(&mut self.waiters);
        waiters.retain_mut(|(p, reply)| match self.poll_pending(p, now) {
            Some(r) => {
                let _ = reply.send(Answer::Result(r));
                false
            }
            None => true,
        });
        waiters.append(&mut self.waiters);
        self.waiters = waiters;
    }
}
