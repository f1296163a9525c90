//! The host allocator's policy for training.
//!
//! glibc serves every block above its mmap threshold (at most 32 MiB) with a fresh `mmap`
//! and gives it back with `munmap` on free, and it trims the heap top above 128 KiB. A
//! training step allocates and frees the same large tensors every step (logits alone are
//! batch × seq × vocab floats), so each step paid for zero-filled page faults again: with the
//! GPT-2 vocabulary a fifth of a CPU step went to the kernel's page-fault path, and the step
//! ran 1.8× faster once freed memory stayed in the process
//! (bench/results/cpu-throughput-2026-12-01.md). Every run of a certification trains in a
//! process with the same policy, so it changes no comparison.

use std::sync::Once;

/// Keeps freed memory in the process for reuse: no `mmap` for large blocks, no heap
/// trimming. Idempotent; a no-op where the C library is not glibc.
pub fn keep_freed_memory() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets glibc's allocator parameters; it is thread-safe and
        // affects later allocations only.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0);
            libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        }
    });
}
