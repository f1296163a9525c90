//! Parser for one training log of the speedrun's `train_gpt.py`.
//!
//! The format drifted over two years of records, so the parser keys on line shapes,
//! not positions, and every field is optional:
//!
//! ```text
//! ====================================================================   (older logs open with this)
//! import os ...                         the training script, printed by itself
//! ====================================================================
//! Running Python 3.12.3 (main, ...)     from 2024-12; "Running python" before 2025
//! Running PyTorch 2.10.0+cu128 compiled for CUDA 12.8    ("pytorch" in 2024)
//! Running Triton version 3.6.0          from 2025-12
//! nvidia-smi:                           (2024 only)
//! Fri Jul 17 13:28:52 2026
//! | NVIDIA-SMI 580.159.04   Driver Version: 580.159.04   CUDA Version: 13.0 |
//! |   0  NVIDIA H100 80GB HBM3   On  | ...                one row per GPU
//! ====================================================================
//! step:0/1390 val_loss:10.8311 train_time:0ms step_avg:0.03ms
//! step:1/1390 train_time:94ms step_avg:94.04ms           (2024: train_loss:X too)
//! step:1390/1390 val_loss:3.2775 train_time:79532ms step_avg:57.22ms
//! peak memory allocated: 30220 MiB reserved: 38672 MiB   ("peak memory consumption: N MiB" in 2024)
//! ```
//!
//! The two oldest records are llm.c logs (`s:N trl:X` / `s:N tel:X`, no times); they
//! are read for their final validation loss.
//!
//! Only lines that start at column 0 with these shapes count, so the printed script
//! (whose `print0(f"step:{step}/...")` lines are code, not output) never matches.
//! A run counts as finished when a validation loss is logged at step N of N.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which program wrote the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// modded-nanogpt's `train_gpt.py` (`step:N/M ...` lines).
    TrainGpt,
    /// Karpathy's llm.c (`s:N tel:X` lines): the 2024-06 baseline and the llm.c record.
    LlmC,
}

/// One validation point: the loss curve in the log.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValPoint {
    pub step: u32,
    pub val_loss: f64,
    pub train_time_ms: Option<f64>,
    pub step_avg_ms: Option<f64>,
}

/// Everything read from one log. Fields that the log does not state are `None`,
/// never guessed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    pub format: Option<LogFormat>,
    /// Lines of the training script printed at the top of the log (0 if none).
    pub code_lines: usize,
    /// 64-bit fingerprint (word-wise FNV-1a) of the printed script's code, hex: tells
    /// runs of different scripts apart. Comments, docstrings, blank lines and the
    /// `run_id` setting are left out, since runs of one submission differ in them.
    /// Not a security digest.
    pub code_fingerprint: Option<String>,
    pub python_version: Option<String>,
    pub torch_version: Option<String>,
    /// The CUDA version PyTorch was compiled for ("compiled for CUDA 12.8").
    pub cuda_version: Option<String>,
    pub triton_version: Option<String>,
    pub driver_version: Option<String>,
    /// The driver's CUDA version from the nvidia-smi header.
    pub driver_cuda_version: Option<String>,
    /// Timestamp line nvidia-smi printed, as written ("Fri Jul 17 13:28:52 2026").
    pub nvidia_smi_time: Option<String>,
    /// GPU model (the most common one in the nvidia-smi block).
    pub gpu_name: Option<String>,
    pub gpu_count: Option<u32>,
    /// N of the last `step:n/N` line: the scheduled number of steps.
    pub total_steps: Option<u32>,
    /// Highest step logged.
    pub last_step: Option<u32>,
    /// Validation loss at step N of N; `None` if the run did not get there.
    pub final_val_loss: Option<f64>,
    /// train_time at the final validation, in ms: the speedrun's record time.
    pub train_time_ms: Option<f64>,
    pub step_avg_ms: Option<f64>,
    pub last_train_loss: Option<f64>,
    pub peak_memory_allocated_mib: Option<u64>,
    pub peak_memory_reserved_mib: Option<u64>,
    pub val_points: Vec<ValPoint>,
    /// Number of `step:0` restarts after later steps (the parser keeps the last run).
    pub restarts: u32,
    /// The last validation line as written, for messages about it.
    pub last_val_line: Option<String>,
    /// Why the last validation line cannot stand as a final result (cut off, or a
    /// non-finite loss): such a run is a file problem, never a finished run.
    pub last_val_defect: Option<LineDefect>,
    /// Training-step lines (`step:n/N train_time:...`) of the kept run.
    #[serde(default)]
    pub train_lines: u32,
    /// The first place where the kept run's step lines leave train_gpt.py's order
    /// (training steps 1, 2, ... N one line each, a validation at the step just trained,
    /// train_time never going back): a log with lines missing or spliced. Certification
    /// of a command submission refuses such a log; the audit of published logs does not
    /// use it.
    #[serde(default)]
    pub sequence_defect: Option<String>,
}

