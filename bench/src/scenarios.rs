//! The measurements.  Each scenario starts what it needs in its own temp
//! dirs, alternates the daemons repetition by repetition (so slow drift in
//! machine load hits both alike), and returns its figures.

use crate::daemon::{self, BOTH, Daemon, Env, Kind, Program};
use crate::http::{self, Addr};
use crate::report::{Figure, Target, percentile};
use crate::sys::{self, Guard};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How much of everything: the full run, or the smoke run (under a minute).
pub struct Plan {
    pub smoke: bool,
    pub reps: usize,
    pub start_ns: Vec<usize>,
    pub settle: Duration,
    pub rpc_window: Duration,
    pub rpc_reps: usize,
    pub rpc_keepalive: bool,
    pub lat_calls: usize,
    pub ctl_reps: usize,
    pub shutdown_n: usize,
    pub shutdown_reps: usize,
    pub respawn_programs: usize,
    pub respawn_min: usize,
    pub respawn_reps: usize,
    pub log_bytes: u64,
    pub log_reps: usize,
    /// The line-mode rows: bytes of program output per run, and runs.
    pub line_log_bytes: u64,
    pub line_log_reps: usize,
    pub idle_window: Duration,
    pub idle_reps: usize,
    pub pid1_reps: usize,
    pub pid1_orphans: usize,
    pub soak_window: Duration,
    pub soak_reps: usize,
}

impl Plan {
    pub fn full() -> Plan {
        Plan {
            smoke: false,
            reps: 5,
            start_ns: vec![10, 100, 1000],
            settle: Duration::from_secs(2),
            rpc_window: Duration::from_secs(3),
            rpc_reps: 3,
            rpc_keepalive: true,
            lat_calls: 50,
            ctl_reps: 10,
            shutdown_n: 100,
            shutdown_reps: 3,
            respawn_programs: 50,
            respawn_min: 300,
            respawn_reps: 3,
            log_bytes: 1 << 30,
            log_reps: 3,
            line_log_bytes: 256 << 20,
            line_log_reps: 5,
            idle_window: Duration::from_secs(30),
            idle_reps: 3,
            pid1_reps: 10,
            pid1_orphans: 5,
            soak_window: Duration::from_secs(10),
            soak_reps: 1,
        }
    }
    pub fn smoke() -> Plan {
        Plan {
            smoke: true,
            reps: 1,
            start_ns: vec![10, 100],
            settle: Duration::from_millis(250),
            rpc_window: Duration::from_millis(500),
            rpc_reps: 1,
            rpc_keepalive: false,
            lat_calls: 10,
            ctl_reps: 3,
            shutdown_n: 10,
            shutdown_reps: 1,
            respawn_programs: 50,
            respawn_min: 100,
            respawn_reps: 1,
            log_bytes: 64 << 20,
            log_reps: 1,
            line_log_bytes: 16 << 20,
            line_log_reps: 1,
            idle_window: Duration::from_secs(2),
            idle_reps: 1,
            pid1_reps: 2,
            pid1_orphans: 2,
            soak_window: Duration::from_secs(1),
            soak_reps: 1,
        }
    }
}

pub const NAMES: [&str; 18] = [
    "size",
    "start",
    "rpc",
    "crashloop",
    "ctl",
    "respawn",
    "logs",
    "log_lines",
    "idle",
    "shutdown",
    "pid1",
    "soak",
    "health",
    "hostile",
    "container",
    "depends",
    "webui",
    "checks",
];

pub fn run(name: &str, env: &Env, plan: &Plan) -> Vec<Figure> {
    match name {
        "size" => size(env),
        "start" => start(env, plan),
        "rpc" => rpc(env, plan),
        "crashloop" => crashloop(env, plan),
        "ctl" => ctl(env, plan),
        "respawn" => respawn(env, plan),
        "logs" => logs(env, plan),
        "log_lines" => crate::loglines::log_lines(env, plan),
        "idle" => idle(env, plan),
        "shutdown" => shutdown(env, plan),
        "pid1" => pid1(env, plan),
        "soak" => crate::soak::soak(env, plan),
        "health" => crate::health::health(env, plan),
        "hostile" => crate::hostile::run(env),
        "container" => crate::container::container(env, plan),
        "depends" => crate::depends::depends(env, plan),
        "webui" => crate::webui::webui(env, plan),
        "checks" => crate::checks::checks(env, plan),
        _ => Vec::new(),
    }
}

pub(crate) fn progress(msg: &str) {
    eprintln!("  .. {msg}");
}

pub(crate) fn dir_for(env: &Env, scenario: &str, kind: &str, rep: usize) -> PathBuf {
    sys::make_dir(&env.tmp, &format!("{scenario}-{kind}-{rep}"))
}

/// The start rows' dirs (config, socket, the AUTO logs of every program)
/// go on tmpfs when there is one.  Creating thousands of files costs both
/// daemons the same, but on disk that cost depends on the file system's
/// history: ext4 without a journal skips every inode freed in the last
/// minutes on each create, so 2,000 AUTO logs took 0.13 to 1.2 s here
/// depending on what had been deleted before.  A row on disk is printed too.
fn start_dir(env: &Env, n: usize, kind: &str, rep: usize, on_disk: bool) -> PathBuf {
    match (&env.shm, on_disk) {
        (Some(shm), false) => sys::make_dir(shm, &format!("start{n}-{kind}-{rep}")),
        _ => dir_for(env, &format!("start{n}-disk"), kind, rep),
    }
}

