#!/usr/bin/env bash
# Reproducible-build check: two release builds of the `speedcert` binary, from copies of this
# checkout in two different directories and with two different target directories, must be
# byte-identical.
#
# What makes them identical (see docs/nix.md, "Provenance and reproducibility"):
#   - --remap-path-prefix (RUSTFLAGS) maps each copy's source dir, each target dir and
#     $CARGO_HOME to fixed names, so no absolute path reaches the binary (cargo 1.95 keeps
#     RUSTFLAGS out of -C metadata, so symbol names do not change with them);
#   - SOURCE_DATE_EPOCH is fixed; evaluator/build.rs embeds no clock, host or path;
#   - the copies have no .git, so SPEEDCERT_GIT_REV is computed once from this checkout and
#     given to both builds; CUDARC_CUDA_VERSION pins cudarc's CUDA API version (otherwise it
#     depends on whether nvcc is installed) to the flake's CUDA 13.0.
#
# Usage: bench/repro/check.sh [--src DIR] [--work DIR] [--targets DIR] [--jobs N] [--keep]
#                              [--clean] [--parallel]
#   --src DIR      the tree to build (default: this checkout), e.g. a copy with a [patch]
#   --work DIR     where the two source copies go: DIR/repro-a/src, DIR/repro-b/src
#                  (default /tmp)
#   --targets DIR  where the two target dirs go: DIR/repro-a, DIR/repro-b
#                  (default /work/targets if it exists, else $TMPDIR)
#   --jobs N       cargo -j (default: cargo's)
#   --keep         keep the source copies (target dirs are always kept, for incremental reruns)
#   --clean        empty both target dirs first: a cold build each, so every rlib compared at
#                  the end comes from this run (a warm dir mixes rlibs of earlier builds)
#   --parallel     run the two builds at the same time (keeps 2 cores busy through the long
#                  single-crate stretches; logs in TARGETS/repro-{a,b}.log)
# Environment passed through: CARGO_HOME, CARGO_NET_OFFLINE, RUSTFLAGS (prepended),
# SOURCE_DATE_EPOCH (default 315532800, as Nix), SPEEDCERT_GIT_REV, CUDARC_CUDA_VERSION.
# Exit status: 0 identical, 1 different or failed, 2 bad usage.
set -euo pipefail
# Braces: bash parses the whole script before running it, so editing this file mid-run is safe.
{

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work=/tmp
if [[ -d /work/targets ]]; then targets=/work/targets; else targets="${TMPDIR:-/tmp}"; fi
jobs=()
keep=0
clean=0
parallel=0
while (($#)); do
  case "$1" in
    --src) repo="$(cd "$2" && pwd)"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --targets) targets="$2"; shift 2 ;;
    --jobs) jobs=(-j "$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    --clean) clean=1; shift ;;
    --parallel) parallel=1; shift ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cargo_home="${CARGO_HOME:-$HOME/.cargo}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}"
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}"
if [[ -z "${SPEEDCERT_GIT_REV:-}" ]]; then
  if rev="$(git -C "$repo" rev-parse --verify --quiet 'HEAD^{commit}' 2>/dev/null)"; then
    [[ -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ]] && rev="$rev-dirty"
  else
    rev=unknown
  fi
  export SPEEDCERT_GIT_REV="$rev"
fi
base_rustflags="${RUSTFLAGS:-}"

copy_tree() { # src dst
  mkdir -p "$2"
  if command -v rsync > /dev/null; then
    rsync -a --delete --exclude /.git --exclude /target --filter=':- .gitignore' "$1/" "$2/"
  else
    rm -rf "$2" && mkdir -p "$2"
    (cd "$1" && tar --exclude=./.git --exclude=./target --exclude=./.venv -cf - .) | tar -xf - -C "$2"
  fi
}

build() { # name
  local name="$1" src="$work/$1/src" target="$targets/$1"
  [[ $clean == 1 ]] && rm -rf "${target:?}"
  mkdir -p "$target"
  local flags="--remap-path-prefix=$src=/build/speedcert --remap-path-prefix=$target=/build/target"
  flags="$flags --remap-path-prefix=$cargo_home=/cargo"
  echo "== build $name: source $src, target $target" >&2
  local start=$SECONDS
  (
    cd "$src"
    CARGO_TARGET_DIR="$target" RUSTFLAGS="${base_rustflags:+$base_rustflags }$flags" \
      cargo build --release --locked "${jobs[@]}" --package speedcert --bin speedcert
  ) >&2
  echo "== build $name took $((SECONDS - start)) s" >&2
  [[ $keep == 1 ]] || rm -rf "${work:?}/$name/src"
}

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) repro check of $repo" >&2
echo "== rustc: $(rustc -vV | tr '\n' ' ')" >&2
echo "== SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH SPEEDCERT_GIT_REV=$SPEEDCERT_GIT_REV CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION" >&2

# rlibs written after this are this run's (see the comparison at the end).
mkdir -p "$targets"
marker="$targets/.repro-run-start"
touch "$marker"

# Both copies are taken before either build, from one snapshot, so edits made to the checkout
# while the builds run cannot make them differ.
copy_tree "$repo" "$work/repro-a/src"
copy_tree "$work/repro-a/src" "$work/repro-b/src"
if [[ $parallel == 1 ]]; then
  build repro-a 2> "$targets/repro-a.log" &
  pid_a=$!
  build repro-b 2> "$targets/repro-b.log" &
  pid_b=$!
  status=0
  wait "$pid_a" || status=$?
  wait "$pid_b" || status=$?
  tail -n 3 "$targets/repro-a.log" "$targets/repro-b.log" >&2
  ((status == 0)) || { echo "RESULT failed: a build failed (see the logs above)"; exit 1; }
else
  build repro-a
  build repro-b
fi

a="$targets/repro-a/release/speedcert"
b="$targets/repro-b/release/speedcert"
sha_a="$(sha256sum "$a" | cut -d' ' -f1)"
sha_b="$(sha256sum "$b" | cut -d' ' -f1)"
echo "repro-a $sha_a $(stat -c %s "$a") bytes $a"
echo "repro-b $sha_b $(stat -c %s "$b") bytes $b"
if [[ "$sha_a" == "$sha_b" ]]; then
  echo "RESULT identical"
  exit 0
fi
echo "RESULT different: $(cmp -l "$a" "$b" | wc -l) bytes differ; first: $(cmp "$a" "$b" || true)"
# Which crates differ, oldest first: the first one built is where the nondeterminism enters
# (every crate that depends on it differs through its crate hash). Only rlibs this run wrote
# are compared (a warm dir also holds rlibs of earlier builds); after --clean that is all.
echo "rlibs written by this run that differ (oldest first in repro-b):"
for rlib in $(ls -tr "$targets/repro-b/release/deps/"*.rlib); do
  [[ $rlib -nt $marker ]] || continue
  other="$targets/repro-a/release/deps/$(basename "$rlib")"
  if [[ ! -f $other ]]; then
    echo "  only in repro-b: $(basename "$rlib")"
  elif ! cmp -s "$rlib" "$other"; then
    echo "  differs: $(basename "$rlib")"
  fi
done
echo "hint: diffoscope $a $b; or grep both for /tmp, /work, /root, $HOME paths with strings(1)" >&2
exit 1
}
