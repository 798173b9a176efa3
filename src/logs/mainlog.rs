//! The daemon's own log, in Supervisor's format
//! (`%(asctime)s %(levelname)s %(message)s\n`) with its seven levels.
//!
//! Sinks, as `options.make_logger` sets them up: stdout when
//! `nodaemon && !silent`, then the file (rotating when maxbytes ≠ 0) or
//! syslog.  Lines logged before the config is known are kept (bounded) and
//! written when the log is opened, filtered by the configured level.
//! With `[supervisord] log_format=json` (SPEC Part B) each line is one JSON
//! object instead, in the file and on stdout (syslog keeps the text form).

use super::rotate::RotatingFile;
use super::syslog::SyslogWriter;
use super::timefmt::push_log_timestamp;
use crate::config::{LogFormat, LogLevel, MainLogTarget};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::FromRawFd;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Lines kept before `open`; older ones are dropped past this.
const EARLY_LIMIT: usize = 1000;
/// At most one stderr report about main-log write failures per interval.
const ERROR_REPORT_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct EarlyLine {
    level: LogLevel,
    time: SystemTime,
    msg: String,
}

/// Where "stdout" and "stderr" go (real streams, or memory in tests).
#[derive(Debug)]
enum Stream {
    Stdout,
    Stderr,
    #[cfg(test)]
    Capture(Vec<u8>),
}

impl Stream {
    fn write(&mut self, data: &[u8]) {
        // Failures (EPIPE, a closed descriptor) are ignored: there is nowhere
        // left to report them.
        match self {
            Stream::Stdout => {
                // Straight to the descriptor, waiting out EAGAIN: stdout may
                // be a non-blocking pipe (its flag is shared with whoever
                // started us), and a full one must not cut the line.
                // SAFETY: descriptor 1 stays open for the daemon's life
                // (the daemon makes sure 0-2 exist at start), and
                // ManuallyDrop keeps this `File` from closing it.
                let mut out = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
                let mut written = 0;
                let _ = super::rotate::write_all_fd(&mut out, data, &mut written);
            }
            Stream::Stderr => {
                let _ = io::stderr().write_all(data);
            }
            #[cfg(test)]
            Stream::Capture(v) => v.extend_from_slice(data),
        }
    }
}

/// Rate-limited stderr reports about the log itself failing.
#[derive(Debug)]
struct ErrorReporter {
    out: Stream,
    last: Option<Instant>,
    suppressed: u64,
}

impl ErrorReporter {
    fn report(&mut self, what: &str, path: &Path, err: &io::Error) {
        let now = Instant::now();
        if let Some(last) = self.last
            && now.duration_since(last) < ERROR_REPORT_INTERVAL
        {
            self.suppressed += 1;
            return;
        }
        self.last = Some(now);
        let mut msg = format!("supervisord: {what} {}: {err}", path.display());
        if self.suppressed > 0 {
            msg.push_str(&format!(" ({} similar errors not shown)", self.suppressed));
            self.suppressed = 0;
        }
        msg.push('\n');
        self.out.write(msg.as_bytes());
    }
}

/// The daemon's main log.
#[derive(Debug)]
pub struct MainLog {
    level: LogLevel,
    opened: bool,
    early: VecDeque<EarlyLine>,
    early_dropped: u64,
    target: MainLogTarget,
    file: Option<RotatingFile>,
    syslog: Option<SyslogWriter>,
    stdout: Option<Stream>,
    errors: ErrorReporter,
    /// Reused formatting buffer.
    line: String,
    /// `log_format=json`: lines are JSON objects.
    json: bool,
    /// Lines logged while held (see [`hold`](Self::hold)).
    held: Option<Vec<EarlyLine>>,
}

impl MainLog {
    /// Before the config is known: lines are kept in memory (and written to
    /// the log once it is opened).
    pub fn early() -> MainLog {
        MainLog {
            level: LogLevel::Info,
            opened: false,
            early: VecDeque::new(),
            early_dropped: 0,
            target: MainLogTarget::None,
            file: None,
            syslog: None,
            stdout: None,
            errors: ErrorReporter {
                out: Stream::Stderr,
                last: None,
                suppressed: 0,
            },
            line: String::new(),
            json: false,
            held: None,
        }
    }

    /// `[supervisord] log_format`; set before [`open`](Self::open) so that
    /// the lines kept from startup get it too.
    pub fn set_format(&mut self, format: LogFormat) {
        self.json = format == LogFormat::Json;
    }

