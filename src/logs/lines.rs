//! Line mode of a child's log (SPEC Part B `log_prefix`, `log_format=json`)
//! and the JSON form of the daemon's own lines.
//!
//! In line mode, output reaches the log target as whole lines only: each
//! read of the child's pipe gives the complete lines it holds (with what
//! earlier reads left), each prefixed or made one JSON object, written in
//! one piece; the incomplete last line waits for its newline, or for the
//! process's exit ([`Lines::flush`], newline added).  The daemon writes each
//! formatted batch before it reads anything else, so programs sharing one
//! target (the daemon's stdout) never cut each other's lines.  A line
//! longer than [`MAX_LINE`] is cut into pieces of at most that many bytes
//! (at a UTF-8 boundary when it can), each but the last marked: text gets
//! [`SPLIT_MARK`] at its end, JSON a `"partial":true` key.

use crate::config::{LogFormat, LogLevel, ProcessConfig};
use serde::Serialize;
use std::time::SystemTime;

/// The longest line written in one piece (bytes of the program's output).
pub const MAX_LINE: usize = 64 << 10;
/// The end of every piece of a split line but the last (text format).
pub const SPLIT_MARK: &[u8] = b" [continued]";

/// One line of a child's output as JSON (SPEC B1).
#[derive(Serialize)]
struct ChildLine<'a> {
    time: &'a str,
    program: &'a str,
    stream: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    partial: bool,
}

/// One of the daemon's own lines as JSON (SPEC B1: `level`, no `program`).
#[derive(Serialize)]
struct DaemonLine<'a> {
    time: &'a str,
    level: &'a str,
    message: &'a str,
}

/// `loglevel=` spelling of a level, for the `level` key.
fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Blather => "blather",
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
        LogLevel::Critical => "critical",
    }
}

/// Serialize `v` and a newline onto `out`; on failure (not possible for
/// these string-only records) `out` is left as it was.
fn push_json<T: Serialize>(out: &mut Vec<u8>, v: &T) {
    let len = out.len();
    match serde_json::to_writer(&mut *out, v) {
        Ok(()) => out.push(b'\n'),
        Err(_) => out.truncate(len),
    }
}

/// The daemon's line `msg` at `level` as one JSON object and a newline.
pub(super) fn daemon_json(level: LogLevel, time: SystemTime, msg: &str) -> String {
    let mut out = Vec::with_capacity(msg.len() + 64);
    let time = super::timefmt::rfc3339_utc(time);
    push_json(
        &mut out,
        &DaemonLine {
            time: &time,
            level: level_name(level),
            message: msg,
        },
    );
    String::from_utf8(out).unwrap_or_default()
}

/// Where to cut a line longer than `max`: at `max`, moved back to the
/// start of a UTF-8 character cut in the middle (at most 3 bytes back).
fn cut_at(line: &[u8], max: usize) -> usize {
    if line.len() <= max {
        return line.len();
    }
    (max.saturating_sub(3)..=max)
        .rev()
        .find(|&i| i > 0 && line.get(i).is_some_and(|b| b & 0xC0 != 0x80))
        .unwrap_or(max)
}

