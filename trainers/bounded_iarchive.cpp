#include "trainers/bounded_iarchive.h"

#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "io/read_error.h"

// libboost_serialization instantiates these for its own archives only; a new archive class brings its own.
namespace boost::archive {
template class detail::archive_serializer_map<qforge::trainers::BoundedBinaryIArchive>;
template class basic_binary_iarchive<qforge::trainers::BoundedBinaryIArchive>;
template class basic_binary_iprimitive<qforge::trainers::BoundedBinaryIArchive, char, std::char_traits<char>>;
}  // namespace boost::archive

namespace qforge::trainers {

BoundedBinaryIArchive::BoundedBinaryIArchive(std::istream& in, uint64_t size, std::string source)
    : Base(in, 0), in_(in), source_(std::move(source)) {
  const auto start = in.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in);
  start_ = start < 0 ? 0 : static_cast<uint64_t>(start);
  end_ = start_ + size;
  // Boost's header reader takes the end of the stream for a library version (it asserts, or reads
  // 65535 and says "unsupported version"): a file too short for the header is named as such here.
  const uint64_t header_bytes = sizeof(std::size_t) + std::strlen(boost::archive::BOOST_ARCHIVE_SIGNATURE()) + 2;
  if (size < header_bytes)
    fail(std::to_string(size) + " bytes, shorter than the " + std::to_string(header_bytes) + "-byte archive header");
  try {
    init(0);  // the header: signature, library version, flags
  } catch (const boost::archive::archive_exception& e) {
    fail_boost(e);
  }
}

void BoundedBinaryIArchive::begin_field(std::string field) {
  field_ = std::move(field);
  field_start_ = position();
  last_name_.clear();
}

uint64_t BoundedBinaryIArchive::position() const {
  const auto at = in_.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in);
  return at < 0 ? end_ - start_ : static_cast<uint64_t>(at) - start_;
}

uint64_t BoundedBinaryIArchive::remaining() const {
  const uint64_t at = position();
  return at > end_ - start_ ? 0 : end_ - start_ - at;
}

std::string BoundedBinaryIArchive::where() const {
  return last_name_.empty() ? field_ : field_ + " entry '" + io::printable(last_name_) + "'";
}

void BoundedBinaryIArchive::fail_at(uint64_t at, const std::string& what) const {
  io::throw_read_error("checkpoint", source_, where(), at, what);
}

void BoundedBinaryIArchive::fail_boost(const boost::archive::archive_exception& e) const {
  // Boost's own words for a file cut short are "input stream error".
  if (e.code == boost::archive::archive_exception::input_stream_error)
    fail_at(end_ - start_, "the file ends here, inside " + field_ + " (which starts at byte " +
                               std::to_string(field_start_) + "): truncated?");
  fail(e.what());
}

void BoundedBinaryIArchive::load_override(boost::serialization::collection_size_type& count) {
  const size_t element_bytes = element_bytes_;
  element_bytes_ = 1;  // a vector's own count is the first one read after its load_override
  const uint64_t at = position();  // errors name the count's own byte
  Base::load_override(count);
  const uint64_t left = remaining();
  if (static_cast<uint64_t>(count) > left / element_bytes)
    fail_at(at, "a count of " + std::to_string(static_cast<uint64_t>(count)) + " elements of at least " +
         std::to_string(element_bytes) + " bytes each exceeds the " + std::to_string(left) + " bytes left");
}

void BoundedBinaryIArchive::load(std::string& s) {
  std::size_t length = 0;
  const uint64_t at = position();  // errors name the length's own byte
  Base::load(length);
  const uint64_t left = remaining();
  if (length > left)
    fail_at(at, "a string of " + std::to_string(length) + " bytes exceeds the " + std::to_string(left) + " bytes left");
  s.resize(length);
  if (length > 0) load_binary(s.data(), length);
  last_name_ = s;
}

}  // namespace qforge::trainers
