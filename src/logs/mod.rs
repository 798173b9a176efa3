//! Logging: the main log (Supervisor's format and seven levels), child
//! output logs with rotation, syslog, ANSI stripping and time formatting.

use crate::config::{LogLevel, MainLogTarget};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The daemon's main log.
pub struct MainLog {}

impl MainLog {
    /// Before the config is known: lines are kept in memory (and written to
    /// the log once it is opened).
    pub fn early() -> MainLog {
        todo!("logs helper")
    }
    /// Open the configured target.  `mirror_stdout` is `nodaemon && !silent`.
    /// Lines logged before are written out (if their level passes).
    pub fn open(
        &mut self,
        target: &MainLogTarget,
        maxbytes: u64,
        backups: u32,
        level: LogLevel,
        mirror_stdout: bool,
    ) -> io::Result<()> {
        todo!("logs helper")
    }
    /// Log one message (never panics; write failures are reported on stderr).
    pub fn log(&mut self, level: LogLevel, msg: &str) {
        todo!("logs helper")
    }
    pub fn enabled(&self, level: LogLevel) -> bool {
        todo!("logs helper")
    }
    /// SIGUSR2: reopen the file.
    pub fn reopen(&mut self) {
        todo!("logs helper")
    }
    /// The main log file path, if it is a file (for readLog).
    pub fn path(&self) -> Option<&Path> {
        todo!("logs helper")
    }
}

/// One child output channel's log (stdout or stderr of one process).
pub struct ChildLog {}

impl ChildLog {
    /// `path`: resolved file (None = no file).  `syslog_tag`: Some(process name)
    /// when `*_syslog=true`.
    pub fn open(
        path: Option<&Path>,
        maxbytes: u64,
        backups: u32,
        syslog_tag: Option<String>,
        strip_ansi: bool,
    ) -> io::Result<ChildLog> {
        todo!("logs helper")
    }
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        todo!("logs helper")
    }
    pub fn reopen(&mut self) -> io::Result<()> {
        todo!("logs helper")
    }
    pub fn path(&self) -> Option<&Path> {
        todo!("logs helper")
    }
}

/// Create a new AUTO log file `<name>-<channel>---<identifier>-XXXXXXXX.log` in `dir`.
pub fn auto_log_path(
    dir: &Path,
    name: &str,
    channel: &str,
    identifier: &str,
) -> io::Result<PathBuf> {
    todo!("logs helper")
}

/// Delete AUTO logs of this identifier (`*---<identifier>-*.log*`) at startup.
pub fn cleanup_auto_logs(dir: &Path, identifier: &str) -> io::Result<usize> {
    todo!("logs helper")
}

/// `2026-01-12 06:42:25,426` in local time.
pub fn log_timestamp(t: SystemTime) -> String {
    todo!("logs helper")
}
