//! rebuild from real signed bundles (summaries computed from their runs and recomputed
//! on rebuild): expected rows; tampered, untrusted and re-signed-with-a-false-summary
//! bundles excluded by name; a record only when it beats the record current at its
//! date; byte-identical reruns; show and the frontier (from step-log validations of
//! valid candidate runs only) over the result.

mod common;

use std::path::Path;

use common::{Against, base, cand, failed_cand, spec, write_expect};
use speedcert_analysis::curves::{Budget, BudgetStep, CURVE_COLUMNS, CurveRow, read_curves};
use speedcert_analysis::table::{RecordRow, RunRow, read_records, read_runs};
use speedcert_analysis::{RebuildReport, load, rebuild, view};
use speedcert_bundle::Verdict;

#[test]
fn rebuild_keeps_genuine_bundles_and_names_the_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let _keys = common::standard(records);
    let report = rebuild(records).unwrap();

    assert_eq!(report.bundles_found, 6);
    assert_eq!(
        report.included,
        vec![
            "bundles/other/2026-11-21-ref",
            "bundles/tiny/2026-11-20-reference",
            "bundles/tiny/2026-11-22-fast",
            "bundles/tiny/2026-11-23-slow",
        ]
    );
    let excluded: Vec<&str> = report.excluded.iter().map(|e| e.bundle.as_str()).collect();
    assert_eq!(
        excluded,
        vec![
            "bundles/tiny/2026-11-24-tampered",
            "bundles/tiny/2026-11-25-stranger"
        ]
    );
    // The tampered bundle's reason names the check and the file.
    let tampered = &report.excluded[0].reasons;
    assert!(
        tampered
            .iter()
            .any(|r| r.contains("digest") && r.contains("runs/run-000/run.json")),
        "{tampered:?}"
    );
    let stranger = &report.excluded[1].reasons;
    assert!(
        stranger
            .iter()
            .any(|r| r.contains("signature") || r.contains("threshold")),
        "{stranger:?}"
    );
    // "slow" claimed nothing (its candidate failed a check), so nothing was rejected.
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(!report.all_included());
    let text = report.to_text();
    assert!(
        text.contains("bundles/tiny/2026-11-24-tampered failed verification"),
        "{text}"
    );
    assert!(text.contains("from 4 of 6 bundles; 2 excluded\n"), "{text}");

    // runs.csv: every run of the 4 genuine bundles, none of the excluded ones.
    let runs: Vec<RunRow> = read_runs(&report.runs_csv).unwrap();
    assert_eq!(runs.len(), 2 + 3 + 6 + 5);
    assert_eq!(report.runs, runs.len());
    assert!(
        runs.iter()
            .all(|r| r.submission != "cheater" && r.submission != "stranger")
    );
    // Deterministic order: track, date, bundle, run index.
    let order: Vec<(&str, &str, u32)> = runs
        .iter()
        .map(|r| (r.track.as_str(), r.bundle.as_str(), r.run_index))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    let baseline = runs
        .iter()
        .find(|r| r.bundle == "bundles/tiny/2026-11-22-fast" && r.run_index == 1)
        .unwrap();
    assert_eq!(baseline.role, "baseline");
    assert_eq!(baseline.submission, "reference");
    assert_eq!(baseline.seed, Some(1001));
    assert_eq!(baseline.train_time_ms, Some(1001.0));
    assert_eq!(baseline.final_val_loss, Some(2.40));
    assert_eq!(baseline.heldout_val_loss, Some(2.40 + 0.002));
    assert_eq!(baseline.train_tokens, Some(40 * 512));
    assert_eq!(baseline.date, "2026-11-22");
    assert_eq!(baseline.device, "cpu");
    assert!(baseline.official);
    assert_eq!(baseline.verdict, "new record");
    assert_eq!(baseline.bundle_digest.len(), 64);
    let failed = runs
        .iter()
        .find(|r| r.bundle.ends_with("slow") && r.run_index == 4)
        .unwrap();
    assert_eq!(
        (
            failed.status.as_str(),
            failed.train_time_ms,
            failed.final_val_loss
        ),
        ("failed", None, None)
    );
    assert_eq!(failed.verdict, "check failed");

    // records.csv: the chain per track.
    let recs: Vec<RecordRow> = read_records(&report.records_csv).unwrap();
    let chain: Vec<(&str, u32, &str)> = recs
        .iter()
        .map(|r| (r.track.as_str(), r.number, r.submission.as_str()))
        .collect();
    assert_eq!(
        chain,
        vec![
            ("other", 1, "reference"),
            ("synthetic-tiny", 1, "reference"),
            ("synthetic-tiny", 2, "fast")
        ]
    );
    // The first record opened the chain on its loss test alone: no time comparison.
    let first = &recs[1];
    assert_eq!((first.improvement_ms, first.improvement_pct), (None, None));
    assert_eq!(first.time_mean_ms, Some(1000.0));
    assert_eq!(first.n, 3);
    assert_eq!(first.p_value, None);
    assert_eq!(first.comparison, "none");
    let second = &recs[2];
    assert_eq!(second.time_mean_ms, Some(900.0));
    assert_eq!(second.improvement_ms, Some(100.0));
    assert!((second.improvement_pct.unwrap() - 10.0).abs() < 1e-12);
    // The p-value is the one computed from the runs (and recomputed on rebuild).
    let fast = common::summary_of(&records.join("bundles/tiny/2026-11-22-fast"));
    let p = fast.time.as_ref().unwrap().p_value.unwrap();
    assert!(p < 0.01, "{p}");
    assert_eq!(second.p_value, Some(p));
    assert_eq!(second.loss_mean, Some(fast.loss.as_ref().unwrap().mean));
    assert_eq!(second.n, 3);
    assert_eq!(second.date, "2026-11-22");
    assert_eq!(second.baseline_submission.as_deref(), Some("reference"));
    assert_eq!(second.comparison, "same-machine");
    let digest = runs
        .iter()
        .find(|r| r.bundle == second.bundle)
        .unwrap()
        .bundle_digest
        .clone();
    assert_eq!(second.bundle_digest, digest);
    assert_eq!(
        digest,
        common::attestation_sha256(&records.join(&second.bundle))
    );
}

