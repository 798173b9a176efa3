//! Configuration: read `supervisord.conf` (+ includes), expand, convert and
//! validate every option, reporting every problem with file, line, section
//! and option.  The result is the typed [`Config`].

pub mod types;
pub use types::*;

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One located problem in a config file (or on the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// `None` for command-line values.
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub section: Option<String>,
    pub option: Option<String>,
    /// The offending value, shortened for display if huge.
    pub value: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("config helper")
    }
}

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
        todo!("config helper")
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

/// Load and validate a supervisord config.  On failure every diagnostic
/// (errors and warnings) is returned; nothing is partially applied.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, Vec<Diagnostic>> {
    todo!("config helper")
}

/// Supervisor's search order when `-c` is not given.
pub fn find_config_file(argv0: &Path, cwd: &Path) -> Option<PathBuf> {
    todo!("config helper")
}
