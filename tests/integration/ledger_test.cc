// The access log under load and under attack (issue 19), on the four real daemons: thousands of
// malformed requests per daemon from a valid key while events flow and tree heads are signed
// every second — the log verifies and every refusal is counted, in a handful of entries; every
// answer of asb-audit and every alert pull carries the latest signed tree head, which any
// principal can check for consistency; and a log whose newest entries, tree hashes, heads and
// kept head were deleted (as `ldb` would) is reported damaged, signs nothing, fails a witness
// saved before the deletion as truncated, and is repaired only by an admin, on the record.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "asb/v1/api.pb.h"
#include "common/auditlog/tree_head.h"
#include "common/auditlog/verifier.h"
#include "common/auditlog/witness.h"
#include "common/bus/keys.h"
#include "common/crypto/crypto.h"
#include "common/status/macros.h"
#include "common/store/store.h"
#include "rocksdb/db.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tools/loadgen/event_mix.h"

namespace asb::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Copies of the shipped configs with tree heads every second and refusals folded per second.
std::map<std::string, std::string> FastConfigs(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const std::string& d : Hub::Daemons()) {
    std::string text = ReadAll(std::string(ASB_SOURCE_DIR) + "/config/" + d + ".yaml");
    const std::string key_line = "  key_file: \"config/keys/demo/" + d + ".key\"\n";
    EXPECT_NE(text.find(key_line), std::string::npos) << d;
    text = absl::StrReplaceAll(
        text, {{key_line, key_line + "  refusal_interval_seconds: 1\n"},
               {"tree_head_interval_seconds: 10", "tree_head_interval_seconds: 1"}});
    files[d] = dir + "/" + d + ".yaml";
    std::ofstream(files[d]) << text;
  }
  return files;
}

struct Ran {
  int code = -1;
  std::string out;  // stdout and stderr
};

// Runs the asbctl of this build in the source tree against `hub` (config/asbctl.yaml with
// ASBHUB_DATA set), as an auditor would; its own witness files stay in `tmp`.
Ran Asbctl(const Hub& hub, const TempDir& tmp, std::vector<std::string> args) {
  static int n = 0;
  const std::string out = tmp.Sub(absl::StrCat("asbctl-out", ++n));
  args.insert(args.begin(), {ASB_ASBCTL_BIN, "--hub", "config/asbctl.yaml"});
  const pid_t pid =
      SpawnTool(hub, args, out, {{"ASBHUB_WITNESS_DIR", tmp.Sub("asbctl-witnesses")}});
  int status = 0;
  waitpid(pid, &status, 0);
  Ran r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadAll(out);
  return r;
}

uint64_t Counter(const asb::v1::PingResponse& ping, const std::string& name) {
  for (const auto& c : ping.counters()) {
    if (c.name() == name) {
      return c.value();
    }
  }
  return 0;
}

class LedgerTest : public ::testing::Test {
 protected:
  void StartHub(HubOptions options) {
    options.call_timeout = std::chrono::milliseconds(20000);
    hub_ = std::make_unique<Hub>(std::move(options));
    ASB_ASSERT_OK(hub_->StartAll());
  }

  void TearDown() override {
    if (hub_ != nullptr) {
      EXPECT_TRUE(hub_->StopAll().ok());
    }
  }

  // `n` messages that are not an asb.v1.Request, sent to `daemon` over CurveZMQ with the valid
  // key of `principal`.
  void SendMalformed(const std::string& daemon, const std::string& principal, int n) {
    auto server = bus::LoadKeyFile(hub_->KeysDir() + "/" + daemon + ".pub", false);
    auto keys = bus::LoadKeyFile(hub_->KeysDir() + "/" + principal + ".key", true);
    ASB_ASSERT_OK(server.status());
    ASB_ASSERT_OK(keys.status());
    zmq::socket_t s(context_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 2000);
    s.set(zmq::sockopt::rcvhwm, 0);
    s.set(zmq::sockopt::curve_serverkey, server->public_key);
    s.set(zmq::sockopt::curve_publickey, keys->public_key);
    s.set(zmq::sockopt::curve_secretkey, keys->secret_key);
    s.connect(hub_->ApiEndpoint(daemon));
    const std::string garbage("\xff\xfe not a request", 17);
    for (int i = 0; i < n; ++i) {
      s.send(zmq::message_t(), zmq::send_flags::sndmore);
      s.send(zmq::buffer(garbage), zmq::send_flags::none);
      for (zmq::message_t reply; s.recv(reply, zmq::recv_flags::dontwait);) {
      }
    }
  }

