// Unit tests of the policy engine against small ISPs: loading and every load-time error
// (PolicyLoadTest), application of field plans (PolicyApplyTest), conditions, notifications and
// the shipped Chesterfield ISP. Over 800 lines because it holds one case per load-time error the
// ISP schema can give; the per-person grants are in policy_people_test.cc and the random
// cases in policy_property_test.cc.

#include "common/policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/config/config.h"
#include "common/crypto/crypto.h"
#include "common/policy/internal/plan.h"
#include "common/policy/internal/schema.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/common/policy/policy_test_support.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::policy {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
using ::asb::v1::Disclosure;
using test_support::Apply;
using test_support::kKey;
using test_support::Make;
using test_support::PolicyLoadTest;
using test_support::Pseudonym;
using test_support::Read;
using test_support::SampleCase;
using test_support::Src;
using test_support::Write;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// ------------------------------------------------------------------------------ transforms

TEST(PolicyApplyTest, ShowCopiesExactlyTheGrantedFieldsAndNothingElse) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
      - { path: location, action: FIELD_ACTION_SHOW }
      - { path: people.given_name, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  Disclosure d = Apply(*p, "police", c);
  asb::v1::Case expected;
  expected.set_case_id(c.case_id());
  *expected.mutable_location() = c.location();
  expected.add_people()->set_given_name("Alice");
  expected.add_people()->set_given_name("Bob");
  expected.add_people()->set_given_name("Carol");
  EXPECT_EQ(d.view().SerializeAsString(), expected.SerializeAsString()) << d.view().DebugString();
  EXPECT_EQ(d.isp_version(), p->version());
  ASSERT_EQ(d.justifications_size(), 1);
  EXPECT_EQ(d.justifications(0).rule_id(), "r");
  EXPECT_EQ(d.justifications(0).purpose(), "csp");
  EXPECT_EQ(d.justifications(0).lawful_basis(), "CDA 1998 s.115");
}

TEST(PolicyApplyTest, DefaultDenyWithNoGrantedFieldsPresentIsEmptyView) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: closure_reason, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  Disclosure d = Apply(*p, "police", SampleCase());
  EXPECT_EQ(d.view().ByteSizeLong(), 0u) << d.view().DebugString();
  EXPECT_TRUE(d.subject_keys().empty());
}

TEST(PolicyApplyTest, PseudonymiseIsKeyedHmacOfPathAndValueStableAcrossCases) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: people.person_id, action: FIELD_ACTION_PSEUDONYMISE }
      - { path: people.family_name, action: FIELD_ACTION_PSEUDONYMISE }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  Disclosure d = Apply(*p, "police", c);
  ASSERT_EQ(d.view().people_size(), 3);  // Carol: only her pseudonymised person_id
  EXPECT_EQ(d.view().people(2).family_name(), "");
  EXPECT_EQ(d.view().people(0).family_name(), Pseudonym("people.family_name", "Smith"));
  EXPECT_EQ(d.view().people(0).person_id(), Pseudonym("people.person_id", "P-1"));
  EXPECT_EQ(d.view().people(1).family_name(), Pseudonym("people.family_name", "Jones"));
  EXPECT_EQ(d.view().people(0).family_name().size(), 27u);
  // The same value in another case yields the same token (linkable), other values differ.
  asb::v1::Case other;
  other.add_people()->set_family_name("Smith");
  Disclosure d2 = Apply(*p, "police", other);
  EXPECT_EQ(d2.view().people(0).family_name(), d.view().people(0).family_name());
  EXPECT_NE(d.view().people(0).family_name(), d.view().people(1).family_name());
}

TEST(PolicyApplyTest, PseudonymDependsOnTheKey) {
  asb::config::v1::Isp isp = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: people.family_name, action: FIELD_ACTION_PSEUDONYMISE }
)")
                                 ->isp();
  auto other = Policy::Compile(isp, std::string(32, 'z'), "t", nullptr);
  ASB_ASSERT_OK(other);
  Disclosure d = Apply(**other, "police", SampleCase());
  EXPECT_NE(d.view().people(0).family_name(), Pseudonym("people.family_name", "Smith"));
}

// Tokens are cached per thread: alternating between two policies with different keys (a
// reload) must never hand one policy's token to the other.
TEST(PolicyApplyTest, TokenCacheIsPerPolicy) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: people.family_name, action: FIELD_ACTION_PSEUDONYMISE }
)");
  auto other = Policy::Compile(p->isp(), std::string(32, 'z'), "t", nullptr);
  ASB_ASSERT_OK(other);
  const std::string mine = "sk_" + crypto::HexEncode(crypto::HmacSha256(kKey, "P-1")).substr(0, 32);
  const std::string theirs =
      "sk_" + crypto::HexEncode(crypto::HmacSha256(std::string(32, 'z'), "P-1")).substr(0, 32);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p->SubjectKey("P-1"), mine);
    EXPECT_EQ((*other)->SubjectKey("P-1"), theirs);
    EXPECT_EQ(Apply(*p, "police", SampleCase()).view().people(0).family_name(),
              Pseudonym("people.family_name", "Smith"));
    EXPECT_NE(Apply(**other, "police", SampleCase()).view().people(0).family_name(),
              Pseudonym("people.family_name", "Smith"));
  }
}

// A Disclosure reused across Apply calls holds only the last view (the view is cleared, not
// reallocated).
TEST(PolicyApplyTest, ReusedDisclosureHoldsOnlyTheLastView) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: people.given_name, action: FIELD_ACTION_SHOW }
      - { path: summary, action: FIELD_ACTION_SHOW }
)");
  Disclosure d;
  asb::v1::Case full = SampleCase();
  ASSERT_TRUE(p->Apply("police", full, {}, &d));
  ASSERT_GT(d.view().people_size(), 0);
  asb::v1::Case small;
  small.set_summary("only this");
  ASSERT_TRUE(p->Apply("police", small, {}, &d));
  EXPECT_EQ(d.view().people_size(), 0);
  EXPECT_EQ(d.view().summary(), "only this");
  EXPECT_EQ(d.view().ByteSizeLong(), small.ByteSizeLong());
}

// Every singular string field of the Case schema is copied by typed accessors; a field added
// to case.proto without an entry in internal/schema.cc's table fails here (it would still work,
// through reflection, only slower).
TEST(PolicySchemaTest, EveryStringFieldHasTypedAccessors) {
  for (const auto& n : internal::Schema::Get().nodes()) {
    if (n.is_string && !n.field->is_repeated()) {
      EXPECT_NE(n.get_string, nullptr) << n.path;
      EXPECT_NE(n.mutable_string, nullptr) << n.path;
    }
    const auto type = n.field == nullptr ? google::protobuf::FieldDescriptor::CPPTYPE_STRING
                                         : n.field->cpp_type();
    if (n.leaf && !n.field->is_repeated() &&
        (type == google::protobuf::FieldDescriptor::CPPTYPE_ENUM ||
         type == google::protobuf::FieldDescriptor::CPPTYPE_BOOL ||
         type == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE)) {
      EXPECT_NE(n.copy_leaf, nullptr) << n.path;
    }
  }
}

