//! Pure value converters, one per Supervisor `datatypes.py` type.  Each takes
//! the (already expanded) string and returns the typed value or a message;
//! the caller attaches file, line, section and option.

use super::os;
use super::shlex::shlex_tokens_kv;
use super::types::{AutoRestart, ExitOn, LogLevel, Owner};

/// Python's `str.isspace` for one character (Rust's set lacks `\x1c`..`\x1f`).
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Python `int(s)` (base 10 or 8) for the values that fit an `i64`:
/// surrounding whitespace, a sign, `_` between digits; base 8 also takes `0o`.
pub fn py_int(s: &str, radix: u32) -> Result<i64, IntError> {
    let t = py_strip(s);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..).unwrap_or("")),
        Some(b'+') => (false, t.get(1..).unwrap_or("")),
        _ => (false, t),
    };
    let body = if radix == 8 {
        body.strip_prefix("0o")
            .or_else(|| body.strip_prefix("0O"))
            .map(|b| b.strip_prefix('_').unwrap_or(b))
            .unwrap_or(body)
    } else {
        body
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return Err(IntError::Invalid);
    }
    let mut acc: i64 = 0;
    for c in body.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix).ok_or(IntError::Invalid)?;
        acc = acc
            .checked_mul(i64::from(radix))
            .and_then(|v| {
                if neg {
                    v.checked_sub(i64::from(d))
                } else {
                    v.checked_add(i64::from(d))
                }
            })
            .ok_or(IntError::TooLarge)?;
    }
    Ok(acc)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntError {
    Invalid,
    TooLarge,
}

/// `integer`: a Python `int()`.
pub fn integer(s: &str) -> Result<i64, String> {
    py_int(s, 10).map_err(|e| match e {
        IntError::Invalid => format!("invalid integer value {}", repr(s)),
        IntError::TooLarge => format!("integer value {} is too large", repr(s)),
    })
}

/// A value Supervisor accepts, as held here, and, when it had to change
/// to be held (a negative count, a number beyond 64 bits, a mode beyond
/// 7777), what it became: the caller turns that into a warning.
pub type Noted<T> = (T, Option<String>);

/// Python `int()` of any size in base 10: beyond `i64`, saturated by its
/// sign (Python has no bound; nothing here can tell such values apart).
/// Also says whether it saturated.
fn saturating_int(s: &str) -> Result<(i64, bool), String> {
    match py_int(s, 10) {
        Ok(v) => Ok((v, false)),
        Err(IntError::TooLarge) if py_strip(s).starts_with('-') => Ok((i64::MIN, true)),
        Err(IntError::TooLarge) => Ok((i64::MAX, true)),
        Err(IntError::Invalid) => Err(format!("invalid integer value {}", repr(s))),
    }
}

/// Supervisor's `integer` of any size, held in an `i64` (priorities,
/// process numbers).
pub fn integer_noted(s: &str) -> Result<Noted<i64>, String> {
    let (v, saturated) = saturating_int(s)?;
    let note = saturated.then(|| format!("{} is beyond 64 bits: taken as {v}", repr(s)));
    Ok((v, note))
}

/// Supervisor's `integer` for a duration or count held unsigned, at most
/// `max`: Supervisor takes any integer, and a negative duration, retry
/// count, backup count or fd/process minimum acts as 0 there; so here a
/// negative value is 0 and a larger one is `max`.
pub fn count(s: &str, max: u64) -> Result<Noted<u64>, String> {
    let (v, saturated) = saturating_int(s)?;
    Ok(if v < 0 {
        (0, Some(format!("{v} acts as 0 (as in Supervisor)")))
    } else if saturated || v as u64 > max {
        let m = (v as u64).min(max);
        (m, Some(format!("{} is held as {m}", py_strip(s))))
    } else {
        (v as u64, None)
    })
}

