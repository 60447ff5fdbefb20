#pragma once

// The pure logic of asb-intake: validate submitted case events, de-duplicate them by (source,
// source_event_id), and append the accepted ones to the durable "events" log together with
// their audit records. No sockets, no threads: asb-intake's daemon calls it from its loop.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/events.pb.h"
#include "common/clock/timer_store.h"
#include "common/model/model.h"
#include "common/orders/rules.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "services/intake/event_validation.h"
#include "services/intake/order_ledger.h"

namespace asb::intake {

// Column family of the de-duplication index: principal + '\0' + source_event_id →
// EncodeSeq(hub_seq) + EventDigest(event) (40 bytes). Stores written before the digest was kept
// hold EncodeSeq(hub_seq) alone (8 bytes); such an entry's content is read back from the
// "events" log while the log still holds it (see Submit). The index is plaintext: the digest
// is of the whole event, so it confirms only a guess of every one of its fields.
inline constexpr char kDedupeColumnFamily[] = "dedupe";

// The content digest kept with a de-duplication key: SHA-256 of the event's deterministic
// protobuf serialisation (32 raw bytes). Equal events (however their JSON was spelt) have equal
// digests.
std::string EventDigest(const asb::v1::CaseEvent& event);

inline constexpr uint32_t kDefaultMaxEventsPerSubmit = 1000;

// Every column family asb-intake's Store needs: "log.events", "log.audit", "dedupe", and the
// order ledger's "ledger", "timers", "timer_index" (order_ledger.h).
std::vector<std::string> IntakeColumnFamilies();

// asb-intake's store layout (daemon::RuntimeOptions.layout): IntakeColumnFamilies(); "dedupe"
// (feed ids → sequence numbers) and "timer_index" (timer names → times) in plaintext; an
// "events" record's subject is its event's case id, a "ledger" value's and a timer's the case id
// its key starts with; audit records are sealed under the master key.
store::StoreOptions IntakeStoreLayout();

// The EventType of an event (shared with asb-sharing).
using ::asb::model::EventTypeOf;

// Who submitted: the feed's principal and agency, from its CurveZMQ key (never the message).
struct Source {
  std::string principal;
  std::string agency;
};

// Validates, de-duplicates and durably appends submitted events, and keeps the hub's clock: it
// owns the order ledger (checks order events against the orders' state and the statutory rules;
// raises the soft rules' notices) and the durable timers of the orders' deadlines, and makes the
// hub's own event when one falls due (FireTimer, called by a clock::TimerService). The Store and
// both Logs belong to the daemon and must outlive the handler. Thread-compatible (one loop).
//
// The hub's events (AcceptedEvent.made_by_hub, source "hub", agency "hub") are appended to the
// same "events" log, each with a COLLECTION audit record by actor "hub", and de-duplicated by
// their deterministic source_event_id (under the empty principal, which no feed can have).
class IntakeHandler {
 public:
  // events: the "events" log; audit: the daemon's "audit" log (both in `store`). `clock` gives
  // the time stamped on records and used for validation (tests inject a fixed one).
  IntakeHandler(store::Store* store, stream::Log* events, stream::Log* audit,
                std::function<absl::Time()> clock,
                uint32_t max_events_per_submit = kDefaultMaxEventsPerSubmit);

