#pragma once

// Refusals on the access log without letting anyone grow it at will. Each refused attempt — a
// handshake from an unknown key, a malformed request, a request without the role — is counted;
// per (kind, principal or key, reason) the first one of an interval is recorded at once, and the
// rest of that interval become ONE record with their count and first and last time
// (AuditRecord.refusals) when the interval ends. Refusals of unauthenticated sources (unknown
// keys, failed handshakes, principals no longer in the ISP: anyone can make up new ones) share a
// budget of records per interval; beyond it they fold into one record per kind (naming one source
// as an example).
// So per interval at most 2 × budget + one per kind of records come from unauthenticated peers.
//
// Owned by the runtime; single-threaded (the loop).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "asb/v1/audit.pb.h"

namespace asb::daemon {

class RefusalRecorder {
 public:
  struct Options {
    // ServerConfig.refusal_interval_seconds (default 60).
    absl::Duration interval = absl::Seconds(60);
    // ServerConfig.max_unauthenticated_refusal_records (default 20).
    uint32_t max_unauthenticated = 20;
  };
  static constexpr uint32_t kDefaultIntervalSeconds = 60;
  static constexpr uint32_t kDefaultMaxUnauthenticated = 20;
  // Distinct unauthenticated sources counted per interval at most (the count says "at least").
  static constexpr std::size_t kMaxDistinctCounted = 100000;

  // Writes records to the access log, durably, in one batch.
  using WriteFn = std::function<void(std::vector<asb::v1::AuditRecord>)>;

  RefusalRecorder(Options options, std::function<absl::Time()> clock, WriteFn write);

  // One refused attempt. `record` is what would be recorded for it alone (kind, actor, detail
  // …); `source` is the principal's name or the key's prefix; `reason` what is refused, without
  // the parts that vary per attempt (a peer address); `authenticated` false for a source
  // nobody vouches for.
  void Refuse(asb::v1::AuditRecord record, const std::string& source, const std::string& reason,
              bool authenticated);

  // Records what the interval folded (call when it ends, and at shutdown) and starts a new one.
  void Flush();

  // Every refused attempt so far; the records written for them.
  uint64_t refusals() const { return refusals_; }
  uint64_t records() const { return records_; }
  const Options& options() const { return options_; }

 private:
  struct Run {
    asb::v1::AuditRecord first;  // as recorded at once
    uint64_t folded = 0;         // refusals after it
    absl::Time first_at;
    absl::Time last_at;
  };
  struct Overflow {
    asb::v1::AuditRecord sample;
    uint64_t count = 0;
    absl::flat_hash_set<std::string> sources;
    absl::Time first_at;
    absl::Time last_at;
  };

  Options options_;
  std::function<absl::Time()> clock_;
  WriteFn write_;
  std::map<std::string, Run> runs_;       // by kind, source and reason
  std::map<int, Overflow> overflow_;      // by kind
  uint32_t unauthenticated_records_ = 0;  // this interval
  uint64_t refusals_ = 0;
  uint64_t records_ = 0;
};

}  // namespace asb::daemon
