//! The two published tables, records/runs.csv and records/records.csv: their row types
//! and their byte-stable CSV form.
//!
//! We write CSV ourselves (the csv crate, fixed column order, Rust's shortest
//! round-trip float formatting) instead of through polars' writer, because rerunning
//! `rebuild` must give byte-identical files and a reviewer diffs them in git.
//!
//! runs.csv is read into columns ([`RunTable`]) rather than through serde into one
//! struct per row: at 100,000 runs, one `String` per text cell made parsing slower than
//! pandas (bench/results/records-2026-11-23.md).

use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{AnalysisError, Result};
use speedcert_fsio::{Mode, write_atomic};

/// File name of the run table inside the records folder.
pub const RUNS_CSV: &str = "runs.csv";
/// File name of the record-chain table inside the records folder.
pub const RECORDS_CSV: &str = "records.csv";

/// One certified run: a row of runs.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub track: String,
    pub submission: String,
    /// "candidate" or "baseline".
    pub role: String,
    /// Bundle folder relative to the records folder, `/`-separated.
    pub bundle: String,
    /// sha256 of the bundle's attestation.dsse.json.
    pub bundle_digest: String,
    pub run_index: u32,
    pub seed: Option<u64>,
    /// "ok" or "failed".
    pub status: String,
    pub train_time_ms: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub heldout_val_loss: Option<f64>,
    pub train_tokens: Option<u64>,
    /// Day the run started (UTC, YYYY-MM-DD).
    pub date: String,
    pub device: String,
    pub official: bool,
    /// Verdict of the bundle the run belongs to.
    pub verdict: String,
}

impl RunRow {
    /// True for a run that finished with a time and a loss.
    pub fn is_measured(&self) -> bool {
        is_measured(&self.status, self.train_time_ms, self.final_val_loss)
    }

    /// True for a run that belongs on the efficiency frontier: see [`is_frontier_run`].
    pub fn is_frontier_run(&self) -> bool {
        is_frontier_run(
            &self.role,
            &self.status,
            self.official,
            self.train_time_ms,
            self.final_val_loss,
        )
    }
}

fn is_measured(status: &str, train_time_ms: Option<f64>, final_val_loss: Option<f64>) -> bool {
    status == "ok"
        && train_time_ms.is_some_and(f64::is_finite)
        && final_val_loss.is_some_and(f64::is_finite)
}

/// The frontier's rule, in one place for rows and columns: an official candidate run
/// that finished with a time and a final validation loss. Baseline runs time an earlier
/// record, not the submission; failed and unofficial runs are not results anyone may
/// quote. None of them may shift the frontier, however good their numbers look.
pub fn is_frontier_run(
    role: &str,
    status: &str,
    official: bool,
    train_time_ms: Option<f64>,
    final_val_loss: Option<f64>,
) -> bool {
    role == "candidate" && official && is_measured(status, train_time_ms, final_val_loss)
}

/// One record of a track's chain: a row of records.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordRow {
    pub track: String,
    /// 1-based position in the track's chain.
    pub number: u32,
    /// Day the bundle was certified (YYYY-MM-DD).
    pub date: String,
    pub submission: String,
    pub baseline_submission: Option<String>,
    pub bundle: String,
    pub bundle_digest: String,
    /// Candidate runs behind the mean.
    pub n: u32,
    pub time_mean_ms: Option<f64>,
    pub time_sd_ms: Option<f64>,
    /// Previous record's mean minus this mean; empty for a track's first record.
    pub improvement_ms: Option<f64>,
    /// `improvement_ms` as a percentage of the previous record's mean.
    pub improvement_pct: Option<f64>,
    /// The deciding one-sided p of the time comparison, as certified (Welch up to summary
    /// v2, the paired t from v3 on).
    pub p_value: Option<f64>,
    /// The significance threshold the certification used.
    pub threshold: Option<f64>,
    /// Time change against the baseline measured on the same machine (%), as certified.
    pub change_pct: Option<f64>,
    pub loss_mean: Option<f64>,
    /// How the baseline was timed: "same-machine", "stored-record" or "none".
    pub comparison: String,
    pub official: bool,
    /// Full certification timestamp; orders records certified on the same day.
    pub created_at: String,
    /// Certifications of this submission on this track up to and including this one, by
    /// the certifier's attempt ledger (records/ledger.jsonl): a p-value means less after
    /// many tries. Empty when unknown (records certified before the ledger); absent from
    /// records.csv files written before this column, hence the default.
    #[serde(default)]
    pub attempts: Option<u32>,
    /// Why `attempts` cannot be trusted (the ledger lacks this record or earlier
    /// attempts, or is damaged); empty when it can.
    #[serde(default)]
    pub attempts_flag: Option<String>,
    /// Whose clock and loss the record's figures are: `harness`, or `self-reported` for a
    /// command submission's log. Each clock has its own record chain; absent from
    /// records.csv files written before this column (all harness).
    #[serde(default = "harness_clock")]
    pub clock: String,
}

