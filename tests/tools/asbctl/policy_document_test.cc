// asbctl policy document: the agreement rendered from the ISP. The document must hold every
// purpose with its gateway, and for every agency every rule and every field it grants, exactly
// as the ISP says (so the paper cannot drift from the code); the HTML must be one self-contained
// file with all text escaped.
#include "tools/asbctl/policy_document.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "common/config/config.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Src(const std::string& rel) { return std::string(ASB_SOURCE_DIR) + "/" + rel; }

const absl::Time kToday = absl::FromCivil(absl::CivilDay(2026, 12, 1), absl::UTCTimeZone());

std::string Escaped(const std::string& s) {
  return absl::StrReplaceAll(
      s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

class PolicyDocumentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto policy = policy::Policy::LoadFile(Src("config/isp/chesterfield.yaml"));
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *policy;
  }
  std::string Render(DocumentFormat format, absl::Time now = kToday) const {
    return RenderPolicyDocument(*policy_, "config/isp/chesterfield.yaml", format, now);
  }
  std::shared_ptr<const policy::Policy> policy_;
};

// Generated from the rules: every purpose with its lawful basis, every agency, every rule with
// each field it names and what it does with it, every party and signatory.
TEST_F(PolicyDocumentTest, TheShippedAgreementHoldsEveryRuleAndGateway) {
  const std::string html = Render(DocumentFormat::kHtml);
  const auto& isp = policy_->isp();
  for (const auto& purpose : isp.purposes()) {
    EXPECT_THAT(html, HasSubstr(Escaped(purpose.lawful_basis()))) << purpose.id();
  }
  for (const auto& agency : isp.agencies()) {
    EXPECT_THAT(html, HasSubstr(Escaped(absl::StrCat(agency.name(), " (", agency.id(), ")"))));
  }
  for (const auto& rule : isp.rules()) {
    EXPECT_THAT(html, HasSubstr("<th>" + Escaped(rule.id()) + "</th>")) << rule.id();
    for (const auto& grant : rule.fields()) {
      EXPECT_THAT(html, HasSubstr("<td>" + Escaped(grant.path()) + "</td>")) << grant.path();
    }
  }
  for (const auto& party : isp.agreement().parties()) {
    EXPECT_THAT(html, HasSubstr(Escaped(party.organisation())));
    EXPECT_THAT(html, HasSubstr(Escaped(party.signatory().name())));
    EXPECT_THAT(html, HasSubstr(Escaped(party.appropriate_policy_document())));
  }
  EXPECT_THAT(html, HasSubstr(Escaped(isp.agreement().dpia().reference())));
  EXPECT_THAT(html, HasSubstr("within 72 hours"));
  EXPECT_THAT(html, HasSubstr(policy_->version().substr(0, 16)));
}

// The field plan is the rules': a police officer on a personal-ASB case sees a person's
// vulnerable flag but not the health note behind it; fire sees no narrative (denied); a
// rule's conditions and the people it shows read in words, not as the schema spells them.
TEST_F(PolicyDocumentTest, TheFieldPlanAndConditionsAreTheRules) {
  const std::string md = Render(DocumentFormat::kMarkdown);
  // Markdown escapes the underscores of paths and rule ids. Police: police-lead, then
  // police-personal-parties.
  EXPECT_THAT(md, HasSubstr("| Field | police-lead | police-personal-parties |"));
  EXPECT_THAT(md, HasSubstr("| people.vulnerability | shown | redacted |"));
  EXPECT_THAT(md, HasSubstr("| people.vulnerable |  | shown |"));
  EXPECT_THAT(md, HasSubstr("| summary | denied |"));
  EXPECT_THAT(md, HasSubstr("the case is a fire risk"));
  EXPECT_THAT(md, HasSubstr("the victim risk is at least high"));
  EXPECT_THAT(md, HasSubstr("the case has an order of type civil injunction, criminal behaviour "
                            "order, closure order"));
  // Person selectors (Condition.any_person, Rule.people) and source conditions.
  EXPECT_THAT(md, HasSubstr("the case has perpetrators who are children (under 18); showing only "
                            "perpetrators who are children (under 18)"));
  EXPECT_THAT(md, HasSubstr("showing only perpetrators whose tenure is council tenant"));
  EXPECT_THAT(md, HasSubstr("witnesses or reporters who are not confidential reporters or "
                            "fearful witnesses"));
  EXPECT_THAT(md, HasSubstr("its grants cover no fact from the feeds of police"));
  EXPECT_THAT(md, HasSubstr("the agency does not lead the case"));
  EXPECT_THAT(md, Not(HasSubstr("PERSON\\_ROLE")));
  EXPECT_THAT(md, HasSubstr("| Rule | Purpose | In which cases | What for |"));
}

