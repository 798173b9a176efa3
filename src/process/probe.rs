//! Readiness and liveness checks of one process (SPEC Part B): when the
//! next attempt is due, the attempt in flight and the results so far.
//!
//! Nothing here blocks: a `tcp://` or `http://` attempt is a non-blocking
//! socket that the daemon's loop polls (connect in progress, then the
//! request written, then the status line read), and an `exec:` attempt is
//! a child process the loop reaps.  The loop owns the clock and the
//! timeouts; this file only moves an attempt on when its fd is ready.

use crate::config::{Check, CheckTarget};
use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, SockFlag, SockType, SockaddrStorage, sockopt};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

/// Which of the two checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Readiness,
    Liveness,
}

/// The status line of an HTTP answer is read up to this many bytes.
const STATUS_LINE_MAX: usize = 1024;

/// The attempts in flight that the loop must route back to their probe,
/// by process id `Id`: sockets by fd (after poll), `exec:` children by pid
/// (after reaping; a killed one stays here until it is reaped, so it is
/// never taken for an unknown pid).
#[derive(Debug)]
pub struct InFlight<Id> {
    pub fds: std::collections::HashMap<RawFd, (Id, Kind)>,
    pub pids: std::collections::HashMap<i32, (Id, Kind)>,
}

impl<Id> Default for InFlight<Id> {
    fn default() -> Self {
        InFlight {
            fds: Default::default(),
            pids: Default::default(),
        }
    }
}

/// The checks of one process.
#[derive(Debug, Default)]
pub struct Probes {
    // Boxed: most processes have no checks, and every process carries
    // this record.
    pub readiness: Option<Box<Probe>>,
    pub liveness: Option<Box<Probe>>,
    /// A liveness restart is under way: start the process again once it
    /// has stopped.
    pub restart: bool,
}

impl Probes {
    /// The earliest moment this process's checks need the loop: an
    /// attempt to start or one to time out.  None when no check is active.
    pub fn deadline(&self) -> Option<Instant> {
        [self.readiness.as_deref(), self.liveness.as_deref()]
            .into_iter()
            .flatten()
            .filter_map(|probe| match &probe.attempt {
                Some(a) => Some(a.deadline),
                None => probe.next,
            })
            .min()
    }

    pub fn new(config: &crate::config::ProcessConfig) -> Probes {
        Probes {
            readiness: config
                .readiness
                .as_deref()
                .map(|c| Box::new(Probe::new(c.clone()))),
            liveness: config
                .liveness
                .as_deref()
                .map(|c| Box::new(Probe::new(c.clone()))),
            restart: false,
        }
    }

    pub fn get(&self, kind: Kind) -> Option<&Probe> {
        match kind {
            Kind::Readiness => self.readiness.as_deref(),
            Kind::Liveness => self.liveness.as_deref(),
        }
    }

    pub fn get_mut(&mut self, kind: Kind) -> Option<&mut Probe> {
        match kind {
            Kind::Readiness => self.readiness.as_deref_mut(),
            Kind::Liveness => self.liveness.as_deref_mut(),
        }
    }
}

/// One check of one process.
#[derive(Debug)]
pub struct Probe {
    pub check: Check,
    /// When the next attempt starts; None while the process is not RUNNING.
    pub next: Option<Instant>,
    /// The attempt in flight.
    pub attempt: Option<Attempt>,
    /// Failures in a row.
    pub fails: u32,
    /// The last attempt passed (for readiness: the process is ready).
    pub passed: bool,
}

/// An attempt in flight and its deadline.
#[derive(Debug)]
pub struct Attempt {
    pub started: Instant,
    pub deadline: Instant,
    pub io: Io,
}

/// What an attempt waits on.
#[derive(Debug)]
pub enum Io {
    /// A socket, in one of the stages of a tcp or http check.
    Socket { fd: OwnedFd, stage: Stage },
    /// An `exec:` child, reaped by the loop.
    Exec { pid: i32 },
}

/// Where a socket attempt stands.
#[derive(Debug)]
pub enum Stage {
    Connecting,
    Sending { request: Vec<u8>, sent: usize },
    Reading { got: Vec<u8> },
}

/// The outcome of moving an attempt on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Pending,
    Pass,
    Fail(String),
}

impl Probe {
    pub fn new(check: Check) -> Probe {
        Probe {
            check,
            next: None,
            attempt: None,
            fails: 0,
            passed: false,
        }
    }

    /// The fd to poll and the events to wait for, while a socket attempt
    /// is in flight.
    pub fn poll_fd(&self) -> Option<(RawFd, i16)> {
        match &self.attempt.as_ref()?.io {
            Io::Socket { fd, stage } => Some((
                fd.as_raw_fd(),
                match stage {
                    Stage::Connecting | Stage::Sending { .. } => libc::POLLOUT,
                    Stage::Reading { .. } => libc::POLLIN,
                },
            )),
            Io::Exec { .. } => None,
        }
    }

