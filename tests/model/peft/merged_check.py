#!/usr/bin/env python3
"""The merged export, loaded by transformers alone (no PEFT), gives our logits.

Reads what merged_export_check wrote into DIR (see its header) and loads DIR/merged with
AutoModelForSequenceClassification (eager attention):
  1. transformers on the merged bf16 weights, computing in fp32, equals arena on the same weights
     (merged_bf16) within 1e-4 of the largest logit: the file holds what we mean it to hold;
  2. the merged bf16 model against the trained one (NF4 base + LoRA): the cost of bf16 rounding,
     bounded by 2e-2 of the largest logit;
  3. the same merge re-quantized to NF4 (merged_nf4) against the trained one: reported, and it must
     cost more than bf16 (why the export merges into bf16, model/peft/merged_export.h);
  4. transformers computing in bf16 itself (how a user would run it): reported.
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

EXACT = 1e-4
BF16_BOUND = 2e-2


def rel(a, b):
    return ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()


def main(out_dir):
    ours = load_file(f"{out_dir}/ours.safetensors")
    path = f"{out_dir}/merged"
    model = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager")
    assert model.dtype == torch.bfloat16, f"config.json's dtype should make transformers load bf16, got {model.dtype}"
    # fp32 compute: load as fp32 (a bf16 load followed by .float() keeps buffers built in bf16).
    model32 = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager", dtype=torch.float32)
    ids, mask = ours["input_ids"], ours["attention_mask"]
    with torch.no_grad():
        fp32 = model32(input_ids=ids, attention_mask=mask).logits
        bf16 = model(input_ids=ids, attention_mask=mask).logits
    same = rel(fp32, ours["merged_bf16"])
    cost_bf16 = rel(fp32, ours["trained"])
    cost_nf4 = rel(ours["merged_nf4"], ours["trained"])
    run_bf16 = rel(bf16, ours["trained"])
    print(f"merged export ({type(model).__name__}): transformers vs arena on the same bf16 weights {same:.2e} "
          f"(bound {EXACT}); vs the trained model: merged into bf16 {cost_bf16:.2e} (bound {BF16_BOUND}), "
          f"re-quantized to NF4 {cost_nf4:.2e}; computing in bf16 {run_bf16:.2e}")
    if not (same <= EXACT and cost_bf16 <= BF16_BOUND and cost_nf4 > cost_bf16):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
