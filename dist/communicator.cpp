#include "dist/communicator.h"

#include "common/error.h"
#include "dist/mpi_communicator.h"
#include "dist/nccl_communicator.h"

namespace arena {

std::unique_ptr<Communicator> make_communicator(const std::string& backend, const World& world,
                                                const torch::Device& device) {
  std::string b = backend;
  if (b == "auto") b = world.size == 1 ? "none" : device.is_cuda() ? "nccl" : "mpi";
  if (b == "none") {
    check(world.size == 1, "backend 'none' cannot serve {} ranks (use mpi or nccl)", world.size);
    return make_local_communicator();
  }
  if (b == "mpi") {
    check(world.mpi || world.size == 1, "backend 'mpi' needs MPI (start with mpirun/srun or set ARENA_MPI=1)");
    return world.mpi ? make_mpi_communicator() : make_local_communicator();
  }
  if (b == "nccl") {
    check(device.is_cuda(), "backend 'nccl' needs a CUDA device, but this rank runs on {}", device.str());
#ifdef ARENA_WITH_NCCL
    return make_nccl_communicator(world, device);
#else
    throw Error("backend 'nccl': this build has no CUDA/NCCL support (configure with ARENA_WITH_CUDA=ON)");
#endif
  }
  throw Error(fmt::format("unknown backend '{}' (expected auto, nccl, mpi or none)", backend));
}

}  // namespace arena
