//! The load context shared by the section builders: located diagnostics,
//! option getters and converters, host checks, limits.

use std::path::{Path, PathBuf};

use crate::config::datatypes as dt;
use crate::config::diagnostic::{Diagnostic, Severity};
use crate::config::expand::{Expansions, Val, expand};
use crate::config::options::LoadOptions;
use crate::config::os;
use crate::config::source::{Entry, RawConfig, Section};
use crate::config::types::*;

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

pub(super) const INCLUDE_KEYS: &[&str] = &["files"];

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
        let cwd = os::current_dir();
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
    pub(super) fn absurd(
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

    pub(super) fn entry(&self, sec: &'a Section, key: &str) -> Option<&'a Entry> {
        self.raw.get(sec, key)
    }

    /// Supervisor's `saneget`: the value (or `default`), `%`-expanded with
    /// `exp`.  `Err(())` once the expansion error is reported.
    pub(super) fn get(
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
    pub(super) fn get_raw(&self, sec: &'a Section, key: &str) -> Option<String> {
        self.entry(sec, key).map(|e| e.value.clone())
    }

    /// Get, expand and convert one option; errors are reported and give `None`.
    pub(super) fn conv<T>(
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
    pub(super) fn conv_noted<T>(
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
    pub(super) fn mode(&mut self, sec: &'a Section, key: &str, exp: &Expansions) -> Option<u32> {
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

    pub(super) fn at(&self, sec: &'a Section, key: &str) -> At<'a> {
        At {
            sec: Some(sec),
            entry: self.entry(sec, key),
        }
    }

    pub(super) fn sec_at(sec: &'a Section) -> At<'a> {
        At {
            sec: Some(sec),
            entry: None,
        }
    }

    // ------------------------------------------------------- host checks

    /// `existing_dirpath`: the directory part of a path must exist.
    pub(super) fn check_dirpath(&mut self, at: At<'_>, option: &str, value: &str) -> String {
        let p = dt::expanduser(value, self.home.as_deref());
        let dir = dt::dirname(&p);
        if !dir.is_empty() && !os::is_dir(&self.resolve(dir)) {
            self.host(
                at,
                Some(option),
                format!("The directory named as part of the path {value} does not exist"),
            );
        }
        p
    }

    /// `existing_directory`.
    pub(super) fn check_directory(&mut self, at: At<'_>, option: &str, value: &str) -> String {
        let p = dt::expanduser(value, self.home.as_deref());
        if !os::is_dir(&self.resolve(&p)) {
            self.host(
                at,
                Some(option),
                format!("{value} is not an existing directory"),
            );
        }
        p
    }

    pub(super) fn resolve(&self, p: &str) -> PathBuf {
        if p.starts_with('/') {
            PathBuf::from(p)
        } else {
            Path::new(&self.cwd).join(p)
        }
    }

    /// `name_to_uid`: a user name or uid that exists on this host.
    pub(super) fn check_user(&mut self, at: At<'_>, option: &str, user: &str) -> Option<u32> {
        match lookup_uid(user) {
            Ok(uid) => Some(uid),
            Err(msg) => {
                self.host(at, Some(option), msg);
                None
            }
        }
    }

    pub(super) fn check_owner(&mut self, at: At<'_>, option: &str, o: &Owner, what: &str) {
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

    // ------------------------------------------------------- unknowns

    pub fn unknown_options(&mut self, sec: &'a Section, known: &[&[&str]]) {
        for e in &sec.entries {
            if !known.iter().any(|k| k.contains(&e.key.as_str())) {
                let at = At {
                    sec: Some(sec),
                    entry: Some(e),
                };
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

pub(super) fn shorten(v: &str) -> String {
    const MAX: usize = 200;
    if v.chars().count() <= MAX {
        v.to_string()
    } else {
        let head: String = v.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// `name_to_uid`: a number must be a known uid, a name a known user.
pub(super) fn lookup_uid(user: &str) -> Result<u32, String> {
    match dt::py_int(user, 10) {
        Ok(n) => {
            let uid = u32::try_from(n).map_err(|_| format!("Invalid user id {user}"))?;
            match os::user_by_uid(uid) {
                Some(_) => Ok(uid),
                None => Err(format!("Invalid user id {user}")),
            }
        }
        Err(_) => match os::user_by_name(user) {
            Some(u) => Ok(u.uid),
            None => Err(format!("Invalid user name {user}")),
        },
    }
}

/// `name_to_gid`.
pub(super) fn lookup_gid(group: &str) -> Result<u32, String> {
    match dt::py_int(group, 10) {
        Ok(n) => {
            let gid = u32::try_from(n).map_err(|_| format!("Invalid group id {group}"))?;
            if os::group_exists(gid) {
                Ok(gid)
            } else {
                Err(format!("Invalid group id {group}"))
            }
        }
        Err(_) => os::group_by_name(group).ok_or_else(|| format!("Invalid group name {group}")),
    }
}

/// `dt::count` held in a `u32` (retries, backups).
pub(super) fn count_u32(s: &str) -> Result<dt::Noted<u32>, String> {
    dt::count(s, u64::from(u32::MAX)).map(|(v, n)| (u32::try_from(v).unwrap_or(u32::MAX), n))
}
