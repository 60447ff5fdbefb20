#pragma once

// asb-intake's order ledger and the hub's clock.
//
// Intake must answer a feed at once, so it keeps what it checks: every order of every case as its
// events so far made it (the lifecycle of common/orders, the same code asb-sharing folds with),
// and each person's date of birth (for the under-18 rules). It checks an order event against them
// and the statutory rules table before it is accepted, and on acceptance records it, raises the
// soft rules' notices (the hub's own events, appended right after it) and reconciles the order's
// durable timers (common/clock) with the deadlines the rules give for its new state. When a timer
// fires, the ledger builds the hub's event for it (an order's expiry, a statutory notice), which
// intake appends to its events log in the same batch as the timer's removal.
//
// Storage (intake's store, sealed under each case's data key):
//   "ledger"       case_id '\0' 'o' order_id -> LedgerOrder; case_id '\0' 'p' person_id ->
//                  LedgerPerson
//   "timers"       the TimerStore's due-ordered timers (names: case_id '\0' order_id '\0' name)
//   "timer_index"  the TimerStore's index (plaintext: names and times only)
//
// Reads go through a cache of the case ledgers a batch touches; the cache is only ever ahead of
// the store by that batch's own changes and is dropped when the batch commits or aborts. During a
// submission, Prefetch (phase 1, may read) loads what the events need; Evaluate and Commit (phase
// 2) read only the cache, so a store error can never leave half a submission in a batch.
//
// Thread-compatible (intake's loop thread only). The store and timer store must outlive it.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/events.pb.h"
#include "asb/v1/order_ledger.pb.h"
#include "common/clock/timer_store.h"
#include "common/orders/rules.h"
#include "common/store/store.h"

namespace asb::intake {

inline constexpr char kLedgerColumnFamily[] = "ledger";
inline constexpr char kTimersColumnFamily[] = "timers";
inline constexpr char kTimerIndexColumnFamily[] = "timer_index";

// The source principal and agency of the hub's own events (AcceptedEvent.made_by_hub).
inline constexpr char kHubSource[] = "hub";

class OrderLedger {
 public:
  OrderLedger(store::Store* store, clock::TimerStore* timers);

  // The rules in force; swapped on reload (events already evaluated keep theirs).
  void SetRules(std::shared_ptr<const orders::StatutoryRules> rules);
  std::shared_ptr<const orders::StatutoryRules> rules() const { return rules_; }
  // The ISP's agency ids: Order.issued_by names the issuing agency only if it is one of them.
  void SetAgencies(std::vector<std::string> agencies);

  // Phase 1: loads the case ledger `event` needs into the cache of `batch`'s changes. Only order
  // events need one. kUnavailable / kDataLoss for a store error.
  absl::Status Prefetch(const asb::v1::CaseEvent& event, store::Batch* batch);

  // What to do with an event (phase 2; reads the cache only).
  struct Decision {
    enum class Outcome { kAccept, kRefuse, kDuplicate };
    Outcome outcome = Outcome::kAccept;
    // kRefuse: kInvalidArgument (a HARD statutory rule) or kFailedPrecondition (the order's
    // state), the message naming the field, the rule and the section.
    absl::Status refusal;
    // kDuplicate: the hub sequence number of the record it repeats (an expiry the hub recorded).
    uint64_t duplicate_of = 0;

    // kAccept, for Commit: the order after the event and the notices the rules ask for.
    std::optional<asb::v1::LedgerOrder> order;
    std::vector<orders::Finding> notices;
  };
  // `source_agency` is the submitting feed's agency (the issuing agency when Order.issued_by is
  // not an ISP agency). REQUIRES: Prefetch(event) ran for this batch.
  Decision Evaluate(const std::string& source_agency, const asb::v1::CaseEvent& event) const;

  // Records an accepted event (hub sequence `seq`) in `batch`: the ledger, the order's timers
  // reconciled with its deadlines as of `now`. Returns the hub's notice events to append right
  // after it, in order (already recorded in the ledger).
  std::vector<asb::v1::CaseEvent> Commit(const asb::v1::CaseEvent& event, Decision decision,
                                         uint64_t seq, absl::Time now, store::Batch* batch);

  // The hub's event for a timer that fell due (TimerService already removed it in `batch`), or
  // nullopt if it no longer applies (the order moved on: its timers are reconciled in `batch`).
  // The caller appends the event and then Evaluates and Commits it like any other. Reads the
  // store: kUnavailable (retry) or kDataLoss; kInvalidArgument / kNotFound for a timer that can
  // never fire (a bad payload, an order the ledger does not have).
  absl::StatusOr<std::optional<asb::v1::CaseEvent>> Fire(const clock::Timer& timer, absl::Time now,
                                                         store::Batch* batch);

  // The ledger's copy of an order (committed and this batch's), for tests and tools. kNotFound.
  absl::StatusOr<asb::v1::LedgerOrder> Get(const std::string& case_id, const std::string& order_id);

  // The timer name of an order's deadline.
  static std::string TimerName(const std::string& case_id, const std::string& order_id,
                               const std::string& deadline_name);
  // The source_event_id of the hub's event for an order's deadline or notice.
  static std::string HubEventId(const std::string& case_id, const std::string& order_id,
                                const std::string& name);

 private:
  struct CaseLedger {
    bool loaded = false;
    std::map<std::string, asb::v1::LedgerOrder> orders;
    std::map<std::string, std::string> dobs;  // person_id -> date of birth
  };

  void Bind(store::Batch* batch);
  absl::Status Load(const std::string& case_id, store::Batch* batch);
  std::string IssuingAgency(const asb::v1::Order& order, const std::string& source_agency) const;
  orders::OrderFacts Facts(const CaseLedger& c, const asb::v1::LedgerOrder& lo) const;
  void Reconcile(const std::string& case_id, const CaseLedger& c, asb::v1::LedgerOrder* lo,
                 absl::Time now, store::Batch* batch);
  void Put(const std::string& case_id, const asb::v1::LedgerOrder& lo, store::Batch* batch);

  store::Store* store_;
  clock::TimerStore* timers_;
  std::shared_ptr<const orders::StatutoryRules> rules_;
  std::set<std::string> agencies_;
  // The cache: committed ledgers plus the bound batch's changes.
  mutable std::map<std::string, CaseLedger> cache_;
  store::Batch* bound_ = nullptr;
  uint64_t generation_ = 0;
};

}  // namespace asb::intake
