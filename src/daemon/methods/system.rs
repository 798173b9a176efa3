//! `system.*`: the table described (listMethods, methodHelp,
//! methodSignature) and `system.multicall`.

use super::call::{Call, find, signature};
use crate::daemon::calls::{arg_str, incorrect};
use crate::daemon::core::Supervisor;
use crate::daemon::waiters::{self, Outcome, Pending};
use crate::rpc::{Fault, Value, faults};

fn named<'t>(c: &Call<'t>) -> Result<&'t super::call::Method, Fault> {
    let n = arg_str(c.params, 0)?;
    find(c.table, n).ok_or_else(|| Fault::new(faults::SIGNATURE_UNSUPPORTED))
}

pub(super) fn list_methods(_: &mut Supervisor, c: &Call<'_>) -> Outcome {
    Ok(Value::array(c.table.iter().map(|m| m.name))).into()
}

pub(super) fn method_help(_: &mut Supervisor, c: &Call<'_>) -> Outcome {
    named(c).map(|m| Value::from(m.help)).into()
}

pub(super) fn method_signature(_: &mut Supervisor, c: &Call<'_>) -> Outcome {
    named(c)
        .and_then(|m| {
            signature(m)
                .map(Value::array)
                .ok_or_else(|| Fault::new(faults::SIGNATURE_UNSUPPORTED))
        })
        .into()
}

/// The calls run one after the other; a deferred one (`wait=true`) holds
/// the rest until it is answered (see `waiters`).
pub(super) fn multicall(s: &mut Supervisor, c: &Call<'_>) -> Outcome {
    let Some(calls) = c.params.first().and_then(Value::as_array) else {
        return Outcome::Done(Err(incorrect()));
    };
    let mut pending = Pending::Multi {
        remaining: calls.iter().cloned().collect(),
        current: None,
        results: Vec::new(),
    };
    match waiters::poll(s, &mut pending, c.now) {
        Some(r) => Outcome::Done(r),
        None => Outcome::Wait(pending),
    }
}
