//! The one table of XML-RPC methods: name, arity, help text (whose tags
//! give the signature), the moods it runs in, and its handler.  Dispatch,
//! `system.listMethods`, `methodHelp`, `methodSignature` and `multicall`
//! all read it.  Only names in this table dispatch (Supervisor's
//! CVE-2017-11610 was a dotted name walking to `os.system`): lookup is by
//! exact string.

use super::call::{Method, When};
use super::{config, control, info, logs, system};

macro_rules! m {
    (@encoded) => {
        None
    };
    (@encoded $enc:path) => {
        Some($enc)
    };
    ($name:expr, $min:expr, $max:expr, $help:expr, $when:ident, $run:path $(, encoded = $enc:path)?) => {
        Method {
            name: $name,
            min_args: $min,
            max_args: $max,
            help: $help,
            when: When::$when,
            run: $run,
            encoded: m!(@encoded $($enc)?),
        }
    };
}

const READ_LOG: &str = "Read length bytes from the main log starting at offset\n\n@param int offset         offset to start reading from.\n@param int length         number of bytes to read from the log.\n@return string result     Bytes of log";
const READ_STDOUT: &str = "Read length bytes from name's stdout log starting at offset\n\n@param string name        the name of the process (or 'group:name')\n@param int offset         offset to start reading from.\n@param int length         number of bytes to read from the log.\n@return string result     Bytes of log";
const READ_STDERR: &str = "Read length bytes from name's stderr log starting at offset\n\n@param string name        the name of the process (or 'group:name')\n@param int offset         offset to start reading from.\n@param int length         number of bytes to read from the log.\n@return string result     Bytes of log";
const TAIL_STDOUT: &str = "Tail the stdout log of a process: up to length bytes ending at the end of the log.\nIf the log grew past offset+length, overflow is true and the window moves to the end.\nThe returned offset is the log size, to pass on the next call.\n\n@param string name         the name of the process (or 'group:name')\n@param int offset          offset to start reading from\n@param int length          maximum number of bytes to return\n@return array result       [string bytes, int offset, bool overflow]";
const TAIL_STDERR: &str = "Tail the stderr log of a process: up to length bytes ending at the end of the log.\nIf the log grew past offset+length, overflow is true and the window moves to the end.\nThe returned offset is the log size, to pass on the next call.\n\n@param string name         the name of the process (or 'group:name')\n@param int offset          offset to start reading from\n@param int length          maximum number of bytes to return\n@return array result       [string bytes, int offset, bool overflow]";
const CLEAR_LOGS: &str = "Clear the stdout and stderr logs of the named process and reopen them.\n\n@param string name   The name of the process (or 'group:name')\n@return boolean result      Always True unless error";
const API_VERSION: &str =
    "Return the version of the RPC API used by supervisord\n\n@return string version id";

