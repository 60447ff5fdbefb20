// Security of the running hub (issue #5): the four real daemons with the shipped configs, but
// reading a copy of the ISP the test may rewrite. Each refusal must reach the client as a clear
// error and the access log (asb-audit) as a record. end_to_end_test covers an unknown key and
// keys with the wrong role; this file covers a key revoked by an ISP reload, a feed posing as
// another source, a replayed capture of a client's bytes, and a partner asking for another
// agency's data.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "asb/v1/api.pb.h"
#include "common/bus/client.h"
#include "common/bus/keys.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::testing {
namespace {

using ::testing::Each;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kCase[] = "CBC-2026-0142";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

bus::KeyPair DemoKeys(const std::string& name) {
  auto keys = bus::LoadKeyFile(std::string(ASB_SOURCE_DIR) + "/config/keys/demo/" + name + ".key",
                               /*require_secret=*/true);
  EXPECT_TRUE(keys.ok()) << keys.status();
  return keys.ok() ? *keys : bus::KeyPair{};
}

// A unix-socket man in the middle: relays ONE connection from `listen_path` to `upstream_path`
// byte for byte and keeps what the client sent — what an attacker on the wire would capture.
class CapturingProxy {
 public:
  CapturingProxy(std::string listen_path, std::string upstream_path)
      : listen_path_(std::move(listen_path)), upstream_path_(std::move(upstream_path)) {}
  ~CapturingProxy() { Stop(); }

  absl::Status Start() {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr = Address(listen_path_);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ||
        ::listen(listen_fd_, 1)) {
      return absl::InternalError("proxy: cannot listen on " + listen_path_);
    }
    thread_ = std::thread([this] { Relay(); });
    return absl::OkStatus();
  }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
    if (listen_fd_ >= 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
    }
  }

  std::string captured() {
    std::lock_guard<std::mutex> lock(mu_);
    return captured_;
  }

  static sockaddr_un Address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    return addr;
  }

 private:
  void Relay() {
    int client = -1;
    while (!stop_ && client < 0) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) == 1) {
        client = ::accept(listen_fd_, nullptr, nullptr);
      }
    }
    if (client < 0) {
      return;
    }
    int server = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr = Address(upstream_path_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(client);
      ::close(server);
      return;
    }
    char buf[65536];
    while (!stop_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, 50) <= 0) {
        continue;
      }
      if (fds[0].revents != 0) {
        ssize_t n = ::read(client, buf, sizeof(buf));
        if (n <= 0) {
          break;
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          captured_.append(buf, static_cast<size_t>(n));
        }
        (void)!::write(server, buf, static_cast<size_t>(n));
      }
      if (fds[1].revents != 0) {
        ssize_t n = ::read(server, buf, sizeof(buf));
        if (n <= 0) {
          break;
        }
        (void)!::write(client, buf, static_cast<size_t>(n));
      }
    }
    ::close(client);
    ::close(server);
  }

  std::string listen_path_;
  std::string upstream_path_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::string captured_;
};

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A copy of the shipped ISP (and its pseudonymisation key, named relative to it) that the
    // tests may rewrite; every daemon reads it.
    const std::string src = ASB_SOURCE_DIR;
    std::filesystem::create_directories(work_.Sub("isp/keys"));
    isp_path_ = work_.Sub("isp/chesterfield.yaml");
    WriteAll(isp_path_, ReadAll(src + "/config/isp/chesterfield.yaml"));
    std::filesystem::copy_file(src + "/config/isp/keys/pseudonymisation.key",
                               work_.Sub("isp/keys/pseudonymisation.key"));
    HubOptions o = BuiltHubOptions();
    o.call_timeout = std::chrono::milliseconds(5000);
    for (const std::string d : {"intake", "sharing", "notify", "audit"}) {
      const std::string config = ReadAll(src + "/config/" + d + ".yaml");
      const std::string shipped = "isp_file: \"config/isp/chesterfield.yaml\"";
      ASSERT_THAT(config, HasSubstr(shipped)) << d;
      const std::string path = work_.Sub(d + ".yaml");
      WriteAll(path, absl::StrReplaceAll(config, {{shipped, "isp_file: \"" + isp_path_ + "\""}}));
      o.config_files[d] = path;
    }
    hub_ = std::make_unique<Hub>(o);
    absl::Status started = hub_->StartAll();
    ASSERT_TRUE(started.ok()) << started;
  }

  void TearDown() override {
    absl::Status stopped = hub_->StopAll();
    EXPECT_TRUE(stopped.ok()) << stopped;
  }

  // The demo case's events, with fresh source ids when `tag` is not empty.
  std::vector<asb::v1::CaseEvent> Demo(const std::string& tag = "") {
    auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
    EXPECT_TRUE(events.ok()) << events.status();
    if (!events.ok()) {
      return {};
    }
    for (auto& e : *events) {
      if (!tag.empty()) {
        e.set_source_event_id(e.source_event_id() + "-" + tag);
      }
    }
    return *events;
  }

  // Every access-log entry of `kind` (after the pipeline has drained).
  std::vector<asb::v1::AuditEntry> Audited(asb::v1::AuditKind kind, const std::string& case_id = "",
                                           const std::string& agency = "") {
    absl::Status drained = hub_->WaitDrained(absl::Seconds(20));
    EXPECT_TRUE(drained.ok()) << drained;
    asb::v1::AuditQueryRequest q;
    q.add_kinds(kind);
    q.set_case_id(case_id);
    q.set_agency(agency);
    auto entries = hub_->AuditQueryAll("dpo-auditor", q);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<asb::v1::AuditEntry>{};
  }

  // Whether a failed CurveZMQ handshake reaches the access log. The server's socket monitor
  // reports it asynchronously (and at most once a second), so this waits for the record, within
  // a deadline, checking every 50 ms.
  bool HandshakeFailureAudited() {
    for (const absl::Time until = absl::Now() + absl::Seconds(10); absl::Now() < until;
         absl::SleepFor(absl::Milliseconds(50))) {
      if (AnyDetail(Audited(asb::v1::AUDIT_KIND_REJECTION), "", "CurveZMQ handshake failed")) {
        return true;
      }
    }
    return false;
  }

  static bool AnyDetail(const std::vector<asb::v1::AuditEntry>& entries, const std::string& actor,
                        const std::string& detail) {
    for (const auto& e : entries) {
      if ((actor.empty() || e.record().actor() == actor) &&
          absl::StrContains(e.record().detail(), detail)) {
        return true;
      }
    }
    return false;
  }

  TempDir work_;
  std::string isp_path_;
  std::unique_ptr<Hub> hub_;
};

