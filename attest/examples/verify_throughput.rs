//! Verification throughput: `verify_bundle` against `sha256sum` on the same files, in
//! one run, page cache warm for both. Run through bench/verify/run.sh (release build);
//! results are recorded in bench/results/verify-*.md.
//!
//! ```text
//! cargo run --release -p speedcert-attest --example verify_throughput -- \
//!     [--files 8] [--mib 128] [--runs 3] [--dir /tmp]
//! ```
//!
//! Rows: `verify_bundle` on rayon's default pool (one thread per core) and on a
//! one-thread pool; `sha256sum` over all files in one process (what a person would
//! type) and split over one process per core (a parallel baseline); and, for scale,
//! the disk's read speed with the page cache bypassed (`dd iflag=direct`). After one
//! untimed warm-up pass per row, rows run interleaved `--runs` times; best and mean
//! wall time are printed, with CPU time (insensitive to other processes' load).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use rand::RngCore;
use speedcert_attest::{Signer, TrustStore, TrustedKey, sign_bundle, verify_bundle};

struct Options {
    files: usize,
    mib: usize,
    runs: usize,
    dir: PathBuf,
}

fn options() -> Options {
    let mut o = Options {
        files: 8,
        mib: 128,
        runs: 3,
        dir: std::env::temp_dir(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--files" => o.files = value().parse().unwrap_or_else(|_| usage("--files N")),
            "--mib" => o.mib = value().parse().unwrap_or_else(|_| usage("--mib N")),
            "--runs" => o.runs = value().parse().unwrap_or_else(|_| usage("--runs N")),
            "--dir" => o.dir = value().into(),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    if o.files == 0 || o.mib == 0 || o.runs == 0 {
        usage("--files, --mib and --runs must be at least 1");
    }
    o
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "error: {msg}\nusage: verify_throughput [--files N] [--mib N] [--runs N] [--dir PATH]"
    );
    std::process::exit(2)
}

/// Incompressible content, fast to make: xorshift64 words.
fn write_files(root: &Path, files: usize, mib: usize) -> Vec<PathBuf> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut block = vec![0u8; 1 << 20];
    let mut paths = Vec::new();
    for i in 0..files {
        let p = root.join(format!("runs/run-{i:03}/telemetry.bin"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut f = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(&p).unwrap());
        for _ in 0..mib {
            for chunk in block.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes());
            }
            std::io::Write::write_all(&mut f, &block).unwrap();
        }
        std::io::Write::flush(&mut f).unwrap();
        paths.push(p);
    }
    paths
}

fn sha256sum(files: &[PathBuf]) {
    let out = Command::new("sha256sum")
        .args(files)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum failed");
}

