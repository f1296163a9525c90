//! `speedcert records site`: a static leaderboard page and records/README.md.
//!
//! The page is one self-contained index.html (inline CSS, SVG plots inlined, no script,
//! no external asset) so it opens from file:// and can be published by copying one
//! file; the plots are also written to plots/*.svg for reuse. Certified and imported
//! rows live in separate sections with separate styling, and every imported table,
//! plot and heading says "imported, unverified".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic::write_atomic;
use crate::bundle;
use crate::error::{AnalysisError, Result};
use crate::format::{NONE, TimeUnit, fmt_loss, fmt_ms, fmt_p};
use crate::frame;
use crate::frontier;
use crate::imported::{Audit, ImportedRecord};
use crate::nightly::{self, NightlyRow};
use crate::plot::{self, DatedTime};
use crate::rebuild::KEYS_DIR;
use crate::table::RecordRow;
use crate::verify::{Trust, Verdict};
use crate::view::{self, ImportedTrackView, Tables, TrackView, audit_cell, current_line};

/// What `site` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SiteReport {
    pub index: PathBuf,
    pub plots: Vec<PathBuf>,
    pub readme: PathBuf,
    /// Things a maintainer should know (e.g. a record bundle that no longer verifies).
    pub notes: Vec<String>,
}

/// File name of the generated markdown table inside the records folder.
pub const README_MD: &str = "README.md";

/// A file-name-safe slug of a track name.
fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').to_string()
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text for a markdown table cell.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `(repo, commit, path)` of a `github:OWNER/REPO@COMMIT:PATH` source string.
fn parse_source(source: &str) -> Option<(&str, &str, &str)> {
    let rest = source.strip_prefix("github:")?;
    let (repo, rest) = rest.split_once('@')?;
    let (commit, path) = rest.split_once(':')?;
    Some((repo, commit, path))
}

/// Absolute URL of a link found in an imported row: published links may be relative to
/// the publisher's repository, which would break once copied here.
pub fn imported_url(source: &str, link: &str) -> String {
    if link.is_empty() || link.contains("://") {
        return link.to_string();
    }
    match parse_source(source) {
        Some((repo, commit, _)) => format!(
            "https://github.com/{repo}/blob/{commit}/{}",
            link.trim_start_matches('/')
        ),
        None => link.to_string(),
    }
}

/// Human form of a source string ("KellerJordan/modded-nanogpt README.md @ f411b3d").
pub fn source_label(source: &str) -> String {
    match parse_source(source) {
        Some((repo, commit, path)) => {
            format!("{repo} {path} @ {}", commit.get(..12).unwrap_or(commit))
        }
        None => source.to_string(),
    }
}

fn record_time_cell(r: &RecordRow, unit: TimeUnit) -> String {
    match (r.time_mean_ms, r.time_sd_ms) {
        (Some(m), Some(sd)) => format!("{} ± {}", unit.fmt(m), unit.fmt(sd)),
        (Some(m), None) => unit.fmt(m),
        _ => NONE.to_string(),
    }
}

fn change_cell(r: &RecordRow) -> String {
    match (r.improvement_ms, r.improvement_pct) {
        (Some(ms), Some(pct)) => format!(
            "{}{} ({:+.1}%)",
            if ms > 0.0 { "-" } else { "+" },
            fmt_ms(ms.abs()),
            -pct
        ),
        _ => NONE.to_string(),
    }
}

fn p_cell(r: &RecordRow) -> String {
    match (r.p_value, r.threshold) {
        (Some(p), Some(t)) => format!("{} {} {t}", fmt_p(p), if p < t { "<" } else { "≥" }),
        (Some(p), None) => fmt_p(p),
        _ => NONE.to_string(),
    }
}

fn unit_of(t: &TrackView) -> TimeUnit {
    TimeUnit::for_ms(
        t.records
            .iter()
            .filter_map(|r| r.time_mean_ms)
            .fold(0.0, f64::max),
    )
}

/// Nights shown in a track's nightly table: two weeks, enough to see a trend start.
pub const NIGHTLY_TABLE_NIGHTS: usize = 14;

