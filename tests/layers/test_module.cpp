// Module mechanics: Hugging Face parameter names and order, train/eval, freezing, state dicts
// (with int64 buffers) and their errors, replacing a weight quantizer, seeded initialisation, and the shape/context errors of the layers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "layers/llama.h"
#include "layers/mlp.h"
#include "tests/support/error_of.h"
#include "tests/support/tiny_llama.h"

namespace qforge::testing {
namespace {

namespace ag = autograd;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ag::IndexTensor;
using ag::Shape;
using ag::Tensor;
using ag::Variable;
using namespace qforge::layers;

LlamaConfig tiny_config(bool tied) {
  LlamaConfig c =
      qforge::testing::tiny_llama_shape({.vocab = 13, .hidden = 8, .heads = 2, .kv_heads = 1, .ffn = 12, .context = 6});
  c.tie_word_embeddings = tied;
  c.seed = 3;
  return c;
}

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}

std::vector<std::string> expected_llama_names(bool tied) {
  std::vector<std::string> names = {"model.embed_tokens.weight"};
  for (int i = 0; i < 2; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".";
    for (const char* s : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm",
                          "post_attention_layernorm"}) {
      names.push_back(l + s + ".weight");
    }
  }
  names.push_back("model.norm.weight");
  if (!tied) names.push_back("lm_head.weight");
  return names;
}

TEST(Module, LlamaParameterNamesAndOrderAreHuggingFaces) {
  LlamaForCausalLM untied(tiny_config(false));
  EXPECT_THAT(names_of(untied), ElementsAreArray(expected_llama_names(false)));
  EXPECT_EQ(expected_llama_names(false)[1], "model.layers.0.self_attn.q_proj.weight");
  LlamaForCausalLM tied(tiny_config(true));
  EXPECT_THAT(names_of(tied), ElementsAreArray(expected_llama_names(true)));
  EXPECT_EQ(tied.lm_head(), nullptr);
  EXPECT_EQ(tied.output_weight().id(), tied.model()->embed_tokens()->weight().id());

  const auto state = untied.state_dict();
  EXPECT_EQ(state.at("model.layers.1.self_attn.k_proj.weight").shape(), (Shape{4, 8}));  // kv_heads * head_dim
  EXPECT_EQ(state.at("model.layers.1.self_attn.o_proj.weight").shape(), (Shape{8, 8}));
  EXPECT_EQ(state.at("model.layers.0.mlp.down_proj.weight").shape(), (Shape{8, 12}));
  EXPECT_EQ(state.at("lm_head.weight").shape(), (Shape{13, 8}));
  EXPECT_EQ(untied.parameters().size(), 21u);
  EXPECT_EQ(untied.parameters()[20].id(), untied.lm_head()->weight().id());

  std::vector<std::string> children;
  for (const auto& [name, child] : untied.named_children()) children.push_back(name);
  EXPECT_THAT(children, ElementsAreArray({"model", "lm_head"}));
  bool found = false;
  for (const auto& [name, m] : untied.named_modules()) found |= name == "model.layers.1.self_attn.q_proj";
  EXPECT_TRUE(found);
}

TEST(Module, RegistrationRejectsBadNames) {
  Linear linear(2, 3);
  EXPECT_THAT(error_of([&] { linear.register_parameter("weight", Tensor::zeros(Shape{1})); }),
              HasSubstr("'weight' is already taken"));
  EXPECT_THAT(error_of([&] { linear.register_parameter("a.b", Tensor::zeros(Shape{1})); }), HasSubstr("dot-free"));
  EXPECT_THAT(error_of([&] { linear.register_module("", std::make_shared<Linear>(1, 1)); }), HasSubstr("non-empty"));
  ModuleList list;
  list.push_back(std::make_shared<Linear>(2, 2));
  EXPECT_THAT(error_of([&] { list.at<Dropout>(0); }), HasSubstr("module 0 is not of the requested type"));
}

// A composite with dropouts at two depths, for mode propagation.
struct Net : Module {
  explicit Net(uint64_t seed) {
    top = register_module("top", std::make_shared<Dropout>(0.5f, seed));
    list = register_module("blocks", std::make_shared<ModuleList>());
    list->push_back(std::make_shared<Dropout>(0.5f, seed + 1));
  }
  std::shared_ptr<Dropout> top;
  std::shared_ptr<ModuleList> list;
};

