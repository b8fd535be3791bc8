#!/usr/bin/env python3
"""Inference throughput of the Python peer against `arena predict` (issue 20 part 5): transformers +
PEFT (+ bitsandbytes NF4) predicts the same rows with the same trained adapter.

Reads RUN_DIR/config.toml and RUN_DIR/tokens.h5 (the token ids arena made of every row of the
training file: template, head+tail truncation), loads the run's GGUF base as bench/peer_train.py
does (AutoModelForSequenceClassification with gguf_file=, its projections quantized to NF4 by
bitsandbytes with double quantization under --quant nf4), puts the adapter arena exported
(`arena export --out ADAPTER`, PEFT's format: LoRA and the trained head) on it with
PeftModel.from_pretrained, and runs every row through it in batches of the run's batch.eval_rows,
sorted by length as arena's inference sorts them. On CUDA the non-quantized weights stay fp32 under
bf16 autocast (as the peer trains); on the CPU everything is fp32, as arena computes there.

Prints the model time (one warm-up batch first, not timed), rows/s and tokens/s, and, given
--arena-csv (`arena predict --probabilities` on the same file), how far the two sides'
probabilities are apart on the common rows. Writes one JSON object to --json (default: stdout).
Usage: peer_predict.py RUN_DIR --model GGUF --adapter DIR [--arena-csv CSV] [--device cuda]"""
import argparse
import csv
import os
import sys
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

import h5py
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_train import load_model, write_json  # noqa: E402  the same base loading as the training peer


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="arena run directory with config.toml and tokens.h5")
    ap.add_argument("--model", required=True, help="the GGUF the run trained on")
    ap.add_argument("--adapter", required=True, help="the run's adapter: arena export --out DIR")
    ap.add_argument("--arena-csv", default="", help="arena predict --probabilities on the same file, to compare")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--quant", choices=["auto", "nf4", "none"], default="auto",
                    help="auto: NF4 when the run froze its base in NF4")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation (eager for Gemma-2's soft-cap)")
    ap.add_argument("--batch", type=int, default=0, help="rows per batch (0: the run's batch.eval_rows)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads on the CPU (0: torch's default)")
    ap.add_argument("--json", default="-", help="where the result goes (- = stdout)")
    return ap.parse_args()


def read_tokens(path):
    with h5py.File(path, "r") as h:
        ids, offsets = h["ids"][:], h["offsets"][:]
        names, name_offsets = h["row_ids"][:].tobytes(), h["row_id_offsets"][:]
    rows = [(names[name_offsets[k]:name_offsets[k + 1]].decode(), ids[offsets[k]:offsets[k + 1]])
            for k in range(len(offsets) - 1)]
    return rows


def main():
    a = parse()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cuda" if a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available()) else "cpu")
    with open(os.path.join(a.run, "config.toml"), "rb") as f:
        cfg = tomllib.load(f)
    quant = a.quant if a.quant != "auto" else ("nf4" if cfg["model"]["nf4"] else "none")
    batch = a.batch or cfg["batch"]["eval_rows"]
    rows = read_tokens(os.path.join(a.run, "tokens.h5"))

    from peft import PeftModel
    t0 = time.perf_counter()
    model = PeftModel.from_pretrained(load_model(a, cfg, device, quant), a.adapter).eval()
    load_s = time.perf_counter() - t0

    order = sorted(range(len(rows)), key=lambda k: len(rows[k][1]))
    batches = [order[s:s + batch] for s in range(0, len(order), batch)]

    def run(ks):
        longest = max(len(rows[k][1]) for k in ks)
        x = torch.zeros(len(ks), longest, dtype=torch.long)
        mask = torch.zeros(len(ks), longest, dtype=torch.long)
        for i, k in enumerate(ks):
            x[i, :len(rows[k][1])] = torch.from_numpy(rows[k][1].astype("int64"))
            mask[i, :len(rows[k][1])] = 1
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(input_ids=x.to(device), attention_mask=mask.to(device)).logits
        return torch.softmax(logits.float(), -1).cpu()

    run(batches[-1])  # warm-up on the longest batch: allocator, kernels, threads
    if device.type == "cuda":
        torch.cuda.synchronize()
    probs = {}
    t0 = time.perf_counter()
    for ks in batches:
        p = run(ks)
        for i, k in enumerate(ks):
            probs[rows[k][0]] = p[i]
    if device.type == "cuda":
        torch.cuda.synchronize()
    model_s = time.perf_counter() - t0
    tokens = sum(len(r[1]) for r in rows)
    out = {"impl": "transformers + PEFT" + (" + bitsandbytes NF4" if quant == "nf4" else " (dense fp32 base)"),
           "device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
           "rows": len(rows), "tokens": tokens, "batch_rows": batch, "load_seconds": load_s, "model_seconds": model_s,
           "rows_per_s": len(rows) / model_s, "tokens_per_s": tokens / model_s}

    if a.arena_csv:
        with open(a.arena_csv, newline="") as f:
            theirs = {r["id"]: r for r in csv.DictReader(f)}
        columns = [c for c in next(iter(theirs.values())) if c != "id"]
        common = [k for k in probs if k in theirs]
        if not common:
            sys.exit(f"{a.arena_csv}: no row id in common with {a.run}/tokens.h5")
        ours = torch.tensor([[float(theirs[k][c]) for c in columns] for k in common], dtype=torch.float64)
        peer = torch.stack([probs[k] for k in common]).double()
        if peer.shape != ours.shape:
            sys.exit(f"{a.arena_csv}: {ours.shape[1]} probability columns, the peer has {peer.shape[1]}")
        dp = (peer - ours).abs()
        out["vs_arena"] = {"common_rows": len(common), "max_abs_dp": dp.max().item(), "mean_abs_dp": dp.mean().item(),
                           "same_prediction": (peer.argmax(1) == ours.argmax(1)).double().mean().item()}

    write_json(out, a.json)


if __name__ == "__main__":
    main()