    /// Start a socket attempt (tcp or http) at `now`; an immediate result
    /// (a refused connection, a connected tcp check) needs no polling.
    pub fn start_socket(&mut self, now: Instant) -> Progress {
        let addr = match &self.check.target {
            CheckTarget::Tcp(a) | CheckTarget::Http { addr: a, .. } => *a,
            CheckTarget::Exec(_) => return Progress::Fail("not a socket check".into()),
        };
        let family = match addr {
            std::net::SocketAddr::V4(_) => socket::AddressFamily::Inet,
            std::net::SocketAddr::V6(_) => socket::AddressFamily::Inet6,
        };
        let fd = match socket::socket(
            family,
            SockType::Stream,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        ) {
            Ok(fd) => fd,
            Err(e) => return Progress::Fail(format!("cannot make a socket: {}", e.desc())),
        };
        let stage = match socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)) {
            Ok(()) => connected(&self.check.target),
            Err(Errno::EINPROGRESS) | Err(Errno::EINTR) => Stage::Connecting,
            Err(e) => return Progress::Fail(refused(e)),
        };
        self.attempt = Some(Attempt {
            started: now,
            deadline: now + self.check.timeout,
            io: Io::Socket { fd, stage },
        });
        self.socket_step()
    }

    /// Record an `exec:` attempt started at `now`.
    pub fn start_exec(&mut self, pid: i32, now: Instant) {
        self.attempt = Some(Attempt {
            started: now,
            deadline: now + self.check.timeout,
            io: Io::Exec { pid },
        });
    }

    /// Move a socket attempt on as far as it goes without blocking.
    pub fn socket_step(&mut self) -> Progress {
        let target = &self.check.target;
        let Some(Attempt {
            io: Io::Socket { fd, stage },
            ..
        }) = self.attempt.as_mut()
        else {
            return Progress::Fail("no attempt in flight".into());
        };
        loop {
            match stage {
                Stage::Connecting => {
                    match socket::getsockopt(&*fd, sockopt::SocketError) {
                        Ok(0) => {}
                        Ok(code) => return Progress::Fail(refused(Errno::from_raw(code))),
                        Err(e) => return Progress::Fail(refused(e)),
                    }
                    match socket::getpeername::<SockaddrStorage>(fd.as_raw_fd()) {
                        Ok(_) => *stage = connected(target),
                        // Still connecting: poll says when.
                        Err(Errno::ENOTCONN) => return Progress::Pending,
                        Err(e) => return Progress::Fail(refused(e)),
                    }
                }
                Stage::Sending { request, sent } => {
                    let rest = request.get(*sent..).unwrap_or_default();
                    if rest.is_empty() {
                        *stage = Stage::Reading { got: Vec::new() };
                        continue;
                    }
                    match socket::send(fd.as_raw_fd(), rest, MsgFlags::MSG_NOSIGNAL) {
                        Ok(n) => *sent += n,
                        Err(Errno::EAGAIN) | Err(Errno::EINTR) => return Progress::Pending,
                        Err(e) => {
                            return Progress::Fail(format!(
                                "cannot send the request: {}",
                                e.desc()
                            ));
                        }
                    }
                }
                Stage::Reading { .. } if matches!(target, CheckTarget::Tcp(_)) => {
                    return Progress::Pass;
                }
                Stage::Reading { got } => {
                    let mut buf = [0u8; 512];
                    match socket::recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                        Ok(0) => return status(got, true),
                        Ok(n) => {
                            got.extend_from_slice(buf.get(..n).unwrap_or_default());
                            match status(got, false) {
                                Progress::Pending => {}
                                done => return done,
                            }
                        }
                        Err(Errno::EAGAIN) | Err(Errno::EINTR) => return Progress::Pending,
                        Err(e) => {
                            return Progress::Fail(format!("cannot read the answer: {}", e.desc()));
                        }
                    }
                }
            }
        }
    }
}

/// The stage after the connection is made: done for tcp, the request for
/// http.
fn connected(target: &CheckTarget) -> Stage {
    match target {
        CheckTarget::Http { host, path, .. } => Stage::Sending {
            request: format!(
                "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: supervisord-check\r\nConnection: close\r\n\r\n"
            )
            .into_bytes(),
            sent: 0,
        },
        _ => Stage::Reading { got: Vec::new() },
    }
}

/// A failed connection in words.
fn refused(e: Errno) -> String {
    match e {
        Errno::ECONNREFUSED => "connection refused".into(),
        e => format!("cannot connect: {}", e.desc()),
    }
}

/// The verdict of an HTTP answer read so far: pass on a 2xx status line;
/// pending until the line is complete, unless the peer closed (`eof`).
pub fn status(got: &[u8], eof: bool) -> Progress {
    let Some(end) = got.iter().position(|&b| b == b'\n') else {
        if eof || got.len() >= STATUS_LINE_MAX {
            return Progress::Fail(if got.is_empty() {
                "the server closed the connection without an answer".into()
            } else {
                "no HTTP status line in the answer".into()
            });
        }
        return Progress::Pending;
    };
    let line = String::from_utf8_lossy(got.get(..end).unwrap_or_default());
    let mut words = line.split_whitespace();
    let code = match (words.next(), words.next()) {
        (Some(v), Some(c)) if v.starts_with("HTTP/") && c.len() == 3 => c.parse::<u16>().ok(),
        _ => None,
    };
    match code {
        Some(c) if (200..300).contains(&c) => Progress::Pass,
        Some(c) => Progress::Fail(format!("HTTP status {c}")),
        None => Progress::Fail(format!(
            "not an HTTP status line: {:?}",
            line.chars().take(80).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 200 OK\r\n", false), Progress::Pass);
        assert_eq!(status(b"HTTP/1.0 204 No Content\n", false), Progress::Pass);
        assert_eq!(
            status(b"HTTP/1.1 500 Oops\r\n", false),
            Progress::Fail("HTTP status 500".into())
        );
        assert_eq!(
            status(b"HTTP/1.1 301 Moved\r\n", false),
            Progress::Fail("HTTP status 301".into())
        );
        assert_eq!(status(b"HTTP/1.1 20", false), Progress::Pending);
        assert!(matches!(status(b"HTTP/1.1 20", true), Progress::Fail(_)));
        assert!(matches!(status(b"", true), Progress::Fail(_)));
        assert!(matches!(
            status(b"SSH-2.0-OpenSSH\r\n", false),
            Progress::Fail(_)
        ));
        assert!(matches!(status(&[b'x'; 2000], false), Progress::Fail(_)));
    }
}
