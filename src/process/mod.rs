//! Processes: the pure state machine (`state`), spawning (`spawn`), and the
//! per-process record the daemon keeps (`Process`).

pub mod spawn;
pub mod state;

use crate::config::{ChildLogTarget, ProcessConfig};
use crate::logs::ChildLog;
use state::{Machine, Policy};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Which output channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Stdout = 0,
    Stderr = 1,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }
}

/// One supervised process: its config, its state machine, and the OS
/// resources that belong to its current run.
pub struct Process {
    pub config: ProcessConfig,
    pub group: String,
    pub policy: Policy,
    pub machine: Machine,
    /// Resolved log file paths (AUTO names are created when the process is made).
    pub stdout_logfile: Option<PathBuf>,
    pub stderr_logfile: Option<PathBuf>,
    pub stdout_log: Option<ChildLog>,
    pub stderr_log: Option<ChildLog>,
    /// Parent ends of the child's pipes while it runs.
    pub stdin: Option<OwnedFd>,
    /// Data for the child's stdin not yet written (sendProcessStdin).
    pub stdin_buf: std::collections::VecDeque<u8>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// Wall-clock times for the RPC (`start`, `stop` fields).
    pub laststart_wall: Option<SystemTime>,
    pub laststop_wall: Option<SystemTime>,
    /// Spawns after the first (BACKOFF retries included).
    pub restarts: u64,
    /// A log write failed; cleared by the next successful write.
    pub log_failing: bool,
    /// For eventlistener processes: the protocol on their stdout.
    pub listener: Option<crate::events::listener::Protocol>,
    /// The event a listener is working on (re-queued if it fails or dies).
    pub listener_event: Option<crate::events::pool::Queued>,
    /// Capture mode per channel (`*_capture_maxbytes > 0`), index by `Channel as usize`.
    pub capture: [Option<crate::logs::capture::Capture>; 2],
    /// The "log target cannot be rotated" warning was given.
    pub warned_unrotatable: bool,
}

impl Process {
    /// Make the record; AUTO log files are created now, as Supervisor does
    /// when a group is added.
    pub fn new(
        config: ProcessConfig,
        group: &str,
        childlogdir: &Path,
        identifier: &str,
    ) -> std::io::Result<Process> {
        let resolve = |t: &ChildLogTarget, ch: Channel| -> std::io::Result<Option<PathBuf>> {
            Ok(match t {
                ChildLogTarget::None => None,
                ChildLogTarget::File(p) => Some(p.clone()),
                ChildLogTarget::Auto => Some(crate::logs::auto_log_path(
                    childlogdir,
                    &config.name,
                    ch.name(),
                    identifier,
                )?),
            })
        };
        let stdout_logfile = resolve(&config.stdout.logfile, Channel::Stdout)?;
        let stderr_logfile = if config.redirect_stderr {
            None
        } else {
            resolve(&config.stderr.logfile, Channel::Stderr)?
        };
        let capture_for = |c: &crate::config::ChannelLog| {
            (c.capture_maxbytes > 0).then(|| crate::logs::capture::Capture::new(c.capture_maxbytes))
        };
        let capture = [capture_for(&config.stdout), capture_for(&config.stderr)];
        Ok(Process {
            policy: Policy::from_config(&config),
            config,
            group: group.to_string(),
            machine: Machine::new(),
            stdout_logfile,
            stderr_logfile,
            stdout_log: None,
            stderr_log: None,
            stdin: None,
            stdin_buf: std::collections::VecDeque::new(),
            stdout: None,
            stderr: None,
            laststart_wall: None,
            laststop_wall: None,
            restarts: 0,
            log_failing: false,
            warned_unrotatable: false,
            listener: None,
            listener_event: None,
            capture,
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Open the channel logs if they are not open yet (first spawn).
    pub fn ensure_logs(&mut self, strip_ansi: bool) -> std::io::Result<()> {
        if self.stdout_log.is_none() {
            let c = &self.config.stdout;
            let tag = c.syslog.then(|| self.config.name.clone());
            if self.stdout_logfile.is_some() || tag.is_some() {
                self.stdout_log = Some(ChildLog::open(
                    self.stdout_logfile.as_deref(),
                    c.maxbytes,
                    c.backups,
                    tag,
                    strip_ansi,
                )?);
            }
        }
        if self.stderr_log.is_none() && !self.config.redirect_stderr {
            let c = &self.config.stderr;
            let tag = c.syslog.then(|| self.config.name.clone());
            if self.stderr_logfile.is_some() || tag.is_some() {
                self.stderr_log = Some(ChildLog::open(
                    self.stderr_logfile.as_deref(),
                    c.maxbytes,
                    c.backups,
                    tag,
                    strip_ansi,
                )?);
            }
        }
        Ok(())
    }

    pub fn log_for(&mut self, ch: Channel) -> Option<&mut ChildLog> {
        match ch {
            Channel::Stdout => self.stdout_log.as_mut(),
            Channel::Stderr => self.stderr_log.as_mut(),
        }
    }
}
