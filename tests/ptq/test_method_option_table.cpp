// The options each method declares in ptq/registry.cpp are the options its parser takes: every declared
// option is accepted by its method (so `qforge quantize` never generates a flag the method refuses), an
// undeclared one is refused with the table's list, and the union the CLI builds its flags from names
// the methods that share an option.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "layers/linear.h"
#include "ptq/method.h"

namespace qforge::ptq {
namespace {

using ::testing::HasSubstr;

// The method's error for `options`, or "" when it throws nothing or fails only after parsing (the
// model below is not what any method quantizes, so every method fails somewhere).
std::string parse_error(const Method& method, const std::string& options) {
  layers::Linear linear(4, 4, true, 1);
  try {
    method.quantize(linear, {}, options);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (what.find("is not one of") != std::string::npos) return what;
  }
  return "";
}

TEST(PtqMethodOptions, EveryDeclaredOptionIsTakenByItsMethod) {
  int checked = 0;
  for (const Method& m : methods()) {
    for (const MethodOption& o : m.options) {
      const std::string value = o.fallback.empty() ? "1" : std::string(o.fallback);
      const std::string item = std::string(o.name) + (o.takes_value ? "=" + value : "");
      EXPECT_EQ(parse_error(m, item), "") << m.name << " " << item;
      ++checked;
    }
    EXPECT_THAT(parse_error(m, "no_such_option"), HasSubstr("is not one of " + accepted_options(m.name)))
        << m.name;
  }
  EXPECT_EQ(checked, 29);  // the options declared in ptq/registry.cpp (quip_sharp:fused the latest)
}

TEST(PtqMethodOptions, UnionNamesTheMethodsSharingAnOption) {
  EXPECT_EQ(accepted_options("gptq"), "damp=<number>, block=<number>, act_order, dynamic_groups, rtn");
  EXPECT_EQ(accepted_options("rtn"), "no options");
  const std::vector<OptionUse> uses = option_union();
  auto use = [&](std::string_view name) {
    for (const OptionUse& u : uses)
      if (u.name == name) return u;
    ADD_FAILURE() << name << " is not in the union";
    return OptionUse{};
  };
  auto takers = [&](std::string_view name) {
    std::string out;
    for (const auto& [method, option] : use(name).takers) out += std::string(method->name) + " ";
    return out;
  };
  EXPECT_EQ(takers("damp"), "gptq spqr quip_sharp ");
  EXPECT_EQ(takers("threshold"), "llm_int8 spqr ");
  EXPECT_EQ(takers("act_order"), "gptq spqr ");
  EXPECT_TRUE(use("alpha").takes_value);
  EXPECT_FALSE(use("no_clip").takes_value);
  EXPECT_EQ(find_option(find_method("awq"), "damp"), nullptr);
  EXPECT_EQ(find_option(find_method("gptq"), "damp")->fallback, "0.01");
  EXPECT_EQ(join_options({"act_order", "", "damp=0.02,block=64"}), "act_order,damp=0.02,block=64");
  EXPECT_EQ(join_options({"", ""}), "");
  EXPECT_EQ(ordered_options(find_method("gptq"), "rtn,act_order,foo,damp=0.02"), "damp=0.02,act_order,rtn,foo");
  EXPECT_EQ(ordered_options(find_method("gptq"), ""), "");
  EXPECT_THAT([] { (void)join_options({"act_order,damp=0.01", "damp=0.02"}); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("option damp given twice")));
}

}  // namespace
}  // namespace qforge::ptq
