#include "data/fortunes_corpus.h"

#include "data/file_bytes.h"

namespace qforge::data {

const std::vector<std::string>& english_fortunes_files() {
  static const std::vector<std::string> files = {
      "art",        "ascii-art", "computers",   "cookie",     "debian",        "definitions", "disclaimer",
      "drugs",      "education", "ethnic",      "food",       "fortunes",      "goedel",      "humorists",
      "kids",       "knghtbrd",  "law",         "linux",      "linuxcookie",   "literature",  "love",
      "magic",      "medicine",  "men-women",   "miscellaneous", "news",       "paradoxum",   "people",
      "perl",       "pets",      "platitudes",  "politics",   "pratchett",     "riddles",     "science",
      "songs-poems", "sports",   "startrek",    "tao",        "translate-me",  "wisdom",      "work",
      "zippy"};
  return files;
}

std::vector<std::string> split_fortunes(std::string_view text) {
  std::vector<std::string> entries;
  std::string entry;
  auto finish_entry = [&] {
    if (!entry.empty()) entries.push_back(entry);
    entry.clear();
  };
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    const bool has_newline = end != std::string_view::npos;
    if (!has_newline) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    if (line == "%") {
      finish_entry();
    } else {
      entry.append(line);
      entry += '\n';  // a last line without newline gets one, so every entry ends the same way
    }
    start = has_newline ? end + 1 : end;
  }
  finish_entry();
  return entries;
}

std::string load_fortunes_corpus(const std::string& directory, const std::vector<std::string>& files) {
  std::string corpus;
  for (const std::string& name : files) {
    for (const std::string& entry : split_fortunes(read_text_file(directory + "/" + name))) {
      corpus += entry;
      corpus += '\n';
    }
  }
  return corpus;
}

}  // namespace qforge::data
