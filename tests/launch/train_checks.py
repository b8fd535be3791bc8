#!/usr/bin/env python3
"""Multi-rank checks of `arena train` with real mpirun processes on CPU (MPI backend).

Standard library only, so CI needs no Python model stack. Each check is one CTest:
  equivalence N  N ranks x b rows == 1 rank x N*b rows == 1 rank x N accumulated b-row micro-batches,
                 step by step (losses, grad norms, lr); bytes reduced == trainable bytes
  resume         2N steps in one run == N steps + --resume + N steps, in fp32 and bf16: identical losses, and
                 identical adapters, head and optimizer moments (h5diff, exact)
  fault          an exception on rank 1 of 2 ends the job non-zero within 30 s, with its message
  nonfinite      a NaN gradient on rank 1: every rank skips that step (skip) / the job stops (stop)
  signal         SIGUSR1 to mpirun / SIGTERM to one process: finish the step, checkpoint, exit 0
  commands       eval --json, predict (LMSYS + WSDM formats, A/B swap), export, bad-config errors
  corrupt        a byte flipped in the newest checkpoint: --resume names it and the newest good one;
                 --resume-fallback resumes from that one and repeats the lost steps exactly
  swap           train.swap = both: 2 ranks x b rows == 1 rank x 2b rows, each pair in both orders in
                 the same step; random: about half swapped, anew each epoch; eval --swap-average
  init           train.init_from a run, a checkpoint or a PEFT adapter starts from its exact adapters and
                 head; optim.head_lr = 0 keeps the head while the adapters train; a shape mismatch is named;
                 model.head_init_std = 0 starts from a zero head
  average        export --average of fold runs (data.split_seed 0, 1, 2) writes the mean of their adapters
                 and heads; runs of another base are refused
  progress       on a terminal (a pty) train, data and eval draw live bars (count, rate, ETA, loss);
                 through a pipe they print the plain periodic lines and no terminal codes
  hang           kill -STOP of rank 1 of 2 mid-training: rank 0's watchdog ends the job within
                 dist.timeout + 30 s, naming the rank that noticed, the step and the collective
  distill        a one-hot teacher equals classify; soft teachers: N ranks == 1 rank, broken teacher rows are
                 skipped and counted by reason
  reward         a Bradley-Terry reward model: N ranks == 1 rank, margins, eval/predict outputs, ties counted
  replay         split.json partitions the rows; train.log_batches: batches.jsonl covers every train row
                 each epoch with the rows each step trained on, and initial_adapter/ holds B = 0
  elastic        a checkpoint of N ranks resumed on M (2->1, 2->4, 4->2; rows and tokens batching): the resume
                 epoch trains every train row once (batches.jsonl), later epochs too, every step keeps the
                 uninterrupted run's lr; rows batching: the same steps as the uninterrupted run within 1e-5;
                 a second elastic resume in the same epoch (2->4->1) and a same-count one after an elastic
                 one (2->4->4, bit-exact); a rerun of a resume with dropout repeats it (reseeded streams);
                 a rank count that cannot share the rows is refused
Usage: train_checks.py ARENA_BINARY CHECK [ARG]
"""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ARENA = os.path.abspath(sys.argv[1])
SOURCE = os.environ.get("ARENA_SOURCE_DIR", os.getcwd())
SHARED = os.environ.get("ARENA_SHARED_DIR", os.path.join(SOURCE, "..", "shared"))
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]

# A small Gemma-2 shape on the real pairs and tokenizer: seconds per run.
BASE = [
    "train", "-c", os.path.join(SOURCE, "configs", "cpu-tiny.toml"),
    "--data", os.path.join(SHARED, "data", "autoj-pairwise.jsonl"),
    "--tokenizer", os.path.join(SHARED, "gemma", "tokenizer.model"),
    "--model.hidden_size", "32", "--model.num_layers", "2", "--model.num_heads", "2",
    "--model.num_kv_heads", "1", "--model.head_dim", "16", "--model.intermediate_size", "64",
    "--lora.first_layer", "0", "--lora.rank", "4", "--max-len", "96", "--train.log_every", "1",
    "--train.threads", "1",
]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(args, ranks=1, env=None, timeout=300, check=True):
    cmd = (MPIRUN + ["-np", str(ranks)] if ranks > 1 else []) + [ARENA] + args
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p, time.time() - t0


def metrics(out, kind="train"):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [r for r in map(json.loads, f) if r["kind"] == kind]


def close(a, b, rel):
    return abs(a - b) <= rel * max(1e-12, abs(a), abs(b))


def expected_trainable(hidden=32, heads=2, kv=1, head_dim=16, inter=64, layers=2, r=4, labels=2):
    shapes = [(hidden, heads * head_dim), (hidden, kv * head_dim), (hidden, kv * head_dim), (heads * head_dim, hidden),
              (hidden, inter), (hidden, inter), (inter, hidden)]
    return layers * sum(r * (i + o) for i, o in shapes) + hidden * labels


