//! Tests of the harness and the fixtures themselves; they do not need the
//! daemon, so they pass whatever state `src/` is in.

use crate::util::*;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn sh(h: &Harness, script: &str) -> Command {
    let mut c = h.command("/bin/sh");
    c.arg("-c").arg(h.subst(script));
    c
}

#[test]
fn drop_kills_the_whole_tree() {
    let mut h = Harness::new("drop_tree");
    let top = h.start_command(sh(&h, "exec /bin/sh {fixtures}/grandchild.sh {dir}/g.pids"));
    h.eventually(T, "two pids in g.pids", || h.read_pids("g.pids").len() == 2);
    let pids = h.read_pids("g.pids");
    assert_eq!(pids[0], top, "the fixture records its own pid first");
    assert_eq!(
        ppid_of(pids[1]),
        Some(top),
        "second pid is the fixture's child"
    );
    drop(h);
    for p in pids {
        assert!(!pid_alive(p), "{p} survived the harness");
    }
}

#[test]
fn drop_kills_tagged_orphans_outside_the_tree() {
    let mut h = Harness::new("drop_orphans");
    // The inner shell exits at once, so its `sleep` is reparented away from
    // our tree: only the tag in its environment can find it.
    let top = h.start_command(sh(
        &h,
        "/bin/sh -c 'sleep 100000 & echo $! > {dir}/orphan.pid'; exec sleep 100000",
    ));
    let orphan = h.wait_pid_file("orphan.pid", T);
    h.eventually(T, "the orphan to be reparented", || {
        ppid_of(orphan) != Some(top) && ppid_of(orphan).is_some()
    });
    assert!(
        !descendants_of(top).iter().any(|p| p.pid == orphan),
        "orphan still in the tree"
    );
    assert_eq!(environ_var(orphan, TAG_VAR).as_deref(), Some(h.tag()));
    drop(h);
    assert!(
        !pid_alive(orphan),
        "tagged orphan {orphan} survived the harness"
    );
}

#[test]
fn drop_cleans_up_when_the_test_panics() {
    let pids = Arc::new(Mutex::new(Vec::new()));
    let seen = pids.clone();
    let r = std::panic::catch_unwind(move || {
        let mut h = Harness::new("drop_panic");
        h.start_command(sh(&h, "exec /bin/sh {fixtures}/ignore_term.sh {dir}/p.pid"));
        let p = h.wait_pid_file("p.pid", T);
        seen.lock().unwrap().push(p);
        panic!("deliberate failure inside a test");
    });
    assert!(r.is_err());
    let pids = pids.lock().unwrap();
    assert_eq!(pids.len(), 1);
    // ignore_term.sh survives SIGTERM: this proves the SIGKILL fallback ran.
    assert!(!pid_alive(pids[0]), "{} survived a panicking test", pids[0]);
}

#[test]
fn wait_until_says_what_it_waited_for() {
    let err = wait_until(Duration::from_millis(50), "the moon to turn blue", || false).unwrap_err();
    assert!(err.contains("the moon to turn blue"), "{err}");
    assert!(wait_until(Duration::from_millis(50), "truth", || true).is_ok());
    assert_eq!(
        wait_for(Duration::from_millis(50), "a value", || Some(7)),
        Ok(7)
    );
}

#[test]
fn run_with_timeout_kills_a_hung_command() {
    let start = std::time::Instant::now();
    let r = run_with_timeout(Command::new("sleep").arg("100"), Duration::from_millis(200));
    assert!(r.is_err(), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    let o = run_with_timeout(
        Command::new("/bin/sh").args(["-c", "echo out; echo err >&2; exit 3"]),
        T,
    )
    .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(o.stdout, b"out\n");
    assert_eq!(o.stderr, b"err\n");
}

#[test]
fn proc_readers_agree_with_the_kernel() {
    let me = std::process::id() as i32;
    let st = proc_stat(me).expect("own /proc/self/stat");
    // SAFETY: getppid cannot fail.
    assert_eq!(st.ppid, unsafe { libc::getppid() });
    assert!(pid_alive(me));
    assert!(!is_zombie(me));
}

#[test]
fn placeholders_and_scripts() {
    let h = Harness::new("placeholders");
    let text = h.subst("{dir}|{fixtures}|{tag}");
    assert_eq!(
        text,
        format!(
            "{}|{}|{}",
            h.dir().display(),
            fixtures_dir().display(),
            h.tag()
        )
    );
    let s = h.write_script("bin/hello", "echo hello from {dir}\n");
    let o = run_with_timeout(&mut Command::new(&s), T).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("hello from {}\n", h.dir().display())
    );
    assert!(
        h.socket_path().as_os_str().len() < 100,
        "socket path too long for sun_path"
    );
}

