#pragma once
// Loading run configs: protobuf text format from a file, plus `path.to.field=value` overrides.
#include <filesystem>
#include <string>
#include <vector>

#include "trainers/run_config.pb.h"

namespace qforge::trainers {

// Parses protobuf text format; errors name the file, line and column.
config::RunConfig load_run_config(const std::filesystem::path& path);
config::RunConfig parse_run_config(const std::string& text, const std::string& source_name);

// Sets one scalar field by its dotted path, e.g. "trainer.steps=200" or "model.llama.hidden_size=64";
// repeated fields take a comma-separated list ("model.mlp.hidden=256,256"). Errors name the path.
void apply_override(config::RunConfig& config, const std::string& assignment);
// The same for any config message (e.g. StudyConfig: "base.trainer.steps=100").
void apply_override(google::protobuf::Message& config, const std::string& assignment);

// Text-format parsing of any config message; errors name the source, line and column.
void parse_text_message(const std::string& text, const std::string& source_name, google::protobuf::Message& message);
std::string read_config_file(const std::filesystem::path& path);

std::string to_text(const config::RunConfig& config);

}  // namespace qforge::trainers
