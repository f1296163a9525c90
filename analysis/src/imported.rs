//! History that no one here certified: record tables transcribed from other benchmarks'
//! own publications (records/imported/NAME.csv), and, when present, figures audited
//! from their logs (records/imported/NAME-audit.csv).
//!
//! Imported rows are never mixed with certified ones: they have their own type, their
//! own section in every output, and each carries `status = "imported, unverified"`.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AnalysisError, Result, polars_ctx};

/// Folder, inside the records folder, holding imported histories.
pub const IMPORTED_DIR: &str = "imported";
/// Value of the `status` column of every imported row.
pub const IMPORTED_STATUS: &str = "imported, unverified";

/// The speedrun README's tables in order, with the target each states in its prose:
/// the GPT-2 small track (≤ 3.28) and the GPT-2 medium track (≤ 2.92). The track names
/// are the speedrun's own record folder names.
pub const MODDED_NANOGPT_TRACKS: &[(&str, Option<f64>)] = &[
    ("track_1_short", Some(3.28)),
    ("track_2_medium", Some(2.92)),
];

/// One row of an imported record history, as published by its benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedRecord {
    /// The publisher's track (e.g. `track_1_short`).
    pub track: String,
    /// Target validation loss of that track, as the publisher states it.
    pub target_val_loss: Option<f64>,
    /// Row number as published (re-timings repeat a number).
    pub number: String,
    /// Record time exactly as published ("3.142 minutes").
    pub record_time: String,
    /// `record_time` in seconds, for sorting and plotting.
    pub time_s: Option<f64>,
    /// Description with markdown links reduced to their text.
    pub description: String,
    /// First link of the description (announcement), empty when none.
    pub description_link: String,
    /// Date exactly as published (MM/DD/YY).
    pub date_published: String,
    /// The same date as YYYY-MM-DD, empty when none was published.
    pub date: String,
    /// First log link (a path in the publisher's repository), empty when none.
    pub log: String,
    /// Record folder of the log (`records/TRACK/FOLDER`), the key audits join on.
    pub record_folder: String,
    /// Pull-request link, empty when none.
    pub pr: String,
    /// Contributors cell with links reduced to their text.
    pub contributors: String,
    /// "record", or "re-timing" for rows the publisher marks as not a new record.
    pub kind: String,
    /// Always [`IMPORTED_STATUS`].
    pub status: String,
    /// Where the row was transcribed from: repository, path and commit.
    pub source: String,
    /// The published table row, verbatim, so nothing of the original is lost.
    pub published_row: String,
}

/// Column order of an imported CSV.
pub const IMPORTED_COLUMNS: &[&str] = &[
    "track",
    "target_val_loss",
    "number",
    "record_time",
    "time_s",
    "description",
    "description_link",
    "date_published",
    "date",
    "log",
    "record_folder",
    "pr",
    "contributors",
    "kind",
    "status",
    "source",
    "published_row",
];

/// Figures audited from the logs of one imported row: (column, value) pairs under the
/// audit file's own column names, since that file's schema is its author's.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Audit {
    pub figures: Vec<(String, String)>,
}

/// An imported history with, for each row, the audit figures joined to it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedHistory {
    /// File stem, e.g. `modded-nanogpt`.
    pub name: String,
    pub path: PathBuf,
    pub rows: Vec<ImportedRecord>,
    /// Parallel to `rows`; `None` when no audit row matched (or no audit file exists).
    pub audits: Vec<Option<Audit>>,
    /// The audit file that was joined, if one exists.
    pub audit_path: Option<PathBuf>,
}

impl ImportedHistory {
    /// Distinct tracks, in first-appearance order.
    pub fn tracks(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.track) {
                out.push(r.track.clone());
            }
        }
        out
    }
}

