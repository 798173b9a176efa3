//! Methods on the configuration: reloadConfig, addProcessGroup,
//! removeProcessGroup.
use super::call::Call;
use crate::config::LogLevel;
use crate::daemon::bridge::RpcResult;
use crate::daemon::calls::{arg_str, bad};
use crate::daemon::core::Supervisor;
use crate::daemon::waiters::Outcome;
use crate::rpc::{Value, faults};

impl Supervisor {
    /// reloadConfig: re-read the file; the new group configs become the
    /// known ones (used by addProcessGroup); nothing running changes.
    pub(in crate::daemon) fn reload_config(&mut self) -> RpcResult {
        let opts = crate::config::LoadOptions::from_process(self.args.overrides.clone(), true);
        let loaded = crate::config::load(&self.config_path, &opts).map_err(|diags| {
            let msg: Vec<String> = diags
                .iter()
                .filter(|d| d.severity == crate::config::Severity::Error)
                .map(|d| d.to_string())
                .collect();
            bad(faults::CANT_REREAD, msg.join("; "))
        })?;
        let new = loaded.config.groups;
        let mut added = Vec::new();
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        for g in &new {
            match self
                .groups
                .find(&g.name)
                .and_then(|gid| self.groups.get(gid))
            {
                None => added.push(Value::String(g.name.clone())),
                Some(a) if a.config != *g => changed.push(Value::String(g.name.clone())),
                _ => {}
            }
        }
        for (_, a) in self.groups.iter() {
            if !new.iter().any(|g| g.name == a.config.name) {
                removed.push(Value::String(a.config.name.clone()));
            }
        }
        self.config.groups = new;
        Ok(Value::Array(vec![Value::Array(vec![
            Value::Array(added),
            Value::Array(changed),
            Value::Array(removed),
        ])]))
    }

    pub(in crate::daemon) fn add_process_group(&mut self, name: &str) -> RpcResult {
        let Some(cfg) = self.config.groups.iter().find(|g| g.name == name).cloned() else {
            return Err(bad(faults::BAD_NAME, name));
        };
        if self.add_group(cfg) {
            Ok(Value::Bool(true))
        } else {
            Err(bad(faults::ALREADY_ADDED, name))
        }
    }

    pub(in crate::daemon) fn remove_process_group(&mut self, name: &str) -> RpcResult {
        let gid = self
            .find_group(name)
            .ok_or_else(|| bad(faults::BAD_NAME, name))?;
        if self
            .groups
            .get(gid)
            .is_some_and(|g| g.processes.iter().any(|p| !p.machine.state().is_stopped()))
        {
            return Err(bad(faults::STILL_RUNNING, name));
        }
        self.remove_group(gid);
        Ok(Value::Bool(true))
    }
}

pub(super) fn reload_config(s: &mut Supervisor, _: &Call<'_>) -> Outcome {
    s.reload_config().into()
}

pub(super) fn add_process_group(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    arg_str(c.params, 0)
        .and_then(|n| s.add_process_group(n))
        .into()
}

pub(super) fn remove_process_group(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    arg_str(c.params, 0)
        .and_then(|n| s.remove_process_group(n))
        .into()
}

pub(super) fn shutdown(s: &mut Supervisor, _: &Call<'_>) -> Outcome {
    s.log.log(LogLevel::Info, "shutdown requested over XML-RPC");
    s.request_shutdown();
    Ok(Value::Bool(true)).into()
}

pub(super) fn restart(s: &mut Supervisor, _: &Call<'_>) -> Outcome {
    match s.request_reload() {
        Ok(()) => Ok(Value::Bool(true)).into(),
        Err(diags) => Err(bad(
            faults::CANT_REREAD,
            diags.first().map(|d| d.to_string()).unwrap_or_default(),
        ))
        .into(),
    }
}
