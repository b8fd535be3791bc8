#!/usr/bin/env python3
"""TensorBoard event files of `arena train`, read back with the tensorboard package's own readers.

One tiny CPU job on 2 ranks (mpirun), with a NaN injected on rank 0 at step 2 (a `skip` record),
validation every 3 steps, stopped after step 4 and resumed to step 6. Then:
  - RUN/tensorboard holds one event file per invocation (rank 0 only), each starting with
    file_version "brain.Event:2" and readable to its end (LegacyEventFileLoader checks every CRC);
  - the scalar events, in order, are exactly metrics.jsonl's records through the documented
    mapping (launch/tb_scalars.h, restated below): same tags, steps, and values rounded to float32;
  - the named tags of the issue are among them (train/loss ... test/log_loss, train/skipped_steps);
  - the histograms are there with the right counts: token lengths before truncation of the train
    rows at each start (train_rows values, some above max_len), and the probability of the true
    label at each evaluation (n values in [0, 1]); their buckets add up to the count;
  - TensorBoard's EventAccumulator (what `tensorboard --logdir` uses) lists the same tags and steps.
A run whose TensorBoard directory cannot be created fails naming the path; train.tensorboard =
false writes none. Usage: tensorboard_check.py ARENA_BINARY
"""
import glob
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import tensorboard
from tensorboard.backend.event_processing import event_accumulator, event_file_loader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_checks  # noqa: E402  (the tiny model every training check uses)

ARENA = train_checks.ARENA
SOURCE, SHARED, MPIRUN = train_checks.SOURCE, train_checks.SHARED, train_checks.MPIRUN
MAX_LEN = 96
BASE = train_checks.BASE + ["--batch.eval_rows", "16"]
assert BASE[BASE.index("--max-len") + 1] == str(MAX_LEN)
NAMED_TAGS = ["train/loss", "train/accuracy", "train/lr", "train/grad_norm", "train/tokens_per_s",
              "train/samples_per_s", "train/skipped_steps", "val/accuracy", "val/log_loss", "test/accuracy",
              "test/log_loss"]
HISTOGRAM_BUCKETS = 30  # launch/metrics_log.h: 30 equal-width buckets between min and max


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(args, ranks=1, env=None, check=True):
    cmd = (MPIRUN + ["-np", str(ranks)] if ranks > 1 else []) + [ARENA] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
    if check and p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


# The mapping of launch/tb_scalars.h, restated: tag = group/field for every number but "step".
def group_of(r):
    kind, split = r.get("kind", "record"), r.get("split", "")
    if kind in ("train", "skip"):
        return "train"
    if kind == "start":
        return "run"
    if kind == "eval" and split:
        return split
    if kind == "baselines" and split:
        return split + "/baselines"
    return kind


def flatten(tag, v, out):
    if isinstance(v, bool) or isinstance(v, str):
        return
    if v is None:  # a NaN: JSON has no NaN, nlohmann writes null
        out.append((tag, math.nan))
    elif isinstance(v, (int, float)):
        out.append((tag, float(v)))
    elif isinstance(v, dict):
        for k in sorted(v):
            flatten(f"{tag}/{k}", v[k], out)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            flatten(f"{tag}/{i}", x, out)


def expected_scalar_events(records):
    events, last = [], 0
    for r in records:
        step = next((r[k] for k in ("step", "resumed_at", "steps") if isinstance(r.get(k), int)), last)
        last = step
        values = []
        for k in sorted(r):
            if k != "step":
                flatten(f"{group_of(r)}/{k}", r[k], values)
        if values:
            events.append((step, values))
    return events


def read_events(tb_dir):
    files = sorted(glob.glob(os.path.join(tb_dir, "*tfevents*")))
    scalars, histograms = [], []
    for path in files:
        # The events as stored (EventFileLoader would also migrate them to tensors, as the
        # EventAccumulator below sees them).
        events = list(event_file_loader.LegacyEventFileLoader(path).Load())
        if not events or events[0].file_version != "brain.Event:2":
            fail(f"{path}: the first event is not file_version brain.Event:2")
        for e in events[1:]:
            vals = list(e.summary.value)
            if not vals:
                fail(f"{path}: an event at step {e.step} without a summary")
            if all(v.HasField("histo") for v in vals):
                histograms += [(v.tag, e.step, v.histo) for v in vals]
            elif any(v.HasField("histo") for v in vals):
                fail(f"{path}: scalars and a histogram in one event at step {e.step}")
            else:
                scalars.append((e.step, [(v.tag, v.simple_value) for v in vals]))
    return files, scalars, histograms


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_scalars(records, scalars):
    want = expected_scalar_events(records)
    if len(want) != len(scalars):
        fail(f"{len(scalars)} scalar events, metrics.jsonl gives {len(want)}")
    count = 0
    for (ws, wv), (gs, gv) in zip(want, scalars):
        if ws != gs or [t for t, _ in wv] != [t for t, _ in gv]:
            fail(f"event at step {gs} with tags {[t for t, _ in gv]}; expected step {ws}, tags {[t for t, _ in wv]}")
        for (tag, w), (_, g) in zip(wv, gv):
            if not same(f32(w), g):
                fail(f"{tag} at step {gs}: {g} in the event file, {w} (float32 {f32(w)}) in metrics.jsonl")
            count += 1
    return count


