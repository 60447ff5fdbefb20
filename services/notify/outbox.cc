#include "services/notify/outbox.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/stream/consumer.h"
#include "google/protobuf/timestamp.pb.h"

namespace asb::notify {
namespace {

constexpr char kOutbox[] = "outbox";
constexpr char kCursors[] = "cursors";
constexpr char kHeadPrefix[] = "head/";
constexpr char kAckedPrefix[] = "acked/";
constexpr char kComponent[] = "notify";
// The agency of the hub's own daemons (isp.proto: Principal.agency).
constexpr char kHubAgency[] = "hub";

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("notify");
  return lg;
}

std::string OutboxPrefix(const std::string& agency) {
  std::string key = agency;
  key.push_back('\0');
  return key;
}

std::string OutboxKey(const std::string& agency, uint64_t seq) {
  return OutboxPrefix(agency) + store::EncodeSeq(seq);
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t nanos = absl::ToUnixNanos(t);
  int64_t seconds = nanos / 1000000000;
  int64_t rem = nanos % 1000000000;
  if (rem < 0) {
    rem += 1000000000;
    --seconds;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(rem));
}

}  // namespace

std::vector<std::string> NotifyColumnFamilies() {
  return {stream::LogColumnFamily("audit"), kOutbox, kCursors, stream::kOffsetsColumnFamily};
}

Outbox::Outbox(store::Store* store, stream::Log* audit, std::function<absl::Time()> clock)
    : store_(store), audit_(audit), clock_(std::move(clock)) {}

absl::Status Outbox::Load() {
  cursors_.clear();
  auto it = store_->NewIterator(kCursors);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const std::string_view value = it->value().ToStringView();
    if (value.size() != 8) {
      return absl::DataLossError("notify cursors: malformed value");
    }
    const uint64_t seq = store::DecodeSeq(value);
    if (key.starts_with(kHeadPrefix)) {
      Cursor& c = cursors_[std::string(key.substr(sizeof(kHeadPrefix) - 1))];
      c.head = c.pending_head = seq;
    } else if (key.starts_with(kAckedPrefix)) {
      Cursor& c = cursors_[std::string(key.substr(sizeof(kAckedPrefix) - 1))];
      c.acked = c.pending_acked = seq;
    } else {
      return absl::DataLossError("notify cursors: unknown key");
    }
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "notify cursors");
  }
  for (const auto& [agency, c] : cursors_) {
    if (c.acked > c.head) {
      return absl::DataLossError(absl::StrCat("notify cursors: agency ", agency, " acked ", c.acked,
                                              " beyond head ", c.head));
    }
  }
  SPDLOG_LOGGER_INFO(Logger(), "outboxes loaded for {} agencies", cursors_.size());
  return absl::OkStatus();
}

void Outbox::SetPolicy(std::shared_ptr<const policy::Policy> policy) {
  policy_ = std::move(policy);
}

const Outbox::Cursor* Outbox::Find(const std::string& agency) const {
  auto it = cursors_.find(agency);
  return it == cursors_.end() ? nullptr : &it->second;
}

uint64_t Outbox::head(const std::string& agency) const {
  const Cursor* c = Find(agency);
  return c == nullptr ? 0 : c->head;
}

uint64_t Outbox::acked(const std::string& agency) const {
  const Cursor* c = Find(agency);
  return c == nullptr ? 0 : c->acked;
}

bool Outbox::HasPending(const std::string& agency) const {
  const Cursor* c = Find(agency);
  return c != nullptr && c->head > c->acked;
}

void Outbox::Record(asb::v1::AuditRecord record, store::Batch* batch) {
  SetTimestamp(clock_(), record.mutable_at());
  record.set_component(kComponent);
  asb::v1::Envelope envelope;
  *envelope.mutable_audit() = std::move(record);
  audit_->Append(batch, &envelope);
}

absl::Status Outbox::ApplyDisclosure(const asb::v1::Envelope& envelope, store::Batch* batch) {
  if (!envelope.has_disclosure()) {
    return absl::InvalidArgumentError(
        absl::StrCat("disclosures record ", envelope.seq(), ": no disclosure payload"));
  }
  const asb::v1::Disclosure& d = envelope.disclosure();
  if (d.agency().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("disclosures record ", envelope.seq(), ": no agency"));
  }
  if (policy_ == nullptr) {
    return absl::UnavailableError("notify: no ISP loaded yet");
  }
  const policy::EventContext context{d.event_type(), d.order_type()};
  std::string rule_id;
  for (const policy::Policy::Notification& n : policy_->NotificationsFor(context)) {
    if (n.agency == d.agency()) {
      rule_id = n.rule_id;
      break;
    }
  }
  if (rule_id.empty()) {
    return absl::OkStatus();  // shared with the agency, but not alert-worthy
  }

  const std::string& agency = d.agency();
  Cursor& cursor = cursors_[agency];
  const uint64_t seq = ++cursor.pending_head;

  asb::v1::Alert alert;
  alert.set_agency_seq(seq);
  alert.set_agency(agency);
  alert.set_notification_rule(rule_id);
  SetTimestamp(clock_(), alert.mutable_queued_at());
  alert.set_delivery_count(0);
  *alert.mutable_disclosure() = d;
  batch->Put(kOutbox, OutboxKey(agency, seq), alert.SerializeAsString());
  batch->Put(kCursors, kHeadPrefix + agency, store::EncodeSeq(seq));

  // The disclosure is recorded in the same batch as the alert that makes it.
  asb::v1::AuditRecord record;
  record.set_kind(asb::v1::AUDIT_KIND_DISCLOSURE);
  record.set_actor(kComponent);
  record.set_actor_agency(kHubAgency);
  record.set_recipient_agency(agency);
  record.set_case_id(d.case_id());
  *record.mutable_subject_keys() = d.subject_keys();
  record.set_event_type(d.event_type());
  *record.mutable_justifications() = d.justifications();
  record.set_isp_version(d.isp_version());
  for (const asb::v1::FieldDecision& f : d.fields()) {
    record.add_fields(f.path());
  }
  record.set_ref_seq(seq);
  record.set_detail(absl::StrCat("alert ", seq, " queued by notification rule ", rule_id));
  Record(std::move(record), batch);

  batch->OnCommit([this, agency, seq] {
    Cursor& c = cursors_[agency];
    c.head = std::max(c.head, seq);
  });
  batch->OnAbort([this, agency] {
    Cursor& c = cursors_[agency];
    c.pending_head = c.head;
  });
  return absl::OkStatus();
}

