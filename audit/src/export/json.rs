//! The JSON export: the whole report, every field, for programs.

use crate::report::AuditReport;

/// The JSON: the whole report.
pub fn to_json(report: &AuditReport) -> String {
    serde_json::to_string_pretty(report).expect("the report serialises")
}
