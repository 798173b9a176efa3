//! supervisor-bench: runs supervisor-rs and the reference Python Supervisor
//! 4.3.0 on the same generated workloads in one run and prints ratios.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- [--smoke] [--json FILE] [--only NAME[,NAME..]]
//! ```
//!
//! Setup (idempotent): builds our daemon (`cargo build --release` in the
//! repository; or `SUPERVISORD_BIN=path`), creates a virtualenv with
//! `supervisor==4.3.0` in `target/bench-venv` (or uses
//! `SUPERVISOR_REF_VENV`), and installs tini with apt when root and missing.
//! Everything runs in a temp dir that is removed at the end; every process
//! started is killed by PID when its measurement ends, even on failure.

mod checks;
mod container;
mod daemon;
mod depends;
mod health;
mod helpers;
mod hostile;
mod http;
mod loglines;
mod report;
mod scenarios;
mod soak;
mod sys;
mod webui;

use report::Figure;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const USAGE: &str = "usage: supervisor-bench [--smoke] [--json FILE] [--only NAME[,NAME..]] [--keep-tmp] [--no-build]
  --smoke      short run (under a minute): fewer repetitions, smaller sizes
  --json FILE  also write the JSON lines to FILE
  --only       run only these scenarios: size start rpc crashloop ctl respawn logs log_lines idle shutdown pid1 soak health hostile container depends webui checks
  --keep-tmp   keep the temp dir (configs, logs) for inspection
  --no-build   do not run cargo build for our daemon
env: SUPERVISORD_BIN (our daemon), SUPERVISORD_STATIC_BIN (our static build), SUPERVISOR_REF_VENV (virtualenv with supervisor==4.3.0)";

struct Args {
    smoke: bool,
    json: Option<PathBuf>,
    only: Option<Vec<String>>,
    keep_tmp: bool,
    build: bool,
}

fn parse_args(raw: &[String]) -> Result<Args, String> {
    let mut a = Args {
        smoke: false,
        json: None,
        only: None,
        keep_tmp: false,
        build: true,
    };
    let mut it = raw.iter();
    while let Some(x) = it.next() {
        match x.as_str() {
            "--smoke" => a.smoke = true,
            "--json" => a.json = Some(it.next().ok_or("--json needs a FILE")?.into()),
            "--only" => {
                let v: Vec<String> = it
                    .next()
                    .ok_or("--only needs NAME")?
                    .split(',')
                    .map(str::to_string)
                    .collect();
                for n in &v {
                    if !scenarios::NAMES.contains(&n.as_str()) {
                        return Err(format!("unknown scenario {n}"));
                    }
                }
                a.only = Some(v);
            }
            "--keep-tmp" => a.keep_tmp = true,
            "--no-build" => a.build = false,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn ok(cmd: &mut Command) -> bool {
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

fn setup_ours(build: bool) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("SUPERVISORD_BIN") {
        return Ok(PathBuf::from(p));
    }
    let root = repo_root();
    if build {
        eprintln!("setup: cargo build --release (our daemon)");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut c = Command::new(cargo);
        c.args([
            "build",
            "--release",
            "--bin",
            "supervisord",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"));
        // Our own cargo run sets these for the bench crate; not for the daemon.
        c.env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_MANIFEST_DIR");
        if !ok(&mut c) {
            return Err("cargo build --release failed".into());
        }
    }
    let p = root.join("target/release/supervisord");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{} missing", p.display()))
    }
}

/// The static build (`scripts/build-static.sh`), if it can be built here.
fn setup_static(build: bool) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SUPERVISORD_STATIC_BIN") {
        return Some(PathBuf::from(p));
    }
    let root = repo_root();
    if build {
        eprintln!("setup: scripts/build-static.sh (our static build)");
        let _ = Command::new(root.join("scripts/build-static.sh"))
            .env_remove("CARGO_TARGET_DIR")
            .stdout(Stdio::null())
            .status();
    }
    let p = root.join("target/x86_64-unknown-linux-musl/release/supervisord");
    p.is_file().then_some(p)
}

fn setup_ref() -> Result<PathBuf, String> {
    let venv = std::env::var_os("SUPERVISOR_REF_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/bench-venv"));
    let has = |v: &Path| {
        Command::new(v.join("bin/supervisord"))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "4.3.0")
            .unwrap_or(false)
    };
    if !has(&venv) {
        eprintln!(
            "setup: virtualenv with supervisor==4.3.0 in {}",
            venv.display()
        );
        let py = which("python3").ok_or("python3 not found")?;
        if !venv.join("bin/pip").is_file() && !ok(Command::new(&py).args(["-m", "venv"]).arg(&venv))
        {
            return Err("python3 -m venv failed (Debian: apt-get install python3-venv)".into());
        }
        if !ok(Command::new(venv.join("bin/pip")).args(["install", "-q", "supervisor==4.3.0"])) {
            return Err("pip install supervisor==4.3.0 failed".into());
        }
        if !has(&venv) {
            return Err("supervisord --version is not 4.3.0".into());
        }
    }
    Ok(venv)
}

