//! Logging, end to end with the real binary: child log rotation and its
//! byte-exactness, NONE / AUTO / `/dev/stdout` targets, `redirect_stderr`,
//! `strip_ansi`, the main log (format, level, stdout mirror, rotation),
//! recovery from a deleted log directory, and output drained at exit.

use crate::util::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Generous deadline for anything that only needs the daemon to get going.
const T: Duration = Duration::from_secs(20);
/// The daemon moves child output to the log at most this much per write
/// (its read buffer), so a log file exceeds maxbytes by less than this.
const ONE_WRITE: u64 = 64 * 1024;

/// [`BASE_CONF`] with some `[supervisord]` lines replaced, e.g.
/// `("loglevel=debug", "loglevel=info")`. Panics if a line is not there, so
/// a changed BASE_CONF cannot silently turn a test into a no-op.
fn base_conf_with(replace: &[(&str, &str)]) -> String {
    let mut conf = BASE_CONF.to_string();
    for (from, to) in replace {
        assert!(conf.contains(from), "BASE_CONF has no line {from:?}");
        conf = conf.replacen(from, to, 1);
    }
    conf
}

/// What `spew.sh COUNT STREAM TEXT` writes on `stream`.
fn spew_output(count: usize, stream: &str, text: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..count {
        v.extend_from_slice(format!("{stream} {i} {text}\n").as_bytes());
    }
    v
}

fn backup(p: &Path, i: u32) -> PathBuf {
    PathBuf::from(format!("{}.{i}", p.display()))
}

/// `log.N`, ..., `log.1`, `log` that exist, oldest first, with contents.
fn rotated_set(p: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut n = 1;
    while backup(p, n).exists() {
        n += 1;
    }
    for i in (1..n).rev() {
        let b = backup(p, i);
        out.push((b.clone(), fs::read(&b).unwrap_or_default()));
    }
    if p.exists() {
        out.push((p.to_path_buf(), fs::read(p).unwrap_or_default()));
    }
    out
}

fn concat(set: &[(PathBuf, Vec<u8>)]) -> Vec<u8> {
    set.iter().flat_map(|(_, d)| d.iter().copied()).collect()
}

/// Wait until the rotated set of `p`, concatenated, is exactly `len` bytes
/// and stays so for one more poll (rotation renames are not atomic as a
/// whole), then return the set.
fn wait_rotated_len(h: &Harness, p: &Path, len: usize) -> Vec<(PathBuf, Vec<u8>)> {
    let mut last = None;
    let mut set = Vec::new();
    h.eventually(
        Duration::from_secs(60),
        &format!("{} and its backups to hold {len} bytes", p.display()),
        || {
            set = rotated_set(p);
            let total = concat(&set).len();
            let stable = last == Some(total) && total == len;
            last = Some(total);
            stable
        },
    );
    set
}

/// A short description of the first difference, for assertion messages.
fn first_diff(got: &[u8], want: &[u8]) -> String {
    let i = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let show = |d: &[u8]| {
        String::from_utf8_lossy(&d[i.saturating_sub(40)..(i + 40).min(d.len())]).into_owned()
    };
    format!(
        "lengths got {} want {}; first difference at byte {i}: got {:?} want {:?}",
        got.len(),
        want.len(),
        show(got),
        show(want)
    )
}

/// AUTO log files in `dir` whose name starts with `prefix`.
fn files_starting(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `<name>-<channel>---<identifier>-XXXXXXXX.log` with 8 characters of
/// Python's mkstemp alphabet.
fn is_auto_name(file: &str, name: &str, channel: &str, identifier: &str) -> bool {
    let Some(rest) = file.strip_prefix(&format!("{name}-{channel}---{identifier}-")) else {
        return false;
    };
    let Some(rand) = rest.strip_suffix(".log") else {
        return false;
    };
    rand.len() == 8
        && rand
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `YYYY-MM-DD HH:MM:SS,mmm LEVL message`.
fn is_main_log_line(line: &str) -> bool {
    let b = line.as_bytes();
    if b.len() < 29 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b','
        && digits(20..23)
        && b[23] == b' '
        && ["CRIT", "ERRO", "WARN", "INFO", "DEBG", "TRAC", "BLAT"]
            .iter()
            .any(|l| line[24..].starts_with(l))
        && b[28] == b' '
}

fn bad_main_log_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !is_main_log_line(l))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------
// Child logs

#[test]
fn rotation_keeps_every_byte_in_order() {
    let mut h = Harness::new("rotation_lossless");
    // ~2 MB of numbered lines, one write(2) per line.
    let count = 115_000;
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh {fixtures}/spew.sh 115000 stdout rotation\n\
         startsecs=0\n\
         stdout_logfile={dir}/x.log\n\
         stdout_logfile_maxbytes=64KB\n\
         stdout_logfile_backups=50\n",
    );
    h.start(&[]);
    let want = spew_output(count, "stdout", "rotation");
    let log = h.path("x.log");
    let set = wait_rotated_len(&h, &log, want.len());
    let got = concat(&set);
    assert!(
        got == want,
        "rotated logs differ from the program's output: {}",
        first_diff(&got, &want)
    );
    let maxbytes = 64 * 1024;
    assert!(
        set.len() > 10,
        "expected many rotations, got {} files",
        set.len()
    );
    for (i, (p, d)) in set.iter().enumerate() {
        let len = d.len() as u64;
        assert!(
            len < maxbytes + ONE_WRITE,
            "{} has {len} bytes, more than maxbytes + one write",
            p.display()
        );
        // Every backup was rotated away only once it reached maxbytes.
        if i + 1 < set.len() {
            assert!(
                len >= maxbytes,
                "{} rotated early at {len} bytes",
                p.display()
            );
        }
    }
}

