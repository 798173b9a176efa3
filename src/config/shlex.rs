//! Python's `shlex` as Supervisor uses it: `shlex.split` (POSIX) for `command=`, non-POSIX `shlex.shlex` tokens for `environment=`.
//!
//! Why hand-written: a program's argv must be the one Supervisor makes,
//! and the `shlex` crate (checked against its 1.3.0 source and by running
//! it) follows the POSIX shell rather than Python.  Inside double quotes it
//! drops the backslash before `$` and `` ` `` (`"a\$b"` gives `a$b`;
//! Python's `shlex.split` keeps `a\$b`), and it takes `#` as a comment
//! (`a #b` gives `["a"]`; Python gives `["a", "#b"]`).  It has no non-POSIX
//! mode either, which `dict_of_key_value_pairs` needs (quotes kept inside
//! words, `/.+-():` as word characters, `#` comments).

/// Python's `shlex.shlex(s)` (non-POSIX) with extra word characters
/// `/.+-():`, as `dict_of_key_value_pairs` uses it.
pub fn shlex_tokens_kv(s: &str) -> Result<Vec<String>, String> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || "_/.+-():".contains(c);
    let is_ws = |c: char| " \t\r\n".contains(c);
    let is_quote = |c: char| c == '"' || c == '\'';
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut tokens = Vec::new();
    // `#` starts a comment to the end of the line.
    let skip_line = |i: &mut usize| {
        while let Some(&c) = chars.get(*i) {
            *i += 1;
            if c == '\n' {
                break;
            }
        }
    };
    enum St {
        Ws,
        Word,
        Quote(char),
    }
    let mut st = St::Ws;
    let mut tok = String::new();
    loop {
        let c = chars.get(i).copied();
        i += 1;
        match st {
            St::Ws => match c {
                None => break,
                Some(c) if is_ws(c) => {}
                Some('#') => skip_line(&mut i),
                Some(c) if is_word(c) => {
                    tok.push(c);
                    st = St::Word;
                }
                Some(c) if is_quote(c) => {
                    tok.push(c);
                    st = St::Quote(c);
                }
                Some(c) => tokens.push(c.to_string()),
            },
            St::Quote(q) => match c {
                None => return Err("No closing quotation".into()),
                Some(c) if c == q => {
                    tok.push(c);
                    tokens.push(std::mem::take(&mut tok));
                    st = St::Ws;
                }
                Some(c) => tok.push(c),
            },
            St::Word => match c {
                None => {
                    tokens.push(std::mem::take(&mut tok));
                    break;
                }
                Some(c) if is_ws(c) => {
                    tokens.push(std::mem::take(&mut tok));
                    st = St::Ws;
                }
                Some('#') => skip_line(&mut i),
                Some(c) if is_word(c) || is_quote(c) => tok.push(c),
                Some(c) => {
                    tokens.push(std::mem::take(&mut tok));
                    tokens.push(c.to_string());
                    st = St::Ws;
                }
            },
        }
    }
    Ok(tokens)
}

/// Python's `shlex.split(s)` (POSIX mode, no comments): how Supervisor
/// turns `command` into argv.
pub fn shlex_split(s: &str) -> Result<Vec<String>, String> {
    let is_ws = |c: char| " \t\r\n".contains(c);
    let mut out = Vec::new();
    let mut tok = String::new();
    let mut have = false; // a token is in progress (possibly empty quotes)
    let mut it = s.chars();
    while let Some(c) = it.next() {
        match c {
            c if is_ws(c) => {
                if have {
                    out.push(std::mem::take(&mut tok));
                    have = false;
                }
            }
            '\\' => {
                let n = it.next().ok_or("No escaped character")?;
                tok.push(n);
                have = true;
            }
            '\'' => {
                have = true;
                loop {
                    match it.next() {
                        None => return Err("No closing quotation".into()),
                        Some('\'') => break,
                        Some(c) => tok.push(c),
                    }
                }
            }
            '"' => {
                have = true;
                loop {
                    match it.next() {
                        None => return Err("No closing quotation".into()),
                        Some('"') => break,
                        Some('\\') => match it.next() {
                            None => return Err("No closing quotation".into()),
                            Some(n @ ('"' | '\\')) => tok.push(n),
                            Some(n) => {
                                tok.push('\\');
                                tok.push(n);
                            }
                        },
                        Some(c) => tok.push(c),
                    }
                }
            }
            c => {
                tok.push(c);
                have = true;
            }
        }
    }
    if have {
        out.push(tok);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shlex_split_posix() {
        let s = |v: &str| shlex_split(v).unwrap();
        assert_eq!(s("a b  c"), vec!["a", "b", "c"]);
        assert_eq!(s("echo 'a b' \"c d\""), vec!["echo", "a b", "c d"]);
        assert_eq!(s("x '' y"), vec!["x", "", "y"]);
        assert_eq!(
            s(r#"a\ b "x\"y" "p\q" 'r\s'"#),
            vec!["a b", "x\"y", "p\\q", "r\\s"]
        );
        assert_eq!(s("a#b"), vec!["a#b"]);
        assert_eq!(s(""), Vec::<String>::new());
        assert_eq!(shlex_split("echo 'x"), Err("No closing quotation".into()));
        assert_eq!(shlex_split("echo \"x"), Err("No closing quotation".into()));
        assert_eq!(shlex_split("echo \\"), Err("No escaped character".into()));
    }
}