/// Parses a `[text](url)` markdown cell into (plain text, urls).
fn strip_links(cell: &str) -> (String, Vec<(String, String)>) {
    let mut plain = String::new();
    let mut links = Vec::new();
    let mut rest = cell;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let parsed = after.find("](").and_then(|close| {
            let url_part = &after[close + 2..];
            url_part.find(')').map(|end| {
                (
                    close,
                    &after[..close],
                    &url_part[..end],
                    &url_part[end + 1..],
                )
            })
        });
        match parsed {
            Some((_, text, url, tail)) => {
                plain.push_str(&rest[..open]);
                plain.push_str(text);
                links.push((text.to_string(), url.to_string()));
                rest = tail;
            }
            None => {
                plain.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    plain.push_str(rest);
    (
        plain.split_whitespace().collect::<Vec<_>>().join(" "),
        links,
    )
}

/// "45 minutes" / "5.8 hours" / "25.95 minutes*" / "90 seconds" → seconds, rounded to
/// the digits the text can carry (25.29 minutes is 1517.4 s, not the float product
/// 1517.3999999999999), so the CSV holds the number a reader would write.
pub fn parse_duration_s(text: &str) -> Option<f64> {
    let t = text.trim().trim_end_matches('*').trim();
    let (num, unit) = t.split_once(char::is_whitespace)?;
    let num = num.trim();
    let v: f64 = num.parse().ok()?;
    let decimals = num.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
    let unit = unit.trim().to_ascii_lowercase();
    let scale = if unit.starts_with("hour") || unit == "h" {
        3600.0
    } else if unit.starts_with("min") {
        60.0
    } else if unit.starts_with("sec") || unit == "s" {
        1.0
    } else if unit == "ms" {
        0.001
    } else {
        return None;
    };
    // Hours, minutes and seconds scale by whole numbers: no more decimals than
    // written; ms adds three.
    let digits = decimals + if scale < 1.0 { 3 } else { 0 };
    let factor = 10f64.powi(digits);
    Some((v * scale * factor).round() / factor)
}

/// "05/28/24" → "2024-05-28"; also accepts YYYY-MM-DD unchanged. Anything else → None.
pub fn normalise_date(text: &str) -> Option<String> {
    let t = text.trim();
    let b = t.as_bytes();
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && t.replace('-', "").bytes().all(|c| c.is_ascii_digit())
    {
        return Some(t.to_string());
    }
    let parts: Vec<&str> = t.split('/').collect();
    if parts.len() != 3 {
        return None;
    }
    let m: u32 = parts[0].parse().ok()?;
    let d: u32 = parts[1].parse().ok()?;
    let y: u32 = parts[2].parse().ok()?;
    let y = if parts[2].len() == 2 { 2000 + y } else { y };
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// The record folder (`records/TRACK/FOLDER`) of a log path in the speedrun's layout.
fn record_folder_of(log: &str) -> String {
    let parts: Vec<&str> = log.split('/').filter(|p| !p.is_empty()).collect();
    match parts.iter().position(|p| p.starts_with("track_")) {
        Some(i) if i + 1 < parts.len() => parts[..=i + 1].join("/"),
        _ => String::new(),
    }
}

/// The last path component that names a record folder, used as the join key with an
/// audit file (which may give a full path, a folder, or a log file path).
fn folder_key(s: &str) -> String {
    let folder = record_folder_of(s);
    let base = if folder.is_empty() { s } else { &folder };
    base.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string()
}

/// Parses the "World record history"-style markdown tables of a benchmark README (the
/// speedrun's layout: `| # | Record time | Description | Date | Log | Contributors |`).
///
/// `track_of_table` maps the table's position (0, 1, ...) to (track, target loss); the
/// README names tracks in prose, not in the table. Rows are kept verbatim in
/// `published_row`; no row is skipped, re-timings are marked `kind = "re-timing"`.
pub fn parse_readme_tables(
    markdown: &str,
    track_of_table: &[(&str, Option<f64>)],
    source: &str,
) -> Vec<ImportedRecord> {
    let mut out = Vec::new();
    let mut table: Option<usize> = None;
    let mut seen_tables = 0usize;
    for line in markdown.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("| # | Record time") {
            table = Some(seen_tables);
            seen_tables += 1;
            continue;
        }
        let Some(t) = table else { continue };
        if trimmed.starts_with("| -") || trimmed.starts_with("|-") {
            continue;
        }
        // Split on every pipe as markdown does: the README has cells like "init| 11/18/25".
        let cells: Vec<&str> = trimmed
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let is_row = cells.len() >= 5
            && cells[0].chars().all(|c| c.is_ascii_digit())
            && !cells[0].is_empty();
        if !is_row {
            table = None;
            continue;
        }
        let (track, target) = track_of_table
            .get(t)
            .map(|(n, l)| (n.to_string(), *l))
            .unwrap_or_else(|| (format!("table_{}", t + 1), None));
        let (description, dlinks) = strip_links(cells[2]);
        let (_, loglinks) = strip_links(cells[4]);
        let contributors_md = cells.get(5..).map(|c| c.join(" | ")).unwrap_or_default();
        let (contributors, _) = strip_links(&contributors_md);
        let log = loglinks
            .iter()
            .find(|(text, _)| text == "log")
            .map(|(_, url)| url.clone())
            .unwrap_or_default();
        let pr = loglinks
            .iter()
            .find(|(text, _)| text == "PR")
            .map(|(_, url)| url.clone())
            .unwrap_or_default();
        let retiming =
            contributors.contains("not a new record") || description.contains("not a new record");
        out.push(ImportedRecord {
            track,
            target_val_loss: target,
            number: cells[0].to_string(),
            record_time: cells[1].to_string(),
            time_s: parse_duration_s(cells[1]),
            description,
            description_link: dlinks.first().map(|l| l.1.clone()).unwrap_or_default(),
            date_published: cells[3].to_string(),
            date: normalise_date(cells[3]).unwrap_or_default(),
            record_folder: record_folder_of(&log),
            log,
            pr,
            contributors,
            kind: if retiming { "re-timing" } else { "record" }.to_string(),
            status: IMPORTED_STATUS.to_string(),
            source: source.to_string(),
            published_row: line.trim_end().to_string(),
        });
    }
    out
}

/// Where a row's README link names a record folder that does not exist in the
/// publisher's checkout at `repo_root` (a dead link: `2025-08-28_NewValemb` for the
/// real `2025-08-28_Medium_NewValemb`), replaces `record_folder` with the folder on
/// disk that holds the linked log's file, or else the only folder of that track with
/// the same date. `log` and `published_row` stay as published. Returns one line per
/// change, and per dead link left unresolved, for the importer to print.
pub fn resolve_record_folders(rows: &mut [ImportedRecord], repo_root: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    for row in rows.iter_mut() {
        if row.record_folder.is_empty() || repo_root.join(&row.record_folder).is_dir() {
            continue;
        }
        let Some((track_dir, folder)) = row.record_folder.rsplit_once('/') else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(repo_root.join(track_dir)) else {
            notes.push(format!(
                "{}: {track_dir} does not exist, left as published",
                row.record_folder
            ));
            continue;
        };
        let mut folders: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        folders.sort();
        let log_name = row.log.rsplit('/').next().unwrap_or("");
        let by_log: Vec<&String> = folders
            .iter()
            .filter(|f| {
                !log_name.is_empty() && repo_root.join(track_dir).join(f).join(log_name).is_file()
            })
            .collect();
        let date = folder.get(..10).unwrap_or(folder);
        let by_date: Vec<&String> = folders.iter().filter(|f| f.starts_with(date)).collect();
        let found = match (by_log.as_slice(), by_date.as_slice()) {
            ([one], _) | ([], [one]) => Some((*one).clone()),
            _ => None,
        };
        match found {
            Some(real) => {
                let resolved = format!("{track_dir}/{real}");
                notes.push(format!(
                    "{}: dead link, the folder on disk is {resolved}",
                    row.record_folder
                ));
                row.record_folder = resolved;
            }
            None => notes.push(format!(
                "{}: dead link, no single folder on disk holds {log_name} or starts with {date}; \
                 left as published",
                row.record_folder
            )),
        }
    }
    notes
}

/// Writes an imported history CSV (atomically).
pub fn write_imported(path: &Path, rows: &[ImportedRecord]) -> Result<()> {
    let bytes = crate::table::to_csv_bytes(rows, IMPORTED_COLUMNS)
        .map_err(|e| AnalysisError::csv(path, e))?;
    Ok(speedcert_fsio::write_atomic(
        path,
        &bytes,
        speedcert_fsio::Mode::Public,
    )?)
}

/// Every imported history in `records_dir/imported/` (each `NAME.csv` except the
/// `NAME-audit.csv` files, which are joined to their `NAME.csv`), sorted by name.
pub fn load_imported(records_dir: &Path) -> Result<Vec<ImportedHistory>> {
    let dir = records_dir.join(IMPORTED_DIR);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| AnalysisError::io(&dir, e))? {
        let path = entry.map_err(|e| AnalysisError::io(&dir, e))?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if let Some(stem) = file.strip_suffix(".csv")
            && !stem.ends_with("-audit")
        {
            names.push(stem.to_string());
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(format!("{name}.csv"));
            let rows: Vec<ImportedRecord> = crate::table::read_csv(&path)?;
            for (i, r) in rows.iter().enumerate() {
                if r.status != IMPORTED_STATUS {
                    return Err(AnalysisError::field(
                        &path,
                        "status",
                        format!(
                            "row {}: must be {IMPORTED_STATUS:?}, got {:?}",
                            i + 2,
                            r.status
                        ),
                    ));
                }
            }
            let audit_path = dir.join(format!("{name}-audit.csv"));
            let (audits, audit_path) = if audit_path.is_file() {
                (join_audit(&rows, &audit_path)?, Some(audit_path))
            } else {
                (vec![None; rows.len()], None)
            };
            Ok(ImportedHistory {
                name,
                path,
                rows,
                audits,
                audit_path,
            })
        })
        .collect()
}

/// Which audit columns are the join key and which are figures worth showing. Decided
/// from the header alone, since the audit file is written by another tool
/// (speedcert-audit's `records/imported/NAME-audit.csv`, or any table with a record
/// folder or date column).
#[derive(Debug)]
struct AuditLayout {
    folder: Option<usize>,
    /// Joined on only when there is no folder column: an audit's dates may be the
    /// folder's date, which is not always the published date.
    date: Option<usize>,
    figures: Vec<usize>,
}

/// The figures shown beside a published time, in this order: the audit's verdict, the
/// run count, the time (mean, sd, p against a baseline), the loss (mean, p against the
/// target). Each figure lists alternatives by preference; the first alternative that
/// matches a column wins. A handful, not every column: the full audit stays in its file.
type Rule = fn(&str) -> bool;
const FIGURE_RULES: &[&[Rule]] = &[
    &[|n| n == "verdict"],
    &[
        |n| n == "n",
        |n| matches!(n, "n_runs" | "runs" | "complete_runs"),
    ],
    &[|n| n.contains("time") && n.contains("mean") && !n.contains("baseline")],
    &[|n| {
        n.contains("time") && (n.contains("_sd") || n.contains("std")) && !n.contains("baseline")
    }],
    &[|n| {
        n.contains("time") && (n.ends_with("_p") || n.contains("p_value")) && !n.contains("mann")
    }],
    &[|n| n.contains("loss") && n.contains("mean")],
    &[|n| n.contains("loss") && (n.ends_with("_p") || n.contains("p_value"))],
    &[|n| matches!(n, "p" | "p_value" | "pvalue")],
];

fn audit_layout(header: &csv::StringRecord) -> AuditLayout {
    let names: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let find = |cands: &[&str]| names.iter().position(|n| cands.contains(&n.as_str()));
    let folder = find(&[
        "record_folder",
        "folder",
        "record_dir",
        "record_path",
        "record",
        "log_dir",
        "log",
        "log_path",
        "name",
        "record_name",
    ]);
    let date = find(&["date", "record_date"]);
    let mut figures: Vec<usize> = Vec::new();
    for alternatives in FIGURE_RULES {
        let hit = alternatives.iter().find_map(|rule| {
            names.iter().enumerate().position(|(i, n)| {
                Some(i) != folder && Some(i) != date && !figures.contains(&i) && rule(n)
            })
        });
        if let Some(i) = hit {
            figures.push(i);
        }
    }
    AuditLayout {
        folder,
        date: if folder.is_some() { None } else { date },
        figures,
    }
}

/// Left-joins the audit file onto the imported rows with polars, on the record folder
/// name, or on the date when the audit has no folder column. The folder is compared by its
/// last component (`2024-10-14_ModernArch`), so an audit may give a folder, a full
/// path or a log path. A track column, if any, is not joined on: its spelling is the
/// audit author's, and folder names are already distinct across the speedrun's tracks.
fn join_audit(rows: &[ImportedRecord], audit_path: &Path) -> Result<Vec<Option<Audit>>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(audit_path)
        .map_err(|e| AnalysisError::csv(audit_path, e))?;
    let header = rdr
        .headers()
        .map_err(|e| AnalysisError::csv(audit_path, e))?
        .clone();
    let layout = audit_layout(&header);
    if layout.folder.is_none() && layout.date.is_none() {
        return Err(AnalysisError::csv(
            audit_path,
            "has neither a record folder column (record_folder, folder, record, log, ...) nor a date column to join on",
        ));
    }
    let mut a_key: Vec<String> = Vec::new();
    let mut a_row: Vec<u32> = Vec::new();
    let mut records = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| AnalysisError::csv(audit_path, e))?;
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").trim().to_string();
        a_key.push(join_key(
            layout.folder.map(|_| folder_key(&get(layout.folder))),
            layout
                .date
                .map(|_| normalise_date(&get(layout.date)).unwrap_or_default()),
        ));
        a_row.push(i as u32);
        records.push(rec);
    }
    let i_key: Vec<String> = rows
        .iter()
        .map(|r| {
            join_key(
                layout.folder.map(|_| folder_key(&r.record_folder)),
                layout.date.map(|_| r.date.clone()),
            )
        })
        .collect();
    let i_row: Vec<u32> = (0..rows.len() as u32).collect();
    let left = df!("key" => i_key, "row" => i_row).map_err(polars_ctx("imported frame"))?;
    let right = df!("key" => a_key, "audit_row" => a_row).map_err(polars_ctx("audit frame"))?;
    // First audit row per key: an audit file listing a record twice is not our error to
    // raise, and taking the first keeps the output deterministic.
    let joined = left
        .lazy()
        .join(
            right
                .lazy()
                .group_by([col("key")])
                .agg([col("audit_row").min()]),
            [col("key")],
            [col("key")],
            JoinArgs::new(JoinType::Left),
        )
        .sort(["row"], SortMultipleOptions::default())
        .collect()
        .map_err(polars_ctx("audit join"))?;
    let audit_rows = joined
        .column("audit_row")
        .and_then(|c| c.u32().cloned())
        .map_err(polars_ctx("audit join result"))?;
    let header_names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let mut out = vec![None; rows.len()];
    let row_ids = joined
        .column("row")
        .and_then(|c| c.u32().cloned())
        .map_err(polars_ctx("audit join result"))?;
    for (row, arow) in row_ids.iter().zip(audit_rows.iter()) {
        let (Some(row), Some(arow)) = (row, arow) else {
            continue;
        };
        let key_empty =
            rows[row as usize].record_folder.is_empty() && rows[row as usize].date.is_empty();
        if key_empty {
            continue;
        }
        let rec = &records[arow as usize];
        let figures: Vec<(String, String)> = layout
            .figures
            .iter()
            .filter_map(|&c| {
                let v = rec.get(c).unwrap_or("").trim();
                (!v.is_empty()).then(|| (header_names[c].clone(), v.to_string()))
            })
            .collect();
        out[row as usize] = Some(Audit { figures });
    }
    Ok(out)
}

