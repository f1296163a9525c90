#!/usr/bin/env python3
"""CPU training throughput: burn (evaluator/examples/throughput.rs on Flex) against PyTorch
eager and torch.compile (bench/throughput/torch_ref.py) on the same model shapes, with the
same thread count, interleaved in rounds (burn, eager, compile, burn, eager, compile, ...)
so that the machine's state is shared by the columns. Each measurement is the median of
--steps timed steps after --warmup untimed ones; a cell is the median over the rounds.

  python3 bench/throughput/cpu.py --burn target/release/examples/throughput \
      --python /tmp/tv/bin/python --threads 2 --rounds 2 --markdown out.md --json out.json

MFU is against --peak-gflops (the machine's f32 FMA peak for the threads used; printed
in the table so it can be checked). --burn-before OLD adds a column for an older build of
the same example, measured in the same rounds, so a change's speed-up is a ratio taken
under one machine state. --burn-backends ndarray,candle adds a column for each of burn's other
CPU backends, run by the same --burn binary (built with --features speedcert/cpu-backends);
an entry LABEL=BACKEND@BINARY runs BACKEND with another build (one whose backend features
differ, such as NdArray on OpenBLAS: --features speedcert/cpu-backends-openblas). --skip-torch
leaves PyTorch out (a comparison of burn's backends alone). Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# The three shapes: synthetic-tiny's model, a mid-size model, and a GPT-2 vocabulary.
SHAPES = [
    dict(name="synthetic-tiny", vocab=64, layers=2, d_model=64, heads=2, seq=64, batch=32),
    dict(name="mid", vocab=512, layers=4, d_model=256, heads=4, seq=128, batch=16),
    dict(name="gpt2-vocab", vocab=50304, layers=2, d_model=128, heads=2, seq=128, batch=8),
]
COLUMNS = ("burn", "eager-f32", "compile-f32")


def shape_args(s):
    return ["--layers", str(s["layers"]), "--d-model", str(s["d_model"]), "--heads", str(s["heads"]),
            "--vocab", str(s["vocab"]), "--seq", str(s["seq"]), "--batch", str(s["batch"])]


def measure(column, shape, args, tmp):
    """One measurement: the report row of one program run, or a dict with `error`."""
    out = os.path.join(tmp, f"{column}.json")
    common = ["--device", "cpu", "--steps", str(args.steps), "--warmup", str(args.warmup),
              "--out", out] + shape_args(shape)
    env = dict(os.environ)
    if column in args.burn_columns:
        backend, binary = args.burn_columns[column]
        cmd = [binary, "--precision", "f32"] + common + (["--cpu-backend", backend] if backend else [])
        env["RAYON_NUM_THREADS"] = str(args.threads)
        env["OPENBLAS_NUM_THREADS"] = str(args.threads)  # NdArray on OpenBLAS
        env["OMP_NUM_THREADS"] = str(args.threads)  # LibTorch (burn-tch)
    else:
        cmd = [args.python, os.path.join(HERE, "torch_ref.py"), "--modes", column,
               "--threads", str(args.threads)] + common
        env["OMP_NUM_THREADS"] = str(args.threads)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    if proc.returncode != 0 or not os.path.exists(out):
        return dict(error=f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:] or ''}",
                    command=cmd)
    with open(out) as f:
        report = json.load(f)
    os.remove(out)
    row = report["results"][0]
    if row.get("status") != "ok":
        return dict(error=row.get("error"), command=cmd)
    return dict(tokens_per_s=row["tokens_per_s"], step_ms=row["step_ms_median"],
                flops_per_token=report["model"]["train_flops_per_token"],
                version=report.get("torch_version"), command=cmd)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--burn", required=True, help="release build of the throughput example")
    p.add_argument("--burn-before", help="an older build of the example: adds a before/after column")
    p.add_argument("--burn-backends", default="",
                   help="comma list of burn's other CPU backends to add (ndarray, candle), "
                        "each a backend name or LABEL=BACKEND@BINARY")
    p.add_argument("--skip-torch", action="store_true", help="measure burn only")
    p.add_argument("--python", default=sys.executable, help="a python with torch")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--peak-gflops", type=float,
                   help="f32 peak of the threads used, for MFU (e.g. cores x GHz x 64 with AVX-512 FMA)")
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--only", help="comma list of shape names")
    p.add_argument("--markdown")
    p.add_argument("--json")
    args = p.parse_args(argv)
    shapes = [s for s in SHAPES if not args.only or s["name"] in args.only.split(",")]
    # Every burn column, resolved once: column -> (--cpu-backend or None, binary).
    args.burn_columns = {"burn": (None, args.burn)}
    if args.burn_before:
        args.burn_columns["burn-before"] = (None, args.burn_before)
    backends = []  # the labels of --burn-backends, in order
    for entry in filter(None, args.burn_backends.split(",")):
        label, _, spec = entry.partition("=")
        backend, _, binary = (spec or label).partition("@")
        if f"burn-{label}" in args.burn_columns:
            p.error(f"--burn-backends: the label {label!r} names a column already measured")
        args.burn_columns[f"burn-{label}"] = (backend, binary or args.burn)
        backends.append(label)
    columns = (("burn",) if args.skip_torch else COLUMNS) + tuple(c for c in args.burn_columns if c != "burn")

    cells = {(s["name"], c): [] for s in shapes for c in columns}
    extra = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for s in shapes:
                for c in columns:
                    m = measure(c, s, args, tmp)
                    cells[(s["name"], c)].append(m)
                    extra.setdefault(c, m.get("version"))
                    said = f"{m['tokens_per_s']:.0f} tok/s" if "tokens_per_s" in m else f"failed: {m['error']}"
                    print(f"round {r + 1} {s['name']} {c}: {said}", file=sys.stderr, flush=True)

    def per_round(shape, a, b):
        """Ratios a/b of the rounds where both columns measured (the rounds are interleaved)."""
        pairs = zip(cells[(shape, a)], cells[(shape, b)])
        return [x["tokens_per_s"] / y["tokens_per_s"] for x, y in pairs
                if "tokens_per_s" in x and "tokens_per_s" in y]

    rows = []
    for s in shapes:
        row = dict(shape=s)
        for c in columns:
            ok = [m["tokens_per_s"] for m in cells[(s["name"], c)] if "tokens_per_s" in m]
            row[c] = statistics.median(ok) if ok else None
            row[c + "_all"] = ok
            fpt = next((m["flops_per_token"] for m in cells[(s["name"], c)] if "flops_per_token" in m), None)
            row["flops_per_token"] = row.get("flops_per_token") or fpt
        for c in ("eager-f32", "compile-f32"):
            row["burn_over_" + c] = row["burn"] / row[c] if row["burn"] and row.get(c) else None
        for c in (f"burn-{b}" for b in backends):
            row["burn_over_" + c] = row["burn"] / row[c] if row["burn"] and row[c] else None
            row["burn_over_" + c + "_rounds"] = per_round(s["name"], "burn", c)
        if args.burn_before:
            b = row["burn-before"]
            row["burn_over_before"] = row["burn"] / b if row["burn"] and b else None
        rows.append(row)

    def fmt(v, f="{:,.0f}"):
        return "-" if v is None else f.format(v)

    def fmt_ratio(row, key):
        """The ratio of medians, then the per-round range where there is one."""
        text = fmt(row[key], "{:.2f}")
        rounds = row.get(key + "_rounds")
        return text + (f" ({min(rounds):.2f}-{max(rounds):.2f})" if rounds else "")

    def mfu(row):
        if not (args.peak_gflops and row["burn"] and row["flops_per_token"]):
            return None
        return row["burn"] * row["flops_per_token"] / 1e9 / args.peak_gflops * 100

    # (header, cell) per column; the torch columns only when torch was measured.
    table = [("burn Flex tok/s", lambda row: fmt(row["burn"]))]
    if not args.skip_torch:
        table += [("PyTorch eager tok/s", lambda row: fmt(row["eager-f32"])),
                  ("torch.compile tok/s", lambda row: fmt(row["compile-f32"])),
                  ("burn / eager", lambda row: fmt(row["burn_over_eager-f32"], "{:.2f}")),
                  ("burn / compile", lambda row: fmt(row["burn_over_compile-f32"], "{:.2f}"))]
    table += [("burn MFU", lambda row: fmt(mfu(row), "{:.1f}%"))]
    if args.burn_before:
        table += [("burn before tok/s", lambda row: fmt(row["burn-before"])),
                  ("burn / before", lambda row: fmt(row["burn_over_before"], "{:.2f}"))]
    for b in backends:
        table += [(f"burn {b} tok/s", lambda row, b=b: fmt(row[f"burn-{b}"])),
                  (f"Flex / {b} (rounds)", lambda row, b=b: fmt_ratio(row, f"burn_over_burn-{b}"))]

    lines = [f"CPU training throughput, f32, {args.threads} threads each, {args.rounds} interleaved rounds "
             f"(median of {args.steps} steps after {args.warmup} warm-up; cell = median over rounds)",
             (f"torch {extra.get('eager-f32')}, " if not args.skip_torch else "")
             + f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
             + (f", MFU against {args.peak_gflops:.0f} GFLOP/s" if args.peak_gflops else ""),
             "",
             "| shape | " + " | ".join(h for h, _ in table) + " |",
             "|---|" + "---:|" * len(table)]
    for row in rows:
        s = row["shape"]
        lines.append(f"| {s['name']} (V {s['vocab']}, {s['layers']} layers, d {s['d_model']}, "
                     f"seq {s['seq']}, batch {s['batch']}) | " + " | ".join(cell(row) for _, cell in table) + " |")
    failures = [f"- {name} {c}: {m['error']}" for (name, c), ms in cells.items() for m in ms if "error" in m]
    if failures:
        lines += ["", "Failed measurements:"] + failures
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(schema="speedcert/bench-cpu-throughput/v1",
                           started_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           burn=args.burn, burn_before=args.burn_before,
                           burn_backends={b: args.burn_columns[f"burn-{b}"] for b in backends},
                           threads=args.threads, rounds=args.rounds, steps=args.steps, warmup=args.warmup,
                           peak_gflops=args.peak_gflops, torch=extra.get("eager-f32"), rows=rows,
                           raw={f"{k[0]}/{k[1]}": v for k, v in cells.items()}), f, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
