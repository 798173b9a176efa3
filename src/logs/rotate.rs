//! A log file with Supervisor's size-based rotation
//! (`loggers.RotatingFileHandler`), shared by the main log and child logs.
//!
//! Rules, as in Supervisor:
//! - the whole buffer is written first; if the file has then reached
//!   `maxbytes`, it is rotated (`log` → `log.1` → … → `log.N`) and a new
//!   empty `log` is opened.  A file exceeds `maxbytes` only by its last write
//!   and no write is ever split between two files.  The same holds for each
//!   `splice` of child output: a program writing whole lines finds whole
//!   lines in every file.
//! - `backups == 0` truncates the file in place; `maxbytes == 0` never rotates.
//!
//! Beyond Supervisor:
//! - non-seekable targets (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, FIFOs,
//!   character devices, sockets) are opened without any seek and are never
//!   rotated (see [`RotatingFile::is_rotatable`]); the standard streams are
//!   `dup`ed rather than reopened so a socket or pipe stdout works too.
//! - after a failure (disk full, directory removed, rotation could not open
//!   the new file) the next write reopens the path, so logging resumes by
//!   itself once the cause is gone.
//! - the size is tracked in memory (no `stat` per write).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A size-rotated log file.  See the module documentation.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    maxbytes: u64,
    backups: u32,
    /// `None` after a failure: the next write reopens.
    file: Option<File>,
    /// Bytes in the current file (from `fstat` at open, then counted).
    size: u64,
    /// Regular file: rotation applies.  Decided at each successful open
    /// and kept across failures.
    regular: bool,
    /// At least one open succeeded (so `regular` means something).
    opened_once: bool,
    /// Between [`begin_chunk`](Self::begin_chunk) and
    /// [`end_chunk`](Self::end_chunk): writes do not rotate.
    in_chunk: bool,
}

/// Bounds of one `splice`, a chunk of output never split between two files
/// (see [`splice_chunk`]).  The lower one is the daemon's read buffer, the
/// upper one a full pipe.
const SPLICE_CHUNK_MIN: usize = 64 << 10;
const SPLICE_CHUNK_MAX: usize = 1 << 20;

/// The largest single `splice` into a log of `maxbytes`: a sixteenth of it
/// within [`SPLICE_CHUNK_MIN`, `SPLICE_CHUNK_MAX`].  A file exceeds
/// `maxbytes` by less than one chunk, so a small log overshoots by no more
/// than on the read path (Supervisor: its 128 KiB reads), while a large one
/// keeps the fewest, largest splices.
fn splice_chunk(maxbytes: u64) -> usize {
    if maxbytes == 0 {
        return SPLICE_CHUNK_MAX;
    }
    (maxbytes / 16).clamp(SPLICE_CHUNK_MIN as u64, SPLICE_CHUNK_MAX as u64) as usize
}

/// What `splice_from` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Spliced {
    pub moved: usize,
    /// The pipe's write end is closed and it is empty.
    pub eof: bool,
}

/// How a path is opened.
enum Target {
    /// Duplicate an inherited descriptor (`/dev/stdout`, `/dev/fd/3`...).
    Dup(libc::c_int),
    /// Open the path.
    Path,
}

fn classify(path: &Path) -> Target {
    let Some(s) = path.to_str() else {
        return Target::Path;
    };
    match s {
        "/dev/stdout" => return Target::Dup(1),
        "/dev/stderr" => return Target::Dup(2),
        _ => {}
    }
    // Our own descriptors under /proc: `/proc/1/fd/1` is a popular way to
    // reach PID 1's stdout, and reopening it fails when it is a socket.
    let own = format!("/proc/{}/fd/", std::process::id());
    for prefix in ["/dev/fd/", "/proc/self/fd/", own.as_str()] {
        if let Some(n) = s.strip_prefix(prefix)
            && let Ok(fd) = n.parse::<libc::c_int>()
        {
            return Target::Dup(fd);
        }
    }
    Target::Path
}

