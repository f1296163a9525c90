//! Tests on real speedrun logs (tests/fixtures/modded-nanogpt, MIT, see its NOTICE.md).

use std::path::{Path, PathBuf};

use speedcert_audit::{
    AuditReport, LogFormat, Objective, Options, ProblemKind, Quantity, RecordAudit, Role, Support,
    audit_modded_nanogpt, parse_log, read_log, to_csv, to_json, write_outputs,
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
        Support::EvidenceSufficient,
        "{}",
        r.verdict_reason
    );
}

#[test]
fn old_records_are_single_runs() {
    let report = audit_modded_nanogpt(&track(), &Options::default()).unwrap();
    assert_eq!(report.records.len(), 7);
    for name in [
        "2024-06-06_AdamW",
        "2024-10-10_Muon",
        "2024-11-19_FlexAttention",
    ] {
        let r = report.records.iter().find(|r| r.record == name).unwrap();
        assert_eq!(
            r.verdict,
            Support::SingleRun,
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
    assert_eq!(r.verdict, Support::ClaimsDisagree, "{}", r.verdict_reason);
    // And the rest of the audit went on (the 2 other problems are the fixture's
    // duplicated SkipMLPBlocks logs).
    assert_eq!(report.records.len(), 7);
    assert_eq!(report.totals.problems, 5 + 2);
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
    assert_eq!(report.records[0].verdict, Support::LogsMissing);
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
    assert_eq!(json["records"].as_array().unwrap().len(), 7);
    assert_eq!(
        to_json(&report).len(),
        std::fs::read(out.path().join("audit.json")).unwrap().len()
    );
    // No temporary files left behind.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 3);
    // Reports are shared data: readable by all.
    #[cfg(unix)]
    for path in [&w.markdown, &w.csv] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{}", path.display());
    }
}

#[test]
fn a_report_that_cannot_be_written_is_an_error_naming_the_file() {
    let report = audit_modded_nanogpt(&track(), &Options::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    // A folder where the markdown report should go: the rename onto it fails.
    std::fs::create_dir_all(out.path().join("audit.md/inside")).unwrap();
    let err = write_outputs(&report, out.path(), "audit", false).unwrap_err();
    assert!(err.to_string().contains("audit.md"), "{err}");
}

fn audit_all() -> AuditReport {
    audit_modded_nanogpt(&fixtures().join("records"), &Options::default()).unwrap()
}

fn record<'a>(report: &'a AuditReport, name: &str) -> &'a RecordAudit {
    report
        .records
        .iter()
        .find(|r| r.record == name)
        .unwrap_or_else(|| panic!("no record {name}"))
}

#[test]
fn ablation_runs_of_different_scripts_are_not_pooled() {
    // Three cumulative ablations of 2024-11-06 (3200 steps each, three scripts): the
    // record's own run is the last one, dd7304a6 (the speedrun's README links it).
    let report = audit_all();
    let r = record(&report, "2024-11-06_ShortcutsTweaks");
    assert_eq!(r.samples.len(), 3);
    let scripts: std::collections::BTreeSet<_> =
        r.samples.iter().map(|s| s.script.clone()).collect();
    assert_eq!(scripts.len(), 3, "{scripts:?}");
    assert!(r.samples.iter().all(|s| s.n() == 1));
    let c = r.candidate_sample().unwrap();
    assert!(
        c.runs[0]
            .file
            .ends_with("dd7304a6-cc43-4d5e-adb8-c070111464a1.txt.gz"),
        "{}",
        c.runs[0].file
    );
    assert_eq!(r.verdict, Support::SingleRun, "{}", r.verdict_reason);
}

#[test]
fn baseline_file_in_the_record_folder_is_not_pooled_into_the_candidate() {
    // Track 2's BlockMaskRedundantOp: original_timing.txt is the unmodified script.
    let report = audit_all();
    let r = record(&report, "2025-11-12_BlockMaskRedundantOp");
    assert_eq!(r.track, "track_2_medium");
    let c = r.candidate_sample().unwrap();
    let b = r.baseline_sample().unwrap();
    assert_eq!((c.n(), c.role), (1, Role::Candidate));
    assert_eq!((b.n(), b.role), (1, Role::Baseline));
    assert!(b.runs[0].file.ends_with("original_timing.txt.gz"));
    assert_eq!(r.verdict, Support::SingleRun, "{}", r.verdict_reason);
}