/// What is wrong with a log's last validation line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineDefect {
    /// The file ends inside the line (no newline after it), or the line lacks the
    /// train time or the loss digits the earlier validation lines have: a copy or a
    /// run cut short, so `val_loss:3` may be the first digit of 3.2791.
    CutOff,
    /// The loss is NaN or infinite: the run diverged.
    NonFinite,
}

impl RunLog {
    /// True when the run logged its final validation loss (step N of N).
    pub fn is_complete(&self) -> bool {
        self.final_val_loss.is_some()
    }
}

/// Parses the text of one log. Never fails: a file that is not a training log
/// comes back with `format: None`, and [`crate::problem_of`] says what is missing.
pub fn parse_log(text: &str) -> RunLog {
    let mut log = RunLog {
        format: None,
        code_lines: 0,
        code_fingerprint: None,
        python_version: None,
        torch_version: None,
        cuda_version: None,
        triton_version: None,
        driver_version: None,
        driver_cuda_version: None,
        nvidia_smi_time: None,
        gpu_name: None,
        gpu_count: None,
        total_steps: None,
        last_step: None,
        final_val_loss: None,
        train_time_ms: None,
        step_avg_ms: None,
        last_train_loss: None,
        peak_memory_allocated_mib: None,
        peak_memory_reserved_mib: None,
        val_points: Vec::new(),
        restarts: 0,
        last_val_line: None,
        last_val_defect: None,
        train_lines: 0,
        sequence_defect: None,
    };
    let body = skip_code_header(text, &mut log);
    let mut gpus: BTreeMap<String, u32> = BTreeMap::new();
    let mut gpu_rows = 0u32;
    // The last training-step line, parsed only at the end: most of a log is such
    // lines, and only the last one's train_loss matters.
    let mut last_train_line: Option<&str> = None;
    // Shape of the last two validation lines: (line index, loss decimals, has time).
    let mut val_shapes: [Option<ValShape>; 2] = [None, None];
    let mut line_count = 0;

    for (index, line) in body.lines().enumerate() {
        line_count = index + 1;
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("step:") {
            if let Some(mut shape) = parse_step_line(rest, &mut log, &mut last_train_line) {
                shape.index = index;
                val_shapes = [val_shapes[1], Some(shape)];
                log.last_val_line = Some(line.to_string());
            }
        } else if let Some(rest) = line.strip_prefix("s:") {
            parse_llmc_line(rest, &mut log);
        } else if line.starts_with('|') {
            parse_smi_row(line, &mut log, &mut gpus, &mut gpu_rows);
        } else if let Some(rest) = strip_prefix_ci(line, "Running Python ") {
            log.python_version.get_or_insert_with(|| first_word(rest));
        } else if let Some(rest) = strip_prefix_ci(line, "Running PyTorch ") {
            if log.torch_version.is_none() {
                log.torch_version = Some(first_word(rest));
                log.cuda_version = rest
                    .split_once("compiled for CUDA ")
                    .map(|(_, v)| first_word(v));
            }
        } else if let Some(rest) = strip_prefix_ci(line, "Running Triton version ") {
            log.triton_version.get_or_insert_with(|| first_word(rest));
        } else if let Some(rest) = line.strip_prefix("peak memory ") {
            parse_peak_memory(rest, &mut log);
        } else if log.nvidia_smi_time.is_none() && is_smi_timestamp(line) {
            log.nvidia_smi_time = Some(line.trim().to_string());
        }
    }
    if gpu_rows > 0 {
        log.gpu_count = Some(gpu_rows);
        log.gpu_name = gpus
            .into_iter()
            .max_by_key(|(_, count)| *count)
            .map(|(name, _)| name);
    }
    if let Some(line) = last_train_line {
        log.last_train_loss = step_fields(line).train_loss;
    }
    log.last_val_defect = last_val_defect(&log, val_shapes, line_count, body.ends_with('\n'));
    finish(&mut log);
    log
}