TEST(PolicyApplyTest, GeneraliseDateOfBirthToAgeBandAsOfUpdatedAt) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: people.date_of_birth, action: FIELD_ACTION_GENERALISE }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  c.mutable_updated_at()->set_seconds(1718000000);  // 2024-06-10
  struct {
    const char* dob;
    const char* band;
  } cases[] = {{"2006-06-11", "under 18"}, {"2006-06-10", "18-24"}, {"1999-06-11", "18-24"},
               {"1999-06-10", "25-34"},    {"1980-06-11", "35-44"}, {"1980-06-10", "35-44"},
               {"1979-06-10", "45-54"},    {"1969-06-10", "55-64"}, {"1959-06-10", "65+"}};
  for (const auto& t : cases) {
    c.mutable_people(0)->set_date_of_birth(t.dob);
    Disclosure d = Apply(*p, "police", c);
    EXPECT_EQ(d.view().people(0).age_band(), t.band) << t.dob;
    EXPECT_EQ(d.view().people(0).date_of_birth(), "") << t.dob;
  }
  // An unparseable date yields nothing, not a guess.
  c.mutable_people(0)->set_date_of_birth("1980-02-30");
  Disclosure d = Apply(*p, "police", c);
  ASSERT_EQ(d.view().people_size(), 1);               // Alice had nothing else granted: dropped
  EXPECT_EQ(d.view().people(0).age_band(), "25-34");  // Bob, born 1990-01-01
}

TEST(PolicyApplyTest, GeneraliseAddressKeepsOnlyPostcodeDistrict) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: people.address, action: FIELD_ACTION_GENERALISE }
)");
  ASSERT_NE(p, nullptr);
  Disclosure d = Apply(*p, "police", SampleCase());
  ASSERT_EQ(d.view().people_size(), 2);
  asb::v1::Address expected;
  expected.set_postcode_district("S40");
  EXPECT_EQ(d.view().people(0).address().SerializeAsString(), expected.SerializeAsString())
      << d.view().people(0).address().DebugString();
  EXPECT_EQ(d.view().people(1).address().postcode_district(), "S41");
}

TEST(PolicyApplyTest, GeneralisePostcodeStringToOutwardCode) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: people.address.postcode, action: FIELD_ACTION_GENERALISE }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  c.mutable_people(1)->mutable_address()->set_postcode("s417ab");
  Disclosure d = Apply(*p, "police", c);
  EXPECT_EQ(d.view().people(0).address().postcode(), "");
  EXPECT_EQ(d.view().people(0).address().postcode_district(), "S40");
  EXPECT_EQ(d.view().people(1).address().postcode_district(), "S41");
}

TEST(PolicyApplyTest, GeneraliseLocationKeepsLsoaAndWard) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: location, action: FIELD_ACTION_GENERALISE }
)");
  ASSERT_NE(p, nullptr);
  Disclosure d = Apply(*p, "police", SampleCase());
  asb::v1::Location expected;
  expected.set_lsoa_code("E01019400");
  expected.set_ward("Brimington South");
  EXPECT_EQ(d.view().location().SerializeAsString(), expected.SerializeAsString());
}

TEST(PolicyApplyTest, GeneraliseTimestampTruncatesToUtcDate) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: opened_at, action: FIELD_ACTION_GENERALISE }
      - { path: incidents.occurred_at, action: FIELD_ACTION_GENERALISE }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  c.mutable_opened_at()->set_nanos(5);
  Disclosure d = Apply(*p, "police", c);
  EXPECT_EQ(d.view().opened_at().seconds(), 1716940800);  // 2024-05-29T00:00:00Z
  EXPECT_EQ(d.view().opened_at().nanos(), 0);
  EXPECT_EQ(d.view().incidents(0).occurred_at().seconds() % 86400, 0);
  EXPECT_EQ(d.view().incidents(0).incident_id(), "");
}

TEST(PolicyApplyTest, RedactWithholdsValueAndRecordsPathOnce) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
      - { path: people.phone, action: FIELD_ACTION_REDACT }
      - { path: people.address, action: FIELD_ACTION_REDACT }
      - { path: closure_reason, action: FIELD_ACTION_REDACT }
)");
  ASSERT_NE(p, nullptr);
  Disclosure d = Apply(*p, "police", SampleCase());
  // Two people have phones and addresses: one entry each. closure_reason is absent: not listed.
  EXPECT_THAT(d.redacted_paths(), UnorderedElementsAre("people.phone", "people.address"));
  EXPECT_EQ(d.view().people_size(), 0);  // nothing of any person is shown
  EXPECT_TRUE(d.subject_keys().empty());
  EXPECT_EQ(d.view().case_id(), "CBC-2024-0042");
}

// ------------------------------------------------------------------------------ combining

TEST(PolicyApplyTest, DenyOverridesShowFromAnotherRuleAndEnclosingPath) {
  auto p = Make(R"(rules:
  - id: show-people
    agency: police
    purpose: csp
    fields:
      - { path: people, action: FIELD_ACTION_SHOW }
      - { path: people.phone, action: FIELD_ACTION_SHOW }
  - id: deny-phone
    agency: police
    purpose: csp
    fields:
      - { path: people.phone, action: FIELD_ACTION_DENY }
)");
  ASSERT_NE(p, nullptr);
  Disclosure d = Apply(*p, "police", SampleCase());
  ASSERT_EQ(d.view().people_size(), 3);
  for (const auto& person : d.view().people()) {
    EXPECT_EQ(person.phone(), "");
  }
  EXPECT_EQ(d.view().people(0).address().line1(), "1 Manor Road");
  bool found = false;
  for (const auto& f : d.fields()) {
    if (f.path() == "people.phone") {
      found = true;
      EXPECT_EQ(f.action(), asb::v1::FIELD_ACTION_DENY);
      EXPECT_EQ(f.rule_id(), "deny-phone");
    }
  }
  EXPECT_TRUE(found);
  // A deny-only rule contributes no justification.
  ASSERT_EQ(d.justifications_size(), 1);
  EXPECT_EQ(d.justifications(0).rule_id(), "show-people");
}