/// One unit for a track's nightly plot and table, from the largest time they show or
/// `at_least_ms` (the track's records table), so one section reads in one unit.
fn nightly_unit(rows: &[NightlyRow], at_least_ms: f64) -> TimeUnit {
    TimeUnit::for_ms(
        rows.iter()
            .flat_map(|r| [r.time_mean_ms, Some(r.record_time_mean_ms)])
            .flatten()
            .filter(|v| v.is_finite())
            .fold(at_least_ms, f64::max),
    )
}

fn night_time_cell(r: &NightlyRow, unit: TimeUnit) -> String {
    match (r.time_mean_ms.filter(|m| m.is_finite()), r.time_sd_ms) {
        (Some(m), Some(sd)) => format!("{} ± {}", unit.fmt(m), unit.fmt(sd)),
        (Some(m), None) => unit.fmt(m),
        _ => NONE.to_string(),
    }
}

fn night_record_time(r: &NightlyRow, unit: TimeUnit) -> Option<String> {
    let m = Some(r.record_time_mean_ms).filter(|m| m.is_finite())?;
    Some(match r.record_time_sd_ms {
        Some(sd) => format!("{} ± {}", unit.fmt(m), unit.fmt(sd)),
        None => unit.fmt(m),
    })
}

fn night_runs_cell(r: &NightlyRow) -> String {
    if r.failed > 0 {
        format!("{} ({} failed)", r.runs, r.failed)
    } else {
        r.runs.to_string()
    }
}

/// Change against the record with its 95% CI, as criterion prints it.
fn night_change_cell(r: &NightlyRow) -> String {
    match (
        r.time_change_pct,
        r.time_change_ci_low_pct,
        r.time_change_ci_high_pct,
    ) {
        (Some(c), Some(lo), Some(hi)) => format!("{c:+.2}% [{lo:+.2}%, {hi:+.2}%]"),
        (Some(c), _, _) => format!("{c:+.2}%"),
        _ => NONE.to_string(),
    }
}

fn night_p_cell(r: &NightlyRow) -> String {
    match r.time_p {
        Some(p) => format!(
            "{} {} {}",
            fmt_p(p),
            if p < r.threshold { "<" } else { "≥" },
            r.threshold
        ),
        None => NONE.to_string(),
    }
}

fn night_loss_cell(r: &NightlyRow) -> String {
    let Some(l) = r.loss_mean else {
        return NONE.to_string();
    };
    let extra: Vec<String> = r
        .loss_change_pct
        .map(|c| format!("{c:+.2}%"))
        .into_iter()
        .chain(r.loss_p.map(|p| format!("p = {}", fmt_p(p))))
        .collect();
    if extra.is_empty() {
        fmt_loss(l)
    } else {
        format!("{} ({})", fmt_loss(l), extra.join(", "))
    }
}

fn night_env_cell(r: &NightlyRow) -> String {
    match (r.env_changes.is_empty(), r.env_changed) {
        (false, _) => r.env_changes.clone(),
        (true, true) => "changed (not itemised)".to_string(),
        (true, false) => NONE.to_string(),
    }
}

/// The quotable line over a track's nightly table: the latest night against its record,
/// and how many nights drifted. `rows` is in night order.
fn nightly_line(rows: &[NightlyRow], unit: TimeUnit) -> Option<String> {
    let last = rows.last()?;
    let mut s = format!("Latest night, {}: {}", last.date, last.verdict);
    if last.has_time() {
        let _ = write!(
            s,
            "; {} ({} runs) against record #{}",
            night_time_cell(last, unit),
            last.runs - last.failed.min(last.runs),
            last.record_number
        );
        if let Some(rec) = night_record_time(last, unit) {
            let _ = write!(s, "'s {rec}");
        }
        if last.time_change_pct.is_some() {
            let _ = write!(s, ", {}", night_change_cell(last));
        }
        if last.time_p.is_some() {
            let _ = write!(s, " (p = {})", night_p_cell(last));
        }
    }
    let drifted = rows.iter().filter(|r| r.drift).count();
    let _ = write!(
        s,
        ". {} night{} since {}, {} with drift.",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        rows[0].date,
        drifted
    );
    Some(s)
}

