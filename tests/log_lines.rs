//! `log_prefix` and `log_format` (SPEC Part B), end to end: chatty
//! programs sharing the daemon's stdout (a pipe, as under `docker logs`)
//! never cut or interleave each other's lines, every line parses, long lines
//! are split into marked pieces, a partial last line is flushed at exit;
//! non-seekable child log targets (a FIFO, a pipe) are written without
//! "Illegal seek" and warned about once; bad values fail `--check`.

use crate::util::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Deadline for the daemon to get going, or for a short step.
const T: Duration = Duration::from_secs(20);
/// Deadline for all the chatty output to go through (debug builds).
const T_LONG: Duration = Duration::from_secs(120);
/// Programs writing concurrently, and lines each writes.
const CHATTY: usize = 4;
const LINES: usize = 500;
/// The long line: 200 KiB, so four pieces of at most 64 KiB.
const BIG: usize = 200 * 1024;
const PIECE_MAX: usize = 64 * 1024;
/// The text mark ending every piece of a split line but the last.
const SPLIT_MARK: &str = " [continued]";

/// Line `i` of chatty program `k`: 10 to 30 KB, its name and number first.
fn chatty_line(k: usize, i: usize) -> String {
    let len = 10_000 + (i * 7919 + k * 104_729) % 20_000;
    let head = format!("chat{k}-{i}-");
    let fill = char::from(b'a' + ((i + k) % 26) as u8);
    let mut s = head.clone();
    s.extend(std::iter::repeat_n(fill, len - head.len()));
    s
}

/// The same lines from Python, each written in two `write`s cut at a third
/// of the line, so the daemon's reads often end in the middle of a line.
const WRITER: &str = r#"#!/usr/bin/env python3
import os, sys
k, count = int(sys.argv[1]), int(sys.argv[2])
for i in range(count):
    n = 10000 + (i * 7919 + k * 104729) % 20000
    head = "chat%d-%d-" % (k, i)
    line = (head + chr(ord("a") + (i + k) % 26) * (n - len(head)) + "\n").encode()
    cut = len(line) // 3
    os.write(1, line[:cut])
    os.write(1, line[cut:])
"#;

/// The config: `CHATTY` writers, one 200 KiB line on stderr, and "abc"
/// without a newline; all to the daemon's stdout.  `sd` and `prog` are
/// extra lines for `[supervisord]` and every program.
fn chatty_conf(h: &Harness, sd: &str, prog: &str) -> String {
    let writer = h.write_script("writer.py", WRITER);
    let mut conf = BASE_CONF.replacen("loglevel=debug", &format!("loglevel=info\n{sd}"), 1);
    let common = format!(
        "startsecs=0\nautorestart=false\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n\
         stderr_logfile=/dev/stdout\nstderr_logfile_maxbytes=0\n{prog}\n"
    );
    for k in 0..CHATTY {
        conf.push_str(&format!(
            "[program:chat{k}]\ncommand={} {k} {LINES}\n{common}\n",
            writer.display()
        ));
    }
    conf.push_str(&format!(
        "[program:big]\ncommand=/bin/sh -c 'head -c {BIG} /dev/zero | tr \"\\\\000\" B >&2; echo >&2'\n{common}\n\
         [program:abc]\ncommand=/bin/sh -c 'printf abc'\n{common}\n"
    ));
    conf
}

/// Run the config until every program has exited, stop the daemon, and
/// return everything it wrote to its stdout pipe.
fn run_chatty(name: &str, sd: &str, prog: &str) -> String {
    let mut h = Harness::new(name);
    let conf = chatty_conf(&h, sd, prog);
    h.write_conf(&conf);
    let daemon = h.start_with_stdout_pipe("");
    h.wait_for_socket(T);
    let names: Vec<String> = (0..CHATTY)
        .map(|k| format!("chat{k}"))
        .chain(["big".to_string(), "abc".to_string()])
        .collect();
    h.eventually(T_LONG, "every program to exit", || {
        let info = h.rpc_raw("supervisor.getAllProcessInfo", &[]);
        info.is_ok_and(|(_, body)| body.matches("<string>EXITED</string>").count() == names.len())
    });
    // The daemon itself (the harness runs `sh -c 'supervisord | cat'`):
    // once it is gone, `cat` reads the pipe to its end and the shell exits.
    assert!(send_signal(daemon, libc::SIGTERM));
    h.wait_exit(T);
    h.daemon_stdout()
}

