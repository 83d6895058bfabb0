// qforge command line: `qforge train|qlora|eval|generate|quantize|study|export|inspect|probs|tokenize|imatrix|quantize-gguf`. Thin: parses flags with CLI11, loads the
// config, and calls trainers/run.h. Errors print one line naming what is wrong and exit 1.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "cli/export_method.h"
#include "cli/imatrix_command.h"
#include "cli/model_options.h"
#include "cli/probs_command.h"
#include "cli/qlora_command.h"
#include "cli/quantize_command.h"
#include "cli/quantize_gguf_command.h"
#include "cli/tokenize_command.h"
#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/llama_type_mix.h"
#include "exporters/hf/hf_export_source.h"
#include "exporters/hf/hf_quant_export.h"
#include "exporters/registry.h"
#include "fakequant/quantizer_spec.h"
#include "ptq/gptq_ggml_method.h"
#include "ptq/method.h"
#include "trainers/data_parallel.h"
#include "trainers/gguf_evaluate.h"
#include "trainers/run.h"
#include "trainers/study/study.h"
#include "trainers/trainer.h"

namespace {

namespace tr = qforge::trainers;

struct Arguments {
  std::string config_path, run_dir, checkpoint, prompt;
  std::vector<std::string> overrides;
  bool fresh = false;
  tr::GenerateOptions generate;
  tr::ModelSource generate_source;
  qforge::cli::ProbsArguments probs;
  qforge::cli::TokenizeArguments tokenize;
  std::string output_dir;
  qforge::cli::QuantizeArguments quantize;
  std::string format = "gguf", file_type, file, eval_gguf, eval_hf;
  qforge::cli::QuantizeGgufArguments quantize_gguf;
  std::string imatrix;  // export --imatrix
  std::string export_method;  // export --method
  std::string export_dtype, max_shard_size, export_quant;  // export --format hf
  std::string export_hf;  // export --hf: a Hugging Face folder as the source
  int64_t calibration_chunks = 128;
  qforge::cli::ImatrixArguments imatrix_command;
  qforge::cli::QloraArguments qlora;
};

void add_train(CLI::App& app, Arguments& args) {
  CLI::App* train = app.add_subcommand("train", "Train the model a run config describes (resumes if a checkpoint exists)");
  train->add_option("-c,--config", args.config_path, "Run config in protobuf text format (examples/*.pbtxt)")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--set", args.overrides, "Override one config field: path.to.field=value (repeatable)");
  train->add_option("--run-dir", args.run_dir, "Folder for checkpoint.bin and metrics.jsonl (default: trainer.run_dir)");
  train->add_flag("--fresh", args.fresh, "Start from scratch even when the run folder has a checkpoint");
  train->footer(tr::data_parallel_help());
}

void add_eval(CLI::App& app, Arguments& args) {
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a checkpoint on its validation/test data");
  eval->add_option("--checkpoint", args.checkpoint, "Run folder holding checkpoint.bin")->required()->check(CLI::ExistingDirectory);
  eval->add_option("--gguf", args.eval_gguf,
                   "Evaluate this GGUF file's (dequantized) weights instead, on the run's data and architecture")
      ->check(CLI::ExistingFile);
  eval->add_option("--hf", args.eval_hf,
                   "Evaluate this Hugging Face model folder's weights instead, on the run's data and architecture")
      ->check(CLI::ExistingDirectory)
      ->excludes("--gguf");
}

void add_generate(CLI::App& app, Arguments& args) {
  CLI::App* gen = app.add_subcommand("generate", "Sample text from a language-model checkpoint or a GGUF file");
  qforge::cli::add_model_source_options(*gen, args.generate_source);
  qforge::cli::add_lora_options(*gen, args.generate_source);
  CLI::Option* prompt = gen->add_option("--prompt", args.generate.prompt, "Text to continue");
  CLI::Option* prompt_tokens =
      gen->add_option("--prompt-tokens", args.generate.prompt_tokens,
                      "Token ids to continue, comma-separated (prints ids; --hf folders without tokenizer.json take only these)")
          ->delimiter(',');
  prompt->excludes(prompt_tokens);
  gen->add_option("-n,--tokens", args.generate.max_new_tokens, "Tokens to sample")->capture_default_str();
  gen->add_option("-t,--temperature", args.generate.temperature, "Softmax temperature; 0 = greedy")->capture_default_str();
  gen->add_option("-k,--top-k", args.generate.top_k, "Sample among the k most likely tokens; 0 = all")->capture_default_str();
  gen->add_option("--seed", args.generate.seed, "Sampling seed")->capture_default_str();
}

void add_export(CLI::App& app, Arguments& args) {
  CLI::App* e = app.add_subcommand("export", "Write a run as a model file (GGUF) or a LoRA run's adapter (--format)");
  CLI::Option* run = e->add_option("--checkpoint", args.checkpoint, "Run folder holding checkpoint.bin")->check(CLI::ExistingDirectory);
  e->add_option("--hf", args.export_hf, "Or a Hugging Face model folder (config.json, safetensors, tokenizer.json; "
                                        "quantized folders too): re-export it in another --format, --dtype or --quant")
      ->check(CLI::ExistingDirectory)
      ->excludes(run);
  std::vector<std::string> formats;
  for (const qforge::exporters::Exporter& exporter : qforge::exporters::exporters()) formats.emplace_back(exporter.name);
  e->add_option("--format", args.format, qforge::exporters::exporter_help())
      ->check(CLI::IsMember(formats))
      ->capture_default_str();
  e->add_option("--type", args.file_type,
                qforge::exporters::gguf::llama_file_type_list() + " (default: the run's quantization.preset, else F32)");
  e->add_option("-o,--out", args.file, "Output file (--format hf, peft: a folder)")->required();
  e->add_option("--dtype", args.export_dtype, "--format hf: f32 (default), f16 or bf16");
  e->add_option("--quant", args.export_quant, "--format hf: write the quantized Linears' codes in a Hugging Face layout: " +
                                                 qforge::exporters::hf::hf_quant_help());
  e->add_option("--max-shard-size", args.max_shard_size,
                "--format hf: shard the weights above this size, e.g. 5GB (default, as transformers), 500MB, 20000 (bytes)");
  e->add_option("--imatrix", args.imatrix, "Importance matrix (.gguf or legacy .dat, e.g. from qforge imatrix): weights the codecs' searches; "
                "needed, as by llama-quantize, where the mix gives tensors IQ1_*, IQ2_*, IQ3_XXS (or Q2_K in Q2_K_S)")
      ->check(CLI::ExistingFile);
  e->add_option("--method", args.export_method,
                "Encode the weights with a post-training method, name[:options] (float runs; see Methods below)");
  e->add_option("--calibration-chunks", args.calibration_chunks,
                "--method: chunks of the model's context from the run's training split (as qforge imatrix --chunks)")
      ->capture_default_str();
  e->footer(
      "Methods: " + qforge::ptq::ggml_method_help() + "\n\n"
      "QAT runs: a weight trained with a GGUF block type (schemes " + qforge::fakequant::gguf_block_scheme_names() + ", or "
      "quantization.preset) is written in the type it trained with, encoded from its latent weight with the same "
      "codec, so the file's weights equal the trained forward's bit for bit (no importance matrix for them); --type "
      "applies to the remaining tensors (norms stay F32). A weight trained with another scheme (int4:g32, nf4, ...) "
      "is written as its fake-quantized values, then encoded with --type. Activation quantizers are not exported.");
}

void add_inspect(CLI::App& app, Arguments& args) {
  CLI::App* i = app.add_subcommand("inspect", "Print the metadata and tensor table of a GGUF file");
  i->add_option("file", args.file, "GGUF file")->required()->check(CLI::ExistingFile);
}

std::string short_value(const qforge::exporters::gguf::Value& v) {
  namespace gg = qforge::exporters::gguf;
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return "\"" + x + "\"";
        else if constexpr (std::is_same_v<T, gg::Array>)
          return std::string(gg::value_type_name(x.element_type)) + "[" + std::to_string(x.elements.size()) + "]";
        else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else return std::to_string(x);
      },
      v.storage);
}

