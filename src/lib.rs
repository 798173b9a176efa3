//! supervisor-rs: Supervisor's `supervisord`, rebuilt in Rust for containers.
//!
//! Data flow (one thread owns all state; see `daemon`):
//!
//! ```text
//! kernel --SIGCHLD--> signal handler writes 1 byte to the self-pipe
//! daemon loop: poll() wakes (timeout = earliest deadline, never a fixed tick)
//!   1. drain signals            2. reap every child (waitpid(-1, WNOHANG) until 0)
//!   3. pid -> process, drain its pipes into its logs
//!   4. process::state::step(..., Input::Exited) -> effects
//!   5. one emitter turns each state change into an Event on the bus
//!   6. effects run (spawn, kill); the next deadline becomes poll's timeout
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

// Public: what the binary runs (cli, ctl, daemon, pidproxy) and what
// clients of the XML-RPC interface reuse (rpc, base64, the `{SHA}` hash).
// Everything else is crate-private, so unused code is reported.
pub mod base64;
pub mod cli;
pub(crate) mod config;
pub mod ctl;
pub mod daemon;
pub(crate) mod events;
pub(crate) mod http;
pub(crate) mod logs;
pub mod pidproxy;
pub(crate) mod process;
pub mod rpc;

pub use http::sha1_hex;

/// The Supervisor version we are a drop-in for; reported by `-v` and the RPC.
pub const SUPERVISOR_VERSION: &str = "4.3.0";
/// This build's own version, named by `supervisord --help` and the main
/// log's startup lines (`--version` prints [`SUPERVISOR_VERSION`], which
/// scripts compare).
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
/// XML-RPC API version (`supervisor.getAPIVersion`).
pub const API_VERSION: &str = "3.0";
