#include "fakequant/quantizer_spec.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "fakequant/formats/ggml/block_types.h"

namespace qforge::fakequant {
namespace {

template <class Enum, size_t N>
Enum from_name(const std::array<std::pair<const char*, Enum>, N>& table, const std::string& name, const char* what) {
  for (const auto& [text, value] : table) {
    if (name == text) return value;
  }
  std::string accepted;
  for (const auto& [text, value] : table) accepted += std::string(accepted.empty() ? "" : ", ") + text;
  throw std::invalid_argument("unknown " + std::string(what) + " '" + name + "' (accepted: " + accepted + ")");
}

template <class Enum, size_t N>
std::string to_name(const std::array<std::pair<const char*, Enum>, N>& table, Enum value) {
  for (const auto& [text, entry] : table) {
    if (entry == value) return text;
  }
  return "?";
}

const std::array<std::pair<const char*, ScaleDtype>, 3> kScaleDtypes = {{
    {"fp32", ScaleDtype::kFp32}, {"fp16", ScaleDtype::kFp16}, {"bf16", ScaleDtype::kBf16}}};
const std::array<std::pair<const char*, Estimator>, 6> kEstimators = {{
    {"ste", Estimator::kSte},
    {"clipped_ste", Estimator::kClippedSte},
    {"lsq", Estimator::kLsq},
    {"lsq_plus", Estimator::kLsqPlus},
    {"pact", Estimator::kPact},
    {"seq", Estimator::kSeq},
}};
const std::array<std::pair<const char*, ObserverKind>, 5> kObservers = {{
    {"minmax", ObserverKind::kMinMax},
    {"ema", ObserverKind::kMovingAverageMinMax},
    {"percentile", ObserverKind::kPercentile},
    {"mse", ObserverKind::kMse},
    {"kl", ObserverKind::kKlEntropy},
}};

int scale_dtype_bits(ScaleDtype dtype) { return dtype == ScaleDtype::kFp32 ? 32 : 16; }

bool is_scaled(ElementFormat format) { return element_format_traits(format).scaled; }

int parse_int(const std::string& digits, const std::string& token, const std::string& scheme) {
  // At most 9 digits: std::stoi would throw std::out_of_range (not invalid_argument) beyond int.
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument("scheme '" + scheme + "': cannot read a number in '" + token + "'");
  }
  return std::stoi(digits);
}

// Splits at ':' keeping empty tokens, so "int4:" and "int4::g32" are reported instead of ignored.
std::vector<std::string> split_scheme(const std::string& text) {
  std::vector<std::string> tokens(1);
  for (char c : text) {
    if (c == ':') tokens.emplace_back();
    else tokens.back() += c;
  }
  return tokens;
}

// "outlier6", "outlier0.5": a positive finite threshold, the whole rest of the token read as a number.
float parse_outlier_threshold(const std::string& token, const std::string& scheme) {
  const std::string digits = token.substr(7);
  float value = 0.0f;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || !(value > 0.0f) ||
      !std::isfinite(value)) {
    throw std::invalid_argument("scheme '" + scheme + "': '" + token + "' is not outlier<threshold > 0>, e.g. outlier6");
  }
  return value;
}

ScaleDtype parse_scale_dtype(const std::string& name, const std::string& scheme) {
  try {
    return scale_dtype_from_name(name);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("scheme '" + scheme + "': " + e.what());
  }
}

