#include "dist/world.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/error.h"
#include "dist/mpi_check.h"
#include "dist/watchdog.h"

namespace arena {
namespace {

World g_world;
bool g_initialized = false;

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

}  // namespace

bool launched_by_mpi() {
  if (const char* force = std::getenv("ARENA_MPI"); force && *force) return std::string(force) != "0";
  return env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMIX_RANK") || env_set("PMI_RANK") || env_set("PMI_SIZE") ||
         env_set("MV2_COMM_WORLD_SIZE");
}

const World& init_world(int* argc, char*** argv) {
  if (g_initialized) return g_world;
  g_initialized = true;
  if (!launched_by_mpi()) {
    // Not under MPI, but srun without --mpi still tells us where we are on the node.
    g_world.local_rank = env_int("SLURM_LOCALID", 0);
    return g_world;
  }
  int provided = 0;
  mpi_check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as return codes so mpi_check can name the call.
  mpi_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  g_world.mpi = true;
  mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank), "MPI_Comm_rank");
  mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &g_world.size), "MPI_Comm_size");
  MPI_Comm node = MPI_COMM_NULL;
  mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_world.rank, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
  mpi_check(MPI_Comm_rank(node, &g_world.local_rank), "MPI_Comm_rank(node)");
  mpi_check(MPI_Comm_size(node, &g_world.local_size), "MPI_Comm_size(node)");
  MPI_Comm_free(&node);
  return g_world;
}

const World& world() { return g_world; }

void finalize_world() {
  stop_watchdog();
  int finalized = 0;
  if (g_world.mpi && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
}

void abort_world(const std::string& message, int code) {
  if (g_world.size > 1)
    std::fprintf(stderr, "arena: error [rank %d/%d]: %s\n", g_world.rank, g_world.size, message.c_str());
  else
    std::fprintf(stderr, "arena: error: %s\n", message.c_str());
  std::fflush(stderr);
  if (g_world.mpi && g_world.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  finalize_world();
  std::exit(code);
}

void host_sum(double* values, int n, const char* what) {
  if (!g_world.mpi || g_world.size == 1) return;
  CollectiveScope scope(what);
  mpi_check(MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce(sum)");
}

void host_max(double* values, int n) {
  if (!g_world.mpi || g_world.size == 1) return;
  CollectiveScope scope("MPI_Allreduce(max) of host values");
  mpi_check(MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce(max)");
}

void host_broadcast(void* data, size_t bytes, int root) {
  if (!g_world.mpi || g_world.size == 1) return;
  CollectiveScope scope("MPI_Bcast of host data");
  mpi_check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
}

void host_gather(const void* data, size_t bytes, void* out, int root) {
  if (!g_world.mpi || g_world.size == 1) {
    if (out != data) std::memcpy(out, data, bytes);
    return;
  }
  CollectiveScope scope("MPI_Gather of host data");
  mpi_check(MPI_Gather(data, static_cast<int>(bytes), MPI_BYTE, out, static_cast<int>(bytes), MPI_BYTE, root,
                       MPI_COMM_WORLD),
            "MPI_Gather");
}

void host_barrier() {
  if (!g_world.mpi || g_world.size == 1) return;
  CollectiveScope scope("MPI_Barrier");
  mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

}  // namespace arena
