// The process world: who this rank is, how many ranks there are, and which ranks share a node.
//
// Started by a launcher (mpirun, srun --mpi=pmix, any PMI/PMIx launcher), arena initializes MPI and
// takes rank and size from MPI_COMM_WORLD and the local rank from a shared-memory split of it.
// Started alone, it runs as a world of one without touching MPI (the single-GPU/CPU fallback);
// ARENA_MPI=1 forces MPI (singleton), ARENA_MPI=0 forbids it.
//
// Failure contract: a rank that fails calls abort_world(), which prints its message with its rank and
// ends every rank (MPI_Abort), so no rank is left waiting in a collective.
#pragma once

#include <cstddef>
#include <string>

namespace arena {

struct World {
  int rank = 0;
  int size = 1;
  int local_rank = 0;  // rank among the processes of this node
  int local_size = 1;
  bool mpi = false;    // MPI initialized (collectives available)
  bool is_root() const { return rank == 0; }
};

// Initializes the world once (later calls return it). Thread level: MPI_THREAD_FUNNELED.
const World& init_world(int* argc, char*** argv);
// The world initialized by init_world (a world of one before that).
const World& world();
// Finalizes MPI when it was initialized; call once at normal exit.
void finalize_world();

// True when the environment shows a launcher started this process (mpirun/PMIx/PMI/srun).
bool launched_by_mpi();

// Prints "arena: error [rank r/N]: message" to stderr and ends the whole job with `code`.
[[noreturn]] void abort_world(const std::string& message, int code = 1);

// Host-side collectives over MPI_COMM_WORLD for small data (metrics, agreement flags, RNG states).
// All are no-ops in a world of one. Every rank must call them in the same order.
// `what` names the values for the hang watchdog's message (dist/watchdog.h); a string literal.
void host_sum(double* values, int n, const char* what = "MPI_Allreduce(sum) of host values");
void host_max(double* values, int n);
void host_broadcast(void* data, size_t bytes, int root);
// Gathers `bytes` from every rank to root (out: size * bytes on root, untouched elsewhere).
void host_gather(const void* data, size_t bytes, void* out, int root);
void host_barrier();

}  // namespace arena