/// [`byte_size`] for any number Supervisor accepts: a negative size acts as
/// 0 (no rotation, no capture), one beyond 64 bits is held at `i64::MAX`.
pub fn byte_size_noted(s: &str) -> Result<Noted<u64>, String> {
    match byte_size(s) {
        Ok(v) => Ok((v, None)),
        Err(e) => {
            let l = s.to_lowercase();
            match saturating_int(size_parts(&l).0) {
                Ok((n, _)) if n < 0 => {
                    Ok((0, Some(format!("{} acts as 0 (as in Supervisor)", repr(s)))))
                }
                Ok(_) => Ok((
                    i64::MAX as u64,
                    Some(format!("{} is held as {} bytes", repr(s), i64::MAX)),
                )),
                Err(_) => Err(e),
            }
        }
    }
}

/// [`octal`] for any mode Supervisor accepts: like `os.umask` and
/// `os.chmod`, only the low twelve bits count (two's complement for a
/// negative number, so -1 is 7777).
pub fn octal_noted(s: &str) -> Result<Noted<u32>, String> {
    let v = py_int(s, 8).map_err(|_| format!("{s} can not be converted to an octal type"))?;
    let m = (v & 0o7777) as u32;
    let note = (!(0..=0o7777).contains(&v))
        .then(|| format!("{s} acts as {m:o} (its low 12 bits, as in Supervisor)"));
    Ok((m, note))
}

const TRUTHY: [&str; 4] = ["yes", "true", "on", "1"];
const FALSY: [&str; 4] = ["no", "false", "off", "0"];

/// `boolean`: yes/true/on/1 and no/false/off/0, any case.
pub fn boolean(s: &str) -> Result<bool, String> {
    let l = s.to_lowercase();
    if TRUTHY.contains(&l.as_str()) {
        Ok(true)
    } else if FALSY.contains(&l.as_str()) {
        Ok(false)
    } else {
        Err(format!("not a valid boolean value: {}", repr(s)))
    }
}

/// A lower-cased byte size's number and the multiplier of its suffix.
fn size_parts(l: &str) -> (&str, u64) {
    let suffixes: [(&str, u64); 6] = [
        ("kb", 1 << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("k", 1 << 10),
        ("m", 1 << 20),
        ("g", 1 << 30),
    ];
    suffixes
        .iter()
        .find_map(|(suf, m)| l.strip_suffix(suf).map(|n| (n, *m)))
        .unwrap_or((l, 1))
}

/// `byte_size`: `KB`/`MB`/`GB` (and, unlike Supervisor, `K`/`M`/`G`), ×1024.
pub fn byte_size(s: &str) -> Result<u64, String> {
    let l = s.to_lowercase();
    let (num, mult) = size_parts(&l);
    let bad = || {
        format!(
            "invalid byte size value {} (a number, optionally followed by KB, MB or GB)",
            repr(s)
        )
    };
    let n = py_int(num, 10).map_err(|e| match e {
        IntError::Invalid => bad(),
        IntError::TooLarge => format!("byte size value {} is too large", repr(s)),
    })?;
    if n < 0 {
        return Err(format!("byte size value {} must not be negative", repr(s)));
    }
    // The same bound with or without a suffix (a plain number stops at
    // i64::MAX), so every size re-parses from its number of bytes.
    n.checked_mul(mult as i64)
        .map(|b| b as u64)
        .ok_or_else(|| format!("byte size value {} is too large", repr(s)))
}

#[cfg(test)]
/// `octal_type`: `int(x, 8)` (umask, chmod, socket_mode).
pub fn octal(s: &str) -> Result<u32, String> {
    let bad = || format!("{s} can not be converted to an octal type");
    let v = py_int(s, 8).map_err(|_| bad())?;
    if !(0..=0o7777).contains(&v) {
        return Err(format!("{s} is not a valid file mode (0 to 7777 octal)"));
    }
    u32::try_from(v).map_err(|_| bad())
}

/// `logging_level`: critical, error, warn, info, debug, trace, blather.
/// `exit_supervisor_on`: `none`, `fatal`, `unexpected` or `any` (any case).
pub fn exit_on(s: &str) -> Result<ExitOn, String> {
    match s.to_lowercase().as_str() {
        "none" => Ok(ExitOn::None),
        "fatal" => Ok(ExitOn::Fatal),
        "unexpected" => Ok(ExitOn::Unexpected),
        "any" => Ok(ExitOn::Any),
        _ => Err(format!(
            "{} is not one of none, fatal, unexpected, any",
            repr(s)
        )),
    }
}

pub fn logging_level(s: &str) -> Result<LogLevel, String> {
    match s.to_lowercase().as_str() {
        "critical" => Ok(LogLevel::Critical),
        "error" => Ok(LogLevel::Error),
        "warn" => Ok(LogLevel::Warn),
        "info" => Ok(LogLevel::Info),
        "debug" => Ok(LogLevel::Debug),
        "trace" => Ok(LogLevel::Trace),
        "blather" => Ok(LogLevel::Blather),
        _ => Err(format!("bad logging level name {}", repr(s))),
    }
}

/// Signal names Python's `signal` module knows on Linux, without `SIG`.
pub const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
    ("RTMIN", 34),
    ("RTMAX", 64),
];