/// Serialises rows to CSV bytes (header first, even with no rows).
pub fn to_csv_bytes<T: Serialize>(rows: &[T], header: &[&str]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // The header is written explicitly so that an empty table still has its columns.
    w.write_record(header)
        .map_err(|e| AnalysisError::csv("<memory>", e))?;
    for row in rows {
        w.serialize(row)
            .map_err(|e| AnalysisError::csv("<memory>", e))?;
    }
    w.into_inner()
        .map_err(|e| AnalysisError::csv("<memory>", e.error()))
}

/// Column names of runs.csv, in file order.
pub const RUN_COLUMNS: &[&str] = &[
    "track",
    "submission",
    "role",
    "bundle",
    "bundle_digest",
    "run_index",
    "seed",
    "status",
    "train_time_ms",
    "final_val_loss",
    "heldout_val_loss",
    "train_tokens",
    "date",
    "device",
    "official",
    "verdict",
];

fn harness_clock() -> String {
    speedcert_bundle::command::Clock::Harness
        .as_str()
        .to_owned()
}

impl RecordRow {
    /// The submission as tables show it: labelled when its clock was self-reported.
    pub fn labelled_submission(&self) -> String {
        if self.clock == speedcert_bundle::command::Clock::SelfReported.as_str() {
            format!("{} [self-reported]", self.submission)
        } else {
            self.submission.clone()
        }
    }
}

/// Column names of records.csv, in file order.
pub const RECORD_COLUMNS: &[&str] = &[
    "track",
    "number",
    "date",
    "submission",
    "baseline_submission",
    "bundle",
    "bundle_digest",
    "n",
    "time_mean_ms",
    "time_sd_ms",
    "improvement_ms",
    "improvement_pct",
    "p_value",
    "threshold",
    "change_pct",
    "loss_mean",
    "comparison",
    "official",
    "created_at",
    "attempts",
    "attempts_flag",
    "clock",
];

/// Writes runs.csv atomically.
pub fn write_runs(path: &Path, rows: &[RunRow]) -> Result<()> {
    let bytes = to_csv_bytes(rows, RUN_COLUMNS).map_err(|e| relabel(e, path))?;
    Ok(write_atomic(path, &bytes, Mode::Public)?)
}

/// Writes records.csv atomically.
pub fn write_records(path: &Path, rows: &[RecordRow]) -> Result<()> {
    let bytes = to_csv_bytes(rows, RECORD_COLUMNS).map_err(|e| relabel(e, path))?;
    Ok(write_atomic(path, &bytes, Mode::Public)?)
}

fn relabel(e: AnalysisError, path: &Path) -> AnalysisError {
    match e {
        AnalysisError::Csv { problem, .. } => AnalysisError::csv(path, problem),
        other => other,
    }
}

/// Reads a CSV file of `T` rows by header name (extra columns are ignored).
pub fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| match e.kind() {
            csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                AnalysisError::csv(
                    path,
                    "does not exist; run `speedcert records rebuild` to create it",
                )
            }
            _ => AnalysisError::csv(path, e),
        })?;
    let mut out = Vec::new();
    for row in rdr.deserialize() {
        out.push(row.map_err(|e| AnalysisError::csv(path, e))?);
    }
    Ok(out)
}

/// Reads runs.csv as rows.
pub fn read_runs(path: &Path) -> Result<Vec<RunRow>> {
    Ok(read_run_table(path)?.to_rows())
}

/// Reads records.csv.
pub fn read_records(path: &Path) -> Result<Vec<RecordRow>> {
    read_csv(path)
}

/// A text column: every cell in one buffer, plus where each cell ends. One allocation
/// per column instead of one per cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextColumn {
    text: String,
    ends: Vec<usize>,
}