def check_equivalence(tmp, ranks):
    b, steps = 3, 5
    common = BASE + ["--batch.batching", "rows", "--lora.dropout", "0", "--steps", str(steps), "--optim.warmup_steps",
                     "1", "--train.eval_every", "1000"]
    one, multi = os.path.join(tmp, "one"), os.path.join(tmp, "multi")
    run(common + ["--out", one, "--batch-size", str(b * ranks)])
    run(common + ["--out", multi, "--batch-size", str(b)], ranks=ranks)
    m1, mn = metrics(one), metrics(multi)
    if len(m1) != steps or len(mn) != steps:
        fail(f"expected {steps} steps, got {len(m1)} and {len(mn)}")
    worst = 0.0
    for a, c in zip(m1, mn):
        if a["rows"] != c["rows"] or a["lr"] != c["lr"]:
            fail(f"step {a['step']}: rows {a['rows']} vs {c['rows']}, lr {a['lr']} vs {c['lr']}")
        for key in ("loss", "grad_norm", "accuracy"):
            worst = max(worst, abs(a[key] - c[key]) / max(1e-12, abs(a[key])))
            if not close(a[key], c[key], 1e-5):
                fail(f"step {a['step']} {key}: 1 rank {a[key]} vs {ranks} ranks {c[key]}")
    # The bucket reduced each step holds exactly the trainable tensors (fp32), nothing frozen.
    start = metrics(multi, "start")[0]
    want = expected_trainable()
    if start["trainable_params"] != want or start["trainable_bytes"] != 4 * want:
        fail(f"trainable {start['trainable_params']} params / {start['trainable_bytes']} bytes, expected {want} / {4 * want}")
    if any(r["reduced_bytes"] != 4 * want for r in mn):
        fail("reduced_bytes differs from the trainable bytes")
    # Real and padded tokens: the same real tokens either way; the padded share in the summary is
    # the steps' pad over what the model computed on.
    for a, c in zip(m1, mn):
        if a["tokens"] != c["tokens"] or not a["tokens"] <= a["padded_tokens"] or not c["tokens"] <= c["padded_tokens"]:
            fail(f"step {a['step']}: tokens {a['tokens']}/{c['tokens']}, padded {a['padded_tokens']}/{c['padded_tokens']}")
    # At 96 tokens every Auto-J row is cut to the same length: no pad. At 1024 rows differ.
    padded = os.path.join(tmp, "padded")
    run(common + ["--out", padded, "--batch-size", str(b), "--max-len", "1024", "--steps", "2"])
    mp = metrics(padded)
    share = 1 - sum(r["tokens"] for r in mp) / sum(r["padded_tokens"] for r in mp)
    if not close(metrics(padded, "summary")[0]["padded_share"], share, 1e-9) or not 0 < share < 1:
        fail(f"summary padded_share {metrics(padded, 'summary')[0]['padded_share']}, the steps give {share}")
    # The largest peak resident set over the ranks (a CPU run has no device allocation to report).
    for out in (one, multi):
        summary = metrics(out, "summary")[0]
        if not 50 < summary["peak_rss_mib"] < 24 * 1024 or "peak_device_allocated_mib" in summary:
            fail(f"{out}: summary peak memory {summary}")
    for name in ("val", "test"):
        e1 = [r for r in metrics(one, "eval") if r["split"] == name][-1]
        en = [r for r in metrics(multi, "eval") if r["split"] == name][-1]
        if e1["n"] != en["n"] or not close(e1["log_loss"], en["log_loss"], 1e-5):
            fail(f"{name} eval: {e1} vs {en}")
    # Gradient accumulation: N micro-batches of b rows per step == one batch of N*b rows.
    accum = os.path.join(tmp, "accum")
    run(common + ["--out", accum, "--batch-size", str(b), "--accum", str(ranks)])
    for a, c in zip(m1, metrics(accum)):
        if a["rows"] != c["rows"] or not close(a["loss"], c["loss"], 1e-5) or not close(a["grad_norm"], c["grad_norm"], 1e-5):
            fail(f"accumulation step {a['step']}: {a} vs {c}")
    print(f"OK: {ranks} ranks x {b} rows == 1 rank x {b * ranks} rows == 1 rank x {ranks} accumulated x {b} rows "
          f"over {steps} steps (worst relative difference {worst:.2e}, bound 1e-5); {4 * want} bytes reduced per step")


def h5diff(a, b, obj):
    p = subprocess.run(["h5diff", a, b, obj, obj], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"h5diff {obj}: {a} vs {b} differ\n{p.stdout[-2000:]}")


def check_resume(tmp):
    # fp32, the CPU's default, and bf16, a GPU's: there the adapters are read through bf16 copies
    # recast after each update and after the checkpoint load (model/lora/compute_copies.h).
    for precision in ("fp32", "bf16"):
        check_resume_in(os.path.join(tmp, precision), precision)


def check_resume_in(tmp, precision):
    n = 3
    common = BASE + ["--steps", str(2 * n), "--lora.dropout", "0.1", "--train.eval_every", "2", "--model.precision",
                     precision]
    full, parts = os.path.join(tmp, "full"), os.path.join(tmp, "parts")
    run(common + ["--out", full], ranks=2)
    run(common + ["--out", parts, "--train.stop_after", str(n)], ranks=2)
    if not os.path.exists(os.path.join(parts, "checkpoints", f"step-{n:08d}.h5")):
        fail("no checkpoint at the stop step")
    run(["train", "--resume", parts], ranks=2)
    mf = {r["step"]: r for r in metrics(full)}
    mp = {r["step"]: r for r in metrics(parts)}
    for s in range(1, 2 * n + 1):
        for key in ("loss", "grad_norm", "lr", "rows"):
            if mf[s][key] != mp[s][key]:
                fail(f"step {s} {key}: one run {mf[s][key]} vs stopped+resumed {mp[s][key]}")
    last = f"step-{2 * n:08d}.h5"
    a, b = os.path.join(full, "checkpoints", last), os.path.join(parts, "checkpoints", last)
    for obj in ("/trainable", "/optimizer", "/rng_states"):
        h5diff(a, b, obj)
    ef = [r for r in metrics(full, "eval") if r["split"] == "test"][-1]
    ep = [r for r in metrics(parts, "eval") if r["split"] == "test"][-1]
    if ef["log_loss"] != ep["log_loss"]:
        fail(f"test log loss {ef['log_loss']} vs {ep['log_loss']}")
    # `arena eval` on the last checkpoint, with the adapters in the compute dtype (cast once at load),
    # gives the trainer's own closing test evaluation to the last bit.
    p, _ = run(["eval", "--checkpoint", parts, "--json"])
    alone = json.loads(p.stdout.strip().splitlines()[-1])
    if (alone["n"], alone["log_loss"], alone["accuracy"]) != (ep["n"], ep["log_loss"], ep["accuracy"]):
        fail(f"arena eval {alone} vs the trainer's closing test evaluation {ep}")
    print(f"OK ({precision}): {2 * n} steps == {n} + resume + {n} (2 ranks, LoRA dropout 0.1): identical losses, "
          "adapters, optimizer moments, RNG states; arena eval == the closing test evaluation")


def check_fault(tmp):
    p, secs = run(BASE + ["--out", tmp, "--steps", "50"], ranks=2, env={"ARENA_FAULT": "1:2:throw"}, timeout=60,
                  check=False)
    text = p.stdout + p.stderr
    if p.returncode == 0:
        fail("job with a failing rank exited 0")
    if "rank 1/2" not in text or "injected fault at step 2" not in text:
        fail(f"the failing rank's message is missing:\n{text[-3000:]}")
    if secs > 30:
        fail(f"took {secs:.1f} s to end (limit 30 s)")
    print(f"OK: rank 1 failed at step 2; job exited {p.returncode} after {secs:.1f} s with its message")


def check_nonfinite(tmp):
    out = os.path.join(tmp, "skip")
    run(BASE + ["--out", out, "--steps", "4", "--train.nonfinite", "skip"], ranks=2, env={"ARENA_FAULT": "1:2:nan"})
    skips = metrics(out, "skip")
    trained = metrics(out)
    if len(skips) != 1 or skips[0]["step"] != 2 or skips[0]["ranks_nonfinite"] != 1:
        fail(f"expected one skipped step 2 on one rank, got {skips}")
    if len(trained) != 4 or not all(math.isfinite(r["loss"]) for r in trained):
        fail(f"expected 4 finite optimizer steps after the skip, got {trained}")
    p, _ = run(BASE + ["--out", os.path.join(tmp, "stop"), "--steps", "4", "--train.nonfinite", "stop"], ranks=2,
               env={"ARENA_FAULT": "1:2:nan"}, timeout=60, check=False)
    if p.returncode == 0 or "non-finite loss or gradient at step 2" not in p.stdout + p.stderr:
        fail(f"nonfinite=stop did not stop with the message:\n{(p.stdout + p.stderr)[-2000:]}")
    print("OK: NaN on rank 1 at step 2: skipped on both ranks (skip), job stopped with the message (stop)")


