//! Supervisor's XML-RPC fault codes and the `Fault` value that carries them.
//!
//! The table is `supervisor.xmlrpc.Faults` from Supervisor 4.3. Clients
//! (supervisorctl above all) branch on these numbers, so they must never
//! change. The fault string is built exactly like Supervisor's `RPCError`:
//! the code's name, then `": extra"` when there is extra text.

use std::fmt;

use super::value::Value;

/// The method does not exist (or is not callable remotely).
pub const UNKNOWN_METHOD: i32 = 1;
/// Wrong number of parameters (a `TypeError` in the reference).
pub const INCORRECT_PARAMETERS: i32 = 2;
/// Parameters of the right count but unusable values.
pub const BAD_ARGUMENTS: i32 = 3;
/// `system.methodSignature` / `methodHelp` for a method without docs.
pub const SIGNATURE_UNSUPPORTED: i32 = 4;
/// supervisord is restarting or shutting down.
pub const SHUTDOWN_STATE: i32 = 6;
/// No such process or group.
pub const BAD_NAME: i32 = 10;
/// Unknown signal name or number.
pub const BAD_SIGNAL: i32 = 11;
/// A file (log, command) that should exist does not.
pub const NO_FILE: i32 = 20;
/// The command exists but cannot be executed.
pub const NOT_EXECUTABLE: i32 = 21;
/// Generic failure.
pub const FAILED: i32 = 30;
/// The process exited while it was being started.
pub const ABNORMAL_TERMINATION: i32 = 40;
/// The process could not be spawned.
pub const SPAWN_ERROR: i32 = 50;
/// The process is already running.
pub const ALREADY_STARTED: i32 = 60;
/// The process is not running.
pub const NOT_RUNNING: i32 = 70;
/// Success marker used in group/all result structs (`status` field).
pub const SUCCESS: i32 = 80;
/// `addProcessGroup` for a group that is already active.
pub const ALREADY_ADDED: i32 = 90;
/// `removeProcessGroup` for a group with running processes.
pub const STILL_RUNNING: i32 = 91;
/// The configuration could not be re-read.
pub const CANT_REREAD: i32 = 92;

/// Every fault code with its name, in the reference's declaration order.
pub const TABLE: &[(&str, i32)] = &[
    ("UNKNOWN_METHOD", UNKNOWN_METHOD),
    ("INCORRECT_PARAMETERS", INCORRECT_PARAMETERS),
    ("BAD_ARGUMENTS", BAD_ARGUMENTS),
    ("SIGNATURE_UNSUPPORTED", SIGNATURE_UNSUPPORTED),
    ("SHUTDOWN_STATE", SHUTDOWN_STATE),
    ("BAD_NAME", BAD_NAME),
    ("BAD_SIGNAL", BAD_SIGNAL),
    ("NO_FILE", NO_FILE),
    ("NOT_EXECUTABLE", NOT_EXECUTABLE),
    ("FAILED", FAILED),
    ("ABNORMAL_TERMINATION", ABNORMAL_TERMINATION),
    ("SPAWN_ERROR", SPAWN_ERROR),
    ("ALREADY_STARTED", ALREADY_STARTED),
    ("NOT_RUNNING", NOT_RUNNING),
    ("SUCCESS", SUCCESS),
    ("ALREADY_ADDED", ALREADY_ADDED),
    ("STILL_RUNNING", STILL_RUNNING),
    ("CANT_REREAD", CANT_REREAD),
];

/// The name of a fault code, or `"UNKNOWN"` for a code not in the table
/// (Supervisor's `getFaultDescription`).
pub fn name(code: i32) -> &'static str {
    TABLE
        .iter()
        .find(|&&(_, c)| c == code)
        .map_or("UNKNOWN", |&(n, _)| n)
}

/// The code for a fault name (`"BAD_NAME"` → 10), if it is one of ours.
pub fn code(name: &str) -> Option<i32> {
    TABLE.iter().find(|&&(n, _)| n == name).map(|&(_, c)| c)
}

/// An XML-RPC fault: `faultCode` and `faultString`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `faultCode`.
    pub code: i32,
    /// `faultString`.
    pub string: String,
}

