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
// The risk matrix's follow-up times (config/risk/ RiskFollowUp) are kept on the same clock: a
// person first linked as a victim gets an "assess" timer (a reminder to the lead agency if no
// assessment is recorded in time: VICTIM_NOTICE_KIND_ASSESSMENT_MISSING); a new incident (not a
// correction of one already recorded) on a case whose victim's latest band is MEDIUM or HIGH
// raises VICTIM_NOTICE_KIND_REASSESSMENT_DUE at once, with the deadline, and a "reassess" timer
// that raises REASSESSMENT_OVERDUE if no assessment of that victim follows by then. While one
// reassessment is due its deadline is the earliest any incident asks for: a further incident
// whose own deadline is later leaves it as it is (a reassessment is never postponed); one whose
// deadline is earlier (an incident reported late, or after a backdated assessment raised the
// band) brings it forward with a new REASSESSMENT_DUE naming that incident. An assessment at or
// after the earliest of those incidents answers it. A case-level assessment
// (no person_id) assesses every victim linked so far; a closed case stops its victims' timers.
//
// Storage (intake's "ledger" column family, sealed under each case's data key):
//   case_id '\0' 'r'             -> LedgerCaseReview, the head (lead agency, links, people,
//                                   victims, applications, the notices' state)
//   case_id '\0' 'w'             -> LedgerWindow, the complaints within reach of the window
//   case_id '\0' 'i' incident_id -> LedgerIncident, one per incident accepted on the case
// so that no record grows with the case's history (issue 18): an event reads and rewrites the
// head; an incident or a link also the windows it counts, and an incident looks up its own id.
// A head written whole by an earlier version (complaints and incident ids inside it) is read as
// it is and moves them out when it is next written.
// Timers (intake's "timers"): case_id '\0' '\1' application_id '\0' deadline, payload ClockTimer
// with application_id set; a victim's: case_id '\0' '\2' slot '\0' "assess"|"reassess", payload
// ClockTimer with person_id set (the slot, LedgerVictim.slot, keeps person ids out of the
// plaintext timer index).
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

  // The hub's notice for a case review or victim timer (TimerService already removed it): a
  // response overdue, an assessment missing, a reassessment overdue; nullopt if the step was
  // recorded meanwhile. kInvalidArgument for a bad payload, kNotFound for a payload naming an
  // application or victim the ledger does not have.
  absl::StatusOr<std::optional<asb::v1::CaseEvent>> Fire(const clock::Timer& timer,
                                                         const asb::v1::ClockTimer& payload,
                                                         absl::Time now, store::Batch* batch);

  static std::string TimerName(const std::string& case_id, const std::string& application_id,
                               const std::string& deadline);
  static std::string VictimTimerName(const std::string& case_id, uint32_t slot,
                                     const std::string& name);

 private:
  // A victim's timers (LedgerVictim.timers).
  static constexpr char kAssess[] = "assess";
  static constexpr char kReassess[] = "reassess";

  struct Entry {
    bool loaded = false;  // the head
    asb::v1::LedgerCaseReview ledger;
    bool window_loaded = false;
    asb::v1::LedgerWindow window;
    // Incident id -> accepted on the case (looked up by Prefetch, recorded by Commit).
    std::map<std::string, bool, std::less<>> incidents;
    // The head was written whole by an earlier version: its next Put writes the window and the
    // incident ids (these) as records of their own.
    bool legacy = false;
    std::vector<std::string> legacy_ids;
  };
  void Bind(store::Batch* batch);
  absl::Status Load(const std::string& case_id, store::Batch* batch);
  absl::Status LoadWindow(const std::string& case_id, store::Batch* batch);
  absl::Status LoadIncident(const std::string& case_id, const std::string& incident_id,
                            store::Batch* batch);
  // Writes the head (and, for a legacy head, what moves out of it).
  void Put(const std::string& case_id, store::Batch* batch);
  void PutWindow(const std::string& case_id, store::Batch* batch);
  void PutIncident(const std::string& case_id, const std::string& incident_id,
                   const google::protobuf::Timestamp& at, store::Batch* batch);
  // The event's complaint in its case's window: a correction replaces the complaint it corrects,
  // and complaints out of reach of the window are forgotten. The newest report of the window.
  absl::Time AddComplaint(Entry* entry, asb::v1::LedgerComplaint c, bool correction);
  // Recounts `case_id` (with its linked cases) at `at` and raises what is due.
  void Recount(const std::string& case_id, absl::Time at, const asb::v1::CaseEvent& cause,
               std::vector<asb::v1::CaseEvent>* raised, store::Batch* batch);
  void Schedule(const std::string& case_id, asb::v1::LedgerApplication* app,
                const std::string& deadline, absl::Time due, store::Batch* batch);
  void Unschedule(const std::string& case_id, asb::v1::LedgerApplication* app,
                  const std::string& deadline, store::Batch* batch);
  // The ledger's own record of an owner's timers (LedgerApplication.timers,
  // LedgerVictim.timers): name -> due, unix milliseconds.
  using DueByName = google::protobuf::Map<std::string, int64_t>;
  // Schedules `timer_name` (payload.name() in `due_by_name`) at `due`, moving it if it is there.
  void ReplaceTimer(const std::string& timer_name, const asb::v1::ClockTimer& payload,
                    absl::Time due, DueByName* due_by_name, store::Batch* batch);
  // A timer that fired: the due time the ledger recorded for `name` (else `fallback`, the
  // timer's own), forgotten.
  static absl::Time TakeDue(DueByName* due_by_name, const std::string& name, absl::Time fallback);
  // Cancels `timer_name` (`name` in `due_by_name`), if it is scheduled.
  void RemoveTimer(const std::string& timer_name, const std::string& name, DueByName* due_by_name,
                   store::Batch* batch);
  // The victim's follow-up (the risk matrix's RiskFollowUp): timers and notices.
  static asb::v1::LedgerVictim& VictimOf(asb::v1::LedgerCaseReview* l,
                                         const std::string& person_id);
  void ScheduleVictim(const std::string& case_id, const std::string& person_id,
                      asb::v1::LedgerVictim* v, const std::string& name, absl::Time due,
                      store::Batch* batch);
  void UnscheduleVictim(const std::string& case_id, asb::v1::LedgerVictim* v,
                        const std::string& name, store::Batch* batch);
  // An assessment of `v` at `at` with `band`: the latest (if it is), and what it fulfils (the
  // first assessment; a reassessment due since before `at`) stops its timer.
  void Assessed(const std::string& case_id, asb::v1::LedgerVictim* v, absl::Time at,
                asb::v1::RiskLevel band, const asb::v1::CaseEvent& event, store::Batch* batch);
  // A new incident (not a correction): REASSESSMENT_DUE for each MEDIUM / HIGH victim with none
  // pending.
  void FollowUpIncident(const std::string& case_id, const asb::v1::CaseEvent& event,
                        const std::string& source_agency, asb::v1::LedgerCaseReview* l,
                        std::vector<asb::v1::CaseEvent>* raised, store::Batch* batch);
  absl::StatusOr<std::optional<asb::v1::CaseEvent>> FireVictim(const clock::Timer& timer,
                                                               const asb::v1::ClockTimer& payload,
                                                               store::Batch* batch);
  // The notice (to the lead agency; `fallback_agency` if the case has none recorded), made at
  // `at`, with `deadline`.
  asb::v1::CaseEvent MakeVictimNotice(const std::string& case_id,
                                      const asb::v1::LedgerCaseReview& l,
                                      asb::v1::VictimNoticeKind kind, const std::string& person_id,
                                      const asb::v1::LedgerVictim& v, absl::Time deadline,
                                      const std::string& fallback_agency, absl::Time at) const;

  store::Store* store_;
  clock::TimerStore* timers_;
  std::shared_ptr<const victims::CaseReviewProcedure> procedure_;
  std::shared_ptr<const victims::RiskMatrix> risk_;
  mutable std::map<std::string, Entry> cache_;
  store::Batch* bound_ = nullptr;
  uint64_t generation_ = 0;
};

}  // namespace asb::intake
