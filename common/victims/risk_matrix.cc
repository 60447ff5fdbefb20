#include "common/victims/risk_matrix.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/config/violations.h"
#include "common/crypto/crypto.h"

namespace asb::victims {
namespace {

namespace cfg = ::asb::config::v1;
using asb::v1::RiskLevel;

std::string Name(const cfg::RiskTemplate& t) { return absl::StrCat(t.id(), " ", t.version()); }

void CheckTemplate(const cfg::RiskTemplate& t, const std::string& at,
                   const std::set<std::string>& agencies, config::Violations* v) {
  v->Required(at + ".id", t.id());
  v->Required(at + ".version", t.version());
  int lowest = 0;
  int highest = 0;
  std::set<std::string> questions;
  for (int q = 0; q < t.questions_size(); ++q) {
    const cfg::RiskQuestion& question = t.questions(q);
    const std::string qat = absl::StrCat(at, ".questions[", q, "]");
    if (question.id().empty()) {
      v->Add(qat + ".id", "required");
    } else if (!questions.insert(question.id()).second) {
      v->Add(qat + ".id", absl::StrCat("duplicate question '", question.id(), "'"));
    }
    if (question.options_size() == 0) {
      v->Add(qat + ".options", "at least one option");
      continue;
    }
    std::set<std::string> options;
    int min_w = 0;
    int max_w = 0;
    for (int o = 0; o < question.options_size(); ++o) {
      const cfg::RiskOption& option = question.options(o);
      const std::string oat = absl::StrCat(qat, ".options[", o, "]");
      if (option.id().empty()) {
        v->Add(oat + ".id", "required");
      } else if (!options.insert(option.id()).second) {
        v->Add(oat + ".id", absl::StrCat("duplicate option '", option.id(), "'"));
      }
      if (option.weight() < 0 || option.weight() > 100) {
        v->Add(oat + ".weight", "0 to 100");
      }
      min_w = o == 0 ? option.weight() : std::min(min_w, option.weight());
      max_w = o == 0 ? option.weight() : std::max(max_w, option.weight());
    }
    // An optional question left unanswered adds nothing.
    lowest += question.required() ? min_w : std::min(0, min_w);
    highest += max_w;
  }
  if (t.questions_size() == 0) {
    v->Add(at + ".questions", "at least one question");
  }
  // Bands: STANDARD, MEDIUM, HIGH once each, covering [lowest, highest] exactly.
  std::vector<const cfg::RiskBand*> bands;
  std::set<int> levels;
  for (int b = 0; b < t.bands_size(); ++b) {
    const cfg::RiskBand& band = t.bands(b);
    const std::string bat = absl::StrCat(at, ".bands[", b, "]");
    if (band.level() == asb::v1::RISK_LEVEL_UNSPECIFIED ||
        !asb::v1::RiskLevel_IsValid(band.level())) {
      v->Add(bat + ".level", "RISK_LEVEL_STANDARD, RISK_LEVEL_MEDIUM or RISK_LEVEL_HIGH");
    } else if (!levels.insert(band.level()).second) {
      v->Add(bat + ".level",
             absl::StrCat("band ", asb::v1::RiskLevel_Name(band.level()), " given twice"));
    }
    if (band.min_score() > band.max_score()) {
      v->Add(bat, absl::StrCat("min_score ", band.min_score(), " is above max_score ",
                               band.max_score()));
    }
    bands.push_back(&band);
  }
  if (levels.size() != 3) {
    v->Add(at + ".bands", "STANDARD, MEDIUM and HIGH are each required once");
  }
  if (t.bands_size() == 0) {
    return;
  }
  std::sort(bands.begin(), bands.end(), [](const cfg::RiskBand* a, const cfg::RiskBand* b) {
    return a->min_score() < b->min_score();
  });
  // Higher scores must mean higher bands.
  for (std::size_t i = 1; i < bands.size(); ++i) {
    if (bands[i]->level() <= bands[i - 1]->level()) {
      v->Add(at + ".bands",
             absl::StrCat("band ", RiskLevel_Name(bands[i]->level()), " covers lower scores than ",
                          RiskLevel_Name(bands[i - 1]->level())));
    }
  }
  if (bands.front()->min_score() > lowest) {
    v->Add(at + ".bands",
           absl::StrCat("gap: scores ", lowest, " to ", bands.front()->min_score() - 1,
                        " are in no band (the lowest possible score is ", lowest, ")"));
  }
  for (std::size_t i = 1; i < bands.size(); ++i) {
    const int prev_max = bands[i - 1]->max_score();
    const int min = bands[i]->min_score();
    if (min <= prev_max) {
      v->Add(at + ".bands", absl::StrCat("overlap: scores ", min, " to ",
                                         std::min(prev_max, bands[i]->max_score()), " are in both ",
                                         RiskLevel_Name(bands[i - 1]->level()), " and ",
                                         RiskLevel_Name(bands[i]->level())));
    } else if (min > prev_max + 1) {
      v->Add(at + ".bands",
             absl::StrCat("gap: scores ", prev_max + 1, " to ", min - 1, " are in no band"));
    }
  }
  int top = bands.front()->max_score();
  for (const cfg::RiskBand* b : bands) {
    top = std::max(top, b->max_score());
  }
  if (top < highest) {
    v->Add(at + ".bands",
           absl::StrCat("gap: scores ", top + 1, " to ", highest,
                        " are in no band (the highest possible score is ", highest, ")"));
  }
  for (const std::string* agency : {&t.safeguarding_adults(), &t.safeguarding_children()}) {
    if (!agency->empty() && !agencies.empty() && agencies.count(*agency) == 0) {
      v->Add(at + (agency == &t.safeguarding_adults() ? ".safeguarding_adults"
                                                      : ".safeguarding_children"),
             absl::StrCat("unknown agency '", *agency, "' (not in the ISP)"));
    }
  }
}

void CheckFollowUp(const cfg::RiskFollowUp& f, config::Violations* v) {
  if (f.assess_within_days() > 365) {
    v->Add("follow_up.assess_within_days", "0 (no reminder) to 365");
  }
  if (f.reassess_medium_hours() > 8760) {
    v->Add("follow_up.reassess_medium_hours", "0 (none) to 8760 (a year)");
  }
  if (f.reassess_high_hours() > 8760) {
    v->Add("follow_up.reassess_high_hours", "0 (none) to 8760 (a year)");
  }
  if (f.reassess_high_hours() != 0 && f.reassess_medium_hours() != 0 &&
      f.reassess_high_hours() > f.reassess_medium_hours()) {
    v->Add("follow_up.reassess_high_hours",
           absl::StrCat("a HIGH risk victim must not wait longer (", f.reassess_high_hours(),
                        " hours) than a MEDIUM one (", f.reassess_medium_hours(), ")"));
  }
  const bool any =
      f.assess_within_days() != 0 || f.reassess_medium_hours() != 0 || f.reassess_high_hours() != 0;
  if (any && f.basis().empty()) {
    v->Add("follow_up.basis",
           "required with a follow-up time: where the time comes from (it is no statutory limit)");
  }
  if (f.basis().size() > 200) {
    v->Add("follow_up.basis", "longer than 200 characters");
  }
}

}  // namespace

absl::Duration RiskMatrix::AssessWithin() const {
  return absl::Hours(24) * static_cast<int64_t>(config_.follow_up().assess_within_days());
}

absl::Duration RiskMatrix::ReassessWithin(asb::v1::RiskLevel band) const {
  switch (band) {
    case asb::v1::RISK_LEVEL_MEDIUM:
      return absl::Hours(config_.follow_up().reassess_medium_hours());
    case asb::v1::RISK_LEVEL_HIGH:
      return absl::Hours(config_.follow_up().reassess_high_hours());
    default:
      return absl::ZeroDuration();
  }
}

std::string VictimNoticeKindWord(asb::v1::VictimNoticeKind kind) {
  absl::string_view word = asb::v1::VictimNoticeKind_Name(kind);
  absl::ConsumePrefix(&word, "VICTIM_NOTICE_KIND_");
  return absl::AsciiStrToLower(word);
}

std::string VictimNoticeRuleId(asb::v1::VictimNoticeKind kind) {
  return absl::StrCat("victims:", VictimNoticeKindWord(kind));
}

std::shared_ptr<const RiskMatrix> RiskMatrix::Empty() {
  static const std::shared_ptr<const RiskMatrix> empty(new RiskMatrix());
  return empty;
}

absl::StatusOr<std::shared_ptr<const RiskMatrix>> RiskMatrix::LoadFile(
    const std::string& path, const std::vector<std::string>& agencies) {
  cfg::RiskMatrix m;
  config::SourceMap lines;
  if (absl::Status s = config::LoadConfigFile(path, &m, &lines); !s.ok()) {
    return s;
  }
  return FromConfig(m, path, &lines, agencies);
}

absl::StatusOr<std::shared_ptr<const RiskMatrix>> RiskMatrix::FromConfig(
    const cfg::RiskMatrix& config, const std::string& file, const config::SourceMap* lines,
    const std::vector<std::string>& agencies) {
  std::shared_ptr<RiskMatrix> m(new RiskMatrix());
  m->config_ = config;
  config::Violations v(file, lines);
  const std::set<std::string> known(agencies.begin(), agencies.end());
  for (int i = 0; i < m->config_.templates_size(); ++i) {
    const cfg::RiskTemplate& t = m->config_.templates(i);
    const std::string at = absl::StrCat("templates[", i, "]");
    CheckTemplate(t, at, known, &v);
    if (!m->by_key_.emplace(std::make_pair(t.id(), t.version()), &t).second) {
      v.Add(at, absl::StrCat("template ", Name(t), " given twice"));
    }
    m->latest_[t.id()] = &t;
  }
  CheckFollowUp(m->config_.follow_up(), &v);
  if (!v.empty()) {
    return v.ToStatus("risk matrix");
  }
  m->version_ = crypto::HexEncode(crypto::Sha256(m->config_.SerializeAsString())).substr(0, 12);
  return std::shared_ptr<const RiskMatrix>(std::move(m));
}

absl::StatusOr<const cfg::RiskTemplate*> RiskMatrix::Find(const std::string& id,
                                                          const std::string& version) const {
  if (version.empty()) {
    if (auto it = latest_.find(id); it != latest_.end()) {
      return it->second;
    }
  } else if (auto it = by_key_.find({id, version}); it != by_key_.end()) {
    return it->second;
  }
  std::vector<std::string> have;
  for (const auto& [key, t] : by_key_) {
    have.push_back(absl::StrCat(key.first, " ", key.second));
  }
  return absl::NotFoundError(absl::StrCat("no risk template '", id, version.empty() ? "" : " ",
                                          version, "' (the risk matrix has ",
                                          have.empty() ? "none" : absl::StrJoin(have, ", "), ")"));
}

absl::StatusOr<RiskMatrix::Scored> RiskMatrix::Score(
    const std::string& template_id, const std::string& version,
    const google::protobuf::RepeatedPtrField<asb::v1::RiskAnswer>& answers,
    const std::string& path) const {
  absl::StatusOr<const cfg::RiskTemplate*> found = Find(template_id, version);
  if (!found.ok()) {
    return absl::Status(found.status().code(),
                        absl::StrCat(path, ".template_id: ", found.status().message()));
  }
  const cfg::RiskTemplate& t = **found;
  std::vector<std::string> problems;
  std::set<std::string> answered;
  Scored out;
  out.tmpl = &t;
  for (int i = 0; i < answers.size(); ++i) {
    const asb::v1::RiskAnswer& a = answers[i];
    const std::string at = absl::StrCat(path, ".answers[", i, "]");
    const cfg::RiskQuestion* q = nullptr;
    for (const cfg::RiskQuestion& candidate : t.questions()) {
      if (candidate.id() == a.question_id()) {
        q = &candidate;
      }
    }
    if (q == nullptr) {
      problems.push_back(absl::StrCat(at, ".question_id: the template ", Name(t),
                                      " has no question '", a.question_id(), "'"));
      continue;
    }
    if (!answered.insert(q->id()).second) {
      problems.push_back(absl::StrCat(at, ".question_id: question '", q->id(), "' answered twice"));
      continue;
    }
    const cfg::RiskOption* option = nullptr;
    for (const cfg::RiskOption& candidate : q->options()) {
      if (candidate.id() == a.option_id()) {
        option = &candidate;
      }
    }
    if (option == nullptr) {
      std::vector<std::string> ids;
      for (const cfg::RiskOption& o : q->options()) {
        ids.push_back(o.id());
      }
      problems.push_back(absl::StrCat(at, ".option_id: question '", q->id(), "' has no option '",
                                      a.option_id(), "' (options: ", absl::StrJoin(ids, ", "),
                                      ")"));
      continue;
    }
    out.score += option->weight();
  }
  for (const cfg::RiskQuestion& q : t.questions()) {
    if (q.required() && answered.count(q.id()) == 0) {
      problems.push_back(absl::StrCat(path, ".answers: required question '", q.id(),
                                      "' of the template ", Name(t), " is not answered"));
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  }
  for (const cfg::RiskBand& b : t.bands()) {
    if (out.score >= b.min_score() && out.score <= b.max_score()) {
      out.band = b.level();
    }
  }
  return out;
}

}  // namespace asb::victims
