//! site: index.html, SVG plots that parse as XML, records/README.md; imported history
//! kept apart and marked unverified; and the page rendered by headless Chromium.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use speedcert_analysis::imported::{MODDED_NANOGPT_TRACKS, parse_readme_tables, write_imported};
use speedcert_analysis::{rebuild, site};

const README: &str = "\
| # | Record time | Description | Date | Log | Contributors |
| - | - | - | - | - | - |
1 | 45 minutes | [llm.c baseline](https://github.com/karpathy/llm.c/discussions/481) | 05/28/24 | [log](records/track_1_short/2024-10-13_llmc/main.log) | @karpathy, llm.c contributors
2 | 31.4 minutes | [Tuned learning rate & rotary embeddings](https://x.com/a) | 06/06/24 | [log](records/track_1_short/2024-06-06_AdamW/f.log) | @kellerjordan0
21 | 2.997 minutes | 21st record with new timing | 02/01/25 | [log](records/track_1_short/2025-02-01_RuleTweak/e.txt) | not a new record, just re-timing #21
";

fn records_with_site() -> (
    tempfile::TempDir,
    common::Keys,
    speedcert_analysis::SiteReport,
) {
    let dir = tempfile::tempdir().unwrap();
    let keys = common::standard(dir.path());
    let rows = parse_readme_tables(
        README,
        MODDED_NANOGPT_TRACKS,
        "github:KellerJordan/modded-nanogpt@f411b3d346aa52d3504324ca93c230fd84c6c07f:README.md",
    );
    write_imported(&dir.path().join("imported/modded-nanogpt.csv"), &rows).unwrap();
    rebuild(dir.path()).unwrap();
    let out = dir.path().join("site");
    let report = site(dir.path(), &out).unwrap();
    (dir, keys, report)
}

#[test]
fn site_writes_page_plots_and_readme() {
    let (dir, _keys, report) = records_with_site();
    assert_eq!(report.index, dir.path().join("site/index.html"));
    let names: Vec<String> = report
        .plots
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "other-record-time.svg",
        "other-frontier.svg",
        "other-val-loss.svg",
        "synthetic-tiny-record-time.svg",
        "synthetic-tiny-frontier.svg",
        "synthetic-tiny-val-loss.svg",
        "imported-modded-nanogpt-record-time.svg",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    for p in &report.plots {
        let svg = std::fs::read_to_string(p).unwrap();
        let doc =
            roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            doc.root_element().tag_name().name(),
            "svg",
            "{}",
            p.display()
        );
        assert!(
            doc.descendants().count() > 20,
            "{}: suspiciously empty plot",
            p.display()
        );
    }
    // The current record's curves: its candidate runs only, from their step logs.
    let val_loss =
        std::fs::read_to_string(dir.path().join("site/plots/synthetic-tiny-val-loss.svg")).unwrap();
    for run in [
        "run 0 (seed 1000)",
        "run 2 (seed 1002)",
        "run 4 (seed 1004)",
    ] {
        assert!(
            val_loss.contains(run),
            "{run} missing from the val-loss plot"
        );
    }
    assert!(
        !val_loss.contains("run 1 (seed 1001)"),
        "a baseline run was plotted as the record's"
    );
    let imported_svg = std::fs::read_to_string(
        dir.path()
            .join("site/plots/imported-modded-nanogpt-record-time.svg"),
    )
    .unwrap();
    assert!(imported_svg.contains("imported, unverified"));
    assert!(imported_svg.contains("IMPORTED, UNVERIFIED"));

    let html = std::fs::read_to_string(&report.index).unwrap();
    // Self-contained: no external fetches of any kind.
    for bad in ["<script", "<link", "src=\"http", "@import", "url("] {
        assert!(!html.contains(bad), "index.html contains {bad}");
    }
    assert!(html.contains("<table class=\"records\" id=\"records-synthetic-tiny\">"));
    // Attempts beside each record: unknown for bundles certified before the ledger.
    assert!(
        html.contains("<th>p (time)</th><th>Attempts</th>"),
        "{html}"
    );
    assert_eq!(html.matches("<td class=\"num attempts\">—</td>").count(), 3);
    assert!(html.contains("<section class=\"imported\" id=\"imported\">"));
    // Certified rows come before the imported section, which is marked on every row.
    let certified_at = html.find("id=\"records-synthetic-tiny\"").unwrap();
    let imported_at = html.find("id=\"imported\"").unwrap();
    assert!(certified_at < imported_at);
    assert_eq!(
        html.matches("<tr data-status=\"imported, unverified\">")
            .count(),
        3
    );
    assert_eq!(html.matches("<tr data-status=\"certified\">").count(), 3);
    assert!(html.contains("Tuned learning rate &amp; rotary embeddings"));
    assert!(html.contains(
        "https://github.com/KellerJordan/modded-nanogpt/blob/f411b3d346aa52d3504324ca93c230fd84c6c07f/records/track_1_short/2024-10-13_llmc/main.log"
    ));
    assert!(
        !html.contains("cheater"),
        "a tampered bundle reached the page"
    );
    // Inline SVGs are the same plots as the files.
    assert_eq!(html.matches("<svg").count(), report.plots.len());

    let md = std::fs::read_to_string(&report.readme).unwrap();
    assert_eq!(report.readme, dir.path().join("README.md"));
    let certified = md.find("## Certified records").unwrap();
    let imported = md.find("## Imported, unverified").unwrap();
    assert!(certified < imported);
    assert!(md.contains("| # | Record time | Description | Date | Bundle | Change | p (time) | Attempts | Val loss | Runs |"), "{md}");
    assert!(md.contains("| 2 | 0.900 s ± 0.005 s | fast | 2026-11-22 | [bundles/tiny/2026-11-22-fast](bundles/tiny/2026-11-22-fast) |"), "{md}");
    assert!(md[imported..].contains("| 1 | 45 minutes | [llm.c baseline](https://github.com/karpathy/llm.c/discussions/481) | 2024-05-28 |"), "{md}");
    assert!(md[imported..].contains(
        "### modded-nanogpt: track_1_short, target val loss ≤ 3.28 (imported, unverified)"
    ));

    // Rerunning gives the same page and plots.
    let again = site(dir.path(), &dir.path().join("site2")).unwrap();
    assert_eq!(html, std::fs::read_to_string(&again.index).unwrap());
    for (a, b) in report.plots.iter().zip(&again.plots) {
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    }
}

#[test]
fn site_notes_a_record_bundle_tampered_after_rebuild() {
    let (dir, _keys, _) = records_with_site();
    let run = dir
        .path()
        .join("bundles/tiny/2026-11-22-fast/runs/run-000/steps.csv");
    let mut text = std::fs::read_to_string(&run).unwrap();
    // One more step than run.json counts: the digest no longer matches.
    text.push_str("40,20992,1000,2.0,2.5,0.02\n");
    std::fs::write(&run, text).unwrap();
    let report = site(dir.path(), &dir.path().join("site3")).unwrap();
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(
        report.notes[0].contains("bundles/tiny/2026-11-22-fast")
            && report.notes[0].contains("steps.csv")
    );
    assert!(
        !report
            .plots
            .iter()
            .any(|p| p.ends_with("synthetic-tiny-val-loss.svg"))
    );
}

fn find_chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn dump_dom(chromium: &Path, index: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", index.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn chromium_renders_the_records_table() {
    let Some(chromium) = find_chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "chromium is not installed, but CI is set: .ci/run must `apt-get install -y chromium`"
            );
        }
        eprintln!(
            "skipped: chromium not found on PATH (apt-get install chromium); set CI to make this fatal"
        );
        return;
    };
    let (_dir, _keys, report) = records_with_site();
    let dom = dump_dom(&chromium, &report.index.canonicalize().unwrap());
    // The browser parsed the table into rows and cells, and rendered the inline SVGs.
    assert!(dom.contains("id=\"records-synthetic-tiny\""), "{dom}");
    assert!(dom.contains("<td>fast</td>"), "{dom}");
    assert!(dom.contains("<tbody>"));
    assert!(dom.contains("<svg"));
    assert!(dom.contains("imported, unverified"));
}