absl::StatusOr<asb::v1::PullAlertsResponse> Outbox::Pull(const std::string& principal,
                                                         const std::string& agency,
                                                         const asb::v1::PullAlertsRequest& request,
                                                         store::Batch* batch) {
  if (agency.empty()) {
    return absl::InvalidArgumentError("pull: no agency");
  }
  const uint32_t max =
      request.max() == 0 ? kDefaultPull : std::min<uint32_t>(request.max(), kMaxPull);
  const uint64_t head_seq = head(agency);
  const uint64_t acked_seq = acked(agency);
  const bool replay = request.has_from_seq();
  const uint64_t from = replay ? std::max<uint64_t>(request.from_seq(), 1) : acked_seq + 1;

  asb::v1::PullAlertsResponse response;
  response.set_head(head_seq);
  response.set_acked_through(acked_seq);
  if (from > head_seq) {
    return response;
  }

  const std::string prefix = OutboxPrefix(agency);
  auto it = store_->NewIterator(kOutbox);
  for (it->Seek(OutboxKey(agency, from));
       it->Valid() && static_cast<uint32_t>(response.alerts_size()) < max; it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (!key.starts_with(prefix) || key.size() != prefix.size() + 8) {
      break;
    }
    if (store::DecodeSeq(key.substr(prefix.size())) > head_seq) {
      break;
    }
    asb::v1::Alert* alert = response.add_alerts();
    if (!alert->ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(absl::StrCat("outbox of ", agency, ": unparsable alert"));
    }
    alert->set_delivery_count(alert->delivery_count() + 1);
    batch->Put(kOutbox, key, alert->SerializeAsString());
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "outbox read");
  }
  if (response.alerts().empty()) {
    return response;
  }

  const uint64_t first = response.alerts(0).agency_seq();
  const uint64_t last = response.alerts(response.alerts_size() - 1).agency_seq();
  asb::v1::AuditRecord record;
  record.set_kind(asb::v1::AUDIT_KIND_DELIVERY);
  record.set_actor(principal);
  record.set_actor_agency(agency);
  record.set_recipient_agency(agency);
  // One case if they all concern one; the subject keys of all of them (for subject access).
  bool one_case = true;
  absl::flat_hash_set<std::string> seen;
  for (const asb::v1::Alert& a : response.alerts()) {
    one_case = one_case && a.disclosure().case_id() == response.alerts(0).disclosure().case_id();
    for (const std::string& key : a.disclosure().subject_keys()) {
      if (seen.insert(key).second) {
        record.add_subject_keys(key);
      }
    }
  }
  if (one_case) {
    record.set_case_id(response.alerts(0).disclosure().case_id());
    record.set_event_type(response.alerts_size() == 1 ? response.alerts(0).disclosure().event_type()
                                                      : asb::v1::EVENT_TYPE_UNSPECIFIED);
  }
  record.set_ref_seq(first);
  record.set_detail(absl::StrCat("alerts ", first, "..", last, " (", response.alerts_size(),
                                 ") delivered", replay ? " on replay" : ""));
  Record(std::move(record), batch);
  return response;
}

absl::StatusOr<asb::v1::AckAlertsResponse> Outbox::Ack(const std::string& principal,
                                                       const std::string& agency,
                                                       uint64_t through_seq, store::Batch* batch) {
  if (agency.empty()) {
    return absl::InvalidArgumentError("ack: no agency");
  }
  const uint64_t head_seq = head(agency);
  if (through_seq > head_seq) {
    return absl::OutOfRangeError(
        absl::StrCat("through_seq ", through_seq, " is beyond the newest alert (", head_seq, ")"));
  }
  Cursor& cursor = cursors_[agency];
  const uint64_t before = cursor.pending_acked;
  const uint64_t after = std::max(before, through_seq);
  if (after > before) {
    cursor.pending_acked = after;
    batch->Put(kCursors, kAckedPrefix + agency, store::EncodeSeq(after));
    batch->OnCommit([this, agency, after] {
      Cursor& c = cursors_[agency];
      c.acked = std::max(c.acked, after);
    });
    batch->OnAbort([this, agency] {
      Cursor& c = cursors_[agency];
      c.pending_acked = c.acked;
    });
  }

  asb::v1::AuditRecord record;
  record.set_kind(asb::v1::AUDIT_KIND_ACKNOWLEDGEMENT);
  record.set_actor(principal);
  record.set_actor_agency(agency);
  record.set_ref_seq(through_seq);
  record.set_detail(after > before ? absl::StrCat("acknowledged alerts ", before + 1, "..", after)
                                   : absl::StrCat("acknowledged through ", through_seq,
                                                  "; cursor already at ", before));
  Record(std::move(record), batch);

  asb::v1::AckAlertsResponse response;
  response.set_acked_through(after);
  return response;
}

}  // namespace asb::notify
