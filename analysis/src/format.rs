//! Number formatting and aligned text tables, in the manner of hyperfine: units on every
//! number, one unit per column so the column reads down, and columns padded to align.

/// A time unit chosen once per table from the largest value it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Ms,
    S,
    Min,
    H,
}

impl TimeUnit {
    /// The unit that shows `max_ms` with a short integer part.
    pub fn for_ms(max_ms: f64) -> Self {
        let a = max_ms.abs();
        if a < 1_000.0 {
            Self::Ms
        } else if a < 120_000.0 {
            Self::S
        } else if a < 7_200_000.0 {
            Self::Min
        } else {
            Self::H
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Self::Ms => "ms",
            Self::S => "s",
            Self::Min => "min",
            Self::H => "h",
        }
    }

    pub fn divisor(self) -> f64 {
        match self {
            Self::Ms => 1.0,
            Self::S => 1_000.0,
            Self::Min => 60_000.0,
            Self::H => 3_600_000.0,
        }
    }

    /// `ms` in this unit with a precision suited to it ("58.102 s", "2.997 min").
    pub fn fmt(self, ms: f64) -> String {
        let v = ms / self.divisor();
        match self {
            Self::Ms => format!("{v:.1} ms"),
            Self::S => format!("{v:.3} s"),
            Self::Min => format!("{v:.3} min"),
            Self::H => format!("{v:.2} h"),
        }
    }
}

/// A time in the unit that suits it alone.
pub fn fmt_ms(ms: f64) -> String {
    TimeUnit::for_ms(ms).fmt(ms)
}

/// A p-value as criterion prints it: 4 decimals, or scientific below 1e-4.
pub fn fmt_p(p: f64) -> String {
    if p < 1e-4 && p > 0.0 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// A loss with 4 decimals (the speedrun quotes 3.28 targets to the hundredth; runs
/// differ in the third decimal).
pub fn fmt_loss(l: f64) -> String {
    format!("{l:.4}")
}

/// Placeholder for an absent value.
pub const NONE: &str = "—";

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Renders rows under headers with every column padded to its widest cell, `indent`
/// spaces before each line and two spaces between columns.
pub fn render_table(
    indent: usize,
    headers: &[&str],
    align: &[Align],
    rows: &[Vec<String>],
) -> String {
    let ncol = headers.len();
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(ncol) {
            widths[i] = widths[i].max(width(c));
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = " ".repeat(indent);
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(width(c));
            let right = align.get(i).copied() == Some(Align::Right);
            if right {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
            if i + 1 < cells.len() {
                s.push_str("  ");
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Shortens text to `max` characters with an ellipsis, for terminal tables.
pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
