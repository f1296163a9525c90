#!/usr/bin/env bash
# Audit benchmark: speedcert-audit (release example) against bench/audit/audit_ref.py
# over the whole records/track_1_short history of modded-nanogpt.
#
#   bench/audit/run.sh RECORDS_DIR [OUT_DIR]
#
# RECORDS_DIR is records/track_1_short of a modded-nanogpt checkout. Needs hyperfine
# (Debian: apt-get install -y hyperfine) and python3. Writes hyperfine's markdown and
# JSON into OUT_DIR (default: a temp folder) and prints the table.
set -euo pipefail
records=${1:?usage: bench/audit/run.sh RECORDS_DIR [OUT_DIR]}
out=${2:-$(mktemp -d)}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -p speedcert-audit --example audit_bench --manifest-path "$root/Cargo.toml"
bin=$CARGO_TARGET_DIR/release/examples/audit_bench
mkdir -p "$out"
# One audit each first, so both read the same files and the page cache is warm.
"$bin" "$records"
python3 "$here/audit_ref.py" "$records" > "$out/audit_ref.csv"
hyperfine --warmup 1 --runs 10 \
  --export-markdown "$out/hyperfine.md" --export-json "$out/hyperfine.json" \
  -n "speedcert-audit (rayon, all cores)" "$bin $records" \
  -n "speedcert-audit (1 thread)" "RAYON_NUM_THREADS=1 $bin $records" \
  -n "audit_ref.py (python3)" "python3 $here/audit_ref.py $records > /dev/null"
cat "$out/hyperfine.md"
echo "results in $out"
