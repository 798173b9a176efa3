//! The daemon: `run` loads the config and hands it to `startup`; then one
//! thread owns all state (`core::Supervisor`) and sleeps in `poll(2)` until
//! a signal, child output, an HTTP request or the earliest deadline (no
//! fixed tick).  Where things are:
//!
//! - `startup`, `servers`, `shutdown` (stop phases, reload, exit),
//!   `exits` (when the daemon ends on its own, and with what status)
//! - `event_loop` (the turn; where a signal such as SIGCHLD goes)
//! - `control` (groups added and removed, spawn, stop, signal, reap),
//!   `groups` (stable ids), `env`, `os` (the seam to the system)
//! - `output` (child pipes into logs), `listeners` (event pools), `checks`
//!   (readiness and liveness checks)
//! - HTTP threads: `api`, `health`; `bridge` carries their messages to the
//!   loop; `methods/` answers XML-RPC (`table` lists every method),
//!   `waiters` holds deferred answers, `calls` checks arguments
//! - `signals`, `sockets`, `pid1`, `panic_guard`

// Positions that another operation can renumber were a panic waiting to
// happen: the daemon reaches groups, processes and buffers through `get`.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod api;
mod bridge;
mod calls;
mod checks;
mod control;
mod core;
mod depends;
mod env;
mod event_loop;
mod exits;
mod forward;
mod groups;
mod health;
mod listeners;
#[cfg(test)]
mod loop_tests;
mod methods;
mod os;
mod output;
mod panic_guard;
pub(crate) mod pid1;
mod servers;
mod shutdown;
mod signals;
mod sockets;
mod startup;
mod waiters;
mod web;

use crate::cli::DaemonArgs;
use crate::config::{self, Diagnostic, LoadOptions, Loaded, Severity};
use std::path::{Path, PathBuf};

pub use startup::EXIT_USAGE;

/// Locate the config file: `-c`, else Supervisor's search order.
pub fn config_path(args: &DaemonArgs) -> Result<PathBuf, String> {
    if let Some(p) = &args.configuration {
        return Ok(p.clone());
    }
    let argv0 = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .unwrap_or_default();
    let argv0 = std::fs::canonicalize(&argv0).unwrap_or(argv0);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    config::find_config_file(&argv0, &cwd).ok_or_else(|| {
        "No config file found at default paths (../etc/supervisord.conf, ../supervisord.conf, supervisord.conf, etc/supervisord.conf, /etc/supervisord.conf, /etc/supervisor/supervisord.conf); use the -c option to specify a config file at a different path".to_string()
    })
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        let tag = match d.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        eprintln!("{tag}: {d}");
    }
}

/// Load the config for the daemon; on errors print every problem.
fn load(path: &Path, args: &DaemonArgs, check_host: bool) -> Result<Loaded, Vec<Diagnostic>> {
    let opts = LoadOptions::from_process(args.overrides.clone(), check_host);
    config::load(path, &opts)
}

/// `supervisord` entry point: returns the process exit status.
pub fn run(args: DaemonArgs) -> i32 {
    let path = match config_path(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Error: {e}");
            eprintln!("For help, use supervisord -h");
            return EXIT_USAGE;
        }
    };
    if args.check {
        return match load(&path, &args, false) {
            Ok(loaded) => {
                print_diagnostics(&loaded.warnings);
                println!(
                    "{}: OK ({} warning{})",
                    path.display(),
                    loaded.warnings.len(),
                    if loaded.warnings.len() == 1 { "" } else { "s" }
                );
                0
            }
            Err(diags) => {
                print_diagnostics(&diags);
                let errors = diags
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .count();
                eprintln!(
                    "{}: {errors} error{}",
                    path.display(),
                    if errors == 1 { "" } else { "s" }
                );
                EXIT_USAGE
            }
        };
    }
    let loaded = match load(&path, &args, true) {
        Ok(l) => l,
        Err(diags) => {
            print_diagnostics(&diags);
            return EXIT_USAGE;
        }
    };
    startup::start(path, args, loaded)
}
