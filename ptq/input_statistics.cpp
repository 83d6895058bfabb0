#include "ptq/input_statistics.h"

#include <algorithm>
#include <stdexcept>

namespace qforge::ptq {

namespace {

namespace ag = qforge::autograd;

// Identity on the forward pass; accumulates, per input column, Σx and Σx² (in double: millions of
// tokens) and counts the input rows, as collect_imatrix does for a MUL_MAT's src1.
class InputMomentsObserver : public layers::UnaryModule {
 public:
  explicit InputMomentsObserver(int64_t columns) : sum_(columns, 0.0), sum2_(columns, 0.0) {}

  ag::Variable forward(const ag::Variable& x) override {
    const int64_t columns = static_cast<int64_t>(sum_.size());
    if (x.ndim() < 1 || x.dim(-1) != columns) {
      throw std::invalid_argument("imatrix observer: input last dim " + std::to_string(x.ndim() ? x.dim(-1) : 0) +
                                  " != " + std::to_string(columns));
    }
    const float* data = x.data().data();
    const int64_t rows = x.numel() / columns;
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = data + r * columns;
      for (int64_t j = 0; j < columns; ++j) {
        const double v = row[j];
        sum_[j] += v;
        sum2_[j] += v * v;
      }
    }
    rows_ += rows;
    return x;
  }

  const std::vector<double>& sum() const { return sum_; }
  const std::vector<double>& sum2() const { return sum2_; }
  int64_t rows() const { return rows_; }

 private:
  std::vector<double> sum_, sum2_;
  int64_t rows_ = 0;
};

}  // namespace

// One observed projection and the weights (Hugging Face names) that share its input.
struct InputStatisticsCollector::Observed {
  std::shared_ptr<InputMomentsObserver> observer;
  std::vector<std::string> weights;
};

InputStatisticsCollector::InputStatisticsCollector(layers::LlamaForCausalLM& model, InputStatisticsOptions options)
    : model_(model) {
  const auto observe = [this](layers::Linear& linear, const std::string& hf_prefix, std::vector<std::string> hf_sharing) {
    Observed o{std::make_shared<InputMomentsObserver>(linear.in_features()), {}};
    for (const std::string& part : hf_sharing) o.weights.push_back(hf_prefix + part + ".weight");
    if (linear.input_quantizer()) {
      throw std::logic_error("imatrix: " + hf_prefix + hf_sharing.front() +
                             " already has an input quantizer; collect the importance matrix on the float model");
    }
    linear.set_input_quantizer(o.observer);
    observed_.push_back(std::move(o));
  };
  const auto& config = model.config();
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const auto layer = model.model()->layer(static_cast<size_t>(i));
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    observe(*layer->self_attn()->q_proj(), prefix, {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"});
    observe(*layer->self_attn()->o_proj(), prefix, {"self_attn.o_proj"});
    observe(*layer->mlp()->gate_proj(), prefix, {"mlp.gate_proj", "mlp.up_proj"});
    observe(*layer->mlp()->down_proj(), prefix, {"mlp.down_proj"});
  }
  if (options.include_lm_head && model.lm_head()) observe(*model.lm_head(), "", {"lm_head"});
}

InputStatisticsCollector::~InputStatisticsCollector() = default;

int64_t InputStatisticsCollector::run(const std::vector<uint32_t>& tokens, int64_t chunk_size, int64_t max_chunks,
                                   int64_t batch_chunks) {
  const int64_t max_positions = model_.config().max_position_embeddings;
  if (chunk_size <= 0 || chunk_size > max_positions) {
    throw std::invalid_argument("imatrix: chunk size " + std::to_string(chunk_size) + " not in 1.." +
                                std::to_string(max_positions) + " (max_position_embeddings)");
  }
  if (chunk_size_ != 0 && chunk_size_ != chunk_size) {
    throw std::invalid_argument("imatrix: chunk size " + std::to_string(chunk_size) + " differs from the earlier " +
                                std::to_string(chunk_size_));
  }
  int64_t chunks = static_cast<int64_t>(tokens.size()) / chunk_size;
  if (max_chunks > 0) chunks = std::min(chunks, max_chunks);
  if (chunks < 1) {
    throw std::invalid_argument("imatrix: " + std::to_string(tokens.size()) + " calibration tokens, fewer than one chunk of " +
                                std::to_string(chunk_size));
  }
  batch_chunks = std::max<int64_t>(1, batch_chunks);
  ag::NoGradGuard no_grad;
  const bool was_training = model_.is_training();
  model_.eval();
  for (int64_t first = 0; first < chunks; first += batch_chunks) {
    const int64_t rows = std::min(batch_chunks, chunks - first);
    std::vector<int64_t> ids(tokens.begin() + first * chunk_size, tokens.begin() + (first + rows) * chunk_size);
    (void)model_.forward(ag::IndexTensor(ag::Shape{rows, chunk_size}, std::move(ids)));
  }
  model_.train(was_training);
  chunk_size_ = chunk_size;
  chunk_count_ += chunks;
  return chunks;
}

std::map<std::string, InputMoments> InputStatisticsCollector::moments() const {
  std::map<std::string, InputMoments> out;
  for (const Observed& o : observed_) {
    const InputMoments m{o.observer->sum(), o.observer->sum2(), o.observer->rows()};
    for (const std::string& weight : o.weights) out[weight] = m;
  }
  return out;
}

}  // namespace qforge::ptq
