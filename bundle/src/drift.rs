//! drift.json: is tonight's rerun of a record still the record? Two-sided Welch tests
//! of the times and of the final losses against the record's certified runs, percent
//! changes with bootstrap intervals, and the environment diff that explains a drift
//! when the machine changed.
//!
//! It is computed from the nightly bundle's own files only (plan.json, whose stored
//! baseline holds the record's times and losses, every run.json, env.json and
//! record-env.json), so verification recomputes it like summary.json.

use std::path::Path;

use serde::{Deserialize, Serialize};
use speedcert_stats::BootstrapConfig;
use speedcert_stats::format::fmt_p;

use crate::env::Environment;
use crate::inputs::BundleInputs;
use crate::io::{self, BundleError};
use crate::layout;
use crate::run::{Role, RunStatus};

/// v2: p-values in `detail` printed by the shared formatter (speedcert_stats::format).
pub const DRIFT_SCHEMA: &str = "speedcert/drift/v2";
/// Drift schemas this build recomputes; older ones are compared without their prose.
pub const DRIFT_SCHEMAS: [&str; 2] = ["speedcert/drift/v1", DRIFT_SCHEMA];

/// The fixed vocabulary of nightly outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriftVerdict {
    #[serde(rename = "no drift")]
    NoDrift,
    #[serde(rename = "time drift")]
    TimeDrift,
    #[serde(rename = "loss drift")]
    LossDrift,
    #[serde(rename = "time and loss drift")]
    TimeAndLossDrift,
    /// A run failed, or too few finished to test: an alarm in itself.
    #[serde(rename = "runs failed")]
    RunsFailed,
}

impl DriftVerdict {
    pub const ALL: [DriftVerdict; 5] = [
        DriftVerdict::NoDrift,
        DriftVerdict::TimeDrift,
        DriftVerdict::LossDrift,
        DriftVerdict::TimeAndLossDrift,
        DriftVerdict::RunsFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftVerdict::NoDrift => "no drift",
            DriftVerdict::TimeDrift => "time drift",
            DriftVerdict::LossDrift => "loss drift",
            DriftVerdict::TimeAndLossDrift => "time and loss drift",
            DriftVerdict::RunsFailed => "runs failed",
        }
    }

    /// Whether cron should raise the alarm (exit 3).
    pub fn alarms(self) -> bool {
        self != DriftVerdict::NoDrift
    }
}

impl std::fmt::Display for DriftVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Mean, spread and size of one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub n: usize,
    pub mean: f64,
    pub sd: Option<f64>,
}

/// Tonight against the record, for one quantity (times in ms, or losses in nats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftStat {
    pub tonight: Sample,
    pub record: Sample,
    /// mean(tonight) − mean(record).
    pub difference: f64,
    pub change_pct: Option<f64>,
    /// Percentile bootstrap 95 % interval of the percent change.
    pub ci95_change_pct: Option<[f64; 2]>,
    pub welch_t: f64,
    pub welch_df: f64,
    /// Two-sided Welch p-value: H1, the means differ (slower or faster are both drift).
    pub p_two_sided: f64,
    pub significant: bool,
}

/// One environment field that differs from the record's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvChange {
    pub field: String,
    pub record: Option<String>,
    pub tonight: Option<String>,
}

impl std::fmt::Display for EnvChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        write!(
            f,
            "{} {} -> {}",
            self.field,
            show(&self.record),
            show(&self.tonight)
        )
    }
}

/// drift.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub schema: String,
    pub track: String,
    pub submission: String,
    /// The record bundle as given to nightly, and which signed result it is.
    pub record_bundle: String,
    pub record_attestation_sha256: String,
    pub threshold: f64,
    pub runs: usize,
    pub failed: usize,
    pub time: Option<DriftStat>,
    pub loss: Option<DriftStat>,
    /// Why a test could not be made, when it could not.
    pub time_error: Option<String>,
    pub loss_error: Option<String>,
    pub env_changes: Vec<EnvChange>,
    pub verdict: DriftVerdict,
    pub detail: String,
}