  // Handles one submission. Each event is validated and de-duplicated by (source.principal,
  // source_event_id) — across requests via the "dedupe" column family and within the request.
  // A resubmission with the same content is OUTCOME_DUPLICATE (hub_seq of the stored copy); one
  // with different content is a conflict, OUTCOME_REFUSED with status ALREADY_EXISTS (hub_seq of
  // the stored copy, which stays as it is: a correction is a new event with its own id). An
  // index entry from before digests were kept is compared with its record in the "events" log;
  // when retention or erasure has removed that record, the resubmission counts as a duplicate.
  // Accepted events are appended to `events` as Envelope{accepted_event}; each accepted event
  // gets an AuditRecord COLLECTION and each refused one (conflicts included) a REJECTION
  // (detail = the reason, never payload values) on `audit`. Order events are also checked against
  // the order ledger and the statutory rules: refused (kFailedPrecondition: the order's state;
  // kInvalidArgument: a HARD rule, citing its section), answered as a duplicate (an expiry the
  // hub already recorded), or accepted followed by the hub's notices. Everything goes into ONE
  // Batch and one Write: the response is only returned once it is durable.
  // Returns one SubmitResult per event, in order. Errors:
  //  - kInvalidArgument: more than max_events_per_submit events (one REJECTION audit record is
  //    written for the whole request);
  //  - kUnavailable (or another store error): nothing was stored and NOTHING is acknowledged;
  //    the feed retries the whole request later (de-duplication makes that safe);
  //  - kInternal: no source principal (a wiring bug).
  absl::StatusOr<asb::v1::SubmitResponse> Submit(const Source& source,
                                                 const asb::v1::SubmitRequest& request);

  // One submission of a group (group commit).
  struct Submission {
    Source source;
    const asb::v1::SubmitRequest* request = nullptr;  // not owned; outlives the call
  };

  // Group commit: handles every submission as Submit would, but all of them go into ONE Batch
  // and one Write (one fsync), and a resubmission within the group is a duplicate of its first
  // copy. Returns one result per submission, in order. A submission refused on its own
  // (kInvalidArgument: too many events; a failed lookup) does not affect the others. If the
  // Write fails, EVERY submission that was not refused on its own gets kUnavailable ("nothing
  // was stored; retry") and nothing is acknowledged; the next group retries the store afresh.
  std::vector<absl::StatusOr<asb::v1::SubmitResponse>> SubmitGroup(
      const std::vector<Submission>& group);

  // The hub's clock: adds to `batch` the effects of a timer that fell due (clock::TimerService's
  // FireFn; the service removed the timer in `batch`): the hub's event (an order's expiry, a
  // statutory notice) appended to `events` with its audit record and the ledger's update, or
  // nothing if the deadline no longer applies. kUnavailable: a store read failed (retry).
  absl::Status FireTimer(const clock::Timer& timer, store::Batch* batch);

  // The statutory rules in force (default: none) and the ISP's agency ids.
  void SetRules(std::shared_ptr<const orders::StatutoryRules> rules) { ledger_.SetRules(rules); }
  std::shared_ptr<const orders::StatutoryRules> rules() const { return ledger_.rules(); }
  void SetAgencies(std::vector<std::string> agencies) { ledger_.SetAgencies(std::move(agencies)); }

  clock::TimerStore& timers() { return timers_; }
  OrderLedger& ledger() { return ledger_; }

  // Counters since construction (committed submissions only).
  uint64_t accepted() const { return accepted_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t refused() const { return refused_; }
  // Of the refused: resubmissions whose content differs from the stored copy.
  uint64_t conflicts() const { return conflicts_; }
  // Groups written (one fsync each) and groups whose write failed.
  uint64_t groups() const { return groups_; }
  uint64_t failed_groups() const { return failed_groups_; }
  // The hub's own events appended (notices at intake and fired timers; written ones only).
  uint64_t hub_events() const { return hub_events_; }

 private:
  // Appends the hub's event `event` (with its audit record and de-duplication entry) to `batch`.
  uint64_t AppendHubEvent(const asb::v1::CaseEvent& event, const google::protobuf::Timestamp& now,
                          store::Batch* batch);

  store::Store* store_;
  stream::Log* events_;
  stream::Log* audit_;
  std::function<absl::Time()> clock_;
  uint32_t max_events_;
  uint64_t accepted_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t refused_ = 0;
  uint64_t conflicts_ = 0;
  uint64_t groups_ = 0;
  uint64_t failed_groups_ = 0;
  uint64_t hub_events_ = 0;
  clock::TimerStore timers_;
  OrderLedger ledger_;
};

}  // namespace asb::intake
