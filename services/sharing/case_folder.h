#pragma once

// Folds intake's accepted events into case state (asb-sharing). A case's head — everything but
// its incidents — lives in column family "cases" (case_id → asb.v1.Case); each incident is a
// record of its own in "incidents" (case_id + '\0' + incident_id → asb.v1.Incident), so an
// event's cost does not grow with the case's history (issue 18): the fold reads and rewrites the
// head and the one incident an event reports or corrects, never the list. A case stored by an
// earlier version with its incidents in the head is read as it is and moves them out at its next
// event. Events that arrive before their case is opened wait in "pending" (case_id + '\0' +
// EncodeSeq(seq) → Envelope) and are applied, in sequence order, when the case_opened event
// arrives.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/case.pb.h"
#include "asb/v1/envelope.pb.h"
#include "asb/v1/statutory.pb.h"
#include "asb/v1/types.pb.h"
#include "common/model/model.h"
#include "common/store/store.h"
#include "common/victims/case_review.h"
#include "common/victims/risk_matrix.h"
#include "google/protobuf/timestamp.pb.h"

namespace asb::sharing {

inline constexpr char kCasesColumnFamily[] = "cases";
inline constexpr char kPendingColumnFamily[] = "pending";
// A case's incidents, one record each; sealed under the case's data key.
inline constexpr char kIncidentsColumnFamily[] = "incidents";
// The depersonalised counts (services/sharing/aggregates.h); plaintext: no personal data.
inline constexpr char kAggregatesColumnFamily[] = "aggregates";
// The victim match index (services/sharing/victim_matching.h): match key '\0' case_id '\0'
// person_id -> MatchBasis; sealed under the case's data key.
inline constexpr char kVictimIndexColumnFamily[] = "victim_index";

// Every column family asb-sharing's Store needs: "log.disclosures", "log.audit",
// "log.erasures", "cases", "pending", "aggregates", "retention_due", "retention_index",
// "marks", "recipients" (retention.h), "offsets", "incidents".
std::vector<std::string> SharingColumnFamilies();

// asb-sharing's store layout (daemon::RuntimeOptions.layout): SharingColumnFamilies(), with
// "aggregates" (counts by month and area), the retention timers, "marks" and "recipients" (ids
// and times) plaintext:
// no personal data; the subject of a "cases" or "pending" value is the case id its key starts
// with, of a "disclosures" record the disclosure's case id (a hub notice's none); audit and
// erasure records are sealed under the master key.
store::StoreOptions SharingStoreLayout();

// The EventType of an event (shared with asb-intake).
using ::asb::model::EventTypeOf;

// What CaseFolder::Fold needs besides the event (all optional).
struct CaseFoldContext {
  // Scores template assessments (the band, the score, the version used).
  const victims::RiskMatrix* risk = nullptr;
  // Gives each application its response deadlines.
  const victims::CaseReviewProcedure* procedure = nullptr;
};

// Owns no storage: the Store belongs to the daemon and must outlive the folder.
// Thread-compatible (the daemon's loop thread only).
//
// Uncommitted state: several events of one case are often applied within one Batch, so the
// folder remembers the cases and pending events it changed in the current batch (a dirty map)
// and reads through it. The map is dropped when that batch commits or fails (OnCommit/OnAbort),
// and also when Apply is given a different batch (the previous one was abandoned). A caller that
// abandons a batch and reuses the same Batch object must call DiscardUncommitted().
class CaseFolder {
 public:
  explicit CaseFolder(store::Store* store);

