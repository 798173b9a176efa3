//! `depends_on`: what the dependency gate costs.  Ours only (the reference
//! has no `depends_on`); the other column is the same daemon with the same
//! programs and no `depends_on`.  1,000 sleepers (100 in smoke), 10 of them
//! the dependencies of all the others, `startsecs=0` so that only the
//! ordering is measured: exec -> all RUNNING, and SIGTERM -> exit, where the
//! dependents must be down before their dependencies are stopped.

use crate::daemon::{Daemon, Env, Kind, Program};
use crate::report::{Figure, Target};
use crate::scenarios::Plan;
use crate::sys;
use std::time::{Duration, Instant};

const BASES: usize = 10;

fn programs(n: usize, with_deps: bool) -> Vec<Program> {
    (0..n)
        .map(|i| {
            let p = Program::new(format!("p{i:04}"), "sleep 100000").opt("startsecs", "0");
            if with_deps && i >= BASES {
                p.opt("depends_on", format!("p{:04}", i % BASES))
            } else {
                p
            }
        })
        .collect()
}

pub fn depends(env: &Env, plan: &Plan) -> Vec<Figure> {
    let n = if plan.smoke { 100 } else { 1000 };
    let reps = if plan.smoke { 1 } else { 3 };
    let mut start = [Vec::new(), Vec::new()];
    let mut stop = [Vec::new(), Vec::new()];
    for rep in 0..reps {
        for (i, with_deps) in [(0, true), (1, false)] {
            let label = if with_deps { "deps" } else { "nodeps" };
            eprintln!(
                "  .. depends_on {n} programs, {label} rep {}/{reps}",
                rep + 1
            );
            let dir = sys::make_dir(&env.tmp, &format!("depends-{label}-{rep}"));
            let mut d = Daemon::start(env, Kind::Ours, dir, &programs(n, with_deps));
            let t = d.wait_running(n, Duration::from_secs(120));
            start[i].push((t - d.t_exec_ns) as f64 / 1e6);
            let t = Instant::now();
            sys::kill(d.pid(), libc::SIGTERM);
            assert!(
                d.guard.wait_exit(Duration::from_secs(120)),
                "ours did not exit on SIGTERM"
            );
            stop[i].push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    vec![
        Figure::new(
            format!(
                "exec -> all RUNNING, {n} programs, {} with depends_on",
                n - BASES
            ),
            "ms",
            "no depends_on",
        )
        .ours(&start[0])
        .other(&start[1])
        .target(Target::RatioMax(1.3)),
        Figure::new(
            format!(
                "SIGTERM -> exit, {n} programs, {} with depends_on",
                n - BASES
            ),
            "ms",
            "no depends_on",
        )
        .ours(&stop[0])
        .other(&stop[1])
        .note("two stop phases: dependents, then their dependencies")
        .target(Target::RatioMax(2.5)),
    ]
}
