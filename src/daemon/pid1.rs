//! PID 1 duties: be a child subreaper when we are not init, and sweep
//! leftovers at exit only when we really are PID 1 (outside a PID namespace,
//! `kill(-1)` would hit every process of the user).

use crate::daemon::os;
use std::time::{Duration, Instant};

pub fn is_pid1() -> bool {
    std::process::id() == 1
}

/// Make orphans of our programs re-parent to us, so they are reaped here.
pub fn become_subreaper() -> std::io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from)
}

/// As PID 1 at exit: TERM every remaining process, wait up to `grace`
/// (reaping), then KILL what is left.  Returns how many were reaped.
pub fn final_sweep(grace: Duration) -> usize {
    if !is_pid1() {
        return 0;
    }
    let mut reaped = 0;
    // As PID 1 in a namespace, -1 means every other process in it.
    let _ = os::kill(-1, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    loop {
        match os::wait(-1, false) {
            Ok(Some(_)) => {
                reaped += 1;
                continue;
            }
            Err(_) => return reaped, // ECHILD: nothing left
            Ok(None) => {}
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = os::kill(-1, libc::SIGKILL);
    // Blocking waits until ECHILD: everything left got SIGKILL.
    while let Ok(Some(_)) = os::wait(-1, true) {
        reaped += 1;
    }
    reaped
}
