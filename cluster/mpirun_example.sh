#!/bin/bash
# arena with plain mpirun (Open MPI), no scheduler: one rank per GPU on one or several hosts.
#
#   cluster/mpirun_example.sh [arena train options]                       # this host, all its GPUs
#   HOSTFILE=hosts.txt cluster/mpirun_example.sh [arena train options]    # several hosts
#   SINGLE_GPU=1 cluster/mpirun_example.sh [arena train options]          # no mpirun: one process, cuda:0
#
# hosts.txt has one line per host, "node01 slots=8" (slots = GPUs per host). Every host needs
# passwordless ssh from this one, the same paths for ARENA_BIN, MODEL, DATA and RUN_DIR (a
# shared file system), and the same GPU count. Run it from the repository root or set ARENA_HOME.
#
# Stop cleanly: kill -USR1 <pid of this script> (it execs mpirun, which forwards SIGUSR1 to every
# rank): each rank finishes its optimizer step, rank 0 writes RUN_DIR/checkpoints/step-*.h5, all
# exit 0. Run it again and it resumes. Ctrl-C / SIGTERM make mpirun kill the ranks: no checkpoint
# beyond the last periodic one (train.checkpoint_every).
set -euo pipefail

ARENA_HOME=${ARENA_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
ARENA_ENV_FILE=${ARENA_ENV_FILE:-$ARENA_HOME/cluster/env.sh}
ARENA_BIN=${ARENA_BIN:-$ARENA_HOME/build/launch/arena}
CONFIG=${CONFIG:-$ARENA_HOME/configs/gemma2-2b-qlora.toml}
MODEL=${MODEL:-${MODEL_DIR:-$ARENA_HOME/models/gemma-2-2b}}   # a model directory or .gguf file (MODEL_DIR: older name)
DATA=${DATA:-$ARENA_HOME/train.parquet}
TOKENIZER=${TOKENIZER:-$MODEL/tokenizer.model}
RUN_DIR=${RUN_DIR:-$ARENA_HOME/runs/gemma2-2b-qlora}
EXTRA_ARGS=${EXTRA_ARGS:-}                 # more arena options, split on spaces
HOSTFILE=${HOSTFILE:-}                     # empty: this host only
# GPUs (= ranks) per host: those in CUDA_VISIBLE_DEVICES if set, else all that nvidia-smi lists here.
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
  GPUS_PER_NODE=${GPUS_PER_NODE:-$(tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c . || true)}
else
  GPUS_PER_NODE=${GPUS_PER_NODE:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)}
fi
BIND=${BIND:-none}                         # --bind-to: none, or numa (ranks stay on one NUMA domain)
MPIRUN=${MPIRUN:-mpirun}
MPIRUN_ARGS=${MPIRUN_ARGS:-}               # more mpirun options, split on spaces
SINGLE_GPU=${SINGLE_GPU:-0}                # 1: run arena alone (a world of one), no mpirun
AUTO_RESUME=${AUTO_RESUME:-1}              # 1: add --resume RUN_DIR when it holds a checkpoint

cd "$ARENA_HOME"
if [ -r "$ARENA_ENV_FILE" ]; then
  # shellcheck source=cluster/env.sh
  source "$ARENA_ENV_FILE"
fi

[ -x "$ARENA_BIN" ] || { echo "arena: ARENA_BIN=$ARENA_BIN is not an executable (build it, or set ARENA_BIN)" >&2; exit 2; }
if [[ $(tail -n 1 "$RUN_DIR/metrics.jsonl" 2>/dev/null || true) == *'"kind":"summary"'* ]]; then
  echo "arena: $RUN_DIR already finished (metrics.jsonl ends with its summary); set RUN_DIR to start another run"
  exit 0
fi
resume=()
if [ "$AUTO_RESUME" = 1 ] && compgen -G "$RUN_DIR/checkpoints/step-*.h5" > /dev/null; then
  resume=(--resume "$RUN_DIR")   # needs the same number of ranks that wrote the checkpoint
