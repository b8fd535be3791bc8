#!/usr/bin/env python3
"""Side by side: an arena run directory and bench/peer_train.py's JSON for the same job. Prints
both loss curves, the test accuracy and log loss with 95 % intervals from the test rows, the
baselines on those rows, and the wall times; writes the lot to --json.
Usage: compare_runs.py RUN_DIR PEER_JSON [--ours-wall SECONDS] [--rows N] [--json OUT]"""
import argparse
import json
import math
import sys


def read_jsonl(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"compare_runs.py: error: {path}:{n}: {e}")
    return out


def interval(r):
    acc = 1.96 * math.sqrt(r["accuracy"] * (1 - r["accuracy"]) / r["n"]) if r["n"] else 0.0
    return acc, 1.96 * r.get("log_loss_se", 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run")
    ap.add_argument("peer")
    ap.add_argument("--ours-wall", type=float, default=None, help="wall seconds of the whole arena train command")
    ap.add_argument("--rows", type=int, default=24, help="curve rows to print (evenly spaced steps)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    metrics = read_jsonl(f"{a.run}/metrics.jsonl")
    with open(a.peer) as f:
        peer = json.load(f)
    ours_curve = {m["step"]: m for m in metrics if m.get("kind") == "train"}
    peer_curve = {c["step"]: c for c in peer["curve"]}
    summary = next((m for m in reversed(metrics) if m.get("kind") == "summary"), None)
    test = next((m for m in reversed(metrics) if m.get("kind") == "eval" and m["split"] == "test"), None)
    base = next((m for m in reversed(metrics) if m.get("kind") == "baselines"), None)
    if not (summary and test):
        sys.exit(f"compare_runs.py: error: {a.run}/metrics.jsonl has no summary/test record: the run did not finish")

    steps = sorted(set(ours_curve) | set(peer_curve))
    every = max(1, math.ceil(len(steps) / a.rows))
    shown = [s for i, s in enumerate(steps) if i % every == 0 or s == steps[-1]]
    print(f"{'step':>6} {'ours loss':>10} {'peer loss':>10} {'ours acc':>9} {'peer acc':>9} {'lr':>9}")
    for s in shown:
        o, p = ours_curve.get(s, {}), peer_curve.get(s, {})
        cell = lambda d, k, f: format(d[k], f) if k in d else "-"
        print(f"{s:>6} {cell(o, 'loss', '10.4f')} {cell(p, 'loss', '10.4f')} {cell(o, 'accuracy', '9.3f')} "
              f"{cell(p, 'accuracy', '9.3f')} {cell(o, 'lr', '9.2e')}")

    rows = []
    if base:
        rows.append(("majority class", base["majority"]["accuracy"], None, None, None, None))
        rows.append(("longer answer (tokens)", base["longer_answer_tokens"]["accuracy"], None, None, None, None))
        if "label_prior" in base:
            rows.append(("label prior", None, None, base["label_prior"]["log_loss"], None, None))
    oa, ol = interval(test)
    pa, pl = interval(peer["test"])
    rows.append(("arena", test["accuracy"], oa, test["log_loss"], ol, summary.get("train_seconds")))
    rows.append(("peer: " + peer["impl"], peer["test"]["accuracy"], pa, peer["test"]["log_loss"], pl,
                 peer["train_seconds"]))
    print(f"\ntest split, n = {test['n']} (intervals: 95 %, from the test rows)")
    for name, acc, acc_ci, ll, ll_ci, secs in rows:
        acc_s = f"{acc:.4f}" + (f" ± {acc_ci:.4f}" if acc_ci is not None else "") if acc is not None else "-"
        ll_s = f"{ll:.4f}" + (f" ± {ll_ci:.4f}" if ll_ci is not None else "") if ll is not None else "-"
        secs_s = f"{secs:.1f} s training" if secs is not None else ""
        print(f"  {name:<52} accuracy {acc_s:<17} log loss {ll_s:<17} {secs_s}")
    ratio = peer["train_seconds"] / summary["train_seconds"] if summary.get("train_seconds") else None
    if ratio:
        print(f"training loop: arena {summary['train_seconds']:.1f} s, peer {peer['train_seconds']:.1f} s "
              f"({ratio:.2f}x arena's time)")
    if a.ours_wall is not None:
        print(f"whole command (load, tokenize or read the cache, train, evaluate): arena {a.ours_wall:.1f} s, "
              f"peer {peer['total_seconds']:.1f} s")
    # Peak memory, the same kind on both sides: the largest rank's resident set on the CPU, the
    # caching allocator's peak allocated bytes on CUDA (arena's summary since 2026-12-04).
    ours_peak = summary.get("peak_device_allocated_mib" if peer.get("peak_memory_kind") == "cuda allocated"
                            else "peak_rss_mib")
    if ours_peak is not None and peer.get("peak_memory_mib"):
        print(f"peak memory ({peer['peak_memory_kind']}): arena {ours_peak:.0f} MiB, peer {peer['peak_memory_mib']:.0f} MiB "
              f"({ours_peak / peer['peak_memory_mib']:.2f}x the peer's)")
    diff_acc = test["accuracy"] - peer["test"]["accuracy"]
    diff_ll = test["log_loss"] - peer["test"]["log_loss"]
    same = abs(diff_acc) <= math.hypot(oa, pa) and abs(diff_ll) <= math.hypot(ol, pl)
    print(f"difference arena - peer: accuracy {diff_acc:+.4f}, log loss {diff_ll:+.4f}: "
          + ("within the test set's noise" if same else "OUTSIDE the test set's noise"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"ours": {"test": test, "train_seconds": summary.get("train_seconds"), "wall_seconds": a.ours_wall,
                                "peak_memory_mib": ours_peak, "curve": list(ours_curve.values())},
                       "peer": peer, "baselines": base, "train_seconds_ratio": ratio, "within_noise": same}, f)
            f.write("\n")


if __name__ == "__main__":
    main()
