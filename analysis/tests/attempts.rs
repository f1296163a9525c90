//! Attempt counts from the certifier's ledger (records/ledger.jsonl): a record the ledger
//! backs shows its count; one whose earlier attempts are missing, one the ledger does
//! not hold, and a damaged ledger are warnings that leave the record in place; records
//! certified before the ledger show no count and no flag; records.csv files written
//! before the two columns still read. `records show`, the page and README.md show the
//! count beside each record.

mod common;

use std::path::{Path, PathBuf};

use common::{Against, TINY, base, cand, spec, write_expect};
use sha2::{Digest, Sha256};
use speedcert_analysis::table::{RECORD_COLUMNS, RecordRow, read_records};
use speedcert_analysis::{RebuildReport, load, rebuild, site, view};
use speedcert_attest::{Envelope, Signer};
use speedcert_bundle::Verdict;
use speedcert_bundle::ledger::{
    Event, LEDGER_FILE, LedgerEntry, LedgerWriter, PAYLOAD_TYPE, entry,
};

/// What a ledger line names a certification by.
struct Cert<'a> {
    track: &'a str,
    submission: &'a str,
    /// sha256 of its plan.json (made up for attempts whose bundles were not kept).
    plan_sha256: String,
    bundle: &'a str,
}

impl Cert<'_> {
    fn entry(&self, event: Event) -> LedgerEntry {
        entry(
            event,
            self.track,
            &hex::encode(Sha256::digest(common::track_toml(self.track).as_bytes())),
            self.submission,
            &common::source_sha256(self.submission),
            &self.plan_sha256,
            Path::new(self.bundle),
        )
    }
}

/// A failed earlier try of `submission`: its bundle was never published.
fn earlier<'a>(track: &'a str, submission: &'a str, k: usize) -> Cert<'a> {
    Cert {
        track,
        submission,
        plan_sha256: hex::encode(Sha256::digest(format!("plan of try {k}").as_bytes())),
        bundle: "bundles/discarded",
    }
}

/// The certification of the bundle at `records/rel`, by its plan.json as written.
fn of_bundle<'a>(records: &Path, track: &'a str, submission: &'a str, rel: &'a str) -> Cert<'a> {
    Cert {
        track,
        submission,
        plan_sha256: speedcert_fsio::sha256_file(&records.join(rel).join("plan.json")).unwrap(),
        bundle: rel,
    }
}

/// Appends a `started` line for attempt `attempt` and a `finished` line with `verdict`,
/// as certify does.
fn attempt(w: &mut LedgerWriter, signer: &Signer, c: &Cert, attempt: usize, verdict: Verdict) {
    let mut started = c.entry(Event::Started);
    started.attempt = Some(attempt);
    w.append(started, std::slice::from_ref(signer)).unwrap();
    let mut finished = c.entry(Event::Finished);
    finished.verdict = Some(verdict);
    w.append(finished, std::slice::from_ref(signer)).unwrap();
}

fn head(w: &LedgerWriter) -> String {
    w.ledger
        .lines
        .last()
        .map(|l| l.sha256.clone())
        .unwrap_or_default()
}

fn ledger_path(records: &Path) -> PathBuf {
    records.join(LEDGER_FILE)
}

/// The synthetic-tiny record of `submission`.
fn record<'a>(recs: &'a [RecordRow], submission: &str) -> &'a RecordRow {
    recs.iter()
        .find(|r| r.track == TINY && r.submission == submission)
        .unwrap_or_else(|| panic!("no record {submission}: {recs:?}"))
}

const REFERENCE: &str = "bundles/tiny/1-reference";
const FAST: &str = "bundles/tiny/2-fast";
const OTHER: &str = "bundles/other/1-ref";

fn reference_runs() -> Vec<common::RunSpec> {
    vec![cand(1000.0, 2.60), cand(1010.0, 2.62), cand(990.0, 2.61)]
}

fn fast_runs() -> Vec<common::RunSpec> {
    vec![
        cand(900.0, 2.62),
        base(1001.0, 2.40),
        cand(905.0, 2.61),
        base(999.0, 2.41),
        cand(895.0, 2.63),
        base(1000.0, 2.42),
    ]
}

