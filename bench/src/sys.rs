//! Process plumbing: clocks, /proc readers, and the guard that kills by PID
//! every process a measurement started, even when the measurement fails.

use std::collections::HashMap;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// CLOCK_MONOTONIC in nanoseconds: one clock shared by the bench, the helper
/// programs the daemons run, and processes inside a PID namespace.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into ts.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C / SIGTERM make the next wait panic, so the guards' `Drop` runs and
/// every started process is killed before the bench exits.
pub fn install_interrupt_handler() {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
}

pub fn check_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        panic!("interrupted");
    }
}

/// Sleep that aborts the measurement on Ctrl-C.
pub fn sleep(d: Duration) {
    check_interrupted();
    std::thread::sleep(d);
    check_interrupted();
}

/// Orphans of the daemons we kill come back to us, so we can reap them.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

pub fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

fn status_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l[key.len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// VmRSS in KiB.
pub fn rss_kb(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&s, "VmRSS:")
}

/// Pss in KiB (proportional set size: shared pages split between sharers).
pub fn pss_kb(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    status_field(&s, "Pss:")
}

/// Fields of /proc/pid/stat after the command name (field 3 is index 0).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// utime + stime of the whole process (all threads, dead ones included), seconds.
pub fn cpu_s(pid: i32) -> Option<f64> {
    let f = stat_fields(pid)?;
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clk_tck())
}

pub fn ppid(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// Process state letter (R, S, Z, ...), None once the pid is gone.
pub fn state(pid: i32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// Voluntary + involuntary context switches summed over the live threads.
pub fn ctxt_switches(pid: i32) -> Option<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(e) = e else { continue };
        let Ok(s) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        total += status_field(&s, "voluntary_ctxt_switches:").unwrap_or(0);
        total += status_field(&s, "nonvoluntary_ctxt_switches:").unwrap_or(0);
    }
    Some(total)
}

pub fn all_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Every live descendant of `root` (not `root` itself), parents first.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut kids: HashMap<i32, Vec<i32>> = HashMap::new();
    for pid in all_pids() {
        if let Some(pp) = ppid(pid) {
            kids.entry(pp).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(p) = queue.pop() {
        if let Some(ks) = kids.get(&p) {
            for &k in ks {
                out.push(k);
                queue.push(k);
            }
        }
    }
    out
}

pub fn children(pid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| ppid(p) == Some(pid))
        .collect()
}

/// The host pid whose innermost namespace pid is `ns_pid`, among the
/// descendants of `root`.
pub fn host_pid_of_ns_pid(root: i32, ns_pid: i32) -> Option<i32> {
    descendants(root).into_iter().find(|&p| {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("NSpid:"))?.to_string();
                line.split_whitespace().last()?.parse::<i32>().ok()
            })
            == Some(ns_pid)
    })
}

pub fn kill(pid: i32, sig: i32) {
    if pid > 1 {
        // SAFETY: kill(2) on a pid we started.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Owns one started process tree; `Drop` kills it by PID.
pub struct Guard {
    pub pid: i32,
    child: Option<Child>,
}

impl Guard {
    pub fn new(child: Child) -> Guard {
        Guard {
            pid: child.id() as i32,
            child: Some(child),
        }
    }

    /// Non-blocking: has the root exited (and been reaped)?
    pub fn try_exited(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
            None => true,
        }
    }

    /// Wait for the root to exit; returns false on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.try_exited() {
                return true;
            }
            sleep(Duration::from_micros(200));
        }
        false
    }

    /// Wait for the root to exit; its own (user, system) CPU seconds.
    pub fn wait_rusage(&mut self) -> Option<(f64, f64)> {
        let child = self.child.take()?;
        let mut st = 0;
        // SAFETY: zeroed rusage is valid; wait4 on our child.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(self.pid, &mut st, 0, &mut ru) };
        std::mem::forget(child);
        if r != self.pid {
            return None;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Some((tv(ru.ru_utime), tv(ru.ru_stime)))
    }

    /// Kill the whole tree now (also what `Drop` does).
    pub fn kill_all(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Freeze the tree top-down until no new process appears, so nothing
        // respawns between listing and killing; then SIGKILL each by PID.
        let mut pids = vec![self.pid];
        kill(self.pid, libc::SIGSTOP);
        for _ in 0..10 {
            let now: Vec<i32> = std::iter::once(self.pid)
                .chain(descendants(self.pid))
                .collect();
            let new: Vec<i32> = now.iter().copied().filter(|p| !pids.contains(p)).collect();
            for &p in &new {
                kill(p, libc::SIGSTOP);
            }
            pids.extend(new.iter().copied());
            if new.is_empty() {
                break;
            }
        }
        for &p in &pids {
            kill(p, libc::SIGKILL);
        }
        let _ = child.wait();
        // We are a subreaper: the others become our children once their
        // parent is gone; reap them, or wait until their own parent did.
        let end = Instant::now() + Duration::from_secs(5);
        let mut left: Vec<i32> = pids[1..].to_vec();
        while !left.is_empty() && Instant::now() < end {
            left.retain(|&p| {
                let mut st = 0;
                // SAFETY: waitpid on a specific pid.
                let r = unsafe { libc::waitpid(p, &mut st, libc::WNOHANG) };
                if r == p {
                    return false;
                }
                let s = state(p);
                !(s.is_none() || (r < 0 && s == Some('Z')))
            });
            if !left.is_empty() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Reap any stray children (orphans handed to us as subreaper).
pub fn reap_strays() {
    loop {
        let mut st = 0;
        // SAFETY: non-blocking waitpid on any child.
        let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if r <= 0 {
            break;
        }
    }
}

pub fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

pub fn mkfifo(p: &Path) -> std::io::Result<()> {
    let c =
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: mkfifo with a valid C string.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `/dev/shm/<name>`, created, when `/dev/shm` is a tmpfs.
pub fn tmpfs_dir(name: &str) -> Option<std::path::PathBuf> {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let base = Path::new("/dev/shm");
    let c = std::ffi::CString::new("/dev/shm").ok()?;
    // SAFETY: statfs into a zeroed struct with a valid path.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 || st.f_type as i64 != TMPFS_MAGIC {
        return None;
    }
    let d = base.join(name);
    std::fs::create_dir_all(&d).ok()?;
    Some(d)
}

/// A fresh temp dir under `parent`.
pub fn make_dir(parent: &Path, name: &str) -> std::path::PathBuf {
    let d = parent.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
