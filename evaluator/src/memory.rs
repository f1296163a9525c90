//! What memory a run's device offers and what the run's process used: the numbers the
//! track's memory plan (speedcert_track::memory) is checked against before training and
//! recorded with after it.

use speedcert_bundle::env::Environment;
use speedcert_bundle::run::RunMemory;
use speedcert_track::DeviceKind;
use speedcert_track::memory::MemoryPlan;

/// Memory the device offers a run, with the words a refusal names it by: the machine's
/// available memory (`MemAvailable`, what can be allocated without swapping) for the CPU,
/// GPU 0's total memory for CUDA (the device every run trains on).
pub fn device_bytes(device: DeviceKind, env: &Environment) -> Option<(u64, String)> {
    match device {
        DeviceKind::Cpu => {
            let text = std::fs::read_to_string("/proc/meminfo").ok()?;
            meminfo_field(&text, "MemAvailable")
                .map(|b| (b, "this machine's available memory".to_owned()))
        }
        DeviceKind::Cuda => {
            let gpu = env.gpu.first()?;
            let mib = gpu.memory_mib?;
            Some((mib << 20, format!("GPU 0 ({})", gpu.name)))
        }
    }
}

/// A `/proc/meminfo` field in bytes (the file states kB, meaning KiB).
fn meminfo_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kib << 10)
    })
}

/// The process's resident memory now (`/proc/self/statm`, pages).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().map(|p| pages * p)
}

/// The process's peak resident memory so far (`getrusage`, KiB on Linux).
pub fn peak_resident_bytes() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given and reports failure by its result.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
    // SAFETY: initialised by the successful call above.
    ok.then(|| unsafe { usage.assume_init() }.ru_maxrss)
        .and_then(|kib| u64::try_from(kib).ok())
        .map(|kib| kib << 10)
}

/// The plan of the track's recipe with the device's memory, and why it cannot fit (naming
/// the plan's parts and the device's memory) when it cannot.
pub fn check(
    plan: MemoryPlan,
    device: DeviceKind,
    env: &Environment,
) -> (RunMemory, Option<String>) {
    let offered = device_bytes(device, env);
    let refused = offered
        .as_ref()
        .and_then(|(bytes, what)| plan.refusal(*bytes, what))
        .map(|why| format!("the track's recipe cannot fit: {why}"));
    let memory = RunMemory {
        plan,
        device_bytes: offered.map(|(b, _)| b),
        baseline_bytes: (device == DeviceKind::Cpu).then(resident_bytes).flatten(),
        peak_bytes: None,
    };
    (memory, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_is_read_in_bytes_by_field_name() {
        let text = "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(meminfo_field(text, "MemAvailable"), Some(2048 * 1024));
        assert_eq!(meminfo_field(text, "MemTotal"), Some(24_576_000 * 1024));
        assert_eq!(meminfo_field(text, "Mem"), None);
    }

    #[test]
    fn this_process_has_a_resident_size_and_a_peak_at_least_as_large() {
        let now = resident_bytes().unwrap();
        let peak = peak_resident_bytes().unwrap();
        assert!(now > 0 && peak >= now, "now {now}, peak {peak}");
    }
}
