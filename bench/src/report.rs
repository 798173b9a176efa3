//! Figures: repetitions summarised as median with min–max spread, the
//! ratio ours ÷ other, the target, the table and the JSON lines.

use std::fmt::Write as _;

/// Percentile (nearest rank) of unsorted samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

#[derive(Clone, Debug)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Summary {
    pub fn of(reps: &[f64]) -> Option<Summary> {
        let reps: Vec<f64> = reps.iter().copied().filter(|x| x.is_finite()).collect();
        if reps.is_empty() {
            return None;
        }
        let mut v = reps.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Summary {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }
}

/// What the issue requires of a figure.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    None,
    /// ours ÷ other at most this.
    RatioMax(f64),
    /// ours ÷ other at least this.
    RatioMin(f64),
    /// ours (median) at most this, in the figure's unit.
    OursMax(f64),
    /// ours (median) strictly below this.
    OursBelow(f64),
}

pub struct Figure {
    pub metric: String,
    pub unit: &'static str,
    pub ours: Option<Summary>,
    /// What ours is compared with: "python", "sh loop", "cat", "tini".
    pub other_name: &'static str,
    pub other: Option<Summary>,
    pub target: Target,
    pub note: String,
}

impl Figure {
    pub fn new(metric: impl Into<String>, unit: &'static str, other_name: &'static str) -> Figure {
        Figure {
            metric: metric.into(),
            unit,
            ours: None,
            other_name,
            other: None,
            target: Target::None,
            note: String::new(),
        }
    }
    pub fn ours(mut self, reps: &[f64]) -> Self {
        self.ours = Summary::of(reps);
        self
    }
    pub fn other(mut self, reps: &[f64]) -> Self {
        self.other = Summary::of(reps);
        self
    }
    pub fn target(mut self, t: Target) -> Self {
        self.target = t;
        self
    }
    pub fn note(mut self, n: impl Into<String>) -> Self {
        self.note = n.into();
        self
    }

    pub fn ratio(&self) -> Option<f64> {
        let (o, r) = (self.ours.as_ref()?, self.other.as_ref()?);
        if r.median == 0.0 {
            return None;
        }
        Some(o.median / r.median)
    }

    /// None when the target cannot be judged (no target, missing data).
    pub fn pass(&self) -> Option<bool> {
        let ours = self.ours.as_ref()?.median;
        match self.target {
            Target::None => None,
            Target::RatioMax(x) => Some(self.ratio()? <= x),
            Target::RatioMin(x) => Some(self.ratio()? >= x),
            Target::OursMax(x) => Some(ours <= x),
            Target::OursBelow(x) => Some(ours < x),
        }
    }

    pub fn target_text(&self) -> String {
        match self.target {
            Target::None => String::new(),
            Target::RatioMax(x) => format!("ratio <= {}", fmt_num(x)),
            Target::RatioMin(x) => format!("ratio >= {}", fmt_num(x)),
            Target::OursMax(x) => format!("ours <= {} {}", fmt_num(x), self.unit),
            Target::OursBelow(x) => format!("ours < {} {}", fmt_num(x), self.unit),
        }
    }

    pub fn json(&self, smoke: bool) -> String {
        fn side(s: &Option<Summary>) -> String {
            match s {
                None => "null".into(),
                Some(s) => format!(
                    "{{\"median\":{},\"min\":{},\"max\":{},\"n\":{}}}",
                    jnum(s.median),
                    jnum(s.min),
                    jnum(s.max),
                    s.n
                ),
            }
        }
        format!(
            "{{\"metric\":{},\"unit\":{},\"ours\":{},\"other_name\":{},\"other\":{},\"ratio\":{},\"target\":{},\"pass\":{},\"smoke\":{},\"note\":{}}}",
            jstr(&self.metric),
            jstr(self.unit),
            side(&self.ours),
            jstr(self.other_name),
            side(&self.other),
            self.ratio().map(jnum).unwrap_or_else(|| "null".into()),
            jstr(&self.target_text()),
            match self.pass() {
                Some(b) => b.to_string(),
                None => "null".into(),
            },
            smoke,
            jstr(&self.note),
        )
    }
}

fn jnum(x: f64) -> String {
    if x.is_finite() {
        format!("{}", (x * 1e6).round() / 1e6)
    } else {
        "null".into()
    }
}

fn jstr(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Three significant digits, no exponent for the usual ranges.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{:.0}", x)
    } else if a >= 10.0 {
        format!("{:.1}", x)
    } else if a >= 1.0 {
        format!("{:.2}", x)
    } else if a >= 0.01 {
        format!("{:.3}", x)
    } else {
        format!("{:.2e}", x)
    }
}

fn cell(s: &Option<Summary>) -> String {
    match s {
        None => "n/a".into(),
        Some(s) if s.n > 1 && s.min != s.max => {
            format!(
                "{} [{}-{}]",
                fmt_num(s.median),
                fmt_num(s.min),
                fmt_num(s.max)
            )
        }
        Some(s) => fmt_num(s.median),
    }
}

/// A Markdown table (readable in a terminal and pasteable into the README).
pub fn table(figs: &[Figure]) -> String {
    let mut rows = vec![[
        "metric".to_string(),
        "unit".into(),
        "ours".into(),
        "other".into(),
        "vs".into(),
        "ratio".into(),
        "target".into(),
        "result".into(),
    ]];
    for f in figs {
        rows.push([
            f.metric.clone(),
            f.unit.into(),
            cell(&f.ours),
            cell(&f.other),
            f.other_name.into(),
            f.ratio()
                .map(|r| format!("{}x", fmt_num(r)))
                .unwrap_or_else(|| "-".into()),
            f.target_text(),
            match f.pass() {
                Some(true) => "PASS".into(),
                Some(false) => "FAIL".into(),
                None if matches!(f.target, Target::None) => String::new(),
                None => "n/a".into(),
            },
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (k, r) in rows.iter().enumerate() {
        out.push('|');
        for i in 0..8 {
            let _ = write!(out, " {:w$} |", r[i], w = widths[i]);
        }
        out.push('\n');
        if k == 0 {
            out.push('|');
            for w in &widths {
                let _ = write!(out, "{}|", "-".repeat(w + 2));
            }
            out.push('\n');
        }
    }
    out
}
