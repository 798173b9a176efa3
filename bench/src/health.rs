//! `[health_server]`: `/healthz` and `/metrics` latency and the daemon's CPU
//! per request at 100 and 1,000 programs.  Ours only (the reference has no
//! health endpoints); the python column is what a health check costs there
//! instead: one `getAllProcessInfo` call, measured at 100 programs.

use crate::daemon::{self, Daemon, Env, Kind};
use crate::http::{self, Addr};
use crate::report::{Figure, percentile};
use crate::scenarios::Plan;
use crate::sys;
use std::time::Duration;

pub fn health(env: &Env, plan: &Plan) -> Vec<Figure> {
    let mut figs = Vec::new();
    let ns: &[usize] = if plan.smoke { &[100] } else { &[100, 1000] };
    // The reference's stand-in, once: getAllProcessInfo at 100 programs.
    let (ref_p99, ref_cpu) = {
        let dir = sys::make_dir(&env.tmp, "health-python");
        let mut d = Daemon::start(env, Kind::Ref, dir, &daemon::sleepers(100));
        d.wait_running(100, Duration::from_secs(60));
        d.wait_rpc(Duration::from_secs(30));
        let r = http::load(
            &d.unix,
            "supervisor.getAllProcessInfo",
            1,
            plan.rpc_window,
            false,
            d.pid(),
        );
        (percentile(&r.latencies_ms, 99.0), r.cpu_us_per_req())
    };
    for &n in ns {
        let port = daemon::free_port();
        let dir = sys::make_dir(&env.tmp, &format!("health-{n}"));
        let extra = format!("[health_server]\nport=127.0.0.1:{port}\n\n");
        let mut d = Daemon::start_with(env, Kind::Ours, dir, &daemon::sleepers(n), &extra);
        d.wait_running(n, Duration::from_secs(120));
        let addr = Addr::Tcp(format!("127.0.0.1:{port}").parse().expect("addr"));
        for path in ["/healthz", "/metrics"] {
            let (mut p99, mut cpu, mut errors) = (Vec::new(), Vec::new(), 0);
            for rep in 0..plan.rpc_reps {
                eprintln!(
                    "  .. health {path} {n} programs rep {}/{}",
                    rep + 1,
                    plan.rpc_reps
                );
                // Warm-up, not counted.
                http::load_get(&addr, path, 1, plan.rpc_window / 4, d.pid());
                let r = http::load_get(&addr, path, 1, plan.rpc_window, d.pid());
                p99.push(percentile(&r.latencies_ms, 99.0));
                cpu.push(r.cpu_us_per_req());
                errors += r.errors;
            }
            let note = format!("errors {errors}; python: getAllProcessInfo, 100 programs");
            figs.push(
                Figure::new(
                    format!("{path} p99, {n} programs, new conn"),
                    "ms",
                    "python",
                )
                .ours(&p99)
                .other(&[ref_p99])
                .note(note.clone()),
            );
            figs.push(
                Figure::new(
                    format!("{path} daemon CPU/req, {n} programs"),
                    "us",
                    "python",
                )
                .ours(&cpu)
                .other(&[ref_cpu])
                .note(note),
            );
        }
    }
    figs
}
