#!/usr/bin/env python3
"""The reference GPT of speedcert (evaluator/src/model.rs) in PyTorch, timed the way
evaluator/examples/throughput.rs times burn's, for a side-by-side tokens/s comparison.

Architecture (identical shapes and initialisation): token embedding (N(0, 1)); RMSNorm
without weight (eps 1e-6) before every block, on q and k (QK-norm), before the head and
after the embedding; rotary encoding on the two halves of each head (theta 10000);
causal scaled-dot-product attention; ReLU^2 MLP of 4x width; untied head; no biases;
qkv and mlp_in initialised N(0, fan_in^-0.5), attn_out, mlp_out and the head zero.
The loss is cross-entropy in f32. Optimizer: AdamW, betas (0.9, 0.95), eps 1e-8, the
track's weight decay, the trapezoid learning rate of submission/reference.rs; fused
AdamW on CUDA. Every step draws a fresh batch of random tokens on the host and copies it
to the device, and reads the loss back (as the burn reference step does).

Modes:
  eager-f32       fp32 everywhere, TF32 off
  tf32            fp32 parameters, TF32 tensor-core matmuls
  bf16-autocast   fp32 parameters, bf16 autocast (mixed precision)
  compile-bf16    torch.compile of the model (loss included) under bf16 autocast
  compile-f32     torch.compile of the model (loss included) in fp32 (the CPU column)

Output: a JSON report with the same row fields as the Rust benchmark.

  python3 bench/throughput/torch_ref.py --modes bf16-autocast,compile-bf16 \
      --batch 8,16,32 --seq 1024 --steps 20 --warmup 5 --json --out torch.json
"""

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import sys
import threading
import time

MODES = ("eager-f32", "tf32", "bf16-autocast", "compile-bf16", "compile-f32")
H100_BF16_DENSE_TFLOPS = 989.0

# GPT-2 small on the synthetic-gpt2-1xh100 track (records/tracks/synthetic-gpt2-1xh100.toml).
DEFAULT_SHAPE = dict(n_layer=12, d_model=768, n_head=12, vocab_size=50304)
RECIPE = dict(learning_rate=0.001, warmup_steps=100, steps=2400, cooldown_frac=0.3,
              weight_decay=0.0, beta1=0.9, beta2=0.95)


def num_params(n_layer, d_model, vocab_size, mlp_ratio=4):
    """GptConfig::num_params: embedding + head + per-layer qkv, out, mlp."""
    d = d_model
    return 2 * vocab_size * d + n_layer * (4 * d * d + 2 * mlp_ratio * d * d)


def train_flops_per_token(n_layer, d_model, vocab_size, seq_len, mlp_ratio=4):
    """GptConfig::train_flops_per_token: 6 N + 6 L T d."""
    return 6.0 * num_params(n_layer, d_model, vocab_size, mlp_ratio) + 6.0 * n_layer * seq_len * d_model


def learning_rate(step, r=RECIPE):
    """submission/reference.rs learning_rate: warmup, flat, linear cooldown."""
    steps, peak = r["steps"], r["learning_rate"]
    if step < r["warmup_steps"]:
        return peak * (step + 1) / r["warmup_steps"]
    start = steps * (1.0 - r["cooldown_frac"])
    if step < start or r["cooldown_frac"] == 0.0:
        return peak
    return peak * min(max((steps - step) / (steps - start), 0.0), 1.0)