fn rejected_reason<'a>(report: &'a RebuildReport, bundle: &str) -> &'a str {
    let r = report
        .rejected
        .iter()
        .find(|r| r.bundle == bundle)
        .unwrap_or_else(|| panic!("{bundle} not rejected: {:?}", report.rejected));
    assert_eq!(r.reasons.len(), 1, "{r:?}");
    &r.reasons[0]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn short(digest: &str) -> &str {
    &digest[..12]
}

#[test]
fn a_record_must_beat_the_record_current_at_its_date() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let keys = common::standard(records);
    let w = |rel, submission, created_at, against, runs| {
        write_expect(
            records,
            &spec(rel, common::TINY, submission, created_at, against, runs),
            &keys.signer,
            Verdict::NewRecord,
        )
    };
    // Faster than `reference`, but `fast` holds the record on its date.
    w(
        "bundles/tiny/2026-11-26-stale",
        "stale",
        "2026-11-26T10:00:00Z",
        Against::rerun("reference"),
        vec![
            cand(800.0, 2.600),
            base(1000.0, 2.61),
            cand(805.0, 2.602),
            base(1002.0, 2.62),
        ],
    );
    // Against a submission named `fast`, but not built from the record's source.
    let forked_source = common::source_sha256("fast, locally modified");
    w(
        "bundles/tiny/2026-11-27-forked",
        "forked",
        "2026-11-27T10:00:00Z",
        Against::Rerun {
            submission: "fast".into(),
            source: forked_source.clone(),
        },
        vec![
            cand(700.0, 2.600),
            base(900.0, 2.61),
            cand(705.0, 2.602),
            base(902.0, 2.62),
        ],
    );
    // Against the stored times of the current record's signed bundle: record #3.
    let fast_dir = records.join("bundles/tiny/2026-11-22-fast");
    let against_fast = common::stored(records, "bundles/tiny/2026-11-22-fast");
    let stored_dir = w(
        "bundles/tiny/2026-11-28-stored",
        "stored",
        "2026-11-28T10:00:00Z",
        against_fast.clone(),
        vec![cand(850.0, 2.600), cand(852.0, 2.602)],
    );
    // Against `fast`'s stored times again, a day after `stored` replaced it.
    w(
        "bundles/tiny/2026-11-29-late",
        "late",
        "2026-11-29T10:00:00Z",
        against_fast,
        vec![cand(700.0, 2.600), cand(702.0, 2.602)],
    );
    // Against `stored` rerun from its source: record #4.
    w(
        "bundles/tiny/2026-11-30-again",
        "again",
        "2026-11-30T10:00:00Z",
        Against::rerun("stored"),
        vec![
            cand(600.0, 2.600),
            base(850.0, 2.61),
            cand(605.0, 2.602),
            base(852.0, 2.62),
        ],
    );

    let report = rebuild(records).unwrap();
    assert_eq!(report.bundles_found, 11);
    assert_eq!(report.included.len(), 9, "{:?}", report.excluded);
    let rejected: Vec<&str> = report.rejected.iter().map(|r| r.bundle.as_str()).collect();
    assert_eq!(
        rejected,
        vec![
            "bundles/tiny/2026-11-26-stale",
            "bundles/tiny/2026-11-27-forked",
            "bundles/tiny/2026-11-29-late",
        ]
    );
    // Each reason names what the bundle was certified against and the current record.
    let stale = rejected_reason(&report, "bundles/tiny/2026-11-26-stale");
    assert!(
        stale.contains("certified against `reference`")
            && stale.contains("`fast`")
            && stale.contains("bundles/tiny/2026-11-22-fast"),
        "{stale}"
    );
    let forked = rejected_reason(&report, "bundles/tiny/2026-11-27-forked");
    assert!(
        forked.contains(short(&forked_source))
            && forked.contains(short(&common::source_sha256("fast"))),
        "{forked}"
    );
    let late = rejected_reason(&report, "bundles/tiny/2026-11-29-late");
    let fast_digest = common::attestation_sha256(&fast_dir);
    let stored_digest = common::attestation_sha256(&stored_dir);
    assert!(
        late.contains(short(&fast_digest))
            && late.contains(short(&stored_digest))
            && late.contains("bundles/tiny/2026-11-28-stored"),
        "{late}"
    );
    let text = report.to_text();
    assert!(
        text.contains("error: bundle bundles/tiny/2026-11-26-stale verified, but is not a record:"),
        "{text}"
    );
    assert!(
        text.contains("; 2 excluded, 3 record claims rejected"),
        "{text}"
    );

    let recs: Vec<RecordRow> = read_records(&report.records_csv).unwrap();
    let chain: Vec<(u32, &str, &str)> = recs
        .iter()
        .filter(|r| r.track == common::TINY)
        .map(|r| (r.number, r.submission.as_str(), r.comparison.as_str()))
        .collect();
    assert_eq!(
        chain,
        vec![
            (1, "reference", "none"),
            (2, "fast", "same-machine"),
            (3, "stored", "stored-record"),
            (4, "again", "same-machine"),
        ]
    );
    assert_eq!(recs[3].improvement_ms, Some(900.0 - 851.0));
    // A rejected claim's runs still count as certified runs.
    let runs = read_runs(&report.runs_csv).unwrap();
    assert_eq!(
        runs.iter()
            .filter(|r| r.bundle == "bundles/tiny/2026-11-26-stale")
            .count(),
        4
    );
}

