//! Broken and hostile configs: the daemon refuses them before starting
//! anything, exit 2, every problem on stderr with file:line, section and
//! option, quickly and without a panic. `--check` agrees, and a config the
//! reference Supervisor accepts passes.

use crate::util::*;
use std::time::Duration;

/// The daemon must have given up within this (a hang guard, not a speed
/// target).
const REFUSE_WITHIN: Duration = Duration::from_secs(2);

/// A program that leaves a marker file as soon as it runs: if the daemon
/// started anything, this is it.
const MARKER: &str = "\
[program:marker]
command=/bin/sh -c 'touch {dir}/marker; exec sleep 100000'
startsecs=0
priority=1

";

/// 1-based number of the first line of the written config containing `needle`.
fn line_of(h: &Harness, needle: &str) -> usize {
    h.read("supervisord.conf")
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not in the config"))
        + 1
}

/// One expected diagnostic: the config line holding `at`, and words that
/// must appear on the same stderr line (section, option, ...).
struct Expect<'a> {
    at: &'a str,
    words: &'a [&'a str],
}

/// Start the daemon on BASE_CONF + MARKER + `sections` and check that it
/// refuses: exit 2 in time, each expected problem on its own stderr line,
/// nothing spawned, no panic.
fn assert_refused(name: &str, sections: &[u8], expect: &[Expect]) -> Harness {
    let mut h = Harness::new(name);
    let mut conf = h.subst(&format!("{BASE_CONF}{MARKER}")).into_bytes();
    conf.extend_from_slice(sections);
    std::fs::write(h.conf_path(), &conf).unwrap();
    h.start(&[]);
    let st = h.wait_exit(REFUSE_WITHIN);
    let err = h.daemon_stderr();
    assert_eq!(
        st.code(),
        Some(2),
        "{}\n{}",
        describe_status(&st),
        h.diagnostics()
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!h.main_log().contains("spawned:"), "{}", h.diagnostics());
    assert!(
        !h.path("marker").exists(),
        "a program ran\n{}",
        h.diagnostics()
    );
    assert!(pids_with_tag(h.tag()).is_empty(), "processes left behind");
    let conf_name = h.conf_path().display().to_string();
    for e in expect {
        let loc = format!("{conf_name}:{}:", line_of(&h, e.at));
        let hit = err.lines().any(|l| {
            l.starts_with("Error: ") && l.contains(&loc) && e.words.iter().all(|w| l.contains(w))
        });
        assert!(hit, "no stderr line with {loc} and {:?}:\n{err}", e.words);
    }
    h
}

fn refused(name: &str, sections: &str, at: &str, words: &[&str]) -> Harness {
    assert_refused(name, sections.as_bytes(), &[Expect { at, words }])
}

#[test]
fn missing_command() {
    refused(
        "missing_command",
        "[program:x]\nstartsecs=0\n",
        "[program:x]",
        &["[program:x]", "command"],
    );
}

#[test]
fn bad_integer() {
    refused(
        "bad_integer",
        "[program:x]\ncommand=/bin/true\nstartsecs=abc\n",
        "startsecs=abc",
        &["[program:x]", "startsecs", "abc"],
    );
}

#[test]
fn unknown_signal() {
    refused(
        "unknown_signal",
        "[program:x]\ncommand=/bin/true\nstopsignal=FOO\n",
        "stopsignal=FOO",
        &["[program:x]", "stopsignal", "FOO"],
    );
}

#[test]
fn numprocs_without_process_num() {
    refused(
        "numprocs_no_num",
        "[program:x]\ncommand=/bin/true\nnumprocs=2\n",
        "[program:x]",
        &["[program:x]", "process_name", "%(process_num)"],
    );
}

#[test]
fn group_naming_an_unknown_program() {
    refused(
        "group_unknown",
        "[program:x]\ncommand=/bin/true\n\n[group:g]\nprograms=x,ghost\n",
        "programs=x,ghost",
        &["[group:g]", "programs", "ghost"],
    );
}

