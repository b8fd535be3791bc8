#!/usr/bin/env python3
"""Writes a large preference file of realistic rows, for measuring memory and time on big inputs.

    tools/make_big_data.py OUT.jsonl [ROWS] [--seed N] [--shared DIR]
    tools/make_big_data.py OUT.csv   [ROWS] ...

Every row is sampled from the real rows in DIR/data (Auto-J pairwise, the LMSYS train head and
the HH-RLHF helpful-base test set); one row in four gets a second sampled row's turns appended as
more turns (multi-turn rows, as LMSYS has). Ids are new ("big-0000001", ...), labels follow the
source row (HH-RLHF: chosen is A or B by a seeded coin). Rows average about 2.2 KB, so 500,000
rows make about 1.1 GB.

  .jsonl  WSDM fields {id, model_a, model_b, prompt, response_a, response_b, winner}, with the
          turns as JSON lists
  .csv    Kaggle LMSYS train.csv (turn fields are JSON lists, one-hot winner columns); every
          other row writes its lists one item a line, so its record spans several lines

Do not commit the output.
"""
import argparse
import csv
import gzip
import json
import os
import random
import sys

WINNERS = ["model_a", "model_b", "tie"]


def hh_turns(text):
    """'\\n\\nHuman: ..\\n\\nAssistant: ..' -> [(role, text)]."""
    out = []
    for chunk in text.split("\n\n"):
        if chunk.startswith("Human:"):
            out.append(["user", chunk[6:].lstrip(" ")])
        elif chunk.startswith("Assistant:"):
            out.append(["assistant", chunk[10:].lstrip(" ")])
        elif out:
            out[-1][1] += "\n\n" + chunk
    return out


def load_rows(shared, rng):
    """Source rows as (prompt turns, A turns, B turns, winner, model_a, model_b)."""
    rows = []
    with open(os.path.join(shared, "data", "autoj-pairwise.jsonl"), encoding="utf-8") as f:
        for line in f:
            j = json.loads(line)
            if j.get("winner") in WINNERS:
                rows.append(([j["prompt"]], [j["response_a"]], [j["response_b"]], j["winner"], "", ""))
    csv.field_size_limit(1 << 30)
    with open(os.path.join(shared, "data", "lmsys-arena-train-head1000.csv"), encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            one_hot = r["winner_model_a"] + r["winner_model_b"] + r["winner_tie"]
            turns = [[t or "" for t in json.loads(r[k])] for k in ("prompt", "response_a", "response_b")]
            rows.append((*turns, WINNERS[one_hot.index("1")], r["model_a"], r["model_b"]))
    with gzip.open(os.path.join(shared, "data", "hh-rlhf-helpful-base-test.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            j = json.loads(line)
            chosen, rejected = hh_turns(j["chosen"]), hh_turns(j["rejected"])
            if not chosen or chosen[-1][0] != "assistant" or not rejected or rejected[-1][0] != "assistant":
                continue
            prompt = [t for role, t in chosen[:-1] if role == "user"]
            if not prompt:
                continue
            swap = rng.random() < 0.5
            a, b = (rejected, chosen) if swap else (chosen, rejected)
            rows.append((prompt[-1:], [a[-1][1]], [b[-1][1]], "model_b" if swap else "model_a", "", ""))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("rows", nargs="?", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=1)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--shared", default=os.environ.get("ARENA_SHARED_DIR", os.path.join(here, "..", "..", "shared")))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    src = load_rows(a.shared, rng)
    is_csv = a.out.lower().endswith(".csv")
    with open(a.out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n") if is_csv else None
        if w:
            w.writerow(["id", "model_a", "model_b", "prompt", "response_a", "response_b",
                        "winner_model_a", "winner_model_b", "winner_tie"])
        for k in range(a.rows):
            p, ra, rb, winner, ma, mb = rng.choice(src)
            p, ra, rb = list(p), list(ra), list(rb)
            if rng.random() < 0.25:  # a second row's turns as more turns of this one
                p2, ra2, rb2, _, _, _ = rng.choice(src)
                n = min(len(p2), len(ra2), len(rb2))
                p, ra, rb = p + p2[:n], ra + ra2[:n], rb + rb2[:n]
            rid = f"big-{k:07d}"
            if w:
                # Every other row's lists one item a line: raw newlines inside quoted fields.
                ind = 1 if k % 2 else None
                w.writerow([rid, ma, mb] + [json.dumps(x, indent=ind) for x in (p, ra, rb)] +
                           ["1" if winner == x else "0" for x in WINNERS])
            else:
                f.write(json.dumps({"id": rid, "model_a": ma, "model_b": mb, "prompt": p, "response_a": ra,
                                    "response_b": rb, "winner": winner}) + "\n")
    print(f"{a.out}: {a.rows} rows, {os.path.getsize(a.out) / 1e6:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