#[test]
fn fixtures_are_posix_sh_and_executable() {
    use std::os::unix::fs::PermissionsExt;
    let names = [
        "print_signals.sh",
        "double_fork_orphans.sh",
        "spew.sh",
        "ignore_term.sh",
        "grandchild.sh",
    ];
    for n in names {
        let p = fixtures_dir().join(n);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(text.starts_with("#!/bin/sh\n"), "{n} must use /bin/sh");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{n} is not executable");
        let o = run_with_timeout(Command::new("/bin/sh").arg("-n").arg(&p), T).unwrap();
        assert!(o.status.success(), "{n}: {}", output_text(&o));
    }
}

#[test]
fn print_signals_fixture_reports_each_signal() {
    let mut h = Harness::new("print_signals");
    let pid = h.start_command(sh(
        &h,
        "exec /bin/sh {fixtures}/print_signals.sh {dir}/sig.out",
    ));
    h.wait_file_contains("sig.out", "ready", T);
    send_signal(pid, libc::SIGUSR1);
    h.wait_file_contains("sig.out", "\n10\n", T);
    send_signal(pid, libc::SIGHUP);
    h.wait_file_contains("sig.out", "\n1\n", T);
    send_signal(pid, libc::SIGTERM);
    let st = h.wait_exit(T);
    assert_eq!(st.code(), Some(0));
    assert_eq!(h.read("sig.out"), "ready\n10\n1\n15\n");
}

#[test]
fn double_fork_fixture_orphans_its_grandchildren() {
    let mut h = Harness::new("double_fork");
    let pid = h.start_command(sh(
        &h,
        "exec /bin/sh {fixtures}/double_fork_orphans.sh 3 {dir}/o.pids 5",
    ));
    h.wait_file_contains("o.pids", "done", T);
    let orphans = h.read_pids("o.pids");
    assert_eq!(orphans.len(), 3, "{}", h.read("o.pids"));
    for o in orphans {
        // Their parents (subshells) are gone; they are not in our tree.
        assert_ne!(ppid_of(o), Some(pid));
        assert!(!descendants_of(pid).iter().any(|p| p.pid == o));
    }
}

#[test]
fn spew_fixture_writes_numbered_lines() {
    let mut h = Harness::new("spew");
    h.start_command(sh(&h, "exec /bin/sh {fixtures}/spew.sh 100 both x"));
    h.wait_file_contains("daemon.stdout", "stdout 99 x\n", T);
    h.wait_file_contains("daemon.stderr", "stderr 99 x\n", T);
    assert!(h.daemon_stdout().starts_with("stdout 0 x\n"));
}

#[test]
fn pid_namespace_helper_runs_pid1() {
    if !require_pid_namespace_or_skip() {
        return;
    }
    let out = run_with_timeout(
        Command::new("unshare").args([
            "--pid",
            "--fork",
            "--mount-proc",
            "/bin/sh",
            "-c",
            "echo $$",
        ]),
        T,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1",
        "{}",
        output_text(&out)
    );
}

#[test]
fn pid1_helper_runs_init_and_cleans_up() {
    if !require_pid_namespace_or_skip() {
        return;
    }
    let mut h = Harness::new("pid1_helper");
    let script = fixtures_dir().join("grandchild.sh");
    let pids_file = h.path("g.pids");
    let init = h.start_command_as_pid1("/bin/sh", &[script.as_os_str(), pids_file.as_os_str()]);
    h.eventually(T, "two pids in g.pids", || h.read_pids("g.pids").len() == 2);
    assert_eq!(Harness::ns_pid(init), Some(1), "not PID 1 in its namespace");
    // The fixture wrote pids as seen inside the namespace.
    assert_eq!(h.read_pids("g.pids"), vec![1, 2]);
    let child = children_of(init)[0];
    assert_eq!(Harness::ns_pid(child), Some(2));
    drop(h);
    // A killed process may stay a zombie for a moment until whoever
    // inherited it reaps it: gone or dead, polled with a deadline.
    let dead = |pid| !pid_alive(pid) || is_zombie(pid);
    wait_until(T, "the namespace to be gone after the harness", || {
        dead(init) && dead(child)
    })
    .unwrap_or_else(|e| panic!("namespace survived the harness: {e}"));
}
