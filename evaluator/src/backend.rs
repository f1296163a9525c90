//! Backend choice at run time. The harness is generic over the backend; this module
//! maps `--device` and the track's precision to a concrete burn backend.

use crate::track::{DeviceKind, Precision};

/// Autodiff over burn's Flex CPU backend: what tests and the CPU tracks train on.
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