fn join_key(folder: Option<String>, date: Option<String>) -> String {
    [folder, date]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\u{1f}")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_carry_no_float_noise() {
        assert_eq!(parse_duration_s("25.29 minutes"), Some(1517.4));
        assert_eq!(parse_duration_s("3.142 minutes"), Some(188.52));
        assert_eq!(parse_duration_s("23.28 minutes"), Some(1396.8));
        assert_eq!(parse_duration_s("5.8 hours"), Some(20880.0));
        assert_eq!(parse_duration_s("1500 ms"), Some(1.5));
    }

    #[test]
    fn dead_links_resolve_to_the_folder_on_disk() {
        let repo = tempfile::tempdir().unwrap();
        let track = repo.path().join("records/track_2_medium");
        for f in [
            "2025-08-28_Medium_NewValemb",
            "2025-09-11_GPT2MediumX01",
            "2025-09-16_Snoo",
        ] {
            std::fs::create_dir_all(track.join(f)).unwrap();
        }
        std::fs::write(
            track.join("2025-09-11_GPT2MediumX01/000_592014ec-6781-4f59-b274-c4af68ccfe75.txt"),
            "log",
        )
        .unwrap();
        // Rows 9 and 10 of the track-2 table at f411b3d, and a live one.
        let md = "| # | Record time | Description | Date | Log | Contributors |\n\
            | - | - | - | - | - | - |\n\
            | 1 | 5.8 hours | x | 05/28/24 | [log](records/track_1_short/2024-05-28/main.log) | a |\n\n\
            | # | Record time | Description | Date | Log | Contributors |\n\
            | - | - | - | - | - | - |\n\
            | 9 | 24.12 minutes | Add two value embeddings | 08/28/25 | [log](records/track_2_medium/2025-08-28_NewValemb/036_61ef4351-7b68-4897-b440-a99221a1a629.txt) | @snimu |\n\
            | 10 | 24.07 minutes | Second input embedding | 09/11/25 | [log](records/track_2_medium/2025-09-11_SecondInputEmbed/000_592014ec-6781-4f59-b274-c4af68ccfe75.txt) | @snimu |\n\
            | 12 | 23.28 minutes | Snoo | 09/16/25 | [log](records/track_2_medium/2025-09-16_Snoo/000_01db7a67.txt) | @d |\n";
        let mut rows = parse_readme_tables(md, MODDED_NANOGPT_TRACKS, "test");
        assert_eq!(rows.len(), 4);
        let notes = resolve_record_folders(&mut rows[1..], repo.path());
        assert_eq!(
            rows[1].record_folder,
            "records/track_2_medium/2025-08-28_Medium_NewValemb"
        );
        assert_eq!(
            rows[2].record_folder,
            "records/track_2_medium/2025-09-11_GPT2MediumX01"
        );
        assert_eq!(
            rows[3].record_folder,
            "records/track_2_medium/2025-09-16_Snoo"
        );
        assert!(
            rows[2].log.contains("2025-09-11_SecondInputEmbed"),
            "log stays as published"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
    }
}
