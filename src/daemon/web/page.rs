//! The HTML of the status and tail pages, rendered from RPC answers.  Every
//! name, description, message and log byte goes through [`esc`].

use crate::rpc::Value;
use std::fmt::Write as _;

/// Scripts and styles come only from this server; no inline script runs,
/// so an escaped name can never become code.
pub(super) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Python's `urllib.quote`: everything but letters, digits and `_.-~/`
/// percent-encoded.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// HTML-escape text for an element or a quoted attribute.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Supervisor's CSS class for a state code.
fn css_class(state: i32) -> &'static str {
    match state {
        20 => "statusrunning",
        200 | 30 => "statuserror",
        _ => "statusnominal",
    }
}

/// The actions Supervisor offers in this state: (label, action).
fn actions(state: i32) -> &'static [(&'static str, &'static str)] {
    match state {
        20 => &[
            ("Restart", "restart"),
            ("Stop", "stop"),
            ("Clear Log", "clearlog"),
        ],
        0 | 100 | 200 => &[("Start", "start"), ("Clear Log", "clearlog")],
        _ => &[("Clear Log", "clearlog")],
    }
}

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"ui/app.css\">\
         <script src=\"ui/app.js\" defer></script></head>\n",
        esc(title)
    );
}

/// One process row.  `app.js` builds the same markup from live data.
fn row(out: &mut String, info: &Value) {
    let s = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or("");
    let state = info.get("state").and_then(Value::as_int).unwrap_or(-1);
    let namespec = if s("group") == s("name") {
        s("name").to_string()
    } else {
        format!("{}:{}", s("group"), s("name"))
    };
    let q = quote(&namespec);
    let _ = write!(
        out,
        "<tr data-name=\"{n}\" data-group=\"{g}\" data-state=\"{state}\"><td class=\"status\"><span class=\"{c}\">{st}</span></td>\
         <td class=\"desc\">{d}</td><td class=\"name\"><a href=\"tail.html?processname={q}\">{n}</a></td>\
         <td class=\"action\"><ul>",
        n = esc(&namespec),
        g = esc(s("group")),
        c = css_class(state),
        st = esc(&s("statename").to_ascii_lowercase()),
        d = esc(s("description")),
    );
    for (label, action) in actions(state) {
        let _ = write!(
            out,
            "<li><a href=\"index.html?processname={q}&amp;action={action}\" data-action=\"{action}\">{label}</a></li>"
        );
    }
    let _ = writeln!(
        out,
        "<li><a href=\"logtail/{q}\" target=\"_blank\">Tail -f Stdout</a></li>\
         <li><a href=\"logtail/{q}/stderr\" target=\"_blank\">Tail -f Stderr</a></li></ul></td></tr>"
    );
}

/// The status page: buttons, filter, the process table grouped by group
/// (a heading for each group of more than one process), sorted as
/// Supervisor sorts it.
pub(super) fn status(ident: &str, procs: &[Value], message: Option<&str>, filter: &str) -> String {
    let mut out = String::with_capacity(4096 + procs.len() * 700);
    head(&mut out, "Supervisor Status");
    fn field<'v>(v: &'v Value, k: &str) -> &'v str {
        v.get(k).and_then(Value::as_str).unwrap_or("")
    }
    // (group, name, info), sorted as Supervisor sorts them.
    let mut sorted: Vec<(&str, &str, &Value)> = procs
        .iter()
        .map(|v| (field(v, "group"), field(v, "name"), v))
        .collect();
    sorted.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut sizes: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (g, _, _) in &sorted {
        *sizes.entry(g).or_default() += 1;
    }
    let needle = filter.to_lowercase();
    let shown: Vec<(&str, &str, &Value)> = sorted
        .into_iter()
        .filter(|(g, n, _)| {
            needle.is_empty() || format!("{g}:{n}").to_lowercase().contains(&needle)
        })
        .collect();
    let _ = write!(
        out,
        "<body><header><h1>Supervisor</h1><span class=\"ident\">{}</span></header>\n<main>\n\
         <div id=\"msg\" class=\"{}\" role=\"status\" aria-live=\"polite\">{}</div>\n\
         <nav id=\"buttons\" aria-label=\"All processes\">\
         <a class=\"button\" href=\"index.html?action=refresh\" data-action=\"refresh\">Refresh</a>\
         <a class=\"button\" href=\"index.html?action=restartall\" data-action=\"restartall\">Restart All</a>\
         <a class=\"button\" href=\"index.html?action=stopall\" data-action=\"stopall\">Stop All</a></nav>\n\
         <form id=\"filterform\" action=\"index.html\" method=\"get\" role=\"search\">\
         <label for=\"filter\">Filter</label><input id=\"filter\" name=\"filter\" type=\"search\" value=\"{}\" autocomplete=\"off\">\
         <button type=\"submit\">Filter</button></form>\n",
        esc(ident),
        if message.is_some() {
            "status_msg"
        } else {
            "hidden"
        },
        esc(message.unwrap_or("")),
        esc(filter),
    );
    if procs.is_empty() {
        out.push_str("<p id=\"empty\">No programs to manage</p>\n");
    }
    let _ = write!(
        out,
        "<table id=\"statustable\"{}><thead><tr><th class=\"state\">State</th><th class=\"desc\">Description</th>\
         <th class=\"name\">Name</th><th class=\"action\">Action</th></tr></thead>\n<tbody>\n",
        if procs.is_empty() {
            " class=\"hidden\""
        } else {
            ""
        }
    );
    let mut last_group = None;
    for &(group, _, info) in &shown {
        let total = sizes.get(group).copied().unwrap_or(0);
        if total > 1 && last_group != Some(group) {
            let _ = writeln!(
                out,
                "<tr class=\"group\" data-group=\"{g}\"><th colspan=\"4\" scope=\"rowgroup\">\
                 <button type=\"button\" class=\"toggle\" aria-expanded=\"true\">{g}</button> \
                 <span class=\"count\">{total} processes</span></th></tr>",
                g = esc(group)
            );
        }
        last_group = Some(group);
        row(&mut out, info);
    }
    out.push_str("</tbody></table>\n</main>\n<footer>supervisor-rs ");
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str("</footer></body></html>\n");
    out
}

/// The tail page: the text, a refresh link, and what `app.js` needs to
/// follow the log live.
pub(super) fn tail(name: Option<&str>, limit: u64, channel: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2048);
    let title = format!("Supervisor tail of process {}", name.unwrap_or("None"));
    head(&mut out, &title);
    let _ = write!(
        out,
        "<body class=\"tail\"><header><h1>{}</h1></header>\n<main>\n<nav>",
        esc(&title)
    );
    if let Some(n) = name {
        let q = quote(n);
        let other = if channel == "stderr" {
            "stdout"
        } else {
            "stderr"
        };
        let _ = write!(
            out,
            "<a class=\"button\" href=\"index.html\">Status</a>\
             <a class=\"button\" id=\"refresh\" href=\"tail.html?processname={q}&amp;limit={limit}&amp;channel={channel}\">Refresh</a>\
             <a class=\"button\" href=\"tail.html?processname={q}&amp;limit={limit}&amp;channel={other}\">{other}</a>\
             <span id=\"live\" class=\"hidden\" role=\"status\"></span>"
        );
    }
    let _ = write!(
        out,
        "</nav>\n<pre id=\"tailbody\" data-name=\"{}\" data-channel=\"{channel}\" tabindex=\"0\">{}</pre>\n</main></body></html>\n",
        esc(name.unwrap_or("")),
        esc(text)
    );
    out
}
