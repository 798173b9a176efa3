//! Command-line parsing compatible with Python's `getopt`, for supervisord
//! (and later supervisorctl), the multi-call dispatch on argv[0], plus the
//! `echo_supervisord_conf` sample.

pub mod getopt;
#[cfg(test)]
mod proptests;

use crate::config::Overrides;
use getopt::Spec;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What `supervisord ARGS` asked for.
// Built once per process start, so the size of `Run` does not matter.
#[allow(clippy::large_enum_variant)]
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

/// Which program the multi-call binary should behave as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// supervisord.  `prog` names it in usage messages (`For help, use
    /// <prog> -h`); `args` exclude it.
    Daemon { prog: String, args: Vec<String> },
    /// supervisorctl with these arguments (without the program name).
    Ctl { args: Vec<String> },
    /// echo_supervisord_conf: print [`sample_config`], exit 0.  Like the
    /// reference, it ignores any arguments.
    EchoConf,
    /// pidproxy with these arguments (without the program name).
    PidProxy { args: Vec<String> },
}

/// Decide what to run from argv[0] and the remaining arguments.
///
/// The basename of argv[0] picks the program (`supervisorctl`,
/// `echo_supervisord_conf`; anything else is supervisord, so a renamed
/// binary still runs the daemon).  supervisord also accepts `ctl ARGS...`
/// and `echo_supervisord_conf` as a first argument, so one binary without
/// symlinks can do everything; the reference rejects any positional
/// argument, so these words cannot change the meaning of a valid command.
pub fn dispatch(argv0: &str, args: &[String]) -> Invocation {
    let base = Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    match base {
        "supervisorctl" => {
            return Invocation::Ctl {
                args: args.to_vec(),
            };
        }
        "echo_supervisord_conf" => return Invocation::EchoConf,
        "pidproxy" => {
            return Invocation::PidProxy {
                args: args.to_vec(),
            };
        }
        _ => {}
    }
    match args.split_first() {
        Some((first, rest)) if first == "ctl" => Invocation::Ctl {
            args: rest.to_vec(),
        },
        Some((first, _)) if first == "echo_supervisord_conf" => Invocation::EchoConf,
        Some((first, rest)) if first == "pidproxy" => Invocation::PidProxy {
            args: rest.to_vec(),
        },
        _ => Invocation::Daemon {
            prog: argv0.to_string(),
            args: args.to_vec(),
        },
    }
}

/// Convert the process arguments to UTF-8 strings.  A non-UTF-8 argument is
/// a usage error rather than being silently altered (a lossy conversion
/// could make `-c` name a different file).
pub fn utf8_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Vec<String>, String> {
    args.into_iter()
        .map(|a| {
            a.into_string().map_err(|bad| {
                format!(
                    "argument is not valid UTF-8: {}",
                    py_repr(&bad.to_string_lossy())
                )
            })
        })
        .collect()
}

/// The two lines Supervisor prints to stderr for a usage error (exit 2).
pub fn usage_error(prog: &str, msg: &str) -> String {
    format!("Error: {msg}\nFor help, use {prog} -h\n")
}

/// What a supervisord option does once getopt has found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Help,
    Version,
    Configuration,
    Check,
    ProfileOptions,
    /// A `[supervisord]` boolean set to true.
    Flag,
    /// A `[supervisord]` value, kept raw for the config loader to convert.
    Value,
}

/// One supervisord option: the table drives the getopt spec, the dispatch
/// and the help text, so the three cannot drift apart.
struct DaemonOption {
    short: Option<char>,
    /// Without dashes; also the `[supervisord]` key for `Flag`/`Value`.
    long: &'static str,
    /// Shown in the help when the option takes an argument.
    metavar: Option<&'static str>,
    action: Action,
    help: &'static str,
}

const fn opt(
    short: Option<char>,
    long: &'static str,
    metavar: Option<&'static str>,
    action: Action,
    help: &'static str,
) -> DaemonOption {
    DaemonOption {
        short,
        long,
        metavar,
        action,
        help,
    }
}

