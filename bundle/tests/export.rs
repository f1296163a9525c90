//! The exporters on a small synthetic bundle written with the crate's own types and
//! writers, read back with `BundleInputs::read`, as `speedcert` would export it.

use std::path::Path;

use serde_json::Value;
use speedcert_bundle::env::Environment;
use speedcert_bundle::export::csv::{COLUMNS, RowStatus, RunRow};
use speedcert_bundle::export::mllog::PREFIX;
use speedcert_bundle::export::{self, ExportError, Format, check_mllog};
use speedcert_bundle::plan::{PLAN_SCHEMA, Plan, Slot, TimeBaseline};
use speedcert_bundle::run::{
    CausalityResult, RUN_SCHEMA, Role, RunRecord, RunStatus, tokens_per_s,
};
use speedcert_bundle::steps::{StepLog, StepRow};
use speedcert_bundle::summary::{self, BundleInputs, Summary};
use speedcert_bundle::verify::first_difference;
use speedcert_bundle::{Verdict, io, layout};
use speedcert_stats::format::fmt_p;
use speedcert_track::{DeviceKind, Precision, Track};
use tempfile::TempDir;

const STEPS: usize = 40;
const TOKENS_PER_STEP: u64 = 16 * 32;

fn env() -> Environment {
    Environment {
        cpu_model: Some("Test CPU".into()),
        cpu_count: Some(2),
        binary_sha256: Some("binary".into()),
        speedcert_version: "0.1.0".into(),
        ..Environment::default()
    }
}

/// A run of 40 steps validated every 10 (test-tiny), ending at `time_ms` with the
/// validation losses `val`.
fn run(slot: &Slot, time_ms: f64, val: [f64; 4], track: &Track) -> (RunRecord, StepLog) {
    let every = track.spec.validation.every_steps;
    let rows: Vec<StepRow> = (0..STEPS)
        .map(|i| StepRow {
            step: i,
            tokens: TOKENS_PER_STEP * (i as u64 + 1),
            train_time_ms: time_ms * (i + 1) as f64 / STEPS as f64,
            train_loss: Some(4.0 - i as f64 * 0.03),
            val_loss: ((i + 1) % every == 0).then(|| val[(i + 1) / every - 1]),
            lr: Some(0.02),
        })
        .collect();
    let target = track.spec.target.val_loss;
    let tokens = TOKENS_PER_STEP * STEPS as u64;
    let final_loss = val[3];
    let record = RunRecord {
        schema: RUN_SCHEMA.into(),
        track: track.spec.name.clone(),
        track_sha256: track.sha256(),
        submission: slot.submission.clone(),
        submission_sha256: format!("{}-source", slot.submission),
        role: slot.role,
        run_index: slot.index,
        seed: slot.seed,
        heldout_seed: Some(slot.heldout_seed),
        device: DeviceKind::Cpu,
        precision: Precision::F32,
        status: RunStatus::Ok,
        failure: None,
        started_at: format!("2026-11-23T08:4{}:00Z", slot.index),
        steps: STEPS,
        train_tokens: tokens,
        train_time_ms: time_ms,
        train_tokens_per_s: tokens_per_s(tokens, time_ms),
        val_time_ms: 12.5,
        init_time_ms: 3.4,
        time_to_target_ms: rows
            .iter()
            .find(|r| r.val_loss.is_some_and(|l| l <= target))
            .map(|r| r.train_time_ms),
        final_val_loss: Some(final_loss),
        heldout_val_loss: Some(final_loss + 0.002),
        target_val_loss: target,
        loss_floor: track.spec.loss_floor(),
        reached_target: final_loss <= target,
        official: true,
        throttled: false,
        causality: Some(CausalityResult {
            passed: true,
            max_leak: 0.0,
            probed_positions: vec![1, 16, 31],
            logit_scale: 9.0,
        }),
        env: env(),
        steps_sha256: None,
        gpu_sha256: None,
        fences: Vec::new(),
        language_seed: None,
        memory: None,
        devices: None,
        ranks: None,
        heldout_window: None,
        command: None,
        data: Vec::new(),
    };
    (record, StepLog { rows })
}

