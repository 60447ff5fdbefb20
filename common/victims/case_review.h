#pragma once

// The ASB case review procedure (Anti-social Behaviour, Crime and Policing Act 2014 s.104 and
// Sch 4; formerly the "Community Trigger") as the partnership configures it
// (asb.config.v1.CaseReviewProcedure, shipped config/casereview/derbyshire.yaml), and the count
// it is decided by:
//  - a complaint is *qualifying* if made within the period of one month beginning with the date
//    of the behaviour (s.104(11)(a));
//  - it counts towards an application made within the period of six months beginning with the
//    date it was made (s.104(11)(b)): at a given date, the window holds the complaints made on
//    or after that date less six months (plus a day);
//  - the same incident reported to two agencies (equal incident ids, one naming the other in
//    same_incident_as, or - if configured - the same category within same_incident_minutes from
//    two agencies) counts once;
//  - the threshold is met at complaint_threshold distinct related qualifying complaints
//    (s.104(4): three, or fewer if the procedure says so), or at individuals_threshold separate
//    individuals reporting them (s.104(5)); the advisory comes at advisory_at.
// Periods run in calendar months by the date in the procedure's time zone (the 31st plus a
// month is the last day of the next month). Immutable and thread-safe once built.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "asb/config/v1/victims.pb.h"
#include "asb/v1/events.pb.h"
#include "asb/v1/types.pb.h"
#include "asb/v1/victims.pb.h"
#include "common/config/config.h"

namespace asb::victims {

// One complaint as the count needs it.
struct Complaint {
  std::string case_id;
  std::string incident_id;
  std::string reported_by;         // the agency that received it
  std::string reporter_person_id;  // who made it ("" unknown)
  std::string same_incident_as;    // another agency's reference for the same incident
  asb::v1::NsirCategory category = asb::v1::NSIR_CATEGORY_UNSPECIFIED;
  absl::Time reported_at;  // when the complaint was made
  absl::Time occurred_at;  // when the behaviour happened
};

// What a count found.
struct Count {
  // Distinct related qualifying complaints in the window, and the individuals who made them.
  uint32_t complaints = 0;
  uint32_t individuals = 0;
  // The first moment a complaint may have been made and still count.
  absl::Time window_start;
  // One incident id per distinct incident counted (its earliest report), oldest first.
  std::vector<std::string> incident_ids;
};

class CaseReviewProcedure {
 public:
  // Loads and checks a procedure file. `agencies`: the ISP's agency ids (alert_agencies must be
  // among them; empty: not checked). kInvalidArgument names every problem with file and line.
  static absl::StatusOr<std::shared_ptr<const CaseReviewProcedure>> LoadFile(
      const std::string& path, const std::vector<std::string>& agencies);
  static absl::StatusOr<std::shared_ptr<const CaseReviewProcedure>> FromConfig(
      const asb::config::v1::CaseReviewProcedure& config, const std::string& file,
      const config::SourceMap* lines, const std::vector<std::string>& agencies);

  const asb::config::v1::CaseReviewProcedure& config() const { return config_; }
  const std::string& version() const { return config_.version(); }

  // s.104(11)(a): made within one month (qualifying_months) of the behaviour.
  bool Qualifies(const Complaint& c) const;
  // s.104(11)(b): a complaint made at `reported_at` still counts at `at`.
  bool InWindow(absl::Time reported_at, absl::Time at) const;
  // The same, with `at`'s day (DayOf(at)) worked out once for a whole count.
  bool InWindow(absl::Time reported_at, absl::Time at, absl::CivilDay at_day) const;
  // The related qualifying complaints of `complaints` (all taken as related: the caller passes
  // those of the case and its linked cases) that count at `at`, de-duplicated.
  Count CountAt(const std::vector<Complaint>& complaints, absl::Time at) const;
  // The threshold (s.104(4), and the individuals criterion of s.104(5) if configured).
  bool ThresholdMet(const Count& count) const;
  // The advisory count is reached (and the advisory is configured).
  bool AdvisoryDue(const Count& count) const;
  // Which criterion met the threshold, in words for a notice.
  std::string ThresholdWords(const Count& count) const;

  // Response deadlines (local: the procedure's days).
  absl::Time DecisionDue(absl::Time applied_at) const;
  absl::Time ReviewDue(absl::Time decided_at) const;
  absl::Time AppealDue(absl::Time appealed_at) const;

  // Complaints made before this can no longer count at any time from `at` on (for pruning).
  absl::Time ForgetBefore(absl::Time at) const;

  // Calendar arithmetic in the procedure's time zone.
  absl::CivilDay DayOf(absl::Time t) const;
  absl::CivilDay AddMonths(absl::CivilDay day, int months) const;
  absl::Time StartOf(absl::CivilDay day) const;

 private:
  CaseReviewProcedure() = default;
  asb::config::v1::CaseReviewProcedure config_;
  absl::TimeZone zone_;
};

// A day as the case review and victim notices name it: "2026-04-01" (UTC).
std::string When(absl::Time t);

// "casereview:<kind>" (e.g. "casereview:threshold_met"): the notification rule id a case review
// notice alerts its recipients under.
std::string CaseReviewRuleId(asb::v1::CaseReviewNoticeKind kind);
// "threshold_met".
std::string CaseReviewKindWord(asb::v1::CaseReviewNoticeKind kind);
// The application an application, decision, review or appeal event names ("" for other events).
const std::string& ApplicationIdOf(const asb::v1::CaseEvent& e);

// The sections the notices cite.
inline constexpr char kSectionAdvisory[] =
    "Anti-social Behaviour, Crime and Policing Act 2014 s.104(2)(b) and s.104(11)";
inline constexpr char kSectionThreshold[] =
    "Anti-social Behaviour, Crime and Policing Act 2014 s.104(4)";
inline constexpr char kSectionIndividuals[] =
    "Anti-social Behaviour, Crime and Policing Act 2014 s.104(5) (the review procedures)";
inline constexpr char kSectionDecision[] =
    "Anti-social Behaviour, Crime and Policing Act 2014 s.104(6)";
inline constexpr char kSectionReview[] =
    "Anti-social Behaviour, Crime and Policing Act 2014 s.104(7)-(8)";
inline constexpr char kSectionAppeal[] =
    "Anti-social Behaviour, Crime and Policing Act 2014 Sch 4 para 3";

}  // namespace asb::victims
