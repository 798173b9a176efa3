//! Codec tests. Expected bodies in `../testdata/` were produced by
//! Supervisor 4.3's `xmlrpc_marshal` and Python's `xmlrpc.client.dumps`
//! (see `testdata/gen.py`); the encoder must match them byte for byte.

use super::*;
use crate::rpc::faults;

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/src/rpc/testdata/{}", env!("CARGO_MANIFEST_DIR"), name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn st(members: Vec<(&str, Value)>) -> Value {
    Value::Struct(
        members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// Equality that treats NaN as equal to NaN (bit-for-bit on doubles).
pub(super) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        _ => a == b,
    }
}

fn proc_info(name: &str, group: &str, state: i32, statename: &str, pid: i32, desc: &str) -> Value {
    st(vec![
        ("name", s(name)),
        ("group", s(group)),
        ("start", Value::Int(1767268800)),
        ("stop", Value::Int(0)),
        ("now", Value::Int(1767268862)),
        ("state", Value::Int(state)),
        ("statename", s(statename)),
        ("spawnerr", s("")),
        ("exitstatus", Value::Int(0)),
        ("logfile", s("/var/log/web.log")),
        ("stdout_logfile", s("/var/log/web.log")),
        ("stderr_logfile", s("")),
        ("pid", Value::Int(pid)),
        ("description", s(desc)),
    ])
}

fn responses() -> Vec<(&'static str, Value)> {
    let web = proc_info(
        "web_00",
        "web",
        20,
        "RUNNING",
        4242,
        "pid 4242, uptime 0:01:02",
    );
    vec![
        ("int_1", Value::Int(1)),
        ("int_neg", Value::Int(-42)),
        ("int_zero", Value::Int(0)),
        ("int_max", Value::Int(i32::MAX)),
        ("int_min", Value::Int(i32::MIN)),
        ("bool_true", Value::Bool(true)),
        ("bool_false", Value::Bool(false)),
        ("str_plain", s("hello")),
        ("str_empty", s("")),
        ("str_escape", s("a<b>&c \"q\" 'a' ]]> &amp;")),
        (
            "str_unicode",
            s("h\u{e9}llo \u{2713} \u{65e5}\u{672c}\u{8a9e} \u{1f600}"),
        ),
        ("str_ctrl", s("\x1b[31mred\x1b[0m\r\n\ttab\x00nul\x7f")),
        ("str_multiline", s("line1\nline2\n")),
        ("double_1_5", Value::Double(1.5)),
        ("double_0_1", Value::Double(0.1)),
        ("double_neg_zero", Value::Double(-0.0)),
        ("double_1e16", Value::Double(1e16)),
        ("double_1e_5", Value::Double(1e-5)),
        ("double_big", Value::Double(123456789.125)),
        ("double_inf", Value::Double(f64::INFINITY)),
        ("double_nan", Value::Double(f64::NAN)),
        ("double_1e300", Value::Double(1e300)),
        ("datetime", Value::DateTime("20260101T12:00:00".into())),
        ("b64_empty", Value::Base64(vec![])),
        ("b64_short", Value::Base64(vec![0, 0xff, 0x10])),
        ("b64_long", Value::Base64((0..=255).collect())),
        ("arr_empty", Value::Array(vec![])),
        ("struct_empty", Value::Struct(vec![])),
        (
            "arr_mixed",
            Value::Array(vec![
                Value::Int(1),
                s("two"),
                Value::Bool(true),
                Value::Double(3.5),
                Value::Array(vec![]),
                Value::Struct(vec![]),
            ]),
        ),
        (
            "nested",
            st(vec![(
                "a",
                st(vec![(
                    "b",
                    Value::Array(vec![
                        Value::Int(1),
                        Value::Array(vec![
                            Value::Int(2),
                            Value::Array(vec![Value::Int(3), st(vec![("c", s("d"))])]),
                        ]),
                    ]),
                )]),
            )]),
        ),
        ("process_info", web.clone()),
        (
            "all_process_info",
            Value::Array(vec![
                web,
                proc_info(
                    "web_01",
                    "web",
                    20,
                    "RUNNING",
                    4243,
                    "pid 4242, uptime 0:01:02",
                ),
                proc_info("worker", "worker", 0, "STOPPED", 0, "Not started"),
            ]),
        ),
        (
            "state",
            st(vec![
                ("statecode", Value::Int(1)),
                ("statename", s("RUNNING")),
            ]),
        ),
        (
            "tail",
            Value::Array(vec![
                s("log <data>\n"),
                Value::Int(1234),
                Value::Bool(false),
            ]),
        ),
        (
            "struct_keys_escape",
            st(vec![("a<b", Value::Int(1)), ("\u{e9}", Value::Int(2))]),
        ),
        (
            "multicall",
            Value::Array(vec![
                s("3.0"),
                Fault::with(faults::BAD_NAME, "x").to_value(),
                Value::Bool(true),
            ]),
        ),
        ("nil", Value::Nil),
    ]
}

