//! The GPU sampler: a background thread that reads every GPU's clocks, power,
//! temperature, utilisation, memory and throttle reasons through NVML every 100 ms
//! while a run trains, for gpu.csv, and tells whether the run was throttled.
//!
//! NVML is loaded at run time ([`crate::envinfo::gpu::open_nvml`]); where it is absent
//! the sampler says so with a typed [`SamplerStatus::Unavailable`], records nothing,
//! and gpu.csv holds only its header.

use std::ffi::OsString;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::GPU_CSV_HEADER;

/// How often the sampler reads the GPUs.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// One NVML clock-throttle reason (`nvmlClocksThrottleReason*`, called "clocks event
/// reasons" in newer NVML headers). The values are NVML's bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleReason {
    /// Nothing is running: clocks are low because the GPU is idle.
    GpuIdle,
    /// Clocks were set by `nvidia-smi -ac` (application clocks).
    ApplicationsClocksSetting,
    /// The software power cap (the board's power limit) lowered the clocks.
    SwPowerCap,
    /// Hardware slowdown (temperature or power brake assertion): clocks at half or less.
    HwSlowdown,
    /// Clocks held down to match other GPUs in a sync-boost group.
    SyncBoost,
    /// Software thermal slowdown: GPU or memory above its maximum operating temperature.
    SwThermalSlowdown,
    /// Hardware thermal slowdown: the GPU is too hot.
    HwThermalSlowdown,
    /// External power brake (the power supply or the system asked for less).
    HwPowerBrakeSlowdown,
    /// Clocks follow the display clock setting.
    DisplayClockSetting,
}

impl ThrottleReason {
    pub const ALL: [ThrottleReason; 9] = [
        ThrottleReason::GpuIdle,
        ThrottleReason::ApplicationsClocksSetting,
        ThrottleReason::SwPowerCap,
        ThrottleReason::HwSlowdown,
        ThrottleReason::SyncBoost,
        ThrottleReason::SwThermalSlowdown,
        ThrottleReason::HwThermalSlowdown,
        ThrottleReason::HwPowerBrakeSlowdown,
        ThrottleReason::DisplayClockSetting,
    ];

    /// NVML's bit for this reason.
    pub const fn bit(self) -> u64 {
        match self {
            ThrottleReason::GpuIdle => 0x1,
            ThrottleReason::ApplicationsClocksSetting => 0x2,
            ThrottleReason::SwPowerCap => 0x4,
            ThrottleReason::HwSlowdown => 0x8,
            ThrottleReason::SyncBoost => 0x10,
            ThrottleReason::SwThermalSlowdown => 0x20,
            ThrottleReason::HwThermalSlowdown => 0x40,
            ThrottleReason::HwPowerBrakeSlowdown => 0x80,
            ThrottleReason::DisplayClockSetting => 0x100,
        }
    }

    /// The name written in gpu.csv.
    pub const fn name(self) -> &'static str {
        match self {
            ThrottleReason::GpuIdle => "gpu_idle",
            ThrottleReason::ApplicationsClocksSetting => "applications_clocks_setting",
            ThrottleReason::SwPowerCap => "sw_power_cap",
            ThrottleReason::HwSlowdown => "hw_slowdown",
            ThrottleReason::SyncBoost => "sync_boost",
            ThrottleReason::SwThermalSlowdown => "sw_thermal_slowdown",
            ThrottleReason::HwThermalSlowdown => "hw_thermal_slowdown",
            ThrottleReason::HwPowerBrakeSlowdown => "hw_power_brake_slowdown",
            ThrottleReason::DisplayClockSetting => "display_clock_setting",
        }
    }

    /// True for reasons that slow a busy GPU below what it would otherwise run at:
    /// power and thermal slowdowns and hardware slowdowns. Idle clocks, clock settings
    /// and sync boost do not make a run's time unrepresentative.
    pub const fn limits_performance(self) -> bool {
        matches!(
            self,
            ThrottleReason::SwPowerCap
                | ThrottleReason::HwSlowdown
                | ThrottleReason::SwThermalSlowdown
                | ThrottleReason::HwThermalSlowdown
                | ThrottleReason::HwPowerBrakeSlowdown
        )
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// A set of throttle reasons, as NVML's bitmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleReasons(pub u64);

impl ThrottleReasons {
    pub fn contains(self, reason: ThrottleReason) -> bool {
        self.0 & reason.bit() != 0
    }

    /// The known reasons present, in NVML's bit order.
    pub fn reasons(self) -> Vec<ThrottleReason> {
        ThrottleReason::ALL
            .into_iter()
            .filter(|r| self.contains(*r))
            .collect()
    }

    /// True when any reason that slows a busy GPU is present.
    pub fn limits_performance(self) -> bool {
        self.reasons().iter().any(|r| r.limits_performance())
    }

    /// `sw_power_cap|hw_thermal_slowdown`; empty when none. Bits NVML may add later are
    /// written as `0x...` so nothing is lost.
    pub fn to_field(self) -> String {
        let known: u64 = ThrottleReason::ALL.iter().map(|r| r.bit()).sum();
        let mut parts: Vec<String> = self
            .reasons()
            .into_iter()
            .map(|r| r.name().to_owned())
            .collect();
        let unknown = self.0 & !known;
        if unknown != 0 {
            parts.push(format!("{unknown:#x}"));
        }
        parts.join("|")
    }

    /// Parses [`ThrottleReasons::to_field`]'s output.
    pub fn from_field(field: &str) -> Result<Self, String> {
        let mut bits = 0;
        for part in field.split('|').filter(|p| !p.is_empty()) {
            bits |= match ThrottleReason::from_name(part) {
                Some(r) => r.bit(),
                None => part
                    .strip_prefix("0x")
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("unknown throttle reason `{part}`"))?,
            };
        }
        Ok(Self(bits))
    }
}

