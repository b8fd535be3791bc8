# Sourced on the GPU machine (from the repository root) before running the bundled binaries:
# torch's libraries from the machine's own python3 torch, the bundle's extra libraries, and the
# bundled bitsandbytes on PYTHONPATH. See tools/device_bundle.sh.
ARENA_TORCH_LIB="$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LD_LIBRARY_PATH="$PWD/.devbundle/lib:$ARENA_TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONPATH="$PWD/.devbundle/py${PYTHONPATH:+:$PYTHONPATH}"
export ARENA_SOURCE_DIR="$PWD"
export PATH="$PWD/.devbundle/bin:$PATH"
export PYTHONUNBUFFERED=1
