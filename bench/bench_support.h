#pragma once

// What the benchmarks that drive a daemon's handler share: a fresh store in a scratch directory
// (sync off: the fsync is per batch, not what these measure) with the daemon's logs, removed
// when done, and a check that aborts the run on an error (a benchmark has no caller to tell).

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/store/store.h"
#include "common/stream/log.h"

namespace asb::bench {

inline void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, std::string(s.message()).c_str());
    std::abort();
  }
}

// A store of `column_families` under a scratch directory named for `name` and this process.
class ScratchStore {
 public:
  ScratchStore(const std::string& name, std::vector<std::string> column_families)
      : dir_(std::filesystem::temp_directory_path() /
             ("asb-bench-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::StoreOptions options;
    options.path = (dir_ / "db").string();
    options.sync = false;
    options.column_families = std::move(column_families);
    auto store = store::Store::Open(options);
    Check(store.status(), "store");
    store_ = std::move(*store);
  }
  ~ScratchStore() {
    logs_.clear();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  ScratchStore(const ScratchStore&) = delete;
  ScratchStore& operator=(const ScratchStore&) = delete;

  store::Store* store() { return store_.get(); }
  // Opens the daemon's log `stream` (written as `producer`); it lives as long as the store.
  stream::Log* OpenLog(const std::string& stream, const std::string& producer) {
    auto log = stream::Log::Open(store_.get(), stream, producer);
    Check(log.status(), stream.c_str());
    logs_.push_back(std::move(*log));
    return logs_.back().get();
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::vector<std::unique_ptr<stream::Log>> logs_;
};

}  // namespace asb::bench
