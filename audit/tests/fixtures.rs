//! Tests on real speedrun logs (tests/fixtures/modded-nanogpt, MIT, see its NOTICE.md).

use std::path::{Path, PathBuf};

use speedcert_audit::{
    LogFormat, Options, ProblemKind, Quantity, Role, Verdict, audit_modded_nanogpt, parse_log,
    read_log, to_csv, to_json, write_outputs,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modded-nanogpt")
}

fn track() -> PathBuf {
    fixtures().join("records/track_1_short")
}

fn log(rel: &str) -> speedcert_audit::RunLog {
    let (text, _) = read_log(&track().join(rel)).expect("fixture log reads");
    parse_log(&text)
}

#[test]
fn parses_2024_flexattention_log() {
    let l = log("2024-11-19_FlexAttention/8384493d-dba9-4991-b16b-8696953f5e6d.txt");
    assert_eq!(l.format, Some(LogFormat::TrainGpt));
    assert!(l.code_lines > 500, "code header {}", l.code_lines);
    assert_eq!(l.total_steps, Some(1875));
    assert_eq!(l.final_val_loss, Some(3.2783));
    assert_eq!(l.train_time_ms, Some(301_825.0));
    assert_eq!(l.step_avg_ms, Some(161.84));
    assert_eq!(l.torch_version.as_deref(), Some("2.6.0.dev20241119+cu124"));
    assert_eq!(l.cuda_version.as_deref(), Some("12.4"));
    assert_eq!(l.python_version, None);
    assert_eq!(l.driver_version.as_deref(), Some("555.42.06"));
    assert_eq!(l.driver_cuda_version.as_deref(), Some("12.5"));
    assert_eq!(l.gpu_count, Some(8));
    assert_eq!(l.gpu_name.as_deref(), Some("NVIDIA H100 80GB HBM3"));
    // The peak-memory print is only in the script, never in the output.
    assert_eq!(l.peak_memory_allocated_mib, None);
    assert_eq!(l.val_points.first().map(|v| v.step), Some(0));
    assert_eq!(l.val_points.last().map(|v| v.step), Some(1875));
}

#[test]
fn parses_2024_muon_log_with_train_loss_lines() {
    let l = log("2024-10-10_Muon/eb5659d0-fb6a-49e5-a311-f1f89412f726.txt.gz");
    assert_eq!(l.total_steps, Some(6200));
    assert_eq!(l.last_step, Some(6200));
    assert_eq!(l.final_val_loss, Some(3.2785));
    assert_eq!(l.train_time_ms, Some(1_339_067.0));
    assert_eq!(l.last_train_loss, Some(3.2533));
    assert_eq!(l.val_points.len(), 51);
    assert_eq!(l.torch_version.as_deref(), Some("2.4.1+cu121"));
    assert_eq!(
        l.nvidia_smi_time.as_deref(),
        Some("Thu Oct 10 23:58:24 2024")
    );
}

#[test]
fn parses_llmc_log() {
    let l = log("2024-06-06_AdamW/f66d43d7-e449-4029-8adf-e8537bab49ea.log.gz");
    assert_eq!(l.format, Some(LogFormat::LlmC));
    assert_eq!(l.final_val_loss, Some(3.275959));
    assert_eq!(l.total_steps, Some(9536));
    assert_eq!(l.train_time_ms, None);
    assert_eq!(l.gpu_count, None);
}

#[test]
fn parses_2026_log() {
    let l = log("2026-06-11_RecursiveFromBest/this_pr/00088a48-30a3-4ebd-9768-6061011337f4.txt.gz");
    assert_eq!(l.total_steps, Some(1398));
    assert_eq!(l.final_val_loss, Some(3.2791));
    assert_eq!(l.train_time_ms, Some(77_933.0));
    assert_eq!(l.python_version.as_deref(), Some("3.11.5"));
    assert_eq!(l.torch_version.as_deref(), Some("2.10.0+cu128"));
    assert_eq!(l.cuda_version.as_deref(), Some("12.8"));
    assert_eq!(l.triton_version.as_deref(), Some("3.6.0"));
    assert_eq!(l.driver_version.as_deref(), Some("580.95.05"));
    assert_eq!(l.gpu_count, Some(8));
    assert_eq!(l.peak_memory_allocated_mib, Some(30_166));
    assert_eq!(l.peak_memory_reserved_mib, Some(43_532));
    assert_eq!(l.code_lines, 3309);
}

