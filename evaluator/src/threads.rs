//! The CPU thread pool's policy for training.
//!
//! burn's CPU backend runs its threaded products and element-wise ops on rayon's global
//! pool. A thread outside the pool that starts parallel work injects it into the pool and
//! sleeps on a latch until a worker has done it: a wake-up and a sleep for every threaded op
//! of a training step, while the training thread itself computes nothing. With the training
//! thread as one of the pool's threads, it queues the work where the other workers steal it
//! and does its own share (bench/results/cpu-throughput-2026-12-03b.md). Every run of a
//! certification trains in a process with the same policy, so it changes no comparison.

use std::sync::Once;

/// Makes the calling thread one of the threads of rayon's global pool, keeping the pool's
/// size (`RAYON_NUM_THREADS`, else one thread per CPU). Call it from the thread that will
/// train, before anything uses the pool. Idempotent: only the first call can join, and
/// nothing happens where the pool exists already or would have one thread (the training
/// thread alone would leave work queued by other threads to no one).
pub fn join_compute_pool() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let threads = std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
            .unwrap_or(1);
        if threads < 2 {
            return;
        }
        // An error means the global pool was built already: leave it as it is.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .use_current_thread()
            .build_global();
    });
}