/// Regression: with `loglevel=debug` (no splicing) a channel was read
/// 256 KiB at a time, and each read lands whole in one file, so a daemon
/// that fell behind wrote files of maxbytes plus up to 256 KiB (seen as a
/// 145 KB file of a 64 KB log in a loaded CI run).  Here the daemon is
/// stopped while the program writes 160 KB into its (1 MiB) pipe.
#[test]
fn a_backlog_read_after_a_stall_overshoots_maxbytes_by_one_pipe_read_at_most() {
    let mut h = Harness::new("rotation_backlog");
    let count = 8000;
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'sleep 2; exec /bin/sh {fixtures}/spew.sh 8000 stdout backlog'\n\
         startsecs=0\n\
         stdout_logfile={dir}/x.log\n\
         stdout_logfile_maxbytes=64KB\n\
         stdout_logfile_backups=50\n",
    );
    let daemon = h.start(&[]);
    h.eventually(Duration::from_secs(10), "x spawned", || {
        h.read("supervisord.log").contains("spawned: 'x'")
    });
    assert!(send_signal(daemon, libc::SIGSTOP));
    // The program has written everything once it sleeps (spew.sh ends in
    // `exec sleep`); the stopped daemon has read none of it.
    let done = wait_until(Duration::from_secs(20), "x to finish writing", || {
        descendants_of(daemon)
            .iter()
            .any(|p| p.comm == "sleep" && cmdline(p.pid).is_some_and(|c| c.contains("100000")))
    });
    assert!(send_signal(daemon, libc::SIGCONT));
    done.unwrap_or_else(|e| panic!("{e}"));
    let want = spew_output(count, "stdout", "backlog");
    let set = wait_rotated_len(&h, &h.path("x.log"), want.len());
    assert!(concat(&set) == want, "{}", first_diff(&concat(&set), &want));
    assert!(set.len() > 2, "rotated: {} files", set.len());
    for (p, d) in &set {
        assert!(
            (d.len() as u64) < 64 * 1024 + ONE_WRITE,
            "{} has {} bytes, more than maxbytes + one write",
            p.display(),
            d.len()
        );
    }
}

#[test]
fn rotation_keeps_only_the_configured_backups() {
    let mut h = Harness::new("rotation_backups2");
    let count = 40_000;
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh {fixtures}/spew.sh 40000 stdout backups\n\
         startsecs=0\n\
         stdout_logfile={dir}/x.log\n\
         stdout_logfile_maxbytes=16KB\n\
         stdout_logfile_backups=2\n",
    );
    h.start(&[]);
    let want = spew_output(count, "stdout", "backups");
    let last_line = format!("stdout {} backups\n", count - 1);
    let log = h.path("x.log");
    let mut got = Vec::new();
    h.eventually(T, "the last line in x.log or its backups", || {
        // Twice the same: not read in the middle of a rotation.
        let now = concat(&rotated_set(&log));
        let done = now == got && now.ends_with(last_line.as_bytes());
        got = now;
        done
    });
    let names = files_starting(h.dir(), "x.log");
    assert_eq!(
        names,
        ["x.log", "x.log.1", "x.log.2"],
        "backups=2 keeps 3 files"
    );
    assert!(
        got.len() < want.len() && want.ends_with(&got),
        "the kept files are not the tail of the output: {}",
        first_diff(&got, &want[want.len() - got.len().min(want.len())..])
    );
}

#[test]
fn maxbytes_zero_never_rotates() {
    let mut h = Harness::new("rotation_off");
    let count = 60_000;
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh {fixtures}/spew.sh 60000 stdout norotate\n\
         startsecs=0\n\
         stdout_logfile={dir}/x.log\n\
         stdout_logfile_maxbytes=0\n\
         stdout_logfile_backups=5\n",
    );
    h.start(&[]);
    let want = spew_output(count, "stdout", "norotate");
    let log = h.path("x.log");
    h.eventually(T, "x.log to hold all the output", || {
        fs::metadata(&log).map(|m| m.len()).unwrap_or(0) >= want.len() as u64
    });
    let got = fs::read(&log).unwrap();
    assert!(got == want, "{}", first_diff(&got, &want));
    assert_eq!(
        files_starting(h.dir(), "x.log"),
        ["x.log"],
        "no backups with maxbytes=0"
    );
}

