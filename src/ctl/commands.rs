//! The supervisorctl commands: one method per action, with the reference's
//! output lines and exit statuses.
//!
//! Error flow mirrors the reference.  A command handles the faults it
//! knows (printing `x: ERROR (...)`) and returns any other failure as a
//! [`CallError`]; [`Controller::onecmd`] then prints it as the reference
//! prints an unexpected exception (`error: <class 'X'>, message: ...`) and
//! sets the exit status to 1.  HTTP 401 is special: `Server requires
//! authentication`, and in interactive mode a prompt for credentials.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::client::{CallError, Client, ServerUrl, StreamEnd};
use super::format::{
    StatusRow, avail_line, columnize, make_namespec, py_int, py_repr_str, py_str, py_type,
    reread_lines, split_namespec, status_lines,
};
use super::input::{Input, Line};
use super::options::{Settings, url_scheme};
use crate::rpc::{Value, faults};

/// LSB init-script exit statuses, as supervisorctl uses them.
pub mod exit {
    pub const SUCCESS: i32 = 0;
    pub const GENERIC: i32 = 1;
    pub const INVALID_ARGS: i32 = 2;
    pub const UNIMPLEMENTED_FEATURE: i32 = 3;
    pub const INSUFFICIENT_PRIVILEGES: i32 = 4;
    pub const NOT_INSTALLED: i32 = 5;
    pub const NOT_RUNNING: i32 = 7;
    /// `status`: some shown process is not running.
    pub const STATUS_NOT_RUNNING: i32 = 3;
    /// `status`: unknown name, or the server could not be asked.
    pub const STATUS_UNKNOWN: i32 = 4;
}

/// Process states (`supervisor.states.ProcessStates`) that matter here.
const RUNNING: i32 = 20;
const STOPPED_STATES: [i32; 4] = [0, 100, 200, 1000];
/// Faults that mean the program is dead (exit status 7).
const DEAD_PROGRAM_FAULTS: [i32; 3] = [
    faults::SPAWN_ERROR,
    faults::ABNORMAL_TERMINATION,
    faults::NOT_RUNNING,
];

/// Idle limit for calls that answer at once.  Calls that wait for
/// processes to start or stop (bounded by the daemon's startsecs and
/// stopwaitsecs) wait as long as the daemon takes, as the reference does.
const QUICK_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The commands `help` lists, sorted.
pub const COMMANDS: &[&str] = &[
    "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload", "remove",
    "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail", "update",
    "version",
];

type Res = Result<(), CallError>;

/// Command results: `Ok(true)` leaves the shell.
pub type Flow = Result<bool, CallError>;

/// supervisorctl's state: settings, the exit status so far, where output
/// goes and where answers come from.
pub struct Controller {
    pub settings: Settings,
    pub exitstatus: i32,
    out: Box<dyn Write + Send>,
    pub input: Box<dyn Input>,
    /// Set by Ctrl-C; every wait on the server checks it.
    pub interrupted: Arc<AtomicBool>,
    /// While true, Ctrl-C ends the process (a one-shot command); commands
    /// that handle Ctrl-C themselves turn it off while they run.
    pub sigint_kills: Arc<AtomicBool>,
}

