//! Commands on logs: clear, tail (and tail -f), maintail, fg.

use super::controller::{
    Controller, Res, exit, fault_result, field, list, namespec_of, unknown_code, xmlrpc_int,
};
use super::processes::RUNNING;
use crate::ctl::client::{CallError, Client, StreamEnd};
use crate::ctl::format::{make_namespec, py_int, py_repr_str, py_str, split_namespec};
use crate::ctl::input::Line;
use crate::rpc::{Value, faults};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The two log streams of `fg`, each on its own thread, copied to stdout.
pub(super) struct Foreground {
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

impl Controller {
    pub(super) fn clear_result(result: &Value) -> Result<String, CallError> {
        let name = namespec_of(result)?;
        let code = field(result, "status")?;
        match code.as_int() {
            Some(faults::BAD_NAME) => Ok(format!("{name}: ERROR (no such process)")),
            Some(faults::FAILED) => Ok(format!("{name}: ERROR (failed)")),
            Some(faults::SUCCESS) => Ok(format!("{name}: cleared")),
            _ => Err(unknown_code(code, &name)),
        }
    }

    pub(super) fn do_clear(&mut self, arg: &str) -> Res {
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
    pub(super) fn tailf(&mut self, path: &str) -> Res {
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

    pub(super) fn do_tail(&mut self, arg: &str) -> Res {
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
    pub(super) fn show_log_read(
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

    pub(super) fn do_maintail(&mut self, arg: &str) -> Res {
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

    pub(super) fn do_fg(&mut self, arg: &str) -> Res {
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

    pub(super) fn fg_loop(&mut self, name: &str) -> Res {
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