TEST(PolicyApplyTest, DenyOnEnclosingMessageWinsOverShowedSubfield) {
  auto p = Make(R"(rules:
  - id: a
    agency: police
    purpose: csp
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
      - { path: people.address.postcode, action: FIELD_ACTION_SHOW }
  - id: b
    agency: police
    purpose: csp
    fields:
      - { path: people.address, action: FIELD_ACTION_DENY }
)");
  ASSERT_NE(p, nullptr);
  Disclosure d = Apply(*p, "police", SampleCase());
  EXPECT_EQ(d.view().people_size(), 0);
}

TEST(PolicyApplyTest, UnionOfTwoMatchingRulesAndOnlyMatchingOnes) {
  auto p = Make(R"(rules:
  - id: base
    agency: police
    purpose: csp
    fields:
      - { path: title, action: FIELD_ACTION_SHOW }
  - id: tenancy
    agency: police
    purpose: safe
    when: { council_tenancy: true }
    fields:
      - { path: summary, action: FIELD_ACTION_SHOW }
  - id: fire
    agency: police
    purpose: csp
    when: { fire_risk: true }
    fields:
      - { path: risk_notes, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  Disclosure d = Apply(*p, "police", c);
  EXPECT_EQ(d.view().title(), c.title());
  EXPECT_EQ(d.view().summary(), c.summary());
  EXPECT_EQ(d.view().risk_notes(), "");
  ASSERT_EQ(d.justifications_size(), 2);
  EXPECT_EQ(d.justifications(0).rule_id(), "base");
  EXPECT_EQ(d.justifications(1).rule_id(), "tenancy");
  EXPECT_EQ(d.justifications(1).lawful_basis(), "Children Act 2004 s.11");
  c.mutable_flags()->set_council_tenancy(false);
  d = Apply(*p, "police", c);
  EXPECT_EQ(d.view().summary(), "");
  EXPECT_EQ(d.justifications_size(), 1);
}

TEST(PolicyApplyTest, MostRevealingActionWins) {
  auto p = Make(R"(rules:
  - id: a
    agency: police
    purpose: csp
    fields:
      - { path: people.family_name, action: FIELD_ACTION_PSEUDONYMISE }
      - { path: people.date_of_birth, action: FIELD_ACTION_REDACT }
  - id: b
    agency: police
    purpose: csp
    fields:
      - { path: people.family_name, action: FIELD_ACTION_SHOW }
      - { path: people.date_of_birth, action: FIELD_ACTION_GENERALISE }
)");
  ASSERT_NE(p, nullptr);
  Disclosure d = Apply(*p, "police", SampleCase());
  EXPECT_EQ(d.view().people(0).family_name(), "Smith");
  EXPECT_EQ(d.view().people(0).age_band(), "35-44");
  EXPECT_TRUE(d.redacted_paths().empty());
  for (const auto& f : d.fields()) {
    if (f.path() == "people.family_name") {
      EXPECT_EQ(f.action(), asb::v1::FIELD_ACTION_SHOW);
      EXPECT_EQ(f.rule_id(), "b");
    }
  }
}

TEST(PolicyApplyTest, PersonRolesRestrictPeopleGrantsAndDropUngrantedPeople) {
  auto p = Make(R"(rules:
  - id: case
    agency: police
    purpose: csp
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
      - { path: people.role, action: FIELD_ACTION_SHOW }
  - id: victims
    agency: council
    purpose: csp
    when: { person_roles: [PERSON_ROLE_VICTIM] }
    fields:
      - { path: people, action: FIELD_ACTION_SHOW }
  - id: perpetrators
    agency: council
    purpose: csp
    when: { person_roles: [PERSON_ROLE_PERPETRATOR] }
    fields:
      - { path: people.person_id, action: FIELD_ACTION_PSEUDONYMISE }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  Disclosure d = Apply(*p, "council", c);
  ASSERT_EQ(d.view().people_size(), 2);  // the witness is dropped entirely
  EXPECT_EQ(d.view().people(0).SerializeAsString(), c.people(0).SerializeAsString());
  EXPECT_EQ(d.view().people(1).person_id(), Pseudonym("people.person_id", "P-2"));
  EXPECT_EQ(d.view().people(1).given_name(), "");
  EXPECT_EQ(d.view().people(1).role(), asb::v1::PERSON_ROLE_UNSPECIFIED);
  EXPECT_THAT(d.subject_keys(), ElementsAre(p->SubjectKey("P-1"), p->SubjectKey("P-2")));
  // No victim on the case: the victims rule does not match at all.
  c.mutable_people()->DeleteSubrange(0, 1);
  d = Apply(*p, "council", c);
  ASSERT_EQ(d.justifications_size(), 1);
  EXPECT_EQ(d.justifications(0).rule_id(), "perpetrators");
  // No victim and no perpetrator: nothing matches, the agency may not see the case.
  c.mutable_people()->DeleteSubrange(0, 1);
  Disclosure untouched;
  untouched.set_agency("council");
  EXPECT_FALSE(p->Apply("council", c, {}, &untouched));
  EXPECT_EQ(untouched.agency(), "council");
  EXPECT_FALSE(untouched.has_view());
}

TEST(PolicyApplyTest, SubjectKeysCoverEachPersonInTheViewOnce) {
  auto p = Make(R"(rules:
  - id: r
    agency: police
    purpose: csp
    fields:
      - { path: people.given_name, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  auto* again = c.add_people();  // the victim also linked as reporter
  again->set_person_id("P-1");
  again->set_role(asb::v1::PERSON_ROLE_REPORTER);
  again->set_given_name("Alice");
  Disclosure d = Apply(*p, "police", c);
  EXPECT_THAT(d.subject_keys(),
              ElementsAre(p->SubjectKey("P-1"), p->SubjectKey("P-2"), p->SubjectKey("P-3")));
  EXPECT_EQ(p->SubjectKey("P-1"),
            "sk_" + crypto::HexEncode(crypto::HmacSha256(kKey, "P-1")).substr(0, 32));
}

TEST(PolicyApplyTest, FieldDecisionsNameTheDecidingRule) {
  auto p = Make(R"(rules:
  - id: a
    agency: police
    purpose: csp
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
      - { path: people.address, action: FIELD_ACTION_GENERALISE }
  - id: b
    agency: police
    purpose: csp
    fields:
      - { path: people, action: FIELD_ACTION_REDACT }
)");
  ASSERT_NE(p, nullptr);
  Disclosure d = Apply(*p, "police", SampleCase());
  std::vector<std::string> got;
  for (const auto& f : d.fields()) {
    got.push_back(
        absl::StrCat(f.path(), "=", asb::v1::FieldAction_Name(f.action()), "@", f.rule_id()));
  }
  EXPECT_THAT(got, ElementsAre("case_id=FIELD_ACTION_SHOW@a", "people=FIELD_ACTION_REDACT@b",
                               "people.address=FIELD_ACTION_GENERALISE@a"));
  // Every person field but the address is redacted; the address is generalised.
  EXPECT_EQ(d.view().people(0).address().postcode_district(), "S40");
  EXPECT_EQ(d.view().people(0).given_name(), "");
  EXPECT_THAT(d.redacted_paths(), ::testing::Contains("people.given_name"));
}

// ------------------------------------------------------------------------------ conditions

TEST(PolicyConditionTest, SubjectUnder18UsesVictimsAndPerpetratorsAtUpdatedAt) {
  auto p = Make(R"(rules:
  - id: young
    agency: police
    purpose: safe
    when: { subject_under_18: true }
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
  - id: young-perp
    agency: council
    purpose: safe
    when: { subject_under_18: true, person_roles: [PERSON_ROLE_PERPETRATOR] }
    fields:
      - { path: people, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();  // updated 2024-06-10
  Disclosure d;
  EXPECT_FALSE(p->Apply("police", c, {}, &d));
  c.mutable_people(2)->set_date_of_birth("2010-01-01");  // a child witness does not count
  EXPECT_FALSE(p->Apply("police", c, {}, &d));
  c.mutable_people(0)->set_date_of_birth("2006-06-11");  // victim turns 18 the next day
  EXPECT_TRUE(p->Apply("police", c, {}, &d));
  EXPECT_FALSE(p->Apply("council", c, {}, &d));          // the young one is the victim, not a perp
  c.mutable_people(0)->set_date_of_birth("2006-06-10");  // 18 that day
  EXPECT_FALSE(p->Apply("police", c, {}, &d));
  c.mutable_people(1)->set_date_of_birth("2008-03-01");
  ASSERT_TRUE(p->Apply("council", c, {}, &d));
  ASSERT_EQ(d.view().people_size(), 1);
  EXPECT_EQ(d.view().people(0).person_id(), "P-2");
}

TEST(PolicyConditionTest, EventAndOrderTypes) {
  auto p = Make(R"(rules:
  - id: cbo
    agency: police
    purpose: csp
    when: { order_types: [ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER] }
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
  - id: issued
    agency: council
    purpose: csp
    when: { event_types: [EVENT_TYPE_ORDER_ISSUED], nsir_categories: [NSIR_CATEGORY_PERSONAL],
            min_victim_risk: RISK_LEVEL_MEDIUM, wards: ["Brimington South"],
            tenures: [TENURE_COUNCIL_TENANT], hate_motivated: false }
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  Disclosure d;
  EXPECT_FALSE(p->Apply("police", c, {}, &d));
  EventContext cbo{asb::v1::EVENT_TYPE_ORDER_ISSUED, asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER};
  EXPECT_TRUE(p->Apply("police", c, cbo, &d));
  c.add_orders()->set_type(asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
  EXPECT_TRUE(p->Apply("police", c, {}, &d));  // an order on the case counts too

  EXPECT_TRUE(p->Apply("council", c, cbo, &d));
  EXPECT_FALSE(p->Apply("council", c, {asb::v1::EVENT_TYPE_CASE_UPDATED}, &d));
  auto low = c;
  low.set_victim_risk(asb::v1::RISK_LEVEL_STANDARD);
  EXPECT_FALSE(p->Apply("council", low, cbo, &d));
  auto elsewhere = c;
  elsewhere.mutable_location()->set_ward("Hasland");
  EXPECT_FALSE(p->Apply("council", elsewhere, cbo, &d));
  auto hate = c;
  hate.mutable_flags()->set_hate_motivated(true);
  EXPECT_FALSE(p->Apply("council", hate, cbo, &d));
  auto owner = c;
  owner.mutable_people(0)->set_tenure(asb::v1::TENURE_OWNER_OCCUPIER);
  EXPECT_FALSE(p->Apply("council", owner, cbo, &d));
  EXPECT_FALSE(p->Apply("nobody", c, cbo, &d));
}

// Conditions name enum values by their place in the enum, not their number: a value numbered
// from an issue's range (EVENT_TYPE_STATUTORY_NOTICE = 356, NSIR_CATEGORY_NOT_KNOWN = 450,
// PERSON_ROLE_PARENT_CARER = 300) matches, and matches only itself (356 is not 356 % 32 = 4,
// EVENT_TYPE_CASE_CLOSED, nor 356 % 64 = 36).
TEST(PolicyConditionTest, ValuesNumberedPast32MatchExactlyThemselves) {
  auto p = Make(R"(rules:
  - id: notices
    agency: council
    purpose: csp
    when: { event_types: [EVENT_TYPE_STATUTORY_NOTICE] }
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
  - id: not-known
    agency: police
    purpose: csp
    when: { nsir_categories: [NSIR_CATEGORY_NOT_KNOWN], person_roles: [PERSON_ROLE_PARENT_CARER] }
    fields:
      - { path: case_id, action: FIELD_ACTION_SHOW }
)");
  ASSERT_NE(p, nullptr);
  auto c = SampleCase();
  Disclosure d;
  EXPECT_TRUE(p->Apply("council", c, {asb::v1::EVENT_TYPE_STATUTORY_NOTICE}, &d));
  EXPECT_EQ(d.view().case_id(), c.case_id());
  EXPECT_FALSE(p->Apply("council", c, {asb::v1::EVENT_TYPE_CASE_CLOSED}, &d));
  EXPECT_FALSE(p->Apply("council", c, {asb::v1::EVENT_TYPE_REVIEW_HELD}, &d));
  EXPECT_FALSE(p->Apply("council", c, {}, &d));

  auto parent = c;
  parent.set_nsir_category(asb::v1::NSIR_CATEGORY_NOT_KNOWN);
  parent.mutable_people(0)->set_role(asb::v1::PERSON_ROLE_PARENT_CARER);
  EXPECT_TRUE(p->Apply("police", parent, {}, &d));
  EXPECT_FALSE(p->Apply("police", c, {}, &d));
  auto no_parent = parent;
  no_parent.mutable_people(0)->set_role(asb::v1::PERSON_ROLE_VICTIM);
  EXPECT_FALSE(p->Apply("police", no_parent, {}, &d));

  // Each value has its own bit, distinct from every other value's.
  const auto& bits = internal::EventBits();
  EXPECT_NE(bits(asb::v1::EVENT_TYPE_STATUTORY_NOTICE), 0u);
  for (int i = 0; i < asb::v1::EventType_descriptor()->value_count(); ++i) {
    const int v = asb::v1::EventType_descriptor()->value(i)->number();
    EXPECT_EQ(bits(v) == bits(asb::v1::EVENT_TYPE_STATUTORY_NOTICE),
              v == asb::v1::EVENT_TYPE_STATUTORY_NOTICE)
        << v;
  }
}

// Every enum an ISP condition names fits the engine's masks, so each of its values has a bit
// (an enum past kMaxEnumBits values fails here, not in a partner's ISP at run time).
TEST(PolicyEnumBitsTest, EveryConditionEnumFitsTheMask) {
  const std::pair<const google::protobuf::EnumDescriptor*, const internal::EnumBits*> enums[] = {
      {asb::v1::NsirCategory_descriptor(), &internal::NsirBits()},
      {asb::v1::EventType_descriptor(), &internal::EventBits()},
      {asb::v1::OrderType_descriptor(), &internal::OrderBits()},
      {asb::v1::PersonRole_descriptor(), &internal::RoleBits()},
      {asb::v1::Tenure_descriptor(), &internal::TenureBits()},
  };
  for (const auto& [type, bits] : enums) {
    EXPECT_LE(type->value_count(), internal::kMaxEnumBits) << type->full_name();
    EXPECT_EQ(bits->declared(), type->value_count()) << type->full_name();
    for (int i = 0; i < type->value_count(); ++i) {
      EXPECT_EQ(bits->Index(type->value(i)->number()), i) << type->value(i)->full_name();
    }
  }
}

TEST(PolicyNotificationTest, EventAndOrderTypeFilters) {
  auto policy = Policy::LoadFile(Src("config/isp/chesterfield.yaml"));
  ASB_ASSERT_OK(policy);
  auto names = [&](EventContext ctx) {
    std::vector<std::string> out;
    for (const auto& n : (*policy)->NotificationsFor(ctx)) {
      out.push_back(n.rule_id + ">" + n.agency);
    }
    return out;
  };
  EXPECT_THAT(names({asb::v1::EVENT_TYPE_ORDER_ISSUED, asb::v1::ORDER_TYPE_CLOSURE_ORDER}),
              ElementsAre("order-lifecycle-core>community-safety", "order-lifecycle-core>police",
                          "order-lifecycle-core>housing", "order-lifecycle-fire>fire",
                          "order-lifecycle-safeguarding>childrens-services",
                          "order-lifecycle-safeguarding>adult-social-care",
                          "order-lifecycle-safeguarding>yot", "closure-licensing>licensing"));
  EXPECT_THAT(
      names({asb::v1::EVENT_TYPE_ORDER_BREACHED, asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER}),
      ::testing::Contains("order-lifecycle-probation>probation"));
  // A civil injunction's respondent is no offender: probation is not alerted.
  EXPECT_THAT(names({asb::v1::EVENT_TYPE_ORDER_BREACHED, asb::v1::ORDER_TYPE_CIVIL_INJUNCTION}),
              ::testing::Not(::testing::Contains("order-lifecycle-probation>probation")));
  EXPECT_THAT(names({asb::v1::EVENT_TYPE_INCIDENT_REPORTED}), ::testing::IsEmpty());
}

// ------------------------------------------------------------------------------ Chesterfield

class ChesterfieldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto policy = Policy::LoadFile(Src("config/isp/chesterfield.yaml"));
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *policy;
  }

  // A personal ASB case led by community safety: a council-tenant victim, an adult perpetrator,
  // a CBO just issued.
  static asb::v1::Case CboCase() {
    asb::v1::Case c = SampleCase();
    c.set_lead_agency("community-safety");
    c.mutable_people()->DeleteSubrange(2, 1);  // no witness
    auto* o = c.add_orders();
    o->set_order_id("CBO-1");
    o->set_type(asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
    o->set_status(asb::v1::ORDER_STATUS_ACTIVE);
    o->set_subject_person_id("P-2");
    o->set_issued_by("police");
    o->set_conditions("Not to enter Manor Road.");
    return c;
  }

  std::shared_ptr<const Policy> policy_;
};

// asb-sharing's fast path: the bytes ApplyEncoded writes parse to exactly Apply()'s disclosure,
// for every agency of the shipped protocol, with and without fire risk, a child subject, a child
// without a date of birth, a confidential reporter and police-sourced facts.
TEST_F(ChesterfieldTest, ApplyEncodedMatchesApplyForEveryAgency) {
  asb::v1::Case fire = CboCase();
  fire.mutable_flags()->set_fire_risk(true);
  asb::v1::Case child = CboCase();
  child.mutable_people(1)->set_date_of_birth("2012-03-04");
  asb::v1::Case flagged = CboCase();
  flagged.mutable_people(1)->clear_date_of_birth();
  flagged.mutable_people(1)->set_child(true);
  auto* reporter = flagged.add_people();
  reporter->set_person_id("P-9");
  reporter->set_role(asb::v1::PERSON_ROLE_REPORTER);
  reporter->set_given_name("Dora");
  reporter->set_confidential(true);
  flagged.mutable_orders(0)->set_source_agency("police");
  flagged.mutable_incidents(0)->set_source_agency("police");
  int compared = 0;
  for (const asb::v1::Case& c : {CboCase(), fire, child, flagged}) {
    for (const EventContext& ctx :
         {EventContext{}, EventContext{asb::v1::EVENT_TYPE_ORDER_ISSUED,
                                       asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER}}) {
      for (const std::string& agency : policy_->agencies()) {
        Disclosure d;
        const bool shown = policy_->Apply(agency, c, ctx, &d);
        std::string bytes = "prefix";
        ASSERT_EQ(policy_->ApplyEncoded(agency, c, ctx, &bytes), shown) << agency;
        if (!shown) {
          EXPECT_EQ(bytes, "prefix") << agency;
          continue;
        }
        Disclosure parsed;
        ASSERT_TRUE(parsed.ParseFromString(bytes.substr(6))) << agency;
        EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, d))
            << agency << "\nApply:\n"
            << d.DebugString() << "\nApplyEncoded:\n"
            << parsed.DebugString();
        ++compared;
      }
    }
  }
  EXPECT_GE(compared, 20);
}

TEST_F(ChesterfieldTest, LoadsWithAllAgencies) {
  EXPECT_THAT(policy_->agencies(),
              ElementsAre("community-safety", "housing", "environmental-health", "licensing",
                          "childrens-services", "adult-social-care", "police", "fire", "yot",
                          "probation", "nhs", "partnership"));
  EXPECT_EQ(policy_->version().size(), 64u);
  // Every free-text grant beside withheld person fields states why: no warnings.
  EXPECT_THAT(policy_->warnings(), ::testing::IsEmpty());
  EXPECT_THAT(policy_->reviewed(), ::testing::Not(::testing::IsEmpty()));
}

// Every agency that may receive alerts has a demo partner key, named <agency>-partner.
TEST_F(ChesterfieldTest, EveryAgencyHasADemoPartnerKey) {
  std::set<std::string> partners;
  for (const auto& p : policy_->isp().principals()) {
    if (p.role() == asb::v1::ROLE_PARTNER) {
      EXPECT_EQ(p.name(), p.agency() + "-partner");
      partners.insert(p.agency());
      EXPECT_TRUE(std::filesystem::exists(Src("config/keys/demo/" + p.name() + ".key")))
          << p.name();
    }
  }
  for (const std::string& agency : policy_->agencies()) {
    EXPECT_EQ(partners.count(agency), 1u) << agency;
  }
}

TEST_F(ChesterfieldTest, CboAlertsLeadPolicePartiesAndProbationWithDifferentViewsAndNotFire) {
  const asb::v1::Case c = CboCase();
  const EventContext ctx{asb::v1::EVENT_TYPE_ORDER_ISSUED,
                         asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER};
  std::vector<std::string> delivered;
  std::map<std::string, Disclosure> views;
  for (const auto& n : policy_->NotificationsFor(ctx)) {
    Disclosure d;
    if (policy_->Apply(n.agency, c, ctx, &d)) {
      delivered.push_back(n.agency);
      views[n.agency] = d;
    }
  }
  // Housing: the victim is a council tenant.
  EXPECT_THAT(delivered,
              UnorderedElementsAre("police", "community-safety", "housing", "probation"));

  const Disclosure& police = views["police"];
  const Disclosure& lead = views["community-safety"];
  EXPECT_NE(police.view().SerializeAsString(), lead.view().SerializeAsString());
  EXPECT_EQ(lead.view().SerializeAsString(), c.SerializeAsString());  // lead agency
  EXPECT_EQ(police.view().people(0).family_name(), "Smith");
  EXPECT_EQ(police.view().people(0).phone(), "");
  EXPECT_EQ(police.view().people(0).tenure(), asb::v1::TENURE_UNSPECIFIED);
  EXPECT_THAT(police.redacted_paths(), ::testing::Contains("people.phone"));
  EXPECT_EQ(police.view().orders(0).conditions(), "Not to enter Manor Road.");
  EXPECT_EQ(police.view().summary(), c.summary());  // free text, named by the rule
  EXPECT_EQ(police.justifications(0).rule_id(), "police-personal-parties");
  EXPECT_THAT(police.justifications(0).lawful_basis(), HasSubstr("s.115"));
  EXPECT_THAT(police.justifications(0).lawful_basis(), HasSubstr("Sch 1 para 10"));
  ASSERT_EQ(lead.justifications_size(), 1);
  EXPECT_EQ(lead.justifications(0).rule_id(), "community-safety-lead");

  // Housing: its tenant in identity, no narrative, no order terms.
  const Disclosure& housing = views["housing"];
  ASSERT_EQ(housing.view().people_size(), 1);  // the perpetrator is no council tenant here
  EXPECT_EQ(housing.view().people(0).given_name(), "Alice");
  EXPECT_EQ(housing.view().summary(), "");
  EXPECT_EQ(housing.view().incidents(0).description(), "");

  // Probation: the CBO's subject in full, the victim only as a pseudonym with a district, no
  // order terms (redacted).
  const Disclosure& probation = views["probation"];
  ASSERT_EQ(probation.view().people_size(), 2);
  auto demo_key = crypto::HexDecode(
      "4f9c2d7e1a6b3c58d0e2f4a6b8c9d1e3f5a7b9c0d2e4f6a8b1c3d5e7f9a0b2c4");  // config/isp/keys
  ASB_ASSERT_OK(demo_key);
  EXPECT_EQ(
      probation.view().people(0).person_id(),
      "ps_" +
          crypto::HexEncode(crypto::HmacSha256(*demo_key, "people.person_id:P-1")).substr(0, 24));
  EXPECT_EQ(probation.view().people(0).given_name(), "");
  EXPECT_EQ(probation.view().people(0).address().postcode_district(), "S40");
  EXPECT_EQ(probation.view().people(0).address().line1(), "");
  EXPECT_EQ(probation.view().people(1).given_name(), "Bob");
  EXPECT_EQ(probation.view().orders(0).conditions(), "");
  EXPECT_THAT(probation.redacted_paths(), ::testing::Contains("orders.conditions"));

  // Fire is told of order events only for fire-risk cases.
  Disclosure d;
  EXPECT_FALSE(policy_->Apply("fire", c, ctx, &d));
  auto fire_case = c;
  fire_case.mutable_flags()->set_fire_risk(true);
  ASSERT_TRUE(policy_->Apply("fire", fire_case, ctx, &d));
  EXPECT_EQ(d.view().summary(), "");
  EXPECT_EQ(d.view().people(0).given_name(), "");
  EXPECT_EQ(d.view().people(0).address().line1(), "1 Manor Road");
  EXPECT_FALSE(policy_->Apply("nhs", c, ctx, &d));
  EXPECT_FALSE(policy_->Apply("yot", c, ctx, &d));
  EXPECT_FALSE(policy_->Apply("partnership", c, ctx, &d));
  // A civil injunction instead of the CBO: its respondent is no offender, probation sees nothing.
  auto injunction = c;
  injunction.mutable_orders(0)->set_type(asb::v1::ORDER_TYPE_CIVIL_INJUNCTION);
  EXPECT_FALSE(policy_->Apply("probation", injunction, {}, &d));
}

// The shipped file ends with the demo principals (appended by the lead). Until they are there,
// the test appends made-up ones, checking that a principals section at the end loads.
TEST_F(ChesterfieldTest, LoadsWithPrincipalsAtTheEnd) {
  const std::string shipped = Read(Src("config/isp/chesterfield.yaml"));
  std::shared_ptr<const Policy> policy = policy_;
  if (shipped.find("\nprincipals:") == std::string::npos) {
    asb::testing::TempDir dir;
    std::filesystem::create_directories(dir.Sub("keys"));
    Write(dir.Sub("keys/pseudonymisation.key"), Read(Src("config/isp/keys/pseudonymisation.key")));
    Write(dir.Sub("isp.yaml"),
          shipped + Read(Src("tests/common/policy/testdata/chesterfield_test_principals.yaml")));
    auto loaded = Policy::LoadFile(dir.Sub("isp.yaml"));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_NE((*loaded)->version(), policy_->version());
    policy = *loaded;
  }
  std::set<std::string> names;
  for (const auto& p : policy->isp().principals()) {
    names.insert(p.name());
  }
  for (const char* name :
       {"intake", "sharing", "police-partner", "fire-partner", "dpo-auditor", "hub-admin"}) {
    EXPECT_EQ(names.count(name), 1u) << name;
  }
}

// ------------------------------------------------------------------------------ loading

TEST_F(PolicyLoadTest, TestdataIspLoads) {
  auto policy = Load(base_);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ((*policy)->isp().principals_size(), 3);
}

TEST_F(PolicyLoadTest, MissingFileIsNotFound) {
  EXPECT_THAT(Policy::LoadFile(dir_.Sub("none.yaml")), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PolicyLoadTest, DuplicateAgency) {
  std::string t = With("  - id: police\n", "  - id: council\n");
  ExpectError(t, "  - id: council\n    name: \"Test Constabulary", "agencies[1].id",
              "duplicate agency 'council'");
}

TEST_F(PolicyLoadTest, InvalidAgencyId) {
  std::string t = With("  - id: police\n", "  - id: Police Force\n");
  ExpectError(t, "id: Police Force", "agencies[1].id", "not a valid id");
}

TEST_F(PolicyLoadTest, HubIsReservedAsAgency) {
  std::string t = With("  - id: police\n", "  - id: hub\n");
  ExpectError(t, "id: hub", "agencies[1].id", "reserved");
}

TEST_F(PolicyLoadTest, AgencyNameRequired) {
  std::string t = With("    name: \"Test Constabulary\"\n", "");
  ExpectError(t, "  - id: police", "agencies[1].name", "required");
}

TEST_F(PolicyLoadTest, PrincipalUnknownAgency) {
  std::string t = With("agency: police, role: ROLE_PARTNER", "agency: polis, role: ROLE_PARTNER");
  ExpectError(t, "agency: polis", "principals[1].agency", "unknown agency 'polis'");
}

TEST_F(PolicyLoadTest, PrincipalDuplicateName) {
  std::string t = With("name: police-partner", "name: council-cms-feed");
  ExpectError(t, "name: council-cms-feed, agency: police", "principals[1].name",
              "duplicate principal 'council-cms-feed'");
}

TEST_F(PolicyLoadTest, PrincipalDuplicateKey) {
  std::string t =
      With("{i:NsMoD=J?x^}o?UUts:[8jQ+=#0!WLJUqN)l.&", "<W.eE9F>+o.qB1a@yTiSQE.N?DK(6{bQS{&?QfO0");
  ExpectError(t, "name: police-partner", "principals[1].public_key", "already used");
}

TEST_F(PolicyLoadTest, PrincipalBadKey) {
  std::string t = With("{i:NsMoD=J?x^}o?UUts:[8jQ+=#0!WLJUqN)l.&", "not-a-key");
  ExpectError(t, "name: police-partner", "principals[1].public_key", "not a CurveZMQ public key");
  t = With("{i:NsMoD=J?x^}o?UUts:[8jQ+=#0!WLJUqN)l.&", "{i:NsMoD=J?x^}o?UUts:[8jQ+=#0!WLJUqN)l.~");
  ExpectError(t, "name: police-partner", "principals[1].public_key", "not a CurveZMQ public key");
  t = With("{i:NsMoD=J?x^}o?UUts:[8jQ+=#0!WLJUqN)l.&", std::string(40, '#'));  // > 2^32 groups
  ExpectError(t, "name: police-partner", "principals[1].public_key", "not a CurveZMQ public key");
}

TEST_F(PolicyLoadTest, PrincipalRoleRequired) {
  std::string t = With("agency: police, role: ROLE_PARTNER,", "agency: police,");
  ExpectError(t, "name: police-partner", "principals[1].role", "required");
}

TEST_F(PolicyLoadTest, HubPrincipalMustBeDaemonAndDaemonMustBeHub) {
  std::string t = With("agency: hub, role: ROLE_DAEMON", "agency: hub, role: ROLE_ADMIN");
  ExpectError(t, "name: intake", "principals[2].role", "role must be DAEMON");
  t = With("agency: council, role: ROLE_FEED", "agency: council, role: ROLE_DAEMON");
  ExpectError(t, "name: council-cms-feed", "principals[0].role", "only for agency 'hub'");
}

TEST_F(PolicyLoadTest, PurposeNeedsLawfulBasis) {
  std::string t =
      With("    lawful_basis: \"Crime and Disorder Act 1998 s.115; UK GDPR Art 6(1)(e)\"\n", "");
  ExpectError(t, "  - id: csp", "purposes[0].lawful_basis", "required");
}

TEST_F(PolicyLoadTest, DuplicatePurpose) {
  std::string t =
      With("purposes:\n", "purposes:\n  - { id: csp, description: d, lawful_basis: b }\n");
  ExpectError(t, "  - id: csp\n", "purposes[1].id", "duplicate purpose 'csp'");
}

TEST_F(PolicyLoadTest, DuplicateRuleId) {
  std::string t = With("  - id: council-all\n", "  - id: police-basic\n");
  ExpectError(t, "  - id: police-basic\n    agency: council", "rules[1].id",
              "duplicate rule 'police-basic'");
}

TEST_F(PolicyLoadTest, RuleUnknownAgency) {
  std::string t = With("    agency: council\n", "    agency: counsel\n");
  ExpectError(t, "agency: counsel", "rules[1].agency", "unknown agency 'counsel'");
}

TEST_F(PolicyLoadTest, RuleUnknownPurpose) {
  std::string t =
      With("    agency: council\n    purpose: csp\n", "    agency: council\n    purpose: cps\n");
  ExpectError(t, "purpose: cps", "rules[1].purpose", "unknown purpose 'cps'");
}

TEST_F(PolicyLoadTest, FieldPathMustResolve) {
  std::string t = With("path: people.address,", "path: people.adress,");
  ExpectError(t, "path: people.adress", "rules[0].fields[1].path",
              "no field 'people.adress' in asb.v1.Case ('adress' is not a field of "
              "asb.v1.Person)");
  t = With("path: case_id,", "path: opened_at.seconds,");
  ExpectError(t, "path: opened_at.seconds", "rules[0].fields[0].path", "no field");
}

TEST_F(PolicyLoadTest, FieldPathNamedTwice) {
  std::string t = With("path: people.address,", "path: case_id,");
  ExpectError(t, "path: case_id, action: FIELD_ACTION_GENERALISE", "rules[0].fields[1].path",
              "named twice");
}

TEST_F(PolicyLoadTest, FieldActionRequired) {
  std::string t = With("{ path: people, action: FIELD_ACTION_SHOW }", "{ path: people }");
  ExpectError(t, "{ path: people }", "rules[1].fields[0].action", "required");
}

TEST_F(PolicyLoadTest, GeneraliseNeedsAGeneraliser) {
  std::string t = With("path: people.address, action: FIELD_ACTION_GENERALISE",
                       "path: people.family_name, action: FIELD_ACTION_GENERALISE");
  ExpectError(t, "path: people.family_name", "rules[0].fields[1].action", "no generaliser");
}

TEST_F(PolicyLoadTest, PseudonymiseOnlyStrings) {
  std::string t = With("path: people.address, action: FIELD_ACTION_GENERALISE",
                       "path: people.vulnerable, action: FIELD_ACTION_PSEUDONYMISE");
  ExpectError(t, "path: people.vulnerable", "rules[0].fields[1].action",
              "PSEUDONYMISE applies only to string fields");
}

TEST_F(PolicyLoadTest, EmptyPresentListNeverMatches) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]", "nsir_categories: []");
  ExpectError(t, "nsir_categories: []", "rules[0].when.nsir_categories", "empty list");
}

TEST_F(PolicyLoadTest, UnspecifiedInConditionListNeverMatches) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]",
                       "nsir_categories: [NSIR_CATEGORY_UNSPECIFIED]");
  ExpectError(t, "nsir_categories: [", "rules[0].when.nsir_categories[0]", "UNSPECIFIED");
}

// A number no enum declares is still refused, in a row condition and in a notification rule
// (1000 is in no issue's range).
TEST_F(PolicyLoadTest, UnknownEnumNumberInConditionRefused) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]", "event_types: [1000]");
  ExpectError(t, "event_types: [1000]", "rules[0].when.event_types[0]", "unknown value 1000");
  t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]", "order_types: [357]");
  ExpectError(t, "order_types: [357]", "rules[0].when.order_types[0]", "unknown value 357");
  t = With("    event_types: [EVENT_TYPE_ORDER_ISSUED]\n", "    event_types: [1000]\n");
  ExpectError(t, "event_types: [1000]", "notification_rules[0].event_types[0]",
              "unknown value 1000");
}