#[test]
fn a_chain_opens_with_the_first_bundle_that_passed_the_loss_test() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let keys = common::keys(records);
    // Ends above the target: not a record, and it claimed none.
    write_expect(
        records,
        &spec(
            "bundles/fresh/1-wobbly",
            "fresh",
            "wobbly",
            "2026-11-01T10:00:00Z",
            Against::Nothing,
            vec![cand(500.0, 3.20), cand(510.0, 3.25)],
        ),
        &keys.signer,
        Verdict::LossTargetMissed,
    );
    write_expect(
        records,
        &spec(
            "bundles/fresh/2-reference",
            "fresh",
            "reference",
            "2026-11-02T10:00:00Z",
            Against::Nothing,
            vec![cand(1000.0, 2.600), cand(1004.0, 2.602)],
        ),
        &keys.signer,
        Verdict::NotSignificant,
    );
    // Beats `wobbly`, which never was the record.
    write_expect(
        records,
        &spec(
            "bundles/fresh/3-beats-wobbly",
            "fresh",
            "quick",
            "2026-11-03T10:00:00Z",
            Against::rerun("wobbly"),
            vec![
                cand(400.0, 2.600),
                base(500.0, 3.20),
                cand(402.0, 2.602),
                base(501.0, 3.25),
            ],
        ),
        &keys.signer,
        Verdict::NewRecord,
    );
    let report = rebuild(records).unwrap();
    assert!(report.excluded.is_empty(), "{:?}", report.excluded);
    let recs = read_records(&report.records_csv).unwrap();
    let chain: Vec<(u32, &str)> = recs
        .iter()
        .map(|r| (r.number, r.submission.as_str()))
        .collect();
    assert_eq!(chain, vec![(1, "reference")]);
    let why = rejected_reason(&report, "bundles/fresh/3-beats-wobbly");
    assert!(
        why.contains("`wobbly`") && why.contains("`reference`"),
        "{why}"
    );
    assert_eq!(report.rejected.len(), 1);
}