fn fault_cases() -> Vec<(&'static str, Fault)> {
    vec![
        ("fault_bad_name", Fault::with(faults::BAD_NAME, "foo")),
        ("fault_unknown_method", Fault::new(faults::UNKNOWN_METHOD)),
        ("fault_escape", Fault::with(faults::FAILED, "<&> \u{e9}")),
        ("fault_negative", Fault::raw(-1, "")),
    ]
}

fn call_cases() -> Vec<(&'static str, &'static str, Vec<Value>)> {
    vec![
        ("call_noargs", "supervisor.getState", vec![]),
        (
            "call_start",
            "supervisor.startProcess",
            vec![s("web:web_00"), Value::Bool(true)],
        ),
        (
            "call_read",
            "supervisor.readProcessStdoutLog",
            vec![s("web"), Value::Int(-100), Value::Int(0)],
        ),
        (
            "call_multicall",
            "system.multicall",
            vec![Value::Array(vec![
                st(vec![
                    ("methodName", s("supervisor.getPID")),
                    ("params", Value::Array(vec![])),
                ]),
                st(vec![
                    ("methodName", s("supervisor.stopProcess")),
                    ("params", Value::Array(vec![s("x"), Value::Bool(false)])),
                ]),
            ])],
        ),
        (
            "call_all_types",
            "x.y",
            vec![
                Value::Int(1),
                Value::Bool(true),
                s("s<>"),
                Value::Double(1.25),
                Value::DateTime("20260101T12:00:00".into()),
                Value::Base64(b"bin".to_vec()),
                Value::Array(vec![Value::Int(1)]),
                st(vec![("k", s("v"))]),
            ],
        ),
        ("call_nil", "a.b", vec![Value::Nil, Value::Int(1)]),
    ]
}

fn assert_bytes(name: &str, got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "{name}: encoding differs from Python\n--- got ---\n{}\n--- want ---\n{}",
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(want)
    );
}

