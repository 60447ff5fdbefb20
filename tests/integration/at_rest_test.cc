// Encryption at rest, end to end: the four real daemons with the shipped configs take the demo
// case; then every byte the hub left in its data directory (stores, WALs, SSTs, manifests, its
// own logs) is searched for the sample's names, street addresses, dates of birth and phone
// numbers. With the shipped configs (store.key_ring set) none may be found; the same run with
// key_ring removed must find them all, which shows the search would see plaintext.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/crypto/aead.h"
#include "common/store/store.h"
#include "services/daemon/runtime.h"
#include "services/intake/intake_handler.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::testing {
namespace {

constexpr char kCase[] = "CBC-2026-0142";

// Personal data in config/samples/cbo-demo.jsonl: both people's family and given names, their
// street addresses, dates of birth and phone numbers.
const std::vector<std::string>& PersonalStrings() {
  static const auto* strings = new std::vector<std::string>{
      "Kirkwell",   "Ollerby",    "Margaret",      "Hollingwood Crescent",
      "1951-04-17", "1998-11-02", "0114 496 0142", "07700 900413"};
  return *strings;
}

int Accepted(const asb::v1::SubmitResponse& response) {
  int n = 0;
  for (const auto& r : response.results()) {
    n += r.outcome() == asb::v1::SubmitResult::OUTCOME_ACCEPTED ? 1 : 0;
  }
  return n;
}

HubOptions Options() { return BuiltHubOptions(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// File (relative to dir) → its bytes, for every regular file under dir.
std::map<std::string, std::string> AllFiles(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[std::filesystem::relative(entry.path(), dir).string()] =
          ReadFile(entry.path().string());
    }
  }
  return files;
}

// Writes a copy of config/<daemon>.yaml for each daemon with its store.key_ring line replaced
// by `replacement` ("" drops it), into `dir`; returns daemon → path.
std::map<std::string, std::string> ConfigCopies(const std::string& dir,
                                                const std::string& replacement_prefix) {
  std::map<std::string, std::string> files;
  for (const std::string& d : Hub::Daemons()) {
    std::string text = ReadFile(std::string(ASB_SOURCE_DIR) + "/config/" + d + ".yaml");
    const std::string line = "  key_ring: \"config/keys/demo/at-rest-" + d + "\"\n";
    EXPECT_NE(text.find(line), std::string::npos) << d << ".yaml has no key_ring line";
    text = absl::StrReplaceAll(
        text, {{line, replacement_prefix.empty()
                          ? std::string()
                          : "  key_ring: \"" + replacement_prefix + "-" + d + "\"\n"}});
    const std::string path = dir + "/" + d + ".yaml";
    std::ofstream(path) << text;
    files[d] = path;
  }
  return files;
}

// The hub on key rings of the test's own (key 1 written for each daemon at `prefix`-<daemon>,
// not the checked-in demo rings), with config copies pointing at them written into `dir`.
HubOptions OwnKeyRings(const std::string& prefix, const std::string& dir) {
  for (const std::string& d : Hub::Daemons()) {
    EXPECT_TRUE(crypto::WriteNextRingKey(prefix + "-" + d).ok()) << d;
  }
  HubOptions options = Options();
  options.config_files = ConfigCopies(dir, prefix);
  return options;
}

class AtRestTest : public ::testing::Test {
 protected:
  // Starts the hub, submits the demo case as the council feed and waits until every daemon has
  // taken all of it; the police pull their alerts (so the outbox has been read too).
  void RunDemo(Hub* hub) {
    ASB_ASSERT_OK(hub->StartAll());
    auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
    ASB_ASSERT_OK(events.status());
    auto submitted = hub->Submit("council-feed", *events);
    ASB_ASSERT_OK(submitted.status());
    ASSERT_EQ(Accepted(*submitted), static_cast<int>(events->size()));
    ASB_ASSERT_OK(hub->WaitDrained(absl::Seconds(30)));
    auto alerts = hub->PullAlerts("police-partner");
    ASB_ASSERT_OK(alerts.status());
    ASSERT_FALSE(alerts->alerts().empty());
    auto view = hub->GetCase("police-partner", kCase);
    ASB_ASSERT_OK(view.status());
    ASSERT_EQ(view->case_id(), kCase);
  }

