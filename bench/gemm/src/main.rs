//! GFLOP/s of gemm 0.19 on the products of one training step of the benchmark's mid shape
//! (d 256, 4 x MLP, 2,048 tokens) and of synthetic-tiny (d 64), each operand row-major or
//! transposed as the forward and the two backward products read them. The median of 20
//! calls after 3 warm-up ones; threads from `RAYON_NUM_THREADS`.

use std::time::Instant;

/// (m, k, n): forward products `[tokens, in] x [in, out]` and weight gradients
/// `[in, tokens] x [tokens, out]`.
const SHAPES: [(usize, usize, usize); 5] = [
    (2048, 256, 768),
    (2048, 768, 256),
    (256, 2048, 768),
    (2048, 64, 192),
    (64, 2048, 192),
];

fn main() {
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    println!(
        "gemm 0.19, x86-v4 {}, debug assertions {}, {threads} threads",
        cfg!(feature = "x86-v4"),
        cfg!(debug_assertions)
    );
    println!("{:>5} {:>5} {:>5}  {:<12} {:>8}", "m", "k", "n", "operands", "GFLOP/s");
    for (m, k, n) in SHAPES {
        // (lhs transposed, rhs transposed): what x W, dY Wᵀ and Xᵀ dY read.
        for (ta, tb) in [(false, false), (false, true), (true, false)] {
            let a = vec![1.0f32; m * k];
            let b = vec![1.0f32; k * n];
            let mut c = vec![0f32; m * n];
            let (a_cs, a_rs) = if ta { (m as isize, 1) } else { (1, k as isize) };
            let (b_cs, b_rs) = if tb { (k as isize, 1) } else { (1, n as isize) };
            let mut run = || unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    c.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    a.as_ptr(),
                    a_cs,
                    a_rs,
                    b.as_ptr(),
                    b_cs,
                    b_rs,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::Rayon(0),
                )
            };
            for _ in 0..3 {
                run();
            }
            let mut times: Vec<f64> = (0..20)
                .map(|_| {
                    let t = Instant::now();
                    run();
                    t.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            let form = match (ta, tb) {
                (false, false) => "A B",
                (false, true) => "A Bᵀ",
                _ => "Aᵀ B",
            };
            let gflops = 2.0 * (m * n * k) as f64 / median / 1e9;
            println!("{m:>5} {k:>5} {n:>5}  {form:<12} {gflops:>8.1}");
        }
    }
}
