#!/usr/bin/env bash
# Downloads Unsloth and the Python packages it needs that the GPU machine's image lacks, as wheels
# for that machine's python (CPython 3.12, x86-64), into .whl-unsloth/ (git-ignored), to carry with
# the device tool for the `unsloth` phase of tools/device_gpu_suite.sh (bench/peer_unsloth_step.py):
#   tools/fetch_unsloth_wheels.sh       # once, here (needs PyPI); prints the list and the total size
#   run(carry=[".devbundle", ".whl-unsloth"], command="tools/device_gpu_suite.sh unsloth")
# The GPU machine installs them offline with `pip install --no-index --no-deps --target .devsite`.
#
# Not downloaded, because the image has them (/work/.library/device/KINDS.md): torch 2.11.0,
# triton, nvidia-*, transformers 5.17.0, peft, accelerate, huggingface-hub, safetensors, tokenizers,
# sentencepiece, numpy, pandas, pyarrow, xxhash, fsspec, requests, tqdm, psutil, protobuf, jinja2...
# Left out on purpose (declared by unsloth but not imported on the Gemma-2 QLoRA training path, or
# optional there): xformers (optional, ~100+ MB, and it has no soft-capping so Gemma-2 never uses it),
# flash-attn (no wheel on PyPI; Unsloth then runs its torch.compile'd soft-capping attention; the `fa2` phase
# gives it FlashAttention-2 from tools/build_flash_attn_wheel.sh),
# diffusers, tyro, hf_transfer, pydantic, structlog, json5, nest-asyncio, typer, certifi (the CLI /
# Studio / downloads), and bitsandbytes: the bundle carries it, trimmed to its CUDA 13.0 library
# (.devbundle/py, put on PYTHONPATH by tools/device_env.sh), where the whole 43 MB wheel with the
# bundle would pass the 64 MiB carry.
#
# The unsloth wheel is 28 MB, 25 of it Studio's web app (studio/), which `import unsloth` never
# reads: it is repacked without studio/ (RECORD rewritten to match) to fit the 64 MiB carry.
set -euo pipefail
cd "$(dirname "$0")/.."
D="${UNSLOTH_WHEEL_DIR:-.whl-unsloth}"
PY="${PYTHON:-python3}"
# Versions: unsloth and unsloth_zoo 2026.10.9 accept transformers <= 5.17.0 (the machine's) and
# torch < 2.15; trl <= 1.15.0 and datasets < 5 (not 4.4.*, 4.5.0) are unsloth_zoo's bounds.
UNSLOTH=unsloth==2026.10.9   # repacked below
PINS=(unsloth_zoo==2026.10.9 trl==1.15.0 datasets==4.8.5 dill==0.4.1
      multiprocess==0.70.19 torchao==0.18.0 cut_cross_entropy==25.1.1 msgspec==0.23.0)

mkdir -p "$D"   # .gitignore lists /.whl-unsloth/
plat=(--only-binary=:all: --no-deps --python-version 3.12 --implementation cp
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
"$PY" -m pip download -q "${plat[@]}" -d "$D" "${PINS[@]}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q "${plat[@]}" -d "$tmp" "$UNSLOTH"
rm -f "$D"/bitsandbytes-*.whl  # (an earlier version of this script put it here)

# Repack unsloth without studio/ (Studio, the web UI: frontend build, backend, installers).
"$PY" - "$tmp" "$D" <<'PY'
import glob, os, sys, zipfile
for path in glob.glob(os.path.join(sys.argv[1], "unsloth-*.whl")):
    with zipfile.ZipFile(path) as z:
        tmp = os.path.join(sys.argv[2], os.path.basename(path) + ".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
            for info in z.infolist():
                if info.filename.startswith("studio/"):
                    continue
                data = z.read(info)
                if info.filename.endswith(".dist-info/RECORD"):
                    data = b"".join(l for l in data.splitlines(True) if not l.startswith(b"studio/"))
                out.writestr(info, data)
    os.replace(tmp, tmp[:-4])
    print(f"{os.path.basename(path)}: repacked without studio/ ({os.path.getsize(path)} -> {os.path.getsize(tmp[:-4])} bytes)")
PY

# Keep one version of each package (two stop the offline install).
"$PY" - "$D" <<'PY'
import collections, glob, os, re, sys
seen = collections.defaultdict(list)
for w in glob.glob(os.path.join(sys.argv[1], "*.whl")):
    seen[re.sub(r"[-_.]+", "_", os.path.basename(w).split("-")[0]).lower()].append(os.path.basename(w))
dups = {k: v for k, v in seen.items() if len(v) > 1}
if dups:
    sys.exit(f"more than one version in {sys.argv[1]}: {dups}; remove the old ones")
PY
stat -c '%s %n' "$D"/*.whl | awk '{printf "%9d  %s\n", $1, $2; t += $1} END {printf "%9d  total (%.1f MiB)\n", t, t / 1048576}'
