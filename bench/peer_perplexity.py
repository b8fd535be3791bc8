#!/usr/bin/env python3
"""transformers' side of bench/perplexity_vs_transformers.sh: the same job as `arena perplexity`
(load the GGUF, next-token loss of each text with <bos> first, fp32 on the CPU) with its load time,
peak memory and tokens/s, as one JSON line.
Usage: peer_perplexity.py GGUF TOKENIZER_MODEL TEXT... [--max-tokens N] [--threads N]
"""
import argparse
import json
import os
import resource
import time

import sentencepiece
import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("tokenizer")
    ap.add_argument("texts", nargs="+")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    sp = sentencepiece.SentencePieceProcessor(model_file=a.tokenizer)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(a.gguf)),
                                                 gguf_file=os.path.basename(a.gguf), dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    load_s = time.perf_counter() - t0
    tokens, nll, forward_s = 0, 0.0, 0.0
    for path in a.texts:
        with open(path) as f:
            ids = ([sp.bos_id()] + sp.encode(f.read()))[:a.max_tokens]
        x = torch.tensor([ids])
        t = time.perf_counter()
        with torch.no_grad():
            loss = model(input_ids=x, labels=x).loss.item()
        forward_s += time.perf_counter() - t
        tokens += len(ids) - 1
        nll += loss * (len(ids) - 1)
    print(json.dumps({"impl": "transformers", "tokens": tokens, "mean_nll": nll / tokens, "load_s": load_s,
                      "forward_s": forward_s, "tokens_per_s": (tokens + len(a.texts)) / forward_s,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