#[test]
fn a_summary_edited_and_re_signed_by_the_trusted_key_is_excluded() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let keys = common::standard(records);
    let slower = || {
        vec![
            cand(1195.0, 2.600),
            base(900.0, 2.62),
            cand(1200.0, 2.602),
            base(902.0, 2.61),
        ]
    };
    let claimed = write_expect(
        records,
        &spec(
            "bundles/tiny/2026-11-26-claimed",
            common::TINY,
            "claimed",
            "2026-11-26T10:00:00Z",
            Against::rerun("fast"),
            slower(),
        ),
        &keys.signer,
        Verdict::NotSignificant,
    );
    let faster = write_expect(
        records,
        &spec(
            "bundles/tiny/2026-11-27-faster",
            common::TINY,
            "faster",
            "2026-11-27T10:00:00Z",
            Against::rerun("fast"),
            slower(),
        ),
        &keys.signer,
        Verdict::NotSignificant,
    );
    // Only the verdict changed.
    common::resign_edited_summary(&claimed, &keys.signer, |s| {
        s.verdict = Verdict::NewRecord;
    });
    // A figure changed, and the verdict with it.
    common::resign_edited_summary(&faster, &keys.signer, |s| {
        s.time.as_mut().unwrap().candidate.mean_ms = 850.0;
        s.verdict = Verdict::NewRecord;
    });

    let report = rebuild(records).unwrap();
    let reasons = |bundle: &str| {
        report
            .excluded
            .iter()
            .find(|e| e.bundle == bundle)
            .unwrap_or_else(|| panic!("{bundle} not excluded: {:?}", report.excluded))
            .reasons
            .clone()
    };
    let claimed = reasons("bundles/tiny/2026-11-26-claimed");
    assert!(
        claimed.iter().any(|r| r.contains("statistics")
            && r.contains("summary.verdict")
            && r.contains("\"new record\"")
            && r.contains("\"not significant\"")),
        "{claimed:?}"
    );
    let faster = reasons("bundles/tiny/2026-11-27-faster");
    assert!(
        faster.iter().any(|r| r.contains("statistics")
            && r.contains("summary.time.candidate.mean_ms")
            && r.contains("signed 850")
            && r.contains("recomputed 1197.5")),
        "{faster:?}"
    );
    // The signatures themselves were fine: only the recomputation refused them.
    for r in claimed.iter().chain(&faster) {
        assert!(!r.contains("digest") && !r.contains("signature"), "{r}");
    }
    assert_eq!(report.excluded.len(), 4);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let runs = read_runs(&report.runs_csv).unwrap();
    assert!(
        runs.iter()
            .all(|r| r.submission != "claimed" && r.submission != "faster")
    );
    let recs = read_records(&report.records_csv).unwrap();
    assert_eq!(recs.last().unwrap().submission, "fast");
}