def build(torch, shape, seq_len):
    nn = torch.nn
    F = torch.nn.functional

    def rms_norm(x):
        return F.rms_norm(x, (x.size(-1),), eps=1e-6)

    def linear(i, o, zero):
        lin = nn.Linear(i, o, bias=False)
        with torch.no_grad():
            if zero:
                lin.weight.zero_()
            else:
                lin.weight.normal_(0.0, i ** -0.5)
        return lin

    class Rope(nn.Module):
        def __init__(self, seq, head_dim, theta=10000.0):
            super().__init__()
            half = head_dim // 2
            freq = theta ** (-(2.0 * torch.arange(half, dtype=torch.float64)) / head_dim)
            angle = torch.arange(seq, dtype=torch.float64)[:, None] * freq[None, :]
            self.register_buffer("cos", angle.cos().float(), persistent=False)
            self.register_buffer("sin", angle.sin().float(), persistent=False)

        def forward(self, x):  # [b, h, t, hd]
            t, half = x.size(2), x.size(3) // 2
            cos, sin = self.cos[:t].to(x.dtype), self.sin[:t].to(x.dtype)
            x1, x2 = x[..., :half], x[..., half:]
            return torch.cat([x1 * cos + x2 * sin, x2 * cos - x1 * sin], dim=-1)

    class Block(nn.Module):
        def __init__(self, d, h, ratio=4):
            super().__init__()
            self.h = h
            self.qkv = linear(d, 3 * d, zero=False)
            self.attn_out = linear(d, d, zero=True)
            self.mlp_in = linear(d, ratio * d, zero=False)
            self.mlp_out = linear(ratio * d, d, zero=True)

        def forward(self, x, rope):
            b, t, d = x.shape
            h, hd = self.h, d // self.h
            qkv = self.qkv(rms_norm(x)).view(b, t, 3, h, hd).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            q, k = rope(rms_norm(q)), rope(rms_norm(k))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.attn_out(y.transpose(1, 2).reshape(b, t, d))
            m = F.relu(self.mlp_in(rms_norm(x))).square()
            return x + self.mlp_out(m)

    class Gpt(nn.Module):
        def __init__(self, n_layer, d_model, n_head, vocab_size):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, d_model)
            with torch.no_grad():
                self.embed.weight.normal_(0.0, 1.0)
            self.blocks = nn.ModuleList(Block(d_model, n_head) for _ in range(n_layer))
            self.head = linear(d_model, vocab_size, zero=True)
            self.rope = Rope(seq_len, d_model // n_head)

        def forward(self, tokens, targets):
            x = rms_norm(self.embed(tokens))
            for block in self.blocks:
                x = block(x, self.rope)
            logits = self.head(rms_norm(x))
            # targets is a strided slice of the step's token buffer: reshape, not view.
            return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1))

    return Gpt(**shape)


class NvmlPeak:
    """Highest device memory used (MiB) seen by NVML every 100 ms, like the Rust sampler."""

    def __init__(self, index=0):
        self.peak = None
        self._stop = threading.Event()
        try:
            import pynvml  # nvidia-ml-py
            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # no NVML: fall back to torch's numbers only
            self._nvml = None
        self._thread = None

    def _read(self):
        used = self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used // (1024 * 1024)
        self.peak = used if self.peak is None else max(self.peak, used)

    def _loop(self):
        while not self._stop.wait(0.1):
            self._read()

    def __enter__(self):
        if self._nvml is not None:
            self._read()
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._read()
        return False


