//! From the raw sections to the typed [`Config`]: expansion per place (SPEC
//! A3), conversion of every option (A2/A4), cross-field rules, host checks,
//! and warnings.  Every problem becomes a located [`Diagnostic`]; nothing
//! stops at the first one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::datatypes::{self as dt, LogfileName};
use super::expand::{Expansions, Val, expand, py_repr_short};
use super::source::{Entry, RawConfig, Section};
use super::types::*;
use super::{Diagnostic, LoadOptions, Severity};

/// Upper bound for `numprocs` (Supervisor has none; see Part C).
pub const MAX_NUMPROCS: i64 = 10_000;
/// Bound on the command and environment text of all processes of one program.
pub const MAX_PROGRAM_BYTES: usize = 64 << 20;

/// A threshold above which a value Supervisor accepts is reported as absurd
/// by a warning: (limit, the limit in words, what the daemon makes of such a
/// value).  The value is still accepted; the daemon holds every deadline,
/// size and count derived from it with saturating arithmetic.
type Absurd = (u64, &'static str, &'static str);
/// Durations: 100 years.
pub const ABSURD_SECS: Absurd = (
    100 * 365 * 24 * 3600,
    "100 years",
    "the deadline is held in the far future, in effect never reached",
);
/// Log file sizes: 1 TiB.
pub const ABSURD_LOG_BYTES: Absurd = (1 << 40, "1 TiB", "in effect the log is never rotated");
/// Capture sizes: 1 TiB.
pub const ABSURD_CAPTURE_BYTES: Absurd = (
    1 << 40,
    "1 TiB",
    "in effect capture mode never ends on size",
);
/// `minfds`: Linux never allows more open files than this (`fs.nr_open` ceiling).
pub const ABSURD_MINFDS: Absurd = (
    1 << 30,
    "2**30 file descriptors, above any Linux limit",
    "the daemon will refuse to start if it cannot raise RLIMIT_NOFILE that far",
);
/// `minprocs`: Linux's `PID_MAX_LIMIT`.
pub const ABSURD_MINPROCS: Absurd = (
    1 << 22,
    "2**22 processes, Linux's PID_MAX_LIMIT",
    "the daemon will refuse to start if it cannot raise RLIMIT_NPROC that far",
);
/// An eventlistener pool's `buffer_size`, in events.
pub const ABSURD_BUFFER: Absurd = (
    1 << 20,
    "2**20 events",
    "in effect the event queue is unbounded",
);

pub const DEFAULT_RPC_FACTORY: &str = "supervisor.rpcinterface:make_main_rpcinterface";
pub const DEFAULT_RESULT_HANDLER: &str = "supervisor.dispatchers:default_handler";

/// Event type names listeners may subscribe to (SPEC A10), abstract ones included.
pub const EVENT_TYPES: &[&str] = &[
    "EVENT",
    "PROCESS_STATE",
    "PROCESS_STATE_STOPPED",
    "PROCESS_STATE_EXITED",
    "PROCESS_STATE_STARTING",
    "PROCESS_STATE_STOPPING",
    "PROCESS_STATE_BACKOFF",
    "PROCESS_STATE_FATAL",
    "PROCESS_STATE_RUNNING",
    "PROCESS_STATE_UNKNOWN",
    "PROCESS_COMMUNICATION",
    "PROCESS_COMMUNICATION_STDOUT",
    "PROCESS_COMMUNICATION_STDERR",
    "PROCESS_LOG",
    "PROCESS_LOG_STDOUT",
    "PROCESS_LOG_STDERR",
    "REMOTE_COMMUNICATION",
    "SUPERVISOR_STATE_CHANGE",
    "SUPERVISOR_STATE_CHANGE_RUNNING",
    "SUPERVISOR_STATE_CHANGE_STOPPING",
    "TICK",
    "TICK_5",
    "TICK_60",
    "TICK_3600",
    "PROCESS_GROUP",
    "PROCESS_GROUP_ADDED",
    "PROCESS_GROUP_REMOVED",
];

const SUPERVISORD_KEYS: &[&str] = &[
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "loglevel",
    "pidfile",
    "umask",
    "nodaemon",
    "silent",
    "minfds",
    "minprocs",
    "nocleanup",
    "childlogdir",
    "user",
    "directory",
    "strip_ansi",
    "environment",
    "identifier",
];

const PROGRAM_KEYS: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "startsecs",
    "startretries",
    "autorestart",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
];

const LISTENER_EXTRA: &[&str] = &["buffer_size", "events", "result_handler"];
const FCGI_EXTRA: &[&str] = &["socket", "socket_backlog", "socket_owner", "socket_mode"];
const GROUP_KEYS: &[&str] = &["programs", "priority"];
const UNIX_KEYS: &[&str] = &["file", "chmod", "chown", "username", "password"];
const INET_KEYS: &[&str] = &["port", "username", "password"];
const CTL_KEYS: &[&str] = &[
    "serverurl",
    "username",
    "password",
    "prompt",
    "history_file",
];
const INCLUDE_KEYS: &[&str] = &["files"];
const HEALTH_KEYS: &[&str] = &["port"];
/// Container keys of SPEC Part B that later work will implement.  Until a
/// key does something it is reported as not implemented, never silently
/// accepted.
const NOT_YET: &[&str] = &[
    "exit_when_all_exited",
    "log_format",
    "forward_signals",
    "exit_supervisor_on",
    "log_prefix",
    "depends_on",
    "readiness_check",
    "readiness_interval",
    "readiness_timeout",
    "liveness_check",
    "liveness_interval",
    "liveness_timeout",
    "liveness_failures",
    "start_delay",
    "fatal_restart_delay",
    "capabilities",
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ProcKind {
    Program,
    Listener,
    Fcgi,
}

/// The state of one load: inputs plus collected diagnostics.
pub struct Ctx<'a> {
    pub raw: &'a RawConfig,
    pub opts: &'a LoadOptions,
    pub diags: Vec<Diagnostic>,
    pub infos: Vec<String>,
    pub cwd: String,
    pub home: Option<String>,
    /// `ENV_*` for every variable of the daemon's environment (and, once the
    /// `[supervisord]` section is read, its `environment=` keys).
    pub env_exp: Expansions,
    /// Directory of the root file (`%(here)s`).
    pub here: String,
    /// The daemon's effective uid once it has dropped privileges (for the
    /// `user=` warning).
    pub daemon_uid: Option<u32>,
    /// `[supervisord] environment`, once read.
    pub sd_env: Vec<(String, String)>,
}

/// Where a diagnostic points.
#[derive(Clone, Copy)]
pub struct At<'s> {
    pub sec: Option<&'s Section>,
    pub entry: Option<&'s Entry>,
}

