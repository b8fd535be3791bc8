#!/usr/bin/env python3
"""The peer of bench_gemma2_cpu: transformers' Gemma2ForSequenceClassification (eager attention,
the soft-capped path) timed the same way on CPU. Writes the shared config.json with --write-config.
Prints one JSON line."""
import argparse
import json
import statistics
import time

import torch
from transformers import Gemma2Config, Gemma2ForSequenceClassification

BENCH_CONFIG = dict(vocab_size=8192, hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                    num_attention_heads=4, num_key_value_heads=2, head_dim=64, query_pre_attn_scalar=64,
                    sliding_window=128, num_labels=2, pad_token_id=0)


def median_ms(warmup, steps, fn):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-config", help="write the benchmark config.json here and exit")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    args = ap.parse_args()

    config = Gemma2Config(attn_implementation="eager", **BENCH_CONFIG)
    if args.write_config:
        config.to_json_file(args.write_config)
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    model = Gemma2ForSequenceClassification(config).to(dtype)
    ids = torch.randint(1, config.vocab_size, (args.batch, args.seq))
    mask = torch.ones_like(ids)
    labels = torch.randint(0, config.num_labels, (args.batch,))

    def forward():
        with torch.no_grad():
            model(input_ids=ids, attention_mask=mask)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()

    fwd = median_ms(args.warmup, args.steps, forward)
    fwd_bwd = median_ms(args.warmup, args.steps, forward_backward)
    print(json.dumps({"impl": "transformers", "forward_ms": fwd, "forward_backward_ms": fwd_bwd,
                      "batch": args.batch, "seq": args.seq, "threads": args.threads, "dtype": args.dtype,
                      "tokens_per_s_train": 1000.0 * args.batch * args.seq / fwd_bwd}))


if __name__ == "__main__":
    main()