def bench(torch, mode, batch, args, shape):
    cuda = args.device == "cuda"
    dev = torch.device(args.device)
    row = dict(framework="pytorch", mode=mode, computed_in={
        "eager-f32": "f32", "tf32": "tf32", "bf16-autocast": "bf16 (autocast, f32 master weights)",
        "compile-bf16": "bf16 (autocast, f32 master weights)", "compile-f32": "f32"}[mode],
        device=args.device, batch=batch, seq=args.seq, steps=args.steps, warmup=args.warmup,
        status="ok", error=None, tokens_per_step=batch * args.seq, step_ms_median=None,
        step_ms_min=None, step_ms_max=None, tokens_per_s=None, achieved_tflops=None, mfu=None,
        peak_memory_mib=None, torch_max_allocated_mib=None, torch_max_reserved_mib=None,
        throttled=None, last_loss=None, phases_ms=None)
    tf32 = mode not in ("eager-f32", "compile-f32")
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    autocast = mode in ("bf16-autocast", "compile-bf16")
    torch.manual_seed(args.seed)
    model = None
    try:
        model = build(torch, shape, args.seq).to(dev)
        step_fn = torch.compile(model) if mode.startswith("compile-") else model
        opt = torch.optim.AdamW(model.parameters(), lr=RECIPE["learning_rate"],
                                betas=(RECIPE["beta1"], RECIPE["beta2"]), eps=1e-8,
                                weight_decay=RECIPE["weight_decay"], fused=cuda)
        gen = torch.Generator().manual_seed(args.seed)
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        times = []
        with NvmlPeak() as mem:
            for step in range(args.warmup + args.steps):
                host = torch.randint(0, shape["vocab_size"], (batch, args.seq + 1), generator=gen,
                                     dtype=torch.int64)
                if cuda:
                    host = host.pin_memory()
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                buf = host.to(dev, non_blocking=True)
                inputs, targets = buf[:, :-1], buf[:, 1:]
                for group in opt.param_groups:
                    group["lr"] = learning_rate(step)
                with torch.autocast(device_type=args.device, dtype=torch.bfloat16, enabled=autocast):
                    loss = step_fn(inputs, targets)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                loss_value = loss.item()
                if cuda:
                    torch.cuda.synchronize()
                if step >= args.warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
                row["last_loss"] = loss_value
        med = statistics.median(times)
        tok_s = batch * args.seq / (med / 1e3)
        tflops = tok_s * train_flops_per_token(shape["n_layer"], shape["d_model"],
                                               shape["vocab_size"], args.seq) / 1e12
        row.update(step_ms_median=med, step_ms_min=min(times), step_ms_max=max(times),
                   tokens_per_s=tok_s, achieved_tflops=tflops,
                   mfu=(tflops / args.peak_tflops) if args.peak_tflops else None,
                   peak_memory_mib=mem.peak)
        if cuda:
            row["torch_max_allocated_mib"] = torch.cuda.max_memory_allocated() // (1024 * 1024)
            row["torch_max_reserved_mib"] = torch.cuda.max_memory_reserved() // (1024 * 1024)
        if not math.isfinite(row["last_loss"]):
            row.update(status="failed", error=f"loss is {row['last_loss']}")
    except Exception as e:  # OOM or a compile failure: report it and go on
        row.update(status="failed", error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    finally:
        del model
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    return row


def table(report):
    lines = [f"pytorch {report['torch_version']} reference step · {report['model']}",
             f"{'mode':<14} {'batch':>5}  {'step median':>12}  {'tokens/s':>12}  {'TFLOP/s':>9}  {'MFU':>6}  {'peak mem':>10}  note"]
    for r in report["results"]:
        f = lambda v, fmt: "-" if v is None else fmt.format(v)
        lines.append(f"{r['mode']:<14} {r['batch']:>5}  {f(r['step_ms_median'], '{:.2f} ms'):>12}  "
                     f"{f(r['tokens_per_s'], '{:.0f}'):>12}  {f(r['achieved_tflops'], '{:.1f}'):>9}  "
                     f"{f(r['mfu'] and r['mfu'] * 100, '{:.1f}%'):>6}  {f(r['peak_memory_mib'], '{} MiB'):>10}  "
                     f"{('FAILED: ' + r['error']) if r['error'] else ''}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--batch", default="8,16,32")
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--layers", type=int)
    p.add_argument("--d-model", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--vocab", type=int)
    p.add_argument("--peak-tflops", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch.set_num_threads (CPU runs; default: torch's)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out")
    args = p.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            p.error(f"unknown mode {m}; modes: {', '.join(MODES)}")
    if args.peak_tflops is None and args.device == "cuda":
        args.peak_tflops = H100_BF16_DENSE_TFLOPS
    shape = dict(DEFAULT_SHAPE)
    for key, val in (("n_layer", args.layers), ("d_model", args.d_model), ("n_head", args.heads),
                     ("vocab_size", args.vocab)):
        if val is not None:
            shape[key] = val

    import torch  # imported late so --help and py_compile work without torch
    if args.threads:
        torch.set_num_threads(args.threads)

    results = []
    for mode in modes:
        for batch in [int(b) for b in args.batch.split(",") if b]:
            row = bench(torch, mode, batch, args, shape)
            print(f"{mode} batch {batch}: "
                  + (f"{row['tokens_per_s']:.0f} tokens/s" if row["tokens_per_s"] else f"failed: {row['error']}"),
                  file=sys.stderr, flush=True)
            results.append(row)
    gpu = torch.cuda.get_device_name(0) if args.device == "cuda" and torch.cuda.is_available() else None
    report = dict(
        schema="speedcert/bench-throughput/v1", framework="pytorch",
        started_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        command=[sys.executable] + sys.argv, torch_version=torch.__version__,
        cuda_version=torch.version.cuda, python=platform.python_version(),
        model=dict(shape, seq_len=args.seq, params=num_params(shape["n_layer"], shape["d_model"], shape["vocab_size"]),
                   train_flops_per_token=train_flops_per_token(shape["n_layer"], shape["d_model"],
                                                               shape["vocab_size"], args.seq)),
        peak_tflops=args.peak_tflops, env=dict(gpu=gpu, hostname=platform.node()),
        optimizer="AdamW(fused)" if args.device == "cuda" else "AdamW",
        threads=torch.get_num_threads(), results=results)
    text = json.dumps(report, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text if args.json else table(report))
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
