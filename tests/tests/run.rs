//! `speedcert run` from the command line: the foundation's promise.

mod common;
use common::*;

#[test]
fn run_reaches_the_target_of_the_test_track() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = speedcert();
    c.args([
        "run",
        "--track",
        &test_track(),
        "--seed",
        "7",
        "--json",
        "--out",
    ])
    .arg(dir.path());
    let out = run(c);
    assert_eq!(out.status.code(), Some(0));
    let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r["status"], "ok");
    assert_eq!(r["seed"], 7);
    assert_eq!(r["reached_target"], true);
    let loss = r["final_val_loss"].as_f64().unwrap();
    let floor = r["loss_floor"].as_f64().unwrap();
    assert!(
        loss < r["target_val_loss"].as_f64().unwrap() && loss > floor,
        "{loss}"
    );
    assert_eq!(r["train_tokens"], 40 * 16 * 32);
    let tok_s = r["train_tokens_per_s"].as_f64().unwrap();
    let recomputed = 40.0 * 16.0 * 32.0 / (r["train_time_ms"].as_f64().unwrap() / 1e3);
    assert!(
        (tok_s - recomputed).abs() <= 1e-9 * recomputed,
        "{tok_s} vs {recomputed}"
    );
    assert_eq!(r["causality"]["passed"], true);
    // The files of a run: run.json equal to what was printed, a step per row.
    assert_eq!(json(&dir.path().join("run.json")), r);
    let steps = std::fs::read_to_string(dir.path().join("steps.csv")).unwrap();
    assert_eq!(steps.lines().count(), 1 + 40, "{steps}");
    assert!(steps.starts_with("step,tokens,train_time_ms,train_loss,val_loss,lr"));
    assert!(dir.path().join("gpu.csv").is_file());
}

#[test]
fn validation_loss_falls_during_training() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = speedcert();
    c.args(["run", "--track", &test_track(), "--seed", "3", "--out"])
        .arg(dir.path());
    assert!(run(c).status.success());
    let mut r = csv::Reader::from_path(dir.path().join("steps.csv")).unwrap();
    let vals: Vec<f64> = r
        .records()
        .filter_map(|row| row.unwrap().get(4).and_then(|v| v.parse().ok()))
        .collect();
    assert!(vals.len() >= 3, "{vals:?}");
    assert!(vals.last().unwrap() < &(vals[0] - 0.2), "{vals:?}");
}

#[test]
fn one_line_summary_names_time_loss_and_floor() {
    let mut c = speedcert();
    c.args(["run", "--track", &test_track(), "--seed", "1"]);
    let out = run(c);
    assert!(out.status.success());
    let line = stdout(&out);
    assert!(
        line.contains("reached target") && line.contains("floor 1.17"),
        "{line}"
    );
}

#[test]
fn a_malformed_track_is_named_with_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(test_track())
        .unwrap()
        .replace("val_loss = 3.1", "val_loss = \"3.1\"");
    std::fs::write(&bad, text).unwrap();
    let mut c = speedcert();
    c.args(["run", "--track"]).arg(&bad);
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("bad.toml") && err.contains("val_loss"),
        "{err}"
    );
}

#[test]
fn an_unknown_submission_lists_the_known_ones() {
    let mut c = speedcert();
    c.args(["run", "--track", &test_track(), "--submission", "nope"]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("reference-fast"));
}

#[test]
fn data_synth_writes_shards_that_inspect_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = speedcert();
    c.args([
        "data",
        "synth",
        "--track",
        &test_track(),
        "--train-tokens",
        "5000",
        "--out",
    ])
    .arg(dir.path());
    assert!(run(c).status.success());
    let shard = dir.path().join("test-tiny_train_000000.bin");
    let mut c = speedcert();
    c.args(["data", "inspect", "--json"]).arg(&shard);
    let out = run(c);
    assert!(out.status.success());
    assert!(stdout(&out).contains("5000"), "{}", stdout(&out));
}

/// Asking for CUDA where there is no NVIDIA driver (CI) is refused in words before burn's
/// CUDA backend would panic in a worker thread; on a GPU machine the run simply trains.
#[test]
fn device_cuda_without_a_driver_says_so_and_writes_no_run() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let mut c = speedcert();
    c.args([
        "run",
        "--track",
        &test_track(),
        "--device",
        "cuda",
        "--seed",
        "1",
    ])
    .args(["--out"])
    .arg(&out_dir);
    let out = run(c);
    let err = stderr(&out);
    if out.status.success() {
        assert!(out_dir.join("run.json").is_file(), "{err}");
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--device cuda") && err.contains("--device cpu") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!out_dir.join("run.json").exists());
}