TEST(Module, TrainAndEvalReachEveryDescendant) {
  Net net(9);
  const Variable x(Tensor::full(Shape{64}, 1.0f));
  EXPECT_TRUE(net.is_training());
  net.eval();
  for (const auto& [name, m] : net.named_modules()) EXPECT_FALSE(m->is_training()) << name;
  EXPECT_EQ(net.top->forward(x).id(), x.id());  // identity in eval mode, seed not advanced
  EXPECT_EQ(net.top->next_seed(), 9u);
  net.train();
  for (const auto& [name, m] : net.named_modules()) EXPECT_TRUE(m->is_training()) << name;

  const std::vector<float> first = net.top->forward(x).data().to_vector();
  const std::vector<float> second = net.top->forward(x).data().to_vector();
  EXPECT_NE(first, second);  // the seed advances: a new mask each step
  int zeros = 0;
  for (float v : first) zeros += v == 0.0f;
  EXPECT_GT(zeros, 16);
  EXPECT_LT(zeros, 48);
  Net again(9);  // same seed: the same sequence of masks
  EXPECT_EQ(again.top->forward(x).data().to_vector(), first);
  EXPECT_EQ(again.top->forward(x).data().to_vector(), second);
  EXPECT_THAT(error_of([] { Dropout(1.0f); }), HasSubstr("p must be in [0, 1), got 1"));
}

TEST(Module, FreezeStopsGradientsAndUnfreezeRestoresThem) {
  MLP mlp({3, 4, 2}, Activation::kTanh, true, 5);
  Variable x(Tensor::randn(Shape{2, 3}, 6), true);
  mlp.freeze();
  for (const auto& [name, p] : mlp.named_parameters()) EXPECT_FALSE(p.requires_grad()) << name;
  ag::sum(mlp.forward(x)).backward();
  EXPECT_TRUE(x.has_grad());  // gradients still reach the input
  for (const auto& [name, p] : mlp.named_parameters()) EXPECT_FALSE(p.has_grad()) << name;

  mlp.unfreeze();
  mlp.layer(0)->freeze();  // freezing a sub-module leaves the rest trainable
  ag::sum(mlp.forward(x)).backward();
  EXPECT_FALSE(mlp.layer(0)->weight().has_grad());
  EXPECT_TRUE(mlp.layer(1)->weight().has_grad());
  EXPECT_TRUE(mlp.layer(1)->bias().has_grad());
}

TEST(Module, StateDictRoundTripReproducesLogits) {
  const IndexTensor ids(Shape{1, 5}, {3, 1, 12, 0, 7});
  LlamaForCausalLM source(tiny_config(false));
  LlamaConfig other_config = tiny_config(false);
  other_config.seed = 4;
  LlamaForCausalLM target(other_config);
  const std::vector<float> source_logits = source.forward(ids).data().to_vector();
  ASSERT_NE(target.forward(ids).data().to_vector(), source_logits);

  // state_dict returns handles sharing storage with the parameters.
  const auto state = source.state_dict();
  EXPECT_EQ(state.at("model.norm.weight").data(), source.model()->norm()->weight().data().data());
  std::map<std::string, Tensor> snapshot;
  for (const auto& [name, t] : state) snapshot.emplace(name, t.clone());

  Variable held = target.model()->layer(1)->mlp()->up_proj()->weight();
  const float* storage_before = held.data().data();
  target.load_state_dict(snapshot);
  EXPECT_EQ(target.forward(ids).data().to_vector(), source_logits);  // bit for bit
  EXPECT_EQ(held.data().data(), storage_before);                      // copied into existing storage
  EXPECT_EQ(held.data().to_vector(), snapshot.at("model.layers.1.mlp.up_proj.weight").to_vector());
}

