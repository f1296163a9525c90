//! File names and paths as the reports show them: relative to the folder audited or
//! to a record, with `/` separators.

use std::path::Path;

/// The last component of `path`, lossily as UTF-8 ("" if it has none).
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `path` relative to `root`, with `/` separators (`path` itself if not under it).
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// "track_1_short/2026-07-17_X/this_pr/statistics.md" → "this_pr/statistics.md".
pub(crate) fn strip_record<'a>(source: &'a str, record: &str) -> &'a str {
    let with_slash = format!("{record}/");
    if let Some(rest) = source.strip_prefix(&with_slash) {
        return rest;
    }
    source
        .find(&format!("/{with_slash}"))
        .map_or(source, |at| &source[at + with_slash.len() + 1..])
}
