//! `depends_on` (SPEC Part B) in the loop: automatic starts wait until
//! every dependency is up, shutdown stops dependents before what they
//! depend on, and a dependency gone FATAL is reported for each program it
//! holds back.
//!
//! A dependency is up when every process of that program is RUNNING (and
//! ready, if it has a readiness check), or has EXITED with one of its
//! `exitcodes` (a one-shot job that did its work, as `/readyz` counts it).
//! Only automatic starts wait (autostart, autorestart, BACKOFF retries); a
//! start asked by an operator goes ahead, with a warning.

use std::collections::{HashMap, HashSet};

use crate::config::{LogLevel, ProcessConfig};
use crate::daemon::core::Supervisor;
use crate::daemon::groups::ProcId;
use crate::process::Process;
use crate::process::state::ProcessState;

/// Which programs are up, computed once per turn when any process has
/// `depends_on`.
pub(in crate::daemon) struct DepGate<'s> {
    up: HashMap<&'s str, bool>,
}

impl DepGate<'_> {
    /// Whether every dependency of `c` is up (a name no longer configured
    /// holds nothing back).
    pub(in crate::daemon) fn allows(&self, c: &ProcessConfig) -> bool {
        c.depends_on
            .iter()
            .all(|d| self.up.get(d.as_str()).copied().unwrap_or(true))
    }
}

/// Whether this process counts as up for its dependents.
fn up(p: &Process) -> bool {
    match p.machine.state() {
        ProcessState::Running => p.ready() != Some(false),
        ProcessState::Exited => p
            .machine
            .exitstatus
            .is_some_and(|s| p.config.exitcodes.contains(&s)),
        _ => false,
    }
}

impl Supervisor {
    /// The gate for this turn, or `None` when no process has
    /// `depends_on` (then every start is allowed).
    pub(in crate::daemon) fn dep_gate(&self) -> Option<DepGate<'_>> {
        if !self
            .groups
            .processes()
            .any(|(_, p)| !p.config.depends_on.is_empty())
        {
            return None;
        }
        let mut gate = DepGate { up: HashMap::new() };
        for (_, p) in self.groups.processes() {
            let ok = up(p);
            gate.up
                .entry(p.config.program_name.as_str())
                .and_modify(|v| *v &= ok)
                .or_insert(ok);
        }
        Some(gate)
    }

    /// The dependencies of `c` that are not up, by name.
    pub(in crate::daemon) fn deps_down(&self, c: &ProcessConfig) -> Vec<String> {
        match self.dep_gate() {
            Some(gate) => c
                .depends_on
                .iter()
                .filter(|d| !gate.up.get(d.as_str()).copied().unwrap_or(true))
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    }

    /// At shutdown: the processes not stopped yet that another process not
    /// stopped yet depends on.  They wait for their dependents.
    pub(in crate::daemon) fn held_by_dependents(&self) -> HashSet<ProcId> {
        let live = |p: &Process| !p.machine.state().is_stopped();
        let needed: HashSet<&str> = self
            .groups
            .processes()
            .filter(|(_, p)| live(p))
            .flat_map(|(_, p)| p.config.depends_on.iter().map(String::as_str))
            .collect();
        if needed.is_empty() {
            return HashSet::new();
        }
        self.groups
            .processes()
            .filter(|(_, p)| live(p) && needed.contains(p.config.program_name.as_str()))
            .map(|(id, _)| id)
            .collect()
    }

    /// A process of program `id` went FATAL: say so for every program that
    /// depends on it and is still waiting for its first or next start.
    pub(in crate::daemon) fn report_held_dependents(&mut self, id: ProcId) {
        let Some(dep) = self.groups.proc(id).map(|p| p.config.program_name.clone()) else {
            return;
        };
        let waiting: Vec<String> = self
            .groups
            .processes()
            .filter(|(_, p)| p.config.depends_on.contains(&dep))
            .filter(|(_, p)| match p.machine.state() {
                ProcessState::Stopped => p.machine.laststart.is_none() && p.policy.autostart,
                ProcessState::Exited | ProcessState::Backoff => true,
                _ => false,
            })
            .map(|(_, p)| p.config.name.clone())
            .collect();
        for name in waiting {
            self.log.log(
                LogLevel::Warn,
                &format!("not starting {name}: its dependency {dep} is FATAL (depends_on)"),
            );
        }
    }
}
