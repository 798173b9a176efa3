//! `docker stop` of a container whose PID 1 (the static build) runs 100
//! programs, under a private Docker engine (own socket and dirs, vfs, no
//! networking; stopped by PID).  Needs root, `dockerd`, the static build
//! and a static busybox; otherwise the row reads n/a.

use crate::daemon::Env;
use crate::report::{Figure, Target};
use crate::scenarios::Plan;
use crate::sys::{self, Guard};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROGRAMS: usize = 100;

fn docker(sock: &Path, args: &[&str]) -> Option<String> {
    let o = Command::new("/usr/bin/docker")
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn config() -> String {
    let mut s = String::from(
        "[supervisord]\nnodaemon=true\nlogfile=/dev/stdout\nlogfile_maxbytes=0\nsilent=true\n\
         pidfile=/tmp/supervisord.pid\n\n[unix_http_server]\nfile=/tmp/supervisor.sock\n\n\
         [supervisorctl]\nserverurl=unix:///tmp/supervisor.sock\n\n[rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n",
    );
    for i in 0..PROGRAMS {
        s.push_str(&format!(
            "[program:p{i:03}]\ncommand=/bin/sleep 100000\nstartsecs=0\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n\n"
        ));
    }
    s
}

/// The engine, the image, then `reps` containers stopped and timed.
fn measure(env: &Env, plan: &Plan, bin: &Path) -> Result<Vec<f64>, String> {
    let dir = sys::make_dir(&env.tmp, "container");
    let sock = dir.join("d.sock");
    let log = std::fs::File::create(dir.join("dockerd.log")).map_err(|e| e.to_string())?;
    let child = Command::new("/usr/sbin/dockerd")
        .args([
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--storage-driver=vfs",
        ])
        .arg(format!("--data-root={}", dir.join("data").display()))
        .arg(format!("--exec-root={}", dir.join("exec").display()))
        .arg(format!("--pidfile={}", dir.join("d.pid").display()))
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("dockerd: {e}"))?;
    let mut engine = Guard::new(child);
    let result = (|| {
        let up = Instant::now() + Duration::from_secs(60);
        while docker(&sock, &["info"]).is_none() {
            if Instant::now() > up || engine.try_exited() {
                return Err("dockerd did not start".to_string());
            }
            sys::sleep(Duration::from_millis(200));
        }
        let ctx_dir = dir.join("ctx");
        let ctx = Command::new("bash")
            .arg(crate::repo_root().join("scripts/docker-context.sh"))
            .arg(bin)
            .arg(&ctx_dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !ctx.status.success() {
            return Err(format!(
                "docker-context: {}",
                String::from_utf8_lossy(&ctx.stderr)
            ));
        }
        let df = ctx_dir.join("Dockerfile.scratch");
        docker(
            &sock,
            &[
                "build",
                "-q",
                "-f",
                &df.to_string_lossy(),
                "-t",
                "srs-bench",
                &ctx_dir.to_string_lossy(),
            ],
        )
        .ok_or("docker build failed")?;
        let conf = dir.join("supervisord.conf");
        std::fs::write(&conf, config()).map_err(|e| e.to_string())?;
        let mount = format!("{}:/etc/supervisord.conf:ro", conf.display());
        let mut took = Vec::new();
        for rep in 0..plan.pid1_reps.min(5) {
            eprintln!("  .. docker stop, {PROGRAMS} programs, rep {}", rep + 1);
            let name = format!("srs-bench-{rep}");
            docker(
                &sock,
                &[
                    "run",
                    "-d",
                    "--network=none",
                    "-v",
                    &mount,
                    "--name",
                    &name,
                    "srs-bench",
                ],
            )
            .ok_or("docker run failed")?;
            let ready = Instant::now() + Duration::from_secs(60);
            loop {
                let status =
                    docker(&sock, &["exec", &name, "supervisorctl", "status"]).unwrap_or_default();
                if status.lines().filter(|l| l.contains(" RUNNING ")).count() == PROGRAMS {
                    break;
                }
                if Instant::now() > ready {
                    return Err(format!("{name}: programs not RUNNING"));
                }
                sys::sleep(Duration::from_millis(100));
            }
            let t0 = Instant::now();
            docker(&sock, &["stop", &name]).ok_or("docker stop failed")?;
            took.push(t0.elapsed().as_secs_f64() * 1e3);
            let code =
                docker(&sock, &["inspect", "-f", "{{.State.ExitCode}}", &name]).unwrap_or_default();
            if code != "0" {
                return Err(format!("{name} exited {code}"));
            }
            let _ = docker(&sock, &["rm", &name]);
        }
        Ok(took)
    })();
    if let Some(ids) = docker(&sock, &["ps", "-aq"]) {
        for id in ids.split_whitespace() {
            let _ = docker(&sock, &["rm", "-f", id]);
        }
    }
    sys::kill(engine.pid, libc::SIGTERM);
    if !engine.wait_exit(Duration::from_secs(20)) {
        engine.kill_all();
    }
    result
}

pub fn container(env: &Env, plan: &Plan) -> Vec<Figure> {
    let fig = Figure::new(
        format!("docker stop, static build as PID 1 of {PROGRAMS} programs"),
        "ms",
        "-",
    )
    .target(Target::OursBelow(1000.0));
    let ready = sys::is_root()
        && Path::new("/usr/sbin/dockerd").exists()
        && Path::new("/usr/bin/docker").exists();
    let Some(bin) = env.ours_static.as_deref().filter(|_| ready) else {
        return vec![fig.note("n/a: needs root, docker.io and the static build")];
    };
    match measure(env, plan, bin) {
        Ok(took) => vec![fig.ours(&took)],
        Err(e) => {
            eprintln!("  .. container: {e}");
            vec![fig.note(format!("n/a: {e}"))]
        }
    }
}
