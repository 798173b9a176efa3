//! Typed, validated configuration: what the rest of the daemon reads.
//!
//! Everything here is plain data produced by `config::load`; no I/O, no OS
//! calls.  Field names follow `supervisord.conf` option names so a reader can
//! map them one to one.  `PartialEq` matters: `reread`/`update` compare old and
//! new group configs to decide what changed.

use std::path::PathBuf;

/// Supervisor's seven log levels (numeric values as in `loggers.LevelsByName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Blather = 3,
    Trace = 5,
    Debug = 10,
    Info = 20,
    Warn = 30,
    Error = 40,
    Critical = 50,
}

impl LogLevel {
    /// The four-letter tag Supervisor writes in its main log (`INFO`, `CRIT`...).
    pub fn tag(self) -> &'static str {
        match self {
            LogLevel::Blather => "BLAT",
            LogLevel::Trace => "TRAC",
            LogLevel::Debug => "DEBG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERRO",
            LogLevel::Critical => "CRIT",
        }
    }
}

/// Where the main log goes (`[supervisord] logfile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MainLogTarget {
    /// A path (may be `/dev/stdout` or another non-seekable file).
    File(PathBuf),
    /// `logfile=syslog`.
    Syslog,
    /// `NONE`/`OFF`: no main log file (stdout mirroring still applies).
    None,
}

/// A child's `stdout_logfile` / `stderr_logfile` value after expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildLogTarget {
    /// `NONE`/`OFF` (and stderr when `redirect_stderr=true`).
    None,
    /// `AUTO`: a file named `<name>-<channel>---<identifier>-XXXXXX.log` in childlogdir,
    /// created when the process is first spawned.
    Auto,
    /// An explicit path.
    File(PathBuf),
}

/// One output channel's logging options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelLog {
    pub logfile: ChildLogTarget,
    pub maxbytes: u64,
    pub backups: u32,
    pub capture_maxbytes: u64,
    pub events_enabled: bool,
    pub syslog: bool,
}

/// `autorestart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    Never,
    Unexpected,
    Always,
}

/// `[supervisord]` after CLI overrides are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Supervisord {
    pub logfile: MainLogTarget,
    pub logfile_maxbytes: u64,
    pub logfile_backups: u32,
    pub loglevel: LogLevel,
    pub pidfile: PathBuf,
    pub umask: u32,
    pub nodaemon: bool,
    pub silent: bool,
    pub minfds: u64,
    pub minprocs: u64,
    pub nocleanup: bool,
    pub childlogdir: PathBuf,
    /// `user=` for supervisord itself (a name or a numeric uid, unresolved).
    pub user: Option<String>,
    pub directory: Option<PathBuf>,
    pub strip_ansi: bool,
    /// `environment=`, in file order.
    pub environment: Vec<(String, String)>,
    pub identifier: String,
    /// `exit_when_all_exited=` (SPEC Part B): exit once every program is
    /// stopped for good.
    pub exit_when_all_exited: bool,
    /// `forward_signals=` (SPEC Part B): signals relayed to every running
    /// process, in the order written, without duplicates.
    pub forward_signals: Vec<i32>,
    /// `log_format=` (SPEC Part B): the daemon's own lines, and the default of every program's.
    pub log_format: LogFormat,
}

/// `user[:group]` as written in `chown=` / `socket_owner=` (unresolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub user: String,
    pub group: Option<String>,
}

/// One `[unix_http_server]` (or `[unix_http_server:name]`) section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixHttpServer {
    pub section: String,
    pub file: PathBuf,
    pub chmod: u32,
    pub chown: Option<Owner>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// One `[inet_http_server]` (or `[inet_http_server:name]`) section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetHttpServer {
    pub section: String,
    /// `""` means all interfaces (`*:port` or `:port`).
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `[health_server]` (SPEC Part B): the port of the unauthenticated,
/// read-only health endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthServer {
    /// `""` means all interfaces (`*:port` or `:port`).
    pub host: String,
    pub port: u16,
}

/// `[supervisorctl]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctl {
    pub serverurl: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub prompt: String,
    pub history_file: Option<PathBuf>,
}

/// One process (one instance of a program when `numprocs > 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// The expanded `process_name`.
    pub name: String,
    /// The `[program:x]` name.
    pub program_name: String,
    /// The command string after expansion (as written, for getAllConfigInfo).
    pub command: String,
    /// `command` split with shell-like quoting (validated at load time).
    pub argv: Vec<String>,
    pub directory: Option<PathBuf>,
    pub umask: Option<u32>,
    pub priority: i64,
    pub autostart: bool,
    pub autorestart: AutoRestart,
    pub startsecs: u64,
    pub startretries: u32,
    /// `user=` as written (name or number); resolved at spawn.
    pub user: Option<String>,
    pub stdout: ChannelLog,
    pub stderr: ChannelLog,
    pub stopsignal: i32,
    pub stopwaitsecs: u64,
    pub stopasgroup: bool,
    pub killasgroup: bool,
    pub exitcodes: Vec<i32>,
    pub redirect_stderr: bool,
    /// The program's own `environment=`, in order, values expanded.
    pub environment: Vec<(String, String)>,
    /// `serverurl=`; `None` means AUTO.
    pub serverurl: Option<String>,
    /// `exit_supervisor_on=` (SPEC Part B): which exits of this program end
    /// the daemon.
    pub exit_supervisor_on: ExitOn,
    /// `depends_on=` (SPEC Part B): the programs that must be RUNNING (and
    /// ready) before this one starts, and that stop only after it.
    pub depends_on: Vec<String>,
    /// `start_delay`, `fatal_restart_delay`, `capabilities` (SPEC Part B).
    pub launch: Launch,
    /// `log_prefix=` / `log_format=` (SPEC Part B): how each line of output is written.
    pub lines: LineFormat,
    /// `readiness_check=` and its timings (SPEC Part B).
    pub readiness: Option<Box<Check>>,
    /// `liveness_check=` and its timings (SPEC Part B).
    pub liveness: Option<Box<Check>>,
}

