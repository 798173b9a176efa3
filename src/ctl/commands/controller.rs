//! supervisorctl's controller: its state, one command line dispatched, calls
//! to the server and how their failures are reported.

use crate::ctl::client::{CallError, Client, ServerUrl};
use crate::ctl::format::{py_repr_str, py_str, py_type};
use crate::ctl::input::{Input, Line};
use crate::ctl::options::Settings;
use crate::rpc::{Value, faults};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

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

/// Faults that mean the program is dead (exit status 7).
pub(super) const DEAD_PROGRAM_FAULTS: [i32; 3] = [
    faults::SPAWN_ERROR,
    faults::ABNORMAL_TERMINATION,
    faults::NOT_RUNNING,
];

/// Idle limit for calls that answer at once.  Calls that wait for
/// processes to start or stop (bounded by the daemon's startsecs and
/// stopwaitsecs) wait as long as the daemon takes, as the reference does.
pub(super) const QUICK_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The commands `help` lists, sorted.
pub const COMMANDS: &[&str] = &[
    "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload", "remove",
    "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail", "update",
    "version",
];

pub(super) type Res = Result<(), CallError>;

/// Command results: `Ok(true)` leaves the shell.
pub type Flow = Result<bool, CallError>;

/// supervisorctl's state: settings, the exit status so far, where output
/// goes and where answers come from.
pub struct Controller {
    pub settings: Settings,
    pub exitstatus: i32,
    pub(super) out: Box<dyn Write + Send>,
    pub input: Box<dyn Input>,
    /// Set by Ctrl-C; every wait on the server checks it.
    pub interrupted: Arc<AtomicBool>,
    /// While true, Ctrl-C ends the process (a one-shot command); commands
    /// that handle Ctrl-C themselves turn it off while they run.
    pub sigint_kills: Arc<AtomicBool>,
}

/// The `EOFError` of Python's `input()` at end of input.
pub(super) fn eof_error() -> CallError {
    CallError::py("EOFError", "EOF when reading a line")
}

/// A result struct built from a fault, as the reference does for
/// single-process calls.
pub(super) fn fault_result(code: i32, group: &str, name: &str, description: &str) -> Value {
    Value::structure([
        ("status", Value::Int(code)),
        ("name", Value::from(name)),
        ("group", Value::from(group)),
        ("description", Value::from(description)),
    ])
}

pub(super) fn unknown_code(code: &Value, name: &str) -> CallError {
    CallError::py(
        "ValueError",
        format!("Unknown result code {} for {}", py_str(code), name),
    )
}

/// A member of a reply struct, with Python's errors for a missing member
/// or a reply that is not a struct.
pub(super) fn field<'v>(v: &'v Value, key: &str) -> Result<&'v Value, CallError> {
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
pub(super) fn list(v: &Value) -> Result<&[Value], CallError> {
    v.as_array().ok_or_else(|| {
        CallError::py(
            "TypeError",
            format!("'{}' object is not iterable", py_type(v)),
        )
    })
}

pub(super) fn namespec_of(info: &Value) -> Result<String, CallError> {
    let group = field(info, "group")?;
    let name = field(info, "name")?;
    Ok(if group == name {
        py_str(name)
    } else {
        format!("{}:{}", py_str(group), py_str(name))
    })
}

/// An argument as an XML-RPC int, or Python's OverflowError.
pub(super) fn xmlrpc_int(n: i64) -> Result<Value, CallError> {
    Value::try_from(n).map_err(|_| CallError::py("OverflowError", "int exceeds XML-RPC limits"))
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

    pub(super) fn outputs(&mut self, lines: &[&str]) {
        for l in lines {
            self.output(l);
        }
    }

    /// A client for the current server (the reference's `get_supervisor`):
    /// fails like it for a URL that is neither `unix://` nor `http://`.
    pub(super) fn supervisor(&self) -> Result<Client, CallError> {
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
    pub(super) fn call(&self, method: &str, params: &[Value]) -> Result<Value, CallError> {
        let mut c = self.supervisor()?;
        c.read_timeout = Some(QUICK_CALL_TIMEOUT);
        c.call(method, params)
    }

    /// A call that may wait for processes to start or stop.
    pub(super) fn call_wait(&self, method: &str, params: &[Value]) -> Result<Value, CallError> {
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
    pub(super) fn report(&mut self, e: CallError) -> Flow {
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

    pub(super) fn knows(&self, cmd: &str) -> bool {
        cmd == "help" || cmd == "EOF" || COMMANDS.contains(&cmd)
    }

    pub(super) fn dispatch(&mut self, cmd: &str, arg: &str) -> Flow {
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
    pub(super) fn set_exitstatus_from_fault(&mut self, code: Option<i32>, ignored: Option<i32>) {
        match code {
            Some(c) if Some(c) == ignored || c == faults::SUCCESS => {}
            Some(c) if DEAD_PROGRAM_FAULTS.contains(&c) => self.exitstatus = exit::NOT_RUNNING,
            _ => self.exitstatus = exit::GENERIC,
        }
    }

    /// Check that the server speaks our API.  `Ok(false)`: a message was
    /// printed and the exit status set; the command stops there.
    pub(super) fn upcheck(&mut self) -> Result<bool, CallError> {
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

    /// Print a usage error, the command's help, and set status 1.
    pub(super) fn usage(&mut self, msg: &str, cmd: &str) {
        self.output(msg);
        self.exitstatus = exit::GENERIC;
        self.help(cmd);
    }

    // ------------------------------------------------------------ status

    /// Ask `question` in interactive mode; true when the answer starts
    /// with `y`.  Non-interactive: always true.
    pub(super) fn confirm(&mut self, question: &str) -> Result<bool, CallError> {
        if !self.settings.interactive {
            return Ok(true);
        }
        match self.input.read_line(question) {
            Line::Text(a) => Ok(a.to_lowercase().starts_with('y')),
            Line::Eof => Err(eof_error()),
            Line::Interrupted => Err(CallError::Interrupted),
        }
    }
}