TEST(Module, LoadStateDictErrorsNameTheKey) {
  LlamaForCausalLM model(tiny_config(false));
  const std::vector<float> before = model.model()->norm()->weight().data().to_vector();
  std::map<std::string, Tensor> state;
  for (const auto& [name, t] : model.state_dict()) state.emplace(name, Tensor::full(t.shape(), 0.5f));

  auto missing = state;
  missing.erase("model.layers.1.input_layernorm.weight");
  EXPECT_THAT(error_of([&] { model.load_state_dict(missing); }),
              HasSubstr("missing key 'model.layers.1.input_layernorm.weight'"));
  auto unexpected = state;
  unexpected.emplace("model.layers.2.input_layernorm.weight", Tensor::zeros(Shape{8}));
  EXPECT_THAT(error_of([&] { model.load_state_dict(unexpected); }),
              HasSubstr("unexpected key 'model.layers.2.input_layernorm.weight'"));
  auto wrong_shape = state;
  wrong_shape["model.norm.weight"] = Tensor::zeros(Shape{9});
  EXPECT_THAT(error_of([&] { model.load_state_dict(wrong_shape); }),
              HasSubstr("'model.norm.weight' expects shape [8], got [9]"));
  EXPECT_THAT(error_of([&] { model.load_state_dict(wrong_shape, false); }), HasSubstr("expects shape [8], got [9]"));
  EXPECT_EQ(model.model()->norm()->weight().data().to_vector(), before);  // failed loads change nothing

  // Non-strict: missing keys keep their values, unexpected keys are ignored.
  missing.erase("model.norm.weight");
  missing.emplace("extra", Tensor::zeros(Shape{1}));
  model.load_state_dict(missing, false);
  EXPECT_EQ(model.model()->norm()->weight().data().to_vector(), before);
  EXPECT_EQ(model.lm_head()->weight().data().data()[0], 0.5f);
}

// A module with int64 state, as fakequant::Quantizer keeps its step counters.
class Counting : public Module {
 public:
  Counting() {
    scale = register_parameter("scale", Tensor::full(Shape{2}, 1.0f));
    steps = register_buffer("steps", std::make_shared<std::vector<int64_t>>(2, 0));
  }
  Variable scale;
  IntBuffer steps;
};

TEST(Module, BuffersAreSavedButNeverParameters) {
  Linear outer(4, 3);
  auto inner = outer.register_module("counting", std::make_shared<Counting>());
  outer.register_module("again", inner);  // one buffer under two names: listed once
  std::vector<std::string> parameters, buffers;
  for (const auto& [name, p] : outer.named_parameters()) parameters.push_back(name);
  for (const auto& [name, b] : outer.named_buffers()) buffers.push_back(name);
  EXPECT_THAT(parameters, ElementsAreArray({"weight", "bias", "counting.scale"}));
  EXPECT_THAT(buffers, ElementsAreArray({"counting.steps"}));
  EXPECT_EQ(outer.parameters().size(), 3u);  // what optimizers get

  (*inner->steps)[1] = (int64_t{1} << 53) + 1;  // exact in int64, not in float or double
  const StateDict state = outer.state_dict();
  EXPECT_EQ(state.size(), 3u);
  EXPECT_EQ(state.buffers.at("counting.steps"), (std::vector<int64_t>{0, (int64_t{1} << 53) + 1}));
  (*inner->steps)[1] = 0;  // state_dict copied the values
  outer.load_state_dict(state);
  EXPECT_EQ((*inner->steps)[1], (int64_t{1} << 53) + 1);
  EXPECT_THAT(error_of([&] { inner->register_buffer("scale", std::make_shared<std::vector<int64_t>>(1)); }),
              HasSubstr("'scale' is already taken by a parameter, buffer or child"));
  EXPECT_THAT(error_of([&] { inner->register_buffer("none", nullptr); }), HasSubstr("buffer 'none' is null"));
}

TEST(Module, LoadingBuffersChecksThemFirst) {
  Counting module;
  (*module.steps)[0] = 7;
  StateDict state = module.state_dict();
  state.at("scale") = Tensor::full(Shape{2}, 3.0f);
  StateDict missing = state, unexpected = state, wrong_size = state;
  missing.buffers.clear();
  unexpected.buffers["other"] = {1};
  wrong_size.buffers["steps"] = {1, 2, 3};
  EXPECT_THAT(error_of([&] { module.load_state_dict(missing); }), HasSubstr("missing buffer 'steps'"));
  EXPECT_THAT(error_of([&] { module.load_state_dict(unexpected); }), HasSubstr("unexpected buffer 'other'"));
  EXPECT_THAT(error_of([&] { module.load_state_dict(wrong_size, false); }),
              HasSubstr("buffer 'steps' expects 2 values, got 3"));
  EXPECT_EQ(module.scale.data().to_vector(), (std::vector<float>{1.0f, 1.0f}));  // failed loads change nothing
  module.load_state_dict(missing, false);  // non-strict: the buffer keeps its values
  EXPECT_EQ(module.scale.data().to_vector(), (std::vector<float>{3.0f, 3.0f}));
  EXPECT_EQ((*module.steps)[0], 7);
  // A plain tensor map loads parameters only.
  module.load_state_dict(std::map<std::string, Tensor>{{"scale", Tensor::full(Shape{2}, 2.0f)}});
  EXPECT_EQ((*module.steps)[0], 7);
}

