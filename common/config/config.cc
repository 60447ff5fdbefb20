#include "common/config/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace asb::config {
namespace {

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

bool IsYamlNull(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

bool IsYamlBool(const std::string& s, bool* value) {
  if (s == "true" || s == "True" || s == "TRUE") {
    *value = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    *value = false;
    return true;
  }
  return false;
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? — by hand: std::regex recurses once per
// character and overflows the stack on a long scalar (found by tests/fuzz/fuzz_config).
bool IsJsonNumber(const std::string& s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  auto digits = [&] {
    const std::size_t start = i;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
    return i > start;
  };
  if (i < n && s[i] == '-') {
    ++i;
  }
  if (i < n && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digits()) {
      return false;
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (!digits()) {
      return false;
    }
  }
  return i == n;
}

// Bounds on the JSON a YAML document may expand to. Aliases (*a) repeat a node wherever they
// appear, so a few lines of nested aliases would otherwise expand to gigabytes ("billion
// laughs", found by tests/fuzz/fuzz_config); the budget counts the JSON written, the paths
// recorded for line numbers and kNodeCost per node. No config is near either bound (the ISP is
// ~30 kB, 8 levels, a few thousand nodes; the bounds allow some 60,000).
constexpr std::size_t kMaxJsonBytes = 4 << 20;
constexpr std::size_t kNodeCost = 64;
constexpr int kMaxDepth = 64;

struct EmitBudget {
  std::size_t bytes = 0;  // JSON written + path bytes recorded
};

// `line` (1-based) is recorded for `path`: a map entry's is its key's line, so that a block value
// ("server:" then its fields on the lines below) is found where its key is.
void Emit(const YAML::Node& node, const std::string& path, int line, int depth, EmitBudget* budget,
          std::string* out, SourceMap* lines) {
  if (depth > kMaxDepth) {
    throw YAML::ParserException(node.Mark(),
                                absl::StrCat("nested deeper than ", kMaxDepth, " levels"));
  }
  budget->bytes += path.size() + kNodeCost;
  if (out->size() + budget->bytes > kMaxJsonBytes) {
    throw YAML::ParserException(node.Mark(),
                                absl::StrCat("document expands to more than ", kMaxJsonBytes >> 20,
                                             " MiB (aliases repeated too often?)"));
  }
  if (lines != nullptr && !path.empty()) {
    (*lines)[path] = line;
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out->append("null");
      return;
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") {  // quoted: always a string
        AppendJsonString(s, out);
        return;
      }
      bool b;
      if (IsYamlNull(s)) {
        out->append("null");
      } else if (IsYamlBool(s, &b)) {
        out->append(b ? "true" : "false");
      } else if (IsJsonNumber(s)) {
        out->append(s);
      } else {
        AppendJsonString(s, out);
      }
      return;
    }
    case YAML::NodeType::Sequence: {
      out->push_back('[');
      std::size_t i = 0;
      for (const YAML::Node& child : node) {  // node[i] is slower (a lookup per element)
        if (i > 0) {
          out->push_back(',');
        }
        Emit(child, absl::StrCat(path, "[", i, "]"), child.Mark().line + 1, depth + 1, budget, out,
             lines);
        ++i;
      }
      out->push_back(']');
      return;
    }
    case YAML::NodeType::Map: {
      out->push_back('{');
      bool first = true;
      // yaml-cpp keeps both entries of a repeated key and protobuf's JSON parser would merge
      // them silently: a second "fields:" in a rule must be an error, not half a rule.
      std::map<std::string, int> seen;  // key -> 1-based line
      for (const auto& kv : node) {
        if (!first) {
          out->push_back(',');
        }
        first = false;
        const std::string key = kv.first.as<std::string>();
        const int key_line = kv.first.Mark().line + 1;
        if (auto [it, inserted] = seen.emplace(key, key_line); !inserted) {
          throw YAML::ParserException(
              kv.first.Mark(),
              absl::StrCat("duplicate key '", key, "' (first at line ", it->second, ")"));
        }
        AppendJsonString(key, out);
        out->push_back(':');
        Emit(kv.second, path.empty() ? key : path + "." + key, key_line, depth + 1, budget, out,
             lines);
      }
      out->push_back('}');
      return;
    }
  }
}

// protobuf's JSON errors name a field but not a place ("(store) pathh: Cannot find field.");
// find the line of that key if we can.
std::string Locate(const std::string& message, const SourceMap* lines) {
  if (lines == nullptr) {
    return "";
  }
  auto end = message.find(": Cannot find field");
  if (end == std::string::npos) {
    return "";
  }
  std::string what = message.substr(0, end);
  std::string parent;
  if (!what.empty() && what[0] == '(') {
    auto close = what.find(')');
    if (close != std::string::npos) {
      parent = what.substr(1, close - 1);
      what = what.substr(std::min(close + 2, what.size()));
    }
  }
  std::string full = parent.empty() ? what : parent + "." + what;
  auto exact = lines->find(full);
  if (exact != lines->end()) {
    return absl::StrCat(" (line ", exact->second, ")");
  }
  for (const auto& [path, line] : *lines) {
    if (path == what || absl::EndsWith(path, "." + what)) {
      return absl::StrCat(" (line ", line, ", at '", path, "')");
    }
  }
  return "";
}

absl::Status ParseJsonWithLines(std::string_view json, google::protobuf::Message* out,
                                const SourceMap* lines) {
  google::protobuf::util::JsonParseOptions options;  // unknown fields are errors: keep it so
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), out, options);
  if (!status.ok()) {
    std::string message(status.message().data(), status.message().size());
    return absl::InvalidArgumentError(message + Locate(message, lines));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) {
      return absl::NotFoundError(path + ": no such file");
    }
    return absl::UnavailableError(path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    return absl::UnavailableError(path + ": read failed");
  }
  *out = ss.str();
  return absl::OkStatus();
}

