#pragma once

// Loading configuration files into protos (Envoy-lite): YAML → JSON → protobuf's JSON mapping,
// or JSON directly, chosen by the file's extension. Unknown fields are errors. Before parsing,
// ${VAR} and ${VAR:-default} are replaced from the environment; an unset ${VAR} with no default
// is an error.

#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace asb::config {

// Where each value came from: JSON-style path ("rules[3].fields[0].path") → 1-based line.
// Only filled for YAML files.
using SourceMap = std::map<std::string, int>;

// Loads `path` (.yaml, .yml or .json) into `out`. On failure returns kInvalidArgument (bad
// content, naming the file and, where known, the line) or kNotFound (no such file).
absl::Status LoadConfigFile(const std::string& path, google::protobuf::Message* out,
                            SourceMap* lines = nullptr);

// Parses YAML text into `out` the same way. `name` is used in error messages.
absl::Status ParseYaml(std::string_view text, const std::string& name,
                       google::protobuf::Message* out, SourceMap* lines = nullptr);

// Converts YAML text to JSON text: plain scalars true/false, null and numbers become typed JSON
// values, quoted scalars stay strings. Exposed for tests.
absl::Status YamlToJson(std::string_view text, std::string* json, SourceMap* lines = nullptr);

// Parses one JSON document (protobuf JSON mapping, unknown fields rejected) into `out`.
absl::Status ParseJson(std::string_view json, google::protobuf::Message* out);

// Prints `message` as one line of JSON (protobuf JSON mapping, original field names are
// lowerCamelCase; enums as names).
std::string ToJson(const google::protobuf::Message& message);

// Replaces ${VAR} and ${VAR:-default}. Returns kInvalidArgument naming the variable and line.
absl::Status ExpandEnv(std::string_view text, std::string* out);

// Reads a whole file. kNotFound if it does not exist, kUnavailable on a read error.
absl::Status ReadFile(const std::string& path, std::string* out);

}  // namespace asb::config
