//! Signals reach the loop through a self-pipe: the handler (installed by
//! signal-hook) only sets a flag and writes a byte, the loop polls the pipe's
//! read end, drains it, then acts on the flags.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The signals supervisord acts on: SPEC A5's, and SIGUSR1.
pub const HANDLED: [i32; 7] = {
    let own = crate::config::OWN_SIGNALS;
    [
        own[0],
        own[1],
        own[2],
        own[3],
        own[4],
        own[5],
        libc::SIGUSR1,
    ]
};

pub struct Signals {
    read: OwnedFd,
    // The write end, cloned for the handler of each signal.
    write: OwnedFd,
    flags: Vec<(i32, Arc<AtomicBool>)>,
}

impl Signals {
    /// Install handlers for `sigs`.
    pub fn install(sigs: &[i32]) -> std::io::Result<Signals> {
        let (read, write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(std::io::Error::from)?;
        let mut s = Signals {
            read,
            write,
            flags: Vec::new(),
        };
        s.ensure(sigs)?;
        s.warm();
        Ok(s)
    }

    /// Also catch those of `sigs` not caught yet (`forward_signals`).
    /// signal-hook refuses the signals it cannot or must not handle (KILL,
    /// STOP, ILL, FPE, SEGV): the config rejects them first.
    pub fn ensure(&mut self, sigs: &[i32]) -> std::io::Result<()> {
        for &sig in sigs {
            if self.flags.iter().any(|(s, _)| *s == sig)
                || signal_hook::consts::FORBIDDEN.contains(&sig)
            {
                continue;
            }
            let flag = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(sig, Arc::clone(&flag))?;
            let w = self.write.try_clone()?;
            signal_hook::low_level::pipe::register(sig, w)?;
            self.flags.push((sig, flag));
        }
        Ok(())
    }

    /// One byte through the pipe before any signal: the kernel gives a
    /// pipe a page at its first write and keeps it for the next ones once
    /// read empty, so the handler's first write (a SIGTERM to PID 1, say)
    /// does not allocate one.  That allocation cost 30-40 us on a virtual
    /// machine whose free memory had gone back to the host.
    fn warm(&self) {
        if nix::unistd::write(&self.write, b"w").is_ok() {
            let _ = nix::unistd::read(&self.read, &mut [0u8; 8]);
        }
    }

    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Empty the pipe, then return the signals that arrived (each once, in
    /// the order of `HANDLED`, then of the forwarded ones).
    pub fn drain(&self) -> Vec<i32> {
        let mut buf = [0u8; 256];
        loop {
            match nix::unistd::read(&self.read, &mut buf) {
                Ok(n) if n == buf.len() => continue,
                _ => break,
            }
        }
        self.flags
            .iter()
            .filter(|(_, f)| f.swap(false, Ordering::SeqCst))
            .map(|(s, _)| *s)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) over one valid pollfd, no wait.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    #[test]
    fn the_pipe_starts_empty_and_a_signal_wakes_it_once() {
        // SIGUSR1: caught by the daemon, unused by the test harness.
        let s = Signals::install(&[libc::SIGUSR1]).expect("install");
        assert!(!readable(s.fd()), "warming the pipe leaves nothing in it");
        assert!(s.drain().is_empty());
        // SAFETY: raise(3) of a signal this process now catches.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
        assert!(readable(s.fd()));
        assert_eq!(s.drain(), [libc::SIGUSR1]);
        assert!(!readable(s.fd()));
        assert!(s.drain().is_empty());
    }
}
