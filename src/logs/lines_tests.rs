//! Unit tests of line mode: whole lines, held-back partial lines, long
//! lines split and marked, JSON that a real parser reads.

use super::*;
use serde_json::Value;

fn text(prefix: &str) -> Lines {
    Lines::new(prefix, None)
}

fn json(prefix: &str) -> Lines {
    Lines::new(prefix, Some(("web".into(), "stderr")))
}

fn parse(out: &[u8]) -> Vec<Value> {
    std::str::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn text_lines_get_the_prefix_and_a_partial_line_waits() {
    let mut l = text("web | ");
    assert_eq!(l.feed(b"one\ntw"), b"web | one\n");
    assert_eq!(l.feed(b"o\nthree\nfo"), b"web | two\nweb | three\n");
    assert_eq!(l.feed(b""), b"");
    assert_eq!(l.feed(b"ur"), b"");
    // Exit: the partial line, newline-terminated; then nothing is left.
    assert_eq!(l.flush(), b"web | four\n");
    assert_eq!(l.flush(), b"");
    // Empty lines are lines too.
    assert_eq!(l.feed(b"\n\n"), b"web | \nweb | \n");
}

#[test]
fn an_empty_prefix_still_writes_whole_lines_only() {
    let mut l = text("");
    assert_eq!(l.feed(b"abc"), b"");
    assert_eq!(l.feed(b"def\nxy"), b"abcdef\n");
    assert_eq!(l.flush(), b"xy\n");
}

/// Reassemble text pieces: strip the prefix and the split marks.
fn reassemble(out: &[u8], prefix: &str) -> (Vec<u8>, Vec<usize>) {
    let mut whole = Vec::new();
    let mut sizes = Vec::new();
    for piece in out.split(|&b| b == b'\n').filter(|p| !p.is_empty()) {
        let body = piece.strip_prefix(prefix.as_bytes()).expect("prefix");
        match body.strip_suffix(SPLIT_MARK) {
            Some(b) => {
                sizes.push(b.len());
                whole.extend_from_slice(b);
            }
            None => {
                sizes.push(body.len());
                whole.extend_from_slice(body);
                whole.push(b'\n');
            }
        }
    }
    (whole, sizes)
}

#[test]
fn a_200_kib_line_is_cut_into_marked_pieces_of_at_most_64_kib() {
    let line: Vec<u8> = (0..200 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let mut input = line.clone();
    input.extend_from_slice(b"\nshort\n");
    // In one read, and in reads of 10000 bytes (the partial line grows
    // past the limit and is cut while waiting).
    for chunk in [input.len(), 10_000] {
        let mut l = text("p> ");
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            out.extend_from_slice(l.feed(c));
        }
        out.extend_from_slice(l.flush());
        let (whole, sizes) = reassemble(&out, "p> ");
        assert_eq!(whole, input, "chunk {chunk}");
        assert!(sizes.iter().all(|&s| s <= MAX_LINE), "{sizes:?}");
        assert_eq!(sizes.len(), 5, "4 pieces and the short line: {sizes:?}");
        let marked = out
            .split(|&b| b == b'\n')
            .filter(|p| p.ends_with(SPLIT_MARK))
            .count();
        assert_eq!(marked, 3, "every piece but the last is marked");
    }
}

#[test]
fn a_line_of_exactly_64_kib_is_not_split() {
    let mut l = text("");
    let mut input = vec![b'x'; MAX_LINE];
    input.push(b'\n');
    assert_eq!(l.feed(&input), input.as_slice());
}

#[test]
fn cuts_fall_on_utf8_character_boundaries() {
    // 'é' is two bytes: a cut at an odd offset would split one.
    let line = format!("a{}", "é".repeat(MAX_LINE)); // 128 KiB + 1
    let mut l = json("");
    let out = l.feed(format!("{line}\n").as_bytes()).to_vec();
    let v = parse(&out);
    assert_eq!(v.len(), 3);
    let joined: String = v.iter().map(|o| o["message"].as_str().unwrap()).collect();
    assert_eq!(
        joined, line,
        "no replacement character: no cut inside a character"
    );
    assert_eq!(cut_at(line.as_bytes(), MAX_LINE), MAX_LINE - 1);
    assert_eq!(cut_at(b"abc", 10), 3);
}

#[test]
fn json_lines_have_the_keys_of_b1_and_parse() {
    let mut l = json("[%] ");
    let out = l
        .feed(b"plain\n\"quoted\" \\ tab\t\x01\nbad \xff utf8\n")
        .to_vec();
    let v = parse(&out);
    assert_eq!(v.len(), 3);
    for o in &v {
        let keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{o}");
        assert_eq!(o["program"], "web");
        assert_eq!(o["stream"], "stderr");
        let t = o["time"].as_str().unwrap();
        assert!(
            t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }
    assert_eq!(v[0]["message"], "[%] plain");
    assert_eq!(v[1]["message"], "[%] \"quoted\" \\ tab\t\u{1}");
    assert_eq!(v[2]["message"], "[%] bad \u{fffd} utf8");
}

#[test]
fn json_pieces_of_a_long_line_are_marked_partial() {
    let mut l = json("");
    let mut input = vec![b'z'; MAX_LINE + 10];
    input.push(b'\n');
    let v = parse(l.feed(&input));
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["partial"], true);
    assert_eq!(v[0]["message"].as_str().unwrap().len(), MAX_LINE);
    assert!(v[1].get("partial").is_none());
    assert_eq!(v[1]["message"].as_str().unwrap().len(), 10);
    // A partial last line at exit is a whole object too.
    l.feed(b"no newline");
    let v = parse(l.flush());
    assert_eq!(v[0]["message"], "no newline");
}

#[test]
fn daemon_lines_have_a_level_and_no_program() {
    let line = daemon_json(LogLevel::Warn, SystemTime::now(), "a \"b\"\nc");
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    let v: Value = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(v["level"], "warn");
    assert_eq!(v["message"], "a \"b\"\nc");
    assert!(v.get("program").is_none() && v.get("stream").is_none());
    assert_eq!(v.as_object().unwrap().len(), 3);
}

#[test]
fn line_mode_only_with_a_prefix_or_json() {
    use crate::config::{LineFormat, LogFormat};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supervisord.conf");
    std::fs::write(&path, "[supervisord]\n[program:x]\ncommand=/bin/true\n").unwrap();
    let opts = crate::config::LoadOptions::from_process(Default::default(), false);
    let loaded = crate::config::load(&path, &opts).unwrap_or_else(|d| panic!("{d:?}"));
    let mut cfg = loaded.config.groups[0].processes[0].clone();
    assert!(Lines::for_process(&cfg, 0).is_none());
    cfg.lines = LineFormat {
        prefix: Some(["o ".into(), "e ".into()]),
        format: LogFormat::Text,
    };
    assert_eq!(Lines::for_process(&cfg, 1).unwrap().feed(b"1\n"), b"e 1\n");
    cfg.lines = LineFormat {
        prefix: None,
        format: LogFormat::Json,
    };
    let v = parse(Lines::for_process(&cfg, 0).unwrap().feed(b"1\n"));
    assert_eq!(v[0]["program"], "x");
    assert_eq!(v[0]["stream"], "stdout");
}

#[test]
fn json_lines_are_byte_for_byte_what_serde_json_writes() {
    let messages: [&[u8]; 7] = [
        b"plain ascii line",
        b"",
        b"quote \" backslash \\ slash / del \x7f",
        b"control \x01\x1f tab\t cr\r",
        b"caf\xc3\xa9 \xe2\x9c\x93 snowman",
        b"broken \xff\xfe utf8 \xc3",
        b"</script> {\"json\":inside}",
    ];
    for prefix in ["", "p | ", "q\"\\ \u{e9} "] {
        let mut l = json(prefix);
        for m in messages {
            for split in [false, true] {
                let mut input = m.to_vec();
                let out = if split {
                    // A piece of a split line: just over the limit.
                    input.resize(MAX_LINE + 1, b'x');
                    input.push(b'\n');
                    let out = l.feed(&input).to_vec();
                    let first = out.split(|&b| b == b'\n').next().unwrap().to_vec();
                    input.truncate(MAX_LINE);
                    first
                } else {
                    let mut with_nl = input.clone();
                    with_nl.push(b'\n');
                    let out = l.feed(&with_nl).to_vec();
                    out[..out.len() - 1].to_vec()
                };
                let v: Value = serde_json::from_slice(&out).unwrap();
                let mut full = prefix.as_bytes().to_vec();
                full.extend_from_slice(&input);
                let want = serde_json::to_vec(&ChildLine {
                    time: v["time"].as_str().unwrap(),
                    program: "web",
                    stream: "stderr",
                    message: &String::from_utf8_lossy(&full),
                    partial: split,
                })
                .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&want),
                    "prefix {prefix:?}, message {m:?}"
                );
            }
        }
    }
}

