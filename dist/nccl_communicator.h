// The NCCL communicator (GPU ranks). Built only with CUDA; elsewhere the factory throws.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace arena {

// One NCCL communicator over all ranks on `device` (which must be a CUDA device); rank 0 creates the
// unique id and broadcasts it over MPI. Collectives run on the current CUDA stream.
std::unique_ptr<Communicator> make_nccl_communicator(const World& world, const torch::Device& device);

}  // namespace arena
