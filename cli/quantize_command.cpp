#include "cli/quantize_command.h"

#include <cstdio>
#include <stdexcept>

#include "fakequant/quantizer_spec.h"
#include "trainers/post_training_quantization.h"
#include "trainers/run_config.h"

namespace qforge::cli {
namespace {

namespace tr = qforge::trainers;

std::string default_output(const std::string& checkpoint, const std::string& scheme) {
  std::string suffix = scheme;
  for (char& c : suffix) c = (c == ':' || c == '/') ? '-' : c;
  std::string base = checkpoint;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + "-" + suffix;
}

// The quantization section of --config (the rest of that file is the float run's business) with the
// --set overrides, which may only reach into it.
// With --hf the whole of --config is the quantized run's (data, trainer, context: an HF folder brings none)
// and --set may reach any field.
config::RunConfig config_run(const QuantizeArguments& args) {
  config::RunConfig run;
  if (!args.config_path.empty()) run = tr::load_run_config(args.config_path);
  else if (!args.hf.empty()) throw std::invalid_argument("quantize --hf: give --config, a run config with data.text and model.llama.max_position_embeddings");
  for (const std::string& assignment : args.overrides) {
    if (args.hf.empty() && assignment.rfind("quantization.", 0) != 0)
      throw std::invalid_argument("quantize --set " + assignment + ": only quantization.* fields (the rest is the float run's)");
    tr::apply_override(run, assignment);
  }
  return run;
}

// The rules: --scheme (with --group-size, --input-scheme, --keep-float), or the config's rules.
void set_rules(const QuantizeArguments& args, config::QuantizationConfig& quantization) {
  if (args.scheme.empty()) {
    if (quantization.rules_size() == 0) throw std::invalid_argument("quantize: give --scheme, or quantization.rules in --config");
    if (args.group_size > 0 || !args.input_scheme.empty() || !args.keep_float.empty())
      throw std::invalid_argument("quantize: --group-size, --input-scheme and --keep-float go with --scheme");
    return;
  }
  if (quantization.rules_size() > 0) throw std::invalid_argument("quantize: --scheme and --config's quantization.rules both give rules");
  const std::string weight = args.group_size > 0 ? fakequant::with_group_size(args.scheme, args.group_size) : args.scheme;
  config::QuantizerConfig input;
  input.set_scheme(args.input_scheme);
  const config::PtqConfig ptq = quantization.ptq();
  quantization = tr::scheme_rules(weight, args.input_scheme.empty() ? nullptr : &input, args.keep_float);
  *quantization.mutable_ptq() = ptq;
}

// The method (--method replaces the config's) and its options: the config's, then the flags'.
void set_method(const QuantizeArguments& args, config::PtqConfig& ptq) {
  if (!args.method.empty()) ptq.set_method(args.method);
  const ptq::MethodChoice choice = tr::method_choice(ptq);  // refuses an unknown method before the flags
  ptq.set_options(ptq::join_options({ptq.options(), flag_options(args.method_flags, *choice.method)}));
  if (args.calibration_samples > 0 && args.calibration_batches > 0)
    throw std::invalid_argument("quantize: give --calib-samples or --calibration-batches, not both");
  if (args.calibration_samples > 0) ptq.set_calibration_samples(args.calibration_samples);
}

}  // namespace

void add_quantize(CLI::App& app, QuantizeArguments& args) {
  CLI::App* q = app.add_subcommand("quantize", "Post-training quantization of a float run (--method, default round to nearest)");
  q->footer(fakequant::scheme_help() + "\n\nMethods: " + ptq::method_help());  // from the tables
  CLI::Option* checkpoint =
      q->add_option("--checkpoint", args.checkpoint, "Float run folder holding checkpoint.bin")->check(CLI::ExistingDirectory);
  CLI::Option* hf = q->add_option("--hf", args.hf,
                                  "Or a Hugging Face model folder (Llama, Mistral, Qwen2); --config then gives the whole run "
                                  "(data.text: text for its tokenizer.json or token ids, model.llama.max_position_embeddings, trainer)")
                        ->check(CLI::ExistingDirectory);
  checkpoint->excludes(hf);
  q->add_option("--scheme", args.scheme, "Weight scheme, e.g. int4:channel or int4:g32:mse (or quantization.rules in --config)");
  q->add_option("--group-size", args.group_size, "Per-group weight scales of N elements: --scheme int4 --group-size 128 is int4:g128 "
                                                 "(the scheme must not name its granularity)");
  q->add_option("--input-scheme", args.input_scheme, "Activation scheme, e.g. int8:tensor:ema or int8:token (default: float)");
  q->add_option("--keep-float", args.keep_float, "Layer glob kept float, e.g. lm_head (repeatable)");
  q->add_option("--method", args.method, "Post-training method, optionally with its options as name:options (see Methods "
                                         "below; default: the config's quantization.ptq.method, else rtn)");
  q->add_option("--calib-samples", args.calibration_samples,
                "Calibration sequences (images for classifiers) from the training split; default 16 batches of data.batch_size");
  q->add_option("--calibration-batches", args.calibration_batches, "Calibration batches of data.batch_size sequences (default 16)");
  q->add_option("-c,--config", args.config_path, "Run config whose quantization section (rules, ptq method / options / "
                                                 "calibration_samples) is used; a quantized run's config.pbtxt repeats it")
      ->check(CLI::ExistingFile);
  q->add_option("--set", args.overrides, "Override one quantization field, e.g. quantization.ptq.options=act_order (repeatable)");
  q->add_option("-o,--out", args.output_dir, "Output run folder (default: <checkpoint>-<scheme>)");
  add_method_flags(*q, args.method_flags);
}

int run_quantize(const QuantizeArguments& args) {
  if (args.checkpoint.empty() == args.hf.empty()) throw std::invalid_argument("quantize: give --checkpoint RUN or --hf DIR");
  tr::PtqOptions options;
  options.float_run = args.checkpoint;
  options.hf_model = args.hf;
  const config::RunConfig run = config_run(args);
  if (!args.hf.empty()) options.hf_run = run;
  options.quantization = run.quantization();
  set_rules(args, options.quantization);
  set_method(args, *options.quantization.mutable_ptq());
  options.calibration_batches = args.calibration_batches;
  const std::string name = options.quantization.rules(options.quantization.rules_size() - 1).weight().scheme();
  options.output_dir = args.output_dir.empty() ? default_output(args.hf.empty() ? args.checkpoint : args.hf, name) : args.output_dir;
  std::printf("%s\nsaved: %s\n", tr::final_line(tr::post_training_quantize(options)).c_str(), options.output_dir.c_str());
  return 0;
}

}  // namespace qforge::cli