TEST(Module, ReplacingTheWeightQuantizerKeepsTheChildOrder) {
  // Post-training methods swap the rules' weight quantizer for their own representation (SpQR, GPTQ
  // dynamic groups); the input quantizer stays, after it, as prepare_qat registered them.
  Linear linear(3, 2, false, 1);
  auto old_weight = std::make_shared<Dropout>(0.0), input = std::make_shared<Dropout>(0.0), fresh = std::make_shared<Dropout>(0.0);
  linear.set_weight_quantizer(old_weight);
  linear.set_input_quantizer(input);
  EXPECT_EQ(linear.replace_weight_quantizer(fresh), old_weight);
  EXPECT_EQ(linear.weight_quantizer(), fresh);
  EXPECT_EQ(linear.input_quantizer(), input);
  std::vector<std::string> names;
  for (const auto& [name, child] : linear.named_children()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"weight_quantizer", "input_quantizer"}));
  Linear bare(3, 2, false, 1);  // none before: just installed
  auto first = std::make_shared<Dropout>(0.0);
  EXPECT_EQ(bare.replace_weight_quantizer(first), nullptr);
  EXPECT_EQ(bare.weight_quantizer(), first);
}

TEST(Module, InitialisationIsSeededAndFollowsPyTorchAndHF) {
  Linear a(16, 5, true, 42), b(16, 5, true, 42), c(16, 5, true, 43);
  EXPECT_EQ(a.weight().data().to_vector(), b.weight().data().to_vector());
  EXPECT_NE(a.weight().data().to_vector(), c.weight().data().to_vector());
  float largest = 0.0f;
  for (float v : a.weight().data().to_vector()) largest = std::max(largest, std::abs(v));
  EXPECT_LE(largest, 0.25f);  // U(-1/sqrt(16), 1/sqrt(16))
  EXPECT_GT(largest, 0.2f);

  LlamaConfig config = tiny_config(false);
  config.hidden_size = 64;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  LlamaForCausalLM lm(config);
  LlamaModel body(config);  // same config: the same body weights as lm.model()
  EXPECT_EQ(lm.model()->layer(1)->self_attn()->v_proj()->weight().data().to_vector(),
            body.layer(1)->self_attn()->v_proj()->weight().data().to_vector());
  const std::vector<float> q = lm.model()->layer(0)->self_attn()->q_proj()->weight().data().to_vector();
  double sq = 0.0;
  for (float v : q) sq += static_cast<double>(v) * v;
  EXPECT_NEAR(std::sqrt(sq / q.size()), 0.02, 0.002);  // HF initializer_range
  EXPECT_EQ(lm.model()->norm()->weight().data().to_vector(), std::vector<float>(64, 1.0f));
}

TEST(Module, ShapeAndContextErrors) {
  LlamaForCausalLM model(tiny_config(true));
  const IndexTensor too_long(Shape{1, 7}, std::vector<int64_t>(7, 1));
  EXPECT_THAT(error_of([&] { model.forward(too_long); }),
              HasSubstr("context length 7 exceeds max_position_embeddings 6"));
  EXPECT_EQ(model.forward(IndexTensor(Shape{2, 6}, std::vector<int64_t>(12, 2))).shape(), (Shape{2, 6, 13}));
  EXPECT_THAT(error_of([&] { model.forward(IndexTensor(Shape{6}, std::vector<int64_t>(6, 1))); }),
              HasSubstr("ids must be [batch, seq], got [6]"));
  Linear linear(4, 3);
  EXPECT_THAT(error_of([&] { linear.forward(Variable(Tensor::zeros(Shape{2, 5}))); }),
              HasSubstr("input last dim 5 != in_features 4"));
  LlamaConfig bad = tiny_config(false);
  bad.num_key_value_heads = 3;
  EXPECT_THAT(error_of([&] { LlamaForCausalLM m(bad); }),
              HasSubstr("num_attention_heads 2 is not a multiple of num_key_value_heads 3"));
}

}  // namespace
}  // namespace qforge::testing
