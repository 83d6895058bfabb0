// Data-parallel process group over OpenMPI (distributed.h). Built with QFORGE_WITH_MPI when CMake found
// MPI and QFORGE_MPI is ON; otherwise the same interface on one rank.
#include "trainers/distributed.h"

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

#ifdef QFORGE_WITH_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only: MPI's deprecated C++ bindings are not used
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace qforge::trainers {

#ifdef QFORGE_WITH_MPI

namespace {

// A non-blocking collective polled with a short sleep: MPI progresses it on every MPI_Test, and the
// sleep leaves the core to backward's compute (a blocking MPI_Allreduce would busy-poll it).
void complete(MPI_Request request) {
  int done = 0;
  MPI_Test(&request, &done, MPI_STATUS_IGNORE);
  while (!done) {
    std::this_thread::sleep_for(std::chrono::microseconds(20));
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
  }
}

bool launched_by_mpirun() { return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr; }

}  // namespace

// The communication thread: MPI_Init_thread, every collective in submission order, MPI_Finalize.
struct Distributed::Worker {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::function<void()>> jobs;
  Ticket submitted = 0, done = 0;
  bool started = false, stopping = false, multiple = false;
  int rank = 0, size = 1;
  double reduce_seconds = 0.0;
  std::thread thread;

  Worker() : thread([this] { loop(); }) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [this] { return started; });
  }

  void loop() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
    {
      std::lock_guard lock(mutex);
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      MPI_Comm_size(MPI_COMM_WORLD, &size);
      multiple = provided >= MPI_THREAD_MULTIPLE;
      started = true;
    }
    changed.notify_all();
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [this] { return stopping || !jobs.empty(); });
        if (jobs.empty()) break;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      const auto start = std::chrono::steady_clock::now();
      job();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      {
        std::lock_guard lock(mutex);
        ++done;
        reduce_seconds += seconds;
      }
      changed.notify_all();
    }
    MPI_Finalize();
  }

  Ticket submit(std::function<void()> job) {
    std::lock_guard lock(mutex);
    jobs.push_back(std::move(job));
    changed.notify_all();
    return ++submitted;
  }
};

Distributed::Distributed() {
  if (!launched_by_mpirun()) return;
  worker_ = new Worker();
  rank_ = worker_->rank;
  size_ = worker_->size;
  if (const char* seconds = std::getenv("QFORGE_DIST_TIMEOUT_SECONDS")) timeout_seconds_ = std::atof(seconds);
}

Distributed::~Distributed() {
  if (!worker_) return;
  {
    std::lock_guard lock(worker_->mutex);
    worker_->stopping = true;
  }
  worker_->changed.notify_all();
  worker_->thread.join();
  delete worker_;
}

std::string Distributed::build_description() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string text(version, static_cast<size_t>(length));
  const size_t comma = text.find(',');
  return comma == std::string::npos ? text : text.substr(0, comma);
}

Distributed::Ticket Distributed::submit_sum(float* data, int64_t n) {
  if (!worker_) return 0;
  return worker_->submit([data, n] {
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
    complete(request);
  });
}

void Distributed::wait(Ticket ticket, const std::string& what) {
  if (!worker_ || ticket == 0) return;
  std::unique_lock lock(worker_->mutex);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds_);
  if (!worker_->changed.wait_until(lock, deadline, [&] { return worker_->done >= ticket; })) {
    lock.unlock();
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.0f", timeout_seconds_);
    abort(what + " did not complete within " + seconds +
          " s (distributed.timeout_seconds): another rank has died or stopped answering; stopping every rank");
  }
}

double Distributed::take_reduce_seconds() {
  if (!worker_) return 0.0;
  std::lock_guard lock(worker_->mutex);
  const double seconds = worker_->reduce_seconds;
  worker_->reduce_seconds = 0.0;
  return seconds;
}

namespace {
template <typename T>
void reduce_in_place(T* data, int64_t n, MPI_Datatype type, MPI_Op op) {
  MPI_Request request;
  MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), type, op, MPI_COMM_WORLD, &request);
  complete(request);
}
}  // namespace

