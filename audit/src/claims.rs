//! What a record's authors state about their runs, read from `statistics.md` and from
//! the code blocks of `README.md`.
//!
//! Claims come in blocks. A README block is one fenced code block that holds the
//! speedrun's usual snippet:
//!
//! ```text
//! losses = [3.2804, 3.2754, ...]          (also `accs = [...]`, or a bare printed list)
//! times = [139.441, 139.780, ...]          seconds
//! print("p=%.4f" % scipy.stats.ttest_1samp(losses, 3.28, alternative="less").pvalue)
//! # p=0.0083
//! # losses: (std=0.0020, mean=3.2782)      or (tensor(0.0020), tensor(3.2782))
//! # time: (std=0.1825, mean=139.6522)
//! ```
//!
//! A `statistics.md` is one block for the whole file, adding its markdown forms
//! (summary tables, per-run tables, "p(val_loss < 3.28) = **0.0047**", "- runs: `13`",
//! the Welch lines). Prose and the fixed-width comparison tables some READMEs carry
//! are not read: their row names do not map reliably onto folders.
//!
//! Track 2 READMEs state figures in prose next to bare lists, and against 2.92:
//! `- p-value: 1.1266e-05`, `(P(<2.92) > 99.9%)`; these prose lines are tied to
//! the nearest code block that lists losses. The target in `p(val_loss < T)` and
//! `one-sided p vs T` is whatever the track's is.
//!
//! Every stated number keeps the text it was written as, because its precision is
//! the tolerance it is checked to (see [`Stated::half_unit`]).

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::paths::{file_name, relative};

/// A quantity an author can state about a sample of runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quantity {
    Runs,
    LossMean,
    LossSd,
    /// One-sided one-sample t-test p-value of the loss against 3.28.
    LossP,
    /// Train time, stored in ms whatever unit it was written in.
    TimeMean,
    TimeSd,
    TimeMedian,
    /// Welch p-value of candidate time against the baseline's (sidedness unstated).
    TimeWelchP,
    /// Welch p-value of candidate loss against the baseline's (sidedness unstated).
    LossWelchP,
}

impl Quantity {
    pub fn as_str(self) -> &'static str {
        match self {
            Quantity::Runs => "runs",
            Quantity::LossMean => "loss mean",
            Quantity::LossSd => "loss sd",
            Quantity::LossP => "loss p",
            Quantity::TimeMean => "time mean",
            Quantity::TimeSd => "time sd",
            Quantity::TimeMedian => "time median",
            Quantity::TimeWelchP => "time Welch p",
            Quantity::LossWelchP => "loss Welch p",
        }
    }
}

/// One stated number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stated {
    pub quantity: Quantity,
    /// As written ("0.0083", "79.684923 s", "4.9e-12").
    pub text: String,
    /// In canonical units: ms for times.
    pub value: f64,
    /// Canonical units per written unit: 1000 for times written in seconds, else 1.
    pub scale: f64,
    /// Half a unit in the last written digit, in canonical units: the rounding the
    /// author's figure allows. "0.0083" allows ±0.00005.
    pub half_unit: f64,
    /// 1-based line in the source file.
    pub line: usize,
    /// The author states only a bound: the figure is below `value`
    /// ("P(<2.92) > 99.9%" says p < 0.001).
    #[serde(default)]
    pub upper_bound: bool,
}

/// A group of claims about one sample of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimBlock {
    /// File the block came from, relative to the records folder.
    pub source: String,
    /// 1-based first line of the block.
    pub line: usize,
    /// Whether it came from a `statistics.md` (else a README).
    pub statistics_md: bool,
    /// Per-run final validation losses the author lists.
    pub losses: Option<Vec<f64>>,
    /// Per-run train times the author lists, in ms.
    pub times_ms: Option<Vec<f64>>,
    pub stated: Vec<Stated>,
}

impl ClaimBlock {
    fn is_empty(&self) -> bool {
        self.losses.is_none() && self.times_ms.is_none() && self.stated.is_empty()
    }
}

const NUM: &str = r"([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)";

