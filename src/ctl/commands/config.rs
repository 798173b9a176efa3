//! Commands on the daemon and its configuration: avail, reread, add, remove,
//! update, reload, shutdown, version, open.

use super::controller::{Controller, Res, exit, field, list, namespec_of};
use crate::ctl::client::CallError;
use crate::ctl::format::{avail_line, py_str, reread_lines};
use crate::ctl::options::url_scheme;
use crate::rpc::{Value, faults};

impl Controller {
    pub(super) fn do_shutdown(&mut self, arg: &str) -> Res {
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

    pub(super) fn do_reload(&mut self, arg: &str) -> Res {
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

    pub(super) fn do_version(&mut self, arg: &str) -> Res {
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

    pub(super) fn do_open(&mut self, arg: &str) -> Res {
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

    pub(super) fn do_avail(&mut self, arg: &str) -> Res {
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
    pub(super) fn changes(reply: &Value) -> Result<[Vec<String>; 3], CallError> {
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

    pub(super) fn do_reread(&mut self, arg: &str) -> Res {
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

    pub(super) fn do_add(&mut self, arg: &str) -> Res {
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

    pub(super) fn do_remove(&mut self, arg: &str) -> Res {
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

    pub(super) fn do_update(&mut self, arg: &str) -> Res {
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
}