/// The reference of synthetic-tiny is its third attempt; the ledger holds both earlier
/// tries and the record's own lines.
fn third_attempt_backed(records: &Path) -> common::Keys {
    let keys = common::keys(records);
    let mut w = LedgerWriter::open(&ledger_path(records)).unwrap();
    attempt(
        &mut w,
        &keys.signer,
        &earlier(TINY, "reference", 1),
        1,
        Verdict::LossTargetMissed,
    );
    attempt(
        &mut w,
        &keys.signer,
        &earlier(TINY, "reference", 2),
        2,
        Verdict::CheckFailed,
    );
    // Another submission's tries are not this one's attempts.
    attempt(
        &mut w,
        &keys.signer,
        &earlier(TINY, "someone-else", 3),
        1,
        Verdict::NotSignificant,
    );
    let h = head(&w);
    write_expect(
        records,
        &spec(
            REFERENCE,
            TINY,
            "reference",
            "2026-11-20T09:00:00Z",
            Against::Nothing,
            reference_runs(),
        )
        .attempt(3, &h),
        &keys.signer,
        Verdict::NotSignificant,
    );
    let me = of_bundle(records, TINY, "reference", REFERENCE);
    attempt(&mut w, &keys.signer, &me, 3, Verdict::NotSignificant);
    keys
}

#[test]
fn a_third_attempt_the_ledger_backs_shows_3_and_no_flag() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let _keys = third_attempt_backed(records);
    let report = rebuild(records).unwrap();
    assert!(report.all_included(), "{}", report.to_text());
    assert!(
        report.attempt_flags.is_empty(),
        "{:?}",
        report.attempt_flags
    );
    assert_eq!(report.attempt_warnings(), 0);
    assert!(
        !report.to_text().contains("warning"),
        "{}",
        report.to_text()
    );

    let recs = read_records(&report.records_csv).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].attempts, recs[0].attempts_flag.as_deref()),
        (Some(3), None)
    );
    let csv = std::fs::read_to_string(&report.records_csv).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",created_at,attempts,attempts_flag,clock"),
        "{header}"
    );
    assert_eq!(header, RECORD_COLUMNS.join(","));
    assert!(
        csv.lines().nth(1).unwrap().ends_with(",3,,harness"),
        "{csv}"
    );

    // `records show`: an Attempts column, 3 beside the record.
    let t = load(records).unwrap();
    let text = view::show(&t, None).unwrap().to_text();
    let lines: Vec<&str> = text.lines().collect();
    let head_at = lines.iter().position(|l| l.contains("Attempts")).unwrap();
    let header = lines[head_at];
    // Right-aligned under its header, counted in characters (the rows hold ± and —).
    let col = header[..header.find("Attempts").unwrap()].chars().count() + "Attempts".len();
    let row: String = lines[head_at + 1].chars().take(col).collect();
    assert!(row.ends_with(" 3"), "{text}");
    assert!(!text.contains('⚠'), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&view::show(&t, None).unwrap().to_json()).unwrap();
    assert_eq!(json["tracks"][0]["records"][0]["attempts"], 3);
    assert!(json["tracks"][0]["records"][0]["attempts_flag"].is_null());

    // The page and README.md.
    let site = site(records, &records.join("site")).unwrap();
    let html = std::fs::read_to_string(&site.index).unwrap();
    assert!(
        html.contains("<th>p (time)</th><th>Attempts</th>"),
        "{html}"
    );
    assert!(html.contains("<td class=\"num attempts\">3</td>"), "{html}");
    assert!(!html.contains("attempt-flag"), "{html}");
    let md = std::fs::read_to_string(&site.readme).unwrap();
    assert!(
        md.contains("| # | Record time | Description | Date | Bundle | Change | p (time) | Attempts | Val loss | Runs |"),
        "{md}"
    );
    assert!(
        md.contains(&format!("({REFERENCE}) | — | — | 3 | ")),
        "{md}"
    );
}

