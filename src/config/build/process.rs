//! One program's processes: Supervisor's `processes_from_section`.
//!
//! `numprocs` expansion, command, environment, restart policy, stop signal
//! and log channels of each process of a `[program:x]`, `[eventlistener:x]`
//! or `[fcgi-program:x]` section, and the warnings about a command or
//! directory missing on this host.

use std::path::{Path, PathBuf};

use super::ctx::{ABSURD_CAPTURE_BYTES, ABSURD_LOG_BYTES, ABSURD_SECS, Ctx, count_u32};
use crate::config::datatypes::{self as dt, LogfileName};
use crate::config::expand::{Expansions, Val, expand};
use crate::config::os;
use crate::config::source::Section;
use crate::config::types::*;

/// Upper bound for `numprocs` (Supervisor has none; see Part C).
pub const MAX_NUMPROCS: i64 = 10_000;
/// Bound on the command and environment text of all processes of one program.
pub const MAX_PROGRAM_BYTES: usize = 64 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ProcKind {
    Program,
    Listener,
    Fcgi,
}

impl<'a> Ctx<'a> {
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
        let exit_supervisor_on = self
            .conv(sec, "exit_supervisor_on", "none", &exp, dt::exit_on)
            .unwrap_or(ExitOn::None);
        let depends_on = self
            .conv(sec, "depends_on", "", &exp, super::depends::depends_on)
            .unwrap_or_default();
        let launch = self.launch_keys(sec, &exp);
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
            let lines = self.line_format(sec, &exp);
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
                Some(c) => match crate::config::shlex::shlex_split(c) {
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
            let (readiness, liveness) = self.checks(sec, &exp);
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
                exit_supervisor_on,
                depends_on: depends_on.clone(),
                launch,
                lines,
                readiness: readiness.map(Box::new),
                liveness: liveness.map(Box::new),
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
            && !os::is_dir(&self.resolve(&d.to_string_lossy()))
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
            match os::executable_file(&p) {
                None => Some(format!("command {prog} does not exist on this host")),
                Some(false) => Some(format!("command {prog} is not an executable file")),
                Some(true) => None,
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
            let found = path
                .split(':')
                .filter(|d| !d.is_empty())
                .any(|d| os::executable_file(&Path::new(d).join(prog)) == Some(true));
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
}