#[test]
fn names_with_colon_or_slash() {
    refused(
        "name_colon",
        "[program:a:b]\ncommand=/bin/true\n",
        "[program:a:b]",
        &["[program:a:b]", "Invalid name", "':'"],
    );
    refused(
        "name_slash",
        "[program:a/b]\ncommand=/bin/true\n",
        "[program:a/b]",
        &["[program:a/b]", "Invalid name", "'/'"],
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let h = assert_refused(
        "three_errors",
        b"[program:x]\ncommand=/bin/true\nstartsecs=abc\nstopsignal=FOO\n\n\
          [program:y]\nstartsecs=0\n",
        &[
            Expect {
                at: "startsecs=abc",
                words: &["[program:x]", "startsecs"],
            },
            Expect {
                at: "stopsignal=FOO",
                words: &["[program:x]", "stopsignal"],
            },
            Expect {
                at: "[program:y]",
                words: &["[program:y]", "command"],
            },
        ],
    );
    let err = h.daemon_stderr();
    let errors = err.lines().filter(|l| l.starts_with("Error:")).count();
    assert_eq!(errors, 3, "{err}");
}

// ---------------------------------------------------------------------------
// Hostile input (SPEC Part C: each rejected quickly, with a location)

#[test]
fn hostile_nul_byte() {
    assert_refused(
        "nul_byte",
        b"[program:x]\ncommand=/bin/true\nstartsecs=1\0\n",
        &[Expect {
            at: "startsecs=1",
            // Rejected while decoding the file, before sections exist.
            words: &["NUL byte"],
        }],
    );
}

#[test]
fn hostile_empty_program_name() {
    refused(
        "empty_name",
        "[program:]\ncommand=/bin/true\n",
        "[program:]",
        &["[program:]", "name"],
    );
}

#[test]
fn hostile_numprocs_zero() {
    refused(
        "numprocs_zero",
        "[program:x]\ncommand=/bin/true\nnumprocs=0\n",
        "numprocs=0",
        &["[program:x]", "numprocs"],
    );
}

#[test]
fn hostile_stopsignal_zero() {
    refused(
        "stopsignal_zero",
        "[program:x]\ncommand=/bin/true\nstopsignal=0\n",
        "stopsignal=0",
        &["[program:x]", "stopsignal"],
    );
}

#[test]
fn hostile_unbalanced_quote() {
    refused(
        "unbalanced_quote",
        "[program:x]\ncommand=/bin/sh -c 'echo hi\n",
        "echo hi",
        &["[program:x]", "command"],
    );
}

#[test]
fn hostile_ten_megabyte_value() {
    let big = "a".repeat(10 << 20);
    let h = refused(
        "ten_mb",
        &format!("[program:x]\ncommand=/bin/echo {big}\n"),
        "command=/bin/echo",
        // Rejected by the scanner, which knows the option but not yet the
        // section.
        &["'command'", "longer than"],
    );
    // The message names the problem, it does not echo 10 MB back.
    assert!(
        h.daemon_stderr().len() < 64 * 1024,
        "stderr is {} bytes",
        h.daemon_stderr().len()
    );
}

#[test]
fn hostile_numprocs_hundred_thousand() {
    refused(
        "numprocs_100k",
        "[program:x]\ncommand=/bin/true\nnumprocs=100000\nprocess_name=%(program_name)s_%(process_num)d\n",
        "numprocs=100000",
        &["[program:x]", "numprocs"],
    );
}

#[test]
fn include_matching_a_fifo_is_skipped_with_a_warning() {
    let mut h = Harness::new("include_fifo");
    std::fs::create_dir(h.path("conf.d")).unwrap();
    h.write_file(
        "conf.d/a.conf",
        "[program:included]\ncommand=/bin/sh -c 'touch {dir}/included; exec sleep 100000'\nstartsecs=0\n",
    );
    let fifo = h.path("conf.d/b.conf");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    h.write_standard_conf(&format!("{MARKER}[include]\nfiles={{dir}}/conf.d/*.conf\n"));
    h.start(&[]);
    h.eventually(
        REFUSE_WITHIN + Duration::from_secs(8),
        "both programs to run",
        || h.path("marker").exists() && h.path("included").exists(),
    );
    let warned = format!("{}{}", h.main_log(), h.daemon_stderr());
    assert!(
        warned
            .lines()
            .any(|l| l.contains("WARN") && l.contains("b.conf")),
        "no warning about the FIFO\n{}",
        h.diagnostics()
    );
    let st = h.stop(Duration::from_secs(10));
    assert_eq!(st.code(), Some(0), "{}", h.diagnostics());
    // --check agrees: a warning, not an error.
    let o = h.run(&["--check", "-c", h.conf_path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("b.conf"),
        "{}",
        output_text(&o)
    );
}

// ---------------------------------------------------------------------------
// --check

#[test]
fn check_exits_2_on_errors_and_0_on_warnings_only() {
    let h = Harness::new("check_codes");
    let bad = h.write_standard_conf("[program:x]\ncommand=/bin/true\nstartsecs=abc\n");
    let o = h.run(&["--check", "-c", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("startsecs"),
        "{}",
        output_text(&o)
    );

    // A command that does not exist on this machine is only a warning:
    // example configs name paths inside images.
    let warn = h.write_standard_conf("[program:x]\ncommand=/nonexistent/daemon --flag\n");
    let o = h.run(&["--check", "-c", warn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with("Warning:") && l.contains("/nonexistent/daemon")),
        "{}",
        output_text(&o)
    );
    assert!(!err.contains("Error:"), "{}", output_text(&o));
    assert!(
        !h.path("supervisord.log").exists(),
        "--check started the daemon"
    );
}

/// The reference's own sample, with its program and include examples turned
/// on and every path moved into the temp dir.
fn reference_sample(h: &Harness, venv: &std::path::Path) -> String {
    let o = run_with_timeout(
        &mut h.command(venv.join("bin/echo_supervisord_conf")),
        CMD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", output_text(&o));
    let sample = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut out = String::new();
    let mut in_block = false;
    for line in sample.lines() {
        if line.starts_with(";[program:theprogramname]") || line.starts_with(";[include]") {
            in_block = true;
        } else if line.trim().is_empty() {
            in_block = false;
        }
        let line = match line.strip_prefix(';') {
            // The sample's user does not exist here.
            Some(rest) if in_block && !rest.starts_with("user=") => rest,
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out.replace("/a/path", "{dir}/theprogram.log")
        .replace("relative/directory/*.ini", "{dir}/conf.d/*.ini")
        .replace("/tmp", "{dir}")
}

#[test]
fn a_config_the_reference_accepts_passes_check_and_starts() {
    let Some(venv) = reference_venv() else {
        skip_unless(false, "SUPERVISOR_REF_VENV is not set");
        return;
    };
    let mut h = Harness::new("reference_sample");
    let text = reference_sample(&h, &venv);
    assert!(text.contains("\n[program:theprogramname]\n"), "{text}");
    let conf = h.write_conf(&text);

    // The reference accepts it: it starts and logs so.
    let mut c = h.command(venv.join("bin/supervisord"));
    c.args(["-n", "-c", conf.to_str().unwrap()]);
    h.start_command(c);
    h.wait_log("supervisord started with pid", Duration::from_secs(20));
    let st = h.stop(Duration::from_secs(20));
    assert_eq!(st.code(), Some(0), "reference\n{}", h.diagnostics());

    let o = h.run(&["--check", "-c", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));

    // And so do we.
    std::fs::remove_file(h.path("supervisord.log")).unwrap();
    h.start(&[]);
    h.wait_log("spawned: 'theprogramname'", Duration::from_secs(10));
    let st = h.stop(Duration::from_secs(20));
    assert_eq!(st.code(), Some(0), "{}", h.diagnostics());
}