absl::Status ExpandEnv(std::string_view text, std::string* out) {
  out->clear();
  out->reserve(text.size());
  int line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
    }
    if (c != '$' || i + 1 >= text.size() || text[i + 1] != '{') {
      out->push_back(c);
      continue;
    }
    // Only ${NAME} and ${NAME:-default} with NAME = [A-Za-z_][A-Za-z0-9_]* are references;
    // anything else (a Z85 key may contain "${") is literal text.
    std::size_t name_end = i + 2;
    while (name_end < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[name_end])) || text[name_end] == '_')) {
      ++name_end;
    }
    bool is_ref = name_end > i + 2 && !std::isdigit(static_cast<unsigned char>(text[i + 2])) &&
                  name_end < text.size() &&
                  (text[name_end] == '}' || text.substr(name_end, 2) == ":-");
    std::size_t end = is_ref ? text.find('}', name_end) : std::string_view::npos;
    if (end == std::string_view::npos) {
      out->push_back(c);
      continue;
    }
    std::string_view inner = text.substr(i + 2, end - i - 2);
    std::string name(inner);
    std::string fallback;
    bool has_default = false;
    if (auto d = inner.find(":-"); d != std::string_view::npos) {
      name = std::string(inner.substr(0, d));
      fallback = std::string(inner.substr(d + 2));
      has_default = true;
    }
    const char* value = std::getenv(name.c_str());
    if (value != nullptr && *value != '\0') {
      out->append(value);
    } else if (has_default) {
      out->append(fallback);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line, ": environment variable ", name, " is not set"));
    }
    i = end;
  }
  return absl::OkStatus();
}

absl::Status YamlToJson(std::string_view text, std::string* json, SourceMap* lines) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    json->clear();
    if (!root.IsMap()) {
      return absl::InvalidArgumentError("top level must be a mapping of field names to values");
    }
    EmitBudget budget;
    Emit(root, "", root.Mark().line + 1, 0, &budget, json, lines);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", e.mark.line + 1, " column ", e.mark.column + 1, ": ", e.msg));
  }
  return absl::OkStatus();
}

absl::Status ParseYaml(std::string_view text, const std::string& name,
                       google::protobuf::Message* out, SourceMap* lines) {
  std::string expanded;
  if (absl::Status s = ExpandEnv(text, &expanded); !s.ok()) {
    return absl::InvalidArgumentError(name + ": " + std::string(s.message()));
  }
  SourceMap local;
  SourceMap* map = lines != nullptr ? lines : &local;
  std::string json;
  if (absl::Status s = YamlToJson(expanded, &json, map); !s.ok()) {
    return absl::InvalidArgumentError(name + ": " + std::string(s.message()));
  }
  if (absl::Status s = ParseJsonWithLines(json, out, map); !s.ok()) {
    return absl::InvalidArgumentError(name + ": " + std::string(s.message()));
  }
  return absl::OkStatus();
}

absl::Status ParseJson(std::string_view json, google::protobuf::Message* out) {
  return ParseJsonWithLines(json, out, nullptr);
}

absl::Status LoadConfigFile(const std::string& path, google::protobuf::Message* out,
                            SourceMap* lines) {
  std::string text;
  if (absl::Status s = ReadFile(path, &text); !s.ok()) {
    return s;
  }
  out->Clear();
  if (absl::EndsWith(path, ".yaml") || absl::EndsWith(path, ".yml")) {
    return ParseYaml(text, path, out, lines);
  }
  if (absl::EndsWith(path, ".json")) {
    std::string expanded;
    if (absl::Status s = ExpandEnv(text, &expanded); !s.ok()) {
      return absl::InvalidArgumentError(path + ": " + std::string(s.message()));
    }
    if (absl::Status s = ParseJson(expanded, out); !s.ok()) {
      return absl::InvalidArgumentError(path + ": " + std::string(s.message()));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(path + ": unknown config format (use .yaml, .yml or .json)");
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    return "{}";
  }
  return out;
}

}  // namespace asb::config
