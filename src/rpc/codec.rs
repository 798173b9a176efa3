//! XML-RPC bodies: `methodCall` in, `methodResponse` out (and the reverse
//! for our own client). No I/O.
//!
//! **Encoding** reproduces, byte for byte, what Supervisor sends: its
//! `xmlrpc_marshal` is Python's `xmlrpc.client.dumps(..., methodresponse=1)`,
//! so the layout (newlines after most closing tags, none after `<nil/>`),
//! the escaping (only `&`, `<`, `>`; everything else raw UTF-8, control
//! characters included) and the `repr()` of floats are all Python's.
//!
//! **Decoding** follows Supervisor's request parser (an ElementTree
//! `iterparse` over the whole body) where it matters to clients:
//! a `<value>` with bare text is a string (whitespace kept); a `<value>`
//! holding an element takes that element and ignores the text around it;
//! `<params>` may be missing; `<boolean>` is true only for `1`; integers
//! take Python `int()` syntax (surrounding whitespace, sign, `_` between
//! digits); duplicate struct members keep the first position and the last
//! value, as a dict built from pairs does; CRLF becomes LF, as in expat.
//! Differences, all for input Supervisor mishandles: `<i8>` decodes as an
//! integer (Supervisor keeps its text), an unknown type tag is an error
//! (Supervisor keeps its text), a body carrying a DOCTYPE (and so any
//! entity declaration) is refused, `<array>` without `<data>` is an empty
//! array (Supervisor: HTTP 400), the root element must be `methodCall`, and
//! a dateTime's text is not validated.
//!
//! **Limits**, checked while parsing so a hostile body is refused before a
//! big tree exists: arrays and structs nest at most [`MAX_DEPTH`] deep, and
//! a request holds at most [`MAX_REQUEST_VALUES`] values. (Text cannot
//! grow past the body, whose size the HTTP layer bounds, since no entity
//! is ever expanded.)

use std::fmt;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::faults::Fault;
use super::value::Value;

/// Deepest nesting of arrays/structs a decoded body may have; deeper input
/// is rejected with [`DecodeError::TooDeep`] before it can exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// Most `<value>`s one request may hold (responses, which come from a
/// server we chose to call, have no such bound). A `system.multicall` of a
/// thousand calls holds about five thousand; the bound keeps the decoded
/// tree of a 16 MiB body of empty values from costing hundreds of MB.
pub const MAX_REQUEST_VALUES: usize = 100_000;

