#include "cli/qlora_command.h"

#include <cstdio>
#include <filesystem>

#include "trainers/data_parallel.h"
#include "trainers/trainer.h"
#include "trainers/run_config.h"

namespace qforge::cli {

namespace tr = qforge::trainers;

void add_qlora(CLI::App& app, QloraArguments& args) {
  CLI::App* q = app.add_subcommand("qlora", "Fine-tune LoRA adapters on a frozen, quantized base (QLoRA)");
  q->add_option("--base", args.base, "The frozen base: a qforge run folder, a llama.cpp .gguf file or a Hugging Face model folder "
                                    "(config.json + safetensors; text data use its tokenizer.json, --set model.llama.max_position_embeddings=N)")->required();
  q->add_option("-c,--config", args.config_path,
                "Run config (data, optimizer, schedule, trainer, lora sections; model is taken from the base)")
      ->required()
      ->check(CLI::ExistingFile);
  q->add_option("--base-format", args.base_format,
                "How the base is held: nf4 (default for a run folder or an HF folder), fp4, bnb_fp4, f32, q8_0, q5_0, q4_K, q6_K, iq4_nl, or "
                "gguf (default for a .gguf base: its own blocks, no re-quantization); overrides lora.base_format");
  q->add_option("--set", args.overrides, "Override one config field: path.to.field=value (repeatable)");
  q->add_option("--run-dir", args.run_dir, "Folder for checkpoint.bin and metrics.jsonl (default: trainer.run_dir)");
  q->add_flag("--fresh", args.fresh, "Start from scratch even when the run folder has a checkpoint");
  q->footer(
      "Only the adapters train: lora.rank (8), lora.alpha (16; scale alpha/rank), lora.dropout, lora.targets "
      "(default q,k,v,o,gate,up,down projections). Checkpoints hold the adapters and optimizer state, not the base. "
      "Afterwards: `qforge eval --checkpoint RUN`, `qforge export --checkpoint RUN --type Q4_K_M` (merged), "
      "`qforge export --checkpoint RUN --format peft|gguf-lora` (the adapter alone).\n" + tr::data_parallel_help());
}

int run_qlora(const QloraArguments& args) {
  config::RunConfig config = tr::load_run_config(args.config_path);
  for (const std::string& assignment : args.overrides) tr::apply_override(config, assignment);
  config.mutable_lora()->set_base(args.base);
  if (!args.base_format.empty()) config.mutable_lora()->set_base_format(args.base_format);
  tr::TrainOptions options;
  options.run_dir = args.run_dir.empty() ? config.trainer().run_dir() : args.run_dir;
  if (options.run_dir.empty()) options.run_dir = std::filesystem::path("runs") / std::filesystem::path(args.config_path).stem();
  options.fresh = args.fresh;
  const tr::RunResult result = tr::train(config, options);
  if (tr::Distributed::world().is_root()) std::printf("%s\n", tr::final_line(result).c_str());
  return 0;
}

}  // namespace qforge::cli
