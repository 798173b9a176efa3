//! supervisorctl: control a running supervisord over XML-RPC, as a
//! drop-in for Supervisor 4.3's client — same commands, same output lines,
//! same exit codes.
//!
//! ```text
//! run(args) ── options::parse ──> Settings (+ [supervisorctl] of the config)
//!     │
//!     ├─ command given ──> Controller::onecmd(args joined) ──> exit status
//!     └─ no command / -i ──> shell: `status`, then prompt/onecmd until
//!                            EOF, quit or exit (always exit 0)
//! Controller::onecmd ── client::Client::call ──> POST /RPC2 (unix or http)
//! ```
//!
//! * [`options`] — flags and config; [`commands`] — every action;
//!   [`client`] — HTTP and XML-RPC; [`format`] — output shapes;
//!   [`input`] — typed lines; [`lineedit`] — the shell's line editor.

pub mod client;
pub mod commands;
pub mod format;
pub mod input;
pub mod lineedit;
pub mod options;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use commands::Controller;
use options::Parsed;

/// Exit status of a usage error.
const EXIT_USAGE: i32 = 2;

/// Run supervisorctl with `args` (without the program name); returns the
/// exit status.
pub fn run(args: Vec<String>) -> i32 {
    let argv0 = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "supervisorctl".into());
    let progname = program_name(&argv0);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let (settings, command) = match options::parse(&args, Path::new(&argv0), &cwd) {
        Ok(Parsed::Help) => {
            let mut out = std::io::stdout();
            let _ = out
                .write_all(help(&progname).as_bytes())
                .and_then(|()| out.flush());
            return 0;
        }
        Ok(Parsed::Run { settings, command }) => (settings, command),
        Err(msg) => {
            let _ = std::io::stderr()
                .write_all(format!("Error: {msg}\nFor help, use {progname} -h\n").as_bytes());
            return EXIT_USAGE;
        }
    };

    // Ctrl-C sets `interrupted`, which every wait checks.  It also ends the
    // process, as Python's KeyboardInterrupt would, unless a command that
    // handles it (tail -f, fg) or the shell has turned `sigint_kills` off.
    let interrupted = Arc::new(AtomicBool::new(false));
    let sigint_kills = Arc::new(AtomicBool::new(!command.is_empty()));
    // An ignored SIGINT (a background job of a script) stays ignored.
    if !sigint_ignored() {
        let _ = signal_hook::flag::register_conditional_default(
            signal_hook::consts::SIGINT,
            Arc::clone(&sigint_kills),
        );
        let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted));
    }

    let input = input::for_terminal(
        settings.history_file.clone(),
        Arc::clone(&interrupted),
        commands::COMMANDS,
    );
    let mut ctl = Controller::new(
        settings,
        Box::new(std::io::stdout()),
        input,
        Arc::clone(&interrupted),
    );
    ctl.sigint_kills = sigint_kills;

    if !command.is_empty() {
        if ctl.onecmd(&command.join(" ")).is_err() {
            // Ctrl-C during a call: die of SIGINT, as the reference does.
            let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGINT);
            return 130;
        }
        return ctl.exitstatus;
    }
    shell(&mut ctl);
    0
}

/// The interactive shell: `status`, then one command per line until EOF,
/// `quit`/`exit`, or Ctrl-C at the prompt.
pub fn shell(ctl: &mut Controller) {
    let prompt = format!("{}> ", ctl.settings.prompt);
    let mut next = Some("status".to_string());
    loop {
        let line = match next.take() {
            Some(l) => l,
            None => {
                let server = ctl.completion_client();
                ctl.input.set_completion_server(server);
                match ctl.input.read_line(&prompt) {
                    input::Line::Text(l) => l,
                    input::Line::Eof => "EOF".to_string(),
                    input::Line::Interrupted => {
                        ctl.output("");
                        break;
                    }
                }
            }
        };
        match ctl.onecmd(&line) {
            Ok(false) => {}
            Ok(true) => break,
            Err(_) => {
                ctl.output("");
                break;
            }
        }
        ctl.interrupted.store(false, Ordering::Relaxed);
    }
    ctl.input.save_history();
}

/// Whether SIGINT was ignored when we were started.
fn sigint_ignored() -> bool {
    // SAFETY: with a null new action, sigaction only reads the current one
    // into `old`, a zeroed plain C struct.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// How usage messages name the program: argv[0], or `supervisord ctl`
/// when the multi-call binary runs under another name.
fn program_name(argv0: &str) -> String {
    let base = Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if base == "supervisorctl" {
        argv0.to_string()
    } else {
        format!("{argv0} ctl")
    }
}

/// `supervisorctl -h`.
fn help(progname: &str) -> String {
    format!(
        "supervisorctl -- control the programs of a running supervisord\n\
         (supervisor-rs, a drop-in for Supervisor 4.3)\n\
         \n\
         Usage: {progname} [options] [action [arguments]]\n\
         \n\
         Options:\n\
         -c/--configuration FILENAME -- read [supervisorctl] from this file\n\
         \x20    (default: search the usual places; none found is fine)\n\
         -h/--help -- show this help and exit\n\
         -i/--interactive -- ask before shutdown/reload and for credentials\n\
         \x20    (without an action, the interactive shell starts anyway)\n\
         -s/--serverurl URL -- where supervisord listens: http://host:port or\n\
         \x20    unix:///path/to/socket (default \"http://localhost:9001\")\n\
         -u/--username USERNAME -- user name for the server's authentication\n\
         -p/--password PASSWORD -- password for the server's authentication\n\
         -r/--history-file FILE -- keep the shell's line history in FILE\n\
         \n\
         action [arguments] -- one command, as typed in the shell, e.g.\n\
         \"status\", \"start web:*\", \"tail -f web stderr\".  Without an action an\n\
         interactive shell starts; type \"help\" there for the list of actions.\n"
    )
}

#[cfg(test)]
mod tests;
