//! Shutdown and reload: priority-ordered stop phases, listener draining, the
//! config swap, the exit.

use crate::config::{Loaded, LogLevel};
use crate::daemon::core::{Mood, Supervisor};
use crate::daemon::env::{base_env, server_url};
use crate::daemon::groups::{GroupId, ProcId};
use crate::daemon::pid1;
use crate::daemon::sockets::PidFile;
use crate::daemon::startup::warn_if_main_log_unrotatable;
use crate::events::Event;
use crate::process::state::ProcessState;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often the shutdown reports `waiting for x to die`.
pub(in crate::daemon) const WAIT_REPORT: Duration = Duration::from_secs(3);
/// At shutdown, how long eventlistener pools may hand out what they hold
/// before their own priority level is stopped.
pub(in crate::daemon) const LISTENER_DRAIN: Duration = Duration::from_secs(1);
/// Grace for leftover (unmanaged) processes at exit when we are PID 1.
pub(in crate::daemon) const PID1_SWEEP_GRACE: Duration = Duration::from_secs(2);
impl Supervisor {
    /// `supervisor.shutdown`.
    pub(in crate::daemon) fn request_shutdown(&mut self) {
        self.begin_stop(Mood::Shutdown);
    }

    /// Stop everything, one priority level at a time: every group of the
    /// highest remaining priority at once (SPEC Part C), lower priorities
    /// only after those are down.  Returns true when nothing is left running.
    /// `depends_on` comes first: a process that another running process
    /// depends on waits until that one is down, whatever the priorities.
    pub(in crate::daemon) fn stop_phase(&mut self, now: Instant) -> bool {
        let mut held = self.held_by_dependents();
        let unstopped_groups = |held: &HashSet<ProcId>| -> Vec<(GroupId, i64)> {
            self.groups
                .processes()
                .filter(|(id, p)| !p.machine.state().is_stopped() && !held.contains(id))
                .filter_map(|(id, _)| Some((id.group, self.groups.get(id.group)?.config.priority)))
                .collect()
        };
        let mut unstopped = unstopped_groups(&held);
        if unstopped.is_empty() && !held.is_empty() {
            // Only a cycle could hold everything; config loading rejects
            // them, but never wait forever on one.
            held.clear();
            unstopped = unstopped_groups(&held);
        }
        // One entry per group (a group's processes come one after another).
        unstopped.dedup();
        let Some(top) = unstopped.iter().map(|&(_, prio)| prio).max() else {
            return true;
        };
        let top_groups: Vec<GroupId> = unstopped
            .into_iter()
            .filter(|&(_, prio)| prio == top)
            .map(|(gid, _)| gid)
            .collect();
        if self.draining(top, &top_groups, now) {
            return false;
        }
        for gid in top_groups {
            self.stop_group(gid, &held, now);
        }
        if self.last_wait_report.is_none_or(|t| now >= t + WAIT_REPORT) {
            let names: Vec<&str> = self
                .groups
                .processes()
                .filter(|(_, p)| !p.machine.state().is_stopped())
                .map(|(_, p)| p.config.name.as_str())
                .collect();
            if !names.is_empty() {
                let msg = format!("waiting for {} to die", names.join(", "));
                self.log.log(LogLevel::Info, &msg);
                self.last_wait_report = Some(now);
            }
        }
        false
    }

    /// Whether to hold off stopping the level `top` because its eventlistener
    /// pools still have events for live listeners: listeners (priority -1 by
    /// default) are stopped last so that they hear the others stop, as in
    /// Supervisor, where each group is stopped in a later pass of its loop
    /// and pools dispatch in between.  Bounded by [`LISTENER_DRAIN`].
    pub(in crate::daemon) fn draining(
        &mut self,
        top: i64,
        groups: &[GroupId],
        now: Instant,
    ) -> bool {
        let has_pool = |s: &Self, gid: GroupId| s.groups.get(gid).is_some_and(|g| g.pool.is_some());
        if !groups.iter().any(|&gid| has_pool(self, gid)) {
            return false;
        }
        self.dispatch_events();
        let pending = groups.iter().any(|&gid| {
            let Some(g) = self.groups.get(gid) else {
                return false;
            };
            let live = g.processes.iter().any(|p| {
                p.machine.state() == ProcessState::Running
                    && p.listener
                        .as_ref()
                        .is_some_and(|l| l.state != crate::events::listener::ListenerState::Unknown)
            });
            let held = g.pool.as_ref().is_some_and(|pool| !pool.queue.is_empty())
                || g.processes.iter().any(|p| p.listener_event.is_some());
            live && held
        });
        let since = match self.drain {
            Some((level, since)) if pending && level == top => since,
            _ if pending => {
                self.drain = Some((top, now));
                now
            }
            _ => {
                self.drain = None;
                return false;
            }
        };
        if now < since + LISTENER_DRAIN {
            return true;
        }
        self.drain = None; // waited long enough: stop them anyway
        false
    }