    /// Open the configured target.  `mirror_stdout` is `nodaemon && !silent`.
    /// Lines logged before are written out (if their level passes).
    ///
    /// If the file cannot be opened the error is returned, the early lines
    /// still go to stdout (or stderr when not mirroring), and later writes
    /// keep retrying the file.
    pub fn open(
        &mut self,
        target: &MainLogTarget,
        maxbytes: u64,
        backups: u32,
        level: LogLevel,
        mirror_stdout: bool,
    ) -> io::Result<()> {
        let syslog = matches!(target, MainLogTarget::Syslog).then(SyslogWriter::new);
        self.open_with(target, maxbytes, backups, level, mirror_stdout, syslog)
    }

    fn open_with(
        &mut self,
        target: &MainLogTarget,
        maxbytes: u64,
        backups: u32,
        level: LogLevel,
        mirror_stdout: bool,
        syslog: Option<SyslogWriter>,
    ) -> io::Result<()> {
        self.level = level;
        self.target = target.clone();
        self.syslog = syslog;
        if mirror_stdout {
            if self.stdout.is_none() {
                self.stdout = Some(Stream::Stdout);
            }
        } else {
            self.stdout = None;
        }
        let mut result = Ok(());
        self.file = match target {
            MainLogTarget::File(p) => match RotatingFile::open(p, maxbytes, backups) {
                Ok(f) => Some(f),
                Err(e) => {
                    result = Err(e);
                    // Retried on each later write.
                    Some(RotatingFile::new(p, maxbytes, backups))
                }
            },
            MainLogTarget::Syslog | MainLogTarget::None => None,
        };
        self.opened = true;

        let early = std::mem::take(&mut self.early);
        let nowhere = result.is_err() && self.stdout.is_none() && self.syslog.is_none();
        for e in early {
            if !self.enabled(e.level) {
                continue;
            }
            if nowhere {
                self.format(e.level, e.time, &e.msg);
                self.errors.out.write(self.line.as_bytes());
            } else {
                self.emit(e.level, e.time, &e.msg, result.is_err());
            }
        }
        if self.early_dropped > 0 {
            let msg = format!(
                "{} log messages from startup were dropped (more than {EARLY_LIMIT})",
                self.early_dropped
            );
            self.early_dropped = 0;
            self.log(LogLevel::Warn, &msg);
        }
        result
    }

    /// Log one message (never panics; write failures are reported on stderr).
    pub fn log(&mut self, level: LogLevel, msg: &str) {
        if !self.opened {
            if self.early.len() >= EARLY_LIMIT {
                self.early.pop_front();
                self.early_dropped += 1;
            }
            self.early.push_back(EarlyLine {
                level,
                time: SystemTime::now(),
                msg: msg.to_owned(),
            });
            return;
        }
        if !self.enabled(level) {
            return;
        }
        if let Some(held) = self.held.as_mut() {
            held.push(EarlyLine {
                level,
                time: SystemTime::now(),
                msg: msg.to_owned(),
            });
            return;
        }
        self.emit(level, SystemTime::now(), msg, false);
    }

    /// Keep the lines logged from now on in memory, stamped with the time
    /// they were logged, until [`release`](Self::release) writes them out
    /// in order: a signal's reply (PID 1 passing SIGTERM on) goes out
    /// before the writes of the lines about it, which may block on a slow
    /// stdout.
    pub fn hold(&mut self) {
        if self.opened && self.held.is_none() {
            self.held = Some(Vec::new());
        }
    }

    /// Write out the held lines and stop holding.
    pub fn release(&mut self) {
        for e in self.held.take().unwrap_or_default() {
            self.emit(e.level, e.time, &e.msg, false);
        }
    }

    /// Whether a message at `level` would be written.  Before `open` every
    /// level is kept (the configured level is not known yet).
    pub fn enabled(&self, level: LogLevel) -> bool {
        !self.opened || level >= self.level
    }

    #[cfg(test)]
    pub fn set_level(&mut self, level: LogLevel) {
        self.level = level;
    }

    /// SIGUSR2: reopen the file.
    pub fn reopen(&mut self) {
        if let Some(f) = self.file.as_mut()
            && let Err(e) = f.reopen()
        {
            let p = f.path().to_path_buf();
            self.errors.report("cannot reopen main log", &p, &e);
        }
    }

