#pragma once

// asb-sharing's handler under test: a real store with sharing's column families, its logs, the
// folder and the handler with a fixed clock; events built from JSON; helpers that apply an event
// and read back what it disclosed and audited. Shared by sharing_handler_test and
// retention_test.

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/config/config.h"
#include "common/policy/policy.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "services/sharing/case_folder.h"
#include "services/sharing/sharing_handler.h"
#include "tests/support/temp_dir.h"

namespace asb::sharing {

using asb::v1::Disclosure;
using asb::v1::Envelope;

inline const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 26, 12, 0, 0), absl::UTCTimeZone());

inline Envelope Env(uint64_t seq, const std::string& case_id, const std::string& body) {
  Envelope env;
  env.set_seq(seq);
  asb::v1::AcceptedEvent* a = env.mutable_accepted_event();
  a->set_source("cbc-cms-feed");
  a->set_source_agency("council");
  absl::Status s =
      config::ParseJson(R"({"sourceEventId":"e)" + std::to_string(seq) + R"(","caseId":")" +
                            case_id + R"(","occurredAt":"2026-10-01T10:00:00Z",)" + body + "}",
                        a->mutable_event());
  EXPECT_TRUE(s.ok()) << s << " in " << body;
  return env;
}

inline constexpr char kPersonalOpened[] = R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_PERSONAL",
    "title":"Noise, Brimington North","leadAgency":"council"})";
inline constexpr char kNuisanceFireOpened[] =
    R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_NUISANCE",
    "title":"Garage fires, Rother","leadAgency":"fire","flags":{"fireRisk":true}})";
inline constexpr char kTenantLinked[] = R"("personLinked":{"person":{"personId":"P1",
    "role":"PERSON_ROLE_VICTIM","givenName":"Margaret","phone":"0114 496 0142",
    "address":{"line1":"7 Hollingwood Crescent","postcode":"S43 1QX"},
    "tenure":"TENURE_COUNCIL_TENANT"}})";

// A partner's lookup of `case_id` on behalf of a named officer, with a reason.
inline asb::v1::GetCaseRequest Lookup(const std::string& case_id) {
  asb::v1::GetCaseRequest r;
  r.set_case_id(case_id);
  r.mutable_on_behalf_of()->set_officer_id("PC-4471");
  r.mutable_on_behalf_of()->set_officer_name("PC Jane Ashworth");
  r.mutable_on_behalf_of()->set_reason("checking the victim's address before a visit");
  return r;
}

// The admin's explanation request on behalf of an officer.
inline asb::v1::ExplainCaseRequest Explaining(const std::string& case_id,
                                              const std::string& agency) {
  asb::v1::ExplainCaseRequest q;
  q.set_case_id(case_id);
  q.set_agency(agency);
  q.mutable_on_behalf_of()->set_officer_id("IG-07");
  q.mutable_on_behalf_of()->set_reason("assurance review of the police view");
  return q;
}

// The fixture, with the ISP testdata/<isp_file()> (isp.yaml unless a subclass says otherwise).
class SharingFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    options.sync = false;
    options.column_families = SharingColumnFamilies();
    auto store = store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto disclosures = stream::Log::Open(store_.get(), "disclosures", "sharing");
    ASSERT_TRUE(disclosures.ok()) << disclosures.status();
    disclosures_ = std::move(*disclosures);
    auto audit = stream::Log::Open(store_.get(), "audit", "sharing");
    ASSERT_TRUE(audit.ok()) << audit.status();
    audit_ = std::move(*audit);
    folder_ = std::make_unique<CaseFolder>(store_.get());
    handler_ = std::make_unique<SharingHandler>(folder_.get(), disclosures_.get(), audit_.get(),
                                                [this] { return now_; });
    auto erasures = stream::Log::Open(store_.get(), "erasures", "sharing");
    ASSERT_TRUE(erasures.ok()) << erasures.status();
    erasures_ = std::move(*erasures);
    auto policy = policy::Policy::LoadFile(std::string(ASB_SHARING_TESTDATA) + "/" + isp_file());
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *policy;
    handler_->SetPolicy(policy_);
  }

  // Applies one envelope in its own batch, writes it, and returns the disclosures it made.
  std::vector<Disclosure> Apply(const Envelope& env) {
    const uint64_t before = disclosures_->head();
    store::Batch batch = store_->NewBatch();
    absl::Status applied = handler_->ApplyEvent(env, &batch);
    EXPECT_TRUE(applied.ok()) << applied;
    absl::Status written = store_->Write(&batch);
    EXPECT_TRUE(written.ok()) << written;
    std::vector<Envelope> records;
    std::vector<Disclosure> out;
    if (disclosures_->head() > before) {
      EXPECT_TRUE(disclosures_->Read(before + 1, 1000, &records).ok());
    }
    for (const Envelope& r : records) {
      out.push_back(r.disclosure());
    }
    return out;
  }

  std::vector<asb::v1::AuditRecord> Audit() {
    std::vector<Envelope> records;
    EXPECT_TRUE(audit_->Read(1, 1000, &records).ok());
    std::vector<asb::v1::AuditRecord> out;
    for (const Envelope& r : records) {
      out.push_back(r.audit());
    }
    return out;
  }

  static std::set<std::string> Agencies(const std::vector<Disclosure>& ds) {
    std::set<std::string> out;
    for (const Disclosure& d : ds) {
      out.insert(d.agency());
    }
    return out;
  }

  static const Disclosure* For(const std::vector<Disclosure>& ds, const std::string& agency) {
    for (const Disclosure& d : ds) {
      if (d.agency() == agency) {
        return &d;
      }
    }
    return nullptr;
  }

  virtual std::string isp_file() const { return "isp.yaml"; }

  // Loads testdata/isp.yaml as `edit` changes its text (written under dir_ as `name`) and puts it
  // in force. `without_every_event`: the file's last rule, "every-event", is cut first.
  std::shared_ptr<const policy::Policy> UseEditedIsp(
      const std::string& name, bool without_every_event,
      const std::function<void(std::string*)>& edit) {
    std::string isp;
    EXPECT_TRUE(config::ReadFile(std::string(ASB_SHARING_TESTDATA) + "/isp.yaml", &isp).ok());
    const std::string key = "pseudonymisation_key_file: pseudonymisation.key";
    isp.replace(isp.find(key), key.size(),
                "pseudonymisation_key_file: " + std::string(ASB_SHARING_TESTDATA) +
                    "/pseudonymisation.key");
    if (without_every_event) {
      const std::size_t at = isp.find("  # Only an alert is disclosed");
      EXPECT_NE(at, std::string::npos);
      isp.resize(at);
    }
    edit(&isp);
    const std::string path = dir_.Sub(name);
    std::ofstream(path) << isp;
    auto loaded = policy::Policy::LoadFile(path);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (!loaded.ok()) {
      return nullptr;
    }
    handler_->SetPolicy(*loaded);
    return *loaded;
  }

  // The handler's clock (kNow unless a test moves it).
  absl::Time now_ = kNow;
  asb::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<stream::Log> disclosures_;
  std::unique_ptr<stream::Log> audit_;
  std::unique_ptr<stream::Log> erasures_;
  std::unique_ptr<CaseFolder> folder_;
  std::unique_ptr<SharingHandler> handler_;
  std::shared_ptr<const policy::Policy> policy_;
};

}  // namespace asb::sharing