impl TextColumn {
    /// Number of cells.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Cell `i`; panics past the end, like slice indexing.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    pub fn push(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.ends.push(self.text.len());
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Room for `cells` more cells as long as cell `like`, plus an eighth.
    fn reserve_like(&mut self, cells: usize, like: usize) {
        let len = self.get(like).len();
        self.text.reserve(cells * (len + len / 8 + 1));
        self.ends.reserve(cells);
    }

    /// Moves the cells of `other` to the end of this column.
    fn append(&mut self, other: TextColumn) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.ends.extend(other.ends.into_iter().map(|e| e + base));
    }
}

impl<'a> FromIterator<&'a str> for TextColumn {
    fn from_iter<I: IntoIterator<Item = &'a str>>(cells: I) -> Self {
        let mut c = TextColumn::default();
        for cell in cells {
            c.push(cell);
        }
        c
    }
}

/// runs.csv as columns, one per [`RunRow`] field and with the same names: what the table
/// work and the frontier read. Every column holds [`len`](Self::len) cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunTable {
    pub track: TextColumn,
    pub submission: TextColumn,
    pub role: TextColumn,
    pub bundle: TextColumn,
    pub bundle_digest: TextColumn,
    pub run_index: Vec<u32>,
    pub seed: Vec<Option<u64>>,
    pub status: TextColumn,
    pub train_time_ms: Vec<Option<f64>>,
    pub final_val_loss: Vec<Option<f64>>,
    pub heldout_val_loss: Vec<Option<f64>>,
    pub train_tokens: Vec<Option<u64>>,
    pub date: TextColumn,
    pub device: TextColumn,
    pub official: Vec<bool>,
    pub verdict: TextColumn,
}

impl RunTable {
    /// Number of runs.
    pub fn len(&self) -> usize {
        self.run_index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.run_index.is_empty()
    }

    /// Run `i` is on the frontier's side of [`is_frontier_run`].
    pub fn is_frontier_run(&self, i: usize) -> bool {
        is_frontier_run(
            self.role.get(i),
            self.status.get(i),
            self.official[i],
            self.train_time_ms[i],
            self.final_val_loss[i],
        )
    }

    /// Run `i` as an owned row.
    pub fn row(&self, i: usize) -> RunRow {
        RunRow {
            track: self.track.get(i).to_string(),
            submission: self.submission.get(i).to_string(),
            role: self.role.get(i).to_string(),
            bundle: self.bundle.get(i).to_string(),
            bundle_digest: self.bundle_digest.get(i).to_string(),
            run_index: self.run_index[i],
            seed: self.seed[i],
            status: self.status.get(i).to_string(),
            train_time_ms: self.train_time_ms[i],
            final_val_loss: self.final_val_loss[i],
            heldout_val_loss: self.heldout_val_loss[i],
            train_tokens: self.train_tokens[i],
            date: self.date.get(i).to_string(),
            device: self.device.get(i).to_string(),
            official: self.official[i],
            verdict: self.verdict.get(i).to_string(),
        }
    }

    pub fn to_rows(&self) -> Vec<RunRow> {
        (0..self.len()).map(|i| self.row(i)).collect()
    }

    pub fn from_rows(rows: &[RunRow]) -> Self {
        let text = |f: fn(&RunRow) -> &str| rows.iter().map(f).collect::<TextColumn>();
        RunTable {
            track: text(|r| &r.track),
            submission: text(|r| &r.submission),
            role: text(|r| &r.role),
            bundle: text(|r| &r.bundle),
            bundle_digest: text(|r| &r.bundle_digest),
            run_index: rows.iter().map(|r| r.run_index).collect(),
            seed: rows.iter().map(|r| r.seed).collect(),
            status: text(|r| &r.status),
            train_time_ms: rows.iter().map(|r| r.train_time_ms).collect(),
            final_val_loss: rows.iter().map(|r| r.final_val_loss).collect(),
            heldout_val_loss: rows.iter().map(|r| r.heldout_val_loss).collect(),
            train_tokens: rows.iter().map(|r| r.train_tokens).collect(),
            date: text(|r| &r.date),
            device: text(|r| &r.device),
            official: rows.iter().map(|r| r.official).collect(),
            verdict: text(|r| &r.verdict),
        }
    }

