//! Readiness checks at scale: 1,000 programs each with a 1 s `tcp://`
//! readiness check against ports the bench serves, and the daemon's CPU
//! (% of one core) while they run.  One listener serves [`PER_PORT`]
//! programs: a single one would overflow its accept queue (128) when the
//! checks of 1,000 programs connect within a few milliseconds, and the
//! dropped SYNs would then time out the checks.  Ours only (the reference has no
//! checks); the other column is the same daemon and programs without
//! checks, so the difference is what the checks cost.

use crate::daemon::{self, Daemon, Env, Kind};
use crate::report::{Figure, Target};
use crate::scenarios::Plan;
use crate::sys;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Programs checking the same port.
const PER_PORT: usize = 100;

/// A listener that accepts and closes every connection, counting them,
/// until it is dropped.
struct Acceptor {
    port: u16,
    accepted: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Acceptor {
    fn new() -> Acceptor {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a check port");
        let port = l.local_addr().expect("local addr").port();
        let accepted = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (Arc::clone(&accepted), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for c in l.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if c.is_ok() {
                    a.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Acceptor {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// CPU of the daemon over `window`, in % of one core.
fn cpu_percent(d: &Daemon, window: Duration) -> f64 {
    let (c0, t0) = (sys::cpu_s(d.pid()).unwrap_or(0.0), Instant::now());
    sys::sleep(window);
    let c1 = sys::cpu_s(d.pid()).unwrap_or(0.0);
    (c1 - c0) / t0.elapsed().as_secs_f64() * 100.0
}

pub fn checks(env: &Env, plan: &Plan) -> Vec<Figure> {
    let n: usize = if plan.smoke { 100 } else { 1000 };
    let window = if plan.smoke {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(10)
    };
    let (mut with, mut without, mut per_s) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..plan.idle_reps {
        for checked in [true, false] {
            eprintln!(
                "  .. checks: {n} programs {} a 1 s tcp readiness check, rep {}/{}",
                if checked { "with" } else { "without" },
                rep + 1,
                plan.idle_reps
            );
            let acceptors: Vec<Acceptor> =
                (0..n.div_ceil(PER_PORT)).map(|_| Acceptor::new()).collect();
            let accepted = || -> u64 {
                acceptors
                    .iter()
                    .map(|a| a.accepted.load(Ordering::Relaxed))
                    .sum()
            };
            let programs: Vec<_> = daemon::sleepers(n)
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    if checked {
                        let port = acceptors[i / PER_PORT].port;
                        p.opt("readiness_check", format!("tcp://127.0.0.1:{port}"))
                            .opt("readiness_interval", "1")
                    } else {
                        p
                    }
                })
                .collect();
            let dir = sys::make_dir(
                &env.tmp,
                &format!("checks-{}-{rep}", if checked { "on" } else { "off" }),
            );
            let mut d = Daemon::start(env, Kind::Ours, dir, &programs);
            d.wait_running(n, Duration::from_secs(120));
            // Let every check start and the start-up settle.
            sys::sleep(Duration::from_secs(3));
            let a0 = accepted();
            let t0 = Instant::now();
            let cpu = cpu_percent(&d, window);
            if checked {
                let got = accepted() - a0;
                per_s.push(got as f64 / t0.elapsed().as_secs_f64());
                with.push(cpu);
            } else {
                without.push(cpu);
            }
            drop(d);
        }
    }
    let rate = crate::report::percentile(&per_s, 50.0);
    vec![
        Figure::new(
            format!("{n} programs each with a 1 s tcp readiness check: daemon CPU % of one core"),
            "%",
            "no checks",
        )
        .ours(&with)
        .other(&without)
        .target(Target::OursMax(5.0))
        .note(format!("{rate:.0} checks/s served")),
    ]
}