/// `signal_number`: a number, or a name with or without `SIG`, any case.
/// Only real signals are accepted (Supervisor also takes 0 via `SIG_DFL`).
pub fn signal_number(s: &str) -> Result<i32, String> {
    let num = match py_int(s, 10) {
        Ok(n) => n,
        Err(IntError::TooLarge) => {
            return Err(format!("value {} is not a valid signal number", repr(s)));
        }
        Err(IntError::Invalid) => {
            let up = py_strip(s).to_uppercase();
            let name = up.strip_prefix("SIG").unwrap_or(&up);
            match SIGNALS.iter().find(|(n, _)| *n == name) {
                Some((_, v)) => i64::from(*v),
                None => return Err(format!("value {} is not a valid signal name", repr(s))),
            }
        }
    };
    match SIGNALS.iter().find(|(_, v)| i64::from(*v) == num) {
        Some((_, v)) => Ok(*v),
        None => Err(format!("value {} is not a valid signal number", repr(s))),
    }
}

/// The canonical name of a signal number (`TERM`), if any.
pub fn signal_name(n: i32) -> Option<&'static str> {
    SIGNALS.iter().find(|(_, v)| *v == n).map(|(name, _)| *name)
}

/// `list_of_strings`: comma-separated, each stripped; empty → none.
pub fn list_of_strings(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(',').map(|x| py_strip(x).to_string()).collect()
}

/// `list_of_exitcodes`: comma-separated integers in 0..=255.
pub fn list_of_exitcodes(s: &str) -> Result<Vec<i32>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let bad = || format!("not a valid list of exit codes: {}", repr(s));
    s.split(',')
        .map(|x| match py_int(x, 10) {
            Ok(v) if (0..=255).contains(&v) => i32::try_from(v).map_err(|_| bad()),
            _ => Err(bad()),
        })
        .collect()
}

/// `auto_restart`: true-ish → always, false-ish → never, `unexpected`.
pub fn auto_restart(s: &str) -> Result<AutoRestart, String> {
    let l = s.to_lowercase();
    if TRUTHY.contains(&l.as_str()) {
        Ok(AutoRestart::Always)
    } else if FALSY.contains(&l.as_str()) {
        Ok(AutoRestart::Never)
    } else if l == "unexpected" {
        Ok(AutoRestart::Unexpected)
    } else {
        Err(format!("invalid 'autorestart' value {}", repr(&l)))
    }
}

/// What a `*_logfile` value names, before the directory check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogfileName {
    None,
    Auto,
    Syslog,
    Path(String),
}

/// `logfile_name`: NONE/OFF, AUTO, syslog (deprecated), or a path.
pub fn logfile_name(s: &str) -> LogfileName {
    match s.to_lowercase().as_str() {
        "none" | "off" => LogfileName::None,
        "auto" => LogfileName::Auto,
        "syslog" => LogfileName::Syslog,
        _ => LogfileName::Path(s.to_string()),
    }
}

