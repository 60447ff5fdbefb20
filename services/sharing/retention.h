#pragma once

// What asb-sharing does for the data sharing agreement (isp.proto: DataSharingAgreement) beyond
// the rules: case retention and the hub's notices.
//
// Case retention: when a case closes its retention timer is set on the hub's durable timers
// (clock::TimerStore, the one timer mechanism; named by the case id, due at the closure), in the
// batch of the fold. The timer is due at the closure, not at the deletion: the loop asks for
// timers due by now minus the agreement's retention, so a reviewed agreement's new retention
// applies to every closed case at once, with nothing to reschedule. Once the agreement's
// RETENTION_CASE_DATA days have passed since the closure, DeleteExpired deletes the case in one
// batch: the case and its pending events (and its entries in the victim index), a "case deleted:
// review your copies" notice (HubNotice KIND_CASE_DELETED, notification rule "hub/case-deleted")
// on the disclosures stream to every agency that ever received a disclosure of it, a CaseErasure
// on the "erasures" stream (asb-intake and asb-notify shred their copies), an ERASURE record on
// the audit stream, and the timer's removal; the caller shreds the cases in sharing's own store
// (Store::EraseSubjects) before it writes that batch, so what the other daemons have not fetched
// yet of them is already unreadable. Recipients are kept in column family "recipients" (case id +
// '\0' + agency → "", plaintext), written with the disclosures.
//
// Agreement review: from the reminder stage on (agreement::AssessReview), NoticeReview sends the
// partnership coordinator (DataSharingAgreement.coordinator_agency) one notice per stage and
// review date (HubNotice KIND_AGREEMENT_REVIEW_*, rule "hub/agreement-review"); a mark in
// "marks" written in the same batch makes it once.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/disclosure.pb.h"
#include "common/clock/timer_store.h"
#include "common/policy/policy.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "services/sharing/case_folder.h"
#include "services/sharing/victim_matching.h"

namespace asb::sharing {

inline constexpr char kRecipientsColumnFamily[] = "recipients";
// The retention timers (clock::TimerStore's two column families: case ids and times only).
inline constexpr char kRetentionDueColumnFamily[] = "retention_due";
inline constexpr char kRetentionIndexColumnFamily[] = "retention_index";
// Marks of what was done once (the review notices, the backfill).
inline constexpr char kMarksColumnFamily[] = "marks";

// Owns nothing: the folder, logs and store belong to the daemon. Thread-compatible (the loop
// thread only).
class Retention {
 public:
  // `erasures`: the "erasures" stream; `clock` decides what is due (tests inject one).
  Retention(store::Store* store, CaseFolder* folder, stream::Log* disclosures,
            stream::Log* erasures, stream::Log* audit, std::function<absl::Time()> clock);

  // In the fold's batch (SharingHandler::ApplyEvent): `agency` received a disclosure of
  // `case_id`. Written once per pair (remembered; forgotten if the batch fails).
  void Disclosed(const std::string& case_id, const std::string& agency, store::Batch* batch);
  // In the fold's batch: the case closed at `closed_at` (a later closure moves the timer).
  absl::Status Closed(const std::string& case_id, absl::Time closed_at, store::Batch* batch);

  // Deletes, in `batch`, up to `max` closed cases whose retention under `policy`'s agreement has
  // run (see above) and returns their erasures (the caller shreds them, then writes). None
  // without an agreement or a RETENTION_CASE_DATA retention. kUnavailable/kDataLoss for storage
  // errors (nothing is then left in `batch` that matters: do not write it).
  absl::StatusOr<std::vector<asb::v1::CaseErasure>> DeleteExpired(const policy::Policy& policy,
                                                                  std::size_t max,
                                                                  store::Batch* batch);
  // True if a closed case's retention has run at `now` under `policy` (the loop fires at once).
  absl::StatusOr<bool> AnyExpired(const policy::Policy& policy) const;

  // The coordinator's review notice, once per stage and review date, in `batch`. Returns
  // whether one was added.
  absl::StatusOr<bool> NoticeReview(const policy::Policy& policy, store::Batch* batch);

  // Sets the retention timer of every closed case that has none (a store from before case
  // retention): once; a mark records that it was done. Returns how many were set.
  absl::StatusOr<int> Backfill();

  // The victim index (may be null): DeleteExpired deletes the deleted cases' entries too.
  void SetVictimIndex(VictimIndex* index) { victim_index_ = index; }

  // Counters since construction (committed or not).
  uint64_t cases_deleted() const { return cases_deleted_; }
  uint64_t notices_sent() const { return notices_sent_; }

 private:
  // Appends a hub notice disclosure for `agency` to the disclosures stream in `batch`.
  void AppendNotice(const std::string& agency, const std::string& case_id, const std::string& rule,
                    asb::v1::HubNotice notice, const policy::Policy& policy, store::Batch* batch);

  store::Store* store_;
  CaseFolder* folder_;
  stream::Log* disclosures_;
  stream::Log* erasures_;
  stream::Log* audit_;
  std::function<absl::Time()> clock_;
  clock::TimerStore timers_;
  VictimIndex* victim_index_ = nullptr;
  // (case id '\0' agency) pairs written to "recipients" by this process.
  absl::flat_hash_set<std::string> recipients_written_;
  uint64_t cases_deleted_ = 0;
  uint64_t notices_sent_ = 0;
};

}  // namespace asb::sharing