#[test]
fn redirect_stderr_puts_both_streams_in_the_stdout_log() {
    let mut h = Harness::new("redirect_stderr");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh {fixtures}/spew.sh 100 both merged\n\
         startsecs=0\n\
         redirect_stderr=true\n\
         stdout_logfile={dir}/x.out\n\
         stderr_logfile={dir}/x.err\n\
         \n\
         [program:auto]\n\
         command=/bin/sh {fixtures}/spew.sh 10 both merged\n\
         startsecs=0\n\
         redirect_stderr=true\n",
    );
    h.start(&[]);
    h.wait_file_contains("x.out", "stdout 99 merged\n", T);
    h.wait_file_contains("x.out", "stderr 99 merged\n", T);
    let out = h.read("x.out");
    for i in 0..100 {
        assert!(
            out.contains(&format!("stdout {i} merged\n")),
            "stdout line {i} missing"
        );
        assert!(
            out.contains(&format!("stderr {i} merged\n")),
            "stderr line {i} missing"
        );
    }
    assert!(
        !h.path("x.err").exists(),
        "stderr_logfile is ignored with redirect_stderr"
    );
    // With AUTO logs no stderr file is even created.
    let auto_out = files_starting(h.dir(), "auto-stdout---");
    assert_eq!(auto_out.len(), 1, "{auto_out:?}");
    h.wait_file_contains(&auto_out[0], "stderr 9 merged\n", T);
    let auto_err = files_starting(h.dir(), "auto-stderr---");
    assert!(auto_err.is_empty(), "stderr AUTO log created: {auto_err:?}");
}

#[test]
fn stderr_log_is_separate_without_redirect() {
    let mut h = Harness::new("stderr_separate");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh {fixtures}/spew.sh 100 both split\n\
         startsecs=0\n\
         stdout_logfile={dir}/x.out\n\
         stderr_logfile={dir}/x.err\n",
    );
    h.start(&[]);
    let want_out = spew_output(100, "stdout", "split");
    let want_err = spew_output(100, "stderr", "split");
    h.eventually(T, "both logs complete", || {
        fs::read(h.path("x.out")).unwrap_or_default().len() >= want_out.len()
            && fs::read(h.path("x.err")).unwrap_or_default().len() >= want_err.len()
    });
    assert_eq!(h.read("x.out").as_bytes(), want_out.as_slice());
    assert_eq!(h.read("x.err").as_bytes(), want_err.as_slice());
}

#[test]
fn none_log_discards_output_without_blocking_the_program() {
    let mut h = Harness::new("none_log");
    // 1 MB is far more than a pipe holds: if nobody read the pipe the
    // program would block before it writes `done`.
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; touch {dir}/done; exec sleep 100000'\n\
         startsecs=0\n\
         stdout_logfile=NONE\n\
         stderr_logfile=NONE\n",
    );
    h.start(&[]);
    h.eventually(T, "the program to finish writing 1 MB", || {
        h.path("done").exists()
    });
    let logs: Vec<String> = files_starting(h.dir(), "x-");
    assert!(logs.is_empty(), "NONE must not create log files: {logs:?}");
}

