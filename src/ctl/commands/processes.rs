//! Commands on processes: status, pid, start, stop, signal, restart.

use super::controller::{
    Controller, Res, exit, fault_result, field, list, namespec_of, unknown_code,
};
use crate::ctl::client::CallError;
use crate::ctl::format::{StatusRow, make_namespec, py_str, split_namespec, status_lines};
use crate::rpc::{Value, faults};

/// Process states (`supervisor.states.ProcessStates`) that matter here.
pub(super) const RUNNING: i32 = 20;
pub(super) const STOPPED_STATES: [i32; 4] = [0, 100, 200, 1000];
impl Controller {
    /// Print one line per result struct and fold their statuses into the
    /// exit status (`ignored` is a fault that does not count).
    fn show_results(
        &mut self,
        results: &Value,
        render: fn(&Value) -> Result<String, CallError>,
        ignored: Option<i32>,
    ) -> Res {
        for r in list(results)? {
            let line = render(r)?;
            self.output(&line);
            self.set_exitstatus_from_fault(field(r, "status")?.as_int(), ignored);
        }
        Ok(())
    }

    /// Print a fault on one process as its result line would be.
    fn show_fault(
        &mut self,
        group: &str,
        process: &str,
        f: &crate::rpc::Fault,
        render: fn(&Value) -> Result<String, CallError>,
        ignored: Option<i32>,
    ) -> Res {
        let r = fault_result(f.code, group, process, &f.string);
        let line = render(&r)?;
        self.output(&line);
        self.set_exitstatus_from_fault(Some(f.code), ignored);
        Ok(())
    }

    pub(super) fn do_status(&mut self, arg: &str) -> Res {
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

    pub(super) fn do_pid(&mut self, arg: &str) -> Res {
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

    pub(super) fn start_result(result: &Value) -> Result<String, CallError> {
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

    pub(super) fn do_start(&mut self, arg: &str) -> Res {
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
            self.show_results(&results, Self::start_result, ignored)?;
            return Ok(());
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => {
                    match self.call_wait("supervisor.startProcessGroup", &[group.as_str().into()]) {
                        Ok(results) => {
                            self.show_results(&results, Self::start_result, ignored)?;
                        }
                        Err(CallError::Fault(f)) if f.code == faults::BAD_NAME => {
                            self.output(&format!("{group}: ERROR (no such group)"));
                            self.exitstatus = exit::INVALID_ARGS;
                        }
                        Err(e) => return Err(e),
                    }
                }
                Some(process) => match self.call_wait("supervisor.startProcess", &[name.into()]) {
                    Ok(_) => self.output(&format!("{}: started", make_namespec(&group, &process))),
                    Err(CallError::Fault(f)) => {
                        self.show_fault(&group, &process, &f, Self::start_result, ignored)?;
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ stop / signal

    pub(super) fn signal_result(result: &Value, success: &str) -> Result<String, CallError> {
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

    pub(super) fn do_stop(&mut self, arg: &str) -> Res {
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
            self.show_results(&results, |r| Self::signal_result(r, "stopped"), ignored)?;
            return Ok(());
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => {
                    match self.call_wait("supervisor.stopProcessGroup", &[group.as_str().into()]) {
                        Ok(results) => {
                            self.show_results(
                                &results,
                                |r| Self::signal_result(r, "stopped"),
                                ignored,
                            )?;
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
                    }
                }
                Some(process) => match self.call_wait("supervisor.stopProcess", &[name.into()]) {
                    Ok(_) => self.output(&format!("{}: stopped", make_namespec(&group, &process))),
                    Err(CallError::Fault(f)) => {
                        self.show_fault(
                            &group,
                            &process,
                            &f,
                            |r| Self::signal_result(r, "stopped"),
                            ignored,
                        )?;
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    pub(super) fn do_signal(&mut self, arg: &str) -> Res {
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
            self.show_results(&results, |r| Self::signal_result(r, "signalled"), None)?;
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
                        self.show_results(&results, |r| Self::signal_result(r, "signalled"), None)?;
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
                            self.show_fault(
                                &group,
                                &process,
                                &f,
                                |r| Self::signal_result(r, "signalled"),
                                None,
                            )?;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn do_restart(&mut self, arg: &str) -> Res {
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
}