#[test]
fn statistics_md_figures_reproduce_from_the_logs() {
    let report = audit_modded_nanogpt(&fixtures().join("records"), &Options::default()).unwrap();
    let r = report
        .records
        .iter()
        .find(|r| r.record == "2026-06-11_RecursiveFromBest")
        .unwrap();
    let c = r.candidate_sample().unwrap();
    let b = r.baseline_sample().unwrap();
    assert_eq!(
        (c.folder.as_str(), c.role, c.n()),
        ("this_pr", Role::Candidate, 13)
    );
    assert_eq!(
        (b.folder.as_str(), b.role, b.n()),
        ("baseline_pr299", Role::Baseline, 10)
    );

    // this_pr/statistics.md: mean 3.27893, p = 0.0078 (verifier: 0.007803), 77337.6 ms.
    let loss = c.loss.as_ref().unwrap();
    assert!((loss.mean - 3.27893).abs() <= 0.5e-5);
    assert!((loss.sd.unwrap() - 0.00137).abs() <= 0.5e-5);
    let p = c.loss_test.as_ref().unwrap().p;
    assert!((p - 0.007803).abs() <= 0.5e-6, "p = {p}");
    assert!((c.time_ms.as_ref().unwrap().mean - 77337.6).abs() <= 0.05);
    // baseline_pr299/statistics.md: mean 3.27850, p = 0.0047 (verifier: 0.00471).
    let bp = b.loss_test.as_ref().unwrap().p;
    assert!((bp - 0.00471).abs() <= 0.5e-5, "p = {bp}");
    assert!((b.loss.as_ref().unwrap().mean - 3.2785).abs() <= 0.5e-5);

    // Every figure the two statistics.md state was checked and agrees.
    let checked: Vec<_> = r.claims.iter().filter(|c| c.agrees.is_some()).collect();
    assert!(checked.len() >= 14, "{} checks", checked.len());
    for claim in &r.claims {
        assert_eq!(claim.agrees, Some(true), "{claim:?}");
    }
    for q in [
        Quantity::LossMean,
        Quantity::LossP,
        Quantity::TimeMean,
        Quantity::Runs,
    ] {
        assert!(r.claims.iter().any(|c| c.quantity == q), "no {q:?} check");
    }
    // The time improvement is large and certain.
    let cmp = r.time_comparison.as_ref().unwrap();
    assert!(cmp.difference < -3000.0 && cmp.welch_less.p < 1e-10);
    assert!(cmp.bootstrap.difference.upper < 0.0);
    assert_eq!(
        r.verdict,
        Verdict::EvidenceSufficient,
        "{}",
        r.verdict_reason
    );
}

#[test]
fn old_records_are_single_runs() {
    let report = audit_modded_nanogpt(&track(), &Options::default()).unwrap();
    assert_eq!(report.records.len(), 4);
    for name in [
        "2024-06-06_AdamW",
        "2024-10-10_Muon",
        "2024-11-19_FlexAttention",
    ] {
        let r = report.records.iter().find(|r| r.record == name).unwrap();
        assert_eq!(
            r.verdict,
            Verdict::SingleRun,
            "{name}: {}",
            r.verdict_reason
        );
    }
    // The llm.c log has no time: reported, but its loss still counts.
    let adamw = &report.records[0];
    assert_eq!(adamw.problems.len(), 1);
    assert_eq!(adamw.problems[0].kind, ProblemKind::NoTrainTime);
    assert_eq!(adamw.complete_runs, 1);
}

