#pragma once
// GGUF v3 metadata values and the in-memory model of a GGUF file (container only; block encoders live
// elsewhere). Spec: ggml-org/ggml:docs/gguf.md and gguf.h; our notes: docs/gguf.md §1.
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace qforge::exporters::gguf {

// On-disk value type ids (gguf.h enum gguf_type). The order of Value::Storage follows these ids, so
// Storage::index() == the type id.
enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
inline constexpr uint32_t kValueTypeCount = 13;

std::string_view value_type_name(ValueType type);

struct Value;

// An array has one element type for all its elements (kept even when empty). Elements may themselves
// be arrays (nested arrays); llama.cpp rejects those, but the container allows them.
struct Array {
  ValueType element_type = ValueType::kUint8;
  std::vector<Value> elements;
  bool operator==(const Array& other) const;
};

struct Value {
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, Array, uint64_t, int64_t, double>;
  Storage storage;

  Value() = default;
  // Only the exact alternative types convert, so Value(uint32_t{4}) can never silently become an i32.
  template <class T>
    requires(std::is_same_v<std::remove_cvref_t<T>, uint8_t> || std::is_same_v<std::remove_cvref_t<T>, int8_t> ||
             std::is_same_v<std::remove_cvref_t<T>, uint16_t> || std::is_same_v<std::remove_cvref_t<T>, int16_t> ||
             std::is_same_v<std::remove_cvref_t<T>, uint32_t> || std::is_same_v<std::remove_cvref_t<T>, int32_t> ||
             std::is_same_v<std::remove_cvref_t<T>, float> || std::is_same_v<std::remove_cvref_t<T>, bool> ||
             std::is_same_v<std::remove_cvref_t<T>, std::string> || std::is_same_v<std::remove_cvref_t<T>, Array> ||
             std::is_same_v<std::remove_cvref_t<T>, uint64_t> || std::is_same_v<std::remove_cvref_t<T>, int64_t> ||
             std::is_same_v<std::remove_cvref_t<T>, double>)
  Value(T&& x) : storage(std::forward<T>(x)) {}  // NOLINT(google-explicit-constructor)
  Value(const char* text) : storage(std::string(text)) {}  // NOLINT(google-explicit-constructor)

  ValueType type() const { return static_cast<ValueType>(storage.index()); }
  template <class T> const T& get() const { return std::get<T>(storage); }
  template <class T> const T* get_if() const { return std::get_if<T>(&storage); }
  bool operator==(const Value& other) const = default;
};

inline bool Array::operator==(const Array& other) const {
  return element_type == other.element_type && elements == other.elements;
}

// Typed array helpers: make_array<uint32_t>({1, 2}) or make_array(ValueType::kString, {...}).
template <class T>
Array make_array(const std::vector<T>& items) {
  Array array;
  array.element_type = Value(T{}).type();
  array.elements.reserve(items.size());
  for (const T& item : items) array.elements.emplace_back(item);
  return array;
}

struct KeyValue {
  std::string key;
  Value value;
  bool operator==(const KeyValue&) const = default;
};

// dims are in ggml order: dims[0] = ne[0] is the fastest-varying (contiguous) dimension.
// offset is relative to the start of the data section; the writer assigns it (data in info order,
// each tensor padded to the alignment), the reader fills it from the file.
struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type = 0;  // ggml type id, see ggml_types.h
  uint64_t offset = 0;
  bool operator==(const TensorInfo&) const = default;
};

inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";

struct GgufFile {
  std::vector<KeyValue> metadata;  // in file (insertion) order
  std::vector<TensorInfo> tensors;  // in file order = data order

  const Value* find(std::string_view key) const;
  // Replaces the value of an existing key in place (keeps its position) or appends a new pair.
  void set(std::string_view key, Value value);
  // general.alignment if present (must be a u32 power of two, else std::invalid_argument), else 32.
  uint32_t alignment() const;
  const TensorInfo* find_tensor(std::string_view name) const;
  bool operator==(const GgufFile&) const = default;
};

}  // namespace qforge::exporters::gguf
