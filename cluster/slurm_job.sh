#!/bin/bash
# The body of arena's Slurm batch scripts (slurm_1node_8gpu.sbatch, slurm_multinode.sbatch exec it,
# so it runs as the batch shell itself: same pid, same signals). Not meant to be run by hand.
#
# Settings come from the environment at submit time (sbatch exports it), each with a default below;
# options given after the .sbatch name, and EXTRA_ARGS, go to `arena train` last and so win.
# An empty MODEL, DATA or TOKENIZER leaves that input to the config (e.g. a random-init shape).
set -uo pipefail

# ---- settings (override by exporting before sbatch) ------------------------------------------------
ARENA_HOME=${ARENA_HOME:-${SLURM_SUBMIT_DIR:-$PWD}}
ARENA_ENV_FILE=${ARENA_ENV_FILE:-$ARENA_HOME/cluster/env.sh}   # NCCL/MPI environment, sourced if present
ARENA_BIN=${ARENA_BIN:-$ARENA_HOME/build/launch/arena}
CONFIG=${CONFIG:-$ARENA_HOME/configs/gemma2-2b-qlora.toml}
MODEL=${MODEL-${MODEL_DIR-$ARENA_HOME/models/gemma-2-2b}}      # a model directory or .gguf file (MODEL_DIR: older name)
DATA=${DATA-$ARENA_HOME/train.parquet}
if [ -d "$MODEL" ]; then TOKENIZER=${TOKENIZER-$MODEL/tokenizer.model}; else TOKENIZER=${TOKENIZER-}; fi
RUN_DIR=${RUN_DIR:-$ARENA_HOME/runs/gemma2-2b-qlora}           # on storage every node sees; keep it across requeues
THREADS=${THREADS:-${SLURM_CPUS_PER_TASK:-0}}                   # --train.threads (0: arena's default)
EXTRA_ARGS=${EXTRA_ARGS:-}                                      # more arena options, split on spaces
SRUN_MPI=${SRUN_MPI:-pmix}                                      # srun --mpi=...; pmi2 where PMIx is missing (srun --mpi=list)
SRUN_ARGS=${SRUN_ARGS:-}                                        # more srun options, split on spaces
AUTO_RESUME=${AUTO_RESUME:-1}                                   # 1: add --resume RUN_DIR when it holds a checkpoint
AUTO_REQUEUE=${AUTO_REQUEUE:-1}                                 # 1: requeue this job after a signal stop (time limit)
MAX_RESTARTS=${MAX_RESTARTS:-20}                                # ... at most this many times (SLURM_RESTART_COUNT)

cd "$ARENA_HOME" || { echo "arena: ARENA_HOME=$ARENA_HOME: no such directory" >&2; exit 2; }
if [ -r "$ARENA_ENV_FILE" ]; then
  # shellcheck source=cluster/env.sh
  source "$ARENA_ENV_FILE"
fi

fail() { echo "arena: $*" >&2; exit 2; }
[ -x "$ARENA_BIN" ] || fail "ARENA_BIN=$ARENA_BIN is not an executable (build it, or set ARENA_BIN)"
[ -f "$CONFIG" ] || fail "CONFIG=$CONFIG: no such file"
[ -z "$MODEL" ] || [ -e "$MODEL" ] || fail "MODEL=$MODEL: no such directory or file"
[ -z "$DATA" ] || [ -f "$DATA" ] || fail "DATA=$DATA: no such file"
[ -z "$TOKENIZER" ] || [ -f "$TOKENIZER" ] || fail "TOKENIZER=$TOKENIZER: no such file"

# ---- resume: a requeued (or resubmitted) job continues from RUN_DIR's newest checkpoint ------------
metrics="$RUN_DIR/metrics.jsonl"
last_record() { tail -n 1 "$metrics" 2>/dev/null || true; }
if [[ $(last_record) == *'"kind":"summary"'* ]]; then
  echo "arena: $RUN_DIR already finished (metrics.jsonl ends with its summary); set RUN_DIR to start another run"
  exit 0
fi
resume=()
if [ "$AUTO_RESUME" = 1 ] && compgen -G "$RUN_DIR/checkpoints/step-*.h5" > /dev/null; then
  resume=(--resume "$RUN_DIR")   # the newest step-*.h5 (on another rank count too: elastic resume)
fi

# One rank per GPU on every node: say so when the allocation looks otherwise.
nodes=${SLURM_JOB_NUM_NODES:-1}
ranks_per_node=${SLURM_NTASKS_PER_NODE:-}
if [ -n "${SLURM_NTASKS:-}" ] && [ -n "$ranks_per_node" ] && [ "$SLURM_NTASKS" -ne $((nodes * ranks_per_node)) ]; then
  echo "arena: warning: $SLURM_NTASKS tasks on $nodes nodes, expected $ranks_per_node per node" >&2
fi

