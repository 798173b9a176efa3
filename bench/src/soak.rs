//! The crash-loop soak: 50 programs that exit at once, left to crash-loop
//! (alone, then raced by 16 RPC clients), then `stopAllProcesses(true)`.
//! One second later: zombies, children, programs not STOPPED/EXITED, fds
//! beyond the idle daemon's plus its open child logs; then the daemon's
//! wake-ups and CPU over a quiet window, when it should be idle.

use crate::daemon::{BOTH, Daemon, Env, Kind, Program};
use crate::http;
use crate::report::{Figure, Target};
use crate::scenarios::Plan;
use crate::sys;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use supervisor_rs::rpc::Value;

const PROGRAMS: usize = 50;

fn programs(dir: &std::path::Path) -> Vec<Program> {
    (0..PROGRAMS)
        .map(|i| {
            let log = |ch: &str| dir.join(format!("c{i:02}.{ch}")).display().to_string();
            Program::new(
                format!("c{i:02}"),
                "/bin/sh -c \"echo out-$$; echo err-$$ >&2; exit 0\"",
            )
            .opt("autostart", "false")
            .opt("startsecs", "0")
            .opt("autorestart", "true")
            .opt("startretries", "1000000")
            .opt("stdout_logfile", log("out"))
            .opt("stderr_logfile", log("err"))
            .opt("stdout_logfile_maxbytes", "1MB")
            .opt("stderr_logfile_maxbytes", "1MB")
        })
        .collect()
}

/// fds of `pid`: (all, those open on a file under `dir` ending .out/.err).
fn fds(pid: i32, dir: &std::path::Path) -> (usize, usize) {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return (0, 0);
    };
    let mut all = 0;
    let mut logs = 0;
    for e in rd.flatten() {
        all += 1;
        if let Ok(t) = std::fs::read_link(e.path())
            && t.starts_with(dir)
            && t.extension().is_some_and(|x| x == "out" || x == "err")
        {
            logs += 1;
        }
    }
    (all, logs)
}

#[derive(Default)]
struct Row {
    zombies: Vec<f64>,
    children: Vec<f64>,
    not_stopped: Vec<f64>,
    extra_fds: Vec<f64>,
    wakeups_per_s: Vec<f64>,
    cpu_pct: Vec<f64>,
    spawns_per_s: Vec<f64>,
}

fn one(env: &Env, plan: &Plan, k: Kind, clients: bool, rep: usize) -> Row {
    let name = if clients { "soak16" } else { "soak" };
    let dir = sys::make_dir(&env.tmp, &format!("{name}-{}-{rep}", k.name()));
    let d = Daemon::start(env, k, dir.clone(), &programs(&dir));
    d.wait_rpc(Duration::from_secs(30));
    sys::sleep(plan.settle);
    let (idle_fds, _) = fds(d.pid(), &dir);
    let log = dir.join("supervisord.log");
    let spawned = || {
        std::fs::read_to_string(&log)
            .map(|s| s.matches("spawned: 'c").count())
            .unwrap_or(0)
    };
    let _ = http::call(
        &d.unix,
        "supervisor.startAllProcesses",
        &[Value::Bool(false)],
    );
    let t0 = Instant::now();
    if clients {
        let calls: Vec<(String, Vec<Value>)> = (0..16)
            .flat_map(|i| {
                let n = Value::String(format!("c{:02}", (i * 3) % PROGRAMS));
                vec![
                    ("supervisor.getAllProcessInfo".to_string(), vec![]),
                    (
                        "supervisor.readProcessStdoutLog".to_string(),
                        vec![n.clone(), Value::Int(-200), Value::Int(0)],
                    ),
                    (
                        "supervisor.startProcess".to_string(),
                        vec![n.clone(), Value::Bool(false)],
                    ),
                    (
                        "supervisor.stopProcess".to_string(),
                        vec![n, Value::Bool(false)],
                    ),
                ]
            })
            .collect();
        http::load_mixed(&d.unix, &calls, 16, plan.soak_window, d.pid());
    } else {
        sys::sleep(plan.soak_window);
    }
    let loop_s = t0.elapsed().as_secs_f64();
    let spawns = spawned();
    let stop = http::call(&d.unix, "supervisor.stopAllProcesses", &[Value::Bool(true)]);
    let stopped_at = Instant::now();
    sys::sleep(Duration::from_secs(1).saturating_sub(stopped_at.elapsed()));

    let pid = d.pid();
    let kids = sys::children(pid);
    let zombies = kids.iter().filter(|&&c| sys::state(c) == Some('Z')).count();
    let (all_fds, log_fds) = fds(pid, &dir);
    let not_stopped = http::states(&d.unix)
        .map(|s| {
            s.iter()
                .filter(|x| *x != "STOPPED" && *x != "EXITED")
                .count()
        })
        .unwrap_or(PROGRAMS);
    // The HTTP thread that answered goes back to sleep just after its
    // answer was read: let it, then count.
    sys::sleep(Duration::from_millis(200));
    let (cs0, cpu0) = (sys::ctxt_switches(pid), sys::cpu_s(pid));
    let q0 = Instant::now();
    sys::sleep(plan.idle_window);
    let q = q0.elapsed().as_secs_f64();
    let (cs1, cpu1) = (sys::ctxt_switches(pid), sys::cpu_s(pid));
    if let Err(e) = stop {
        eprintln!("  .. {name} {}: stopAllProcesses: {e}", k.name());
    }
    Row {
        zombies: vec![zombies as f64],
        children: vec![kids.len() as f64],
        not_stopped: vec![not_stopped as f64],
        extra_fds: vec![all_fds.saturating_sub(idle_fds + log_fds) as f64],
        wakeups_per_s: vec![match (cs0, cs1) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / q,
            _ => f64::NAN,
        }],
        cpu_pct: vec![match (cpu0, cpu1) {
            (Some(a), Some(b)) => (b - a) / q * 100.0,
            _ => f64::NAN,
        }],
        spawns_per_s: vec![spawns as f64 / loop_s],
    }
}

