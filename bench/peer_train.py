#!/usr/bin/env python3
"""The Python peer of an `arena train` run: transformers + PEFT (+ bitsandbytes NF4) trains the same
preference classifier on the same micro-batches, so only the training code differs.

It replays a finished arena run directory written with `train.log_batches = true`:
  config.toml    LoRA rank/alpha/dropout/targets/layers, lr, schedule, AdamW, clipping, labels
  tokens.h5      the token ids of every row (arena's encodings: template, head+tail truncation)
  split.json     the row ids of the train / val / test splits
  batches.jsonl  every optimizer step's micro-batches, per rank, as row ids
Each optimizer step runs every rank's micro-batches in one process, sums the per-row losses,
divides the gradients by the step's row count (as arena's all-reduce does), clips, and steps
AdamW under transformers' own warmup + decay schedule. The model is the same GGUF loaded by
transformers (AutoModelForSequenceClassification), its decoder projections quantized to NF4 by
bitsandbytes (double quantization) when --quant nf4, and LoRA from PEFT (task SEQ_CLS: the head
trains in full) starting from the run's initial_adapter/ (arena's own initial A matrices and head,
B = 0, loaded with PeftModel.from_pretrained), so the first step's loss is arena's. On CUDA the non-quantized weights
stay fp32 and the step runs under bf16 autocast (the QLoRA recipe as the Trainer runs it with
bf16=True); on the CPU everything is fp32, as arena computes there.

The transformers Trainer is not used on purpose: it would draw its own batches. The loop below is
the Trainer's step (forward, mean cross-entropy, backward, clip, AdamW, scheduler) on arena's.

Prints progress on stderr and writes one JSON object (curve, val/test metrics, times, memory) to
--json (default: stdout). --run-dir DIR also writes DIR as a run directory `arena report` reads:
metrics.jsonl with arena's record kinds (start, train, eval, summary), and the replayed run's
config.toml and split.json, so `arena report ARENA_RUN DIR` overlays the two sides' curves."""
import argparse
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

