//! Dates: the day a record folder's name starts with, and the clock nvidia-smi prints
//! at the top of a run's log.

/// "2026-07-17_X" → "2026-07-17"; track 3's "20260611_x" → "2026-06-11".
pub(crate) fn record_date(name: &str) -> Option<String> {
    if let Some(d) = name.get(..8)
        && d.bytes().all(|b| b.is_ascii_digit())
        && name.as_bytes().get(8).is_none_or(|b| !b.is_ascii_digit())
    {
        return Some(format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]));
    }
    let d = name.get(..10)?;
    let b = d.as_bytes();
    let ok = b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        _ => c.is_ascii_digit(),
    });
    ok.then(|| d.to_string())
}

/// nvidia-smi's banner clock, "Fri Sep  5 15:45:09 2025" (no time zone).
pub(crate) fn smi_time(stamp: &str) -> Option<chrono::NaiveDateTime> {
    let fields: Vec<&str> = stamp.split_ascii_whitespace().collect();
    chrono::NaiveDateTime::parse_from_str(&fields.join(" "), "%a %b %d %H:%M:%S %Y").ok()
}

/// A day count, so folder and run dates can be compared in days.
pub(crate) fn days(day: chrono::NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(day.num_days_from_ce())
}

/// "2025-09-05" → its day count.
pub(crate) fn day_number(date: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .map(days)
}