#[test]
fn missing_earlier_attempts_and_records_the_ledger_lacks_are_flagged_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let keys = third_attempt_backed(records);
    let mut w = LedgerWriter::open(&ledger_path(records)).unwrap();
    // One earlier try of `fast` is in the ledger; the plan says this is attempt 3.
    attempt(
        &mut w,
        &keys.signer,
        &earlier(TINY, "fast", 4),
        1,
        Verdict::NotSignificant,
    );
    let h = head(&w);
    write_expect(
        records,
        &spec(
            FAST,
            TINY,
            "fast",
            "2026-11-22T10:00:00Z",
            Against::rerun("reference"),
            fast_runs(),
        )
        .attempt(3, &h),
        &keys.signer,
        Verdict::NewRecord,
    );
    let fast = of_bundle(records, TINY, "fast", FAST);
    attempt(&mut w, &keys.signer, &fast, 3, Verdict::NewRecord);
    drop(w);
    // Certified without the ledger: no attempt in its plan, no line.
    write_expect(
        records,
        &spec(
            OTHER,
            "other",
            "reference",
            "2026-11-21T09:00:00Z",
            Against::Nothing,
            vec![cand(61_000.0, 2.600), cand(62_000.0, 2.602)],
        ),
        &keys.signer,
        Verdict::NotSignificant,
    );

    let report = rebuild(records).unwrap();
    // Warnings, not exclusions: every record is still a record.
    assert!(report.all_included(), "{}", report.to_text());
    assert_eq!(report.records, 3);
    let flagged: Vec<(&str, &[String])> = report
        .attempt_flags
        .iter()
        .map(|e| (e.bundle.as_str(), e.reasons.as_slice()))
        .collect();
    assert_eq!(flagged.len(), 2, "{flagged:?}");
    assert_eq!(flagged[0].0, OTHER);
    assert_eq!(
        flagged[0].1,
        ["certified without an attempt ledger: ledger.jsonl holds no line for it"]
    );
    assert_eq!(flagged[1].0, FAST);
    let why = &flagged[1].1[0];
    assert!(
        why.contains("its plan says attempt 3")
            && why.contains("holds only 1 earlier attempt(s)")
            && why.contains("1 are missing"),
        "{why}"
    );
    assert_eq!(report.attempt_warnings(), 2);
    let text = report.to_text();
    assert!(
        text.contains(&format!("warning: record {FAST}: {why}\n")),
        "{text}"
    );
    assert!(
        text.contains("from 3 of 3 bundles; 2 attempt warnings\n"),
        "{text}"
    );

    // records.csv: the ledger's count, and the flag (quoted: it holds a comma).
    let recs = read_records(&report.records_csv).unwrap();
    let f = record(&recs, "fast");
    assert_eq!(f.attempts, Some(2));
    assert_eq!(f.attempts_flag.as_deref(), Some(why.as_str()));
    let r = record(&recs, "reference");
    assert_eq!((r.attempts, r.attempts_flag.as_deref()), (Some(3), None));
    let o = recs.iter().find(|r| r.track == "other").unwrap();
    assert_eq!(o.attempts, None);
    assert!(o.attempts_flag.is_some());

    // `records show`: the count marked, and the flag under the table.
    let t = load(records).unwrap();
    let text = view::show(&t, Some(TINY)).unwrap().to_text();
    assert!(text.contains("2 ⚠"), "{text}");
    assert!(text.contains(&format!("  ⚠ #2: {why}\n")), "{text}");
    let other = view::show(&t, Some("other")).unwrap().to_text();
    assert!(other.contains("— ⚠"), "{other}");

    // The page: the flag as the cell's tooltip, linked to a footnote.
    let site = site(records, &records.join("site")).unwrap();
    let html = std::fs::read_to_string(&site.index).unwrap();
    let escaped = speedcert_analysis::site::html_escape(why);
    assert!(
        html.contains(&format!(
            "<td class=\"num attempts flagged\" title=\"{escaped}\"><a href=\"#attempt-flag-synthetic-tiny-2\">2 ⚠</a></td>"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<p class=\"note attempt-flag\" id=\"attempt-flag-synthetic-tiny-2\">⚠ #2: {escaped}</p>"
        )),
        "{html}"
    );
    assert!(html.contains("<td class=\"num attempts\">3</td>"), "{html}");
    let md = std::fs::read_to_string(&site.readme).unwrap();
    assert!(md.contains(" | 2 ⚠ | "), "{md}");
    assert!(md.contains(&format!("- ⚠ #2: {why}\n")), "{md}");
}

#[test]
fn without_a_ledger_records_certified_before_it_have_no_count_and_no_flag() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let keys = common::standard(records);
    let report = rebuild(records).unwrap();
    assert!(!ledger_path(records).exists());
    assert!(
        report.attempt_flags.is_empty(),
        "{:?}",
        report.attempt_flags
    );
    let recs = read_records(&report.records_csv).unwrap();
    assert_eq!(recs.len(), 3);
    assert!(
        recs.iter()
            .all(|r| r.attempts.is_none() && r.attempts_flag.is_none()),
        "{recs:?}"
    );
    let csv = std::fs::read_to_string(&report.records_csv).unwrap();
    assert!(
        csv.lines().skip(1).all(|l| l.ends_with(",,,harness")),
        "{csv}"
    );
    let text = view::show(&load(records).unwrap(), Some(TINY))
        .unwrap()
        .to_text();
    assert!(text.contains("Attempts") && !text.contains('⚠'), "{text}");

    // A plan that names an attempt with no ledger to back it is flagged all the same.
    write_expect(
        records,
        &spec(
            "bundles/tiny/2026-11-26-faster",
            TINY,
            "faster",
            "2026-11-26T10:00:00Z",
            Against::rerun("fast"),
            vec![
                cand(800.0, 2.60),
                base(900.0, 2.62),
                cand(805.0, 2.61),
                base(902.0, 2.61),
                cand(795.0, 2.61),
                base(899.0, 2.62),
            ],
        )
        .attempt(2, ""),
        &keys.signer,
        Verdict::NewRecord,
    );
    let report = rebuild(records).unwrap();
    let recs = read_records(&report.records_csv).unwrap();
    let f = record(&recs, "faster");
    assert_eq!(f.attempts, Some(2));
    assert_eq!(
        f.attempts_flag.as_deref(),
        Some("its plan says attempt 2, but ledger.jsonl holds no line for it")
    );
    assert_eq!(report.attempt_flags.len(), 1, "{:?}", report.attempt_flags);
}

