#!/usr/bin/env bash
# Verification throughput of a 1 GiB bundle (8 x 128 MiB): speedcert-attest's
# verify_bundle against sha256sum on the same files, page cache warm for both.
# Extra arguments go to the benchmark (--files N --mib N --runs N --dir PATH).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:  $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores)"
echo "cmd:  cargo run --release -p speedcert-attest --example verify_throughput -- $*"
cargo build --release -q -p speedcert-attest --example verify_throughput
exec "$CARGO_TARGET_DIR/release/examples/verify_throughput" "$@"