  // Events of the load generator's mix, `n` in batches of 100, as council-feed.
  void Feed(loadgen::EventMix* mix, int n) {
    for (int sent = 0; sent < n; sent += 100) {
      std::vector<asb::v1::CaseEvent> batch;
      for (int i = 0; i < 100; ++i) {
        batch.push_back(mix->Next(absl::Now()));
      }
      auto submitted = hub_->Submit("council-feed", batch);
      ASB_ASSERT_OK(submitted.status());
    }
  }

  absl::StatusOr<asb::v1::AuditTreeHeadResponse> Heads(const std::string& who, bool fresh,
                                                       bool history = false) {
    return hub_->TreeHead(who, fresh, history);
  }

  audit::LogSource Source() { return hub_->AuditSource("dpo-auditor"); }

  zmq::context_t context_;
  TempDir configs_;
  std::unique_ptr<Hub> hub_;
};

TEST_F(LedgerTest, MalformedRequestsUnderOneSecondTreeHeadsVerifyAndAreCountedInFewEntries) {
  HubOptions options = BuiltHubOptions();
  options.config_files = FastConfigs(configs_.path());
  StartHub(options);
  loadgen::EventMix mix({}, absl::StrCat("ledger-", absl::ToUnixMicros(absl::Now())), 0, 19);
  constexpr int kRounds = 4;
  constexpr int kPerRound = 1000;
  uint64_t signed_size = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (const std::string& d : Hub::Daemons()) {
      SendMalformed(d, "police-partner", kPerRound);
    }
    Feed(&mix, 500);
    // The next round once asb-audit has signed a head over more of the log (its 1 s timer), so
    // the log is checked against several heads signed while it grew, however fast the run.
    ASB_ASSERT_OK(WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          ASB_ASSIGN_OR_RETURN(asb::v1::AuditTreeHeadResponse h,
                               Heads("dpo-auditor", /*fresh=*/false));
          if (h.tree_head().tree_size() <= signed_size) {
            return false;
          }
          signed_size = h.tree_head().tree_size();
          return true;
        },
        absl::Now() + absl::Seconds(30), absl::StrCat("a tree head signed in round ", round),
        absl::Milliseconds(50)));
  }
  // Every attempt is counted, though few are entries.
  for (const std::string& d : Hub::Daemons()) {
    ASB_ASSERT_OK(WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          auto ping = hub_->Ping(d);
          if (!ping.ok()) {
            return ping.status();
          }
          return Counter(*ping, "refusals") >= kRounds * kPerRound;
        },
        absl::Now() + absl::Seconds(60), d + " counting every malformed request"));
  }
  ASB_ASSERT_OK(hub_->WaitDrained(absl::Seconds(60)));
  // The folded entries account for every refusal, per daemon (the last interval is flushed
  // within a second).
  for (const std::string& d : Hub::Daemons()) {
    std::vector<asb::v1::AuditEntry> entries;
    ASB_ASSERT_OK(WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          asb::v1::AuditQueryRequest q;
          q.add_kinds(asb::v1::AUDIT_KIND_REJECTION);
          q.set_actor("police-partner");
          auto all = hub_->AuditQueryAll("dpo-auditor", q);
          if (!all.ok()) {
            return all.status();
          }
          entries.clear();
          uint64_t total = 0;
          for (const auto& e : *all) {
            if (e.record().component() == d) {
              entries.push_back(e);
              total += e.record().has_refusals() ? e.record().refusals().count() : 1;
            }
          }
          return total == static_cast<uint64_t>(kRounds * kPerRound);
        },
        absl::Now() + absl::Seconds(30), d + "'s refusals all on the record", absl::Seconds(1)));
    EXPECT_LT(entries.size(), 100u) << d << ": one entry per refusal again?";
  }

  // The log verifies against every head signed during the run.
  auto heads = Heads("dpo-auditor", /*fresh=*/true, /*history=*/true);
  ASB_ASSERT_OK(heads.status());
  EXPECT_TRUE(heads->damage().empty());
  auto key = crypto::Ed25519PublicKey::FromPem(heads->public_key_pem());
  ASB_ASSERT_OK(key.status());
  std::vector<asb::v1::SignedTreeHead> history(heads->history().begin(), heads->history().end());
  EXPECT_GE(history.size(), 3u);
  for (const auto& h : history) {
    ASB_EXPECT_OK(audit::VerifyTreeHeadSignature(h, *key));
  }
  const audit::VerifyReport report =
      audit::VerifyLog(heads->tree_head(), history, audit::VerifyRange{}, Source());
  ASB_EXPECT_OK(report.status);
  EXPECT_TRUE(report.damaged.empty());
  EXPECT_EQ(report.last_good_size, heads->tree_head().tree_size());
}

