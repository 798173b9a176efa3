//! What the event loop needs to survive a bug: a panic hook that remembers
//! where the last panic happened, a description of a caught panic for the
//! main log, and the test-only ways to inject a fault (a panic, a stalled
//! loop) when a signal arrives.
//!
//! The release profile keeps `panic = "unwind"` for this: with `abort`, no
//! panic could be caught and PID 1 would die with the container.

use std::cell::RefCell;
use std::sync::OnceLock;

thread_local! {
    /// `file:line:column` of the last panic on this thread.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Environment variable naming a signal (e.g. `SIGUSR1`) whose arrival makes
/// the loop panic while handling it.  For tests of the recovery; unset, it
/// costs nothing.
pub const INJECT_ENV: &str = "SUPERVISOR_RS_TEST_PANIC_ON";
/// Likewise, a signal whose arrival stalls the loop for [`STALL`] (tests of
/// `/healthz` failing while the loop does not answer).
pub const STALL_ENV: &str = "SUPERVISOR_RS_TEST_STALL_ON";
/// How long an injected stall lasts.
pub const STALL: std::time::Duration = std::time::Duration::from_secs(3);

/// Install (once) a hook that records each panic's location, then runs the
/// previous hook (which prints the usual message on stderr).
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            LOCATION.with(|c| *c.borrow_mut() = at);
            previous(info);
        }));
    });
}

/// `message at file:line:column` for a caught panic on this thread.
pub fn describe(payload: &(dyn std::any::Any + Send)) -> String {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    };
    match LOCATION.with(|c| c.borrow_mut().take()) {
        Some(at) => format!("{msg} at {at}"),
        None => msg,
    }
}

fn signal_from_env(var: &str) -> Option<i32> {
    let name = std::env::var(var).ok()?;
    crate::config::datatypes::signal_number(&name).ok()
}

/// The signal named by [`INJECT_ENV`], if any (read once).
pub fn injected_signal() -> Option<i32> {
    static SIG: OnceLock<Option<i32>> = OnceLock::new();
    *SIG.get_or_init(|| signal_from_env(INJECT_ENV))
}

/// The signal named by [`STALL_ENV`], if any (read once).
pub fn stall_signal() -> Option<i32> {
    static SIG: OnceLock<Option<i32>> = OnceLock::new();
    *SIG.get_or_init(|| signal_from_env(STALL_ENV))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_described_with_its_location() {
        install();
        let caught = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
        let text = describe(caught.as_ref());
        assert!(text.starts_with("boom 7 at "), "{text}");
        assert!(text.contains("panic_guard.rs:"), "{text}");
        // The location is consumed with the description.
        assert!(LOCATION.with(|c| c.borrow().is_none()));
        let caught = std::panic::catch_unwind(|| std::panic::panic_any(5u8)).unwrap_err();
        let text = describe(caught.as_ref());
        assert!(
            text.starts_with("panic with a non-text payload at "),
            "{text}"
        );
    }
}
