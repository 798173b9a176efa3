//! A child's output channel log: raw bytes to a rotating file and/or syslog,
//! optionally ANSI-stripped, or in line mode (`log_prefix`, JSON) whole
//! formatted lines to the file.  This is the hot path for chatty programs:
//! the bytes go straight to `write(2)` without copying unless stripping or
//! line mode changes them, and the buffers are reused.

use super::ansi::AnsiStripper;
use super::lines::Lines;
use super::rotate::RotatingFile;
use super::syslog::SyslogWriter;
use std::io;
use std::path::Path;

/// One child output channel's log (stdout or stderr of one process).
#[derive(Debug)]
pub struct ChildLog {
    file: Option<RotatingFile>,
    /// `(syslog writer, "<name> ")` when `*_syslog=true`.
    syslog: Option<(SyslogWriter, Vec<u8>)>,
    strip: Option<AnsiStripper>,
    /// Reused output buffer for stripped data.
    scratch: Vec<u8>,
    /// Line mode for the file (syslog gets the lines as they are).
    lines: Option<Box<Lines>>,
}

impl ChildLog {
    /// `path`: resolved file (None = no file).  `syslog_tag`: Some(process name)
    /// when `*_syslog=true`.
    pub fn open(
        path: Option<&Path>,
        maxbytes: u64,
        backups: u32,
        syslog_tag: Option<String>,
        strip_ansi: bool,
    ) -> io::Result<ChildLog> {
        let syslog = syslog_tag.map(|name| (SyslogWriter::new(), prefix_for(&name)));
        ChildLog::build(path, maxbytes, backups, syslog, strip_ansi)
    }

    fn build(
        path: Option<&Path>,
        maxbytes: u64,
        backups: u32,
        syslog: Option<(SyslogWriter, Vec<u8>)>,
        strip_ansi: bool,
    ) -> io::Result<ChildLog> {
        let file = match path {
            Some(p) => Some(RotatingFile::open(p, maxbytes, backups)?),
            None => None,
        };
        Ok(ChildLog {
            file,
            syslog,
            strip: strip_ansi.then(AnsiStripper::new),
            scratch: Vec::new(),
            lines: None,
        })
    }

    /// Write the file in line mode (`log_prefix`, `log_format=json`).
    pub fn with_lines(mut self, lines: Option<Lines>) -> ChildLog {
        // Boxed: most channels have no line mode.
        self.lines = lines.map(Box::new);
        self
    }

    #[cfg(test)]
    pub(crate) fn open_with_syslog_socket(
        path: Option<&Path>,
        maxbytes: u64,
        backups: u32,
        name: &str,
        socket: &Path,
        strip_ansi: bool,
    ) -> io::Result<ChildLog> {
        let syslog = Some((SyslogWriter::with_socket(socket), prefix_for(name)));
        ChildLog::build(path, maxbytes, backups, syslog, strip_ansi)
    }

    /// Log a chunk of the child's output.  A file error is returned after
    /// syslog has still had the data; the next write reopens the file.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let bytes: &[u8] = match self.strip.as_mut() {
            Some(s) if !s.passthrough(data) => {
                self.scratch.clear();
                s.strip_into(data, &mut self.scratch);
                &self.scratch
            }
            _ => data,
        };
        if bytes.is_empty() {
            return Ok(());
        }
        let mut res = Ok(());
        if let Some(f) = self.file.as_mut() {
            res = match self.lines.as_mut() {
                Some(l) => l.feed_with(bytes, |out| f.write(out)),
                None => f.write(bytes),
            };
        }
        if let Some((w, prefix)) = self.syslog.as_mut() {
            w.send_lines(prefix, bytes);
        }
        // Do not keep a huge buffer around after one burst.
        if self.scratch.capacity() > 1 << 20 {
            self.scratch = Vec::new();
        }
        res
    }

    /// The process is gone: write the partial last line held back by line
    /// mode, newline-terminated.
    pub fn flush_lines(&mut self) -> io::Result<()> {
        match (self.lines.as_mut(), self.file.as_mut()) {
            (Some(l), Some(f)) => l.flush_with(|out| f.write(out)),
            _ => Ok(()),
        }
    }

    /// True when output can go to the file with `splice_from`: a regular
    /// file, no syslog copy, no ANSI stripping, no line mode.
    pub fn can_splice(&self) -> bool {
        self.syslog.is_none()
            && self.strip.is_none()
            && self.lines.is_none()
            && self.file.as_ref().is_some_and(|f| f.is_rotatable())
    }

    /// True in line mode (`log_prefix`, JSON) with a file to write.
    pub fn by_line(&self) -> bool {
        self.lines.is_some() && self.file.is_some()
    }

    /// Move up to `max` bytes from the child's pipe into the file without
    /// copying them through the daemon (see [`RotatingFile::splice_from`]).
    pub fn splice_from(
        &mut self,
        src: std::os::fd::RawFd,
        max: usize,
    ) -> io::Result<super::rotate::Spliced> {
        match self.file.as_mut() {
            Some(f) => f.splice_from(src, max),
            None => Err(io::Error::from_raw_os_error(libc::EINVAL)),
        }
    }

    /// The next writes, until [`end_chunk`](Self::end_chunk), are one read
    /// of the child's output: no rotation between them
    /// ([`RotatingFile::begin_chunk`]).
    pub fn begin_chunk(&mut self) {
        if let Some(f) = self.file.as_mut() {
            f.begin_chunk();
        }
    }

    /// The read is logged: rotate if the file reached `maxbytes`.
    pub fn end_chunk(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.end_chunk(),
            None => Ok(()),
        }
    }

    /// SIGUSR2: reopen the file at its path.
    pub fn reopen(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.reopen(),
            None => Ok(()),
        }
    }

    /// `clearProcessLogs`: empty the file and delete its backups.
    pub fn clear(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.clear(),
            None => Ok(()),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path())
    }

    /// False when the file is a pipe, FIFO, device or `/dev/stdout`, where
    /// `maxbytes` cannot apply (or when there is no file).
    pub fn is_rotatable(&self) -> bool {
        self.file.as_ref().is_some_and(|f| f.is_rotatable())
    }

    #[cfg(test)]
    /// `maxbytes` is set but the target cannot rotate: worth a warning.
    pub fn rotation_skipped(&self) -> bool {
        self.file.as_ref().is_some_and(|f| f.rotation_skipped())
    }

    #[cfg(test)]
    /// Bytes in the current file (tracked in memory).
    pub fn size(&self) -> u64 {
        self.file.as_ref().map_or(0, |f| f.size())
    }
}

