//! supervisorctl's command line and its `[supervisorctl]` settings.
//!
//! As in the reference: options are parsed with Python's getopt rules and
//! acted on left to right (`-h` wins only over what follows it), an
//! option given twice is a usage error, `-s` must look like a URL, and a
//! value given on the command line beats the config file, which beats the
//! defaults.  Finding no config file is fine; naming a missing one, or a
//! file without `[supervisorctl]`, is a usage error.

use std::path::{Path, PathBuf};

use crate::cli::getopt::{self, Spec};
use crate::config::{self, LoadOptions, Overrides, Severity};

/// Default `serverurl` when neither the command line nor a config sets it.
pub const DEFAULT_SERVERURL: &str = "http://localhost:9001";
/// Default `prompt` (the shell shows `supervisor> `).
pub const DEFAULT_PROMPT: &str = "supervisor";

/// Everything supervisorctl runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub serverurl: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub prompt: String,
    pub history_file: Option<PathBuf>,
    /// Interactive mode: `-i` or no command.  Shutdown and reload then ask
    /// for confirmation, and a 401 asks for credentials.
    pub interactive: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            serverurl: DEFAULT_SERVERURL.into(),
            username: None,
            password: None,
            prompt: DEFAULT_PROMPT.into(),
            history_file: None,
            interactive: false,
        }
    }
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `-h`: print the help and exit 0.
    Help,
    /// Run `command` (empty: the shell).
    Run {
        settings: Settings,
        command: Vec<String>,
    },
}

/// Command-line values, before the config is merged in.
#[derive(Debug, Default)]
struct Given {
    configuration: Option<String>,
    interactive: bool,
    serverurl: Option<String>,
    username: Option<String>,
    password: Option<String>,
    history_file: Option<String>,
}

fn spec() -> Spec {
    Spec::new(
        "h?c:is:u:p:r:",
        &[
            "help",
            "configuration=",
            "interactive",
            "serverurl=",
            "username=",
            "password=",
            "history_file=",
        ],
    )
    // The spelling the reference documents; matched only in full so that
    // `--history` stays an unambiguous prefix of `--history_file`.
    .with_exact_long("history-file=")
}

/// Parse the arguments (without the program name).  `Err` is a usage
/// error message (printed as `Error: ...`, exit 2).
pub fn parse(args: &[String], argv0: &Path, cwd: &Path) -> Result<Parsed, String> {
    let (opts, command) = getopt::getopt(args, &spec()).map_err(|e| e.msg)?;
    let mut given = Given::default();
    for o in opts {
        let conflict = || {
            format!(
                "conflicting command line option {}",
                super::format::py_repr_str(&o.name)
            )
        };
        let value = o.value.clone().unwrap_or_default();
        let slot = match o.name.as_str() {
            "-h" | "-?" | "--help" => return Ok(Parsed::Help),
            "-i" | "--interactive" => {
                if given.interactive {
                    return Err(conflict());
                }
                given.interactive = true;
                continue;
            }
            "-c" | "--configuration" => &mut given.configuration,
            "-s" | "--serverurl" => {
                if !looks_like_url(&value) {
                    return Err(format!(
                        "invalid value for {} {}: value {} is not a URL",
                        o.name,
                        super::format::py_repr_str(&value),
                        super::format::py_repr_str(&value)
                    ));
                }
                &mut given.serverurl
            }
            "-u" | "--username" => &mut given.username,
            "-p" | "--password" => &mut given.password,
            "-r" | "--history_file" | "--history-file" => &mut given.history_file,
            other => return Err(format!("option {other} not recognized")),
        };
        if slot.is_some() {
            return Err(conflict());
        }
        *slot = Some(value);
    }

    let mut settings = Settings::default();
    let config_path = match &given.configuration {
        Some(c) => Some(PathBuf::from(c)),
        None => config::find_config_file(argv0, cwd),
    };
    if let Some(path) = config_path {
        let shown = path.display().to_string();
        let full = if path.is_absolute() {
            path
        } else {
            cwd.join(path)
        };
        if !full.exists() {
            return Err(format!("could not find config file {shown}"));
        }
        let opts = LoadOptions::from_process(Overrides::default(), false);
        match config::load_ctl(&full, &opts) {
            Ok((Some(ctl), _warnings)) => {
                settings.serverurl = ctl.serverurl;
                settings.username = ctl.username;
                settings.password = ctl.password;
                settings.prompt = ctl.prompt;
                settings.history_file = ctl.history_file;
            }
            Ok((None, _)) => {}
            Err(diags) => {
                let msg = diags
                    .iter()
                    .find(|d| d.severity == Severity::Error)
                    .or(diags.first())
                    .map_or_else(
                        || format!("could not read config file {shown}"),
                        |d| {
                            // The reference words this one without a location.
                            if d.message.contains("does not include supervisorctl section") {
                                d.message.clone()
                            } else {
                                d.to_string()
                            }
                        },
                    );
                return Err(msg);
            }
        }
    }
    if let Some(u) = given.serverurl {
        settings.serverurl = u;
    }
    if given.username.is_some() {
        settings.username = given.username;
    }
    if given.password.is_some() {
        settings.password = given.password;
    }
    if let Some(h) = given.history_file {
        settings.history_file = Some(PathBuf::from(h));
    }
    settings.interactive = given.interactive || command.is_empty();
    Ok(Parsed::Run { settings, command })
}

