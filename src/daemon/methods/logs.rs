//! Methods on logs: read, tail and clear the main and process logs
//! (Supervisor's offset rules).
use super::call::Call;
use crate::daemon::bridge::{LogWhat, RpcResult};
use crate::daemon::calls::{arg_int, arg_str, bad, result_struct};
use crate::daemon::core::Supervisor;
use crate::daemon::groups::ProcId;
use crate::daemon::waiters::Outcome;
use crate::process::Channel;
use crate::rpc::{Fault, Value, faults};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Supervisor's `readFile` offset/length rules.
pub fn read_file(path: &Path, offset: i64, length: i64) -> Result<Vec<u8>, Fault> {
    let failed = || Fault::new(faults::FAILED);
    let mut f = std::fs::File::open(path).map_err(|_| failed())?;
    let size = f.seek(SeekFrom::End(0)).map_err(|_| failed())? as i64;
    let (start, want) = if offset < 0 {
        if length != 0 {
            return Err(Fault::new(faults::BAD_ARGUMENTS));
        }
        // Saturating: `offset` may be any i64 a client sends (i64::MIN too).
        (size.saturating_add(offset).max(0), offset.saturating_neg())
    } else {
        if length < 0 {
            return Err(Fault::new(faults::BAD_ARGUMENTS));
        }
        (offset, if length == 0 { i64::MAX } else { length })
    };
    let want = want
        .min((size - start).max(0))
        .min(crate::http::MAX_BODY as i64);
    f.seek(SeekFrom::Start(start as u64))
        .map_err(|_| failed())?;
    let mut out = Vec::with_capacity(want as usize);
    f.take(want as u64)
        .read_to_end(&mut out)
        .map_err(|_| failed())?;
    Ok(out)
}

/// `readLog`/`readProcessLog`: the bytes as text, or NO_FILE naming the
/// path (`None` when there is no log).
fn read_log(path: Option<&Path>, offset: i64, length: i64) -> RpcResult {
    let path = match path {
        Some(x) if x.exists() => x,
        other => {
            return Err(bad(
                faults::NO_FILE,
                other
                    .map(|x| x.display().to_string())
                    .unwrap_or_else(|| "None".into()),
            ));
        }
    };
    read_file(path, offset, length).map(|b| Value::String(String::from_utf8_lossy(&b).into_owned()))
}

/// Supervisor's `tailFile`: `[bytes, offset, overflow]`.
pub fn tail_file(path: &Path, offset: i64, length: i64) -> Value {
    let attempt = || -> std::io::Result<Value> {
        let mut f = std::fs::File::open(path)?;
        let sz = f.seek(SeekFrom::End(0))? as i64;
        let (mut offset, mut length) = (offset, length);
        let mut overflow = false;
        if sz > offset.saturating_add(length) {
            overflow = true;
            offset = sz - 1;
        }
        if offset.saturating_add(length) > sz {
            if offset > sz - 1 {
                length = 0;
            }
            offset = sz - length;
        }
        offset = offset.max(0);
        length = length.clamp(0, crate::http::MAX_BODY as i64);
        let mut data = Vec::new();
        if length > 0 {
            f.seek(SeekFrom::Start(offset as u64))?;
            f.take(length as u64).read_to_end(&mut data)?;
        }
        Ok(Value::Array(vec![
            Value::String(String::from_utf8_lossy(&data).into_owned()),
            Value::int_capped(sz),
            Value::Bool(overflow),
        ]))
    };
    attempt().unwrap_or_else(|_| {
        Value::Array(vec![
            Value::String(String::new()),
            Value::int_capped(offset),
            Value::Bool(false),
        ])
    })
}

impl Supervisor {
    pub(in crate::daemon) fn read_main_log(&self, p: &[Value]) -> RpcResult {
        let (offset, length) = (arg_int(p, 0)?, arg_int(p, 1)?);
        read_log(self.log.path(), offset, length)
    }

