#!/usr/bin/env bash
# Fast detector of nondeterministic proc macros: expands crates' macros several times, each in a
# fresh compiler process (std's HashMap seeds differ per process), and compares the expansions.
# A proc macro that emits code in HashMap/HashSet order shows up here in minutes, where
# check.sh needs two cold release builds (about 30 minutes each on 2 cores) to see it.
#
# Usage: bench/repro/expand.sh [--times N] [--target-dir DIR] [CRATE...]
#   CRATE...          packages to expand (default: every package in speedcert's dependency graph
#                     that depends directly on cubecl-macros, cubecl-core or cubecl, i.e. the
#                     users of `#[cube]`, the macro vendor/cubecl-macros patches)
#   --times N         expansions per crate (default 4); a 2-way ordering bug escapes N runs with
#                     probability 2^(1-N) per site, and most crates have many sites
#   --target-dir DIR  check-profile target dir (default /work/targets/expand if /work/targets
#                     exists, else $TMPDIR/speedcert-expand); kept for reruns
# Needs RUSTC_BOOTSTRAP=1 (set here) for -Zunpretty=expanded on the stable toolchain.
# Exit status: 0 all expansions identical, 1 some differ (diffs in TARGET/expand-diffs/), 2 usage.
set -euo pipefail
{

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
times=4
if [[ -d /work/targets ]]; then target=/work/targets/expand; else target="${TMPDIR:-/tmp}/speedcert-expand"; fi
crates=()
while (($#)); do
  case "$1" in
    --times) times="$2"; shift 2 ;;
    --target-dir) target="$2"; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "unknown argument: $1" >&2; exit 2 ;;
    *) crates+=("$1"); shift ;;
  esac
done
((times >= 2)) || { echo "--times must be at least 2" >&2; exit 2; }

export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$target"
cd "$repo"

if ((${#crates[@]} == 0)); then
  # Direct dependents, in speedcert's feature-resolved graph, of the crates `#[cube]` comes from.
  mapfile -t crates < <(
    for cube in cubecl-macros cubecl-core cubecl; do
      cargo tree --quiet --locked --package speedcert --edges normal,build --invert "$cube" \
        --depth 1 --prefix none
    done | awk '{print $1}' | sort -u | grep -vxE 'cubecl-macros|cubecl-core|cubecl'
  )
fi

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) expanding ${#crates[@]} crates x $times: ${crates[*]}" >&2
out="$target/expand-diffs"
rm -rf "$out" && mkdir -p "$out"
differ=()
for crate in "${crates[@]}"; do
  cargo check --quiet --locked --package "$crate" >&2
  for ((i = 1; i <= times; i++)); do
    cargo clean --quiet --package "$crate" 2> /dev/null
    cargo rustc --quiet --locked --package "$crate" --lib --profile check -- -Zunpretty=expanded \
      > "$out/$crate.$i.rs"
  done
  same=1
  for ((i = 2; i <= times; i++)); do
    if ! cmp -s "$out/$crate.1.rs" "$out/$crate.$i.rs"; then
      diff "$out/$crate.1.rs" "$out/$crate.$i.rs" > "$out/$crate.1-$i.diff" || true
      same=0
    fi
  done
  if ((same)); then
    echo "same     $crate ($(wc -c < "$out/$crate.1.rs") bytes expanded)"
    rm -f "$out/$crate".*.rs
  else
    echo "DIFFERS  $crate: see $out/$crate.1-*.diff"
    differ+=("$crate")
  fi
done
if ((${#differ[@]})); then
  echo "RESULT ${#differ[@]} of ${#crates[@]} crates expand differently: ${differ[*]}"
  exit 1
fi
echo "RESULT all ${#crates[@]} crates expand identically ($times times each)"
exit 0
}
