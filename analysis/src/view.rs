//! `speedcert records show` and `speedcert records frontier`: one result type each,
//! rendered as aligned text for a person and as JSON for a program (STYLE.md,
//! hyperfine: the same data exported from one internal result type).

use std::path::Path;

use serde::Serialize;

use crate::curves::{self, Budget, CURVES_CSV, CurveRow};
use crate::error::Result;
use crate::format::{Align, NONE, TimeUnit, ellipsize, fmt_loss, fmt_p, render_table};
use crate::frame::{self, BundleStats};
use crate::imported::{self, Audit, ImportedHistory, ImportedRecord};
use crate::nightly::{self, NightlyRow};
use crate::table::{self, RECORDS_CSV, RUNS_CSV, RecordRow, RunRow};

/// Everything the records folder publishes, loaded once.
#[derive(Debug, Clone)]
pub struct Tables {
    pub runs: Vec<RunRow>,
    /// Validations of valid candidate runs (the frontier's input).
    pub curves: Vec<CurveRow>,
    pub records: Vec<RecordRow>,
    pub imported: Vec<ImportedHistory>,
    /// nightly.csv in file order; empty when no night has run.
    pub nightly: Vec<NightlyRow>,
}

/// Reads runs.csv, records.csv, nightly.csv and the imported histories of a records
/// folder.
pub fn load(records_dir: &Path) -> Result<Tables> {
    Ok(Tables {
        runs: table::read_runs(&records_dir.join(RUNS_CSV))?,
        curves: curves::read_curves(&records_dir.join(CURVES_CSV))?,
        records: table::read_records(&records_dir.join(RECORDS_CSV))?,
        imported: imported::load_imported(records_dir)?,
        nightly: nightly::read_nightly(records_dir)?,
    })
}

/// Does `track` pass the `--track` filter? (`None` passes everything.)
fn keep(filter: Option<&str>, track: &str) -> bool {
    filter.is_none_or(|f| f == track)
}

/// One certified track in `show`.
#[derive(Debug, Clone, Serialize)]
pub struct TrackView {
    pub track: String,
    /// Certified runs of the track (all roles, all bundles).
    pub runs: usize,
    pub failed_runs: usize,
    pub bundles: Vec<BundleStats>,
    /// The record chain, oldest first.
    pub records: Vec<RecordRow>,
}

impl TrackView {
    /// The latest record, if any.
    pub fn current(&self) -> Option<&RecordRow> {
        self.records.last()
    }
}

/// An imported track in `show`, kept apart from certified ones.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedTrackView {
    /// History name (file stem), e.g. `modded-nanogpt`.
    pub history: String,
    pub track: String,
    /// Always "imported, unverified".
    pub status: String,
    pub source: String,
    pub rows: Vec<ImportedRecord>,
    /// Parallel to `rows`: audited figures, when an audit file exists and matched.
    pub audits: Vec<Option<Audit>>,
}

/// Result of `show`.
#[derive(Debug, Clone, Serialize)]
pub struct ShowView {
    pub tracks: Vec<TrackView>,
    pub imported: Vec<ImportedTrackView>,
}

/// Builds the `show` view, optionally for one track (certified or imported name).
pub fn show(tables: &Tables, track: Option<&str>) -> Result<ShowView> {
    let stats = frame::bundle_stats(&tables.runs)?;
    let mut names: Vec<String> = tables
        .runs
        .iter()
        .map(|r| r.track.clone())
        .chain(tables.records.iter().map(|r| r.track.clone()))
        .filter(|t| keep(track, t))
        .collect();
    names.sort();
    names.dedup();
    let tracks = names
        .into_iter()
        .map(|t| {
            let runs: Vec<&RunRow> = tables.runs.iter().filter(|r| r.track == t).collect();
            TrackView {
                runs: runs.len(),
                failed_runs: runs.iter().filter(|r| r.status != "ok").count(),
                bundles: stats.iter().filter(|s| s.track == t).cloned().collect(),
                records: tables
                    .records
                    .iter()
                    .filter(|r| r.track == t)
                    .cloned()
                    .collect(),
                track: t,
            }
        })
        .collect();
    Ok(ShowView {
        tracks,
        imported: imported_views(&tables.imported, track),
    })
}