#[test]
fn responses_match_supervisor_byte_for_byte() {
    for (name, v) in responses() {
        let want = testdata(&format!("resp_{name}.xml"));
        assert_bytes(name, &encode_response(&v), &want);
        // And what Python sends decodes to the same value (XML turns CRLF into LF).
        let mut expect = v.clone();
        if name == "str_ctrl" {
            expect = s("\x1b[31mred\x1b[0m\n\ttab\x00nul\x7f");
        }
        match decode_response(&want) {
            Ok(Ok(got)) => assert!(same(&got, &expect), "{name}: decoded {got:?}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn faults_match_supervisor_byte_for_byte() {
    for (name, f) in fault_cases() {
        let want = testdata(&format!("{name}.xml"));
        assert_bytes(name, &encode_fault(&f), &want);
        assert_eq!(decode_response(&want), Ok(Err(f)), "{name}");
    }
}

#[test]
fn calls_match_python_client_byte_for_byte() {
    for (name, method, params) in call_cases() {
        let want = testdata(&format!("{name}.xml"));
        assert_bytes(name, &encode_call(method, &params), &want);
        let (m, p) = decode_call(&want).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m, method, "{name}");
        assert!(
            same(&Value::Array(p.clone()), &Value::Array(params)),
            "{name}: {p:?}"
        );
    }
}

#[test]
fn every_testdata_body_is_checked() {
    let mut known: Vec<String> = responses()
        .iter()
        .map(|(n, _)| format!("resp_{n}.xml"))
        .chain(fault_cases().iter().map(|(n, _)| format!("{n}.xml")))
        .chain(call_cases().iter().map(|(n, _, _)| format!("{n}.xml")))
        .collect();
    known.sort();
    let dir = format!("{}/src/rpc/testdata", env!("CARGO_MANIFEST_DIR"));
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .expect("testdata dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    found.sort();
    assert_eq!(found, known);
}

#[test]
fn doubles_match_python_repr() {
    let text = String::from_utf8(testdata("doubles.txt")).expect("utf-8");
    let mut n = 0;
    for line in text.lines() {
        let (bits, repr) = line.split_once(' ').expect("two fields");
        let d = f64::from_bits(u64::from_str_radix(bits, 16).expect("hex"));
        let mut out = Vec::new();
        write_python_float(d, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), repr, "bits {bits}");
        // Python's text parses back to the same double.
        let back = parse_double(repr).expect("parses");
        assert_eq!(back.to_bits(), d.to_bits(), "{repr}");
        n += 1;
    }
    assert!(n > 3000, "only {n} doubles");
}

#[test]
fn encode_into_appends_and_reuses() {
    let mut buf = b"HTTP header".to_vec();
    encode_response_into(&Value::Int(1), &mut buf);
    assert!(buf.starts_with(b"HTTP header<?xml"));
    assert_eq!(&buf[11..], &testdata("resp_int_1.xml")[..]);
    let mut buf2 = Vec::new();
    encode_fault_into(&Fault::new(faults::UNKNOWN_METHOD), &mut buf2);
    assert_eq!(buf2, testdata("fault_unknown_method.xml"));
}

fn call(body: &str) -> Result<(String, Vec<Value>), DecodeError> {
    decode_call(body.as_bytes())
}

fn params_of(inner: &str) -> Vec<Value> {
    let body =
        format!("<methodCall><methodName>a.b</methodName><params>{inner}</params></methodCall>");
    match call(&body) {
        Ok((_, p)) => p,
        Err(e) => panic!("{inner}: {e}"),
    }
}

fn one(value_xml: &str) -> Value {
    let mut p = params_of(&format!("<param>{value_xml}</param>"));
    assert_eq!(p.len(), 1, "{value_xml}");
    p.remove(0)
}

#[test]
fn requests_parse_like_supervisor() {
    // Params may be missing or empty.
    assert_eq!(
        call("<methodCall><methodName>a.b</methodName></methodCall>"),
        Ok(("a.b".into(), vec![]))
    );
    assert_eq!(
        call("<methodCall><methodName>a.b</methodName><params/></methodCall>"),
        Ok(("a.b".into(), vec![]))
    );
    // Bare text is a string, whitespace kept; empty value and <string/> are "".
    assert_eq!(one("<value>  x </value>"), s("  x "));
    assert_eq!(one("<value></value>"), s(""));
    assert_eq!(one("<value/>"), s(""));
    assert_eq!(one("<value><string/></value>"), s(""));
    // Whitespace around a typed element is ignored.
    assert_eq!(one("<value>\n  <int>7</int>\n</value>"), Value::Int(7));
    // Booleans: only "1" is true (Supervisor's `x.text == "1"`).
    assert_eq!(
        one("<value><boolean>1</boolean></value>"),
        Value::Bool(true)
    );
    assert_eq!(
        one("<value><boolean>0</boolean></value>"),
        Value::Bool(false)
    );
    assert_eq!(
        one("<value><boolean>true</boolean></value>"),
        Value::Bool(false)
    );
    // Python int(): whitespace, sign, underscores; i4 and i8 too.
    assert_eq!(one("<value><int> +5 </int></value>"), Value::Int(5));
    assert_eq!(one("<value><int>1_0</int></value>"), Value::Int(10));
    assert_eq!(
        one("<value><i4>-2147483648</i4></value>"),
        Value::Int(i32::MIN)
    );
    assert_eq!(one("<value><i8>5</i8></value>"), Value::Int(5));
    assert_eq!(one("<value><int>007</int></value>"), Value::Int(7));
    // Entities, character references and CDATA.
    assert_eq!(
        one("<value><string><![CDATA[<x>]]>&lt;&#x41;&#66;&amp;&gt;&quot;&apos;</string></value>"),
        s("<x><AB&>\"'")
    );
    // Non-ASCII text and CRLF normalisation (as expat does).
    assert_eq!(
        one("<value>\u{e9}\r\n\u{1f600}\r</value>"),
        s("\u{e9}\n\u{1f600}\n")
    );
    assert_eq!(one("<value>a&#13;b</value>"), s("a\rb"));
    // Duplicate struct members: first position, last value.
    assert_eq!(
        one(
            "<value><struct><member><name>a</name><value>1</value></member><member><name>b</name><value>2</value></member><member><name>a</name><value>3</value></member></struct></value>"
        ),
        st(vec![("a", s("3")), ("b", s("2"))])
    );
    assert_eq!(
        one("<value><array><data/></array></value>"),
        Value::Array(vec![])
    );
    assert_eq!(one("<value><struct/></value>"), Value::Struct(vec![]));
    assert_eq!(
        one("<value><base64>aGVs\nbG8=</base64></value>"),
        Value::Base64(b"hello".to_vec())
    );
    assert_eq!(
        one("<value><double>inf</double></value>"),
        Value::Double(f64::INFINITY)
    );
    assert_eq!(
        one("<value><double> -1_0.5e1 </double></value>"),
        Value::Double(-105.0)
    );
    assert_eq!(
        one("<value><dateTime.iso8601>20260101T12:00:00</dateTime.iso8601></value>"),
        Value::DateTime("20260101T12:00:00".into())
    );
    assert_eq!(one("<value><nil/></value>"), Value::Nil);
    // Declaration with an encoding attribute, comments, PIs, BOM.
    assert_eq!(
        decode_call("\u{feff}<?xml version='1.0' encoding='iso-8859-1'?>\n<!-- hi --><?pi x?><methodCall>\n <methodName>a.b</methodName>\n <params>\n  <param>\n   <value><string>\u{e9}</string></value>\n  </param>\n </params>\n</methodCall>\n<!-- bye -->\n".as_bytes()),
        Ok(("a.b".into(), vec![s("\u{e9}")]))
    );
    // The method name is kept as sent (dispatch rejects it later).
    assert_eq!(
        call("<methodCall><methodName> a.b\n</methodName></methodCall>").map(|c| c.0),
        Ok(" a.b\n".into())
    );
    // Namespaced extension tags (Apache's ex:nil / ex:i8).
    assert_eq!(
        one(
            "<value><ex:nil xmlns:ex='http://ws.apache.org/xmlrpc/namespaces/extensions'/></value>"
        ),
        Value::Nil
    );
    // A second typed element in one value is ignored, like ElementTree's x[0].
    assert_eq!(
        one("<value><string>1</string><string>2</string></value>"),
        s("1")
    );
    // Member children in either order.
    assert_eq!(
        one(
            "<value><struct><member><value><int>1</int></value><name>k</name></member></struct></value>"
        ),
        st(vec![("k", Value::Int(1))])
    );
    // Several params.
    assert_eq!(
        params_of("<param><value>a</value></param> <param><value><int>2</int></value></param>"),
        vec![s("a"), Value::Int(2)]
    );
}

fn is_malformed<T: std::fmt::Debug>(r: Result<T, DecodeError>) -> bool {
    matches!(r, Err(DecodeError::Malformed(_)))
}

#[test]
fn request_errors_have_distinct_kinds() {
    assert_eq!(
        decode_call(b"<methodCall><methodName>a\xff</methodName></methodCall>"),
        Err(DecodeError::InvalidUtf8 { valid_up_to: 25 })
    );
    assert_eq!(
        call("<methodCall><methodName></methodName></methodCall>"),
        Err(DecodeError::MissingMethodName)
    );
    assert_eq!(
        call("<methodCall><methodName/></methodCall>"),
        Err(DecodeError::MissingMethodName)
    );
    assert_eq!(
        call("<methodCall><params><param><value>x</value></param></params></methodCall>"),
        Err(DecodeError::MissingMethodName)
    );
    let unknown = call(
        "<methodCall><methodName>a.b</methodName><params><param><value><foo>bar</foo></value></param></params></methodCall>",
    );
    assert_eq!(unknown, Err(DecodeError::UnknownType("foo".into())));
    for bad_value in [
        "<int></int>",
        "<int>abc</int>",
        "<int>2147483648</int>",
        "<int>-2147483649</int>",
        "<i8>99999999999</i8>",
        "<int>1__0</int>",
        "<int>_1</int>",
        "<double>x</double>",
        "<double></double>",
        "<base64>aGVsbG8</base64>",
        "<base64>a</base64>",
    ] {
        let body = format!(
            "<methodCall><methodName>a.b</methodName><params><param><value>{bad_value}</value></param></params></methodCall>"
        );
        assert!(
            matches!(call(&body), Err(DecodeError::BadValue { .. })),
            "{bad_value}: {:?}",
            call(&body)
        );
    }
    for malformed in [
        "",
        "   ",
        "not xml",
        "<methodCall>",
        "<methodCall><methodName>a.b</methodName>",
        "<methodCall><methodName>a.b</methodCall></methodName>",
        "<methodCall><methodName>a.b</methodName></methodCall><methodCall/>",
        "<methodCall><methodName>a.b</methodName></methodCall>junk",
        "<methodResponse><params/></methodResponse>",
        "<methodCall><methodName>a<b/></methodName></methodCall>",
        "<methodCall><methodName>a.b</methodName><params><param/></params></methodCall>",
        "<methodCall><methodName>a.b</methodName><params><junk/></params></methodCall>",
        "<methodCall><methodName>a.b</methodName><params><param><value><string>a<b/>c</string></value></param></params></methodCall>",
        "<methodCall><methodName>a.b</methodName><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodCall>",
        "<methodCall><methodName>a.b</methodName><params><param><value><array><value>1</value></array></value></param></params></methodCall>",
        "<methodCall><methodName>a &unknown; b</methodName></methodCall>",
        "<methodCall><methodName>a & b</methodName></methodCall>",
        "<methodCall><methodName>&#0;</methodName></methodCall>",
        "<methodCall><methodName>&#xD800;</methodName></methodCall>",
        "<methodCall><methodName>a.b</methodName><params><param><value><value>1</value></value></param></params></methodCall>",
    ] {
        assert!(
            is_malformed(call(malformed)),
            "{malformed:?}: {:?}",
            call(malformed)
        );
    }
    // Errors format without panicking and say what went wrong.
    assert!(unknown.unwrap_err().to_string().contains("<foo>"));
}

#[test]
fn a_doctype_is_refused_with_or_without_entities() {
    let call_after = |prolog: &str| {
        decode_call(
            format!(
                "{prolog}<methodCall><methodName>supervisor.getState</methodName></methodCall>"
            )
            .as_bytes(),
        )
    };
    assert!(call_after("<?xml version='1.0'?>").is_ok());
    for prolog in [
        "<!DOCTYPE methodCall>",
        // A parameter entity: used to be skipped, and the call answered.
        "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY % p 'y'>]>",
        "<!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;'>]>",
        "<!DOCTYPE x SYSTEM 'file:///etc/passwd'>",
    ] {
        let r = call_after(prolog);
        assert!(
            matches!(&r, Err(DecodeError::Malformed(m)) if m.contains("DOCTYPE")),
            "{prolog}: {r:?}"
        );
    }
    let resp = "<!DOCTYPE x><methodResponse><params><param><value><int>1</int></value></param></params></methodResponse>";
    assert!(decode_response(resp.as_bytes()).is_err());
}

fn values_call(n: usize, one: &str) -> String {
    format!(
        "<methodCall><methodName>a.b</methodName><params><param><value><array><data>{}</data></array></value></param></params></methodCall>",
        one.repeat(n)
    )
}

#[test]
fn a_request_holds_a_bounded_number_of_values() {
    // The array itself is one value.
    let at_limit = values_call(MAX_REQUEST_VALUES - 1, "<value><int>1</int></value>");
    let (_, params) = decode_call(at_limit.as_bytes()).expect("at the limit");
    assert_eq!(
        params[0].as_array().map(<[Value]>::len),
        Some(MAX_REQUEST_VALUES - 1)
    );
    for one in ["<value><int>1</int></value>", "<value/>", "<value></value>"] {
        let over = values_call(MAX_REQUEST_VALUES, one);
        assert_eq!(
            decode_call(over.as_bytes()),
            Err(DecodeError::TooManyValues)
        );
    }
    // Values count wherever they are: params, members, nested arrays.
    let params = format!(
        "<methodCall><methodName>a.b</methodName><params>{}</params></methodCall>",
        "<param><value><struct><member><name>k</name><value/></member></struct></value></param>"
            .repeat(MAX_REQUEST_VALUES / 2 + 1)
    );
    assert_eq!(
        decode_call(params.as_bytes()),
        Err(DecodeError::TooManyValues)
    );
    assert!(
        DecodeError::TooManyValues
            .to_string()
            .contains(&MAX_REQUEST_VALUES.to_string())
    );
    // Responses (from a server we called) are not bounded this way.
    let mut big = Vec::new();
    encode_response_into(
        &Value::Array(vec![Value::Int(1); MAX_REQUEST_VALUES + 10]),
        &mut big,
    );
    assert!(
        matches!(decode_response(&big), Ok(Ok(Value::Array(a))) if a.len() == MAX_REQUEST_VALUES + 10)
    );
}

fn nested_arrays(depth: usize) -> String {
    let mut body = String::from("<methodCall><methodName>a.b</methodName><params><param><value>");
    body.push_str(&"<array><data><value>".repeat(depth));
    body.push_str("<int>1</int>");
    body.push_str(&"</value></data></array>".repeat(depth));
    body.push_str("</value></param></params></methodCall>");
    body
}

#[test]
fn nesting_is_bounded() {
    assert!(call(&nested_arrays(MAX_DEPTH)).is_ok());
    assert_eq!(
        call(&nested_arrays(MAX_DEPTH + 1)),
        Err(DecodeError::TooDeep)
    );
    // Far deeper than any stack would allow with naive recursion.
    assert_eq!(call(&nested_arrays(200_000)), Err(DecodeError::TooDeep));
    let structs = format!(
        "<methodCall><methodName>a.b</methodName><params><param><value>{}1{}</value></param></params></methodCall>",
        "<struct><member><name>k</name><value>".repeat(100_000),
        "</value></member></struct>".repeat(100_000)
    );
    assert_eq!(call(&structs), Err(DecodeError::TooDeep));
    // Deep non-value elements are rejected at the first one, not recursed into.
    let junk = format!("<methodCall>{}</methodCall>", "<a>".repeat(100_000));
    assert!(is_malformed(call(&junk)));
    // Unclosed deep values.
    assert!(
        call(
            &"<methodCall><methodName>a.b</methodName><params><param><value><array><data><value>"
                .repeat(10_000)
        )
        .is_err()
    );
}

#[test]
fn large_structs_dedupe_linearly() {
    let n = 20_000;
    let mut inner = String::new();
    for i in 0..n {
        inner.push_str(&format!(
            "<member><name>k{}</name><value><int>{i}</int></value></member>",
            i % (n / 2)
        ));
    }
    let v = one(&format!("<value><struct>{inner}</struct></value>"));
    let m = v.as_struct().expect("struct");
    assert_eq!(m.len(), n / 2);
    assert_eq!(m[0], ("k0".to_owned(), Value::Int((n / 2) as i32)));
}

#[test]
fn responses_decode_like_python_client() {
    let wrap = |v: &str| {
        format!(
            "<?xml version='1.0'?><methodResponse><params><param>{v}</param></params></methodResponse>"
        )
    };
    let dec = |b: String| decode_response(b.as_bytes());
    assert_eq!(
        dec(wrap("<value><boolean>1</boolean></value>")),
        Ok(Ok(Value::Bool(true)))
    );
    // Python's client raises on booleans other than 0/1.
    assert!(matches!(
        dec(wrap("<value><boolean>true</boolean></value>")),
        Err(DecodeError::BadValue { ty: "boolean", .. })
    ));
    assert_eq!(
        dec(wrap("<value><i8>12</i8></value>")),
        Ok(Ok(Value::Int(12)))
    );
    assert_eq!(dec(wrap("<value>plain</value>")), Ok(Ok(s("plain"))));
    assert!(is_malformed(dec(
        "<methodResponse><params></params></methodResponse>".into()
    )));
    assert!(is_malformed(dec(
        "<methodResponse><params><param><value>1</value></param><param><value>2</value></param></params></methodResponse>".into()
    )));
    assert!(is_malformed(
        dec("<methodResponse></methodResponse>".into())
    ));
    assert!(is_malformed(dec(
        "<methodResponse><fault><value><int>1</int></value></fault></methodResponse>".into()
    )));
    assert!(is_malformed(dec(
        wrap("<value>1</value>").replace("methodResponse", "methodCall")
    )));
    // A fault struct with extra members still reads.
    assert_eq!(
        dec("<methodResponse><fault><value><struct><member><name>x</name><value>y</value></member><member><name>faultString</name><value>NO_FILE: f</value></member><member><name>faultCode</name><value><int>20</int></value></member></struct></value></fault></methodResponse>".into()),
        Ok(Err(Fault::with(faults::NO_FILE, "f")))
    );
}

#[test]
fn base64_decodes_like_binascii() {
    let d = |t: &str| decode_base64(t);
    assert_eq!(d(""), Ok(vec![]));
    assert_eq!(d("YQ=="), Ok(b"a".to_vec()));
    assert_eq!(d("YWI="), Ok(b"ab".to_vec()));
    assert_eq!(d("YWJj"), Ok(b"abc".to_vec()));
    assert_eq!(d(" Y W\nJj \n"), Ok(b"abc".to_vec()));
    assert_eq!(d("YQ==trailing"), Ok(b"a".to_vec()));
    assert_eq!(d("Y!Q*=="), Ok(b"a".to_vec()));
    assert_eq!(d("=YQ=="), Ok(b"a".to_vec()));
    assert!(d("YQ").is_err());
    assert!(d("YQ=").is_err());
    assert!(d("Y").is_err());
    for len in 0..300 {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let mut enc = Vec::new();
        crate::base64::encode_lines(&data, &mut enc);
        assert_eq!(d(std::str::from_utf8(&enc).expect("ascii")), Ok(data));
    }
}

/// A small deterministic PRNG (xorshift64*), so tests need no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            " ",
            "<",
            ">",
            "&",
            "\"",
            "'",
            "\n",
            "\t",
            "\u{e9}",
            "\u{2713}",
            "\u{1f600}",
            "]]>",
            "&amp;",
            "\x01",
            "0",
        ];
        (0..self.below(12))
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }
    fn value(&mut self, depth: usize) -> Value {
        let kinds = if depth > 4 { 7 } else { 9 };
        match self.below(kinds) {
            0 => Value::Int(self.next() as i32),
            1 => Value::Bool(self.below(2) == 1),
            2 => Value::String(self.string()),
            3 => {
                let d = f64::from_bits(self.next());
                Value::Double(if d.is_nan() { 0.25 } else { d })
            }
            4 => Value::DateTime("20260101T12:00:00".into()),
            5 => Value::Base64((0..self.below(100)).map(|_| self.next() as u8).collect()),
            6 => Value::Nil,
            7 => Value::Array((0..self.below(5)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let mut members: Vec<(String, Value)> = Vec::new();
                for i in 0..self.below(5) {
                    members.push((format!("{}{i}", self.string()), self.value(depth + 1)));
                }
                Value::Struct(members)
            }
        }
    }
}

