//! The GPU sampler: a background thread that reads every GPU's clocks, power,
//! temperature, utilisation, memory and throttle reasons through NVML every 100 ms
//! while a run trains, for gpu.csv ([`speedcert_bundle::gpu`] reads it: throttling, busy GPUs).
//!
//! NVML is loaded at run time ([`crate::envinfo::gpu::open_nvml`]); where it is absent
//! the sampler says so with a typed [`SamplerStatus::Unavailable`], records nothing,
//! and gpu.csv holds only its header.

use std::ffi::OsString;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use speedcert_bundle::gpu::{GpuLog, GpuSample, ThrottleReason, ThrottleReasons};

/// How often the sampler reads the GPUs.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

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
        GpuLog {
            samples: self.finish(),
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
    use crate::telemetry::GPU_CSV_HEADER;

    fn missing_library() -> NvmlSource {
        NvmlSource::Library("/nonexistent/speedcert-test/libnvidia-ml.so.1".into())
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
        let sampler = GpuSampler::disabled();
        assert_eq!(*sampler.status(), SamplerStatus::Disabled);
        let log = sampler.stop();
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
}
