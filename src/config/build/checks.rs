//! Readiness and liveness checks of a program (SPEC Part B): the check
//! strings, expanded per process, and their intervals, timeouts and
//! failure threshold.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::ctx::{ABSURD_SECS, Ctx};
use crate::config::datatypes as dt;
use crate::config::expand::Expansions;
use crate::config::source::Section;
use crate::config::types::{Check, CheckTarget};

/// The shortest interval accepted: a check every few milliseconds would
/// keep a core busy for nothing.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// One kind of check: its option names and defaults.
struct Keys {
    check: &'static str,
    interval: (&'static str, &'static str),
    timeout: (&'static str, &'static str),
    failures: Option<(&'static str, &'static str)>,
}

const READINESS: Keys = Keys {
    check: "readiness_check",
    interval: ("readiness_interval", "1"),
    timeout: ("readiness_timeout", "1"),
    failures: None,
};

const LIVENESS: Keys = Keys {
    check: "liveness_check",
    interval: ("liveness_interval", "10"),
    timeout: ("liveness_timeout", "1"),
    failures: Some(("liveness_failures", "3")),
};

impl<'a> Ctx<'a> {
    /// `readiness_check` and `liveness_check` of one process (with that
    /// process's expansions, e.g. `%(process_num)s`), each with its
    /// timings; `None` when not set or invalid (the error is reported).
    pub(super) fn checks(
        &mut self,
        sec: &'a Section,
        exp: &Expansions,
    ) -> (Option<Check>, Option<Check>) {
        (
            self.check(sec, exp, &READINESS),
            self.check(sec, exp, &LIVENESS),
        )
    }

    fn check(&mut self, sec: &'a Section, exp: &Expansions, keys: &Keys) -> Option<Check> {
        let spec = self.get(sec, keys.check, None, exp).ok().flatten();
        let (ikey, idef) = keys.interval;
        let (tkey, tdef) = keys.timeout;
        let interval = self.conv(sec, ikey, idef, exp, |s| seconds(s, MIN_INTERVAL));
        let timeout = self.conv(sec, tkey, tdef, exp, |s| seconds(s, Duration::ZERO));
        let failures = match keys.failures {
            Some((fkey, fdef)) => self.conv(sec, fkey, fdef, exp, failures),
            None => Some(1),
        };
        let Some(spec) = spec else {
            let set: Vec<&str> = [Some(ikey), Some(tkey), keys.failures.map(|f| f.0)]
                .into_iter()
                .flatten()
                .filter(|k| self.entry(sec, k).is_some())
                .collect();
            for k in set {
                let at = self.at(sec, k);
                let msg = format!("{k} is ignored: this program has no {}", keys.check);
                if !self.diags.iter().any(|d| d.message == msg) {
                    self.warn(at, Some(k), msg);
                }
            }
            return None;
        };
        let target = match check_target(&spec) {
            Ok(t) => Some(t),
            Err(msg) => {
                let at = self.at(sec, keys.check);
                self.error(at, Some(keys.check), msg);
                None
            }
        };
        Some(Check {
            target: target?,
            spec,
            interval: interval?,
            timeout: timeout?,
            failures: failures?,
        })
    }
}

/// A number of seconds, fractions allowed (`0.5`): at least `min`, and
/// more than zero.
pub fn seconds(s: &str, min: Duration) -> Result<Duration, String> {
    let t = dt::py_strip(s);
    let v: f64 = t
        .parse()
        .map_err(|_| format!("{} is not a number of seconds", dt::repr(s)))?;
    let (limit, words, _) = ABSURD_SECS;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!(
            "{} seconds: the value must be more than 0",
            dt::repr(t)
        ));
    }
    if v > limit as f64 {
        return Err(format!("{} seconds is more than {words}", dt::repr(t)));
    }
    let d = Duration::from_secs_f64(v);
    if d < min {
        return Err(format!(
            "{} seconds is below the minimum of {} s",
            dt::repr(t),
            min.as_secs_f64()
        ));
    }
    Ok(d)
}

/// `liveness_failures`: failures in a row before a restart, at least 1.
pub fn failures(s: &str) -> Result<u32, String> {
    let v = dt::integer(s)?;
    if v < 1 {
        return Err(format!(
            "'{}' failures: the value must be at least 1",
            dt::py_strip(s)
        ));
    }
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

/// `tcp://host:port`, `http://host:port/path` or `exec:command args`.
pub fn check_target(s: &str) -> Result<CheckTarget, String> {
    let t = dt::py_strip(s);
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("exec:") {
        let cmd = t.get(5..).unwrap_or("");
        let argv = crate::config::shlex::shlex_split(cmd).map_err(|why| {
            format!(
                "the exec: command cannot be split into arguments: {why} (unbalanced quote or trailing backslash)"
            )
        })?;
        if argv.is_empty() {
            return Err("the exec: check names no command".into());
        }
        return Ok(CheckTarget::Exec(argv));
    }
    if let Some(rest) = lower
        .starts_with("tcp://")
        .then(|| t.get(6..).unwrap_or(""))
    {
        return Ok(CheckTarget::Tcp(address(rest, t)?));
    }
    if let Some(rest) = lower
        .starts_with("http://")
        .then(|| t.get(7..).unwrap_or(""))
    {
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{}: the path may not contain spaces or control characters",
                dt::repr(t)
            ));
        }
        return Ok(CheckTarget::Http {
            addr: address(authority, t)?,
            host: authority.to_string(),
            path,
        });
    }
    Err(format!(
        "{} is not a check: expected tcp://host:port, http://host:port/path or exec:command args{}",
        dt::repr(t),
        if lower.starts_with("https://") {
            " (https is not supported: check a plain http port, or use exec: with a client)"
        } else {
            ""
        }
    ))
}

/// `host:port` of a check: an IP address (IPv6 in brackets) or
/// `localhost`; other names are refused because resolving them could
/// block the daemon's loop.
fn address(authority: &str, whole: &str) -> Result<SocketAddr, String> {
    let Some((host, port)) = authority
        .rsplit_once(':')
        .filter(|(h, _)| !h.is_empty() && (!h.starts_with('[') || h.ends_with(']')))
    else {
        return Err(format!(
            "{}: a check needs host:port (no port is assumed)",
            dt::repr(whole)
        ));
    };
    let port = match dt::py_int(port, 10) {
        Ok(v) if (1..=65535).contains(&v) => u16::try_from(v).unwrap_or(0),
        _ => {
            return Err(format!(
                "{}: {} is not a port number (1 to 65535)",
                dt::repr(whole),
                dt::repr(port)
            ));
        }
    };
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        bare.parse().map_err(|_| {
            format!(
                "{}: host {} must be an IP address or localhost (a name lookup could block the daemon)",
                dt::repr(whole),
                dt::repr(host)
            )
        })?
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
