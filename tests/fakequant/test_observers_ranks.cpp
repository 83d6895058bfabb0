// Observers across data-parallel ranks (fakequant/observers/rank_reduction.h): two ranks, simulated by
// two threads exchanging through a barrier, each observing half the rows of every batch, must end with
// exactly the state of one observer that saw the whole batches, for every observer kind (min/max and
// EMA reduce min and max, KL the range and the histogram, percentile and MSE gather the values).
#include <gtest/gtest.h>

#include <barrier>
#include <string>
#include <thread>
#include <vector>

#include "fakequant/observers/observer.h"
#include "fakequant/param_layout.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using namespace qforge::fakequant;

// The collectives of two ranks living in two threads of this process.
struct Exchange {
  std::barrier<> sync{2};
  std::vector<float> floats[2];
  std::vector<double> doubles[2];
};

class ThreadRanks : public RankReduction {
 public:
  ThreadRanks(Exchange& exchange, int rank) : x_(exchange), rank_(rank) {}
  void min(std::vector<float>& v) override { combine(v, [](float a, float b) { return std::min(a, b); }); }
  void max(std::vector<float>& v) override { combine(v, [](float a, float b) { return std::max(a, b); }); }
  void sum(std::vector<double>& v) override {
    x_.doubles[rank_] = v;
    x_.sync.arrive_and_wait();
    for (size_t i = 0; i < v.size(); ++i) v[i] = x_.doubles[0][i] + x_.doubles[1][i];
    x_.sync.arrive_and_wait();
  }
  std::vector<float> gather(const std::vector<float>& v) override {
    x_.floats[rank_] = v;
    x_.sync.arrive_and_wait();
    std::vector<float> all = x_.floats[0];
    all.insert(all.end(), x_.floats[1].begin(), x_.floats[1].end());
    x_.sync.arrive_and_wait();
    return all;
  }

 private:
  template <class Op>
  void combine(std::vector<float>& v, Op op) {
    x_.floats[rank_] = v;
    x_.sync.arrive_and_wait();
    for (size_t i = 0; i < v.size(); ++i) v[i] = op(x_.floats[0][i], x_.floats[1][i]);
    x_.sync.arrive_and_wait();
  }
  Exchange& x_;
  int rank_;
};

// Rows [first, first + rows) of a [r, c] tensor.
Tensor rows_of(const Tensor& x, int64_t first, int64_t rows) {
  const int64_t c = x.dim(1);
  std::vector<float> values(x.data() + first * c, x.data() + (first + rows) * c);
  return Tensor::from_vector(Shape{rows, c}, values);
}

TEST(ObserverAcrossRanks, TwoHalvesEqualTheWholeBatchForEveryKind) {
  const Shape shape{8, 48};
  for (const std::string scheme : {"int8:tensor:minmax", "int8:tensor:asym:ema", "int8:tensor:percentile",
                                   "int8:tensor:mse", "int8:tensor:kl", "int4:channel1:minmax", "int4:channel1:percentile"}) {
    SCOPED_TRACE(scheme);
    const QuantizerSpec spec = parse_scheme(scheme);
    const int64_t count = parameter_count(shape, spec.granularity);
    std::vector<Tensor> batches;
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      Tensor x = Tensor::randn(shape, seed, static_cast<float>(seed));
      for (int64_t i = x.numel() / 2; i < x.numel(); ++i) x.data()[i] *= 2.5f;  // rank 1's rows hold the extremes
      batches.push_back(x);
    }
    const auto whole = make_observer(spec, count);
    for (const Tensor& x : batches) whole->observe(x);

    Exchange exchange;
    std::vector<float> states[2];
    std::vector<std::thread> ranks;
    for (int rank = 0; rank < 2; ++rank) {
      ranks.emplace_back([&, rank] {
        ThreadRanks reduction(exchange, rank);
        const auto observer = make_observer(spec, count);
        for (const Tensor& x : batches) observer->observe_across_ranks(rows_of(x, rank * 4, 4), reduction);
        states[rank] = observer->state();
      });
    }
    for (std::thread& t : ranks) t.join();
    EXPECT_EQ(states[0], whole->state());
    EXPECT_EQ(states[1], whole->state());

    // Control: an observer of rank 0's half alone ends elsewhere (so the comparison can fail).
    const auto half = make_observer(spec, count);
    for (const Tensor& x : batches) half->observe(rows_of(x, 0, 4));
    EXPECT_NE(half->state(), whole->state());
  }
}

}  // namespace
}  // namespace qforge::testing
