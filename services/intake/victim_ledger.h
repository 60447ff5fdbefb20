#pragma once

// asb-intake's victim ledger: what the ASB case review (Anti-social Behaviour, Crime and Policing
// Act 2014 s.104) and the risk matrix need to be decided at intake.
//
// For each case it keeps the complaints (accepted incidents) still within reach of the case
// review window, the cases linked to it, its lead agency, the people linked to it, and its
// applications. When an accepted incident (or a link) changes the count of related qualifying
// complaints of a case (common/victims/case_review.h: the case and the cases linked to it), it
// raises the hub's CaseReviewNotice events - the advisory to the lead agency at the procedure's
// advisory count, the alert to the lead agency and the partnership coordinator at the threshold -
// appended right after the event. Application, decision, review and appeal events are checked
// against the application's state (refused kFailedPrecondition naming it) and keep the
// procedure's response times as durable timers on the hub's clock (the same clock::TimerStore as
// the order ledger: one timer mechanism); when one falls due and the step is still not recorded,
// the ledger builds the overdue notice. A risk assessment against a template is checked here
// (the template, every answer, the person on the case).
//
// Storage (intake's "ledger" column family, sealed under each case's data key):
//   case_id '\0' 'r' -> LedgerCaseReview
// Timers (intake's "timers"): case_id '\0' '\1' application_id '\0' deadline, payload ClockTimer
// with application_id set.
//
// Reads go through a cache of the ledgers a batch touches, dropped when the batch commits or
// aborts; Prefetch (phase 1) reads, Check and Commit (phase 2) read only the cache. An incident
// in the same submission as the CasesLinked event that links its case counts the linked case's
// complaints from the next event on. Thread-compatible (intake's loop thread only).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/case_review_ledger.pb.h"
#include "asb/v1/events.pb.h"
#include "asb/v1/order_ledger.pb.h"
#include "common/clock/timer_store.h"
#include "common/store/store.h"
#include "common/victims/case_review.h"
#include "common/victims/risk_matrix.h"

namespace asb::intake {

class VictimLedger {
 public:
  VictimLedger(store::Store* store, clock::TimerStore* timers);

  // The procedure in force (nullptr: no case review counting) and the risk matrix.
  void SetProcedure(std::shared_ptr<const victims::CaseReviewProcedure> procedure);
  std::shared_ptr<const victims::CaseReviewProcedure> procedure() const { return procedure_; }
  void SetRiskMatrix(std::shared_ptr<const victims::RiskMatrix> matrix);

  // True for the events the ledger reads or records.
  static bool Concerns(const asb::v1::CaseEvent& event);

  // Phase 1: loads the ledgers `event` needs (its case, a linked case, and their links).
  absl::Status Prefetch(const asb::v1::CaseEvent& event, store::Batch* batch);

  // Phase 2: kFailedPrecondition / kInvalidArgument / kNotFound if the event cannot apply (an
  // application event in the wrong state, a bad risk assessment), naming the field.
  absl::Status Check(const asb::v1::CaseEvent& event) const;

  // Records an accepted event in `batch` and returns the hub's notices to append after it.
  std::vector<asb::v1::CaseEvent> Commit(const asb::v1::CaseEvent& event,
                                         const std::string& source_agency, absl::Time now,
                                         store::Batch* batch);

  // The hub's overdue notice for a case review timer (TimerService already removed it), or
  // nullopt if the step was recorded meanwhile. kInvalidArgument for a bad payload.
  absl::StatusOr<std::optional<asb::v1::CaseEvent>> Fire(const clock::Timer& timer,
                                                         const asb::v1::ClockTimer& payload,
                                                         absl::Time now, store::Batch* batch);

  // The ledger of a case (committed and this batch's), for tests. kNotFound.
  absl::StatusOr<asb::v1::LedgerCaseReview> Get(const std::string& case_id);

  static std::string TimerName(const std::string& case_id, const std::string& application_id,
                               const std::string& deadline);

 private:
  struct Entry {
    bool loaded = false;
    asb::v1::LedgerCaseReview ledger;
  };
  void Bind(store::Batch* batch);
  absl::Status Load(const std::string& case_id, store::Batch* batch);
  void Put(const std::string& case_id, store::Batch* batch);
  // Recounts `case_id` (with its linked cases) at `at` and raises what is due.
  void Recount(const std::string& case_id, absl::Time at, const asb::v1::CaseEvent& cause,
               std::vector<asb::v1::CaseEvent>* raised, store::Batch* batch);
  void Schedule(const std::string& case_id, asb::v1::LedgerApplication* app,
                const std::string& deadline, absl::Time due, store::Batch* batch);
  void Unschedule(const std::string& case_id, asb::v1::LedgerApplication* app,
                  const std::string& deadline, store::Batch* batch);

  store::Store* store_;
  clock::TimerStore* timers_;
  std::shared_ptr<const victims::CaseReviewProcedure> procedure_;
  std::shared_ptr<const victims::RiskMatrix> risk_;
  mutable std::map<std::string, Entry> cache_;
  store::Batch* bound_ = nullptr;
  uint64_t generation_ = 0;
};

}  // namespace asb::intake
