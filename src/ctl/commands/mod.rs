//! The supervisorctl commands: one method per action, with the reference's
//! output lines and exit statuses.
//!
//! Error flow mirrors the reference.  A command handles the faults it
//! knows (printing `x: ERROR (...)`) and returns any other failure as a
//! `CallError`; `Controller::onecmd` then prints it as the reference
//! prints an unexpected exception (`error: <class 'X'>, message: ...`) and
//! sets the exit status to 1.  HTTP 401 is special: `Server requires
//! authentication`, and in interactive mode a prompt for credentials.

mod config;
mod controller;
mod help;
mod logs;
mod processes;

pub use controller::{COMMANDS, Controller, Flow, exit};
pub use help::help_text;
