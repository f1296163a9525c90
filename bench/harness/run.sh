#!/usr/bin/env bash
# CPU training throughput of the reference submission on synthetic-tiny, and the share
# of a run's wall time spent outside the timed training region (init, validation passes,
# the causality probe, process start and data set-up), from the release binary.
#   bench/harness/run.sh [RUNS]        (default 3 runs, seeds 1..RUNS)
#   SPEEDCERT_BIN=target/debug/speedcert bench/harness/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
# SPEEDCERT_BIN picks another build (the dev profile is opt-level 3 here too).
bin=${SPEEDCERT_BIN:-target/release/speedcert}
[ -n "${SPEEDCERT_BIN:-}" ] || cargo build --release -p speedcert >/dev/null
out=$(mktemp -d)
printf '%-5s %10s %10s %10s %10s %8s %10s %8s\n' seed wall_s train_s val_s init_s outside tok/s loss
for seed in $(seq 1 "$runs"); do
  start=$(date +%s.%N)
  "$bin" run --track synthetic-tiny --seed "$seed" --json >"$out/$seed.json" || true
  end=$(date +%s.%N)
  python3 - "$out/$seed.json" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); wall = float(sys.argv[3]) - float(sys.argv[2])
train = r["train_time_ms"] / 1e3
print(f'{r["seed"]:<5} {wall:10.2f} {train:10.2f} {r["val_time_ms"]/1e3:10.2f} {r["init_time_ms"]/1e3:10.3f} '
      f'{100*(wall-train)/wall:7.1f}% {r["train_tokens"]/train:10.0f} {r["final_val_loss"]:8.4f}')
PY
done
rm -rf "$out"