// The aggregates block is part of what the parties sign: who may ask for depersonalised
// figures, under which gateway, and what is withheld.
TEST_F(PolicyDocumentTest, TheDepersonalisedFiguresAreStated) {
  const std::string md = Render(DocumentFormat::kMarkdown);
  const auto& g = policy_->isp().aggregates();
  ASSERT_FALSE(g.purpose().empty());
  EXPECT_THAT(md, HasSubstr("Depersonalised figures"));
  EXPECT_THAT(md, HasSubstr("s.17A"));
  EXPECT_THAT(md, HasSubstr(absl::StrCat("Counts from 1 to ",
                                         (g.suppress_below() == 0 ? 5 : g.suppress_below()) - 1,
                                         " are withheld")));
  asb::config::v1::Isp without = policy_->isp();
  without.clear_aggregates();
  auto compiled = policy::Policy::Compile(without, std::string(32, 'k'), "isp.yaml", nullptr);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_THAT(RenderPolicyDocument(**compiled, "isp.yaml", DocumentFormat::kMarkdown, kToday),
              Not(HasSubstr("Depersonalised figures")));
}

TEST_F(PolicyDocumentTest, TheHtmlIsOneSelfContainedFile) {
  const std::string html = Render(DocumentFormat::kHtml);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_THAT(html, HasSubstr("<meta charset=\"utf-8\">"));
  EXPECT_THAT(html, HasSubstr("</html>\n"));
  for (const char* outside : {"<script", "src=", "href=", "@import", "url("}) {
    EXPECT_THAT(html, Not(HasSubstr(outside))) << outside;
  }
  // Every '<' is markup the renderer wrote: text never carries one (it is &lt;).
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
}

TEST_F(PolicyDocumentTest, TextIsEscapedInBothFormats) {
  asb::config::v1::Isp isp = policy_->isp();
  isp.mutable_purposes(0)->set_description("<script>alert(1)</script> | a & b *bold*");
  auto policy = policy::Policy::Compile(isp, std::string(32, 'k'), "t.yaml", nullptr);
  ASSERT_TRUE(policy.ok()) << policy.status();
  const std::string html = RenderPolicyDocument(**policy, "t.yaml", DocumentFormat::kHtml, kToday);
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt; | a &amp; b *bold*"));
  const std::string md =
      RenderPolicyDocument(**policy, "t.yaml", DocumentFormat::kMarkdown, kToday);
  EXPECT_THAT(md, HasSubstr("&lt;/script> \\| a & b \\*bold\\*"));
}

TEST_F(PolicyDocumentTest, ItSaysWhenTheReviewIsDueOrTheAgreementMissing) {
  EXPECT_THAT(Render(DocumentFormat::kMarkdown), Not(HasSubstr("Review: the")));
  const absl::Time overdue = absl::FromCivil(absl::CivilDay(2028, 4, 15), absl::UTCTimeZone());
  EXPECT_THAT(Render(DocumentFormat::kMarkdown, overdue),
              HasSubstr("Review: the data sharing agreement CCSP-DSA-ASB-2026-DEMO was due for "
                        "review on 2028-03-31"));
  asb::config::v1::Isp isp = policy_->isp();
  isp.clear_agreement();
  auto bare = policy::Policy::Compile(isp, std::string(32, 'k'), "t.yaml", nullptr);
  ASSERT_TRUE(bare.ok()) << bare.status();
  const std::string md = RenderPolicyDocument(**bare, "t.yaml", DocumentFormat::kMarkdown, kToday);
  EXPECT_THAT(md, HasSubstr("The ISP carries no data sharing agreement"));
  EXPECT_THAT(md, HasSubstr("Purposes and lawful bases"));  // the rules are still there
  EXPECT_THAT(md, Not(HasSubstr("Signatures")));
}

}  // namespace
}  // namespace asb::ctl