#[test]
fn auto_logs_are_named_and_cleaned_up_unless_nocleanup() {
    let mut h = Harness::new("auto_logs");
    let prog = "[program:x]\n\
                command=/bin/sh -c 'echo out-$$; echo err-$$ >&2; exec sleep 100000'\n\
                startsecs=0\n";
    let auto = h.path("auto");
    fs::create_dir(&auto).unwrap();
    for stale in [
        "old-stdout---supervisor-aaaaaaaa.log",
        "old-stdout---supervisor-aaaaaaaa.log.1",
        "x-stdout---other-bbbbbbbb.log",
        "notes.txt",
    ] {
        fs::write(auto.join(stale), "stale\n").unwrap();
    }
    let ours = |dir: &Path| -> Vec<String> {
        let mut v = files_starting(dir, "x-std");
        v.retain(|n| n.contains("---supervisor-"));
        v
    };
    let run = |h: &mut Harness, conf: &str, extra: &[&str]| -> Vec<String> {
        h.write_conf(&format!("{conf}{prog}"));
        // A fresh main log, so the waits below see this run's lines.
        let _ = fs::remove_file(h.path("supervisord.log"));
        h.start(extra);
        h.wait_log("spawned: 'x'", T);
        // The program's output reaches its AUTO logs.
        h.eventually(T, "x's output in its AUTO logs", || {
            let names = ours(&auto);
            let read = |ch: &str| {
                names
                    .iter()
                    .filter(|n| n.starts_with(&format!("x-{ch}---")))
                    .map(|n| read_lossy(&auto.join(n)))
                    .collect::<String>()
            };
            read("stdout").contains("out-") && read("stderr").contains("err-")
        });
        let st = h.stop(T);
        assert_eq!(
            st.code(),
            Some(0),
            "{}\n{}",
            describe_status(&st),
            h.diagnostics()
        );
        ours(&auto)
    };
    let base = base_conf_with(&[("childlogdir={dir}", "childlogdir={dir}/auto")]);

    // 1: -k keeps everything that was there.
    let first = run(&mut h, &base, &["-k"]);
    assert_eq!(
        first.len(),
        2,
        "one stdout and one stderr AUTO log: {first:?}"
    );
    assert!(
        first
            .iter()
            .any(|n| is_auto_name(n, "x", "stdout", "supervisor")),
        "{first:?}"
    );
    assert!(
        first
            .iter()
            .any(|n| is_auto_name(n, "x", "stderr", "supervisor")),
        "{first:?}"
    );
    assert!(
        auto.join("old-stdout---supervisor-aaaaaaaa.log").exists(),
        "-k removed a stale log"
    );

    // 2: nocleanup=true in the config does the same.
    let keep = base_conf_with(&[
        ("childlogdir={dir}", "childlogdir={dir}/auto"),
        ("nodaemon=true", "nodaemon=true\nnocleanup=true"),
    ]);
    let second = run(&mut h, &keep, &[]);
    assert_eq!(
        second.len(),
        4,
        "nocleanup kept the first run's logs: {second:?}"
    );
    assert!(auto.join("old-stdout---supervisor-aaaaaaaa.log.1").exists());

    // 3: the default deletes every old AUTO log of this identifier.
    let third = run(&mut h, &base, &[]);
    assert_eq!(
        third.len(),
        2,
        "old AUTO logs were not cleaned up: {third:?}"
    );
    for old in first.iter().chain(&second) {
        assert!(!third.contains(old), "{old} survived the cleanup");
    }
    assert!(!auto.join("old-stdout---supervisor-aaaaaaaa.log").exists());
    assert!(!auto.join("old-stdout---supervisor-aaaaaaaa.log.1").exists());
    assert!(
        auto.join("x-stdout---other-bbbbbbbb.log").exists(),
        "other identifier removed"
    );
    assert!(auto.join("notes.txt").exists(), "unrelated file removed");
}

#[test]
fn dev_stdout_child_log_goes_to_a_piped_daemon_stdout() {
    let mut h = Harness::new("dev_stdout");
    // x writes well past its maxbytes, so a rotation attempt would happen.
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh {fixtures}/spew.sh 3000 stdout to-dev-stdout\n\
         startsecs=0\n\
         stdout_logfile=/dev/stdout\n\
         stdout_logfile_maxbytes=1KB\n\
         \n\
         [program:quiet]\n\
         command=/bin/sh -c 'touch {dir}/quiet.started; exec sleep 100000'\n\
         startsecs=0\n\
         stdout_logfile=/dev/stdout\n\
         stdout_logfile_maxbytes=0\n",
    );
    // -s: only the programs write to the daemon's stdout, so x's lines
    // cannot be cut by a main-log line.
    let daemon = h.start_with_stdout_pipe("-s");
    h.eventually(T, "x's last line on the daemon's stdout", || {
        h.daemon_stdout().contains("stdout 2999 to-dev-stdout\n")
    });
    h.eventually(T, "quiet to start", || h.path("quiet.started").exists());
    let out = h.daemon_stdout();
    // Every line whole and in order.
    let ours: Vec<&str> = out
        .lines()
        .filter(|l| l.ends_with(" to-dev-stdout"))
        .collect();
    let want: Vec<String> = (0..3000)
        .map(|i| format!("stdout {i} to-dev-stdout"))
        .collect();
    assert_eq!(
        ours, want,
        "x's output on the daemon's stdout is not complete and in order"
    );
    let all = format!("{out}{}{}", h.daemon_stderr(), h.main_log());
    assert!(!all.contains("Illegal seek"), "{}", h.diagnostics());
    let log = h.main_log();
    let warns: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("rotated"))
        .collect();
    assert!(
        warns
            .iter()
            .any(|l| l.contains("'x'") && l.contains("/dev/stdout")),
        "no warning that x's /dev/stdout log cannot rotate\n{log}"
    );
    assert!(
        !warns.iter().any(|l| l.contains("'quiet'")),
        "warning for quiet although its maxbytes is 0: {warns:?}"
    );
    assert!(send_signal(daemon, libc::SIGTERM));
    h.eventually(T, "the daemon to exit", || !pid_alive(daemon));
}

