//! The static binary as PID 1 of a `FROM scratch` image under a real
//! Docker engine: `docker exec supervisorctl`, HEALTHCHECK, `docker stop`,
//! `docker logs`, zombies, a non-root container.

use crate::util::docker::{Engine, scratch_context, static_binary};
use crate::util::*;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// Engine plus the example image built from docker/Dockerfile.scratch.
fn engine_with_image(name: &str) -> Option<(Engine, &'static str)> {
    let bin = static_binary();
    if !skip_unless(bin.is_some(), "no static build (scripts/build-static.sh)") {
        return None;
    }
    let engine = Engine::start(name)?;
    let ctx = scratch_context(&bin?, &engine.dir().join("ctx"))?;
    let tag = "supervisor-rs-test:scratch";
    engine.build(&ctx.join("Dockerfile.scratch"), &ctx, tag);
    Some((engine, tag))
}

fn ctl_status(e: &Engine, c: &str, user: Option<&str>) -> String {
    let mut args = vec!["exec"];
    if let Some(u) = user {
        args.extend(["--user", u]);
    }
    args.extend([c, "supervisorctl", "status"]);
    let o = e.docker(&args);
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn all_running(status: &str, names: &[&str]) -> bool {
    names.iter().all(|n| {
        status
            .lines()
            .any(|l| l.split_whitespace().take(2).eq([*n, "RUNNING"]))
    })
}

/// Wait until `supervisorctl status` in `c` (as `user`) shows `names` RUNNING.
fn wait_running(e: &Engine, c: &str, user: Option<&str>, names: &[&str]) {
    let mut status = String::new();
    wait_until(T, &format!("{names:?} RUNNING"), || {
        status = ctl_status(e, c, user);
        all_running(&status, names)
    })
    .unwrap_or_else(|err| panic!("{err}\n{status}\n{}", e.logs(c)));
}

/// `docker stop`; returns how long it took.
fn timed_stop(e: &Engine, c: &str) -> Duration {
    let t0 = Instant::now();
    e.ok(&["stop", c]);
    t0.elapsed()
}

#[test]
fn docker_scratch_image_runs_the_example_as_pid1() {
    let Some((e, image)) = engine_with_image("example") else {
        return;
    };
    let c = "sv-example";
    e.ok(&[
        "run",
        "-d",
        "--network=none",
        "--health-interval=1s",
        "--name",
        c,
        image,
    ]);
    wait_running(&e, c, None, &["web", "heartbeat"]);
    // The image's HEALTHCHECK asks /readyz on the health port.
    e.wait_state(c, "{{.State.Health.Status}}", "healthy", T);
    // PID 1 is supervisord.
    let comm = e.ok(&["exec", c, "cat", "/proc/1/comm"]);
    assert_eq!(comm, "supervisord");
    // docker logs: the main log and the programs' output.
    let logs = e.logs(c);
    assert!(logs.contains("supervisord started with pid 1"), "{logs}");
    assert!(logs.contains("heartbeat: web is up"), "{logs}");
    // docker stop: SIGTERM to PID 1, every program stopped, exit 0, fast.
    let took = timed_stop(&e, c);
    assert_eq!(e.inspect(c, "{{.State.ExitCode}}"), "0");
    let logs = e.logs(c);
    assert!(logs.contains("heartbeat: got TERM"), "{logs}");
    assert!(
        logs.contains("stopped: web (terminated by SIGTERM)"),
        "{logs}"
    );
    assert!(logs.contains("supervisord exiting"), "{logs}");
    assert!(
        took < Duration::from_secs(1),
        "docker stop took {took:?}\n{logs}"
    );
}

#[test]
fn docker_scratch_image_runs_as_a_non_root_user() {
    let Some((e, image)) = engine_with_image("nonroot") else {
        return;
    };
    let c = "sv-user";
    e.ok(&[
        "run",
        "-d",
        "--network=none",
        "--user",
        "1000:1000",
        "--name",
        c,
        image,
    ]);
    wait_running(&e, c, Some("1000:1000"), &["web", "heartbeat"]);
    let uid = e.ok(&["exec", c, "sh", "-c", "grep '^Uid:' /proc/1/status"]);
    assert!(uid.split_whitespace().nth(1) == Some("1000"), "{uid}");
    timed_stop(&e, c);
    assert_eq!(e.inspect(c, "{{.State.ExitCode}}"), "0", "{}", e.logs(c));
}

/// A config mounted over the example's: programs that report their stop
/// signal, a program that leaves an orphan behind, and a web server that
/// goes FATAL once /tmp/broken exists.
const TEST_CONF: &str = r#"[supervisord]
nodaemon=true
logfile=/dev/stdout
logfile_maxbytes=0
silent=true
pidfile=/tmp/supervisord.pid

[unix_http_server]
file=/tmp/supervisor.sock

[supervisorctl]
serverurl=unix:///tmp/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[health_server]
port=127.0.0.1:9002

[program:web]
command=/bin/sh -c 'test -e /tmp/broken && exit 1; exec httpd -f -p 8080 -h /srv'
startsecs=1
startretries=0
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0

[program:a]
command=/bin/sh -c 'trap "echo a got TERM; exit 0" TERM; echo a up; while :; do sleep 1 & wait $!; done'
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
stopasgroup=true

[program:b]
command=/bin/sh -c 'trap "echo b got INT; exit 0" INT; echo b up; while :; do sleep 1 & wait $!; done'
stopsignal=INT
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
stopasgroup=true

[program:forker]
command=/bin/sh -c 'while :; do sh -c "sleep 0.05 & exit 0"; sleep 0.2; done'
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
stopasgroup=true
"#;

fn zombies_in(e: &Engine, c: &str) -> Vec<String> {
    // A process listed by the glob may be gone (reaped) before `cat` opens
    // its stat file, which makes `cat` fail: what it read is still right.
    let stats = e.ok(&[
        "exec",
        c,
        "sh",
        "-c",
        "cat /proc/[0-9]*/stat 2>/dev/null; true",
    ]);
    stats
        .lines()
        .filter(|l| {
            l.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn docker_container_reaps_orphans_reports_health_and_stops_every_program() {
    let Some((e, image)) = engine_with_image("behaviour") else {
        return;
    };
    let conf_dir = e.dir().join("conf");
    std::fs::create_dir_all(&conf_dir).expect("conf dir");
    std::fs::write(conf_dir.join("supervisord.conf"), TEST_CONF).expect("conf");
    let mount = format!(
        "{}:/etc/supervisord.conf:ro",
        conf_dir.join("supervisord.conf").display()
    );
    let c = "sv-behaviour";
    e.ok(&[
        "run",
        "-d",
        "--network=none",
        "--health-interval=1s",
        "--health-retries=2",
        "-v",
        &mount,
        "--name",
        c,
        image,
    ]);
    wait_running(&e, c, None, &["web", "a", "b", "forker"]);
    e.wait_state(c, "{{.State.Health.Status}}", "healthy", T);

    // The forker leaves an orphan every 200 ms; none stays a zombie.
    let t0 = Instant::now();
    let mut worst = Vec::new();
    while t0.elapsed() < Duration::from_secs(2) {
        let z = zombies_in(&e, c);
        // A zombie seen twice, 300 ms apart, was not reaped.
        std::thread::sleep(Duration::from_millis(300));
        let again = zombies_in(&e, c);
        worst.extend(z.into_iter().filter(|x| again.contains(x)));
    }
    assert!(worst.is_empty(), "zombies left in the container: {worst:?}");

    // web goes FATAL: the HEALTHCHECK (readyz) turns unhealthy.
    e.ok(&["exec", c, "touch", "/tmp/broken"]);
    let _ = e.docker(&["exec", c, "supervisorctl", "restart", "web"]);
    wait_until(T, "web FATAL", || ctl_status(&e, c, None).contains("FATAL"))
        .unwrap_or_else(|err| panic!("{err}\n{}", e.logs(c)));
    e.wait_state(c, "{{.State.Health.Status}}", "unhealthy", T);

    // docker stop: each program gets its own stopsignal; exit 0.
    let took = timed_stop(&e, c);
    assert_eq!(e.inspect(c, "{{.State.ExitCode}}"), "0");
    let logs = e.logs(c);
    for want in [
        "a got TERM",
        "b got INT",
        "stopped: a (exit status 0)",
        "stopped: b (exit status 0)",
    ] {
        assert!(logs.contains(want), "{want} missing:\n{logs}");
    }
    assert!(took < Duration::from_secs(1), "docker stop took {took:?}");
}

/// `exit_supervisor_on=any` under a real engine: `docker run` (attached,
/// as a one-shot job is run) returns the program's status, and the other
/// program was stopped first (its TERM trap prints to `docker logs`).
const FAIL_FAST_CONF: &str = r#"[supervisord]
nodaemon=true
logfile=/dev/stdout
logfile_maxbytes=0
pidfile=/tmp/supervisord.pid

[program:web]
command=/bin/sh -c 'trap "echo web got TERM; exit 0" TERM; while :; do sleep 0.05; done'
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
startsecs=0

[program:job]
command=/bin/sh -c 'sleep 0.5; exit 42'
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
startsecs=0
autorestart=false
exit_supervisor_on=any
"#;

#[test]
fn docker_run_returns_the_status_of_a_program_with_exit_supervisor_on() {
    let Some((e, image)) = engine_with_image("failfast") else {
        return;
    };
    let conf_dir = e.dir().join("conf");
    std::fs::create_dir_all(&conf_dir).expect("conf dir");
    std::fs::write(conf_dir.join("supervisord.conf"), FAIL_FAST_CONF).expect("conf");
    let mount = format!(
        "{}:/etc/supervisord.conf:ro",
        conf_dir.join("supervisord.conf").display()
    );
    let c = "sv-failfast";
    let out = e.docker(&["run", "--network=none", "-v", &mount, "--name", c, image]);
    assert_eq!(
        out.status.code(),
        Some(42),
        "docker run: {}\n{}",
        output_text(&out),
        e.logs(c)
    );
    let logs = e.logs(c);
    assert!(logs.contains("web got TERM"), "{logs}");
    assert!(logs.contains("exit_supervisor_on=any"), "{logs}");
    let _ = e.docker(&["rm", "-f", c]);
}