import h5py
import numpy as np
import torch


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="arena run directory trained with train.log_batches = true")
    ap.add_argument("--model", required=True, help="the GGUF the arena run loaded")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--quant", choices=["auto", "nf4", "none"], default="auto",
                    help="auto: nf4 when the arena run froze its base in NF4 (model.nf4)")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation (Gemma-3 has no attention soft-cap)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads on the CPU (0: torch's default)")
    ap.add_argument("--seed", type=int, default=-1, help="dropout seed, and head/LoRA init when the run has no "
                    "initial_adapter/ (-1: the run's train.seed)")
    ap.add_argument("--json", default="-", help="where the result goes (- = stdout)")
    ap.add_argument("--run-dir", default="", help="also write a run directory for `arena report` here")
    return ap.parse_args()


def fail(msg):
    sys.exit(f"peer_train.py: error: {msg}")


def read_run(run):
    for name in ("config.toml", "tokens.h5", "split.json", "batches.jsonl"):
        if not os.path.exists(os.path.join(run, name)):
            hint = " (train with --train.log_batches true)" if name == "batches.jsonl" else ""
            fail(f"{os.path.join(run, name)}: missing{hint}")
    with open(os.path.join(run, "config.toml"), "rb") as f:
        cfg = tomllib.load(f)
    with h5py.File(os.path.join(run, "tokens.h5"), "r") as h:
        ids, offsets, labels = h["ids"][:], h["offsets"][:], h["labels"][:]
        raw, raw_off = h["row_ids"][:].tobytes(), h["row_id_offsets"][:]
    rows = {}
    for k in range(len(labels)):
        rid = raw[raw_off[k]:raw_off[k + 1]].decode()
        if rid in rows:
            fail(f"{run}/tokens.h5: row id '{rid}' appears twice")
        rows[rid] = (ids[offsets[k]:offsets[k + 1]].astype(np.int64), int(labels[k]))
    with open(os.path.join(run, "split.json")) as f:
        split = json.load(f)
    steps = {}
    with open(os.path.join(run, "batches.jsonl")) as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                fail(f"{run}/batches.jsonl:{n}: {e}")
            steps[rec["step"]] = rec  # a resumed run logs the step it resumed at again: the last one counts
    if any(r.endswith("#swapped") for rec in steps.values() for per_rank in rec["ranks"] for mb in per_rank for r in mb):
        fail(f"{run}: trained with train.swap (rows '<id>#swapped'): the replay has no swapped encodings")
    order = sorted(steps)
    if order != list(range(1, len(order) + 1)):
        fail(f"{run}/batches.jsonl: steps are not 1..N")
    for part in split.values():
        missing = [r for r in part if r not in rows]
        if missing:
            fail(f"{run}/split.json: row '{missing[0]}' is not in tokens.h5 ({len(missing)} such rows)")
    return cfg, rows, split, [steps[s] for s in order]


def collate(rows, ids, device):
    longest = max(len(rows[r][0]) for r in ids)
    x = torch.zeros(len(ids), longest, dtype=torch.long)
    mask = torch.zeros(len(ids), longest, dtype=torch.long)
    y = torch.empty(len(ids), dtype=torch.long)
    for i, r in enumerate(ids):
        t, label = rows[r]
        x[i, :len(t)] = torch.from_numpy(t)
        mask[i, :len(t)] = 1
        y[i] = label
    return x.to(device), mask.to(device), y.to(device)


def load_model(a, cfg, device, quant):
    from transformers import AutoModelForSequenceClassification, BitsAndBytesConfig
    num_labels = cfg["model"]["num_labels"]
    directory, name = os.path.split(os.path.abspath(a.model))
    kw = dict(num_labels=num_labels, dtype=torch.float32, attn_implementation=a.attn)
    model = AutoModelForSequenceClassification.from_pretrained(directory, gguf_file=name, **kw)
    if quant == "nf4":  # users load a checkpoint in 4 bits: save the dequantized GGUF, load it with bitsandbytes
        tmp = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        try:
            # save_pretrained refuses a model loaded from GGUF: write its weights and config directly
            from safetensors.torch import save_file
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(tmp, "model.safetensors"),
                      metadata={"format": "pt"})
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config  # the GGUF's; bitsandbytes quantizes the copy
            model.config.save_pretrained(tmp)
            del model
            compute = torch.bfloat16 if device.type == "cuda" else torch.float32
            q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=compute)
            model = AutoModelForSequenceClassification.from_pretrained(tmp, quantization_config=q,
                                                                       device_map={"": 0 if device.type == "cuda" else "cpu"}, **kw)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        model = model.to(device)
    model.config.pad_token_id = 0  # arena right-pads with id 0; the head reads the last non-pad token
    with torch.no_grad():  # a new head, drawn as arena draws its own
        model.score.weight.normal_(0.0, 0.02)
    return model


def add_lora(model, cfg, run):
    from peft import LoraConfig, PeftModel, get_peft_model
    initial = os.path.join(run, "initial_adapter")
    if os.path.isdir(initial):  # arena's own starting point: the same A matrices and head, B = 0
        return PeftModel.from_pretrained(model, initial, is_trainable=True)
    lora = cfg["lora"]
    layers = model.config.num_hidden_layers
    last = lora["last_layer"] if lora["last_layer"] >= 0 else layers - 1
    config = LoraConfig(task_type="SEQ_CLS", r=lora["rank"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                        target_modules=list(lora["targets"]), layers_to_transform=list(range(lora["first_layer"], last + 1)),
                        use_rslora=lora["rslora"], bias="none")
    return get_peft_model(model, config)


def schedule(optimizer, optim, total):
    from transformers import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                              get_linear_schedule_with_warmup)
    warmup = optim["warmup_steps"] if optim["warmup_steps"] >= 0 else math.ceil(optim["warmup_ratio"] * total)
    if optim["decay"] == "linear":
        return get_linear_schedule_with_warmup(optimizer, warmup, total), warmup
    if optim["decay"] == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, warmup, total), warmup
    return get_constant_schedule_with_warmup(optimizer, warmup), warmup