/// Why a body could not be decoded. The server chooses the reply: the
/// reference answers HTTP 400 for malformed XML and a missing method name,
/// and our spec turns bad UTF-8 into a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The body is not UTF-8; `valid_up_to` bytes were.
    InvalidUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// Not well-formed XML, or not shaped like an XML-RPC body.
    Malformed(String),
    /// A `methodCall` without a (non-empty) `methodName`.
    MissingMethodName,
    /// A type element inside `<value>` that XML-RPC does not define.
    UnknownType(String),
    /// A typed value whose text is not valid for its type.
    BadValue {
        /// The type tag (`int`, `boolean`, `double`, `base64`).
        ty: &'static str,
        /// The offending text (shortened).
        text: String,
    },
    /// Arrays/structs nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A request with more than [`MAX_REQUEST_VALUES`] values.
    TooManyValues,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::InvalidUtf8 { valid_up_to } => {
                write!(f, "body is not valid UTF-8 (after byte {valid_up_to})")
            }
            DecodeError::Malformed(m) => write!(f, "malformed XML-RPC body: {m}"),
            DecodeError::MissingMethodName => f.write_str("no method name"),
            DecodeError::UnknownType(t) => write!(f, "unknown XML-RPC type <{t}>"),
            DecodeError::BadValue { ty, text } => write!(f, "bad {ty} value {text:?}"),
            DecodeError::TooDeep => write!(f, "values nested deeper than {MAX_DEPTH}"),
            DecodeError::TooManyValues => {
                write!(f, "more than {MAX_REQUEST_VALUES} values in one request")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

// ---------------------------------------------------------------- encoding

const XML_HEADER: &[u8] = b"<?xml version='1.0'?>\n";

/// A `methodResponse` carrying `value`, as Supervisor would send it.
pub fn encode_response(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_response_into(value, &mut out);
    out
}

/// [`encode_response`] appending to `out` (reuse one buffer across calls).
pub fn encode_response_into(value: &Value, out: &mut Vec<u8>) {
    out.reserve(estimate(value) + 100);
    out.extend_from_slice(XML_HEADER);
    out.extend_from_slice(b"<methodResponse>\n<params>\n<param>\n");
    write_value(value, out);
    out.extend_from_slice(b"</param>\n</params>\n</methodResponse>\n");
}

/// Writing a response directly, without building a [`Value`] first: the
/// same bytes as [`encode_response`] of the equivalent value, for hot
/// replies (`getAllProcessInfo`) where allocating a tree per call shows.
pub mod direct {
    use super::{XML_HEADER, escape_into, write_i32};

    pub fn response_start(out: &mut Vec<u8>) {
        out.extend_from_slice(XML_HEADER);
        out.extend_from_slice(b"<methodResponse>\n<params>\n<param>\n");
    }
    pub fn response_end(out: &mut Vec<u8>) {
        out.extend_from_slice(b"</param>\n</params>\n</methodResponse>\n");
    }
    pub fn array_start(out: &mut Vec<u8>) {
        out.extend_from_slice(b"<value><array><data>\n");
    }
    pub fn array_end(out: &mut Vec<u8>) {
        out.extend_from_slice(b"</data></array></value>\n");
    }
    pub fn struct_start(out: &mut Vec<u8>) {
        out.extend_from_slice(b"<value><struct>\n");
    }
    pub fn struct_end(out: &mut Vec<u8>) {
        out.extend_from_slice(b"</struct></value>\n");
    }
    /// A member whose name needs no escaping (a literal key).
    pub fn member_int(out: &mut Vec<u8>, name: &str, v: i32) {
        out.extend_from_slice(b"<member>\n<name>");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"</name>\n<value><int>");
        write_i32(v, out);
        out.extend_from_slice(b"</int></value>\n</member>\n");
    }
    pub fn member_str(out: &mut Vec<u8>, name: &str, v: &str) {
        out.extend_from_slice(b"<member>\n<name>");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"</name>\n<value><string>");
        escape_into(v, out);
        out.extend_from_slice(b"</string></value>\n</member>\n");
    }
}

/// A `methodResponse` carrying a fault, as Supervisor would send it.
pub fn encode_fault(fault: &Fault) -> Vec<u8> {
    let mut out = Vec::new();
    encode_fault_into(fault, &mut out);
    out
}

/// [`encode_fault`] appending to `out`.
pub fn encode_fault_into(fault: &Fault, out: &mut Vec<u8>) {
    out.reserve(fault.string.len() + 300);
    out.extend_from_slice(XML_HEADER);
    out.extend_from_slice(
        b"<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n",
    );
    write_value(&Value::Int(fault.code), out);
    out.extend_from_slice(b"</member>\n<member>\n<name>faultString</name>\n");
    out.extend_from_slice(b"<value><string>");
    escape_into(&fault.string, out);
    out.extend_from_slice(b"</string></value>\n");
    out.extend_from_slice(b"</member>\n</struct></value>\n</fault>\n</methodResponse>\n");
}

/// A `methodCall`, as Python's `xmlrpc.client` sends it. (Python leaves the
/// method name unescaped; we escape it, which differs only for names that
/// would otherwise be invalid XML.)
pub fn encode_call(method: &str, params: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        100 + method.len() + params.iter().map(|p| estimate(p) + 20).sum::<usize>(),
    );
    out.extend_from_slice(XML_HEADER);
    out.extend_from_slice(b"<methodCall>\n<methodName>");
    escape_into(method, &mut out);
    out.extend_from_slice(b"</methodName>\n<params>\n");
    for p in params {
        out.extend_from_slice(b"<param>\n");
        write_value(p, &mut out);
        out.extend_from_slice(b"</param>\n");
    }
    out.extend_from_slice(b"</params>\n</methodCall>\n");
    out
}