    /// Room for `rows` more runs, text cells sized like those of run `like`: a column
    /// grown cell by cell is copied a dozen times on its way to 100,000 runs.
    fn reserve_like(&mut self, rows: usize, like: usize) {
        for text in [
            &mut self.track,
            &mut self.submission,
            &mut self.role,
            &mut self.bundle,
            &mut self.bundle_digest,
            &mut self.status,
            &mut self.date,
            &mut self.device,
            &mut self.verdict,
        ] {
            text.reserve_like(rows, like);
        }
        self.run_index.reserve(rows);
        self.seed.reserve(rows);
        self.train_time_ms.reserve(rows);
        self.final_val_loss.reserve(rows);
        self.heldout_val_loss.reserve(rows);
        self.train_tokens.reserve(rows);
        self.official.reserve(rows);
    }

    /// Moves the runs of `other` to the end of this table.
    fn append(&mut self, other: RunTable) {
        self.track.append(other.track);
        self.submission.append(other.submission);
        self.role.append(other.role);
        self.bundle.append(other.bundle);
        self.bundle_digest.append(other.bundle_digest);
        self.run_index.extend(other.run_index);
        self.seed.extend(other.seed);
        self.status.append(other.status);
        self.train_time_ms.extend(other.train_time_ms);
        self.final_val_loss.extend(other.final_val_loss);
        self.heldout_val_loss.extend(other.heldout_val_loss);
        self.train_tokens.extend(other.train_tokens);
        self.date.append(other.date);
        self.device.append(other.device);
        self.official.extend(other.official);
        self.verdict.append(other.verdict);
    }

    /// Appends one record, its cells in file order, laid out as `layout` says.
    fn push_record(&mut self, rec: &[&str], layout: &Layout) -> Result<(), String> {
        if rec.len() != layout.width {
            return Err(format!(
                "{} fields where the header has {}",
                rec.len(),
                layout.width
            ));
        }
        let opt = |col: Option<usize>| col.map_or("", |c| rec[c]);
        self.track.push(rec[layout.track]);
        self.submission.push(rec[layout.submission]);
        self.role.push(rec[layout.role]);
        self.bundle.push(rec[layout.bundle]);
        self.bundle_digest.push(rec[layout.bundle_digest]);
        self.run_index
            .push(number(rec[layout.run_index], "run_index")?);
        self.seed.push(optional(opt(layout.seed), "seed")?);
        self.status.push(rec[layout.status]);
        self.train_time_ms
            .push(optional(opt(layout.train_time_ms), "train_time_ms")?);
        self.final_val_loss
            .push(optional(opt(layout.final_val_loss), "final_val_loss")?);
        self.heldout_val_loss
            .push(optional(opt(layout.heldout_val_loss), "heldout_val_loss")?);
        self.train_tokens
            .push(optional(opt(layout.train_tokens), "train_tokens")?);
        self.date.push(rec[layout.date]);
        self.device.push(rec[layout.device]);
        self.official
            .push(number(rec[layout.official], "official")?);
        self.verdict.push(rec[layout.verdict]);
        Ok(())
    }
}

/// A number or `true`/`false`, as `str::parse` reads it (and so serde through the csv
/// crate did, but for its `0x` integers, which no writer of runs.csv produces).
fn number<T: FromStr>(cell: &str, column: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    cell.parse().map_err(|e| format!("column {column}: {e}"))
}

/// Like [`number`], an empty cell being `None`.
fn optional<T: FromStr>(cell: &str, column: &str) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    if cell.is_empty() {
        Ok(None)
    } else {
        number(cell, column).map(Some)
    }
}

/// Where each runs.csv column sits in a file, found by header name as serde would: extra
/// columns are ignored, a missing optional column reads as empty.
struct Layout {
    width: usize,
    track: usize,
    submission: usize,
    role: usize,
    bundle: usize,
    bundle_digest: usize,
    run_index: usize,
    seed: Option<usize>,
    status: usize,
    train_time_ms: Option<usize>,
    final_val_loss: Option<usize>,
    heldout_val_loss: Option<usize>,
    train_tokens: Option<usize>,
    date: usize,
    device: usize,
    official: usize,
    verdict: usize,
}

