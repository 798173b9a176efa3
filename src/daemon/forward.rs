//! `forward_signals` (SPEC Part B): signals the daemon receives that are
//! passed on to every running process, as tini and dumb-init do for their
//! one child.

use crate::config::LogLevel;
use crate::daemon::core::Supervisor;
use crate::process::state::signal_name;

impl Supervisor {
    /// Catch the configured `forward_signals` (at start and after a
    /// reload).  A signal dropped from the list by a reload stays caught
    /// and is then only logged: signal-hook cannot give a signal back its
    /// default action.
    pub(in crate::daemon) fn listen_for_forwarded(&mut self) {
        let wanted = self.config.supervisord.forward_signals.clone();
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        if let Err(e) = signals.ensure(&wanted) {
            self.log.log(
                LogLevel::Error,
                &format!("could not catch the signals of forward_signals: {e}"),
            );
        }
    }

    /// Whether `sig` is one to pass on.
    pub(in crate::daemon) fn forwards(&self, sig: i32) -> bool {
        self.config.supervisord.forward_signals.contains(&sig)
    }

    /// Send `sig` to every process that has a child running: to its
    /// process group with `stopasgroup`, else to its pid only.
    pub(in crate::daemon) fn forward_signal(&mut self, sig: i32) {
        let name = signal_name(sig);
        let targets: Vec<(String, i32)> = self
            .groups
            .processes()
            .filter(|(_, p)| p.machine.pid > 0)
            .map(|(id, p)| {
                let pid = p.machine.pid;
                (
                    self.namespec(id),
                    if p.config.stopasgroup { -pid } else { pid },
                )
            })
            .collect();
        let mut sent = 0;
        for (spec, target) in &targets {
            match self.os.kill(*target, sig) {
                Ok(()) => sent += 1,
                // Exited meanwhile: it is reaped on this turn.
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => self.log.log(
                    LogLevel::Warn,
                    &format!("could not forward {name} to {spec} ({target}): {e}"),
                ),
            }
        }
        self.log.log(
            LogLevel::Info,
            &format!("received {name}: forwarded to {sent} running process(es) (forward_signals)"),
        );
    }
}
