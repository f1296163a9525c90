#!/usr/bin/env bash
# One device-tool call: certify the NanoGPT speedrun's record script, train_gpt.py of
# KellerJordan/modded-nanogpt at f411b3d346aa52d3504324ca93c230fd84c6c07f, as a command
# submission on this machine's GPUs (`speedcert certify`), then check the bundle
# (`speedcert verify`). Everything is written under $OUT. See bench/speedrun/README.md.
#
# Needs, in the repository root of the device machine (.gpu/ is git-ignored; carry it):
#   .gpu/speedcert(.gz)       release build of the speedcert binary
#   .gpu/modded-nanogpt/      train_gpt.py, triton_kernels.py, dc_triton_kernels.py at the
#                             pinned revision (and data/fineweb10B/*.bin where they fit)
# and python3 with torch, triton, numpy, tiktoken and kernels, the GPT-2 tokenizer files
# and the FlashAttention-3 kernel in their caches (the device has no network). Optional:
#   .gpu/wheels/*.whl         packages the image lacks, installed --no-deps for this call
#   .gpu/kernels-cache/       KERNELS_CACHE with kernels-community/flash-attn3
#   .gpu/tiktoken-cache/      TIKTOKEN_CACHE_DIR with the GPT-2 BPE files
#   .gpu/speedrun-key.pem     signing key (+ .pub.pem); else a throwaway one in $OUT/key
# A preflight (seconds) checks all of it and stops the call before any run if something
# is missing (FORCE=1 runs anyway). Bounded by BUDGET_S so the call ends inside the device
# tool's 600 s limit: certify gets what is left less RESERVE_S, and a certification cut
# short is collected (`certify --collect`: the finished runs, signed) and verified.
#
# Environment knobs: OUT (/tmp/speedrun-out), BIN (.gpu), SRC ($BIN/modded-nanogpt),
# BUDGET_S (540), RESERVE_S (45), RUNS (2; certify needs at least 2), NPROC (visible GPUs, cut to a divisor of 8),
# TRACK (fineweb-gpt2-8xh100), DATA (auto | real | synthetic), DATA_ROOT (the folder that
# holds data/fineweb10B/), STEPS (unset: the record's own schedule; K: train_gpt.py cut to
# K steps, a pipeline check and not the record), EXTENSION (2) and VAL_TOKENS (2097152)
# with STEPS, KEY, RESUME (a bundle folder to continue with `certify --resume`), FORCE.
# The first device check, which fits one call: RUNS=2 STEPS=30 DATA=synthetic.

set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 2
root=$PWD

OUT=${OUT:-/tmp/speedrun-out}
BIN=${BIN:-.gpu}
SRC=${SRC:-$BIN/modded-nanogpt}
BUDGET_S=${BUDGET_S:-540}
RESERVE_S=${RESERVE_S:-45}
RUNS=${RUNS:-2}
TRACK=${TRACK:-fineweb-gpt2-8xh100}
DATA=${DATA:-auto}
DATA_ROOT=${DATA_ROOT:-}
STEPS=${STEPS:-}
EXTENSION=${EXTENSION:-2}
VAL_TOKENS=${VAL_TOKENS:-2097152}
KEY=${KEY:-$BIN/speedrun-key.pem}
RESUME=${RESUME:-}
FORCE=${FORCE:-0}
export PYTHONUNBUFFERED=1

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d)
start=$(date +%s)
log="$OUT/run.log"
: >"$log"
say() { echo "$*" | tee -a "$log"; }
elapsed() { echo $(($(date +%s) - start)); }
left() { echo $((BUDGET_S - $(elapsed))); }
finish() { # RC: the summary, then exit RC
  say "== done at $(elapsed)s, exit $1; outputs in $OUT:"
  find "$OUT" -maxdepth 1 -mindepth 1 -printf "  %f\n" | sort | tee -a "$log"
  rm -rf "$work"
  exit "$1"
}

unpack() { # NAME -> path of an executable copy, or empty
  if [ -f "$BIN/$1.gz" ]; then gunzip -c "$BIN/$1.gz" >"$work/$1" && chmod +x "$work/$1" && echo "$work/$1"
  elif [ -f "$BIN/$1" ]; then cp "$BIN/$1" "$work/$1" && chmod +x "$work/$1" && echo "$work/$1"
  fi
}
SPEEDCERT=$(unpack speedcert)
if [ -z "$SPEEDCERT" ]; then
  say "no $BIN/speedcert(.gz): build it here first (README.md, step 1)"
  finish 2
fi

say "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit,temperature.gpu,pstate \
  --format=csv 2>&1 | tee -a "$log"
python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tee -a "$log"

