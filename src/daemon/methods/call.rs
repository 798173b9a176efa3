//! One entry of the method table and what a handler is given.

use crate::daemon::core::Supervisor;
use crate::daemon::waiters::Outcome;
use crate::rpc::Value;
use std::sync::Arc;
use std::time::Instant;

/// A call as a handler sees it.
pub struct Call<'a> {
    pub params: &'a [Value],
    pub now: Instant,
    /// The whole table, for `system.listMethods` and friends.
    pub table: &'static [Method],
}

/// Runs a call on the loop thread.
pub type Handler = fn(&mut Supervisor, &Call<'_>) -> Outcome;

/// Answers a call with a response body encoded straight from the state,
/// without a value tree (the hot `getAllProcessInfo` of status polls).
pub type Encoder = fn(&mut Supervisor) -> Arc<Vec<u8>>;

/// In which of the daemon's moods a method may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Only while RUNNING; SHUTDOWN_STATE otherwise (Supervisor's
    /// `_update` check on every `supervisor.*` method).
    Running,
    /// Also while stopping or restarting.
    Always,
}

/// One published method: what `system.listMethods`, `methodHelp`,
/// `methodSignature` and dispatch all read.
pub struct Method {
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    /// Help text; its `@param`/`@return` tags give the signature.
    pub help: &'static str,
    pub when: When,
    pub run: Handler,
    /// A faster way to answer a top-level call with no arguments.
    pub encoded: Option<Encoder>,
}

/// The method of exactly this name in `table` (sorted by name).
pub fn find<'t>(table: &'t [Method], name: &str) -> Option<&'t Method> {
    table
        .binary_search_by(|m| m.name.cmp(name))
        .ok()
        .and_then(|i| table.get(i))
}

/// `[rtype, ptype...]` from the help tags; None without an `@return` tag.
pub fn signature(m: &Method) -> Option<Vec<String>> {
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
