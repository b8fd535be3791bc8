/* The smallest MPI job that shows Open MPI 4.1.4's TCP BTL crash (docs/reliability.md): initialize
 * as arena does (MPI_THREAD_FUNNELED), all-reduce 4 MB twenty times and one double, finalize. Run it
 * with two ranks on two Slurm nodes (repro.sh); nothing of arena is involved. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char** argv) {
  static float buffer[1 << 20];
  int provided = 0, rank = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int i = 0; i < 20; ++i) MPI_Allreduce(MPI_IN_PLACE, buffer, 1 << 20, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  double x = rank;
  MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  MPI_Finalize();
  return x == 1.0 ? 0 : 1; /* ranks 0 + 1 */
}
