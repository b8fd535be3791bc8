#!/usr/bin/env bash
# A one-machine Slurm cluster for the tests: munged, slurmctld and one slurmd on this host.
#   tools/slurm_local.sh start     install what is missing (Debian: slurm-wlm, munge), write a minimal
#                                  slurm.conf for this host, start the three daemons, wait for the node
#   tools/slurm_local.sh stop      stop what `start` started (by pid) and wait until it has exited
#   tools/slurm_local.sh status    sinfo of the local cluster
#   tools/slurm_local.sh env       the line to source for sbatch/srun/squeue: export SLURM_CONF=...
#
# Everything lives under ARENA_SLURM_DIR (default /tmp/arena-slurm): slurm.conf, the munge key and
# socket, spool and state directories, logs and pid files. It uses its own ports (SLURM_PORT and
# SLURM_PORT+1, default 16817/16818) and munge socket, so it neither needs nor disturbs a system Slurm.
# Client commands find it through SLURM_CONF, which `env` prints. One node named after this host
# (NodeAddr 127.0.0.1), all its CPUs, one partition "local". Slurm runs jobs as the submitting user;
# as root the daemons run as root, otherwise as you (SlurmUser = you).
#   ARENA_SLURM_NODES=2 also starts a second slurmd (node <host>-2) where this Slurm build allows
#   several slurmd on one host (--enable-multiple-slurmd): `start` says whether it does.
set -euo pipefail

DIR="${ARENA_SLURM_DIR:-/tmp/arena-slurm}"
PORT="${SLURM_PORT:-16817}"
NODES="${ARENA_SLURM_NODES:-1}"
CONF="$DIR/slurm.conf"
HOST="$(hostname -s)"
ME="$(id -un)"
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"

say() { echo "slurm_local: $*"; }
die() { echo "slurm_local: $*" >&2; exit 1; }

install_missing() {
  local missing=()
  for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  say "installing Debian packages: ${missing[*]}"
  # Debian's policy-rc.d in containers keeps the packages' own services from starting; on a full
  # system they start with /etc/slurm/slurm.conf, which this script does not touch.
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  # This host's layout as slurmd itself sees it (CPUs, sockets, cores, threads), memory 90 %.
  local layout mem_mb
  layout=$(slurmd -C | head -n 1 | grep -o 'CPUs=.*ThreadsPerCore=[0-9]*')
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
  cat > "$CONF" <<EOF
# Written by tools/slurm_local.sh: a one-host test cluster.
ClusterName=arena-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=$ME
SlurmdUser=$ME
AuthType=auth/munge
CredType=cred/munge
# cred_expire: Slurm holds a requeued job for this long (default 120 s) before it may start again.
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=5
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd-%n
# Per node, so that two slurmd on one host do not share PMIx's client directories.
TmpFS=$DIR/tmp/%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
# No cgroups in containers: plain process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SchedulerType=sched/backfill
# Look at pending jobs every few seconds (a requeued job becomes eligible by time, not by an event).
SchedulerParameters=sched_interval=3,bf_interval=3
ReturnToService=2
JobRequeue=1
MinJobAge=600
KillWait=10
SlurmdTimeout=60
InactiveLimit=0
EOF
  echo "NodeName=$HOST NodeAddr=127.0.0.1 $layout RealMemory=$mem_mb State=UNKNOWN" >> "$CONF"
  local nodes="$HOST"
  if [[ "$NODES" -ge 2 ]]; then
    echo "NodeName=$HOST-2 NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((PORT + 2)) $layout RealMemory=$mem_mb State=UNKNOWN" >> "$CONF"
    nodes="$HOST,$HOST-2"
  fi
  echo "PartitionName=local Nodes=$nodes Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO" >> "$CONF"
}

start() {
  install_missing
  if pid_alive "$DIR/slurmctld.pid"; then
    say "already running ($DIR); 'stop' first to start afresh"
    return 0
  fi
  mkdir -p "$DIR"/{munge,state,spool,log} "$DIR/tmp/$HOST" "$DIR/tmp/$HOST-2"
  chmod 700 "$DIR/munge"
  if [[ ! -f "$DIR/munge/munge.key" ]]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge/munge.key"
  fi
  # --force: the socket lives under /tmp, whose permissions munged would otherwise refuse.
  munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed"
  write_conf
  # -i: ignore (and drop) the saved state of an earlier cluster in this directory.
  slurmctld -f "$CONF" -i
  slurmd -f "$CONF" -N "$HOST"
  if [[ "$NODES" -ge 2 ]]; then
    slurmd -f "$CONF" -N "$HOST-2" || die "a second slurmd on this host failed (see $DIR/log/slurmd-$HOST-2.log)"
  fi
  local want=$NODES
  for _ in $(seq 1 60); do
    local idle
    idle=$(SLURM_CONF="$CONF" sinfo -h -N -o '%T' 2>/dev/null | grep -c '^idle' || true)
    if [[ "$idle" -ge "$want" ]]; then
      say "up: $want node(s) idle, partition local; $(SLURM_CONF="$CONF" sinfo -V)"
      echo "export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 1
  done
  SLURM_CONF="$CONF" sinfo -N -l >&2 || true
  tail -n 20 "$DIR"/log/*.log >&2 || true
  die "the node did not become idle within 60 s (logs above, in $DIR/log)"
}

stop_pidfile() {  # stop_pidfile FILE NAME: SIGTERM, wait up to 20 s, then SIGKILL
  local f=$1 name=$2 pid
  [[ -f "$f" ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name ($pid) did not exit on SIGTERM: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

stop() {
  [[ -d "$DIR" ]] || { say "nothing to stop ($DIR does not exist)"; return 0; }
  # Jobs first, so that no slurmstepd outlives its slurmd.
  if pid_alive "$DIR/slurmctld.pid"; then
    SLURM_CONF="$CONF" scancel --full --quiet --user "$ME" 2>/dev/null || true
    for _ in $(seq 1 20); do
      [[ -z $(SLURM_CONF="$CONF" squeue -h -u "$ME" 2>/dev/null) ]] && break
      sleep 0.5
    done
  fi
  local f
  for f in "$DIR"/slurmd-*.pid; do stop_pidfile "$f" "$(basename "$f" .pid)"; done
  stop_pidfile "$DIR/slurmctld.pid" slurmctld
  stop_pidfile "$DIR/munge/munged.pid" munged
  say "stopped ($DIR kept: logs in $DIR/log)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) SLURM_CONF="$CONF" sinfo -N -l ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
