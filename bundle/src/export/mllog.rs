//! The MLLOG export: every run as MLPerf training log lines, so MLPerf's tools (the
//! `mlperf_logging` parser, result summarizers, log viewers) can read a speedcert bundle.
//!
//! The line format is `mlperf_logging/mllog/mllog.py`'s:
//!
//! ```text
//! :::MLLOG {"namespace": "", "time_ms": 1795423200000, "event_type": "INTERVAL_START", "key": "run_start", "value": null, "metadata": {"file": "runs/run-000/run.json", "lineno": 0}}
//! ```
//!
//! with its key order and Python's `json.dumps` separators (`", "`, `": "`), and key
//! names from `mlperf_logging/mllog/constants.py` ([`key`]).
//!
//! # How a run maps onto MLPerf events
//!
//! One block of lines per finished run (a run with a run.json), in plan order, each block
//! a complete MLPerf result log on its own (MLPerf keeps one run per `result_N.txt`):
//!
//! 1. `submission_benchmark` (the track), `submission_org` (the submission's name: the
//!    nearest thing a bundle records to who submitted), `submission_division` (`open`:
//!    speedrun submissions may change model and optimizer, which is MLPerf's open
//!    division; closed requires the reference model), `submission_status` (`research`),
//!    `submission_platform` (`NxGPU model` from the run's own environment, or the CPU),
//!    and `cache_clear` with value `false`: speedcert does not drop OS caches before a
//!    run, and the log says so rather than claim it did;
//! 2. `init_start`, then the run's configuration (`seed`, `global_batch_size`,
//!    `train_samples`, `eval_samples`), `init_stop` after `init_time_ms`, `run_start`;
//! 3. a *block* for each stretch of steps between two validation passes, with one
//!    *epoch* per training step: `block_start`/`block_stop` carry `first_epoch_num`,
//!    `epoch_count` and `samples_count`, `epoch_start`/`epoch_stop` carry `epoch_num`
//!    and `samples_count`. Epoch N is step N − 1 of steps.csv (MLPerf counts epochs from
//!    1), so at a validation `epoch_num` is the number of steps done;
//! 4. after a block that ends in a validation pass: `eval_start`, `eval_accuracy`,
//!    `eval_stop`. **`eval_accuracy`'s value is the validation loss (nats per token),
//!    lower is better**, as in MLPerf's own language-model benchmarks (llama31_8b logs
//!    log-perplexity there and its target is an upper bound);
//! 5. `run_stop` with metadata `status`: `success` for a run that finished, `aborted`
//!    (and the `failure` reason) for one that failed. Success means the run finished:
//!    speedcert tests the loss target on the mean over runs, not per run.
//!
//! A "sample" is a token throughout (`samples_count`, `train_samples`, `eval_samples`,
//! `global_batch_size`): token counts are what a bundle records exactly, and sequences
//! per step are the submission's choice.
//!
//! # Timestamps
//!
//! `time_ms` is `started_at` (epoch milliseconds) plus the run's own clock: init takes
//! `init_time_ms`, and from `run_start` on the clock is the *timed training clock* of
//! steps.csv (`train_time_ms` at each step). Validation passes are off that clock (the
//! harness pauses it), so they take no time here, and `run_stop − run_start` is exactly
//! the run's `train_time_ms`: what an MLPerf tool computes as the score is the figure
//! speedcert certifies. Times are rounded to whole milliseconds and never go backwards:
//! a step log that runs backwards (which the `step_log` check fails) is held at its
//! latest time rather than exported out of order.
//!
//! # Provenance
//!
//! MLPerf's logger fills `metadata.file`/`lineno` with the calling source line. Here they
//! say where the value came from: the bundle file (`runs/run-000/steps.csv` and the CSV
//! line of the step; `lineno` 0 for a JSON or TOML file as a whole), or, for the values
//! speedcert fixes (division, status, cache_clear), the line of this exporter that fixes
//! them.

use std::collections::BTreeMap;
use std::io;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use speedcert_track::DeviceKind;

use super::{Certification, ExportError, Exporter};
use crate::layout;
use crate::run::{RunRecord, RunStatus};
use crate::steps::StepRow;
use crate::summary::BundleInputs;

/// What starts every MLLOG line (`mllog.LOG_TEMPLATE`).
pub const PREFIX: &str = ":::MLLOG ";