# (${a[@]+"${a[@]}"}: expands an empty array under `set -u` on bash < 4.4 too)
read -r -a extra <<< "$EXTRA_ARGS"
read -r -a srun_extra <<< "$SRUN_ARGS"
cpus=()
[ -n "${SLURM_CPUS_PER_TASK:-}" ] && cpus=(--cpus-per-task="$SLURM_CPUS_PER_TASK")  # srun does not inherit it (Slurm >= 22.05)
inputs=()
[ -n "$MODEL" ] && inputs+=(--model "$MODEL")
[ -n "$DATA" ] && inputs+=(--data "$DATA")
[ -n "$TOKENIZER" ] && inputs+=(--tokenizer "$TOKENIZER")

train=("$ARENA_BIN" train -c "$CONFIG" ${inputs[@]+"${inputs[@]}"} --out "$RUN_DIR" --train.threads "$THREADS"
       ${resume[@]+"${resume[@]}"} ${extra[@]+"${extra[@]}"} "$@")

# Each task refuses to start when srun did not wire MPI (no PMIx/PMI variables): arena would then
# run one single-GPU training per task, all into the same RUN_DIR. `exec` keeps the signal path direct.
# shellcheck disable=SC2016  # expanded by each task's bash, not here
guard='if [ "${SLURM_NTASKS:-1}" -gt 1 ] && [ -z "${PMIX_RANK:-}${PMI_RANK:-}${PMI_SIZE:-}${OMPI_COMM_WORLD_SIZE:-}" ]; then
  echo "arena: task ${SLURM_PROCID:-?} got no PMIx/PMI environment from srun: check srun --mpi (srun --mpi=list)" >&2; exit 3; fi
exec "$@"'

launcher=(srun --mpi="$SRUN_MPI" --kill-on-bad-exit=1 ${cpus[@]+"${cpus[@]}"} ${srun_extra[@]+"${srun_extra[@]}"})
launch=("${launcher[@]}" bash -c "$guard" arena-task "${train[@]}")
# mpirun alternative (Open MPI inside the allocation; it reads the node list from Slurm). Its ranks
# on this node are children of mpirun in the batch step, so the warning must reach this shell:
# change the .sbatch line to "#SBATCH --signal=B:USR1@120"; the trap below forwards it to mpirun,
# which passes SIGUSR1 on to every rank.
# (add a -x for every other NCCL_*/OMPI_* variable you set; cluster/mpirun_example.sh collects them)
# launcher=(mpirun -np "$SLURM_NTASKS" --map-by "ppr:${ranks_per_node:-8}:node" --bind-to none
#           -x NCCL_DEBUG -x OMP_NUM_THREADS -x CUDA_DEVICE_ORDER -x LD_LIBRARY_PATH -x PATH)
# launch=("${launcher[@]}" "${train[@]}")

echo "arena: job ${SLURM_JOB_ID:-?} restart ${SLURM_RESTART_COUNT:-0} on ${SLURM_JOB_NODELIST:-$(hostname)}:" \
     "${SLURM_NTASKS:-?} ranks, run dir $RUN_DIR${resume[0]+ (resuming)}"
echo "arena: launcher: ${launcher[*]}"
echo "arena: command:  ${train[*]}"

# Run the launcher in the background and wait for it, so that this shell can still requeue the job
# afterwards. A signal that does reach this shell (B: warnings, scancel --batch) is passed on as
# SIGUSR1, the clean stop; `wait` returns early on a trapped signal, hence the loop.
"${launch[@]}" &
child=$!
trap 'echo "arena: batch shell got a stop signal: passing SIGUSR1 to the launcher"; kill -USR1 "$child" 2>/dev/null' USR1 TERM
while kill -0 "$child" 2>/dev/null; do wait "$child"; done
rc=0
wait "$child" || rc=$?
trap - USR1 TERM

# Stopped by a signal (not by train.stop_after, which records signal 0): put the job back in the
# queue; the next start finds the checkpoint and resumes. Preemption with PreemptMode=REQUEUE
# requeues by itself; asking again then is harmless.
last=$(last_record)
if [ "$rc" -eq 0 ] && [[ $last == *'"kind":"stopped"'* ]] && ! [[ $last =~ \"signal\":0[,}] ]]; then
  if [ "$AUTO_REQUEUE" = 1 ] && [ -n "${SLURM_JOB_ID:-}" ] && [ "${SLURM_RESTART_COUNT:-0}" -lt "$MAX_RESTARTS" ]; then
    echo "arena: stopped with a checkpoint; requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID" || echo "arena: scontrol requeue failed; resubmit to continue from $RUN_DIR" >&2
  else
    echo "arena: stopped with a checkpoint (not requeued: AUTO_REQUEUE=$AUTO_REQUEUE, restart" \
         "${SLURM_RESTART_COUNT:-0} of MAX_RESTARTS=$MAX_RESTARTS); resubmit to continue from $RUN_DIR"
  fi
fi
exit "$rc"