def check_histograms(records, histograms):
    want = []
    for r in records:
        if r["kind"] == "start":
            want.append(("data/train_tokens_before_truncation", r["resumed_at"], r["train_rows"]))
        if r["kind"] == "eval":
            want.append((f"{r['split']}/p_true_label", r["step"], r["n"]))
    got = sorted((tag, step, int(h.num)) for tag, step, h in histograms)
    if got != sorted(want):
        fail(f"histograms (tag, step, count) {got}, expected {sorted(want)}")
    for tag, step, h in histograms:
        limits, counts = list(h.bucket_limit), list(h.bucket)
        if len(limits) != len(counts) or len(counts) not in (1, HISTOGRAM_BUCKETS) or sum(counts) != h.num:
            fail(f"{tag} at step {step}: {len(counts)} buckets holding {sum(counts)} of {h.num} values")
        if limits != sorted(limits) or limits[-1] != h.max or h.min > h.max:
            fail(f"{tag} at step {step}: bucket limits {limits} (min {h.min}, max {h.max})")
        if tag.endswith("p_true_label") and not (0 <= h.min and h.max <= 1):
            fail(f"{tag} at step {step}: probabilities outside [0, 1]: {h.min} .. {h.max}")
        if tag.startswith("data/") and not (h.min >= 1 and h.max > MAX_LEN):
            fail(f"{tag}: lengths {h.min} .. {h.max}: expected some above max_len {MAX_LEN} (before truncation)")
    return len(histograms)


def check_accumulator(tb_dir, records, scalar_tags):
    acc = event_accumulator.EventAccumulator(tb_dir, size_guidance={event_accumulator.SCALARS: 0,
                                                                    event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()
    missing = [t for t in NAMED_TAGS if t not in tags["scalars"]]
    if missing or set(tags["scalars"]) != scalar_tags:
        fail(f"EventAccumulator scalars {sorted(tags['scalars'])}; missing {missing}")
    hist = {"data/train_tokens_before_truncation", "val/p_true_label", "test/p_true_label"}
    if set(tags["histograms"]) != hist:
        fail(f"EventAccumulator histograms {tags['histograms']}, expected {sorted(hist)}")
    train = [r for r in records if r["kind"] == "train"]
    loss = acc.Scalars("train/loss")
    if [e.step for e in loss] != [r["step"] for r in train] or any(e.value != f32(r["loss"]) for e, r in zip(loss, train)):
        fail(f"EventAccumulator train/loss {[(e.step, e.value) for e in loss]} vs metrics.jsonl")
    skipped = acc.Scalars("train/skipped_steps")
    if [(e.step, e.value) for e in skipped] != [(2, 1.0)]:
        fail(f"train/skipped_steps {[(e.step, e.value) for e in skipped]}, expected one skip at step 2")


def main():
    print(f"tensorboard {tensorboard.__version__}")
    tmp = tempfile.mkdtemp(prefix="arena_tb_")
    out = os.path.join(tmp, "run")
    common = BASE + ["--steps", "6", "--train.eval_every", "3", "--out", out]
    run(common + ["--train.stop_after", "4"], ranks=2, env={"ARENA_FAULT": "0:2:nan"})
    run(["train", "--resume", out], ranks=2)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    if not any(r["kind"] == "skip" for r in records):
        fail("no skip record: ARENA_FAULT did not fire")
    files, scalars, histograms = read_events(os.path.join(out, "tensorboard"))
    if len(files) != 2:
        fail(f"{len(files)} event files for 2 invocations on 2 ranks (rank 0 writes one per invocation): {files}")
    n_values = check_scalars(records, scalars)
    n_hist = check_histograms(records, histograms)
    scalar_tags = {t for _, vals in scalars for t, _ in vals}
    check_accumulator(os.path.join(out, "tensorboard"), records, scalar_tags)
    print(f"OK: {len(files)} event files (run + resume, rank 0 of 2), {len(scalars)} scalar events from "
          f"{len(records)} metrics.jsonl records (checkpoint records hold no number), {n_values} values in "
          f"{len(scalar_tags)} tags equal to float32, "
          f"{n_hist} histograms with their counts; EventAccumulator sees the same tags")

    # The TensorBoard directory cannot be created (a file stands there): the error names it.
    blocked = os.path.join(tmp, "blocked")
    os.makedirs(blocked)
    with open(os.path.join(blocked, "tensorboard"), "w") as f:
        f.write("not a directory\n")
    args = BASE + ["--steps", "1", "--train.eval_every", "1000", "--out", blocked]
    p = run(args, check=False)
    text = p.stdout + p.stderr
    if p.returncode == 0 or os.path.join(blocked, "tensorboard") not in text or "TensorBoard" not in text:
        fail(f"an unwritable TensorBoard directory: exit {p.returncode}, output\n{text[-2000:]}")
    print("OK: unwritable TensorBoard directory:", [l for l in text.splitlines() if "TensorBoard" in l][0])
    run(args + ["--train.tensorboard", "false"])
    print("OK: train.tensorboard = false trains without it")


if __name__ == "__main__":
    main()