/// The MLPerf keys this export writes and [`check_mllog`] knows
/// (`mlperf_logging/mllog/constants.py`).
pub mod key {
    pub const SUBMISSION_BENCHMARK: &str = "submission_benchmark";
    pub const SUBMISSION_ORG: &str = "submission_org";
    pub const SUBMISSION_DIVISION: &str = "submission_division";
    pub const SUBMISSION_STATUS: &str = "submission_status";
    pub const SUBMISSION_PLATFORM: &str = "submission_platform";
    pub const CACHE_CLEAR: &str = "cache_clear";
    pub const INIT_START: &str = "init_start";
    pub const INIT_STOP: &str = "init_stop";
    pub const RUN_START: &str = "run_start";
    pub const RUN_STOP: &str = "run_stop";
    pub const BLOCK_START: &str = "block_start";
    pub const BLOCK_STOP: &str = "block_stop";
    pub const EPOCH_START: &str = "epoch_start";
    pub const EPOCH_STOP: &str = "epoch_stop";
    pub const EVAL_START: &str = "eval_start";
    pub const EVAL_STOP: &str = "eval_stop";
    pub const EVAL_ACCURACY: &str = "eval_accuracy";
    pub const SEED: &str = "seed";
    pub const GLOBAL_BATCH_SIZE: &str = "global_batch_size";
    pub const TRAIN_SAMPLES: &str = "train_samples";
    pub const EVAL_SAMPLES: &str = "eval_samples";

    /// Metadata keys.
    pub const STATUS: &str = "status";
    pub const EPOCH_NUM: &str = "epoch_num";
    pub const EPOCH_COUNT: &str = "epoch_count";
    pub const FIRST_EPOCH_NUM: &str = "first_epoch_num";
    pub const SAMPLES_COUNT: &str = "samples_count";

    /// `run_stop` statuses.
    pub const SUCCESS: &str = "success";
    pub const ABORTED: &str = "aborted";

    /// The keys every run states before its `run_start`.
    pub const SUBMISSION: [&str; 5] = [
        SUBMISSION_BENCHMARK,
        SUBMISSION_ORG,
        SUBMISSION_DIVISION,
        SUBMISSION_STATUS,
        SUBMISSION_PLATFORM,
    ];
}

/// `constants.POINT_IN_TIME`, `INTERVAL_START`, `INTERVAL_END`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    PointInTime,
    IntervalStart,
    IntervalEnd,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::PointInTime => "POINT_IN_TIME",
            EventType::IntervalStart => "INTERVAL_START",
            EventType::IntervalEnd => "INTERVAL_END",
        }
    }
}

pub(super) struct MllogExporter;

impl Exporter for MllogExporter {
    fn export(&self, cert: &Certification<'_>) -> Result<String, ExportError> {
        to_mllog(cert.inputs)
    }
}

/// Every finished run's MLLOG block, in plan order. Planned runs that never finished
/// have no run.json, so no start time and no block.
pub fn to_mllog(inputs: &BundleInputs) -> Result<String, ExportError> {
    let mut out = String::new();
    for run in &inputs.runs {
        run_block(&mut out, inputs, run)?;
    }
    Ok(out)
}

/// Where a line's value came from (`metadata.file`, `metadata.lineno`).
#[derive(Clone, Copy)]
struct Source<'a> {
    file: &'a str,
    lineno: usize,
}

/// This line of this exporter: the source of a value speedcert fixes.
macro_rules! here {
    () => {
        Source {
            file: file!(),
            lineno: line!() as usize,
        }
    };
}

/// `metadata`: `file` and `lineno` first, then the event's own keys, in the order
/// given (mllog.py's order; a `serde_json::Map` would sort them).
struct Metadata<'a> {
    source: Source<'a>,
    extra: &'a [(&'a str, Value)],
}

impl Serialize for Metadata<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2 + self.extra.len()))?;
        m.serialize_entry("file", self.source.file)?;
        m.serialize_entry("lineno", &self.source.lineno)?;
        for (k, v) in self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// One log line, fields in mllog.py's `_encode_log` order.
#[derive(Serialize)]
struct Line<'a> {
    namespace: &'a str,
    time_ms: i64,
    event_type: &'static str,
    key: &'a str,
    value: &'a Value,
    metadata: Metadata<'a>,
}