/// Writes the bundle (candidate A, baseline B, interleaved A B A B) and reads it back.
fn bundle() -> (TempDir, BundleInputs, Summary) {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let track =
        Track::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tracks/test-tiny.toml"))
            .unwrap();
    io::write_bytes(&root.join(layout::TRACK), track.source_text.as_bytes()).unwrap();
    io::write_json(&root.join(layout::ENV), &env()).unwrap();
    let slots: Vec<Slot> = (0..4)
        .map(|i| {
            let (role, submission) = if i % 2 == 0 {
                (Role::Candidate, "fast")
            } else {
                (Role::Baseline, "reference")
            };
            Slot {
                index: i,
                role,
                submission: submission.into(),
                seed: 1000 + i as u64,
                heldout_seed: 2000 + i as u64,
                pair: Some(i / 2),
            }
        })
        .collect();
    let plan = Plan {
        schema: PLAN_SCHEMA.into(),
        track: track.spec.name.clone(),
        track_sha256: track.sha256(),
        submission: "fast".into(),
        submission_sha256: "fast-source".into(),
        baseline_submission: Some("reference".into()),
        baseline_submission_sha256: Some("reference-source".into()),
        comparison: TimeBaseline::SameMachine,
        stored_baseline: None,
        device: DeviceKind::Cpu,
        created_at: "2026-11-23T09:00:00Z".into(),
        slots: slots.clone(),
        schedule: None,
        attempt: None,
        builds: Vec::new(),
        language_seed: None,
        commands: Vec::new(),
    };
    io::write_json(&root.join(layout::PLAN), &plan).unwrap();
    let shapes = [
        (800.0, [3.5, 3.0, 2.7, 2.600]),
        (1200.0, [3.5, 3.1, 2.8, 2.640]),
        (804.0, [3.4, 3.0, 2.7, 2.601]),
        (1206.0, [3.5, 3.1, 2.8, 2.642]),
    ];
    for (slot, (time, val)) in slots.iter().zip(shapes) {
        let (record, steps) = run(slot, time, val, &track);
        let run_dir = io::create_run_dir(root, slot.index).unwrap();
        io::write_run(&run_dir, &record, &steps, None).unwrap();
    }
    let inputs = BundleInputs::read(root).unwrap();
    let summary = summary::compute(&inputs);
    io::write_json(&root.join(layout::SUMMARY), &summary).unwrap();
    (dir, inputs, summary)
}

fn export(inputs: &BundleInputs, summary: &Summary, format: Format) -> String {
    export::export(inputs, summary, format).unwrap()
}

#[test]
fn the_fixture_is_a_record() {
    let (_dir, _inputs, summary) = bundle();
    assert_eq!(
        summary.verdict,
        Verdict::NewRecord,
        "{}",
        summary.verdict_detail
    );
}

#[test]
fn every_format_exports() {
    let (_dir, inputs, summary) = bundle();
    for format in Format::ALL {
        let text = export(&inputs, &summary, format);
        assert!(!text.is_empty(), "{format} is empty");
        assert_eq!(format.to_string().parse::<Format>(), Ok(format));
    }
}

#[test]
fn json_is_summary_json_and_round_trips() {
    let (dir, inputs, summary) = bundle();
    let text = export(&inputs, &summary, Format::Json);
    let back: Summary = serde_json::from_str(&text).unwrap();
    // serde_json (without `float_roundtrip`) may parse a float one ulp off, so the
    // figures are compared as `speedcert verify` compares them.
    let (a, b) = (
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(&summary).unwrap(),
    );
    assert_eq!(first_difference("summary", &a, &b), None);
    assert_eq!(back.verdict, summary.verdict);
    assert_eq!(back.checks, summary.checks);
    let on_disk = std::fs::read_to_string(dir.path().join(layout::SUMMARY)).unwrap();
    assert_eq!(text, on_disk, "the export is summary.json byte for byte");
}

#[test]
fn csv_has_one_row_per_run_and_parses_back() {
    let (_dir, inputs, summary) = bundle();
    let text = export(&inputs, &summary, Format::Csv);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, COLUMNS);
    let rows: Vec<RunRow> = reader.deserialize().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), inputs.runs.len());
    for (row, run) in rows.iter().zip(&inputs.runs) {
        assert_eq!(row.run_index, run.run_index);
        assert_eq!(row.role, run.role);
        assert_eq!(row.submission, run.submission);
        assert_eq!(row.seed, run.seed);
        assert_eq!(row.status, RowStatus::Ok);
        assert_eq!(row.train_time_ms, Some(run.train_time_ms));
        assert_eq!(row.final_val_loss, run.final_val_loss);
        assert_eq!(row.heldout_val_loss, run.heldout_val_loss);
        assert_eq!(row.train_tokens, Some(run.train_tokens));
        assert_eq!(row.train_tokens_per_s, run.train_tokens_per_s);
        assert_eq!(row.reached_target, Some(true));
    }
}

#[test]
fn csv_lists_a_run_that_never_finished() {
    let (_dir, mut inputs, summary) = bundle();
    inputs.runs.retain(|r| r.run_index != 1);
    let text = export(&inputs, &summary, Format::Csv);
    let rows: Vec<RunRow> = csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1].status, RowStatus::Missing);
    assert_eq!(rows[1].role, Role::Baseline);
    assert_eq!(rows[1].train_time_ms, None);
}