#[test]
fn strip_ansi_removes_colour_codes() {
    let mut h = Harness::new("strip_ansi");
    let prog = "[program:x]\n\
                command=/usr/bin/printf '\\033[31mred\\033[0m and \\033[1;32mbold green\\033[0m\\n'\n\
                startsecs=0\n\
                autorestart=false\n\
                stdout_logfile={dir}/x.log\n";
    h.write_conf(&format!(
        "{}{prog}",
        base_conf_with(&[("nodaemon=true", "nodaemon=true\nstrip_ansi=true")])
    ));
    h.start(&[]);
    h.wait_log("exited: x", T);
    assert_eq!(h.read("x.log"), "red and bold green\n");
}

#[test]
fn without_strip_ansi_colour_codes_are_kept() {
    let mut h = Harness::new("keep_ansi");
    h.write_standard_conf(
        "[program:x]\n\
         command=/usr/bin/printf '\\033[31mred\\033[0m\\n'\n\
         startsecs=0\n\
         autorestart=false\n\
         stdout_logfile={dir}/x.log\n",
    );
    h.start(&[]);
    h.wait_log("exited: x", T);
    assert_eq!(h.read("x.log"), "\x1b[31mred\x1b[0m\n");
}

#[test]
fn partial_last_line_and_pending_output_are_drained_at_exit() {
    let mut h = Harness::new("drain_at_exit");
    // 300 kB then a line without a newline, and exit at once: all of it must
    // be in the log by the time the exit is logged.
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'head -c 300000 /dev/zero | tr \"\\\\0\" a; printf \"the end, no newline\"'\n\
         startsecs=0\n\
         autorestart=false\n\
         stdout_logfile={dir}/x.log\n",
    );
    h.start(&[]);
    h.wait_log("exited: x", T);
    let got = fs::read(h.path("x.log")).unwrap();
    let mut want = vec![b'a'; 300_000];
    want.extend_from_slice(b"the end, no newline");
    assert!(got == want, "{}", first_diff(&got, &want));
}

/// Lines of [`lines_program`]: `line NNNNNN xxx…x\n`, 100 bytes each.
const LINE_LEN: usize = 100;

/// A program writing `count` numbered 100-byte lines, each with one
/// write(2) (dash's printf flushes once per command), pausing briefly every
/// few lines so the daemon moves them in many small chunks, then exiting.
/// `inside` is written in the middle of each line (for capture mode: what
/// the log does not get).
fn lines_program(count: usize, inside: &str) -> String {
    let pad = LINE_LEN - "line 000000 \n".len();
    let (head, tail) = ("x".repeat(pad - 30), "y".repeat(30));
    format!(
        "i=0\n\
         while [ $i -lt {count} ]; do\n\
         \x20   printf 'line %06d {head}{inside}{tail}\\n' $i\n\
         \x20   if [ $((i % 4)) -eq 3 ]; then sleep 0.005; fi\n\
         \x20   i=$((i + 1))\n\
         done\n"
    )
}

/// The line numbers in one log file, checking that it starts at a line
/// start, ends with a newline and holds only whole lines of
/// [`lines_program`].
fn whole_line_numbers(path: &Path, data: &[u8]) -> Vec<usize> {
    let name = path.display();
    assert!(
        data.len().is_multiple_of(LINE_LEN) && data.last().is_none_or(|&b| b == b'\n'),
        "{name} ({} bytes) does not hold whole lines; it ends with {:?}",
        data.len(),
        String::from_utf8_lossy(&data[data.len().saturating_sub(30)..])
    );
    data.chunks(LINE_LEN)
        .map(|line| {
            let text = String::from_utf8_lossy(line);
            let number = line
                .strip_prefix(b"line ")
                .filter(|rest| line.ends_with(b"\n") && rest.get(6) == Some(&b' '))
                .and_then(|rest| std::str::from_utf8(&rest[..6]).ok())
                .and_then(|n| n.parse().ok());
            number.unwrap_or_else(|| panic!("{name}: a line was cut: {text:?}"))
        })
        .collect()
}

/// Run [`lines_program`] as `x` under `conf` (a `[supervisord]` section)
/// with `stdout_logfile={dir}/x.log`, `stdout_logfile_maxbytes=1KB`,
/// `backups` and the `program` options, after `prepare`; wait for its exit.
fn run_lines_program(
    name: &str,
    conf: &str,
    count: usize,
    inside: &str,
    backups: u32,
    program: &str,
    prepare: impl FnOnce(&Harness),
) -> Harness {
    let mut h = Harness::new(name);
    h.write_script("lines.sh", &lines_program(count, inside));
    h.write_conf(&format!(
        "{conf}[program:x]\n\
         command={{dir}}/lines.sh\n\
         startsecs=0\n\
         autorestart=false\n\
         stdout_logfile={{dir}}/x.log\n\
         stdout_logfile_maxbytes=1KB\n\
         stdout_logfile_backups={backups}\n\
         {program}"
    ));
    prepare(&h);
    h.start(&[]);
    h.wait_log("exited: x", T);
    h
}