/// Every method, sorted by name (the order `system.listMethods` returns).
pub static METHODS: &[Method] = &[
    m!(
        "supervisor.addProcessGroup",
        1,
        1,
        "Add a process group from the configuration that was last read (see reloadConfig).\n\n@param string name         name of process group to add\n@return boolean result     true if successful",
        Running,
        config::add_process_group
    ),
    m!(
        "supervisor.clearAllProcessLogs",
        0,
        0,
        "Clear all process log files\n\n@return array result   An array of process status info structs",
        Running,
        logs::clear_all_process_logs
    ),
    m!(
        "supervisor.clearLog",
        0,
        0,
        "Clear the main log.\n\n@return boolean result always returns True unless error",
        Running,
        logs::clear_log
    ),
    m!(
        "supervisor.clearProcessLog",
        1,
        1,
        CLEAR_LOGS,
        Running,
        logs::clear_process_logs
    ),
    m!(
        "supervisor.clearProcessLogs",
        1,
        1,
        CLEAR_LOGS,
        Running,
        logs::clear_process_logs
    ),
    m!(
        "supervisor.getAPIVersion",
        0,
        0,
        API_VERSION,
        Running,
        info::api_version
    ),
    m!(
        "supervisor.getAllConfigInfo",
        0,
        0,
        "Get info about all available process configurations. Each struct\nrepresents a single process (i.e. groups get flattened).\n\n@return array result  An array of process config info structs",
        Running,
        info::all_config_info
    ),
    m!(
        "supervisor.getAllProcessInfo",
        0,
        0,
        "Get info about all processes\n\n@return array result  An array of process status results",
        Running,
        info::all_process_info,
        encoded = info::all_process_info_encoded
    ),
    m!(
        "supervisor.getIdentification",
        0,
        0,
        "Return identifying string of supervisord\n\n@return string identifier identifying string",
        Running,
        info::identification
    ),
    m!(
        "supervisor.getPID",
        0,
        0,
        "Return the PID of supervisord\n\n@return int PID",
        Running,
        info::pid
    ),
    m!(
        "supervisor.getProcessInfo",
        1,
        1,
        "Get info about a process named name\n\n@param string name The name of the process (or 'group:name')\n@return struct result     A structure containing data about the process",
        Running,
        info::process_info
    ),
    m!(
        "supervisor.getState",
        0,
        0,
        "Return current state of supervisord as a struct\n\n@return struct A struct with keys int statecode, string statename",
        Running,
        info::state
    ),
    m!(
        "supervisor.getSupervisorVersion",
        0,
        0,
        "Return the version of the supervisor package in use by supervisord\n\n@return string version id",
        Running,
        info::supervisor_version
    ),
    m!(
        "supervisor.getVersion",
        0,
        0,
        API_VERSION,
        Running,
        info::api_version
    ),
    m!(
        "supervisor.readLog",
        2,
        2,
        READ_LOG,
        Running,
        logs::read_main_log
    ),
    m!(
        "supervisor.readMainLog",
        2,
        2,
        READ_LOG,
        Running,
        logs::read_main_log
    ),
    m!(
        "supervisor.readProcessLog",
        3,
        3,
        READ_STDOUT,
        Running,
        logs::read_stdout
    ),
    m!(
        "supervisor.readProcessStderrLog",
        3,
        3,
        READ_STDERR,
        Running,
        logs::read_stderr
    ),
    m!(
        "supervisor.readProcessStdoutLog",
        3,
        3,
        READ_STDOUT,
        Running,
        logs::read_stdout
    ),
    m!(
        "supervisor.reloadConfig",
        0,
        0,
        "Reload the configuration.\n\nThe result contains three arrays containing names of process\ngroups: added, changed and removed since the running configuration.\n\n@return array result  [[added, changed, removed]]",
        Running,
        config::reload_config
    ),
    m!(
        "supervisor.removeProcessGroup",
        1,
        1,
        "Remove a stopped process group from the active configuration.\n\n@param string name         name of process group to remove\n@return boolean result     Indicates whether the removal was successful",
        Running,
        config::remove_process_group
    ),
    m!(
        "supervisor.restart",
        0,
        0,
        "Restart the supervisor process\n\n@return boolean result  always return True unless error",
        Running,
        config::restart
    ),
    m!(
        "supervisor.sendProcessStdin",
        2,
        2,
        "Send a string of chars to the stdin of the process name.\nNon-ASCII text is sent UTF-8 encoded.\n\n@param string name        The process name to send to (or 'group:name')\n@param string chars       The character data to send to the process\n@return boolean result    Always return True unless error",
        Running,
        control::send_stdin
    ),
    m!(
        "supervisor.sendRemoteCommEvent",
        2,
        2,
        "Send an event that will be received by event listener\nsubprocesses subscribing to the RemoteCommunicationEvent.\n\n@param  string  type  String for the \"type\" key in the event header\n@param  string  data  Data for the event body\n@return boolean       Always return True unless error",
        Always,
        control::send_remote_comm_event
    ),
    m!(
        "supervisor.shutdown",
        0,
        0,
        "Shut down the supervisor process\n\n@return boolean result always returns True unless error",
        Running,
        config::shutdown
    ),
    m!(
        "supervisor.signalAllProcesses",
        1,
        1,
        "Send a signal to all processes in the process list\n\n@param string signal  Signal to send, as name ('HUP') or number ('1')\n@return array         An array of process status info structs",
        Running,
        control::signal_all
    ),
    m!(
        "supervisor.signalProcess",
        2,
        2,
        "Send an arbitrary UNIX signal to the process named by name\n\n@param string name    Name of the process to signal (or 'group:name')\n@param string signal  Signal to send, as name ('HUP') or number ('1')\n@return boolean",
        Running,
        control::signal_process
    ),
    m!(
        "supervisor.signalProcessGroup",
        2,
        2,
        "Send a signal to all processes in the group named 'name'\n\n@param string name    The group name\n@param string signal  Signal to send, as name ('HUP') or number ('1')\n@return array",
        Running,
        control::signal_group
    ),
    m!(
        "supervisor.startAllProcesses",
        0,
        1,
        "Start all processes listed in the configuration file\n\n@param boolean wait    Wait for each process to be fully started\n@return array result   An array of process status info structs",
        Running,
        control::start_all
    ),
    m!(
        "supervisor.startProcess",
        1,
        2,
        "Start a process\n\n@param string name Process name (or ``group:name``, or ``group:*``)\n@param boolean wait Wait for process to be fully started\n@return boolean result     Always true unless error",
        Running,
        control::start_process
    ),
    m!(
        "supervisor.startProcessGroup",
        1,
        2,
        "Start all processes in the group named 'name'\n\n@param string name     The group name\n@param boolean wait    Wait for each process to be fully started\n@return array result   An array of process status info structs",
        Running,
        control::start_group
    ),
    m!(
        "supervisor.stopAllProcesses",
        0,
        1,
        "Stop all processes in the process list\n\n@param  boolean wait   Wait for each process to be fully stopped\n@return array result   An array of process status info structs",
        Running,
        control::stop_all
    ),
    m!(
        "supervisor.stopProcess",
        1,
        2,
        "Stop a process named by name\n\n@param string name  The name of the process to stop (or 'group:name')\n@param boolean wait        Wait for the process to be fully stopped\n@return boolean result     Always return True unless error",
        Running,
        control::stop_process
    ),
    m!(
        "supervisor.stopProcessGroup",
        1,
        2,
        "Stop all processes in the process group named 'name'\n\n@param string name     The group name\n@param boolean wait    Wait for each process to be fully stopped\n@return array result   An array of process status info structs",
        Running,
        control::stop_group
    ),
    m!(
        "supervisor.tailProcessLog",
        3,
        3,
        TAIL_STDOUT,
        Running,
        logs::tail_stdout
    ),
    m!(
        "supervisor.tailProcessStderrLog",
        3,
        3,
        TAIL_STDERR,
        Running,
        logs::tail_stderr
    ),
    m!(
        "supervisor.tailProcessStdoutLog",
        3,
        3,
        TAIL_STDOUT,
        Running,
        logs::tail_stdout
    ),
    m!(
        "system.listMethods",
        0,
        0,
        "Return an array listing the available method names\n\n@return array result  An array of method names available (strings).",
        Always,
        system::list_methods
    ),
    m!(
        "system.methodHelp",
        1,
        1,
        "Return a string showing the method's documentation\n\n@param string name   The name of the method.\n@return string result The documentation for the method name.",
        Always,
        system::method_help
    ),
    m!(
        "system.methodSignature",
        1,
        1,
        "Return an array describing the method signature in the\nform [rtype, ptype, ptype...] where rtype is the return data type\nof the method, and ptypes are the parameter data types that the\nmethod accepts in method argument order.\n\n@param string name  The name of the method.\n@return array result  The result.",
        Always,
        system::method_signature
    ),
    m!(
        "system.multicall",
        1,
        1,
        "Process an array of calls, and return an array of\nresults. Calls should be structs of the form {'methodName':\nstring, 'params': array}. Each result will either be the\nreturn value of the call, or a struct of the form\n{'faultCode': int, 'faultString': string}.\n\n@param array calls  An array of call requests\n@return array result  An array of results",
        Always,
        system::multicall
    ),
];

