//! `[supervisord]`: the daemon's own options, command-line overrides applied, with their host checks.

use std::path::PathBuf;

use super::ctx::{ABSURD_LOG_BYTES, ABSURD_MINFDS, ABSURD_MINPROCS, At, Ctx, count_u32};
use crate::config::datatypes as dt;
use crate::config::expand::{Val, expand, py_repr_short};
use crate::config::os;
use crate::config::types::*;

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
    // SPEC Part B.
    "exit_when_all_exited",
    "forward_signals",
    "log_format",
];

impl<'a> Ctx<'a> {
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
            exit_when_all_exited: false,
            forward_signals: Vec::new(),
            log_format: LogFormat::Text,
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
            if let Some(v) = self.conv(sec, "exit_when_all_exited", "false", &exp, dt::boolean) {
                sd.exit_when_all_exited = v;
            }
            sd.forward_signals = self.forward_signals(sec, &exp);
            sd.log_format = self.sd_log_format(sec, &exp);
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
            let euid = os::euid();
            self.daemon_uid = Some(if euid == 0 { uid.unwrap_or(0) } else { euid });
        } else {
            self.daemon_uid = Some(os::euid());
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
                && os::is_dir(&self.resolve(v))
            {
                return dt::normalize_path(v, &self.cwd, None);
            }
        }
        "/tmp".into()
    }
}
