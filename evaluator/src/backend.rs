//! Backend choice at run time. The harness is generic over the backend; this module
//! maps `--device` and the track's precision to a concrete burn backend.

use crate::track::{DeviceKind, Precision};

/// Autodiff over burn's Flex CPU backend: what tests and the CPU tracks train on. The fastest
/// of burn 0.21's pure-Rust CPU backends; LibTorch is faster but cargo cannot build it from a
/// fresh machine here (bench/results/cpu-backends-2026-12-04.md).
pub type CpuBackend = burn::backend::Autodiff<burn::backend::Flex>;
/// Autodiff over CUDA (fused, autotuned) in f32.
pub type CudaF32Backend = burn::backend::Autodiff<burn::backend::Cuda<f32>>;
/// Autodiff over CUDA in bf16; losses and softmax are computed in f32 by the model.
pub type CudaBf16Backend = burn::backend::Autodiff<burn::backend::Cuda<burn::tensor::bf16>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// Flex computes in f32 only: a bf16 recipe runs in f32 on CPU.
    Cpu,
    Cuda(Precision),
}

impl BackendChoice {
    pub fn new(device: DeviceKind, precision: Precision) -> Self {
        match device {
            DeviceKind::Cpu => BackendChoice::Cpu,
            DeviceKind::Cuda => BackendChoice::Cuda(precision),
        }
    }

    pub fn device(&self) -> DeviceKind {
        match self {
            BackendChoice::Cpu => DeviceKind::Cpu,
            BackendChoice::Cuda(_) => DeviceKind::Cuda,
        }
    }

    /// The precision actually computed in.
    pub fn precision(&self) -> Precision {
        match self {
            BackendChoice::Cpu => Precision::F32,
            BackendChoice::Cuda(p) => *p,
        }
    }
}

/// Why `--device cuda` cannot train on this machine. burn's CUDA backend panics in a worker
/// thread when the driver is missing, so the harness asks the driver first and says what
/// is wrong in words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CudaUnavailable {
    #[error(
        "--device cuda: no CUDA driver library (libcuda.so.1) could be loaded; install the NVIDIA driver or put it on LD_LIBRARY_PATH, or train on the CPU with --device cpu"
    )]
    NoDriver,
    #[error(
        "--device cuda: the CUDA driver did not initialise ({0}); check `nvidia-smi`, or train on the CPU with --device cpu"
    )]
    Init(String),
    #[error(
        "--device cuda: the CUDA driver sees no GPU (check CUDA_VISIBLE_DEVICES and `nvidia-smi`), or train on the CPU with --device cpu"
    )]
    NoGpu,
}

/// Loads and initialises the CUDA driver and counts its GPUs: the check to run before
/// building a CUDA backend.
pub fn cuda_preflight() -> Result<usize, CudaUnavailable> {
    use cudarc::driver::result;
    // SAFETY: only tries to dlopen the driver library by its usual names.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(CudaUnavailable::NoDriver);
    }
    result::init().map_err(|e| CudaUnavailable::Init(e.to_string()))?;
    match result::device::get_count() {
        Ok(n) if n > 0 => Ok(n as usize),
        Ok(_) => Err(CudaUnavailable::NoGpu),
        Err(e) => Err(CudaUnavailable::Init(e.to_string())),
    }
}

/// Runs `$body` with `$B` bound to the chosen backend type and `$device` to its device.
#[macro_export]
macro_rules! with_backend {
    ($choice:expr, $B:ident, $device:ident, $body:block) => {
        match $choice {
            $crate::backend::BackendChoice::Cpu => {
                type $B = $crate::backend::CpuBackend;
                let $device = burn::backend::flex::FlexDevice::default();
                $body
            }
            $crate::backend::BackendChoice::Cuda($crate::track::Precision::F32) => {
                type $B = $crate::backend::CudaF32Backend;
                let $device = burn::backend::cuda::CudaDevice::new(0);
                $body
            }
            $crate::backend::BackendChoice::Cuda($crate::track::Precision::Bf16) => {
                type $B = $crate::backend::CudaBf16Backend;
                let $device = burn::backend::cuda::CudaDevice::new(0);
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CI has no NVIDIA driver: there the preflight must refuse in words, not panic.
    #[test]
    fn cuda_preflight_names_what_is_missing() {
        let present = unsafe { cudarc::driver::sys::is_culib_present() };
        match cuda_preflight() {
            Err(CudaUnavailable::NoDriver) => assert!(!present),
            Err(e) => assert!(present && e.to_string().contains("--device cpu"), "{e}"),
            Ok(n) => assert!(present && n > 0),
        }
        if !present {
            let msg = CudaUnavailable::NoDriver.to_string();
            assert!(
                msg.contains("libcuda.so.1") && msg.contains("--device cpu"),
                "{msg}"
            );
        }
    }
}