/// Parses a log that may hold several trials: track 3 scripts that loop over seeds
/// print `trial:K/N seed:S` at column 0 before each run (20260508_muown,
/// 20260519_dynmuon), and each trial is a run of its own, not a restart to drop.
/// Returns one log per trial, each parsed with the shared header (script, versions,
/// config) before the first trial line; a log with fewer than two trial lines is
/// one run, as [`parse_log`] reads it.
pub fn parse_trials(text: &str) -> Vec<RunLog> {
    let starts = trial_starts(text);
    if starts.len() < 2 {
        return vec![parse_log(text)];
    }
    let head = &text[..starts[0]];
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            let mut one = String::with_capacity(head.len() + end - start);
            one.push_str(head);
            one.push_str(&text[start..end]);
            parse_log(&one)
        })
        .collect()
}

/// Byte offsets of the column-0 `trial:K/N` lines (the script prints them from
/// indented code, so the printed script never matches).
fn trial_starts(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("trial:") {
            let head = rest.split_whitespace().next().unwrap_or("");
            if let Some((k, n)) = head.split_once('/')
                && k.parse::<u32>().is_ok()
                && n.parse::<u32>().is_ok()
            {
                out.push(at);
            }
        }
        at += line.len();
    }
    out
}

/// Whether the last validation line is a whole, finite result. It is cut off when
/// it has fewer loss decimals, or lacks the train time or step average, that the
/// validation line before it has; or, with no line before it, when the file ends
/// inside it without a train time.
fn last_val_defect(
    log: &RunLog,
    [prev, last]: [Option<ValShape>; 2],
    line_count: usize,
    ends_with_newline: bool,
) -> Option<LineDefect> {
    let last = last?;
    let point = log.val_points.last()?;
    let unterminated = !ends_with_newline && last.index + 1 == line_count;
    let shorter = match prev {
        // "nan" has no decimals and is not a cut number.
        Some(p) => {
            (point.val_loss.is_finite() && last.decimals < p.decimals)
                || (p.has_time && !last.has_time)
                || (p.has_avg && !last.has_avg)
        }
        None => unterminated && !last.has_time,
    };
    if shorter {
        Some(LineDefect::CutOff)
    } else if !point.val_loss.is_finite() {
        Some(LineDefect::NonFinite)
    } else {
        None
    }
}

/// The shape of a validation line, to tell a cut-off copy of it.
#[derive(Clone, Copy)]
struct ValShape {
    index: usize,
    decimals: usize,
    has_time: bool,
    has_avg: bool,
}

/// Finds the printed script at the top, records its size and fingerprint, and
/// returns the rest. Two layouts exist: older logs open with a separator line and
/// close the script with another; newer ones start with the script and close it
/// with the first separator. A log that starts with neither has no header.
fn skip_code_header<'a>(text: &'a str, log: &mut RunLog) -> &'a str {
    let first_end = text.find('\n').map_or(text.len(), |i| i + 1);
    let first = &text[..first_end];
    let code_start = if is_separator(first) {
        first_end
    } else if looks_like_python(first) {
        0
    } else {
        return text;
    };
    // The closing separator: a line of 50 or more '=' (searched as a substring, the
    // script is most of the file's bytes).
    let mut from = code_start.saturating_sub(1);
    while let Some(at) = text[from..].find(SEPARATOR_START) {
        let line_start = from + at + 1;
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i + 1);
        if is_separator(&text[line_start..line_end]) {
            let code = &text[code_start..line_start];
            log.code_lines = memchr_count(code.as_bytes(), b'\n');
            log.code_fingerprint = Some(format!("{:016x}", fingerprint(&training_code(code))));
            return &text[line_end..];
        }
        from = line_start;
    }
    // No closing separator: the file is all script (or not a log at all); scan it
    // anyway, the column-0 rules keep code from matching.
    text
}

