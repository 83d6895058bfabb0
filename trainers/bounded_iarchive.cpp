#include "trainers/bounded_iarchive.h"

#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>
#include <cstring>
#include <stdexcept>

// libboost_serialization instantiates these for its own archives only; a new archive class brings its own.
namespace boost::archive {
template class detail::archive_serializer_map<qforge::trainers::BoundedBinaryIArchive>;
template class basic_binary_iarchive<qforge::trainers::BoundedBinaryIArchive>;
template class basic_binary_iprimitive<qforge::trainers::BoundedBinaryIArchive, char, std::char_traits<char>>;
}  // namespace boost::archive

namespace qforge::trainers {

BoundedBinaryIArchive::BoundedBinaryIArchive(std::istream& in, uint64_t size) : Base(in, 0), in_(in) {
  const auto start = in.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in);
  end_ = (start < 0 ? 0 : static_cast<uint64_t>(start)) + size;
  // Boost's header reader takes the end of the stream for a library version (it asserts, or reads
  // 65535 and says "unsupported version"): a file too short for the header is named as such here.
  const uint64_t header_bytes = sizeof(std::size_t) + std::strlen(boost::archive::BOOST_ARCHIVE_SIGNATURE()) + 2;
  if (size < header_bytes)
    fail(std::to_string(size) + " bytes, shorter than the " + std::to_string(header_bytes) + "-byte archive header");
  init(0);  // the header: signature, library version, flags
}

uint64_t BoundedBinaryIArchive::remaining() const {
  const auto at = in_.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in);
  if (at < 0 || static_cast<uint64_t>(at) > end_) return 0;
  return end_ - static_cast<uint64_t>(at);
}

void BoundedBinaryIArchive::fail(const std::string& what) const {
  const auto at = in_.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in);
  throw std::runtime_error(what + " (byte " + std::to_string(static_cast<int64_t>(at)) + ")");
}

void BoundedBinaryIArchive::load_override(boost::serialization::collection_size_type& count) {
  const size_t element_bytes = element_bytes_;
  element_bytes_ = 1;  // a vector's own count is the first one read after its load_override
  Base::load_override(count);
  const uint64_t left = remaining();
  if (static_cast<uint64_t>(count) > left / element_bytes)
    fail("a count of " + std::to_string(static_cast<uint64_t>(count)) + " elements of at least " +
         std::to_string(element_bytes) + " bytes each exceeds the " + std::to_string(left) + " bytes left");
}

void BoundedBinaryIArchive::load(std::string& s) {
  std::size_t length = 0;
  Base::load(length);
  const uint64_t left = remaining();
  if (length > left)
    fail("a string of " + std::to_string(length) + " bytes exceeds the " + std::to_string(left) + " bytes left");
  s.resize(length);
  if (length > 0) load_binary(s.data(), length);
}

}  // namespace qforge::trainers
