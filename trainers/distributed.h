#pragma once
// Data-parallel training over OpenMPI (README.md, "Training on several machines"): the one module that
// talks to MPI. Under `mpirun -np N` every rank runs the same command; with one process (no mpirun) or a
// build without MPI (CMake option QFORGE_MPI, or MPI not found) every call here is a no-op on one rank,
// so `qforge train` behaves exactly as without this module.
//
// All MPI calls run on one communication thread, in the order they are submitted (the same order on
// every rank, since every rank runs the same program): the trainer submits a gradient bucket while
// backward goes on (trainers/gradient_buckets.h) and only waits for it afterwards. Every wait has a
// deadline (distributed.timeout_seconds): a rank that died or hangs makes the others stop with an
// error naming the operation instead of waiting forever (MPI_Abort ends the whole job).
#include <cstdint>
#include <string>
#include <vector>

namespace qforge::trainers {

class Distributed {
 public:
  // The process group, initialised on first use (MPI_Init_thread) when the process was started by
  // mpirun (OMPI_COMM_WORLD_SIZE is set); one rank otherwise.
  static Distributed& world();
  // "OpenMPI 4.1.4" or "without MPI (built with QFORGE_MPI=OFF or MPI not found)", for --help.
  static std::string build_description();
  // The rank count mpirun started (OMPI_COMM_WORLD_SIZE), 1 without mpirun; known in either build.
  static int launched_ranks();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  bool active() const { return size_ > 1; }
  // Seconds a collective may take before the job is stopped (default 300).
  void set_timeout_seconds(double seconds) { timeout_seconds_ = seconds; }

  // A submitted in-place sum over ranks of n floats, running on the communication thread; wait()
  // blocks until it is done (or stops the job after the timeout, naming `what`).
  using Ticket = int64_t;
  Ticket submit_sum(float* data, int64_t n);
  void wait(Ticket ticket, const std::string& what);
  // Seconds the communication thread spent inside all-reduces since the last call (then reset).
  double take_reduce_seconds();

  // Blocking collectives (submitted and waited for), in place.
  void sum(double* data, int64_t n, const std::string& what);
  void sum(int64_t* data, int64_t n, const std::string& what);
  void min(float* data, int64_t n, const std::string& what);
  void max(float* data, int64_t n, const std::string& what);
  // Every rank's values, concatenated in rank order.
  std::vector<float> gather(const std::vector<float>& values, const std::string& what);
  std::vector<uint64_t> gather(uint64_t value, const std::string& what);
  // Rank `root`'s n floats into every rank's `data`, submitted like submit_sum.
  Ticket submit_broadcast(float* data, int64_t n, int root);

  // Prints "qforge: rank R: <message>" and ends every rank of the job (MPI_Abort) with exit code 1.
  [[noreturn]] void abort(const std::string& message);

  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

 private:
  Distributed();
  struct Worker;
  int rank_ = 0, size_ = 1;
  double timeout_seconds_ = 300.0;
  Worker* worker_ = nullptr;  // null with one rank
};

// Test fault injection (tests/trainers/mpi_*.sh): QFORGE_DIST_FAULT=RANK:STEP:kill|hang makes rank RANK
// kill itself (SIGKILL) or stop answering (sleep forever) at optimizer step STEP.
void inject_distributed_fault(const Distributed& dist, int64_t step);

}  // namespace qforge::trainers
