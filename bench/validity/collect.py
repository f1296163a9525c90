#!/usr/bin/env python3
"""Collects interleaved run pairs on the test track for the validity benchmark
(bench/validity/README.md): each pair is one candidate and one baseline run, each its own
`speedcert-adversarial run` process as certify runs them, in an order drawn per pair.

Pools (appended to OUT/POOL.jsonl, one pair per line, so an interrupted collection
continues where it stopped):
  null        reference against reference (the false-record rate)
  slow-P      delayed-reference against itself with P% of the reference's median training
              time more delay (the power curves); the delay is calibrated once, from 20
              reference runs, and recorded in OUT/calibration.json

  python3 bench/validity/collect.py --bin target/debug/speedcert-adversarial \\
      --out bench/results/validity-raw --pool null --pairs 5000
  python3 bench/validity/collect.py ... --pool slow-3 --pairs 2000

--load drift collects on a shared machine: a background load whose level (one process
per core, busy 0%, 30%, 60% or 90% of every 2 ms) changes every 5 to 30 s, slower than a
pair (about 1 s on an idle machine), as a certifier sharing its node with other jobs, or
a GPU drifting with its temperature, sees. Every change is logged to OUT/load.log. The calibration is then
measured under that load too.

--load share collects on one core shared with another job: every run is pinned to the
machine's last core, and so is a busy process whose nice level (off, 19, 10, 5 or 0: the
run keeps about 100%, 99%, 90%, 75% or 50% of the core) is redrawn every 10 to 40 s and
logged to OUT/load.log. The collector keeps to the other cores. The run has one core, so
the CPU backend trains on one thread: no worker threads to fall asleep in a spin, and a
share of the core that slows a run evenly, where the drift load's duty cycles also made
every run noisier.
"""

import argparse
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRACK = os.path.join(HERE, "..", "..", "tests", "tracks", "test-tiny.toml")
STEPS = 40  # test-tiny's reference.steps


# The cores a run may use: all, or under --load share only the shared one (set by main).
RUN_CORES = None


def run(binary, submission, seed, delay_us=0):
    env = dict(os.environ, SPEEDCERT_TEST_STEP_DELAY_US=str(delay_us))
    pin = (lambda: os.sched_setaffinity(0, RUN_CORES)) if RUN_CORES else None
    out = subprocess.run(
        [binary, "run", "--track", TRACK, "--submission", submission, "--seed", str(seed), "--json"],
        capture_output=True, text=True, env=env, preexec_fn=pin)
    if out.returncode != 0:
        sys.exit(f"{submission} seed {seed} failed: {out.stderr.strip()[-400:]}")
    r = json.loads(out.stdout)
    if r.get("status") != "ok":
        sys.exit(f"{submission} seed {seed}: {r.get('failure')}")
    return r["train_time_ms"]


def calibrate(binary, out_dir, runs=20):
    path = os.path.join(out_dir, "calibration.json")
    if os.path.exists(path):
        return json.load(open(path))
    times = [run(binary, "reference", 10_000_000 + i) for i in range(runs)]
    cal = dict(reference_median_ms=statistics.median(times), runs=runs, steps=STEPS,
               times_ms=times, at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    json.dump(cal, open(path, "w"), indent=1)
    return cal


LEVELS = [0.0, 0.3, 0.6, 0.9]  # the drift load's duty cycles
PERIOD_S = 0.002


def duty(level):
    """Busy for `level` of every 2 ms, asleep for the rest: a fine-grained share of a core,
    which slows a run evenly rather than stalling it for whole time slices."""
    while True:
        until = time.perf_counter() + level * PERIOD_S
        while time.perf_counter() < until:
            pass
        time.sleep((1 - level) * PERIOD_S)


def drift(log_path, stop):
    """Changes the machine's load every 5 to 30 s until `stop` is set: one process per
    core at a duty cycle drawn from LEVELS, each change logged with its time."""
    rng = random.SystemRandom()
    workers = []
    try:
        with open(log_path, "a") as log:
            while not stop.is_set():
                level = rng.choice(LEVELS)
                for w in workers:
                    w.terminate()
                workers = [multiprocessing.Process(target=duty, args=(level,))
                           for _ in range(os.cpu_count() if level > 0 else 0)]
                for w in workers:
                    w.start()
                hold = rng.uniform(5, 30)
                log.write(json.dumps(dict(at=time.time(), level=level, hold_s=round(hold, 1))) + "\n")
                log.flush()
                stop.wait(hold)
    finally:
        for w in workers:
            w.terminate()


SHARE_NICE = [None, 19, 10, 5, 0]  # the share load's levels (None: no competing process)


def busy(core, nice):
    """Spins on `core` at `nice` for ever: a job sharing that core, which the scheduler
    gives a share set by its nice level."""
    os.sched_setaffinity(0, {core})
    os.nice(nice)
    while True:
        pass


def share(core, log_path, stop):
    """Changes the competing job on `core` every 10 to 40 s until `stop` is set, each
    change logged with its time."""
    rng = random.SystemRandom()
    worker = None
    try:
        with open(log_path, "a") as log:
            while not stop.is_set():
                nice = rng.choice(SHARE_NICE)
                if worker:
                    worker.terminate()
                    worker.join()
                    worker = None
                if nice is not None:
                    worker = multiprocessing.Process(target=busy, args=(core, nice))
                    worker.start()
                hold = rng.uniform(10, 40)
                log.write(json.dumps(dict(at=time.time(), load="share", core=core, nice=nice,
                                          hold_s=round(hold, 1))) + "\n")
                log.flush()
                stop.wait(hold)
    finally:
        if worker:
            worker.terminate()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True, help="target/<profile>/speedcert-adversarial")
    p.add_argument("--out", required=True, help="folder of the pools")
    p.add_argument("--pool", required=True,
                   help="null or slow-P (P in percent), or several separated by commas, collected in turn")
    p.add_argument("--pairs", type=int, required=True, help="pairs the pool should hold")
    p.add_argument("--load", choices=["none", "drift", "share"], default="none",
                   help="drift: a background load on every core that changes every 5-30 s; "
                        "share: runs on one core, shared with a job whose priority changes every 10-40 s")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    # A stop by `timeout` or kill still stops the load below (its processes are not ours
    # to leave running).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    loader = None
    if args.load != "none":
        stop = multiprocessing.Event()
        log = os.path.join(args.out, "load.log")
        if args.load == "drift":
            loader = multiprocessing.Process(target=drift, args=(log, stop))
        else:
            cores = sorted(os.sched_getaffinity(0))
            if len(cores) < 2:
                sys.exit("--load share needs two cores: one shared by the runs and the load, one for the collector")
            global RUN_CORES
            RUN_CORES = {cores[-1]}
            loader = multiprocessing.Process(target=share, args=(cores[-1], log, stop))
            os.sched_setaffinity(0, set(cores[:-1]))
        loader.start()
    try:
        collect(args)
    finally:
        if loader:
            stop.set()
            loader.join(5)
            if loader.is_alive():
                loader.terminate()