/// Python's `urlparse`-based check of `-s`: a scheme, and a host or path.
fn looks_like_url(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return false;
    }
    let (netloc, path) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    !netloc.is_empty() || !path.is_empty()
}

/// The scheme of a URL as Python's `urlparse` finds it (lowercased), or
/// `""` when it has none.
pub fn url_scheme(url: &str) -> String {
    match url.split_once(':') {
        Some((s, _))
            if s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            s.to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn no_conf_dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn run(a: &[&str]) -> Result<Parsed, String> {
        let d = no_conf_dir();
        parse(
            &argv(a),
            Path::new("/nonexistent/bin/supervisorctl"),
            d.path(),
        )
    }

    fn settings(a: &[&str]) -> (Settings, Vec<String>) {
        match run(a) {
            Ok(Parsed::Run { settings, command }) => (settings, command),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_without_config() {
        let (s, cmd) = settings(&["status"]);
        assert_eq!(s.serverurl, "http://localhost:9001");
        assert_eq!(s.prompt, "supervisor");
        assert!(!s.interactive);
        assert_eq!(cmd, vec!["status"]);
        let (s, cmd) = settings(&[]);
        assert!(s.interactive);
        assert!(cmd.is_empty());
        let (s, _) = settings(&["-i", "status"]);
        assert!(s.interactive);
    }

    #[test]
    fn option_spellings() {
        let (s, cmd) = settings(&[
            "-sunix:///x.sock",
            "--user=u",
            "-p",
            "pw",
            "--history-file",
            "/h",
            "stop",
            "-x",
        ]);
        assert_eq!(s.serverurl, "unix:///x.sock");
        assert_eq!(s.username.as_deref(), Some("u"));
        assert_eq!(s.password.as_deref(), Some("pw"));
        assert_eq!(s.history_file, Some(PathBuf::from("/h")));
        assert_eq!(cmd, vec!["stop", "-x"]);
        let (s, _) = settings(&["--history=/h2", "--serv", "http://h:1"]);
        assert_eq!(s.history_file, Some(PathBuf::from("/h2")));
        assert_eq!(s.serverurl, "http://h:1");
    }

    #[test]
    fn help_is_acted_on_in_order() {
        assert_eq!(run(&["-h", "-s", "x"]), Ok(Parsed::Help));
        assert_eq!(run(&["-?"]), Ok(Parsed::Help));
        assert_eq!(
            run(&["-s", "x", "-h"]),
            Err("invalid value for -s 'x': value 'x' is not a URL".into())
        );
    }

    #[test]
    fn usage_errors() {
        assert_eq!(
            run(&["-u", "a", "--username=b"]),
            Err("conflicting command line option '--username'".into())
        );
        assert_eq!(
            run(&["-i", "-i"]),
            Err("conflicting command line option '-i'".into())
        );
        assert_eq!(run(&["-z"]), Err("option -z not recognized".into()));
        assert_eq!(run(&["-s"]), Err("option -s requires argument".into()));
        assert_eq!(
            run(&["-c", "/nonexistent/x.conf"]),
            Err("could not find config file /nonexistent/x.conf".into())
        );
    }

    #[test]
    fn url_check_like_urlparse() {
        assert!(looks_like_url("http://localhost:9001"));
        assert!(looks_like_url("unix:///tmp/x"));
        assert!(looks_like_url("localhost:9001"));
        assert!(looks_like_url("foo://x"));
        assert!(!looks_like_url("x"));
        assert!(!looks_like_url("http://"));
        assert!(!looks_like_url("9001:x"));
        assert!(!looks_like_url(""));
        assert_eq!(url_scheme("HTTP://x"), "http");
        assert_eq!(url_scheme("/tmp/x"), "");
    }

    #[test]
    fn config_values_and_overrides() {
        let d = no_conf_dir();
        let conf = d.path().join("s.conf");
        std::fs::write(
            &conf,
            "[supervisorctl]\nserverurl=unix://%(here)s/s.sock\nusername=cu\npassword=cp\n\
             prompt=hello\nhistory_file=%(here)s/hist\n",
        )
        .unwrap();
        let c = conf.to_string_lossy().into_owned();
        let parsed = parse(
            &argv(&["-c", &c, "-u", "cli", "status"]),
            Path::new("x"),
            d.path(),
        )
        .unwrap();
        let Parsed::Run { settings: s, .. } = parsed else {
            panic!()
        };
        assert_eq!(s.serverurl, format!("unix://{}/s.sock", d.path().display()));
        assert_eq!(s.username.as_deref(), Some("cli"));
        assert_eq!(s.password.as_deref(), Some("cp"));
        assert_eq!(s.prompt, "hello");
        assert_eq!(s.history_file, Some(d.path().join("hist")));

        // Found by the search order (./supervisord.conf) without -c.
        std::fs::write(
            d.path().join("supervisord.conf"),
            "[supervisord]\n[supervisorctl]\nserverurl=http://127.0.0.1:1\n",
        )
        .unwrap();
        let parsed = parse(&argv(&["status"]), Path::new("x"), d.path()).unwrap();
        let Parsed::Run { settings: s, .. } = parsed else {
            panic!()
        };
        assert_eq!(s.serverurl, "http://127.0.0.1:1");

        std::fs::write(&conf, "[supervisord]\n").unwrap();
        assert_eq!(
            parse(&argv(&["-c", &c]), Path::new("x"), d.path()),
            Err(".ini file does not include supervisorctl section".into())
        );
    }
}
