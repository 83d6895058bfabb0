#include "cli/method_flags.h"

#include <stdexcept>

namespace qforge::cli {
namespace {

// "damp: fraction of ... (gptq 0.01, spqr 0.01, quip_sharp 0.01)" when the methods describe the option
// alike, else one "method: help (default)" part per method.
std::string flag_help(const ptq::OptionUse& use) {
  auto fallback = [](const ptq::MethodOption& o) { return o.fallback.empty() ? std::string() : " " + std::string(o.fallback); };
  bool same = true;
  for (const auto& [method, option] : use.takers) same = same && option->help == use.takers.front().second->help;
  std::string out;
  if (same) {
    std::string methods;
    for (const auto& [method, option] : use.takers) methods += (methods.empty() ? "" : ", ") + std::string(method->name) + fallback(*option);
    return std::string(use.takers.front().second->help) + " (methods: " + methods + ")";
  }
  for (const auto& [method, option] : use.takers)
    out += (out.empty() ? "" : "; ") + std::string(method->name) + ": " + std::string(option->help) +
           (option->fallback.empty() ? "" : " (" + std::string(option->fallback) + ")");
  return out;
}

}  // namespace

std::string flag_name(std::string_view option) {
  std::string flag = "--" + std::string(option);
  for (char& c : flag) c = c == '_' ? '-' : c;
  return flag;
}

void add_method_flags(CLI::App& command, MethodFlags& flags) {
  for (const ptq::OptionUse& use : ptq::option_union()) {
    const std::string name(use.name);
    CLI::Option* option =
        use.takes_value
            ? command.add_option_function<std::string>(flag_name(name), [&flags, name](const std::string& v) { flags.given[name] = v; },
                                                       flag_help(use))
            : command.add_flag_function(flag_name(name), [&flags, name](int64_t) { flags.given[name] = ""; }, flag_help(use));
    if (use.takes_value) option->type_name("NUMBER");
    option->group("Method options (--method's; a method not named here refuses the flag)");
  }
}

std::string flag_options(const MethodFlags& flags, const ptq::Method& method) {
  for (const auto& [name, value] : flags.given) {
    if (ptq::find_option(method, name) != nullptr) continue;
    std::string takes;
    for (const ptq::MethodOption& o : method.options) takes += (takes.empty() ? "" : ", ") + flag_name(o.name);
    throw std::invalid_argument("quantize: " + flag_name(name) + " does not apply to --method " + std::string(method.name) +
                                " (" + (takes.empty() ? "it takes no options" : "it takes " + takes) + ")");
  }
  std::string text;
  for (const ptq::MethodOption& o : method.options) {
    const auto it = flags.given.find(std::string(o.name));
    if (it != flags.given.end()) text += (text.empty() ? "" : ",") + it->first + (o.takes_value ? "=" + it->second : "");
  }
  return text;
}

}  // namespace qforge::cli
