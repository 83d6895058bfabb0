#pragma once
// Boost's binary input archive, reading what boost::archive::binary_oarchive wrote (checkpoint.bin), with
// every length and count checked against the bytes left in the stream before anything is allocated.
// Boost itself resizes a std::string or std::vector to whatever size the file claims, so a corrupted or
// hostile checkpoint could ask for exabytes (std::length_error / std::bad_alloc, or the OOM killer on a
// size that fits). Here a std::string of n bytes needs n bytes left, and a std::vector<T> of n elements
// n * min_archived_bytes<T>() (the smallest encoding of one element): memory stays within a small factor
// of the file's size, and a lie is a std::runtime_error naming the byte offset.
#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace qforge::trainers {

/// The fewest bytes one archived T takes; specialise for a class whose serialize() always writes more
/// than one byte (checkpoint.cpp's TensorRecord). Counts and lengths take at least 4 bytes (library
/// versions before 6 wrote them as unsigned int).
template <class T>
struct MinArchivedBytes {
  static constexpr size_t value = std::is_arithmetic_v<T> ? sizeof(T) : 1;
};
template <class C, class Tr, class A>
struct MinArchivedBytes<std::basic_string<C, Tr, A>> {
  static constexpr size_t value = 4;
};
template <class T, class A>
struct MinArchivedBytes<std::vector<T, A>> {
  static constexpr size_t value = 4;
};
template <class T, class U>
struct MinArchivedBytes<std::pair<T, U>> {
  static constexpr size_t value = MinArchivedBytes<T>::value + MinArchivedBytes<U>::value;
};

class BoundedBinaryIArchive
    : public boost::archive::binary_iarchive_impl<BoundedBinaryIArchive, char, std::char_traits<char>> {
  using Base = boost::archive::binary_iarchive_impl<BoundedBinaryIArchive, char, std::char_traits<char>>;
  friend class boost::archive::detail::interface_iarchive<BoundedBinaryIArchive>;
  friend class boost::archive::basic_binary_iarchive<BoundedBinaryIArchive>;
  friend class boost::archive::basic_binary_iprimitive<BoundedBinaryIArchive, char, std::char_traits<char>>;
  friend class boost::archive::load_access;

 public:
  /// `in` holds `size` bytes from its current position on (the whole file); reads the archive header.
  BoundedBinaryIArchive(std::istream& in, uint64_t size);

 protected:
  // Every type but these: as Boost does.
  template <class T>
  void load_override(T& t) {
    Base::load_override(t);
  }
  // A vector's count is the next collection size read: check it against its element type's size.
  template <class T, class A>
  void load_override(std::vector<T, A>& v) {
    const size_t outer = element_bytes_;
    element_bytes_ = MinArchivedBytes<T>::value;
    Base::load_override(v);
    element_bytes_ = outer;
  }
  void load_override(boost::serialization::collection_size_type& count);

  using Base::load;
  void load(std::string& s);

 private:
  // Bytes between the stream's position and the end of the file.
  uint64_t remaining() const;
  [[noreturn]] void fail(const std::string& what) const;

  std::istream& in_;
  uint64_t end_ = 0;           // stream position of the end of the file
  size_t element_bytes_ = 1;  // of the collection whose count comes next
};

}  // namespace qforge::trainers

// As boost::archive::binary_iarchive: a vector of arithmetic values is one block (the writer's layout).
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(qforge::trainers::BoundedBinaryIArchive)