int run_inspect(const Arguments& args) {
  namespace gg = qforge::exporters::gguf;
  const gg::GgufReader reader{std::filesystem::path(args.file)};
  const gg::GgufFile& f = reader.file();
  std::printf("%s: %zu metadata keys, %zu tensors, data at byte %llu\n", args.file.c_str(), f.metadata.size(),
              f.tensors.size(), static_cast<unsigned long long>(reader.data_start()));
  for (const gg::KeyValue& kv : f.metadata)
    std::printf("  %-40s %-7s %s\n", kv.key.c_str(), std::string(gg::value_type_name(kv.value.type())).c_str(),
                short_value(kv.value).c_str());
  for (const gg::TensorInfo& t : f.tensors) {
    std::string dims;
    for (uint64_t d : t.dims) dims += (dims.empty() ? "" : " x ") + std::to_string(d);
    const auto type = gg::find_ggml_type(t.type);
    std::printf("  %-28s %-8s [%s]\n", t.name.c_str(), type ? std::string(type->name).c_str() : "?", dims.c_str());
  }
  return 0;
}

// --checkpoint RUN or --hf DIR (exactly one): what the export writes.
qforge::exporters::ExportSource export_source_of(const Arguments& args, const qforge::exporters::Exporter& exporter) {
  namespace ex = qforge::exporters;
  if (args.checkpoint.empty() == args.export_hf.empty())
    throw std::invalid_argument("export: give the model as --checkpoint RUN or --hf DIR (exactly one)");
  if (args.export_hf.empty()) return tr::export_source(args.checkpoint, exporter.input);
  if (exporter.input != ex::ExportInput::kModel)
    throw std::invalid_argument("export --hf " + args.export_hf + ": --format " + args.format +
                                " writes a LoRA run's adapter; a Hugging Face folder is a model (--format gguf or hf)");
  if (!args.export_method.empty())
    throw std::invalid_argument("export --hf: --method calibrates on a run's training data; give --checkpoint RUN");
  std::filesystem::path name = args.export_hf;
  if (!name.has_filename()) name = name.parent_path();
  return {name.filename().string(), ex::hf::hf_export_source(args.export_hf), std::nullopt};
}