/// `inet_address`: `host:port`, `*:port`, `:port` or `port`.  `""` = all interfaces.
pub fn inet_address(s: &str) -> Result<(String, u16), String> {
    let port = |p: &str| -> Result<u16, String> {
        match py_int(p, 10) {
            Ok(v) if (1..=65535).contains(&v) => u16::try_from(v).map_err(|e| e.to_string()),
            Ok(v) => Err(format!("port number {v} is out of range (1 to 65535)")),
            Err(_) => Err(format!("not a valid port number: {}", repr(p))),
        }
    };
    if let Some((host, p)) = s.rsplit_once(':') {
        if p.is_empty() {
            return Err(format!("no port number specified in {}", repr(s)));
        }
        let port = port(p)?;
        let host = host.to_lowercase();
        let host = if host == "*" { String::new() } else { host };
        Ok((host, port))
    } else {
        Ok((String::new(), port(s)?))
    }
}

/// `process_or_group_name`: stripped; no space, `:` or `/`; not empty.
pub fn process_or_group_name(s: &str) -> Result<String, String> {
    let t = py_strip(s);
    for c in [' ', ':', '/'] {
        if t.contains(c) {
            return Err(format!(
                "Invalid name: {} because of character: {}",
                repr(s),
                repr(&c.to_string())
            ));
        }
    }
    if t.is_empty() {
        return Err(format!(
            "Invalid name: {} (a name must not be empty)",
            repr(s)
        ));
    }
    Ok(t.to_string())
}

/// `user[:group]` syntax (names are resolved by the host checks).
pub fn owner(s: &str) -> Result<Owner, String> {
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(format!("Invalid user:group definition {s}"));
    }
    Ok(Owner {
        user: user.to_string(),
        group: group.map(str::to_string),
    })
}

/// `dict_of_key_value_pairs`: `A=1,B="x,y"` → `[(A,1),(B,x,y)]`, in order;
/// a repeated key keeps its first position and takes the last value.
pub fn dict_of_key_value_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let tokens = shlex_tokens_kv(s)?;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2)) {
            (Some(k), Some(eq), Some(v)) if eq == "=" => {
                let v = v.trim_matches(|c| c == '\'' || c == '"').to_string();
                match out.iter_mut().find(|(ek, _)| ek == k) {
                    Some(e) => e.1 = v,
                    None => out.push((k.clone(), v)),
                }
            }
            _ => {
                return Err(format!("Unexpected end of key/value pairs in value '{s}'"));
            }
        }
        i += 4;
    }
    Ok(out)
}

/// Python's `os.path.expanduser`: `~` → `$HOME` (or the passwd entry),
/// `~name` → that user's home; unchanged when unknown.
pub fn expanduser(p: &str, home: Option<&str>) -> String {
    let Some(rest) = p.strip_prefix('~') else {
        return p.to_string();
    };
    let (name, tail) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    let dir = if name.is_empty() {
        match home {
            Some(h) => Some(h.to_string()),
            None => os::user_by_uid(os::uid()).map(|u| u.home),
        }
    } else {
        os::user_by_name(name).map(|u| u.home)
    };
    match dir {
        Some(d) => {
            let d = if d.len() > 1 {
                d.trim_end_matches('/').to_string()
            } else {
                d
            };
            if d == "/" && tail.starts_with('/') {
                tail.to_string()
            } else {
                format!("{d}{tail}")
            }
        }
        None => p.to_string(),
    }
}

/// Python's `os.path.normpath` (POSIX).
pub fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        "//"
    } else if p.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial.is_empty() && parts.is_empty()) || parts.last() == Some(&"..") {
            parts.push(comp);
        } else if !parts.is_empty() {
            parts.pop();
        }
    }
    let joined = format!("{initial}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// Supervisor's `normalize_path`: expanduser, make absolute against `cwd`, normpath.
pub fn normalize_path(p: &str, cwd: &str, home: Option<&str>) -> String {
    let e = expanduser(p, home);
    if e.starts_with('/') {
        normpath(&e)
    } else {
        normpath(&format!("{cwd}/{e}"))
    }
}

/// Python's `os.path.dirname`.
pub fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => {
            let head = p.get(..=i).unwrap_or("");
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() { head } else { trimmed }
        }
        None => "",
    }
}

