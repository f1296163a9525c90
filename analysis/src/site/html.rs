//! The page's sections: a certified track (tables and plots), a track with only nightly
//! reruns, and the imported history.

use std::fmt::Write as _;
use std::path::Path;

use speedcert_bundle::run::Role;

use crate::bundle;
use crate::curves::{self, Budget, CurveRow};
use crate::error::{AnalysisError, Result};
use crate::format::{NONE, TimeUnit, fmt_loss};
use crate::imported::{Audit, ImportedRecord, imported_url, source_label};
use crate::nightly::NightlyRow;
use crate::plot::{self, DatedTime};
use crate::table::RecordRow;
use crate::verify::{Trust, Verification};
use crate::view::{
    FLAG, ImportedTrackView, Tables, TrackView, attempts_cell, audit_cell, current_line,
};

use super::cells::*;
use super::text::{html_escape, slug};

pub(super) const CSS: &str = "\
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
td.flagged{background:#fff3e0}td.flagged a{color:#8a4b00;text-decoration:none}
code{font-size:.9em}
";

/// Styles only the nightly sections use; added only when nightly.csv has rows, so a
/// page without nights stays byte-identical to what it was before nightly reruns.
pub(super) const NIGHTLY_CSS: &str = "\
section.nightly{margin-top:1.5rem}
tr.drift td{background:#fdecea}tr.drift td.verdict{color:#b71c1c;font-weight:600}
.badge.nightly{background:#1565c0}
";

/// Plots and the page, with their file names under `out_dir`.
pub(super) struct Page {
    pub(super) html: String,
    pub(super) plots: Vec<(String, String)>,
    pub(super) notes: Vec<String>,
}

pub(super) fn figure(
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

pub(super) fn certified_section(
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
            "<table class=\"records\" id=\"records-{s}\">\n<thead><tr><th>#</th><th>Record time (mean ± σ)</th><th>Description</th><th>Date</th><th>Bundle</th><th>Change</th><th>p (time)</th><th>Attempts</th><th>Val loss</th><th>Runs</th></tr></thead>\n<tbody>\n"
        );
        for r in &t.records {
            let _ = writeln!(
                page.html,
                "<tr data-status=\"certified\"><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"date\">{}</td><td><code title=\"attestation sha256 {}\">{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                r.number,
                html_escape(&record_time_cell(r, unit)),
                html_escape(&r.labelled_submission()),
                html_escape(&r.date),
                html_escape(&r.bundle_digest),
                html_escape(&r.bundle),
                html_escape(&change_cell(r)),
                html_escape(&p_cell(r)),
                attempts_td(&s, r),
                r.loss_mean
                    .map(fmt_loss)
                    .unwrap_or_else(|| NONE.to_string()),
                r.n
            );
        }
        page.html.push_str("</tbody></table>\n");
        for r in &t.records {
            if let Some(flag) = &r.attempts_flag {
                let _ = writeln!(
                    page.html,
                    "<p class=\"note attempt-flag\" id=\"attempt-flag-{s}-{}\">{FLAG} #{}: {}</p>",
                    r.number,
                    r.number,
                    html_escape(flag)
                );
            }
        }
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
    let points: Vec<&CurveRow> = tables
        .curves
        .iter()
        .filter(|c| c.track == t.track)
        .collect();
    if !points.is_empty() {
        let best = curves::best_by_budget(&points, Budget::Time);
        figure(
            page,
            &format!("{s}-frontier.svg"),
            "Every validation of every valid candidate run (grey) and the efficiency frontier (red): the best validation loss attained within each training-time budget.",
            plot::frontier(
                &format!("{}: efficiency frontier", t.track),
                &points
                    .iter()
                    .map(|p| (p.train_time_ms, p.val_loss))
                    .collect::<Vec<_>>(),
                &best.iter().map(|b| (b.budget, b.loss)).collect::<Vec<_>>(),
            ),
            out_dir,
        )?;
    }
    if let Some(cur) = t.current() {
        let dir = records_dir.join(&cur.bundle);
        match trust.verify(&dir)? {
            Verification::Genuine => {
                let b = bundle::read_bundle(&dir)?;
                let mut curves = Vec::new();
                let mut runs: Vec<_> = b.inputs.runs.iter().collect();
                runs.sort_by_key(|r| r.run_index);
                for run in runs {
                    if run.role != Role::Candidate {
                        continue;
                    }
                    let Some(Ok(log)) = b.inputs.steps.get(&run.run_index) else {
                        continue;
                    };
                    let c: Vec<(f64, f64)> = log
                        .rows
                        .iter()
                        .filter_map(|p| Some((p.train_time_ms, p.val_loss?)))
                        .collect();
                    if !c.is_empty() {
                        curves.push((format!("run {} (seed {})", run.run_index, run.seed), c));
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
                            Some(b.summary.target_val_loss),
                        ),
                        out_dir,
                    )?;
                }
            }
            Verification::NotGenuine(reasons) => {
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

/// A record's attempts cell: the count, and for a flagged one the flag as its tooltip,
/// linked to the footnote under the table (a tooltip alone is lost on touch screens).
fn attempts_td(slug: &str, r: &RecordRow) -> String {
    match &r.attempts_flag {
        Some(flag) => format!(
            "<td class=\"num attempts flagged\" title=\"{}\"><a href=\"#attempt-flag-{slug}-{}\">{}</a></td>",
            html_escape(flag),
            r.number,
            html_escape(&attempts_cell(r))
        ),
        None => format!(
            "<td class=\"num attempts\">{}</td>",
            html_escape(&attempts_cell(r))
        ),
    }
}

/// A track's "Nightly reruns" subsection: the quotable line, the plot against the
/// record's band, and the last [`NIGHTLY_TABLE_NIGHTS`] nights, newest first. `rows` is
/// the track's nights in night order.
pub(super) fn nightly_section(
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
pub(super) fn nightly_only_section(
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

pub(super) fn imported_row_html(r: &ImportedRecord, a: Option<&Audit>, has_audit: bool) -> String {
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

pub(super) fn imported_section(
    page: &mut Page,
    views: &[ImportedTrackView],
    out_dir: &Path,
) -> Result<()> {
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
