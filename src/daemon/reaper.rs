//! The only caller of `waitpid` in the daemon.

use crate::process::state::ExitInfo;

/// Reap every child that has exited: `waitpid(-1, WNOHANG)` until 0 or
/// ECHILD, with no cap per pass (orphans reparented to us included).
pub fn reap_all() -> Vec<(i32, ExitInfo)> {
    let mut out = Vec::new();
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            out.push((pid, decode(status)));
            continue;
        }
        if pid < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return out;
    }
}

/// Supervisor's `decode_wait_status`.
pub fn decode(status: libc::c_int) -> ExitInfo {
    if libc::WIFEXITED(status) {
        ExitInfo::exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        ExitInfo::signalled(libc::WTERMSIG(status), libc::WCOREDUMP(status))
    } else {
        ExitInfo {
            code: -1,
            signal: None,
            msg: format!("unknown termination cause 0x{status:04x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_exit_and_signal() {
        assert_eq!(decode(3 << 8).msg, "exit status 3");
        assert_eq!(decode(libc::SIGKILL).msg, "terminated by SIGKILL");
        assert_eq!(decode(libc::SIGKILL).code, -1);
        assert_eq!(
            decode(libc::SIGSEGV | 0x80).msg,
            "terminated by SIGSEGV (core dumped)"
        );
    }
}
