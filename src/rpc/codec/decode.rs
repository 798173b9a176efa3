//! Reading XML-RPC bodies as Supervisor's parser does, with the nesting
//! and value-count limits checked while parsing, and the decode errors.

use std::fmt;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::rpc::faults::Fault;
use crate::rpc::value::Value;

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
pub(super) fn parse_double(text: &str) -> Result<f64, DecodeError> {
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
pub(super) fn decode_base64(text: &str) -> Result<Vec<u8>, DecodeError> {
    crate::base64::decode_lenient(text.as_bytes()).ok_or_else(|| bad("base64", text))
}
