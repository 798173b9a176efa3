//! Property tests of the codec: decoding what we encode gives back the
//! same values, for any value; no input makes the decoder panic.
//!
//! Each property runs proptest's default number of cases (256), or
//! `PROPTEST_CASES` of them when that is set (a long run:
//! `PROPTEST_CASES=100000 cargo test --lib proptests`).

use super::tests::same;
use super::*;
use proptest::prelude::*;

/// Characters XML 1.0 allows in text, but `\r`, which XML parsers turn
/// into `\n` (Python's too), so it cannot come back.
fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        // Mostly the characters the encoder treats specially.
        4 => prop::sample::select(vec!['&', '<', '>', '"', '\'', ';', '#', ']', '\n', '\t', ' ', 'a']),
        // Drawn from the valid ranges, not filtered: a long run must not
        // stop at proptest's limit of rejected cases.
        4 => prop::char::ranges(
            vec![
                '\t'..='\n',
                '\u{20}'..='\u{d7ff}',
                '\u{e000}'..='\u{fffd}',
                '\u{10000}'..='\u{10ffff}',
            ]
            .into()
        ),
    ]
}

fn xml_string_of(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(xml_char(), len).prop_map(|v| v.into_iter().collect())
}

fn xml_string() -> impl Strategy<Value = String> {
    xml_string_of(0..24)
}

/// Any value, nested up to four levels; struct keys are unique (a
/// duplicate key keeps the first position and the last value, as a dict).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        xml_string().prop_map(Value::String),
        any::<f64>().prop_map(Value::Double),
        xml_string().prop_map(Value::DateTime),
        prop::collection::vec(any::<u8>(), 0..100).prop_map(Value::Base64),
        Just(Value::Nil),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((xml_string(), inner), 0..8).prop_map(|members| {
                let mut seen = std::collections::HashSet::new();
                Value::Struct(
                    members
                        .into_iter()
                        .filter(|(k, _)| seen.insert(k.clone()))
                        .collect(),
                )
            }),
        ]
    })
}

/// Pieces of XML-RPC bodies, for inputs that get past the first tag.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&str] = &[
        "<?xml version='1.0'?>",
        "<methodCall>",
        "</methodCall>",
        "<methodResponse>",
        "</methodResponse>",
        "<methodName>a.b</methodName>",
        "<params>",
        "</params>",
        "<param>",
        "</param>",
        "<value>",
        "</value>",
        "<value/>",
        "<array><data>",
        "</data></array>",
        "<struct>",
        "</struct>",
        "<member>",
        "</member>",
        "<name>k</name>",
        "<int>",
        "</int>",
        "<i8>99999999999</i8>",
        "<double>1e999</double>",
        "<boolean>2</boolean>",
        "<base64>YQ=</base64>",
        "<dateTime.iso8601>",
        "<nil/>",
        "<fault>",
        "</fault>",
        "&amp;",
        "&#0;",
        "&#x110000;",
        "&bogus;",
        "<![CDATA[x]]>",
        "<!-- c -->",
        "<!DOCTYPE x [<!ENTITY % p 'y'>]>",
        "\u{feff}",
        "\r\n",
        "1",
        "-",
        "\u{e9}",
    ];
    prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
            1 => prop::collection::vec(any::<u8>(), 0..4),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn responses_round_trip(v in value()) {
        let back = decode_response(&encode_response(&v));
        prop_assert!(
            matches!(&back, Ok(Ok(b)) if same(b, &v)),
            "{v:?} came back as {back:?}"
        );
    }

    #[test]
    fn calls_round_trip(
        method in xml_string_of(1..24),
        params in prop::collection::vec(value(), 0..4),
    ) {
        let back = decode_call(&encode_call(&method, &params));
        prop_assert!(
            matches!(&back, Ok((m, p)) if *m == method
                && p.len() == params.len()
                && p.iter().zip(&params).all(|(a, b)| same(a, b))),
            "{method:?} {params:?} came back as {back:?}"
        );
    }

    #[test]
    fn faults_round_trip(code in any::<i32>(), string in xml_string()) {
        let f = Fault { code, string };
        prop_assert_eq!(decode_response(&encode_fault(&f)), Ok(Err(f)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_call(&body);
        let _ = decode_response(&body);
    }

    #[test]
    fn token_soup_never_panics_and_what_decodes_re_encodes(body in token_soup()) {
        if let Ok((m, p)) = decode_call(&body) {
            let again = decode_call(&encode_call(&m, &p));
            prop_assert!(again.is_ok(), "{again:?}");
        }
        if let Ok(Ok(v)) = decode_response(&body) {
            let again = decode_response(&encode_response(&v));
            prop_assert!(matches!(&again, Ok(Ok(b)) if same(b, &v)), "{v:?}: {again:?}");
        }
    }
}
