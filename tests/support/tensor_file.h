#pragma once
// A minimal named-record file shared with tests/torch_reference.py: the C++ tests write inputs,
// PyTorch writes reference outputs back. Little-endian:
//   "QFT1", u32 count, then per record: u8 kind (0 tensor, 1 text), u32 name length, name,
//   tensor: u32 ndim, i64 dims[ndim], f64 values[numel];  text: u32 length, bytes.
#include <map>
#include <string>
#include <vector>

namespace qforge::testing {

struct TensorRecord {
  std::vector<int64_t> dims;
  std::vector<double> values;
};

class TensorFile {
 public:
  void put(const std::string& name, std::vector<int64_t> dims, std::vector<double> values);
  void put_text(const std::string& name, const std::string& text);
  bool has(const std::string& name) const { return tensors_.count(name) || texts_.count(name); }
  const TensorRecord& tensor(const std::string& name) const;  // throws naming the record
  const std::string& text(const std::string& name) const;

  void save(const std::string& path) const;
  static TensorFile load(const std::string& path);

 private:
  std::map<std::string, TensorRecord> tensors_;
  std::map<std::string, std::string> texts_;
};

}  // namespace qforge::testing
