#pragma once

// Free space on the file system under a daemon's store. Writers check it before writing so that
// RocksDB itself never meets a full disk: Debian's RocksDB 7.8 aborts the process (an assertion
// in WritableFileWriter) when a WAL append fails with ENOSPC and the write then syncs — fixed
// upstream only in RocksDB 9.1 ("Don't write to WAL after previous WAL write error", #12448).
// Refusing early, while a reserve is left for the WAL, flushes and compactions, keeps the daemon
// up and lets it resume by itself once space returns.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace asb::stream {

// StoreConfig.min_free_mb's default.
inline constexpr uint64_t kDefaultMinFreeBytes = uint64_t{64} << 20;

// Bytes available to unprivileged writers on the file system holding `path` (statvfs f_bavail).
// kUnavailable if it cannot be read.
absl::StatusOr<uint64_t> FreeBytes(const std::string& path);

// OK if at least `min_free_bytes` are free under `path` (always OK for 0). Otherwise
// kUnavailable: "<path>: only X MiB of free space left on its file system (Y MiB are kept free);
// nothing was written, retry later" — retryable, and it names the cause.
absl::Status CheckFreeSpace(const std::string& path, uint64_t min_free_bytes);

}  // namespace asb::stream
