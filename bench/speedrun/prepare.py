#!/usr/bin/env python3
"""Helpers of bench/speedrun/run.sh, one subcommand each (see bench/speedrun/README.md).

  preflight  --src DIR --data-root DIR [--json FILE]
      What train_gpt.py needs before a run can start, checked in seconds on the device:
      python packages (torch, triton, numpy, tiktoken, kernels), CUDA and the GPU count,
      the GPT-2 tokenizer and the FlashAttention-3 kernel loaded offline from their
      caches, the three source files, and the token shards under DATA_ROOT/data/fineweb10B.
      Exit 0 when every hard requirement holds, 1 otherwise.
  stage      --src DIR --template FILE --out DIR --nproc N [--steps K --extension E --val-tokens T]
      The submission folder certify gets: train_gpt.py, triton_kernels.py and
      dc_triton_kernels.py from SRC (never the data: a submission ships whole in every
      bundle), the manifest with --nproc_per_node=N, and with --steps a copy of
      train_gpt.py whose schedule is cut to K steps (a pipeline check, not the record).
  synth      --out DIR --train-shards N --shard-tokens T [--val-tokens V]
      Synthetic shards in train_gpt.py's format (header magic 20240520, uint16 tokens):
      documents of 256..2047 tokens, each opening with BOS 50256, of Zipf-distributed
      words in which half the tokens continue the one before (+1): learnable, so the loss
      falls, but it says nothing about FineWeb or the record.

Standard library only, except synth (numpy, which train_gpt.py needs anyway).
"""
import argparse
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time

MAGIC = 20240520
BOS = 50256
SOURCES = ["train_gpt.py", "triton_kernels.py", "dc_triton_kernels.py"]


def shard_tokens(path):
    with open(path, "rb") as f:
        header = f.read(12)
    magic, version, n = struct.unpack("<3i", header)
    if magic != MAGIC or version != 1:
        raise ValueError(f"{path}: not a token shard (magic {magic}, version {version})")
    expected = 256 * 4 + 2 * n
    size = os.path.getsize(path)
    if size != expected:
        raise ValueError(f"{path}: header says {n} tokens ({expected} bytes), file has {size} bytes")
    return n


def _raise(message):
    raise RuntimeError(message)


def preflight(args):
    checks = []

    def check(name, hard, fn):
        t0 = time.time()
        try:
            detail = fn()
            ok = True
        except BaseException as e:  # noqa: BLE001 - any failure is the finding
            detail = f"{type(e).__name__}: {e}"
            ok = False
        checks.append({"check": name, "ok": ok, "hard": hard, "detail": str(detail)[:600],
                       "seconds": round(time.time() - t0, 2)})
        print(f"{'ok  ' if ok else ('FAIL' if hard else 'warn')} {name}: {str(detail)[:300]}", flush=True)
        return ok

    check("python", False, lambda: sys.version.split()[0])
    for f in SOURCES:
        check(f"source {f}", True, lambda f=f: f"{os.path.getsize(os.path.join(args.src, f))} bytes")

    def torch_cuda():
        import torch
        n = torch.cuda.device_count()
        if not torch.cuda.is_available() or n == 0:
            raise RuntimeError(f"torch {torch.__version__}: no CUDA device")
        names = sorted({torch.cuda.get_device_name(i) for i in range(n)})
        return f"torch {torch.__version__} cuda {torch.version.cuda}, {n} x {', '.join(names)}"

    check("torch+cuda", True, torch_cuda)
    check("torchrun on PATH", True, lambda: shutil.which("torchrun") or _raise("not found"))
    check("nvidia-smi", False, lambda: subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
        capture_output=True, text=True, check=True).stdout.strip().replace("\n", "; "))
    check("triton", True, lambda: __import__("triton").__version__)
    check("numpy", True, lambda: __import__("numpy").__version__)
    check("tiktoken gpt2 (offline)", True,
          lambda: f"{__import__('tiktoken').get_encoding('gpt2').n_vocab} tokens")

    def fa3():
        from kernels import get_kernel
        k = get_kernel("kernels-community/flash-attn3", version=1)
        return f"loaded {getattr(k, '__name__', k)}; flash_attn_interface: {hasattr(k, 'flash_attn_interface')}"

    check("kernels flash-attn3 (offline)", True, fa3)

    def data(kind, need):
        pattern = os.path.join(args.data_root, f"data/fineweb10B/fineweb_{kind}_*.bin")
        files = sorted(glob.glob(pattern))
        if len(files) < need:
            raise FileNotFoundError(f"{len(files)} files match {pattern}; train_gpt.py needs at least {need}")
        tokens = sum(shard_tokens(f) for f in files)
        return f"{len(files)} shards, {tokens:,} tokens"

    check("val shards", True, lambda: data("val", 1))
    # train_gpt.py preloads the next training shard when it opens the first: two at least.
    check("train shards", True, lambda: data("train", 2))

    failed = [c["check"] for c in checks if c["hard"] and not c["ok"]]
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"checks": checks, "failed": failed}, f, indent=2)
    if failed:
        print(f"preflight: {len(failed)} requirement(s) missing: {', '.join(failed)}", flush=True)
        return 1
    print("preflight: everything train_gpt.py needs is here", flush=True)
    return 0