/// A rough size of the encoded value, to reserve once.
fn estimate(v: &Value) -> usize {
    match v {
        Value::Int(_) | Value::Bool(_) | Value::Nil => 40,
        Value::Double(_) => 60,
        Value::String(s) | Value::DateTime(s) => 36 + s.len(),
        Value::Base64(b) => 40 + b.len() / 3 * 4 + b.len() / 57 + 4,
        Value::Array(a) => 36 + a.iter().map(estimate).sum::<usize>(),
        Value::Struct(m) => {
            36 + m
                .iter()
                .map(|(k, v)| 36 + k.len() + estimate(v))
                .sum::<usize>()
        }
    }
}

/// One value in the exact layout of Python's `Marshaller`.
fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Int(i) => {
            out.extend_from_slice(b"<value><int>");
            write_i32(*i, out);
            out.extend_from_slice(b"</int></value>\n");
        }
        Value::Bool(b) => {
            out.extend_from_slice(if *b {
                b"<value><boolean>1</boolean></value>\n"
            } else {
                b"<value><boolean>0</boolean></value>\n"
            });
        }
        Value::String(s) => {
            out.extend_from_slice(b"<value><string>");
            escape_into(s, out);
            out.extend_from_slice(b"</string></value>\n");
        }
        Value::Double(d) => {
            out.extend_from_slice(b"<value><double>");
            write_python_float(*d, out);
            out.extend_from_slice(b"</double></value>\n");
        }
        Value::DateTime(s) => {
            out.extend_from_slice(b"<value><dateTime.iso8601>");
            escape_into(s, out);
            out.extend_from_slice(b"</dateTime.iso8601></value>\n");
        }
        Value::Base64(b) => {
            out.extend_from_slice(b"<value><base64>\n");
            crate::base64::encode_lines(b, out);
            out.extend_from_slice(b"</base64></value>\n");
        }
        Value::Array(items) => {
            out.extend_from_slice(b"<value><array><data>\n");
            for item in items {
                write_value(item, out);
            }
            out.extend_from_slice(b"</data></array></value>\n");
        }
        Value::Struct(members) => {
            out.extend_from_slice(b"<value><struct>\n");
            for (k, v) in members {
                out.extend_from_slice(b"<member>\n<name>");
                escape_into(k, out);
                out.extend_from_slice(b"</name>\n");
                write_value(v, out);
                out.extend_from_slice(b"</member>\n");
            }
            out.extend_from_slice(b"</struct></value>\n");
        }
        // Python writes no newline after <nil/>.
        Value::Nil => out.extend_from_slice(b"<value><nil/></value>"),
    }
}

