#pragma once
// llama.cpp's models/ folder (vocabulary-only GGUF files with .inp/.out tokenizer vectors) for tests:
// $QFORGE_LLAMACPP_MODELS if set, else a clone of
// tools/llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle (scripts/setup_node.sh installs it)
// into a temporary folder, once per test program. Without either, REQUIRE_LLAMACPP_MODELS() fails the
// test: a missing peer must not read as a pass (issue 19).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace qforge::test {

// Clones only models/ of the bundle into a temporary folder, once per test program.
class LlamaCppModels {
 public:
  static const LlamaCppModels& get() {
    static const LlamaCppModels models;
    return models;
  }
  ~LlamaCppModels() {
    std::error_code ignored;
    if (!clone_.empty()) std::filesystem::remove_all(clone_, ignored);
  }
  const std::filesystem::path& dir() const { return dir_; }
  const std::string& why_missing() const { return why_missing_; }

 private:
  LlamaCppModels() {
    if (const char* env = std::getenv("QFORGE_LLAMACPP_MODELS")) {
      dir_ = env;
      return;
    }
    const std::filesystem::path bundle =
        std::filesystem::path(QFORGE_SOURCE_DIR) / "tools/llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle";
    if (!std::filesystem::exists(bundle)) {
      why_missing_ = "no " + bundle.string() + " (run scripts/setup_node.sh) and QFORGE_LLAMACPP_MODELS is unset";
      return;
    }
    clone_ = std::filesystem::temp_directory_path() / ("qforge-llamacpp-vocab-" + std::to_string(::getpid()));
    const std::string command = "git clone -q --no-checkout '" + bundle.string() + "' '" + clone_.string() +
                                "' 2>/dev/null && git -C '" + clone_.string() + "' checkout -q HEAD -- models";
    if (std::system(command.c_str()) != 0) {
      why_missing_ = "could not clone " + bundle.string();
      return;
    }
    dir_ = clone_ / "models";
  }
  std::filesystem::path dir_, clone_;
  std::string why_missing_;
};

}  // namespace qforge::test

#define REQUIRE_LLAMACPP_MODELS()                                                                         \
  if (::qforge::test::LlamaCppModels::get().dir().empty()) {                                              \
    FAIL() << "llama.cpp vocab files unavailable: " << ::qforge::test::LlamaCppModels::get().why_missing(); \
  }
