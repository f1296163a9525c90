//! `speedcert verify`: is this bundle genuine? Signatures against trusted keys, every
//! file's digest, the file set; exit 0 genuine, 3 not genuine, 1 unreadable input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use serde_json::Value;
use speedcert_attest::{Check, TrustStore, VerifyReport};

use super::code;
use super::exit::{FAILED_VERDICT, SUCCESS};

/// Where trusted public keys are looked for when `--trust` is not given.
pub const DEFAULT_TRUST_DIR: &str = "records/keys";

/// Arguments of `speedcert verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle folder to verify.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// A trusted public key (SPKI PEM) or a folder of them (*.pem)
    /// [default: records/keys, if it exists].
    #[arg(long, value_name = "KEY_OR_DIR")]
    pub trust: Option<PathBuf>,
    /// How many distinct trusted keys must have signed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threshold: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let trust = load_trust(args.trust.as_deref())?;
    let report = verify(&args.bundle, &trust, args.threshold)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(code(if report.is_genuine() {
        SUCCESS
    } else {
        FAILED_VERDICT
    }))
}

/// The trust store from `--trust`, or from `records/keys` under the current folder.
pub fn load_trust(trust: Option<&Path>) -> anyhow::Result<TrustStore> {
    let path = match trust {
        Some(p) => p.to_path_buf(),
        None => {
            let dir = PathBuf::from(DEFAULT_TRUST_DIR);
            if !dir.is_dir() {
                bail!(
                    "no trusted keys: {DEFAULT_TRUST_DIR} does not exist in this folder; pass --trust KEY_OR_DIR"
                );
            }
            dir
        }
    };
    Ok(TrustStore::load(&path)?)
}

/// Everything `speedcert verify` checks, as one report: the attestation
/// (speedcert-attest: signatures, digests, file set), then the statistics recomputed
/// by [`recompute_statistics`]. `Err` only for unreadable input.
pub fn verify(bundle: &Path, trust: &TrustStore, threshold: usize) -> anyhow::Result<VerifyReport> {
    let mut report = speedcert_attest::verify_bundle(bundle, trust, threshold)?;
    // Only a bundle whose signatures and files verified has a predicate to check.
    if let Some(predicate) = report.verified_predicate().cloned() {
        for check in recompute_statistics(bundle, &predicate)? {
            report.add_check(check);
        }
    }
    Ok(report)
}

/// Recompute the statistics from the bundle's raw runs and compare them with the
/// signed predicate (`predicate["summary"]`), one [`Check`] per comparison (name them
/// e.g. "statistics"; a failed one makes the bundle not genuine, exit 3).
///
/// Called only after every file matched its signed digest, so the runs read here are
/// exactly the signed ones.
pub fn recompute_statistics(bundle: &Path, predicate: &Value) -> anyhow::Result<Vec<Check>> {
    const NAME: &str = "statistics";
    if !bundle.join("plan.json").is_file() {
        return Ok(vec![Check::warn(
            NAME,
            None,
            "no plan.json: not a certification bundle, so there are no statistics to recompute",
        )]);
    }
    let Some(signed) = predicate.get("summary") else {
        return Ok(vec![Check::fail(
            NAME,
            None,
            "the signed predicate has no `summary` to compare with",
        )]);
    };
    let inputs = match crate::certify::summary::BundleInputs::read(bundle) {
        Ok(i) => i,
        Err(e) => return Ok(cannot_recompute(NAME, e)),
    };
    let recomputed = serde_json::to_value(crate::certify::summary::compute(&inputs))?;
    let agreed = format!(
        "recomputed from {} runs: verdict `{}` and every figure match the signed summary",
        inputs.runs.len(),
        recomputed["verdict"].as_str().unwrap_or("?")
    );
    let mut checks = against_signed(
        NAME,
        "summary",
        bundle,
        "summary.json",
        signed,
        &recomputed,
        agreed,
    )?;
    if let Some(signed) = predicate.get("drift") {
        checks.extend(recompute_drift(bundle, signed)?);
    }
    Ok(checks)
}

/// The one check a recomputation reports when the bundle's inputs to it cannot be read.
fn cannot_recompute(name: &str, error: impl std::fmt::Display) -> Vec<Check> {
    vec![Check::fail(
        name,
        None,
        format!("cannot recompute: {error}"),
    )]
}

/// A nightly bundle also signs drift.json: recompute it from the runs, the stored
/// record sample in plan.json and record-env.json.
fn recompute_drift(bundle: &Path, signed: &Value) -> anyhow::Result<Vec<Check>> {
    const NAME: &str = "drift";
    let (inputs, record_env) = match crate::nightly::read_inputs(bundle) {
        Ok(i) => i,
        Err(e) => return Ok(cannot_recompute(NAME, e)),
    };
    let recomputed = serde_json::to_value(crate::nightly::compute(&inputs, &record_env))?;
    let agreed = format!(
        "recomputed nightly drift `{}` matches the signed drift",
        recomputed["verdict"].as_str().unwrap_or("?")
    );
    against_signed(
        NAME,
        "drift",
        bundle,
        crate::nightly::DRIFT_FILE,
        signed,
        &recomputed,
        agreed,
    )
}

/// One signed part of the predicate (`key`) against its recomputation from the runs,
/// then against the file it was written to (`file`): a pass saying `agreed`, or a
/// fail naming the first difference.
fn against_signed(
    name: &str,
    key: &str,
    bundle: &Path,
    file: &str,
    signed: &Value,
    recomputed: &Value,
    agreed: String,
) -> anyhow::Result<Vec<Check>> {
    let mut checks = vec![match first_difference(key, signed, recomputed) {
        None => Check::pass(name, None, agreed),
        Some(diff) => Check::fail(
            name,
            None,
            format!("the signed {key} disagrees with the runs: {diff}"),
        ),
    }];
    let path = bundle.join(file);
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&path)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let Some(diff) = first_difference(key, signed, &on_disk) {
        checks.push(Check::fail(
            name,
            Some(file),
            format!("{file} differs from the signed {key}: {diff}"),
        ));
    }
    Ok(checks)
}

/// Relative tolerance for recomputed floating-point figures (different CPUs may round
/// the last bits of a sum differently).
const REL_TOL: f64 = 1e-9;

/// The first place two JSON values differ, as `path: signed X, recomputed Y`.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
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
