// exporters/hf/quant SpQR (docs/hf-quantized.md §9): tile words, CSR outliers, in_perm pairs and config
// byte-identical to the numpy reference (tests/exporters/hf_quant_reference_codebooks.py), dequantization
// with fp16 operations equal bit for bit, pack -> unpack -> pack exact, errors naming the tensor, and the
// adapter from fakequant::SpqrWeightQuantizer's representation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "exporters/hf/quant/adapter_ptq.h"
#include "exporters/hf/quant/spqr_layout.h"
#include "fakequant/formats/half.h"
#include "tests/exporters/hf_quant_reference_util.h"
#include "tests/exporters/hf_quant_test_util.h"
#include "tests/support/torch_runner.h"

namespace hq = qforge::exporters::hf::quant;
namespace fq = qforge::fakequant;
using qforge::testing::as_doubles;
using qforge::testing::by_name;
using qforge::testing::error_of;
using qforge::testing::reference_case_id;
using qforge::testing::TensorFile;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

const std::string kName = "model.layers.0.self_attn.v_proj";

uint16_t half(float v) { return fq::encode_fp16(v); }

hq::SpqrWeight random_spqr(int64_t out, int64_t in, int64_t outliers, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> code(0, 7);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  hq::SpqrWeight w{kName, out, in, {}, {}, {}, {}, {}, {}};
  for (int64_t i = 0; i < out * in; ++i) w.codes.push_back(static_cast<uint8_t>(code(rng)));
  for (int64_t i = 0; i < out * in / 16; ++i) {
    w.scale_codes.push_back(static_cast<uint8_t>(code(rng)));
    w.zero_codes.push_back(static_cast<uint8_t>(code(rng)));
  }
  for (int64_t t = 0; t < out / 16 * (in / 16); ++t) {
    // scale.scale, zero.scale, scale.zero, zero.zero: positive scales from codes 0..7 need scale.zero < 0.
    w.second_order.insert(w.second_order.end(), {half(1e-3f + 2e-3f * unit(rng)), half(0.2f + unit(rng)),
                                                 half(-0.5f - 2.0f * unit(rng)), half(7.0f * unit(rng))});
  }
  w.permutation.resize(static_cast<size_t>(in));
  std::iota(w.permutation.begin(), w.permutation.end(), 0);
  std::shuffle(w.permutation.begin(), w.permutation.end(), rng);
  std::set<std::pair<int64_t, int64_t>> positions;
  std::uniform_int_distribution<int64_t> row(0, out - 1), column(0, in - 1);
  while (static_cast<int64_t>(positions.size()) < outliers) positions.insert({row(rng), column(rng)});
  for (const auto& [r, c] : positions) w.outliers.push_back({r, c, half((unit(rng) - 0.5f) * 0.2f + 1e-3f)});
  return w;
}

std::vector<hq::SpqrWeight> all_cases() {
  hq::SpqrWeight no_outliers = random_spqr(16, 16, 0, 3);
  std::iota(no_outliers.permutation.begin(), no_outliers.permutation.end(), 0);  // identity
  return {random_spqr(32, 48, 40, 1), random_spqr(48, 64, 3, 2), no_outliers};
}

TEST(HfQuantSpqr, TensorsConfigAndDequantMatchNumpy) {
  const std::vector<hq::SpqrWeight> cases = all_cases();
  TensorFile request;
  for (size_t k = 0; k < cases.size(); ++k) {
    const hq::SpqrWeight& w = cases[k];
    const std::string id = reference_case_id(k);
    request.put_text(id + ".layout", "spqr");
    request.put_text(id + ".name", w.name);
    request.put(id + ".codes", {w.out, w.in}, as_doubles(w.codes));
    request.put(id + ".scale_codes", {w.out, w.in / 16}, as_doubles(w.scale_codes));
    request.put(id + ".zero_codes", {w.out, w.in / 16}, as_doubles(w.zero_codes));
    request.put(id + ".second_order", {w.out / 16, w.in / 16, 4}, as_doubles(w.second_order));
    request.put(id + ".perm", {w.in}, as_doubles(w.permutation));
    std::vector<double> outliers;
    for (const hq::SpqrOutlier& o : w.outliers)
      outliers.insert(outliers.end(), {double(o.row), double(o.column), double(o.value)});
    request.put(id + ".outliers", {static_cast<int64_t>(w.outliers.size()), 3}, outliers);
  }
  const TensorFile answer =
      qforge::testing::run_torch_script("tests/exporters/hf_quant_reference_codebooks.py", request, "hf_quant_spqr");
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string id = reference_case_id(k);
    SCOPED_TRACE(id);
    const std::vector<hq::FileTensor> tensors = hq::pack_spqr(cases[k]);
    qforge::testing::expect_same_tensors(tensors, answer, id);
    qforge::testing::expect_same_config(hq::spqr_config(tensors, {"lm_head.weight"}), answer, id);
    qforge::testing::expect_bit_equal(hq::dequantize_spqr(hq::unpack_spqr(kName, by_name(tensors))),
                                      answer.tensor(id + ".dequant").values, id + " dequant");
  }
}

