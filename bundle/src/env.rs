//! `env.json`: the machine and software a certification ran on, and the track's pins
//! checked against it. Fields that could not be read are `None` (`null`), never guessed.

use serde::{Deserialize, Serialize};
use speedcert_track::{DeviceKind, HardwareSpec};

use crate::check::{CheckId, CheckResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuInfo {
    pub name: String,
    pub uuid: Option<String>,
    pub memory_mib: Option<u64>,
}

/// env.json (docs/bundle-format.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Environment {
    pub gpu: Vec<GpuInfo>,
    pub gpu_count: u32,
    pub driver_version: Option<String>,
    pub cuda_driver_version: Option<String>,
    pub nvrtc_version: Option<String>,
    pub cpu_model: Option<String>,
    pub cpu_count: Option<u32>,
    pub kernel: Option<String>,
    pub hostname: Option<String>,
    pub binary_sha256: Option<String>,
    pub speedcert_version: String,
    pub git_revision: Option<String>,
    pub cargo_lock_sha256: Option<String>,
    pub source_nar_hash: Option<String>,
}

impl Environment {
    /// The machine, as stored-time comparisons tell machines apart: sha256 over the GPUs
    /// (names and UUIDs), their count, driver, CUDA, CPU model and count, kernel and host
    /// name. The speedcert binary is left out: it is the referee, not the machine.
    pub fn machine_fingerprint(&self) -> String {
        let gpus: Vec<String> = self
            .gpu
            .iter()
            .map(|g| format!("{}/{}", g.name, g.uuid.as_deref().unwrap_or("")))
            .collect();
        let text = serde_json::json!({
            "gpus": gpus,
            "gpu_count": self.gpu_count,
            "driver": self.driver_version,
            "cuda": self.cuda_driver_version,
            "cpu": self.cpu_model,
            "cpus": self.cpu_count,
            "kernel": self.kernel,
            "host": self.hostname,
        })
        .to_string();
        speedcert_fsio::sha256_bytes(text.as_bytes())
    }
}

/// Compares the environment with a track's hardware pins. Unset pins are not checked;
/// on a CPU track only the device kind is.
pub fn check_pins(pins: &HardwareSpec, env: &Environment, device: DeviceKind) -> Vec<CheckResult> {
    let mut out = vec![CheckResult::new(
        CheckId::PinDevice,
        device == pins.device,
        format!("track wants {}, running on {device}", pins.device),
    )];
    let prefix = |name: CheckId, want: &Option<String>, got: &Option<String>| {
        want.as_ref().map(|w| {
            let ok = got.as_deref().is_some_and(|g| g.starts_with(w.as_str()));
            CheckResult::new(
                name,
                ok,
                format!(
                    "track pins {w}, found {}",
                    got.as_deref().unwrap_or("nothing")
                ),
            )
        })
    };
    if let Some(want) = &pins.gpu_model {
        // Every GPU of the machine must be the pinned model, not only the first.
        let mut names: Vec<&str> = env.gpu.iter().map(|g| g.name.as_str()).collect();
        names.dedup();
        let ok = !names.is_empty() && names.iter().all(|n| n.starts_with(want.as_str()));
        let found = if names.is_empty() {
            "nothing".to_owned()
        } else {
            names.join(", ")
        };
        out.push(CheckResult::new(
            CheckId::PinGpuModel,
            ok,
            format!("track pins {want}, found {found}"),
        ));
    }
    out.extend(prefix(
        CheckId::PinDriver,
        &pins.driver,
        &env.driver_version,
    ));
    out.extend(prefix(
        CheckId::PinCuda,
        &pins.cuda,
        &env.cuda_driver_version,
    ));
    if let Some(n) = pins.gpu_count {
        out.push(CheckResult::new(
            CheckId::PinGpuCount,
            env.gpu_count == n,
            format!("track pins {n} GPUs, found {}", env.gpu_count),
        ));
    }
    out
}

/// [`check_pins`] for a run that trained on `trained_on` devices: the `gpu_count` pin
/// holds only if the machine has that many GPUs and the run trained on all of them.
pub fn check_run_pins(
    pins: &HardwareSpec,
    env: &Environment,
    device: DeviceKind,
    trained_on: u32,
) -> Vec<CheckResult> {
    let mut out = check_pins(pins, env, device);
    if let Some(n) = pins.gpu_count
        && let Some(c) = out.iter_mut().find(|c| c.name == CheckId::PinGpuCount)
    {
        *c = CheckResult::new(
            CheckId::PinGpuCount,
            c.passed && trained_on == n,
            format!(
                "track pins {n} GPUs, found {}, trained on {trained_on}",
                env.gpu_count
            ),
        );
    }
    out
}