/// Python's `xml.sax.saxutils.escape`-style escaping used by `xmlrpc.client`:
/// `&`, `<`, `>` only, copying unescaped runs in one go.
pub(crate) fn escape_into(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

pub(crate) fn write_i32(i: i32, out: &mut Vec<u8>) {
    let mut buf = [0u8; 11];
    let mut pos = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    out.extend_from_slice(&buf[pos..]);
}

/// A small stack buffer for `core::fmt` output.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `repr(float)` of Python 3: the shortest digits that round-trip, in
/// fixed notation when the decimal exponent is in `-4 <= exp < 16`,
/// otherwise `d.ddde+XX`; always a `.0` on integral fixed values.
fn write_python_float(d: f64, out: &mut Vec<u8>) {
    use fmt::Write as _;
    if d.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if d.is_infinite() {
        out.extend_from_slice(if d < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if d.is_sign_negative() {
        out.push(b'-');
    }
    // `{:e}` gives the shortest digits that round-trip. Python (David Gay's
    // dtoa) picks, among strings of that length, the one closest to the
    // true value, which is the correctly rounded one whenever it round-trips.
    let a = d.abs();
    let mut sb = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    if write!(sb, "{a:e}").is_err() {
        // Cannot happen (at most 24 bytes), but never panic.
        out.extend_from_slice(format!("{a:e}").as_bytes());
        return;
    }
    let shortest_len = sb.buf[..sb.len]
        .iter()
        .take_while(|&&c| c != b'e')
        .filter(|c| c.is_ascii_digit())
        .count();
    if shortest_len > 1 {
        let mut rounded = StackBuf {
            buf: [0; 40],
            len: 0,
        };
        if write!(rounded, "{a:.prec$e}", prec = shortest_len - 1).is_ok()
            && std::str::from_utf8(&rounded.buf[..rounded.len])
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                == Some(a)
        {
            sb = rounded;
        }
    }
    let text = &sb.buf[..sb.len];
    let (mantissa, exp) = match text.iter().position(|&c| c == b'e') {
        Some(p) => (&text[..p], &text[p + 1..]),
        None => (text, &b"0"[..]),
    };
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for &c in mantissa {
        if c.is_ascii_digit() && nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let digits = &digits[..nd];
    let mut e: i32 = 0;
    let (neg_exp, exp_digits) = match exp.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, exp),
    };
    for &c in exp_digits {
        e = e * 10 + i32::from(c.wrapping_sub(b'0'));
    }
    if neg_exp {
        e = -e;
    }
    // Python's decpt: the value is 0.DIGITS × 10^decpt.
    let decpt = e + 1;
    if decpt <= -4 || decpt > 16 {
        out.push(digits.first().copied().unwrap_or(b'0'));
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        let ae = e.unsigned_abs();
        if ae < 10 {
            out.push(b'0');
        }
        write_i32(ae as i32, out);
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', decpt.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else {
        let decpt = decpt as usize;
        if decpt >= digits.len() {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', decpt - digits.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits[..decpt]);
            out.push(b'.');
            out.extend_from_slice(&digits[decpt..]);
        }
    }
}

// ---------------------------------------------------------------- decoding

/// Decodes a `methodCall`: the method name and its parameters (none when
/// `<params>` is empty or missing).
///
/// # Errors
///
/// [`DecodeError::InvalidUtf8`] for bytes that are not UTF-8,
/// [`DecodeError::MissingMethodName`] when the name is absent or empty,
/// [`DecodeError::UnknownType`], [`DecodeError::BadValue`] and
/// [`DecodeError::TooDeep`] for bad values, [`DecodeError::TooManyValues`]
/// above [`MAX_REQUEST_VALUES`], [`DecodeError::Malformed`] for everything
/// else (a DOCTYPE included). Supervisor answers HTTP 400 to malformed
/// bodies and has no limits; bad UTF-8 kills its connection instead (our
/// spec wants a fault there).
pub fn decode_call(body: &[u8]) -> Result<(String, Vec<Value>), DecodeError> {
    let mut p = Parser::new(body, Mode::Request)?;
    p.root(Tag::MethodCall)?;
    let mut method: Option<String> = None;
    let mut params = Vec::new();
    loop {
        match p.next()? {
            Tok::Open(Tag::MethodName) => method = Some(p.text_content(Tag::MethodName)?),
            Tok::Open(Tag::Params) => params = p.params()?,
            Tok::Open(t) => return Err(p.unexpected(&t, "methodCall")),
            Tok::Text(_) => {}
            Tok::Close => break,
            Tok::Eof => return Err(eof()),
        }
    }
    p.finish()?;
    match method {
        Some(m) if !m.is_empty() => Ok((m, params)),
        _ => Err(DecodeError::MissingMethodName),
    }
}

/// Decodes a `methodResponse`: `Ok(Ok(value))`, or `Ok(Err(fault))` for a
/// `<fault>` body. Booleans must be `0`/`1` here, as Python's client wants.
///
/// # Errors
///
/// The same kinds as [`decode_call`]; a body with no value, more than one
/// param, or a fault that is not `{faultCode: int, faultString: string}`
/// is [`DecodeError::Malformed`].
pub fn decode_response(body: &[u8]) -> Result<Result<Value, Fault>, DecodeError> {
    let mut p = Parser::new(body, Mode::Response)?;
    p.root(Tag::MethodResponse)?;
    let mut result: Option<Result<Value, Fault>> = None;
    loop {
        match p.next()? {
            Tok::Open(Tag::Params) => {
                let mut params = p.params()?;
                if params.len() != 1 {
                    return Err(DecodeError::Malformed(format!(
                        "a response has one param, not {}",
                        params.len()
                    )));
                }
                result = params.pop().map(Ok);
            }
            Tok::Open(Tag::Fault) => {
                let v = p.single_value(Tag::Fault)?;
                let fault = Fault::from_value(&v).ok_or_else(|| {
                    DecodeError::Malformed(
                        "fault is not a struct {faultCode: int, faultString: string}".into(),
                    )
                })?;
                result = Some(Err(fault));
            }
            Tok::Open(t) => return Err(p.unexpected(&t, "methodResponse")),
            Tok::Text(_) => {}
            Tok::Close => break,
            Tok::Eof => return Err(eof()),
        }
    }
    p.finish()?;
    result.ok_or_else(|| DecodeError::Malformed("response has neither params nor fault".into()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Supervisor's request parser rules.
    Request,
    /// Python `xmlrpc.client` response rules.
    Response,
}

/// Element names we know. Namespace prefixes are ignored.
#[derive(Debug, PartialEq, Eq)]
enum Tag {
    MethodCall,
    MethodResponse,
    MethodName,
    Params,
    Param,
    Fault,
    Value,
    Int,
    Boolean,
    String,
    Double,
    DateTime,
    Base64,
    Array,
    Data,
    Struct,
    Member,
    Name,
    Nil,
    Other(String),
}

impl Tag {
    fn from_local(name: &str) -> Tag {
        match name {
            "methodCall" => Tag::MethodCall,
            "methodResponse" => Tag::MethodResponse,
            "methodName" => Tag::MethodName,
            "params" => Tag::Params,
            "param" => Tag::Param,
            "fault" => Tag::Fault,
            "value" => Tag::Value,
            // i1/i2/biginteger are Apache extensions Python's client accepts.
            "int" | "i4" | "i8" | "i1" | "i2" | "biginteger" => Tag::Int,
            "boolean" => Tag::Boolean,
            "string" => Tag::String,
            "double" | "float" => Tag::Double,
            "dateTime.iso8601" => Tag::DateTime,
            "base64" => Tag::Base64,
            "array" => Tag::Array,
            "data" => Tag::Data,
            "struct" => Tag::Struct,
            "member" => Tag::Member,
            "name" => Tag::Name,
            "nil" => Tag::Nil,
            other => Tag::Other(shorten(other)),
        }
    }

    fn label(&self) -> &str {
        match self {
            Tag::MethodCall => "methodCall",
            Tag::MethodResponse => "methodResponse",
            Tag::MethodName => "methodName",
            Tag::Params => "params",
            Tag::Param => "param",
            Tag::Fault => "fault",
            Tag::Value => "value",
            Tag::Int => "int",
            Tag::Boolean => "boolean",
            Tag::String => "string",
            Tag::Double => "double",
            Tag::DateTime => "dateTime.iso8601",
            Tag::Base64 => "base64",
            Tag::Array => "array",
            Tag::Data => "data",
            Tag::Struct => "struct",
            Tag::Member => "member",
            Tag::Name => "name",
            Tag::Nil => "nil",
            Tag::Other(s) => s,
        }
    }
}

/// What the parser works with: element opens/closes (empty elements are
/// expanded) and text (character data, CDATA and references, resolved).
enum Tok<'a> {
    Open(Tag),
    Close,
    Text(std::borrow::Cow<'a, str>),
    Eof,
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    mode: Mode,
    /// `<value>`s still allowed ([`MAX_REQUEST_VALUES`] for a request).
    values_left: usize,
}

fn eof() -> DecodeError {
    DecodeError::Malformed("unexpected end of document".into())
}

/// At most 64 characters of `s`, for error messages.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

fn is_xml_space(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

impl<'a> Parser<'a> {
    fn new(body: &'a [u8], mode: Mode) -> Result<Parser<'a>, DecodeError> {
        let text = std::str::from_utf8(body).map_err(|e| DecodeError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        let values_left = match mode {
            Mode::Request => MAX_REQUEST_VALUES,
            Mode::Response => usize::MAX,
        };
        Ok(Parser {
            reader,
            mode,
            values_left,
        })
    }

    fn next(&mut self) -> Result<Tok<'a>, DecodeError> {
        loop {
            let ev = self
                .reader
                .read_event()
                .map_err(|e| DecodeError::Malformed(shorten(&e.to_string())))?;
            return Ok(match ev {
                Event::Start(e) => Tok::Open(Tag::from_local(e.local_name().as_ref())),
                // Not produced with expand_empty_elements, but harmless.
                Event::Empty(_) => {
                    return Err(DecodeError::Malformed("unexpanded empty element".into()));
                }
                Event::End(_) => Tok::Close,
                Event::Text(t) => Tok::Text(t.xml10_content()),
                Event::CData(t) => Tok::Text(t.xml10_content()),
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => quick_xml::escape::resolve_xml_entity(&r)
                            .ok_or_else(|| {
                                DecodeError::Malformed(format!(
                                    "undefined entity &{};",
                                    shorten(&r)
                                ))
                            })?
                            .to_owned(),
                        Err(e) => return Err(DecodeError::Malformed(shorten(&e.to_string()))),
                    };
                    Tok::Text(resolved.into())
                }
                // A DTD can declare entities (parameter entities included)
                // whose expansion no caller needs: refuse it outright.
                Event::DocType(_) => {
                    return Err(DecodeError::Malformed(
                        "a DOCTYPE is not accepted in XML-RPC".into(),
                    ));
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => continue,
                Event::Eof => Tok::Eof,
            });
        }
    }

    fn unexpected(&self, tag: &Tag, inside: &str) -> DecodeError {
        DecodeError::Malformed(format!("unexpected <{}> in <{}>", tag.label(), inside))
    }

    /// Skips the prolog and opens the root element, which must be `want`.
    fn root(&mut self, want: Tag) -> Result<(), DecodeError> {
        loop {
            match self.next()? {
                Tok::Open(t) if t == want => return Ok(()),
                Tok::Open(t) => {
                    return Err(DecodeError::Malformed(format!(
                        "root element is <{}>, not <{}>",
                        t.label(),
                        want.label()
                    )));
                }
                Tok::Text(t) if is_xml_space(&t) => {}
                Tok::Text(_) => return Err(DecodeError::Malformed("text before root".into())),
                Tok::Close => return Err(DecodeError::Malformed("close before root".into())),
                Tok::Eof => return Err(DecodeError::Malformed("no root element".into())),
            }
        }
    }

    /// After the root closed: only whitespace, comments and PIs may follow.
    fn finish(&mut self) -> Result<(), DecodeError> {
        loop {
            match self.next()? {
                Tok::Eof => return Ok(()),
                Tok::Text(t) if is_xml_space(&t) => {}
                _ => return Err(DecodeError::Malformed("junk after document element".into())),
            }
        }
    }

    /// The text of an element that must not contain elements; consumes its close.
    fn text_content(&mut self, of: Tag) -> Result<String, DecodeError> {
        let mut s = String::new();
        loop {
            match self.next()? {
                Tok::Text(t) => s.push_str(&t),
                Tok::Close => return Ok(s),
                Tok::Open(t) => return Err(self.unexpected(&t, of.label())),
                Tok::Eof => return Err(eof()),
            }
        }
    }

    /// Contents of `<params>`: one value per `<param>`.
    fn params(&mut self) -> Result<Vec<Value>, DecodeError> {
        let mut out = Vec::new();
        loop {
            match self.next()? {
                Tok::Open(Tag::Param) => out.push(self.single_value(Tag::Param)?),
                Tok::Open(t) => return Err(self.unexpected(&t, "params")),
                Tok::Text(_) => {}
                Tok::Close => return Ok(out),
                Tok::Eof => return Err(eof()),
            }
        }
    }

    /// Contents of an element holding one `<value>` (`param`, `fault`).
    /// Like ElementTree's `x[0]`, a second value is ignored.
    fn single_value(&mut self, of: Tag) -> Result<Value, DecodeError> {
        let mut first = None;
        loop {
            match self.next()? {
                Tok::Open(Tag::Value) => {
                    let v = self.value(0)?;
                    first.get_or_insert(v);
                }
                Tok::Open(t) => return Err(self.unexpected(&t, of.label())),
                Tok::Text(_) => {}
                Tok::Close => {
                    return first.ok_or_else(|| {
                        DecodeError::Malformed(format!("<{}> without a value", of.label()))
                    });
                }
                Tok::Eof => return Err(eof()),
            }
        }
    }

    /// Contents of `<value>`: bare text is a string; a typed element wins
    /// over any text around it.
    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        self.values_left = self
            .values_left
            .checked_sub(1)
            .ok_or(DecodeError::TooManyValues)?;
        let mut text = String::new();
        let mut typed: Option<Value> = None;
        loop {
            match self.next()? {
                Tok::Text(t) => {
                    if typed.is_none() {
                        text.push_str(&t);
                    }
                }
                Tok::Open(tag) => {
                    let v = self.typed(tag, depth)?;
                    typed.get_or_insert(v);
                }
                Tok::Close => return Ok(typed.unwrap_or(Value::String(text))),
                Tok::Eof => return Err(eof()),
            }
        }
    }

    fn typed(&mut self, tag: Tag, depth: usize) -> Result<Value, DecodeError> {
        Ok(match tag {
            Tag::Int => Value::Int(parse_int(&self.text_content(Tag::Int)?)?),
            Tag::Boolean => {
                let t = self.text_content(Tag::Boolean)?;
                match (t.as_str(), self.mode) {
                    ("1", _) => Value::Bool(true),
                    ("0", _) => Value::Bool(false),
                    // Supervisor: `x.text == "1"`; anything else is False.
                    (_, Mode::Request) => Value::Bool(false),
                    (_, Mode::Response) => return Err(bad("boolean", &t)),
                }
            }
            Tag::String => Value::String(self.text_content(Tag::String)?),
            Tag::Double => Value::Double(parse_double(&self.text_content(Tag::Double)?)?),
            Tag::DateTime => Value::DateTime(self.text_content(Tag::DateTime)?),
            Tag::Base64 => Value::Base64(decode_base64(&self.text_content(Tag::Base64)?)?),
            Tag::Nil => {
                self.text_content(Tag::Nil)?;
                Value::Nil
            }
            Tag::Array => {
                if depth >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
                self.array(depth + 1)?
            }
            Tag::Struct => {
                if depth >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
                self.structure(depth + 1)?
            }
            Tag::Other(name) => return Err(DecodeError::UnknownType(name)),
            other => return Err(self.unexpected(&other, "value")),
        })
    }

    /// Contents of `<array>`: the first `<data>` (ElementTree's `x[0]`).
    fn array(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let mut items: Option<Vec<Value>> = None;
        loop {
            match self.next()? {
                Tok::Open(Tag::Data) => {
                    let d = self.data(depth)?;
                    items.get_or_insert(d);
                }
                Tok::Open(t) => return Err(self.unexpected(&t, "array")),
                Tok::Text(_) => {}
                Tok::Close => return Ok(Value::Array(items.unwrap_or_default())),
                Tok::Eof => return Err(eof()),
            }
        }
    }

    fn data(&mut self, depth: usize) -> Result<Vec<Value>, DecodeError> {
        let mut items = Vec::new();
        loop {
            match self.next()? {
                Tok::Open(Tag::Value) => items.push(self.value(depth)?),
                Tok::Open(t) => return Err(self.unexpected(&t, "data")),
                Tok::Text(_) => {}
                Tok::Close => return Ok(items),
                Tok::Eof => return Err(eof()),
            }
        }
    }

    fn structure(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let mut members: Vec<(String, Value)> = Vec::new();
        // Index by name once a struct grows, so duplicate handling stays linear.
        let mut index: Option<std::collections::HashMap<String, usize>> = None;
        loop {
            match self.next()? {
                Tok::Open(Tag::Member) => {
                    let (k, v) = self.member(depth)?;
                    let found = match &index {
                        Some(ix) => ix.get(&k).copied(),
                        None => members.iter().position(|(n, _)| *n == k),
                    };
                    match found {
                        // A dict built from pairs: first position, last value.
                        Some(i) => members[i].1 = v,
                        None => {
                            if let Some(ix) = index.as_mut() {
                                ix.insert(k.clone(), members.len());
                            }
                            members.push((k, v));
                            if index.is_none() && members.len() > 16 {
                                index = Some(
                                    members
                                        .iter()
                                        .enumerate()
                                        .map(|(i, (n, _))| (n.clone(), i))
                                        .collect(),
                                );
                            }
                        }
                    }
                }
                Tok::Open(t) => return Err(self.unexpected(&t, "struct")),
                Tok::Text(_) => {}
                Tok::Close => return Ok(Value::Struct(members)),
                Tok::Eof => return Err(eof()),
            }
        }
    }

    fn member(&mut self, depth: usize) -> Result<(String, Value), DecodeError> {
        let mut name = None;
        let mut value = None;
        loop {
            match self.next()? {
                Tok::Open(Tag::Name) => name = Some(self.text_content(Tag::Name)?),
                Tok::Open(Tag::Value) => value = Some(self.value(depth)?),
                Tok::Open(t) => return Err(self.unexpected(&t, "member")),
                Tok::Text(_) => {}
                Tok::Close => {
                    return match (name, value) {
                        (Some(n), Some(v)) => Ok((n, v)),
                        _ => Err(DecodeError::Malformed(
                            "<member> needs a <name> and a <value>".into(),
                        )),
                    };
                }
                Tok::Eof => return Err(eof()),
            }
        }
    }
}

fn bad(ty: &'static str, text: &str) -> DecodeError {
    DecodeError::BadValue {
        ty,
        text: shorten(text),
    }
}

/// Python `int()` on text: surrounding whitespace, an optional sign, and
/// `_` allowed between digits. Out of the 32-bit range is an error.
fn parse_int(text: &str) -> Result<i32, DecodeError> {
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let cleaned = without_digit_underscores(digits).ok_or_else(|| bad("int", text))?;
    if cleaned.is_empty() || !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("int", text));
    }
    let mut n: i64 = 0;
    for b in cleaned.bytes() {
        n = n * 10 + i64::from(b - b'0');
        if n > 1 << 31 {
            return Err(bad("int", text));
        }
    }
    let n = if neg { -n } else { n };
    i32::try_from(n).map_err(|_| bad("int", text))
}

/// Python `float()` on text: whitespace, `inf`/`nan` spellings, `_`
/// between digits.
fn parse_double(text: &str) -> Result<f64, DecodeError> {
    let t = text.trim();
    let cleaned = without_digit_underscores(t).ok_or_else(|| bad("double", text))?;
    cleaned.parse::<f64>().map_err(|_| bad("double", text))
}

/// `s` without underscores, each of which must sit between two ASCII digits.
fn without_digit_underscores(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.contains('_') {
        return Some(s.into());
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        if c == '_' {
            let before = i.checked_sub(1).and_then(|j| b.get(j));
            let after = b.get(i + 1);
            if !(before.is_some_and(u8::is_ascii_digit) && after.is_some_and(u8::is_ascii_digit)) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out.into())
}

/// Python's `base64.decodebytes`: see [`crate::base64::decode_lenient`].
fn decode_base64(text: &str) -> Result<Vec<u8>, DecodeError> {
    crate::base64::decode_lenient(text.as_bytes()).ok_or_else(|| bad("base64", text))
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