TEST_F(LedgerTest, EveryAuditAnswerAndAlertPullCarriesTheLatestHeadForAnyoneToCheck) {
  StartHub(BuiltHubOptions());
  auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
  ASB_ASSERT_OK(events.status());
  ASB_ASSERT_OK(hub_->Submit("council-feed", *events).status());
  ASB_ASSERT_OK(hub_->WaitDrained(absl::Seconds(30)));
  auto first = Heads("dpo-auditor", /*fresh=*/true);
  ASB_ASSERT_OK(first.status());
  const asb::v1::SignedTreeHead h1 = first->tree_head();
  ASSERT_GT(h1.tree_size(), 0u);
  auto key = crypto::Ed25519PublicKey::FromPem(first->public_key_pem());
  ASB_ASSERT_OK(key.status());

  // An audit answer carries it.
  asb::v1::Request query;
  query.mutable_audit_query()->set_case_id("CBC-2026-0142");
  auto answer = hub_->Call("audit", "dpo-auditor", query);
  ASB_ASSERT_OK(answer.status());
  ASSERT_TRUE(answer->has_tree_head());
  EXPECT_GE(answer->tree_head().tree_size(), h1.tree_size());

  // So does an alert pull, once asb-notify has it from asb-audit's tree_heads stream.
  asb::v1::SignedTreeHead from_notify;
  ASB_ASSERT_OK(WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        asb::v1::Request pull;
        pull.mutable_pull_alerts()->set_max(10);
        pull.mutable_pull_alerts()->set_from_seq(1);
        auto r = hub_->Call("notify", "police-partner", pull);
        if (!r.ok()) {
          return r.status();
        }
        from_notify = r->tree_head();
        return from_notify.tree_size() >= h1.tree_size();
      },
      absl::Now() + absl::Seconds(30), "an alert pull carrying the head", absl::Milliseconds(100)));
  ASB_EXPECT_OK(audit::VerifyTreeHeadSignature(from_notify, *key));

  // A partner may read the head and check it grows only by appending, and nothing more.
  ASB_ASSERT_OK(hub_->Submit("council-feed", *events).status());  // duplicates: audited anyway
  ASB_ASSERT_OK(hub_->WaitDrained(absl::Seconds(30)));
  auto second = Heads("dpo-auditor", /*fresh=*/true);
  ASB_ASSERT_OK(second.status());
  const asb::v1::SignedTreeHead h2 = second->tree_head();
  ASSERT_GT(h2.tree_size(), h1.tree_size());
  auto as_partner = Heads("police-partner", /*fresh=*/true);  // fresh is for auditors only
  ASB_ASSERT_OK(as_partner.status());
  EXPECT_EQ(as_partner->tree_head().tree_size(), h2.tree_size());
  asb::v1::Request proof;
  proof.mutable_audit_consistency_proof()->set_first_size(h1.tree_size());
  proof.mutable_audit_consistency_proof()->set_second_size(h2.tree_size());
  auto consistent = hub_->Call("audit", "police-partner", proof);
  ASB_ASSERT_OK(consistent.status());
  const auto& p = consistent->audit_consistency_proof().proof();
  auto step = audit::CheckWitness(h1, h2, std::vector<std::string>(p.begin(), p.end()));
  ASB_ASSERT_OK(step.status());
  EXPECT_EQ(*step, audit::WitnessStep::kNewer);
  asb::v1::Request entries;
  entries.mutable_audit_query();
  EXPECT_THAT(hub_->Call("audit", "police-partner", entries).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(LedgerTest, ATruncatedLogIsDamageAWitnessCatchesAndOnlyAnAdminRepairsOnTheRecord) {
  StartHub(BuiltHubOptions());
  auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
  ASB_ASSERT_OK(events.status());
  ASB_ASSERT_OK(hub_->Submit("council-feed", *events).status());
  ASB_ASSERT_OK(hub_->WaitDrained(absl::Seconds(30)));
  // The DPO saves the head outside the hub, as the README says, and the log contains it.
  TempDir tmp;
  const std::string witness_file = tmp.Sub("dpo-head.json");
  const Ran head = Asbctl(*hub_, tmp, {"audit", "head", "--as", "dpo", "--out", witness_file});
  ASSERT_EQ(head.code, 0) << head.out;
  const Ran whole =
      Asbctl(*hub_, tmp, {"audit", "verify", "--as", "dpo", "--witness", witness_file});
  ASSERT_EQ(whole.code, 0) << whole.out;
  EXPECT_THAT(whole.out, ::testing::HasSubstr("the log contains it"));
  auto kept = audit::ParseWitness(ReadAll(witness_file));
  ASB_ASSERT_OK(kept.status());
  // The log now (the verification's own queries are entries too).
  auto saved = Heads("dpo-auditor", /*fresh=*/true);
  ASB_ASSERT_OK(saved.status());
  const asb::v1::SignedTreeHead witness = saved->tree_head();
  const uint64_t n = witness.tree_size();
  ASSERT_GT(n, 15u);
  ASSERT_GT(kept->tree_head().tree_size(), n - 10) << "the saved head must cover deleted entries";

  // asb-audit stopped; with ldb: the newest 10 entries and their leaf hashes, every tree node,
  // every stored tree head — and the head kept beside the store.
  ASB_ASSERT_OK(hub_->Stop("audit"));
  const std::string db = hub_->data_dir() + "/audit/db";
  {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& name : names) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), db, cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> rdb(raw);
    rocksdb::ColumnFamilyHandle* entries = nullptr;
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    for (std::size_t i = 0; i < names.size(); ++i) {
      entries = names[i] == "entries" ? handles[i] : entries;
      meta = names[i] == "meta" ? handles[i] : meta;
    }
    ASSERT_NE(entries, nullptr);
    ASSERT_NE(meta, nullptr);
    rocksdb::WriteBatch batch;
    for (uint64_t i = n - 9; i <= n; ++i) {
      ASSERT_TRUE(batch.Delete(entries, store::EncodeSeq(i)).ok());
      ASSERT_TRUE(batch.Delete(meta, "leaf/" + store::EncodeSeq(i)).ok());
    }
    std::unique_ptr<rocksdb::Iterator> it(rdb->NewIterator(rocksdb::ReadOptions(), meta));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().starts_with("node/") || it->key().starts_with("sth/")) {
        ASSERT_TRUE(batch.Delete(meta, it->key()).ok());
      }
    }
    it.reset();
    ASSERT_TRUE(rdb->Write(rocksdb::WriteOptions(), &batch).ok());
    for (auto* h : handles) {
      ASSERT_TRUE(rdb->DestroyColumnFamilyHandle(h).ok());
    }
    ASSERT_TRUE(rdb->Close().ok());
  }
  ASSERT_TRUE(std::filesystem::remove(db + ".last-tree-head.json"));

  // It serves, says it is damaged, and signs nothing.
  ASB_ASSERT_OK(hub_->StartAndWait("audit"));
  auto after = Heads("dpo-auditor", /*fresh=*/true);
  ASB_ASSERT_OK(after.status());
  EXPECT_FALSE(after->damage().empty());
  EXPECT_EQ(after->tree_head().tree_size(), 0u) << "a head signed over the gap";
  auto ping = hub_->Ping("audit");
  ASB_ASSERT_OK(ping.status());
  EXPECT_GT(Counter(*ping, "damage"), 0u);
  EXPECT_EQ(Counter(*ping, "entries"), n - 10);
  // The witness saved before the deletion says the log was truncated.
  EXPECT_THAT(audit::Truncated(witness, n - 10, "the DPO's witness"),
              StatusIsWith(absl::StatusCode::kDataLoss, "TRUNCATED"));
  const Ran verify =
      Asbctl(*hub_, tmp, {"audit", "verify", "--as", "dpo", "--witness", witness_file});
  EXPECT_NE(verify.code, 0) << verify.out;
  EXPECT_THAT(verify.out, ::testing::HasSubstr("TRUNCATED"));
  asb::v1::Request proof;
  proof.mutable_audit_consistency_proof()->set_first_size(n - 10);
  proof.mutable_audit_consistency_proof()->set_second_size(n);
  EXPECT_THAT(hub_->Call("audit", "dpo-auditor", proof).status(),
              StatusIs(absl::StatusCode::kOutOfRange));
  // Queries are still served.
  asb::v1::AuditQueryRequest q;
  q.set_case_id("CBC-2026-0142");
  auto found = hub_->AuditQuery("dpo-auditor", q);
  ASB_ASSERT_OK(found.status());
  EXPECT_GT(found->entries_size(), 0);

  // An auditor cannot repair; an admin can, and it is on the record.
  asb::v1::Request repair;
  repair.mutable_audit_repair()->set_reference("INC-2026-0019");
  EXPECT_THAT(hub_->Call("audit", "dpo-auditor", repair).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  auto repaired = hub_->Call("audit", "hub-admin", repair);
  ASB_ASSERT_OK(repaired.status());
  const auto& r = repaired->audit_repair();
  EXPECT_EQ(r.repair_index(), n - 9);
  EXPECT_FALSE(r.repair().damage().empty());
  ASSERT_GT(r.tree_head().tree_size(), 0u);
  // The witness still says what happened: the repaired log does not hold its head.
  EXPECT_THAT(hub_->Call("audit", "dpo-auditor", proof).status(),
              StatusIs(absl::StatusCode::kOutOfRange));
  asb::v1::AuditQueryRequest repairs;
  repairs.add_kinds(asb::v1::AUDIT_KIND_REPAIR);
  auto recorded = hub_->AuditQueryAll("dpo-auditor", repairs);
  ASB_ASSERT_OK(recorded.status());
  ASSERT_EQ(recorded->size(), 1u);
  EXPECT_EQ((*recorded)[0].record().actor(), "hub-admin");
  EXPECT_EQ((*recorded)[0].record().repair().reference(), "INC-2026-0019");
  // And the hub goes on: consuming and signing again, the log verifying from the repair.
  ASB_ASSERT_OK(hub_->WaitDrained(absl::Seconds(30)));
  auto now = Heads("dpo-auditor", /*fresh=*/true);
  ASB_ASSERT_OK(now.status());
  EXPECT_TRUE(now->damage().empty());
  const audit::VerifyReport report =
      audit::VerifyLog(now->tree_head(), {}, audit::VerifyRange{}, Source());
  ASB_EXPECT_OK(report.status);
}

}  // namespace
}  // namespace asb::testing
