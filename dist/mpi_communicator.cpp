#include "dist/mpi_communicator.h"

#include <mpi.h>

#include "common/error.h"
#include "dist/mpi_check.h"
#include "dist/watchdog.h"

namespace arena {
namespace {

MPI_Datatype mpi_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return MPI_FLOAT;
    case torch::kFloat64: return MPI_DOUBLE;
    case torch::kInt64: return MPI_INT64_T;
    case torch::kInt32: return MPI_INT32_T;
    default:
      throw Error(fmt::format("MPI communicator: dtype {} is not supported (use fp32 or fp64 buckets)",
                              c10::toString(t.scalar_type())));
  }
}

class MpiCommunicator final : public Communicator {
 public:
  const char* name() const override { return "mpi"; }

  void all_reduce_sum(torch::Tensor& t) override {
    check(t.is_contiguous(), "MPI all-reduce: tensor is not contiguous");
    auto host = t.is_cpu() ? t : t.cpu();
    CollectiveScope scope("MPI_Allreduce of the gradient bucket");
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, host.data_ptr(), static_cast<int>(host.numel()), mpi_type(host), MPI_SUM,
                            MPI_COMM_WORLD),
              "MPI_Allreduce(gradient bucket)");
    if (!t.is_cpu()) t.copy_(host);
  }

  void broadcast(torch::Tensor& t, int root) override {
    check(t.is_contiguous(), "MPI broadcast: tensor is not contiguous");
    auto host = t.is_cpu() ? t : t.cpu();
    CollectiveScope scope("MPI_Bcast of the parameters");
    mpi_check(MPI_Bcast(host.data_ptr(), static_cast<int>(host.nbytes()), MPI_BYTE, root, MPI_COMM_WORLD),
              "MPI_Bcast(parameters)");
    if (!t.is_cpu()) t.copy_(host);
  }
};

class LocalCommunicator final : public Communicator {
 public:
  const char* name() const override { return "none"; }
  void all_reduce_sum(torch::Tensor&) override {}
  void broadcast(torch::Tensor&, int) override {}
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }
std::unique_ptr<Communicator> make_local_communicator() { return std::make_unique<LocalCommunicator>(); }

}  // namespace arena