  // Personal strings → the files (under data_dir) holding them.
  std::map<std::string, std::vector<std::string>> Find(const std::string& data_dir) {
    std::map<std::string, std::vector<std::string>> found;
    for (const auto& [name, bytes] : AllFiles(data_dir)) {
      for (const std::string& s : PersonalStrings()) {
        if (bytes.find(s) != std::string::npos) {
          found[s].push_back(name);
        }
      }
    }
    return found;
  }
};

TEST_F(AtRestTest, ShippedConfigsLeaveNoPersonalDataOnDisk) {
  Hub hub(Options());
  RunDemo(&hub);
  if (HasFatalFailure()) return;
  ASB_ASSERT_OK(hub.StopAll());

  // Every daemon wrote its store, and the search reads it: the case id (a reference, not
  // personal data) is in the keys of sharing's case folder and the audit log's index.
  const auto files = AllFiles(hub.data_dir());
  for (const std::string& d : Hub::Daemons()) {
    bool has_store = false;
    for (const auto& [name, bytes] : files) {
      has_store |= name.rfind(d + "/", 0) == 0 && !bytes.empty();
    }
    EXPECT_TRUE(has_store) << d;
  }
  bool case_id_seen = false;
  for (const auto& [name, bytes] : files) {
    case_id_seen |= bytes.find(kCase) != std::string::npos;
  }
  EXPECT_TRUE(case_id_seen);

  for (const auto& [s, where] : Find(hub.data_dir())) {
    ADD_FAILURE() << "\"" << s << "\" is in plaintext in " << ::testing::PrintToString(where);
  }
}

TEST_F(AtRestTest, WithoutKeyRingTheSameSearchFindsThePersonalData) {
  TempDir configs;
  HubOptions options = Options();
  options.config_files = ConfigCopies(configs.path(), /*replacement_prefix=*/"");
  Hub hub(options);
  RunDemo(&hub);
  if (HasFatalFailure()) return;
  ASB_ASSERT_OK(hub.StopAll());
  const auto found = Find(hub.data_dir());
  for (const std::string& s : PersonalStrings()) {
    EXPECT_TRUE(found.count(s)) << "\"" << s << "\" not found in an unencrypted hub's files";
  }
}

TEST_F(AtRestTest, RotatedKeyRingReadsOldDataAfterRestart) {
  // Rings of our own, rotated between two runs.
  TempDir keys, configs;
  const std::string prefix = keys.Sub("ring");
  HubOptions options = OwnKeyRings(prefix, configs.path());
  Hub hub(options);
  RunDemo(&hub);
  if (HasFatalFailure()) return;
  ASB_ASSERT_OK(hub.StopAll());

  for (const std::string& d : Hub::Daemons()) {
    auto id = crypto::WriteNextRingKey(prefix + "-" + d);
    ASB_ASSERT_OK(id.status());
    EXPECT_EQ(*id, 2u);
  }
  ASB_ASSERT_OK(hub.StartAll());
  // Old values (under key 1) are read: the case folder, alerts from seq 1, the audit log.
  auto view = hub.GetCase("police-partner", kCase);
  ASB_ASSERT_OK(view.status());
  EXPECT_EQ(view->case_id(), kCase);
  auto replay = hub.PullAlerts("police-partner", 1000, 0, /*from_seq=*/1);
  ASB_ASSERT_OK(replay.status());
  EXPECT_FALSE(replay->alerts().empty());
  asb::v1::AuditQueryRequest by_case;
  by_case.set_case_id(kCase);
  auto entries = hub.AuditQueryAll("dpo-auditor", by_case);
  ASB_ASSERT_OK(entries.status());
  EXPECT_FALSE(entries->empty());

  // New data (under key 2) flows through all four daemons and is not in plaintext either.
  auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
  ASB_ASSERT_OK(events.status());
  // A second case like the first (the same order ids on the first case would be a second issue
  // of an order already issued, which intake refuses: 2014 Act orders are issued once).
  for (auto& e : *events) {
    e.set_source_event_id(e.source_event_id() + "-again");
    e.set_case_id(e.case_id() + "-B");
  }
  auto submitted = hub.Submit("council-feed", *events);
  ASB_ASSERT_OK(submitted.status());
  EXPECT_EQ(Accepted(*submitted), static_cast<int>(events->size()));
  ASB_ASSERT_OK(hub.WaitDrained(absl::Seconds(30)));
  ASB_ASSERT_OK(hub.StopAll());
  for (const auto& [s, where] : Find(hub.data_dir())) {
    ADD_FAILURE() << "\"" << s << "\" is in plaintext in " << ::testing::PrintToString(where);
  }
}

TEST_F(AtRestTest, SighupMakesNewValuesUseTheRotatedKey) {
  TempDir keys, configs;
  const std::string prefix = keys.Sub("ring");
  HubOptions options = OwnKeyRings(prefix, configs.path());
  Hub hub(options);
  ASB_ASSERT_OK(hub.StartAndWait("intake"));
  auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
  ASB_ASSERT_OK(events.status());
  std::vector<asb::v1::CaseEvent> first(events->begin(), events->begin() + 1);
  ASB_ASSERT_OK(hub.Submit("council-feed", first).status());

  // asbctl keys rotate, then SIGHUP.
  ASB_ASSERT_OK(crypto::WriteNextRingKey(prefix + "-intake").status());
  ASB_ASSERT_OK(hub.Signal("intake", SIGHUP));
  ASB_ASSERT_OK(WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        return hub.LogTail("intake").find("new values use master key 2") != std::string::npos;
      },
      absl::Now() + absl::Seconds(10), "intake to reload its key ring"));
  std::vector<asb::v1::CaseEvent> second(events->begin() + 1, events->begin() + 2);
  ASB_ASSERT_OK(hub.Submit("council-feed", second).status());
  ASB_ASSERT_OK(hub.StopAll());

  // Intake's audit records (master-key values) before the reload name key 1, after it key 2;
  // both decrypt.
  store::StoreOptions so = intake::IntakeStoreLayout();  // opened as asb-intake opens it
  so.path = hub.data_dir() + "/intake/db";
  ASB_ASSERT_OK(daemon::ConfigureAtRest("intake", prefix + "-intake", &so));
  auto store = store::Store::Open(so);
  ASB_ASSERT_OK(store.status());
  std::vector<uint32_t> key_ids;
  auto it = (*store)->NewIterator("log.audit");
  for (it->SeekToFirst(); it->Valid() && it->key().size() == 8; it->Next()) {
    std::string raw;
    ASB_ASSERT_OK((*store)->GetStored("log.audit", it->key().ToStringView(), &raw));
    ASSERT_GE(raw.size(), 6u);
    ASSERT_EQ(raw[1], 1) << "audit records are under the master key";
    key_ids.push_back(static_cast<uint8_t>(raw[5]));
  }
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  ASSERT_GE(key_ids.size(), 2u);
  EXPECT_EQ(key_ids.front(), 1u);
  EXPECT_EQ(key_ids.back(), 2u);
}

