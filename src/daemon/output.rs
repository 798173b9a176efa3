//! Child output: pipes read or spliced into logs, capture mode, PROCESS_LOG
//! events, stdin writes, log reopening.

use crate::config::LogLevel;
use crate::daemon::core::Supervisor;
use crate::daemon::groups::ProcId;
use crate::events::{Event, EventType};
use crate::process::{Channel, spawn};
use std::os::fd::AsRawFd;

/// At most this much of one pipe is read per loop turn, so one chatty child
/// cannot starve the others.
pub(in crate::daemon) const READ_BUDGET: usize = 1 << 20;
/// The most one read of a channel not in line mode takes: each read lands
/// whole in one log file (rotated after it), so a file ends at most this
/// far past `maxbytes`.  Line mode reads the whole buffer (256 KiB): fewer
/// turns per formatted byte.
pub(in crate::daemon) const RAW_READ: usize = 64 << 10;
/// Pipe size for channels spliced into plain log files.
pub(in crate::daemon) const SPLICE_PIPE_SIZE: libc::c_int = 1 << 20;
impl Supervisor {
    /// Read what a child wrote on one channel into its log.  With `all`,
    /// read until the pipe is empty (the child is gone); otherwise up to the
    /// per-turn budget.  Closes the pipe at EOF.
    pub(in crate::daemon) fn read_output(&mut self, id: ProcId, ch: Channel, all: bool) {
        if self.splice_output(id, ch, all) {
            return;
        }
        let mut total = 0usize;
        loop {
            let Some(p) = self.groups.proc_mut(id) else {
                return;
            };
            let len = if p.log_for(ch).is_some_and(|log| log.by_line()) {
                self.buf.len()
            } else {
                RAW_READ
            };
            let fd = match ch {
                Channel::Stdout => p.stdout.as_ref(),
                Channel::Stderr => p.stderr.as_ref(),
            };
            let Some(fd) = fd else { return };
            let n = match nix::unistd::read(fd, self.buf.get_mut(..len).unwrap_or_default()) {
                Ok(0) => {
                    match ch {
                        Channel::Stdout => p.stdout = None,
                        Channel::Stderr => p.stderr = None,
                    }
                    return;
                }
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return, // EAGAIN: nothing more now
            };
            total += n;
            if self.log.enabled(LogLevel::Debug) {
                let name = p.config.name.clone();
                if ch == Channel::Stdout && p.listener.is_some() {
                    // A listener's protocol channel: Supervisor logs the
                    // bytes' repr, b'RESULT 2\nOK', unstripped.
                    let data =
                        crate::events::listener::bytes_repr(self.buf.get(..n).unwrap_or_default());
                    let msg = format!("{} stdout output:\n{data}", spawn::py_repr(&name));
                    self.log.log(LogLevel::Debug, &msg);
                } else {
                    self.log_child_output(&name, ch, n);
                }
            }
            // One read is one chunk: even split by capture mode, it lands
            // in one file, rotated after it if it reached maxbytes.
            let Some(p) = self.groups.proc_mut(id) else {
                return;
            };
            let was_failing = p.log_failing;
            if let Some(log) = p.log_for(ch) {
                log.begin_chunk();
            }
            self.route_output(id, ch, n);
            let Some(p) = self.groups.proc_mut(id) else {
                return;
            };
            if let Some(Err(e)) = p.log_for(ch).map(|log| log.end_chunk()) {
                // The writes' success in route_output cleared the flag.
                self.log_failed(id, ch, "rotate", &e, was_failing);
            }
            if !all && total >= READ_BUDGET {
                return;
            }
        }
    }