#[test]
fn random_values_round_trip() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..2000 {
        let v = rng.value(0);
        let body = encode_response(&v);
        assert_eq!(
            decode_response(&body).map(|r| r.map(|x| same(&x, &v))),
            Ok(Ok(true)),
            "{v:?}"
        );
        let params = vec![v.clone(), Value::Int(1)];
        let (m, p) = decode_call(&encode_call("ns.method", &params)).expect("decodes");
        assert_eq!(m, "ns.method");
        assert!(same(&Value::Array(p), &Value::Array(params)));
        let f = Fault::raw(rng.next() as i32, rng.string());
        assert_eq!(decode_response(&encode_fault(&f)), Ok(Err(f)));
    }
}

fn mutate(rng: &mut Rng, body: &mut Vec<u8>) {
    const TOKENS: &[&[u8]] = &[
        b"<value>",
        b"</value>",
        b"<array><data>",
        b"</data></array>",
        b"<struct>",
        b"<member>",
        b"<name>",
        b"</struct>",
        b"<int>",
        b"</int>",
        b"&",
        b"&#x",
        b";",
        b"<![CDATA[",
        b"]]>",
        b"<",
        b">",
        b"/",
        b"\xff",
        b"\xc3",
        b"<!--",
        b"-->",
        b"<?",
        b"?>",
        b"<!DOCTYPE x [",
        b"\"",
        b"<params>",
        b"<param>",
        b"<nil/>",
        b"<base64>",
        b"=",
        b"<boolean>",
        b"<double>",
        b"1e999",
    ];
    for _ in 0..=rng.below(2) {
        let len = body.len() as u64;
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len) as usize;
                body[i] = rng.next() as u8;
            }
            1 if len > 0 => {
                let i = rng.below(len) as usize;
                let n = (rng.below(16) as usize).min(body.len() - i);
                body.drain(i..i + n);
            }
            2 => {
                let i = rng.below(len + 1) as usize;
                let t = TOKENS[rng.below(TOKENS.len() as u64) as usize];
                body.splice(i..i, t.iter().copied());
            }
            3 if len > 0 => body.truncate(rng.below(len) as usize),
            4 if len > 1 => {
                // Duplicate a slice somewhere else.
                let a = rng.below(len) as usize;
                let b = (a + rng.below(64) as usize).min(body.len());
                let chunk = body[a..b].to_vec();
                let at = rng.below(body.len() as u64 + 1) as usize;
                body.splice(at..at, chunk);
            }
            _ => {
                let i = rng.below(len + 1) as usize;
                body.insert(i, rng.next() as u8);
            }
        }
    }
}