/// The script without what does not change training: comment lines and trailing
/// comments, triple-quoted docstrings, blank lines, indentation-only changes, and
/// bookkeeping lines (see [`is_bookkeeping`]). A `#` inside a string may cut a line
/// short; both scripts are cut the same way.
fn training_code(code: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(code.len());
    let mut in_doc: Option<&str> = None;
    for line in code.lines() {
        let t = line.trim();
        if let Some(q) = in_doc {
            if t.contains(q) {
                in_doc = None;
            }
            continue;
        }
        if let Some(q) = ["\"\"\"", "'''"].into_iter().find(|q| t.starts_with(q)) {
            // A docstring: one line if it closes on it, else until it closes.
            if !t[3..].contains(q) {
                in_doc = Some(q);
            }
            continue;
        }
        let code_part = t.split_once(" #").map_or(t, |(c, _)| c).trim_end();
        if code_part.is_empty() || code_part.starts_with('#') || is_bookkeeping(code_part) {
            continue;
        }
        out.extend_from_slice(code_part.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Lines that name or print the run but do not train it: `run_id = ...`
/// (ShortWindow's runs differ only in it), where the log is written
/// (`os.makedirs("logs_v18")`, `logfile = ...`), `print`/`print0` calls (track
/// 3's contra_muon_mlp_soapish runs differ only in those), and a literal seed
/// (`SEED = 2`: track 3's contranormuown runs differ only in it; seeds are what
/// a sample is meant to vary).
fn is_bookkeeping(line: &str) -> bool {
    ["run_id", "logfile", "os.makedirs(", "print(", "print0("]
        .iter()
        .any(|p| line.starts_with(p))
        || is_seed_literal(line)
}

/// `SEED = 8`, `seed: int = 8`, `TRACK3_SEED = 8`: a seed variable set to an
/// integer literal (a seed computed from other settings is code, and kept).
fn is_seed_literal(line: &str) -> bool {
    let Some((target, value)) = line.split_once('=') else {
        return false;
    };
    let name = target.split_once(':').map_or(target, |(n, _)| n).trim();
    let name = name.to_ascii_lowercase();
    let value = value.trim();
    (name == "seed" || name.ends_with("_seed"))
        && !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
}

/// A newline followed by 50 '=': the start of a separator line.
const SEPARATOR_START: &str = "\n==================================================";

fn is_separator(line: &str) -> bool {
    let t = line.trim_end();
    t.len() >= 50 && t.bytes().all(|b| b == b'=')
}

fn looks_like_python(line: &str) -> bool {
    let t = line.trim_start();
    ["import ", "from ", "#", "\"\"\"", "'''"]
        .iter()
        .any(|p| t.starts_with(p))
}

fn memchr_count(bytes: &[u8], needle: u8) -> usize {
    bytes.iter().filter(|&&b| b == needle).count()
}

/// FNV-1a with 64-bit words as its unit (8 bytes per multiply, the tail byte by
/// byte): a small, stable, dependency-free hash for telling printed scripts apart.
/// Not a security digest, and not the byte-wise FNV-1a value.
pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("chunks of 8"));
        h = (h ^ w).wrapping_mul(PRIME);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h
}

/// `step:N/M key:value ...` after the `step:` prefix. Validation lines
/// (`step:N/M val_loss:X ...`, val_loss always first) are parsed in full; training
/// lines only for their step numbers, the rest of the last one later.
/// Returns, for a validation line, its shape (to tell a cut-off last line).
fn parse_step_line<'a>(
    rest: &'a str,
    log: &mut RunLog,
    last_train: &mut Option<&'a str>,
) -> Option<ValShape> {
    let (head, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let (n, m) = head.split_once('/')?;
    let (Ok(step), Ok(total)) = (n.parse::<u32>(), m.parse::<u32>()) else {
        return None;
    };
    log.format = Some(LogFormat::TrainGpt);
    if step == 0 && log.last_step.is_some_and(|s| s > 0) {
        // A second run appended to the same file: keep the last one.
        log.restarts += 1;
        log.val_points.clear();
        *last_train = None;
        log.train_lines = 0;
        log.sequence_defect = None;
    }
    let is_val = tail.trim_start().starts_with("val_loss:");
    if log.sequence_defect.is_none() {
        log.sequence_defect = sequence_defect(log, *last_train, step, total, is_val, tail);
    }
    log.total_steps = Some(total);
    log.last_step = Some(step);
    if !is_val {
        log.train_lines += 1;
        *last_train = Some(tail);
        return None;
    }
    let f = step_fields(tail);
    let val_loss = f.val_loss?;
    log.val_points.push(ValPoint {
        step,
        val_loss,
        train_time_ms: f.train_time_ms,
        step_avg_ms: f.step_avg_ms,
    });
    Some(ValShape {
        index: 0,
        decimals: f.val_decimals,
        has_time: f.train_time_ms.is_some() || f.time_written,
        has_avg: f.step_avg_written,
    })
}

/// Why `step:{step}/{total}` cannot follow the lines before it in train_gpt.py's order
/// ([`RunLog::sequence_defect`]), if it cannot. Reads the state before this line.
fn sequence_defect(
    log: &RunLog,
    last_train: Option<&str>,
    step: u32,
    total: u32,
    is_val: bool,
    tail: &str,
) -> Option<String> {
    let line = || {
        format!(
            "`step:{step}/{total}{}`",
            if is_val { " val_loss:..." } else { "" }
        )
    };
    if log.total_steps.is_some_and(|t| t != total) {
        return Some(format!(
            "{} changes the step count from {}",
            line(),
            log.total_steps.unwrap_or_default()
        ));
    }
    // Training lines count 1, 2, ... one each; a validation is at the step last trained.
    let trained = log.train_lines;
    let expected = if is_val { trained } else { trained + 1 };
    if step != expected {
        return Some(if step > expected {
            format!(
                "{} follows step {trained}: the lines of steps {} to {} are missing",
                line(),
                trained + 1,
                if is_val { step } else { step - 1 }
            )
        } else {
            format!("{} follows step {trained}: steps go backwards", line())
        });
    }
    if step > total {
        return Some(format!("{} is past the last step", line()));
    }
    // train_time never goes back (validation lines repeat the time of the step before).
    let prev = last_train
        .and_then(|t| step_fields(t).train_time_ms)
        .into_iter()
        .chain(log.val_points.last().and_then(|v| v.train_time_ms))
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    match (step_fields(tail).train_time_ms, prev) {
        (Some(t), Some(prev)) if t < prev => Some(format!(
            "{}: train_time {t} ms is less than the {prev} ms before it",
            line()
        )),
        _ => None,
    }
}

/// The `key:value` fields after `step:N/M`.
#[derive(Default)]
struct StepFields {
    val_loss: Option<f64>,
    /// Digits after the point of the loss as written.
    val_decimals: usize,
    /// Whether the line has `train_time:` / `step_avg:` fields at all (NaN or not).
    time_written: bool,
    step_avg_written: bool,
    train_loss: Option<f64>,
    train_time_ms: Option<f64>,
    step_avg_ms: Option<f64>,
}

fn step_fields(tail: &str) -> StepFields {
    let mut f = StepFields::default();
    for token in tail.split_ascii_whitespace() {
        let Some((key, value)) = token.split_once(':') else {
            continue;
        };
        match key {
            "val_loss" => {
                f.val_loss = value.parse::<f64>().ok();
                f.val_decimals = value.split_once('.').map_or(0, |(_, d)| d.len());
            }
            "train_loss" => f.train_loss = value.parse::<f64>().ok(),
            "train_time" => {
                f.train_time_ms = parse_time_ms(value);
                f.time_written = !value.is_empty();
            }
            "step_avg" => {
                f.step_avg_ms = parse_ms(value);
                // `step_avg:98.` or `step_avg:98.35m` is a cut copy.
                f.step_avg_written = value.ends_with("ms");
            }
            _ => {}
        }
    }
    f
}

/// llm.c's `s:N tel:X` (validation) and `s:N trl:X` (training) lines.
fn parse_llmc_line(rest: &str, log: &mut RunLog) {
    let mut tokens = rest.split_ascii_whitespace();
    let Some(Ok(step)) = tokens.next().map(str::parse::<u32>) else {
        return;
    };
    let Some((key, value)) = tokens.next().and_then(|t| t.split_once(':')) else {
        return;
    };
    let Ok(value) = value.parse::<f64>() else {
        return;
    };
    log.format = Some(LogFormat::LlmC);
    log.last_step = Some(log.last_step.map_or(step, |s| s.max(step)));
    match key {
        "tel" => log.val_points.push(ValPoint {
            step,
            val_loss: value,
            train_time_ms: None,
            step_avg_ms: None,
        }),
        "trl" => log.last_train_loss = Some(value),
        _ => {}
    }
}

/// A train time in ms (`79532ms`) or, as track 3 writes it, in seconds
/// (`611.138s`) → ms.
fn parse_time_ms(value: &str) -> Option<f64> {
    parse_ms(value).or_else(|| {
        value
            .strip_suffix('s')
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .map(|s| s * 1000.0)
    })
}

/// `1234ms`, `161.84ms`, `nanms` (the first steps' average) → ms; NaN is `None`.
fn parse_ms(value: &str) -> Option<f64> {
    value
        .strip_suffix("ms")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// Rows of the nvidia-smi table: the header with driver and CUDA versions, and one
/// row per GPU (`|   0  NVIDIA H100 80GB HBM3   On  | ...`).
fn parse_smi_row(line: &str, log: &mut RunLog, gpus: &mut BTreeMap<String, u32>, rows: &mut u32) {
    if let Some((_, v)) = line.split_once("Driver Version:") {
        log.driver_version.get_or_insert_with(|| first_word(v));
        if let Some((_, c)) = line.split_once("CUDA Version:") {
            log.driver_cuda_version.get_or_insert_with(|| first_word(c));
        }
        return;
    }
    let cell = line[1..].split('|').next().unwrap_or("").trim();
    let Some((index, rest)) = cell.split_once(char::is_whitespace) else {
        return;
    };
    if !index.bytes().all(|b| b.is_ascii_digit()) {
        return;
    }
    let rest = rest.trim();
    if !rest.starts_with("NVIDIA") && !rest.starts_with("Tesla") {
        return;
    }
    // The name runs up to the Persistence-M column ("On"/"Off") after 2+ spaces.
    let name = rest.rsplit_once("  ").map_or(rest, |(name, _)| name).trim();
    *gpus.entry(name.to_string()).or_default() += 1;
    *rows += 1;
}

/// `allocated: 30220 MiB reserved: 38672 MiB` or `consumption: 34239 MiB`.
fn parse_peak_memory(rest: &str, log: &mut RunLog) {
    let mut words = rest.split_ascii_whitespace();
    while let Some(w) = words.next() {
        let value = words.clone().next().and_then(|v| v.parse::<u64>().ok());
        match w {
            "allocated:" | "consumption:" => log.peak_memory_allocated_mib = value,
            "reserved:" => log.peak_memory_reserved_mib = value,
            _ => {}
        }
    }
}

fn is_smi_timestamp(line: &str) -> bool {
    // "Fri Jul 17 13:28:52 2026": weekday, month, day, time, year.
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    words.len() == 5
        && ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&words[0])
        && words[1].len() == 3
        && words[3].len() == 8
        && words[3].matches(':').count() == 2
        && words[4].len() == 4
        && words[4].bytes().all(|b| b.is_ascii_digit())
}

fn finish(log: &mut RunLog) {
    let Some(last) = log.val_points.last().copied() else {
        return;
    };
    let finished = match log.format {
        Some(LogFormat::TrainGpt) => log.total_steps == Some(last.step),
        // llm.c logs do not print the schedule; the run is finished when its last
        // line is the final evaluation.
        Some(LogFormat::LlmC) => {
            log.total_steps = log.last_step;
            log.last_step == Some(last.step)
        }
        None => false,
    };
    if finished && log.last_val_defect.is_none() {
        log.final_val_loss = Some(last.val_loss);
        log.train_time_ms = last.train_time_ms;
        log.step_avg_ms = last.step_avg_ms;
    }
}

impl RunLog {
    /// For tracks whose objective is the step count (track 3 ends runs early, at
    /// step K of N): the run is finished when its log ends with a whole, finite
    /// validation line, with no training step after it. Returns whether it is.
    pub fn finish_at_last_validation(&mut self) -> bool {
        if self.final_val_loss.is_some() {
            return true;
        }
        let Some(last) = self.val_points.last().copied() else {
            return false;
        };
        if self.format != Some(LogFormat::TrainGpt)
            || self.last_val_defect.is_some()
            || self.last_step != Some(last.step)
        {
            return false;
        }
        self.final_val_loss = Some(last.val_loss);
        self.train_time_ms = last.train_time_ms;
        self.step_avg_ms = last.step_avg_ms;
        true
    }

    /// The step of the final validation: the run's length.
    pub fn final_step(&self) -> Option<u32> {
        self.final_val_loss
            .and(self.val_points.last())
            .map(|v| v.step)
    }
}

fn strip_prefix_ci<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &line[prefix.len()..])
}

