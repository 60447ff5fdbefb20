#include "common/config/violations.h"

#include <cctype>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace asb::config {

namespace {

// protobuf's JSON mapping accepts snake_case and lowerCamelCase keys; a source map holds
// whichever the file used.
std::string Camel(const std::string& path) {
  std::string out;
  bool up = false;
  for (char c : path) {
    if (c == '_') {
      up = true;
      continue;
    }
    out.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    up = false;
  }
  return out;
}

}  // namespace

Violations::Violations(std::string file, const SourceMap* lines)
    : file_(std::move(file)), lines_(lines) {}

void Violations::Add(const std::string& path, const std::string& what) {
  if (file_.empty()) {
    items_.push_back(absl::StrCat(path, ": ", what));
  } else if (const int line = Line(path); line > 0) {
    items_.push_back(absl::StrCat(file_, ":", line, ": ", path, ": ", what));
  } else {
    items_.push_back(absl::StrCat(file_, ": ", path, ": ", what));
  }
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

bool Violations::Present(const std::string& path) const { return ExactLine(path) > 0; }

int Violations::ExactLine(const std::string& path) const {
  if (lines_ == nullptr) {
    return 0;
  }
  if (auto it = lines_->find(path); it != lines_->end()) {
    return it->second;
  }
  if (auto it = lines_->find(Camel(path)); it != lines_->end()) {
    return it->second;
  }
  return 0;
}

int Violations::Line(std::string path) const {
  if (lines_ == nullptr) {
    return 0;
  }
  while (!path.empty()) {
    if (const int line = ExactLine(path); line > 0) {
      return line;
    }
    const std::size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos) {
      break;
    }
    path.resize(cut);
  }
  return 0;
}

absl::Status Violations::ToStatus(const std::string& context) const {
  if (items_.empty()) {
    return absl::OkStatus();
  }
  std::string joined = absl::StrJoin(items_, "; ");
  return absl::InvalidArgumentError(context.empty() ? joined : context + ": " + joined);
}

}  // namespace asb::config