/// Run [`lines_program`] with a 1KB log and 2 backups under `conf` (a
/// `[supervisord]` section, then `program` options and `inside` each line),
/// wait for its exit, and check that the rotated files hold whole lines, in
/// order, with consecutive numbers up to the last line written.
fn check_rotation_never_cuts_a_line(name: &str, conf: &str, program: &str, inside: &str) {
    let count = 400;
    let h = run_lines_program(name, conf, count, inside, 2, program, |_| ());
    let set = rotated_set(&h.path("x.log"));
    let names: Vec<String> = set.iter().map(|(p, _)| p.display().to_string()).collect();
    assert_eq!(set.len(), 3, "expected x.log.2, x.log.1, x.log: {names:?}");
    let mut numbers = Vec::new();
    for (p, d) in &set {
        let ns = whole_line_numbers(p, d);
        if p != &h.path("x.log") {
            assert!(!ns.is_empty(), "{} is empty", p.display());
        }
        numbers.extend(ns);
    }
    let first = numbers[0];
    let want: Vec<usize> = (first..count).collect();
    assert!(
        numbers == want,
        "line numbers across x.log.2, x.log.1, x.log are not consecutive up to \
         the last one: {numbers:?}"
    );
}

/// The splice path (info level, a plain file, nothing else needs the bytes).
#[test]
fn rotation_never_cuts_a_line_when_spliced() {
    check_rotation_never_cuts_a_line(
        "no_cut_splice",
        &base_conf_with(&[("loglevel=debug", "loglevel=info")]),
        "",
        "",
    );
}

/// The read path: at debug level the main log gets a copy of the output.
#[test]
fn rotation_never_cuts_a_line_when_read() {
    check_rotation_never_cuts_a_line("no_cut_read_debug", BASE_CONF, "", "");
}

/// Capture mode splits each read around the captured part (written to the
/// log in several pieces): still no rotation inside one read.
#[test]
fn rotation_never_cuts_a_line_in_capture_mode() {
    check_rotation_never_cuts_a_line(
        "no_cut_capture",
        &base_conf_with(&[("loglevel=debug", "loglevel=info")]),
        "stdout_capture_maxbytes=1KB\n",
        "<!--XSUPERVISOR:BEGIN-->secret<!--XSUPERVISOR:END-->",
    );
}

/// The read path with ANSI stripping (which may shorten a chunk).
#[test]
fn rotation_never_cuts_a_line_when_stripping_ansi() {
    check_rotation_never_cuts_a_line(
        "no_cut_read_strip",
        &base_conf_with(&[
            ("loglevel=debug", "loglevel=info"),
            ("nodaemon=true", "nodaemon=true\nstrip_ansi=true"),
        ]),
        "",
        "",
    );
}

/// Rotation cannot rename `x.log` (a directory sits at `x.log.1`): the
/// failure is reported once and the output stays whole in `x.log`.
fn check_failed_rotation_is_reported_once(name: &str, conf: &str) {
    let count = 400;
    let h = run_lines_program(name, conf, count, "", 1, "", |h| {
        fs::create_dir(h.path("x.log.1")).unwrap()
    });
    let log = h.main_log();
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" ERRO ") && l.contains("stdout log of 'x'"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{log}");
    let x = h.path("x.log");
    let numbers = whole_line_numbers(&x, &fs::read(&x).unwrap());
    assert!(
        numbers == (0..count).collect::<Vec<_>>(),
        "x.log does not hold every line in order: {numbers:?}"
    );
}

#[test]
fn failed_rotation_is_reported_once_when_read() {
    check_failed_rotation_is_reported_once("rot_fail_read", BASE_CONF);
}

#[test]
fn failed_rotation_is_reported_once_when_spliced() {
    check_failed_rotation_is_reported_once(
        "rot_fail_splice",
        &base_conf_with(&[("loglevel=debug", "loglevel=info")]),
    );
}

