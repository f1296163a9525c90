//! nightly.csv: appended in order under one header, a malformed file reported with its
//! line and left untouched; the nightly plot as SVG with the record's band and the
//! nights; and the page's "Nightly reruns" sections, present only when nights exist.

mod common;

use std::path::Path;

use speedcert_analysis::format::TimeUnit;
use speedcert_analysis::nightly::{
    NIGHTLY_COLUMNS, NIGHTLY_CSV, NightlyRow, append_nightly, read_nightly,
};
use speedcert_analysis::{plot, rebuild, site};

/// A night of `track` rerunning record #`number` at `mean_ms`; drift when `drift`.
fn night(track: &str, date: &str, number: u32, mean_ms: f64, drift: bool) -> NightlyRow {
    let record_mean = 900.0 + 100.0 * f64::from(2 - number.min(2));
    let change = (mean_ms - record_mean) / record_mean * 100.0;
    NightlyRow {
        date: date.to_string(),
        created_at: format!("{date}T02:15:00Z"),
        track: track.to_string(),
        submission: if number == 1 { "reference" } else { "fast" }.to_string(),
        record_bundle: format!("bundles/tiny/record-{number}"),
        record_number: number,
        bundle: format!("nightly/{date}/{track}"),
        runs: 3,
        failed: 0,
        time_mean_ms: Some(mean_ms),
        time_sd_ms: Some(6.0),
        record_time_mean_ms: record_mean,
        record_time_sd_ms: Some(5.0),
        time_change_pct: Some(change),
        time_change_ci_low_pct: Some(change - 0.8),
        time_change_ci_high_pct: Some(change + 0.8),
        time_p: Some(if drift { 0.0002 } else { 0.41 }),
        loss_mean: Some(3.251),
        record_loss_mean: Some(3.25),
        loss_change_pct: Some(0.03),
        loss_p: Some(0.7),
        threshold: 0.01,
        drift,
        env_changed: drift,
        env_changes: if drift {
            "driver 570.1 -> 580.159; binary_sha256 ab12.. -> cd34..".to_string()
        } else {
            String::new()
        },
        verdict: if drift { "time drift" } else { "no drift" }.to_string(),
    }
}

/// A night whose runs all failed: no time, no loss.
fn failed_night(track: &str, date: &str) -> NightlyRow {
    NightlyRow {
        failed: 3,
        time_mean_ms: None,
        time_sd_ms: None,
        time_change_pct: None,
        time_change_ci_low_pct: None,
        time_change_ci_high_pct: None,
        time_p: None,
        loss_mean: None,
        loss_change_pct: None,
        loss_p: None,
        drift: true,
        verdict: "runs failed".to_string(),
        ..night(track, date, 2, 900.0, false)
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != NIGHTLY_CSV)
        .collect()
}

#[test]
fn append_twice_then_read_back_in_order_under_one_header() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        read_nightly(dir.path()).unwrap().is_empty(),
        "no file, no nights"
    );
    let a = night("synthetic-tiny", "2026-11-23", 2, 903.0, false);
    let b = failed_night("synthetic-tiny", "2026-11-24");
    let c = night("synthetic-tiny", "2026-11-25", 2, 955.0, true);
    let path = append_nightly(dir.path(), &a).unwrap();
    assert_eq!(path, dir.path().join(NIGHTLY_CSV));
    append_nightly(dir.path(), &b).unwrap();
    append_nightly(dir.path(), &c).unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], NIGHTLY_COLUMNS.join(","));
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(text.matches("date,created_at,").count(), 1, "{text}");
    assert!(lines[1].starts_with("2026-11-23,"), "{text}");
    assert!(
        lines[3].contains("\"driver 570.1 -> 580.159; binary_sha256 ab12.. -> cd34..\"")
            || lines[3].contains("driver 570.1 -> 580.159; binary_sha256 ab12.. -> cd34.."),
        "{text}"
    );
    assert_eq!(read_nightly(dir.path()).unwrap(), vec![a, b, c]);

    // The evaluator writes NaN for a record with no usable times; it reads back as NaN.
    let mut d = night("synthetic-tiny", "2026-11-26", 2, 903.0, false);
    d.record_time_mean_ms = f64::NAN;
    append_nightly(dir.path(), &d).unwrap();
    let back = read_nightly(dir.path()).unwrap();
    assert_eq!(back.len(), 4);
    assert!(back[3].record_time_mean_ms.is_nan());
    assert!(leftovers(dir.path()).is_empty(), "temp files left behind");
}

