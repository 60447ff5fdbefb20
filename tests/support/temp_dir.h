#pragma once

#include <string>

namespace asb::testing {

// A fresh directory under $TEST_TMPDIR or /tmp, removed (recursively) on destruction.
// Kept short so ipc:// paths stay under the 107-byte socket path limit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace asb::testing