/// How a program is launched beyond Supervisor's options (SPEC Part B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Launch {
    /// `start_delay=`: seconds between a start and its first spawn.
    pub start_delay: u64,
    /// `fatal_restart_delay=`: seconds after which a FATAL process is
    /// started again with a fresh `startretries` budget; 0 = never.
    pub fatal_restart_delay: u64,
    /// `capabilities=`: the bit mask (bit n = capability n) of the only
    /// capabilities the program keeps; `None` when the key is not set.
    pub capabilities: Option<u64>,
}

/// What a readiness or liveness check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckTarget {
    /// `tcp://host:port`: passes when a connection is accepted.
    Tcp(std::net::SocketAddr),
    /// `http://host:port/path`: passes on a 2xx status.  `host` is the
    /// `Host:` header (`host:port` as written).
    Http {
        addr: std::net::SocketAddr,
        host: String,
        path: String,
    },
    /// `exec:command args`: passes when the command exits 0.
    Exec(Vec<String>),
}

/// A readiness or liveness check of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub target: CheckTarget,
    /// The check as written, expanded (for the log).
    pub spec: String,
    /// From the end of one attempt to the start of the next.
    pub interval: std::time::Duration,
    /// An attempt still running after this long fails (and is killed).
    pub timeout: std::time::Duration,
    /// Failures in a row that count: a liveness restart after
    /// `liveness_failures`; readiness is lost at the first failure.
    pub failures: u32,
}

/// `exit_supervisor_on=`: the exits of a program that stop every program
/// and end the daemon with that program's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitOn {
    /// Never (the default).
    None,
    /// When it goes FATAL.
    Fatal,
    /// When it goes FATAL or exits with a code not in `exitcodes`.
    Unexpected,
    /// When it goes FATAL or exits at all (the "main process" pattern).
    Any,
}

/// `log_format=` (SPEC Part B): plain lines, or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// The program's bytes as they come (the daemon's lines in Supervisor's format).
    #[default]
    Text,
    /// `{"time":..., "program":..., "stream":..., "message":...}` per line.
    Json,
}

/// One process's `log_prefix` and `log_format` (SPEC Part B), expanded.
/// With a prefix or JSON, output reaches the log target line by line:
/// whole lines only, a long line split into marked pieces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineFormat {
    /// `log_prefix` expanded for stdout and for stderr (`%(channel)s`);
    /// `Some("")` when set but empty (whole lines, no prefix).
    pub prefix: Option<[String; 2]>,
    /// The program's `log_format`, else `[supervisord] log_format`.
    pub format: LogFormat,
}

impl LineFormat {
    /// True when output must be cut into lines (plain text passes raw bytes).
    pub fn by_line(&self) -> bool {
        self.prefix.is_some() || self.format == LogFormat::Json
    }
}

/// `[fcgi-program:x] socket=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcgiSocket {
    Unix {
        path: PathBuf,
        owner: Option<Owner>,
        mode: u32,
    },
    Tcp {
        host: String,
        port: u16,
    },
}

/// What kind of group this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKind {
    /// `[program:x]` (a group of its own) or `[group:x]`.
    Program,
    /// `[eventlistener:x]`: a pool of listeners.
    EventListener {
        /// Upper-cased event type names, as written, validated against the known names.
        events: Vec<String>,
        buffer_size: usize,
        /// `result_handler` as written (the default is `supervisor.dispatchers:default_handler`).
        result_handler: String,
    },
    /// `[fcgi-program:x]`.
    Fcgi { socket: FcgiSocket, backlog: u32 },
}

/// A process group: what supervisorctl addresses as `name:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    pub name: String,
    pub priority: i64,
    pub kind: GroupKind,
    /// Sorted by priority ascending (stable: file order among equals).
    pub processes: Vec<ProcessConfig>,
}

/// `[rpcinterface:x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcInterface {
    pub name: String,
    pub factory: String,
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The root file that was loaded (absolute).
    pub file: PathBuf,
    pub supervisord: Supervisord,
    pub unix_http_servers: Vec<UnixHttpServer>,
    pub inet_http_servers: Vec<InetHttpServer>,
    pub health_server: Option<HealthServer>,
    pub supervisorctl: Option<Ctl>,
    /// Sorted by group priority ascending (stable among equals).
    pub groups: Vec<GroupConfig>,
    pub rpcinterfaces: Vec<RpcInterface>,
    /// The files that were read, root first, then includes in order.
    pub files_read: Vec<PathBuf>,
}

/// Signals whose meaning to supervisord is fixed by SPEC A5: listing one in
/// `forward_signals` is a warning and it is not forwarded.  The daemon
/// catches these and SIGUSR1 (`daemon::signals::HANDLED`).
pub const OWN_SIGNALS: [i32; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGHUP,
    libc::SIGUSR2,
    libc::SIGCHLD,
];