/// The method of exactly this name.
pub fn lookup(name: &str) -> Option<&'static Method> {
    super::call::find(METHODS, name)
}

#[cfg(test)]
mod tests {
    use super::super::call::signature;
    use super::*;

    #[test]
    fn forty_one_sorted_methods() {
        assert_eq!(METHODS.len(), 41);
        assert!(
            METHODS.windows(2).all(|w| w[0].name < w[1].name),
            "sorted for listMethods and binary search"
        );
        for m in METHODS {
            assert!(lookup(m.name).is_some());
            assert!(signature(m).is_some(), "{} has an @return tag", m.name);
            let sig = signature(m).unwrap_or_default();
            assert!(
                sig.len() - 1 <= m.max_args && m.min_args <= m.max_args,
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn only_exact_names_dispatch() {
        for bad in [
            "supervisor.supervisord.options.execve",
            "supervisor._update",
            "supervisor",
            "startProcess",
            "supervisor.startprocess",
            "system.multicall.x",
            "",
        ] {
            assert!(lookup(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn signatures_from_tags() {
        let s = lookup("supervisor.startProcess").and_then(signature);
        assert_eq!(
            s,
            Some(vec!["boolean".into(), "string".into(), "boolean".into()])
        );
        let s = lookup("supervisor.getState").and_then(signature);
        assert_eq!(s, Some(vec!["struct".into()]));
    }
}
