//! Verification: the attestation (signatures, every file's digest, the file set), then
//! every signed figure recomputed from the bundle's raw files. `speedcert verify`,
//! `certify --against`, nightly and `records rebuild` all call [`verify_bundle`], so a
//! bundle means the same thing to each of them.
//!
//! A bundle is recomputed by the rules of the schema it was signed with: a check added
//! in a later schema does not change an earlier bundle's verdict (it is reported beside
//! it, as advice), and prose (details, p-values in sentences) is compared only for the
//! current schema, since its wording is not part of an older bundle's contract.

use std::path::Path;

use serde_json::Value;
use speedcert_attest::{Check, TrustStore, VerifyReport};

use crate::drift::{self, DRIFT_SCHEMA, DRIFT_SCHEMAS};
use crate::io::BundleError;
use crate::layout;
use crate::summary::{self, BundleInputs};
use crate::version::SummaryVersion;

/// The check name the summary's recomputation reports under.
pub const STATISTICS: &str = "statistics";
/// The check name the drift's recomputation reports under.
pub const DRIFT: &str = "drift";
/// The check name the journal's seals report under.
pub const JOURNAL: &str = "journal";
/// Checks added after a bundle's schema, run as advice.
pub const LATER_CHECKS: &str = "later-checks";
/// Where verify says that a bundle's times and losses were self-reported.
pub const CLOCK: &str = "clock";
/// Where verify says which shards were trusted on first use rather than pinned.
pub const DATA: &str = "data";

/// Everything verification checks, as one report. `Err` only for unreadable input (no
/// envelope); a bad bundle is a report with failed checks.
pub fn verify_bundle(
    bundle: &Path,
    trust: &TrustStore,
    threshold: usize,
) -> Result<VerifyReport, BundleError> {
    let mut report = speedcert_attest::verify_bundle(bundle, trust, threshold)?;
    // Only a bundle whose signatures and files verified has a predicate worth checking.
    if let Some(predicate) = report.verified_predicate().cloned() {
        for check in recompute(bundle, &predicate) {
            report.add_check(check);
        }
        for check in journal_checks(bundle, &predicate, trust, threshold) {
            report.add_check(check);
        }
    }
    Ok(report)
}

/// The journal's seals (summary v3 on): signed as they happened, in one unbroken chain,
/// matching plan.json and every run.json.
fn journal_checks(
    bundle: &Path,
    predicate: &Value,
    trust: &TrustStore,
    threshold: usize,
) -> Vec<Check> {
    let version = predicate
        .get("summary")
        .and_then(|s| s.get("schema"))
        .and_then(Value::as_str)
        .and_then(SummaryVersion::parse);
    if version.is_none_or(|v| v < SummaryVersion::V3) {
        return Vec::new();
    }
    let plan = match crate::io::read_json::<crate::plan::Plan>(&bundle.join(layout::PLAN)) {
        Ok(p) => p,
        Err(e) => return cannot_recompute(JOURNAL, e),
    };
    let journal = match crate::journal::read_journal(bundle) {
        Ok(j) => j,
        Err(e) => return cannot_recompute(JOURNAL, e),
    };
    match crate::journal::verify_problems(bundle, &journal, &plan, trust, threshold) {
        Ok(problems) if problems.is_empty() => vec![Check::pass(
            JOURNAL,
            None,
            format!(
                "the plan and {} finished run(s) were sealed as they happened, in one unbroken chain{}",
                journal.runs().len(),
                if plan.schedule == Some(crate::plan::Schedule::Sequential) {
                    ", in plan order"
                } else {
                    " (parallel schedule: order not checked)"
                }
            ),
        )],
        Ok(problems) => problems
            .iter()
            .map(|p| Check::fail(JOURNAL, Some(&p.file), p.message.clone()))
            .collect(),
        Err(e) => cannot_recompute(JOURNAL, e),
    }
}

