// All-reduce cost on this machine, for the data-parallel scaling estimate (bench/mpi_scaling.sh,
// README.md "Training on several machines"): the median time of an in-place float sum over the ranks of
// `mpirun -np N`, through the same path training uses (trainers/distributed.h: MPI_Iallreduce on the
// communication thread), for each size given in floats.
//   mpirun -np 2 allreduce_probe 819200 1900000 ...   -> "allreduce floats=819200 bytes=3276800 ranks=2 median_ms=..."
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "trainers/distributed.h"

int main(int argc, char** argv) {
  auto& dist = qforge::trainers::Distributed::world();
  constexpr int kRepeats = 15;
  for (int a = 1; a < argc; ++a) {
    const long long n = std::atoll(argv[a]);
    std::vector<float> values(static_cast<size_t>(n), 1.0f);
    std::vector<double> ms;
    for (int r = 0; r < kRepeats + 2; ++r) {
      const auto start = std::chrono::steady_clock::now();
      dist.wait(dist.submit_sum(values.data(), n), "the probe all-reduce");
      const double took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      if (r >= 2) ms.push_back(took);  // two warm-up rounds
    }
    std::sort(ms.begin(), ms.end());
    if (dist.is_root())
      std::printf("allreduce floats=%lld bytes=%lld ranks=%d median_ms=%.3f min_ms=%.3f\n", n, n * 4, dist.size(),
                  ms[ms.size() / 2], ms.front());
  }
  return 0;
}
