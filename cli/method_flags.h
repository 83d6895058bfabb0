#pragma once
// `qforge quantize`'s method option flags, generated from the options the ptq/ registry's methods
// declare (ptq::option_union): option act_order <-> --act-order, damp <-> --damp <number>. Each flag's
// help names the methods that take it; the flags given become option text for the chosen method,
// joined with the method string's and the config's (ptq::join_options), so the method's own parser
// reads them once.
#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "ptq/method.h"

namespace qforge::cli {

struct MethodFlags {
  std::map<std::string, std::string> given;  // option name -> value ("" for a flag), by the callbacks
};

// "--act-order" for option "act_order".
std::string flag_name(std::string_view option);
void add_method_flags(CLI::App& command, MethodFlags& flags);
// The given flags as option text for `method` ("act_order,damp=0.02", in the registry's order); a flag
// the method does not take is std::invalid_argument naming the flag, the method and what it takes.
std::string flag_options(const MethodFlags& flags, const ptq::Method& method);

}  // namespace qforge::cli