/// In the reference's order.  `--check` is ours; it is matched only when
/// spelled in full so that abbreviations the reference accepts (`--ch` for
/// `--childlogdir`) keep working.
#[rustfmt::skip]
const DAEMON_OPTIONS: &[DaemonOption] = &[
    opt(Some('c'), "configuration", Some("FILE"), Action::Configuration,
        "read this config file (default: search the usual places)"),
    opt(Some('n'), "nodaemon", None, Action::Flag,
        "stay in the foreground (nodaemon=true)"),
    opt(Some('s'), "silent", None, Action::Flag,
        "in the foreground, do not copy the log to stdout (silent=true)"),
    opt(Some('h'), "help", None, Action::Help, "show this help and exit"),
    opt(Some('v'), "version", None, Action::Version,
        "print the Supervisor version we are compatible with and exit"),
    opt(Some('u'), "user", Some("USER"), Action::Value,
        "switch to this user name or uid after start"),
    opt(Some('m'), "umask", Some("UMASK"), Action::Value,
        "octal umask for supervisord and its programs (default 022)"),
    opt(Some('d'), "directory", Some("DIR"), Action::Value,
        "change to this directory when going to the background"),
    opt(Some('l'), "logfile", Some("FILE"), Action::Value, "main log file"),
    opt(Some('y'), "logfile_maxbytes", Some("BYTES"), Action::Value,
        "rotate the main log at this size, e.g. 50MB (0: never)"),
    opt(Some('z'), "logfile_backups", Some("NUM"), Action::Value,
        "rotated main logs to keep"),
    opt(Some('e'), "loglevel", Some("LEVEL"), Action::Value,
        "critical, error, warn, info, debug, trace or blather"),
    opt(Some('j'), "pidfile", Some("FILE"), Action::Value,
        "write supervisord's pid to this file"),
    opt(Some('i'), "identifier", Some("STR"), Action::Value,
        "name of this instance (RPC, event headers, AUTO log names)"),
    opt(Some('q'), "childlogdir", Some("DIR"), Action::Value,
        "directory for AUTO child logs"),
    opt(Some('k'), "nocleanup", None, Action::Flag,
        "keep old AUTO child logs at start (nocleanup=true)"),
    opt(Some('a'), "minfds", Some("NUM"), Action::Value,
        "fail to start unless this many file descriptors are available"),
    opt(Some('t'), "strip_ansi", None, Action::Flag,
        "remove ANSI escape sequences from child output (strip_ansi=true)"),
    opt(None, "minprocs", Some("NUM"), Action::Value,
        "fail to start unless this many processes are available"),
    opt(None, "profile_options", Some("OPTIONS"), Action::ProfileOptions,
        "Python profiler options: not supported, rejected"),
    opt(None, "check", None, Action::Check,
        "validate the config (syntax, values, references), print every \
         problem and exit: 0 if valid (paths, users and log directories \
         missing on this machine are only warnings)"),
];

/// `-?` is a second, undocumented spelling of `-h` in the reference.
const HELP_ALIAS: char = '?';

fn daemon_spec() -> Spec {
    let mut short = String::new();
    let mut long = Vec::new();
    for o in DAEMON_OPTIONS {
        if let Some(c) = o.short {
            short.push(c);
            if o.metavar.is_some() {
                short.push(':');
            }
        }
        if o.action != Action::Check {
            long.push(long_spec(o));
        }
    }
    short.push(HELP_ALIAS);
    let long_refs: Vec<&str> = long.iter().map(String::as_str).collect();
    let mut spec = Spec::new(&short, &long_refs);
    for o in DAEMON_OPTIONS.iter().filter(|o| o.action == Action::Check) {
        spec = spec.with_exact_long(&long_spec(o));
    }
    spec
}

fn long_spec(o: &DaemonOption) -> String {
    if o.metavar.is_some() {
        format!("{}=", o.long)
    } else {
        o.long.to_string()
    }
}

fn find_option(name: &str) -> Option<&'static DaemonOption> {
    if let Some(long) = name.strip_prefix("--") {
        return DAEMON_OPTIONS.iter().find(|o| o.long == long);
    }
    let c = name.strip_prefix('-')?.chars().next()?;
    if c == HELP_ALIAS {
        return DAEMON_OPTIONS.iter().find(|o| o.action == Action::Help);
    }
    DAEMON_OPTIONS.iter().find(|o| o.short == Some(c))
}

/// Store a `[supervisord]` value override by its config key.
fn value_slot<'a>(ov: &'a mut Overrides, key: &str) -> Option<&'a mut Option<String>> {
    Some(match key {
        "user" => &mut ov.user,
        "umask" => &mut ov.umask,
        "directory" => &mut ov.directory,
        "logfile" => &mut ov.logfile,
        "logfile_maxbytes" => &mut ov.logfile_maxbytes,
        "logfile_backups" => &mut ov.logfile_backups,
        "loglevel" => &mut ov.loglevel,
        "pidfile" => &mut ov.pidfile,
        "identifier" => &mut ov.identifier,
        "childlogdir" => &mut ov.childlogdir,
        "minfds" => &mut ov.minfds,
        "minprocs" => &mut ov.minprocs,
        _ => return None,
    })
}