fn sha256sum_parallel(files: &[PathBuf], procs: usize) {
    let mut groups: Vec<Vec<&PathBuf>> = vec![Vec::new(); procs.min(files.len())];
    for (i, f) in files.iter().enumerate() {
        let n = groups.len();
        groups[i % n].push(f);
    }
    let children: Vec<_> = groups
        .iter()
        .map(|g| {
            Command::new("sha256sum")
                .args(g)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("run sha256sum")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
}

/// The disk's own read speed, page cache bypassed: the ceiling "disk speed" means.
fn dd_direct(files: &[PathBuf]) {
    for f in files {
        let out = Command::new("dd")
            .arg(format!("if={}", f.display()))
            .args(["of=/dev/null", "bs=8M", "iflag=direct"])
            .output()
            .expect("run dd");
        assert!(
            out.status.success(),
            "dd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

struct Row<'a> {
    name: String,
    run: Box<dyn FnMut() + 'a>,
    times: Vec<Duration>,
    /// CPU seconds (user + system) of this process and its waited-for children.
    cpu: Vec<f64>,
}

impl<'a> Row<'a> {
    fn new(name: impl Into<String>, run: impl FnMut() + 'a) -> Self {
        Row {
            name: name.into(),
            run: Box::new(run),
            times: Vec::new(),
            cpu: Vec::new(),
        }
    }
}

/// One untimed warm-up pass per row (page cache, code paths), then `runs` rounds in
/// which every row runs once, interleaved (A B C D A B C D ...), so that load from
/// other processes on a shared machine falls on all rows alike.
fn measure(rows: &mut [Row], runs: usize) {
    for r in rows.iter_mut() {
        (r.run)();
    }
    let tick = clock_tick();
    for _ in 0..runs {
        for r in rows.iter_mut() {
            let c = cpu_ticks();
            let t = Instant::now();
            (r.run)();
            r.times.push(t.elapsed());
            r.cpu.push((cpu_ticks() - c) as f64 / tick);
        }
    }
}

/// utime + stime + cutime + cstime of this process, in clock ticks (proc(5)): CPU
/// time does not grow with other processes' load the way wall time does, so MB per
/// CPU-second says what an idle core would do.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // Fields 14..=17 of proc(5); `after_comm` starts at field 3.
    after_comm
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum()
}

fn clock_tick() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let o = options();
    let tmp = tempfile::Builder::new()
        .prefix("speedcert-verify-bench-")
        .tempdir_in(&o.dir)
        .expect("temp dir");
    let bundle = tmp.path();
    let bytes = (o.files * o.mib) as u64 * (1 << 20);
    eprintln!(
        "writing {} files x {} MiB = {} MiB under {}",
        o.files,
        o.mib,
        o.files * o.mib,
        bundle.display()
    );
    let files = write_files(bundle, o.files, o.mib);

    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let trust = TrustStore::from_keys(vec![TrustedKey::new(key.verifying_key(), "bench")]);
    let signer = Signer::from_signing_key(key, "bench");
    let t = Instant::now();
    sign_bundle(bundle, &[signer], serde_json::json!({})).expect("sign");
    eprintln!(
        "signed in {:.2} s (cold-ish cache)",
        t.elapsed().as_secs_f64()
    );

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let verify = || {
        let r = verify_bundle(bundle, &trust, 1).expect("verify");
        assert!(r.is_genuine(), "{r}");
    };
    let mut rows = vec![
        Row::new(
            format!(
                "verify_bundle ({} rayon threads)",
                rayon::current_num_threads()
            ),
            verify,
        ),
        Row::new("verify_bundle (1 thread)", || one_thread.install(verify)),
        Row::new("sha256sum (1 process)", || sha256sum(&files)),
        Row::new(
            format!("sha256sum ({} processes)", cores.min(files.len())),
            || sha256sum_parallel(&files, cores),
        ),
    ];
    let has_dd_direct = Command::new("dd")
        .arg(format!("if={}", files[0].display()))
        .args(["of=/dev/null", "bs=1M", "count=1", "iflag=direct"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_dd_direct {
        rows.push(Row::new(
            "disk read, page cache bypassed (dd iflag=direct)",
            || dd_direct(&files),
        ));
    }
    let load_before = loadavg();
    measure(&mut rows, o.runs);
    let load_after = loadavg();

    let version = Command::new("sha256sum")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    println!(
        "bundle: {} files x {} MiB = {:.3} GB; {} interleaved runs per row after 1 warm-up; {cores} cores; {version}",
        o.files,
        o.mib,
        bytes as f64 / 1e9,
        o.runs
    );
    println!("load average (1/5/15 min): {load_before} before, {load_after} after");
    println!();
    println!(
        "| what | best (s) | mean (s) | best MB/s | mean MB/s | CPU s (mean) | MB per CPU-s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mbps = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    let mut best = Vec::new();
    for r in &rows {
        let b = *r.times.iter().min().unwrap();
        let mean = r.times.iter().sum::<Duration>() / r.times.len() as u32;
        let cpu = r.cpu.iter().sum::<f64>() / r.cpu.len() as f64;
        println!(
            "| {} | {:.3} | {:.3} | {:.0} | {:.0} | {:.2} | {:.0} |",
            r.name,
            b.as_secs_f64(),
            mean.as_secs_f64(),
            mbps(b),
            mbps(mean),
            cpu,
            bytes as f64 / 1e6 / cpu
        );
        best.push(mbps(b));
    }
    println!();
    println!(
        "verify_bundle runs at {:.2}x the speed of sha256sum (best vs best; {:.2}x with one thread; {:.2}x vs {} parallel sha256sum processes)",
        best[0] / best[2],
        best[1] / best[2],
        best[0] / best[3],
        cores.min(files.len())
    );
}
