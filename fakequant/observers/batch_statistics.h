#pragma once
// Shared helpers of the observers (fakequant/observers/observer.h): which scale each element uses,
// per-parameter statistics of one batch, the exact percentile, and how counts are stored in a
// float state vector. Internal to fakequant/observers/.
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "fakequant/int_quantizer.h"
#include "fakequant/param_layout.h"
#include "fakequant/quantizer_spec.h"

namespace qforge::fakequant {

// Element i of a contiguous tensor uses parameter (i / inner) % count, the rule of
// int_quantizer.h's kernels: per tensor inner = numel, count = 1; per channel along `axis` inner =
// product of the later dimensions, count = dim(axis); per group inner = group_size.
// Below this many elements a batch statistic runs on one thread: waking an OpenMP team costs more
// than the work (and far more on an oversubscribed machine).
inline constexpr int64_t kParallelMinElements = int64_t{1} << 16;

// The layout the quantizers and the FakeQuant op use (fakequant/param_layout.h).
using ParameterLayout = ParamLayout;

// Layout of `shape` under `granularity`; throws std::invalid_argument naming `context` when the
// granularity does not fit the shape (via parameter_count) or gives another count than `expected`.
ParameterLayout parameter_layout(const Shape& shape, const GranularitySpec& granularity, int64_t expected,
                                 const std::string& context);

// Per-parameter min and max of `x`, NaN skipped; a parameter without values keeps (+inf, -inf).
void batch_min_max(const Tensor& x, const ParameterLayout& layout, std::vector<float>& mins,
                   std::vector<float>& maxs);

// The values of each parameter, in tensor order.
std::vector<std::vector<float>> values_by_parameter(const Tensor& x, const ParameterLayout& layout);

// numpy.percentile(values, q) with the default 'linear' method (numpy 1.22+: virtual index
// (n - 1) * q / 100 and numpy's _lerp), NaN skipped, computed in double. Reorders `values`.
// Empty input gives 0.
double exact_percentile(std::vector<float>& values, double q);

// True when the format's grid is symmetric around 0 (symmetric int and every float format), so
// observers clip |x| at one threshold; false for asymmetric integers, which get [low, high].
bool has_symmetric_grid(const QuantizerSpec& spec);

// Counts in a float state: two floats holding the low and high 24 bits, each exact in float32
// (so a state survives float -> double -> float copies), good up to 2^48.
// read_count throws std::invalid_argument naming `context` when the two floats are not such a pair.
void append_count(std::vector<float>& state, int64_t count);
int64_t read_count(const float* two_floats, const std::string& context);

}  // namespace qforge::fakequant
