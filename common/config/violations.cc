#include "common/config/violations.h"

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"

namespace asb::config {

void Violations::Add(const std::string& path, const std::string& what) {
  items_.push_back(path + ": " + what);
}

bool Violations::Required(const std::string& path, const std::string& value) {
  if (value.empty()) {
    Add(path, "required");
    return false;
  }
  return true;
}

bool Violations::Endpoint(const std::string& path, const std::string& value) {
  if (!Required(path, value)) {
    return false;
  }
  if (!absl::StartsWith(value, "tcp://") && !absl::StartsWith(value, "ipc://") &&
      !absl::StartsWith(value, "inproc://")) {
    Add(path, "must start with tcp:// or ipc:// (got '" + value + "')");
    return false;
  }
  return true;
}

absl::Status Violations::ToStatus(const std::string& context) const {
  if (items_.empty()) {
    return absl::OkStatus();
  }
  std::string joined = absl::StrJoin(items_, "; ");
  return absl::InvalidArgumentError(context.empty() ? joined : context + ": " + joined);
}

}  // namespace asb::config