/// Supervisor's syslog format for child output is `<name> %(message)s`.
fn prefix_for(name: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(name.len() + 1);
    p.extend_from_slice(name.as_bytes());
    p.push(b' ');
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::syslog::tests::{FakeSyslog, body_of};
    use std::path::PathBuf;

    fn backup(p: &Path, i: u32) -> PathBuf {
        PathBuf::from(format!("{}.{i}", p.display()))
    }

    #[test]
    fn writes_raw_bytes_and_rotates_losslessly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web-stdout.log");
        let mut log = ChildLog::open(Some(&p), 64 * 1024, 100, None, false).unwrap();
        assert_eq!(log.path(), Some(p.as_path()));
        assert!(log.is_rotatable());
        let mut input = Vec::new();
        let mut seed = 42u64;
        while input.len() < 5 * 1024 * 1024 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let len = ((seed >> 33) % 20_000) as usize + 1;
            let start = input.len();
            for k in 0..len {
                input.push(((seed >> 20) as usize + k * 7) as u8);
            }
            log.write(&input[start..]).unwrap();
        }
        let mut out = Vec::new();
        for i in (1..=100).rev() {
            if let Ok(d) = std::fs::read(backup(&p, i)) {
                out.extend(d);
            }
        }
        out.extend(std::fs::read(&p).unwrap());
        assert!(out == input);
    }

    #[test]
    fn line_mode_logs_share_one_output_buffer_dropped_after_a_burst() {
        let dir = tempfile::tempdir().unwrap();
        let json = || Some(Lines::new("", Some(("web".into(), "stdout"))));
        let mut logs: Vec<ChildLog> = (0..3)
            .map(|i| {
                ChildLog::open(
                    Some(&dir.path().join(format!("{i}.log"))),
                    0,
                    0,
                    None,
                    false,
                )
                .unwrap()
                .with_lines(json())
            })
            .collect();
        let lines = |n: usize, len: usize| {
            let mut line = vec![b'x'; len - 1];
            line.push(b'\n');
            line.repeat(n)
        };
        // 256 KiB reads of 64-byte lines: one buffer of about 600 KiB for
        // the thread, none kept by any log.
        let read = lines(4096, 64);
        for log in &mut logs {
            log.write(&read).unwrap();
            assert_eq!(log.lines.as_ref().unwrap().out_capacity(), 0);
        }
        let cap = Lines::shared_out_capacity();
        assert!((read.len() * 2..read.len() * 3).contains(&cap), "{cap}");
        // Empty lines take many times their bytes: dropped after the burst.
        logs[0].write(&lines(64 * 1024, 1)).unwrap();
        assert_eq!(Lines::shared_out_capacity(), 0);
        // Every line is in its file, whole.
        for (i, extra) in [(0, 64 * 1024), (1, 0), (2, 0)] {
            let text = std::fs::read_to_string(dir.path().join(format!("{i}.log"))).unwrap();
            assert_eq!(text.lines().count(), 4096 + extra);
            for l in text.lines() {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let m = v["message"].as_str().unwrap();
                assert!(m.is_empty() || m.len() == 63, "{m}");
            }
        }
    }

    #[test]
    fn line_mode_writes_whole_prefixed_lines_and_flushes_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut log = ChildLog::open(Some(&p), 0, 0, None, true)
            .unwrap()
            .with_lines(Some(Lines::new("web| ", None)));
        assert!(
            !log.can_splice(),
            "the bytes must be seen to be cut into lines"
        );
        log.write(b"\x1b[1mone\x1b[0m\ntw").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"web| one\n");
        log.write(b"o\nthr").unwrap();
        log.write(b"ee").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"web| one\nweb| two\n");
        log.flush_lines().unwrap();
        log.flush_lines().unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b"web| one\nweb| two\nweb| three\n"
        );
        // Without line mode nothing is held back and flush does nothing.
        let q = dir.path().join("raw.log");
        let mut raw = ChildLog::open(Some(&q), 0, 0, None, false).unwrap();
        assert!(raw.can_splice());
        raw.write(b"abc").unwrap();
        raw.flush_lines().unwrap();
        assert_eq!(std::fs::read(&q).unwrap(), b"abc");
    }

    #[test]
    fn no_path_no_syslog_is_a_sink() {
        let mut log = ChildLog::open(None, 10, 1, None, true).unwrap();
        log.write(b"anything").unwrap();
        log.reopen().unwrap();
        log.clear().unwrap();
        assert_eq!(log.path(), None);
        assert!(!log.is_rotatable());
    }

    #[test]
    fn strip_ansi_applies_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut log = ChildLog::open(Some(&p), 0, 0, None, true).unwrap();
        log.write(b"\x1b[32mgreen\x1b[").unwrap();
        log.write(b"0m plain\n").unwrap();
        log.write(b"\x1b[1m").unwrap();
        log.write(b"bold\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"green plain\nbold\n");
        // Without strip_ansi the bytes are untouched.
        let q = dir.path().join("raw.log");
        let mut raw = ChildLog::open(Some(&q), 0, 0, None, false).unwrap();
        raw.write(b"\x1b[32mgreen\x1b[0m\n").unwrap();
        assert_eq!(std::fs::read(&q).unwrap(), b"\x1b[32mgreen\x1b[0m\n");
    }

    #[test]
    fn syslog_lines_are_prefixed_with_the_name() {
        let fake = FakeSyslog::new();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut log =
            ChildLog::open_with_syslog_socket(Some(&p), 0, 0, "web", &fake.path, true).unwrap();
        log.write(b"GET /\n\x1b[31mPOST\x1b[0m /x\n").unwrap();
        let msgs = fake.recv_all();
        let bodies: Vec<&str> = msgs.iter().map(|m| body_of(m)).collect();
        assert_eq!(bodies, vec!["web GET /", "web POST /x"]);
        assert_eq!(std::fs::read(&p).unwrap(), b"GET /\nPOST /x\n");
        // Syslog only, no file.
        let mut only =
            ChildLog::open_with_syslog_socket(None, 0, 0, "db", &fake.path, false).unwrap();
        only.write(b"ready\n").unwrap();
        let msgs = fake.recv_all();
        assert_eq!(body_of(&msgs[0]), "db ready");
    }

    #[test]
    fn errors_do_not_panic_and_recover() {
        let mut full = ChildLog::open(Some(Path::new("/dev/full")), 1024, 3, None, false).unwrap();
        assert!(full.write(b"x").is_err());
        assert!(full.write(b"y").is_err());
        assert!(!full.is_rotatable());
        assert!(full.rotation_skipped());

        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("d");
        std::fs::create_dir(&sub).unwrap();
        let p = sub.join("c.log");
        let mut log = ChildLog::open(Some(&p), 0, 0, None, false).unwrap();
        std::fs::remove_dir_all(&sub).unwrap();
        assert!(log.reopen().is_err());
        assert!(log.write(b"lost\n").is_err());
        std::fs::create_dir(&sub).unwrap();
        log.write(b"back\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"back\n");
        // Opening in a missing directory fails up front (spawn error).
        assert!(ChildLog::open(Some(&dir.path().join("no/x.log")), 0, 0, None, false).is_err());
    }

    #[test]
    fn reopen_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut log = ChildLog::open(Some(&p), 5, 3, None, false).unwrap();
        log.write(b"123456").unwrap();
        log.write(b"abc").unwrap();
        std::fs::rename(&p, dir.path().join("moved")).unwrap();
        log.reopen().unwrap();
        log.write(b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert!(backup(&p, 1).exists());
        log.clear().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        assert!(backup(&p, 1).exists(), "backups stay, as in Supervisor");
        assert_eq!(log.size(), 0);
        log.write(b"z").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"z");
    }

    #[test]
    fn pipe_target_via_proc_fd() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let (rd, wr) = nix::unistd::pipe().unwrap();
        let path = PathBuf::from(format!("/proc/self/fd/{}", wr.as_raw_fd()));
        let mut log = ChildLog::open(Some(&path), 50, 10, None, false).unwrap();
        assert!(log.rotation_skipped());
        for _ in 0..10 {
            log.write(b"0123456789").unwrap();
        }
        drop(log);
        drop(wr);
        let mut got = String::new();
        std::fs::File::from(rd).read_to_string(&mut got).unwrap();
        assert_eq!(got, "0123456789".repeat(10));
    }
}
