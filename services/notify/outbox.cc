#include "services/notify/outbox.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log/log.h"
#include "common/model/model.h"
#include "common/status/macros.h"
#include "common/stream/consumer.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/daemon/store_layout.h"
#include "services/notify/tree_head_relay.h"

namespace asb::notify {
namespace {

constexpr char kOutbox[] = "outbox";
constexpr char kCursors[] = "cursors";
constexpr char kDeadLetters[] = "deadletters";
constexpr char kAckMarks[] = "ackmarks";
constexpr char kDeliveries[] = "deliveries";
// Webhook delivery states (services/notify/webhooks.h: kWebhooksColumnFamily).
constexpr char kWebhooks[] = "webhooks";
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

// Splits "agency\0<8-byte seq>"; false if malformed.
bool SplitKey(std::string_view key, std::string_view* agency, uint64_t* seq) {
  const std::size_t zero = key.find('\0');
  if (zero == std::string_view::npos || key.size() != zero + 1 + 8) {
    return false;
  }
  *agency = key.substr(0, zero);
  *seq = store::DecodeSeq(key.substr(zero + 1));
  return true;
}

// A hand-out's record ("deliveries"): EncodeSeq(delivery_count) + EncodeSeq(last delivered, unix
// microseconds) — written by each pull instead of the whole alert, which is written once.
std::string DeliveryValue(const asb::v1::Alert& alert) {
  return store::EncodeSeq(alert.delivery_count()) +
         store::EncodeSeq(static_cast<uint64_t>(std::max<int64_t>(
             absl::ToUnixMicros(::asb::model::ToTime(alert.last_delivered_at())), 0)));
}

// Sets on `alert` the hand-outs that `value` records; false if `value` is malformed.
bool ApplyDelivery(std::string_view value, asb::v1::Alert* alert) {
  if (value.size() != 16) {
    return false;
  }
  alert->set_delivery_count(static_cast<uint32_t>(store::DecodeSeq(value.substr(0, 8))));
  ::asb::model::ToTimestamp(
      absl::FromUnixMicros(static_cast<int64_t>(store::DecodeSeq(value.substr(8)))),
      alert->mutable_last_delivered_at());
  return true;
}

}  // namespace

std::vector<std::string> NotifyColumnFamilies() {
  return {stream::LogColumnFamily("audit"),
          kOutbox,
          kCursors,
          stream::kOffsetsColumnFamily,
          kDeadLetters,
          kAckMarks,
          kDeliveries,
          kWebhooks,
          kTreeHeadsColumnFamily};
}

store::StoreOptions NotifyStoreLayout() {
  store::StoreOptions layout;
  layout.column_families = NotifyColumnFamilies();
  layout.plaintext_column_families = {kCursors, kAckMarks, kDeliveries, kWebhooks,
                                      kTreeHeadsColumnFamily};
  layout.subject_of = [](std::string_view cf, std::string_view, std::string_view value) {
    using asb::v1::Alert;
    using asb::v1::DeadLetter;
    using asb::v1::Disclosure;
    // A hub notice (HubNotice: no personal data) stays under the master key, so it outlives
    // the case it names: a "case deleted" notice must survive the case's shredding.
    if (cf == kOutbox) {
      if (!daemon::FindBytesField(value,
                                  {Alert::kDisclosureFieldNumber, Disclosure::kNoticeFieldNumber})
               .empty()) {
        return std::string();
      }
      return daemon::FindBytesField(
          value, {Alert::kDisclosureFieldNumber, Disclosure::kCaseIdFieldNumber});
    }
    if (cf == kDeadLetters) {
      if (!daemon::FindBytesField(value,
                                  {DeadLetter::kAlertFieldNumber, Alert::kDisclosureFieldNumber,
                                   Disclosure::kNoticeFieldNumber})
               .empty()) {
        return std::string();
      }
      return daemon::FindBytesField(value,
                                    {DeadLetter::kAlertFieldNumber, Alert::kDisclosureFieldNumber,
                                     Disclosure::kCaseIdFieldNumber});
    }
    return std::string();
  };
  return layout;
}

Outbox::Outbox(store::Store* store, stream::Log* audit, std::function<absl::Time()> clock,
               OutboxOptions options)
    : store_(store), audit_(audit), clock_(std::move(clock)), options_(options) {}

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
  ::asb::model::ToTimestamp(clock_(), record.mutable_at());
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
  // asb-sharing decided, under d.isp_version(), which notification rules make this an alert.
  if (d.notification_rules().empty() || d.notification_rules(0).empty()) {
    // Not an alert: asb-sharing writes none such now (only an alert is disclosed), but a log
    // written by an earlier version holds views without a rule; they were never for a partner.
    return absl::OkStatus();
  }
  const std::string& rule_id = d.notification_rules(0);