    pub(in crate::daemon) fn clear_main_log(&mut self) -> RpcResult {
        match self.log.path() {
            Some(x) if x.exists() => {}
            _ => return Err(Fault::new(faults::NO_FILE)),
        }
        self.log.clear().map_err(|_| Fault::new(faults::FAILED))?;
        self.log
            .log(crate::config::LogLevel::Info, "reopening log file");
        Ok(Value::Bool(true))
    }

    pub(in crate::daemon) fn read_process_log(&self, p: &[Value], ch: Channel) -> RpcResult {
        let name = arg_str(p, 0)?;
        let (offset, length) = (arg_int(p, 1)?, arg_int(p, 2)?);
        let (_, Some(id)) = self.resolve(name)? else {
            return Err(bad(faults::BAD_NAME, name));
        };
        read_log(self.log_path(id, ch).as_deref(), offset, length)
    }

    pub(in crate::daemon) fn tail_process_log(&self, p: &[Value], ch: Channel) -> RpcResult {
        let name = arg_str(p, 0)?;
        let (offset, length) = (arg_int(p, 1)?, arg_int(p, 2)?);
        let (_, Some(id)) = self.resolve(name)? else {
            return Err(bad(faults::BAD_NAME, name));
        };
        match self.log_path(id, ch) {
            Some(x) if x.exists() => Ok(tail_file(&x, offset, length)),
            _ => Ok(Value::Array(vec![
                Value::String(String::new()),
                Value::Int(0),
                Value::Bool(false),
            ])),
        }
    }

    pub(in crate::daemon) fn clear_process_logs(&mut self, id: ProcId) -> Result<(), Fault> {
        let strip = self.config.supervisord.strip_ansi;
        let p = self
            .groups
            .proc_mut(id)
            .ok_or_else(|| Fault::new(faults::BAD_NAME))?;
        let name = p.config.name.clone();
        // Logs open at first spawn; a never-started process may have none yet.
        if p.ensure_logs(strip).is_err() {
            return Err(bad(faults::FAILED, &name));
        }
        for ch in [Channel::Stdout, Channel::Stderr] {
            if let Some(l) = p.log_for(ch) {
                l.clear().map_err(|_| bad(faults::FAILED, &name))?;
            }
        }
        Ok(())
    }

    /// A log path for `/logtail`; None for an unknown name or missing file.
    pub fn logtail_path(&self, what: &LogWhat) -> Option<PathBuf> {
        let path = match what {
            LogWhat::Main => self.log.path().map(Path::to_path_buf),
            LogWhat::Process(spec, ch) => match self.resolve(spec).ok()? {
                (_, Some(id)) => self.log_path(id, *ch),
                _ => None,
            },
        }?;
        path.exists().then_some(path)
    }
}

pub(super) fn read_main_log(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    s.read_main_log(c.params).into()
}

pub(super) fn clear_log(s: &mut Supervisor, _: &Call<'_>) -> Outcome {
    s.clear_main_log().into()
}

pub(super) fn read_stdout(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    s.read_process_log(c.params, Channel::Stdout).into()
}

pub(super) fn read_stderr(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    s.read_process_log(c.params, Channel::Stderr).into()
}

pub(super) fn tail_stdout(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    s.tail_process_log(c.params, Channel::Stdout).into()
}

pub(super) fn tail_stderr(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    s.tail_process_log(c.params, Channel::Stderr).into()
}

pub(super) fn clear_process_logs(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    arg_str(c.params, 0)
        .and_then(|n| match s.resolve(n)? {
            (_, Some(id)) => s.clear_process_logs(id).map(|()| Value::Bool(true)),
            _ => Err(bad(faults::BAD_NAME, n)),
        })
        .into()
}

pub(super) fn clear_all_process_logs(s: &mut Supervisor, _: &Call<'_>) -> Outcome {
    let mut results = Vec::new();
    for id in s.all_processes(false) {
        let (group, name) = s.names(id);
        let r = s.clear_process_logs(id);
        results.push(match r {
            Ok(()) => result_struct(&name, &group, faults::SUCCESS, "OK"),
            Err(f) => result_struct(&name, &group, f.code, &f.string),
        });
    }
    Ok(Value::Array(results)).into()
}