fi
read -r -a extra <<< "$EXTRA_ARGS"
read -r -a mpirun_extra <<< "$MPIRUN_ARGS"
train=("$ARENA_BIN" train -c "$CONFIG" --model "$MODEL" --data "$DATA" --tokenizer "$TOKENIZER"
       --out "$RUN_DIR" ${resume[@]+"${resume[@]}"} ${extra[@]+"${extra[@]}"} "$@")

if [ "$SINGLE_GPU" = 1 ]; then
  # Single-GPU fallback: started without mpirun, arena is a world of one on cuda:0 (NCCL unused).
  # CUDA_VISIBLE_DEVICES=3 cluster/mpirun_example.sh ... picks another GPU. SIGUSR1/SIGTERM: checkpoint and exit.
  echo "arena: ${train[*]}"
  exec "${train[@]}"
fi

[ "${GPUS_PER_NODE:-0}" -gt 0 ] || { echo "arena: no GPU found by nvidia-smi; set GPUS_PER_NODE" >&2; exit 2; }
hosts=1
hostfile=()
if [ -n "$HOSTFILE" ]; then
  hosts=$(grep -cEv '^[[:space:]]*(#|$)' "$HOSTFILE" || true)
  [ "$hosts" -gt 0 ] || { echo "arena: HOSTFILE=$HOSTFILE lists no host" >&2; exit 2; }
  hostfile=(--hostfile "$HOSTFILE")
fi
np=$((hosts * GPUS_PER_NODE))

# mpirun passes no environment to the ranks on other hosts unless told: -x each variable that
# matters (the NCCL/Open MPI/arena settings from cluster/env.sh and anything else you exported).
export_env=()
for v in $(compgen -e); do
  case $v in
    NCCL_* | ARENA_* | OMPI_MCA_* | UCX_* | OMP_NUM_THREADS | CUDA_DEVICE_ORDER | CUDA_VISIBLE_DEVICES | \
    LD_LIBRARY_PATH | PATH) export_env+=(-x "$v") ;;
  esac
done

# ppr:N:node places N ranks on every host in rank order, so a host's ranks are local ranks 0..N-1
# and each one takes cuda:<local rank>. --bind-to none leaves CPU placement to the OS (arena sizes
# its own thread pool: cores / ranks per host); numa keeps each rank and its memory on one NUMA node.
cmd=("$MPIRUN" -np "$np" ${hostfile[@]+"${hostfile[@]}"} --map-by "ppr:$GPUS_PER_NODE:node" --bind-to "$BIND"
     ${export_env[@]+"${export_env[@]}"} ${mpirun_extra[@]+"${mpirun_extra[@]}"} "${train[@]}")
echo "arena: ${cmd[*]}"
exec "${cmd[@]}"

# The same by hand, for reference:
#   one host, 8 GPUs:
#     mpirun -np 8 --map-by ppr:8:node --bind-to none -x NCCL_DEBUG -x PATH -x LD_LIBRARY_PATH \
#       build/launch/arena train -c configs/gemma2-2b-qlora.toml --model DIR --data FILE \
#       --tokenizer DIR/tokenizer.model --out runs/exp1
#   two hosts (hosts.txt: "node01 slots=8" / "node02 slots=8"), NCCL over InfiniBand:
#     mpirun -np 16 --hostfile hosts.txt --map-by ppr:8:node --bind-to numa \
#       -x NCCL_DEBUG=INFO -x NCCL_IB_HCA=mlx5 -x NCCL_SOCKET_IFNAME=ib0 -x PATH -x LD_LIBRARY_PATH \
#       build/launch/arena train ... --out /shared/runs/exp1
#   single GPU, no mpirun:
#     build/launch/arena train -c configs/gemma2-2b-qlora.toml --model DIR --data FILE \
#       --tokenizer DIR/tokenizer.model --out runs/exp1
