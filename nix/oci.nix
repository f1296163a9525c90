# OCI image for clusters that run containers (enroot/pyxis, apptainer, docker, podman).
#
# The image holds the speedcert closure (pinned glibc, NVRTC, NCCL, CUDA headers) and nothing
# from the host; the NVIDIA container runtime (or `apptainer --nv`) injects the driver
# (libcuda.so.1, nvidia-smi) at start. Nix's loader does not read the image's ld.so.cache, so
# LD_LIBRARY_PATH names the folders those runtimes inject into.
{
  pkgs,
  lib,
  speedcert,
  cuda,
  provenance,
}:
let
  shortRev = builtins.substring 0 12 provenance.gitRev;
in
pkgs.dockerTools.buildLayeredImage {
  name = "speedcert";
  tag = "${speedcert.version}-${shortRev}";
  # Default `created` (epoch 1) keeps the image reproducible.

  contents = [
    speedcert
    pkgs.coreutils
    # /bin/sh and /usr/bin/env: apptainer's and enroot's start scripts need a shell.
    pkgs.dockerTools.binSh
    pkgs.dockerTools.usrBinEnv
    # `speedcert data fetch` downloads over HTTPS.
    pkgs.dockerTools.caCertificates
  ];

  extraCommands = ''
    mkdir -p tmp work
    chmod 1777 tmp
  '';

  config = {
    Entrypoint = [ (lib.getExe speedcert) ];
    Cmd = [ "--help" ];
    WorkingDir = "/work";
    Env = [
      "PATH=/bin:/usr/bin:/usr/local/nvidia/bin"
      # nvidia-container-toolkit (docker, podman, enroot hooks) and k8s device plugins.
      "NVIDIA_VISIBLE_DEVICES=all"
      "NVIDIA_DRIVER_CAPABILITIES=compute,utility"
      # Where those runtimes put libcuda.so.1; `apptainer --nv` adds /.singularity.d/libs itself.
      "LD_LIBRARY_PATH=/usr/lib64:/usr/lib/x86_64-linux-gnu:/usr/lib/aarch64-linux-gnu:/usr/local/nvidia/lib64"
      "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
    ];
    Labels = {
      "org.opencontainers.image.title" = "speedcert";
      "org.opencontainers.image.version" = speedcert.version;
      "org.opencontainers.image.revision" = provenance.gitRev;
      "dev.speedcert.source-nar-hash" = provenance.sourceNarHash;
      "dev.speedcert.cuda" = cuda.cudaMajorMinorVersion;
    };
  };
}