#[test]
fn markdown_states_the_verdict_and_p_values_as_fmt_p_writes_them() {
    let (_dir, inputs, summary) = bundle();
    let text = export(&inputs, &summary, Format::Markdown);
    let header = text.lines().next().unwrap();
    for part in [
        summary.track.as_str(),
        summary.submission.as_str(),
        summary.verdict.as_str(),
    ] {
        assert!(header.contains(part), "{header:?} lacks {part}");
    }
    assert!(text.contains(&summary.verdict_detail));
    let time_p = summary.time.as_ref().unwrap().p_value.unwrap();
    let loss_p = summary.loss.as_ref().unwrap().p_value.unwrap();
    for p in [time_p, loss_p] {
        let shown = format!("{} < {}", fmt_p(p), summary.threshold);
        assert!(text.contains(&shown), "no `{shown}` in\n{text}");
    }
    for check in &summary.checks {
        assert!(
            text.contains(&format!("| {} | ok |", check.name)),
            "{}",
            check.name
        );
    }
}

#[test]
fn markdown_escapes_pipes_in_cells() {
    let (_dir, inputs, mut summary) = bundle();
    summary.checks[0].passed = false;
    summary.checks[0].detail = "left | right".into();
    let text = export(&inputs, &summary, Format::Markdown);
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("| {} |", summary.checks[0].name)))
        .unwrap();
    assert!(line.ends_with("| FAIL | left \\| right |"), "{line}");
}

/// The parsed JSON of every MLLOG line.
fn records(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l.strip_prefix(PREFIX).unwrap()).unwrap())
        .collect()
}

fn with_key<'a>(records: &'a [Value], key: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["key"] == key).collect()
}

#[test]
fn mllog_passes_the_checker_with_one_run_per_block() {
    let (_dir, inputs, summary) = bundle();
    let text = export(&inputs, &summary, Format::Mllog);
    assert_eq!(check_mllog(&text), Vec::<String>::new());
    let recs = records(&text);
    let starts = with_key(&recs, "run_start");
    let stops = with_key(&recs, "run_stop");
    assert_eq!(starts.len(), inputs.runs.len());
    assert_eq!(stops.len(), inputs.runs.len());
    for ((start, stop), run) in starts.iter().zip(&stops).zip(&inputs.runs) {
        // The MLPerf score, run_stop − run_start, is the certified training time.
        let score = stop["time_ms"].as_i64().unwrap() - start["time_ms"].as_i64().unwrap();
        assert!((score as f64 - run.train_time_ms).abs() <= 1.0, "{score}");
        assert_eq!(stop["metadata"]["status"], "success");
        assert_eq!(start["event_type"], "INTERVAL_START");
    }
    // 2026-11-23T08:40:00Z plus 3.4 ms of init, rounded.
    assert_eq!(starts[0]["time_ms"], 1_795_423_200_003_i64);
    // Every validation pass is an eval_accuracy whose value is the validation loss.
    let evals = with_key(&recs, "eval_accuracy");
    let losses: Vec<f64> = inputs
        .steps
        .values()
        .flat_map(|log| log.as_ref().unwrap().rows.iter().filter_map(|r| r.val_loss))
        .collect();
    let logged: Vec<f64> = evals.iter().map(|e| e["value"].as_f64().unwrap()).collect();
    assert_eq!(logged, losses);
    assert_eq!(evals[0]["metadata"]["epoch_num"], 10);
    assert_eq!(evals[0]["metadata"]["samples_count"], 10 * TOKENS_PER_STEP);
    assert_eq!(evals[0]["metadata"]["file"], "runs/run-000/steps.csv");
    assert_eq!(evals[0]["metadata"]["lineno"], 11);
    assert_eq!(with_key(&recs, "epoch_start").len(), 4 * STEPS);
    assert_eq!(with_key(&recs, "block_start").len(), 4 * 4);
    assert_eq!(
        with_key(&recs, "global_batch_size")[0]["value"],
        TOKENS_PER_STEP
    );
}

#[test]
fn mllog_lines_read_as_mllog_py_writes_them() {
    let (_dir, inputs, summary) = bundle();
    let text = export(&inputs, &summary, Format::Mllog);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        r#":::MLLOG {"namespace": "", "time_ms": 1795423200000, "event_type": "POINT_IN_TIME", "key": "submission_benchmark", "value": "test-tiny", "metadata": {"file": "runs/run-000/run.json", "lineno": 0}}"#
    );
}

