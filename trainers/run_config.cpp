#include "trainers/run_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace qforge::trainers {

namespace {

namespace pb = google::protobuf;

// Collects the parser's first error with its position (protobuf reports 0-based lines).
class FirstError : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (text_.empty()) text_ = std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) parts.push_back(part);
  return parts;
}

template <class T>
T parse_number(const std::string& value, const std::string& path) {
  std::istringstream stream(value);
  T number{};
  stream >> number;
  if (stream.fail() || !stream.eof()) {
    throw std::invalid_argument("override " + path + ": '" + value + "' is not a valid number");
  }
  return number;
}

bool parse_bool(const std::string& value, const std::string& path) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  throw std::invalid_argument("override " + path + ": '" + value + "' is not true or false");
}

void set_value(pb::Message& message, const pb::FieldDescriptor& field, const std::string& value,
               const std::string& path) {
  const pb::Reflection& r = *message.GetReflection();
  const bool repeated = field.is_repeated();
  switch (field.cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32: {
      const auto v = parse_number<int32_t>(value, path);
      repeated ? r.AddInt32(&message, &field, v) : r.SetInt32(&message, &field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_INT64: {
      const auto v = parse_number<int64_t>(value, path);
      repeated ? r.AddInt64(&message, &field, v) : r.SetInt64(&message, &field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_UINT64: {
      const auto v = parse_number<uint64_t>(value, path);
      repeated ? r.AddUInt64(&message, &field, v) : r.SetUInt64(&message, &field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_FLOAT: {
      const auto v = parse_number<float>(value, path);
      repeated ? r.AddFloat(&message, &field, v) : r.SetFloat(&message, &field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      const bool v = parse_bool(value, path);
      repeated ? r.AddBool(&message, &field, v) : r.SetBool(&message, &field, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_STRING:
      repeated ? r.AddString(&message, &field, value) : r.SetString(&message, &field, value);
      break;
    default:
      throw std::invalid_argument("override " + path + ": field type " + field.cpp_type_name() +
                                  " cannot be set from the command line");
  }
}

}  // namespace

void parse_text_message(const std::string& text, const std::string& source_name, pb::Message& message) {
  pb::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &message)) {
    throw std::invalid_argument(source_name + ":" + (errors.text().empty() ? "parse error" : errors.text()));
  }
}

std::string read_config_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open config file");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

config::RunConfig parse_run_config(const std::string& text, const std::string& source_name) {
  config::RunConfig run;
  parse_text_message(text, source_name, run);
  return run;
}

config::RunConfig load_run_config(const std::filesystem::path& path) {
  return parse_run_config(read_config_file(path), path.string());
}

void apply_override(config::RunConfig& run, const std::string& assignment) {
  apply_override(static_cast<pb::Message&>(run), assignment);
}

void apply_override(pb::Message& run, const std::string& assignment) {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw std::invalid_argument("override '" + assignment + "': expected path.to.field=value");
  }
  const std::string path = assignment.substr(0, equals), value = assignment.substr(equals + 1);
  pb::Message* message = &run;  // NOLINT: walks down the path
  const std::vector<std::string> names = split(path, '.');
  for (size_t i = 0; i < names.size(); ++i) {
    const pb::FieldDescriptor* field = message->GetDescriptor()->FindFieldByName(names[i]);
    if (field == nullptr) {
      throw std::invalid_argument("override " + path + ": " + message->GetDescriptor()->name() +
                                  " has no field '" + names[i] + "'");
    }
    const bool last = i + 1 == names.size();
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (last || field->is_repeated()) {
        throw std::invalid_argument("override " + path + ": '" + names[i] + "' is a message; name one of its fields");
      }
      message = message->GetReflection()->MutableMessage(message, field);
      continue;
    }
    if (!last) throw std::invalid_argument("override " + path + ": '" + names[i] + "' has no fields");
    if (field->is_repeated()) {
      message->GetReflection()->ClearField(message, field);
      for (const std::string& item : split(value, ',')) set_value(*message, *field, item, path);
    } else {
      set_value(*message, *field, value, path);
    }
  }
}

std::string to_text(const config::RunConfig& run) {
  std::string text;
  pb::TextFormat::PrintToString(run, &text);
  return text;
}

}  // namespace qforge::trainers