impl Layout {
    fn of(header: &csv::ByteRecord) -> Result<Self, String> {
        let find = |name: &str| header.iter().position(|h| h == name.as_bytes());
        let need = |name: &str| find(name).ok_or_else(|| format!("no column `{name}`"));
        Ok(Layout {
            width: header.len(),
            track: need("track")?,
            submission: need("submission")?,
            role: need("role")?,
            bundle: need("bundle")?,
            bundle_digest: need("bundle_digest")?,
            run_index: need("run_index")?,
            seed: find("seed"),
            status: need("status")?,
            train_time_ms: find("train_time_ms"),
            final_val_loss: find("final_val_loss"),
            heldout_val_loss: find("heldout_val_loss"),
            train_tokens: find("train_tokens"),
            date: need("date")?,
            device: need("device")?,
            official: need("official")?,
            verdict: need("verdict")?,
        })
    }
}

/// Below this many bytes a file is parsed on one thread: a real records table (hundreds
/// of runs) is not worth a thread.
const MIN_CHUNK_BYTES: usize = 1 << 20;

/// Reads runs.csv into columns.
pub fn read_run_table(path: &Path) -> Result<RunTable> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            AnalysisError::csv(
                path,
                "does not exist; run `speedcert records rebuild` to create it",
            )
        } else {
            AnalysisError::io(path, e)
        }
    })?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores.min(bytes.len() / MIN_CHUNK_BYTES + 1);
    parse_run_table(&bytes, parts).map_err(|problem| AnalysisError::csv(path, problem))
}

/// Parses runs.csv bytes into columns, on up to `parts` threads.
///
/// Without quotes and carriage returns (how rebuild writes runs.csv unless a name holds
/// a comma, quote or line end), CSV is exactly lines cut at commas: the records are
/// split that way, straight from the file's bytes, in `parts` chunks cut at line ends,
/// parsed in parallel and joined in order. That is over twice as fast as the csv crate's
/// state machine, which copies every cell into a record first (bench/records). Any other
/// file is read by the csv crate on one thread, as a line end inside quotes is not a
/// record end.
fn parse_run_table(bytes: &[u8], parts: usize) -> Result<RunTable, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = rdr.byte_headers().map_err(|e| e.to_string())?.clone();
    let layout = Layout::of(&header)?;
    let body_start = usize::try_from(rdr.position().byte()).map_err(|e| e.to_string())?;
    let body = &bytes[body_start..];
    // Line numbers are counted only for an error: the header's line(s) plus the lines
    // before the chunk.
    let located = |chunk_start: usize| {
        move |(line, problem): (u64, String)| {
            let before = bytes[..body_start + chunk_start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            format!("line {}: {problem}", before + line)
        }
    };
    let chunks = line_chunks(body, parts);
    let parse = |r: &Range<usize>| {
        parse_plain(&body[r.clone()], &layout).map(|t| t.map_err(located(r.start)))
    };
    let parsed: Option<Vec<_>> = std::thread::scope(|s| {
        let rest: Vec<_> = chunks[1..]
            .iter()
            .map(|r| s.spawn(move || parse(r)))
            .collect();
        let first = parse(&chunks[0]);
        std::iter::once(first)
            .chain(rest.into_iter().map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }))
            .collect()
    });
    let Some(parsed) = parsed else {
        return parse_quoted(body, &layout).map_err(located(0));
    };
    let mut parsed = parsed.into_iter();
    let mut table = parsed.next().unwrap_or_else(|| Ok(RunTable::default()))?;
    for part in parsed {
        table.append(part?);
    }
    Ok(table)
}

/// Cuts `body` into at most `parts` ranges of about equal size, each ending just after a
/// `\n` (or at the end); always at least one range.
fn line_chunks(body: &[u8], parts: usize) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for k in 1..parts {
        let target = (body.len() * k / parts).max(start);
        let Some(nl) = body[target..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let end = target + nl + 1;
        out.push(start..end);
        start = end;
    }
    out.push(start..body.len());
    out
}

/// The number of line ends in `bytes`, or `None` if it holds a quote or a carriage
/// return. Folded as bytes over blocks of 255, which the compiler turns into vector
/// compares (folded as `bool` or `usize` it does not, and this pass cost a third of the
/// parse).
fn plain_lines(bytes: &[u8]) -> Option<usize> {
    let mut lines = 0;
    for block in bytes.chunks(255) {
        let (special, ends) = block.iter().fold((0u8, 0u8), |(special, ends), &b| {
            (
                special | u8::from(b == b'"') | u8::from(b == b'\r'),
                ends + u8::from(b == b'\n'),
            )
        });
        if special != 0 {
            return None;
        }
        lines += usize::from(ends);
    }
    Some(lines)
}