fn nightly_markdown(s: &mut String, tables: &Tables) {
    let tracks = nightly::by_track(&tables.nightly);
    s.push_str("## Nightly reruns\n\n");
    s.push_str(
        "`speedcert nightly` reruns each track's current record and compares tonight's times and \
         losses with the record's certified runs (two-sided Welch tests at the track's threshold); \
         a night that differs significantly is marked as drift. Every night is a row of nightly.csv \
         and a signed bundle under nightly/. The latest night per track:\n\n",
    );
    s.push_str("| Track | Date | Record | Time (mean ± σ) | Change vs record (95% CI) | p (time) | Val loss | Verdict | Environment changes | Bundle |\n");
    s.push_str("| - | - | - | - | - | - | - | - | - | - |\n");
    for (track, rows) in &tracks {
        let Some(r) = rows.last() else { continue };
        // In the unit of the track's records table above.
        let records_max = tables
            .records
            .iter()
            .filter(|rec| &rec.track == track)
            .filter_map(|rec| rec.time_mean_ms)
            .fold(0.0, f64::max);
        let unit = nightly_unit(std::slice::from_ref(r), records_max);
        let _ = writeln!(
            s,
            "| `{}` | {} | #{} | {} | {} | {} | {} | {} | {} | [{}]({}) |",
            md_cell(track),
            r.date,
            r.record_number,
            night_time_cell(r, unit),
            night_change_cell(r),
            night_p_cell(r),
            night_loss_cell(r),
            // Bold, so an alarm stands out in a rendered README.
            if r.drift {
                format!("**{}**", md_cell(&r.verdict))
            } else {
                md_cell(&r.verdict)
            },
            md_cell(&night_env_cell(r)),
            md_cell(&r.bundle),
            r.bundle
        );
    }
    s.push('\n');
}