static P_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^\s*#?\s*p\s*=\s*{NUM}")).unwrap());
static Z_LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*#?\s*z\s*=\s*-?[0-9]").unwrap());
static STD_MEAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^\s*#\s*(?:([A-Za-z_ ]+):\s*)?\(\s*(?:std=|tensor\(){NUM}\)?\s*,\s*(?:mean=|tensor\(){NUM}\)?\s*\)"
    ))
    .unwrap()
});
static MEDIAN_TIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^\s*#\s*median time:\s*(?:tensor\()?{NUM}")).unwrap());
static LIST_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*([A-Za-z_]+)\s*=\s*\[").unwrap());

// statistics.md forms.
static P_PAREN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"p\((?:val_loss|mean)\s*<\s*[0-9.]+\)\s*=\s*\**{NUM}"
    ))
    .unwrap()
});
// README prose (track 2): "- p-value: 1.1266e-05" and "(P(<2.92) > 99.9%)".
static PROSE_P: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^\s*[-*]\s*p-value:\s*`?{NUM}")).unwrap());
static PROSE_P_BOUND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"P\(\s*<\s*[0-9.]+\s*\)\s*>\s*{NUM}\s*%")).unwrap());
/// A summary line under a listed sample in track-2 prose: `- N: 26`,
/// `- Mean: 1374.6926 seconds (~22.91 minutes)`, `- Std: 0.000678`, `- Median: 2.920`.
static PROSE_STAT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^\s*[-*]\s*(N|Mean|Std|Median):\s*`?{NUM}")).unwrap());
/// `Results from 36 runs` (2025-03-06_LongerCooldown).
static PROSE_RUNS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bresults from ([0-9]+) runs\b").unwrap());
static SUMMARY_LOSS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"^\|\s*val_loss\s*\|\s*{NUM}\s*\|\s*{NUM}\s*\|")).unwrap()
});
static SUMMARY_TIME_MS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^\|\s*train_time \(ms\)\s*\|\s*{NUM}\s*\|\s*{NUM}\s*\|"
    ))
    .unwrap()
});
static METRIC_ROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^\|\s*([a-z0-9 .-]+?)\s*\|\s*{NUM}\s*(s|ms)?\s*\|"
    ))
    .unwrap()
});
static RUN_ROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^\|\s*[0-9a-f]{{8}}\s*\|\s*{NUM}\s*\|\s*([0-9]+(?:\.[0-9]+)?)ms\s*\|"
    ))
    .unwrap()
});
static RUNS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\s*-\s*runs:\s*`?([0-9]+)`?|([0-9]+) (?:[a-z]+ )?runs\b)").unwrap()
});
static WELCH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"Welch p-value candidate (time|loss) vs baseline (?:time|loss):\s*`?{NUM}"
    ))
    .unwrap()
});
static VERIFIER_N: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`n=([0-9]+) ").unwrap());

/// The claim blocks of a record's files: every `statistics.md` and `README.md`
/// among `files` (any case), in file order; sources are relative to `root`.
/// Unreadable files state nothing.
pub(crate) fn read_claims(root: &Path, files: &[PathBuf]) -> Vec<ClaimBlock> {
    let mut blocks = Vec::new();
    for path in files {
        let name = file_name(path).to_ascii_lowercase();
        let is_stats = name == "statistics.md";
        if !is_stats && name != "readme.md" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let rel = relative(root, path);
        if is_stats {
            blocks.extend(parse_statistics_md(&text, &rel));
        } else {
            blocks.extend(parse_readme(&text, &rel));
        }
    }
    blocks
}

/// Reads the claim blocks of a README (one per fenced code block with claims), and
/// the p-values its prose states, each added to the nearest block listing losses.
pub fn parse_readme(text: &str, source: &str) -> Vec<ClaimBlock> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    let mut prose = ClaimBlock {
        source: source.to_string(),
        line: 0,
        statistics_md: false,
        losses: None,
        times_ms: None,
        stated: Vec::new(),
    };
    // The block of the last code block closed, if it listed one kind of values: the
    // sample that prose summary lines below it (`- Mean: …`) describe.
    let mut listed: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some((start, lines)) => {
                    // A code block we cannot read ends the list above it too: the
                    // summary lines under it describe the block we could not read.
                    let new = parse_block(&lines, start + 1, source, false);
                    let read = !new.is_empty();
                    blocks.extend(new);
                    listed = blocks
                        .last()
                        .filter(|b| read && b.losses.is_some() != b.times_ms.is_some())
                        .map(|_| blocks.len() - 1);
                }
                None => current = Some((i + 1, Vec::new())),
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        } else if let Some(c) = PROSE_STAT.captures(line) {
            if let Some(b) = listed.map(|at| &mut blocks[at]) {
                push_prose_stat(b, &c[1], &c[2], i + 1);
            }
        } else {
            parse_prose_line(&mut prose, line, i + 1);
        }
    }
    for stated in std::mem::take(&mut prose.stated) {
        let nearest = blocks
            .iter_mut()
            .filter(|b| b.losses.is_some())
            .min_by_key(|b| b.line.abs_diff(stated.line));
        match nearest {
            Some(b) => b.stated.push(stated),
            None => blocks.push(ClaimBlock {
                line: stated.line,
                stated: vec![stated],
                ..prose.clone()
            }),
        }
    }
    blocks
}

/// A prose summary line (`- Mean: 2.9193`) about the listed sample above it: a loss
/// or a time figure as the list is. A loss median has no quantity to check against
/// (the speedrun's snippets state only time medians), so it is not read.
fn push_prose_stat(block: &mut ClaimBlock, name: &str, number: &str, lineno: usize) {
    let (quantity, scale) = match (name, block.losses.is_some()) {
        ("N", _) => (Quantity::Runs, 1.0),
        ("Mean", true) => (Quantity::LossMean, 1.0),
        ("Std", true) => (Quantity::LossSd, 1.0),
        ("Mean", false) => (Quantity::TimeMean, 1000.0),
        ("Std", false) => (Quantity::TimeSd, 1000.0),
        ("Median", false) => (Quantity::TimeMedian, 1000.0),
        _ => return,
    };
    push(block, quantity, number, scale, lineno);
}

/// A p-value stated in README prose: exact, or as a bound on 1 − p; and a run
/// count (`Results from 36 runs`).
fn parse_prose_line(block: &mut ClaimBlock, line: &str, lineno: usize) {
    if let Some(c) = PROSE_RUNS.captures(line) {
        push(block, Quantity::Runs, &c[1], 1.0, lineno);
    }
    if let Some(c) = PROSE_P.captures(line) {
        push(block, Quantity::LossP, &c[1], 1.0, lineno);
    }
    if let Some(c) = PROSE_P_BOUND.captures(line)
        && let Ok(percent) = c[1].parse::<f64>()
    {
        // "P(<2.92) > 99.9%": the loss is below target with confidence above
        // 99.9 %, i.e. the one-sided p is below 0.001.
        let bound = (100.0 - percent) / 100.0;
        let digits = c[1].split_once('.').map_or(0, |(_, f)| f.len()) + 2;
        let text = format!("{bound:.digits$} ({})", c[0].trim());
        block.stated.push(Stated {
            quantity: Quantity::LossP,
            text,
            value: bound,
            scale: 1.0,
            half_unit: 0.0,
            line: lineno,
            upper_bound: true,
        });
    }
}

/// Reads a `statistics.md` as one claim block (more if it lists several
/// different samples).
pub fn parse_statistics_md(text: &str, source: &str) -> Vec<ClaimBlock> {
    let lines: Vec<&str> = text.lines().collect();
    parse_block(&lines, 1, source, true)
}

/// Reads one block. A README code block that lists a second, different set of
/// losses (or times) holds claims about a second sample ("Baseline: losses = [...]
/// ... Mine: losses = [...]"), so it is split there into consecutive blocks.
fn parse_block(lines: &[&str], first_line: usize, source: &str, stats_md: bool) -> Vec<ClaimBlock> {
    let new_block = |line: usize| ClaimBlock {
        source: source.to_string(),
        line,
        statistics_md: stats_md,
        losses: None,
        times_ms: None,
        stated: Vec::new(),
    };
    let mut done: Vec<ClaimBlock> = Vec::new();
    let mut block = new_block(first_line);
    // Track 3 READMEs print `z = …` then `p = …`: a normal approximation with an
    // assumed sigma, not the t-test the logs give, so its p is not checked.
    let z_test = lines.iter().any(|l| Z_LINE.is_match(l));
    let mut run_losses = Vec::new();
    let mut run_times = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let lineno = first_line + i;
        // Lists, possibly over several lines.
        let named = LIST_START.captures(line).map(|c| c[1].to_ascii_lowercase());
        let bare = line.trim_start().starts_with('[');
        if named.is_some() || bare {
            let (values, consumed) = read_list(&lines[i..]);
            if let Some(values) = values {
                let kind = named
                    .as_deref()
                    .map_or_else(|| classify_bare(&values), |n| classify_name(n, &values));
                let (losses, times) = match kind {
                    Some(ListKind::Losses) => (Some(values), None),
                    Some(ListKind::TimesSeconds) => (
                        None,
                        Some(values.iter().map(|s| s * 1000.0).collect::<Vec<_>>()),
                    ),
                    None => (None, None),
                };
                let repeats = |old: &Option<Vec<f64>>, new: &Option<Vec<f64>>| matches!((old, new), (Some(o), Some(n)) if o != n);
                if repeats(&block.losses, &losses) || repeats(&block.times_ms, &times) {
                    let finished = std::mem::replace(&mut block, new_block(lineno));
                    finish_runs(&mut done, finished, &mut run_losses, &mut run_times);
                }
                if block.losses.is_none() {
                    block.losses = losses;
                }
                if block.times_ms.is_none() {
                    block.times_ms = times;
                }
                i += consumed.max(1);
                continue;
            }
        }
        if let Some(c) = P_LINE.captures(line)
            && !z_test
        {
            push(&mut block, Quantity::LossP, &c[1], 1.0, lineno);
        }
        if let Some(c) = STD_MEAN.captures(line) {
            let label = c.get(1).map_or("", |m| m.as_str()).to_ascii_lowercase();
            let mean: f64 = c[3].parse().unwrap_or(f64::NAN);
            let is_time = label.contains("time") || (label.is_empty() && mean > 10.0);
            if is_time {
                push(&mut block, Quantity::TimeSd, &c[2], 1000.0, lineno);
                push(&mut block, Quantity::TimeMean, &c[3], 1000.0, lineno);
            } else {
                push(&mut block, Quantity::LossSd, &c[2], 1.0, lineno);
                push(&mut block, Quantity::LossMean, &c[3], 1.0, lineno);
            }
        }
        if let Some(c) = MEDIAN_TIME.captures(line) {
            push(&mut block, Quantity::TimeMedian, &c[1], 1000.0, lineno);
        }
        if stats_md {
            parse_statistics_line(&mut block, line, lineno, &mut run_losses, &mut run_times);
        }
        i += 1;
    }
    finish_runs(&mut done, block, &mut run_losses, &mut run_times);
    done
}

/// Closes a block: per-run table rows stand in for missing lists; empty blocks go.
fn finish_runs(
    done: &mut Vec<ClaimBlock>,
    mut block: ClaimBlock,
    run_losses: &mut Vec<f64>,
    run_times: &mut Vec<f64>,
) {
    if block.losses.is_none() && !run_losses.is_empty() {
        block.losses = Some(std::mem::take(run_losses));
    }
    if block.times_ms.is_none() && !run_times.is_empty() {
        block.times_ms = Some(std::mem::take(run_times));
    }
    if !block.is_empty() {
        done.push(block);
    }
}

fn parse_statistics_line(
    block: &mut ClaimBlock,
    line: &str,
    lineno: usize,
    run_losses: &mut Vec<f64>,
    run_times: &mut Vec<f64>,
) {
    if let Some(c) = P_PAREN.captures(line) {
        push(block, Quantity::LossP, &c[1], 1.0, lineno);
    }
    if let Some(c) = SUMMARY_LOSS.captures(line) {
        push(block, Quantity::LossMean, &c[1], 1.0, lineno);
        push(block, Quantity::LossSd, &c[2], 1.0, lineno);
    }
    if let Some(c) = SUMMARY_TIME_MS.captures(line) {
        push(block, Quantity::TimeMean, &c[1], 1.0, lineno);
        push(block, Quantity::TimeSd, &c[2], 1.0, lineno);
    }
    if let Some(c) = RUN_ROW.captures(line)
        && let (Ok(l), Ok(t)) = (c[1].parse::<f64>(), c[2].parse::<f64>())
    {
        run_losses.push(l);
        run_times.push(t);
    }
    if let Some(c) = METRIC_ROW.captures(line) {
        let scale = if c.get(3).is_some_and(|u| u.as_str() == "s") {
            1000.0
        } else {
            1.0
        };
        let q = match &c[1] {
            "mean val loss" => Some((Quantity::LossMean, 1.0)),
            "val loss sample std" => Some((Quantity::LossSd, 1.0)),
            m if m.starts_with("one-sided p vs ") => Some((Quantity::LossP, 1.0)),
            "mean train time" => Some((Quantity::TimeMean, scale)),
            "train time sample std" => Some((Quantity::TimeSd, scale)),
            "median train time" => Some((Quantity::TimeMedian, scale)),
            _ => None,
        };
        if let Some((q, scale)) = q {
            push(block, q, &c[2], scale, lineno);
        }
    }
    if let Some(c) = RUNS.captures(line) {
        let n = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        push(block, Quantity::Runs, n, 1.0, lineno);
    }
    if let Some(c) = VERIFIER_N.captures(line) {
        push(block, Quantity::Runs, &c[1], 1.0, lineno);
    }
    if let Some(c) = WELCH.captures(line) {
        let q = if &c[1] == "time" {
            Quantity::TimeWelchP
        } else {
            Quantity::LossWelchP
        };
        push(block, q, &c[2], 1.0, lineno);
    }
}

/// Adds a stated number unless the same quantity was already stated with the same
/// text (statistics.md files repeat themselves).
fn push(block: &mut ClaimBlock, quantity: Quantity, text: &str, scale: f64, line: usize) {
    let Some((value, half_unit)) = number_with_precision(text) else {
        return;
    };
    if block
        .stated
        .iter()
        .any(|s| s.quantity == quantity && s.text == text)
    {
        return;
    }
    block.stated.push(Stated {
        quantity,
        text: text.to_string(),
        value: value * scale,
        scale,
        half_unit: half_unit * scale,
        line,
        upper_bound: false,
    });
}

/// Parses "0.0047" → (0.0047, 0.00005), "4.9e-12" → (4.9e-12, 5e-14),
/// "80341" → (80341, 0.5).
pub fn number_with_precision(text: &str) -> Option<(f64, f64)> {
    let value: f64 = text.parse().ok()?;
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let decimals = mantissa
        .split_once('.')
        .map_or(0, |(_, frac)| frac.len() as i32);
    Some((value, 0.5 * 10f64.powi(exponent - decimals)))
}

enum ListKind {
    Losses,
    TimesSeconds,
}

fn classify_name(name: &str, values: &[f64]) -> Option<ListKind> {
    match name {
        "losses" | "accs" | "val_losses" | "loss" | "vals" => Some(ListKind::Losses),
        "times" | "time" | "train_times" => Some(ListKind::TimesSeconds),
        _ => classify_bare(values),
    }
}

/// A bare printed list: losses are near 3.28; anything in 10 s … 1 h is a time.
fn classify_bare(values: &[f64]) -> Option<ListKind> {
    if values.iter().all(|v| (2.0..5.0).contains(v)) {
        Some(ListKind::Losses)
    } else if values.iter().all(|v| (10.0..3600.0).contains(v)) {
        Some(ListKind::TimesSeconds)
    } else {
        None
    }
}

/// Reads `name = [1.0, 2.0,\n 3.0]` from the first line on; returns the values
/// and the number of lines consumed, or `None` if it is not a list of numbers.
fn read_list(lines: &[&str]) -> (Option<Vec<f64>>, usize) {
    let mut text = String::new();
    for (k, line) in lines.iter().enumerate().take(64) {
        text.push_str(line);
        text.push(' ');
        if line.contains(']') {
            let Some(open) = text.find('[') else {
                return (None, k + 1);
            };
            let Some(close) = text[open..].find(']') else {
                return (None, k + 1);
            };
            let inner = &text[open + 1..open + close];
            let values: Option<Vec<f64>> = inner
                .split(',')
                // Lists of quoted numbers (`['1450.149', …]`) are lists of numbers.
                .map(|t| t.trim().trim_matches(['\'', '"']).trim())
                .filter(|t| !t.is_empty())
                .map(|t| t.parse::<f64>().ok())
                .collect();
            return (values.filter(|v| v.len() >= 2), k + 1);
        }
    }
    (None, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_from_text() {
        assert_eq!(number_with_precision("0.0047"), Some((0.0047, 0.5e-4)));
        let (v, h) = number_with_precision("4.9e-12").unwrap();
        assert_eq!(v, 4.9e-12);
        assert!((h - 0.5e-13).abs() < 1e-27);
        assert_eq!(number_with_precision("80341"), Some((80341.0, 0.5)));
        assert_eq!(number_with_precision("abc"), None);
    }

    #[test]
    fn readme_block() {
        let text = "intro\n```\nimport scipy.stats\nlosses = [3.2804, 3.2754,\n 3.2753]\n\
            times = [139.441, 139.780, 139.889]\n# p=0.0083\n\
            # losses: (std=0.0020, mean=3.2782)\n# time: (tensor(0.1825), tensor(139.6522))\n```\n\
            ```\nno claims here\n```\n";
        let blocks = parse_readme(text, "r/README.md");
        assert_eq!(blocks.len(), 1);
        let b = &blocks[0];
        assert_eq!(b.line, 3);
        assert_eq!(b.losses.as_deref(), Some(&[3.2804, 3.2754, 3.2753][..]));
        assert_eq!(b.times_ms.as_ref().unwrap()[0], 139441.0);
        let q: Vec<_> = b.stated.iter().map(|s| s.quantity).collect();
        assert_eq!(
            q,
            [
                Quantity::LossP,
                Quantity::LossSd,
                Quantity::LossMean,
                Quantity::TimeSd,
                Quantity::TimeMean
            ]
        );
        let mean = b
            .stated
            .iter()
            .find(|s| s.quantity == Quantity::TimeMean)
            .unwrap();
        assert!((mean.value - 139652.2).abs() < 1e-6);
        assert!((mean.half_unit - 0.05).abs() < 1e-12);
    }

    #[test]
    fn compound_block_splits_per_list() {
        let text = "```\nBaseline:\n  losses = [3.2796, 3.2781]\n  times = [132.5, 132.8]\n\
            Mine:\n  losses = [3.2790, 3.2759, 3.2766]\n# p=0.0024\n```\n";
        let blocks = parse_readme(text, "r/README.md");
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].losses.as_ref().unwrap().len(), 2);
        assert!(blocks[0].stated.is_empty());
        assert_eq!(blocks[1].losses.as_ref().unwrap().len(), 3);
        assert_eq!(blocks[1].line, 6);
        assert_eq!(blocks[1].stated[0].quantity, Quantity::LossP);
    }

    #[test]
    fn track_2_prose_claims() {
        // 2025-03-06_LongerCooldown/README.md and 2025-11-02-Smear-MTP/README.md.
        let text = "Results from 36 runs: (P(<2.92) > 99.9%)\n```\n[2.9199, 2.9185, 2.9195]\n```\n\n\
            Loss Stats:\n\n- N: 26\n- Mean: 2.9193\n- p-value: 1.1266e-05\n";
        let blocks = parse_readme(text, "r/README.md");
        assert_eq!(blocks.len(), 1);
        let got: Vec<(Quantity, &str, bool)> = blocks[0]
            .stated
            .iter()
            .map(|s| (s.quantity, s.text.as_str(), s.upper_bound))
            .collect();
        assert_eq!(
            got,
            [
                (Quantity::Runs, "26", false),
                (Quantity::LossMean, "2.9193", false),
                (Quantity::Runs, "36", false),
                (Quantity::LossP, "0.001 (P(<2.92) > 99.9%)", true),
                (Quantity::LossP, "1.1266e-05", false),
            ]
        );
        let bound = &blocks[0].stated[3];
        assert!((bound.value - 0.001).abs() < 1e-12, "{bound:?}");
    }

    /// The summary lines of 2025-11-02-Smear-MTP/README.md (lines 5-29, lists
    /// shortened): each describes the list above it, a time list in seconds or a
    /// loss list.
    #[test]
    fn track_2_prose_summaries_follow_their_list() {
        let text = "Times:\n\n```python\n[1374.632, 1373.729, 1373.736]\n```\n\nTime Stats:\n\n\
            - N: 26\n- Mean: 1374.6926 seconds (~22.91 minutes)\n- Std: 2.83 seconds\n\n\
            The previous record ran in 1384.6224 seconds (~23.08 minutes).\n\nLosses:\n\n\
            ```python\n[2.921089, 2.918772, 2.919393]\n```\n\nLoss Stats:\n\n\
            - N: 26\n- Mean: 2.9193\n- Std: 0.000678\n- p-value: 1.1266e-05\n\n\
            Here are some simple statistics:\n\n- Median:   2.920\n";
        let blocks = parse_readme(text, "r/README.md");
        assert_eq!(blocks.len(), 2);
        let of = |b: &ClaimBlock| -> Vec<(Quantity, f64)> {
            b.stated.iter().map(|s| (s.quantity, s.value)).collect()
        };
        assert!(blocks[0].times_ms.is_some());
        assert_eq!(
            of(&blocks[0]),
            [
                (Quantity::Runs, 26.0),
                (Quantity::TimeMean, 1374.6926 * 1000.0),
                (Quantity::TimeSd, 2.83 * 1000.0),
            ]
        );
        assert!(blocks[1].losses.is_some());
        assert_eq!(
            of(&blocks[1]),
            [
                (Quantity::Runs, 26.0),
                (Quantity::LossMean, 2.9193),
                (Quantity::LossSd, 0.000678),
                (Quantity::LossP, 1.1266e-05),
            ]
        );
    }

    /// 2025-08-28_Medium_NewValemb lists its run times as quoted strings; its
    /// `- Mean: 1449.038` belongs to them, not to the losses listed before.
    #[test]
    fn quoted_time_list_takes_its_own_summary_lines() {
        let text = "```python\n[2.919321, 2.919348, 2.920103]\n```\n\n- Mean:     2.920 ± 0.001\n\n\
            ```python\n['1450.149', '1447.753', '1447.248']\n```\n\n- Mean:     1449.038 ± 1.456\n";
        let blocks = parse_readme(text, "r/README.md");
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].stated.len(), 1);
        assert_eq!(blocks[0].stated[0].quantity, Quantity::LossMean);
        assert_eq!(
            blocks[1].times_ms.as_deref(),
            Some(&[1_450_149.0, 1_447_753.0, 1_447_248.0][..])
        );
        assert_eq!(blocks[1].stated[0].quantity, Quantity::TimeMean);
    }

    #[test]
    fn summary_lines_under_an_unread_block_are_not_given_to_the_list_above() {
        let text = "```python\n[2.919321, 2.919348, 2.920103]\n```\n\n\
            ```python\n{'n': 3, 'decision': REJECT}\n```\n\n- Mean:     1449.038\n";
        let blocks = parse_readme(text, "r/README.md");
        assert_eq!(blocks.len(), 1);
        assert!(blocks[0].stated.is_empty());
    }

    #[test]
    fn z_test_p_is_not_read_as_the_t_test() {
        let text = "```text\nz = 3.287179\np = 0.000505982\n```\n";
        assert!(parse_readme(text, "r/README.md").is_empty());
    }

    #[test]
    fn statistics_md_forms() {
        let text = "13 runs, step 1398/1398.\n\n| Run | val_loss | train_time |\n|---|---|---|\n\
            | 00088a48 | 3.2791 | 77933ms |\n| 244ecee6 | 3.2800 | 77446ms |\n\n\
            | val_loss | 3.27893 | 0.00137 | 3.2766 | 3.2819 |\n\
            | train_time (ms) | 77337.6 | 202.9 | 77149 | 77933 |\n\
            p(val_loss < 3.28) = **0.0078**\n\
            | mean train time | 79.684923 s |\n\
            - Welch p-value candidate time vs baseline time: `4.9e-12`\n";
        let blocks = parse_statistics_md(text, "x/statistics.md");
        assert_eq!(blocks.len(), 1);
        let b = &blocks[0];
        assert_eq!(b.losses.as_deref(), Some(&[3.2791, 3.28][..]));
        assert_eq!(b.times_ms.as_deref(), Some(&[77933.0, 77446.0][..]));
        let get = |q| b.stated.iter().find(|s| s.quantity == q).map(|s| s.value);
        assert_eq!(get(Quantity::Runs), Some(13.0));
        assert_eq!(get(Quantity::LossMean), Some(3.27893));
        assert_eq!(get(Quantity::LossP), Some(0.0078));
        assert_eq!(get(Quantity::TimeMean), Some(77337.6));
        assert_eq!(get(Quantity::TimeWelchP), Some(4.9e-12));
        assert!(
            b.stated
                .iter()
                .any(|s| s.quantity == Quantity::TimeMean && (s.value - 79684.923).abs() < 1e-6)
        );
    }
}
