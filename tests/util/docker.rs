//! A private Docker engine for one test: `dockerd` with its own socket,
//! data and exec dirs, no networking of its own (`--bridge=none`, no
//! iptables) and the vfs storage driver, stopped by PID when dropped.
//! Images are built only from local files (`FROM scratch`): no registry is
//! reached.

use super::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long `dockerd` may take to answer.
const ENGINE_START: Duration = Duration::from_secs(60);
/// One docker CLI call (a build included).
const CLI_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Engine {
    dir: tempfile::TempDir,
    daemon: Option<Child>,
    sock: PathBuf,
}

/// The docker CLI that matches Debian's engine (a newer client elsewhere on
/// PATH may speak a newer API than the engine).
fn cli_path() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/docker");
    if debian.exists() {
        debian
    } else {
        PathBuf::from("docker")
    }
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        || Path::new("/usr/sbin").join(prog).is_file()
}

impl Engine {
    /// Start an engine, or None (after [`skip_unless`]) where none can run:
    /// not root, no dockerd, or it does not come up.
    pub fn start(name: &str) -> Option<Engine> {
        if !skip_unless(is_root(), "a Docker engine needs root") {
            return None;
        }
        if !skip_unless(
            on_path("dockerd"),
            "dockerd is not installed (apt-get install docker.io)",
        ) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("srs-dk-{name}-"))
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        let sock = dir.path().join("d.sock");
        let log = File::create(dir.path().join("dockerd.log")).expect("dockerd.log");
        let dockerd = if Path::new("/usr/sbin/dockerd").exists() {
            PathBuf::from("/usr/sbin/dockerd")
        } else {
            PathBuf::from("dockerd")
        };
        let mut c = Command::new(dockerd);
        c.args([
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--storage-driver=vfs",
        ])
        .arg(format!("--data-root={}", dir.path().join("data").display()))
        .arg(format!("--exec-root={}", dir.path().join("exec").display()))
        .arg(format!(
            "--pidfile={}",
            dir.path().join("dockerd.pid").display()
        ))
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log);
        let daemon = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dockerd: {e}"));
        let mut engine = Engine {
            dir,
            daemon: Some(daemon),
            sock,
        };
        let up = wait_until(ENGINE_START, "dockerd to answer", || {
            engine.daemon_alive() && engine.docker(&["info"]).status.success()
        });
        if let Err(e) = up {
            let log = read_lossy(&engine.dir.path().join("dockerd.log"));
            let why = format!(
                "the Docker engine did not start ({e}):\n{}",
                tail(&log, 3000)
            );
            drop(engine);
            skip_unless(false, &why);
            return None;
        }
        Some(engine)
    }

    fn daemon_alive(&mut self) -> bool {
        self.daemon
            .as_mut()
            .is_some_and(|d| matches!(d.try_wait(), Ok(None)))
    }

    /// Run `docker ARGS` against this engine.
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut c = Command::new(cli_path());
        c.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args);
        run_with_timeout(&mut c, CLI_TIMEOUT).unwrap_or_else(|e| panic!("docker {args:?}: {e}"))
    }

    /// `docker ARGS`, which must succeed; its stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?} failed:\n{}",
            output_text(&o)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// A field of `docker inspect` (a Go template such as `{{.State.Status}}`).
    pub fn inspect(&self, container: &str, template: &str) -> String {
        self.ok(&["inspect", "-f", template, container])
    }

    /// stdout + stderr of `docker logs`.
    pub fn logs(&self, container: &str) -> String {
        let o = self.docker(&["logs", container]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    /// Wait until `docker inspect` gives `want` for `template`.
    pub fn wait_state(&self, container: &str, template: &str, want: &str, timeout: Duration) {
        let mut last = String::new();
        let r = wait_until(
            timeout,
            &format!("{container}: {template} = {want}"),
            || {
                last = self.inspect(container, template);
                last == want
            },
        );
        if let Err(e) = r {
            panic!(
                "{e} (last: {last})\n--- logs:\n{}",
                tail(&self.logs(container), 4000)
            );
        }
    }

    /// The CLI and the `-H` value, for tools that drive this engine.
    pub fn cli_and_host(&self) -> (PathBuf, String) {
        (cli_path(), format!("unix://{}", self.sock.display()))
    }

    /// A scratch dir of this engine's test (for build contexts, mounts).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Build `dockerfile` with context `ctx` as `tag`.
    pub fn build(&self, dockerfile: &Path, ctx: &Path, tag: &str) {
        let t0 = Instant::now();
        let df = dockerfile.to_string_lossy();
        let c = ctx.to_string_lossy();
        self.ok(&["build", "-q", "-f", &df, "-t", tag, &c]);
        eprintln!("built {tag} in {:?}", t0.elapsed());
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Containers first (their shims are dockerd's children), then the
        // engine by PID: SIGTERM, a grace, SIGKILL.
        if self.daemon_alive() {
            let ids = String::from_utf8_lossy(&self.docker(&["ps", "-aq"]).stdout).to_string();
            for id in ids.split_whitespace() {
                let _ = self.docker(&["rm", "-f", id]);
            }
        }
        if let Some(mut d) = self.daemon.take() {
            let pid = d.id() as i32;
            send_signal(pid, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && matches!(d.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = d.kill();
            let _ = d.wait();
        }
        // Nothing of the engine may stay mounted under its dirs.
        let root = self.dir.path().to_string_lossy().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&root))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in ours {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

/// The static build of our binary for images: `SUPERVISORD_STATIC_BIN`, the
/// binary under test if it is static, or the musl release build. None when
/// there is none (then the caller skips, or fails under CI).
pub fn static_binary() -> Option<PathBuf> {
    let is_static = |p: &Path| {
        p.is_file()
            && Command::new("bash")
                .arg(repo_root().join("scripts/check-static.sh"))
                .arg(p)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    };
    let candidates = [
        std::env::var_os("SUPERVISORD_STATIC_BIN").map(PathBuf::from),
        Some(supervisord_bin()),
        Some(repo_root().join("target/x86_64-unknown-linux-musl/release/supervisord")),
    ];
    candidates.into_iter().flatten().find(|p| is_static(p))
}

/// Stage the context of docker/Dockerfile.scratch with `bin` in `dir` and
/// return it.
pub fn scratch_context(bin: &Path, dir: &Path) -> Option<PathBuf> {
    let mut c = Command::new("bash");
    c.arg(repo_root().join("scripts/docker-context.sh"))
        .arg(bin)
        .arg(dir);
    let o = run_with_timeout(&mut c, CLI_TIMEOUT).unwrap_or_else(|e| panic!("docker-context: {e}"));
    if !skip_unless(
        o.status.success(),
        &format!("cannot stage the image: {}", output_text(&o)),
    ) {
        return None;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
}
