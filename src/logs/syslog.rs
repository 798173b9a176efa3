//! Syslog output (`[supervisord] logfile=syslog`, `stdout_syslog=true`).
//!
//! Supervisor calls Python's `syslog.syslog(msg)` without `openlog`, so every
//! line goes out as facility `user`, severity `info`, ident `supervisord`, no
//! pid: glibc then sends `<14>Jan  2 03:04:05 supervisord: msg` to the
//! `/dev/log` datagram socket.  We send the same bytes ourselves.
//!
//! The socket is non-blocking: a stalled syslog daemon drops lines instead of
//! freezing PID 1.  When `/dev/log` is missing (typical in containers) lines
//! go to stderr and one warning says so; the socket is retried every few
//! seconds, so a syslog daemon started later is picked up.

use super::timefmt::{epoch_parts, strftime_local};
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Where glibc's `syslog(3)` sends messages.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";
/// The ident Python's `syslog` module derives from `argv[0]`.
const IDENT: &str = "supervisord";
/// `LOG_USER | LOG_INFO` (14), as a message prefix.
const PRI_USER_INFO: &[u8] = b"<14>";
const RETRY_AFTER: Duration = Duration::from_secs(10);
/// Size a message is cut to when the socket refuses it as too large.
const TRUNCATE_TO: usize = 8192;

/// One warning per process about the missing syslog socket.
static STDERR_WARNED: AtomicBool = AtomicBool::new(false);

#[derive(Debug)]
enum Fallback {
    Stderr,
    #[cfg(test)]
    Capture(Vec<u8>),
}

/// A connection to the local syslog socket with stderr fallback.
#[derive(Debug)]
pub struct SyslogWriter {
    socket_path: PathBuf,
    sock: Option<UnixDatagram>,
    retry_at: Option<Instant>,
    warned: bool,
    fallback: Fallback,
    /// Reused message buffer: header then body.
    buf: Vec<u8>,
    /// Cached `Jan  2 03:04:05` for `header_secs`.
    header_secs: i64,
    header_time: String,
    /// Lines dropped because the syslog daemon's queue was full.
    dropped: u64,
}

impl Default for SyslogWriter {
    fn default() -> Self {
        SyslogWriter::new()
    }
}

impl SyslogWriter {
    /// Writer for `/dev/log`.  Connects lazily, on the first message.
    pub fn new() -> SyslogWriter {
        SyslogWriter::with_socket(Path::new(DEFAULT_SYSLOG_SOCKET))
    }

    pub(crate) fn with_socket(path: &Path) -> SyslogWriter {
        SyslogWriter {
            socket_path: path.to_path_buf(),
            sock: None,
            retry_at: None,
            warned: false,
            fallback: Fallback::Stderr,
            buf: Vec::new(),
            header_secs: i64::MIN,
            header_time: String::new(),
            dropped: 0,
        }
    }

    #[cfg(test)]
    fn capturing(path: &Path) -> SyslogWriter {
        let mut w = SyslogWriter::with_socket(path);
        w.fallback = Fallback::Capture(Vec::new());
        w
    }

    #[cfg(test)]
    /// Lines dropped because the syslog socket was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    #[cfg(test)]
    /// Send one message (no newline splitting).
    pub fn send(&mut self, body: &[u8]) {
        self.send_prefixed(b"", body);
    }

    /// Supervisor's `SyslogHandler.emit`: strip trailing newlines, split on
    /// `\n`, send each line as `prefix + line`.
    pub fn send_lines(&mut self, prefix: &[u8], data: &[u8]) {
        let mut end = data.len();
        while end > 0 && data[end - 1] == b'\n' {
            end -= 1;
        }
        for line in data[..end].split(|&b| b == b'\n') {
            self.send_prefixed(prefix, line);
        }
    }

    fn send_prefixed(&mut self, prefix: &[u8], body: &[u8]) {
        let (secs, _) = epoch_parts(SystemTime::now());
        if secs != self.header_secs {
            self.header_secs = secs;
            self.header_time = strftime_local("%b %e %H:%M:%S", secs);
        }
        self.buf.clear();
        // `<14>Jan  2 03:04:05 supervisord: `
        self.buf.extend_from_slice(PRI_USER_INFO);
        self.buf.extend_from_slice(self.header_time.as_bytes());
        self.buf.push(b' ');
        self.buf.extend_from_slice(IDENT.as_bytes());
        self.buf.extend_from_slice(b": ");
        let body_start = self.buf.len();
        self.buf.extend_from_slice(prefix);
        self.buf.extend_from_slice(body);
        self.deliver(body_start);
    }

    fn try_connect(&mut self) -> bool {
        if let Some(at) = self.retry_at
            && Instant::now() < at
        {
            return false;
        }
        let res = UnixDatagram::unbound().and_then(|s| {
            s.connect(&self.socket_path)?;
            s.set_nonblocking(true)?;
            Ok(s)
        });
        match res {
            Ok(s) => {
                self.sock = Some(s);
                self.retry_at = None;
                true
            }
            Err(e) => {
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
                self.warn_once(&e);
                false
            }
        }
    }

