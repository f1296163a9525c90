//! `speedcert env`: the environment fingerprint every run.json carries (GPU, driver,
//! CUDA, NVRTC, CPU, kernel, the binary's digest and provenance), and with `--check` the
//! comparison with a track's pins. A mismatch exits 3: runs made here would be unofficial.

use std::process::ExitCode;

use serde::Serialize;

use super::{code, exit};
use crate::envinfo::{Environment, check_pins};
use crate::track::{self, Track};
use speedcert_bundle::CheckResult;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Compare the environment with this track's pins (name or path to a .toml);
    /// exit 3 on any mismatch.
    #[arg(long, value_name = "TRACK")]
    pub check: Option<String>,
    /// Print JSON: env.json's shape, or {env, track, pins, official} with --check.
    #[arg(long)]
    pub json: bool,
}

/// `--json --check` output.
#[derive(Debug, Serialize)]
struct CheckReport<'a> {
    env: &'a Environment,
    track: &'a str,
    pins: &'a [CheckResult],
    official: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = crate::envinfo::collect();
    let Some(name) = &args.check else {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&env)?);
        } else {
            print!("{}", render(&env));
        }
        return Ok(code(exit::SUCCESS));
    };
    let track = Track::resolve(name, &track::default_track_dirs())?;
    let device = super::run::choose_device(super::run::DeviceArg::Auto, &track, &env);
    let pins = check_pins(&track.spec.hardware, &env, device);
    let official = pins.iter().all(|p| p.passed);
    if args.json {
        let report = CheckReport {
            env: &env,
            track: &track.spec.name,
            pins: &pins,
            official,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&env));
        println!();
        print!("{}", render_checks(&track, &pins));
    }
    Ok(code(if official {
        exit::SUCCESS
    } else {
        exit::FAILED_VERDICT
    }))
}

fn or_unknown(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "unknown".into())
}

/// The environment as aligned `label  value` lines.
pub fn render(env: &Environment) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    if env.gpu.is_empty() {
        rows.push(("GPU".into(), "none found (no NVIDIA driver or NVML)".into()));
    }
    for (i, g) in env.gpu.iter().enumerate() {
        let mem = g
            .memory_mib
            .map(|m| format!("{m} MiB"))
            .unwrap_or_else(|| "memory unknown".into());
        let uuid = g.uuid.as_deref().unwrap_or("uuid unknown");
        rows.push((format!("GPU {i}"), format!("{} · {mem} · {uuid}", g.name)));
    }
    rows.push(("GPU count".into(), env.gpu_count.to_string()));
    rows.push(("driver".into(), or_unknown(&env.driver_version)));
    rows.push((
        "CUDA driver API".into(),
        or_unknown(&env.cuda_driver_version),
    ));
    rows.push(("NVRTC".into(), or_unknown(&env.nvrtc_version)));
    let cpus = env
        .cpu_count
        .map(|n| format!(" · {n} threads"))
        .unwrap_or_default();
    rows.push((
        "CPU".into(),
        format!("{}{cpus}", or_unknown(&env.cpu_model)),
    ));
    rows.push(("kernel".into(), or_unknown(&env.kernel)));
    rows.push(("hostname".into(), or_unknown(&env.hostname)));
    rows.push(("speedcert".into(), env.speedcert_version.clone()));
    rows.push(("binary sha256".into(), or_unknown(&env.binary_sha256)));
    rows.push(("git revision".into(), or_unknown(&env.git_revision)));
    rows.push((
        "Cargo.lock sha256".into(),
        or_unknown(&env.cargo_lock_sha256),
    ));
    rows.push((
        "source narHash".into(),
        env.source_nar_hash
            .clone()
            .unwrap_or_else(|| "none (not built by the Nix flake)".into()),
    ));
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// One line per pin (`ok` / `FAIL`) and a closing verdict line.
pub fn render_checks(track: &Track, pins: &[CheckResult]) -> String {
    let mut out = format!("pins of {} ({}):\n", track.spec.name, track.origin);
    let width = pins
        .iter()
        .map(|p| p.name.as_str().len())
        .max()
        .unwrap_or(0);
    for p in pins {
        let mark = if p.passed { "ok  " } else { "FAIL" };
        out.push_str(&format!(
            "  {mark}  {:<width$}  {}\n",
            p.name.as_str(),
            p.detail
        ));
    }
    let failed = pins.iter().filter(|p| !p.passed).count();
    if failed == 0 {
        out.push_str(&format!(
            "all {} pins match: runs here are official\n",
            pins.len()
        ));
    } else {
        out.push_str(&format!(
            "{failed} of {} pins do not match: runs here would be marked unofficial\n",
            pins.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h100() -> Environment {
        let text = include_str!("../../testdata/env/h100-580.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn render_aligns_labels_and_names_unknowns() {
        let text = render(&h100());
        assert!(
            text.contains("GPU 0              NVIDIA H100 80GB HBM3 · 81559 MiB · GPU-"),
            "{text}"
        );
        assert!(text.contains("CUDA driver API    13.0\n"), "{text}");
        assert!(
            text.contains("source narHash     none (not built by the Nix flake)\n"),
            "{text}"
        );
        // Values start in one column, after the longest label ("Cargo.lock sha256") and two spaces.
        for line in text.lines() {
            let (label, value) = line.split_at("Cargo.lock sha256".len() + 2);
            assert!(
                label.ends_with("  ") && !label.trim().is_empty(),
                "{line:?}"
            );
            assert!(!value.starts_with(' '), "{line:?}");
        }

        let empty = render(&Environment::default());
        assert!(empty.contains("none found"), "{empty}");
        assert!(empty.contains("driver             unknown\n"), "{empty}");
    }

    #[test]
    fn checks_say_ok_or_fail_with_expected_and_found() {
        let track = Track::parse(
            include_str!("../../../records/tracks/synthetic-gpt2-1xh100.toml"),
            std::path::Path::new("synthetic-gpt2-1xh100.toml"),
        )
        .unwrap();
        let mut env = h100();
        env.driver_version = Some("575.57.08".into());
        let pins = check_pins(&track.spec.hardware, &env, crate::track::DeviceKind::Cuda);
        let text = render_checks(&track, &pins);
        assert!(text.contains("  ok    pin.gpu_model  track pins NVIDIA H100 80GB HBM3, found NVIDIA H100 80GB HBM3\n"), "{text}");
        assert!(
            text.contains("  FAIL  pin.driver     track pins 580., found 575.57.08\n"),
            "{text}"
        );
        assert!(
            text.ends_with("1 of 5 pins do not match: runs here would be marked unofficial\n"),
            "{text}"
        );
    }
}