def evaluate(model, rows, part, batch_rows, device, autocast):
    model.eval()
    order = sorted(part, key=lambda r: len(rows[r][0]))
    n = correct = 0
    losses = []
    with torch.no_grad(), autocast():
        for start in range(0, len(order), batch_rows):
            x, mask, y = collate(rows, order[start:start + batch_rows], device)
            logp = torch.log_softmax(model(input_ids=x, attention_mask=mask).logits.float(), -1).double()
            keep = y >= 0
            p = logp[keep].exp().clamp(1e-15, 1 - 1e-15)
            losses += (-p.log().gather(1, y[keep, None])).squeeze(1).tolist()
            correct += int((logp[keep].argmax(-1) == y[keep]).sum())
            n += int(keep.sum())
    model.train()
    mean = sum(losses) / max(n, 1)
    var = sum((v - mean) ** 2 for v in losses) / max(n - 1, 1)
    return {"n": n, "accuracy": correct / max(n, 1), "log_loss": mean, "log_loss_se": math.sqrt(var / max(n, 1))}


def write_run_dir(run_dir, replayed, out, total):
    """The peer's curve and evaluations as arena's metrics.jsonl records, beside the replayed run's
    config.toml and split.json (the same data and split), for `arena report`."""
    os.makedirs(run_dir, exist_ok=True)
    for name in ("config.toml", "split.json"):
        shutil.copy(os.path.join(replayed, name), os.path.join(run_dir, name))
    records = [{"kind": "start", "impl": out["impl"], "device": out["device"], "total_steps": total}]
    # Only the whole loop is timed: every step gets the loop's mean rate.
    rate = sum(c["tokens"] for c in out["curve"]) / max(out["train_seconds"], 1e-9)
    for c in out["curve"]:
        records.append({"kind": "train", **c, "tokens_per_s": rate})
    for e in out["evals"]:
        records.append({"kind": "eval", **e})
    records.append({"kind": "summary", "steps": total, "test_accuracy": out["test"]["accuracy"],
                    "test_log_loss": out["test"]["log_loss"], "train_seconds": out["train_seconds"]})
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def write_json(out, dest):
    """One JSON object on one line, to stdout ("-") or to the file `dest`."""
    text = json.dumps(out)
    if dest == "-":
        print(text)
    else:
        with open(dest, "w") as f:
            f.write(text + "\n")


