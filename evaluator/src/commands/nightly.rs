//! `speedcert nightly`: rerun each selected track's current record, test for drift
//! against its certified runs, sign a nightly bundle, append to records/nightly.csv,
//! and exit 3 on drift so cron, a systemd timer or scrontab raises the alarm.

use speedcert_bundle::layout;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use speedcert_analysis::nightly::{self as table, NightlyRow};
use speedcert_analysis::table::RecordRow;

use super::certify::Progress;
use super::code;
use super::exit::{FAILED_VERDICT, SUCCESS};
use crate::certify::{self, Request};
use crate::commands::run::{DeviceArg, choose_device};
use crate::envinfo::Environment;
use crate::nightly::{self, Drift};
use crate::registry::Registry;
use crate::track::Track;
use speedcert_bundle::io as bundle;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Track to rerun (repeatable); its current record comes from DIR/records.csv.
    #[arg(long = "track", required_unless_present = "all")]
    pub tracks: Vec<String>,
    /// Every track that has a record.
    #[arg(long, conflicts_with = "tracks")]
    pub all: bool,
    /// Reruns per track (default: the track's `certification.runs`).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Private key(s) to sign the nightly bundles with.
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
    /// The records folder: records.csv, bundles/, keys/; nightly/ and nightly.csv are
    /// written here.
    #[arg(long = "records", default_value = "records")]
    pub records: PathBuf,
    /// Keys trusted for the record bundles (default: RECORDS/keys).
    #[arg(long)]
    pub trust: Option<PathBuf>,
    /// The night's date, YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    pub date: Option<String>,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Print one JSON object per track (drift.json plus the bundle path) as an array.
    #[arg(long)]
    pub json: bool,
}

/// A track to rerun: its current record and the record's verified baseline.
struct Selected {
    row: RecordRow,
    /// The record's bundle folder.
    record_dir: PathBuf,
    track: Track,
    stored: certify::plan::StoredBaseline,
    record_env: Environment,
}