impl Fault {
    /// A fault whose string is the code's name: `BAD_NAME`.
    pub fn new(code: i32) -> Fault {
        Fault {
            code,
            string: name(code).to_owned(),
        }
    }

    /// A fault whose string is `NAME: extra`, as `RPCError(code, extra)`
    /// formats it: `Fault::with(BAD_NAME, "foo")` → `BAD_NAME: foo`.
    pub fn with(code: i32, extra: impl fmt::Display) -> Fault {
        Fault {
            code,
            string: format!("{}: {}", name(code), extra),
        }
    }

    /// A fault with an arbitrary string, e.g. one received from a server.
    pub fn raw(code: i32, string: impl Into<String>) -> Fault {
        Fault {
            code,
            string: string.into(),
        }
    }

    /// The name of this fault's code (`"UNKNOWN"` if it is not in the table).
    pub fn name(&self) -> &'static str {
        name(self.code)
    }

    /// The struct form used inside `system.multicall` results and in
    /// `<fault>` bodies: `{faultCode, faultString}`, in that order.
    pub fn to_value(&self) -> Value {
        Value::Struct(vec![
            ("faultCode".to_owned(), Value::Int(self.code)),
            ("faultString".to_owned(), Value::String(self.string.clone())),
        ])
    }

    /// Reads `{faultCode: int, faultString: string}`; other members are ignored.
    pub fn from_value(v: &Value) -> Option<Fault> {
        let code = v.get("faultCode")?.as_int()?;
        let string = v.get("faultString")?.as_str()?;
        Some(Fault::raw(code, string))
    }
}

impl From<Fault> for Value {
    fn from(f: Fault) -> Value {
        Value::Struct(vec![
            ("faultCode".to_owned(), Value::Int(f.code)),
            ("faultString".to_owned(), Value::String(f.string)),
        ])
    }
}

impl fmt::Display for Fault {
    /// Shaped like Python's `Fault.__repr__`: `<Fault 10: "BAD_NAME: foo">`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Fault {}: {:?}>", self.code, self.string)
    }
}

impl std::error::Error for Fault {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_reference() {
        // supervisor/xmlrpc.py `class Faults`, Supervisor 4.3.
        let expected = [
            ("UNKNOWN_METHOD", 1),
            ("INCORRECT_PARAMETERS", 2),
            ("BAD_ARGUMENTS", 3),
            ("SIGNATURE_UNSUPPORTED", 4),
            ("SHUTDOWN_STATE", 6),
            ("BAD_NAME", 10),
            ("BAD_SIGNAL", 11),
            ("NO_FILE", 20),
            ("NOT_EXECUTABLE", 21),
            ("FAILED", 30),
            ("ABNORMAL_TERMINATION", 40),
            ("SPAWN_ERROR", 50),
            ("ALREADY_STARTED", 60),
            ("NOT_RUNNING", 70),
            ("SUCCESS", 80),
            ("ALREADY_ADDED", 90),
            ("STILL_RUNNING", 91),
            ("CANT_REREAD", 92),
        ];
        assert_eq!(TABLE, &expected[..]);
        for (n, c) in expected {
            assert_eq!(name(c), n);
            assert_eq!(code(n), Some(c));
        }
    }

    #[test]
    fn strings_like_rpc_error() {
        assert_eq!(Fault::new(BAD_NAME).string, "BAD_NAME");
        assert_eq!(Fault::with(BAD_NAME, "foo:bar").string, "BAD_NAME: foo:bar");
        assert_eq!(Fault::with(SPAWN_ERROR, 7).string, "SPAWN_ERROR: 7");
        assert_eq!(Fault::new(5).string, "UNKNOWN");
        assert_eq!(Fault::with(-1, "x").string, "UNKNOWN: x");
        assert_eq!(name(0), "UNKNOWN");
        assert_eq!(code("UNKNOWN"), None);
        assert_eq!(
            Fault::with(FAILED, "it's").to_string(),
            "<Fault 30: \"FAILED: it's\">"
        );
    }

    #[test]
    fn value_round_trip() {
        let f = Fault::with(NOT_RUNNING, "web");
        let v = f.to_value();
        assert_eq!(v, Value::from(f.clone()));
        assert_eq!(Fault::from_value(&v), Some(f));
        assert_eq!(Fault::from_value(&Value::Int(1)), None);
    }
}