  const std::string& agency = d.agency();
  Cursor& cursor = cursors_[agency];
  const uint64_t seq = ++cursor.pending_head;

  asb::v1::Alert alert;
  alert.set_agency_seq(seq);
  alert.set_agency(agency);
  alert.set_notification_rule(rule_id);
  ::asb::model::ToTimestamp(clock_(), alert.mutable_queued_at());
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

  const absl::Time now = clock_();
  const std::string prefix = OutboxPrefix(agency);
  auto it = store_->NewIterator(kOutbox);
  // The alerts' hand-outs, walked beside them (the same keys).
  auto handed = store_->NewIterator(kDeliveries);
  handed->Seek(OutboxKey(agency, from));
  uint32_t scanned = 0;
  for (it->Seek(OutboxKey(agency, from));
       it->Valid() && static_cast<uint32_t>(response.alerts_size()) < max && scanned < kMaxScan;
       it->Next(), ++scanned) {
    const std::string_view key = it->key().ToStringView();
    if (!key.starts_with(prefix) || key.size() != prefix.size() + 8) {
      break;
    }
    const uint64_t seq = store::DecodeSeq(key.substr(prefix.size()));
    if (seq > head_seq) {
      break;
    }
    asb::v1::Alert alert;
    if (!alert.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(absl::StrCat("outbox of ", agency, ": unparsable alert"));
    }
    while (handed->Valid() && handed->key().ToStringView() < key) {
      handed->Next();
    }
    if (handed->Valid() && handed->key().ToStringView() == key &&
        !ApplyDelivery(handed->value().ToStringView(), &alert)) {
      return absl::DataLossError(absl::StrCat("outbox of ", agency, ": malformed delivery record"));
    }
    if (!replay && alert.delivery_count() > 0) {
      const bool in_flight =
          options_.ack_timeout > absl::ZeroDuration() && alert.has_last_delivered_at() &&
          ::asb::model::ToTime(alert.last_delivered_at()) + options_.ack_timeout > now;
      if (in_flight) {
        continue;
      }
      if (options_.max_deliveries > 0 && alert.delivery_count() >= options_.max_deliveries) {
        DeadLetter(std::move(alert), now, batch);
        continue;
      }
    }
    alert.set_delivery_count(alert.delivery_count() + 1);
    ::asb::model::ToTimestamp(now, alert.mutable_last_delivered_at());
    batch->Put(kDeliveries, key, DeliveryValue(alert));
    *response.add_alerts() = std::move(alert);
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "outbox read");
  }
  if (!handed->status().ok()) {
    return store::FromRocks(handed->status(), "deliveries read");
  }
  if (response.alerts().empty()) {
    return response;
  }

  // One DELIVERY record per case (in the order the cases first appear), so an auditor asking
  // about one case finds every hand-out of its alerts: each lists that case's alerts and its
  // subjects' keys.
  std::vector<std::string> cases;
  absl::flat_hash_map<std::string, std::vector<const asb::v1::Alert*>> by_case;
  for (const asb::v1::Alert& a : response.alerts()) {
    auto [it, fresh] = by_case.try_emplace(a.disclosure().case_id());
    if (fresh) {
      cases.push_back(a.disclosure().case_id());
    }
    it->second.push_back(&a);
  }
  for (const std::string& case_id : cases) {
    const std::vector<const asb::v1::Alert*>& alerts = by_case[case_id];
    asb::v1::AuditRecord record;
    record.set_kind(asb::v1::AUDIT_KIND_DELIVERY);
    record.set_actor(principal);
    record.set_actor_agency(agency);
    record.set_recipient_agency(agency);
    record.set_case_id(case_id);
    record.set_event_type(alerts.size() == 1 ? alerts[0]->disclosure().event_type()
                                             : asb::v1::EVENT_TYPE_UNSPECIFIED);
    absl::flat_hash_set<std::string> seen;
    std::vector<std::string> seqs;
    for (const asb::v1::Alert* a : alerts) {
      seqs.push_back(absl::StrCat(a->agency_seq()));
      for (const std::string& key : a->disclosure().subject_keys()) {
        if (seen.insert(key).second) {
          record.add_subject_keys(key);
        }
      }
    }
    record.set_ref_seq(alerts[0]->agency_seq());
    record.set_detail(
        absl::StrCat(alerts.size() == 1 ? "alert " : "alerts ", absl::StrJoin(seqs, ","),
                     " delivered", replay ? " on replay" : "",
                     cases.size() > 1 ? absl::StrCat(" (one pull of ", response.alerts_size(),
                                                     " alerts, ", cases.size(), " cases)")
                                      : ""));
    Record(std::move(record), batch);
  }
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
    const absl::Time now = clock_();
    if (now - cursor.last_mark >= kAckMarkEvery) {
      // A mark says "acknowledged through `after` by `now`"; retention deletes by it. An ack
      // between marks is covered by the next mark (deletion is only ever late, never early).
      cursor.last_mark = now;
      batch->Put(kAckMarks, OutboxKey(agency, static_cast<uint64_t>(absl::ToUnixMillis(now))),
                 store::EncodeSeq(after));
    }
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

