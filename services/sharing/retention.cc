#include "services/sharing/retention.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "asb/v1/audit.pb.h"
#include "common/agreement/agreement.h"
#include "common/log/log.h"
#include "common/model/model.h"
#include "common/status/macros.h"

namespace asb::sharing {
namespace {

using ::asb::model::ToTime;
using ::asb::model::ToTimestamp;
using Agreement = ::asb::config::v1::DataSharingAgreement;

constexpr char kComponent[] = "sharing";
constexpr char kHubAgency[] = "hub";
constexpr char kMarkPrefix[] = "mark/";
constexpr char kBackfillMark[] = "mark/retention-backfill";
// Recipients of a case held in memory as written, at most this many (then forgotten: a rewrite
// of a key is harmless).
constexpr std::size_t kMaxRemembered = 1 << 16;

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("sharing");
  return lg;
}

std::string RecipientPrefix(const std::string& case_id) {
  std::string key = case_id;
  key.push_back('\0');
  return key;
}

std::string Day(absl::Time t) { return absl::FormatCivilTime(agreement::DayOf(t)); }

}  // namespace

Retention::Retention(store::Store* store, CaseFolder* folder, stream::Log* disclosures,
                     stream::Log* erasures, stream::Log* audit, std::function<absl::Time()> clock)
    : store_(store),
      folder_(folder),
      disclosures_(disclosures),
      erasures_(erasures),
      audit_(audit),
      clock_(std::move(clock)),
      timers_(store, kRetentionDueColumnFamily, kRetentionIndexColumnFamily) {}

void Retention::Disclosed(const std::string& case_id, const std::string& agency,
                          store::Batch* batch) {
  std::string key = RecipientPrefix(case_id) + agency;
  if (recipients_written_.contains(key)) {
    return;
  }
  if (recipients_written_.size() >= kMaxRemembered) {
    recipients_written_.clear();
  }
  batch->Put(kRecipientsColumnFamily, key, "");
  recipients_written_.insert(std::move(key));
  // A batch that fails takes its keys with it: remember nothing, so they are written again.
  batch->OnAbort([this] { recipients_written_.clear(); });
}

absl::Status Retention::Closed(const std::string& case_id, absl::Time closed_at,
                               store::Batch* batch) {
  return timers_.Schedule(case_id, closed_at, "", batch);
}

absl::StatusOr<bool> Retention::AnyExpired(const policy::Policy& policy) const {
  const uint32_t days = agreement::RetentionDays(policy.isp(), Agreement::RETENTION_CASE_DATA);
  if (days == 0) {
    return false;
  }
  ASB_ASSIGN_OR_RETURN(std::vector<clock::Timer> due,
                       timers_.Due(clock_() - absl::Hours(24) * days, 1));
  return !due.empty();
}

void Retention::AppendNotice(const std::string& agency, const std::string& case_id,
                             const std::string& rule, asb::v1::HubNotice notice,
                             const policy::Policy& policy, store::Batch* batch) {
  asb::v1::Envelope out;
  ToTimestamp(clock_(), out.mutable_produced_at());
  asb::v1::Disclosure* d = out.mutable_disclosure();
  d->set_agency(agency);
  d->set_case_id(case_id);
  d->set_isp_version(policy.version());
  *d->mutable_decided_at() = out.produced_at();
  d->add_notification_rules(rule);
  *d->mutable_notice() = std::move(notice);
  disclosures_->Append(batch, &out);
  ++notices_sent_;
}