/// Re-signs ledger line `number` (1-based) with `edit` applied to its entry.
fn edit_line(path: &Path, number: usize, signer: &Signer, edit: impl FnOnce(&mut LedgerEntry)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let envelope = Envelope::from_json(lines[number - 1].as_bytes()).unwrap();
    let mut e: LedgerEntry = serde_json::from_slice(&envelope.decode_payload().unwrap()).unwrap();
    edit(&mut e);
    let body = serde_json::to_vec(&e).unwrap();
    let signed = Envelope::sign(PAYLOAD_TYPE, &body, std::slice::from_ref(signer));
    lines[number - 1] = serde_json::to_string(&signed).unwrap();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn ledger_reasons(report: &RebuildReport) -> &[String] {
    let e = &report.attempt_flags[0];
    assert_eq!(e.bundle, LEDGER_FILE, "{:?}", report.attempt_flags);
    &e.reasons
}

#[test]
fn an_edited_or_unsigned_ledger_line_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let keys = third_attempt_backed(records);
    // A line signed by a key records/keys/ does not hold, chained correctly.
    let mut w = LedgerWriter::open(&ledger_path(records)).unwrap();
    let mut stray = earlier(TINY, "stray", 9).entry(Event::Started);
    stray.attempt = Some(1);
    w.append(stray, std::slice::from_ref(&keys.other)).unwrap();
    drop(w);
    let report = rebuild(records).unwrap();
    let reasons = ledger_reasons(&report);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].ends_with("ledger.jsonl:9: not signed by a trusted key"),
        "{reasons:?}"
    );

    // The key holder relabels the first try as another submission's, to hide it: the
    // line is signed, but the next no longer chains to it.
    edit_line(&ledger_path(records), 1, &keys.signer, |e| {
        e.submission = "someone-else".into();
        e.submission_sha256 = common::source_sha256("someone-else");
    });
    let report = rebuild(records).unwrap();
    let reasons = ledger_reasons(&report);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("ledger.jsonl:2: not chained to the line before it")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.ends_with("ledger.jsonl:9: not signed by a trusted key")),
        "{reasons:?}"
    );
    // The relabelled try no longer counts: the record's earlier attempts look missing.
    assert_eq!(report.attempt_flags[1].bundle, REFERENCE);
    assert!(
        report.attempt_flags[1].reasons[0].contains("1 are missing"),
        "{:?}",
        report.attempt_flags
    );
    let text = report.to_text();
    let ledger = ledger_path(records);
    assert!(
        text.contains(&format!(
            "warning: {}:2: not chained to the line before it",
            ledger.display()
        )),
        "{text}"
    );
    assert!(text.contains("attempt warnings\n"), "{text}");
    // Still a warning: the record stays.
    assert!(report.all_included());
    assert_eq!(report.records, 1);
}

#[test]
fn records_csv_without_the_attempt_columns_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path();
    let _keys = third_attempt_backed(records);
    let report = rebuild(records).unwrap();
    let rows = read_records(&report.records_csv).unwrap();
    assert_eq!(rows[0].attempts, Some(3));
    // records.csv as written before the attempts and clock columns: drop them.
    let csv = std::fs::read_to_string(&report.records_csv).unwrap();
    let old: String = csv
        .lines()
        .map(|l| {
            let cut = l.rmatch_indices(',').nth(2).unwrap().0;
            format!("{}\n", &l[..cut])
        })
        .collect();
    assert!(old.starts_with(&format!(
        "{}\n",
        RECORD_COLUMNS[..RECORD_COLUMNS.len() - 3].join(",")
    )));
    std::fs::write(&report.records_csv, &old).unwrap();
    let read = read_records(&report.records_csv).unwrap();
    let mut expect = rows.clone();
    expect[0].attempts = None;
    assert_eq!(read, expect);
    // And show and the page work over it.
    let t = load(records).unwrap();
    let text = view::show(&t, None).unwrap().to_text();
    assert!(text.contains("Attempts"), "{text}");
    site(records, &records.join("site")).unwrap();
}
