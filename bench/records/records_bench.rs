//! Benchmark: the records table work (`rebuild`-like group-by and record chain) and the
//! frontier over N synthetic run rows, in Rust (the shipped code of speedcert-analysis:
//! `table::read_run_table`, `frame::chain_from_runs`, `frame::frontier_by_track`)
//! against the same computation in Python pandas (bench/records/records_ref.py), in one
//! run, on the same CSV.
//!
//! ```text
//! cargo run --release -p speedcert-analysis --example records_bench -- \
//!     [--rows 100000] [--reps 7] [--csv PATH] [--python PATH]
//! ```
//! Python defaults to $RECORDS_BENCH_PYTHON, else python3. Both sides time the same
//! steps from the same file: parse runs.csv, group candidate runs per bundle (n, mean,
//! sd, min, mean loss), chain the "new record" bundles per track with their
//! improvement, and the Pareto frontier per track over the official candidate runs that
//! finished (baseline, failed and unofficial runs never on it). Each side reports the
//! median of `reps` repetitions after one warm-up, and checksums that must agree.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use speedcert_analysis::frame::{chain_from_runs, frontier_by_track};
use speedcert_analysis::table::{RUN_COLUMNS, RunRow, read_run_table, to_csv_bytes};

/// xorshift64*: deterministic, dependency-free, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        // Box-Muller; one value per call is enough here.
        let (u1, u2) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// `rows` run rows: 4 tracks, bundles of 8 candidate + 8 baseline runs interleaved,
/// ~2% failed runs, ~10% of bundles "new record", ~5% unofficial bundles, dates over two
/// years.
fn synthetic_runs(rows: usize) -> Vec<RunRow> {
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let tracks = [
        "synthetic-tiny",
        "fineweb-124m",
        "fineweb-350m",
        "shakespeare-char",
    ];
    let base_ms = [60_000.0, 180_000.0, 1_400_000.0, 20_000.0];
    let mut out = Vec::with_capacity(rows);
    let mut bundle = 0usize;
    while out.len() < rows {
        let t = bundle % tracks.len();
        let day = (bundle * 7919) % 730;
        let (y, rest) = if day < 365 {
            (2025, day)
        } else {
            (2026, day - 365)
        };
        let date = format!("{y}-{:02}-{:02}", rest / 31 % 12 + 1, rest % 28 + 1);
        let verdict = if rng.unit() < 0.1 {
            "new record"
        } else {
            "not significant"
        };
        let speed = 0.6 + 0.5 * rng.unit();
        let official = rng.unit() >= 0.05;
        let digest = format!("{:064x}", rng.next() as u128 * 0x1_0000_0001);
        for i in 0..16u32 {
            if out.len() == rows {
                break;
            }
            let role = if i % 2 == 0 { "candidate" } else { "baseline" };
            let mean = base_ms[t] * if role == "candidate" { speed } else { 1.0 };
            let time = mean * (1.0 + 0.02 * rng.normal());
            // Faster runs end at a slightly higher loss: a real trade-off to find.
            let loss = 3.28 - 0.05 * (time / base_ms[t] - 1.0) + 0.01 * rng.normal();
            let ok = rng.unit() >= 0.02;
            out.push(RunRow {
                track: tracks[t].to_string(),
                submission: format!("sub-{}", bundle % 97),
                role: role.to_string(),
                bundle: format!("bundles/{}/b{bundle:06}", tracks[t]),
                bundle_digest: digest.clone(),
                run_index: i,
                seed: Some(rng.next() >> 16),
                status: if ok { "ok" } else { "failed" }.to_string(),
                train_time_ms: ok.then_some(time),
                final_val_loss: ok.then_some(loss),
                heldout_val_loss: ok.then_some(loss + 0.002),
                train_tokens: Some(1_638_400),
                date: date.clone(),
                device: "cuda".to_string(),
                official,
                verdict: verdict.to_string(),
            });
        }
        bundle += 1;
    }
    out
}

#[derive(Debug, PartialEq)]
struct Checksums {
    bundles: usize,
    records: usize,
    improvement_sum_ms: f64,
    frontier_points: usize,
    frontier_loss_sum: f64,
}

