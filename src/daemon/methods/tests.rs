//! Unit tests of the method helpers.

use crate::daemon::calls::split_namespec;
use crate::daemon::methods::info::timedelta;
use crate::daemon::methods::logs::{read_file, tail_file};
use crate::rpc::{Value, faults};

#[test]
fn direct_encoding_matches_the_value_encoding() {
    use crate::rpc::codec::direct::*;
    let mut out = Vec::new();
    response_start(&mut out);
    array_start(&mut out);
    struct_start(&mut out);
    member_str(&mut out, "name", "a<&>b");
    member_int(&mut out, "pid", -42);
    member_bool(&mut out, "ready", true);
    member_bool(&mut out, "gone", false);
    struct_end(&mut out);
    array_end(&mut out);
    response_end(&mut out);
    let v = Value::Array(vec![Value::Struct(vec![
        ("name".into(), Value::String("a<&>b".into())),
        ("pid".into(), Value::Int(-42)),
        ("ready".into(), Value::Bool(true)),
        ("gone".into(), Value::Bool(false)),
    ])]);
    assert_eq!(out, crate::rpc::codec::encode_response(&v));
}

#[test]
fn namespecs() {
    assert_eq!(split_namespec("web"), ("web", Some("web")));
    assert_eq!(split_namespec("g:web"), ("g", Some("web")));
    assert_eq!(split_namespec("g:*"), ("g", None));
    assert_eq!(split_namespec("g:"), ("g", None));
}

#[test]
fn timedelta_like_python() {
    assert_eq!(timedelta(62), "0:01:02");
    assert_eq!(timedelta(86400 + 3723), "1 day, 1:02:03");
    assert_eq!(timedelta(2 * 86400), "2 days, 0:00:00");
    assert_eq!(timedelta(-5), "0:00:00");
}

#[test]
fn read_file_offsets_like_supervisor() {
    let d = tempfile::tempdir().expect("tmp");
    let f = d.path().join("l");
    std::fs::write(&f, b"0123456789").expect("write");
    assert_eq!(read_file(&f, 0, 0).ok(), Some(b"0123456789".to_vec()));
    assert_eq!(read_file(&f, 2, 3).ok(), Some(b"234".to_vec()));
    assert_eq!(read_file(&f, -4, 0).ok(), Some(b"6789".to_vec()));
    assert_eq!(read_file(&f, -40, 0).ok(), Some(b"0123456789".to_vec()));
    assert_eq!(read_file(&f, 20, 5).ok(), Some(Vec::new()));
    assert_eq!(
        read_file(&f, -4, 2).err().map(|e| e.code),
        Some(faults::BAD_ARGUMENTS)
    );
    assert_eq!(
        read_file(&f, 0, -2).err().map(|e| e.code),
        Some(faults::BAD_ARGUMENTS)
    );
    assert_eq!(
        read_file(&d.path().join("nope"), 0, 0)
            .err()
            .map(|e| e.code),
        Some(faults::FAILED)
    );
}

/// Regression: readLog(-2**63, 0) (an offset sent as a string) negated
/// i64::MIN and panicked in the RPC handler.
#[test]
fn read_file_extreme_offsets() {
    let d = tempfile::tempdir().expect("tmp");
    let f = d.path().join("l");
    std::fs::write(&f, b"0123456789").expect("write");
    assert_eq!(
        read_file(&f, i64::MIN, 0).ok(),
        Some(b"0123456789".to_vec())
    );
    // Past the end: nothing, or FAILED when the seek itself is refused.
    assert!(!matches!(read_file(&f, i64::MAX, 0), Ok(v) if !v.is_empty()));
    assert_eq!(
        read_file(&f, 0, i64::MAX).ok(),
        Some(b"0123456789".to_vec())
    );
    assert!(read_file(&f, i64::MIN, i64::MIN).is_err());
    assert!(read_file(&f, 0, i64::MIN).is_err());
    for (o, l) in [
        (i64::MIN, i64::MAX),
        (i64::MAX, i64::MIN),
        (i64::MAX, i64::MAX),
    ] {
        assert!(matches!(tail_file(&f, o, l), Value::Array(_)));
    }
}

#[test]
fn tail_file_like_supervisor() {
    let d = tempfile::tempdir().expect("tmp");
    let f = d.path().join("l");
    std::fs::write(&f, b"0123456789").expect("write");
    let t = |o, l| match tail_file(&f, o, l) {
        Value::Array(v) => (
            v[0].as_str().unwrap_or("").to_string(),
            v[1].as_int(),
            v[2].as_bool(),
        ),
        _ => (String::new(), None, None),
    };
    assert_eq!(t(0, 100), ("0123456789".into(), Some(10), Some(false)));
    assert_eq!(t(0, 4), ("6789".into(), Some(10), Some(true)));
    assert_eq!(t(10, 4), ("".into(), Some(10), Some(false)));
    assert_eq!(t(8, 4), ("6789".into(), Some(10), Some(false)));
    let missing = tail_file(&d.path().join("nope"), 5, 3);
    assert_eq!(missing.as_array().map(|a| a.len()), Some(3));
}
