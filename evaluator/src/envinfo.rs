//! The environment fingerprint: what machine and software a run was made on, and
//! whether that matches the track's pins. Fields that cannot be read are `None`
//! (`null` in env.json), never guessed.

use std::io::Read;

use sha2::{Digest, Sha256};
pub use speedcert_bundle::env::{Environment, GpuInfo, check_pins};

use crate::provenance::Provenance;

/// Reads the host's env.json fields. GPU fields are filled by [`gpu`] where NVML loads.
pub fn collect() -> Environment {
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
    use std::ffi::{OsStr, OsString};

    use nvml_wrapper::Nvml;

    use super::{Environment, GpuInfo};

    /// Environment variable naming the NVML library to load instead of the default.
    pub const NVML_LIBRARY_ENV: &str = "SPEEDCERT_NVML_LIB";
    /// The library the NVIDIA driver installs (the unversioned `.so` needs the dev package).
    pub const NVML_LIBRARY: &str = "libnvidia-ml.so.1";
    /// NVRTC libraries tried, in the order cudarc (burn's CUDA runtime) tries them.
    pub const NVRTC_LIBRARIES: &[&str] = &[
        "libnvrtc.so",
        "libnvrtc.so.13",
        "libnvrtc.so.12",
        "libnvrtc.so.11",
    ];

    /// `$SPEEDCERT_NVML_LIB`, else [`NVML_LIBRARY`].
    pub fn nvml_library() -> OsString {
        std::env::var_os(NVML_LIBRARY_ENV)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| NVML_LIBRARY.into())
    }

    /// Loads and initialises NVML from `library`; the error says why not, in words.
    pub fn open_nvml(library: &OsStr) -> Result<Nvml, String> {
        Nvml::builder().lib_path(library).init().map_err(|e| {
            format!(
                "NVML could not be loaded from {}: {e}",
                library.to_string_lossy()
            )
        })
    }

    /// Fills the GPU fields where an NVIDIA driver is present; leaves them empty elsewhere.
    pub fn fill(env: &mut Environment) {
        let _ = fill_from(env, &nvml_library());
        env.nvrtc_version = nvrtc_version();
    }

    /// Fills GPU name, UUID, memory and count, the driver version and the CUDA driver
    /// version from the NVML at `library`. Fields NVML cannot read stay `None`.
    pub fn fill_from(env: &mut Environment, library: &OsStr) -> Result<(), String> {
        let nvml = open_nvml(library)?;
        env.driver_version = nvml.sys_driver_version().ok();
        env.cuda_driver_version = nvml.sys_cuda_driver_version().ok().map(cuda_version);
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML could not count GPUs: {e}"))?;
        env.gpu = (0..count)
            .filter_map(|i| nvml.device_by_index(i).ok())
            .map(|d| GpuInfo {
                name: d.name().unwrap_or_else(|_| "unknown NVIDIA GPU".into()),
                uuid: d.uuid().ok(),
                memory_mib: d.memory_info().ok().map(|m| m.total / (1024 * 1024)),
            })
            .collect();
        env.gpu_count = count;
        Ok(())
    }

    /// NVML's CUDA driver version integer (`1000 * major + 10 * minor`) as `13.0`.
    pub fn cuda_version(v: i32) -> String {
        format!("{}.{}", v / 1000, (v % 1000) / 10)
    }

    /// The version of the NVRTC burn's CUDA backend would load, read with its own
    /// `nvrtcVersion`; `None` where no libnvrtc loads.
    pub fn nvrtc_version() -> Option<String> {
        NVRTC_LIBRARIES
            .iter()
            .find_map(|name| nvrtc_version_from(OsStr::new(name)))
    }

    /// `nvrtcVersion` of the NVRTC library at `library`, as `major.minor`.
    pub fn nvrtc_version_from(library: &OsStr) -> Option<String> {
        type NvrtcVersion = unsafe extern "C" fn(*mut i32, *mut i32) -> i32;
        // SAFETY: loading NVRTC runs its initialisers, which have no preconditions;
        // `nvrtcVersion(int*, int*)` has this signature in every NVRTC since CUDA 7, and
        // the library outlives the call.
        unsafe {
            let lib = libloading::Library::new(library).ok()?;
            let version: libloading::Symbol<'_, NvrtcVersion> = lib.get(b"nvrtcVersion\0").ok()?;
            let (mut major, mut minor) = (0i32, 0i32);
            (version(&mut major, &mut minor) == 0).then(|| format!("{major}.{minor}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::{DeviceKind, Track};
    use speedcert_bundle::CheckId;

    fn fixture(name: &str) -> Environment {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/env")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn tracks_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../records/tracks")
    }

    fn gpu_track() -> Track {
        Track::load(&tracks_dir().join("synthetic-gpt2-1xh100.toml")).unwrap()
    }

    fn failed(checks: &[speedcert_bundle::CheckResult]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect()
    }

    #[test]
    fn every_track_in_records_loads() {
        let mut n = 0;
        for entry in std::fs::read_dir(tracks_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let track = Track::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    path.file_stem().unwrap().to_str().unwrap(),
                    track.spec.name,
                    "a track's file is named after it"
                );
                n += 1;
            }
        }
        assert!(n >= 2, "found {n} tracks");
    }

    #[test]
    fn the_h100_track_is_gpt2_small_on_synthetic_data_with_pins() {
        let t = gpu_track();
        let s = &t.spec;
        assert_eq!(
            (
                s.model.n_layer,
                s.model.d_model,
                s.model.n_head,
                s.model.vocab_size,
                s.model.seq_len
            ),
            (12, 768, 12, 50304, 1024)
        );
        match &s.data {
            crate::track::DataSpec::Synthetic(d) => {
                assert_eq!(d.language.vocab_size as usize, s.model.vocab_size)
            }
            other => panic!("expected synthetic data, got {other:?}"),
        }
        let floor = s.loss_floor().unwrap();
        assert!(
            floor + 0.5 < s.target.val_loss,
            "floor {floor}, target {}",
            s.target.val_loss
        );
        assert_eq!(s.reference.precision, crate::track::Precision::Bf16);
        let h = &s.hardware;
        assert_eq!(h.device, DeviceKind::Cuda);
        assert_eq!(h.gpu_model.as_deref(), Some("NVIDIA H100 80GB HBM3"));
        assert_eq!(h.gpu_count, Some(1));
        assert_eq!(h.driver.as_deref(), Some("580."));
        assert_eq!(h.cuda.as_deref(), Some("13.0"));
    }

    #[test]
    fn a_recorded_h100_run_matches_the_h100_track() {
        let checks = check_pins(
            &gpu_track().spec.hardware,
            &fixture("h100-580.json"),
            DeviceKind::Cuda,
        );
        let names: Vec<_> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pin.device",
                "pin.gpu_model",
                "pin.driver",
                "pin.cuda",
                "pin.gpu_count"
            ]
        );
        assert!(failed(&checks).is_empty(), "{checks:?}");
    }

    #[test]
    fn an_older_driver_and_cuda_are_caught() {
        let checks = check_pins(
            &gpu_track().spec.hardware,
            &fixture("h100-575-cuda12.json"),
            DeviceKind::Cuda,
        );
        assert_eq!(failed(&checks), ["pin.driver", "pin.cuda"]);
        let driver = checks
            .iter()
            .find(|c| c.name == CheckId::PinDriver)
            .unwrap();
        assert_eq!(driver.detail, "track pins 580., found 575.57.08");
    }

    #[test]
    fn another_gpu_model_and_count_are_caught() {
        let env = fixture("h200x2-580.json");
        let checks = check_pins(&gpu_track().spec.hardware, &env, DeviceKind::Cuda);
        assert_eq!(failed(&checks), ["pin.gpu_model", "pin.gpu_count"]);
        let model = checks
            .iter()
            .find(|c| c.name == CheckId::PinGpuModel)
            .unwrap();
        assert_eq!(
            model.detail,
            "track pins NVIDIA H100 80GB HBM3, found NVIDIA H200"
        );
    }

    #[test]
    fn every_gpu_must_be_the_pinned_model() {
        let mut env = fixture("h100-580.json");
        let mut other = env.gpu[0].clone();
        other.name = "NVIDIA H100 PCIe".into();
        env.gpu.push(other);
        env.gpu_count = 2;
        let mut pins = gpu_track().spec.hardware;
        pins.gpu_count = Some(2);
        let checks = check_pins(&pins, &env, DeviceKind::Cuda);
        assert_eq!(failed(&checks), ["pin.gpu_model"]);
    }

    #[test]
    fn a_cpu_machine_fails_every_gpu_pin() {
        let checks = check_pins(
            &gpu_track().spec.hardware,
            &fixture("cpu-only.json"),
            DeviceKind::Cpu,
        );
        assert_eq!(
            failed(&checks),
            [
                "pin.device",
                "pin.gpu_model",
                "pin.driver",
                "pin.cuda",
                "pin.gpu_count"
            ]
        );
        let cuda = checks.iter().find(|c| c.name == CheckId::PinCuda).unwrap();
        assert_eq!(cuda.detail, "track pins 13.0, found nothing");
    }

    #[test]
    fn a_cpu_track_checks_only_the_device() {
        let track = Track::embedded_default();
        let checks = check_pins(
            &track.spec.hardware,
            &fixture("h100-580.json"),
            DeviceKind::Cpu,
        );
        assert_eq!(checks.len(), 1);
        assert!(checks[0].passed);
    }

    #[test]
    fn fixtures_round_trip_and_tolerate_unknown_fields() {
        for name in [
            "h100-580.json",
            "h100-575-cuda12.json",
            "h200x2-580.json",
            "cpu-only.json",
        ] {
            let env = fixture(name);
            let back: Environment =
                serde_json::from_value(serde_json::to_value(&env).unwrap()).unwrap();
            assert_eq!(back, env, "{name}");
            assert_eq!(env.gpu.len() as u32, env.gpu_count, "{name}");
        }
    }

    #[test]
    fn without_nvml_the_gpu_fields_stay_empty() {
        let mut env = Environment::default();
        let err = gpu::fill_from(
            &mut env,
            "/nonexistent/speedcert-test/libnvidia-ml.so.1".as_ref(),
        )
        .unwrap_err();
        assert!(err.contains("NVML could not be loaded"), "{err}");
        assert_eq!(env, Environment::default());
        assert_eq!(
            gpu::nvrtc_version_from("/nonexistent/speedcert-test/libnvrtc.so".as_ref()),
            None
        );
    }

    #[test]
    fn collect_never_panics_and_is_consistent() {
        let env = crate::envinfo::collect();
        assert_eq!(env.gpu.len() as u32, env.gpu_count);
        assert!(env.binary_sha256.as_deref().is_some_and(|h| h.len() == 64));
        assert_eq!(env.speedcert_version, env!("CARGO_PKG_VERSION"));
    }

    // GPU machines only (bench/throughput/README.md):
    // `cargo test -p speedcert --lib -- --ignored gpu_`

    #[test]
    #[ignore = "needs an NVIDIA GPU, its driver and NVRTC"]
    fn gpu_nvml_reads_the_machine() {
        let env = crate::envinfo::collect();
        assert!(env.gpu_count > 0, "{env:?}");
        assert_eq!(env.gpu.len() as u32, env.gpu_count);
        for g in &env.gpu {
            assert!(g.name.starts_with("NVIDIA"), "{g:?}");
            assert!(
                g.uuid.as_deref().is_some_and(|u| u.starts_with("GPU-")),
                "{g:?}"
            );
            assert!(g.memory_mib.is_some_and(|m| m > 1024), "{g:?}");
        }
        assert!(env.driver_version.is_some(), "{env:?}");
        assert!(
            env.cuda_driver_version
                .as_deref()
                .is_some_and(|v| v.contains('.')),
            "{env:?}"
        );
        assert!(
            env.nvrtc_version.is_some(),
            "no libnvrtc.so* found: burn's CUDA backend needs it"
        );
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU, its driver and NVRTC"]
    fn gpu_bf16_loss_is_computed_in_f32() {
        use burn::tensor::{DType, Distribution, Int, Tensor, bf16};
        type F = burn::backend::Cuda<f32>;
        type Bf = burn::backend::Cuda<bf16>;
        let device = burn::backend::cuda::CudaDevice::new(0);
        let (b, t, v) = (4, 64, 50304);
        let logits = Tensor::<F, 3>::random([b, t, v], Distribution::Normal(0.0, 3.0), &device);
        let targets =
            Tensor::<F, 2, Int>::random([b, t], Distribution::Uniform(0.0, v as f64), &device);
        // The same bf16-rounded logits on both backends.
        let rounded = logits.into_data().convert::<bf16>();
        let logits_bf = Tensor::<Bf, 3>::from_data(rounded.clone(), &device);
        let logits_f = Tensor::<F, 3>::from_data(rounded.convert::<f32>(), &device);
        let targets_bf = Tensor::<Bf, 2, Int>::from_data(targets.to_data(), &device);
        let want = crate::model::cross_entropy(logits_f, targets)
            .into_data()
            .iter::<f64>()
            .next()
            .unwrap();
        let got = crate::model::cross_entropy(logits_bf, targets_bf);
        assert_eq!(got.dtype(), DType::F32);
        let got = got.into_data().iter::<f64>().next().unwrap();
        assert!(
            (got - want).abs() < 1e-4 * want.abs(),
            "bf16 backend {got}, f32 backend {want}"
        );
    }

    #[test]
    fn cuda_versions_print_as_major_minor() {
        assert_eq!(gpu::cuda_version(13000), "13.0");
        assert_eq!(gpu::cuda_version(12090), "12.9");
        assert_eq!(gpu::cuda_version(12040), "12.4");
    }
}
