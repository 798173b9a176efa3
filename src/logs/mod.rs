//! Logging: the main log (Supervisor's format and seven levels), child
//! output logs with rotation, syslog, ANSI stripping and time formatting.
//!
//! - [`MainLog`]: the daemon's own lines, `2026-01-12 06:42:25,426 INFO msg`,
//!   to a file / syslog / stdout mirror; buffered until the config is known.
//! - [`ChildLog`]: one output channel of one process, raw bytes, or whole
//!   lines prefixed or as JSON in line mode ([`Lines`], SPEC Part B).
//! - [`RotatingFile`]: Supervisor's size-based rotation, shared by both;
//!   non-seekable targets (stdout, pipes, FIFOs) are never rotated.
//! - [`auto_log_path`] / [`cleanup_auto_logs`]: `AUTO` child log files.
//! - [`log_timestamp`] / [`strftime_local`]: local-time formatting.
//!
//! Nothing here panics on I/O errors: writes return or report them, and a
//! failed file is reopened on the next write.
//!
//! Public API summary (all re-exported here):
//!
//! ```text
//! MainLog::early() -> MainLog
//! MainLog::open(&mut self, &MainLogTarget, maxbytes, backups, LogLevel, mirror_stdout) -> io::Result<()>
//! MainLog::log(&mut self, LogLevel, &str)          MainLog::enabled(&self, LogLevel) -> bool
//! MainLog::set_level / level / reopen / clear / path / is_rotatable / rotation_skipped
//! MainLog::flush_early_to_stderr
//! ChildLog::open(Option<&Path>, maxbytes, backups, syslog_tag: Option<String>, strip_ansi) -> io::Result<ChildLog>
//! ChildLog::with_lines(self, Option<Lines>) -> ChildLog   (line mode: log_prefix, JSON)
//! ChildLog::write(&mut self, &[u8]) -> io::Result<()>      ChildLog::flush_lines (at exit)
//! ChildLog::reopen / clear / path / is_rotatable / rotation_skipped / size / by_line
//! Lines::for_process(&ProcessConfig, channel) -> Option<Lines>   Lines::{new, feed, flush}
//! MainLog::set_format(LogFormat)                   (JSON lines for [supervisord] log_format=json)
//! RotatingFile::{new, open, write, reopen, rotate, clear, path, size, is_open, is_rotatable, rotation_skipped}
//! auto_log_path(dir, name, channel, identifier) -> io::Result<PathBuf>
//! cleanup_auto_logs(dir, identifier) -> io::Result<usize>   (+ cleanup_auto_logs_report)
//! log_timestamp(SystemTime) -> String                       strftime_local(fmt, epoch_secs) -> String
//! strip_ansi(&[u8]) -> Vec<u8>                              AnsiStripper (streaming)
//! SyslogWriter (the /dev/log client with stderr fallback)
//! ```

mod ansi;
mod auto;
pub mod capture;
mod child;
mod lines;
mod mainlog;
mod rotate;
mod syslog;
mod timefmt;

pub use ansi::strip_ansi;
pub use auto::{auto_log_path, cleanup_auto_logs};
pub use child::ChildLog;
pub use lines::Lines;
pub use mainlog::MainLog;
#[cfg(test)]
pub use timefmt::log_timestamp;
pub use timefmt::strftime_local;
