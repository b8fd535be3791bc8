#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses: tests/fuzz/corpus/<reader>/.

Run from the repository root: python3 tests/fuzz/make_seeds.py [SHARED_DIR] [CHECKPOINT.h5]
SHARED_DIR (default ../shared) holds the real data; each seed is a small slice of a real file (its
first rows, long fields cut to 400 characters) or a small test fixture, so the corpora stay a few
hundred KB. CHECKPOINT.h5 (optional) is a small checkpoint written by `arena train`; without it the
checkpoint seeds are left as they are. Needs pyarrow, safetensors and numpy (tools/setup.sh).
Deterministic: gzip members are written with mtime 0.
"""
import csv
import gzip
import io
import json
import os
import struct
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from safetensors.numpy import save as st_save

ROOT = os.getcwd()
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared")
CKPT = sys.argv[2] if len(sys.argv) > 2 else None
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
FIX = os.path.join(ROOT, "tests", "fixtures")
CUT = 400


def write(reader, name, data):
    os.makedirs(os.path.join(OUT, reader), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, reader, name), "wb") as f:
        f.write(data)


def gz(data):
    if isinstance(data, str):
        data = data.encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def cut(value):
    if isinstance(value, str):
        return value[:CUT]
    if isinstance(value, list):
        return [cut(v) for v in value]
    if isinstance(value, dict):
        return {k: cut(v) for k, v in value.items()}
    return value


def first_jsonl(path, n, opener=open):
    with opener(path, "rt", encoding="utf-8") as f:
        return "".join(json.dumps(cut(json.loads(next(f))), ensure_ascii=False) + "\n" for _ in range(n))


def csv_text(rows):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def first_csv(path, n):
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for _, row in zip(range(n + 1), csv.reader(f))]
    return csv_text([rows[0]] + [[c if c.startswith("[") and len(c) < CUT else c[:CUT] for c in r] for r in rows[1:]])


def main():
    data = os.path.join(SHARED, "data")
    # CSV: LMSYS (JSON-list turns, one-hot winners) and WSDM-style columns; plain and gzip.
    lmsys = first_csv(os.path.join(data, "lmsys-arena-train-sample.csv"), 3)
    autoj = [json.loads(l) for l in first_jsonl(os.path.join(data, "autoj-pairwise.jsonl"), 3).splitlines()]
    cols = ["id", "prompt", "response_a", "response_b", "winner"]
    wsdm = csv_text([cols] + [[str(r.get(c, "")) for c in cols] for r in autoj])
    write("csv", "lmsys-train-3.csv", lmsys)
    write("csv", "lmsys-train-3.csv.gz", gz(lmsys))
    write("csv", "wsdm-autoj-3.csv", wsdm)
    write("csv", "quoted.csv", 'id,prompt,response_a,response_b\n1,"a ""quoted"", field","multi\nline",b\n')
    # JSONL: WSDM fields (Auto-J), HH-RLHF dialogue strings, TRL message lists with a prompt and margin.
    write("jsonl", "autoj-3.jsonl", first_jsonl(os.path.join(data, "autoj-pairwise.jsonl"), 3))
    hh = first_jsonl(os.path.join(data, "hh-rlhf-helpful-base-test.jsonl.gz"), 3, gzip.open)
    write("jsonl", "hh-base-3.jsonl", hh)
    write("jsonl", "hh-base-3.jsonl.gz", gz(hh))
    trl = {"prompt": [{"role": "user", "content": "Hi?"}], "chosen": [{"role": "assistant", "content": "Hello."}],
           "rejected": [{"role": "assistant", "content": "No."}], "margin": 0.5, "id": 7}
    write("jsonl", "trl-messages.jsonl", json.dumps(trl) + "\n")
    # gzip: one member, two concatenated members, and a truncated stream.
    online = first_jsonl(os.path.join(data, "hh-rlhf-helpful-online-test.jsonl.gz"), 2, gzip.open)
    write("gzip", "hh-online-2.jsonl.gz", gz(online))
    write("gzip", "two-members.jsonl.gz", gz(online[:200]) + gz(online[200:]))
    write("gzip", "truncated.jsonl.gz", gz(online)[:100])
    # Parquet: the first rows of the WSDM fixture, as written by pyarrow (one and two row groups).
    table = pq.read_table(os.path.join(FIX, "data", "wsdm-sample.parquet")).slice(0, 3)
    table = pa.table({n: pa.array([cut(v) for v in table.column(n).to_pylist()], type=table.column(n).type)
                      for n in table.column_names})
    for name, kw in [("wsdm-3.parquet", {}), ("wsdm-3-groups.parquet", {"row_group_size": 2, "compression": "NONE"})]:
        buf = io.BytesIO()
        pq.write_table(table, buf, **kw)
        write("parquet", name, buf.getvalue())
    # SentencePiece: the BPE fixture (20 KB).
    write("spm", "bpe-unused.model", open(os.path.join(FIX, "spm", "bpe-unused.model"), "rb").read())
    # GGUF: the reader fixture (metadata of every type, a few tensors).
    write("gguf", "reader.gguf", open(os.path.join(FIX, "gguf", "reader.gguf"), "rb").read())
    # TOML: the shipped configs.
    for name in sorted(os.listdir(os.path.join(ROOT, "configs"))):
        if name.endswith(".toml"):
            write("toml", name, open(os.path.join(ROOT, "configs", name), "rb").read())
    # safetensors: every dtype, metadata, an empty tensor.
    tensors = {"f32": np.arange(6, dtype=np.float32).reshape(2, 3), "f16": np.ones(4, np.float16),
               "i64": np.array([1, -2], np.int64), "u8": np.arange(5, dtype=np.uint8), "b": np.array([True, False]),
               "empty": np.zeros((0, 3), np.float32), "f64": np.array([0.5])}
    write("safetensors", "dtypes.safetensors", st_save(tensors, metadata={"format": "pt"}))
    # bitsandbytes quant_state: the JSON of the fixture's 4-bit weights, behind the absmax-kind byte
    # (bit 0: uint8 absmax, as with nested quantization; fuzz_bnb_quant_state.cpp).
    states = set()
    for path in [os.path.join(FIX, "qlora", "bnb4bit", "model.safetensors"), os.path.join(FIX, "nf4", "bnb_nf4.safetensors")]:
        raw = open(path, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        for name, e in json.loads(raw[8:8 + n]).items():
            if "quant_state" in name:
                s, t = e["data_offsets"]
                states.add(raw[8 + n + s:8 + n + t])
    for i, state in enumerate(sorted(states)[:4]):
        nested = b"nested_offset" in state
        write("bnb_quant_state", f"fixture-{i}.json", bytes([1 if nested else 0]) + state)
    write("bnb_quant_state", "matching.json", b"\x00" + json.dumps(
        {"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [4, 64]}).encode())
    write("bnb_quant_state", "matching-nested.json", b"\x01" + json.dumps(
        {"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [4, 64], "nested_blocksize": 256,
         "nested_offset": 0.25}).encode())
    if CKPT:
        write("checkpoint", "tiny.h5", open(CKPT, "rb").read())


if __name__ == "__main__":
    main()
