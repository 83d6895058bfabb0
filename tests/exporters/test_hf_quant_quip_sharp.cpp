// exporters/hf/quant QuIP# E8P12 (docs/hf-quantized.md §10): Qidxs words, SU / SV / Wscale / codebook_id
// and quip_params byte-identical to the numpy reference (tests/exporters/hf_quant_reference_codebooks.py,
// which builds the codebook from its definition), dequantization W = diag(SV) H_out G H_in diag(SU) equal
// bit for bit, pack -> unpack -> pack exact, errors naming the tensor, and the adapter from
// fakequant::QuipSharpState.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "exporters/hf/quant/adapter_ptq.h"
#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/quip_sharp_layout.h"
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

const std::string kName = "model.layers.3.mlp.up_proj";

hq::QuipSharpWeight random_quip(int64_t out, int64_t in, bool tuned_signs, float wscale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.5f, 1.5f);
  hq::QuipSharpWeight w{kName, out, in, {}, {}, {}, wscale, {}};
  for (int64_t k = 0; k < out * in / 8; ++k) w.codes.push_back(static_cast<uint16_t>(rng()));
  const auto sign = [&] { return (rng() % 2 ? 1.0f : -1.0f) * (tuned_signs ? unit(rng) : 1.0f); };
  for (int64_t j = 0; j < in; ++j) w.su.push_back(fq::encode_fp16(sign()));
  for (int64_t i = 0; i < out; ++i) w.sv.push_back(fq::encode_fp16(sign() * (wscale == 1.0f ? 0.0173f : 1.0f)));
  return w;
}

// A fused module (quip-sharp's FusedQuantizedLinear): fuse_scales over parts of `sizes` rows.
hq::QuipSharpWeight fused(hq::QuipSharpWeight w, std::vector<float> scales) {
  w.fuse_scales = std::move(scales);
  return w;
}

// Powers of two, 12 * 2^k on either side (quip-sharp's had12 factor: 192 = 12 * 16, 384 = 12 * 32), and a
// fused 96 = 12 * 8-row module of two parts of 48 rows with fuse scales != 1.
std::vector<hq::QuipSharpWeight> all_cases() {
  return {random_quip(16, 64, false, 1.0f, 1),      random_quip(32, 128, true, 1.0f, 2),
          random_quip(64, 256, false, 0.0371f, 3),  random_quip(192, 64, false, 1.0f, 6),
          random_quip(32, 384, true, 1.0f, 7),      fused(random_quip(96, 64, false, 1.0f, 8), {0.75f, 1.3125f})};
}

std::vector<int64_t> fuse_sizes(const hq::QuipSharpWeight& w) {
  return w.fuse_scales.empty() ? std::vector<int64_t>{} : std::vector<int64_t>(w.fuse_scales.size(), w.out / 2);
}

TEST(HfQuantQuipSharp, TensorsParamsAndDequantMatchNumpy) {
  const std::vector<hq::QuipSharpWeight> cases = all_cases();
  TensorFile request;
  for (size_t k = 0; k < cases.size(); ++k) {
    const hq::QuipSharpWeight& w = cases[k];
    const std::string id = reference_case_id(k);
    request.put_text(id + ".layout", "quip");
    request.put_text(id + ".name", w.name);
    request.put(id + ".codes", {w.out, w.in / 8}, as_doubles(w.codes));
    request.put(id + ".su", {w.in}, as_doubles(w.su));
    request.put(id + ".sv", {w.out}, as_doubles(w.sv));
    request.put(id + ".wscale", {1}, {w.wscale});
    if (!w.fuse_scales.empty()) {
      const std::vector<int64_t> sizes = fuse_sizes(w);
      request.put(id + ".fuse_scales", {static_cast<int64_t>(w.fuse_scales.size())}, as_doubles(w.fuse_scales));
      request.put(id + ".fuse_sizes", {static_cast<int64_t>(sizes.size())}, as_doubles(sizes));
    }
  }
  const TensorFile answer =
      qforge::testing::run_torch_script("tests/exporters/hf_quant_reference_codebooks.py", request, "hf_quant_quip");
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string id = reference_case_id(k);
    SCOPED_TRACE(id);
    const std::vector<hq::FileTensor> tensors = hq::pack_quip_sharp(cases[k]);
    qforge::testing::expect_same_tensors(tensors, answer, id);
    qforge::testing::expect_same_config(hq::quip_sharp_params(), answer, id);
    qforge::testing::expect_bit_equal(hq::dequantize_quip_sharp(hq::unpack_quip_sharp(kName, by_name(tensors)), fuse_sizes(cases[k])),
                                      answer.tensor(id + ".dequant").values, id + " dequant");
  }
}

