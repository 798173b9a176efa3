//! `help` and the help text of every command.

use super::controller::{COMMANDS, Controller};
use crate::ctl::format::columnize;

/// The reference's help texts are its own; these say the same in our words.
pub fn help_text(cmd: &str) -> Option<&'static [&'static str]> {
    Some(match cmd {
        "help" => &[
            "help\t\tList the available actions",
            "help <action>\tShow how to use <action>",
        ],
        "add" => &["add <name> [...]\tActivate the config of new process groups"],
        "avail" => &["avail\t\t\tList every configured process"],
        "clear" => &[
            "clear <name>\t\tEmpty a process' log files",
            "clear <name> <name>\tEmpty the log files of several processes",
            "clear all\t\tEmpty the log files of every process",
        ],
        "exit" => &["exit\tLeave the supervisor shell."],
        "quit" => &["quit\tLeave the supervisor shell."],
        "fg" => &[
            "fg <process>\tAttach to a running process (its output and stdin)",
            "\t\tCtrl-C to detach",
        ],
        "maintail" => &[
            "maintail -f \tFollow the main log of supervisord (Ctrl-C to stop)",
            "maintail -100\tLast 100 *bytes* of the main log of supervisord",
            "maintail\tLast 1600 *bytes* of the main log of supervisord",
        ],
        "open" => &[
            "open <url>\tTalk to another supervisord from now on.",
            "\t\t(unix:///path/to/socket for a UNIX domain socket)",
        ],
        "pid" => &[
            "pid\t\t\tShow the PID of supervisord.",
            "pid <name>\t\tShow the PID of one child process.",
            "pid all\t\t\tShow the PID of every child process, one per line.",
        ],
        "reload" => &["reload \t\tRestart the remote supervisord."],
        "remove" => &["remove <name> [...]\tDeactivate process groups no longer in the config"],
        "reread" => {
            &["reread \t\t\tRe-read the config files and show what changed, without applying it"]
        }
        "restart" => &[
            "restart <name>\t\tRestart a process",
            "restart <gname>:*\tRestart every process of a group",
            "restart <name> <name>\tRestart several processes or groups",
            "restart all\t\tRestart every process",
            "Note: restart does not re-read the config files; see reread and update.",
        ],
        "shutdown" => &["shutdown \tStop the remote supervisord."],
        "signal" => &[
            "signal <signal name> <name>\t\tSend a signal to a process",
            "signal <signal name> <gname>:*\t\tSend a signal to every process of a group",
            "signal <signal name> <name> <name>\tSend a signal to several processes or groups",
            "signal <signal name> all\t\tSend a signal to every process",
        ],
        "start" => &[
            "start <name>\t\tStart a process",
            "start <gname>:*\t\tStart every process of a group",
            "start <name> <name>\tStart several processes or groups",
            "start all\t\tStart every process",
        ],
        "status" => &[
            "status <name>\t\tShow the status of one process",
            "status <gname>:*\tShow the status of every process of a group",
            "status <name> <name>\tShow the status of several processes",
            "status\t\t\tShow the status of every process",
        ],
        "stop" => &[
            "stop <name>\t\tStop a process",
            "stop <gname>:*\t\tStop every process of a group",
            "stop <name> <name>\tStop several processes or groups",
            "stop all\t\tStop every process",
        ],
        "tail" => &[
            "tail [-f] <name> [stdout|stderr] (default stdout)",
            "Ex:",
            "tail -f <name>\t\tFollow the stdout of a process",
            "\t\t\tCtrl-C to stop.",
            "tail -100 <name>\tLast 100 *bytes* of the stdout of a process",
            "tail <name> stderr\tLast 1600 *bytes* of the stderr of a process",
        ],
        "update" => &[
            "update\t\t\tRe-read the config, apply it, restart what changed",
            "update all\t\tRe-read the config, apply it, restart what changed",
            "update <gname> [...]\tApply the new config to these groups only",
        ],
        "version" => &["version\t\t\tShow the version of the remote supervisord"],
        _ => return None,
    })
}

impl Controller {
    pub(super) fn do_help(&mut self, arg: &str) {
        let arg = arg.trim();
        if arg.is_empty() {
            let header = "default commands (type help <topic>):";
            self.output("");
            self.output(header);
            self.output(&"=".repeat(header.len()));
            for l in columnize(COMMANDS, 79) {
                self.output(&l);
            }
            self.output("");
        } else if let Some(text) = help_text(arg) {
            self.outputs(text);
        } else {
            self.output(&format!("*** No help on {arg}"));
        }
    }

    pub(super) fn help(&mut self, cmd: &str) {
        if let Some(text) = help_text(cmd) {
            self.outputs(text);
        }
    }
}
