#pragma once
// Integer weights whose groups are not contiguous: each input column c belongs to group g_idx[c], and
// every (row, group) has its own scale and integer zero point. This is what GPTQ with act-order and
// dynamic groups produces (Frantar et al. 2022 with the reference's act-order, IST-DASLab/gptq
// `--act-order` and AutoGPTQ/GPTQModel `desc_act=True, static_groups=False`): columns are quantized in
// descending diag(H), a group is `group_size` consecutive columns *in that order*, so
// g_idx[c] = (position of c in the order) / group_size and a group's columns are scattered over the
// row. The ordinary group quantizer (fakequant::Quantizer) holds contiguous groups only; a post-training
// method (ptq/gptq_method.h) installs this one in its place. The layout is the one AutoGPTQ-style files
// store (qweight codes, scales, qzeros, g_idx), docs/gptq.md.
//
// The grid is GPTQ's (ptq/gptq.h): maxq = 2^bits - 1, q = clamp(round(w / s) + z, 0, maxq) with a true
// division of the float32 latent weight by the float32 scale in double and round half to even, and
// the value s * (q - z) in float32 (z an integer, so the product rounds once). The latent weight of the
// Linear holds the dequantized weight; the forward re-derives every code from it and gives back
// s * (q - z), so the forward is the quantized model, the codes an exporter would write are those of
// the forward, and forward(latent) == latent once the method has snapped the latent weight to it. No
// gradient reaches the latent weight: a post-training result, not a training format.
//
// Everything is saved by checkpoints: int64 buffers "gidx_layout" [rows, cols, bits, group_size],
// "g_idx" [cols] and "zeros" [rows * groups] (row-major), and the float parameter "scales"
// [rows * groups] (row-major), groups = ceil(cols / group_size).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "layers/module.h"

namespace qforge::fakequant {

struct GroupIndexState {
  int64_t rows = 0, cols = 0;
  int bits = 4;
  int64_t group_size = 128;
  std::vector<int64_t> g_idx;   // [cols]: the group of each input column
  std::vector<float> scales;    // [rows * groups]
  std::vector<int64_t> zeros;   // [rows * groups], integers in 0..2^bits - 1
  int64_t groups() const { return (cols + group_size - 1) / group_size; }
};

// std::invalid_argument "group-index weight: ..." naming the inconsistent field (the quantizer's checks).
void validate(const GroupIndexState& state);

class GroupIndexWeightQuantizer : public layers::UnaryModule {
 public:
  // std::invalid_argument "group-index weight: ..." naming the inconsistent field (sizes, a g_idx
  // outside 0..groups-1 or a group of more than group_size columns, a scale that is not positive and
  // finite, a zero outside the grid).
  explicit GroupIndexWeightQuantizer(const GroupIndexState& state);
  // x: the latent weight [rows, cols]. Output as the file comment says; no gradient.
  autograd::Variable forward(const autograd::Variable& x) override;
  // The representation as stored (copies of the buffers).
  GroupIndexState state() const;
  // The code (0..2^bits - 1) of every weight of `weight` ([rows, cols], row-major) as the forward derives it.
  std::vector<int64_t> codes(const autograd::Tensor& weight) const;

 private:
  void check() const;
  layers::IntBuffer layout_, g_idx_, zeros_;
  autograd::Variable scales_;
};

// A blank quantizer of the sizes saved under `prefix` ("<layer>.weight_quantizer.") for a load to fill
// (fakequant/saved_weight_quantizers.h), or null when `buffers` holds no group-index layout there.
std::shared_ptr<GroupIndexWeightQuantizer> saved_group_index_quantizer(const std::string& prefix,
                                                                      const std::map<std::string, std::vector<int64_t>>& buffers);

}  // namespace qforge::fakequant