/// Python's `json.dumps` separators (`", "` and `": "`), so a line reads as mllog.py
/// writes it.
struct PythonStyle;

impl serde_json::ser::Formatter for PythonStyle {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// Writes one run's lines, keeping its timestamps monotone.
struct Block<'a> {
    out: &'a mut String,
    origin_ms: i64,
    /// The latest offset written: no line may go back before it.
    latest_ms: f64,
}

impl Block<'_> {
    /// A line `offset_ms` after the run's start.
    fn line(
        &mut self,
        offset_ms: f64,
        event_type: EventType,
        key: &str,
        value: Value,
        source: Source<'_>,
        extra: &[(&str, Value)],
    ) -> Result<(), serde_json::Error> {
        // `f64::max` ignores NaN: a non-finite offset stays at the latest time.
        self.latest_ms = offset_ms.max(self.latest_ms);
        let line = Line {
            namespace: "",
            time_ms: self.origin_ms.saturating_add(self.latest_ms.round() as i64),
            event_type: event_type.as_str(),
            key,
            value: &value,
            metadata: Metadata { source, extra },
        };
        let mut buf = Vec::new();
        line.serialize(&mut serde_json::Serializer::with_formatter(
            &mut buf,
            PythonStyle,
        ))?;
        self.out.push_str(PREFIX);
        self.out
            .push_str(std::str::from_utf8(&buf).expect("serde_json writes UTF-8"));
        self.out.push('\n');
        Ok(())
    }

    fn point(
        &mut self,
        at: f64,
        key: &str,
        value: Value,
        src: Source<'_>,
    ) -> Result<(), serde_json::Error> {
        self.line(at, EventType::PointInTime, key, value, src, &[])
    }
}

