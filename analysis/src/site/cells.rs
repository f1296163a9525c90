//! The table cells the README and the page share: record times, changes, p-values and
//! the nightly columns, each formatted once.

use std::fmt::Write as _;

use crate::format::{NONE, TimeUnit, fmt_loss, fmt_ms, fmt_p};
use crate::nightly::NightlyRow;
use crate::table::RecordRow;
use crate::view::TrackView;

pub(super) fn record_time_cell(r: &RecordRow, unit: TimeUnit) -> String {
    match (r.time_mean_ms, r.time_sd_ms) {
        (Some(m), Some(sd)) => format!("{} ± {}", unit.fmt(m), unit.fmt(sd)),
        (Some(m), None) => unit.fmt(m),
        _ => NONE.to_string(),
    }
}

pub(super) fn change_cell(r: &RecordRow) -> String {
    match (r.improvement_ms, r.improvement_pct) {
        (Some(ms), Some(pct)) => format!(
            "{}{} ({:+.1}%)",
            if ms > 0.0 { "-" } else { "+" },
            fmt_ms(ms.abs()),
            -pct
        ),
        _ => NONE.to_string(),
    }
}

pub(super) fn p_cell(r: &RecordRow) -> String {
    match (r.p_value, r.threshold) {
        (Some(p), Some(t)) => format!("{} {} {t}", fmt_p(p), if p < t { "<" } else { "≥" }),
        (Some(p), None) => fmt_p(p),
        _ => NONE.to_string(),
    }
}

pub(super) fn unit_of(t: &TrackView) -> TimeUnit {
    TimeUnit::for_ms(
        t.records
            .iter()
            .filter_map(|r| r.time_mean_ms)
            .fold(0.0, f64::max),
    )
}

/// Nights shown in a track's nightly table: two weeks, enough to see a trend start.
pub const NIGHTLY_TABLE_NIGHTS: usize = 14;

/// One unit for a track's nightly plot and table, from the largest time they show or
/// `at_least_ms` (the track's records table), so one section reads in one unit.
pub(super) fn nightly_unit(rows: &[NightlyRow], at_least_ms: f64) -> TimeUnit {
    TimeUnit::for_ms(
        rows.iter()
            .flat_map(|r| [r.time_mean_ms, Some(r.record_time_mean_ms)])
            .flatten()
            .filter(|v| v.is_finite())
            .fold(at_least_ms, f64::max),
    )
}

pub(super) fn night_time_cell(r: &NightlyRow, unit: TimeUnit) -> String {
    match (r.time_mean_ms.filter(|m| m.is_finite()), r.time_sd_ms) {
        (Some(m), Some(sd)) => format!("{} ± {}", unit.fmt(m), unit.fmt(sd)),
        (Some(m), None) => unit.fmt(m),
        _ => NONE.to_string(),
    }
}

pub(super) fn night_record_time(r: &NightlyRow, unit: TimeUnit) -> Option<String> {
    let m = Some(r.record_time_mean_ms).filter(|m| m.is_finite())?;
    Some(match r.record_time_sd_ms {
        Some(sd) => format!("{} ± {}", unit.fmt(m), unit.fmt(sd)),
        None => unit.fmt(m),
    })
}

pub(super) fn night_runs_cell(r: &NightlyRow) -> String {
    if r.failed > 0 {
        format!("{} ({} failed)", r.runs, r.failed)
    } else {
        r.runs.to_string()
    }
}

/// Change against the record with its 95% CI, as criterion prints it.
pub(super) fn night_change_cell(r: &NightlyRow) -> String {
    match (
        r.time_change_pct,
        r.time_change_ci_low_pct,
        r.time_change_ci_high_pct,
    ) {
        (Some(c), Some(lo), Some(hi)) => format!("{c:+.2}% [{lo:+.2}%, {hi:+.2}%]"),
        (Some(c), _, _) => format!("{c:+.2}%"),
        _ => NONE.to_string(),
    }
}

pub(super) fn night_p_cell(r: &NightlyRow) -> String {
    match r.time_p {
        Some(p) => format!(
            "{} {} {}",
            fmt_p(p),
            if p < r.threshold { "<" } else { "≥" },
            r.threshold
        ),
        None => NONE.to_string(),
    }
}

pub(super) fn night_loss_cell(r: &NightlyRow) -> String {
    let Some(l) = r.loss_mean else {
        return NONE.to_string();
    };
    let extra: Vec<String> = r
        .loss_change_pct
        .map(|c| format!("{c:+.2}%"))
        .into_iter()
        .chain(r.loss_p.map(|p| format!("p = {}", fmt_p(p))))
        .collect();
    if extra.is_empty() {
        fmt_loss(l)
    } else {
        format!("{} ({})", fmt_loss(l), extra.join(", "))
    }
}

pub(super) fn night_env_cell(r: &NightlyRow) -> String {
    match (r.env_changes.is_empty(), r.env_changed) {
        (false, _) => r.env_changes.clone(),
        (true, true) => "changed (not itemised)".to_string(),
        (true, false) => NONE.to_string(),
    }
}

/// The quotable line over a track's nightly table: the latest night against its record,
/// and how many nights drifted. `rows` is in night order.
pub(super) fn nightly_line(rows: &[NightlyRow], unit: TimeUnit) -> Option<String> {
    let last = rows.last()?;
    let mut s = format!("Latest night, {}: {}", last.date, last.verdict);
    if last.has_time() {
        let _ = write!(
            s,
            "; {} ({} runs) against record #{}",
            night_time_cell(last, unit),
            last.runs - last.failed.min(last.runs),
            last.record_number
        );
        if let Some(rec) = night_record_time(last, unit) {
            let _ = write!(s, "'s {rec}");
        }
        if last.time_change_pct.is_some() {
            let _ = write!(s, ", {}", night_change_cell(last));
        }
        if last.time_p.is_some() {
            let _ = write!(s, " (p = {})", night_p_cell(last));
        }
    }
    let drifted = rows.iter().filter(|r| r.drift).count();
    let _ = write!(
        s,
        ". {} night{} since {}, {} with drift.",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        rows[0].date,
        drifted
    );
    Some(s)
}
