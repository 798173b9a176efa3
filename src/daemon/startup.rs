//! Startup: privileges, limits, the main log, sockets, daemonizing, then the
//! loop.

use crate::cli::DaemonArgs;
use crate::config::{Loaded, LogLevel};
use crate::daemon::core::Supervisor;
use crate::daemon::signals::Signals;
use crate::daemon::sockets::PidFile;
use crate::daemon::{pid1, signals};
use crate::events::Event;
use crate::logs::MainLog;
use crate::process::spawn;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// Exit status for usage and configuration errors (Supervisor's `usage()`).
pub const EXIT_USAGE: i32 = 2;

/// Ensure fds 0-2 are open, so pipes we create never land on them.
pub(in crate::daemon) fn ensure_std_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD probe and open(2) of /dev/null.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) < 0 {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
}

/// Drop to `user=` for supervisord itself (Supervisor's `set_uid_or_exit`).
pub(in crate::daemon) fn drop_privileges(user: &str) -> Result<(), String> {
    use nix::unistd::{Gid, Uid, getuid, setgid, setgroups, setuid};
    let target = spawn::resolve_user(user)?;
    let current = getuid();
    if current.as_raw() == target.uid {
        return Ok(());
    }
    if !current.is_root() {
        return Err("Can't drop privilege as nonroot user".into());
    }
    let groups: Vec<Gid> = target.groups.iter().map(|&g| Gid::from_raw(g)).collect();
    setgroups(&groups).map_err(|_| "Could not set groups of effective user".to_string())?;
    setgid(Gid::from_raw(target.gid))
        .map_err(|_| "Could not set group id of effective user".to_string())?;
    setuid(Uid::from_raw(target.uid))
        .map_err(|_| "Could not set user id of effective user".to_string())?;
    Ok(())
}

/// Raise RLIMIT_NOFILE / RLIMIT_NPROC to minfds / minprocs, or fail like
/// Supervisor.  Returns informational lines.
pub(in crate::daemon) fn set_rlimits(minfds: u64, minprocs: u64) -> Result<Vec<String>, String> {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};
    let mut infos = Vec::new();
    let limits = [
        (
            Resource::RLIMIT_NOFILE,
            "RLIMIT_NOFILE",
            minfds,
            "The minimum number of file descriptors required to run this process is {min} as per the \"minfds\" command-line argument or config file setting. The current environment will only allow you to open {hard} file descriptors.  Either raise the number of usable file descriptors in your environment or lower the minfds setting in the config file to allow the process to start.",
        ),
        (
            Resource::RLIMIT_NPROC,
            "RLIMIT_NPROC",
            minprocs,
            "The minimum number of available processes required to run this program is {min} as per the \"minprocs\" command-line argument or config file setting. The current environment will only allow you to open {hard} processes.  Either raise the number of usable processes in your environment or lower the minprocs setting in the config file to allow the program to start.",
        ),
    ];
    for (res, name, min, msg) in limits {
        let Ok((soft, hard)) = getrlimit(res) else {
            continue;
        };
        if soft != RLIM_INFINITY && soft < min {
            let new_hard = if hard != RLIM_INFINITY && hard < min {
                min
            } else {
                hard
            };
            if setrlimit(res, min, new_hard).is_err() {
                return Err(msg
                    .replace("{min}", &min.to_string())
                    .replace("{hard}", &hard.to_string()));
            }
            infos.push(format!("Increased {name} limit to {min}"));
        }
    }
    Ok(infos)
}

/// The open-files limit spawned children inherit (bounded).
pub(in crate::daemon) fn open_files_limit() -> i32 {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) if soft != RLIM_INFINITY => soft.min(1 << 20) as i32,
        _ => 65536,
    }
}

/// Fork into the background (Supervisor's `daemonize`): the parent waits
/// until the child has written its pidfile, so `Type=forking` units see it.
pub(in crate::daemon) fn daemonize(
    directory: Option<&std::path::Path>,
    umask: u32,
    log: &mut MainLog,
) -> Result<OwnedFd, String> {
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: fork(2) while single-threaded (no helper threads exist yet).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid > 0 {
        drop(w);
        let mut b = [0u8; 1];
        let ok = matches!(nix::unistd::read(&r, &mut b), Ok(1));
        // SAFETY: leave without running destructors (they belong to the child now).
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    drop(r);
    log.log(LogLevel::Info, "daemonizing the supervisord process");
    let _ = nix::unistd::setsid();
    if let Some(dir) = directory {
        match std::env::set_current_dir(dir) {
            Ok(()) => log.log(
                LogLevel::Info,
                &format!(
                    "set current directory: {}",
                    spawn::py_repr(&dir.display().to_string())
                ),
            ),
            Err(e) => log.log(
                LogLevel::Critical,
                &format!(
                    "can't chdir into {}: {e}",
                    spawn::py_repr(&dir.display().to_string())
                ),
            ),
        }
    }
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        umask as libc::mode_t,
    ));
    Ok(w)
}