/// Start `n` sleepers and wait until all are RUNNING: the daemon and the
/// time from its exec to that point, in ms.
fn start_sleepers(env: &Env, kind: Kind, n: usize, dir: PathBuf) -> (Daemon, f64) {
    let mut d = Daemon::start(env, kind, dir, &daemon::sleepers(n));
    let t = d.wait_running(n, Duration::from_secs(120));
    let ms = (t - d.t_exec_ns) as f64 / 1e6;
    (d, ms)
}

fn per_kind<T: Default>() -> HashMap<Kind, T> {
    BOTH.iter().map(|&k| (k, T::default())).collect()
}

fn du(p: &Path) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if md.is_dir() {
        std::fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| du(&e.path())).sum())
            .unwrap_or(0)
    } else {
        md.len()
    }
}

// ---------------------------------------------------------------- size

/// The static binary's budget, in MB (10^6 bytes).
const STATIC_SIZE_BUDGET_MB: f64 = 2.0;

fn size(env: &Env) -> Vec<Figure> {
    let ours = sys::file_size(&env.ours) as f64 / 1e6;
    let site = std::fs::read_dir(env.ref_venv.join("lib"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path().join("site-packages/supervisor"));
    let pkg = site.as_deref().map(du).unwrap_or(0) as f64 / 1e6;
    let st: Vec<f64> = env
        .ours_static
        .iter()
        .map(|p| sys::file_size(p) as f64 / 1e6)
        .collect();
    vec![
        Figure::new(
            "binary size (python: supervisor package, without Python itself)",
            "MB",
            "python",
        )
        .ours(&[ours])
        .other(&[pkg]),
        // The budget the web UI and container features must also fit in.
        Figure::new(
            "binary size, static build (python: as above)",
            "MB",
            "python",
        )
        .ours(&st)
        .other(&[pkg])
        .target(Target::OursMax(STATIC_SIZE_BUDGET_MB)),
    ]
}

// ---------------------------------------------------------------- start + memory

fn start(env: &Env, plan: &Plan) -> Vec<Figure> {
    let mut figs = Vec::new();
    for &n in &plan.start_ns {
        let reps = if n >= 1000 {
            plan.reps.min(3)
        } else {
            plan.reps
        };
        let mut start_ms: HashMap<Kind, Vec<f64>> = per_kind();
        let mut rss: HashMap<Kind, Vec<f64>> = per_kind();
        let mut pss: HashMap<Kind, Vec<f64>> = per_kind();
        let mut lat99: HashMap<Kind, Vec<f64>> = per_kind();
        let mut kinds = BOTH.to_vec();
        if env.ours_static.is_some() {
            kinds.push(Kind::OursStatic);
        }
        let mut static_failed = String::new();
        for rep in 0..reps {
            for &kind in &kinds {
                if kind == Kind::OursStatic {
                    // Memory only; a broken static build must not stop the rest.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let (d, _) = start_sleepers(
                            env,
                            kind,
                            n,
                            start_dir(env, n, kind.name(), rep, false),
                        );
                        sys::sleep(plan.settle);
                        (
                            sys::rss_kb(d.pid()).unwrap_or(0) as f64 / 1024.0,
                            sys::pss_kb(d.pid()).unwrap_or(0) as f64 / 1024.0,
                        )
                    }));
                    match r {
                        Ok((r, p)) => {
                            rss.entry(kind).or_default().push(r);
                            pss.entry(kind).or_default().push(p);
                        }
                        Err(e) => {
                            static_failed = e.downcast_ref::<String>().cloned().unwrap_or_default();
                        }
                    }
                    continue;
                }
                progress(&format!(
                    "start {n} programs, {} rep {}/{reps}",
                    kind.name(),
                    rep + 1
                ));
                let (d, ms) =
                    start_sleepers(env, kind, n, start_dir(env, n, kind.name(), rep, false));
                start_ms.get_mut(&kind).unwrap().push(ms);
                sys::sleep(plan.settle);
                rss.get_mut(&kind)
                    .unwrap()
                    .push(sys::rss_kb(d.pid()).unwrap_or(0) as f64 / 1024.0);
                pss.get_mut(&kind)
                    .unwrap()
                    .push(sys::pss_kb(d.pid()).unwrap_or(0) as f64 / 1024.0);
                if n >= 1000 || (plan.smoke && n == *plan.start_ns.last().unwrap()) {
                    d.wait_rpc(Duration::from_secs(30));
                    let st = http::states(&d.unix).expect("getAllProcessInfo");
                    assert_eq!(st.len(), n, "{} lists {} processes", kind.name(), st.len());
                    let mut l = Vec::new();
                    // At most lat_calls, and at most ~5 s (the reference takes
                    // seconds per call at 1,000 programs).
                    let began = Instant::now();
                    while l.len() < plan.lat_calls
                        && (l.len() < 3 || began.elapsed() < Duration::from_secs(5))
                    {
                        let t = Instant::now();
                        http::call(&d.unix, "supervisor.getAllProcessInfo", &[]).expect("call");
                        l.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    lat99.get_mut(&kind).unwrap().push(percentile(&l, 99.0));
                }
            }
        }
        // The same start with everything on disk (in the temp dir), for
        // reference; no target (see `start_dir`).
        let mut disk_ms: HashMap<Kind, Vec<f64>> = per_kind();
        if n >= 1000 && env.shm.is_some() {
            for rep in 0..reps {
                for kind in BOTH {
                    progress(&format!(
                        "start {n} programs on disk, {} rep {}/{reps}",
                        kind.name(),
                        rep + 1
                    ));
                    let (_d, ms) =
                        start_sleepers(env, kind, n, start_dir(env, n, kind.name(), rep, true));
                    disk_ms.get_mut(&kind).unwrap().push(ms);
                }
            }
        }
        let f = |m: &HashMap<Kind, Vec<f64>>, name: String, unit| {
            Figure::new(name, unit, "python")
                .ours(&m[&Kind::Ours])
                .other(&m[&Kind::Ref])
        };
        figs.push(
            f(&rss, format!("idle RSS, {n} programs"), "MiB")
                .note("includes the shared pages of libc.so"),
        );
        figs.push(f(&pss, format!("idle PSS, {n} programs"), "MiB"));
        if env.ours_static.is_some() {
            let st = |m: &HashMap<Kind, Vec<f64>>, name: String| {
                Figure::new(name, "MiB", "python")
                    .ours(m.get(&Kind::OursStatic).map(Vec::as_slice).unwrap_or(&[]))
                    .other(&m[&Kind::Ref])
                    .note(static_failed.clone())
            };
            figs.push(
                st(&rss, format!("idle RSS, {n} programs, static build")).target(if n == 100 {
                    Target::RatioMax(0.1)
                } else {
                    Target::None
                }),
            );
            figs.push(st(&pss, format!("idle PSS, {n} programs, static build")));
        }
        if n >= 100 {
            figs.push(
                f(
                    &start_ms,
                    format!("exec -> all RUNNING, {n} programs"),
                    "ms",
                )
                .target(Target::RatioMax(0.1))
                .note(if env.shm.is_some() {
                    "config, socket and AUTO logs on tmpfs"
                } else {
                    ""
                }),
            );
        }
        if !disk_ms[&Kind::Ours].is_empty() {
            figs.push(
                f(
                    &disk_ms,
                    format!("exec -> all RUNNING, {n} programs, AUTO logs on disk"),
                    "ms",
                )
                .note("file creation cost depends on the file system's recent deletions"),
            );
        }
        if !lat99[&Kind::Ours].is_empty() {
            let mut fig = f(
                &lat99,
                format!("getAllProcessInfo p99 latency, {n} programs, new conn"),
                "ms",
            );
            if n >= 1000 {
                fig = fig.target(Target::OursBelow(50.0));
            }
            figs.push(fig);
        }
    }
    figs
}