#[test]
fn fuzz_never_panics() {
    let dir = format!("{}/src/rpc/testdata", env!("CARGO_MANIFEST_DIR"));
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("testdata")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".xml"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    seeds.push(nested_arrays(MAX_DEPTH).into_bytes());
    seeds.push(b"<methodCall><methodName>a.b</methodName><params><param><value><struct><member><name>k</name><value><base64>YWJj</base64></value></member></struct></value></param></params></methodCall>".to_vec());
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut decoded = 0usize;
    for i in 0..30_000 {
        let mut body = if i % 10 == 0 {
            (0..rng.below(200)).map(|_| rng.next() as u8).collect()
        } else {
            seeds[rng.below(seeds.len() as u64) as usize].clone()
        };
        mutate(&mut rng, &mut body);
        if let Ok((m, p)) = decode_call(&body) {
            decoded += 1;
            let _ = decode_call(&encode_call(&m, &p));
        }
        if let Ok(Ok(v)) = decode_response(&body) {
            decoded += 1;
            let again = decode_response(&encode_response(&v));
            assert!(
                matches!(again, Ok(Ok(_))),
                "re-encoded response must decode: {again:?}"
            );
        }
    }
    // The mutations must not all be fatal, or this tests nothing.
    assert!(decoded > 1000, "only {decoded} mutated bodies decoded");
}
