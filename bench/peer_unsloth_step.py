#!/usr/bin/env python3
"""The Unsloth peer of bench_train_step: the same QLoRA training step as bench/peer_train_step.py
(Gemma-2 sequence classifier, random weights from the config, NF4 with double quantization and
compute in the model dtype, LoRA r / alpha 2r / dropout 0.05 on q k v o gate up down of layers
first..last, per-layer gradient checkpointing, AdamW lr 1e-4, same batch, accumulation, token-id
distribution, timing, FLOP conventions and JSON line), with Unsloth doing the loading, patching and training.
(Unsloth always runs its own k-bit preparation, unsloth_zoo's prepare_model_for_training: float32
adapters, frozen weights left as loaded; PEFT's prepare_model_for_kbit_training is not called, so
the JSON says prepare_kbit false, as the transformers peer's default.)

Unsloth loads models from a hub name or a local folder only, so the random model is built in a child
process (same seed and config as the transformers peer: the same weights), saved with a small
word-level tokenizer (Unsloth loads one beside every model) to a temporary folder (in /dev/shm when
it exists), and loaded back by Unsloth in 4 bits; the child keeps transformers out of this process
until Unsloth is imported, as Unsloth asks.

Loaders (--loader): `language` (default) is FastLanguageModel.from_pretrained(..., num_labels=2):
Unsloth's hand-written Gemma-2 path (its attention, RoPE, RMSNorm and fused LoRA kernels) with
AutoModelForSequenceClassification; `model` is FastModel.from_pretrained(..., auto_model=
AutoModelForSequenceClassification, num_labels=2): transformers' modeling code compiled by
unsloth_zoo, with Unsloth's attention choice. Gradient checkpointing (--gc): `unsloth` (default,
Unsloth's recommendation: layer inputs offloaded to pinned host memory, recomputed in the backward)
or `true` (plain per-layer recomputation, as ours and the transformers peer). The forward runs under
torch.autocast in the model dtype (--autocast), as Unsloth's trainer runs it (bf16=True).

Needs a CUDA GPU (Unsloth's GPU path). Prints a few lines and, with --json, one JSON line last.
Options are bench/peer_train_step.py's (shared with bench_train_step) plus the Unsloth ones below."""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_train_step import (TARGETS, build_parser, gemma2_config, make_step, random_batches, speed,  # noqa: E402
                             time_steps, torch_setup)  # (imports torch only)

LORA_DROPOUT = 0.05
NUM_LABELS = 2
TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>"]  # ids 0..3: Gemma2Config's pad / eos / bos ids


def parse(argv=None):
    ap = build_parser(__doc__)
    ap.add_argument("--loader", choices=["language", "model"], default="language",
                    help="language: FastLanguageModel (+num_labels); model: FastModel (+auto_model)")
    ap.add_argument("--gc", choices=["unsloth", "true"], default="unsloth",
                    help="gradient checkpointing: unsloth (offloaded to host) or true (plain recomputation)")
    ap.add_argument("--autocast", choices=["on", "off"], default="on",
                    help="torch.autocast in the model dtype around the forward (as Unsloth's trainer)")
    ap.add_argument("--attn-implementation", default=None,
                    help="--loader model only: ask FastModel for this attention (eager, sdpa, flex_attention; "
                         "default: Unsloth's choice). sdpa drops Gemma-2's attention soft-capping")
    ap.add_argument("--checkpoint", default=None,
                    help="load this saved model folder instead of building a random one")
    ap.add_argument("--keep-checkpoint", action="store_true", help="do not delete the built checkpoint")
    ap.add_argument("--write-checkpoint", metavar="DIR", default=None,
                    help="only build the random model and save it (+ tokenizer) to DIR, then exit "
                         "(what the child process does; runs on the CPU too)")
    return ap.parse_args(argv)