    /// Move to SHUTDOWN or RESTARTING and announce it.
    pub(in crate::daemon) fn begin_stop(&mut self, mood: Mood) {
        let was_running = self.mood == Mood::Running;
        if self.mood == Mood::Shutdown {
            return;
        }
        self.mood = mood;
        self.drain = None;
        if mood == Mood::Shutdown {
            self.pending_reload = None;
        }
        if was_running {
            self.bus.publish(Event::supervisor_state(false));
        }
    }

    /// SIGHUP: validate the new config first; a broken one is refused and
    /// the running config stays (SPEC Part C).
    pub fn request_reload(&mut self) -> Result<(), Vec<crate::config::Diagnostic>> {
        let opts = crate::config::LoadOptions::from_process(self.args.overrides.clone(), true);
        match crate::config::load(&self.config_path, &opts) {
            Ok(loaded) => {
                self.pending_reload = Some(loaded);
                self.begin_stop(Mood::Restarting);
                Ok(())
            }
            Err(diags) => {
                self.log.log(
                    LogLevel::Critical,
                    &format!(
                        "not reloading: {} has errors; the running configuration is kept",
                        self.config_path.display()
                    ),
                );
                for d in &diags {
                    self.log.log(LogLevel::Critical, &d.to_string());
                }
                Err(diags)
            }
        }
    }

    /// Everything is stopped: swap in the new config and start again.
    pub(in crate::daemon) fn apply_reload(&mut self) {
        let Some(Loaded {
            config,
            warnings,
            infos,
        }) = self.pending_reload.take()
        else {
            self.mood = Mood::Running;
            return;
        };
        self.groups.clear();
        self.any_pool = false;
        self.pids.clear();
        self.fcgi_sockets.clear();
        let sd = config.supervisord.clone();
        let servers_changed = config.unix_http_servers != self.config.unix_http_servers
            || config.inet_http_servers != self.config.inet_http_servers
            || config.health_server != self.config.health_server;
        let old_pidfile = self.config.supervisord.pidfile.clone();
        self.base_env = base_env(&config);
        self.serverurl = server_url(&config);
        self.config = config;
        self.listen_for_forwarded();
        self.log.set_format(sd.log_format);
        if let Err(e) = self.log.open(
            &sd.logfile,
            sd.logfile_maxbytes,
            sd.logfile_backups,
            sd.loglevel,
            sd.nodaemon && !sd.silent,
        ) {
            eprintln!("could not reopen the main log: {e}");
        }
        warn_if_main_log_unrotatable(&mut self.log);
        for w in &warnings {
            self.log.log(LogLevel::Warn, &w.to_string());
        }
        for i in &infos {
            self.log.log(LogLevel::Info, i);
        }
        if servers_changed {
            self.stop_serving();
            self.listeners.clear();
            if let Err(e) = self.open_servers() {
                self.log.log(LogLevel::Critical, &e);
            }
            self.serve_listeners();
        }
        if old_pidfile != sd.pidfile {
            self.pidfile = None;
            match PidFile::lock(&sd.pidfile) {
                Ok(mut p) => {
                    if let Err(e) = p.write_pid() {
                        self.log.log(
                            LogLevel::Critical,
                            &format!("could not write pidfile {}: {e}", sd.pidfile.display()),
                        );
                    }
                    self.pidfile = Some(p);
                }
                Err(e) => self.log.log(LogLevel::Critical, &e),
            }
        }
        // Like every start of Supervisor's main(): the old processes' AUTO
        // logs go before the new ones are created.
        if !sd.nocleanup
            && let Err(e) = crate::logs::cleanup_auto_logs(&sd.childlogdir, &sd.identifier)
        {
            self.log.log(
                LogLevel::Warn,
                &format!(
                    "could not clean up AUTO child logs in {}: {e}",
                    sd.childlogdir.display()
                ),
            );
        }
        self.mood = Mood::Running;
        self.last_wait_report = None;
        self.add_configured_groups();
        self.log.log(
            LogLevel::Info,
            &format!("supervisord started with pid {}", std::process::id()),
        );
        self.bus.publish(Event::supervisor_state(true));
    }

    /// After the loop: release sockets and pidfile, sweep as PID 1.
    pub(in crate::daemon) fn finish(mut self) -> i32 {
        self.drain_in_flight(Duration::from_secs(1));
        self.stop_serving();
        self.log.log(LogLevel::Info, "supervisord exiting");
        self.listeners.clear();
        self.pidfile = None;
        let swept = pid1::final_sweep(PID1_SWEEP_GRACE);
        if swept > 0 {
            self.log.log(
                LogLevel::Info,
                &format!("reaped {swept} leftover processes at exit"),
            );
        }
        self.exit_code
    }

    /// At exit, give HTTP threads a moment to put their answers on the wire
    /// (a `shutdown` call must get its `true`).
    pub fn drain_in_flight(&self, limit: Duration) {
        let Some(b) = &self.bridge else { return };
        let deadline = Instant::now() + limit;
        while b.handle.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
