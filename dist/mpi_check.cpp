#include "dist/mpi_check.h"

#include <mpi.h>

#include <string>

#include "common/error.h"

namespace arena {

void mpi_check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(fmt::format("MPI: {} failed: {}", call, std::string(msg, len)));
}

}  // namespace arena
