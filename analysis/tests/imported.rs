//! Transcription of a published record table, and the join with an audit file.

use speedcert_analysis::imported::{
    IMPORTED_STATUS, MODDED_NANOGPT_TRACKS, load_imported, normalise_date, parse_duration_s,
    parse_readme_tables, write_imported,
};

const README: &str = "\
## World record history

| # | Record time | Description | Date | Log | Contributors |
| - | - | - | - | - | - |
1 | 45 minutes | [llm.c baseline](https://github.com/karpathy/llm.c/discussions/481) | 05/28/24 | [log](records/track_1_short/2024-10-13_llmc/main.log) | @karpathy, llm.c contributors
3 | 24.9 minutes | [Introduced the Muon optimizer](https://x.com/kellerjordan0/status/1842300916864844014) | 10/04/24 | none | @kellerjordan0, @jxbz
21 | 2.997 minutes | 21st record with new timing | 02/01/25 | [log](records/track_1_short/2025-02-01_RuleTweak/eff63a8c.txt) | not a new record, just re-timing #21 with the [updated rules](#timing-change-after-record-21)
27 | 2.817 minutes | Transpose one of the MLP matrices | 07/18/25 | [log](records/track_1_short/2025-07-18_TritonMuon/record.txt),[PR](https://github.com/KellerJordan/modded-nanogpt/pull/109) | @byronxu99

## Rules

| # | Record time | Description | Date | Log | Contributors |
| - | - | - | - | - | - |
1 | 5.8 hours | [llm.c baseline (350M parameters)](https://github.com/karpathy/llm.c/discussions/481) | 05/28/24 | [log](records/track_2_medium/2025-01-18/main.log) | @karpathy, llm.c contributors
6 | 25.95 minutes* | [2x MLP wd](https://x.com/a) | 03/25/25 | [log](records/track_2_medium/2025-03-25_ArchOptTweaks/train.txt) | @YouJiacheng
11 | 23.45 minutes | Upgrade from torch 2.7 | - | - | -
---
";

const SOURCE: &str =
    "github:KellerJordan/modded-nanogpt@0000000000000000000000000000000000000000:README.md";

#[test]
fn parses_every_row_of_both_tables() {
    let rows = parse_readme_tables(README, MODDED_NANOGPT_TRACKS, SOURCE);
    assert_eq!(rows.len(), 7);
    let t1: Vec<_> = rows.iter().filter(|r| r.track == "track_1_short").collect();
    let t2: Vec<_> = rows
        .iter()
        .filter(|r| r.track == "track_2_medium")
        .collect();
    assert_eq!((t1.len(), t2.len()), (4, 3));
    let r = &rows[0];
    assert_eq!(r.number, "1");
    assert_eq!(r.record_time, "45 minutes");
    assert_eq!(r.time_s, Some(2700.0));
    assert_eq!(r.description, "llm.c baseline");
    assert_eq!(
        r.description_link,
        "https://github.com/karpathy/llm.c/discussions/481"
    );
    assert_eq!(
        (r.date_published.as_str(), r.date.as_str()),
        ("05/28/24", "2024-05-28")
    );
    assert_eq!(r.log, "records/track_1_short/2024-10-13_llmc/main.log");
    assert_eq!(r.record_folder, "records/track_1_short/2024-10-13_llmc");
    assert_eq!(r.target_val_loss, Some(3.28));
    assert_eq!(r.status, IMPORTED_STATUS);
    assert_eq!(r.kind, "record");
    assert!(r.published_row.starts_with("1 | 45 minutes |"));
    assert_eq!(rows[1].log, "");
    assert_eq!(rows[2].kind, "re-timing");
    assert_eq!(
        rows[3].pr,
        "https://github.com/KellerJordan/modded-nanogpt/pull/109"
    );
    assert_eq!(rows[4].time_s, Some(5.8 * 3600.0));
    assert_eq!(rows[4].target_val_loss, Some(2.92));
    assert!((rows[5].time_s.unwrap() - 25.95 * 60.0).abs() < 1e-9);
    assert_eq!(
        (
            rows[6].date.as_str(),
            rows[6].log.as_str(),
            rows[6].contributors.as_str()
        ),
        ("", "", "-")
    );
}

#[test]
fn durations_and_dates() {
    assert_eq!(parse_duration_s("2.997 minutes"), Some(2.997 * 60.0));
    assert_eq!(parse_duration_s("90 seconds"), Some(90.0));
    assert_eq!(parse_duration_s("fast"), None);
    assert_eq!(normalise_date("01/16/25").as_deref(), Some("2025-01-16"));
    assert_eq!(normalise_date("2025-01-16").as_deref(), Some("2025-01-16"));
    assert_eq!(normalise_date("-"), None);
}

#[test]
fn audit_figures_join_by_record_folder_and_date() {
    let dir = tempfile::tempdir().unwrap();
    let imported = dir.path().join("imported");
    let rows = parse_readme_tables(README, MODDED_NANOGPT_TRACKS, SOURCE);
    write_imported(&imported.join("modded-nanogpt.csv"), &rows).unwrap();
    // An audit file in a layout this crate did not define: full log path and ISO date.
    std::fs::write(
        imported.join("modded-nanogpt-audit.csv"),
        "record,date,n_runs,mean_time_s,mean_val_loss,p_value,notes\n\
         records/track_1_short/2025-07-18_TritonMuon/record.txt,2025-07-18,8,169.1,3.2791,0.004,ok\n\
         records/track_1_short/2024-10-13_llmc,2024-05-28,1,2700,3.28,,baseline\n\
         records/track_1_short/nowhere,2024-01-01,1,1,1,1,unmatched\n",
    )
    .unwrap();
    let h = load_imported(dir.path()).unwrap();
    assert_eq!(h.len(), 1);
    let h = &h[0];
    assert_eq!(h.name, "modded-nanogpt");
    assert_eq!(h.rows.len(), 7);
    let a3 = h.audits[3].as_ref().expect("TritonMuon audited");
    assert_eq!(
        a3.figures,
        vec![
            ("n_runs".to_string(), "8".to_string()),
            ("mean_time_s".to_string(), "169.1".to_string()),
            ("mean_val_loss".to_string(), "3.2791".to_string()),
            ("p_value".to_string(), "0.004".to_string()),
        ]
    );
    assert!(h.audits[0].is_some());
    assert!(h.audits[1].is_none() && h.audits[2].is_none() && h.audits[6].is_none());
}

#[test]
fn an_imported_row_not_marked_unverified_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = parse_readme_tables(README, MODDED_NANOGPT_TRACKS, SOURCE);
    rows[1].status = "certified".into();
    write_imported(&dir.path().join("imported/x.csv"), &rows).unwrap();
    let e = load_imported(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("x.csv") && e.contains("status") && e.contains("row 3"),
        "{e}"
    );
}

#[test]
fn joins_the_speedcert_audit_layout() {
    // Header and rows in the layout speedcert-audit writes
    // (records/imported/modded-nanogpt-audit.csv): `record` is the folder name and
    // `folder_date` the folder's date, which is not the published date (llmc: folder
    // 2024-10-13, published 05/28/24), so the join must not use it.
    let header = "record,folder_date,verdict,verdict_reason,log_files,complete_runs,problems,samples,candidate,n,steps,gpus,loss_mean,loss_sd,loss_t,loss_df,loss_p,time_mean_ms,time_median_ms,time_sd_ms,time_min_ms,time_max_ms,baseline,baseline_n,baseline_time_mean_ms,baseline_time_sd_ms,time_diff_ms,time_diff_ci_low_ms,time_diff_ci_high_ms,time_change_pct,time_change_ci_low_pct,time_change_ci_high_pct,time_welch_t,time_welch_df,time_welch_p,time_hedges_g,time_mann_whitney_p,claims_checked,claims_disagreeing,claims_unchecked,gpu_models,torch_versions,cuda_versions,python_versions,triton_versions,driver_versions";
    let rows_csv = "\
2024-10-13_llmc,2024-10-13,single run,\"one finished run\",1,1,1,1,\". (19560 steps, ? GPUs)\",1,19560,,3.2722,,,,,,,,,,,,,,,,,,,,,,,,,0,0,0,?×1,?×1,?×1,?×1,?×1,?×1
2025-07-18_TritonMuon,2025-07-18,evidence sufficient,\"ok\",8,8,0,1,\"x\",8,1750,8,3.278,0.001,-5,7,0.0004,169042.0,169040.0,310.5,168700.0,169500.0,y,8,170100.0,300.0,-1058,-1300,-800,-0.62,-0.8,-0.5,-7.1,13.9,0.00001,-3.4,0.0002,2,0,0,8x H100×8,2.9×8,12.6×8,3.10×8,3.4×8,570×8
";
    let dir = tempfile::tempdir().unwrap();
    let imported = dir.path().join("imported");
    let rows = parse_readme_tables(README, MODDED_NANOGPT_TRACKS, SOURCE);
    write_imported(&imported.join("modded-nanogpt.csv"), &rows).unwrap();
    std::fs::write(
        imported.join("modded-nanogpt-audit.csv"),
        format!("{header}\n{rows_csv}"),
    )
    .unwrap();
    let h = &load_imported(dir.path()).unwrap()[0];
    let llmc = h.audits[0]
        .as_ref()
        .expect("llmc joined by folder despite its folder date");
    assert_eq!(
        llmc.figures,
        vec![
            ("verdict".to_string(), "single run".to_string()),
            ("n".to_string(), "1".to_string()),
            ("loss_mean".to_string(), "3.2722".to_string()),
        ]
    );
    let names: Vec<&str> = h.audits[3]
        .as_ref()
        .unwrap()
        .figures
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "verdict",
            "n",
            "time_mean_ms",
            "time_sd_ms",
            "time_welch_p",
            "loss_mean",
            "loss_p"
        ]
    );
    let cell = speedcert_analysis::view::audit_cell(h.audits[3].as_ref());
    assert!(
        cell.starts_with("verdict=evidence sufficient, n=8, time_mean=2.817 min, time_sd=310.5 ms"),
        "{cell}"
    );
}

#[cfg(unix)]
#[test]
fn written_files_are_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("imported/x.csv");
    write_imported(
        &path,
        &parse_readme_tables(README, MODDED_NANOGPT_TRACKS, SOURCE),
    )
    .unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
}