    /// `clearLog`: empty the file and delete its backups.  `NotFound` when
    /// the main log is not a file.
    pub fn clear(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.clear(),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the main log is not a file",
            )),
        }
    }

    /// The main log file path, if it is a file (for readLog).
    pub fn path(&self) -> Option<&Path> {
        match &self.target {
            MainLogTarget::File(p) => Some(p),
            MainLogTarget::Syslog | MainLogTarget::None => None,
        }
    }

    #[cfg(test)]
    /// False when the main log is not a regular file (stdout, a pipe...).
    pub fn is_rotatable(&self) -> bool {
        self.file.as_ref().is_some_and(|f| f.is_rotatable())
    }

    /// `logfile_maxbytes` is set but the target cannot rotate.
    pub fn rotation_skipped(&self) -> bool {
        self.file.as_ref().is_some_and(|f| f.rotation_skipped())
    }

    #[cfg(test)]
    /// Write out lines still buffered because `open` was never reached
    /// (e.g. the daemon stops on a config error), so none are lost.
    pub fn flush_early_to_stderr(&mut self) {
        let early = std::mem::take(&mut self.early);
        for e in early {
            self.format(e.level, e.time, &e.msg);
            self.errors.out.write(self.line.as_bytes());
        }
    }

    /// `2026-01-12 06:42:25,426 INFO msg\n` (or its JSON object) into
    /// `self.line`.
    fn format(&mut self, level: LogLevel, time: SystemTime, msg: &str) {
        if self.json {
            self.line = super::lines::daemon_json(level, time, msg);
            return;
        }
        self.line.clear();
        push_head(&mut self.line, level, time);
        self.line.push_str(msg);
        self.line.push('\n');
    }

    fn emit(&mut self, level: LogLevel, time: SystemTime, msg: &str, skip_file: bool) {
        self.format(level, time, msg);
        if let Some(out) = self.stdout.as_mut() {
            out.write(self.line.as_bytes());
        }
        if !skip_file
            && let Some(f) = self.file.as_mut()
            && let Err(e) = f.write(self.line.as_bytes())
        {
            let p = f.path().to_path_buf();
            self.errors.report("cannot write main log", &p, &e);
        }
        if let Some(w) = self.syslog.as_mut() {
            // Supervisor formats each line of the message on its own.
            if self.json {
                let mut head = String::new();
                push_head(&mut head, level, time);
                w.send_lines(head.as_bytes(), msg.as_bytes());
            } else {
                let head_len = self.line.len() - msg.len() - 1;
                let head = &self.line.as_bytes()[..head_len];
                w.send_lines(head, msg.as_bytes());
            }
        }
    }
}

