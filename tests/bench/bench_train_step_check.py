"""Runs bench_train_step on a tiny CPU shape in its set-ups and checks what each reports.

The trainer's (the default): adapters and head in fp32 (4 bytes per trainable value) read through
bf16 copies cast once per update, AdamW on one flat bucket. --no-compute-copies: the same, but each
tensor cast at every use and its gradient cast back, more aten:: calls for the same loss. The
benchmark before 2026-12-05 (--adapter-dtype compute --optimizer torch): bf16 adapters (2 bytes),
torch::optim::AdamW per tensor.
Usage: bench_train_step_check.py BENCH_TRAIN_STEP
"""
import json
import math
import subprocess
import sys

TINY = ["--device", "cpu", "--dtype", "bf16", "--layers", "3", "--hidden", "64", "--intermediate", "128",
        "--heads", "2", "--kv-heads", "1", "--head-dim", "32", "--vocab", "512", "--first-lora-layer", "1",
        "--rank", "4", "--batch", "2", "--seq", "16", "--steps", "2", "--warmup", "1", "--threads", "1",
        "--profile", "--json"]


def run(bench, extra):
    out = subprocess.run([bench, *TINY, *extra], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"{bench} {' '.join(extra)}: exit {out.returncode}\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    bench = sys.argv[1]
    trainer = run(bench, [])
    casting = run(bench, ["--no-compute-copies"])
    before = run(bench, ["--adapter-dtype", "compute", "--optimizer", "torch"])
    for r in (trainer, before):
        assert r["trainable_values"] > 0 and math.isfinite(r["step_ms"]), r
    assert trainer["optimizer"] == "bucket" and trainer["adapter_dtype"] == "fp32", trainer
    assert trainer["trainable_bytes"] == 4 * trainer["trainable_values"], trainer
    assert trainer["compute_copies"] and not casting["compute_copies"] and not before["compute_copies"]
    assert before["optimizer"] == "torch" and before["adapter_dtype"] == "compute", before
    assert before["trainable_bytes"] == 2 * before["trainable_values"], before
    assert trainer["trainable_values"] == before["trainable_values"]
    calls_trainer, calls_before = trainer["split"]["aten_calls"], before["split"]["aten_calls"]
    assert 0 < calls_trainer, trainer
    calls_casting = casting["split"]["aten_calls"]
    assert calls_trainer < calls_casting, (calls_trainer, calls_casting)
    frequent = trainer["split"]["frequent"]  # [name, count, ms], most frequent first
    assert frequent and all(f[0].startswith("aten::") for f in frequent), frequent
    assert [f[1] for f in frequent] == sorted((f[1] for f in frequent), reverse=True), frequent
    print(f"aten:: calls per step: trainer's set-up {calls_trainer}, casting at every use {calls_casting}, "
          f"before {calls_before}")


if __name__ == "__main__":
    main()
