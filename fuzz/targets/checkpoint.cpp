// A run folder's checkpoint.bin as every command opens it (trainers/run_folder.h open_run_folder: the
// checkpoint with its optimizer state, as a resuming `qforge train` reads it, then the run config saved
// in it), and a language-model run's tokenizer and model shape restored from what it holds.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "trainers/run_folder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = qforge::fuzz;
  namespace tr = qforge::trainers;
  fz::write_scratch(std::string("run/") + tr::kCheckpointFile, {data, size});
  const auto dir = fz::scratch_dir() / "run";
  fz::expect_clean(dir.string(), [&] {
    const tr::RunFolder run = tr::open_run_folder(dir, tr::CheckpointParts::kAll);
    // The saved config and tokenizer state, as eval and generate restore them: its refusals (a field
    // of the config, a tokenizer kind) are the config's errors, not the file's, so need not name it.
    if (run.config.model().has_llama())
      fz::expect_usable(dir.string(), [&] { tr::language_model_run(run, "fuzzing", /*ids_allowed=*/true); });
  });
  return 0;
}
