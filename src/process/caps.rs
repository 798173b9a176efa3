//! `capabilities=` (SPEC Part B): the child keeps only the listed Linux
//! capabilities, as ambient ones, across `user=`.
//!
//! Everything is computed in the parent; the child makes raw `prctl(2)` and
//! `capset(2)` calls on data held inline in [`CapsPlan`].  The `caps` crate
//! parses the names (config side) but is not called here: its set/raise
//! functions build `HashSet`s and its errors `format!` strings, and the
//! child of our `clone(CLONE_VM | CLONE_VFORK)` shares the parent's memory
//! and may not allocate.
//!
//! In the child, in this order (the kernel's rules, capabilities(7)):
//! 1. drop every other capability from the bounding set (needs
//!    CAP_SETPCAP, so while still root), so nothing can be regained later,
//!    not even through a set-uid or file-capability executable;
//! 2. `PR_SET_KEEPCAPS`, so `setuid` to the `user=` keeps the permitted set;
//! 3. (the caller switches user: setgroups, setgid, setuid);
//! 4. permitted = effective = inheritable = the listed ones;
//! 5. clear the ambient set, then raise each listed capability in it, so it
//!    survives `execve` of an ordinary file as a non-root user.
//!
//! The program then holds exactly the listed capabilities in CapPrm,
//! CapEff, CapInh, CapAmb and CapBnd.  Without `user=` the program is root
//! with only those capabilities.

/// A failed step in the child: the message prefix and the errno, for the
/// caller to report on the program's stderr before exiting 127.
pub type StepError<'a> = (&'a [u8], i32);

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, two data structs.
const CAPS_V3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// What the child does about capabilities, prepared before `clone`.
pub struct CapsPlan {
    /// Bit n = capability n is kept.
    keep: u64,
    /// `capset` data: low 32 capabilities, then the high 32.
    data: [CapData; 2],
    msg_bounding: Vec<u8>,
    msg_keepcaps: Vec<u8>,
    msg_capset: Vec<u8>,
    msg_ambient: Vec<u8>,
}

impl CapsPlan {
    /// The plan for a program keeping the capabilities of `keep`, or None
    /// when the daemon is not root: it cannot grant capabilities then (the
    /// config warned at load).
    pub fn for_spawn(keep: Option<u64>) -> Option<CapsPlan> {
        let keep = keep?;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let set = |bits: u32| CapData {
            effective: bits,
            permitted: bits,
            inheritable: bits,
        };
        let msg =
            |what: &str| format!("supervisor: couldn't set capabilities ({what}): ").into_bytes();
        Some(CapsPlan {
            keep,
            data: [set(keep as u32), set((keep >> 32) as u32)],
            msg_bounding: msg("bounding set"),
            msg_keepcaps: msg("PR_SET_KEEPCAPS"),
            msg_capset: msg("capset"),
            msg_ambient: msg("ambient set"),
        })
    }

    /// Steps 1 and 2, before the user switch.
    ///
    /// # Safety
    /// Only in the spawned child before `exec`: raw system calls on data
    /// prepared by the parent, no allocation.
    pub(super) unsafe fn before_user_switch(&self) -> Result<(), StepError<'_>> {
        // SAFETY: prctl(2) with integer arguments; errno read right after.
        unsafe {
            for cap in 0..64u32 {
                if self.keep & (1 << cap) != 0 {
                    continue;
                }
                if libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) != 0 {
                    let e = *libc::__errno_location();
                    // EINVAL: past the kernel's last capability.
                    if e == libc::EINVAL {
                        break;
                    }
                    return Err((&self.msg_bounding, e));
                }
            }
            if libc::prctl(libc::PR_SET_KEEPCAPS, 1 as libc::c_ulong, 0, 0, 0) != 0 {
                return Err((&self.msg_keepcaps, *libc::__errno_location()));
            }
        }
        Ok(())
    }

    /// Steps 4 and 5, after the user switch.
    ///
    /// # Safety
    /// As for [`CapsPlan::before_user_switch`].
    pub(super) unsafe fn after_user_switch(&self) -> Result<(), StepError<'_>> {
        let mut header = CapHeader {
            version: CAPS_V3,
            pid: 0,
        };
        // SAFETY: capset(2) and prctl(2) on memory owned by the plan.
        unsafe {
            if libc::syscall(
                libc::SYS_capset,
                &mut header as *mut CapHeader,
                self.data.as_ptr(),
            ) != 0
            {
                return Err((&self.msg_capset, *libc::__errno_location()));
            }
            let ambient = libc::PR_CAP_AMBIENT as libc::c_int;
            if libc::prctl(
                ambient,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err((&self.msg_ambient, *libc::__errno_location()));
            }
            for cap in 0..64u32 {
                if self.keep & (1 << cap) != 0
                    && libc::prctl(
                        ambient,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        cap as libc::c_ulong,
                        0,
                        0,
                    ) != 0
                {
                    return Err((&self.msg_ambient, *libc::__errno_location()));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_no_plan_and_masks_split_into_capsets_two_halves() {
        assert!(CapsPlan::for_spawn(None).is_none());
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        // CAP_NET_BIND_SERVICE (10) and CAP_CHECKPOINT_RESTORE (40).
        let plan = CapsPlan::for_spawn(Some(1 << 10 | 1 << 40));
        assert_eq!(plan.is_some(), root, "a plan only when root");
        if let Some(plan) = plan {
            for d in plan.data.iter() {
                assert_eq!(d.effective, d.permitted);
                assert_eq!(d.inheritable, d.permitted);
            }
            assert_eq!(plan.data[0].permitted, 1 << 10);
            assert_eq!(plan.data[1].permitted, 1 << 8);
        }
    }
}