#[test]
fn duplicated_logs_count_once_across_record_folders() {
    // The same two runs (made on 2025-09-05) sit in 2025-05-09_SkipMLPBlocks and
    // 2025-09-05_SkipMLPBlocks: they count once, for the record not dated before them.
    let report = audit_all();
    let early = record(&report, "2025-05-09_SkipMLPBlocks");
    let late = record(&report, "2025-09-05_SkipMLPBlocks");
    assert_eq!(late.complete_runs, 2);
    assert_eq!(early.complete_runs, 0);
    assert_eq!(early.problems.len(), 2);
    for p in &early.problems {
        assert_eq!(p.kind, ProblemKind::Duplicate);
        assert!(
            p.detail.contains("2025-09-05_SkipMLPBlocks/"),
            "{}",
            p.detail
        );
    }
    assert_eq!(early.verdict, Support::LogsMissing);
    assert!(
        early.verdict_reason.contains("copies of runs counted in"),
        "{}",
        early.verdict_reason
    );
    assert!(early.duplicates_note.is_some());
    assert_eq!(report.totals.duplicates, 2);
}

/// A copy of the track-1 fixtures with one SkipMLPBlocks log rewritten by `damage`.
fn with_damaged_skipmlp_log(damage: impl Fn(&str) -> String) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&track(), dir.path());
    let rec = dir.path().join("2025-09-05_SkipMLPBlocks");
    let victim = rec.join("comparison_0f6c8eac-db39-49ce-bef8-08a34044625f.txt.gz");
    let (text, _) = read_log(&victim).unwrap();
    std::fs::remove_file(&victim).unwrap();
    // Its copy in the other folder goes too, or that copy would be counted instead.
    std::fs::remove_file(
        dir.path().join(
            "2025-05-09_SkipMLPBlocks/comparison_0f6c8eac-db39-49ce-bef8-08a34044625f.txt.gz",
        ),
    )
    .unwrap();
    let name = "comparison_0f6c8eac-db39-49ce-bef8-08a34044625f.txt";
    std::fs::write(rec.join(name), damage(&text)).unwrap();
    (dir, format!("2025-09-05_SkipMLPBlocks/{name}"))
}

#[test]
fn log_cut_at_val_loss_3_is_not_a_finished_run() {
    let (dir, file) = with_damaged_skipmlp_log(|text| {
        let at = text.find("step:1670/1670 val_loss:").unwrap();
        text[..at + "step:1670/1670 val_loss:3".len()].to_string()
    });
    let (text, _) = read_log(&dir.path().join(&file)).unwrap();
    assert!(text.ends_with("step:1670/1670 val_loss:3"));
    let log = parse_log(&text);
    assert_eq!(log.final_val_loss, None);

    let report = audit_modded_nanogpt(dir.path(), &Options::default()).unwrap();
    let r = record(&report, "2025-09-05_SkipMLPBlocks");
    let p = r.problems.iter().find(|p| p.file == file).unwrap();
    assert_eq!(p.kind, ProblemKind::FinalLineCutOff);
    assert!(
        p.detail.contains("`step:1670/1670 val_loss:3`"),
        "{}",
        p.detail
    );
    assert_eq!(r.complete_runs, 1);
}

#[test]
fn nan_final_loss_is_a_file_problem_and_leaves_the_statistics_alone() {
    let (dir, file) = with_damaged_skipmlp_log(|text| {
        let at = text.find("step:1670/1670 val_loss:").unwrap() + "step:1670/1670 val_loss:".len();
        format!("{}nan{}", &text[..at], &text[at + "3.2747".len()..])
    });
    let report = audit_modded_nanogpt(dir.path(), &Options::default()).unwrap();
    let r = record(&report, "2025-09-05_SkipMLPBlocks");
    let p = r.problems.iter().find(|p| p.file == file).unwrap();
    assert_eq!(p.kind, ProblemKind::NonFiniteLoss, "{}", p.detail);
    assert!(p.kind.excludes_run());
    let c = r.candidate_sample().unwrap();
    assert_eq!(c.n(), 1);
    assert!(c.loss.as_ref().unwrap().mean.is_finite());
}

