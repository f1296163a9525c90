# A submission's runner as a function of the submission's source: what `speedcert certify
# --submission DIR` builds with Cargo (evaluator/src/outside/runner.rs), built by Nix.
#
#   nix build --impure --expr '(builtins.getFlake (toString ./.)).lib.x86_64-linux.runner ./my-submission'
#
# The runner's workspace (speedcert's source, the generated runner crate and a copy of the
# submission as two more members, and the lock settled from speedcert's and the
# submission's) is written by speedcert itself (`speedcert submission runner-source`), so
# Nix and Cargo build the same files; then crane builds it `--locked --offline` from the
# crates of both lock files, with the workspace's dependencies compiled once
# (`cargoArtifacts`) and reused for every submission.
{
  lib,
  pkgs,
  craneLib,
  # The speedcert package (its binary generates the runner's workspace).
  speedcert,
  # speedcert's source tree, as the package was built from it.
  src,
  # Arguments every build of speedcert shares (version, RUSTFLAGS, CUDA pins).
  commonArgs,
  # speedcert's compiled dependencies (crane's buildDepsOnly of the workspace).
  cargoArtifacts,
}:
# The submission's folder: a Cargo crate with [package.metadata.speedcert] and Cargo.lock.
submission:
let
  cargoToml = lib.importTOML (submission + "/Cargo.toml");
  name =
    cargoToml.package.metadata.speedcert.name
      or (throw "${toString submission}/Cargo.toml: no [package.metadata.speedcert] name");
  lockOf = dir: what:
    if builtins.pathExists (dir + "/Cargo.lock") then
      dir + "/Cargo.lock"
    else
      throw "${what} has no Cargo.lock: a submission is built --locked";

  # Every crate either lock names, fetched by hash (no network at build time).
  cargoVendorDir = craneLib.vendorMultipleCargoDeps {
    cargoLockList = [
      (lockOf src "speedcert's source")
      (lockOf submission (toString submission))
    ];
  };

  # speedcert writes the runner's workspace; settling its lock needs Cargo offline with
  # the vendored crates.
  workspace =
    pkgs.runCommand "speedcert-runner-source-${name}"
      {
        nativeBuildInputs = [
          craneLib.cargo
          craneLib.rustc
        ];
        SPEEDCERT_SOURCE = src;
      }
      ''
        export CARGO_HOME=$TMPDIR/cargo-home
        mkdir -p $CARGO_HOME
        cp ${cargoVendorDir}/config.toml $CARGO_HOME/config.toml
        cp -r --no-preserve=mode ${submission} $TMPDIR/submission
        ${lib.getExe speedcert} submission runner-source $TMPDIR/submission --out $out
      '';
in
craneLib.buildPackage (
  commonArgs
  // {
    pname = "speedcert-runner-${name}";
    src = workspace;
    inherit cargoArtifacts cargoVendorDir;
    # The runner's package name carries the source digest, which only the generated
    # workspace knows (runner-package); no import from a derivation is needed.
    buildPhaseCargoCommand = ''
      cargo build --locked --offline --release --package "$(cat runner-package)"
    '';
    installPhaseCommand = ''
      mkdir -p $out/bin
      cp "target/release/$(cat runner-package)" $out/bin/
      ln -s "$(cat runner-package)" $out/bin/speedcert-runner
    '';
    doCheck = false;
    meta = {
      description = "speedcert runner of the submission ${name}";
      mainProgram = "speedcert-runner";
    };
  }
)
