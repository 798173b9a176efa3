//! The configured HTTP listening sockets and the pidfile lock.  They are
//! created before daemonizing so that a second supervisord on the same socket,
//! port or pidfile refuses to start with a clear message; the RPC layer serves
//! the listeners.

use crate::config::{FcgiSocket, InetHttpServer, Owner, UnixHttpServer};
use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

const IN_USE: &str = "Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord.";

/// A bound listener and the section it came from.
pub enum Listener {
    Unix {
        section: String,
        path: PathBuf,
        listener: UnixListener,
    },
    Inet {
        section: String,
        listener: TcpListener,
    },
}

fn resolve_owner(o: &Owner) -> Result<(libc::uid_t, Option<libc::gid_t>), String> {
    use nix::unistd::{Group, User};
    let user = match o.user.parse::<u32>() {
        Ok(n) => User::from_uid(n.into()).ok().flatten(),
        Err(_) => User::from_name(&o.user).ok().flatten(),
    }
    .ok_or_else(|| format!("Invalid user name {}", o.user))?;
    let gid = match &o.group {
        None => Some(user.gid.as_raw()),
        Some(g) => Some(
            match g.parse::<u32>() {
                Ok(n) => Group::from_gid(n.into()).ok().flatten(),
                Err(_) => Group::from_name(g).ok().flatten(),
            }
            .ok_or_else(|| format!("Invalid group name {g}"))?
            .gid
            .as_raw(),
        ),
    };
    Ok((user.uid.as_raw(), gid))
}

/// Bind a unix socket, replacing a stale socket file left by a dead daemon
/// but refusing when a live one answers on it.
pub fn bind_unix(s: &UnixHttpServer) -> Result<Listener, String> {
    let path = &s.file;
    if std::fs::symlink_metadata(path).is_ok() {
        if UnixStream::connect(path).is_ok() {
            return Err(IN_USE.to_string());
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("Cannot remove stale socket file {}: {e}", path.display()))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| {
        format!(
            "Cannot open an HTTP server: socket.error reported {e} for {}",
            path.display()
        )
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(s.chmod)).map_err(|e| {
        format!(
            "Could not change permissions of socket file {}: {e}",
            path.display()
        )
    })?;
    if let Some(owner) = &s.chown {
        let (uid, gid) = resolve_owner(owner)?;
        std::os::unix::fs::chown(path, Some(uid), gid).map_err(|e| {
            format!(
                "Could not change ownership of socket file {}: {e}",
                path.display()
            )
        })?;
    }
    Ok(Listener::Unix {
        section: s.section.clone(),
        path: path.clone(),
        listener,
    })
}

pub fn bind_inet(s: &InetHttpServer) -> Result<Listener, String> {
    let host = if s.host.is_empty() || s.host == "*" {
        "0.0.0.0"
    } else {
        s.host.as_str()
    };
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let listener = TcpListener::bind((host, s.port)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            IN_USE.to_string()
        } else {
            format!(
                "Cannot open an HTTP server: socket.error reported {e} for {}:{}",
                s.host, s.port
            )
        }
    })?;
    Ok(Listener::Inet {
        section: s.section.clone(),
        listener,
    })
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The pidfile, held under an exclusive lock for the daemon's life: a second
/// daemon with the same pidfile cannot take it, and a stale file from a dead
/// daemon is never mistaken for a live one.
pub struct PidFile {
    path: PathBuf,
    file: File,
}

impl PidFile {
    pub fn lock(path: &Path) -> Result<PidFile, String> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("could not write pidfile {}: {e}", path.display()))?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let other = std::fs::read_to_string(path).unwrap_or_default();
            return Err(format!(
                "Another supervisord is already running with pidfile {} (pid {}). Shut it down first.",
                path.display(),
                other.trim()
            ));
        }
        Ok(PidFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Write our (post-daemonize) pid.
    pub fn write_pid(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        let mut f = &self.file;
        f.write_all(format!("{}\n", std::process::id()).as_bytes())?;
        Ok(())
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Bind the socket of an `[fcgi-program:x]` (`unix:///path` or `tcp://host:port`).
pub fn bind_fcgi(socket: &FcgiSocket, backlog: u32) -> Result<std::os::fd::OwnedFd, String> {
    use nix::sys::socket::{Backlog, listen};
    let backlog = Backlog::new(backlog.min(i32::MAX as u32) as i32)
        .map_err(|e| format!("invalid socket_backlog: {e}"))?;
    match socket {
        FcgiSocket::Unix { path, owner, mode } => {
            if std::fs::symlink_metadata(path).is_ok() {
                std::fs::remove_file(path)
                    .map_err(|e| format!("Could not remove {}: {e}", path.display()))?;
            }
            let l = UnixListener::bind(path).map_err(|e| {
                format!(
                    "Could not create FastCGI socket unix://{}: {e}",
                    path.display()
                )
            })?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode))
                .map_err(|e| format!("Could not change permissions of {}: {e}", path.display()))?;
            if let Some(o) = owner {
                let (uid, gid) = resolve_owner(o)?;
                std::os::unix::fs::chown(path, Some(uid), gid).map_err(|e| {
                    format!("Could not change ownership of {}: {e}", path.display())
                })?;
            }
            let fd = std::os::fd::OwnedFd::from(l);
            listen(&fd, backlog).map_err(|e| format!("listen: {e}"))?;
            Ok(fd)
        }
        FcgiSocket::Tcp { host, port } => {
            let h = if host.is_empty() || host == "*" {
                "0.0.0.0"
            } else if host == "localhost" {
                "127.0.0.1"
            } else {
                host.as_str()
            };
            let l = TcpListener::bind((h, *port))
                .map_err(|e| format!("Could not create FastCGI socket tcp://{host}:{port}: {e}"))?;
            let fd = std::os::fd::OwnedFd::from(l);
            listen(&fd, backlog).map_err(|e| format!("listen: {e}"))?;
            Ok(fd)
        }
    }
}