// ---------------------------------------------------------------- rpc

fn rpc(env: &Env, plan: &Plan) -> Vec<Figure> {
    let n = 100;
    let mut ds: Vec<Daemon> = BOTH
        .iter()
        .map(|&k| {
            Daemon::start(
                env,
                k,
                dir_for(env, "rpc", k.name(), 0),
                &daemon::sleepers(n),
            )
        })
        .collect();
    for d in &mut ds {
        d.wait_running(n, Duration::from_secs(60));
        d.wait_rpc(Duration::from_secs(30));
        let st = http::states(&d.unix).expect("getAllProcessInfo");
        assert!(
            st.len() == n && st.iter().all(|s| s == "RUNNING"),
            "{}: {st:?}",
            d.kind.name()
        );
    }
    let mut combos = Vec::new();
    for keep in if plan.rpc_keepalive {
        vec![false, true]
    } else {
        vec![false]
    } {
        for inet in [false, true] {
            for clients in [1usize, 8] {
                combos.push((keep, inet, clients));
            }
        }
    }
    // (combo) -> kind -> (rps, p99, cpu/req, errors)
    type Runs = (Vec<f64>, Vec<f64>, Vec<f64>, u64);
    let mut res: HashMap<(bool, bool, usize), HashMap<Kind, Runs>> = HashMap::new();
    for rep in 0..plan.rpc_reps {
        for &(keep, inet, clients) in &combos {
            for d in &ds {
                let addr: &Addr = if inet { &d.inet } else { &d.unix };
                progress(&format!(
                    "rpc {} {} {clients} client(s) {} rep {}/{}",
                    d.kind.name(),
                    addr.kind(),
                    if keep { "keep-alive" } else { "new conn" },
                    rep + 1,
                    plan.rpc_reps
                ));
                // Warm up (connection paths, allocator), not counted.
                http::load(
                    addr,
                    "supervisor.getAllProcessInfo",
                    clients,
                    plan.rpc_window / 4,
                    keep,
                    d.pid(),
                );
                let r = http::load(
                    addr,
                    "supervisor.getAllProcessInfo",
                    clients,
                    plan.rpc_window,
                    keep,
                    d.pid(),
                );
                let e = res
                    .entry((keep, inet, clients))
                    .or_default()
                    .entry(d.kind)
                    .or_default();
                e.0.push(r.rps());
                e.1.push(percentile(&r.latencies_ms, 99.0));
                e.2.push(r.cpu_us_per_req());
                e.3 += r.errors;
            }
        }
    }
    let mut figs = Vec::new();
    for &(keep, inet, clients) in &combos {
        let m = &res[&(keep, inet, clients)];
        let label = format!(
            "getAllProcessInfo {n} progs, {} {clients}c{}",
            if inet { "inet" } else { "unix" },
            if keep { " keep-alive" } else { "" }
        );
        let (o, r) = (&m[&Kind::Ours], &m[&Kind::Ref]);
        let errs = if o.3 + r.3 > 0 {
            format!("errors ours {} python {}", o.3, r.3)
        } else {
            String::new()
        };
        figs.push(
            Figure::new(format!("{label} req/s"), "req/s", "python")
                .ours(&o.0)
                .other(&r.0)
                .target(if keep {
                    Target::None
                } else {
                    Target::RatioMin(20.0)
                })
                .note(errs),
        );
        figs.push(
            Figure::new(format!("{label} p99"), "ms", "python")
                .ours(&o.1)
                .other(&r.1),
        );
        figs.push(
            Figure::new(format!("{label} daemon CPU/req"), "us", "python")
                .ours(&o.2)
                .other(&r.2)
                .target(if keep {
                    Target::None
                } else {
                    Target::RatioMax(0.05)
                }),
        );
    }
    figs
}

