// One planted fault per mode, for the sanitizer builds (tests/sanitizers/sanitizer_tests.cmake registers
// each mode with the report it must print). A build whose flags lost a sanitizer, or a ThreadSanitizer
// run in which libomp's synchronisation is not described to TSan (Archer missing), fails these tests
// instead of letting the real suite pass unchecked.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <vector>

namespace {

// volatile: the optimiser must not see the index, the pointer or the operands, or it folds the fault away.
volatile int64_t g_index = 4;
volatile int g_big = 2147483647;
int* volatile g_kept = nullptr;

int heap_overflow() {
  int* volatile data = new int[4]();  // volatile: UBSan's object-size check must not see the size and report first
  const int value = data[g_index];    // one past the end
  delete[] data;
  return value;
}

int use_after_free() {
  int* data = new int[4]();
  delete[] data;
  return data[g_index - 4];
}

int leak() {
  g_kept = new int[64]();
  g_kept = nullptr;  // the only pointer is gone before exit
  return 0;
}

int signed_overflow() {
  int big = g_big;
  return big + 1;
}

int misaligned_load() {
  alignas(8) unsigned char bytes[16] = {};
  const float* value = reinterpret_cast<const float*>(bytes + 1 + (g_index - 4));  // the kind of cast a reader must not make
  return static_cast<int>(*value);
}

// Two threads add to one unsynchronised total: the race TSan must report.
int omp_race() {
  int64_t total = 0;
#pragma omp parallel for num_threads(2) schedule(static)
  for (int64_t i = 0; i < 1000; ++i) total = total + i;
  return static_cast<int>(total & 1);
}

// What the kernels do (op_rms_norm.cpp, reduce.cpp, batch_statistics.cpp): rows split across threads, a
// reduction, partials written by one region and read after its barrier, nowait loops with a critical
// merge. Race-free, but ordered only by libomp's barriers, which TSan sees through Archer alone.
int omp_race_free() {
  std::vector<float> partial(64, 0.0f), rows(64 * 256, 1.0f);
  double sum = 0.0;
  float low = 1e30f;
#pragma omp parallel num_threads(2)
  {
#pragma omp for schedule(static)
    for (int r = 0; r < 64; ++r) {
      float s = 0.0f;
      for (int j = 0; j < 256; ++j) s += rows[r * 256 + j];
      partial[r] = s;
    }
    // the implicit barrier of the loop above orders these reads after every write of it
#pragma omp for schedule(static) reduction(+ : sum)
    for (int r = 0; r < 64; ++r) sum += partial[63 - r];
    float local = 1e30f;
#pragma omp for schedule(static) nowait
    for (int r = 0; r < 64; ++r) local = partial[r] < local ? partial[r] : local;
#pragma omp critical
    low = local < low ? local : low;
  }
  std::printf("race-free loops done: sum %.0f min %.0f\n", sum, static_cast<double>(low));
  return sum == 64.0 * 256.0 && low == 256.0f ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  struct Mode {
    const char* name;
    int (*run)();
  };
  const Mode modes[] = {{"heap_overflow", heap_overflow},     {"use_after_free", use_after_free},
                        {"leak", leak},                       {"signed_overflow", signed_overflow},
                        {"misaligned_load", misaligned_load}, {"omp_race", omp_race},
                        {"omp_race_free", omp_race_free}};
  for (const Mode& m : modes) {
    if (std::strcmp(mode, m.name) == 0) {
      const int result = m.run();
      std::printf("%s returned without a report (%d)\n", m.name, result);
      return result == 0 ? 0 : 1;
    }
  }
  std::fprintf(stderr, "usage: sanitizer_planted MODE (heap_overflow, use_after_free, leak, signed_overflow, "
                       "misaligned_load, omp_race, omp_race_free)\n");
  return 2;
}