/// A `dup` of `fd` with close-on-exec set (children never inherit our logs).
fn dup_cloexec(fd: libc::c_int) -> io::Result<File> {
    // SAFETY: F_DUPFD_CLOEXEC has no memory effects; a bad fd gives EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh descriptor that we own.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(new) }))
}

fn clear_nonblock(f: &File) {
    let fd = f.as_raw_fd();
    // SAFETY: plain fcntl flag manipulation on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// Open `path` for appending.  Returns the file, whether it is a regular
/// file, and its current size.
fn open_target(path: &Path, truncate: bool) -> io::Result<(File, bool, u64)> {
    match classify(path) {
        Target::Dup(fd) => {
            let f = dup_cloexec(fd)?;
            // Shared with the inherited descriptor: never truncated, never
            // rotated (renaming `/dev/stdout` would be a disaster).
            Ok((f, false, 0))
        }
        Target::Path => {
            // O_NONBLOCK so that a FIFO without a reader fails (ENXIO)
            // instead of hanging the daemon; cleared again right after.
            let f = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o666)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(path)?;
            clear_nonblock(&f);
            let meta = f.metadata()?;
            let ft = meta.file_type();
            let regular = ft.is_file();
            let mut size = if regular { meta.len() } else { 0 };
            if truncate && regular && size > 0 {
                f.set_len(0)?;
                size = 0;
            }
            Ok((f, regular, size))
        }
    }
}