TEST(HfQuantQuipSharp, RoundTripIsExact) {
  for (const hq::QuipSharpWeight& w : all_cases()) {
    const hq::FileTensors file = by_name(hq::pack_quip_sharp(w));
    const hq::QuipSharpWeight back = hq::unpack_quip_sharp(kName, file);
    EXPECT_EQ(back.out, w.out);
    EXPECT_EQ(back.in, w.in);
    EXPECT_EQ(back.codes, w.codes);
    EXPECT_EQ(back.su, w.su);
    EXPECT_EQ(back.sv, w.sv);
    EXPECT_EQ(back.wscale, w.wscale);
    EXPECT_EQ(back.fuse_scales, w.fuse_scales);
    const hq::FileTensors again = by_name(hq::pack_quip_sharp(back));
    for (const auto& [name, t] : file) EXPECT_EQ(again.at(name).data, t.data) << name;
  }
  // quip-sharp's hfize_llama saves a .half() model: its fuse_scales are F16, read as they are.
  const hq::QuipSharpWeight two = all_cases().back();
  hq::FileTensors half = by_name(hq::pack_quip_sharp(two));
  half.at(kName + ".fuse_scales") = hq::half_tensor(kName + ".fuse_scales", {2}, {fq::encode_fp16(0.75f), fq::encode_fp16(1.3125f)});
  EXPECT_EQ(hq::unpack_quip_sharp(kName, half).fuse_scales, two.fuse_scales);
  EXPECT_NO_THROW(hq::check_quip_sharp_params(hq::quip_sharp_params()));
  EXPECT_THAT(error_of([] { hq::check_quip_sharp_params(R"({"codebook": "E8P12RVQ4B"})"); }), HasSubstr("'codebook'"));
}

TEST(HfQuantQuipSharp, WordLayoutOfOneWord) {
  // Codes (0, 0), (1, 0), (0, 1), (1, 1) of a 16 x 8 code grid share word 0: abs bytes at bytes 0, 1, 2, 3,
  // sign bit j of code (a, b) at bit 32 + 4j + a + 2b.
  std::vector<uint16_t> codes(16 * 8, 0);
  codes[0] = 0x0101;          // (0, 0): abs 1, sign bit 0
  codes[8] = 0x0280;          // (1, 0): abs 2, sign bit 7
  codes[1] = 0x0302;          // (0, 1): abs 3, sign bit 1
  codes[9] = 0xFF40;          // (1, 1): abs 255, sign bit 6
  codes[2 * 8 + 2] = 0x0700;  // rows 2-3, columns 2-3: word (1, 1), stored at [0, 0, 1, 1] = index 5
  const std::vector<int64_t> words = hq::pack_e8p_qidxs(codes, 16, 8);
  const uint64_t expected = 0x01ull | 0x02ull << 8 | 0x03ull << 16 | 0xFFull << 24 | 1ull << 32 |
                            1ull << (32 + 28 + 1) | 1ull << (32 + 4 + 2) | 1ull << (32 + 24 + 3);
  EXPECT_EQ(static_cast<uint64_t>(words[0]), expected);
  EXPECT_EQ(static_cast<uint64_t>(words[5]), 0x07ull);
  EXPECT_EQ(hq::unpack_e8p_qidxs(words, 16, 8), codes);
}

TEST(HfQuantQuipSharp, ErrorsNameTheTensor) {
  const hq::QuipSharpWeight good = random_quip(16, 64, false, 1.0f, 4);
  hq::QuipSharpWeight bad = good;
  bad.in = 96;
  EXPECT_THAT(error_of([&] { hq::pack_quip_sharp(bad); }), AllOf(HasSubstr(kName), HasSubstr("in of 64, each 2^k or 12 * 2^k")));
  bad = random_quip(80, 64, false, 1.0f, 4);  // 80 = 20 * 4: quip-sharp's had20, not written
  EXPECT_THAT(error_of([&] { hq::pack_quip_sharp(bad); }), AllOf(HasSubstr(kName), HasSubstr("shape [80, 64]")));
  bad = good;
  bad.su[3] = 0x7C00;  // inf
  EXPECT_THAT(error_of([&] { hq::pack_quip_sharp(bad); }), AllOf(HasSubstr(kName), HasSubstr("SU[3] is not finite")));
  bad = good;
  bad.codes.pop_back();
  EXPECT_THAT(error_of([&] { hq::pack_quip_sharp(bad); }), AllOf(HasSubstr(kName), HasSubstr("codes has 127 values")));
  const hq::FileTensors file = by_name(hq::pack_quip_sharp(good));
  const auto unpack = [&](const hq::FileTensors& f) { return error_of([&] { hq::unpack_quip_sharp(kName, f); }); };
  hq::FileTensors changed = file;
  changed.at(kName + ".codebook_id").data[0] = std::byte{17};
  EXPECT_THAT(unpack(changed), HasSubstr(kName + ".codebook_id: 17"));
  changed = file;
  changed.emplace(kName + ".scaleWH", changed.at(kName + ".SU"));
  EXPECT_THAT(unpack(changed), HasSubstr(kName + ".scaleWH: present"));
  const hq::QuipSharpWeight two_parts = fused(random_quip(32, 64, false, 1.0f, 9), {1.0f, 2.0f});
  EXPECT_THAT(error_of([&] { hq::dequantize_quip_sharp(two_parts, {16, 8}); }),
              HasSubstr(kName + ".fuse_scales: 2 parts of 32 rows, the model's module has 2 parts of 24"));
  changed = file;
  changed.at(kName + ".Qidxs").shape = {8, 4};
  EXPECT_THAT(unpack(changed), HasSubstr(kName + ".Qidxs: shape [16, 2] expected, found [8, 4]"));
}

