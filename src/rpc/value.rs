//! The XML-RPC value model.
//!
//! One variant per wire type. Integers are 32-bit because that is all
//! XML-RPC's `<int>` carries and all Python's `xmlrpc.client` will marshal
//! (it raises `OverflowError` beyond), which is why Supervisor caps epoch
//! times with `capped_int` ([`Value::int_capped`]). Structs keep their
//! member order: Python dicts do, and the byte-exact encoder relies on it.

use std::fmt;

/// An XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>` / `<i4>` (also decoded from `<i8>` when it fits).
    Int(i32),
    /// `<boolean>`.
    Bool(bool),
    /// `<string>`, or a `<value>` with bare text.
    String(String),
    /// `<double>`.
    Double(f64),
    /// `<dateTime.iso8601>`, the text as sent (e.g. `20260101T12:00:00`).
    DateTime(String),
    /// `<base64>`, decoded.
    Base64(Vec<u8>),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<struct>`, members in order; names are unique after decoding.
    Struct(Vec<(String, Value)>),
    /// `<nil/>`: Python's `None`. Supervisor never sends it (its marshaller
    /// runs without `allow_none`), but its request parser turns `<nil/>`
    /// into `None`, so a request may carry one.
    Nil,
}

/// An integer that does not fit XML-RPC's 32-bit `<int>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntOutOfRange;

impl fmt::Display for IntOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("int exceeds XML-RPC limits")
    }
}

impl std::error::Error for IntOutOfRange {}

impl Value {
    /// An `Int` clamped to the 32-bit range, like Supervisor's `capped_int`
    /// (used for the `start`, `stop` and `now` epoch fields).
    pub fn int_capped(i: i64) -> Value {
        Value::Int(i.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }

    /// An `Array` from anything that converts into values.
    pub fn array<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }

