//! When the daemon ends on its own (SPEC Part B): a program's
//! `exit_supervisor_on`, or `exit_when_all_exited` once every program is
//! down for good; and the status it then exits with.

use crate::config::{ExitOn, LogLevel};
use crate::daemon::core::{Mood, Supervisor};
use crate::daemon::groups::ProcId;
use crate::process::Process;
use crate::process::state::ProcessState;
use std::time::Instant;

/// A program's status as the daemon reports it: its exit code, 128+signal
/// if a signal killed it, 1 if it never ran.
fn status_of(p: &Process) -> i32 {
    match &p.last_exit {
        Some(info) => info.signal.map_or(info.code, |sig| 128 + sig),
        None => 1,
    }
}

impl Supervisor {
    /// A process entered `to`: remember the first unexpected end, and end
    /// the daemon if the program's `exit_supervisor_on` says so.  Only
    /// while running: during a requested shutdown or a reload, programs
    /// stop because we stop them.
    pub(in crate::daemon) fn exit_on(&mut self, id: ProcId, to: ProcessState, expected: bool) {
        if self.mood != Mood::Running {
            return;
        }
        let Some(p) = self.groups.proc(id) else {
            return;
        };
        let unexpected = match to {
            ProcessState::Fatal => true,
            ProcessState::Exited => !expected,
            _ => return,
        };
        let status = status_of(p);
        if unexpected && self.first_unexpected.is_none() {
            self.first_unexpected = Some(status);
        }
        let (on, word) = match p.config.exit_supervisor_on {
            ExitOn::None => return,
            ExitOn::Fatal => (to == ProcessState::Fatal, "fatal"),
            ExitOn::Unexpected => (unexpected, "unexpected"),
            ExitOn::Any => (true, "any"),
        };
        if !on {
            return;
        }
        let what = if to == ProcessState::Fatal {
            "entered FATAL"
        } else if let Some(info) = &p.last_exit {
            &info.msg
        } else {
            "exited"
        };
        let msg = format!(
            "{} {what} and has exit_supervisor_on={word}: stopping every program, then exiting with status {status}",
            self.namespec(id)
        );
        self.log.log(LogLevel::Critical, &msg);
        self.exit_code = status;
        self.begin_stop(Mood::Shutdown);
    }

    /// `exit_when_all_exited`: once no program is running, starting or
    /// due to be started or restarted (eventlisteners aside), stop and
    /// exit: 0 if every exit was expected, else the first unexpected
    /// status.
    pub(in crate::daemon) fn exit_when_all_exited(&mut self, now: Instant) {
        if !self.config.supervisord.exit_when_all_exited || self.mood != Mood::Running {
            return;
        }
        let gate = self.dep_gate();
        // A program held back by its dependencies is down once they are.
        let down = self
            .groups
            .iter()
            .filter(|(_, g)| g.pool.is_none())
            .flat_map(|(_, g)| g.processes.iter())
            .all(|p| {
                matches!(
                    p.machine.state(),
                    ProcessState::Stopped | ProcessState::Exited | ProcessState::Fatal
                ) && p
                    .machine
                    .next_deadline(
                        &p.policy,
                        gate.as_ref().is_none_or(|g| g.allows(&p.config)),
                        now,
                    )
                    .is_none()
            });
        drop(gate);
        if !down {
            return;
        }
        let status = self.first_unexpected.unwrap_or(0);
        self.log.log(
            LogLevel::Info,
            &format!(
                "every program has exited (exit_when_all_exited): exiting with status {status}"
            ),
        );
        self.exit_code = status;
        self.begin_stop(Mood::Shutdown);
    }
}