# A slow pool's candidate spins too, this long per step, and its baseline this plus the
# pool's delay. A pause of the main thread lets the CPU backend's worker threads fall
# asleep, and waking them costs a scheduler latency at the next step, which on a loaded
# machine is far larger than the spin (2026-12-02: a 3% spin slowed a run by 11.7%).
# With both arms paused, that cost is in both and the difference is the delay alone.
BASE_DELAY_US = 500


def pool_setup(args, pool):
    """The candidate and baseline submissions of `pool`, their per-step delays, and the
    slow-down asked."""
    if pool == "null":
        return ("reference", 0), ("reference", 0), 0.0
    if pool.startswith("slow-"):
        pct = float(pool[5:])
        cal = calibrate(args.bin, args.out)
        delay = round(pct / 100 * cal["reference_median_ms"] * 1000 / STEPS)
        return (("delayed-reference", BASE_DELAY_US),
                ("delayed-reference", BASE_DELAY_US + delay), pct)
    sys.exit(f"--pool {pool}: expected null or slow-P")


def collect(args):
    """Collects every pool of --pool (comma-separated) up to --pairs, one pair of each in
    turn, so that pools collected together see the same machine."""
    pools = args.pool.split(",")
    setups = {pool: pool_setup(args, pool) for pool in pools}
    paths = {pool: os.path.join(args.out, f"{pool}.jsonl") for pool in pools}
    have = {pool: sum(1 for _ in open(p)) if os.path.exists(p) else 0 for pool, p in paths.items()}
    files = {pool: open(p, "a") for pool, p in paths.items()}
    rng = random.SystemRandom()
    start, done = time.time(), 0
    while any(have[pool] < args.pairs for pool in pools):
        for pool in pools:
            k = have[pool]
            if k >= args.pairs:
                continue
            (cand, cand_delay), (baseline, delay_us), pct = setups[pool]
            seeds = (rng.getrandbits(63), rng.getrandbits(63))
            cand_first = rng.random() < 0.5
            if cand_first:
                c = run(args.bin, cand, seeds[0], cand_delay)
                b = run(args.bin, baseline, seeds[1], delay_us)
            else:
                b = run(args.bin, baseline, seeds[1], delay_us)
                c = run(args.bin, cand, seeds[0], cand_delay)
            files[pool].write(json.dumps(dict(pair=k, candidate_ms=c, baseline_ms=b, candidate_first=cand_first,
                                              slowdown_pct=pct, candidate_delay_us=cand_delay, delay_us=delay_us,
                                              at=round(time.time(), 1))) + "\n")
            files[pool].flush()
            have[pool] += 1
            done += 1
            if have[pool] % 50 == 0:
                rate = done / (time.time() - start)
                print(f"{pool}: {have[pool]}/{args.pairs} pairs ({rate:.2f} pairs/s over all pools)", file=sys.stderr)

if __name__ == "__main__":
    main()