/// steps.csv rows as (tokens, train loss, val loss).
type StepRows = Vec<(u64, f64, Option<f64>)>;

/// `speedcert run --json --out DIR` on `track` with `extra` arguments: (exit code,
/// run.json as printed, steps.csv rows as (tokens, train loss, val loss)).
fn ranked_run(
    track: &std::path::Path,
    extra: &[&str],
    out: &std::path::Path,
) -> (Option<i32>, serde_json::Value, StepRows) {
    let mut c = speedcert();
    c.args([
        "run",
        "--seed",
        "11",
        "--heldout-seed",
        "12",
        "--json",
        "--track",
    ])
    .arg(track)
    .args(extra)
    .arg("--out")
    .arg(out);
    let o = run(c);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap_or_default();
    let rows = csv::Reader::from_path(out.join("steps.csv"))
        .map(|mut rd| {
            rd.records()
                .map(|row| {
                    let row = row.unwrap();
                    (
                        row[1].parse().unwrap(),
                        row[3].parse().unwrap(),
                        row[4].parse().ok(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (o.status.code(), r, rows)
}

/// Data-parallel training (issue 18): two ranks on the CPU, each with half of every batch
/// and averaging gradients through burn's collective, train the model that one rank
/// trains accumulating the same batch in two halves. Tolerance: 1e-4 nats on every train
/// and validation loss (the two sum the same gradients in a different order; the
/// accumulation test of speedcert-sdk holds micro-batches to the same bound).
#[test]
fn two_ranks_train_as_one_rank_accumulating_the_same_batch() {
    let dir = tempfile::tempdir().unwrap();
    let halves = edited_track(
        dir.path(),
        &[("batch_size = 16", "batch_size = 16\nmicro_batch_size = 8")],
    );
    let (code1, one, rows1) = ranked_run(&halves, &["--ranks", "1"], &dir.path().join("one"));
    let track = std::path::PathBuf::from(test_track());
    let (code2, two, rows2) = ranked_run(&track, &["--ranks", "2"], &dir.path().join("two"));
    assert_eq!((code1, code2), (Some(0), Some(0)), "{one}\n{two}");
    assert_eq!(two["ranks"], 2);
    assert_eq!(two["devices"], 1, "ranks on the CPU share its one device");
    assert!(one.get("ranks").is_none(), "{one}");
    assert_eq!(one["train_tokens"], two["train_tokens"]);
    assert_eq!(rows1.len(), 40);
    assert_eq!(rows1.len(), rows2.len());
    let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
    for (step, (a, b)) in rows1.iter().zip(&rows2).enumerate() {
        assert_eq!(a.0, b.0, "tokens after step {step}");
        assert!(
            close(a.1, b.1),
            "train loss at step {step}: {} vs {}",
            a.1,
            b.1
        );
        assert_eq!(a.2.is_some(), b.2.is_some(), "validation at step {step}");
        if let (Some(x), Some(y)) = (a.2, b.2) {
            assert!(close(x, y), "val loss after step {step}: {x} vs {y}");
        }
    }
    for key in ["final_val_loss", "heldout_val_loss"] {
        let (a, b) = (one[key].as_f64().unwrap(), two[key].as_f64().unwrap());
        assert!(close(a, b), "{key}: {a} vs {b}");
    }
    // The model learned, so the averaged gradients mattered.
    assert!(rows2[39].1 < rows2[0].1 - 0.5, "{rows2:?}");
}

/// A batch that does not split over the ranks fails the run in words, on every rank, and
/// nothing waits forever for a rank that stopped.
#[test]
fn ranks_that_do_not_split_the_batch_fail_the_run_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let track = std::path::PathBuf::from(test_track());
    let (code, r, rows) = ranked_run(&track, &["--ranks", "3"], dir.path());
    assert_eq!(code, Some(3), "{r}");
    assert_eq!(r["status"], "failed");
    let why = r["failure"].as_str().unwrap();
    assert!(
        why.contains("a batch of 16 sequences does not split evenly over 3 ranks"),
        "{why}"
    );
    assert!(rows.is_empty());
    let mut c = speedcert();
    c.args(["run", "--ranks", "0", "--track", &test_track()]);
    let o = run(c);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--ranks 0"), "{}", stderr(&o));
}