#[test]
fn a_failed_run_is_aborted() {
    let (_dir, mut inputs, summary) = bundle();
    let failed = &mut inputs.runs[3];
    failed.status = RunStatus::Failed;
    failed.failure = Some("train_step 12 failed: out of memory".into());
    let text = export(&inputs, &summary, Format::Mllog);
    assert_eq!(check_mllog(&text), Vec::<String>::new());
    let recs = records(&text);
    let stops = with_key(&recs, "run_stop");
    assert_eq!(stops[3]["metadata"]["status"], "aborted");
    assert_eq!(
        stops[3]["metadata"]["failure"],
        "train_step 12 failed: out of memory"
    );
    assert_eq!(stops[2]["metadata"]["status"], "success");
}

#[test]
fn an_unreadable_start_time_is_an_error() {
    let (_dir, mut inputs, summary) = bundle();
    inputs.runs[2].started_at = "yesterday".into();
    let err = export::export(&inputs, &summary, Format::Mllog).unwrap_err();
    assert!(
        matches!(err, ExportError::StartedAt { run: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("run-002"), "{err}");
}

/// The generated log, its lines, and the line numbers (0-based) of each `key`.
fn lines_of(key: &str) -> (Vec<String>, Vec<usize>) {
    let (_dir, inputs, summary) = bundle();
    let text = export(&inputs, &summary, Format::Mllog);
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let at = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(&format!(r#""key": "{key}""#)))
        .map(|(i, _)| i)
        .collect();
    (lines, at)
}

fn any_says(problems: &[String], words: &[&str]) -> bool {
    problems.iter().any(|p| words.iter().all(|w| p.contains(w)))
}

#[test]
fn two_run_starts_fail_the_checker() {
    let (mut lines, at) = lines_of("run_start");
    let dup = lines[at[1]].clone();
    lines.insert(at[1] + 1, dup);
    let problems = check_mllog(&lines.join("\n"));
    assert!(
        any_says(
            &problems,
            &["second run_start", "exactly one run_start per run"]
        ),
        "{problems:#?}"
    );
}

#[test]
fn timestamps_going_backwards_fail_the_checker() {
    let (mut lines, at) = lines_of("epoch_stop");
    let i = at[5];
    let mut rec: Value = serde_json::from_str(lines[i].strip_prefix(PREFIX).unwrap()).unwrap();
    let t = rec["time_ms"].as_i64().unwrap();
    rec["time_ms"] = Value::from(t - 60_000);
    lines[i] = format!("{PREFIX}{rec}");
    let problems = check_mllog(&lines.join("\n"));
    assert!(
        any_says(
            &problems,
            &[&format!("line {}", i + 1), "must not go backwards"]
        ),
        "{problems:#?}"
    );
}

#[test]
fn a_missing_run_stop_fails_the_checker() {
    // In the middle: the next run's opening lines show the first never stopped.
    let (mut lines, at) = lines_of("run_stop");
    lines.remove(at[0]);
    let problems = check_mllog(&lines.join("\n"));
    assert!(
        any_says(&problems, &["has no run_stop", "begins another run"]),
        "{problems:#?}"
    );
    // At the end of the text.
    let (mut lines, at) = lines_of("run_stop");
    lines.remove(at[3]);
    let problems = check_mllog(&lines.join("\n"));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(any_says(&problems, &["has no run_stop"]), "{problems:#?}");
}

#[test]
fn other_breakage_fails_the_checker() {
    let (lines, at) = lines_of("submission_org");
    // A missing submission key.
    let mut l = lines.clone();
    l.remove(at[0]);
    let problems = check_mllog(&l.join("\n"));
    assert!(
        any_says(&problems, &["run_start without submission_org"]),
        "{problems:#?}"
    );
    // Lines that are not MLLOG records, or not JSON.
    let mut l = lines.clone();
    l.insert(3, "hello".into());
    l.insert(4, format!("{PREFIX}{{not json"));
    let problems = check_mllog(&l.join("\n"));
    assert!(
        any_says(&problems, &["line 4", "not an MLLOG line"]),
        "{problems:#?}"
    );
    assert!(
        any_says(&problems, &["line 5", "does not parse"]),
        "{problems:#?}"
    );
    // An interval that is never ended: restarted while open, or still open at run_stop.
    let (lines, at) = lines_of("eval_stop");
    let mut l = lines.clone();
    l.remove(at[0]);
    let problems = check_mllog(&l.join("\n"));
    assert!(
        any_says(
            &problems,
            &["eval_start while the eval_start", "still open"]
        ),
        "{problems:#?}"
    );
    let mut l = lines.clone();
    l.remove(at[3]);
    let problems = check_mllog(&l.join("\n"));
    assert!(
        any_says(&problems, &["eval_start", "no matching INTERVAL_END"]),
        "{problems:#?}"
    );
    assert_eq!(check_mllog(""), ["no MLLOG lines"]);
}