bool apply_modifier(QuantizerSpec& spec, const std::string& token, const std::string& scheme) {
  if (token == "sym") spec.symmetric = true;
  else if (token == "asym") spec.symmetric = false;
  else if (token == "tensor") spec.granularity = GranularitySpec::per_tensor();
  else if (token == "channel") spec.granularity = GranularitySpec::per_channel(0);
  else if (token.rfind("channel", 0) == 0) spec.granularity = GranularitySpec::per_channel(parse_int(token.substr(7), token, scheme));
  else if (token == "token") spec.dynamic_per_token = true;
  else if (token.rfind("outlier", 0) == 0) spec.outlier_threshold = parse_outlier_threshold(token, scheme);
  else if (token.size() > 1 && token[0] == 'g' && std::isdigit(static_cast<unsigned char>(token[1]))) {
    spec.granularity = GranularitySpec::per_group(parse_int(token.substr(1), token, scheme));
  } else if (token.rfind("scale_", 0) == 0) spec.scale_dtype = parse_scale_dtype(token.substr(6), scheme);
  else if (token.size() > 2 && token.rfind("dq", 0) == 0) spec.block_scales.scale_bits = parse_int(token.substr(2), token, scheme);
  else return false;
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Format-exact GGUF block types a scheme can name: the quantized ggml types qforge has a codec for that
// quantizes without an importance matrix (fake quantization has none), in lower case (ggml_type_name
// spells "q4_K"; schemes are lower case).
bool is_block_scheme(const ggml::BlockType& type) {
  return type.has_codec() && type.is_quantized() && !type.needs_importance;
}

const ggml::BlockType* find_block_scheme(const std::string& head) {
  for (const ggml::BlockType& type : ggml::all_block_types()) {
    if (is_block_scheme(type) && lower(type.name) == head) return &type;
  }
  return nullptr;
}

const char* ggml_type_name_or_null(int id) {
  const ggml::BlockType* type = ggml::find_type(id);
  return type != nullptr && type->has_codec() ? type->name : nullptr;
}

// QuantizerSpec::ggml_type ids fake quantization accepts: every codec but f32 (which would not quantize);
// f16 and bf16 are the Q4_K_M mix's fallbacks (trainers/gguf_qat.h). The types that encode only with an
// importance matrix (IQ2_XXS, IQ2_XS, IQ1_S) are accepted here, for presets of a run with
// quantization.imatrix; their forward refuses without one (fake_quant_ggml.h), and no scheme names them.
bool is_fake_quantizable(int id) { return ggml_type_name_or_null(id) != nullptr && id != ggml::kGgmlF32; }

std::string fake_quantizable_names() {
  std::string names;
  for (const ggml::BlockType& type : ggml::all_block_types()) {
    if (is_fake_quantizable(type.ggml_type_id)) names += (names.empty() ? "" : ", ") + lower(type.name);
  }
  return names;
}

void validate_ggml_block(const QuantizerSpec& spec, const std::string& context) {
  if (!is_fake_quantizable(spec.ggml_type)) {
    throw std::invalid_argument(context + ": ggml type " + std::to_string(spec.ggml_type) +
                                " is not a GGUF block type qforge can fake-quantize (" + fake_quantizable_names() + ")");
  }
  const char* name = ggml_type_name_or_null(spec.ggml_type);
  if (spec.dynamic_per_token || spec.estimator != Estimator::kSte || spec.block_scales.enabled()) {
    throw std::invalid_argument(context + ": GGUF block type " + name +
                                " takes no per-token scales, learned scales or two-level scales (the block layout fixes them)");
  }
}

}  // namespace

ElementFormat element_format_from_name(const std::string& name) {
  if (const ElementFormatTraits* row = find_element_format(name)) return row->format;
  throw std::invalid_argument("unknown element format '" + name + "' (accepted: " + element_format_names() + ")");
}
std::string element_format_name(ElementFormat format) { return element_format_traits(format).name; }
ScaleDtype scale_dtype_from_name(const std::string& name) { return from_name(kScaleDtypes, name, "scale dtype"); }
std::string scale_dtype_name(ScaleDtype dtype) { return to_name(kScaleDtypes, dtype); }
Estimator estimator_from_name(const std::string& name) { return from_name(kEstimators, name, "estimator"); }
std::string estimator_name(Estimator estimator) { return to_name(kEstimators, estimator); }
ObserverKind observer_from_name(const std::string& name) { return from_name(kObservers, name, "observer"); }
std::string observer_name(ObserverKind kind) { return to_name(kObservers, kind); }

int element_bits(const QuantizerSpec& spec) {
  const ElementFormatTraits& row = element_format_traits(spec.format);
  return row.is_integer() ? spec.bits : row.bits;
}

double QuantizerSpec::bits_per_element() const {
  if (is_ggml_block()) {
    const ggml::BlockType& type = ggml::block_type(ggml_type);
    return 8.0 * static_cast<double>(type.block_bytes) / static_cast<double>(type.block_elements);
  }
  const double nominal = element_format_traits(format).nominal_bits;
  double bits = nominal > 0.0 ? nominal : element_bits(*this);
  if (!is_scaled(format) || granularity.kind != Granularity::kPerGroup || dynamic_per_token) return bits;
  const double group = static_cast<double>(granularity.group_size);
  double scale_bits = scale_dtype_bits(scale_dtype);
  if (block_scales.enabled()) {
    scale_bits = block_scales.scale_bits +
                 scale_dtype_bits(block_scales.super_scale_dtype) / static_cast<double>(block_scales.groups_per_super_block);
  }
  // An asymmetric zero point is one integer code of the element width (QuantParams::zero_points),
  // with or without two-level scales (those compress the scales only).
  if (format == ElementFormat::kInt && !symmetric) scale_bits += bits;
  return bits + scale_bits / group;
}