/// One repetition; also returns the time of each phase (parse, table work, frontier)
/// in ms, so a reader sees where the time goes on each side.
fn rust_once(csv: &std::path::Path) -> (Checksums, [f64; 3]) {
    let t0 = Instant::now();
    let runs = read_run_table(csv).expect("read runs csv");
    let t1 = Instant::now();
    let chain = chain_from_runs(&runs);
    let t2 = Instant::now();
    let frontier = frontier_by_track(&runs);
    let t3 = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    (
        Checksums {
            bundles: chain.bundles.len(),
            records: chain.records.len(),
            improvement_sum_ms: chain.records.iter().filter_map(|r| r.improvement_ms).sum(),
            frontier_points: frontier.values().map(Vec::len).sum(),
            frontier_loss_sum: frontier.values().flatten().map(|p| p.loss).sum(),
        },
        [ms(t0, t1), ms(t1, t2), ms(t2, t3)],
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut rows = 100_000usize;
    let mut reps = 7usize;
    let mut csv: Option<PathBuf> = None;
    let mut python = std::env::var("RECORDS_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--rows" => rows = val().parse().expect("--rows N"),
            "--reps" => reps = val().parse().expect("--reps N"),
            "--csv" => csv = Some(PathBuf::from(val())),
            "--python" => python = val(),
            other => panic!("unknown argument {other}"),
        }
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let csv = csv.unwrap_or_else(|| tmp.path().join("runs.csv"));
    let data = synthetic_runs(rows);
    std::fs::write(&csv, to_csv_bytes(&data, RUN_COLUMNS).expect("csv")).expect("write csv");
    let size = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    println!(
        "input: {} ({rows} rows, {:.1} MB)",
        csv.display(),
        size as f64 / 1e6
    );

    let (warm, _) = rust_once(&csv);
    let mut times = Vec::new();
    let mut phases = Vec::new();
    for _ in 0..reps {
        let t0 = Instant::now();
        let (c, p) = rust_once(&csv);
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        phases.push(p);
        assert_eq!(c, warm);
    }
    let rust_ms = median(times.clone());
    println!(
        "rust (speedcert-analysis):  median {rust_ms:.1} ms  (min {:.1} ms, max {:.1} ms, {reps} reps)",
        times.iter().copied().fold(f64::INFINITY, f64::min),
        times.iter().copied().fold(0.0, f64::max)
    );
    let phase = |i: usize| median(phases.iter().map(|p| p[i]).collect());
    println!(
        "  phases (median): parse {:.1} ms, table work {:.1} ms, frontier {:.1} ms",
        phase(0),
        phase(1),
        phase(2)
    );
    println!("  checksums: {warm:?}");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/records/records_ref.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&csv)
        .arg(reps.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{python} {}: {e}", script.display()));
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        panic!("{python} {} failed: {}", script.display(), out.status);
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("records_ref.py prints JSON");
    let py_ms = v["median_ms"].as_f64().unwrap();
    println!(
        "python (pandas {}, python {}):  median {py_ms:.1} ms  (min {:.1} ms, max {:.1} ms, {reps} reps)",
        v["pandas"].as_str().unwrap_or("?"),
        v["python"].as_str().unwrap_or("?"),
        v["min_ms"].as_f64().unwrap(),
        v["max_ms"].as_f64().unwrap()
    );
    let py = Checksums {
        bundles: v["bundles"].as_u64().unwrap() as usize,
        records: v["records"].as_u64().unwrap() as usize,
        improvement_sum_ms: v["improvement_sum_ms"].as_f64().unwrap(),
        frontier_points: v["frontier_points"].as_u64().unwrap() as usize,
        frontier_loss_sum: v["frontier_loss_sum"].as_f64().unwrap(),
    };
    println!(
        "  phases (median): parse {:.1} ms, table work {:.1} ms, frontier {:.1} ms",
        v["parse_ms"].as_f64().unwrap_or(f64::NAN),
        v["table_ms"].as_f64().unwrap_or(f64::NAN),
        v["frontier_ms"].as_f64().unwrap_or(f64::NAN)
    );
    println!("  checksums: {py:?}");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
    let agree = py.bundles == warm.bundles
        && py.records == warm.records
        && py.frontier_points == warm.frontier_points
        && close(py.improvement_sum_ms, warm.improvement_sum_ms)
        && close(py.frontier_loss_sum, warm.frontier_loss_sum);
    println!("results agree: {agree}");
    println!("ratio: pandas / rust = {:.2}x", py_ms / rust_ms);
    if !agree {
        std::process::exit(1);
    }
}
