#pragma once

// The partnership's victim risk matrix (asb.config.v1.RiskMatrix; the shipped
// config/risk/matrix.yaml is a LOCAL-CONFIGURATION EXAMPLE, not an official Home Office score
// table): versioned templates of questions, option weights and bands. Loading checks that every
// template's bands are STANDARD, MEDIUM and HIGH once each and cover every score the questions
// can give without gaps or overlaps; Score checks an assessment's answers against its template
// (an unknown question or option, a question answered twice, a required one unanswered, each
// refused by name). The matrix also holds the partnership's follow-up times (RiskFollowUp: an
// assessment N days after a victim is linked, a reassessment within hours of a new incident for
// a MEDIUM or HIGH victim), which asb-intake keeps on the hub's clock. Immutable and thread-safe
// once built.

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/config/v1/victims.pb.h"
#include "asb/v1/victims.pb.h"
#include "common/config/config.h"

namespace asb::victims {

class RiskMatrix {
 public:
  // kInvalidArgument names every problem with file and line.
  static absl::StatusOr<std::shared_ptr<const RiskMatrix>> LoadFile(
      const std::string& path, const std::vector<std::string>& agencies);
  static absl::StatusOr<std::shared_ptr<const RiskMatrix>> FromConfig(
      const asb::config::v1::RiskMatrix& config, const std::string& file,
      const config::SourceMap* lines, const std::vector<std::string>& agencies);
  // A matrix with no templates.
  static std::shared_ptr<const RiskMatrix> Empty();

  // The template (id, version); version "" is the last version of that id in the file.
  // kNotFound naming the template (and the versions there are).
  absl::StatusOr<const asb::config::v1::RiskTemplate*> Find(const std::string& id,
                                                            const std::string& version) const;

  struct Scored {
    const asb::config::v1::RiskTemplate* tmpl = nullptr;
    int32_t score = 0;
    asb::v1::RiskLevel band = asb::v1::RISK_LEVEL_UNSPECIFIED;
  };
  // Scores `answers` under the template. kInvalidArgument names each problem with `path`
  // ("risk_assessed.answers[2].question_id: the template asb-victim 2026.1 has no question
  // 'q9'"); kNotFound for an unknown template.
  absl::StatusOr<Scored> Score(
      const std::string& template_id, const std::string& version,
      const google::protobuf::RepeatedPtrField<asb::v1::RiskAnswer>& answers,
      const std::string& path) const;

  // The follow-up times: how long after being linked a victim is to be assessed, and how long
  // after a new incident a victim of `band` is to be reassessed. Zero: none.
  absl::Duration AssessWithin() const;
  absl::Duration ReassessWithin(asb::v1::RiskLevel band) const;
  const asb::config::v1::RiskFollowUp& follow_up() const { return config_.follow_up(); }

  std::size_t size() const { return config_.templates_size(); }
  const std::string& version() const { return version_; }

 private:
  RiskMatrix() = default;
  asb::config::v1::RiskMatrix config_;
  std::map<std::pair<std::string, std::string>, const asb::config::v1::RiskTemplate*> by_key_;
  std::map<std::string, const asb::config::v1::RiskTemplate*> latest_;
  std::string version_;  // content hash
};

// "reassessment_due" for VICTIM_NOTICE_KIND_REASSESSMENT_DUE.
std::string VictimNoticeKindWord(asb::v1::VictimNoticeKind kind);
// The notification rule a victim notice alerts its recipients under: "victims:<word>".
std::string VictimNoticeRuleId(asb::v1::VictimNoticeKind kind);

}  // namespace asb::victims
