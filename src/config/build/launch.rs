//! Part B keys about launching programs and relaying signals: a program's
//! `start_delay`, `fatal_restart_delay` and `capabilities`, and the
//! daemon's `forward_signals`.

use super::ctx::{ABSURD_SECS, Ctx};
use crate::config::datatypes as dt;
use crate::config::expand::{Expansions, py_repr};
use crate::config::source::Section;
use crate::config::types::{Launch, OWN_SIGNALS};

/// Signals that cannot be forwarded: KILL and STOP cannot be caught, most
/// others report a fault of the daemon itself (catching them would hide
/// its own crash), and PIPE is raised by the daemon's own writes.
const NOT_FORWARDABLE: &[(i32, &str)] = &[
    (libc::SIGKILL, "it cannot be caught"),
    (libc::SIGSTOP, "it cannot be caught"),
    (libc::SIGILL, "it reports a fault of supervisord itself"),
    (libc::SIGTRAP, "it reports a fault of supervisord itself"),
    (libc::SIGBUS, "it reports a fault of supervisord itself"),
    (libc::SIGFPE, "it reports a fault of supervisord itself"),
    (libc::SIGSEGV, "it reports a fault of supervisord itself"),
    (libc::SIGSYS, "it reports a fault of supervisord itself"),
    (
        libc::SIGPIPE,
        "supervisord's own writes to a closed connection raise it",
    ),
];

/// `SIGTERM` for 15.
fn sig_name(sig: i32) -> String {
    format!("SIG{}", dt::signal_name(sig).unwrap_or("?"))
}

/// A delay in whole seconds: a non-negative integer.
pub fn delay_secs(s: &str) -> Result<u64, String> {
    let v = dt::integer(s)?;
    u64::try_from(v).map_err(|_| {
        format!(
            "{} is negative: a delay is a number of seconds, 0 or more",
            py_repr(dt::py_strip(s))
        )
    })
}

/// The comma-separated items of a list value, trimmed; empty items (a
/// trailing comma) are skipped.
fn items(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|i| !i.is_empty())
}

/// `capabilities=`: capability names, comma-separated, any case, with or
/// without `CAP_` (`CAP_NET_BIND_SERVICE`, `net_bind_service`), as a bit
/// mask.  Names are those the `caps` crate knows.
pub fn capability_mask(s: &str) -> Result<u64, String> {
    let mut mask = 0u64;
    let mut any = false;
    for item in items(s) {
        any = true;
        match caps::to_canonical(item).parse::<caps::Capability>() {
            Ok(c) => mask |= c.bitmask(),
            Err(_) => {
                let mut known: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
                known.sort();
                return Err(format!(
                    "{} is not a capability name; known: {}",
                    py_repr(item),
                    known.join(", ")
                ));
            }
        }
    }
    if !any {
        return Err(
            "no capability is listed: name at least one (e.g. CAP_NET_BIND_SERVICE) or remove the option"
                .into(),
        );
    }
    Ok(mask)
}

/// `forward_signals=` as converted: the signals to forward, and those left
/// out because supervisord gives them their own meaning.
#[derive(Debug, PartialEq, Eq)]
pub struct Forward {
    pub signals: Vec<i32>,
    pub own: Vec<i32>,
}

/// `forward_signals=`: signal names (with or without `SIG`, any case) or
/// numbers, comma-separated.
pub fn forward_list(s: &str) -> Result<Forward, String> {
    let mut out = Forward {
        signals: Vec::new(),
        own: Vec::new(),
    };
    for item in items(s) {
        let sig = dt::signal_number(item)?;
        if let Some((_, why)) = NOT_FORWARDABLE.iter().find(|(n, _)| *n == sig) {
            return Err(format!("{} cannot be forwarded: {why}", sig_name(sig)));
        }
        let list = if OWN_SIGNALS.contains(&sig) {
            &mut out.own
        } else {
            &mut out.signals
        };
        if !list.contains(&sig) {
            list.push(sig);
        }
    }
    Ok(out)
}

impl<'a> Ctx<'a> {
    /// A program's `start_delay`, `fatal_restart_delay`, `capabilities`.
    pub(super) fn launch_keys(&mut self, sec: &'a Section, exp: &Expansions) -> Launch {
        let mut launch = Launch::default();
        for (key, slot) in [
            ("start_delay", &mut launch.start_delay),
            ("fatal_restart_delay", &mut launch.fatal_restart_delay),
        ] {
            if let Some(v) = self.conv(sec, key, "0", exp, delay_secs) {
                let at = self.at(sec, key);
                self.absurd(at, key, key, v, ABSURD_SECS);
                *slot = v;
            }
        }
        if self.entry(sec, "capabilities").is_some() {
            launch.capabilities = self.conv(sec, "capabilities", "", exp, capability_mask);
            if launch.capabilities.is_some()
                && let Some(uid) = self.daemon_uid
                && uid != 0
            {
                let at = self.at(sec, "capabilities");
                self.warn(
                    at,
                    Some("capabilities"),
                    format!("supervisord does not run as root (uid {uid}): it cannot grant capabilities, so this option is ignored"),
                );
            }
        }
        launch
    }

    /// `[supervisord] forward_signals`.
    pub(super) fn forward_signals(&mut self, sec: &'a Section, exp: &Expansions) -> Vec<i32> {
        let Some(fwd) = self.conv(sec, "forward_signals", "", exp, forward_list) else {
            return Vec::new();
        };
        if !fwd.own.is_empty() {
            let names: Vec<String> = fwd.own.iter().map(|&s| sig_name(s)).collect();
            let at = self.at(sec, "forward_signals");
            self.warn(
                at,
                Some("forward_signals"),
                format!(
                    "{} keep their meaning to supervisord (stop, reload, reopen logs, reap) and are not forwarded",
                    names.join(", ")
                ),
            );
        }
        fwd.signals
    }
}

#[cfg(test)]
#[path = "launch_tests.rs"]
mod tests;