fn first_word(s: &str) -> String {
    s.split_ascii_whitespace().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "import os\nprint0(f\"step:{step}/{n} val_loss:{v}\")\n\
        ====================================================================================================\n\
        Running Python 3.12.3 (main, Jan 22 2026, 20:57:42) [GCC 13.3.0]\n\
        Running PyTorch 2.10.0+cu128 compiled for CUDA 12.8\n\
        Running Triton version 3.6.0\n\
        Fri Jul 17 13:28:52 2026       \n\
        | NVIDIA-SMI 580.159.04             Driver Version: 580.159.04     CUDA Version: 13.0     |\n\
        |   0  NVIDIA H100 80GB HBM3          On  |   00000000:8D:00.0 Off |                    0 |\n\
        |   1  NVIDIA H100 80GB HBM3          On  |   00000000:91:00.0 Off |                    0 |\n\
        |    0   N/A  N/A         1039695      C   ...python       1512MiB |\n\
        ====================================================================================================\n\
        step:0/3 val_loss:10.8311 train_time:0ms step_avg:0.03ms\n\
        step:1/3 train_time:94ms step_avg:94.04ms\n\
        step:3/3 val_loss:3.2775 train_time:79532ms step_avg:57.22ms\n\
        peak memory allocated: 30220 MiB reserved: 38672 MiB\n";

    #[test]
    fn reads_current_format() {
        let log = parse_log(NEW);
        assert_eq!(log.format, Some(LogFormat::TrainGpt));
        assert_eq!(log.code_lines, 2);
        assert!(log.code_fingerprint.is_some());
        assert_eq!(log.python_version.as_deref(), Some("3.12.3"));
        assert_eq!(log.torch_version.as_deref(), Some("2.10.0+cu128"));
        assert_eq!(log.cuda_version.as_deref(), Some("12.8"));
        assert_eq!(log.triton_version.as_deref(), Some("3.6.0"));
        assert_eq!(log.driver_version.as_deref(), Some("580.159.04"));
        assert_eq!(log.driver_cuda_version.as_deref(), Some("13.0"));
        assert_eq!(log.gpu_name.as_deref(), Some("NVIDIA H100 80GB HBM3"));
        assert_eq!(log.gpu_count, Some(2));
        assert_eq!(
            log.nvidia_smi_time.as_deref(),
            Some("Fri Jul 17 13:28:52 2026")
        );
        assert_eq!(log.total_steps, Some(3));
        assert_eq!(log.final_val_loss, Some(3.2775));
        assert_eq!(log.train_time_ms, Some(79532.0));
        assert_eq!(log.step_avg_ms, Some(57.22));
        assert_eq!(log.peak_memory_allocated_mib, Some(30220));
        assert_eq!(log.peak_memory_reserved_mib, Some(38672));
        assert_eq!(log.val_points.len(), 2);
    }

    #[test]
    fn a_log_with_every_step_in_order_has_no_sequence_defect() {
        let whole = "step:0/3 val_loss:10.8 train_time:0ms step_avg:0.03ms\n\
            step:1/3 train_time:90ms step_avg:90.00ms\n\
            step:2/3 train_time:150ms step_avg:75.00ms\n\
            step:2/3 val_loss:5.1 train_time:150ms step_avg:75.00ms\n\
            step:3/3 train_time:200ms step_avg:66.67ms\n\
            step:3/3 val_loss:3.3 train_time:200ms step_avg:66.67ms\n";
        let log = parse_log(whole);
        assert_eq!((log.sequence_defect.as_deref(), log.train_lines), (None, 3));
        // NEW skips step 2: its lines are missing.
        let e = parse_log(NEW).sequence_defect.unwrap();
        assert!(e.contains("steps 2 to 3 are missing"), "{e}");
        for (text, says) in [
            (whole.replace("step:2/3 train_time:150ms step_avg:75.00ms\n", ""), "missing"),
            (whole.replace("step:3/3 train_time:200ms", "step:3/3 train_time:100ms"), "less than"),
            (whole.replace("step:1/3 train", "step:1/4 train"), "changes the step count"),
            (
                "step:0/3 val_loss:10.8 train_time:0ms step_avg:0.03ms\nstep:3/3 val_loss:2.0 train_time:1ms step_avg:0.3ms\n".to_owned(),
                "steps 1 to 3 are missing",
            ),
        ] {
            let e = parse_log(&text).sequence_defect.unwrap_or_default();
            assert!(e.contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn truncated_run_has_no_final_loss() {
        let cut = NEW.split("step:3/3").next().unwrap();
        let log = parse_log(cut);
        assert_eq!(log.final_val_loss, None);
        assert_eq!(log.last_step, Some(1));
        assert!(!log.is_complete());
    }

    #[test]
    fn reads_llmc() {
        let log = parse_log("s:0 tel:10.9\ns:0 trl:10.9\ns:1 trl:9.0\ns:2 tel:3.27\n");
        assert_eq!(log.format, Some(LogFormat::LlmC));
        assert_eq!(log.final_val_loss, Some(3.27));
        assert_eq!(log.train_time_ms, None);
    }

    #[test]
    fn garbage_is_not_a_log() {
        let log = parse_log("hello\nworld\nstep:x/y\n");
        assert_eq!(log.format, None);
        assert!(!log.is_complete());
    }

    #[test]
    fn seconds_train_time_is_ms() {
        assert_eq!(parse_time_ms("611.138s"), Some(611_138.0));
        assert_eq!(parse_time_ms("79532ms"), Some(79_532.0));
        assert_eq!(parse_time_ms("nans"), None);
    }

    #[test]
    fn cut_final_line_is_not_a_result() {
        let cut = &NEW[..NEW.find("step:3/3 val_loss:3").unwrap() + "step:3/3 val_loss:3".len()];
        let log = parse_log(cut);
        assert_eq!(log.final_val_loss, None);
        assert_eq!(log.last_val_defect, Some(LineDefect::CutOff));
        // A whole last line without a trailing newline is fine.
        let whole = NEW.split("\npeak memory").next().unwrap();
        assert_eq!(parse_log(whole).final_val_loss, Some(3.2775));
    }

    #[test]
    fn nan_final_loss_is_not_a_result() {
        let log = parse_log(&NEW.replace("val_loss:3.2775", "val_loss:nan"));
        assert_eq!(log.final_val_loss, None);
        assert_eq!(log.last_val_defect, Some(LineDefect::NonFinite));
    }

    #[test]
    fn script_fingerprint_ignores_comments_and_run_id() {
        let a = training_code(
            "x = 1  # one\n\n# note\nrun_id: str = \"a_1\"\n\"\"\"doc\nmore\"\"\"\ny = 2\n",
        );
        let b = training_code("x = 1\nrun_id: str = \"a_2\"\ny = 2\n");
        assert_eq!(a, b);
        assert_ne!(training_code("x = 1\n"), training_code("x = 2\n"));
    }

    /// Track 3's 20260515_contranormuown: its 20 logs print the same script but
    /// for line 485, `SEED = 2` in one, `SEED = 8` in another.
    #[test]
    fn script_fingerprint_ignores_a_literal_seed() {
        let script = |seed: &str| format!("import os\n{seed}\nlr = 0.0045\n");
        assert_eq!(
            training_code(&script("SEED = 2")),
            training_code(&script("SEED = 8"))
        );
        assert_eq!(
            training_code(&script("seed: int = 1")),
            training_code(&script("seed: int = 7"))
        );
        // A seed derived from other settings, and other settings, still count.
        assert_ne!(
            training_code(&script("SEED = base + rank")),
            training_code(&script("SEED = base"))
        );
        assert_ne!(
            training_code(&script("lr_seed_scale = 2")),
            training_code(&script("lr_seed_scale = 3"))
        );
    }

    #[test]
    fn nan_step_avg_is_none() {
        assert_eq!(parse_ms("nanms"), None);
        assert_eq!(parse_ms("12.5ms"), Some(12.5));
    }
}