#[test]
fn rebuild_twice_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let _keys = common::standard(dir.path());
    let r1 = rebuild(dir.path()).unwrap();
    let tables = |r: &RebuildReport| {
        [&r.runs_csv, &r.records_csv, &r.curves_csv].map(|p| std::fs::read(p).unwrap())
    };
    let first = tables(&r1);
    assert!(first.iter().all(|t| t.len() > 100));
    let r2 = rebuild(dir.path()).unwrap();
    assert_eq!(first, tables(&r2));
    // And from a copy in another place (paths are relative, no clock is read).
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    for t in ["runs.csv", "records.csv", "curves.csv"] {
        std::fs::remove_file(copy.path().join(t)).unwrap();
    }
    let r3 = rebuild(copy.path()).unwrap();
    assert_eq!(first, tables(&r3));
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let dst = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[test]
fn empty_records_folder_gives_header_only_tables() {
    let dir = tempfile::tempdir().unwrap();
    let report = rebuild(dir.path()).unwrap();
    assert_eq!(
        (
            report.bundles_found,
            report.runs,
            report.records,
            report.curve_points
        ),
        (0, 0, 0, 0)
    );
    let runs = std::fs::read_to_string(&report.runs_csv).unwrap();
    assert!(runs.starts_with("track,submission,role,bundle,bundle_digest,run_index,seed,status,"));
    assert_eq!(runs.lines().count(), 1);
    let curves = std::fs::read_to_string(&report.curves_csv).unwrap();
    assert_eq!(curves, format!("{}\n", CURVE_COLUMNS.join(",")));
    let t = load(dir.path()).unwrap();
    assert!(
        view::show(&t, None)
            .unwrap()
            .to_text()
            .contains("No certified runs yet")
    );
    let f = view::frontier(&t.curves, None);
    assert!(f.tracks.is_empty());
    assert!(f.to_text().contains("the frontier is empty"));
}

#[test]
fn without_keys_every_bundle_is_excluded_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let _keys = common::standard(dir.path());
    std::fs::remove_dir_all(dir.path().join("keys")).unwrap();
    let report = rebuild(dir.path()).unwrap();
    assert_eq!(report.excluded.len(), 6);
    assert_eq!(
        (report.runs, report.records, report.curve_points),
        (0, 0, 0)
    );
    assert!(
        report
            .excluded
            .iter()
            .all(|e| e.reasons[0].contains("no trusted keys")),
        "{:?}",
        report.excluded
    );
}