/// records/README.md: the certified chains and, apart, the imported histories, in the
/// layout of the speedrun README's table.
pub fn readme_markdown(tables: &Tables) -> Result<String> {
    let view = view::show(tables, None)?;
    let mut s = String::new();
    s.push_str("# Records\n\n");
    s.push_str(
        "Generated by `speedcert records site` from records.csv and imported/; do not edit by hand \
         (rerun `speedcert records rebuild` and `speedcert records site` instead).\n\n",
    );
    s.push_str("## Certified records\n\n");
    s.push_str(
        "Every row is a bundle in bundles/ whose signature and file digests `speedcert records rebuild` \
         verified against the keys in keys/, and whose verdict was \"new record\". Record time is the \
         mean (± standard deviation) of the certified runs; p is the one-sided Welch test of the time \
         improvement against the track's threshold.\n\n",
    );
    if view.tracks.iter().all(|t| t.records.is_empty()) {
        s.push_str("No certified records yet.\n\n");
    }
    for t in view.tracks.iter().filter(|t| !t.records.is_empty()) {
        let unit = unit_of(t);
        let _ = writeln!(s, "### Track `{}`\n", t.track);
        s.push_str("| # | Record time | Description | Date | Bundle | Change | p (time) | Val loss | Runs |\n");
        s.push_str("| - | - | - | - | - | - | - | - | - |\n");
        for r in &t.records {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | [{}]({}) | {} | {} | {} | {} |",
                r.number,
                record_time_cell(r, unit),
                md_cell(&r.submission),
                r.date,
                md_cell(&r.bundle),
                r.bundle,
                change_cell(r),
                p_cell(r),
                r.loss_mean
                    .map(fmt_loss)
                    .unwrap_or_else(|| NONE.to_string()),
                r.n
            );
        }
        if let Some(line) = current_line(t) {
            let _ = writeln!(s, "\n{line}");
        }
        s.push('\n');
    }
    if !tables.nightly.is_empty() {
        nightly_markdown(&mut s, tables);
    }
    s.push_str("## Imported, unverified\n\n");
    s.push_str(
        "History that no one here certified: record tables transcribed from other benchmarks' own \
         publications (imported/). speedcert has not rerun these results and no signature covers \
         them; they are shown for context only and never enter records.csv. Each file is made by a \
         program from the publisher's own table (`cargo run -p speedcert-analysis --example \
         import_history`), and its `published_row` column keeps every published row verbatim. \
         \"Audited from logs\" shows figures from `imported/NAME-audit.csv` (recomputed from the \
         publisher's run logs), joined on the record folder.\n\n",
    );
    if view.imported.is_empty() {
        s.push_str("No imported history.\n");
    }
    for v in &view.imported {
        let target = v.rows.first().and_then(|r| r.target_val_loss);
        let _ = writeln!(
            s,
            "### {}: {}{} (imported, unverified)\n\nSource: {}.\n",
            v.history,
            v.track,
            target
                .map(|t| format!(", target val loss ≤ {t}"))
                .unwrap_or_default(),
            source_label(&v.source)
        );
        let has_audit = v.audits.iter().any(Option::is_some);
        s.push_str("| # | Record time | Description | Date | Log | Contributors |");
        s.push_str(if has_audit {
            " Audited from logs |\n"
        } else {
            "\n"
        });
        s.push_str("| - | - | - | - | - | - |");
        s.push_str(if has_audit { " - |\n" } else { "\n" });
        for (r, a) in v.rows.iter().zip(&v.audits) {
            let desc = if r.description_link.is_empty() {
                md_cell(&r.description)
            } else {
                format!("[{}]({})", md_cell(&r.description), r.description_link)
            };
            let mut links = Vec::new();
            if !r.log.is_empty() {
                links.push(format!("[log]({})", imported_url(&r.source, &r.log)));
            }
            if !r.pr.is_empty() {
                links.push(format!("[PR]({})", r.pr));
            }
            let _ = write!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                md_cell(&r.number),
                md_cell(&r.record_time),
                desc,
                if r.date.is_empty() {
                    "-".to_string()
                } else {
                    r.date.clone()
                },
                if links.is_empty() {
                    "-".to_string()
                } else {
                    links.join(", ")
                },
                md_cell(&r.contributors)
            );
            if has_audit {
                let _ = write!(s, " {} |", md_cell(&audit_cell(a.as_ref())));
            }
            s.push('\n');
        }
        s.push('\n');
    }
    Ok(s)
}

/// Writes records_dir/README.md from the current tables.
pub fn write_readme(records_dir: &Path, tables: &Tables) -> Result<PathBuf> {
    let path = records_dir.join(README_MD);
    write_atomic(&path, readme_markdown(tables)?.as_bytes())?;
    Ok(path)
}

