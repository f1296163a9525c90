#!/usr/bin/env python3
"""PyTorch side of the parity check (evaluator/examples/parity.rs): the model of
torch_ref.py with every parameter and the token batch filled from the same splitmix64
hash, AdamW at a fixed learning rate, the loss before each step and after the last.
The defaults are speedcert::parity's ParitySettings::default(). With --burn (or
--burn-bin) it compares against the Rust report and exits 1 when a loss differs by more
than --tol (relative); that is what makes the throughput columns the same computation.
Without --burn, --json prints the report that evaluator/testdata/parity/torch-cpu-f32.json
holds (the CI test's reference).

  cargo run --release -p speedcert --example parity -- --json > burn.json
  python3 bench/throughput/parity.py --burn burn.json
  python3 bench/throughput/parity.py --burn-bin target/release/examples/parity --device cuda
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

def splitmix64(np, x):
    """parity.rs splitmix64 on a uint64 array (numpy wraps on overflow, as Rust's wrapping ops)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hashed(np, tag, rows, cols, std):
    """parity.rs hashed(): a [rows, cols] float32 matrix (PyTorch's layout) of std `std`."""
    index = np.arange(rows * cols, dtype=np.uint64)
    z = splitmix64(np, np.uint64(tag << 40) ^ index)
    unit = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53) * 2.0 - 1.0
    return (unit * (std * 3.0 ** 0.5)).astype(np.float32).reshape(rows, cols)


def hashed_tokens(np, batch, seq, vocab):
    index = np.arange(batch * (seq + 1), dtype=np.uint64)
    z = splitmix64(np, np.uint64(0xFFFF << 40) ^ index)
    return (z % np.uint64(vocab)).astype(np.int64).reshape(batch, seq + 1)


def run(args):
    import numpy as np
    import torch
    from torch_ref import build

    shape = dict(n_layer=args.layers, d_model=args.d_model, n_head=args.heads, vocab_size=args.vocab)
    dev = torch.device(args.device)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model = build(torch, shape, args.seq)
    # Tags in the order parity.rs numbers the parameters.
    d, hidden = args.d_model, 4 * args.d_model
    with torch.no_grad():
        model.embed.weight.copy_(torch.from_numpy(hashed(np, 0, args.vocab, d, 1.0)))
        tag = 1
        for block in model.blocks:
            for lin, (out, inp) in ((block.qkv, (3 * d, d)), (block.attn_out, (d, d)),
                                    (block.mlp_in, (hidden, d)), (block.mlp_out, (d, hidden))):
                lin.weight.copy_(torch.from_numpy(hashed(np, tag, out, inp, inp ** -0.5)))
                tag += 1
        model.head.weight.copy_(torch.from_numpy(hashed(np, tag, args.vocab, d, d ** -0.5)))
    model = model.to(dev)
    tokens = torch.from_numpy(hashed_tokens(np, args.batch, args.seq, args.vocab)).to(dev)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(args.beta1, args.beta2),
                            eps=1e-8, weight_decay=args.weight_decay)
    autocast = args.precision == "bf16"
    losses = []
    for _ in range(args.steps):
        with torch.autocast(device_type=args.device, dtype=torch.bfloat16, enabled=autocast):
            loss = model(inputs, targets)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    with torch.no_grad(), torch.autocast(device_type=args.device, dtype=torch.bfloat16, enabled=autocast):
        losses.append(model(inputs, targets).item())
    return dict(schema="speedcert/bench-parity/v1", framework="pytorch", device=args.device,
                computed_in=args.precision, torch_version=torch.__version__, n_layer=args.layers,
                d_model=args.d_model, n_head=args.heads, vocab_size=args.vocab, seq_len=args.seq,
                batch=args.batch, steps=args.steps, lr=args.lr, weight_decay=args.weight_decay, beta1=args.beta1,
                beta2=args.beta2, losses=losses)