/// Recomputes the summary (and drift) from the bundle's raw files and compares them with
/// the signed predicate and with the files on disk, one [`Check`] per comparison.
///
/// Meant to run after every file matched its signed digest, so what is read here is
/// exactly what was signed.
pub fn recompute(bundle: &Path, predicate: &Value) -> Vec<Check> {
    let signed = predicate.get("summary");
    let has_plan = bundle.join(layout::PLAN).is_file();
    if signed.is_none() && !has_plan {
        // `speedcert sign` on a folder that is no certification: nothing to recompute,
        // and nothing that records rebuild or certify --against would take as a result.
        return vec![Check::warn(
            STATISTICS,
            None,
            "no summary signed and no plan.json: a signed folder, not a certification, so there are no statistics to recompute",
        )];
    }
    let Some(signed) = signed else {
        return vec![Check::fail(
            STATISTICS,
            Some(layout::SUMMARY),
            "plan.json makes this a certification bundle, but the signed predicate has no summary (summary.json): nothing states its verdict",
        )];
    };
    // A signed summary is a claim; every file it is computed from must be there.
    let missing: Vec<Check> = [layout::TRACK, layout::PLAN, layout::ENV, layout::SUMMARY]
        .into_iter()
        .filter(|f| !bundle.join(f).is_file())
        .map(|f| {
            Check::fail(
                STATISTICS,
                Some(f),
                format!("{f} is missing: the signed summary cannot be recomputed without it"),
            )
        })
        .collect();
    if !missing.is_empty() {
        return missing;
    }
    let schema = signed.get("schema").and_then(Value::as_str).unwrap_or("");
    let Some(version) = SummaryVersion::parse(schema) else {
        return vec![Check::fail(
            STATISTICS,
            None,
            format!(
                "summary schema {schema:?} is not one this speedcert knows ({}, {}): verify with a newer speedcert",
                SummaryVersion::V1,
                SummaryVersion::CURRENT
            ),
        )];
    };
    let inputs = match BundleInputs::read(bundle) {
        Ok(i) => i,
        Err(BundleError::Inconsistent { problems }) => {
            return problems
                .iter()
                .map(|p| Check::fail(STATISTICS, Some(&p.file), p.message.clone()))
                .collect();
        }
        Err(e) => return cannot_recompute(STATISTICS, e),
    };
    let recomputed = summary::compute_version(&inputs, version);
    let recomputed_value = to_value(&recomputed);
    let prose = version == SummaryVersion::CURRENT;
    let agreed = format!(
        "recomputed from {} runs by the rules of {version}: verdict `{}` and every figure{} match the signed summary",
        inputs.runs.len(),
        recomputed.verdict,
        if prose { " and detail" } else { "" }
    );
    let mut checks = against_signed(
        STATISTICS,
        "summary",
        bundle,
        layout::SUMMARY,
        signed,
        &recomputed_value,
        prose,
        agreed,
    );
    if version < SummaryVersion::CURRENT {
        checks.push(later_checks(&inputs, version));
    }
    // A genuine bundle of self-reported figures is still not the harness's measurement:
    // say so beside the verdict, as advice every reader of the report sees.
    if recomputed.clock == Some(crate::command::Clock::SelfReported) {
        let not_run: Vec<&str> = recomputed.not_run.iter().map(|n| n.name.as_str()).collect();
        checks.push(Check::warn(
            CLOCK,
            Some(layout::SUMMARY),
            format!(
                "self-reported: the training times and losses are the submission's own log's (the referee checked each log against its wall time and for missing lines); checks not run: {}",
                not_run.join(", ")
            ),
        ));
    }
    checks.extend(first_use_data(&inputs));
    if let Some(signed) = predicate.get("drift") {
        checks.extend(recompute_drift(bundle, signed));
    }
    checks
}

/// A warning naming the shards the runs checked against the data lock's digest rather
/// than a pin of the track: that proves the data did not change since it was first seen,
/// not that it is the data the track means.
fn first_use_data(inputs: &BundleInputs) -> Option<Check> {
    let mut shards: std::collections::BTreeMap<&str, (&str, Option<&str>)> = Default::default();
    for d in inputs.runs.iter().flat_map(|r| &r.data) {
        if d.digest == crate::run::DigestOrigin::FirstUse {
            shards.insert(&d.name, (&d.sha256, d.first_seen.as_deref()));
        }
    }
    (!shards.is_empty()).then(|| {
        let list: Vec<String> = shards
            .iter()
            .map(|(name, (sha, first))| {
                format!(
                    "{name} {} (first seen {})",
                    crate::io::short_digest(sha),
                    first.unwrap_or("at an unrecorded time")
                )
            })
            .collect();
        Check::warn(
            DATA,
            Some(layout::TRACK),
            format!(
                "{} shard(s) not pinned by track.toml, trusted on first use (the data lock's digest shows they did not change since, not that they are the track's data): {}",
                shards.len(),
                list.join(", ")
            ),
        )
    })
}