# The schedule lines of train_gpt.py at f411b3d3 that --steps rewrites, each exactly once.
SCHEDULE = {
    "steps": (r"num_scheduled_iterations: int = \d+", "num_scheduled_iterations: int = {}"),
    "extension": (r"num_extension_iterations: int = \d+", "num_extension_iterations: int = {}"),
    "val_tokens": (r"val_tokens: int = \d+", "val_tokens: int = {}"),
}


# Folders the fence lets every run read (evaluator/src/fence.rs SYSTEM_READ).
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/sys",
               "/dev", "/nix/store")


def readable(extra):
    """The manifest's `read`: `extra` and this Python's prefix and package folders, each
    absolute and existing, minus those under the system folders the fence already opens."""
    import site
    dirs = list(extra) + [sys.prefix, sys.exec_prefix] + site.getsitepackages()
    dirs.append(site.getusersitepackages())
    dirs += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    out = []
    for d in dirs:
        d = os.path.realpath(d)
        if not os.path.isdir(d) or d in out:
            continue
        if any(d == s or d.startswith(s + "/") for s in SYSTEM_READ):
            continue
        out.append(d)
    return out


def stage(args):
    os.makedirs(args.out, exist_ok=False)
    for f in SOURCES:
        shutil.copy(os.path.join(args.src, f), os.path.join(args.out, f))
    with open(args.template) as f:
        manifest = f.read()
    manifest, n = re.subn(r"--nproc_per_node=\d+", f"--nproc_per_node={args.nproc}", manifest)
    if n != 1:
        raise SystemExit(f"{args.template}: {n} --nproc_per_node= settings, expected 1")
    read = readable(args.read)
    manifest = manifest.rstrip("\n") + "\n# Folders the fenced run may read besides the system ones (prepare.py stage).\n"
    manifest += "read = [" + ", ".join(json.dumps(d) for d in read) + "]\n"
    with open(os.path.join(args.out, "speedcert.toml"), "w") as f:
        f.write(manifest)
    if args.steps:
        path = os.path.join(args.out, "train_gpt.py")
        with open(path) as f:
            code = f.read()
        for key, value in [("steps", args.steps), ("extension", args.extension),
                           ("val_tokens", args.val_tokens)]:
            pattern, repl = SCHEDULE[key]
            code, n = re.subn(pattern, repl.format(value), code)
            if n != 1:
                raise SystemExit(f"{path}: `{pattern}` matched {n} times, expected once "
                                 "(not the f411b3d3 train_gpt.py?)")
        with open(path, "w") as f:
            f.write(code)
        print(f"stage: train_gpt.py cut to {args.steps} + {args.extension} steps, "
              f"{args.val_tokens:,} validation tokens (a pipeline check, not the record)")
    print(f"stage: {args.out} ({', '.join(sorted(os.listdir(args.out)))}), --nproc_per_node={args.nproc}")
    return 0


def synth(args):
    import numpy as np

    out = os.path.join(args.out, "data", "fineweb10B")
    os.makedirs(out, exist_ok=True)
    words = 50000  # below BOS (50256) and the model's vocabulary
    weights = 1.0 / np.arange(1, words + 1) ** 1.1
    cdf = np.cumsum(weights / weights.sum())
    perm = np.random.default_rng(20240520).permutation(words)

    def write(name, n, seed):
        rng = np.random.default_rng(seed)
        base = perm[np.minimum(np.searchsorted(cdf, rng.random(n)), words - 1)]
        # Half the tokens continue the one before (+1 mod words): pos i takes the last
        # free token at j <= i plus (i - j).
        free = rng.random(n) < 0.5
        free[0] = True
        idx = np.arange(n)
        last = np.maximum.accumulate(np.where(free, idx, 0))
        tokens = (base[last] + (idx - last)) % words
        lengths = rng.integers(256, 2048, size=n // 256 + 1)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        tokens[starts[starts < n]] = BOS
        header = np.zeros(256, dtype=np.int32)
        header[:3] = [MAGIC, 1, n]
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(header.tobytes())
            f.write(tokens.astype(np.uint16).tobytes())
        print(f"synth: {path} {n:,} tokens", flush=True)

    write("fineweb_val_000000.bin", args.val_tokens, 1)
    for i in range(1, args.train_shards + 1):
        write(f"fineweb_train_{i:06d}.bin", args.shard_tokens, 100 + i)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("preflight")
    a.add_argument("--src", required=True)
    a.add_argument("--data-root", required=True)
    a.add_argument("--json")
    a = sub.add_parser("stage")
    a.add_argument("--src", required=True)
    a.add_argument("--template", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--nproc", type=int, required=True)
    a.add_argument("--steps", type=int, default=0)
    a.add_argument("--extension", type=int, default=2)
    a.add_argument("--val-tokens", type=int, default=2097152)
    a.add_argument("--read", action="append", default=[],
                   help="a folder the fenced run may read (repeat): data, caches")
    a = sub.add_parser("synth")
    a.add_argument("--out", required=True)
    a.add_argument("--train-shards", type=int, default=2)
    a.add_argument("--shard-tokens", type=int, default=20_000_000)
    # train_gpt.py reads val_tokens (10,485,760 unpatched) and must not reach the end.
    a.add_argument("--val-tokens", type=int, default=12_000_000)
    args = p.parse_args()
    return {"preflight": preflight, "stage": stage, "synth": synth}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