// The value numbered past 32 that the shipped ISP's partnership rule names loads.
TEST_F(PolicyLoadTest, ConditionOnStatutoryNoticeLoads) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]",
                       "event_types: [EVENT_TYPE_STATUTORY_NOTICE, EVENT_TYPE_REVIEW_HELD]");
  ASB_EXPECT_OK(Load(t));
}

TEST_F(PolicyLoadTest, InvalidMinVictimRisk) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]", "min_victim_risk: 9");
  ExpectError(t, "min_victim_risk: 9", "rules[0].when.min_victim_risk", "unknown risk level 9");
}

TEST_F(PolicyLoadTest, SubjectUnder18WithNonSubjectRolesNeverMatches) {
  std::string t = With("nsir_categories: [NSIR_CATEGORY_PERSONAL]",
                       "subject_under_18: true\n      person_roles: [PERSON_ROLE_WITNESS]");
  ExpectError(t, "subject_under_18: true", "rules[0].when.subject_under_18", "can never match");
}

TEST_F(PolicyLoadTest, NotificationUnknownAgency) {
  std::string t = With("    agencies: [police]", "    agencies: [police, fire]");
  ExpectError(t, "agencies: [police, fire]", "notification_rules[0].agencies[1]",
              "unknown agency 'fire'");
}