    fn deliver(&mut self, body_start: usize) {
        for _ in 0..3 {
            if self.sock.is_none() && !self.try_connect() {
                break;
            }
            let Some(sock) = self.sock.as_ref() else {
                break;
            };
            match sock.send(&self.buf) {
                Ok(_) => return,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.dropped += 1;
                    return;
                }
                Err(e)
                    if e.raw_os_error() == Some(libc::EMSGSIZE) && self.buf.len() > TRUNCATE_TO =>
                {
                    self.buf.truncate(TRUNCATE_TO);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // The syslog daemon went away or restarted: reconnect now.
                    self.sock = None;
                    self.retry_at = None;
                }
            }
        }
        let body_start = body_start.min(self.buf.len());
        self.buf.push(b'\n');
        match &mut self.fallback {
            Fallback::Stderr => {
                let _ = io::stderr().write_all(&self.buf[body_start..]);
            }
            #[cfg(test)]
            Fallback::Capture(v) => v.extend_from_slice(&self.buf[body_start..]),
        }
    }

    fn warn_once(&mut self, err: &io::Error) {
        if self.warned {
            return;
        }
        self.warned = true;
        let msg = format!(
            "supervisord: cannot use syslog socket {}: {err}; syslog lines go to stderr\n",
            self.socket_path.display()
        );
        match &mut self.fallback {
            Fallback::Stderr => {
                if !STDERR_WARNED.swap(true, Ordering::Relaxed) {
                    let _ = io::stderr().write_all(msg.as_bytes());
                }
            }
            #[cfg(test)]
            Fallback::Capture(v) => v.extend_from_slice(msg.as_bytes()),
        }
    }

    #[cfg(test)]
    fn captured(&self) -> &[u8] {
        match &self.fallback {
            Fallback::Stderr => b"",
            Fallback::Capture(v) => v,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A bound datagram socket standing in for `/dev/log`.
    pub(crate) struct FakeSyslog {
        pub sock: UnixDatagram,
        pub path: PathBuf,
        _dir: tempfile::TempDir,
    }

    impl FakeSyslog {
        pub fn new() -> FakeSyslog {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("log");
            let sock = UnixDatagram::bind(&path).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            FakeSyslog {
                sock,
                path,
                _dir: dir,
            }
        }

        pub fn recv_all(&self) -> Vec<String> {
            self.sock.set_nonblocking(true).unwrap();
            let mut out = Vec::new();
            let mut buf = vec![0u8; 300_000];
            while let Ok(n) = self.sock.recv(&mut buf) {
                out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            out
        }
    }

    /// Split `<14>Jan  2 03:04:05 supervisord: body` and check the header.
    pub(crate) fn body_of(msg: &str) -> &str {
        let rest = msg.strip_prefix("<14>").expect("priority");
        // `%b %e %H:%M:%S` is always 15 characters.
        let (ts, rest) = rest.split_at(15);
        let b = ts.as_bytes();
        assert!(
            b[0].is_ascii_uppercase() && b[3] == b' ',
            "timestamp {ts:?}"
        );
        assert_eq!(&ts[6..7], " ");
        assert_eq!(&ts[9..10], ":");
        rest.strip_prefix(" supervisord: ").expect("ident")
    }

    #[test]
    fn message_format_is_rfc3164_like_glibc() {
        let fake = FakeSyslog::new();
        let mut w = SyslogWriter::capturing(&fake.path);
        w.send(b"2026-01-12 06:42:25,426 INFO hello");
        let msgs = fake.recv_all();
        assert_eq!(msgs.len(), 1);
        assert_eq!(body_of(&msgs[0]), "2026-01-12 06:42:25,426 INFO hello");
        let now = strftime_local("%b %e", epoch_parts(SystemTime::now()).0);
        assert!(msgs[0][4..].starts_with(&now));
        assert!(w.captured().is_empty());
    }

    #[test]
    fn lines_are_split_and_prefixed() {
        let fake = FakeSyslog::new();
        let mut w = SyslogWriter::capturing(&fake.path);
        w.send_lines(b"web ", b"one\ntwo\n\nthree\n\n\n");
        w.send_lines(b"web ", b"\n");
        let msgs = fake.recv_all();
        let bodies: Vec<&str> = msgs.iter().map(|m| body_of(m)).collect();
        assert_eq!(
            bodies,
            vec!["web one", "web two", "web ", "web three", "web "]
        );
    }

    #[test]
    fn missing_socket_falls_back_with_one_warning() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SyslogWriter::capturing(&dir.path().join("nope"));
        w.send_lines(b"web ", b"a\nb\n");
        w.send(b"c");
        let got = String::from_utf8(w.captured().to_vec()).unwrap();
        assert_eq!(got.matches("cannot use syslog socket").count(), 1, "{got}");
        assert!(got.ends_with("web a\nweb b\nc\n"), "{got}");
    }

    #[test]
    fn reconnects_after_the_daemon_restarts() {
        let fake = FakeSyslog::new();
        let mut w = SyslogWriter::capturing(&fake.path);
        w.send(b"one");
        assert_eq!(fake.recv_all().len(), 1);
        // Restart: the old socket disappears, a new one is bound at the path.
        let path = fake.path.clone();
        drop(fake.sock);
        std::fs::remove_file(&path).unwrap();
        let again = UnixDatagram::bind(&path).unwrap();
        again.set_nonblocking(true).unwrap();
        w.send(b"two");
        let mut buf = [0u8; 256];
        let n = again.recv(&mut buf).unwrap();
        assert_eq!(body_of(std::str::from_utf8(&buf[..n]).unwrap()), "two");
        assert!(w.captured().is_empty());
    }

    #[test]
    fn full_socket_drops_instead_of_blocking() {
        let fake = FakeSyslog::new();
        let mut w = SyslogWriter::capturing(&fake.path);
        let line = vec![b'x'; 4096];
        for _ in 0..2000 {
            w.send(&line);
        }
        assert!(w.dropped() > 0);
        assert!(!fake.recv_all().is_empty());
    }
}