// A feed's key is removed from the ISP and the daemon reloads it (SIGHUP): the open connection
// is cut off at its next request, a new connection is refused at the handshake, both are
// audited, and the other feeds carry on.
TEST_F(SecurityTest, RevokedKeyIsCutOffAtOnceOnReload) {
  std::vector<asb::v1::CaseEvent> events = Demo("police");
  auto first = hub_->Submit("police-feed", {events[0]});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->results(0).outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED);

  // Revoke: the police feed's line goes from the ISP; intake reloads.
  std::string isp = ReadAll(isp_path_);
  const auto entry = isp.find("- { name: police-feed,");
  ASSERT_NE(entry, std::string::npos);
  const auto line = isp.rfind('\n', entry) + 1;
  isp.erase(line, isp.find('\n', entry) - line + 1);
  WriteAll(isp_path_, isp);
  ASB_ASSERT_OK(hub_->Signal("intake", SIGHUP));

  // The connection authorised before the reload is refused at its next request (the reload
  // runs within a loop tick, so poll for it rather than sleep).
  absl::Status cut = WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        auto r = hub_->Submit("police-feed", {events[1]});
        if (r.ok()) {
          return false;
        }
        EXPECT_THAT(r.status(), StatusIsWith(absl::StatusCode::kUnauthenticated,
                                             "no longer authorised by this hub"));
        return true;
      },
      absl::Now() + absl::Seconds(10), "the revoked feed's open connection to be cut off",
      absl::Milliseconds(50));
  ASSERT_TRUE(cut.ok()) << cut << "\n" << hub_->LogTail("intake");
  // A new connection with the revoked key: refused in words, within the call timeout.
  asb::v1::Request submit;
  *submit.mutable_submit()->add_events() = events[2];
  const bus::KeyPair police_feed = DemoKeys("police-feed");
  EXPECT_THAT(hub_->CallWithKeys("intake", police_feed, submit),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "not authorised"));
  // Nobody else is affected.
  auto council = hub_->Submit("council-feed", {Demo("council")[0]});
  ASSERT_TRUE(council.ok()) << council.status();
  EXPECT_EQ(council->results(0).outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED);

  // Audited: the request on the old connection and the refused handshake (by key prefix).
  EXPECT_TRUE(
      AnyDetail(Audited(asb::v1::AUDIT_KIND_REJECTION), "police-feed", "no longer in the ISP"));
  EXPECT_TRUE(AnyDetail(Audited(asb::v1::AUDIT_KIND_AUTH_FAILED), "",
                        bus::KeyPrefix(police_feed.public_key).substr(0, 8)));
}

