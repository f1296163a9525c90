# Everything the flake exposes for one system; a pure function of its arguments.
{
  system,
  nixpkgs,
  crane,
  overlays,
  # The flake's source tree (a path).
  root,
  # { gitRev, sourceNarHash } from the flake's `self`.
  provenance,
}:
let
  pkgs = import nixpkgs {
    inherit system overlays;
    config = {
      # The CUDA redistributables (NVRTC, headers) are unfree. These two settings match what
      # the community CUDA binary cache builds, so its NCCL can be substituted.
      allowUnfree = true;
      cudaSupport = true;
    };
  };
  inherit (pkgs) lib;

  cuda = import ./cuda.nix { inherit lib pkgs; };

  # The Rust toolchain is the one rust-toolchain.toml names (channel, components, profile).
  craneLib = (crane.mkLib pkgs).overrideToolchain (
    p: p.rust-bin.fromRustupToolchainFile (root + "/rust-toolchain.toml")
  );

  workspace = (lib.importTOML (root + "/Cargo.toml")).workspace;
  version = workspace.package.version;

  # Cargo sources, plus every workspace member folder and records/ whole (tests and
  # include_str! may read fixtures, tracks and keys from them), plus the flake files that
  # tests/tests/flake.rs checks, and vendor/. Docs and bench/ stay out.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions (
      [
        (craneLib.fileset.commonCargoSources root)
        (root + "/flake.nix")
        (root + "/flake.lock")
        (root + "/nix")
      ]
      # vendor/: patched crates ([patch.crates-io]), e.g. a reproducibility fix.
      ++ map (dir: lib.fileset.maybeMissing (root + "/${dir}")) (
        workspace.members
        ++ [
          "records"
          "vendor"
        ]
      )
    );
  };

  commonArgs = {
    inherit src version;
    pname = "speedcert";
    strictDeps = true;
    # cudarc: use the pinned CUDA's API version, never whatever nvcc the builder may have.
    CUDARC_CUDA_VERSION = cuda.cudarcVersion;
    # No build path in the binary. Cargo (1.95, checked) keeps RUSTFLAGS out of -C metadata,
    # so this does not change symbol names; it is the same in every derivation here, so the
    # dependency artifacts stay fresh for the later builds.
    preBuild = ''
      export RUSTFLAGS="''${RUSTFLAGS:+$RUSTFLAGS }--remap-path-prefix=$NIX_BUILD_TOP=/build"
    '';
  };

  # crane's dependency builds stub out the sources of every crate in the tree, vendor/ included;
  # but the patched crates there are dependencies (cubecl-macros is the proc macro burn's
  # kernels need), so the dummy source gets them back whole. Only vendor/ goes in, so editing
  # our own sources still reuses the dependency artifacts.
  vendored = lib.fileset.toSource {
    inherit root;
    fileset = root + "/vendor";
  };
  depsArgs = lib.optionalAttrs (builtins.pathExists (root + "/vendor")) {
    extraDummyScript = ''
      rm -rf $out/vendor
      cp -r --no-preserve=mode,ownership ${vendored}/vendor $out/vendor
    '';
  };

  # Dependencies of the binary, built once and reused (crane's dummy-source trick).
  cargoArtifacts = craneLib.buildDepsOnly (
    commonArgs
    // depsArgs
    // {
      pname = "speedcert-deps";
      cargoExtraArgs = "--locked --package speedcert";
    }
  );

  # Dependencies of the whole workspace, for tests and clippy.
  workspaceArtifacts = craneLib.buildDepsOnly (
    commonArgs
    // depsArgs
    // {
      pname = "speedcert-workspace-deps";
      cargoExtraArgs = "--locked --workspace";
    }
  );

  mkSpeedcert =
    {
      withNccl ? true,
    }:
    craneLib.buildPackage (
      commonArgs
      // {
        inherit cargoArtifacts;
        cargoExtraArgs = "--locked --package speedcert --bin speedcert";
        # Tests run in checks.tests over the whole workspace.
        doCheck = false;

        # Provenance (evaluator/build.rs): only this derivation sees it, so a new commit
        # rebuilds the last crate, not the dependencies.
        SPEEDCERT_GIT_REV = provenance.gitRev;
        SPEEDCERT_SOURCE_NAR_HASH = provenance.sourceNarHash;

        nativeBuildInputs = [
          pkgs.makeBinaryWrapper
          pkgs.patchelf
          # Adds /run/opengl-driver/lib to the RUNPATH: libcuda comes from the host's driver.
          pkgs.autoAddDriverRunpath
        ];

        # After fixupPhase's RUNPATH shrinking (which drops dlopen-only directories): put the
        # pinned NVRTC (and NCCL) on the RUNPATH, then pin CUDA_PATH for NVRTC's headers.
        # autoAddDriverRunpath runs after this and patches the wrapped ELF too.
        postFixup = ''
          patchelf --add-rpath ${cuda.runtimeLibraryPath { inherit withNccl; }} $out/bin/speedcert
          wrapProgram $out/bin/speedcert --set CUDA_PATH ${cuda.root}
        '';

        passthru = {
          inherit cuda cargoArtifacts;
          realBinary = "bin/.speedcert-wrapped";
        };

        meta = {
          description = "Certifies training-speed records for language-model benchmarks";
          mainProgram = "speedcert";
          license = with lib.licenses; [
            mit
            asl20
          ];
          platforms = lib.platforms.linux;
        };
      }
    );

  speedcert = mkSpeedcert { };

  # A submission's runner from its source folder (nix/runner.nix): `lib.runner ./folder`.
  runner = import ./runner.nix {
    inherit
      lib
      pkgs
      craneLib
      speedcert
      src
      commonArgs
      ;
    cargoArtifacts = workspaceArtifacts;
  };
  speedcert-no-nccl = mkSpeedcert { withNccl = false; };

  oci = import ./oci.nix {
    inherit pkgs lib speedcert cuda provenance;
  };

  python = pkgs.python3.withPackages (
    ps: with ps; [
      numpy
      scipy
      pynacl
    ]
  );

  # Offline checks of how the binary will find CUDA on a GPU host: RUNPATH, headers, wrapper.
  cudaRuntimeLayout =
    pkgs.runCommand "speedcert-cuda-runtime-layout"
      {
        nativeBuildInputs = [ pkgs.patchelf ];
      }
      ''
        set -eu
        real=${speedcert}/${speedcert.passthru.realBinary}
        test -x "$real"
        runpath=$(patchelf --print-rpath "$real")
        echo "RUNPATH of $real: $runpath"
        for dir in ${cuda.nvrtc}/lib ${cuda.nccl}/lib /run/opengl-driver/lib; do
          case ":$runpath:" in
            *":$dir:"*) ;;
            *) echo "missing from RUNPATH: $dir" >&2; exit 1 ;;
          esac
        done
        # cudarc asks for libnvrtc.so.<major> among its candidates.
        ls ${cuda.nvrtc}/lib/libnvrtc.so.${cuda.cudaMajorVersion}*
        for header in cuda_runtime.h cuda_fp16.h cuda_bf16.h cuda/barrier; do
          if [ ! -e ${cuda.root}/include/$header ] && [ ! -e ${cuda.root}/include/cccl/$header ]; then
            echo "missing CUDA header for NVRTC: $header" >&2; exit 1
          fi
        done
        grep -q -a 'CUDA_PATH' ${speedcert}/bin/speedcert
        ${speedcert}/bin/speedcert --help > /dev/null
        touch $out
      '';
