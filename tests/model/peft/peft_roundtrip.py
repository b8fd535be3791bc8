#!/usr/bin/env python3
"""Round trip: our exported adapter, loaded by PEFT itself, gives our logits.

Reads what peft_roundtrip_export wrote into DIR: the dense base (our NF4 weights dequantized),
our adapter export, and our logits. Loads the base with transformers'
AutoModelForSequenceClassification (Gemma2ForSequenceClassification or
Gemma3TextForSequenceClassification by its config; eager attention), applies the adapter with
PeftModel.from_pretrained, and compares logits. fp32 on both sides with the same weights:
only summation order differs, so the bound is 1e-4 relative to the largest logit.
"""
import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

TOLERANCE = 1e-4


def main(out_dir):
    ours = load_file(f"{out_dir}/ours.safetensors")
    base = AutoModelForSequenceClassification.from_pretrained(f"{out_dir}/base", attn_implementation="eager").float()
    model = PeftModel.from_pretrained(base, f"{out_dir}/adapter").eval()
    cfg = model.peft_config["default"]
    assert cfg.use_rslora and cfg.r == 8, cfg
    with torch.no_grad():
        logits = model(input_ids=ours["input_ids"], attention_mask=ours["attention_mask"]).logits
    err = ((logits - ours["logits"]).abs().max() / ours["logits"].abs().max()).item()
    # The adapter must matter: without it the logits move far beyond the tolerance.
    with model.disable_adapter(), torch.no_grad():
        plain = model(input_ids=ours["input_ids"], attention_mask=ours["attention_mask"]).logits
    effect = ((plain - ours["logits"]).abs().max() / ours["logits"].abs().max()).item()
    print(f"PEFT round trip ({type(base).__name__}): logits rel err {err:.3e} (bound {TOLERANCE}); adapter effect {effect:.3e}")
    if not (err <= TOLERANCE and effect > 100 * TOLERANCE):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