  // One event applied to a case.
  struct Applied {
    // The intake hub sequence number of the event.
    uint64_t event_seq = 0;
    asb::v1::EventType type = asb::v1::EVENT_TYPE_UNSPECIFIED;
    // For order events: the order's type and id.
    asb::v1::OrderType order_type = asb::v1::ORDER_TYPE_UNSPECIFIED;
    std::string order_id;
    // The case as it stands right after this event: its head (everything but its incidents)
    // with the one incident this event reported or corrected, if any. The case's other
    // incidents are not here (Get has them all): what an event costs, and what its alert
    // carries, does not grow with the case's history.
    asb::v1::Case case_after;
    // The agency of the feed that submitted the event ("hub" for the hub's own events).
    std::string source_agency;
    // The event was made by the hub (AcceptedEvent.made_by_hub).
    bool made_by_hub = false;
    // For the hub's events: the statutory context (a notice's, or its expiry's).
    asb::v1::StatutoryContext statutory;
    // For a StatutoryNotice: its kind and the agencies it is addressed to.
    asb::v1::NoticeKind notice_kind = asb::v1::NOTICE_KIND_UNSPECIFIED;
    std::vector<std::string> recipients;
    // When the event happened (CaseEvent.occurred_at).
    google::protobuf::Timestamp occurred_at;
    // What the event replaced or started, for the aggregates (services/sharing/aggregates.h):
    // the case's status before it; for an incident_reported that corrects an incident already
    // on the case, that incident as it was; for an order_issued, whether it is the case's first
    // order (its first action).
    asb::v1::CaseStatus status_before = asb::v1::CASE_STATUS_UNSPECIFIED;
    std::optional<asb::v1::Incident> replaced_incident;
    bool first_order = false;
    // For a first order: when the case's earliest incident occurred (unset: no incident yet).
    std::optional<google::protobuf::Timestamp> first_incident_at;
    // The notification rule the recipients are alerted under when it is not a StatutoryNotice's
    // ("casereview:<kind>" for a CaseReviewNotice, "victims:<kind>" for a VictimNotice,
    // "victims:safeguarding" for a HIGH band).
    std::string recipient_rule;
    // For a CaseReviewNotice: its kind.
    asb::v1::CaseReviewNoticeKind case_review_kind = asb::v1::CASE_REVIEW_NOTICE_KIND_UNSPECIFIED;
    // For a VictimNotice: its kind.
    asb::v1::VictimNoticeKind victim_kind = asb::v1::VICTIM_NOTICE_KIND_UNSPECIFIED;
    // For the case review's application events: the application (for the aggregates).
    std::string application_id;
    // For a risk assessment in the HIGH band: the person (recipients: the template's
    // safeguarding agencies for their age).
    std::string safeguarding_person_id;
    // For a PersonLinked: the person linked.
    std::string linked_person_id;
  };

  // What Fold needs besides the event (CaseFoldContext).
  using FoldContext = CaseFoldContext;

  // The risk matrix and the case review procedure in force (swapped on reload; may be null).
  void SetRiskMatrix(std::shared_ptr<const victims::RiskMatrix> risk) { risk_ = std::move(risk); }
  void SetCaseReviewProcedure(std::shared_ptr<const victims::CaseReviewProcedure> procedure) {
    procedure_ = std::move(procedure);
  }
  std::shared_ptr<const victims::CaseReviewProcedure> procedure() const { return procedure_; }

  // Flags `person_id` on case `case_id` as a repeat victim (Person.repeat_victim) within
  // `batch`; returns the case as it stands after (nullopt: no such case or person, or already
  // flagged). kUnavailable / kDataLoss for a store error.
  absl::StatusOr<std::optional<asb::v1::Case>> MarkRepeatVictim(const std::string& case_id,
                                                                const std::string& person_id,
                                                                store::Batch* batch);
  // The case's head (no incidents: Get has them) as `batch` sees it (this batch's changes
  // included); nullopt if not opened.
  absl::StatusOr<std::optional<asb::v1::Case>> Peek(const std::string& case_id) const {
    return Load(case_id);
  }

  // Applies one envelope of intake's "events" stream within `batch`. Returns:
  //  - an empty vector if the case is not opened yet and the event is not case_opened: the
  //    event is kept in "pending" (not dropped);
  //  - for case_opened, the opening itself followed by every pending event of that case in
  //    sequence order (they are removed from "pending"). A pending event that cannot apply is
  //    removed, left out of the result and reported to the OnPendingSkipped hook;
  //  - otherwise the one applied event.
  // Errors (nothing is added to `batch` and no state changes):
  //  - kInvalidArgument: not an accepted event, or no case_id / event;
  //  - kFailedPrecondition: the event cannot apply (a second case_opened; an order event the
  //    order lifecycle refuses: common/orders/lifecycle.h) — the message says why; the consumer
  //    skips and audits it (asb-intake refuses such events before they reach the log);
  //  - kUnavailable / kDataLoss: reading the store failed (retry / corrupt record).
  absl::StatusOr<std::vector<Applied>> Apply(const asb::v1::Envelope& envelope,
                                             store::Batch* batch);