/// Store a `[supervisord]` boolean override by its config key.
fn flag_slot<'a>(ov: &'a mut Overrides, key: &str) -> Option<&'a mut bool> {
    Some(match key {
        "nodaemon" => &mut ov.nodaemon,
        "silent" => &mut ov.silent,
        "nocleanup" => &mut ov.nocleanup,
        "strip_ansi" => &mut ov.strip_ansi,
        _ => return None,
    })
}

/// Parse supervisord's arguments (without argv[0]).  `Err` is a usage error
/// message (exit 2).
///
/// As in the reference: positional arguments are rejected before any option
/// is acted on; options are then handled left to right, so `-h`/`-v` win
/// only over what follows them; an option given twice (in any spelling) is
/// `conflicting command line option '<as typed>'`.  Values are kept raw:
/// the config loader converts them with the rules of the file values.
pub fn parse_daemon_args(args: &[String]) -> Result<DaemonCommand, String> {
    let (opts, positional) = getopt::getopt(args, &daemon_spec()).map_err(|e| e.msg)?;
    if !positional.is_empty() {
        return Err(format!(
            "positional arguments are not supported: {}",
            py_list_repr(&positional)
        ));
    }
    let mut parsed = DaemonArgs::default();
    let mut seen: Vec<&'static str> = Vec::new();
    for o in opts {
        let Some(def) = find_option(&o.name) else {
            // getopt only returns options of the spec built from the table.
            return Err(format!("option {} not recognized", o.name));
        };
        match def.action {
            Action::Help => return Ok(DaemonCommand::Help(daemon_help())),
            Action::Version => return Ok(DaemonCommand::Version),
            Action::ProfileOptions => {
                return Err(format!(
                    "{} is not supported: it configures the Python profiler, \
                     and supervisor-rs has no Python runtime",
                    o.name
                ));
            }
            _ => {}
        }
        if seen.contains(&def.long) {
            return Err(format!(
                "conflicting command line option {}",
                py_repr(&o.name)
            ));
        }
        seen.push(def.long);
        let value = o.value.unwrap_or_default();
        match def.action {
            Action::Configuration => parsed.configuration = Some(PathBuf::from(value)),
            Action::Check => parsed.check = true,
            Action::Flag => {
                if let Some(slot) = flag_slot(&mut parsed.overrides, def.long) {
                    *slot = true;
                }
            }
            Action::Value => {
                if let Some(slot) = value_slot(&mut parsed.overrides, def.long) {
                    *slot = Some(value);
                }
            }
            Action::Help | Action::Version | Action::ProfileOptions => {}
        }
    }
    Ok(DaemonCommand::Run(parsed))
}

/// supervisord's `-h` text, generated from the option table.
fn daemon_help() -> String {
    const WIDTH: usize = 30;
    let mut out = format!(
        "supervisord -- start programs and keep them running\n\
         (supervisor-rs {}, a drop-in for Supervisor {})\n\
         \n\
         Usage: supervisord [options]\n\
         \x20      supervisord ctl [supervisorctl options and command]\n\
         \x20      supervisord echo_supervisord_conf\n\
         \x20      supervisord pidproxy PIDFILE COMMAND [ARG ...]\n\
         \n\
         Options (each overrides the same [supervisord] key of the config file):\n",
        crate::BUILD_VERSION,
        crate::SUPERVISOR_VERSION
    );
    for o in DAEMON_OPTIONS {
        let mut left = String::from("  ");
        if let Some(c) = o.short {
            left.push('-');
            left.push(c);
            left.push('/');
        }
        left.push_str("--");
        left.push_str(o.long);
        if let Some(m) = o.metavar {
            left.push(' ');
            left.push_str(m);
        }
        let words = wrap(o.help, 78 - WIDTH);
        for (i, line) in words.iter().enumerate() {
            if i == 0 && left.len() < WIDTH {
                out.push_str(&format!("{left:<WIDTH$}{line}\n"));
            } else if i == 0 {
                out.push_str(&format!("{left}\n{:WIDTH$}{line}\n", ""));
            } else {
                out.push_str(&format!("{:WIDTH$}{line}\n", ""));
            }
        }
    }
    out.push_str(
        "\nLong options may be shortened to a unique prefix (--config=FILE),\n\
         except --check.\n\
         Short options may be grouped: -nc FILE.\n",
    );
    out
}

/// Greedy word wrap for the help text.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Python's `repr()` of a str, for messages the reference builds with `%r`.
fn py_repr(s: &str) -> String {
    crate::config::expand::py_repr(s)
}

/// Python's `repr()` of a list of str.
fn py_list_repr(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_repr(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// The commented sample config printed by `echo_supervisord_conf`.
pub fn sample_config() -> &'static str {
    include_str!("sample.conf")
}

#[cfg(test)]
mod tests;
