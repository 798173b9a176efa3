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