// Posing as another source. (1) With another feed's public key but its own secret key, a feed
// cannot complete the CurveZMQ handshake: refused, nothing stored. (2) The source of an event is
// the key's principal, never the message: the police feed sending the council's very event (same
// source_event_id) gets its own record under its own agency — neither a duplicate that masks
// the council's nor an event attributed to the council.
TEST_F(SecurityTest, FeedCannotPoseAsAnotherSource) {
  const std::vector<asb::v1::CaseEvent> demo = Demo();
  auto council = hub_->Submit("council-feed", {demo[0]});
  ASSERT_TRUE(council.ok()) << council.status();
  ASSERT_EQ(council->results(0).outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED);

  bus::KeyPair forged = DemoKeys("police-feed");
  forged.name = "police-feed-as-council";
  forged.public_key = DemoKeys("council-feed").public_key;
  asb::v1::Request submit;
  *submit.mutable_submit()->add_events() = demo[1];
  auto posed = hub_->CallWithKeys("intake", forged, submit);
  EXPECT_FALSE(posed.ok());
  EXPECT_THAT(posed.status().code(), ::testing::AnyOf(absl::StatusCode::kPermissionDenied,
                                                      absl::StatusCode::kUnauthenticated));
  // Refused before ZAP could name a principal: the server's socket monitor reports it.
  EXPECT_TRUE(HandshakeFailureAudited());

  auto as_police = hub_->Submit("police-feed", {demo[0]});
  ASSERT_TRUE(as_police.ok()) << as_police.status();
  ASSERT_EQ(as_police->results(0).outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_NE(as_police->results(0).hub_seq(), council->results(0).hub_seq());

  auto stored = hub_->FetchAll("intake", "events");
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_THAT(*stored, SizeIs(2));  // the forged submission stored nothing
  EXPECT_EQ((*stored)[0].accepted_event().source_agency(), "community-safety");
  EXPECT_EQ((*stored)[1].accepted_event().source_agency(), "police");

  // The access log names who really collected each event.
  const auto collections = Audited(asb::v1::AUDIT_KIND_COLLECTION, kCase);
  ASSERT_THAT(collections, SizeIs(2));
  EXPECT_EQ(collections[0].record().actor(), "council-feed");
  EXPECT_EQ(collections[1].record().actor(), "police-feed");
}

// Replay. On the wire: bytes captured between a partner and asb-sharing (a case lookup, which
// the hub records as a consultation) and replayed on a new connection get no answer and no
// effect: CurveZMQ's per-connection keys and cookies make the captured handshake useless, so
// the replayed request never reaches the daemon (no second consultation). At the API: a submit
// is idempotent by (source, source_event_id), so re-sending a captured submission through a
// feed's own authorised connection is answered as a duplicate and stored once.
TEST_F(SecurityTest, ReplayedCaptureHasNoEffect) {
  auto demo = hub_->Submit("council-feed", Demo());
  ASSERT_TRUE(demo.ok()) << demo.status();
  ASB_ASSERT_OK(hub_->WaitDrained(absl::Seconds(20)));

  const std::string upstream = hub_->ApiEndpoint("sharing").substr(strlen("ipc://"));
  CapturingProxy proxy(work_.Sub("mitm.sock"), upstream);
  ASB_ASSERT_OK(proxy.Start());
  zmq::context_t context;
  bus::ClientOptions co;
  co.endpoint = "ipc://" + work_.Sub("mitm.sock");
  auto server_key =
      bus::LoadKeyFile(std::string(ASB_SOURCE_DIR) + "/config/keys/demo/sharing.pub", false);
  ASSERT_TRUE(server_key.ok()) << server_key.status();
  co.server_public_key = server_key->public_key;
  co.keys = DemoKeys("police-partner");
  {
    auto client = bus::Client::Connect(&context, co);
    ASSERT_TRUE(client.ok()) << client.status();
    asb::v1::Request get;
    get.mutable_get_case()->set_case_id(kCase);
    *get.mutable_get_case()->mutable_on_behalf_of() = TestOfficer();
    auto looked_up = (*client)->Call(get, std::chrono::milliseconds(5000));
    ASSERT_TRUE(looked_up.ok()) << looked_up.status();
    EXPECT_EQ(looked_up->case_view().disclosure().case_id(), kCase);
  }
  proxy.Stop();
  const std::string captured = proxy.captured();
  ASSERT_GT(captured.size(), 200u);  // greeting, HELLO, INITIATE, the request
  const size_t consultations = Audited(asb::v1::AUDIT_KIND_CONSULTATION, kCase, "police").size();
  ASSERT_GE(consultations, 1u);

  // Replay every captured byte on a fresh connection; the server hangs up.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr = CapturingProxy::Address(upstream);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::write(fd, captured.data(), captured.size()), static_cast<ssize_t>(captured.size()));
  bool closed = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  char buf[4096];
  while (!closed && absl::Now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) == 1) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      closed = n <= 0;
    }
  }
  ::close(fd);
  EXPECT_TRUE(closed) << "the server kept a replayed connection open";
  // The refused handshake is on the record (the server's socket monitor reports it).
  EXPECT_TRUE(HandshakeFailureAudited());
  // No effect: still the one consultation, and the daemon serves as before.
  EXPECT_THAT(Audited(asb::v1::AUDIT_KIND_CONSULTATION, kCase, "police"), SizeIs(consultations));
  ASB_EXPECT_OK(hub_->GetCase("police-partner", kCase).status());

  // The API-level replay of a submission: a duplicate, stored once, under its first hub_seq.
  auto again = hub_->Submit("council-feed", Demo());
  ASSERT_TRUE(again.ok()) << again.status();
  for (const auto& r : again->results()) {
    EXPECT_EQ(r.outcome(), asb::v1::SubmitResult::OUTCOME_DUPLICATE);
    EXPECT_EQ(r.hub_seq(), demo->results(r.index()).hub_seq());
  }
  EXPECT_THAT(Audited(asb::v1::AUDIT_KIND_COLLECTION, kCase), SizeIs(demo->results_size()));
}