fn setup_tini() -> Option<PathBuf> {
    if let Some(p) = which("tini") {
        return Some(p);
    }
    if sys::is_root() && which("apt-get").is_some() {
        eprintln!("setup: apt-get install tini");
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-q", "tini"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status();
    }
    which("tini")
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))?
                .split(':')
                .nth(1)
                .map(|x| x.trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{date}; {cores} cores ({cpu}), {mem_gib:.1} GiB RAM, Linux {}",
        kernel.trim()
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = helpers::run(&raw) {
        std::process::exit(code);
    }
    let args = match parse_args(&raw) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    sys::install_interrupt_handler();
    sys::become_subreaper();

    let setup = || -> Result<daemon::Env, String> {
        let ours = setup_ours(args.build)?;
        let ours_static = setup_static(args.build);
        let ref_venv = setup_ref()?;
        let tini = setup_tini();
        let tmp = std::env::temp_dir().join(format!("supervisor-bench-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| format!("temp dir: {e}"))?;
        let shm = sys::tmpfs_dir(&format!("supervisor-bench-{}", std::process::id()));
        let self_exe = std::env::current_exe().map_err(|e| e.to_string())?;
        Ok(daemon::Env {
            ours,
            ours_static,
            ref_venv,
            tini,
            self_exe,
            tmp,
            shm,
        })
    };
    let env = match setup() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("setup failed: {e}");
            std::process::exit(1);
        }
    };
    let plan = if args.smoke {
        scenarios::Plan::smoke()
    } else {
        scenarios::Plan::full()
    };
    let machine = machine();
    let load_before = loadavg();
    eprintln!("machine: {machine}; load average {load_before}");
    let started = std::time::Instant::now();

    let mut figs: Vec<Figure> = Vec::new();
    let mut failures = Vec::new();
    for name in scenarios::NAMES {
        if args
            .only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|x| x == name))
        {
            continue;
        }
        eprintln!("{name}:");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scenarios::run(name, &env, &plan)
        }));
        sys::reap_strays();
        match r {
            Ok(f) => figs.extend(f),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!("{name}: FAILED: {msg}");
                failures.push(format!("{name}: {msg}"));
                if msg == "interrupted" {
                    break;
                }
            }
        }
    }

    let took = started.elapsed().as_secs_f64();
    let header = format!(
        "supervisor-rs vs Python supervisord 4.3.0{}: {machine}; load average {load_before} -> {}; took {took:.0} s",
        if args.smoke {
            " (SMOKE run: few repetitions, small sizes)"
        } else {
            ""
        },
        loadavg()
    );
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\n{header}\n\n{}", report::table(&figs));
    let _ = writeln!(
        out,
        "ratio = ours / other (median of repetitions; [min-max] spread).\n"
    );
    let mut json = vec![format!(
        "{{\"machine\":\"{}\",\"smoke\":{},\"seconds\":{took:.1}}}",
        machine.replace('"', "'"),
        args.smoke
    )];
    json.extend(figs.iter().map(|f| f.json(args.smoke)));
    for l in &json {
        let _ = writeln!(out, "{l}");
    }
    if let Some(p) = &args.json
        && let Err(e) = std::fs::write(p, json.join("\n") + "\n")
    {
        eprintln!("writing {}: {e}", p.display());
    }
    for f in &failures {
        let _ = writeln!(out, "scenario failed: {f}");
    }
    if !args.keep_tmp {
        let _ = std::fs::remove_dir_all(&env.tmp);
        if let Some(shm) = &env.shm {
            let _ = std::fs::remove_dir_all(shm);
        }
    } else {
        eprintln!("kept {}", env.tmp.display());
        if let Some(shm) = &env.shm {
            eprintln!("kept {}", shm.display());
        }
    }
    std::process::exit(if failures.is_empty() { 0 } else { 1 });
}