/// Bit 7 of each byte of `word` that equals `byte`, and no other bit: the SWAR byte
/// compare (Hacker's Delight, 6-1), exact because the 7-bit add never carries across
/// bytes.
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ (0x0101_0101_0101_0101 * u64::from(byte));
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Parses header-less records of a chunk that has no quote and no carriage return:
/// `None` if it has one. Empty lines are skipped, as the csv crate skips them. An error
/// carries the 1-based line within `chunk`.
fn parse_plain(chunk: &[u8], layout: &Layout) -> Option<Result<RunTable, (u64, String)>> {
    let lines = plain_lines(chunk)?;
    // A chunk ends at a line end, and a `\n` byte is never part of a multi-byte
    // character, so each chunk is valid UTF-8 on its own if the file is.
    let text = match std::str::from_utf8(chunk) {
        Ok(text) => text,
        Err(e) => {
            let line = chunk[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            return Some(Err((line + 1, format!("not UTF-8: {e}"))));
        }
    };
    let mut table = RunTable::default();
    let mut cells: Vec<&str> = Vec::with_capacity(layout.width);
    let (mut line, mut start) = (1u64, 0usize);
    // Commas and line ends are found 8 bytes at a time: cells are short, so a search
    // per cell, or a look at every byte, cost more than the rest of the parse. The last
    // block is padded with zero bytes, which match neither.
    let blocks = chunk.chunks_exact(8);
    let mut tail = [0u8; 8];
    tail[..blocks.remainder().len()].copy_from_slice(blocks.remainder());
    let words = blocks
        .map(|block| u64::from_le_bytes(block.try_into().expect("8 bytes")))
        .chain([u64::from_le_bytes(tail)]);
    for (k, word) in words.enumerate() {
        let mut hits = bytes_equal(word, b',') | bytes_equal(word, b'\n');
        while hits != 0 {
            let i = k * 8 + hits.trailing_zeros() as usize / 8;
            hits &= hits - 1;
            let empty_line = cells.is_empty() && start == i;
            cells.push(&text[start..i]);
            start = i + 1;
            if chunk[i] == b'\n' {
                if !empty_line {
                    if let Err(e) = table.push_record(&cells, layout) {
                        return Some(Err((line, e)));
                    }
                    if table.len() == 1 {
                        table.reserve_like(lines, 0);
                    }
                }
                cells.clear();
                line += 1;
            }
        }
    }
    if start < text.len() || !cells.is_empty() {
        cells.push(&text[start..]);
        if let Err(e) = table.push_record(&cells, layout) {
            return Some(Err((line, e)));
        }
    }
    Some(Ok(table))
}

/// Parses header-less records with the csv crate (quotes, any line end); an error
/// carries the 1-based line within `body`.
fn parse_quoted(body: &[u8], layout: &Layout) -> Result<RunTable, (u64, String)> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut table = RunTable::default();
    let mut rec = csv::StringRecord::new();
    let line = |p: Option<&csv::Position>| p.map_or(0, csv::Position::line);
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => return Ok(table),
            Ok(true) => {
                let cells: Vec<&str> = rec.iter().collect();
                table
                    .push_record(&cells, layout)
                    .map_err(|e| (line(rec.position()), e))?;
            }
            Err(e) => return Err((line(e.position()), e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<RunRow> {
        (0..n)
            .map(|i| RunRow {
                track: format!("track-{}", i % 3),
                submission: format!("sub-{}", i % 7),
                role: if i % 2 == 0 { "candidate" } else { "baseline" }.into(),
                bundle: format!("bundles/b{}", i / 16),
                bundle_digest: format!("{:064x}", i * 7919),
                run_index: (i % 16) as u32,
                seed: (i % 5 != 0).then_some(i as u64 * 1_000_003),
                status: if i % 50 == 0 { "failed" } else { "ok" }.into(),
                train_time_ms: (i % 50 != 0).then_some(1000.0 + i as f64 / 7.0),
                final_val_loss: (i % 50 != 0).then_some(3.0 + i as f64 / 1e6),
                heldout_val_loss: None,
                train_tokens: Some(1_638_400),
                date: format!("2026-11-{:02}", i % 28 + 1),
                device: "cuda".into(),
                official: i % 11 != 0,
                verdict: "not significant".into(),
            })
            .collect()
    }

    #[test]
    fn columns_read_back_what_was_written() {
        let mut data = rows(1000);
        data[6].device = "é".into();
        let bytes = to_csv_bytes(&data, RUN_COLUMNS).unwrap();
        for parts in [1, 2, 3, 8] {
            let table = parse_run_table(&bytes, parts).unwrap();
            assert_eq!(table.to_rows(), data);
            assert_eq!(RunTable::from_rows(&data), table);
        }
        // Quoted cells (a comma, a quote, a line end) go to the csv crate; same result.
        data[5].submission = "a, \"b\"\nc".into();
        let bytes = to_csv_bytes(&data, RUN_COLUMNS).unwrap();
        assert_eq!(parse_run_table(&bytes, 3).unwrap().to_rows(), data);
    }

    #[test]
    fn both_readers_skip_empty_lines_and_read_a_last_line_without_end() {
        let data = rows(4);
        let text = String::from_utf8(to_csv_bytes(&data, RUN_COLUMNS).unwrap()).unwrap();
        let gappy = text.replace('\n', "\n\n");
        let gappy = gappy.trim_end_matches('\n');
        for parts in [1, 2, 3] {
            assert_eq!(
                parse_run_table(gappy.as_bytes(), parts).unwrap().to_rows(),
                data
            );
        }
        let quoted = gappy.replacen("cuda", "\"cuda\"", 1);
        assert_eq!(
            parse_run_table(quoted.as_bytes(), 2).unwrap().to_rows(),
            data
        );
    }

    #[test]
    fn columns_found_by_name() {
        // Reordered, an extra column, optional columns missing: read by header name.
        let csv = "verdict,extra,official,device,date,status,run_index,bundle_digest,bundle,role,submission,track\n\
                   new record,x,false,cpu,2026-11-30,ok,3,00,b,candidate,s,t\n";
        let t = parse_run_table(csv.as_bytes(), 1).unwrap();
        let r = t.row(0);
        assert_eq!((r.track.as_str(), r.run_index, r.official), ("t", 3, false));
        assert_eq!(
            (r.seed, r.train_time_ms, r.final_val_loss),
            (None, None, None)
        );
        assert!(!t.is_frontier_run(0));

        let err = parse_run_table(b"track,role\nt,candidate\n", 1).unwrap_err();
        assert!(err.contains("no column `submission`"), "{err}");
    }

    #[test]
    fn errors_name_the_line_and_column() {
        // The line is counted across chunks: the same whatever the number of threads.
        let mut bytes = to_csv_bytes(&rows(30), RUN_COLUMNS).unwrap();
        bytes.extend_from_slice(b"t,s,candidate,b,00,x,,ok,,,,,2026-11-30,cpu,true,v\n");
        for parts in [1, 4] {
            let err = parse_run_table(&bytes, parts).unwrap_err();
            assert!(err.starts_with("line 32: column run_index:"), "{err}");
        }
        let short = to_csv_bytes(&rows(30), RUN_COLUMNS).unwrap();
        let bytes = [&short[..], b"t,s\n"].concat();
        for parts in [1, 4] {
            let err = parse_run_table(&bytes, parts).unwrap_err();
            assert_eq!(err, "line 32: 2 fields where the header has 16");
        }
        // A byte that is not UTF-8 in the first cell of line 3.
        let mut bytes = short;
        let line_3 = 1
            + (0..bytes.len())
                .filter(|&i| bytes[i] == b'\n')
                .nth(1)
                .unwrap();
        bytes[line_3 + 3] = 0xff;
        for parts in [1, 4] {
            let err = parse_run_table(&bytes, parts).unwrap_err();
            assert!(err.starts_with("line 3: not UTF-8"), "{err}");
        }
    }

    #[test]
    fn chunks_end_at_line_ends() {
        let body = b"aa\nbbbb\nc\ndd\n";
        for parts in 1..=6 {
            let chunks = line_chunks(body, parts);
            assert!(chunks.len() <= parts);
            assert_eq!(chunks[0].start, 0);
            assert_eq!(chunks.last().unwrap().end, body.len());
            for w in chunks.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(body[w[0].end - 1], b'\n');
            }
        }
        assert_eq!(line_chunks(b"", 4), vec![0..0]);
    }
}
