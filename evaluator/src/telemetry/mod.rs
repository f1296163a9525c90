//! Telemetry written beside each run: the step log (steps.csv) and GPU samples
//! (gpu.csv; header only where no GPU is sampled).

pub mod gpu;

pub use speedcert_bundle::gpu::GPU_CSV_HEADER;
pub use speedcert_bundle::steps::{StepLog, StepRow};