void Outbox::DeadLetter(asb::v1::Alert alert, absl::Time now, store::Batch* batch) {
  const std::string reason =
      absl::StrCat("not acknowledged after ", alert.delivery_count(), " deliveries");
  DeadLetterAt(std::move(alert), now, reason, batch);
}

void Outbox::DeadLetterWithReason(asb::v1::Alert alert, const std::string& reason,
                                  store::Batch* batch) {
  DeadLetterAt(std::move(alert), clock_(), reason, batch);
}

void Outbox::DeadLetterAt(asb::v1::Alert alert, absl::Time now, const std::string& reason,
                          store::Batch* batch) {
  const std::string agency = alert.agency();
  const uint64_t seq = alert.agency_seq();
  asb::v1::DeadLetter dead;
  dead.set_reason(reason);
  ::asb::model::ToTimestamp(now, dead.mutable_dead_lettered_at());
  asb::v1::AuditRecord record;
  record.set_kind(asb::v1::AUDIT_KIND_DEAD_LETTER);
  record.set_actor(kComponent);
  record.set_actor_agency(kHubAgency);
  record.set_recipient_agency(agency);
  record.set_case_id(alert.disclosure().case_id());
  *record.mutable_subject_keys() = alert.disclosure().subject_keys();
  record.set_event_type(alert.disclosure().event_type());
  record.set_ref_seq(seq);
  record.set_detail(absl::StrCat("alert ", seq, " dead-lettered: ", dead.reason()));
  *dead.mutable_alert() = std::move(alert);
  batch->Delete(kOutbox, OutboxKey(agency, seq));
  batch->Delete(kDeliveries, OutboxKey(agency, seq));
  batch->Put(kDeadLetters, OutboxKey(agency, seq), dead.SerializeAsString());
  Record(std::move(record), batch);
  ++dead_lettered_;
  SPDLOG_LOGGER_WARN(Logger(), "[{}] alert {} dead-lettered: {}", agency, seq, dead.reason());
}

absl::StatusOr<std::optional<asb::v1::Alert>> Outbox::FirstAfter(const std::string& agency,
                                                                 uint64_t after_seq) const {
  const uint64_t head_seq = head(agency);
  if (after_seq >= head_seq) {
    return std::nullopt;
  }
  const std::string prefix = OutboxPrefix(agency);
  auto it = store_->NewIterator(kOutbox);
  it->Seek(OutboxKey(agency, after_seq + 1));
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "outbox read");
  }
  if (!it->Valid()) {
    return std::nullopt;
  }
  const std::string_view key = it->key().ToStringView();
  if (!key.starts_with(prefix) || key.size() != prefix.size() + 8 ||
      store::DecodeSeq(key.substr(prefix.size())) > head_seq) {
    return std::nullopt;
  }
  asb::v1::Alert alert;
  if (!alert.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
    return absl::DataLossError(absl::StrCat("outbox of ", agency, ": unparsable alert"));
  }
  std::string handed;
  if (absl::Status got = store_->Get(kDeliveries, key, &handed); got.ok()) {
    if (!ApplyDelivery(handed, &alert)) {
      return absl::DataLossError(absl::StrCat("outbox of ", agency, ": malformed delivery record"));
    }
  } else if (!absl::IsNotFound(got)) {
    return got;
  }
  return alert;
}

void Outbox::RecordHandout(const std::string& actor, asb::v1::Alert* alert,
                           const std::string& detail, store::Batch* batch) {
  const absl::Time now = clock_();
  alert->set_delivery_count(alert->delivery_count() + 1);
  ::asb::model::ToTimestamp(now, alert->mutable_last_delivered_at());
  batch->Put(kDeliveries, OutboxKey(alert->agency(), alert->agency_seq()), DeliveryValue(*alert));
  asb::v1::AuditRecord record;
  record.set_kind(asb::v1::AUDIT_KIND_DELIVERY);
  record.set_actor(actor);
  record.set_actor_agency(kHubAgency);
  record.set_recipient_agency(alert->agency());
  record.set_case_id(alert->disclosure().case_id());
  *record.mutable_subject_keys() = alert->disclosure().subject_keys();
  record.set_event_type(alert->disclosure().event_type());
  record.set_ref_seq(alert->agency_seq());
  record.set_detail(detail);
  Record(std::move(record), batch);
}

