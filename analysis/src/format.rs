//! Aligned text tables, in the manner of hyperfine: units on every
//! number, one unit per column so the column reads down, and columns padded to align.

// The numbers themselves are formatted by the one formatter every crate shares.
pub use speedcert_stats::format::{TimeUnit, fmt_loss, fmt_ms, fmt_p};

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
