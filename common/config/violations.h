#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/config/config.h"

namespace asb::config {

// Collects every violation found while validating a config, so that one error reports them
// all: "store.path: required; server.api_bind: must start with tcp:// or ipc://".
//
// Built with the file it checks (and, for a YAML file, the SourceMap LoadConfigFile filled),
// each violation names the file and the line of its path, or of the nearest enclosing value the
// file has (a missing key has no line of its own): "intake.yaml:7: store.path: required". The
// ISP compiler and every daemon's config check report this way. Not thread-safe.
class Violations {
 public:
  // Paths only (a message from the bus, a config built in memory).
  Violations() = default;
  // Violations of `file`; `lines` (may be null, e.g. for JSON) must outlive this object.
  Violations(std::string file, const SourceMap* lines);

  // Records that `path` violates `what`.
  void Add(const std::string& path, const std::string& what);

  // Helpers for the common checks. Each records a violation and returns false when it fails.
  bool Required(const std::string& path, const std::string& value);
  bool Endpoint(const std::string& path, const std::string& value);

  // True if the file spelled out this key, even with an empty value ("wards: []"), which the
  // parsed message cannot tell from an absent one. False without a source map.
  bool Present(const std::string& path) const;

  // The 1-based line of `path`, or of the nearest enclosing path the file has; 0 if none.
  int Line(std::string path) const;

  bool empty() const { return items_.empty(); }
  // Each violation as it is reported: "[file[:line]: ]path: what".
  const std::vector<std::string>& items() const { return items_; }

  // OK if none, else kInvalidArgument with all of them, prefixed by `context` if not empty.
  absl::Status ToStatus(const std::string& context = "") const;

 private:
  // The line of exactly this path, under either spelling of its keys; 0 if none.
  int ExactLine(const std::string& path) const;

  std::string file_;
  const SourceMap* lines_ = nullptr;
  std::vector<std::string> items_;
};

}  // namespace asb::config