absl::StatusOr<std::vector<Outbox::AgencyStats>> Outbox::Stats() const {
  std::vector<AgencyStats> out;
  for (const auto& [agency, cursor] : cursors_) {
    AgencyStats st;
    st.agency = agency;
    st.head = cursor.head;
    st.acked = cursor.acked;
    ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::Alert> oldest, FirstAfter(agency, cursor.acked));
    if (oldest.has_value()) {
      st.oldest_unacked_queued_at = ::asb::model::ToTime(oldest->queued_at());
    }
    const std::string prefix = OutboxPrefix(agency);
    auto dl = store_->NewIterator(kDeadLetters);
    for (dl->Seek(prefix); dl->Valid() && dl->key().ToStringView().starts_with(prefix);
         dl->Next()) {
      ++st.dead_letters;
    }
    if (!dl->status().ok()) {
      return store::FromRocks(dl->status(), "dead letters read");
    }
    out.push_back(std::move(st));
  }
  return out;
}

absl::StatusOr<asb::v1::ListDeadLettersResponse> Outbox::ListDeadLetters(
    const std::string& agency, const asb::v1::ListDeadLettersRequest& request) const {
  if (request.limit() > kMaxPull) {
    return absl::InvalidArgumentError("limit: at most 1000");
  }
  const uint32_t limit = request.limit() == 0 ? kDefaultPull : request.limit();
  asb::v1::ListDeadLettersResponse response;
  auto it = store_->NewIterator(kDeadLetters);
  if (!request.after_agency().empty()) {
    it->Seek(OutboxKey(request.after_agency(), request.after_seq() + 1));
  } else if (!agency.empty()) {
    it->Seek(OutboxPrefix(agency));
  } else {
    it->SeekToFirst();
  }
  for (; it->Valid(); it->Next()) {
    std::string_view key_agency;
    uint64_t seq = 0;
    if (!SplitKey(it->key().ToStringView(), &key_agency, &seq)) {
      return absl::DataLossError("dead letters: malformed key");
    }
    if (!agency.empty() && key_agency != agency) {
      if (key_agency > agency) {
        break;
      }
      continue;
    }
    if (static_cast<uint32_t>(response.dead_letters_size()) == limit) {
      response.set_more(true);
      break;
    }
    if (!response.add_dead_letters()->ParseFromArray(it->value().data(),
                                                     static_cast<int>(it->value().size()))) {
      return absl::DataLossError("dead letters: unparsable entry");
    }
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "dead letters read");
  }
  return response;
}

absl::StatusOr<int> Outbox::ApplyRetention(store::Batch* batch) {
  if (options_.retention <= absl::ZeroDuration()) {
    return 0;
  }
  const absl::Time cutoff = clock_() - options_.retention;
  const uint64_t cutoff_ms =
      static_cast<uint64_t>(std::max<int64_t>(absl::ToUnixMillis(cutoff), 0));
  int agencies = 0;
  for (const auto& [agency, cursor] : cursors_) {
    const std::string prefix = OutboxPrefix(agency);
    // The newest mark at or before the cutoff tells what was acknowledged by then.
    auto it = store_->NewIterator(kAckMarks);
    uint64_t through = 0;
    std::string last_old_key;
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      const std::string_view key = it->key().ToStringView();
      if (!key.starts_with(prefix) || key.size() != prefix.size() + 8) {
        break;
      }
      if (store::DecodeSeq(key.substr(prefix.size())) > cutoff_ms) {
        break;
      }
      if (it->value().size() == 8) {
        through = std::max(through, store::DecodeSeq(it->value().ToStringView()));
      }
      last_old_key = std::string(key);
    }
    if (!it->status().ok()) {
      return store::FromRocks(it->status(), "ack marks read");
    }
    bool deleted = false;
    if (through > 0) {
      batch->DeleteRange(kOutbox, OutboxKey(agency, 0), OutboxKey(agency, through + 1));
      batch->DeleteRange(kDeliveries, OutboxKey(agency, 0), OutboxKey(agency, through + 1));
      // Keep the newest old mark; the ones before it say nothing more.
      batch->DeleteRange(kAckMarks, OutboxKey(agency, 0), last_old_key);
      deleted = true;
    }
    // Dead letters made before the cutoff (few: scanned one by one).
    auto dl = store_->NewIterator(kDeadLetters);
    for (dl->Seek(prefix); dl->Valid(); dl->Next()) {
      const std::string_view key = dl->key().ToStringView();
      if (!key.starts_with(prefix)) {
        break;
      }
      asb::v1::DeadLetter dead;
      if (dead.ParseFromArray(dl->value().data(), static_cast<int>(dl->value().size())) &&
          ::asb::model::ToTime(dead.dead_lettered_at()) < cutoff) {
        batch->Delete(kDeadLetters, key);
        deleted = true;
      }
    }
    if (!dl->status().ok()) {
      return store::FromRocks(dl->status(), "dead letters read");
    }
    agencies += deleted ? 1 : 0;
  }
  return agencies;
}

}  // namespace asb::notify