TEST(HfQuantQuipSharp, AdapterFromTheQuipSharpState) {
  fq::QuipSharpState s;
  s.rows = 32;
  s.cols = 64;
  std::mt19937 rng(5);
  for (int64_t k = 0; k < 32 * 64 / 8; ++k) s.codes.push_back(rng() % 65536);
  for (int64_t j = 0; j < 64; ++j) s.su.push_back(rng() % 2 ? 1.0f : -1.0f);
  for (int64_t i = 0; i < 32; ++i) s.sv.push_back(rng() % 2 ? 1.0f : -1.0f);
  s.wscale = 0.0123f;
  const hq::QuipSharpWeight w = hq::quip_sharp_weight(kName + ".weight", s);
  EXPECT_EQ(w.wscale, 1.0f);
  EXPECT_EQ(w.sv[0], fq::encode_fp16(s.sv[0] * s.wscale));
  const std::vector<float> theirs =
      hq::dequantize_quip_sharp(hq::unpack_quip_sharp(kName, by_name(hq::pack_quip_sharp(w))));
  const std::vector<float> ours = fq::quip_sharp_weight(s);
  double worst = 0.0, largest = 0.0;
  for (size_t i = 0; i < ours.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(theirs[i]) - ours[i]));
    largest = std::max(largest, std::fabs(static_cast<double>(ours[i])));
  }
  std::printf("QuIP# adapter: max |quip-sharp - qforge| = %.3g (max |W| %.3g)\n", worst, largest);
  EXPECT_LE(worst, largest * 0x1p-10);  // SV * Wscale rounded to fp16
  s.rows = 80;  // 20 * 4: qforge's Paley order 20, not quip-sharp's had20
  s.sv.resize(80, 1.0f);
  s.codes.resize(80 * 64 / 8, 0);
  EXPECT_THAT(error_of([&] { hq::quip_sharp_weight(kName + ".weight", s); }),
              AllOf(HasSubstr(kName), HasSubstr("2^k or 12 * 2^k")));
}

// For 12 * 2^k sizes qforge's transform (fakequant/hadamard.h: Paley's order-12 matrix (x) Sylvester) is
// quip-sharp's (had12 (x) Sylvester, had12 = Paley^T; the numpy reference checks the layout's dequantization
// against quip-sharp's typed-in had12): a [192, 384] state's forward and the file's dequantization agree to
// the fp16 rounding of SV * Wscale, as for powers of two. A slice state (a fused part) is written whole.
TEST(HfQuantQuipSharp, TwelveTimesPowerOfTwoIsQuipSharpsTransform) {
  fq::QuipSharpState s;
  s.rows = 192, s.cols = 384, s.wscale = 0.0211f;
  std::mt19937 rng(11);
  for (int64_t k = 0; k < 192 * 384 / 8; ++k) s.codes.push_back(rng() % 65536);
  for (int64_t j = 0; j < 384; ++j) s.su.push_back(rng() % 2 ? 1.0f : -1.0f);
  for (int64_t i = 0; i < 192; ++i) s.sv.push_back(rng() % 2 ? 1.0f : -1.0f);
  const std::vector<float> ours = fq::quip_sharp_weight(s);
  s.row_begin = 64, s.row_end = 192;  // a fused part: the file holds all 192 rows
  const hq::QuipSharpWeight w = hq::quip_sharp_weight(kName + ".weight", s);
  ASSERT_EQ(w.out, 192);
  const std::vector<float> theirs = hq::dequantize_quip_sharp(w);
  double worst = 0.0, largest = 0.0;
  for (size_t i = 0; i < ours.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(theirs[i]) - ours[i]));
    largest = std::max(largest, std::fabs(static_cast<double>(ours[i])));
  }
  std::printf("QuIP# 12 * 2^k [192, 384]: max |quip-sharp - qforge| = %.3g (max |W| %.3g)\n", worst, largest);
  EXPECT_LE(worst, largest * 0x1p-10);
  EXPECT_GT(largest, 0.0);
}

}  // namespace
