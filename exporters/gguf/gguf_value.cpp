#include "exporters/gguf/gguf_value.h"

#include <stdexcept>

namespace qforge::exporters::gguf {

std::string_view value_type_name(ValueType type) {
  static constexpr std::string_view kNames[kValueTypeCount] = {
      "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const auto id = static_cast<uint32_t>(type);
  return id < kValueTypeCount ? kNames[id] : std::string_view("unknown");
}

const Value* GgufFile::find(std::string_view key) const {
  for (const KeyValue& kv : metadata) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

void GgufFile::set(std::string_view key, Value value) {
  for (KeyValue& kv : metadata) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  metadata.push_back({std::string(key), std::move(value)});
}

uint32_t GgufFile::alignment() const {
  const Value* value = find(kAlignmentKey);
  if (value == nullptr) return kDefaultAlignment;
  // gguf.cpp: general.alignment must be a u32 and a power of two (docs/gguf.md §1).
  const auto* alignment = value->get_if<uint32_t>();
  if (alignment == nullptr) {
    throw std::invalid_argument("gguf: general.alignment must be u32, got " +
                                std::string(value_type_name(value->type())));
  }
  if (*alignment == 0 || (*alignment & (*alignment - 1)) != 0) {
    throw std::invalid_argument("gguf: general.alignment must be a power of two, got " +
                                std::to_string(*alignment));
  }
  return *alignment;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const TensorInfo& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

}  // namespace qforge::exporters::gguf