def run_burn(p, args):
    """Runs the parity example with this invocation's settings; returns its report's path."""
    import subprocess
    import tempfile

    out = os.path.join(tempfile.mkdtemp(prefix="parity-"), "burn.json")
    cmd = [args.burn_bin, "--device", args.device, "--precision", args.precision or "f32",
           "--layers", str(args.layers), "--d-model", str(args.d_model), "--heads", str(args.heads),
           "--vocab", str(args.vocab), "--seq", str(args.seq), "--batch", str(args.batch),
           "--steps", str(args.steps), "--lr", repr(args.lr), "--weight-decay", repr(args.weight_decay),
           "--out", out]
    try:
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        p.error(f"{args.burn_bin}: cannot run it ({e.strerror})")
    if done.returncode != 0:
        p.error(f"{args.burn_bin} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return out


SETTINGS = ("n_layer", "d_model", "n_head", "vocab_size", "seq_len", "batch", "steps", "lr",
            "weight_decay", "beta1", "beta2")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--burn", help="the parity example's JSON report: take its settings and compare")
    p.add_argument("--burn-bin", help="or run this parity example binary (same --device, "
                   "--precision and shape flags) and compare with its report")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", choices=["f32", "bf16"],
                   help="default: what the burn report computed in, else f32")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--seq", type=int, default=32)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.95)
    p.add_argument("--tol", type=float, default=1e-4,
                   help="largest relative loss difference accepted (f32 default; bf16 needs ~2e-2)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="also write the JSON result here")
    args = p.parse_args(argv)
    if args.burn and args.burn_bin:
        p.error("give --burn or --burn-bin, not both")
    if args.burn_bin:
        args.burn = run_burn(p, args)

    burn = None
    if args.burn:
        try:
            with open(args.burn) as f:
                burn = json.load(f)
            args.layers, args.d_model, args.heads = burn["n_layer"], burn["d_model"], burn["n_head"]
            args.vocab, args.seq, args.batch = burn["vocab_size"], burn["seq_len"], burn["batch"]
            args.lr, args.weight_decay = burn["lr"], burn["weight_decay"]
            args.beta1, args.beta2 = burn["beta1"], burn["beta2"]
            args.steps = burn["steps"]
            if args.precision is None:
                args.precision = burn["computed_in"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            p.error(f"{args.burn}: not a parity report ({type(e).__name__}: {e})")

    if args.precision is None:
        args.precision = "f32"
    torch_report = run(args)
    if burn is None:
        print(json.dumps(torch_report, indent=2) if args.json else
              "\n".join(f"{i} {v:.7f}" for i, v in enumerate(torch_report["losses"])))
        return 0

    rows = []
    worst = 0.0
    for step, (b, t) in enumerate(zip(burn["losses"], torch_report["losses"])):
        rel = abs(b - t) / max(abs(t), 1e-12)
        worst = max(worst, rel)
        rows.append(dict(step=step, burn=b, torch=t, abs_diff=abs(b - t), rel_diff=rel))
    ok = worst <= args.tol
    result = dict(settings={k: burn[k] for k in SETTINGS}, burn_device=burn.get("device"),
                  torch_device=args.device, torch_version=torch_report["torch_version"],
                  tol=args.tol, max_rel_diff=worst, passed=ok, steps=rows)
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if args.json:
        print(text)
    else:
        print(f"parity: burn ({burn.get('device')}, {burn.get('computed_in')}) against "
              f"torch {torch_report['torch_version']} ({args.device}, {args.precision})")
        print(f"{'step':>4}  {'burn':>12}  {'torch':>12}  {'rel diff':>9}")
        for r in rows:
            print(f"{r['step']:>4}  {r['burn']:>12.7f}  {r['torch']:>12.7f}  {r['rel_diff']:>9.1e}")
        print(f"largest relative difference {worst:.1e} (tolerance {args.tol:.0e}): "
              + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