    /// The fast path for plain file logs: `splice(2)` the pipe into the file
    /// (no copy through the daemon).  Only when nothing needs to see the
    /// bytes: no capture, no log events, not a listener's protocol channel,
    /// no debug copy to the main log, no syslog or ANSI stripping.  Returns
    /// false when the ordinary read path must be used.
    pub(in crate::daemon) fn splice_output(&mut self, id: ProcId, ch: Channel, all: bool) -> bool {
        if self.log.enabled(LogLevel::Debug) {
            return false;
        }
        let listening = self.has_pools();
        let Some(p) = self.groups.proc_mut(id) else {
            return false;
        };
        let cfg = match ch {
            Channel::Stdout => &p.config.stdout,
            Channel::Stderr => &p.config.stderr,
        };
        if (cfg.events_enabled && listening)
            || p.capture.get(ch as usize).is_some_and(Option::is_some)
            || (ch == Channel::Stdout && p.listener.is_some())
        {
            return false;
        }
        let fd = match ch {
            Channel::Stdout => p.stdout.as_ref().map(AsRawFd::as_raw_fd),
            Channel::Stderr => p.stderr.as_ref().map(AsRawFd::as_raw_fd),
        };
        let (Some(fd), Some(log)) = (fd, p.log_for(ch)) else {
            return false;
        };
        if !log.can_splice() {
            return false;
        }
        let max = if all { usize::MAX } else { READ_BUDGET };
        match log.splice_from(fd, max) {
            Ok(s) => {
                p.log_failing = false;
                if s.eof {
                    match ch {
                        Channel::Stdout => p.stdout = None,
                        Channel::Stderr => p.stderr = None,
                    }
                }
                true
            }
            // The file failed: reported once; the ordinary path reads the
            // data and keeps the program running.
            Err(e) => {
                let already = p.log_failing;
                self.log_failed(id, ch, "write", &e, already);
                false
            }
        }
    }

    /// A channel log failed: say so once (unless `already` failing) and
    /// mark it failing until a write succeeds.
    pub(in crate::daemon) fn log_failed(
        &mut self,
        id: ProcId,
        ch: Channel,
        what: &str,
        e: &std::io::Error,
        already: bool,
    ) {
        let Some(p) = self.groups.proc_mut(id) else {
            return;
        };
        p.log_failing = true;
        if !already {
            let msg = format!(
                "could not {what} {} log of '{}': {e}; the program keeps running",
                ch.name(),
                p.config.name
            );
            self.log.log(LogLevel::Error, &msg);
        }
    }

    /// Send `self.buf[..n]`, just read from a child, where it belongs: the
    /// channel log (zero-copy in the common case), capture mode, PROCESS_LOG
    /// events, and for a listener's stdout, the protocol.
    pub(in crate::daemon) fn route_output(&mut self, id: ProcId, ch: Channel, n: usize) {
        let listening = self.has_pools();
        let Some(g) = self.groups.get_mut(id.group) else {
            return;
        };
        let group_name = &g.config.name;
        let Some(p) = g.processes.get_mut(id.index()) else {
            return;
        };
        let data = self.buf.get(..n).unwrap_or_default();
        let cfg = match ch {
            Channel::Stdout => &p.config.stdout,
            Channel::Stderr => &p.config.stderr,
        };
        let events_enabled = cfg.events_enabled && listening;
        let protocol = ch == Channel::Stdout && p.listener.is_some();
        let mut failure = None;
        let mut events = Vec::new();
        let capture = p.capture.get_mut(ch as usize).and_then(Option::as_mut);
        let captured = capture.is_some();
        let pieces = match (capture, protocol) {
            (Some(c), false) => c.feed(data),
            _ => Vec::new(),
        };
        if !captured || protocol {
            if let Some(log) = p.log_for(ch)
                && let Err(e) = log.write(data)
            {
                failure = Some(e);
            }
            if events_enabled && !protocol {
                events.push(Event::process_log(
                    &p.config.name,
                    group_name,
                    p.machine.pid,
                    ch == Channel::Stderr,
                    data,
                ));
            }
        }
        for piece in pieces {
            match piece {
                crate::logs::capture::Piece::Data { bytes, captured } => {
                    if !captured
                        && let Some(log) = p.log_for(ch)
                        && let Err(e) = log.write(&bytes)
                    {
                        failure = Some(e);
                    }
                    if events_enabled {
                        events.push(Event::process_log(
                            &p.config.name,
                            group_name,
                            p.machine.pid,
                            ch == Channel::Stderr,
                            &bytes,
                        ));
                    }
                }
                crate::logs::capture::Piece::Comm(bytes) => {
                    events.push(Event::process_communication(
                        &p.config.name,
                        group_name,
                        p.machine.pid,
                        ch == Channel::Stderr,
                        &bytes,
                    ));
                }
            }
        }
        let signals = match (protocol, p.listener.as_mut()) {
            (true, Some(proto)) => proto.feed(data),
            _ => Vec::new(),
        };
        match failure {
            None => p.log_failing = false,
            Some(e) => {
                let already = p.log_failing;
                self.log_failed(id, ch, "write", &e, already);
            }
        }
        for ev in events {
            if ev.kind == EventType::ProcessCommunicationStdout
                || ev.kind == EventType::ProcessCommunicationStderr
            {
                let name = self
                    .groups
                    .proc(id)
                    .map(|p| p.config.name.clone())
                    .unwrap_or_default();
                self.log.log(
                    LogLevel::Debug,
                    &format!(
                        "{} {} emitted a comm event",
                        spawn::py_repr(&name),
                        ch.name()
                    ),
                );
            }
            self.bus.publish(ev);
        }
        if !signals.is_empty() {
            self.listener_signals(id, signals);
        }
    }