pub(crate) fn repr(s: &str) -> String {
    super::expand::py_repr_short(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_like_python() {
        assert_eq!(py_int("1_000", 10), Ok(1000));
        assert_eq!(py_int(" 12 ", 10), Ok(12));
        assert_eq!(py_int("+5", 10), Ok(5));
        assert_eq!(py_int("-0", 10), Ok(0));
        for bad in ["_1", "0x10", "1__0", "12_", "", "-", "1.5"] {
            assert_eq!(py_int(bad, 10), Err(IntError::Invalid), "{bad}");
        }
        assert_eq!(
            py_int("99999999999999999999999", 10),
            Err(IntError::TooLarge)
        );
        assert_eq!(py_int("-9223372036854775808", 10), Ok(i64::MIN));
        assert_eq!(integer("abc"), Err("invalid integer value 'abc'".into()));
        assert!(
            integer("1".repeat(400).as_str())
                .unwrap_err()
                .contains("too large")
        );
        // What Supervisor accepts and we hold otherwise says so.
        assert_eq!(
            count("-1", 10),
            Ok((0, Some("-1 acts as 0 (as in Supervisor)".into())))
        );
        assert_eq!(
            count("5000000000", u64::from(u32::MAX)),
            Ok((4294967295, Some("5000000000 is held as 4294967295".into())))
        );
        assert_eq!(count(" 7 ", 10), Ok((7, None)));
        assert_eq!(
            count("1".repeat(40).as_str(), u64::MAX).map(|x| x.0),
            Ok(i64::MAX as u64)
        );
        assert!(count("x", 10).is_err());
        assert_eq!(integer_noted("-1"), Ok((-1, None)));
        assert_eq!(
            integer_noted(&format!("-{}", "9".repeat(30))).map(|x| x.0),
            Ok(i64::MIN)
        );
        assert_eq!(byte_size_noted("-1KB").map(|x| x.0), Ok(0));
        assert_eq!(byte_size_noted("10MB"), Ok((10 << 20, None)));
        assert!(byte_size_noted("10XB").is_err());
        assert_eq!(octal_noted("-1").map(|x| x.0), Ok(0o7777));
        assert_eq!(octal_noted("77777").map(|x| x.0), Ok(0o7777));
        assert_eq!(octal_noted("022"), Ok((0o22, None)));
        assert!(octal_noted("9").is_err());
    }

    #[test]
    fn booleans() {
        for t in ["yes", "TRUE", "On", "1"] {
            assert_eq!(boolean(t), Ok(true));
        }
        for f in ["no", "False", "OFF", "0"] {
            assert_eq!(boolean(f), Ok(false));
        }
        assert_eq!(
            boolean("maybe"),
            Err("not a valid boolean value: 'maybe'".into())
        );
        assert!(boolean("").is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(byte_size("0"), Ok(0));
        assert_eq!(byte_size("1024"), Ok(1024));
        assert_eq!(byte_size("1KB"), Ok(1024));
        assert_eq!(byte_size("50MB"), Ok(50 << 20));
        assert_eq!(byte_size("2gb"), Ok(2 << 30));
        assert_eq!(byte_size("20M"), Ok(20 << 20));
        assert_eq!(byte_size("3k"), Ok(3 << 10));
        assert_eq!(byte_size("1G"), Ok(1 << 30));
        assert!(byte_size("1.5MB").is_err());
        assert!(byte_size("MB").is_err());
        assert!(byte_size("10XB").is_err());
        assert!(byte_size("-1MB").unwrap_err().contains("negative"));
        assert!(
            byte_size("99999999999999GB")
                .unwrap_err()
                .contains("too large")
        );
    }

    /// Regression (found by `byte_sizes_round_trip`): `8589934592GB` was
    /// accepted as 2**63 bytes, above i64::MAX: a size that could not be
    /// written back as a number of bytes (and showed negative in
    /// getAllConfigInfo).  Suffixed sizes now share the plain bound.
    #[test]
    fn byte_sizes_beyond_i64_are_too_large_with_any_suffix() {
        assert_eq!(byte_size("8589934591GB"), Ok(8589934591 << 30));
        assert!(byte_size("8589934592GB").unwrap_err().contains("too large"));
        assert!(
            byte_size("9007199254740992KB")
                .unwrap_err()
                .contains("too large")
        );
        let max = byte_size("9223372036854775807").unwrap();
        assert_eq!(byte_size(&max.to_string()), Ok(max));
    }

    #[test]
    fn octals() {
        assert_eq!(octal("022"), Ok(0o22));
        assert_eq!(octal("0o22"), Ok(0o22));
        assert_eq!(octal("777"), Ok(0o777));
        assert_eq!(
            octal("8"),
            Err("8 can not be converted to an octal type".into())
        );
        assert!(octal("-22").is_err());
        assert!(octal("77777").is_err());
    }

    #[test]
    fn levels() {
        assert_eq!(logging_level("INFO"), Ok(LogLevel::Info));
        assert_eq!(logging_level("blather"), Ok(LogLevel::Blather));
        assert_eq!(logging_level("warn"), Ok(LogLevel::Warn));
        assert_eq!(
            logging_level("20"),
            Err("bad logging level name '20'".into())
        );
        assert!(logging_level("warning").is_err());
    }

    #[test]
    fn signals() {
        assert_eq!(signal_number("TERM"), Ok(15));
        assert_eq!(signal_number("SIGTERM"), Ok(15));
        assert_eq!(signal_number("term"), Ok(15));
        assert_eq!(signal_number(" sigkill "), Ok(9));
        assert_eq!(signal_number("9"), Ok(9));
        assert_eq!(signal_number("rtmin"), Ok(34));
        assert_eq!(
            signal_number("0"),
            Err("value '0' is not a valid signal number".into())
        );
        assert_eq!(
            signal_number("_DFL"),
            Err("value '_DFL' is not a valid signal name".into())
        );
        assert!(signal_number("40").is_err());
        assert!(signal_number("65").is_err());
        assert!(signal_number("99999999999999999999").is_err());
        assert_eq!(
            signal_number("FOO"),
            Err("value 'FOO' is not a valid signal name".into())
        );
        assert_eq!(signal_name(15), Some("TERM"));
    }

    #[test]
    fn exitcodes_and_lists() {
        assert_eq!(list_of_exitcodes("0"), Ok(vec![0]));
        assert_eq!(list_of_exitcodes("0, 2,255"), Ok(vec![0, 2, 255]));
        assert_eq!(list_of_exitcodes(""), Ok(vec![]));
        assert_eq!(
            list_of_exitcodes("0,256"),
            Err("not a valid list of exit codes: '0,256'".into())
        );
        assert!(list_of_exitcodes("-1").is_err());
        assert!(list_of_exitcodes("a").is_err());
        assert_eq!(list_of_strings(" a , b,"), vec!["a", "b", ""]);
        assert!(list_of_strings("").is_empty());
    }

    #[test]
    fn autorestart() {
        assert_eq!(auto_restart("true"), Ok(AutoRestart::Always));
        assert_eq!(auto_restart("False"), Ok(AutoRestart::Never));
        assert_eq!(auto_restart("UNEXPECTED"), Ok(AutoRestart::Unexpected));
        assert_eq!(
            auto_restart("Sometimes"),
            Err("invalid 'autorestart' value 'sometimes'".into())
        );
    }

    #[test]
    fn logfiles() {
        assert_eq!(logfile_name("NONE"), LogfileName::None);
        assert_eq!(logfile_name("off"), LogfileName::None);
        assert_eq!(logfile_name("Auto"), LogfileName::Auto);
        assert_eq!(logfile_name("SYSLOG"), LogfileName::Syslog);
        assert_eq!(logfile_name("/a/b"), LogfileName::Path("/a/b".into()));
    }

    #[test]
    fn inet() {
        assert_eq!(
            inet_address("127.0.0.1:9001"),
            Ok(("127.0.0.1".into(), 9001))
        );
        assert_eq!(inet_address("*:9001"), Ok(("".into(), 9001)));
        assert_eq!(inet_address(":9001"), Ok(("".into(), 9001)));
        assert_eq!(inet_address("9001"), Ok(("".into(), 9001)));
        assert_eq!(inet_address("LocalHost:1"), Ok(("localhost".into(), 1)));
        assert!(inet_address("host:").is_err());
        assert!(inet_address("host:0").is_err());
        assert!(inet_address("host:65536").is_err());
        assert!(inet_address("abc").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(process_or_group_name(" web "), Ok("web".into()));
        assert_eq!(
            process_or_group_name("a:b"),
            Err("Invalid name: 'a:b' because of character: ':'".into())
        );
        assert_eq!(
            process_or_group_name("a b"),
            Err("Invalid name: 'a b' because of character: ' '".into())
        );
        assert!(process_or_group_name("a/b").unwrap_err().contains("'/'"));
        assert!(process_or_group_name("").is_err());
    }

    #[test]
    fn owners() {
        assert_eq!(
            owner("nobody"),
            Ok(Owner {
                user: "nobody".into(),
                group: None
            })
        );
        assert_eq!(
            owner("nobody:nogroup"),
            Ok(Owner {
                user: "nobody".into(),
                group: Some("nogroup".into())
            })
        );
        assert!(owner(":x").is_err());
        assert!(owner("x:").is_err());
    }

    fn kv(s: &str) -> Vec<(String, String)> {
        dict_of_key_value_pairs(s).unwrap()
    }

    #[test]
    fn key_value_pairs() {
        let p = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            kv("A=\"1\",B='x,y',C=3"),
            p(&[("A", "1"), ("B", "x,y"), ("C", "3")])
        );
        assert_eq!(kv("PATH=/usr/bin:/bin"), p(&[("PATH", "/usr/bin:/bin")]));
        assert_eq!(kv("A=1;B=2"), p(&[("A", "1"), ("B", "2")]));
        assert_eq!(kv("A=1,A=2,B=3"), p(&[("A", "2"), ("B", "3")]));
        assert_eq!(kv("C=100%"), p(&[("C", "100")]));
        assert_eq!(kv(""), p(&[]));
        // `#` comments run to the end of the line, as in Python's shlex.
        assert!(dict_of_key_value_pairs("A=x#c\nB=2").is_err());
        assert_eq!(kv("A=x#c\n,B=2"), p(&[("A", "x"), ("B", "2")]));
        assert_eq!(kv("K=$HOME"), p(&[("K", "$")]));
        assert!(dict_of_key_value_pairs("A=1 B=2").is_err());
        assert_eq!(
            dict_of_key_value_pairs("A"),
            Err("Unexpected end of key/value pairs in value 'A'".into())
        );
        assert_eq!(
            dict_of_key_value_pairs("A=\"1"),
            Err("No closing quotation".into())
        );
        // The value with its quotes stripped, including inner quotes at the edges.
        assert_eq!(kv("A=\"'x'\""), p(&[("A", "x")]));
    }

    #[test]
    fn paths() {
        assert_eq!(normpath("/a//b/./c/../d"), "/a/b/d");
        assert_eq!(normpath("//a"), "//a");
        assert_eq!(normpath("///a"), "/a");
        assert_eq!(normpath("/.."), "/");
        assert_eq!(normpath("../x"), "../x");
        assert_eq!(normalize_path("x.log", "/work", None), "/work/x.log");
        assert_eq!(normalize_path("~/x", "/w", Some("/home/u")), "/home/u/x");
        assert_eq!(expanduser("~", Some("/h")), "/h");
        assert_eq!(expanduser("a~", Some("/h")), "a~");
        assert_eq!(
            expanduser("~nosuchuser_xyz/a", Some("/h")),
            "~nosuchuser_xyz/a"
        );
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
        assert_eq!(dirname("a"), "");
        assert_eq!(dirname("a/b"), "a");
    }
}