#[test]
fn a_malformed_file_is_reported_with_its_line_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = append_nightly(
        dir.path(),
        &night("synthetic-tiny", "2026-11-23", 2, 903.0, false),
    )
    .unwrap();
    let good = std::fs::read_to_string(&path).unwrap();
    let row = good.lines().nth(1).unwrap();
    let next = night("synthetic-tiny", "2026-11-24", 2, 903.0, false);

    // A value of the wrong type on line 3.
    let mut fields: Vec<&str> = row.split(',').collect();
    let time_mean = NIGHTLY_COLUMNS
        .iter()
        .position(|c| *c == "time_mean_ms")
        .unwrap();
    fields[time_mean] = "fast";
    let bad_value = format!("{good}{}\n", fields.join(","));
    // A row cut short, as a non-atomic writer interrupted mid-line leaves it.
    let truncated = format!("{good}{}\n", &row[..40]);
    // Another tool's columns: rewriting would drop them.
    let other_header = good.replacen("date,created_at", "day,created_at", 1);
    for (bytes, expect) in [
        (&bad_value, "line 3: column `time_mean_ms`"),
        (&truncated, "line 3: "),
        (
            &other_header,
            "line 1 (header): column 1 is `day`, expected `date`",
        ),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let e = append_nightly(dir.path(), &next).unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains(expect), "{e}\nexpected {expect:?}");
        assert_eq!(&std::fs::read_to_string(&path).unwrap(), bytes);
        assert!(leftovers(dir.path()).is_empty(), "temp files left behind");
    }
    // Reading reports the same line.
    std::fs::write(&path, &bad_value).unwrap();
    let e = read_nightly(dir.path()).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains(NIGHTLY_CSV), "{e}");
}

#[test]
fn a_row_the_page_could_not_use_is_refused_before_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = night("synthetic-tiny", "2026-11-23", 2, 903.0, false);
    r.verdict = "looks fine".into();
    let e = append_nightly(dir.path(), &r).unwrap_err().to_string();
    assert!(e.contains("nightly.csv") && e.contains("`verdict`"), "{e}");
    r.verdict = "no drift".into();
    r.date = "2026-02-31".into();
    let e = append_nightly(dir.path(), &r).unwrap_err().to_string();
    assert!(e.contains("`date`") && e.contains("2026-02-31"), "{e}");
    assert!(!dir.path().join(NIGHTLY_CSV).exists());
}

/// Two records' periods, a drifted night and a failed one.
fn history() -> Vec<NightlyRow> {
    vec![
        night("synthetic-tiny", "2026-11-20", 1, 1004.0, false),
        night("synthetic-tiny", "2026-11-21", 1, 998.0, false),
        night("synthetic-tiny", "2026-11-23", 2, 902.0, false),
        failed_night("synthetic-tiny", "2026-11-24"),
        night("synthetic-tiny", "2026-11-25", 2, 960.0, true),
        // Another track's night: ignored by the plot.
        night("other", "2026-11-25", 1, 5.0, false),
    ]
}

#[test]
fn the_plot_is_svg_with_the_record_band_and_the_nights() {
    let rows = history();
    let svg = plot::nightly("synthetic-tiny", &rows, TimeUnit::Ms).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for t in [
        "synthetic-tiny: nightly reruns",
        "record mean ± 2σ",
        "record mean",
        "night (mean ± σ)",
        "night with drift (mean ± σ)",
        "runs failed (no time)",
        "record #1",
        "record #2",
    ] {
        assert!(texts.contains(&t), "{t:?} not in {texts:?}");
    }
    // The band: one translucent blue rectangle per record period, plus its legend swatch.
    let band = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#2171B5"))
        .count();
    assert_eq!(band, 3, "{svg}");
    // Three ordinary nights as circles (plus the legend's), the drifted one as a
    // triangle (plus the legend's).
    let dark = |n: &roxmltree::Node| n.attribute("fill") == Some("#282828");
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && dark(n))
        .count();
    assert_eq!(circles, 4, "{svg}");
    let triangles = doc
        .descendants()
        .filter(|n| n.has_tag_name("polygon") && n.attribute("fill") == Some("#C81E1E"))
        .count();
    assert_eq!(triangles, 2, "{svg}");
    // The same input gives the same bytes.
    assert_eq!(
        svg,
        plot::nightly("synthetic-tiny", &rows, TimeUnit::Ms).unwrap()
    );
    // A one-run record has no σ: the band is the reruns' largest σ, and says so.
    let mut one_run = history();
    for r in &mut one_run {
        r.record_time_sd_ms = None;
    }
    let svg = plot::nightly("synthetic-tiny", &one_run, TimeUnit::Ms).unwrap();
    assert!(svg.contains("record mean ± 2σ (no σ: ± largest nightly σ)"));
    // A record with no usable times (NaN mean) has no band and no line, only nights.
    for r in &mut one_run {
        r.record_time_mean_ms = f64::NAN;
    }
    let svg = plot::nightly("synthetic-tiny", &one_run, TimeUnit::Ms).unwrap();
    roxmltree::Document::parse(&svg).unwrap();
    assert!(!svg.contains("record mean"));
    assert!(svg.contains("night with drift (mean ± σ)"));
    // No nights is an empty plot, not an error.
    let empty = plot::nightly("synthetic-tiny", &[], TimeUnit::S).unwrap();
    roxmltree::Document::parse(&empty).unwrap();
}

