#!/usr/bin/env bash
# One device-tool call (issue 18): the reference trains `synthetic-gpt2-1xh100` to its target
# on one GPU through `speedcert run`, and report.py prints time to target, training tokens/s,
# MFU and the peak GPU memory against the run's memory plan, with the validation curve that
# calibrates the track's ESTIMATE target. Results go under $OUT; copy report.md into
# bench/results/ with the date, device and this command.
#
# Needs, in the repository root of the device machine:
#   .gpu/speedcert(.gz)   release build of the speedcert binary with the cuda feature
# Knobs: OUT (/tmp/target-out), BIN (.gpu), TRACK (synthetic-gpt2-1xh100), SEEDS ("1"; each
# seed is one run), BUDGET_S (540, for all runs together), DEVICE (cuda; `cpu` with
# TRACK=synthetic-tiny is the smoke test of this script without a GPU).

set -u -o pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-/tmp/target-out}
BIN=${BIN:-.gpu}
TRACK=${TRACK:-synthetic-gpt2-1xh100}
SEEDS=${SEEDS:-1}
BUDGET_S=${BUDGET_S:-540}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
log="$OUT/run.log"
: >"$log"
start=$(date +%s)
say() { echo "$*" | tee -a "$log"; }

for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
work=$(mktemp -d)
if [ -f "$BIN/speedcert.gz" ]; then gunzip -c "$BIN/speedcert.gz" >"$work/speedcert"
elif [ -f "$BIN/speedcert" ]; then cp "$BIN/speedcert" "$work/speedcert"
else say "no $BIN/speedcert(.gz): build it here with --features cuda and carry $BIN"; exit 2
fi
chmod +x "$work/speedcert"
SPEEDCERT="$work/speedcert"

say "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv 2>&1 | tee -a "$log"
"$SPEEDCERT" env --check "$TRACK" 2>&1 | tee -a "$log"

runs=()
for seed in $SEEDS; do
  left=$((BUDGET_S - ($(date +%s) - start)))
  if [ "$left" -lt 60 ]; then say "== seed $seed: SKIPPED, ${left}s of the budget left"; continue; fi
  say "== seed $seed (limit ${left}s): speedcert run --track $TRACK --device $DEVICE --seed $seed"
  t0=$(date +%s)
  timeout -k 10 "$left" "$SPEEDCERT" run --track "$TRACK" --device "$DEVICE" --seed "$seed" \
    --out "$OUT/seed-$seed" 2>&1 | tee -a "$log"
  say "== seed $seed: rc ${PIPESTATUS[0]} after $(($(date +%s) - t0))s"
  [ -f "$OUT/seed-$seed/run.json" ] && runs+=("$OUT/seed-$seed")
done

python3 bench/target/report.py --track "$TRACK" --markdown "$OUT/report.md" --json "$OUT/report.json" "${runs[@]}" 2>&1 | tee -a "$log"
rm -rf "$work"