def write_checkpoint(a, out_dir):
    """The random model of bench/peer_train_step.py (same seed, config and init order), saved as a
    transformers checkpoint with a word-level tokenizer. Returns the parameter count."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import Gemma2Config, Gemma2ForSequenceClassification, PreTrainedTokenizerFast

    _, device, dtype = torch_setup(a)
    cfg, _ = gemma2_config(a)
    config = Gemma2Config(attn_implementation="eager", **cfg)  # num_labels 2, as NUM_LABELS
    with torch.device(device):
        model = Gemma2ForSequenceClassification(config).to(dtype)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(out_dir)
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(TOKENS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
                            unk_token="<unk>", model_max_length=max(a.seq, 8192)).save_pretrained(out_dir)
    return params


def offline_env(scratch):
    """No network on the GPU machine: everything local, no statistics download, compile cache in scratch."""
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "UNSLOTH_DISABLE_STATISTICS",
                "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(key, "1")
    os.environ.setdefault("UNSLOTH_COMPILE_LOCATION", os.path.join(scratch, "unsloth_compiled_cache"))


def count_fused(model, base_qkv, base_o):
    """Decoder layers whose q/k/v, o and MLP run Unsloth's fused LoRA kernels (FastLanguageModel path)."""
    inner = model
    while hasattr(inner, "model") and not hasattr(inner, "layers"):
        inner = inner.model
    n = {"qkv": 0, "o": 0, "mlp": 0, "layers": len(getattr(inner, "layers", []))}
    for layer in getattr(inner, "layers", []):
        attn = layer.self_attn
        n["qkv"] += getattr(attn, "apply_qkv", base_qkv) is not base_qkv
        n["o"] += getattr(attn, "apply_o", base_o) is not base_o
        fwd = layer.mlp.forward
        n["mlp"] += "lora_mlp" in getattr(getattr(fwd, "__func__", fwd), "__name__", "")
    return n


def main():
    a = parse()
    if a.write_checkpoint:
        t0 = time.perf_counter()
        params = write_checkpoint(a, a.write_checkpoint)
        print(f"random Gemma-2 checkpoint ({params} parameters) written to {a.write_checkpoint} "
              f"in {time.perf_counter() - t0:.1f} s")
        return

    root = "/dev/shm" if os.path.isdir("/dev/shm") else None
    scratch = tempfile.mkdtemp(prefix="peer-unsloth-", dir=root)
    offline_env(scratch)
    try:
        run(a, scratch)
    finally:
        if not a.keep_checkpoint:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"  kept {scratch}", file=sys.stderr)


