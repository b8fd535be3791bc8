#!/usr/bin/env python3
"""The model/ libraries' dependency graph, as the build declares it, is a DAG and the sources keep to it.

Reads every model/<concern>/CMakeLists.txt for the arena:: libraries it links, then checks that
  1. the graph has no cycle;
  2. each source under model/<concern>/ includes project headers only from its own folder, from
     a folder its library reaches through that graph, or from common/;
  3. nothing under model/ includes the launcher, data, dist or optim libraries.
Prints the graph and exits 1 with one line per violation. Usage: check_layers.py [SOURCE_DIR]
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
model = root / "model"
# CMake alias -> folder under model/.
folder_of = {"cuda": "cuda", "quant": "quant", "nn": "nn", "lora": "lora", "gemma": "gemma",
             "model_io": "io", "peft": "peft"}

graph = {}
for cmake in sorted(model.glob("*/CMakeLists.txt")):
    concern = cmake.parent.name
    text = cmake.read_text()
    links = re.findall(r"target_link_libraries\((.*?)\)", text, re.S)
    deps = {folder_of[a] for block in links for a in re.findall(r"arena::(\w+)", block) if a in folder_of}
    deps.discard(concern)
    graph[concern] = deps

errors = []
missing = set(folder_of.values()) - set(graph)
if missing:
    errors.append(f"model/: no CMakeLists.txt for {sorted(missing)}")


def reach(node, seen):
    for d in graph.get(node, ()):
        if d not in seen:
            seen.add(d)
            reach(d, seen)
    return seen


for node in graph:
    if node in reach(node, set()):
        errors.append(f"cycle: model/{node} reaches itself")

include = re.compile(r'#include\s+"([^"]+)"')
for src in sorted(p for p in model.rglob("*") if p.suffix in {".h", ".cpp", ".cu", ".cuh"}):
    concern = src.relative_to(model).parts[0]
    allowed = reach(concern, set()) | {concern}
    for n, line in enumerate(src.read_text().splitlines(), 1):
        m = include.match(line.strip())
        if not m:
            continue
        parts = m.group(1).split("/")
        where = f"{src.relative_to(root)}:{n}"
        if parts[0] == "model":
            if len(parts) < 3:
                errors.append(f"{where}: {m.group(1)} is not in a model/ sub-folder")
            elif parts[1] not in allowed:
                errors.append(f"{where}: model/{concern} includes {m.group(1)}, but arena's {concern} library "
                              f"does not link the {parts[1]} library (it reaches {sorted(allowed - {concern})})")
        elif parts[0] in {"launch", "data", "dist", "optim"}:
            errors.append(f"{where}: model/ must not include {m.group(1)} (model is below {parts[0]})")

for node in sorted(graph, key=lambda k: len(reach(k, set()))):
    print(f"model/{node:6} -> {', '.join(sorted(graph[node])) or '(common, torch only)'}")
for e in errors:
    print("error:", e)
sys.exit(1 if errors else 0)
