// qforge command line: `qforge train|eval|generate`. Thin: parses flags with CLI11, loads the
// config, and calls trainers/run.h. Errors print one line naming what is wrong and exit 1.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "trainers/run.h"

namespace {

namespace tr = qforge::trainers;

struct Arguments {
  std::string config_path, run_dir, checkpoint, prompt;
  std::vector<std::string> overrides;
  bool fresh = false;
  tr::GenerateOptions generate;
};

void add_train(CLI::App& app, Arguments& args) {
  CLI::App* train = app.add_subcommand("train", "Train the model a run config describes (resumes if a checkpoint exists)");
  train->add_option("-c,--config", args.config_path, "Run config in protobuf text format (examples/*.pbtxt)")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--set", args.overrides, "Override one config field: path.to.field=value (repeatable)");
  train->add_option("--run-dir", args.run_dir, "Folder for checkpoint.bin and metrics.jsonl (default: trainer.run_dir)");
  train->add_flag("--fresh", args.fresh, "Start from scratch even when the run folder has a checkpoint");
}

void add_eval(CLI::App& app, Arguments& args) {
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a checkpoint on its validation/test data");
  eval->add_option("--checkpoint", args.checkpoint, "Run folder holding checkpoint.bin")->required()->check(CLI::ExistingDirectory);
}

void add_generate(CLI::App& app, Arguments& args) {
  CLI::App* gen = app.add_subcommand("generate", "Sample text from a language-model checkpoint");
  gen->add_option("--checkpoint", args.checkpoint, "Run folder holding checkpoint.bin")->required()->check(CLI::ExistingDirectory);
  gen->add_option("--prompt", args.generate.prompt, "Text to continue")->required();
  gen->add_option("-n,--tokens", args.generate.max_new_tokens, "Tokens to sample")->capture_default_str();
  gen->add_option("-t,--temperature", args.generate.temperature, "Softmax temperature; 0 = greedy")->capture_default_str();
  gen->add_option("-k,--top-k", args.generate.top_k, "Sample among the k most likely tokens; 0 = all")->capture_default_str();
  gen->add_option("--seed", args.generate.seed, "Sampling seed")->capture_default_str();
}

int run(CLI::App& app, const Arguments& args) {
  if (app.got_subcommand("train")) {
    qforge::config::RunConfig config = tr::load_run_config(args.config_path);
    for (const std::string& assignment : args.overrides) tr::apply_override(config, assignment);
    tr::TrainOptions options;
    options.run_dir = args.run_dir.empty() ? config.trainer().run_dir() : args.run_dir;
    if (options.run_dir.empty()) {
      options.run_dir = std::filesystem::path("runs") / std::filesystem::path(args.config_path).stem();
    }
    options.fresh = args.fresh;
    std::printf("%s\n", tr::final_line(tr::train(config, options)).c_str());
  } else if (app.got_subcommand("eval")) {
    std::printf("%s\n", tr::final_line(tr::evaluate(args.checkpoint)).c_str());
  } else if (app.got_subcommand("generate")) {
    std::printf("%s\n", tr::generate(args.checkpoint, args.generate).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qforge: quantization-aware training. Train, evaluate and sample models from run configs."};
  app.require_subcommand(1);
  Arguments args;
  add_train(app, args);
  add_eval(app, args);
  add_generate(app, args);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(app, args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qforge: error: %s\n", e.what());
    return 1;
  }
}