#[test]
fn show_and_frontier_over_the_rebuilt_tables() {
    let dir = tempfile::tempdir().unwrap();
    let _keys = common::standard(dir.path());
    let report = rebuild(dir.path()).unwrap();
    let t = load(dir.path()).unwrap();
    let p = t.records[2].p_value.unwrap();

    let all = view::show(&t, None).unwrap();
    let text = all.to_text();
    assert!(
        text.contains("Track synthetic-tiny: 2 records, 3 bundles, 14 certified runs (1 failed)"),
        "{text}"
    );
    let current = format!(
        "Current record: fast (2026-11-22), 900.0 ms ± 5.0 ms (3 runs), 10.0% faster than #1 (p = {} < 0.01)",
        speedcert_analysis::format::fmt_p(p)
    );
    assert!(text.contains(&current), "{text}");
    assert!(text.contains("-0.100 s (-10.0%)"), "{text}");
    // The attempts column; no ledger here, so every count is unknown and unflagged.
    assert!(text.contains("  p (time)  Attempts  Val loss"), "{text}");
    assert!(!text.contains('⚠'), "{text}");
    let json: serde_json::Value = serde_json::from_str(&all.to_json()).unwrap();
    assert_eq!(json["tracks"].as_array().unwrap().len(), 2);
    assert_eq!(json["tracks"][1]["records"][1]["submission"], "fast");

    let one = view::show(&t, Some("other")).unwrap();
    assert_eq!(one.tracks.len(), 1);
    assert_eq!(one.tracks[0].track, "other");

    // Bundle statistics recomputed by polars agree with the certified summaries.
    let tiny = &all.tracks[1];
    let stats = |submission: &str| {
        tiny.bundles
            .iter()
            .find(|b| b.submission == submission)
            .unwrap()
            .clone()
    };
    let fast = stats("fast");
    assert_eq!((fast.n, fast.failed), (3, 0));
    assert_eq!(fast.time_mean_ms, Some(900.0));
    assert!((fast.time_sd_ms.unwrap() - 5.0).abs() < 1e-9);
    let slow = stats("slow");
    assert_eq!((slow.n, slow.failed), (2, 1));
    assert_eq!(slow.time_mean_ms, Some(1195.0));

    // The frontier: every validation of the 8 valid candidate runs (3 reference, 3 fast,
    // 2 slow), 4 each; never the baselines of `fast` (2.40 at 1000 ms) nor the failed
    // run of `slow` (2.0 at 250 ms), which would lead it.
    let curves = read_curves(&report.curves_csv).unwrap();
    assert_eq!(curves, t.curves);
    assert_eq!(report.curve_points, 8 * 4 + 2 * 4);
    let tiny_points: Vec<&CurveRow> = curves.iter().filter(|c| c.track == common::TINY).collect();
    assert_eq!(tiny_points.len(), 8 * 4);
    let valid = |c: &CurveRow| match c.bundle.as_str() {
        "bundles/tiny/2026-11-20-reference" => [0, 1, 2].contains(&c.run_index),
        "bundles/tiny/2026-11-22-fast" => [0, 2, 4].contains(&c.run_index),
        "bundles/tiny/2026-11-23-slow" => [0, 2].contains(&c.run_index),
        _ => false,
    };
    assert!(tiny_points.iter().all(|c| valid(c)), "{tiny_points:?}");
    assert!(tiny_points.iter().all(|c| c.val_loss >= 2.5));

    let f = view::frontier(&t.curves, Some(common::TINY));
    assert_eq!(f.tracks.len(), 1);
    let tf = &f.tracks[0];
    assert_eq!((tf.runs, tf.points), (8, 32));
    for (steps, axis) in [(&tf.by_time, Budget::Time), (&tf.by_tokens, Budget::Tokens)] {
        let x = |c: &CurveRow| match axis {
            Budget::Time => c.train_time_ms,
            Budget::Tokens => c.tokens as f64,
        };
        // Each breakpoint is the best loss of any validation within its budget, and
        // strictly better than the breakpoint before.
        for s in steps.iter() {
            let best = tiny_points
                .iter()
                .filter(|c| x(c) <= s.budget)
                .map(|c| c.val_loss)
                .fold(f64::INFINITY, f64::min);
            assert_eq!(s.loss, best, "{s:?}");
        }
        assert!(
            steps
                .windows(2)
                .all(|w| w[0].budget < w[1].budget && w[0].loss > w[1].loss)
        );
        let last = steps.last().unwrap();
        assert_eq!(
            (last.submission.as_str(), last.run_index, last.step),
            ("slow", 0, 39)
        );
        assert!(close(last.loss, 2.50), "{last:?}");
    }
    // Within 900 ms, `slow`'s run 0 had validated at 2.60 (step 29) when `fast`'s run 0
    // finished at 2.62: the mid-training validation is the breakpoint.
    let at_900 = tf.by_time.iter().find(|s| s.budget == 900.0).unwrap();
    assert_eq!(
        (at_900.submission.as_str(), at_900.run_index, at_900.step),
        ("slow", 0, 29)
    );
    assert!(close(at_900.loss, 2.60), "{at_900:?}");
    // Every run validates at the same token counts: one breakpoint per validation.
    let budgets: Vec<f64> = tf.by_tokens.iter().map(|s| s.budget).collect();
    assert_eq!(budgets, vec![5120.0, 10240.0, 15360.0, 20480.0]);
    for (s, want) in tf.by_tokens.iter().zip([3.10, 2.80, 2.60, 2.50]) {
        assert!(close(s.loss, want), "{s:?}");
    }
    let ftext = f.to_text();
    assert!(
        ftext.contains("over 32 validations of 8 valid candidate runs"),
        "{ftext}"
    );
    let fjson: serde_json::Value = serde_json::from_str(&f.to_json()).unwrap();
    assert_eq!(fjson["tracks"][0]["by_time"][0]["submission"], "fast");
}