/// Imported tracks passing the filter, in file order.
pub fn imported_views(
    histories: &[ImportedHistory],
    track: Option<&str>,
) -> Vec<ImportedTrackView> {
    let mut out = Vec::new();
    for h in histories {
        for t in h.tracks() {
            if !keep(track, &t) {
                continue;
            }
            let (rows, audits): (Vec<_>, Vec<_>) = h
                .rows
                .iter()
                .zip(&h.audits)
                .filter(|(r, _)| r.track == t)
                .map(|(r, a)| (r.clone(), a.clone()))
                .unzip();
            out.push(ImportedTrackView {
                history: h.name.clone(),
                source: rows
                    .first()
                    .map(|r: &ImportedRecord| r.source.clone())
                    .unwrap_or_default(),
                status: imported::IMPORTED_STATUS.to_string(),
                track: t,
                rows,
                audits,
            });
        }
    }
    out
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| NONE.to_string())
}

/// Audit figures as one short cell: `name=value, ...`.
pub fn audit_cell(a: Option<&Audit>) -> String {
    match a {
        Some(a) if !a.figures.is_empty() => a
            .figures
            .iter()
            .map(|(k, v)| {
                // Audit columns carry their unit in the name; show times as times.
                match (k.strip_suffix("_ms"), v.parse::<f64>()) {
                    (Some(name), Ok(ms)) => format!("{name}={}", crate::format::fmt_ms(ms)),
                    _ => format!("{k}={v}"),
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => NONE.to_string(),
    }
}

/// Marks an attempt count that cannot be trusted; the flag's text is printed apart.
pub const FLAG: &str = "⚠";

/// A record's attempt count: "3", "—" when unknown, "3 ⚠" when flagged.
pub fn attempts_cell(r: &RecordRow) -> String {
    let n = opt(r.attempts, |n| n.to_string());
    match r.attempts_flag {
        Some(_) => format!("{n} {FLAG}"),
        None => n,
    }
}

/// The flagged records of a chain as "⚠ #N: why" lines, so a reader of the table sees
/// what each mark means.
pub fn attempt_notes(records: &[RecordRow]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| {
            let flag = r.attempts_flag.as_deref()?;
            Some(format!("{FLAG} #{}: {flag}", r.number))
        })
        .collect()
}

/// The one-line summary a person can quote (hyperfine's "Summary").
pub fn current_line(t: &TrackView) -> Option<String> {
    let c = t.current()?;
    let mean = c.time_mean_ms?;
    let unit = TimeUnit::for_ms(mean);
    let mut s = format!(
        "Current record: {} ({}), {}{} ({} runs)",
        c.submission,
        c.date,
        unit.fmt(mean),
        c.time_sd_ms
            .map(|sd| format!(" ± {}", unit.fmt(sd)))
            .unwrap_or_default(),
        c.n
    );
    if let (Some(pct), Some(prev)) = (
        c.improvement_pct,
        c.number.checked_sub(1).filter(|&n| n > 0),
    ) {
        s.push_str(&format!(
            ", {:.1}% {} than #{prev}",
            pct.abs(),
            if pct >= 0.0 { "faster" } else { "slower" }
        ));
    }
    if let Some(p) = c.p_value {
        s.push_str(&format!(
            " (p = {}{})",
            fmt_p(p),
            c.threshold.map(|t| format!(" < {t}")).unwrap_or_default()
        ));
    }
    Some(s)
}

impl ShowView {
    /// Aligned text for a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if self.tracks.is_empty() {
            s.push_str("No certified runs yet (runs.csv is empty).\n");
        }
        for t in &self.tracks {
            s.push_str(&format!(
                "Track {}: {} record{}, {} bundle{}, {} certified run{} ({} failed)\n",
                t.track,
                t.records.len(),
                plural(t.records.len()),
                t.bundles.len(),
                plural(t.bundles.len()),
                t.runs,
                plural(t.runs),
                t.failed_runs
            ));
            if t.records.is_empty() {
                s.push_str(
                    "  no record yet: no bundle of this track has the verdict \"new record\"\n\n",
                );
                continue;
            }
            let unit = TimeUnit::for_ms(
                t.records
                    .iter()
                    .filter_map(|r| r.time_mean_ms)
                    .fold(0.0, f64::max),
            );
            let rows: Vec<Vec<String>> = t
                .records
                .iter()
                .map(|r| {
                    vec![
                        r.number.to_string(),
                        r.date.clone(),
                        match (r.time_mean_ms, r.time_sd_ms) {
                            (Some(m), Some(sd)) => format!("{} ± {}", unit.fmt(m), unit.fmt(sd)),
                            (Some(m), None) => unit.fmt(m),
                            _ => NONE.to_string(),
                        },
                        r.n.to_string(),
                        match (r.improvement_ms, r.improvement_pct) {
                            // Shown as a change (negative = faster), as criterion prints it.
                            (Some(ms), Some(pct)) => {
                                format!("{} ({:+.1}%)", signed(unit, -ms), -pct)
                            }
                            _ => NONE.to_string(),
                        },
                        opt(r.p_value, |p| match r.threshold {
                            Some(t) => {
                                format!("{} {} {t}", fmt_p(p), if p < t { "<" } else { "≥" })
                            }
                            None => fmt_p(p),
                        }),
                        attempts_cell(r),
                        opt(r.loss_mean, fmt_loss),
                        r.labelled_submission(),
                        r.bundle.clone(),
                    ]
                })
                .collect();
            s.push_str(&render_table(
                2,
                &[
                    "#",
                    "Date",
                    "Time (mean ± σ)",
                    "n",
                    "Change vs previous",
                    "p (time)",
                    "Attempts",
                    "Val loss",
                    "Submission",
                    "Bundle",
                ],
                &[
                    Align::Right,
                    Align::Left,
                    Align::Right,
                    Align::Right,
                    Align::Right,
                    Align::Left,
                    Align::Right,
                    Align::Right,
                    Align::Left,
                    Align::Left,
                ],
                &rows,
            ));
            for note in attempt_notes(&t.records) {
                s.push_str(&format!("  {note}\n"));
            }
            if let Some(line) = current_line(t) {
                s.push_str(&format!("  {line}\n"));
            }
            s.push('\n');
        }
        for v in &self.imported {
            s.push_str(&imported_text(v));
        }
        s
    }

    /// Pretty JSON of the same view.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A signed time: "-3.13 s" / "+0.20 s".
fn signed(unit: TimeUnit, ms: f64) -> String {
    let sign = if ms < 0.0 { "-" } else { "+" };
    format!("{sign}{}", unit.fmt(ms.abs()))
}

/// The text block of one imported track, headed so it cannot be mistaken for
/// certified results.
pub fn imported_text(v: &ImportedTrackView) -> String {
    let mut s = format!(
        "Imported, unverified: {} {} ({} rows; source {})\n  Published by its benchmark, not certified by speedcert: nothing here was rerun or signature-checked.\n",
        v.history,
        v.track,
        v.rows.len(),
        imported::source_label(&v.source)
    );
    let has_audit = v.audits.iter().any(Option::is_some);
    let rows: Vec<Vec<String>> = v
        .rows
        .iter()
        .zip(&v.audits)
        .map(|(r, a)| {
            let mut row = vec![
                r.number.clone(),
                r.record_time.clone(),
                if r.date.is_empty() {
                    NONE.to_string()
                } else {
                    r.date.clone()
                },
                ellipsize(&r.description, 60),
                if r.kind == "record" {
                    String::new()
                } else {
                    r.kind.clone()
                },
            ];
            if has_audit {
                row.push(audit_cell(a.as_ref()));
            }
            row
        })
        .collect();
    let mut headers = vec!["#", "Published time", "Date", "Description", "Kind"];
    let mut align = vec![
        Align::Right,
        Align::Right,
        Align::Left,
        Align::Left,
        Align::Left,
    ];
    if has_audit {
        headers.push("Audited from logs");
        align.push(Align::Left);
    }
    s.push_str(&render_table(2, &headers, &align, &rows));
    s.push('\n');
    s
}

/// One track's frontier: the best validation loss attained within each time and each
/// token budget, over every validation of every valid candidate run (curves.csv).
#[derive(Debug, Clone, Serialize)]
pub struct TrackFrontier {
    pub track: String,
    /// Valid candidate runs with at least one validation.
    pub runs: usize,
    /// Validation points considered.
    pub points: usize,
    /// Breakpoints of best loss against training time (ms).
    pub by_time: Vec<curves::BudgetStep>,
    /// Breakpoints of best loss against training tokens.
    pub by_tokens: Vec<curves::BudgetStep>,
}

/// Result of `frontier`.
#[derive(Debug, Clone, Serialize)]
pub struct FrontierView {
    pub tracks: Vec<TrackFrontier>,
}

/// Builds the frontier view from curves.csv's rows, optionally for one track.
pub fn frontier(curve_rows: &[CurveRow], track: Option<&str>) -> FrontierView {
    FrontierView {
        tracks: curves::by_track(curve_rows)
            .into_iter()
            .filter(|(t, _)| keep(track, t))
            .map(|(t, points)| {
                let runs: std::collections::BTreeSet<(&str, u32)> = points
                    .iter()
                    .map(|p| (p.bundle.as_str(), p.run_index))
                    .collect();
                TrackFrontier {
                    track: t,
                    runs: runs.len(),
                    points: points.len(),
                    by_time: curves::best_by_budget(&points, Budget::Time),
                    by_tokens: curves::best_by_budget(&points, Budget::Tokens),
                }
            })
            .collect(),
    }
}

impl FrontierView {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if self.tracks.is_empty() {
            s.push_str("No valid candidate runs: the frontier is empty.\n");
        }
        for t in &self.tracks {
            s.push_str(&format!(
                "Frontier {}: best validation loss attained within a budget, over {} validations of {} valid candidate runs\n",
                t.track, t.points, t.runs
            ));
            let unit = TimeUnit::for_ms(t.by_time.last().map_or(0.0, |p| p.budget));
            let step_rows = |steps: &[curves::BudgetStep], budget: &dyn Fn(f64) -> String| {
                steps
                    .iter()
                    .map(|b| {
                        vec![
                            format!("≤ {}", budget(b.budget)),
                            fmt_loss(b.loss),
                            ellipsize(&b.submission, 28),
                            format!("{}#{} step {}", b.bundle, b.run_index, b.step),
                        ]
                    })
                    .collect::<Vec<_>>()
            };
            let align = [Align::Right, Align::Right, Align::Left, Align::Left];
            s.push_str("  By training time:\n");
            s.push_str(&render_table(
                4,
                &["Budget", "Best loss", "Attained by", "Bundle#run"],
                &align,
                &step_rows(&t.by_time, &|ms| unit.fmt(ms)),
            ));
            s.push_str("  By training tokens:\n");
            s.push_str(&render_table(
                4,
                &["Budget", "Best loss", "Attained by", "Bundle#run"],
                &align,
                &step_rows(&t.by_tokens, &|n| format!("{n:.0} tokens")),
            ));
            s.push('\n');
        }
        s
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
