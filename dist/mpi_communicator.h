// Communicator over MPI_COMM_WORLD (the CPU backend) and the no-op one for a world of one.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace arena {

std::unique_ptr<Communicator> make_mpi_communicator();
std::unique_ptr<Communicator> make_local_communicator();

}  // namespace arena