impl<'a> Ctx<'a> {
    pub fn new(raw: &'a RawConfig, opts: &'a LoadOptions, here: String) -> Ctx<'a> {
        let cwd = std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/".into());
        let home = opts
            .env
            .iter()
            .find(|(k, _)| k == "HOME")
            .map(|(_, v)| v.clone());
        let mut env_exp = Expansions::new();
        for (k, v) in &opts.env {
            env_exp.insert(format!("ENV_{k}"), Val::Str(v.clone()));
        }
        Ctx {
            raw,
            opts,
            diags: Vec::new(),
            infos: Vec::new(),
            cwd,
            home,
            env_exp,
            here,
            daemon_uid: None,
            sd_env: Vec::new(),
        }
    }

    pub fn push(&mut self, sev: Severity, at: At<'_>, option: Option<&str>, msg: String) {
        let (file, line) = match (at.entry, at.sec) {
            (Some(e), _) => (self.raw.files.get(e.file).cloned(), Some(e.line)),
            (None, Some(s)) => (self.raw.files.get(s.file).cloned(), Some(s.line)),
            (None, None) => (None, None),
        };
        let value = at.entry.map(|e| shorten(&e.value));
        self.diags.push(Diagnostic {
            severity: sev,
            file,
            line,
            section: at.sec.map(|s| s.name.clone()),
            option: option
                .map(str::to_string)
                .or_else(|| at.entry.map(|e| e.key.clone())),
            value,
            message: msg,
        });
    }

    pub fn error(&mut self, at: At<'_>, option: Option<&str>, msg: String) {
        self.push(Severity::Error, at, option, msg);
    }

    pub fn warn(&mut self, at: At<'_>, option: Option<&str>, msg: String) {
        self.push(Severity::Warning, at, option, msg);
    }

    /// Warn when `option`'s `value` (already accepted) is above `limit`;
    /// `what` says the limit in words, `effect` what the daemon makes of the
    /// value.  `given_as` is the option or command-line flag that set it.
    fn absurd(
        &mut self,
        at: At<'_>,
        given_as: &str,
        option: &str,
        value: u64,
        (limit, what, effect): Absurd,
    ) {
        if value > limit {
            self.warn(
                at,
                Some(given_as),
                format!("{option}={value} is an absurd value (more than {what}): {effect}"),
            );
        }
    }

    /// A host problem: an error when starting the daemon, a warning for `--check`.
    pub fn host(&mut self, at: At<'_>, option: Option<&str>, msg: String) {
        let sev = if self.opts.check_host {
            Severity::Error
        } else {
            Severity::Warning
        };
        self.push(sev, at, option, msg);
    }

    fn entry(&self, sec: &'a Section, key: &str) -> Option<&'a Entry> {
        self.raw.get(sec, key)
    }

    /// Supervisor's `saneget`: the value (or `default`), `%`-expanded with
    /// `exp`.  `Err(())` once the expansion error is reported.
    fn get(
        &mut self,
        sec: &'a Section,
        key: &str,
        default: Option<&str>,
        exp: &Expansions,
    ) -> Result<Option<String>, ()> {
        let e = self.entry(sec, key);
        let Some(raw) = e.map(|e| e.value.as_str()).or(default) else {
            return Ok(None);
        };
        match expand(raw, exp, &format!("{}.{}", sec.name, key)) {
            Ok(v) => Ok(Some(v)),
            Err(msg) => {
                self.error(
                    At {
                        sec: Some(sec),
                        entry: e,
                    },
                    Some(key),
                    msg,
                );
                Err(())
            }
        }
    }

    /// The raw value, unexpanded (`do_expand=False`).
    fn get_raw(&self, sec: &'a Section, key: &str) -> Option<String> {
        self.entry(sec, key).map(|e| e.value.clone())
    }

    /// Get, expand and convert one option; errors are reported and give `None`.
    fn conv<T>(
        &mut self,
        sec: &'a Section,
        key: &str,
        default: &str,
        exp: &Expansions,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let v = self.get(sec, key, Some(default), exp).ok()??;
        match f(&v) {
            Ok(t) => Some(t),
            Err(msg) => {
                let at = At {
                    sec: Some(sec),
                    entry: self.entry(sec, key),
                };
                self.error(at, Some(key), msg);
                None
            }
        }
    }

    /// `conv` with a converter that may have to change a value Supervisor
    /// accepts (see `dt::Noted`): the note becomes a warning at the option.
    fn conv_noted<T>(
        &mut self,
        sec: &'a Section,
        key: &str,
        default: &str,
        exp: &Expansions,
        f: impl Fn(&str) -> Result<dt::Noted<T>, String>,
    ) -> Option<T> {
        let (v, note) = self.conv(sec, key, default, exp, f)?;
        if let Some(n) = note {
            let at = self.at(sec, key);
            self.warn(at, Some(key), n);
        }
        Some(v)
    }

    /// An octal mode option (`umask`, `chmod`, `socket_mode`), if set.
    fn mode(&mut self, sec: &'a Section, key: &str, exp: &Expansions) -> Option<u32> {
        self.get(sec, key, None, exp).ok()??;
        // Supervisor's own messages: octal_type's for umask, its section
        // code's for chmod and socket_mode.
        self.conv_noted(sec, key, "", exp, |v| {
            dt::octal_noted(v).map_err(|e| {
                if key == "umask" {
                    e
                } else {
                    format!("Invalid {key} value {v}")
                }
            })
        })
    }

    fn at(&self, sec: &'a Section, key: &str) -> At<'a> {
        At {
            sec: Some(sec),
            entry: self.entry(sec, key),
        }
    }

    fn sec_at(sec: &'a Section) -> At<'a> {
        At {
            sec: Some(sec),
            entry: None,
        }
    }

    // ------------------------------------------------------- host checks

    /// `existing_dirpath`: the directory part of a path must exist.
    fn check_dirpath(&mut self, at: At<'_>, option: &str, value: &str) -> String {
        let p = dt::expanduser(value, self.home.as_deref());
        let dir = dt::dirname(&p);
        if !dir.is_empty() && !self.resolve(dir).is_dir() {
            self.host(
                at,
                Some(option),
                format!("The directory named as part of the path {value} does not exist"),
            );
        }
        p
    }

    /// `existing_directory`.
    fn check_directory(&mut self, at: At<'_>, option: &str, value: &str) -> String {
        let p = dt::expanduser(value, self.home.as_deref());
        if !self.resolve(&p).is_dir() {
            self.host(
                at,
                Some(option),
                format!("{value} is not an existing directory"),
            );
        }
        p
    }

    fn resolve(&self, p: &str) -> PathBuf {
        if p.starts_with('/') {
            PathBuf::from(p)
        } else {
            Path::new(&self.cwd).join(p)
        }
    }

    /// `name_to_uid`: a user name or uid that exists on this host.
    fn check_user(&mut self, at: At<'_>, option: &str, user: &str) -> Option<u32> {
        match lookup_uid(user) {
            Ok(uid) => Some(uid),
            Err(msg) => {
                self.host(at, Some(option), msg);
                None
            }
        }
    }

    fn check_owner(&mut self, at: At<'_>, option: &str, o: &Owner, what: &str) {
        let mut bad = lookup_uid(&o.user).is_err();
        if let Some(g) = &o.group {
            bad |= lookup_gid(g).is_err();
        }
        if bad {
            let spec = match &o.group {
                Some(g) => format!("{}:{}", o.user, g),
                None => o.user.clone(),
            };
            self.host(
                at,
                Some(option),
                format!("Invalid {what} value {spec}: no such user or group on this host"),
            );
        }
    }

    // ------------------------------------------------------- sections

    pub fn supervisord(&mut self) -> Supervisord {
        let mut exp = self.env_exp.clone();
        exp.insert("here".into(), Val::Str(self.here.clone()));
        let found = self.raw.section("supervisord");
        let ov = self.opts.overrides.clone();

        let mut sd = Supervisord {
            logfile: MainLogTarget::File(PathBuf::from(dt::normalize_path(
                "supervisord.log",
                &self.cwd,
                self.home.as_deref(),
            ))),
            logfile_maxbytes: 50 << 20,
            logfile_backups: 10,
            loglevel: LogLevel::Info,
            pidfile: PathBuf::from(dt::normalize_path(
                "supervisord.pid",
                &self.cwd,
                self.home.as_deref(),
            )),
            umask: 0o22,
            nodaemon: false,
            silent: false,
            minfds: 1024,
            minprocs: 200,
            nocleanup: false,
            childlogdir: PathBuf::from(self.default_tempdir()),
            user: None,
            directory: None,
            strip_ansi: false,
            environment: Vec::new(),
            identifier: "supervisor".into(),
        };

        if let Some(sec) = found {
            if let Some(v) =
                self.conv_noted(sec, "minfds", "1024", &exp, |s| dt::count(s, u64::MAX))
            {
                sd.minfds = v;
            }
            if let Some(v) =
                self.conv_noted(sec, "minprocs", "200", &exp, |s| dt::count(s, u64::MAX))
            {
                sd.minprocs = v;
            }
            if let Ok(Some(d)) = self.get(sec, "directory", None, &exp) {
                let at = self.at(sec, "directory");
                sd.directory = Some(PathBuf::from(self.check_directory(at, "directory", &d)));
            }
            if let Ok(Some(u)) = self.get(sec, "user", None, &exp) {
                sd.user = Some(u);
            }
            if let Some(v) = self.conv_noted(sec, "umask", "022", &exp, dt::octal_noted) {
                sd.umask = v;
            }
            if let Ok(Some(v)) = self.get(sec, "logfile", Some("supervisord.log"), &exp) {
                let at = self.at(sec, "logfile");
                sd.logfile = self.main_logfile(at, "logfile", &v);
            }
            if let Some(v) =
                self.conv_noted(sec, "logfile_maxbytes", "50MB", &exp, dt::byte_size_noted)
            {
                sd.logfile_maxbytes = v;
            }
            if let Some(v) = self.conv_noted(sec, "logfile_backups", "10", &exp, count_u32) {
                sd.logfile_backups = v;
            }
            if let Some(v) = self.conv(sec, "loglevel", "info", &exp, dt::logging_level) {
                sd.loglevel = v;
            }
            if let Ok(Some(v)) = self.get(sec, "pidfile", Some("supervisord.pid"), &exp) {
                let at = self.at(sec, "pidfile");
                let p = self.check_dirpath(at, "pidfile", &v);
                sd.pidfile = PathBuf::from(dt::normalize_path(&p, &self.cwd, None));
            }
            if let Ok(Some(v)) = self.get(sec, "identifier", Some("supervisor"), &exp) {
                sd.identifier = v;
            }
            for (k, slot) in [
                ("nodaemon", &mut sd.nodaemon),
                ("silent", &mut sd.silent),
                ("nocleanup", &mut sd.nocleanup),
                ("strip_ansi", &mut sd.strip_ansi),
            ] {
                if let Some(v) = self.conv(sec, k, "false", &exp, dt::boolean) {
                    *slot = v;
                }
            }
            if let Ok(Some(v)) = self.get(sec, "childlogdir", None, &exp) {
                let at = self.at(sec, "childlogdir");
                sd.childlogdir = PathBuf::from(self.check_directory(at, "childlogdir", &v));
            }
            // Expanded twice, as Supervisor does: once by the option getter
            // (here, ENV_*), then with host_node_name added.
            if let Ok(Some(v)) = self.get(sec, "environment", Some(""), &exp) {
                let mut exp2 = exp.clone();
                exp2.insert(
                    "host_node_name".into(),
                    Val::Str(self.opts.host_node_name.clone()),
                );
                let at = self.at(sec, "environment");
                match expand(&v, &exp2, "environment").and_then(|v| dt::dict_of_key_value_pairs(&v))
                {
                    Ok(env) => sd.environment = env,
                    Err(msg) => self.error(at, Some("environment"), msg),
                }
            }
            self.sd_env = sd.environment.clone();
            for (k, v) in &sd.environment {
                self.env_exp.insert(format!("ENV_{k}"), Val::Str(v.clone()));
            }
            self.unknown_options(sec, &[SUPERVISORD_KEYS]);
        }

        // Command-line overrides: the same conversions, and they win.
        let cli = At {
            sec: None,
            entry: None,
        };
        // A command-line value, converted like the config key it overrides;
        // `noted` converters may change what Supervisor accepts and say so.
        macro_rules! over {
            ($field:ident, $flag:expr, $conv:expr) => {
                over!(@ $field, $flag, |v| $conv(v).map(|x| (x, None)))
            };
            (noted $field:ident, $flag:expr, $conv:expr) => {
                over!(@ $field, $flag, $conv)
            };
            (@ $field:ident, $flag:expr, $conv:expr) => {
                if let Some(v) = &ov.$field {
                    match $conv(v.as_str()) {
                        Ok((x, note)) => {
                            sd.$field = x;
                            if let Some(n) = note {
                                self.warn(cli, Some($flag), n);
                            }
                        }
                        Err(msg) => self.error(
                            cli,
                            Some($flag),
                            format!("invalid value {}: {}", py_repr_short(v), msg),
                        ),
                    }
                }
            };
        }
        over!(noted logfile_maxbytes, "-y", dt::byte_size_noted);
        over!(noted logfile_backups, "-z", count_u32);
        over!(loglevel, "-e", dt::logging_level);
        over!(noted umask, "-m", dt::octal_noted);
        over!(noted minfds, "-a", |v| dt::count(v, u64::MAX));
        over!(noted minprocs, "--minprocs", |v| dt::count(v, u64::MAX));
        if let Some(v) = &ov.logfile {
            sd.logfile = self.main_logfile(cli, "-l", v);
        }
        if let Some(v) = &ov.pidfile {
            let p = self.check_dirpath(cli, "-j", v);
            sd.pidfile = PathBuf::from(dt::normalize_path(&p, &self.cwd, None));
        }
        if let Some(v) = &ov.identifier {
            sd.identifier = v.clone();
        }
        if let Some(v) = &ov.childlogdir {
            sd.childlogdir = PathBuf::from(self.check_directory(cli, "-q", v));
        }
        if let Some(v) = &ov.directory {
            sd.directory = Some(PathBuf::from(self.check_directory(cli, "-d", v)));
        }
        if let Some(v) = &ov.user {
            sd.user = Some(v.clone());
        }
        sd.nodaemon |= ov.nodaemon;
        sd.silent |= ov.silent;
        sd.nocleanup |= ov.nocleanup;
        sd.strip_ansi |= ov.strip_ansi;
        for (option, flag, cli_set, value, limit) in [
            (
                "minfds",
                "-a",
                ov.minfds.is_some(),
                sd.minfds,
                ABSURD_MINFDS,
            ),
            (
                "minprocs",
                "--minprocs",
                ov.minprocs.is_some(),
                sd.minprocs,
                ABSURD_MINPROCS,
            ),
            (
                "logfile_maxbytes",
                "-y",
                ov.logfile_maxbytes.is_some(),
                sd.logfile_maxbytes,
                ABSURD_LOG_BYTES,
            ),
        ] {
            let (at, opt) = match found {
                Some(sec) if !cli_set => (self.at(sec, option), option),
                _ => (cli, flag),
            };
            self.absurd(at, opt, option, value, limit);
        }

        if let Some(u) = sd.user.clone() {
            let (at, opt) = match (&ov.user, found) {
                (Some(_), _) => (cli, "-u"),
                (None, Some(sec)) => (self.at(sec, "user"), "user"),
                (None, None) => (cli, "-u"),
            };
            let uid = self.check_user(at, opt, &u);
            let euid = nix::unistd::geteuid().as_raw();
            self.daemon_uid = Some(if euid == 0 { uid.unwrap_or(0) } else { euid });
        } else {
            self.daemon_uid = Some(nix::unistd::geteuid().as_raw());
        }
        sd
    }

    fn main_logfile(&mut self, at: At<'_>, option: &str, v: &str) -> MainLogTarget {
        let p = self.check_dirpath(at, option, v);
        if v == "syslog" {
            MainLogTarget::Syslog
        } else if matches!(v.to_lowercase().as_str(), "none" | "off") {
            MainLogTarget::None
        } else {
            MainLogTarget::File(PathBuf::from(dt::normalize_path(&p, &self.cwd, None)))
        }
    }

    /// `tempfile.gettempdir()`: `$TMPDIR`, `$TEMP`, `$TMP` if a directory, else `/tmp`.
    fn default_tempdir(&self) -> String {
        for k in ["TMPDIR", "TEMP", "TMP"] {
            if let Some((_, v)) = self.opts.env.iter().find(|(n, _)| n == k)
                && !v.is_empty()
                && self.resolve(v).is_dir()
            {
                return dt::normalize_path(v, &self.cwd, None);
            }
        }
        "/tmp".into()
    }

    pub fn unknown_options(&mut self, sec: &'a Section, known: &[&[&str]]) {
        for e in &sec.entries {
            if !known.iter().any(|k| k.contains(&e.key.as_str())) {
                let at = At {
                    sec: Some(sec),
                    entry: Some(e),
                };
                if NOT_YET.contains(&e.key.as_str()) {
                    self.warn(
                        at,
                        Some(&e.key),
                        format!("'{}' is not implemented in this version of supervisor-rs and is ignored", e.key),
                    );
                    continue;
                }
                let hint = if e.key.starts_with('[') {
                    " (it looks like a [section] header missing its ']')"
                } else {
                    ""
                };
                self.warn(
                    at,
                    Some(&e.key),
                    format!("unknown option '{}' is ignored{hint}", e.key),
                );
            }
        }
    }

    // ------------------------------------------------------- groups

    pub fn groups(&mut self) -> Vec<GroupConfig> {
        let raw = self.raw;
        let mut groups: Vec<GroupConfig> = Vec::new();
        let mut exclude: HashSet<String> = HashSet::new();
        let mut exp = self.env_exp.clone();
        exp.insert("here".into(), Val::Str(self.here.clone()));
        let has = |name: &str| raw.section(name).is_some();

        for sec in raw.sections.iter().filter(|s| s.name.starts_with("group:")) {
            self.unknown_options(sec, &[GROUP_KEYS]);
            let suffix = sec.name.split_once(':').map_or("", |x| x.1);
            let name = match dt::process_or_group_name(suffix) {
                Ok(n) => n,
                Err(m) => {
                    self.error(Self::sec_at(sec), None, m);
                    continue;
                }
            };
            let programs = match self.get(sec, "programs", None, &exp) {
                Ok(Some(v)) => dt::list_of_strings(&v),
                Ok(None) => {
                    self.warn(
                        Self::sec_at(sec),
                        Some("programs"),
                        "the group has no programs= line: it is empty".into(),
                    );
                    Vec::new()
                }
                Err(()) => Vec::new(),
            };
            let priority = self
                .conv_noted(sec, "priority", "999", &exp, dt::integer_noted)
                .unwrap_or(999);
            let mut procs = Vec::new();
            for p in programs {
                let psec = format!("program:{p}");
                let fsec = format!("fcgi-program:{p}");
                let at = self.at(sec, "programs");
                let target = match (has(&psec), has(&fsec)) {
                    (false, false) => {
                        self.error(
                            at,
                            Some("programs"),
                            format!("[{}] names unknown program or fcgi-program {}", sec.name, p),
                        );
                        continue;
                    }
                    (true, true) => {
                        self.error(
                            at,
                            Some("programs"),
                            format!(
                                "[{}] name {} is ambiguous (exists as program and fcgi-program)",
                                sec.name, p
                            ),
                        );
                        continue;
                    }
                    (true, false) => psec,
                    (false, true) => fsec,
                };
                exclude.insert(target.clone());
                if let Some(tsec) = raw.section(&target) {
                    procs.extend(self.processes(tsec, &name, ProcKind::Program));
                }
            }
            procs.sort_by(|a, b| {
                a.priority
                    .cmp(&b.priority)
                    .then_with(|| a.name.cmp(&b.name))
            });
            groups.push(GroupConfig {
                name,
                priority,
                kind: GroupKind::Program,
                processes: procs,
            });
        }

        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("program:"))
        {
            self.unknown_options(sec, &[PROGRAM_KEYS]);
            if exclude.contains(&sec.name) {
                continue;
            }
            let suffix = sec.name.split_once(':').map_or("", |x| x.1);
            let Ok(name) = dt::process_or_group_name(suffix) else {
                // Reported by `processes`.
                let _ = self.processes(sec, suffix, ProcKind::Program);
                continue;
            };
            let priority = self
                .conv_noted(sec, "priority", "999", &exp, dt::integer_noted)
                .unwrap_or(999);
            let processes = self.processes(sec, &name, ProcKind::Program);
            groups.push(GroupConfig {
                name,
                priority,
                kind: GroupKind::Program,
                processes,
            });
        }

        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("eventlistener:"))
        {
            self.unknown_options(sec, &[PROGRAM_KEYS, LISTENER_EXTRA]);
            let name = sec.name.split_once(':').map_or("", |x| x.1).to_string();
            let priority = self
                .conv_noted(sec, "priority", "-1", &exp, dt::integer_noted)
                .unwrap_or(-1);
            let buffer_size = self
                .conv_noted(sec, "buffer_size", "10", &exp, |s| {
                    let (v, note) = dt::integer_noted(s)?;
                    if v < 1 {
                        return Err(format!(
                            "[{}] section sets invalid buffer_size ({v})",
                            sec.name
                        ));
                    }
                    Ok((usize::try_from(v).unwrap_or(usize::MAX), note))
                })
                .unwrap_or(10);
            let at = self.at(sec, "buffer_size");
            self.absurd(
                at,
                "buffer_size",
                "buffer_size",
                buffer_size as u64,
                ABSURD_BUFFER,
            );
            let result_handler =
                match self.get(sec, "result_handler", Some(DEFAULT_RESULT_HANDLER), &exp) {
                    Ok(Some(v)) => v,
                    _ => DEFAULT_RESULT_HANDLER.to_string(),
                };
            if result_handler != DEFAULT_RESULT_HANDLER {
                let at = self.at(sec, "result_handler");
                self.warn(
                    at,
                    Some("result_handler"),
                    format!("result_handler {result_handler} is a Python plug-in and cannot be loaded; the default handler is used"),
                );
            }
            let mut events: Vec<String> = Vec::new();
            let mut ok_events = true;
            if let Ok(Some(v)) = self.get(sec, "events", Some(""), &exp) {
                for e in dt::list_of_strings(&v) {
                    let up = e.to_uppercase();
                    if !events.contains(&up) {
                        events.push(up);
                    }
                }
            } else {
                ok_events = false;
            }
            if events.is_empty() && ok_events {
                self.error(
                    Self::sec_at(sec),
                    Some("events"),
                    format!("[{}] section requires an \"events\" line", sec.name),
                );
            }
            for e in &events {
                if !EVENT_TYPES.contains(&e.as_str()) {
                    let at = self.at(sec, "events");
                    self.error(
                        at,
                        Some("events"),
                        format!("Unknown event type {} in [{}] events", e, sec.name),
                    );
                }
            }
            if self.conv(sec, "redirect_stderr", "false", &exp, dt::boolean) == Some(true) {
                let at = self.at(sec, "redirect_stderr");
                self.error(
                    at,
                    Some("redirect_stderr"),
                    format!("[{}] section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol", sec.name),
                );
            }
            if sec.get("stdout_capture_maxbytes").is_some() {
                let at = self.at(sec, "stdout_capture_maxbytes");
                self.warn(at, Some("stdout_capture_maxbytes"), "stdout_capture_maxbytes is not used for eventlisteners (stdout is the protocol channel); ignored".into());
            }
            let processes = self.processes(sec, &name, ProcKind::Listener);
            groups.push(GroupConfig {
                name,
                priority,
                kind: GroupKind::EventListener {
                    events,
                    buffer_size,
                    result_handler,
                },
                processes,
            });
        }

        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("fcgi-program:"))
        {
            self.unknown_options(sec, &[PROGRAM_KEYS, FCGI_EXTRA]);
            if exclude.contains(&sec.name) {
                continue;
            }
            let suffix = sec.name.split_once(':').map_or("", |x| x.1);
            let Ok(name) = dt::process_or_group_name(suffix) else {
                let _ = self.processes(sec, suffix, ProcKind::Fcgi);
                continue;
            };
            let priority = self
                .conv_noted(sec, "priority", "999", &exp, dt::integer_noted)
                .unwrap_or(999);
            let socket = self.fcgi_socket(sec, &name, &exp);
            let backlog = self
                .conv(
                    sec,
                    "socket_backlog",
                    &libc::SOMAXCONN.to_string(),
                    &exp,
                    |s| match dt::integer(s) {
                        Ok(v) if (1..=65535).contains(&v) => {
                            u32::try_from(v).map_err(|e| e.to_string())
                        }
                        _ => Err(format!("Invalid socket_backlog value {s} (1 to 65535)")),
                    },
                )
                .unwrap_or(libc::SOMAXCONN as u32);
            let processes = self.processes(sec, &name, ProcKind::Fcgi);
            if let Some(socket) = socket {
                groups.push(GroupConfig {
                    name,
                    priority,
                    kind: GroupKind::Fcgi { socket, backlog },
                    processes,
                });
            }
        }

        for g in &mut groups {
            let mut seen: HashSet<String> = HashSet::new();
            let dups: Vec<String> = g
                .processes
                .iter()
                .filter(|p| !seen.insert(p.name.clone()))
                .map(|p| p.name.clone())
                .collect();
            for d in dups {
                self.warn(
                    At {
                        sec: None,
                        entry: None,
                    },
                    None,
                    format!(
                        "group '{}' has two processes named '{}'; only the last one is used",
                        g.name, d
                    ),
                );
                if let Some(pos) = g.processes.iter().position(|p| p.name == d) {
                    g.processes.remove(pos);
                }
            }
        }
        // Supervisor sorts groups (and processes) by priority, then name.
        groups.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        for g in groups {
            if seen.insert(g.name.clone()) {
                out.push(g);
            } else {
                self.warn(
                    At { sec: None, entry: None },
                    None,
                    format!("two sections define a process group named '{}'; only the first (by priority) is used", g.name),
                );
            }
        }
        out
    }

    fn fcgi_socket(
        &mut self,
        sec: &'a Section,
        name: &str,
        exp: &Expansions,
    ) -> Option<FcgiSocket> {
        let user = self.get(sec, "user", None, exp).ok().flatten();
        let owner = match self.get(sec, "socket_owner", None, exp) {
            Ok(Some(v)) => match dt::owner(&v) {
                Ok(o) => {
                    let at = self.at(sec, "socket_owner");
                    self.check_owner(at, "socket_owner", &o, "socket_owner");
                    Some(o)
                }
                Err(_) => {
                    let at = self.at(sec, "socket_owner");
                    self.error(
                        at,
                        Some("socket_owner"),
                        format!("Invalid socket_owner value {v}"),
                    );
                    None
                }
            },
            _ => None,
        };
        let mode = self.mode(sec, "socket_mode", exp);
        let mut sexp = exp.clone();
        sexp.insert("program_name".into(), Val::Str(name.to_string()));
        let sock = match self.get(sec, "socket", None, &sexp) {
            Ok(Some(s)) if !s.is_empty() => s,
            Ok(_) => {
                self.error(
                    Self::sec_at(sec),
                    Some("socket"),
                    format!("[{}] section requires a \"socket\" line", sec.name),
                );
                return None;
            }
            Err(()) => return None,
        };
        let at = self.at(sec, "socket");
        let fail = |me: &mut Self, why: String| {
            me.error(
                at,
                Some("socket"),
                format!("{why} in [{}] socket", sec.name),
            );
            None
        };
        if let Some(path) = sock.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return fail(
                    self,
                    format!("Unix socket path {path} is not an absolute path"),
                );
            }
            let path = dt::normalize_path(path, &self.cwd, self.home.as_deref());
            let owner = owner.or_else(|| {
                // Supervisor gives the socket to the program's user when it
                // differs from ours.
                let u = user.as_ref()?;
                let uid = lookup_uid(u).ok()?;
                if uid == nix::unistd::getuid().as_raw() {
                    return None;
                }
                let pw = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
                Some(Owner {
                    user: uid.to_string(),
                    group: Some(pw.gid.as_raw().to_string()),
                })
            });
            return Some(FcgiSocket::Unix {
                path: PathBuf::from(path),
                owner,
                mode: mode.unwrap_or(0o700),
            });
        }
        if sec.get("socket_owner").is_some() || sec.get("socket_mode").is_some() {
            return fail(
                self,
                "socket_owner and socket_mode params should only be used with a Unix domain socket"
                    .into(),
            );
        }
        if let Some(rest) = sock.strip_prefix("tcp://")
            && let Some((host, port)) = rest.rsplit_once(':')
        {
            let host_ok =
                !host.is_empty() && !host.contains(':') && !host.chars().any(dt::py_isspace);
            let port_ok = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
            if host_ok && port_ok {
                return match port.parse::<u16>() {
                    Ok(p) => Some(FcgiSocket::Tcp {
                        host: host.to_string(),
                        port: p,
                    }),
                    Err(_) => fail(self, format!("port {port} is out of range (0 to 65535)")),
                };
            }
        }
        fail(self, format!("Bad socket format {sock}"))
    }

    /// Supervisor's `processes_from_section`.
    pub fn processes(
        &mut self,
        sec: &'a Section,
        group_name: &str,
        kind: ProcKind,
    ) -> Vec<ProcessConfig> {
        let suffix = sec.name.split_once(':').map_or("", |x| x.1);
        let program_name = match dt::process_or_group_name(suffix) {
            Ok(n) => n,
            Err(m) => {
                self.error(Self::sec_at(sec), None, m);
                return Vec::new();
            }
        };
        let mut exp = self.env_exp.clone();
        exp.insert("here".into(), Val::Str(self.here.clone()));
        exp.insert("program_name".into(), Val::Str(program_name.clone()));
        exp.insert(
            "host_node_name".into(),
            Val::Str(self.opts.host_node_name.clone()),
        );
        exp.insert("group_name".into(), Val::Str(group_name.to_string()));

        let priority = self
            .conv_noted(sec, "priority", "999", &exp, dt::integer_noted)
            .unwrap_or(999);
        let autostart = self
            .conv(sec, "autostart", "true", &exp, dt::boolean)
            .unwrap_or(true);
        let autorestart = self
            .conv(sec, "autorestart", "unexpected", &exp, dt::auto_restart)
            .unwrap_or(AutoRestart::Unexpected);
        let startsecs = self
            .conv_noted(sec, "startsecs", "1", &exp, |s| dt::count(s, u64::MAX))
            .unwrap_or(1);
        let startretries = self
            .conv_noted(sec, "startretries", "3", &exp, count_u32)
            .unwrap_or(3);
        let stopsignal = self
            .conv(sec, "stopsignal", "TERM", &exp, dt::signal_number)
            .unwrap_or(libc::SIGTERM);
        let stopwaitsecs = self
            .conv_noted(sec, "stopwaitsecs", "10", &exp, |s| dt::count(s, u64::MAX))
            .unwrap_or(10);
        let stopasgroup = self
            .conv(sec, "stopasgroup", "false", &exp, dt::boolean)
            .unwrap_or(false);
        let killasgroup = self
            .conv(
                sec,
                "killasgroup",
                if stopasgroup { "true" } else { "false" },
                &exp,
                dt::boolean,
            )
            .unwrap_or(stopasgroup);
        let exitcodes = self
            .conv(sec, "exitcodes", "0", &exp, dt::list_of_exitcodes)
            .unwrap_or_else(|| vec![0]);
        let redirect_stderr = self
            .conv(sec, "redirect_stderr", "false", &exp, dt::boolean)
            .unwrap_or(false);
        let numprocs = self
            .conv(sec, "numprocs", "1", &exp, |s| {
                let v = dt::integer(s)?;
                if v < 1 {
                    Err(format!("numprocs must be at least 1, not {v} (a program with no process is almost certainly a mistake)"))
                } else if v > MAX_NUMPROCS {
                    Err(format!("numprocs {v} is above the bound of {MAX_NUMPROCS} processes per program"))
                } else {
                    Ok(v)
                }
            });
        // Any integer, as in Supervisor; the process numbers it starts must
        // stay within 64 bits.
        let numprocs_start = self.conv_noted(sec, "numprocs_start", "0", &exp, |s| {
            let (v, note) = dt::integer_noted(s)?;
            let held = v.clamp(-(1 << 52), i64::MAX - MAX_NUMPROCS);
            Ok(if held == v {
                (v, note)
            } else {
                (
                    held,
                    Some(format!(
                        "numprocs_start {} is held as {held}",
                        dt::py_strip(s)
                    )),
                )
            })
        });
        let environment_str = self.get_raw(sec, "environment").unwrap_or_default();
        let stdout_cmax = if kind == ProcKind::Listener {
            0
        } else {
            self.conv_noted(
                sec,
                "stdout_capture_maxbytes",
                "0",
                &exp,
                dt::byte_size_noted,
            )
            .unwrap_or(0)
        };
        let stdout_events = self
            .conv(sec, "stdout_events_enabled", "false", &exp, dt::boolean)
            .unwrap_or(false);
        let stderr_cmax = self
            .conv_noted(
                sec,
                "stderr_capture_maxbytes",
                "0",
                &exp,
                dt::byte_size_noted,
            )
            .unwrap_or(0);
        let stderr_events = self
            .conv(sec, "stderr_events_enabled", "false", &exp, dt::boolean)
            .unwrap_or(false);
        let serverurl = match self.get(sec, "serverurl", None, &exp) {
            Ok(Some(v)) if !dt::py_strip(&v).eq_ignore_ascii_case("auto") && !v.is_empty() => {
                Some(v)
            }
            _ => None,
        };
        let user = self.get(sec, "user", None, &exp).ok().flatten();
        if let Some(u) = &user {
            let at = self.at(sec, "user");
            if let Some(uid) = self.check_user(at, "user", u)
                && let Some(duid) = self.daemon_uid
                && duid != 0
                && uid != duid
            {
                self.warn(
                            at,
                            Some("user"),
                            format!("user={u} differs from the user supervisord runs as (uid {duid}) and supervisord is not root: the program will fail to start"),
                        );
            }
        }
        let umask = self.mode(sec, "umask", &exp);
        let process_name_raw = self
            .get_raw(sec, "process_name")
            .unwrap_or_else(|| "%(program_name)s".into());
        let name_at = self.at(sec, "process_name");
        let mut name_ok = true;
        if let Err(m) = dt::process_or_group_name(&process_name_raw) {
            self.error(name_at, Some("process_name"), m);
            name_ok = false;
        }
        if numprocs.is_some_and(|n| n > 1) && !process_name_raw.contains("%(process_num)") {
            self.error(
                name_at,
                Some("process_name"),
                "%(process_num) must be present within process_name when numprocs > 1".into(),
            );
            name_ok = false;
        }
        if stopasgroup && !killasgroup {
            let at = self.at(sec, "killasgroup");
            self.error(
                at,
                Some("killasgroup"),
                "Cannot set stopasgroup=true and killasgroup=false".into(),
            );
        }
        for (option, value, limit) in [
            ("startsecs", startsecs, ABSURD_SECS),
            ("stopwaitsecs", stopwaitsecs, ABSURD_SECS),
            ("stdout_capture_maxbytes", stdout_cmax, ABSURD_CAPTURE_BYTES),
            ("stderr_capture_maxbytes", stderr_cmax, ABSURD_CAPTURE_BYTES),
        ] {
            let at = self.at(sec, option);
            self.absurd(at, option, option, value, limit);
        }
        let Some(numprocs) = numprocs else {
            return Vec::new();
        };
        let numprocs_start = numprocs_start.unwrap_or(0);
        let process_name_raw = dt::py_strip(&process_name_raw).to_string();

        let mut out = Vec::new();
        let mut total_bytes = 0usize;
        let raw_len = self.get_raw(sec, "command").map_or(0, |c| c.len()) + environment_str.len();
        if (raw_len as u64).saturating_mul(numprocs.unsigned_abs()) > MAX_PROGRAM_BYTES as u64 {
            self.error(
                Self::sec_at(sec),
                Some("numprocs"),
                format!("the {numprocs} processes of this program would need more than {MAX_PROGRAM_BYTES} bytes (64 MiB) of commands and environment"),
            );
            return Vec::new();
        }
        for process_num in numprocs_start..numprocs_start + numprocs {
            exp.insert("process_num".into(), Val::Int(process_num));
            exp.insert("numprocs".into(), Val::Int(numprocs));
            for (k, v) in &self.env_exp {
                exp.insert(k.clone(), v.clone());
            }
            let env_at = self.at(sec, "environment");
            let environment = match expand(&environment_str, &exp, "environment")
                .and_then(|s| dt::dict_of_key_value_pairs(&s))
            {
                Ok(env) => env,
                Err(msg) => {
                    self.error(env_at, Some("environment"), msg);
                    Vec::new()
                }
            };
            for (k, v) in &environment {
                exp.insert(format!("ENV_{k}"), Val::Str(v.clone()));
            }
            let directory = self
                .get(sec, "directory", None, &exp)
                .ok()
                .flatten()
                .map(PathBuf::from);
            let stdout = self.channel(sec, "stdout", &exp, stdout_cmax, stdout_events);
            let mut stderr = self.channel(sec, "stderr", &exp, stderr_cmax, stderr_events);
            if redirect_stderr {
                if matches!(stderr.logfile, ChildLogTarget::File(_)) {
                    let at = self.at(sec, "stderr_logfile");
                    self.warn(
                        at,
                        Some("stderr_logfile"),
                        format!("For [{}], redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored", sec.name),
                    );
                }
                stderr.logfile = ChildLogTarget::None;
            }
            let command = match self.get(sec, "command", None, &exp) {
                Ok(Some(c)) => Some(c),
                Ok(None) => {
                    self.error(
                        Self::sec_at(sec),
                        Some("command"),
                        format!("program section {} does not specify a command", sec.name),
                    );
                    None
                }
                Err(()) => None,
            };
            let argv = match &command {
                Some(c) => match dt::shlex_split(c) {
                    Ok(a) => {
                        if a.is_empty() {
                            let at = self.at(sec, "command");
                            self.warn(
                                at,
                                Some("command"),
                                "command is empty: the program cannot be started".into(),
                            );
                        }
                        Some(a)
                    }
                    Err(why) => {
                        let at = self.at(sec, "command");
                        self.error(at, Some("command"), format!("command cannot be split into arguments: {why} (unbalanced quote or trailing backslash)"));
                        None
                    }
                },
                None => None,
            };
            let name = if name_ok {
                match expand(&process_name_raw, &exp, "process_name") {
                    Ok(n) => match dt::process_or_group_name(&n) {
                        Ok(n) => Some(n),
                        Err(m) => {
                            self.error(
                                name_at,
                                Some("process_name"),
                                format!("after expansion: {m}"),
                            );
                            None
                        }
                    },
                    Err(m) => {
                        self.error(name_at, Some("process_name"), m);
                        None
                    }
                }
            } else {
                None
            };
            let (Some(name), Some(command), Some(argv)) = (name, command, argv) else {
                continue;
            };
            if out.is_empty() {
                self.check_program_paths(sec, &argv, directory.as_deref(), &environment);
            }
            total_bytes = total_bytes.saturating_add(
                command.len()
                    + environment
                        .iter()
                        .map(|(k, v)| k.len() + v.len())
                        .sum::<usize>(),
            );
            if total_bytes > MAX_PROGRAM_BYTES {
                self.error(
                    Self::sec_at(sec),
                    Some("numprocs"),
                    format!("the {numprocs} processes of this program would need more than {MAX_PROGRAM_BYTES} bytes (64 MiB) of commands and environment"),
                );
                return Vec::new();
            }
            out.push(ProcessConfig {
                name,
                program_name: program_name.clone(),
                command,
                argv,
                directory,
                umask,
                priority,
                autostart,
                autorestart,
                startsecs,
                startretries,
                user: user.clone(),
                stdout,
                stderr,
                stopsignal,
                stopwaitsecs,
                stopasgroup,
                killasgroup,
                exitcodes: exitcodes.clone(),
                redirect_stderr,
                environment,
                serverurl: serverurl.clone(),
            });
        }
        // Once per section, not per process.
        if let Some(first) = out.first() {
            for (option, value) in [
                ("stdout_logfile_maxbytes", first.stdout.maxbytes),
                ("stderr_logfile_maxbytes", first.stderr.maxbytes),
            ] {
                let at = self.at(sec, option);
                self.absurd(at, option, option, value, ABSURD_LOG_BYTES);
            }
        }
        out.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        out
    }

    /// Warn (never fail: Supervisor only finds out at spawn time) when the
    /// command or the working directory cannot be found on this host.
    fn check_program_paths(
        &mut self,
        sec: &'a Section,
        argv: &[String],
        directory: Option<&Path>,
        env: &[(String, String)],
    ) {
        if let Some(d) = directory
            && !self.resolve(&d.to_string_lossy()).is_dir()
        {
            let at = self.at(sec, "directory");
            self.warn(
                at,
                Some("directory"),
                format!(
                    "directory {} does not exist on this host: the program will fail to start",
                    d.display()
                ),
            );
        }
        let Some(prog) = argv.first() else { return };
        let at = self.at(sec, "command");
        let problem = if prog.contains('/') {
            let p = if prog.starts_with('/') {
                PathBuf::from(prog)
            } else {
                directory.map_or_else(
                    || self.resolve(prog),
                    |d| self.resolve(&d.to_string_lossy()).join(prog),
                )
            };
            match std::fs::metadata(&p) {
                Err(_) => Some(format!("command {prog} does not exist on this host")),
                Ok(m) if !m.is_file() || !is_executable(&m) => {
                    Some(format!("command {prog} is not an executable file"))
                }
                Ok(_) => None,
            }
        } else {
            // Searched in the program's PATH, then [supervisord] environment's,
            // then the daemon's, as at spawn time.
            let path = env
                .iter()
                .chain(self.sd_env.iter())
                .chain(self.opts.env.iter())
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let found = path.split(':').filter(|d| !d.is_empty()).any(|d| {
                std::fs::metadata(Path::new(d).join(prog))
                    .is_ok_and(|m| m.is_file() && is_executable(&m))
            });
            (!found).then(|| format!("command {prog} was not found in PATH ({path})"))
        };
        if let Some(msg) = problem {
            self.warn(
                at,
                Some("command"),
                format!("{msg}: the program will fail to start"),
            );
        }
    }

    fn channel(
        &mut self,
        sec: &'a Section,
        ch: &str,
        exp: &Expansions,
        cmax: u64,
        events: bool,
    ) -> ChannelLog {
        let lf_key = format!("{ch}_logfile");
        let mb_key = format!("{ch}_logfile_maxbytes");
        let bu_key = format!("{ch}_logfile_backups");
        let sy_key = format!("{ch}_syslog");
        let at = self.at(sec, &lf_key);
        // Expanded twice, as Supervisor does (getter, then `expand`).
        let name = match self.get(sec, &lf_key, None, exp) {
            Ok(Some(v)) => match expand(&v, exp, &lf_key) {
                Ok(v) => dt::logfile_name(&v),
                Err(m) => {
                    self.error(at, Some(&lf_key), m);
                    LogfileName::None
                }
            },
            Ok(None) => LogfileName::Auto,
            Err(()) => LogfileName::None,
        };
        let backups = self
            .conv_noted(sec, &bu_key, "10", exp, count_u32)
            .unwrap_or(10);
        let maxbytes = self
            .conv_noted(sec, &mb_key, "50MB", exp, dt::byte_size_noted)
            .unwrap_or(50 << 20);
        let mut syslog = self
            .conv(sec, &sy_key, "false", exp, dt::boolean)
            .unwrap_or(false);
        let logfile = match name {
            LogfileName::None => ChildLogTarget::None,
            LogfileName::Auto => {
                if maxbytes == 0 {
                    self.warn(
                        at,
                        Some(&lf_key),
                        format!("For [{}], AUTO logging used for {} without rollover, set maxbytes > 0 to avoid filling up filesystem unintentionally", sec.name, lf_key),
                    );
                }
                ChildLogTarget::Auto
            }
            LogfileName::Syslog => {
                self.warn(
                    at,
                    Some(&lf_key),
                    format!("For [{}], {}=syslog but this is deprecated and will be removed.  Use {}=true to enable syslog instead.", sec.name, lf_key, sy_key),
                );
                syslog = true;
                ChildLogTarget::None
            }
            LogfileName::Path(p) => {
                ChildLogTarget::File(PathBuf::from(self.check_dirpath(at, &lf_key, &p)))
            }
        };
        ChannelLog {
            logfile,
            maxbytes,
            backups,
            capture_maxbytes: cmax,
            events_enabled: events,
            syslog,
        }
    }

    // ------------------------------------------------------- servers

    fn auth(&mut self, sec: &'a Section) -> (Option<String>, Option<String>) {
        let exp = self.env_exp.clone();
        let u = self.get(sec, "username", None, &exp).ok().flatten();
        let p = self.get(sec, "password", None, &exp).ok().flatten();
        if u.is_some() != p.is_some() {
            let key = if u.is_some() { "username" } else { "password" };
            let at = self.at(sec, key);
            self.error(
                at,
                Some(key),
                format!("Section [{}] contains incomplete authentication: If a username or a password is specified, both the username and password must be specified", sec.name),
            );
        }
        (u, p)
    }

    pub fn servers(&mut self) -> (Vec<UnixHttpServer>, Vec<InetHttpServer>) {
        let raw = self.raw;
        let mut inet = Vec::new();
        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("inet_http_server"))
        {
            self.unknown_options(sec, &[INET_KEYS]);
            let (username, password) = self.auth(sec);
            let exp = self.env_exp.clone();
            match self.get(sec, "port", None, &exp) {
                Ok(Some(p)) => match dt::inet_address(&p) {
                    Ok((host, port)) => inet.push(InetHttpServer {
                        section: sec.name.clone(),
                        host,
                        port,
                        username,
                        password,
                    }),
                    Err(m) => {
                        let at = self.at(sec, "port");
                        self.error(at, Some("port"), m);
                    }
                },
                Ok(None) => self.error(
                    Self::sec_at(sec),
                    Some("port"),
                    format!("section [{}] has no port value", sec.name),
                ),
                Err(()) => {}
            }
        }
        let mut unix = Vec::new();
        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("unix_http_server"))
        {
            self.unknown_options(sec, &[UNIX_KEYS]);
            let mut exp = self.env_exp.clone();
            exp.insert("here".into(), Val::Str(self.here.clone()));
            let file = match self.get(sec, "file", None, &exp) {
                Ok(Some(f)) => Some(dt::normalize_path(
                    dt::py_strip(&f),
                    &self.cwd,
                    self.home.as_deref(),
                )),
                Ok(None) => {
                    self.error(
                        Self::sec_at(sec),
                        Some("file"),
                        format!("section [{}] has no file value", sec.name),
                    );
                    None
                }
                Err(()) => None,
            };
            let (username, password) = self.auth(sec);
            let env_only = self.env_exp.clone();
            let chown = match self.get(sec, "chown", None, &env_only) {
                Ok(Some(v)) => match dt::owner(&v) {
                    Ok(o) => {
                        let at = self.at(sec, "chown");
                        self.check_owner(at, "chown", &o, "sockchown");
                        Some(o)
                    }
                    Err(_) => {
                        let at = self.at(sec, "chown");
                        self.error(at, Some("chown"), format!("Invalid sockchown value {v}"));
                        None
                    }
                },
                _ => None,
            };
            let chmod = self.mode(sec, "chmod", &env_only).unwrap_or(0o700);
            if let Some(file) = file {
                unix.push(UnixHttpServer {
                    section: sec.name.clone(),
                    file: PathBuf::from(file),
                    chmod,
                    chown,
                    username,
                    password,
                });
            }
        }
        (unix, inet)
    }

    pub fn rpcinterfaces(&mut self) -> Vec<RpcInterface> {
        let raw = self.raw;
        let mut out = Vec::new();
        let key = "supervisor.rpcinterface_factory";
        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("rpcinterface:"))
        {
            let name = sec.name.split_once(':').map_or("", |x| x.1).to_string();
            let exp = self.env_exp.clone();
            let factory = match self.get(sec, key, None, &exp) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    self.error(
                        Self::sec_at(sec),
                        Some(key),
                        format!("section [{}] does not specify a {}", sec.name, key),
                    );
                    continue;
                }
                Err(()) => continue,
            };
            // The other keys are factory arguments; Supervisor expands them too.
            for e in &sec.entries {
                if e.key != key {
                    let _ = self.get(sec, &e.key, None, &exp);
                }
            }
            if factory != DEFAULT_RPC_FACTORY {
                let at = self.at(sec, key);
                self.warn(
                    at,
                    Some(key),
                    format!(
                        "[{}] names the Python plug-in {}, which cannot be loaded; it is ignored",
                        sec.name, factory
                    ),
                );
            }
            out.push(RpcInterface { name, factory });
        }
        out
    }

    /// `[supervisorctl]` as supervisorctl reads it (`here` and the process
    /// environment only).
    pub fn ctl(&mut self, sec: &'a Section) -> Ctl {
        self.unknown_options(sec, &[CTL_KEYS]);
        let mut env = Expansions::new();
        for (k, v) in &self.opts.env {
            env.insert(format!("ENV_{k}"), Val::Str(v.clone()));
        }
        let mut with_here = env.clone();
        with_here.insert("here".into(), Val::Str(self.here.clone()));
        let mut serverurl = self
            .get(sec, "serverurl", Some("http://localhost:9001"), &with_here)
            .ok()
            .flatten()
            .unwrap_or_else(|| "http://localhost:9001".into());
        if let Some(p) = serverurl.strip_prefix("unix://") {
            serverurl = format!(
                "unix://{}",
                dt::normalize_path(p, &self.cwd, self.home.as_deref())
            );
        }
        let prompt = self
            .get(sec, "prompt", Some("supervisor"), &env)
            .ok()
            .flatten()
            .unwrap_or_else(|| "supervisor".into());
        let username = self.get(sec, "username", None, &env).ok().flatten();
        let password = self.get(sec, "password", None, &env).ok().flatten();
        let history_file = self
            .get(sec, "history_file", None, &with_here)
            .ok()
            .flatten()
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(dt::normalize_path(&h, &self.cwd, self.home.as_deref())));
        Ctl {
            serverurl,
            username,
            password,
            prompt,
            history_file,
        }
    }

    pub fn ctlplugins(&mut self) {
        let raw = self.raw;
        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("ctlplugin:"))
        {
            let f = sec
                .get("supervisor.ctl_factory")
                .map(|e| e.value.clone())
                .unwrap_or_default();
            self.warn(
                Self::sec_at(sec),
                None,
                format!("[{}] is a supervisorctl Python plug-in ({}), which cannot be loaded; it is ignored", sec.name, f),
            );
        }
    }

    /// `[health_server]` (SPEC Part B): `port` as `host:port`, required.
    pub fn health_server(&mut self) -> Option<HealthServer> {
        let raw = self.raw;
        let sec = raw.section("health_server")?;
        self.unknown_options(sec, &[HEALTH_KEYS]);
        let exp = self.env_exp.clone();
        match self.get(sec, "port", None, &exp) {
            Ok(Some(p)) => match dt::inet_address(&p) {
                Ok((host, port)) => Some(HealthServer { host, port }),
                Err(m) => {
                    let at = self.at(sec, "port");
                    self.error(at, Some("port"), m);
                    None
                }
            },
            Ok(None) => {
                self.error(
                    Self::sec_at(sec),
                    Some("port"),
                    "section [health_server] has no port value".to_string(),
                );
                None
            }
            Err(()) => None,
        }
    }

    /// Warn about sections nothing reads (Supervisor ignores them silently).
    pub fn unknown_sections(&mut self) {
        let raw = self.raw;
        const EXACT: &[&str] = &["supervisord", "supervisorctl", "include", "health_server"];
        const PREFIX: &[&str] = &[
            "program:",
            "group:",
            "eventlistener:",
            "fcgi-program:",
            "rpcinterface:",
            "ctlplugin:",
            "inet_http_server",
            "unix_http_server",
        ];
        for sec in &raw.sections {
            let known = EXACT.contains(&sec.name.as_str())
                || PREFIX.iter().any(|p| sec.name.starts_with(p));
            if !known {
                self.warn(
                    Self::sec_at(sec),
                    None,
                    format!("unknown section [{}] is ignored", sec.name),
                );
            }
            if sec.name.as_str() == "include" {
                self.unknown_options(sec, &[INCLUDE_KEYS])
            }
        }
    }
}

fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

fn shorten(v: &str) -> String {
    const MAX: usize = 200;
    if v.chars().count() <= MAX {
        v.to_string()
    } else {
        let head: String = v.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// `name_to_uid`: a number must be a known uid, a name a known user.
pub fn lookup_uid(user: &str) -> Result<u32, String> {
    match dt::py_int(user, 10) {
        Ok(n) => {
            let uid = u32::try_from(n).map_err(|_| format!("Invalid user id {user}"))?;
            match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
                Ok(Some(_)) => Ok(uid),
                _ => Err(format!("Invalid user id {user}")),
            }
        }
        Err(_) => match nix::unistd::User::from_name(user) {
            Ok(Some(u)) => Ok(u.uid.as_raw()),
            _ => Err(format!("Invalid user name {user}")),
        },
    }
}

/// `name_to_gid`.
pub fn lookup_gid(group: &str) -> Result<u32, String> {
    match dt::py_int(group, 10) {
        Ok(n) => {
            let gid = u32::try_from(n).map_err(|_| format!("Invalid group id {group}"))?;
            match nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)) {
                Ok(Some(_)) => Ok(gid),
                _ => Err(format!("Invalid group id {group}")),
            }
        }
        Err(_) => match nix::unistd::Group::from_name(group) {
            Ok(Some(g)) => Ok(g.gid.as_raw()),
            _ => Err(format!("Invalid group name {group}")),
        },
    }
}

/// `dt::count` held in a `u32` (retries, backups).
fn count_u32(s: &str) -> Result<dt::Noted<u32>, String> {
    dt::count(s, u64::from(u32::MAX)).map(|(v, n)| (u32::try_from(v).unwrap_or(u32::MAX), n))
}
