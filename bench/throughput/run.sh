#!/usr/bin/env bash
# One device-tool call: the reference GPT-2-small training step in burn (bf16, f32) and in
# PyTorch (eager f32, TF32, bf16 autocast, torch.compile bf16) at batch 8, 16, 32 x 1024,
# then one combined table under $OUT. See bench/throughput/README.md.
#
# Needs, in the repository root of the device machine:
#   .gpu/throughput(.gz)   release build of evaluator/examples/throughput.rs
#   .gpu/speedcert(.gz)    release build of the speedcert binary (optional: env + pin check)
#   .gpu/parity(.gz)       release build of evaluator/examples/parity.rs (optional: numerical
#                          parity of burn and PyTorch on the device, f32 and bf16)
# and python3 with torch (the device image has it). Everything is bounded by BUDGET_S so
# the call ends inside the device tool's 600 s limit; stages left out for time are listed.
#
# Environment knobs: OUT (default /tmp/throughput-out), BIN (.gpu), BUDGET_S (540),
# STEPS (20), WARMUP (5), BATCHES (8,16,32), SEQ (1024), STAGES (all; or a comma list of
# burn-bf16,torch-bf16,torch-compile,burn-f32,torch-f32). For a smoke test without a GPU:
# DEVICE=cpu SHAPE="--layers 2 --d-model 64 --heads 4 --vocab 256" SEQ=64 BATCHES=2 STEPS=2.

set -u -o pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-/tmp/throughput-out}
BIN=${BIN:-.gpu}
BUDGET_S=${BUDGET_S:-540}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-5}
BATCHES=${BATCHES:-8,16,32}
SEQ=${SEQ:-1024}
DEVICE=${DEVICE:-cuda}
SHAPE=${SHAPE:-}
STAGES=${STAGES:-parity,burn-bf16,torch-bf16,torch-compile,burn-f32,torch-f32}
export PYTHONUNBUFFERED=1

mkdir -p "$OUT"
work=$(mktemp -d)
start=$(date +%s)
log="$OUT/run.log"
: >"$log"
say() { echo "$*" | tee -a "$log"; }

# NVRTC for burn's CUDA backend (cudarc dlopens libnvrtc.so*): the toolkit's, else the pip one.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
if ! ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so' && ! ls /usr/local/cuda/lib64/libnvrtc.so* >/dev/null 2>&1; then
  pipnvrtc=$(python3 -c 'import nvidia, os, glob; print(":".join(sorted({os.path.dirname(p) for b in nvidia.__path__ for p in glob.glob(b + "/**/libnvrtc.so*", recursive=True)})))' 2>/dev/null)
  [ -n "$pipnvrtc" ] && export LD_LIBRARY_PATH="$pipnvrtc${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

unpack() { # NAME -> path of an executable copy, or empty
  if [ -f "$BIN/$1.gz" ]; then gunzip -c "$BIN/$1.gz" >"$work/$1" && chmod +x "$work/$1" && echo "$work/$1"
  elif [ -f "$BIN/$1" ]; then cp "$BIN/$1" "$work/$1" && chmod +x "$work/$1" && echo "$work/$1"
  fi
}
THROUGHPUT=$(unpack throughput)
SPEEDCERT=$(unpack speedcert)
PARITY=$(unpack parity)

elapsed() { echo $(($(date +%s) - start)); }
wanted() { case ",$STAGES," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
# stage NAME LIMIT_S CMD...: runs CMD under the smaller of LIMIT_S and what is left of the budget.
stage() {
  local name=$1 limit=$2
  shift 2
  wanted "$name" || return 0
  local left=$((BUDGET_S - $(elapsed)))
  if [ "$left" -lt 30 ]; then
    say "== $name: SKIPPED, ${left}s of the budget left"
    echo "$name" >>"$work/skipped"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  say "== $name (limit ${limit}s, at $(elapsed)s): $*"
  local t0=$(date +%s)
  timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  say "== $name: rc $rc after $(($(date +%s) - t0))s"
}

say "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit,temperature.gpu,pstate \
  --format=csv 2>&1 | tee -a "$log"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tee -a "$log"
if [ -n "$SPEEDCERT" ]; then
  "$SPEEDCERT" env --json >"$OUT/env.json" 2>>"$log"
  "$SPEEDCERT" env --check synthetic-gpt2-1xh100 2>&1 | tee -a "$log"
else
  say "no $BIN/speedcert(.gz): skipping speedcert env"
fi

# Parity first (seconds): the columns below compare only if both sides compute the same thing.
# f32 should agree to ~1e-6 as on CPU unless a kernel computes in TF32; burn's bf16 is pure
# bf16 and PyTorch's autocast keeps f32 master weights, so bf16 is reported, not judged.
if [ -n "$PARITY" ]; then
  stage parity 60 python3 bench/throughput/parity.py --burn-bin "$PARITY" --device "$DEVICE" \
    --precision f32 --tol 1e-3 --out "$OUT/parity-f32.json"
  stage parity 60 python3 bench/throughput/parity.py --burn-bin "$PARITY" --device "$DEVICE" \
    --precision bf16 --tol 5e-2 --out "$OUT/parity-bf16.json"
else
  say "no $BIN/parity(.gz): skipping the parity check"
fi

# shellcheck disable=SC2206 # SHAPE is a list of flags
common=(--device "$DEVICE" --batch "$BATCHES" --seq "$SEQ" --steps "$STEPS" --warmup "$WARMUP" $SHAPE)
if [ -n "$THROUGHPUT" ]; then
  stage burn-bf16 220 "$THROUGHPUT" --precision bf16 --phases "${common[@]}" --out "$work/burn-bf16.json"
else
  say "no $BIN/throughput(.gz): the burn stages cannot run (see README.md)"
fi
stage torch-bf16 70 python3 bench/throughput/torch_ref.py --modes bf16-autocast "${common[@]}" --out "$work/torch-bf16.json"
stage torch-compile 200 python3 bench/throughput/torch_ref.py --modes compile-bf16 "${common[@]}" --out "$work/torch-compile.json"
if [ -n "$THROUGHPUT" ]; then
  stage burn-f32 150 "$THROUGHPUT" --precision f32 "${common[@]}" --out "$work/burn-f32.json"
fi
stage torch-f32 100 python3 bench/throughput/torch_ref.py --modes eager-f32,tf32 "${common[@]}" --out "$work/torch-f32.json"

say "== combined (at $(elapsed)s)"
[ -f "$work/skipped" ] && say "stages skipped for time: $(paste -sd, "$work/skipped")"
reports=()
for f in burn-bf16 torch-bf16 torch-compile burn-f32 torch-f32; do
  [ -f "$work/$f.json" ] && reports+=("$work/$f.json")
done
python3 bench/throughput/combine.py "${reports[@]}" --markdown "$OUT/table.md" --json "$OUT/combined.json"
rm -rf "$work"
