//! The multi-call binary: `supervisord`, `supervisorctl`,
//! `echo_supervisord_conf` and `pidproxy`, chosen by the name it is run as
//! (or by `supervisord ctl ...` / `supervisord echo_supervisord_conf` /
//! `supervisord pidproxy ...`).
//!
//! Exit codes decided here: 0 after `-h`, `-v` and the sample; 2 for a
//! usage error (as Supervisor); otherwise whatever the daemon or the client
//! returns.

use std::io::Write;
use supervisor_rs::cli::{self, DaemonCommand, Invocation};

/// Exit status of a command-line usage error, as in Supervisor.
const EXIT_USAGE: i32 = 2;

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let mut raw = std::env::args_os();
    let argv0 = raw
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let args = match cli::utf8_args(raw) {
        Ok(args) => args,
        Err(msg) => return usage(&argv0, &msg),
    };
    match cli::dispatch(&argv0, &args) {
        Invocation::EchoConf => print_out(cli::sample_config()),
        Invocation::Ctl { args } => supervisor_rs::ctl::run(args),
        Invocation::PidProxy { args } => supervisor_rs::pidproxy::run(&args),
        Invocation::Daemon { prog, args } => match cli::parse_daemon_args(&args) {
            Ok(DaemonCommand::Help(text)) => print_out(&text),
            Ok(DaemonCommand::Version) => {
                print_out(&format!("{}\n", supervisor_rs::SUPERVISOR_VERSION))
            }
            Ok(DaemonCommand::Run(daemon_args)) => supervisor_rs::daemon::run(daemon_args),
            Err(msg) => usage(&prog, &msg),
        },
    }
}

/// Write to stdout without `print!`, which panics when stdout is closed.
/// A reader that went away (`echo_supervisord_conf | head`) is not an error.
fn print_out(text: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(_) => 1,
    }
}

fn usage(prog: &str, msg: &str) -> i32 {
    // Nothing better to do if stderr itself is gone; the exit code remains.
    let _ = std::io::stderr().write_all(cli::usage_error(prog, msg).as_bytes());
    EXIT_USAGE
}