#[test]
fn track_3_times_in_seconds_and_steps_objective() {
    let report = audit_all();
    let r = record(&report, "20260527_psgd");
    assert_eq!(
        (r.track.as_str(), r.objective),
        ("track_3_optimization", Objective::Steps)
    );
    assert!(
        r.problems
            .iter()
            .all(|p| p.kind != ProblemKind::NoTrainTime),
        "{:?}",
        r.problems
    );
    let c = r.candidate_sample().unwrap();
    assert_eq!((c.n(), c.total_steps), (5, Some(3400)));
    let run = c
        .runs
        .iter()
        .find(|run| run.file.contains("0770a040"))
        .unwrap();
    // `step:3400/3400 val_loss:3.27503 train_time:611.138s step_avg:179.75ms`
    assert_eq!(run.log.train_time_ms, Some(611_138.0));
    // The README lists times to 0.1 s ("611.1"): the listed runs are these logs.
    for claim in &r.claims {
        assert_eq!(claim.agrees, Some(true), "{claim:?}");
    }
    assert!(r.claims.iter().any(|c| c.quantity == Quantity::Runs));
    assert!(r.time_comparison.is_none());
    assert_eq!(
        r.verdict,
        Support::EvidenceSufficient,
        "{}",
        r.verdict_reason
    );
    assert!(
        r.verdict_reason.starts_with("3400 steps"),
        "{}",
        r.verdict_reason
    );
}

#[test]
fn each_trial_of_a_multi_trial_log_is_a_run() {
    // 20260508_muown's 97782bd6 log holds ten trials of one script (`trial:K/10
    // seed:K`, each ending `step:3200/3200 val_loss:…`); the README lists their ten
    // final losses, mean 3.27534.
    let report = audit_all();
    let r = record(&report, "20260508_muown");
    assert_eq!(r.samples.len(), 1, "{:?}", r.samples);
    let c = r.candidate_sample().unwrap();
    assert_eq!((c.n(), c.total_steps), (10, Some(3200)));
    let losses: Vec<f64> = c.runs.iter().filter_map(|r| r.log.final_val_loss).collect();
    assert_eq!(
        losses,
        [
            3.27541, 3.27642, 3.276, 3.27415, 3.27607, 3.27569, 3.27558, 3.27548, 3.27421, 3.27437
        ]
    );
    assert!(
        c.runs[0]
            .file
            .ends_with("97782bd6-1339-430f-b870-0c7309fa5004.txt.gz (trial 1/10)"),
        "{}",
        c.runs[0].file
    );
    // The last trial's time, `train_time:2489.802s`, is not the whole file's.
    assert_eq!(c.runs[9].log.train_time_ms, Some(2_489_802.0));
    assert_eq!(c.runs[0].log.train_time_ms, Some(2_492_778.0));
    assert_ne!(r.verdict, Support::SingleRun, "{}", r.verdict_reason);
}

#[test]
fn runs_whose_scripts_differ_only_in_a_literal_seed_are_pooled() {
    // 20260515_contranormuown's logs print the same script but for `SEED = 2` /
    // `SEED = 8` (line 485).
    let report = audit_all();
    let r = record(&report, "20260515_contranormuown");
    assert_eq!(r.samples.len(), 1, "{:?}", r.samples);
    let c = r.candidate_sample().unwrap();
    assert_eq!((c.n(), c.total_steps), (2, Some(3000)));
    assert_eq!(c.environment.scripts, 1);
}