#[test]
fn the_frontier_comes_from_step_log_validations_of_valid_candidate_runs_only() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let keys = common::keys(records);
    let tiny = common::TINY;
    // The reference: slow, but frugal with tokens (512 a step).
    write_expect(
        records,
        &spec(
            "bundles/tiny/1-reference",
            tiny,
            "reference",
            "2026-11-20T10:00:00Z",
            Against::Nothing,
            vec![
                cand(1000.0, 2.700).curve([3.3, 3.0, 2.75, 2.700]),
                cand(1010.0, 2.702).curve([3.3, 3.0, 2.76, 2.702]),
            ],
        ),
        &keys.signer,
        Verdict::NotSignificant,
    );
    // `quick` is faster with twice the tokens a step; its baselines (the reference
    // rerun) end far lower than anything, but are not its runs.
    write_expect(
        records,
        &spec(
            "bundles/tiny/2-quick",
            tiny,
            "quick",
            "2026-11-22T10:00:00Z",
            Against::rerun("reference"),
            vec![
                cand(600.0, 2.780)
                    .curve([3.1, 2.9, 2.8, 2.780])
                    .tokens(1024),
                base(1000.0, 2.1).curve([2.4, 2.3, 2.2, 2.1]),
                cand(604.0, 2.781)
                    .curve([3.1, 2.9, 2.8, 2.781])
                    .tokens(1024),
                base(1002.0, 2.1).curve([2.4, 2.3, 2.2, 2.1]),
            ],
        ),
        &keys.signer,
        Verdict::NewRecord,
    );
    // A candidate that validated at 2.0 within 100 ms, then failed.
    write_expect(
        records,
        &spec(
            "bundles/tiny/3-crash",
            tiny,
            "crash",
            "2026-11-23T10:00:00Z",
            Against::Nothing,
            vec![failed_cand(25, 400.0, [2.0, 1.95, 1.9, 1.85])],
        ),
        &keys.signer,
        Verdict::NoValidRuns,
    );
    // Finished and below everything, on a machine the track's pins refuse.
    let elsewhere = write_expect(
        records,
        &spec(
            "bundles/tiny/4-elsewhere",
            tiny,
            "elsewhere",
            "2026-11-24T10:00:00Z",
            Against::Nothing,
            vec![
                cand(300.0, 2.000).curve([2.5, 2.3, 2.1, 2.000]),
                cand(302.0, 2.002).curve([2.5, 2.3, 2.1, 2.002]),
            ],
        )
        .unofficial(),
        &keys.signer,
        Verdict::NotSignificant,
    );
    assert!(!common::summary_of(&elsewhere).official);

    let report = rebuild(records).unwrap();
    assert!(report.excluded.is_empty(), "{:?}", report.excluded);
    assert_eq!(report.included.len(), 4);
    // Every run is a certified run...
    let runs = read_runs(&report.runs_csv).unwrap();
    assert_eq!(runs.len(), 2 + 4 + 1 + 2);
    assert!(
        runs.iter()
            .any(|r| r.submission == "elsewhere" && !r.official && r.device == "cuda")
    );
    // ...but only the candidates of `reference` and `quick` are on the curves.
    let curves = read_curves(&report.curves_csv).unwrap();
    let who: std::collections::BTreeSet<(&str, u32)> = curves
        .iter()
        .map(|c| (c.submission.as_str(), c.run_index))
        .collect();
    assert_eq!(
        who.into_iter().collect::<Vec<_>>(),
        vec![
            ("quick", 0),
            ("quick", 2),
            ("reference", 0),
            ("reference", 1)
        ]
    );
    assert_eq!(curves.len(), 16);
    // A validation row of steps.csv, as written: step 29 of quick's run 2.
    let row = curves
        .iter()
        .find(|c| c.submission == "quick" && c.run_index == 2 && c.step == 29)
        .unwrap();
    assert_eq!(
        (row.tokens, row.train_time_ms, row.val_loss),
        (30 * 1024, 453.0, 2.8)
    );

    let t = load(records).unwrap();
    let f = view::frontier(&t.curves, None);
    assert_eq!(f.tracks.len(), 1);
    let tf = &f.tracks[0];
    assert_eq!((tf.runs, tf.points), (4, 16));
    let steps = |s: &[BudgetStep]| -> Vec<(f64, f64, String, u32, u64)> {
        s.iter()
            .map(|b| (b.budget, b.loss, b.submission.clone(), b.run_index, b.step))
            .collect()
    };
    let q = |budget: f64, loss: f64, run: u32, step: u64| {
        (budget, loss, "quick".to_string(), run, step)
    };
    let r = |budget: f64, loss: f64, run: u32, step: u64| {
        (budget, loss, "reference".to_string(), run, step)
    };
    // By time, `quick` leads until it stops at 600 ms; the reference's mid-training
    // validation at 750 ms (step 29) is then the best within 750 ms.
    assert_eq!(
        steps(&tf.by_time),
        vec![
            q(150.0, 3.1, 0, 9),
            q(300.0, 2.9, 0, 19),
            q(450.0, 2.8, 0, 29),
            q(600.0, 2.78, 0, 39),
            r(750.0, 2.75, 0, 29),
            r(1000.0, 2.70, 0, 39),
        ]
    );
    // By tokens, the reference leads everywhere: `quick` spends twice as many.
    assert_eq!(
        steps(&tf.by_tokens),
        vec![
            r(5120.0, 3.3, 0, 9),
            r(10240.0, 3.0, 0, 19),
            r(15360.0, 2.75, 0, 29),
            r(20480.0, 2.70, 0, 39),
        ]
    );
}