/// One row of gpu.csv: one GPU at one instant. Readings NVML refused are empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuSample {
    /// Milliseconds since the sampler started.
    pub time_ms: f64,
    /// NVML index of the GPU.
    pub gpu: u32,
    pub sm_clock_mhz: Option<u32>,
    pub mem_clock_mhz: Option<u32>,
    pub power_w: Option<f64>,
    pub temperature_c: Option<u32>,
    pub util_gpu_pct: Option<u32>,
    pub util_mem_pct: Option<u32>,
    pub memory_used_mib: Option<u64>,
    /// [`ThrottleReasons::to_field`]; empty when none (or unreadable).
    pub throttle_reasons: String,
}

impl GpuSample {
    pub fn throttle(&self) -> ThrottleReasons {
        ThrottleReasons::from_field(&self.throttle_reasons).unwrap_or_default()
    }
}

/// What the sampler is doing, decided when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SamplerStatus {
    /// Not asked to sample (a CPU run).
    Disabled,
    /// NVML could not be loaded or initialised, or saw no GPU: nothing is recorded.
    Unavailable { reason: String },
    /// Sampling this many GPUs.
    Sampling { gpus: u32 },
}

impl std::fmt::Display for SamplerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SamplerStatus::Disabled => f.write_str("disabled"),
            SamplerStatus::Unavailable { reason } => write!(f, "unavailable: {reason}"),
            SamplerStatus::Sampling { gpus } => write!(f, "sampling {gpus} GPU(s)"),
        }
    }
}

/// Everything a stopped sampler recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuLog {
    pub status: SamplerStatus,
    pub samples: Vec<GpuSample>,
}

