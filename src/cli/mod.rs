//! Command-line parsing compatible with Python's `getopt`, for supervisord
//! (and later supervisorctl), plus the `echo_supervisord_conf` sample.

use crate::config::Overrides;
use std::path::PathBuf;

/// What `supervisord ARGS` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonCommand {
    /// `-h`: print this text to stdout, exit 0.
    Help(String),
    /// `-v`: print the version, exit 0.
    Version,
    Run(DaemonArgs),
}

/// Parsed supervisord options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonArgs {
    pub configuration: Option<PathBuf>,
    /// `--check`: validate only.
    pub check: bool,
    pub overrides: Overrides,
}

/// Parse supervisord's arguments (without argv[0]).  `Err` is a usage error
/// message (exit 2).
pub fn parse_daemon_args(args: &[String]) -> Result<DaemonCommand, String> {
    todo!("cli helper")
}

/// The commented sample config printed by `echo_supervisord_conf`.
pub fn sample_config() -> &'static str {
    todo!("cli helper")
}