void Distributed::sum(double* data, int64_t n, const std::string& what) {
  if (worker_) wait(worker_->submit([=] { reduce_in_place(data, n, MPI_DOUBLE, MPI_SUM); }), what);
}
void Distributed::sum(int64_t* data, int64_t n, const std::string& what) {
  if (worker_) wait(worker_->submit([=] { reduce_in_place(data, n, MPI_INT64_T, MPI_SUM); }), what);
}
void Distributed::min(float* data, int64_t n, const std::string& what) {
  if (worker_) wait(worker_->submit([=] { reduce_in_place(data, n, MPI_FLOAT, MPI_MIN); }), what);
}
void Distributed::max(float* data, int64_t n, const std::string& what) {
  if (worker_) wait(worker_->submit([=] { reduce_in_place(data, n, MPI_FLOAT, MPI_MAX); }), what);
}

std::vector<float> Distributed::gather(const std::vector<float>& values, const std::string& what) {
  if (!worker_) return values;
  std::vector<int> counts(size_), offsets(size_);
  std::vector<float> all;
  wait(worker_->submit([&] {
    const int mine = static_cast<int>(values.size());
    MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) offsets[r] = static_cast<int>(total), total += counts[r];
    all.resize(total);
    MPI_Request request;
    MPI_Iallgatherv(values.data(), mine, MPI_FLOAT, all.data(), counts.data(), offsets.data(), MPI_FLOAT, MPI_COMM_WORLD,
                    &request);
    complete(request);
  }), what);
  return all;
}

std::vector<uint64_t> Distributed::gather(uint64_t value, const std::string& what) {
  std::vector<uint64_t> all(size_, value);
  if (worker_) wait(worker_->submit([&] { MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD); }), what);
  return all;
}

Distributed::Ticket Distributed::submit_broadcast(float* data, int64_t n, int root) {
  if (!worker_) return 0;
  return worker_->submit([=] {
    MPI_Request request;
    MPI_Ibcast(data, static_cast<int>(n), MPI_FLOAT, root, MPI_COMM_WORLD, &request);
    complete(request);
  });
}

void Distributed::abort(const std::string& message) {
  std::fprintf(stderr, "qforge: rank %d of %d: %s\n", rank_, size_, message.c_str());
  std::fflush(stderr);
  // MPI_Abort from this thread needs MPI_THREAD_MULTIPLE; otherwise a non-zero exit without
  // MPI_Finalize makes mpirun end the job.
  if (worker_ && worker_->multiple) MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

#else  // one rank

struct Distributed::Worker {};
Distributed::Distributed() = default;
Distributed::~Distributed() = default;
std::string Distributed::build_description() { return "without MPI (built with QFORGE_MPI=OFF or MPI not found)"; }
Distributed::Ticket Distributed::submit_sum(float*, int64_t) { return 0; }
void Distributed::wait(Ticket, const std::string&) {}
double Distributed::take_reduce_seconds() { return 0.0; }
void Distributed::sum(double*, int64_t, const std::string&) {}
void Distributed::sum(int64_t*, int64_t, const std::string&) {}
void Distributed::min(float*, int64_t, const std::string&) {}
void Distributed::max(float*, int64_t, const std::string&) {}
std::vector<float> Distributed::gather(const std::vector<float>& values, const std::string&) { return values; }
std::vector<uint64_t> Distributed::gather(uint64_t value, const std::string&) { return {value}; }
Distributed::Ticket Distributed::submit_broadcast(float*, int64_t, int) { return 0; }
void Distributed::abort(const std::string& message) {
  std::fprintf(stderr, "qforge: %s\n", message.c_str());
  std::_Exit(1);
}

#endif

int Distributed::launched_ranks() {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  return size ? std::max(1, std::atoi(size)) : 1;
}

Distributed& Distributed::world() {
  static Distributed instance;
  return instance;
}

void inject_distributed_fault(const Distributed& dist, int64_t step) {
  static const char* env = std::getenv("QFORGE_DIST_FAULT");
  if (!env) return;
  int rank = -1;
  long long at = -1;
  char action[16] = {};
  if (std::sscanf(env, "%d:%lld:%15s", &rank, &at, action) != 3 || rank != dist.rank() || at != step) return;
  std::fprintf(stderr, "qforge: rank %d: QFORGE_DIST_FAULT: %s at step %lld\n", rank, action, at);
  std::fflush(stderr);
  if (std::string(action) == "kill") std::raise(SIGKILL);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));  // "hang"
}

}  // namespace qforge::trainers