// ---------------------------------------------------------------- RPC under churn

/// 16 clients issuing getAllProcessInfo, readProcessStdoutLog, start and stop
/// while 50 programs crash-loop (the concurrency scenario): every
/// call answered, p99 under 50 ms.
fn crashloop(env: &Env, plan: &Plan) -> Vec<Figure> {
    use supervisor_rs::rpc::Value;
    let mut programs: Vec<Program> = (0..50)
        .map(|i| {
            Program::new(format!("c{i:02}"), "sh -c 'sleep 0.1; exit 1'")
                .opt("autorestart", "true")
                .opt("startsecs", "0")
        })
        .collect();
    programs.extend(daemon::sleepers(16));
    let calls: Vec<(String, Vec<Value>)> = (0..16)
        .flat_map(|i| {
            let name = format!("p{i:04}");
            vec![
                ("supervisor.getAllProcessInfo".to_string(), vec![]),
                (
                    "supervisor.readProcessStdoutLog".to_string(),
                    vec![Value::String("c00".into()), Value::Int(-200), Value::Int(0)],
                ),
                (
                    "supervisor.stopProcess".to_string(),
                    vec![Value::String(name.clone())],
                ),
                (
                    "supervisor.startProcess".to_string(),
                    vec![Value::String(name)],
                ),
            ]
        })
        .collect();
    let mut p99: HashMap<Kind, Vec<f64>> = per_kind();
    let mut errors: HashMap<Kind, u64> = per_kind();
    for rep in 0..plan.rpc_reps {
        for &k in &BOTH {
            let d = Daemon::start(env, k, dir_for(env, "crashloop", k.name(), rep), &programs);
            d.wait_rpc(Duration::from_secs(30));
            sys::sleep(plan.settle);
            progress(&format!(
                "crashloop {} rep {}/{}",
                k.name(),
                rep + 1,
                plan.rpc_reps
            ));
            let r = http::load_mixed(&d.unix, &calls, 16, plan.rpc_window * 2, d.pid());
            p99.entry(k)
                .or_default()
                .push(percentile(&r.latencies_ms, 99.0));
            *errors.entry(k).or_default() += r.errors;
        }
    }
    let note = format!(
        "transport errors: ours {} python {}",
        errors[&Kind::Ours],
        errors[&Kind::Ref]
    );
    vec![
        Figure::new(
            "16 clients, mixed calls, 50 programs crash-looping: p99",
            "ms",
            "python",
        )
        .ours(&p99[&Kind::Ours])
        .other(&p99[&Kind::Ref])
        .target(Target::OursMax(50.0))
        .note(note),
    ]
}

// ---------------------------------------------------------------- supervisorctl status