impl Controller {
    pub fn new(
        settings: Settings,
        out: Box<dyn Write + Send>,
        input: Box<dyn Input>,
        interrupted: Arc<AtomicBool>,
    ) -> Controller {
        Controller {
            settings,
            exitstatus: exit::SUCCESS,
            out,
            input,
            interrupted,
            sigint_kills: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Print one line (write errors, e.g. a closed pipe, are ignored).
    pub fn output(&mut self, line: &str) {
        let _ = self
            .out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
    }

    fn outputs(&mut self, lines: &[&str]) {
        for l in lines {
            self.output(l);
        }
    }

    /// A client for the current server (the reference's `get_supervisor`):
    /// fails like it for a URL that is neither `unix://` nor `http://`.
    fn supervisor(&self) -> Result<Client, CallError> {
        let url = ServerUrl::parse(&self.settings.serverurl)?;
        Ok(Client::new(
            url,
            self.settings.username.clone(),
            self.settings.password.clone(),
        )
        .with_cancel(Arc::clone(&self.interrupted)))
    }

    /// The server for the shell's tab completion (a short wait only).
    pub fn completion_client(&self) -> Option<Client> {
        let mut c = self.supervisor().ok()?;
        c.read_timeout = Some(Duration::from_secs(5));
        Some(c)
    }

    /// A call that should answer at once.
    fn call(&self, method: &str, params: &[Value]) -> Result<Value, CallError> {
        let mut c = self.supervisor()?;
        c.read_timeout = Some(QUICK_CALL_TIMEOUT);
        c.call(method, params)
    }

    /// A call that may wait for processes to start or stop.
    fn call_wait(&self, method: &str, params: &[Value]) -> Result<Value, CallError> {
        self.supervisor()?.call(method, params)
    }

    /// Run one command line.  `Ok(true)`: leave the shell.  `Err` only for
    /// Ctrl-C ([`CallError::Interrupted`]); every other error is printed
    /// here.
    pub fn onecmd(&mut self, line: &str) -> Flow {
        let line = line.trim();
        if line.is_empty() {
            return Ok(false);
        }
        let line = match line.strip_prefix('?') {
            Some(rest) => format!("help {rest}"),
            None => line.to_string(),
        };
        let split = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        let (cmd, arg) = line.split_at(split);
        let arg = arg.trim().to_string();
        if cmd.is_empty() || !self.knows(cmd) {
            self.output(&format!("*** Unknown syntax: {line}"));
            self.exitstatus = exit::GENERIC;
            return Ok(false);
        }
        match self.dispatch(cmd, &arg) {
            Ok(stop) => Ok(stop),
            Err(CallError::Http { status: 401, .. }) => {
                self.output("Server requires authentication");
                if self.settings.interactive {
                    let user = match self.input.read_line("Username:") {
                        Line::Text(u) => u,
                        Line::Eof => return self.report(eof_error()),
                        Line::Interrupted => return Err(CallError::Interrupted),
                    };
                    let password = match self.input.read_password("Password:") {
                        Line::Text(p) => p,
                        Line::Eof => return self.report(eof_error()),
                        Line::Interrupted => return Err(CallError::Interrupted),
                    };
                    self.output("");
                    self.settings.username = Some(user);
                    self.settings.password = Some(password);
                    return self.onecmd(&line);
                }
                self.exitstatus = exit::GENERIC;
                // The reference runs the command once more here, and that
                // run fails the same way.
                match self.dispatch(cmd, &arg) {
                    Ok(stop) => Ok(stop),
                    Err(e) => self.report(e),
                }
            }
            Err(e) => self.report(e),
        }
    }

    /// Print an unexpected error the way the reference prints an uncaught
    /// exception (it names the Python source line; we name ourselves).
    fn report(&mut self, e: CallError) -> Flow {
        if e == CallError::Interrupted {
            return Err(e);
        }
        self.output(&format!(
            "error: <class '{}'>, {}: file: supervisorctl line: 0",
            e.class(),
            e.message()
        ));
        self.exitstatus = exit::GENERIC;
        Ok(false)
    }

    fn knows(&self, cmd: &str) -> bool {
        cmd == "help" || cmd == "EOF" || COMMANDS.contains(&cmd)
    }

    fn dispatch(&mut self, cmd: &str, arg: &str) -> Flow {
        match cmd {
            "help" => self.do_help(arg),
            "EOF" | "quit" | "exit" => {
                self.output("");
                return Ok(true);
            }
            "add" => self.do_add(arg)?,
            "avail" => self.do_avail(arg)?,
            "clear" => self.do_clear(arg)?,
            "fg" => self.do_fg(arg)?,
            "maintail" => self.do_maintail(arg)?,
            "open" => self.do_open(arg)?,
            "pid" => self.do_pid(arg)?,
            "reload" => self.do_reload(arg)?,
            "remove" => self.do_remove(arg)?,
            "reread" => self.do_reread(arg)?,
            "restart" => self.do_restart(arg)?,
            "shutdown" => self.do_shutdown(arg)?,
            "signal" => self.do_signal(arg)?,
            "start" => self.do_start(arg)?,
            "status" => self.do_status(arg)?,
            "stop" => self.do_stop(arg)?,
            "tail" => self.do_tail(arg)?,
            "update" => self.do_update(arg)?,
            "version" => self.do_version(arg)?,
            _ => {}
        }
        Ok(false)
    }

    /// `result_code` handling shared by start/stop/signal/clear: the
    /// ignored code and SUCCESS leave the status alone, a dead program is
    /// 7, anything else 1.
    fn set_exitstatus_from_fault(&mut self, code: Option<i32>, ignored: Option<i32>) {
        match code {
            Some(c) if Some(c) == ignored || c == faults::SUCCESS => {}
            Some(c) if DEAD_PROGRAM_FAULTS.contains(&c) => self.exitstatus = exit::NOT_RUNNING,
            _ => self.exitstatus = exit::GENERIC,
        }
    }

    /// Check that the server speaks our API.  `Ok(false)`: a message was
    /// printed and the exit status set; the command stops there.
    fn upcheck(&mut self) -> Result<bool, CallError> {
        match self.call("supervisor.getVersion", &[]) {
            Ok(Value::String(v)) if v == crate::API_VERSION => Ok(true),
            Ok(v) => {
                self.output(&format!(
                    "Sorry, this version of supervisorctl expects to talk to a server with \
                     API version {}, but the remote version is {}.",
                    crate::API_VERSION,
                    py_str(&v)
                ));
                self.exitstatus = exit::NOT_INSTALLED;
                Ok(false)
            }
            Err(CallError::Fault(f)) if f.code == faults::UNKNOWN_METHOD => {
                self.output(
                    "Sorry, supervisord responded but did not recognize the supervisor \
                     namespace commands that supervisorctl uses to control it.  Please check \
                     that the [rpcinterface:supervisor] section is enabled in the \
                     configuration file (see sample.conf).",
                );
                self.exitstatus = exit::UNIMPLEMENTED_FEATURE;
                Ok(false)
            }
            Err(e) => match e.errno() {
                Some(libc::ECONNREFUSED) => {
                    let msg = format!("{} refused connection", self.settings.serverurl);
                    self.output(&msg);
                    self.exitstatus = exit::INSUFFICIENT_PRIVILEGES;
                    Ok(false)
                }
                Some(libc::ENOENT) => {
                    let msg = format!("{} no such file", self.settings.serverurl);
                    self.output(&msg);
                    self.exitstatus = exit::NOT_RUNNING;
                    Ok(false)
                }
                _ => {
                    if !matches!(e, CallError::Http { .. } | CallError::Interrupted) {
                        self.exitstatus = exit::GENERIC;
                    }
                    Err(e)
                }
            },
        }
    }

    // ------------------------------------------------------------ help

    fn do_help(&mut self, arg: &str) {
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

    fn help(&mut self, cmd: &str) {
        if let Some(text) = help_text(cmd) {
            self.outputs(text);
        }
    }

    /// Print a usage error, the command's help, and set status 1.
    fn usage(&mut self, msg: &str, cmd: &str) {
        self.output(msg);
        self.exitstatus = exit::GENERIC;
        self.help(cmd);
    }

    // ------------------------------------------------------------ status

    fn do_status(&mut self, arg: &str) -> Res {
        if !self.upcheck()? {
            self.exitstatus = exit::STATUS_UNKNOWN;
            return Ok(());
        }
        let reply = self.call("supervisor.getAllProcessInfo", &[])?;
        let all = list(&reply)?;
        let names: Vec<&str> = arg.split_whitespace().collect();
        let matching: Vec<&Value> = if names.is_empty() || names.contains(&"all") {
            all.iter().collect()
        } else {
            let mut matching = Vec::new();
            for name in names {
                let (group, process) = split_namespec(name);
                let mut bad_name = true;
                for info in all {
                    let mut matched = field(info, "group")?.as_str() == Some(group.as_str());
                    if let Some(p) = &process {
                        matched = matched && field(info, "name")?.as_str() == Some(p.as_str());
                    }
                    if matched {
                        bad_name = false;
                        matching.push(info);
                    }
                }
                if bad_name {
                    let msg = match process {
                        None => format!("{group}: ERROR (no such group)"),
                        Some(_) => format!("{name}: ERROR (no such process)"),
                    };
                    self.output(&msg);
                    self.exitstatus = exit::STATUS_UNKNOWN;
                }
            }
            matching
        };
        let mut rows = Vec::new();
        for info in &matching {
            rows.push(StatusRow {
                namespec: namespec_of(info)?,
                statename: py_str(field(info, "statename")?),
                description: py_str(field(info, "description")?),
            });
        }
        for l in status_lines(&rows) {
            self.output(&l);
        }
        for info in &matching {
            let state = field(info, "state")?;
            if state.as_int().is_some_and(|s| STOPPED_STATES.contains(&s)) {
                self.exitstatus = exit::STATUS_NOT_RUNNING;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ pid

    fn do_pid(&mut self, arg: &str) -> Res {
        self.supervisor()?;
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            let pid = self.call("supervisor.getPID", &[])?;
            self.output(&py_str(&pid));
        } else if names.contains(&"all") {
            let reply = self.call("supervisor.getAllProcessInfo", &[])?;
            for info in list(&reply)? {
                let pid = py_str(field(info, "pid")?);
                self.output(&pid);
            }
        } else {
            for name in names {
                match self.call("supervisor.getProcessInfo", &[name.into()]) {
                    Err(CallError::Fault(f)) => {
                        self.exitstatus = exit::GENERIC;
                        if f.code == faults::BAD_NAME {
                            self.output(&format!("No such process {name}"));
                        } else {
                            return Err(CallError::Fault(f));
                        }
                    }
                    Err(e) => return Err(e),
                    Ok(info) => {
                        let pid = field(&info, "pid")?;
                        self.output(&py_str(pid));
                        if pid.as_int() == Some(0) {
                            self.exitstatus = exit::NOT_RUNNING;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ start

    fn start_result(result: &Value) -> Result<String, CallError> {
        let name = namespec_of(result)?;
        let code = field(result, "status")?;
        let why = match code.as_int() {
            Some(faults::BAD_NAME) => "no such process",
            Some(faults::NO_FILE) => "no such file",
            Some(faults::NOT_EXECUTABLE) => "file is not executable",
            Some(faults::ALREADY_STARTED) => "already started",
            Some(faults::SPAWN_ERROR) => "spawn error",
            Some(faults::ABNORMAL_TERMINATION) => "abnormal termination",
            Some(faults::SUCCESS) => return Ok(format!("{name}: started")),
            _ => return Err(unknown_code(code, &name)),
        };
        Ok(format!("{name}: ERROR ({why})"))
    }

    fn do_start(&mut self, arg: &str) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        self.supervisor()?;
        if names.is_empty() {
            self.output("Error: start requires a process name");
            self.exitstatus = exit::INVALID_ARGS;
            self.help("start");
            return Ok(());
        }
        let ignored = Some(faults::ALREADY_STARTED);
        if names.contains(&"all") {
            let results = self.call_wait("supervisor.startAllProcesses", &[])?;
            for r in list(&results)? {
                let line = Self::start_result(r)?;
                self.output(&line);
                self.set_exitstatus_from_fault(field(r, "status")?.as_int(), ignored);
            }
            return Ok(());
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => match self
                    .call_wait("supervisor.startProcessGroup", &[group.as_str().into()])
                {
                    Ok(results) => {
                        for r in list(&results)? {
                            let line = Self::start_result(r)?;
                            self.output(&line);
                            self.set_exitstatus_from_fault(field(r, "status")?.as_int(), ignored);
                        }
                    }
                    Err(CallError::Fault(f)) if f.code == faults::BAD_NAME => {
                        self.output(&format!("{group}: ERROR (no such group)"));
                        self.exitstatus = exit::INVALID_ARGS;
                    }
                    Err(e) => return Err(e),
                },
                Some(process) => match self.call_wait("supervisor.startProcess", &[name.into()]) {
                    Ok(_) => self.output(&format!("{}: started", make_namespec(&group, &process))),
                    Err(CallError::Fault(f)) => {
                        let r = fault_result(f.code, &group, &process, &f.string);
                        let line = Self::start_result(&r)?;
                        self.output(&line);
                        self.set_exitstatus_from_fault(Some(f.code), ignored);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ stop / signal

    fn signal_result(result: &Value, success: &str) -> Result<String, CallError> {
        let name = namespec_of(result)?;
        let code = field(result, "status")?;
        let why = match code.as_int() {
            Some(faults::BAD_NAME) => "no such process",
            Some(faults::BAD_SIGNAL) => "bad signal name",
            Some(faults::NOT_RUNNING) => "not running",
            Some(faults::SUCCESS) => return Ok(format!("{name}: {success}")),
            Some(faults::FAILED) => return Ok(py_str(field(result, "description")?)),
            _ => return Err(unknown_code(code, &name)),
        };
        Ok(format!("{name}: ERROR ({why})"))
    }

    fn do_stop(&mut self, arg: &str) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        self.supervisor()?;
        if names.is_empty() {
            self.usage("Error: stop requires a process name", "stop");
            return Ok(());
        }
        let ignored = Some(faults::NOT_RUNNING);
        if names.contains(&"all") {
            let results = self.call_wait("supervisor.stopAllProcesses", &[])?;
            for r in list(&results)? {
                let line = Self::signal_result(r, "stopped")?;
                self.output(&line);
                self.set_exitstatus_from_fault(field(r, "status")?.as_int(), ignored);
            }
            return Ok(());
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => match self
                    .call_wait("supervisor.stopProcessGroup", &[group.as_str().into()])
                {
                    Ok(results) => {
                        for r in list(&results)? {
                            let line = Self::signal_result(r, "stopped")?;
                            self.output(&line);
                            self.set_exitstatus_from_fault(field(r, "status")?.as_int(), ignored);
                        }
                    }
                    Err(CallError::Fault(f)) => {
                        self.exitstatus = exit::GENERIC;
                        if f.code == faults::BAD_NAME {
                            self.output(&format!("{group}: ERROR (no such group)"));
                        } else {
                            return Err(CallError::Fault(f));
                        }
                    }
                    Err(e) => return Err(e),
                },
                Some(process) => match self.call_wait("supervisor.stopProcess", &[name.into()]) {
                    Ok(_) => self.output(&format!("{}: stopped", make_namespec(&group, &process))),
                    Err(CallError::Fault(f)) => {
                        let r = fault_result(f.code, &group, &process, &f.string);
                        let line = Self::signal_result(&r, "stopped")?;
                        self.output(&line);
                        self.set_exitstatus_from_fault(Some(f.code), ignored);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    fn do_signal(&mut self, arg: &str) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        let (sig, names) = match args.split_first() {
            Some((sig, names)) if !names.is_empty() => (*sig, names),
            _ => {
                self.usage(
                    "Error: signal requires a signal name and a process name",
                    "signal",
                );
                return Ok(());
            }
        };
        self.supervisor()?;
        if names.contains(&"all") {
            let results = self.call("supervisor.signalAllProcesses", &[sig.into()])?;
            for r in list(&results)? {
                let line = Self::signal_result(r, "signalled")?;
                self.output(&line);
                self.set_exitstatus_from_fault(field(r, "status")?.as_int(), None);
            }
            return Ok(());
        }
        for &name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => match self.call(
                    "supervisor.signalProcessGroup",
                    &[group.as_str().into(), sig.into()],
                ) {
                    Ok(results) => {
                        for r in list(&results)? {
                            let line = Self::signal_result(r, "signalled")?;
                            self.output(&line);
                            self.set_exitstatus_from_fault(field(r, "status")?.as_int(), None);
                        }
                    }
                    Err(CallError::Fault(f)) if f.code == faults::BAD_NAME => {
                        self.output(&format!("{group}: ERROR (no such group)"));
                        self.exitstatus = exit::GENERIC;
                    }
                    Err(e) => return Err(e),
                },
                Some(process) => {
                    match self.call("supervisor.signalProcess", &[name.into(), sig.into()]) {
                        Ok(_) => {
                            self.output(&format!("{}: signalled", make_namespec(&group, &process)))
                        }
                        Err(CallError::Fault(f)) => {
                            let r = fault_result(f.code, &group, &process, &f.string);
                            let line = Self::signal_result(&r, "signalled")?;
                            self.output(&line);
                            self.set_exitstatus_from_fault(Some(f.code), None);
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    fn do_restart(&mut self, arg: &str) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        if arg.split_whitespace().next().is_none() {
            self.usage("Error: restart requires a process name", "restart");
            return Ok(());
        }
        self.do_stop(arg)?;
        self.do_start(arg)
    }

    // ------------------------------------------------------------ daemon

    /// Ask `question` in interactive mode; true when the answer starts
    /// with `y`.  Non-interactive: always true.
    fn confirm(&mut self, question: &str) -> Result<bool, CallError> {
        if !self.settings.interactive {
            return Ok(true);
        }
        match self.input.read_line(question) {
            Line::Text(a) => Ok(a.to_lowercase().starts_with('y')),
            Line::Eof => Err(eof_error()),
            Line::Interrupted => Err(CallError::Interrupted),
        }
    }

    fn do_shutdown(&mut self, arg: &str) -> Res {
        if !arg.is_empty() {
            self.usage("Error: shutdown accepts no arguments", "shutdown");
            return Ok(());
        }
        if !self.confirm("Really shut the remote supervisord process down y/N? ")? {
            return Ok(());
        }
        match self.call("supervisor.shutdown", &[]) {
            Ok(_) => self.output("Shut down"),
            Err(CallError::Fault(f)) if f.code == faults::SHUTDOWN_STATE => {
                self.output("ERROR: already shutting down");
            }
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                return Err(CallError::Fault(f));
            }
            Err(e) => {
                let url = self.settings.serverurl.clone();
                match e.errno() {
                    Some(libc::ECONNREFUSED) => {
                        self.exitstatus = exit::GENERIC;
                        self.output(&format!(
                            "ERROR: {url} refused connection (already shut down?)"
                        ));
                    }
                    Some(libc::ENOENT) => {
                        self.exitstatus = exit::GENERIC;
                        self.output(&format!("ERROR: {url} no such file (already shut down?)"));
                    }
                    _ => {
                        if matches!(e, CallError::Os { .. }) {
                            self.exitstatus = exit::GENERIC;
                        }
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    fn do_reload(&mut self, arg: &str) -> Res {
        if !arg.is_empty() {
            self.usage("Error: reload accepts no arguments", "reload");
            return Ok(());
        }
        if !self.confirm("Really restart the remote supervisord process y/N? ")? {
            return Ok(());
        }
        match self.call("supervisor.restart", &[]) {
            Ok(_) => self.output("Restarted supervisord"),
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == faults::SHUTDOWN_STATE {
                    self.output("ERROR: already shutting down");
                } else {
                    return Err(CallError::Fault(f));
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn do_version(&mut self, arg: &str) -> Res {
        if !arg.is_empty() {
            self.usage("Error: version accepts no arguments", "version");
            return Ok(());
        }
        if !self.upcheck()? {
            return Ok(());
        }
        let v = self.call("supervisor.getSupervisorVersion", &[])?;
        self.output(&py_str(&v));
        Ok(())
    }

    fn do_open(&mut self, arg: &str) -> Res {
        let url = arg.trim();
        let scheme = url_scheme(url);
        if scheme != "unix" && scheme != "http" {
            self.output("ERROR: url must be http:// or unix://");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.settings.serverurl = url.to_string();
        let old = self.exitstatus;
        self.do_status("")?;
        self.exitstatus = old;
        Ok(())
    }

    // ------------------------------------------------------------ config

    fn do_avail(&mut self, arg: &str) -> Res {
        if !arg.is_empty() {
            self.usage("Error: avail accepts no arguments", "avail");
            return Ok(());
        }
        match self.call("supervisor.getAllConfigInfo", &[]) {
            Ok(infos) => {
                let mut lines = Vec::new();
                for info in list(&infos)? {
                    let prio = format!(
                        "{}:{}",
                        py_str(field(info, "group_prio")?),
                        py_str(field(info, "process_prio")?)
                    );
                    lines.push(avail_line(
                        &namespec_of(info)?,
                        field(info, "inuse")?.is_truthy(),
                        field(info, "autostart")?.is_truthy(),
                        &prio,
                    ));
                }
                for l in lines {
                    self.output(&l);
                }
            }
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == faults::SHUTDOWN_STATE {
                    self.output("ERROR: supervisor shutting down");
                } else {
                    return Err(CallError::Fault(f));
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// `reloadConfig()` → (added, changed, removed) group names.
    fn changes(reply: &Value) -> Result<[Vec<String>; 3], CallError> {
        let outer = list(reply)?;
        let first = outer
            .first()
            .ok_or_else(|| CallError::py("IndexError", "list index out of range"))?;
        let parts = list(first)?;
        if parts.len() != 3 {
            return Err(CallError::py(
                "ValueError",
                format!(
                    "{} values to unpack (expected 3, got {})",
                    if parts.len() > 3 {
                        "too many"
                    } else {
                        "not enough"
                    },
                    parts.len()
                ),
            ));
        }
        let mut out: [Vec<String>; 3] = Default::default();
        for (slot, part) in out.iter_mut().zip(parts) {
            *slot = list(part)?.iter().map(py_str).collect();
        }
        Ok(out)
    }

    fn do_reread(&mut self, arg: &str) -> Res {
        if !arg.is_empty() {
            self.usage("Error: reread accepts no arguments", "reread");
            return Ok(());
        }
        match self.call("supervisor.reloadConfig", &[]) {
            Ok(reply) => {
                let [added, changed, dropped] = Self::changes(&reply)?;
                for l in reread_lines(&added, &changed, &dropped) {
                    self.output(&l);
                }
            }
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == faults::SHUTDOWN_STATE {
                    self.output("ERROR: supervisor shutting down");
                } else if f.code == faults::CANT_REREAD {
                    self.output(&format!("ERROR: {}", f.string));
                } else {
                    return Err(CallError::Fault(f));
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn do_add(&mut self, arg: &str) -> Res {
        self.supervisor()?;
        for name in arg.split_whitespace() {
            match self.call("supervisor.addProcessGroup", &[name.into()]) {
                Ok(_) => self.output(&format!("{name}: added process group")),
                Err(CallError::Fault(f)) => match f.code {
                    faults::SHUTDOWN_STATE => {
                        self.output("ERROR: shutting down");
                        self.exitstatus = exit::GENERIC;
                    }
                    faults::ALREADY_ADDED => self.output("ERROR: process group already active"),
                    faults::BAD_NAME => {
                        self.output(&format!("ERROR: no such process/group: {name}"));
                        self.exitstatus = exit::GENERIC;
                    }
                    _ => {
                        self.exitstatus = exit::GENERIC;
                        return Err(CallError::Fault(f));
                    }
                },
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn do_remove(&mut self, arg: &str) -> Res {
        self.supervisor()?;
        for name in arg.split_whitespace() {
            match self.call("supervisor.removeProcessGroup", &[name.into()]) {
                Ok(_) => self.output(&format!("{name}: removed process group")),
                Err(CallError::Fault(f)) => {
                    self.exitstatus = exit::GENERIC;
                    match f.code {
                        faults::STILL_RUNNING => {
                            self.output(&format!("ERROR: process/group still running: {name}"));
                        }
                        faults::BAD_NAME => {
                            self.output(&format!("ERROR: no such process/group: {name}"));
                        }
                        _ => return Err(CallError::Fault(f)),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn do_update(&mut self, arg: &str) -> Res {
        let reply = match self.call("supervisor.reloadConfig", &[]) {
            Ok(r) => r,
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == faults::SHUTDOWN_STATE {
                    self.output("ERROR: already shutting down");
                    return Ok(());
                }
                return Err(CallError::Fault(f));
            }
            Err(e) => return Err(e),
        };
        let [added, changed, removed] = Self::changes(&reply)?;
        let mut wanted: Vec<&str> = Vec::new();
        for g in arg.split_whitespace() {
            if !wanted.contains(&g) {
                wanted.push(g);
            }
        }
        if wanted.contains(&"all") {
            wanted.clear();
        }
        if !wanted.is_empty() {
            let infos = self.call("supervisor.getAllProcessInfo", &[])?;
            let mut groups: Vec<String> = Vec::new();
            for info in list(&infos)? {
                groups.push(py_str(field(info, "group")?));
            }
            groups.extend(added.iter().cloned());
            for g in &wanted {
                if !groups.iter().any(|x| x == g) {
                    self.output(&format!("ERROR: no such group: {g}"));
                    self.exitstatus = exit::GENERIC;
                }
            }
        }
        let selected = |g: &str| wanted.is_empty() || wanted.contains(&g);
        for g in removed.iter().filter(|g| selected(g)) {
            let results = self.call_wait("supervisor.stopProcessGroup", &[g.as_str().into()])?;
            self.output(&format!("{g}: stopped"));
            let mut failed = false;
            for r in list(&results)? {
                if field(r, "status")?.as_int() == Some(faults::FAILED) {
                    failed = true;
                }
            }
            if failed {
                self.output(&format!("{g}: has problems; not removing"));
                self.exitstatus = exit::GENERIC;
                continue;
            }
            self.call("supervisor.removeProcessGroup", &[g.as_str().into()])?;
            self.output(&format!("{g}: removed process group"));
        }
        for g in changed.iter().filter(|g| selected(g)) {
            self.call_wait("supervisor.stopProcessGroup", &[g.as_str().into()])?;
            self.output(&format!("{g}: stopped"));
            self.call("supervisor.removeProcessGroup", &[g.as_str().into()])?;
            self.call_wait("supervisor.addProcessGroup", &[g.as_str().into()])?;
            self.output(&format!("{g}: updated process group"));
        }
        for g in added.iter().filter(|g| selected(g)) {
            self.call_wait("supervisor.addProcessGroup", &[g.as_str().into()])?;
            self.output(&format!("{g}: added process group"));
        }
        Ok(())
    }

    // ------------------------------------------------------------ logs

    fn clear_result(result: &Value) -> Result<String, CallError> {
        let name = namespec_of(result)?;
        let code = field(result, "status")?;
        match code.as_int() {
            Some(faults::BAD_NAME) => Ok(format!("{name}: ERROR (no such process)")),
            Some(faults::FAILED) => Ok(format!("{name}: ERROR (failed)")),
            Some(faults::SUCCESS) => Ok(format!("{name}: cleared")),
            _ => Err(unknown_code(code, &name)),
        }
    }

    fn do_clear(&mut self, arg: &str) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.usage("Error: clear requires a process name", "clear");
            return Ok(());
        }
        self.supervisor()?;
        if names.contains(&"all") {
            let results = self.call("supervisor.clearAllProcessLogs", &[])?;
            for r in list(&results)? {
                let line = Self::clear_result(r)?;
                self.output(&line);
                self.set_exitstatus_from_fault(field(r, "status")?.as_int(), None);
            }
            return Ok(());
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match self.call("supervisor.clearProcessLogs", &[name.into()]) {
                Ok(_) => {
                    let spec = match &process {
                        Some(p) => make_namespec(&group, p),
                        None => format!("{group}:None"),
                    };
                    self.output(&format!("{spec}: cleared"));
                }
                Err(CallError::Fault(f)) => {
                    let p = process.unwrap_or_else(|| "None".to_string());
                    let r = fault_result(f.code, &group, &p, &f.string);
                    let line = Self::clear_result(&r)?;
                    self.output(&line);
                    self.set_exitstatus_from_fault(Some(f.code), None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `tail -f` / `maintail -f`: stream `path` until the server ends it or
    /// Ctrl-C.
    fn tailf(&mut self, path: &str) -> Res {
        self.output("==> Press Ctrl-C to exit <==");
        let client = self.supervisor()?;
        let url = format!("{}{}", self.settings.serverurl, path);
        let kills = self.sigint_kills.swap(false, Ordering::Relaxed);
        let ended = client.stream_get(path, &mut self.out);
        self.sigint_kills.store(kills, Ordering::Relaxed);
        match ended {
            Ok(StreamEnd::Done) => {}
            Ok(StreamEnd::Interrupted) => {
                self.interrupted.store(false, Ordering::Relaxed);
                self.output("");
            }
            Err(msg) => {
                let _ = writeln!(std::io::stderr(), "{url} {msg}");
            }
        }
        Ok(())
    }

    fn do_tail(&mut self, arg: &str) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        let mut args: Vec<&str> = arg.split_whitespace().collect();
        if args.is_empty() {
            self.usage("Error: too few arguments", "tail");
            return Ok(());
        }
        if args.len() > 3 {
            self.usage("Error: too many arguments", "tail");
            return Ok(());
        }
        let modifier = match args.first() {
            Some(m) if m.starts_with('-') => Some(args.remove(0)),
            _ => None,
        };
        let (name, channel) = match args.as_slice() {
            [name] => (name.to_string(), "stdout".to_string()),
            [] => {
                self.output("Error: tail requires process name");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            [name, .., last] => {
                let channel = last.to_lowercase();
                if channel != "stdout" && channel != "stderr" {
                    self.output(&format!("Error: bad channel {}", py_repr_str(&channel)));
                    self.exitstatus = exit::GENERIC;
                    return Ok(());
                }
                (name.to_string(), channel)
            }
        };
        let mut bytes: Option<i64> = Some(1600);
        if let Some(m) = modifier {
            let what = &m[1..];
            if what == "f" {
                bytes = None;
            } else {
                match py_int(what) {
                    Some(n) => bytes = Some(n),
                    None => {
                        self.output(&format!("Error: bad argument {m}"));
                        self.exitstatus = exit::GENERIC;
                        return Ok(());
                    }
                }
            }
        }
        self.supervisor()?;
        let Some(bytes) = bytes else {
            return self.tailf(&format!("/logtail/{name}/{channel}"));
        };
        let method = if channel == "stdout" {
            "supervisor.readProcessStdoutLog"
        } else {
            "supervisor.readProcessStderrLog"
        };
        let offset = xmlrpc_int(-bytes)?;
        self.show_log_read(
            &name,
            method,
            &[name.as_str().into(), offset, Value::Int(0)],
            true,
        )
    }

    /// Print what a log read returned, or `<who>: ERROR (<why>)` for the
    /// faults supervisorctl names (BAD_NAME only when a process was named).
    fn show_log_read(
        &mut self,
        who: &str,
        method: &str,
        params: &[Value],
        names_process: bool,
    ) -> Res {
        match self.call(method, params) {
            Ok(text) => self.output(&py_str(&text)),
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                let why = match f.code {
                    faults::NO_FILE => "no log file",
                    faults::FAILED => "unknown error reading log",
                    faults::BAD_NAME if names_process => "no such process name",
                    _ => return Err(CallError::Fault(f)),
                };
                self.output(&format!("{who}: ERROR ({why})"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn do_maintail(&mut self, arg: &str) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        let bytes = match args.as_slice() {
            [] => 1600,
            [a] => {
                let parsed = a.strip_prefix('-').map(|what| {
                    if what == "f" {
                        None
                    } else {
                        Some(py_int(what))
                    }
                });
                match parsed {
                    Some(None) => return self.tailf("/mainlogtail"),
                    Some(Some(Some(n))) => n,
                    _ => {
                        self.output(&format!("Error: bad argument {a}"));
                        self.exitstatus = exit::GENERIC;
                        return Ok(());
                    }
                }
            }
            _ => {
                self.usage("Error: too many arguments", "maintail");
                return Ok(());
            }
        };
        let offset = xmlrpc_int(-bytes)?;
        self.show_log_read(
            "supervisord",
            "supervisor.readLog",
            &[offset, Value::Int(0)],
            false,
        )
    }

    // ------------------------------------------------------------ fg

    fn do_fg(&mut self, arg: &str) -> Res {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        let name = match names.as_slice() {
            [] => {
                self.usage("ERROR: no process name supplied", "fg");
                return Ok(());
            }
            [name] => *name,
            _ => {
                self.output("ERROR: too many process names supplied");
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
        };
        let info = match self.call("supervisor.getProcessInfo", &[name.into()]) {
            Ok(info) => info,
            Err(CallError::Fault(f)) => {
                if f.code == faults::BAD_NAME {
                    self.output("ERROR: bad process name supplied");
                    self.exitstatus = exit::GENERIC;
                } else {
                    self.output(&format!("ERROR: {}", CallError::Fault(f).message()));
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if field(&info, "state")?.as_int() != Some(RUNNING) {
            self.output("ERROR: process not running");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.output("==> Press Ctrl-C to exit <==");
        let fg = Foreground::start(self.supervisor()?, &self.settings.serverurl, name);
        let kills = self.sigint_kills.swap(false, Ordering::Relaxed);
        let result = self.fg_loop(name);
        self.sigint_kills.store(kills, Ordering::Relaxed);
        fg.stop();
        self.interrupted.store(false, Ordering::Relaxed);
        result
    }

    fn fg_loop(&mut self, name: &str) -> Res {
        loop {
            let line = match self.input.read_line("") {
                Line::Text(l) => l,
                Line::Eof | Line::Interrupted => {
                    self.output("Exiting foreground");
                    return Ok(());
                }
            };
            let chars = format!("{line}\n");
            match self.call("supervisor.sendProcessStdin", &[name.into(), chars.into()]) {
                Ok(_) => {}
                Err(CallError::Fault(f)) => {
                    if f.code == faults::NOT_RUNNING {
                        self.output("Process got killed");
                    } else {
                        self.output(&format!("ERROR: {}", CallError::Fault(f).message()));
                    }
                    self.output("Exiting foreground");
                    return Ok(());
                }
                Err(CallError::Interrupted) => {
                    self.output("Exiting foreground");
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
            let info = self.call("supervisor.getProcessInfo", &[name.into()])?;
            if field(&info, "state")?.as_int() != Some(RUNNING) {
                self.output("Process got killed");
                self.output("Exiting foreground");
                return Ok(());
            }
        }
    }
}

/// The two log streams of `fg`, each on its own thread, copied to stdout.
struct Foreground {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Foreground {
    fn start(client: Client, serverurl: &str, name: &str) -> Foreground {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for channel in ["stdout", "stderr"] {
            let client = client.clone().with_cancel(Arc::clone(&stop));
            let path = format!("/logtail/{name}/{channel}");
            let url = format!("{serverurl}{path}");
            let spawned = std::thread::Builder::new()
                .name(format!("fg-{channel}"))
                .spawn(move || {
                    let mut out = std::io::stdout();
                    if let Err(msg) = client.stream_get(&path, &mut out) {
                        let _ = writeln!(std::io::stderr(), "{url} {msg}");
                    }
                });
            if let Ok(t) = spawned {
                threads.push(t);
            }
        }
        Foreground { stop, threads }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

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

/// The `EOFError` of Python's `input()` at end of input.
fn eof_error() -> CallError {
    CallError::py("EOFError", "EOF when reading a line")
}

/// A result struct built from a fault, as the reference does for
/// single-process calls.
fn fault_result(code: i32, group: &str, name: &str, description: &str) -> Value {
    Value::structure([
        ("status", Value::Int(code)),
        ("name", Value::from(name)),
        ("group", Value::from(group)),
        ("description", Value::from(description)),
    ])
}

fn unknown_code(code: &Value, name: &str) -> CallError {
    CallError::py(
        "ValueError",
        format!("Unknown result code {} for {}", py_str(code), name),
    )
}

/// A member of a reply struct, with Python's errors for a missing member
/// or a reply that is not a struct.
fn field<'v>(v: &'v Value, key: &str) -> Result<&'v Value, CallError> {
    match v {
        Value::Struct(_) => v
            .get(key)
            .ok_or_else(|| CallError::py("KeyError", py_repr_str(key))),
        other => Err(CallError::py(
            "TypeError",
            format!(
                "{} indices must be integers or slices, not str",
                py_type(other)
            ),
        )),
    }
}

/// The items of a reply that must be a list.
fn list(v: &Value) -> Result<&[Value], CallError> {
    v.as_array().ok_or_else(|| {
        CallError::py(
            "TypeError",
            format!("'{}' object is not iterable", py_type(v)),
        )
    })
}

fn namespec_of(info: &Value) -> Result<String, CallError> {
    let group = field(info, "group")?;
    let name = field(info, "name")?;
    Ok(if group == name {
        py_str(name)
    } else {
        format!("{}:{}", py_str(group), py_str(name))
    })
}

/// An argument as an XML-RPC int, or Python's OverflowError.
fn xmlrpc_int(n: i64) -> Result<Value, CallError> {
    Value::try_from(n).map_err(|_| CallError::py("OverflowError", "int exceeds XML-RPC limits"))
}