#[test]
fn deleted_log_directory_is_reported_and_recovers_after_sigusr2() {
    let mut h = Harness::new("deleted_logdir");
    fs::create_dir(h.path("logs")).unwrap();
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'echo $$ > {dir}/x.pid; i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done'\n\
         startsecs=0\n\
         stdout_logfile={dir}/logs/x.log\n\
         stdout_logfile_maxbytes=0\n",
    );
    h.start(&[]);
    let pid = h.wait_pid_file("x.pid", T);
    h.wait_file_contains("logs/x.log", "tick 1\n", T);
    fs::remove_dir_all(h.path("logs")).unwrap();
    h.signal(libc::SIGUSR2);
    h.eventually(T, "an ERRO line about x's stdout log", || {
        h.main_log()
            .lines()
            .any(|l| l.contains(" ERRO ") && l.contains("stdout log of 'x'"))
    });
    assert!(pid_alive(pid), "x died\n{}", h.diagnostics());
    fs::create_dir(h.path("logs")).unwrap();
    h.signal(libc::SIGUSR2);
    h.wait_file_contains("logs/x.log", "tick", T);
    assert!(pid_alive(pid), "x died\n{}", h.diagnostics());
    assert!(
        !h.main_log().contains("exited: x"),
        "x was restarted\n{}",
        h.main_log()
    );
}

// ---------------------------------------------------------------------------
// The main log

#[test]
fn main_log_lines_have_supervisors_format() {
    let mut h = Harness::new("mainlog_format");
    h.write_standard_conf(
        "[program:x]\n\
         command=/bin/sh -c 'exit 3'\n\
         startsecs=0\n\
         autorestart=false\n",
    );
    h.start(&[]);
    h.wait_log("exited: x", T);
    let st = h.stop(T);
    assert_eq!(st.code(), Some(0));
    let log = h.main_log();
    assert!(log.contains(" INFO supervisord started with pid "), "{log}");
    assert!(
        log.contains(" INFO supervisor-rs ") && log.contains("(a drop-in for Supervisor 4.3.0)"),
        "{log}"
    );
    assert!(
        log.contains(" WARN exited: x (exit status 3; not expected)"),
        "{log}"
    );
    // loglevel=debug in BASE_CONF: debug lines are there.
    assert!(
        log.lines().any(|l| l.contains(" DEBG ")),
        "no DEBG line at loglevel=debug\n{log}"
    );
    let bad = bad_main_log_lines(&log);
    assert!(
        bad.is_empty(),
        "lines not in `YYYY-MM-DD HH:MM:SS,mmm LEVL msg` form: {bad:#?}"
    );
}

#[test]
fn main_log_level_filters_lower_levels() {
    let mut h = Harness::new("mainlog_level");
    h.write_conf(&format!(
        "{}[program:x]\ncommand=/bin/sh -c 'exit 3'\nstartsecs=0\nautorestart=false\n",
        base_conf_with(&[("loglevel=debug", "loglevel=info")])
    ));
    h.start(&[]);
    h.wait_log("exited: x", T);
    assert_eq!(h.stop(T).code(), Some(0));
    let log = h.main_log();
    let low: Vec<&str> = log
        .lines()
        .filter(|l| [" DEBG ", " TRAC ", " BLAT "].iter().any(|t| l.contains(t)))
        .collect();
    assert!(
        low.is_empty(),
        "lines below info at loglevel=info: {low:#?}"
    );
    assert!(log.contains(" WARN exited: x"), "{log}");
    // The stdout mirror is filtered the same way.
    let out = h.daemon_stdout();
    assert!(out.contains(" WARN exited: x"), "{out}");
    assert!(!out.contains(" DEBG "), "{out}");
}

#[test]
fn main_log_is_mirrored_to_stdout_unless_silent() {
    let mut h = Harness::new("mainlog_mirror");
    h.write_standard_conf("");
    h.start(&[]);
    h.wait_log("supervisord started with pid", T);
    h.eventually(T, "the start line on the daemon's stdout", || {
        h.daemon_stdout().contains("supervisord started with pid")
    });
    assert_eq!(h.stop(T).code(), Some(0));
    let out = h.daemon_stdout();
    assert!(
        bad_main_log_lines(&out).is_empty(),
        "stdout mirror is not in the main log's format:\n{out}"
    );
    fs::remove_file(h.path("daemon.stdout")).unwrap();

    // -s: the log file still gets everything, stdout nothing.
    fs::remove_file(h.path("supervisord.log")).unwrap();
    h.start(&["-s"]);
    h.wait_log("supervisord started with pid", T);
    assert_eq!(h.stop(T).code(), Some(0));
    assert!(
        h.main_log().contains("supervisord exiting"),
        "{}",
        h.main_log()
    );
    assert!(
        !h.daemon_stdout().contains("supervisord"),
        "-s still mirrors the main log:\n{}",
        h.daemon_stdout()
    );

    // silent=true in the config does the same.
    fs::remove_file(h.path("supervisord.log")).unwrap();
    h.write_conf(&base_conf_with(&[(
        "nodaemon=true",
        "nodaemon=true\nsilent=true",
    )]));
    h.start(&[]);
    h.wait_log("supervisord started with pid", T);
    assert_eq!(h.stop(T).code(), Some(0));
    assert!(
        !h.daemon_stdout().contains("supervisord"),
        "silent=true still mirrors the main log:\n{}",
        h.daemon_stdout()
    );
}

