//! The programs the daemons supervise, built into the bench binary and run
//! as `supervisor-bench __NAME ...`, so both daemons and the baselines run
//! exactly the same code.  They record CLOCK_MONOTONIC timestamps in files.

use crate::sys::now_ns;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

fn append(path: &str, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Dispatch a helper; None when `args` is not a helper invocation.
pub fn run(args: &[String]) -> Option<i32> {
    let name = args.first()?.as_str();
    let a = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    Some(match name {
        "__crash" => crash(a(1), a(2).parse().unwrap_or(100)),
        "__write" => write(a(1), a(2).parse().unwrap_or(0), a(3).parse().unwrap_or(64)),
        "__grow" => grow(
            a(1).parse().unwrap_or(1.0),
            a(2),
            a(3).parse().unwrap_or(0),
            a(4).parse().unwrap_or(0),
        ),
        "__pid1child" => pid1child(Path::new(a(1)), a(2).parse().unwrap_or(0)),
        "__load" => load(
            a(1),
            a(2).parse().unwrap_or(1),
            a(3).parse().unwrap_or(5.0),
            a(4) == "keep",
        ),
        _ => return None,
    })
}

/// Record the start, live `ms`, record the end, exit 1 (a crash).
fn crash(file: &str, ms: u64) -> i32 {
    append(file, &format!("S {}\n", now_ns()));
    std::thread::sleep(Duration::from_millis(ms));
    append(file, &format!("E {}\n", now_ns()));
    1
}

/// Wait for `go` to exist, then write `bytes` of log lines of `line_len`
/// bytes (newline included) to stdout.
fn write(go: &str, bytes: u64, line_len: usize) -> i32 {
    while !Path::new(go).exists() {
        std::thread::sleep(Duration::from_micros(500));
    }
    // Blocks of about 64 KiB of whole lines: a counter, then the sentence
    // over and over (64-byte lines end with "lazy dog ..").
    let line_len = line_len.clamp(18, 65536);
    let filler = b"the quick brown fox jumps over the lazy dog .. ";
    let mut block = Vec::with_capacity(65536 + line_len);
    let mut i = 0u64;
    while block.len() + line_len <= 65536.max(line_len) {
        let start = block.len();
        block.extend_from_slice(format!("{i:016} ").as_bytes());
        let mut k = 0;
        while block.len() - start < line_len - 1 {
            block.push(filler[k % filler.len()]);
            k += 1;
        }
        block.push(b'\n');
        i += 1;
    }
    let mut out = std::io::stdout().lock();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        if out.write_all(&block[..n]).is_err() {
            return 1;
        }
        left -= n as u64;
    }
    let _ = out.flush();
    0
}

/// The floor of the line-mode rows: read stdin in 256 KiB reads from a
/// 1 MiB pipe (the daemon's sizes for a line-mode log) and write `ratio`
/// times each read's bytes, copied and never looked at, to `path` rotated
/// as the daemon rotates its logs (at `maxbytes`, `backups` kept): what
/// writing a formatted log's bytes costs with no formatting at all.
fn grow(ratio: f64, path: &str, maxbytes: u64, backups: u32) -> i32 {
    use std::io::Read;
    let ratio = if ratio.is_finite() {
        ratio.clamp(1.0, 8.0)
    } else {
        1.0
    };
    let open = || std::fs::File::create(path);
    let Ok(mut file) = open() else { return 1 };
    let mut input = vec![0u8; 256 * 1024];
    let mut output = Vec::with_capacity(input.len() * 8);
    let mut stdin = std::io::stdin().lock();
    // The daemon's pipe size for a line-mode log.
    // SAFETY: fcntl on our own stdin; failure leaves the pipe as it was.
    unsafe { libc::fcntl(0, libc::F_SETPIPE_SZ, 1 << 20) };
    let (mut read, mut written, mut size) = (0u64, 0u64, 0u64);
    loop {
        let n = match stdin.read(&mut input) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return 1,
        };
        read += n as u64;
        // Whole-run rounding: the bytes written so far stay at `ratio`
        // times the bytes read.
        let want = (read as f64 * ratio) as u64 - written;
        output.clear();
        while (output.len() as u64) < want {
            let k = (want as usize - output.len()).min(n);
            output.extend_from_slice(&input[..k]);
        }
        if file.write_all(&output).is_err() {
            return 1;
        }
        written += want;
        size += want;
        if maxbytes > 0 && size >= maxbytes {
            let _ = std::fs::remove_file(format!("{path}.{backups}"));
            for i in (1..backups).rev() {
                let _ = std::fs::rename(format!("{path}.{i}"), format!("{path}.{}", i + 1));
            }
            let _ = std::fs::rename(path, format!("{path}.1"));
            let Ok(f) = open() else { return 1 };
            (file, size) = (f, 0);
        }
    }
    0
}

/// For the PID-1 figures: make `orphans` grandchildren whose parent exits at
/// once (so PID 1 inherits them), each exiting when a byte arrives on
/// `dir/oN.fifo` after writing its exit time to `dir/oN.t`; then block
/// SIGTERM, write `dir/ready`, and on SIGTERM write its arrival time to
/// `dir/sigterm.t`.
fn pid1child(dir: &Path, orphans: usize) -> i32 {
    for i in 0..orphans {
        // SAFETY: this helper is single-threaded; the children only make
        // plain system calls and exit.
        unsafe {
            let c = libc::fork();
            if c == 0 {
                if libc::fork() == 0 {
                    let pid = libc::getpid();
                    let _ = std::fs::write(dir.join(format!("o{i}.pid")), pid.to_string());
                    let mut b = [0u8; 1];
                    if let Ok(mut f) = std::fs::File::open(dir.join(format!("o{i}.fifo"))) {
                        let _ = std::io::Read::read(&mut f, &mut b);
                    }
                    let t = now_ns();
                    let _ = std::fs::write(dir.join(format!("o{i}.t")), t.to_string());
                    libc::_exit(0);
                }
                libc::_exit(0);
            }
            let mut st = 0;
            libc::waitpid(c, &mut st, 0);
        }
    }
    // SAFETY: signal mask manipulation on this (only) thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let _ = std::fs::write(dir.join("ready"), b"1");
        let mut sig = 0;
        libc::sigwait(&set, &mut sig);
    }
    let t = now_ns();
    let _ = std::fs::write(dir.join("sigterm.t"), t.to_string());
    0
}

/// For profiling a daemon by hand: `__load unix:/path/sock|HOST:PORT CLIENTS
/// SECONDS [keep]` drives getAllProcessInfo and prints what it got.
fn load(addr: &str, clients: usize, secs: f64, keep: bool) -> i32 {
    let addr = match addr.strip_prefix("unix:") {
        Some(p) => crate::http::Addr::Unix(p.into()),
        None => match addr.parse() {
            Ok(a) => crate::http::Addr::Tcp(a),
            Err(_) => return 2,
        },
    };
    let r = crate::http::load(
        &addr,
        "supervisor.getAllProcessInfo",
        clients,
        Duration::from_secs_f64(secs),
        keep,
        0,
    );
    println!(
        "{} requests, {} errors, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        r.requests,
        r.errors,
        r.rps(),
        crate::report::percentile(&r.latencies_ms, 50.0),
        crate::report::percentile(&r.latencies_ms, 99.0)
    );
    0
}