/// `2026-01-12 06:42:25,426 INFO `: what comes before the message.
fn push_head(out: &mut String, level: LogLevel, time: SystemTime) {
    push_log_timestamp(out, time);
    out.push(' ');
    out.push_str(level.tag());
    out.push(' ');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::syslog::tests::{FakeSyslog, body_of};
    use std::path::PathBuf;

    fn open_file(log: &mut MainLog, p: &Path, maxbytes: u64, backups: u32, level: LogLevel) {
        log.open(
            &MainLogTarget::File(p.to_path_buf()),
            maxbytes,
            backups,
            level,
            false,
        )
        .unwrap();
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `YYYY-MM-DD HH:MM:SS,mmm TAG rest`
    fn split_line(l: &str) -> (&str, &str) {
        let b = l.as_bytes();
        assert!(l.len() > 24, "{l:?}");
        assert_eq!(b[4], b'-');
        assert_eq!(b[10], b' ');
        assert_eq!(b[19], b',');
        assert!(b[20..23].iter().all(u8::is_ascii_digit));
        assert_eq!(b[23], b' ');
        (&l[..23], &l[24..])
    }

    fn capture_stdout(log: &mut MainLog) {
        log.stdout = Some(Stream::Capture(Vec::new()));
    }

    fn captured(s: &Option<Stream>) -> String {
        match s {
            Some(Stream::Capture(v)) => String::from_utf8(v.clone()).unwrap(),
            _ => String::new(),
        }
    }

    #[test]
    fn line_format_and_level_filter() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("supervisord.log");
        let mut log = MainLog::early();
        open_file(&mut log, &p, 0, 0, LogLevel::Info);
        assert!(log.enabled(LogLevel::Info));
        assert!(log.enabled(LogLevel::Critical));
        assert!(!log.enabled(LogLevel::Debug));
        log.log(LogLevel::Info, "spawned: 'web' with pid 20535");
        log.log(LogLevel::Debug, "hidden");
        log.log(LogLevel::Blather, "hidden");
        log.log(LogLevel::Warn, "w");
        log.log(LogLevel::Error, "e");
        log.log(LogLevel::Critical, "c");
        log.set_level(LogLevel::Blather);
        log.log(LogLevel::Trace, "t");
        log.log(LogLevel::Blather, "b");
        log.log(LogLevel::Debug, "d");
        let got: Vec<String> = lines(&p)
            .iter()
            .map(|l| split_line(l).1.to_owned())
            .collect();
        assert_eq!(
            got,
            vec![
                "INFO spawned: 'web' with pid 20535",
                "WARN w",
                "ERRO e",
                "CRIT c",
                "TRAC t",
                "BLAT b",
                "DEBG d"
            ]
        );
        let raw = std::fs::read_to_string(&p).unwrap();
        assert!(raw.ends_with("DEBG d\n"));
        let ts = split_line(&lines(&p)[0]).0.to_owned();
        let now = crate::logs::log_timestamp(SystemTime::now());
        assert_eq!(ts[..10], now[..10]);
        assert_eq!(log.path(), Some(p.as_path()));
        assert!(log.is_rotatable());
    }

    #[test]
    fn held_lines_wait_for_release_and_keep_their_order_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        let mut log = MainLog::early();
        open_file(&mut log, &p, 0, 0, LogLevel::Info);
        capture_stdout(&mut log);
        log.log(LogLevel::Info, "before");
        log.hold();
        log.log(LogLevel::Warn, "held 1");
        log.log(LogLevel::Debug, "filtered out");
        let held_at = crate::logs::log_timestamp(SystemTime::now());
        log.hold(); // nested: one hold, one release
        log.log(LogLevel::Info, "held 2");
        assert_eq!(lines(&p).len(), 1, "nothing written while held");
        assert_eq!(captured(&log.stdout).lines().count(), 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        log.release();
        log.log(LogLevel::Info, "after");
        let got: Vec<String> = lines(&p);
        let rest: Vec<&str> = got.iter().map(|l| split_line(l).1).collect();
        assert_eq!(
            rest,
            ["INFO before", "WARN held 1", "INFO held 2", "INFO after"]
        );
        assert_eq!(captured(&log.stdout).lines().count(), 4);
        // Held lines carry the time they were logged, not of their write.
        assert_eq!(split_line(&got[1]).0[..19], held_at[..19]);
        log.release(); // not holding: nothing happens
        assert_eq!(lines(&p).len(), 4);
    }

    #[test]
    fn embedded_newlines_are_written_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        let mut log = MainLog::early();
        open_file(&mut log, &p, 0, 0, LogLevel::Info);
        log.log(LogLevel::Info, "'web' stdout output:\nline1\nline2");
        let raw = std::fs::read_to_string(&p).unwrap();
        let (_, rest) = split_line(&raw);
        assert_eq!(rest, "INFO 'web' stdout output:\nline1\nline2\n");
    }

    #[test]
    fn early_lines_are_buffered_filtered_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        let mut log = MainLog::early();
        assert!(log.enabled(LogLevel::Blather));
        log.log(LogLevel::Critical, "Supervisor is running as root");
        log.log(LogLevel::Debug, "too chatty");
        log.log(LogLevel::Info, "included extra file");
        assert!(!p.exists());
        open_file(&mut log, &p, 0, 0, LogLevel::Info);
        let got: Vec<String> = lines(&p)
            .iter()
            .map(|l| split_line(l).1.to_owned())
            .collect();
        assert_eq!(
            got,
            vec![
                "CRIT Supervisor is running as root",
                "INFO included extra file"
            ]
        );

        let q = dir.path().join("n.log");
        let mut log = MainLog::early();
        for i in 0..(EARLY_LIMIT + 5) {
            log.log(LogLevel::Info, &format!("m{i}"));
        }
        open_file(&mut log, &q, 0, 0, LogLevel::Info);
        let l = lines(&q);
        assert_eq!(l.len(), EARLY_LIMIT + 1);
        assert!(l[0].ends_with("INFO m5"));
        assert!(l[EARLY_LIMIT - 1].ends_with(&format!("m{}", EARLY_LIMIT + 4)));
        assert!(l[EARLY_LIMIT].contains("WARN 5 log messages from startup were dropped"));
    }

    #[test]
    fn mirror_stdout_gets_the_same_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        let mut log = MainLog::early();
        log.log(LogLevel::Info, "early");
        capture_stdout(&mut log);
        log.open(&MainLogTarget::File(p.clone()), 0, 0, LogLevel::Info, true)
            .unwrap();
        log.log(LogLevel::Warn, "later");
        log.log(LogLevel::Debug, "filtered");
        assert_eq!(captured(&log.stdout), std::fs::read_to_string(&p).unwrap());
        assert_eq!(captured(&log.stdout).lines().count(), 2);
    }

    #[test]
    fn json_format_writes_one_object_per_line_to_file_and_stdout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        let mut log = MainLog::early();
        log.log(LogLevel::Info, "early \"quoted\"");
        capture_stdout(&mut log);
        log.set_format(LogFormat::Json);
        log.open(&MainLogTarget::File(p.clone()), 0, 0, LogLevel::Info, true)
            .unwrap();
        log.log(LogLevel::Critical, "two\nlines");
        let out = captured(&log.stdout);
        assert_eq!(out, std::fs::read_to_string(&p).unwrap());
        let v: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v.len(), 2, "{out}");
        assert_eq!(v[0]["level"], "info");
        assert_eq!(v[0]["message"], "early \"quoted\"");
        assert_eq!(v[1]["level"], "critical");
        assert_eq!(v[1]["message"], "two\nlines");
        assert!(v[1]["time"].as_str().unwrap().ends_with('Z'));
        assert!(v[1].get("program").is_none());
    }

    #[test]
    fn target_none_writes_no_file_but_mirrors() {
        let mut log = MainLog::early();
        capture_stdout(&mut log);
        log.open(&MainLogTarget::None, 100, 1, LogLevel::Info, true)
            .unwrap();
        log.log(LogLevel::Info, "hello");
        assert!(captured(&log.stdout).ends_with(" INFO hello\n"));
        assert_eq!(log.path(), None);
        assert!(log.clear().is_err());
        assert!(!log.is_rotatable());
        log.reopen();
    }

    #[test]
    fn rotates_like_supervisor() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        let mut log = MainLog::early();
        open_file(&mut log, &p, 200, 2, LogLevel::Info);
        for i in 0..20 {
            log.log(LogLevel::Info, &format!("message number {i:02}"));
        }
        let b1 = PathBuf::from(format!("{}.1", p.display()));
        let b2 = PathBuf::from(format!("{}.2", p.display()));
        let b3 = PathBuf::from(format!("{}.3", p.display()));
        assert!(b1.exists() && b2.exists() && !b3.exists());
        let mut all: Vec<String> = Vec::new();
        for f in [&b2, &b1, &p] {
            let len = std::fs::metadata(f).unwrap().len();
            if f != &p {
                assert!((200..300).contains(&len), "{len}");
            }
            all.extend(lines(f));
        }
        // The newest lines, in order, without gaps.
        let nums: Vec<u32> = all
            .iter()
            .map(|l| l[l.len() - 2..].parse().unwrap())
            .collect();
        let first = nums[0];
        assert_eq!(nums, (first..20).collect::<Vec<_>>());
    }

    #[test]
    fn reopen_after_logrotate_move() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        let old = dir.path().join("m.log.old");
        let mut log = MainLog::early();
        open_file(&mut log, &p, 0, 0, LogLevel::Info);
        log.log(LogLevel::Info, "one");
        std::fs::rename(&p, &old).unwrap();
        log.reopen();
        log.log(LogLevel::Info, "two");
        assert!(lines(&old)[0].ends_with("INFO one"));
        assert_eq!(lines(&p).len(), 1);
        assert!(lines(&p)[0].ends_with("INFO two"));
    }

    #[test]
    fn clear_empties_file_and_keeps_backups() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        let mut log = MainLog::early();
        open_file(&mut log, &p, 60, 3, LogLevel::Info);
        for _ in 0..10 {
            log.log(LogLevel::Info, "some text to fill the log");
        }
        assert!(PathBuf::from(format!("{}.1", p.display())).exists());
        log.clear().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        assert!(
            PathBuf::from(format!("{}.1", p.display())).exists(),
            "backups stay, as in Supervisor"
        );
        log.log(LogLevel::Info, "after");
        assert_eq!(lines(&p).len(), 1);
    }

    #[test]
    fn write_errors_are_reported_rate_limited_and_retried() {
        let mut log = MainLog::early();
        log.errors.out = Stream::Capture(Vec::new());
        log.open(
            &MainLogTarget::File(PathBuf::from("/dev/full")),
            1000,
            2,
            LogLevel::Info,
            false,
        )
        .unwrap();
        assert!(log.rotation_skipped());
        for _ in 0..50 {
            log.log(LogLevel::Info, "disk is full");
        }
        let Stream::Capture(v) = &log.errors.out else {
            unreachable!()
        };
        let err = String::from_utf8(v.clone()).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("cannot write main log /dev/full"));
        assert_eq!(log.errors.suppressed, 49);
        // The interval passed: the next failure is reported with a count.
        log.errors.last = Some(Instant::now() - ERROR_REPORT_INTERVAL);
        log.log(LogLevel::Info, "again");
        let Stream::Capture(v) = &log.errors.out else {
            unreachable!()
        };
        let err = String::from_utf8(v.clone()).unwrap();
        assert_eq!(err.lines().count(), 2);
        assert!(err.contains("(49 similar errors not shown)"));
    }

    #[test]
    fn missing_directory_fails_open_then_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("logs");
        let p = sub.join("m.log");
        let mut log = MainLog::early();
        log.errors.out = Stream::Capture(Vec::new());
        log.log(LogLevel::Info, "early line");
        let r = log.open(&MainLogTarget::File(p.clone()), 0, 0, LogLevel::Info, false);
        assert!(r.is_err());
        // The early line was not lost: it went to stderr.
        let Stream::Capture(v) = &log.errors.out else {
            unreachable!()
        };
        assert!(String::from_utf8_lossy(v).contains("INFO early line"));
        log.log(LogLevel::Info, "dropped");
        std::fs::create_dir(&sub).unwrap();
        log.log(LogLevel::Info, "recovered");
        let l = lines(&p);
        assert_eq!(l.len(), 1);
        assert!(l[0].ends_with("INFO recovered"));
        // Directory removed later: rotation-free writes continue on the
        // unlinked file; reopen reports and the next write retries.
        std::fs::remove_dir_all(&sub).unwrap();
        log.reopen();
        log.log(LogLevel::Info, "lost");
        std::fs::create_dir(&sub).unwrap();
        log.log(LogLevel::Info, "back");
        assert!(lines(&p)[0].ends_with("INFO back"));
    }

    #[test]
    fn syslog_target_sends_each_line_formatted() {
        let fake = FakeSyslog::new();
        let mut log = MainLog::early();
        log.log(LogLevel::Warn, "early warning");
        log.open_with(
            &MainLogTarget::Syslog,
            0,
            0,
            LogLevel::Info,
            false,
            Some(SyslogWriter::with_socket(&fake.path)),
        )
        .unwrap();
        log.log(LogLevel::Info, "two\nlines");
        log.log(LogLevel::Debug, "filtered");
        let msgs = fake.recv_all();
        let bodies: Vec<&str> = msgs.iter().map(|m| body_of(m)).collect();
        assert_eq!(bodies.len(), 3);
        assert_eq!(split_line(bodies[0]).1, "WARN early warning");
        assert_eq!(split_line(bodies[1]).1, "INFO two");
        assert_eq!(split_line(bodies[2]).1, "INFO lines");
        // JSON is for files and stdout: syslog keeps its text form.
        log.set_format(LogFormat::Json);
        log.log(LogLevel::Warn, "still text");
        let msgs = fake.recv_all();
        assert_eq!(split_line(body_of(&msgs[0])).1, "WARN still text");
        assert_eq!(log.path(), None);
    }

    #[test]
    fn non_seekable_main_log_target() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let (rd, wr) = nix::unistd::pipe().unwrap();
        let path = PathBuf::from(format!("/proc/self/fd/{}", wr.as_raw_fd()));
        let mut log = MainLog::early();
        log.open(&MainLogTarget::File(path), 50, 3, LogLevel::Info, false)
            .unwrap();
        assert!(!log.is_rotatable());
        assert!(log.rotation_skipped());
        for i in 0..5 {
            log.log(LogLevel::Info, &format!("line {i}"));
        }
        log.reopen();
        log.log(LogLevel::Info, "after reopen");
        drop(log);
        drop(wr);
        let mut got = String::new();
        std::fs::File::from(rd).read_to_string(&mut got).unwrap();
        assert_eq!(got.lines().count(), 6);
        assert!(got.ends_with("INFO after reopen\n"));
    }

    #[test]
    fn flush_early_when_never_opened() {
        let mut log = MainLog::early();
        log.errors.out = Stream::Capture(Vec::new());
        log.log(LogLevel::Error, "bad config");
        log.flush_early_to_stderr();
        let Stream::Capture(v) = &log.errors.out else {
            unreachable!()
        };
        assert!(String::from_utf8_lossy(v).ends_with(" ERRO bad config\n"));
    }
}
