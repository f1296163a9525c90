//! The JSON export: the summary, for programs.
//!
//! Byte for byte what `io::write_json` puts in summary.json (pretty JSON and a final
//! newline), so an exported summary can be diffed against, or stand in for, the signed
//! one.

use super::{Certification, ExportError, Exporter};
use crate::summary::Summary;

pub(super) struct JsonExporter;

impl Exporter for JsonExporter {
    fn export(&self, cert: &Certification<'_>) -> Result<String, ExportError> {
        to_json(cert.summary)
    }
}

/// The summary as summary.json holds it.
pub fn to_json(summary: &Summary) -> Result<String, ExportError> {
    let mut text = serde_json::to_string_pretty(summary)?;
    text.push('\n');
    Ok(text)
}
