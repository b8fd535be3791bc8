// Collectives on tensors between the ranks of the world, behind one interface:
//   nccl  GPU tensors, one rank per GPU; the NCCL unique id is broadcast over MPI
//   mpi   CPU tensors over MPI_COMM_WORLD (GPU tensors are staged through host memory)
//   none  a world of one: every collective is the identity
// Every rank must call the same collectives in the same order (the trainer guarantees it).
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>

#include "dist/world.h"

namespace arena {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const char* name() const = 0;
  // Sums a contiguous fp32/fp64/bf16 tensor over all ranks, in place.
  virtual void all_reduce_sum(torch::Tensor& t) = 0;
  // Copies root's contiguous tensor into every rank's, in place.
  virtual void broadcast(torch::Tensor& t, int root) = 0;
};

// backend: auto (nccl for CUDA devices, mpi for CPU, none in a world of one), nccl, mpi or none.
// Throws when the backend cannot serve this world or device (e.g. nccl on CPU, none with 2 ranks).
std::unique_ptr<Communicator> make_communicator(const std::string& backend, const World& world,
                                                const torch::Device& device);

}  // namespace arena
