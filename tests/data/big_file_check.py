#!/usr/bin/env python3
"""`arena data` streams a large file: its peak memory does not grow with the file (issue 19 part 5).

    big_file_check.py ARENA [ROWS] [BOUND_MB]

Writes ROWS (default 60,000: about 140 MB) realistic rows with tools/make_big_data.py, as WSDM
JSONL and as LMSYS CSV (the same rows), and 500 of them as a small file, in a temporary folder. Runs
`arena data --json` on each and reads each run's peak RSS (ru_maxrss from wait4). Checks:
  - every row of both big files is read and both give the same summary (CSV streamed record by
    record, every other record spanning several lines; JSONL line by line: the same pairs);
  - the big files' peak RSS exceeds the small file's by less than BOUND_MB (default 100 MB).
Measured on the 2-core dev VM (2026-12-04), 60,000 rows: reading the whole file first (before the
streaming reader) grew by about the file's size, ~150-180 MB; streaming grows by ~30-60 MB (batches of
texts in flight, one length per pair, allocator slack). The bound sits between them.
Needs ARENA_SHARED_DIR (the data and the Gemma tokenizer) and ARENA_SOURCE_DIR (the generator).
"""
import json
import os
import subprocess
import sys
import tempfile

ARENA = sys.argv[1]
ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 60_000
BOUND_MB = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
SHARED = os.environ["ARENA_SHARED_DIR"]
SOURCE = os.environ["ARENA_SOURCE_DIR"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def make(path, rows):
    subprocess.run([sys.executable, os.path.join(SOURCE, "tools", "make_big_data.py"), path, str(rows),
                    "--shared", SHARED], check=True)


def data(path):
    """(summary JSON, peak RSS in MB) of `arena data` on `path`."""
    cmd = [ARENA, "data", "--data", path, "--tokenizer", os.path.join(SHARED, "gemma", "tokenizer.model"),
           "--threads", "2", "--json"]
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        fail(f"{' '.join(cmd)} exited {status}\n{text}\n{err}")
    return json.loads(text.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main():
    with tempfile.TemporaryDirectory() as tmp:
        small, big_jsonl, big_csv = (os.path.join(tmp, n) for n in ("small.jsonl", "big.jsonl", "big.csv"))
        make(small, 500)
        make(big_jsonl, ROWS)
        make(big_csv, ROWS)
        size_mb = os.path.getsize(big_jsonl) / 1e6
        s_small, rss_small = data(small)
        s_jsonl, rss_jsonl = data(big_jsonl)
        s_csv, rss_csv = data(big_csv)
    for name, s in (("jsonl", s_jsonl), ("csv", s_csv)):
        if s["rows_read"] != ROWS or s["rows_skipped"]:
            fail(f"{name}: {s['rows_read']} rows read, skipped {s['rows_skipped']}; expected {ROWS}, none skipped")
    if s_jsonl != s_csv:
        fail(f"the same rows as JSONL and CSV summarize differently:\n{s_jsonl}\n{s_csv}")
    growth = max(rss_jsonl, rss_csv) - rss_small
    print(f"{ROWS} rows, {size_mb:.0f} MB: peak RSS small {rss_small:.0f} MB, JSONL {rss_jsonl:.0f} MB, "
          f"CSV {rss_csv:.0f} MB; growth {growth:.0f} MB (bound {BOUND_MB:.0f} MB)")
    if growth >= BOUND_MB:
        fail(f"peak RSS grew by {growth:.0f} MB on a {size_mb:.0f} MB file: reading does not stream")
    print("OK")


if __name__ == "__main__":
    main()
