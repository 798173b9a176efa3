//! The web UI: `GET /` (the whole status page) at 100 and 1,000 programs,
//! latency and daemon CPU per page, beside the reference's own page for the
//! same programs, one client, a new connection per request.  The binary
//! size row (`size`) covers the embedded page.

use crate::daemon::{self, Daemon, Env, Kind};
use crate::http;
use crate::report::{Figure, Target, percentile};
use crate::scenarios::Plan;
use crate::sys;
use std::time::Duration;

pub fn webui(env: &Env, plan: &Plan) -> Vec<Figure> {
    let mut figs = Vec::new();
    let ns: &[usize] = if plan.smoke { &[100] } else { &[100, 1000] };
    for &n in ns {
        let mut p99 = [Vec::new(), Vec::new()];
        let mut cpu = [Vec::new(), Vec::new()];
        for (i, kind) in [Kind::Ours, Kind::Ref].into_iter().enumerate() {
            let dir = sys::make_dir(&env.tmp, &format!("webui-{n}-{}", kind.name()));
            let mut d = Daemon::start(env, kind, dir, &daemon::sleepers(n));
            d.wait_running(n, Duration::from_secs(120));
            d.wait_rpc(Duration::from_secs(30));
            // The reference takes seconds per page at 1,000 programs: a
            // longer window so that it serves a few.
            let window = if kind == Kind::Ref && n >= 1000 {
                plan.rpc_window * 4
            } else {
                plan.rpc_window
            };
            for rep in 0..plan.rpc_reps {
                eprintln!(
                    "  .. web UI / {n} programs, {} rep {}/{}",
                    kind.name(),
                    rep + 1,
                    plan.rpc_reps
                );
                http::load_get(&d.inet, "/", 1, window / 4, d.pid());
                let r = http::load_get(&d.inet, "/", 1, window, d.pid());
                assert_eq!(r.errors, 0, "{}: GET / failed", kind.name());
                p99[i].push(percentile(&r.latencies_ms, 99.0));
                cpu[i].push(r.cpu_us_per_req());
            }
        }
        figs.push(
            Figure::new(
                format!("web UI GET / p99, {n} programs, new conn"),
                "ms",
                "python",
            )
            .ours(&p99[0])
            .other(&p99[1])
            .target(Target::RatioMax(0.2)),
        );
        figs.push(
            Figure::new(
                format!("web UI GET / daemon CPU/page, {n} programs"),
                "us",
                "python",
            )
            .ours(&cpu[0])
            .other(&cpu[1])
            .target(Target::RatioMax(0.2)),
        );
    }
    figs
}
