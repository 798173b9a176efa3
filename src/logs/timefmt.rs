//! Local-time formatting through the C library (`localtime_r` + `strftime`),
//! so the daemon honours `TZ` and `/etc/localtime` exactly as Supervisor's
//! `time.localtime()` does.

use std::ffi::CString;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Format `epoch_secs` in local time with a C `strftime` format
/// (e.g. `"%b %d %I:%M %p"` → `Jan 02 03:04 PM`).
///
/// Returns an empty string when the format contains a NUL byte, the time
/// cannot be represented, or the output would be unreasonably long.
pub fn strftime_local(fmt: &str, epoch_secs: i64) -> String {
    if fmt.is_empty() {
        return String::new();
    }
    let Ok(cfmt) = CString::new(fmt) else {
        return String::new();
    };
    let Some(tm) = local_tm(epoch_secs) else {
        return String::new();
    };
    let mut cap = 64usize.max(fmt.len() * 4);
    loop {
        let mut buf = vec![0u8; cap];
        // SAFETY: `buf` has `cap` writable bytes, `cfmt` is NUL-terminated and
        // `tm` is a fully initialised struct filled by localtime_r.
        let n = unsafe {
            libc::strftime(
                buf.as_mut_ptr().cast::<libc::c_char>(),
                cap,
                cfmt.as_ptr(),
                &tm,
            )
        };
        if n > 0 {
            buf.truncate(n);
            return match String::from_utf8(buf) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
        }
        // 0 means "did not fit" (or a legitimately empty result); grow a few
        // times, then give up rather than allocate without bound.
        if cap >= 64 * 1024 {
            return String::new();
        }
        cap *= 4;
    }
}

/// `localtime_r` for a Unix timestamp.
// The libc crate marks `time_t` deprecated on musl (it will become 64-bit
// on 32-bit targets); it is what `localtime_r` takes on every target.
#[allow(deprecated)]
fn local_tm(epoch_secs: i64) -> Option<libc::tm> {
    let t = libc::time_t::try_from(epoch_secs).ok()?;
    // SAFETY: an all-zero `tm` is a valid value (integers and a null pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() { None } else { Some(tm) }
}

/// Split a `SystemTime` into whole seconds since the epoch (floored, so
/// times before 1970 work too) and milliseconds within that second.
pub(crate) fn epoch_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_millis(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let nanos = d.subsec_nanos();
            if nanos == 0 {
                (-secs, 0)
            } else {
                // -1.25 s is second -2 plus 750 ms.
                (-secs - 1, (1_000_000_000 - nanos) / 1_000_000)
            }
        }
    }
}

/// Append Supervisor's `asctime` (`2026-01-12 06:42:25,426`) to `out`.
pub(crate) fn push_log_timestamp(out: &mut String, t: SystemTime) {
    let (secs, millis) = epoch_parts(t);
    out.push_str(&strftime_local("%Y-%m-%d %H:%M:%S", secs));
    // Writing to a String cannot fail.
    let _ = write!(out, ",{millis:03}");
}

/// RFC 3339 in UTC with milliseconds (`2026-01-12T05:42:25.426Z`): the
/// `time` of JSON log lines (SPEC B1).
pub(crate) fn rfc3339_utc(t: SystemTime) -> String {
    let (secs, millis) = epoch_parts(t);
    // SAFETY: an all-zero `tm` is a valid value (integers and a null pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = libc::time_t::try_from(secs).is_ok_and(|t| {
        // SAFETY: both pointers are valid for the duration of the call.
        !unsafe { libc::gmtime_r(&t, &mut tm) }.is_null()
    });
    if !ok {
        return "1970-01-01T00:00:00.000Z".into();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
/// `2026-01-12 06:42:25,426` in local time: Supervisor's `%(asctime)s`
/// (milliseconds truncated, after a comma).
pub fn log_timestamp(t: SystemTime) -> String {
    let mut s = String::with_capacity(23);
    push_log_timestamp(&mut s, t);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The C library's idea of the local UTC offset at `secs`, for tests that
    /// must not depend on the machine's time zone.
    fn offset_at(secs: i64) -> i64 {
        let tm = local_tm(secs).unwrap();
        tm.tm_gmtoff
    }

    fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
        // Days-from-civil inverse (Howard Hinnant's algorithm) for UTC.
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = if m <= 2 { y + 1 } else { y };
        (
            y,
            m,
            d,
            (rem / 3600) as u32,
            ((rem % 3600) / 60) as u32,
            (rem % 60) as u32,
        )
    }

    #[test]
    fn timestamp_matches_local_time_with_comma_millis() {
        let secs = 1_768_200_145i64; // 2026-01-12
        let t = UNIX_EPOCH + Duration::from_millis(secs as u64 * 1000 + 426);
        let s = log_timestamp(t);
        let (y, mo, d, h, mi, se) = civil(secs + offset_at(secs));
        assert_eq!(
            s,
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{se:02},426")
        );
        assert_eq!(s.len(), 23);
    }

    #[test]
    fn rfc3339_is_utc_with_millis() {
        let secs = 1_768_200_145i64;
        let t = UNIX_EPOCH + Duration::from_millis(secs as u64 * 1000 + 7);
        let (y, mo, d, h, mi, se) = civil(secs);
        assert_eq!(
            rfc3339_utc(t),
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}.007Z")
        );
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn millis_are_truncated_and_zero_padded() {
        let t = UNIX_EPOCH + Duration::from_micros(1_000_000_007_999);
        assert!(log_timestamp(t).ends_with(",007"));
        let t = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert!(log_timestamp(t).ends_with(",000"));
    }

    #[test]
    fn before_epoch_is_floored() {
        let t = UNIX_EPOCH - Duration::from_millis(1250);
        assert_eq!(epoch_parts(t), (-2, 750));
        let t = UNIX_EPOCH - Duration::from_secs(3);
        assert_eq!(epoch_parts(t), (-3, 0));
        assert_eq!(
            log_timestamp(UNIX_EPOCH - Duration::from_millis(1250)).len(),
            23
        );
    }

    #[test]
    fn strftime_formats() {
        let secs = 1_768_200_145i64;
        let local = secs + offset_at(secs);
        let (_, _, d, h, mi, _) = civil(local);
        let h12 = if h % 12 == 0 { 12 } else { h % 12 };
        let ampm = if h < 12 { "AM" } else { "PM" };
        assert_eq!(
            strftime_local("%b %d %I:%M %p", secs),
            format!("Jan {d:02} {h12:02}:{mi:02} {ampm}")
        );
        assert_eq!(strftime_local("", secs), "");
        assert_eq!(strftime_local("a\0b", secs), "");
        assert_eq!(strftime_local("%%", secs), "%");
        // Long outputs grow the buffer.
        let long = "%Y".repeat(100);
        assert_eq!(strftime_local(&long, secs).len(), 400);
    }
}
