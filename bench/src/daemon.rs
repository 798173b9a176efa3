//! The two daemons: where they come from, the generated config (the same
//! text for both except paths), starting one and waiting for its programs.

use crate::http::Addr;
use crate::sys::{self, Guard};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Ours,
    Ref,
    /// Our static (musl) build, the binary containers ship.
    OursStatic,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Ref => "python",
            Kind::OursStatic => "ours-static",
        }
    }
}

pub const BOTH: [Kind; 2] = [Kind::Ours, Kind::Ref];

/// Where everything the bench runs lives.
pub struct Env {
    pub ours: PathBuf,
    pub ours_static: Option<PathBuf>,
    pub ref_venv: PathBuf,
    pub tini: Option<PathBuf>,
    pub self_exe: PathBuf,
    pub tmp: PathBuf,
    /// A dir on tmpfs (`/dev/shm`) for the start rows, when there is one.
    pub shm: Option<PathBuf>,
}

impl Env {
    pub fn daemon_bin(&self, kind: Kind) -> PathBuf {
        match kind {
            Kind::Ours => self.ours.clone(),
            Kind::Ref => self.ref_venv.join("bin/supervisord"),
            Kind::OursStatic => self.ours_static.clone().unwrap_or_default(),
        }
    }
    pub fn ref_ctl(&self) -> PathBuf {
        self.ref_venv.join("bin/supervisorctl")
    }
    /// Command line of a helper program (see `helpers`).
    pub fn helper(&self, args: &str) -> String {
        format!("{} {}", self.self_exe.display(), args)
    }
}

/// One `[program:x]` section.
#[derive(Clone)]
pub struct Program {
    pub name: String,
    pub command: String,
    pub options: Vec<(&'static str, String)>,
}

impl Program {
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Program {
        Program {
            name: name.into(),
            command: command.into(),
            options: Vec::new(),
        }
    }
    pub fn opt(mut self, k: &'static str, v: impl Into<String>) -> Program {
        self.options.push((k, v.into()));
        self
    }
}

/// `n` long-running programs, each its own `[program:x]` (so each is its own
/// group, as in a typical config), RUNNING as soon as started.
pub fn sleepers(n: usize) -> Vec<Program> {
    (0..n)
        .map(|i| Program::new(format!("p{i:04}"), "sleep 100000").opt("startsecs", "0"))
        .collect()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The config text; everything but paths and the port is the same for both
/// daemons.  minfds is raised to cover pipes and log files of every program.
pub fn config_text(dir: &Path, port: u16, programs: &[Program], extra: &str) -> String {
    let d = dir.display();
    let minfds = (programs.len() * 8 + 256).max(1024);
    let mut s = format!(
        "[unix_http_server]\nfile={d}/supervisor.sock\n\n\
         [inet_http_server]\nport=127.0.0.1:{port}\n\n\
         [supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n\
         childlogdir={d}/logs\nnodaemon=true\nminfds={minfds}\nminprocs=200\nloglevel=info\nuser=root\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\n"
    );
    s.push_str(extra);
    for p in programs {
        let _ = writeln!(s, "[program:{}]\ncommand={}", p.name, p.command);
        for (k, v) in &p.options {
            let _ = writeln!(s, "{k}={v}");
        }
        s.push('\n');
    }
    s
}

pub struct Daemon {
    pub kind: Kind,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub guard: Guard,
    /// Just before fork+exec of the daemon.
    pub t_exec_ns: u64,
    pub unix: Addr,
    pub inet: Addr,
    log_pos: u64,
    running_seen: usize,
}

impl Daemon {
    /// Write the config into a fresh `dir` and start the daemon in the
    /// foreground, output to `dir/daemon.out`.
    pub fn start(env: &Env, kind: Kind, dir: PathBuf, programs: &[Program]) -> Daemon {
        Daemon::start_with(env, kind, dir, programs, "")
    }

    /// [`Daemon::start`] with `extra` sections in the config.
    pub fn start_with(
        env: &Env,
        kind: Kind,
        dir: PathBuf,
        programs: &[Program],
        extra: &str,
    ) -> Daemon {
        let port = free_port();
        std::fs::create_dir_all(dir.join("logs")).expect("logs dir");
        let conf = dir.join("supervisord.conf");
        std::fs::write(&conf, config_text(&dir, port, programs, extra)).expect("write config");
        let out = std::fs::File::create(dir.join("daemon.out")).expect("daemon.out");
        let mut cmd = Command::new(env.daemon_bin(kind));
        cmd.arg("-n")
            .arg("-c")
            .arg(&conf)
            .current_dir(&dir)
            .stdin(Stdio::null());
        cmd.stdout(out.try_clone().expect("dup")).stderr(out);
        let t_exec_ns = sys::now_ns();
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", kind.name()));
        Daemon {
            kind,
            unix: Addr::Unix(dir.join("supervisor.sock")),
            inet: Addr::Tcp(format!("127.0.0.1:{port}").parse().expect("addr")),
            conf,
            dir,
            guard: Guard::new(child),
            t_exec_ns,
            log_pos: 0,
            running_seen: 0,
        }
    }

    pub fn pid(&self) -> i32 {
        self.guard.pid
    }

    /// Wait until the main log has said `entered RUNNING state` `n` times in
    /// total (read from the log, so waiting costs the daemon nothing).
    /// Returns the monotonic time it was seen.
    pub fn wait_running(&mut self, n: usize, timeout: Duration) -> u64 {
        let end = Instant::now() + timeout;
        let log = self.dir.join("supervisord.log");
        loop {
            if let Ok(mut f) = std::fs::File::open(&log) {
                use std::io::{Read, Seek, SeekFrom};
                let mut s = Vec::new();
                if f.seek(SeekFrom::Start(self.log_pos)).is_ok() && f.read_to_end(&mut s).is_ok() {
                    // Count complete lines only; a partial line is read again.
                    if let Some(last) = s.iter().rposition(|&b| b == b'\n') {
                        let text = String::from_utf8_lossy(&s[..last]);
                        self.running_seen += text.matches("entered RUNNING state").count();
                        self.log_pos += last as u64 + 1;
                    }
                }
            }
            if self.running_seen >= n {
                return sys::now_ns();
            }
            if Instant::now() > end {
                panic!(
                    "{}: {} of {n} programs RUNNING after {:?} (see {})",
                    self.kind.name(),
                    self.running_seen,
                    timeout,
                    self.dir.display()
                );
            }
            if self.guard.try_exited() {
                panic!(
                    "{} exited early (see {}/daemon.out)",
                    self.kind.name(),
                    self.dir.display()
                );
            }
            sys::sleep(Duration::from_micros(500));
        }
    }

    /// Wait until the RPC socket answers.
    pub fn wait_rpc(&self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while crate::http::call(&self.unix, "supervisor.getPID", &[]).is_err() {
            if Instant::now() > end {
                panic!("{}: no RPC answer after {timeout:?}", self.kind.name());
            }
            sys::sleep(Duration::from_millis(5));
        }
    }
}
