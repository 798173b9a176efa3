//! Line-mode log capture (SPEC Part B `log_prefix`, `log_format=json`):
//! how fast a program's output reaches its log file and what it costs the
//! daemon in CPU per GiB, beside the same stream through `| cat`.

use crate::daemon::{Env, Kind};
use crate::report::{Figure, Target};
use crate::scenarios::{
    LOG_ROTATION, Plan, dir_for, log_writer, progress, through, through_cat, timed_capture,
};
use crate::sys;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The daemon has logged the writer's exit: all its output was drained to
/// the log before (the daemon reads a child's pipes empty when reaping it).
/// Returns the time it was seen.
fn wait_exited(dir: &Path) -> Option<u64> {
    let log = dir.join("supervisord.log");
    let end = Instant::now() + Duration::from_secs(600);
    while Instant::now() < end {
        if std::fs::read_to_string(&log)
            .is_ok_and(|t| t.contains("exited: writer (exit status 0; expected)"))
        {
            return Some(sys::now_ns());
        }
        sys::sleep(Duration::from_millis(2));
    }
    None
}

/// 64-byte lines (the plain capture row's, the worst case for per-line
/// work) and 200-byte lines (a typical access-log line).
///
/// 256 MiB of program output per run, five runs: JSON lines are 2.3 times
/// the bytes at 64-byte lines, and on the bench machine writing fresh page
/// cache costs more than linearly past about a GiB (dd to a new file:
/// 1 GiB 0.27 s of system time every time, 2.3 GiB 0.70 to 5.0 s; 600 MiB
/// 0.14-0.16 s).  With 1 GiB runs the JSON rows measured the machine's
/// memory state (64-byte lines: 3.0, 2.0 and 2.6 s/GiB in three runs of
/// the same binary minutes apart); at 256 MiB they repeat within 10%.
pub fn log_lines(env: &Env, plan: &Plan) -> Vec<Figure> {
    let mut figs = Vec::new();
    for line_len in [64, 200] {
        figs.extend(with_lines_of(env, plan, line_len));
    }
    figs
}

fn with_lines_of(env: &Env, plan: &Plan, line_len: usize) -> Vec<Figure> {
    let b = plan.line_log_bytes;
    let gib = b as f64 / (1u64 << 30) as f64;
    let mut mbps: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut cpu: HashMap<&str, Vec<f64>> = HashMap::new();
    // Output bytes per input byte of each format, read off our own log.
    let mut growth: HashMap<&str, f64> = HashMap::new();
    for rep in 0..plan.line_log_reps {
        for who in ["prefix", "json", "cat", "prefix floor", "json floor"] {
            progress(&format!(
                "log lines of {line_len} bytes, {who} rep {}/{}",
                rep + 1,
                plan.line_log_reps
            ));
            let dir = dir_for(env, &format!("loglines{line_len}"), who, rep);
            let (secs, cpu_s) = if who == "cat" {
                through_cat(env, &dir, b, line_len)
            } else if let Some(format) = who.strip_suffix(" floor") {
                let ratio = growth.get(format).copied().unwrap_or(1.0);
                let mut grow = Command::new(&env.self_exe);
                let (part, backups) = LOG_ROTATION;
                grow.arg("__grow")
                    .arg(ratio.to_string())
                    .arg(dir.join("out.log"))
                    .arg((b / part).to_string())
                    .arg(backups.to_string());
                through(env, &dir, b, line_len, grow, None)
            } else {
                let prog = log_writer(env, &dir, b, line_len);
                let prog = if who == "prefix" {
                    prog.opt("log_prefix", "\"%(program_name)s | \"")
                } else {
                    prog.opt("log_format", "json")
                };
                let run = timed_capture(env, Kind::Ours, &dir, prog, wait_exited);
                if let Some(first) = first_line_len(&dir.join("out.log")) {
                    growth.insert(who, first as f64 / line_len as f64);
                }
                run
            };
            mbps.entry(who).or_default().push(b as f64 / 1e6 / secs);
            cpu.entry(who).or_default().push(cpu_s / gib);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let size = format!("{} MiB", b >> 20);
    let mut figs = Vec::new();
    for (who, what) in [("prefix", "log_prefix"), ("json", "log_format=json")] {
        figs.push(
            Figure::new(
                format!("log capture {size} with {what}, {line_len}-byte lines"),
                "MB/s",
                "cat",
            )
            .ours(&mbps[who])
            .other(&mbps["cat"])
            .target(Target::RatioMin(0.5))
            .note("to a rotated file; MB/s of the program's output"),
        );
        figs.push(
            Figure::new(
                format!("{what} daemon CPU, {line_len}-byte lines"),
                "s/GiB",
                "cat",
            )
            .ours(&cpu[who])
            .other(&cpu["cat"])
            .target(Target::RatioMax(2.0)),
        );
        let floor = format!("{who} floor");
        figs.push(
            Figure::new(
                format!("{what} daemon CPU, {line_len}-byte lines"),
                "s/GiB",
                "floor",
            )
            .ours(&cpu[who])
            .other(&cpu[floor.as_str()])
            .note(format!(
                "floor: {:.2}x the input bytes copied, rotated as ours, no formatting",
                growth.get(who).copied().unwrap_or(f64::NAN)
            )),
        );
    }
    figs
}

/// The length of a log's first line, newline included.
fn first_line_len(path: &Path) -> Option<usize> {
    use std::io::Read;
    let mut head = vec![0u8; 1 << 16];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    head[..n].iter().position(|&c| c == b'\n').map(|i| i + 1)
}
