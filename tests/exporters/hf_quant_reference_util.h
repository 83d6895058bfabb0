#pragma once
// Comparing packed tensors with the answers of the byte-level numpy references
// (tests/exporters/hf_quant_reference_8bit.py and its siblings): each reference tensor
// comes back as its little-endian bytes, its shape and its dtype, so 64-bit words (SpQR, QuIP#) survive
// the double-valued tensor file exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "exporters/hf/quant/hf_quant.h"
#include "tests/support/tensor_file.h"

namespace qforge::testing {

namespace hq = qforge::exporters::hf::quant;

// "c<k>", built by appending: GCC 12 reports a false -Wrestrict on "c" + std::to_string(k).
inline std::string reference_case_id(size_t k) {
  std::string id = "c";
  id += std::to_string(k);
  return id;
}

template <typename T>
std::vector<double> as_doubles(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

inline std::string sorted_names(const std::vector<hq::FileTensor>& tensors) {
  std::vector<std::string> names;
  for (const hq::FileTensor& t : tensors) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  std::string joined;
  for (const std::string& n : names) joined += (joined.empty() ? "" : "\n") + n;
  return joined;
}

// Names, dtypes, shapes and bytes of `tensors` equal the reference's answer for case `id`.
inline void expect_same_tensors(const std::vector<hq::FileTensor>& tensors, const TensorFile& answer,
                                const std::string& id) {
  ASSERT_EQ(sorted_names(tensors), answer.text(id + ".tensors"));
  for (const hq::FileTensor& t : tensors) {
    const std::string key = id + "/" + t.name;
    EXPECT_EQ(qforge::exporters::safetensors::dtype_name(t.dtype), answer.text(key + ".dtype")) << key;
    const std::vector<double>& dims = answer.tensor(key + ".shape").values;
    EXPECT_EQ(t.shape, std::vector<int64_t>(dims.begin(), dims.end())) << key;
    const std::vector<double>& bytes = answer.tensor(key).values;
    ASSERT_EQ(t.data.size(), bytes.size()) << key;
    size_t first = t.data.size();
    for (size_t i = 0; i < bytes.size() && first == t.data.size(); ++i) {
      if (std::to_integer<int>(t.data[i]) != static_cast<int>(bytes[i])) first = i;
    }
    EXPECT_EQ(first, t.data.size()) << key << ": first differing byte " << first << " of " << t.data.size();
  }
}

inline void expect_same_config(const std::string& ours, const TensorFile& answer, const std::string& id) {
  EXPECT_EQ(nlohmann::json::parse(ours), nlohmann::json::parse(answer.text(id + ".config"))) << id;
}

// Every element equal bit for bit (float32 patterns).
inline void expect_bit_equal(const std::vector<float>& ours, const std::vector<double>& expected,
                             const std::string& what) {
  ASSERT_EQ(ours.size(), expected.size()) << what;
  int64_t differing = 0;
  size_t first = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    if (std::bit_cast<uint32_t>(ours[i]) != std::bit_cast<uint32_t>(static_cast<float>(expected[i]))) {
      if (differing++ == 0) first = i;
    }
  }
  EXPECT_EQ(differing, 0) << what << ": elements differing bit for bit, first at " << first;
}

// The message of the std::invalid_argument `f` throws, or "<no error>".
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace qforge::testing