def check_signal(tmp):
    out = os.path.join(tmp, "sig")
    cmd = MPIRUN + ["-np", "2", ARENA] + BASE + ["--out", out, "--steps", "400", "--train.eval_every", "1000",
                                                  "--train.checkpoint_every", "1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    path = os.path.join(out, "metrics.jsonl")
    deadline = time.time() + 120
    while time.time() < deadline and not (os.path.exists(path) and len(metrics(out)) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGUSR1)
    try:
        text, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("the job did not end within 60 s of SIGUSR1")
    if proc.returncode != 0:
        fail(f"SIGUSR1: exit {proc.returncode}\n{text[-3000:]}")
    stopped = metrics(out, "stopped")
    if len(stopped) != 1:
        fail(f"no 'stopped' record:\n{text[-2000:]}")
    step = stopped[0]["step"]
    if not (3 <= step < 400) or not os.path.exists(os.path.join(out, "checkpoints", f"step-{step:08d}.h5")):
        fail(f"stopped at step {step} without its checkpoint")
    # Resuming with another step total would change the schedule: refused with a message.
    p, _ = run(["train", "--resume", out, "--steps", str(step + 2)], ranks=2, timeout=120, check=False)
    if p.returncode == 0 or "schedule of 400 steps" not in p.stderr:
        fail(f"resume with a different schedule was not refused:\n{p.stderr[-2000:]}")
    # SIGTERM to a single process (what Slurm sends at preemption): the same clean stop.
    out1 = os.path.join(tmp, "term")
    proc = subprocess.Popen([ARENA] + BASE + ["--out", out1, "--steps", "400"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (os.path.exists(os.path.join(out1, "metrics.jsonl")) and metrics(out1)):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    text, _ = proc.communicate(timeout=60)
    stopped = metrics(out1, "stopped")
    if proc.returncode != 0 or len(stopped) != 1 or stopped[0]["signal"] != signal.SIGTERM:
        fail(f"SIGTERM: exit {proc.returncode}, stopped {stopped}\n{text[-2000:]}")
    print(f"OK: SIGUSR1 -> both ranks stopped after step {step}, checkpointed, exit 0; "
          f"resume with another schedule refused; SIGTERM -> stopped after step {stopped[0]['step']}, exit 0")


def check_commands(tmp):
    out = os.path.join(tmp, "run")
    run(BASE + ["--out", out, "--steps", "3", "--labels", "3class", "--model.num_labels", "3"], ranks=2)
    p, _ = run(["eval", "--checkpoint", out, "--split", "all", "--json"])
    last = json.loads(p.stdout.strip().splitlines()[-1])
    if set(("n", "accuracy", "log_loss")) - set(last) or last["n"] != 1392:
        fail(f"eval --json: {last}")
    sub = os.path.join(tmp, "submission.csv")
    run(["predict", "--checkpoint", out, "--data", os.path.join(SHARED, "data", "lmsys-arena-train-sample.csv"),
         "--out", sub, "--swap-average"])
    with open(sub) as f:
        lines = f.read().splitlines()
    if lines[0] != "id,winner_model_a,winner_model_b,winner_tie" or len(lines) != 61:
        fail(f"LMSYS submission: header {lines[0]!r}, {len(lines)} lines")
    for line in lines[1:]:
        probs = [float(x) for x in line.split(",")[1:]]
        if abs(sum(probs) - 1) > 1e-4:
            fail(f"probabilities do not sum to 1: {line}")
    binary = os.path.join(tmp, "binary")
    run(BASE + ["--out", binary, "--steps", "2"])
    sub2 = os.path.join(tmp, "wsdm.csv")
    run(["predict", "--checkpoint", binary, "--data", os.path.join(SHARED, "data", "autoj-pairwise.jsonl"),
         "--out", sub2])
    with open(sub2) as f:
        rows = f.read().splitlines()
    if rows[0] != "id,winner" or len(rows) != 1393 or {r.rsplit(",", 1)[1] for r in rows[1:]} - {"model_a", "model_b"}:
        fail(f"WSDM submission: header {rows[0]!r}, {len(rows)} lines")
    exported = os.path.join(tmp, "adapter")
    run(["export", "--checkpoint", out, "--out", exported])
    for f in ("adapter_model.safetensors", "adapter_config.json"):
        if not os.path.exists(os.path.join(exported, f)):
            fail(f"export wrote no {f}")
    # The merged Hugging Face checkpoint (transformers loads it: tests/model/peft/merged_check.py).
    merged = os.path.join(tmp, "merged")
    run(["export", "--checkpoint", out, "--merged", merged])
    for f in ("model.safetensors", "config.json", "tokenizer.model", "tokenizer_config.json"):
        if not os.path.exists(os.path.join(merged, f)):
            fail(f"export --merged wrote no {f}")
    with open(os.path.join(merged, "config.json")) as f:
        cfg = json.load(f)
    if cfg["architectures"] != ["Gemma2ForSequenceClassification"] or cfg["id2label"] != {"0": "model_a", "1": "model_b",
                                                                                            "2": "tie"}:
        fail(f"merged config.json: {cfg['architectures']} {cfg['id2label']}")
    p, _ = run(["inspect", "--model", merged, "--json"])
    if '"layers":2' not in p.stdout.replace(" ", ""):
        fail(f"inspect of the merged checkpoint: {p.stdout[-500:]}")
    p, _ = run(BASE + ["--out", out, "--optim.lr", "fast"], check=False)
    if p.returncode == 0 or "optim.lr: expected a number, got 'fast'" not in p.stderr:
        fail(f"bad override: {p.stderr}")
    bad = os.path.join(tmp, "bad.toml")
    with open(bad, "w") as f:
        f.write("[optim]\nlearning_rate = 1e-4\n")
    p, _ = run(["train", "-c", bad, "--data", "x"], check=False)
    if p.returncode == 0 or "unknown setting 'optim.learning_rate'" not in p.stderr:
        fail(f"unknown key: {p.stderr}")
    print("OK: eval --json (n 1392), predict (LMSYS swap-averaged, WSDM), export (PEFT and --merged), config errors "
          "name the setting")


def check_corrupt(tmp):
    out = os.path.join(tmp, "run")
    run(BASE + ["--out", out, "--steps", "4", "--train.checkpoint_every", "2", "--lora.dropout", "0.1"], ranks=2)
    newest, good = (os.path.join(out, "checkpoints", f"step-{s:08d}.h5") for s in (4, 2))
    with open(newest, "rb") as f:
        original = f.read()
    for offset in range(len(original) // 2, len(original), 97):  # the first flip arena notices
        flipped = bytearray(original)
        flipped[offset] ^= 0x10
        with open(newest, "wb") as f:
            f.write(flipped)
        if run(["eval", "--checkpoint", newest], check=False)[0].returncode != 0:
            break
    else:
        fail("no flipped byte in the second half of the checkpoint was noticed")
    p, _ = run(["train", "--resume", out], ranks=2, check=False)
    if p.returncode == 0 or f"newest checkpoint {newest} is corrupt" not in p.stderr or \
            f"the newest good one is {good}" not in p.stderr:
        fail(f"--resume on a corrupt newest checkpoint: exit {p.returncode}\n{p.stderr[-1500:]}")
    run(["train", "--resume", out, "--resume-fallback"], ranks=2)
    steps = {}
    for r in metrics(out):
        steps.setdefault(r["step"], []).append(r)
    for s in (3, 4):
        if len(steps[s]) != 2 or steps[s][0]["loss"] != steps[s][1]["loss"]:
            fail(f"step {s} after the fallback: {steps[s]}")
    print(f"OK: byte {offset} of {len(original)} flipped in {os.path.basename(newest)}: --resume refused it naming "
          f"{os.path.basename(good)}; --resume-fallback repeated steps 3-4 with identical losses")


def check_swap(tmp):
    steps = 5
    common = BASE + ["--batch.batching", "rows", "--lora.dropout", "0", "--steps", str(steps), "--optim.warmup_steps",
                     "1", "--train.eval_every", "1000", "--train.swap", "both", "--train.log_batches", "true"]
    one, multi = os.path.join(tmp, "one"), os.path.join(tmp, "multi")
    run(common + ["--out", one, "--batch-size", "8"])
    run(common + ["--out", multi, "--batch-size", "4"], ranks=2)
    for a, c in zip(metrics(one), metrics(multi)):
        if a["rows"] != 8 or c["rows"] != 8 or not close(a["loss"], c["loss"], 1e-5) or \
                not close(a["grad_norm"], c["grad_norm"], 1e-5):
            fail(f"swap both, step {a['step']}: 1 rank {a} vs 2 ranks {c}")
    with open(os.path.join(multi, "batches.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            for per_rank in rec["ranks"]:
                for mb in per_rank:
                    if mb[1::2] != [r + "#swapped" for r in mb[0::2]]:
                        fail(f"step {rec['step']}: a micro-batch without each pair in both orders: {mb}")
    rand = os.path.join(tmp, "random")
    run(BASE + ["--out", rand, "--epochs", "2", "--train.swap", "random", "--train.log_batches", "true"], ranks=2)
    swapped = {}
    with open(os.path.join(rand, "batches.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            ids = [r for per_rank in rec["ranks"] for mb in per_rank for r in mb]
            swapped.setdefault(rec["epoch"], set()).update(r[:-8] for r in ids if r.endswith("#swapped"))
            swapped.setdefault(-1 - rec["epoch"], set()).update(r for r in ids if not r.endswith("#swapped"))
    train_rows = metrics(rand, "start")[0]["train_rows"]
    shares = [len(swapped[e]) / train_rows for e in (0, 1)]
    if not all(0.4 < x < 0.6 for x in shares) or swapped[0] == swapped[1] or swapped[0] & swapped[-1]:
        fail(f"swap random: swapped shares {shares} per epoch, epochs identical: {swapped[0] == swapped[1]}")
    p, _ = run(["eval", "--checkpoint", one, "--swap-average", "--json"])
    last = json.loads(p.stdout.strip().splitlines()[-1])
    sw = last.get("swap", {})
    if not 0 <= sw.get("consistency", -1) <= 1 or sw.get("n_model_a_won", 0) + sw.get("n_model_b_won", 0) != last["n"]:
        fail(f"eval --swap-average --json: {last}")
    p, _ = run(BASE + ["--out", os.path.join(tmp, "bad"), "--train.swap", "sideways"], check=False)
    if p.returncode == 0 or "train.swap" not in p.stderr:
        fail(f"--train.swap sideways: {p.stderr}")
    print(f"OK: swap both: 2 ranks x 4 rows == 1 rank x 8 rows over {steps} steps, each pair in both orders in "
          f"its micro-batch; random: {shares[0]:.2f} / {shares[1]:.2f} swapped in epochs 0 / 1, different rows; "
          f"eval --swap-average: consistency {sw['consistency']:.3f}")


def read_csv_rows(path):
    import csv
    with open(path, newline="") as f:
        return list(csv.reader(f))


def write_csv_rows(path, rows):
    import csv
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def check_distill(tmp):
    # A one-hot teacher made from the labels, at T = 1 and hard_weight 0, is the classify objective.
    data = os.path.join(SHARED, "data", "autoj-pairwise.jsonl")
    onehot = [["id", "winner_model_a", "winner_model_b"]]
    with open(data) as f:
        for line in f:
            j = json.loads(line)
            if j["winner"] in ("model_a", "model_b"):
                onehot.append([str(j["id"]), "1" if j["winner"] == "model_a" else "0",
                               "0" if j["winner"] == "model_a" else "1"])
    write_csv_rows(os.path.join(tmp, "onehot.csv"), onehot)
    steps = 4
    common = BASE + ["--batch.batching", "rows", "--lora.dropout", "0", "--steps", str(steps), "--optim.warmup_steps",
                     "1", "--train.eval_every", "1000"]
    plain, hard = os.path.join(tmp, "classify"), os.path.join(tmp, "onehot")
    run(common + ["--out", plain, "--batch-size", "8"], ranks=2)
    run(common + ["--out", hard, "--batch-size", "8", "--train.objective", "distill", "--distill.teachers",
                  os.path.join(tmp, "onehot.csv")], ranks=2)
    for a, b in zip(metrics(plain), metrics(hard)):
        if not close(a["loss"], b["loss"], 1e-6) or not close(a["grad_norm"], b["grad_norm"], 1e-5):
            fail(f"one-hot teacher, step {a['step']}: classify {a} vs distill {b}")

    # Real soft teachers: a trained run's predictions (arena predict --probabilities), and a second
    # teacher with broken rows of every kind, mixed 0.7 / 0.3 at T = 2 with a quarter hard loss.
    teacher_run = os.path.join(tmp, "teacher")
    run(BASE + ["--out", teacher_run, "--steps", "6"], ranks=2)
    good = os.path.join(tmp, "good.csv")
    run(["predict", "--checkpoint", teacher_run, "--data", data, "--out", good, "--probabilities"])
    rows = read_csv_rows(good)
    if rows[0] != ["id", "winner_model_a", "winner_model_b"] or len(rows) != 1393:
        fail(f"predict --probabilities wrote {len(rows)} lines, header {rows[0]}")
    with open(os.path.join(teacher_run, "split.json")) as f:
        train_ids = f.read()
    train_ids = set(json.loads(train_ids)["train"])
    broken = [rows[0]]
    expect = {}
    kinds = ["no row with this id", "values do not sum to 1 (tolerance 0.001)", "a value is not finite",
             "a value is negative", "winner_model_a is not a number", "id given more than once"]
    bad = os.path.join(tmp, "broken.csv")
    picked = [r for r in rows[1:] if r[0] in train_ids][:2 * len(kinds)]
    picked_ids = {r[0] for r in picked}
    for r in rows[1:]:
        if r[0] not in picked_ids:
            broken.append(r)
    for k, r in enumerate(picked):
        kind = kinds[k % len(kinds)]
        expect[f"teacher {bad}: {kind}"] = expect.get(f"teacher {bad}: {kind}", 0) + 1
        a = float(r[1])
        if kind == "no row with this id":
            continue
        if kind.startswith("values do not sum"):
            broken.append([r[0], f"{a:.6f}", f"{1.01 - a:.6f}"])
        elif kind == "a value is not finite":
            broken.append([r[0], "nan", r[2]])
        elif kind == "a value is negative":
            broken.append([r[0], "-0.25", "1.25"])
        elif kind.endswith("not a number"):
            broken.append([r[0], "high", r[2]])
        else:
            broken += [r, r]
    write_csv_rows(bad, broken)
    soft = common + ["--train.objective", "distill", "--distill.teachers", f"{good},{bad}", "--distill.weights",
                     "0.7,0.3", "--distill.temperature", "2", "--distill.hard_weight", "0.25"]
    one, multi = os.path.join(tmp, "one"), os.path.join(tmp, "multi")
    p1, _ = run(soft + ["--out", one, "--batch-size", "8"])
    run(soft + ["--out", multi, "--batch-size", "4"], ranks=2)
    for a, b in zip(metrics(one), metrics(multi)):
        if not close(a["loss"], b["loss"], 1e-5) or not close(a["grad_norm"], b["grad_norm"], 1e-5):
            fail(f"distill, step {a['step']}: 1 rank {a} vs 2 ranks {b}")
    for reason, n in expect.items():
        line = f"skipped {n:>6}  {reason}"
        if line not in p1.stderr:
            fail(f"'{line}' missing from the data report:\n{p1.stderr[:3000]}")
    start = metrics(one, "start")[0]
    if start["train_rows"] != len(train_ids) - len(picked):
        fail(f"train_rows {start['train_rows']}, expected {len(train_ids)} - {len(picked)} skipped")
    # Bad settings and files are named.
    p, _ = run(common + ["--out", os.path.join(tmp, "x"), "--train.objective", "distill"], check=False)
    if p.returncode == 0 or "distill.teachers names no teacher file" not in p.stderr:
        fail(f"distill without teachers: {p.stderr[-500:]}")
    p, _ = run(soft[:-8] + ["--out", os.path.join(tmp, "y"), "--train.objective", "distill", "--distill.teachers",
                            data], check=False)
    if p.returncode == 0 or 'no row has "winner_model_a"' not in p.stderr:
        fail(f"a teacher file without the columns: {p.stderr[-500:]}")
    print(f"OK: a one-hot teacher (T 1, hard_weight 0) == classify over {steps} steps (2 ranks); two soft teachers "
          f"(predict --probabilities of a run, and a file with {len(picked)} broken train rows) weighted 0.7/0.3, "
          f"T 2, hard_weight 0.25: 2 ranks x 4 rows == 1 rank x 8 rows; every broken row skipped and counted by "
          f"its reason ({len(expect)} reasons); missing teachers and columns are named")


def check_reward(tmp):
    import gzip
    # HH-RLHF pairs with margins (TRL's per-row margin); one row's margin is not a number.
    src = os.path.join(SHARED, "data", "hh-rlhf-helpful-base-test.jsonl.gz")
    data = os.path.join(tmp, "hh.jsonl")
    with gzip.open(src, "rt") as f, open(data, "w") as out:
        for k, line in enumerate(f):
            if k == 400:
                break
            j = json.loads(line)
            j["id"] = f"hh-{k}"
            j["margin"] = "big" if k == 7 else (k % 5) * 0.25
            out.write(json.dumps(j) + "\n")
    steps = 4
    common = BASE + ["--data", data, "--train.objective", "reward", "--model.num_labels", "1",
                     "--reward.center_coefficient", "0.01", "--batch.batching", "rows", "--lora.dropout", "0",
                     "--steps", str(steps), "--optim.warmup_steps", "1", "--train.eval_every", "2"]
    one, multi = os.path.join(tmp, "one"), os.path.join(tmp, "multi")
    p1, _ = run(common + ["--out", one, "--batch-size", "8"])
    run(common + ["--out", multi, "--batch-size", "4"], ranks=2)
    for a, b in zip(metrics(one), metrics(multi)):
        if a["rows"] != 8 or not close(a["loss"], b["loss"], 1e-5) or not close(a["grad_norm"], b["grad_norm"], 1e-5):
            fail(f"reward, step {a['step']}: 1 rank {a} vs 2 ranks {b}")
    if "skipped      1  margin is not a finite number" not in p1.stderr:
        fail(f"the row with a bad margin is not counted:\n{p1.stderr[:2000]}")
    test = [r for r in metrics(multi, "eval") if r["split"] == "test"][-1]
    if not 0 <= test["accuracy"] <= 1 or "mean_margin" not in test:
        fail(f"reward eval record: {test}")
    p, _ = run(["eval", "--checkpoint", multi, "--json"])
    ev = json.loads(p.stdout.strip().splitlines()[-1])
    if not close(ev["accuracy"], test["accuracy"], 1e-9) or not close(ev["mean_margin"], test["mean_margin"], 1e-6):
        fail(f"eval --json {ev} vs the run's test record {test}")
    pred = os.path.join(tmp, "pred.csv")
    p, _ = run(["predict", "--checkpoint", multi, "--data", data, "--out", pred])
    rows = read_csv_rows(pred)
    if rows[0] != ["id", "reward_a", "reward_b", "winner_model_a", "winner_model_b"] or \
            f"predict: {len(rows) - 1} rows of" not in p.stderr or len(rows) < 390:
        fail(f"reward predict: header {rows[0]}, {len(rows)} lines")
    for r in rows[1:]:
        ra, rb, pa, pb = map(float, r[1:])
        if abs(pa - 1 / (1 + math.exp(rb - ra))) > 1e-6 or abs(pa + pb - 1) > 1e-6:
            fail(f"P(A) is not sigmoid(r_A - r_B): {r}")
    # Ties prefer neither answer: skipped and counted; a reward model needs one output.
    autoj = os.path.join(SHARED, "data", "autoj-pairwise.jsonl")
    p, _ = run(common + ["--data", autoj, "--out", os.path.join(tmp, "autoj"), "--steps", "1"])
    if "skipped    373  tie dropped (binary labels)" not in p.stderr:
        fail(f"ties are not counted:\n{p.stderr[:1500]}")
    p, _ = run(common + ["--out", os.path.join(tmp, "bad"), "--model.num_labels", "2"], check=False)
    if p.returncode == 0 or "model.num_labels must be 1" not in p.stderr:
        fail(f"reward with two outputs: {p.stderr[-500:]}")
    print(f"OK: reward model (margins, center 0.01): 2 ranks x 4 pairs == 1 rank x 8 pairs over {steps} steps; a bad "
          f"margin skipped and counted; eval --json equals the run's test record (accuracy {test['accuracy']:.3f}, "
          f"mean margin {test['mean_margin']:.4f}); predict writes both rewards and P(A) = sigmoid(r_A - r_B); ties "
          "counted; two outputs refused")


def check_init(tmp):
    a = os.path.join(tmp, "a")
    run(BASE + ["--out", a, "--steps", "3"])
    last = os.path.join(a, "checkpoints", f"step-{3:08d}.h5")
    adapter = os.path.join(tmp, "a-adapter")
    run(["export", "--checkpoint", a, "--out", adapter])
    for name, source in (("from-run", a), ("from-file", last), ("from-adapter", adapter)):
        out = os.path.join(tmp, name)  # one warmup step runs at lr 0: it changes nothing, the result is the start
        run(BASE + ["--out", out, "--steps", "1", "--optim.warmup_steps", "1", "--init-from", source])
        h5diff(last, os.path.join(out, "checkpoints", f"step-{1:08d}.h5"), "/trainable")
    frozen_head = os.path.join(tmp, "head0")
    run(BASE + ["--out", frozen_head, "--steps", "3", "--optim.head_lr", "0", "--train.log_batches", "true"])
    run(["export", "--checkpoint", frozen_head, "--out", os.path.join(tmp, "head0-adapter")])
    start = safetensors_tensors(os.path.join(frozen_head, "initial_adapter", "adapter_model.safetensors"))
    end = safetensors_tensors(os.path.join(tmp, "head0-adapter", "adapter_model.safetensors"))
    head = [k for k in start if "score" in k]
    lora = [k for k in start if "lora_A" in k]
    if not head or any(start[k] != end[k] for k in head) or all(start[k] == end[k] for k in lora):
        fail("optim.head_lr 0: the head must stay as it started while the adapters change")
    zero = os.path.join(tmp, "zero-head")
    run(BASE + ["--out", zero, "--steps", "1", "--model.head_init_std", "0", "--train.log_batches", "true"])
    start = safetensors_tensors(os.path.join(zero, "initial_adapter", "adapter_model.safetensors"))
    if any(any(start[k][2]) for k in start if "score" in k):
        fail("model.head_init_std 0: the initial head is not zero")
    other_rank = list(BASE)
    other_rank[other_rank.index("--lora.rank") + 1] = "8"
    p, _ = run(other_rank + ["--out", os.path.join(tmp, "bad"), "--steps", "1", "--init-from", a], check=False)
    if p.returncode == 0 or last not in p.stderr or "has shape" not in p.stderr:
        fail(f"--init-from with another LoRA rank: exit {p.returncode}\n{p.stderr[-800:]}")
    print("OK: --init-from a run, a checkpoint file and a PEFT adapter start exactly from its adapters and head; "
          "optim.head_lr 0 froze the head while the adapters trained; a rank mismatch names the file and tensor")


def check_average(tmp):
    import struct
    runs, tensors = [], []
    for fold in range(3):
        out = os.path.join(tmp, f"fold{fold}")
        run(BASE + ["--out", out, "--steps", "3", "--data.split_seed", str(fold)])
        run(["export", "--checkpoint", out, "--out", out + "-adapter"])
        runs.append(out)
        tensors.append(safetensors_tensors(os.path.join(out + "-adapter", "adapter_model.safetensors")))
    avg_dir = os.path.join(tmp, "average")
    run(["export", "--average"] + runs + ["--out", avg_dir])
    avg = safetensors_tensors(os.path.join(avg_dir, "adapter_model.safetensors"))
    floats = lambda raw: struct.unpack(f"<{len(raw) // 4}f", raw)
    worst = 0.0
    for name, (dtype, shape, raw) in avg.items():
        if dtype != "F32" or any(t[name][1] != shape for t in tensors):
            fail(f"average: tensor {name} {dtype} {shape}")
        for got, *parts in zip(floats(raw), *(floats(t[name][2]) for t in tensors)):
            worst = max(worst, abs(got - sum(parts) / 3))
    if worst > 1e-6 or set(avg) != set(tensors[0]):
        fail(f"average differs from the mean of the runs' adapters by {worst}")
    other = os.path.join(tmp, "other-base")
    run(BASE + ["--out", other, "--steps", "1", "--seed", "7"])  # a random-init base follows train.seed
    p, _ = run(["export", "--average", runs[0], other, "--out", os.path.join(tmp, "bad")], check=False)
    if p.returncode == 0 or "another base model" not in p.stderr:
        fail(f"export --average of two bases: exit {p.returncode}\n{p.stderr[-600:]}")
    print(f"OK: export --average of 3 fold runs = the mean of their {len(avg)} adapter and head tensors "
          f"(worst difference {worst:.1e}); another base refused")


def run_on_terminal(args):
    """Runs arena with stderr on a pseudo-terminal; returns (exit code, what the terminal got)."""
    import pty
    main_fd, sub_fd = pty.openpty()
    p = subprocess.Popen([ARENA] + args, stdout=subprocess.DEVNULL, stderr=sub_fd, env={**os.environ, "TERM": "xterm"})
    os.close(sub_fd)
    got = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        got += chunk
    os.close(main_fd)
    return p.wait(timeout=120), got.decode(errors="replace")


def check_progress(tmp):
    args = list(BASE) + ["--steps", "12"]
    args[args.index("--train.log_every") + 1] = "5"
    rc, screen = run_on_terminal(args + ["--out", os.path.join(tmp, "tty")])
    if rc != 0 or "\rtrain [" not in screen or "ETA" not in screen or "loss " not in screen or "\x1b[K" not in screen \
            or "12/12 steps" not in screen or "step 5/12" in screen:
        fail(f"train on a terminal: exit {rc}, no live bar or periodic lines left in:\n{screen[-1500:]!r}")
    p, _ = run(args + ["--out", os.path.join(tmp, "pipe")])
    if "step 5/12" not in p.stderr or "step 12/12" not in p.stderr or "\x1b[" in p.stderr or "\r" in p.stderr:
        fail(f"train through a pipe: expected the periodic lines and no terminal codes:\n{p.stderr[-1500:]!r}")
    rc, screen = run_on_terminal(["data", "--data", os.path.join(SHARED, "data", "autoj-pairwise.jsonl"),
                                  "--tokenizer", os.path.join(SHARED, "gemma", "tokenizer.model")])
    if rc != 0 or "tokenize [" not in screen or "1392/1392 pairs" not in screen:
        fail(f"arena data on a terminal: exit {rc}:\n{screen[-800:]!r}")
    rc, screen = run_on_terminal(["eval", "--checkpoint", os.path.join(tmp, "tty")])
    if rc != 0 or "eval [" not in screen:
        fail(f"arena eval on a terminal: exit {rc}:\n{screen[-800:]!r}")
    print("OK: live bars on a terminal (train with loss, data, eval); plain periodic lines through a pipe")


def rank_pid(out, rank):
    """The pid of the arena process of `rank` whose command line names `out` (read from /proc)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if out.encode() in cmdline and os.path.basename(cmdline[0]) == b"arena" and \
                f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return int(pid)
    return None


def check_hang(tmp):
    out, limit = os.path.join(tmp, "run"), 5
    cmd = MPIRUN + ["-np", "2", ARENA] + BASE + ["--out", out, "--steps", "1000000", "--dist.timeout", str(limit),
                                                 "--train.checkpoint_every", "1000000", "--train.eval_every", "1000000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = None
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if os.path.exists(os.path.join(out, "metrics.jsonl")) and len(metrics(out)) >= 3:
                break
            time.sleep(0.2)
        stopped = rank_pid(out, 1)
        if proc.poll() is not None or stopped is None:
            fail(f"training did not reach step 3 with rank 1 running (exit {proc.poll()})")
        os.kill(stopped, signal.SIGSTOP)
        t0 = time.time()
        try:
            _, err = proc.communicate(timeout=limit + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail(f"the job still waits {limit + 30} s after rank 1 stopped (dist.timeout {limit})")
        waited = time.time() - t0
    finally:
        if stopped is not None:
            try:
                os.kill(stopped, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
    line = next((l for l in err.splitlines() if "did not complete within" in l), "")
    if proc.returncode == 0 or not line.startswith("arena: error [rank 0/2]") or " at step " not in line:
        fail(f"exit {proc.returncode}, expected rank 0's watchdog message; stderr tail:\n{err[-2000:]}")
    print(f"OK: rank 1 stopped, the job ended in {waited:.1f} s (dist.timeout {limit} s) with exit "
          f"{proc.returncode}: {line}")


def safetensors_tensors(path):
    """{name: (dtype, shape, raw bytes)} read with the standard library."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items() if k != "__metadata__"}


def check_replay(tmp):
    out = os.path.join(tmp, "run")
    run(BASE + ["--out", out, "--epochs", "2", "--batch.tokens", "600", "--train.log_batches", "true"], ranks=2)
    with open(os.path.join(out, "split.json")) as f:
        split = json.load(f)
    parts = [set(split[k]) for k in ("train", "val", "test")]
    if any(len(p) != len(split[k]) for p, k in zip(parts, ("train", "val", "test"))) or \
            parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]:
        fail("split.json: a row id repeats or sits in two parts")
    start = metrics(out, "start")[0]
    test = [r for r in metrics(out, "eval") if r["split"] == "test"][-1]
    if len(parts[0]) != start["train_rows"] or len(parts[2]) != test["n"]:
        fail(f"split.json: {len(parts[0])} train / {len(parts[2])} test ids, the run trained on "
             f"{start['train_rows']} and tested {test['n']}")
    train = {r["step"]: r for r in metrics(out)}
    with open(os.path.join(out, "batches.jsonl")) as f:
        steps = [json.loads(line) for line in f]
    if [s["step"] for s in steps] != list(range(1, start["total_steps"] + 1)):
        fail(f"batches.jsonl: steps {[s['step'] for s in steps][:5]}..., expected 1..{start['total_steps']}")
    seen = {}
    for s in steps:
        if len(s["ranks"]) != 2:
            fail(f"step {s['step']}: {len(s['ranks'])} ranks logged")
        ids = [r for per_rank in s["ranks"] for mb in per_rank for r in mb]
        if len(ids) != train[s["step"]]["rows"] or set(ids) - parts[0]:
            fail(f"step {s['step']}: {len(ids)} logged rows (the step trained {train[s['step']]['rows']}), "
                 f"{len(set(ids) - parts[0])} outside the train split")
        seen.setdefault(s["epoch"], []).extend(ids)
    for epoch, ids in seen.items():  # every train row once; at most world - 1 repeated to even out the shards
        if set(ids) != parts[0] or len(ids) - len(parts[0]) > 1:
            fail(f"epoch {epoch}: {len(set(ids))} of {len(parts[0])} train rows, {len(ids)} logged")
    tensors = safetensors_tensors(os.path.join(out, "initial_adapter", "adapter_model.safetensors"))
    b = [k for k in tensors if "lora_B" in k]
    a = [k for k in tensors if "lora_A" in k]
    head = any("score" in k for k in tensors)
    if not a or len(a) != len(b) or not head:
        fail(f"initial_adapter: {len(a)} lora_A, {len(b)} lora_B tensors, score head {'present' if head else 'missing'}")
    if any(any(tensors[k][2]) for k in b) or not all(any(tensors[k][2]) for k in a):
        fail("initial_adapter: lora_B must be zero and lora_A drawn before the first step")
    print(f"OK: split.json partitions {sum(map(len, parts))} rows; batches.jsonl: {len(steps)} steps x 2 ranks cover "
          f"the {len(parts[0])} train rows in each of {len(seen)} epochs; initial_adapter: {len(a)} A drawn, B = 0")


def logged_steps(out):
    with open(os.path.join(out, "batches.jsonl")) as f:
        return {s["step"]: s for s in map(json.loads, f)}


def step_rows(s):
    return sorted(r for per_rank in s["ranks"] for mb in per_rank for r in mb)


def check_elastic_parts(label, parts, rows, compare):
    """parts: [(run dir, ranks, first step)]: parts[0] the uninterrupted run, each later part resumed from
    the one before at its first step. Checks the stitched run against the uninterrupted one; returns the
    number of post-resume steps that trained the uninterrupted run's rows and matched it (compare)."""
    ref_dir = parts[0][0]
    ref = {r["step"]: r for r in metrics(ref_dir)}
    total = metrics(ref_dir, "start")[0]["total_steps"]
    steps, got, part = {}, {}, {}
    for i, (out, world, first) in enumerate(parts):
        last = parts[i + 1][2] - 1 if i + 1 < len(parts) else total
        logged, trained = logged_steps(out), {r["step"]: r for r in metrics(out)}
        if i > 0 and sorted(trained)[:1] != [first]:
            fail(f"{label}: {out} starts at step {sorted(trained)[:1]}, expected {first}")
        for s in range(first, last + 1):
            if s not in logged or s not in trained:
                fail(f"{label}: step {s} missing from {out} (the schedule is kept: steps 1..{total})")
            steps[s], got[s], part[s] = logged[s], trained[s], i
    for s in range(1, total + 1):
        if got[s]["lr"] != ref[s]["lr"]:
            fail(f"{label} step {s}: lr {got[s]['lr']} vs {ref[s]['lr']} uninterrupted")
        if len(steps[s]["ranks"]) != parts[part[s]][1]:
            fail(f"{label} step {s}: batches.jsonl lists {len(steps[s]['ranks'])} ranks, the step ran on "
                 f"{parts[part[s]][1]}")
    by_epoch = {}
    for s in sorted(steps):
        by_epoch.setdefault(steps[s]["epoch"], []).extend(step_rows(steps[s]))
    # Every train row once per epoch; repeats only from evening out the shards: at most world - 1 per plan.
    for epoch, ids in sorted(by_epoch.items()):
        if epoch == max(by_epoch) and len(by_epoch) > 2:
            continue  # M ranks' plans may need a step more than the N-rank schedule: a started epoch
        pad = sum(parts[i][1] - 1 for i in {part[s] for s in steps if steps[s]["epoch"] == epoch})
        if set(ids) != rows or len(ids) - len(rows) > pad:
            fail(f"{label} epoch {epoch}: {len(set(ids))} of {len(rows)} train rows, {len(ids)} trained "
                 f"(repeats allowed {pad}), {len(set(ids) - rows)} outside the train split")
    compared = 0
    if compare:  # the same rows each step: the same step up to float summation order
        before = logged_steps(ref_dir)
        for s in range(parts[1][2], total + 1):
            if step_rows(steps[s]) != step_rows(before[s]):
                break
            for key in ("loss", "grad_norm"):
                if not close(got[s][key], ref[s][key], 1e-5):
                    fail(f"{label} step {s} {key}: {got[s][key]} vs {ref[s][key]} uninterrupted")
            compared += 1
        if compared < 3:
            fail(f"{label}: only {compared} steps after the resume trained the uninterrupted run's rows")
    return compared


def check_elastic(tmp):
    # A data file small enough for 2 epochs in seconds; a checkpoint every 5 steps to resume from.
    data = os.path.join(tmp, "data.jsonl")
    with open(os.path.join(SHARED, "data", "autoj-pairwise.jsonl")) as src, open(data, "w") as dst:
        dst.writelines(line for _, line in zip(range(160), src))
    base = list(BASE)
    base[base.index("--data") + 1] = data
    stop = 5
    common = base + ["--epochs", "2", "--train.eval_every", "1000", "--train.checkpoint_every", str(stop),
                     "--train.keep_checkpoints", "100", "--train.log_batches", "true"]
    # Per rank batch settings of N ranks: N x rows = 8 rows per step (rows), N x tokens = 1600 (tokens).
    # rows runs without dropout so the M-rank run can be compared step by step with the N-rank one.
    settings = {"rows": lambda n: ["--batch.batching", "rows", "--batch-size", str(8 // n), "--lora.dropout", "0"],
                "tokens": lambda n: ["--batch.batching", "tokens", "--batch.tokens", str(1600 // n), "--batch-size",
                                     str(16 // n), "--lora.dropout", "0.1"]}
    cases = [(2, 1), (2, 4), (4, 2)]
    notes = []

    def resume(ck_dir, step, out, ranks):
        p, _ = run(["train", "--resume", os.path.join(ck_dir, "checkpoints", f"step-{step:08d}.h5"), "--out", out],
                   ranks=ranks)
        return p.stderr

    for batching, opts in settings.items():
        full = {}
        for n in sorted({n for n, _ in cases}):
            full[n] = os.path.join(tmp, f"{batching}-full{n}")
            run(common + opts(n) + ["--out", full[n]], ranks=n)
        rows = set(json.load(open(os.path.join(full[2], "split.json")))["train"])
        for n, m in cases:
            out = os.path.join(tmp, f"{batching}-{n}to{m}")
            if "elastic resume" not in resume(full[n], stop, out, m):
                fail(f"{batching} {n}->{m}: no elastic resume line")
            compared = check_elastic_parts(f"{batching} {n}->{m}", [(full[n], n, 1), (out, m, stop + 1)], rows,
                                           compare=batching == "rows")
            notes.append(f"{batching} {n}->{m}" + (f" ({compared} steps == uninterrupted)" if compared else ""))
    # Inside the same epoch (step 10 of 13): a second elastic resume (2 -> 4 -> 1), and a same-count resume
    # after an elastic one (2 -> 4 -> 4), which must equal the 2 -> 4 run bit for bit.
    rows_full, rows_4 = os.path.join(tmp, "rows-full2"), os.path.join(tmp, "rows-2to4")
    if {r["step"]: r for r in metrics(rows_4)}[2 * stop]["epoch"] != 0:
        fail("step 10 is not in the first epoch: the chained cases would not test a second resume in one epoch")
    chain, same = os.path.join(tmp, "rows-2to4to1"), os.path.join(tmp, "rows-2to4to4")
    if "of epoch 0 trained on 4 ranks" not in resume(rows_4, 2 * stop, chain, 1):
        fail("2->4->1: the second elastic resume did not continue epoch 0")
    compared = check_elastic_parts("rows 2->4->1", [(rows_full, 2, 1), (rows_4, 4, stop + 1), (chain, 1, 2 * stop + 1)],
                                   rows, compare=True)
    notes.append(f"rows 2->4->1 ({compared} steps == uninterrupted)")
    resume(rows_4, 2 * stop, same, 4)
    m4 = {r["step"]: r for r in metrics(rows_4)}
    for r in metrics(same):
        if any(r[k] != m4[r["step"]][k] for k in ("loss", "grad_norm", "lr", "rows")):
            fail(f"2->4->4 step {r['step']}: {r} vs the 2->4 run {m4[r['step']]}")
    last = sorted(os.listdir(os.path.join(same, "checkpoints")))[-1]
    for obj in ("/trainable", "/optimizer", "/rng_states"):
        h5diff(os.path.join(rows_4, "checkpoints", last), os.path.join(same, "checkpoints", last), obj)
    notes.append("rows 2->4->4 == 2->4 bit for bit")
    # Dropout (tokens runs: lora.dropout 0.1) is reseeded from (train.seed, step, rank): a rerun of an elastic
    # resume repeats it bit for bit.
    again = os.path.join(tmp, "tokens-2to1-again")
    resume(os.path.join(tmp, "tokens-full2"), stop, again, 1)
    first = {r["step"]: r for r in metrics(os.path.join(tmp, "tokens-2to1"))}
    for r in metrics(again):
        if r["loss"] != first[r["step"]]["loss"] or r["grad_norm"] != first[r["step"]]["grad_norm"]:
            fail(f"tokens 2->1 rerun step {r['step']}: {r} vs the first resume {first[r['step']]}")
    notes.append("tokens 2->1 (dropout 0.1) rerun == first resume bit for bit")
    # 2 ranks x 4 rows cannot be shared by 3 ranks: refused, naming the rank counts that can.
    p, _ = run(["train", "--resume", rows_full, "--out", os.path.join(tmp, "odd")], ranks=3, check=False)
    if p.returncode == 0 or "resume on 1, 2, 4, 8 ranks" not in p.stderr:
        fail(f"resume of 2 x 4 rows on 3 ranks was not refused with the rank counts that fit:\n{p.stderr[-2000:]}")
    print(f"OK: elastic resume at step {stop}: {', '.join(notes)}: every train row once per epoch, the lr of every "
          "step kept; 2 x 4 rows on 3 ranks refused")

def main():
    check, arg = sys.argv[2], sys.argv[3:] if len(sys.argv) > 3 else []
    tmp = tempfile.mkdtemp(prefix=f"arena-{check}-")
    checks = {"resume": check_resume, "fault": check_fault, "nonfinite": check_nonfinite, "signal": check_signal,
              "commands": check_commands, "corrupt": check_corrupt, "swap": check_swap, "init": check_init,
              "average": check_average, "distill": check_distill, "reward": check_reward, "progress": check_progress, "hang": check_hang, "replay": check_replay,
              "elastic": check_elastic}
    try:
        if check == "equivalence":
            check_equivalence(tmp, int(arg[0]))
        elif check in checks:
            checks[check](tmp)
        else:
            fail(f"unknown check {check}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