def run(a, scratch):
    import torch

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    cuda = a.device != "cpu" and torch.cuda.is_available()
    if not cuda:
        sys.exit("peer_unsloth_step: Unsloth's GPU path needs a CUDA device (its CPU fallback is plain "
                 "transformers + PEFT, which bench/peer_train_step.py already measures)")
    device = torch.device("cuda", 0)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    quant = a.quant if a.quant != "auto" else "nf4"
    recompute = not a.no_recompute
    gc_mode = (a.gc if a.gc == "unsloth" else True) if recompute else False
    cfg, first = gemma2_config(a)
    layers = cfg["num_hidden_layers"]
    if a.prepare_kbit:
        print("note: --prepare-kbit ignored: Unsloth always runs its own k-bit preparation", file=sys.stderr)

    t_build = time.perf_counter()
    ckpt = a.checkpoint
    if ckpt is None:  # built in a child so that this process imports Unsloth before transformers
        ckpt = os.path.join(scratch, "model")
        child = [sys.executable, os.path.abspath(__file__), *sys.argv[1:], "--write-checkpoint", ckpt]
        subprocess.run(child, check=True, stdout=sys.stderr)
    t_saved = time.perf_counter()

    import unsloth  # before transformers, peft and trl, as Unsloth requires
    from unsloth import FastLanguageModel, FastModel
    import unsloth_zoo
    import bitsandbytes
    import peft
    import transformers
    import trl
    from peft import TaskType
    from transformers import AutoModelForSequenceClassification
    from unsloth.models import _utils as unsloth_utils
    from unsloth.models.llama import original_apply_o, original_apply_qkv

    versions = {"unsloth": unsloth.__version__, "unsloth_zoo": unsloth_zoo.__version__, "torch": torch.__version__,
                "transformers": transformers.__version__, "peft": peft.__version__, "trl": trl.__version__,
                "bitsandbytes": bitsandbytes.__version__}
    t_import = time.perf_counter()

    common = dict(model_name=ckpt, max_seq_length=a.seq, dtype=dtype, load_in_4bit=quant == "nf4",
                  load_in_16bit=quant == "none", num_labels=NUM_LABELS, use_gradient_checkpointing=gc_mode,
                  fix_tokenizer=False, local_files_only=True, random_state=a.seed)
    if a.loader == "language":
        api = FastLanguageModel
        model, _tokenizer = FastLanguageModel.from_pretrained(**common)
    else:
        api = FastModel
        if a.attn_implementation:
            common["attn_implementation"] = a.attn_implementation
        model, _tokenizer = FastModel.from_pretrained(auto_model=AutoModelForSequenceClassification, **common)
    peft_kwargs = dict(r=a.rank, target_modules=TARGETS, lora_alpha=2 * a.rank, lora_dropout=LORA_DROPOUT,
                       bias="none", layers_to_transform=list(range(first, layers)),
                       use_gradient_checkpointing=gc_mode, random_state=a.seed)
    if a.loader == "model":
        peft_kwargs["task_type"] = TaskType.SEQ_CLS
    model = api.get_peft_model(model, **peft_kwargs)
    api.for_training(model)
    gc_mode = getattr(model, "_unsloth_gradient_checkpointing", gc_mode)  # as Unsloth resolved it
    model.config.use_cache = False
    torch.manual_seed(a.seed)  # inputs drawn as the transformers peer draws them (not the same values:
    # its RNG has also drawn the model and adapter weights by then; the speed does not depend on them)
    trainable = [p for p in model.parameters() if p.requires_grad]
    trainable_values = sum(p.numel() for p in trainable)
    trainable_bytes = sum(p.numel() * p.element_size() for p in trainable)
    trainable_dtypes = sorted({str(p.dtype).replace("torch.", "") for p in trainable})
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    torch.cuda.synchronize()
    t_ready = time.perf_counter()
    fused = count_fused(model, original_apply_qkv, original_apply_o)
    if a.loader == "language":  # Gemma2Attention.forward is Unsloth's (unsloth/models/gemma2.py)
        attention = ("flash-attn soft-capping" if unsloth_utils.HAS_FLASH_ATTENTION_SOFTCAPPING
                     else "Unsloth torch.compile soft-capping (S x S scores)")
        softcap = True
    else:  # transformers' attention functions: sdpa has no soft-capping argument and drops it
        attention = getattr(model.config, "_attn_implementation", None) or "?"
        softcap = attention in ("eager", "flex_attention") or "flash" in attention
    if not softcap:
        print(f"WARNING: attention {attention} drops Gemma-2's attention logit soft-capping: not the same job",
              file=sys.stderr)

    autocast = a.autocast == "on" and dtype != torch.float32
    step, last = make_step(model, optimizer, random_batches(cfg, a, device), a, dtype if autocast else None)
    warmup_s, times = time_steps(step, a, cuda=True)
    rates, speed_lines = speed(cfg, a, times)
    peak_alloc = torch.cuda.max_memory_allocated() / 2**30
    peak_reserved = torch.cuda.max_memory_reserved() / 2**30
    host_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB

    print(f"peer train step ({' + '.join(f'{k} {v}' for k, v in versions.items())}): {layers} layers, hidden "
          f"{cfg['hidden_size']}, {a.batch}x{a.seq} tokens x {a.accum} accum, {device}, {a.dtype}, base {quant}, "
          f"Unsloth {api.__name__}, checkpointing {gc_mode}, attention: {attention}"
          f"{'' if softcap else ' (NO soft-capping)'}, LoRA r={a.rank} on layers "
          f"{first}..{layers - 1}, autocast {'on' if autocast else 'off'}")
    print(f"  build {t_ready - t_build:.1f} s (random checkpoint {t_saved - t_build:.1f}, import "
          f"{t_import - t_saved:.1f}, load + LoRA {t_ready - t_import:.1f}); warmup {warmup_s:.1f} s; "
          f"fused LoRA kernels in {fused['qkv']} qkv / {fused['o']} o / {fused['mlp']} mlp of {fused['layers']} "
          f"layers; trainable {len(trainable)} tensors, {trainable_values} values, "
          f"{trainable_bytes / 1e6:.1f} MB ({'/'.join(trainable_dtypes)}); last loss {last['loss']:.4f}")
    print("\n".join(speed_lines))
    print(f"  peak memory: allocated {peak_alloc:.2f} GiB, reserved {peak_reserved:.2f} GiB "
          f"(host peak RSS {host_rss:.1f} GiB)")
    if a.json:
        print(json.dumps({"impl": "unsloth", "device": str(device), "versions": versions,
                          "unsloth_version": unsloth.__version__, "loader": api.__name__,
                          "gradient_checkpointing": gc_mode, "attention": attention, "attention_softcap": softcap,
                          "autocast": autocast,
                          "fused_lora": fused, "layers": layers, "hidden": cfg["hidden_size"], "batch": a.batch,
                          "accum": a.accum, "seq": a.seq, "dtype": a.dtype, "quant": quant,
                          "recompute": recompute, "prepare_kbit": False, "lora_rank": a.rank,
                          **rates, "peak_allocated_gib": peak_alloc,
                          "peak_reserved_gib": peak_reserved, "host_peak_rss_gib": host_rss,
                          "trainable_values": trainable_values, "trainable_bytes": trainable_bytes,
                          "build_s": t_ready - t_build, "warmup_s": warmup_s}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