fn platform(run: &RunRecord) -> String {
    let env = &run.env;
    if run.device == DeviceKind::Cpu || env.gpu.is_empty() {
        return format!(
            "cpu: {}",
            env.cpu_model.as_deref().unwrap_or("unknown model")
        );
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for g in &env.gpu {
        *counts.entry(g.name.as_str()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(name, n)| format!("{n}x{name}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Tokens per step when every step drew the same number (the batch), else `None`.
fn tokens_per_step(rows: &[StepRow]) -> Option<u64> {
    let mut previous = 0;
    let mut per = None;
    for r in rows {
        let d = r.tokens.checked_sub(previous)?;
        match per {
            None => per = Some(d),
            Some(p) if p == d => {}
            Some(_) => return None,
        }
        previous = r.tokens;
    }
    per.filter(|&p| p > 0)
}

fn run_block(out: &mut String, inputs: &BundleInputs, run: &RunRecord) -> Result<(), ExportError> {
    let origin_ms = chrono::DateTime::parse_from_rfc3339(&run.started_at)
        .map(|t| t.timestamp_millis())
        .map_err(|e| e.to_string())
        .map_err(|reason| ExportError::StartedAt {
            run: run.run_index,
            value: run.started_at.clone(),
            reason,
        })?;
    let rows = match inputs.steps.get(&run.run_index) {
        Some(Ok(log)) => &log.rows,
        Some(Err(e)) => {
            return Err(ExportError::Steps {
                run: run.run_index,
                reason: e.clone(),
            });
        }
        None => {
            return Err(ExportError::Steps {
                run: run.run_index,
                reason: "no steps.csv was read for it".into(),
            });
        }
    };
    let dir = format!("{}/{}", layout::RUNS, layout::run_name(run.run_index));
    let run_json = format!("{dir}/{}", layout::RUN);
    let steps_csv = format!("{dir}/{}", layout::STEPS);
    let of_run = Source {
        file: &run_json,
        lineno: 0,
    };
    let of_track = Source {
        file: layout::TRACK,
        lineno: 0,
    };
    // Row i of steps.csv is line i + 2: the header is line 1.
    let of_row = |i: usize| Source {
        file: &steps_csv,
        lineno: i + 2,
    };
    let mut b = Block {
        out,
        origin_ms,
        latest_ms: 0.0,
    };
    use EventType::{IntervalEnd, IntervalStart};

    b.point(0.0, key::SUBMISSION_BENCHMARK, json!(run.track), of_run)?;
    b.point(0.0, key::SUBMISSION_ORG, json!(run.submission), of_run)?;
    b.point(0.0, key::SUBMISSION_DIVISION, json!("open"), here!())?;
    b.point(0.0, key::SUBMISSION_STATUS, json!("research"), here!())?;
    b.point(0.0, key::SUBMISSION_PLATFORM, json!(platform(run)), of_run)?;
    b.point(0.0, key::CACHE_CLEAR, json!(false), here!())?;

    b.line(
        0.0,
        IntervalStart,
        key::INIT_START,
        Value::Null,
        of_run,
        &[],
    )?;
    b.point(0.0, key::SEED, json!(run.seed), of_run)?;
    if let Some(batch) = tokens_per_step(rows) {
        b.point(0.0, key::GLOBAL_BATCH_SIZE, json!(batch), of_row(0))?;
    }
    b.point(0.0, key::TRAIN_SAMPLES, json!(run.train_tokens), of_run)?;
    b.point(
        0.0,
        key::EVAL_SAMPLES,
        json!(inputs.track.spec.validation.tokens),
        of_track,
    )?;
    let init = run.init_time_ms.max(0.0);
    b.line(init, IntervalEnd, key::INIT_STOP, Value::Null, of_run, &[])?;
    b.line(
        init,
        IntervalStart,
        key::RUN_START,
        Value::Null,
        of_run,
        &[],
    )?;

    // Training time and tokens before step `i`.
    let before = |i: usize| {
        i.checked_sub(1)
            .and_then(|p| rows.get(p))
            .map_or((0.0, 0), |r| (r.train_time_ms, r.tokens))
    };
    let mut first = 0;
    while first < rows.len() {
        // A block runs to the next validation pass, or to the log's end.
        let last = rows[first..]
            .iter()
            .position(|r| r.val_loss.is_some())
            .map_or(rows.len() - 1, |p| first + p);
        let (t0, tokens0) = before(first);
        let first_epoch = rows[first].step + 1;
        let count = last - first + 1;
        b.line(
            init + t0,
            IntervalStart,
            key::BLOCK_START,
            Value::Null,
            of_row(first),
            &[
                (key::FIRST_EPOCH_NUM, json!(first_epoch)),
                (key::EPOCH_COUNT, json!(count)),
                (key::SAMPLES_COUNT, json!(tokens0)),
            ],
        )?;
        for (i, row) in rows.iter().enumerate().take(last + 1).skip(first) {
            let (t, tokens) = before(i);
            let epoch = json!(row.step + 1);
            b.line(
                init + t,
                IntervalStart,
                key::EPOCH_START,
                Value::Null,
                of_row(i),
                &[
                    (key::EPOCH_NUM, epoch.clone()),
                    (key::SAMPLES_COUNT, json!(tokens)),
                ],
            )?;
            b.line(
                init + row.train_time_ms,
                IntervalEnd,
                key::EPOCH_STOP,
                Value::Null,
                of_row(i),
                &[
                    (key::EPOCH_NUM, epoch),
                    (key::SAMPLES_COUNT, json!(row.tokens)),
                ],
            )?;
        }
        let end = &rows[last];
        let at = init + end.train_time_ms;
        b.line(
            at,
            IntervalEnd,
            key::BLOCK_STOP,
            Value::Null,
            of_row(last),
            &[
                (key::FIRST_EPOCH_NUM, json!(first_epoch)),
                (key::EPOCH_COUNT, json!(count)),
                (key::SAMPLES_COUNT, json!(end.tokens)),
            ],
        )?;
        if let Some(loss) = end.val_loss {
            let meta = [
                (key::EPOCH_NUM, json!(end.step + 1)),
                (key::SAMPLES_COUNT, json!(end.tokens)),
            ];
            b.line(
                at,
                IntervalStart,
                key::EVAL_START,
                Value::Null,
                of_row(last),
                &meta,
            )?;
            b.line(
                at,
                EventType::PointInTime,
                key::EVAL_ACCURACY,
                json!(loss),
                of_row(last),
                &meta,
            )?;
            b.line(
                at,
                IntervalEnd,
                key::EVAL_STOP,
                Value::Null,
                of_row(last),
                &meta,
            )?;
        }
        first = last + 1;
    }

    let status = match run.status {
        RunStatus::Ok => vec![(key::STATUS, json!(key::SUCCESS))],
        RunStatus::Failed => vec![
            (key::STATUS, json!(key::ABORTED)),
            ("failure", json!(run.failure.as_deref().unwrap_or("failed"))),
        ],
    };
    b.line(
        init + run.train_time_ms,
        IntervalEnd,
        key::RUN_STOP,
        Value::Null,
        of_run,
        &status,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------------------

/// One parsed line, as the MLPerf parser (`mlp_parser`) reads it. `value` must be
/// present (`null` is a value).
#[derive(Debug, Deserialize)]
struct Parsed {
    namespace: String,
    time_ms: f64,
    event_type: EventType,
    key: String,
    value: Value,
    metadata: Map<String, Value>,
}

/// What is known of the run being read.
struct RunState {
    /// The line the run's block begins at.
    begins: usize,
    seen: BTreeMap<String, usize>,
    init_start: Option<usize>,
    init_stop: Option<usize>,
    run_start: Option<usize>,
    /// `(time_ms, line)` of the latest line.
    latest: Option<(f64, usize)>,
    /// Open intervals by (namespace, name): the start key and its line.
    open: BTreeMap<(String, String), (String, usize)>,
}

impl RunState {
    fn new(begins: usize) -> Self {
        Self {
            begins,
            seen: BTreeMap::new(),
            init_start: None,
            init_stop: None,
            run_start: None,
            latest: None,
            open: BTreeMap::new(),
        }
    }

    /// What is missing when the run's block ends, by how it ended (what was already
    /// reported at the line that ended it is not repeated).
    fn finish(self, end: RunEnd, problems: &mut Vec<String>) {
        let at = format!("the run beginning at line {}", self.begins);
        if self.init_stop.is_none() {
            problems.push(format!("{at} has no init_stop (exactly one is required)"));
        }
        match (self.run_start, end) {
            (None, RunEnd::EndOfText) => {
                problems.push(format!("{at} has no run_start (exactly one is required)"));
            }
            (Some(l), RunEnd::EndOfText) => problems.push(format!(
                "{at} has no run_stop: its run_start at line {l} is never stopped (exactly one run_stop is required)"
            )),
            _ => {}
        }
        for ((_, name), (start_key, l)) in &self.open {
            if name != "run" {
                problems.push(format!(
                    "{at}: the {start_key} at line {l} has no matching INTERVAL_END before the run ends"
                ));
            }
        }
    }
}

/// How a run's block ended.
#[derive(Clone, Copy)]
enum RunEnd {
    /// At its run_stop.
    Stopped,
    /// Where the next run began, its run_stop missing (already reported).
    NextRun,
    /// At the end of the text.
    EndOfText,
}

/// The interval an INTERVAL_START or INTERVAL_END line opens or closes: `init` for
/// `init_start`/`init_stop`, the key itself for other names.
fn interval_name(key: &str, event_type: EventType) -> &str {
    match event_type {
        EventType::IntervalStart => key.strip_suffix("_start").unwrap_or(key),
        EventType::IntervalEnd => key.strip_suffix("_stop").unwrap_or(key),
        EventType::PointInTime => key,
    }
}

fn has(meta: &Map<String, Value>, k: &str) -> bool {
    meta.contains_key(k)
}

/// Checks MLLOG text against the MLPerf logging rules that apply to a speedcert export
/// and returns the problems found, each naming its line (1-based); empty means it passes.
///
/// The text is a sequence of runs, each a complete MLPerf result log; a run ends at its
/// `run_stop`, or where the next run's opening keys (`submission_*`, `cache_clear`,
/// `init_start`) appear after a `run_start` that was never stopped. Per run, after
/// `training_*/common.yaml` of the MLPerf compliance checker:
///
/// - every non-empty line is `:::MLLOG {json}` with `namespace`, a numeric `time_ms`, an
///   `event_type` of `POINT_IN_TIME`/`INTERVAL_START`/`INTERVAL_END`, `key`, `value`
///   and an object `metadata`;
/// - `time_ms` never decreases within a run (runs may overlap: Slurm runs them at once);
/// - the five `submission_*` keys appear once each, before `run_start`, with a non-empty
///   value; division `closed` or `open`, status one of `cloud`, `onprem`, `preview`,
///   `research`;
/// - `init_start` (at least one) before exactly one `init_stop`, before exactly one
///   `run_start`, before exactly one `run_stop`, whose metadata `status` is `success` or
///   `aborted`; line order decides, and times must not decrease (a zero-length init or
///   an immediately aborted run is legal at millisecond resolution);
/// - `*_start` keys are `INTERVAL_START` and `*_stop` keys `INTERVAL_END`; every interval
///   is ended, not restarted while open, and not ended unopened;
/// - block, epoch and eval events and `eval_accuracy` lie between `run_start` and
///   `run_stop` with the metadata the checker requires (`epoch_num` or `samples_count`;
///   `block_start`: `epoch_count` > 0 with `first_epoch_num`, or `samples_count`), and
///   `eval_accuracy`'s value is a number.
///
/// Not checked: benchmark-specific hyperparameter rules (speedcert tracks are not MLPerf
/// benchmarks) and the init time limit.
pub fn check_mllog(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut run: Option<RunState> = None;
    let mut any = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let Some(body) = line.strip_prefix(PREFIX) else {
            problems.push(format!(
                "line {n}: not an MLLOG line (expected `:::MLLOG {{json}}`)"
            ));
            continue;
        };
        let ll: Parsed = match serde_json::from_str(body) {
            Ok(ll) => ll,
            Err(e) => {
                problems.push(format!("line {n}: does not parse as an MLLOG record: {e}"));
                continue;
            }
        };
        any = true;
        let k = ll.key.as_str();

        // Where a run ends and the next begins.
        if let Some(state) = &run
            && let Some(rs) = state.run_start
            && (key::SUBMISSION.contains(&k) || k == key::CACHE_CLEAR || k == key::INIT_START)
        {
            problems.push(format!(
                "line {n}: {k} begins another run, but the run beginning at line {} has no run_stop: its run_start at line {rs} is never stopped (exactly one run_stop is required)",
                state.begins
            ));
            if let Some(state) = run.take() {
                state.finish(RunEnd::NextRun, &mut problems);
            }
        }
        let s = run.get_or_insert_with(|| RunState::new(n));

        if let Some((t, l)) = s.latest
            && ll.time_ms < t
        {
            problems.push(format!(
                "line {n}: time_ms {} is earlier than {} at line {l}: timestamps must not go backwards",
                ll.time_ms, t
            ));
        }
        if s.latest.is_none_or(|(t, _)| ll.time_ms >= t) {
            s.latest = Some((ll.time_ms, n));
        }

        // Interval event types and pairing.
        let expected = if k.ends_with("_start") {
            Some(EventType::IntervalStart)
        } else if k.ends_with("_stop") {
            Some(EventType::IntervalEnd)
        } else {
            None
        };
        if let Some(want) = expected
            && ll.event_type != want
        {
            problems.push(format!(
                "line {n}: {k} must be an {} event, not {}",
                want.as_str(),
                ll.event_type.as_str()
            ));
        }
        let slot = (
            ll.namespace.clone(),
            interval_name(k, ll.event_type).to_owned(),
        );
        match ll.event_type {
            EventType::IntervalStart => {
                if let Some((open_key, l)) = s.open.get(&slot) {
                    problems.push(format!(
                        "line {n}: {k} while the {open_key} at line {l} is still open"
                    ));
                } else {
                    s.open.insert(slot, (k.to_owned(), n));
                }
            }
            EventType::IntervalEnd => {
                if s.open.remove(&slot).is_none() && k != key::RUN_STOP {
                    problems.push(format!(
                        "line {n}: {k} ends an interval that was never started"
                    ));
                }
            }
            EventType::PointInTime => {}
        }

        let meta = &ll.metadata;
        let in_run = |what: &str, s: &RunState, problems: &mut Vec<String>| {
            if s.run_start.is_none() {
                problems.push(format!("line {n}: {what} before run_start"));
            }
        };
        let epoch_or_samples = |problems: &mut Vec<String>| {
            if !has(meta, key::EPOCH_NUM) && !has(meta, key::SAMPLES_COUNT) {
                problems.push(format!(
                    "line {n}: {k} needs epoch_num or samples_count in its metadata"
                ));
            }
        };
        match k {
            _ if key::SUBMISSION.contains(&k) => {
                if let Some(first) = s.seen.get(k) {
                    problems.push(format!(
                        "line {n}: {k} again (first at line {first}): one per run"
                    ));
                }
                let text = ll.value.as_str().unwrap_or_default();
                if text.is_empty() {
                    problems.push(format!("line {n}: {k} needs a non-empty string value"));
                } else if k == key::SUBMISSION_DIVISION && !["closed", "open"].contains(&text) {
                    problems.push(format!(
                        "line {n}: submission_division is {text:?}, not closed or open"
                    ));
                } else if k == key::SUBMISSION_STATUS
                    && !["cloud", "onprem", "preview", "research"].contains(&text)
                {
                    problems.push(format!(
                        "line {n}: submission_status is {text:?}, not cloud, onprem, preview or research"
                    ));
                }
            }
            key::CACHE_CLEAR => {}
            key::INIT_START => {
                if let Some(l) = s.init_stop {
                    problems.push(format!("line {n}: init_start after init_stop (line {l})"));
                }
                s.init_start.get_or_insert(n);
            }
            key::INIT_STOP => {
                if let Some(l) = s.init_stop {
                    problems.push(format!(
                        "line {n}: init_stop again (first at line {l}): exactly one per run"
                    ));
                } else if s.init_start.is_none() {
                    problems.push(format!(
                        "line {n}: init_stop without an init_start before it"
                    ));
                }
                if let Some(l) = s.run_start {
                    problems.push(format!("line {n}: init_stop after run_start (line {l})"));
                }
                s.init_stop.get_or_insert(n);
            }
            key::RUN_START => {
                if let Some(l) = s.run_start {
                    problems.push(format!(
                        "line {n}: a second run_start in the run beginning at line {} (the first is at line {l}): exactly one run_start per run",
                        s.begins
                    ));
                } else {
                    if s.init_stop.is_none() {
                        problems.push(format!("line {n}: run_start before init_stop"));
                    }
                    for want in key::SUBMISSION {
                        if !s.seen.contains_key(want) {
                            problems.push(format!("line {n}: run_start without {want} before it"));
                        }
                    }
                    s.run_start = Some(n);
                }
            }
            key::RUN_STOP => {
                if s.run_start.is_none() {
                    problems.push(format!("line {n}: run_stop without a run_start before it"));
                }
                match meta.get(key::STATUS).and_then(Value::as_str) {
                    Some(key::SUCCESS | key::ABORTED) => {}
                    Some(other) => problems.push(format!(
                        "line {n}: run_stop status {other:?} is neither success nor aborted"
                    )),
                    None => problems.push(format!("line {n}: run_stop without a metadata status")),
                }
            }
            key::BLOCK_START => {
                in_run(k, s, &mut problems);
                match meta.get(key::EPOCH_COUNT) {
                    Some(c) => {
                        if c.as_f64().is_none_or(|c| c <= 0.0) {
                            problems.push(format!("line {n}: block_start epoch_count must be > 0"));
                        }
                        if !has(meta, key::FIRST_EPOCH_NUM) {
                            problems.push(format!(
                                "line {n}: block_start with epoch_count needs first_epoch_num"
                            ));
                        }
                    }
                    None if has(meta, key::SAMPLES_COUNT) => {}
                    None => problems.push(format!(
                        "line {n}: block_start needs epoch_count or samples_count in its metadata"
                    )),
                }
            }
            key::BLOCK_STOP => {
                in_run(k, s, &mut problems);
                if !has(meta, key::FIRST_EPOCH_NUM) && !has(meta, key::SAMPLES_COUNT) {
                    problems.push(format!(
                        "line {n}: block_stop needs first_epoch_num or samples_count in its metadata"
                    ));
                }
            }
            key::EPOCH_START | key::EPOCH_STOP | key::EVAL_START | key::EVAL_STOP => {
                in_run(k, s, &mut problems);
                epoch_or_samples(&mut problems);
            }
            key::EVAL_ACCURACY => {
                in_run(k, s, &mut problems);
                epoch_or_samples(&mut problems);
                if !ll.value.is_number() {
                    problems.push(format!("line {n}: eval_accuracy's value must be a number"));
                }
            }
            _ => {}
        }
        s.seen.entry(k.to_owned()).or_insert(n);

        if k == key::RUN_STOP
            && let Some(state) = run.take()
        {
            state.finish(RunEnd::Stopped, &mut problems);
        }
    }
    if let Some(state) = run.take() {
        state.finish(RunEnd::EndOfText, &mut problems);
    }
    if !any && problems.is_empty() {
        problems.push("no MLLOG lines".to_owned());
    }
    problems
}
