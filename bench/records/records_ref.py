"""Reference for bench/records/records_bench.rs: the same table work in pandas.

Usage: records_ref.py RUNS_CSV REPS  -> prints one JSON object (times and checksums).

Steps (identical to the Rust side): parse runs.csv; per (track, bundle) over candidate
runs: n ok, mean / sd (ddof 1) / min train time and mean loss of the ok runs, first
submission and verdict, latest date; keep verdict == "new record", sort by (track,
date, bundle), improvement = previous record's mean - this mean within the track;
frontier per track over the official candidate runs that finished with a time and a
final loss (baseline, failed and unofficial runs never on it): sort them by (track,
time, loss) and keep each run whose loss is below every loss seen before it in its
track.
"""

import json
import platform
import sys
import time

import pandas as pd


def once(path, phases):
    t0 = time.perf_counter()
    runs = pd.read_csv(
        path, dtype={"track": str, "bundle": str, "date": str, "verdict": str, "official": bool}
    )
    t1 = time.perf_counter()
    cand = runs[runs["role"] == "candidate"]
    ok = cand[cand["status"] == "ok"]
    g = ok.groupby(["track", "bundle"], sort=False)
    stats = g.agg(
        n=("train_time_ms", "size"),
        time_mean_ms=("train_time_ms", "mean"),
        time_sd_ms=("train_time_ms", "std"),
        time_min_ms=("train_time_ms", "min"),
        loss_mean=("final_val_loss", "mean"),
    )
    meta = cand.groupby(["track", "bundle"], sort=False).agg(
        submission=("submission", "first"), verdict=("verdict", "first"), date=("date", "max")
    )
    stats = meta.join(stats, how="left").reset_index()
    rec = stats[stats["verdict"] == "new record"].sort_values(["track", "date", "bundle"])
    prev = rec.groupby("track", sort=False)["time_mean_ms"].shift(1)
    rec = rec.assign(improvement_ms=prev - rec["time_mean_ms"])
    rec = rec.assign(improvement_pct=rec["improvement_ms"] / prev * 100.0)

    t2 = time.perf_counter()
    m = runs[
        (runs["role"] == "candidate")
        & (runs["status"] == "ok")
        & runs["official"]
        & runs["train_time_ms"].notna()
        & runs["final_val_loss"].notna()
    ]
    m = m.sort_values(["track", "train_time_ms", "final_val_loss"], kind="stable")
    best_before = m.groupby("track", sort=False)["final_val_loss"].cummin().groupby(m["track"]).shift(1)
    front = m[best_before.isna() | (m["final_val_loss"] < best_before)]
    t3 = time.perf_counter()
    phases.append(((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3))
    return {
        "bundles": int(len(meta)),
        "records": int(len(rec)),
        "improvement_sum_ms": float(rec["improvement_ms"].sum(skipna=True)),
        "frontier_points": int(len(front)),
        "frontier_loss_sum": float(front["final_val_loss"].sum()),
    }


def main():
    path, reps = sys.argv[1], int(sys.argv[2])
    warm = once(path, [])
    times = []
    phases = []
    for _ in range(reps):
        t0 = time.perf_counter()
        c = once(path, phases)
        times.append((time.perf_counter() - t0) * 1e3)
        assert c == warm
    times.sort()
    out = dict(warm)
    for i, name in enumerate(("parse_ms", "table_ms", "frontier_ms")):
        out[name] = sorted(p[i] for p in phases)[len(phases) // 2]
    out.update(
        median_ms=times[len(times) // 2],
        min_ms=times[0],
        max_ms=times[-1],
        pandas=pd.__version__,
        python=platform.python_version(),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