pub fn run(args: Args, registry: &Registry) -> anyhow::Result<ExitCode> {
    let signers = args
        .keys
        .iter()
        .map(|k| speedcert_attest::Signer::load(k))
        .collect::<Result<Vec<_>, _>>()?;
    let date = match &args.date {
        Some(d) => {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .with_context(|| format!("--date {d}: expected YYYY-MM-DD"))?;
            d.clone()
        }
        None => chrono::Utc::now().format("%Y-%m-%d").to_string(),
    };
    let nightly_dir = args.records.join(table::NIGHTLY_DIR);
    std::fs::create_dir_all(&nightly_dir)
        .with_context(|| format!("creating {}", nightly_dir.display()))?;
    // Held for the whole night; a crashed night's lock goes with its process.
    let _lock = speedcert_fsio::try_lock(
        &nightly_dir.join(".lock"),
        speedcert_fsio::LockKind::Exclusive,
        "another `speedcert nightly`",
    )?;

    let selected = select(&args)?;
    let env = crate::envinfo::collect();
    let mut alarms = 0;
    let mut out = Vec::new();
    for sel in &selected {
        let changes = speedcert_bundle::drift::env_diff(&sel.record_env, &env);
        if !args.json {
            println!(
                "{}: environment against record #{} ({}):",
                sel.row.track, sel.row.number, sel.row.bundle
            );
            if changes.is_empty() {
                println!("  unchanged (driver, CUDA, GPU, binary, CPU)");
            }
            for c in &changes {
                println!("  changed  {c}");
            }
        }
        let (dir, drift) = rerun(&args, registry, sel, &env, &date, &signers)?;
        let rel = |p: &Path| {
            p.strip_prefix(&args.records)
                .unwrap_or(p)
                .display()
                .to_string()
        };
        let row = csv_row(sel, &drift, &date, rel(&dir));
        let csv = table::append_nightly(&args.records, &row)?;
        if drift.verdict.alarms() {
            alarms += 1;
        }
        if args.json {
            out.push(serde_json::json!({ "bundle": dir, "drift": drift }));
        } else {
            print!("{}", nightly::render(&drift));
            println!(
                "bundle: {} · row appended to {}\n",
                dir.display(),
                csv.display()
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(code(if alarms > 0 { FAILED_VERDICT } else { SUCCESS }))
}

/// Each selected track's current record, verified before anything runs.
fn select(args: &Args) -> anyhow::Result<Vec<Selected>> {
    let csv = args.records.join(speedcert_analysis::table::RECORDS_CSV);
    let records = speedcert_analysis::table::read_records(&csv)?;
    let mut names: Vec<String> = if args.all {
        records.iter().map(|r| r.track.clone()).collect()
    } else {
        args.tracks.clone()
    };
    names.sort();
    names.dedup();
    if names.is_empty() {
        bail!("{}: no track has a certified record yet", csv.display());
    }
    let trust_path = args
        .trust
        .clone()
        .unwrap_or_else(|| args.records.join("keys"));
    let trust = speedcert_attest::TrustStore::load(&trust_path)
        .with_context(|| format!("loading trusted keys from {}", trust_path.display()))?;
    names
        .into_iter()
        .map(|name| {
            let row = records
                .iter()
                .filter(|r| r.track == name)
                .max_by_key(|r| r.number)
                .cloned()
                .with_context(|| {
                    format!(
                        "{}: track `{name}` has no certified record to rerun",
                        csv.display()
                    )
                })?;
            let record_dir = args.records.join(&row.bundle);
            let stored = certify::stored_baseline(&record_dir, &trust)?;
            // The record's own track file: the rerun is of exactly what was certified.
            let track = Track::load(&record_dir.join(layout::TRACK))?;
            let record_env: Environment = bundle::read_json(&record_dir.join(layout::ENV))?;
            Ok(Selected {
                row,
                record_dir,
                track,
                stored,
                record_env,
            })
        })
        .collect()
}

/// The first free bundle folder of the night: `<date>/<track>`, then `<track>-2`, …
/// (a second nightly on the same day, or one after a crash, keeps the earlier folder as
/// evidence).
fn bundle_dir(records: &Path, date: &str, track: &str) -> PathBuf {
    let day = records.join(table::NIGHTLY_DIR).join(date);
    (1..)
        .map(|k| {
            if k == 1 {
                day.join(track)
            } else {
                day.join(format!("{track}-{k}"))
            }
        })
        .find(|p| !p.exists())
        .expect("an unbounded range has a free name")
}

fn rerun(
    args: &Args,
    registry: &Registry,
    sel: &Selected,
    env: &Environment,
    date: &str,
    signers: &[speedcert_attest::Signer],
) -> anyhow::Result<(PathBuf, Drift)> {
    let dir = bundle_dir(&args.records, date, &sel.row.track);
    let runs = args
        .runs
        .unwrap_or(sel.track.spec.certification.runs)
        .max(2);
    let folders = crate::commands::submission::build_record(&sel.record_dir, &sel.track, registry)?;
    let req = Request {
        track: &sel.track,
        submission: &sel.stored.submission,
        runs,
        baseline: None,
        baseline_runs: 0,
        stored: Some(sel.stored.clone()),
        device: choose_device(args.device, &sel.track, env),
        schedule: certify::Schedule::Sequential,
        attempt: None,
        built: folders.built,
        commands: folders.commands,
    };
    let plan = certify::prepare(&dir, &req, registry, env, signers)?;
    bundle::write_json(
        &dir.join(speedcert_bundle::layout::RECORD_ENV),
        &sel.record_env,
    )?;
    let timeout = Duration::from_secs(sel.track.spec.certification.run_timeout_s);
    let progress = Progress::new(plan.slots.len(), 0, args.json);
    for slot in &plan.slots {
        certify::run_slot(&dir, &plan, slot, timeout, &progress, signers)?;
    }
    progress.done();
    let (_, drift) =
        nightly::collect(&dir, signers).with_context(|| format!("collecting {}", dir.display()))?;
    Ok((dir, drift))
}

fn csv_row(sel: &Selected, drift: &Drift, date: &str, bundle: String) -> NightlyRow {
    let record = speedcert_stats::Summary::of(&sel.stored.times_ms).ok();
    let t = drift.time.as_ref();
    let l = drift.loss.as_ref();
    NightlyRow {
        date: date.to_owned(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        track: sel.row.track.clone(),
        submission: drift.submission.clone(),
        record_bundle: sel.row.bundle.clone(),
        record_number: sel.row.number,
        bundle,
        runs: drift.runs as u32,
        failed: drift.failed as u32,
        time_mean_ms: t.map(|t| t.tonight.mean),
        time_sd_ms: t.and_then(|t| t.tonight.sd),
        record_time_mean_ms: record.as_ref().map_or(f64::NAN, |s| s.mean),
        record_time_sd_ms: record.and_then(|s| s.sd),
        time_change_pct: t.and_then(|t| t.change_pct),
        time_change_ci_low_pct: t.and_then(|t| t.ci95_change_pct).map(|c| c[0]),
        time_change_ci_high_pct: t.and_then(|t| t.ci95_change_pct).map(|c| c[1]),
        time_p: t.map(|t| t.p_two_sided),
        loss_mean: l.map(|l| l.tonight.mean),
        record_loss_mean: l.map(|l| l.record.mean),
        loss_change_pct: l.and_then(|l| l.change_pct),
        loss_p: l.map(|l| l.p_two_sided),
        threshold: drift.threshold,
        drift: drift.verdict.alarms(),
        env_changed: !drift.env_changes.is_empty(),
        env_changes: drift
            .env_changes
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("; "),
        verdict: drift.verdict.to_string(),
    }
}