std::string QuantizerSpec::describe() const {
  std::ostringstream out;
  if (is_ggml_block()) {
    const char* name = ggml_type_name_or_null(ggml_type);
    return std::string("gguf ") + (name ? name : "?") + " ste";
  }
  if (format == ElementFormat::kInt) out << "int" << bits << (symmetric ? " sym" : " asym");
  else out << element_format_name(format);
  if (!is_scaled(format)) return out.str();
  if (dynamic_per_token) out << " per-token";
  if (outlier_threshold > 0.0f) out << " outliers>=" << outlier_threshold << "-fp16";
  else if (granularity.kind == Granularity::kPerTensor) out << " per-tensor";
  else if (granularity.kind == Granularity::kPerChannel) out << " per-channel(" << granularity.axis << ")";
  else out << " g" << granularity.group_size;
  if (scale_dtype != ScaleDtype::kFp32) out << " " << scale_dtype_name(scale_dtype) << "-scales";
  if (block_scales.enabled()) out << " dq" << block_scales.scale_bits;
  out << " " << estimator_name(estimator) << " " << observer_name(observer.kind);
  return out.str();
}

void validate(const QuantizerSpec& spec, const std::string& context) {
  if (spec.is_ggml_block()) return validate_ggml_block(spec, context);
  auto fail = [&](const std::string& why) { throw std::invalid_argument(context + ": " + why + " (" + spec.describe() + ")"); };
  if (spec.format == ElementFormat::kInt && (spec.bits < kIntMinBits || spec.bits > kIntMaxBits)) {
    fail("integer formats need " + std::to_string(kIntMinBits) + ".." + std::to_string(kIntMaxBits) + " bits, got " +
         std::to_string(spec.bits));
  }
  const bool is_int = spec.format == ElementFormat::kInt;
  if (spec.estimator == Estimator::kLsqPlus && !(is_int && !spec.symmetric)) fail("LSQ+ needs an asymmetric integer format");
  if ((spec.estimator == Estimator::kLsq || spec.estimator == Estimator::kPact) && !is_scaled(spec.format)) {
    fail("learnable scales need a scaled format");
  }
  if (spec.estimator == Estimator::kPact && (!is_int || spec.granularity.kind != Granularity::kPerTensor || spec.dynamic_per_token)) {
    fail("PACT learns one clipping level: use a per-tensor integer format");
  }
  if (spec.estimator == Estimator::kSeq && !((is_int && spec.symmetric) || spec.format == ElementFormat::kTernary)) {
    fail("SEQ (ParetoQ) has balanced levels without a zero point (int<bits> sym) or ternary levels: use a "
         "symmetric integer format or ternary");
  }
  if (spec.estimator == Estimator::kSeq && spec.block_scales.enabled()) {
    fail("SEQ learns its clipping levels alpha, which two-level scales cannot store");
  }
  if (spec.dynamic_per_token && spec.estimator != Estimator::kSte && spec.estimator != Estimator::kClippedSte) {
    fail("dynamic per-token scales are recomputed every step and cannot be learned");
  }
  if (spec.outlier_threshold != 0.0f && !(spec.outlier_threshold > 0.0f && std::isfinite(spec.outlier_threshold))) {
    fail("the outlier threshold must be a positive finite number (0 = off)");
  }
  if (spec.outlier_threshold > 0.0f && !spec.dynamic_per_token) {
    fail("outlier columns (LLM.int8()) are found in every forward: they need dynamic per-token scales (token)");
  }
  if (spec.granularity.kind == Granularity::kPerGroup && spec.granularity.group_size <= 0) {
    fail("group size must be positive");
  }
  if (spec.granularity.kind == Granularity::kPerChannel && spec.granularity.axis < 0) {
    fail("per-channel axis must be >= 0, got " + std::to_string(spec.granularity.axis));
  }
  if (spec.block_scales.scale_bits < 0) fail("two-level scale bits must be >= 0 (0 = off)");
  if (spec.block_scales.enabled()) {
    if (spec.granularity.kind != Granularity::kPerGroup || spec.dynamic_per_token) {
      fail("two-level scales need per-group scales");
    }
    if (spec.block_scales.scale_bits > 8 || spec.block_scales.groups_per_super_block <= 0) {
      fail("two-level scales need 1..8 scale bits and a positive super-block size");
    }
  }
  if (spec.observer.percentile <= 0.0 || spec.observer.percentile > 100.0) fail("percentile must be in (0, 100]");
  if (spec.observer.averaging_constant <= 0.0f || spec.observer.averaging_constant > 1.0f) {
    fail("averaging constant must be in (0, 1]");
  }
}

