# The pinned CUDA software speedcert runs on, and how the binary finds it at run time.
#
# What burn 0.21 (cubecl-cuda 0.10, cudarc 0.19) loads, all through dlopen (nothing is linked):
# - libcuda.so(.1), the driver, and libnvidia-ml.so.1 (NVML, read by `speedcert env` through
#   nvml-wrapper): from the HOST, never from this closure. The binary's RUNPATH gets
#   /run/opengl-driver/lib (autoAddDriverRunpath); elsewhere LD_LIBRARY_PATH (docs/nix.md).
# - libnvrtc.so.<major>, the runtime compiler that turns cubecl kernels into PTX: pinned here,
#   put on the binary's RUNPATH.
# - libnccl.so: only for multi-GPU collectives (burn's all-reduce); pinned here when withNccl.
# - CUDA headers, at run time: cubecl-cuda passes `--include-path=$CUDA_PATH/include` (and
#   include/cccl when present) to NVRTC, and the kernels include cuda_runtime.h, cuda_fp16.h,
#   cuda_bf16.h, cuda_fp8.h, mma.h, cooperative_groups.h, cuda/barrier, cuda/pipeline,
#   cuda/ptx. `root` below is that CUDA_PATH; the wrapper sets it.
# - cudarc's build script picks its CUDA API version from `nvcc --version`, or the newest it
#   knows when nvcc is absent; CUDARC_CUDA_VERSION pins it to this set instead.
{
  lib,
  pkgs,
  # Change here (one line) to move every output to another CUDA release, e.g.
  # pkgs.cudaPackages_12_8 for hosts whose driver is older than 580.
  cudaPackages ? pkgs.cudaPackages_13_0,
}:
let
  inherit (cudaPackages) cudaMajorMinorVersion cudaMajorVersion;
  versionParts = lib.splitVersion cudaMajorMinorVersion;
  # cudarc spells CUDA 13.0 as "13000", 12.8 as "12080".
  cudarcVersion = "${builtins.elemAt versionParts 0}0${builtins.elemAt versionParts 1}0";

  nvrtc = lib.getLib cudaPackages.cuda_nvrtc;
  nccl = lib.getLib cudaPackages.nccl;

  # crt/*.h moved from cuda_nvcc to cuda_crt in CUDA 13.
  crtHeaders = if cudaPackages ? cuda_crt then cudaPackages.cuda_crt else cudaPackages.cuda_nvcc;
  headerPackages = [
    cudaPackages.cuda_cudart
    cudaPackages.cuda_cccl
    cudaPackages.cuda_nvrtc
    crtHeaders
  ];
in
{
  inherit
    cudaPackages
    cudaMajorMinorVersion
    cudaMajorVersion
    cudarcVersion
    nvrtc
    nccl
    ;

  # CUDA_PATH for NVRTC at run time: headers, plus NVRTC's own libraries.
  root = pkgs.symlinkJoin {
    name = "speedcert-cuda-${cudaMajorMinorVersion}-root";
    # Recent nixpkgs CUDA redistributables keep headers in an `include` output (their `dev`
    # only propagates it); older ones keep them in `dev`.
    paths = lib.unique (map (p: p.include or (lib.getDev p)) headerPackages ++ [ nvrtc ]);
  };

  # Directories put on the binary's RUNPATH (the driver's comes from autoAddDriverRunpath).
  runtimeLibraryPath =
    { withNccl }: lib.makeLibraryPath ([ nvrtc ] ++ lib.optional withNccl nccl);
}
