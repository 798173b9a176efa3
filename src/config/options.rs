//! What a load takes from the running process (environment, host name,
//! command-line overrides) and what it gives back.

use super::diagnostic::Diagnostic;
use super::os;
use super::types::Config;

/// Raw command-line overrides of `[supervisord]` options, converted with the
/// same rules as the file values.  Flags are `true` when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub logfile: Option<String>,
    pub logfile_maxbytes: Option<String>,
    pub logfile_backups: Option<String>,
    pub loglevel: Option<String>,
    pub pidfile: Option<String>,
    pub identifier: Option<String>,
    pub childlogdir: Option<String>,
    pub user: Option<String>,
    pub umask: Option<String>,
    pub directory: Option<String>,
    pub minfds: Option<String>,
    pub minprocs: Option<String>,
    pub nodaemon: bool,
    pub silent: bool,
    pub nocleanup: bool,
    pub strip_ansi: bool,
}

/// Inputs to [`load`] that come from the running process.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// supervisord's environment at startup (source of `%(ENV_X)s`).
    pub env: Vec<(String, String)>,
    /// `platform.node()`: the host name.
    pub host_node_name: String,
    /// `true` when starting the daemon: missing log directories, unknown users
    /// and the like are errors, as in Supervisor.  `false` for `--check`, where
    /// they are warnings (configs name paths inside images).
    pub check_host: bool,
    pub overrides: Overrides,
}

impl LoadOptions {
    /// Options taken from this process (environment, host name).
    pub fn from_process(overrides: Overrides, check_host: bool) -> LoadOptions {
        LoadOptions {
            env: os::environment(),
            host_node_name: os::hostname(),
            check_host,
            overrides,
        }
    }
}

/// A successfully loaded config plus what should be logged about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Warnings (severity Warning), to log at WARN and print by `--check`.
    pub warnings: Vec<Diagnostic>,
    /// Informational lines (e.g. `Included extra file "x" during parsing`).
    pub infos: Vec<String>,
}