    /// The child is gone: what capture mode held back is ordinary output,
    /// and a partial last line held back by line mode is written out.
    pub(in crate::daemon) fn flush_capture(&mut self, id: ProcId) {
        for ch in [Channel::Stdout, Channel::Stderr] {
            let Some(p) = self.groups.proc_mut(id) else {
                return;
            };
            if let Some(c) = p.capture.get_mut(ch as usize).and_then(Option::as_mut) {
                for piece in c.flush() {
                    if let crate::logs::capture::Piece::Data { bytes, .. } = piece
                        && let Some(log) = p.log_for(ch)
                    {
                        let _ = log.write(&bytes);
                    }
                }
            }
            if let Some(log) = p.log_for(ch) {
                let _ = log.flush_lines();
            }
        }
    }

    /// Supervisor's `log_to_mainlog` (loglevel debug or lower): each chunk
    /// a child writes is also logged at DEBG as `'name' stdout output:`
    /// followed by the data (ANSI-stripped under `strip_ansi`).
    pub(in crate::daemon) fn log_child_output(&mut self, name: &str, ch: Channel, n: usize) {
        let read = self.buf.get(..n).unwrap_or_default();
        let stripped;
        let data = if self.config.supervisord.strip_ansi {
            stripped = crate::logs::strip_ansi(read);
            stripped.as_slice()
        } else {
            read
        };
        if data.is_empty() {
            return;
        }
        let text = match std::str::from_utf8(data) {
            Ok(t) => t.to_string(),
            Err(_) => format!("Undecodable: {}", crate::events::listener::bytes_repr(data)),
        };
        let msg = format!("{} {} output:\n{text}", spawn::py_repr(name), ch.name());
        self.log.log(LogLevel::Debug, &msg);
    }

    pub(in crate::daemon) fn reopen_logs(&mut self) {
        // Supervisor's `reopenlogs`: this line still goes to the old file.
        self.log.log(LogLevel::Info, "supervisord logreopen");
        self.log.reopen();
        let mut failures = Vec::new();
        for g in self.groups.iter_mut() {
            for p in &mut g.processes {
                for ch in [Channel::Stdout, Channel::Stderr] {
                    if let Some(l) = p.log_for(ch)
                        && let Err(e) = l.reopen()
                    {
                        failures.push(format!(
                            "could not reopen {} log of '{}': {e}",
                            ch.name(),
                            p.config.name
                        ));
                    }
                }
            }
        }
        for f in failures {
            self.log.log(LogLevel::Error, &f);
        }
    }

    /// Write buffered stdin data without blocking; the rest waits for POLLOUT.
    pub(in crate::daemon) fn flush_stdin(&mut self, id: ProcId) -> std::io::Result<()> {
        let Some(p) = self.groups.proc_mut(id) else {
            return Ok(());
        };
        let Some(fd) = p.stdin.as_ref() else {
            p.stdin_buf.clear();
            return Ok(());
        };
        while !p.stdin_buf.is_empty() {
            let (a, _) = p.stdin_buf.as_slices();
            match nix::unistd::write(fd, a) {
                Ok(n) => {
                    p.stdin_buf.drain(..n);
                }
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    p.stdin_buf.clear();
                    p.stdin = None;
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }
}
