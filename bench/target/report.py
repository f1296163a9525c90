"""Summarises `speedcert run` folders (run.json, steps.csv, gpu.csv) of bench/target/run.sh:
time to target, training tokens/s, MFU, peak GPU memory against the memory plan, and the
validation curve, which is what calibrating a track's ESTIMATE target needs."""

import argparse
import csv
import json
import os
import sys
import tomllib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "throughput"))
from torch_ref import H100_BF16_DENSE_TFLOPS, train_flops_per_token  # noqa: E402

MIB = 1 << 20


def peak_gpu_mib(folder):
    """Largest memory_used_mib that NVML reported during the run, over all GPUs."""
    path = os.path.join(folder, "gpu.csv")
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        used = [float(r["memory_used_mib"]) for r in csv.DictReader(f) if r.get("memory_used_mib")]
    return max(used) if used else None


def track_model(name):
    """The [model] table of records/tracks/NAME.toml (run.json names the track, not its shape)."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "records", "tracks", f"{name}.toml")
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as f:
        return tomllib.load(f).get("model", {})


def summarise(folder):
    with open(os.path.join(folder, "run.json")) as f:
        run = json.load(f)
    with open(os.path.join(folder, "steps.csv"), newline="") as f:
        steps = list(csv.DictReader(f))
    curve = [(int(r["step"]), float(r["train_time_ms"]), float(r["val_loss"]))
             for r in steps if r.get("val_loss")]
    model = track_model(run["track"])
    tok_s = run.get("train_tokens_per_s")
    flops = None
    if model:
        flops = train_flops_per_token(model["n_layer"], model["d_model"], model["vocab_size"],
                                      model["seq_len"])
    mfu = tok_s * flops / (H100_BF16_DENSE_TFLOPS * 1e12) if tok_s and flops and run["device"] == "cuda" else None
    memory = run.get("memory") or {}
    plan = (memory.get("plan") or {}).get("total")
    peak = peak_gpu_mib(folder) if run["device"] == "cuda" else None
    if peak is None and memory.get("peak_bytes") is not None:
        peak = memory["peak_bytes"] / MIB
    return {
        "folder": folder,
        "seed": run["seed"],
        "status": run["status"],
        "failure": run.get("failure"),
        "steps": run["steps"],
        "reached_target": run["reached_target"],
        "target_val_loss": run["target_val_loss"],
        "final_val_loss": run.get("final_val_loss"),
        "time_to_target_s": run["time_to_target_ms"] / 1e3 if run.get("time_to_target_ms") else None,
        "train_time_s": run["train_time_ms"] / 1e3,
        "tokens_per_s": tok_s,
        "flops_per_token": flops,
        "mfu": mfu,
        "plan_mib": plan / MIB if plan else None,
        "peak_mib": peak,
        "device_mib": memory["device_bytes"] / MIB if memory.get("device_bytes") else None,
        "curve": curve,
    }


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="*")
    ap.add_argument("--track", default="")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = [summarise(f) for f in args.folders]
    lines = [f"# {args.track}: time to target", "",
             "Peak memory: NVML's largest memory_used_mib (gpu.csv) on CUDA, the process's peak "
             "resident memory (run.json memory.peak_bytes) on the CPU. Plan: run.json "
             "memory.plan.total, the estimate the run was checked against.", "",
             "| seed | status | steps | target | final val loss | time to target | train time | tokens/s | MFU | peak memory | plan | device memory |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            r["seed"], r["status"] + (f" ({r['failure']})" if r["failure"] else ""), r["steps"],
            r["target_val_loss"], fmt(r["final_val_loss"], ".4f"),
            fmt(r["time_to_target_s"], ".1f") + (" s" if r["time_to_target_s"] else ""),
            fmt(r["train_time_s"], ".1f") + " s", fmt(r["tokens_per_s"], ",.0f"),
            fmt(r["mfu"] * 100 if r["mfu"] is not None else None, ".1f") + ("%" if r["mfu"] is not None else ""),
            fmt(r["peak_mib"], ",.0f") + " MiB", fmt(r["plan_mib"], ",.0f") + " MiB",
            fmt(r["device_mib"], ",.0f") + " MiB"))
    for r in rows:
        lines += ["", f"validation curve, seed {r['seed']} (step, training s, val loss):", ""]
        lines += [f"    {s:>6} {t / 1e3:>8.1f} {v:.4f}" for s, t, v in r["curve"]]
    if not rows:
        lines.append("\nno run finished: see run.log")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
