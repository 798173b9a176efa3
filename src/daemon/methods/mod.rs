//! The XML-RPC methods, run on the loop thread against `Supervisor`: the
//! table (`table`), what a handler is given (`call`), and the handlers by
//! topic.

use crate::config::LogLevel;
use crate::daemon::bridge::Answer;
use crate::daemon::calls::incorrect;
use crate::daemon::core::{Mood, Supervisor};
use crate::daemon::waiters::{self, Outcome, Pending};
use crate::rpc::{Fault, Value, faults};
use call::{Call, Method, When};
use std::time::Instant;

mod call;
mod config;
mod control;
mod info;
mod logs;
mod system;
mod table;
#[cfg(test)]
mod tests;

/// A top-level call's fate: answered now, or deferred.
pub enum Reply {
    Now(Answer),
    Later(Pending),
}

impl Supervisor {
    /// Whether `m` may run now with these arguments.
    fn admit(&self, m: &Method, params: &[Value]) -> Result<(), Fault> {
        if params.len() < m.min_args || params.len() > m.max_args {
            return Err(incorrect());
        }
        if m.when == When::Running && self.mood != Mood::Running {
            return Err(Fault::new(faults::SHUTDOWN_STATE));
        }
        Ok(())
    }

    /// Run one call (top level or inside multicall).
    pub fn dispatch(&mut self, method: &str, params: &[Value], now: Instant) -> Outcome {
        match table::lookup(method) {
            Some(m) => self.run_method(m, params, now),
            None => Outcome::Done(Err(Fault::new(faults::UNKNOWN_METHOD))),
        }
    }

    /// Check and run one method of the table.
    fn run_method(&mut self, m: &Method, params: &[Value], now: Instant) -> Outcome {
        let method = m.name;
        if self.log.enabled(LogLevel::Trace) {
            self.log.log(
                LogLevel::Trace,
                &format!("XML-RPC method called: {method}()"),
            );
        }
        if let Err(f) = self.admit(m, params) {
            return Outcome::Done(Err(f));
        }
        let call = Call {
            params,
            now,
            table: table::METHODS,
        };
        (m.run)(self, &call)
    }

    /// Run a call that came over HTTP: a method with an encoder answers
    /// with a body written straight from the state.
    pub fn call_from_client(
        &mut self,
        method: &str,
        params: &[Value],
        encoded: bool,
        now: Instant,
    ) -> Reply {
        let Some(m) = table::lookup(method) else {
            return Reply::Now(Answer::Result(Err(Fault::new(faults::UNKNOWN_METHOD))));
        };
        if let Some(encode) = m.encoded.filter(|_| encoded)
            && self.admit(m, params).is_ok()
        {
            return Reply::Now(Answer::Body(encode(self)));
        }
        match self.run_method(m, params, now) {
            Outcome::Done(r) => Reply::Now(Answer::Result(r)),
            Outcome::Wait(p) => Reply::Later(p),
        }
    }
}

impl waiters::Daemon for Supervisor {
    fn process(&self, group: &str, name: &str) -> Option<waiters::ProcessView<'_>> {
        let p = self.groups.proc(self.find_process(group, name)?)?;
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
