//! `AUTO` child log files: created like Python's `tempfile.mkstemp` (mode
//! 0600, `O_EXCL`, 8 random characters from `[a-z0-9_]`), and removed at
//! start unless `nocleanup` (`options.clear_autochildlogdir`).

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The characters of Python's `tempfile._RandomNameSequence`.
const NAME_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
/// `os.TMP_MAX` on Linux.
const TMP_MAX: u32 = 238_328;

/// 64 random bits: `getrandom(2)`, else a mix of time, pid and a counter.
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // The raw system call, not libc's wrapper: in the static musl build the
    // wrapper can resolve to a null weak symbol (std declares `getrandom`
    // weak, so the linker never pulls it from libc.a), and calling it
    // crashed the daemon as soon as a program had an AUTO log.
    // SAFETY: `b` is 8 writable bytes.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getrandom,
            b.as_mut_ptr(),
            b.len(),
            libc::GRND_NONBLOCK,
        )
    };
    if n == 8 {
        return u64::from_ne_bytes(b);
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = t
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn random_name() -> String {
    let mut r = random_u64();
    let mut s = String::with_capacity(8);
    for _ in 0..8 {
        let n = NAME_CHARS.len() as u64;
        s.push(char::from(NAME_CHARS[(r % n) as usize]));
        r /= n;
    }
    s
}

/// Create a new AUTO log file `<name>-<channel>---<identifier>-XXXXXXXX.log`
/// in `dir` (mode 0600, never an existing file) and return its path.
pub fn auto_log_path(
    dir: &Path,
    name: &str,
    channel: &str,
    identifier: &str,
) -> io::Result<PathBuf> {
    let mut last = None;
    for _ in 0..TMP_MAX {
        let path = dir.join(format!(
            "{name}-{channel}---{identifier}-{}.log",
            random_name()
        ));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

/// Supervisor's `.+?---<identifier>-\S+\.log` (`re.match`, so anchored at
/// the start only; any suffix such as `.1` or `.10` is accepted).  The
/// identifier is matched literally.
pub fn is_auto_log_name(file_name: &str, identifier: &str) -> bool {
    let needle = format!("---{identifier}-");
    for (p, c) in file_name.char_indices() {
        // `.+?`: at least one character before the needle, none a newline.
        if c == '\n' {
            return false;
        }
        if p == 0 || !file_name[p..].starts_with(&needle) {
            continue;
        }
        let rest = &file_name[p + needle.len()..];
        // `\S+\.log`: the first `.log` after at least one character, with
        // no whitespace before it (a later `.log` cannot do better).
        let Some(first) = rest.chars().next() else {
            continue;
        };
        let k = first.len_utf8();
        if let Some(q) = rest[k..].find(".log")
            && !rest[..k + q].chars().any(char::is_whitespace)
        {
            return true;
        }
    }
    false
}

/// What [`cleanup_auto_logs_report`] did.
#[derive(Debug, Default)]
pub struct CleanupReport {
    pub removed: Vec<PathBuf>,
    /// Matching entries that could not be removed (Supervisor warns
    /// `Failed to clean up %r` for each).
    pub failed: Vec<(PathBuf, io::Error)>,
}

/// Delete AUTO logs of this identifier (`*---<identifier>-*.log*`), with
/// per-file results.  Errors only when the directory cannot be listed
/// (Supervisor: `Could not clear childlog dir`).
pub fn cleanup_auto_logs_report(dir: &Path, identifier: &str) -> io::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !is_auto_log_name(&name, identifier) {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_file(&path) {
            Ok(()) => report.removed.push(path),
            Err(e) => report.failed.push((path, e)),
        }
    }
    Ok(report)
}

/// Delete AUTO logs of this identifier (`*---<identifier>-*.log*`) at startup.
/// Returns how many files were removed.
pub fn cleanup_auto_logs(dir: &Path, identifier: &str) -> io::Result<usize> {
    Ok(cleanup_auto_logs_report(dir, identifier)?.removed.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_unique_0600_files_with_supervisor_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let p = auto_log_path(dir.path(), "web", "stdout", "supervisor").unwrap();
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            let rand = name
                .strip_prefix("web-stdout---supervisor-")
                .and_then(|r| r.strip_suffix(".log"))
                .unwrap();
            assert_eq!(rand.len(), 8);
            assert!(rand.bytes().all(|b| NAME_CHARS.contains(&b)), "{rand}");
            let meta = std::fs::metadata(&p).unwrap();
            assert!(meta.is_file());
            assert_eq!(meta.len(), 0);
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
            assert_eq!(p.parent().unwrap(), dir.path());
            assert!(seen.insert(name));
            assert!(is_auto_log_name(
                p.file_name().unwrap().to_str().unwrap(),
                "supervisor"
            ));
        }
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(auto_log_path(&dir.path().join("nope"), "a", "stderr", "s").is_err());
        assert!(cleanup_auto_logs(&dir.path().join("nope"), "s").is_err());
    }

    #[test]
    fn name_matching_follows_supervisors_regex() {
        let id = "supervisor";
        for yes in [
            "web-stdout---supervisor-abc_1234.log",
            "web-stderr---supervisor-x.log.1",
            "web-stderr---supervisor-x.log.10",
            "a---supervisor-x.logfoo",
            "g:w-stdout---supervisor-x.log",
            "x---supervisor-.log.log",
            "x---supervisor-y---supervisor-z.log",
            "x---supervisor-é.log",
        ] {
            assert!(is_auto_log_name(yes, id), "{yes}");
        }
        for no in [
            "---supervisor-x.log",
            "web-stdout---other-x.log",
            "web-stdout---supervisor-.log",
            "web-stdout---supervisor-a b.log",
            "web-stdout---supervisor-x.txt",
            "web-stdout--supervisor-x.log",
            "supervisord.log",
            "web-stdout---supervisorx-y.log",
            "a\nb---supervisor-x.log",
            "a---supervisor-x y\n---supervisor-z.log",
        ] {
            assert!(!is_auto_log_name(no, id), "{no}");
        }
        // Identifier with regex metacharacters is literal.
        assert!(is_auto_log_name("w---a.b-x.log", "a.b"));
        assert!(!is_auto_log_name("w---axb-x.log", "a.b"));
    }

    #[test]
    fn cleanup_removes_only_matching_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let a = auto_log_path(d, "web", "stdout", "supervisor").unwrap();
        let b = auto_log_path(d, "web", "stderr", "supervisor").unwrap();
        let rotated = PathBuf::from(format!("{}.3", a.display()));
        std::fs::write(&rotated, b"x").unwrap();
        let other_id = auto_log_path(d, "web", "stdout", "other").unwrap();
        let keep = d.join("supervisord.log");
        std::fs::write(&keep, b"x").unwrap();
        let keep2 = d.join("notes---supervisor-x.txt");
        std::fs::write(&keep2, b"x").unwrap();
        let n = cleanup_auto_logs(d, "supervisor").unwrap();
        assert_eq!(n, 3);
        assert!(!a.exists() && !b.exists() && !rotated.exists());
        assert!(other_id.exists() && keep.exists() && keep2.exists());
        // A matching directory cannot be removed: reported, not fatal.
        std::fs::create_dir(d.join("x---supervisor-d.log")).unwrap();
        let r = cleanup_auto_logs_report(d, "supervisor").unwrap();
        assert!(r.removed.is_empty());
        assert_eq!(r.failed.len(), 1);
    }
}