#[test]
fn track_2_claims_are_read_against_its_own_target() {
    // Smear-MTP states "- p-value: 1.1266e-05" in prose for 26 listed losses; the
    // folder holds one log, so its stated evidence has no logs here.
    let report = audit_all();
    let r = record(&report, "2025-11-02-Smear-MTP");
    assert_eq!(r.target_loss, 2.92);
    let p = r
        .claims
        .iter()
        .find(|c| c.quantity == Quantity::LossP)
        .unwrap_or_else(|| panic!("no p claim: {:?}", r.claims));
    assert_eq!(p.stated, "1.1266e-05");
    // Recomputed from the 26 listed losses against 2.92, not 3.28.
    assert_eq!(p.agrees, Some(true), "{p:?}");
    assert_eq!(r.verdict, Support::LogsMissing, "{}", r.verdict_reason);
    assert!(
        r.verdict_reason.contains("claims 26 runs"),
        "{}",
        r.verdict_reason
    );
}

#[test]
fn track_2_prose_summaries_are_checked_against_their_own_list() {
    // NewValemb's `- Mean: 1449.038` sits under a list of quoted run times; it is a
    // time mean, and it follows from them.
    let report = audit_all();
    let r = record(&report, "2025-08-28_Medium_NewValemb");
    let mean = r
        .claims
        .iter()
        .find(|c| c.stated.starts_with("1449.038"))
        .unwrap_or_else(|| panic!("no time mean claim: {:?}", r.claims));
    assert_eq!(mean.quantity, Quantity::TimeMean);
    assert_eq!(mean.agrees, Some(true), "{mean:?}");
    assert!(
        r.claims.iter().all(|c| c.agrees != Some(false)),
        "{:?}",
        r.claims
    );

    // GPT2MediumX01 states `np.std` (ddof 0) of its 19 listed losses and times: a
    // convention, said in the note, not a disagreement.
    let r = record(&report, "2025-09-11_GPT2MediumX01");
    for q in [Quantity::LossSd, Quantity::TimeSd] {
        let sd = r
            .claims
            .iter()
            .find(|c| c.quantity == q)
            .unwrap_or_else(|| panic!("no {q:?} claim: {:?}", r.claims));
        assert_eq!(sd.agrees, Some(true), "{sd:?}");
        assert!(sd.note.contains("population sd (ddof 0)"), "{sd:?}");
    }
    assert_ne!(r.verdict, Support::ClaimsDisagree, "{}", r.verdict_reason);
}

#[test]
fn every_track_is_audited_and_what_is_skipped_is_said() {
    let report = audit_all();
    let tracks: Vec<&str> = report.tracks.iter().map(|t| t.track.as_str()).collect();
    assert_eq!(
        tracks,
        ["track_1_short", "track_2_medium", "track_3_optimization"]
    );
    let t3 = &report.tracks[2];
    assert_eq!(t3.records_dir, "track_3_optimization/results");
    assert_eq!(t3.target_loss, 3.28);
    let skipped: Vec<&str> = t3.skipped.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(skipped, ["track_3_optimization/make_figures.py"]);
    // A log lying directly in results/ is a record of its own.
    let lone = record(&report, "7b8270c5-a9cd-4a73-b7d8-5d86a2d1e428.txt.gz");
    assert_eq!(lone.verdict, Support::SingleRun, "{}", lone.verdict_reason);
    let md = speedcert_audit::to_markdown(&report);
    assert!(md.contains("## Coverage"));
    assert!(md.contains("`track_3_optimization/make_figures.py`: outside results/"));
}

#[test]
fn json_uses_the_same_verdict_and_problem_words_as_the_markdown() {
    let report = audit_all();
    let json: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
    let early = json["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["record"] == "2025-05-09_SkipMLPBlocks")
        .unwrap();
    assert_eq!(early["verdict"], Support::LogsMissing.as_str());
    assert_eq!(
        early["problems"][0]["kind"],
        ProblemKind::Duplicate.as_str()
    );
    assert_eq!(early["verdict"], "logs missing");
    assert!(json["totals"]["by_verdict"].get("logs missing").is_some());
    let text = to_json(&report);
    assert!(!text.contains("logs-missing") && !text.contains("single-run"));
}
