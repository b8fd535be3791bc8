#!/usr/bin/env bash
# Runs tools/ompi_tcp_crash/mini.c N times as 2 ranks on 2 Slurm nodes of a local test cluster
# (tools/slurm_local.sh, its own ports and directory), with LOAD CPU burners beside it, and counts
# the runs that fail. Extra NAME=VALUE arguments are exported first (e.g. OMPI_MCA_btl_tcp_if_include=lo).
# Each failure's output is kept in $DIR/fail.<run>.txt.
#   tools/ompi_tcp_crash/repro.sh [N=60] [NAME=VALUE ...]      (LOAD=2 by default; LOAD=0: idle)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-60}; [ $# -gt 0 ] && shift
DIR=${DIR:-/tmp/ompi-tcp-crash}
export ARENA_SLURM_DIR="$DIR/slurm" SLURM_PORT=${SLURM_PORT:-17817} ARENA_SLURM_NODES=2
mkdir -p "$DIR"
mpicc -O1 -o "$DIR/mini" "$here/mini.c"
"$here/../slurm_local.sh" start
export SLURM_CONF="$ARENA_SLURM_DIR/slurm.conf"
for a in "$@"; do export "${a?}"; done
burners=()
for _ in $(seq "${LOAD:-2}"); do yes > /dev/null & burners+=($!); done
trap 'kill "${burners[@]}" 2>/dev/null; "$here/../slurm_local.sh" stop' EXIT
fails=0
for i in $(seq "$n"); do
  if ! timeout 60 srun --mpi=pmix --kill-on-bad-exit=1 -N2 -n2 --ntasks-per-node=1 "$DIR/mini" > "$DIR/out.txt" 2>&1; then
    fails=$((fails + 1))
    cp "$DIR/out.txt" "$DIR/fail.$i.txt"
    echo "run $i failed: $(grep -m1 -o 'mca_btl_tcp_[a-z_]*+0x[0-9a-f]*\|Failing at address: .*' "$DIR/out.txt" | head -1)"
    scancel --user "$(id -un)" || true
    while [ -n "$(squeue -h)" ]; do sleep 1; done
  fi
done
echo "failed: $fails / $n (load ${LOAD:-2}; $*)"