impl GpuLog {
    /// gpu.csv: the header, then one row per sample.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(GPU_CSV_HEADER.as_bytes().to_vec());
        for s in &self.samples {
            w.serialize(s).expect("in-memory csv");
        }
        w.into_inner().expect("in-memory csv")
    }

    /// Reads a gpu.csv back (status is `Sampling` when it has rows, else `Unavailable`).
    pub fn read_csv(path: &Path) -> Result<Self, String> {
        let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let samples = r
            .deserialize()
            .collect::<Result<Vec<GpuSample>, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut gpus: Vec<u32> = samples.iter().map(|s| s.gpu).collect();
        gpus.sort_unstable();
        gpus.dedup();
        let status = if samples.is_empty() {
            SamplerStatus::Unavailable {
                reason: "gpu.csv has no samples".into(),
            }
        } else {
            SamplerStatus::Sampling {
                gpus: gpus.len() as u32,
            }
        };
        Ok(Self { status, samples })
    }

    /// True when any sample of any GPU had a performance-limiting throttle reason.
    pub fn throttled(&self) -> bool {
        self.samples
            .iter()
            .any(|s| s.throttle().limits_performance())
    }

    /// Samples per performance-limiting reason, for a one-line report.
    pub fn throttle_counts(&self) -> Vec<(ThrottleReason, usize)> {
        ThrottleReason::ALL
            .into_iter()
            .filter(|r| r.limits_performance())
            .map(|r| {
                let n = self
                    .samples
                    .iter()
                    .filter(|s| s.throttle().contains(r))
                    .count();
                (r, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Highest memory used on any GPU, MiB.
    pub fn peak_memory_mib(&self) -> Option<u64> {
        self.samples.iter().filter_map(|s| s.memory_used_mib).max()
    }
}

/// Where the sampler loads NVML from.
#[derive(Debug, Clone)]
pub enum NvmlSource {
    /// [`crate::envinfo::gpu::nvml_library`]: `$SPEEDCERT_NVML_LIB` or libnvidia-ml.so.1.
    Default,
    /// A given library path (tests use a missing one).
    Library(OsString),
}

impl NvmlSource {
    fn library(&self) -> OsString {
        match self {
            NvmlSource::Default => crate::envinfo::gpu::nvml_library(),
            NvmlSource::Library(p) => p.clone(),
        }
    }
}

/// A running (or never started) sampler. [`GpuSampler::stop`] ends it and returns its
/// log; dropping it without `stop` also ends the thread.
pub struct GpuSampler {
    status: SamplerStatus,
    stop_tx: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<Vec<GpuSample>>>,
}

impl GpuSampler {
    /// A sampler that records nothing (CPU runs): gpu.csv stays header-only.
    pub fn disabled() -> Self {
        Self {
            status: SamplerStatus::Disabled,
            stop_tx: None,
            handle: None,
        }
    }

    /// Loads NVML from `source` and starts sampling every GPU every `interval`. Returns
    /// once NVML has been loaded or has failed to; never panics for want of a driver.
    pub fn start(source: NvmlSource, interval: Duration) -> Self {
        let lib = source.library();
        let (status_tx, status_rx) = mpsc::sync_channel::<SamplerStatus>(1);
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("speedcert-gpu-sampler".into())
            .spawn(move || sample_loop(&lib, interval, &status_tx, &stop_rx));
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => {
                return Self {
                    status: SamplerStatus::Unavailable {
                        reason: format!("could not start the sampler thread: {e}"),
                    },
                    stop_tx: None,
                    handle: None,
                };
            }
        };
        let status = status_rx
            .recv()
            .unwrap_or_else(|_| SamplerStatus::Unavailable {
                reason: "the sampler thread ended before reporting".into(),
            });
        Self {
            status,
            stop_tx: Some(stop_tx),
            handle: Some(handle),
        }
    }

    /// What a run on `device` samples: every GPU through the default NVML on CUDA
    /// (saying once on stderr when NVML is unavailable), nothing on CPU.
    pub fn for_device(device: crate::track::DeviceKind) -> Self {
        match device {
            crate::track::DeviceKind::Cpu => Self::disabled(),
            crate::track::DeviceKind::Cuda => {
                let sampler = Self::start(NvmlSource::Default, SAMPLE_INTERVAL);
                if let SamplerStatus::Unavailable { reason } = sampler.status() {
                    eprintln!(
                        "warning: GPU telemetry unavailable ({reason}); gpu.csv will hold only its header"
                    );
                }
                sampler
            }
        }
    }

    pub fn status(&self) -> &SamplerStatus {
        &self.status
    }

    /// Stops the thread (within one NVML read) and returns what it recorded.
    pub fn stop(mut self) -> GpuLog {
        let samples = self.finish();
        GpuLog {
            status: self.status.clone(),
            samples,
        }
    }

    fn finish(&mut self) -> Vec<GpuSample> {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(());
        }
        match self.handle.take() {
            Some(h) => h.join().unwrap_or_default(),
            None => Vec::new(),
        }
    }
}

impl Drop for GpuSampler {
    fn drop(&mut self) {
        self.finish();
    }
}

fn sample_loop(
    lib: &std::ffi::OsStr,
    interval: Duration,
    status_tx: &mpsc::SyncSender<SamplerStatus>,
    stop_rx: &mpsc::Receiver<()>,
) -> Vec<GpuSample> {
    let nvml = match crate::envinfo::gpu::open_nvml(lib) {
        Ok(n) => n,
        Err(reason) => {
            let _ = status_tx.send(SamplerStatus::Unavailable { reason });
            return Vec::new();
        }
    };
    let devices: Vec<_> = match nvml.device_count() {
        Ok(0) => {
            let _ = status_tx.send(SamplerStatus::Unavailable {
                reason: "NVML sees no GPU".into(),
            });
            return Vec::new();
        }
        Ok(n) => (0..n)
            .filter_map(|i| nvml.device_by_index(i).ok().map(|d| (i, d)))
            .collect(),
        Err(e) => {
            let _ = status_tx.send(SamplerStatus::Unavailable {
                reason: format!("NVML could not count GPUs: {e}"),
            });
            return Vec::new();
        }
    };
    let _ = status_tx.send(SamplerStatus::Sampling {
        gpus: devices.len() as u32,
    });
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut tick: u32 = 0;
    loop {
        let time_ms = start.elapsed().as_secs_f64() * 1e3;
        for (index, device) in &devices {
            samples.push(read_device(*index, device, time_ms));
        }
        // Deadline-based, so the period does not drift by the time the reads take.
        tick += 1;
        let next = start + interval * tick;
        let wait = next.saturating_duration_since(Instant::now());
        match stop_rx.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => continue,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    samples
}

fn read_device(index: u32, d: &nvml_wrapper::Device<'_>, time_ms: f64) -> GpuSample {
    use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
    let util = d.utilization_rates().ok();
    #[allow(deprecated)] // the "clocks event reasons" rename calls the same NVML function
    let throttle = d
        .current_throttle_reasons()
        .ok()
        .map(|r| ThrottleReasons(r.bits()).to_field())
        .unwrap_or_default();
    GpuSample {
        time_ms,
        gpu: index,
        sm_clock_mhz: d.clock_info(Clock::SM).ok(),
        mem_clock_mhz: d.clock_info(Clock::Memory).ok(),
        power_w: d.power_usage().ok().map(|mw| mw as f64 / 1e3),
        temperature_c: d.temperature(TemperatureSensor::Gpu).ok(),
        util_gpu_pct: util.as_ref().map(|u| u.gpu),
        util_mem_pct: util.as_ref().map(|u| u.memory),
        memory_used_mib: d.memory_info().ok().map(|m| m.used / (1024 * 1024)),
        throttle_reasons: throttle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing_library() -> NvmlSource {
        NvmlSource::Library("/nonexistent/speedcert-test/libnvidia-ml.so.1".into())
    }

    fn sample(t: f64, reasons: ThrottleReasons) -> GpuSample {
        GpuSample {
            time_ms: t,
            gpu: 0,
            sm_clock_mhz: Some(1980),
            mem_clock_mhz: Some(2619),
            power_w: Some(612.5),
            temperature_c: Some(61),
            util_gpu_pct: Some(100),
            util_mem_pct: Some(43),
            memory_used_mib: Some(40_000),
            throttle_reasons: reasons.to_field(),
        }
    }

    #[test]
    fn without_nvml_the_sampler_is_unavailable_and_stops_cleanly() {
        let t = Instant::now();
        let sampler = GpuSampler::start(missing_library(), Duration::from_millis(5));
        match sampler.status() {
            SamplerStatus::Unavailable { reason } => {
                assert!(reason.contains("NVML"), "{reason}")
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
        let log = sampler.stop();
        assert!(log.samples.is_empty());
        assert!(!log.throttled());
        assert_eq!(log.to_csv(), GPU_CSV_HEADER.as_bytes());
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_dropped_sampler_does_not_hang() {
        drop(GpuSampler::start(
            missing_library(),
            Duration::from_millis(5),
        ));
        drop(GpuSampler::disabled());
    }

    #[test]
    fn disabled_sampler_writes_only_the_header() {
        let log = GpuSampler::disabled().stop();
        assert_eq!(log.status, SamplerStatus::Disabled);
        assert_eq!(log.to_csv(), GPU_CSV_HEADER.as_bytes());
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU and driver (bench/throughput/README.md)"]
    fn gpu_sampler_records_every_gpu() {
        let sampler = GpuSampler::start(NvmlSource::Default, Duration::from_millis(20));
        let SamplerStatus::Sampling { gpus } = *sampler.status() else {
            panic!("NVML unavailable: {}", sampler.status());
        };
        std::thread::sleep(Duration::from_millis(300));
        let log = sampler.stop();
        assert!(
            log.samples.len() >= 5 * gpus as usize,
            "{} samples",
            log.samples.len()
        );
        for s in &log.samples {
            assert!(
                s.sm_clock_mhz.is_some() && s.memory_used_mib.is_some(),
                "{s:?}"
            );
            ThrottleReasons::from_field(&s.throttle_reasons).unwrap();
        }
        let csv = String::from_utf8(log.to_csv()).unwrap();
        assert_eq!(csv.lines().count(), log.samples.len() + 1);
    }

    #[test]
    fn throttle_classification() {
        use ThrottleReason::*;
        for r in [
            SwPowerCap,
            HwSlowdown,
            SwThermalSlowdown,
            HwThermalSlowdown,
            HwPowerBrakeSlowdown,
        ] {
            assert!(r.limits_performance(), "{r:?}");
            assert!(ThrottleReasons(r.bit()).limits_performance());
        }
        for r in [
            GpuIdle,
            ApplicationsClocksSetting,
            SyncBoost,
            DisplayClockSetting,
        ] {
            assert!(!r.limits_performance(), "{r:?}");
        }
        assert!(!ThrottleReasons(0).limits_performance());
        assert!(
            !ThrottleReasons(GpuIdle.bit() | ApplicationsClocksSetting.bit()).limits_performance()
        );
        assert!(ThrottleReasons(GpuIdle.bit() | HwThermalSlowdown.bit()).limits_performance());
        // The bits are NVML's (nvml.h: nvmlClocksThrottleReason*).
        assert_eq!(
            ThrottleReasons(0x1 | 0x4 | 0x40).reasons(),
            vec![GpuIdle, SwPowerCap, HwThermalSlowdown]
        );
        // Every bit matches nvml-wrapper's constants too.
        use nvml_wrapper::bitmasks::device::ThrottleReasons as Nv;
        for (ours, theirs) in [
            (GpuIdle, Nv::GPU_IDLE),
            (ApplicationsClocksSetting, Nv::APPLICATIONS_CLOCKS_SETTING),
            (SwPowerCap, Nv::SW_POWER_CAP),
            (HwSlowdown, Nv::HW_SLOWDOWN),
            (SyncBoost, Nv::SYNC_BOOST),
            (SwThermalSlowdown, Nv::SW_THERMAL_SLOWDOWN),
            (HwThermalSlowdown, Nv::HW_THERMAL_SLOWDOWN),
            (HwPowerBrakeSlowdown, Nv::HW_POWER_BRAKE_SLOWDOWN),
            (DisplayClockSetting, Nv::DISPLAY_CLOCK_SETTING),
        ] {
            assert_eq!(ours.bit(), theirs.bits(), "{ours:?}");
        }
    }

    #[test]
    fn throttle_field_round_trips_with_unknown_bits() {
        let r = ThrottleReasons(
            ThrottleReason::SwPowerCap.bit() | ThrottleReason::GpuIdle.bit() | 0x8000,
        );
        let field = r.to_field();
        assert_eq!(field, "gpu_idle|sw_power_cap|0x8000");
        assert_eq!(ThrottleReasons::from_field(&field).unwrap(), r);
        assert_eq!(ThrottleReasons::from_field("").unwrap(), ThrottleReasons(0));
        assert!(ThrottleReasons::from_field("too_hot").is_err());
    }

    #[test]
    fn a_run_is_throttled_when_any_sample_was_slowed() {
        let idle = ThrottleReasons(ThrottleReason::GpuIdle.bit());
        let hot = ThrottleReasons(ThrottleReason::HwThermalSlowdown.bit());
        let calm = GpuLog {
            status: SamplerStatus::Sampling { gpus: 1 },
            samples: vec![sample(0.0, idle), sample(100.0, ThrottleReasons(0))],
        };
        assert!(!calm.throttled());
        let mut warm = calm.clone();
        warm.samples.push(sample(200.0, hot));
        assert!(warm.throttled());
        assert_eq!(
            warm.throttle_counts(),
            vec![(ThrottleReason::HwThermalSlowdown, 1)]
        );
        assert_eq!(warm.peak_memory_mib(), Some(40_000));
    }

    #[test]
    fn gpu_csv_matches_the_header_and_reads_back() {
        let log = GpuLog {
            status: SamplerStatus::Sampling { gpus: 1 },
            samples: vec![
                sample(0.0, ThrottleReasons(ThrottleReason::SwPowerCap.bit())),
                GpuSample {
                    power_w: None,
                    throttle_reasons: String::new(),
                    ..sample(100.0, ThrottleReasons(0))
                },
            ],
        };
        let csv = String::from_utf8(log.to_csv()).unwrap();
        assert!(csv.starts_with(GPU_CSV_HEADER), "{csv}");
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.contains(",sw_power_cap\n"), "{csv}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gpu.csv");
        std::fs::write(&path, &csv).unwrap();
        let back = GpuLog::read_csv(&path).unwrap();
        assert_eq!(back.samples, log.samples);
        assert!(back.throttled());
    }
}
