#!/usr/bin/env python3
"""The peer of bench_train_step: the same QLoRA training step with the Python stack people use,
transformers Gemma2ForSequenceClassification (eager attention by default: SDPA drops Gemma-2's
soft-cap; --attn flash_attention_2 runs FlashAttention-2 with its soft-capping, where installed) +
PEFT LoRA + bitsandbytes NF4 (double quant, compute in the model dtype), random weights built from
the config (nothing is downloaded), same shape, sequence length, batch, accumulation, LoRA targets
and layers, and per-layer gradient checkpointing when ours recomputes.

The random model is built on the device, saved to a temporary folder (in /dev/shm when it
exists) and loaded back with BitsAndBytesConfig, the way users load a checkpoint in 4 bits.
Prints a few lines and, with --json, one JSON line last. Options mirror bench_train_step's."""
import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import torch

GEMMA2_2B = dict(vocab_size=256000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                 num_attention_heads=8, num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256,
                 attn_logit_softcapping=50.0, final_logit_softcapping=30.0, sliding_window=4096,
                 rms_norm_eps=1e-6, rope_theta=10000.0, hidden_activation="gelu_pytorch_tanh", num_labels=2,
                 pad_token_id=0)
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build_parser(description=__doc__):
    """The options of bench_train_step that the peers share (bench/peer_unsloth_step.py adds its own)."""
    ap = argparse.ArgumentParser(description=description)
    for name, key in [("layers", "num_hidden_layers"), ("hidden", "hidden_size"),
                      ("intermediate", "intermediate_size"), ("heads", "num_attention_heads"),
                      ("kv-heads", "num_key_value_heads"), ("head-dim", "head_dim"), ("vocab", "vocab_size")]:
        ap.add_argument("--" + name, type=int, default=0, help=f"{key} (0: Gemma-2-2B's)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--accum", type=int, default=1)
    ap.add_argument("--seq", type=int, default=1900)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--first-lora-layer", type=int, default=6)
    ap.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    ap.add_argument("--no-recompute", action="store_true", help="no gradient checkpointing")
    ap.add_argument("--quant", choices=["auto", "nf4", "none"], default="auto",
                    help="auto: NF4 through bitsandbytes on CUDA, a dense frozen base on CPU")
    ap.add_argument("--prepare-kbit", action="store_true",
                    help="call peft.prepare_model_for_kbit_training (casts the non-quantized weights to fp32)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--json", action="store_true")
    # Options of bench_train_step that have no meaning here are accepted and ignored.
    ap.add_argument("--attention", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    return ap


def parse():
    ap = build_parser()
    ap.add_argument("--attn", choices=["eager", "flash_attention_2", "sdpa"], default="eager",
                    help="transformers' attention: eager (soft-capped), flash_attention_2 (FlashAttention-2, "
                         "soft-capped; needs the flash_attn package: tools/build_flash_attn_wheel.sh), "
                         "sdpa (drops the soft-cap: not the same job)")
    return ap.parse_args()


def gemma2_config(a):
    """The model config as a dict (Gemma-2-2B's, with the shape options applied), and the first LoRA layer."""
    cfg = dict(GEMMA2_2B)
    for name, key in [("layers", "num_hidden_layers"), ("hidden", "hidden_size"),
                      ("intermediate", "intermediate_size"), ("heads", "num_attention_heads"),
                      ("kv_heads", "num_key_value_heads"), ("head_dim", "head_dim"), ("vocab", "vocab_size")]:
        if getattr(a, name) > 0:
            cfg[key] = getattr(a, name)
    if a.head_dim > 0:
        cfg["query_pre_attn_scalar"] = a.head_dim
    layers = cfg["num_hidden_layers"]
    cfg["layer_types"] = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(layers)]
    first = a.first_lora_layer if a.first_lora_layer < layers else 0
    return cfg, first


