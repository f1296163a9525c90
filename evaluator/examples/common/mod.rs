//! What the benchmark examples share: how a JSON report leaves the program.

use std::path::Path;

use serde::Serialize;

/// Writes `report` to `out` (atomically, so a killed run leaves no half file for
/// combine.py or parity.py to misread) and prints it on stdout when `json` is set.
/// Returns whether it printed, so the caller prints its own text otherwise.
pub fn emit_report(
    report: &impl Serialize,
    out: Option<&Path>,
    json: bool,
) -> anyhow::Result<bool> {
    let text = serde_json::to_string_pretty(report)?;
    if let Some(path) = out {
        speedcert_fsio::write_atomic(
            path,
            format!("{text}\n").as_bytes(),
            speedcert_fsio::Mode::Public,
        )?;
    }
    if json {
        println!("{text}");
    }
    Ok(json)
}
