//! Calendar dates as a numeric axis: days since 1970-01-01 of a `YYYY-MM-DD` date (chrono
//! does the calendar), so plots and nightly.csv checks share one conversion.

use chrono::NaiveDate;

/// Days since 1970-01-01 of the `YYYY-MM-DD` date that starts `date`; `None` when it
/// is not a calendar date.
pub fn days_from_iso(date: &str) -> Option<f64> {
    let day = NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d").ok()?;
    Some(day.signed_duration_since(NaiveDate::default()).num_days() as f64)
}

/// Inverse of [`days_from_iso`] (the day containing `days`), for axis labels.
pub fn iso_from_days(days: f64) -> String {
    let day = NaiveDate::default() + chrono::Duration::days(days.floor() as i64);
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_iso("1970-01-01"), Some(0.0));
        assert_eq!(days_from_iso("2026-11-30T09:00:00Z"), Some(20_787.0));
        assert_eq!(iso_from_days(20_787.7), "2026-11-30");
        assert_eq!(days_from_iso("2024-02-30"), None);
        assert_eq!(days_from_iso("2024-13-01"), None);
        assert_eq!(days_from_iso("nope"), None);
    }
}
