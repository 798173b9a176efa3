//! PID 1 duties, with the real binary: reaping orphans (as PID 1 of a PID
//! namespace and, otherwise, as a child subreaper), stop signals at
//! shutdown, the final sweep of leftovers that only PID 1 does, the idle
//! event loop, and the static build.

use crate::util::*;
use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

/// Generous deadline for anything that only needs the daemon to get going.
const T: Duration = Duration::from_secs(20);

/// `ready` then one signal number per line, as `print_signals.sh` writes.
fn signal_lines(h: &Harness, rel: &str) -> Vec<String> {
    h.read(rel).lines().map(str::to_string).collect()
}

/// Context switches of every thread of `pid` (voluntary + involuntary).
fn ctxt_switches(pid: i32) -> u64 {
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let mut total = 0;
    for t in rd.flatten() {
        let status = read_lossy(&t.path().join("status"));
        for l in status.lines() {
            if let Some(v) = l
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

/// A program that starts a `setsid` background shell (its own session, so
/// no process-group signal reaches it), records the shell's pid in
/// `<name>.pid`, and `TERM` in `<name>.sig` when it gets SIGTERM. With
/// `ignore_term` it keeps running after TERM, so only KILL ends it.
fn leftover_script(h: &Harness, name: &str, ignore_term: bool) -> std::path::PathBuf {
    let on_term = if ignore_term {
        format!("echo TERM >> {{dir}}/{name}.sig")
    } else {
        format!("echo TERM >> {{dir}}/{name}.sig; exit 0")
    };
    h.write_script(
        format!("{name}.sh"),
        &format!(
            "setsid /bin/sh -c 'trap \"{on_term}\" TERM; echo $$ > {{dir}}/{name}.pid; \
             while :; do sleep 1 & wait $!; done' </dev/null >/dev/null 2>&1 &\n"
        ),
    )
}

// ---------------------------------------------------------------------------
// As PID 1 of a PID namespace

#[test]
fn pid1_reaps_a_storm_of_orphans() {
    if !require_pid_namespace_or_skip() {
        return;
    }
    let mut h = Harness::new("pid1_orphans");
    h.fixture("double_fork_orphans.sh");
    h.write_standard_conf(
        "[program:storm]\n\
         command=/bin/sh {dir}/double_fork_orphans.sh 50 {dir}/orphans.pids 0.2 stay\n\
         startsecs=0\n",
    );
    h.start_as_pid1(&[]);
    let unshare = h.daemon_pid().unwrap();
    h.wait_file_contains("orphans.pids", "done\n", T);
    // The last orphans live 0.2 s more; within 1 s all must be gone, not
    // one left a zombie.
    let r = wait_until(
        Duration::from_secs(1),
        "0 zombies and no orphan left",
        || {
            let left: Vec<ProcStat> = descendants_of(unshare)
                .into_iter()
                .filter(|p| p.state == 'Z' || cmdline(p.pid).as_deref() == Some("sleep 0.2"))
                .collect();
            left.is_empty()
        },
    );
    if let Err(e) = r {
        let zombies = zombie_descendants(unshare);
        panic!("{e}: zombies {zombies:?}\n{}", h.diagnostics());
    }
    // The pids in the file are the namespace's, as the daemon logs them.
    let orphans = h.read_pids("orphans.pids");
    assert_eq!(orphans.len(), 50, "{}", h.read("orphans.pids"));
    // A batch of reaped pids is logged after the batch is collected: the
    // lines may trail the zombies' disappearance by a moment.
    let missing = |log: &str| -> Vec<i32> {
        orphans
            .iter()
            .copied()
            .filter(|p| !log.contains(&format!("reaped unknown pid {p} (")))
            .collect()
    };
    let r = wait_until(T, "a `reaped unknown pid` line for each orphan", || {
        missing(&h.main_log()).is_empty()
    });
    let log = h.main_log();
    assert!(
        r.is_ok(),
        "no `reaped unknown pid` line for {:?}\n{log}",
        missing(&log)
    );
}

#[test]
fn pid1_reaps_orphans_that_are_already_zombies_when_adopted() {
    if !require_pid_namespace_or_skip() {
        return;
    }
    let mut h = Harness::new("pid1_zombie_orphans");
    h.fixture("double_fork_orphans.sh");
    // Lifetime 0: most orphans have exited before their parent subshell
    // does, so they reach PID 1 as zombies already; then the program exits.
    h.write_standard_conf(
        "[program:storm]\n\
         command=/bin/sh {dir}/double_fork_orphans.sh 200 {dir}/orphans.pids 0 exit\n\
         startsecs=0\n\
         autorestart=false\n",
    );
    h.start_as_pid1(&[]);
    let unshare = h.daemon_pid().unwrap();
    h.wait_file_contains("orphans.pids", "done\n", T);
    let r = wait_until(Duration::from_secs(1), "0 zombies in the namespace", || {
        zombie_descendants(unshare).is_empty()
            && !descendants_of(unshare)
                .iter()
                .any(|p| cmdline(p.pid).as_deref() == Some("sleep 0"))
    });
    if let Err(e) = r {
        let zombies = zombie_descendants(unshare);
        panic!("{e}: zombies {zombies:?}\n{}", h.diagnostics());
    }
    h.wait_log("exited: storm (exit status 0; expected)", T);
    let orphans = h.read_pids("orphans.pids");
    assert_eq!(orphans.len(), 200);
    // A subshell may still reap its `sleep 0` itself when the sleep exits
    // first, so not every orphan reaches PID 1; those that do are each
    // logged once, and nothing else is.
    let log = h.main_log();
    let logged: Vec<i32> = log
        .lines()
        .filter_map(|l| l.split("reaped unknown pid ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    let distinct: BTreeSet<i32> = logged.iter().copied().collect();
    assert!(!logged.is_empty(), "no `reaped unknown pid` line\n{log}");
    assert_eq!(distinct.len(), logged.len(), "a pid reaped twice\n{log}");
    let strangers: Vec<i32> = distinct
        .iter()
        .copied()
        .filter(|p| !orphans.contains(p))
        .collect();
    assert!(
        strangers.is_empty(),
        "reaped {strangers:?}, not orphans\n{log}"
    );
}

#[test]
fn pid1_sigterm_stops_each_program_with_its_stopsignal_and_exits_zero() {
    if !require_pid_namespace_or_skip() {
        return;
    }
    let mut h = Harness::new("pid1_stopsignals");
    h.fixture("print_signals.sh");
    h.write_standard_conf(
        "[program:term]\n\
         command=/bin/sh {dir}/print_signals.sh {dir}/term.sig 15\n\
         startsecs=0\n\
         stopsignal=TERM\n\
         \n\
         [program:int]\n\
         command=/bin/sh {dir}/print_signals.sh {dir}/int.sig 2\n\
         startsecs=0\n\
         stopsignal=INT\n\
         \n\
         [program:usr1]\n\
         command=/bin/sh {dir}/print_signals.sh {dir}/usr1.sig 10\n\
         startsecs=0\n\
         stopsignal=USR1\n",
    );
    h.start_as_pid1(&[]);
    for f in ["term.sig", "int.sig", "usr1.sig"] {
        h.wait_file_contains(f, "ready\n", T);
    }
    let st = h.stop(T);
    assert_eq!(
        st.code(),
        Some(0),
        "exit status of the namespace's init: {}\n{}",
        describe_status(&st),
        h.diagnostics()
    );
    assert_eq!(signal_lines(&h, "term.sig"), ["ready", "15"]);
    assert_eq!(signal_lines(&h, "int.sig"), ["ready", "2"]);
    assert_eq!(signal_lines(&h, "usr1.sig"), ["ready", "10"]);
    let log = h.main_log();
    for name in ["term", "int", "usr1"] {
        assert!(
            log.contains(&format!("stopped: {name} (exit status 0)")),
            "{log}"
        );
    }
}

#[test]
fn pid1_sweeps_leftover_processes_at_exit() {
    if !require_pid_namespace_or_skip() {
        return;
    }
    let mut h = Harness::new("pid1_sweep");
    leftover_script(&h, "polite", false);
    leftover_script(&h, "stubborn", true);
    h.write_standard_conf(
        "[program:spawner]\n\
         command=/bin/sh -c '/bin/sh {dir}/polite.sh; /bin/sh {dir}/stubborn.sh; exit 0'\n\
         startsecs=0\n\
         autorestart=false\n",
    );
    h.start_as_pid1(&[]);
    h.wait_pid_file("polite.pid", T);
    h.wait_pid_file("stubborn.pid", T);
    h.wait_log("exited: spawner (exit status 0; expected)", T);
    let unshare = h.daemon_pid().unwrap();
    // A leftover shell forks a subshell for `sleep 1 &` that carries the
    // same command line until it execs; count only the shells whose
    // parent is not one of them.
    let leftovers: Vec<_> = descendants_of(unshare)
        .into_iter()
        .filter(|p| cmdline(p.pid).is_some_and(|c| c.starts_with("/bin/sh -c trap")))
        .collect();
    let survivors = leftovers
        .iter()
        .filter(|p| !leftovers.iter().any(|q| q.pid == p.ppid))
        .count();
    assert_eq!(
        survivors,
        2,
        "the leftovers outlive their program\n{}",
        h.diagnostics()
    );
    let st = h.stop(T);
    assert_eq!(
        st.code(),
        Some(0),
        "{}\n{}",
        describe_status(&st),
        h.diagnostics()
    );
    // Only our sweep sends TERM: the kernel's own cleanup of a PID
    // namespace is a SIGKILL.
    assert_eq!(h.read("polite.sig"), "TERM\n", "{}", h.diagnostics());
    assert_eq!(h.read("stubborn.sig"), "TERM\n", "{}", h.diagnostics());
    let log = h.main_log();
    assert!(
        log.lines()
            .any(|l| l.contains("leftover processes at exit")),
        "no report of the sweep\n{log}"
    );
}

// ---------------------------------------------------------------------------
// Not PID 1

#[test]
fn subreaper_adopts_and_reaps_orphans_when_not_pid1() {
    let mut h = Harness::new("subreaper");
    h.fixture("double_fork_orphans.sh");
    h.write_standard_conf(
        "[program:storm]\n\
         command=/bin/sh {dir}/double_fork_orphans.sh 10 {dir}/orphans.pids 3 stay\n\
         startsecs=0\n",
    );
    let daemon = h.start(&[]);
    h.wait_file_contains("orphans.pids", "done\n", T);
    let orphans: Vec<ProcStat> = h
        .read_pids("orphans.pids")
        .into_iter()
        .filter_map(proc_stat)
        .collect();
    assert_eq!(orphans.len(), 10, "all orphans alive\n{}", h.diagnostics());
    for o in &orphans {
        // The subshell that started it has exited: it was reparented to
        // the nearest subreaper, which must be the daemon.
        h.eventually(T, &format!("orphan {} reparented", o.pid), || {
            proc_stat(o.pid).is_some_and(|p| p.ppid != o.ppid || p.ppid == daemon)
        });
        assert_eq!(
            ppid_of(o.pid),
            Some(daemon),
            "orphan {} not adopted by the daemon",
            o.pid
        );
    }
    // They exit after 3 s; the daemon reaps them (no zombie left).
    h.eventually(T, "every orphan reaped", || {
        orphans
            .iter()
            .all(|o| proc_stat(o.pid).is_none_or(|p| p.starttime != o.starttime))
    });
    assert!(zombie_descendants(daemon).is_empty(), "{}", h.diagnostics());
    let log = h.main_log();
    for o in &orphans {
        assert!(
            log.contains(&format!("reaped unknown pid {} (", o.pid)),
            "{log}"
        );
    }
}

#[test]
fn not_pid1_leaves_unrelated_processes_alone_at_exit() {
    let mut h = Harness::new("no_sweep");
    leftover_script(&h, "bystander", false);
    h.write_standard_conf(
        "[program:spawner]\n\
         command=/bin/sh -c '/bin/sh {dir}/bystander.sh; exec sleep 100000'\n\
         startsecs=0\n\
         stopasgroup=true\n",
    );
    h.start(&[]);
    let bystander = h.wait_pid_file("bystander.pid", T);
    let st = h.stop(T);
    assert_eq!(
        st.code(),
        Some(0),
        "{}\n{}",
        describe_status(&st),
        h.diagnostics()
    );
    // A signal sent before the daemon exited acts at once; give the trap a
    // moment to write, and expect nothing.
    let hit = wait_until(
        Duration::from_millis(500),
        "a signal to the bystander",
        || !pid_alive(bystander) || h.path("bystander.sig").exists(),
    );
    assert!(
        hit.is_err(),
        "a process outside the daemon's programs was signalled at exit: alive {}, sig file {:?}",
        pid_alive(bystander),
        h.read("bystander.sig")
    );
    assert!(
        !h.main_log().contains("leftover processes"),
        "{}",
        h.main_log()
    );
}

#[test]
fn idle_event_loop_does_not_wake_up() {
    let mut h = Harness::new("idle_loop");
    h.write_standard_conf(
        "[program:a]\ncommand=sleep 100000\nstartsecs=1\n\
         [program:b]\ncommand=sleep 100000\nstartsecs=1\n\
         [program:c]\ncommand=sleep 100000\nstartsecs=1\n",
    );
    let daemon = h.start(&[]);
    for p in ["a", "b", "c"] {
        h.wait_log(&format!("success: {p} entered RUNNING state"), T);
    }
    let before = ctxt_switches(daemon);
    // A measurement window, not a wait for something to happen: an idle
    // daemon must not be scheduled at all during it.
    std::thread::sleep(Duration::from_secs(3));
    let after = ctxt_switches(daemon);
    assert!(
        after.saturating_sub(before) <= 1,
        "idle daemon was scheduled {} times in 3 s",
        after - before
    );
    assert!(pid_alive(daemon));
}

// ---------------------------------------------------------------------------
// The static build

/// Program header types of an ELF64 little-endian file.
fn elf_program_header_types(data: &[u8]) -> Result<Vec<u32>, String> {
    if data.len() < 64 || &data[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if data[4] != 2 || data[5] != 1 {
        return Err("not ELF64 little-endian".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let mut off_bytes = [0u8; 8];
    off_bytes.copy_from_slice(&data[0x20..0x28]);
    let phoff = u64::from_le_bytes(off_bytes) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    let mut types = Vec::new();
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let b = data
            .get(o..o + 4)
            .ok_or_else(|| format!("program header {i} out of bounds"))?;
        types.push(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    }
    Ok(types)
}

#[test]
fn static_build_has_no_program_interpreter() {
    const PT_LOAD: u32 = 1;
    const PT_INTERP: u32 = 3;
    if std::env::var_os("SUPERVISORD_BIN").is_none_or(|v| v.is_empty()) {
        // Only meaningful for the static build; the default cargo build is
        // dynamically linked on glibc targets.
        eprintln!("SKIPPED: SUPERVISORD_BIN is not set");
        return;
    }
    let bin = supervisord_bin();
    let data = fs::read(&bin).unwrap_or_else(|e| panic!("read {}: {e}", bin.display()));
    let types =
        elf_program_header_types(&data).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    assert!(
        types.contains(&PT_LOAD),
        "{}: no PT_LOAD: {types:?}",
        bin.display()
    );
    assert!(
        !types.contains(&PT_INTERP),
        "{} has a PT_INTERP header: it needs a dynamic loader, so it is not static",
        bin.display()
    );
}

#[test]
fn elf_reader_sees_the_interpreter_of_a_dynamic_binary() {
    // The check above is only as good as this reader: /bin/sh is dynamic.
    let data = fs::read("/bin/sh").unwrap();
    let types: BTreeSet<u32> = elf_program_header_types(&data)
        .unwrap()
        .into_iter()
        .collect();
    assert!(types.contains(&3), "/bin/sh has no PT_INTERP? {types:?}");
}