// A partner's key decides its agency: its alerts are its own agency's only, it cannot ask for
// another agency's dead letters or case explanations, and a case its agency may not see is
// "not found or not shared". Each refusal is audited.
TEST_F(SecurityTest, PartnerSeesOnlyItsOwnAgency) {
  auto demo = hub_->Submit("council-feed", Demo());
  ASSERT_TRUE(demo.ok()) << demo.status();
  ASB_ASSERT_OK(hub_->WaitDrained(absl::Seconds(20)));

  auto alerts = hub_->PullAlerts("police-partner", 1000, 0, 1);
  ASSERT_TRUE(alerts.ok()) << alerts.status();
  ASSERT_THAT(alerts->alerts(), Not(IsEmpty()));
  for (const auto& a : alerts->alerts()) {
    EXPECT_EQ(a.disclosure().agency(), "police");
  }

  asb::v1::Request dead;
  dead.mutable_list_dead_letters()->set_agency("community-safety");
  EXPECT_THAT(hub_->Call("notify", "police-partner", dead),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "own agency"));

  asb::v1::Request explain;
  explain.mutable_explain_case()->set_case_id(kCase);
  explain.mutable_explain_case()->set_agency("community-safety");
  EXPECT_THAT(hub_->Call("sharing", "police-partner", explain),
              StatusIs(absl::StatusCode::kPermissionDenied));

  EXPECT_THAT(hub_->GetCase("fire-partner", kCase),
              StatusIsWith(absl::StatusCode::kNotFound, "not found or not shared"));

  const auto refused = Audited(asb::v1::AUDIT_KIND_ACCESS_REFUSED);
  EXPECT_TRUE(AnyDetail(refused, "police-partner", "dead letters"));
  EXPECT_TRUE(AnyDetail(refused, "police-partner", "explain"));
  EXPECT_THAT(Audited(asb::v1::AUDIT_KIND_ACCESS_REFUSED, kCase, "fire"), Not(IsEmpty()));
}

}  // namespace
}  // namespace asb::testing
