// The MPI error helper: every MPI call's return code goes through mpi_check.
#pragma once

namespace arena {

// Throws arena::Error naming `call` and MPI's own message when rc is not MPI_SUCCESS.
void mpi_check(int rc, const char* call);

}  // namespace arena