thread_local! {
    /// The output buffer that every line-mode log of the thread formats
    /// into (see [`Lines::feed_with`]).
    static SHARED_OUT: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// One channel's line mode: formatting and the held-back partial line.
#[derive(Debug)]
pub struct Lines {
    prefix: Vec<u8>,
    /// `(program, stream)` for JSON; `None` for text.
    json: Option<(String, &'static str)>,
    /// The incomplete last line, waiting for its newline.
    partial: Vec<u8>,
    /// The formatted lines of the current call (reused).
    out: Vec<u8>,
    /// JSON: everything before the message, with the `time` of the
    /// current call (one per read); empty until needed.
    head: Vec<u8>,
    /// JSON: the prefix, escaped, starting every message.
    json_prefix: Vec<u8>,
    /// What ends a line and starts the next in the current read: the
    /// line's tail, then what starts every line (see `ready_lead`).
    sep: Vec<u8>,
    /// For escaping (reused).
    scratch: Vec<u8>,
}

impl Lines {
    /// `prefix` before every line; `json`: `(program, stream)` for JSON.
    pub fn new(prefix: &str, json: Option<(String, &'static str)>) -> Lines {
        let mut json_prefix = Vec::new();
        push_json_str_body(&mut json_prefix, prefix.as_bytes(), &mut Vec::new());
        Lines {
            prefix: prefix.as_bytes().to_vec(),
            json,
            partial: Vec::new(),
            out: Vec::new(),
            head: Vec::new(),
            json_prefix,
            sep: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The line mode of channel `ch` (0 stdout, 1 stderr) of a process,
    /// if it has one (plain text without a prefix passes raw bytes).
    pub fn for_process(cfg: &ProcessConfig, ch: usize) -> Option<Lines> {
        if !cfg.lines.by_line() {
            return None;
        }
        let prefix = cfg
            .lines
            .prefix
            .as_ref()
            .and_then(|p| p.get(ch))
            .map_or("", String::as_str);
        let stream = if ch == 0 { "stdout" } else { "stderr" };
        let json = (cfg.lines.format == LogFormat::Json).then(|| (cfg.name.clone(), stream));
        Some(Lines::new(prefix, json))
    }

    /// The complete lines of what was held back plus `data`, formatted;
    /// an incomplete last line is held back (or cut if over [`MAX_LINE`]).
    pub fn feed(&mut self, data: &[u8]) -> &[u8] {
        self.out.clear();
        self.head.clear();
        let mut rest = data;
        // The line held back by earlier reads, completed.
        if !self.partial.is_empty()
            && let Some(i) = memchr::memchr(b'\n', rest)
        {
            let mut held = std::mem::take(&mut self.partial);
            held.extend_from_slice(rest.get(..i).unwrap_or_default());
            self.line(&held);
            held.clear();
            self.partial = held;
            rest = rest.get(i + 1..).unwrap_or_default();
        }
        // JSON on x86-64: one SSE2 pass finds the newlines and the bytes
        // that need escaping together, formatting the lines on the way up
        // to the first 16 bytes that hold such a byte; the rest below.
        #[cfg(target_arch = "x86_64")]
        if self.json.is_some() {
            // SAFETY: SSE2 is part of the x86-64 baseline: every CPU that
            // runs this code has it.
            let done = unsafe { self.json_lines_sse2(rest) };
            rest = rest.get(done..).unwrap_or_default();
        }
        // The hot path: one check of the whole read, then per line only
        // the newline search and two copies (the line, then its tail joined
        // with the next line's start, which is taken back after the last
        // line).  JSON lines need escaping only when the read has a byte
        // that needs it.
        let fast = match &self.json {
            None => true,
            Some(_) => !needs_escape_but_newlines(rest),
        };
        let lead_len = if fast { self.start_fast() } else { 0 };
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', rest) {
            let line = rest.get(start..i).unwrap_or_default();
            start = i + 1;
            if fast {
                self.fast_line(line, lead_len);
            } else {
                self.line(line);
            }
        }
        self.out.truncate(self.out.len() - lead_len);
        self.partial
            .extend_from_slice(rest.get(start..).unwrap_or_default());
        if self.partial.len() > MAX_LINE {
            let held = std::mem::take(&mut self.partial);
            let mut start = 0;
            while held.len() - start > MAX_LINE {
                let n = cut_at(&held[start..], MAX_LINE);
                self.piece(&held[start..start + n], true);
                start += n;
            }
            self.partial = held[start..].to_vec();
        }
        if self.partial.capacity() > 4 * MAX_LINE {
            self.partial.shrink_to(2 * MAX_LINE);
        }
        &self.out
    }

    /// Ready the hot path: `sep` built and the first line's start in
    /// `out`, whose length is returned (taken back after the last line).
    fn start_fast(&mut self) -> usize {
        self.ready_lead();
        let lead = self.sep.get(self.tail_len()..).unwrap_or_default();
        self.out.extend_from_slice(lead);
        lead.len()
    }

    /// `"}\n` or `\n`: what ends a line.
    fn tail_len(&self) -> usize {
        if self.json.is_some() { 3 } else { 1 }
    }

    /// One line on the hot path (`out` ends with its start).
    fn fast_line(&mut self, line: &[u8], lead_len: usize) {
        if line.len() <= MAX_LINE {
            self.out.extend_from_slice(line);
            self.out.extend_from_slice(&self.sep);
        } else {
            // Too long: not this line's start after all, it is cut.
            self.out.truncate(self.out.len() - lead_len);
            self.line(line);
            let lead = self.sep.get(self.tail_len()..).unwrap_or_default();
            self.out.extend_from_slice(lead);
        }
    }

    /// The JSON lines of `rest` that end before its first 16-byte block
    /// holding a byte to escape, formatted on the hot path; returns where
    /// the others start.  Each block is compared once for newlines and for
    /// bytes to escape: 0.28 s per GiB of 64-byte lines in a unit timing,
    /// against 0.33 for the escape check and memchr's newline search in
    /// two passes.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    fn json_lines_sse2(&mut self, rest: &[u8]) -> usize {
        use std::arch::x86_64::{
            _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        let lead_len = self.start_fast();
        let newline = _mm_set1_epi8(b'\n' as i8);
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let space = _mm_set1_epi8(0x20);
        let mut start = 0;
        let mut base = 0;
        for block in rest.chunks_exact(16) {
            // SAFETY: `block` is 16 readable bytes; the load needs no
            // alignment.
            let v = unsafe { _mm_loadu_si128(block.as_ptr().cast()) };
            let ends = _mm_cmpeq_epi8(v, newline);
            // A signed compare: bytes from 0x80 up are negative, so they
            // count as below 0x20 too (non-ASCII goes the careful way).
            let control = _mm_andnot_si128(ends, _mm_cmplt_epi8(v, space));
            let to_escape = _mm_or_si128(
                control,
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
            );
            if _mm_movemask_epi8(to_escape) != 0 {
                break;
            }
            let mut ends = _mm_movemask_epi8(ends) as u32;
            while ends != 0 {
                let i = base + ends.trailing_zeros() as usize;
                ends &= ends - 1;
                self.fast_line(rest.get(start..i).unwrap_or_default(), lead_len);
                start = i + 1;
            }
            base += 16;
        }
        self.out.truncate(self.out.len() - lead_len);
        start
    }

    /// `sep` for this read: a line's tail (`"}` or nothing, then the
    /// newline) and what starts every line: the prefix, or for JSON
    /// everything up to the message (its time is this read's) and the
    /// escaped prefix.
    fn ready_lead(&mut self) {
        self.sep.clear();
        if self.json.is_some() {
            self.ready_head();
            self.sep.extend_from_slice(b"\"}\n");
            self.sep.extend_from_slice(&self.head);
            self.sep.extend_from_slice(&self.json_prefix);
        } else {
            self.sep.push(b'\n');
            self.sep.extend_from_slice(&self.prefix);
        }
    }

    /// JSON: what serde_json writes before the message, built once per
    /// read: `{"time":"...","program":"...","stream":"...","message":"`.
    fn ready_head(&mut self) {
        let Some((program, stream)) = &self.json else {
            return;
        };
        if !self.head.is_empty() {
            return;
        }
        let time = super::timefmt::rfc3339_utc(SystemTime::now());
        push_json(
            &mut self.head,
            &ChildLine {
                time: &time,
                program,
                stream,
                message: "",
                partial: false,
            },
        );
        self.head
            .truncate(self.head.len().saturating_sub(b"\"}\n".len()));
    }

    /// [`feed`](Self::feed), the formatted lines handed to `write` in the
    /// thread's shared output buffer: one buffer for every line-mode log
    /// of the daemon's loop, not one per process (a 256 KiB read of 64-byte
    /// JSON lines makes 600 KiB), dropped when a burst grew it past 1 MiB
    /// (short lines with long prefixes take many times their bytes).
    pub fn feed_with<R>(&mut self, data: &[u8], write: impl FnOnce(&[u8]) -> R) -> R {
        self.with_shared_out(
            |l| {
                l.feed(data);
            },
            write,
        )
    }

    /// [`flush`](Self::flush), handed to `write` as in
    /// [`feed_with`](Self::feed_with).
    pub fn flush_with<R>(&mut self, write: impl FnOnce(&[u8]) -> R) -> R {
        self.with_shared_out(
            |l| {
                l.flush();
            },
            write,
        )
    }

    fn with_shared_out<R>(
        &mut self,
        format: impl FnOnce(&mut Self),
        write: impl FnOnce(&[u8]) -> R,
    ) -> R {
        let mut shared = SHARED_OUT.take();
        std::mem::swap(&mut self.out, &mut shared);
        format(self);
        let r = write(&self.out);
        let mut out = std::mem::replace(&mut self.out, shared);
        if out.capacity() > 1 << 20 {
            out = Vec::new();
        }
        SHARED_OUT.set(out);
        r
    }

    #[cfg(test)]
    pub fn out_capacity(&self) -> usize {
        self.out.capacity()
    }

    #[cfg(test)]
    pub fn shared_out_capacity() -> usize {
        let out = SHARED_OUT.take();
        let cap = out.capacity();
        SHARED_OUT.set(out);
        cap
    }

    /// The process is gone: the held-back partial line, newline-terminated.
    pub fn flush(&mut self) -> &[u8] {
        self.out.clear();
        self.head.clear();
        if !self.partial.is_empty() {
            let held = std::mem::take(&mut self.partial);
            self.piece(&held, false);
        }
        &self.out
    }

    /// A whole line (without its newline), cut if too long.
    fn line(&mut self, mut line: &[u8]) {
        while line.len() > MAX_LINE {
            let n = cut_at(line, MAX_LINE);
            self.piece(&line[..n], true);
            line = &line[n..];
        }
        self.piece(line, false);
    }

    /// One output line; `split`: more of the same line follows.
    fn piece(&mut self, piece: &[u8], split: bool) {
        if self.json.is_none() {
            self.out.extend_from_slice(&self.prefix);
            self.out.extend_from_slice(piece);
            if split {
                self.out.extend_from_slice(SPLIT_MARK);
            }
            self.out.push(b'\n');
            return;
        }
        self.ready_head();
        self.out.extend_from_slice(&self.head);
        self.out.extend_from_slice(&self.json_prefix);
        push_json_str_body(&mut self.out, piece, &mut self.scratch);
        self.out.extend_from_slice(if split {
            b"\",\"partial\":true}\n"
        } else {
            b"\"}\n"
        });
    }
}

/// Whether JSON needs more than a copy of `bytes`: a control character,
/// `"` or `\\` to escape, or non-ASCII to check.
fn needs_escape(bytes: &[u8]) -> bool {
    any_to_escape::<false>(bytes)
}

/// [`needs_escape`] over a whole read, where newlines are the line ends.
fn needs_escape_but_newlines(bytes: &[u8]) -> bool {
    any_to_escape::<true>(bytes)
}

/// A byte JSON cannot copy as it is (`NL`: a newline can).
#[inline(always)]
fn to_escape<const NL: bool>(b: u8) -> bool {
    (b < 0x20 && !(NL && b == b'\n')) | (b >= 0x80) | (b == b'"') | (b == b'\\')
}

/// Tested 32 bytes at a time, OR-ed without a branch inside a chunk, which
/// the compiler turns into vector compares with the baseline x86-64 (SSE2)
/// instruction set: about 0.09 s per GiB of 64-byte lines here, against
/// 0.40 s for eight bytes at a time with word arithmetic.
fn any_to_escape<const NL: bool>(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(32);
    for c in &mut chunks {
        let mut acc = false;
        for &b in c {
            acc |= to_escape::<NL>(b);
        }
        if acc {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| to_escape::<NL>(b))
}

/// `bytes` as the inside of a JSON string, exactly as serde_json writes
/// it (invalid UTF-8 replaced by U+FFFD): copied as they are when nothing
/// needs escaping (the common case, and the fast one), else through
/// serde_json, using `scratch`.
fn push_json_str_body(out: &mut Vec<u8>, bytes: &[u8], scratch: &mut Vec<u8>) {
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    scratch.clear();
    if serde_json::to_writer(&mut *scratch, &String::from_utf8_lossy(bytes)).is_ok() {
        // Without the quotes around it.
        out.extend_from_slice(
            scratch
                .get(1..scratch.len().saturating_sub(1))
                .unwrap_or_default(),
        );
    }
}

#[cfg(test)]
#[path = "lines_tests.rs"]
mod tests;