    /// A `Struct` from `(name, value)` pairs, in the order given.
    pub fn structure<K: Into<String>, V: Into<Value>>(
        members: impl IntoIterator<Item = (K, V)>,
    ) -> Value {
        Value::Struct(
            members
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The XML-RPC type tag of this value (`"int"`, `"boolean"`, `"string"`,
    /// `"double"`, `"dateTime.iso8601"`, `"base64"`, `"array"`, `"struct"`,
    /// `"nil"`), for error messages and `system.methodSignature`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Bool(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
            Value::Nil => "nil",
        }
    }

    /// The integer, if this is an `Int`.
    pub fn as_int(&self) -> Option<i32> {
        match *self {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The boolean, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The text, if this is a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a `Double`.
    pub fn as_double(&self) -> Option<f64> {
        match *self {
            Value::Double(d) => Some(d),
            _ => None,
        }
    }

    /// The ISO 8601 text, if this is a `DateTime`.
    pub fn as_datetime(&self) -> Option<&str> {
        match self {
            Value::DateTime(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is `Base64`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Base64(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is an `Array`.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The members, if this is a `Struct`.
    pub fn as_struct(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Struct(m) => Some(m),
            _ => None,
        }
    }

    /// The member called `name`, if this is a `Struct` that has one.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_struct()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// `true` for `Nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Python's `str()` of the value as `xmlrpc.client` decodes it, which is
    /// what Supervisor puts in fault strings built from an argument
    /// (`RPCError(INCORRECT_PARAMETERS, chars)` → `INCORRECT_PARAMETERS: 5`).
    pub fn py_str(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            Value::DateTime(s) => s.clone(),
            other => other.py_repr(),
        }
    }

    /// Python's `repr()` of the decoded value (strings quoted as Python
    /// quotes them).
    pub fn py_repr(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Nil => "None".into(),
            Value::Double(d) if d.is_nan() => "nan".into(),
            Value::Double(d) if d.is_infinite() => if *d > 0.0 { "inf" } else { "-inf" }.into(),
            Value::Double(d) if d.fract() == 0.0 && d.abs() < 1e16 => format!("{d:.1}"),
            Value::Double(d) => d.to_string(),
            Value::String(s) => py_quote(s),
            Value::DateTime(s) => format!("<DateTime {}>", py_quote(s)),
            Value::Base64(b) => format!("b{}", py_quote(&String::from_utf8_lossy(b))),
            Value::Array(items) => {
                format!(
                    "[{}]",
                    items
                        .iter()
                        .map(Value::py_repr)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Value::Struct(members) => format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(k, v)| format!("{}: {}", py_quote(k), v.py_repr()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Python truthiness of the decoded value, which is what Supervisor's
    /// methods test (`if wait:`): zero, empty and `None` are false.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Int(i) => *i != 0,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Double(d) => *d != 0.0,
            Value::DateTime(_) => true,
            Value::Base64(b) => !b.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Struct(m) => !m.is_empty(),
            Value::Nil => false,
        }
    }

    /// The text, taken out, if this is a `String`.
    pub fn into_string(self) -> Option<String> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items, taken out, if this is an `Array`.
    pub fn into_array(self) -> Option<Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The members, taken out, if this is a `Struct`.
    pub fn into_struct(self) -> Option<Vec<(String, Value)>> {
        match self {
            Value::Struct(m) => Some(m),
            _ => None,
        }
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i)
    }
}

macro_rules! from_small_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(i: $t) -> Value {
                Value::Int(i32::from(i))
            }
        }
    )*};
}
from_small_int!(i8, i16, u8, u16);

macro_rules! try_from_wide_int {
    ($($t:ty),*) => {$(
        impl TryFrom<$t> for Value {
            type Error = IntOutOfRange;
            fn try_from(i: $t) -> Result<Value, IntOutOfRange> {
                i32::try_from(i).map(Value::Int).map_err(|_| IntOutOfRange)
            }
        }
    )*};
}
try_from_wide_int!(i64, u32, u64, usize, isize);

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(d: f64) -> Value {
        Value::Double(d)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::String(s.clone())
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

/// A string as Python's `repr()` writes it: single quotes unless the text
/// has a `'` and no `"`.
fn py_quote(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_and_accessors() {
        assert_eq!(Value::from(7).as_int(), Some(7));
        assert_eq!(Value::from(7u16).as_int(), Some(7));
        assert_eq!(Value::try_from(1i64 << 31), Err(IntOutOfRange));
        assert_eq!(Value::try_from(5usize), Ok(Value::Int(5)));
        assert_eq!(Value::from(true).as_bool(), Some(true));
        assert_eq!(Value::from("x").as_str(), Some("x"));
        assert_eq!(
            Value::from(String::from("y")).into_string().as_deref(),
            Some("y")
        );
        assert_eq!(Value::from(1.5).as_double(), Some(1.5));
        assert_eq!(Value::from(1).as_str(), None);
        assert_eq!(Value::from("1").as_int(), None);
        assert_eq!(
            Value::from(vec!["a", "b"]),
            Value::Array(vec![Value::from("a"), Value::from("b")])
        );
        assert_eq!(Value::array([1, 2]).as_array().map(<[Value]>::len), Some(2));
        let s = Value::structure([("name", Value::from("web")), ("pid", Value::from(42))]);
        assert_eq!(s.get("pid"), Some(&Value::Int(42)));
        assert_eq!(s.get("nope"), None);
        assert_eq!(Value::Int(1).get("pid"), None);
        assert_eq!(s.as_struct().map(|m| m[0].0.as_str()), Some("name"));
        assert_eq!(Value::Base64(vec![1]).as_bytes(), Some(&[1u8][..]));
        assert_eq!(
            Value::DateTime("20260101T00:00:00".into()).as_datetime(),
            Some("20260101T00:00:00")
        );
        assert!(Value::Nil.is_nil());
    }

    #[test]
    fn python_str_and_repr() {
        assert_eq!(Value::Int(5).py_str(), "5");
        assert_eq!(Value::Bool(true).py_str(), "True");
        assert_eq!(Value::Double(1.5).py_str(), "1.5");
        assert_eq!(Value::Double(2.0).py_str(), "2.0");
        assert_eq!(Value::String("it's".into()).py_str(), "it's");
        assert_eq!(Value::Nil.py_str(), "None");
        let a = Value::Array(vec![Value::Int(1), Value::from("a"), Value::Bool(false)]);
        assert_eq!(a.py_str(), "[1, 'a', False]");
        let s = Value::Struct(vec![("k".into(), Value::Array(vec![Value::Int(2)]))]);
        assert_eq!(s.py_str(), "{'k': [2]}");
        assert_eq!(Value::from("it's").py_repr(), "\"it's\"");
        assert_eq!(Value::from("a'b\"").py_repr(), "'a\\'b\"'");
        assert_eq!(Value::from("x\ny").py_repr(), "'x\\ny'");
    }

    #[test]
    fn capped_like_supervisor() {
        assert_eq!(Value::int_capped(1 << 40), Value::Int(i32::MAX));
        assert_eq!(Value::int_capped(-(1 << 40)), Value::Int(i32::MIN));
        assert_eq!(Value::int_capped(1_700_000_000), Value::Int(1_700_000_000));
    }

    #[test]
    fn truthiness_like_python() {
        assert!(!Value::Int(0).is_truthy());
        assert!(Value::Int(-1).is_truthy());
        assert!(!Value::String(String::new()).is_truthy());
        assert!(Value::String("0".into()).is_truthy());
        assert!(!Value::Nil.is_truthy());
        assert!(!Value::Array(vec![]).is_truthy());
        assert!(!Value::Double(0.0).is_truthy());
        assert!(Value::Bool(true).is_truthy());
    }

    #[test]
    fn type_names_are_wire_tags() {
        assert_eq!(Value::Int(0).type_name(), "int");
        assert_eq!(Value::Bool(false).type_name(), "boolean");
        assert_eq!(
            Value::DateTime(String::new()).type_name(),
            "dateTime.iso8601"
        );
        assert_eq!(Value::Struct(vec![]).type_name(), "struct");
    }
}