TEST(HfQuantSpqr, RoundTripIsExact) {
  for (const hq::SpqrWeight& w : all_cases()) {
    const hq::FileTensors file = by_name(hq::pack_spqr(w));
    const hq::SpqrWeight back = hq::unpack_spqr(kName, file);
    EXPECT_EQ(back.out, w.out);
    EXPECT_EQ(back.in, w.in);
    EXPECT_EQ(back.codes, w.codes);
    EXPECT_EQ(back.scale_codes, w.scale_codes);
    EXPECT_EQ(back.zero_codes, w.zero_codes);
    EXPECT_EQ(back.second_order, w.second_order);
    EXPECT_EQ(back.permutation, w.permutation);
    ASSERT_EQ(back.outliers.size(), w.outliers.size());
    for (size_t k = 0; k < w.outliers.size(); ++k) {
      EXPECT_EQ(back.outliers[k].row, w.outliers[k].row);
      EXPECT_EQ(back.outliers[k].column, w.outliers[k].column);
      EXPECT_EQ(back.outliers[k].value, w.outliers[k].value);
    }
    const hq::FileTensors again = by_name(hq::pack_spqr(back));
    for (const auto& [name, t] : file) EXPECT_EQ(again.at(name).data, t.data) << name;
  }
  const hq::SpqrConfig c = hq::spqr_options(hq::spqr_config(hq::pack_spqr(all_cases()[2]), {"lm_head.weight"}));
  EXPECT_EQ(c.shapes.at(kName + ".dense_weights.shape"), 16);
  EXPECT_EQ(c.shapes.at(kName + ".col_vals.shape"), 0);
  EXPECT_EQ(c.modules_to_not_convert, std::vector<std::string>{"lm_head.weight"});
}

TEST(HfQuantSpqr, ErrorsNameTheTensor) {
  const hq::SpqrWeight good = random_spqr(16, 32, 4, 5);
  const auto pack = [](const hq::SpqrWeight& w) { return error_of([&] { hq::pack_spqr(w); }); };
  hq::SpqrWeight bad = good;
  bad.out = 8;
  EXPECT_THAT(pack(bad), AllOf(HasSubstr(kName), HasSubstr("multiples of 16")));
  bad = good;
  bad.codes[7] = 8;
  EXPECT_THAT(pack(bad), AllOf(HasSubstr(kName), HasSubstr("codes[7] = 8")));
  bad = good;
  bad.permutation[3] = bad.permutation[4];
  EXPECT_THAT(pack(bad), AllOf(HasSubstr(kName), HasSubstr("permutation[4]")));
  bad = good;
  std::swap(bad.outliers[0], bad.outliers[1]);
  EXPECT_THAT(pack(bad), AllOf(HasSubstr(kName), HasSubstr("out of CSR order")));
  bad = good;
  bad.outliers[2].value = 0;
  EXPECT_THAT(pack(bad), AllOf(HasSubstr(kName), HasSubstr("outlier 2"), HasSubstr("+0")));
  bad = good;
  bad.second_order[5] = 0x7E00;  // NaN
  EXPECT_THAT(pack(bad), AllOf(HasSubstr(kName), HasSubstr("second_order[5]")));

  const hq::FileTensors file = by_name(hq::pack_spqr(good));
  const auto unpack = [&](const hq::FileTensors& f) { return error_of([&] { hq::unpack_spqr(kName, f); }); };
  hq::FileTensors changed = file;
  changed.at(kName + ".row_offsets") =
      qforge::exporters::hf::quant::FileTensor{kName + ".row_offsets", qforge::exporters::safetensors::Dtype::kI32, {2}, std::vector<std::byte>(8)};
  EXPECT_THAT(unpack(changed), AllOf(HasSubstr(kName + ".row_offsets"), HasSubstr("not PTCSR")));
  changed = file;
  changed.at(kName + ".dense_weights").data[7] |= std::byte{0x40};  // bit 62 of word 0
  EXPECT_THAT(unpack(changed), AllOf(HasSubstr(kName + ".dense_weights"), HasSubstr("unused bits")));
  changed = file;
  changed.at(kName + ".dense_weights").data[8 + 6] ^= std::byte{0x40};  // record byte of row 1 only
  EXPECT_THAT(unpack(changed), AllOf(HasSubstr(kName + ".dense_weights"), HasSubstr("different second-order records")));
  changed = file;
  changed.erase(kName + ".in_perm");
  EXPECT_THAT(unpack(changed), HasSubstr(kName + ".in_perm: tensor missing"));
  EXPECT_THAT(error_of([] { hq::spqr_options(R"({"quant_method": "spqr", "bits": 4})"); }),
              HasSubstr("'bits' is not 3"));
}

