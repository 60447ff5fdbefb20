#include "services/notify/tree_head_relay.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace asb::notify {
namespace {

constexpr char kLatestKey[] = "latest";

}  // namespace

absl::Status TreeHeadRelay::Load() {
  std::string value;
  absl::Status s = store_->Get(kTreeHeadsColumnFamily, kLatestKey, &value);
  if (absl::IsNotFound(s)) {
    return absl::OkStatus();
  }
  if (!s.ok()) {
    return s;
  }
  asb::v1::SignedTreeHead sth;
  if (!sth.ParseFromString(value)) {
    return absl::DataLossError("notify tree_heads/latest: unparsable");
  }
  latest_ = sth;
  pending_size_ = sth.tree_size();
  return absl::OkStatus();
}

absl::Status TreeHeadRelay::Apply(const asb::v1::Envelope& envelope, store::Batch* batch) {
  if (!envelope.has_tree_head()) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit/tree_heads record ", envelope.seq(), ": no tree head"));
  }
  const asb::v1::SignedTreeHead& sth = envelope.tree_head();
  if (sth.tree_size() <= pending_size_) {
    return absl::OkStatus();
  }
  pending_size_ = sth.tree_size();
  batch->Put(kTreeHeadsColumnFamily, kLatestKey, sth.SerializeAsString());
  batch->OnCommit([this, sth] {
    if (!latest_.has_value() || latest_->tree_size() < sth.tree_size()) {
      latest_ = sth;
    }
  });
  batch->OnAbort([this] { pending_size_ = latest_.has_value() ? latest_->tree_size() : 0; });
  return absl::OkStatus();
}

}  // namespace asb::notify
