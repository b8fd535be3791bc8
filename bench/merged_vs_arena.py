#!/usr/bin/env python3
"""A merged export (arena export --merged) run by transformers alone, against arena's own predictions.

Reads RUN_DIR/test_predictions.csv (arena's class probabilities on every test row at the end of
training) and RUN_DIR/tokens.h5 (the token ids arena trained and tested on), runs the test rows
through AutoModelForSequenceClassification.from_pretrained(MERGED_DIR) (bf16 as exported, or
--dtype float32), and prints how far its probabilities are from arena's: max and mean |dp|, the
share of rows with the same predicted class, and both accuracies. Nothing but transformers, torch
and h5py. Usage: merged_vs_arena.py RUN_DIR MERGED_DIR [--device cuda] [--dtype bfloat16|float32]
"""
import argparse
import csv
import json
import sys

import h5py
import torch
from transformers import AutoModelForSequenceClassification


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("merged_dir")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    with open(f"{a.run_dir}/test_predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    labels = [k for k in rows[0] if k.startswith("p_")]
    with h5py.File(f"{a.run_dir}/tokens.h5", "r") as h:
        ids, offsets = h["ids"][:], h["offsets"][:]
        rid_bytes, rid_off = h["row_ids"][:].tobytes(), h["row_id_offsets"][:]
    where = {rid_bytes[rid_off[k]:rid_off[k + 1]].decode(): k for k in range(len(rid_off) - 1)}
    missing = [r["row_id"] for r in rows if r["row_id"] not in where]
    if missing:
        sys.exit(f"{a.run_dir}/tokens.h5 lacks {len(missing)} test rows (e.g. {missing[0]}): not this run's cache")
    dtype = getattr(torch, a.dtype)
    model = AutoModelForSequenceClassification.from_pretrained(a.merged_dir, dtype=dtype,
                                                               attn_implementation="eager").to(a.device).eval()
    seqs = [torch.tensor(ids[offsets[where[r["row_id"]]]:offsets[where[r["row_id"]] + 1]], dtype=torch.long)
            for r in rows]
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    theirs = [None] * len(seqs)
    with torch.no_grad():
        for s in range(0, len(order), a.batch):
            batch = order[s:s + a.batch]
            n = max(len(seqs[i]) for i in batch)
            x = torch.zeros(len(batch), n, dtype=torch.long)
            m = torch.zeros(len(batch), n, dtype=torch.long)
            for j, i in enumerate(batch):
                x[j, :len(seqs[i])] = seqs[i]
                m[j, :len(seqs[i])] = 1
            p = torch.softmax(model(input_ids=x.to(a.device), attention_mask=m.to(a.device)).logits.float(), -1)
            for j, i in enumerate(batch):
                theirs[i] = p[j].cpu()
    ours = torch.tensor([[float(r[k]) for k in labels] for r in rows])
    theirs = torch.stack(theirs)
    gold = torch.tensor([int(r["label"]) for r in rows])
    dp = (theirs - ours).abs()
    keep = gold >= 0
    res = {"rows": len(rows), "max_abs_dp": dp.max().item(), "mean_abs_dp": dp.mean().item(),
           "same_prediction": (theirs.argmax(1) == ours.argmax(1)).float().mean().item(),
           "accuracy_arena": (ours.argmax(1)[keep] == gold[keep]).float().mean().item(),
           "accuracy_transformers_merged": (theirs.argmax(1)[keep] == gold[keep]).float().mean().item(),
           "model": type(model).__name__, "dtype": a.dtype, "device": a.device}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
