//! The XML-RPC methods, run on the loop thread against `Supervisor`.

use crate::daemon::calls::{arg_str, arg_wait, bad, incorrect, result_struct};
use crate::daemon::core::{Mood, Supervisor};
use crate::daemon::waiters::{self, Outcome, Pending};
use crate::events::Event;
use crate::process::Channel;
use crate::rpc::{Fault, Value, faults, methods};
use std::time::Instant;

mod config;
mod control;
mod info;
mod logs;
#[cfg(test)]
mod tests;

impl Supervisor {
    /// Run one call (top level or inside multicall).
    pub fn dispatch(&mut self, method: &str, params: &[Value], now: Instant) -> Outcome {
        let Some(info) = methods::lookup(method) else {
            return Outcome::Done(Err(Fault::new(faults::UNKNOWN_METHOD)));
        };
        if params.len() < info.min_args || params.len() > info.max_args {
            return Outcome::Done(Err(incorrect()));
        }
        if self.log.enabled(crate::config::LogLevel::Trace) {
            self.log.log(
                crate::config::LogLevel::Trace,
                &format!("XML-RPC method called: {method}()"),
            );
        }
        if method.starts_with("supervisor.")
            && method != "supervisor.sendRemoteCommEvent"
            && self.mood != Mood::Running
        {
            return Outcome::Done(Err(Fault::new(faults::SHUTDOWN_STATE)));
        }
        let p = params;
        match method {
            "system.listMethods" => {
                Ok(Value::array(methods::METHODS.iter().map(|m| m.name))).into()
            }
            "system.methodHelp" => arg_str(p, 0)
                .and_then(|n| {
                    methods::lookup(n)
                        .map(|m| Value::from(m.help))
                        .ok_or_else(|| Fault::new(faults::SIGNATURE_UNSUPPORTED))
                })
                .into(),
            "system.methodSignature" => arg_str(p, 0)
                .and_then(|n| {
                    methods::lookup(n)
                        .and_then(methods::signature)
                        .map(Value::array)
                        .ok_or_else(|| Fault::new(faults::SIGNATURE_UNSUPPORTED))
                })
                .into(),
            "system.multicall" => match p.first().and_then(Value::as_array) {
                Some(calls) => {
                    let mut pending = Pending::Multi {
                        remaining: calls.iter().cloned().collect(),
                        current: None,
                        results: Vec::new(),
                    };
                    match waiters::poll(self, &mut pending, now) {
                        Some(r) => Outcome::Done(r),
                        None => Outcome::Wait(pending),
                    }
                }
                None => Outcome::Done(Err(incorrect())),
            },
            "supervisor.getAPIVersion" | "supervisor.getVersion" => {
                Ok(Value::from(crate::API_VERSION)).into()
            }
            "supervisor.getSupervisorVersion" => Ok(Value::from(crate::SUPERVISOR_VERSION)).into(),
            "supervisor.getIdentification" => {
                Ok(Value::String(self.config.supervisord.identifier.clone())).into()
            }
            "supervisor.getState" => Ok(Value::Struct(vec![
                ("statecode".into(), Value::Int(self.mood.code())),
                ("statename".into(), Value::String(self.mood.name().into())),
            ]))
            .into(),
            "supervisor.getPID" => Ok(Value::Int(std::process::id() as i32)).into(),
            "supervisor.readLog" | "supervisor.readMainLog" => self.read_main_log(p).into(),
            "supervisor.clearLog" => self.clear_main_log().into(),
            "supervisor.shutdown" => {
                self.log.log(
                    crate::config::LogLevel::Info,
                    "shutdown requested over XML-RPC",
                );
                self.request_shutdown();
                Ok(Value::Bool(true)).into()
            }
            "supervisor.restart" => match self.request_reload() {
                Ok(()) => Ok(Value::Bool(true)).into(),
                Err(diags) => Err(bad(
                    faults::CANT_REREAD,
                    diags.first().map(|d| d.to_string()).unwrap_or_default(),
                ))
                .into(),
            },
            "supervisor.reloadConfig" => self.reload_config().into(),
            "supervisor.addProcessGroup" => arg_str(p, 0)
                .map(str::to_string)
                .and_then(|n| self.add_process_group(&n))
                .into(),
            "supervisor.removeProcessGroup" => arg_str(p, 0)
                .map(str::to_string)
                .and_then(|n| self.remove_process_group(&n))
                .into(),
            "supervisor.startProcess" => match arg_str(p, 0) {
                Ok(n) => {
                    let n = n.to_string();
                    self.start_process(&n, arg_wait(p, 1), now)
                }
                Err(f) => Outcome::Done(Err(f)),
            },
            "supervisor.startProcessGroup" => match arg_str(p, 0) {
                Ok(n) => {
                    let n = n.to_string();
                    self.start_group(&n, arg_wait(p, 1), now)
                }
                Err(f) => Outcome::Done(Err(f)),
            },
            "supervisor.startAllProcesses" => {
                let all = self.all_processes(false);
                self.start_many(all, arg_wait(p, 0), now)
            }
            "supervisor.stopProcess" => match arg_str(p, 0) {
                Ok(n) => {
                    let n = n.to_string();
                    self.stop_process(&n, arg_wait(p, 1), now)
                }
                Err(f) => Outcome::Done(Err(f)),
            },
            "supervisor.stopProcessGroup" => match arg_str(p, 0) {
                Ok(n) => {
                    let n = n.to_string();
                    self.stop_group_rpc(&n, arg_wait(p, 1), now)
                }
                Err(f) => Outcome::Done(Err(f)),
            },
            "supervisor.stopAllProcesses" => {
                let all = self.all_processes(false);
                self.stop_many(all, arg_wait(p, 0), now)
            }
            "supervisor.signalProcess" => self.signal_process_rpc(p).into(),
            "supervisor.signalProcessGroup" => match (arg_str(p, 0), p.get(1)) {
                (Ok(n), Some(sig)) => {
                    let n = n.to_string();
                    let sig = sig.clone();
                    self.signal_group_rpc(&n, &sig).into()
                }
                _ => Outcome::Done(Err(incorrect())),
            },
            "supervisor.signalAllProcesses" => match p.first() {
                Some(sig) => {
                    let sig = sig.clone();
                    let all = self.all_processes(false);
                    Ok(self.signal_many(&all, &sig)).into()
                }
                None => Outcome::Done(Err(incorrect())),
            },
            "supervisor.getAllConfigInfo" => Ok(self.all_config_info()).into(),
            "supervisor.getProcessInfo" => arg_str(p, 0)
                .and_then(|n| match self.resolve(n)? {
                    (gi, Some(pi)) => Ok(self.process_info(gi, pi)),
                    _ => Err(bad(faults::BAD_NAME, n)),
                })
                .into(),
            "supervisor.getAllProcessInfo" => {
                let all = self.all_processes(true);
                Ok(Value::Array(
                    all.into_iter()
                        .map(|(gi, pi)| self.process_info(gi, pi))
                        .collect(),
                ))
                .into()
            }
            "supervisor.readProcessStdoutLog" | "supervisor.readProcessLog" => {
                self.read_process_log(p, Channel::Stdout).into()
            }
            "supervisor.readProcessStderrLog" => self.read_process_log(p, Channel::Stderr).into(),
            "supervisor.tailProcessStdoutLog" | "supervisor.tailProcessLog" => {
                self.tail_process_log(p, Channel::Stdout).into()
            }
            "supervisor.tailProcessStderrLog" => self.tail_process_log(p, Channel::Stderr).into(),
            "supervisor.clearProcessLogs" | "supervisor.clearProcessLog" => arg_str(p, 0)
                .and_then(|n| match self.resolve(n)? {
                    (gi, Some(pi)) => self.clear_process_logs(gi, pi).map(|()| Value::Bool(true)),
                    _ => Err(bad(faults::BAD_NAME, n)),
                })
                .into(),
            "supervisor.clearAllProcessLogs" => {
                let mut results = Vec::new();
                for (gi, pi) in self.all_processes(false) {
                    let (name, group) = (
                        self.groups[gi].processes[pi].config.name.clone(),
                        self.groups[gi].config.name.clone(),
                    );
                    let r = self.clear_process_logs(gi, pi);
                    results.push(match r {
                        Ok(()) => result_struct(&name, &group, faults::SUCCESS, "OK"),
                        Err(f) => result_struct(&name, &group, f.code, &f.string),
                    });
                }
                Ok(Value::Array(results)).into()
            }
            "supervisor.sendProcessStdin" => self.send_stdin(p).into(),
            "supervisor.sendRemoteCommEvent" => match (
                p.first().and_then(Value::as_str),
                p.get(1).and_then(Value::as_str),
            ) {
                (Some(t), Some(d)) => {
                    self.bus.publish(Event::remote_communication(t, d));
                    Ok(Value::Bool(true)).into()
                }
                _ => Outcome::Done(Err(incorrect())),
            },
            _ => Outcome::Done(Err(Fault::new(faults::UNKNOWN_METHOD))),
        }
    }
}

impl waiters::Daemon for Supervisor {
    fn process(&self, group: &str, name: &str) -> Option<waiters::ProcessView<'_>> {
        let (gi, pi) = self.find_process(group, name)?;
        let p = &self.groups[gi].processes[pi];
        Some(waiters::ProcessView {
            state: p.machine.state(),
            spawn_failed: p.machine.spawnerr.is_some(),
            trail: &p.trail,
        })
    }

    fn call(&mut self, method: &str, params: &[Value], now: Instant) -> Outcome {
        self.dispatch(method, params, now)
    }
}
