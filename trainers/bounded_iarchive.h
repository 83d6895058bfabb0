#pragma once
// Boost's binary input archive, reading what boost::archive::binary_oarchive wrote (checkpoint.bin), with
// every length and count checked against the bytes left in the stream before anything is allocated.
// Boost itself resizes a std::string or std::vector to whatever size the file claims, so a corrupted or
// hostile checkpoint could ask for exabytes (std::length_error / std::bad_alloc, or the OOM killer on a
// size that fits). Here a std::string of n bytes needs n bytes left, and a std::vector<T> of n elements
// n * min_archived_bytes<T>() (the smallest encoding of one element): memory stays within a small factor
// of the file's size, and a lie is an error naming the file, the part being read and the byte offset:
// "checkpoint: FILE: FIELD at byte N: what" (io/read_error.h), FIELD as named by begin_field() plus the last
// name read in it ("model entry 'fc1.weight'").
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
  /// `in` holds `size` bytes from its current position on (the whole file `source`); reads the archive header.
  BoundedBinaryIArchive(std::istream& in, uint64_t size, std::string source);

  /// Names the part of the file read next ("model") in errors, from the current byte on.
  void begin_field(std::string field);
  /// Where the current part began.
  uint64_t field_start() const { return field_start_; }
  /// Throws io::ReadError naming the file, the current part and byte `at`.
  [[noreturn]] void fail_at(uint64_t at, const std::string& what) const;
  /// Boost's error for the current part: a stream cut short ("input stream error") is named as the end of
  /// the file; any other error at the current byte.
  [[noreturn]] void fail_boost(const boost::archive::archive_exception& e) const;

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
  uint64_t position() const;
  // The current part and the last name read in it: the entry an error falls in (or just after).
  std::string where() const;
  [[noreturn]] void fail(const std::string& what) const { fail_at(position(), what); }

  std::istream& in_;
  uint64_t start_ = 0;         // stream position of the first byte of the file
  uint64_t end_ = 0;           // stream position of the end of the file
  size_t element_bytes_ = 1;  // of the collection whose count comes next
  std::string source_;
  std::string field_ = "archive header";
  uint64_t field_start_ = 0;
  std::string last_name_;     // the last string read in the current part (an entry's name)
};

}  // namespace qforge::trainers

// As boost::archive::binary_iarchive: a vector of arithmetic values is one block (the writer's layout).
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(qforge::trainers::BoundedBinaryIArchive)
