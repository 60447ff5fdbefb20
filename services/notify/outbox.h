#pragma once

// asb-notify's per-agency outboxes: the pure logic (no sockets, no threads). Disclosures that
// asb-sharing stamped alert-worthy (Disclosure.notification_rules: sharing evaluates the ISP's
// notification rules; notify holds no policy) become Alerts, numbered densely per agency; partners
// pull them after their acknowledged cursor and move the cursor by acking. Every disclosure,
// delivery and acknowledgement is recorded on notify's "audit" stream in the same batch as the
// change it records.
//
// Layout in the daemon's Store (column families from NotifyColumnFamilies()):
//   "outbox"    agency + '\0' + EncodeSeq(agency_seq)  → Alert, written once when queued
//   "deliveries" the same key → EncodeSeq(delivery_count) + EncodeSeq(last delivered, unix µs):
//               what each hand-out changes, so a pull does not rewrite (and re-encrypt) the alert;
//               an alert without one (or queued by an earlier version) has its own fields
//   "cursors"   "head/" + agency                       → EncodeSeq(newest agency_seq)
//               "acked/" + agency                      → EncodeSeq(acknowledged through)
//   "log.audit" notify's audit stream (stream::Log)
//   "offsets"   the consumers' offsets (common/stream)
//   "deadletters" agency + '\0' + EncodeSeq(agency_seq) → DeadLetter (moved out of "outbox")
//   "ackmarks"  agency + '\0' + EncodeSeq(unix ms)     → EncodeSeq(acked cursor at that time),
//               at most one a minute per agency: what retention needs to know when a seq was
//               acknowledged.
//   "tree_heads" the access log's latest signed tree head (TreeHeadRelay, tree_head_relay.h)
//   "webhooks"  agency → asb.v1.WebhookState (services/notify/webhooks.h)
//
// Delivery ("shared work"; api.proto PullAlertsRequest): a pull without from_seq hands out the
// oldest alerts that are not acknowledged and not in flight (last_delivered_at + ack_timeout in
// the future); after max_deliveries hand-outs, an alert due again is moved to "deadletters"
// (with an AUDIT_KIND_DEAD_LETTER record) and the cursor passes over it. Memory: only the
// per-agency cursors are kept in memory; alerts stay in RocksDB whatever the backlog.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/store/store.h"
#include "common/stream/log.h"

namespace asb::notify {

// Column families asb-notify's Store must open.
std::vector<std::string> NotifyColumnFamilies();

// asb-notify's store layout (daemon::RuntimeOptions.layout): NotifyColumnFamilies(); "cursors",
// asb-notify's store layout (daemon::RuntimeOptions.layout): NotifyColumnFamilies(); "cursors",
// "ackmarks", "deliveries", "webhooks" (agency → numbers, times) and "tree_heads" (hashes) in
// plaintext; the
// subject of an "outbox" or "deadletters" value is its alert's disclosure's case id, except for a
// hub notice (Disclosure.notice: no personal data), which like the audit records is sealed under
// the master key.
store::StoreOptions NotifyStoreLayout();

// Delivery settings (NotifyConfig). The defaults here keep the simplest behaviour for unit tests
// — every pull re-delivers what is unacknowledged, never a dead letter, nothing deleted; the
// daemon sets them from its config (30 s, 10 deliveries, 30 days).
struct OutboxOptions {
  // An alert handed out less than this ago is in flight: not handed out again (except on
  // replay). Zero: never in flight.
  absl::Duration ack_timeout = absl::ZeroDuration();
  // Hand-outs before a due, unacknowledged alert is dead-lettered. Zero: unbounded.
  uint32_t max_deliveries = 0;
  // Alerts acknowledged (and dead letters made) longer ago than this are deleted by
  // ApplyRetention. Zero: keep forever.
  absl::Duration retention = absl::ZeroDuration();
};

// The outboxes of every agency. Keeps each agency's head and acked cursor in memory (loaded at
// start, moved only when a batch commits). The Store and the audit Log must outlive it.
// Thread-compatible: the daemon's loop thread uses it.
//
// Each mutating call adds its changes to the caller's Batch; the caller writes it and only
// then sends any response. Within one batch, call Pull at most once per agency (a second Pull
// would not see the first one's delivery_count increments).
class Outbox {
 public:
  // PullAlertsRequest.max: 0 means kDefaultPull, capped at kMaxPull.
  static constexpr uint32_t kDefaultPull = 100;
  static constexpr uint32_t kMaxPull = 1000;
  // Outbox entries looked at by one pull (bounds the work of skipping in-flight alerts).
  static constexpr uint32_t kMaxScan = 20000;
  // Ack marks are written at most this often per agency.
  static constexpr absl::Duration kAckMarkEvery = absl::Minutes(1);

  // `audit` is notify's "audit" stream; `clock` stamps queued_at and audit records.
  Outbox(store::Store* store, stream::Log* audit, std::function<absl::Time()> clock,
         OutboxOptions options = {});

  // Reads every agency's head and acked cursor. kDataLoss for a malformed cursor.
  absl::Status Load();

  // The Consumer ApplyFn for sharing's "disclosures" stream. If asb-sharing stamped the
  // disclosure with notification rules (Disclosure.notification_rules), adds an Alert under the
  // first, with the agency's next agency_seq, and a DISCLOSURE audit record (carrying the ISP
  // version sharing decided under) to `batch`; otherwise does nothing. kInvalidArgument for an
  // envelope without a disclosure or with no agency (skipped by the consumer).
  absl::Status ApplyDisclosure(const asb::v1::Envelope& envelope, store::Batch* batch);

