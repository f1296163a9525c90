//! Reading one log file: which files are logs, decompressing and decoding them, and
//! parsing every run they hold.

use std::path::Path;

use crate::parse::{RunLog, fingerprint, parse_trials};
use crate::paths::file_name;
use crate::tracks::Objective;

/// `.txt` and `.log` files, plain or gzipped (`.txt.gz`): the speedrun commits plain
/// logs; gzip lets an archive (or this crate's test fixtures) keep them small.
pub fn is_log_file(path: &Path) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with(".txt") || name.ends_with(".log")
}

/// Reads a log, decompressing `.gz` files. Bytes that are not UTF-8 are replaced
/// (logs are ASCII; a stray byte must not lose the run). Returns the text and the
/// size of the (decompressed) content.
pub fn read_log(path: &Path) -> std::io::Result<(String, usize)> {
    let bytes = std::fs::read(path)?;
    let bytes = if file_name(path).to_ascii_lowercase().ends_with(".gz") {
        let mut out = Vec::with_capacity(bytes.len() * 8);
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut out)?;
        out
    } else {
        bytes
    };
    let len = bytes.len();
    let text = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok((text, len))
}

/// A parsed log, or why the file could not be read.
pub(crate) type Parsed = Result<ParsedLog, String>;

pub(crate) struct ParsedLog {
    /// The file's run, or its last trial where it holds several (see `trials`).
    pub(crate) log: RunLog,
    /// The trials before the last, where the file holds several
    /// ([`crate::parse::parse_trials`]); empty for a log of one run.
    pub(crate) trials: Vec<RunLog>,
    /// Size of the (decompressed) content.
    pub(crate) bytes: usize,
    /// Fingerprint of the content, to find copies (with `bytes`).
    pub(crate) content: u64,
}

/// Reads and parses the log at `path`. On a track that competes on steps, each run
/// ends at its last validation (whose step is the result).
pub(crate) fn read_and_parse(path: &Path, objective: Objective) -> Parsed {
    let (text, bytes) = read_log(path).map_err(|e| e.to_string())?;
    let mut trials = parse_trials(&text);
    let mut log = trials.pop().expect("parse_trials returns at least one log");
    if objective == Objective::Steps {
        log.finish_at_last_validation();
        for trial in &mut trials {
            trial.finish_at_last_validation();
        }
    }
    Ok(ParsedLog {
        log,
        trials,
        bytes,
        content: fingerprint(text.as_bytes()),
    })
}

/// A log file of a record, parsed, with the log it duplicates if any.
pub(crate) struct LogEntry {
    /// Path relative to the folder audited.
    pub(crate) file: String,
    /// Path relative to the record folder.
    pub(crate) inner: String,
    pub(crate) parsed: Parsed,
    pub(crate) duplicate_of: Option<String>,
}