def main():
    a = parse()
    t_start = time.perf_counter()
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg, rows, split, steps = read_run(a.run)
    device = torch.device("cuda" if a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available()) else "cpu")
    quant = a.quant if a.quant != "auto" else ("nf4" if cfg["model"]["nf4"] else "none")
    seed = cfg["train"]["seed"] if a.seed < 0 else a.seed
    torch.manual_seed(seed)

    import peft
    import transformers
    model = add_lora(load_model(a, cfg, device, quant), cfg, a.run)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    load_s = time.perf_counter() - t_start
    trainable = [p for p in model.parameters() if p.requires_grad]
    optim = cfg["optim"]
    head_lr = optim.get("head_lr", -1)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [p for n, p in named if ".score." not in n or head_lr < 0]},
              {"params": [p for n, p in named if ".score." in n and head_lr >= 0], "lr": head_lr}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=optim["lr"],
                                  betas=(optim["beta1"], optim["beta2"]), eps=optim["eps"],
                                  weight_decay=optim["weight_decay"])
    scheduler, warmup = schedule(optimizer, optim, len(steps))

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    print(f"peer: transformers {transformers.__version__}, peft {peft.__version__}, torch {torch.__version__}, "
          f"{device}, base {quant}, {sum(p.numel() for p in trainable)} trainable, {len(steps)} steps "
          f"({warmup} warmup), load {load_s:.1f} s", file=sys.stderr)
    curve, evals = [], []
    model.train()
    t_train = time.perf_counter()
    epoch = steps[0]["epoch"]
    for rec in steps:
        if rec["epoch"] != epoch:  # arena validates at each epoch's end (train.eval_every = 0)
            if cfg["train"]["eval_every"] == 0:
                evals.append({"split": "val", "step": rec["step"] - 1,
                              **evaluate(model, rows, split["val"], cfg["batch"]["eval_rows"], device, autocast)})
            epoch = rec["epoch"]
        n_rows = sum(len(mb) for per_rank in rec["ranks"] for mb in per_rank)
        loss_sum, correct, tokens = 0.0, 0, 0
        for per_rank in rec["ranks"]:
            for mb in per_rank:
                x, mask, y = collate(rows, mb, device)
                with autocast():
                    logits = model(input_ids=x, attention_mask=mask).logits.float()
                loss = torch.nn.functional.cross_entropy(logits, y)
                (loss * len(mb)).backward()
                loss_sum += loss.item() * len(mb)
                correct += int((logits.argmax(-1) == y).sum())
                tokens += int(mask.sum())
        for p in trainable:
            if p.grad is not None:
                p.grad.div_(n_rows)
        gnorm = torch.nn.utils.clip_grad_norm_(trainable, optim["max_grad_norm"] if optim["max_grad_norm"] > 0 else
                                               float("inf")).item()
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        curve.append({"step": rec["step"], "epoch": rec["epoch"], "loss": loss_sum / n_rows,
                      "accuracy": correct / n_rows, "lr": lr, "grad_norm": gnorm, "rows": n_rows, "tokens": tokens})
        if rec["step"] % max(1, cfg["train"]["log_every"]) == 0 or rec["step"] == len(steps):
            rate = sum(c["tokens"] for c in curve) / (time.perf_counter() - t_train)
            eta = (time.perf_counter() - t_train) / rec["step"] * (len(steps) - rec["step"])
            print(f"peer step {rec['step']}/{len(steps)} ep {rec['epoch']} | loss {loss_sum / n_rows:.4f} "
                  f"acc {correct / n_rows:.3f} | lr {lr:.2e} gnorm {gnorm:.3f} | {rate:.0f} tok/s | ETA {eta:.0f} s",
                  file=sys.stderr)
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t_train
    t_eval = time.perf_counter()
    val = evaluate(model, rows, split["val"], cfg["batch"]["eval_rows"], device, autocast)
    test = evaluate(model, rows, split["test"], cfg["batch"]["eval_rows"], device, autocast)
    eval_s = time.perf_counter() - t_eval
    evals += [{"split": "val", "step": len(steps), **val}, {"split": "test", "step": len(steps), **test}]
    for name, r in (("val ", val), ("test", test)):
        print(f"peer {name} accuracy {r['accuracy']:.4f} ± {1.96 * math.sqrt(r['accuracy'] * (1 - r['accuracy']) / r['n']):.4f}, "
              f"log loss {r['log_loss']:.4f} ± {1.96 * r['log_loss_se']:.4f} (n {r['n']})", file=sys.stderr)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out = {"impl": f"transformers {transformers.__version__} + peft {peft.__version__}"
                   + (" + bitsandbytes NF4" if quant == "nf4" else " (dense fp32 base)"),
           "device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
           "load_seconds": load_s, "train_seconds": train_s, "eval_seconds": eval_s,
           "total_seconds": time.perf_counter() - t_start,
           "peak_memory_mib": peak, "peak_memory_kind": "cuda allocated" if device.type == "cuda" else "process RSS",
           "curve": curve, "evals": evals, "test": test, "val": val}
    if a.run_dir:
        write_run_dir(a.run_dir, a.run, out, len(steps))
    write_json(out, a.json)


if __name__ == "__main__":
    main()
