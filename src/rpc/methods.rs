//! The published XML-RPC methods: names, arities and help texts.
//!
//! `system.methodSignature` is derived from the `@param` / `@return` tags of
//! the help text, as Supervisor does, so the two cannot drift apart.  Only
//! names in this table dispatch (Supervisor's CVE-2017-11610 was a dotted
//! name walking to `os.system`): lookup is by exact string.

/// One published method.
#[derive(Debug, Clone, Copy)]
pub struct MethodInfo {
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    pub help: &'static str,
}

macro_rules! m {
    ($name:expr, $min:expr, $max:expr, $help:expr) => {
        MethodInfo {
            name: $name,
            min_args: $min,
            max_args: $max,
            help: $help,
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
pub const METHODS: &[MethodInfo] = &[
    m!(
        "supervisor.addProcessGroup",
        1,
        1,
        "Add a process group from the configuration that was last read (see reloadConfig).\n\n@param string name         name of process group to add\n@return boolean result     true if successful"
    ),
    m!(
        "supervisor.clearAllProcessLogs",
        0,
        0,
        "Clear all process log files\n\n@return array result   An array of process status info structs"
    ),
    m!(
        "supervisor.clearLog",
        0,
        0,
        "Clear the main log.\n\n@return boolean result always returns True unless error"
    ),
    m!("supervisor.clearProcessLog", 1, 1, CLEAR_LOGS),
    m!("supervisor.clearProcessLogs", 1, 1, CLEAR_LOGS),
    m!("supervisor.getAPIVersion", 0, 0, API_VERSION),
    m!(
        "supervisor.getAllConfigInfo",
        0,
        0,
        "Get info about all available process configurations. Each struct\nrepresents a single process (i.e. groups get flattened).\n\n@return array result  An array of process config info structs"
    ),
    m!(
        "supervisor.getAllProcessInfo",
        0,
        0,
        "Get info about all processes\n\n@return array result  An array of process status results"
    ),
    m!(
        "supervisor.getIdentification",
        0,
        0,
        "Return identifying string of supervisord\n\n@return string identifier identifying string"
    ),
    m!(
        "supervisor.getPID",
        0,
        0,
        "Return the PID of supervisord\n\n@return int PID"
    ),
    m!(
        "supervisor.getProcessInfo",
        1,
        1,
        "Get info about a process named name\n\n@param string name The name of the process (or 'group:name')\n@return struct result     A structure containing data about the process"
    ),
    m!(
        "supervisor.getState",
        0,
        0,
        "Return current state of supervisord as a struct\n\n@return struct A struct with keys int statecode, string statename"
    ),
    m!(
        "supervisor.getSupervisorVersion",
        0,
        0,
        "Return the version of the supervisor package in use by supervisord\n\n@return string version id"
    ),
    m!("supervisor.getVersion", 0, 0, API_VERSION),
    m!("supervisor.readLog", 2, 2, READ_LOG),
    m!("supervisor.readMainLog", 2, 2, READ_LOG),
    m!("supervisor.readProcessLog", 3, 3, READ_STDOUT),
    m!("supervisor.readProcessStderrLog", 3, 3, READ_STDERR),
    m!("supervisor.readProcessStdoutLog", 3, 3, READ_STDOUT),
    m!(
        "supervisor.reloadConfig",
        0,
        0,
        "Reload the configuration.\n\nThe result contains three arrays containing names of process\ngroups: added, changed and removed since the running configuration.\n\n@return array result  [[added, changed, removed]]"
    ),
    m!(
        "supervisor.removeProcessGroup",
        1,
        1,
        "Remove a stopped process group from the active configuration.\n\n@param string name         name of process group to remove\n@return boolean result     Indicates whether the removal was successful"
    ),
    m!(
        "supervisor.restart",
        0,
        0,
        "Restart the supervisor process\n\n@return boolean result  always return True unless error"
    ),
    m!(
        "supervisor.sendProcessStdin",
        2,
        2,
        "Send a string of chars to the stdin of the process name.\nNon-ASCII text is sent UTF-8 encoded.\n\n@param string name        The process name to send to (or 'group:name')\n@param string chars       The character data to send to the process\n@return boolean result    Always return True unless error"
    ),
    m!(
        "supervisor.sendRemoteCommEvent",
        2,
        2,
        "Send an event that will be received by event listener\nsubprocesses subscribing to the RemoteCommunicationEvent.\n\n@param  string  type  String for the \"type\" key in the event header\n@param  string  data  Data for the event body\n@return boolean       Always return True unless error"
    ),
    m!(
        "supervisor.shutdown",
        0,
        0,
        "Shut down the supervisor process\n\n@return boolean result always returns True unless error"
    ),
    m!(
        "supervisor.signalAllProcesses",
        1,
        1,
        "Send a signal to all processes in the process list\n\n@param string signal  Signal to send, as name ('HUP') or number ('1')\n@return array         An array of process status info structs"
    ),
    m!(
        "supervisor.signalProcess",
        2,
        2,
        "Send an arbitrary UNIX signal to the process named by name\n\n@param string name    Name of the process to signal (or 'group:name')\n@param string signal  Signal to send, as name ('HUP') or number ('1')\n@return boolean"
    ),
    m!(
        "supervisor.signalProcessGroup",
        2,
        2,
        "Send a signal to all processes in the group named 'name'\n\n@param string name    The group name\n@param string signal  Signal to send, as name ('HUP') or number ('1')\n@return array"
    ),
    m!(
        "supervisor.startAllProcesses",
        0,
        1,
        "Start all processes listed in the configuration file\n\n@param boolean wait    Wait for each process to be fully started\n@return array result   An array of process status info structs"
    ),
    m!(
        "supervisor.startProcess",
        1,
        2,
        "Start a process\n\n@param string name Process name (or ``group:name``, or ``group:*``)\n@param boolean wait Wait for process to be fully started\n@return boolean result     Always true unless error"
    ),
    m!(
        "supervisor.startProcessGroup",
        1,
        2,
        "Start all processes in the group named 'name'\n\n@param string name     The group name\n@param boolean wait    Wait for each process to be fully started\n@return array result   An array of process status info structs"
    ),
    m!(
        "supervisor.stopAllProcesses",
        0,
        1,
        "Stop all processes in the process list\n\n@param  boolean wait   Wait for each process to be fully stopped\n@return array result   An array of process status info structs"
    ),
    m!(
        "supervisor.stopProcess",
        1,
        2,
        "Stop a process named by name\n\n@param string name  The name of the process to stop (or 'group:name')\n@param boolean wait        Wait for the process to be fully stopped\n@return boolean result     Always return True unless error"
    ),
    m!(
        "supervisor.stopProcessGroup",
        1,
        2,
        "Stop all processes in the process group named 'name'\n\n@param string name     The group name\n@param boolean wait    Wait for each process to be fully stopped\n@return array result   An array of process status info structs"
    ),
    m!("supervisor.tailProcessLog", 3, 3, TAIL_STDOUT),
    m!("supervisor.tailProcessStderrLog", 3, 3, TAIL_STDERR),
    m!("supervisor.tailProcessStdoutLog", 3, 3, TAIL_STDOUT),
    m!(
        "system.listMethods",
        0,
        0,
        "Return an array listing the available method names\n\n@return array result  An array of method names available (strings)."
    ),
    m!(
        "system.methodHelp",
        1,
        1,
        "Return a string showing the method's documentation\n\n@param string name   The name of the method.\n@return string result The documentation for the method name."
    ),
    m!(
        "system.methodSignature",
        1,
        1,
        "Return an array describing the method signature in the\nform [rtype, ptype, ptype...] where rtype is the return data type\nof the method, and ptypes are the parameter data types that the\nmethod accepts in method argument order.\n\n@param string name  The name of the method.\n@return array result  The result."
    ),
    m!(
        "system.multicall",
        1,
        1,
        "Process an array of calls, and return an array of\nresults. Calls should be structs of the form {'methodName':\nstring, 'params': array}. Each result will either be the\nreturn value of the call, or a struct of the form\n{'faultCode': int, 'faultString': string}.\n\n@param array calls  An array of call requests\n@return array result  An array of results"
    ),
];

/// The method of exactly this name.
pub fn lookup(name: &str) -> Option<&'static MethodInfo> {
    METHODS
        .binary_search_by(|m| m.name.cmp(name))
        .ok()
        .and_then(|i| METHODS.get(i))
}

/// `[rtype, ptype...]` from the help tags; None without an `@return` tag.
pub fn signature(m: &MethodInfo) -> Option<Vec<String>> {
    let mut rtype = None;
    let mut ptypes = Vec::new();
    for line in m.help.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("@return"), Some(t)) => rtype = Some(t.to_string()),
            (Some("@param"), Some(t)) => ptypes.push(t.to_string()),
            _ => {}
        }
    }
    rtype.map(|r| std::iter::once(r).chain(ptypes).collect())
}

#[cfg(test)]
mod tests {
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