fn ctl(env: &Env, plan: &Plan) -> Vec<Figure> {
    let n = 100;
    let mut ds: Vec<Daemon> = BOTH
        .iter()
        .map(|&k| {
            Daemon::start(
                env,
                k,
                dir_for(env, "ctl", k.name(), 0),
                &daemon::sleepers(n),
            )
        })
        .collect();
    for d in &mut ds {
        d.wait_running(n, Duration::from_secs(60));
        d.wait_rpc(Duration::from_secs(30));
    }
    // Our client, if this build has it: run as `supervisorctl` by symlink.
    let link = env.tmp.join("supervisorctl");
    let _ = std::fs::remove_file(&link);
    let _ = std::os::unix::fs::symlink(&env.ours, &link);
    let time_ctl = |ctl: &Path, conf: &Path| -> Option<f64> {
        let t = Instant::now();
        let out = Command::new(ctl)
            .arg("-c")
            .arg(conf)
            .arg("status")
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let el = t.elapsed().as_secs_f64() * 1e3;
        let lines = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("RUNNING"))
            .count();
        (lines == n).then_some(el)
    };
    let ours_ctl_works = time_ctl(&link, &ds[0].conf).is_some();
    let (mut own, mut py_ours, mut py_ref, mut direct_o, mut direct_r) =
        (vec![], vec![], vec![], vec![], vec![]);
    for rep in 0..plan.ctl_reps {
        progress(&format!(
            "supervisorctl status rep {}/{}",
            rep + 1,
            plan.ctl_reps
        ));
        if ours_ctl_works {
            own.extend(time_ctl(&link, &ds[0].conf));
        }
        py_ours.extend(time_ctl(&env.ref_ctl(), &ds[0].conf));
        py_ref.extend(time_ctl(&env.ref_ctl(), &ds[1].conf));
        for (d, v) in [(&ds[0], &mut direct_o), (&ds[1], &mut direct_r)] {
            let t = Instant::now();
            http::call(&d.unix, "supervisor.getAllProcessInfo", &[]).expect("call");
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    vec![
        Figure::new(
            format!("supervisorctl status wall, {n} programs"),
            "ms",
            "python",
        )
        .ours(&own)
        .other(&py_ref)
        .target(Target::RatioMax(0.1))
        .note(if ours_ctl_works {
            ""
        } else {
            "our supervisorctl is not in this build"
        }),
        Figure::new(
            format!("python supervisorctl status wall against each daemon, {n} programs"),
            "ms",
            "python",
        )
        .ours(&py_ours)
        .other(&py_ref),
        Figure::new(
            format!("status as one direct XML-RPC call, {n} programs"),
            "ms",
            "python",
        )
        .ours(&direct_o)
        .other(&direct_r),
    ]
}

// ---------------------------------------------------------------- respawn

/// Gaps (ms) between each recorded exit and the next start, all files.
fn gaps_ms(files: &[PathBuf]) -> Vec<f64> {
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let mut last_end: Option<u64> = None;
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(tag), Some(Ok(t))) = (it.next(), it.next().map(str::parse::<u64>)) else {
                continue;
            };
            match tag {
                "E" => last_end = Some(t),
                "S" => {
                    if let Some(e) = last_end.take() {
                        out.push((t.saturating_sub(e)) as f64 / 1e6);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn respawn(env: &Env, plan: &Plan) -> Vec<Figure> {
    let k = plan.respawn_programs;
    // Lifetimes spread over 100-199 ms so the crashes do not all coincide.
    let life = |i: usize| 100 + (i * 37) % 100;
    let wait_gaps = |files: &[PathBuf], timeout: Duration| -> Vec<f64> {
        let end = Instant::now() + timeout;
        loop {
            let g = gaps_ms(files);
            if g.len() >= plan.respawn_min || Instant::now() > end {
                return g;
            }
            sys::sleep(Duration::from_millis(100));
        }
    };
    let mut p50: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut p99: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for rep in 0..plan.respawn_reps {
        for who in ["ours", "python", "sh loop"] {
            progress(&format!(
                "respawn {who} rep {}/{}",
                rep + 1,
                plan.respawn_reps
            ));
            let dir = dir_for(env, "respawn", &who.replace(' ', "-"), rep);
            let files: Vec<PathBuf> = (0..k).map(|i| dir.join(format!("c{i:03}.log"))).collect();
            let cmd = |i: usize| env.helper(&format!("__crash {} {}", files[i].display(), life(i)));
            let g = match who {
                "sh loop" => {
                    let guards: Vec<Guard> = (0..k)
                        .map(|i| {
                            let c = Command::new("sh")
                                .arg("-c")
                                .arg(format!("while :; do {}; done", cmd(i)))
                                .stdin(Stdio::null())
                                .spawn()
                                .expect("sh");
                            Guard::new(c)
                        })
                        .collect();
                    let g = wait_gaps(&files, Duration::from_secs(60));
                    drop(guards);
                    g
                }
                _ => {
                    let kind = if who == "ours" { Kind::Ours } else { Kind::Ref };
                    let progs: Vec<Program> = (0..k)
                        .map(|i| {
                            Program::new(format!("c{i:03}"), cmd(i))
                                .opt("startsecs", "0")
                                .opt("autorestart", "true")
                                .opt("startretries", "1000000")
                        })
                        .collect();
                    let d = Daemon::start(env, kind, dir.clone(), &progs);
                    let g = wait_gaps(&files, Duration::from_secs(90));
                    drop(d);
                    g
                }
            };
            *counts.entry(who).or_default() += g.len();
            p50.entry(who).or_default().push(percentile(&g, 50.0));
            p99.entry(who).or_default().push(percentile(&g, 99.0));
        }
    }
    let note = format!(
        "{k} programs, lifetimes 100-199 ms; restarts measured: ours {}, python {}, sh loop {}",
        counts["ours"], counts["python"], counts["sh loop"]
    );
    vec![
        Figure::new("crash -> respawn p50", "ms", "python")
            .ours(&p50["ours"])
            .other(&p50["python"])
            .note(note.clone()),
        Figure::new("crash -> respawn p99", "ms", "python")
            .ours(&p99["ours"])
            .other(&p99["python"]),
        Figure::new("crash -> respawn p50", "ms", "sh loop")
            .ours(&p50["ours"])
            .other(&p50["sh loop"]),
        Figure::new("crash -> respawn p99", "ms", "sh loop")
            .ours(&p99["ours"])
            .other(&p99["sh loop"])
            .target(Target::RatioMax(1.2)),
    ]
}

// ---------------------------------------------------------------- log capture

/// Bytes in `dir/out.log` and its backups (see [`LOG_ROTATION`]).
fn total(dir: &Path) -> u64 {
    let mut s = sys::file_size(&dir.join("out.log"));
    for i in 1..=LOG_ROTATION.1 {
        s += sys::file_size(&dir.join(format!("out.log.{i}")));
    }
    s
}

/// Wait until `dir/out.log` and its backups hold `b` bytes: the time then.
fn wait_total(dir: &Path, b: u64) -> Option<u64> {
    let end = Instant::now() + Duration::from_secs(600);
    while Instant::now() < end {
        if total(dir) >= b {
            return Some(sys::now_ns());
        }
        sys::sleep(Duration::from_millis(2));
    }
    None
}

/// The baseline of the log rows: the `__write` helper's `b` bytes through
/// `| cat > dir/out.log`.  Returns (seconds from "go" to the last byte in
/// the file, cat's CPU seconds).
pub(crate) fn through_cat(env: &Env, dir: &Path, b: u64, line_len: usize) -> (f64, f64) {
    let file = std::fs::File::create(dir.join("out.log")).expect("out.log");
    let mut cat = Command::new("cat");
    cat.stdout(file);
    through(env, dir, b, line_len, cat, Some(b))
}

/// The `__write` helper's `b` bytes through `filter`; the end is when the
/// log files hold `out` bytes, or else when the filter has exited.
/// Returns (seconds from "go" to then, the filter's CPU seconds).
pub(crate) fn through(
    env: &Env,
    dir: &Path,
    b: u64,
    line_len: usize,
    mut filter: Command,
    out: Option<u64>,
) -> (f64, f64) {
    let go = dir.join("go");
    let mut w = Command::new(&env.self_exe);
    w.args([
        "__write",
        &go.display().to_string(),
        &b.to_string(),
        &line_len.to_string(),
    ])
    .stdout(Stdio::piped())
    .stdin(Stdio::null());
    let mut wc = w.spawn().expect("writer");
    let pipe = wc.stdout.take().expect("pipe");
    let wg = Guard::new(wc);
    let mut cg = Guard::new(filter.stdin(pipe).spawn().expect("filter"));
    sys::sleep(Duration::from_millis(200));
    let t0 = sys::now_ns();
    std::fs::write(&go, b"").expect("go");
    let t1 = out.map(|out| wait_total(dir, out).expect("filter finished"));
    let (usr, sy) = cg.wait_rusage().expect("filter rusage");
    let t1 = t1.unwrap_or_else(sys::now_ns);
    drop(wg);
    ((t1 - t0) as f64 / 1e9, usr + sy)
}

/// The log rows' rotation: at `b / .0` bytes of a run of `b`, `.1` backups.
pub(crate) const LOG_ROTATION: (u64, u32) = (8, 10);

/// The program of the log rows: the `__write` helper's `b` bytes, waiting
/// for `dir/go`, to `dir/out.log` rotated as [`LOG_ROTATION`] says.
pub(crate) fn log_writer(env: &Env, dir: &Path, b: u64, line_len: usize) -> Program {
    let writer = env.helper(&format!(
        "__write {} {b} {line_len}",
        dir.join("go").display()
    ));
    Program::new("writer", writer)
        .opt("startsecs", "0")
        .opt("autorestart", "false")
        .opt("stdout_logfile", dir.join("out.log").display().to_string())
        .opt("stdout_logfile_maxbytes", (b / LOG_ROTATION.0).to_string())
        .opt("stdout_logfile_backups", LOG_ROTATION.1.to_string())
}

/// Start `prog` under a daemon of `kind` in `dir`, create `dir/go` and wait
/// for `done` (the time all output is in the log).  Returns (seconds from
/// "go" to then, the daemon's CPU seconds meanwhile).
pub(crate) fn timed_capture(
    env: &Env,
    kind: Kind,
    dir: &Path,
    prog: Program,
    done: impl Fn(&Path) -> Option<u64>,
) -> (f64, f64) {
    let mut d = Daemon::start(env, kind, dir.to_path_buf(), &[prog]);
    d.wait_running(1, Duration::from_secs(30));
    sys::sleep(Duration::from_millis(200));
    let c0 = sys::cpu_s(d.pid()).unwrap_or(f64::NAN);
    let t0 = sys::now_ns();
    std::fs::write(dir.join("go"), b"").expect("go");
    let t1 = done(dir).unwrap_or_else(|| panic!("{}: log incomplete", kind.name()));
    let c1 = sys::cpu_s(d.pid()).unwrap_or(f64::NAN);
    ((t1 - t0) as f64 / 1e9, c1 - c0)
}

fn logs(env: &Env, plan: &Plan) -> Vec<Figure> {
    let b = plan.log_bytes;
    let gib = b as f64 / (1u64 << 30) as f64;
    let mut mbps: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut cpu: HashMap<&str, Vec<f64>> = HashMap::new();
    for rep in 0..plan.log_reps {
        for who in ["ours", "python", "cat"] {
            progress(&format!(
                "log capture {who} rep {}/{}",
                rep + 1,
                plan.log_reps
            ));
            let dir = dir_for(env, "logs", who, rep);
            let (secs, cpu_s) = if who == "cat" {
                through_cat(env, &dir, b, 64)
            } else {
                let kind = if who == "ours" { Kind::Ours } else { Kind::Ref };
                timed_capture(env, kind, &dir, log_writer(env, &dir, b, 64), |d| {
                    wait_total(d, b)
                })
            };
            mbps.entry(who).or_default().push(b as f64 / 1e6 / secs);
            cpu.entry(who).or_default().push(cpu_s / gib);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let label = if plan.smoke {
        format!("{} MiB", b >> 20)
    } else {
        format!("{} GiB", b >> 30)
    };
    vec![
        Figure::new(
            format!("log capture {label} to rotated file"),
            "MB/s",
            "cat",
        )
        .ours(&mbps["ours"])
        .other(&mbps["cat"])
        .target(Target::RatioMin(0.95)),
        Figure::new(
            format!("log capture {label} to rotated file"),
            "MB/s",
            "python",
        )
        .ours(&mbps["ours"])
        .other(&mbps["python"]),
        Figure::new("log capture daemon CPU", "s/GiB", "cat")
            .ours(&cpu["ours"])
            .other(&cpu["cat"])
            .target(Target::RatioMax(1.0)),
        Figure::new("log capture daemon CPU", "s/GiB", "python")
            .ours(&cpu["ours"])
            .other(&cpu["python"]),
    ]
}

// ---------------------------------------------------------------- idle

fn idle(env: &Env, plan: &Plan) -> Vec<Figure> {
    let n = 10;
    let w = plan.idle_window.as_secs();
    let mut cs: HashMap<Kind, Vec<f64>> = per_kind();
    let mut cpu: HashMap<Kind, Vec<f64>> = per_kind();
    for rep in 0..plan.idle_reps {
        progress(&format!(
            "idle {w} s, both daemons side by side, rep {}/{}",
            rep + 1,
            plan.idle_reps
        ));
        // Both at once: idle daemons do not disturb each other.
        let mut ds: Vec<Daemon> = BOTH
            .iter()
            .map(|&k| {
                Daemon::start(
                    env,
                    k,
                    dir_for(env, "idle", k.name(), rep),
                    &daemon::sleepers(n),
                )
            })
            .collect();
        for d in &mut ds {
            d.wait_running(n, Duration::from_secs(60));
        }
        sys::sleep(Duration::from_secs(2));
        let before: Vec<(u64, f64)> = ds
            .iter()
            .map(|d| {
                (
                    sys::ctxt_switches(d.pid()).unwrap_or(0),
                    sys::cpu_s(d.pid()).unwrap_or(0.0),
                )
            })
            .collect();
        sys::sleep(plan.idle_window);
        for (d, (c0, u0)) in ds.iter().zip(before) {
            cs.get_mut(&d.kind)
                .unwrap()
                .push((sys::ctxt_switches(d.pid()).unwrap_or(0) - c0) as f64);
            cpu.get_mut(&d.kind)
                .unwrap()
                .push((sys::cpu_s(d.pid()).unwrap_or(0.0) - u0) * 1e3);
        }
    }
    vec![
        Figure::new(
            format!("idle context switches in {w} s, {n} programs"),
            "count",
            "python",
        )
        .ours(&cs[&Kind::Ours])
        .other(&cs[&Kind::Ref])
        .target(Target::OursMax(0.0)),
        Figure::new(format!("idle CPU in {w} s, {n} programs"), "ms", "python")
            .ours(&cpu[&Kind::Ours])
            .other(&cpu[&Kind::Ref]),
    ]
}

// ---------------------------------------------------------------- shutdown

fn shutdown(env: &Env, plan: &Plan) -> Vec<Figure> {
    let n = plan.shutdown_n;
    let mut stop_s: HashMap<Kind, Vec<f64>> = per_kind();
    let mut term_s: HashMap<Kind, Vec<f64>> = per_kind();
    let mut leftovers = 0;
    for rep in 0..plan.shutdown_reps {
        for kind in BOTH {
            progress(&format!(
                "shutdown {n} programs, {} rep {}/{}",
                kind.name(),
                rep + 1,
                plan.shutdown_reps
            ));
            let mut d = Daemon::start(
                env,
                kind,
                dir_for(env, "shutdown", kind.name(), rep),
                &daemon::sleepers(n),
            );
            d.wait_running(n, Duration::from_secs(60));
            d.wait_rpc(Duration::from_secs(30));
            let t = Instant::now();
            http::call(&d.unix, "supervisor.stopAllProcesses", &[]).expect("stopAllProcesses");
            stop_s
                .get_mut(&kind)
                .unwrap()
                .push(t.elapsed().as_secs_f64() * 1e3);
            let st = http::states(&d.unix).expect("states");
            assert!(
                st.iter().all(|s| s == "STOPPED"),
                "{}: after stopAllProcesses: {st:?}",
                kind.name()
            );
            http::call(&d.unix, "supervisor.startAllProcesses", &[]).expect("startAllProcesses");
            d.wait_running(2 * n, Duration::from_secs(60));
            let programs = sys::descendants(d.pid());
            let t = Instant::now();
            sys::kill(d.pid(), libc::SIGTERM);
            assert!(
                d.guard.wait_exit(Duration::from_secs(300)),
                "{} did not exit on SIGTERM",
                kind.name()
            );
            term_s
                .get_mut(&kind)
                .unwrap()
                .push(t.elapsed().as_secs_f64() * 1e3);
            leftovers += programs
                .iter()
                .filter(|&&p| matches!(sys::state(p), Some(s) if s != 'Z'))
                .count();
        }
    }
    vec![
        Figure::new(format!("stopAllProcesses, {n} programs"), "ms", "python")
            .ours(&stop_s[&Kind::Ours])
            .other(&stop_s[&Kind::Ref]),
        Figure::new(
            format!("SIGTERM -> daemon exit, {n} programs"),
            "ms",
            "python",
        )
        .ours(&term_s[&Kind::Ours])
        .other(&term_s[&Kind::Ref])
        .target(Target::OursBelow(500.0))
        .note(if leftovers > 0 {
            format!("{leftovers} programs outlived their daemon")
        } else {
            String::new()
        }),
    ]
}

// ---------------------------------------------------------------- PID 1

fn read_ns(p: &Path) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

fn wait_file(p: &Path, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while !p.exists() {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    true
}

/// One PID-namespace instance: returns (orphan reap latencies, SIGTERM latency), ms.
fn pid1_once(env: &Env, who: &str, rep: usize, orphans: usize) -> (Vec<f64>, Option<f64>) {
    let dir = dir_for(env, "pid1", who, rep);
    let work = dir.join("w");
    std::fs::create_dir_all(&work).expect("dir");
    for i in 0..orphans {
        sys::mkfifo(&work.join(format!("o{i}.fifo"))).expect("mkfifo");
    }
    let child = env.helper(&format!("__pid1child {} {orphans}", work.display()));
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "--"]);
    match who {
        "tini" => {
            cmd.arg(env.tini.as_ref().expect("tini"))
                .arg("--")
                .args(child.split(' '));
        }
        _ => {
            let kind = if who == "ours" { Kind::Ours } else { Kind::Ref };
            let conf = dir.join("supervisord.conf");
            std::fs::create_dir_all(dir.join("logs")).expect("logs");
            let prog = Program::new("child", child)
                .opt("startsecs", "0")
                .opt("autorestart", "false");
            std::fs::write(
                &conf,
                daemon::config_text(&dir, daemon::free_port(), &[prog], ""),
            )
            .expect("conf");
            cmd.arg(env.daemon_bin(kind)).arg("-n").arg("-c").arg(&conf);
        }
    }
    let out = std::fs::File::create(dir.join("out")).expect("out");
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out);
    let mut g = Guard::new(cmd.spawn().expect("unshare"));
    assert!(
        wait_file(&work.join("ready"), Duration::from_secs(30)),
        "{who}: child not ready (see {})",
        dir.display()
    );
    let init = sys::children(g.pid)
        .first()
        .copied()
        .expect("namespace init");
    let mut lat = Vec::new();
    for i in 0..orphans {
        let pidf = work.join(format!("o{i}.pid"));
        assert!(wait_file(&pidf, Duration::from_secs(10)), "orphan pid");
        let ns_pid: i32 = std::fs::read_to_string(&pidf)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0);
        let Some(host) = sys::host_pid_of_ns_pid(g.pid, ns_pid) else {
            continue;
        };
        // It must be PID 1's child by now.
        if sys::ppid(host) != Some(init) {
            continue;
        }
        sys::sleep(Duration::from_millis(30));
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(work.join(format!("o{i}.fifo")))
                .expect("fifo");
            let _ = f.write_all(b"x");
        }
        let end = Instant::now() + Duration::from_secs(10);
        while sys::state(host).is_some() && Instant::now() < end {
            std::thread::sleep(Duration::from_micros(20));
        }
        let gone = sys::now_ns();
        if let Some(t) = read_ns(&work.join(format!("o{i}.t"))) {
            lat.push(gone.saturating_sub(t) as f64 / 1e6);
        }
    }
    sys::sleep(Duration::from_millis(50));
    let t0 = sys::now_ns();
    sys::kill(init, libc::SIGTERM);
    let term = if wait_file(&work.join("sigterm.t"), Duration::from_secs(10)) {
        sys::sleep(Duration::from_millis(5));
        read_ns(&work.join("sigterm.t")).map(|t| t.saturating_sub(t0) as f64 / 1e6)
    } else {
        None
    };
    g.wait_exit(Duration::from_secs(30));
    (lat, term)
}

fn pid1(env: &Env, plan: &Plan) -> Vec<Figure> {
    let mut whos = vec!["ours", "python"];
    let usable = sys::is_root() && Command::new("unshare").arg("--help").output().is_ok();
    if env.tini.is_some() {
        whos.push("tini");
    }
    let mut reap: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut term: HashMap<&str, Vec<f64>> = HashMap::new();
    if usable {
        for rep in 0..plan.pid1_reps {
            for &who in &whos {
                progress(&format!("PID 1 {who} rep {}/{}", rep + 1, plan.pid1_reps));
                let (l, t) = pid1_once(env, who, rep, plan.pid1_orphans);
                reap.entry(who).or_default().extend(l);
                term.entry(who).or_default().extend(t);
            }
        }
    }
    let get = |m: &HashMap<&str, Vec<f64>>, k: &str| m.get(k).cloned().unwrap_or_default();
    let note = if !usable {
        "needs root and unshare"
    } else if env.tini.is_none() {
        "tini not installed"
    } else {
        ""
    };
    vec![
        Figure::new("PID 1: SIGTERM -> child", "ms", "tini")
            .ours(&get(&term, "ours"))
            .other(&get(&term, "tini"))
            .target(Target::RatioMax(2.0))
            .note(note),
        Figure::new("PID 1: SIGTERM -> child", "ms", "python")
            .ours(&get(&term, "ours"))
            .other(&get(&term, "python")),
        Figure::new("PID 1: orphan exit -> reaped", "ms", "tini")
            .ours(&get(&reap, "ours"))
            .other(&get(&reap, "tini"))
            .target(Target::RatioMax(2.0))
            .note(note),
        Figure::new("PID 1: orphan exit -> reaped", "ms", "python")
            .ours(&get(&reap, "ours"))
            .other(&get(&reap, "python")),
    ]
}
