#pragma once
// Shared by the fuzz targets (fuzz/targets/*.cpp): what counts as an expected error, scratch files for
// readers that take a path, and inputs that hold several files.
//
// A target hands the fuzzer's bytes to a reader's real entry point inside expect_clean(). A reader may
// refuse a file, but only with an error a user can act on; everything else aborts, which libFuzzer (and
// the replay driver, fuzz/replay_main.cpp) reports as a finding, as it does crashes, sanitizer reports,
// leaks, timeouts and allocations above -malloc_limit_mb.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::fuzz {

// Prints why the input is a finding and aborts (libFuzzer then saves the input as crash-<sha1>).
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "qforge fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// QFORGE_FUZZ_VERBOSE=1 in the environment: print what each input came to (accepted, or the refusal),
// to check that seeds get through and to triage a reproducer.
inline bool verbose() {
  static const bool on = std::getenv("QFORGE_FUZZ_VERBOSE") != nullptr;
  return on;
}

// Runs `read`. An exception is the expected outcome for a bad file when it is a std::exception whose
// message names `source` (the file or folder given to the reader). Findings:
//  - std::bad_alloc / std::length_error: an allocation sized from the file that its size did not bound;
//  - a message that does not name `source` (the user cannot tell which file is bad);
//  - any other exception type.
template <class Read>
void expect_clean(const std::string& source, Read&& read) {
  try {
    read();
  } catch (const std::bad_alloc& e) {
    finding("std::bad_alloc reading " + source + ": a size from the file was not bounded by the file's size");
  } catch (const std::length_error& e) {
    finding("std::length_error reading " + source + " (" + e.what() + "): a size from the file was not checked");
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (what.find(source) == std::string::npos) finding("the error does not name " + source + ": " + what);
    if (verbose()) std::fprintf(stderr, "refused: %s\n", what.c_str());
    return;
  } catch (...) {
    finding("an exception that is not a std::exception escaped reading " + source);
  }
  if (verbose()) std::fprintf(stderr, "accepted: %s\n", source.c_str());
}

// Runs `use` on what a reader accepted (a tokenizer encoding text, say). Those calls know no file, so
// their documented refusals (std::runtime_error, std::invalid_argument) need not name one; any other
// exception (std::out_of_range from an id the reader let through, std::bad_alloc, ...) is a finding.
template <class Use>
void expect_usable(const std::string& source, Use&& use) {
  try {
    use();
  } catch (const std::bad_alloc& e) {
    finding("std::bad_alloc using what was read from " + source);
  } catch (const std::length_error& e) {
    finding("std::length_error using what was read from " + source + ": " + e.what());
  } catch (const std::runtime_error& e) {
    if (verbose()) std::fprintf(stderr, "refused in use: %s\n", e.what());
  } catch (const std::invalid_argument& e) {
    if (verbose()) std::fprintf(stderr, "refused in use: %s\n", e.what());
  } catch (const std::exception& e) {
    finding("unexpected exception using what was read from " + source + ": " + e.what());
  } catch (...) {
    finding("an exception that is not a std::exception escaped using what was read from " + source);
  }
}

// A folder of this process's own (under /dev/shm when it exists, else the temporary directory),
// removed at exit: readers that only take a path read the fuzzer's bytes from here.
const std::filesystem::path& scratch_dir();

// Writes `bytes` to scratch_dir() / name (replacing it; `name` may hold folders) and returns the path.
std::filesystem::path write_scratch(const std::string& name, std::span<const uint8_t> bytes);
// Removes scratch_dir() / name if present.
void remove_scratch(const std::string& name);

// A multi-file input (a model folder, a PEFT adapter) is its files joined by this line; a seed is
// made with join_files and the target cuts it with split_files. libFuzzer mutates across the
// boundaries, and fuzz/dictionaries/ give it the separator, so files appear, vanish and change order.
inline constexpr std::string_view kFileSeparator = "\n--qforge-fuzz-next-file--\n";
// The first `count` parts (missing parts come back empty; text after the last wanted part stays in it).
std::vector<std::span<const uint8_t>> split_files(std::span<const uint8_t> data, size_t count);

// Reads every byte of `span` so AddressSanitizer sees a span that points outside its buffer, even if
// the reader's caller would never have touched it.
void touch(std::span<const std::byte> span);

}  // namespace qforge::fuzz