/// Whether `msgs` (the messages of one program, in order) are exactly its
/// lines, each whole.
fn check_chatty(k: usize, msgs: &[&str], lines: usize) {
    assert_eq!(msgs.len(), lines, "chat{k}: line count");
    for (i, m) in msgs.iter().enumerate() {
        if *m != chatty_line(k, i) {
            let start: String = m.chars().take(40).collect();
            panic!(
                "chat{k}: line {i} is cut or mixed: {} bytes, starts {start:?}",
                m.len()
            );
        }
    }
}

/// The pieces of the 200 KiB line: each at most 64 KiB, all but the last
/// marked, together the whole line.
fn check_big(pieces: &[(String, bool)]) {
    assert_eq!(
        pieces.len(),
        4,
        "pieces: {:?}",
        pieces.iter().map(|p| (p.0.len(), p.1)).collect::<Vec<_>>()
    );
    for (i, (text, split)) in pieces.iter().enumerate() {
        assert!(text.len() <= PIECE_MAX, "piece {i}: {} bytes", text.len());
        assert_eq!(*split, i + 1 < pieces.len(), "piece {i} mark");
    }
    let whole: String = pieces.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(whole, "B".repeat(BIG));
}

#[test]
fn json_lines_of_chatty_programs_are_whole_and_all_parse() {
    let out = run_chatty("lines_json", "log_format=json", "");
    assert!(out.ends_with('\n'), "the last line is not terminated");
    let mut chat: Vec<Vec<String>> = vec![Vec::new(); CHATTY];
    let mut big = Vec::new();
    let mut abc = Vec::new();
    let mut daemon_lines = 0;
    for (n, line) in out.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
            let start: String = line.chars().take(80).collect();
            panic!("line {n} is not one JSON object ({e}): {start:?}")
        });
        let time = v["time"].as_str().unwrap_or_default();
        assert!(
            time.len() == 24 && time.as_bytes()[10] == b'T' && time.ends_with('Z'),
            "{time}"
        );
        let msg = v["message"].as_str().expect("message").to_string();
        match v["program"].as_str() {
            None => {
                assert!(
                    v["level"].is_string() && v.get("stream").is_none(),
                    "{line}"
                );
                daemon_lines += 1;
            }
            Some("big") => {
                assert_eq!(v["stream"], "stderr");
                big.push((msg, v["partial"] == true));
            }
            Some("abc") => abc.push(msg),
            Some(p) => {
                assert_eq!(v["stream"], "stdout", "{p}");
                assert!(v.get("level").is_none());
                let k: usize = p.trim_start_matches("chat").parse().expect("chatK");
                chat[k].push(msg);
            }
        }
    }
    assert!(
        daemon_lines >= 2,
        "the daemon's own lines are JSON on stdout too"
    );
    for (k, msgs) in chat.iter().enumerate() {
        check_chatty(
            k,
            &msgs.iter().map(String::as_str).collect::<Vec<_>>(),
            LINES,
        );
    }
    check_big(&big);
    assert_eq!(abc, ["abc"], "the partial last line is flushed at exit");
}

#[test]
fn prefixed_lines_of_chatty_programs_are_whole() {
    let out = run_chatty(
        "lines_prefix",
        "",
        "log_prefix=\"%(program_name)s %(channel)s | \"",
    );
    assert!(out.ends_with('\n'), "the last line is not terminated");
    let mut chat: Vec<Vec<&str>> = vec![Vec::new(); CHATTY];
    let mut big = Vec::new();
    let mut abc = Vec::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("big stderr | ") {
            let (text, split) = match rest.strip_suffix(SPLIT_MARK) {
                Some(t) => (t, true),
                None => (rest, false),
            };
            big.push((text.to_string(), split));
        } else if let Some(rest) = line.strip_prefix("abc stdout | ") {
            abc.push(rest);
        } else if let Some((p, rest)) = line.split_once(" stdout | ") {
            let k: usize = p.trim_start_matches("chat").parse().unwrap_or_else(|_| {
                panic!(
                    "not a program line: {:?}",
                    line.chars().take(60).collect::<String>()
                )
            });
            chat[k].push(rest);
        } else {
            // Only the daemon's own lines (mirrored main log) remain.
            let b = line.as_bytes();
            assert!(
                b.len() > 24 && b[4] == b'-' && b[19] == b',',
                "a line that is neither a program's nor the daemon's: {:?}",
                line.chars().take(60).collect::<String>()
            );
        }
    }
    for (k, msgs) in chat.iter().enumerate() {
        check_chatty(k, msgs, LINES);
    }
    check_big(&big);
    assert_eq!(abc, ["abc"], "the partial last line is flushed at exit");
}