def model_flops(cfg, a):
    """(model, hardware) FLOPs per step, the definitions of bench_train_step.cpp (model_flops): model
    = forward + input gradient of the frozen projections and attention (MFU, the LoRA convention);
    hardware = that plus the recomputation forward (HFU)."""
    h, q = cfg["hidden_size"], cfg["num_attention_heads"] * cfg["head_dim"]
    kv, m, layers = cfg["num_key_value_heads"] * cfg["head_dim"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    linear = 2.0 * layers * (h * q + 2 * h * kv + q * h + 3 * h * m)
    attention = layers * 2.0 * a.seq * a.seq * q
    tokens, seqs = a.batch * a.accum * a.seq, a.batch * a.accum
    model = tokens * linear * 2.0 + seqs * attention * 3.0
    return model, model + (0.0 if a.no_recompute else tokens * linear + seqs * attention)


def torch_setup(a):
    """Threads and seed as the options say; returns (cuda, device, dtype). Shared with the Unsloth peer."""
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cuda = a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", 0) if cuda else torch.device("cpu")
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    return cuda, device, dtype


def random_batches(cfg, a, device):
    """a.accum micro-batches of random token ids and labels, no padding: (ids, labels, mask)."""
    ids = [torch.randint(1, cfg["vocab_size"], (a.batch, a.seq), device=device) for _ in range(a.accum)]
    labels = [torch.randint(0, 2, (a.batch,), device=device) for _ in range(a.accum)]
    mask = torch.ones(a.batch, a.seq, dtype=torch.long, device=device)
    return ids, labels, mask


def make_step(model, optimizer, batches, a, autocast_dtype=None):
    """One optimizer step over the micro-batches (each loss / accum, then backward), under CUDA
    autocast to autocast_dtype when given. Returns (step, last): last["loss"] is the last
    micro-batch's loss of the latest step."""
    ids, labels, mask = batches
    last = {"loss": 0.0}

    def step():
        for i in range(a.accum):
            cast = (torch.autocast("cuda", dtype=autocast_dtype) if autocast_dtype is not None
                    else contextlib.nullcontext())
            with cast:
                out = model(input_ids=ids[i], attention_mask=mask, labels=labels[i])
            (out.loss / a.accum).backward()
            if i + 1 == a.accum:
                last["loss"] = out.loss.item()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, last


def time_steps(step, a, cuda):
    """a.warmup untimed steps, then a.steps timed ones, synchronized on CUDA (whose peak memory
    counters restart after the warmup). Returns (warmup seconds, step times in ms)."""
    def sync():
        if cuda:
            torch.cuda.synchronize()

    t_warm = time.perf_counter()
    for _ in range(a.warmup):
        step()
    sync()
    warmup_s = time.perf_counter() - t_warm
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(a.steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return warmup_s, times


def speed(cfg, a, times):
    """The median step and its rates (the JSON fields), and the two lines both peers print."""
    step_ms = statistics.median(times)
    tokens = a.batch * a.accum * a.seq
    flops, hardware_flops = model_flops(cfg, a)
    tflops = flops / (step_ms / 1e3) / 1e12
    hfu = hardware_flops / (step_ms / 1e3) / 1e12 / a.peak_tflops
    lines = [f"  step median {step_ms:.1f} ms (min {min(times):.1f}, max {max(times):.1f}, {len(times)} steps) = "
             f"{tokens / (step_ms / 1e3):.0f} tokens/s",
             f"  model FLOPs {flops / 1e12:.2f} TFLOP/step -> {tflops:.1f} TFLOP/s = "
             f"{100 * tflops / a.peak_tflops:.1f}% MFU of {a.peak_tflops:.0f}; with recomputation "
             f"{hardware_flops / 1e12:.2f} TFLOP/step = {100 * hfu:.1f}% HFU"]
    return {"step_ms": step_ms, "tokens_per_s": tokens / (step_ms / 1e3), "tflops": tflops,
            "mfu": tflops / a.peak_tflops, "hfu": hfu}, lines


def main():
    a = parse()
    cuda, device, dtype = torch_setup(a)
    quant = a.quant if a.quant != "auto" else ("nf4" if cuda else "none")

    import transformers
    import peft
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import Gemma2Config, Gemma2ForSequenceClassification

    cfg, first = gemma2_config(a)
    layers = cfg["num_hidden_layers"]
    config = Gemma2Config(attn_implementation=a.attn, **cfg)

    t_build = time.perf_counter()
    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}
    if a.attn == "flash_attention_2":
        import flash_attn  # a clear ImportError here, before anything is built
        versions["flash_attn"] = flash_attn.__version__
    with torch.device(device):
        model = Gemma2ForSequenceClassification(config).to(dtype)
    if quant == "nf4":
        import bitsandbytes as bnb
        from transformers import BitsAndBytesConfig
        versions["bitsandbytes"] = bnb.__version__
        root = "/dev/shm" if os.path.isdir("/dev/shm") else None
        tmp = tempfile.mkdtemp(prefix="peer-gemma2-", dir=root)
        try:
            model.save_pretrained(tmp)
            del model
            if cuda:
                torch.cuda.empty_cache()
            bnb_config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                            bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)
            model = Gemma2ForSequenceClassification.from_pretrained(
                tmp, quantization_config=bnb_config, dtype=dtype, attn_implementation=a.attn,
                device_map={"": device.index if cuda else "cpu"})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    recompute = not a.no_recompute
    if a.prepare_kbit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=recompute,
                                                gradient_checkpointing_kwargs={"use_reentrant": False})
    elif recompute:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    lora = LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.05, target_modules=TARGETS,
                      layers_to_transform=list(range(first, layers)), task_type="SEQ_CLS", bias="none")
    model = get_peft_model(model, lora)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    trainable_values = sum(p.numel() for p in trainable)
    trainable_bytes = sum(p.numel() * p.element_size() for p in trainable)
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    if cuda:
        torch.cuda.synchronize()
    build_s = time.perf_counter() - t_build

    step, last = make_step(model, optimizer, random_batches(cfg, a, device), a)
    _, times = time_steps(step, a, cuda)
    rates, speed_lines = speed(cfg, a, times)
    peak_alloc = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
    peak_reserved = torch.cuda.max_memory_reserved() / 2**30 if cuda else 0.0

    print(f"peer train step ({' + '.join(f'{k} {v}' for k, v in versions.items())}): {layers} layers, hidden "
          f"{cfg['hidden_size']}, {a.batch}x{a.seq} tokens x {a.accum} accum, {device}, {a.dtype}, "
          f"base {quant}, checkpointing {'on' if recompute else 'off'}, {a.attn} attention, LoRA r={a.rank} on layers "
          f"{first}..{layers - 1}{', prepare_model_for_kbit_training' if a.prepare_kbit else ''}")
    print(f"  build {build_s:.1f} s; trainable {len(trainable)} tensors, {trainable_values} values, "
          f"{trainable_bytes / 1e6:.1f} MB; last loss {last['loss']:.4f}")
    print("\n".join(speed_lines))
    if cuda:
        print(f"  peak memory: allocated {peak_alloc:.2f} GiB, reserved {peak_reserved:.2f} GiB")
    if a.json:
        print(json.dumps({"impl": "transformers+peft" + ("+bnb" if quant == "nf4" else ""), "device": str(device),
                          "versions": versions, "layers": layers, "hidden": cfg["hidden_size"], "batch": a.batch,
                          "accum": a.accum, "seq": a.seq, "dtype": a.dtype, "quant": quant,
                          "recompute": recompute, "prepare_kbit": a.prepare_kbit, "lora_rank": a.rank,
                          "attention": a.attn, "attention_softcap": a.attn != "sdpa",
                          **rates, "peak_allocated_gib": peak_alloc,
                          "peak_reserved_gib": peak_reserved, "trainable_values": trainable_values,
                          "trainable_bytes": trainable_bytes}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
