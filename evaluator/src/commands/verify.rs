//! `speedcert verify`: is this bundle genuine? Signatures against trusted keys, every
//! file's digest, the file set; exit 0 genuine, 3 not genuine, 1 unreadable input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use speedcert_attest::{TrustStore, VerifyReport};

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
    /// Also rebuild each runner built from a folder, from the source shipped in the bundle,
    /// and check the binary is the one that ran (same sha256); needs speedcert's source
    /// and toolchain, as certify does.
    #[arg(long)]
    pub rebuild: bool,
    /// The certifier's attempt ledger (certify --ledger): also check that its signed lines
    /// hold this certification as the attempt its plan says, after every earlier attempt
    /// of the submission on the track, drawn against the ledger head the plan records.
    #[arg(long, value_name = "LEDGER")]
    pub ledger: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let trust = load_trust(args.trust.as_deref())?;
    let mut report = verify(&args.bundle, &trust, args.threshold)?;
    if args.rebuild {
        for check in rebuild_checks(&args.bundle) {
            report.add_check(check);
        }
    }
    if let Some(ledger) = &args.ledger {
        report.add_check(attempt_check(&args.bundle, ledger, &trust, args.threshold));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
        let summary = args.bundle.join(speedcert_bundle::layout::SUMMARY);
        if report.is_genuine()
            && let Ok(s) = speedcert_bundle::io::read_json::<speedcert_bundle::Summary>(&summary)
        {
            print!(
                "{}",
                crate::certify::report::render_capabilities(&s.capabilities)
            );
        }
    }
    Ok(code(if report.is_genuine() {
        SUCCESS
    } else {
        FAILED_VERDICT
    }))
}

/// The check name of `--rebuild`.
const REBUILD: &str = "rebuild";

/// One check per runner the plan records: rebuilt from the shipped source, same binary.
fn rebuild_checks(bundle: &Path) -> Vec<speedcert_attest::Check> {
    use speedcert_attest::Check;
    let plan_path = bundle.join(speedcert_bundle::layout::PLAN);
    let plan: speedcert_bundle::plan::Plan = match speedcert_bundle::io::read_json(&plan_path) {
        Ok(p) => p,
        Err(e) => {
            return vec![Check::fail(
                REBUILD,
                None,
                format!("cannot read the plan: {e}"),
            )];
        }
    };
    if plan.builds.is_empty() {
        return vec![Check::pass(
            REBUILD,
            None,
            "no submission was built from a folder: nothing to rebuild",
        )];
    }
    let settings = match crate::outside::BuildSettings::for_this_binary() {
        Ok(s) => s,
        Err(e) => return vec![Check::fail(REBUILD, None, e.to_string())],
    };
    plan.builds
        .iter()
        .map(|b| {
            let source = speedcert_bundle::layout::source_dir(bundle, &b.source_sha256);
            let file = format!("{}/{}", speedcert_bundle::layout::SOURCE, b.source_sha256);
            match crate::outside::runner::build(&source, &settings, true, &mut |_| {}) {
                Ok(r) => match crate::outside::runner::rebuilt_differs(b, &r.build) {
                    None => Check::pass(
                        REBUILD,
                        Some(&file),
                        format!(
                            "the runner of {} rebuilt from the shipped source is the binary that ran (sha256 {})",
                            b.submission, b.runner_sha256
                        ),
                    ),
                    Some(why) => Check::fail(REBUILD, Some(&file), why),
                },
                Err(e) => Check::fail(REBUILD, Some(&file), format!("cannot rebuild: {e}")),
            }
        })
        .collect()
}

/// The check name of `--ledger`.
const ATTEMPT: &str = "attempt";

/// `--ledger`: the ledger is whole and signed by trusted keys, and holds this bundle's
/// certification as the attempt its plan says ([`speedcert_bundle::ledger::attempt_count`],
/// as `records rebuild` counts it).
fn attempt_check(
    bundle: &Path,
    path: &Path,
    trust: &TrustStore,
    threshold: usize,
) -> speedcert_attest::Check {
    use speedcert_attest::Check;
    use speedcert_bundle::ledger::{Ledger, attempt_count};
    let file = path.display().to_string();
    if !path.is_file() {
        return Check::fail(ATTEMPT, Some(&file), "no such ledger");
    }
    let ledger = match Ledger::read(path) {
        Ok(l) => l,
        Err(e) => return Check::fail(ATTEMPT, Some(&file), e.to_string()),
    };
    let mut problems = ledger.problems.clone();
    problems.extend(ledger.signature_problems(trust, threshold));
    if !problems.is_empty() {
        return Check::fail(ATTEMPT, Some(&file), problems.join("; "));
    }
    let plan_path = bundle.join(speedcert_bundle::layout::PLAN);
    let plan = match speedcert_bundle::io::read_json::<speedcert_bundle::plan::Plan>(&plan_path) {
        Ok(p) => p,
        Err(e) => return Check::fail(ATTEMPT, Some(&file), e.to_string()),
    };
    let plan_sha256 = match speedcert_fsio::sha256_file(&plan_path) {
        Ok(s) => s,
        Err(e) => return Check::fail(ATTEMPT, Some(&file), e.to_string()),
    };
    let count = attempt_count(&ledger, &plan, &plan_sha256);
    match (count.flag, count.attempts) {
        (Some(flag), _) => Check::fail(ATTEMPT, Some(&file), flag),
        (None, n) => Check::pass(
            ATTEMPT,
            Some(&file),
            format!(
                "attempt {} of {} on this track, as its plan says",
                n.unwrap_or_default(),
                plan.submission_sha256
            ),
        ),
    }
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

/// Everything `speedcert verify` checks, as one report (speedcert-bundle: the
/// attestation, then every figure recomputed by the rules of the bundle's schema).
/// `Err` only for unreadable input.
pub fn verify(bundle: &Path, trust: &TrustStore, threshold: usize) -> anyhow::Result<VerifyReport> {
    Ok(speedcert_bundle::verify_bundle(bundle, trust, threshold)?)
}