/// SPEC Part B: a main log that cannot rotate (`/dev/stdout`, a pipe...)
/// is written without rotation; say so at start when maxbytes asks for it.
pub(in crate::daemon) fn warn_if_main_log_unrotatable(log: &mut MainLog) {
    if log.rotation_skipped() {
        let path = log
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        log.log(
            LogLevel::Warn,
            &format!("logfile is not a regular file ({path}): logfile_maxbytes is ignored, it will not be rotated"),
        );
    }
}

/// Start the daemon with a loaded config; returns the exit status.
pub fn start(config_path: PathBuf, args: DaemonArgs, loaded: Loaded) -> i32 {
    ensure_std_fds();
    let Loaded {
        config,
        warnings,
        infos,
    } = loaded;
    let sd = config.supervisord.clone();
    // The spawn slots first, so they are the lowest free descriptors.
    crate::process::spawn::reserve_fds();
    let mut log = MainLog::early();

    // Privileges first, then limits, then the log (Supervisor's order).
    match &sd.user {
        Some(user) => {
            if let Err(e) = drop_privileges(user) {
                eprintln!("Error: {e}");
                return EXIT_USAGE;
            }
        }
        None => {
            if nix::unistd::getuid().is_root() {
                log.log(LogLevel::Critical, "Supervisor is running as root.  Privileges were not dropped because no user is specified in the config file.  If you intend to run as root, you can set user=root in the config file to avoid this message.");
            }
        }
    }
    match set_rlimits(sd.minfds, sd.minprocs) {
        Ok(lines) => lines.iter().for_each(|l| log.log(LogLevel::Info, l)),
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
    }
    for w in &warnings {
        log.log(LogLevel::Warn, &w.to_string());
    }
    for i in &infos {
        log.log(LogLevel::Info, i);
    }
    log.set_format(sd.log_format);
    if let Err(e) = log.open(
        &sd.logfile,
        sd.logfile_maxbytes,
        sd.logfile_backups,
        sd.loglevel,
        sd.nodaemon && !sd.silent,
    ) {
        eprintln!("Error: could not open the main log: {e}");
        return EXIT_USAGE;
    }
    warn_if_main_log_unrotatable(&mut log);
    if !sd.nocleanup
        && let Err(e) = crate::logs::cleanup_auto_logs(&sd.childlogdir, &sd.identifier)
    {
        log.log(
            LogLevel::Warn,
            &format!(
                "could not clean up AUTO child logs in {}: {e}",
                sd.childlogdir.display()
            ),
        );
    }
    let signals = match Signals::install(&signals::HANDLED) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: could not install signal handlers: {e}");
            return EXIT_USAGE;
        }
    };
    let mut sup = Supervisor::new(
        config_path,
        args,
        config,
        log,
        Some(signals),
        Box::new(crate::daemon::os::RealOs),
        open_files_limit(),
    );
    sup.listen_for_forwarded();
    if let Err(e) = sup.open_servers() {
        sup.log.log(LogLevel::Critical, &e);
        eprintln!("Error: {e}");
        return EXIT_USAGE;
    }
    match PidFile::lock(&sup.config.supervisord.pidfile) {
        Ok(p) => sup.pidfile = Some(p),
        Err(e) => {
            sup.log.log(LogLevel::Critical, &e);
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
    }
    let ready = if !sup.config.supervisord.nodaemon {
        match daemonize(
            sup.config.supervisord.directory.as_deref(),
            sup.config.supervisord.umask,
            &mut sup.log,
        ) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("Error: could not daemonize: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        None
    };
    if let Some(p) = sup.pidfile.as_mut()
        && let Err(e) = p.write_pid()
    {
        sup.log.log(
            LogLevel::Critical,
            &format!(
                "could not write pidfile {}: {e}",
                sup.config.supervisord.pidfile.display()
            ),
        );
    }
    if let Some(w) = ready {
        let _ = nix::unistd::write(&w, b"1");
    }
    if !pid1::is_pid1()
        && let Err(e) = pid1::become_subreaper()
    {
        sup.log.log(LogLevel::Warn, &format!("could not become a child subreaper ({e}): orphans of programs will not be reaped by supervisord"));
    }
    match crate::daemon::bridge::Bridge::new() {
        Ok(b) => sup.bridge = Some(b),
        Err(e) => {
            sup.log.log(
                LogLevel::Critical,
                &format!("could not create the RPC channel: {e}"),
            );
            return EXIT_USAGE;
        }
    }
    sup.serve_listeners();
    sup.add_configured_groups();
    sup.log.log(
        LogLevel::Info,
        &format!(
            "supervisor-rs {} (a drop-in for Supervisor {})",
            crate::BUILD_VERSION,
            crate::SUPERVISOR_VERSION
        ),
    );
    sup.log.log(
        LogLevel::Info,
        &format!("supervisord started with pid {}", std::process::id()),
    );
    sup.bus.publish(Event::supervisor_state(true));
    sup.run_loop();
    sup.finish()
}
