#include "services/daemon/refusals.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/model/model.h"

namespace asb::daemon {
namespace {

std::string Time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

void SetRefusals(asb::v1::AuditRecord* r, uint64_t count, absl::Time first, absl::Time last,
                 absl::Duration interval) {
  auto* f = r->mutable_refusals();
  f->set_count(count);
  model::ToTimestamp(first, f->mutable_first());
  model::ToTimestamp(last, f->mutable_last());
  f->set_interval_seconds(static_cast<uint32_t>(absl::ToInt64Seconds(interval)));
  model::ToTimestamp(last, r->mutable_at());
}

}  // namespace

RefusalRecorder::RefusalRecorder(Options options, std::function<absl::Time()> clock, WriteFn write)
    : options_(options), clock_(std::move(clock)), write_(std::move(write)) {}

void RefusalRecorder::Refuse(asb::v1::AuditRecord record, const std::string& source,
                             const std::string& reason, bool authenticated) {
  ++refusals_;
  const absl::Time now = clock_();
  const std::string key = absl::StrCat(record.kind(), "\n", source, "\n", reason);
  if (auto it = runs_.find(key); it != runs_.end()) {
    ++it->second.folded;
    it->second.last_at = now;
    return;
  }
  if (!authenticated && unauthenticated_records_ >= options_.max_unauthenticated) {
    Overflow& o = overflow_[record.kind()];
    if (o.count == 0) {
      o.sample = record;
      o.first_at = now;
    }
    ++o.count;
    o.last_at = now;
    if (o.sources.size() < kMaxDistinctCounted) {
      o.sources.insert(source);
    }
    return;
  }
  if (!authenticated) {
    ++unauthenticated_records_;
  }
  Run& run = runs_[key];
  run.first = record;
  run.first_at = run.last_at = now;
  ++records_;
  write_({std::move(record)});
}

void RefusalRecorder::Flush() {
  std::vector<asb::v1::AuditRecord> out;
  for (auto& [key, run] : runs_) {
    if (run.folded == 0) {
      continue;
    }
    asb::v1::AuditRecord r = run.first;
    r.set_detail(absl::StrCat(r.detail(), " (", run.folded, " more refusal",
                              run.folded == 1 ? "" : "s", " like it, ", Time(run.first_at), " to ",
                              Time(run.last_at), ")"));
    SetRefusals(&r, run.folded, run.first_at, run.last_at, options_.interval);
    out.push_back(std::move(r));
  }
  for (auto& [kind, o] : overflow_) {
    asb::v1::AuditRecord r;
    r.set_kind(o.sample.kind());
    r.set_component(o.sample.component());
    r.set_detail(absl::StrCat(
        o.count, " refusal", o.count == 1 ? "" : "s", " of unauthenticated peers (",
        o.sources.size(), o.sources.size() >= kMaxDistinctCounted ? " or more" : "",
        " sources) beyond the budget of ", options_.max_unauthenticated, " records per interval, ",
        Time(o.first_at), " to ", Time(o.last_at), "; e.g. ", o.sample.detail()));
    SetRefusals(&r, o.count, o.first_at, o.last_at, options_.interval);
    r.mutable_refusals()->set_distinct_sources(o.sources.size());
    out.push_back(std::move(r));
  }
  runs_.clear();
  overflow_.clear();
  unauthenticated_records_ = 0;
  if (!out.empty()) {
    records_ += out.size();
    write_(std::move(out));
  }
}

}  // namespace asb::daemon