  // Up to request.max alerts of `agency`, in order, after its acked cursor skipping those in
  // flight (or from request.from_seq, a replay, in flight or not). Each returned alert's
  // delivery_count and last_delivered_at are updated in `batch`, with one DELIVERY audit record
  // (actor = `principal`) per case among them, listing that case's alerts and subject keys;
  // nothing is recorded when there is nothing to deliver. Due alerts already handed out
  // max_deliveries times are dead-lettered in `batch` instead (non-replay pulls only). At most
  // kMaxScan outbox entries are looked at per pull. request.wait_ms is the caller's business.
  // kInvalidArgument for an empty agency; kUnavailable/kDataLoss for storage errors.
  absl::StatusOr<asb::v1::PullAlertsResponse> Pull(const std::string& principal,
                                                   const std::string& agency,
                                                   const asb::v1::PullAlertsRequest& request,
                                                   store::Batch* batch);

  // Moves `agency`'s acked cursor to through_seq (never backwards: a lower value leaves it)
  // and records an ACKNOWLEDGEMENT by `principal`. Returns the cursor as it will be once the
  // batch commits. kOutOfRange if through_seq > head(agency); kInvalidArgument for an empty
  // agency.
  absl::StatusOr<asb::v1::AckAlertsResponse> Ack(const std::string& principal,
                                                 const std::string& agency, uint64_t through_seq,
                                                 store::Batch* batch);

  // Dead letters, in (agency, agency_seq) order. `agency` empty: every agency's. See
  // ListDeadLettersRequest for limit and pagination. kInvalidArgument for a bad limit.
  absl::StatusOr<asb::v1::ListDeadLettersResponse> ListDeadLetters(
      const std::string& agency, const asb::v1::ListDeadLettersRequest& request) const;

  // Retention: for every agency, deletes (in `batch`, one DeleteRange per agency) the alerts
  // acknowledged more than options.retention ago, their old ack marks, and dead letters made
  // more than options.retention ago. Returns how many agencies had something deleted. Does
  // nothing when retention is zero.
  absl::StatusOr<int> ApplyRetention(store::Batch* batch);

  // --- Webhook delivery (services/notify/webhooks.h) and metrics.

  // The first alert of `agency` after `after_seq` still in the outbox (not dead-lettered, not
  // deleted) and committed, or nullopt. kDataLoss for an unparsable alert.
  absl::StatusOr<std::optional<asb::v1::Alert>> FirstAfter(const std::string& agency,
                                                           uint64_t after_seq) const;
  // Records one hand-out of `alert` (delivery_count + 1, last_delivered_at now) and a DELIVERY
  // audit record by `actor` saying `detail`, in `batch`. `alert` is updated to what is stored.
  void RecordHandout(const std::string& actor, asb::v1::Alert* alert, const std::string& detail,
                     store::Batch* batch);
  // Moves `alert` to the dead letters with `reason` (audited as DEAD_LETTER), in `batch`.
  void DeadLetterWithReason(asb::v1::Alert alert, const std::string& reason, store::Batch* batch);
  // Appends `record` (time and component filled in) to notify's audit stream in `batch`.
  void Audit(asb::v1::AuditRecord record, store::Batch* batch) { Record(std::move(record), batch); }

  // Per agency, for operators: committed head and acknowledged cursor, when the oldest alert
  // not acknowledged was queued (nullopt: none) and how many dead letters are held.
  struct AgencyStats {
    std::string agency;
    uint64_t head = 0;
    uint64_t acked = 0;
    std::optional<absl::Time> oldest_unacked_queued_at;
    uint64_t dead_letters = 0;
  };
  // One outbox read and one dead-letter scan per agency. Storage errors: kUnavailable/kDataLoss.
  absl::StatusOr<std::vector<AgencyStats>> Stats() const;
  // Alerts dead-lettered since this Outbox was made (counted when their batch is built).
  uint64_t dead_lettered() const { return dead_lettered_; }

  // Committed newest agency_seq of `agency` (0: none yet).
  uint64_t head(const std::string& agency) const;
  // Committed acknowledged cursor of `agency`.
  uint64_t acked(const std::string& agency) const;
  // True if `agency` has committed alerts beyond its acked cursor (long-poll wake-ups).
  bool HasPending(const std::string& agency) const;

 private:
  struct Cursor {
    uint64_t head = 0;           // committed
    uint64_t pending_head = 0;   // highest assigned in an unwritten batch (>= head)
    uint64_t acked = 0;          // committed
    uint64_t pending_acked = 0;  // as of an unwritten batch (>= acked)
    absl::Time last_mark = absl::InfinitePast();  // newest ack mark written (this process)
  };

  const Cursor* Find(const std::string& agency) const;
  // Moves `alert` from the outbox to the dead letters in `batch`, with its audit record.
  void DeadLetter(asb::v1::Alert alert, absl::Time now, store::Batch* batch);
  void DeadLetterAt(asb::v1::Alert alert, absl::Time now, const std::string& reason,
                    store::Batch* batch);
  // Appends `record` (stamped with `at` and component) to the audit stream in `batch`.
  void Record(asb::v1::AuditRecord record, store::Batch* batch);

  store::Store* store_;
  stream::Log* audit_;
  std::function<absl::Time()> clock_;
  OutboxOptions options_;
  std::map<std::string, Cursor, std::less<>> cursors_;
  uint64_t dead_lettered_ = 0;
};

}  // namespace asb::notify
