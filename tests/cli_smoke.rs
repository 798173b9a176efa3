//! Smoke tests of the command line: version, help, `--check`, the
//! `echo_supervisord_conf` personality, the configs shipped in the repo, and
//! one start/stop round trip of the daemon.

use crate::util::*;
use std::time::Duration;

const GOOD_PROGRAMS: &str = "\
[program:sleeper]
command=/bin/sh -c 'echo $$ > {dir}/sleeper.pid; exec sleep 100000'
startsecs=0
";

fn assert_exit(o: &std::process::Output, code: i32, what: &str) {
    assert_eq!(o.status.code(), Some(code), "{what}\n{}", output_text(o));
}

#[test]
fn version_is_the_reference_version() {
    let h = Harness::new("version");
    for flag in ["-v", "--version"] {
        let o = h.run(&[flag]);
        assert_exit(&o, 0, flag);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "4.3.0",
            "{flag}\n{}",
            output_text(&o)
        );
    }
}

#[test]
fn version_matches_python_reference() {
    let Some(venv) = reference_venv() else {
        skip_unless(
            false,
            "SUPERVISOR_REF_VENV is not set (scripts/test.sh sets it)",
        );
        return;
    };
    let h = Harness::new("version_ref");
    let ours = h.run(&["-v"]);
    let theirs = run_with_timeout(
        h.command(venv.join("bin/supervisord")).arg("-v"),
        CMD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_exit(&theirs, 0, "reference -v");
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout),
        "ours:\n{}\nreference:\n{}",
        output_text(&ours),
        output_text(&theirs)
    );
}

#[test]
fn help_exits_zero() {
    let h = Harness::new("help");
    for flag in ["-h", "--help"] {
        let o = h.run(&[flag]);
        assert_exit(&o, 0, flag);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("-c") && text.contains("configuration"),
            "{flag}\n{}",
            output_text(&o)
        );
        assert!(text.contains("(supervisor-rs "), "{text}");
    }
    // --version stays Supervisor's, which scripts compare.
    let o = h.run(&["--version"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "4.3.0\n");
}

#[test]
fn check_accepts_a_good_config() {
    let h = Harness::new("check_good");
    let conf = h.write_standard_conf(GOOD_PROGRAMS);
    let o = h.run(&["--check", "-c", conf.to_str().unwrap()]);
    assert_exit(&o, 0, "--check on a good config");
}

#[test]
fn check_rejects_a_bad_config_with_file_and_line() {
    let h = Harness::new("check_bad");
    // The bad value is on line 6.
    let conf = h.write_conf(
        "[supervisord]\n\
         logfile={dir}/supervisord.log\n\
         \n\
         [program:bad]\n\
         command=/bin/true\n\
         startsecs=notanumber\n",
    );
    let o = h.run(&["--check", "-c", conf.to_str().unwrap()]);
    assert_exit(&o, 2, "--check on a bad config");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        all.contains("supervisord.conf:6"),
        "expected `supervisord.conf:6` in\n{}",
        output_text(&o)
    );
    assert!(
        all.contains("startsecs"),
        "expected the option name in\n{}",
        output_text(&o)
    );
}

#[test]
fn echo_supervisord_conf_output_passes_check() {
    let h = Harness::new("echo_conf");
    let o = h.run_as("echo_supervisord_conf", &[]);
    assert_exit(&o, 0, "echo_supervisord_conf");
    let sample = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(sample.contains("[supervisord]"), "{}", output_text(&o));
    let conf = h.path("sample.conf");
    std::fs::write(&conf, &sample).unwrap();
    let o = h.run(&["--check", "-c", conf.to_str().unwrap()]);
    assert_exit(&o, 0, "--check on echo_supervisord_conf's output");
}

/// The `supervisord.conf: |` block of a Kubernetes ConfigMap manifest.
fn configmap_conf(yaml: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in yaml.lines() {
        if line.trim_end().ends_with("supervisord.conf: |") {
            inside = true;
        } else if inside && (line.starts_with("    ") || line.trim().is_empty()) {
            out.push_str(line.strip_prefix("    ").unwrap_or(""));
            out.push('\n');
        } else if inside {
            break;
        }
    }
    out
}

#[test]
fn shipped_example_configs_pass_check() {
    let h = Harness::new("shipped_confs");
    let mut confs = vec![
        repo_root().join("examples/supervisord.conf"),
        repo_root().join("docker/supervisord.conf"),
    ];
    for yaml in ["k8s-examples/pod.yaml", "k8s-examples/sidecar.yaml"] {
        let text = std::fs::read_to_string(repo_root().join(yaml)).unwrap();
        let conf = configmap_conf(&text);
        assert!(conf.contains("[supervisord]"), "no config found in {yaml}");
        confs.push(h.write_file(format!("{}.conf", yaml.replace('/', "_")), &conf));
    }
    for conf in confs {
        let o = h.run(&["--check", "-c", conf.to_str().unwrap()]);
        assert_exit(&o, 0, &format!("--check -c {}", conf.display()));
    }
}

#[test]
fn daemon_runs_a_program_and_shuts_down_cleanly() {
    let mut h = Harness::new("run_and_stop");
    h.write_standard_conf(GOOD_PROGRAMS);
    h.start(&[]);
    let pid = h.wait_pid_file("sleeper.pid", Duration::from_secs(10));
    assert!(
        pid_alive(pid),
        "sleeper {pid} not alive\n{}",
        h.diagnostics()
    );
    h.wait_for_socket(Duration::from_secs(10));
    let o = h.ctl(&["status"]);
    assert_exit(&o, 0, "supervisorctl status");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("RUNNING"),
        "{}",
        output_text(&o)
    );
    let st = h.stop(Duration::from_secs(10));
    assert_eq!(
        st.code(),
        Some(0),
        "daemon exit after SIGTERM: {}\n{}",
        describe_status(&st),
        h.diagnostics()
    );
    assert!(!pid_alive(pid), "program {pid} outlived the daemon");
}

#[test]
fn daemon_process_tree_is_gone_after_drop() {
    // The harness must clean up even when the daemon is slow to stop: the
    // stubborn program ignores TERM and stopwaitsecs is long, so Drop has to
    // fall back to SIGKILL on the whole tree.
    let mut h = Harness::new("daemon_tree_drop");
    h.write_standard_conf(
        "[program:family]\n\
         command=/bin/sh {fixtures}/grandchild.sh {dir}/family.pids\n\
         startsecs=0\n\
         \n\
         [program:stubborn]\n\
         command=/bin/sh {fixtures}/ignore_term.sh {dir}/stubborn.pid\n\
         startsecs=0\n\
         stopwaitsecs=60\n",
    );
    let daemon = h.start(&[]);
    let stubborn = h.wait_pid_file("stubborn.pid", Duration::from_secs(10));
    h.eventually(Duration::from_secs(10), "family.pids has two pids", || {
        h.read_pids("family.pids").len() == 2
    });
    let mut pids = h.read_pids("family.pids");
    pids.push(stubborn);
    for p in &pids {
        assert!(pid_alive(*p), "{p} should be running\n{}", h.diagnostics());
    }
    drop(h);
    pids.push(daemon);
    let left: Vec<i32> = pids.into_iter().filter(|p| pid_alive(*p)).collect();
    assert!(left.is_empty(), "still alive after drop: {left:?}");
}