TEST_F(PolicyLoadTest, NotificationNeedsEventTypes) {
  std::string t = With("    event_types: [EVENT_TYPE_ORDER_ISSUED]\n", "");
  ExpectError(t, "  - id: orders", "notification_rules[0].event_types", "at least one");
}

TEST_F(PolicyLoadTest, NotificationOrderTypesNeedOrderEvent) {
  std::string t = With("    event_types: [EVENT_TYPE_ORDER_ISSUED]\n",
                       "    event_types: [EVENT_TYPE_CASE_OPENED]\n"
                       "    order_types: [ORDER_TYPE_CLOSURE_ORDER]\n");
  ExpectError(t, "order_types: [", "notification_rules[0].order_types", "can never match");
}

TEST_F(PolicyLoadTest, KeyFileMissing) {
  std::string t = With("pseudonymisation_key_file: \"test.key\"",
                       "pseudonymisation_key_file: \"keys/absent.key\"");
  ExpectError(t, "pseudonymisation_key_file", "pseudonymisation_key_file", "cannot read key file");
}

TEST_F(PolicyLoadTest, KeyFileNotHexOrTooShort) {
  key_ = "not hex at all\n";
  ExpectError(base_, "pseudonymisation_key_file", "pseudonymisation_key_file", "in hex");
  key_ = "# comment\n00112233445566778899aabbccddeeff\n";  // 16 bytes
  ExpectError(base_, "pseudonymisation_key_file", "pseudonymisation_key_file",
              "pseudonymisation key is 16 bytes, at least 32 are required");
}

