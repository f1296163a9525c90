//! `runs/run-NNN/gpu.csv`: what the GPU sampler read through NVML every 100 ms while a
//! run trained (clocks, power, temperature, utilisation, memory, throttle reasons), and
//! what a run's record says from it: whether it was throttled and, for a command run, on
//! how many GPUs it trained. The sampler lives in the evaluator; the reading is here, so
//! verify recomputes those figures from the file rather than trust run.json.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// gpu.csv's columns; the sampler (CUDA runs) writes one row per 100 ms.
pub const GPU_CSV_HEADER: &str = "time_ms,gpu,sm_clock_mhz,mem_clock_mhz,power_w,temperature_c,util_gpu_pct,util_mem_pct,memory_used_mib,throttle_reasons\n";

/// The largest gpu.csv a reader loads: about 80 bytes a row, so eight GPUs sampled every
/// 100 ms for over two days.
pub const MAX_GPU_LOG_BYTES: u64 = 1 << 30;

/// The utilisation (NVML's percentage of time a kernel ran) at which a sample counts as
/// the GPU at work.
pub const BUSY_UTIL_PCT: u32 = 50;

/// A GPU worked during a run when at least one in this many of its samples was busy.
pub const BUSY_SHARE: usize = 10;

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

/// What a run's gpu.csv holds: every sample of every GPU, in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuLog {
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

    /// Reads a gpu.csv back; every error names the file.
    pub fn read_csv(path: &Path) -> Result<Self, String> {
        let samples = crate::io::read_csv_rows(path, MAX_GPU_LOG_BYTES, "MAX_GPU_LOG_BYTES")?;
        Ok(Self { samples })
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

    /// How many GPUs worked during the run: those at [`BUSY_UTIL_PCT`] or more in at
    /// least one of every [`BUSY_SHARE`] of their samples. A command's processes are not
    /// the referee's to place (torchrun starts one per GPU), so the devices a command run
    /// trained on are read from what the GPUs did, and verify reads them again here.
    /// The share leaves room for a start-up (compiling, loading data) with the GPUs idle.
    pub fn busy_gpus(&self) -> u32 {
        let mut per_gpu: std::collections::BTreeMap<u32, (usize, usize)> = Default::default();
        for s in &self.samples {
            let (busy, all) = per_gpu.entry(s.gpu).or_default();
            *all += 1;
            if s.util_gpu_pct.is_some_and(|u| u >= BUSY_UTIL_PCT) {
                *busy += 1;
            }
        }
        per_gpu
            .values()
            .filter(|(busy, all)| busy * BUSY_SHARE >= *all)
            .count() as u32
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A busy GPU 0's sample at `t` ms (other tests set the fields they need).
    pub(crate) fn sample(t: f64, reasons: ThrottleReasons) -> GpuSample {
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

    #[test]
    fn the_gpus_a_run_trained_on_are_those_busy_in_one_sample_in_ten() {
        let at = |gpu: u32, t: f64, util: Option<u32>| GpuSample {
            gpu,
            util_gpu_pct: util,
            ..sample(t, ThrottleReasons(0))
        };
        let mut log = GpuLog::default();
        assert_eq!(log.busy_gpus(), 0, "no samples: no GPU seen working");
        for k in 0..100 {
            let t = k as f64 * 100.0;
            // GPU 0 trains after a long idle start (90 idle samples, then 10 at work).
            log.samples
                .push(at(0, t, Some(if k >= 90 { 97 } else { 0 })));
            // GPU 1 works throughout; GPU 2 has one busy blip; GPU 3 never says.
            log.samples.push(at(1, t, Some(100)));
            log.samples
                .push(at(2, t, Some(if k == 50 { 100 } else { 3 })));
            log.samples.push(at(3, t, None));
        }
        assert_eq!(log.busy_gpus(), 2);
        // One sample fewer at work on GPU 0 is below the share.
        log.samples
            .iter_mut()
            .find(|s| s.gpu == 0 && s.time_ms == 9000.0)
            .unwrap()
            .util_gpu_pct = Some(BUSY_UTIL_PCT - 1);
        assert_eq!(log.busy_gpus(), 1);
    }

    #[test]
    fn a_malformed_gpu_csv_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gpu.csv");
        std::fs::write(&path, format!("{GPU_CSV_HEADER}0.0,zero,,,,,,,,\n")).unwrap();
        let e = GpuLog::read_csv(&path).unwrap_err();
        assert!(e.contains("gpu.csv"), "{e}");
    }
}