#[test]
fn the_site_shows_nightly_sections_only_when_nights_exist() {
    let dir = tempfile::tempdir().unwrap();
    let _keys = common::standard(dir.path());
    rebuild(dir.path()).unwrap();

    let before = site(dir.path(), &dir.path().join("site-before")).unwrap();
    let html = std::fs::read_to_string(&before.index).unwrap();
    let md = std::fs::read_to_string(&before.readme).unwrap();
    assert!(!html.contains("nightly") && !html.contains("Nightly"));
    assert!(!md.contains("Nightly"));
    assert!(
        !before
            .plots
            .iter()
            .any(|p| p.ends_with("synthetic-tiny-nightly.svg"))
    );
    // A nightly.csv with a header and no nights changes nothing.
    std::fs::write(
        dir.path().join(NIGHTLY_CSV),
        format!("{}\n", NIGHTLY_COLUMNS.join(",")),
    )
    .unwrap();
    let header_only = site(dir.path(), &dir.path().join("site-header")).unwrap();
    assert_eq!(html, std::fs::read_to_string(&header_only.index).unwrap());
    assert_eq!(md, std::fs::read_to_string(&header_only.readme).unwrap());
    std::fs::remove_file(dir.path().join(NIGHTLY_CSV)).unwrap();

    // Sixteen nights of synthetic-tiny (the last drifted) and one of a track with no
    // certified section.
    for day in 1..=16 {
        let date = format!("2026-12-{day:02}");
        append_nightly(
            dir.path(),
            &night(
                "synthetic-tiny",
                &date,
                2,
                900.0 + f64::from(day),
                day == 16,
            ),
        )
        .unwrap();
    }
    append_nightly(dir.path(), &night("ghost", "2026-12-16", 1, 1003.0, false)).unwrap();

    let after = site(dir.path(), &dir.path().join("site-after")).unwrap();
    let html = std::fs::read_to_string(&after.index).unwrap();
    let plot = dir
        .path()
        .join("site-after/plots/synthetic-tiny-nightly.svg");
    assert!(after.plots.contains(&plot), "{:?}", after.plots);
    roxmltree::Document::parse(&std::fs::read_to_string(&plot).unwrap()).unwrap();
    assert_eq!(html.matches("<svg").count(), after.plots.len());

    // Inside the certified section, after its other plots.
    let section = html.find("id=\"track-synthetic-tiny\"").unwrap();
    let nightly = html
        .find("<section class=\"nightly\" id=\"nightly-synthetic-tiny\">")
        .unwrap();
    let end = section + html[section..].find("</section>\n</section>").unwrap();
    assert!(section < nightly && nightly < end);
    assert!(html[nightly..].contains("<h3>Nightly reruns</h3>"));
    let table_at = html.find("id=\"nightly-table-synthetic-tiny\"").unwrap();
    let table = &html[table_at..table_at + html[table_at..].find("</table>").unwrap()];
    assert_eq!(table.matches("<tr ").count(), 14, "the last 14 nights");
    assert!(table.contains(
        "<td class=\"date\" title=\"bundle nightly/2026-12-16/synthetic-tiny\">2026-12-16</td>"
    ));
    assert!(!table.contains(">2026-12-02</td>"));
    // Newest first, drifted night marked.
    let newest = table.find("2026-12-16").unwrap();
    assert!(newest < table.find("2026-12-15").unwrap());
    assert_eq!(table.matches("<tr class=\"drift\"").count(), 1);
    assert!(table.contains("driver 570.1 -&gt; 580.159"));
    assert!(table.contains("0.0002 &lt; 0.01"));
    assert!(html.contains("Latest night, 2026-12-16: time drift"));

    // The track with nights only still gets a section, in name order, and a nav link.
    let ghost = html
        .find("<section class=\"nightly-only\" id=\"track-ghost\">")
        .unwrap();
    assert!(html.contains("id=\"nightly-ghost\""));
    assert!(html.contains("<li><a href=\"#track-ghost\">ghost</a></li>"));
    let other = html.find("id=\"track-other\"").unwrap();
    assert!(
        ghost < other && other < section,
        "sections out of name order"
    );
    assert!(after.plots.iter().any(|p| p.ends_with("ghost-nightly.svg")));

    let md = std::fs::read_to_string(&after.readme).unwrap();
    let certified = md.find("## Certified records").unwrap();
    let nights = md.find("## Nightly reruns").unwrap();
    let imported = md.find("## Imported, unverified").unwrap();
    assert!(certified < nights && nights < imported, "{md}");
    let part = &md[nights..imported];
    assert!(
        part.contains("| `synthetic-tiny` | 2026-12-16 | #2 |"),
        "{part}"
    );
    assert!(part.contains("**time drift**"), "{part}");
    assert!(part.contains("| `ghost` | 2026-12-16 | #1 |"), "{part}");
    assert!(
        !part.contains("2026-12-15"),
        "only the latest night per track: {part}"
    );
}