QuantizerSpec parse_scheme(const std::string& text) {
  QuantizerSpec spec;
  spec.granularity = GranularitySpec::per_channel(0);
  const std::vector<std::string> tokens = split_scheme(text);
  if (tokens[0].empty()) throw std::invalid_argument("scheme '" + text + "': empty format (expected e.g. int4, nf4)");
  const std::string& head = tokens[0];
  if (const ggml::BlockType* type = find_block_scheme(head)) {
    if (tokens.size() > 1) {
      throw std::invalid_argument("scheme '" + text + "': GGUF block type " + head +
                                  " takes no modifiers (its block layout fixes groups, scales and rounding)");
    }
    QuantizerSpec block;
    block.ggml_type = type->ggml_type_id;
    return block;
  }
  if (head.rfind("int", 0) == 0 && head.size() > 3) {
    spec.format = ElementFormat::kInt;
    spec.bits = parse_int(head.substr(3), head, text);
  } else {
    spec.format = element_format_from_name(head);
    if (spec.format == ElementFormat::kInt) throw std::invalid_argument("scheme '" + text + "': say int<bits>, e.g. int4");
  }
  for (size_t i = 1; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    if (apply_modifier(spec, token, text)) continue;
    bool matched = false;
    for (const auto& [name, value] : kEstimators) {
      if (token == name) spec.estimator = value, matched = true;
    }
    for (const auto& [name, value] : kObservers) {
      if (token == name) spec.observer.kind = value, matched = true;
    }
    if (!matched) {
      throw std::invalid_argument("scheme '" + text + "': unknown token '" + token +
                                  "' (expected sym, asym, tensor, channel[N], g<N>, token, outlier<t>, scale_fp16, "
                                  "scale_bf16, dq<bits>, an estimator or an observer)");
    }
  }
  if (spec.format != ElementFormat::kInt && !spec.symmetric) {
    // `symmetric` is ignored for float formats in a spec; in a scheme string "asym" would be a silent no-op.
    throw std::invalid_argument("scheme '" + text + "': zero points (asym) need an integer format");
  }
  validate(spec, "scheme '" + text + "'");
  return spec;
}

std::string with_group_size(const std::string& scheme, int64_t group_size) {
  const std::string what = "--group-size " + std::to_string(group_size) + ": scheme '" + scheme + "'";
  if (parse_scheme(scheme).is_ggml_block()) throw std::invalid_argument(what + " is a GGUF block type (its blocks fix the groups)");
  const std::vector<std::string> tokens = split_scheme(scheme);
  for (size_t i = 1; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    const bool group = t.size() > 1 && t[0] == 'g' && std::isdigit(static_cast<unsigned char>(t[1]));
    if (group || t == "tensor" || t == "token" || t.rfind("channel", 0) == 0)
      throw std::invalid_argument(what + " already names its granularity (" + t + ")");
  }
  if (group_size <= 0) throw std::invalid_argument(what + ": the group size must be positive");
  const std::string grouped = scheme + ":g" + std::to_string(group_size);
  (void)parse_scheme(grouped);  // validates, e.g. groups on a format without scales
  return grouped;
}

std::string outlier_token(float threshold) {
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, threshold);
  if (error != std::errc()) throw std::invalid_argument("outlier_token: cannot print the threshold");
  return "outlier" + std::string(buffer, end);
}

std::string gguf_block_scheme_names() {
  std::string names;
  for (const ggml::BlockType& type : ggml::all_block_types()) {
    if (is_block_scheme(type)) names += (names.empty() ? "" : ", ") + lower(type.name);
  }
  return names;
}

std::string scheme_help() {
  std::string observers;
  for (const auto& [name, value] : kObservers) {
    if (!observers.empty()) observers += '|';
    observers += name;
  }
  std::string help = "Scheme: format then ':'-separated modifiers. Formats ";
  help += scheme_format_names();
  help += "; modifiers sym|asym, tensor|channel|channel<axis>|g<size>|token, outlier<t> (with token: input "
          "columns with any |x| >= t kept in FP16, LLM.int8()), scale_fp16|scale_bf16, dq<bits> (two-level scales), "
          "observer ";
  help += observers;
  help += ". Example: int4:g32:asym:mse. GGUF block types (format-exact, no modifiers): ";
  help += gguf_block_scheme_names();
  return help;
}

}  // namespace qforge::fakequant
