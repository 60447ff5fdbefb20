#pragma once

// The policy point of asb-sharing, without sockets or threads: folds intake's events into cases
// (CaseFolder), decides which agencies each event alerts and, with the ISP (policy::Policy), what
// each of them may see, and appends those disclosures to the "disclosures" log (only an alert is
// disclosed); answers partners' case queries
// with the same policy and records each consultation on the "audit" log before it is answered.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/disclosure.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/policy/policy.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "services/sharing/aggregates.h"
#include "services/sharing/case_folder.h"
#include "services/sharing/retention.h"
#include "services/sharing/victim_matching.h"

namespace asb::sharing {

// The notification rule id under which a statutory notice alerts the agencies it names:
// "statutory:" and the kind in lower case, e.g. "statutory:review_overdue".
std::string NoticeRuleId(asb::v1::NoticeKind kind);

// Owns nothing: the folder, both logs and the store behind them belong to the daemon and must
// outlive the handler. Thread-compatible (the daemon's loop thread only).
class SharingHandler {
 public:
  // disclosures: the "disclosures" log; audit: the daemon's "audit" log (both in the folder's
  // store). `clock` stamps decided_at and audit times (tests inject a fixed one). Registers
  // itself as the folder's OnPendingSkipped hook (pending events that cannot apply are audited).
  SharingHandler(CaseFolder* folder, stream::Log* disclosures, stream::Log* audit,
                 std::function<absl::Time()> clock);

  // The depersonalised counts to keep as events are folded (unset: none are kept). Not owned.
  void SetAggregates(Aggregates* aggregates) { aggregates_ = aggregates; }
  // The victim match index (unset: no matching). Not owned. With it, a victim linked to a case
  // is matched against the victims of every other case (services/sharing/victim_matching.h);
  // each match flags both people as repeat victims (Person.repeat_victim, in every later view)
  // and raises a link suggestion under "victims:link_suggestion", carried by the PersonLinked
  // event's disclosures to the lead agencies of both cases where the ISP lets each see the other
  // case; otherwise (details_withheld) by the event's disclosure to the case review procedure's
  // alert agencies (the partnership coordinator) - one without a view if the ISP does not let
  // it see the case - or, if there are none, an ACCESS_REFUSED audit record. An agency never
  // gets two disclosures of one event.
  void SetVictimIndex(VictimIndex* index) { victim_index_ = index; }

  // The ISP in force; swapped on reload. Until one is set, ApplyEvent and GetCase return
  // kUnavailable.
  void SetPolicy(std::shared_ptr<const policy::Policy> policy);
  std::shared_ptr<const policy::Policy> policy() const { return policy_; }
  // Case retention (may be null: none): ApplyEvent then records each disclosure's recipient and
  // sets a closed case's retention timer, in the fold's batch. Must outlive the handler.
  void SetRetention(Retention* retention) { retention_ = retention; }

  // The Consumer's ApplyFn for intake's "events" stream: folds the event (CaseFolder::Apply),
  // then for every applied event and every agency it alerts (an ISP notification rule that fires
  // for the event names the agency, or the hub's own reason: a notice addressed to it, a link
  // suggestion) that the ISP lets see the case appends a Disclosure envelope to `disclosures` in
  // `batch`, stamped with those rule ids (Disclosure.notification_rules: the hub's reason first,
  // then the ISP's in file order; never empty). An agency the event does not alert gets nothing,
  // and its view is not derived. Counts the event in the aggregates (SetAggregates) in the same
  // batch; with retention set (SetRetention) also each recipient and, for a closure, the case's
  // retention timer. The hub's own events carry their statutory context (Disclosure.statutory);
  // a StatutoryNotice also alerts each agency it names under NoticeRuleId(kind), and one the ISP
  // does not let see the case gets an ACCESS_REFUSED audit record instead (never dropped
  // silently). Returns the folder's error unchanged
  // (kFailedPrecondition / kInvalidArgument: skip; kUnavailable: retry), or kUnavailable if no
  // policy is loaded. On error nothing is added to `batch`.
  absl::Status ApplyEvent(const asb::v1::Envelope& envelope, store::Batch* batch);

  // A partner's query: request.case_id as `agency` may see it now (event_type UNSPECIFIED,
  // event_seq 0), on behalf of request.on_behalf_of's officer (auth::CheckOnBehalfOf). On
  // success appends an AuditRecord CONSULTATION, carrying the on_behalf_of, to `audit` in
  // `batch`; the caller must write the batch BEFORE replying (a disclosure is recorded before it
  // is made), and must not reply with the view if that write fails.
  // Errors: kInvalidArgument (no case_id; or the on_behalf_of lacks an officer or a reason or
  // names a purpose the ISP lacks: the message says what, and an ACCESS_REFUSED
  // record is added to `batch` before any case data is read); kNotFound — the same message
  // whether the case does not exist or the agency may not see it, so existence is not leaked (in
  // the second case an ACCESS_REFUSED audit record is added to `batch`); kUnavailable (no
  // policy, store error). Write a refusal's records too.
  absl::StatusOr<asb::v1::Disclosure> GetCase(const std::string& principal,
                                              const std::string& agency,
                                              const asb::v1::GetCaseRequest& request,
                                              store::Batch* batch);