/// A reader process started by a test, killed by its pid when dropped.
struct Reader(Child);

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn fifo_and_pipe_logfiles_are_written_never_seeked_and_warned_about_once() {
    let mut h = Harness::new("lines_fifo_pipe");
    let fifo = h.path("out.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    // Readers first: the FIFO's and the pipe's (its write end is reached
    // through /proc/<reader>/fd/0, as a path in the config).
    let fifo_reader = Reader(
        Command::new("/bin/sh")
            .arg("-c")
            .arg("exec cat \"$0\" > \"$1\"")
            .arg(&fifo)
            .arg(h.path("fifo.out"))
            .spawn()
            .expect("fifo reader"),
    );
    let pipe_out = std::fs::File::create(h.path("pipe.out")).expect("pipe.out");
    let pipe_reader = Reader(
        Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(pipe_out)
            .spawn()
            .expect("pipe reader"),
    );
    let pipe_path = format!("/proc/{}/fd/0", pipe_reader.0.id());
    // Each program restarts: the warning must still come once per program.
    let prog = |name: &str, target: &str| {
        format!(
            "[program:{name}]\ncommand=/bin/sh -c 'echo {name}-line-$$; sleep 0.1'\nstartsecs=0\n\
             autorestart=true\nstdout_logfile={target}\nstdout_logfile_maxbytes=1KB\n\
             log_prefix=\"[%(program_name)s] \"\n\n"
        )
    };
    h.write_standard_conf(&format!(
        "{}{}",
        prog("tofifo", &fifo.display().to_string()),
        prog("topipe", &pipe_path)
    ));
    h.start(&[]);
    h.wait_for_socket(T);
    h.eventually(T, "both programs restarted a few times", || {
        let log = h.main_log();
        log.matches("spawned: 'tofifo'").count() >= 3
            && log.matches("spawned: 'topipe'").count() >= 3
    });
    h.eventually(T, "lines through the FIFO and the pipe", || {
        let (f, p) = (h.read("fifo.out"), h.read("pipe.out"));
        f.matches("[tofifo] tofifo-line-").count() >= 3
            && p.matches("[topipe] topipe-line-").count() >= 3
    });
    assert!(h.stop(T).success(), "{}", h.diagnostics());
    let log = h.main_log();
    let all = format!("{log}{}{}", h.daemon_stdout(), h.daemon_stderr());
    assert!(!all.contains("Illegal seek"), "{}", h.diagnostics());
    assert!(!all.contains("could not write"), "{}", h.diagnostics());
    for name in ["tofifo", "topipe"] {
        let warns = log
            .lines()
            .filter(|l| {
                l.contains(" WARN ")
                    && l.contains(&format!("'{name}'"))
                    && l.contains("will not be rotated")
            })
            .count();
        assert_eq!(warns, 1, "{name}: one warning that it cannot rotate\n{log}");
    }
    for (file, name) in [("fifo.out", "tofifo"), ("pipe.out", "topipe")] {
        let text = h.read(file);
        for l in text.lines() {
            assert!(
                l.starts_with(&format!("[{name}] {name}-line-")),
                "{file}: {l:?}"
            );
        }
    }
    drop(fifo_reader);
    drop(pipe_reader);
}

#[test]
fn bad_log_format_and_log_prefix_fail_check_with_their_place() {
    let h = Harness::new("lines_check");
    h.write_conf(&format!(
        "{}\n[program:x]\ncommand=/bin/true\nlog_format=yaml\nlog_prefix=%(no_such_name)s\n",
        BASE_CONF.replacen("nodaemon=true", "nodaemon=true\nlog_format=xml", 1)
    ));
    let out = h.run(&["-c", h.conf_path().to_str().unwrap_or_default(), "--check"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for want in [
        "[supervisord] log_format: 'xml' is not one of text, json",
        "[program:x] log_format: 'yaml' is not one of text, json",
        "[program:x] log_prefix: Format string '%(no_such_name)s'",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(text.matches("supervisord.conf:").count() >= 3, "{text}");
    // And a good config with both keys passes, without "not implemented".
    h.write_conf(&format!(
        "{BASE_CONF}\n[program:x]\ncommand=/bin/true\nlog_format=json\nlog_prefix=\"%(program_name)s \"\n"
    ));
    let out = h.run(&["-c", h.conf_path().to_str().unwrap_or_default(), "--check"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("not implemented"), "{text}");
}

#[test]
fn tail_shows_the_log_file_as_written_json_lines_included() {
    let mut h = Harness::new("lines_tail");
    h.write_standard_conf(
        "[program:x]\ncommand=/bin/sh -c 'echo one; echo \"two \\\"quoted\\\"\"; printf three; exec sleep 100000'\n\
         startsecs=0\nstdout_logfile={dir}/x.log\nlog_format=json\n",
    );
    h.start(&[]);
    h.wait_for_socket(T);
    h.wait_file_contains("x.log", "two", T);
    let out = h.ctl(&["tail", "x"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let msgs: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} in {text}"));
            v["message"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    // "three" has no newline yet: it waits for one or for the exit.
    assert_eq!(msgs, ["one", "two \"quoted\""], "{text}");
    assert_eq!(
        text.trim_end(),
        h.read("x.log").trim_end(),
        "tail shows the file's content"
    );
    assert!(h.stop(T).success());
    let v: Vec<serde_json::Value> = h
        .read("x.log")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    assert_eq!(v.last().map(|o| o["message"].clone()), Some("three".into()));
}

/// Sets O_NONBLOCK on its stdout (shared with whatever reads it, as a
/// parent that left its pipe non-blocking would), then runs the command.
const NONBLOCK_EXEC: &str = r#"#!/usr/bin/env python3
import fcntl, os, sys
fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK)
os.execv(sys.argv[1], sys.argv[1:])
"#;

/// Reads its stdin slowly (256 KiB, then a 20 ms pause), so the pipe is
/// often full, and copies it to its stdout.
const SLOW_READER: &str = r#"#!/usr/bin/env python3
import os, sys, time
while True:
    b = os.read(0, 262144)
    if not b:
        break
    sys.stdout.buffer.write(b)
    sys.stdout.flush()
    time.sleep(0.02)
"#;

#[test]
fn a_full_non_blocking_stdout_pipe_never_gets_a_cut_line() {
    const N: usize = 60;
    let mut h = Harness::new("lines_nonblock");
    let nonblock = h.write_script("nonblock.py", NONBLOCK_EXEC);
    let reader = h.write_script("slow_reader.py", SLOW_READER);
    let writer = h.write_script("writer.py", WRITER);
    // loglevel=debug: the daemon's own lines carry every chunk of output
    // too, so they are long and often meet the full pipe.
    let mut conf = BASE_CONF.replacen("nodaemon=true", "nodaemon=true\nlog_format=json", 1);
    for k in 0..2 {
        conf.push_str(&format!(
            "[program:chat{k}]\ncommand={} {k} {N}\nstartsecs=0\nautorestart=false\n\
             stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n\n",
            writer.display()
        ));
    }
    h.write_conf(&conf);
    let mut c = h.command("/bin/sh");
    c.arg("-c")
        .arg("\"$0\" \"$1\" -n -c \"$2\" | \"$3\"")
        .arg(&nonblock)
        .arg(supervisord_bin())
        .arg(h.conf_path())
        .arg(&reader);
    h.start_command(c);
    let daemon = h.wait_pid_file("supervisord.pid", T);
    h.wait_for_socket(T);
    h.eventually(T_LONG, "both programs to exit", || {
        let info = h.rpc_raw("supervisor.getAllProcessInfo", &[]);
        info.is_ok_and(|(_, body)| body.matches("<string>EXITED</string>").count() == 2)
    });
    assert!(send_signal(daemon, libc::SIGTERM));
    h.wait_exit(T_LONG);
    let out = h.daemon_stdout();
    let mut chat: Vec<Vec<String>> = vec![Vec::new(); 2];
    let mut debug_lines = 0;
    for (n, line) in out.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
            let start: String = line.chars().take(80).collect();
            panic!("line {n} was cut ({e}): {start:?}\n{}", h.daemon_stderr())
        });
        match v["program"].as_str() {
            Some(p) => {
                let k: usize = p.trim_start_matches("chat").parse().expect("chatK");
                chat[k].push(v["message"].as_str().unwrap_or_default().to_string());
            }
            None => debug_lines += usize::from(v["level"] == "debug"),
        }
    }
    assert!(debug_lines > 0, "no debug line of the daemon's own");
    for (k, msgs) in chat.iter().enumerate() {
        check_chatty(k, &msgs.iter().map(String::as_str).collect::<Vec<_>>(), N);
    }
}
