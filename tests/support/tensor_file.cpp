#include "tests/support/tensor_file.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace qforge::testing {

namespace {

template <class T>
void write_pod(std::ofstream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <class T>
T read_pod(std::ifstream& in, const std::string& path) {
  T value;
  if (!in.read(reinterpret_cast<char*>(&value), sizeof(T))) throw std::runtime_error(path + ": truncated");
  return value;
}

std::string read_string(std::ifstream& in, const std::string& path) {
  const auto length = read_pod<uint32_t>(in, path);
  std::string text(length, '\0');
  if (!in.read(text.data(), length)) throw std::runtime_error(path + ": truncated string");
  return text;
}

void write_string(std::ofstream& out, const std::string& text) {
  write_pod(out, static_cast<uint32_t>(text.size()));
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace

void TensorFile::put(const std::string& name, std::vector<int64_t> dims, std::vector<double> values) {
  tensors_[name] = TensorRecord{std::move(dims), std::move(values)};
}

void TensorFile::put_text(const std::string& name, const std::string& text) { texts_[name] = text; }

const TensorRecord& TensorFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw std::runtime_error("tensor file: no tensor record '" + name + "'");
  return it->second;
}

const std::string& TensorFile::text(const std::string& name) const {
  auto it = texts_.find(name);
  if (it == texts_.end()) throw std::runtime_error("tensor file: no text record '" + name + "'");
  return it->second;
}

void TensorFile::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path);
  out.write("QFT1", 4);
  write_pod(out, static_cast<uint32_t>(tensors_.size() + texts_.size()));
  for (const auto& [name, record] : tensors_) {
    write_pod(out, static_cast<uint8_t>(0));
    write_string(out, name);
    write_pod(out, static_cast<uint32_t>(record.dims.size()));
    for (int64_t d : record.dims) write_pod(out, d);
    out.write(reinterpret_cast<const char*>(record.values.data()),
              static_cast<std::streamsize>(record.values.size() * sizeof(double)));
  }
  for (const auto& [name, text] : texts_) {
    write_pod(out, static_cast<uint8_t>(1));
    write_string(out, name);
    write_string(out, text);
  }
  if (!out) throw std::runtime_error("write failed: " + path);
}

TensorFile TensorFile::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  char magic[4];
  if (!in.read(magic, 4) || std::memcmp(magic, "QFT1", 4) != 0) throw std::runtime_error(path + ": not a QFT1 file");
  TensorFile file;
  const auto count = read_pod<uint32_t>(in, path);
  for (uint32_t r = 0; r < count; ++r) {
    const auto kind = read_pod<uint8_t>(in, path);
    const std::string name = read_string(in, path);
    if (kind == 1) {
      file.texts_[name] = read_string(in, path);
      continue;
    }
    TensorRecord record;
    record.dims.resize(read_pod<uint32_t>(in, path));
    int64_t numel = 1;
    for (auto& d : record.dims) numel *= (d = read_pod<int64_t>(in, path));
    record.values.resize(numel);
    if (!in.read(reinterpret_cast<char*>(record.values.data()), numel * static_cast<std::streamsize>(sizeof(double))))
      throw std::runtime_error(path + ": truncated tensor " + name);
    file.tensors_[name] = std::move(record);
  }
  return file;
}

}  // namespace qforge::testing