int run_export(const Arguments& args) {
  namespace ex = qforge::exporters;
  const ex::Exporter& exporter = ex::find_exporter(args.format);
  if (!exporter.takes_type && (!args.file_type.empty() || !args.imatrix.empty()))
    throw std::invalid_argument("export: --type and --imatrix do not apply to --format " + args.format);
  if ((!args.export_dtype.empty() || !args.max_shard_size.empty() || !args.export_quant.empty()) && args.format != "hf")
    throw std::invalid_argument("export: --dtype, --max-shard-size and --quant apply to --format hf only");
  if (!args.export_quant.empty()) qforge::exporters::hf::hf_quant_format(args.export_quant);  // before restoring the run
  ex::ExportSource source = export_source_of(args, exporter);
  if (!args.export_method.empty())
    std::fprintf(stderr, "%s\n",
                 qforge::cli::encode_with_method(source, args.checkpoint, args.file_type, args.export_method,
                                                 args.calibration_chunks).c_str());
  // With --quant the exporter says which of the run's notes still apply (its codes are written).
  if (source.model && args.export_quant.empty()) {
    for (const std::string& note : source.model->notes) std::fprintf(stderr, "note: %s\n", note.c_str());
    if (args.format == "gguf")
      for (const std::string& note : source.model->gguf_notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  }
  std::printf("%s\n", exporter.write(source, {args.file_type, args.imatrix, args.export_dtype, args.max_shard_size,
                                              args.export_quant},
                                     args.file).c_str());
  return 0;
}

// The writers of the study's GGUF cells (trainers/study/gguf_cells.h): `qforge imatrix` on the run's
// training split and `qforge export --format gguf`, the same code.
qforge::trainers::GgufStudyTools gguf_study_tools() {
  namespace ex = qforge::exporters;
  qforge::trainers::GgufStudyTools tools;
  tools.imatrix = [](const std::filesystem::path& run, int64_t chunks, const std::filesystem::path& out) {
    qforge::cli::ImatrixArguments imatrix;
    imatrix.checkpoint = run.string();
    imatrix.chunks = chunks;
    imatrix.output = out.string();
    qforge::cli::run_imatrix(imatrix);
  };
  tools.export_gguf = [](const std::filesystem::path& run, const std::string& type, const std::string& imatrix,
                         const std::filesystem::path& out) {
    const ex::Exporter& gguf = ex::find_exporter("gguf");
    return gguf.write(tr::export_source(run, gguf.input), {type, imatrix, "", "", ""}, out);
  };
  return tools;
}

void add_study(CLI::App& app, Arguments& args) {
  CLI::App* s = app.add_subcommand("study", "QAT vs PTQ grid on one model: report.md, results.csv, plot.svg");
  s->add_option("-c,--config", args.config_path, "Study config (examples/study_*.pbtxt)")->required()->check(CLI::ExistingFile);
  s->add_option("--set", args.overrides, "Override one study field, e.g. base.trainer.steps=100 (repeatable)");
  s->add_option("-o,--out", args.output_dir, "Output folder (default: output_dir of the config, else runs/<config name>)");
}

int run_study(const Arguments& args, const std::string& command) {
  qforge::config::StudyConfig study = tr::load_study_config(args.config_path);
  for (const std::string& assignment : args.overrides) tr::apply_override(study, assignment);
  std::filesystem::path out = args.output_dir.empty() ? study.output_dir() : args.output_dir;
  if (out.empty()) out = std::filesystem::path("runs") / std::filesystem::path(args.config_path).stem();
  tr::run_study(study, out, command, gguf_study_tools());
  std::printf("report: %s\n", (out / "report.md").c_str());
  return 0;
}

int run(CLI::App& app, const Arguments& args, const std::string& command) {
  if (app.got_subcommand("quantize")) return qforge::cli::run_quantize(args.quantize);
  if (app.got_subcommand("export")) return run_export(args);
  if (app.got_subcommand("inspect")) return run_inspect(args);
  if (app.got_subcommand("probs")) return qforge::cli::run_probs(args.probs);
  if (app.got_subcommand("tokenize")) return qforge::cli::run_tokenize(args.tokenize);
  if (app.got_subcommand("quantize-gguf")) return qforge::cli::run_quantize_gguf(args.quantize_gguf);
  if (app.got_subcommand("imatrix")) return qforge::cli::run_imatrix(args.imatrix_command);
  if (app.got_subcommand("study")) return run_study(args, command);
  if (app.got_subcommand("qlora")) return qforge::cli::run_qlora(args.qlora);
  if (app.got_subcommand("train")) {
    qforge::config::RunConfig config = tr::load_run_config(args.config_path);
    for (const std::string& assignment : args.overrides) tr::apply_override(config, assignment);
    tr::TrainOptions options;
    options.run_dir = args.run_dir.empty() ? config.trainer().run_dir() : args.run_dir;
    if (options.run_dir.empty()) {
      options.run_dir = std::filesystem::path("runs") / std::filesystem::path(args.config_path).stem();
    }
    options.fresh = args.fresh;
    const tr::RunResult result = tr::train(config, options);
    if (tr::Distributed::world().is_root()) std::printf("%s\n", tr::final_line(result).c_str());  // once, not per rank
  } else if (app.got_subcommand("eval")) {
    const tr::RunResult result = !args.eval_hf.empty()   ? tr::evaluate_hf(args.checkpoint, args.eval_hf)
                                 : !args.eval_gguf.empty() ? tr::evaluate_gguf(args.checkpoint, args.eval_gguf)
                                                           : tr::evaluate(args.checkpoint);
    std::printf("%s\n", tr::final_line(result).c_str());
  } else if (app.got_subcommand("generate")) {
    std::printf("%s\n", tr::generate(args.generate_source, args.generate).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qforge: quantization-aware training. Train (with or without fake quantization), evaluate, sample, quantize post-training and compare QAT with PTQ."};
  app.require_subcommand(1);
  Arguments args;
  add_train(app, args);
  add_eval(app, args);
  add_generate(app, args);
  qforge::cli::add_quantize(app, args.quantize);
  add_study(app, args);
  add_export(app, args);
  add_inspect(app, args);
  qforge::cli::add_probs(app, args.probs);
  qforge::cli::add_tokenize(app, args.tokenize);
  qforge::cli::add_quantize_gguf(app, args.quantize_gguf);
  qforge::cli::add_imatrix(app, args.imatrix_command);
  qforge::cli::add_qlora(app, args.qlora);
  CLI11_PARSE(app, argc, argv);
  std::string command = "qforge";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  try {
    return run(app, args, command);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qforge: error: %s\n", e.what());
    return 1;
  }
}