#[test]
fn the_chunked_checks_agree_with_the_byte_check() {
    let naive = |bytes: &[u8], nl: bool| {
        bytes
            .iter()
            .any(|&b| (b < 0x20 && !(nl && b == b'\n')) || b >= 0x80 || b == b'"' || b == b'\\')
    };
    // Every byte value at every position of two 32-byte chunks and the
    // remainder after them, with clean neighbours and among newlines.
    for fill in [b'a', b'\n'] {
        for pos in 0..71 {
            for v in 0..=255u8 {
                let mut buf = [fill; 71];
                buf[pos] = v;
                for len in [pos + 1, 71] {
                    let buf = &buf[..len];
                    assert_eq!(
                        super::needs_escape_but_newlines(buf),
                        naive(buf, true),
                        "byte {v:#x} at {pos} of {len} among {fill:#x}"
                    );
                    assert_eq!(super::needs_escape(buf), naive(buf, false));
                }
            }
        }
    }
}

/// One read's lines against the same lines formatted one by one.
fn formatted_line_by_line(l: &mut Lines, lines: &[&[u8]]) -> Vec<u8> {
    l.out.clear();
    for line in lines {
        l.line(line);
    }
    l.out.clone()
}

/// JSON lines without their time (each read has its own).
fn without_time(out: &[u8]) -> Vec<Value> {
    let mut v = parse(out);
    for line in &mut v {
        line.as_object_mut().unwrap().remove("time");
    }
    v
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// The hot path (two copies a line) writes what the general one does,
    /// whatever the mix of short, over-long and escaped lines and however
    /// the stream is cut into reads.
    #[test]
    fn a_read_is_formatted_as_its_lines_one_by_one(
        specs in proptest::collection::vec((0usize..6, 0usize..90), 0..40),
        cuts in proptest::collection::vec(0usize..400, 0..5),
        json_mode: bool,
        prefix in "[a-z| \"]{0,5}",
    ) {
        let pieces: [&[u8]; 6] = [b"plain words ", b"q\"b\\", b"caf\xc3\xa9", b"\x01", b"\xff", b"x"];
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for (i, &(kind, n)) in specs.iter().enumerate() {
            let line: Vec<u8> = if kind == 5 && i % 3 == 0 {
                vec![b'y'; MAX_LINE + n * 1000]
            } else {
                pieces[kind].repeat(n % 7)
            };
            lines.push(line);
        }
        // A clean line first, so that the reads after it start with the
        // hot path's state of an earlier read.
        lines.insert(0, b"warm".to_vec());
        let mut read = Vec::new();
        for line in &lines {
            read.extend_from_slice(line);
            read.push(b'\n');
        }
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let make = || if json_mode { json(&prefix) } else { text(&prefix) };
        // The stream in reads cut at arbitrary places.
        let mut l = make();
        let mut got = Vec::new();
        let mut rest = read.as_slice();
        for cut in cuts {
            let (now, later) = rest.split_at(cut.min(rest.len()));
            got.extend_from_slice(l.feed(now));
            rest = later;
        }
        got.extend_from_slice(l.feed(rest));
        got.extend_from_slice(l.flush());
        let want = formatted_line_by_line(&mut make(), &refs);
        if json_mode {
            proptest::prop_assert_eq!(without_time(&got), without_time(&want));
        } else {
            proptest::prop_assert!(got == want);
        }
    }
}

#[test]
fn every_byte_at_every_place_of_a_block_is_formatted_as_line_by_line() {
    // Three lines of 7, 16 or 40 bytes (within, at and across the 16-byte
    // blocks of the JSON scan), the middle one with a byte of every value
    // at each place (a newline among them makes two lines of it).
    for len in [7usize, 16, 40] {
        for pos in 0..len {
            for v in 0..=255u8 {
                let mut read = Vec::new();
                for k in 0..3 {
                    let mut line = vec![b'a'; len];
                    if k == 1 {
                        line[pos] = v;
                    }
                    read.extend_from_slice(&line);
                    read.push(b'\n');
                }
                let got = json("").feed(&read).to_vec();
                let lines: Vec<&[u8]> = read[..read.len() - 1].split(|&b| b == b'\n').collect();
                let want = formatted_line_by_line(&mut json(""), &lines);
                assert_eq!(
                    without_time(&got),
                    without_time(&want),
                    "byte {v:#x} at {pos} of {len}"
                );
            }
        }
    }
}