in
{
  packages = {
    default = speedcert;
    inherit speedcert speedcert-no-nccl oci;
    cuda-root = cuda.root;
    deps = cargoArtifacts;
  };

  lib = {
    inherit runner;
  };

  apps.default = {
    type = "app";
    program = lib.getExe speedcert;
    meta.description = "speedcert (pinned Rust, CUDA ${cuda.cudaMajorMinorVersion})";
  };

  checks = {
    inherit speedcert;
    cuda-runtime-layout = cudaRuntimeLayout;

    # cargo test on CPU (the sandbox has no GPU and no network).
    tests = craneLib.cargoTest (
      commonArgs
      // {
        cargoArtifacts = workspaceArtifacts;
        cargoExtraArgs = "--locked --workspace";
      }
    );

    clippy = craneLib.cargoClippy (
      commonArgs
      // {
        cargoArtifacts = workspaceArtifacts;
        cargoExtraArgs = "--locked --workspace";
        cargoClippyExtraArgs = "--all-targets -- --deny warnings";
      }
    );

    fmt = craneLib.cargoFmt {
      inherit src version;
      pname = "speedcert";
      cargoExtraArgs = "--all";
    };
  };

  devShells.default = craneLib.devShell {
    packages = [
      python
      pkgs.cargo-nextest
      pkgs.git
      pkgs.rsync
      # nix-instantiate for tests/tests/flake.rs
      pkgs.nix
    ];
    CUDA_PATH = cuda.root;
    CUDARC_CUDA_VERSION = cuda.cudarcVersion;
    # Binaries built by cargo in the shell are not patched: find NVRTC/NCCL and, on NixOS,
    # the driver this way. Elsewhere append the folder holding the host's libcuda.so.1.
    LD_LIBRARY_PATH = "${cuda.runtimeLibraryPath { withNccl = true; }}:/run/opengl-driver/lib";
    shellHook = ''
      echo "speedcert dev shell: $(rustc --version), CUDA ${cuda.cudaMajorMinorVersion} (CUDA_PATH=$CUDA_PATH)"
    '';
  };

  formatter = pkgs.nixfmt;
}