const CSS: &str = "\
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1b1b1b}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.5rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem;width:100%}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.date{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.summary{font-weight:600}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}
section.imported{background:#fff8e6;border:2px dashed #d08c00;padding:0 1rem 1rem;margin-top:3rem}
.badge{display:inline-block;background:#d08c00;color:#fff;border-radius:3px;padding:0 .4rem;font-size:.8rem;font-weight:600}
.badge.certified{background:#2e7d32}
.note{color:#8a4b00}
code{font-size:.9em}
";

/// Styles only the nightly sections use; added only when nightly.csv has rows, so a
/// page without nights stays byte-identical to what it was before nightly reruns.
const NIGHTLY_CSS: &str = "\
section.nightly{margin-top:1.5rem}
tr.drift td{background:#fdecea}tr.drift td.verdict{color:#b71c1c;font-weight:600}
.badge.nightly{background:#1565c0}
";

/// Plots and the page, with their file names under `out_dir`.
struct Page {
    html: String,
    plots: Vec<(String, String)>,
    notes: Vec<String>,
}

fn figure(
    page: &mut Page,
    name: &str,
    caption: &str,
    svg: std::result::Result<String, String>,
    out_dir: &Path,
) -> Result<()> {
    let svg = svg.map_err(|problem| AnalysisError::Plot {
        path: out_dir.join("plots").join(name),
        problem,
    })?;
    let _ = writeln!(
        page.html,
        "<figure id=\"fig-{}\">{}<figcaption>{} (<a href=\"plots/{}\">SVG</a>)</figcaption></figure>",
        html_escape(name.trim_end_matches(".svg")),
        svg,
        html_escape(caption),
        html_escape(name)
    );
    page.plots.push((name.to_string(), svg));
    Ok(())
}

fn certified_section(
    page: &mut Page,
    t: &TrackView,
    tables: &Tables,
    records_dir: &Path,
    trust: &Trust,
    nights: &[NightlyRow],
    out_dir: &Path,
) -> Result<()> {
    let s = slug(&t.track);
    let _ = write!(
        page.html,
        "<section class=\"certified\" id=\"track-{s}\">\n<h2>Track <code>{}</code> <span class=\"badge certified\">certified</span></h2>\n<p>{} record(s), {} bundle(s), {} certified run(s), {} failed.</p>\n",
        html_escape(&t.track),
        t.records.len(),
        t.bundles.len(),
        t.runs,
        t.failed_runs
    );
    if t.records.is_empty() {
        page.html.push_str("<p>No record yet: no verified bundle of this track has the verdict \"new record\".</p>\n");
    } else {
        let unit = unit_of(t);
        let _ = write!(
            page.html,
            "<table class=\"records\" id=\"records-{s}\">\n<thead><tr><th>#</th><th>Record time (mean ± σ)</th><th>Description</th><th>Date</th><th>Bundle</th><th>Change</th><th>p (time)</th><th>Val loss</th><th>Runs</th></tr></thead>\n<tbody>\n"
        );
        for r in &t.records {
            let _ = writeln!(
                page.html,
                "<tr data-status=\"certified\"><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"date\">{}</td><td><code title=\"attestation sha256 {}\">{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                r.number,
                html_escape(&record_time_cell(r, unit)),
                html_escape(&r.submission),
                html_escape(&r.date),
                html_escape(&r.bundle_digest),
                html_escape(&r.bundle),
                html_escape(&change_cell(r)),
                html_escape(&p_cell(r)),
                r.loss_mean
                    .map(fmt_loss)
                    .unwrap_or_else(|| NONE.to_string()),
                r.n
            );
        }
        page.html.push_str("</tbody></table>\n");
        if let Some(line) = current_line(t) {
            let _ = writeln!(page.html, "<p class=\"summary\">{}</p>", html_escape(&line));
        }
        let series = vec![(
            t.track.clone(),
            t.records
                .iter()
                .filter_map(|r| {
                    Some(DatedTime {
                        date: r.date.clone(),
                        time_ms: r.time_mean_ms?,
                    })
                })
                .collect::<Vec<_>>(),
        )];
        figure(
            page,
            &format!("{s}-record-time.svg"),
            "Record time against date (each record holds until the next).",
            plot::record_steps(&format!("{}: record time", t.track), &series, false),
            out_dir,
        )?;
    }
    let pts = frame::points_by_track(&tables.runs)
        .remove(&t.track)
        .unwrap_or_default();
    if !pts.is_empty() {
        let pareto = frontier::pareto(&pts);
        figure(
            page,
            &format!("{s}-frontier.svg"),
            "Every certified run (grey) and the efficiency frontier (red): the best final validation loss attained within each training-time budget.",
            plot::frontier(
                &format!("{}: efficiency frontier", t.track),
                &pts.iter().map(|p| (p.time_ms, p.loss)).collect::<Vec<_>>(),
                &pareto
                    .iter()
                    .map(|p| (p.time_ms, p.loss))
                    .collect::<Vec<_>>(),
            ),
            out_dir,
        )?;
    }
    if let Some(cur) = t.current() {
        let dir = records_dir.join(&cur.bundle);
        match trust.verify(&dir)? {
            Verdict::Genuine => {
                let b = bundle::read_bundle(&dir)?;
                let mut curves = Vec::new();
                for (run, run_dir) in b.runs.iter().zip(&b.run_dirs) {
                    if run.role != "candidate" {
                        continue;
                    }
                    let steps = bundle::read_steps(&run_dir.join("steps.csv"))?;
                    let c: Vec<(f64, f64)> = steps
                        .iter()
                        .filter_map(|p| Some((p.train_time_ms, p.val_loss?)))
                        .collect();
                    if !c.is_empty() {
                        curves.push((
                            format!(
                                "run {} (seed {})",
                                run.run_index,
                                run.seed.map_or("?".into(), |s| s.to_string())
                            ),
                            c,
                        ));
                    }
                }
                if !curves.is_empty() {
                    figure(
                        page,
                        &format!("{s}-val-loss.svg"),
                        &format!(
                            "Validation loss against train time of the current record's runs ({}).",
                            cur.submission
                        ),
                        plot::loss_curves(
                            &format!("{}: current record's validation loss", t.track),
                            &curves,
                            b.summary.target_val_loss,
                        ),
                        out_dir,
                    )?;
                }
            }
            Verdict::NotGenuine(reasons) => {
                let note = format!(
                    "{}: the current record's bundle no longer verifies ({}); its curves are not shown",
                    cur.bundle,
                    reasons.join("; ")
                );
                let _ = writeln!(page.html, "<p class=\"note\">{}</p>", html_escape(&note));
                page.notes.push(note);
            }
        }
    }
    let records_max = t
        .records
        .iter()
        .filter_map(|r| r.time_mean_ms)
        .fold(0.0, f64::max);
    nightly_section(
        page,
        &t.track,
        nights,
        nightly_unit(nights, records_max),
        out_dir,
    )?;
    page.html.push_str("</section>\n");
    Ok(())
}

/// A track's "Nightly reruns" subsection: the quotable line, the plot against the
/// record's band, and the last [`NIGHTLY_TABLE_NIGHTS`] nights, newest first. `rows` is
/// the track's nights in night order.
fn nightly_section(
    page: &mut Page,
    track: &str,
    rows: &[NightlyRow],
    unit: TimeUnit,
    out_dir: &Path,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let s = slug(track);
    let _ = writeln!(
        page.html,
        "<section class=\"nightly\" id=\"nightly-{s}\">\n<h3>Nightly reruns</h3>"
    );
    if let Some(line) = nightly_line(rows, unit) {
        let _ = writeln!(page.html, "<p class=\"summary\">{}</p>", html_escape(&line));
    }
    figure(
        page,
        &format!("{s}-nightly.svg"),
        "Each night's mean train time of the current record's submission (whiskers ± σ; red triangles: significant drift) against the record's mean and its ± 2σ band, per record.",
        plot::nightly(track, rows, unit),
        out_dir,
    )?;
    let shown = rows.len().min(NIGHTLY_TABLE_NIGHTS);
    let _ = write!(
        page.html,
        "<table class=\"nightly\" id=\"nightly-table-{s}\">\n<caption>Last {shown} of {} night(s), newest first; change and p against the record's certified runs; each date's tooltip names its bundle.</caption>\n<thead><tr><th>Date</th><th>Record</th><th>Runs</th><th>Time (mean ± σ)</th><th>Change (95% CI)</th><th>p (time)</th><th>Val loss</th><th>Verdict</th><th>Environment changes</th></tr></thead>\n<tbody>\n",
        rows.len()
    );
    for r in rows.iter().rev().take(NIGHTLY_TABLE_NIGHTS) {
        let _ = writeln!(
            page.html,
            "<tr{} data-verdict=\"{}\"><td class=\"date\" title=\"bundle {}\">{}</td><td class=\"num\"><span title=\"{}\">#{}</span></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"verdict\">{}</td><td>{}</td></tr>",
            if r.drift { " class=\"drift\"" } else { "" },
            html_escape(&r.verdict),
            html_escape(&r.bundle),
            html_escape(&r.date),
            html_escape(&r.record_bundle),
            r.record_number,
            html_escape(&night_runs_cell(r)),
            html_escape(&night_time_cell(r, unit)),
            html_escape(&night_change_cell(r)),
            html_escape(&night_p_cell(r)),
            html_escape(&night_loss_cell(r)),
            html_escape(&r.verdict),
            html_escape(&night_env_cell(r))
        );
    }
    page.html.push_str("</tbody></table>\n</section>\n");
    Ok(())
}

/// A track that has nights but no certified section (records.csv lost its rows, say
/// after a rebuild with bundles moved): its nights are shown all the same, headed so
/// they are not mistaken for a certified chain.
fn nightly_only_section(
    page: &mut Page,
    track: &str,
    rows: &[NightlyRow],
    out_dir: &Path,
) -> Result<()> {
    let _ = write!(
        page.html,
        "<section class=\"nightly-only\" id=\"track-{}\">\n<h2>Track <code>{}</code> <span class=\"badge nightly\">nightly reruns only</span></h2>\n<p class=\"note\">records.csv has no row for this track, so there is no certified chain to show; the nights below name the record bundles they reran.</p>\n",
        slug(track),
        html_escape(track)
    );
    nightly_section(page, track, rows, nightly_unit(rows, 0.0), out_dir)?;
    page.html.push_str("</section>\n");
    Ok(())
}

fn imported_row_html(r: &ImportedRecord, a: Option<&Audit>, has_audit: bool) -> String {
    let desc = if r.description_link.is_empty() {
        html_escape(&r.description)
    } else {
        format!(
            "<a href=\"{}\">{}</a>",
            html_escape(&r.description_link),
            html_escape(&r.description)
        )
    };
    let mut links = Vec::new();
    if !r.log.is_empty() {
        links.push(format!(
            "<a href=\"{}\">log</a>",
            html_escape(&imported_url(&r.source, &r.log))
        ));
    }
    if !r.pr.is_empty() {
        links.push(format!("<a href=\"{}\">PR</a>", html_escape(&r.pr)));
    }
    let mut row = format!(
        "<tr data-status=\"imported, unverified\"><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}{}</td><td class=\"date\">{}</td><td>{}</td><td>{}</td><td>imported, unverified</td>",
        html_escape(&r.number),
        html_escape(&r.record_time),
        desc,
        if r.kind == "record" {
            String::new()
        } else {
            format!(" <em>({})</em>", html_escape(&r.kind))
        },
        if r.date.is_empty() {
            NONE.to_string()
        } else {
            html_escape(&r.date)
        },
        if links.is_empty() {
            NONE.to_string()
        } else {
            links.join(", ")
        },
        html_escape(&r.contributors)
    );
    if has_audit {
        let _ = write!(row, "<td>{}</td>", html_escape(&audit_cell(a)));
    }
    row.push_str("</tr>\n");
    row
}

fn imported_section(page: &mut Page, views: &[ImportedTrackView], out_dir: &Path) -> Result<()> {
    if views.is_empty() {
        return Ok(());
    }
    page.html.push_str(
        "<section class=\"imported\" id=\"imported\">\n<h2>Imported history <span class=\"badge\">imported, unverified</span></h2>\n\
         <p class=\"note\">Transcribed from other benchmarks' own publications. speedcert has not rerun these results and no signature covers them: they are context, not certified records, and never enter records.csv.</p>\n",
    );
    let mut histories: Vec<&str> = views.iter().map(|v| v.history.as_str()).collect();
    histories.dedup();
    for h in histories {
        let series: Vec<(String, Vec<DatedTime>)> = views
            .iter()
            .filter(|v| v.history == h)
            .map(|v| {
                (
                    v.track.clone(),
                    v.rows
                        .iter()
                        .filter(|r| r.kind == "record" && !r.date.is_empty())
                        .filter_map(|r| {
                            Some(DatedTime {
                                date: r.date.clone(),
                                time_ms: r.time_s? * 1000.0,
                            })
                        })
                        .collect(),
                )
            })
            .collect();
        figure(
            page,
            &format!("imported-{}-record-time.svg", slug(h)),
            &format!(
                "{h}: published record time against date, log scale (imported, unverified; re-timings left out)."
            ),
            plot::record_steps(&format!("{h} (imported, unverified)"), &series, true),
            out_dir,
        )?;
    }
    for v in views {
        let has_audit = v.audits.iter().any(Option::is_some);
        let target = v.rows.first().and_then(|r| r.target_val_loss);
        let _ = write!(
            page.html,
            "<h3>{}: <code>{}</code>{} <span class=\"badge\">imported, unverified</span></h3>\n<p>Source: {}.</p>\n<table class=\"imported\" id=\"imported-{}-{}\">\n<thead><tr><th>#</th><th>Record time</th><th>Description</th><th>Date</th><th>Log</th><th>Contributors</th><th>Status</th>{}</tr></thead>\n<tbody>\n",
            html_escape(&v.history),
            html_escape(&v.track),
            target
                .map(|t| format!(", target val loss ≤ {t}"))
                .unwrap_or_default(),
            html_escape(&source_label(&v.source)),
            slug(&v.history),
            slug(&v.track),
            if has_audit {
                "<th>Audited from logs</th>"
            } else {
                ""
            }
        );
        for (r, a) in v.rows.iter().zip(&v.audits) {
            page.html
                .push_str(&imported_row_html(r, a.as_ref(), has_audit));
        }
        page.html.push_str("</tbody></table>\n");
    }
    page.html.push_str("</section>\n");
    Ok(())
}

/// Writes `out_dir/index.html` and `out_dir/plots/*.svg` from the tables of
/// `records_dir`, and `records_dir/README.md`.
pub fn site(records_dir: &Path, out_dir: &Path) -> Result<SiteReport> {
    let tables = view::load(records_dir)?;
    let trust = Trust::load(&records_dir.join(KEYS_DIR))?;
    let shown = view::show(&tables, None)?;
    let mut page = Page {
        html: String::new(),
        plots: Vec::new(),
        notes: Vec::new(),
    };
    let nights = nightly::by_track(&tables.nightly);
    let css = if nights.is_empty() {
        CSS.to_string()
    } else {
        format!("{CSS}{NIGHTLY_CSS}")
    };
    let _ = write!(
        page.html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>speedcert: training-speed records</title>\n<style>\n{css}</style>\n</head>\n<body>\n<h1>Training-speed records</h1>\n<p>Certified records are bundles whose signatures and file digests verified against the trusted keys; each was rerun on pinned software and beat the previous record at the track's significance threshold. Imported history is shown apart, at the end, and is not certified.</p>\n<nav><ul>\n"
    );
    // Certified tracks and tracks with only nights, in name order: the place track
    // sections go.
    let mut sections: Vec<(&str, Option<&TrackView>)> = shown
        .tracks
        .iter()
        .map(|t| (t.track.as_str(), Some(t)))
        .collect();
    for track in nights.keys() {
        if !shown.tracks.iter().any(|t| &t.track == track) {
            sections.push((track.as_str(), None));
        }
    }
    sections.sort_by_key(|(name, _)| *name);
    for (name, _) in &sections {
        let _ = writeln!(
            page.html,
            "<li><a href=\"#track-{}\">{}</a></li>",
            slug(name),
            html_escape(name)
        );
    }
    if !shown.imported.is_empty() {
        page.html
            .push_str("<li><a href=\"#imported\">Imported history (unverified)</a></li>\n");
    }
    page.html.push_str("</ul></nav>\n");
    if shown.tracks.is_empty() {
        page.html
            .push_str("<p id=\"no-certified\">No certified runs yet.</p>\n");
    }
    for (name, t) in &sections {
        let rows = nights.get(*name).map_or(&[][..], Vec::as_slice);
        match t {
            Some(t) => {
                certified_section(&mut page, t, &tables, records_dir, &trust, rows, out_dir)?
            }
            None => nightly_only_section(&mut page, name, rows, out_dir)?,
        }
    }
    imported_section(&mut page, &shown.imported, out_dir)?;
    page.html.push_str("<footer><p>Generated by <code>speedcert records site</code>.</p></footer>\n</body>\n</html>\n");

    let mut plots = Vec::new();
    for (name, svg) in &page.plots {
        let path = out_dir.join("plots").join(name);
        write_atomic(&path, svg.as_bytes())?;
        plots.push(path);
    }
    let index = out_dir.join("index.html");
    write_atomic(&index, page.html.as_bytes())?;
    let readme = write_readme(records_dir, &tables)?;
    Ok(SiteReport {
        index,
        plots,
        readme,
        notes: page.notes,
    })
}
