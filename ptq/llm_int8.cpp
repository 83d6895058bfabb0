#include "ptq/llm_int8.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "autograd/variable.h"
#include "fakequant/fake_quant_op.h"
#include "fakequant/qat.h"
#include "layers/linear.h"
#include "ptq/int_grid.h"
#include "ptq/method.h"
#include "ptq/method_options.h"
#include "ptq/rtn.h"

namespace qforge::ptq {
namespace {

// Passes its input on to the Linear's own input quantizer, counting the outlier columns on the way.
class OutlierCounter : public layers::UnaryModule {
 public:
  OutlierCounter(std::shared_ptr<layers::UnaryModule> quantizer, float threshold)
      : quantizer_(std::move(quantizer)), threshold_(threshold) {}
  autograd::Variable forward(const autograd::Variable& x) override {
    const int64_t cols = x.dim(-1), rows = cols == 0 ? 0 : x.numel() / cols;
    const std::vector<uint8_t> outliers = fakequant::outlier_columns(x.data().data(), rows, cols, threshold_);
    const double percent = 100.0 * static_cast<double>(std::count(outliers.begin(), outliers.end(), 1)) /
                           static_cast<double>(std::max<int64_t>(cols, 1));
    sum_ += percent, max_ = std::max(max_, percent), ++forwards_, columns_ = cols;
    return quantizer_->forward(x);
  }
  const std::shared_ptr<layers::UnaryModule>& quantizer() const { return quantizer_; }
  OutlierColumns result(const std::string& layer) const {
    return {layer, columns_, forwards_, forwards_ > 0 ? sum_ / static_cast<double>(forwards_) : 0.0, max_};
  }

 private:
  std::shared_ptr<layers::UnaryModule> quantizer_;
  float threshold_;
  double sum_ = 0.0, max_ = 0.0;
  int64_t forwards_ = 0, columns_ = 0;
};

// The counters sit in the input-quantizer slots while alive; the quantizers go back on destruction
// (also when a calibration batch throws).
class CountersInstalled {
 public:
  explicit CountersInstalled(layers::Module& model) {
    for (auto& [name, module] : model.named_modules()) {
      auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
      auto q = linear ? std::dynamic_pointer_cast<fakequant::Quantizer>(linear->input_quantizer()) : nullptr;
      if (!q || q->spec().outlier_threshold <= 0.0f) continue;
      auto counter = std::make_shared<OutlierCounter>(linear->take_input_quantizer(), q->spec().outlier_threshold);
      linear->set_input_quantizer(counter);
      installed_.push_back({name, linear, counter});
    }
  }
  ~CountersInstalled() {
    for (Installed& i : installed_) {
      i.linear->take_input_quantizer();
      i.linear->set_input_quantizer(i.counter->quantizer());
    }
  }
  CountersInstalled(const CountersInstalled&) = delete;
  CountersInstalled& operator=(const CountersInstalled&) = delete;

  std::vector<OutlierColumns> results() const {
    std::vector<OutlierColumns> out;
    for (const Installed& i : installed_) out.push_back(i.counter->result(i.name));
    return out;
  }

 private:
  struct Installed {
    std::string name;
    std::shared_ptr<layers::Linear> linear;
    std::shared_ptr<OutlierCounter> counter;
  };
  std::vector<Installed> installed_;
};

// Every quantized Linear must hold an int8 symmetric per-output-channel weight (bitsandbytes' CB +
// SCB) and the method's input scheme; layers the rules keep float stay float.
void check_rules(layers::Module& model, const std::string& options) {
  const fakequant::QuantizerSpec wanted = fakequant::parse_scheme(llm_int8_input_scheme(options));
  for (auto& [name, module] : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear || (!linear->weight_quantizer() && !linear->input_quantizer())) continue;
    auto weight = std::dynamic_pointer_cast<fakequant::Quantizer>(linear->weight_quantizer());
    if (!weight) throw std::invalid_argument("ptq llm_int8: " + name + ": needs an int8 weight quantizer (int8:channel)");
    const IntGrid grid = int_grid_of(*weight, name, "llm_int8");
    if (grid.bits != 8 || !grid.symmetric || grid.group_size != 0)
      throw std::invalid_argument("ptq llm_int8: " + name + ": weight scheme '" + weight->spec().describe() +
                                  "' is not int8 symmetric per output channel (int8:channel)");
    auto input = std::dynamic_pointer_cast<fakequant::Quantizer>(linear->input_quantizer());
    const fakequant::QuantizerSpec* got = input ? &input->spec() : nullptr;
    const bool same = got && got->format == wanted.format && got->bits == wanted.bits &&
                      got->symmetric == wanted.symmetric && got->dynamic_per_token && !got->is_ggml_block() &&
                      got->scale_dtype == wanted.scale_dtype && got->outlier_threshold == wanted.outlier_threshold;
    if (!same)
      throw std::invalid_argument("ptq llm_int8: " + name + ": input scheme '" + (got ? got->describe() : "float") +
                                  "' is not the method's " + llm_int8_input_scheme(options) + " (" + wanted.describe() + ")");
  }
}

}  // namespace

float llm_int8_threshold(const std::string& options) {
  float threshold = 6.0f;
  parse_method_options(options, "ptq llm_int8", accepted_options("llm_int8") + " (t > 0)",
                       [&](const std::string& key, const std::string& value) {
                         if (key != "threshold" || value.empty()) return false;
                         const char* begin = value.data();
                         const char* end = begin + value.size();
                         const auto [stop, error] = std::from_chars(begin, end, threshold);
                         return error == std::errc() && stop == end && threshold > 0.0f && std::isfinite(threshold);
                       });
  return threshold;
}

std::string llm_int8_input_scheme(const std::string& options) {
  return "int8:token:" + fakequant::outlier_token(llm_int8_threshold(options));
}

std::vector<OutlierColumns> count_outlier_columns(layers::Module& model, const Calibration& calibration) {
  const CountersInstalled counters(model);
  {
    autograd::NoGradGuard no_grad;
    for (int64_t b = 0; b < calibration.batches; ++b) calibration.forward(b);
  }
  return counters.results();
}

void quantize_llm_int8(layers::Module& model, const Calibration& calibration, const std::string& options) {
  check_rules(model, options);
  // The weights: absmax per output channel, round to nearest (CB, SCB); the per-token activation
  // quantizers have nothing to calibrate.
  quantize_rtn(model, calibration, "");
  for (const OutlierColumns& c : count_outlier_columns(model, calibration)) {
    std::printf("llm_int8 %s outlier_columns=%.1f%% (of %lld, mean over %lld forwards; max %.1f%%)\n", c.layer.c_str(),
                c.mean_percent, static_cast<long long>(c.columns), static_cast<long long>(c.forwards), c.max_percent);
  }
  std::fflush(stdout);
}

}  // namespace qforge::ptq
