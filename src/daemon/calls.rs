//! Arguments and results of RPC calls: parameter checks, namespecs, result
//! structs.

use crate::rpc::{Fault, Value, faults};
use std::time::SystemTime;

pub(in crate::daemon) fn bad(code: i32, extra: impl std::fmt::Display) -> Fault {
    Fault::with(code, extra)
}

pub(in crate::daemon) fn incorrect() -> Fault {
    Fault::new(faults::INCORRECT_PARAMETERS)
}

pub(in crate::daemon) fn arg_str(params: &[Value], i: usize) -> Result<&str, Fault> {
    params.get(i).and_then(Value::as_str).ok_or_else(incorrect)
}

pub(in crate::daemon) fn arg_int(params: &[Value], i: usize) -> Result<i64, Fault> {
    match params.get(i) {
        Some(Value::Int(n)) => Ok(i64::from(*n)),
        Some(Value::Bool(b)) => Ok(i64::from(*b)),
        Some(Value::String(s)) => s.trim().parse::<i64>().map_err(|_| incorrect()),
        _ => Err(incorrect()),
    }
}

/// `wait` arguments: Python truthiness, default true.
pub(in crate::daemon) fn arg_wait(params: &[Value], i: usize) -> bool {
    params.get(i).is_none_or(Value::is_truthy)
}

/// Supervisor's `split_namespec`: `g:n`, `g:*` / `g:` (whole group), or `n`.
pub fn split_namespec(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(':') {
        Some((g, p)) if p.is_empty() || p == "*" => (g, None),
        Some((g, p)) => (g, Some(p)),
        None => (spec, Some(spec)),
    }
}

pub(in crate::daemon) fn epoch(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(in crate::daemon) fn capped(i: i64) -> i32 {
    i.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

pub(in crate::daemon) fn result_struct(
    name: &str,
    group: &str,
    status: i32,
    description: &str,
) -> Value {
    Value::Struct(vec![
        ("name".into(), Value::String(name.into())),
        ("group".into(), Value::String(group.into())),
        ("status".into(), Value::Int(status)),
        ("description".into(), Value::String(description.into())),
    ])
}

pub(in crate::daemon) fn fault_struct(f: &Fault) -> Value {
    f.to_value()
}
