# shellcheck shell=bash
# Environment for arena ranks. Source it (do not run it) before srun/mpirun:
#     source cluster/env.sh
# The Slurm scripts source it themselves; cluster/mpirun_example.sh too, and exports the result to
# every host with `mpirun -x`. Every setting keeps a value you already exported; an empty value
# leaves the variable unset, i.e. the library's own default (usually the right one: set only what
# your site needs, then keep it here or in /etc/nccl.conf).
#
# What does NOT apply: arena calls NCCL directly (ncclCommInitRank + ncclAllReduce), not through
# torch.distributed, so PyTorch's ProcessGroupNCCL variables (TORCH_NCCL_ASYNC_ERROR_HANDLING,
# TORCH_NCCL_BLOCKING_WAIT, TORCH_NCCL_TRACE_BUFFER_SIZE, their old NCCL_ASYNC_ERROR_HANDLING /
# NCCL_BLOCKING_WAIT spellings, ...) have no effect: libnccl itself reads none of them. arena's own
# watchdog (dist.timeout, default 600 s) ends a job whose collective stalls; a rank that fails aborts
# all ranks (MPI_Abort); one that dies without that is caught by the launcher (srun
# --kill-on-bad-exit, mpirun). See docs/cluster.md and docs/reliability.md.

# --- NCCL (names as in NVIDIA's NCCL "Environment Variables" guide) ---------------------------------
# Log level: VERSION, WARN (the default here: problems only) or INFO (topology, transports, rings).
NCCL_DEBUG=${NCCL_DEBUG:-WARN}
# Limit INFO logs to subsystems, e.g. INIT,NET or INIT,GRAPH,ENV; empty: NCCL's default set.
NCCL_DEBUG_SUBSYS=${NCCL_DEBUG_SUBSYS:-}
# Per-process log file instead of stderr (%h host, %p pid), e.g. "$RUN_DIR/nccl.%h.%p.log".
NCCL_DEBUG_FILE=${NCCL_DEBUG_FILE:-}
# IP interfaces for bootstrap and socket transport: prefixes ("ib", "eth"), "=eth0" exact, "^docker,lo" exclude; empty: auto.
NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-}
# InfiniBand/RoCE HCAs (and ports) to use, e.g. "mlx5_0:1,mlx5_1:1" or "=mlx5_0"; empty: all it finds.
NCCL_IB_HCA=${NCCL_IB_HCA:-}
# 1: do not use IB/RoCE verbs, use IP sockets (to tell a fabric problem from anything else; slow).
NCCL_IB_DISABLE=${NCCL_IB_DISABLE:-}
# RoCE only: GID index to use (e.g. 3 for RoCE v2 on many setups) when the automatic choice fails.
NCCL_IB_GID_INDEX=${NCCL_IB_GID_INDEX:-}
# IB transport timeout exponent (4.096 us * 2^N per retry); raise on large or lossy fabrics.
NCCL_IB_TIMEOUT=${NCCL_IB_TIMEOUT:-}
# Max GPU distance for peer-to-peer: LOC (never), NVL, PIX, PXB, PHB, SYS (always); empty: NCCL decides.
NCCL_P2P_LEVEL=${NCCL_P2P_LEVEL:-}
# Max NIC-GPU distance for GPUDirect RDMA: LOC, PIX, PXB, PHB, SYS; empty: NCCL decides.
NCCL_NET_GDR_LEVEL=${NCCL_NET_GDR_LEVEL:-}
# XML topology for VMs whose PCI tree is virtualized (cloud images often ship one); empty: probe.
NCCL_TOPO_FILE=${NCCL_TOPO_FILE:-}

# --- Open MPI (arena's MPI carries only the NCCL unique id and a few small reductions) -------------
# Point-to-point layer: empty (auto, often UCX); "ob1" avoids UCX when it fails on a node's NICs.
OMPI_MCA_pml=${OMPI_MCA_pml:-}
# Byte transfer layers for ob1: e.g. "self,sm,tcp" (Open MPI 5; "self,vader,tcp" on 4.x) or "^openib".
OMPI_MCA_btl=${OMPI_MCA_btl:-}
# Interfaces for MPI's TCP traffic (MCA btl_tcp_if_include), e.g. "eth0" or "10.0.0.0/16".
OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-}

# --- CPU threads -------------------------------------------------------------------------------------
# OpenMP threads per rank. arena sets torch's intra-op pool itself (train.threads; 0 = cores / ranks
# per node, counting all the node's cores, not the cgroup's), so pass --train.threads too on shared
# nodes; the Slurm scripts do (= --cpus-per-task).
OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-}}

# --- GPUs --------------------------------------------------------------------------------------------
# Do NOT set CUDA_VISIBLE_DEVICES per rank: each rank uses cuda:(local_rank % visible GPUs), local
# rank = its rank among the processes on its node. Leave all the node's GPUs visible (one rank per
# GPU); set it only to pick a subset for the whole node, e.g. "0,1,2,3" with 4 ranks per node.
# Fewer visible GPUs than ranks per node makes ranks share a GPU (slow, out of memory).
# Number GPUs like nvidia-smi does (PCI bus order), so a subset above means what you read there.
CUDA_DEVICE_ORDER=${CUDA_DEVICE_ORDER:-PCI_BUS_ID}

# --- arena -------------------------------------------------------------------------------------------
# 1/0 force or forbid MPI_Init; empty: detect mpirun/srun (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK).
ARENA_MPI=${ARENA_MPI:-}

# Export what is set, unset what is empty (an empty NCCL_SOCKET_IFNAME is not the same as unset).
ARENA_ENV_VARS=(NCCL_DEBUG NCCL_DEBUG_SUBSYS NCCL_DEBUG_FILE NCCL_SOCKET_IFNAME NCCL_IB_HCA NCCL_IB_DISABLE
                NCCL_IB_GID_INDEX NCCL_IB_TIMEOUT NCCL_P2P_LEVEL NCCL_NET_GDR_LEVEL NCCL_TOPO_FILE
                OMPI_MCA_pml OMPI_MCA_btl OMPI_MCA_btl_tcp_if_include OMP_NUM_THREADS CUDA_DEVICE_ORDER
                ARENA_MPI)
for _arena_var in "${ARENA_ENV_VARS[@]}"; do
  if [ -n "${!_arena_var:-}" ]; then export "${_arena_var?}"; else unset "$_arena_var"; fi
done
unset _arena_var
