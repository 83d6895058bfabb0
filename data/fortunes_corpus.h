#pragma once
// The default text corpus: the English fortunes of Debian's fortunes + fortunes-min packages
// (see scripts/setup.sh), a few MB of quotes, jokes and definitions for character-level
// language models. Files are in strfile format (strfile(1)): entries separated by lines holding
// only '%'; the .dat files beside them are strfile's offset tables and are not read.
#include <string>
#include <string_view>
#include <vector>

namespace qforge::data {

inline constexpr const char* kFortunesDirectory = "/usr/share/games/fortunes";

// The 43 English files of fortunes 1:1.99.1 (fortunes-min: fortunes, literature, riddles; the
// rest from fortunes), in name order. A fixed list rather than a directory scan, so the corpus
// stays the same when other fortune packages install into the same directory; the offensive
// set (fortunes-off, subfolder off/) and other languages (subfolders) are never read.
const std::vector<std::string>& english_fortunes_files();

// The entries of one strfile text, each without its '%' line; empty entries are dropped.
std::vector<std::string> split_fortunes(std::string_view text);

// Every entry of `files` under `directory` in list order, each ending with one newline and
// followed by an empty line, so entries are separated by a blank line. Throws
// std::runtime_error naming the path of a missing file.
std::string load_fortunes_corpus(const std::string& directory = kFortunesDirectory,
                                 const std::vector<std::string>& files = english_fortunes_files());

}  // namespace qforge::data
