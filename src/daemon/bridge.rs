//! Messages between HTTP threads and the loop: a channel plus a wake-up pipe.

use crate::process::Channel;
use crate::rpc::{Fault, Value};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};

pub type RpcResult = Result<Value, Fault>;

/// What a health probe asks (`/healthz`, `/readyz`, `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthQuery {
    Healthz,
    /// `?program=` as given (comma-separated namespecs), if any.
    Readyz(Option<String>),
    Metrics,
}

/// The loop's answer to a health probe: HTTP status and text body.
pub type HealthAnswer = (u16, String);

/// Which log a log-tail request wants.
#[derive(Debug, Clone)]
pub enum LogWhat {
    Main,
    Process(String, Channel),
}

/// A message from an HTTP thread to the loop.
pub enum LoopMsg {
    Call {
        method: String,
        params: Vec<Value>,
        /// An answer already encoded as an XML-RPC response body will do
        /// (the RPC server); false when the caller wants the value.
        encoded: bool,
        reply: Sender<Answer>,
    },
    /// Resolve a log file path for `/logtail` and `/mainlogtail`:
    /// Err(404) for an unknown name or a missing file.
    LogPath {
        what: LogWhat,
        reply: Sender<Option<PathBuf>>,
    },
    /// `/healthz`, `/readyz`, `/metrics`.
    Health {
        query: HealthQuery,
        reply: Sender<HealthAnswer>,
    },
}

/// The HTTP side's way into the loop: a channel plus a wake-up pipe.
#[derive(Clone)]
pub struct LoopHandle {
    tx: Sender<LoopMsg>,
    wake: Arc<OwnedFd>,
    /// Calls sent but not yet answered on the wire (shutdown waits for them).
    pub in_flight: Arc<AtomicUsize>,
}

impl LoopHandle {
    /// Send a message and wake the loop; false if the loop is gone.
    pub fn send(&self, msg: LoopMsg) -> bool {
        if self.tx.send(msg).is_err() {
            return false;
        }
        // A full pipe already means "wake up"; nothing else can go wrong here.
        let _ = nix::unistd::write(&*self.wake, b"x");
        true
    }

    /// Run one RPC call on the loop and wait for its answer (deferred calls
    /// included); `None` if the loop is gone.  Counted in `in_flight` so that
    /// shutdown waits for the answer to go out.
    pub fn call(&self, method: String, params: Vec<Value>, encoded: bool) -> Option<Answer> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let answer = if self.send(LoopMsg::Call {
            method,
            params,
            encoded,
            reply: tx,
        }) {
            rx.recv().ok()
        } else {
            None
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        answer
    }
}

/// The loop's end of the bridge.
pub struct Bridge {
    rx: Receiver<LoopMsg>,
    wake_r: OwnedFd,
    pub handle: LoopHandle,
}

impl Bridge {
    pub fn new() -> std::io::Result<Bridge> {
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(std::io::Error::from)?;
        let (tx, rx) = std::sync::mpsc::channel();
        Ok(Bridge {
            rx,
            wake_r: r,
            handle: LoopHandle {
                tx,
                wake: Arc::new(w),
                in_flight: Arc::new(AtomicUsize::new(0)),
            },
        })
    }

    pub fn fd(&self) -> i32 {
        self.wake_r.as_raw_fd()
    }

    /// Empty the wake pipe and take every queued message.
    pub fn drain(&self) -> Vec<LoopMsg> {
        let mut buf = [0u8; 512];
        while let Ok(n) = nix::unistd::read(&self.wake_r, &mut buf) {
            if n < buf.len() {
                break;
            }
        }
        self.rx.try_iter().collect()
    }
}

/// What goes back to an HTTP thread: a result to encode there, or a
/// response body the loop already encoded (the hot path).
pub enum Answer {
    Result(RpcResult),
    Body(std::sync::Arc<Vec<u8>>),
}
