// The GGUF container's view of the ggml type table (exporters/gguf/ggml_types.h reads
// fakequant/formats/ggml/block_types.h): the same rows, the upper-case names `qforge inspect` prints,
// and a reader error for an unknown type that lists the known ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"

namespace qforge::exporters::gguf {
namespace {

TEST(GgmlTypes, ContainerReadsTheFakequantTable) {
  EXPECT_EQ(ggml_type_table().data(), fakequant::ggml::all_types().data());
  for (const fakequant::ggml::BlockType& type : ggml_type_table()) {
    const auto info = find_ggml_type(static_cast<uint32_t>(type.ggml_type_id));
    ASSERT_TRUE(info.has_value()) << type.name;
    EXPECT_EQ(info->name, fakequant::ggml::display_name(type));
    EXPECT_EQ(info->block_elements, static_cast<uint32_t>(type.block_elements)) << type.name;
    EXPECT_EQ(info->block_bytes, static_cast<uint32_t>(type.block_bytes)) << type.name;
    EXPECT_NE(ggml_type_names().find(info->name), std::string::npos) << info->name;
  }
  // The names `qforge inspect` has always printed.
  EXPECT_EQ(find_ggml_type(kGgmlQ4_K)->name, "Q4_K");
  EXPECT_EQ(find_ggml_type(kGgmlIQ4_NL)->name, "IQ4_NL");
  EXPECT_EQ(find_ggml_type(kGgmlBF16)->name, "BF16");
  EXPECT_FALSE(find_ggml_type(0x80000000u).has_value());
  EXPECT_EQ(ggml_type_names().substr(0, 22), "F32, F16, Q4_0, Q4_1, ");
}

TEST(GgmlTypes, UnknownTypeErrorListsTheKnownTypes) {
  GgufFile file;
  file.set("general.architecture", "llama");
  file.tensors.push_back({"only_tensor", {1}, kGgmlF32, 0});
  const std::vector<std::byte> four(4);
  const std::vector<std::span<const std::byte>> data{four};
  std::vector<std::byte> bytes = serialize_gguf(file, data);
  // The tensor info is name, n_dims (u32), ne (u64 each), type (u32): patch the type to 99.
  const std::string name = "only_tensor";
  const auto at = std::search(bytes.begin(), bytes.end(), reinterpret_cast<const std::byte*>(name.data()),
                              reinterpret_cast<const std::byte*>(name.data()) + name.size());
  ASSERT_NE(at, bytes.end());
  const uint32_t unknown = 99;
  std::memcpy(&*(at + static_cast<ptrdiff_t>(name.size() + 4 + 8)), &unknown, 4);
  try {
    GgufReader reader(std::move(bytes), "patched.gguf");
    FAIL() << "no throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown ggml type 99 (known: F32, F16, Q4_0,"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qforge::exporters::gguf