/// The checks added after `version`, run on an older bundle as advice: a failure here is
/// a warning, since the bundle was judged by the checks of its own time.
fn later_checks(inputs: &BundleInputs, version: SummaryVersion) -> Check {
    let current = summary::compute(inputs);
    let later: Vec<_> = current
        .checks
        .iter()
        .filter(|c| c.name.since() > version)
        .collect();
    let failed: Vec<String> = later
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    let names: Vec<&str> = later.iter().map(|c| c.name.as_str()).collect();
    if failed.is_empty() {
        Check::pass(
            LATER_CHECKS,
            None,
            format!(
                "checks added after {version} also pass: {}",
                if names.is_empty() {
                    "(none)".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        )
    } else {
        Check::warn(
            LATER_CHECKS,
            None,
            format!(
                "signed under {version}, so not part of its verdict, but a check added since fails: {}",
                failed.join("; ")
            ),
        )
    }
}

fn recompute_drift(bundle: &Path, signed: &Value) -> Vec<Check> {
    let schema = signed.get("schema").and_then(Value::as_str).unwrap_or("");
    if !DRIFT_SCHEMAS.contains(&schema) {
        return vec![Check::fail(
            DRIFT,
            None,
            format!("drift schema {schema:?} is not one this speedcert knows"),
        )];
    }
    let (inputs, record_env) = match drift::read_inputs(bundle) {
        Ok(i) => i,
        Err(e) => return cannot_recompute(DRIFT, e),
    };
    let mut recomputed = drift::compute(&inputs, &record_env);
    // An older drift carries its own schema name; everything else is recomputed.
    recomputed.schema = schema.to_owned();
    let prose = schema == DRIFT_SCHEMA;
    let agreed = format!(
        "recomputed nightly drift `{}` matches the signed drift",
        recomputed.verdict
    );
    against_signed(
        DRIFT,
        "drift",
        bundle,
        layout::DRIFT,
        signed,
        &to_value(&recomputed),
        prose,
        agreed,
    )
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("bundle types serialize to JSON")
}

/// The one check a recomputation reports when its inputs cannot be read.
fn cannot_recompute(name: &str, error: impl std::fmt::Display) -> Vec<Check> {
    vec![Check::fail(
        name,
        None,
        format!("cannot recompute: {error}"),
    )]
}

/// One signed part of the predicate (`key`) against its recomputation, then against the
/// file it was written to (`file`): a pass saying `agreed`, or a fail naming the first
/// difference. Without `prose`, sentences are left out of both comparisons.
#[allow(clippy::too_many_arguments)]
fn against_signed(
    name: &str,
    key: &str,
    bundle: &Path,
    file: &str,
    signed: &Value,
    recomputed: &Value,
    prose: bool,
    agreed: String,
) -> Vec<Check> {
    let strip = |v: &Value| if prose { v.clone() } else { without_prose(v) };
    let (signed, recomputed) = (strip(signed), strip(recomputed));
    let mut checks = vec![match first_difference(key, &signed, &recomputed) {
        None => Check::pass(name, None, agreed),
        Some(diff) => Check::fail(
            name,
            None,
            format!("the signed {key} disagrees with the runs: {diff}"),
        ),
    }];
    let path = bundle.join(file);
    let on_disk = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()));
    match on_disk {
        Ok(v) => {
            if let Some(diff) = first_difference(key, &signed, &strip(&v)) {
                checks.push(Check::fail(
                    name,
                    Some(file),
                    format!("{file} differs from the signed {key}: {diff}"),
                ));
            }
        }
        Err(e) => checks.push(Check::fail(
            name,
            Some(file),
            format!("{file} cannot be read: {e}"),
        )),
    }
    checks
}

/// The value with its sentences removed: `detail` and `verdict_detail` keys at any depth.
fn without_prose(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "detail" | "verdict_detail"))
                .map(|(k, v)| (k.clone(), without_prose(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_prose).collect()),
        other => other.clone(),
    }
}

/// Relative tolerance for recomputed floating-point figures (different CPUs may round the
/// last bits of a sum differently).
const REL_TOL: f64 = 1e-9;

/// The first place two JSON values differ, as `path: signed X, recomputed Y`.
pub fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64()?, y.as_f64()?);
            let scale = x.abs().max(y.abs()).max(f64::MIN_POSITIVE);
            ((x - y).abs() / scale > REL_TOL).then(|| format!("{path}: signed {x}, recomputed {y}"))
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => first_difference(&p, u, v),
                    (Some(_), None) => Some(format!("{p}: signed but not recomputed")),
                    (None, Some(_)) => Some(format!("{p}: recomputed but not signed")),
                    (None, None) => None,
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(&format!("{path}[{i}]"), u, v)),
        _ if a == b => None,
        _ => Some(format!("{path}: signed {a}, recomputed {b}")),
    }
}
