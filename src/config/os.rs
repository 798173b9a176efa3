//! Every look-up of the host that the config layer makes, behind a few
//! functions: the working directory, the environment and host name, users
//! and groups, what is at a path, directory listings (for `[include]`
//! globs) and the bounded read of a config file.  The rest of `config`
//! only calls these, so it is pure apart from this file.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The working directory, `/` when it cannot be had (deleted, no access).
pub fn current_dir() -> String {
    std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".into())
}

/// This process's environment, in order, non-UTF-8 text replaced.
pub fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// The host name (`%(host_node_name)s`), empty when unknown.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The real uid of this process.
pub fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// A passwd entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    /// The primary group.
    pub gid: u32,
    pub home: String,
}

fn account(u: nix::unistd::User) -> Account {
    Account {
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        home: u.dir.to_string_lossy().into_owned(),
    }
}

/// The user with this uid, if the host has one.
pub fn user_by_uid(uid: u32) -> Option<Account> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(account)
}

/// The user with this name, if the host has one.
pub fn user_by_name(name: &str) -> Option<Account> {
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(account)
}

/// Whether the host has a group with this gid.
pub fn group_exists(gid: u32) -> bool {
    matches!(
        nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)),
        Ok(Some(_))
    )
}

/// The gid of the group with this name, if the host has one.
pub fn group_by_name(name: &str) -> Option<u32> {
    nix::unistd::Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// A directory is there (symlinks followed).
pub fn is_dir(p: &Path) -> bool {
    p.is_dir()
}

/// Something is there (symlinks followed).
pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// Something is there, a dangling symlink included (`os.path.lexists`).
pub fn lexists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

/// `None` when nothing is there; else whether it is a regular file with an
/// execute bit (symlinks followed).
pub fn executable_file(p: &Path) -> Option<bool> {
    let m = std::fs::metadata(p).ok()?;
    Some(m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The names in a directory that are valid UTF-8, in directory order;
/// `None` when it cannot be listed.
pub fn list_dir(d: &Path) -> Option<Vec<String>> {
    let rd = std::fs::read_dir(d).ok()?;
    Some(
        rd.flatten()
            .filter_map(|ent| ent.file_name().into_string().ok())
            .collect(),
    )
}

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Does not exist.
    NotFound,
    /// Not a regular file (FIFO, device, directory, socket...).
    NotRegular(&'static str),
    TooLarge,
    Io(String),
}

fn kind_name(ft: &std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Read a config file, bounded by `max` bytes, never blocking on a FIFO
/// or device: the type is checked before opening (and again after), and the
/// open is non-blocking.  `regular_only` refuses anything but a regular file
/// (includes); the root file may also be a pipe (`-c <(...)`).
pub fn read_file(path: &Path, regular_only: bool, max: u64) -> Result<Vec<u8>, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e.to_string()),
    })?;
    let ft = meta.file_type();
    if ft.is_dir() || (regular_only && !ft.is_file()) {
        return Err(ReadError::NotRegular(kind_name(&ft)));
    }
    if ft.is_file() && meta.len() > max {
        return Err(ReadError::TooLarge);
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    let meta = file.metadata().map_err(|e| ReadError::Io(e.to_string()))?;
    let ft = meta.file_type();
    if ft.is_dir() || (regular_only && !ft.is_file()) {
        return Err(ReadError::NotRegular(kind_name(&ft)));
    }
    if !ft.is_file() {
        // A pipe named as the root config: read it normally (blocking).
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on an fd we own; no memory is passed.
        unsafe {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            if fl >= 0 {
                libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
            }
        }
    }
    let mut buf = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    if buf.len() as u64 > max {
        return Err(ReadError::TooLarge);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 16 << 20;

    #[test]
    fn reading_refuses_fifos_and_devices() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(
            read_file(&fifo, true, MAX),
            Err(ReadError::NotRegular("a FIFO"))
        );
        assert_eq!(
            read_file(Path::new("/dev/zero"), true, MAX),
            Err(ReadError::NotRegular("a character device"))
        );
        // As the root file, a FIFO without a writer reads as empty, never hangs.
        assert_eq!(read_file(&fifo, false, MAX), Ok(Vec::new()));
        assert_eq!(
            read_file(&dir.path().join("nope"), true, MAX),
            Err(ReadError::NotFound)
        );
        assert_eq!(
            read_file(dir.path(), false, MAX),
            Err(ReadError::NotRegular("a directory"))
        );
        let start = std::time::Instant::now();
        assert_eq!(
            read_file(Path::new("/dev/zero"), false, MAX),
            Err(ReadError::TooLarge)
        );
        assert!(start.elapsed().as_secs() < 2);
    }
}