TEST_F(AtRestTest, ErasedCaseIsSkippedByConsumersAndNewDataFlows) {
  Hub hub(Options());
  // Only intake takes the case, so sharing meets the erased records when it starts.
  ASB_ASSERT_OK(hub.StartAndWait("intake"));
  auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
  ASB_ASSERT_OK(events.status());
  auto submitted = hub.Submit("council-feed", *events);
  ASB_ASSERT_OK(submitted.status());
  ASSERT_EQ(Accepted(*submitted), static_cast<int>(events->size()));
  ASB_ASSERT_OK(hub.StopAll());

  // Erase the case in intake's store, opened as the daemon opens it.
  {
    store::StoreOptions so = intake::IntakeStoreLayout();
    so.path = hub.data_dir() + "/intake/db";
    ASB_ASSERT_OK(daemon::ConfigureAtRest(
        "intake", std::string(ASB_SOURCE_DIR) + "/config/keys/demo/at-rest-intake", &so));
    auto store = store::Store::Open(so);
    ASB_ASSERT_OK(store.status());
    auto erased = (*store)->EraseSubject(kCase);
    ASB_ASSERT_OK(erased.status());
    EXPECT_EQ(*erased, 1);
    // Every record of the events stream now reads as an envelope with its seq and no payload.
    auto it = (*store)->NewIterator("log.events");
    uint64_t seq = 0;
    for (it->SeekToFirst(); it->Valid() && it->key().size() == 8; it->Next()) {
      asb::v1::Envelope env;
      ASSERT_TRUE(env.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
      EXPECT_EQ(env.seq(), ++seq);
      EXPECT_EQ(env.payload_case(), asb::v1::Envelope::PAYLOAD_NOT_SET);
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    EXPECT_EQ(seq, events->size());
  }

  // The hub starts; sharing skips the erased records (audited) instead of stalling.
  ASB_ASSERT_OK(hub.StartAll());
  ASB_ASSERT_OK(hub.WaitDrained(absl::Seconds(30)));
  auto ping = hub.Ping("sharing");
  ASB_ASSERT_OK(ping.status());
  ASSERT_EQ(ping->consumers_size(), 1);
  EXPECT_EQ(ping->consumers(0).skipped(), events->size());
  EXPECT_FALSE(hub.GetCase("police-partner", kCase).ok());

  // New events for the same case id get a fresh key and flow as usual.
  for (auto& e : *events) {
    e.set_source_event_id(e.source_event_id() + "-after-erasure");
  }
  auto again = hub.Submit("council-feed", *events);
  ASB_ASSERT_OK(again.status());
  EXPECT_EQ(Accepted(*again), static_cast<int>(events->size()));
  ASB_ASSERT_OK(hub.WaitDrained(absl::Seconds(30)));
  auto view = hub.GetCase("police-partner", kCase);
  ASB_ASSERT_OK(view.status());
  EXPECT_EQ(view->case_id(), kCase);
  ASB_ASSERT_OK(hub.StopAll());
}

// `asbctl case erase` on a running hub: each daemon destroys the case's data keys, the case is
// gone for partners at once, each erasure is audited, and only an admin may ask.
TEST_F(AtRestTest, EraseCaseOnTheRunningHub) {
  Hub hub(Options());
  ASB_ASSERT_OK(hub.StartAll());
  auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
  ASB_ASSERT_OK(events.status());
  auto submitted = hub.Submit("council-feed", *events);
  ASB_ASSERT_OK(submitted.status());
  ASB_ASSERT_OK(hub.WaitDrained(absl::Seconds(30)));
  ASB_ASSERT_OK(hub.GetCase("police-partner", kCase).status());

  asb::v1::Request erase;
  erase.mutable_erase_case()->set_case_id(kCase);
  erase.mutable_erase_case()->set_reference("RET-2026-0007");
  EXPECT_THAT(hub.Call("sharing", "police-partner", erase),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "ROLE_ADMIN"));
  for (const char* daemon : {"intake", "sharing", "notify"}) {
    auto response = hub.Call(daemon, "hub-admin", erase);
    ASB_ASSERT_OK(response.status()) << daemon;
    EXPECT_EQ(response->erase_case().component(), daemon);
    EXPECT_GE(response->erase_case().keys_destroyed(), 1u) << daemon;
  }
  // Gone for partners at once (asb-sharing cannot read the case any more).
  EXPECT_THAT(hub.GetCase("police-partner", kCase), StatusIs(absl::StatusCode::kNotFound));
  // Asked again: nothing left to destroy.
  auto again = hub.Call("sharing", "hub-admin", erase);
  ASB_ASSERT_OK(again.status());
  EXPECT_EQ(again->erase_case().keys_destroyed(), 0u);
  erase.mutable_erase_case()->clear_reference();
  EXPECT_THAT(hub.Call("sharing", "hub-admin", erase),
              StatusIs(absl::StatusCode::kInvalidArgument));

  ASB_ASSERT_OK(hub.WaitDrained(absl::Seconds(30)));
  asb::v1::AuditQueryRequest q;
  q.add_kinds(asb::v1::AUDIT_KIND_ERASURE);
  auto erasures = hub.AuditQueryAll("dpo-auditor", q);
  ASB_ASSERT_OK(erasures.status());
  int with_reference = 0;
  for (const auto& e : *erasures) {
    with_reference += e.record().detail().find("RET-2026-0007") != std::string::npos;
    EXPECT_EQ(e.record().detail().find(kCase), std::string::npos) << "erasure names the case";
  }
  EXPECT_GE(with_reference, 4);  // intake, sharing, notify, sharing again
  ASB_ASSERT_OK(hub.StopAll());
}

// Issue 19: every file and directory a daemon makes is its user's only (umask 077): the stores
// (plaintext metadata: case ids in index keys, offsets, tree heads), a daemon's own log file,
// the ready files, the kept tree head and the ipc:// sockets.
TEST_F(AtRestTest, WhatTheDaemonsWriteIsOwnerOnly) {
  TempDir configs;
  HubOptions options = Options();
  // asb-audit also writes its own log file (log.file), beside its store.
  std::string audit = ReadFile(std::string(ASB_SOURCE_DIR) + "/config/audit.yaml");
  const std::string log_line = "log:\n  level: info\n";
  ASSERT_NE(audit.find(log_line), std::string::npos);
  audit = absl::StrReplaceAll(
      audit, {{log_line, log_line + "  file: \"${ASBHUB_DATA}/audit/daemon.log\"\n"}});
  std::ofstream(configs.Sub("audit.yaml")) << audit;
  options.config_files["audit"] = configs.Sub("audit.yaml");
  Hub hub(options);
  RunDemo(&hub);
  if (HasFatalFailure()) return;
  // Ready files exist while the daemons run.
  std::vector<std::string> paths;
  for (const std::string& d : Hub::Daemons()) {
    paths.push_back(hub.data_dir() + "/" + d + ".ready");
  }
  for (const char* sub : {"intake", "sharing", "notify", "audit", "run"}) {
    const std::string dir = hub.data_dir() + "/" + sub;
    ASSERT_TRUE(std::filesystem::exists(dir)) << dir;
    paths.push_back(dir);
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      paths.push_back(e.path().string());
    }
  }
  int stores = 0, sockets = 0, logs = 0;
  for (const std::string& path : paths) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec) {
      continue;  // gone meanwhile (a RocksDB file replaced)
    }
    const auto perms = status.permissions();
    const auto others = std::filesystem::perms::group_all | std::filesystem::perms::others_all;
    EXPECT_EQ(perms & others, std::filesystem::perms::none)
        << path << " is readable, writable or searchable by others";
    stores += path.find("/db/CURRENT") != std::string::npos;
    sockets += status.type() == std::filesystem::file_type::socket;
    logs += path.ends_with("/audit/daemon.log");
  }
  EXPECT_EQ(stores, 4);
  EXPECT_GE(sockets, 8);  // api and hints of each daemon
  EXPECT_EQ(logs, 1);
  ASB_ASSERT_OK(hub.StopAll());
}

TEST_F(AtRestTest, DaemonRefusesAWorldReadableKeyFile) {
  TempDir keys, configs;
  const std::string prefix = keys.Sub("ring");
  HubOptions options = OwnKeyRings(prefix, configs.path());
  std::filesystem::permissions(crypto::RingKeyFile(prefix + "-intake", 1),
                               std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  Hub hub(options);
  absl::Status started = hub.StartAndWait("intake", absl::Seconds(20));
  EXPECT_FALSE(started.ok());
  EXPECT_THAT(hub.LogTail("intake"), ::testing::HasSubstr("chmod 600"));
}

}  // namespace
}  // namespace asb::testing