#[test]
fn main_log_rotates_at_logfile_maxbytes() {
    let mut h = Harness::new("mainlog_rotate");
    // A program that exits at once and is restarted at once writes main-log
    // lines as fast as the daemon can spawn it.
    h.write_conf(&format!(
        "{}[program:flap]\ncommand=/bin/true\nstartsecs=0\nautorestart=true\n",
        base_conf_with(&[(
            "loglevel=debug",
            "loglevel=debug\nlogfile_maxbytes=4KB\nlogfile_backups=3"
        )])
    ));
    h.start(&[]);
    let log = h.path("supervisord.log");
    h.eventually(T, "supervisord.log.3 to exist", || backup(&log, 3).exists());
    assert_eq!(h.stop(T).code(), Some(0));
    assert!(
        !backup(&log, 4).exists(),
        "more backups than logfile_backups=3"
    );
    for i in 1..=3 {
        let b = backup(&log, i);
        let text = read_lossy(&b);
        let len = text.len() as u64;
        // Rotated once the write that reached 4 KB was done: never before,
        // and never more than one line after.
        assert!(
            (4096..4096 + 512).contains(&len),
            "{} has {len} bytes",
            b.display()
        );
        assert!(text.ends_with('\n'), "{} ends mid-line", b.display());
        let bad = bad_main_log_lines(&text);
        assert!(
            bad.is_empty(),
            "{}: a line was split: {bad:#?}",
            b.display()
        );
    }
}

#[test]
fn main_log_is_reopened_on_sigusr2() {
    let mut h = Harness::new("mainlog_reopen");
    h.write_standard_conf("");
    h.start(&[]);
    h.wait_log("supervisord started with pid", T);
    // What logrotate does: move the file away, then tell the daemon.
    fs::rename(h.path("supervisord.log"), h.path("supervisord.log.old")).unwrap();
    h.signal(libc::SIGUSR2);
    h.eventually(T, "the reopen request logged in the moved file", || {
        h.read("supervisord.log.old")
            .contains("received SIGUSR2 indicating log reopen request")
    });
    h.signal(libc::SIGTERM);
    h.wait_log("supervisord exiting", T);
    h.wait_exit(T);
    assert!(
        !h.read("supervisord.log.old")
            .contains("supervisord exiting"),
        "still writing to the moved file after SIGUSR2"
    );
}

#[test]
fn main_log_to_a_piped_dev_stdout_warns_that_it_cannot_rotate() {
    let mut h = Harness::new("mainlog_dev_stdout");
    // -s: the lines come from the log file target, not from the mirror.
    h.write_conf(&base_conf_with(&[(
        "logfile={dir}/supervisord.log",
        "logfile=/dev/stdout\nlogfile_maxbytes=1KB",
    )]));
    let daemon = h.start_with_stdout_pipe("-s");
    h.eventually(T, "the start line on the daemon's stdout", || {
        h.daemon_stdout().contains("supervisord started with pid")
    });
    // Reopening a non-seekable target must not fail either.
    assert!(send_signal(daemon, libc::SIGUSR2));
    h.eventually(T, "the reopen line on the daemon's stdout", || {
        h.daemon_stdout().contains("indicating log reopen request")
    });
    assert!(send_signal(daemon, libc::SIGTERM));
    h.eventually(T, "the daemon to exit", || !pid_alive(daemon));
    h.eventually(T, "the exit line on the daemon's stdout", || {
        h.daemon_stdout().contains("supervisord exiting")
    });
    let out = h.daemon_stdout();
    let all = format!("{out}{}", h.daemon_stderr());
    assert!(!all.contains("Illegal seek"), "{all}");
    assert!(
        out.lines()
            .any(|l| l.contains(" WARN ") && l.contains("/dev/stdout") && l.contains("rotated")),
        "no warning that the main log cannot rotate:\n{out}"
    );
    assert!(bad_main_log_lines(&out).is_empty(), "{out}");
}

#[test]
fn main_log_to_dev_stdout_without_maxbytes_does_not_warn() {
    let mut h = Harness::new("mainlog_dev_stdout0");
    h.write_conf(&base_conf_with(&[(
        "logfile={dir}/supervisord.log",
        "logfile=/dev/stdout\nlogfile_maxbytes=0",
    )]));
    let daemon = h.start_with_stdout_pipe("-s");
    h.eventually(T, "the start line on the daemon's stdout", || {
        h.daemon_stdout().contains("supervisord started with pid")
    });
    assert!(send_signal(daemon, libc::SIGTERM));
    h.eventually(T, "the exit line on the daemon's stdout", || {
        h.daemon_stdout().contains("supervisord exiting")
    });
    let out = h.daemon_stdout();
    assert!(!out.contains("rotated"), "{out}");
}
