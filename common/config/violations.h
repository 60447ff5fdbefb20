#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace asb::config {

// Collects every violation found while validating a config, so that one error reports them
// all: "store.path: required; server.api_bind: must start with tcp:// or ipc://".
class Violations {
 public:
  // Records that `path` violates `what`.
  void Add(const std::string& path, const std::string& what);

  // Helpers for the common checks. Each records a violation and returns false when it fails.
  bool Required(const std::string& path, const std::string& value);
  bool Endpoint(const std::string& path, const std::string& value);

  bool empty() const { return items_.empty(); }
  const std::vector<std::string>& items() const { return items_; }

  // OK if none, else kInvalidArgument with all of them, prefixed by `context` if not empty.
  absl::Status ToStatus(const std::string& context = "") const;

 private:
  std::vector<std::string> items_;
};

}  // namespace asb::config