TEST_F(PolicyLoadTest, ReportsEveryProblemAtOnce) {
  std::string t = With("path: people.address,", "path: people.adress,");
  t = absl::StrReplaceAll(t, {{"    agencies: [police]", "    agencies: [polis]"}});
  auto policy = Load(t);
  ASSERT_THAT(policy, StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string message(policy.status().message());
  EXPECT_THAT(message, HasSubstr(Where(t, "path: people.adress", "rules[0].fields[1].path")));
  EXPECT_THAT(message,
              HasSubstr(Where(t, "agencies: [polis]", "notification_rules[0].agencies[0]")));
}

TEST_F(PolicyLoadTest, CompileWithoutLinesNamesPathOnly) {
  asb::config::v1::Isp isp;
  isp.set_name("x");
  isp.set_pseudonymisation_key_file("k");
  EXPECT_THAT(Policy::Compile(isp, std::string(31, 'k'), "mem", nullptr),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "mem: agencies: required: at least one agency"));
  EXPECT_THAT(Policy::Compile(isp, std::string(31, 'k'), "mem", nullptr),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "31 bytes"));
}

TEST_F(PolicyLoadTest, VersionFollowsContentAndKey) {
  auto a = Load(base_);
  ASB_ASSERT_OK(a);
  auto same = Load(base_ + "\n# a comment changes nothing\n");
  ASB_ASSERT_OK(same);
  EXPECT_EQ((*a)->version(), (*same)->version());
  auto changed = Load(With("path: case_id, action: FIELD_ACTION_SHOW",
                           "path: case_id, action: FIELD_ACTION_REDACT"));
  ASB_ASSERT_OK(changed);
  EXPECT_NE((*a)->version(), (*changed)->version());
  key_ = "ff" + key_.substr(key_.find('\n') + 3);
  auto rekeyed = Load(base_);
  ASB_ASSERT_OK(rekeyed);
  EXPECT_NE((*a)->version(), (*rekeyed)->version());
  EXPECT_EQ((*a)->version().find(crypto::HexEncode(crypto::Sha256(key_))), std::string::npos);
}

}  // namespace
}  // namespace asb::policy
