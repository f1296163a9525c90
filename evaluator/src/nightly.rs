//! Nightly reruns of a record: the bundle is sealed with summary.json and drift.json
//! (computed by speedcert-bundle), and a per-track report is printed.

use std::path::Path;

pub use speedcert_bundle::drift::{Drift, DriftStat, DriftVerdict, EnvChange, Sample, read_inputs};
use speedcert_bundle::summary::Summary;
use speedcert_stats::format::{fmt_loss, fmt_ms, fmt_p};

/// Computes summary.json and drift.json from a nightly bundle's files, writes both and
/// signs the bundle (predicate: both), as `certify::collect` does for a certification.
pub fn collect(
    dir: &Path,
    signers: &[speedcert_attest::Signer],
) -> Result<(Summary, Drift), crate::certify::CertifyError> {
    let (inputs, record_env) = read_inputs(dir)?;
    let summary = speedcert_bundle::summary::compute(&inputs);
    let drift = speedcert_bundle::drift::compute(&inputs, &record_env);
    speedcert_bundle::seal(dir, signers, &summary, Some(&drift))?;
    Ok((summary, drift))
}

/// The report printed per track.
pub fn render(drift: &Drift) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} · {} rerun against record {}",
        drift.track, drift.submission, drift.record_bundle
    );
    let line = |s: &mut String, name: &str, d: &Option<DriftStat>, err: &Option<String>, ms| match d
    {
        Some(d) => {
            let fmt = |v: f64| if ms { fmt_ms(v) } else { fmt_loss(v) };
            let _ = writeln!(
                s,
                "  {name:<6} tonight {} ± {}  record {} ± {}  change {}{}  p = {} (two-sided Welch, n = {} vs {})",
                fmt(d.tonight.mean),
                d.tonight.sd.map(fmt).unwrap_or("-".into()),
                fmt(d.record.mean),
                d.record.sd.map(fmt).unwrap_or("-".into()),
                d.change_pct
                    .map(|c| format!("{c:+.2}%"))
                    .unwrap_or("-".into()),
                d.ci95_change_pct
                    .map(|[l, h]| format!(" [{l:+.2}% {h:+.2}%]"))
                    .unwrap_or_default(),
                fmt_p(d.p_two_sided),
                d.tonight.n,
                d.record.n
            );
        }
        None => {
            let _ = writeln!(
                s,
                "  {name:<6} not tested: {}",
                err.as_deref().unwrap_or("unknown")
            );
        }
    };
    line(&mut s, "time", &drift.time, &drift.time_error, true);
    line(&mut s, "loss", &drift.loss, &drift.loss_error, false);
    let _ = writeln!(
        s,
        "  runs   {} of {} finished",
        drift.runs - drift.failed,
        drift.runs
    );
    let _ = writeln!(s, "\nNightly: {} — {}", drift.verdict, drift.detail);
    s
}