  // The committed case with all its incidents, in the order they occurred (uncommitted changes
  // of a batch in progress are not visible). kNotFound if the case was never opened.
  absl::StatusOr<asb::v1::Case> Get(const std::string& case_id) const;

  // Calls `fn` for each committed case's head (no incidents) in case-id order, from `from_case_id`
  // (inclusive; "" for the first) until `fn` returns false. kUnavailable / kDataLoss for a store
  // error.
  absl::Status ForEachCase(const std::string& from_case_id,
                           const std::function<bool(const asb::v1::Case&)>& fn) const;

  // Number of events of `case_id` waiting for the case to be opened (committed only).
  absl::StatusOr<std::size_t> PendingCount(const std::string& case_id) const;

  // Deletes the case and any event of it still pending, in `batch` (retention: the data itself
  // is crypto-shredded after the batch commits). Nothing to delete is not an error.
  absl::Status Delete(const std::string& case_id, store::Batch* batch);

  // Calls f for every committed case's head (no incidents), in case id order (a one-off scan: a
  // migration).
  absl::Status ForEach(const std::function<void(const asb::v1::Case&)>& f) const;

  // Called (within Apply) for a pending event dropped because it cannot apply to the opened
  // case, with the reason (kFailedPrecondition) and the batch, e.g. to audit it.
  using SkippedFn =
      std::function<void(const asb::v1::Envelope&, const absl::Status&, store::Batch*)>;
  void OnPendingSkipped(SkippedFn fn) { on_pending_skipped_ = std::move(fn); }

  // Forgets uncommitted changes (the caller abandoned its batch without writing it).
  void DiscardUncommitted();

  // Applies one case event, submitted by a feed of `source_agency`, to `c` (pure; exposed for
  // tests and tools). The facts it adds or replaces (the case when opened, a person, an
  // incident, an order, a breach) record `source_agency` as their source. kFailedPrecondition if
  // it cannot apply. `c` is unchanged on error.
  static absl::Status Fold(const asb::v1::CaseEvent& event, const std::string& source_agency,
                           asb::v1::Case* c, const FoldContext& context = FoldContext());

 private:
  // The case as this batch sees it: nullopt if not opened.
  absl::StatusOr<std::optional<asb::v1::Case>> Load(const std::string& case_id) const;
  // The stored incidents of `case_id` by id: this batch's included if `uncommitted`, else the
  // committed ones only.
  absl::Status LoadIncidents(const std::string& case_id, bool uncommitted,
                             std::map<std::string, asb::v1::Incident>* out) const;
  // The stored incident `incident_id` of `case_id` as this batch sees it; nullopt if none.
  absl::StatusOr<std::optional<asb::v1::Incident>> LoadIncident(
      const std::string& case_id, const std::string& incident_id) const;
  // Folds `envelope`'s event into `c` (a case head) with the incident it corrects, if it is in
  // `incidents`; on success the incidents the fold left on `c` move into `incidents` (ids into
  // `written`) and off the head. `c` and `incidents` are unchanged on error (Fold's).
  absl::StatusOr<Applied> FoldOne(const asb::v1::Envelope& envelope, const FoldContext& context,
                                  asb::v1::Case* c,
                                  std::map<std::string, asb::v1::Incident>* incidents,
                                  std::set<std::string>* written) const;
  // Pending events of `case_id` (committed and this batch's), by seq.
  absl::Status LoadPending(const std::string& case_id,
                           std::map<uint64_t, asb::v1::Envelope>* out) const;
  void Track(store::Batch* batch);

  // The risk matrix and the procedure in force, for Fold.
  FoldContext Context() const;

  store::Store* store_;
  SkippedFn on_pending_skipped_;
  std::shared_ptr<const victims::RiskMatrix> risk_;
  std::shared_ptr<const victims::CaseReviewProcedure> procedure_;

  // The batch in progress and what it changed.
  store::Batch* dirty_batch_ = nullptr;
  int dirty_count_ = 0;      // batch->count() after our last change
  uint64_t generation_ = 0;  // bumped whenever the dirty state is dropped
  std::map<std::string, asb::v1::Case> dirty_cases_;
  // case_id → seq → envelope added to pending in this batch.
  std::map<std::string, std::map<uint64_t, asb::v1::Envelope>> dirty_pending_;
  // Incident key (case_id '\0' incident_id) → incident written in this batch.
  std::map<std::string, asb::v1::Incident> dirty_incidents_;
};

}  // namespace asb::sharing