pub fn soak(env: &Env, plan: &Plan) -> Vec<Figure> {
    let mut figs = Vec::new();
    for clients in [false, true] {
        let mut rows: HashMap<Kind, Row> = HashMap::new();
        for rep in 0..plan.soak_reps {
            for &k in &BOTH {
                eprintln!(
                    "  .. soak{} {} rep {}/{}",
                    if clients { " with 16 clients" } else { "" },
                    k.name(),
                    rep + 1,
                    plan.soak_reps
                );
                let r = one(env, plan, k, clients, rep);
                let e = rows.entry(k).or_default();
                e.zombies.extend(r.zombies);
                e.children.extend(r.children);
                e.not_stopped.extend(r.not_stopped);
                e.extra_fds.extend(r.extra_fds);
                e.wakeups_per_s.extend(r.wakeups_per_s);
                e.cpu_pct.extend(r.cpu_pct);
                e.spawns_per_s.extend(r.spawns_per_s);
            }
        }
        let what = format!(
            "{PROGRAMS} programs crash-looping {} s{}, then stopAll",
            plan.soak_window.as_secs_f64(),
            if clients { " under 16 RPC clients" } else { "" }
        );
        let (o, r) = (&rows[&Kind::Ours], &rows[&Kind::Ref]);
        let fig = |metric: &str, unit: &'static str, pick: fn(&Row) -> &Vec<f64>| {
            Figure::new(format!("{what}: {metric}"), unit, "python")
                .ours(pick(o))
                .other(pick(r))
        };
        figs.push(fig("spawns per second", "/s", |x| &x.spawns_per_s));
        figs.push(fig("zombies 1 s later", "", |x| &x.zombies).target(Target::OursMax(0.0)));
        figs.push(fig("children 1 s later", "", |x| &x.children).target(Target::OursMax(0.0)));
        figs.push(
            fig("programs not STOPPED/EXITED 1 s later", "", |x| {
                &x.not_stopped
            })
            .target(Target::OursMax(0.0)),
        );
        figs.push(
            fig("fds beyond idle + open child logs", "", |x| &x.extra_fds)
                .target(Target::OursMax(2.0))
                .note("child log files stay open between runs in ours, not in python"),
        );
        figs.push(
            fig(
                &format!("wake-ups/s over the next {} s", plan.idle_window.as_secs()),
                "/s",
                |x| &x.wakeups_per_s,
            )
            .target(Target::OursMax(0.0)),
        );
        figs.push(fig("daemon CPU afterwards", "%", |x| &x.cpu_pct));
    }
    figs
}