absl::StatusOr<std::vector<asb::v1::CaseErasure>> Retention::DeleteExpired(
    const policy::Policy& policy, std::size_t max, store::Batch* batch) {
  std::vector<asb::v1::CaseErasure> erasures;
  const uint32_t days = agreement::RetentionDays(policy.isp(), Agreement::RETENTION_CASE_DATA);
  if (days == 0) {
    return erasures;
  }
  const absl::Time now = clock_();
  ASB_ASSIGN_OR_RETURN(std::vector<clock::Timer> due,
                       timers_.Due(now - absl::Hours(24) * days, max));
  const std::string& reference = policy.isp().agreement().reference();
  for (const clock::Timer& t : due) {
    const std::string& case_id = t.name;
    // The case as last folded, for its subjects' keys (an erased or missing one has none left).
    std::vector<std::string> subject_keys;
    absl::StatusOr<asb::v1::Case> c = folder_->Get(case_id);
    if (c.ok()) {
      for (const asb::v1::Person& p : c->people()) {
        std::string key = policy.SubjectKey(p.person_id());
        if (std::find(subject_keys.begin(), subject_keys.end(), key) == subject_keys.end()) {
          subject_keys.push_back(std::move(key));
        }
      }
    } else if (!absl::IsNotFound(c.status())) {
      return c.status();
    }
    std::vector<std::string> recipients;
    {
      const std::string prefix = RecipientPrefix(case_id);
      std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kRecipientsColumnFamily);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        recipients.push_back(it->key().ToString().substr(prefix.size()));
        batch->Delete(kRecipientsColumnFamily, it->key().ToStringView());
      }
      ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading recipients"));
    }
    ASB_RETURN_IF_ERROR(folder_->Delete(case_id, batch));
    timers_.Remove(t.name, t.due, batch);
    recipients_written_.clear();  // a new case of the same id must record its own

    google::protobuf::Timestamp closed_at;
    google::protobuf::Timestamp deleted_at;
    ToTimestamp(t.due, &closed_at);
    ToTimestamp(now, &deleted_at);
    for (const std::string& agency : recipients) {
      asb::v1::HubNotice notice;
      notice.set_kind(asb::v1::HubNotice::KIND_CASE_DELETED);
      notice.set_text(absl::StrCat(
          "Case ", case_id, " closed on ", Day(t.due), " and the partnership's retention for case ",
          "data (", days, " days after closure, agreement ", reference,
          ") has run: the hub has deleted its copy. Review the copies your agency holds of it "
          "under your own retention schedule."));
      notice.set_agreement_reference(reference);
      *notice.mutable_date() = closed_at;
      *notice.mutable_deadline() = deleted_at;
      notice.set_retention_days(days);
      AppendNotice(agency, case_id, agreement::kCaseDeletedNoticeRule, std::move(notice), policy,
                   batch);
    }

    asb::v1::CaseErasure erasure;
    erasure.set_case_id(case_id);
    erasure.set_reference(
        absl::StrCat("retention: ", reference, " case data ", days, " days after closure"));
    *erasure.mutable_closed_at() = closed_at;
    *erasure.mutable_decided_at() = deleted_at;
    asb::v1::Envelope record;
    *record.mutable_produced_at() = deleted_at;
    *record.mutable_case_erasure() = erasure;
    erasures_->Append(batch, &record);

    asb::v1::Envelope audit;
    *audit.mutable_produced_at() = deleted_at;
    asb::v1::AuditRecord* r = audit.mutable_audit();
    r->set_kind(asb::v1::AUDIT_KIND_ERASURE);
    *r->mutable_at() = deleted_at;
    r->set_component(kComponent);
    r->set_actor(kComponent);
    r->set_actor_agency(kHubAgency);
    r->set_case_id(case_id);
    for (std::string& key : subject_keys) {
      r->add_subject_keys(std::move(key));
    }
    r->set_isp_version(policy.version());
    r->set_detail(absl::StrCat(
        "case deleted under retention: closed ", Day(t.due), ", kept ", days, " days (agreement ",
        reference, "); ", recipients.size(), " recipient agencies told to review their copies",
        recipients.empty() ? "" : absl::StrCat(" (", absl::StrJoin(recipients, ", "), ")"),
        "; intake and notify shred theirs"));
    audit_->Append(batch, &audit);
    erasures.push_back(std::move(erasure));
    ++cases_deleted_;
    SPDLOG_LOGGER_INFO(Logger(), "a case closed on {} deleted under retention ({} days)",
                       Day(t.due), days);
  }
  if (victim_index_ != nullptr && !erasures.empty()) {
    absl::flat_hash_set<std::string> deleted;
    for (const asb::v1::CaseErasure& e : erasures) {
      deleted.insert(e.case_id());
    }
    ASB_RETURN_IF_ERROR(victim_index_->DeleteCases(deleted, batch));
  }
  return erasures;
}

absl::StatusOr<bool> Retention::NoticeReview(const policy::Policy& policy, store::Batch* batch) {
  const agreement::ReviewStatus review = agreement::AssessReview(policy.isp(), clock_());
  if (!review.needs_notice()) {
    return false;
  }
  const bool overdue = review.state == agreement::ReviewStatus::State::kOverdue;
  const std::string mark =
      absl::StrCat(kMarkPrefix, "review/", review.reference, "/", absl::FormatCivilTime(review.due),
                   overdue ? "/overdue" : "/reminder");
  std::string ignored;
  absl::Status seen = store_->Get(kMarksColumnFamily, mark, &ignored);
  if (seen.ok()) {
    return false;
  }
  if (!absl::IsNotFound(seen)) {
    return seen;
  }
  asb::v1::HubNotice notice;
  notice.set_kind(overdue ? asb::v1::HubNotice::KIND_AGREEMENT_REVIEW_OVERDUE
                          : asb::v1::HubNotice::KIND_AGREEMENT_REVIEW_DUE);
  notice.set_text(absl::StrCat(
      "The ", review.Describe(),
      ". Please arrange the review with the signatories and, once "
      "agreed, record the next review date in the ISP (agreement.review.due) and reload it."));
  notice.set_agreement_reference(review.reference);
  ToTimestamp(agreement::StartOf(review.due), notice.mutable_date());
  ToTimestamp(agreement::StartOf(review.grace_ends + 1), notice.mutable_deadline());
  AppendNotice(policy.isp().agreement().coordinator_agency(), "", agreement::kReviewNoticeRule,
               std::move(notice), policy, batch);
  batch->Put(kMarksColumnFamily, mark, "");
  return true;
}

absl::StatusOr<int> Retention::Backfill() {
  std::string ignored;
  absl::Status done = store_->Get(kMarksColumnFamily, kBackfillMark, &ignored);
  if (done.ok()) {
    return 0;
  }
  if (!absl::IsNotFound(done)) {
    return done;
  }
  store::Batch batch = store_->NewBatch();
  int set = 0;
  absl::Status timer_error;
  ASB_RETURN_IF_ERROR(folder_->ForEach([&](const asb::v1::Case& c) {
    if (c.status() != asb::v1::CASE_STATUS_CLOSED || !timer_error.ok()) {
      return;
    }
    absl::StatusOr<std::optional<absl::Time>> current = timers_.DueOf(c.case_id());
    if (!current.ok()) {
      timer_error = current.status();
    } else if (!current->has_value()) {
      timer_error = timers_.Schedule(c.case_id(), ToTime(c.closed_at()), "", &batch);
      ++set;
    }
    if (timer_error.ok() && batch.count() >= 10000) {
      timer_error = store_->Write(&batch);
    }
  }));
  ASB_RETURN_IF_ERROR(timer_error);
  batch.Put(kMarksColumnFamily, kBackfillMark, "");
  ASB_RETURN_IF_ERROR(store_->Write(&batch));
  return set;
}

}  // namespace asb::sharing