/// `write_all` that also waits out `EAGAIN` on descriptors someone else left
/// non-blocking (an inherited stdout), so a full pipe does not cut a line:
/// it gives up only when the reader has taken nothing for a second.
pub(super) fn write_all_fd(f: &mut File, mut data: &[u8], written: &mut u64) -> io::Result<()> {
    while !data.is_empty() {
        match f.write(data) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => {
                *written += n as u64;
                data = &data[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut pfd = libc::pollfd {
                    fd: f.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                let r = unsafe { libc::poll(&mut pfd, 1, 1000) };
                if r == 0 {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn backup_name(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// Supervisor's `removeAndRename`: replace `dst` with `src`; a missing
/// `src` or `dst` is not an error.
fn remove_and_rename(src: &Path, dst: &Path) -> io::Result<()> {
    match std::fs::remove_file(dst) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match std::fs::rename(src, dst) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

impl RotatingFile {
    /// A handle that opens `path` on its first write (or [`reopen`](Self::reopen)).
    pub fn new(path: &Path, maxbytes: u64, backups: u32) -> RotatingFile {
        RotatingFile {
            path: path.to_path_buf(),
            maxbytes,
            backups,
            file: None,
            size: 0,
            regular: false,
            opened_once: false,
            in_chunk: false,
        }
    }

    /// Open `path` for appending now.
    pub fn open(path: &Path, maxbytes: u64, backups: u32) -> io::Result<RotatingFile> {
        let mut rf = RotatingFile::new(path, maxbytes, backups);
        rf.reopen()?;
        Ok(rf)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    /// Bytes in the current file, as far as we know.
    pub fn size(&self) -> u64 {
        self.size
    }

    #[cfg(test)]
    /// Whether a descriptor is currently open (false after a failure, until
    /// the next successful write or reopen).
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// True when the target is a regular file, so `maxbytes` rotation
    /// applies.  False for `/dev/stdout`, pipes, FIFOs, devices, and before
    /// the first successful open.  Reflects the last successful open.
    pub fn is_rotatable(&self) -> bool {
        self.regular
    }

    /// True when `maxbytes` asks for rotation but the target cannot rotate
    /// (the daemon warns about this at start).
    pub fn rotation_skipped(&self) -> bool {
        self.maxbytes > 0 && self.opened_once && !self.regular
    }

    /// Close and reopen the path (SIGUSR2; after logrotate moved the file).
    /// On failure the handle stays closed and the next write retries.
    pub fn reopen(&mut self) -> io::Result<()> {
        self.file = None;
        let (f, regular, size) = open_target(&self.path, false)?;
        self.file = Some(f);
        self.regular = regular;
        self.opened_once = true;
        self.size = size;
        Ok(())
    }

    /// Append `data`, then rotate if the file reached `maxbytes`.
    ///
    /// On error the descriptor is dropped so the next call reopens the path;
    /// the bytes of this call may be partly written.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            self.reopen()?;
        }
        let Some(f) = self.file.as_mut() else {
            return Err(io::Error::other("log file not open"));
        };
        let mut written = 0;
        let res = write_all_fd(f, data, &mut written);
        self.size += written;
        if let Err(e) = res {
            self.file = None;
            return Err(e);
        }
        self.maybe_rotate()
    }

    /// Move up to `max` bytes from a pipe straight into the file with
    /// `splice(2)`, never copying them through user space (the log-capture
    /// hot path for plain file targets).  Only for regular files.  Each
    /// `splice` (at most [`splice_chunk`] bytes) lands whole in one file and
    /// rotation happens between them, as after a `write`.  The file
    /// is written at its current end, so an outside truncation (logrotate's
    /// copytruncate) is followed as with `O_APPEND`, which `splice` refuses.
    pub fn splice_from(&mut self, src: std::os::fd::RawFd, max: usize) -> io::Result<Spliced> {
        let mut out = Spliced::default();
        let mut fd = -1;
        while out.moved < max {
            if fd < 0 {
                fd = self.prepare_splice()?;
            }
            // Not cut short at `maxbytes`: that would end the file in the
            // middle of whatever the program wrote (a line, a record).
            let chunk = (max - out.moved).min(splice_chunk(self.maxbytes));
            // SAFETY: splice(2) between two descriptors, no offsets.
            let n = unsafe {
                libc::splice(
                    src,
                    std::ptr::null_mut(),
                    fd,
                    std::ptr::null_mut(),
                    chunk,
                    libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
                )
            };
            if n == 0 {
                out.eof = true;
                return Ok(out);
            }
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => return Ok(out),
                    Some(libc::EINTR) => continue,
                    _ => {
                        self.file = None;
                        return Err(e);
                    }
                }
            }
            out.moved += n as usize;
            self.size += n as u64;
            if self.rotation_due() {
                self.rotate()?;
                fd = -1; // a new file: prepare it again
            }
        }
        Ok(out)
    }

    /// Ready the file for `splice`: open, drop `O_APPEND` (which `splice`
    /// refuses), and position at the real end of the file.
    fn prepare_splice(&mut self) -> io::Result<std::os::fd::RawFd> {
        if self.file.is_none() {
            self.reopen()?;
        }
        let Some(f) = self.file.as_ref() else {
            return Err(io::Error::other("log file not open"));
        };
        if !self.regular {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let fd = f.as_raw_fd();
        // SAFETY: fcntl/lseek on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 && flags & libc::O_APPEND != 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_APPEND);
            }
            let end = libc::lseek(fd, 0, libc::SEEK_END);
            if end >= 0 {
                self.size = end as u64;
            }
        }
        Ok(fd)
    }

    /// Supervisor's rule, asked after each whole chunk (one `write` call,
    /// one `splice`) and never in the middle of one: rotate once the file
    /// has reached `maxbytes`.  So a chunk is never split between two files
    /// and a file exceeds `maxbytes` by less than its last chunk.
    fn rotation_due(&self) -> bool {
        !self.in_chunk && self.maxbytes > 0 && self.regular && self.size >= self.maxbytes
    }

    /// The next writes, until [`end_chunk`](Self::end_chunk), are one chunk
    /// (the pieces of one read of child output that capture mode split):
    /// they all land in the same file.
    pub fn begin_chunk(&mut self) {
        self.in_chunk = true;
    }

    /// The chunk is complete: rotate if the file reached `maxbytes`.
    /// After a failed write, the next write reopens the file and rotates.
    pub fn end_chunk(&mut self) -> io::Result<()> {
        self.in_chunk = false;
        if self.file.is_none() {
            return Ok(());
        }
        self.maybe_rotate()
    }

    fn maybe_rotate(&mut self) -> io::Result<()> {
        if self.rotation_due() {
            self.rotate()
        } else {
            Ok(())
        }
    }

    /// The indices `i` in `1..backups` for which `<path>.<i>` exists, highest
    /// first: the ones `doRollover` shifts.  Found with one directory read,
    /// so that `backups` may be as large as `u32::MAX` without a stat per
    /// index (4 billion of them would stall the daemon for an hour).
    fn backups_present(&self) -> Vec<u32> {
        /// Up to this many indices, one `stat` each (the usual `backups=10`
        /// costs 9, however full the log directory is); beyond, one read
        /// of the directory, or these probes when it cannot be read.
        const PROBE: u32 = 1024;
        let probe = |n: u32| -> Vec<u32> {
            (1..n)
                .rev()
                .filter(|&i| backup_name(&self.path, i).exists())
                .collect()
        };
        if self.backups <= PROBE {
            return probe(self.backups);
        }
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let prefix = match self.path.file_name() {
            Some(n) => format!("{}.", n.to_string_lossy()),
            None => return Vec::new(),
        };
        let mut found: Vec<u32> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| {
                    let name = e.ok()?.file_name();
                    let i: u32 = name.to_str()?.strip_prefix(&prefix)?.parse().ok()?;
                    // `.01` is not `.1`: only the name Supervisor would build.
                    (backup_name(&self.path, i).file_name() == Some(name.as_os_str())).then_some(i)
                })
                .filter(|i| (1..self.backups).contains(i))
                .collect(),
            Err(_) => probe(PROBE),
        };
        found.sort_unstable_by(|a, b| b.cmp(a));
        found
    }

    /// Rotate now (whatever the size), as Supervisor's `doRollover`.
    pub fn rotate(&mut self) -> io::Result<()> {
        if !self.regular {
            return Ok(());
        }
        let mut shifted = true;
        let mut first_err = None;
        if self.backups > 0 {
            for i in self.backups_present() {
                let src = backup_name(&self.path, i);
                if let Err(e) = remove_and_rename(&src, &backup_name(&self.path, i + 1)) {
                    first_err.get_or_insert(e);
                }
            }
            if let Err(e) = remove_and_rename(&self.path, &backup_name(&self.path, 1)) {
                // The current file is still in place: keep appending to it
                // rather than truncating away its contents.
                shifted = false;
                first_err.get_or_insert(e);
            }
        }
        if shifted {
            // The old descriptor now points at `.1` (or, with no backups, at
            // the file we are about to truncate).
            self.file = None;
            match open_target(&self.path, true) {
                Ok((f, regular, size)) => {
                    self.file = Some(f);
                    self.regular = regular;
                    self.opened_once = true;
                    self.size = size;
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Supervisor's `clearProcessLogs` / `clearLog`: remove the current
    /// file and start a new, empty one.  Backups stay, as in Supervisor.
    /// Non-rotatable targets (stdout, pipes) are left alone.
    pub fn clear(&mut self) -> io::Result<()> {
        if let Target::Dup(_) = classify(&self.path) {
            return Ok(());
        }
        if self.file.is_some() && !self.regular {
            return Ok(());
        }
        self.file = None;
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let (f, regular, size) = open_target(&self.path, true)?;
        self.file = Some(f);
        self.regular = regular;
        self.opened_once = true;
        self.size = size;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn read(p: &Path) -> Vec<u8> {
        std::fs::read(p).unwrap_or_default()
    }

    /// `p` has `count` backups (among `.1` to `.50`) of `each` bytes, and
    /// they and `p`, oldest first, hold exactly `all`.
    fn assert_backups(p: &Path, count: usize, each: usize, all: &[u8]) {
        let mut files = backups_oldest_first(p, 50);
        assert_eq!(files.len(), count, "backups of {}", p.display());
        for f in &files {
            assert_eq!(read(f).len(), each, "{}", f.display());
        }
        files.push(p.to_path_buf());
        let joined: Vec<u8> = files.iter().flat_map(|f| read(f)).collect();
        assert!(joined == all, "the files do not hold the data in order");
    }

    /// The backups of `p` that exist among `.1` to `.max`, oldest first.
    fn backups_oldest_first(p: &Path, max: u32) -> Vec<PathBuf> {
        (1..=max)
            .rev()
            .map(|i| backup_name(p, i))
            .filter(|b| b.exists())
            .collect()
    }

    #[test]
    fn rotates_after_the_write_that_reaches_maxbytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut rf = RotatingFile::open(&p, 10, 2).unwrap();
        assert!(rf.is_rotatable());
        rf.write(b"12345").unwrap();
        rf.write(b"6789").unwrap();
        assert_eq!(read(&p), b"123456789");
        // 9 + 3 = 12 >= 10: the whole write lands, then rotation.
        rf.write(b"abc").unwrap();
        assert_eq!(read(&p), b"");
        assert_eq!(read(&backup_name(&p, 1)), b"123456789abc");
        rf.write(b"0123456789").unwrap(); // exactly maxbytes → rotate
        assert_eq!(read(&backup_name(&p, 1)), b"0123456789");
        assert_eq!(read(&backup_name(&p, 2)), b"123456789abc");
        rf.write(b"x".repeat(10).as_slice()).unwrap();
        // Only 2 backups: the oldest is gone.
        assert_eq!(read(&backup_name(&p, 1)), b"xxxxxxxxxx");
        assert_eq!(read(&backup_name(&p, 2)), b"0123456789");
        assert!(!backup_name(&p, 3).exists());
        assert_eq!(rf.size(), 0);
    }

    /// Regression: `backups=4294967295` (accepted, as by Supervisor) made
    /// each rotation stat four billion names, stalling the daemon.
    #[test]
    fn huge_backups_rotate_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        // Leftovers that must not be mistaken for backups.
        std::fs::write(dir.path().join("a.log.01"), b"not a backup").unwrap();
        std::fs::write(dir.path().join("a.log.x"), b"not a backup").unwrap();
        let mut rf = RotatingFile::open(&p, 4, u32::MAX).unwrap();
        let start = std::time::Instant::now();
        for w in [b"aaaa", b"bbbb", b"cccc"] {
            rf.write(w).unwrap();
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(read(&backup_name(&p, 1)), b"cccc");
        assert_eq!(read(&backup_name(&p, 2)), b"bbbb");
        assert_eq!(read(&backup_name(&p, 3)), b"aaaa");
        assert_eq!(read(&dir.path().join("a.log.01")), b"not a backup");
        // A gap is shifted like Supervisor does: each existing index moves up.
        std::fs::remove_file(backup_name(&p, 2)).unwrap();
        rf.write(b"dddd").unwrap();
        assert_eq!(read(&backup_name(&p, 1)), b"dddd");
        assert_eq!(read(&backup_name(&p, 2)), b"cccc");
        assert!(!backup_name(&p, 3).exists());
        assert_eq!(read(&backup_name(&p, 4)), b"aaaa");
    }

    #[test]
    fn backups_zero_truncates_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut rf = RotatingFile::open(&p, 8, 0).unwrap();
        rf.write(b"12345678").unwrap();
        assert_eq!(read(&p), b"");
        rf.write(b"abc").unwrap();
        assert_eq!(read(&p), b"abc");
        assert!(!backup_name(&p, 1).exists());
    }

    #[test]
    fn maxbytes_zero_never_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut rf = RotatingFile::open(&p, 0, 5).unwrap();
        for _ in 0..100 {
            rf.write(b"0123456789").unwrap();
        }
        assert_eq!(read(&p).len(), 1000);
        assert!(!backup_name(&p, 1).exists());
        assert!(!rf.rotation_skipped());
    }

    #[test]
    fn appends_to_existing_file_and_counts_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"old-").unwrap();
        let mut rf = RotatingFile::open(&p, 6, 1).unwrap();
        assert_eq!(rf.size(), 4);
        rf.write(b"ne").unwrap();
        assert_eq!(read(&backup_name(&p, 1)), b"old-ne");
    }

    #[test]
    fn random_chunks_reassemble_exactly_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.log");
        let maxbytes = 64 * 1024;
        let mut rf = RotatingFile::open(&p, maxbytes, 100).unwrap();
        let total = 5 * 1024 * 1024;
        let mut input = Vec::with_capacity(total);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        while input.len() < total {
            let len = (rng(&mut seed) % 9000) as usize + 1;
            let start = input.len();
            for _ in 0..len {
                input.push((rng(&mut seed) & 0xff) as u8);
            }
            rf.write(&input[start..]).unwrap();
        }
        let mut files = Vec::new();
        for i in (1..=100).rev() {
            let b = backup_name(&p, i);
            if b.exists() {
                files.push(b);
            }
        }
        assert!(
            files.len() > 60,
            "expected many rotations, got {}",
            files.len()
        );
        files.push(p.clone());
        let mut out = Vec::with_capacity(total);
        for (n, f) in files.iter().enumerate() {
            let mut data = Vec::new();
            File::open(f).unwrap().read_to_end(&mut data).unwrap();
            if n + 1 < files.len() {
                // Each rotated file reached maxbytes, overshooting by less
                // than one write.
                assert!(data.len() as u64 >= maxbytes);
                assert!((data.len() as u64) < maxbytes + 9000);
            }
            out.extend_from_slice(&data);
        }
        assert_eq!(out.len(), input.len());
        assert!(out == input, "reassembled data differs");
    }

    #[test]
    fn reopen_after_move_writes_to_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let moved = dir.path().join("a.log.moved");
        let mut rf = RotatingFile::open(&p, 0, 0).unwrap();
        rf.write(b"before\n").unwrap();
        std::fs::rename(&p, &moved).unwrap();
        rf.write(b"still old\n").unwrap();
        rf.reopen().unwrap();
        rf.write(b"after\n").unwrap();
        assert_eq!(read(&moved), b"before\nstill old\n");
        assert_eq!(read(&p), b"after\n");
    }

    #[test]
    fn fifo_is_not_rotated_and_never_seeks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // No reader yet: opening fails instead of hanging.
        let err = RotatingFile::open(&p, 10, 3).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENXIO));
        let reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&p)
            .unwrap();
        let mut rf = RotatingFile::open(&p, 10, 3).unwrap();
        assert!(!rf.is_rotatable());
        assert!(rf.rotation_skipped());
        rf.write(b"0123456789abcdef").unwrap();
        rf.write(b"more").unwrap();
        rf.reopen().unwrap();
        rf.write(b"!").unwrap();
        rf.clear().unwrap();
        let mut got = Vec::new();
        let mut r = reader;
        let mut buf = [0u8; 64];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"0123456789abcdefmore!");
        assert!(!backup_name(&p, 1).exists());
    }

    #[test]
    fn pipe_via_proc_fd_path() {
        let (rd, wr) = nix::unistd::pipe().unwrap();
        let path = PathBuf::from(format!("/proc/self/fd/{}", wr.as_raw_fd()));
        let mut rf = RotatingFile::open(&path, 4, 2).unwrap();
        assert!(!rf.is_rotatable());
        rf.write(b"hello pipe").unwrap();
        rf.write(b" again").unwrap();
        drop(rf);
        drop(wr);
        let mut got = Vec::new();
        File::from(rd).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hello pipe again");
    }

    #[test]
    fn dev_full_errors_and_keeps_trying() {
        let mut rf = RotatingFile::open(Path::new("/dev/full"), 10, 1).unwrap();
        assert!(!rf.is_rotatable());
        for _ in 0..3 {
            let e = rf.write(b"data").unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
            assert!(!rf.is_open());
        }
    }

    #[test]
    fn deleted_directory_recovers_when_it_reappears() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("logs");
        std::fs::create_dir(&sub).unwrap();
        let p = sub.join("a.log");
        let mut rf = RotatingFile::open(&p, 10, 2).unwrap();
        rf.write(b"abc").unwrap();
        std::fs::remove_dir_all(&sub).unwrap();
        // The open descriptor still works until rotation needs the directory.
        assert!(rf.write(b"0123456789").is_err());
        assert!(rf.write(b"lost").is_err());
        assert!(rf.reopen().is_err());
        std::fs::create_dir(&sub).unwrap();
        rf.write(b"back").unwrap();
        assert_eq!(read(&p), b"back");
    }

    #[test]
    fn splice_moves_pipe_data_and_rotates_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.log");
        let mut rf = RotatingFile::open(&p, 1000, 50).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let writer = {
            let data = data.clone();
            std::thread::spawn(move || {
                let mut f = File::from(w);
                f.write_all(&data).unwrap();
            })
        };
        let mut total = 0;
        loop {
            let s = rf.splice_from(r.as_raw_fd(), 4096).unwrap();
            total += s.moved;
            if s.eof {
                break;
            }
            if s.moved == 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        writer.join().unwrap();
        assert_eq!(total, data.len());
        let mut files = backups_oldest_first(&p, 50);
        files.push(p.clone());
        let joined: Vec<u8> = files.iter().flat_map(|f| read(f)).collect();
        assert_eq!(joined, data, "nothing lost or reordered across rotations");
        for f in &files[..files.len() - 1] {
            let len = std::fs::metadata(f).unwrap().len();
            assert!(
                (1000..1000 + 4096).contains(&len),
                "{} has {len} bytes: rotated before maxbytes or more than one splice after",
                f.display()
            );
        }
    }

    #[test]
    fn rotation_is_due_once_the_file_reached_maxbytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut rf = RotatingFile::open(&dir.path().join("d.log"), 1000, 2).unwrap();
        for (size, due) in [(0, false), (999, false), (1000, true), (5000, true)] {
            rf.size = size;
            assert_eq!(rf.rotation_due(), due, "size {size}, maxbytes 1000");
        }
        rf.maxbytes = 0;
        rf.size = 5000;
        assert!(!rf.rotation_due(), "maxbytes=0 never rotates");
        rf.maxbytes = 1000;
        rf.regular = false;
        assert!(!rf.rotation_due(), "a pipe or device never rotates");
        rf.regular = true;
        rf.begin_chunk();
        assert!(!rf.rotation_due(), "not in the middle of a chunk");
        rf.in_chunk = false;
        assert!(rf.rotation_due());
    }

    #[test]
    fn writes_of_one_chunk_land_in_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.log");
        let mut rf = RotatingFile::open(&p, 10, 2).unwrap();
        rf.begin_chunk();
        rf.write(b"0123456789").unwrap();
        rf.write(b"ab\n").unwrap();
        assert_eq!(read(&p), b"0123456789ab\n", "no rotation inside a chunk");
        rf.end_chunk().unwrap();
        assert_eq!(read(&p), b"");
        assert_eq!(read(&backup_name(&p, 1)), b"0123456789ab\n");
        // Outside a chunk, each write is one.
        rf.write(b"0123456789").unwrap();
        assert_eq!(read(&backup_name(&p, 1)), b"0123456789");
    }

    #[test]
    fn splice_chunk_is_a_sixteenth_of_maxbytes_within_bounds() {
        for (maxbytes, chunk) in [
            (0, SPLICE_CHUNK_MAX),
            (1, SPLICE_CHUNK_MIN),
            (1024, SPLICE_CHUNK_MIN),
            (16 * SPLICE_CHUNK_MIN as u64, SPLICE_CHUNK_MIN),
            (2 << 20, 128 << 10),
            (50 << 20, SPLICE_CHUNK_MAX),
            (u64::MAX, SPLICE_CHUNK_MAX),
        ] {
            assert_eq!(splice_chunk(maxbytes), chunk, "maxbytes {maxbytes}");
        }
    }

    #[test]
    fn splice_overshoots_maxbytes_by_at_most_one_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.log");
        let mut rf = RotatingFile::open(&p, 2000, 50).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        // SAFETY: fcntl on a pipe we own.
        let size = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        assert!(size >= 1 << 20, "could not grow the pipe");
        let data: Vec<u8> = (0..6 * SPLICE_CHUNK_MIN).map(|i| (i % 253) as u8).collect();
        File::from(w).write_all(&data).unwrap();
        let s = rf.splice_from(r.as_raw_fd(), usize::MAX).unwrap();
        assert_eq!((s.moved, s.eof), (data.len(), true));
        // One file per 64 KiB chunk.
        assert_backups(&p, 6, SPLICE_CHUNK_MIN, &data);
    }

    #[test]
    fn splice_rotates_between_chunks_never_inside_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut rf = RotatingFile::open(&p, 1000, 50).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut wf = File::from(w);
        let record = |i: usize| format!("{i:05} {}\n", "r".repeat(93));
        // 7 records of 100 bytes per splice: 700 bytes, then 1400 >= 1000.
        let mut want = Vec::new();
        for batch in 0..10 {
            let start = want.len();
            for i in 0..7 {
                want.extend_from_slice(record(batch * 7 + i).as_bytes());
            }
            wf.write_all(&want[start..]).unwrap();
            let s = rf.splice_from(r.as_raw_fd(), 1 << 20).unwrap();
            assert_eq!(s.moved, 700);
        }
        // Two whole chunks per file: not cut at 1000 bytes, mid-record.
        assert_backups(&p, 5, 1400, &want);
    }

    #[test]
    fn splice_follows_an_outside_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.log");
        let mut rf = RotatingFile::open(&p, 0, 0).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut wf = File::from(w);
        wf.write_all(b"first").unwrap();
        rf.splice_from(r.as_raw_fd(), 100).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        wf.write_all(b"second").unwrap();
        rf.splice_from(r.as_raw_fd(), 100).unwrap();
        assert_eq!(read(&p), b"second", "no hole where the old data was");
    }

    #[test]
    fn clear_empties_the_log_and_keeps_backups() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut rf = RotatingFile::open(&p, 4, 2).unwrap();
        for _ in 0..3 {
            rf.write(b"full").unwrap();
        }
        rf.write(b"ab").unwrap();
        // A leftover from an earlier, larger `backups`.
        std::fs::write(backup_name(&p, 3), b"old").unwrap();
        assert!(backup_name(&p, 2).exists());
        rf.clear().unwrap();
        assert_eq!(read(&p), b"");
        for i in 1..=3 {
            assert!(
                backup_name(&p, i).exists(),
                "backups stay, as in Supervisor"
            );
        }
        assert_eq!(rf.size(), 0);
        rf.write(b"new").unwrap();
        assert_eq!(read(&p), b"new");
    }

    #[test]
    fn stdout_paths_are_duplicated_not_rotated() {
        assert!(matches!(classify(Path::new("/dev/stdout")), Target::Dup(1)));
        assert!(matches!(classify(Path::new("/dev/stderr")), Target::Dup(2)));
        assert!(matches!(classify(Path::new("/dev/fd/7")), Target::Dup(7)));
        assert!(matches!(classify(Path::new("/dev/fd/x")), Target::Path));
        assert!(matches!(classify(Path::new("/var/log/x")), Target::Path));
        let own = format!("/proc/{}/fd/1", std::process::id());
        assert!(matches!(classify(Path::new(&own)), Target::Dup(1)));
        let other = format!("/proc/{}/fd/1", std::process::id() + 1);
        assert!(matches!(classify(Path::new(&other)), Target::Path));
        let rf = RotatingFile::open(Path::new("/dev/stderr"), 1, 1).unwrap();
        assert!(!rf.is_rotatable());
        assert!(rf.rotation_skipped());
    }
}
