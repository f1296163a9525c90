#!/usr/bin/env bash
# Build time of a scaffolded submission's runner (issue 23): how long `speedcert run
# --submission DIR` spends building before it trains, read from the "built ... in X s"
# line the referee prints.
#
#   warm   the first build of a new submission in speedcert's own target folder (only the
#          submission and the generated runner compile; burn and the harness are reused)
#   again  the same folder once more (nothing changed: cargo only checks)
#   edit   after a one-line change to the submission's src/lib.rs
#   cold   (with --cold) the first build in an empty target folder: everything compiles
#
# Usage: bench/submission/build-time.sh [--cold]   (after `cargo build`, from the repo root)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${SPEEDCERT_BIN:-target/debug/speedcert}
track=tests/tracks/test-tiny.toml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

built_seconds() { sed -n 's/^built .* in \([0-9.]*\) s:.*/\1/p' | tail -1; }
run_once() { "$bin" run --track "$track" --submission "$tmp/bench-sub" --seed 1 --device cpu 2>&1 >/dev/null | built_seconds; }

"$bin" submission new bench-sub --dir "$tmp/bench-sub" --track "$track" >/dev/null
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "speedcert: $("$bin" --version) ($(git rev-parse --short HEAD))"
echo "warm: $(run_once) s"
echo "again: $(run_once) s"
sed -i 's/pub const LR_SCALE: f64 = 1.0;/pub const LR_SCALE: f64 = 1.1;/' "$tmp/bench-sub/src/lib.rs"
echo "edit: $(run_once) s"
if [ "${1:-}" = "--cold" ]; then
  mkdir -p "$tmp/cold-target"
  echo "cold: $(SPEEDCERT_RUNNER_TARGET_DIR="$tmp/cold-target" run_once) s"
fi
