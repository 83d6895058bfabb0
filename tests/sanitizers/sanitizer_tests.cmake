# Sanitizer builds (QFORGE_SANITIZE in CMakeLists.txt; README.md, Reliability).
if(NOT QFORGE_SANITIZE)
  return()
endif()

# planted.cpp commits one fault per mode; each test passes only when the sanitizer prints its report.
add_executable(sanitizer_planted ${CMAKE_CURRENT_LIST_DIR}/planted.cpp)
target_link_libraries(sanitizer_planted PRIVATE OpenMP::OpenMP_CXX)
function(qforge_planted mode report)
  add_test(NAME sanitizer.planted_${mode} COMMAND sanitizer_planted ${mode})
  set_tests_properties(sanitizer.planted_${mode} PROPERTIES LABELS "${ARGN}" PASS_REGULAR_EXPRESSION "${report}")
endfunction()

if(QFORGE_SANITIZE MATCHES "address")
  qforge_planted(heap_overflow "AddressSanitizer: heap-buffer-overflow" unit)
  qforge_planted(use_after_free "AddressSanitizer: heap-use-after-free" unit)
  qforge_planted(leak "LeakSanitizer: detected memory leaks" unit)
endif()
# `make test-asan` runs every test except those labelled no_asan here, each with its reason (none so far:
# the peers run node and Python binaries that are not instrumented, which is fine, only qforge is).
set(QFORGE_NO_ASAN_TESTS)
if(QFORGE_SANITIZE MATCHES "address" AND QFORGE_NO_ASAN_TESTS)
  set_property(TEST ${QFORGE_NO_ASAN_TESTS} APPEND PROPERTY LABELS no_asan)
endif()
if(QFORGE_SANITIZE MATCHES "undefined")
  qforge_planted(signed_overflow "runtime error: signed integer overflow" unit)
  qforge_planted(misaligned_load "runtime error: load of misaligned address" unit)
endif()

if(QFORGE_SANITIZE MATCHES "thread")
  # LLVM's libomp is not instrumented either: Archer (an OMPT tool shipped with libomp-14-dev) tells TSan
  # what its barriers, reductions and task waits order. Without it the race-free planted loop fails too.
  find_library(QFORGE_ARCHER archer PATHS /usr/lib/llvm-14/lib NO_DEFAULT_PATH REQUIRED)
  qforge_planted(omp_race "WARNING: ThreadSanitizer: data race" parallel)
  add_test(NAME sanitizer.omp_race_free COMMAND sanitizer_planted omp_race_free)
  set_tests_properties(sanitizer.omp_race_free PROPERTIES LABELS parallel PASS_REGULAR_EXPRESSION "race-free loops done"
                       FAIL_REGULAR_EXPRESSION "ThreadSanitizer")
  list(APPEND QFORGE_PARALLEL_TESTS sanitizer.planted_omp_race sanitizer.omp_race_free)
  add_dependencies(qforge_parallel_tests sanitizer_planted)
  # ignore_noninstrumented_modules: what libomp and libstdc++ do inside themselves is Archer's to describe;
  # halt_on_error: the first race fails the test. Two threads, as `make test` runs.
  set_property(TEST ${QFORGE_PARALLEL_TESTS} APPEND PROPERTY ENVIRONMENT
    "OMP_TOOL_LIBRARIES=${QFORGE_ARCHER}" "TSAN_OPTIONS=ignore_noninstrumented_modules=1 halt_on_error=1"
    "OMP_NUM_THREADS=2")
endif()
