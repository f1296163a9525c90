#!/usr/bin/env python3
"""Reference for the audit benchmark: the straightforward Python way to audit the
speedrun's logs, in one run.

Walks RECORDS_DIR (records/track_1_short of a modded-nanogpt checkout), reads every
.txt/.log file line by line, takes the final validation loss and train time (the
`step:N/N val_loss:X train_time:Tms` line), the PyTorch version and the GPU count,
groups runs by record folder and subfolder (and step count), and prints one CSV row
per group with n, mean and sd of loss and time. Standard library only, so it runs on
any python3; speedcert-audit does this and more (claims, t-tests, bootstrap).

    python3 bench/audit/audit_ref.py RECORDS_DIR > groups.csv
"""

import csv
import os
import re
import statistics
import sys

STEP = re.compile(r"^step:(\d+)/(\d+) (.*)$")
TORCH = re.compile(r"^Running pytorch (\S+)", re.IGNORECASE)
GPU_ROW = re.compile(r"^\|\s+\d+\s+NVIDIA ")


def parse(path):
    final_loss = final_time = torch = None
    gpus = 0
    total = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = STEP.match(line)
            if m:
                step, total = int(m.group(1)), int(m.group(2))
                fields = dict(kv.split(":", 1) for kv in m.group(3).split() if ":" in kv)
                if "val_loss" in fields and step == total:
                    final_loss = float(fields["val_loss"])
                    t = fields.get("train_time", "")
                    final_time = float(t[:-2]) if t.endswith("ms") else None
                continue
            if GPU_ROW.match(line):
                gpus += 1
                continue
            m = TORCH.match(line)
            if m and torch is None:
                torch = m.group(1)
    return final_loss, final_time, total, gpus, torch


def main():
    root = sys.argv[1]
    groups = {}
    problems = 0
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if not (name.endswith(".txt") or name.endswith(".log")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(dirpath, root)
            record, _, sub = rel.partition(os.sep)
            loss, time_ms, total, gpus, torch = parse(path)
            if loss is None:
                problems += 1
                continue
            groups.setdefault((record, sub, total, gpus), []).append((loss, time_ms, torch))
    w = csv.writer(sys.stdout)
    w.writerow(["record", "folder", "steps", "gpus", "n", "loss_mean", "loss_sd",
                "time_mean_ms", "time_sd_ms", "torch"])
    for (record, sub, total, gpus), runs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        losses = [r[0] for r in runs]
        times = [r[1] for r in runs if r[1] is not None]
        sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else ""
        w.writerow([record, sub, total, gpus, len(runs),
                    statistics.fmean(losses), sd(losses),
                    statistics.fmean(times) if times else "", sd(times) if times else "",
                    ";".join(sorted({r[2] or "?" for r in runs}))])
    print(f"# {sum(len(v) for v in groups.values())} finished runs, {problems} files without "
          f"a final validation", file=sys.stderr)


if __name__ == "__main__":
    main()
