#include "common/stream/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace asb::stream {

absl::StatusOr<uint64_t> FreeBytes(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the free space under ", path, ": ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

absl::Status CheckFreeSpace(const std::string& path, uint64_t min_free_bytes) {
  if (min_free_bytes == 0) {
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> free = FreeBytes(path);
  if (!free.ok()) {
    return free.status();
  }
  if (*free >= min_free_bytes) {
    return absl::OkStatus();
  }
  constexpr double kMiB = 1 << 20;
  return absl::UnavailableError(absl::StrFormat(
      "%s: only %.1f MiB of free space left on its file system (%.0f MiB are kept free); "
      "nothing was written, retry later",
      path, static_cast<double>(*free) / kMiB, static_cast<double>(min_free_bytes) / kMiB));
}

}  // namespace asb::stream
