#!/usr/bin/env python3
"""Combines the throughput reports of evaluator/examples/throughput.rs (burn) and
bench/throughput/torch_ref.py (PyTorch) into one table: tokens/s per column, the ratio
of burn to each PyTorch column, MFU and peak GPU memory, and the issue's two goals.

  python3 bench/throughput/combine.py REPORT.json... --markdown table.md --json combined.json

Standard library only; reports that are missing or unreadable are listed, not fatal.
"""

import argparse
import json
import sys

TORCH_COLUMNS = ("eager-f32", "tf32", "bf16-autocast", "compile-bf16")
BURN_COLUMNS = ("bf16", "f32")


def load(paths):
    rows, meta, problems = [], [], []
    for path in paths:
        try:
            with open(path) as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            problems.append(f"{path}: {e}")
            continue
        meta.append(dict(path=path, framework=report.get("framework"), command=report.get("command"),
                         started_at=report.get("started_at"), model=report.get("model"),
                         torch_version=report.get("torch_version"),
                         gpu=_gpu_name(report)))
        rows.extend(report.get("results", []))
    return rows, meta, problems


def _gpu_name(report):
    env = report.get("env") or {}
    gpu = env.get("gpu")
    if isinstance(gpu, list):
        return gpu[0]["name"] if gpu else None
    return gpu


def column(row):
    return f"{'burn' if row['framework'] == 'burn' else 'torch'} {row['mode']}"


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def combine(rows):
    """{batch: {column: row}} for ok and failed rows alike (the last one wins)."""
    grid = {}
    for r in rows:
        grid.setdefault(r["batch"], {})[column(r)] = r
    return grid


def tok(grid, batch, col):
    r = grid.get(batch, {}).get(col)
    return r.get("tokens_per_s") if r and r.get("status") == "ok" else None


def markdown(rows, meta, problems):
    grid = combine(rows)
    batches = sorted(grid)
    cols = [f"burn {c}" for c in BURN_COLUMNS] + [f"torch {c}" for c in TORCH_COLUMNS]
    cols = [c for c in cols if any(c in grid[b] for b in batches)]
    out = ["## Tokens/s (median step)", "",
           "| batch | " + " | ".join(cols) + " |", "|---:|" + "---:|" * len(cols)]
    for b in batches:
        cells = []
        for c in cols:
            r = grid[b].get(c)
            if r is None:
                cells.append("")
            elif r.get("status") != "ok":
                cells.append("failed")
            else:
                cells.append(fmt(r["tokens_per_s"], ",.0f"))
        out.append(f"| {b} | " + " | ".join(cells) + " |")

    out += ["", "## burn / PyTorch (tokens/s ratio; above 1 means burn is faster)", ""]
    torch_cols = [f"torch {c}" for c in TORCH_COLUMNS if any(f"torch {c}" in grid[b] for b in batches)]
    header = ["batch"]
    pairs = []
    for bc in (f"burn {c}" for c in BURN_COLUMNS):
        if any(bc in grid[b] for b in batches):
            for tc in torch_cols:
                header.append(f"{bc} / {tc}")
                pairs.append((bc, tc))
    out += ["| " + " | ".join(header) + " |", "|---:|" + "---:|" * len(pairs)]
    for b in batches:
        cells = []
        for bc, tc in pairs:
            x, y = tok(grid, b, bc), tok(grid, b, tc)
            cells.append(fmt(x / y, ".2f") if x and y else "-")
        out.append(f"| {b} | " + " | ".join(cells) + " |")

    out += ["", "## Every configuration", "",
            "| column | batch | step median | tokens/s | TFLOP/s | MFU | peak GPU memory | throttled | note |",
            "|:---|---:|---:|---:|---:|---:|---:|:---:|:---|"]
    for r in sorted(rows, key=lambda r: (column(r), r["batch"])):
        note = r.get("error") or ""
        ph = r.get("phases_ms")
        if ph and not note:
            note = (f"fwd+loss {ph['forward_loss']:.1f} ms, bwd {ph['backward']:.1f} ms, "
                    f"optim {ph['optimizer']:.1f} ms")
        mfu = r.get("mfu")
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            column(r), r["batch"], fmt(r.get("step_ms_median"), ".2f") + (" ms" if r.get("step_ms_median") else ""),
            fmt(r.get("tokens_per_s"), ",.0f"), fmt(r.get("achieved_tflops"), ".1f"),
            fmt(mfu * 100 if mfu is not None else None, ".1f") + ("%" if mfu is not None else ""),
            fmt(r.get("peak_memory_mib"), "d") + (" MiB" if r.get("peak_memory_mib") is not None else ""),
            {True: "yes", False: "no", None: "-"}[r.get("throttled")], note.replace("|", "/")))

    out += ["", "## Goals (issue 4)", ""]
    for b in batches:
        bb, eager, comp = tok(grid, b, "burn bf16"), tok(grid, b, "torch bf16-autocast"), tok(grid, b, "torch compile-bf16")
        g1 = "not measured" if not (bb and eager) else (
            f"{'MET' if bb >= eager else 'MISSED'} ({bb / eager:.2f}x)")
        g2 = "not measured" if not (bb and comp) else (
            f"{'MET' if bb >= 0.7 * comp else 'MISSED'} ({bb / comp:.2f}x, goal 0.70x)")
        out.append(f"- batch {b}: burn bf16 >= PyTorch bf16 autocast: {g1}; "
                   f"burn bf16 >= 0.7 x torch.compile bf16: {g2}")

    out += ["", "## Sources", ""]
    for m in meta:
        out.append(f"- {m['framework']} ({m['path']}), {m['started_at']}, GPU {m['gpu']}"
                   + (f", torch {m['torch_version']}" if m.get("torch_version") else "")
                   + f": `{' '.join(m['command'] or [])}`")
    for p in problems:
        out.append(f"- unreadable: {p}")
    return "\n".join(out) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="*")
    p.add_argument("--markdown")
    p.add_argument("--json")
    args = p.parse_args(argv)
    rows, meta, problems = load(args.reports)
    text = markdown(rows, meta, problems)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(schema="speedcert/bench-throughput-combined/v1", sources=meta,
                           problems=problems, results=rows), f, indent=2)
            f.write("\n")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