/// The fields whose change can move a time: driver, CUDA, GPU, the binary itself, and
/// the CPU for CPU tracks. Hostname and kernel are left out on purpose: a rerun on a
/// twin machine is not an environment change.
pub fn env_diff(record: &Environment, tonight: &Environment) -> Vec<EnvChange> {
    let gpus = |e: &Environment| {
        (!e.gpu.is_empty()).then(|| {
            e.gpu
                .iter()
                .map(|g| g.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    let fields: [(&str, Option<String>, Option<String>); 8] = [
        (
            "driver",
            record.driver_version.clone(),
            tonight.driver_version.clone(),
        ),
        (
            "cuda",
            record.cuda_driver_version.clone(),
            tonight.cuda_driver_version.clone(),
        ),
        (
            "nvrtc",
            record.nvrtc_version.clone(),
            tonight.nvrtc_version.clone(),
        ),
        ("gpu", gpus(record), gpus(tonight)),
        (
            "gpu_count",
            Some(record.gpu_count.to_string()),
            Some(tonight.gpu_count.to_string()),
        ),
        (
            "binary_sha256",
            record.binary_sha256.clone(),
            tonight.binary_sha256.clone(),
        ),
        (
            "speedcert_version",
            Some(record.speedcert_version.clone()),
            Some(tonight.speedcert_version.clone()),
        ),
        ("cpu", record.cpu_model.clone(), tonight.cpu_model.clone()),
    ];
    fields
        .into_iter()
        .filter(|(_, r, t)| r != t)
        .map(|(field, record, tonight)| EnvChange {
            field: field.to_owned(),
            record,
            tonight,
        })
        .collect()
}

fn stat(tonight: &[f64], record: &[f64], threshold: f64) -> Result<DriftStat, String> {
    let c = speedcert_stats::compare(tonight, record, &BootstrapConfig::default())
        .map_err(|e| e.to_string())?;
    let sample = |s: &speedcert_stats::Summary| Sample {
        n: s.n,
        mean: s.mean,
        sd: s.sd,
    };
    let p = c.welch_two_sided.p;
    Ok(DriftStat {
        tonight: sample(&c.a),
        record: sample(&c.b),
        difference: c.difference,
        change_pct: c.percent_change,
        ci95_change_pct: c.bootstrap.percent_change.map(|ci| [ci.lower, ci.upper]),
        welch_t: c.welch_two_sided.t,
        welch_df: c.welch_two_sided.df,
        p_two_sided: p,
        significant: p < threshold,
    })
}

/// Computes drift.json. Pure: the same files give the same drift (the bootstrap is
/// seeded).
pub fn compute(inputs: &BundleInputs, record_env: &Environment) -> Drift {
    let threshold = inputs.track.spec.certification.p_threshold;
    let stored = inputs.plan.stored_baseline.clone();
    let candidates: Vec<_> = inputs
        .plan
        .slots
        .iter()
        .filter(|s| s.role == Role::Candidate)
        .collect();
    let ok: Vec<_> = inputs
        .runs
        .iter()
        .filter(|r| r.role == Role::Candidate && r.status == RunStatus::Ok)
        .filter(|r| r.final_val_loss.is_some())
        .collect();
    let failed = candidates.len() - ok.len();
    let times: Vec<f64> = ok.iter().map(|r| r.train_time_ms).collect();
    let losses: Vec<f64> = ok.iter().filter_map(|r| r.final_val_loss).collect();
    let (time, time_error, loss, loss_error) = match &stored {
        None => {
            let why = "plan.json has no stored record to compare with".to_owned();
            (None, Some(why.clone()), None, Some(why))
        }
        Some(s) => {
            let (time, time_error) = match stat(&times, &s.times_ms, threshold) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e)),
            };
            let (loss, loss_error) = if s.val_losses.is_empty() {
                (
                    None,
                    Some("the record's stored runs carry no losses".to_owned()),
                )
            } else {
                match stat(&losses, &s.val_losses, threshold) {
                    Ok(t) => (Some(t), None),
                    Err(e) => (None, Some(e)),
                }
            };
            (time, time_error, loss, loss_error)
        }
    };
    let env_changes = env_diff(record_env, &inputs.env);
    let time_drift = time.as_ref().is_some_and(|t| t.significant);
    let loss_drift = loss.as_ref().is_some_and(|t| t.significant);
    let verdict = if failed > 0 || time.is_none() {
        DriftVerdict::RunsFailed
    } else {
        match (time_drift, loss_drift) {
            (false, false) => DriftVerdict::NoDrift,
            (true, false) => DriftVerdict::TimeDrift,
            (false, true) => DriftVerdict::LossDrift,
            (true, true) => DriftVerdict::TimeAndLossDrift,
        }
    };
    let mut detail = match verdict {
        DriftVerdict::RunsFailed if failed > 0 => format!(
            "{failed} of {} runs failed or did not finish",
            candidates.len()
        ),
        DriftVerdict::RunsFailed => format!(
            "no time comparison: {}",
            time_error.as_deref().unwrap_or("unknown")
        ),
        _ => {
            let part = |name: &str, s: &Option<DriftStat>| {
                s.as_ref().map(|s| {
                    format!(
                        "{name} {} (p = {} {} {threshold})",
                        s.change_pct
                            .map(|c| format!("{c:+.2}%"))
                            .unwrap_or("-".into()),
                        fmt_p(s.p_two_sided),
                        if s.significant { "<" } else { ">=" }
                    )
                })
            };
            [part("time", &time), part("loss", &loss)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    if verdict.alarms() && !env_changes.is_empty() {
        detail.push_str(&format!(
            "; the environment changed since the record ({})",
            env_changes
                .iter()
                .map(|c| c.field.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Drift {
        schema: DRIFT_SCHEMA.to_owned(),
        track: inputs.track.spec.name.clone(),
        submission: inputs.plan.submission.clone(),
        record_bundle: stored
            .as_ref()
            .map(|s| s.bundle.clone())
            .unwrap_or_default(),
        record_attestation_sha256: stored
            .as_ref()
            .map(|s| s.attestation_sha256.clone())
            .unwrap_or_default(),
        threshold,
        runs: candidates.len(),
        failed,
        time,
        loss,
        time_error,
        loss_error,
        env_changes,
        verdict,
        detail,
    }
}

/// Reads what drift.json is computed from.
pub fn read_inputs(dir: &Path) -> Result<(BundleInputs, Environment), BundleError> {
    let inputs = BundleInputs::read(dir)?;
    let record_env: Environment = io::read_json(&dir.join(layout::RECORD_ENV))?;
    Ok((inputs, record_env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_samples_do_not_drift_and_a_slowdown_does() {
        let record = [1000.0, 1010.0, 990.0, 1005.0, 995.0];
        let same = stat(&[1002.0, 998.0, 1007.0, 993.0, 1001.0], &record, 0.01).unwrap();
        assert!(!same.significant, "{same:?}");
        let slow = stat(&[1100.0, 1110.0, 1090.0, 1105.0, 1095.0], &record, 0.01).unwrap();
        assert!(
            slow.significant && slow.change_pct.unwrap() > 9.0,
            "{slow:?}"
        );
        let fast = stat(&[900.0, 910.0, 890.0, 905.0, 895.0], &record, 0.01).unwrap();
        assert!(fast.significant, "faster is drift too: {fast:?}");
        let [lo, hi] = slow.ci95_change_pct.unwrap();
        assert!(lo < 10.0 && 10.0 < hi);
    }

    #[test]
    fn the_environment_diff_names_changed_fields_only() {
        let record = Environment {
            driver_version: Some("570.1".into()),
            binary_sha256: Some("aa".into()),
            ..Default::default()
        };
        let mut tonight = record.clone();
        assert!(env_diff(&record, &tonight).is_empty());
        tonight.driver_version = Some("580.159".into());
        tonight.hostname = Some("other".into());
        let d = env_diff(&record, &tonight);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].to_string(), "driver 570.1 -> 580.159");
    }
}
