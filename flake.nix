{
  description = "speedcert: certifies training-speed records for language-model benchmarks; hermetic build on pinned Rust and CUDA";

  # Every input is pinned by rev and narHash in flake.lock; docs/nix.md says where each pin
  # was taken from. `nix flake update` moves them; a record's bundle names the binary it ran.
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    crane.url = "github:ipetkov/crane";
  };

  outputs =
    {
      self,
      nixpkgs,
      rust-overlay,
      crane,
      ...
    }:
    let
      inherit (nixpkgs) lib;

      # CUDA hosts: x86_64 (H100/H200/A100 nodes) and aarch64 server ARM (GH200).
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];

      perSystem = lib.genAttrs systems (
        system:
        import ./nix {
          inherit system nixpkgs crane;
          overlays = [ rust-overlay.overlays.default ];
          root = ./.;
          # Provenance embedded by evaluator/build.rs (a Nix build has no .git).
          provenance = {
            gitRev = self.rev or self.dirtyRev or "unknown";
            sourceNarHash = self.narHash or "";
          };
        }
      );

      pick = name: lib.mapAttrs (_: outputs: outputs.${name}) perSystem;
    in
    {
      # packages.<system>.{default,speedcert,speedcert-no-nccl,oci,cuda-root,deps}
      packages = pick "packages";
      # lib.<system>.runner ./submission: a submission's runner built from its source
      lib = pick "lib";
      # nix run . -- run
      apps = pick "apps";
      # nix develop: pinned toolchain, CUDA headers + NVRTC, python3 with scipy/numpy/pynacl
      devShells = pick "devShells";
      # nix flake check: build, cargo test (CPU), clippy -D warnings, rustfmt, CUDA runtime layout
      checks = pick "checks";
      formatter = pick "formatter";
    };
}