  // An admin's question (asbctl policy explain --case ID): why each field of the stored case
  // reaches request.agency or not. Names paths, outcomes and rules, never values. Appends a
  // CONSULTATION audit record (actor: the admin; on_behalf_of as given) to `batch`; write it
  // before replying.
  // Errors: kInvalidArgument (no case_id or agency; an on_behalf_of without officer or reason,
  // or with a purpose the ISP lacks — audited ACCESS_REFUSED in `batch`, write it); kNotFound (no
  // such case, or an agency the ISP does not name); kUnavailable (no policy, store error).
  absl::StatusOr<asb::v1::ExplainCaseResponse> ExplainCase(
      const std::string& principal, const std::string& principal_agency,
      const asb::v1::ExplainCaseRequest& request, store::Batch* batch);

  // Records, in `batch`, that an event of the "events" stream was skipped (the Consumer's
  // OnSkipped, or a pending event that could not apply): an AuditRecord REJECTION from
  // component "sharing" with the reason as detail.
  void AuditSkipped(const asb::v1::Envelope& envelope, const absl::Status& reason,
                    store::Batch* batch);

  // A partner's monitoring query (`asbctl orders list`): the orders `agency` may see, each as
  // the agency's view of its case shows it, filtered and paged as the request asks. Appends one
  // CONSULTATION audit record (with the request's on_behalf_of) per case whose orders are
  // returned to `batch`; the caller writes it before replying. Errors: kInvalidArgument
  // (on_behalf_of.officer_id or reason missing, a limit out of range); kUnavailable (no policy,
  // store error).
  absl::StatusOr<asb::v1::ListOrdersResponse> ListOrders(const std::string& principal,
                                                         const std::string& agency,
                                                         const asb::v1::ListOrdersRequest& request,
                                                         store::Batch* batch);

  // A partner's query (`asbctl casereview list`): the ASB case reviews of the cases `agency` may
  // see, as its views show them, filtered by status and paged, on behalf of request.on_behalf_of's
  // officer (auth::CheckOnBehalfOf). An agency one of the case's case review notices was
  // addressed to (the partnership coordinator, told at the threshold) also sees the case reviews
  // it was told of as the ISP's rules for a case review notice show them to it (the shipped
  // coordinator: the header and the case review, no people). One CONSULTATION audit record
  // (with on_behalf_of) per case returned, in `batch`: write it before replying. kInvalidArgument
  // for a status or limit out of range, or an on_behalf_of the check refuses (then an
  // ACCESS_REFUSED record is added to `batch` before any case is read: write it too); kUnavailable
  // (no policy, store error).
  absl::StatusOr<asb::v1::ListCaseReviewsResponse> ListCaseReviews(
      const std::string& principal, const std::string& agency,
      const asb::v1::ListCaseReviewsRequest& request, store::Batch* batch);

  // A partner's query (`asbctl victims repeat`): victims who appear in at least min_cases cases
  // `agency` may see (and whose person the view shows), by match key, on behalf of
  // request.on_behalf_of's officer (auth::CheckOnBehalfOf, refused as for ListCaseReviews). One
  // CONSULTATION audit record (with on_behalf_of) per case returned, in `batch`.
  absl::StatusOr<asb::v1::RepeatVictimsResponse> RepeatVictims(
      const std::string& principal, const std::string& agency,
      const asb::v1::RepeatVictimsRequest& request, store::Batch* batch);

  // Counters since construction (including uncommitted batches).
  uint64_t disclosures_made() const { return disclosures_made_; }
  uint64_t consultations() const { return consultations_; }
  // Statutory notices addressed to an agency the ISP does not let see the case (audited).
  uint64_t undelivered_notices() const { return undelivered_notices_; }

 private:
  // auth::CheckOnBehalfOf; on failure an ACCESS_REFUSED record ("<what> refused: ...") in
  // `batch` and the check's kInvalidArgument.
  absl::Status CheckOfficer(const std::string& what, const std::string& principal,
                            const std::string& agency, const std::string& case_id,
                            const asb::v1::OnBehalfOf& on_behalf_of, const policy::Policy& policy,
                            store::Batch* batch);

  CaseFolder* folder_;
  Aggregates* aggregates_ = nullptr;
  stream::Log* disclosures_;
  stream::Log* audit_;
  std::function<absl::Time()> clock_;
  std::shared_ptr<const policy::Policy> policy_;
  Retention* retention_ = nullptr;
  uint64_t disclosures_made_ = 0;
  std::string encoded_;  // one disclosure's bytes, reused (keeps its capacity)
  uint64_t consultations_ = 0;
  uint64_t undelivered_notices_ = 0;
  VictimIndex* victim_index_ = nullptr;

  // Matches the victim an applied PersonLinked links (see SetVictimIndex): the suggestions for
  // each agency to tell (the lead agencies, or the coordinators) go to `links`.
  absl::Status MatchVictim(const policy::Policy& policy, CaseFolder::Applied* a,
                           std::map<std::string, std::vector<asb::v1::LinkSuggestion>>* links,
                           const google::protobuf::Timestamp& now, store::Batch* batch);
  // A CONSULTATION record of `d` (a view given to `agency` on behalf of `who`).
  void AuditConsultation(const std::string& principal, const std::string& agency,
                         const asb::v1::Disclosure& d, const asb::v1::OnBehalfOf& who,
                         const std::string& detail, const std::string& isp_version,
                         const google::protobuf::Timestamp& now, store::Batch* batch);
  // An ACCESS_REFUSED record of the hub's own (a notice or suggestion it did not make) about
  // event `seq` of `case_id`: `detail` says what and why; written to the audit stream.
  void AuditHubRefusal(const std::string& case_id, asb::v1::EventType type, uint64_t seq,
                       const std::string& recipient, const std::string& detail,
                       const std::string& isp_version, const google::protobuf::Timestamp& now,
                       store::Batch* batch);
};

}  // namespace asb::sharing