# The device has no network: every download train_gpt.py would make must come from a cache.
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
[ -d "$BIN/kernels-cache" ] && export KERNELS_CACHE="$root/$BIN/kernels-cache"
[ -d "$BIN/tiktoken-cache" ] && export TIKTOKEN_CACHE_DIR="$root/$BIN/tiktoken-cache"
if compgen -G "$BIN/wheels/*.whl" >/dev/null; then
  say "== installing the wheels in $BIN/wheels (--no-deps, this call only)"
  python3 -m pip install --quiet --no-index --no-deps --target "$work/pylib" "$BIN"/wheels/*.whl 2>&1 | tee -a "$log"
  export PYTHONPATH="$work/pylib${PYTHONPATH:+:$PYTHONPATH}"
  export PATH="$work/pylib/bin:$PATH"
fi
# The compile caches are per run: the manifest's command points them into the run's TMPDIR
# (the fence lets a run write only there and in its folder, so no state passes between runs).

# GPUs: train_gpt.py needs a divisor of 8 (it accumulates 8 / world_size micro-batches).
if [ -z "${NPROC:-}" ]; then
  NPROC=$(python3 -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || nvidia-smi -L 2>/dev/null | wc -l)
  [ "${NPROC:-0}" -ge 1 ] 2>/dev/null || NPROC=1
  for n in 8 4 2 1; do [ "$NPROC" -ge "$n" ] && { NPROC=$n; break; }; done
fi
say "== $NPROC process(es) per node$([ "$NPROC" -ne 8 ] && echo ": not the 8 x H100 track; pin.gpu_count marks the bundle unofficial")"

# Data: train_gpt.py reads $DATA_PATH/data/fineweb10B/fineweb_{train,val}_*.bin. The shards
# stay outside the submission folder, which ships whole in every bundle (64 MiB at most).
has_shards() { compgen -G "$1/data/fineweb10B/fineweb_val_*.bin" >/dev/null && compgen -G "$1/data/fineweb10B/fineweb_train_*.bin" >/dev/null; }
if [ -z "$DATA_ROOT" ] && [ "$DATA" != synthetic ]; then
  for d in "$SRC" "$root"; do has_shards "$d" && { DATA_ROOT=$d; break; }; done
fi
if [ -z "$DATA_ROOT" ] && [ "$DATA" = auto ]; then
  say "!! no FineWeb shards under $SRC/data or data/: synthetic data instead (the losses say nothing about the record)"
  DATA=synthetic
fi
if [ "$DATA" = synthetic ]; then
  DATA_ROOT=$work/synthetic
  if [ -n "$STEPS" ]; then shards=2 per=20000000; else shards=5 per=100000000; fi
  say "== synthetic shards (at $(elapsed)s): $shards x $per training tokens"
  timeout "$(left)" python3 bench/speedrun/prepare.py synth --out "$DATA_ROOT" --train-shards "$shards" --shard-tokens "$per" 2>&1 | tee -a "$log"
fi
DATA_ROOT=${DATA_ROOT:-$SRC}
DATA_PATH=$(cd "$DATA_ROOT" && pwd) || DATA_PATH=$DATA_ROOT
export DATA_PATH
say "== data: DATA_PATH=$DATA_PATH ($DATA)"

# The submission certify gets: the three source files and the manifest, nothing else.
sub=$work/modded-nanogpt
stage_args=(--src "$SRC" --template bench/speedrun/speedcert.toml --out "$sub" --nproc "$NPROC")
[ -n "$STEPS" ] && stage_args+=(--steps "$STEPS" --extension "$EXTENSION" --val-tokens "$VAL_TOKENS")
# What the fenced runs may read besides the system folders (prepare.py adds Python's own).
stage_args+=(--read "$DATA_PATH")
for d in "${KERNELS_CACHE:-}" "${TIKTOKEN_CACHE_DIR:-}" "$work/pylib"; do
  [ -n "$d" ] && [ -d "$d" ] && stage_args+=(--read "$d")
done
python3 bench/speedrun/prepare.py stage "${stage_args[@]}" 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || finish 2
cp "$sub/speedcert.toml" "$OUT/speedcert.toml"
if [ -n "$STEPS" ] || [ "$DATA" = synthetic ]; then
  why=${STEPS:+train_gpt.py cut to $STEPS steps}
  [ "$DATA" = synthetic ] && why="${why:+$why, }synthetic data"
  say "!! a pipeline check, not a certification of the record: $why"
  echo "A pipeline check of bench/speedrun/run.sh, not a certification of the record: $why." >"$OUT/NOT-A-RECORD.txt"
fi

say "== speedcert env (track $TRACK)"
"$SPEEDCERT" env --json >"$OUT/env.json" 2>>"$log"
"$SPEEDCERT" env --check "$TRACK" 2>&1 | tee -a "$log"

say "== preflight (at $(elapsed)s)"
timeout 180 python3 bench/speedrun/prepare.py preflight --src "$sub" --data-root "$DATA_PATH" \
  --json "$OUT/preflight.json" 2>&1 | tee -a "$log"
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
  if [ "$FORCE" = 1 ]; then say "!! preflight failed; FORCE=1, certifying anyway"
  else say "preflight failed: no run started (FORCE=1 to run anyway); see $OUT/preflight.json"; finish 1
  fi
fi

# Signing key: the carried one (so a later call can --resume the bundle), else a throwaway.
mkdir -p "$work/key"
if [ -f "$KEY" ]; then
  if ! cp "$KEY" "$work/key/key.pem" || ! cp "${KEY%.pem}.pub.pem" "$work/key/key.pub.pem"; then
    say "$KEY needs its public key ${KEY%.pem}.pub.pem beside it"
    finish 2
  fi
else
  "$SPEEDCERT" keygen --out "$OUT/key/key.pem" >>"$log" 2>&1
  cp "$OUT/key/key.pem" "$OUT/key/key.pub.pem" "$work/key/"
  say "== throwaway signing key in $OUT/key (copy it to $BIN/speedrun-key.pem to resume this bundle)"
fi
chmod 600 "$work/key/key.pem"

certify=(certify --track "$TRACK" --submission "$sub" --baseline "$sub" --runs "$RUNS" --baseline-runs 0
  --device cuda --out "$OUT/bundle" --key "$work/key/key.pem" --json)
if [ -n "$RESUME" ]; then
  cp -r "$RESUME" "$OUT/bundle"
  certify+=(--resume)
fi
limit=$(($(left) - RESERVE_S))
if [ "$limit" -lt 60 ]; then
  say "== certify: SKIPPED, ${limit}s of the budget left"
  finish 1
fi
say "== certify (limit ${limit}s, at $(elapsed)s): speedcert ${certify[*]}"
t0=$(date +%s)
# timeout signals its whole process group: speedcert, torchrun and the workers.
timeout -k 15 "$limit" "$SPEEDCERT" "${certify[@]}" 2>&1 >"$OUT/certify.json" | tee -a "$log"
rc=${PIPESTATUS[0]}
say "== certify: rc $rc after $(($(date +%s) - t0))s"
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  left_over=$(nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader 2>/dev/null)
  [ -n "$left_over" ] && say "!! processes still on the GPU after the timeout: $left_over"
  if [ -f "$OUT/bundle/plan.json" ]; then
    say "== certify --collect (cut short by the budget: the finished runs, signed)"
    "$SPEEDCERT" certify --collect "$OUT/bundle" --key "$work/key/key.pem" --json 2>&1 >"$OUT/certify.json" | tee -a "$log"
    say "== collect: rc ${PIPESTATUS[0]}"
  fi
fi

if [ -d "$OUT/bundle" ]; then
  say "== verify (at $(elapsed)s)"
  "$SPEEDCERT" verify "$OUT/bundle" --trust "$work/key/key.pub.pem" --json >"$OUT/verify.json" 2>>"$log"
  vrc=$?
  "$SPEEDCERT" verify "$OUT/bundle" --trust "$work/key/key.pub.pem" 2>&1 | tee -a "$log"
  say "== verify: rc $vrc (0 genuine, 3 not genuine, 1 unreadable)"
  say "== runs"
  python3 - "$OUT/bundle" <<'EOF' 2>&1 | tee -a "$log"
import glob, json, os, sys
for d in sorted(glob.glob(os.path.join(sys.argv[1], "runs", "*"))):
    try:
        r = json.load(open(os.path.join(d, "run.json")))
    except (OSError, ValueError) as e:
        print(f"{os.path.basename(d)}: no run.json ({e})")
        continue
    c = r.get("command") or {}
    print(f"{os.path.basename(d)}: {r.get('role')} status {r.get('status')} steps {r.get('steps')} "
          f"final_val_loss {r.get('final_val_loss')} train_time_ms {r.get('train_time_ms')} "
          f"wall_time_ms {c.get('wall_time_ms')} official {r.get('official')} failure {r.get('failure')}")
    print("   versions: " + " | ".join((c.get("versions") or "").splitlines()))
    try:
        tail = open(os.path.join(d, "train.log"), errors="replace").read().splitlines()[-3:]
        print("".join(f"   {line}\n" for line in tail), end="")
    except OSError:
        pass
EOF
  [ "$vrc" -eq 0 ] || rc=$vrc
else
  say "no bundle was written"
  [ "$rc" -eq 0 ] && rc=1
fi
finish "$rc"