/// Copies the fixture tree, then damages it.
fn damaged_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&track(), dir.path());
    let rec = dir.path().join("2026-06-11_RecursiveFromBest/this_pr");
    // Truncate one run mid-training: keep everything up to step 700.
    let victim = rec.join("00088a48-30a3-4ebd-9768-6061011337f4.txt.gz");
    let (text, _) = read_log(&victim).unwrap();
    let cut = text.find("step:701/1398").unwrap();
    std::fs::remove_file(&victim).unwrap();
    std::fs::write(
        rec.join("00088a48-30a3-4ebd-9768-6061011337f4.txt"),
        &text[..cut],
    )
    .unwrap();
    // A garbage file, an empty file and a corrupt gzip next to the real logs.
    std::fs::write(
        rec.join("notes.txt"),
        "TODO: rerun\n\u{1}\u{2} binary \u{fffd} junk\n",
    )
    .unwrap();
    std::fs::write(rec.join("empty.log"), "").unwrap();
    std::fs::write(rec.join("broken.txt.gz"), b"\x1f\x8b not really gzip").unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

#[test]
fn broken_logs_are_reported_and_do_not_stop_the_audit() {
    let dir = damaged_copy();
    let report = audit_modded_nanogpt(dir.path(), &Options::default()).unwrap();
    let r = report
        .records
        .iter()
        .find(|r| r.record == "2026-06-11_RecursiveFromBest")
        .unwrap();
    let problem = |file: &str| {
        r.problems
            .iter()
            .find(|p| p.file.ends_with(file))
            .unwrap_or_else(|| panic!("no problem for {file}: {:?}", r.problems))
    };
    let t = problem("this_pr/00088a48-30a3-4ebd-9768-6061011337f4.txt");
    assert_eq!(t.kind, ProblemKind::Truncated);
    assert!(
        t.detail.contains("ends at step 700 of 1398"),
        "{}",
        t.detail
    );
    let g = problem("this_pr/notes.txt");
    assert_eq!(g.kind, ProblemKind::NotATrainingLog);
    assert!(g.detail.contains("no `step:N/M` lines"), "{}", g.detail);
    assert_eq!(problem("this_pr/empty.log").kind, ProblemKind::Empty);
    assert_eq!(
        problem("this_pr/broken.txt.gz").kind,
        ProblemKind::Unreadable
    );

    // The other 12 runs are still audited; the stated 13-run figures now disagree.
    let c = r.candidate_sample().unwrap();
    assert_eq!(c.n(), 12);
    assert_eq!(r.log_files, 23 + 3);
    assert_eq!(r.verdict, Verdict::ClaimsDisagree, "{}", r.verdict_reason);
    // And the rest of the audit went on.
    assert_eq!(report.records.len(), 4);
    assert_eq!(report.totals.problems, 5);
}

#[test]
fn missing_folder_is_an_error_naming_it() {
    let err =
        audit_modded_nanogpt(Path::new("/nonexistent/records"), &Options::default()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/records"), "{err}");
}

#[test]
fn empty_record_folder_is_logs_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("2030-01-01_Nothing")).unwrap();
    std::fs::write(
        dir.path().join("2030-01-01_Nothing/README.md"),
        "# no logs\n",
    )
    .unwrap();
    let report = audit_modded_nanogpt(dir.path(), &Options::default()).unwrap();
    assert_eq!(report.records[0].verdict, Verdict::LogsMissing);
}

#[test]
fn outputs_are_written_atomically_with_one_csv_row_per_record() {
    let report = audit_modded_nanogpt(&track(), &Options::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let w = write_outputs(&report, out.path(), "audit", true).unwrap();
    let csv = std::fs::read_to_string(&w.csv).unwrap();
    assert_eq!(csv, to_csv(&report).unwrap());
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    for col in [
        "record",
        "verdict",
        "n",
        "loss_mean",
        "loss_p",
        "time_mean_ms",
        "time_welch_p",
    ] {
        assert!(headers.iter().any(|h| h == col), "missing column {col}");
    }
    let rows: Vec<_> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), report.records.len());
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    assert!(md.contains("| 2026-06-11_RecursiveFromBest | evidence sufficient |"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.json.unwrap()).unwrap()).unwrap();
    assert_eq!(json["records"].as_array().unwrap().len(), 4);
    assert_eq!(
        to_json(&report).len(),
        std::fs::read(out.path().join("audit.json")).unwrap().len()
    );
    // No temporary files left behind.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 3);
}