TEST(HfQuantSpqr, AdapterFromTheSpqrQuantizer) {
  fq::SpqrState s;
  s.layout = {32, 48, 3, 16, 16, 3};
  const hq::SpqrWeight shape = random_spqr(32, 48, 0, 8);  // statistics and permutation from here
  s.permutation.assign(shape.permutation.begin(), shape.permutation.end());
  s.scale_codes.assign(shape.scale_codes.begin(), shape.scale_codes.end());
  s.zero_codes.assign(shape.zero_codes.begin(), shape.zero_codes.end());
  for (uint16_t h : shape.second_order) s.second_order.push_back(fq::decode_fp16(h));
  // Latent weight: a grid value everywhere, fp16 outliers at 30 positions.
  std::mt19937 rng(9);
  std::vector<float> latent(32 * 48);
  for (int64_t r = 0; r < 32; ++r) {
    for (int64_t j = 0; j < 48; ++j) {
      latent[r * 48 + s.permutation[j]] = fq::spqr_dequantize(rng() % 8, fq::spqr_group_params(s, r, j / 16));
    }
  }
  std::set<int64_t> flat;
  while (flat.size() < 30) flat.insert(rng() % (32 * 48));
  s.outliers.assign(flat.begin(), flat.end());
  for (int64_t i : s.outliers)
    latent[i] = fq::round_to_fp16(0.25f * (static_cast<float>(rng() % 1000) / 500.0f - 1.0f));
  fq::SpqrWeightQuantizer quantizer(s);
  const qforge::autograd::Tensor weight =
      qforge::autograd::Tensor::from_vector(qforge::autograd::Shape{32, 48}, latent);
  const std::vector<float> ours = quantizer.forward(qforge::autograd::Variable(weight)).data().to_vector();
  const hq::SpqrWeight w = hq::spqr_weight(kName + ".weight", s, quantizer.codes(weight), latent);
  const std::vector<float> theirs = hq::dequantize_spqr(hq::unpack_spqr(kName, by_name(hq::pack_spqr(w))));
  double worst = 0.0, largest = 0.0;
  int64_t outliers_exact = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(theirs[i]) - ours[i]));
    largest = std::max(largest, std::fabs(static_cast<double>(ours[i])));
  }
  for (int64_t i : s.outliers) {
    outliers_exact += theirs[i] == ours[i];
    // The addend's fp16 step can be coarser than the outlier's own: then one fp16 step off.
    EXPECT_LE(std::abs(fq::encode_fp16(theirs[i]) - fq::encode_fp16(ours[i])), 1) << "outlier at " << i;
  }
  std::printf("SpQR adapter: max |HF - qforge| = %.3g (max |W| %.3g); outliers exact %lld of %zu\n", worst, largest,
              static_cast<long long>(outliers_exact), s.outliers.size());
  EXPECT_LE(worst, largest * 0x1p-8);  // fp16 statistics against float32 ones
  EXPECT_GE(outliers_exact, static_cast<int64_t>(s.outliers.size()) * 8 / 10);
  s.layout.bits = 4;
  EXPECT_THAT(error_of([&] { hq::spqr_weight(kName + ".weight", s, quantizer.codes(weight), latent); }),
              AllOf(HasSubstr(kName + ".weight"), HasSubstr("no SpQR layout"), HasSubstr("bits 4")));
}

}  // namespace
